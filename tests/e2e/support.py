"""Shared pieces for the end-to-end tests: a pseudo-terminal device with a scripted far end,
and `ttynet serve` started on it. Everything is bounded in time; nothing sleeps to wait for
an event that can be awaited."""

import fcntl
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import tty

TTYNET = os.environ.get("TTYNET_BIN", "ttynet")
# The line `serve` logs for each monitor listener; group 1 is its TCP port.
MONITOR_RE = r"monitors on 127\.0\.0\.1:(\d+) \(read-only\)"
TCGETS2 = 0x802C542A  # _IOR('T', 0x2A, struct termios2) on x86-64 and arm64
CMSPAR = 0o10000000000


def deadline_after(seconds):
    return time.monotonic() + seconds


def end_process(proc, timeout=10):
    """SIGTERM, then SIGKILL if `proc` has not exited within `timeout`; its exit status."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait(5)


def uses_address_sanitizer(pid):
    """True for a server built with ASan, whose RSS holds its quarantine and shadow memory."""
    with open(f"/proc/{pid}/maps") as maps:
        return "libasan" in maps.read()


def listening_ports():
    """Local TCP ports in LISTEN state, from /proc (no connection is made)."""
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                next(file)
                for row in file:
                    fields = row.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except FileNotFoundError:
            pass
    return ports


class PtyDevice:
    """A pseudo-terminal whose slave side is the 'device' a server opens and whose master
    side this test drives. With echo=True the master sends back whatever it reads."""

    def __init__(self, echo=True):
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)
        # Held open so the master never sees EIO while the server has the slave closed.
        self._slave = slave
        self.received = bytearray()
        self._echo = echo
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        pending = b""
        while True:
            want_write = [self.master] if pending else []
            readable, writable, _ = select.select([self.master, self._stop_r], want_write, [], 5)
            if self._stop_r in readable:
                return
            if self.master in readable:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # hung up
                    return
                if data and self._echo:
                    pending += data
                elif data:
                    self.received += data
            if pending and self.master in writable:
                try:
                    written = os.write(self.master, pending)
                    pending = pending[written:]
                except BlockingIOError:
                    pass

    def termios2(self):
        """(cflag, ispeed, ospeed) of the slave, read through the master."""
        raw = fcntl.ioctl(self.master, TCGETS2, bytes(44))
        _, _, cflag, _, _, _, ispeed, ospeed = struct.unpack("<IIIIB19sII", raw)
        return cflag, ispeed, ospeed

    def unplug(self):
        """Closes the master: the server's reads fail as they do when a USB adapter is pulled."""
        self.stop()
        os.close(self._slave)
        os.close(self.master)
        self.master = None

    def stop(self):
        if self._thread.is_alive():
            os.write(self._stop_w, b"x")
            self._thread.join(5)

    def close(self):
        self.stop()
        if self.master is not None:
            os.close(self._slave)
            os.close(self.master)
            self.master = None


class ServeProcess:
    """`ttynet COMMAND -v ARGS` (`serve` unless told); its log is collected in the background."""

    def __init__(self, args, command="serve"):
        self.proc = subprocess.Popen(
            [TTYNET, command, "-v", *args],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines = []
        self._new_line = threading.Condition()
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()

    def _collect(self):
        for raw in self.proc.stdout:
            with self._new_line:
                self.lines.append(raw.decode(errors="replace").rstrip())
                self._new_line.notify_all()
        with self._new_line:
            self._new_line.notify_all()

    def wait_for_logs(self, pattern, count=1, timeout=10, start=0):
        """The matches of the first `count` log lines from index `start` matching `pattern`."""
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        end = deadline_after(timeout)
        found = []
        with self._new_line:
            index = start
            while True:
                while index < len(self.lines) and len(found) < count:
                    match = pattern.search(self.lines[index])
                    if match:
                        found.append(match)
                    index += 1
                if len(found) >= count:
                    return found
                remaining = end - time.monotonic()
                if remaining <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"{len(found)} of {count} log lines matching {pattern.pattern!r}; log:\n"
                        + "\n".join(self.lines[-200:]))
                self._new_line.wait(remaining)

    def wait_for_log(self, pattern, timeout=10, start=0):
        """The match of the first log line from index `start` matching `pattern`."""
        return self.wait_for_logs(pattern, 1, timeout, start)[0]

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        self.proc.stdout.close()
        if os.environ.get("TTYNET_SHOW_LOG"):
            print("\n--- server log\n" + "\n".join(self.lines), file=sys.stderr)
        return code


class Server(ServeProcess):
    """`ttynet serve` of one device on an ephemeral port (or on `port`)."""

    COMMAND = "serve"
    LISTEN_RE = re.compile(r"serving .* on (?:\[[^\]]*\]|[\d.]+):(\d+)")

    def __init__(self, *args, timeout=10, bind="127.0.0.1", port=0):
        bind_args = ["--bind", bind] if bind else []
        super().__init__(["-p", str(port), *bind_args, *args], command=self.COMMAND)
        match = self.wait_for_log(self.LISTEN_RE, timeout)
        self.port = int(match.group(1))

    def connect(self, timeout=5):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def url(self, scheme="rfc2217", options=""):
        return f"{scheme}://127.0.0.1:{self.port}{options}"


class Forward(Server):
    """`ttynet forward` of a port URL on an ephemeral port: Forward(URL, OPTIONS...)."""

    COMMAND = "forward"
    LISTEN_RE = re.compile(r"forwarding \S+ on (?:\[[^\]]*\]|[\d.]+):(\d+)")


def read_exactly(read, count, timeout):
    """Calls read(n) until `count` bytes arrived or the time is up; returns what arrived."""
    data = bytearray()
    end = deadline_after(timeout)
    while len(data) < count and time.monotonic() < end:
        chunk = read(count - len(data))
        if chunk:
            data += chunk
    return bytes(data)


def read_until(sock, marker, timeout):
    """What a peer sends until `marker` has arrived, it closes, or the time is up."""
    data = bytearray()
    end = deadline_after(timeout)
    while (marker is None or marker not in data) and time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def read_until_closed(sock, timeout):
    """Everything a peer sends until it closes; and whether it did close in time."""
    data = read_until(sock, None, timeout)
    sock.settimeout(0.5)
    try:
        closed = sock.recv(1) == b""
    except ConnectionResetError:
        closed = True
    except socket.timeout:
        closed = False
    return data, closed


def payload(size, seed=2217):
    """Random bytes covering every byte value (each value appears at least once)."""
    import random
    rng = random.Random(seed)
    data = bytearray(rng.randbytes(size))
    data[:256] = bytes(range(256))
    return bytes(data)


def round_trip(port, data, timeout=60, chunk=4096):
    """Writes `data` from a thread while reading the echo; returns the bytes read back."""
    errors = []

    def write_all():
        try:
            for offset in range(0, len(data), chunk):
                port.write(data[offset:offset + chunk])
        except Exception as error:  # reported by the caller's assertion
            errors.append(error)

    writer = threading.Thread(target=write_all, daemon=True)
    writer.start()
    echoed = read_exactly(port.read, len(data), timeout)
    writer.join(timeout)
    if errors:
        raise errors[0]
    return echoed


class SimulatedChipOnPty:
    """`ttynet sim -v --pty DIRECTORY/ttyESP`; ready once it logged the link. stop() ends it
    (the log is in `log`, the process in `proc`)."""

    def __init__(self, directory):
        self.link = os.path.join(directory, "ttyESP")
        self.proc = subprocess.Popen([TTYNET, "sim", "-v", "--pty", self.link],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.log = []
        ready = threading.Event()

        def collect():
            for raw in self.proc.stderr:
                self.log.append(raw.decode(errors="replace").rstrip())
                if "linked as" in self.log[-1]:
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=collect, daemon=True)
        self.reader.start()
        if not (ready.wait(10) and os.path.islink(self.link)):
            self.stop()
            raise AssertionError("ttynet sim made no link; log:\n" + "\n".join(self.log))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.reader.join(5)
        self.proc.stderr.close()
