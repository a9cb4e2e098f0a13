"""The lease (issue 12, item 3): a temporary resource's bakeami:expires is a lease that a live
bake extends, so `bakeami cleanup --stale` removes what a dead agent left once its lease ran
out, and never what a live bake still uses. Short leases (--lease, --lease-renew) keep it
fast; each test waits for the moment it needs by reading the tags, not by guessing times."""
import json
import os
import re
import signal
import time
from datetime import datetime, timezone

from test_bake import _wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


def _template(tmp_path, kept_volume=False):
    """bake.json with one quick shell provisioner; kept_volume: plus an extra EBS volume that
    does not go with the instance (delete_on_termination false, as Packer's default is)."""
    with open(os.path.join(HERE, "templates", "bake.json")) as f:
        tpl = json.load(f)
    tpl["provisioners"] = [{"type": "shell", "inline": [
        "echo provisioning-started", "sleep {{user `sleep`}}", "echo provisioning-done"]}]
    if kept_volume:
        tpl["builders"][0]["launch_block_device_mappings"] = [
            {"device_name": "/dev/sdf", "volume_size": 1, "volume_type": "gp3",
             "delete_on_termination": False}]
    path = tmp_path / "lease.json"
    path.write_text(json.dumps(tpl))
    return str(path)


def _expiries(lab):
    """Resource id -> bakeami:expires of the instances, their volumes, groups and key pairs
    (what --stale sweeps) that still exist (moto keeps a deleted resource's tags)."""
    ec2 = lab.ec2()
    tags = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["bakeami:expires"]}])["Tags"]
    volumes = {v["VolumeId"] for v in ec2.describe_volumes()["Volumes"]}
    return {t["ResourceId"]: t["Value"] for t in tags
            if t["ResourceId"].startswith(("i-", "sg-", "key-"))
            or t["ResourceId"] in volumes}


def _volumes(ids):
    return {i for i in ids if i.startswith("vol-")}


def _when(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()


def _read_until(proc, needle):
    return "".join(_wait_for(proc, needle))


def _sleep_past(iso):
    """Until the wall clock is past the ISO time (the tags' resolution is a second)."""
    while time.time() < _when(iso) + 1.2:
        time.sleep(0.1)


def test_live_bake_keeps_its_lease(lab, clean_lab, bakeami, tmp_path):
    """While the provisioner runs past the first expiry, --stale removes nothing, because the
    bake has moved every expiry on; the bake then succeeds and cleans up after itself."""
    proc = bakeami.start(["bake", *lab.ssh_vars(), "-var", "sleep=12", "--lease", "6s",
                          "--lease-renew", "2s", _template(tmp_path)])
    head = _read_until(proc, "provisioning-started")
    first = _expiries(lab)
    # key pair, group, instance and its root volume (tagged on create, held once it runs)
    assert len(first) == 4 and len(_volumes(first)) == 1, first
    _sleep_past(max(first.values()))
    r = bakeami.run(["cleanup", "--stale"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\b0 deleted, 0 already gone, 0 failed", r.stdout), r.stdout
    now = _expiries(lab)
    assert set(now) == set(first) and all(_when(now[i]) > _when(first[i]) for i in now), (first, now)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, head + out + err
    assert not lab.leftovers(allow_images=[i["ImageId"] for i in
                                           lab.ec2().describe_images(Owners=["self"])["Images"]])
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])


def test_dead_bake_lease_runs_out(lab, clean_lab, bakeami, tmp_path):
    """A bake SIGKILLed mid-provisioning renews nothing: once its lease is over, --stale removes
    its instance, group and key pair, and the extra volume that outlives the instance (the
    root volume goes with it); before that, nothing."""
    proc = bakeami.start(["bake", *lab.ssh_vars(), "-var", "sleep=3600", "--lease", "4s",
                          "--lease-renew", "1s", _template(tmp_path, kept_volume=True)])
    _read_until(proc, "provisioning-started")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    lab.kill_ssh_sessions()
    expiries = _expiries(lab)
    # moto makes no root volume when RunInstances names block devices (EC2 would, from the
    # AMI): the one volume is the extra one, attached and kept on termination
    assert len(expiries) == 4 and len(_volumes(expiries)) == 1, expiries
    kept = next(iter(_volumes(expiries)))
    assert lab.ec2().describe_volumes(VolumeIds=[kept])["Volumes"][0]["State"] == "in-use"
    r = bakeami.run(["cleanup", "--stale"])
    if time.time() < _when(min(expiries.values())):  # still leased: kept
        assert r.returncode == 0 and lab.leftovers()["instances"], r.stdout + r.stderr
    _sleep_past(max(expiries.values()))
    r = bakeami.run(["cleanup", "--stale"])
    assert r.returncode == 0, r.stdout + r.stderr
    for kind in ("instance", "security-group", "key-pair"):
        assert f"deleted {kind}" in r.stdout, r.stdout
    assert f"deleted volume {kept}" in r.stdout, r.stdout
    assert "4 deleted, 0 already gone, 0 failed" in r.stdout, r.stdout
    assert not lab.leftovers(), lab.leftovers()
    assert not {v["VolumeId"] for v in lab.ec2().describe_volumes()["Volumes"]} & set(expiries)


def test_lease_options_are_checked(lab, clean_lab, bakeami, tmp_path):
    r = bakeami.run(["bake", "--lease", "0s", _template(tmp_path)])
    assert r.returncode == 2 and "--lease: '0s' is not a duration" in r.stderr, r.stderr
    r = bakeami.run(["bake", *lab.ssh_vars(), "--lease", "10s", "--lease-renew", "10s",
                     _template(tmp_path)])
    assert r.returncode == 2 and "must be shorter than the lease" in r.stderr, r.stderr
    assert lab.calls() == []
