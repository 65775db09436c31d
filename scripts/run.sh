#!/usr/bin/env bash
# Builds rcache (release preset) and runs the main job. Installs whatever is
# missing first. Arguments are passed to `rcache`; default: `serve`, the
# gateway on 127.0.0.1:8080 with a private redis-server it starts and owns
# (data in ./rcache-data), until Ctrl-C or SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target rcache_app
if (($# == 0)); then set -- serve; fi
exec build/release/apps/rcache/rcache "$@"
