#!/usr/bin/env bash
# Installs the Debian 12 packages ttynet needs to build, test and benchmark.
# Idempotent: only calls apt-get when something is missing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache
  libasio-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libmd-dev
  libtomlplusplus-dev libavahi-client-dev nlohmann-json3-dev libssl-dev libyaml-cpp-dev
  # tests, sanitizers, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  python3 python3-serial ser2net socat iproute2 openssl gensio-bin microcom
  # style checks
  clang-format clang-tidy
)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
