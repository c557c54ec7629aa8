"""The web dashboard of `serve --http`: /api/ports and /metrics against the traffic a test
makes, the browser terminal's WebSocket protocol (python3-websocket as the browser), and the
pages in a real browser (headless Chromium over its DevTools protocol)."""

import json
import math
import os
import re
import socket
import struct
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import serial
import websocket
from prometheus_client.parser import text_string_to_metric_families

from devtools import Chromium
from multiport_support import ConfigServer, free_port_base
from support import PtyDevice, Server, deadline_after, payload, read_exactly, read_until
from test_security import Certificates

DASHBOARD_RE = re.compile(r"dashboard on https?://(?:\[[^\]]*\]|[\d.]+):(\d+)/")
API_KEYS = {"name", "device", "identity", "protocol", "tcp_ports", "monitor_port", "esp", "state",
            "settings", "max_clients", "clients", "bytes_to_device", "bytes_from_device",
            "connects", "refusals", "resets", "device_losses", "last_error", "uptime_seconds"}


class DashboardServer(Server):
    """`serve --http 127.0.0.1:0 ...`, with the dashboard's port read from the log."""

    def __init__(self, *args, **kwargs):
        super().__init__("--http", "127.0.0.1:0", *args, **kwargs)
        self.http_port = int(self.wait_for_log(DASHBOARD_RE).group(1))

    def http_url(self, path=""):
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get(self, path):
        with urllib.request.urlopen(self.http_url(path), timeout=10) as reply:
            return reply.status, reply.headers, reply.read()

    def ports(self):
        return json.loads(self.get("/api/ports")[2])["ports"]

    def metrics(self):
        """/metrics, parsed strictly here and by the Prometheus project's own Python parser
        (Debian python3-prometheus-client); both must read the same samples."""
        status, headers, body = self.get("/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = parse_metrics(body.decode())
        ours = {(name, frozenset(labels.items()), value)
                for family in families.values() for name, labels, value in family["samples"]}
        theirs = {(sample.name, frozenset(sample.labels.items()), sample.value)
                  for family in text_string_to_metric_families(body.decode())
                  for sample in family.samples}
        assert ours == theirs, f"the parsers disagree: {ours ^ theirs}"
        return families

    def terminal(self, name, **options):
        quoted = urllib.parse.quote(name, safe="")
        return websocket.create_connection(
            f"ws://127.0.0.1:{self.http_port}/ws/ports/{quoted}", timeout=10,
            origin=f"http://127.0.0.1:{self.http_port}", **options)


# --- Prometheus text format (version 0.0.4), parsed strictly ---------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE_RE = re.compile(rf"^({METRIC_NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def parse_labels(text):
    labels, position = {}, 0
    while position < len(text):
        match = LABEL_RE.match(text, position)
        if not match:
            raise ValueError(f"bad labels at {text[position:]!r}")
        name, value = match.group(1), match.group(2)
        if name in labels:
            raise ValueError(f"label {name} twice")
        labels[name] = re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)
        position = match.end()
    return labels


def parse_value(text):
    if text in ("+Inf", "-Inf", "NaN"):
        return float(text.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?", text):
        raise ValueError(f"bad value {text!r}")
    return float(text)


def parse_metrics(text):
    """{family: {"type": ..., "help": ..., "samples": [(name, labels, value)]}}. Raises
    ValueError on anything the format does not allow: a sample before its TYPE, a family
    declared twice, a counter that is negative, histogram buckets that fall or disagree with
    _count."""
    families, current = {}, None
    if not text.endswith("\n"):
        raise ValueError("the text must end with a line feed")
    for line in text[:-1].split("\n"):
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            if name in families:
                raise ValueError(f"{name} declared twice")
            current = families[name] = {"help": help_text, "type": None, "samples": []}
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            if current is None or name not in families or families[name]["type"] is not None:
                raise ValueError(f"TYPE of {name} without its HELP first, or twice")
            if kind not in ("counter", "gauge", "histogram", "summary", "untyped"):
                raise ValueError(f"unknown type {kind}")
            families[name]["type"] = kind
        elif line.startswith("#") or not line:
            raise ValueError(f"unexpected line {line!r}")
        else:
            match = SAMPLE_RE.match(line)
            if not match:
                raise ValueError(f"bad sample line {line!r}")
            name, labels, value = match.group(1), parse_labels(match.group(2) or ""), \
                parse_value(match.group(3))
            base = re.sub(r"_(bucket|sum|count)$", "", name) \
                if current and current["type"] == "histogram" else name
            if current is None or base not in families or families[base] is not current:
                raise ValueError(f"sample {name} outside its family")
            if current["type"] == "counter" and (value < 0 or math.isnan(value)):
                raise ValueError(f"counter {name} is {value}")
            current["samples"].append((name, labels, value))
    for name, family in families.items():
        if family["type"] == "histogram":
            check_histograms(name, family["samples"])
    return families


def check_histograms(name, samples):
    series = {}
    for sample_name, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        entry = series.setdefault(key, {"buckets": [], "count": None, "sum": None})
        if sample_name == name + "_bucket":
            entry["buckets"].append((parse_value(labels["le"]), value))
        elif sample_name == name + "_count":
            entry["count"] = value
        elif sample_name == name + "_sum":
            entry["sum"] = value
    for key, entry in series.items():
        bounds = [bound for bound, _ in entry["buckets"]]
        counts = [count for _, count in entry["buckets"]]
        if bounds != sorted(bounds) or bounds[-1] != math.inf or counts != sorted(counts):
            raise ValueError(f"{name}{key}: buckets out of order")
        if entry["count"] != counts[-1] or entry["sum"] is None:
            raise ValueError(f"{name}{key}: _count differs from the +Inf bucket, or no _sum")


def sample(families, name, **labels):
    """The value of the one sample of `name` with these labels (and maybe more)."""
    family = families[re.sub(r"_(bucket|sum|count)$", "", name)] \
        if name not in families else families[name]
    found = [value for sample_name, sample_labels, value in family["samples"]
             if sample_name == name and labels.items() <= sample_labels.items()]
    if len(found) != 1:
        raise AssertionError(f"{len(found)} samples of {name} with {labels}")
    return found[0]


def wait_until(condition, timeout=10, what="condition"):
    end = deadline_after(timeout)
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not met within {timeout} s")


class MetricsParserSelfTest(unittest.TestCase):
    """The parser refuses what the format does not allow, or the other tests prove little."""

    def test_it_refuses_malformed_text(self):
        good = "# HELP a_total x\n# TYPE a_total counter\na_total{p=\"1\"} 3\n"
        self.assertEqual(parse_metrics(good)["a_total"]["samples"], [("a_total", {"p": "1"}, 3)])
        for bad in ("a_total 3\n",
                    "# HELP a x\n# TYPE a counter\na -1\n",
                    "# HELP a x\n# TYPE a counter\na{p=\"1} 3\n",
                    "# HELP a x\n# TYPE a counter\nb 3\n",
                    "# HELP a x\n# TYPE a gauge\na 3",
                    "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                    "h_sum 1\nh_count 1\n"):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    parse_metrics(bad)


class DashboardHttp(unittest.TestCase):
    def setUp(self):
        self.device = PtyDevice(echo=False)
        self.server = DashboardServer(self.device.path)
        self.name = self.device.path

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "serve did not exit cleanly on SIGTERM")
        self.device.close()

    def test_api_ports_lists_the_port_with_the_stable_keys(self):
        status, headers, body = self.server.get("/api/ports")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        ports = json.loads(body)["ports"]
        self.assertEqual(len(ports), 1)
        port = ports[0]
        self.assertEqual(set(port), API_KEYS)
        self.assertEqual(port["name"], self.name)
        self.assertEqual(port["device"], self.device.path)
        self.assertEqual(port["protocol"], "rfc2217")
        self.assertEqual(port["tcp_ports"], [self.server.port])
        self.assertEqual(port["state"], "serving")
        self.assertEqual(port["settings"], "115200 8N1")
        self.assertEqual(port["clients"], [])
        self.assertFalse(port["esp"])

    def test_metrics_count_a_pyserial_clients_traffic_and_a_refusal(self):
        client = serial.serial_for_url(self.server.url(), timeout=5)
        try:
            sent = payload(3000)
            client.write(sent)
            wait_until(lambda: len(self.device.received) >= len(sent), what="device got the data")
            self.assertEqual(bytes(self.device.received), sent)
            output = payload(5000, seed=7)
            os.write(self.device.master, output)
            self.assertEqual(read_exactly(client.read, len(output), 10), output)
            # Refused: the server closes, which pyserial meets as an error of its own or the
            # socket's, depending on when.
            with self.assertRaises((serial.SerialException, OSError)):
                serial.serial_for_url(self.server.url(), timeout=5)

            families = self.server.metrics()
            self.assertEqual(sample(families, "ttynet_port_bytes_total", port=self.name,
                                    direction="to_device"), 3000)
            self.assertEqual(sample(families, "ttynet_port_bytes_total", port=self.name,
                                    direction="from_device"), 5000)
            self.assertEqual(sample(families, "ttynet_port_connects_total", port=self.name), 1)
            self.assertEqual(sample(families, "ttynet_port_clients", port=self.name,
                                    role="controller"), 1)
            self.assertEqual(sample(families, "ttynet_port_refusals_total", port=self.name,
                                    reason="in_use"), 1)
            self.assertEqual(sample(families, "ttynet_port_negotiation_seconds_count",
                                    port=self.name), 1)
            self.assertEqual(sample(families, "ttynet_port_up", port=self.name), 1)
            for family in families:
                self.assertTrue(family.startswith("ttynet_"), family)
            port = self.server.ports()[0]
            self.assertEqual(port["state"], "in use")
            self.assertEqual([c["role"] for c in port["clients"]], ["controller"])
            self.assertRegex(port["clients"][0]["peer"], r"^127\.0\.0\.1:\d+$")
        finally:
            client.close()
        wait_until(lambda: sample(self.server.metrics(), "ttynet_port_clients", port=self.name,
                                  role="controller") == 0, what="the client is gone")

    def test_requests_it_cannot_serve_get_a_status_and_the_server_goes_on(self):
        def status_of(raw):
            with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10) as s:
                s.sendall(raw)
                head = read_until(s, b"\r\n", 10)
            return int(head.split(b" ")[1]) if head.startswith(b"HTTP/1.1 ") else None

        self.assertEqual(status_of(b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n"), 404)
        self.assertEqual(status_of(b"POST /api/ports HTTP/1.1\r\nHost: x\r\n\r\n"), 405)
        self.assertEqual(status_of(b"GET /ports/unknown HTTP/1.1\r\nHost: x\r\n\r\n"), 404)
        self.assertEqual(status_of(b"\x00\x01garbage\r\n\r\n"), 400)
        self.assertEqual(status_of(b"GET / HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"), 431)
        self.assertEqual(status_of(b"GET /ws/events HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                                   b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n"), 400)
        self.assertEqual(self.server.get("/")[0], 200)
        self.assertEqual(self.server.get("/assets/xterm.js")[0], 200)

    def test_a_browser_that_vanishes_mid_frame_leaves_the_port_serving(self):
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10) as s:
                s.sendall(b"GET /ws/events HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                          b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
                self.assertIn(b"101 Switching Protocols", read_until(s, b"\r\n\r\n", 10))
                s.sendall(b"\x81\xfe\x10\x00mask" + b"x" * 100)  # a 4 KiB frame, cut short
        client = serial.serial_for_url(self.server.url(), timeout=5)
        client.close()
        self.assertEqual(self.server.ports()[0]["connects"], 1)


class SecuredDashboard(unittest.TestCase):
    """A single-port serve gives its dashboard the port's TLS and access rules."""

    @classmethod
    def setUpClass(cls):
        cls.certificates = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certificates.close()

    def setUp(self):
        self.device = PtyDevice(echo=False)

    def tearDown(self):
        self.device.close()

    def test_over_tls_the_api_and_a_terminal_work_and_plain_http_gets_nothing(self):
        server = DashboardServer(*self.certificates.server_args(), self.device.path)
        try:
            context = self.certificates.context()
            url = f"https://localhost:{server.http_port}/api/ports"
            with urllib.request.urlopen(url, timeout=10, context=context) as reply:
                self.assertEqual(json.loads(reply.read())["ports"][0]["device"], self.device.path)
            quoted = urllib.parse.quote(self.device.path, safe="")
            terminal = websocket.create_connection(
                f"wss://localhost:{server.http_port}/ws/ports/{quoted}", timeout=10,
                origin=f"https://localhost:{server.http_port}",
                sslopt={"ca_certs": self.certificates.file("ca.pem")})
            try:
                os.write(self.device.master, b"over TLS\r\n")
                received = b""
                end = deadline_after(10)
                while b"over TLS" not in received and time.monotonic() < end:
                    opcode, data = terminal.recv_data()
                    if opcode == websocket.ABNF.OPCODE_BINARY:
                        received += data
                self.assertIn(b"over TLS", received)
            finally:
                terminal.close()
            with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as plain:
                plain.sendall(b"GET /api/ports HTTP/1.1\r\nHost: x\r\n\r\n")
                try:
                    answer = read_until(plain, b"ports", 5)
                except ConnectionResetError:  # the TLS handshake failed: the usual end
                    answer = b""
                self.assertNotIn(b"ports", answer)
        finally:
            self.assertEqual(server.stop(), 0)

    def test_an_address_not_allowed_gets_nothing(self):
        server = DashboardServer(self.device.path, "--deny", "127.0.0.0/8", "--allow", "::1")
        try:
            with socket.create_connection(("127.0.0.1", server.http_port), timeout=10) as s:
                s.sendall(b"GET /api/ports HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(read_until(s, None, 5), b"")
            server.wait_for_log(r"http: refused 127\.0\.0\.1:\d+")
        finally:
            self.assertEqual(server.stop(), 0)


class BrowserTerminal(unittest.TestCase):
    """The terminal's protocol as a browser speaks it: binary messages both ways, JSON controls."""

    def setUp(self):
        self.device = PtyDevice(echo=False)
        self.server = DashboardServer("--max-clients", "2", self.device.path)

    def tearDown(self):
        self.assertEqual(self.server.stop(), 0, "serve did not exit cleanly on SIGTERM")
        self.device.close()

    def receive_state(self, terminal):
        while True:
            opcode, data = terminal.recv_data()
            if opcode == websocket.ABNF.OPCODE_TEXT and "state" in json.loads(data):
                return json.loads(data)["state"]

    def receive_bytes(self, terminal, count, timeout=10):
        data = bytearray()
        end = deadline_after(timeout)
        while len(data) < count and time.monotonic() < end:
            opcode, chunk = terminal.recv_data()
            if opcode == websocket.ABNF.OPCODE_BINARY:
                data += chunk
        return bytes(data)

    def test_a_terminal_types_reads_and_sets_the_baud_rate_and_lines(self):
        terminal = self.server.terminal(self.device.path)
        try:
            state = self.receive_state(terminal)
            self.assertEqual(state["role"], "controller")
            self.assertEqual(state["baud"], 115200)
            terminal.send_binary(b"typed in a browser\r")
            wait_until(lambda: b"typed in a browser\r" in self.device.received,
                       what="the typed bytes reached the device")
            os.write(self.device.master, b"board says hi\r\n")
            self.assertEqual(self.receive_bytes(terminal, 15), b"board says hi\r\n")
            terminal.send(json.dumps({"baud": 9600}))
            self.assertEqual(self.receive_state(terminal)["baud"], 9600)
            self.assertEqual(self.device.termios2()[1:], (9600, 9600))
            terminal.send(json.dumps({"dtr": False, "rts": False}))
            state = self.receive_state(terminal)
            self.assertEqual((state["dtr"], state["rts"]), (False, False))
            self.assertEqual(self.server.ports()[0]["clients"][0]["role"], "controller")
            self.assertRegex(self.server.ports()[0]["clients"][0]["peer"],
                             r"^browser 127\.0\.0\.1:\d+$")
        finally:
            terminal.close()
        # The last controller leaving puts the device back as it found it.
        wait_until(lambda: self.device.termios2()[1] == 115200, what="115200 restored")

    def test_a_terminal_beyond_the_controllers_is_read_only(self):
        first, second = self.server.terminal(self.device.path), self.server.terminal(self.device.path)
        third = self.server.terminal(self.device.path)
        try:
            roles = [self.receive_state(t)["role"] for t in (first, second, third)]
            self.assertEqual(roles, ["controller", "controller", "read-only"])
            os.write(self.device.master, b"to everyone\r\n")
            for terminal in (first, second, third):
                self.assertEqual(self.receive_bytes(terminal, 13), b"to everyone\r\n")
            third.send_binary(b"read-only input")
            third.send(json.dumps({"baud": 300}))
            first.send_binary(b"<first>")
            wait_until(lambda: b"<first>" in self.device.received, what="the controller's bytes")
            self.assertNotIn(b"read-only input", bytes(self.device.received))
            self.assertEqual(self.device.termios2()[1], 115200)
        finally:
            for terminal in (first, second, third):
                terminal.close()

    def test_a_page_from_another_origin_cannot_open_a_terminal(self):
        quoted = urllib.parse.quote(self.device.path, safe="")
        with self.assertRaises(websocket.WebSocketBadStatusException) as refused:
            websocket.create_connection(f"ws://127.0.0.1:{self.server.http_port}/ws/ports/{quoted}",
                                        timeout=10, origin="http://evil.example")
        self.assertEqual(refused.exception.status_code, 403)
        self.assertEqual(self.server.ports()[0]["clients"], [])

    def test_a_browser_that_reads_nothing_loses_output_but_holds_nobody_back(self):
        quoted = urllib.parse.quote(self.device.path, safe="")
        stalled = socket.create_connection(("127.0.0.1", self.server.http_port), timeout=10)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /ws/ports/{quoted} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                        "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode())
        self.assertIn(b"101 Switching Protocols", read_until(stalled, b"\r\n\r\n", 10))
        wait_until(lambda: len(self.server.ports()[0]["clients"]) == 1, what="the browser attached")
        client = serial.serial_for_url(self.server.url(), timeout=5)
        try:
            data = payload(4 * 1024 * 1024)
            writer = os.fork()
            if writer == 0:  # the device's output, written while this process reads
                view = memoryview(data)
                while view:
                    view = view[os.write(self.device.master, view[:65536]):]
                os._exit(0)
            received = read_exactly(client.read, len(data), 60)
            os.waitpid(writer, 0)
            self.assertEqual(len(received), len(data))
            self.assertTrue(received == data, "the pyserial client's copy differs")
        finally:
            client.close()
            stalled.close()


class InBrowser(unittest.TestCase):
    """The pages in headless Chromium, against the simulated ESP32 running its application."""

    NAME = "sim://esp32?boot=app"

    def setUp(self):
        self.server = DashboardServer("--esp", self.NAME)
        self.browser = Chromium(width=1400, height=800)

    def tearDown(self):
        self.browser.close()
        self.assertEqual(self.server.stop(), 0, "serve did not exit cleanly on SIGTERM")

    def test_the_dashboard_shows_every_port_of_a_config_and_its_clients(self):
        base = free_port_base(3)
        with tempfile.TemporaryDirectory() as directory:
            config = os.path.join(directory, "ports.toml")
            with open(config, "w") as file:
                file.write(f'''[defaults]
bind = "127.0.0.1"
[http]
listen = "127.0.0.1:0"
[[port]]
name = "esp32-bench"
device = "sim://esp32?boot=app"
esp = true
tcp_port = {base}
[[port]]
name = "esp32c3-lab"
device = "sim://esp32c3?boot=app"
esp = true
max_clients = 2
tcp_port = {base + 1}
[[port]]
name = "loopback"
device = "loop://"
protocol = "raw"
tcp_port = {base + 2}
''')
            server = ConfigServer(config)
            try:
                http_port = int(server.wait_for_log(DASHBOARD_RE).group(1))
                server.wait_for_ports(3)
                client = serial.serial_for_url(f"rfc2217://127.0.0.1:{base + 1}", timeout=5)
                raw = socket.create_connection(("127.0.0.1", base + 2), timeout=5)
                try:
                    raw.sendall(b"x" * 5000)
                    self.assertEqual(len(read_exactly(raw.recv, 5000, 10)), 5000)
                    browser = self.browser
                    browser.navigate(f"http://127.0.0.1:{http_port}/")
                    browser.wait_for("document.querySelectorAll('#ports tbody tr').length === 3",
                                     what="three rows")
                    names = browser.evaluate(
                        "[...document.querySelectorAll('#ports tbody tr')].map(r => r.dataset.port)")
                    self.assertEqual(names, ["esp32-bench", "esp32c3-lab", "loopback"])
                    row = "document.querySelector('tr[data-port=\"esp32c3-lab\"]')"
                    browser.wait_for(f"{row}.querySelector('.clients').textContent"
                                     ".includes('controller')", what="the client's role")
                    loop = "document.querySelector('tr[data-port=\"loopback\"]')"
                    self.assertEqual(browser.evaluate(f"{loop}.querySelector('.to-device')"
                                                      ".textContent"), "4.9 KiB")
                    self.save(browser.screenshot(), "dashboard.png")
                finally:
                    client.close()
                    raw.close()
            finally:
                self.assertEqual(server.stop(), 0)

    def save(self, png, name):
        """Screenshots go where TTYNET_SCREENSHOTS says (docs/images by hand), else nowhere."""
        self.assertEqual(png[:8], b"\x89PNG\r\n\x1a\n")
        width, height = struct.unpack(">II", png[16:24])
        self.assertEqual((width, height), (1400, 800))
        folder = os.environ.get("TTYNET_SCREENSHOTS")
        if folder:
            with open(os.path.join(folder, name), "wb") as out:
                out.write(png)

    def test_dashboard_and_terminal_work_in_a_real_browser(self):
        browser = self.browser
        browser.navigate(self.server.http_url("/"))
        row = f"document.querySelector('tr[data-port=\"{self.NAME}\"]')"
        browser.wait_for(f"!!{row}", what="the port's row")
        self.assertEqual(browser.evaluate(f"{row}.querySelector('.state').textContent"), "serving")
        first = browser.evaluate(f"{row}.querySelector('.from-device').textContent")
        # The application prints a tick every second: the counter moves without a reload.
        browser.wait_for(f"{row}.querySelector('.from-device').textContent !== '{first}'",
                         what="the from-device counter changed")
        self.assertEqual(browser.evaluate("document.getElementById('connection').textContent"),
                         "live")

        browser.navigate(self.server.http_url("/ports/" + urllib.parse.quote(self.NAME, safe="")))
        rows = "document.querySelector('.xterm-rows').textContent"
        browser.wait_for(f"{rows}.includes('main: tick')", what="the application's output")
        browser.wait_for("document.getElementById('role').textContent === 'controller'")
        before = self.server.ports()[0]["bytes_to_device"]
        browser.evaluate("document.querySelector('.xterm-helper-textarea').focus()")
        browser.type_text("hello board\r")
        wait_until(lambda: self.server.ports()[0]["bytes_to_device"] >= before + 12,
                   what="the typed bytes reached the device")
        self.assertFalse(browser.evaluate("document.getElementById('reset-bootloader').hidden"))
        browser.evaluate("document.getElementById('reset-bootloader').click()")
        browser.wait_for(f"{rows}.includes('waiting for download')", what="the ROM banner")
        # Counted once the whole sequence has played; the banner may come before its last step.
        wait_until(lambda: self.server.ports()[0]["resets"]["bootloader"] == 1,
                   what="the reset counted")
        self.save(browser.screenshot(), "terminal.png")

        browser.evaluate("document.getElementById('reset-application').click()")
        browser.wait_for(f"{rows}.includes('2nd stage bootloader')", what="the boot after the reset")
        browser.navigate(self.server.http_url("/"))
        browser.wait_for(f"{row} && {row}.querySelector('.resets').textContent === '2'",
                         what="two resets counted")


if __name__ == "__main__":
    unittest.main()
