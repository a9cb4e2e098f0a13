"""End-to-end promotion (issue 4): copies, sharing, the SSM pointer, channel tags, deprecation,
keep_last, the rollback of a failed promotion and `bakeami promote` for a kept image.

moto lacks EnableImageDeprecation/DisableImageDeprecation: the lab's proxy answers them as EC2
documents them and records DeprecateAt per image (lab.deprecations). Shared images are not
visible from the target account in moto, so sharing is checked with DescribeImageAttribute.
"""
import json
import os
import re
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest

from lab import ACCOUNT_ID

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "promote.json")
ROLLBACK = os.path.join(HERE, "templates", "promote_rollback.json")
BAD_INPUT = os.path.join(HERE, "templates", "bake.json")  # no promote block
PARAM = "/images/e2e/latest"
RB_PARAM = "/images/e2e-rollback/latest"
SHARE = "111122223333"
RB_REGIONS = ("us-east-1", "us-west-2", "eu-west-1")


def run(bakeami, lab, args, template, build=1):
    return bakeami.run([*args, "-var", f"ssh_port={lab.ssh_port}", "-var", f"build={build}", template])


def tags_of(resource):
    return {t["Key"]: t["Value"] for t in resource.get("Tags", [])}


def own_images(lab, region):
    return {i["ImageId"]: i for i in lab.ec2(region).describe_images(Owners=["self"])["Images"]}


def own_snapshots(lab, region):
    found = lab.ec2(region).describe_snapshots(Filters=[{"Name": "owner-id", "Values": [ACCOUNT_ID]}])
    return {s["SnapshotId"] for s in found["Snapshots"]}


def snapshots_of(image):
    return {m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if "SnapshotId" in m.get("Ebs", {})}


def launch_users(lab, region, image_id):
    attr = lab.ec2(region).describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    return {p.get("UserId") for p in attr["LaunchPermissions"]}


def pointer(lab, region, name):
    ssm = lab.client("ssm", region)
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def days_ahead(iso):
    return (datetime.fromisoformat(iso.replace("Z", "+00:00")) - datetime.now(timezone.utc)) / timedelta(days=1)


def test_three_bakes_keep_two_per_region(lab, clean_lab, bakeami, tmp_path, report_figure):
    results, outputs = [], []
    for build in (1, 2, 3):
        if build > 1:  # creationDate has whole seconds (in AWS too): keep_last needs an order
            time.sleep(1.0)
        result = tmp_path / f"result-{build}.json"
        r = run(bakeami, lab, ["bake", "--result", str(result)], TEMPLATE, build)
        assert r.returncode == 0, r.stdout + r.stderr
        results.append(json.loads(result.read_text()))
        outputs.append(r.stdout)
        assert set(results[-1]["amis"]) == {"us-east-1", "us-west-2"}, results[-1]
    newest, middle = results[2], results[1]
    for region in ("us-east-1", "us-west-2"):
        images = own_images(lab, region)
        # keep_last 2: the oldest was retired, the new one counts
        assert set(images) == {newest["amis"][region], middle["amis"][region]}, (region, images)
        new = images[newest["amis"][region]]
        tags = tags_of(new)
        assert tags["Channel"] == "production" and tags["bakeami:family"] == "promote", tags
        # provenance, on the copy too (CopyImage copies no tags)
        assert tags["bakeami:run-id"] == newest["run_id"] and tags["SourceAMI"] == newest["source_ami"]
        assert tags["BuildRegion"] == "us-east-1" and tags["Build"] == "3" and tags["CreatedBy"] == "bakeami"
        assert SHARE in launch_users(lab, region, new["ImageId"])
        assert pointer(lab, region, PARAM) == new["ImageId"]
        for snap in lab.ec2(region).describe_snapshots(SnapshotIds=sorted(snapshots_of(new)))["Snapshots"]:
            stags = tags_of(snap)
            assert stags["bakeami:run-id"] == newest["run_id"] and stags["Name"] == "e2e-promote-snapshot"
        # the retired image's snapshots went with it
        assert own_snapshots(lab, region) == set().union(*(snapshots_of(i) for i in images.values()))
        # the deprecation stand-in saw every new image, 90 days ahead
        deprecations = lab.deprecations(region)
        for res in results:
            assert 89.9 < days_ahead(deprecations[res["amis"][region]]) < 90.1, deprecations
    assert outputs[2].count("keep_last: retired") == 2, outputs[2]
    assert "keep_last: retired" not in outputs[1]
    calls = lab.calls(service="ec2")
    report_figure(f"promotion: 3 bakes with a copy, sharing, SSM, tags, keep_last 2: {len(calls)} EC2 calls")

    # an image an instance uses is never retired
    west = lab.ec2("us-west-2")
    user = west.run_instances(ImageId=middle["amis"]["us-west-2"], MinCount=1, MaxCount=1,
                              InstanceType="t3.micro")["Instances"][0]["InstanceId"]
    time.sleep(1.0)
    result = tmp_path / "result-4.json"
    r = run(bakeami, lab, ["bake", "--result", str(result)], TEMPLATE, 4)
    assert r.returncode == 0, r.stdout + r.stderr
    fourth = json.loads(result.read_text())
    assert f"keep_last: keeping {middle['amis']['us-west-2']}" in r.stdout and f"instance {user} uses it" in r.stdout
    assert set(own_images(lab, "us-east-1")) == {fourth["amis"]["us-east-1"], newest["amis"]["us-east-1"]}
    assert set(own_images(lab, "us-west-2")) == {fourth["amis"]["us-west-2"], newest["amis"]["us-west-2"],
                                                 middle["amis"]["us-west-2"]}
    west.terminate_instances(InstanceIds=[user])
    clean_lab.keep_images([*fourth["amis"].values(), *newest["amis"].values(), middle["amis"]["us-west-2"]])


def assert_untouched(lab, primary):
    """No copies, shares, deprecation, tags or pointers left from a rolled-back promotion."""
    for region in RB_REGIONS[1:]:
        assert own_images(lab, region) == {}, region
        assert own_snapshots(lab, region) == set(), region
        assert pointer(lab, region, RB_PARAM) is None, region
    image = own_images(lab, "us-east-1")[primary]
    tags = tags_of(image)
    assert "Channel" not in tags and "bakeami:family" not in tags, tags
    assert tags["Name"] == "e2e-rollback"
    assert launch_users(lab, "us-east-1", primary) == set()
    for snap in snapshots_of(image):
        attr = lab.ec2().describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
        assert attr["CreateVolumePermissions"] == [], attr


def test_copy_failure_rolls_back_then_promote_retries(lab, clean_lab, bakeami, tmp_path):
    lab.inject(action="CopyImage", kind="error", status=400, code="InvalidParameterValue",
               message="injected: no copies to eu-west-1", region="eu-west-1")
    result = tmp_path / "bake.json"
    r = run(bakeami, lab, ["bake", "--result", str(result)], ROLLBACK)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "InvalidParameterValue" in r.stderr and "promotion failed" in r.stderr, r.stderr
    res = json.loads(result.read_text())
    primary = res["amis"]["us-east-1"]
    assert res["amis"] == {"us-east-1": primary}, res
    # both copies were asked for at once; the one that was made is rolled back
    assert any("copy" in item and "us-west-2" in item for item in res["cleanup"]["rolled_back"]), res
    assert f"retry the promotion with: bakeami promote --ami {primary} {ROLLBACK}" in r.stdout, r.stdout
    assert_untouched(lab, primary)
    assert pointer(lab, "us-east-1", RB_PARAM) is None

    lab.clear_faults()
    # an image named like the copy in us-west-2 but not a copy of ours: force_deregister (as in
    # Packer, in every region the image goes to) removes it, force_delete_snapshot its snapshot
    name = own_images(lab, "us-east-1")[primary]["Name"]
    stray = lab.ec2("us-west-2").copy_image(SourceImageId=primary, SourceRegion="us-east-1", Name=name)["ImageId"]
    result = tmp_path / "promote.json"
    r = run(bakeami, lab, ["promote", "--ami", primary, "--result", str(result)], ROLLBACK)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"force_deregister: deregistering {stray}" in r.stdout, r.stdout
    promoted = json.loads(result.read_text())
    assert promoted["amis"]["us-east-1"] == primary and set(promoted["amis"]) == set(RB_REGIONS), promoted
    assert_promoted(lab, promoted["amis"], res["run_id"], name)
    # moto ignores these: check what was asked for
    copies = {c.region: c.params for c in lab.requests(action="CopyImage")}
    assert copies["eu-west-1"]["Encrypted"] == "true" and copies["eu-west-1"]["KmsKeyId"] == "alias/e2e-images"
    assert "Encrypted" not in copies["us-west-2"] and copies["us-west-2"]["SourceRegion"] == "us-east-1"
    assert copies["us-west-2"]["ClientToken"] == f"{promoted['run_id']}-copy-us-west-2"

    # promoting it again reuses its copies (tag bakeami:copy-of) ...
    lab.reset_calls()
    r = run(bakeami, lab, ["promote", "--ami", primary, "--result", str(result)], ROLLBACK)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("reusing it") == 2 and "CopyImage" not in lab.calls(), r.stdout
    assert json.loads(result.read_text())["amis"] == promoted["amis"]
    # ... pointers already at the images are not written again (no new parameter version) ...
    assert lab.calls(service="ssm", action="PutParameter") == [], lab.calls(service="ssm")
    assert r.stdout.count(f"SSM {RB_PARAM}") == 3 and "already points at" in r.stdout, r.stdout
    # ... and when one is not and its write fails, the rollback takes away nothing the images
    # had before
    lab.client("ssm", "eu-west-1").put_parameter(Name=RB_PARAM, Value="ami-0000000000000000f", Type="String",
                          DataType="text", Overwrite=True)
    lab.inject(action="PutParameter", kind="error", status=400, code="ParameterMaxVersionLimitExceeded",
               message="injected", region="eu-west-1")
    r = run(bakeami, lab, ["promote", "--ami", primary, "--result", str(result)], ROLLBACK)
    assert r.returncode == 1, r.stdout + r.stderr
    rolled = json.loads(result.read_text())["cleanup"]["rolled_back"]
    assert not any("copy" in item or "removed" in item for item in rolled), rolled
    assert sum("deprecation of" in item and " back to " in item for item in rolled) == 3, rolled
    assert [item for item in rolled if f"SSM {RB_PARAM}" in item] == \
        [f"SSM {RB_PARAM} in eu-west-1 restored to ami-0000000000000000f"], rolled
    assert pointer(lab, "eu-west-1", RB_PARAM) == "ami-0000000000000000f"
    lab.client("ssm", "eu-west-1").put_parameter(Name=RB_PARAM, Value=promoted["amis"]["eu-west-1"],
                                                 Type="String", DataType="text", Overwrite=True)
    assert_promoted(lab, promoted["amis"], res["run_id"], name)
    clean_lab.keep_images(promoted["amis"].values())


def assert_promoted(lab, amis, run_id, name):
    for region, image_id in amis.items():
        image = own_images(lab, region)[image_id]
        tags = tags_of(image)
        assert tags["Channel"] == "production" and tags["bakeami:family"] == "promote_rollback", tags
        assert tags["bakeami:run-id"] == run_id and tags["Name"] == "e2e-rollback", tags
        assert image["Name"] == name
        assert launch_users(lab, region, image_id) == {SHARE}
        for snap in snapshots_of(image):
            attr = lab.ec2(region).describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
            assert attr["CreateVolumePermissions"] == [{"UserId": SHARE}], attr
        assert pointer(lab, region, RB_PARAM) == image_id
        assert 29.9 < days_ahead(lab.deprecations(region)[image_id]) < 30.1


def test_pointer_failure_undoes_everything(lab, clean_lab, bakeami, tmp_path):
    previous = "ami-0123456789abcdef0"
    lab.client("ssm", "us-east-1").put_parameter(Name=RB_PARAM, Value=previous, Type="String",
                                                 DataType="aws:ec2:image")
    # after the copies, shares and deprecations, and the pointer in the first two regions
    lab.inject(action="PutParameter", kind="error", status=400, code="ParameterMaxVersionLimitExceeded",
               message="injected", region="eu-west-1")
    result = tmp_path / "bake.json"
    r = run(bakeami, lab, ["bake", "--result", str(result)], ROLLBACK)
    assert r.returncode == 1, r.stdout + r.stderr
    res = json.loads(result.read_text())
    primary = res["amis"]["us-east-1"]
    rolled = "\n".join(res["cleanup"]["rolled_back"])
    for what in (f"SSM {RB_PARAM} in us-east-1 restored to {previous}", f"SSM {RB_PARAM} in us-west-2 deleted",
                 "copy", f"launch permissions on {primary} in us-east-1 removed",
                 f"deprecation of {primary} in us-east-1 cancelled"):
        assert what in rolled, rolled
    assert not res["cleanup"].get("failed"), res  # an empty list is left out
    assert_untouched(lab, primary)
    assert pointer(lab, "us-east-1", RB_PARAM) == previous
    assert lab.deprecations("us-east-1")[primary] is None
    clean_lab.keep_images([primary])


def test_promote_bad_input(lab, clean_lab, bakeami, tmp_path):
    r = bakeami.run(["promote", "--ami", "ami-0123456789abcdef0", BAD_INPUT])
    assert r.returncode == 2 and "nothing to promote" in r.stderr, r.stderr
    r = bakeami.run(["promote", TEMPLATE])
    assert r.returncode == 2 and "--ami" in r.stderr, r.stderr
    r = bakeami.run(["promote", "--ami", "i-0123", TEMPLATE])
    assert r.returncode == 2 and "AMI id" in r.stderr, r.stderr
    assert lab.calls() == []
    r = bakeami.run(["promote", "--ami", "ami-0123456789abcdef0", TEMPLATE])
    assert r.returncode == 2 and "not found" in r.stderr, r.stdout + r.stderr
    assert lab.calls(service="ec2") == ["DescribeImages"]
    # settings beyond the template module's are checked before any call
    tpl = json.loads(open(TEMPLATE).read())
    tpl["builders"][0]["deprecate_at"] = "next tuesday"
    tpl["builders"][0]["region_kms_key_ids"] = {"us-west-2": 42}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(tpl))
    r = bakeami.run(["validate", str(bad)])
    assert r.returncode == 2 and "builders[0].region_kms_key_ids.us-west-2" in r.stderr, r.stderr
    del tpl["builders"][0]["region_kms_key_ids"]
    bad.write_text(json.dumps(tpl))
    r = bakeami.run(["validate", str(bad)])
    assert r.returncode == 2 and "builders[0].deprecate_at" in r.stderr, r.stderr


def start_held_at_copy_wait(lab, bakeami, tmp_path, journal):
    """Starts a bake whose wait for the us-west-2 copy hangs (a delayed DescribeImages there);
    returns it once both copies exist and are journalled (a kill between a create call and its
    journal line is the one window no journal covers)."""
    # the first DescribeImages there is force_deregister's name lookup, the next the copy wait
    lab.inject(action="DescribeImages", kind="delay", delay=20, region="us-west-2", nth=2, count=None)
    proc = bakeami.start(["bake", "-var", f"ssh_port={lab.ssh_port}", "--journal", str(journal),
                          "--result", str(tmp_path / "result.json"), ROLLBACK])
    deadline = time.monotonic() + 60

    def copies_journalled():
        created = set()
        for line in journal.read_text().splitlines() if journal.exists() else []:
            try:
                rec = json.loads(line)
            except ValueError:  # a line being written
                continue
            if rec["event"] == "created" and rec.get("kind") == "image" and rec.get("region"):
                created.add(rec["region"])
        return created == {"us-west-2", "eu-west-1"}

    def waiting():
        return len([c for c in lab.requests(action="DescribeImages") if c.region == "us-west-2"]) >= 2

    while not (copies_journalled() and waiting()):
        assert time.monotonic() < deadline and proc.poll() is None, "the copy wait never started"
        time.sleep(0.05)
    lab.clear_faults()  # the call under way stays held; the rollback's calls are not
    return proc


def test_sigint_during_promotion(lab, clean_lab, bakeami, tmp_path):
    proc = start_held_at_copy_wait(lab, bakeami, tmp_path, tmp_path / "j.jsonl")
    proc.send_signal(signal.SIGINT)
    out = proc.stdout.read()
    assert proc.wait(timeout=60) == 130, out + proc.stderr.read()
    res = json.loads((tmp_path / "result.json").read_text())
    primary = res["amis"]["us-east-1"]
    assert res["status"] == "cancelled" and list(res["amis"]) == ["us-east-1"], res
    assert "rolled back: copy" in out and f"bakeami promote --ami {primary}" in out, out
    assert_untouched(lab, primary)  # the tested image stays, as after a failure
    clean_lab.keep_images([primary])


def test_sigkill_during_promotion_then_cleanup(lab, clean_lab, bakeami, tmp_path):
    journal = tmp_path / "j.jsonl"
    proc = start_held_at_copy_wait(lab, bakeami, tmp_path, journal)
    proc.kill()
    proc.wait(timeout=10)
    assert own_images(lab, "us-west-2"), "the copy should exist"
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"deleted image ami-\w+ in us-west-2", r.stdout), r.stdout
    primaries = list(own_images(lab, "us-east-1"))
    assert len(primaries) == 1  # kept before promoting: cleanup leaves it
    clean_lab.keep_images(primaries)


def ledger(journal):
    """The journal's entries by index (each line carries the whole entry; torn lines skipped)."""
    entries = {}
    for line in journal.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if "n" in rec:
            entries[rec["n"]] = rec
    return [entries[n] for n in sorted(entries)]


@pytest.mark.parametrize("previous", ["ami-0123456789abcdef0", None], ids=["pointer-restored", "pointer-deleted"])
def test_sigkill_after_pointer_and_share_then_cleanup(lab, clean_lab, bakeami, tmp_path, previous):
    """Issue 9, must show: a bake killed after its promotion's PutParameter and
    ModifyImageAttribute (its next call, the channel tags' CreateTags, held at the proxy and
    never forwarded) leaves a ledger from which `bakeami cleanup --journal` undoes all of it."""
    if previous:
        for region in RB_REGIONS:
            lab.client("ssm", region).put_parameter(Name=RB_PARAM, Value=previous, Type="String",
                                                    DataType="aws:ec2:image")
    journal = tmp_path / "j.jsonl"
    hold = lab.inject(action="CreateTags", kind="hold", params={"Tag.1.Key": "Channel"}, delay=300)
    proc = bakeami.start(["bake", "-var", f"ssh_port={lab.ssh_port}", "--journal", str(journal), ROLLBACK])
    deadline = time.monotonic() + 120
    while hold.fired == 0:
        assert time.monotonic() < deadline and proc.poll() is None, "the channel tags were never asked for"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()  # the held CreateTags is closed unanswered: it never reaches moto

    entries = ledger(journal)
    primary = next(e["id"] for e in entries if e["kind"] == "image" and e["event"] == "kept")
    copies = {e["region"]: e["id"] for e in entries if e["kind"] == "image" and e.get("region")}
    assert set(copies) == set(RB_REGIONS[1:]), entries
    # the kill came after every pointer and share, with the changes undone below in place
    assert [c.region for c in lab.requests(action="PutParameter")] == list(RB_REGIONS)
    assert launch_users(lab, "us-east-1", primary) == {SHARE}
    for region, image_id in [("us-east-1", primary), *copies.items()]:
        assert pointer(lab, region, RB_PARAM) == image_id, region
        assert launch_users(lab, region, image_id) == {SHARE}, region
    assert {e["kind"] for e in entries if e["event"] == "intent"} == {"tags"}, entries

    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    for region in RB_REGIONS:
        assert pointer(lab, region, RB_PARAM) == previous, (region, r.stdout)
    for region, copy in copies.items():
        assert own_images(lab, region) == {}, (region, r.stdout)  # deregistered ...
        assert own_snapshots(lab, region) == set(), region  # ... with their snapshots
        assert re.search(rf"deleted image {copy} in {region}", r.stdout), r.stdout
    image = own_images(lab, "us-east-1")[primary]  # the tested image stays, as it was before
    tags = tags_of(image)
    assert "Channel" not in tags and "bakeami:family" not in tags and tags["Name"] == "e2e-rollback", tags
    assert launch_users(lab, "us-east-1", primary) == set()
    for snap in snapshots_of(image):
        attr = lab.ec2().describe_snapshot_attribute(SnapshotId=snap, Attribute="createVolumePermission")
        assert attr["CreateVolumePermissions"] == [], attr
    assert lab.deprecations("us-east-1")[primary] is None
    want = "restored to " + previous if previous else "deleted (it did not exist before)"
    assert r.stdout.count(f"SSM {RB_PARAM} in ") == 3 and r.stdout.count(want) == 3, r.stdout
    # a second cleanup finds nothing left to undo
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0 and "0 entries to undo" in r.stdout, r.stdout
    clean_lab.keep_images([primary])


def test_sigkill_mid_copy_then_cleanup_finds_the_copy_by_name(lab, clean_lab, bakeami, tmp_path):
    """The one window no id covers: CopyImage reached EC2 (moto made the copy) but its answer
    never came back (dropped), and the bake is killed while the retry is held. The journal has
    only the intent, naming the copy; `bakeami cleanup --journal` finds it by that name in its
    region and removes it."""
    journal = tmp_path / "j.jsonl"
    lab.inject(action="CopyImage", kind="drop", region="us-west-2")
    hold = lab.inject(action="CopyImage", kind="hold", region="us-west-2", nth=2, delay=300)
    proc = bakeami.start(["bake", "-var", f"ssh_port={lab.ssh_port}", "--journal", str(journal), ROLLBACK])
    deadline = time.monotonic() + 120
    while hold.fired == 0:
        assert time.monotonic() < deadline and proc.poll() is None, "the copy was never retried"
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()
    made = own_images(lab, "us-west-2")
    assert len(made) == 1, made  # the dropped call's copy, which the journal has no id for
    copy = next(iter(made))
    intents = [e for e in ledger(journal) if e["kind"] == "image" and e.get("region") == "us-west-2"]
    assert [(e["event"], e.get("id")) for e in intents] == [("intent", None)], intents

    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"found image {copy}" in r.stdout and re.search(rf"deleted image {copy} in us-west-2", r.stdout), r.stdout
    for region in RB_REGIONS[1:]:
        assert own_images(lab, region) == {} and own_snapshots(lab, region) == set(), region
    clean_lab.keep_images(list(own_images(lab, "us-east-1")))
