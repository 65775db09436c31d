#!/usr/bin/env bash
# The change feed against Redis's own fan-out, in the same run, with the
# same subscriber count and payload (bench/feed_bench.cpp):
#   rcache   N WebSocket subscribers of `rcache serve` (GET /v1/feed), fed by
#            writers PUTting keys through the gateway at a fixed rate; each
#            value is its send time, so subscribers measure delivery latency;
#   redis    N plain SUBSCRIBE connections to redis-server, fed by PUBLISH
#            at the same rate (Redis pub/sub's own fan-out).
# Two scenarios: `shared` (all N watch one prefix / one channel) and
# `disjoint` (subscriber i watches key i / channel i). Also the gateway's
# RSS growth per idle connection, and the changes a subscriber lost across
# a disconnect when it resumes with its positions.
# And the matching micro-benchmark (bench/matcher_bench.cpp): ns per change
# with 100,000 subscriptions held, indexed and by a linear scan.
# Prints a table and, as its last line, one JSON object with fanout_ratio
# (rcache delivered msg/s over Redis pub/sub's, shared scenario),
# fanout_ratio_disjoint, p99_delivery_ms (shared), rss_kb_per_idle_connection
# and resume_lost.
#
# Usage: bench/feed_benchmark.sh [build-dir]   (default build/release)
# Env: SUBSCRIBERS (10000), SHARED_RATE (writes/s, 5), DISJOINT_RATE (2000),
#      SECONDS_PER_RUN (10), SERVER_CPU (0), GATEWAY_CPU (1), CLIENT_CPU (1).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bench_bin=$build/bench/rcache_feed_bench
matcher_bin=$build/bench/rcache_matcher_bench
rcache_bin=$build/apps/rcache/rcache
if [[ ! -x $bench_bin || ! -x $matcher_bin || ! -x $rcache_bin ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_feed_bench rcache_matcher_bench rcache_app
fi
subscribers=${SUBSCRIBERS:-10000}
shared_rate=${SHARED_RATE:-5}
disjoint_rate=${DISJOINT_RATE:-2000}
seconds=${SECONDS_PER_RUN:-10}
server_cpu=${SERVER_CPU:-0}
gateway_cpu=${GATEWAY_CPU:-1}
client_cpu=${CLIENT_CPU:-1}
# Every subscriber is a descriptor, here and in the gateway.
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < subscribers + 1000)); then
  echo "the open-file limit ($(ulimit -n)) is too low for $subscribers subscribers" >&2
  exit 1
fi

source bench/lib.sh
REDIS_EXTRA_ARGS="--maxclients $((subscribers + 1000))"
start_redis "$server_cpu"
url="redis://127.0.0.1:$port"
gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c "$gateway_cpu" "$rcache_bin" serve --redis-url "$url" --listen "127.0.0.1:$gport" \
  --threads 1 --no-access-log --set "server.max_connections=$((subscribers + 1000))" \
  --set "feed.max_connections=$((subscribers + 100))" >"$workdir/gateway.log" 2>&1 &
gateway_pid=$!
trap 'kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true;
      kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 1 200); do
  curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null && break
  sleep 0.05
done
client=(taskset -c "$client_cpu" "$bench_bin" -n "$subscribers" --seconds "$seconds")

feed_shared=$("${client[@]}" --mode feed --scenario shared --rate "$shared_rate" \
  --gateway-port "$gport" --gateway-pid "$gateway_pid" --resume)
redis_shared=$("${client[@]}" --mode pubsub --scenario shared --rate "$shared_rate" \
  --redis-port "$port")
feed_disjoint=$("${client[@]}" --mode feed --scenario disjoint --rate "$disjoint_rate" \
  --gateway-port "$gport" --gateway-pid "$gateway_pid")
redis_disjoint=$("${client[@]}" --mode pubsub --scenario disjoint --rate "$disjoint_rate" \
  --redis-port "$port")

matcher=$(taskset -c "$client_cpu" "$matcher_bin" --benchmark_filter='/100000$' \
  --benchmark_format=json 2>/dev/null)

python3 - "$feed_shared" "$redis_shared" "$feed_disjoint" "$redis_disjoint" "$subscribers" \
  "$shared_rate" "$disjoint_rate" "$server_cpu" "$gateway_cpu" "$client_cpu" "$matcher" <<'PY'
import json, sys
fs, rs, fd, rd = (json.loads(a) for a in sys.argv[1:5])
ns = {b["name"]: b["real_time"] for b in json.loads(sys.argv[11])["benchmarks"]}
def ratio(a, b):
    return round(a["msgs_per_sec"] / b["msgs_per_sec"], 2) if b["msgs_per_sec"] else None
out = {
    "subscribers": int(sys.argv[5]),
    "shared_rate": float(sys.argv[6]), "disjoint_rate": float(sys.argv[7]),
    "rcache_shared_msgs_per_sec": round(fs["msgs_per_sec"]),
    "redis_shared_msgs_per_sec": round(rs["msgs_per_sec"]),
    "fanout_ratio": ratio(fs, rs),
    "rcache_shared_delivered": fs["delivered"], "rcache_shared_expected": fs["expected"],
    "redis_shared_delivered": rs["delivered"], "redis_shared_expected": rs["expected"],
    "p50_delivery_ms": fs["p50_ms"], "p99_delivery_ms": fs["p99_ms"],
    "redis_p50_delivery_ms": rs["p50_ms"], "redis_p99_delivery_ms": rs["p99_ms"],
    "rcache_disjoint_msgs_per_sec": round(fd["msgs_per_sec"]),
    "redis_disjoint_msgs_per_sec": round(rd["msgs_per_sec"]),
    "fanout_ratio_disjoint": ratio(fd, rd),
    "rcache_disjoint_delivered": fd["delivered"], "rcache_disjoint_expected": fd["expected"],
    "p99_delivery_ms_disjoint": fd["p99_ms"], "redis_p99_delivery_ms_disjoint": rd["p99_ms"],
    "rss_kb_per_idle_connection": round(fs["rss_kb_per_idle_connection"], 2),
    "resume_lost": fs.get("resume_lost", -1),
    "match_ns_exact_100k": round(ns["BM_match_exact/100000"], 1),
    "match_ns_prefix_100k": round(ns["BM_match_prefix/100000"], 1),
    "match_ns_mixed_100k": round(ns["BM_match_mixed/100000"], 1),
    "scan_ns_prefix_100k": round(ns["BM_scan_prefix/100000"], 1),
    "server_cpu": int(sys.argv[8]), "gateway_cpu": int(sys.argv[9]), "client_cpu": int(sys.argv[10]),
}
print(f"{'':34}{'rcache':>12}{'redis pub/sub':>15}{'ratio':>8}")
print(f"{'shared: delivered msg/s':34}{out['rcache_shared_msgs_per_sec']:>12}{out['redis_shared_msgs_per_sec']:>15}{str(out['fanout_ratio']):>8}")
print(f"{'shared: p50 / p99 delivery (ms)':34}{fs['p50_ms']:>6.1f}/{fs['p99_ms']:<5.1f}{rs['p50_ms']:>9.1f}/{rs['p99_ms']:<5.1f}")
print(f"{'disjoint: delivered msg/s':34}{out['rcache_disjoint_msgs_per_sec']:>12}{out['redis_disjoint_msgs_per_sec']:>15}{str(out['fanout_ratio_disjoint']):>8}")
print(f"{'RSS per idle connection (KB)':34}{out['rss_kb_per_idle_connection']:>12}")
print(f"{'resume: changes lost':34}{out['resume_lost']:>12}")
print(f"{'match, 100k subscriptions (ns)':34}{out['match_ns_mixed_100k']:>12}{out['scan_ns_prefix_100k']:>15}  (indexed / linear scan)")
print(json.dumps(out))
PY
