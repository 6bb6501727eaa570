#!/usr/bin/env bash
# Installs the Debian bookworm packages funcd needs to build, test and run.
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail

PACKAGES=(
  # toolchain
  g++ cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  # libraries (Boost 1.81, not the default 1.74)
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libfmt-dev libsqlite3-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libnats-dev libmosquitto-dev liburing-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev wrk curl procps
  # runtime tools used by the process runtime and by tests
  bubblewrap nats-server mosquitto
  # function templates (funcd build and the replicas): python3-http, node-http, cpp-http (g++);
  # git for funcd build --tag sha|branch|describe
  python3 nodejs git
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "setup: installing ${#missing[@]} packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
