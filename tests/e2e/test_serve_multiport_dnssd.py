"""DNS-SD for `ttynet serve --config`: with avahi-daemon reachable the ports are announced as
pyserial's port_publisher does (_serial_port._tcp) and `ttynet list --remote` finds them with
ttynet's TXT keys (a loopback-only port is left out); without it the server says so once and serves anyway, and `list --remote`
fails with one clear line."""

import os
import subprocess
import tempfile
import unittest

import serial

from multiport_support import ConfigServer
from support import TTYNET, read_exactly

NOT_ANNOUNCED_RE = r"DNS-SD: ports are not announced: .*avahi-daemon"


class DnsSd(unittest.TestCase):
    def test_ports_are_announced_or_served_without_announcement(self):
        with tempfile.TemporaryDirectory() as directory:
            name = f"dnssd-test-{os.getpid()}"
            config = os.path.join(directory, "ports.toml")
            with open(config, "w") as file:
                file.write(f"""
[[port]]
name = "{name}"
device = "loop://"
tcp_port = 0
protocol = "raw"

[[port]]
name = "{name}-local"
device = "loop://"
bind = "127.0.0.1"
tcp_port = 0
""")
            server = ConfigServer(config)
            try:
                match = server.wait_for_log(rf"port {name}: loop:// on TCP port (\d+)")
                tcp_port = int(match.group(1))
                outcome = server.wait_for_log(
                    rf"{NOT_ANNOUNCED_RE}|DNS-SD: announced '{name} on ", timeout=10)
                listing = subprocess.run([TTYNET, "list", "--remote", "--wait", "3"],
                                         capture_output=True, timeout=20)
                if "not announced" in outcome.group(0):
                    self.assertEqual(listing.returncode, 1)
                    lines = listing.stderr.decode().splitlines()
                    self.assertEqual(len(lines), 1, lines)
                    self.assertIn("avahi-daemon", lines[0])
                else:
                    self.assertEqual(listing.returncode, 0, listing.stderr)
                    rows = [line for line in listing.stdout.decode().splitlines()
                            if f" {name} " in line]
                    self.assertEqual(len(rows), 1, listing.stdout)
                    # A port only this host can reach is not announced.
                    self.assertNotIn(f"{name}-local", listing.stdout.decode())
                    self.assertIn(f":{tcp_port} ", rows[0])
                    self.assertTrue(rows[0].startswith("socket://"), rows[0])  # protocol=raw
                    self.assertIn("loop://", rows[0])  # device=
                # Served either way.
                port = serial.serial_for_url(f"socket://127.0.0.1:{tcp_port}", timeout=5)
                try:
                    port.write(b"announced or not")
                    self.assertEqual(read_exactly(port.read, 16, 5), b"announced or not")
                finally:
                    port.close()
            finally:
                self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    unittest.main()
