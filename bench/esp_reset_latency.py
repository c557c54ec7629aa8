#!/usr/bin/python3
"""esp_reset_latency.py: how often an esptool-style connect (classic reset, then SYNC) reaches
the ROM loader of the simulated ESP32 through `ttynet serve`, with and without `--esp`, at
added round-trip times, with pyserial's rfc2217:// client and ttynet's. Prints a markdown table.

    bench/esp_reset_latency.py --ttynet build/release/apps/ttynet/ttynet \\
        --probe build/release/tests/e2e/esp_connect_probe [--attempts 20] [--rtt 0,0.05,...]

The device is `sim://esp32?boot=app`: a quick board (straps sampled 5 ms after EN rises), the
case a plain server cannot serve over a network. Latency comes from tests/e2e/latency_proxy.py
(half the round trip each way, jitter 5 % of it). Clients use `?ign_set_control` (pyserial's
recommended form for esptool); an attempt succeeds when the download-mode boot message came
after the reset and a SYNC was answered.
"""

import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))

import esp_connect  # noqa: E402
import support  # noqa: E402

DEVICE = "sim://esp32?boot=app"


def measure(server_args, rtt, client, attempts):
    server = support.Server(*server_args, DEVICE)
    proxy = None
    try:
        front = server
        if rtt > 0:
            proxy = esp_connect.LatencyProxy(server.port, delay=rtt / 2, jitter=rtt / 20)
            front = proxy
        run = esp_connect.pyserial_attempts if client == "pyserial" else esp_connect.ttynet_attempts
        return run(front.url(options="?ign_set_control"), attempts, rtt + 1.0)
    finally:
        if proxy:
            proxy.stop()
        server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ttynet", required=True, help="the ttynet binary")
    parser.add_argument("--probe", required=True, help="the esp_connect_probe binary")
    parser.add_argument("--attempts", type=int, default=20)
    parser.add_argument("--rtt", default="0,0.05,0.2,0.5,1.0",
                        help="added round-trip times in seconds, comma-separated")
    args = parser.parse_args()
    support.TTYNET = os.path.abspath(args.ttynet)
    esp_connect.PROBE = os.path.abspath(args.probe)
    rtts = [float(value) for value in args.rtt.split(",")]

    print("| added RTT | client | `serve --esp` success | `serve --esp` s/connect (median)"
          " | plain `serve` success |")
    print("|---|---|---|---|---|")
    for rtt in rtts:
        for client in ("pyserial", "ttynet"):
            esp_ok, esp_seconds = measure(["--esp"], rtt, client, args.attempts)
            plain_ok, _ = measure([], rtt, client, args.attempts)
            print(f"| {rtt * 1000:.0f} ms | {client} | {esp_ok}/{args.attempts} "
                  f"| {statistics.median(esp_seconds):.2f} | {plain_ok}/{args.attempts} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
