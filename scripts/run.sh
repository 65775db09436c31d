#!/usr/bin/env bash
# Builds rcache (release preset) and runs the main job. Installs whatever is
# missing first. Arguments are passed to `rcache`; default: `ping` against a
# private redis-server that rcache starts and stops itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rcache_app
if (($# == 0)); then set -- ping --count 3; fi
exec build/release/apps/rcache/rcache "$@"
