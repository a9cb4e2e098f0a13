"""The seed's workflow as published (examples/seed/: the post's Packer template and variables
file, trailing commas, `clean_ami_name` and puppet-server's old `options` included).

- `bakeami validate` accepts both files exactly as published, given -var values for the
  variables they leave empty, and refuses them without (as Packer does: instance_type is empty).
- A bake of that template through amazon-instance against the lab: every value comes from the
  published variables file and -var, as the post runs `packer build -var ...`. What the
  template does not take as a variable is set by lab_template below, and nothing else: where
  the lab's instance is (ssh_host, ssh_port, and its user instead of "ubuntu": the published
  template reaches its instance at the address EC2 gives it), which Puppet server its puppet-server
  provisioner asks (the lab's, on loopback: puppet_server, puppet_node, extra_arguments; the
  published one relies on the instance's own puppet.conf), and a `tests` block (bakeami's
  "Testing Before Creating Server Images", the post's unwritten last section) that checks
  what the Puppet run changed.
"""
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from lab import BAKEAMI, REPO

SEED = REPO / "examples" / "seed"
BUCKET = "bakeami-seed-bundles"
CERT, KEY = Path("/tmp/cert.pem"), Path("/tmp/key.pem")   # x509_upload_path, Packer's /tmp
SERVER_STAGING = Path("/tmp/packer-puppet-server")

# What the published variables file (and its aws_region) leaves empty, as the post's
# `packer build -var ...` fills it.
VALUES = {
    "ami_name": "web",
    "user_name": "jenkins",
    "test_ami_flag": "true",
    "aws_account_id": "1234-5678-9012",
    "ami_instance_type": "m3.medium",
    "ami_description": "seed web server",
    "s3_bucket_name": BUCKET,
    "product": "storefront",
    "costcenter": "cc-1234",
    "owner": "ops",
    "division": "mhe",
}


def var_args(values):
    return [a for k, v in values.items() for a in ("-var", f"{k}={v}")]


def test_validate_accepts_the_seed_as_published(tmp_path):
    values = {**VALUES, "aws_access_key": "AKIDSEEDEXAMPLE", "aws_secret_key": "seed-secret",
              "aws_cert_path": str(SEED / "lab-x509/cert.pem"),
              "aws_key_path": str(SEED / "lab-x509/key.pem"),
              "source_ami_id": "ami-0123456789abcdef0"}
    used = set(re.findall(r"{{user `(\w+)`}}", (SEED / "packer.json").read_text()))
    assert set(values) | {"aws_region"} == used      # every variable the template uses
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    base = [str(BAKEAMI), "validate", "-var-file", str(SEED / "variables.json")]
    r = subprocess.run([*base, *var_args(values), str(SEED / "packer.json")], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    for note in ("packer.json:45:23: 1 trailing comma(s) ignored",
                 "variables.json:6:26: 1 trailing comma(s) ignored",
                 "clean_ami_name is the old name of clean_resource_name",
                 "provisioners[0].options: the old puppet-server key"):
        assert note in out, out
    assert "seed-secret" not in out
    # without the values, it is refused as Packer refuses it
    r = subprocess.run([*base, str(SEED / "packer.json")], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "builders[0].instance_type: must not be empty" in r.stderr, r.stderr


# ---- the bake ----------------------------------------------------------------------------
def lab_template(tmp_path, lab, puppet_server, node, checks):
    """The published template with the lab's settings (see the module docstring)."""
    published = (SEED / "packer.json").read_text()
    text, edits = published, []

    def edit(old, new):
        nonlocal text
        assert text.count(old) == 1 and new not in text, old
        text = text.replace(old, new)
        edits.append((old, new))

    # the lab's instance: its sshd on loopback, its user (the one value changed)
    edit('"ssh_username": "ubuntu",', f'"ssh_username": "{lab.ssh_user}", "ssh_host": '
         f'"{lab.ssh_host}", "ssh_port": {lab.ssh_port},')
    # the lab's Puppet server (the published template leaves it to the instance's puppet.conf)
    edit('"type": "puppet-server",',
         f'"type": "puppet-server", "puppet_server": "localhost", "puppet_node": "{node}", '
         f'"extra_arguments": {json.dumps(puppet_server.agent_arguments("{{.WorkingDir}}/state"))},')
    end = text.rstrip().rindex("}")
    tests = ',\n  "tests": ' + json.dumps({"checks": checks}) + "\n"
    text = text[:end] + tests + text[end:]
    # nothing else: undoing these gives the published text back, byte for byte
    undone = text.replace(tests, "", 1)
    for old, new in reversed(edits):
        undone = undone.replace(new, old, 1)
    assert undone == published
    (tmp_path / "seed").mkdir()
    shutil.copytree(SEED / "lab-x509", tmp_path / "seed" / "lab-x509")
    path = tmp_path / "seed" / "packer.json"
    path.write_text(text)
    return path


@pytest.fixture
def seed_lab(lab, clean_lab):
    """What the seed's instance needs in the lab: a security group named "all" in the default
    VPC (the template names "all" and "default"); and no x509 pair of an earlier lab in /tmp.
    Afterwards the group goes, and so do the bundle files the instance wrote in /tmp (a
    terminated instance takes them)."""
    for p in (CERT, KEY):
        p.unlink(missing_ok=True)
    before = set(Path("/tmp").glob("image-*"))
    ec2 = lab.ec2()
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="all", Description="the seed's", VpcId=vpc)["GroupId"]
    yield group
    ec2.delete_security_group(GroupId=group)
    for f in set(Path("/tmp").glob("image-*")) - before:
        f.unlink()


@pytest.fixture
def seed_bake(lab, bakeami, puppet_server, tmp_path):
    """Runs the seed's bake: (result of bakeami.run, the node name, the dir Puppet wrote in)."""
    work_dir = Path(f"/tmp/bakeami-e2e-seed-{uuid.uuid4().hex[:8]}")
    node = f"seed-{uuid.uuid4().hex[:8]}.bakeami.test"
    puppet_server.site_pp(f"""node '{node}' {{
  file {{ '{work_dir}': ensure => directory }}
  file {{ '{work_dir}/role.txt':
    content => "server_role=${{facts['server_role']}} builder=${{facts['packer_builder_type']}}\\n",
  }}
}}
node default {{ }}
""")
    checks = [{"name": "the Puppet server's catalog", "file": f"{work_dir}/role.txt",
               "owner": "root", "contains": "server_role=webserver builder=amazon-instance"}]
    template = lab_template(tmp_path, lab, puppet_server, node, checks)
    source = lab.ec2().describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}])["Images"][0]["ImageId"]
    key, secret = lab.env()["AWS_ACCESS_KEY_ID"], lab.env()["AWS_SECRET_ACCESS_KEY"]
    values = {**VALUES, "aws_access_key": key, "aws_secret_key": secret,
              "aws_cert_path": "lab-x509/cert.pem", "aws_key_path": "lab-x509/key.pem",
              "source_ami_id": source}

    def run(*extra):
        return bakeami.run(["bake", "-var-file", SEED / "variables.json", *var_args(values),
                            *extra, template], timeout=400, cwd=template.parent)

    yield run, node, work_dir
    shutil.rmtree(work_dir, ignore_errors=True)
    shutil.rmtree(SERVER_STAGING, ignore_errors=True)


def bundle_objects(lab):
    return sorted(o for o in lab.s3_objects() if o.startswith(f"{BUCKET}/"))


def test_seed_bakes_an_instance_store_image_through_the_lab(lab, clean_lab, seed_lab, seed_bake,
                                                            tmp_path):
    run, node, work_dir = seed_bake
    result = tmp_path / "result.json"
    r = run("--result", result)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = json.loads(result.read_text())

    # the old option and the agent run the seed's way: --test streams Puppet's output
    assert "sudo -E puppet agent --onetime --no-daemonize --detailed-exitcodes " \
           f"--server='localhost' --certname='{node}' " in out, out
    assert " --test --pluginsync" in out
    assert "FACTER_server_role='webserver'" in out
    assert "Notice: Applied catalog" in out, out
    # the test stage checked what the Puppet run changed, before bundling
    assert "test: 1 tests passed" in out, out
    assert (work_dir / "role.txt").read_text() == "server_role=webserver builder=amazon-instance\n"
    order = [out.index(s) for s in ("Notice: Applied catalog", "test: 1 tests passed",
                                    "running bundle_vol_command", "running bundle_upload_command",
                                    "image: registered image")]
    assert order == sorted(order), out

    # a registered instance-store image of the bundle the seed's upload command put in S3
    images = lab.ec2().describe_images(Owners=["self"])["Images"]
    assert len(images) == 1 and res["amis"] == {"us-east-1": images[0]["ImageId"]}, images
    image = images[0]
    reg = lab.requests(service="ec2", action="RegisterImage")
    assert len(reg) == 1
    location = reg[0].params["ImageLocation"]
    prefix = location.removeprefix(f"{BUCKET}/").removesuffix(".manifest.xml")
    assert location == f"{BUCKET}/{prefix}.manifest.xml" and prefix.startswith("image-"), location
    assert "CreateImage" not in lab.calls(service="ec2")
    objects = bundle_objects(lab)
    assert f"{BUCKET}/{prefix}.manifest.xml" in objects and f"{BUCKET}/{prefix}.part.00" in objects
    manifest = lab.client("s3").get_object(Bucket=BUCKET, Key=f"{prefix}.manifest.xml")["Body"].read()
    assert b"<user>123456789012</user>" in manifest
    # named and tagged as the template says, with the test stage's verdict
    assert image["Name"].endswith("Z web") and ":" not in image["Name"], image["Name"]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    assert {k: tags.get(k) for k in ("Product", "CostCenter", "Owner", "Division", "author",
                                     "test_ami", "packer")} == {
        "Product": "storefront", "CostCenter": "cc-1234", "Owner": "ops", "Division": "mhe",
        "author": "jenkins", "test_ami": "true", "packer": "true"}, tags
    assert tags["TestStatus"] == "passed"
    # the seed's groups, by name, resolved in the build VPC
    run_params = lab.requests(service="ec2", action="RunInstances")[0].params
    assert seed_lab in (run_params.get("SecurityGroupId.1"), run_params.get("SecurityGroupId.2"))

    # nothing temporary left: no x509 pair, no staging directory (the agent's state was in
    # it), the secret key masked in every line; clean_lab finds no instance, group or key pair
    assert not CERT.exists() and not KEY.exists()
    assert not SERVER_STAGING.exists()
    assert lab.env()["AWS_SECRET_ACCESS_KEY"] not in out + result.read_text()
    clean_lab.keep_images([image["ImageId"]])
    clean_lab.keep_s3(f"{BUCKET}/{prefix}.")


def test_seed_failure_after_the_upload_leaves_no_bundle(lab, clean_lab, seed_lab, seed_bake):
    run, node, work_dir = seed_bake
    lab.inject("RegisterImage", kind="error", status=400, code="InvalidManifest",
               message="the manifest is not readable", count=None)
    r = run()
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "Notice: Applied catalog" in out and "Bundle upload completed." in out, out
    assert "RegisterImage: InvalidManifest" in r.stderr, r.stderr
    assert "deleted s3-bundle s3://" in out, out
    assert bundle_objects(lab) == []
    assert lab.ec2().describe_images(Owners=["self"])["Images"] == []
    assert not CERT.exists() and not KEY.exists() and not SERVER_STAGING.exists()
