"""The secret scanner (issue 12, item 6): bakes run with known secret values (the AWS secret
key and session token, a sensitive variable, the temporary private key, amazon-instance's x509
key), and none may appear anywhere a user or another user of the machines could read it:
stdout, stderr, the JSON log, the manifest, the result, the JUnit file, the journal, the
provisioning logs, the files left on the agent or on the instance, or the instance's process
list while a provisioner runs. The lab's "instance" is this machine's sshd (user bakeami), so
its files and processes are this machine's, seen while and after the bake runs."""
import json
import os
import pwd
import secrets
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
X509_KEY = HERE / "../../examples/seed/lab-x509/key.pem"
PRIVATE_KEY_MARKERS = ("PRIVATE KEY-----", "BEGIN OPENSSH PRIVATE")
INSTANCE_DIRS = (Path("/tmp"), Path("/home/bakeami"), Path("/var/tmp"))


def instance_uid() -> int:
    """The instance's files are the SSH user's (/tmp is shared with whatever else runs here).
    Asked when a test runs: the lab makes the user, so on a fresh machine it does not exist
    when this file is collected."""
    return pwd.getpwnam("bakeami").pw_uid


def _secrets():
    """Values that look like what they stand for, unique to this run."""
    return {
        "AWS secret key": "SECRETKEY" + secrets.token_hex(16),
        "session token": "SESSIONTOKEN" + secrets.token_hex(24),
        "sensitive variable": "sensitive-" + secrets.token_hex(8),
    }


def _template(tmp_path, checks):
    with open(HERE / "templates" / "bake.json") as f:
        tpl = json.load(f)
    tpl["provisioners"] = [{
        "type": "shell",
        "environment_vars": ["WORD={{user `secret_word`}}"],
        "inline": ["echo \"the word is $WORD\"", "echo {{user `secret_word`}} > /dev/null",
                   "echo provisioning-started", "sleep 3", "echo provisioning-done"]}]
    tpl["tests"] = {"checks": checks}
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps(tpl))
    return path


# A native check carrying a sensitive value, alive for a second so that the watcher's rounds
# (every 50 ms) see every process it makes on the instance: its code must reach the instance's
# shell other than in a command line.
CHECK_WITH_SECRET = "echo {{user `secret_word`}}; sleep 1"

class Watch:
    """While the bake runs: every process's command line, and every file under the instance's
    folders that others may read, scanned for the secrets."""

    def __init__(self, values, skip_pids, on_found=None):
        self.values = values
        self.on_found = on_found  # called once a secret was found
        self.skip = set(skip_pids)
        self.found = []
        self.stop = threading.Event()
        self.rounds = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self.stop.is_set():
            self._processes()
            self._files()
            if self.found and self.on_found:
                self.on_found()
            self.rounds += 1
            time.sleep(0.05)

    def _processes(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) in self.skip:
                continue
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            for what, v in self.values.items():
                if v in args:
                    self.found.append(f"process {pid} command line has the {what}: {args[:200]}")

    def _files(self):
        for root in INSTANCE_DIRS:
            for path in _walk(root, uid=instance_uid()):
                try:
                    st = path.stat()
                    if not st.st_mode & 0o044:  # only its owner reads it
                        continue
                    text = path.read_text(errors="replace")
                except (OSError, ValueError):
                    continue
                for what, v in self.values.items():
                    if v in text:
                        self.found.append(f"{path} (mode {oct(st.st_mode & 0o777)}) has the {what}")


def _walk(root, started=None, uid=None):
    for dirpath, dirnames, files in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(("pytest-", "bakeami-lab-"))]
        for f in files:
            p = Path(dirpath) / f
            try:
                st = p.lstat()
                if (p.is_file() and not p.is_symlink() and (started is None or st.st_mtime >= started)
                        and (uid is None or st.st_uid == uid)):
                    yield p
            except OSError:
                continue


def _scan_text(where, text, values, found):
    for what, v in values.items():
        if v in text:
            found.append(f"{where} has the {what}")
    for marker in PRIVATE_KEY_MARKERS:
        if marker in text:
            found.append(f"{where} has a private key ({marker})")


def _scan_tree(root, values, found, started=None, skip=(), uid=None):
    for p in _walk(root, started, uid):
        if p in skip:
            continue
        try:
            text = p.read_text(errors="replace")
        except OSError:
            continue
        _scan_text(str(p), text, values, found)


def _bake(lab, bakeami, tmp_path, values, template, *extra, log_format="text", on_found=None):
    """One bake with the secrets; returns what to scan and what was found while it ran."""
    agent_tmp = tmp_path / "agent-tmp"
    agent_tmp.mkdir(exist_ok=True)
    var_file = tmp_path / "vars.json"  # not on the command line: the agent's ps is not the point
    var_file.write_text(json.dumps({"secret_word": values["sensitive variable"]}))
    out_dir = tmp_path / f"out-{log_format}"
    out_dir.mkdir()
    files = {n: out_dir / n for n in ("manifest.json", "result.json", "junit.xml", "journal.jsonl")}
    env = {"AWS_SECRET_ACCESS_KEY": values["AWS secret key"],
           "AWS_SESSION_TOKEN": values["session token"], "TMPDIR": str(agent_tmp)}
    started = time.time() - 1
    watch = Watch(values, skip_pids=[os.getpid()], on_found=on_found)
    watch.thread.start()
    try:
        r = bakeami.run(["bake", *lab.ssh_vars(), "-var-file", var_file,
                         "--manifest", files["manifest.json"], "--result", files["result.json"],
                         "--junit", files["junit.xml"], "--journal", files["journal.jsonl"],
                         "--log-dir", out_dir / "logs", "--log-format", log_format, *extra, template],
                        env_extra=env, cwd=tmp_path)
    finally:
        watch.stop.set()
        watch.thread.join(10)
    assert watch.rounds > 0
    found = list(watch.found)
    _scan_text("stdout", r.stdout, values, found)
    _scan_text("stderr", r.stderr, values, found)
    for name, path in files.items():
        if path.exists():
            _scan_text(name, path.read_text(errors="replace"), values, found)
    logs = list((out_dir / "logs").rglob("*.log"))
    assert logs, "no provisioning logs"
    for p in logs:
        _scan_text(str(p), p.read_text(errors="replace"), values, found)
    _scan_tree(agent_tmp, values, found)  # what the bake left on the agent
    _scan_tree(tmp_path, values, found, skip={var_file, template, *logs, *files.values()})
    for root in INSTANCE_DIRS:  # what it left on the instance
        _scan_tree(root, values, found, started=started, uid=instance_uid())
    return r, files, found


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_secret_anywhere_after_a_bake(lab, clean_lab, bakeami, tmp_path, log_format):
    values = _secrets()
    template = _template(tmp_path, [
        {"command": CHECK_WITH_SECRET, "exit_status": 0},
        {"file": "/tmp", "exists": True}])
    r, files, found = _bake(lab, bakeami, tmp_path, values, template, log_format=log_format)
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])
    assert r.returncode == 0, r.stdout + r.stderr
    assert files["manifest.json"].exists() and files["junit.xml"].exists()
    assert "the word is <sensitive>" in r.stdout, r.stdout
    assert not found, "\n".join(found)


def test_no_secret_in_a_failing_check(lab, clean_lab, bakeami, tmp_path):
    """A failing native check prints its command's output: the JUnit file gets it masked."""
    values = _secrets()
    template = _template(tmp_path, [{"command": CHECK_WITH_SECRET,
                                     "stdout_matches": "^never-this"}])
    r, files, found = _bake(lab, bakeami, tmp_path, values, template)
    assert r.returncode == 3, r.stdout + r.stderr
    junit = files["junit.xml"].read_text()
    assert "<failure" in junit and ("&lt;sensitive&gt;" in junit or "<sensitive>" in junit), junit
    assert not found, "\n".join(found)


@pytest.fixture
def prefix():
    name = f"image-secrets-{secrets.token_hex(4)}"
    yield name
    for f in Path("/tmp").glob(f"{name}.*"):
        f.unlink()
    Path("/tmp/bakeami-e2e-instance-marker").unlink(missing_ok=True)


PACKER_UPLOAD = ("sudo -i -n ec2-upload-bundle -b {{.BucketName}} -m {{.ManifestPath}} -a {{.AccessKey}} "
                 "-s {{.SecretKey}} -d {{.BundleDirectory}} --batch --region {{.Region}} --retry")


@pytest.mark.parametrize("upload_command", [None, PACKER_UPLOAD], ids=["default", "packer-own"])
def test_no_secret_after_an_instance_bake(lab, clean_lab, bakeami, tmp_path, prefix, upload_command):
    """amazon-instance: the x509 key goes to the instance for the bundle, and must not stay
    there, nor show in any output. A template's own bundle_upload_command keeps Packer's
    fields: Packer's default, written out, shows the secret key in the instance's process list,
    and the scanner sees it there (and nowhere else)."""
    values = _secrets()
    key_lines = [x for x in X509_KEY.read_text().splitlines() if x and "-----" not in x]
    values.update({f"x509 key line {i}": line for i, line in enumerate(key_lines[:3])})
    with open(HERE / "templates" / "instance.json") as f:
        tpl = json.load(f)
    b = tpl["builders"][0]
    b["x509_cert_path"] = str((HERE / "../../examples/seed/lab-x509/cert.pem").resolve())
    b["x509_key_path"] = str(X509_KEY.resolve())
    if upload_command:  # its upload waits until the watch saw its command line
        b["bundle_upload_command"] = upload_command
        lab.hold_bundle_upload(True)
    tpl["variables"]["secret_word"] = ""
    tpl["sensitive-variables"] = ["secret_word"]
    tpl["provisioners"] = [{"type": "shell", "environment_vars": ["WORD={{user `secret_word`}}"],
                            "inline": ["echo \"the word is $WORD\"", "sleep 2",
                                       "echo baked-into-the-bundle > /tmp/bakeami-e2e-instance-marker"]}]
    template = tmp_path / "instance.json"
    template.write_text(json.dumps(tpl))
    r, files, found = _bake(lab, bakeami, tmp_path, values, template, "-var", f"prefix={prefix}",
                            on_found=lambda: lab.hold_bundle_upload(False))
    lab.hold_bundle_upload(False)
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])
    clean_lab.keep_s3(f"bakeami-e2e-bundles/{prefix}.")
    assert r.returncode == 0, r.stdout + r.stderr
    if upload_command:
        assert "-s <sensitive>" in _upload_line(r.stdout), r.stdout
        assert found and all("ec2-upload-bundle" in f and "AWS secret key" in f for f in found), found
        return
    # the default bundle_upload_command hands ec2-upload-bundle the keys in its environment,
    # from a 0600 file, not as Packer's -a/-s: no process shows the secret key
    assert "ec2-upload-bundle" in r.stdout and "-s " not in _upload_line(r.stdout), r.stdout
    assert not found, "\n".join(found)


def _upload_line(out: str) -> str:
    return next(x for x in out.splitlines() if "running bundle_upload_command" in x)
