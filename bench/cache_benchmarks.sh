#!/usr/bin/env bash
# Cache-core benchmarks, run together. The last line is one JSON object with
# every figure, including:
#   l1_vs_map_1t_ratio, l1_vs_map_2t_ratio  near-cache hit throughput over a
#       std::unordered_map + std::mutex of the same size (Google Benchmark;
#       1 and 2 threads)
#   l1_hit_ratio, lru_hit_ratio             zipf(0.99) trace, equal capacity
#   l1_on_off_ratio                         rcache::cache get throughput on a
#       hot key set (100 keys) with the near cache on over off, same
#       redis-server, one caller issuing gets back to back (a request handler);
#       l1_on_off_ratio_50_callers: the same with 50 concurrent callers, where
#       automatic pipelining already hides most of the round trips
#   compression_saving                      1 - MEMORY USAGE(zstd) / MEMORY
#       USAGE(plain) over a generated JSON corpus
#
# Usage: bench/cache_benchmarks.sh [build-dir]   (default build/release)
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 1; the cache bench process),
#      SECONDS_PER_RUN (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
if [[ ! -x $build/bench/rcache_cache_bench || ! -x $build/bench/rcache_near_cache_bench ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_cache_bench rcache_near_cache_bench rcache_hit_ratio
fi
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-1}
secs=${SECONDS_PER_RUN:-3}

source bench/lib.sh
start_redis "$server_cpu"

echo "== near cache vs std::unordered_map + std::mutex (Google Benchmark)" >&2
"$build/bench/rcache_near_cache_bench" --benchmark_filter='hit' --benchmark_min_time=1 \
  --benchmark_format=json >"$workdir/l1.json" 2>/dev/null
echo "== hit ratio, zipf(0.99)" >&2
"$build/bench/rcache_hit_ratio" >"$workdir/hit.json"
echo "== rcache::cache get, near cache on / off, 1 and 50 callers" >&2
url="redis://127.0.0.1:$port"
for callers in 1 50; do
  for mode in on off; do
    redis-cli -p "$port" flushall >/dev/null
    taskset -c "$client_cpu" "$build/bench/rcache_cache_bench" --url "$url" --mode l1 \
      --near-cache "$mode" --callers "$callers" --seconds "$secs" >"$workdir/$mode-$callers.json"
  done
done
echo "== compression, MEMORY USAGE" >&2
redis-cli -p "$port" flushall >/dev/null
"$build/bench/rcache_cache_bench" --url "$url" --mode compression >"$workdir/zstd.json"

python3 - "$workdir" <<'PY'
import json, sys, os
w = sys.argv[1]
l1 = json.load(open(os.path.join(w, "l1.json")))
rate = {}
for b in l1["benchmarks"]:
    name = b["name"]  # e.g. near_cache_hit/real_time/threads:2
    threads = 2 if "threads:2" in name else 1
    kind = "l1" if name.startswith("near_cache_hit") else "map" if name.startswith("locked_map_hit") else None
    if kind:
        rate[(kind, threads)] = b["items_per_second"]
hit = json.load(open(os.path.join(w, "hit.json")))
ops = {(m, c): json.load(open(os.path.join(w, f"{m}-{c}.json")))["ops_per_sec"]
       for m in ("on", "off") for c in (1, 50)}
z = json.load(open(os.path.join(w, "zstd.json")))
out = {
    "l1_vs_map_1t_ratio": round(rate[("l1", 1)] / rate[("map", 1)], 3),
    "l1_vs_map_2t_ratio": round(rate[("l1", 2)] / rate[("map", 2)], 3),
    "l1_hits_per_sec_1t": round(rate[("l1", 1)]), "map_hits_per_sec_1t": round(rate[("map", 1)]),
    "l1_hits_per_sec_2t": round(rate[("l1", 2)]), "map_hits_per_sec_2t": round(rate[("map", 2)]),
    "l1_hit_ratio": hit["l1_hit_ratio"], "lru_hit_ratio": hit["lru_hit_ratio"],
    "l1_on_ops_per_sec": ops[("on", 1)], "l1_off_ops_per_sec": ops[("off", 1)],
    "l1_on_off_ratio": round(ops[("on", 1)] / ops[("off", 1)], 2),
    "l1_on_ops_per_sec_50_callers": ops[("on", 50)], "l1_off_ops_per_sec_50_callers": ops[("off", 50)],
    "l1_on_off_ratio_50_callers": round(ops[("on", 50)] / ops[("off", 50)], 2),
    "compression_saving": z["compression_saving"],
    "plain_memory_usage": z["plain_memory_usage"], "compressed_memory_usage": z["compressed_memory_usage"],
}
print(f"{'figure':<44}{'value':>14}")
for k in ("l1_vs_map_1t_ratio", "l1_vs_map_2t_ratio", "l1_hit_ratio", "lru_hit_ratio",
          "l1_on_off_ratio", "l1_on_off_ratio_50_callers", "compression_saving"):
    print(f"{k:<44}{out[k]:>14}")
print(json.dumps(out))
PY
