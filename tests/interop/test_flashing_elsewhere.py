"""`ttynet esptool` through RFC 2217 servers nobody here wrote, ser2net and pyserial's
PortManager, exporting a simulated ESP32 on a pseudo-terminal (`ttynet sim --pty`): the
rfc2217:// port asks for paced ESP frames, both servers refuse the unknown option, and the
write goes lock-step and verifies. The chip stays in download mode (a pty has no DTR/RTS), so
esptool runs with --before no_reset."""

import os
import random
import subprocess
import tempfile
import unittest

from support import TTYNET, SimulatedChipOnPty
from test_client_portmanager import PortManagerServer
from test_client_ser2net import SER2NET, Ser2net

NOT_PACED = "no paced ESP frames"


class FlashingThroughOtherServers(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.chip = SimulatedChipOnPty(self.dir.name)
        self.addCleanup(self.chip.stop)
        self.image = os.path.join(self.dir.name, "image.bin")
        with open(self.image, "wb") as f:
            f.write(random.Random(2217).randbytes(20000))

    def flash(self, url):
        result = subprocess.run(
            [TTYNET, "esptool", "-v", "-v", "-p", url, "--before", "no_reset", "write_flash",
             "0x10000", self.image], stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(NOT_PACED, result.stderr)
        self.assertIn("Hash of data verified.", result.stdout)

    def test_through_ser2net(self):
        if not os.access(SER2NET, os.X_OK):
            self.fail("ser2net not found; scripts/setup.sh installs it")
        ser2net = Ser2net(self.chip.link, self.chip.link)
        self.addCleanup(ser2net.stop)
        # ser2net sends no reply to SET-CONTROL on a pty (see test_client_ser2net.py).
        self.flash(f"rfc2217://127.0.0.1:{ser2net.rfc2217_port}?ign_set_control")

    def test_through_pyserial_port_manager(self):
        server = PortManagerServer(self.chip.link)
        self.addCleanup(server.stop)
        self.flash(f"rfc2217://127.0.0.1:{server.port}")


if __name__ == "__main__":
    unittest.main()
