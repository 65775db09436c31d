#!/usr/bin/env bash
# The HTTP gateway (`rcache serve`) against redis-benchmark and webdis on the
# same redis-server, in the same run. KEYS keys with 100-byte values are
# loaded straight into Redis ("bench:key:000000000000".., i.e. namespace
# "bench", key "key:<12 digits>", the same names redis-benchmark's
# __rand_int__ makes), then:
#   (3) redis-benchmark -c 50 -P 1 GET bench:key:__rand_int__ (-r KEYS)
#   (1) gateway, near cache off: IDLE_CONNECTIONS keep-alive connections
#       that have each had one answer, and the resident memory they hold
#       (in the fresh process); then warm-up, wrk -t2 at 50, 200, 1,000 and
#       4,000 connections
#   (2) gateway restarted with the near cache on: warm-up (every key read, so
#       it is in the near cache), wrk -t2 at 50 and 200 connections
#   (4) webdis (the reference HTTP gateway to Redis), when installed (Debian
#       package webdis): its own loopback port and config in the temp dir,
#       GATEWAY_THREADS threads, the same Redis, the same wrk runs as (1)
#       against GET /GET/bench:key:<12 digits>.txt (the raw value as
#       text/plain, as rcache answers it), idle connections first
#   (5) the split layout (two CPUs): redis-server and the server under test
#       with one thread on CPU 1, wrk -t1 -c50 on CPU 0; the gateway with the
#       near cache off and on, and webdis
#   (6) heap allocations per request, counted by rcache_gateway_alloc_bench
#       (the gateway in a process of its own with a counting malloc; 50
#       connections), near cache off and on
# wrk: keep-alive, GET of random existing keys (a Lua script picks the path
# per request from a prebuilt table), --latency for p50/p99.
# Prints a summary, and as its last line one JSON object with every figure:
#   l1_off_ratio, l1_on_ratio   gateway req/s at 50 connections (near cache
#       off / on) over redis-benchmark's GET ops/s at 50 clients
#   p99_ms_c200                 gateway p99 at 200 connections, near cache off
#       (target: < 5 ms); p99_ms_c50, and *_l1_on for the near cache on
#   cpu_us_*                    CPU time per request (user + system, from
#       /proc/<pid>/stat for the servers, getrusage of the load generators)
#       of every process in each measured run: cpu_us_rb_redis and
#       cpu_us_rb_client for redis-benchmark's run; cpu_us_<off|on>_c<N>_
#       gateway_user, _gateway_sys, _redis and _wrk for the gateway's runs
#       (cpu_us_off_c50_gateway_user: target <= 2.5, cpu_us_on_c50_gateway_user
#       <= 1.6); cpu_us_split_<off|on>_* for the split layout.
#   webdis_c<N>_rps, webdis_p99_ms_c<N>, and vs_webdis_l1_off_ratio,
#       vs_webdis_l1_on_ratio   gateway req/s at 50 connections over
#       webdis's (targets >= 1.25 and >= 1.7); vs_webdis_c1000_ratio,
#       vs_webdis_c4000_ratio (near cache off; targets >= 1.1), p99_ms_c4000
#       (target <= webdis_p99_ms_c4000); null without webdis
#   rss_kb_per_connection, webdis_rss_kb_per_connection   resident memory
#       growth over the idle connections, per connection (target <= 4)
#   split_l1_off_rps, split_l1_on_rps, split_webdis_rps,
#       p99_ms_c50_split_l1_off, p99_ms_c50_split_l1_on   the split layout
#       (targets: on p99 <= off p99; off >= 1.5x and on >= 2.0x webdis)
#   allocs_per_request_l1_off, allocs_per_request_l1_on   (targets <= 10, <= 4)
#   target_*_met                whether each target above holds
#   l1_on_ratio_bound           (cpu_us_rb_redis + cpu_us_rb_client) over
#       (cpu_us_on_c50_gateway_sys + cpu_us_on_c50_wrk): the l1_on_ratio of a
#       gateway whose own user-space work cost nothing, both sides keeping
#       the cores equally busy.
#   l1_off_ratio_bound          the same for the near cache off: over
#       (cpu_us_off_c50_gateway_sys + cpu_us_off_c50_redis + cpu_us_off_c50_wrk)
#
# Usage: bench/gateway_vs_redis_benchmark.sh [build-dir]   (default build/release)
# Env: RUNS (default 1: with 3, the script runs three times and its last line
#      holds the medians), DURATION (seconds per measured run, default 10),
#      WARMUP (seconds, default 2), KEYS (default 10000), GATEWAY_THREADS
#      (default 2), IDLE_CONNECTIONS (default 2000), GATEWAY_CONNECTIONS
#      (shared or per_thread: the gateway's redis.connections; default: the
#      gateway's default, shared), SKIP_BUILD=1 (use the existing binaries;
#      otherwise the release preset is configured and rcache_app and
#      rcache_gateway_alloc_bench built first), SERVER_CPU (default 0),
#      GATEWAY_CPUS and LOAD_CPUS (default: every CPU, "0-<nproc-1>").
# Pinning: redis-server on SERVER_CPU (CPU 0). The gateway and the load
# generators (wrk and redis-benchmark: always the same set, so the two sides
# differ only by the gateway hop) are left on every CPU by default. On the
# 2-core VM there is no layout with a core per process: redis-server, the
# gateway's threads and wrk's two threads all need CPU at once, and pinning
# the gateway to CPU 1 would leave wrk fighting redis-server on CPU 0 or the
# gateway on CPU 1; the scheduler does better. (5) is the layout where each
# side has a core. Override to try others, e.g. GATEWAY_CPUS=1 LOAD_CPUS=0.
# Needs: wrk (Debian package wrk), redis-server and redis-benchmark/redis-cli
# (redis-server, redis-tools; scripts/install-deps.sh installs all three),
# curl, python3, taskset (util-linux), timeout (coreutils); webdis optional
# (not installed by scripts/install-deps.sh: the Debian package also
# enables a system service of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bin=$build/apps/rcache/rcache

missing=0
need() { # $1=command $2=Debian package
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "missing $1: install the Debian package $2 (scripts/install-deps.sh installs wrk and redis-tools)" >&2
    missing=1
  fi
}
need wrk wrk
need redis-benchmark redis-tools
need redis-cli redis-tools
need redis-server redis-server
need curl curl
need python3 python3
need taskset util-linux
need timeout coreutils
((missing == 0)) || exit 1

duration=${DURATION:-10}
idle_connections=${IDLE_CONNECTIONS:-2000}
alloc_bin=$build/bench/rcache_gateway_alloc_bench
# 4,000 connections need as many descriptors in wrk, the gateway and webdis.
ulimit -n "$(ulimit -Hn)"
warmup=${WARMUP:-2}
keys=${KEYS:-10000}
gateway_threads=${GATEWAY_THREADS:-2}
gateway_connections=${GATEWAY_CONNECTIONS:-shared}
if [[ $gateway_connections != shared && $gateway_connections != per_thread ]]; then
  echo "GATEWAY_CONNECTIONS must be shared or per_thread (got '$gateway_connections')" >&2
  exit 1
fi
server_cpu=${SERVER_CPU:-0}
all_cpus="0-$(($(nproc) - 1))"
gateway_cpus=${GATEWAY_CPUS:-$all_cpus}
load_cpus=${LOAD_CPUS:-$all_cpus}
for v in duration warmup keys gateway_threads idle_connections; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "${v^^} must be a positive integer (got '${!v}')" >&2
    exit 1
  fi
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  if [[ $build == build/release ]]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target rcache_app rcache_gateway_alloc_bench
  else
    cmake --build "$build" --target rcache_app rcache_gateway_alloc_bench
  fi
fi
if [[ ! -x $bin ]]; then
  echo "no gateway binary at $bin (build the rcache_app target, or unset SKIP_BUILD)" >&2
  exit 1
fi
if ! "$bin" serve --help >/dev/null 2>&1; then
  echo "$bin has no working 'serve' subcommand" >&2
  exit 1
fi

# RUNS > 1: this script RUNS times, one after the other, and the median of
# each figure (a flag: what most runs said) as the last line.
runs=${RUNS:-1}
if ! [[ $runs =~ ^[1-9][0-9]*$ ]]; then
  echo "RUNS must be a positive integer (got '$runs')" >&2
  exit 1
fi
if ((runs > 1)); then
  lines=()
  for i in $(seq 1 "$runs"); do
    echo "=== run $i of $runs" >&2
    line=$(RUNS=1 SKIP_BUILD=1 bash "$0" "$build" | tee /dev/stderr | tail -n 1)
    lines+=("$line")
  done
  printf '%s\n' "${lines[@]}" | python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin if l.strip()]
out = {}
for k in runs[0]:
    vals = [r.get(k) for r in runs]
    if all(isinstance(v, bool) for v in vals):
        out[k] = sum(vals) * 2 > len(vals)
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        out[k] = statistics.median(vals)
    else:
        out[k] = vals[0]
out["runs"] = len(runs)
print(json.dumps(out))'
  exit 0
fi

source bench/lib.sh
start_redis "$server_cpu"

source bench/gateway_lib.sh
cleanup() {
  stop_gateway
  stop_webdis
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- data: KEYS keys, 100-byte values, loaded with redis-cli --pipe ----------
echo "== loading $keys keys (100-byte values) into redis-server on port $port" >&2
awk -v n="$keys" 'BEGIN {
  v = sprintf("%100s", ""); gsub(/ /, "v", v)
  for (i = 0; i < n; i++) {
    k = sprintf("bench:key:%012d", i)
    printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n", length(k), k, v
  }
}' | redis-cli -p "$port" --pipe >"$workdir/load.log"
loaded=$(redis-cli -p "$port" dbsize)
if ((loaded != keys)); then
  echo "expected $keys keys in Redis, found $loaded; redis-cli --pipe said:" >&2
  cat "$workdir/load.log" >&2
  exit 1
fi
write_lua "$workdir/get.lua" "/v1/ns/bench/keys/key:" ""
write_lua "$workdir/get-webdis.lua" "/GET/bench:key:" ".txt"
key0=$(printf %012d 0)

declare -A R=([l1_entries]="")
misses_before=$(keyspace_misses)

# --- (3) redis-benchmark, baseline ------------------------------------------
# A short calibration run (also the warm-up) sizes -n to about DURATION s.
# $1=requests -> "ops p50_ms p99_ms", then CPU µs per request: "redis client"
rb() {
  local out=$workdir/rb.csv ru0 rs0 ru1 rs1
  read -r ru0 rs0 < <(proc_cpu_us "$server_pid")
  local TIMEFORMAT='%3U %3S'
  { time timeout --foreground -k 5 $((duration * 5 + 60)) taskset -c "$load_cpus" \
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P 1 -n "$1" -r "$keys" --csv \
    GET 'bench:key:__rand_int__' >"$out" 2>/dev/null; } 2>"$out.time"
  read -r ru1 rs1 < <(proc_cpu_us "$server_pid")
  awk -F'","' -v n="$1" -v r=$((ru1 + rs1 - ru0 - rs0)) -v t="$(cat "$out.time")" '
    NR == 2 {
      split(t, c, " ")
      printf "%s %s %s %.2f %.2f\n", $2, $5, $7, r / n, (c[1] + c[2]) * 1e6 / n
    }' "$out"
}
echo "== redis-benchmark -c 50 -P 1 GET (calibration)" >&2
figs=$(rb 50000)
read -r cal_ops _ _ <<<"$figs"
[[ -n ${cal_ops:-} ]] || { echo "redis-benchmark gave no figures" >&2; exit 1; }
rb_n=$(awk -v r="$cal_ops" -v d="$duration" 'BEGIN { n = int(r * d); print (n < 50000 ? 50000 : n) }')
echo "== redis-benchmark -c 50 -P 1 -n $rb_n GET" >&2
figs=$(rb "$rb_n")
read -r "R[rb_ops]" "R[rb_p50]" "R[rb_p99]" "R[cpu_rb_redis]" "R[cpu_rb_client]" <<<"$figs"
[[ -n ${R[rb_ops]:-} ]] || { echo "redis-benchmark gave no figures" >&2; exit 1; }

# --- (1) gateway, near cache off ---------------------------------------------
# The memory an idle connection holds (first, in a fresh process: later runs
# leave freed memory that new connections would reuse), then 50 and 200
# connections, then many (1,000 and 4,000).
echo "== rcache serve, near cache off" >&2
start_gateway off "$gateway_threads" "$gateway_cpus"
check_get
echo "   $idle_connections idle connections" >&2
R[rss_kb_per_connection]=$(rss_kb_per_connection "$idle_connections" "/v1/ns/bench/keys/key:$key0")
figs=$(run_wrk off-warmup 50 "$warmup" 2 "$load_cpus")
for c in 50 200 1000 4000; do
  echo "   wrk -t2 -c$c -d${duration}s" >&2
  figs=$(run_wrk "off-c$c" "$c" "$duration" 2 "$load_cpus")
  keep_run "off_c$c" gateway_ "$figs"
done
stop_gateway

# --- (2) gateway, near cache on ----------------------------------------------
echo "== rcache serve, near cache on" >&2
start_gateway on "$gateway_threads" "$gateway_cpus"
check_get
# Warm-up walks every key in order (each thread from its own offset), so
# every key is read at least once and lands in the near cache; repeated (at
# most 5 times) while the rcache_near_cache_entries gauge shows fewer
# entries than keys.
warm_near_cache() { # $1=wrk threads $2=CPUs
  for round in 1 2 3 4 5; do
    figs=$(run_wrk "on-warmup-$round" 50 "$warmup" "$1" "$2" seq)
    R[l1_entries]=$(metric_sum rcache_near_cache_entries '')
    [[ -n ${R[l1_entries]} ]] || break # no such gauge: trust the walk
    ((R[l1_entries] >= keys)) && break
    echo "   the near cache holds ${R[l1_entries]} of $keys keys after warm-up round $round" >&2
  done
}
warm_near_cache 2 "$load_cpus"
for c in 50 200; do
  echo "   wrk -t2 -c$c -d${duration}s" >&2
  l1_before=$(metric_sum rcache_cache_hits_total 'tier="near"')
  all_before=$(metric_sum rcache_cache_hits_total '')
  figs=$(run_wrk "on-c$c" "$c" "$duration" 2 "$load_cpus")
  keep_run "on_c$c" gateway_ "$figs"
  l1_after=$(metric_sum rcache_cache_hits_total 'tier="near"')
  all_after=$(metric_sum rcache_cache_hits_total '')
  # Share of the run's hits answered by the near cache (empty if /metrics
  # has no such family).
  R[on_c${c}_l1_share]=""
  if [[ -n $l1_before && -n $l1_after && -n $all_before && -n $all_after ]]; then
    R[on_c${c}_l1_share]=$(awk -v a="$((l1_after - l1_before))" -v b="$((all_after - all_before))" \
      'BEGIN { if (b > 0) printf "%.4f", a / b }')
  fi
done
stop_gateway

# --- (4) webdis, the reference HTTP gateway, when installed -------------------
R[webdis]=""
if command -v webdis >/dev/null 2>&1; then
  echo "== webdis ($gateway_threads threads)" >&2
  start_webdis "$gateway_threads" "$gateway_cpus"
  R[webdis]=1
  echo "   $idle_connections idle connections" >&2
  R[webdis_rss_kb_per_connection]=$(rss_kb_per_connection "$idle_connections" \
    "/GET/bench:key:$key0.txt")
  figs=$(run_wrk webdis-warmup 50 "$warmup" 2 "$load_cpus")
  for c in 50 200 1000 4000; do
    echo "   wrk -t2 -c$c -d${duration}s" >&2
    figs=$(run_wrk "webdis-c$c" "$c" "$duration" 2 "$load_cpus")
    keep_run "webdis_c$c" "" "$figs"
  done
  stop_webdis
else
  echo "== webdis not installed (Debian package webdis): its figures are left out" >&2
fi

# --- (5) the split layout: each side on a core of its own --------------------
# redis-server and the server under test (one thread) on CPU 1, wrk (one
# thread) on CPU 0: on its own core the server's CPU per request is its
# throughput, and its tails are not four busy threads time-sliced on two
# cores. Needs two CPUs.
if (($(nproc) >= 2)); then
  taskset -pc 1 "$server_pid" >/dev/null
  echo "== split layout: redis-server and the server (1 thread) on CPU 1, wrk -t1 on CPU 0" >&2
  for near in off on; do
    start_gateway "$near" 1 1
    check_get
    if [[ $near == on ]]; then
      warm_near_cache 1 0
    else
      figs=$(run_wrk split-off-warmup 50 "$warmup" 1 0)
    fi
    echo "   rcache serve, near cache $near: wrk -t1 -c50 -d${duration}s" >&2
    figs=$(run_wrk "split-$near" 50 "$duration" 1 0)
    keep_run "split_$near" gateway_ "$figs"
    stop_gateway
  done
  if [[ -n ${R[webdis]} ]]; then
    start_webdis 1 1
    figs=$(run_wrk split-webdis-warmup 50 "$warmup" 1 0)
    echo "   webdis: wrk -t1 -c50 -d${duration}s" >&2
    figs=$(run_wrk split-webdis 50 "$duration" 1 0)
    keep_run split_webdis "" "$figs"
    stop_webdis
  fi
  taskset -pc "$server_cpu" "$server_pid" >/dev/null
else
  echo "== split layout skipped: it needs two CPUs" >&2
fi

# --- (6) heap allocations per request, counted ---------------------------------
# rcache_gateway_alloc_bench runs the gateway in its own process with a
# counting malloc (bench/gateway_alloc_bench.cpp).
if [[ -x $alloc_bin ]]; then
  for near in off on; do
    echo "== heap allocations per request, near cache $near" >&2
    R[allocs_$near]=$(taskset -c "$gateway_cpus" "$alloc_bin" --redis-url "redis://127.0.0.1:$port" \
      --near-cache "$near" --keys "$keys" -n 200000 |
      python3 -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])["allocations_per_request"])')
  done
else
  echo "== no $alloc_bin: allocations per request are left out" >&2
fi

R[misses]=$(($(keyspace_misses) - misses_before))

python3 - "$(declare -p R)" "$duration" "$keys" "$gateway_threads" "$server_cpu" "$gateway_cpus" "$load_cpus" \
  "$gateway_connections" "$idle_connections" <<'PY'
import json, re, sys
raw = dict(re.findall(r'\[([^\]]+)\]="([^"]*)"', sys.argv[1]))
duration, keys, gthreads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
server_cpu, gateway_cpus, load_cpus = sys.argv[5], sys.argv[6], sys.argv[7]
gconnections = sys.argv[8]

def num(k):
    v = raw.get(k, "")
    return float(v) if v != "" else None

def ratio(a, b, digits=3):
    return round(a / b, digits) if a is not None and b else None

rb = num("rb_ops")
webdis = raw.get("webdis", "") != ""
split = num("split_off_rps") is not None
# Every measured wrk run, for the error and non-2xx totals.
measured = [f"off_c{c}" for c in (50, 200, 1000, 4000)] + ["on_c50", "on_c200"]
if webdis:
    measured += [f"webdis_c{c}" for c in (50, 200, 1000, 4000)]
if split:
    measured += ["split_off", "split_on"] + (["split_webdis"] if webdis else [])
off50, on50 = num("off_c50_rps"), num("on_c50_rps")
off_ratio, on_ratio = off50 / rb, on50 / rb
split_webdis = num("split_webdis_rps")
out = {
    "gateway_l1_off_c50_rps": off50,
    "gateway_l1_on_c50_rps": on50,
    "gateway_l1_off_c200_rps": num("off_c200_rps"),
    "gateway_l1_on_c200_rps": num("on_c200_rps"),
    "redis_benchmark_c50_ops": rb,
    "l1_off_ratio": round(off_ratio, 3),
    "l1_on_ratio": round(on_ratio, 3),
    "p50_ms_c50": num("off_c50_p50"),
    "p99_ms_c50": num("off_c50_p99"),
    "p50_ms_c200": num("off_c200_p50"),
    "p99_ms_c200": num("off_c200_p99"),
    "p50_ms_c50_l1_on": num("on_c50_p50"),
    "p99_ms_c50_l1_on": num("on_c50_p99"),
    "p50_ms_c200_l1_on": num("on_c200_p50"),
    "p99_ms_c200_l1_on": num("on_c200_p99"),
    "webdis_c50_rps": num("webdis_c50_rps"),
    "webdis_c200_rps": num("webdis_c200_rps"),
    "webdis_p50_ms_c50": num("webdis_c50_p50"),
    "webdis_p99_ms_c50": num("webdis_c50_p99"),
    "webdis_p99_ms_c200": num("webdis_c200_p99"),
    "vs_webdis_l1_off_ratio": ratio(off50, num("webdis_c50_rps")),
    "vs_webdis_l1_on_ratio": ratio(on50, num("webdis_c50_rps")),
    # Many connections (near cache off, beside webdis in the same layout).
    "gateway_l1_off_c1000_rps": num("off_c1000_rps"),
    "gateway_l1_off_c4000_rps": num("off_c4000_rps"),
    "webdis_c1000_rps": num("webdis_c1000_rps"),
    "webdis_c4000_rps": num("webdis_c4000_rps"),
    "vs_webdis_c1000_ratio": ratio(num("off_c1000_rps"), num("webdis_c1000_rps")),
    "vs_webdis_c4000_ratio": ratio(num("off_c4000_rps"), num("webdis_c4000_rps")),
    "p99_ms_c1000": num("off_c1000_p99"),
    "p99_ms_c4000": num("off_c4000_p99"),
    "webdis_p99_ms_c1000": num("webdis_c1000_p99"),
    "webdis_p99_ms_c4000": num("webdis_c4000_p99"),
    "rss_kb_per_connection": num("rss_kb_per_connection"),
    "webdis_rss_kb_per_connection": num("webdis_rss_kb_per_connection"),
    # The split layout: redis-server and the server (1 thread) on CPU 1, wrk -t1 on CPU 0.
    "split_l1_off_rps": num("split_off_rps"),
    "split_l1_on_rps": num("split_on_rps"),
    "split_webdis_rps": split_webdis,
    "p99_ms_c50_split_l1_off": num("split_off_p99"),
    "p99_ms_c50_split_l1_on": num("split_on_p99"),
    "p99_ms_c50_split_webdis": num("split_webdis_p99"),
    "split_l1_off_over_webdis": ratio(num("split_off_rps"), split_webdis),
    "split_l1_on_over_webdis": ratio(num("split_on_rps"), split_webdis),
    **({f"cpu_us_split_{m}_{part}": num(f"cpu_split_{m}_{part}")
        for m in ("off", "on") for part in ("gateway_user", "gateway_sys", "redis", "wrk")}
       if split else {}),
    "allocs_per_request_l1_off": num("allocs_off"),
    "allocs_per_request_l1_on": num("allocs_on"),
    **({f"cpu_us_webdis_c{c}_{part}": num(f"cpu_webdis_c{c}_{part}")
        for c in (50, 200, 1000, 4000) for part in ("user", "sys", "redis", "wrk")} if webdis else {}),
    "l1_on_ratio_bound": round((num("cpu_rb_redis") + num("cpu_rb_client"))
                               / (num("cpu_on_c50_gateway_sys") + num("cpu_on_c50_wrk")), 3),
    "l1_off_ratio_bound": round((num("cpu_rb_redis") + num("cpu_rb_client"))
                                / (num("cpu_off_c50_gateway_sys") + num("cpu_off_c50_redis")
                                   + num("cpu_off_c50_wrk")), 3),
    "cpu_us_rb_redis": num("cpu_rb_redis"),
    "cpu_us_rb_client": num("cpu_rb_client"),
    **{f"cpu_us_{m}_c{c}_{part}": num(f"cpu_{m}_c{c}_{part}")
       for m, cs in (("off", (50, 200, 1000, 4000)), ("on", (50, 200))) for c in cs
       for part in ("gateway_user", "gateway_sys", "redis", "wrk")},
    "redis_benchmark_c50_p50_ms": num("rb_p50"),
    "redis_benchmark_c50_p99_ms": num("rb_p99"),
    "l1_entries_after_warmup": None if num("l1_entries") is None else int(num("l1_entries")),
    "l1_hit_share_c50": num("on_c50_l1_share"),
    "l1_hit_share_c200": num("on_c200_l1_share"),
    "non_2xx_responses": int(sum(num(f"{r}_non2xx") for r in measured)),
    "socket_errors": int(sum(num(f"{r}_sockerr") for r in measured)),
    "socket_errors_by_run": {r: int(num(f"{r}_sockerr")) for r in measured if num(f"{r}_sockerr")},
    "redis_keyspace_misses": int(num("misses")),
    "target_l1_off_ratio_met": off_ratio >= 0.8,
    "target_l1_on_ratio_met": on_ratio >= 1.2,
    "target_p99_c200_met": num("off_c200_p99") < 5.0,
    # The fast path's targets (issue 12).
    "target_cpu_off_met": num("cpu_off_c50_gateway_user") <= 2.5,
    "target_cpu_on_met": num("cpu_on_c50_gateway_user") <= 1.6,
    "target_allocs_off_met": None if num("allocs_off") is None else num("allocs_off") <= 10,
    "target_allocs_on_met": None if num("allocs_on") is None else num("allocs_on") <= 4,
    "target_vs_webdis_off_met": None if not webdis else off50 / num("webdis_c50_rps") >= 1.25,
    "target_vs_webdis_on_met": None if not webdis else on50 / num("webdis_c50_rps") >= 1.7,
    "target_split_tail_met": None if not split else num("split_on_p99") <= num("split_off_p99"),
    "target_split_off_met": None if not (split and split_webdis) else num("split_off_rps") >= 1.5 * split_webdis,
    "target_split_on_met": None if not (split and split_webdis) else num("split_on_rps") >= 2.0 * split_webdis,
    "target_c1000_met": None if not webdis else num("off_c1000_rps") >= 1.1 * num("webdis_c1000_rps"),
    "target_c4000_met": None if not webdis else num("off_c4000_rps") >= 1.1 * num("webdis_c4000_rps"),
    "target_p99_c4000_met": None if not webdis else num("off_c4000_p99") <= num("webdis_c4000_p99"),
    "target_rss_met": num("rss_kb_per_connection") <= 4,
    "duration_s": duration,
    "keys": keys,
    "value_bytes": 100,
    "gateway_threads": gthreads,
    "gateway_redis_connections": gconnections,
    "wrk_threads": 2,
    "idle_connections": int(sys.argv[9]),
    "server_cpu": server_cpu,
    "gateway_cpus": gateway_cpus,
    "load_cpus": load_cpus,
}
ok = lambda b: "yes" if b else "NO"
print(f"redis-server on CPU {server_cpu}; rcache serve ({gthreads} threads, {gconnections} Redis "
      f"connection{'s' if gconnections == 'per_thread' else ''}) on CPUs {gateway_cpus}; "
      f"wrk and redis-benchmark on CPUs {load_cpus}; {keys} keys, 100-byte values, {duration} s runs")
print(f"{'workload':<44}{'req/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
print(f"{'redis-benchmark -c 50 -P 1 GET':<44}{rb:>12,.0f}{out['redis_benchmark_c50_p50_ms']:>9.3f}"
      f"{out['redis_benchmark_c50_p99_ms']:>9.3f}{'':>8}")
for label, m, c in (("gateway near cache off, 50 conns", "off", 50), ("gateway near cache off, 200 conns", "off", 200),
                    ("gateway near cache on, 50 conns", "on", 50), ("gateway near cache on, 200 conns", "on", 200)):
    rps = num(f"{m}_c{c}_rps")
    print(f"{label:<44}{rps:>12,.0f}{num(f'{m}_c{c}_p50'):>9.3f}{num(f'{m}_c{c}_p99'):>9.3f}{rps / rb:>7.2f}x")
if webdis:
    for c in (50, 200):
        rps = num(f"webdis_c{c}_rps")
        print(f"{f'webdis, {c} conns':<44}{rps:>12,.0f}{num(f'webdis_c{c}_p50'):>9.3f}"
              f"{num(f'webdis_c{c}_p99'):>9.3f}{rps / rb:>7.2f}x")
    print(f"gateway over webdis at 50 conns: near cache off {out['vs_webdis_l1_off_ratio']}x, "
          f"on {out['vs_webdis_l1_on_ratio']}x")
print(f"target l1_off_ratio >= 0.8: {out['l1_off_ratio']} ({ok(out['target_l1_off_ratio_met'])}); "
      f"l1_on_ratio >= 1.2: {out['l1_on_ratio']} ({ok(out['target_l1_on_ratio_met'])}); "
      f"p99_ms_c200 < 5: {out['p99_ms_c200']} ({ok(out['target_p99_c200_met'])})")
print("CPU µs per request (user+system): redis-benchmark run: redis-server "
      f"{out['cpu_us_rb_redis']}, redis-benchmark {out['cpu_us_rb_client']}")
for m in ("off", "on"):
    for c in (50, 200):
        k = f"cpu_us_{m}_c{c}_"
        print(f"  gateway near cache {m}, {c} conns: gateway {out[k + 'gateway_user']} user + "
              f"{out[k + 'gateway_sys']} system, redis-server {out[k + 'redis']}, wrk {out[k + 'wrk']}")
if webdis:
    for c in (50, 200):
        k = f"cpu_us_webdis_c{c}_"
        print(f"  webdis, {c} conns: webdis {out[k + 'user']} user + {out[k + 'sys']} system, "
              f"redis-server {out[k + 'redis']}, wrk {out[k + 'wrk']}")
print(f"ratio bounds (a gateway whose user-space work cost nothing): "
      f"l1_off_ratio_bound {out['l1_off_ratio_bound']}, l1_on_ratio_bound {out['l1_on_ratio_bound']}")
if out["l1_hit_share_c50"] is not None:
    print(f"near cache on: share of hits answered by L1: {out['l1_hit_share_c50']:.2%} (50 conns), "
          f"{out['l1_hit_share_c200']:.2%} (200 conns)")
if webdis:
    print(f"many connections, near cache off, over webdis: {out['vs_webdis_c1000_ratio']}x at 1,000 "
          f"(p99 {out['p99_ms_c1000']} ms vs {out['webdis_p99_ms_c1000']}), {out['vs_webdis_c4000_ratio']}x "
          f"at 4,000 (p99 {out['p99_ms_c4000']} ms vs {out['webdis_p99_ms_c4000']})")
print(f"resident memory per idle connection: {out['rss_kb_per_connection']} KB"
      + (f" (webdis {out['webdis_rss_kb_per_connection']} KB)" if webdis else ""))
if split:
    print(f"split layout (server + redis-server on CPU 1, wrk -t1 on CPU 0): near cache off "
          f"{out['split_l1_off_rps']:,.0f} req/s p99 {out['p99_ms_c50_split_l1_off']} ms, on "
          f"{out['split_l1_on_rps']:,.0f} req/s p99 {out['p99_ms_c50_split_l1_on']} ms"
          + (f"; webdis {split_webdis:,.0f} req/s p99 {out['p99_ms_c50_split_webdis']} ms "
             f"({out['split_l1_off_over_webdis']}x / {out['split_l1_on_over_webdis']}x)" if split_webdis else ""))
if out["allocs_per_request_l1_off"] is not None:
    print(f"heap allocations per request: near cache off {out['allocs_per_request_l1_off']}, "
          f"on {out['allocs_per_request_l1_on']}")
if out["non_2xx_responses"] or out["socket_errors"] or out["redis_keyspace_misses"]:
    print(f"WARNING: {out['non_2xx_responses']} non-2xx responses, {out['socket_errors']} socket errors, "
          f"{out['redis_keyspace_misses']} Redis keyspace misses: not every request was a hit")
print(json.dumps(out))
PY
