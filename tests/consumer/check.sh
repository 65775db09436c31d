#!/usr/bin/env bash
# Installs the rcache build tree $1 into a temporary prefix, then configures,
# builds and runs tests/consumer against it with find_package(rcache).
# $2: extra compiler/linker flags the install needs (sanitizers), may be empty.
set -euo pipefail
build=$1
flags=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$here" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/consumer")
echo "$out"
[[ $out == "rcache "*"redis://user:***@127.0.0.1:6390/2 14" ]]
