#!/usr/bin/env bash
# Installs what is needed, builds, and serves the embedded default device over RFC 2217.
# Extra arguments go to `ttynet serve` (default: --esp -p 2217 --http 8080 sim://esp32, with
# the dashboard on http://localhost:8080/).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build/release -DCMAKE_BUILD_TYPE=Release -DTTYNET_TESTS=OFF -DTTYNET_BENCH=OFF
[ $# -gt 0 ] || set -- --esp -p 2217 --http 8080 sim://esp32
exec build/release/apps/ttynet/ttynet serve "$@"
