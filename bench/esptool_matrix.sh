#!/usr/bin/env bash
# esptool_matrix.sh: unmodified esptool.py v4.x and v5.x through `ttynet serve --esp` against
# the simulated chips: the commands of a flashing workflow, with the stub and with --no-stub,
# on each chip, each combination on a fresh server. Prints a markdown table (esptool | chip |
# mode | command | exit | last line) and "N passed, M failed". Loopback only; every wait bounded.
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
#
# Exit status 0 when every command passed. Without the stub, esptool refuses some commands
# before sending anything ("... ROM does not support function erase_flash"); such a refusal
# where one is expected counts as passed. When something failed, the server logs (one per
# combination) stay in the temporary directory the last line names.
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
command_timeout=120                # seconds per esptool command

work=$(mktemp -d)
server_pid=
failed=0
stop_server() {
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do # 5 s for SIGTERM, then SIGKILL
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
cleanup() {
  stop_server
  if [[ $failed -eq 0 ]]; then
    rm -rf "$work"
  else
    echo "esptool_matrix: server logs kept in $work" >&2
  fi
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until something listens on 127.0.0.1:$1.
wait_listening() {
  timeout 10 bash -c "until [[ -n \$(ss -Hltn 'sport = :$1') ]]; do sleep 0.1; done" && return 0
  echo "esptool_matrix: nothing listens on port $1" >&2
  return 1
}

# The last line that says something: ANSI codes and carriage returns (progress) removed, and
# without the notes every command ends with (VID/PID of a URL port, the hard reset).
last_line() {
  tr '\r' '\n' <"$1" | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' |
    grep -v -e '^[[:space:]]*$' -e 'PID identification is only supported' -e '^Hard resetting' |
    tail -1 || true
}

head -c $((200 * 1024)) /dev/urandom >"$work/random.bin"
# Compressible (64 KiB random, then a repeated pattern): esptool v5 sends an image that does
# not compress uncompressed, so random.bin alone never tests v5's compressed path.
{
  head -c $((64 * 1024)) /dev/urandom
  python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 544)"
} >"$work/compressible.bin"

passed=0
echo "| esptool | chip | mode | command | exit | last line |"
echo "|---|---|---|---|---:|---|"
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
      combination=$version-$chip-$mode
      log=$work/serve-$combination.log
      port=$(free_port)
      url="sim://$chip?boot=app${sim_opts:+&$sim_opts}"
      "$ttynet" serve --esp --bind 127.0.0.1 -p "$port" "$url" >"$log" 2>&1 &
      server_pid=$!
      if ! wait_listening "$port"; then
        tail -20 "$log" >&2
        failed=$((failed + 1))
        echo "| $version | $chip | $mode | (server start) | - | FAILED: port $port not listening |"
        stop_server
        continue
      fi
      common=(--port "rfc2217://127.0.0.1:$port?ign_set_control" -b "$baud")
      [[ $mode == no-stub ]] && common+=(--no-stub)
      # Refused by esptool without the stub: v4 both erases, v5 erase-flash only (v5 erases a
      # region through the ROM's FLASH_BEGIN).
      refuses_erase_flash=''
      refuses_erase_region=''
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
        "write-flash compressible||$(name write-flash) 0x80000 $work/compressible.bin"
        "verify-flash random||$(name verify-flash) 0x10000 $work/random.bin"
        "read-flash 64 KiB||$(name read-flash) 0x10000 0x10000 $work/read.bin"
        "erase-region|$refuses_erase_region|$(name erase-region) 0x20000 0x4000"
        "erase-flash|$refuses_erase_flash|$(name erase-flash)"
        "run||run"
      )
      for entry in "${commands[@]}"; do
        label=${entry%%|*}
        rest=${entry#*|}
        refused=${rest%%|*}
        read -r -a args <<<"${rest#*|}"
        rm -f "$work/read.bin"
        status=0
        timeout --kill-after=5 "$command_timeout" "${esptool[@]}" "${common[@]}" "${args[@]}" \
          </dev/null >"$work/out.log" 2>&1 || status=$?
        last=$(last_line "$work/out.log")
        ok=no
        if [[ -n $refused ]]; then
          if [[ $status -ne 0 && $last == *"does not support"* ]]; then
            ok=yes
            last="(expected) $last"
          fi
        elif [[ $status -eq 0 ]]; then
          ok=yes
          if [[ $label == read-flash* ]] &&
            ! cmp -s <(head -c 65536 "$work/random.bin") "$work/read.bin"; then
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
          {
            echo "--- $combination $label: esptool output (tail)"
            tail -8 "$work/out.log"
            echo "--- server log $log (tail)"
            tail -10 "$log"
          } >&2
        fi
        echo "| $version | $chip | $mode | $label | $status | ${last//|/\\|} |"
      done
      stop_server
    done
  done
done
echo
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
