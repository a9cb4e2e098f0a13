"""pytest fixtures for the end-to-end tests (see lab.py).

- lab (session): moto + fault proxy + sshd, started once, stopped at the end.
- puppet_server (session): the real Puppet server (puppetserver.py), started when first needed.
- clean_lab: a reset lab for this test; after it, nothing may be left in moto except the
  images the test names with clean_lab.keep_images([...]) (or any image, with
  @pytest.mark.keeps_images) and their snapshots, and the S3 objects under the
  "bucket/prefix" named with clean_lab.keep_s3(...) (a kept instance-store image's bundle).
- bakeami: run(args, ...) / start(args, ...) build/bakeami with the lab's environment.
- example: example("web.json") copies examples/ into the test's tmp dir, returns the template.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab import BAKEAMI, BUILD, REPO, Lab  # noqa: E402

# make check-asan: where ASan/UBSan write their reports (one file per process with a finding).
SAN_REPORTS = os.environ.get("BAKEAMI_SAN_REPORTS")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "keeps_images: the test may leave any images owned by the account "
                   "(and their snapshots); everything else must still be cleaned up")
    config.addinivalue_line(
        "markers", "valgrind: runs a binary under valgrind (given to every test whose name "
                   "says valgrind; make check-asan deselects them: valgrind cannot run ASan binaries)")
    config.addinivalue_line(
        "markers", "jni: drives the library through the Java shim (every test of "
                   "test_jenkins_shim.py; make check-asan deselects them: the JVM would need "
                   "libasan preloaded)")


def pytest_collection_modifyitems(items):
    for item in items:
        if "valgrind" in item.name:
            item.add_marker(pytest.mark.valgrind)
        if item.path.name == "test_jenkins_shim.py":
            item.add_marker(pytest.mark.jni)


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """Under make check-asan: a sanitizer report written during the test fails it."""
    if not SAN_REPORTS:
        yield
        return
    before = set(os.listdir(SAN_REPORTS))
    yield
    new = sorted(set(os.listdir(SAN_REPORTS)) - before)
    if new:
        texts = [(Path(SAN_REPORTS) / n).read_text(errors="replace")[:8000] for n in new]
        pytest.fail("sanitizer reports:\n" + "\n".join(texts), pytrace=False)


@pytest.fixture(scope="session")
def lab():
    with Lab() as the_lab:
        yield the_lab


@pytest.fixture(scope="session")
def puppet_server():
    """The real Puppet server on loopback (puppetserver.py): started once per session, by the
    first test that asks for it (about a minute), shared by every file, stopped at the end."""
    from puppetserver import PuppetServer
    server = PuppetServer().start()
    _FIGURES.append(f"Puppet server (puppetserver.py) ready after {server.start_seconds:.1f} s")
    yield server
    server.stop()


class CleanLab:
    """The lab, for one test; plus keep_images() for images the test expects to remain."""

    def __init__(self, lab: Lab):
        self.lab = lab
        self.kept: set[str] = set()
        self.kept_s3: set[str] = set()

    def keep_images(self, image_ids) -> None:
        self.kept.update([image_ids] if isinstance(image_ids, str) else image_ids)

    def keep_s3(self, prefix: str) -> None:
        """S3 objects under "bucket/prefix" may remain (a kept amazon-instance image's bundle)."""
        self.kept_s3.add(prefix)

    def __getattr__(self, name):
        return getattr(self.lab, name)


@pytest.fixture
def clean_lab(lab: Lab, request):
    if lab.dirty:
        lab.reset()
    else:  # moto untouched since the last reset: skip the ~1 s catalogue reload
        lab.reset_calls()
        lab.clear_faults()
    cl = CleanLab(lab)
    yield cl
    lab.clear_faults()
    allowed = set(cl.kept)
    if request.node.get_closest_marker("keeps_images"):
        for region in lab.active_regions():
            allowed.update(i["ImageId"] for i in lab.ec2(region).describe_images(Owners=["self"])["Images"])
    lab.assert_clean(allow_images=allowed, allow_s3=cl.kept_s3)


class Bakeami:
    """Runs build/bakeami with the lab's environment, in the test's tmp dir by default."""

    path = BAKEAMI

    def __init__(self, lab: Lab, cwd: Path):
        self.lab = lab
        self.cwd = cwd
        self._procs: list[subprocess.Popen] = []

    def _cmd(self, args, wrapper) -> list[str]:
        if not BAKEAMI.exists():
            pytest.fail(f"{BAKEAMI} is not built: run `make`")
        return [*(wrapper or []), str(BAKEAMI), *map(str, args)]

    def run(self, args, env_extra: dict | None = None, timeout: float = 120, cwd=None,
            wrapper: list[str] | None = None, input: str | None = None) -> subprocess.CompletedProcess:
        """Runs to completion; returns returncode, stdout, stderr (text). wrapper: e.g. valgrind.
        Past the timeout it gets SIGTERM (a bake then cleans up), and the test fails."""
        cmd = self._cmd(args, wrapper)
        with subprocess.Popen(cmd, env=self.lab.env(**(env_extra or {})), cwd=cwd or self.cwd,
                              stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
            try:
                out, err = proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                out, err = _stop(proc)
                pytest.fail(f"{' '.join(cmd)} still running after {timeout}s (sent SIGTERM)\n"
                            f"stdout:\n{out}\nstderr:\n{err}")
        # UBSan (beside ASan) ignores log_path: its report is on stderr, and the exit is 87.
        if SAN_REPORTS and "runtime error:" in err:
            pytest.fail(f"{' '.join(cmd)}: UBSan report\n{err[-8000:]}", pytrace=False)
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def start(self, args, env_extra: dict | None = None, cwd=None,
              wrapper: list[str] | None = None) -> subprocess.Popen:
        """Starts it and returns the Popen: iterate proc.stdout for live lines (text, line
        buffered), proc.send_signal(...), proc.wait(timeout). stderr is a pipe too. A process
        still running after the test gets SIGTERM (then SIGKILL) before the leak check."""
        proc = subprocess.Popen(self._cmd(args, wrapper), env=self.lab.env(**(env_extra or {})),
                                cwd=cwd or self.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, bufsize=1)
        self._procs.append(proc)
        return proc

    def _finish(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                _stop(proc)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()


def _stop(proc: subprocess.Popen, grace: float = 60) -> tuple[str, str]:
    """SIGTERM (a bake cleans up and exits 130), SIGKILL after `grace` s; returns the rest of
    its output."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out or "", err or ""


@pytest.fixture
def bakeami(lab: Lab, clean_lab: CleanLab, tmp_path: Path):
    runner = Bakeami(lab, tmp_path)
    yield runner
    runner._finish()


@pytest.fixture
def example(tmp_path: Path):
    """example("web.json") -> path of a copy of examples/web.json (the whole examples/ tree
    is copied, so files next to the template come along)."""

    def copy(name: str = "web.json") -> Path:
        dst = tmp_path / "examples"
        if not dst.exists():
            shutil.copytree(REPO / "examples", dst)
        template = dst / name
        if not template.exists():
            pytest.fail(f"examples/{name} does not exist")
        return template

    return copy


# ---- figures the harness prints at the end of the run ----------------------
_FIGURES: list[str] = []


@pytest.fixture
def report_figure():
    """report_figure("EC2 calls ...: 13") prints the line in pytest's summary."""
    return _FIGURES.append


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("bakeami figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


def probe_binary(name: str) -> Path:
    """<build>/probes/<name> (build/ or BAKEAMI_BUILD), made by the Makefile from
    tests/e2e/<name>.c."""
    build = os.path.relpath(BUILD, REPO)
    subprocess.run(["make", "-s", f"BUILD={build}", f"{build}/probes/{name}"], cwd=REPO, check=True)
    return BUILD / "probes" / name
