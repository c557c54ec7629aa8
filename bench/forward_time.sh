#!/usr/bin/env bash
# forward_time.sh: unmodified esptool.py through `ttynet forward` against round-trip time.
# esptool.py writes 1 MiB of random data at BAUD, reads it back, and reads the flash ID:
#   - locally, on `ttynet sim --pace` (a pseudo-terminal: esptool's own local speed);
#   - through `ttynet forward` (the socket:// front, --raw, and the rfc2217:// front) to
#     `ttynet serve --esp 'sim://esp32?pace=1'` behind tests/e2e/latency_proxy.py adding each
#     round trip in RTTS (JITTER_PCT % jitter);
# for each esptool in ESPTOOLS. Prints a markdown table of wall-clock seconds (median over
# REPEATS rounds) and each write's ratio to that esptool's local write. Loopback only.
#
#   bench/forward_time.sh TTYNET_BINARY
#
# Environment:
#   ESPTOOLS="v4.8.1=/opt/esptool-v4.8.1 v5.3.1=/opt/esptool-v5.3.1"  label=source directory
#   RTTS="0 100 300"   added round trips, ms
#   REPEATS=1  JITTER_PCT=5  BAUD=921600  JOB_TIMEOUT=300
set -euo pipefail
cd "$(dirname "$0")/.."

ttynet=$(realpath "${1:?usage: bench/forward_time.sh TTYNET_BINARY}")
esptools=${ESPTOOLS:-v4.8.1=/opt/esptool-v4.8.1 v5.3.1=/opt/esptool-v5.3.1}
rtts=${RTTS:-0 100 300}
repeats=${REPEATS:-1}
jitter_pct=${JITTER_PCT:-5}
baud=${BAUD:-921600}
job_timeout=${JOB_TIMEOUT:-300}
python=/usr/bin/python3 # Debian's, which has python3-serial

source bench/lib.sh

head -c $((1024 * 1024)) /dev/urandom >"$work/random-1MiB.bin"

"$ttynet" sim --pace --pty "$work/chip" >"$work/sim.log" 2>&1 &
pids+=($!)
serve_port=$(free_port)
"$ttynet" serve --esp --bind 127.0.0.1 -p "$serve_port" 'sim://esp32?pace=1' >"$work/serve.log" 2>&1 &
pids+=($!)
wait_listening "$serve_port"
for _ in $(seq 100); do [[ -e $work/chip ]] && break; sleep 0.1; done

# Per round trip: a proxy (none at 0) and two forwarders in front of it.
declare -A raw_port rfc_port
for rtt in $rtts; do
  far=$serve_port
  if [[ $rtt != 0 ]]; then
    start_proxy "$serve_port" "$rtt" "$jitter_pct"
    far=$proxy_port
  fi
  raw_port[$rtt]=$(free_port)
  "$ttynet" forward --raw -p "${raw_port[$rtt]}" "rfc2217://127.0.0.1:$far" >"$work/forward-raw-$rtt.log" 2>&1 &
  pids+=($!)
  rfc_port[$rtt]=$(free_port)
  "$ttynet" forward -p "${rfc_port[$rtt]}" "rfc2217://127.0.0.1:$far" >"$work/forward-rfc-$rtt.log" 2>&1 &
  pids+=($!)
  wait_listening "${raw_port[$rtt]}"
  wait_listening "${rfc_port[$rtt]}"
done

results=$work/results
# run_job LABEL DIR WHERE JOB: WHERE is local, raw-RTT or rfc2217-RTT.
run_job() {
  local label=$1 dir=$2 where=$3 job=$4 port
  local -a command=("$python")
  if [[ $label == v4* ]]; then
    command+=("$dir/esptool.py")
  else
    command=(env "PYTHONPATH=$dir" "$python" -P -m esptool)
  fi
  case $where in
    local) port=$work/chip ;;
    raw-*) port=socket://127.0.0.1:${raw_port[${where#raw-}]} ;;
    rfc2217-*) port="rfc2217://127.0.0.1:${rfc_port[${where#rfc2217-}]}?ign_set_control" ;;
  esac
  command+=(--port "$port" -b "$baud")
  local write=write_flash read=read_flash id=flash_id
  [[ $label == v5* ]] && write=write-flash read=read-flash id=flash-id
  rm -f "$work/read.bin"
  case $job in
    write) command+=("$write" 0x10000 "$work/random-1MiB.bin") ;;
    read) command+=("$read" 0x10000 $((1024 * 1024)) "$work/read.bin") ;;
    flash_id) command+=("$id") ;;
  esac
  wait_no_clients "$serve_port"
  echo "forward_time: esptool $label $job $where" >&2
  local start
  start=$(date +%s.%N)
  if timeout --kill-after=5 "$job_timeout" "${command[@]}" >"$work/job.log" 2>&1 &&
    { [[ $job != write ]] || grep -q "Hash of data verified" "$work/job.log"; } &&
    { [[ $job != read ]] || cmp -s "$work/random-1MiB.bin" "$work/read.bin"; }; then
    echo "$label|$where|$job|$(python3 -c "print($(date +%s.%N) - $start)")" >>"$results"
  else
    echo "$label|$where|$job|failed" >>"$results"
    tail -3 "$work/job.log" >&2
  fi
}

for ((round = 1; round <= repeats; round++)); do
  for entry in $esptools; do
    label=${entry%%=*} dir=${entry#*=}
    for job in write read flash_id; do
      run_job "$label" "$dir" local "$job"
      for rtt in $rtts; do
        run_job "$label" "$dir" "raw-$rtt" "$job"
        run_job "$label" "$dir" "rfc2217-$rtt" "$job"
      done
    done
  done
done

python3 - "$results" "$rtts" <<'PY'
import statistics, sys
rows = [line.strip().split("|") for line in open(sys.argv[1])]
rtts = sys.argv[2].split()
def median(label, where, job):
    values = [float(r[3]) for r in rows if r[:3] == [label, where, job] and r[3] != "failed"]
    failed = any(r[:3] == [label, where, job] and r[3] == "failed" for r in rows)
    return None if failed or not values else statistics.median(values)
def cell(value):
    return "failed" if value is None else f"{value:.1f}"
print("| esptool | path | added RTT | write 1 MiB (s) | x local write | read 1 MiB (s) "
      "| x local read | flash_id (s) |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
def ratio(value, local):
    return f"{value / local:.2f}" if value and local else ""
for label in dict.fromkeys(r[0] for r in rows):
    local = median(label, "local", "write")
    local_read = median(label, "local", "read")
    print(f"| {label} | local pty | - | {cell(local)} | 1.00 | {cell(local_read)} | 1.00 "
          f"| {cell(median(label, 'local', 'flash_id'))} |")
    for front, name in (("raw", "forward, socket://"), ("rfc2217", "forward, rfc2217://")):
        for rtt in rtts:
            write = median(label, f"{front}-{rtt}", "write")
            read = median(label, f"{front}-{rtt}", "read")
            flash_id = median(label, f"{front}-{rtt}", "flash_id")
            print(f"| {label} | {name} | {rtt} ms | {cell(write)} | {ratio(write, local)} "
                  f"| {cell(read)} | {ratio(read, local_read)} | {cell(flash_id)} |")
PY
