"""The fault matrix (issue 12): every create call, every wait and every cleanup call of a bake
x {throttle, 5xx, connection reset, reply dropped after the server acted, slow state, cancel},
plus the SSH faults and a SIGKILL at each stage followed by `bakeami cleanup --journal`.

Each cell asserts what the user sees and what is true in the lab, not a log wording:
- the exit code (0 when the fault is one a bake rides out, 130 when it was cancelled before
  CLEANUP, 1 for a fault it cannot ride out) and a clear message for the ones that fail;
- zero leftovers: instances, volumes, key pairs, groups, images, snapshots, S3 objects (the
  image a succeeded bake made is its product, and stays);
- zero duplicates: never more than one instance, key pair, group or image of each create;
- the summary's counts are true: "cleaned up: N deleted, G already gone, F failed, L left"
  lists N items, G, F and L are 0, and N is what the bake made and no longer exists (counted
  from what moto answered through the proxy, not from the bake's own lines); after a kill,
  what was gone before `cleanup --journal` came is counted as already gone, not deleted.

`make test-faults` runs this file and prints the table (cells, passed). Cells share the
session's lab (conftest.py) and keep its waits short: slow states last 2-3 s. Each cell ends
with the account empty (its image, checked, is then removed), so the next one starts without
moto's reset (a second each); a cell that finds anything left resets the lab first.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from dataclasses import dataclass, field

import pytest

from conftest import Bakeami
from test_bake import _wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = re.compile(r"^\s*cleaned up: (\d+) deleted, (\d+) already gone, (\d+) failed, (\d+) left\s*$",
                     re.M)
CLEANUP_COUNTS = re.compile(r"\b(\d+) deleted, (\d+) already gone, (\d+) failed\b")
FAULTS = ("throttle", "5xx", "reset", "drop", "slow", "cancel")
SLOW_S = 2.0  # how long a slow state or a slow answer lasts
LONG_S = 60.0  # a state that outlasts the cell (it is cancelled or killed first)


# ---- one lab per module, emptied by each cell -----------------------------------------------

class Cell:
    """The session's lab for one cell: what existed before it (terminated instances of earlier
    cells), and the images the cell checked (removed afterwards)."""

    def __init__(self, lab):
        self.lab = lab
        self.kept: set[str] = set()
        ec2 = lab.ec2()
        if lab._auth_enabled or self._leftovers() or ec2.describe_images(Owners=["self"])["Images"]:
            lab.reset()
        else:
            lab.kill_ssh_sessions()
            lab.reset_calls()
            lab.clear_faults()
            lab.proxy.clear_stand_ins()
        self.before = {i["InstanceId"] for i in lab.instances()}

    def __getattr__(self, name):
        return getattr(self.lab, name)

    def _leftovers(self):
        return self._leftovers_of(self.kept)

    def keep_images(self, ids) -> None:
        self.kept.update(ids)

    def _leftovers_of(self, kept):
        """lab.leftovers() but S3: no cell makes a bundle (no amazon-instance row), and the
        bundle stand-ins in /usr/local/bin are shared by every lab on the machine, so another
        lab's amazon-instance bake may upload into this one's S3."""
        return {k: v for k, v in self.lab.leftovers(allow_images=kept).items() if k != "s3_objects"}

    def finish(self) -> None:
        self.lab.clear_faults()
        left = self._leftovers()
        ec2 = self.lab.ec2()
        for image in ec2.describe_images(Owners=["self"])["Images"]:
            if image["ImageId"] in self.kept:
                ec2.deregister_image(ImageId=image["ImageId"])
                for m in image.get("BlockDeviceMappings", []):
                    if "SnapshotId" in m.get("Ebs", {}):
                        ec2.delete_snapshot(SnapshotId=m["Ebs"]["SnapshotId"])
        assert not left, f"resources left behind in moto: {left}"


@pytest.fixture
def lab(lab):
    cell = Cell(lab)
    yield cell
    cell.finish()


@pytest.fixture
def clean_lab(lab):
    return lab


@pytest.fixture
def bakeami(lab, tmp_path):
    runner = Bakeami(lab.lab, tmp_path)
    yield runner
    runner._finish()


# ---- the bake each cell runs ---------------------------------------------------------------

def _template(tmp_path, encrypt=False, **builder) -> str:
    """bake.json's builder with one quick shell provisioner ({{user `sleep`}} s long)."""
    with open(os.path.join(HERE, "templates", "bake.json")) as f:
        tpl = json.load(f)
    b = tpl["builders"][0]
    b.update({"ssh_timeout": "20s", **builder})
    if encrypt:
        b.update(encrypt_boot=True, kms_key_id="alias/bakeami-e2e")
    tpl["provisioners"] = [{"type": "shell", "inline": [
        "echo provisioning-started", "sleep {{user `sleep`}}", "echo provisioning-done"]}]
    path = tmp_path / ("matrix-enc.json" if encrypt else "matrix.json")
    path.write_text(json.dumps(tpl))
    return str(path)


def _args(lab, tmp_path, template, *extra, port=None):
    return ["bake", "-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={port or lab.ssh_port}",
            "--result", str(tmp_path / "result.json"), "--journal", str(tmp_path / "journal.jsonl"),
            *extra, template]


def _closed_port() -> int:
    """A loopback port nothing listens on (sshd never comes up there)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- what is true afterwards ---------------------------------------------------------------

def _acted(lab, action) -> int:
    """How many calls of action moto carried out (answered 200), answered to us or not."""
    return sum(c.upstream == 200 for c in lab.requests("ec2", action))


def _made(lab) -> dict[str, int]:
    """What the bake made in moto, whatever it was told: per kind."""
    instances = [i for i in lab.instances() if i["InstanceId"] not in lab.before]
    images = _acted(lab, "CreateImage") + _acted(lab, "CopyImage")
    return {"instance": len(instances), "key-pair": _acted(lab, "ImportKeyPair"),
            "security-group": _acted(lab, "CreateSecurityGroup"), "image": images,
            "snapshot": images}  # each image of the lab's source AMI has one snapshot (asserted below)


def _summary(out: str) -> tuple[int, int, int, list[str]]:
    """The bake's "cleaned up:" line (nothing of its own was already gone) and the "- item"
    lines under it."""
    found = list(SUMMARY.finditer(out))
    assert len(found) == 1, f"expected one cleanup summary line:\n{out}"
    m = found[0]
    assert m[2] == "0", f"the bake's own resources were already gone:\n{out}"
    items = []
    for line in out[m.end():].splitlines()[1:]:
        if not line.startswith("      - "):
            break
        items.append(line[len("      - "):])
    return int(m[1]), int(m[3]), int(m[4]), items


def _check(lab, out: str, result_path, kept_image: bool) -> dict:
    """No duplicates, nothing left but the product, and the summary's counts true."""
    made = _made(lab)
    assert made["instance"] <= 1 and made["key-pair"] <= 1 and made["security-group"] <= 1, made
    mine = lab.ec2().describe_images(Owners=["self"])["Images"]
    kept = [i["ImageId"] for i in mine]
    assert len(mine) == (1 if kept_image else 0), (mine, out)
    for image in mine:
        assert image["ImageId"] in out
        assert len([m for m in image["BlockDeviceMappings"] if "Ebs" in m]) == 1, image
    left = lab._leftovers_of(kept)
    assert not left, f"left behind: {left}\n{out}"
    deleted, failed, left_n, items = _summary(out)
    truth = sum(made.values()) - 2 * len(kept)  # the kept image and its snapshot stay
    assert (deleted, failed, left_n) == (truth, 0, 0), (made, kept, out)
    assert len(items) == deleted and len(set(items)) == deleted, items
    result = json.loads(result_path.read_text())
    assert sorted(result["cleanup"]["deleted"]) == sorted(items), result["cleanup"]
    assert result["cleanup"]["failed"] == [] and result["cleanup"]["left"] == [], result["cleanup"]
    return result


# ---- the rows: every create call, every wait, every cleanup call ---------------------------

@dataclass(frozen=True)
class Row:
    name: str
    action: str  # the EC2 call the fault hits
    phase: str  # "create", "wait", "delete" (before CLEANUP: cancellable) or "cleanup"
    nth: int = 1  # which of the matching calls
    params: dict | None = None  # which calls match
    encrypt: bool = False  # the row needs encrypt_boot (CopyImage)
    slow: dict = field(default_factory=dict)  # Ec2Realism settings; {} means a slow answer
    cancel_on_slow: bool = False  # cancel while the slow state lasts (else: while the call hangs)


WAITED = {"ImageId.1": "*"}  # DescribeImages of an image by id: the image waits
ROWS = [
    Row("ImportKeyPair", "ImportKeyPair", "create"),
    Row("CreateSecurityGroup", "CreateSecurityGroup", "create"),
    Row("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupIngress", "create"),
    Row("RunInstances", "RunInstances", "create", slow={"not_found_s": SLOW_S}),
    Row("CreateImage", "CreateImage", "create"),
    Row("CreateTags", "CreateTags", "create"),
    Row("CopyImage", "CopyImage", "create", encrypt=True, slow={"image_pending_s": SLOW_S}),
    Row("wait-running", "DescribeInstances", "wait", slow={"pending_s": SLOW_S}, cancel_on_slow=True),
    Row("wait-image", "DescribeImages", "wait", params=WAITED, slow={"image_pending_s": SLOW_S},
        cancel_on_slow=True),
    Row("wait-copy", "DescribeImages", "wait", nth=2, params=WAITED, encrypt=True,
        slow={"image_pending_s": SLOW_S}),
    Row("wait-terminated", "DeleteSecurityGroup", "cleanup", nth=2,
        slow={"shutting_down_s": SLOW_S, "dependency_violation": True}, cancel_on_slow=True),
    Row("TerminateInstances", "TerminateInstances", "cleanup"),
    Row("DeleteSecurityGroup", "DeleteSecurityGroup", "cleanup"),
    Row("DeleteKeyPair", "DeleteKeyPair", "cleanup"),
    # encrypt_boot removes the unencrypted image once its copy is available (WAIT_IMAGE)
    Row("DeregisterImage", "DeregisterImage", "delete", encrypt=True),
    Row("DeleteSnapshot", "DeleteSnapshot", "delete", encrypt=True),
]
# The dependency the wait-terminated row needs on every fault: the first DeleteSecurityGroup
# is refused while the instance shuts down, so the faulted one is the wait's retry.
NEEDS_SLOW = {"wait-terminated"}


def _arm(lab, row: Row, fault: str):
    """Sets the cell's fault; returns its rule (None when the fault is a slow state)."""
    kw = dict(nth=row.nth, params=row.params)
    if row.name in NEEDS_SLOW or (fault == "slow" and row.slow):
        _realism(lab, **row.slow)
    if fault == "throttle":
        return lab.inject(row.action, kind="throttle", count=2, **kw)
    if fault == "5xx":
        return lab.inject(row.action, kind="500" if row.phase == "create" else "503", **kw)
    if fault in ("reset", "drop"):
        return lab.inject(row.action, kind=fault, **kw)
    if fault == "slow":
        return None if row.slow else lab.inject(row.action, kind="delay", delay=SLOW_S, **kw)
    raise AssertionError(fault)


def _realism(lab, **settings):
    for k, v in settings.items():
        setattr(lab.proxy.realism, k, v)


def _fired(lab, row: Row, fault: str, rule) -> None:
    """The cell tested what it says: the fault happened to the call it names."""
    if rule is not None:
        assert rule.fired >= 1, f"{fault} never hit {row.action}: {lab.calls('ec2')}"
        calls = lab.requests("ec2", row.action)
        if fault in ("throttle", "5xx", "reset"):  # it never reached moto: sent again
            assert len(calls) > rule.fired, [(c.fault, c.status) for c in calls]
        if fault == "drop":
            assert any(c.fault == "drop" and c.upstream == 200 for c in calls), \
                [(c.fault, c.upstream) for c in calls]
    else:
        answered = {code for _, code in lab.proxy.realism.answered}
        if "not_found_s" in row.slow:
            assert "InvalidInstanceID.NotFound" in answered, lab.proxy.realism.answered
        if row.slow.get("dependency_violation"):
            assert "DependencyViolation" in answered, lab.proxy.realism.answered


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_cell(lab, clean_lab, bakeami, tmp_path, row, fault):
    template = _template(tmp_path, encrypt=row.encrypt)
    if fault == "cancel":
        return _cancel_cell(lab, clean_lab, bakeami, tmp_path, row, template)
    rule = _arm(lab, row, fault)
    r = bakeami.run(_args(lab, tmp_path, template))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    _fired(lab, row, fault, rule)
    result = _check(lab, r.stdout, tmp_path / "result.json", kept_image=True)
    assert result["status"] == "succeeded"
    clean_lab.keep_images(list(result["amis"].values()))


def test_cell_create_image_drop_resent_duplicate(lab, clean_lab, bakeami, tmp_path):
    """CreateImage x drop, the re-send answered InvalidAMIName.Duplicate as EC2 does: the name
    lookup before the re-send came too soon to see the image (a stale DescribeImages)."""
    drop = lab.inject("CreateImage", kind="drop")
    lab.inject("DescribeImages", kind="stale", after=drop)
    _realism(lab, duplicate_names=True)
    r = bakeami.run(_args(lab, tmp_path, _template(tmp_path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert ("CreateImage", "InvalidAMIName.Duplicate") in lab.proxy.realism.answered
    result = _check(lab, r.stdout, tmp_path / "result.json", kept_image=True)
    clean_lab.keep_images(list(result["amis"].values()))


# ---- cancel: SIGINT while the call hangs (EC2 acted, the answer held) or the state lasts -----

def _cancel_cell(lab, clean_lab, bakeami, tmp_path, row: Row, template):
    kw = dict(nth=row.nth, params=row.params)
    if row.cancel_on_slow:
        _realism(lab, **{k: (LONG_S if isinstance(v, float) and row.phase != "cleanup" else v)
                         for k, v in row.slow.items()})
    else:
        if row.name in NEEDS_SLOW:
            _realism(lab, **row.slow)
        # during CLEANUP the held answer is let go after a while: cleanup goes on regardless
        lab.inject(row.action, kind="hang", delay=SLOW_S if row.phase == "cleanup" else LONG_S, **kw)
    proc = bakeami.start(_args(lab, tmp_path, template))
    if row.cancel_on_slow and row.phase == "cleanup":
        _wait_acted_or_refused(lab, row.action)  # refused once: cleanup waits for the instance
    elif row.cancel_on_slow:
        _wait_calls(lab, row.action, row.params, row.nth + 1)  # the wait polled again: it waits
    else:
        _wait_acted(lab, row.action, row.params, row.nth)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    if row.phase == "cleanup":
        # CLEANUP cannot be cancelled: it finishes, and the bake's outcome stands
        assert proc.returncode == 0, out + err
        assert "cleanup is not cancellable" in out + err, out + err
        result = _check(lab, out, tmp_path / "result.json", kept_image=True)
        clean_lab.keep_images(list(result["amis"].values()))
        return
    assert proc.returncode == 130, out + err
    assert "cancelled" in err, err
    result = _check(lab, out, tmp_path / "result.json", kept_image=False)
    assert result["status"] == "cancelled" and result["exit_code"] == 130, result


def _matching(lab, action, params):
    return [c for c in lab.requests("ec2", action)
            if all(c.params.get(k) == v or (v == "*" and k in c.params) for k, v in (params or {}).items())]


def _wait_acted_or_refused(lab, action, timeout=60.0):
    """Until the first call of action was answered (by moto or by the realism's refusal)."""
    deadline = time.monotonic() + timeout
    while not any(c.status is not None for c in lab.requests("ec2", action)):
        assert time.monotonic() < deadline, f"no answered {action}: {lab.calls('ec2')}"
        time.sleep(0.02)


def _wait_calls(lab, action, params, count, timeout=60.0):
    """Until count calls of action (with params) reached the proxy."""
    deadline = time.monotonic() + timeout
    while len(_matching(lab, action, params)) < count:
        assert time.monotonic() < deadline, f"no {action} #{count}: {lab.calls('ec2')}"
        time.sleep(0.02)


def _wait_acted(lab, action, params, nth, timeout=60.0):
    """Until moto answered the nth call of action (with params): the server acted."""
    deadline = time.monotonic() + timeout
    while True:
        calls = _matching(lab, action, params)
        if len(calls) >= nth and calls[nth - 1].upstream is not None:
            return calls[nth - 1]
        assert time.monotonic() < deadline, f"moto never answered {action} #{nth}: {lab.calls('ec2')}"
        time.sleep(0.02)


# ---- SSH faults ----------------------------------------------------------------------------

def test_cell_ssh_never_up(lab, clean_lab, bakeami, tmp_path):
    """sshd never comes up: ssh_timeout passes, the message says so and why."""
    template = _template(tmp_path, ssh_timeout="3s")
    r = bakeami.run(_args(lab, tmp_path, template, port=_closed_port()))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "ssh_timeout" in r.stderr and "3s" in r.stderr, r.stderr
    assert "connection refused" in r.stderr.lower(), r.stderr  # the diagnosis
    _check(lab, r.stdout, tmp_path / "result.json", kept_image=False)


def _read_until(proc, needle, timeout=60.0):
    return "".join(_wait_for(proc, needle, timeout))


def _cut_ssh_connections(lab) -> int:
    """SIGKILLs the sshd processes that hold the bake's connections (not what runs in them):
    the TCP connection dies as when the network drops it."""
    from lab import _descendants
    n = 0
    for pid in (p for gen in _descendants(lab._sshd.pid) for p in gen):
        try:
            args = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")[0]
        except OSError:
            continue
        if args.startswith(b"sshd: ") and b"bakeami" in args:
            try:
                os.kill(pid, signal.SIGKILL)
                n += 1
            except ProcessLookupError:
                pass
    return n


def test_cell_ssh_dropped_mid_provisioning(lab, clean_lab, bakeami, tmp_path):
    """The SSH connection dies while a provisioner runs: the bake fails naming it, cleans up."""
    proc = bakeami.start(_args(lab, tmp_path, _template(tmp_path), "-var", "sleep=30"))
    head = _read_until(proc, "provisioning-started")
    assert _cut_ssh_connections(lab) > 0
    out, err = proc.communicate(timeout=120)
    out = head + out
    assert proc.returncode == 1, out + err
    assert "provisioners[0] (shell)" in err and "connection" in err.lower(), err
    _check(lab, out, tmp_path / "result.json", kept_image=False)


def test_cell_hung_provisioner_cancelled(lab, clean_lab, bakeami, tmp_path):
    """A provisioner that never ends: SIGINT stops it, the bake cleans up and exits 130."""
    proc = bakeami.start(_args(lab, tmp_path, _template(tmp_path), "-var", "sleep=3600"))
    head = _read_until(proc, "provisioning-started")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    out = head + out
    assert proc.returncode == 130, out + err
    assert "cancelled" in err, err
    _check(lab, out, tmp_path / "result.json", kept_image=False)


# ---- SIGKILL at each stage, then `bakeami cleanup --journal` --------------------------------

@dataclass(frozen=True)
class Kill:
    stage: str
    action: str | None = None  # hang this call, kill once moto acted on it
    params: dict | None = None
    nth: int = 1
    encrypt: bool = False
    slow: dict = field(default_factory=dict)  # ... or let this state last, kill on the 2nd poll
    hold: bool = False  # hold the call instead (it never reaches moto): kill while it waits
    line: str | None = None  # ... or kill when the bake prints this
    ssh_down: bool = False
    sleep: int = 0


KILLS = [
    Kill("key-pair", "ImportKeyPair"),
    Kill("security-group", "CreateSecurityGroup"),
    Kill("launch", "RunInstances"),
    Kill("wait-running", "DescribeInstances", slow={"pending_s": LONG_S}),
    Kill("ssh", line="waiting for SSH", ssh_down=True),
    Kill("provision", line="provisioning-started", sleep=3600),
    Kill("image", "CreateImage"),
    Kill("wait-image", "DescribeImages", WAITED, slow={"image_pending_s": LONG_S}),
    Kill("copy", "CopyImage", encrypt=True),
    Kill("wait-copy", "DescribeImages", WAITED, nth=2, encrypt=True),
    Kill("cleanup", "DeleteSecurityGroup", hold=True),
]


@pytest.mark.parametrize("kill", KILLS, ids=[k.stage for k in KILLS])
def test_kill_then_cleanup_journal(lab, clean_lab, bakeami, tmp_path, kill):
    template = _template(tmp_path, encrypt=kill.encrypt)
    if kill.slow:
        _realism(lab, **kill.slow)
    elif kill.action:
        lab.inject(kill.action, kind="hold" if kill.hold else "hang", nth=kill.nth,
                   params=kill.params, delay=LONG_S)
    port = _closed_port() if kill.ssh_down else None
    proc = bakeami.start(_args(lab, tmp_path, template, "-var", f"sleep={kill.sleep}", port=port))
    if kill.line:
        _read_until(proc, kill.line)
    elif kill.slow:
        _wait_calls(lab, kill.action, kill.params, kill.nth + 1)
    elif kill.hold:
        _wait_calls(lab, kill.action, kill.params, kill.nth)
    else:
        _wait_acted(lab, kill.action, kill.params, kill.nth)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()  # what a killed bake left is what cleanup must find, held answers or not
    lab.kill_ssh_sessions()  # the instance's processes go with it (a terminated instance's do)
    product = _finished_images(lab, tmp_path)
    before = lab._leftovers_of(product)
    r = bakeami.run(["cleanup", "--journal", str(tmp_path / "journal.jsonl")])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    left = lab._leftovers_of(product)
    assert not left, f"left behind after cleanup --journal: {left}\n{out}"
    deleted, gone, _ = _cleanup_counts(out, failed=0)
    listed = re.findall(r"cleanup: deleted \S+ (\S+)", out)
    there = {item.split()[0] for items in before.values() for item in items}
    assert set(listed) == there and deleted == len(listed) == len(there), (there, out)
    # ... and beyond it only what the journal named that was already gone, said so
    was_gone = re.findall(r"cleanup: already gone: \S+ (\S+)", out)
    assert gone == len(was_gone) and not set(was_gone) & there, out
    made = _made(lab)
    assert made["instance"] <= 1 and made["key-pair"] <= 1 and made["security-group"] <= 1, made
    clean_lab.keep_images(product)


def _cleanup_counts(out: str, failed: int) -> tuple[int, int, int]:
    """`bakeami cleanup`'s closing "N deleted, G already gone, F failed"."""
    m = CLEANUP_COUNTS.findall(out)
    assert m, out
    counts = tuple(map(int, m[-1]))
    assert counts[2] == failed, out
    return counts


def test_kill_then_gone_out_of_band_then_cleanup_journal(lab, clean_lab, bakeami, tmp_path):
    """A bake SIGKILLed mid-provisioning, then its instance terminated and its key pair deleted
    by someone else (straight in moto, not through the proxy): `cleanup --journal` deletes the
    group, says the other two were already gone, and counts them apart."""
    proc = bakeami.start(_args(lab, tmp_path, _template(tmp_path), "-var", "sleep=3600"))
    _read_until(proc, "provisioning-started")
    proc.kill()
    proc.wait(timeout=10)
    lab.kill_ssh_sessions()
    ec2 = lab.ec2()
    instance = next(i["InstanceId"] for i in lab.instances() if i["InstanceId"] not in lab.before)
    key = next(k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"])
    group = next(g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]
                 if g["GroupName"] != "default")
    ec2.terminate_instances(InstanceIds=[instance])
    ec2.delete_key_pair(KeyName=key)
    r = bakeami.run(["cleanup", "--journal", str(tmp_path / "journal.jsonl")])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert _cleanup_counts(out, failed=0) == (1, 2, 0), out
    assert re.findall(r"cleanup: deleted \S+ (\S+)", out) == [group], out
    assert sorted(re.findall(r"cleanup: already gone: \S+ (\S+)", out)) == sorted([instance, key]), out
    assert not lab._leftovers_of(()), out
    journal = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines() if x.strip()]
    assert journal[-1].get("event") == "done" and journal[-1].get("status") == "cleaned", journal[-1]


def _finished_images(lab, tmp_path) -> list[str]:
    """The image of a bake killed during CLEANUP: finished, kept by the journal's word."""
    lines = [json.loads(x) for x in (tmp_path / "journal.jsonl").read_text().splitlines() if x.strip()]
    kept = {x.get("id") for x in lines if x.get("kind") == "image" and x.get("event") == "kept"}
    return sorted(i for i in kept if i)
