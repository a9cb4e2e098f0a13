"""Reuse of tested images by their inputs digest (issue 14), end to end against the lab.

Every bake tags its image with bakeami:inputs and the part digests; with reuse on, a bake of
the same inputs finds that image before it creates anything and goes straight to PROMOTE.
Each test copies templates/reuse/ into its tmp dir, so it may change a byte of a file.
"""
import json
import os
import shutil
import time

import pytest

from test_puppet import no_staging, work_dir  # noqa: F401 (fixtures)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "templates", "reuse")
CREATES = ("ImportKeyPair", "CreateSecurityGroup", "RunInstances", "CreateImage", "CopyImage")


@pytest.fixture
def tpl(tmp_path):
    dst = tmp_path / "reuse"
    shutil.copytree(SRC, dst)
    return dst


def bake(bakeami, lab, tpl, *extra, result=None):
    res = result or (tpl.parent / f"result-{time.monotonic_ns()}.json")
    r = bakeami.run(["bake", *lab.ssh_vars(), "--result", str(res), *extra, str(tpl / "reuse.json")])
    doc = json.loads(res.read_text()) if res.exists() else {}
    return r, doc


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def tags_of(image):
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def first_bake(bakeami, lab, clean_lab, tpl, *extra):
    r, doc = bake(bakeami, lab, tpl, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    ami = doc["amis"]["us-east-1"]
    clean_lab.keep_images([ami])
    lab.reset_calls()
    return ami, doc


def creates(lab):
    return [c for c in lab.calls(service="ec2") if c in CREATES]


def test_every_image_carries_the_digest_tags(lab, clean_lab, bakeami, tpl):
    ami, doc = first_bake(bakeami, lab, clean_lab, tpl, "--no-reuse")
    tags = tags_of(lab.ec2().describe_images(ImageIds=[ami])["Images"][0])
    assert tags["bakeami:inputs"] == doc["inputs"] and len(doc["inputs"]) == 64
    assert len(tags["bakeami:image-inputs"]) == 64 and tags["bakeami:image-inputs"] != doc["inputs"]
    assert tags["bakeami:inputs-family"] == "reuse"
    parts = dict(w.split("=") for w in tags["bakeami:inputs-parts"].split())
    assert set(parts) == {"s", "b", "p0", "p0f0", "p1", "p1f0", "t", "v"}, parts
    assert tags["TestStatus"] == "passed"


def test_unchanged_bake_with_reuse_is_a_hit(lab, clean_lab, bakeami, tpl, report_figure):
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl, "--no-reuse")
    t0 = time.monotonic()
    r, doc = bake(bakeami, lab, tpl, "--reuse")
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    calls = lab.calls(service="ec2")
    assert len(calls) <= 3, calls
    assert creates(lab) == [], calls
    assert doc["amis"] == {"us-east-1": ami}
    assert doc["reused"] == ami and doc["reused_run_id"] == doc1["run_id"]
    assert doc["retested"] is False and doc["inputs"] == doc1["inputs"]
    hit = [line for line in r.stdout.splitlines() if " reuse: " in line]
    assert len(hit) == 1 and f"reuse: reusing {ami} (run {doc1['run_id']}" in hit[0], r.stdout
    assert "setup ran" not in r.stdout
    assert [i["ImageId"] for i in own_images(lab)] == [ami]
    report_figure(f"reuse hit: {len(calls)} EC2 calls ({' '.join(calls)}), {wall:.2f} s wall "
                  "including process start (tests/e2e/test_reuse.py)")


def _rebaked(lab, clean_lab, r, doc, ami):
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reused" not in doc and doc["amis"]["us-east-1"] != ami
    clean_lab.keep_images([doc["amis"]["us-east-1"]])
    assert "RunInstances" in creates(lab) and "CreateImage" in creates(lab)
    misses = [line for line in r.stdout.splitlines() if "reuse: no tested image" in line]
    assert "reuse: reusing" not in r.stdout
    assert len(misses) == 1, r.stdout
    return misses[0]


@pytest.mark.parametrize("change, named", [
    ("upload", "provisioners[1] file files/ changed"),
    ("script", "provisioners[0] file setup.sh changed"),
    ("command", "provisioners[0] (shell) changed"),
])
def test_a_changed_input_rebakes_and_the_miss_names_it(lab, clean_lab, bakeami, tpl, change, named):
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    if change == "upload":
        (tpl / "files" / "motd").write_text("motd v2\n")
    elif change == "script":
        (tpl / "setup.sh").write_text((tpl / "setup.sh").read_text().replace("setup ran", "setup ran!"))
    else:
        t = json.loads((tpl / "reuse.json").read_text())
        t["provisioners"][0]["environment_vars"] = ["X=1"]
        (tpl / "reuse.json").write_text(json.dumps(t))
    r, doc = bake(bakeami, lab, tpl)
    miss = _rebaked(lab, clean_lab, r, doc, ami)
    assert named in miss and f"since {ami}" in miss, miss
    assert "source AMI" not in miss and "tests" not in miss.split(":", 2)[-1], miss


def test_a_mode_change_in_an_uploaded_folder_rebakes(lab, clean_lab, bakeami, tpl):
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    os.chmod(tpl / "files" / "app.conf", 0o600)
    r, doc = bake(bakeami, lab, tpl)
    assert "provisioners[1] file files/ changed" in _rebaked(lab, clean_lab, r, doc, ami)


def _own_source(lab, name):
    """An image of ours named `name` (made from the catalogue's), newer than any before it:
    moto's creation dates have whole seconds, so it waits for the next one."""
    ec2 = lab.ec2()
    base = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}])["Images"][0]["ImageId"]
    start = int(time.time())
    while int(time.time()) == start:
        time.sleep(0.05)
    inst = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=inst, Name=name)["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst])
    return image


def test_a_newer_source_ami_rebakes(lab, clean_lab, bakeami, tpl):
    src_a = _own_source(lab, "reuse-src-a")
    clean_lab.keep_images([src_a])
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl, "-var", "source_name=reuse-src-*",
                           "-var", "source_owner=self")
    assert doc1["source_ami"] == src_a
    src_b = _own_source(lab, "reuse-src-b")
    clean_lab.keep_images([src_b])
    lab.reset_calls()
    r, doc = bake(bakeami, lab, tpl, "-var", "source_name=reuse-src-*", "-var", "source_owner=self")
    assert doc["source_ami"] == src_b
    miss = _rebaked(lab, clean_lab, r, doc, ami)
    assert f"source AMI {src_a} → {src_b}" in miss, miss


@pytest.mark.parametrize("var", ["role=db", "name=reuse-renamed"])
def test_a_changed_tag_or_name_is_reused(lab, clean_lab, bakeami, tpl, var):
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    r, doc = bake(bakeami, lab, tpl, "-var", var)
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["reused"] == ami and creates(lab) == []


def test_a_changed_test_is_retested_not_rebaked(lab, clean_lab, bakeami, tpl):
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl)
    r, doc = bake(bakeami, lab, tpl, "-var", "expect=provision")
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["reused"] == ami and doc["retested"] is True
    assert doc["tests"]["passed"] == 1
    assert lab.calls(service="ec2").count("RunInstances") == 1 and "CreateImage" not in creates(lab)
    assert "setup ran" not in r.stdout and "re-testing" in r.stdout
    tags = tags_of(lab.ec2().describe_images(ImageIds=[ami])["Images"][0])
    assert tags["bakeami:inputs"] == doc["inputs"] != doc1["inputs"]
    assert tags["bakeami:retested-by"] == doc["run_id"] and tags["TestStatus"] == "passed"
    assert tags["bakeami:run-id"] == doc1["run_id"]
    # the verdict is on the image now: the same tests again are a plain hit
    lab.reset_calls()
    r, doc = bake(bakeami, lab, tpl, "-var", "expect=provision")
    assert doc["reused"] == ami and doc["retested"] is False and creates(lab) == []


def test_a_failed_retest_keeps_the_image_untouched(lab, clean_lab, bakeami, tpl):
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl)
    r, doc = bake(bakeami, lab, tpl, "-var", "expect=never-there")
    assert r.returncode == 3, r.stdout + r.stderr
    tags = tags_of(lab.ec2().describe_images(ImageIds=[ami])["Images"][0])
    assert tags["bakeami:inputs"] == doc1["inputs"] and "bakeami:retested-by" not in tags
    assert [i["ImageId"] for i in own_images(lab)] == [ami]


def test_max_age_exceeded_rebakes(lab, clean_lab, bakeami, tpl):
    t = json.loads((tpl / "reuse.json").read_text())
    t["reuse"] = {"max_age": "1s"}
    (tpl / "reuse.json").write_text(json.dumps(t))
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    time.sleep(2.1)   # moto's creation dates have whole seconds
    r, doc = bake(bakeami, lab, tpl)
    assert f"{ami} not reused: older than reuse.max_age" in _rebaked(lab, clean_lab, r, doc, ami)


def test_no_reuse_always_bakes(lab, clean_lab, bakeami, tpl):
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    r, doc = bake(bakeami, lab, tpl, "--no-reuse")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reused" not in doc and doc["amis"]["us-east-1"] != ami
    clean_lab.keep_images([doc["amis"]["us-east-1"]])
    assert " reuse: " not in r.stdout


def test_reuse_is_off_unless_asked(lab, clean_lab, bakeami, tpl):
    t = json.loads((tpl / "reuse.json").read_text())
    del t["reuse"]
    (tpl / "reuse.json").write_text(json.dumps(t))
    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    r, doc = bake(bakeami, lab, tpl)
    assert "reused" not in doc and doc["amis"]["us-east-1"] != ami
    clean_lab.keep_images([doc["amis"]["us-east-1"]])
    r, doc = bake(bakeami, lab, tpl, "--reuse")
    assert doc.get("reused") in {ami, *[i["ImageId"] for i in own_images(lab)]}


def test_a_forged_tag_is_not_reused(lab, clean_lab, bakeami, tpl):
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl)
    tags = tags_of(lab.ec2().describe_images(ImageIds=[ami])["Images"][0])
    ec2 = lab.ec2()
    # the real image is taken out of the game, then the digest is forged on an image of ours
    # without bakeami's provenance and on the catalogue's (foreign) source image
    ec2.create_tags(Resources=[ami], Tags=[{"Key": "TestStatus", "Value": "failed"}])
    forged = [{"Key": k, "Value": tags[k]} for k in
              ("bakeami:inputs", "bakeami:image-inputs", "TestStatus", "SourceAMI")]
    inst = ec2.run_instances(ImageId=doc1["source_ami"], MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    untagged = ec2.create_image(InstanceId=inst, Name="forged")["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst])
    clean_lab.keep_images([untagged])
    ec2.create_tags(Resources=[untagged, doc1["source_ami"]], Tags=forged)
    lab.reset_calls()
    r, doc = bake(bakeami, lab, tpl)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "reused" not in doc and doc["amis"]["us-east-1"] not in (ami, untagged, doc1["source_ami"])
    clean_lab.keep_images([doc["amis"]["us-east-1"]])
    assert f"{ami} not reused: its tests did not pass" in r.stdout, r.stdout
    assert f"{untagged} not reused: without bakeami's provenance tags" in r.stdout, r.stdout
    assert doc1["source_ami"] not in r.stdout.split("reuse: no tested image", 1)[1].split("\n")[0]


def test_a_deprecated_image_is_not_reused(lab, clean_lab, bakeami, tpl):
    import boto3
    from botocore.config import Config

    ami, _ = first_bake(bakeami, lab, clean_lab, tpl)
    env = lab.env()
    # through the proxy, which stands in for EnableImageDeprecation (moto lacks it)
    proxied = boto3.client("ec2", region_name="us-east-1", endpoint_url=lab.endpoint,
                           aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                           config=Config(proxies={}))
    proxied.enable_image_deprecation(ImageId=ami, DeprecateAt="2020-01-01T00:00:00Z")
    lab.reset_calls()
    r, doc = bake(bakeami, lab, tpl)
    miss = _rebaked(lab, clean_lab, r, doc, ami)
    assert f"no recorded part differs; {ami} not reused: deprecated" in miss, miss


PROMOTE = {"ssm_parameter": "/images/reuse/latest", "share_with": ["111122223333"],
           "regions": ["us-west-2"]}


def test_promotion_of_a_reused_image_adds_no_duplicate(lab, clean_lab, bakeami, tpl):
    t = json.loads((tpl / "reuse.json").read_text())
    t["promote"] = PROMOTE
    (tpl / "reuse.json").write_text(json.dumps(t))
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl)
    west = doc1["amis"]["us-west-2"]
    clean_lab.keep_images([west])
    r, doc = bake(bakeami, lab, tpl)
    assert r.returncode == 0, r.stdout + r.stderr
    assert doc["reused"] == ami and doc["amis"] == doc1["amis"]
    calls = lab.calls(service="ec2")
    assert "CopyImage" not in calls and "ModifyImageAttribute" not in calls, calls
    assert lab.calls(service="ssm", action="PutParameter") == []
    assert len(lab.ec2("us-west-2").describe_images(Owners=["self"])["Images"]) == 1
    attr = lab.ec2().describe_image_attribute(ImageId=ami, Attribute="launchPermission")
    assert [p.get("UserId") for p in attr["LaunchPermissions"]] == ["111122223333"]


def test_inputs_command_prints_the_parts_and_what_changed(lab, clean_lab, bakeami, tpl):
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl)
    r = bakeami.run(["inputs", *lab.ssh_vars(), str(tpl / "reuse.json")])
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"inputs {doc1['inputs']}"
    assert any("source AMI " + doc1["source_ami"] in line for line in lines), r.stdout
    assert any(line.endswith("provisioners[0] file setup.sh") for line in lines), r.stdout
    assert lines[-1] == f"since {ami} (run {doc1['run_id']}): no recorded part differs"
    (tpl / "setup.sh").write_text("#!/bin/sh\necho changed\n")
    r = bakeami.run(["inputs", *lab.ssh_vars(), str(tpl / "reuse.json")])
    assert r.stdout.splitlines()[-1].endswith("provisioners[0] file setup.sh changed"), r.stdout
    assert creates(lab) == []


def test_a_changed_puppet_manifest_rebakes(lab, clean_lab, bakeami, tmp_path, work_dir, no_staging):
    """puppet-masterless for real: one byte more in the manifest (a comment) and the bake is
    baked again, its miss naming the manifest and nothing else."""
    tpl = tmp_path / "pm"
    tpl.mkdir()
    shutil.copytree(os.path.join(HERE, "templates", "puppet"), tpl / "puppet")
    t = json.loads(open(os.path.join(HERE, "templates", "puppet-masterless.json")).read())
    t["reuse"] = True
    (tpl / "reuse.json").write_text(json.dumps(t))
    ami, doc1 = first_bake(bakeami, lab, clean_lab, tpl, "-var", f"dir={work_dir}")
    site = tpl / "puppet" / "manifests" / "site.pp"
    site.write_text(site.read_text() + "#")
    r, doc = bake(bakeami, lab, tpl, "-var", f"dir={work_dir}")
    miss = _rebaked(lab, clean_lab, r, doc, ami)
    assert miss.endswith(f"since {ami} (run {doc1['run_id']}): provisioners[2] file "
                         "puppet/manifests/site.pp changed"), miss
    assert "Notice: Applied catalog" in r.stdout
