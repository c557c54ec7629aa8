#!/usr/bin/env bash
# compare.sh: ttynet against ser2net and socat on this machine, in one run.
#
# Builds ttynet and serial_server_bench (Release), then runs the configurations below in turn,
# REPEATS rounds interleaved (so a slow period of the machine hits every server alike), each
# once on one port and once on PORTS ports at the same time, and prints markdown tables: the
# median of each figure with its spread (min-max) over the rounds.
# The TLS rows ("ttynet TLS", "socat TLS": raw bytes over TLS) use certificates made once per
# run by tests/tls/make_certs.sh; the bench's client verifies the server's certificate against
# that CA. They are skipped without the openssl command (or socat without OpenSSL).
#
# Environment:
#   REPEATS=3      rounds
#   MIB=16         MiB per throughput measurement (echo, network->device, device->network)
#   ITERATIONS=2000  32-byte round trips per RTT measurement (after WARMUP=200 unmeasured)
#   CONNECTS=20    connections per negotiation measurement (RFC 2217 only)
#   PORTS=64       ports served at once in the many-port runs (0: skip them)
#   PORTS_MIB=32   MiB echoed in total over those ports
#   BUILD_DIR=build/release   build directory (relative to the repository root)
#   TTYNET=path    measure this ttynet binary instead of the one built in BUILD_DIR
#   RESULTS=path   also keep the raw results there (one JSON object per run and line)
#   ESP_REPEATS=0  rounds of bench/esp_flash_time.sh (1 MiB write_flash on sim://esp32?pace=1,
#                  direct, through `serve --esp`, and with RTT_MS=20 added), after the rest
# Quick run: REPEATS=1 MIB=2 ITERATIONS=300 CONNECTS=5 PORTS=8 PORTS_MIB=4 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

repeats=${REPEATS:-3}
mib=${MIB:-16}
iterations=${ITERATIONS:-2000}
warmup=${WARMUP:-200}
connects=${CONNECTS:-20}
ports=${PORTS:-64}
ports_mib=${PORTS_MIB:-32}
build_dir=${BUILD_DIR:-build/release}
run_timeout=900 # seconds; the bench bounds every wait itself, this is a last resort

echo "building ttynet and serial_server_bench in $build_dir (Release)" >&2
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTTYNET_TESTS=OFF \
  -DTTYNET_BENCH=ON >/dev/null
if [[ -n ${TTYNET:-} ]]; then
  ninja -C "$build_dir" serial_server_bench >&2
  ttynet=$(realpath "$TTYNET")
else
  ninja -C "$build_dir" ttynet serial_server_bench >&2
  ttynet=$PWD/$build_dir/apps/ttynet/ttynet
fi
bench=$build_dir/bench/serial_server_bench
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

have() { command -v "$1" >/dev/null 2>&1; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
results=$scratch/results.jsonl
: >"$results"
if [[ -n ${RESULTS:-} ]]; then
  : >"$RESULTS"
fi

# Server certificate (names localhost and 127.0.0.1) and the CA the client trusts; empty
# without openssl, which skips the TLS rows.
certs=
if have openssl; then
  certs=$scratch/certs
  tests/tls/make_certs.sh "$certs"
fi
cert=$certs/server.pem
key=$certs/server.key
ca=$certs/ca.pem

# runs (one: one port, many: PORTS ports, both) | name | client protocol | bench arguments
# selecting the server (and the client's TLS). ttynet serves many ports from one process
# (`serve --config`, TLS from tls_cert and tls_key in its [defaults]), as ser2net does; socat
# needs a process per port. socat serves one connection and ends, as without TLS: the bench
# makes only one connection per port in raw mode.
configs=(
  "one|ttynet|rfc2217|--server|$ttynet serve --bind 127.0.0.1 -p {port} {device}"
  "one|ttynet|raw|--server|$ttynet serve --bind 127.0.0.1 --raw -p {port} {device}"
  "many|ttynet|rfc2217|--ttynet-config|$ttynet"
  "many|ttynet|raw|--ttynet-config|$ttynet"
  "both|ser2net defaults|rfc2217|--ser2net|rfc2217"
  "both|ser2net tuned|rfc2217|--ser2net|rfc2217|--tuned"
  "both|ser2net defaults|raw|--ser2net|raw"
  "both|ser2net tuned|raw|--ser2net|raw|--tuned"
  "both|socat|raw|--server|socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay {device},raw,echo=0"
  "one|ttynet TLS|raw|--server|$ttynet serve --bind 127.0.0.1 --raw -p {port} --tls-cert $cert --tls-key $key {device}|--tls-ca|$ca"
  "many|ttynet TLS|raw|--ttynet-config|$ttynet|--tls-cert|$cert|--tls-key|$key|--tls-ca|$ca"
  "both|socat TLS|raw|--server|socat OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,nodelay,cert=$cert,key=$key,verify=0 {device},raw,echo=0|--tls-ca|$ca"
)

port_counts=(1)
if ((ports > 1)); then
  port_counts+=("$ports")
fi

for ((round = 1; round <= repeats; round++)); do
  for config in "${configs[@]}"; do
    IFS='|' read -r -a fields <<<"$config"
    runs=${fields[0]}
    name=${fields[1]}
    protocol=${fields[2]}
    server_args=("${fields[@]:3}")
    case $name in
      ser2net*) have ser2net || { echo "skip: $name ($protocol): ser2net not installed" >&2; continue; } ;;
      socat*) have socat || { echo "skip: $name: socat not installed" >&2; continue; } ;;
    esac
    if [[ $name == *TLS ]]; then
      [[ -n $certs ]] || { echo "skip: $name: openssl not installed" >&2; continue; }
      if [[ $name == socat* && $(socat -V 2>/dev/null) != *"WITH_OPENSSL 1"* ]]; then
        echo "skip: $name: socat built without OpenSSL" >&2
        continue
      fi
    fi
    # One port with every figure, then (PORTS > 1) all ports at once.
    for n in "${port_counts[@]}"; do
      if [[ $runs == one && $n != 1 ]] || [[ $runs == many && $n == 1 ]]; then
        continue
      fi
      if ((n == 1)); then
        size=(--mib "$mib" --iterations "$iterations" --warmup "$warmup" --connects "$connects")
      else
        size=(--mib "$ports_mib" --ports "$n")
      fi
      echo "round $round/$repeats: $name ($protocol), $n port(s)" >&2
      if ! line=$(timeout --kill-after=5 "$run_timeout" "$bench" "${server_args[@]}" \
        --protocol "$protocol" --label "$name" "${size[@]}" --json); then
        echo "{\"label\": \"$name\", \"protocol\": \"$protocol\", \"ports\": $n, \"failed\": true}" >>"$results"
      else
        echo "$line" >>"$results"
      fi
      if [[ -n ${RESULTS:-} ]]; then
        tail -1 "$results" >>"$RESULTS"
      fi
    done
  done
done

echo
echo "## serial-over-TCP servers on ptys, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), kernel $(uname -r)"
echo "- load average before: $load_before; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $("$ttynet" --version 2>/dev/null | head -1 || echo 'ttynet ?'); $(ser2net -v 2>/dev/null | head -1 || echo 'ser2net ?'); $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/socat \1/p' || echo 'socat ?')"
echo "- $repeats round(s), interleaved; RTT: $iterations x 32 bytes after $warmup unmeasured;" \
  "throughput: $mib MiB per direction; negotiation: median of $connects connects;" \
  "many ports: $ports ports, $ports_mib MiB echoed in total"
echo "- each cell: median (min-max) over the rounds; CPU s/MiB = server user+system seconds per MiB of payload"
echo "- TLS rows: raw bytes over TLS 1.2+ as client and server negotiate (the bench's client: $(openssl version 2>/dev/null | cut -d' ' -f1-2 || echo 'OpenSSL ?')), ECDSA P-256 server certificate"
python3 - "$results" <<'EOF'
import json, statistics, sys

runs = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
one_port = lambda run: run.get("ports", 1) == 1
tables = [
    ("One port: latency, negotiation, memory", one_port, [
        ("rtt_p50_us", "RTT p50 µs", "{:.0f}"),
        ("rtt_p99_us", "RTT p99 µs", "{:.0f}"),
        ("rtt_max_us", "RTT max µs", "{:.0f}"),
        ("negotiation_ms", "negotiation ms", "{:.2f}"),
        ("peak_rss_kib", "server RSS KiB", "{:.0f}"),
    ]),
    ("One port: throughput and server CPU per direction", one_port, [
        ("net_to_dev_mb_s", "net→dev MB/s", "{:.1f}"),
        ("dev_to_net_mb_s", "dev→net MB/s", "{:.1f}"),
        ("throughput_mb_s", "echo MB/s", "{:.1f}"),
        ("net_to_dev_cpu_s_per_mib", "net→dev CPU s/MiB", "{:.4f}"),
        ("dev_to_net_cpu_s_per_mib", "dev→net CPU s/MiB", "{:.4f}"),
        ("cpu_s_per_mib", "echo CPU s/MiB", "{:.4f}"),
        ("bench_cpu_s_per_mib", "bench CPU s/MiB (echo)", "{:.4f}"),
    ]),
    ("Many ports at once (echo on every port)", lambda run: not one_port(run), [
        ("ports", "ports", "{:.0f}"),
        ("negotiation_ms", "all negotiated ms", "{:.1f}"),
        ("throughput_mb_s", "aggregate echo MB/s", "{:.1f}"),
        ("cpu_s_per_mib", "server CPU s/MiB", "{:.4f}"),
        ("peak_rss_kib", "server RSS KiB (sum)", "{:.0f}"),
    ]),
]
for title, selects, columns in tables:
    chosen = [run for run in runs if selects(run)]
    if not chosen:
        continue
    order = []
    for run in chosen:
        if (run["label"], run["protocol"]) not in order:
            order.append((run["label"], run["protocol"]))
    print(f"\n### {title}\n")
    print("| server | protocol | " + " | ".join(name for _, name, _ in columns) + " | runs |")
    print("|---|---|" + "---:|" * len(columns) + "---:|")
    for label, protocol in order:
        mine = [r for r in chosen if (r["label"], r["protocol"]) == (label, protocol)]
        good = [r for r in mine if not r.get("failed")]
        cells = []
        for key, _, form in columns:
            values = [r[key] for r in good if r.get(key) is not None]
            if not values:
                cells.append("")
                continue
            low, high = form.format(min(values)), form.format(max(values))
            spread = f" ({low}-{high})" if low != high else ""
            cells.append(form.format(statistics.median(values)) + spread)
        failed = len(mine) - len(good)
        runs_cell = f"{len(good)}" + (f" ({failed} failed)" if failed else "")
        print(f"| {label} | {protocol} | " + " | ".join(cells) + f" | {runs_cell} |")
EOF

esp_repeats=${ESP_REPEATS:-0}
if ((esp_repeats > 0)); then
  REPEATS=$esp_repeats bench/esp_flash_time.sh "$ttynet"
fi
