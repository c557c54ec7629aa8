"""Remote flashing: `ttynet esptool` through `ttynet serve --esp` with paced ESP frames
(docs/design/paced-esp-frames.md), directly and behind tests/e2e/latency_proxy.py adding a
300 ms round trip. What is written is checked in the simulated chip's flash file, byte for
byte; the negotiation is checked from both ends' logs and on the wire."""

import os
import random
import select
import socket
import threading
import time
import unittest

from esp_connect import LatencyProxy
from support import MONITOR_RE, Server, deadline_after, uses_address_sanitizer
from test_esptool import EsptoolCase, esptool, md5
from test_serve_robustness import rss_kib

PACED = "the server paces ESP frames"
NOT_PACED = "no paced ESP frames"

# (address, data): sizes around the ROM's 1 KiB block and the 4 KiB sector, unaligned
# addresses, and data full of the bytes SLIP and Telnet escape. One file per 64 KiB, so the
# erased lead of an unaligned write touches no other file.
def matrix_files():
    rng = random.Random(2217)
    return [
        (0x10000, b"\x5a"),
        (0x20000 + 0x123, rng.randbytes(1024)),
        (0x30000 + 0x1, rng.randbytes(1025)),
        (0x40000, b"\xff" * 16384),
        (0x50000 + 0x800, bytes(b"\xc0\xdb\xff"[i % 3] for i in range(16385))),
        (0x60000, b"\xc0" * 4096 + b"\xdb" * 4096),
    ]


class RemoteFlashing(EsptoolCase):
    def serve(self, device, *extra):
        server = Server(*extra, device)
        self.addCleanup(server.proc.stdout.close)
        self.addCleanup(server.stop)
        return server

    def flash_file(self):
        return self.path("flash.bin")

    def chip(self, options=""):
        return f"sim://esp32?pace=1&flash_file={self.flash_file()}{options}"

    def test_ttynet_client_and_server_agree_only_under_esp(self):
        for extra, expected in ((["--esp"], PACED), ([], NOT_PACED)):
            with self.subTest(server=extra):
                server = self.serve("sim://esp32", *extra)
                result = esptool("-v", "-v", "-p", server.url(), "flash_id")
                self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
                self.assertIn(expected, result.stderr)
                server.stop()

    def test_the_server_never_offers_the_option(self):
        # pyserial's opening; the server's answers must not mention option 120 (0x78), so
        # pyserial, which refuses what it does not know, never sees it.
        server = self.serve("sim://esp32", "--esp")
        opening = bytes.fromhex("fffd01 fffb03 fffd03 fffd2c fffb2c")
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(opening)
            received = b""
            deadline = deadline_after(5)
            # NOTIFY-MODEMSTATE (SB 44 107) comes once COM-PORT is agreed: the answers are in.
            while b"\xff\xfa\x2c\x6b" not in received and time.monotonic() < deadline:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        self.assertIn(b"\xff\xfa\x2c\x6b", received)
        for verb in (0xFB, 0xFC, 0xFD, 0xFE):
            self.assertNotIn(bytes([0xFF, verb, 0x78]), received)

    def write_and_check(self, url, files, timeout):
        paths = []
        for i, (address, data) in enumerate(files):
            paths += [hex(address), self.write(f"file{i}.bin", data)]
        out = self.ok("-p", url, "-b", "921600", "write_flash", *paths, timeout=timeout)
        self.assertEqual(out.count("Hash of data verified."), len(files), out)
        out = self.ok("-p", url, "-b", "921600", "write_flash", "-u", "--force", *paths,
                      timeout=timeout)
        self.assertEqual(out.count("Hash of data verified."), len(files), out)
        out = self.ok("-p", url, "verify_flash", *paths, timeout=timeout)
        self.assertEqual(out.count("-- verify OK (digest matched)"), len(files), out)

    def check_flash(self, server, files):
        self.assertEqual(server.stop(), 0)
        with open(self.flash_file(), "rb") as f:
            flash = f.read()
        for address, data in files:
            self.assertEqual(md5(flash[address:address + len(data)]), md5(data), hex(address))

    def test_every_size_and_byte_at_0_and_300_ms(self):
        files = matrix_files()
        for delay in (0.0, 0.15):
            with self.subTest(rtt=2 * delay):
                if os.path.exists(self.flash_file()):
                    os.remove(self.flash_file())
                server = self.serve(self.chip(), "--esp")
                url = server.url()
                if delay:
                    proxy = LatencyProxy(server.port, delay=delay, jitter=delay / 20)
                    self.addCleanup(proxy.stop)
                    url = proxy.url()
                self.write_and_check(url, files, timeout=120)
                self.check_flash(server, files)

    def test_an_unchanged_image_is_skipped_and_a_changed_sector_rewritten(self):
        rng = random.Random(7)
        image = bytearray(rng.randbytes(64 * 1024))
        path = self.write("image.bin", bytes(image))
        server = self.serve(self.chip(), "--esp")
        self.assertIn("Hash of data verified.", self.ok("-p", server.url(), "write_flash",
                                                         "0x10000", path))
        out = self.ok("-p", server.url(), "write_flash", "0x10000", path)
        self.assertIn("Skipped 0x00010000..0x0001ffff (65536 bytes): the flash already holds "
                      "this data", out)
        self.assertNotIn("Writing at", out)
        image[5 * 4096 + 17] ^= 0xFF  # one sector differs
        path = self.write("image.bin", bytes(image))
        out = self.ok("-p", server.url(), "write_flash", "0x10000", path)
        self.assertIn("Skipping 61440 of 65536 bytes at 0x00010000 that the flash already holds; "
                      "writing 1 stretch(es).", out)
        self.assertIn("Hash of data verified.", out)
        self.check_flash(server, [(0x10000, bytes(image))])

    def test_a_transient_block_failure_is_sent_again_and_the_write_succeeds(self):
        server = self.serve(self.chip("&fail_block=5"), "--esp")
        data = random.Random(5).randbytes(32 * 1024)
        out = self.ok("-p", server.url(), "write_flash", "-u", "0x10000",
                      self.write("image.bin", data))
        self.assertIn("Hash of data verified.", out)
        self.check_flash(server, [(0x10000, data)])

    def test_a_persistent_block_failure_fails_with_esptools_text(self):
        server = self.serve(self.chip("&fail_block=5&fail_always"), "--esp")
        data = random.Random(5).randbytes(32 * 1024)
        result = esptool("-p", server.url(), "write_flash", "-u", "0x10000",
                         self.write("image.bin", data))
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertIn("Failed to write to target Flash after seq 5 (result was", result.stderr)
        self.assertNotIn("Hash of data verified.", result.stdout)

    def test_a_chip_that_stops_answering_fails_within_its_timeout_and_the_round_trip(self):
        server = self.serve(self.chip("&stop_after=40"), "--esp")
        proxy = LatencyProxy(server.port, delay=0.15)
        self.addCleanup(proxy.stop)
        data = random.Random(5).randbytes(64 * 1024)
        start = time.monotonic()
        result = esptool("-p", proxy.url(), "write_flash", "-u", "--force", "0x10000",
                         self.write("image.bin", data), timeout=120)
        elapsed = time.monotonic() - start
        self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
        self.assertNotIn("Hash of data verified.", result.stdout)
        # A block's 3 s window, three attempts, each plus the round trip, plus connecting.
        self.assertLess(elapsed, 60, result.stdout + result.stderr)


def telnet_sb(option, payload):
    return bytes([0xFF, 0xFA, option]) + payload.replace(b"\xff", b"\xff\xff") + b"\xff\xf0"


class MonitorReader(threading.Thread):
    """Counts what a monitor connection receives until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.received = 0
        self.running = True

    def run(self):
        self.sock.settimeout(0.2)
        while self.running:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            self.received += len(chunk)

    def stop(self):
        self.running = False
        self.join(5)
        self.sock.close()


class BoundedQueue(unittest.TestCase):
    def test_a_client_pushing_16_mib_into_one_batch_is_held_back(self):
        # SYNC frames (eight replies each) to a chip paced like a real UART at 115200 baud: it
        # takes about 14 ms per frame, so the server can hold only a queue's worth at a time.
        server = Server("--esp", "--monitor-port", "0", "sim://esp32?pace=1")
        self.addCleanup(server.proc.stdout.close)
        self.addCleanup(server.stop)
        monitor_port = int(server.wait_for_log(MONITOR_RE).group(1))
        monitor = MonitorReader(monitor_port)
        monitor.start()
        self.addCleanup(monitor.stop)

        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
        sock.connect(("127.0.0.1", server.port))
        self.addCleanup(sock.close)
        sock.sendall(bytes.fromhex("fffd01 fffb03 fffd03 fffd2c fffb2c fffd78"))
        answers = b""
        deadline = deadline_after(5)
        while b"\xff\xfb\x78" not in answers and time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            answers += sock.recv(4096)
        self.assertIn(b"\xff\xfb\x78", answers)  # WILL PACED-ESP

        baseline = rss_kib(server.proc.pid)
        sync = bytes.fromhex("c0 00 08 24 00 00000000 07071220") + b"\x55" * 32 + b"\xc0"
        frame = telnet_sb(0x78, bytes.fromhex("02 08 04 00000bb8 08")) + sync
        chunk = frame * (1024 * 1024 // len(frame))
        sock.sendall(telnet_sb(0x78, bytes.fromhex("01 0001")))
        sock.setblocking(False)
        sent, peak = 0, baseline
        received_before = monitor.received
        deadline = deadline_after(8)
        while sent < 16 * 1024 * 1024 and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 0.05)
            if writable:
                sent += sock.send(chunk[sent % len(chunk):])
            if readable:
                sock.recv(65536)  # the chip's replies, so this side never blocks the server
            peak = max(peak, rss_kib(server.proc.pid))
        print(f"\nsent {sent >> 10} KiB in 8 s, server RSS +{peak - baseline} KiB", flush=True)
        self.assertLess(sent, 16 * 1024 * 1024, "the server took the whole batch")
        if not uses_address_sanitizer(server.proc.pid):
            self.assertLess(peak - baseline, 256 + 1024, f"server RSS grew {peak - baseline} KiB")
        self.assertGreater(monitor.received, received_before, "the monitor saw no output")


if __name__ == "__main__":
    unittest.main()
