"""`ttynet serve --config`: many pty-backed ports in one process, hot-plug through a glob,
SIGHUP reload, and config errors; driven by pyserial (Debian python3-serial)."""

import os
import socket
import subprocess
import tempfile
import threading
import unittest

import serial

from multiport_support import ConfigServer, EchoTraffic, free_port_base, is_refused
from support import TTYNET, PtyDevice, payload, read_exactly, read_until_closed


def open_port(tcp_port, timeout=5):
    return serial.serial_for_url(f"rfc2217://127.0.0.1:{tcp_port}?ign_set_control",
                                 timeout=timeout)


def echo_once(tcp_port, data):
    port = open_port(tcp_port)
    try:
        port.write(data)
        return read_exactly(port.read, len(data), 10)
    finally:
        port.close()


class TempDir(unittest.TestCase):
    def setUp(self):
        self._dir = tempfile.TemporaryDirectory()
        self.dir = self._dir.name
        self.devices = []
        self.server = None

    def tearDown(self):
        if self.server:
            self.assertEqual(self.server.stop(), 0, "server did not exit cleanly on SIGTERM")
        for device in self.devices:
            device.close()
        self._dir.cleanup()

    def device(self, link_name=None):
        """A new echo pty; with link_name also a symlink to it in the temp dir."""
        device = PtyDevice(echo=True)
        self.devices.append(device)
        if link_name:
            os.symlink(device.path, os.path.join(self.dir, link_name))
        return device

    def write_config(self, text, name="ports.toml"):
        path = os.path.join(self.dir, name)
        with open(path + ".new", "w") as file:
            file.write(text)
        os.replace(path + ".new", path)  # a reload never sees half a file
        return path


class ManyPorts(TempDir):
    GLOBBED = 62

    def test_64_ports_concurrently_then_ports_come_and_go_under_traffic(self):
        devdir = os.path.join(self.dir, "dev")
        os.mkdir(devdir)
        for index in range(self.GLOBBED):
            device = self.device()
            os.symlink(device.path, os.path.join(devdir, f"ttyE{index:02d}"))
        explicit = [self.device(), self.device()]
        base = free_port_base(self.GLOBBED + 4)
        config = self.write_config(f"""
[defaults]
bind = "127.0.0.1"
baud = 115200

[[port]]
name = "e-{{path-basename}}"
device = "{devdir}/ttyE*"
tcp_port_base = {base}

[[port]]
name = "fixed-a"
device = "{explicit[0].path}"
tcp_port = 0

[[port]]
name = "fixed-b"
device = "{explicit[1].path}"
tcp_port = 0
protocol = "raw"
""")
        self.server = ConfigServer(config)
        ports = self.server.wait_for_ports(64, timeout=20)
        self.assertEqual(len(ports), 64)
        # A glob's devices are numbered in name order from the base.
        for index in range(self.GLOBBED):
            self.assertEqual(ports[f"e-ttyE{index:02d}"], base + index)

        # All 64 at once, each from its own thread, each bit-exact.
        results = {}

        def exercise(name, tcp_port, seed):
            data = payload(8192, seed=seed)
            try:
                if name == "fixed-b":  # raw TCP
                    port = serial.serial_for_url(f"socket://127.0.0.1:{tcp_port}", timeout=5)
                else:
                    port = open_port(tcp_port)
                try:
                    port.write(data)
                    results[name] = read_exactly(port.read, len(data), 20) == data
                finally:
                    port.close()
            except Exception as error:
                results[name] = error

        threads = [threading.Thread(target=exercise, args=(name, tcp_port, seed))
                   for seed, (name, tcp_port) in enumerate(sorted(ports.items()))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(40)
        self.assertEqual({name: ok for name, ok in results.items() if ok is not True}, {})
        self.assertEqual(len(results), 64)

        # Traffic on four ports while a device appears and another one is withdrawn.
        busy = [open_port(ports[f"e-ttyE{index:02d}"]) for index in (10, 20, 30, 40)]
        traffic = [EchoTraffic(port, seed=index) for index, port in enumerate(busy)]
        try:
            mark = self.server.mark()
            newcomer = self.device()
            os.symlink(newcomer.path, os.path.join(devdir, "ttyE62"))
            added = self.server.wait_for_ports(1, timeout=10, start=mark)
            self.assertEqual(added, {"e-ttyE62": base + self.GLOBBED})
            self.assertEqual(echo_once(base + self.GLOBBED, b"hello newcomer"), b"hello newcomer")

            mark = self.server.mark()
            os.unlink(os.path.join(devdir, "ttyE05"))
            self.server.wait_for_log(r"port e-ttyE05: stopped", timeout=10, start=mark)
            self.assertTrue(is_refused(base + 5), "a withdrawn device still listens")
            self.assertEqual(echo_once(ports["e-ttyE06"], b"neighbour"), b"neighbour")
        finally:
            rounds = [t.stop() for t in traffic]
            for port in busy:
                port.close()
        self.assertTrue(all(r > 0 for r in rounds), rounds)


class HotPlug(TempDir):
    def test_replugged_device_gets_its_port_back_and_neighbours_are_untouched(self):
        self.device("ttyHP-b")  # the neighbour, plugged throughout
        plugged = self.device("ttyHP-a")
        base = free_port_base(4)
        config = self.write_config(f"""
[[port]]
device = "{self.dir}/ttyHP-*"
tcp_port_base = {base}
bind = "127.0.0.1"
""")
        self.server = ConfigServer(config)
        ports = self.server.wait_for_ports(2)
        self.assertEqual(ports, {"ttyHP-a": base, "ttyHP-b": base + 1})

        neighbour = open_port(ports["ttyHP-b"])
        traffic = EchoTraffic(neighbour)
        try:
            client = self.server_socket(ports["ttyHP-a"])
            self.server.wait_for_log(r"connected", timeout=5)
            mark = self.server.mark()
            plugged.unplug()
            os.unlink(os.path.join(self.dir, "ttyHP-a"))
            goodbye, closed = read_until_closed(client, 10)
            client.close()
            self.assertIn(b"disconnected", goodbye)
            self.assertTrue(closed, "the unplugged device's client was not closed")
            self.server.wait_for_log(r"port ttyHP-a: stopped", timeout=10, start=mark)
            self.assertTrue(is_refused(base))

            mark = self.server.mark()
            self.device("ttyHP-a")
            again = self.server.wait_for_ports(1, timeout=10, start=mark)
            self.assertEqual(again, {"ttyHP-a": base}, "the replugged device moved")
            self.assertEqual(echo_once(base, b"back again"), b"back again")
            rounds_during = traffic.rounds
        finally:
            rounds = traffic.stop()
            neighbour.close()
        self.assertGreater(rounds_during, 0)
        self.assertGreaterEqual(rounds, rounds_during)

    def server_socket(self, tcp_port):
        return socket.create_connection(("127.0.0.1", tcp_port), timeout=5)


class ReplugUnderLoad(TempDir):
    PORTS = 64

    def test_replugging_one_device_leaves_63_busy_neighbours_alone(self):
        """A device closed and replaced under its name, three ways, while every other port
        echoes 20 x 4 KiB: no other client may lose its connection or a byte."""
        devdir = os.path.join(self.dir, "dev")
        os.mkdir(devdir)
        for index in range(self.PORTS):
            os.symlink(self.device().path, os.path.join(devdir, f"ttyR{index:02d}"))
        base = free_port_base(self.PORTS)
        config = self.write_config(f"""
[[port]]
name = "r-{{path-basename}}"
device = "{devdir}/ttyR*"
tcp_port_base = {base}
bind = "127.0.0.1"
""")
        self.server = ConfigServer(config)
        self.assertEqual(len(self.server.wait_for_ports(self.PORTS, timeout=20)), self.PORTS)

        results = {}

        def echo_rounds(index):
            try:
                port = open_port(base + index, timeout=20)
                try:
                    for round_index in range(20):
                        data = payload(4096, seed=index * 100 + round_index)
                        port.write(data)
                        if read_exactly(port.read, len(data), 30) != data:
                            results[index] = f"round {round_index} came back wrong"
                            return
                finally:
                    port.close()
                results[index] = True
            except Exception as error:  # an unrelated client must never see one
                results[index] = repr(error)

        threads = [threading.Thread(target=echo_rounds, args=(index,))
                   for index in range(1, self.PORTS)]
        for thread in threads:
            thread.start()
        link = os.path.join(devdir, "ttyR00")
        for way in ("replaced at once", "unlinked and linked again", "gone past a rescan"):
            # Made first so it cannot reuse the old pty's number: the old link must dangle,
            # not lead the port's reopen to the replacement before the link changes.
            replacement = self.device()
            self.devices.insert(0, self.devices.pop())
            mark = self.server.mark()
            self.devices[1].unplug()
            if way == "replaced at once":
                os.symlink(replacement.path, link + ".new")
                os.replace(link + ".new", link)
            else:
                os.unlink(link)
                if way == "gone past a rescan":
                    self.server.wait_for_log(r"port r-ttyR00: stopped", timeout=10, start=mark)
                    mark = self.server.mark()
                os.symlink(replacement.path, link)
            # Reopened by its port, or (after a rescan saw no link) the port started again.
            self.server.wait_for_log(r"port r-ttyR00: (device \S+ is back|\S+ on TCP port)",
                                     timeout=10, start=mark)
            self.assertEqual(echo_once(base, b"replugged"), b"replugged", way)
        for thread in threads:
            thread.join(90)
        self.assertEqual({index: ok for index, ok in results.items() if ok is not True}, {})
        self.assertEqual(len(results), self.PORTS - 1)


class Reload(TempDir):
    def entries(self, keep, changed_baud, extra):
        return f"""
[defaults]
bind = "127.0.0.1"

[[port]]
name = "keep"
device = "{self.keep.path}"
tcp_port = {self.base}

[[port]]
name = "changed"
device = "{self.changed.path}"
tcp_port = {self.base + 1}
baud = {changed_baud}
""" + extra

    def test_sighup_starts_stops_and_restarts_only_what_changed(self):
        self.keep = self.device()
        self.changed = self.device()
        dropped = self.device()
        added = self.device()
        self.base = free_port_base(4)
        config = self.write_config(self.entries(True, 9600, f"""
[[port]]
name = "dropped"
device = "{dropped.path}"
tcp_port = {self.base + 2}
"""))
        self.server = ConfigServer(config)
        self.assertEqual(self.server.wait_for_ports(3),
                         {"keep": self.base, "changed": self.base + 1, "dropped": self.base + 2})
        self.assertEqual(self.changed.termios2()[1], 9600)

        kept_client = open_port(self.base)
        traffic = EchoTraffic(kept_client)
        dropped_client = socket.create_connection(("127.0.0.1", self.base + 2), timeout=5)
        changed_client = open_port(self.base + 1)  # restarts under its client's feet
        try:
            self.server.wait_for_logs(r"connected", 3, timeout=5)
            mark = self.server.mark()
            self.write_config(self.entries(True, 19200, f"""
[[port]]
name = "added"
device = "{added.path}"
tcp_port = {self.base + 3}
"""))
            self.server.reload()
            restarted = self.server.wait_for_ports(2, timeout=10, start=mark)
            self.assertEqual(restarted, {"changed": self.base + 1, "added": self.base + 3})
            self.server.wait_for_log(r"port dropped: stopped", timeout=10, start=mark)
            self.server.wait_for_log(r"port changed: stopped", timeout=10, start=mark)
            self.assertEqual(self.server.wait_for_logs(r"port keep: stopped", 0, 0.1, mark), [])
            goodbye, closed = read_until_closed(dropped_client, 10)
            self.assertIn(b"removed or changed in the server's configuration", goodbye)
            self.assertTrue(closed, "the removed entry's client was not closed")
            self.assertTrue(is_refused(self.base + 2), "a removed entry still listens")
            self.assertEqual(echo_once(self.base + 3, b"added port"), b"added port")
            self.assertEqual(self.changed.termios2()[1], 19200)
            # The restarted entry waited for its old host to release the device: no failed open.
            self.assertFalse([line for line in self.server.lines[mark:] if "retrying" in line])
            rounds_across_reload = traffic.rounds
            # The kept connection still works, round after round.
            self.assertTrue(traffic.wait_for_rounds(rounds_across_reload + 3, 5),
                            "the kept connection stopped echoing after the reload")
        finally:
            rounds = traffic.stop()
            kept_client.close()
            dropped_client.close()
            changed_client.close()
        self.assertGreater(rounds, rounds_across_reload)
        self.assertEqual(self.server.wait_for_logs(r"port keep: stopped", 0, 0.1, mark), [])

    def test_a_broken_file_on_sighup_keeps_the_running_ports(self):
        self.keep = self.device()
        self.changed = self.device()
        self.base = free_port_base(2)
        config = self.write_config(self.entries(True, 9600, ""))
        self.server = ConfigServer(config)
        self.server.wait_for_ports(2)
        mark = self.server.mark()
        self.write_config("[[port]]\nbaud = 'x'\n")
        self.server.reload()
        self.server.wait_for_log(r"keeping the running configuration: .*ports.toml:2:8",
                                 timeout=10, start=mark)
        self.assertEqual(echo_once(self.base, b"still here"), b"still here")


class ConfigErrors(unittest.TestCase):
    def assert_one_error_line(self, text, expected):
        """`serve --config` on a file holding `text` exits 1 with one line on stderr that
        contains `expected` ({path} stands for the file), and nothing on stdout."""
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "bad.toml")
            with open(path, "w") as file:
                file.write(text)
            result = subprocess.run([TTYNET, "serve", "--config", path], capture_output=True,
                                    timeout=10, stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 1)
        lines = result.stderr.decode().splitlines()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn(expected.format(path=path), lines[0])
        self.assertEqual(result.stdout, b"")

    def test_a_bad_type_names_file_line_and_key_and_exits_1(self):
        self.assert_one_error_line(
            '[[port]]\ndevice = "loop://"\ntcp_port = 4000\nbaud = "fast"\n',
            "{path}:4:8: port 1, 'baud': expected an integer")

    def test_an_unknown_key_names_file_line_and_key_and_exits_1(self):
        self.assert_one_error_line(
            '[defaults]\nbuad = 9600\n[[port]]\ndevice = "loop://"\ntcp_port = 4000\n',
            "{path}:2:8: [defaults] 'buad': unknown key")

    def test_a_syntax_error_is_one_line_with_the_position(self):
        self.assert_one_error_line('[[port]\n', "{path}:1:")

    def test_a_missing_file_is_one_line(self):
        result = subprocess.run([TTYNET, "serve", "--config", "/nonexistent/ports.toml"],
                                capture_output=True, timeout=10)
        self.assertEqual(result.returncode, 1)
        self.assertIn("/nonexistent/ports.toml: cannot read", result.stderr.decode())


if __name__ == "__main__":
    unittest.main()
