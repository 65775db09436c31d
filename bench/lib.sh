# Shared by the bench scripts (source it): starts a private redis-server
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
