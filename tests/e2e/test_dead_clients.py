"""Clients that are gone or stuck let go of their port: TCP keepalive for a vanished peer (a
network namespace whose link is removed), TCP_USER_TIMEOUT for one that stops taking data, the
optional idle limit (`ttynet serve --keepalive`, `--idle-timeout`); and a hung device (one that
takes no input) holds neither a session whose client left nor the server's shutdown."""

import os
import shutil
import socket
import subprocess
import time
import unittest
import uuid

from support import PtyDevice, Server, deadline_after, read_until_closed

def served(server, timeout=5):
    """True when a new client gets an echo back from the loop:// device within `timeout`."""
    end = deadline_after(timeout)
    with server.connect() as sock:
        sock.settimeout(0.2)
        marker = b"alive?"
        got = b""
        while time.monotonic() < end:
            sock.sendall(marker)
            try:
                got += sock.recv(4096)
            except socket.timeout:
                continue
            if marker in got:
                return True
            if b"in use" in got:
                return False
    return False


class IdleLimit(unittest.TestCase):
    def test_a_client_that_sends_nothing_is_closed_with_a_notice(self):
        server = Server("--raw", "--idle-timeout", "1", "loop://")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        start = time.monotonic()
        with server.connect() as sock:
            text, closed = read_until_closed(sock, timeout=5)
        self.assertIn(b"closed after 1 s without input from you (idle timeout)", text)
        self.assertTrue(closed)
        self.assertLess(time.monotonic() - start, 4)
        server.wait_for_log("idle timeout")

    def test_a_client_that_keeps_sending_stays(self):
        server = Server("--raw", "--idle-timeout", "1", "loop://")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        with server.connect() as sock:
            sock.settimeout(2)
            for i in range(12):  # 3 s of input, a byte every 0.25 s
                sock.sendall(b"%d" % (i % 10))
                self.assertEqual(sock.recv(16), b"%d" % (i % 10))
                time.sleep(0.25)
        self.assertFalse(any("idle timeout" in line for line in server.lines))


class StuckClient(unittest.TestCase):
    def test_a_client_that_takes_no_data_frees_the_port(self):
        server = Server("--raw", "--keepalive", "3", "loop://")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        stuck = server.connect()
        self.addCleanup(stuck.close)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        # Echoed data fills the way back until the server can send nothing more; then the
        # client stays connected and never reads.
        chunk = bytes(64 * 1024)
        end = deadline_after(20)
        stalled_since = None
        while time.monotonic() < end:
            try:
                stuck.send(chunk)
                stalled_since = None
            except BlockingIOError:
                stalled_since = stalled_since or time.monotonic()
                if time.monotonic() - stalled_since > 0.5:
                    break
                time.sleep(0.05)
        self.assertIsNotNone(stalled_since, "the server never stopped taking data")
        seen = len(server.lines)
        server.wait_for_log("disconnected", timeout=15, start=seen)
        self.assertTrue(served(server))


class HungDevice(unittest.TestCase):
    def test_a_client_leaving_a_device_that_takes_nothing_frees_the_port(self):
        self.leave_a_hung_device("--raw")

    def test_an_rfc2217_client_leaving_a_device_that_takes_nothing_frees_the_port(self):
        # The session's protocol core is mid-drive (a write action in flight) when the session
        # ends: the actions left must still complete, or the device is never restored.
        self.leave_a_hung_device()

    def leave_a_hung_device(self, *protocol):
        device = PtyDevice(echo=True)
        self.addCleanup(device.close)
        server = Server(*protocol, device.path)
        device.stop()  # nobody reads the device's input any more: its queue fills and stays full
        with server.connect() as client:
            # More than the pseudo-terminal takes, little enough for the server's socket buffer
            # to hold the rest: the server's write to the device blocks, and the client's close
            # still reaches the server (a FIN waits behind unsent data; with data left over, a
            # killed client's port is freed by --keepalive instead).
            client.sendall(bytes(64 * 1024))
            server.wait_for_log("the device has taken no input", timeout=5)
            seen = len(server.lines)
        left = time.monotonic()
        server.wait_for_log("disconnected", timeout=5, start=seen)
        self.assertLess(time.monotonic() - left, 2)
        with server.connect() as second:  # not refused as "in use"
            second.settimeout(0.5)
            try:
                self.assertNotIn(b"in use", second.recv(256))
            except socket.timeout:
                pass
            stop = time.monotonic()
            self.assertEqual(server.stop(), 0)  # its session is stuck on the device too
            self.assertLess(time.monotonic() - stop, 2)


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("ip") and shutil.which("nsenter"),
                     "needs root, iproute2 and util-linux")
class VanishedClient(unittest.TestCase):
    """A client in a network namespace of its own, whose link then disappears: nothing of the
    connection is closed, the server just stops hearing from it.

    Commands go into the namespace through nsenter, which only joins it: `ip -n` and `ip netns
    exec` also remount /sys, and that fails in a chroot, where / is no mount point."""

    def setUp(self):
        tag = uuid.uuid4().hex[:6]
        self.namespace = f"ttynet-dead-{tag}"
        self.host_link = f"tdh{tag}"
        self.peer_link = f"tdp{tag}"
        subnet = 10 + int(tag[:2], 16) % 200
        self.host_address = f"10.213.{subnet}.1"
        self.peer_address = f"10.213.{subnet}.2"
        self.ip("netns", "add", self.namespace)
        self.addCleanup(self.ip, "netns", "del", self.namespace, check=False)
        self.ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.peer_link)
        self.addCleanup(self.ip, "link", "del", self.host_link, check=False)
        self.ip("link", "set", self.peer_link, "netns", self.namespace)
        self.ip("addr", "add", f"{self.host_address}/30", "dev", self.host_link)
        self.ip("link", "set", self.host_link, "up")
        self.ip("addr", "add", f"{self.peer_address}/30", "dev", self.peer_link,
                inside=self.namespace)
        self.ip("link", "set", self.peer_link, "up", inside=self.namespace)

    @staticmethod
    def in_namespace(namespace):
        return ["nsenter", f"--net=/run/netns/{namespace}"]

    @classmethod
    def ip(cls, *args, check=True, inside=None):
        prefix = cls.in_namespace(inside) if inside else []
        subprocess.run([*prefix, "ip", *args], check=check, timeout=10,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def test_the_port_is_served_again_within_the_keepalive_bound(self):
        server = Server("--raw", "--keepalive", "3", "loop://", bind="0.0.0.0")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        client = subprocess.Popen(
            [*self.in_namespace(self.namespace), "/usr/bin/python3", "-c",
             "import socket, sys, time\n"
             f"s = socket.create_connection(('{self.host_address}', {server.port}), timeout=5)\n"
             "s.sendall(b'x'); s.recv(1)\n"
             "print('connected', flush=True)\n"
             "time.sleep(60)\n"],
            stdout=subprocess.PIPE)
        self.addCleanup(client.stdout.close)
        self.addCleanup(client.wait, 10)
        self.addCleanup(client.kill)
        self.assertEqual(client.stdout.readline().strip(), b"connected")
        self.assertFalse(served(server, timeout=1), "the first client should hold the port")
        seen = len(server.lines)
        self.ip("link", "del", self.host_link)  # the peer's end goes with it
        start = time.monotonic()
        server.wait_for_log("disconnected", timeout=15, start=seen)
        self.assertLess(time.monotonic() - start, 3 + 3)
        self.assertTrue(served(server))


if __name__ == "__main__":
    unittest.main()
