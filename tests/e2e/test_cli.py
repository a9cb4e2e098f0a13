"""The command line (issue 8): each command takes only its own options, says which option it
does not take, prints its usage on --help, and checks values before anything runs.

Most of these run build/bakeami without the lab (a usage error happens before any AWS call, and
an environment without AWS settings would make any call fail); the --region tests bake and
promote against the lab in a region that is neither the template's nor AWS_REGION.
"""
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from lab import BAKEAMI, REPO

HERE = Path(__file__).resolve().parent
BAKE_TEMPLATE = HERE / "templates" / "bake.json"
REQUIRED_VAR = REPO / "tests" / "templates" / "bad" / "41-required-variable.json"

# What each command takes: the contract of README "The command line" and DESIGN §5.
ROLE = {"assume-role", "external-id", "role-session-name"}
ACCEPTS = {
    "bake": {"var", "var-file", "manifest", "junit", "result", "journal", "on-error",
             "log-format", "debug", "region", "reuse", "no-reuse", "only", "except", "log-dir",
             "lease", "lease-renew", "help"} | ROLE,
    "validate": {"var", "var-file", "only", "except", "syntax-only", "dump-plan", "help"},
    "promote": {"ami", "var", "var-file", "result", "journal", "log-format", "debug", "region",
                "help"} | ROLE,
    "cleanup": {"journal", "run-id", "stale", "older-than", "region", "log-format", "help"} | ROLE,
    "inputs": {"var", "var-file", "region", "debug", "help"} | ROLE,
    "version": {"help"},
    "help": {"help"},
}
ALL_OPTIONS = set().union(*ACCEPTS.values())
FLAGS = {"debug", "stale", "help", "reuse", "no-reuse", "syntax-only"}
GOOD_VALUE = {"on-error": "abort", "log-format": "json", "older-than": "6h", "ami": "ami-0123",
              "lease": "1h", "lease-renew": "20m",
              "var": "k=v"}
OPERAND = {"bake": "TEMPLATE", "validate": "TEMPLATE", "promote": "TEMPLATE", "inputs": "TEMPLATE",
           "help": "COMMAND"}


def cli(args, cwd, env_extra=None):
    """build/bakeami with no AWS settings at all, in cwd."""
    if not BAKEAMI.exists():
        pytest.fail(f"{BAKEAMI} is not built: run `make`")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_EC2_METADATA_DISABLED="true", **(env_extra or {}))
    return subprocess.run([str(BAKEAMI), *map(str, args)], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=30, stdin=subprocess.DEVNULL)


def option_args(opt, dash="--"):
    return [f"{dash}{opt}"] if opt in FLAGS else [f"{dash}{opt}", GOOD_VALUE.get(opt, "x")]


def assert_usage_error(r, cwd, needle, command=None):
    """Exit 2, the message first on stderr, the usage after it, nothing on stdout, nothing
    run (no journal)."""
    assert r.returncode == 2, (r.args, r.returncode, r.stdout, r.stderr)
    first = r.stderr.splitlines()[0] if r.stderr else ""
    assert first.startswith("bakeami: ") and needle in first, (r.args, r.stderr)
    usage = f"usage: bakeami {command} " if command else "usage: bakeami "
    assert usage in r.stderr or f"usage: bakeami {command}\n" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    assert not (Path(cwd) / ".bakeami").exists(), "a usage error started a run"


def help_options(text):
    """The option names a help text lists ("  -var K=V   ...", "  -h, --help  ...")."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"  (?:-h, )?--?([a-z][a-z-]*)", line)
        if m:
            names.add(m.group(1))
    return names


# ---- options a command does not take ---------------------------------------------------------

@pytest.mark.parametrize("command,opt", [(c, o) for c in ACCEPTS for o in sorted(ALL_OPTIONS - ACCEPTS[c])])
def test_option_of_another_command_is_a_usage_error(tmp_path, command, opt):
    r = cli([command, *option_args(opt), "t.json"], tmp_path)
    assert_usage_error(r, tmp_path, f"--{opt} is not an option of {command}", command)


SINGLE_DASH_OTHER = {"bake": "ami", "validate": "region", "promote": "stale", "cleanup": "var",
                     "inputs": "ami", "version": "region", "help": "var"}


@pytest.mark.parametrize("command", sorted(ACCEPTS))
def test_single_dash_and_unknown_options_are_named_too(tmp_path, command):
    opt = SINGLE_DASH_OTHER[command]
    assert opt not in ACCEPTS[command]
    r = cli([command, f"-{opt}=x", "t.json"], tmp_path)
    assert_usage_error(r, tmp_path, f"-{opt} is not an option of {command}", command)
    r = cli([command, "--frobnicate", "t.json"], tmp_path)
    assert_usage_error(r, tmp_path, f"--frobnicate is not an option of {command}", command)


def test_abbreviations_are_not_taken(tmp_path):
    # glibc's getopt would take --reg for --region; Packer does not, nor do we
    r = cli(["bake", "--reg", "eu-west-1", "t.json"], tmp_path)
    assert_usage_error(r, tmp_path, "--reg is not an option of bake", "bake")


def test_the_example_of_the_issue(tmp_path):
    r = cli(["validate", "--region", "nowhere", "--ami", "ami-x", "--stale", "--older-than", "3d",
             "--junit", "/x/y", "T.json"], tmp_path)
    assert_usage_error(r, tmp_path, "--region is not an option of validate", "validate")


# ---- options a command does take -------------------------------------------------------------

@pytest.mark.parametrize("dash", ["-", "--"])
@pytest.mark.parametrize("command,opt", [(c, o) for c in ACCEPTS for o in sorted(ACCEPTS[c] - {"help"})])
def test_each_listed_option_is_taken(tmp_path, command, opt, dash):
    # two operands where one (or none) is allowed: the parse gets past the option, then fails
    r = cli([command, *option_args(opt, dash), "a", "b"], tmp_path)
    assert r.returncode == 2, (r.args, r.stderr)
    assert "is not an option" not in r.stderr and "needs a value" not in r.stderr, r.stderr
    assert f"bakeami: {command}: more than one" in r.stderr or \
        f"bakeami: {command} takes no arguments" in r.stderr, r.stderr


def test_var_with_one_dash_or_two(tmp_path):
    r = cli(["validate", REQUIRED_VAR], tmp_path)
    assert r.returncode == 2 and "variable 'version' is required" in r.stderr, r.stderr
    for args in (["-var", "version=1"], ["--var", "version=1"], ["-var=version=1"],
                 ["--var=version=1"]):
        r = cli(["validate", *args, REQUIRED_VAR], tmp_path)
        assert r.returncode == 0 and r.stdout == f"template {REQUIRED_VAR} is valid\n", \
            (args, r.stdout, r.stderr)
    var_file = tmp_path / "vars.json"
    var_file.write_text(json.dumps({"version": "2"}))
    for opt in ("-var-file", "--var-file"):
        r = cli(["validate", opt, var_file, REQUIRED_VAR], tmp_path)
        assert r.returncode == 0, (opt, r.stderr)


# ---- help and version ------------------------------------------------------------------------

@pytest.mark.parametrize("command", sorted(ACCEPTS))
def test_help_of_each_command(tmp_path, command):
    outputs = []
    for args in ([command, "--help"], [command, "-h"], [command, "-help"], ["help", command]):
        r = cli(args, tmp_path)
        assert r.returncode == 0 and r.stderr == "", (args, r.returncode, r.stderr)
        assert r.stdout.startswith(f"usage: bakeami {command}"), (args, r.stdout)
        outputs.append(r.stdout)
    assert all(o == outputs[0] for o in outputs), outputs
    assert help_options(outputs[0]) == ACCEPTS[command], outputs[0]
    assert "\n  -h, --help " in outputs[0], outputs[0]
    # an explanation for each option: after its name, or on the next line when the name is long
    lines = outputs[0].splitlines() + [""]
    for i, line in enumerate(lines):
        if re.match(r"  -", line):
            explained = re.match(r"  -\S+(?:, --help| \S+)?  +\w", line) or \
                re.match(r"^ {10,}\w", lines[i + 1])
            assert explained, line


def test_help_lists_every_command(tmp_path):
    for args in (["help"], ["--help"], ["-h"]):
        r = cli(args, tmp_path)
        assert r.returncode == 0 and r.stderr == "", (args, r.stderr)
        for command in ACCEPTS:
            assert re.search(rf"^  {command} +\S", r.stdout, re.M), (command, r.stdout)
            assert re.search(rf"^(usage:|      ) bakeami {command}\b", r.stdout, re.M), r.stdout
    r = cli(["help", "nosuch"], tmp_path)
    assert_usage_error(r, tmp_path, "help: unknown command 'nosuch'", "help")


def test_version(tmp_path):
    header = (REPO / "native" / "include" / "bakeami.h").read_text()
    version = re.search(r'#define BAKEAMI_VERSION "([^"]+)"', header).group(1)
    for args in (["version"], ["--version"], ["-version"]):
        r = cli(args, tmp_path)
        assert (r.returncode, r.stdout, r.stderr) == (0, f"bakeami {version}\n", ""), args
    assert_usage_error(cli(["version", "extra"], tmp_path), tmp_path,
                       "version takes no arguments", "version")


def test_no_command_or_an_unknown_one(tmp_path):
    assert_usage_error(cli([], tmp_path), tmp_path, "no command given")
    r = cli(["frobnicate"], tmp_path)
    assert_usage_error(r, tmp_path, "unknown command 'frobnicate'")
    assert "bakeami cleanup (" in r.stderr  # every command's usage


# ---- values and operands, checked before anything runs ---------------------------------------

BAD_VALUES = [
    (["bake", "--on-error", "maybe", "t.json"], "--on-error must be cleanup or abort, not 'maybe'"),
    (["bake", "--log-format=xml", "t.json"], "--log-format must be text or json, not 'xml'"),
    (["promote", "--ami", "ami-1", "--log-format", "JSON", "t.json"], "--log-format must be"),
    (["cleanup", "--stale", "--older-than", "soon"], "--older-than: 'soon' is not a duration"),
    (["cleanup", "--stale", "--older-than", "6x"], "--older-than: '6x' is not a duration"),
    (["cleanup", "--stale", "--older-than", "-6h"], "--older-than: '-6h' is not a duration"),
    (["cleanup", "--stale", "--older-than", "99999999999999999d"], "is not a duration"),
    (["bake", "t.json", "--manifest"], "--manifest needs a value"),
    (["bake", "--manifest=", "t.json"], "--manifest needs a value"),
    (["validate", "t.json", "-var"], "-var needs a value"),
    (["cleanup", "--region"], "--region needs a value"),
    (["bake", "--debug=yes", "t.json"], "--debug takes no value"),
    (["bake"], "bake: no TEMPLATE given"),
    (["validate", "-var", "a=b"], "validate: no TEMPLATE given"),
    (["promote", "--ami", "ami-1"], "promote: no TEMPLATE given"),
    (["bake", "a.json", "b.json"], "bake: more than one TEMPLATE given ('a.json', then 'b.json')"),
    (["validate", "a.json", "b.json"], "validate: more than one TEMPLATE given"),
    (["promote", "t.json"], "promote: --ami AMI_ID is required"),
    (["cleanup"], "cleanup: give exactly one of --journal F, --run-id ID and --stale"),
    (["cleanup", "--journal", "j", "--stale"], "cleanup: give exactly one of"),
    (["cleanup", "--run-id", "r", "--journal", "j"], "cleanup: give exactly one of"),
    (["cleanup", "--run-id", "bk-1", "--older-than", "6h"], "--older-than goes with --stale only"),
    (["cleanup", "--stale", "leftover"], "cleanup takes no arguments, got 'leftover'"),
]


@pytest.mark.parametrize("args,needle", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_values_and_operands(tmp_path, args, needle):
    assert_usage_error(cli(args, tmp_path), tmp_path, needle, args[0])


def test_readme_shows_the_usage_the_cli_prints(tmp_path):
    """README "The command line" shows the synopses `bakeami help` prints, line for line."""
    printed = cli(["help"], tmp_path).stdout
    synopses = [line[7:] for line in printed.splitlines()
                if line.startswith(("usage: bakeami", "       "))]
    readme = (REPO / "README.md").read_text()
    section = readme.split("## The command line", 1)[1].split("\n## ", 1)[0]
    block = section.split("```\n", 2)[1]
    assert block.splitlines() == synopses, block


# ---- --region: bake and promote in a region that is neither the template's nor AWS_REGION ------

REGION = "eu-west-1"


def _own_images(lab, region):
    return lab.ec2(region).describe_images(Owners=["self"])["Images"]


@pytest.fixture
def third_region(lab):
    """REGION as a lab region for one test: sshd accepts the key pairs made there."""
    added = REGION not in lab.regions
    lab.add_region(REGION)
    yield REGION
    if added:
        lab.remove_region(REGION)


def test_region_overrides_template_and_environment(lab, clean_lab, third_region, bakeami, tmp_path):
    result = tmp_path / "result.json"
    r = bakeami.run(["bake", "--region", REGION, "-var", "region=us-east-1", *lab.ssh_vars(),
                     "--result", result, BAKE_TEMPLATE], env_extra={"AWS_REGION": "us-east-1"})
    assert r.returncode == 0, r.stdout + r.stderr
    images = _own_images(lab, REGION)
    assert len(images) == 1, images
    ami = images[0]["ImageId"]
    clean_lab.keep_images([ami])
    assert json.loads(result.read_text())["amis"] == {REGION: ami}
    assert f"AMI {REGION}: {ami}" in r.stdout, r.stdout
    assert _own_images(lab, "us-east-1") == []
    assert {c.region for c in lab.requests(service="ec2")} == {REGION}

    # promote finds the image only in the region --region names
    template = json.loads(BAKE_TEMPLATE.read_text())
    template["promote"] = {"tags": {"Channel": "cli-region"}}
    template["provisioners"] = template["provisioners"][:1]  # files/motd is not next to it
    promote = tmp_path / "promote.json"
    promote.write_text(json.dumps(template))
    lab.reset_calls()
    r = bakeami.run(["promote", "--ami", ami, promote], env_extra={"AWS_REGION": "us-east-1"})
    assert r.returncode == 2 and f"{ami}" in r.stderr and "us-east-1" in r.stderr, r.stderr
    assert {c.region for c in lab.requests(service="ec2")} == {"us-east-1"}
    lab.reset_calls()
    r = bakeami.run(["promote", "--region", REGION, "--ami", ami, promote],
                    env_extra={"AWS_REGION": "us-east-1"})
    assert r.returncode == 0, r.stdout + r.stderr
    tags = {t["Key"]: t["Value"] for t in _own_images(lab, REGION)[0].get("Tags", [])}
    assert tags.get("Channel") == "cli-region", tags
    assert {c.region for c in lab.requests(service="ec2")} == {REGION}
