"""Where the build instance goes, as Packer's StepNetworkInfo decides it: the VPC worked out
from subnet_id, vpc_filter, subnet_filter (one match, most_free, random) and
security_group_filter, each looked up in the lab's moto and checked in the calls the bake made
(RunInstances' SubnetId and groups, CreateSecurityGroup's VpcId)."""
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "bake.json")


@pytest.fixture
def net(lab, clean_lab):
    """A VPC tagged Name=bk-net with a /24 and a /26 subnet tagged Tier=build, and two groups
    tagged Role=build in it; all removed after the test."""
    ec2 = lab.ec2()
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "Name", "Value": "bk-net"}])
    big = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.1.0/24")["Subnet"]["SubnetId"]
    small = ec2.create_subnet(VpcId=vpc, CidrBlock="10.77.2.0/26")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[big, small], Tags=[{"Key": "Tier", "Value": "build"}])
    groups = []
    for name in ("build-a", "build-b"):
        gid = ec2.create_security_group(GroupName=name, Description="t", VpcId=vpc)["GroupId"]
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "Role", "Value": "build"}])
        groups.append(gid)
    yield {"vpc": vpc, "big": big, "small": small, "groups": groups}
    for gid in groups:
        ec2.delete_security_group(GroupId=gid)
    for sid in (big, small):
        ec2.delete_subnet(SubnetId=sid)
    ec2.delete_vpc(VpcId=vpc)


def template(tmp_path, **builder):
    tpl = json.loads(open(TEMPLATE).read())
    tpl["builders"][0].update(builder)
    tpl["provisioners"] = [{"type": "shell", "inline": ["echo placed"]}]
    path = tmp_path / "net.json"
    path.write_text(json.dumps(tpl))
    return str(path)


def bake(lab, bakeami, path):
    return bakeami.run(["bake", "-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}", path])


def launched(lab):
    run = lab.requests(service="ec2", action="RunInstances")
    assert len(run) == 1, [c.action for c in lab.requests(service="ec2")]
    p = run[0].params
    return p.get("SubnetId"), sorted(v for k, v in p.items() if k.startswith("SecurityGroupId."))


def keep(clean_lab, lab):
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])


def test_vpc_from_subnet_id(lab, clean_lab, bakeami, tmp_path, net):
    r = bake(lab, bakeami, template(tmp_path, subnet_id=net["small"]))
    assert r.returncode == 0, r.stdout + r.stderr
    subnet, _ = launched(lab)
    assert subnet == net["small"]
    made = lab.requests(service="ec2", action="CreateSecurityGroup")
    assert [c.params.get("VpcId") for c in made] == [net["vpc"]]
    keep(clean_lab, lab)


def test_filters_pick_vpc_most_free_subnet_and_groups(lab, clean_lab, bakeami, tmp_path, net):
    path = template(tmp_path, vpc_filter={"filters": {"tag:Name": "bk-net"}},
                    subnet_filter={"filters": {"tag:Tier": "build"}, "most_free": True},
                    security_group_filter={"filters": {"tag:Role": "build"}})
    r = bake(lab, bakeami, path)
    assert r.returncode == 0, r.stdout + r.stderr
    subnet, groups = launched(lab)
    assert subnet == net["big"]          # 251 free addresses against 59
    assert groups == sorted(net["groups"])
    assert lab.requests(service="ec2", action="CreateSecurityGroup") == []
    assert f"vpc_filter: VPC {net['vpc']}" in r.stdout and "the most of those matched" in r.stdout
    asked = lab.requests(service="ec2", action="DescribeSubnets")[0].params
    assert {asked[k]: asked[k.replace("Name", "Value.1")] for k in asked if k.endswith(".Name")} == {
        "tag:Tier": "build", "state": "available", "vpc-id": net["vpc"]}
    keep(clean_lab, lab)


def test_random_subnet(lab, clean_lab, bakeami, tmp_path, net):
    path = template(tmp_path, vpc_id=net["vpc"],
                    subnet_filter={"filters": {"tag:Tier": "build"}, "random": True})
    r = bake(lab, bakeami, path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert launched(lab)[0] in (net["big"], net["small"])
    assert "picked at random" in r.stdout
    keep(clean_lab, lab)


@pytest.mark.parametrize("builder, where, says", [
    ({"subnet_filter": {"filters": {"tag:Tier": "build"}}}, "builders[0].subnet_filter",
     "matches 2 subnets"),
    ({"vpc_filter": {"filters": {"tag:Name": "no-such"}}}, "builders[0].vpc_filter", "matches no VPC"),
    ({"security_group_filter": {"filters": {"tag:Role": "none"}}}, "builders[0].security_group_filter",
     "matches no security group"),
])
def test_filter_mismatch_fails_before_launch(lab, clean_lab, bakeami, tmp_path, net, builder, where, says):
    r = bake(lab, bakeami, template(tmp_path, **builder))
    assert r.returncode == 1, r.stdout + r.stderr
    assert where in r.stderr and says in r.stderr, r.stderr
    assert lab.requests(service="ec2", action="RunInstances") == []


def test_most_free_and_random_together_most_free_wins(lab, bakeami, tmp_path):
    # Packer 1.6.6 accepts the pair and takes most_free (tests/packer_corpus/net-filters.json)
    path = template(tmp_path, subnet_filter={"filters": {"tag:Tier": "build"}, "most_free": True,
                                             "random": True})
    r = bakeami.run(["validate", path])
    assert r.returncode == 0, r.stderr
    assert "subnet_filter: most_free and random are both true: most_free wins" in r.stdout, r.stdout
