"""A log nobody reads cannot stop the server: `ttynet serve` with its stderr a pipe that is
never drained, flooded by 2,000 malformed connections (each one logs), still echoes a new
client's 1 MiB bit-exact at once, and still ends within 2 s on SIGTERM. And a flood of
connections from one address is held to a bounded number of log lines, counted."""

import fcntl
import os
import signal
import socket
import subprocess
import time
import unittest

from support import TTYNET, Server, deadline_after

IAC, SB, SE = 0xFF, 0xFA, 0xF0
F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ from Python 3.10 on; spelled out for older ones
MALFORMED = bytes([IAC, SB, 44]) + b"x" * 8192 + bytes([IAC, 0x07])  # oversized, then junk


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect_when_listening(port, timeout=10):
    end = deadline_after(timeout)
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except ConnectionRefusedError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def strip_telnet(stream):
    """The data bytes of a server's Telnet stream (commands and sub-negotiations removed)."""
    data = bytearray()
    i = 0
    while i < len(stream):
        if stream[i] != IAC:
            data.append(stream[i])
            i += 1
        elif i + 1 < len(stream) and stream[i + 1] == SB:
            end = stream.find(bytes([IAC, SE]), i + 2)
            i = len(stream) if end < 0 else end + 2
        else:
            i += 3
    return bytes(data)


def echo(port, payload, timeout=10):
    """What the loop:// device sent back for `payload`, or None when the server refused the
    connection (its one-line notice, then the close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.settimeout(0.5)
        received = bytearray()
        sent = 0
        end = deadline_after(timeout)
        try:
            while time.monotonic() < end and len(strip_telnet(received)) < len(payload):
                if sent < len(payload):
                    sent += client.send(payload[sent:sent + 65536])
                try:
                    chunk = client.recv(1 << 16)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                received += chunk
        except (BrokenPipeError, ConnectionResetError):
            return None
    data = strip_telnet(received)
    if b"in use" in data and len(data) < len(payload):
        return None
    return data


class LogStall(unittest.TestCase):
    def test_a_stalled_log_pipe_blocks_nothing(self):
        port = free_port()
        # stderr is a pipe that this test never reads, as small as the system allows (a page):
        # the client lines of the flood fill it many times over, rate limits and all.
        unread, log_end = os.pipe()
        self.addCleanup(os.close, unread)
        fcntl.fcntl(log_end, F_SETPIPE_SZ, 4096)
        server = subprocess.Popen(
            [TTYNET, "serve", "--bind", "127.0.0.1", "-p", str(port), "loop://"],
            stdin=subprocess.DEVNULL, stdout=log_end, stderr=log_end)
        os.close(log_end)
        self.addCleanup(lambda: server.poll() is None and server.kill())
        connect_when_listening(port).close()

        for _ in range(2000):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as bad:
                try:
                    bad.sendall(MALFORMED)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # refused while the one before was still being dropped

        payload = bytes(i % 255 for i in range(1 << 20))  # no 0xFF: no Telnet escaping
        # The server serves one client at a time: until it has seen the last malformed client
        # go, a new one is refused ("in use") and asks again.
        end = deadline_after(10)
        while True:
            start = time.monotonic()
            echoed = echo(port, payload)
            elapsed = time.monotonic() - start
            if echoed is not None or time.monotonic() > end:
                break
            time.sleep(0.05)
        self.assertEqual(echoed, payload)
        # Not a speed target (about 0.3 s here): a server stuck on its log echoes nothing.
        self.assertLess(elapsed, 5.0)

        stop = time.monotonic()
        server.send_signal(signal.SIGTERM)
        self.assertEqual(server.wait(10), 0)
        self.assertLess(time.monotonic() - stop, 2.0)


class PeerLogLimit(unittest.TestCase):
    def test_a_flood_of_connections_is_held_to_a_bounded_log(self):
        server = Server("--raw", "loop://")
        self.addCleanup(lambda: self.assertEqual(server.stop(), 0))
        seen = len(server.lines)
        # From one address, faster than its allowance of lines (a burst of 500, then 50 a
        # second): in rounds of 100 until the limit speaks, so a slow machine floods longer
        # rather than failing. Each connection causes one or two lines.
        made = 0
        end = deadline_after(60)
        while made < 5000 and time.monotonic() < end:
            for _ in range(100):
                with socket.create_connection(("127.0.0.1", server.port), timeout=5):
                    pass
            made += 100
            if any("held back: too many" in line for line in server.lines[seen:]):
                break
        server.wait_for_log("held back: too many", timeout=10, start=seen)
        about_clients = [line for line in server.lines[seen:]
                         if "connected" in line or "refused" in line]
        self.assertLess(len(about_clients), 2 * made)


if __name__ == "__main__":
    unittest.main()
