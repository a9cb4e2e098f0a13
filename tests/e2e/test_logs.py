"""Provisioning logs: each provisioner's whole output kept on the agent in
<log_dir>/<run-id>/NN-<type>.log (0600 files in a 0700 folder), masked as the console is.
"""
import json
import os
import stat

from test_bake import bake_args, images_named_e2e

SECRET = "hunter2-log-secret"


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def console_output(stdout):
    """The provisioners' output lines the console showed ("    | x", "    ! x")."""
    return [line[6:] for line in stdout.splitlines() if line[:6] in ("    | ", "    ! ")]


def test_every_provisioner_has_its_whole_output_masked(lab, clean_lab, bakeami, tmp_path):
    logs = tmp_path / "logs"
    result = tmp_path / "result.json"
    r = bakeami.run(bake_args(lab, "-var", f"secret_word={SECRET}", "--result", str(result),
                              "--log-dir", str(logs)))
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(result.read_text())
    run_dir = logs / res["run_id"]
    assert res["logs"] == str(run_dir)
    assert f"    provisioning logs: {run_dir}" in r.stdout.splitlines()
    assert sorted(os.listdir(run_dir)) == ["00-shell.log", "01-file.log"]
    assert mode(run_dir) == 0o700
    assert all(mode(run_dir / f) == 0o600 for f in os.listdir(run_dir))

    shell = (run_dir / "00-shell.log").read_text().splitlines()
    # every line the shell printed: stdout's in order, and stderr's (its own channel,
    # so its place among them is not fixed)
    printed = ["first-line", "second-line", "the word is <sensitive>"]
    assert [line for line in shell if line in printed] == printed, shell
    assert "to-stderr" in shell
    # and everything the console showed of it is there too
    assert set(console_output(r.stdout)) <= set(shell) | set(
        (run_dir / "01-file.log").read_text().splitlines())
    assert any("provisioners[0] (shell)" in line for line in shell), shell
    assert any("provisioners[1] (file)" in line for line in
               (run_dir / "01-file.log").read_text().splitlines())
    for f in os.listdir(run_dir):
        assert SECRET not in (run_dir / f).read_text()
    clean_lab.keep_images([img["ImageId"] for img in images_named_e2e(lab)])


def test_a_failed_provisioner_log_is_complete(lab, clean_lab, bakeami, tmp_path):
    result = tmp_path / "result.json"
    r = bakeami.run(bake_args(lab, "-var", "fail_status=3", "--result", str(result)))
    assert r.returncode == 1, r.stdout + r.stderr
    res = json.loads(result.read_text())
    # the default folder: bakeami-logs under the working directory
    run_dir = tmp_path / "bakeami-logs" / res["run_id"]
    assert res["logs"] == f"bakeami-logs/{res['run_id']}"
    assert os.listdir(run_dir) == ["00-shell.log"]   # the file provisioner never ran
    shell = (run_dir / "00-shell.log").read_text().splitlines()
    for line in ("first-line", "second-line", "to-stderr", "the word is <sensitive>"):
        assert line in shell, shell
    assert shell[-1].startswith("ERROR: provisioners[0] (shell)") and "status 3" in shell[-1]
    assert images_named_e2e(lab) == []


def test_a_log_dir_that_is_a_file_fails_before_any_aws_call(lab, clean_lab, bakeami, tmp_path):
    (tmp_path / "taken").write_text("")
    r = bakeami.run(bake_args(lab, "--log-dir", str(tmp_path / "taken" / "logs")))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "log_dir" in r.stderr and "is not a folder" in r.stderr, r.stderr
    assert lab.calls(service="ec2") == []
