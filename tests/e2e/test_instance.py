"""amazon-instance bakes against the lab: the instance (this machine's sshd) runs the stand-in
ec2-bundle-vol / ec2-upload-bundle (tests/e2e/bin), which write a real manifest and parts into
moto's S3; bakeami registers the manifest, tags the image, and cleans up the bundle when the bake
fails after the upload. The clean_lab fixture checks S3 too: no bundle object may be left but a
kept image's (clean_lab.keep_s3).

moto's RegisterImage ignores ImageLocation (it registers an image from nothing): so the tests
check what bakeami sent (the proxy's record of the call) and that the manifest object is in S3 at
that location, not that EC2 read it."""
import json
import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "templates" / "instance.json"
BUCKET = "bakeami-e2e-bundles"
CERT, KEY = Path("/tmp/cert.pem"), Path("/tmp/key.pem")   # Packer's x509_upload_path, /tmp


@pytest.fixture
def prefix():
    """A bundle prefix of this test's own; its files in /tmp (bundle_destination) are removed
    afterwards, as a terminated instance would take them."""
    name = f"image-e2e-{secrets.token_hex(4)}"
    for p in (CERT, KEY):   # a previous lab's leftover would hide whether this bake removed its own
        p.unlink(missing_ok=True)
    yield name
    for f in Path("/tmp").glob(f"{name}.*"):
        f.unlink()
    Path("/tmp/bakeami-e2e-instance-marker").unlink(missing_ok=True)


def args(lab, prefix, *extra, template=TEMPLATE):
    return ["bake", "-var", f"ssh_port={lab.ssh_port}", "-var", f"prefix={prefix}", *extra,
            str(template)]


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def bundle_objects(lab, prefix):
    return sorted(o for o in lab.s3_objects() if o.startswith(f"{BUCKET}/{prefix}."))


def test_instance_bake_registers_the_uploaded_manifest(lab, clean_lab, bakeami, prefix, tmp_path,
                                                       report_figure):
    result = tmp_path / "result.json"
    journal = tmp_path / "journal.jsonl"
    secret = lab.env()["AWS_SECRET_ACCESS_KEY"]
    key_line = next(l for l in (HERE / "../../examples/seed/lab-x509/key.pem").read_text().splitlines()
                    if "-----" not in l)
    r = bakeami.run(args(lab, prefix, "--result", result, "--journal", journal))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out

    # the states of Packer's instance builder, in order, instead of CreateImage
    order = [out.index(s) for s in ("test: 1 tests passed", "bundle: uploading the x509 pair",
                                    "bundle: running bundle_vol_command", "running bundle_upload_command",
                                    "image: registered image", " available (")]
    assert order == sorted(order), out
    assert "creating image" not in out   # no CreateImage
    # the stand-ins ran with Packer's default commands, live
    assert "sudo -i -n ec2-bundle-vol -k /tmp/key.pem -u 123456789012 -c /tmp/cert.pem -r x86_64 " \
           f"-e /tmp/* -d /tmp -p {prefix} --batch --no-filter" in out, out
    assert "Volume bundling complete." in out and "Bundle upload completed." in out
    # {{.SecretKey}} is on the remote command line and never in the log
    assert f"-s {secret}" not in out and secret not in out and secret not in result.read_text()
    assert "ec2-upload-bundle -b bakeami-e2e-bundles" in out
    assert key_line not in out

    images = own_images(lab)
    assert len(images) == 1, images
    image = images[0]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    res = json.loads(result.read_text())
    assert res["status"] == "succeeded" and res["amis"] == {"us-east-1": image["ImageId"]}
    assert tags["Name"] == "e2e-instance" and tags["Role"] == "web"
    assert tags["bakeami:run-id"] == res["run_id"] and tags["SourceAMI"] == res["source_ami"]
    assert tags["TestStatus"] == "passed"

    # what RegisterImage was asked, and the manifest really is there
    reg = lab.requests(service="ec2", action="RegisterImage")
    assert len(reg) == 1
    assert reg[0].params["ImageLocation"] == f"{BUCKET}/{prefix}.manifest.xml"
    assert reg[0].params["VirtualizationType"] == "hvm"
    assert reg[0].params["Architecture"] == "x86_64"
    objects = bundle_objects(lab, prefix)
    assert f"{BUCKET}/{prefix}.manifest.xml" in objects and f"{BUCKET}/{prefix}.part.00" in objects
    manifest = lab.client("s3").get_object(Bucket=BUCKET, Key=f"{prefix}.manifest.xml")["Body"].read()
    assert b"<architecture>x86_64</architecture>" in manifest and b"<user>123456789012</user>" in manifest

    # nothing temporary left: the x509 pair is gone from the instance, and the clean_lab check
    # finds no instance, key pair or group; the bundle stays with its image (kept in the journal)
    assert not CERT.exists() and not KEY.exists()
    kept = [json.loads(l) for l in journal.read_text().splitlines()]
    assert any(e.get("kind") == "s3-bundle" and e.get("event") == "kept" for e in kept), kept
    calls = lab.calls(service="ec2")
    s3_calls = lab.calls(service="s3")
    report_figure(f"amazon-instance bake: {len(calls)} EC2 calls ({' '.join(calls)}); "
                  f"{len(s3_calls)} S3 calls from bakeami (the upload is the instance's)")
    assert s3_calls == []   # a bake that succeeds leaves the bundle alone
    clean_lab.keep_images([image["ImageId"]])
    clean_lab.keep_s3(f"{BUCKET}/{prefix}.")


def test_register_failure_after_upload_leaves_no_bundle(lab, clean_lab, bakeami, prefix):
    lab.inject("RegisterImage", kind="error", status=400, code="InvalidManifest",
               message="the manifest is not readable", count=None)
    r = bakeami.run(args(lab, prefix))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "RegisterImage: InvalidManifest" in r.stderr
    assert "Bundle upload completed." in out          # the upload happened first
    assert "deleted s3-bundle s3://" in out and f"{prefix}.*" in out
    assert bundle_objects(lab, prefix) == []
    assert "DeleteObjects" in lab.calls(service="s3")
    assert own_images(lab) == []
    assert not CERT.exists() and not KEY.exists()


def test_cut_short_upload_leaves_no_parts(lab, clean_lab, bakeami, prefix):
    lab.fail_bundle_upload(after=1)   # one part in S3, then the tool fails
    r = bakeami.run(args(lab, prefix))
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "bundle_upload_command exited with status 1" in r.stderr, r.stderr
    assert "RegisterImage" not in lab.calls(service="ec2")
    assert bundle_objects(lab, prefix) == []
    assert not CERT.exists() and not KEY.exists()


def test_sigkill_after_upload_then_cleanup_journal(lab, clean_lab, bakeami, prefix, tmp_path):
    journal = tmp_path / "j.jsonl"
    hold = lab.inject("RegisterImage", kind="hold", delay=60)
    proc = bakeami.start(args(lab, prefix, "--journal", journal))
    lab.wait_for_call("RegisterImage", timeout=90)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()
    assert hold.fired == 1
    assert bundle_objects(lab, prefix), "the bundle was uploaded before the kill"
    r = bakeami.run(["cleanup", "--journal", journal])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deleted s3-bundle" in r.stdout and "deleted instance" in r.stdout
    assert bundle_objects(lab, prefix) == []


def test_group_names_resolved_in_the_build_vpc(lab, clean_lab, bakeami, prefix, tmp_path):
    ec2 = lab.ec2()
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    all_id = ec2.create_security_group(GroupName="all", Description="seed's", VpcId=vpc)["GroupId"]
    default_id = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}, {"Name": "vpc-id", "Values": [vpc]}]
    )["SecurityGroups"][0]["GroupId"]
    tpl = json.loads(TEMPLATE.read_text())
    tpl["builders"][0]["security_group_ids"] = ["all", "default"]
    named = tmp_path / "named.json"
    for f in ("cert.pem", "key.pem"):   # the template names them relative to itself
        (tmp_path / f).write_bytes((HERE / "../../examples/seed/lab-x509" / f).read_bytes())
    tpl["builders"][0]["x509_cert_path"] = str(tmp_path / "cert.pem")
    tpl["builders"][0]["x509_key_path"] = str(tmp_path / "key.pem")
    named.write_text(json.dumps(tpl))
    try:  # the test's own group goes whatever the bake did (else teardown reports it too)
        r = bakeami.run(args(lab, prefix, "-var", "bucket=bakeami-e2e-bundles", template=named))
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        assert f'"all" is a group name, not an id: using {all_id}' in out
        assert f'"default" is a group name, not an id: using {default_id}' in out
        run = lab.requests(service="ec2", action="RunInstances")[0].params
        assert {run.get("SecurityGroupId.1"), run.get("SecurityGroupId.2")} == {all_id, default_id}
        assert "CreateSecurityGroup" not in lab.calls(service="ec2")
    finally:
        ec2.delete_security_group(GroupId=all_id)
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])
    clean_lab.keep_s3(f"{BUCKET}/{prefix}.")

    # an unknown name fails before anything is launched, naming it
    tpl["builders"][0]["security_group_ids"] = ["no-such-group"]
    named.write_text(json.dumps(tpl))
    lab.reset_calls()
    r = bakeami.run(args(lab, prefix + "-x", template=named))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f'no security group named "no-such-group" in {vpc}' in r.stderr, r.stderr
    assert "RunInstances" not in lab.calls(service="ec2")


def test_skip_save_build_region_keeps_the_copy_and_the_bundle(lab, clean_lab, bakeami, prefix,
                                                              tmp_path):
    """skip_save_build_region with amazon-instance: the registered image goes once its copy is
    available; its bundle stays in S3, as Packer never touches S3."""
    doc = json.loads(TEMPLATE.read_text())
    b = doc["builders"][0]
    for k in ("x509_cert_path", "x509_key_path"):
        b[k] = str((TEMPLATE.parent / b[k]).resolve())
    b.update(skip_save_build_region=True, ami_regions=["us-west-2"])
    template = tmp_path / "instance.json"
    template.write_text(json.dumps(doc))
    result = tmp_path / "result.json"
    r = bakeami.run(args(lab, prefix, "--result", result, template=template))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = json.loads(result.read_text())
    (copy,) = [i["ImageId"] for i in lab.ec2("us-west-2").describe_images(Owners=["self"])["Images"]]
    assert res["amis"] == {"us-west-2": copy}, res
    assert own_images(lab) == [], out
    assert lab.calls(service="ec2").count("DeregisterImage") == 1, lab.calls(service="ec2")
    assert f"{BUCKET}/{prefix}.manifest.xml" in bundle_objects(lab, prefix), out
    clean_lab.keep_images([copy])
    clean_lab.keep_s3(f"{BUCKET}/{prefix}.")
