#!/usr/bin/env bash
# Static checks: clang-format is clean, and the sans-I/O cores include no Asio, sockets or
# threads and read no clock (they must stay fuzzable and testable with fake time: the time
# comes in as an argument).
set -euo pipefail
cd "$(dirname "$0")/.."

cores=(src/ttynet/util src/ttynet/telnet src/ttynet/rfc2217 src/ttynet/http)
[ -f src/ttynet/esp/slip.hpp ] && cores+=(src/ttynet/esp)
cores+=(src/ttynet/term)
# The terminal's I/O files (ttynet_term_io in src/ttynet/CMakeLists.txt) are not part of its core.
term_io='/term/(terminal|raw_mode|log_file)\.'
core_files=$(find "${cores[@]}" -name '*.hpp' -o -name '*.cpp' | grep -vE "$term_io" || true)
# The server's request policy, frame pacer, log rate limits, access rules, token line, scroll-back
# and ser2net configuration, and the forwarder's ESP policy, are cores too; the rest of the
# server and the forwarder is their I/O.
core_files+=" src/ttynet/server/session_core.hpp src/ttynet/server/session_core.cpp"
core_files+=" src/ttynet/server/frame_pacer.hpp src/ttynet/server/frame_pacer.cpp"
core_files+=" src/ttynet/server/peer_log_limit.hpp src/ttynet/server/peer_log_limit.cpp"
core_files+=" src/ttynet/server/access_rules.hpp src/ttynet/server/access_rules.cpp"
core_files+=" src/ttynet/server/token_hello.hpp src/ttynet/server/token_hello.cpp"
core_files+=" src/ttynet/server/scrollback.hpp src/ttynet/server/scrollback.cpp"
core_files+=" src/ttynet/server/ser2net_yaml.hpp src/ttynet/server/ser2net_yaml.cpp"
core_files+=" src/ttynet/server/port_report.hpp src/ttynet/server/port_report.cpp"
core_files+=" src/ttynet/forward/esp_accelerator.hpp src/ttynet/forward/esp_accelerator.cpp"
if grep -nE '#include <(asio|sys/socket|thread|mutex|spdlog)' $core_files; then
  echo "check: a sans-I/O core includes an I/O header (above)" >&2
  exit 1
fi
# Any <chrono> clock's now() (steady_clock, system_clock, high_resolution_clock, ...), and C's
# time(), gettimeofday() and clock_gettime(), namespace-qualified or not (std::time, ::time); a
# member call (x.time()) and a longer name ending in "time(" (run_time) are not clock reads.
if grep -nE '\b[a-z_]+_clock::now\b|(^|[^A-Za-z0-9_.>])(time|gettimeofday|clock_gettime)\(' \
    $core_files; then
  echo "check: a sans-I/O core reads the clock (above); take the time as an argument" >&2
  exit 1
fi

# From the tree, not git: the checks run from an unpacked source archive too.
sources=$(find src apps tests bench -name '*.[ch]pp' | sort)
if ! clang-format --dry-run --Werror $sources 2>/tmp/clang-format.$$; then
  head -20 /tmp/clang-format.$$ >&2
  rm -f /tmp/clang-format.$$
  echo "check: files are not clang-formatted (run: clang-format -i \$(find src apps tests bench -name '*.[ch]pp'))" >&2
  exit 1
fi
rm -f /tmp/clang-format.$$
echo "check: layering, clock use and formatting clean"
