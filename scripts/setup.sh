#!/usr/bin/env bash
# Installs the Debian 12 packages ttynet needs to build, test and benchmark, and the
# dashboard's xterm.js from the npm registry, pinned by src/ttynet/server/web/package-lock.json.
# Idempotent: only calls apt-get or npm when something is missing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache
  libasio-dev libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev libmd-dev
  libtomlplusplus-dev libavahi-client-dev nlohmann-json3-dev libssl-dev libyaml-cpp-dev
  libhttp-parser-dev libwslay-dev
  # tests, sanitizers, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  python3 python3-serial ser2net socat iproute2 openssl gensio-bin microcom
  chromium python3-websocket python3-prometheus-client
  # style checks
  clang-format clang-tidy
)

# Debian's npm unless the machine has one already (Node.js from elsewhere brings its own).
command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

web="$(dirname "$0")/../src/ttynet/server/web"
# Again when the lock file changed since the last install.
if [ ! "$web/node_modules/.package-lock.json" -nt "$web/package-lock.json" ]; then
  echo "setup: installing xterm.js (npm ci)"
  (cd "$web" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
fi
