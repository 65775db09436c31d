#!/usr/bin/env bash
# Sessions, measured against the reference tools in the same run, with the
# same pinning (bench/session_bench.cpp, src/session):
#   (a) validate-and-touch of random sessions among 100,000 live ones:
#       50 callers through the library (one connection)  vs
#       redis-benchmark -c 50 -P 1 running the same script by EVALSHA
#       (the cost of the work itself, without automatic pipelining);
#       round trips per validate and the time Redis spent in the script per
#       validate, both from INFO commandstats;
#   (b) create, the same way;
#   (c) the gateway: GET /v1/sessions/{id} of random sessions vs GET of one
#       plain key (near cache off, so both are one Redis round trip), wrk
#       with 50 connections each.
# Prints a table, and as its last line one JSON object with every figure and
# validate_ratio, create_ratio, round_trips_per_validate and
# gateway_validate_over_get.
#
# Usage: bench/session_benchmarks.sh [build-dir]   (default build/release)
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 0), GATEWAY_CPU (default 1),
#      REQUESTS (default 300000), SESSIONS (default 100000), WRK_SECONDS (default 10).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bench_bin=$build/bench/rcache_session_bench
rcache_bin=$build/apps/rcache/rcache
if [[ ! -x $bench_bin || ! -x $rcache_bin ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_session_bench rcache_app
fi
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-0}
gateway_cpu=${GATEWAY_CPU:-1}
requests=${REQUESTS:-300000}
sessions=${SESSIONS:-100000}
wrk_seconds=${WRK_SECONDS:-10}

source bench/lib.sh
start_redis "$server_cpu"
client=(taskset -c "$client_cpu")
url="redis://127.0.0.1:$port"
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1'])"; }

# "<calls> <usec>" of cmdstat_evalsha so far: calls with failed NOSCRIPT
# attempts included, and the microseconds Redis spent running scripts.
evalsha_stats() {
  redis-cli -p "$port" info commandstats | tr -d '\r' | python3 -c '
import re, sys
text = sys.stdin.read()
m = re.search(r"cmdstat_evalsha:calls=(\d+),usec=(\d+).*?rejected_calls=(\d+),failed_calls=(\d+)", text)
print(int(m[1]) + int(m[3]) + int(m[4]), m[2]) if m else print(0, 0)'
}

# ---- (a) validate ----------------------------------------------------------------
"${client[@]}" "$bench_bin" --url "$url" --op populate --sessions "$sessions" \
  --ids-file "$workdir/ids.txt" >/dev/null
read -r before before_usec < <(evalsha_stats)
lib_validate=$("${client[@]}" "$bench_bin" --url "$url" --op validate --ids-file "$workdir/ids.txt" \
  -c 50 -n "$requests")
read -r after after_usec < <(evalsha_stats)
prepared=$("${client[@]}" "$bench_bin" --url "$url" --op prepare --sessions "$sessions")
read_sha=$(json read_sha <<<"$prepared")
create_sha=$(json create_sha <<<"$prepared")
now=$(json now <<<"$prepared")
base='rcache:session:{00}:'
rb_rps() { # redis-benchmark's requests/s for the command given
  "${client[@]}" redis-benchmark -p "$port" -c 50 -P 1 -n "$requests" -r "$sessions" --csv "$@" 2>/dev/null |
    awk -F'","' 'NR==2 { gsub(/"/, "", $2); print $2 }'
}
rb_validate=$(rb_rps EVALSHA "$read_sha" 1 "${base}s:rb:__rand_int__" "$base" "$now" 1000 \
  "rb:__rand_int__" 1 0)

# ---- (b) create ------------------------------------------------------------------
lib_create=$("${client[@]}" "$bench_bin" --url "$url" --op create -c 50 -n "$requests")
rb_create=$(rb_rps EVALSHA "$create_sha" 2 "${base}s:rb:__rand_int__" "${base}u:u__rand_int__" \
  "$base" "$now" 1000 "rb:__rand_int__" "u__rand_int__" 3600000 7200000 0 evict device bench \
  127.0.0.1)

# ---- (c) the gateway ---------------------------------------------------------------
start_gateway "$gateway_cpu" "$rcache_bin" "$url" \
  --set cache.near_cache=false --set sessions.sweep_interval=0
curl -sf -X PUT -d 'a plain value of about the size of a small session' \
  "http://127.0.0.1:$gport/v1/ns/bench/keys/plain" >/dev/null
head -n 10000 "$workdir/ids.txt" >"$workdir/wrk_ids.txt"
cat >"$workdir/validate.lua" <<LUA
local ids = {}
for line in io.lines("$workdir/wrk_ids.txt") do ids[#ids + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/sessions/" .. ids[(n * 7919) % #ids + 1])
end
LUA
wrk_rps() { # $@: wrk arguments after the common ones -> requests/s; every answer must be 2xx
  local out
  out=$("${client[@]}" wrk -t1 -c50 -d"${wrk_seconds}s" "$@")
  if grep -q 'Non-2xx' <<<"$out"; then
    echo "wrk saw answers that were not 2xx:" >&2
    echo "$out" >&2
    exit 1
  fi
  awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
}
gw_validate=$(wrk_rps -s "$workdir/validate.lua" "http://127.0.0.1:$gport")
gw_get=$(wrk_rps "http://127.0.0.1:$gport/v1/ns/bench/keys/plain")

python3 - "$lib_validate" "$lib_create" "$rb_validate" "$rb_create" "$before" "$after" \
  "$requests" "$gw_validate" "$gw_get" "$server_cpu" "$client_cpu" "$gateway_cpu" \
  "$((after_usec - before_usec))" <<'PY'
import json, sys
lib_v, lib_c = json.loads(sys.argv[1]), json.loads(sys.argv[2])
rb_v, rb_c = float(sys.argv[3]), float(sys.argv[4])
before, after, requests = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
gw_v, gw_g = float(sys.argv[8]), float(sys.argv[9])
out = {
    "validate_ops_per_sec": lib_v["ops_per_sec"], "redis_benchmark_validate_rps": rb_v,
    "validate_ratio": round(lib_v["ops_per_sec"] / rb_v, 2),
    "validate_p50_us": lib_v["p50_us"], "validate_p99_us": lib_v["p99_us"],
    "validate_errors": lib_v["errors"],
    "create_ops_per_sec": lib_c["ops_per_sec"], "redis_benchmark_create_rps": rb_c,
    "create_ratio": round(lib_c["ops_per_sec"] / rb_c, 2),
    "round_trips_per_validate": round((after - before) / requests, 4),
    "redis_script_us_per_validate": round(int(sys.argv[13]) / requests, 1),
    "client_requests_per_validate": lib_v["requests_per_op"],
    "commands_per_write": lib_v["commands_per_write"],
    "gateway_validate_rps": gw_v, "gateway_get_rps": gw_g,
    "gateway_validate_over_get": round(gw_v / gw_g, 2),
    "server_cpu": int(sys.argv[10]), "client_cpu": int(sys.argv[11]),
    "gateway_cpu": int(sys.argv[12]),
}
print(f"{'':28}{'rcache':>12}{'reference':>12}{'ratio':>8}")
print(f"{'validate (ops/s, c50)':28}{out['validate_ops_per_sec']:>12.0f}{rb_v:>12.0f}{out['validate_ratio']:>8}")
print(f"{'create (ops/s, c50)':28}{out['create_ops_per_sec']:>12.0f}{rb_c:>12.0f}{out['create_ratio']:>8}")
print(f"{'gateway validate / GET':28}{gw_v:>12.0f}{gw_g:>12.0f}{out['gateway_validate_over_get']:>8}")
print(f"round trips per validate (INFO commandstats): {out['round_trips_per_validate']}")
print(f"Redis time in the validate script (INFO commandstats): "
      f"{out['redis_script_us_per_validate']} us per validate")
print(json.dumps(out))
PY
