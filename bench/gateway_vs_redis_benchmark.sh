#!/usr/bin/env bash
# The HTTP gateway (`rcache serve`) against redis-benchmark on the same
# redis-server, in the same run. KEYS keys with 100-byte values are loaded
# straight into Redis ("bench:key:000000000000".., i.e. namespace "bench",
# key "key:<12 digits>", the same names redis-benchmark's __rand_int__ makes),
# then:
#   (1) gateway, near cache off: warm-up, wrk -t2 -c50 and -t2 -c200
#   (2) gateway restarted with the near cache on: warm-up (every key read, so
#       it is in L1), wrk -t2 -c50 and -t2 -c200
#   (3) redis-benchmark -c 50 -P 1 GET bench:key:__rand_int__ (-r KEYS)
#   (4) webdis (the HTTP gateway to Redis the issue names as the reference),
#       when installed (Debian package webdis): its own loopback port and
#       config in the temp dir, GATEWAY_THREADS threads, the same Redis, the
#       same wrk runs against GET /GET/bench:key:<12 digits>.txt (the raw
#       value as text/plain, as rcache answers it)
# wrk: keep-alive, GET of random existing keys (a Lua script picks the path
# per request from a prebuilt table), --latency for p50/p99.
# Prints a summary, and as its last line one JSON object with every figure:
#   l1_off_ratio, l1_on_ratio   gateway req/s at 50 connections (near cache
#       off / on) over redis-benchmark's GET ops/s at 50 clients
#       (targets: >= 0.8 and >= 1.2)
#   p99_ms_c200                 gateway p99 at 200 connections, near cache off
#       (target: < 5 ms); p99_ms_c50, and *_l1_on for the near cache on
#   cpu_us_*                    CPU time per request (user + system, from
#       /proc/<pid>/stat for the servers, getrusage of the load generators)
#       of every process in each measured run: cpu_us_rb_redis and
#       cpu_us_rb_client for redis-benchmark's run; cpu_us_<off|on>_c<N>_
#       gateway_user, _gateway_sys, _redis and _wrk for the gateway's runs.
#       Where the load generator shares the cores, they say where a ratio
#       comes from: both sides pay the kernel's loopback TCP cost for every
#       request and every reply.
#   webdis_c50_rps, webdis_c200_rps, webdis_p99_ms_c200, and
#   vs_webdis_l1_off_ratio, vs_webdis_l1_on_ratio   gateway req/s at 50
#       connections over webdis's (null when webdis is not installed)
#   l1_on_ratio_bound           (cpu_us_rb_redis + cpu_us_rb_client) over
#       (cpu_us_on_c50_gateway_sys + cpu_us_on_c50_wrk): the l1_on_ratio of a
#       gateway whose own user-space work cost nothing, both sides keeping
#       the cores equally busy. Below 1.2, that target is out of reach on
#       this machine whatever the gateway does in user space.
#   l1_off_ratio_bound          the same for the near cache off: over
#       (cpu_us_off_c50_gateway_sys + cpu_us_off_c50_redis + cpu_us_off_c50_wrk)
#
# Usage: bench/gateway_vs_redis_benchmark.sh [build-dir]   (default build/release)
# Env: DURATION (seconds per measured run, default 10), WARMUP (seconds,
#      default 2), KEYS (default 10000), GATEWAY_THREADS (default 2),
#      GATEWAY_CONNECTIONS (shared or per_thread: the gateway's
#      redis.connections; default: the gateway's default, shared),
#      SKIP_BUILD=1 (use the existing binary; otherwise the release preset is
#      configured and rcache_app built first), SERVER_CPU (default 0),
#      GATEWAY_CPUS and LOAD_CPUS (default: every CPU, "0-<nproc-1>").
# Pinning: redis-server on SERVER_CPU (CPU 0). The gateway and the load
# generators (wrk and redis-benchmark: always the same set, so the two sides
# differ only by the gateway hop) are left on every CPU by default. On the
# 2-core VM there is no layout with a core per process: redis-server, the
# gateway's threads and wrk's two threads all need CPU at once, and pinning
# the gateway to CPU 1 would leave wrk fighting redis-server on CPU 0 or the
# gateway on CPU 1; the scheduler does better. Override to try others, e.g.
# GATEWAY_CPUS=1 LOAD_CPUS=0.
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
for v in duration warmup keys gateway_threads; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "${v^^} must be a positive integer (got '${!v}')" >&2
    exit 1
  fi
done

if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  if [[ $build == build/release ]]; then
    cmake --preset release >/dev/null
    cmake --build --preset release --target rcache_app
  else
    cmake --build "$build" --target rcache_app
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

source bench/lib.sh
start_redis "$server_cpu"

gateway_pid=""
gateway_port=""
webdis_pid=""
# What run_wrk loads: the server's port and pid, and the wrk script.
target_port=""
target_pid=""
target_lua=""
cleanup() {
  stop_gateway
  if [[ -n $webdis_pid ]]; then
    kill "$webdis_pid" 2>/dev/null || true
    wait "$webdis_pid" 2>/dev/null || true
  fi
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# $1=on|off: starts `rcache serve` with the near cache on or off and waits
# (bounded) until /readyz answers 200. Sets gateway_pid, gateway_port.
start_gateway() {
  local near=false
  [[ $1 == on ]] && near=true
  gateway_port=$(free_port)
  taskset -c "$gateway_cpus" "$bin" serve --listen "127.0.0.1:$gateway_port" \
    --redis-url "redis://127.0.0.1:$port" --threads "$gateway_threads" --no-access-log \
    --set "cache.near_cache=$near" --set "redis.connections=$gateway_connections" \
    >"$workdir/gateway-l1-$1.log" 2>&1 &
  gateway_pid=$!
  target_port=$gateway_port
  target_pid=$gateway_pid
  target_lua=$workdir/get.lua
  for _ in $(seq 1 200); do
    if curl -sf --max-time 1 -o /dev/null "http://127.0.0.1:$gateway_port/readyz"; then
      return 0
    fi
    if ! kill -0 "$gateway_pid" 2>/dev/null; then
      local rc=0
      wait "$gateway_pid" || rc=$?
      gateway_pid=""
      echo "rcache serve exited ($rc) before it was ready; its log:" >&2
      tail -n 20 "$workdir/gateway-l1-$1.log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "rcache serve not ready on port $gateway_port after 200 tries; its log:" >&2
  tail -n 20 "$workdir/gateway-l1-$1.log" >&2
  return 1
}

# SIGTERM, then wait for the exit (SIGKILL after 15 s). A non-zero exit is
# reported, not fatal: the figures were already taken.
stop_gateway() {
  local pid=$gateway_pid rc=0
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "rcache serve (pid $pid) still running 15 s after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" || rc=$?
  gateway_pid=""
  if ((rc != 0)); then
    echo "warning: rcache serve exited with status $rc after SIGTERM" >&2
  fi
}

# Sum of the samples of a Prometheus family on the gateway's /metrics whose
# line contains $2 (e.g. 'tier="near"'); empty if /metrics does not answer.
metric_sum() { # $1=family $2=label substring
  curl -sf --max-time 2 "http://127.0.0.1:$gateway_port/metrics" 2>/dev/null |
    awk -v fam="$1" -v lab="$2" '
      index($0, fam "{") == 1 || $1 == fam { if (lab == "" || index($0, lab)) { s += $NF; n++ } }
      END { if (n) printf "%.0f\n", s }' || true
}

keyspace_misses() {
  redis-cli -p "$port" info stats | awk -F: '/^keyspace_misses:/ { print $2 + 0 }'
}

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

# --- wrk: GET of random existing keys, path picked per request --------------
# Each wrk thread has its own Lua state; the requests are formatted once in
# init (a table lookup per request), except for very large key sets.
# Argument "seq" (after --): walk the keys in order instead (L1 warm-up).
write_lua() { # $1=file $2=path before the 12 digits $3=path after them
  cat >"$1" <<LUA
local keys = $keys
local prefix = "$2"
local suffix = "$3"
local reqs = {}
local seq = false
local next_key = 0
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  local id = tid or 0
  seq = args[1] == "seq"
  math.randomseed(4242 + id * 7919)
  next_key = (id * math.floor(keys / 2)) % keys
  if keys <= 200000 then
    for k = 0, keys - 1 do
      reqs[k] = wrk.format("GET", string.format("%s%012d%s", prefix, k, suffix))
    end
  end
end

function request()
  local k
  if seq then
    k = next_key
    next_key = next_key + 1
    if next_key >= keys then next_key = 0 end
  else
    k = math.random(0, keys - 1)
  end
  return reqs[k] or wrk.format("GET", string.format("%s%012d%s", prefix, k, suffix))
end
LUA
}
write_lua "$workdir/get.lua" "/v1/ns/bench/keys/key:" ""
write_lua "$workdir/get-webdis.lua" "/GET/bench:key:" ".txt"

# CPU time so far of a live process, in microseconds: "user system".
ticks=$(getconf CLK_TCK)
proc_cpu_us() { # $1=pid
  awk -v t="$ticks" '{ printf "%.0f %.0f\n", $14 * 1e6 / t, $15 * 1e6 / t }' "/proc/$1/stat"
}

# wrk's text output -> "rps p50_ms p99_ms non2xx socket_errors requests"
parse_wrk() {
  awk '
    function ms(s) {
      if (s ~ /us$/) return s / 1000
      if (s ~ /ms$/) return s + 0
      if (s ~ /[0-9]s$/) return s * 1000
      if (s ~ /[0-9]m$/) return s * 60000
      return s + 0
    }
    $1 == "Requests/sec:" { rps = $2 }
    $2 == "requests" && $3 == "in" { requests = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(/,/, ""); err = $4 + $6 + $8 + $10 }
    END {
      if (rps == "" || p99 == "") exit 1
      printf "%s %.3f %.3f %d %d %d\n", rps, p50, p99, non2xx + 0, err + 0, requests + 0
    }' "$1"
}

# $1=label $2=connections $3=seconds [$4=lua arg] -> parsed figures, then
# CPU µs per request: "server_user server_sys redis wrk" (server: the
# gateway or webdis)
run_wrk() {
  local out=$workdir/wrk-$1.txt
  local extra=()
  [[ -n ${4:-} ]] && extra=(-- "$4")
  local gu0 gs0 gu1 gs1 ru0 rs0 ru1 rs1 figs
  read -r gu0 gs0 < <(proc_cpu_us "$target_pid")
  read -r ru0 rs0 < <(proc_cpu_us "$server_pid")
  local TIMEFORMAT='%3U %3S'
  { time timeout --foreground -k 5 $(($3 + 30)) taskset -c "$load_cpus" \
    wrk -t2 -c"$2" -d"$3"s --latency -s "$target_lua" \
    "http://127.0.0.1:$target_port/" "${extra[@]}" >"$out" 2>&1; } 2>"$out.time" || {
    echo "wrk ($1) failed:" >&2
    cat "$out" >&2
    return 1
  }
  read -r gu1 gs1 < <(proc_cpu_us "$target_pid")
  read -r ru1 rs1 < <(proc_cpu_us "$server_pid")
  figs=$(parse_wrk "$out") || {
    echo "could not parse wrk's output ($1):" >&2
    cat "$out" >&2
    return 1
  }
  awk -v f="$figs" -v gu=$((gu1 - gu0)) -v gs=$((gs1 - gs0)) -v r=$((ru1 + rs1 - ru0 - rs0)) '
    { w = ($1 + $2) * 1e6 }
    END {
      split(f, a, " "); n = a[6] > 0 ? a[6] : 1
      printf "%s %.2f %.2f %.2f %.2f\n", f, gu / n, gs / n, r / n, w / n
    }' "$out.time"
}

# Keeps the figures of one measured run_wrk in R: $1=run (off_c50,
# webdis_c200, ...) $2=the server's prefix in its CPU keys (gateway_ or none)
# $3=run_wrk's output.
keep_run() {
  read -r "R[$1_rps]" "R[$1_p50]" "R[$1_p99]" "R[$1_non2xx]" "R[$1_sockerr]" _ \
    "R[cpu_$1_$2user]" "R[cpu_$1_$2sys]" "R[cpu_$1_redis]" "R[cpu_$1_wrk]" <<<"$3"
}

check_get() { # one GET through the gateway must return the preloaded value
  local body
  body=$(curl -sf --max-time 2 "http://127.0.0.1:$gateway_port/v1/ns/bench/keys/key:$(printf %012d 0)") || {
    echo "GET through the gateway failed" >&2
    return 1
  }
  if ((${#body} != 100)); then
    echo "GET through the gateway returned ${#body} bytes, expected 100" >&2
    return 1
  fi
}

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
echo "== rcache serve, near cache off" >&2
start_gateway off
check_get
figs=$(run_wrk off-warmup 50 "$warmup")
for c in 50 200; do
  echo "   wrk -t2 -c$c -d${duration}s" >&2
  figs=$(run_wrk "off-c$c" "$c" "$duration")
  keep_run "off_c$c" gateway_ "$figs"
done
stop_gateway

# --- (2) gateway, near cache on ----------------------------------------------
echo "== rcache serve, near cache on" >&2
start_gateway on
check_get
# Warm-up walks every key in order (each thread from its own offset), so
# every key is read at least once and lands in L1; repeated (at most 5 times)
# while the rcache_near_cache_entries gauge shows fewer entries than keys.
for round in 1 2 3 4 5; do
  figs=$(run_wrk "on-warmup-$round" 50 "$warmup" seq)
  R[l1_entries]=$(metric_sum rcache_near_cache_entries '')
  [[ -n ${R[l1_entries]} ]] || break # no such gauge: trust the walk
  ((R[l1_entries] >= keys)) && break
  echo "   L1 holds ${R[l1_entries]} of $keys keys after warm-up round $round" >&2
done
for c in 50 200; do
  echo "   wrk -t2 -c$c -d${duration}s" >&2
  l1_before=$(metric_sum rcache_cache_hits_total 'tier="near"')
  all_before=$(metric_sum rcache_cache_hits_total '')
  figs=$(run_wrk "on-c$c" "$c" "$duration")
  keep_run "on_c$c" gateway_ "$figs"
  l1_after=$(metric_sum rcache_cache_hits_total 'tier="near"')
  all_after=$(metric_sum rcache_cache_hits_total '')
  # Share of the run's hits answered by L1 (empty if /metrics has no such family).
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
  webdis_port=$(free_port)
  cat >"$workdir/webdis.json" <<JSON
{"redis_host": "127.0.0.1", "redis_port": $port, "http_host": "127.0.0.1",
 "http_port": $webdis_port, "threads": $gateway_threads, "daemonize": false,
 "database": 0, "verbosity": 1, "logfile": "$workdir/webdis.log"}
JSON
  # In the temp dir: whatever it writes beside its log stays there.
  (cd "$workdir" && exec taskset -c "$gateway_cpus" webdis webdis.json >webdis.out 2>&1) &
  webdis_pid=$!
  target_port=$webdis_port
  target_pid=$webdis_pid
  target_lua=$workdir/get-webdis.lua
  body=""
  for _ in $(seq 1 200); do
    body=$(curl -sf --max-time 1 "http://127.0.0.1:$webdis_port/GET/bench:key:$(printf %012d 0).txt") && break
    kill -0 "$webdis_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ((${#body} != 100)); then
    echo "webdis did not answer a GET with the 100-byte value; its output:" >&2
    tail -n 20 "$workdir/webdis.out" "$workdir/webdis.log" >&2 || true
    exit 1
  fi
  R[webdis]=1
  figs=$(run_wrk webdis-warmup 50 "$warmup")
  for c in 50 200; do
    echo "   wrk -t2 -c$c -d${duration}s" >&2
    figs=$(run_wrk "webdis-c$c" "$c" "$duration")
    keep_run "webdis_c$c" "" "$figs"
  done
  kill "$webdis_pid" 2>/dev/null || true
  wait "$webdis_pid" 2>/dev/null || true
  webdis_pid=""
else
  echo "== webdis not installed (Debian package webdis): its figures are left out" >&2
fi

R[misses]=$(($(keyspace_misses) - misses_before))

python3 - "$(declare -p R)" "$duration" "$keys" "$gateway_threads" "$server_cpu" "$gateway_cpus" "$load_cpus" \
  "$gateway_connections" <<'PY'
import json, re, sys
raw = dict(re.findall(r'\[([^\]]+)\]="([^"]*)"', sys.argv[1]))
duration, keys, gthreads = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
server_cpu, gateway_cpus, load_cpus = sys.argv[5], sys.argv[6], sys.argv[7]
gconnections = sys.argv[8]

def num(k):
    v = raw.get(k, "")
    return float(v) if v != "" else None

rb = num("rb_ops")
webdis = raw.get("webdis", "") != ""
runs = ("off", "on", "webdis") if webdis else ("off", "on")
off50, on50 = num("off_c50_rps"), num("on_c50_rps")
off_ratio, on_ratio = off50 / rb, on50 / rb
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
    "vs_webdis_l1_off_ratio": round(off50 / num("webdis_c50_rps"), 3) if webdis else None,
    "vs_webdis_l1_on_ratio": round(on50 / num("webdis_c50_rps"), 3) if webdis else None,
    **({f"cpu_us_webdis_c{c}_{part}": num(f"cpu_webdis_c{c}_{part}")
        for c in (50, 200) for part in ("user", "sys", "redis", "wrk")} if webdis else {}),
    "l1_on_ratio_bound": round((num("cpu_rb_redis") + num("cpu_rb_client"))
                               / (num("cpu_on_c50_gateway_sys") + num("cpu_on_c50_wrk")), 3),
    "l1_off_ratio_bound": round((num("cpu_rb_redis") + num("cpu_rb_client"))
                                / (num("cpu_off_c50_gateway_sys") + num("cpu_off_c50_redis")
                                   + num("cpu_off_c50_wrk")), 3),
    "cpu_us_rb_redis": num("cpu_rb_redis"),
    "cpu_us_rb_client": num("cpu_rb_client"),
    **{f"cpu_us_{m}_c{c}_{part}": num(f"cpu_{m}_c{c}_{part}")
       for m in ("off", "on") for c in (50, 200)
       for part in ("gateway_user", "gateway_sys", "redis", "wrk")},
    "redis_benchmark_c50_p50_ms": num("rb_p50"),
    "redis_benchmark_c50_p99_ms": num("rb_p99"),
    "l1_entries_after_warmup": None if num("l1_entries") is None else int(num("l1_entries")),
    "l1_hit_share_c50": num("on_c50_l1_share"),
    "l1_hit_share_c200": num("on_c200_l1_share"),
    "non_2xx_responses": int(sum(num(f"{m}_c{c}_non2xx") for m in runs for c in (50, 200))),
    "socket_errors": int(sum(num(f"{m}_c{c}_sockerr") for m in runs for c in (50, 200))),
    "redis_keyspace_misses": int(num("misses")),
    "target_l1_off_ratio_met": off_ratio >= 0.8,
    "target_l1_on_ratio_met": on_ratio >= 1.2,
    "target_p99_c200_met": num("off_c200_p99") < 5.0,
    "duration_s": duration,
    "keys": keys,
    "value_bytes": 100,
    "gateway_threads": gthreads,
    "gateway_redis_connections": gconnections,
    "wrk_threads": 2,
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
if out["non_2xx_responses"] or out["socket_errors"] or out["redis_keyspace_misses"]:
    print(f"WARNING: {out['non_2xx_responses']} non-2xx responses, {out['socket_errors']} socket errors, "
          f"{out['redis_keyspace_misses']} Redis keyspace misses: not every request was a hit")
print(json.dumps(out))
PY
