"""Shared pieces for the interop tests: running port_probe (ttynet's client ports through the
blocking facade) and waiting for peers. Builds on tests/e2e/support.py (PtyDevice, Server),
which CTest puts on PYTHONPATH. Every wait is bounded."""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
E2E = os.path.join(HERE, "..", "e2e")
if E2E not in sys.path:
    sys.path.insert(0, E2E)

from support import deadline_after, listening_ports  # noqa: E402  (after the path set-up above)

PROBE = os.environ.get("PORT_PROBE", "port_probe")
MIB = 1024 * 1024


def free_tcp_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (for peers that cannot bind port 0 and tell)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_listening(port, timeout=10, proc=None):
    """Waits until something listens on TCP `port`; fails early if `proc` exits."""
    end = deadline_after(timeout)
    while time.monotonic() < end:
        if port in listening_ports():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"peer exited with {proc.returncode} before listening on {port}")
        time.sleep(0.02)  # polling a state that has no event to wait on, within a deadline
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")


def stop_serve(server):
    """Stops a support.Server (`ttynet serve`); its exit status. Also closes its log pipe."""
    try:
        return server.stop()
    finally:
        server.proc.stdout.close()


def has_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


class Probe:
    """port_probe running with its steps. Its JSON lines are read as they come, so a test can
    look at the device at a --sync step and let the probe go on with resume()."""

    def __init__(self, url, *steps):
        self.argv = [PROBE, url, *[str(step) for step in steps]]
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.lines = []  # every JSON line read so far
        self._stdout = queue.Queue()
        self._stderr = []
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self._stdout.put),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self._stderr.append),
                             daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _pump(stream, sink):
        for raw in stream:
            sink(raw.decode(errors="replace").rstrip("\n"))
        sink(None)

    @property
    def stderr(self):
        return "\n".join(line for line in self._stderr if line is not None)

    def next_line(self, timeout=30):
        """The next JSON line; AssertionError if none comes in time or the probe ended."""
        try:
            text = self._stdout.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.argv}: no output within {timeout} s") from None
        if text is None:
            self._stdout.put(None)  # later calls see the end too
            self.proc.wait(5)
            raise AssertionError(f"{self.argv} ended (exit {self.proc.returncode}) before the next "
                                 f"step; stderr:\n{self.stderr}")
        line = json.loads(text)
        self.lines.append(line)
        return line

    def expect_step(self, name, timeout=30):
        """The next line, which must be a successful step `name`."""
        line = self.next_line(timeout)
        if line.get("step") != name or line.get("ok") is not True:
            raise AssertionError(f"expected step {name!r} to succeed, got {line}; "
                                 f"stderr:\n{self.stderr}")
        return line

    def resume(self):
        """Lets the probe go on past a --sync step."""
        self.proc.stdin.write(b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout=60):
        """Reads the remaining lines and waits for the exit status."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        end = deadline_after(timeout)
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(f"{self.argv} did not finish within {timeout} s")
            try:
                text = self._stdout.get(timeout=remaining)
            except queue.Empty:
                continue
            if text is None:
                break
            self.lines.append(json.loads(text))
        code = self.proc.wait(max(0.1, end - time.monotonic()))
        self._close_pipes()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._close_pipes()

    def _close_pipes(self):
        for reader in self._readers:
            reader.join(5)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass


def run_probe(url, *steps, timeout=60):
    """Runs port_probe to its end; (exit status, JSON lines by order, stderr text)."""
    probe = Probe(url, *steps)
    code = probe.finish(timeout)
    return code, probe.lines, probe.stderr


def step_lines(lines, name):
    return [line for line in lines if line.get("step") == name]


def check_baud_changes(test, url, device, bauds=(9600, 250000, 115200)):
    """Each baud change is confirmed by the server and reaches the pty (read back from its
    master with TCGETS2 while the probe waits)."""
    steps = []
    for baud in bauds:
        steps += ["--baud", baud, "--sync"]
    probe = Probe(url, *steps)
    try:
        probe.expect_step("open")
        for baud in bauds:
            line = probe.expect_step("baud")
            test.assertEqual((line["value"], line["confirmed"]), (baud, baud))
            _, ispeed, ospeed = device.termios2()
            test.assertEqual((ispeed, ospeed), (baud, baud))
            probe.expect_step("sync")
            probe.resume()
        test.assertEqual(probe.finish(20), 0, probe.stderr)
    finally:
        probe.kill()


def check_open(test, url):
    """The probe opens `url` with pyserial's defaults (115200 8N1, DTR and RTS on), every
    awaited step answered at once: far below the 3 s reply timeout."""
    code, lines, stderr = run_probe(url, "--open-only", timeout=20)
    test.assertEqual(code, 0, stderr)
    opened = step_lines(lines, "open")[0]
    test.assertTrue(opened["ok"])
    test.assertEqual(opened["settings"], "115200 8N1")
    test.assertEqual(opened["lines"], {"dtr": True, "rts": True})
    test.assertLess(opened["elapsed"], 1.5)


def check_roundtrip(test, url, label, size=MIB, timeout=40):
    """`size` bytes covering every byte value echo back bit-exact through `url`; the rate
    goes to stderr for the record."""
    code, lines, stderr = run_probe(url, "--roundtrip", size, "--timeout", timeout,
                                    timeout=timeout + 10)
    test.assertEqual(code, 0, stderr)
    result = step_lines(lines, "roundtrip")[0]
    test.assertTrue(result["ok"])
    test.assertEqual((result["bytes"], result["distinct_values"]), (size, 256))
    print(f"\n{label} 1 MiB round trip: {result['mb_per_s']:.2f} MB/s "
          f"({result['seconds']:.2f} s)", file=sys.stderr)
