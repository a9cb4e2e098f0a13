"""Bakes through a bastion (issue 11, item 5): a second OpenSSH sshd on loopback plays the
bastion, with its own config, host key and pid file in the test's folder, `PermitOpen` limited
to the lab's sshd (the stand-in instance) so no tunnel can go anywhere else, and LogLevel
DEBUG1 so its log records every direct-tcpip open.

The lab maps the instance's address to loopback with ssh_host=127.0.0.1 (moto's 10.x private
addresses are never dialled): the bastion's target is that address and the lab's port.

- a full bake through it: shell provisioners, an ansible provisioner (on the agent) and the
  test stage (native checks and Serverspec); the bastion's log shows one direct-tcpip open per
  connection the lab's sshd accepted meanwhile, so no connection went around it;
- the bastion's host key checked against ~/.ssh/known_hosts (Packer checks none) or pinned;
  a wrong pin and a refused login fail naming the bastion hop, leaving nothing in moto;
- ssh_agent_auth and ssh_bastion_agent_auth with a real ssh-agent started by the test (no
  temporary key pair: ssh_keypair_name names one the test imported), and the clear error when
  SSH_AUTH_SOCK is unset, before any AWS call.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import signal
import socket
import tempfile
import threading

import pytest

from lab import SSH_USER, sshd_config
from plain_sshd import free_port, require_root_and_sshd, wait_listening

DIRECT = re.compile(r"server_request_direct_tcpip: originator 127\.0\.0\.1 port \d+, "
                    r"target (\S+) port (\d+)")


class Bastion:
    """sshd on 127.0.0.1:port; logs in SSH_USER with the keys in self.keys (root-owned, read
    by AuthorizedKeysCommand as root, so a folder of root's works)."""

    def __init__(self, work, target_port, also=()):
        require_root_and_sshd()
        work.mkdir(exist_ok=True)
        self.dir = work
        self.host_key = work / "bastion_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bakeami-bastion",
                        "-f", str(self.host_key)], check=True)
        self.keys = work / "bastion_authorized_keys"
        self.keys.write_text("")
        self.log = work / "bastion.log"
        self.port = free_port()
        config = work / "bastion_sshd_config"
        permit = " ".join(f"127.0.0.1:{p}" for p in (target_port, *also))
        config.write_text(sshd_config(
            "the bastion of a bakeami e2e test (tests/e2e/test_bastion.py)", self.port,
            self.host_key, work / "bastion.pid", SSH_USER, f"/bin/cat {self.keys}",
            "AllowTcpForwarding local", f"PermitOpen {permit}", "PermitTTY no",
            "ForceCommand /bin/false", "LogLevel DEBUG1", "MaxStartups 50"))
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-f", str(config), "-D", "-E",
                                      str(self.log)], stdin=subprocess.DEVNULL)
        wait_listening(self.port, self.proc, "the bastion's sshd", self.log)

    def allow(self, pub_line):
        self.keys.write_text(self.keys.read_text() + pub_line.strip() + "\n")

    def host_key_line(self):
        return self.host_key.with_suffix(".pub").read_text().split()[:2]

    def fingerprint(self):
        out = subprocess.run(["ssh-keygen", "-lf", str(self.host_key) + ".pub"], check=True,
                             capture_output=True, text=True).stdout
        return out.split()[1]

    def opens(self):
        return DIRECT.findall(self.log.read_text(errors="replace"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


@pytest.fixture
def bastion(lab, tmp_path):
    b = Bastion(tmp_path, lab.ssh_port)
    yield b
    b.stop()


def keypair(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path, (path.with_suffix(".pub")).read_text()


@pytest.fixture
def home(tmp_path):
    """The bake's HOME: its ~/.ssh/known_hosts decides on the bastion's key."""
    h = tmp_path / "home"
    (h / ".ssh").mkdir(parents=True)
    return h


def trust(home, bastion):
    kind, key = bastion.host_key_line()
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{bastion.port} {kind} {key}\n")


@pytest.fixture
def target():
    """A folder the lab's user may write, for the provisioners' marks."""
    d = tempfile.mkdtemp(prefix="bakeami-e2e-bastion-")
    pw = pwd.getpwnam(SSH_USER)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def template(tmp_path, bastion, provisioners, tests=None, **builder):
    doc = {
        "variables": {"ssh_host": "127.0.0.1", "ssh_port": "22"},
        "builders": [{
            "type": "amazon-ebs", "name": "bastion-e2e", "region": "us-east-1",
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"},
                                  "owners": ["amazon"], "most_recent": True},
            "instance_type": "t3.micro", "ssh_username": SSH_USER,
            "ssh_host": "{{user `ssh_host`}}", "ssh_port": "{{user `ssh_port`}}",
            "ssh_timeout": "30s", "skip_create_ami": True, "ami_name": "bastion {{timestamp}}",
            "ssh_bastion_host": "127.0.0.1", "ssh_bastion_port": bastion.port,
            "ssh_bastion_username": SSH_USER, **builder}],
        "provisioners": provisioners,
    }
    if tests:
        doc["tests"] = tests
    path = tmp_path / "bastion.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def bake(bakeami, lab, tpl, home, env=None, timeout=180):
    return bakeami.run(["bake", *lab.ssh_vars(), "--result", str(tpl.parent / "result.json"),
                        str(tpl)], env_extra={"HOME": str(home), "TMPDIR": str(home),
                                              **(env or {})}, timeout=timeout)


def accepted_since(lab, offset):
    text = lab._sshd_log.read_text(errors="replace")[offset:]
    return re.findall(r"Accepted publickey for \S+ from 127\.0\.0\.1", text)


def test_full_bake_through_the_bastion(lab, clean_lab, bakeami, tmp_path, bastion, home, target):
    key, pub = keypair(tmp_path / "bastion_key")
    bastion.allow(pub)
    trust(home, bastion)
    playbook = tmp_path / "mark.yml"
    playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n"
                        "        dest: \"{{ target }}/ansible.txt\"\n"
                        "        content: \"ansible through the bastion\\n\"\n")
    tpl = template(tmp_path, bastion, [
        {"type": "shell", "inline": [f"echo shell through the bastion > {target}/shell.txt"]},
        {"type": "shell", "inline": ["echo second provisioner, same session"]},
        {"type": "ansible", "playbook_file": str(playbook),
         "extra_arguments": ["-e", f"target={target}"]},
    ], tests={"checks": [{"file": f"{target}/shell.txt", "contains": "shell through"},
                         {"file": f"{target}/ansible.txt", "contains": "ansible through"}],
              "serverspec": {"dir": str(lab_repo() / "examples" / "serverspec")}},
        ssh_bastion_private_key_file=str(key))
    offset = len(lab._sshd_log.read_text(errors="replace"))
    r = bake(bakeami, lab, tpl, home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert open(f"{target}/shell.txt").read() == "shell through the bastion\n"
    assert open(f"{target}/ansible.txt").read() == "ansible through the bastion\n"
    assert f"tunnel to 127.0.0.1:{lab.ssh_port} through bastion 127.0.0.1:{bastion.port}" in r.stdout
    assert "listed in known_hosts" in r.stdout, r.stdout
    # the instance's group admits SSH from the bastion's side (the VPC), not from the agent
    vpc = lab.ec2().describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"][0]
    assert f"admits tcp/{lab.ssh_port} from {vpc['CidrBlock']}" in r.stdout, r.stdout
    res = json.loads((tpl.parent / "result.json").read_text())
    assert res["tests"]["failed"] == 0 and res["tests"]["passed"] >= 3, res["tests"]
    opens = bastion.opens()
    accepted = accepted_since(lab, offset)
    # the bake's session, Serverspec's and ansible's at least, each through the bastion,
    # to the lab's sshd only; and the lab's sshd took no connection that the bastion did not
    # carry
    assert len(opens) >= 3, opens
    assert set(opens) == {("127.0.0.1", str(lab.ssh_port))}, opens
    assert len(accepted) == len(opens), (accepted, opens)
    # Serverspec's TARGET_HOST/PORT still name the instance; only its socket is the tunnel's
    assert f'Port "{lab.ssh_port}" is expected to be listening' in r.stdout, r.stdout


def accepted_keys(log_text):
    return re.findall(r"Accepted publickey for \S+ from \S+ port \d+ ssh2: \S+ (SHA256:\S+)",
                      log_text)


def fingerprint_of(pub_line):
    out = subprocess.run(["ssh-keygen", "-lf", "-"], input=pub_line, check=True,
                         capture_output=True, text=True).stdout
    return out.split()[1]


def lab_repo():
    from lab import REPO
    return REPO


def test_wrong_bastion_host_key_is_refused_naming_the_hop(lab, clean_lab, bakeami, tmp_path,
                                                         bastion, home):
    key, pub = keypair(tmp_path / "bastion_key")
    bastion.allow(pub)
    other = "SHA256:" + "A" * 43
    tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key),
                   ssh_bastion_host_key_fingerprint=other)
    r = bake(bakeami, lab, tpl, home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"bastion 127.0.0.1:{bastion.port}: host key mismatch: expected {other}, got " \
           f"{bastion.fingerprint()}" in r.stderr, r.stderr
    assert bastion.opens() == []
    # clean_lab: nothing left in moto


def test_bastion_key_not_in_known_hosts_is_refused(lab, clean_lab, bakeami, tmp_path, bastion,
                                                   home):
    key, pub = keypair(tmp_path / "bastion_key")
    bastion.allow(pub)
    tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key))
    r = bake(bakeami, lab, tpl, home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"bastion 127.0.0.1:{bastion.port}: host key {bastion.fingerprint()} of " \
           f"127.0.0.1:{bastion.port} is not in {home}/.ssh/known_hosts" in r.stderr, r.stderr
    assert bastion.opens() == []


def test_refused_bastion_login_fails_naming_the_hop(lab, clean_lab, bakeami, tmp_path, bastion,
                                                    home):
    key, _ = keypair(tmp_path / "not_allowed")
    trust(home, bastion)
    tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key))
    r = bake(bakeami, lab, tpl, home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"bastion 127.0.0.1:{bastion.port}: authentication failed for " \
           f"{SSH_USER}@127.0.0.1:{bastion.port}" in r.stderr, r.stderr
    assert bastion.opens() == []


def test_bastion_refusing_the_channel_is_named(lab, clean_lab, bakeami, tmp_path, bastion, home):
    """PermitOpen allows only the lab's sshd: a template pointing elsewhere (ssh_port of
    nothing) is refused by the bastion, and the error says so."""
    key, pub = keypair(tmp_path / "bastion_key")
    bastion.allow(pub)
    trust(home, bastion)
    tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key), ssh_timeout="3s")
    elsewhere = free_port()
    r = bakeami.run(["bake", "-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={elsewhere}",
                     str(tpl)], env_extra={"HOME": str(home)}, timeout=120)
    assert r.returncode != 0, r.stdout + r.stderr
    assert f"bastion 127.0.0.1:{bastion.port}: refused the channel to 127.0.0.1:{elsewhere}" \
        in r.stderr, r.stderr
    assert "ssh_timeout (3s) passed" in r.stderr, r.stderr


@pytest.fixture
def agent(tmp_path):
    """A real ssh-agent on a socket of the test's, holding one key."""
    sock = tmp_path / "agent.sock"
    proc = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        if sock.exists():
            break
        proc.poll()
        subprocess.run(["sleep", "0.02"])
    key, pub = keypair(tmp_path / "agent_key")
    subprocess.run(["ssh-add", str(key)], env={"SSH_AUTH_SOCK": str(sock)}, check=True,
                   capture_output=True)
    key.unlink()   # only the agent holds it now
    yield sock, pub
    proc.terminate()
    proc.wait(timeout=10)


def test_agent_auth_to_bastion_and_instance(lab, clean_lab, bakeami, tmp_path, bastion, home,
                                           agent, target):
    sock, pub = agent
    bastion.allow(pub)
    trust(home, bastion)
    ec2 = lab.ec2()
    name = f"bakeami-e2e-agent-{os.getpid()}"
    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=pub.encode())
    try:
        playbook = tmp_path / "mark.yml"
        playbook.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n    - copy:\n"
                            "        dest: \"{{ target }}/ansible.txt\"\n"
                            "        content: \"ansible with the agent\\n\"\n")
        tpl = template(tmp_path, bastion, [
            {"type": "shell", "inline": [f"echo agent > {target}/agent.txt"]},
            {"type": "ansible", "playbook_file": str(playbook),
             "extra_arguments": ["-e", f"target={target}"]},
        ], tests={"checks": [{"file": f"{target}/agent.txt", "contains": "agent"}],
                  "serverspec": {"dir": str(lab_repo() / "examples" / "serverspec")}},
            ssh_agent_auth=True, ssh_keypair_name=name, ssh_bastion_agent_auth=True)
        lab.reset_calls()
        offset = len(lab._sshd_log.read_text(errors="replace"))
        r = bake(bakeami, lab, tpl, home, env={"SSH_AUTH_SOCK": str(sock)})
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"using the SSH agent's keys for key pair {name}" in r.stdout, r.stdout
        assert "ImportKeyPair" not in lab.calls(), lab.calls()   # no temporary key pair
        runs = lab.requests("ec2", "RunInstances")
        assert runs and runs[0].params.get("KeyName") == name, runs
        assert open(f"{target}/agent.txt").read() == "agent\n"
        assert open(f"{target}/ansible.txt").read() == "ansible with the agent\n"
        res = json.loads((tpl.parent / "result.json").read_text())
        assert res["tests"]["failed"] == 0 and res["tests"]["passed"] >= 2, res["tests"]
        assert len(bastion.opens()) >= 3, bastion.opens()   # the bake, ansible, Serverspec
        # every login on the instance and on the bastion was the agent's key
        fp = fingerprint_of(pub)
        on_lab = accepted_keys(lab._sshd_log.read_text(errors="replace")[offset:])
        on_bastion = accepted_keys(bastion.log.read_text(errors="replace"))
        assert set(on_lab) == {fp}, (fp, on_lab)
        assert set(on_bastion) == {fp}, (fp, on_bastion)
    finally:
        ec2.delete_key_pair(KeyName=name)


def test_agent_auth_without_ssh_auth_sock_fails_before_aws(lab, clean_lab, bakeami, tmp_path,
                                                           bastion, home):
    trust(home, bastion)
    tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                   ssh_agent_auth=True, ssh_keypair_name="whatever",
                   ssh_bastion_agent_auth=True)
    lab.reset_calls()
    r = bake(bakeami, lab, tpl, home, env={"SSH_AUTH_SOCK": None})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "ssh_agent_auth" in r.stderr and "SSH_AUTH_SOCK is not set" in r.stderr, r.stderr
    assert lab.calls() == []


class BlackHole:
    """A TCP listener on 127.0.0.1 that accepts and never says a word: an SSH server that
    hangs in the handshake."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)
            self.accepted.set()

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


@pytest.fixture
def hole():
    h = BlackHole()
    yield h
    h.close()


def test_ssh_timeout_covers_the_bastion_hop(lab, clean_lab, bakeami, tmp_path, hole, home):
    """A bastion that never finishes its handshake: ssh_timeout ends the wait, naming it."""
    key, _ = keypair(tmp_path / "bastion_key")
    tpl = template(tmp_path, hole, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key), ssh_timeout="3s",
                   ssh_bastion_host_key_fingerprint="SHA256:" + "A" * 43)
    r = bake(bakeami, lab, tpl, home)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"ssh_timeout (3s) passed: bastion 127.0.0.1:{hole.port}: timed out after 3s " \
           f"waiting for SSH on 127.0.0.1:{hole.port}: SSH handshake timed out" in r.stderr, \
        r.stderr


def cancel_when(bakeami, lab, tpl, home, event):
    proc = bakeami.start(["bake", *lab.ssh_vars(), str(tpl)], env_extra={"HOME": str(home)})
    assert event.wait(60), "the bake never reached the hop"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_cancel_while_the_bastion_connects(lab, clean_lab, bakeami, tmp_path, hole, home):
    key, _ = keypair(tmp_path / "bastion_key")
    tpl = template(tmp_path, hole, [{"type": "shell", "inline": ["true"]}],
                   ssh_bastion_private_key_file=str(key), ssh_timeout="5m",
                   ssh_bastion_host_key_fingerprint="SHA256:" + "A" * 43)
    rc, out, err = cancel_when(bakeami, lab, tpl, home, hole.accepted)
    assert rc == 130, out + err
    assert "cancelled during ssh" in err, err
    assert "tunnel to" not in out   # the first hop never finished
    # clean_lab: the instance launched before the hop is gone


def test_cancel_while_the_instance_connects_through_the_bastion(lab, clean_lab, bakeami,
                                                                tmp_path, hole, home):
    """The bastion is up and lets the channel through to a port that hangs in the handshake:
    the cancel ends the second hop's wait."""
    bastion = Bastion(tmp_path / "b", lab.ssh_port, also=(hole.port,))
    try:
        key, pub = keypair(tmp_path / "bastion_key")
        bastion.allow(pub)
        trust(home, bastion)
        tpl = template(tmp_path, bastion, [{"type": "shell", "inline": ["true"]}],
                       ssh_bastion_private_key_file=str(key), ssh_timeout="5m")
        proc = bakeami.start(["bake", "-var", "ssh_host=127.0.0.1", "-var",
                              f"ssh_port={hole.port}", str(tpl)], env_extra={"HOME": str(home)})
        assert hole.accepted.wait(60), "the bastion never opened the channel"
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, out + err
        assert "cancelled during ssh" in err, err
        assert f"tunnel to 127.0.0.1:{hole.port} through bastion 127.0.0.1:{bastion.port}" in out
        assert bastion.opens() == [("127.0.0.1", str(hole.port))]
    finally:
        bastion.stop()
