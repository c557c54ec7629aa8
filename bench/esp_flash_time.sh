#!/usr/bin/env bash
# esp_flash_time.sh: how long `ttynet esptool write_flash` of 1 MiB of random data takes on the
# simulated ESP32 (`sim://esp32?pace=1`, paced like a real UART) directly, through
# `ttynet serve --esp` over RFC 2217, and through the same server behind
# tests/e2e/latency_proxy.py (added round trip). Prints a markdown table: median (min-max) of
# the wall-clock seconds over the rounds, cases interleaved. Loopback only.
#
#   bench/esp_flash_time.sh TTYNET_BINARY
#
# Environment:
#   REPEATS=3     rounds
#   RTT_MS=20     round trip added by the proxy (jitter: none)
#   BAUD=921600   esptool -b
set -euo pipefail
cd "$(dirname "$0")/.."

ttynet=$(realpath "${1:?usage: bench/esp_flash_time.sh TTYNET_BINARY}")
repeats=${REPEATS:-3}
rtt_ms=${RTT_MS:-20}
baud=${BAUD:-921600}
sim='sim://esp32?pace=1'
flash_timeout=300 # seconds per write_flash, a last resort

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

head -c $((1024 * 1024)) /dev/urandom >"$work/random-1MiB.bin"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (at most 10 s) until something listens on 127.0.0.1:$1.
wait_listening() {
  for _ in $(seq 100); do
    if [[ -n $(ss -Hltn "sport = :$1") ]]; then
      return 0
    fi
    sleep 0.1
  done
  echo "esp_flash_time: nothing listens on port $1" >&2
  return 1
}

serve_port=$(free_port)
"$ttynet" serve --esp --bind 127.0.0.1 -p "$serve_port" "$sim" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_listening "$serve_port"

delay=$(python3 -c "print($rtt_ms / 2000)")
python3 tests/e2e/latency_proxy.py --target "127.0.0.1:$serve_port" --delay "$delay" \
  --lifetime 3600 >"$work/proxy.out" 2>"$work/proxy.log" &
pids+=($!)
for _ in $(seq 100); do
  proxy_port=$(sed -n 's/^listening //p' "$work/proxy.out")
  [[ -n $proxy_port ]] && break
  sleep 0.1
done
[[ -n ${proxy_port:-} ]] || { echo "esp_flash_time: the proxy did not start" >&2; exit 1; }

# case name | port URL
cases=(
  "sim://esp32?pace=1 directly|$sim"
  "ttynet serve --esp, loopback|rfc2217://127.0.0.1:$serve_port"
  "ttynet serve --esp, +$rtt_ms ms RTT|rfc2217://127.0.0.1:$proxy_port"
)

results=$work/results
for ((round = 1; round <= repeats; round++)); do
  for entry in "${cases[@]}"; do
    name=${entry%%|*}
    url=${entry#*|}
    echo "esp flash round $round/$repeats: $name" >&2
    start=$(date +%s.%N)
    if timeout --kill-after=5 "$flash_timeout" "$ttynet" esptool -p "$url" -b "$baud" \
      write_flash 0x0 "$work/random-1MiB.bin" >"$work/flash.log" 2>&1; then
      echo "$name|$(python3 -c "print($(date +%s.%N) - $start)")" >>"$results"
    else
      echo "$name|failed" >>"$results"
      tail -3 "$work/flash.log" >&2
    fi
  done
done

echo
echo "### ESP32 flashing, 1 MiB random data at $baud baud ($repeats round(s))"
echo
echo "\`ttynet esptool -p URL -b $baud write_flash 0x0 random-1MiB.bin\`; seconds, median (min-max)"
echo
python3 - "$results" <<'EOF'
import statistics, sys

rows = {}
for line in open(sys.argv[1]):
    name, _, value = line.rstrip("\n").rpartition("|")
    rows.setdefault(name, []).append(None if value == "failed" else float(value))
print("| path | seconds | runs |")
print("|---|---:|---:|")
for name, values in rows.items():
    good = [v for v in values if v is not None]
    cell = ""
    if good:
        cell = f"{statistics.median(good):.1f}"
        if len(good) > 1:
            cell += f" ({min(good):.1f}-{max(good):.1f})"
    failed = len(values) - len(good)
    print(f"| {name} | {cell} | {len(good)}" + (f" ({failed} failed)" if failed else "") + " |")
EOF
