"""The simulated ESP chip end to end: `ttynet serve sim://esp32` driven by pyserial's rfc2217
client (reset by DTR/RTS as esptool does it, then SYNC), and `ttynet sim --pty LINK` opened
by pyserial as a local serial port."""

import os
import signal
import struct
import subprocess
import tempfile
import time
import unittest

import serial

from support import TTYNET, Server, SimulatedChipOnPty, deadline_after

SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32
ROM_SYNC_VALUE = 0x20120707
WAITING = b"waiting for download"


def slip(payload):
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def request(op, data, checksum=0):
    return struct.pack("<BBHI", 0, op, len(data), checksum) + data


def frames(data):
    """Unescaped SLIP frames in `data` (bytes outside frames are skipped)."""
    out = []
    for chunk in data.split(b"\xc0"):
        if len(chunk) >= 8 and chunk[0] == 1:
            out.append(chunk.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb"))
    return out


def read_until(port, done, timeout):
    """What `port` delivers until done(data) holds or the time is up."""
    data = bytearray()
    end = deadline_after(timeout)
    while not done(data) and time.monotonic() < end:
        port.timeout = max(0.01, min(0.2, end - time.monotonic()))
        data += port.read(4096)
    return bytes(data)


def sync_replies(port, timeout=5):
    """Sends one SYNC; returns the (op, value) of the replies."""
    port.write(slip(request(0x08, SYNC_DATA)))
    data = read_until(port, lambda d: len(frames(d)) >= 8, timeout)
    return [struct.unpack_from("<BBHI", f)[1:4:2] for f in frames(data)]


def classic_reset(port):
    """esptool's ClassicReset, with its 0.1 s and 0.05 s holds (the protocol's timing)."""
    port.dtr = False
    port.rts = True
    time.sleep(0.1)
    port.dtr = True
    port.rts = False
    time.sleep(0.05)
    port.dtr = False


class SimOverRfc2217(unittest.TestCase):
    def start(self, url, client_options=""):
        self.server = Server(url)
        self.addCleanup(self.stop)
        port = serial.serial_for_url(self.server.url(options=client_options), baudrate=115200,
                                     timeout=5)
        self.addCleanup(port.close)
        return port

    def stop(self):
        self.assertEqual(self.server.stop(), 0, "server did not exit cleanly on SIGTERM")

    def test_classic_reset_enters_download_mode_and_sync_is_answered(self):
        # Over RFC 2217 each line change is a round trip, and pyserial with ?ign_set_control
        # holds 0.1 s after each: GPIO0 is low from about 0.1 s to 0.25 s after EN rises. A
        # board whose EN capacitor delays the strap sampling into that window (en_delay)
        # enters download mode with a plain server; a quick board does not (next test).
        port = self.start("sim://esp32?boot=app&en_delay=0.175", "?ign_set_control")
        # The boot log went by before anyone connected; the application prints a line a second.
        running = read_until(port, lambda d: b"main: tick" in d, 5)
        self.assertIn(b"main: tick", running)
        classic_reset(port)
        data = read_until(port, lambda d: WAITING in d, 5)
        self.assertIn(b"DOWNLOAD_BOOT", data)
        self.assertIn(WAITING, data)
        replies = sync_replies(port)
        self.assertEqual(replies, [(0x08, ROM_SYNC_VALUE)] * 8)

    def test_classic_reset_over_the_network_is_too_slow_for_a_quick_board(self):
        # The failure docs/reference/esp-loader-protocol.md §9 describes: EN rises with DTR, the
        # straps are sampled 5 ms later, long before RTS (and so GPIO0) follows over the network.
        port = self.start("sim://esp32?boot=app")
        classic_reset(port)
        data = read_until(port, lambda d: b"main: simulated" in d, 5)
        self.assertIn(b"SPI_FAST_FLASH_BOOT", data)
        self.assertNotIn(WAITING, data)

    def test_lines_never_touched_stay_as_they_are_when_the_client_leaves(self):
        port = self.start("sim://esp32")
        self.assertEqual(sync_replies(port), [(0x08, ROM_SYNC_VALUE)] * 8)
        port.close()
        again = serial.serial_for_url(self.server.url(), baudrate=115200, timeout=5)
        try:
            self.assertEqual(sync_replies(again), [(0x08, ROM_SYNC_VALUE)] * 8)
        finally:
            again.close()


class SimOnPty(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        chip = SimulatedChipOnPty(self.dir.name)
        self.addCleanup(chip.stop)
        self.link, self.proc = chip.link, chip.proc

    def test_sync_is_answered_and_the_link_goes_on_sigterm(self):
        port = serial.Serial(self.link, 115200, timeout=5)
        try:
            self.assertEqual(sync_replies(port), [(0x08, ROM_SYNC_VALUE)] * 8)
        finally:
            port.close()
        # A second program finds the ROM loader again.
        port = serial.Serial(self.link, 115200, timeout=5)
        try:
            self.assertEqual(sync_replies(port), [(0x08, ROM_SYNC_VALUE)] * 8)
        finally:
            port.close()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(10), 0)
        self.assertFalse(os.path.lexists(self.link))

    def test_refuses_to_replace_a_file_that_is_not_a_link(self):
        path = os.path.join(self.dir.name, "plain")
        with open(path, "w") as f:
            f.write("keep")
        result = subprocess.run([TTYNET, "sim", "--pty", path], capture_output=True, timeout=10)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(b"not a symlink", result.stderr)
        with open(path) as f:
            self.assertEqual(f.read(), "keep")


if __name__ == "__main__":
    unittest.main()
