#!/usr/bin/env bash
# tests/fuzz/run.sh BUILD SECONDS [TARGET...] - runs each libFuzzer target (all of BUILD/bin by
# default): first its seed corpus tests/fuzz/corpus/<target> is replayed (every seed and every
# past finding's regression input), then it fuzzes SECONDS seconds. New inputs go to
# BUILD/corpus/<target> (kept between runs, never committed), findings to BUILD/findings/.
# Prints executions and findings per target and a total; exits 1 on any finding.
set -uo pipefail

build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for b in "$build"/bin/*; do
    [ -x "$b" ] && [ -f "$here/$(basename "$b").c" ] && targets+=("$(basename "$b")")
  done
fi

total_execs=0 total_findings=0 failed=0
printf '%-10s %12s %10s %9s  %s\n' target executions exec/s findings result
for t in "${targets[@]}"; do
  work="$build/corpus/$t" findings="$build/findings/$t" log="$build/logs/$t.log"
  mkdir -p "$work" "$findings" "$(dirname "$log")"
  dict=()
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  before=$(find "$findings" -type f | wc -l)
  # -timeout: an input taking 10 s is a finding (a hang); rss_limit: one using 2 GB is too.
  "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" \
    "$work" "$here/corpus/$t" >"$log" 2>&1
  rc=$?
  after=$(find "$findings" -type f | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  new=$((after - before))
  result=ok
  if [ "$rc" -ne 0 ] || [ "$new" -gt 0 ]; then
    result="FAILED (exit $rc; see $log)"
    failed=1
    [ "$new" -gt 0 ] || new=1
  fi
  printf '%-10s %12s %10s %9s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "$new" "$result"
  total_execs=$((total_execs + ${execs:-0}))
  total_findings=$((total_findings + new))
done
printf '%-10s %12s %10s %9s\n' total "$total_execs" "" "$total_findings"
if [ "$failed" -ne 0 ]; then
  echo "fuzz: findings in $build/findings (tail of each failed target's log above)" >&2
  for t in "${targets[@]}"; do
    grep -q -E 'ERROR|SUMMARY' "$build/logs/$t.log" 2>/dev/null && tail -40 "$build/logs/$t.log" >&2
  done
fi
exit $failed
