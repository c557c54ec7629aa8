"""`ttynet serve --esp` end to end: esptool-style connects (classic reset, then SYNC) against
the simulated ESP32 through a latency proxy, with pyserial's client and ttynet's; clients that
only open and close leave a running application alone; and the esp_rfc2217_server entry point.
The full table (20 attempts per setting, with and without --esp) is bench/esp_reset_latency.py."""

import os
import re
import select
import socket
import subprocess
import time
import unittest

import serial

from esp_connect import LatencyProxy, pyserial_attempts, ttynet_attempts
from support import TTYNET, Server, deadline_after

QUICK_BOARD = "sim://esp32?boot=app"  # EN released -> straps sampled 5 ms later
UPTIME = re.compile(rb"tick \d+, uptime (\d+) s")


def sync_timeout(rtt):
    return rtt + 1.0


class EspResetThroughLatency(unittest.TestCase):
    def serve(self, *args):
        server = Server(*args)
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        return server

    def proxy(self, server, rtt):
        if rtt == 0:
            return server
        proxy = LatencyProxy(server.port, delay=rtt / 2, jitter=rtt / 20)
        self.addCleanup(proxy.stop)
        return proxy

    def check(self, rtt, clients):
        server = self.serve("--esp", QUICK_BOARD)
        front = self.proxy(server, rtt)
        for client, options, attempts in clients:
            run = pyserial_attempts if client == "pyserial" else ttynet_attempts
            with self.subTest(client=client, options=options, rtt=rtt):
                seen = len(server.lines)
                successes, seconds = run(front.url(options=options), attempts, sync_timeout(rtt))
                self.assertEqual(successes, attempts, f"per attempt: {seconds}")
                # The proxy delays the goodbye too: the next client waits until the server
                # has seen it (it serves one client at a time).
                server.wait_for_log("disconnected", timeout=10, start=seen)
        # Every connect was a reset done here, none of the client's own line changes.
        self.assertGreaterEqual(
            sum("ESP bootloader reset, played here" in line for line in server.lines),
            sum(attempts for _, _, attempts in clients))

    def test_no_added_latency(self):
        self.check(0, [("pyserial", "?ign_set_control", 3), ("pyserial", "", 3),
                       ("ttynet", "", 3), ("ttynet", "?ign_set_control", 3)])

    def test_200ms_round_trip(self):
        self.check(0.2, [("pyserial", "?ign_set_control", 3), ("pyserial", "", 2),
                         ("ttynet", "?ign_set_control", 3), ("ttynet", "", 2)])

    def test_one_second_round_trip(self):
        self.check(1.0, [("pyserial", "?ign_set_control", 2), ("ttynet", "?ign_set_control", 2)])

    def test_r0_and_custom_sequences_are_what_is_played(self):
        for args, played in ((["--r0"], "U0,0|U1,1|U0,1|W0.1|U1,0|W0.55|U0,0|D0"),
                             (["--reset-sequence", "D0|R1|W0.1|D1|R0|W0.05|D0",
                               "--hard-reset-sequence", "R1|W0.2|R0"],
                              "D0|R1|W0.1|D1|R0|W0.05|D0")):
            with self.subTest(args=args):
                server = self.serve("--esp", *args, QUICK_BOARD)
                successes, _ = ttynet_attempts(server.url(), 2, 1.0)
                self.assertEqual(successes, 2)
                server.wait_for_log(f"ESP bootloader reset, played here: {re.escape(played)}")

    def test_a_bad_custom_sequence_is_one_clear_error(self):
        done = subprocess.run([TTYNET, "serve", "--esp", "--reset-sequence", "D0|X1", "-p", "0",
                               "--bind", "127.0.0.1", QUICK_BOARD],
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(done.returncode, 1)
        self.assertEqual(done.stderr.strip(),
                         "ttynet: error: --reset-sequence: bad reset step 'X1' (step 2); "
                         "expected D0/D1, R0/R1, U<0|1>,<0|1> or W<seconds>")

    def test_without_esp_a_quick_board_misses_the_window(self):
        # The control: the same pyserial connects through a plain server never reach the
        # loader, because pyserial holds 0.1 s between DTR on and RTS off.
        server = self.serve(QUICK_BOARD)
        successes, _ = pyserial_attempts(server.url(options="?ign_set_control"), 2, 1.0)
        self.assertEqual(successes, 0)


class EspResetLeavesTheApplicationAlone(unittest.TestCase):
    def test_open_close_cycles_and_terminal_connects_do_not_reset(self):
        server = Server("--esp", QUICK_BOARD)
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        received = bytearray()
        for cycle in range(5):
            for options in ("", "?ign_set_control"):
                port = serial.serial_for_url(server.url(options=options), baudrate=115200,
                                             timeout=0.05)
                received += port.read(4096)
                port.close()
        # ttynet's own client opening and closing (ttynet term in pipe mode, nothing to send).
        for _ in range(3):
            done = subprocess.run([TTYNET, "term", server.url(), "--drain", "0.05"],
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
            self.assertEqual(done.returncode, 0, done.stderr)
            received += done.stdout
        self.assertNotIn(b"rst:", bytes(received))
        self.assertFalse(any("ESP" in line and "reset" in line for line in server.lines),
                         "\n".join(server.lines))
        # The application has been running all along: its uptime did not start over.
        port = serial.serial_for_url(server.url(), baudrate=115200, timeout=0.2)
        try:
            data = bytearray()
            end = deadline_after(5)
            while len(UPTIME.findall(data)) < 1 and time.monotonic() < end:
                data += port.read(4096)
        finally:
            port.close()
        uptimes = [int(u) for u in UPTIME.findall(data)]
        self.assertTrue(uptimes, data)
        self.assertGreaterEqual(uptimes[-1], 1)
        self.assertNotIn(b"rst:", bytes(data))


class EspRfc2217ServerEntryPoint(unittest.TestCase):
    def test_takes_its_command_line_and_resets_like_serve_esp(self):
        program = os.path.join(os.path.dirname(TTYNET), "esp_rfc2217_server")
        help_text = subprocess.run([program, "--help"], capture_output=True, text=True,
                                   timeout=10).stdout
        for option in ("--localport", "--r0", "SERIALPORT", "--verbose"):
            self.assertIn(option, help_text)
        with socket.socket() as probe:  # a port that is free now
            probe.bind(("127.0.0.1", 0))
            tcp_port = probe.getsockname()[1]
        # Unbuffered: select() must see every line that has not been read yet.
        proc = subprocess.Popen([program, "-v", "-p", str(tcp_port), QUICK_BOARD],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, bufsize=0)
        try:
            end = deadline_after(10)
            line = b""
            while b"serving" not in line and time.monotonic() < end:
                if select.select([proc.stdout], [], [], end - time.monotonic())[0]:
                    line = proc.stdout.readline()
            self.assertIn(b"serving", line)
            successes, _ = pyserial_attempts(f"rfc2217://127.0.0.1:{tcp_port}?ign_set_control",
                                             2, 1.0)
            self.assertEqual(successes, 2)
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(10), 0)
            proc.stdout.close()


if __name__ == "__main__":
    unittest.main()
