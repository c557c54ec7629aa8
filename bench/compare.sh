#!/usr/bin/env bash
# compare.sh: ttynet against ser2net and socat on this machine, in one run.
#
# Builds ttynet and serial_server_bench (Release), then runs the configurations below in turn,
# REPEATS rounds interleaved (so a slow period of the machine hits every server alike), and
# prints a markdown table: the median of each figure with its spread (min-max) over the rounds.
#
# Environment:
#   REPEATS=3      rounds
#   MIB=16         MiB echoed per throughput measurement
#   ITERATIONS=2000  32-byte round trips per RTT measurement (after WARMUP=200 unmeasured)
#   CONNECTS=20    connections per negotiation measurement (RFC 2217 only)
#   BUILD_DIR=build/release   build directory (relative to the repository root)
# Quick run: REPEATS=1 MIB=2 ITERATIONS=300 CONNECTS=5 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

repeats=${REPEATS:-3}
mib=${MIB:-16}
iterations=${ITERATIONS:-2000}
warmup=${WARMUP:-200}
connects=${CONNECTS:-20}
build_dir=${BUILD_DIR:-build/release}
run_timeout=900 # seconds; the bench bounds every wait itself, this is a last resort

echo "building ttynet and serial_server_bench in $build_dir (Release)" >&2
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTTYNET_TESTS=OFF >/dev/null
ninja -C "$build_dir" ttynet serial_server_bench >&2

bench=$build_dir/bench/serial_server_bench
ttynet=$PWD/$build_dir/apps/ttynet/ttynet

# name | client protocol | bench arguments selecting the server
configs=(
  "ttynet|rfc2217|--server|$ttynet serve --bind 127.0.0.1 -p {port} {device}"
  "ttynet|raw|--server|$ttynet serve --bind 127.0.0.1 --raw -p {port} {device}"
  "ser2net defaults|rfc2217|--ser2net|rfc2217"
  "ser2net tuned|rfc2217|--ser2net|rfc2217|--tuned"
  "ser2net defaults|raw|--ser2net|raw"
  "ser2net tuned|raw|--ser2net|raw|--tuned"
  "socat|raw|--server|socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay {device},raw,echo=0"
)

have() { command -v "$1" >/dev/null 2>&1; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT

for ((round = 1; round <= repeats; round++)); do
  for config in "${configs[@]}"; do
    IFS='|' read -r -a fields <<<"$config"
    name=${fields[0]}
    protocol=${fields[1]}
    server_args=("${fields[@]:2}")
    case $name in
      ser2net*) have ser2net || { echo "skip: $name ($protocol): ser2net not installed" >&2; continue; } ;;
      socat) have socat || { echo "skip: socat: not installed" >&2; continue; } ;;
    esac
    echo "round $round/$repeats: $name ($protocol)" >&2
    if ! line=$(timeout --kill-after=5 "$run_timeout" "$bench" "${server_args[@]}" \
      --protocol "$protocol" --label "$name" --iterations "$iterations" --warmup "$warmup" \
      --mib "$mib" --connects "$connects" --json); then
      echo "{\"label\": \"$name\", \"protocol\": \"$protocol\", \"failed\": true}" >>"$results"
      continue
    fi
    echo "$line" >>"$results"
  done
done

echo
echo "## serial-over-TCP servers on a pty echo, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)"
echo "- load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $("$ttynet" --version 2>/dev/null | head -1 || echo 'ttynet ?'); $(ser2net -v 2>/dev/null | head -1 || echo 'ser2net ?'); $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p' || echo 'socat ?')"
echo "- $repeats round(s), interleaved; RTT: $iterations x 32 bytes after $warmup unmeasured;" \
  "throughput: $mib MiB echoed; negotiation: median of $connects connects"
echo "- each cell: median (min-max) over the rounds; CPU s/MiB = user+system seconds per MiB echoed"
echo
python3 - "$results" <<'EOF'
import json, statistics, sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
columns = [
    ("rtt_p50_us", "RTT p50 µs", "{:.0f}"),
    ("rtt_p99_us", "RTT p99 µs", "{:.0f}"),
    ("rtt_max_us", "RTT max µs", "{:.0f}"),
    ("throughput_mb_s", "MB/s", "{:.1f}"),
    ("cpu_s_per_mib", "server CPU s/MiB", "{:.3f}"),
    ("bench_cpu_s_per_mib", "bench CPU s/MiB", "{:.3f}"),
    ("peak_rss_kib", "server RSS KiB", "{:.0f}"),
    ("negotiation_ms", "negotiation ms", "{:.2f}"),
]
order = []
for run in runs:
    key = (run["label"], run["protocol"])
    if key not in order:
        order.append(key)

print("| server | protocol | " + " | ".join(title for _, title, _ in columns) + " | runs |")
print("|---|---|" + "---:|" * len(columns) + "---:|")
for label, protocol in order:
    mine = [r for r in runs if (r["label"], r["protocol"]) == (label, protocol)]
    good = [r for r in mine if not r.get("failed")]
    cells = []
    for key, _, form in columns:
        values = [r[key] for r in good if r.get(key) is not None]
        if not values:
            cells.append("")
            continue
        median = form.format(statistics.median(values))
        spread = f" ({form.format(min(values))}-{form.format(max(values))})" if len(values) > 1 else ""
        cells.append(median + spread)
    failed = len(mine) - len(good)
    runs_cell = f"{len(good)}" + (f" ({failed} failed)" if failed else "")
    print(f"| {label} | {protocol} | " + " | ".join(cells) + f" | {runs_cell} |")
EOF
