#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (build/fuzz) and runs each for FUZZ_SECONDS, from
# its seed corpus (tests/fuzz/corpus/NAME); stops at the first finding. Prints each target's
# executions and peak memory.
#   FUZZ_SECONDS=600 scripts/fuzz.sh          # the long run by hand: ten minutes per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh slip url # only these targets
# CI runs it from scripts/test.sh with 15 s per target.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${FUZZ_SECONDS:-15}

echo "== fuzzing (${fuzz_seconds}s per target)"
CXX=clang++ ./scripts/build.sh build/fuzz -DTTYNET_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for target in build/fuzz/tests/fuzz/*_fuzz; do targets+=("$(basename "$target" _fuzz)"); done
fi
for name in "${targets[@]}"; do
  target=build/fuzz/tests/fuzz/${name}_fuzz
  corpus=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$name/." "$corpus/" 2>/dev/null || true
  echo "-- $name"
  log=$(mktemp)
  if ! "$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: $name found a failing input (above)" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
  rm -f "$log"
  rm -rf "$corpus"
done
echo "fuzz: ${#targets[@]} targets ran ${fuzz_seconds}s each without a finding"
