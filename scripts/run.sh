#!/usr/bin/env bash
# Installs what is needed, builds, and serves the embedded default device over RFC 2217.
# Extra arguments go to `ttynet serve` (default: -p 2217 sim://esp32).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DTTYNET_TESTS=OFF -DTTYNET_BENCH=OFF
[ $# -gt 0 ] || set -- --esp -p 2217 sim://esp32
exec build/release/apps/ttynet/ttynet serve "$@"
