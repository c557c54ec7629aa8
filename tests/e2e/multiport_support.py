"""`ttynet serve --config FILE` for the multi-port end-to-end tests: the server, its log, the
TCP ports it reports per named port, and free port ranges to configure."""

import random
import signal
import socket
import threading
import time

from support import ServeProcess, deadline_after

STARTED_RE = r"port (?P<name>\S+): (?P<device>\S+) on TCP port (?P<port>\d+)"


def ephemeral_port_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        low, high = (int(field) for field in ports.read().split())
    return low, high


def free_port_base(count, attempts=50):
    """A base such that base..base+count-1 are all free on 127.0.0.1 right now, outside the
    ephemeral range: a client connection's local port there would keep the server from
    listening on it later (a port that comes back after a replug, say)."""
    low, high = ephemeral_port_range()
    if low - 10000 > count:
        first, last = 10000, low - count
    else:
        first, last = high + 1, 65536 - count
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(first, last)
        sockets = []
        try:
            for port in range(base, base + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise AssertionError(f"no {count} consecutive free TCP ports found")


class ConfigServer(ServeProcess):
    """`ttynet serve -v --config PATH`."""

    def __init__(self, config_path, extra_args=()):
        self.config_path = config_path
        super().__init__(["--config", config_path, *extra_args])

    def wait_for_ports(self, count, timeout=15, start=0):
        """{name: tcp_port} from the next `count` "port NAME: DEVICE on TCP port N" lines."""
        return {m.group("name"): int(m.group("port"))
                for m in self.wait_for_logs(STARTED_RE, count, timeout, start)}

    def mark(self):
        with self._new_line:
            return len(self.lines)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)


def is_refused(port, timeout=2):
    """True when nothing listens on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return False
    except ConnectionRefusedError:
        return True


class EchoTraffic:
    """Keeps echo traffic going on an open pyserial port from a thread until stop(); every
    chunk read back must equal the chunk written (bit-exact, in order)."""

    def __init__(self, port, chunk=512, seed=7):
        self.port = port
        self.chunk = chunk
        self.rounds = 0
        self.error = None
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._progress = threading.Condition()  # a round verified, or the thread ended
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            while not self._stop.is_set():
                data = self._rng.randbytes(self.chunk)
                self.port.write(data)
                echoed = bytearray()
                end = deadline_after(5)
                while len(echoed) < len(data) and time.monotonic() < end:
                    echoed += self.port.read(len(data) - len(echoed))
                if bytes(echoed) != data:
                    raise AssertionError(
                        f"round {self.rounds}: {len(echoed)} of {len(data)} bytes came back"
                        + ("" if len(echoed) < len(data) else ", altered"))
                with self._progress:
                    self.rounds += 1
                    self._progress.notify_all()
        except Exception as error:  # reported by stop()
            self.error = error
        with self._progress:
            self._progress.notify_all()

    def wait_for_rounds(self, count, timeout):
        """Waits until `count` rounds in all are verified; False if the time ran out first or
        the traffic failed (stop() raises why)."""
        with self._progress:
            return self._progress.wait_for(
                lambda: self.rounds >= count or not self._thread.is_alive(), timeout)

    def stop(self):
        """Ends the traffic; returns the number of verified rounds, raising what went wrong."""
        self._stop.set()
        self._thread.join(10)
        if self.error:
            raise self.error
        return self.rounds
