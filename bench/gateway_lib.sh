# The pieces of bench/gateway_vs_redis_benchmark.sh (source it after
# bench/lib.sh's start_redis): starting and stopping `rcache serve` and
# webdis in front of the benchmark's redis-server, wrk runs with the CPU
# time of every process, and the memory one idle connection holds.
#
# Globals it reads: bin, port, server_pid, workdir, keys, gateway_connections.
# Globals it sets: gateway_pid, gateway_port, webdis_pid, webdis_port, and
# target_port / target_pid / target_lua (what run_wrk loads).

gateway_pid=""
gateway_port=""
webdis_pid=""
webdis_port=""
target_port=""
target_pid=""
target_lua=""

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# $1=on|off (near cache) $2=I/O threads $3=CPUs: starts `rcache serve` and
# waits (bounded) until /readyz answers 200, then makes it run_wrk's target.
start_gateway() {
  local near=false log
  [[ $1 == on ]] && near=true
  gateway_port=$(free_port)
  log=$workdir/gateway-$1-$2t-$gateway_port.log
  taskset -c "$3" "$bin" serve --listen "127.0.0.1:$gateway_port" \
    --redis-url "redis://127.0.0.1:$port" --threads "$2" --no-access-log \
    --set "cache.near_cache=$near" --set "redis.connections=$gateway_connections" \
    >"$log" 2>&1 &
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
      tail -n 20 "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "rcache serve not ready on port $gateway_port after 200 tries; its log:" >&2
  tail -n 20 "$log" >&2
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

# $1=threads $2=CPUs: starts webdis (its own loopback port and config in
# the temp dir) in front of the same Redis, checks that it answers a GET
# with the 100-byte value, and makes it run_wrk's target.
start_webdis() {
  webdis_port=$(free_port)
  cat >"$workdir/webdis.json" <<JSON
{"redis_host": "127.0.0.1", "redis_port": $port, "http_host": "127.0.0.1",
 "http_port": $webdis_port, "threads": $1, "daemonize": false,
 "database": 0, "verbosity": 1, "logfile": "$workdir/webdis.log"}
JSON
  # In the temp dir: whatever it writes beside its log stays there.
  (cd "$workdir" && exec taskset -c "$2" webdis webdis.json >webdis.out 2>&1) &
  webdis_pid=$!
  target_port=$webdis_port
  target_pid=$webdis_pid
  target_lua=$workdir/get-webdis.lua
  local body=""
  for _ in $(seq 1 200); do
    body=$(curl -sf --max-time 1 "http://127.0.0.1:$webdis_port/GET/bench:key:$(printf %012d 0).txt") && break
    kill -0 "$webdis_pid" 2>/dev/null || break
    sleep 0.05
  done
  if ((${#body} != 100)); then
    echo "webdis did not answer a GET with the 100-byte value; its output:" >&2
    tail -n 20 "$workdir/webdis.out" "$workdir/webdis.log" >&2 || true
    return 1
  fi
}

stop_webdis() {
  [[ -n $webdis_pid ]] || return 0
  kill "$webdis_pid" 2>/dev/null || true
  wait "$webdis_pid" 2>/dev/null || true
  webdis_pid=""
}

# The wrk script: GET of random existing keys, the request formatted once
# per key in init (a table lookup per request), except for very large key
# sets. Argument "seq" (after --): walk the keys in order instead (near-cache
# warm-up). $1=file $2=path before the 12 digits $3=path after them
write_lua() {
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

# $1=label $2=connections $3=seconds $4=wrk threads $5=CPUs [$6=lua arg] ->
# parsed figures, then CPU µs per request: "server_user server_sys redis
# wrk" (server: the gateway or webdis)
run_wrk() {
  local out=$workdir/wrk-$1.txt
  local extra=()
  [[ -n ${6:-} ]] && extra=(-- "$6")
  local gu0 gs0 gu1 gs1 ru0 rs0 ru1 rs1 figs
  read -r gu0 gs0 < <(proc_cpu_us "$target_pid")
  read -r ru0 rs0 < <(proc_cpu_us "$server_pid")
  local TIMEFORMAT='%3U %3S'
  { time timeout --foreground -k 5 $(($3 + 30)) taskset -c "$5" \
    wrk -t"$4" -c"$2" -d"$3"s --latency -s "$target_lua" \
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

# One GET through the gateway must return the preloaded value.
check_get() {
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

# The resident memory one idle keep-alive connection holds in the target
# server, in KB: $1=connections $2=path of one existing key. Opens the
# connections, sends one GET on each and reads its answer, then compares
# the target's VmRSS with what it was before they opened (the best of three
# readings a moment apart on each side, as RSS moves with the allocator's
# own housekeeping). The connections are closed before it returns.
rss_kb_per_connection() {
  python3 - "$target_pid" "$target_port" "$1" "$2" <<'PY'
import socket, sys, time
pid, port, n, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def rss_kb():
    best = None
    for _ in range(3):
        with open(f"/proc/{pid}/status") as f:
            kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        best = kb if best is None else min(best, kb)
        time.sleep(0.2)
    return best
before = rss_kb()
socks = []
request = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(65536)
    head, _, body = got.partition(b"\r\n\r\n")
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    socks.append(s)
after = rss_kb()
for s in socks:
    s.close()
print(f"{(after - before) / n:.2f}")
PY
}
