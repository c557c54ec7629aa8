"""`ttynet list` on this machine: whatever serial ports it has (often none, or only ttyS0), the
command succeeds, lists exactly the ttys that sysfs shows with a device behind them and a UART
(never a pseudo-terminal, not even one open while it runs), the JSON is a list of objects with
the documented keys, and the table agrees with it."""

import json
import os
import re
import subprocess
import unittest

from support import TTYNET

KEYS = ["device", "by_id", "vid", "pid", "manufacturer", "product", "serial_number", "driver"]


def ttynet(*args):
    return subprocess.run([TTYNET, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=30, check=False)


def sysfs_serial_devices():
    """The /dev paths of the ttys in /sys/class/tty that have a device and a UART (type not 0),
    in natural order (ttyS2 before ttyS10): what `ttynet list` should show."""
    devices = []
    root = "/sys/class/tty"
    for name in os.listdir(root) if os.path.isdir(root) else []:
        if not os.path.exists(os.path.join(root, name, "device")):
            continue  # virtual consoles, pseudo-terminals
        try:
            with open(os.path.join(root, name, "type")) as file:
                if file.read().strip() == "0":
                    continue  # a port the driver registered with no UART behind it
        except OSError:
            pass
        devices.append("/dev/" + name)
    return sorted(devices, key=lambda path: [int(part) if part.isdigit() else part
                                             for part in re.split(r"(\d+)", path)])


class List(unittest.TestCase):
    def test_lists_what_sysfs_shows_and_no_pseudo_terminal(self):
        leader, follower = os.openpty()  # something that must not be listed
        try:
            pty_path = os.ttyname(follower)
            result = ttynet("list", "--json")
        finally:
            os.close(follower)
            os.close(leader)
        self.assertEqual(result.returncode, 0, result.stderr)
        devices = [port["device"] for port in json.loads(result.stdout)]
        self.assertEqual(devices, sysfs_serial_devices())
        self.assertNotIn(pty_path, devices)
        if not devices:
            self.assertEqual(result.stdout, b"[]\n")  # the documented empty form

    def test_json_is_a_list_of_objects_with_every_key(self):
        result = ttynet("list", "--json")
        self.assertEqual(result.returncode, 0, result.stderr)
        ports = json.loads(result.stdout)
        self.assertIsInstance(ports, list)
        for port in ports:
            self.assertIsInstance(port, dict)
            self.assertEqual(list(port), KEYS)
            self.assertTrue(port["device"].startswith("/dev/"), port)
            self.assertTrue(os.path.exists(port["device"]), port)
            for key in KEYS[1:]:
                self.assertTrue(port[key] is None or isinstance(port[key], str), (key, port))
            if port["vid"] is not None:
                self.assertRegex(port["vid"], r"^[0-9a-f]{4}$")
                self.assertRegex(port["pid"], r"^[0-9a-f]{4}$")
            if port["by_id"] is not None:
                self.assertTrue(port["by_id"].startswith("/dev/serial/by-id/"), port)
                self.assertEqual(os.path.realpath(port["by_id"]),
                                 os.path.realpath(port["device"]))

    def test_table_lists_the_same_devices(self):
        ports = json.loads(ttynet("list", "--json").stdout)
        result = ttynet("list")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.decode().splitlines()
        if not ports:
            self.assertEqual(lines, [])
            self.assertEqual(result.stderr.decode().count("\n"), 1, result.stderr)
            self.assertIn("no serial ports", result.stderr.decode())
            return
        self.assertEqual(lines[0].split(),
                         ["DEVICE", "VID:PID", "DRIVER", "MANUFACTURER", "PRODUCT", "SERIAL",
                          "BY-ID"])
        self.assertEqual([line.split()[0] for line in lines[1:]],
                         [port["device"] for port in ports])
        # Aligned: every column starts at the same offset on every line.
        header = lines[0]
        second_column = header.index("VID:PID")
        for line in lines[1:]:
            self.assertEqual(line[second_column - 2:second_column], "  ", line)
            self.assertNotEqual(line[second_column], " ", line)

    def test_help(self):
        result = ttynet("list", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"--json", result.stdout)
        result = ttynet("help", "list")
        self.assertEqual(result.returncode, 0)
        self.assertIn(b"--json", result.stdout)

    def test_unknown_option_is_one_line_error(self):
        result = ttynet("list", "--bogus")
        self.assertNotEqual(result.returncode, 0)
        self.assertNotIn(b"Traceback", result.stderr)


if __name__ == "__main__":
    unittest.main()
