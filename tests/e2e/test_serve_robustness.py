"""Bad input and bad peers against `ttynet serve`: malformed Telnet, oversized
sub-negotiations, clients that vanish mid-transfer or stop reading. The server must survive
each, keep its memory bounded, and serve the next client."""

import os
import select
import socket
import struct
import time
import unittest

from support import PtyDevice, Server, deadline_after, read_until

IAC, SB, SE = 0xFF, 0xFA, 0xF0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def wait_for_echo(sock, marker, timeout=5):
    """Whether `marker` shows up in the stream in time (Telnet bytes around it are ignored)."""
    return marker in read_until(sock, marker, timeout)


class Robustness(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=True)
        self.server = Server(self.device.path)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0)
        self.device.close()

    def assert_serves_a_new_client(self):
        self.server.wait_for_log(r"disconnected", timeout=10)
        with self.server.connect() as client:
            client.sendall(b"next-client")
            self.assertTrue(wait_for_echo(client, b"next-client"))

    def test_malformed_telnet_is_survived_and_data_still_flows(self):
        # Every byte value but IAC, plus doubled IACs, far past any sub-negotiation limit.
        oversized = (bytes([IAC, SB, 44, 0]) + (bytes(range(255)) + bytes([IAC, IAC])) * 400
                     + bytes([IAC, SE]))
        garbage = [
            bytes([IAC, SE]),                          # SE without SB
            bytes([IAC, SB, 44, 5, IAC, 0xF1, 8, IAC, SE]),  # command inside SB
            bytes([IAC, SB, 44, 1, 0, 0]) + bytes([IAC, SE]),  # short baud
            bytes([IAC, SB, 44, 3, 9, IAC, SE]),       # reserved parity
            bytes([IAC, SB, 44, 4, 0xEE, IAC, SE]),    # reserved stop size
            bytes([IAC, SB, 44, 0x7F, IAC, SE]),       # unknown COM-PORT command
            bytes([IAC, 0xFB, 0x18, IAC, 0xFD, 0x1F]),  # unsupported options
            bytes([IAC, 0x41]),                        # lone IAC before a data byte
            oversized,
        ]
        with self.server.connect() as client:
            for piece in garbage:
                client.sendall(piece)
            client.sendall(b"survived")
            self.assertTrue(wait_for_echo(client, b"survived"))
        self.assertEqual(self.server.proc.poll(), None)
        self.server.stop()
        errors = [line for line in self.server.lines if "protocol error" in line]
        self.assertTrue(errors)
        # One line per kind of error, not one per occurrence: a hostile client cannot flood
        # the log.
        self.assertLess(len(errors), 10)

    def test_client_vanishing_mid_transfer_leaves_the_server_serving(self):
        client = self.server.connect()
        peer = "%s:%d" % client.getsockname()
        client.sendall(b"\x55" * (1 << 20))
        # RST instead of FIN: the way a crashed or unplugged host disappears.
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        self.assert_serves_a_new_client()
        # Said once, naming the port and the peer, however many operations the reset failed.
        about_peer = [line for line in self.server.lines if peer in line]
        self.assertTrue(all(f"port {self.device.path}: {peer}" in line for line in about_peer),
                        about_peer)
        self.assertLessEqual(sum("connection lost" in line for line in about_peer), 1, about_peer)



class SlowClient(unittest.TestCase):
    def test_memory_stays_bounded_when_the_client_stops_reading(self):
        device = PtyDevice(echo=False)
        device.stop()  # this test writes the master itself
        server = Server(device.path)
        try:
            client = server.connect()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            server.wait_for_log("connected")
            baseline = rss_kib(server.proc.pid)
            chunk = b"\xff" * 65536  # every byte doubled on the wire: the worst case
            os.set_blocking(device.master, False)
            written = 0
            end = deadline_after(3)
            while time.monotonic() < end:
                _, writable, _ = select.select([], [device.master], [], 0.1)
                if writable:
                    try:
                        written += os.write(device.master, chunk)
                    except BlockingIOError:
                        pass
            # The server stops reading the device once the client is behind, so the pty
            # fills up and most of what we tried to write was never taken.
            self.assertLess(rss_kib(server.proc.pid) - baseline, 16 * 1024)
            self.assertLess(written, 64 << 20)
            client.close()
        finally:
            self.assertEqual(server.stop(), 0)
            device.close()


if __name__ == "__main__":
    unittest.main()
