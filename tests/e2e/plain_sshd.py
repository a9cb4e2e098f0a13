"""A throwaway OpenSSH sshd on 127.0.0.1 and a free high port, for the e2e
tests that drive the SSH layer directly (test_ssh_layer.py, test_verify_layer.py).

- free_port(), sh(cmd), wait_listening(port, proc, what): small helpers.
- Sshd(work, port, allow_user, hide=()): an sshd with its own config, host
  key, pid file and authorized_keys file (work/authorized_keys); with hide,
  those programs of /usr/bin are absent for it and its sessions (a private
  mount namespace); stop() ends it.
- fixtures(user=..., shell=..., work_prefix=...): the module-scoped fixtures
  work, user and sshd for one test file:
      work, user, sshd = plain_sshd.fixtures(user=USER, shell="/bin/sh",
                                             work_prefix="bakeami-ssh-e2e-")
- require_root_and_sshd(): fails (never skips) when the lab's prerequisites,
  which tests/deps.sh installs, are missing.

The test user gets passwordless sudo through /etc/sudoers.d/<user>, removed
again when the module's tests are done. sudo is installed by tests/deps.sh:
without it the user fixture fails (it does not skip). Needs root; nothing
leaves loopback.
"""
import os
import pathlib
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

SSHD = "/usr/sbin/sshd"

def require_root_and_sshd():
    if os.geteuid() != 0 or not os.path.exists(SSHD) or not shutil.which("ssh-keygen"):
        pytest.fail("needs root, /usr/sbin/sshd and ssh-keygen (run tests/deps.sh as root)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True, **kw)


def wait_listening(port, proc, what, log=None):
    """Wait up to 10 s for a TCP listener on 127.0.0.1:port; fail if proc
    exits first (with the text of the file log, when given)."""
    until = time.monotonic() + 10
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited" +
                                 (f":\n{pathlib.Path(log).read_text()}" if log else ""))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


class Sshd:
    """sshd on 127.0.0.1:port, its files in work/sshd-<port>; only allow_user
    may log in, with a key from work/authorized_keys.

    hide: names of programs in /usr/bin (e.g. ss, netstat) that do not exist
    for this sshd and its sessions, sudo included, as on a minimal image: it
    runs in its own mount namespace (unshare -m, private propagation), where
    /usr/bin is an overlay whose upper layer has whiteouts for them. Nothing
    changes for the rest of the machine."""

    def __init__(self, work, port, allow_user, hide=()):
        self.dir = work / f"sshd-{port}"
        self.dir.mkdir()
        self.port = port
        self.hostkey = self.dir / "hostkey"
        self.pidfile = self.dir / "sshd.pid"
        self.authorized_keys = work / "authorized_keys"
        sh(f"ssh-keygen -q -t ed25519 -N '' -f {self.hostkey}")
        (self.dir / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {self.hostkey}\n"
            f"PidFile {self.pidfile}\nUsePAM no\nStrictModes no\n"
            f"AuthorizedKeysFile {self.authorized_keys}\nPasswordAuthentication no\n"
            "KbdInteractiveAuthentication no\nSubsystem sftp internal-sftp\n"
            "AcceptEnv LANG LC_*\n"
            f"AllowUsers {allow_user}\nMaxSessions 50\nMaxStartups 50\nLogLevel VERBOSE\n")
        self.log = open(self.dir / "log", "w")
        os.makedirs("/run/sshd", exist_ok=True)
        cmd = [SSHD, "-f", str(self.dir / "sshd_config"), "-D", "-e"]
        self.proc = subprocess.Popen(self._hiding(hide) + cmd, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_listening(port, self.proc, "sshd", log=self.dir / "log")
        except BaseException:
            self.stop()
            raise

    def _hiding(self, names):
        """The command prefix that runs sshd (same pid: exec) with names
        missing from /usr/bin (/bin is a link to it on Debian 12)."""
        if not names:
            return []
        upper, scratch = self.dir / "bin-upper", self.dir / "bin-work"
        upper.mkdir()
        scratch.mkdir()
        for name in names:
            os.mknod(upper / name, 0o600 | stat.S_IFCHR, os.makedev(0, 0))   # a whiteout
        mount = (f"mount -t overlay overlay -o lowerdir=/usr/bin,upperdir={upper},"
                 f"workdir={scratch} /usr/bin")
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'{mount} && exec "$0" "$@"']

    def authorize(self, public_line):
        """Append one public key line to the authorized_keys file."""
        with open(self.authorized_keys, "a") as f:
            f.write(public_line.rstrip("\n") + "\n")

    def fingerprint(self):
        return sh(f"ssh-keygen -lf {self.hostkey}.pub").stdout.split()[1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def fixtures(*, user, shell, work_prefix):
    """The module-scoped fixtures (work, user, sshd) for one test file.

    work: a 0755 temp folder (sshd reads authorized_keys as the test user,
    and pytest's 0700 tmp_path is not traversable), removed afterwards.
    user: the account `user` with login shell `shell` (made if missing),
    key login allowed, passwordless sudo; its pwd entry.
    sshd: an Sshd for `user` on a free port, with an empty authorized_keys."""
    name = user

    @pytest.fixture(scope="module")
    def work():
        d = pathlib.Path(tempfile.mkdtemp(prefix=work_prefix))
        d.chmod(0o755)
        yield d
        shutil.rmtree(d, ignore_errors=True)

    @pytest.fixture(scope="module")
    def user():
        if not shutil.which("sudo"):
            pytest.fail(f"sudo is not installed: the test user {name} needs passwordless sudo "
                        "(run tests/deps.sh as root, or apt-get install sudo)", pytrace=False)
        try:
            pwd.getpwnam(name)
        except KeyError:
            sh(f"useradd -m -s {shell} {name}")
        # A user left by an older run may have another shell; the tests
        # assert this one. A locked ("!") account is refused.
        sh(f"usermod -s {shell} -p '*' {name}")
        sudoers = pathlib.Path(f"/etc/sudoers.d/{name}")
        sudoers.write_text(f"{name} ALL=(ALL) NOPASSWD:ALL\n")
        sudoers.chmod(0o440)
        try:
            yield pwd.getpwnam(name)
        finally:
            sudoers.unlink(missing_ok=True)

    @pytest.fixture(scope="module")
    def sshd(work, user):
        require_root_and_sshd()
        (work / "authorized_keys").write_text("")
        (work / "authorized_keys").chmod(0o644)
        d = Sshd(work, free_port(), name)
        yield d
        d.stop()

    return work, user, sshd
