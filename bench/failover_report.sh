#!/usr/bin/env bash
# What callers see through failovers and a live resharding, on real
# topologies started on loopback ports (see bench/failover_report.cpp):
#   Sentinel: 1 master, 2 replicas, 3 sentinels, quorum 2, down-after 1000 ms
#   Cluster:  3 masters, 3 replicas, cluster-node-timeout 1000 ms
# A writer thread writes back to back through rcache's client; the master is
# killed with SIGKILL. Printed per kind: the unavailability window callers
# saw (kill -> first acknowledged write), the time until the topology itself
# named the new master, and the configured detection time; acknowledged
# writes lost (read back from the new master); errors callers saw while
# `redis-cli --cluster reshard` moved slots under traffic.
# Last line: one JSON object with sentinel_unavailable_s, sentinel_detect_s,
# cluster_unavailable_s, cluster_detect_s, acked_writes_lost, reshard_errors
# and the rest.
#
# Usage: bench/failover_report.sh [build-dir]   (default build/release)
# Env: RUNS (failovers of each kind, medians reported; default 3),
#      RESHARD_SLOTS (default 1000), SKIP_BUILD=1 (use the existing binary;
#      otherwise the release preset is configured and the program built).
# Needs: redis-server, redis-sentinel, redis-cli (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  bash scripts/install-deps.sh >/dev/null
  cmake --preset release >/dev/null
  cmake --build --preset release --target rcache_failover_report
fi
exec "$build/bench/rcache_failover_report" --runs "${RUNS:-3}" \
  --reshard-slots "${RESHARD_SLOTS:-1000}"
