"""Packer 1.6.6 options that change where the calls go or what is launched, run beside Packer:
custom_endpoint_ec2 (EC2 and IAM calls go there, Packer's session-wide endpoint, and a cleanup
from the journal follows it), insecure_skip_tls_verify (tried against a TLS front of the lab
with a self-signed certificate), tenancy and enable_t2_unlimited (what RunInstances carries,
compared with what Debian's Packer 1.6.6 sends for the same template through the same proxy).

The bakes here run with no AWS_ENDPOINT_URL at all: only the template says where the lab is,
and the machine reaches nothing but loopback, so a call sent anywhere else fails the bake."""
import datetime
import ipaddress
import json
import os
import selectors
import shutil
import socket
import ssl
import subprocess
import threading
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lab import SSH_USER, SUDO_ASKS
from test_role_refresh import _signed_by, _token

NO_ENDPOINT = {"AWS_ENDPOINT_URL": None}


def template(lab, tmp_path, endpoint, provisioners=None, **builder):
    """One template both tools run unchanged (as bench/bench.py's): the lab's endpoint, the
    credentials in the template, 1 s polling for Packer's waiters."""
    key, secret = lab._creds
    b = {
        "type": "amazon-ebs",
        "region": lab.region,
        "access_key": key,
        "secret_key": secret,
        "custom_endpoint_ec2": endpoint,
        "skip_region_validation": True,
        "aws_polling": {"delay_seconds": 1, "max_attempts": 120},
        "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64",
                                          "virtualization-type": "hvm"},
                              "owners": ["amazon"], "most_recent": True},
        "instance_type": "t3.micro",
        "ssh_username": SSH_USER,
        "ssh_host": lab.ssh_host,
        "ssh_port": lab.ssh_port,
        "ssh_timeout": "1m",
        "ami_name": "options {{timestamp}} {{uuid}}",
    }
    b.update(builder)
    path = tmp_path / "options.json"
    path.write_text(json.dumps({"builders": [b], "provisioners": provisioners or [
        {"type": "shell", "inline": ["echo provisioned"]}]}))
    return str(path)


def packer_build(lab, tmp_path, tpl):
    exe = shutil.which("packer")
    if not exe:
        pytest.fail("packer (Debian's 1.6.6) is not installed: tests/deps.sh installs it")
    (tmp_path / "home").mkdir(exist_ok=True)
    env = lab.env(HOME=str(tmp_path / "home"), CHECKPOINT_DISABLE="1", PACKER_NO_COLOR="1",
                  PACKER_CACHE_DIR=str(tmp_path / "cache"), AWS_ENDPOINT_URL=None)
    return subprocess.run([exe, "build", "-color=false", tpl], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def _kill_while_held(lab, bakeami, tpl, journal, action, env):
    """A bake SIGKILLed while the proxy holds its `action` (which never reaches EC2)."""
    lab.inject(action, kind="hold", delay=120)
    proc = bakeami.start(["bake", "--journal", str(journal), tpl], env_extra=env)
    lab.wait_for_call(action, timeout=60)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()


def keep_images(lab, clean_lab):
    """The images the bakes made are the point: the leak check lets them stay."""
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])


def launch_params(lab):
    run = lab.requests(service="ec2", action="RunInstances")
    assert len(run) == 1, lab.calls()
    return run[0].params


@pytest.mark.keeps_images
def test_tenancy_and_t2_unlimited_sent_as_packer_sends_them(lab, clean_lab, bakeami, tmp_path):
    tpl = template(lab, tmp_path, lab.endpoint, instance_type="t2.micro", tenancy="dedicated",
                   enable_t2_unlimited=True)
    theirs = packer_build(lab, tmp_path, tpl)
    assert theirs.returncode == 0, theirs.stdout + theirs.stderr
    packer_sent = launch_params(lab)
    lab.reset_calls()

    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"EC2 and IAM calls go to {lab.endpoint} (custom_endpoint_ec2)" in out, out
    ours = launch_params(lab)
    for key, want in (("Placement.Tenancy", "dedicated"), ("CreditSpecification.CpuCredits",
                                                           "unlimited")):
        assert packer_sent.get(key) == want, (key, packer_sent)
        assert ours.get(key) == want, (key, ours)
    # (moto launches every instance with default tenancy whatever it is sent: the request is
    # what can be compared)


def test_without_the_options_neither_is_sent(lab, clean_lab, bakeami, tmp_path):
    tpl = template(lab, tmp_path, lab.endpoint)
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
    assert r.returncode == 0, r.stdout + r.stderr
    sent = launch_params(lab)
    assert "Placement.Tenancy" not in sent and "CreditSpecification.CpuCredits" not in sent, sent
    keep_images(lab, clean_lab)


def test_cleanup_from_the_journal_goes_to_the_templates_endpoint(lab, clean_lab, bakeami, tmp_path):
    """Killed while CreateImage is held: the instance, group and key pair exist. With no
    endpoint in the environment, `bakeami cleanup --journal` can find them only where the
    journal says the bake's calls went."""
    journal = tmp_path / "j.jsonl"
    tpl = template(lab, tmp_path, lab.endpoint + "/")
    _kill_while_held(lab, bakeami, tpl, journal, "CreateImage", NO_ENDPOINT)
    start = [json.loads(line) for line in journal.read_text().splitlines()][:2]
    assert start[1] == {"t": start[1]["t"], "event": "access", "endpoint": lab.endpoint}, start
    assert lab.ec2().describe_key_pairs()["KeyPairs"], "the kill should have left the key pair"

    r = bakeami.run(["cleanup", "--journal", str(journal)], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"EC2 and IAM calls go to {lab.endpoint} (the journal's custom_endpoint_ec2)" in out, out
    assert "deleted instance" in out and "deleted key-pair" in out, out


# ---- insecure_skip_tls_verify against a TLS front with a self-signed certificate ----------
class TlsFront:
    """https://127.0.0.1:PORT in front of the lab's proxy, with a certificate no CA signed."""

    def __init__(self, upstream: str, tmp_path):
        cert, key = self._self_signed(tmp_path)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.upstream = (urlsplit(upstream).hostname, urlsplit(upstream).port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"https://127.0.0.1:{self.listener.getsockname()[1]}"
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _self_signed(tmp_path):
        """A day's certificate for 127.0.0.1, made with cryptography (moto's own dependency)."""
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                .sign(key, hashes.SHA256()))
        cert_path, key_path = tmp_path / "front.crt", tmp_path / "front.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1   # the client would not take our certificate
            conn.close()
            return
        with tls, socket.create_connection(self.upstream) as up:
            sel = selectors.DefaultSelector()
            sel.register(tls, selectors.EVENT_READ, up)
            sel.register(up, selectors.EVENT_READ, tls)
            while True:
                for key, _ in sel.select():
                    try:
                        data = key.fileobj.recv(65536)
                    except (ssl.SSLError, OSError):
                        data = b""
                    if not data:
                        return
                    key.data.sendall(data)
                    while isinstance(key.fileobj, ssl.SSLSocket) and key.fileobj.pending():
                        key.data.sendall(key.fileobj.recv(65536))

    def close(self):
        self.listener.close()


@pytest.fixture
def tls_front(lab, tmp_path):
    front = TlsFront(lab.endpoint, tmp_path)
    yield front
    front.close()


def test_self_signed_endpoint_refused_unless_insecure_skip_tls_verify(lab, clean_lab, bakeami,
                                                                     tmp_path, tls_front):
    tpl = template(lab, tmp_path, tls_front.url)
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "certificate" in out, out
    assert tls_front.refused >= 1 and lab.calls() == [], lab.calls()

    tpl = template(lab, tmp_path, tls_front.url, insecure_skip_tls_verify=True)
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "insecure_skip_tls_verify: the EC2 and IAM endpoints' TLS certificates are not " \
           "checked" in out, out
    assert lab.calls(service="ec2").count("RunInstances") == 1, lab.calls()
    keep_images(lab, clean_lab)


# ---- assume_role: the role Packer 1.6.6's session assumes --------------------------------
ROLE = "arn:aws:iam::123456789012:role/template-baker"
ASSUME_ROLE = {"role_arn": ROLE, "session_name": "tpl-bake", "duration_seconds": 900,
               "policy": json.dumps({"Version": "2012-10-17", "Statement": [
                   {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}),
               "policy_arns": ["arn:aws:iam::aws:policy/AmazonEC2FullAccess"],
               "tags": {"Project": "web"}, "transitive_tag_keys": ["Project"]}


def _only_the_role_can_bake(lab):
    """moto's IAM mode: the template's key may assume the role and read (the lab's sshd looks up
    key pairs with it, the leak check lists what is left), but create and delete nothing; the
    role may do what a bake does. The role is made before IAM checks start."""
    iam = lab.client("iam", "us-east-1")
    iam.create_role(RoleName="template-baker", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:user/template-role-user"},
            "Action": ["sts:AssumeRole", "sts:TagSession"]}]}))
    iam.put_role_policy(RoleName="template-baker", PolicyName="bake", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}))
    key, _ = lab.enable_iam_auth(actions=("sts:AssumeRole", "ec2:Describe*", "s3:List*", "s3:Get*",
                                          "iam:List*", "iam:Get*"), user="template-role-user")
    return key


def sts_only(lab):
    """STS keeps the environment's endpoint: custom_endpoint_ec2 is EC2's and IAM's."""
    return {**NO_ENDPOINT, "AWS_ENDPOINT_URL_STS": lab.endpoint}


def test_assume_role_block_is_assumed_for_every_call(lab, clean_lab, bakeami, tmp_path):
    key = _only_the_role_can_bake(lab)
    tpl = template(lab, tmp_path, lab.endpoint, assume_role=ASSUME_ROLE)
    r = bakeami.run(["bake", tpl], env_extra=sts_only(lab))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assumed = lab.requests(action="AssumeRole")
    assert assumed and all(c.status == 200 and _signed_by(c) == key for c in assumed), assumed
    want = {"RoleArn": ROLE, "RoleSessionName": "tpl-bake", "DurationSeconds": "900",
            "Policy": ASSUME_ROLE["policy"],
            "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/AmazonEC2FullAccess",
            "Tags.member.1.Key": "Project", "Tags.member.1.Value": "web",
            "TransitiveTagKeys.member.1": "Project"}
    assert {k: assumed[0].params.get(k) for k in want} == want, assumed[0].params
    ec2 = lab.requests(service="ec2")
    assert ec2 and all(_token(c) and _signed_by(c) != key for c in ec2), \
        [(c.action, _signed_by(c)) for c in ec2]
    keep_images(lab, clean_lab)


def test_cleanup_from_the_journal_assumes_the_templates_role(lab, clean_lab, bakeami, tmp_path):
    """Killed while CreateImage is held; the template's key alone may not delete anything, so
    `bakeami cleanup --journal` succeeds only by assuming the role the journal names."""
    _only_the_role_can_bake(lab)
    journal = tmp_path / "j.jsonl"
    tpl = template(lab, tmp_path, lab.endpoint, assume_role=ASSUME_ROLE)
    _kill_while_held(lab, bakeami, tpl, journal, "CreateImage", sts_only(lab))
    access = json.loads(journal.read_text().splitlines()[1])
    assert access["event"] == "access" and access["role_arn"] == ROLE, access

    r = bakeami.run(["cleanup", "--journal", str(journal)], env_extra=sts_only(lab))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"assuming the journal's role {ROLE} (the template's assume_role)" in out, out
    assert "deleted instance" in out and "deleted key-pair" in out, out


# ---- tag blocks and ssh_wait_timeout, Packer 1.6.6's other spellings ---------------------
def _instances(lab):
    """Every instance moto knows (terminated ones too): id -> its tags."""
    res = lab.ec2().describe_instances()["Reservations"]
    return {i["InstanceId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            for r in res for i in r["Instances"]}


def _images(lab):
    """The account's images: id -> its tags."""
    return {i["ImageId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])}
            for i in lab.ec2().describe_images(Owners=["self"])["Images"]}


@pytest.mark.keeps_images
def test_tag_blocks_add_to_the_tag_maps_as_in_packer(lab, clean_lab, bakeami, tmp_path):
    """tag and run_tag in JSON (a list, or one object) beside tags and run_tags: a block's
    value wins over the map's, as Packer's CopyOn writes it over; both tools tag alike."""
    tpl = template(lab, tmp_path, lab.endpoint, tags={"Name": "blocks", "Team": "map"},
                   tag=[{"key": "Team", "value": "block"}, {"key": "Tier", "value": "web"}],
                   run_tags={"Purpose": "map"}, run_tag={"key": "Owner", "value": "ops"})
    got = {}
    for tool in ("packer", "bakeami"):
        before = _instances(lab), _images(lab)
        if tool == "packer":
            r = packer_build(lab, tmp_path, tpl)
        else:
            r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
        assert r.returncode == 0, r.stdout + r.stderr
        (instance,), (image,) = (list(now.keys() - then.keys()) for now, then in
                                 zip((_instances(lab), _images(lab)), before))
        got[tool] = ({k: v for k, v in _images(lab)[image].items() if k in ("Name", "Team", "Tier")},
                     {k: v for k, v in _instances(lab)[instance].items() if k in ("Purpose", "Owner")})
    want = ({"Name": "blocks", "Team": "block", "Tier": "web"}, {"Purpose": "map", "Owner": "ops"})
    assert got["packer"] == want, got
    assert got["bakeami"] == want, got


def test_ssh_wait_timeout_wins_over_ssh_timeout(lab, clean_lab, bakeami, tmp_path):
    """Packer 1.6.6's old name still counts, and over the new one (measured: Packer gave up
    after 4 s with ssh_wait_timeout 4s and ssh_timeout 60s against a closed port)."""
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    tpl = template(lab, tmp_path, lab.endpoint, ssh_port=port, ssh_timeout="5m",
                   ssh_wait_timeout="2s")
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT, timeout=90)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "ssh_timeout (2s) passed" in out, out


def test_shared_credentials_file_holds_the_profile(lab, clean_lab, bakeami, tmp_path):
    """No keys in the environment or the template: the profile is read from the template's
    shared_credentials_file (next to it), not from AWS_SHARED_CREDENTIALS_FILE's (empty)."""
    key, secret = lab._creds
    (tmp_path / "bake-credentials").write_text(
        f"[bake]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    tpl = template(lab, tmp_path, lab.endpoint, profile="bake",
                   shared_credentials_file="bake-credentials")
    tpl_json = json.loads(open(tpl).read())
    for k in ("access_key", "secret_key"):
        del tpl_json["builders"][0][k]
    open(tpl, "w").write(json.dumps(tpl_json))
    r = bakeami.run(["bake", tpl], env_extra={**NO_ENDPOINT, "AWS_ACCESS_KEY_ID": None,
                                              "AWS_SECRET_ACCESS_KEY": None})
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "AWS credentials from profile bake" in out, out
    keep_images(lab, clean_lab)


def test_pause_before_connecting_connects_waits_and_connects_again(lab, clean_lab, bakeami,
                                                                  tmp_path):
    """Packer's StepConnect: the connection is made, the pause waited out, and the connection
    made again (to the same host key) before the first provisioner runs."""
    tpl = template(lab, tmp_path, lab.endpoint, pause_before_connecting="2s")
    r = bakeami.run(["bake", "--log-format", "json", tpl], env_extra=NO_ENDPOINT)
    assert r.returncode == 0, r.stdout + r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    def at(text):
        return [e["t"] for e in events if text in e.get("text", "")]
    connected, paused = at("connected to "), at("pausing 2s before connecting")
    assert len(connected) == 2 and len(paused) == 1 and at("reconnecting to"), \
        [e["text"] for e in events]
    assert connected[0] <= paused[0] and connected[1] - paused[0] >= 2.0, (connected, paused)
    assert at("provisioners[0] (shell)")[0] >= connected[1]
    keep_images(lab, clean_lab)


def test_ssh_ciphers_and_key_exchanges_are_the_only_ones_offered(lab, clean_lab, bakeami,
                                                                 tmp_path):
    """A cipher sshd takes: the bake runs, the names libssh2 lacks left out with a warning. A
    key exchange only that OpenSSH 9 no longer accepts (diffie-hellman-group1-sha1): no
    handshake, so nothing else was offered."""
    tpl = template(lab, tmp_path, lab.endpoint, ssh_ciphers=["aes128-gcm@openssh.com", "aes256-ctr"],
                   ssh_key_exchange_algorithms=["curve25519-sha256"])
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert '"aes128-gcm@openssh.com" is left out: libssh2 does not offer it' in out, out
    keep_images(lab, clean_lab)

    tpl = template(lab, tmp_path, lab.endpoint, ssh_timeout="3s",
                   ssh_key_exchange_algorithms=["diffie-hellman-group1-sha1"])
    r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT, timeout=90)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "SSH handshake failed: Unable to exchange encryption keys; sshd and the bake have " \
           "no key exchange or cipher in common" in out, out


def test_ssh_pty_gives_the_provisioners_a_terminal(lab, clean_lab, bakeami, tmp_path):
    """sudoers' requiretty (old RHEL and CentOS images have it): without ssh_pty a provisioner's
    sudo fails; with it the provisioners' commands run in a terminal (stderr on stdout, as
    there), and so does the removal of the temporary key, whose sudo then works too."""
    steps = [{"type": "shell", "inline": ["sudo -n true && echo sudo-ok", "tty",
                                          "echo to-stderr >&2"]}]
    SUDO_ASKS.write_text(f"Defaults:{SSH_USER} requiretty\n")
    os.chmod(SUDO_ASKS, 0o440)
    try:
        r = bakeami.run(["bake", template(lab, tmp_path, lab.endpoint, steps)],
                        env_extra=NO_ENDPOINT)
        out = r.stdout + r.stderr
        assert r.returncode == 1 and "you must have a tty to run sudo" in out, out

        r = bakeami.run(["bake", "--log-format", "json",
                         template(lab, tmp_path, lab.endpoint, steps, ssh_pty=True)],
                        env_extra=NO_ENDPOINT)
        assert r.returncode == 0, r.stdout + r.stderr
        events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        output = [(e.get("stream"), e["text"]) for e in events if e.get("kind") == "output"]
        texts = [t for _, t in output]
        assert any(t.startswith("/dev/pts/") for t in texts) and "sudo-ok" in texts, output
        assert ("stdout", "to-stderr") in output, output
        assert any("temporary key removed from authorized_keys" in e.get("text", "")
                   for e in events), [e.get("text") for e in events]
    finally:
        SUDO_ASKS.unlink(missing_ok=True)
    keep_images(lab, clean_lab)


@pytest.mark.keeps_images
def test_temporary_key_pair_name_names_the_key_pair_as_in_packer(lab, clean_lab, bakeami, tmp_path):
    tpl = template(lab, tmp_path, lab.endpoint, temporary_key_pair_name="build-key-{{timestamp}}")
    names = {}
    for tool in ("packer", "bakeami"):
        lab.reset_calls()
        r = packer_build(lab, tmp_path, tpl) if tool == "packer" else \
            bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
        assert r.returncode == 0, r.stdout + r.stderr
        made = [c for c in lab.requests(service="ec2") if c.action in ("CreateKeyPair", "ImportKeyPair")]
        deleted = lab.requests(service="ec2", action="DeleteKeyPair")
        assert len(made) == 1 and [c.params["KeyName"] for c in deleted] == [made[0].params["KeyName"]]
        names[tool] = made[0].params["KeyName"]
    assert all(n.startswith("build-key-") and n[10:].isdigit() for n in names.values()), names
    assert lab.ec2().describe_key_pairs()["KeyPairs"] == []


def test_a_fixed_key_pair_name_in_use_fails_and_leaves_the_other(lab, clean_lab, bakeami, tmp_path):
    """Another bake's key pair of that name (its run's tag, its key) is neither adopted nor
    deleted: this bake fails before launching, and the other keeps its key pair."""
    ec2 = lab.ec2()
    other = ec2.create_key_pair(KeyName="shared-key", TagSpecifications=[{
        "ResourceType": "key-pair", "Tags": [{"Key": "bakeami:run-id", "Value": "bk-other0000"}]}])
    try:
        tpl = template(lab, tmp_path, lab.endpoint, temporary_key_pair_name="shared-key")
        r = bakeami.run(["bake", tpl], env_extra=NO_ENDPOINT)
        out = r.stdout + r.stderr
        assert r.returncode == 1, out
        assert "RunInstances" not in lab.calls(service="ec2"), lab.calls()
        left = ec2.describe_key_pairs()["KeyPairs"]
        assert [k["KeyPairId"] for k in left] == [other["KeyPairId"]], (left, out)
    finally:
        ec2.delete_key_pair(KeyName="shared-key")


def test_cleanup_journal_leaves_a_foreign_key_pair_of_the_fixed_name(lab, clean_lab, bakeami,
                                                                     tmp_path):
    """Killed while its ImportKeyPair was held (it never reached EC2); meanwhile another run
    made a key pair of that fixed name. cleanup --journal looks for the intent's key pair by
    this run's tag (reap.c, find_tagged), so the other run's is left alone."""
    journal = tmp_path / "j.jsonl"
    tpl = template(lab, tmp_path, lab.endpoint, temporary_key_pair_name="fixed-key")
    _kill_while_held(lab, bakeami, tpl, journal, "ImportKeyPair", NO_ENDPOINT)
    ec2 = lab.ec2()
    other = ec2.create_key_pair(KeyName="fixed-key", TagSpecifications=[{
        "ResourceType": "key-pair", "Tags": [{"Key": "bakeami:run-id", "Value": "bk-other0000"}]}])
    try:
        r = bakeami.run(["cleanup", "--journal", str(journal)], env_extra=NO_ENDPOINT)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        left = ec2.describe_key_pairs()["KeyPairs"]
        assert [k["KeyPairId"] for k in left] == [other["KeyPairId"]], (left, out)
    finally:
        ec2.delete_key_pair(KeyName="fixed-key")


def _own(lab, region):
    """The account's images in region (id -> name) and its snapshots."""
    ec2 = lab.ec2(region)
    images = {i["ImageId"]: i["Name"] for i in ec2.describe_images(Owners=["self"])["Images"]}
    snaps = {s["SnapshotId"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    return images, snaps


def test_skip_save_build_region_keeps_only_the_copies_as_packer(lab, clean_lab, bakeami, tmp_path):
    """Packer 1.6.6 copies the image to ami_regions, then deregisters it in the build region and
    deletes its snapshots; bakeami leaves the same images behind, and its result, summary and
    the AMI a caller gets (bakeami_bake_ami) name the copy (Packer's artifact still lists the
    deleted build-region image)."""
    west = "us-west-2"
    tpl = template(lab, tmp_path, lab.endpoint, skip_save_build_region=True, ami_regions=[west],
                   ami_name="skip {{timestamp}} {{uuid}}", tags={"Name": "skip-save"})
    kept = {}
    for tool in ("packer", "bakeami"):
        (east_before, east_snaps), (west_before, _) = _own(lab, lab.region), _own(lab, west)
        lab.reset_calls()
        result = tmp_path / "result.json"
        r = packer_build(lab, tmp_path, tpl) if tool == "packer" else bakeami.run(
            ["bake", "--result", str(result), tpl], env_extra=NO_ENDPOINT)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out
        (east, snaps), (west_now, _) = _own(lab, lab.region), _own(lab, west)
        assert east == east_before and snaps == east_snaps, (tool, out)
        (copy,) = west_now.keys() - west_before.keys()
        assert west_now[copy].startswith("skip "), (tool, west_now)
        made = [c.params.get("Name") for c in lab.requests(service="ec2", action="CreateImage")]
        assert len(made) == 1 and lab.calls(service="ec2").count("DeregisterImage") == 1, (tool, made)
        kept[tool] = copy
        if tool == "bakeami":
            res = json.loads(result.read_text())
            assert res["amis"] == {west: copy}, res
            assert "the copies' source, is deregistered at cleanup" in out, out
            assert f"AMI {west}: {copy}" in r.stdout, out
            # the build region's image had the template's name (Packer's: 7 random characters)
            assert made[0] == west_now[copy], made
    clean_lab.keep_images(kept.values())


def test_skip_save_build_region_keeps_the_tested_image_when_the_copy_fails(lab, clean_lab, bakeami,
                                                                          tmp_path):
    """A failed promotion never costs the tested image, skip_save_build_region or not: the copy
    is rolled back, the image stays in the build region (Packer deletes it) and the bake says how
    to promote it again."""
    tpl = template(lab, tmp_path, lab.endpoint, skip_save_build_region=True,
                   ami_regions=["us-west-2"])
    lab.inject("CopyImage", kind="error", status=400, code="InvalidParameterValue",
               message="the copy is refused", count=None)
    result = tmp_path / "result.json"
    r = bakeami.run(["bake", "--result", str(result), tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    res = json.loads(result.read_text())
    image = res["amis"][lab.region]
    assert list(res["amis"]) == [lab.region], res
    assert f"retry the promotion with: bakeami promote --ami {image}" in out, out
    assert image in _own(lab, lab.region)[0], out
    assert not _own(lab, "us-west-2")[0], out
    clean_lab.keep_images([image])


def test_skip_save_build_region_refuses_reuse_from_the_command_line(lab, clean_lab, bakeami,
                                                                    tmp_path):
    """--reuse is known only when the bake starts: refused then, before any AWS call."""
    tpl = template(lab, tmp_path, lab.endpoint, skip_save_build_region=True,
                   ami_regions=["us-west-2"])
    r = bakeami.run(["bake", "--reuse", tpl], env_extra=NO_ENDPOINT)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert "skip_save_build_region: reuse looks for a tested image in the build region" in out, out
    assert lab.calls() == [], lab.calls()


def _mappings(params):
    """RunInstances' BlockDeviceMapping.N.* as {device: {field: value}}."""
    by_n = {}
    for key, value in params.items():
        parts = key.split(".")
        if parts[0] == "BlockDeviceMapping" and len(parts) >= 3:
            by_n.setdefault(parts[1], {})[".".join(parts[2:])] = value
    return {m.pop("DeviceName"): m for m in by_n.values()}


@pytest.mark.keeps_images
def test_no_ephemeral_maps_xvdca_to_xvdcz_to_no_device_as_packer(lab, clean_lab, bakeami, tmp_path):
    """no_ephemeral adds xvdca-xvdcz, mapped to no device, to the launch's mappings, as Packer's
    StepRunSourceInstance; a device the template maps keeps its own mapping."""
    tpl = template(lab, tmp_path, lab.endpoint, no_ephemeral=True, launch_block_device_mappings=[
        {"device_name": "/dev/xvda", "volume_size": 9, "delete_on_termination": True}])
    sent = {}
    for tool in ("packer", "bakeami"):
        lab.reset_calls()
        r = packer_build(lab, tmp_path, tpl) if tool == "packer" else bakeami.run(
            ["bake", tpl], env_extra=NO_ENDPOINT)
        assert r.returncode == 0, r.stdout + r.stderr
        sent[tool] = _mappings(launch_params(lab))
    hidden = {f"xvdc{c}" for c in "abcdefghijklmnopqrstuvwxyz"}
    for tool, maps in sent.items():
        assert {d for d, m in maps.items() if "NoDevice" in m} == hidden, (tool, maps)
        assert maps["/dev/xvda"].get("Ebs.VolumeSize") == "9", (tool, maps)
    assert {d: m.get("NoDevice") for d, m in sent["bakeami"].items()} == \
        {d: m.get("NoDevice") for d, m in sent["packer"].items()}, sent
