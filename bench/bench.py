#!/usr/bin/env python3
"""`make bench`: bakeami against Debian's Packer 1.6.6 on the same local lab, side by side.

One lab (moto behind the counting proxy, a real sshd on 127.0.0.1) is started and warmed once;
every measurement alternates the two tools (A B A B ...) so drift in the machine's load hits
both alike. Results go to stdout and to the top of bench/RESULTS.md (earlier results are kept
below). Wall times are monotonic-clock seconds around the process; peak RSS is GNU time's
"Maximum resident set size" (`/usr/bin/time -f %M`): a child forked from this Python process
would report Python's own RSS in ru_maxrss, so every measured command runs under time(1).

    bench/bench.py [--pairs N] [--many N] [--only one,many,upload,latency,waits,reuse] [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "e2e"))
from lab import BAKEAMI, BUILD, REPO, SSH_USER, Lab  # noqa: E402

RESULTS = HERE / "RESULTS.md"
PACKER = shutil.which("packer") or "/usr/bin/packer"
GNU_TIME = "/usr/bin/time"
PARALLEL_PROBE = BUILD / "probes" / "parallel_probe"
LATENCY_PROBE = BUILD / "probes" / "latency_probe"
MARK = "<!-- bench results: newest first -->"


# ---- running and measuring one process ---------------------------------------------------
@dataclass
class Run:
    rc: int
    wall: float
    rss_mb: float
    out: str
    err: str
    calls: list[str] = field(default_factory=list)
    service: float = 0.0  # the lab's time for those calls: arrival to answer at the proxy, summed


def measured(cmd: list[str], env: dict[str, str], cwd: Path, lab: Lab | None = None) -> Run:
    """Runs cmd to the end; its wall time, exit code, peak RSS and output (and, with a lab,
    the EC2 calls it made through the proxy)."""
    if lab:
        lab.reset_calls()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.monotonic()
        proc = subprocess.run(timed(cmd, rss.name), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              stdout=out, stderr=err)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        run = Run(proc.returncode, wall, peak_mb(rss.name), out.read().decode(errors="replace"),
                  err.read().decode(errors="replace"))
    if lab:
        reqs = lab.requests(service="ec2")
        run.calls, run.service = [c.action for c in reqs], sum(c.duration for c in reqs)
    return run


def timed(cmd: list[str], rss_file: str) -> list[str]:
    return [GNU_TIME, "-q", "-f", "%M", "-o", rss_file, *cmd]


def peak_mb(rss_file: str) -> float:
    """time(1)'s %M (KiB) as MB; its file may also hold "Command exited with non-zero status"."""
    text = Path(rss_file).read_text().split()
    return int(text[-1]) / 1024 if text and text[-1].isdigit() else float("nan")


def started(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    with open(log, "wb") as f:
        return subprocess.Popen(timed(cmd, f"{log}.rss"), cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=f, stderr=subprocess.STDOUT)


def reap_all(procs: list[subprocess.Popen], logs: list[Path]) -> tuple[list[int], list[float]]:
    """Waits for every process: exit codes and peak RSS (MB), in order."""
    rcs = [p.wait() for p in procs]
    return rcs, [peak_mb(f"{log}.rss") for log in logs]


def stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def fmt(s: dict[str, float], unit: str = "s", digits: int = 3) -> str:
    return f"{s['median']:.{digits}f} {unit} ({s['min']:.{digits}f}–{s['max']:.{digits}f})"


def fail(what: str, run: Run) -> None:
    raise SystemExit(f"bench: {what} failed (exit {run.rc}):\n{run.out[-3000:]}\n{run.err[-3000:]}")


# ---- the template both tools bake ---------------------------------------------------------
def write_files(work: Path) -> Path:
    """The directory the file provisioner uploads: 20 small files, as a typical bake has."""
    files = work / "files"
    files.mkdir()
    for i in range(20):
        (files / f"conf-{i:02d}.txt").write_text(f"setting_{i} = {i * 7}\n" * 20)
    return files


def template(lab: Lab, work: Path, provisioners: list[dict], name: str = "bench") -> Path:
    """One Packer 1.6.6 template both tools run unchanged: a filter-resolved source, the lab's
    endpoint and sshd, 1 s polling for Packer's waiters (reference/packer-amazon.md §6)."""
    key, secret = lab._creds
    tpl = {
        "builders": [{
            "type": "amazon-ebs",
            "region": lab.region,
            "access_key": key,
            "secret_key": secret,
            "custom_endpoint_ec2": lab.endpoint,
            "skip_region_validation": True,
            "aws_polling": {"delay_seconds": 1, "max_attempts": 600},
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64",
                                              "virtualization-type": "hvm"},
                                  "owners": ["amazon"], "most_recent": True},
            "instance_type": "t3.micro",
            "ssh_username": SSH_USER,
            "ssh_host": lab.ssh_host,
            "ssh_port": lab.ssh_port,
            "ssh_timeout": "2m",
            "ami_name": f"{name} {{{{timestamp}}}} {{{{uuid}}}}",
            "tags": {"Name": name, "SourceAMI": "{{.SourceAMI}}"},
        }],
        "provisioners": provisioners,
    }
    path = work / f"{name}.json"
    path.write_text(json.dumps(tpl, indent=2))
    return path


def standard_provisioners(files: Path) -> list[dict]:
    return [
        {"type": "shell", "inline": ["echo provisioning on $(hostname)", "uname -r",
                                     "for i in 1 2 3; do echo step $i; done"]},
        {"type": "shell", "inline": ["mkdir -p /tmp/bench-conf", "echo ready"]},
        {"type": "file", "source": f"{files}/", "destination": "/tmp/bench-conf"},
    ]


def tool_env(lab: Lab, work: Path) -> dict[str, str]:
    env = lab.env(HOME=str(work / "home"), CHECKPOINT_DISABLE="1", PACKER_CACHE_DIR=str(work / "cache"),
                  PACKER_NO_COLOR="1")
    (work / "home").mkdir(exist_ok=True)
    return env


def bakeami_cmd(tpl: Path, *extra: str) -> list[str]:
    return [str(BAKEAMI), "bake", "--log-format", "json", *extra, str(tpl)]


def packer_cmd(tpl: Path) -> list[str]:
    return [PACKER, "build", "-color=false", str(tpl)]


def stage_times(json_log: str) -> dict[str, float]:
    """Seconds per stage from bakeami's JSON events: each state transition starts a stage."""
    marks: list[tuple[float, str]] = []
    end = 0.0
    for line in json_log.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        end = max(end, ev.get("t", 0.0))
        if ev.get("kind") == "state":
            m = re.search(r"-> \[(\w+)\]", ev.get("text", ""))
            if m:
                marks.append((ev["t"], m.group(1)))
    out: dict[str, float] = {}
    for (t, st), nxt in zip(marks, marks[1:] + [(end, "")]):
        out[st] = out.get(st, 0.0) + (nxt[0] - t)
    return out


# ---- 1. one bake -------------------------------------------------------------------------
def bench_one(lab: Lab, work: Path, pairs: int, files: Path) -> dict:
    tpl = template(lab, work, standard_provisioners(files))
    env = tool_env(lab, work)
    version = measured([str(BAKEAMI), "version"], env, REPO)
    if version.rc != 0:
        fail("bakeami version", version)
    runs: dict[str, list[Run]] = {"bakeami": [], "packer": []}
    for _ in range(pairs):
        for tool, cmd in (("bakeami", bakeami_cmd(tpl)), ("packer", packer_cmd(tpl))):
            r = measured(cmd, env, work, lab)
            if r.rc != 0:
                fail(f"{tool} build", r)
            runs[tool].append(r)
            lab.reset()
    ratios = [a.wall / b.wall for a, b in zip(runs["bakeami"], runs["packer"])]
    n_calls = int(statistics.median(len(r.calls) for r in runs["bakeami"]))
    floor_calls = statistics.median(r.service for r in runs["bakeami"])
    floor_describes = statistics.median(describes_floor(lab, n_calls) for _ in range(5))
    floor_ssh = statistics.median(akc_login(lab) for _ in range(5))
    lab.reset()
    stages: dict[str, list[float]] = {}
    for r in runs["bakeami"]:
        for st, s in stage_times(r.out).items():
            stages.setdefault(st, []).append(s)
    return {
        "pairs": pairs,
        "wall": {t: stats([r.wall for r in rs]) for t, rs in runs.items()},
        "ratio": stats(ratios),
        "calls": {t: stats([len(r.calls) for r in rs]) for t, rs in runs.items()},
        "call_list": {t: rs[-1].calls for t, rs in runs.items()},
        "rss": {t: stats([r.rss_mb for r in rs]) for t, rs in runs.items()},
        "version_rss": version.rss_mb,
        "stages": {st: statistics.median(v) for st, v in stages.items()},
        "floor": {"calls": floor_calls, "describes": floor_describes, "n_calls": n_calls, "ssh": floor_ssh},
        "rss_map": rss_by_mapping(lab, work, files),
    }


def rss_by_mapping(lab: Lab, work: Path, files: Path) -> list[tuple[str, float]]:
    """Where a bake's resident memory is, by mapping (MB), read from /proc/PID/smaps while a
    last provisioner sleeps: after the connect, the uploads and every AWS call before imaging."""
    tpl = template(lab, work, standard_provisioners(files) + [
        {"type": "shell", "inline": ["echo bench-rss-mark", "sleep 2"]}], name="rss")
    proc = subprocess.Popen(bakeami_cmd(tpl), cwd=work, env=tool_env(lab, work), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    agg: dict[str, int] = {}
    for line in proc.stdout:
        if "bench-rss-mark" in line:
            name = "[anon]"
            for row in Path(f"/proc/{proc.pid}/smaps").read_text().splitlines():
                m = re.match(r"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$", row)
                if m:
                    name = Path(m.group(1)).name if m.group(1).startswith("/") else (m.group(1) or "[anon]")
                elif row.startswith("Rss:"):
                    agg[name] = agg.get(name, 0) + int(row.split()[1])
    if proc.wait() != 0 or not agg:
        raise SystemExit("bench: the RSS bake failed")
    lab.reset()
    return [(k, v / 1024) for k, v in sorted(agg.items(), key=lambda kv: -kv[1])]


# ---- 2. many bakes at once ----------------------------------------------------------------
def describes_floor(lab: Lab, n_calls: int) -> float:
    """Earlier sections' floor, kept to compare with them: n_calls cheap DescribeInstances sent
    back to back by boto3 straight to moto (no proxy), in place of the bakes' own calls."""
    ec2 = lab._client("ec2", lab.region)
    t0 = time.monotonic()
    for _ in range(n_calls):
        ec2.describe_instances()
    return time.monotonic() - t0


def cpu_by_part(lab: Lab, run):
    """run()'s result and the CPU seconds it cost, by part: moto; sshd with what it reaped (the
    AuthorizedKeysCommand, the instance's shells); this process (the proxy's threads); and the
    tool under test (the processes this one waited for)."""
    def now() -> dict[str, float]:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return {**lab.cpu_seconds(), "proxy": me.ru_utime + me.ru_stime, "tool": kids.ru_utime + kids.ru_stime}
    before = now()
    out = run()
    after = now()
    return out, {k: after[k] - before[k] for k in after}


def bench_many(lab: Lab, work: Path, n: int, files: Path, ssh_part: float, calls_per_bake: int) -> dict:
    tpl = template(lab, work, standard_provisioners(files), name="many")
    env = tool_env(lab, work)
    singles = []
    for _ in range(5):
        singles.append(measured([str(PARALLEL_PROBE), "1", str(tpl)], env, work, lab))
        if singles[-1].rc != 0:
            fail("one bake through the library", singles[-1])
        lab.reset()
    single = sorted(singles, key=lambda r: r.wall)[2]
    inproc, inproc_cpu = cpu_by_part(lab, lambda: measured([str(PARALLEL_PROBE), str(n), str(tpl)], env, work, lab))
    if inproc.rc != 0:
        fail(f"{n} bakes in one process", inproc)
    mixed = [ln for ln in inproc.out.splitlines() if "mixed=0" not in ln and ln.startswith("bake ")]
    lab.reset()
    floor = n * statistics.median(r.service for r in singles) + ssh_part
    cheap = describes_floor(lab, n * calls_per_bake) + ssh_part
    lab.reset()
    procs: dict[str, dict] = {}
    for tool, mk in (("bakeami", lambda: bakeami_cmd(tpl)), ("packer", lambda: packer_cmd(tpl))):
        logs = [work / f"{tool}-{i}.log" for i in range(n)]

        def run_all(mk=mk, logs=logs):
            t0 = time.monotonic()
            rcs, rss = reap_all([started(mk(), env, work, log) for log in logs], logs)
            return time.monotonic() - t0, rcs, rss
        (wall, rcs, rss), cpu = cpu_by_part(lab, run_all)
        failed = [log for log, rc in zip(logs, rcs) if rc != 0]
        procs[tool] = {"wall": wall, "ok": rcs.count(0), "rss_sum": sum(rss), "rss_max": max(rss), "cpu": cpu,
                       "first_failure": failed and failed[0].read_text(errors="replace").strip().splitlines()[-6:]}
        lab.reset()
    describes = ("DescribeImages", "DescribeInstances")
    return {"n": n, "single_wall": single.wall, "single_rss": single.rss_mb, "wall": inproc.wall,
            "rss": inproc.rss_mb, "cpu": inproc_cpu, "ok": inproc.out.count("rc=0 "), "mixed": len(mixed),
            "floor": floor, "floor_describes": cheap, "calls_per_bake": calls_per_bake, "procs": procs,
            "single_calls": len(single.calls), "calls": len(inproc.calls),
            "single_describes": sum(c in describes for c in single.calls),
            "describes": sum(c in describes for c in inproc.calls)}


# ---- 3. upload ---------------------------------------------------------------------------
def ssh_key(lab: Lab, work: Path) -> Path:
    """A key the lab's sshd accepts (it offers every key pair moto holds) for ssh/sftp/scp;
    imported again when a lab reset removed it."""
    key = work / "bench_key"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    ec2 = lab._client("ec2", lab.region)
    if not ec2.describe_key_pairs(Filters=[{"Name": "key-name", "Values": ["bench-openssh"]}])["KeyPairs"]:
        ec2.import_key_pair(KeyName="bench-openssh", PublicKeyMaterial=(work / "bench_key.pub").read_bytes())
    return key


def akc_login(lab: Lab) -> float:
    """What sshd spends on one public-key login here before any tool's work: the lab's
    AuthorizedKeysCommand runs twice (for the key query, then for the signed request)."""
    t0 = time.monotonic()
    for _ in range(2):
        subprocess.run([str(lab.akc), SSH_USER], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def openssh(tool: str, key: Path, lab: Lab, src: Path, dest: str, work: Path) -> float:
    opts = ["-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", f"UserKnownHostsFile={work}/kh",
            "-o", "BatchMode=yes", "-q"]
    target = f"{SSH_USER}@{lab.ssh_host}"
    if tool == "sftp":
        batch = f"put -r {shlex.quote(str(src))} {shlex.quote(dest)}\n"
        cmd = ["sftp", *opts, "-P", str(lab.ssh_port), "-b", "-", target]
    else:
        batch = None
        cmd = ["scp", *opts, "-r", "-P", str(lab.ssh_port), str(src), f"{target}:{dest}"]
    t0 = time.monotonic()
    subprocess.run(cmd, input=batch, text=True, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - t0


def provisioner_seconds(json_log: str) -> float:
    return stage_times(json_log).get("PROVISION", float("nan"))


def clear_dest() -> None:
    subprocess.run(["rm", "-rf", "/tmp/bench-upload"], check=True)


def bench_upload(lab: Lab, work: Path, pairs: int) -> dict:
    big = work / "big.bin"
    with open(big, "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    small = work / "small"
    small.mkdir()
    for i in range(2000):
        (small / f"f{i:04d}").write_bytes(os.urandom(512 + i % 1024))
    key = ssh_key(lab, work)
    env = tool_env(lab, work)
    cases = {"256 MiB file": big, "2,000 small files": small}
    out: dict[str, dict] = {}
    for label, src in cases.items():
        tpl = template(lab, work, [
            {"type": "shell", "inline": ["mkdir -p /tmp/bench-upload"]},
            {"type": "file", "source": str(src) + ("/" if src.is_dir() else ""),
             "destination": "/tmp/bench-upload/" + ("" if src.is_dir() else "big.bin")}],
            name="upload")
        times: dict[str, list[float]] = {"bakeami": [], "sftp": [], "scp": []}
        for _ in range(pairs):
            clear_dest()
            r = measured(bakeami_cmd(tpl), env, work, lab)
            if r.rc != 0:
                fail(f"upload of {label}", r)
            lab.reset()
            lab._client("ec2", lab.region).import_key_pair(
                KeyName="bench-openssh", PublicKeyMaterial=(work / "bench_key.pub").read_bytes())
            times["bakeami"].append(upload_seconds(r.out))
            for tool in ("sftp", "scp"):
                clear_dest()
                subprocess.run(["mkdir", "-p", "/tmp/bench-upload"], check=True)
                subprocess.run(["chown", SSH_USER, "/tmp/bench-upload"], check=True)
                times[tool].append(openssh(tool, key, lab, src, "/tmp/bench-upload/", work))
        size = sum(p.stat().st_size for p in ([src] if src.is_file() else src.iterdir()))
        out[label] = {"bytes": size, **{t: stats(v) for t, v in times.items()},
                      "ratio_sftp": statistics.median(times["sftp"]) / statistics.median(times["bakeami"])}
    clear_dest()
    return out


def upload_seconds(json_log: str) -> float:
    """The file provisioner's own time: from its start line to its "finished" line."""
    start = None
    for line in json_log.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        text = ev.get("text", "")
        if ev.get("kind") != "step":
            continue
        if text == "provisioners[1] (file)":
            start = ev["t"]
        elif start is not None and text.startswith("provisioners[1] (file) finished"):
            return ev["t"] - start
    raise SystemExit("bench: no file provisioner timing in the bake's events")


# ---- 4. log latency ----------------------------------------------------------------------
def bench_latency(lab: Lab, work: Path, lines: int) -> dict:
    tpl = template(lab, work, [{"type": "shell", "inline": [
        f"for i in $(seq {lines}); do echo \"bench-line $(date +%s.%N)\"; sleep 0.01; done"]}],
        name="latency")
    r = measured([str(LATENCY_PROBE), str(tpl)], tool_env(lab, work), work, lab)
    if r.rc != 0:
        fail("log latency probe", r)
    lab.reset()
    out = {"native": latencies(r.out, lines, "the library's log callback")}
    java = java_listener(lab, work, tpl)
    if java:
        out["java"] = latencies(java, lines, "the Java shim's listener")
    return out


def latencies(text: str, lines: int, where: str) -> dict:
    lat = sorted(float(x) * 1000 for x in re.findall(r"^latency (\S+)$", text, re.M))
    if len(lat) < lines:
        raise SystemExit(f"bench: {len(lat)} of {lines} lines reached {where}")
    return {"lines": len(lat), "median": statistics.median(lat), "p99": lat[int(len(lat) * 0.99) - 1],
            "max": lat[-1]}


def java_listener(lab: Lab, work: Path, tpl: Path) -> str | None:
    """The same bake through JNI to a BakeListener (tests/java/src/io/bakeami/bench/
    ListenerLatency.java, built by `make java-test-classes`); None when Java is not built."""
    jb = BUILD / "java"
    cp = [jb / "test-classes", BUILD / "bakeami-plugin.jar", jb / "stubs"]
    if not all(p.exists() for p in cp):
        return None
    r = measured(["java", f"-Dbakeami.native.dir={work / 'jni'}", "-cp", ":".join(map(str, cp)),
                  "io.bakeami.bench.ListenerLatency", str(tpl)], tool_env(lab, work), work, lab)
    lab.reset()
    if r.rc != 0:
        fail("log latency through the Java listener", r)
    return r.out


# ---- 5. waits: the polling schedules ------------------------------------------------------
def poll_times(first: float, factor: float, cap: float, horizon: float, steady: float = 0) -> list[float]:
    """When a poller with this schedule asks, from 0 (the first ask is at once), as
    util/poll.c does it: first for `steady` seconds, then growing by factor up to cap."""
    t, step, out = 0.0, first, [0.0]
    while t < horizon:
        t += step
        out.append(t)
        if factor > 1 and t >= steady:
            step = min(step * factor, cap)
    return out


def noticing(schedule: list[float], change_at: float) -> tuple[float, int]:
    for i, t in enumerate(schedule):
        if t >= change_at:
            return t - change_at, i + 1
    raise ValueError("horizon too short")


def wait_model(schedules: dict[str, list[float]]) -> dict:
    """Noticing delay and calls for state changes spread evenly over realistic ranges."""
    ranges = {"instance running (20–60 s)": (20, 60), "image available (2–15 min)": (120, 900),
              "copy available (5–20 min)": (300, 1200)}
    out = {}
    for label, (lo, hi) in ranges.items():
        points = [lo + (hi - lo) * k / 200 for k in range(201)]
        row = {}
        for name, sched in schedules.items():
            ds, cs = zip(*(noticing(sched, p) for p in points))
            row[name] = {"delay_median": statistics.median(ds), "delay_max": max(ds),
                         "calls_median": statistics.median(cs)}
        out[label] = row
    return out


def bakeami_schedule() -> tuple[float, float, float, float]:
    """bk_poll's schedule, read from native/src/bake/common.c so the model is what we ship."""
    src = (REPO / "native/src/bake/common.c").read_text()
    def num(name: str) -> float:
        m = re.search(rf"#define {name} ([0-9.]+)", src)
        if not m:
            raise SystemExit(f"bench: {name} not found in common.c")
        return float(m.group(1))
    return num("POLL_FIRST_S"), num("POLL_FACTOR"), num("POLL_MAX_S"), num("POLL_STEADY_S")


def bench_waits() -> dict:
    first, factor, cap, steady = bakeami_schedule()
    schedules = {"bakeami": poll_times(first, factor, cap, 1500, steady),
                 # Packer 1.6.6's waiters: the SDK's defaults, a fixed 15 s delay (no aws_polling)
                 "packer": poll_times(15, 1, 15, 1500)}
    return {"schedule": {"bakeami": f"at once, then every {first:g} s for {steady:g} s, then ×{factor:g} "
                                    f"up to every {cap:g} s",
                         "packer": "every 15 s (AWS SDK waiter default; AWS_POLL_DELAY_SECONDS)"},
            "model": wait_model(schedules)}


# ---- report ------------------------------------------------------------------------------
def versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    moto = first_line([sys.executable, "-c", "import moto; print(moto.__version__)"])
    return {"bakeami": first_line([str(BAKEAMI), "version"]), "packer": first_line([PACKER, "version"]),
            "moto": moto, "openssh": subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip(),
            "kernel": platform.release(), "cpus": str(os.cpu_count()),
            "git": first_line(["git", "-C", str(REPO), "describe", "--always", "--dirty"])}


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def report(res: dict, argv: list[str]) -> str:
    v = res["versions"]
    lines = [f"## {res['date']} — {v['git']}", "",
             f"Machine: {v['cpus']} CPUs, Linux {v['kernel']}. {v['bakeami']}; {v['packer']} (Debian); "
             f"moto {v['moto']}; {v['openssh']}. Command: `{' '.join(argv)}` (via `make bench`).", ""]
    if "one" in res:
        o = res["one"]
        b, p = o["wall"]["bakeami"], o["wall"]["packer"]
        lines += [f"### One bake ({o['pairs']} pairs, alternating)", "",
                  "| | bakeami | Packer 1.6.6 | target |", "|---|---|---|---|",
                  f"| wall | {fmt(b)} | {fmt(p)} | ratio ≤ 0.25: median ratio {o['ratio']['median']:.3f} "
                  f"({o['ratio']['min']:.3f}–{o['ratio']['max']:.3f}), {verdict(o['ratio']['median'] <= 0.25)} |",
                  f"| EC2 calls | {fmt(o['calls']['bakeami'], '', 0)} | {fmt(o['calls']['packer'], '', 0)} | "
                  f"≤ 13: {verdict(o['calls']['bakeami']['max'] <= 13)} |",
                  f"| peak RSS | {fmt(o['rss']['bakeami'], 'MB', 1)} | {fmt(o['rss']['packer'], 'MB', 1)} | "
                  f"≤ 1.3 × `bakeami version` ({o['version_rss']:.1f} MB): "
                  f"{verdict(o['rss']['bakeami']['median'] <= 1.3 * o['version_rss'])} |", "",
                  "bakeami's calls: " + ", ".join(o["call_list"]["bakeami"]) + ".", "",
                  "Packer's calls: " + ", ".join(o["call_list"]["packer"]) + ".", "",
                  "bakeami by stage (median seconds, from `--log-format json` events): "
                  + ", ".join(f"{k} {s:.3f}" for k, s in o["stages"].items()) + ".", ""]
        fl = o["floor"]
        floor = fl["calls"] + fl["ssh"]
        lines += [f"The lab's floor for one bake: {floor:.3f} s, what no tool can go below here: "
                  f"the lab's own time for bakeami's {fl['n_calls']} calls (the proxy's arrival-to-answer "
                  f"time of each, summed: the wall of one client sending them back to back at no cost of "
                  f"its own) {fl['calls']:.3f} s, plus the lab's AuthorizedKeysCommand run twice as "
                  f"sshd runs it for one public-key login {fl['ssh']:.3f} s; medians of 5. bakeami is "
                  f"{b['median'] - floor:.3f} s above it. At Packer's median the floor alone is a ratio of "
                  f"{floor / p['median']:.3f}. (Earlier sections' floor took {fl['n_calls']} cheap "
                  f"DescribeInstances sent by boto3 straight to moto for the calls: {fl['describes']:.3f} s "
                  "here.)", ""]
        rm = o["rss_map"]
        lines += [f"Where a bake's {sum(v for _, v in rm):.1f} MB resident are, during its last provisioner "
                  "(/proc/PID/smaps; shared libraries count the pages the process touched): "
                  + ", ".join(f"{k} {v:.1f}" for k, v in rm[:10]) + f", {len(rm) - 10} others "
                  f"{sum(v for _, v in rm[10:]):.1f} MB.", ""]
    if "many" in res:
        m = res["many"]
        bp, pp = m["procs"]["bakeami"], m["procs"]["packer"]
        lines += [f"### {m['n']} bakes at once", "",
                  "| | wall | peak RSS | succeeded |", "|---|---|---|---|",
                  f"| 1 bake, library (parallel_probe 1) | {m['single_wall']:.3f} s | {m['single_rss']:.1f} MB | 1 |",
                  f"| {m['n']} bakes, one process (threads) | {m['wall']:.3f} s | {m['rss']:.1f} MB | {m['ok']} of {m['n']} |",
                  f"| {m['n']} `bakeami bake` processes | {bp['wall']:.3f} s | {bp['rss_max']:.1f} MB each at most, "
                  f"{bp['rss_sum']:.0f} MB summed | {bp['ok']} of {m['n']} |",
                  f"| {m['n']} `packer build` processes | {pp['wall']:.3f} s | {pp['rss_max']:.1f} MB each at most, "
                  f"{pp['rss_sum']:.0f} MB summed | {pp['ok']} of {m['n']} |",
                  f"| lab floor ({m['n']} × the lab's own time for one bake's calls, as the proxy times them, "
                  f"plus one bake's SSH part) | {m['floor']:.3f} s | | |",
                  f"| earlier sections' floor ({m['n']} × {m['calls_per_bake']} cheap DescribeInstances sent by "
                  f"boto3 straight to moto, plus the SSH part) | {m['floor_describes']:.3f} s | | |", "",
                  f"Targets: one process ≤ 0.25 × {m['n']} Packer processes: {m['wall'] / pp['wall']:.3f}, "
                  f"{verdict(m['wall'] <= 0.25 * pp['wall'])}; ≤ 1.5 × the lab floor: "
                  f"{m['wall'] / m['floor']:.2f}, {verdict(m['wall'] <= 1.5 * m['floor'])} (against the earlier "
                  f"sections' floor {m['wall'] / m['floor_describes']:.2f}); peak RSS ≤ 48 MB: "
                  f"{verdict(m['rss'] <= 48)}. Lines of another bake in a bake's log callback: {m['mixed']}.", ""]
        for tool in ("bakeami", "packer"):
            if m["procs"][tool].get("first_failure"):
                lines += [f"The end of the first failed {tool} process's output:", "", "```",
                          *m["procs"][tool]["first_failure"], "```", ""]
        if "cpu" in m:
            cores = int(v["cpus"])
            runs = [(f"{m['n']} bakes in one process", m["wall"], m["cpu"]),
                    *((f"{m['n']} `{cmd}` processes", m["procs"][t]["wall"], m["procs"][t]["cpu"])
                      for t, cmd in (("bakeami", "bakeami bake"), ("packer", "packer build")))]
            lines += ["Where the CPU went (seconds; moto's own, sshd's with what it reaped: its connections, the "
                      "AuthorizedKeysCommand and the instance's shells; the bench process's, which is the proxy's "
                      "threads; the tool's, the processes the bench waited for):", "",
                      f"| run | moto | sshd and the instance | proxy | the tool | busy of {cores} cores × wall |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {label} | {c['moto']:.2f} | {c['sshd']:.2f} | {c['proxy']:.2f} | {c['tool']:.2f} | "
                      f"{sum(c.values()):.2f} of {cores * wall:.2f} |" for label, wall, c in runs]
            lines.append("")
        if "calls" in m:
            lines += [f"EC2 calls of the {m['n']} bakes in one process: {m['calls']}, of them {m['describes']} "
                      f"describes (DescribeImages, DescribeInstances), against {m['n']} × one bake's "
                      f"{m['single_calls']} = {m['n'] * m['single_calls']} and {m['n'] * m['single_describes']}: "
                      "bakes waiting on a describe at about the same time share one call "
                      "(native/src/aws/ec2_shared.c).", ""]
    if "upload" in res:
        lines += ["### Upload to the loopback sshd", "",
                  "| | bytes | bakeami (file provisioner) | OpenSSH sftp | OpenSSH scp | sftp ÷ bakeami | target |",
                  "|---|---|---|---|---|---|---|"]
        for label, u in res["upload"].items():
            target = 0.9 if "file" in label and "small" not in label else 1.0
            lines.append(f"| {label} | {u['bytes']:,} | {fmt(u['bakeami'])} | {fmt(u['sftp'])} | {fmt(u['scp'])} "
                         f"| {u['ratio_sftp']:.2f} | ≥ {target:g} × sftp's throughput: "
                         f"{verdict(u['ratio_sftp'] >= target)} |")
        lines += ["", "bakeami's time is the file provisioner's own (its start event to its finished event, "
                  "millisecond resolution), "
                  "OpenSSH's the whole command including its connection.", ""]
    if "latency" in res:
        lt, jv = res["latency"]["native"], res["latency"].get("java")
        lines += ["### Log latency", "",
                  f"{lt['lines']} lines printed on the instance with their `date +%s.%N`, stamped again on "
                  f"arrival at the library's log callback (tests/e2e/latency_probe.c): median "
                  f"{lt['median']:.1f} ms, p99 {lt['p99']:.1f} ms, max {lt['max']:.1f} ms. Targets: median ≤ 20 ms "
                  f"{verdict(lt['median'] <= 20)}, p99 ≤ 100 ms {verdict(lt['p99'] <= 100)}. "
                  + (f"Through the Java shim's listener (JNI, tests/java/src/io/bakeami/bench/ListenerLatency.java): "
                     f"median {jv['median']:.1f} ms, p99 {jv['p99']:.1f} ms, max {jv['max']:.1f} ms, targets "
                     f"{verdict(jv['median'] <= 20 and jv['p99'] <= 100)}." if jv else
                     "Through the Java shim's listener: not measured (`make java-test-classes` not built)."), ""]
    if "waits" in res:
        w = res["waits"]
        lines += ["### Waits on real AWS (model)", "",
                  f"Schedules: bakeami {w['schedule']['bakeami']}; Packer {w['schedule']['packer']}. A state change "
                  "at an even spread of moments over each range; noticing delay = next ask after the change.", "",
                  "| wait | bakeami delay median / max | calls | Packer delay median / max | calls |",
                  "|---|---|---|---|---|"]
        for label, row in w["model"].items():
            b, p = row["bakeami"], row["packer"]
            lines.append(f"| {label} | {b['delay_median']:.1f} s / {b['delay_max']:.1f} s | {b['calls_median']:.0f} "
                         f"| {p['delay_median']:.1f} s / {p['delay_max']:.1f} s | {p['calls_median']:.0f} |")
        lines.append("")
    if "waits_live" in res:
        w = res["waits_live"]
        def cell(x):
            return f"{x['delay']:.1f} s, {x['calls']} calls" if x else "not seen"
        lines += ["### Waits, live", "",
                  f"The lab's proxy holds the instance `pending` {LIVE_HOLDS['instance']:g} s and the image "
                  f"`pending` {LIVE_HOLDS['image']:g} s after they are made (Ec2Realism, tests/e2e/proxy.py); "
                  "one bake each, Packer with its default waiters. Noticing delay: from the state change to "
                  "the answer of the first describe that shows it; calls: the describes the wait made.", "",
                  "| | instance running | image available | bake wall |", "|---|---|---|---|"]
        for tool in ("bakeami", "packer"):
            t = w[tool]
            lines.append(f"| {tool} | {cell(t['instance'])} | {cell(t['image'])} | {t['wall']:.1f} s |")
        lines.append("")
    if "reuse" in res:
        r = res["reuse"]
        lines += ["### Reuse hit", "", f"Wall {fmt(r['wall'])}, EC2 calls {fmt(r['calls'], '', 0)} "
                  f"(targets ≤ 0.1 s {verdict(r['wall']['median'] <= 0.1)}, ≤ 3 calls "
                  f"{verdict(r['calls']['max'] <= 3)}).", ""]
    return "\n".join(lines) + "\n"


def write_results(text: str) -> None:
    old = RESULTS.read_text() if RESULTS.exists() else ""
    head = ("# Benchmarks\n\nWritten by `make bench` (bench/bench.py); newest first. Each section says "
            "the machine, versions and command. Figures from a shared or busy machine are noisy: "
            "compare the ratios of a pair, not absolute seconds across sections.\n\n" + MARK + "\n\n")
    earlier = old.split(MARK, 1)[1].lstrip("\n") if MARK in old else ""
    RESULTS.write_text(head + text + ("\n" + earlier if earlier else ""))


# ---- 5b. waits, live: the proxy holds states as EC2 does -----------------------------------
# Not multiples of 15 s, so neither schedule is favoured by a state change landing on its tick.
LIVE_HOLDS = {"instance": 27.0, "image": 83.0}   # instance pending, image pending (seconds)


def noticed(calls: list, made_action: str, describe: str, hold: float) -> dict | None:
    """From the proxy's record: when the state changed (the create's answer + the hold), the
    first describe answered after it, and how many describes the wait took."""
    made = [c for c in calls if c.action == made_action and c.status == 200]
    if not made:
        return None
    change = made[0].time + made[0].duration + hold
    asks = [c for c in calls if c.action == describe and c.time > made[0].time]
    after = [c for c in asks if c.time + c.duration >= change]
    if not after:
        return None
    return {"delay": after[0].time + after[0].duration - change, "calls": len(asks) - len(after) + 1}


def bench_waits_live(lab: Lab, work: Path) -> dict:
    """One bake by each tool with the instance held `pending` and the image `pending` for
    LIVE_HOLDS (Ec2Realism in tests/e2e/proxy.py); Packer with its default waiters (no
    aws_polling), as users run it."""
    tpl = template(lab, work, [{"type": "shell", "inline": ["true"]}], name="waits")
    packer_tpl = json.loads(tpl.read_text())
    del packer_tpl["builders"][0]["aws_polling"]
    ptpl = work / "waits-packer.json"
    ptpl.write_text(json.dumps(packer_tpl))
    env = tool_env(lab, work)
    out = {}
    for tool, cmd in (("bakeami", bakeami_cmd(tpl)), ("packer", packer_cmd(ptpl))):
        lab.proxy.realism.pending_s = LIVE_HOLDS["instance"]
        lab.proxy.realism.image_pending_s = LIVE_HOLDS["image"]
        r = measured(cmd, env, work, lab)
        calls = lab.requests(service="ec2")
        lab.proxy.realism.pending_s = lab.proxy.realism.image_pending_s = 0.0
        if r.rc != 0:
            fail(f"{tool} bake with held states", r)
        out[tool] = {"wall": r.wall,
                     "instance": noticed(calls, "RunInstances", "DescribeInstances", LIVE_HOLDS["instance"]),
                     "image": noticed(calls, "CreateImage", "DescribeImages", LIVE_HOLDS["image"])}
        lab.reset()
    return out


def bench_reuse(lab: Lab, work: Path, pairs: int, files: Path) -> dict | None:
    help_text = subprocess.run([str(BAKEAMI), "bake", "--help"], capture_output=True, text=True).stdout
    if "--reuse" not in help_text:
        return None
    tpl = template(lab, work, standard_provisioners(files), name="reuse")
    env = tool_env(lab, work)
    first = measured(bakeami_cmd(tpl, "--reuse"), env, work, lab)
    if first.rc != 0:
        fail("the bake to reuse", first)
    hits = [measured(bakeami_cmd(tpl, "--reuse"), env, work, lab) for _ in range(pairs)]
    for h in hits:
        if h.rc != 0:
            fail("a reuse hit", h)
    lab.reset()
    return {"wall": stats([h.wall for h in hits]), "calls": stats([len(h.calls) for h in hits])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--many", type=int, default=32)
    ap.add_argument("--only", default="one,many,upload,latency,waits,reuse")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    for exe in (BAKEAMI, PARALLEL_PROBE, LATENCY_PROBE):
        if not exe.exists():
            raise SystemExit(f"bench: {exe} is not built (make all probes)")
    res: dict = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "versions": versions()}
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="bakeami-bench-") as tmp:
        work = Path(tmp)
        files = write_files(work)
        # Warm-up: moto loads a region's catalogue on first use; Packer's first start reads its plugins.
        tpl = template(lab, work, standard_provisioners(files), name="warm")
        for cmd in (bakeami_cmd(tpl), packer_cmd(tpl)):
            r = measured(cmd, tool_env(lab, work), work, lab)
            if r.rc != 0:
                fail("warm-up bake", r)
        lab.reset()
        if "one" in parts:
            res["one"] = bench_one(lab, work, args.pairs, files)
            print(report({"versions": res["versions"], "date": res["date"], "one": res["one"]}, sys.argv), flush=True)
        if "many" in parts:
            one = res.get("one")
            ssh_part = sum(v for k, v in (one or {}).get("stages", {}).items() if k in ("WAIT_SSH", "PROVISION"))
            calls = int((one or {}).get("calls", {}).get("bakeami", {}).get("median", 13))
            res["many"] = bench_many(lab, work, args.many, files, ssh_part, calls)
        if "upload" in parts:
            res["upload"] = bench_upload(lab, work, max(3, args.pairs // 2))
        if "latency" in parts:
            res["latency"] = bench_latency(lab, work, 500)
        if "waits" in parts:
            res["waits_live"] = bench_waits_live(lab, work)
        if "reuse" in parts:
            reuse = bench_reuse(lab, work, args.pairs, files)
            if reuse:
                res["reuse"] = reuse
    if "waits" in parts:
        res["waits"] = bench_waits()
    text = report(res, ["bench/bench.py", *sys.argv[1:]])
    print(text)
    if not args.no_write:
        write_results(text)
        print(f"bench: results added to {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
