#!/usr/bin/env bash
# Builds everything with ASan + UBSan and runs every test: unit tests,
# integration tests against real redis-server processes, and a short
# libFuzzer run of the RESP3 parser. Installs whatever is missing first.
# Env: FUZZ_SECONDS (default 60), CTEST_PARALLEL (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
start=$(date +%s)
cmake --preset asan >/dev/null
cmake --build --preset asan
bash scripts/fuzz-smoke.sh "${FUZZ_SECONDS:-60}"
ctest --preset asan -j "${CTEST_PARALLEL:-2}" --timeout 600
echo "test.sh: done in $(( $(date +%s) - start )) s"
