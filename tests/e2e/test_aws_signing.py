"""Signing and credentials of the aws layer, checked against moto's IAM mode.

moto recomputes each SigV4 signature once auth is switched on
(reference/moto.md section 3), so a right key must pass and a wrong secret
must fail. Each test runs its own moto_server on a free loopback port and
drives the library through tests/e2e/aws_probe.c.
"""
import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import probe_binary

REPO = Path(__file__).resolve().parents[2]
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["ec2:*", "sts:*", "ssm:*"], "Resource": "*"}]})
# moto matches the trust policy's principal literally (no account-root
# delegation), so name the user.
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/baker"},
     "Action": "sts:AssumeRole"}]})


@pytest.fixture(scope="module")
def probe():
    return probe_binary("aws_probe")


@pytest.fixture()
def moto(tmp_path):
    """A moto_server of our own on 127.0.0.1 and a free port."""
    log = open(tmp_path / "moto.log", "w+")
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", "0"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = None
    deadline = time.time() + 30
    while time.time() < deadline and url is None:
        m = re.search(r"Running on (http://127\.0\.0\.1:\d+)", Path(log.name).read_text())
        url = m.group(1) if m else None
        time.sleep(0.1)
    if url is None:
        proc.kill()
        pytest.fail("moto_server did not start: " + Path(log.name).read_text())
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


def set_auth(url, n):
    """Check signatures after the next n requests (moto.md section 3)."""
    req = urllib.request.Request(url + "/moto-api/reset-auth", data=str(n).encode(),
                                 headers={"Content-Type": "text/plain"}, method="POST")
    urllib.request.urlopen(req, timeout=10).read()


def boto(url, service):
    import boto3
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="setup", aws_secret_access_key="setup")


def make_user(url):
    """An IAM user allowed ec2/sts/ssm, created while auth is still off."""
    iam = boto(url, "iam")
    iam.create_user(UserName="baker")
    iam.put_user_policy(UserName="baker", PolicyName="bake", PolicyDocument=POLICY)
    key = iam.create_access_key(UserName="baker")["AccessKey"]
    iam.create_role(RoleName="bake", AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName="bake", PolicyName="bake", PolicyDocument=POLICY)
    return key["AccessKeyId"], key["SecretAccessKey"]


def base_env(url, home):
    """Only what we set: never the caller's AWS settings, never IMDS."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
            "AWS_ENDPOINT_URL": url, "AWS_EC2_METADATA_DISABLED": "true",
            "BAKEAMI_RETRY_BASE_MS": "1"}


def run(probe, env, *args):
    return subprocess.run([str(probe), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_right_key_signs_and_wrong_secret_is_refused(probe, moto, tmp_path):
    set_auth(moto, 100)
    key, secret = make_user(moto)
    set_auth(moto, 0)
    env = base_env(moto, tmp_path) | {"AWS_ACCESS_KEY_ID": key, "AWS_REGION": "us-east-1"}

    ok = run(probe, env | {"AWS_SECRET_ACCESS_KEY": secret}, "describe-images")
    assert ok.returncode == 0, ok.stderr
    assert "source=env" in ok.stdout and "images=0" in ok.stdout

    # Form encoding moto re-encodes differently (%20, *, ~, UTF-8) still
    # verifies, thanks to the signed x-amz-content-sha256 header.
    odd = run(probe, env | {"AWS_SECRET_ACCESS_KEY": secret}, "describe-images",
              "web server (v1) *~ caf\u00e9 a+b=c&d")
    assert odd.returncode == 0, odd.stderr

    # JSON protocol (SSM) and STS are signed the same way.
    ssm = run(probe, env | {"AWS_SECRET_ACCESS_KEY": secret}, "ssm-get",
              "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64")
    assert ssm.returncode == 0, ssm.stderr
    assert re.search(r"value=ami-[0-9a-f]+", ssm.stdout)
    who = run(probe, env | {"AWS_SECRET_ACCESS_KEY": secret}, "whoami")
    assert who.returncode == 0 and "user/baker" in who.stdout, who.stderr

    bad = run(probe, env | {"AWS_SECRET_ACCESS_KEY": secret + "x"}, "describe-images")
    assert bad.returncode == 1
    assert "DescribeImages: AuthFailure: " in bad.stderr
    assert "calls ec2=1 " in bad.stdout          # a 401 is never retried
    assert secret not in bad.stdout + bad.stderr


def test_profile_role_arn_assumes_role_and_signs_session_token(probe, moto, tmp_path):
    set_auth(moto, 100)
    key, secret = make_user(moto)
    set_auth(moto, 0)
    aws_dir = tmp_path / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text(
        f"[src]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    (aws_dir / "config").write_text(
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/bake\n"
        "source_profile = src\nregion = eu-west-1\n")
    env = base_env(moto, tmp_path) | {"AWS_PROFILE": "dev"}

    res = run(probe, env, "whoami")
    assert res.returncode == 0, res.stderr
    assert "source=assume-role arn:aws:iam::123456789012:role/bake" in res.stdout
    assert "region=eu-west-1" in res.stdout
    assert re.search(r"arn=arn:aws:sts::123456789012:assumed-role/bake/bakeami-[0-9a-f]{8}",
                     res.stdout), res.stdout
    # The temporary credentials (with X-Amz-Security-Token) pass EC2's check.
    ec2 = run(probe, env, "describe-images")
    assert ec2.returncode == 0, ec2.stderr
    assert "calls ec2=1 sts=1 " in ec2.stdout


def test_missing_credentials_and_region_are_named(probe, tmp_path):
    env = base_env("http://127.0.0.1:9", tmp_path)
    res = run(probe, env | {"AWS_REGION": "us-east-1"}, "describe-images")
    assert res.returncode == 1
    assert "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY" in res.stderr
    res = run(probe, env | {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"},
              "describe-images")
    assert res.returncode == 1
    assert "AWS_REGION" in res.stderr and "AWS_DEFAULT_REGION" in res.stderr
    res = run(probe, env | {"AWS_PROFILE": "nope", "AWS_REGION": "us-east-1"}, "whoami")
    assert res.returncode == 1 and 'AWS profile "nope" not found' in res.stderr


UNKNOWN = "i-0123456789abcdef0"  # well-formed, never launched


def _ids(call):
    return sorted(v for k, v in call.params.items() if k.startswith("InstanceId."))


def test_shared_describe_refused_for_one_id_falls_back_to_each_alone(clean_lab, probe):
    """Bakes waiting on their instances share one DescribeInstances (ec2_shared.c); when EC2
    refuses it for one unknown id, the others learn nothing from it and each asks alone."""
    lab = clean_lab.lab
    ec2 = lab.ec2()
    ami = ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}])["Images"][0]["ImageId"]
    a, b = (i["InstanceId"] for i in ec2.run_instances(ImageId=ami, MinCount=2, MaxCount=2)["Instances"])
    try:
        # The first call is held at the proxy, so B's and the unknown id's asks meet behind it.
        lab.inject("DescribeInstances", kind="delay", delay=4, nth=1, count=1)
        proc = subprocess.Popen([str(probe), "describe-instances-shared", a, b, UNKNOWN], env=lab.env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout.readline().startswith("source="), proc.stderr.read()
            assert proc.stdout.readline() == "asked first\n"
            lab.wait_for_call("DescribeInstances", timeout=30)
            out, err = proc.communicate("go\n", timeout=60)
        finally:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.returncode == 0, out + err
        got = dict(re.findall(r"^id=(\S+) (rc=\S+ state=\S*)$", out, re.M))
        assert got == {a: "rc=0 state=running", b: "rc=0 state=running",
                       UNKNOWN: "rc=-9 state="}, out + err  # -9: BAKEAMI_ENOTFOUND
        reqs = lab.requests("ec2", "DescribeInstances")
        calls = [_ids(c) for c in reqs]
        seen = [(round(c.time - reqs[0].time, 2), c.fault, c.status, _ids(c)) for c in reqs]
        assert reqs[0].fault == "delay", seen
        assert len(calls) == 4, seen
        assert calls[0] == [a], calls
        assert calls[1] == sorted([b, UNKNOWN]), "no shared call: %r" % calls
        assert sorted(calls[2:]) == sorted([[b], [UNKNOWN]]), "no fallback: %r" % calls
    finally:
        ec2.terminate_instances(InstanceIds=[a, b])
