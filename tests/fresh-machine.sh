#!/usr/bin/env bash
# The README's two commands on a fresh machine: builds a minimal Debian bookworm root
# (debootstrap --variant=minbase, plus make, git and python3 - nothing of ours), gives it
# this machine's apt, CA and pip configuration so it reaches the registries the same way,
# clones a commit of this repository into it and runs `make demo` in one fresh root, then
# `make test` in another: as root, with CI=true and no stdin, as .ci/run does.
#
#   tests/fresh-machine.sh [--ref REF] [--only demo|test] [--keep]     (make test-fresh)
#
# REF defaults to HEAD of the repository this script is in: only committed work is tested.
# The finished debootstrap root is cached as a tarball (FRESH_CACHE, /var/cache/bakeami-fresh)
# and unpacked anew for each command, so no run sees another's packages or files.
# Logs: FRESH_LOGS (build/fresh/ of this checkout). FRESH_TIMEOUT: seconds per command (3600).
# Every mount is undone and every root removed on exit, failure and Ctrl-C alike.
set -euo pipefail

SUITE=bookworm
BASE_PACKAGES=make,git,python3,ca-certificates  # ca-certificates: update-ca-certificates below
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "fresh-machine: $*" >&2; exit 2; }
say() { echo "fresh-machine: $*"; }

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
ref=HEAD
commands=(demo test)
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --ref) [ $# -ge 2 ] || die "--ref needs a value"; ref=$2; shift 2 ;;
    --only) [ $# -ge 2 ] || die "--only needs demo or test"; commands=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for c in "${commands[@]}"; do
  case $c in demo|test) ;; *) die "--only takes demo or test, not $c" ;; esac
done

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot and mounts)"
commit=$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}") || die "$ref is not a commit in $repo"
cache=${FRESH_CACHE:-/var/cache/bakeami-fresh}
logs=${FRESH_LOGS:-$repo/build/fresh}
limit=${FRESH_TIMEOUT:-3600}
mkdir -p "$cache" "$logs"
logs=$(cd "$logs" && pwd)

# --- cleanup: always, whatever happened --------------------------------------------------
roots=()    # every root made by this run
mounts=()   # every mount made by this run, in order
runner=     # the background job running a command
declare -A torn  # roots already torn down

# Processes started inside a root (the lab's sshd and moto, a stuck make) keep its mounts busy.
kill_inside() {
  local root=$1 sig pid left
  for sig in TERM KILL; do
    left=0
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
      [ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] || continue
      kill -s "$sig" "$pid" 2>/dev/null && left=1
    done
    [ $left -eq 1 ] || return 0
    [ $sig = KILL ] || sleep 3
  done
}

mounted_under() { awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts; }

# Unmounts what this run mounted under a root (innermost first) and removes the root.
teardown() {
  local root=$1 i m
  torn[$root]=1
  kill_inside "$root"
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    m=${mounts[i]}
    [[ $m == "$root" || $m == "$root"/* ]] && mountpoint -q "$m" || continue
    umount "$m" 2>/dev/null || { sleep 1; umount "$m" 2>/dev/null; } || umount -l "$m" \
      || echo "fresh-machine: cannot unmount $m" >&2
  done
  if [ -n "$(mounted_under "$root")" ]; then
    echo "fresh-machine: still mounted, $root NOT removed:" >&2
    mounted_under "$root" >&2
    return 1
  elif [ $keep -eq 1 ] && [ "$root" != "${work:-}" ]; then
    echo "fresh-machine: kept $root (--keep); remove it with rm -rf"
  else
    rm -rf --one-file-system "$root"
  fi
}

cleanup() {
  local rc=$? root stuck=0
  trap - EXIT INT TERM HUP
  [ -z "$runner" ] || kill "$runner" 2>/dev/null || true
  for root in ${roots[@]+"${roots[@]}"}; do
    [ -z "${torn[$root]:-}" ] || [ -n "$(mounted_under "$root")" ] || continue
    teardown "$root" || stuck=1
  done
  if [ $stuck -eq 0 ]; then
    [ ${#roots[@]} -eq 0 ] || say "cleaned up: ${#mounts[@]} mounts undone, /proc/mounts has none under ${roots[*]}"
  else
    rc=1
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh-machine: failed (line $LINENO: $BASH_COMMAND)" >&2' ERR
trap 'echo "fresh-machine: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM HUP

# Only a SIGKILLed run leaves mounts: say so (another run's may be live, so touch none).
stale=$(awk '$2 ~ "^/var/tmp/bakeami-fresh[.-]" { print $2 }' /proc/mounts)
[ -z "$stale" ] || say "mounts of another (or a killed) run, left alone: $(echo $stale)"

# --- the base root: debootstrap once, then a cached tarball ------------------------------
# The mirror this machine's apt uses for the suite (deb822 .sources or one-line .list).
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v s="$SUITE" '
      /^[[:space:]]*$/ { if (uri != "" && hit) { print uri; exit } uri = ""; hit = 0; next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) hit = 1 }
      END { if (uri != "" && hit) print uri }' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v s="$SUITE" '$1 == "deb" { sub(/\[[^]]*\] */, ""); if ($3 == s) print $2 }'
}
mirror=$(debian_mirror | head -n1 || true)
[ -n "$mirror" ] || die "no Debian $SUITE mirror in /etc/apt/sources.list{,.d}"

base="$cache/$SUITE-minbase-$(printf '%s %s' "$mirror" "$BASE_PACKAGES" | sha256sum | cut -c1-12).tar"
# A week-old base is made anew: the mirror's point releases move on.
[ -z "$(find "$base" -mtime +7 2>/dev/null)" ] || rm -f "$base"
if [ ! -s "$base" ]; then
  command -v debootstrap >/dev/null 2>&1 || {
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  work=$(mktemp -d /var/tmp/bakeami-fresh-base.XXXXXX)
  roots+=("$work")
  say "debootstrap --variant=minbase $SUITE from $mirror (+ $BASE_PACKAGES), log $logs/debootstrap.log"
  start=$SECONDS
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$work" "$mirror" \
    >"$logs/debootstrap.log" 2>&1 || { tail -n 20 "$logs/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -rf "$work"/var/cache/apt/archives/*.deb "$work"/var/lib/apt/lists/*_Packages
  part=$(mktemp "$base.XXXXXX")  # another run may be writing one too
  tar -C "$work" --numeric-owner -cf "$part" . && mv "$part" "$base"
  teardown "$work"
  say "base root cached as $base ($((SECONDS - start)) s)"
fi

# --- one fresh root ----------------------------------------------------------------------
# This machine's configuration files that no package installed (dpkg -S knows none of them).
own_config() {
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    dpkg -S "$f" >/dev/null 2>&1 || echo "$f"
  done
}

copy_config() {
  local root=$1 f key
  # apt: sources, their keyrings, and local settings (proxies, auth, validity checks).
  cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/"
  [ ! -f /etc/apt/sources.list ] || cp -a /etc/apt/sources.list "$root/etc/apt/"
  for f in /etc/apt/apt.conf /etc/apt/auth.conf $(own_config /etc/apt/apt.conf.d/* \
           /etc/apt/auth.conf.d/* /etc/apt/preferences.d/* /etc/apt/trusted.gpg.d/*); do
    [ -f "$f" ] || continue
    mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f"
  done
  for key in $(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk 'tolower($1) == "signed-by:" { print $2 }'); do
    [ ! -f "$key" ] || [ -e "$root$key" ] || { mkdir -p "$root$(dirname "$key")"; cp -a "$key" "$root$key"; }
  done
  cp -a /etc/resolv.conf /etc/hosts "$root/etc/" 2>/dev/null || true
  # The local CAs (a TLS-inspecting proxy's, say) into the root's own bundle.
  if [ -d /usr/local/share/ca-certificates ]; then
    cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  fi
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || die "update-ca-certificates failed in $root"
  # pip: system, XDG and root's own config files.
  for f in /etc/pip.conf /etc/xdg/pip/pip.conf /root/.pip/pip.conf /root/.config/pip/pip.conf; do
    [ -f "$f" ] || continue
    mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f"
  done
}

# pip's settings from the environment and the CA-bundle variables, when what they name is
# in the root too (PIP_FIND_LINKS=/opt/wheels is a directory of this machine only).
pass_env() {
  local root=$1 name value
  while IFS='=' read -r name value; do
    case $name in
      PIP_*|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|AWS_CA_BUNDLE|GIT_SSL_CAINFO) ;;
      *) continue ;;
    esac
    if [[ $value == /* && ! -e $root$value ]]; then
      echo "fresh-machine: not passed: $name=$value (no such path in the root)" >&2
      continue
    fi
    printf '%s=%s\n' "$name" "$value"
  done < <(env)
}

mount_into() {
  local root=$1
  mount_one() { mkdir -p "${@: -1}"; mount "$@"; mounts+=("${@: -1}"); }
  # The root a mount point of its own, as / is on a machine: `unshare --mount` (the tests'
  # private mount namespaces) makes / private, which fails on a plain directory.
  mount_one --bind "$root" "$root"
  mount --make-private "$root"
  mount_one -t proc proc "$root/proc"
  mount_one -t sysfs -o ro sysfs "$root/sys"
  mount_one --bind /dev "$root/dev"
  mount --make-private "$root/dev"
  mount_one --bind /dev/pts "$root/dev/pts"
  mount_one -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
  mount_one -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/tmp"
}

# shared/ beside the clone, as CI lays it (read-only): the checkout's, else the main one's.
shared_dir() {
  local d
  for d in "${FRESH_SHARED:-}" "$repo/../shared" "$(dirname "$(git -C "$repo" rev-parse --path-format=absolute --git-common-dir)")/../shared"; do
    [ -n "$d" ] && [ -d "$d" ] && { (cd "$d" && pwd); return; }
  done
}
shared=$(shared_dir || true)

# Sets root (not printed: roots and mounts must be recorded in this shell, not a subshell).
make_root() {
  root=$(mktemp -d /var/tmp/bakeami-fresh.XXXXXX)
  roots+=("$root")
  tar -C "$root" --numeric-owner -xpf "$base"
  chmod 755 "$root"
  copy_config "$root"
  mount_into "$root"
  mkdir -p "$root/work/ci"
  git clone -q --no-hardlinks "$repo" "$root/work/ci/bakeami"
  git -C "$root/work/ci/bakeami" -c advice.detachedHead=false checkout -q --detach "$commit" 2>/dev/null || {
    git -C "$root/work/ci/bakeami" fetch -q "$repo" "$commit" &&
    git -C "$root/work/ci/bakeami" -c advice.detachedHead=false checkout -q --detach "$commit"
  } || die "cannot check out $commit in the clone"
  if [ -n "$shared" ]; then
    cp -a "$shared" "$root/work/ci/shared" && chmod -R a-w "$root/work/ci/shared"
  fi
}

# Prefixes every line with the seconds since the command started (to see what took long).
stamp() {
  local start=${EPOCHREALTIME/./} line t
  while IFS= read -r line || [ -n "$line" ]; do
    t=$(( (${EPOCHREALTIME/./} - start) / 100000 ))
    printf '[%5d.%d] %s\n' $((t / 10)) $((t % 10)) "$line"
  done
}

# --- run each command in its own root ----------------------------------------------------
declare -A status wall log rootof
for c in "${commands[@]}"; do
  make_root
  rootof[$c]=$root
  log[$c]="$logs/make-$c.log"
  mapfile -t envs < <(pass_env "$root")
  say "make $c in $root ($(git -C "$repo" log -1 --format='%h %s' "$commit")), log ${log[$c]}"
  start=$SECONDS
  # In the background so that Ctrl-C reaches the trap at once (cleanup then stops the root's
  # processes); a foreground pipeline would first run to its end.
  (
    env -i PATH=$CHROOT_PATH HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 \
      CI=true ${envs[@]+"${envs[@]}"} \
      timeout --kill-after=30 "$limit" chroot "$root" /bin/sh -c "cd /work/ci/bakeami && exec make $c" \
      </dev/null 2>&1 | stamp >"${log[$c]}"
    exit "${PIPESTATUS[0]}"
  ) &
  runner=$!
  status[$c]=0
  wait "$runner" || status[$c]=$?
  runner=
  wall[$c]=$((SECONDS - start))
  say "make $c exited ${status[$c]} after ${wall[$c]} s"
  teardown "$root" || die "cannot tear $root down"
done

# --- summary -----------------------------------------------------------------------------
# Seconds into the log of the sub-make's first line: what tests/deps.sh (installs) took.
deps_time() {
  sed -n 's/^\[ *\([0-9.]*\)\] make\[1\]: Entering directory.*/\1 s/p' "$1" | head -n1
}

# The counts each runner printed: cmocka's per binary (added up), the Java units', pytest's.
test_counts() {
  awk '{ sub(/^\[ *[0-9.]+\] /, "") }
    /^\[  PASSED  \] [0-9]+ test/ { up += $4; ub++ }
    /^\[  FAILED  \] [0-9]+ test/ { uf += $4 }
    /^[0-9]+ passed, [0-9]+ failed/ { java = $0 }
    /^(FAILED|ERROR) tests\// { bad[++n] = substr($0, 1, 150) }
    /^=* *[0-9]+ (passed|failed).* in [0-9.]+s/ { py = $0 }
    /^make(\[[0-9]+\])?: \*\*\*/ { err[++e] = $0 }
    END {
      if (ub) printf "unit (cmocka): %d passed, %d failed (%d binaries)\n", up, uf, ub
      if (java != "") print "java-unit: " java
      if (py != "") print "e2e (pytest): " py
      for (i = 1; i <= n; i++) print "  " bad[i]
      for (i = 1; i <= e; i++) print err[i]
    }' "$1"
}

echo
echo "==== fresh-machine summary: $(git -C "$repo" log -1 --format='%h %s' "$commit")"
echo "     Debian $SUITE minbase + $BASE_PACKAGES, mirror $mirror, CI=true, no stdin, as root"
overall=0
for c in "${commands[@]}"; do
  echo
  echo "--- make $c: exit ${status[$c]}, ${wall[$c]} s wall (installs before the build: $(deps_time "${log[$c]}"))"
  [ $keep -eq 0 ] || echo "    root ${rootof[$c]} (kept)"
  [ "${status[$c]}" -ne 124 ] || echo "    TIMED OUT after FRESH_TIMEOUT=$limit s"
  echo "    log  ${log[$c]}"
  case $c in
    demo) grep -E '\] (==> summary:|    AMI [a-z0-9-]+: ami-|AMI: ami-)' "${log[$c]}" | sed 's/^/    /' ;;
    test) test_counts "${log[$c]}" | sed 's/^/    /' ;;
  esac
  echo "    last lines:"
  tail -n 5 "${log[$c]}" | sed 's/^/    /'
  [ "${status[$c]}" -eq 0 ] || overall=1
done
echo
exit $overall
