"""`ttynet esptool` end to end: the real binary against the simulated chips directly
(sim://), through `ttynet serve` over RFC 2217 (with and without ?ign_set_control, default
reset), and through `ttynet serve --raw` over socket:// (no reset possible). Results are
checked in the chip's flash file and by reading the flash back."""

import hashlib
import os
import random
import subprocess
import tempfile
import time
import unittest

from esp_connect import LatencyProxy
from support import TTYNET, Server

CHIPS = ["esp32", "esp32c3", "esp32s3"]
CHIP_NAMES = {"esp32": "ESP32", "esp32c3": "ESP32-C3", "esp32s3": "ESP32-S3"}
FLASH_SIZE = 4 * 1024 * 1024
# Extra `ttynet serve` arguments the RFC 2217 tests run with, one variant per entry: plain
# forwarding of DTR/RTS, and --esp (the server recognises esptool's reset sequences and plays
# them on the device itself).
SERVER_VARIANTS = [[], ["--esp"]]
CLIENT_OPTIONS = ["", "?ign_set_control"]


def esptool(*args, timeout=60):
    """Runs `ttynet esptool ARGS`; returns the completed process (text output)."""
    return subprocess.run([TTYNET, "esptool", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def md5(data):
    return hashlib.md5(data).hexdigest()


class EsptoolCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def write(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)
        return self.path(name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()

    def ok(self, *args, timeout=60):
        result = esptool(*args, timeout=timeout)
        self.assertEqual(result.returncode, 0,
                         f"esptool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def images(self):
        rng = random.Random(2217)
        random_data = rng.randbytes(50000)
        text = b"".join(b"line %d of some text\n" % i for i in range(2000))
        return self.write("random.bin", random_data), self.write("text.bin", text)


class DirectChip:
    """sim:// inside the esptool process; the flash file is current when esptool exits."""

    def __init__(self, case, chip):
        self.case, self.chip = case, chip

    def url(self, extra=""):
        return f"sim://{self.chip}?boot=app&flash_file={self.case.path('flash.bin')}{extra}"

    def flash(self):
        return self.case.read("flash.bin")


class ServedChip:
    """The chip behind `ttynet serve EXTRA`; the server writes the flash file back at the
    latest when it stops, so reading it restarts the server on the same file."""

    def __init__(self, case, chip, extra, options):
        self.case, self.chip, self.extra, self.options = case, chip, extra, options
        self.server = None
        self.start()
        case.addCleanup(lambda: self.server.stop())

    def start(self):
        device = f"sim://{self.chip}?boot=app&flash_file={self.case.path('flash.bin')}"
        self.server = Server(*self.extra, device)

    def url(self):
        return self.server.url(options=self.options)

    def flash(self):
        self.case.assertEqual(self.server.stop(), 0)
        data = self.case.read("flash.bin")
        self.start()
        return data


class EveryCommand(EsptoolCase):
    """Every command, with its results checked in the chip's flash."""

    def run_every_command(self, target):
        chip = target.chip
        random_path, text_path = self.images()
        random_data, text = self.read("random.bin"), self.read("text.bin")

        out = self.ok("-p", target.url(), "flash_id")
        self.assertIn(f"Detecting chip type... {CHIP_NAMES[chip]}\n", out)
        self.assertIn("Chip is ", out)
        self.assertIn("MAC: ", out)
        self.assertIn("Detected flash size: 4MB", out)
        self.assertIn("Hard resetting via RTS pin...", out)
        self.assertIn("has no Chip ID. Reading MAC instead.",
                      self.ok("-p", target.url(), "chip_id"))
        self.assertRegex(self.ok("-p", target.url(), "read-mac"),
                         r"MAC: ([0-9a-f]{2}:){5}[0-9a-f]{2}\n")

        # Compressed (the default) and plain, v4 and v5 spellings.
        out = self.ok("-p", target.url(), "--chip", chip, "write_flash", "0x10000", random_path,
                      "0x30000", text_path)
        self.assertEqual(out.count("Hash of data verified."), 2, out)
        self.assertIn("Compressed 50000 bytes to ", out)
        out = self.ok("--port", target.url(), "--before", "default-reset", "--after", "no-reset",
                      "write-flash", "--no-compress", "0x60000", text_path)
        self.assertIn("Hash of data verified.", out)
        self.assertIn("Staying in bootloader.", out)
        flash = target.flash()
        self.assertEqual(len(flash), FLASH_SIZE)
        self.assertEqual(md5(flash[0x10000:0x10000 + len(random_data)]), md5(random_data))
        self.assertEqual(md5(flash[0x30000:0x30000 + len(text)]), md5(text))
        self.assertEqual(md5(flash[0x60000:0x60000 + len(text)]), md5(text))

        out = self.ok("-p", target.url(), "verify_flash", "0x10000", random_path, "0x60000",
                      text_path)
        self.assertEqual(out.count("-- verify OK (digest matched)"), 2, out)
        bad = esptool("-p", target.url(), "verify-flash", "0x30000", random_path)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("-- verify FAILED (digest mismatch)", bad.stdout)
        self.assertIn("A fatal error occurred: Verify failed.", bad.stderr)

        self.ok("-p", target.url(), "read_flash", "0x10000", "5000", self.path("back.bin"))
        self.assertEqual(self.read("back.bin"), random_data[:5000])

        self.ok("-p", target.url(), "erase_region", "0x30000", "0x2000")
        flash = target.flash()
        self.assertEqual(flash[0x30000:0x32000], b"\xff" * 0x2000)
        self.assertEqual(flash[0x32000:0x32000 + 100], text[0x2000:0x2000 + 100])

        out = self.ok("-p", target.url(), "erase-flash")
        self.assertIn("Chip erase completed successfully", out)
        self.assertEqual(target.flash(), b"\xff" * FLASH_SIZE)

        self.ok("-p", target.url(), "--after", "no_reset", "run")


class Direct(EveryCommand):
    """sim:// in the esptool process itself, reset through the simulated circuit."""

    def url(self, chip, extra=""):
        return DirectChip(self, chip).url(extra)

    def test_every_command_on_every_chip(self):
        for chip in CHIPS:
            with self.subTest(chip=chip):
                self.run_every_command(DirectChip(self, chip))

    def test_baud_switch(self):
        _, text_path = self.images()
        out = self.ok("-p", self.url("esp32", "&pace=1"), "-b", "921600", "write_flash",
                      "0x1000", text_path)
        self.assertIn("Changing baud rate to 921600\nChanged.\n", out)
        self.assertIn("Hash of data verified.", out)

    def test_a_chip_that_is_not_in_download_mode_fails_in_bounded_time(self):
        start = time.monotonic()
        result = esptool("-p", self.url("esp32"), "--before", "no_reset",
                         "--connect-attempts", "2", "flash_id", timeout=30)
        self.assertLess(time.monotonic() - start, 10)
        self.assertEqual(result.returncode, 2)
        self.assertIn("A fatal error occurred: Failed to connect to Espressif device:",
                      result.stderr)
        self.assertIn('WARNING: Pre-connection option "no_reset" was selected', result.stdout)

    def test_usage_errors_are_one_line(self):
        result = esptool("flash_id")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no port given", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        result = esptool("-p", "sim://esp32", "write_flash", "0x1000", self.path("missing.bin"))
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("missing.bin", result.stderr)

    def test_numbers_in_hex_or_with_a_size_suffix(self):
        _, text_path = self.images()
        text = self.read("text.bin")
        chip = DirectChip(self, "esp32")
        self.ok("-p", chip.url(), "write_flash", "0X1F000", text_path)
        self.ok("-p", chip.url(), "--after", "no_reset", "read_flash", "0x1f000", "4K",
                self.path("back.bin"), "--flash_size", "1MB")
        self.assertEqual(self.read("back.bin"), text[:4096])
        self.ok("-p", chip.url(), "erase_region", "0x20000", "4kb")
        self.assertEqual(chip.flash()[0x1F000:0x21000], text[:4096] + b"\xff" * 4096)
        for bad, why in [("0x", "is not a number"), ("12z", "is not a number"),
                         ("0x100000000", "is too large"), ("8192MB", "is too large")]:
            with self.subTest(number=bad):
                result = esptool("-p", "sim://esp32", "erase_region", bad, "0x1000")
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(f"'{bad}' {why}", result.stderr)


class ThroughServe(EveryCommand):
    """`ttynet serve` exporting the chip; esptool resets it over the network."""

    def test_every_command_through_serve(self):
        for extra, options in ((["--esp"], "?ign_set_control"), (["--esp"], ""), ([], "")):
            with self.subTest(server=extra, options=options):
                self.run_every_command(ServedChip(self, "esp32", extra, options))

    def test_the_remote_flashing_workflow(self):
        # ttynet serve --esp -p P sim://esp32, then
        # ttynet esptool --port rfc2217://127.0.0.1:P?ign_set_control flash_id
        server = self.serve("sim://esp32?boot=app", ["--esp"])
        out = self.ok("--port", server.url(options="?ign_set_control"), "flash_id")
        self.assertIn("Detecting chip type... ESP32\n", out)
        self.assertIn("Manufacturer: ", out)
        self.assertIn("Detected flash size: 4MB", out)
        self.assertIn("Hard resetting via RTS pin...", out)
        self.assertTrue(any("ESP bootloader reset, played here" in line for line in server.lines))
        self.assertTrue(any("ESP hard reset, played here" in line for line in server.lines))

    def test_connects_across_a_300_ms_round_trip(self):
        # esptool's reply windows (0.1 s for the first SYNC) plus the round trip the rfc2217://
        # port measured; without it nothing connected from about 95 ms.
        server = self.serve("sim://esp32", ["--esp"])
        proxy = LatencyProxy(server.port, delay=0.15, jitter=0.0075)
        self.addCleanup(proxy.stop)
        out = self.ok("--port", proxy.url("?ign_set_control"), "flash_id", timeout=90)
        self.assertIn("Detecting chip type... ESP32\n", out)
        self.assertIn("Detected flash size: 4MB", out)

    def serve(self, device, extra):
        server = Server(*extra, device)
        self.addCleanup(server.proc.stdout.close)
        self.addCleanup(server.stop)
        return server

    def test_rfc2217_with_default_reset(self):
        random_path, _ = self.images()
        random_data = self.read("random.bin")
        for extra in SERVER_VARIANTS:
            for chip in CHIPS:
                for options in CLIENT_OPTIONS:
                    with self.subTest(server=extra, chip=chip, options=options):
                        flash_file = self.path(f"flash-{chip}.bin")
                        server = self.serve(f"sim://{chip}?boot=app&flash_file={flash_file}",
                                            extra)
                        url = server.url(options=options)
                        out = self.ok("-p", url, "write_flash", "0x20000", random_path)
                        self.assertIn(f"Detecting chip type... {CHIP_NAMES[chip]}\n", out)
                        self.assertIn("Hash of data verified.", out)
                        self.ok("-p", url, "read_flash", "0x20000", str(len(random_data)),
                                self.path("back.bin"))
                        self.assertEqual(md5(self.read("back.bin")), md5(random_data))
                        self.assertEqual(server.stop(), 0)
                        with open(flash_file, "rb") as f:
                            flash = f.read()
                        self.assertEqual(
                            md5(flash[0x20000:0x20000 + len(random_data)]), md5(random_data))

    def test_rfc2217_baud_switch(self):
        _, text_path = self.images()
        server = self.serve(f"sim://esp32?boot=app&flash_file={self.path('flash.bin')}",
                            SERVER_VARIANTS[0])
        out = self.ok("-p", server.url(), "-b", "460800", "write_flash", "0x1000", text_path)
        self.assertIn("Changed.", out)
        self.assertIn("Hash of data verified.", out)

    def test_raw_socket_without_reset(self):
        random_path, text_path = self.images()
        random_data = self.read("random.bin")
        # The chip waits in download mode (the sim's default): no reset is possible over TCP.
        server = self.serve(f"sim://esp32s3?flash_file={self.path('flash.bin')}", ["--raw"])
        url = server.url(scheme="socket")
        out = self.ok("-p", url, "--before", "no_reset", "write_flash", "0x40000", random_path)
        self.assertIn("Hash of data verified.", out)
        out = self.ok("-p", url, "verify_flash", "0x40000", random_path)
        self.assertIn("Note: It's not possible to reset the chip over a TCP socket.", out)
        self.assertIn("-- verify OK (digest matched)", out)
        self.ok("-p", url, "--before", "no_reset", "read_flash", "0x40000", "3000",
                self.path("back.bin"))
        self.assertEqual(self.read("back.bin"), random_data[:3000])
        self.assertIn("Detected flash size: 4MB", self.ok("-p", url, "flash_id"))


if __name__ == "__main__":
    unittest.main()
