"""Bad templates and variable files: exit 2, one clear message naming the
JSON path, and not a single AWS call (counted at the lab's proxy)."""
import json
import os
import re
import shlex

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CASES = os.path.join(ROOT, "tests", "templates", "bad", "cases.tsv")


def load_cases():
    cases = []
    with open(CASES) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            name, args, code, needle = (line.rstrip("\n").split("\t") + ["", "", ""])[:4]
            cases.append(pytest.param(name, shlex.split(args), int(code), needle, id=name))
    return cases


@pytest.mark.parametrize("name,args,code,needle", load_cases())
@pytest.mark.parametrize("command", ["validate", "bake"])
def test_bad_input(lab, clean_lab, bakeami, command, name, args, code, needle):
    template = os.path.join("tests", "templates", "bad", name)
    r = bakeami.run([command, *args, template], cwd=ROOT)
    assert r.returncode == code, r.stdout + r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("bakeami: error:")]
    assert len(errors) == 1, r.stderr
    assert needle in errors[0], errors[0]
    assert lab.calls() == [], lab.calls()


def test_at_least_25_cases():
    assert len(load_cases()) >= 25


def test_usage_errors(bakeami):
    for args in (["bake"], ["frobnicate"], ["bake", "--on-error", "maybe", "x.json"],
                 ["cleanup"], ["cleanup", "--stale", "--older-than", "soon"]):
        r = bakeami.run(args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("bakeami: "), r.stderr


# ---- one validation pass: validate accepts exactly what a bake can run ----

E2E_TEMPLATES = os.path.join(ROOT, "tests", "e2e", "templates")
MOTD = os.path.join(E2E_TEMPLATES, "files", "motd")
WARNING = re.compile(r"^==> \d\d:\d\d\.\d (validate: WARNING: .*)$")
CLEAN_AMI_NAME = "clean_ami_name is the old name of clean_resource_name"


def lab_template(tmp_path, extra_provisioner=None):
    """The lab's bake.json, its ami_name through the old clean_ami_name, and
    optionally one more provisioner (at index 2)."""
    with open(os.path.join(E2E_TEMPLATES, "bake.json")) as f:
        t = json.load(f)
    t["builders"][0]["ami_name"] = "e2e {{isotime \"2006-01-02 15:04\" | clean_ami_name}} {{uuid}}"
    t["provisioners"][1]["source"] = MOTD
    if extra_provisioner:
        t["provisioners"].append(extra_provisioner)
    path = tmp_path / "template.json"
    path.write_text(json.dumps(t))
    return str(path)


def warnings_of(out):
    return [m.group(1) for m in map(WARNING.match, out.splitlines()) if m]


UNRUNNABLE = [
    {"type": "chef-solo", "cookbook_paths": ["cookbooks"]},
    {"type": "salt-masterless", "local_state_tree": "salt"},
]


@pytest.mark.parametrize("prov", UNRUNNABLE, ids=[p["type"] for p in UNRUNNABLE])
@pytest.mark.parametrize("command", ["validate", "bake"])
def test_unrunnable_provisioner_refused_before_any_aws_call(lab, clean_lab, bakeami, tmp_path,
                                                           command, prov):
    template = lab_template(tmp_path, prov)
    r = bakeami.run([command, "-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}",
                     template], cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("bakeami: error:")]
    assert len(errors) == 1 and "template.json: provisioners[2].type: " in errors[0], r.stderr
    assert f'"{prov["type"]}"' in errors[0]
    # nothing half-runs: no key pair, no security group, no instance, not even a lookup
    assert lab.calls() == [], lab.calls()
    assert any(CLEAN_AMI_NAME in w for w in warnings_of(r.stdout)), r.stdout


def test_validate_prints_the_warnings_a_bake_prints(lab, clean_lab, bakeami, tmp_path):
    template = lab_template(tmp_path)
    args = ["-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}", template]
    v = bakeami.run(["validate", *args], cwd=ROOT)
    assert v.returncode == 0, v.stdout + v.stderr
    assert lab.calls() == [], lab.calls()
    # a bake that fails in its provisioner: it got past VALIDATE, nothing is left
    b = bakeami.run(["bake", "-var", "fail_status=3", *args], cwd=ROOT)
    assert b.returncode != 0 and "exited with status 3" in b.stderr, b.stdout + b.stderr
    assert lab.calls(), "the bake ran"
    warned = warnings_of(v.stdout)
    assert any(CLEAN_AMI_NAME in w for w in warned), v.stdout
    assert warnings_of(b.stdout) == warned, (v.stdout, b.stdout)
