"""Shared ports: several controlling clients (`--max-clients`), scroll-back for clients that
come late (`--scrollback`), takeover of a controller (`--takeover`), and the flash lease that
keeps a second controller's bytes out of a running ESP flash."""

import os
import socket
import tempfile
import threading
import time
import unittest

import serial

from multiport_support import ConfigServer
from support import (MONITOR_RE, PtyDevice, Server, deadline_after, payload, read_exactly,
                     read_until, read_until_closed, uses_address_sanitizer)
from test_esptool import EsptoolCase, esptool
from test_serve_robustness import rss_kib

MIB = 1024 * 1024


def write_to_device(device, data):
    """Writes `data` on the pty's master (the device's output) from a thread."""
    def run():
        view = memoryview(data)
        while view:
            view = view[os.write(device.master, view[:65536]):]
    writer = threading.Thread(target=run, daemon=True)
    writer.start()
    return writer


def read_in_thread(read, count, timeout=60):
    """Calls read_exactly(read, count) in a thread; join() returns what arrived."""
    result = {}
    thread = threading.Thread(target=lambda: result.update(data=read_exactly(read, count, timeout)),
                              daemon=True)
    thread.start()

    class Reader:
        def join(self):
            thread.join(timeout + 5)
            return result.get("data", b"")
    return Reader()


class TwoControllers(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=False)
        self.server = Server("--max-clients", "2", self.device.path)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "serve did not exit cleanly on SIGTERM")
        self.device.close()

    def open(self):
        return serial.serial_for_url(self.server.url(), timeout=5)

    def test_both_get_a_mib_of_device_output_bit_exact_and_both_can_write(self):
        first, second = self.open(), self.open()
        try:
            self.server.wait_for_logs(r"127\.0\.0\.1:\d+ connected", 2)
            data = payload(MIB)
            readers = [read_in_thread(port.read, len(data)) for port in (first, second)]
            write_to_device(self.device, data).join(60)
            self.assertEqual(readers[0].join(), data, "the first controller's copy differs")
            self.assertEqual(readers[1].join(), data, "the second controller's copy differs")

            first.write(b"<from the first>")
            second.write(b"<from the second>")
            end = deadline_after(10)
            while time.monotonic() < end and not (
                    b"<from the first>" in self.device.received
                    and b"<from the second>" in self.device.received):
                time.sleep(0.02)
            self.assertIn(b"<from the first>", self.device.received)
            self.assertIn(b"<from the second>", self.device.received)
        finally:
            first.close()
            second.close()

    def test_a_third_is_refused_and_settings_go_back_when_the_last_leaves(self):
        first, second = self.open(), self.open()
        try:
            self.server.wait_for_logs(r"127\.0\.0\.1:\d+ connected", 2)
            third = self.server.connect()
            refusal, closed = read_until_closed(third, 5)
            third.close()
            self.assertIn(b"is in use by 127.0.0.1:", refusal)
            self.assertTrue(closed)

            first.baudrate = 9600  # any controller changes the device for all
            self.assertEqual(self.device.termios2()[1], 9600)
            first.close()
            self.server.wait_for_log(r"127\.0\.0\.1:\d+ disconnected")
            # The other still uses the device: nothing is put back yet.
            self.assertEqual(self.device.termios2()[1], 9600)
            second.baudrate = 57600
            self.assertEqual(self.device.termios2()[1], 57600)
        finally:
            first.close()
            second.close()
        self.server.wait_for_logs(r"127\.0\.0\.1:\d+ disconnected", 2)
        end = deadline_after(5)  # the restore follows the line
        while time.monotonic() < end and self.device.termios2()[1] != 115200:
            time.sleep(0.02)
        self.assertEqual(self.device.termios2()[1], 115200, "the last controller did not restore")


class ScrollBack(unittest.TestCase):
    """A client that comes late gets exactly the last N bytes, then live output."""

    KEPT = 4096

    def start(self, *args):
        self.device = PtyDevice(echo=False)
        self.addCleanup(self.device.close)
        self.server = Server("--monitor-port", "0", *args, self.device.path)
        self.addCleanup(lambda: self.assertEqual(self.server.stop(), 0))
        self.monitor_port = int(self.server.wait_for_log(MONITOR_RE).group(1))

    def monitor(self):
        sock = socket.create_connection(("127.0.0.1", self.monitor_port), timeout=5)
        self.addCleanup(sock.close)
        return sock

    def output_seen(self, size):
        """The device prints `size` bytes; returns them once a first monitor has all of them
        (so the server has them in its scroll-back)."""
        witness = self.monitor()
        self.server.wait_for_log(r"monitor \S+ connected")
        data = payload(size, seed=size)
        write_to_device(self.device, data).join(30)
        self.assertEqual(read_exactly(witness.recv, size, 30), data)
        return data

    def test_a_late_monitor_gets_exactly_the_last_bytes_then_live_output(self):
        self.start("--scrollback", "4KiB")
        data = self.output_seen(20000)
        late = self.monitor()
        self.assertEqual(read_exactly(late.recv, self.KEPT, 10), data[-self.KEPT:])
        write_to_device(self.device, b"live after the scroll-back").join(10)
        self.assertEqual(read_until(late, b"back", 10), b"live after the scroll-back")

    def test_a_late_controller_gets_the_scroll_back_when_asked(self):
        # A terminal that never negotiates (pyserial would purge it at open, as it purges any
        # input waiting when it opens a port).
        self.start("--scrollback", "4KiB")
        data = self.output_seen(20000)
        client = self.server.connect()
        self.addCleanup(client.close)
        self.server.wait_for_log(r"127\.0\.0\.1:\d+ connected")
        write_to_device(self.device, b"then live").join(10)
        received = read_until(client, b"then live", 10)
        expected = data[-self.KEPT:].replace(b"\xff", b"\xff\xff") + b"then live"
        self.assertTrue(received.endswith(expected),
                        f"{len(received)} bytes, ending {received[-40:]!r}")
        self.assertEqual(received.count(data[-self.KEPT:][:64].replace(b"\xff", b"\xff\xff")), 1)

    def test_a_late_raw_controller_gets_the_scroll_back_before_live_output(self):
        self.start("--raw", "--scrollback", "4KiB")
        data = self.output_seen(20000)
        client = self.server.connect()
        self.addCleanup(client.close)
        self.assertEqual(read_exactly(client.recv, self.KEPT, 10), data[-self.KEPT:])
        write_to_device(self.device, b"then live").join(10)
        self.assertEqual(read_until(client, b"live", 10), b"then live")

    def test_by_default_monitors_get_64_kib_and_controllers_none(self):
        self.start()
        data = self.output_seen(100000)
        late = self.monitor()
        self.assertEqual(read_exactly(late.recv, 65536, 10), data[-65536:])
        port = serial.serial_for_url(self.server.url(), timeout=1)
        try:
            self.server.wait_for_log(r"127\.0\.0\.1:\d+ connected")
            write_to_device(self.device, b"only this").join(10)
            self.assertEqual(read_exactly(port.read, 9, 10), b"only this")
            self.assertEqual(port.read(1), b"", "a controller got output from before it came")
        finally:
            port.close()


class Takeover(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.addCleanup(self.device.close)

    def serve(self, *args):
        self.server = Server(*args, self.device.path)
        self.addCleanup(lambda: self.assertEqual(self.server.stop(), 0))

    def connected(self):
        client = self.server.connect()
        self.addCleanup(client.close)
        client.sendall(b"ping")
        self.assertEqual(read_until(client, b"ping", 5), b"ping")
        return client

    def test_never_refuses_the_newcomer(self):
        self.serve("--raw", "--takeover", "never")
        first = self.connected()
        newcomer = self.server.connect()
        refusal, closed = read_until_closed(newcomer, 5)
        newcomer.close()
        self.assertIn(b"is in use by", refusal)
        self.assertTrue(closed)
        first.sendall(b"still mine")
        self.assertEqual(read_until(first, b"mine", 5), b"still mine")

    def test_always_replaces_the_controller_at_once(self):
        self.serve("--raw", "--takeover", "always")
        first = self.connected()
        newcomer = self.server.connect()
        notice, closed = read_until_closed(first, 5)
        self.assertIn(b"was taken over by 127.0.0.1:", notice)
        self.assertTrue(closed)
        self.server.wait_for_log(r"taken over by 127\.0\.0\.1:\d+ after \d+ s without input")
        newcomer.sendall(b"now mine")
        self.assertEqual(read_until(newcomer, b"mine", 5), b"now mine")
        newcomer.close()

    def test_idle_replaces_only_a_controller_quiet_for_the_limit(self):
        self.serve("--raw", "--takeover", "idle", "--takeover-idle", "1")
        first = self.connected()
        # While it keeps talking, newcomers are refused.
        end = deadline_after(1.5)
        while time.monotonic() < end:
            first.sendall(b".")
            read_until(first, b".", 1)
            time.sleep(0.1)
        early = self.server.connect()
        refusal, _ = read_until_closed(early, 5)
        early.close()
        self.assertIn(b"is in use by", refusal)
        # Quiet for more than the limit: the next newcomer takes the port.
        time.sleep(1.2)
        newcomer = self.server.connect()
        notice, closed = read_until_closed(first, 5)
        self.assertIn(b"was taken over by", notice)
        self.assertTrue(closed)
        newcomer.sendall(b"now mine")
        self.assertEqual(read_until(newcomer, b"mine", 5), b"now mine")
        newcomer.close()


class FlashLease(EsptoolCase):
    """`ttynet esptool write_flash` through `serve --esp --max-clients 2` while a second
    controller keeps sending bytes that would break the loader's SLIP framing."""

    def test_a_second_controller_is_held_back_during_a_flash_and_sees_the_boot_after(self):
        server = Server("--esp", "--max-clients", "2",
                        f"sim://esp32?boot=app&flash_file={self.path('flash.bin')}")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        other = server.connect()
        self.addCleanup(other.close)
        server.wait_for_log(r"127\.0\.0\.1:\d+ connected")
        stop = threading.Event()
        received = bytearray()

        def meddle():  # a frame start and garbage, over and over
            other.settimeout(0.02)
            while not stop.is_set():
                try:
                    other.sendall(b"\xc0\x00\x08garbage")
                    received.extend(other.recv(65536))
                except (socket.timeout, BlockingIOError):
                    pass
                except OSError:
                    return
        meddler = threading.Thread(target=meddle, daemon=True)
        meddler.start()
        try:
            flash_began = len(received)
            image = self.write("image.bin", payload(256 * 1024, seed=7))
            out = self.ok("-p", server.url(), "write_flash", "0x10000", image, timeout=120)
            self.assertIn("Hash of data verified.", out)
            server.wait_for_log(r"input held back while 127\.0\.0\.1:\d+ flashes")
            server.wait_for_log(r"input goes on")
            # After the hard reset it sees the application boot like everyone.
            booted = b"2nd stage bootloader"
            end = deadline_after(10)
            while time.monotonic() < end and booted not in received[flash_began:]:
                time.sleep(0.05)
            self.assertIn(booted, bytes(received[flash_began:]),
                          f"ending {bytes(received[-60:])!r}")
        finally:
            stop.set()
            meddler.join(5)
        result = esptool("-p", server.url(), "read_flash", "0x10000", str(256 * 1024),
                         self.path("back.bin"), timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(self.read("back.bin"), self.read("image.bin"))


class ManyPortsManyClients(unittest.TestCase):
    """64 ports with 4 controllers each: memory stays bounded while all exchange data."""

    PORTS, CLIENTS = 64, 4

    def test_memory_is_bounded(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        config = os.path.join(directory.name, "ports.toml")
        with open(config, "w") as file:
            file.write('[defaults]\nprotocol = "raw"\nbind = "127.0.0.1"\nmax_clients = 4\n')
            for index in range(self.PORTS):
                file.write(f'[[port]]\nname = "p{index}"\ndevice = "loop://"\ntcp_port = 0\n')
        server = ConfigServer(config)
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        ports = server.wait_for_ports(self.PORTS)
        baseline = rss_kib(server.proc.pid)
        clients = []
        self.addCleanup(lambda: [client.close() for client in clients])
        for tcp_port in ports.values():
            for _ in range(self.CLIENTS):
                clients.append(socket.create_connection(("127.0.0.1", tcp_port), timeout=10))
        server.wait_for_logs(r"127\.0\.0\.1:\d+ connected", self.PORTS * self.CLIENTS, timeout=30)

        peaks = []
        for round_number in range(3):
            # Every client of a port sends; every client of the port gets every echo.
            chunk = payload(16 * 1024, seed=round_number)
            for client in clients:
                client.sendall(chunk)
            for client in clients:
                self.assertEqual(len(read_exactly(client.recv, self.CLIENTS * len(chunk), 30)),
                                 self.CLIENTS * len(chunk))
            peaks.append(rss_kib(server.proc.pid))
        print(f"\nRSS {baseline} KiB with no clients; {peaks} KiB after each round with "
              f"{len(clients)} clients", flush=True)
        if uses_address_sanitizer(server.proc.pid):
            return  # ASan's quarantine and shadow memory make RSS meaningless
        self.assertLess(peaks[-1] - baseline, 48 * 1024, "more than 48 MiB for 256 clients")
        self.assertLess(peaks[-1] - peaks[0], 2 * 1024, "memory grew from round to round")


if __name__ == "__main__":
    unittest.main()
