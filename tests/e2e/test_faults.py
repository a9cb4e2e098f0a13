"""The fault matrix, its drop cells: a create call's answer is lost after moto acted (the proxy
forwards the request, then resets the connection instead of answering) and the request is sent
again. Every create must be safe to re-send (issue 12, item 1): the bake exits 0, exactly one
of each resource exists, nothing is left, and the summary's cleanup counts are true.

RunInstances and CopyImage carry a ClientToken, which the proxy honours as EC2 does (moto does
not); ImportKeyPair and CreateSecurityGroup adopt our own resource on Duplicate; CreateImage
looks for its image by name before any re-send, and adopts it on InvalidAMIName.Duplicate.
"""
import json
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "bake.json")
SUMMARY = re.compile(r"cleaned up: (\d+) deleted, 0 already gone, (\d+) failed, (\d+) left")


def _template(tmp_path, **builder):
    with open(TEMPLATE) as f:
        tpl = json.load(f)
    tpl["builders"][0].update(builder)
    for prov in tpl["provisioners"]:
        if prov["type"] == "file":
            prov["source"] = os.path.join(HERE, "templates", prov["source"])
    path = tmp_path / "faults.json"
    path.write_text(json.dumps(tpl))
    return str(path)


def _bake(lab, bakeami, tmp_path, template=TEMPLATE):
    result = tmp_path / "result.json"
    r = bakeami.run(["bake", *lab.ssh_vars(), "--result", str(result), template])
    assert r.returncode == 0, r.stdout + r.stderr
    return r, json.loads(result.read_text())


def _answered(lab, action):
    """The calls of action, with the one whose answer was dropped first."""
    calls = lab.requests(service="ec2", action=action)
    assert calls and calls[0].fault == "drop" and calls[0].status is None, \
        [(c.fault, c.status) for c in calls]
    return calls


def _resent_by_us(r, action):
    """The re-send was our retry policy's (logged), not libcurl's silent one (http.c)."""
    assert f"retrying EC2 {action} after network error" in r.stdout + r.stderr, r.stdout + r.stderr


def _temporaries(lab):
    """What the bake made and must have deleted: the key pair, the group, the instances."""
    ec2 = lab.ec2()
    instances = [i for res in ec2.describe_instances()["Reservations"] for i in res["Instances"]]
    imports = [c for c in lab.requests("ec2", "ImportKeyPair")]
    groups = [c for c in lab.requests("ec2", "CreateSecurityGroup")]
    return instances, imports[0].params["KeyName"], groups[0].params["GroupName"]


def _check(lab, clean_lab, r, result, also_deleted=0):
    """Exactly one of each; the summary's counts are what happened; nothing else is left."""
    instances, key_name, group_name = _temporaries(lab)
    assert len(instances) == 1 and instances[0]["State"]["Name"] == "terminated", instances
    instance = instances[0]["InstanceId"]
    assert instances[0]["KeyName"] == key_name
    group_ids = [g["GroupId"] for g in instances[0].get("SecurityGroups", [])]
    assert len(group_ids) == 1, instances[0]
    cleanup = result["cleanup"]
    assert cleanup["failed"] == [] and cleanup["left"] == [], cleanup
    deleted = " | ".join(cleanup["deleted"])
    for what in (instance, key_name, group_ids[0]):
        assert deleted.count(what) == 1, (what, cleanup["deleted"])
    assert len(cleanup["deleted"]) == 3 + also_deleted, cleanup["deleted"]
    m = SUMMARY.search(r.stdout)
    assert m, r.stdout
    assert (int(m[1]), int(m[2]), int(m[3])) == (len(cleanup["deleted"]), 0, 0), m[0]
    mine = lab.ec2().describe_images(Owners=["self"])["Images"]
    assert len(mine) == 1, mine
    assert mine[0]["ImageId"] in r.stdout
    snaps = lab.leftovers()["snapshots"]
    assert len(snaps) == 1 and mine[0]["ImageId"] in snaps[0], snaps
    left = lab.leftovers(allow_images=[mine[0]["ImageId"]])
    assert not left, left
    clean_lab.keep_images([mine[0]["ImageId"]])
    return mine[0]


def test_drop_import_key_pair(lab, clean_lab, bakeami, tmp_path):
    lab.inject("ImportKeyPair", kind="drop")
    r, result = _bake(lab, bakeami, tmp_path)
    calls = _answered(lab, "ImportKeyPair")
    assert [c.status for c in calls] == [None, 400], [c.status for c in calls]
    _resent_by_us(r, "ImportKeyPair")
    assert "is this run's" in r.stdout + r.stderr
    _check(lab, clean_lab, r, result)


def test_drop_create_security_group(lab, clean_lab, bakeami, tmp_path):
    lab.inject("CreateSecurityGroup", kind="drop")
    r, result = _bake(lab, bakeami, tmp_path)
    calls = _answered(lab, "CreateSecurityGroup")
    assert [c.status for c in calls] == [None, 400], [c.status for c in calls]
    _resent_by_us(r, "CreateSecurityGroup")
    # the rule went on the adopted group: the one the instance used
    assert len(lab.requests("ec2", "AuthorizeSecurityGroupIngress")) == 1
    _check(lab, clean_lab, r, result)


def test_drop_run_instances(lab, clean_lab, bakeami, tmp_path):
    lab.inject("RunInstances", kind="drop")
    r, result = _bake(lab, bakeami, tmp_path)
    calls = _answered(lab, "RunInstances")
    assert len(calls) == 2 and calls[1].status == 200 and calls[1].fault == "token-repeat"
    tokens = {c.params["ClientToken"] for c in calls}
    assert len(tokens) == 1 and tokens.pop(), calls
    _resent_by_us(r, "RunInstances")
    _check(lab, clean_lab, r, result)


def test_drop_create_image_found_by_name(lab, clean_lab, bakeami, tmp_path):
    """No InvalidAMIName.Duplicate: the name lookup finds the image, so it is never re-sent."""
    lab.inject("CreateImage", kind="drop")
    r, result = _bake(lab, bakeami, tmp_path)
    calls = _answered(lab, "CreateImage")
    assert len(calls) == 1, calls
    image = _check(lab, clean_lab, r, result)
    assert image["Name"] == calls[0].params["Name"]


def test_drop_create_image_resent_duplicate(lab, clean_lab, bakeami, tmp_path):
    """The name lookup comes too soon to see the image (EC2 is eventually consistent), so
    CreateImage is sent again, and EC2 answers InvalidAMIName.Duplicate: the image is ours."""
    drop = lab.inject("CreateImage", kind="drop")
    lab.inject("DescribeImages", kind="stale", after=drop)
    lab.inject("CreateImage", kind="error", nth=2, status=400, code="InvalidAMIName.Duplicate",
               message="AMI name is already in use by an AMI")
    r, result = _bake(lab, bakeami, tmp_path)
    calls = _answered(lab, "CreateImage")
    assert [c.status for c in calls] == [None, 400], [(c.fault, c.status) for c in calls]
    _resent_by_us(r, "CreateImage")
    image = _check(lab, clean_lab, r, result)
    assert image["Name"] == calls[0].params["Name"]


def test_drop_copy_image(lab, clean_lab, bakeami, tmp_path):
    """encrypt_boot's CopyImage: the re-send with the same ClientToken is the same copy."""
    template = _template(tmp_path, encrypt_boot=True, kms_key_id="alias/bakeami-e2e")
    lab.inject("CopyImage", kind="drop")
    r, result = _bake(lab, bakeami, tmp_path, template=template)
    calls = _answered(lab, "CopyImage")
    assert len(calls) == 2 and calls[1].status == 200 and calls[1].fault == "token-repeat"
    assert calls[0].params["ClientToken"] == calls[1].params["ClientToken"]
    _resent_by_us(r, "CopyImage")
    # the unencrypted image and its snapshot went too, once each
    unencrypted = calls[0].params["SourceImageId"]
    assert sum(d == f"image {unencrypted}" for d in result["cleanup"]["deleted"]) == 1, result["cleanup"]
    assert sum(d.startswith("snapshot ") for d in result["cleanup"]["deleted"]) == 1, result["cleanup"]
    image = _check(lab, clean_lab, r, result, also_deleted=2)
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    assert tags["Role"] == "web" and "unencrypted" not in image["Name"]


@pytest.mark.parametrize("action", ["ImportKeyPair", "CreateSecurityGroup"])
def test_foreign_duplicate_is_not_adopted(lab, clean_lab, bakeami, action):
    """A resource of our name without our run-id tag is someone else's: the bake fails naming
    it, and leaves it alone. The first send is held at the proxy while the foreign one is made,
    then closed unanswered; the re-send is answered Duplicate by moto."""
    ec2 = lab.ec2()
    held = lab.inject(action, kind="hold")
    proc = bakeami.start(["bake", *lab.ssh_vars(), TEMPLATE])
    first = lab.wait_for_call(action, timeout=60)
    if action == "ImportKeyPair":
        foreign = first.params["KeyName"]
        ec2.import_key_pair(KeyName=foreign, PublicKeyMaterial=FOREIGN_KEY)
    else:
        foreign = ec2.create_security_group(GroupName=first.params["GroupName"],
                                            Description="not ours")["GroupId"]
    held.released.set()
    rc = proc.wait(timeout=120)
    out = proc.stdout.read() + proc.stderr.read()
    assert rc == 1, out
    assert foreign in out and "not this run's" in out, out
    assert "RunInstances" not in lab.calls(service="ec2")
    if action == "ImportKeyPair":
        assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == [foreign]
        ec2.delete_key_pair(KeyName=foreign)
    else:
        assert foreign in [g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]]
        ec2.delete_security_group(GroupId=foreign)


FOREIGN_KEY = b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl foreign"


def _run_id_of(call):
    """The bakeami:run-id the create's TagSpecification carries."""
    p = call.params
    keys = [k for k, v in p.items() if k.endswith(".Key") and v == "bakeami:run-id"]
    assert keys, p
    return p[keys[0][:-len("Key")] + "Value"]


def test_duplicate_key_pair_with_our_tag_but_not_our_key_is_refused(lab, clean_lab, bakeami):
    """Our name and even our run-id tag are not enough: a key pair EC2 says exists is adopted
    only if it holds the public key this run imported (else another key could log in to the
    instance). Tagged as ours, it is then removed with the rest."""
    ec2 = lab.ec2()
    held = lab.inject("ImportKeyPair", kind="hold")
    proc = bakeami.start(["bake", *lab.ssh_vars(), TEMPLATE])
    first = lab.wait_for_call("ImportKeyPair", timeout=60)
    name, run_id = first.params["KeyName"], _run_id_of(first)
    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=FOREIGN_KEY, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "bakeami:run-id", "Value": run_id}]}])
    held.released.set()
    rc = proc.wait(timeout=120)
    out = proc.stdout.read() + proc.stderr.read()
    assert rc == 1, out
    assert "not our public key: not adopted" in out, out
    assert "RunInstances" not in lab.calls(service="ec2")
    assert f"deleted key-pair {name}" in out, out
    assert ec2.describe_key_pairs()["KeyPairs"] == []


def test_cleanup_journal_leaves_a_foreign_image_of_the_intended_name(lab, clean_lab, bakeami,
                                                                     tmp_path):
    """Killed while CreateImage was held (it never reached EC2); meanwhile another run made an
    image of that very name. cleanup --journal finds it by the intent's name, sees another
    run's tag, and leaves it alone; it removes everything of ours."""
    journal = tmp_path / "j.jsonl"
    lab.inject("CreateImage", kind="hold", delay=120)
    proc = bakeami.start(["bake", *lab.ssh_vars(), "--journal", str(journal), TEMPLATE])
    call = lab.wait_for_call("CreateImage", timeout=60)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()
    ec2 = lab.ec2()
    other = ec2.run_instances(ImageId=_source(lab), MinCount=1, MaxCount=1)["Instances"][0]
    foreign = ec2.create_image(InstanceId=other["InstanceId"], Name=call.params["Name"], TagSpecifications=[
        {"ResourceType": "image", "Tags": [{"Key": "bakeami:run-id", "Value": "bk-someone-else"}]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[other["InstanceId"]])
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"image {foreign} is named" in out and "not this run's" in out, out
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [foreign]
    clean_lab.keep_images([foreign])


def _source(lab):
    return lab.requests("ec2", "RunInstances")[0].params["ImageId"]
