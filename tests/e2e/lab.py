"""The bakeami end-to-end test lab: moto, a fault-injecting proxy and a real sshd, on 127.0.0.1.

    with Lab() as lab:
        subprocess.run([BAKEAMI, "bake", *lab.ssh_vars(), "examples/web.json"], env=lab.env())
        assert lab.calls(service="ec2").count("RunInstances") == 1
        lab.assert_clean(allow_images=[ami])

- moto_server answers AWS calls; bakes reach it only through the proxy (`lab.env()` points
  AWS_ENDPOINT_URL there), which records every call and injects faults (`lab.inject`).
- sshd plays the build instance: its AuthorizedKeysCommand asks moto (directly, not through the
  proxy) for the public keys of every key pair in the lab's regions, as cloud-init would install
  the instance's key, and lets user `bakeami` (passwordless sudo) in with any of them.
- `lab.leftovers(region)` / `lab.assert_clean()` report what a bake left in moto;
  `lab.reset()` wipes moto between scenarios.

Must run as root (sshd, the test user, the root-owned AuthorizedKeysCommand).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from proxy import Call, FaultProxy, FaultRule  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
# The build tree the tests run: build/ unless BAKEAMI_BUILD names another (make check-asan: build/asan).
BUILD = REPO / os.environ.get("BAKEAMI_BUILD", "build")
BAKEAMI = BUILD / "bakeami"
ACCOUNT_ID = "123456789012"  # moto's default account
SSH_USER = "bakeami"
SSH_HOST = "127.0.0.1"
AKC_ROOT = Path("/usr/local/lib/bakeami-test")  # root-owned, as sshd demands for the command
SUDOERS = Path("/etc/sudoers.d/bakeami-test")
# A test's rule read after SUDOERS (sudo reads the folder in name order; the last match wins)
# that takes the passwordless sudo away; a lab removes one a killed test left.
SUDO_ASKS = SUDOERS.with_name("zz-bakeami-test-asks")
# amazon-instance's bundle tools, as the instance runs them: `sudo -i -n ec2-bundle-vol ...` (a
# root login shell) and the seed's `sudo -n ec2-upload-bundle` (sudo's secure_path) both find
# /usr/local/bin. The wrappers there run tests/e2e/bin's stand-ins with the lab's S3.
STAND_IN_DIR = Path("/usr/local/bin")
STAND_INS = ("ec2-bundle-vol", "ec2-upload-bundle")
# A reverted design put a per-lab dispatcher in /usr/local/sbin, ahead of STAND_IN_DIR on
# root's PATH; one left on a machine would shadow these wrappers, so a lab removes it.
_OLD_DISPATCHER_DIR, _OLD_DISPATCHER_MARK = Path("/usr/local/sbin"), "# bakeami e2e lab dispatcher"
_STAND_IN_WRAPPER = """#!/bin/sh
# bakeami e2e lab {lab_id}: amazon-instance's bundle tool, a stand-in (tests/e2e/bin/{name})
BAKEAMI_LAB_S3_ENDPOINT={endpoint} BAKEAMI_LAB_UPLOAD_FAIL={fail_file} BAKEAMI_LAB_UPLOAD_HOLD={hold_file} \\
  exec {python} {script} "$@"
"""
TEST_CREDS = ("AKIDBAKEAMILAB0000", "bakeami-lab-secret-key")
_PROXY_VARS = {"http_proxy", "https_proxy", "all_proxy", "ftp_proxy", "no_proxy"}
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_AMI_ID = re.compile(r"\bami-[0-9a-f]+\b")

_AKC_BODY = "Action=DescribeKeyPairs&Version=2016-11-15&IncludePublicKey=true"
_AKC_SCRIPT = r"""#!/bin/bash
# AuthorizedKeysCommand of a bakeami e2e lab (tests/e2e/lab.py). Prints the public key of every
# key pair moto holds in the lab's regions, as cloud-init installs the instance's key.
# Asks moto directly, not through the lab's proxy, so these calls are not counted as a bake's.
. {conf} || exit 0
[ "$1" = "$SSH_USER" ] || exit 0
for region in $REGIONS; do
  curl -sS --noproxy '*' --max-time 10 --aws-sigv4 "aws:amz:$region:ec2" \
    --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: {body_sha256}" \
    -H 'Content-Type: application/x-www-form-urlencoded' \
    --data-binary '{body}' "$ENDPOINT/"
  echo
done | tr '\n' ' ' | grep -o '<publicKey>[^<]*</publicKey>' \
  | sed -e 's:</\?publicKey>::g' -e 's/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g' \
        -e "s/&apos;/'/g; s/&#39;/'/g; s/&amp;/\&/g"
exit 0
"""

def sshd_config(title, port, host_key, pid_file, user, keys_command, *extra):
    """An e2e sshd's config: loopback only, one user, no passwords, keys only from
    `keys_command` (run as root), then the `extra` lines of this sshd's own."""
    return "\n".join([
        f"# {title}", f"Port {port}", "ListenAddress 127.0.0.1", "AddressFamily inet",
        f"HostKey {host_key}", f"PidFile {pid_file}", "UsePAM no", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "PubkeyAuthentication yes", "PermitRootLogin no",
        f"AllowUsers {user}", "AuthorizedKeysFile none", f"AuthorizedKeysCommand {keys_command}",
        "AuthorizedKeysCommandUser root", "UseDNS no", *extra, ""])


class LabError(RuntimeError):
    pass


# Children die with the test process even when it is SIGKILLed: util-linux setpriv (essential
# in Debian) sets PR_SET_PDEATHSIG and execs; a preexec_fn would be unsafe with threads running.
_DIE_WITH_US = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


def _run(*cmd: str) -> None:
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if p.returncode:
        raise LabError(f"{shlex.join(cmd)} failed ({p.returncode}): {p.stderr.strip() or p.stdout.strip()}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command name: [state, ppid, pgrp, session, ...]."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _processes() -> dict[int, list[str]]:
    """pid -> _stat(pid), for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out[int(entry)] = _stat(entry)
            except (OSError, IndexError):
                continue
    return out


def _descendants(pid: int, procs: dict[int, list[str]] | None = None) -> list[list[int]]:
    """The process tree under pid, one list per generation (children first)."""
    children: dict[int, list[int]] = {}
    for child, st in (procs or _processes()).items():
        children.setdefault(int(st[1]), []).append(child)
    generations = [children.get(pid, [])]
    while generations[-1]:
        generations.append([c for p in generations[-1] for c in children.get(p, [])])
    return generations[:-1]


def _signal(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _terminate(pids: set[int], grace: float = 2.0) -> None:
    _signal(list(pids), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(os.path.exists(f"/proc/{pid}") for pid in pids):
        if time.monotonic() > deadline:
            _signal(list(pids), signal.SIGKILL)
            return
        time.sleep(0.01)


def _kill(proc: subprocess.Popen | None, with_descendants: bool = False) -> None:
    """SIGTERM (SIGKILL after 5 s) proc; with_descendants, first its process tree, youngest
    generation first, so each is reaped by its parent rather than orphaned to init."""
    if proc is None or proc.poll() is not None:
        return
    for generation in reversed(_descendants(proc.pid) if with_descendants else []):
        _terminate(set(generation))
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def ensure_test_user() -> None:
    """User `bakeami` with a usable (not locked) account and passwordless sudo; idempotent."""
    if subprocess.run(["id", "-u", SSH_USER], capture_output=True).returncode:
        p = subprocess.run(["useradd", "-m", "-s", "/bin/bash", SSH_USER], capture_output=True, text=True)
        if p.returncode and subprocess.run(["id", "-u", SSH_USER], capture_output=True).returncode:
            raise LabError(f"useradd {SSH_USER} failed: {p.stderr.strip()}")
    shadow = subprocess.run(["getent", "shadow", SSH_USER], capture_output=True, text=True).stdout
    if shadow.split(":")[1:2] != ["*"]:
        _run("usermod", "-p", "*", SSH_USER)  # sshd refuses locked ("!") accounts
    SUDO_ASKS.unlink(missing_ok=True)
    rule = f"{SSH_USER} ALL=(ALL) NOPASSWD:ALL\n"
    try:
        current = SUDOERS.read_text()
    except OSError:
        current = None
    if current != rule:
        SUDOERS.parent.mkdir(mode=0o750, exist_ok=True)
        tmp = SUDOERS.with_name(f".bakeami-test.{os.getpid()}")  # sudo ignores names with a dot
        tmp.write_text(rule)
        os.chmod(tmp, 0o440)
        os.replace(tmp, SUDOERS)
    elif SUDOERS.stat().st_mode & 0o777 != 0o440:
        os.chmod(SUDOERS, 0o440)


def _check_root_owned(path: Path) -> None:
    for p in [path, *path.parents]:
        st = p.stat()
        if st.st_uid != 0 or st.st_mode & 0o022:
            raise LabError(f"{p} must be owned by root and not group/world-writable for sshd's "
                           f"AuthorizedKeysCommand (owner uid {st.st_uid}, mode {oct(st.st_mode & 0o777)})")


def _remove_stale_lab_dirs() -> None:
    """Removes the dirs of labs whose process is gone (SIGKILLed: stop() never ran)."""
    stale = [*AKC_ROOT.glob("*-*"), *Path(tempfile.gettempdir()).glob("bakeami-lab-*-*")]
    for d in stale:
        pid = d.name.removeprefix("bakeami-lab-").split("-", 1)[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            shutil.rmtree(d, ignore_errors=True)


class Leftovers(dict):
    """kind -> [descriptions], only the kinds found; left["instances"] is [] when none."""

    def __missing__(self, key: str) -> list[str]:
        return []


class Lab:
    """moto + counting/fault-injecting proxy + sshd on 127.0.0.1. See the module docstring."""

    def __init__(self, regions: tuple[str, ...] | list[str] = ("us-east-1",),
                 moto_env: dict[str, str] | None = None, startup_timeout: float = 30.0):
        self.regions = list(regions)  # warmed at reset; their key pairs are offered to sshd
        self.region = self.regions[0]  # AWS_REGION of lab.env()
        self.moto_env = dict(moto_env or {})
        self.startup_timeout = startup_timeout
        self.lab_id = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.ssh_host = SSH_HOST
        self.ssh_user = SSH_USER
        self.ssh_port: int | None = None
        self.moto_port: int | None = None
        self.proxy: FaultProxy | None = None
        self.tmp: Path | None = None
        self.akc_dir = AKC_ROOT / self.lab_id
        self._moto: subprocess.Popen | None = None
        self._sshd: subprocess.Popen | None = None
        self._creds = TEST_CREDS
        self._auth_enabled = False
        self._clients: dict[tuple[str, str], object] = {}
        self._catalogue = self._custom_catalogue_ids()
        self._clean_mark = 0  # proxy.total at the last reset
        self._direct_use = False  # someone was handed a way to talk to moto directly
        self._direct_regions: set[str] = set()  # regions of the EC2 clients handed out

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> "Lab":
        if os.geteuid() != 0:
            raise LabError("the e2e lab must run as root: it starts sshd, creates user "
                           f"{SSH_USER} and installs a root-owned AuthorizedKeysCommand")
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix=f"bakeami-lab-{self.lab_id}-"))
            self._start_moto()  # boots in the background while sshd is set up
            self._setup_sshd()
            self._wait_moto()
            self._write_akc_conf()
            self._start_sshd()
            self._install_stand_ins()
            self.proxy = FaultProxy("127.0.0.1", self.moto_port)
            self.proxy.start()
            self._warm()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops sshd (and its sessions), the proxy and moto; removes every file the lab made."""
        if self._moto and self._moto.poll() is None:
            self._moto.terminate()  # it takes ~0.5 s to go: let it while the rest stops
        self.kill_ssh_sessions()
        _kill(self._sshd, with_descendants=True)
        self._sshd = None
        if self.proxy:
            self.proxy.stop()
            self.proxy = None
        _kill(self._moto)
        self._moto = None
        self._remove_stand_ins()
        shutil.rmtree(self.akc_dir, ignore_errors=True)
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        self._clients.clear()

    def __enter__(self) -> "Lab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _start_moto(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if k not in ("MOTO_ALLOW_NONEXISTENT_REGION", "INITIAL_NO_AUTH_ACTION_COUNT", "MOTO_PORT")}
        env.update(self.moto_env)
        self._moto_log = self.tmp / "moto.log"
        with open(self._moto_log, "wb") as log:  # a file, not a pipe: moto logs every request
            self._moto = subprocess.Popen(
                [*_DIE_WITH_US, sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)

    def _wait_moto(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            m = re.search(r" \* Running on http://127\.0\.0\.1:(\d+)", self._moto_log.read_text(errors="replace"))
            if m:
                self.moto_port = int(m.group(1))
                return
            if self._moto.poll() is not None or time.monotonic() > deadline:
                raise LabError(f"moto_server did not start: {self._moto_log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)

    def _setup_sshd(self) -> None:
        ensure_test_user()
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self._host_key = self.tmp / "ssh_host_ed25519_key"
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"bakeami-lab-{self.lab_id}",
             "-f", str(self._host_key))
        _remove_stale_lab_dirs()
        AKC_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.akc_dir.mkdir(mode=0o755)
        for d in (AKC_ROOT, self.akc_dir):
            os.chmod(d, 0o755)
        self.akc = self.akc_dir / "akc"
        self._akc_conf = self.akc_dir / "akc.conf"
        self.akc.write_text(_AKC_SCRIPT.format(
            conf=shlex.quote(str(self._akc_conf)), body=_AKC_BODY,
            body_sha256=sha256(_AKC_BODY.encode()).hexdigest()))
        os.chmod(self.akc, 0o755)
        _check_root_owned(self.akc)

    def _install_stand_ins(self) -> None:
        """The bundle tools' wrappers; one of a lab that is gone is replaced, a foreign file
        of that name is an error (never overwritten)."""
        self._upload_fail = self.tmp / "upload-fail"
        self._upload_hold = self.tmp / "upload-hold"
        self._replaced: dict[str, str] = {}
        for name in STAND_INS:
            old = _OLD_DISPATCHER_DIR / name
            if old.exists() and _OLD_DISPATCHER_MARK in old.read_text(errors="replace"):
                old.unlink(missing_ok=True)
            dst = STAND_IN_DIR / name
            if dst.exists() and "# bakeami e2e lab " not in dst.read_text(errors="replace"):
                raise LabError(f"{dst} exists and is not a bakeami lab stand-in: not replacing it")
            if dst.exists():  # a lab still running (one test starts a second lab): put back later
                self._replaced[name] = dst.read_text(errors="replace")
            tmp = dst.with_name(f".{name}.{self.lab_id}")
            tmp.write_text(_STAND_IN_WRAPPER.format(
                lab_id=self.lab_id, name=name, endpoint=shlex.quote(f"http://127.0.0.1:{self.moto_port}"),
                fail_file=shlex.quote(str(self._upload_fail)), hold_file=shlex.quote(str(self._upload_hold)),
                python=shlex.quote(sys.executable),  # the one with boto3 (tests/deps.sh)
                script=shlex.quote(str(Path(__file__).resolve().parent / "bin" / name))))
            os.chmod(tmp, 0o755)
            os.replace(tmp, dst)

    def _remove_stand_ins(self) -> None:
        """Ours go; the wrapper of a lab started before this one and still running comes back
        (labs nest: a test may start and stop a second lab inside the session's)."""
        for name in STAND_INS:
            dst = STAND_IN_DIR / name
            try:
                if f"# bakeami e2e lab {self.lab_id}:" not in dst.read_text(errors="replace"):
                    continue
                before = getattr(self, "_replaced", {}).get(name)
                owner = re.search(r"# bakeami e2e lab (\d+)-", before or "")
                if owner and os.path.exists(f"/proc/{owner.group(1)}"):
                    tmp = dst.with_name(f".{name}.{self.lab_id}")
                    tmp.write_text(before)
                    os.chmod(tmp, 0o755)
                    os.replace(tmp, dst)
                else:
                    dst.unlink()
            except OSError:
                pass

    def fail_bundle_upload(self, after: int | None) -> None:
        """The stand-in ec2-upload-bundle exits 1 after uploading `after` objects (None: no
        failure). reset() clears it."""
        if after is None:
            self._upload_fail.unlink(missing_ok=True)
        else:
            self._upload_fail.write_text(str(after))

    def hold_bundle_upload(self, hold: bool) -> None:
        """While held, the stand-in ec2-upload-bundle waits (60 s at most) before uploading,
        so a test that watches the instance's processes sees it run, then lets it go (False).
        reset() lets it go."""
        if hold:
            self._upload_hold.touch()
        else:
            self._upload_hold.unlink(missing_ok=True)

    def s3_objects(self) -> list[str]:
        """Every object in moto's S3, as "bucket/key"."""
        s3 = self._client("s3", self.region)
        return [f"{b['Name']}/{o['Key']}" for b in s3.list_buckets()["Buckets"]
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=b["Name"])
                for o in page.get("Contents", [])]

    def _write_akc_conf(self) -> None:
        values = {"ENDPOINT": f"http://127.0.0.1:{self.moto_port}", "REGIONS": " ".join(self.regions),
                  "SSH_USER": SSH_USER, "AWS_ACCESS_KEY_ID": self._creds[0],
                  "AWS_SECRET_ACCESS_KEY": self._creds[1]}
        tmp = self._akc_conf.with_suffix(".new")
        tmp.write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items()))
        os.chmod(tmp, 0o600)
        os.replace(tmp, self._akc_conf)

    def _start_sshd(self) -> None:
        self._sshd_log = self.tmp / "sshd.log"
        for _attempt in range(5):
            port = _free_port()
            config = self.tmp / "sshd_config"
            config.write_text(sshd_config(
                "sshd of a bakeami e2e lab (tests/e2e/lab.py)", port, self._host_key,
                self.tmp / "sshd.pid", SSH_USER, f"{self.akc} %u",
                "Subsystem sftp internal-sftp", f"SetEnv BAKEAMI_LAB={self.lab_id}",
                "PrintMotd no", "MaxStartups 200", "MaxSessions 64", "LoginGraceTime 60"))
            with open(self._sshd_log, "ab") as log:
                self._sshd = subprocess.Popen(
                    [*_DIE_WITH_US, "/usr/sbin/sshd", "-f", str(config), "-D", "-e"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env={"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self._sshd.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                        if s.recv(64).startswith(b"SSH-2.0-"):
                            self.ssh_port = port
                            return
                except OSError:
                    time.sleep(0.02)
            log_text = self._sshd_log.read_text(errors="replace")
            _kill(self._sshd)
            if "Address already in use" not in log_text:
                break
        raise LabError(f"sshd did not start: {log_text[-2000:]}")

    def kill_ssh_sessions(self) -> int:
        """Ends every process started over the lab's sshd, including those a killed bake left
        running without their SSH connection (sshd marks their environment with SetEnv), with
        their sessions and descendants. Returns how many there were."""
        marker = f"BAKEAMI_LAB={self.lab_id}".encode()
        procs = _processes()
        marked = set()
        for pid in procs:
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if marker in f.read().split(b"\0"):
                        marked.add(pid)
            except OSError:
                continue
        sessions = {procs[pid][3] for pid in marked}
        doomed = marked | {pid for pid, st in procs.items() if st[3] in sessions}
        for pid in list(doomed):  # what sudo (in its own session) started from there
            doomed.update(p for generation in _descendants(pid, procs) for p in generation)
        me, ancestors = os.getpid(), set()
        while me > 1 and me in procs:
            ancestors.add(me)
            me = int(procs[me][1])
        doomed -= ancestors
        if doomed:
            _terminate(doomed)
        return len(doomed)

    def cpu_seconds(self, settle: float = 3.0) -> dict[str, float]:
        """CPU seconds used so far by moto, and by sshd with every process it has reaped (its
        connections, the AuthorizedKeysCommand, the shells of the sessions): who a crowded run's
        wall went to. Waits up to `settle` s for sshd's finished connections to be reaped first."""
        deadline = time.monotonic() + settle
        while _descendants(self._sshd.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

        def used(pid: int, reaped: bool) -> float:
            times = _stat(pid)[11:15 if reaped else 13]  # utime stime, then cutime cstime
            return sum(int(x) for x in times) / os.sysconf("SC_CLK_TCK")
        return {"moto": used(self._moto.pid, False), "sshd": used(self._sshd.pid, True)}

    # -- talking to moto directly (not counted) --------------------------------------------
    def _client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            self._clients[key] = boto3.client(
                service, region_name=region, endpoint_url=f"http://127.0.0.1:{self.moto_port}",
                aws_access_key_id=self._creds[0], aws_secret_access_key=self._creds[1],
                config=Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5,
                              read_timeout=120, proxies={}))
        return self._clients[key]

    def client(self, service: str = "ec2", region: str | None = None):
        """A boto3 client talking to moto directly (its calls are not counted by the proxy)."""
        self._direct_use = True
        if service == "ec2":
            self._direct_regions.add(region or self.region)
        return self._client(service, region or self.region)

    def ec2(self, region: str | None = None):
        """lab.client("ec2", region)."""
        return self.client("ec2", region)

    @property
    def moto_url(self) -> str:
        """moto itself, bypassing the proxy (for tests that set things up behind a bake's back)."""
        self._direct_use = True
        return f"http://127.0.0.1:{self.moto_port}"

    def _moto_api(self, path: str, body: bytes = b"", content_type: str = "text/plain") -> bytes:
        req = urllib.request.Request(f"http://127.0.0.1:{self.moto_port}{path}", data=body, method="POST",
                                     headers={"Content-Type": content_type})
        with _NO_PROXY.open(req, timeout=60) as resp:
            return resp.read()

    def _warm(self, regions: list[str] | None = None) -> None:
        # The first call in a region makes moto load its ~1200 default AMIs (~1 s); do it now so
        # a bake's timings don't include it.
        for region in regions or self.regions:
            self._client("ec2", region).describe_images(Owners=["self"])

    def add_region(self, region: str) -> None:
        """Adds a lab region: warmed now and at every reset, its key pairs offered to sshd."""
        if region not in self.regions:
            self.regions.append(region)
            self._write_akc_conf()
            self._warm([region])

    def remove_region(self, region: str) -> None:
        """Undoes add_region (the lab is shared by the tests of a session)."""
        if region in self.regions[1:]:
            self.regions.remove(region)
            self._write_akc_conf()

    def reset(self) -> None:
        """Wipes moto (every service, every region), the call log and the fault rules, and
        ends whatever still runs on the "instance" (kill_ssh_sessions)."""
        self.kill_ssh_sessions()
        self._moto_api("/moto-api/reset")
        if self._auth_enabled:
            self._moto_api("/moto-api/reset-auth", b"inf")
            self._auth_enabled = False
            self._set_creds(*TEST_CREDS)
        self.fail_bundle_upload(None)
        self.hold_bundle_upload(False)
        self.proxy.reset_calls()
        self.proxy.clear_faults()
        self.proxy.clear_stand_ins()
        self.proxy.regions.clear()
        self._warm()
        self._clean_mark = self.proxy.total
        self._direct_use = False
        self._direct_regions.clear()

    @property
    def dirty(self) -> bool:
        """True when moto may have changed since the last reset (any call reached it)."""
        return self._direct_use or self._auth_enabled or self.proxy.total != self._clean_mark

    def _set_creds(self, key: str, secret: str) -> None:
        self._creds = (key, secret)
        self._clients.clear()
        self._write_akc_conf()

    def enable_iam_auth(self, actions: tuple[str, ...] = ("ec2:*", "ssm:*", "sts:*", "iam:PassRole"),
                        user: str = "bakeami-e2e") -> tuple[str, str]:
        """Makes moto check signatures and IAM policies (see reference/moto.md §3).

        Creates an IAM user allowed `actions`, switches lab.env(), the lab's own calls and sshd's
        key lookup to its key, and returns (access key id, secret). lab.reset() turns auth off.
        """
        self._moto_api("/moto-api/reset-auth", b"1000000")
        self._auth_enabled = True
        iam = self._client("iam", "us-east-1")
        iam.create_user(UserName=user)
        key = iam.create_access_key(UserName=user)["AccessKey"]
        iam.put_user_policy(UserName=user, PolicyName="bakeami-e2e", PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}))
        self._set_creds(key["AccessKeyId"], key["SecretAccessKey"])
        self._moto_api("/moto-api/reset-auth", b"0")
        return self._creds

    # -- what bakes see --------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The proxy: what AWS_ENDPOINT_URL points at."""
        return self.proxy.url

    def env(self, **overrides: str | None) -> dict[str, str]:
        """The environment for build/bakeami. Inherited AWS_* and proxy variables are dropped;
        an override of None removes a variable."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_") and k.lower() not in _PROXY_VARS}
        aws_dir = self.tmp / "aws"  # empty shared config files: nothing of the host's ~/.aws
        if not aws_dir.is_dir():
            aws_dir.mkdir()
            (aws_dir / "config").touch()
            (aws_dir / "credentials").touch()
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID=self._creds[0],
            AWS_SECRET_ACCESS_KEY=self._creds[1],
            AWS_REGION=self.region,
            AWS_EC2_METADATA_DISABLED="true",
            AWS_CONFIG_FILE=str(aws_dir / "config"),
            AWS_SHARED_CREDENTIALS_FILE=str(aws_dir / "credentials"),
            BAKEAMI_RETRY_BASE_MS="10",
            NO_PROXY="*", no_proxy="*",
        )
        for k, v in overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def ssh_vars(self) -> list[str]:
        """-var arguments pointing a template's SSH at the lab's sshd."""
        return ["-var", f"ssh_host={self.ssh_host}", "-var", f"ssh_port={self.ssh_port}"]

    # -- the call log and faults (see proxy.py) --------------------------------------------
    def calls(self, service: str | None = None, action: str | None = None) -> list[str]:
        """The Actions of the calls that went through the proxy, oldest first."""
        return [c.action for c in self.proxy.records(service, action)]

    def requests(self, service: str | None = None, action: str | None = None) -> list[Call]:
        """The calls with their details (params, status, fault, time, ...)."""
        return self.proxy.records(service, action)

    def reset_calls(self) -> None:
        self.proxy.reset_calls()

    def inject(self, action: str | None = None, kind: str = "throttle", count: int | None = 1,
               nth: int = 1, service: str | None = None, delay: float = 0.0, status: int | None = None,
               code: str | None = None, message: str | None = None, region: str | None = None,
               params: dict[str, str] | None = None, after: FaultRule | None = None,
               body: bytes | None = None, content_type: str | None = None) -> FaultRule:
        """Fault for matching calls nth..nth+count-1 (count None: all from nth on).

        kind: throttle (400 RequestLimitExceeded; ThrottlingException for JSON services),
        503, 500, error (status=, code=, message=), close (no response, FIN), reset (no
        response, RST), drop (forwarded to moto, then RST instead of the response),
        delay (delay= seconds, then forwarded), hold (kept at the proxy until clear_faults() or
        delay= seconds, then closed unanswered: it never reaches moto). delay= also delays any
        other kind. stale (a Describe call answered with its list empty, as EC2's eventual
        consistency can). raw (answered with body= and content_type=, status= or 200, never
        forwarded: an HTML error page, a wrong content type), truncate (forwarded, then half of
        moto's answer and the connection closed: a cut-off body). region= matches only calls
        signed for that region, params= only calls with
        those form/query parameters, after= only once that rule has fired.
        RunInstances and CopyImage are deduplicated by ClientToken as EC2 does (proxy.py).
        """
        return self.proxy.inject(action, kind, count, nth, service, delay, status, code, message, region,
                                 params, after, body, content_type)

    def clear_faults(self) -> None:
        self.proxy.clear_faults()

    def deprecations(self, region: str | None = None) -> dict[str, str | None]:
        """Image id -> DeprecateAt of the EnableImageDeprecation calls the proxy answered in
        `region` (default lab.region) since the last reset; None after a DisableImageDeprecation.
        moto lacks both calls: the proxy stands in for them (proxy.py _stand_in)."""
        region = region or self.region
        with self.proxy._lock:
            return {image: at for (r, image), at in self.proxy.deprecations.items() if r == region}

    def wait_for_call(self, action: str, timeout: float = 30.0, service: str | None = None,
                      count: int = 1) -> Call:
        """Blocks until the count-th call of `action` reached the proxy (e.g. to cancel a bake
        then). It returns on arrival: the call may still be under way (status None)."""
        return self.proxy.wait_for(action, service, timeout, count)

    def active_regions(self) -> list[str]:
        """The lab's regions plus, since the last reset, every region a call through the proxy
        was signed for or a lab.ec2(region) client was handed out for."""
        with self.proxy._lock:
            seen = self.proxy.regions | self._direct_regions
        return self.regions + sorted(seen - set(self.regions))

    # -- leaks -----------------------------------------------------------------------------
    def _custom_catalogue_ids(self) -> set[str]:
        """AMIs of a MOTO_AMIS_PATH catalogue: they may lack an owner and so look self-owned."""
        path = self.moto_env.get("MOTO_AMIS_PATH")
        if not path:
            return set()
        return {a["ami_id"] for a in json.loads(Path(path).read_text())}

    def leftovers(self, region: str | None = None, allow_images=(), allow_s3=()) -> "Leftovers":
        """What bakes may have left in `region` (default: lab.region), as kind -> descriptions
        for the non-empty kinds among instances (not terminated), key_pairs,
        security_groups (not 'default'), images (owned by self), snapshots (owned by self),
        volumes (available, i.e. detached) and launch_templates; empty when clean. A missing kind reads as [].
        Images in allow_images, and their snapshots, are not reported. In the lab's first region
        also s3_objects (S3 is global): every object but those under a "bucket/prefix" of
        allow_s3 (an amazon-instance image's bundle); and iam_roles and instance_profiles
        (IAM is global, iam_leftovers)."""
        ec2 = self._client("ec2", region or self.region)
        allowed = set(allow_images) | self._catalogue
        found: dict[str, list[str]] = {
            "instances": [f"{i['InstanceId']} ({i['State']['Name']})"
                          for i in self.instances(region) if i["State"]["Name"] != "terminated"],
            "key_pairs": [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]],
            "security_groups": [f"{g['GroupId']} ({g['GroupName']})"
                                for g in ec2.describe_security_groups()["SecurityGroups"]
                                if g["GroupName"] != "default"],
        }
        images = ec2.describe_images(Owners=["self"])["Images"]
        found["images"] = [f"{i['ImageId']} ({i.get('Name', '')})" for i in images if i["ImageId"] not in allowed]
        kept_snapshots = {m["Ebs"]["SnapshotId"] for i in images if i["ImageId"] in allowed
                          for m in i.get("BlockDeviceMappings", []) if "SnapshotId" in m.get("Ebs", {})}
        # DescribeSnapshots ignores Owner and lists the default AMIs' snapshots too: filter by
        # owner-id (no default AMI belongs to moto's account).
        found["snapshots"] = [
            f"{s['SnapshotId']} ({s.get('Description', '')})"
            for s in ec2.describe_snapshots(Filters=[{"Name": "owner-id", "Values": [ACCOUNT_ID]}])["Snapshots"]
            if s["SnapshotId"] not in kept_snapshots
            and not set(_AMI_ID.findall(s.get("Description", ""))) & allowed]
        found["volumes"] = [f"{v['VolumeId']} ({v['State']})" for v in ec2.describe_volumes()["Volumes"]
                            if v["State"] == "available"]
        found["launch_templates"] = [f"{t['LaunchTemplateId']} ({t['LaunchTemplateName']})"
                                     for t in ec2.describe_launch_templates()["LaunchTemplates"]]
        if (region or self.region) == self.region:
            found["s3_objects"] = [o for o in self.s3_objects()
                                   if not any(o.startswith(p) for p in allow_s3)]
            found.update(self.iam_leftovers())
        return Leftovers((k, v) for k, v in found.items() if v)

    def instances(self, region: str | None = None) -> list[dict]:
        """Every instance moto knows in `region` (default: lab.region), terminated ones too, from
        every page: moto answers DescribeInstances 100 reservations a page, and a session that
        keeps its terminated instances (the fault matrix) passes that."""
        ec2 = self._client("ec2", region or self.region)
        return [i for page in ec2.get_paginator("describe_instances").paginate()
                for r in page["Reservations"] for i in r["Instances"]]

    def iam_leftovers(self) -> dict[str, list[str]]:
        """IAM is global: the roles and instance profiles a bake made (path /bakeami/), with
        the inline policies and the role each still holds."""
        iam = self._client("iam", "us-east-1")
        return {
            "iam_roles": [f"{r['RoleName']} (policies {iam.list_role_policies(RoleName=r['RoleName'])['PolicyNames']})"
                          for r in iam.list_roles(PathPrefix="/bakeami/")["Roles"]],
            "instance_profiles": [f"{p['InstanceProfileName']} (roles {[r['RoleName'] for r in p['Roles']]})"
                                  for p in iam.list_instance_profiles(PathPrefix="/bakeami/")["InstanceProfiles"]],
        }

    def assert_clean(self, region: str | None = None, allow_images=(), allow_s3=()) -> None:
        """Fails listing what is left in `region`, or in every active region when None."""
        regions = [region] if region else self.active_regions()
        left = {r: found for r in regions if (found := self.leftovers(r, allow_images, allow_s3))}
        if left:
            raise AssertionError("resources left behind in moto:\n" + format_leftovers(left))


def format_leftovers(left: dict[str, dict[str, list[str]]]) -> str:
    return "\n".join(f"  {region} {kind}: {', '.join(items)}"
                     for region, found in left.items() for kind, items in found.items())
