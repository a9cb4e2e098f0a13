"""Bad templates and variable files: exit 2, one clear message naming the
JSON path, and not a single AWS call (counted at the lab's proxy)."""
import os
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
