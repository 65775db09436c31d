#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with the `fuzz` preset
# (clang-14, ASan + UBSan) and runs resp_parser_fuzz for a fixed time from
# the seed corpus in fuzz/corpus/resp, with RESP tokens from fuzz/resp.dict.
#
# Exits non-zero on any crash, sanitizer report, leak, OOM or timeout; then
# the work directory (log, reproducer artifacts, evolved corpus) is kept and
# its path printed. On success it prints one line:
#   fuzz: resp_parser_fuzz ran N execs in S s, no crash
#
# Usage: scripts/fuzz-smoke.sh [seconds]     (default 60)
# Environment: RCACHE_BUILD_JOBS  parallel build jobs (default 1)
set -euo pipefail

seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds == 0)); then
  echo "usage: $0 [seconds > 0]" >&2
  exit 2
fi
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

work=$(mktemp -d "${TMPDIR:-/tmp}/rcache-fuzz.XXXXXX")
fail() {
  echo "fuzz: FAILED: $1 (work dir kept: $work)" >&2
  exit 1
}

if ! cmake --preset fuzz >"$work/configure.log" 2>&1; then
  tail -n 30 "$work/configure.log" >&2
  fail "configure (cmake --preset fuzz)"
fi
if ! cmake --build --preset fuzz --target resp_parser_fuzz --parallel "${RCACHE_BUILD_JOBS:-1}" \
  >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  fail "build (cmake --build --preset fuzz)"
fi
fuzzer="$root/build/fuzz/fuzz/resp_parser_fuzz"
[[ -x $fuzzer ]] || fail "no fuzzer binary at $fuzzer"

mkdir "$work/corpus"
cp "$root"/fuzz/corpus/resp/* "$work/corpus/"

set +e
ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  "$fuzzer" "$work/corpus" \
  -max_total_time="$seconds" -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=5 \
  -detect_leaks=1 -print_final_stats=1 -dict="$root/fuzz/resp.dict" \
  -artifact_prefix="$work/" >"$work/fuzz.log" 2>&1
rc=$?
set -e

artifacts=$(find "$work" -maxdepth 1 -type f \
  \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \))
if ((rc != 0)) || [[ -n $artifacts ]]; then
  tail -n 60 "$work/fuzz.log" >&2
  [[ -z $artifacts ]] || echo "fuzz: reproducers: $artifacts" >&2
  fail "resp_parser_fuzz exited with $rc"
fi

# libFuzzer ends with "Done <runs> runs in <seconds> second(s)".
done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$work/fuzz.log" | tail -n 1 || true)
[[ -n $done_line ]] || { tail -n 20 "$work/fuzz.log" >&2; fail "no final stats in the fuzzer log"; }
runs=$(awk '{print $2}' <<<"$done_line")
took=$(awk '{print $5}' <<<"$done_line")
rm -rf "$work"
echo "fuzz: resp_parser_fuzz ran $runs execs in $took s, no crash"
