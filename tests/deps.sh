#!/usr/bin/env bash
# Installs what building and testing bakeami needs, and nothing when it is all there.
# Run by `make deps` and by .ci/run, as root, on Debian bookworm; it needs only the Debian
# mirrors and PyPI. A second run makes no network call and prints nothing.
set -euo pipefail

APT_PACKAGES=(
  build-essential pkg-config
  libcurl4-openssl-dev libssh2-1-dev libcjson-dev libxml2-dev libssl-dev libcmocka-dev
  openssh-server sudo valgrind python3-pip
  ruby-serverspec ruby-net-ssh ruby-rspec-junit-formatter # real Serverspec for the test stage
  libxml2-utils # xmllint validates JUnit output against tests/junit/junit.xsd
  default-jdk-headless maven # the Jenkins shim and its JUnit tests
  curl # the e2e lab's AuthorizedKeysCommand asks moto for the key pairs with it
  time # GNU time: make bench reads each process's peak RSS from it
  iproute2 # ss: Serverspec's port check on Debian runs it, and the lab's instance is this machine
  packer # Debian's Packer 1.6.6: test_builds.py compares inspect and validate -syntax-only with it, test_packer_corpus.py validate on tests/packer_corpus
  clang libclang-rt-14-dev # make fuzz: libFuzzer (libclang_rt.fuzzer) with ASan and UBSan
  puppet puppetserver # real puppet apply / agent on the lab's instance; a real Puppet server (tests/e2e/puppetserver.py)
  ansible # the ansible and ansible-local provisioners, for real (tests/e2e/test_ansible.py)
)
MOTO_MIN=5.2.3
PIP_PACKAGES=("moto[server]==$MOTO_MIN" pytest boto3)

die() { echo "deps.sh: $*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

# --- Debian packages ---------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # dpkg -s also lists removed-but-configured packages; only "install ok installed" counts.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || die "missing packages ${missing[*]} and no apt-get to install them"
  if [ "$(id -u)" -ne 0 ] && ! sudo -n true 2>/dev/null; then
    die "missing packages ${missing[*]}: run tests/deps.sh as root (or with passwordless sudo)"
  fi
  echo "deps.sh: installing ${missing[*]}"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq >"$log" 2>&1 \
    || { cat "$log" >&2; die "apt-get update failed (are the Debian mirrors reachable?)"; }
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
    || { cat "$log" >&2; die "apt-get install ${missing[*]} failed"; }
fi

# --- Python packages ---------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 not found after installing python3-pip"

python_ok() {
  # Looks the packages up without importing them (importing moto and boto3 takes ~1 s).
  python3 - "$MOTO_MIN" <<'EOF' >/dev/null 2>&1
import re, sys
from importlib.metadata import version
from importlib.util import find_spec
for mod in ("moto", "flask", "flask_cors", "boto3", "pytest"):  # flask*: moto's server extra
    assert find_spec(mod), mod
def ver(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])
assert ver(version("moto")) >= ver(sys.argv[1]), version("moto")
EOF
}

if ! python_ok; then
  echo "deps.sh: installing ${PIP_PACKAGES[*]} with pip"
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  pip=(python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore)
  if ! "${pip[@]}" "${PIP_PACKAGES[@]}" >"$log" 2>&1; then
    # Debian's own python3 refuses system-wide pip installs (PEP 668) unless told to.
    if grep -q externally-managed-environment "$log"; then
      "${pip[@]}" --break-system-packages "${PIP_PACKAGES[@]}" >"$log" 2>&1 \
        || { cat "$log" >&2; die "pip install ${PIP_PACKAGES[*]} failed (is PyPI reachable?)"; }
    else
      cat "$log" >&2
      die "pip install ${PIP_PACKAGES[*]} failed (is PyPI reachable?)"
    fi
  fi
  python_ok || die "moto >= $MOTO_MIN with its server extra, boto3 and pytest are still not importable by python3 ($(command -v python3))"
fi
