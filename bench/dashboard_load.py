#!/usr/bin/python3
"""dashboard_load.py: what the web dashboard costs a busy server. `serve --config` with M ports
(default 64, raw TCP, pseudo-terminals whose far end echoes), each with a client streaming
--rate-kib KiB/s, and one more client on port 0 measuring round trips of 64 bytes one at a time.
Each run is measured twice in fresh server processes: without [http], and with [http] plus
--terminals browser terminals (WebSocket clients, on ports 1..N, reading everything) and one
dashboard event stream open.

Printed per mode: server CPU seconds per MiB echoed, RTT p50 and p90 on port 0, peak RSS, and
what the terminals received. Server CPU is utime+stime from /proc/PID/stat over the window.

usage: bench/dashboard_load.py [--ttynet PATH] [--ports M] [--terminals N] [--seconds S]
                               [--rate-kib K] [--repeats R]
"""

import argparse
import multiprocessing
import os
import selectors
import socket
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import websocket  # noqa: E402

from multiport_resources import (Ptys, cpu_seconds, peak_rss_mib, start, stop,  # noqa: E402
                                 write_ttynet_config)
from multiport_support import free_port_base  # noqa: E402

CHUNK = 1024
PING = bytes(range(64))


def browsers(http_port, terminals, ready, stop_event, result):
    """The browsers, in their own process: N terminals and one dashboard event stream."""
    origin = f"http://127.0.0.1:{http_port}"
    sockets = [websocket.create_connection(f"ws://127.0.0.1:{http_port}/ws/ports/p{i}",
                                           origin=origin, timeout=10)
               for i in range(1, terminals + 1)]
    sockets.append(websocket.create_connection(f"ws://127.0.0.1:{http_port}/ws/events",
                                               origin=origin, timeout=10))
    selector = selectors.DefaultSelector()
    for ws in sockets:
        selector.register(ws.sock, selectors.EVENT_READ, ws)
    ready.set()
    received = 0
    while not stop_event.is_set():
        for key, _ in selector.select(0.2):
            _, data = key.data.recv_data()
            received += len(data)
    for ws in sockets:
        ws.close()
    result.value = received


def run(binary, ports, terminals, seconds, rate_kib, with_http, directory):
    ptys = Ptys(ports)
    base = free_port_base(ports + 1)
    http_port = base + ports if with_http else None
    tables = ["[http]", f'listen = "127.0.0.1:{http_port}"'] if http_port else []
    config = write_ttynet_config(directory, ptys.paths, base, True, tables)
    wanted = list(range(base, base + ports)) + ([http_port] if http_port else [])
    proc, log = start([binary, "serve", "--config", config], os.path.join(directory, "log"),
                      wanted)
    browser = None
    stop_event = multiprocessing.Event()
    received = multiprocessing.Value("q", 0)
    try:
        streams = [socket.create_connection(("127.0.0.1", base + i), timeout=5)
                   for i in range(1, ports)]
        pinger = socket.create_connection(("127.0.0.1", base), timeout=5)
        for client in streams + [pinger]:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.setblocking(False)
        # After the clients: each terminal is then read-only, as a watching browser is.
        if with_http:
            ready = multiprocessing.Event()
            browser = multiprocessing.Process(
                target=browsers, args=(http_port, terminals, ready, stop_event, received))
            browser.start()
            if not ready.wait(30):
                raise SystemExit("the browsers did not connect")
        selector = selectors.DefaultSelector()
        for index, master in enumerate(ptys.masters):
            selector.register(master, selectors.EVENT_READ, ("pty", index))
        for index, client in enumerate(streams):
            selector.register(client, selectors.EVENT_READ, ("stream", index))
        selector.register(pinger, selectors.EVENT_READ, ("ping", 0))
        chunk = bytes(range(256)) * (CHUNK // 256)
        interval = CHUNK / (rate_kib * 1024)
        pending = [b""] * ports
        echoed, rtts, ping_got, ping_sent_at = 0, [], 0, None
        time.sleep(0.5)
        cpu0 = cpu_seconds(proc.pid)
        now = time.monotonic()
        next_send, end = now, now + seconds
        while now < end:
            if ping_sent_at is None:
                pinger.send(PING)
                ping_sent_at, ping_got = time.monotonic(), 0
            if now >= next_send:
                for client in streams:
                    try:
                        client.send(chunk)
                    except BlockingIOError:
                        pass
                next_send += interval
            for key, _ in selector.select(max(0, min(next_send, end) - time.monotonic())):
                kind, index = key.data
                try:
                    if kind == "pty":
                        pending[index] += os.read(ptys.masters[index], 65536)
                    elif kind == "stream":
                        echoed += len(streams[index].recv(65536))
                    else:
                        got = len(pinger.recv(65536))
                        echoed += got
                        ping_got += got
                        if ping_got >= len(PING):
                            rtts.append(time.monotonic() - ping_sent_at)
                            ping_sent_at = None
                except (BlockingIOError, OSError):
                    continue
            for index, data in enumerate(pending):
                if data:
                    try:
                        pending[index] = data[os.write(ptys.masters[index], data):]
                    except BlockingIOError:
                        pass
            now = time.monotonic()
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mib(proc.pid)
        for client in streams + [pinger]:
            client.close()
    finally:
        stop_event.set()
        if browser:
            browser.join(15)
        stop(proc, log)
        ptys.close()
    rtts.sort()
    return {"cpu_per_mib": cpu / (echoed / 2**20), "p50": rtts[len(rtts) // 2] * 1000,
            "p90": rtts[int(len(rtts) * 0.9)] * 1000, "rss": rss, "mib": echoed / 2**20,
            "browser_mib": received.value / 2**20}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttynet", default="build/release/apps/ttynet/ttynet")
    parser.add_argument("--ports", type=int, default=64)
    parser.add_argument("--terminals", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate-kib", type=float, default=64, help="KiB/s per streaming port")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.terminals >= args.ports:
        raise SystemExit("--terminals must be fewer than --ports (port 0 measures the RTT)")
    results = {False: [], True: []}
    for repeat in range(args.repeats):
        for with_http in (False, True):  # interleaved, so drift hits both alike
            with tempfile.TemporaryDirectory() as directory:
                label = "with" if with_http else "without"
                print(f"run {repeat + 1}/{args.repeats}: {label} the dashboard", file=sys.stderr)
                results[with_http].append(run(args.ttynet, args.ports, args.terminals,
                                              args.seconds, args.rate_kib, with_http, directory))

    def median(key, runs):
        return statistics.median(r[key] for r in runs)

    print("| mode | ports | server CPU s/MiB | RTT p50 ms | RTT p90 ms | peak RSS MiB "
          "| echoed MiB | terminals received MiB | runs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for with_http, runs in results.items():
        mode = f"--http, {args.terminals} terminals + dashboard" if with_http else "no --http"
        print(f"| {mode} | {args.ports} | {median('cpu_per_mib', runs):.4f} "
              f"| {median('p50', runs):.3f} | {median('p90', runs):.3f} | {median('rss', runs):.1f} "
              f"| {median('mib', runs):.1f} | {median('browser_mib', runs):.1f} | {len(runs)} |")


if __name__ == "__main__":
    main()
