#!/usr/bin/env bash
# Static checks: clang-format is clean, and the sans-I/O cores include no Asio, sockets or
# threads (they must stay fuzzable and testable with fake time).
set -euo pipefail
cd "$(dirname "$0")/.."

cores=(src/ttynet/util src/ttynet/telnet src/ttynet/rfc2217)
[ -f src/ttynet/esp/slip.hpp ] && cores+=(src/ttynet/esp)
cores+=(src/ttynet/term)
core_files=$(find "${cores[@]}" -name '*.hpp' -o -name '*.cpp' | grep -v '/term/terminal' || true)
if grep -nE '#include <(asio|sys/socket|thread|mutex|spdlog)' $core_files; then
  echo "check: a sans-I/O core includes an I/O header (above)" >&2
  exit 1
fi

sources=$(git ls-files '*.cpp' '*.hpp' 2>/dev/null || find src apps tests bench -name '*.[ch]pp')
if ! clang-format --dry-run --Werror $sources 2>/tmp/clang-format.$$; then
  head -20 /tmp/clang-format.$$ >&2
  rm -f /tmp/clang-format.$$
  echo "check: files are not clang-formatted (run: clang-format -i \$(git ls-files '*.cpp' '*.hpp'))" >&2
  exit 1
fi
rm -f /tmp/clang-format.$$
echo "check: layering and formatting clean"
