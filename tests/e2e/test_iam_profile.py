"""A temporary IAM instance profile (issue 11, item 6): temporary_iam_instance_profile_policy_document
makes a role, its inline policy and an instance profile holding it, attached to the build
instance, every one a ledger entry tagged as our temporary resources; RunInstances waits (with
backoff) while EC2 does not know the new profile yet; all of it is removed in reverse order, by
the bake's cleanup and by `bakeami cleanup --journal` after a SIGKILL.

moto's IAM keeps roles and profiles (RunInstances checks the profile exists); EC2's "Invalid IAM
Instance Profile" race is injected by the proxy. lab.leftovers() lists what is left under the
path /bakeami/, so every test of the suite checks that nothing of IAM is left.
"""
import json
import time

from test_bake import _wait_for
from test_faults import _template as faults_template

POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["*"]}]}
ORDER = ["CreateRole", "PutRolePolicy", "CreateInstanceProfile", "AddRoleToInstanceProfile"]
REMOVAL = ["RemoveRoleFromInstanceProfile", "DeleteInstanceProfile", "DeleteRolePolicy", "DeleteRole"]
NOT_YET = ("Value (bakeami) for parameter iamInstanceProfile.name is invalid. "
           "Invalid IAM Instance Profile name")


def _template(tmp_path, document=POLICY):
    return faults_template(tmp_path, temporary_iam_instance_profile_policy_document=document)


def _args(lab, template, *extra):
    return ["bake", *lab.ssh_vars(), *extra, template]


def _tags(call):
    p = call.params
    return {p[f"Tags.member.{i}.Key"]: p[f"Tags.member.{i}.Value"]
            for i in range(1, 51) if f"Tags.member.{i}.Key" in p}


def test_profile_is_attached_waited_for_and_removed(lab, clean_lab, bakeami, tmp_path):
    lab.inject("RunInstances", kind="error", status=400, code="InvalidParameterValue",
               message=NOT_YET, count=2)
    result = tmp_path / "result.json"
    r = bakeami.run(_args(lab, _template(tmp_path), "--result", str(result)))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    res = json.loads(result.read_text())
    clean_lab.keep_images(list(res["amis"].values()))
    name = f"bakeami-{res['run_id']}"

    iam = lab.requests(service="iam")
    assert [c.action for c in iam] == ORDER + REMOVAL, [c.action for c in iam]
    assert all(c.status == 200 and c.region == "us-east-1" for c in iam), [(c.action, c.status) for c in iam]
    role, policy, profile, add = iam[:4]
    assert role.params["RoleName"] == name and role.params["Path"] == "/bakeami/"
    trust = json.loads(role.params["AssumeRolePolicyDocument"])["Statement"]
    assert trust == [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                      "Action": "sts:AssumeRole"}]
    for made in (role, profile):
        tags = _tags(made)
        assert tags["bakeami:run-id"] == res["run_id"] and tags["CreatedBy"] == "bakeami", tags
        assert "bakeami:expires" in tags
    assert json.loads(policy.params["PolicyDocument"]) == POLICY
    assert policy.params["RoleName"] == policy.params["PolicyName"] == name
    assert profile.params["InstanceProfileName"] == name and profile.params["Path"] == "/bakeami/"
    assert add.params == {**add.params, "InstanceProfileName": name, "RoleName": name}

    runs = lab.requests("ec2", "RunInstances")
    assert [c.status for c in runs] == [400, 400, 200]
    assert {c.params["IamInstanceProfile.Name"] for c in runs} == {name}
    assert len({c.params["ClientToken"] for c in runs}) == 1
    assert "retrying EC2 RunInstances after an instance profile EC2 does not know yet" in out, out
    # (moto launched it with the profile: it answers NoSuchEntity for a profile it does not
    # have, and drops the association when the instance is terminated)

    # removed after the instance was terminated, and said so
    terminated = lab.requests("ec2", "TerminateInstances")[0].time
    assert all(c.time > terminated for c in iam[4:])
    assert f"deleted iam-role {name}" in r.stdout and f"deleted instance-profile {name}" in r.stdout
    assert not any(lab.iam_leftovers().values()), lab.iam_leftovers()


def test_sigkill_then_cleanup_journal_removes_role_policy_and_profile(lab, clean_lab, bakeami,
                                                                      tmp_path):
    journal = tmp_path / "j.jsonl"
    proc = bakeami.start(_args(lab, _template(tmp_path), "-var", "sleep=30", "--journal",
                               str(journal)))
    _wait_for(proc, "the word is")
    proc.kill()
    proc.wait(timeout=10)
    left = lab.iam_leftovers()
    assert len(left["iam_roles"]) == 1 and len(left["instance_profiles"]) == 1, left
    assert "policies ['bakeami-" in left["iam_roles"][0] and "roles ['bakeami-" in left["instance_profiles"][0]
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    removal = [c.action for c in lab.requests(service="iam") if c.action in REMOVAL]
    assert removal == REMOVAL, removal
    assert not any(lab.iam_leftovers().values()), lab.iam_leftovers()
    assert not any(lab.leftovers().values()), lab.leftovers()


def test_profile_whose_create_answer_a_kill_cut_short_is_found_by_name(lab, clean_lab, bakeami,
                                                                      tmp_path):
    """Killed while CreateInstanceProfile's answer was on its way: the journal has only the
    intent, and cleanup finds the profile by the name it recorded."""
    lab.inject("CreateInstanceProfile", kind="hang")
    journal = tmp_path / "j.jsonl"
    proc = bakeami.start(_args(lab, _template(tmp_path), "--journal", str(journal)))
    lab.wait_for_call("CreateInstanceProfile", service="iam")
    deadline = time.monotonic() + 30
    while not lab.iam_leftovers()["instance_profiles"] and time.monotonic() < deadline:
        time.sleep(0.05)  # moto made it; the answer is held at the proxy
    proc.kill()
    proc.wait(timeout=10)
    lab.clear_faults()
    r = bakeami.run(["cleanup", "--journal", str(journal)])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "found instance-profile bakeami-" in r.stdout, r.stdout
    assert not any(lab.iam_leftovers().values()), lab.iam_leftovers()


def test_bad_policy_documents_are_refused_at_validate(lab, clean_lab, bakeami, tmp_path):
    cases = [
        ({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Sid": "x"}]},
         '.Sid: unknown key for a policy statement'),
        ({"Statement": [{"Effect": "Maybe", "Action": "s3:*", "Resource": "*"}]},
         'Effect must be "Allow" or "Deny"'),
        ({"Version": "2012-10-17", "Statement": []}, "needs at least one statement"),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "needs Action and Resource"),
    ]
    for document, needle in cases:
        r = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, document)])
        assert r.returncode == 2 and needle in r.stderr, (document, r.stderr)
        assert "temporary_iam_instance_profile_policy_document" in r.stderr, r.stderr
    # Packer's weak decoding: one string is a list of one
    ok = bakeami.run(["validate", *lab.ssh_vars(), _template(tmp_path, {
        "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}})])
    assert ok.returncode == 0, ok.stderr
    assert lab.calls() == []
