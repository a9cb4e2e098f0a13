"""Packer's error-cleanup-provisioner and -on-error (issue 11, item 9), against the lab.

What Packer 1.6.6 does, seen with Debian's packer on this lab: after a provisioner fails, the
error-cleanup-provisioner runs on the instance, then the build cleans up (-on-error=cleanup, the
default); -on-error=abort runs neither; -on-error=run-cleanup-provisioner runs it and then keeps
what the build made, as abort does. It never runs after a success. bakeami also runs it when
the tests (which run where Packer's provisioning ends) fail.
"""
import json

import pytest

MARK = "error-cleanup-ran-for"


def template(tmp_path, lab, fail_status="3", tests=None, cleanup_type="shell", comm=None):
    builder = {
        "type": "amazon-ebs", "name": "ec", "region": "us-east-1",
        "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"},
                              "owners": ["amazon"], "most_recent": True},
        "instance_type": "t3.micro", "ssh_username": "bakeami",
        "ssh_host": "127.0.0.1", "ssh_port": str(lab.ssh_port), "ssh_timeout": "30s",
        "ami_name": "error-cleanup {{uuid}}",
    }
    if comm:
        builder["communicator"] = comm
    doc = {
        "builders": [builder],
        "provisioners": [{"type": "shell-local", "inline": ["true"]}] if comm else
                        [{"type": "shell", "inline": ["echo provisioning", f"exit {fail_status}"]}],
        "error-cleanup-provisioner": {"type": cleanup_type,
                                      "inline": [f"echo {MARK}-$PACKER_BUILD_NAME"]},
    }
    if tests:
        doc["tests"] = tests
    path = tmp_path / "error_cleanup.json"
    path.write_text(json.dumps(doc))
    return str(path)


def ran(out):
    return f"{MARK}-ec" in out


def test_cleanup_default_runs_it_then_cleans_up(lab, clean_lab, bakeami, tmp_path):
    r = bakeami.run(["build", "-color=false", template(tmp_path, lab)])
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert ran(out), out
    # the run's error stays the provisioner's; the cleanup provisioner's line follows it
    assert "exited with status 3" in out, out
    assert out.index("provisioning step had errors") < out.index(f"{MARK}-ec"), out
    assert not lab.leftovers()["instances"], out
    logs = list(tmp_path.glob("bakeami-logs/*/01-shell.log"))
    assert logs and f"{MARK}-ec" in logs[0].read_text(), logs


@pytest.mark.parametrize("on_error, runs_it", [("abort", False),
                                              ("run-cleanup-provisioner", True)])
def test_keeping_modes_keep_everything_for_cleanup_journal(lab, clean_lab, bakeami, tmp_path,
                                                           on_error, runs_it):
    journal = tmp_path / "j.jsonl"
    r = bakeami.run(["build", "-color=false", f"-on-error={on_error}", "--journal", str(journal),
                     template(tmp_path, lab)])
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert ran(out) == runs_it, out
    assert lab.leftovers()["instances"], out
    assert f"bakeami cleanup --journal {journal}" in out, out
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert not lab.leftovers()["instances"]


def test_a_success_never_runs_it(lab, clean_lab, bakeami, tmp_path):
    r = bakeami.run(["build", "-color=false", template(tmp_path, lab, fail_status="0")])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert not ran(out), out
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])


def test_failed_tests_run_it(lab, clean_lab, bakeami, tmp_path):
    tests = {"checks": [{"file": "/nonexistent/bakeami-error-cleanup", "exists": True}]}
    r = bakeami.run(["build", "-color=false", template(tmp_path, lab, fail_status="0", tests=tests)])
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert ran(out), out
    assert not lab.leftovers()["instances"], out


@pytest.mark.parametrize("case", ["unknown-type", "communicator-none"])
def test_validate_reads_it_as_a_provisioner(lab, bakeami, tmp_path, case):
    if case == "unknown-type":
        tpl, want = template(tmp_path, lab, cleanup_type="no-such-provisioner"), "unknown"
    else:
        tpl, want = template(tmp_path, lab, comm="none"), "never reaches"
    r = bakeami.run(["validate", tpl])
    assert r.returncode != 0, r.stdout + r.stderr
    assert "error-cleanup-provisioner" in r.stderr and want in r.stderr, r.stderr
