#!/usr/bin/python3
"""soak.py: runs one `ttynet serve --config` for a chosen time under mixed traffic and injected
faults, then prints a summary. Not part of CI; docs/reliability.md records a 1-hour run.

Ports (one config, pseudo-terminals whose far sides this script plays):
  rfc-N   RFC 2217, echo device, one pyserial client (`rfc2217://`) echoing random chunks
  raw-N   raw TCP, echo device, one socket client echoing random chunks
  junk    RFC 2217, echo device: malformed clients connect, send garbage and leave
  hose    raw TCP, a device that writes without pause: a client that never reads sits on it
  hung    raw TCP, a device whose far side stops reading: a client writes into it and leaves

Faults, one every --fault-interval seconds, in turn:
  kill     an echo client's connection is reset mid-transfer (SO_LINGER 0); it reconnects
  unplug   an echo port's device is closed mid-transfer and comes back 0.2-3 s later (half the
           time as the same link replaced at once, half as the link gone for a while)
  junk     20 malformed clients (random bytes, broken Telnet, oversized sub-negotiations)
  stall    a client connects to `hose` and never reads; the port must be free again within
           the keepalive bound (the config's keepalive is --keepalive)
  hang     `hung`'s far side stops reading, a client writes 64 KiB and leaves; the port must be
           free within 2 s; then the far side reads again

Checks: every echo round whose connection stayed up comes back bit-exact (bytes lost: 0); a
port whose fault is over serves again within its bound (no port stuck); the server's RSS and
open descriptors at the end against the start (after --warmup); SIGTERM ends it within 2 s.
Exit status 1 if any check failed.

usage: bench/soak.py [--ttynet PATH] [--minutes M] [--rfc N] [--raw N] [--fault-interval S]
                     [--keepalive S] [--warmup S]
"""

import argparse
import os
import random
import select
import socket
import struct
import sys
import tempfile
import threading
import time
import tty

sys.path.insert(0, "/usr/lib/python3/dist-packages")  # Debian's python3-serial
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import serial  # noqa: E402
import support  # noqa: E402
from multiport_support import ConfigServer, free_port_base  # noqa: E402

IAC, SB, SE = 255, 250, 240


class FarSide:
    """The far side of a pty device: echoes, sources a pattern, or stops reading ('hung')."""

    def __init__(self, mode):
        self.mode = mode
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self.slave)
        self.reading = threading.Event()
        self.reading.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        pending = b""
        source = bytes(range(256)) * 16
        while not self._stop.is_set():
            want_read = [self.master] if self.reading.is_set() else []
            want_write = [self.master] if pending or self.mode == "source" else []
            try:
                readable, writable, _ = select.select(want_read, want_write, [], 0.1)
                if readable:
                    data = os.read(self.master, 65536)
                    if self.mode == "echo":
                        pending += data
                if writable:
                    if self.mode == "source":
                        os.write(self.master, source)
                    else:
                        pending = pending[os.write(self.master, pending):]
            except BlockingIOError:
                continue
            except OSError:  # closed by unplug()
                return

    def unplug(self):
        self._stop.set()
        self._thread.join(5)
        os.close(self.master)
        os.close(self.slave)


class Soak:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="ttynet-soak-")
        self.devdir = os.path.join(self.dir, "dev")
        os.mkdir(self.devdir)
        self.lock = threading.Lock()
        self.devices = {}
        self.names = ([f"rfc-{i}" for i in range(args.rfc)] + [f"raw-{i}" for i in range(args.raw)])
        for name in self.names + ["junk"]:
            self.plug(name, FarSide("echo"))
        self.plug("hose", FarSide("source"))
        self.plug("hung", FarSide("echo"))
        all_names = self.names + ["junk", "hose", "hung"]
        base = free_port_base(len(all_names))
        self.tcp = {name: base + i for i, name in enumerate(all_names)}
        lines = ["[defaults]", 'bind = "127.0.0.1"', f"keepalive = {args.keepalive}"]
        for name in all_names:
            raw = name.startswith("raw") or name in ("hose", "hung")
            lines += ["[[port]]", f'name = "{name}"', f'device = "{self.devdir}/{name}"',
                      f"tcp_port = {self.tcp[name]}", f'protocol = "{"raw" if raw else "rfc2217"}"']
        config = os.path.join(self.dir, "ports.toml")
        with open(config, "w") as file:
            file.write("\n".join(lines) + "\n")
        self.server = ConfigServer(config)
        self.server.wait_for_ports(len(all_names), timeout=30)
        self.end = time.monotonic() + args.minutes * 60
        self.stats = {"bytes": 0, "rounds": 0, "lost_bytes": 0, "interrupted": 0}
        self.faults = {kind: 0 for kind in ("kill", "unplug", "junk", "stall", "hang")}
        self.failures = []
        self.generation = {name: 0 for name in self.names}  # bumped by each fault on the port
        self.clients = {}  # the echo clients now connected, by port name
        self.last_refusal = {}  # what a port sent last instead of serving, by port name
        self.longest_recovery = {kind: 0.0 for kind in self.faults}

    def plug(self, name, device):
        link = os.path.join(self.devdir, name)
        os.symlink(device.path, link + ".new")
        os.replace(link + ".new", link)
        self.devices[name] = device

    def fail(self, text):
        with self.lock:
            self.failures.append(f"{time.strftime('%H:%M:%S')} {text}")
        print("FAIL:", text, flush=True)

    # --- echo clients -----------------------------------------------------------------------

    def open_client(self, name, deadline):
        """Connects to `name` until it serves (an echo port: until a token sent comes back, so
        that what the device still echoes for an earlier client is behind us), or None once
        `deadline` (monotonic) has passed."""
        while time.monotonic() < deadline:
            try:
                client = (RfcClient if name.startswith("rfc") or name == "junk" else RawClient)(
                    self.tcp[name])
            except (OSError, serial.SerialException) as error:
                self.last_refusal[name] = repr(error)
                time.sleep(0.2)
                continue
            if name in ("hose", "hung") or client.sync(deadline):
                return client
            self.last_refusal[name] = client.seen[-200:]
            client.close()
            time.sleep(0.2)
        return None

    def echo_worker(self, name, seed):
        rng = random.Random(seed)
        client = self.open_client(name, time.monotonic() + 30)
        while time.monotonic() < self.end:
            if client is None:
                self.fail(f"{name}: not served again within 30 s of its fault; it said "
                          f"{self.last_refusal.get(name)!r}")
                return
            generation = self.generation[name]
            with self.lock:
                self.clients[name] = client
            data = rng.randbytes(rng.randint(1, 16384))
            echoed = client.round(data)
            with self.lock:
                del self.clients[name]
            killed = client.killed
            if echoed == data and not killed:
                with self.lock:
                    self.stats["bytes"] += len(data)
                    self.stats["rounds"] += 1
                continue
            if not killed and self.generation[name] == generation and client.is_up():
                differ = next((i for i, (a, b) in enumerate(zip(data, echoed)) if a != b),
                              len(echoed))
                self.fail(f"{name}: {len(echoed)} of {len(data)} bytes came back on a live "
                          f"link, the first wrong at {differ}")
                with self.lock:
                    self.stats["lost_bytes"] += len(data) - len(echoed)
            with self.lock:
                self.stats["interrupted"] += 1
            client.close()
            started = time.monotonic()
            client = self.open_client(name, started + 30)
            kind = "kill" if killed else "unplug"
            with self.lock:
                self.longest_recovery[kind] = max(self.longest_recovery[kind],
                                                  time.monotonic() - started)
        if client:
            client.close()

    # --- faults -----------------------------------------------------------------------------

    def fault_kill(self, rng):
        with self.lock:
            busy = sorted(self.clients)
            if not busy:
                return
            name = rng.choice(busy)
            self.generation[name] += 1
            self.clients[name].kill()

    def fault_unplug(self, rng):
        name = rng.choice(self.names)
        self.generation[name] += 1
        old = self.devices[name]
        old.unplug()
        link = os.path.join(self.devdir, name)
        if rng.random() < 0.5:
            os.unlink(link)
            time.sleep(rng.uniform(1.2, 3))  # past a rescan: the port stops and starts again
        else:
            time.sleep(rng.uniform(0.2, 1))
        self.plug(name, FarSide("echo"))

    def fault_junk(self, rng):
        for _ in range(20):
            garbage = [rng.randbytes(rng.randint(1, 4096)),
                       bytes([IAC, SB, 44, 1]) + rng.randbytes(70000),  # oversized
                       bytes([IAC, rng.randint(0, 255), IAC, IAC, IAC, SB, IAC, SE]) * 50,
                       bytes([IAC, 251, 44, IAC, SB, 44, 5, 9, 9, IAC, SE])][rng.randint(0, 3)]
            try:
                with socket.create_connection(("127.0.0.1", self.tcp["junk"]), timeout=5) as s:
                    s.sendall(garbage)
                    if rng.random() < 0.5:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        # The junk port still serves a well-behaved client.
        started = time.monotonic()
        if not self.serves("junk", started + 10):
            self.fail("junk: not serving after malformed clients; it said "
                      f"{self.last_refusal.get('junk')!r}")
        self.longest_recovery["junk"] = max(self.longest_recovery["junk"],
                                            time.monotonic() - started)

    def serves(self, name, deadline):
        """True once a raw or RFC 2217 client gets an echo (or, for hose, data) on `name`."""
        while time.monotonic() < deadline:
            client = self.open_client(name, deadline)
            if client is None:
                return False
            try:
                if name == "hose":
                    data = client.read_some(4096)
                    if data and b"ttynet:" not in data:  # not a refusal
                        return True
                elif client.round(b"still there?") == b"still there?":
                    return True
            finally:
                client.close()
            time.sleep(0.2)
        return False

    def fault_stall(self, rng):
        stuck = socket.create_connection(("127.0.0.1", self.tcp["hose"]), timeout=5)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        started = time.monotonic()
        bound = self.args.keepalive * 2 + 10
        ok = self.serves("hose", started + bound)
        stuck.close()
        if not ok:
            self.fail(f"hose: a client that never reads held the port over {bound} s")
        self.longest_recovery["stall"] = max(self.longest_recovery["stall"],
                                             time.monotonic() - started)

    def fault_hang(self, rng):
        device = self.devices["hung"]
        device.reading.clear()
        mark = self.server.mark()
        try:
            with socket.create_connection(("127.0.0.1", self.tcp["hung"]), timeout=5) as s:
                s.sendall(bytes(64 * 1024))
                self.server.wait_for_log("port hung: .*the device has taken no input",
                                         timeout=10, start=mark)
        except (OSError, AssertionError) as error:
            self.fail(f"hung: could not load the hung device: {error}")
        started = time.monotonic()
        while time.monotonic() < started + 2:
            client = RawClient(self.tcp["hung"])
            refused = client.read_some(256, timeout=0.3)
            client.close()
            if b"in use" not in refused:
                break
            time.sleep(0.1)
        else:
            self.fail("hung: the port stayed in use over 2 s after its client left")
        self.longest_recovery["hang"] = max(self.longest_recovery["hang"],
                                            time.monotonic() - started)
        device.reading.set()

    def inject_faults(self):
        rng = random.Random(2217)
        kinds = ["kill", "unplug", "junk", "kill", "unplug", "stall", "kill", "unplug", "hang"]
        index = 0
        while time.monotonic() + self.args.fault_interval < self.end:
            time.sleep(self.args.fault_interval)
            kind = kinds[index % len(kinds)]
            index += 1
            getattr(self, f"fault_{kind}")(rng)
            self.faults[kind] += 1

    # --- the run ----------------------------------------------------------------------------

    def run(self):
        pid = self.server.proc.pid
        fds_start = fd_count(pid)  # no client yet: what the end must come back to
        workers = [threading.Thread(target=self.echo_worker, args=(name, i), daemon=True)
                   for i, name in enumerate(self.names)]
        for worker in workers:
            worker.start()
        time.sleep(self.args.warmup)
        rss_start = rss_kib(pid)
        rss_max = rss_start
        injector = threading.Thread(target=self.inject_faults, daemon=True)
        injector.start()
        next_report = time.monotonic() + 60
        while time.monotonic() < self.end:
            time.sleep(min(5, max(0, self.end - time.monotonic())))
            rss_max = max(rss_max, rss_kib(pid))
            if time.monotonic() >= next_report:
                next_report += 60
                with self.lock:
                    print(f"{time.strftime('%H:%M:%S')} {self.stats['bytes'] / 2**20:.0f} MiB "
                          f"echoed, faults {sum(self.faults.values())}, "
                          f"RSS {rss_kib(pid) / 1024:.1f} MiB, failures {len(self.failures)}",
                          flush=True)
        injector.join(60)
        for worker in workers:
            worker.join(60)
        for name in ["junk", "hose", "hung", *self.names]:  # every port serves at the end
            if not self.serves(name, time.monotonic() + 10):
                self.fail(f"{name}: not serving at the end; it said "
                          f"{self.last_refusal.get(name)!r}")
        rss_end, fds_end = rss_kib(pid), fd_count(pid)
        stop_started = time.monotonic()
        code = self.server.stop(timeout=30)
        stop_seconds = time.monotonic() - stop_started
        if code != 0 or stop_seconds > 2:
            self.fail(f"SIGTERM: exit status {code} after {stop_seconds:.2f} s")
        for device in self.devices.values():
            device.unplug()

        s = self.stats
        print(f"\nsoak: {self.args.minutes} min, {len(self.names)} echo ports "
              f"({self.args.rfc} RFC 2217, {self.args.raw} raw) + junk, hose, hung")
        print(f"  bytes echoed and verified: {s['bytes']} ({s['bytes'] / 2**20:.1f} MiB) "
              f"in {s['rounds']} rounds")
        print(f"  faults injected: {sum(self.faults.values())} "
              + ", ".join(f"{k} {v}" for k, v in self.faults.items()))
        print(f"  rounds interrupted by a fault (each then reconnects): {s['interrupted']}")
        print("  longest recovery (s): " + ", ".join(
            f"{k} {v:.1f}" for k, v in self.longest_recovery.items()))
        print(f"  bytes lost on a live link: {s['lost_bytes']}")
        print(f"  server RSS: {rss_start / 1024:.1f} MiB after warm-up, {rss_end / 1024:.1f} MiB "
              f"at the end, {rss_max / 1024:.1f} MiB at most")
        print(f"  server descriptors: {fds_start} before any client, {fds_end} after the last")
        print(f"  SIGTERM: exit status {code} in {stop_seconds:.2f} s")
        print(f"  failures: {len(self.failures)}")
        for failure in self.failures:
            print("   ", failure)
        return 1 if self.failures else 0


def kill_socket(sock):
    """Ends a connection another thread is using, mid-transfer: FIN now (which wakes that
    thread's read), RST at close."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class EchoClient:
    """What both echo clients share: skipping what the device still echoes for earlier
    clients."""

    seen = b""

    def sync(self, deadline):
        token = b"<sync %d>" % random.getrandbits(64)
        try:
            self.write(token)
        except (OSError, serial.SerialException):
            return False
        self.seen = b""
        while token not in self.seen and time.monotonic() < deadline and self.is_up():
            self.seen += self.read(4096)
        return token in self.seen and self.seen.endswith(token)


class RawClient(EchoClient):
    def __init__(self, tcp_port):
        self.sock = socket.create_connection(("127.0.0.1", tcp_port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.up = True
        self.killed = False

    def kill(self):
        self.killed = True
        kill_socket(self.sock)

    def read(self, count):
        return self.read_some(count, timeout=2)

    def write(self, data):
        self.sock.sendall(data)

    def round(self, data):
        try:
            self.sock.sendall(data)
            return self.read_exactly(len(data), 20)
        except OSError:
            self.up = False
            return b""

    def read_exactly(self, count, timeout):
        got = bytearray()
        end = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < end:
            self.sock.settimeout(max(0.01, end - time.monotonic()))
            try:
                chunk = self.sock.recv(count - len(got))
            except socket.timeout:
                break
            except OSError:
                chunk = b""
            if not chunk:
                self.up = False
                break
            got += chunk
        return bytes(got)

    def read_some(self, count, timeout=5):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(count)
        except OSError:
            return b""

    def is_up(self):
        """False once the server closed the connection (a refusal or a fault's notice)."""
        if not self.up:
            return False
        try:
            self.sock.setblocking(False)
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def close(self):
        self.sock.close()


class RfcClient(EchoClient):
    def __init__(self, tcp_port):
        self.port = serial.serial_for_url(f"rfc2217://127.0.0.1:{tcp_port}?ign_set_control",
                                          timeout=2)
        self.killed = False

    def kill(self):
        self.killed = True
        kill_socket(self.port._socket)

    def read(self, count):
        try:
            return self.port.read(count)
        except (OSError, serial.SerialException):
            return b""

    def write(self, data):
        self.port.write(data)

    def round(self, data):
        try:
            self.port.write(data)
            got = bytearray()
            end = time.monotonic() + 20
            while len(got) < len(data) and time.monotonic() < end and self.is_up():
                got += self.port.read(len(data) - len(got))
            return bytes(got)
        except (OSError, serial.SerialException):
            return b""

    def is_up(self):
        # pyserial's reader thread ends when the server closes the connection.
        thread = getattr(self.port, "_thread", None)
        return self.port.is_open and thread is not None and thread.is_alive()

    def close(self):
        try:
            self.port.close()
        except (OSError, serial.SerialException):
            pass


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ttynet", default="build/release/apps/ttynet/ttynet")
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rfc", type=int, default=6)
    parser.add_argument("--raw", type=int, default=6)
    parser.add_argument("--fault-interval", type=float, default=5)
    parser.add_argument("--keepalive", type=int, default=10)
    parser.add_argument("--warmup", type=float, default=20)
    args = parser.parse_args()
    support.TTYNET = os.path.abspath(args.ttynet)  # what ServeProcess starts
    sys.exit(Soak(args).run())


if __name__ == "__main__":
    main()
