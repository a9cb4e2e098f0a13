"""The SSH layer (native/src/ssh) and the shell/file/shell-local
provisioners (native/src/provision), for real, against a throwaway OpenSSH
sshd on 127.0.0.1 and a free high port.

tests/e2e/ssh_probe.c drives the library and prints one event per line,
flushed at once (see its header); these tests read the events.
Needs root (sshd, a test user); nothing leaves loopback.
"""
import json
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import plain_sshd
from conftest import probe_binary
from plain_sshd import Sshd, free_port, sh

ROOT = pathlib.Path(__file__).resolve().parents[2]
USER = "bakeami-ssh-test"


# The fixtures work (a 0755 temp folder), user (USER, login shell /bin/sh,
# passwordless sudo) and sshd (a plain sshd that lets USER in).
work, user, sshd = plain_sshd.fixtures(user=USER, shell="/bin/sh", work_prefix="bakeami-ssh-e2e-")


# ---- helpers ------------------------------------------------------------

# Drops the SSH connection from the server side: walks up from the script's
# own process (through /proc/PID/stat parents) to the sshd process serving
# this session (sshd-session on OpenSSH 9.8+) and kills it. Killing $PPID
# instead would depend on how many shells stand in between (whether a shell
# execs its last command), and could kill only a wrapper shell.
DROP_SESSION = [
    "p=$$",
    "while c=$(cat /proc/$p/comm) && [ \"$c\" != sshd ] && [ \"$c\" != sshd-session ]; do",
    "  s=$(cat /proc/$p/stat); s=${s##*\") \"}; set -- $s; p=$2",   # fields after ") ": state ppid
    "  [ \"$p\" -gt 1 ] || { echo 'no sshd above this script' >&2; exit 99; }",
    "done",
    "kill -9 \"$p\"",
]


class Result:
    """The probe's events: "KIND rest..." lines."""

    def __init__(self, stdout, stderr, returncode, elapsed):
        self.stdout, self.stderr, self.returncode, self.elapsed = stdout, stderr, returncode, elapsed
        self.events = [line.split(" ", 1) + [""] for line in stdout.splitlines() if line]

    def rest(self, kind):
        return [e[1] for e in self.events if e[0] == kind]

    def text(self, kind):
        """OUT/ERR lines without their timestamps."""
        return [(r.split(" ", 1) + [""])[1] for r in self.rest(kind)]

    def connect(self):
        rc, _, msg = self.rest("CONNECT")[0].partition(" ")
        return int(rc), msg

    def rcs(self):
        """[(step, rc, message)] for each step."""
        out = []
        for r in self.rest("RC"):
            step, rc, msg = (r.split(" ", 2) + ["", ""])[:3]
            out.append((step, int(rc), msg))
        return out

    def logs(self, level=None):
        return [r.split(" ", 1)[1] for r in self.rest("LOG") if level is None or r.startswith(level + " ")]

    def __repr__(self):
        return f"<probe rc={self.returncode} {self.elapsed:.2f}s\n{self.stdout}\n{self.stderr}>"


# ---- fixtures -----------------------------------------------------------

@pytest.fixture(scope="module")
def probe():
    return probe_binary("ssh_probe")


@pytest.fixture(scope="module")
def key(work, probe, sshd):
    """A test key file: ssh_probe keygen's output, installed for the user."""
    out = sh(f"{probe} keygen e2e-test").stdout
    pub = out.splitlines()[0].split(" ", 1)[1]
    path = work / "id_test"
    path.write_text(out.split("\n", 2)[2])
    path.chmod(0o600)
    sshd.authorize(pub)
    return path


@pytest.fixture
def remote(work, user):
    """A fresh folder the test user owns; it is the "remote" file system."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="remote-", dir=work))
    d.chmod(0o755)
    os.chown(d, user.pw_uid, user.pw_gid)
    return d


def run(probe, sshd, *steps, key=None, opts=(), timeout=60, port=None, input_text=None):
    args = [str(probe)] + (["--key", str(key)] if key else []) + list(opts)
    args += ["127.0.0.1", str(port or sshd.port), USER] + list(steps)
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, input=input_text)
    return Result(p.stdout, p.stderr, p.returncode, time.monotonic() - t0)


# ---- connecting ---------------------------------------------------------

def test_generated_key_connects_and_host_key_is_tofu_logged(probe, sshd):
    """The in-memory key: the probe prints the public line, the test
    installs it (as cloud-init would), then the probe connects."""
    p = subprocess.Popen([str(probe), "--genkey", "bakeami-e2e", "127.0.0.1", str(sshd.port),
                          USER, "exec", "echo hello from $(id -un)"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = p.stdout.readline().split(" ", 1)
    assert first[0] == "PUBKEY" and first[1].startswith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")
    assert first[1].rstrip().endswith(" bakeami-e2e")
    with open(sshd.authorized_keys, "a") as f:
        f.write(first[1])
    out, _ = p.communicate("go\n", timeout=30)
    r = Result(out, "", p.returncode, 0)
    assert r.connect() == (0, ""), r
    assert r.rest("FP") == [sshd.fingerprint()]
    assert f"host key {sshd.fingerprint()} (trusted on first use)" in r.logs("INFO")
    assert r.text("OUT") == [f"hello from {USER}"]


def test_pinned_host_key_matches(probe, sshd, key):
    r = run(probe, sshd, "exec", "true", key=key, opts=["--pin", sshd.fingerprint()])
    assert r.connect() == (0, ""), r
    assert f"host key {sshd.fingerprint()} (matches the pinned key)" in r.logs("INFO")


def test_pin_mismatch_fails_at_once(probe, sshd, key):
    wrong = "SHA256:" + "A" * 43
    r = run(probe, sshd, "exec", "true", key=key, opts=["--pin", wrong, "--timeout", "30"])
    rc, msg = r.connect()
    assert rc == -4, r       # BAKEAMI_ESSH
    assert f"host key mismatch: expected {wrong}, got {sshd.fingerprint()}" in msg
    assert r.elapsed < 5, "a mismatch must not be retried"


def test_connection_refused_is_retried_until_the_deadline(probe, sshd, key):
    port = free_port()
    r = run(probe, sshd, "exec", "true", key=key, port=port, opts=["--timeout", "2"])
    rc, msg = r.connect()
    assert rc == -5, r       # BAKEAMI_ETIMEOUT
    assert msg == f"timed out after 2s waiting for SSH on 127.0.0.1:{port}: connection refused"
    infos = r.logs("INFO")
    assert f"waiting for SSH on 127.0.0.1:{port} (attempt 1: connection refused)" in infos
    attempts = [l for l in r.logs() if "waiting for SSH" in l]
    assert len(attempts) >= 3, r                 # 0.5s rising intervals
    assert len([l for l in infos if "waiting for SSH" in l]) == 1   # INFO at most every 5s
    assert 1.8 < r.elapsed < 5, r


def test_connect_succeeds_once_sshd_comes_up(probe, sshd, key, work):
    port = free_port()
    p = subprocess.Popen([str(probe), "--key", str(key), "--timeout", "20", "127.0.0.1",
                          str(port), USER, "exec", "echo up"], stdout=subprocess.PIPE, text=True)
    # sshd comes up once the probe has been refused twice (read from its
    # events, not guessed from a sleep: a slow start must not change the test).
    before, refused = [], 0
    for line in p.stdout:
        before.append(line)
        refused += "connection refused" in line
        if refused >= 2:
            break
    late = Sshd(work, port, USER)
    try:
        out, _ = p.communicate(timeout=30)
    finally:
        late.stop()
    r = Result("".join(before) + out, "", p.returncode, 0)
    assert r.connect() == (0, ""), r
    assert r.text("OUT") == ["up"]
    assert len([l for l in r.logs() if "connection refused" in l]) >= 2, r


def test_auth_failure_is_retried_then_named(probe, sshd):
    r = run(probe, sshd, "exec", "true", opts=["--genkey", "not-installed", "--timeout", "2"],
            input_text="go\n")
    rc, msg = r.connect()
    assert rc == -4, r
    assert msg.startswith(f"authentication failed for {USER}@127.0.0.1:{sshd.port}"), msg
    assert len([l for l in r.logs() if "authentication failed" in l]) >= 2, r


def test_generated_private_key_works_for_openssh_and_net_ssh(sshd, key):
    """bk_ssh_key_private_pem is what Serverspec gets as TARGET_KEY."""
    ssh = sh(f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no "
             f"-o UserKnownHostsFile=/dev/null -p {sshd.port} {USER}@127.0.0.1 echo openssh-ok")
    assert ssh.stdout.strip() == "openssh-ok"
    if subprocess.run(["ruby", "-e", "require 'net/ssh'"], capture_output=True).returncode:
        pytest.fail("ruby net-ssh is not installed (tests/deps.sh installs ruby-serverspec)")
    script = ("require 'net/ssh'; Net::SSH.start('127.0.0.1', ARGV[0], port: ARGV[1].to_i, "
              "keys: [ARGV[2]], keys_only: true, verify_host_key: :never, non_interactive: true) "
              "{ |s| print s.exec!('echo net-ssh-ok') }")
    ruby = subprocess.run(["ruby", "-e", script, USER, str(sshd.port), str(key)],
                          capture_output=True, text=True, timeout=30)
    assert ruby.stdout.strip() == "net-ssh-ok", ruby.stderr


def test_user_key_files(probe, sshd, work):
    """bk_ssh_key_load: OpenSSH and PEM files; the public line it derives is
    the one the server must accept."""
    kdir = work / "userkeys"
    kdir.mkdir()
    sh(f"ssh-keygen -q -t ecdsa -N '' -f {kdir}/ecdsa")
    sh(f"ssh-keygen -q -t ecdsa -m PEM -N '' -f {kdir}/ecdsa_pem")
    sh(f"openssl genpkey -algorithm ed25519 -out {kdir}/ed25519_pkcs8")
    sh(f"ssh-keygen -q -t rsa -b 2048 -N '' -f {kdir}/rsa")
    for name in ("ecdsa", "ecdsa_pem", "ed25519_pkcs8", "rsa"):
        pub = sh(f"{probe} pubkey {kdir / name}").stdout.splitlines()[0].split(" ", 1)[1]
        if name in ("ecdsa", "rsa"):
            assert pub == " ".join((kdir / f"{name}.pub").read_text().split()[:2])
        with open(sshd.authorized_keys, "a") as f:
            f.write(pub + "\n")
    for name in ("ecdsa", "ecdsa_pem", "ed25519_pkcs8"):
        r = run(probe, sshd, "exec", "echo ok", key=kdir / name)
        assert r.connect() == (0, "") and r.text("OUT") == ["ok"], (name, r)
    # libssh2 1.10 signs RSA with SHA-1 only; OpenSSH 8.8+ refuses that.
    # 3 s: under load a 1 s deadline can pass before the first auth attempt ends.
    r = run(probe, sshd, "exec", "true", key=kdir / "rsa", opts=["--timeout", "3"])
    rc, msg = r.connect()
    if rc != 0:
        assert "use an ed25519 or ECDSA key" in msg, msg
    r = subprocess.run([str(probe), "pubkey", str(work / "nope")], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout.startswith(f"KEY {work}/nope: "), r.stdout


# ---- exec ---------------------------------------------------------------

def release(fifo, within=10):
    """Write a line to fifo once its reader has opened it (fail, never hang,
    if no reader comes)."""
    deadline = time.monotonic() + within
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError:                      # ENXIO: no reader yet
            assert time.monotonic() < deadline, f"nothing read {fifo}"
            time.sleep(0.02)
    try:
        os.write(fd, b"go\n")
    finally:
        os.close(fd)


def test_output_is_streamed_live(probe, sshd, key, work):
    """The first line reaches us while the command still waits: the command
    prints "second" only after this test, having read "first", released it
    (a line on a FIFO) a second later, so the order does not rest on timing."""
    gate = work / f"gate-{os.getpid()}"
    os.mkfifo(gate)
    gate.chmod(0o666)
    p = subprocess.Popen([str(probe), "--key", str(key), "127.0.0.1", str(sshd.port), USER,
                          "exec", f"echo first; read x < {gate}; echo second"],
                         stdout=subprocess.PIPE, text=True)
    seen = {}
    try:
        for line in p.stdout:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "OUT":
                seen[rest.split(" ", 1)[1]] = (time.monotonic(), float(rest.split(" ", 1)[0]))
                if rest.endswith(" first"):
                    time.sleep(1)
                    release(gate)
            elif kind == "EXIT":
                seen["EXIT"] = (time.monotonic(), 0)
        p.wait(10)
    finally:
        gate.unlink()
    assert set(seen) == {"first", "second", "EXIT"}, seen
    assert seen["second"][0] - seen["first"][0] > 0.8   # arrival in this process
    assert seen["second"][1] - seen["first"][1] > 0.8   # the driver's own clock
    assert seen["EXIT"][0] - seen["first"][0] > 0.8


def test_stdout_stderr_and_exit_status(probe, sshd, key):
    r = run(probe, sshd, "exec", "echo out1; echo err1 >&2; echo; echo out2; printf tail; exit 3",
            key=key)
    assert r.text("OUT") == ["out1", "", "out2", "tail"], r
    assert r.text("ERR") == ["err1"]
    assert r.rest("EXIT") == ["3 0"]


def test_killed_by_signal_reports_128_plus_n(probe, sshd, key):
    r = run(probe, sshd, "exec", "kill -TERM $$", key=key)
    assert r.rest("EXIT") == ["143 0"], r
    assert "remote command killed by signal TERM" in r.logs("INFO")


def test_connection_drop_then_reconnect(probe, sshd, key):
    r = run(probe, sshd, "exec", "\n".join(DROP_SESSION), "exec", "true", "reconnect", "exec",
            "echo back", key=key)
    steps = r.rcs()
    assert r.rest("EXIT")[0] == "-1 -4", r
    assert steps[0][1] == -4 and "connection to 127.0.0.1" in steps[0][2]
    assert steps[1][1] == -4 and "not connected" in steps[1][2]
    assert steps[2][1] == 0
    assert steps[3][1] == 0 and r.text("OUT") == ["back"]


def test_cancel_during_a_long_command_returns_fast(probe, sshd, key):
    r = run(probe, sshd, "exec", "sleep 30", key=key, opts=["--cancel-after", "1"])
    assert r.rcs() == [("exec", -6, f"cancelled while running a command on 127.0.0.1:{sshd.port}")], r
    assert r.elapsed < 1 + 2, r


def test_command_timeout_leaves_the_session_usable(probe, sshd, key):
    r = run(probe, sshd, "exec", "sleep 30", "exec", "echo still here", key=key,
            opts=["--exec-timeout", "1"])
    steps = r.rcs()
    assert steps[0][1] == -5 and "timed out after 1s" in steps[0][2], r
    assert steps[1][1] == 0 and r.text("OUT") == ["still here"]
    assert r.elapsed < 5


# ---- SFTP ---------------------------------------------------------------

def make_tree(base):
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "a.txt").write_text("a\n")
    (base / "tree" / "sub" / "b.txt").write_text("b\n")
    (base / "tree" / "sub").chmod(0o750)
    (base / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (base / "run.sh").chmod(0o755)


def mode(p):
    return os.stat(p).st_mode & 0o777


def test_sftp_upload_follows_packers_trailing_slash_rule(probe, sshd, key, work, remote):
    src = pathlib.Path(tempfile.mkdtemp(dir=work))
    make_tree(src)
    r = run(probe, sshd,
            "upload", f"{src}/tree/", f"{remote}/contents",     # contents into dst
            "upload", f"{src}/tree", f"{remote}/withdir",       # the dir itself inside dst
            "upload", f"{src}/run.sh", f"{remote}/bin/",        # a file into dst/
            "upload", f"{src}/run.sh", f"{remote}/renamed.sh",  # a file as dst
            "put", f"{remote}/deep/er/secret.txt", "s3cret", "600",
            key=key)
    assert [s[1] for s in r.rcs()] == [0] * 5, r
    assert (remote / "contents" / "a.txt").read_text() == "a\n"
    assert (remote / "contents" / "sub" / "b.txt").read_text() == "b\n"
    assert not (remote / "contents" / "tree").exists()
    assert (remote / "withdir" / "tree" / "sub" / "b.txt").read_text() == "b\n"
    assert (remote / "bin" / "run.sh").read_text() == "#!/bin/sh\necho hi\n"
    assert mode(remote / "bin" / "run.sh") == 0o755          # the local mode is kept
    assert mode(remote / "contents" / "a.txt") == 0o644
    assert mode(remote / "contents" / "sub") == 0o750
    assert (remote / "renamed.sh").exists()
    assert (remote / "deep" / "er" / "secret.txt").read_text() == "s3cret"
    assert mode(remote / "deep" / "er" / "secret.txt") == 0o600
    assert os.stat(remote / "contents" / "a.txt").st_uid == pwd.getpwnam(USER).pw_uid


def test_sftp_download_and_errors_name_both_paths(probe, sshd, key, work, remote):
    src = pathlib.Path(tempfile.mkdtemp(dir=work))
    make_tree(src)
    dl = work / "dl"
    r = run(probe, sshd,
            "upload", f"{src}/tree", f"{remote}/",
            "download", f"{remote}/tree", f"{dl}/",
            "download", f"{remote}/tree/a.txt", f"{dl}/single.txt",
            "upload", f"{src}/missing", f"{remote}/x",
            "upload", f"{src}/run.sh", "/root/forbidden/run.sh",
            "download", f"{remote}/nope", f"{dl}/nope",
            key=key)
    steps = r.rcs()
    assert [s[1] for s in steps[:3]] == [0, 0, 0], r
    assert (dl / "tree" / "sub" / "b.txt").read_text() == "b\n"
    assert (dl / "single.txt").read_text() == "a\n"
    assert steps[3][1] == -9 and f"{src}/missing" in steps[3][2]
    assert steps[4][1] == -4
    assert f"upload {src}/run.sh to 127.0.0.1:/root/forbidden/run.sh" in steps[4][2]
    assert "permission denied" in steps[4][2]
    assert steps[5][1] == -9 and f"{remote}/nope" in steps[5][2] and f"{dl}/nope" in steps[5][2]


# ---- provisioners -------------------------------------------------------

def prov(**cfg):
    return ["prov", json.dumps(cfg)]


def test_shell_provisioner_inline_env_and_cleanup(probe, sshd, key, remote):
    r = run(probe, sshd,
            *prov(type="shell", inline=["echo build=$PACKER_BUILD_NAME type=$PACKER_BUILDER_TYPE",
                                        "echo quoted=$Q", "cd /", "pwd", "echo to-stderr >&2"],
                  environment_vars=["Q=it's \"fine\" $HOME"], remote_folder=str(remote)),
            key=key)
    assert r.rcs()[0][1] == 0, r
    assert r.text("OUT") == ["build=probe type=amazon-ebs", "quoted=it's \"fine\" $HOME", "/"]
    assert r.text("ERR") == ["to-stderr"]
    assert "running inline script" in r.logs("INFO")
    assert list(remote.iterdir()) == [], "the uploaded script is removed"


def test_shell_provisioner_sudo(probe, sshd, key, remote):
    r = run(probe, sshd, *prov(type="shell", inline=["sudo -n id -u"], remote_folder=str(remote)),
            key=key)
    assert r.rcs()[0][1] == 0 and r.text("OUT") == ["0"], r


def test_shell_provisioner_scripts_and_failure_message(probe, sshd, key, work, remote):
    tdir = pathlib.Path(tempfile.mkdtemp(dir=work))
    (tdir / "ok.sh").write_text("#!/bin/sh\necho ok $FOO\r\n")      # CRLF is converted
    (tdir / "setup.sh").write_text("#!/bin/sh\necho setting up\nexit 3\n")
    r = run(probe, sshd,
            *prov(type="shell", scripts=["ok.sh", "setup.sh"], environment_vars=["FOO=bar"],
                  remote_folder=str(remote), remote_file="step.sh"),
            *prov(type="shell", script="setup.sh", valid_exit_codes=[0, 3],
                  remote_folder=str(remote)),
            *prov(type="shell", script="nope.sh"),
            key=key, opts=["--template-dir", str(tdir)])
    steps = r.rcs()
    assert steps[0][1] == -10, r      # BAKEAMI_EPROVISION
    assert steps[0][2].endswith("(shell): script 2 of 2 (setup.sh) exited with status 3")
    assert re.match(r"provisioners\[\d+\] \(shell\)", steps[0][2])
    assert f"uploading ok.sh to {remote}/step.sh" in r.logs("INFO")
    assert r.text("OUT")[:2] == ["ok bar", "setting up"]
    assert steps[1][1] == 0
    assert steps[2][1] == -2 and "nope.sh" in steps[2][2]


def test_shell_provisioner_env_var_file_and_execute_command(probe, sshd, key, remote):
    r = run(probe, sshd,
            *prov(type="shell", inline=["echo v=$V"], environment_vars=["V=from-file"],
                  use_env_var_file=True, remote_folder=str(remote)),
            *prov(type="shell", inline=["echo $0 $X"], environment_vars=["X=1"],
                  execute_command="{{ .Vars }} sh '{{.Path}}' && echo custom",
                  remote_folder=str(remote)),
            key=key)
    assert [s[1] for s in r.rcs()] == [0, 0], r
    assert r.text("OUT")[0] == "v=from-file"
    assert r.text("OUT")[1].endswith(".sh 1") and r.text("OUT")[2] == "custom"
    assert list(remote.iterdir()) == []


# Whichever shell runs the script (Debian's /bin/sh is dash; bash and dash
# are both Essential), the session it drops is the SSH one.
@pytest.mark.parametrize("shebang", ["/bin/sh -e", "/bin/dash -e", "/bin/bash -e"])
def test_shell_provisioner_expect_disconnect_reconnects(probe, sshd, key, remote, shebang):
    r = run(probe, sshd,
            *prov(type="shell", inline=DROP_SESSION, inline_shebang=shebang,
                  expect_disconnect=True, remote_folder=str(remote)),
            *prov(type="shell", inline=["echo after reboot"], remote_folder=str(remote)),
            *prov(type="shell", inline=DROP_SESSION, inline_shebang=shebang,
                  remote_folder=str(remote)),
            key=key)
    steps = r.rcs()
    assert steps[0][1] == 0 and steps[1][1] == 0, r
    assert "after reboot" in r.text("OUT")
    assert any("expect_disconnect allows" in l for l in r.logs("INFO"))
    assert steps[2][1] == -4 and "expect_disconnect" in steps[2][2]


def test_shell_provisioner_timeout_retries_and_pause(probe, sshd, key, remote):
    r = run(probe, sshd,
            *prov(type="shell", inline=["sleep 30"], timeout_s=1, remote_folder=str(remote)),
            *prov(type="shell", inline=["echo try; exit 1"], max_retries=1, pause_before_s=0.5,
                  remote_folder=str(remote)),
            key=key)
    steps = r.rcs()
    assert steps[0][1] == -5 and "timed out after 1s" in steps[0][2], r
    assert steps[1][1] == -10
    assert r.text("OUT") == ["try", "try"]
    assert any("retrying in 2s (try 2 of 2)" in l for l in r.logs("WARN"))
    assert any(l.startswith("pausing 0.5s before") for l in r.logs("INFO"))
    assert r.elapsed > 1 + 0.5 + 2


def test_file_provisioner(probe, sshd, key, work, remote):
    tdir = pathlib.Path(tempfile.mkdtemp(dir=work))
    make_tree(tdir)
    out = work / "fetched"
    r = run(probe, sshd,
            *prov(type="file", source="tree/", destination=f"{remote}/www"),
            *prov(type="file", sources=["tree", "run.sh"], destination=f"{remote}/multi/"),
            *prov(type="file", content="hello\n", destination=f"{remote}/content.txt"),
            *prov(type="file", direction="download", source=f"{remote}/www/",
                  destination=str(out)),
            *prov(type="file", source="missing.txt", destination=f"{remote}/x"),
            key=key, opts=["--template-dir", str(tdir)])
    steps = r.rcs()
    assert [s[1] for s in steps[:4]] == [0, 0, 0, 0], r
    assert (remote / "www" / "sub" / "b.txt").exists()
    assert (remote / "multi" / "tree" / "a.txt").exists() and (remote / "multi" / "run.sh").exists()
    assert (remote / "content.txt").read_text() == "hello\n"
    assert (out / "a.txt").read_text() == "a\n"
    assert steps[4][1] == -2 and f"source {tdir}/missing.txt does not exist" in steps[4][2]
    # Several sources need a destination ending in /: a check of the template's
    # shape, made by the validation pass (tests/templates/bad/71-*) before any bake.
    assert f"uploading tree/ to {remote}/www" in r.logs("INFO")


def test_shell_local_and_unsupported_types(probe, sshd, key):
    r = run(probe, sshd,
            *prov(type="shell-local", inline=["echo local $PACKER_BUILD_NAME $V", "echo e >&2"],
                  environment_vars=["V=vv"]),
            *prov(type="shell-local", command="exit 4"),
            *prov(type="shell-local", command="sleep 30", timeout_s=1),
            *prov(type="chef-solo"),
            key=key)
    steps = r.rcs()
    assert steps[0][1] == 0 and r.text("OUT") == ["local probe vv"] and r.text("ERR") == ["e"], r
    assert steps[1][1] == -10 and "exited with status 4" in steps[1][2]
    assert steps[2][1] == -5
    assert steps[3][1] == -2 and steps[3][2].endswith(": type chef-solo is not supported yet")
    assert r.elapsed < 10


def test_valgrind_clean(probe, sshd, key, work, remote):
    assert shutil.which("valgrind"), "valgrind is not installed (tests/deps.sh installs it)"
    src = pathlib.Path(tempfile.mkdtemp(dir=work))
    make_tree(src)
    args = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=99", str(probe), "--key", str(key), "127.0.0.1", str(sshd.port),
            USER, "exec", "echo x; echo y >&2", "upload", f"{src}/tree", f"{remote}/",
            *prov(type="shell", inline=["echo p"], remote_folder=str(remote))]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
