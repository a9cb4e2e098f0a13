"""The test stage end to end: native checks and a real Serverspec suite
against the lab's sshd, JUnit output, before_image / after_image / both,
skip_create_ami, and what a failure leaves behind (nothing)."""
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
TEMPLATE = os.path.join(HERE, "templates", "tested.json")
XSD = os.path.join(ROOT, "tests", "junit", "junit.xsd")
NATIVE_CHECKS = 9
SERVERSPEC_EXAMPLES = 9


def require_ss():
    """The Serverspec suite's port resource: specinfra runs `ss -tunl | grep`
    on a Debian 8+ target (no /proc/net fallback); the lab's target is this
    machine. Without ss every run would fail on `Port "N" is expected to be
    listening` (the native port check falls back to /proc/net)."""
    if not shutil.which("ss"):
        pytest.fail("needs ss on this machine, the Serverspec target "
                    "(tests/deps.sh installs iproute2)", pytrace=False)


def args(lab, *extra, template=TEMPLATE):
    return ["bake", *lab.ssh_vars(), "-var", f"http_url={lab.moto_url}/moto-api/", *extra,
            template]


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def tags_of(image):
    return {t["Key"]: t["Value"] for t in image.get("Tags", [])}


def junit(path):
    v = subprocess.run(["xmllint", "--noout", "--schema", XSD, str(path)],
                       capture_output=True, text=True)
    assert v.returncode == 0, v.stderr
    return ET.parse(path).getroot()


def cases(root):
    return [(s.get("name"), c) for s in root.iter("testsuite") for c in s.iter("testcase")]


def test_checks_and_serverspec_pass(lab, clean_lab, bakeami, tmp_path):
    require_ss()
    report = tmp_path / "junit.xml"
    result = tmp_path / "result.json"
    r = bakeami.run(args(lab, "--junit", str(report), "--result", str(result)))
    assert r.returncode == 0, r.stdout + r.stderr
    # rspec's progress streamed through the console as it ran
    assert "    | 9 examples, 0 failures" in r.stdout
    root = junit(report)
    all_cases = cases(root)
    suites = {name for name, _ in all_cases}
    assert suites == {"native checks (before_image)", "serverspec (before_image)"}, suites
    assert len([c for s, c in all_cases if s.startswith("native")]) == NATIVE_CHECKS
    assert len([c for s, c in all_cases if s.startswith("serverspec")]) == SERVERSPEC_EXAMPLES
    assert not list(root.iter("failure")) and not list(root.iter("error"))
    images = own_images(lab)
    assert len(images) == 1
    tags = tags_of(images[0])
    assert tags["TestStatus"] == "passed"
    assert tags["TestsPassed"] == str(NATIVE_CHECKS + SERVERSPEC_EXAMPLES)
    res = json.loads(result.read_text())
    assert res["tests"] == {"passed": 18, "failed": 0, "errors": 0, "skipped": 0}
    clean_lab.keep_images([images[0]["ImageId"]])


def test_one_failing_check(lab, clean_lab, bakeami, tmp_path):
    require_ss()
    report = tmp_path / "junit.xml"
    r = bakeami.run(args(lab, "-var", "greeting=goodbye", "--junit", str(report)))
    assert r.returncode == 3, r.stdout + r.stderr
    # the console names the check, what was expected and what was found
    assert "web root" in r.stdout
    assert 'expected content containing "goodbye"' in r.stdout, r.stdout
    failures = list(junit(report).iter("failure"))
    assert len(failures) == 1
    assert "goodbye" in failures[0].get("message")
    assert own_images(lab) == []          # never created
    assert "CreateImage" not in lab.calls(service="ec2")


def _instances(lab):
    res = lab.ec2().describe_instances()["Reservations"]
    return [i for r in res for i in r["Instances"]]


def test_after_image_runs_on_a_fresh_instance(lab, clean_lab, bakeami, tmp_path):
    require_ss()
    report = tmp_path / "junit.xml"
    r = bakeami.run(args(lab, "-var", "when=after_image", "--junit", str(report)))
    assert r.returncode == 0, r.stdout + r.stderr
    images = own_images(lab)
    assert len(images) == 1
    ami = images[0]["ImageId"]
    from_image = [i for i in _instances(lab) if i["ImageId"] == ami]
    assert len(from_image) == 1, _instances(lab)
    assert from_image[0]["State"]["Name"] == "terminated"
    assert "(after_image)" in r.stdout and "(before_image)" not in r.stdout
    suites = {s for s, _ in cases(junit(report))}
    assert suites == {"native checks (after_image)", "serverspec (after_image)"}
    assert tags_of(images[0])["TestStatus"] == "passed"
    clean_lab.keep_images([ami])


def test_both_phases(lab, clean_lab, bakeami, tmp_path):
    require_ss()
    report = tmp_path / "junit.xml"
    r = bakeami.run(args(lab, "-var", "when=both", "--junit", str(report)))
    assert r.returncode == 0, r.stdout + r.stderr
    all_cases = cases(junit(report))
    assert len(all_cases) == 2 * (NATIVE_CHECKS + SERVERSPEC_EXAMPLES)
    images = own_images(lab)
    assert tags_of(images[0])["TestsPassed"] == str(2 * (NATIVE_CHECKS + SERVERSPEC_EXAMPLES))
    clean_lab.keep_images([images[0]["ImageId"]])


def test_after_image_failure_removes_image_and_snapshots(lab, clean_lab, bakeami):
    r = bakeami.run(args(lab, "-var", "when=after_image", "-var", "greeting=goodbye"))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "CreateImage" in lab.calls(service="ec2")    # it was made, then removed
    assert own_images(lab) == []
    assert lab.leftovers()["snapshots"] == [], lab.leftovers()
    assert all(i["State"]["Name"] == "terminated" for i in _instances(lab))


def test_skip_create_ami_tests_without_registering(lab, clean_lab, bakeami, tmp_path):
    require_ss()
    with open(TEMPLATE) as f:
        tpl = json.load(f)
    tpl["builders"][0]["skip_create_ami"] = True
    path = tmp_path / "skip.json"
    path.write_text(json.dumps(tpl))
    # the serverspec dir is relative to the template: point it back at examples/
    tpl["tests"]["serverspec"]["dir"] = os.path.join(ROOT, "examples", "serverspec")
    path.write_text(json.dumps(tpl))
    r = bakeami.run(args(lab, template=str(path)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "18 tests passed" in r.stdout
    assert "CreateImage" not in lab.calls(service="ec2")
    assert own_images(lab) == []


def test_missing_rspec_is_caught_before_launch(lab, clean_lab, bakeami, tmp_path):
    with open(TEMPLATE) as f:
        tpl = json.load(f)
    tpl["tests"]["serverspec"] = {"dir": os.path.join(ROOT, "examples", "serverspec"),
                                  "command": "rspec-not-installed"}
    path = tmp_path / "norspec.json"
    path.write_text(json.dumps(tpl))
    r = bakeami.run(args(lab, template=str(path)))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "rspec-not-installed" in r.stderr
    assert lab.calls() == []
