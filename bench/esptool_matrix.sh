#!/usr/bin/env bash
# esptool_matrix.sh: unmodified esptool.py v4.x and v5.x through `ttynet serve --esp` against
# the simulated chips: the commands of a flashing workflow, with the stub and with --no-stub,
# on each chip, each combination on a fresh server. With FORWARD, esptool reaches the server
# through `ttynet forward` (each named front) behind the latency proxy (each of RTTS).
# Prints a markdown table (esptool | chip | mode | path | command | exit | seconds | last line)
# and "N passed, M failed". Loopback only; every wait bounded.
#
#   bench/esptool_matrix.sh TTYNET_BINARY
#
# Environment:
#   ESPTOOL_V4=/opt/esptool-v4.8.1   ESPTOOL_V5=/opt/esptool-v5.3.1   extracted esptool sources
#     (`git archive v5.3.1 | tar -x -C DIR`); run with Debian's /usr/bin/python3 (PYTHON=...):
#     v4 needs python3-serial; v5 also python3-click, -rich-click, -bitstring, -intelhex,
#     -ecdsa, -cryptography, -yaml
#   CHIPS="esp32 esp32c3 esp32s3"   SIM_OPTS=""   extra sim:// options, e.g. pace=1
#   BAUD=921600   VERSIONS="v4 v5"   MODES="stub no-stub"
#   FORWARD=""   fronts of `ttynet forward` to go through: "raw" (socket://), "rfc2217"
#   RTTS="0"     round trips the proxy adds in front of the server with FORWARD, ms
#   SIZE_KIB=200 the random image written, verified and read back whole
#   ONLY=""      an extended regular expression: run only the commands whose label matches
#
# Exit status 0 when every command passed. Without the stub, esptool refuses some commands
# before sending anything ("... ROM does not support function erase_flash"); such a refusal
# where one is expected counts as passed. When something failed, the logs of that
# combination are kept in a directory the last line names.
set -euo pipefail
cd "$(dirname "$0")/.."

ttynet=$(realpath "${1:?usage: bench/esptool_matrix.sh TTYNET_BINARY}")
esptool_v4=$(realpath "${ESPTOOL_V4:-/opt/esptool-v4.8.1}")
esptool_v5=$(realpath "${ESPTOOL_V5:-/opt/esptool-v5.3.1}")
chips=${CHIPS:-esp32 esp32c3 esp32s3}
sim_opts=${SIM_OPTS:-}
baud=${BAUD:-921600}
versions=${VERSIONS:-v4 v5}
modes=${MODES:-stub no-stub}
python=${PYTHON:-/usr/bin/python3} # Debian's, with python3-serial & co.
fronts=${FORWARD:-}
rtts=${RTTS:-0}
size_kib=${SIZE_KIB:-200}
only=${ONLY:-}
command_timeout=$((120 + size_kib / 4)) # seconds per esptool command

source bench/lib.sh
failed=0
kept=''

# Stops what serves one combination (server, proxy, forwarder): SIGTERM, 5 s, then SIGKILL.
stop_combination() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

# Keeps the logs of a combination that failed.
keep_logs() {
  [[ -n $kept ]] || kept=$(mktemp -d)
  cp "$work"/*.log "$kept/" 2>/dev/null || true
}
report_kept() {
  if [[ -n $kept ]]; then echo "esptool_matrix: logs of the failed combinations in $kept" >&2; fi
}
trap 'stop_combination; report_kept; cleanup' EXIT

# The last line that says something: ANSI codes and carriage returns (progress) removed, and
# without the notes every command ends with (VID/PID of a URL port, the hard reset).
last_line() {
  tr '\r' '\n' <"$1" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' |
    grep -v -e '^[[:space:]]*$' -e 'PID identification is only supported' -e '^Hard resetting' |
    tail -1 || true
}

head -c $((size_kib * 1024)) /dev/urandom >"$work/random.bin"
# After the random image, on a 64 KiB boundary.
compressible_offset=$(printf '0x%x' $((0x10000 + (size_kib * 1024 + 0xffff) / 0x10000 * 0x10000)))
# Compressible (64 KiB random, then a repeated pattern): esptool v5 sends an image that does
# not compress uncompressed, so random.bin alone never tests v5's compressed path.
{
  head -c $((64 * 1024)) /dev/urandom
  python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 544)"
} >"$work/compressible.bin"

# Starts the server of one combination, and with a front the proxy and the forwarder; sets
# `common` to esptool's port and speed options.
serve_combination() {
  local port forward_port far
  port=$(free_port)
  "$ttynet" serve --esp --bind 127.0.0.1 -p "$port" "sim://$chip?boot=app${sim_opts:+&$sim_opts}" \
    >"$work/serve.log" 2>&1 &
  pids+=($!)
  wait_listening "$port" || return 1
  common=(--port "rfc2217://127.0.0.1:$port?ign_set_control" -b "$baud")
  if [[ $front != direct ]]; then
    far=$port
    if [[ $rtt != 0 ]]; then
      start_proxy "$port" "$rtt" 5 || return 1
      far=$proxy_port
    fi
    forward_port=$(free_port)
    local raw=()
    [[ $front == raw ]] && raw=(--raw)
    "$ttynet" forward "${raw[@]}" -p "$forward_port" "rfc2217://127.0.0.1:$far" \
      >"$work/forward.log" 2>&1 &
    pids+=($!)
    wait_listening "$forward_port" || return 1
    if [[ $front == raw ]]; then
      common=(--port "socket://127.0.0.1:$forward_port" -b "$baud")
    else
      common=(--port "rfc2217://127.0.0.1:$forward_port?ign_set_control" -b "$baud")
    fi
  fi
  [[ $mode == no-stub ]] && common+=(--no-stub)
  return 0
}

# Runs the workflow's commands against `common`, one table row each.
run_commands() {
  local entry label rest refused args status last ok started seconds
  # Refused by esptool without the stub: v4 both erases, v5 erase-flash only (v5 erases a
  # region through the ROM's FLASH_BEGIN).
  local refuses_erase_flash='' refuses_erase_region='' commands size
  size=$((size_kib * 1024))
  if [[ $mode == no-stub ]]; then
    refuses_erase_flash=yes
    [[ $version == v4 ]] && refuses_erase_region=yes
  fi
  # label | refused client-side (non-empty) | esptool command arguments
  commands=(
    "chip-id||$(name chip-id)"
    "read-mac||$(name read-mac)"
    "flash-id||$(name flash-id)"
    "write-flash random||$(name write-flash) 0x10000 $work/random.bin"
    "write-flash -u random||$(name write-flash) -u 0x10000 $work/random.bin"
    "write-flash compressible||$(name write-flash) $compressible_offset $work/compressible.bin"
    "verify-flash random||$(name verify-flash) 0x10000 $work/random.bin"
    "read-flash random||$(name read-flash) 0x10000 $size $work/read.bin"
    "erase-region|$refuses_erase_region|$(name erase-region) 0x20000 0x4000"
    "erase-flash|$refuses_erase_flash|$(name erase-flash)"
    "run||run"
  )
  for entry in "${commands[@]}"; do
    label=${entry%%|*}
    [[ -z $only || $label =~ $only ]] || continue
    rest=${entry#*|}
    refused=${rest%%|*}
    read -r -a args <<<"${rest#*|}"
    rm -f "$work/read.bin"
    status=0
    started=$(date +%s.%N)
    timeout --kill-after=5 "$command_timeout" "${esptool[@]}" "${common[@]}" "${args[@]}" \
      </dev/null >"$work/out.log" 2>&1 || status=$?
    seconds=$(python3 -c "import time; print(f'{time.time() - $started:.1f}')")
    last=$(last_line "$work/out.log")
    ok=no
    if [[ -n $refused ]]; then
      if [[ $status -ne 0 && $last == *"does not support"* ]]; then
        ok=yes
        last="(expected) $last"
      fi
    elif [[ $status -eq 0 ]]; then
      ok=yes
      if [[ $label == read-flash* ]] && ! cmp -s "$work/random.bin" "$work/read.bin"; then
        ok=no
        last="read back differs from the file: $last"
      fi
    fi
    if [[ $status -eq 124 || $status -eq 137 ]]; then
      last="timed out after $command_timeout s: $last"
    fi
    if [[ $ok == yes ]]; then
      passed=$((passed + 1))
    else
      failed=$((failed + 1))
      last="FAILED: $last"
      cp "$work/out.log" "$work/esptool-$combination-${label// /-}.log"
      keep_logs
      echo "--- $combination $label: esptool output (tail)" >&2
      tail -8 "$work/out.log" >&2
    fi
    echo "| $version | $chip | $mode | $path | $label | $status | $seconds | ${last//|/\\|} |"
  done
}

passed=0
echo "| esptool | chip | mode | path | command | exit | seconds | last line |"
echo "|---|---|---|---|---|---:|---:|---|"
for version in $versions; do
  if [[ $version == v4 ]]; then
    esptool=("$python" "$esptool_v4/esptool.py")
    name() { echo "${1//-/_}"; } # v4: write_flash
  else
    # -P: the current directory does not shadow PYTHONPATH.
    esptool=(env "PYTHONPATH=$esptool_v5" "$python" -P -m esptool)
    name() { echo "$1"; } # v5: write-flash
  fi
  for chip in $chips; do
    for mode in $modes; do
      for front in ${fronts:-direct}; do
        for rtt in $([[ $front == direct ]] && echo 0 || echo "$rtts"); do
          path=$front
          [[ $front == direct ]] || path="$front, $rtt ms"
          combination=$version-$chip-$mode-$front-$rtt
          if ! serve_combination; then
            failed=$((failed + 1))
            keep_logs
            echo "| $version | $chip | $mode | $path | (start) | - | - | FAILED: see the logs |"
            stop_combination
            continue
          fi
          run_commands
          stop_combination
        done
      done
    done
  done
done
echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
