"""The Jenkins plugin end to end: the real bakeAmi step execution, freestyle builder and agent
callables (tests/java/src/io/bakeami/jenkins/E2eTest.java, with stand-in Jenkins objects), through
JNI into the real library, against the lab.

Each test runs one E2eTest method in a JVM with the lab's environment, then checks moto: the AMI
the Java side printed (AMI=...) exists with the build's provenance tags (TAG k=v), the calls were
signed with the Jenkins credentials, and nothing else is left (clean_lab).

The classes come from `make java-test-classes` (java.mk), which the module fixture runs.
"""
from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lab import REPO  # noqa: E402
from test_role_refresh import _role_for, _signed_by, _token, assert_renewed_sessions  # noqa: E402

JB = REPO / "build" / "java"
PLUGIN_JAR = REPO / "build" / "bakeami-plugin.jar"
CLASSPATH = ":".join(str(p) for p in (
    JB / "test-classes", PLUGIN_JAR, JB / "stubs", JB / "lib" / "junit-4.13.2.jar",
    JB / "lib" / "hamcrest-core-1.3.jar"))
# What the stand-in "AWS Credentials" entry resolves to (an assumed role: with a session token).
ACCESS_KEY = "ASIAJENKINSSHIMTEST1"
SECRET_KEY = "jenkins-shim-secret-" + secrets.token_hex(8)
SESSION_TOKEN = "jenkins-shim-session-token-" + secrets.token_hex(12)
SUMMARY = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)
TEMPLATES = Path(__file__).resolve().parent / "templates"
CREATES = ("ImportKeyPair", "CreateSecurityGroup", "RunInstances", "CreateImage", "CopyImage")


@pytest.fixture(scope="module")
def java_classes():
    r = subprocess.run(["make", "-s", "java-test-classes"], cwd=REPO, capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        pytest.fail(f"make java-test-classes failed:\n{r.stdout}\n{r.stderr}")


def run_java(lab, method: str, cwd: Path, env_overrides: dict | None = None,
             props: dict | None = None) -> str:
    """Runs E2eTest#method; returns its stdout after checking it passed."""
    all_props = {
        "bakeami.test.repo": REPO,
        "bakeami.test.sshPort": lab.ssh_port,
        "bakeami.test.sshHost": lab.ssh_host,
        "bakeami.native.dir": cwd / "native",
        "bakeami.cleanupTimeoutSeconds": 120,
        **(props or {}),
    }
    # -Xcheck:jni: the JVM checks every JNI call and warns when a native frame holds more than
    # 32 local references, i.e. when log events would pile up references over a long bake.
    cmd = ["java", "-Xcheck:jni", *(f"-D{k}={v}" for k, v in all_props.items()), "-cp", CLASSPATH,
           "io.bakeami.test.RunTests", f"io.bakeami.jenkins.E2eTest#{method}"]
    r = subprocess.run(cmd, cwd=cwd, env=lab.env(**(env_overrides or {})), capture_output=True,
                       text=True, timeout=300)
    out = r.stdout + r.stderr
    m = SUMMARY.findall(r.stdout)
    assert r.returncode == 0 and m and m[-1] == ("1", "0"), out
    assert "WARNING in native method" not in out and "JNI local refs" not in out, out
    # The JVM's working directory is not the workspace: nothing may land there.
    assert not (cwd / ".bakeami").exists(), "the journal went to the JVM's cwd, not the workspace"
    return out


def printed_ami(out: str) -> str:
    amis = re.findall(r"^AMI=(ami-[0-9a-f]+)$", out, re.M)
    assert len(amis) == 1, out
    return amis[0]


def assert_provenance(lab, ami: str, out: str) -> None:
    """The build's provenance (bakeami_options.extra_tags) is on the instance and on the AMI."""
    expected = dict(line[4:].split("=", 1) for line in out.splitlines() if line.startswith("TAG "))
    assert set(expected) == {"BUILD_URL", "BUILD_NUMBER", "GIT_COMMIT", "jenkins:run"}, out
    ec2 = lab.ec2()
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert len(instances) == 1, instances  # the bake's build instance (terminated)
    image = ec2.describe_images(ImageIds=[ami])["Images"][0]
    for what, tag_list in (("instance", instances[0].get("Tags", [])), ("image", image.get("Tags", []))):
        tags = {t["Key"]: t["Value"] for t in tag_list}
        for k, v in expected.items():
            assert tags.get(k) == v, f"the {what} lacks the provenance tag {k}={v}: {tags}"


def test_step_bakes_with_jenkins_credentials(lab, clean_lab, java_classes, tmp_path):
    # The agent has no AWS credentials of its own: the bake can only work with Jenkins's.
    out = run_java(lab, "pipelineStepBakesWithCredentials", tmp_path,
                   env_overrides={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
                   props={"bakeami.test.accessKey": ACCESS_KEY, "bakeami.test.secretKey": SECRET_KEY,
                          "bakeami.test.sessionToken": SESSION_TOKEN})
    ami = printed_ami(out)
    clean_lab.keep_images([ami])
    assert_provenance(lab, ami, out)
    # The native code signed every call with the Jenkins key and sent the session token.
    ec2 = lab.requests(service="ec2")
    assert ec2, "no EC2 call went through the proxy"
    for call in ec2:
        headers = {k.lower(): v for k, v in call.headers}
        assert f"Credential={ACCESS_KEY}/" in headers.get("authorization", ""), call.action
        assert headers.get("x-amz-security-token") == SESSION_TOKEN, call.action
    # ...and never printed them (the Java side checked the captured console too).
    assert SECRET_KEY not in out and SESSION_TOKEN not in out


def test_a_failed_bake_archives_its_logs(lab, clean_lab, java_classes, tmp_path):
    # the Java side compares the archived files with the workspace's and the console
    out = run_java(lab, "aFailedBakeArchivesItsLogs", tmp_path)
    assert "[bakeAmi] archived the provisioning logs as build artifacts: bakeami-logs/" in out
    assert lab.ec2().describe_images(Owners=["self"])["Images"] == []


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def creates(lab):
    return [c for c in lab.calls(service="ec2") if c in CREATES]


def test_reuse_true_returns_the_cached_ami(lab, clean_lab, java_classes, tmp_path, report_figure):
    """Issue 14: the step's reuse: true returns the image an earlier bake of the same inputs made,
    launching nothing; the builder's reuse 'false' bakes although the template says reuse."""
    ws = tmp_path / "ws"
    shutil.copytree(TEMPLATES / "reuse", ws / "reuse")
    template = ws / "reuse" / "reuse.json"
    doc = json.loads(template.read_text())
    del doc["reuse"]  # the template leaves it off: only the parameter turns it on
    template.write_text(json.dumps(doc))
    props = {"bakeami.test.workspace": ws, "bakeami.test.template": "reuse/reuse.json"}

    first = printed_ami(run_java(lab, "bakeWithReuse", tmp_path, props=props))
    clean_lab.keep_images([first])
    assert "RunInstances" in creates(lab), lab.calls(service="ec2")

    lab.reset_calls()
    out = run_java(lab, "bakeWithReuse", tmp_path, props={**props, "bakeami.test.reuse": "true"})
    assert printed_ami(out) == first
    calls = lab.calls(service="ec2")
    assert len(calls) <= 3 and creates(lab) == [], calls
    assert f"reuse: reusing {first} (run " in out, out
    assert "setup ran" not in out
    assert [i["ImageId"] for i in own_images(lab)] == [first]
    report_figure(f"Jenkins step reuse hit: {len(calls)} EC2 calls ({' '.join(calls)}) "
                  "(tests/e2e/test_jenkins_shim.py)")

    doc["reuse"] = True
    template.write_text(json.dumps(doc))
    lab.reset_calls()
    out = run_java(lab, "bakeWithReuse", tmp_path,
                   props={**props, "bakeami.test.via": "builder", "bakeami.test.reuse": "false"})
    again = printed_ami(out)
    clean_lab.keep_images([again])
    assert again != first and "RunInstances" in creates(lab), out
    assert "reuse: reusing" not in out
    assert sorted(i["ImageId"] for i in own_images(lab)) == sorted([first, again])


def test_skip_save_build_region_returns_the_copy(lab, clean_lab, java_classes, tmp_path):
    """With skip_save_build_region the build region keeps no image: the step returns the copy's
    AMI, and so does the builder's BAKEAMI_AMI_ID."""
    ws = tmp_path / "ws"
    shutil.copytree(TEMPLATES / "reuse", ws / "reuse")
    template = ws / "reuse" / "reuse.json"
    doc = json.loads(template.read_text())
    del doc["reuse"]
    doc["builders"][0].update(skip_save_build_region=True, ami_regions=["us-west-2"])
    template.write_text(json.dumps(doc))
    props = {"bakeami.test.workspace": ws, "bakeami.test.template": "reuse/reuse.json"}
    for via in ("step", "builder"):
        out = run_java(lab, "bakeWithReuse", tmp_path, props={**props, "bakeami.test.via": via})
        ami = printed_ami(out)
        assert own_images(lab) == [], (via, out)
        west = lab.ec2("us-west-2").describe_images(Owners=["self"])["Images"]
        assert ami in [i["ImageId"] for i in west], (via, ami, out)
        clean_lab.keep_images([ami])


def test_two_builds_return_a_map_and_only_picks_one(lab, clean_lab, java_classes, tmp_path):
    """Issue 11: a two-builder template through the step (a map of build name to AMI) and
    through the builder with only=web (one AMI, as for a one-builder template)."""
    out = run_java(lab, "twoBuildsReturnAMapAndOnlyPicksOne", tmp_path)
    amis = dict(re.findall(r"^MAP ([\w-]+)=(ami-[0-9a-f]+)$", out, re.M))
    only_web = printed_ami(out)
    clean_lab.keep_images([*amis.values(), only_web])
    assert sorted(amis) == ["amazon-ebs", "web"], out
    images = {i["ImageId"]: {t["Key"]: t["Value"] for t in i.get("Tags", [])} for i in own_images(lab)}
    assert set(images) == {*amis.values(), only_web}, images
    for name, ami in amis.items():
        assert images[ami]["Build"] == name
    assert images[only_web]["Build"] == "web"
    assert len({images[a]["bakeami:run-id"] for a in images}) == 3


def test_only_naming_no_build_fails_before_any_aws_call(lab, clean_lab, java_classes, tmp_path):
    run_java(lab, "onlyNamingNoBuildFailsTheStep", tmp_path)
    assert lab.calls() == []


# Aborts: waited for (the step fails after the cleanup); and cut short: timeout {} / "forcibly
# terminate" fail the step without waiting, the log closes, the channel closes; CoreStep
# (step(bakeAmiBuilder(...))) fails at once. The agent finishes the cleanup either way (the
# cut-short ones check bake.log in the workspace) and nothing is left in moto.
@pytest.mark.parametrize("method", ["pipelineAbortLogsCleanupBeforeFailing",
                                    "pipelineStepFailedEarlyStillCleansUpOnTheAgent",
                                    "freestyleBuilderThroughCoreStepCleansUpAfterFailingAtOnce",
                                    # after a restart, on an agent that loaded the plugin anew
                                    "aResumedStepOnAReconnectedAgentFollowsTheBakeAndAbortCancelsIt"])
def test_abort_cleans_up(lab, clean_lab, java_classes, tmp_path, method):
    out = run_java(lab, method, tmp_path)
    assert "deleted instance" in out
    assert lab.ec2().describe_images(Owners=["self"])["Images"] == []
    assert not any(lab.leftovers().values()), lab.leftovers()


def test_freestyle_builder_exports_ami_id(lab, clean_lab, java_classes, tmp_path):
    out = run_java(lab, "freestyleBuilderExportsTheAmi", tmp_path)
    ami = printed_ami(out)
    clean_lab.keep_images([ami])
    assert_provenance(lab, ami, out)


def test_interrupt_cancels_and_cleans_up(lab, clean_lab, java_classes, tmp_path):
    out = run_java(lab, "interruptingTheBakeCancelsAndCleansUp", tmp_path)
    assert "deleted instance" in out
    assert not any(lab.leftovers().values()), lab.leftovers()


@pytest.mark.keeps_images
def test_library_threads_deliver_events_attached_once(lab, clean_lab, java_classes, tmp_path):
    # promote.json copies the image to us-west-2 on a library thread, whose events cross JNI.
    out = run_java(lab, "libraryThreadsDeliverEventsAttachedOnce", tmp_path)
    ami = printed_ami(out)
    copies = lab.ec2("us-west-2").describe_images(Owners=["self"])["Images"]
    assert len(copies) == 1 and copies[0]["ImageId"] != ami, copies


@pytest.mark.parametrize("method", ["aRestartReattachesToTheRunningBake",
                                    "aRestartAfterTheBakeEndedReportsItsOutcome"])
def test_restart_does_not_lose_the_bake(lab, clean_lab, java_classes, tmp_path, method):
    # The execution is serialized mid-bake, the channel closes, a fresh controller resumes it.
    out = run_java(lab, method, tmp_path)
    ami = printed_ami(out)
    clean_lab.keep_images([ami])
    assert_provenance(lab, ami, out)


def test_restart_after_the_agent_lost_the_bake_cleans_up(lab, clean_lab, java_classes, tmp_path):
    # A real bake process, SIGKILLed mid-provisioning, left the step's journal: the resumed
    # step cleans up from it on the agent (through JNI) and fails naming what it removed. The
    # step's credentials entry assumes a role, and the agent has no AWS credentials of its own:
    # the cleanup assumes the entry's role with the entry's keys, as the bake did.
    key, secret = lab.enable_iam_auth(actions=("ec2:*", "ssm:*", "sts:*", "iam:*", "s3:*"), user="jenkins-lost")
    _role_for(lab, "jenkins-lost")
    lab.proxy.realism.credential_lifetime_s = 900  # only to record each session's token
    out = run_java(lab, "aRestartAfterTheAgentLostTheBakeCleansUpFromItsJournal", tmp_path,
                   env_overrides={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
                   props=_role_props(key, secret))
    assert "deleted instance" in out
    assert not any(lab.leftovers().values()), lab.leftovers()
    calls = lab.requests()
    cleanup_role = [c for c in calls if c.action == "AssumeRole"
                    and c.params.get("RoleSessionName") == "bakeami-bakeami-e2e-7"]
    assert len(cleanup_role) == 1 and _signed_by(cleanup_role[0]) == key, [c.params for c in cleanup_role]
    assert cleanup_role[0].params["ExternalId"] == "e2e-external"
    terminate = next(c for c in calls if c.action == "TerminateInstances")
    issued, _ = lab.proxy.realism.sessions[_token(terminate)]
    assert terminate.time >= cleanup_role[0].time and issued >= cleanup_role[0].time, \
        "the cleanup did not sign with the role session it assumed"


# ---- an "AWS Credentials" entry with an IAM role (issue 13) ------------------------------
ROLE = "arn:aws:iam::123456789012:role/baker"
ROLE_LIFETIME = 40  # the lab's STS sessions: renewed 10 s before they expire (creds.c)


def _role_props(key: str, secret: str, **more) -> dict:
    return {"bakeami.test.accessKey": key, "bakeami.test.secretKey": secret, "bakeami.test.roleArn": ROLE, **more}


def test_a_role_entry_is_assumed_and_renewed_by_the_library(lab, clean_lab, java_classes, tmp_path):
    """The step with a role entry: the controller assumes nothing; the library assumes the role on
    the agent with the entry's keys (the agent has none of its own) and renews it as the lab's
    short sessions (40 s) run out, through the bake and its cleanup; moto checks every signature."""
    key, secret = lab.enable_iam_auth(actions=("ec2:*", "ssm:*", "sts:*", "iam:*", "s3:*"), user="jenkins-role")
    _role_for(lab, "jenkins-role")
    realism = lab.proxy.realism
    realism.credential_lifetime_s = ROLE_LIFETIME
    realism.pending_s = ROLE_LIFETIME * 3 / 4 + 5    # waiting for the instance passes the first renewal
    realism.shutting_down_s = ROLE_LIFETIME * 3 / 4  # the cleanup's wait for the group passes another
    realism.dependency_violation = True
    out = run_java(lab, "aRoleEntryIsAssumedByTheLibraryOnTheAgent", tmp_path,
                   env_overrides={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
                   props=_role_props(key, secret))
    ami = printed_ami(out)
    clean_lab.keep_images([ami])

    # Every AssumeRole came from the library (its session name, not the plugin's "Jenkins"),
    # signed with the entry's keys, with the entry's external id and token duration; the cleanup
    # (the instance's shutdown outlives a renewal) ended on a renewed session.
    assert_renewed_sessions(lab, key, RoleArn=ROLE, RoleSessionName="bakeami-bakeami-e2e-7",
                            ExternalId="e2e-external", DurationSeconds="900")
    assert secret not in out


@pytest.mark.keeps_images
def test_an_mfa_role_is_assumed_once_for_every_client(lab, clean_lab, java_classes, tmp_path):
    """An entry whose role asks for MFA: the step's mfaToken goes with the first AssumeRole only
    (STS takes a code once); the copy region's client shares that session (promote.json copies
    the image to us-west-2), and nothing renews it."""
    out = run_java(lab, "aRoleEntryIsAssumedByTheLibraryOnTheAgent", tmp_path,
                   env_overrides={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
                   props=_role_props("AKIAJENKINSMFATEST01", "mfa-secret-" + secrets.token_hex(8),
                                     **{"bakeami.test.mfaSerial": "arn:aws:iam::123456789012:mfa/ci",
                                        "bakeami.test.mfaCode": "024680",
                                        "bakeami.test.template": "promote.json"}))
    printed_ami(out)
    copies = lab.ec2("us-west-2").describe_images(Owners=["self"])["Images"]
    assert len(copies) == 1, copies
    assert "MFA device arn:aws:iam::123456789012:mfa/ci; an MFA session is not renewed: it lasts 900 s" in out
    assumed = [c for c in lab.requests() if c.action == "AssumeRole"]
    assert len(assumed) == 1, [c.params for c in assumed]
    assert assumed[0].params["SerialNumber"] == "arn:aws:iam::123456789012:mfa/ci"
    assert assumed[0].params["TokenCode"] == "024680"
    tokens = {(c.region, _token(c)) for c in lab.requests(service="ec2")}
    assert {r for r, _ in tokens} == {"us-east-1", "us-west-2"} and len({t for _, t in tokens}) == 1, tokens
    assert "024680" not in out


def test_an_mfa_session_that_ends_mid_bake_fails_saying_so(lab, clean_lab, java_classes, tmp_path, bakeami):
    """What happens when an MFA role's session ends before the bake: the lab's STS issues 15 s
    sessions and the instance stays pending for 20 s. The library warns when renewal time comes
    (it cannot renew: STS takes a code once), then refuses every call, the cleanup's too, with a
    message that says so; no second AssumeRole is tried. What is left, the journal in the
    workspace names: `bakeami cleanup --journal` with a role that needs no MFA removes it."""
    realism = lab.proxy.realism
    realism.credential_lifetime_s = 15
    realism.pending_s = 20
    ws = tmp_path / "ws"
    shutil.copytree(TEMPLATES, ws)
    mfa = "arn:aws:iam::123456789012:mfa/ci"
    out = run_java(lab, "anMfaSessionThatEndsMidBakeFailsTheStepSayingSo", tmp_path,
                   props=_role_props("AKIAJENKINSMFATEST02", "mfa-secret-" + secrets.token_hex(8),
                                     **{"bakeami.test.mfaSerial": mfa, "bakeami.test.mfaCode": "135790",
                                        "bakeami.test.workspace": ws}))
    assumed = [c for c in lab.requests() if c.action == "AssumeRole"]
    assert len(assumed) == 1 and assumed[0].params["TokenCode"] == "135790", [c.params for c in assumed]
    assert [a for a in realism.answered if a[1] == "ExpiredToken"] == [], "a call went out on the expired session"
    left = lab.leftovers()
    assert any(left.values()), "the cleanup could not have run, yet nothing is left: " + out
    journals = sorted((ws / ".bakeami" / "journal").glob("jenkins-*.jsonl"))
    assert len(journals) == 1, journals
    realism.credential_lifetime_s = 0
    r = bakeami.run(["cleanup", "--journal", str(journals[0]), "--assume-role", ROLE], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not any(lab.leftovers().values()), lab.leftovers()
