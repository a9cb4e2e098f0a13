"""End-to-end bakes against the lab (moto + a real sshd on loopback).

Each test gets a reset lab and must leave nothing behind: the clean_lab
fixture checks moto after the test for instances, key pairs, security
groups, images and snapshots made by the bake.
"""
import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import probe_binary
from lab import SSH_USER, SUDO_ASKS

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "bake.json")
# Packer 1.6.6 makes 21 EC2 calls for the same bake with a temporary key pair.
MAX_EC2_CALLS = 13


def bake_args(lab, *extra, template=TEMPLATE):
    return ["bake", "-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}",
            *extra, template]


def images_named_e2e(lab):
    ec2 = lab.ec2()
    return ec2.describe_images(Owners=["self"])["Images"]


def test_happy_path(lab, clean_lab, bakeami, tmp_path, report_figure):
    manifest = tmp_path / "manifest.json"
    result = tmp_path / "result.json"
    journal = tmp_path / "journal.jsonl"
    proc = bakeami.start(bake_args(lab, "--manifest", str(manifest), "--result", str(result),
                                   "--journal", str(journal)))
    arrivals = {}
    lines = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        for word in ("first-line", "second-line"):
            if word in line and word not in arrivals:
                arrivals[word] = time.monotonic()
    rc = proc.wait(timeout=120)
    out = "\n".join(lines)
    assert rc == 0, out + proc.stderr.read()
    # live: the first line reached us a second before the second was printed
    assert arrivals["second-line"] - arrivals["first-line"] >= 0.8, out
    assert "    | first-line" in out and "    ! to-stderr" in out

    images = images_named_e2e(lab)
    assert len(images) == 1, images
    image = images[0]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    src = json.loads(result.read_text())["source_ami"]
    assert tags["SourceAMI"] == src and src.startswith("ami-")
    assert tags["Role"] == "web" and tags["Name"] == "e2e-web"
    assert tags["BuildRegion"] == "us-east-1"
    assert tags["bakeami:run-id"] == json.loads(result.read_text())["run_id"]

    assert tags["CreatedBy"] == "bakeami" and tags["SourceAMIName"].startswith("al2023-ami")
    assert "bakeami:expires" not in tags   # the image is meant to stay
    snap_ids = [bdm["Ebs"]["SnapshotId"] for bdm in image["BlockDeviceMappings"] if "Ebs" in bdm]
    snaps = lab.ec2().describe_snapshots(SnapshotIds=snap_ids)["Snapshots"]
    for snap in snaps:
        stags = {t["Key"]: t["Value"] for t in snap.get("Tags", [])}
        assert stags["bakeami:run-id"] == tags["bakeami:run-id"] and stags["SourceAMI"] == src

    m = json.loads(manifest.read_text())
    assert m["builds"][-1]["artifact_id"] == f"us-east-1:{image['ImageId']}"
    assert m["builds"][-1]["builder_type"] == "amazon-ebs"
    assert m["last_run_uuid"] == m["builds"][-1]["packer_run_uuid"]

    res = json.loads(result.read_text())
    assert res["status"] == "succeeded" and res["amis"] == {"us-east-1": image["ImageId"]}
    calls = lab.calls(service="ec2")
    report_figure(f"EC2 calls for the happy-path bake: {len(calls)} (Packer 1.6.6: 21; "
                  f"target <= {MAX_EC2_CALLS}): {' '.join(calls)}")
    assert len(calls) <= MAX_EC2_CALLS, calls
    assert res["ec2_calls"] == len(calls)
    # the sensitive word never shows, the file provisioner's upload happened
    assert "not-set" not in out
    assert "the word is <sensitive>" in out
    with open("/tmp/bakeami-e2e-motd") as f:
        assert "bakeami-baked" in f.read()
    clean_lab.keep_images([image["ImageId"]])


def test_secrets_masked_everywhere(lab, clean_lab, bakeami, tmp_path):
    secret = "hunter2-very-secret"
    result = tmp_path / "result.json"
    r = bakeami.run(bake_args(lab, "-var", f"secret_word={secret}", "--result", str(result),
                              "--log-format", "json"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert secret not in r.stdout and secret not in r.stderr
    assert secret not in result.read_text()
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    texts = [e["text"] for e in events if e["kind"] == "output"]
    assert "the word is <sensitive>" in texts
    assert all(e["run_id"].startswith("bk-") for e in events)
    clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])


def test_failing_provisioner(lab, clean_lab, bakeami):
    r = bakeami.run(bake_args(lab, "-var", "fail_status=3"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "provisioners[0] (shell)" in r.stderr and "status 3" in r.stderr, r.stderr
    assert images_named_e2e(lab) == []
    assert "deleted instance" in r.stdout


def _wait_for(proc, needle, timeout=60):
    deadline = time.monotonic() + timeout
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if needle in line:
            return seen
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"never saw {needle!r}: {''.join(seen)}")


def test_sigint_during_provisioning(lab, clean_lab, bakeami):
    proc = bakeami.start(bake_args(lab, "-var", "sleep=30"))
    _wait_for(proc, "the word is")
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    rc = proc.wait(timeout=60)
    assert rc == 130, rest
    assert "deleted instance" in rest and "deleted key-pair" in rest, rest
    assert images_named_e2e(lab) == []


def test_sigkill_then_cleanup_journal(lab, clean_lab, bakeami, tmp_path):
    journal = tmp_path / "j.jsonl"
    proc = bakeami.start(bake_args(lab, "-var", "sleep=30", "--journal", str(journal)))
    _wait_for(proc, "the word is")
    proc.kill()
    proc.wait(timeout=10)
    left = lab.leftovers()
    assert left["instances"] and left["key_pairs"] and left["security_groups"], left
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deleted instance" in r.stdout
    assert not any(lab.leftovers().values()), lab.leftovers()


def test_cleanup_by_run_id(lab, clean_lab, bakeami, tmp_path):
    journal = tmp_path / "j.jsonl"
    proc = bakeami.start(bake_args(lab, "-var", "sleep=30", "--journal", str(journal)))
    _wait_for(proc, "the word is")
    proc.kill()
    proc.wait(timeout=10)
    run_id = json.loads(journal.read_text().splitlines()[0])["id"]
    r = bakeami.run(["cleanup", "--run-id", run_id])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(lab.leftovers().values()), lab.leftovers()


def test_throttled_calls_are_retried(lab, clean_lab, bakeami):
    lab.inject(action="RunInstances", kind="throttle", count=2)
    lab.inject(action="CreateImage", kind="503", count=1)
    r = bakeami.run(bake_args(lab))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RequestLimitExceeded" in r.stdout
    # the retried calls did not create twice
    assert len(images_named_e2e(lab)) == 1
    clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])


def test_on_error_abort_keeps_then_cleanup(lab, clean_lab, bakeami, tmp_path):
    journal = tmp_path / "j.jsonl"
    r = bakeami.run(bake_args(lab, "-var", "fail_status=4", "--on-error", "abort",
                              "--journal", str(journal)))
    assert r.returncode == 1
    assert f"bakeami cleanup --journal {journal}" in r.stdout
    assert lab.leftovers()["instances"]
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr


def _memcheck(log):
    """valgrind memcheck: any error or definite leak makes the exit status 99."""
    return ["valgrind", "--tool=memcheck", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--show-leak-kinds=definite", "--error-exitcode=99", f"--log-file={log}"]


def test_valgrind_happy_path(lab, clean_lab, bakeami, tmp_path):
    log = tmp_path / "vg.log"
    r = bakeami.run(bake_args(lab), timeout=600, wrapper=_memcheck(log))
    assert r.returncode == 0, log.read_text()[-4000:] + r.stdout[-2000:]
    text = log.read_text()
    assert "ERROR SUMMARY: 0 errors" in text, text[-4000:]
    clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])


def test_valgrind_failing_bake(lab, clean_lab, bakeami, tmp_path):
    """A provisioner fails: the error path and its cleanup free what they made."""
    log = tmp_path / "vg.log"
    r = bakeami.run(bake_args(lab, "-var", "fail_status=3"), timeout=600, wrapper=_memcheck(log))
    assert r.returncode == 1, log.read_text()[-4000:] + r.stdout[-2000:] + r.stderr[-2000:]
    assert "status 3" in r.stderr and "deleted instance" in r.stdout, r.stdout + r.stderr
    text = log.read_text()
    assert "ERROR SUMMARY: 0 errors" in text, text[-4000:]
    assert images_named_e2e(lab) == []


def test_valgrind_cancelled_bake(lab, clean_lab, bakeami, tmp_path):
    """SIGINT mid-provisioning: the cancelled bake cleans up and frees what it made."""
    log = tmp_path / "vg.log"
    proc = bakeami.start(bake_args(lab, "-var", "sleep=30"), wrapper=_memcheck(log))
    _wait_for(proc, "the word is", timeout=300)
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    rc = proc.wait(timeout=300)
    assert rc == 130, log.read_text()[-4000:] + rest
    assert "deleted instance" in rest and "deleted key-pair" in rest, rest
    text = log.read_text()
    assert "ERROR SUMMARY: 0 errors" in text, text[-4000:]
    assert images_named_e2e(lab) == []


def _probe_bakes(lab, n):
    """parallel_probe's n bakes of TEMPLATE: its output, and the describe calls they made."""
    lab.reset_calls()
    r = subprocess.run([probe_binary("parallel_probe"), str(n), TEMPLATE, "-var", "ssh_host=127.0.0.1",
                        "-var", f"ssh_port={lab.ssh_port}"],
                       env=dict(os.environ, **lab.env()), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    calls = lab.calls(service="ec2")
    return r.stdout, sum(1 for c in calls if c in ("DescribeImages", "DescribeInstances")), calls


def test_parallel_bakes_in_one_process(lab, clean_lab, report_figure):
    """Four bakes on four threads of one process, through the public API. Their describes
    are shared (ec2_shared.c): fewer calls than four times one bake's."""
    one, single, _ = _probe_bakes(lab, 1)
    # The first source lookup is held a second at the proxy: the other bakes ask meanwhile,
    # and go together in the next call, whatever the threads' timing.
    lab.inject("DescribeImages", kind="delay", delay=1.0)
    out, many, calls = _probe_bakes(lab, 4)
    amis = [line.split("ami=")[1].split()[0] for line in out.splitlines()]
    runs = {line.split("run=")[1].split()[0] for line in out.splitlines()}
    assert len(amis) == 4 and all(a.startswith("ami-") for a in amis), out
    assert len(set(amis)) == 4 and len(runs) == 4, out
    assert all(" mixed=0" in line for line in out.splitlines()), out  # no event of another run
    report_figure(f"describe calls of 4 bakes in one process: {many} (one bake: {single})")
    assert many < 4 * single, calls
    amis.append(one.split("ami=")[1].split()[0])
    assert sorted(img["ImageId"] for img in images_named_e2e(lab)) == sorted(amis)
    clean_lab.keep_images(amis)


def test_cleanup_stale(lab, clean_lab, bakeami, tmp_path):
    proc = bakeami.start(bake_args(lab, "-var", "sleep=30"))
    _wait_for(proc, "the word is")
    proc.kill()
    proc.wait(timeout=10)
    # nothing is past its 6 h expiry yet: --stale alone must keep everything
    r = bakeami.run(["cleanup", "--stale"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert lab.leftovers()["instances"], r.stdout
    time.sleep(1.1)
    r = bakeami.run(["cleanup", "--stale", "--older-than", "1s"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deleted instance" in r.stdout and "deleted key-pair" in r.stdout, r.stdout
    assert not any(lab.leftovers().values()), lab.leftovers()


def _variant(tmp_path, name, **builder):
    with open(TEMPLATE) as f:
        tpl = json.load(f)
    tpl["builders"][0].update(builder)
    for prov in tpl["provisioners"]:
        if prov["type"] == "file":   # keep the upload's source found from the copy
            prov["source"] = os.path.join(HERE, "templates", prov["source"])
    path = tmp_path / name
    path.write_text(json.dumps(tpl))
    return str(path)


def test_encrypt_boot(lab, clean_lab, bakeami, tmp_path):
    """encrypt_boot: made under a temporary name, copied encrypted under the real
    one, the unencrypted image and its snapshot removed."""
    template = _variant(tmp_path, "enc.json", encrypt_boot=True,
                        kms_key_id="alias/bakeami-e2e")
    r = bakeami.run(bake_args(lab, template=template))
    assert r.returncode == 0, r.stdout + r.stderr
    images = images_named_e2e(lab)
    assert len(images) == 1, images
    image = images[0]
    assert image["Name"].startswith("e2e ") and "unencrypted" not in image["Name"]
    copies = lab.requests(service="ec2", action="CopyImage")
    assert len(copies) == 1
    params = copies[0].params
    assert params["Encrypted"] == "true" and params["KmsKeyId"] == "alias/bakeami-e2e"
    assert params["SourceImageId"] != image["ImageId"]
    tags = {t["Key"]: t["Value"] for t in image.get("Tags", [])}
    assert tags["Role"] == "web" and tags["SourceAMI"].startswith("ami-")
    snaps = lab.leftovers()["snapshots"]
    assert len(snaps) == 1 and image["ImageId"] in snaps[0], snaps
    assert "deleted image" in r.stdout
    clean_lab.keep_images([image["ImageId"]])


def test_encrypt_boot_with_default_key_cannot_share(lab, clean_lab, bakeami, tmp_path):
    template = _variant(tmp_path, "enc-share.json", encrypt_boot=True,
                        ami_users=["111122223333"])
    r = bakeami.run(["validate", *bake_args(lab, template=template)[1:]])
    assert r.returncode == 2 and "builders[0].kms_key_id" in r.stderr, r.stderr
    assert lab.calls() == []


def test_ami_name_precheck_and_force_deregister(lab, clean_lab, bakeami, tmp_path):
    plain = _variant(tmp_path, "named.json", ami_name="e2e fixed name")
    forced = _variant(tmp_path, "forced.json", ami_name="e2e fixed name",
                      force_deregister=True, force_delete_snapshot=True)
    r = bakeami.run(bake_args(lab, template=plain))
    assert r.returncode == 0, r.stdout + r.stderr
    first = images_named_e2e(lab)[0]
    r = bakeami.run(bake_args(lab, template=plain))
    assert r.returncode == 2 and "already exists" in r.stderr, r.stdout + r.stderr
    assert "RunInstances" not in lab.calls(service="ec2")[-3:]
    r = bakeami.run(bake_args(lab, template=forced))
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"force_deregister: deregistering {first['ImageId']}" in r.stdout
    images = images_named_e2e(lab)
    assert len(images) == 1 and images[0]["ImageId"] != first["ImageId"]
    snaps = lab.leftovers()["snapshots"]
    assert len(snaps) == 1 and images[0]["ImageId"] in snaps[0], snaps
    clean_lab.keep_images([images[0]["ImageId"]])


def _tidy_template(tmp_path, folder, second_status):
    """Two shell provisioners (the first with an environment file) uploading into folder; the
    second lists what the folder holds while it runs, then exits with second_status."""
    tpl = json.loads(open(TEMPLATE).read())
    tpl["provisioners"] = [
        {"type": "shell", "remote_folder": folder, "use_env_var_file": True,
         "environment_vars": ["A=1"], "inline": ["echo first"]},
        {"type": "shell", "remote_folder": folder,
         "inline": [f"echo holds: $(ls {folder} | wc -l)", f"exit {second_status}"]},
    ]
    path = tmp_path / "tidy.json"
    path.write_text(json.dumps(tpl))
    return str(path)


@pytest.mark.parametrize("second_status", [0, 4])
def test_scripts_removed_from_the_instance(lab, clean_lab, bakeami, tmp_path, second_status):
    # The lab's instance is this machine: the folder is what the instance's /tmp would hold.
    folder = tempfile.mkdtemp(prefix="bakeami-tidy-", dir="/tmp")
    os.chmod(folder, 0o1777)
    try:
        r = bakeami.run(bake_args(lab, template=_tidy_template(tmp_path, folder, second_status)))
        # While the second script ran, the first one's script and env file and the second's
        # own (the environment goes in a file by default) were there (they go in one command
        # with the key at the end); afterwards nothing is.
        assert "holds: 4" in r.stdout, r.stdout + r.stderr
        assert os.listdir(folder) == [], os.listdir(folder)
        if second_status:
            assert r.returncode == 1 and "status 4" in r.stderr, r.stdout + r.stderr
        else:
            assert r.returncode == 0, r.stdout + r.stderr
            assert "temporary key removed from authorized_keys" in r.stdout
            clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)


def _restorer(path: Path):
    """Puts `path` back as it was (content and mode, or absent, and its folder) when called."""
    old = path.read_bytes() if path.exists() else None
    mode = path.stat().st_mode if old is not None else None
    had_folder = path.parent.exists()

    def restore():
        if not had_folder:
            shutil.rmtree(path.parent, ignore_errors=True)
        elif old is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(old)
            os.chmod(path, mode)
    return restore


USER_OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherUserKeyStaysInThisFile0000000000 other@user"
ROOT_OTHER = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOtherRootKeyStaysInThisFile0000000000 other@root"
ROOT_KEYS = Path("/root/.ssh/authorized_keys")


def _user_keys() -> Path:
    """The SSH user's authorized_keys (the user exists once a lab has started, not at import)."""
    return Path(pwd.getpwnam(SSH_USER).pw_dir) / ".ssh" / "authorized_keys"


@contextlib.contextmanager
def _planted_key(lab, tmp_path, *after):
    """A template whose provisioner does what cloud-init does on EC2 (the lab's instance is
    this machine): the key pair's public key goes into the user's authorized_keys (written by
    the user, so bakeami edits it directly) and, behind a forced command, into root's (only
    through sudo), each beside another line; then the provisioner runs `after`. Yields the
    template and the file the key was recorded in; puts both files back afterwards."""
    record = Path(tempfile.mkdtemp(prefix="bakeami-keys-", dir="/tmp"))
    os.chmod(record, 0o1777)
    restores = [_restorer(_user_keys()), _restorer(ROOT_KEYS)]
    keys = record / "keys"
    (record / "root.sh").write_text(
        f"mkdir -p /root/.ssh\n{{ echo '{ROOT_OTHER}'; "
        f"sed 's/^/command=\"echo Please login as {SSH_USER}\" /' {keys}; }} >> {ROOT_KEYS}\n")
    tpl = json.loads(open(TEMPLATE).read())
    tpl["provisioners"] = [{"type": "shell", "inline": [
        "mkdir -p ~/.ssh && chmod 700 ~/.ssh",
        f"sudo -n {lab.akc} {SSH_USER} > {keys}",
        f"{{ echo '{USER_OTHER}'; cat {keys}; }} >> ~/.ssh/authorized_keys",
        f"sudo -n sh {record}/root.sh",
        # Both files hold the key before bakeami removes it, or the bake fails here.
        f"[ $(grep -c . ~/.ssh/authorized_keys) -eq 2 ] && sudo -n grep -q 'Please login' {ROOT_KEYS}",
        *after,
    ]}]
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(tpl))
    try:
        yield path, keys
    finally:
        for restore in restores:
            restore()
        shutil.rmtree(record, ignore_errors=True)


def _our_key(keys: Path) -> str:
    """The base64 body of the one key line the provisioner recorded."""
    recorded = keys.read_text()
    ours = recorded.split()
    assert len(recorded.splitlines()) == 1 and ours[0] == "ssh-ed25519", recorded
    return ours[1]


def test_temporary_key_leaves_both_authorized_keys(lab, clean_lab, bakeami, tmp_path):
    # Other lines must stay; the temporary key's must go from both files.
    with _planted_key(lab, tmp_path) as (path, keys):
        r = bakeami.run(bake_args(lab, template=str(path)))
        assert r.returncode == 0, r.stdout + r.stderr
        clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])
        assert "temporary key removed from authorized_keys" in r.stdout
        ours = _our_key(keys)
        for f, other in ((_user_keys(), USER_OTHER), (ROOT_KEYS, ROOT_OTHER)):
            text = f.read_text()
            assert other in text.splitlines(), (f, text)
            assert ours not in text, (f, text)


def test_temporary_key_without_passwordless_sudo(lab, clean_lab, bakeami, tmp_path):
    # An image whose user has no passwordless sudo: the provisioner's last step takes it away
    # (a rule read after the lab's asks for a password), and proves it is gone. The key leaves
    # the user's file; root's cannot be checked: the bake succeeds, its warning names the
    # file, and root's file is as it was.
    asks = tmp_path / "asks"
    asks.write_text(f"Defaults:{SSH_USER} timestamp_timeout=0\n{SSH_USER} ALL=(ALL) PASSWD: ALL\n")
    try:
        with _planted_key(lab, tmp_path, f"sudo -n install -m 0440 {asks} {SUDO_ASKS}",
                          "! sudo -n true 2>/dev/null") as (path, keys):
            r = bakeami.run(bake_args(lab, template=str(path)))
            out = r.stdout + r.stderr
            assert r.returncode == 0, out
            clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])
            assert f"not checked, no passwordless sudo: {ROOT_KEYS}" in out, out
            assert "were not checked (no passwordless sudo) and may keep it" in out, out
            assert "temporary key removed from authorized_keys" not in out, out
            ours = _our_key(keys)
            user_text, root_text = _user_keys().read_text(), ROOT_KEYS.read_text()
            assert USER_OTHER in user_text.splitlines() and ours not in user_text, user_text
            assert ROOT_OTHER in root_text.splitlines() and ours in root_text, root_text
    finally:
        SUDO_ASKS.unlink(missing_ok=True)
