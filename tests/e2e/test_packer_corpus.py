"""Issue 11's side-by-side validate test: every template of tests/packer_corpus/ goes through
Debian's Packer 1.6.6 (`packer validate`) and through `bakeami validate --dump-plan`.

Each NAME.json has a NAME.expect.json: what form of a real-world template it exercises
("about"), the arguments and environment both tools get, Packer's verdict ("packer": "valid" or
"invalid"), and
- for a template Packer accepts: the values Packer's decoding gives the options ("values":
  {build: {JSON path: value}}, derived from Packer 1.6.6's rules, see
  shared reference packer-compat.md section 1; "absent": options a null or an only/except
  leaves unset), the builds selected ("builds"), and user variables ("variables"). bakeami must
  accept it with those values in its dump; the builds are also compared with what `packer
  inspect` lists and the variables with what `packer console` prints for them, so Packer
  itself vouches for those;
  Where bakeami accepts an option Packer acts on without acting on it, "bakeami_warns" lists
  the warnings that say so;
- for a template Packer rejects: a piece of Packer's message ("packer_says") and of ours
  ("bakeami_says"), so both refuse it for the same fault;
- for a template Packer rejects and bakeami knowingly accepts ("bakeami": "accepts": the seed's
  trailing comma, skip_create_ami, which DESIGN.md keeps; README lists them): Packer's message
  and our warning naming the divergence and where ("bakeami_warns").

Nothing reaches AWS: `packer validate` makes no AWS call for these templates (no
ami_regions check in 1.6.6's Prepare, credentials are read only when a build runs), and the
tools run with no AWS settings and no network but loopback.
"""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import BAKEAMI, REPO

CORPUS = REPO / "tests" / "packer_corpus"
CASES = sorted(p.name[: -len(".expect.json")] for p in CORPUS.glob("*.expect.json"))


def expect_of(name):
    return json.loads((CORPUS / f"{name}.expect.json").read_text())


def tool_env(home, exp):
    # no AWS_* at all: neither tool may find credentials or a region to call with
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "CHECKPOINT_DISABLE": "1",
            "PACKER_NO_COLOR": "1", "LANG": "C.UTF-8", **exp.get("env", {})}


def packer_exe():
    exe = shutil.which("packer")
    if not exe:
        pytest.fail("packer (Debian's 1.6.6) is not installed: tests/deps.sh installs it")
    return exe


def run(cmd, home, exp, stdin=None):
    return subprocess.run([str(c) for c in cmd], cwd=CORPUS, env=tool_env(home, exp),
                          capture_output=True, text=True, timeout=60, input=stdin)


def packer(args, home, exp, stdin=None):
    return run([packer_exe(), *args], home, exp, stdin)


def packer_builds(name, home, exp):
    """The builder names `packer inspect -machine-readable` lists (template-builder lines)."""
    r = packer(["inspect", "-machine-readable", f"{name}.json"], home, exp)
    assert r.returncode == 0, r.stdout + r.stderr
    return sorted(line.split(",")[3] for line in r.stdout.splitlines()
                  if line.split(",")[2:3] == ["template-builder"])


SEP = "<-|->"


def packer_variables(name, home, exp, names):
    """What `packer console` renders {{user `x`}} as, for each of names, with the case's
    arguments (var files, -var) and environment: one line of input (Packer 1.6.6's console
    answers a piped input's last line only), the values joined by SEP."""
    expr = SEP.join(f"{{{{user `{n}`}}}}" for n in names) + "\n"
    r = packer(["console", *exp.get("args", []), f"{name}.json"], home, exp, stdin=expr)
    assert r.returncode == 0, r.stdout + r.stderr
    values = r.stdout.rstrip("\n").split(SEP)
    assert len(values) == len(names), r.stdout
    return dict(zip(names, values))


def check_accepted(name, exp, ours, home):
    assert ours.returncode == 0, f"{name}: Packer accepts it, bakeami does not:\n{ours.stderr}"
    dump = json.loads(ours.stdout)
    builds = {b["name"]: b for b in dump["builds"]}
    want_builds = exp.get("builds", ["amazon-ebs"])
    assert sorted(builds) == sorted(want_builds), name
    if not any(a.startswith(("-only", "-except")) for a in exp.get("args", [])):
        # packer inspect lists names as written: a "{{user `x`}}" one is compared by count
        theirs = packer_builds(name, home, exp)
        assert [n for n in theirs if "{{" not in n] == sorted(n for n in builds if n in theirs)
        assert len(theirs) == len(builds), (name, theirs)
    for build, values in exp.get("values", {}).items():
        got = builds[build]["values"]
        for path, want in values.items():
            assert path in got, f"{name}: {build}: {path} missing from the dump: {got}"
            assert got[path] == want, f"{name}: {build}: {path}: {got[path]!r} != {want!r}"
    for item in exp.get("absent", []):
        build, path = item.split(":", 1)
        assert path not in builds[build]["values"], f"{name}: {build}: {path} should be unset"
    for warning in exp.get("bakeami_warns", []):
        assert warning in ours.stderr, f"{name}: no warning {warning!r}:\n{ours.stderr}"
    want_vars = exp.get("variables", {})
    if want_vars:
        theirs = packer_variables(name, home, exp, list(want_vars))
        for var, want in want_vars.items():
            assert dump["variables"].get(var) == want, (name, var, dump["variables"])
            assert theirs[var] == want, f"{name}: packer console says {var}={theirs[var]!r}"


def check_rejected(name, exp, theirs, ours):
    assert exp["packer_says"] in theirs.stdout + theirs.stderr, (name, theirs.stdout)
    assert ours.returncode == 2, f"{name}: Packer rejects it, bakeami does not:\n{ours.stdout}"
    assert exp["bakeami_says"] in ours.stderr, (name, ours.stderr)
    assert ours.stdout == "", name   # an error prints no plan


def check_diverging(name, exp, theirs, ours):
    assert exp["packer_says"] in theirs.stdout + theirs.stderr, (name, theirs.stdout)
    assert ours.returncode == 0, f"{name}: bakeami should accept it (a known divergence):\n{ours.stderr}"
    assert exp["bakeami_warns"] in ours.stderr, (name, ours.stderr)
    json.loads(ours.stdout)   # the plan, as for any accepted template


@pytest.mark.parametrize("name", CASES)
def test_packer_and_bakeami_agree(name, tmp_path):
    exp = expect_of(name)
    args = [*exp.get("args", []), f"{name}.json"]
    theirs = packer(["validate", *args], tmp_path, exp)
    verdict = "valid" if theirs.returncode == 0 else "invalid"
    assert verdict == exp["packer"], \
        f"{name}: Packer 1.6.6 finds it {verdict}:\n{theirs.stdout}{theirs.stderr}"
    ours = run([BAKEAMI, "validate", "--dump-plan", *args], tmp_path, exp)
    if verdict == "valid":
        check_accepted(name, exp, ours, tmp_path)
    elif exp.get("bakeami") == "accepts":
        check_diverging(name, exp, theirs, ours)
    else:
        check_rejected(name, exp, theirs, ours)


def test_corpus_covers_issue_11(report_figure):
    """The corpus's size, and each of issue 11's forms present among its templates."""
    exps = {name: expect_of(name) for name in CASES}
    valid = [n for n, e in exps.items() if e["packer"] == "valid"]
    invalid = [n for n, e in exps.items() if e["packer"] == "invalid"]
    assert len(exps) >= 35 and len(valid) >= 20 and len(invalid) >= 15, (len(valid), len(invalid))
    text = {n: (CORPUS / f"{n}.json").read_text() for n in CASES}
    forms = {
        "comma list": lambda n: "us-west-2,eu-west-1" in text[n],
        "null in a var file": lambda n: (CORPUS / f"{n}.vars.json").exists()
        and "null" in (CORPUS / f"{n}.vars.json").read_text(),
        "scalar tag values": lambda n: '"Public": false' in text[n],
        "undeclared user variable": lambda n: "builder_name" in text[n],
        "required variable": lambda n: '"version": null' in text[n],
        "env": lambda n: "{{env" in text[n],
        "deprecated key": lambda n: "deprecated" in exps[n].get("bakeami_says", ""),
        "unknown key": lambda n: "unknown key" in exps[n].get("bakeami_says", ""),
        "unknown type": lambda n: n.startswith("bad-unknown-") and n.endswith(
            ("type", "post-processor")),
        "several builders": lambda n: text[n].count('"type": "amazon-ebs"') > 1,
        "post-processors": lambda n: "post-processors" in text[n],
    }
    for form, has in forms.items():
        assert any(has(n) for n in CASES), f"no corpus template exercises: {form}"
    diverging = [n for n in invalid if exps[n].get("bakeami") == "accepts"]
    report_figure(f"packer corpus: {len(exps)} templates, {len(valid)} valid and "
                  f"{len(invalid)} invalid for Packer 1.6.6, bakeami agreeing on each but "
                  f"{len(diverging)} it accepts with a warning, as README says "
                  f"(test_packer_corpus.py)")
