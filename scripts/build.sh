#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configure (once) and build ttynet into DIR with Ninja.
set -euo pipefail
dir=$1
shift
cd "$(dirname "$0")/.."
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
ninja -C "$dir"
