#!/usr/bin/env bash
# Compares the rcache client with redis-benchmark on the same redis-server,
# in the same run, with both pinned the same way:
#   (a) 50 callers, one command at a time  vs  redis-benchmark -c 50 -P 1
#   (b) 50 callers, pipelines of 16        vs  redis-benchmark -c 50 -P 16
#   (c) 1 caller, one command at a time    vs  redis-benchmark -c 1   (p50 latency)
# GET and SET, 100-byte values, 100,000 keys. Prints a table, and as its last
# line one JSON object with every figure and ratio (rcache over redis-benchmark).
#
# Usage: bench/client_vs_redis_benchmark.sh [build-dir]   (default build/release)
# Env: SERVER_CPU (default 0), CLIENT_CPU (default 0), REQUESTS (default 1000000),
#      C1_REQUESTS (default 100000).
# Pinning: both client tools always get the same CPU. By default the server and
# the clients share CPU 0: on this kind of VM a wake-up across cores costs
# ~60 us, more than the work being measured. CLIENT_CPU=1 measures the
# cross-core case (closer to a client on another host); README has both.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
bench_bin=$build/bench/rcache_client_bench
if [[ ! -x $bench_bin ]]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_client_bench
fi
server_cpu=${SERVER_CPU:-0}
client_cpu=${CLIENT_CPU:-0}
requests=${REQUESTS:-1000000}
c1_requests=${C1_REQUESTS:-100000}

source bench/lib.sh
start_redis "$server_cpu"

# Preload every key with a 100-byte value, so GETs hit.
redis-benchmark -p "$port" -t set -n 300000 -r 100000 -d 100 -c 50 -P 64 -q >/dev/null 2>&1

client=(taskset -c "$client_cpu")

# redis-benchmark --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
rb() { # $1=test $2=clients $3=pipeline $4=requests -> "rps p50_ms"
  "${client[@]}" redis-benchmark -p "$port" -t "$1" -c "$2" -P "$3" -n "$4" -r 100000 -d 100 --csv 2>/dev/null |
    awk -F'","' 'NR==2 { gsub(/"/, "", $2); gsub(/"/, "", $5); print $2, $5 }'
}
rc() { # $1=op $2=callers $3=pipeline $4=requests -> "ops p50_us"
  "${client[@]}" "$bench_bin" --url "redis://127.0.0.1:$port" --op "$1" -c "$2" -P "$3" -n "$4" \
    -r 100000 -d 100 | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ops_per_sec"], d["p50_us"], d["commands_per_write"])'
}

declare -A R
for op in get set; do
  read -r R[rb_${op}_c50] _ <<<"$(rb "$op" 50 1 "$requests")"
  read -r R[rc_${op}_c50] _ R[rc_${op}_c50_cpw] <<<"$(rc "$op" 50 1 "$requests")"
  read -r R[rb_${op}_p16] _ <<<"$(rb "$op" 50 16 $((requests * 3)))"
  read -r R[rc_${op}_p16] _ _ <<<"$(rc "$op" 50 16 $((requests * 3)))"
  read -r _ R[rb_${op}_c1_p50_ms] <<<"$(rb "$op" 1 1 "$c1_requests")"
  read -r _ R[rc_${op}_c1_p50_us] _ <<<"$(rc "$op" 1 1 "$c1_requests")"
done

python3 - "$(declare -p R)" "$server_cpu" "$client_cpu" <<'PY'
import json, re, sys
pairs = dict(re.findall(r'\[([^\]]+)\]="([^"]*)"', sys.argv[1]))
f = {k: float(v) for k, v in pairs.items()}
out = {"server_cpu": int(sys.argv[2]), "client_cpu": int(sys.argv[3])}
print(f"redis-server on CPU {sys.argv[2]}; redis-benchmark and rcache_client_bench on CPU {sys.argv[3]}")
print(f"{'workload':<34}{'redis-benchmark':>18}{'rcache':>14}{'ratio':>9}")
for op in ("get", "set"):
    a = f[f"rc_{op}_c50"] / f[f"rb_{op}_c50"]
    b = f[f"rc_{op}_p16"] / f[f"rb_{op}_p16"]
    rb_c1_us = f[f"rb_{op}_c1_p50_ms"] * 1000
    c = f[f"rc_{op}_c1_p50_us"] / rb_c1_us
    print(f"{op.upper()+' 50 callers, P1 (ops/s)':<34}{f[f'rb_{op}_c50']:>18,.0f}{f[f'rc_{op}_c50']:>14,.0f}{a:>8.2f}x")
    print(f"{op.upper()+' 50 callers, P16 (ops/s)':<34}{f[f'rb_{op}_p16']:>18,.0f}{f[f'rc_{op}_p16']:>14,.0f}{b:>8.2f}x")
    print(f"{op.upper()+' 1 caller, p50 (us)':<34}{rb_c1_us:>18.1f}{f[f'rc_{op}_c1_p50_us']:>14.1f}{c:>8.2f}x")
    out.update({
        f"{op}_c50_ratio": round(a, 3), f"{op}_p16_ratio": round(b, 3), f"{op}_c1_p50_ratio": round(c, 3),
        f"rb_{op}_c50_ops": f[f"rb_{op}_c50"], f"rcache_{op}_c50_ops": f[f"rc_{op}_c50"],
        f"rcache_{op}_c50_commands_per_write": f[f"rc_{op}_c50_cpw"],
        f"rb_{op}_p16_ops": f[f"rb_{op}_p16"], f"rcache_{op}_p16_ops": f[f"rc_{op}_p16"],
        f"rb_{op}_c1_p50_us": rb_c1_us, f"rcache_{op}_c1_p50_us": f[f"rc_{op}_c1_p50_us"],
    })
print(json.dumps(out))
PY
