#!/usr/bin/env bash
# Cached geo searches against the same searches without the cache, in the
# same run, while 1% of the points move every second (bench/geo_bench.cpp
# says how the city, the viewports and the checks are made): 1,000,000
# points, 1,000 viewports asked with a zipf distribution, 32 callers on one
# connection; redis-server on SERVER_CPU, the benchmark on CLIENT_CPU.
# Prints a table, and as its last line one JSON object with
# cached_over_uncached (throughput ratio), hit_ratio, stale_answers (of
# stale_checked sampled answers compared with a fresh GEOSEARCH while no
# move was in flight) and tag_invalidate_us.
#
# Usage: bench/geo_benchmark.sh [build-dir]   (default build/release)
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 1), POINTS (default
#      1000000), PHASE_SECONDS (default 10), CALLERS (default 32),
#      MOVE_RATE (default 0.01).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bench_bin=$build/bench/rcache_geo_bench
if [[ ! -x $bench_bin ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_geo_bench
fi
source bench/lib.sh
start_redis "${SERVER_CPU:-0}"
result=$(taskset -c "${CLIENT_CPU:-1}" "$bench_bin" --url "redis://127.0.0.1:$port" \
  --points "${POINTS:-1000000}" --seconds "${PHASE_SECONDS:-10}" --callers "${CALLERS:-32}" \
  --move-rate "${MOVE_RATE:-0.01}")
python3 - "$result" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
print(f"points {d['points']:,}, viewports {d['viewports']}, {d['callers']} callers, "
      f"{d['seconds']:.0f} s per phase (load {d['load_s']:.1f} s)")
print(f"  cached searches/s    {d['cached_qps']:>10,.0f}   hit ratio {d['hit_ratio']:.3f}   "
      f"moves/s {d['moves_per_second_cached']:,.0f}")
print(f"  uncached searches/s  {d['uncached_qps']:>10,.0f}   "
      f"moves/s {d['moves_per_second_uncached']:,.0f}")
print(f"  cached / uncached    {d['cached_over_uncached']:>10.2f}")
print(f"  stale answers        {d['stale_answers']} of {d['stale_checked']} checked")
print(f"  one tag invalidation {d['tag_invalidate_us']:.1f} us")
PY
echo "$result"
