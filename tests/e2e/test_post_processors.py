"""Issue 11 items 7 and 3, against the lab: the template's post-processors run once the image
exists (Packer's manifest with output, strip_time and custom_data; shell-local inline and
script with Packer's environment and the artifact id; only/except on them; a failing one fails
the bake and leaves the image), and variables read from Secrets Manager with
{{aws_secretsmanager}} (moto's secretsmanager) are used and masked, while vault, consul_key and
sed are refused saying why.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
BAKE = HERE / "templates" / "bake.json"


def template(tmp_path, name="t.json", **top):
    doc = json.loads(BAKE.read_text())
    doc["provisioners"] = doc["provisioners"][:1]   # the shell one; no files/ beside tmp
    doc["variables"]["build_no"] = "17"
    doc.update(top)
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def bake(bakeami, lab, path, *extra):
    return bakeami.run(["bake", *lab.ssh_vars(), *extra, str(path)], timeout=180)


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def test_post_processors_run_after_the_image(lab, clean_lab, bakeami, tmp_path):
    (tmp_path / "pp.sh").write_text(
        '#!/bin/sh\nprintf "%s|%s|%s|%s\\n" "$PACKER_BUILD_NAME" "$PACKER_BUILDER_TYPE" '
        '"$BAKEAMI_AMI_ID" "$STAGE" > script-ran.txt\n')
    (tmp_path / "pp.sh").chmod(0o755)   # run as Packer runs it: /bin/sh -c <path>
    pps = [
        {"type": "manifest", "output": "out/m.json", "strip_time": True, "strip_path": "true",
         "custom_data": {"source": "{{.SourceAMI}}", "build": "{{user `build_no`}}", "n": 3}},
        [{"type": "manifest"},
         {"type": "shell-local", "inline": [
             "echo \"pp $PACKER_BUILD_NAME $PACKER_BUILDER_TYPE $BAKEAMI_ARTIFACT_ID\" > inline.txt",
             "echo post-processor-line"]}],
        {"type": "shell-local", "script": str(tmp_path / "pp.sh"),
         "environment_vars": ["STAGE=release"]},
        {"type": "shell-local", "only": ["somebody-else"], "inline": ["touch only-ran"]},
        {"type": "shell-local", "except": ["e2e"], "inline": ["touch except-ran"]},
    ]
    path = template(tmp_path, **{"post-processors": pps})
    # only must name a builder of the template (Packer's rule): a second one, left out by -only
    doc = json.loads(path.read_text())
    doc["builders"].append(dict(doc["builders"][0], name="somebody-else"))
    path.write_text(json.dumps(doc))
    r = bake(bakeami, lab, path, "--manifest", "cli-manifest.json", "-only", "e2e")
    assert r.returncode == 0, r.stdout + r.stderr
    images = own_images(lab)
    clean_lab.keep_images([i["ImageId"] for i in images])
    assert len(images) == 1
    ami = images[0]["ImageId"]
    # after the image and after cleanup, in template order
    out = r.stdout
    assert out.index("cleanup: deleted instance") < out.index("post-processors[0] (manifest)")
    assert out.index("post-processors[0] (manifest)") < out.index("post-processors[1][1] (shell-local)")
    assert out.index("post-processor-line") < out.index("post-processors[2] (shell-local)")
    m = json.loads((tmp_path / "out" / "m.json").read_text())
    (entry,) = m["builds"]
    source = entry["custom_data"]["source"]
    assert source.startswith("ami-") and source != ami
    assert entry["custom_data"] == {"source": source, "build": "17", "n": "3"}
    assert "build_time" not in entry   # strip_time
    assert entry["artifact_id"] == f"us-east-1:{ami}" and entry["files"] is None
    assert m["last_run_uuid"] == entry["packer_run_uuid"]
    default = json.loads((tmp_path / "packer-manifest.json").read_text())
    assert default["builds"][0]["custom_data"] is None and default["builds"][0]["build_time"] > 0
    # --manifest F carries the first manifest post-processor's custom_data
    cli = json.loads((tmp_path / "cli-manifest.json").read_text())
    assert cli["builds"][0]["custom_data"] == entry["custom_data"]
    assert (tmp_path / "inline.txt").read_text() == f"pp e2e amazon-ebs us-east-1:{ami}\n"
    assert (tmp_path / "script-ran.txt").read_text() == f"e2e|amazon-ebs|{ami}|release\n"
    assert not (tmp_path / "only-ran").exists() and not (tmp_path / "except-ran").exists()


def test_failing_post_processor_fails_the_bake_and_keeps_the_image(lab, clean_lab, bakeami,
                                                                  tmp_path):
    pps = [{"type": "shell-local", "inline": ["echo about to fail", "exit 3"]},
           {"type": "manifest", "output": "never.json"}]
    path = template(tmp_path, **{"post-processors": pps})
    r = bake(bakeami, lab, path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "post-processors[0]" in r.stderr and "status 3" in r.stderr, r.stderr
    assert "the image stays" in r.stdout
    images = own_images(lab)
    assert len(images) == 1   # made before the post-processor ran; not deregistered
    clean_lab.keep_images([images[0]["ImageId"]])
    assert not (tmp_path / "never.json").exists()


def test_except_names_post_processors_and_only_matches_the_raw_build_name(lab, clean_lab, bakeami,
                                                                          tmp_path):
    """Packer 1.6.6's core.go: -except=NAME leaves out the post-processor of that name (else of
    that type) and the rest of its sequence, the build still runs; a post-processor's own
    only/except name the build as written ({{user `role`}}-web), not as rendered (e2e-web)."""
    touch = lambda f: ["touch " + f]  # noqa: E731
    pps = [
        [{"type": "shell-local", "name": "first", "inline": touch("first-ran")},
         {"type": "shell-local", "name": "notify", "inline": touch("notify-ran")},
         {"type": "shell-local", "inline": touch("after-ran")}],
        {"type": "shell-local", "only": ["{{user `role`}}-web"],
         "inline": ["echo \"$PACKER_BUILD_NAME\" > only-ran"]},
        {"type": "shell-local", "except": ["{{user `role`}}-web"], "inline": touch("except-ran")},
        {"type": "manifest", "output": "m.json"},
    ]
    path = template(tmp_path, **{"post-processors": pps})
    doc = json.loads(path.read_text())
    doc["variables"]["role"] = "e2e"
    doc["builders"][0]["name"] = "{{user `role`}}-web"
    path.write_text(json.dumps(doc))
    r = bake(bakeami, lab, path, "-except", "notify")
    assert r.returncode == 0, r.stdout + r.stderr
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])
    assert (tmp_path / "first-ran").exists() and (tmp_path / "m.json").exists()
    assert not (tmp_path / "notify-ran").exists() and not (tmp_path / "after-ran").exists()
    assert (tmp_path / "only-ran").read_text() == "e2e-web\n"
    assert not (tmp_path / "except-ran").exists()
    assert "post-processor 'notify' left out by -except, with the rest of its sequence" in \
        r.stdout + r.stderr
    # naming the rendered name is Packer's error too: only/except look among names as written
    pps[1]["only"] = ["e2e-web"]
    doc["post-processors"] = pps
    path.write_text(json.dumps(doc))
    lab.reset_calls()
    bad = bakeami.run(["validate", *lab.ssh_vars(), str(path)])
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert "post-processors[1].only: 'only' specified builder 'e2e-web' not found" in bad.stderr
    assert lab.calls() == []


def test_a_bad_manifest_output_fails_before_any_aws_call(lab, clean_lab, bakeami, tmp_path):
    (tmp_path / "taken").mkdir()
    path = template(tmp_path, **{"post-processors": [{"type": "manifest", "output": "taken"}]})
    lab.reset_calls()
    r = bake(bakeami, lab, path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "post-processors[0].output" in r.stderr and "a folder" in r.stderr, r.stderr
    assert lab.calls() == []


def secrets(lab):
    sm = lab.client("secretsmanager")
    sm.create_secret(Name="bakeami/db", SecretString=json.dumps(
        {"password": "pw-Zq81-secret", "user": "admin"}))
    sm.create_secret(Name="bakeami/plain", SecretString="plain-Kx42-token")
    return sm


def test_aws_secretsmanager_values_are_used_and_masked(lab, clean_lab, bakeami, tmp_path):
    secrets(lab)
    variables = {"db_password": "{{aws_secretsmanager `bakeami/db` `password`}}",
                 "token": "{{aws_secretsmanager `bakeami/plain`}}"}
    doc_vars = json.loads(BAKE.read_text())["variables"] | variables
    provs = [{"type": "shell", "inline": ["echo remote sees {{user `db_password`}}"]},
             {"type": "shell-local", "environment_vars": ["PW={{user `db_password`}}",
                                                         "TOKEN={{user `token`}}"],
              "inline": ["printf '%s %s' \"$PW\" \"$TOKEN\" > secrets.txt",
                         "echo local sees $PW"]}]
    path = template(tmp_path, variables=doc_vars, provisioners=provs)
    r = bakeami.run(["validate", "--dump-plan", *lab.ssh_vars(), str(path)])
    assert r.returncode == 0, r.stderr
    dump = json.loads(r.stdout)
    assert dump["variables"]["db_password"] == "<sensitive>" == dump["variables"]["token"]
    assert "pw-Zq81" not in r.stdout + r.stderr
    r = bake(bakeami, lab, path)
    assert r.returncode == 0, r.stdout + r.stderr
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])
    assert (tmp_path / "secrets.txt").read_text() == "pw-Zq81-secret plain-Kx42-token"
    assert "remote sees <sensitive>" in r.stdout and "local sees <sensitive>" in r.stdout
    assert "pw-Zq81" not in r.stdout + r.stderr and "Kx42" not in r.stdout + r.stderr


def validate_vars(bakeami, lab, tmp_path, default, name="v.json"):
    doc = json.loads(BAKE.read_text())
    doc["variables"]["x"] = default
    doc["provisioners"] = doc["provisioners"][:1]
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return bakeami.run(["validate", *lab.ssh_vars(), str(path)])


def test_secret_functions_refused_or_explained(lab, clean_lab, bakeami, tmp_path):
    secrets(lab)
    cases = {
        "{{aws_secretsmanager `bakeami/db` `nope`}}": 'no secret found for key "nope" in bakeami/db',
        "{{aws_secretsmanager `bakeami/db`}}": "has 2 values and no key was given",
        "{{aws_secretsmanager `bakeami/missing`}}": "reading secret bakeami/missing",
        "{{vault `secret/data/db` `password`}}": "vault is not supported by bakeami",
        "{{consul_key `app/db`}}": "consul_key is not supported by bakeami",
        "{{sed `s/a/b/` `abc`}}": "template function `sed` was removed from Packer",
    }
    for default, says in cases.items():
        r = validate_vars(bakeami, lab, tmp_path, default)
        assert r.returncode == 2 and says in r.stderr, (default, r.stderr)
        assert "variables.x" in r.stderr, r.stderr
    # outside the variables section, as in Packer: refused before any call
    doc = json.loads(BAKE.read_text())
    doc["builders"][0]["ami_description"] = "{{aws_secretsmanager `bakeami/plain`}}"
    path = tmp_path / "outside.json"
    path.write_text(json.dumps(doc))
    lab.reset_calls()
    r = bakeami.run(["validate", *lab.ssh_vars(), str(path)])
    assert r.returncode == 2 and "only allowed in the variables section" in r.stderr, r.stderr
    assert lab.calls() == []
