#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets with the `fuzz` preset
# (clang-14, ASan + UBSan) and runs each for its share of a fixed time from
# its seed corpus: resp_parser_fuzz (fuzz/corpus/resp, with RESP tokens from
# fuzz/resp.dict), value_codec_fuzz (fuzz/corpus/codec), http_request_fuzz
# (fuzz/corpus/http, with HTTP and API tokens from fuzz/http.dict; inputs up
# to 256 KiB, past every head and trailer limit it runs with),
# api_body_fuzz (fuzz/corpus/api_body, JSON tokens from fuzz/api_body.dict)
# and feed_message_fuzz (fuzz/corpus/feed_message, the change feed's client
# messages, with their members from fuzz/feed_message.dict).
#
# Exits non-zero on any crash, sanitizer report, leak, OOM or timeout; then
# the work directory (log, reproducer artifacts, evolved corpus) is kept and
# its path printed. On success it prints one line:
#   fuzz: <target> ran N execs in S s, no crash
#
# Usage: scripts/fuzz-smoke.sh [seconds]     (default 60, shared by the targets)
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
if ! cmake --build --preset fuzz --target resp_parser_fuzz value_codec_fuzz http_request_fuzz \
  api_body_fuzz feed_message_fuzz \
  --parallel "${RCACHE_BUILD_JOBS:-1}" \
  >"$work/build.log" 2>&1; then
  tail -n 30 "$work/build.log" >&2
  fail "build (cmake --build --preset fuzz)"
fi
# run_target NAME CORPUS_DIR SECONDS [DICT [MAX_LEN]]
run_target() {
  local name=$1 corpus=$2 secs=$3 dict=${4:-} max_len=${5:-}
  local fuzzer="$root/build/fuzz/fuzz/$name"
  [[ -x $fuzzer ]] || fail "no fuzzer binary at $fuzzer"
  local dir="$work/$name"
  mkdir -p "$dir/corpus"
  cp "$corpus"/* "$dir/corpus/"
  local extra=()
  [[ -z $dict ]] || extra+=("-dict=$dict")
  # A max_len also lifts libFuzzer's slow growth of input lengths: large
  # inputs are tried from the start (-len_control=0).
  [[ -z $max_len ]] || extra+=("-max_len=$max_len" "-len_control=0")
  set +e
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
    UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
    "$fuzzer" "$dir/corpus" \
    -max_total_time="$secs" -rss_limit_mb=512 -malloc_limit_mb=64 -timeout=5 \
    -detect_leaks=1 -print_final_stats=1 "${extra[@]}" \
    -artifact_prefix="$dir/" >"$dir/fuzz.log" 2>&1
  local rc=$?
  set -e
  local artifacts
  artifacts=$(find "$dir" -maxdepth 1 -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' -o -name 'timeout-*' \))
  if ((rc != 0)) || [[ -n $artifacts ]]; then
    tail -n 60 "$dir/fuzz.log" >&2
    [[ -z $artifacts ]] || echo "fuzz: reproducers: $artifacts" >&2
    fail "$name exited with $rc"
  fi
  # libFuzzer ends with "Done <runs> runs in <seconds> second(s)".
  local done_line
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$dir/fuzz.log" | tail -n 1 || true)
  [[ -n $done_line ]] || { tail -n 20 "$dir/fuzz.log" >&2; fail "no final stats in the $name log"; }
  echo "fuzz: $name ran $(awk '{print $2}' <<<"$done_line") execs in $(awk '{print $5}' <<<"$done_line") s, no crash"
}

share=$(( (seconds + 4) / 5 ))
run_target resp_parser_fuzz "$root/fuzz/corpus/resp" "$share" "$root/fuzz/resp.dict"
run_target value_codec_fuzz "$root/fuzz/corpus/codec" "$share"
run_target http_request_fuzz "$root/fuzz/corpus/http" "$share" "$root/fuzz/http.dict" 262144
run_target api_body_fuzz "$root/fuzz/corpus/api_body" "$share" "$root/fuzz/api_body.dict"
run_target feed_message_fuzz "$root/fuzz/corpus/feed_message" "$share" "$root/fuzz/feed_message.dict"
rm -rf "$work"
