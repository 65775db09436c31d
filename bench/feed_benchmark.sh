#!/usr/bin/env bash
# The change feed against Redis's own fan-out, in the same run, with the
# same subscriber count and payload (bench/feed_bench.cpp):
#   rcache   N WebSocket subscribers of `rcache serve` (GET /v1/feed), fed by
#            writers PUTting keys through the gateway at a fixed rate; each
#            value is its send time, so subscribers measure delivery latency;
#   redis    N plain SUBSCRIBE connections to redis-server, fed by PUBLISH
#            at the same rate (Redis pub/sub's own fan-out).
# The fan-out gets one core and the subscribers the other: redis-server and
# the gateway (one I/O thread) on SERVER_CPU / GATEWAY_CPU, the benchmark's
# subscribers and writers on CLIENT_CPU.
# Scenarios: `shared` (all N watch one prefix / one channel: each write
# reaches all of them), run twice, at SHARED_RATE (writes/s both sides keep
# up with: delivery latency, and CPU time of the fan-out per delivered
# message) and at SATURATION_RATE (more than either can deliver: the
# messages per second each delivers at most); `disjoint` (subscriber i
# watches key i / channel i: each write reaches one). Also the gateway's RSS
# growth per idle connection, and the changes a subscriber lost across a
# disconnect when it resumes with its positions. The shared runs are
# repeated (REPEAT, alternating rcache and Redis): one run's figures on a
# shared VM vary by a fifth, and the medians of the ratios are reported,
# with their lowest and highest.
# And the matching micro-benchmark (bench/matcher_bench.cpp): ns per change
# with 100,000 subscriptions held, indexed and by a linear scan.
# Prints a table and, as its last line, one JSON object with fanout_ratio
# (rcache delivered msg/s over Redis pub/sub's, shared, saturated),
# cpu_ratio (rcache's CPU per delivered message over Redis's, shared, at
# SHARED_RATE), p99_delivery_ms (shared, at SHARED_RATE; with
# redis_p99_delivery_ms beside it), fanout_ratio_disjoint,
# rss_kb_per_idle_connection and resume_lost.
#
# Usage: bench/feed_benchmark.sh [build-dir]   (default build/release)
# Env: SUBSCRIBERS (10000), SHARED_RATE (writes/s, 2), SATURATION_RATE (20),
#      DISJOINT_RATE (2000), SECONDS_PER_RUN (10), REPEAT (3), SERVER_CPU (0),
#      GATEWAY_CPU (0), CLIENT_CPU (1).
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
shared_rate=${SHARED_RATE:-2}
saturation_rate=${SATURATION_RATE:-20}
disjoint_rate=${DISJOINT_RATE:-2000}
seconds=${SECONDS_PER_RUN:-10}
repeat=${REPEAT:-3}
server_cpu=${SERVER_CPU:-0}
gateway_cpu=${GATEWAY_CPU:-0}
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
start_gateway "$gateway_cpu" "$rcache_bin" "$url" \
  --set "server.max_connections=$((subscribers + 1000))" \
  --set "feed.max_connections=$((subscribers + 100))"
client=(taskset -c "$client_cpu" "$bench_bin" -n "$subscribers" --seconds "$seconds")

feed=(--mode feed --gateway-port "$gport" --gateway-pid "$gateway_pid"
  --cpu-pid "$gateway_pid" --cpu-pid "$server_pid")
pubsub=(--mode pubsub --redis-port "$port" --cpu-pid "$server_pid")
# Each repetition: "<rcache shared> <redis shared> <rcache saturated> <redis saturated>".
runs=()
for i in $(seq 1 "$repeat"); do
  resume=()
  ((i > 1)) || resume=(--resume)
  runs+=("$("${client[@]}" "${feed[@]}" --scenario shared --rate "$shared_rate" "${resume[@]}")")
  runs+=("$("${client[@]}" "${pubsub[@]}" --scenario shared --rate "$shared_rate")")
  runs+=("$("${client[@]}" "${feed[@]}" --scenario shared --rate "$saturation_rate")")
  runs+=("$("${client[@]}" "${pubsub[@]}" --scenario shared --rate "$saturation_rate")")
done
feed_disjoint=$("${client[@]}" "${feed[@]}" --scenario disjoint --rate "$disjoint_rate")
redis_disjoint=$("${client[@]}" "${pubsub[@]}" --scenario disjoint --rate "$disjoint_rate")

matcher=$(taskset -c "$client_cpu" "$matcher_bin" --benchmark_filter='/100000$' \
  --benchmark_format=json 2>/dev/null)

python3 - "$feed_disjoint" "$redis_disjoint" "$subscribers" "$shared_rate" "$saturation_rate" \
  "$disjoint_rate" "$server_cpu" "$gateway_cpu" "$client_cpu" "$matcher" "${runs[@]}" <<'PY'
import json, statistics, sys
fd, rd = (json.loads(a) for a in sys.argv[1:3])
ns = {b["name"]: b["real_time"] for b in json.loads(sys.argv[10])["benchmarks"]}
runs = [json.loads(a) for a in sys.argv[11:]]
reps = [runs[i:i + 4] for i in range(0, len(runs), 4)]  # fs, rs, fx, rx
def ratio(a, b, key="msgs_per_sec"):
    return a[key] / b[key] if b.get(key) else float("nan")
def med(values):
    return round(statistics.median(values), 2)
def spread(values):
    return [round(min(values), 2), round(max(values), 2)]
fanout = [ratio(fx, rx) for _, _, fx, rx in reps]
cpu = [ratio(fs, rs, "cpu_us_per_msg") for fs, rs, _, _ in reps]
col = lambda i, key: [r[i][key] for r in reps]
fs = reps[0][0]
out = {
    "subscribers": int(sys.argv[3]), "shared_rate": float(sys.argv[4]),
    "saturation_rate": float(sys.argv[5]), "disjoint_rate": float(sys.argv[6]),
    "repeat": len(reps),
    "fanout_ratio": med(fanout), "fanout_ratio_range": spread(fanout),
    "rcache_saturated_msgs_per_sec": round(statistics.median(col(2, "msgs_per_sec"))),
    "redis_saturated_msgs_per_sec": round(statistics.median(col(3, "msgs_per_sec"))),
    "rcache_saturated_cpu_share": med(col(2, "cpu_share")),
    "redis_saturated_cpu_share": med(col(3, "cpu_share")),
    "cpu_ratio": med(cpu), "cpu_ratio_range": spread(cpu),
    "rcache_cpu_us_per_msg": med(col(0, "cpu_us_per_msg")),
    "redis_cpu_us_per_msg": med(col(1, "cpu_us_per_msg")),
    "rcache_shared_delivered": sum(col(0, "delivered")),
    "rcache_shared_expected": sum(col(0, "expected")),
    "redis_shared_delivered": sum(col(1, "delivered")),
    "redis_shared_expected": sum(col(1, "expected")),
    "p50_delivery_ms": med(col(0, "p50_ms")), "p99_delivery_ms": med(col(0, "p99_ms")),
    "redis_p50_delivery_ms": med(col(1, "p50_ms")), "redis_p99_delivery_ms": med(col(1, "p99_ms")),
    "rcache_disjoint_msgs_per_sec": round(fd["msgs_per_sec"]),
    "redis_disjoint_msgs_per_sec": round(rd["msgs_per_sec"]),
    "fanout_ratio_disjoint": round(ratio(fd, rd), 2),
    "rcache_disjoint_delivered": fd["delivered"], "rcache_disjoint_expected": fd["expected"],
    "p99_delivery_ms_disjoint": fd["p99_ms"], "redis_p99_delivery_ms_disjoint": rd["p99_ms"],
    "rss_kb_per_idle_connection": round(fs["rss_kb_per_idle_connection"], 2),
    "resume_lost": fs.get("resume_lost", -1),
    "match_ns_exact_100k": round(ns["BM_match_exact/100000"], 1),
    "match_ns_prefix_100k": round(ns["BM_match_prefix/100000"], 1),
    "match_ns_mixed_100k": round(ns["BM_match_mixed/100000"], 1),
    "scan_ns_prefix_100k": round(ns["BM_scan_prefix/100000"], 1),
    "server_cpu": int(sys.argv[7]), "gateway_cpu": int(sys.argv[8]),
    "client_cpu": int(sys.argv[9]),
}
row = lambda name, a, b, r="": print(f"{name:42}{a:>12}{b:>15}  {r}")
rate = f"{out['shared_rate']:g}/s"
row(f"(medians of {len(reps)} runs)", "rcache", "redis pub/sub", "ratio [lowest, highest]")
row("shared, saturated: delivered msg/s", out["rcache_saturated_msgs_per_sec"],
    out["redis_saturated_msgs_per_sec"], f"{out['fanout_ratio']} {out['fanout_ratio_range']}")
row("shared, saturated: CPU share", out["rcache_saturated_cpu_share"],
    out["redis_saturated_cpu_share"])
row(f"shared, {rate}: CPU us per message", out["rcache_cpu_us_per_msg"],
    out["redis_cpu_us_per_msg"], f"{out['cpu_ratio']} {out['cpu_ratio_range']}")
row(f"shared, {rate}: p50 / p99 (ms)",
    f"{out['p50_delivery_ms']:.1f}/{out['p99_delivery_ms']:.1f}",
    f"{out['redis_p50_delivery_ms']:.1f}/{out['redis_p99_delivery_ms']:.1f}")
row(f"shared, {rate}: delivered / expected",
    f"{out['rcache_shared_delivered']}/{out['rcache_shared_expected']}",
    f"{out['redis_shared_delivered']}/{out['redis_shared_expected']}")
row("disjoint: delivered msg/s", out["rcache_disjoint_msgs_per_sec"],
    out["redis_disjoint_msgs_per_sec"], str(out["fanout_ratio_disjoint"]))
row("RSS per idle connection (KB)", out["rss_kb_per_idle_connection"], "")
row("resume: changes lost", out["resume_lost"], "")
row("match, 100k subscriptions (ns)", out["match_ns_mixed_100k"], out["scan_ns_prefix_100k"],
    "(indexed / linear scan)")
print(json.dumps(out))
PY
