"""An RFC 2217 server made of pyserial's own server side, serial.rfc2217.PortManager, for the
interop tests: a peer whose protocol code nobody here wrote.

    /usr/bin/python3 portmanager_server.py --device /dev/pts/N [--port P]

Listens on 127.0.0.1 (port 0: any free one) and serves one client at a time, the way pyserial's
example server does: on connect RTS and DTR on and a new PortManager; network bytes go through
PortManager.filter() to the device, device bytes through PortManager.escape() to the network,
modem lines are checked once a second; on disconnect DTR and RTS off and the settings found at
start put back.

The device is a pseudo-terminal, which has no modem lines: the serial object records DTR, RTS
and BREAK changes instead of calling the ioctls, and reports CTS = RTS, DSR = DTR, CD on, RI off
(a loopback plug). Everything of interest is reported as one JSON line on stdout:
  {"event": "listening", "port": P}
  {"event": "connected"}, then {"event": "client_closed"} when the client has gone (before the
  lines and settings are put back), {"event": "disconnected"} when that is done
  {"event": "dtr"|"rts"|"break", "value": true|false, "by": "server"|"client"}
"by" tells whether this program set the line itself (connect, disconnect) or PortManager did on
a client's request."""

import argparse
import json
import logging
import socket
import sys
import threading

import serial
import serial.rfc2217


class Reporter:
    """Prints events as JSON lines; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.origin = "server"

    def __call__(self, event, **fields):
        with self._lock:
            sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
            sys.stdout.flush()

    def line(self, name, value):
        self(name, value=bool(value), by=self.origin)


class RecordingSerial(serial.Serial):
    """A POSIX serial port whose control lines are recorded rather than driven."""

    def __init__(self, *args, reporter, **kwargs):
        self._reporter = reporter  # before the base class opens the port and sets the lines
        super().__init__(*args, **kwargs)

    def _update_dtr_state(self):
        self._reporter.line("dtr", self._dtr_state)

    def _update_rts_state(self):
        self._reporter.line("rts", self._rts_state)

    def _update_break_state(self):
        self._reporter.line("break", self._break_state)

    @property
    def cts(self):
        return bool(self._rts_state)

    @property
    def dsr(self):
        return bool(self._dtr_state)

    @property
    def ri(self):
        return False

    @property
    def cd(self):
        return True


class Connection:
    """What PortManager writes to: the client socket, shared by two threads."""

    def __init__(self, sock):
        self._sock = sock
        self._lock = threading.Lock()

    def write(self, data):
        with self._lock:
            self._sock.sendall(data)


def serve_client(sock, port, reporter, logger):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reporter("connected")
    reporter.origin = "server"
    port.rts = True
    port.dtr = True
    reporter.origin = "client"
    connection = Connection(sock)
    manager = serial.rfc2217.PortManager(port, connection, logger=logger)
    stop = threading.Event()

    def device_to_network():
        try:
            while not stop.is_set():
                data = port.read(port.in_waiting or 1)
                if data:
                    connection.write(b"".join(manager.escape(data)))
        except (OSError, serial.SerialException) as error:
            logger.warning("device to network: %s", error)
        stop.set()

    def modem_lines():
        while not stop.wait(1.0):
            try:
                manager.check_modem_lines()
            except OSError:
                break

    threads = [threading.Thread(target=device_to_network, daemon=True),
               threading.Thread(target=modem_lines, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        while not stop.is_set():
            data = sock.recv(65536)
            if not data:
                break
            port.write(b"".join(manager.filter(data)))
    except OSError as error:
        logger.warning("network to device: %s", error)
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", required=True, help="pseudo-terminal slave path")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0: any)")
    parser.add_argument("--once", action="store_true", help="exit after the first client")
    args = parser.parse_args()

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    logger = logging.getLogger("portmanager_server")
    reporter = Reporter()

    port = RecordingSerial(None, baudrate=115200, timeout=0.1, reporter=reporter)
    port.port = args.device
    port.dtr = False
    port.rts = False
    port.open()
    settings = port.get_settings()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(1)
    reporter("listening", port=listener.getsockname()[1])
    while True:
        client, _ = listener.accept()
        serve_client(client, port, reporter, logger)
        reporter("client_closed")
        reporter.origin = "server"
        port.dtr = False
        port.rts = False
        port.apply_settings(settings)
        reporter("disconnected")
        if args.once:
            break


if __name__ == "__main__":
    main()
