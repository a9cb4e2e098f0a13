"""puppet-masterless and puppet-server end to end, with real Puppet: the lab's "instance" is
this machine (sshd on loopback, user bakeami with passwordless sudo), so Puppet runs as root
through Packer's default `sudo -E` command. The manifests write only under a directory of the
test's own (removed afterwards); Puppet keeps its state in the staging directory (the
templates' extra_arguments), which the provisioner removes. The test stage's native checks
look at what Puppet made. The Puppet server (puppetserver.py, conftest's puppet_server) starts
once per session, when a test first needs it; each puppet-server test writes its site.pp (a node
of its own name, autosigned or with a client certificate issued beforehand) and points the agent
at it through extra_arguments, its state (confdir, ssldir, vardir) in the staging directory."""
import json
import os
import shutil
import uuid
from pathlib import Path

import pytest


HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
MASTERLESS_STAGING = Path("/tmp/packer-puppet-masterless")
SERVER_STAGING = Path("/tmp/packer-puppet-server")


@pytest.fixture
def work_dir():
    """Where the manifests write: on the "instance" (this machine), readable by bakeami."""
    d = Path(f"/tmp/bakeami-e2e-puppet-{uuid.uuid4().hex[:8]}")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def no_staging():
    """No staging directory before the bake, so "gone afterwards" means removed by it."""
    for d in (MASTERLESS_STAGING, SERVER_STAGING):
        shutil.rmtree(d, ignore_errors=True)
    yield
    for d in (MASTERLESS_STAGING, SERVER_STAGING):
        shutil.rmtree(d, ignore_errors=True)


def masterless(lab, work_dir, *extra):
    return ["bake", *lab.ssh_vars(), "-var", f"dir={work_dir}", *extra,
            TEMPLATES / "puppet-masterless.json"]


def own_images(lab):
    return lab.ec2().describe_images(Owners=["self"])["Images"]


def test_masterless_manifest_module_hiera_facter(lab, clean_lab, bakeami, work_dir, no_staging):
    r = bakeami.run(masterless(lab, work_dir), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    # Puppet's own lines streamed through the console, and the command Packer would run
    assert "Notice: Applied catalog" in r.stdout, r.stdout
    assert ("running Puppet: cd /tmp/packer-puppet-masterless && FACTER_e2e_dir=") in r.stdout
    assert "sudo -E puppet apply --detailed-exitcodes --modulepath='/tmp/packer-puppet-" \
           "masterless/module-0' --hiera_config='/tmp/packer-puppet-masterless/hiera.yaml' " \
           "--confdir=/tmp/packer-puppet-masterless/state/conf" in r.stdout, r.stdout
    assert "/tmp/packer-puppet-masterless/manifests/site.pp" in r.stdout
    # the test stage passed on Puppet's files; the bake looked at them, and so do we
    assert (work_dir / "from-module.txt").read_text() == "hello from hiera\n"
    assert (work_dir / "from-manifest.txt").read_text() == "role=web's build=amazon-ebs\n"
    assert not (work_dir / "from-dir.txt").exists()      # only site.pp was applied
    assert not MASTERLESS_STAGING.exists()
    images = own_images(lab)
    assert len(images) == 1
    clean_lab.keep_images([images[0]["ImageId"]])


def test_masterless_manifest_directory(lab, clean_lab, bakeami, work_dir, no_staging):
    r = bakeami.run(masterless(lab, work_dir, "-var", "manifest=puppet/manifests",
                               "-var", "third=from-dir.txt"), timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "--confdir=/tmp/packer-puppet-masterless/state/conf " \
           "--vardir=/tmp/packer-puppet-masterless/state/var" in r.stdout
    assert (work_dir / "from-dir.txt").read_text() == "every manifest of the directory\n"
    assert (work_dir / "from-manifest.txt").exists()
    assert not MASTERLESS_STAGING.exists()
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])


@pytest.mark.parametrize("manifest,code,meaning", [
    ("failures.pp", 4, "the run had failures"),
    ("changes-and-failures.pp", 6, "the run had changes and failures"),
])
def test_masterless_failing_run(lab, clean_lab, bakeami, work_dir, no_staging, manifest, code,
                                meaning):
    r = bakeami.run(masterless(lab, work_dir, "-var", f"manifest=puppet/failing/{manifest}"),
                    timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert f"provisioners[2] (puppet-masterless): puppet apply exited {code}: {meaning}" in out
    assert "/bin/false" in r.stdout       # Puppet's own error reached the console
    assert not MASTERLESS_STAGING.exists()
    assert own_images(lab) == []
    assert "CreateImage" not in lab.calls(service="ec2")


def test_masterless_ignore_exit_codes(lab, clean_lab, bakeami, work_dir, no_staging, tmp_path):
    template = tmp_path / "ignore.json"
    text = (TEMPLATES / "puppet-masterless.json").read_text()
    text = text.replace('"type": "puppet-masterless",',
                        '"type": "puppet-masterless", "ignore_exit_codes": true,')
    template.write_text(text)
    shutil.copytree(TEMPLATES / "puppet", tmp_path / "puppet")
    r = bakeami.run(["bake", *lab.ssh_vars(), "-var", f"dir={work_dir}", "-var",
                     "manifest=puppet/failing/failures.pp", template],
                    timeout=300)
    # Puppet failed, the provisioner did not; the test stage then fails (nothing was made)
    assert "puppet apply exited 4, ignored (ignore_exit_codes)" in r.stdout, r.stdout + r.stderr
    assert r.returncode == 3, r.stdout + r.stderr
    assert not MASTERLESS_STAGING.exists()




# ---- puppet-server, against the real Puppet server -------------------------------------------
def server_template(tmp_path, lab, puppet_server, work_dir, node, checks=(), logging=True,
                    **prov):
    """An amazon-ebs bake whose one provisioner is puppet-server, pointed at the lab's Puppet
    server (puppet_server "localhost", its port, the agent's state in the staging directory),
    its catalog the site.pp the test wrote; Puppet's log also goes to work_dir/puppet.log on
    the instance (--logdest), as the seed keeps its provisioning logs on the image. Without
    logging, the agent has Packer's command alone (and so logs to syslog)."""
    template = {
        "variables": {"ssh_host": "127.0.0.1", "ssh_port": "22"},
        "builders": [{
            "type": "amazon-ebs", "region": "us-east-1",
            "source_ami_filter": {"filters": {"name": "al2023-ami-2023.*-x86_64"},
                                  "owners": ["amazon"], "most_recent": True},
            "instance_type": "t3.micro", "ssh_username": "bakeami",
            "ssh_host": "{{user `ssh_host`}}", "ssh_port": "{{user `ssh_port`}}",
            "ssh_timeout": "30s", "ami_name": "puppet-server {{uuid}}"}],
        "provisioners": [{
            "type": "puppet-server", "puppet_server": "localhost", "puppet_node": node,
            "facter": {"e2e_dir": str(work_dir), "server_role": "webserver"},
            "extra_arguments": [*puppet_server.agent_arguments("{{.WorkingDir}}/state"),
                                *(["--verbose", f"--logdest=console,{work_dir}/puppet.log"]
                                  if logging else [])],
            **prov}],
        "tests": {"checks": list(checks) or [{"file": f"{work_dir}/none", "exists": False}]},
    }
    path = tmp_path / "puppet-server.json"
    path.write_text(json.dumps(template, indent=2))
    return ["bake", *lab.ssh_vars(), path]


def node_name():
    return f"bake-{uuid.uuid4().hex[:8]}.bakeami.test"


@pytest.fixture(scope="module")
def client_cert(puppet_server, tmp_path_factory):
    """A client certificate the lab's CA issued for a name of these tests' own, once (Puppet
    makes a 4096-bit key): (name, certs dir, private_keys dir). The CA refuses a new request
    for that name, so a bake that did not use them could not run as it."""
    name = node_name()
    certs, keys = puppet_server.issue_client_cert(name, tmp_path_factory.mktemp("client"))
    return name, certs, keys


def server_site(puppet_server, node, body):
    puppet_server.site_pp(f"node '{node}' {{\n{body}\n}}\nnode default {{ }}\n")


def test_server_bake_with_client_cert_changes_the_instance(lab, clean_lab, bakeami, puppet_server,
                                                           client_cert, work_dir, no_staging,
                                                           tmp_path, report_figure):
    node, certs, keys = client_cert
    server_site(puppet_server, node, """
  file { "${facts['e2e_dir']}/from-server.txt":
    content => "role=${facts['server_role']} build=${facts['packer_builder_type']} node=${trusted['certname']}\\n",
    mode    => '0644',
  }""")
    work_dir.mkdir()
    logs = tmp_path / "logs"
    args = server_template(tmp_path, lab, puppet_server, work_dir, node, checks=[
        {"name": "the catalog's file", "file": f"{work_dir}/from-server.txt",
         "contains": f"role=webserver build=amazon-ebs node={node}"},
        {"name": "Puppet's log on the image", "file": f"{work_dir}/puppet.log",
         "contains": "Applied catalog"},
    ], client_cert_path=str(certs), client_private_key_path=str(keys))
    r = bakeami.run([*args, "--log-dir", logs], timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "running Puppet: cd /tmp/packer-puppet-server && FACTER_e2e_dir=" in r.stdout
    assert (f"sudo -E puppet agent --onetime --no-daemonize --detailed-exitcodes "
            f"--server='localhost' --certname='{node}' "
            "--certdir='/tmp/packer-puppet-server/certs' "
            "--privatekeydir='/tmp/packer-puppet-server/private_keys' "
            f"--serverport={puppet_server.port} ") in r.stdout, r.stdout
    assert "Notice: Applied catalog" in r.stdout, r.stdout     # streamed to the console
    assert "test: 2 tests passed" in out, out
    # the agent ran as the pre-issued name: the server compiled the catalog for it
    assert (work_dir / "from-server.txt").read_text() == \
        f"role=webserver build=amazon-ebs node={node}\n"
    # the client's keys (and everything else staged) are gone from the instance
    assert not SERVER_STAGING.exists()
    # the agent-side provisioning log holds the whole output the console showed
    run_dirs = list(logs.iterdir())
    assert len(run_dirs) == 1 and os.listdir(run_dirs[0]) == ["00-puppet-server.log"]
    log = (run_dirs[0] / "00-puppet-server.log").read_text().splitlines()
    shown = [line[6:] for line in r.stdout.splitlines() if line[:6] in ("    | ", "    ! ")]
    assert shown and set(shown) <= set(log), (shown, log)
    assert any("Notice: Applied catalog" in line for line in log)
    images = own_images(lab)
    assert len(images) == 1
    clean_lab.keep_images([images[0]["ImageId"]])


@pytest.mark.parametrize("logging", [True, False], ids=["verbose", "packer-default"])
def test_server_failing_catalog_run(lab, clean_lab, bakeami, puppet_server, client_cert, work_dir,
                                    no_staging, tmp_path, logging):
    node, certs, keys = client_cert
    server_site(puppet_server, node, "  exec { 'fails': command => '/bin/false' }")
    work_dir.mkdir()
    r = bakeami.run(server_template(tmp_path, lab, puppet_server, work_dir, node, logging=logging,
                                    client_cert_path=str(certs),
                                    client_private_key_path=str(keys)), timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "provisioners[0] (puppet-server): puppet agent exited 4: the run had failures" in out, out
    hint = "(it printed nothing: puppet agent logs to syslog unless told otherwise; add " \
           "--test, --verbose or --logdest=console to extra_arguments)"
    if logging:
        assert "/bin/false" in r.stdout and hint not in out   # Puppet's own error, streamed
    else:
        assert "/bin/false" not in r.stdout and hint in out, out
    assert not SERVER_STAGING.exists()    # the client's keys too, on failure
    assert own_images(lab) == []
    assert "CreateImage" not in lab.calls(service="ec2")
