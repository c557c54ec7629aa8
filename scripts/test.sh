#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite:
#   1. the regular build: unit, interop and end-to-end tests (ctest);
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build: the same tests;
#   3. the sans-I/O cores built with clang and libFuzzer: each fuzz target for FUZZ_SECONDS;
#   4. static checks: formatting, the layering rule (cores never include Asio), and
#      clang-tidy on the cores (through the clang build's compile database).
# Environment: FUZZ_SECONDS (default 15), JOBS (default: number of cores).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-15}

./scripts/setup.sh

echo "== static checks"
./scripts/check.sh

echo "== regular build"
./scripts/build.sh build/test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTTYNET_BENCH=OFF
ctest --test-dir build/test -j "$jobs" --output-on-failure --timeout 300

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build"
# A small quarantine keeps memory-bound tests meaningful: freed coroutine frames would
# otherwise sit in ASan's 256 MiB quarantine and look like growth.
./scripts/build.sh build/asan -DCMAKE_BUILD_TYPE=Debug -DTTYNET_SANITIZE=ON -DTTYNET_BENCH=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:quarantine_size_mb=16 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j "$jobs" --output-on-failure --timeout 600

FUZZ_SECONDS=$fuzz_seconds ./scripts/fuzz.sh

echo "== clang-tidy (sans-I/O cores)"
# The I/O layers are left out: clang 14 does not enable Asio's coroutine support.
# Listed from the tree, not git: the suite runs from an unpacked source archive too.
core_sources=$(find src/ttynet/util src/ttynet/telnet src/ttynet/rfc2217 src/ttynet/http src/ttynet/esp \
  -name '*.cpp' | sort)
core_sources+=" src/ttynet/server/session_core.cpp src/ttynet/server/frame_pacer.cpp"
core_sources+=" src/ttynet/server/access_rules.cpp src/ttynet/server/token_hello.cpp"
core_sources+=" src/ttynet/server/scrollback.cpp src/ttynet/server/ser2net_yaml.cpp"
core_sources+=" src/ttynet/forward/esp_accelerator.cpp"
tidy_log=$(mktemp)
clang-tidy -p build/fuzz --quiet $core_sources >"$tidy_log" 2>&1 || true
if grep -E "(warning|error):" "$tidy_log"; then
  echo "clang-tidy: findings above" >&2
  exit 1
fi
rm -f "$tidy_log"
echo "clang-tidy: clean"
