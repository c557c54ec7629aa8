"""Read-only monitor clients (`monitor_port` in the config file, `serve --monitor-port`): they
see the device's output while one controlling client holds the port, their input goes nowhere,
and one that never reads holds nobody back."""

import os
import socket
import tempfile
import threading
import unittest

import serial

from multiport_support import ConfigServer
from support import (MONITOR_RE, PtyDevice, Server, deadline_after, payload, read_exactly,
                     round_trip)



class MonitorReader:
    """Reads a monitor connection from a thread until `count` bytes or the deadline."""

    def __init__(self, sock, count, timeout=30):
        self.sock = sock
        self.data = bytearray()
        self._count = count
        self._end = deadline_after(timeout)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        import time
        while len(self.data) < self._count and time.monotonic() < self._end:
            self.sock.settimeout(max(0.01, self._end - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.data += chunk

    def join(self):
        self._thread.join(40)
        return bytes(self.data)


class MonitorsFromConfig(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.device = PtyDevice(echo=True)
        config = os.path.join(self._dir.name, "ports.toml")
        with open(config, "w") as file:
            file.write(f"""
[[port]]
name = "watched"
device = "{self.device.path}"
bind = "127.0.0.1"
tcp_port = 0
monitor_port = 0
""")
        self.server = ConfigServer(config)
        self.tcp_port = int(self.server.wait_for_log(r"port watched: \S+ on TCP port (\d+)")
                            .group(1))
        self.monitor_port = int(self.server.wait_for_log(MONITOR_RE).group(1))

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "server did not exit cleanly on SIGTERM")
        self.device.close()
        self._dir.cleanup()

    def connect_monitor(self, receive_buffer=None):
        sock = socket.socket()
        if receive_buffer:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.connect(("127.0.0.1", self.monitor_port))
        return sock

    def wait_for_monitors(self, count):
        self.server.wait_for_logs(r"monitor \S+ connected", count, timeout=10)

    def test_two_monitors_see_the_device_output_and_their_input_is_dropped(self):
        monitors = [self.connect_monitor(), self.connect_monitor()]
        self.wait_for_monitors(2)
        data = payload(256 * 1024, seed=41)
        readers = [MonitorReader(sock, len(data)) for sock in monitors]
        port = serial.serial_for_url(f"rfc2217://127.0.0.1:{self.tcp_port}", timeout=5)
        try:
            for sock in monitors:
                sock.sendall(b"a monitor typing")  # must never reach the device
            self.assertEqual(round_trip(port, data), data)
            seen = [reader.join() for reader in readers]
            port.write(b"tail")
            self.assertEqual(read_exactly(port.read, 4, 5), b"tail")
            self.assertEqual(port.in_waiting, 0, "monitor input reached the device")
        finally:
            port.close()
            for sock in monitors:
                sock.close()
        for output in seen:
            self.assertEqual(len(output), len(data))
            self.assertEqual(output, data)

    def test_a_monitor_that_never_reads_does_not_stall_the_controlling_client(self):
        stuck = self.connect_monitor(receive_buffer=4096)
        reading = self.connect_monitor()
        self.wait_for_monitors(2)
        data = payload(4 * 1024 * 1024, seed=42)
        reader = MonitorReader(reading, len(data), timeout=40)
        port = serial.serial_for_url(f"rfc2217://127.0.0.1:{self.tcp_port}", timeout=5)
        try:
            self.assertEqual(round_trip(port, data, timeout=40), data)
        finally:
            port.close()
        self.server.wait_for_log(r"monitor \S+ is too slow: dropping device output")
        self.assertEqual(reader.join(), data, "a reading monitor lost data to a stuck one")
        stuck.close()
        reading.close()


class MonitorOption(unittest.TestCase):
    def test_serve_monitor_port_serves_monitors_for_one_port(self):
        device = PtyDevice(echo=True)
        server = Server("--monitor-port", "0", device.path)
        try:
            monitor_port = int(server.wait_for_log(MONITOR_RE).group(1))
            monitor = socket.create_connection(("127.0.0.1", monitor_port), timeout=5)
            server.wait_for_log(r"monitor \S+ connected")
            port = serial.serial_for_url(server.url(), timeout=5)
            try:
                port.write(b"seen by the monitor")
                self.assertEqual(read_exactly(port.read, 19, 5), b"seen by the monitor")
            finally:
                port.close()
            reader = MonitorReader(monitor, 19, timeout=5)
            self.assertEqual(reader.join(), b"seen by the monitor")
            monitor.close()
        finally:
            self.assertEqual(server.stop(), 0)
            device.close()


if __name__ == "__main__":
    unittest.main()
