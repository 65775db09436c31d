#!/usr/bin/env bash
# Installs everything rcache needs to build, test and benchmark on Debian 12.
# Idempotent: packages already present are skipped, so a second run costs a
# dpkg query and nothing else. Run as root (or with sudo available).
set -euo pipefail

# Why each package is here is explained in README.md ("Dependencies").
packages=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev clang-format
  libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
  libssl-dev openssl libzstd-dev libxxhash-dev libjemalloc-dev
  libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  redis-server redis-tools redis-sentinel wrk
  util-linux procps iproute2 nftables python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The Debian package starts a system redis-server on port 6379; rcache never
# uses it (tests start their own), so leave it to the administrator.
echo "install-deps: done"
