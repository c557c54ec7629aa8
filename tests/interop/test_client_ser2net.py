"""ttynet's rfc2217:// and socket:// client ports (through port_probe) against ser2net 4.x
(Debian's ser2net with libgensio), serving pseudo-terminal echo devices: one telnet(rfc2217)
accepter, one raw tcp accepter, both on 127.0.0.1 only.

A pseudo-terminal has no modem lines. ser2net (gensio's serialdev) then sends no reply at all
to SET-CONTROL DTR/RTS requests (docs/reference/rfc2217-peers.md §6, "timeout while waiting for
option 'control'"), so against it DTR/RTS changes can only be made with ?ign_set_control, with
ttynet's client as with pyserial's; without it the open fails on the first DTR request, which
test_control_lines_without_ign_set_control pins down (for both clients)."""

import os
import shutil
import subprocess
import tempfile
import time
import unittest

from interop_support import (check_baud_changes, check_open, check_roundtrip, free_tcp_port, run_probe, step_lines,
                             wait_listening)
from support import PtyDevice, end_process

SER2NET = shutil.which("ser2net") or "/usr/sbin/ser2net"


class Ser2net:
    """ser2net in the foreground with its own YAML configuration in a temporary directory."""

    def __init__(self, rfc2217_device, raw_device):
        self.dir = tempfile.TemporaryDirectory(prefix="ttynet-ser2net-")
        self.rfc2217_port = free_tcp_port()
        self.raw_port = free_tcp_port()
        config = os.path.join(self.dir.name, "ser2net.yaml")
        with open(config, "w") as file:
            file.write(f"""%YAML 1.1
---
connection: &rfc2217
  accepter: telnet(rfc2217),tcp,127.0.0.1,{self.rfc2217_port}
  connector: serialdev,{rfc2217_device},115200n81,local
  options:
    kickolduser: true
connection: &raw
  accepter: tcp,127.0.0.1,{self.raw_port}
  connector: serialdev,{raw_device},115200n81,local
  options:
    kickolduser: true
""")
        self.log_path = os.path.join(self.dir.name, "ser2net.log")
        self._log = open(self.log_path, "w")
        # -n: foreground; -d: log to stdout; -u: no UUCP lock files.
        self.proc = subprocess.Popen([SER2NET, "-n", "-d", "-u", "-c", config],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        try:
            wait_listening(self.rfc2217_port, proc=self.proc)
            wait_listening(self.raw_port, proc=self.proc)
        except AssertionError:
            self.stop()
            raise

    def log(self):
        with open(self.log_path, errors="replace") as file:
            return file.read()

    def stop(self):
        end_process(self.proc)
        self._log.close()
        self.dir.cleanup()


class ClientAgainstSer2net(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Not a skip: scripts/setup.sh installs ser2net, so its absence is a broken setup, and a
        # skipped interop suite would look like a passing one.
        if not os.access(SER2NET, os.X_OK):
            raise cls.failureException(
                f"ser2net not found (looked on PATH and at {SER2NET}); these interop tests need "
                "Debian's ser2net 4.x: run scripts/setup.sh or apt-get install ser2net")

    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.raw_device = PtyDevice(echo=True)
        self.ser2net = Ser2net(self.device.path, self.raw_device.path)

    def tearDown(self):
        self.ser2net.stop()
        self.device.close()
        self.raw_device.close()

    def url(self, options="?ign_set_control"):
        return f"rfc2217://127.0.0.1:{self.ser2net.rfc2217_port}{options}"

    def test_open(self):
        check_open(self, self.url())

    def test_baud_changes_are_confirmed_and_reach_the_device(self):
        check_baud_changes(self, self.url(), self.device)

    def test_control_lines_with_ign_set_control(self):
        code, lines, stderr = run_probe(self.url(), "--dtr", 0, "--rts", 1, "--dtr", 1,
                                        "--rts", 0, timeout=20)
        self.assertEqual(code, 0, stderr)
        results = [(line["step"], line["value"], line["lines"]) for line in lines[1:]]
        self.assertEqual(results, [
            ("dtr", False, {"dtr": False, "rts": True}),
            ("rts", True, {"dtr": False, "rts": True}),
            ("dtr", True, {"dtr": True, "rts": True}),
            ("rts", False, {"dtr": True, "rts": False}),
        ])

    def test_control_lines_without_ign_set_control(self):
        # EXPECTED PEER LIMITATION, not a client defect: ser2net leaves SET-CONTROL DTR/RTS on a
        # device without modem lines (a pty) unanswered. The open sequence sets DTR, so the
        # open must fail, promptly (timeout=1) and naming the unanswered request; pyserial's
        # client fails the same way against the same server.
        started = time.monotonic()
        code, lines, stderr = run_probe(self.url("?timeout=1"), "--expect-open-error",
                                        timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(code, 0, f"open did not fail: {lines} {stderr}")
        error = step_lines(lines, "open")[0]["error"]
        self.assertIn("SET-CONTROL DTR on", error)
        self.assertLess(elapsed, 4)

        import serial  # Debian's python3-serial, the reference client
        with self.assertRaisesRegex(serial.SerialException, "option 'control'"):
            serial.serial_for_url(self.url("?timeout=1"), timeout=1).close()

    def test_roundtrip_1mib(self):
        check_roundtrip(self, self.url(), "ser2net rfc2217://", timeout=40)

    def test_raw_socket_roundtrip_1mib(self):
        url = f"socket://127.0.0.1:{self.ser2net.raw_port}"
        check_roundtrip(self, url, "ser2net socket://", timeout=40)


if __name__ == "__main__":
    unittest.main()
