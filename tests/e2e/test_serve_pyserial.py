"""`ttynet serve` on a pseudo-terminal, driven by pyserial's rfc2217:// and socket:// clients
(Debian python3-serial): the peers we did not write."""

import os
import signal
import socket
import tempfile
import termios
import time
import unittest

import serial

from support import (CMSPAR, PtyDevice, Server, payload, read_exactly, read_until_closed,
                     round_trip)

MIB = 1024 * 1024


class ServeRfc2217(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server(self.device.path)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()

    def open(self, options="", **kwargs):
        return serial.serial_for_url(self.server.url(options=options), timeout=5, **kwargs)

    def test_opens_promptly_with_and_without_ign_set_control(self):
        for options in ("", "?ign_set_control"):
            with self.subTest(options=options):
                started = time.monotonic()
                port = self.open(options)
                elapsed = time.monotonic() - started
                port.close()
                # pyserial polls every 50 ms per awaited step; a server that answers at once
                # lets open() finish in well under its 3 s timeout.
                self.assertLess(elapsed, 1.5)

    def test_baud_rates_reach_the_device(self):
        port = self.open()
        try:
            for baud in (9600, 19200, 57600, 115200, 230400, 250000, 460800, 921600, 1000000,
                         1500000, 2000000, 3000000):
                port.baudrate = baud  # pyserial raises if the reply differs from the request
                _, ispeed, ospeed = self.device.termios2()
                self.assertEqual((ispeed, ospeed), (baud, baud))
        finally:
            port.close()

    def test_line_format_reaches_the_device(self):
        port = self.open()
        try:
            # A pty keeps stop bits and the parity kind, though it forces CS8 and drops PARENB.
            port.stopbits = serial.STOPBITS_TWO
            self.assertTrue(self.device.termios2()[0] & termios.CSTOPB)
            port.stopbits = serial.STOPBITS_ONE
            self.assertFalse(self.device.termios2()[0] & termios.CSTOPB)
            port.parity = serial.PARITY_ODD
            self.assertTrue(self.device.termios2()[0] & termios.PARODD)
            port.parity = serial.PARITY_MARK
            self.assertTrue(self.device.termios2()[0] & CMSPAR)
            port.parity = serial.PARITY_NONE
            self.assertFalse(self.device.termios2()[0] & (termios.PARODD | CMSPAR))
            for bits in (serial.FIVEBITS, serial.SIXBITS, serial.SEVENBITS, serial.EIGHTBITS):
                port.bytesize = bits  # accepted and confirmed
            port.rtscts = True
            self.assertTrue(self.device.termios2()[0] & termios.CRTSCTS)
            port.rtscts = False
            self.assertFalse(self.device.termios2()[0] & termios.CRTSCTS)
        finally:
            port.close()

    def test_control_requests_are_answered(self):
        port = self.open()  # without ign_set_control every SET-CONTROL must get its reply
        try:
            started = time.monotonic()
            port.dtr = False
            port.rts = False
            port.dtr = True
            port.rts = True
            port.send_break(0.05)
            port.break_condition = True
            port.break_condition = False
            port.reset_input_buffer()
            port.reset_output_buffer()
            self.assertLess(time.monotonic() - started, 3)
            self.assertIn(port.cts, (True, False))  # a NOTIFY-MODEMSTATE has arrived
        finally:
            port.close()

    def test_one_mib_round_trips_bit_exact(self):
        port = self.open()
        try:
            data = payload(MIB)
            self.assertEqual(round_trip(port, data), data)
        finally:
            port.close()

    def test_second_client_is_refused_then_served_after_the_first_leaves(self):
        first = self.open()
        try:
            with self.server.connect() as second:
                refusal, closed = read_until_closed(second, 5)
            self.assertTrue(closed, "refused client not closed")
            self.assertIn(b"in use", refusal)
            self.assertTrue(refusal.endswith(b"\r\n"))
            first.write(b"still mine")
            self.assertEqual(read_exactly(first.read, 10, 5), b"still mine")
        finally:
            first.close()
        self.server.wait_for_log(r"disconnected")
        again = self.open()
        try:
            again.write(b"ping")
            self.assertEqual(read_exactly(again.read, 4, 5), b"ping")
        finally:
            again.close()


class ServeBasics(unittest.TestCase):
    def test_signature_names_version_and_device(self):
        device = PtyDevice(echo=True)
        server = Server(device.path)
        try:
            with server.connect() as client:
                # WILL COM-PORT, then SIGNATURE with no text: "send me yours".
                client.sendall(bytes([0xFF, 0xFB, 0x2C, 0xFF, 0xFA, 0x2C, 0x00, 0xFF, 0xF0]))
                reply = bytearray()
                end = time.monotonic() + 5
                while b"\xff\xfa\x2c\x64" not in reply or not reply.endswith(b"\xff\xf0"):
                    self.assertLess(time.monotonic(), end, f"no signature in {bytes(reply)!r}")
                    reply += client.recv(4096)
            text = reply[reply.index(b"\xff\xfa\x2c\x64") + 4:]
            self.assertIn(b"ttynet ", text)
            self.assertIn(device.path.encode(), text)
        finally:
            self.assertEqual(server.stop(), 0)
            device.close()

    def test_listens_on_ipv4_and_ipv6_by_default(self):
        if not socket.has_ipv6:
            self.skipTest("no IPv6 on this machine")
        server = Server("loop://", bind=None)
        try:
            for family, address in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                mark = len(server.lines)
                with socket.socket(family, socket.SOCK_STREAM) as client:
                    client.settimeout(5)
                    client.connect((address, server.port))
                    client.sendall(b"dual")  # loop:// echoes
                    echoed = bytearray()
                    while b"dual" not in echoed:
                        chunk = client.recv(200)
                        self.assertTrue(chunk, "closed before the echo")
                        echoed += chunk
                # The next client is served once this one is gone.
                server.wait_for_log("disconnected", start=mark)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_sigint_exits_cleanly_with_a_client_connected(self):
        server = Server("loop://")
        port = serial.serial_for_url(server.url(), timeout=5)
        try:
            self.assertEqual(server.stop(signal.SIGINT), 0)
            server.wait_for_log("SIGINT")
        finally:
            port.close()


class ServeRaw(unittest.TestCase):
    def test_one_mib_round_trips_bit_exact_through_socket_url(self):
        device = PtyDevice(echo=True)
        server = Server("--raw", device.path)
        try:
            port = serial.serial_for_url(server.url("socket"), timeout=5)
            try:
                data = payload(MIB, seed=7)
                self.assertEqual(round_trip(port, data), data)
            finally:
                port.close()
        finally:
            self.assertEqual(server.stop(), 0)
            device.close()


class DeviceUnplug(unittest.TestCase):
    def test_client_is_told_and_device_is_served_again_when_it_returns(self):
        with tempfile.TemporaryDirectory() as directory:
            link = os.path.join(directory, "ttyUSB-test")
            device = PtyDevice(echo=True)
            os.symlink(device.path, link)
            server = Server(link)
            replacement = None
            try:
                mark = len(server.lines)
                client = server.connect()
                # The unplug must come after the server took the client on, not before.
                server.wait_for_log(r" connected$", timeout=10, start=mark)
                device.unplug()
                os.unlink(link)
                goodbye, closed = read_until_closed(client, 5)
                self.assertIn(b"disconnected", goodbye)
                self.assertTrue(closed, "client not closed")
                client.close()

                replacement = PtyDevice(echo=True)
                mark = len(server.lines)
                os.symlink(replacement.path, link)
                server.wait_for_log(r"is back", timeout=10, start=mark)
                port = serial.serial_for_url(server.url(), timeout=5)
                try:
                    port.write(b"after replug")
                    self.assertEqual(read_exactly(port.read, 12, 5), b"after replug")
                finally:
                    port.close()
            finally:
                self.assertEqual(server.stop(), 0)
                if replacement:
                    replacement.close()


if __name__ == "__main__":
    unittest.main()
