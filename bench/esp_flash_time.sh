#!/usr/bin/env bash
# esp_flash_time.sh: remote flashing against round-trip time. `ttynet esptool` (and, when
# ESPTOOL_PY names one, esptool.py next to it) writes 1 MiB of random data (ttynet with
# --force: every sector), reads the flash ID, and ttynet rewrites the unchanged image (it
# skips the sectors that hold it already), through `ttynet serve --esp` on the simulated ESP32 paced like a real UART
# (`sim://esp32?pace=1`), through tests/e2e/latency_proxy.py adding each round trip in RTTS
# (with JITTER_PCT % jitter). Prints a markdown table: median (min-max) wall-clock seconds over
# the rounds, the ratio to the same job at 0 ms added, and the round trips a job costs,
# (time at RTT - time at 0) / RTT. Loopback only.
#
#   bench/esp_flash_time.sh TTYNET_BINARY
#
# Environment:
#   REPEATS=1              rounds
#   RTTS="0 20 100 300 1000"  added round trips, ms (0 is the reference and always runs)
#   JITTER_PCT=5           jitter of each one-way delay, percent of it
#   BAUD=921600            esptool -b
#   ESPTOOL_PY=            path of esptool.py (run by /usr/bin/python3) to measure beside ttynet
#   JOB_TIMEOUT=300        seconds before one job counts as failed
set -euo pipefail
cd "$(dirname "$0")/.."

ttynet=$(realpath "${1:?usage: bench/esp_flash_time.sh TTYNET_BINARY}")
repeats=${REPEATS:-1}
rtts=${RTTS:-0 20 100 300 1000}
jitter_pct=${JITTER_PCT:-5}
baud=${BAUD:-921600}
esptool_py=${ESPTOOL_PY:-}
job_timeout=${JOB_TIMEOUT:-300}
sim='sim://esp32?pace=1'

source bench/lib.sh

head -c $((1024 * 1024)) /dev/urandom >"$work/random-1MiB.bin"

serve_port=$(free_port)
"$ttynet" serve --esp --bind 127.0.0.1 -p "$serve_port" "$sim" >"$work/serve.log" 2>&1 &
pids+=($!)
wait_listening "$serve_port"

# One proxy per round trip; 0 ms goes straight to the server.
declare -A port_for
for rtt in $rtts; do
  if [[ $rtt == 0 ]]; then
    port_for[$rtt]=$serve_port
    continue
  fi
  start_proxy "$serve_port" "$rtt" "$jitter_pct"
  port_for[$rtt]=$proxy_port
done
[[ -n ${port_for[0]:-} ]] || port_for[0]=$serve_port

# Runs one job; appends "tool|job|rtt|seconds or failed" to the results.
results=$work/results
run_job() {
  local tool=$1 job=$2 rtt=$3
  local port=${port_for[$rtt]}
  local -a command
  case $tool in
    ttynet) command=("$ttynet" esptool -p "rfc2217://127.0.0.1:$port" -b "$baud") ;;
    esptool.py) command=(/usr/bin/python3 "$esptool_py" -p "rfc2217://127.0.0.1:$port?ign_set_control" -b "$baud") ;;
  esac
  case $tool/$job in
    ttynet/write) command+=(write_flash --force 0x0 "$work/random-1MiB.bin") ;;
    */write | */rewrite) command+=(write_flash 0x0 "$work/random-1MiB.bin") ;;
    */flash_id) command+=(flash_id) ;;
  esac
  wait_no_clients "$serve_port"
  echo "esp flash: $tool $job at +$rtt ms" >&2
  local start
  start=$(date +%s.%N)
  if timeout --kill-after=5 "$job_timeout" "${command[@]}" >"$work/job.log" 2>&1; then
    echo "$tool|$job|$rtt|$(python3 -c "print($(date +%s.%N) - $start)")" >>"$results"
  else
    echo "$tool|$job|$rtt|failed" >>"$results"
    tail -3 "$work/job.log" >&2
  fi
}

tools=(ttynet)
[[ -n $esptool_py ]] && tools+=(esptool.py)
for ((round = 1; round <= repeats; round++)); do
  for rtt in $(printf "%s\n" 0 $rtts | sort -nu); do
    for tool in "${tools[@]}"; do
      jobs=(write flash_id)
      [[ $tool == ttynet ]] && jobs+=(rewrite)
      for job in "${jobs[@]}"; do
        run_job "$tool" "$job" "$rtt"
      done
    done
  done
done

echo
echo "### ESP32 remote flashing: 1 MiB random data at $baud baud, and flash_id ($repeats round(s))"
echo
echo "\`ttynet serve --esp '$sim'\` behind tests/e2e/latency_proxy.py (${jitter_pct} % jitter);"
echo "\`TOOL -p rfc2217://... -b $baud write_flash 0x0 random-1MiB.bin\` (ttynet: \`--force\`),"
echo "\`flash_id\`, and ttynet's rewrite of the unchanged image without \`--force\`; seconds,"
echo "median (min-max); x: ratio to the write at +0 ms; RTs: (time - time at +0) / RTT."
echo
python3 - "$results" <<'PY'
import statistics, sys

runs = {}
for line in open(sys.argv[1]):
    tool, job, rtt, value = line.rstrip("\n").split("|")
    runs.setdefault((tool, job, int(rtt)), []).append(None if value == "failed" else float(value))

def median(key):
    good = [v for v in runs.get(key, []) if v is not None]
    return statistics.median(good) if good else None

def cell(key):
    values = runs.get(key, [])
    good = [v for v in values if v is not None]
    if not good:
        return "failed" if values else ""
    text = f"{statistics.median(good):.1f}"
    if len(good) > 1:
        text += f" ({min(good):.1f}-{max(good):.1f})"
    if len(good) < len(values):
        text += f", {len(values) - len(good)} failed"
    return text

tools = sorted({k[0] for k in runs}, key=lambda t: t != "ttynet")
rtts = sorted({k[2] for k in runs})
header = ["added RTT"]
for tool in tools:
    header += [f"{tool} write", "x", "RTs", f"{tool} flash_id"]
    if tool == "ttynet":
        header += ["rewrite", "x"]
print("| " + " | ".join(header) + " |")
print("|" + "---|" + "---:|" * (len(header) - 1))
for rtt in rtts:
    row = [f"{rtt} ms"]
    for tool in tools:
        here, local = median((tool, "write", rtt)), median((tool, "write", 0))
        ratio = f"{here / local:.2f}" if here and local else ""
        trips = f"{(here - local) / (rtt / 1000):.0f}" if here and local and rtt else ""
        row += [cell((tool, "write", rtt)), ratio, trips, cell((tool, "flash_id", rtt))]
        if tool == "ttynet":
            rewrite = median((tool, "rewrite", rtt))
            row += [cell((tool, "rewrite", rtt)),
                    f"{rewrite / local:.2f}" if rewrite and local else ""]
    print("| " + " | ".join(row) + " |")
PY
