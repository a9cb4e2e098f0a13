"""Credentials that outlive their session (issue 13, item 2): the library assumes the role the
options name (--assume-role) and renews it before it expires, for every call of the bake and of
its cleanup.

moto issues AssumeRole credentials for as long as asked and never expires them; the proxy
(Ec2Realism.credential_lifetime_s) makes them expire 60 s after they are issued, as a short STS
session does, and refuses any call signed with them later with ExpiredToken, as AWS does. moto's
IAM mode is on, so every call's signature and session token are checked as well. The instance is
held pending (Ec2Realism.pending_s) and shutting down, which keeps its security group in use
(dependency_violation), so that both the bake and its cleanup outlive a session.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "templates" / "bake.json"
ROLE = "arn:aws:iam::123456789012:role/baker"
LIFETIME = 60
# Renewed a quarter of their life before they expire (creds.c): at 45 s of a 60 s session.
RENEW_AFTER = LIFETIME * 3 / 4


def _token(call):
    return next((v for k, v in call.headers if k.lower() == "x-amz-security-token"), None)


def _signed_by(call):
    auth = next((v for k, v in call.headers if k.lower() == "authorization"), "")
    return auth.split("Credential=", 1)[1].split("/", 1)[0]


def _role_for(lab, user):
    """The role the bake assumes: trusted by the lab's IAM user, allowed what a bake does."""
    iam = lab.client("iam", "us-east-1")
    iam.create_role(RoleName="baker", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::123456789012:user/{user}"},
            "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="baker", PolicyName="bake", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ec2:*", "ssm:*"], "Resource": "*"}]}))


def assert_renewed_sessions(lab, key, **params):
    """What both the CLI and the Jenkins step must show of a role renewed through a bake and its
    cleanup: every AssumeRole signed with the base key (no session token) and carrying `params`,
    one session per AssumeRole (3 or more), no call refused as expired, every EC2 call inside its
    session, the cleanup's last group deletion on a session other than the terminate's, and one
    DeleteKeyPair. Returns the EC2 calls, the AssumeRole calls and the sessions."""
    calls = lab.requests()
    assumed = [c for c in calls if c.action == "AssumeRole"]
    assert all(c.status == 200 and _token(c) is None and _signed_by(c) == key and
               all(c.params.get(k) == v for k, v in params.items()) for c in assumed), \
        [c.params for c in assumed]
    realism = lab.proxy.realism
    sessions = realism.sessions
    assert len(assumed) == len(sessions) >= 3, [c.time for c in assumed]
    # Renewed ahead of expiry: nothing was ever refused, so nothing had to be sent again.
    assert [a for a in realism.answered if a[1] == "ExpiredToken"] == []
    ec2 = [c for c in calls if c.service == "ec2"]
    for c in ec2:
        issued, expires = sessions[_token(c)]
        assert issued <= c.time < expires, (c.action, c.time, issued, expires)
    terminate = next(c for c in ec2 if c.action == "TerminateInstances")
    deleted = [c for c in ec2 if c.action == "DeleteSecurityGroup" and c.status == 200]
    assert deleted and _token(deleted[-1]) != _token(terminate), [c.time for c in deleted]
    assert [c.action for c in ec2].count("DeleteKeyPair") == 1
    return ec2, assumed, sessions


def test_role_is_renewed_through_a_long_bake_and_its_cleanup(lab, clean_lab, bakeami, tmp_path):
    key, _ = lab.enable_iam_auth(actions=("ec2:*", "ssm:*", "sts:*", "iam:*", "s3:*"), user="refresher")
    _role_for(lab, "refresher")
    realism = lab.proxy.realism
    realism.credential_lifetime_s = LIFETIME
    realism.pending_s = RENEW_AFTER + 5            # WAIT_RUNNING passes the first renewal
    realism.shutting_down_s = LIFETIME - 10        # the cleanup outlives the second session
    realism.dependency_violation = True
    result = tmp_path / "result.json"
    r = bakeami.run(["bake", *lab.ssh_vars(), "--assume-role", ROLE, "--role-session-name",
                     "e2e-refresh", "--result", str(result), str(TEMPLATE)], timeout=400)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert f"AWS credentials from assume-role {ROLE}" in out, out
    ami = json.loads(result.read_text())["amis"][lab.region]
    clean_lab.keep_images([ami])

    ec2, assumed, sessions = assert_renewed_sessions(lab, key, RoleArn=ROLE,
                                                     RoleSessionName="e2e-refresh")
    # Renewed once per session, not per call.
    assert len(sessions) <= 1 + (ec2[-1].time - assumed[0].time) / (RENEW_AFTER - 5), \
        [c.time for c in assumed]
    # The cleanup went on past the expiry of the session it started with, on a renewed one.
    terminate = next(c for c in ec2 if c.action == "TerminateInstances")
    deleted = [c for c in ec2 if c.action == "DeleteSecurityGroup" and c.status == 200]
    assert sessions[_token(terminate)][1] < deleted[-1].time, \
        (terminate.time, sessions[_token(terminate)], [c.time for c in deleted])

def test_bad_role_settings_are_refused_before_any_call(lab, clean_lab, bakeami):
    r = bakeami.run(["bake", *lab.ssh_vars(), "--assume-role", "arn:aws:iam::12345:role/x",
                     str(TEMPLATE)])
    assert r.returncode == 2, r.stdout + r.stderr
    assert 'assume role: "arn:aws:iam::12345:role/x" is not an IAM role ARN' in r.stderr, r.stderr
    r = bakeami.run(["bake", *lab.ssh_vars(), "--assume-role", ROLE, "--role-session-name",
                     "has space", str(TEMPLATE)])
    assert r.returncode == 2 and 'role session name "has space"' in r.stderr, r.stderr
    r = bakeami.run(["cleanup", "--run-id", "bk-x", "--external-id", "ext"])
    assert r.returncode == 2, r.stderr
    assert "--external-id goes with --assume-role ARN only" in r.stderr, r.stderr
    assert lab.calls() == []
