"""puppet-masterless and puppet-server end to end, with real Puppet: the lab's "instance" is
this machine (sshd on loopback, user bakeami with passwordless sudo), so Puppet runs as root
through Packer's default `sudo -E` command. The manifests write only under a directory of the
test's own (removed afterwards); Puppet keeps its state in the staging directory (the
templates' extra_arguments), which the provisioner removes. The test stage's native checks
look at what Puppet made. The Puppet server (puppetserver.py) starts once per session, when a
test first needs it."""
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


