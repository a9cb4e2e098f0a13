"""Hostile input: a region that would name another host never reaches the
network, wherever it enters (template, --region, AWS_REGION, cleanup)."""
import json
import os
import socket

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BAKE = os.path.join(ROOT, "tests", "e2e", "templates", "bake.json")
MOTD = os.path.join(ROOT, "tests", "e2e", "templates", "files", "motd")


@pytest.fixture
def trap():
    """A loopback listener the hostile region points at; it must see no connection."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    s.setblocking(False)
    yield s
    s.close()


def connections(s):
    n = 0
    while True:
        try:
            c, _ = s.accept()
        except BlockingIOError:
            return n
        c.close()
        n += 1


def hostile(trap):
    return f"x@127.0.0.1:{trap.getsockname()[1]}/#"


@pytest.mark.parametrize("entry", ["--region", "AWS_REGION", "cleanup --region"])
def test_hostile_region_sends_nothing(lab, clean_lab, bakeami, trap, entry, tmp_path):
    region = hostile(trap)
    with open(BAKE) as f:
        t = json.load(f)
    t["builders"][0].pop("region")  # AWS_REGION is used only when the template has none
    t["provisioners"][1]["source"] = MOTD
    template = tmp_path / "bake.json"
    template.write_text(json.dumps(t))
    # No explicit endpoint: the region alone would pick the host.
    env = {"AWS_ENDPOINT_URL": None}
    if entry == "--region":
        args = ["bake", "--region", region, str(template)]
    elif entry == "AWS_REGION":
        env["AWS_REGION"] = region
        args = ["bake", str(template)]
    else:
        args = ["cleanup", "--stale", "--region", region]
    r = bakeami.run(args, env_extra=env, cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f'"{region}" is not an AWS region' in r.stderr, r.stderr
    assert connections(trap) == 0
    assert lab.calls() == [], lab.calls()


def test_local_endpoint_allows_a_dns_name_region(lab, clean_lab, bakeami):
    """With an explicit endpoint a region only signs; a DNS name passes the
    syntax check, a host-changing one still does not."""
    r = bakeami.run(["validate", "-var", "region=local", BAKE], cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    r = bakeami.run(["validate", "-var", "region=a/b", BAKE], cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert '"a/b" is not an AWS region' in r.stderr, r.stderr


def test_silent_endpoint_fails_with_a_timeout(lab, clean_lab, bakeami, trap, tmp_path):
    """An endpoint that accepts and never answers ends each attempt at the
    silence limit (made 1 s here) with a message naming it, not at the 60 s
    call limit; the template's max_retries bounds the attempts."""
    with open(BAKE) as f:
        t = json.load(f)
    t["builders"][0]["max_retries"] = 1
    t["provisioners"][1]["source"] = MOTD
    template = tmp_path / "bake.json"
    template.write_text(json.dumps(t))
    endpoint = f"http://127.0.0.1:{trap.getsockname()[1]}"
    r = bakeami.run(["bake", str(template)], timeout=100, cwd=ROOT,
                    env_extra={"AWS_ENDPOINT_URL": endpoint, "BAKEAMI_HTTP_STALL_TIMEOUT": "1"})
    assert r.returncode == 1, r.stdout + r.stderr
    errors = [l for l in r.stderr.splitlines() if l.startswith("bakeami: error:")]
    assert len(errors) == 1, r.stderr
    assert f"timed out: {endpoint}/ did not answer" in errors[0], errors[0]
    assert "silence limit 1 s" in errors[0], errors[0]
    assert r.stdout.count("after network error (attempt") == 1, r.stdout
    assert lab.calls() == [], lab.calls()


def test_fifo_and_oversized_inputs_are_refused(lab, clean_lab, bakeami, tmp_path):
    """A FIFO as template or -var-file is refused before open() could block
    (nothing writes to it: a blocking open would hang until the timeout);
    a template past the size limit is refused with the limit named."""
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    big = tmp_path / "big.json"
    big.write_text('{"description": "' + "x" * (8 * 1024 * 1024) + '"}')
    for args, needle in ((["bake", str(fifo)], f"{fifo}: is a FIFO, not a regular file"),
                         (["bake", "-var-file", str(fifo), BAKE], f"{fifo}: is a FIFO"),
                         (["validate", str(big)], f"{big}: {big.stat().st_size} bytes, more "
                                                  "than the 8388608 allowed")):
        r = bakeami.run(args, timeout=20, cwd=ROOT)
        assert r.returncode == 2, (args, r.stdout + r.stderr)
        assert needle in r.stderr, r.stderr
    assert lab.calls() == [], lab.calls()


@pytest.mark.parametrize("option", ["--result", "--manifest", "--junit"])
def test_output_path_that_is_a_folder_fails_before_any_call(lab, clean_lab, bakeami, tmp_path,
                                                           option):
    folder = tmp_path / "out"
    folder.mkdir()
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}", option, str(folder), BAKE],
                    cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{folder}: is a folder, not a file" in r.stderr, r.stderr
    assert lab.calls() == [], lab.calls()
