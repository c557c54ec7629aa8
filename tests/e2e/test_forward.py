"""`ttynet forward` in front of `ttynet serve`, driven by pyserial's rfc2217:// and socket://
clients: data both ways, settings reaching the far device, refusals, the far end going away,
and shutdown."""

import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
import unittest

import serial

from esp_connect import PYTHON
from support import (TTYNET, Forward, PtyDevice, Server, payload, read_exactly, read_until_closed,
                     round_trip)

KIB = 1024
NOT_PACED_RE = r"does not pace ESP frames: forwarding as a plain re-export"
PACED_RE = r"upstream \S+ paces ESP frames"


def read_until_closed_by_server(port, timeout):
    """Reads a pyserial port until its connection ends (a read raises or returns nothing at
    once); True if that happened within `timeout`."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        started = time.monotonic()
        try:
            data = port.read(4096)
        except serial.SerialException:
            return True
        if not data and time.monotonic() - started < port.timeout / 2:
            return True
    return False


def miniterm_echo(url, text, timeout=15):
    """Runs pyserial-miniterm on `url` in a pseudo-terminal, types `text` once its banner is
    up, and returns what it printed after that (the device's answer) once `text` is in it or
    `timeout` passed; then quits it with Ctrl+] and requires it to exit."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: miniterm with the pty as its console
        os.execv(PYTHON, [PYTHON, "-m", "serial.tools.miniterm", "--raw", "--exit-char", "29",
                          url, "115200"])
    seen = b""
    end = time.monotonic() + timeout

    def read_until(wanted):
        nonlocal seen
        while wanted not in seen and time.monotonic() < end:
            ready, _, _ = select.select([terminal], [], [], 0.2)
            if ready:
                try:
                    seen += os.read(terminal, 4096)
                except OSError:  # the child has gone
                    return
    try:
        read_until(b"--- Quit:")
        banner_end = len(seen)
        os.write(terminal, text)
        read_until(text)
        answer = seen[banner_end:]
        exited = os.pidfd_open(pid)  # readable once the child has exited
        try:
            os.write(terminal, b"\x1d")
            if not select.select([exited], [], [], 5)[0]:
                raise AssertionError(f"miniterm did not quit; it printed {seen!r}")
        finally:
            os.close(exited)
        return answer
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(terminal)


class ForwardThroughServe:
    """serve PTY behind forward (the far server without --esp), for either protocol."""

    raw = False

    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server(*(["--raw"] if self.raw else []), self.device.path)
        scheme = "socket" if self.raw else "rfc2217"
        self.forward = Forward(self.server.url(scheme), *(["--raw"] if self.raw else []))

    def tearDown(self):
        self.assertEqual(self.forward.stop(), 0, "forward did not exit cleanly on SIGTERM")
        self.assertEqual(self.server.stop(), 0, "serve did not exit cleanly on SIGTERM")
        self.device.close()

    def open(self):
        return serial.serial_for_url(self.forward.url("socket" if self.raw else "rfc2217"),
                                     timeout=5)

    def test_pyserial_miniterm_works_through_it(self):
        url = self.forward.url("socket" if self.raw else "rfc2217")
        self.assertIn(b"typed through forward", miniterm_echo(url, b"typed through forward"))

    def test_256_kib_round_trip_bit_exact(self):
        port = self.open()
        try:
            data = payload(256 * KIB)
            self.assertGreater(data.count(b"\xff"), 0)
            self.assertEqual(round_trip(port, data), data)
        finally:
            port.close()


class ForwardRfc2217(ForwardThroughServe, unittest.TestCase):
    def test_baud_change_reaches_the_far_device(self):
        port = self.open()
        try:
            for baud in (57600, 230400):
                port.baudrate = baud  # pyserial raises if the reply differs from the request
                _, ispeed, ospeed = self.device.termios2()
                self.assertEqual((ispeed, ospeed), (baud, baud))
        finally:
            port.close()

    def test_second_client_is_refused_in_one_line_and_the_first_keeps_working(self):
        first = self.open()
        try:
            first.write(b"first")
            self.assertEqual(read_exactly(first.read, 5, 5), b"first")
            with self.forward.connect() as second:
                refusal, closed = read_until_closed(second, 10)
            self.assertTrue(closed, "refused client not closed")
            # The far server refused forward's second upstream connection; the client is told
            # in one line naming the far port, with the far server's own words.
            self.assertTrue(refusal.startswith(b"ttynet: " + self.server.url().encode()), refusal)
            self.assertIn(b"refused: ", refusal)
            self.assertIn(b"is in use by", refusal)
            self.assertTrue(refusal.endswith(b"\r\n"), refusal)
            self.assertEqual(refusal.count(b"\r\n"), 1, refusal)
            self.server.wait_for_log(r"refused .*: .* is in use by")
            first.write(b"still mine")
            self.assertEqual(read_exactly(first.read, 10, 5), b"still mine")
        finally:
            first.close()

    def test_far_end_leaving_drops_the_client_and_forward_serves_again(self):
        port = self.open()
        try:
            port.write(b"ping")
            self.assertEqual(read_exactly(port.read, 4, 5), b"ping")
            far_port = self.server.port
            self.assertEqual(self.server.stop(), 0)
            self.assertTrue(read_until_closed_by_server(port, 10),
                            "client still connected after the far end left")
            self.forward.wait_for_log(r"far end \S+ closed the connection; dropping the client")
        finally:
            port.close()
        self.server = Server(self.device.path, port=far_port)
        again = self.open()
        try:
            again.write(b"pong")
            self.assertEqual(read_exactly(again.read, 4, 5), b"pong")
        finally:
            again.close()

    def test_says_once_that_the_far_end_does_not_pace(self):
        for _ in range(2):
            port = self.open()
            port.close()
            self.forward.wait_for_log(r"disconnected")
        self.forward.wait_for_log(NOT_PACED_RE)
        self.assertEqual(sum(1 for line in self.forward.lines if re.search(NOT_PACED_RE, line)), 1)
        self.assertFalse(any(re.search(PACED_RE, line) for line in self.forward.lines))

    def test_sigterm_with_a_client_exits_promptly(self):
        port = self.open()
        try:
            port.write(b"x")
            self.assertEqual(read_exactly(port.read, 1, 5), b"x")
            started = time.monotonic()
            self.forward.proc.send_signal(signal.SIGTERM)
            code = self.forward.proc.wait(5)
            elapsed = time.monotonic() - started
            self.assertEqual(code, 0)
            self.assertLess(elapsed, 2)
        finally:
            port.close()


class ForwardRaw(ForwardThroughServe, unittest.TestCase):
    raw = True

    def test_second_client_gets_the_far_refusal_as_data(self):
        first = self.open()
        try:
            with self.forward.connect() as second:
                # A raw upstream opens before the far server refuses it: its refusal comes as
                # data, then the far end closes.
                refusal, closed = read_until_closed(second, 10)
            self.assertTrue(closed, "refused client not closed")
            self.assertIn(b"in use by", refusal)
            self.assertIn(b"ttynet: far end " + self.server.url("socket").encode(), refusal)
            first.write(b"still mine")
            self.assertEqual(read_exactly(first.read, 10, 5), b"still mine")
        finally:
            first.close()


class ForwardEsp(unittest.TestCase):
    def test_far_end_that_paces_is_not_reported_as_plain(self):
        server = Server("--esp", "sim://esp32")
        forward = Forward(server.url())
        try:
            port = serial.serial_for_url(forward.url(), timeout=5)
            port.close()
            forward.wait_for_log(PACED_RE)
            forward.wait_for_log(r"disconnected")
            self.assertFalse(any(re.search(NOT_PACED_RE, line) for line in forward.lines))
        finally:
            self.assertEqual(forward.stop(), 0)
            self.assertEqual(server.stop(), 0)


    def test_pyserial_miniterm_works_through_the_accelerator(self):
        # The far server paces ESP frames, so the forwarder looks at every byte for loader
        # packets; a terminal session must pass untouched, both fronts.
        device = PtyDevice(echo=True)
        server = Server("--esp", device.path)
        fronts = [Forward(server.url()), Forward(server.url(), "--raw")]
        try:
            for forward, scheme in zip(fronts, ("rfc2217", "socket")):
                with self.subTest(scheme):
                    text = b"plain text through " + scheme.encode()
                    self.assertIn(text, miniterm_echo(forward.url(scheme), text))
                    forward.wait_for_log(PACED_RE)
        finally:
            for forward in fronts:
                self.assertEqual(forward.stop(), 0)
            self.assertEqual(server.stop(), 0)
            device.close()


class ForwardShutdown(unittest.TestCase):
    def test_sigterm_while_an_upstream_open_waits_exits_promptly(self):
        with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never negotiates
            url = f"rfc2217://127.0.0.1:{silent.getsockname()[1]}"
            forward = Forward(url)
            with forward.connect():
                forward.wait_for_log(r"connected to 127\.0\.0\.1 port")
                started = time.monotonic()
                forward.proc.send_signal(signal.SIGTERM)
                code = forward.proc.wait(5)
                elapsed = time.monotonic() - started
            forward.stop()
        self.assertEqual(code, 0)
        self.assertLess(elapsed, 2)


class ForwardCommandLine(unittest.TestCase):
    def test_help_describes_the_command(self):
        result = subprocess.run([TTYNET, "forward", "--help"], capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 0)
        text = result.stdout.decode()
        for item in ("URL", "--port", "--bind", "127.0.0.1", "--raw", "--keepalive", "2217",
                     "its own connection"):
            self.assertIn(item, text)

    def test_unusable_bind_address_is_one_line_error(self):
        result = subprocess.run([TTYNET, "forward", "--bind", "192.0.2.1", "-p", "0",
                                 "rfc2217://127.0.0.1:1"], capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.decode().splitlines()
        self.assertTrue(lines[-1].startswith("ttynet: error: "), result.stderr)

    def test_unreachable_far_end_is_told_to_the_client(self):
        forward = Forward("socket://127.0.0.1:1", "--raw")
        try:
            with forward.connect() as client:
                refusal, closed = read_until_closed(client, 10)
            self.assertTrue(closed)
            self.assertTrue(refusal.startswith(b"ttynet: socket://127.0.0.1:1"), refusal)
            forward.wait_for_log(r"refused 127\.0\.0\.1:\d+: socket://127\.0\.0\.1:1")
        finally:
            self.assertEqual(forward.stop(), 0)


if __name__ == "__main__":
    unittest.main()
