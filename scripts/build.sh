#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configure (once) and build ttynet into DIR with Ninja.
set -euo pipefail
dir=$1
shift
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then
  # Rebuilds of unchanged files come from the cache; these settings let it cache the
  # files built with Asio's precompiled header too.
  export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  # Paths relative to the checkout, so a clone in another folder (CI) hits the same cache.
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$dir" -G Ninja "${launcher[@]}" "$@" >/dev/null
ninja -C "$dir"
