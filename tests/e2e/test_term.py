"""`ttynet term`: pipe mode against loop://, a served pseudo-terminal (rfc2217:// and raw
socket://) and unreachable ports; interactive mode under a pseudo-terminal, driven key by key
as a user would. Every wait is bounded; the screen is read until what is expected shows up."""

import fcntl
import os
import re
import select
import signal
import subprocess
import tempfile
import termios
import time
import unittest

from support import TTYNET, PtyDevice, Server, deadline_after, payload

KIB = 1024
CTRL_T = b"\x14"
CTRL_CLOSE_BRACKET = b"\x1d"


def run_pipe(url, data, *args, timeout=60):
    """`ttynet term URL` with `data` on stdin; returns the finished process (stdout, stderr)."""
    return subprocess.run([TTYNET, "term", *args, url], input=data, capture_output=True,
                          timeout=timeout)


class PipeMode(unittest.TestCase):
    def test_loop_returns_every_byte_value_in_order(self):
        data = payload(256 * KIB)
        result = run_pipe("loop://", data)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(len(result.stdout), len(data))
        self.assertEqual(result.stdout, data)
        self.assertEqual(result.stderr, b"")  # no banner, no log lines without -v

    def test_empty_input_ends_after_the_drain_time(self):
        started = time.monotonic()
        result = run_pipe("loop://", b"", "--drain", "0.2")
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"")
        self.assertGreaterEqual(elapsed, 0.2)
        self.assertLess(elapsed, 5)

    def test_unreachable_port_is_one_error_line_and_exit_1(self):
        for url in ("rfc2217://127.0.0.1:1", "socket://127.0.0.1:1", "/dev/ttynet-no-such-device",
                    "nosuch://x"):
            with self.subTest(url=url):
                result = run_pipe(url, b"ignored", timeout=20)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stdout, b"")
                lines = result.stderr.decode().splitlines()
                self.assertEqual(len(lines), 1, result.stderr)
                self.assertTrue(lines[0].startswith("ttynet: error: "), lines[0])

    def test_help_describes_keys_and_modes(self):
        result = subprocess.run([TTYNET, "term", "--help"], capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 0)
        text = result.stdout.decode()
        for item in ("Ctrl-]", "Ctrl-T d", "Ctrl-T B", "Ctrl-T h", "Ctrl-T e", "Pipe mode",
                     "Interactive mode", "--baud", "--drain", "--dtr", "--rts"):
            self.assertIn(item, text)


class PipeModeThroughServe(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()

    def test_rfc2217_round_trip_is_bit_exact(self):
        self.server = Server(self.device.path)
        data = payload(64 * KIB)
        result = run_pipe(self.server.url(), data, "--drain", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, data)

    def test_raw_socket_round_trip_is_bit_exact(self):
        self.server = Server("--raw", self.device.path)
        data = payload(64 * KIB)
        result = run_pipe(self.server.url("socket"), data, "--drain", "2")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, data)

    def test_device_gone_is_one_error_line_and_exit_1(self):
        self.server = Server(self.device.path)
        proc = subprocess.Popen([TTYNET, "term", self.server.url()], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            proc.stdin.write(b"ping")
            proc.stdin.flush()
            self.assertEqual(read_exactly_from(proc.stdout, 4, 10), b"ping")
            self.device.unplug()
            _, stderr = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)
        self.assertEqual(proc.returncode, 1)
        lines = stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, stderr)
        self.assertTrue(lines[0].startswith("ttynet: error: " + self.server.url()), lines[0])


def read_exactly_from(stream, count, timeout):
    """Reads `count` bytes from a pipe, or what arrived before the time ran out."""
    data = bytearray()
    end = deadline_after(timeout)
    fd = stream.fileno()
    while len(data) < count:
        remaining = end - time.monotonic()
        if remaining <= 0:
            break
        readable, _, _ = select.select([fd], [], [], remaining)
        if not readable:
            break
        chunk = os.read(fd, count - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


class TermOnPty:
    """`ttynet term` with a pseudo-terminal as its stdin, stdout and stderr: the test is the
    user, typing into the master and reading the screen from it."""

    def __init__(self, *args):
        self.master, self.slave = os.openpty()
        self.original_mode = termios.tcgetattr(self.slave)
        self.original_flags = fcntl.fcntl(self.slave, fcntl.F_GETFL)
        self.proc = subprocess.Popen([TTYNET, "term", *args], stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave, start_new_session=True)
        self.screen = bytearray()
        self.mark = 0  # expect() looks from here on

    def _read_some(self, timeout):
        readable, _, _ = select.select([self.master], [], [], max(0, timeout))
        if readable:
            try:
                self.screen += os.read(self.master, 65536)
            except OSError:  # the slave side is gone
                pass

    def expect(self, pattern, timeout=10):
        """Waits until `pattern` (bytes regex) shows up after the mark; moves the mark past it."""
        regex = re.compile(pattern)
        end = deadline_after(timeout)
        while True:
            match = regex.search(self.screen, self.mark)
            if match:
                self.mark = match.end()
                return match
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{pattern!r} not on screen; screen:\n{bytes(self.screen)!r}")
            self._read_some(remaining)

    def type(self, keys):
        os.write(self.master, keys)

    def wait_exit(self, timeout=10):
        end = deadline_after(timeout)
        while self.proc.poll() is None and time.monotonic() < end:
            self._read_some(0.05)
        return self.proc.wait(max(0.1, end - time.monotonic()))

    def mode_is_restored(self):
        return termios.tcgetattr(self.slave) == self.original_mode

    def flags_are_restored(self):
        return fcntl.fcntl(self.slave, fcntl.F_GETFL) == self.original_flags

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        os.close(self.master)
        os.close(self.slave)


class InteractiveMode(unittest.TestCase):
    def start(self, *args):
        self.term = TermOnPty(*args)
        self.addCleanup(self.term.close)
        return self.term

    def quit_and_check_restored(self, term):
        term.type(CTRL_CLOSE_BRACKET)
        self.assertEqual(term.wait_exit(), 0)
        self.assertTrue(term.mode_is_restored(), "terminal mode not restored")
        self.assertTrue(term.flags_are_restored(), "O_NONBLOCK or other file flags left behind")

    def test_banner_echo_hex_view_dtr_and_quit_on_loop(self):
        term = self.start("loop://")
        banner = term.expect(rb"--- ttynet term on loop://  115200 8N1  DTR (on|off) RTS (on|off) ---")
        term.expect(rb"--- Quit: Ctrl-\]  Menu: Ctrl-T, then \? for help ---")
        self.assertFalse(term.mode_is_restored(), "terminal not in raw mode while running")

        term.type(b"hello from the keyboard")
        term.expect(rb"hello from the keyboard")  # looped back by loop:// and shown

        term.type(CTRL_T + b"h")
        term.expect(rb"--- hex view on ---")
        term.type(b"AB\x00")
        term.expect(rb"41 42 00 +\|AB\.\|")  # the partial line is completed when the port is quiet

        term.type(CTRL_T + b"h")
        term.expect(rb"--- hex view off ---")

        dtr_was = banner.group(1)
        dtr_now = b"off" if dtr_was == b"on" else b"on"
        term.type(CTRL_T + b"d")
        term.expect(rb"--- DTR " + dtr_now + rb" ---")
        term.type(CTRL_T + b"s")
        term.expect(rb"--- port loop://  115200 8N1")
        term.expect(rb"--- DTR " + dtr_now)
        term.expect(rb"DSR " + dtr_now)  # loop:// wires DTR to DSR

        self.quit_and_check_restored(term)

    def test_menu_keys_for_baud_help_rts_timestamps_and_unknown(self):
        term = self.start("loop://", "-b", "57600", "--dtr", "1", "--rts", "0")
        term.expect(rb"57600 8N1  DTR on RTS off ---")
        term.type(CTRL_T + b"?")
        term.expect(rb"Ctrl-T e +ESP reset")
        term.type(CTRL_T + b"B")
        term.expect(rb"--- baud rate: ")
        term.type(b"9600\r")
        term.expect(rb"--- baud rate 9600 ---")
        term.type(CTRL_T + b"r")
        term.expect(rb"--- RTS on ---")
        term.type(CTRL_T + b"s")
        term.expect(rb"--- port loop://  9600 8N1")
        term.expect(rb"CTS on")  # loop:// wires RTS to CTS
        term.type(CTRL_T + b"x")
        term.expect(rb"unknown menu key 'x'")
        term.type(CTRL_T + b"t")
        term.expect(rb"--- timestamps on ---")
        term.type(b"stamped\r\n")
        term.expect(rb"\[\d\d:\d\d:\d\d\.\d\d\d\] stamped")
        term.type(CTRL_T + b"b")
        term.expect(rb"--- BREAK sent ---")
        self.quit_and_check_restored(term)

    def test_log_file_gets_port_output(self):
        with tempfile.TemporaryDirectory() as directory:
            log = os.path.join(directory, "out.log")
            term = self.start("loop://")
            term.expect(rb"--- Quit")
            term.type(CTRL_T + b"l")
            term.expect(rb"--- log file \[ttynet-term.log\]: ")
            term.type(log.encode() + b"\r")
            term.expect(rb"--- logging port output to .*out\.log ---")
            term.type(b"into the log")
            term.expect(rb"into the log")
            term.type(CTRL_T + b"l")
            term.expect(rb"--- log .*out\.log closed ---")
            term.type(b"not logged")
            term.expect(rb"not logged")
            self.quit_and_check_restored(term)
            with open(log, "rb") as file:
                self.assertEqual(file.read(), b"into the log")

    def test_typed_keys_reach_the_device_and_its_output_is_shown(self):
        device = PtyDevice(echo=False)
        self.addCleanup(device.close)
        term = self.start(device.path)
        term.expect(rb"--- Quit")
        term.type(b"abc\r" + CTRL_T + CTRL_T + CTRL_T + CTRL_CLOSE_BRACKET + b"\x03\x1a")
        expected = b"abc\r\x14\x1d\x03\x1a"  # as typed; Ctrl-C and Ctrl-Z are keys, not signals
        end = deadline_after(10)
        while len(device.received) < len(expected) and time.monotonic() < end:
            term._read_some(0.05)
        self.assertEqual(bytes(device.received), expected)
        self.assertIsNone(term.proc.poll(), "Ctrl-C or Ctrl-Z stopped the terminal")

        os.write(device.master, b"from the device\r\n")
        term.expect(rb"from the device\r+\n")
        self.quit_and_check_restored(term)

    def test_esp_reset_boots_the_application_on_the_simulated_chip(self):
        term = self.start("sim://esp32")
        term.expect(rb"--- Quit")
        term.type(CTRL_T + b"e")
        term.expect(rb"--- ESP reset into the application ---")
        term.expect(rb"rst:0x[0-9a-f]+ \([A-Z_]+\),boot:0x[0-9a-f]+ \(SPI_FAST_FLASH_BOOT\)")
        self.quit_and_check_restored(term)

    def test_sigterm_restores_the_terminal(self):
        term = self.start("loop://")
        term.expect(rb"--- Quit")
        term.proc.send_signal(signal.SIGTERM)
        self.assertEqual(term.wait_exit(), 0)
        self.assertTrue(term.mode_is_restored())
        self.assertTrue(term.flags_are_restored())

    def test_port_error_is_one_line_and_restores_the_terminal(self):
        device = PtyDevice(echo=True)
        self.addCleanup(device.close)
        server = Server(device.path)
        self.addCleanup(server.stop)
        term = self.start(server.url())
        term.expect(rb"--- Quit")
        term.type(b"ping")
        term.expect(rb"ping")
        device.unplug()
        self.assertEqual(term.wait_exit(15), 1)
        term.expect(rb"ttynet: error: " + re.escape(server.url().encode()) + rb"[^\r\n]*\r?\n")
        self.assertTrue(term.mode_is_restored())
        self.assertTrue(term.flags_are_restored())


if __name__ == "__main__":
    unittest.main()
