# Shared by the bench scripts (source it). start_redis: a private redis-server
# pinned to $1 on a free loopback port in a temp dir, waits until it answers,
# and stops it (by pid) and removes the dir on exit.
# Sets: port, server_pid, workdir. REDIS_EXTRA_ARGS (optional) is appended
# to the server's arguments.
start_redis() {
  local cpu=$1
  workdir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086 # the extra arguments are words
  taskset -c "$cpu" redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$workdir" --logfile "$workdir/redis.log" ${REDIS_EXTRA_ARGS:-} &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; rm -rf "$workdir"' EXIT
  for _ in $(seq 1 200); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server did not answer on port $port" >&2
  return 1
}

# Starts `rcache serve` ($2, pinned to $1) on a free loopback port against
# $3 (a Redis URL), with one I/O thread and no access log, and the rest of
# the arguments as more serve options; waits until /healthz answers; stops
# it and the redis-server of start_redis (by pid) on exit.
# Sets: gport, gateway_pid.
start_gateway() {
  local cpu=$1 bin=$2 url=$3
  shift 3
  gport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  taskset -c "$cpu" "$bin" serve --redis-url "$url" --listen "127.0.0.1:$gport" \
    --threads 1 --no-access-log "$@" >"$workdir/gateway.log" 2>&1 &
  gateway_pid=$!
  trap 'kill "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true;
        kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true;
        rm -rf "$workdir"' EXIT
  for _ in $(seq 1 200); do
    curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null && return 0
    sleep 0.05
  done
  echo "rcache serve did not answer on port $gport (log: $workdir/gateway.log)" >&2
  return 1
}
