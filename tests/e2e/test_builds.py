"""Several builders in one template (issue 11, items 2 and 9), against the lab: two builds baked
in parallel in one process, each with its own run id, journal and image; -only/-except; a
builder type bakeami does not run refused at validate unless left out; `bakeami build` as a
drop-in for `packer build` (-machine-readable parsed the way scripts do); `bakeami inspect` and
`validate -syntax-only` beside Debian's Packer 1.6.6 on the same templates.
"""
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
TWO = HERE / "templates" / "two_builds.json"
BUILDS = ("amazon-ebs", "web")          # the two builds' names, in Packer's (sorted) order
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def lab_vars(lab, *extra):
    return ["-var", "ssh_host=127.0.0.1", "-var", f"ssh_port={lab.ssh_port}", *extra]


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def tags_of(image):
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def journals(path: Path):
    return sorted(p.name for p in path.parent.glob(path.stem + ".*" + path.suffix))


def test_two_builds_bake_in_parallel(lab, clean_lab, bakeami, tmp_path, report_figure):
    journal = tmp_path / "j.jsonl"
    result = tmp_path / "result.json"
    t0 = time.monotonic()
    r = bakeami.run(["build", "-color=false", *lab_vars(lab, "-var", "sleep=4"),
                     "--journal", str(journal), "--result", str(result), TWO], timeout=240)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    assert len(images) == 2, images
    by_role = {tags_of(i)["Role"]: i for i in images}
    assert set(by_role) == {"web", "plain"}
    assert tags_of(by_role["web"])["Build"] == "web"
    assert tags_of(by_role["plain"])["Build"] == "amazon-ebs"
    # each build its own run id (tagged on its image) and journal
    run_ids = {tags_of(i)["bakeami:run-id"] for i in images}
    assert len(run_ids) == 2, run_ids
    assert journals(journal) == ["j.amazon-ebs.jsonl", "j.web.jsonl"]
    for name in BUILDS:
        first = json.loads((tmp_path / f"j.{name}.jsonl").read_text().splitlines()[0])
        assert first["id"] in run_ids
    # every line a build says carries its name, as Packer's ("==> web: ", "    web: ")
    for name in BUILDS:
        assert f"==> {name}: " in out and f"    {name}: tick-1-{name}" in out, out
    assert "    web: only-for-web" in out and "    amazon-ebs: not-for-web" in out, out
    assert "    web: not-for-web" not in out and "    amazon-ebs: only-for-web" not in out, out
    # interleaved: the second build printed between the first's two ticks
    lines = out.splitlines()
    ticks = [i for i, line in enumerate(lines) if "tick-" in line]
    names = [lines[i].split(":")[0].strip() for i in ticks]
    assert names != sorted(names), "the builds did not run at the same time:\n" + out
    # Packer's closing lines
    assert "Build 'web' finished after " in out and "Build 'amazon-ebs' finished after " in out
    assert "\n==> Wait completed after " in out
    assert "==> Builds finished. The artifacts of successful builds are:" in out
    for role, name in (("web", "web"), ("plain", "amazon-ebs")):
        assert f"--> {name}: AMIs were created:\nus-east-1: {by_role[role]['ImageId']}\n" in out
    # the combined result lists each build
    doc = json.loads(result.read_text())
    assert doc["status"] == "succeeded"
    assert [(b["name"], b["status"]) for b in doc["builds"]] == [(n, "succeeded") for n in BUILDS]
    assert {b["ami"] for b in doc["builds"]} == {i["ImageId"] for i in images}
    assert {b["run_id"] for b in doc["builds"]} == run_ids
    report_figure(f"two-build bake (bakeami build, sleep=4 in each): {wall:.1f} s wall")


def test_only_and_except_pick_one(lab, clean_lab, bakeami, tmp_path, report_figure):
    t0 = time.monotonic()
    r = bakeami.run(["build", "-color=false", "-only=web", *lab_vars(lab, "-var", "sleep=4"),
                     TWO], timeout=180)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stdout + r.stderr
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    assert [tags_of(i)["Role"] for i in images] == ["web"]
    assert "amazon-ebs:" not in r.stdout, r.stdout
    report_figure(f"one build of the same template (-only=web, sleep=4): {wall:.1f} s wall")

    r = bakeami.run(["bake", "-except", "web", *lab_vars(lab), TWO], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    assert sorted(tags_of(i)["Role"] for i in images) == ["plain", "web"]
    # one build left: bakeami bake's own lines, unprefixed, as for any one-builder template
    assert "    | not-for-web" in r.stdout and "amazon-ebs:" not in r.stdout, r.stdout


def test_only_naming_no_build_runs_nothing(lab, clean_lab, bakeami):
    """Packer 1.6.6: an -only matching nothing (JSON mode has no globs) runs no build, exit 0."""
    r = bakeami.run(["build", "-color=false", "-only=we*", *lab_vars(lab), TWO])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "==> Builds finished but no artifacts were created." in r.stdout
    assert lab.calls(service="ec2") == []


def test_one_build_fails_the_other_succeeds(lab, clean_lab, bakeami, tmp_path):
    bad = tmp_path / "one_fails.json"
    doc = json.loads(TWO.read_text())
    doc["provisioners"].append({"type": "shell", "only": ["web"], "inline": ["exit 7"]})
    bad.write_text(json.dumps(doc))
    r = bakeami.run(["build", "-color=false", "-machine-readable", *lab_vars(lab), bad],
                    timeout=180)
    assert r.returncode == 1, r.stdout + r.stderr
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    assert [tags_of(i)["Role"] for i in images] == ["plain"]
    rows = [line.split(",") for line in r.stdout.splitlines()]
    assert [",".join(row[1:]) for row in rows if row[2] == "error-count"] == [",error-count,1"]
    errors = [row for row in rows if row[2] == "error"]
    assert len(errors) == 1 and errors[0][1] == "web" and "status 7" in errors[0][3], errors
    ids = [row for row in rows if row[2] == "artifact" and row[4] == "id"]
    assert [(row[1], row[5]) for row in ids] == [("amazon-ebs", f"us-east-1:{images[0]['ImageId']}")]


def test_machine_readable_as_scripts_read_it(lab, clean_lab, bakeami, tmp_path):
    out = tmp_path / "build.out"
    r = bakeami.run(["build", "-machine-readable", "-only=web", *lab_vars(lab), TWO], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    out.write_text(r.stdout)
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    # what Jenkins shell steps do with packer's output
    ami = subprocess.run(f"grep 'artifact,0,id' {out} | cut -d, -f6 | cut -d: -f2", shell=True,
                         check=True, capture_output=True, text=True).stdout.strip()
    assert ami == images[0]["ImageId"]
    for line in r.stdout.splitlines():
        ts, target, kind, *rest = line.split(",")
        assert ts.isdigit() and abs(int(ts) - time.time()) < 600, line
        assert "\x1b[" not in line and "\n" not in line, line
    rows = [line.split(",", 3) for line in r.stdout.splitlines()]
    says = [row[3] for row in rows if row[2] == "ui"]
    assert any(s.startswith("say,==> web: ") for s in says), says
    assert ["web", "artifact-count", "1"] == [x for row in rows if row[2] == "artifact-count"
                                               for x in (row[1], row[2], row[3])]
    arts = [row[3] for row in rows if row[2] == "artifact"]
    assert arts[0] == "0,builder-id,mitchellh.amazonebs"
    assert arts[2] == f"0,string,AMIs were created:\\nus-east-1: {ami}\\n"
    assert arts[-2:] == ["0,files-count,0", "0,end"]


def test_timestamps_and_colour(lab, clean_lab, bakeami):
    r = bakeami.run(["build", "-timestamp-ui", "-only=web", *lab_vars(lab), TWO], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])
    assert "\x1b[1;32mweb: output will be in this color.\x1b[0m" in r.stdout, r.stdout
    plain = ANSI.sub("", r.stdout).splitlines()
    stamped = [line for line in plain if "==> web: " in line]
    assert stamped and all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d): ==> web: ",
                                    line) for line in stamped), stamped


def test_force_deregisters_an_image_of_the_same_name(lab, clean_lab, bakeami, tmp_path):
    fixed = tmp_path / "fixed.json"
    doc = json.loads(TWO.read_text())
    doc["builders"] = [doc["builders"][0]]
    doc["builders"][0]["ami_name"] = "two-web fixed"
    fixed.write_text(json.dumps(doc))
    r = bakeami.run(["build", "-color=false", *lab_vars(lab), fixed], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    first = own_images(lab)
    r = bakeami.run(["build", "-color=false", *lab_vars(lab), fixed], timeout=180)
    assert r.returncode == 1 and "two-web fixed" in r.stdout, r.stdout
    r = bakeami.run(["build", "-color=false", "-force", *lab_vars(lab), fixed], timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    now = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in now])
    assert len(now) == 1 and now[0]["ImageId"] != first[0]["ImageId"]


# ---- validate: builder types, names, -syntax-only; inspect -- beside Packer 1.6.6 -------------

def with_docker(tmp_path):
    doc = json.loads(TWO.read_text())
    doc["builders"].append({"type": "docker", "name": "box", "image": "debian", "commit": True})
    path = tmp_path / "with_docker.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_unsupported_builder_refused_unless_left_out(lab, bakeami, tmp_path):
    path = with_docker(tmp_path)
    r = bakeami.run(["validate", path])
    assert r.returncode == 2
    assert "builders[2].type" in r.stderr and '"docker"' in r.stderr, r.stderr
    assert "-except=box" in r.stderr and "-only=amazon-ebs,web" in r.stderr, r.stderr
    r = bakeami.run(["build", "-color=false", path])
    assert r.returncode == 1 and "-except=box" in r.stdout, r.stdout
    assert lab.calls(service="ec2") == []
    for args in (["-except=box"], ["-only", "web,amazon-ebs"], ["-only=web"]):
        r = bakeami.run(["validate", *args, path])
        assert r.returncode == 0 and "is valid" in r.stdout, (args, r.stdout, r.stderr)


def packer(*args, cwd):
    exe = shutil.which("packer")
    if not exe:
        pytest.fail("packer (Debian's 1.6.6) is not installed: tests/deps.sh installs it")
    return subprocess.run([exe, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd),
                                           "CHECKPOINT_DISABLE": "1", "PACKER_NO_COLOR": "1"})


def inspect_templates(tmp_path):
    """The two-build template, one with a required and a sensitive variable and a docker
    builder, and one with nothing but a builder."""
    rich = json.loads(TWO.read_text())
    # (no second variable with the token's default: Packer 1.6.6 masks such a copy or not
    # depending on Go's map order, as InspectConfig rewrites the shared default in place)
    rich["variables"].update({"token": "abc-123", "needed": None})
    rich["sensitive-variables"] = ["token"]
    rich["builders"].append({"type": "docker", "name": "box", "image": "debian", "commit": True})
    bare = {"builders": [{"type": "amazon-ebs", "name": "only-one"}]}
    paths = [TWO]
    for name, doc in (("rich.json", rich), ("bare.json", bare)):
        (tmp_path / name).write_text(json.dumps(doc))
        paths.append(tmp_path / name)
    return paths


def test_inspect_prints_what_packer_prints(bakeami, tmp_path):
    for path in inspect_templates(tmp_path):
        ours = bakeami.run(["inspect", path])
        theirs = packer("inspect", path, cwd=tmp_path)
        assert theirs.returncode == 0, theirs.stdout + theirs.stderr
        assert ours.returncode == 0, ours.stderr
        assert ours.stdout == theirs.stdout, (path, ours.stdout, theirs.stdout)
        # machine-readable: the same lines but for the time stamps
        ours = bakeami.run(["inspect", "-machine-readable", path])
        theirs = packer("inspect", "-machine-readable", path, cwd=tmp_path)
        strip = lambda text: [line.split(",", 1)[1] for line in text.splitlines()]  # noqa: E731
        assert strip(ours.stdout) == strip(theirs.stdout), path


SYNTAX_CASES = {
    "good.json": None,
    "duplicate-name.json": {"builders": [{"type": "amazon-ebs"}, {"type": "amazon-ebs"}]},
    "missing-type.json": {"builders": [{"name": "x"}]},
    "no-builders.json": {"variables": {}},
    "unknown-root-key.json": {"builders": [{"type": "amazon-ebs"}], "bogus": 1},
    "provisioner-type.json": {"builders": [{"type": "amazon-ebs"}], "provisioners": [{"x": 1}]},
    "unsupported-type-only.json": {"builders": [{"type": "docker", "image": "x"}]},
}


def test_syntax_only_agrees_with_packer(bakeami, tmp_path):
    for name, doc in SYNTAX_CASES.items():
        path = tmp_path / name
        path.write_text(TWO.read_text() if doc is None else json.dumps(doc))
        ours = bakeami.run(["validate", "-syntax-only", path])
        theirs = packer("validate", "-syntax-only", path, cwd=tmp_path)
        assert (ours.returncode == 0) == (theirs.returncode == 0), (name, ours, theirs)
        if ours.returncode == 0:
            assert ours.stdout == theirs.stdout == \
                "Syntax-only check passed. Everything looks okay.\n", name
