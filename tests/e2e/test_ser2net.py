"""The ser2net-compatible entry point, run as labgrid's exporter runs ser2net: a link named
`ser2net` to ttynet, its exact command line, labgrid's console client (microcom) and pyserial
with labgrid's URL attached at the same time."""

import os
import pty
import select
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import serial

from multiport_support import free_port_base
from support import TTYNET, PtyDevice, deadline_after

MICROCOM = "/usr/bin/microcom"


def ser2net_link(directory):
    """A link named ser2net to the ttynet binary, as put first on the exporter's PATH."""
    link = os.path.join(directory, "ser2net")
    os.symlink(os.path.abspath(TTYNET) if os.path.sep in TTYNET else TTYNET, link)
    return link


def exporter_command(ser2net, tcp_port, device):
    """labgrid's exporter command line for a USB serial port (labgrid/remote/exporter.py)."""
    return [ser2net, "-d", "-n",
            "-Y", f"connection: &con01#  accepter: telnet(rfc2217,mode=server),tcp,{tcp_port}",
            "-Y", f"  connector: serialdev(nouucplock=true),{device},115200n81,local",
            "-Y", "  options:",
            "-Y", "    max-connections: 10"]


class Console:
    """A program run on a pseudo-terminal (microcom), its output collected from a thread."""

    def __init__(self, argv):
        self.pid, self.terminal = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self):
        while True:
            ready, _, _ = select.select([self.terminal], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.terminal, 4096)
                except OSError:
                    return
                if not chunk:
                    return
                with self._lock:
                    self.output += chunk

    def wait_for(self, text, timeout=10):
        end = deadline_after(timeout)
        while time.monotonic() < end:
            with self._lock:
                if text in self.output:
                    return True
            time.sleep(0.02)
        return False

    def type(self, text):
        os.write(self.terminal, text)

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.terminal)
        self._thread.join(5)


class Ser2netEntryPoint(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.ser2net = ser2net_link(self.dir.name)

    def test_version_line_is_three_words_with_a_version_from_4_2(self):
        result = subprocess.run([self.ser2net, "-v"], capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0)
        # As labgrid reads it.
        _, _, version = result.stdout.split(" ")
        self.assertGreaterEqual(tuple(map(int, version.strip().split("."))), (4, 2, 0))

    def test_unknown_words_are_a_clear_error(self):
        for fragments, word in [
            (["connection: &c#  accepter: udp,2000#  connector: serialdev,/dev/ttyS0"], "udp"),
            (["connection: &c#  accepter: tcp,2000#  connector: ipmisol,lan,9600"], "ipmisol"),
            (["connection: &c#  accepter: tcp,2000#  connector: serialdev,/dev/ttyS0#"
              "  options:#    fancy-option: 1"], "fancy-option"),
        ]:
            argv = [self.ser2net, "-d", "-n"]
            for fragment in fragments:
                argv += ["-Y", fragment]
            result = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            self.assertEqual(result.returncode, 1, result.stderr)
            self.assertIn(word, result.stderr)
            self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)

    def test_labgrids_exporter_command_line_with_microcom_and_pyserial_at_once(self):
        device = PtyDevice(echo=False)
        self.addCleanup(device.close)
        tcp_port = free_port_base(1)
        server = subprocess.Popen(exporter_command(self.ser2net, tcp_port, device.path),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        log = []
        started = threading.Event()

        def collect():
            for raw in server.stdout:
                log.append(raw.decode(errors="replace").rstrip())
                if f"on TCP port {tcp_port}" in log[-1]:
                    started.set()
        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        self.addCleanup(lambda: server.poll() is None and server.kill())
        self.assertTrue(started.wait(10), "\n".join(log))

        console = Console([MICROCOM, "-s", "115200", "-t", f"127.0.0.1:{tcp_port}"])
        self.addCleanup(console.close)
        port = serial.serial_for_url(f"rfc2217://127.0.0.1:{tcp_port}?ign_set_control&timeout=5",
                                     timeout=5)
        self.addCleanup(port.close)
        end = deadline_after(10)
        while time.monotonic() < end and sum(line.endswith(" connected") for line in log) < 2:
            time.sleep(0.02)
        self.assertEqual(sum(line.endswith(" connected") for line in log), 2, "\n".join(log))

        # The board's output reaches both.
        os.write(device.master, b"U-Boot 2024.01 hello from the board\r\n")
        self.assertTrue(console.wait_for(b"hello from the board"), bytes(console.output))
        self.assertIn(b"hello from the board", port.read_until(b"board\r\n"))

        # Both write to the board.
        console.type(b"typed in microcom\r")
        port.write(b"written by pyserial\n")
        end = deadline_after(10)
        while time.monotonic() < end and not (b"typed in microcom" in device.received and
                                              b"written by pyserial" in device.received):
            time.sleep(0.02)
        self.assertIn(b"typed in microcom", device.received)
        self.assertIn(b"written by pyserial", device.received)

        # microcom's menu (Ctrl-\) sets the speed; the board's line follows.
        console.type(b"\x1c")
        self.assertTrue(console.wait_for(b"command"), bytes(console.output))
        console.type(b"speed 9600\r")
        end = deadline_after(10)
        while time.monotonic() < end and device.termios2()[1] != 9600:
            time.sleep(0.02)
        self.assertEqual(device.termios2()[1], 9600, bytes(console.output[-400:]))

        # SIGTERM, as the exporter stops it: gone within 2 s.
        started_at = time.monotonic()
        server.terminate()
        self.assertEqual(server.wait(5), 0)
        self.assertLess(time.monotonic() - started_at, 2.0)
        reader.join(5)
        server.stdout.close()


if __name__ == "__main__":
    unittest.main()
