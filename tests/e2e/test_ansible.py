"""ansible-local and ansible with real Ansible (Debian's ansible) against the lab's "instance"
(this machine, user bakeami over the lab's sshd). Playbooks touch only the test's own target
folder; the test stage checks what they did; a failure or a cancel leaves nothing behind
(moto clean, the staging folder gone, the agent's private temp folder gone)."""
import json
import os
import pwd
import shutil
import signal
import tempfile
import time

import pytest

from lab import SSH_USER



@pytest.fixture
def target():
    """A folder the lab's user may write: /tmp/pytest-of-root is root's alone."""
    if not shutil.which("ansible-playbook"):
        pytest.fail("needs ansible (tests/deps.sh installs it)", pytrace=False)
    d = tempfile.mkdtemp(prefix="bakeami-e2e-ansible-")
    pw = pwd.getpwnam(SSH_USER)
    os.chown(d, pw.pw_uid, pw.pw_gid)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def agent_tmp(tmp_path):
    """The bake's TMPDIR: its private folders (key, known_hosts, inventory) go there."""
    d = tmp_path / "agent-tmp"
    d.mkdir()
    return d


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def template(tmp_path, provisioner, checks=()):
    doc = {
        "variables": {"ssh_host": "127.0.0.1", "ssh_port": "22"},
        "builders": [{
            "type": "amazon-ebs", "name": "ansible-e2e", "region": "us-east-1",
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"},
                                  "owners": ["amazon"], "most_recent": True},
            "instance_type": "t3.micro", "ssh_username": SSH_USER,
            "ssh_host": "{{user `ssh_host`}}", "ssh_port": "{{user `ssh_port`}}",
            "ssh_timeout": "30s", "skip_create_ami": True,
            "ami_name": "ansible {{timestamp}}"}],
        "provisioners": [provisioner],
    }
    if checks:
        doc["tests"] = {"checks": list(checks)}
    path = tmp_path / "ansible.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def bake(bakeami, lab, tpl, agent_tmp, *extra, timeout=180):
    return bakeami.run(["bake", *lab.ssh_vars(), "--result", str(tpl.parent / "result.json"),
                        *extra, str(tpl)], env_extra={"TMPDIR": str(agent_tmp)},
                       timeout=timeout)


def log_of(tpl, name):
    res = json.loads((tpl.parent / "result.json").read_text())
    return (tpl.parent / res["logs"] / name).read_text()


# ---- ansible-local ------------------------------------------------------------------------

def local_playbook_dir(tmp_path, fail=False):
    pdir = tmp_path / "playbooks"
    write(pdir / "site.yml", "- hosts: all\n  roles:\n    - greet\n")
    tasks = ("- name: greet\n  copy:\n    dest: \"{{ target }}/local.txt\"\n"
             "    content: \"{{ greeting }} from {{ packer_build_name }} ({{ packer_builder_type }})"
             " in {{ group_names | join(',') }}\\n\"\n")
    if fail:
        tasks += "- name: break\n  fail:\n    msg: the playbook fails on purpose\n"
    write(pdir / "roles" / "greet" / "tasks" / "main.yml", tasks)
    write(tmp_path / "group_vars" / "web.yml", "greeting: hello from group_vars\n")
    return pdir


def local_provisioner(tmp_path, target, pdir, **more):
    return {"type": "ansible-local", "playbook_dir": str(pdir),
            "playbook_file": str(pdir / "site.yml"), "group_vars": str(tmp_path / "group_vars"),
            "inventory_groups": ["web"], "extra_arguments": ["--extra-vars", f"target={target}"],
            "staging_directory": f"{target}/staging", **more}


def test_ansible_local_playbook_dir_role_and_group_vars(lab, clean_lab, bakeami, tmp_path,
                                                        target, agent_tmp):
    pdir = local_playbook_dir(tmp_path)
    want = "hello from group_vars from ansible-e2e (amazon-ebs) in web"
    tpl = template(tmp_path, local_provisioner(tmp_path, target, pdir,
                                               clean_staging_directory=True),
                   [{"name": "ansible-local's file", "file": f"{target}/local.txt",
                     "contains": want}])
    r = bake(bakeami, lab, tpl, agent_tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (open(f"{target}/local.txt").read()) == want + "\n"
    # Packer's command line, and the test stage saw the change
    assert f"cd {target}/staging && ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook " \
           f"{target}/staging/site.yml --extra-vars \"packer_build_name=ansible-e2e " \
           "packer_builder_type=amazon-ebs" in r.stdout
    assert " -c local -i " in r.stdout
    res = json.loads((tpl.parent / "result.json").read_text())
    assert res["tests"]["passed"] == 1 and res["tests"]["failed"] == 0
    assert not os.path.exists(f"{target}/staging")   # clean_staging_directory
    assert "PLAY RECAP" in log_of(tpl, "00-ansible-local.log")
    assert os.listdir(agent_tmp) == []


def test_ansible_local_failing_playbook_leaves_nothing(lab, clean_lab, bakeami, tmp_path,
                                                       target, agent_tmp):
    pdir = local_playbook_dir(tmp_path, fail=True)
    tpl = template(tmp_path, local_provisioner(tmp_path, target, pdir))
    r = bake(bakeami, lab, tpl, agent_tmp)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "provisioners[0] (ansible-local)" in r.stderr and "exited with status 2" in r.stderr, \
        r.stderr
    assert "the playbook fails on purpose" in r.stdout
    assert not os.path.exists(f"{target}/staging")   # removed after a failure
    log = log_of(tpl, "00-ansible-local.log")
    assert "the playbook fails on purpose" in log and "ERROR: provisioners[0] (ansible-local)" in log


# ---- ansible (on the agent) ----------------------------------------------------------------

def remote_files(tmp_path, task_extra=""):
    roles = tmp_path / "roles"
    write(roles / "mark" / "tasks" / "main.yml",
          "- name: mark\n  copy:\n    dest: \"{{ target }}/remote.txt\"\n"
          "    content: \"{{ word }} as {{ ansible_user }} in {{ group_names | join(',') }}\\n\"\n"
          + task_extra)
    return roles, write(tmp_path / "remote.yml", "- hosts: all\n  roles:\n    - mark\n")


def remote_provisioner(target, roles, playbook, **more):
    return {"type": "ansible", "playbook_file": str(playbook), "roles_path": str(roles),
            "groups": ["web"], "empty_groups": ["db"],
            "extra_arguments": ["-e", f"target={target}", "-e", "word=hello-remote"], **more}


def test_ansible_on_the_agent_roles_path_and_extra_arguments(lab, clean_lab, bakeami, tmp_path,
                                                             target, agent_tmp):
    roles, playbook = remote_files(tmp_path)
    want = f"hello-remote as {SSH_USER} in web"
    tpl = template(tmp_path, remote_provisioner(target, roles, playbook),
                   [{"name": "ansible's file", "file": f"{target}/remote.txt", "contains": want}])
    r = bake(bakeami, lab, tpl, agent_tmp)
    assert r.returncode == 0, r.stdout + r.stderr
    assert open(f"{target}/remote.txt").read() == want + "\n"
    assert f"as {SSH_USER}@127.0.0.1:{lab.ssh_port}" in r.stdout
    res = json.loads((tpl.parent / "result.json").read_text())
    assert res["tests"]["passed"] == 1
    assert "PLAY RECAP" in log_of(tpl, "00-ansible.log")
    assert os.listdir(agent_tmp) == []   # key, known_hosts, inventory: gone


def test_ansible_checks_the_host_key_the_bake_trusted(lab, clean_lab, bakeami, tmp_path,
                                                      target, agent_tmp):
    """A user's ANSIBLE_SSH_ARGS and ANSIBLE_HOST_KEY_CHECKING=False cannot turn checking
    off; with an inventory of ours naming another address for the same sshd (so the
    known_hosts entry does not match), ssh refuses."""
    roles, playbook = remote_files(tmp_path)
    tpl = template(tmp_path, remote_provisioner(
        target, roles, playbook,
        ansible_env_vars=["ANSIBLE_HOST_KEY_CHECKING=False",
                          "ANSIBLE_SSH_ARGS=-o StrictHostKeyChecking=no"],
        inventory_file_template="{{ .HostAlias }} ansible_host=localhost ansible_user={{ .User }} "
                                "ansible_port={{ .Port }}\n"))
    r = bake(bakeami, lab, tpl, agent_tmp)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "provisioners[0] (ansible)" in r.stderr, r.stderr
    assert "Host key verification failed" in r.stdout, r.stdout
    assert "ANSIBLE_HOST_KEY_CHECKING is ignored" in r.stdout
    assert not os.path.exists(f"{target}/remote.txt")
    assert os.listdir(agent_tmp) == []


def test_ansible_failing_playbook_leaves_nothing(lab, clean_lab, bakeami, tmp_path, target,
                                                 agent_tmp):
    roles, playbook = remote_files(tmp_path, "- name: break\n  fail:\n    msg: remote fails\n")
    tpl = template(tmp_path, remote_provisioner(target, roles, playbook))
    r = bake(bakeami, lab, tpl, agent_tmp)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "provisioners[0] (ansible)" in r.stderr and "exited with status 2" in r.stderr, r.stderr
    assert "remote fails" in r.stdout
    assert os.listdir(agent_tmp) == []


def test_ansible_cancel_removes_the_key_folder(lab, clean_lab, bakeami, tmp_path, target,
                                               agent_tmp):
    roles, playbook = remote_files(tmp_path, "- name: wait here\n  command: sleep 60\n")
    tpl = template(tmp_path, remote_provisioner(target, roles, playbook))
    proc = bakeami.start(["bake", *lab.ssh_vars(), str(tpl)], env_extra={"TMPDIR": str(agent_tmp)})
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "TASK [mark : wait here]" in line:
            break
    else:
        pytest.fail("never reached the waiting task:\n" + "".join(seen))
    assert os.listdir(agent_tmp) != []   # the key folder exists while ansible runs
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    rest = proc.stdout.read()
    assert proc.wait(timeout=60) == 130, rest
    assert time.monotonic() - t0 < 30
    assert os.listdir(agent_tmp) == [], os.listdir(agent_tmp)


# ---- the template's keys ----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["ansible", "ansible-local"])
def test_unknown_keys_are_refused(lab, clean_lab, bakeami, tmp_path, kind):
    playbook = write(tmp_path / "p.yml", "- hosts: all\n  tasks: []\n")
    tpl = template(tmp_path, {"type": kind, "playbook_file": str(playbook), "playbok_dir": "x"})
    r = bakeami.run(["validate", str(tpl)])
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"provisioners[0].playbok_dir: unknown key for a {kind} provisioner" in r.stderr


def test_proxy_keys_are_accepted_with_a_warning(lab, clean_lab, bakeami, tmp_path):
    playbook = write(tmp_path / "p.yml", "- hosts: all\n  tasks: []\n")
    tpl = template(tmp_path, {"type": "ansible", "playbook_file": str(playbook),
                              "use_proxy": True, "local_port": 2200})
    r = bakeami.run(["validate", str(tpl)])
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "provisioners[0].use_proxy: ignored: bakeami connects Ansible to the instance " \
           "directly" in out
    assert "provisioners[0].local_port: ignored" in out


def test_ansible_local_needs_one_playbook_source(lab, clean_lab, bakeami, tmp_path):
    d = tmp_path / "pdir"
    d.mkdir()
    tpl = template(tmp_path, {"type": "ansible-local", "playbook_dir": str(d)})
    r = bakeami.run(["validate", str(tpl)])
    assert r.returncode == 2 and "exactly one of playbook_file or playbook_files" in r.stderr
    tpl = template(tmp_path, {"type": "ansible-local", "playbook_file": str(d)})
    r = bakeami.run(["validate", str(tpl)])
    assert r.returncode == 2 and "must be a file" in r.stderr, r.stderr


def test_inventory_file_template_is_checked_at_validate(lab, clean_lab, bakeami, tmp_path):
    playbook = write(tmp_path / "p.yml", "- hosts: all\n  tasks: []\n")
    tpl = template(tmp_path, {"type": "ansible", "playbook_file": str(playbook),
                              "inventory_file_template": "{{ .HostAlias }} ansible_host={{ .Hots }}\n"})
    r = bakeami.run(["validate", str(tpl)])
    assert r.returncode == 2, r.stdout + r.stderr
    assert "provisioners[0].inventory_file_template" in r.stderr and ".Hots" in r.stderr, r.stderr
