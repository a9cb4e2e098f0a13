"""puppet-masterless and puppet-server end to end, with real Puppet: the lab's "instance" is
this machine (sshd on loopback, user bakeami with passwordless sudo), so Puppet runs as root
through Packer's default `sudo -E` command. The manifests write only under a directory of the
test's own (removed afterwards); Puppet keeps its state in the staging directory (the
templates' extra_arguments), which the provisioner removes. The test stage's native checks
look at what Puppet made. The Puppet server (puppetserver.py) starts once per session, when a
test first needs it."""
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from puppetserver import PuppetServer

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


@pytest.fixture(scope="session")
def puppet_server(report_figure_session):
    server = PuppetServer().start()
    report_figure_session(f"puppetserver start (JVM -Xmx768m, to /status/v1/simple "
                          f"running): {server.start_seconds:.1f} s")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def report_figure_session():
    from conftest import _FIGURES
    return _FIGURES.append


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


# ---- puppet-server -----------------------------------------------------------------------

SITE_PP = """node default {
  file { "${facts['e2e_dir']}/from-server.txt":
    content => "catalog for ${trusted['certname']} from the server\\n",
    mode    => '0644',
  }
}
"""


def server_template(tmp_path, server, certname, **extra) -> Path:
    prov = {
        "type": "puppet-server",
        "puppet_server": "localhost",
        "puppet_node": certname,
        "facter": {"e2e_dir": "{{user `dir`}}"},
        "extra_arguments": [f"--serverport={server.port}",
                            "--confdir={{.WorkingDir}}/state/conf",
                            "--vardir={{.WorkingDir}}/state/var",
                            "--logdir={{.WorkingDir}}/state/log",
                            "--rundir={{.WorkingDir}}/state/run"],
        **extra,
    }
    import json
    tpl = json.loads((TEMPLATES / "puppet-masterless.json").read_text())
    tpl["provisioners"] = [prov]
    tpl["tests"] = {"checks": [
        {"name": "from the server", "file": "{{user `dir`}}/from-server.txt", "owner": "root",
         "contains": f"catalog for {certname} from the server"}]}
    path = tmp_path / "puppet-server.json"
    path.write_text(json.dumps(tpl, indent=2))
    return path


def test_server_agent_run(lab, clean_lab, bakeami, work_dir, no_staging, tmp_path,
                          puppet_server):
    puppet_server.site_pp(SITE_PP)
    certname = f"web-{uuid.uuid4().hex[:8]}.bakeami.test"
    template = server_template(tmp_path, puppet_server, certname, options="--no-usecacheonfailure")
    r = bakeami.run(["bake", *lab.ssh_vars(), "-var", f"dir={work_dir}", template], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr + puppet_server.tail()
    assert "sudo -E puppet agent --onetime --no-daemonize --detailed-exitcodes " \
           f"--server='localhost' --certname='{certname}' --serverport=" in r.stdout
    assert "--no-usecacheonfailure" in r.stdout          # the old options string, appended
    assert "Notice: Applied catalog" in r.stdout
    assert (work_dir / "from-server.txt").read_text() == \
        f"catalog for {certname} from the server\n"
    assert not SERVER_STAGING.exists()
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])


def test_server_client_cert_uploaded_and_removed(lab, clean_lab, bakeami, work_dir, no_staging,
                                                 tmp_path, puppet_server):
    """A certificate the server signed beforehand (puppet ssl bootstrap, as an operator
    would make one): uploaded as client_cert_path / client_private_key_path, used by the
    agent (--certdir / --privatekeydir), and removed afterwards even though
    clean_staging_directory keeps the rest of the staging directory."""
    puppet_server.site_pp(SITE_PP)
    certname = f"pre-{uuid.uuid4().hex[:8]}.bakeami.test"
    ssl = tmp_path / "client"
    boot = subprocess.run(
        ["puppet", "ssl", "bootstrap", f"--certname={certname}", "--server=localhost",
         f"--serverport={puppet_server.port}", f"--confdir={ssl}/conf", f"--vardir={ssl}/var",
         f"--logdir={ssl}/log", f"--rundir={ssl}/run"],
        capture_output=True, text=True, timeout=120)
    assert boot.returncode == 0, boot.stdout + boot.stderr
    certs, keys = ssl / "conf/ssl/certs", ssl / "conf/ssl/private_keys"
    assert (certs / f"{certname}.pem").exists() and (keys / f"{certname}.pem").exists()
    template = server_template(tmp_path, puppet_server, certname,
                               client_cert_path=str(certs), client_private_key_path=str(keys),
                               clean_staging_directory=False)
    r = bakeami.run(["bake", *lab.ssh_vars(), "-var", f"dir={work_dir}", template], timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr + puppet_server.tail()
    assert "--certdir='/tmp/packer-puppet-server/certs' " \
           "--privatekeydir='/tmp/packer-puppet-server/private_keys'" in r.stdout
    assert (work_dir / "from-server.txt").exists()
    # the staging directory stays (clean_staging_directory false), the keys do not
    assert SERVER_STAGING.is_dir()
    assert not (SERVER_STAGING / "certs").exists()
    assert not (SERVER_STAGING / "private_keys").exists()
    clean_lab.keep_images([i["ImageId"] for i in own_images(lab)])


def test_server_failing_run_removes_keys(lab, clean_lab, bakeami, work_dir, no_staging,
                                         tmp_path, puppet_server):
    puppet_server.site_pp("node default { exec { 'fails': command => '/bin/false' } }\n")
    certname = f"fail-{uuid.uuid4().hex[:8]}.bakeami.test"
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "unused.pem").write_text("not a key: the agent makes its own\n")
    template = server_template(tmp_path, puppet_server, certname,
                               client_private_key_path=str(keys))
    r = bakeami.run(["bake", *lab.ssh_vars(), "-var", f"dir={work_dir}", template], timeout=300)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "provisioners[0] (puppet-server): puppet agent exited 4: the run had failures" \
        in r.stdout + r.stderr, r.stdout + r.stderr
    assert not SERVER_STAGING.exists()
    assert own_images(lab) == []
