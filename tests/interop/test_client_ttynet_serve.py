"""ttynet's rfc2217:// and socket:// client ports (through port_probe) against the real
`ttynet serve` binary on a pseudo-terminal echo device; also the client's negotiation timeout
against a server that never answers, and an IPv6 literal URL."""

import socket
import threading
import time
import unittest

from interop_support import (check_baud_changes, check_open, check_roundtrip, has_ipv6_loopback, run_probe, step_lines,
                             stop_serve)
from support import PtyDevice, Server


class ClientAgainstTtynetServe(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server(self.device.path)

    def tearDown(self):
        self.assertEqual(stop_serve(self.server), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()

    def test_open(self):
        check_open(self, self.server.url())

    def test_baud_changes_are_confirmed_and_reach_the_device(self):
        check_baud_changes(self, self.server.url(), self.device)

    def test_control_lines_with_and_without_ign_set_control(self):
        for options in ("", "?ign_set_control"):
            with self.subTest(options=options):
                code, lines, stderr = run_probe(self.server.url(options=options), "--dtr", 0,
                                                "--rts", 1, "--dtr", 1, "--rts", 0, "--modem",
                                                timeout=20)
                self.assertEqual(code, 0, stderr)
                results = [(line["step"], line.get("value"), line.get("lines"))
                           for line in lines[1:5]]
                self.assertEqual(results, [
                    ("dtr", False, {"dtr": False, "rts": True}),
                    ("rts", True, {"dtr": False, "rts": True}),
                    ("dtr", True, {"dtr": True, "rts": True}),
                    ("rts", False, {"dtr": True, "rts": False}),
                ])
                self.assertTrue(step_lines(lines, "modem")[0]["ok"])

    def test_roundtrip_1mib(self):
        check_roundtrip(self, self.server.url(), "ttynet serve rfc2217://", timeout=40)


class SocketClientAgainstTtynetServeRaw(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server("--raw", self.device.path)

    def tearDown(self):
        self.assertEqual(stop_serve(self.server), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()

    def test_roundtrip_1mib(self):
        check_roundtrip(self, self.server.url(scheme="socket"), "ttynet serve --raw socket://", timeout=40)


class SilentListener:
    """Accepts TCP connections on 127.0.0.1 and never sends a byte."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.accepted = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:  # closed
                return
            self.accepted.append(connection)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)
        for connection in self.accepted:
            connection.close()


class ClientTimeouts(unittest.TestCase):
    def test_silent_server_fails_the_open_within_the_timeout(self):
        listener = SilentListener()
        try:
            started = time.monotonic()
            code, lines, stderr = run_probe(f"rfc2217://127.0.0.1:{listener.port}?timeout=1",
                                            "--expect-open-error", timeout=20)
            elapsed = time.monotonic() - started
        finally:
            listener.close()
        self.assertEqual(code, 0, f"open did not fail: {lines} {stderr}")
        opened = step_lines(lines, "open")[0]
        self.assertFalse(opened["ok"])
        self.assertGreaterEqual(opened["elapsed"], 0.9)
        self.assertLess(opened["elapsed"], 3)
        self.assertLess(elapsed, 3.5)  # the whole probe process
        self.assertRegex(opened["error"], r"COM-PORT|negotiat")
        self.assertIn(f"rfc2217://127.0.0.1:{listener.port}", opened["error"])
        self.assertEqual(len(listener.accepted), 1)


@unittest.skipUnless(has_ipv6_loopback(), "this machine has no ::1")
class ClientOverIpv6(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server(self.device.path, bind="::1")

    def tearDown(self):
        self.assertEqual(stop_serve(self.server), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()

    def test_ipv6_literal(self):
        code, lines, stderr = run_probe(f"rfc2217://[::1]:{self.server.port}", "--baud", 250000,
                                        "--roundtrip", 65536, timeout=20)
        self.assertEqual(code, 0, stderr)
        self.assertEqual(step_lines(lines, "baud")[0]["confirmed"], 250000)
        self.assertTrue(step_lines(lines, "roundtrip")[0]["ok"])


if __name__ == "__main__":
    unittest.main()
