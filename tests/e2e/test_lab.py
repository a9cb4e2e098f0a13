"""Tests of the e2e lab itself (moto, the fault proxy, sshd): they need no bakeami binary."""

import os
import socket
import subprocess
import time
from hashlib import sha256

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

import lab as lab_module
from lab import AKC_ROOT, Lab


def proxied(lab, service="ec2", region=None, key=None, secret=None):
    """A boto3 client that goes through the proxy, without retries."""
    env = lab.env()
    return boto3.client(service, region_name=region or env["AWS_REGION"], endpoint_url=env["AWS_ENDPOINT_URL"],
                        aws_access_key_id=key or env["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=secret or env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(retries={"total_max_attempts": 1}, proxies={}, read_timeout=30))


def ssh(lab, key, command="sudo -n true && echo ok"):
    return subprocess.run(
        ["ssh", "-i", str(key), "-p", str(lab.ssh_port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
         "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", f"{lab.ssh_user}@{lab.ssh_host}", command],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


def keygen(tmp_path, name="key"):
    key = tmp_path / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"e2e {name}", "-f", str(key)], check=True)
    return key


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_env_points_bakes_at_the_proxy_on_loopback(lab, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("HTTPS_PROXY", "http://10.1.2.3:3128")
    env = lab.env(BAKEAMI_RETRY_BASE_MS=None, EXTRA="1")
    assert env["AWS_ENDPOINT_URL"] == f"http://127.0.0.1:{lab.proxy.port}"
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == lab_module.TEST_CREDS
    assert env["AWS_REGION"] == "us-east-1" and env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in env and "HTTPS_PROXY" not in env and "BAKEAMI_RETRY_BASE_MS" not in env
    assert env["EXTRA"] == "1" and lab.env()["BAKEAMI_RETRY_BASE_MS"] == "10"
    assert lab.ssh_vars() == ["-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}"]
    assert lab.moto_port not in (lab.proxy.port, lab.ssh_port)


def test_calls_through_the_proxy_are_forwarded_and_counted(clean_lab):
    lab = clean_lab.lab
    ec2 = proxied(lab)
    ec2.create_key_pair(KeyName="counted", KeyType="ed25519")
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["counted"]
    proxied(lab, "ssm").put_parameter(Name="/e2e/x", Value="1", Type="String")
    assert lab.calls(service="ec2") == ["CreateKeyPair", "DescribeKeyPairs"]
    assert lab.calls() == ["CreateKeyPair", "DescribeKeyPairs", "PutParameter"]
    first = lab.requests(action="CreateKeyPair")[0]
    assert (first.method, first.path, first.service, first.region, first.status) == ("POST", "/", "ec2", "us-east-1", 200)
    assert first.params["KeyName"] == "counted" and first.fault is None
    assert lab.requests(service="ssm")[0].action == "PutParameter"
    # the lab's own look-ups go to moto directly and are not counted
    assert lab.leftovers()["key_pairs"] == ["counted"]
    assert len(lab.calls()) == 3
    lab.reset_calls()
    assert lab.calls() == []
    lab.ec2().delete_key_pair(KeyName="counted")


def test_curl_sigv4_requests_pass_unchanged(clean_lab):
    """libcurl (as bakeami signs) through the proxy, with Expect: 100-continue and chunking."""
    lab = clean_lab.lab
    body = "Action=DescribeKeyPairs&Version=2016-11-15"
    base = ["curl", "-sS", "--noproxy", "*", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user", "testing:testing",
            "-H", f"x-amz-content-sha256: {sha256(body.encode()).hexdigest()}"]
    for extra in ([], ["-H", "Expect: 100-continue"], ["-H", "Transfer-Encoding: chunked"]):
        out = subprocess.run([*base, *extra, "--data-binary", body, "-w", "\n%{http_code}", lab.endpoint],
                             capture_output=True, text=True, timeout=30)
        assert out.stdout.endswith("\n200") and "DescribeKeyPairsResponse" in out.stdout, (extra, out)
    assert lab.calls(service="ec2") == ["DescribeKeyPairs"] * 3


def test_throttle_is_injected_once_then_passes_through(clean_lab):
    lab = clean_lab.lab
    ec2 = proxied(lab)
    rule = lab.inject(action="DescribeKeyPairs", kind="throttle", count=1)
    ec2.describe_instances()  # other actions are not affected
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs()
    assert e.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    ec2.describe_key_pairs()
    assert rule.fired == 1 and rule.exhausted
    assert lab.calls() == ["DescribeInstances", "DescribeKeyPairs", "DescribeKeyPairs"]
    assert [c.fault for c in lab.requests()] == [None, "throttle", None]
    assert [c.status for c in lab.requests()] == [200, 400, 200]


def test_throttle_error_document_is_ec2_xml(clean_lab):
    lab = clean_lab.lab
    lab.inject(action="DescribeRegions")
    body = "Action=DescribeRegions&Version=2016-11-15"
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", "--aws-sigv4", "aws:amz:us-east-1:ec2", "--user",
                          "testing:testing", "--data-binary", body, "-w", "\n%{http_code}", lab.endpoint],
                         capture_output=True, text=True, timeout=30).stdout
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                          "<Code>RequestLimitExceeded</Code><Message>"), out
    assert "<RequestID>" in out and out.endswith("\n400")


def test_fault_kinds(clean_lab):
    lab = clean_lab.lab
    ec2 = proxied(lab)
    lab.inject(action="DescribeKeyPairs", kind="503")
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs()
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert e.value.response["Error"]["Code"] == "Unavailable"

    lab.inject(action="DescribeKeyPairs", kind="error", status=400, code="InvalidParameterValue", message="nope")
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs()
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"

    for kind in ("reset", "close"):
        lab.inject(action="DescribeKeyPairs", kind=kind)
        with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
            ec2.describe_key_pairs()

    # drop: moto does the work, the client never gets the answer
    lab.inject(action="CreateKeyPair", kind="drop")
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        ec2.create_key_pair(KeyName="dropped")
    assert lab.leftovers()["key_pairs"] == ["dropped"]
    lab.ec2().delete_key_pair(KeyName="dropped")

    lab.inject(action="DescribeKeyPairs", kind="delay", delay=0.5)
    t = time.monotonic()
    ec2.describe_key_pairs()
    assert time.monotonic() - t >= 0.5

    # nth: the 2nd matching call onwards, twice
    lab.inject(action="DescribeRegions", kind="throttle", nth=2, count=2)
    outcomes = []
    for _ in range(4):
        try:
            ec2.describe_regions(RegionNames=["us-east-1"])
            outcomes.append("ok")
        except ClientError:
            outcomes.append("throttled")
    assert outcomes == ["ok", "throttled", "throttled", "ok"]

    # JSON-protocol services get their own throttling error
    lab.inject(action="GetParameter", kind="throttle", service="ssm")
    with pytest.raises(ClientError) as e:
        proxied(lab, "ssm").get_parameter(Name="/x")
    assert e.value.response["Error"]["Code"] == "ThrottlingException"
    assert [c.status for c in lab.requests()][:6] == [503, 400, None, None, None, 200]


def test_wait_for_call(clean_lab):
    lab = clean_lab.lab
    with pytest.raises(TimeoutError):
        lab.wait_for_call("RunInstances", timeout=0.1)
    proxied(lab).describe_vpcs()
    assert lab.wait_for_call("DescribeVpcs", timeout=1).status == 200


@pytest.mark.parametrize("how", ["import", "create"])
def test_sshd_accepts_current_key_pairs_only(clean_lab, tmp_path, how):
    lab = clean_lab.lab
    ec2 = lab.ec2()
    if how == "import":
        key = keygen(tmp_path)
        ec2.import_key_pair(KeyName="e2e", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    else:  # moto makes the key, as a bake with a temporary key pair would
        key = tmp_path / "key"
        key.write_text(ec2.create_key_pair(KeyName="e2e", KeyType="ed25519")["KeyMaterial"])
        key.chmod(0o600)
    keygen(tmp_path, "other")
    ec2.import_key_pair(KeyName="other", PublicKeyMaterial=(tmp_path / "other.pub").read_bytes())

    r = ssh(lab, key)
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    assert ssh(lab, key, "id -un").stdout == "bakeami\n"
    # SFTP (the file provisioner) works too
    (tmp_path / "up").write_text("uploaded\n")
    sftp = subprocess.run(
        ["sftp", "-i", str(key), "-P", str(lab.ssh_port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-b", "-",
         f"bakeami@127.0.0.1"], input=f"put {tmp_path / 'up'} /tmp/bakeami-lab-sftp-{how}\n",
        capture_output=True, text=True, timeout=60)
    assert sftp.returncode == 0, sftp.stderr
    assert ssh(lab, key, f"cat /tmp/bakeami-lab-sftp-{how}; rm /tmp/bakeami-lab-sftp-{how}").stdout == "uploaded\n"
    # the key look-ups went to moto directly: nothing counted
    assert lab.calls() == []

    ec2.delete_key_pair(KeyName="e2e")
    r = ssh(lab, key)
    assert r.returncode == 255 and "Permission denied" in r.stderr, r
    assert ssh(lab, tmp_path / "other").stdout == "ok\n"
    ec2.delete_key_pair(KeyName="other")


def test_sshd_refuses_root_and_keys_of_other_regions(clean_lab, tmp_path):
    lab = clean_lab.lab
    key = keygen(tmp_path)
    lab.ec2("eu-west-1").import_key_pair(KeyName="elsewhere", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    assert ssh(lab, key).returncode == 255
    lab.ec2().import_key_pair(KeyName="here", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    assert ssh(lab, key).stdout == "ok\n"
    r = subprocess.run(["ssh", "-i", str(key), "-p", str(lab.ssh_port), "-o", "StrictHostKeyChecking=no",
                        "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "root@127.0.0.1", "true"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 255
    lab.ec2("eu-west-1").delete_key_pair(KeyName="elsewhere")
    lab.ec2().delete_key_pair(KeyName="here")


def test_processes_left_on_the_instance_are_ended(clean_lab, tmp_path):
    """A killed bake leaves its provisioning script running; reset()/stop() end it."""
    lab = clean_lab.lab
    key = keygen(tmp_path)
    lab.ec2().import_key_pair(KeyName="k", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    r = ssh(lab, key, "setsid sleep 41.5 </dev/null >/dev/null 2>&1 & "
                      "sudo -n sleep 41.6 </dev/null >/dev/null 2>&1 & echo started")
    assert r.stdout == "started\n", r.stderr

    def running():
        return {pid for pid in os.listdir("/proc") if pid.isdigit()
                and _cmdline(pid) in (b"sleep\x0041.5\x00", b"sleep\x0041.6\x00")}

    deadline = time.monotonic() + 5
    while len(running()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(running()) == 2
    assert lab.kill_ssh_sessions() >= 2
    assert running() == set()
    lab.ec2().delete_key_pair(KeyName="k")


def test_leftovers_finds_what_was_made_and_reset_clears_it(clean_lab):
    lab = clean_lab.lab
    ec2 = lab.ec2()
    assert lab.leftovers() == {}
    ec2.create_key_pair(KeyName="left-kp")
    sg = ec2.create_security_group(GroupName="left-sg", Description="x")["GroupId"]
    ami = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-2023.*-x86_64"]}])
    source = ami["Images"][0]["ImageId"]
    running = ec2.run_instances(ImageId=source, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    gone = ec2.run_instances(ImageId=source, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[gone])
    image = ec2.create_image(InstanceId=running, Name="left-image")["ImageId"]
    vol = ec2.create_volume(Size=1, AvailabilityZone="us-east-1a")["VolumeId"]

    left = lab.leftovers()
    assert left["instances"] == [f"{running} (running)"]
    assert left["key_pairs"] == ["left-kp"]
    assert left["security_groups"] == [f"{sg} (left-sg)"]
    assert left["images"] == [f"{image} (left-image)"]
    assert len(left["snapshots"]) == 1 and f"for {image}" in left["snapshots"][0]
    assert left["volumes"] == [f"{vol} (available)"]

    allowed = lab.leftovers(allow_images=[image])
    assert "images" not in allowed and "snapshots" not in allowed and allowed["key_pairs"]
    with pytest.raises(AssertionError, match="left-kp"):
        lab.assert_clean()
    assert lab.leftovers("us-west-2") == {}

    lab.reset()
    assert lab.leftovers() == {} and not lab.dirty
    lab.assert_clean()


def test_image_copies_in_other_regions_are_found(clean_lab):
    lab = clean_lab.lab
    ec2 = lab.ec2()
    source = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=source, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    image = ec2.create_image(InstanceId=inst, Name="to-copy")["ImageId"]
    ec2.terminate_instances(InstanceIds=[inst])
    copy = proxied(lab, region="us-west-2").copy_image(SourceImageId=image, SourceRegion="us-east-1",
                                                      Name="copy")["ImageId"]
    assert lab.active_regions() == ["us-east-1", "us-west-2"]
    west = lab.leftovers("us-west-2")
    assert west["images"] == [f"{copy} (copy)"] and len(west["snapshots"]) == 1
    with pytest.raises(AssertionError, match=copy):
        lab.assert_clean(allow_images=[image])
    lab.assert_clean(allow_images=[image, copy])
    lab.reset()


def test_iam_auth_mode(clean_lab, tmp_path):
    lab = clean_lab.lab
    key_id, secret = lab.enable_iam_auth()
    assert lab.env()["AWS_ACCESS_KEY_ID"] == key_id and key_id != lab_module.TEST_CREDS[0]
    # signatures survive the proxy: the right key works, a wrong secret is refused
    proxied(lab).describe_key_pairs()
    with pytest.raises(ClientError) as e:
        proxied(lab, secret="wrong").describe_key_pairs()
    assert e.value.response["Error"]["Code"] == "AuthFailure"
    # sshd's key look-up signs with the IAM key
    key = keygen(tmp_path)
    lab.ec2().import_key_pair(KeyName="auth", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    assert ssh(lab, key).stdout == "ok\n"
    lab.reset()
    assert lab.env()["AWS_ACCESS_KEY_ID"] == lab_module.TEST_CREDS[0]
    proxied(lab, secret="anything").describe_key_pairs()


def test_clean_lab_skips_the_reset_when_moto_was_not_touched(lab, clean_lab):
    lab.reset()
    assert not lab.dirty
    lab.leftovers()  # the lab's own read-only look-ups don't count
    assert not lab.dirty
    proxied(lab).describe_regions()
    assert lab.dirty
    lab.reset()
    lab.ec2()
    assert lab.dirty


def test_a_stopped_lab_leaves_nothing(tmp_path, report_figure):
    t = time.monotonic()
    other = Lab().start()
    report_figure(f"a second lab started in {time.monotonic() - t:.1f} s (moto, proxy, sshd)")
    pids = [other._moto.pid, other._sshd.pid]
    key = keygen(tmp_path)
    other.ec2().import_key_pair(KeyName="k", PublicKeyMaterial=(tmp_path / "key.pub").read_bytes())
    session = subprocess.Popen(  # an open SSH session must not keep sshd alive
        ["ssh", "-i", str(key), "-p", str(other.ssh_port), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "bakeami@127.0.0.1",
         "echo up; sleep 60.4242"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert session.stdout.readline() == "up\n"
    tmp, akc_dir, ports = other.tmp, other.akc_dir, (other.moto_port, other.proxy.port, other.ssh_port)
    other.stop()
    assert session.wait(10) is not None
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    assert not [pid for pid in os.listdir("/proc") if pid.isdigit() and b"60.4242" in _cmdline(pid)]
    assert not tmp.exists() and not akc_dir.exists() and AKC_ROOT.is_dir()
    for port in ports:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
    other.stop()  # idempotent
