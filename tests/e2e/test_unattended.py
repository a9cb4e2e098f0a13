"""communicator "none": an image baked from user data alone. Nothing reaches the instance: no
key pair, a temporary group that admits nothing, no SSH; shell-local still runs on the agent.
Whatever would need the instance is refused before any AWS call."""
import json
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE = os.path.join(HERE, "templates", "bake.json")


def template(tmp_path, provisioners, **extra):
    tpl = json.loads(open(TEMPLATE).read())
    b = tpl["builders"][0]
    for k in ("ssh_username", "ssh_host", "ssh_port", "ssh_timeout"):
        b.pop(k)
    b.update(communicator="none", user_data="#!/bin/sh\necho baked-by-user-data\n")
    tpl["provisioners"] = provisioners
    tpl.update(extra)
    path = tmp_path / "none.json"
    path.write_text(json.dumps(tpl))
    return str(path)


def test_bake_without_a_communicator(lab, clean_lab, bakeami, tmp_path):
    marker = tmp_path / "local-ran"
    path = template(tmp_path, [{"type": "shell-local", "inline": [f"echo local > {marker}"]}])
    r = bakeami.run(["bake", path])
    assert r.returncode == 0, r.stdout + r.stderr
    actions = lab.calls(service="ec2")
    assert "ImportKeyPair" not in actions and "AuthorizeSecurityGroupIngress" not in actions, actions
    run = lab.requests(service="ec2", action="RunInstances")[0].params
    assert "KeyName" not in run and run.get("SecurityGroupId.1", "").startswith("sg-"), run
    assert "admits nothing" in r.stdout and "SSH" not in r.stdout.split("summary")[0], r.stdout
    assert marker.read_text() == "local\n"
    images = lab.ec2().describe_images(Owners=["self"])["Images"]
    assert len(images) == 1
    clean_lab.keep_images([images[0]["ImageId"]])


@pytest.mark.parametrize("provisioners, extra, where", [
    ([{"type": "shell", "inline": ["true"]}], {}, "provisioners[0]"),
    ([], {"tests": {"checks": [{"file": "/etc/hostname", "exists": True}]}}, "tests"),
])
def test_what_needs_the_instance_is_refused(lab, clean_lab, bakeami, tmp_path, provisioners, extra, where):
    r = bakeami.run(["validate", template(tmp_path, provisioners, **extra)])
    assert r.returncode != 0 and where in r.stderr and 'communicator "none"' in r.stderr, r.stderr
    assert lab.calls() == []
