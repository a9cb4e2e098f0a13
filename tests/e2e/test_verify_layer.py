"""The test stage (native/src/verify), for real: native checks over SSH and a
real Serverspec suite, against a throwaway OpenSSH sshd on 127.0.0.1 and a free
high port, as the user bakeami-verify (passwordless sudo).

tests/e2e/verify_probe.c loads a `tests` JSON, connects with a key made by
ssh-keygen, runs bk_verify_run, prints the table and writes JUnit; these tests
read its events and validate the JUnit file against tests/junit/junit.xsd.
Needs root (sshd, a test user, a SysV init script); nothing leaves loopback.
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import plain_sshd
from conftest import probe_binary
from plain_sshd import free_port, sh, wait_listening

ROOT = pathlib.Path(__file__).resolve().parents[2]
USER = "bakeami-verify"
XSD = ROOT / "tests" / "junit" / "junit.xsd"
SUITE = ROOT / "examples" / "serverspec"
SERVICE = "bakeami-verify-probe"      # a SysV service "running" while our sshd runs
PWNED = "/tmp/bakeami-verify-pwned"


# The fixtures work (a 0755 temp folder), user (USER, login shell /bin/bash,
# passwordless sudo) and sshd (a plain sshd that lets USER in).
work, user, sshd = plain_sshd.fixtures(user=USER, shell="/bin/bash",
                                       work_prefix="bakeami-verify-e2e-")

def require_rspec():
    if not shutil.which("rspec"):
        pytest.fail("needs rspec and Serverspec (tests/deps.sh installs ruby-serverspec)")


def require_ss():
    """examples/serverspec has a port resource: specinfra runs `ss -tunl |
    grep` on Debian 8+ targets (no /proc/net fallback, unlike the native
    port check), and the target is this machine."""
    if not shutil.which("ss"):
        pytest.fail("needs ss on this machine, the Serverspec target "
                    "(tests/deps.sh installs iproute2)")


# ---- helpers ------------------------------------------------------------

def validate_junit(path):
    """xmllint (libxml2-utils) or lxml; the same XSD the unit tests use."""
    if shutil.which("xmllint"):
        p = subprocess.run(["xmllint", "--noout", "--schema", str(XSD), str(path)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr + pathlib.Path(path).read_text()
        return
    try:
        from lxml import etree
    except ImportError:
        pytest.fail("needs xmllint (libxml2-utils, installed by tests/deps.sh) or python3-lxml")
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    doc = etree.parse(str(path))
    assert schema.validate(doc), schema.error_log


def junit_counts(path):
    import xml.etree.ElementTree as ET
    root = ET.parse(path).getroot()
    return {k: int(root.get(k)) for k in ("tests", "failures", "errors", "skipped")}, root


class Result:
    """The probe's events: "KIND rest..." lines."""

    def __init__(self, proc, elapsed, junit):
        self.stdout, self.stderr, self.returncode = proc.stdout, proc.stderr, proc.returncode
        self.elapsed, self.junit = elapsed, junit
        self.events = [line.split(" ", 1) + [""] for line in self.stdout.splitlines() if line]

    def rest(self, kind):
        return [e[1] for e in self.events if e[0] == kind]

    def rc(self):
        rc, _, msg = self.rest("RC")[0].partition(" ")
        return int(rc), msg

    def table(self):
        return self.rest("TABLE")

    def __repr__(self):
        return f"<probe rc={self.returncode} {self.elapsed:.2f}s\n{self.stdout}\n{self.stderr}>"


# ---- fixtures -----------------------------------------------------------

@pytest.fixture(scope="module")
def probe():
    return probe_binary("verify_probe")


@pytest.fixture(scope="module")
def key(work, sshd):
    """An ed25519 key made by ssh-keygen, installed for the user."""
    path = work / "id_ed25519"
    sh(f"ssh-keygen -q -t ed25519 -N '' -C bakeami-verify-e2e -f {path}")
    sshd.authorize((work / "id_ed25519.pub").read_text())
    return path


@pytest.fixture(scope="module")
def http(work):
    """A web server on loopback for the http check (fetched ON the instance)."""
    www = work / "www"
    www.mkdir()
    (www / "index.html").write_text("<h1>Welcome to bakeami</h1>\n")
    port = free_port()
    proc = subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(www)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc, "http.server")
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="module")
def sysv_service(sshd):
    """A SysV service whose status is that of our sshd, enabled in runlevel 2.

    Containers run no init system: with systemd absent, the service check
    asks `service NAME status` and looks for S links, as on RHEL 6 or a
    Debian container."""
    if os.path.isdir("/run/systemd/system"):
        pytest.skip("systemd is running: the SysV stand-in would not be used")
    script = pathlib.Path(f"/etc/init.d/{SERVICE}")
    script.write_text(
        "#!/bin/sh\n# bakeami e2e (tests/e2e/test_verify_layer.py): running while its sshd is\n"
        f"case \"$1\" in\nstatus)\n  if [ -d \"/proc/$(cat {sshd.pidfile} 2>/dev/null)\" ]; then\n"
        f"    echo '{SERVICE} is running'; exit 0; fi\n"
        f"  echo '{SERVICE} is not running'; exit 3;;\n*) exit 0;;\nesac\n")
    script.chmod(0o755)
    link = pathlib.Path(f"/etc/rc2.d/S01{SERVICE}")
    link.parent.mkdir(exist_ok=True)
    if not link.is_symlink():
        link.symlink_to(f"../init.d/{SERVICE}")
    yield SERVICE
    link.unlink()
    script.unlink()


@pytest.fixture(scope="module")
def secret(work):
    """A root-only file: reading it needs the sudo -n fallback."""
    path = work / "secret.conf"
    path.write_text("api_token = not-a-real-token\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def sshd_without_ss(work, user, key):
    """A second sshd for USER on a machine without ss and netstat (hidden
    from it and its sessions, sudo included, by a private mount namespace),
    as on a minimal image: the port check must fall back to /proc/net, and
    this runs on every machine, ss or not."""
    d = plain_sshd.Sshd(work, free_port(), USER, hide=("ss", "netstat"))
    yield d
    d.stop()


# What the port check's script sees (common.c's prologue adds the sbin dirs).
NO_SS_OR_NETSTAT = {
    "command": "PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin; "
               "command -v ss || command -v netstat || sudo -n sh -c 'command -v ss' || echo neither",
    "stdout_matches": "^neither$", "name": "no ss or netstat on the instance"}


def sockets(family, kind, n=1, listen=True):
    """n sockets of family/kind bound to loopback on free ports (listening,
    for TCP, when listen); the caller closes them."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    out = []
    try:
        for _ in range(n):
            out.append(socket.socket(family, kind))
            out[-1].bind((host, 0))
            if listen and kind == socket.SOCK_STREAM:
                out[-1].listen()
    except BaseException:
        for s in out:
            s.close()
        raise
    return out


def port_of(sock):
    return sock.getsockname()[1]


@pytest.fixture(scope="module")
def passing_checks(sshd, http, sysv_service, secret):
    """One check of every type that this loopback host satisfies."""
    version = sh("dpkg-query -W -f='${Version}' openssh-server").stdout.split("-")[0]
    sha = sh(f"sha256sum {secret}").stdout.split()[0]
    return [
        {"package": "openssh-server", "installed": True, "version": version},
        {"service": sysv_service, "running": True, "enabled": True},
        {"port": sshd.port, "listening": True, "protocol": "tcp", "address": "127.0.0.1"},
        {"file": "/etc/passwd", "exists": True, "type": "file", "mode": "0644", "owner": "root",
         "group": "root", "contains": f"{USER}:", "matches": f"^{USER}:x:[0-9]+:"},
        {"file": str(secret), "mode": "0600", "contains": "api_token", "sha256": sha,
         "name": "root-only file read through sudo -n"},
        {"command": "id -un; echo warn >&2", "exit_status": 0, "stdout_matches": f"^{USER}$",
         "stderr_contains": "warn"},
        {"user": USER, "exists": True, "groups": [USER], "shell": "/bin/bash",
         "home": f"/home/{USER}"},
        {"group": "root", "exists": True, "gid": 0},
        {"process": "sshd", "running": True},
        {"kernel_param": "kernel.ostype", "value": "Linux"},
        {"http": http, "status": 200, "body_contains": "Welcome"},
    ]


def run(probe, sshd, key, work, tests, *opts, timeout=180, valgrind=False):
    path = pathlib.Path(tempfile.mkstemp(prefix="tests-", suffix=".json", dir=work)[1])
    path.write_text(json.dumps(tests))
    junit = path.with_suffix(".xml")
    tmpdir = pathlib.Path(tempfile.mkdtemp(prefix="tmp-", dir=work))
    args = [str(probe), "--junit", str(junit), *opts,
            "127.0.0.1", str(sshd.port), USER, str(key), str(path)]
    if valgrind:
        args = ["valgrind", "-q", "--leak-check=full", "--errors-for-leak-kinds=definite",
                "--error-exitcode=99"] + args
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, "TMPDIR": str(tmpdir)})
    r = Result(p, time.monotonic() - t0, junit)
    # The Serverspec key file and report never outlive the run.
    assert list(tmpdir.iterdir()) == [], (list(tmpdir.iterdir()), r)
    return r


# ---- native checks --------------------------------------------------------

def test_every_check_type_passes(probe, sshd, key, work, passing_checks):
    r = run(probe, sshd, key, work, {"when": "before_image", "checks": passing_checks})
    assert r.returncode == 0, r
    assert r.rc() == (0, "ok"), r
    types = {next(k for k in c if k not in ("name",)) for c in passing_checks}
    assert types == {"package", "service", "port", "file", "command", "user", "group",
                     "process", "kernel_param", "http"}
    logs = r.rest("LOG")
    assert sum(1 for line in logs if line.startswith("\u2713 ")) == len(passing_checks), r
    assert "root-only file read through sudo -n" in r.stdout
    table = r.table()
    assert table[0].split() == ["CHECK", "RESULT", "DURATION", "REASON"], r
    assert table[1] == "-- native checks (before_image)"
    assert table[-1].startswith(f"{len(passing_checks)} tests: {len(passing_checks)} passed, "
                                "0 failed, 0 errors"), r
    validate_junit(r.junit)
    counts, root = junit_counts(r.junit)
    assert counts == {"tests": len(passing_checks), "failures": 0, "errors": 0, "skipped": 0}
    assert root.find("testsuite").get("name") == "native checks (before_image)"


def test_one_failing_check_is_one_failure(probe, sshd, key, work, passing_checks):
    checks = passing_checks + [{"package": "bakeami-no-such-package", "installed": True}]
    r = run(probe, sshd, key, work, {"checks": checks}, "--phase", "after_image")
    assert r.returncode == 3, r
    rc, msg = r.rc()
    assert rc == -7 and msg == (f"1 of {len(checks)} tests failed: package bakeami-no-such-package: "
                                "expected installed, found not installed"), r
    failed = [line for line in r.table() if " FAILED " in line]
    assert len(failed) == 1 and failed[0].endswith(
        "package bakeami-no-such-package: expected installed, found not installed"), r
    validate_junit(r.junit)
    counts, root = junit_counts(r.junit)
    assert counts == {"tests": len(checks), "failures": 1, "errors": 0, "skipped": 0}
    failures = root.findall(".//failure")
    assert len(failures) == 1
    assert failures[0].get("message") == ("package bakeami-no-such-package: expected installed, "
                                          "found not installed")
    assert root.find("testsuite").get("name") == "native checks (after_image)"


def test_failures_say_expected_and_found(probe, sshd, key, work, http):
    checks = [
        {"port": sshd.port, "listening": True, "address": "0.0.0.0"},
        {"file": "/etc/passwd", "mode": "0600"},
        {"http": http + "missing", "status": 200},
        {"kernel_param": "kernel.ostype", "value": "FreeBSD"},
        {"process": "no-such-daemon", "running": True},
        {"command": "exit 3", "exit_status": 0},
    ]
    r = run(probe, sshd, key, work, {"checks": checks})
    assert r.returncode == 3, r
    reasons = "\n".join(r.table())
    for want in (f"port {sshd.port}: expected listening on 0.0.0.0, found listening on 127.0.0.1 (tcp)",
                 "file /etc/passwd: expected mode 0600, found 0644",
                 f"http {http}missing: expected status 200, found 404",
                 "kernel_param kernel.ostype: expected value FreeBSD, found Linux",
                 "process no-such-daemon: expected running, found no process named no-such-daemon",
                 "command \"exit 3\": expected exit status 0, found 3"):
        assert want in reasons, (want, r)
    validate_junit(r.junit)
    assert junit_counts(r.junit)[0]["failures"] == len(checks)


def test_port_check_reads_proc_net_without_ss_or_netstat(probe, sshd_without_ss, key, work):
    """IPv4 TCP and UDP from /proc/net/tcp and udp: LISTEN (0A) counts for
    TCP, a bound TCP socket that does not listen does not; ports and
    addresses are hex."""
    tcp_bound = sockets(socket.AF_INET, socket.SOCK_STREAM, listen=False)[0]
    udp = sockets(socket.AF_INET, socket.SOCK_DGRAM)[0]
    with tcp_bound, udp:
        port, bound = sshd_without_ss.port, port_of(tcp_bound)
        checks = [
            NO_SS_OR_NETSTAT,
            {"port": port, "listening": True, "protocol": "tcp", "address": "127.0.0.1"},
            {"port": port_of(udp), "listening": True, "protocol": "udp", "address": "127.0.0.1"},
            {"port": bound, "listening": False},
        ]
        r = run(probe, sshd_without_ss, key, work, {"checks": checks})
        assert r.returncode == 0, r
        assert r.rc() == (0, "ok"), r
        failing = [
            {"port": port, "listening": True, "protocol": "udp"},
            {"port": port, "listening": True, "address": "0.0.0.0"},
            {"port": port, "listening": False},
            {"port": bound, "listening": True},
        ]
        r = run(probe, sshd_without_ss, key, work, {"checks": failing})
    assert r.returncode == 3, r
    reasons = "\n".join(r.table())
    for want in (f"port {port}: expected listening over udp, found listening on 127.0.0.1 (tcp)",
                 f"port {port}: expected listening on 0.0.0.0, found listening on 127.0.0.1 (tcp)",
                 f"port {port}: expected not listening, found listening on 127.0.0.1 (tcp)",
                 f"port {bound}: expected listening, found not listening (listening: "):
        assert want in reasons, (want, r)
    assert junit_counts(r.junit)[0]["failures"] == len(failing), r


def test_port_check_reads_proc_net_ipv6_without_ss_or_netstat(probe, sshd_without_ss, key, work):
    """IPv6 TCP and UDP from /proc/net/tcp6 and udp6 (addresses in four
    host-order words)."""
    try:
        tcp6, udp6 = (sockets(socket.AF_INET6, k)[0] for k in (socket.SOCK_STREAM, socket.SOCK_DGRAM))
    except OSError as e:     # a host (container) without IPv6 on loopback
        pytest.skip(f"no IPv6 on loopback here: {e}")
    with tcp6, udp6:
        t6, u6 = port_of(tcp6), port_of(udp6)
        checks = [
            NO_SS_OR_NETSTAT,
            {"port": t6, "listening": True, "protocol": "tcp", "address": "::1"},
            {"port": t6, "listening": True, "address": "0:0:0:0:0:0:0:1"},
            {"port": u6, "listening": True, "protocol": "udp", "address": "::1"},
        ]
        r = run(probe, sshd_without_ss, key, work, {"checks": checks})
        assert r.returncode == 0, r
        failing = [{"port": t6, "listening": True, "address": "127.0.0.1"},
                   {"port": u6, "listening": True, "protocol": "tcp"}]
        r = run(probe, sshd_without_ss, key, work, {"checks": failing})
    assert r.returncode == 3, r
    reasons = "\n".join(r.table())
    for want in (f"port {t6}: expected listening on 127.0.0.1, found listening on ::1 (tcp)",
                 f"port {u6}: expected listening over tcp, found listening on ::1 (udp)"):
        assert want in reasons, (want, r)


def test_hostile_values_stay_data(probe, sshd, key, work, user):
    # Names may not hold '/': those payloads write into the user's home (the cwd).
    in_home = pathlib.Path(user.pw_dir) / "bakeami-pwned"
    for p in (PWNED, in_home):
        if os.path.exists(p):
            os.unlink(p)
    checks = [
        {"file": f"/tmp/x'; touch {PWNED}; #", "exists": False},
        {"file": f"/tmp/$(touch {PWNED})", "exists": False},
        {"user": "x';touch${IFS}bakeami-pwned;'", "exists": False},
        {"kernel_param": "x`touch${IFS}bakeami-pwned`", "value": "1"},
    ]
    r = run(probe, sshd, key, work, {"checks": checks})
    assert not os.path.exists(PWNED) and not in_home.exists(), r
    assert r.returncode == 3, r       # the last check fails: no such parameter
    assert "expected value 1, found no readable parameter" in r.stdout, r
    assert sum(1 for line in r.table() if " passed " in line) == 3, r


def test_bad_tests_refused_before_connecting(probe, sshd, key, work):
    r = run(probe, sshd, key, work, {"checks": [{"package": "nginx"}]})
    assert r.returncode == 2, r
    assert r.rest("VALIDATE")[0].endswith(
        "tests.checks[0]: check has no expectation (give installed or version)"), r
    assert not r.rest("CONNECT"), r


@pytest.mark.skipif(not shutil.which("valgrind"), reason="needs valgrind")
def test_valgrind_clean(probe, sshd, key, work, passing_checks):
    r = run(probe, sshd, key, work, {"checks": passing_checks}, valgrind=True, timeout=600)
    assert r.returncode == 0, r
    assert "==" not in r.stderr, r


# ---- Serverspec -----------------------------------------------------------

def test_serverspec_suite_passes(probe, sshd, key, work):
    require_rspec()
    require_ss()
    suite_files = sorted((SUITE / "spec").rglob("*_spec.rb"))
    assert suite_files and not (SUITE / "spec" / "spec_helper.rb").exists()
    r = run(probe, sshd, key, work, {"serverspec": {"dir": str(SUITE)}}, "--phase", "after_image")
    assert r.returncode == 0, r
    assert r.rc() == (0, "ok"), r
    out = [e.split(" ", 2)[2] for e in r.rest("OUT")]
    assert 'Package "openssh-server"' in out and "  is expected to be installed" in out, r
    validate_junit(r.junit)
    counts, root = junit_counts(r.junit)
    assert counts["tests"] >= 8 and counts["failures"] == 0 and counts["errors"] == 0, counts
    suite = root.find("testsuite")
    assert suite.get("name") == "serverspec (after_image)"
    names = [c.get("name") for c in suite.findall("testcase")]
    assert 'Package "openssh-server" is expected to be installed' in names
    assert f'Port "{sshd.port}" is expected to be listening' in names
    assert 'Command "id -u" stdout is expected to eq "0\\n"' in names
    # The user's tree was not written to.
    assert not (SUITE / "spec" / "spec_helper.rb").exists()


def test_serverspec_failure_and_native_checks_together(probe, sshd, key, work, passing_checks):
    require_rspec()
    require_ss()
    suite = pathlib.Path(tempfile.mkdtemp(prefix="suite-", dir=work))
    shutil.copytree(SUITE / "spec", suite / "spec")
    (suite / "spec" / "localhost" / "broken_spec.rb").write_text(
        "require 'spec_helper'\n"
        "describe file('/etc/bakeami-not-there') do\n  it { should be_file }\nend\n")
    tests = {"checks": passing_checks[:3], "serverspec": {"dir": suite.name}}
    r = run(probe, sshd, key, work, tests, "--template-dir", str(work))
    assert r.returncode == 3, r
    rc, msg = r.rc()
    assert msg.startswith("1 of ") and 'File "/etc/bakeami-not-there" is expected to be file' in msg, r
    validate_junit(r.junit)
    counts, root = junit_counts(r.junit)
    assert counts["failures"] == 1 and counts["errors"] == 0
    assert [s.get("name") for s in root.findall("testsuite")] == [
        "native checks (before_image)", "serverspec (before_image)"]


def test_serverspec_cancel_kills_rspec(probe, sshd, key, work):
    require_rspec()
    suite = pathlib.Path(tempfile.mkdtemp(prefix="slow-", dir=work))
    (suite / "spec").mkdir()
    (suite / "spec" / "slow_spec.rb").write_text(
        "require 'spec_helper'\n"
        "describe command('echo bakeami-slow-marker; sleep 30') do\n"
        "  its(:exit_status) { should eq 0 }\nend\n")
    r = run(probe, sshd, key, work, {"serverspec": {"dir": str(suite)}}, "--cancel-after", "4")
    assert r.returncode == 130, r
    assert r.rc()[0] == -6, r
    assert r.elapsed < 15, r
    # Killed processes may take a moment to go: wait for them (10 s at most)
    # rather than look once after a fixed pause.
    deadline = time.monotonic() + 10
    while True:
        left = subprocess.run(["pgrep", "-f", str(suite)], capture_output=True, text=True).stdout
        if left == "" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert left == "", f"rspec still running: {left}"
