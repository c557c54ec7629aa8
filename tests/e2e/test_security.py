"""Securing ports (README "Securing ports"): TLS with TLS clients nobody here wrote (gensio's
gensiot, socat's OPENSSL address, Python's ssl module), client certificates, tokens, monitor
identities and access rules. Every refusal has its log line, and the refused peer never gets a
byte of the device's output."""

import contextlib
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

import serial

from support import (TTYNET, PtyDevice, Server, deadline_after, listening_ports, payload,
                     read_exactly, uses_address_sanitizer)
from test_serve_robustness import rss_kib

HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_CERTS = os.path.join(HERE, "..", "tls", "make_certs.sh")
# What the device says while a refused peer is connected: it must never reach that peer.
SECRET = b"device-output-for-authorised-eyes-only"


def make_certs(directory):
    subprocess.run([MAKE_CERTS, directory], check=True, timeout=60)
    return lambda name: os.path.join(directory, name)


def write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
        file.write(text)


class Certificates:
    """The test CA and its certificates in a temporary directory, with two tokens and an access
    file: the token `control.token` controls every port, `monitor.token` watches, and the
    certificate CN=watcher watches."""

    def __init__(self):
        self._dir = tempfile.TemporaryDirectory()
        self.file = make_certs(self._dir.name)
        self.control_token = "ctl-" + os.urandom(12).hex()
        self.monitor_token = "mon-" + os.urandom(12).hex()
        write_private(self.file("control.token"), self.control_token + "\n")
        write_private(self.file("monitor.token"), self.monitor_token + "\n")
        with open(self.file("access.toml"), "w") as access:
            access.write(f"""
[[identity]]
token_file = "{self.file('control.token')}"
permission = "control"

[[identity]]
token_file = "{self.file('monitor.token')}"
permission = "monitor"

[[identity]]
certificate_subject = "O=lab,CN=watcher"
permission = "monitor"
""")

    def server_args(self, client_ca=False, access=False):
        args = ["--tls-cert", self.file("server.pem"), "--tls-key", self.file("server.key")]
        if client_ca or access:  # the access file names a certificate: verified with the CA
            args += ["--tls-client-ca", self.file("ca.pem")]
        if access:
            args += ["--access", self.file("access.toml")]
        return args

    def context(self, ca="ca.pem", cert=None):
        context = ssl.create_default_context(cafile=self.file(ca))
        if cert:
            context.load_cert_chain(self.file(cert + ".pem"), self.file(cert + ".key"))
        return context

    def connect(self, port, ca="ca.pem", cert=None, timeout=5):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            return self.context(ca, cert).wrap_socket(raw, server_hostname="localhost")
        except BaseException:
            raw.close()
            raise

    def close(self):
        self._dir.cleanup()


def receive_all(sock, timeout=5):
    """Everything `sock` gets until the peer closes it (or the time is up)."""
    data = bytearray()
    end = deadline_after(timeout)
    while time.monotonic() < end:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except (socket.timeout, ssl.SSLError, ConnectionError):
            break
        if not chunk:
            break
        data += chunk
    return bytes(data)


def wait_for_baud(device, baud, timeout=10):
    end = deadline_after(timeout)
    while device.termios2()[1] != baud:
        if time.monotonic() > end:
            raise AssertionError(f"the device's baud is {device.termios2()[1]}, not {baud}")
        time.sleep(0.02)  # polls a kernel setting nothing notifies of


class Gensiot:
    """gensiot with its terminal on pipes, `^\\` as the escape character (`^\\ s 9600` and a new
    line set the baud)."""

    def __init__(self, gensio):
        self.proc = subprocess.Popen(["gensiot", "-e", "^\\", "-i", "stdio(self)", gensio],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)

    def send(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def read(self, count, timeout=10):
        return read_exactly(lambda n: os.read(self.proc.stdout.fileno(), n), count, timeout)

    def close(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certificates()

    @classmethod
    def tearDownClass(cls):
        cls.certs.close()

    def serve(self, *args, echo=True):
        self.device = PtyDevice(echo=echo)
        self.addCleanup(self.device.close)
        self.server = Server(self.device.path, *args)
        self.addCleanup(self.server.stop)
        return self.server

    def say_secret_while(self, sock):
        """Has the device speak while `sock` is connected, then returns all `sock` got."""
        os.write(self.device.master, SECRET)
        return receive_all(sock)


class TlsInterop(Base):
    """Clients nobody here wrote, over TLS: data both ways, and an RFC 2217 baud change reaches
    the device."""

    def gensio_exchange(self, ssl_options):
        gensio = f"telnet(rfc2217),ssl({ssl_options}),tcp,localhost,{self.server.port}"
        client = Gensiot(gensio)
        try:
            client.send(b"hello over TLS\n")
            self.assertEqual(client.read(15), b"hello over TLS\n")
            client.send(b"\x1cs9600\n")
            wait_for_baud(self.device, 9600)
        finally:
            client.close()

    def test_gensiot_rfc2217_with_client_certificate(self):
        self.serve(*self.certs.server_args(client_ca=True))
        f = self.certs.file
        self.gensio_exchange(f"CA={f('ca.pem')},cert={f('client.pem')},key={f('client.key')}")
        self.server.wait_for_log(r"RFC 2217 agreed")

    def test_gensiot_rfc2217_without_client_certificate(self):
        self.serve(*self.certs.server_args())
        self.gensio_exchange(f"CA={self.certs.file('ca.pem')}")

    def test_gensiot_refused_without_the_certificate_the_port_requires(self):
        self.serve(*self.certs.server_args(client_ca=True))
        client = Gensiot(f"telnet(rfc2217),ssl(CA={self.certs.file('ca.pem')}),tcp,localhost,"
                         f"{self.server.port}")
        try:
            self.assertEqual(client.proc.stdout.read(), b"")  # gensiot ends: nothing from the device
        finally:
            client.close()
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: TLS handshake failed: peer did not "
                                 r"return a certificate")

    def test_socat_openssl_raw_both_ways(self):
        self.serve("--raw", *self.certs.server_args(client_ca=True))
        f = self.certs.file
        data = payload(256 * 1024)
        socat = subprocess.Popen(
            ["socat", "-T", "10", "-",
             f"OPENSSL:localhost:{self.server.port},cafile={f('ca.pem')},cert={f('client.pem')},"
             f"key={f('client.key')}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            socat.stdin.write(data)
            socat.stdin.flush()
            echoed = read_exactly(lambda n: os.read(socat.stdout.fileno(), n), len(data), 30)
            self.assertEqual(echoed, data)
        finally:
            socat.stdin.close()
            socat.wait(15)
            socat.stdout.close()

    def test_pyserial_through_socat_tls_tunnel_changes_the_baud(self):
        """pyserial's rfc2217:// client has no TLS: socat carries it, as stunnel would."""
        self.serve(*self.certs.server_args())
        tunnel_port = free_port()
        tunnel = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{tunnel_port},bind=127.0.0.1,reuseaddr,fork",
             f"OPENSSL:localhost:{self.server.port},cafile={self.certs.file('ca.pem')}"])
        try:
            wait_for_listener(tunnel_port)
            with serial.serial_for_url(f"rfc2217://127.0.0.1:{tunnel_port}?timeout=5",
                                       baudrate=57600, timeout=5) as port:
                wait_for_baud(self.device, 57600)
                port.write(b"round trip")
                self.assertEqual(port.read(10), b"round trip")
        finally:
            tunnel.terminate()
            tunnel.wait(10)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_listener(port, timeout=10):
    """Waits until something listens on `port`, without connecting to it."""
    end = deadline_after(timeout)
    while port not in listening_ports():
        if time.monotonic() > end:
            raise AssertionError(f"nothing listens on port {port}")
        time.sleep(0.02)  # socat's listener gives no other sign of being ready


class Refusals(Base):
    """Each refusal: a clear log line, and not one byte of the device's output to the peer."""

    def assert_refused_at_handshake(self, log_pattern, **connect):
        with self.assertRaises((ssl.SSLError, ConnectionError)):
            with self.certs.connect(self.server.port, **connect) as sock:
                # TLS 1.3: a client learns of its refused certificate on its first read.
                got = self.say_secret_while(sock)
                self.assertNotIn(SECRET, got)
                raise ConnectionError("closed")
        self.server.wait_for_log(log_pattern)

    def test_server_certificate_from_another_ca(self):
        self.serve(*self.certs.server_args())
        self.assert_refused_at_handshake(r"refused 127\.0\.0\.1:\d+: TLS handshake failed: "
                                         r"tlsv1 alert unknown ca", ca="other-ca.pem")

    def test_client_certificate_from_another_ca(self):
        self.serve(*self.certs.server_args(client_ca=True))
        self.assert_refused_at_handshake(r"refused 127\.0\.0\.1:\d+: TLS handshake failed: "
                                         r"unable to get local issuer certificate",
                                         cert="stranger")

    def test_expired_client_certificate(self):
        self.serve(*self.certs.server_args(client_ca=True))
        self.assert_refused_at_handshake(r"refused 127\.0\.0\.1:\d+: TLS handshake failed: "
                                         r"certificate has expired", cert="expired")

    def test_missing_client_certificate(self):
        self.serve(*self.certs.server_args(client_ca=True))
        self.assert_refused_at_handshake(r"refused 127\.0\.0\.1:\d+: TLS handshake failed: "
                                         r"peer did not return a certificate")

    def test_wrong_token(self):
        self.serve("--raw", *self.certs.server_args(access=True), echo=False)
        with self.certs.connect(self.server.port) as sock:
            sock.sendall(b"TTYNET-TOKEN not-the-token\r\n")
            got = self.say_secret_while(sock)
        self.assertEqual(got, b"ttynet: not authorised (wrong token)\r\n")
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: not authorised \(wrong token\)")
        self.assertFalse(any("not-the-token" in line for line in self.server.lines))

    def test_no_token_in_time(self):
        self.serve("--raw", *self.certs.server_args(access=True), echo=False)
        with self.certs.connect(self.server.port) as sock:
            got = receive_all(sock, timeout=15)
        self.assertEqual(got, b"ttynet: no token within 5 s\r\n")

    def test_right_token_controls(self):
        self.serve("--raw", *self.certs.server_args(access=True), echo=False)
        with self.certs.connect(self.server.port) as sock:
            sock.sendall(f"TTYNET-TOKEN {self.certs.control_token}\r\nfrom the client".encode())
            self.server.wait_for_log(r"127\.0\.0\.1:\d+ connected$")
            os.write(self.device.master, SECRET)
            self.assertEqual(read_exactly(sock.recv, len(SECRET), 10), SECRET)
            end = deadline_after(10)
            while bytes(self.device.received) != b"from the client":
                self.assertLess(time.monotonic(), end, bytes(self.device.received))
                time.sleep(0.02)  # the device thread appends as bytes arrive
        self.assertFalse(any(self.certs.control_token in line for line in self.server.lines))

    def test_monitor_token_cannot_write_on_a_raw_port(self):
        self.serve("--raw", *self.certs.server_args(access=True), echo=False)
        with self.certs.connect(self.server.port) as sock:
            sock.sendall(f"TTYNET-TOKEN {self.certs.monitor_token}\r\n".encode())
            self.server.wait_for_log(r"monitor 127\.0\.0\.1:\d+ connected")
            sock.sendall(b"must not reach the device")
            os.write(self.device.master, SECRET)
            self.assertEqual(read_exactly(sock.recv, len(SECRET), 10), SECRET)
        # Its bytes were read before the device's came back to it: none went to the device.
        self.assertEqual(bytes(self.device.received), b"")

    def test_monitor_identity_cannot_write_or_change_settings_over_rfc2217(self):
        """A watcher's certificate on an RFC 2217 port: it sees the output, but its baud
        change is answered with the device's baud (pyserial calls that a rejection) and its
        data goes nowhere."""
        self.serve(*self.certs.server_args(client_ca=True, access=True), echo=False)
        tunnel_port = free_port()
        f = self.certs.file
        tunnel = subprocess.Popen(
            ["socat", f"TCP-LISTEN:{tunnel_port},bind=127.0.0.1,reuseaddr,fork",
             f"OPENSSL:localhost:{self.server.port},cafile={f('ca.pem')},cert={f('watcher.pem')},"
             f"key={f('watcher.key')}"])
        try:
            wait_for_listener(tunnel_port)
            with self.assertRaisesRegex(Exception, "(?i)remote rejected|not accept"):
                serial.serial_for_url(f"rfc2217://127.0.0.1:{tunnel_port}?timeout=3",
                                      baudrate=9600, timeout=3)
            self.assertEqual(self.device.termios2()[1], 115200)
            # Its DTR/RTS requests are answered with the lines as they are: ignored here.
            with serial.serial_for_url(
                    f"rfc2217://127.0.0.1:{tunnel_port}?ign_set_control&timeout=3",
                    baudrate=115200, timeout=3) as port:
                port.write(b"must not reach the device")
                os.write(self.device.master, SECRET)
                self.assertEqual(port.read(len(SECRET)), SECRET)
            self.server.wait_for_log(r"is read-only: its data and its requests to change the "
                                     r"device are ignored")
            self.assertEqual(bytes(self.device.received), b"")
        finally:
            tunnel.terminate()
            tunnel.wait(10)

    def test_address_not_allowed(self):
        self.serve("--raw", "--allow", "192.0.2.0/24", echo=False)
        with self.server.connect() as sock:
            got = self.say_secret_while(sock)
        self.assertEqual(got, b"")
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: not in the allow list")

    def test_address_denied(self):
        self.serve("--raw", "--deny", "127.0.0.0/8", "--allow", "127.0.0.1", echo=False)
        with self.server.connect() as sock:
            got = self.say_secret_while(sock)
        self.assertEqual(got, b"")
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: denied by 127\.0\.0\.0/8")

    def test_plain_client_on_a_tls_port(self):
        self.serve("--raw", *self.certs.server_args(), echo=False)
        with self.server.connect() as sock:
            sock.sendall(b"plain text, not a ClientHello")
            got = self.say_secret_while(sock)
        self.assertEqual(got, b"")
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: not TLS \(a plain client\?\)")

    def test_tls_client_on_a_plain_port(self):
        self.serve("--raw", echo=False)
        with self.assertRaises((ssl.SSLError, ConnectionError, socket.timeout)):
            self.certs.connect(self.server.port, timeout=5)
        self.server.wait_for_log(r"refused.* TLS on a plain port")
        self.assertEqual(bytes(self.device.received), b"")

    def test_key_readable_by_others_is_refused_at_start(self):
        key = self.certs.file("loose.key")
        with open(self.certs.file("server.key")) as source, open(key, "w") as loose:
            loose.write(source.read())
        os.chmod(key, 0o644)
        device = PtyDevice()
        self.addCleanup(device.close)
        result = subprocess.run(
            [os.environ.get("TTYNET_BIN", "ttynet"), "serve", device.path, "-p", "0",
             "--bind", "127.0.0.1", "--tls-cert", self.certs.file("server.pem"),
             "--tls-key", key], capture_output=True, text=True, timeout=20)
        self.assertEqual(result.returncode, 1)
        self.assertIn(f"key file {key} is readable by group or others (chmod 600 it)",
                      result.stderr)
        self.assertNotIn("PRIVATE KEY", result.stderr)

    def test_open_port_is_warned_about(self):
        self.serve("--raw", echo=False)  # loopback only: no warning
        self.assertFalse(any("without TLS or an allow list" in line for line in self.server.lines))
        # All interfaces, but of a network namespace of its own that has only a loopback.
        device = PtyDevice()
        self.addCleanup(device.close)
        wide = subprocess.Popen(
            ["unshare", "--net", TTYNET, "serve", device.path, "-p", "0", "--bind", "0.0.0.0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            line = wide.stderr.readline()
            while line and "without TLS" not in line:
                line = wide.stderr.readline()
            self.assertRegex(line, r"port .*: listening on 0\.0\.0\.0:\d+ without TLS or an "
                                   r"allow list: anyone who can reach it can control")
        finally:
            wide.terminate()
            self.assertEqual(wide.wait(10), 0)
            wide.stderr.close()


def client_hello(context):
    """The first flight of a TLS client: a ClientHello, made without a connection."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    handshake = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with contextlib.suppress(ssl.SSLWantReadError):
        handshake.do_handshake()
    return outgoing.read()


class Robustness(Base):
    """Handshakes that stop half way and garbage ClientHellos: memory stays flat, the port keeps
    serving."""

    BATCH = 100

    def stalled_handshakes(self, count, hello):
        """`count` clients that send a ClientHello, read the server's first flight, and stop;
        BATCH at a time are held open together."""
        for _ in range(count // self.BATCH):
            batch = [socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                     for _ in range(self.BATCH)]
            for sock in batch:
                sock.sendall(hello)
            for sock in batch:
                self.assertGreater(len(sock.recv(65536)), 0)  # the ServerHello and more
            for sock in batch:
                sock.close()

    def garbage_hellos(self, count):
        for index in range(count // self.BATCH):
            batch = [socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
                     for _ in range(self.BATCH)]
            for number, sock in enumerate(batch):
                body = payload(300, seed=index * self.BATCH + number)
                sock.sendall(b"\x16\x03\x01" + len(body).to_bytes(2, "big") + body)
            for sock in batch:
                receive_all(sock, timeout=10)  # the server closes it
                sock.close()

    def test_memory_stays_flat_and_the_port_serves(self):
        self.serve("--raw", *self.certs.server_args())
        hello = client_hello(self.certs.context())
        pid = self.server.proc.pid
        # A first round warms the allocator and OpenSSL's caches.
        self.stalled_handshakes(1000, hello)
        self.garbage_hellos(1000)
        before = rss_kib(pid)
        self.stalled_handshakes(1000, hello)
        self.garbage_hellos(1000)
        after = rss_kib(pid)
        print(f"\nRSS {before} KiB before, {after} KiB after 1000 stalled handshakes and 1000 "
              "garbage ClientHellos", file=sys.stderr)
        if not uses_address_sanitizer(pid):
            self.assertLessEqual(after - before, 1024, f"RSS {before} KiB -> {after} KiB")
        with self.certs.connect(self.server.port) as sock:
            sock.sendall(b"still serving")
            self.assertEqual(read_exactly(sock.recv, 13, 10), b"still serving")
        self.server.wait_for_log(r"refused 127\.0\.0\.1:\d+: TLS handshake failed")


if __name__ == "__main__":
    unittest.main()
