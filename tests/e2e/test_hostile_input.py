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


# ---- issue 12 item 7, the rest of the list: each point has its test here ----------------------

def _bake_template(tmp_path, **builder):
    with open(BAKE) as f:
        t = json.load(f)
    t["builders"][0].update(builder)
    t["provisioners"][1]["source"] = MOTD
    path = tmp_path / "bake.json"
    path.write_text(json.dumps(t))
    return path


def test_devices_and_big_var_files_are_refused(lab, clean_lab, bakeami, tmp_path):
    """/dev/zero as template or -var-file would be read forever; a var file past the limit
    would be read whole: each is refused at once, naming the file."""
    big = tmp_path / "big-vars.json"
    big.write_text('{"x": "' + "y" * (8 * 1024 * 1024) + '"}')
    for args, needle in ((["bake", "/dev/zero"], "/dev/zero: is a device, not a regular file"),
                         (["bake", "-var-file", "/dev/zero", BAKE], "/dev/zero: is a device"),
                         (["validate", "-var-file", str(big), BAKE],
                          f"{big}: {big.stat().st_size} bytes, more than the")):
        r = bakeami.run(args, timeout=20, cwd=ROOT)
        assert r.returncode == 2, (args, r.stdout + r.stderr)
        assert needle in r.stderr, r.stderr
    assert lab.calls() == [], lab.calls()


def test_doubling_user_chain_is_bounded(lab, clean_lab, bakeami, tmp_path):
    """40 variables, each two copies of the one before: 2^40 bytes if expanded. The template
    is refused with a clear limit, in seconds, before any AWS call."""
    with open(BAKE) as f:
        t = json.load(f)
    t["variables"]["v0"] = "xxxxxxxx"
    for i in range(1, 41):
        t["variables"][f"v{i}"] = f"{{{{user `v{i - 1}`}}}}{{{{user `v{i - 1}`}}}}"
    t["builders"][0]["ami_description"] = "{{user `v40`}}"
    t["provisioners"][1]["source"] = MOTD
    template = tmp_path / "chain.json"
    template.write_text(json.dumps(t))
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}", str(template)], timeout=30, cwd=ROOT)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    assert "variables.v" in r.stderr and ("bytes" in r.stderr or "too long" in r.stderr), r.stderr
    assert lab.calls() == [], lab.calls()


def test_symlink_loop_in_a_file_source_fails_before_any_call(lab, clean_lab, bakeami, tmp_path):
    src = tmp_path / "tree"
    src.mkdir()
    (src / "a").symlink_to(src / "b")
    (src / "b").symlink_to(src / "a")
    with open(BAKE) as f:
        t = json.load(f)
    t["provisioners"][1].update(source=f"{src}/", destination="/tmp/bakeami-e2e-tree")
    template = tmp_path / "loop.json"
    template.write_text(json.dumps(t))
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}", str(template)], timeout=30, cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "provisioners[1].source" in r.stderr and str(src) in r.stderr, r.stderr
    assert lab.calls() == [], lab.calls()


ENTITY_XML = (b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY local SYSTEM "file://{path}">'
              b'<!ENTITY remote SYSTEM "http://127.0.0.1:{port}/x">]>\n'
              b'<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">'
              b'<requestId>&local;&remote;</requestId><imagesSet/></DescribeImagesResponse>')


@pytest.mark.parametrize("answer", ["html-200", "html-502", "wrong-content-type", "entities"])
def test_broken_endpoint_answers(lab, clean_lab, bakeami, trap, tmp_path, answer):
    """What a captive portal, a broken proxy or a hostile endpoint answers to the first EC2
    call: the bake fails with a message naming the call and what came back, creates nothing;
    entities are neither expanded nor fetched."""
    marker = tmp_path / "secret-file"
    marker.write_text("ENTITY-WAS-EXPANDED")
    body = {"html-200": (200, "text/html", b"<html><body>Please log in</body></html>"),
            "html-502": (502, "text/html", b"<html><body>bad gateway</body></html>"),
            "wrong-content-type": (200, "application/octet-stream", b"\x00\x01\x02 not xml"),
            "entities": (200, "text/xml", ENTITY_XML.replace(b"{path}", str(marker).encode())
                         .replace(b"{port}", str(trap.getsockname()[1]).encode()))}[answer]
    lab.inject("DescribeImages", kind="raw", count=None, status=body[0], content_type=body[1],
               body=body[2])
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}", str(_bake_template(tmp_path, max_retries=1))],
                    timeout=60, cwd=ROOT)
    out = r.stdout + r.stderr
    errors = [x for x in r.stderr.splitlines() if x.startswith("bakeami: error:")]
    assert r.returncode == 1, out
    assert len(errors) == 1 and "DescribeImages" in errors[0], r.stderr
    if answer != "html-502":  # a 200 that is no answer is refused at once, not read as empty
        assert "unreadable response (HTTP 200)" in errors[0], errors[0]
    assert "ENTITY-WAS-EXPANDED" not in out
    assert connections(trap) == 0
    calls = lab.calls(service="ec2")
    assert not {"ImportKeyPair", "CreateSecurityGroup", "RunInstances"} & set(calls), calls


def test_truncated_answer_to_a_create_is_resent_safely(lab, clean_lab, bakeami, tmp_path):
    """RunInstances' answer is cut off half-way (moto acted): the re-send carries the same
    ClientToken, so there is one instance; the bake succeeds and leaves nothing."""
    lab.inject("RunInstances", kind="truncate")
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}", str(_bake_template(tmp_path))],
                    cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    calls = lab.requests("ec2", "RunInstances")
    assert [c.fault for c in calls] == ["truncate", "token-repeat"], [c.fault for c in calls]
    instances = [i for res in lab.ec2().describe_instances()["Reservations"] for i in res["Instances"]]
    assert len(instances) == 1, instances
    clean_lab.keep_images([i["ImageId"] for i in lab.ec2().describe_images(Owners=["self"])["Images"]])


def test_oversized_answer_is_refused(lab, clean_lab, bakeami, tmp_path):
    """An answer past the 64 MiB limit is cut off and refused, not read into memory whole."""
    body = b'<?xml version="1.0"?><DescribeImagesResponse><x>' + b"y" * (65 * 1024 * 1024) + b"</x>"
    lab.inject("DescribeImages", kind="raw", count=None, content_type="text/xml", body=body)
    r = bakeami.run(["bake", "-var", f"ssh_port={lab.ssh_port}",
                     str(_bake_template(tmp_path, max_retries=1))], timeout=120, cwd=ROOT)
    assert r.returncode == 1, r.stdout[-2000:] + r.stderr[-2000:]
    assert "response larger than 67108864 bytes" in r.stderr, r.stderr
    assert not {"ImportKeyPair", "RunInstances"} & set(lab.calls(service="ec2"))
