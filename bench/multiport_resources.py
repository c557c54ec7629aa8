#!/usr/bin/python3
"""multiport_resources.py: memory and CPU of a multi-port serial server, ttynet
(`serve --config`) next to ser2net (YAML with one connection per port), on pseudo-terminals.

Two scenarios per server, each in a fresh server process:
  idle  N ports (default 256) listening, no clients, for --seconds: peak RSS, CPU time
  busy  M ports (default 64), raw TCP, each with one client sending --rate-kib KiB/s in 1 KiB
        chunks that the pty's far end echoes back: peak RSS, CPU time, bytes echoed

Server CPU is utime+stime of the server process (all threads) over the measured window, from
/proc/PID/stat; peak RSS is VmHWM from /proc/PID/status at the end. Idle ports are served as
RFC 2217 (ser2net: telnet(rfc2217),tcp accepter), busy ports as raw TCP (ser2net: tcp), so no
client needs to speak Telnet. ser2net opens a device only when a client connects; ttynet opens
every device at start and reads it continuously.

usage: bench/multiport_resources.py [--ttynet PATH] [--ser2net PATH] [--idle N] [--busy M]
                                    [--seconds S] [--rate-kib K]
"""

import argparse
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tty

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from multiport_support import free_port_base  # noqa: E402
from support import end_process, listening_ports  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
CHUNK = 1024

class Ptys:
    def __init__(self, count):
        self.masters, self.slaves, self.paths = [], [], []
        for _ in range(count):
            master, slave = os.openpty()
            tty.setraw(slave)
            os.set_blocking(master, False)
            self.masters.append(master)
            self.slaves.append(slave)  # held open: the master never sees EIO
            self.paths.append(os.ttyname(slave))

    def close(self):
        for fd in self.masters + self.slaves:
            os.close(fd)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_ttynet_config(directory, paths, base, raw, tables=()):
    """ports.toml serving `paths` as p0, p1, ... on base, base+1, ...; `tables` are lines
    added before the ports ([http], say). Returns its path."""
    lines = ['[defaults]', 'bind = "127.0.0.1"', f'protocol = "{"raw" if raw else "rfc2217"}"']
    lines += list(tables)
    for index, path in enumerate(paths):
        lines += ["[[port]]", f'name = "p{index}"', f'device = "{path}"',
                  f"tcp_port = {base + index}"]
    config = os.path.join(directory, "ports.toml")
    with open(config, "w") as file:
        file.write("\n".join(lines) + "\n")
    return config


def ttynet_command(binary, directory, paths, base, raw):
    return [binary, "serve", "--config", write_ttynet_config(directory, paths, base, raw)]


def ser2net_command(binary, directory, paths, base, raw):
    lines = ["%YAML 1.1", "---"]
    for index, path in enumerate(paths):
        accepter = f"tcp,127.0.0.1,{base + index}"
        if not raw:
            accepter = "telnet(rfc2217)," + accepter
        lines += [f"connection: &p{index}", f"  accepter: {accepter}",
                  f"  connector: serialdev,{path},115200n81,local"]
    config = os.path.join(directory, "ser2net.yaml")
    with open(config, "w") as file:
        file.write("\n".join(lines) + "\n")
    return [binary, "-n", "-d", "-u", "-P", os.path.join(directory, "ser2net.pid"), "-c", config]


def start(command, log_path, ports):
    log = open(log_path, "w")
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    wanted = set(ports)
    while not wanted <= listening_ports():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"{command[0]} did not listen on all ports; see {log_path}")
        time.sleep(0.05)
    return proc, log


def stop(proc, log):
    end_process(proc, 15)
    log.close()


def idle(command_for, count, seconds, directory):
    ptys = Ptys(count)
    base = free_port_base(count)
    try:
        proc, log = start(command_for(directory, ptys.paths, base, False),
                          os.path.join(directory, "idle.log"), range(base, base + count))
        time.sleep(1)  # settle after start-up
        cpu0 = cpu_seconds(proc.pid)
        time.sleep(seconds)
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mib(proc.pid)
        stop(proc, log)
        return {"rss": rss, "cpu": cpu, "bytes": 0}
    finally:
        ptys.close()


def busy(command_for, count, seconds, rate_kib, directory):
    ptys = Ptys(count)
    base = free_port_base(count)
    try:
        proc, log = start(command_for(directory, ptys.paths, base, True),
                          os.path.join(directory, "busy.log"), range(base, base + count))
        clients = [socket.create_connection(("127.0.0.1", base + i), timeout=5)
                   for i in range(count)]
        for client in clients:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.setblocking(False)
        selector = selectors.DefaultSelector()
        for index, master in enumerate(ptys.masters):
            selector.register(master, selectors.EVENT_READ, ("pty", index))
        for index, client in enumerate(clients):
            selector.register(client, selectors.EVENT_READ, ("client", index))
        chunk = bytes(range(256)) * (CHUNK // 256)
        interval = CHUNK / (rate_kib * 1024)
        echoed = 0
        sent = 0
        pending = [b""] * count  # device echo not yet written back
        time.sleep(0.5)  # ser2net opens each device as its client connects
        cpu0 = cpu_seconds(proc.pid)
        start_time = time.monotonic()
        next_send = start_time
        end = start_time + seconds
        while True:
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_send:
                for client in clients:
                    try:
                        sent += client.send(chunk)
                    except BlockingIOError:
                        pass
                next_send += interval
            for key, _ in selector.select(max(0, min(next_send, end) - time.monotonic())):
                kind, index = key.data
                if kind == "pty":
                    try:
                        data = os.read(ptys.masters[index], 65536)
                        pending[index] += data
                    except (BlockingIOError, OSError):
                        continue
                else:
                    try:
                        data = clients[index].recv(65536)
                        echoed += len(data)
                    except BlockingIOError:
                        pass
            for index, data in enumerate(pending):
                if data:
                    try:
                        written = os.write(ptys.masters[index], data)
                        pending[index] = data[written:]
                    except BlockingIOError:
                        pass
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mib(proc.pid)
        for client in clients:
            client.close()
        stop(proc, log)
        return {"rss": rss, "cpu": cpu, "bytes": echoed, "sent": sent}
    finally:
        ptys.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttynet", default="build/release/apps/ttynet/ttynet")
    parser.add_argument("--ser2net", default=shutil.which("ser2net") or "")
    parser.add_argument("--idle", type=int, default=256)
    parser.add_argument("--busy", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate-kib", type=float, default=64, help="KiB/s per busy port")
    args = parser.parse_args()

    servers = [("ttynet", lambda d, p, b, raw: ttynet_command(args.ttynet, d, p, b, raw))]
    if args.ser2net:
        servers.append(("ser2net", lambda d, p, b, raw: ser2net_command(args.ser2net, d, p, b, raw)))
    else:
        print("skip: ser2net not installed", file=sys.stderr)
    rows = []
    for name, command_for in servers:
        with tempfile.TemporaryDirectory() as directory:
            print(f"{name}: {args.idle} idle ports, {args.seconds:g} s", file=sys.stderr)
            result = idle(command_for, args.idle, args.seconds, directory)
            rows.append((name, f"{args.idle} idle", result))
            print(f"{name}: {args.busy} busy ports, {args.rate_kib:g} KiB/s each, "
                  f"{args.seconds:g} s", file=sys.stderr)
            result = busy(command_for, args.busy, args.seconds, args.rate_kib, directory)
            rows.append((name, f"{args.busy} busy", result))
    print(f"| server | ports | peak RSS (MiB) | CPU (s in {args.seconds:g} s) | CPU % of one core "
          "| echoed (MiB) |")
    print("|---|---|---|---|---|---|")
    for name, label, result in rows:
        print(f"| {name} | {label} | {result['rss']:.1f} | {result['cpu']:.2f} | "
              f"{100 * result['cpu'] / args.seconds:.1f} | {result['bytes'] / 2**20:.1f} |")


if __name__ == "__main__":
    main()
