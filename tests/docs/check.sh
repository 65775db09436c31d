#!/usr/bin/env bash
# Every C++ example in README.md and docs/*.md, built against the installed
# package and, for whole programs, run against a redis-server of its own
# (tests/docs/doc_examples.py says how blocks are chosen).
# $1: the rcache build tree; $2: extra compiler/linker flags (sanitizers).
set -euo pipefail
build=$1
flags=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
redis_pid=""
cleanup() {
  if [[ -n $redis_pid ]]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# A private redis-server on a unix socket (no TCP port at all).
redis-server --port 0 --unixsocket "$work/redis.sock" --dir "$work" --save '' \
  --appendonly no --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 200); do
  [[ -S $work/redis.sock ]] && redis-cli -s "$work/redis.sock" ping >/dev/null 2>&1 && break
  sleep 0.05  # between polls of the condition above
done
redis-cli -s "$work/redis.sock" ping >/dev/null

cmake --install "$build" --prefix "$work/prefix" >/dev/null
python3 "$here/doc_examples.py" "$work/src" "unix://$work/redis.sock" \
  "$root/README.md" "$root"/docs/*.md
cmake -S "$work/src" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/build"
while read -r program; do
  echo "doc-test: running $program"
  timeout 60 "$work/build/$program"
done <"$work/src/programs.txt"
echo "doc-test: every example compiles; every program ran"
