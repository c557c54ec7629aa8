"""Replays a recorded esptool.py session (tests/vectors/*.trace) the way esptool sends it, over
a pyserial port, and checks what such a tool would see.

A trace holds what esptool put on the chip's RX pin and what the chip sent back, with the line
changes, baud changes and purges the server made. The replay sends the recorded requests one at
a time, as esptool does: each waits for its reply (matched by opcode, other frames skipped, as
esptool's command() does) within esptool's timeout for it. On top of that it acts like esptool
where the trace only shows the outcome of esptool's own logic:

- connecting: a classic reset (DTR/RTS) before the first SYNC after line changes, then SYNC
  tries 0.1 s apart, up to five per reset and seven resets, reading 8 replies once one comes;
- the stub's greeting after MEM_END, and a stub's READ_FLASH: data frames acknowledged as they
  come, then the digest checked against the data;
- the hard reset at the end (an RTS pulse).

Every reply is compared with the one the chip sent when the session was recorded: the chip is
deterministic, so the same requests must draw the same bytes, whoever answers them. The first
failed status stops the replay, as it stops esptool.
"""

import hashlib
import struct
import time

from support import deadline_after

SLIP_END, SLIP_ESC, SLIP_ESC_END, SLIP_ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD

SYNC, MEM_END, READ_FLASH, RUN_USER_CODE = 0x08, 0x06, 0xD2, 0xD3
ERASE_FLASH, ERASE_REGION, SPI_FLASH_MD5 = 0xD0, 0xD1, 0x13
FLASH_BEGIN, FLASH_DEFL_BEGIN = 0x02, 0x10
GET_SECURITY_INFO = 0x14
ROM_INVALID_RECV_MSG = 0x05
ROM_STATUS_LENGTH, STUB_STATUS_LENGTH = 4, 2  # ESP32, -C3, -S3 ROMs; both stubs


def slip_frame(payload):
    out = bytearray([SLIP_END])
    for b in payload:
        if b == SLIP_END:
            out += bytes([SLIP_ESC, SLIP_ESC_END])
        elif b == SLIP_ESC:
            out += bytes([SLIP_ESC, SLIP_ESC_ESC])
        else:
            out.append(b)
    out.append(SLIP_END)
    return bytes(out)


def slip_frames(stream):
    """(raw frame bytes, unescaped payload) for every END..END frame of `stream`."""
    frames = []
    start = None
    for i, b in enumerate(stream):
        if b != SLIP_END:
            continue
        if start is not None and i > start + 1:
            raw = stream[start:i + 1]
            frames.append((raw, unescape(raw[1:-1])))
            start = None
        else:
            start = i
    return frames


def unescape(body):
    return bytes(body).replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")


def parse_trace(text):
    """The header's sim:// URL, and the events as (time in s, kind, value) with consecutive
    rx and tx runs joined."""
    lines = text.splitlines()
    header = lines[0].split()
    if header[:2] != ["ttynet-sim-trace", "1"]:
        raise ValueError("not a ttynet-sim-trace 1 file")
    events = []
    for line in lines[1:]:
        parts = line.split()
        at, kind = int(parts[0]) / 1e6, parts[1]
        if kind in ("rx", "tx"):
            data = bytes.fromhex(parts[2])
            if events and events[-1][1] == kind:
                events[-1] = (events[-1][0], kind, events[-1][2] + data)
                continue
            events.append((at, kind, data))
        elif kind == "lines":
            events.append((at, kind, (parts[2] == "1", parts[3] == "1")))
        elif kind == "baud":
            events.append((at, kind, int(parts[2])))
        else:
            events.append((at, kind, None))
    return header[2], events


class Request:
    def __init__(self, frame, payload, recorded):
        self.frame = frame
        self.op = payload[1]
        self.data = payload[8:]
        self.recorded = recorded  # the chip's replies to it when recorded: unframed packets


def steps(events):
    """The tool's part of a trace: ("reset",), ("baud", n), ("purge",), ("request", Request),
    ("send", bytes) for frames that are no requests (READ_FLASH acknowledgements), in order."""
    out = []
    pending_reset = False
    for index, (_, kind, value) in enumerate(events):
        if kind == "lines":
            pending_reset = True
        elif kind == "baud":
            out.append(("baud", value))
        elif kind == "purge":
            out.append(("purge",))
        elif kind == "rx":
            for frame, payload in slip_frames(value):
                if len(payload) < 8 or payload[0] != 0:
                    out.append(("send", frame))
                    continue
                if pending_reset:
                    out.append(("reset",))
                    pending_reset = False
                out.append(("request", Request(frame, payload, recorded_replies(events, index))))
    if pending_reset:
        out.append(("hard_reset",))
    return out


def recorded_replies(events, rx_index):
    """The chip's response packets after rx event `rx_index`, up to the next rx event."""
    replies = []
    for _, kind, value in events[rx_index + 1:]:
        if kind == "rx":
            break
        if kind == "tx":
            replies += [payload for _, payload in slip_frames(value)
                        if len(payload) >= 8 and payload[0] == 1]
    return replies


def timeout_for(request, stub):
    """esptool's wait for a reply (v4.8.1's constants)."""
    op, data = request.op, request.data
    if op == SYNC:
        return 0.1
    if op == MEM_END and not stub:
        return 0.2
    if op == ERASE_FLASH:
        return 120.0
    if op in (ERASE_REGION, SPI_FLASH_MD5, FLASH_BEGIN, FLASH_DEFL_BEGIN) and len(data) >= 8:
        size = struct.unpack_from("<I", data, 4 if op in (ERASE_REGION, SPI_FLASH_MD5) else 0)[0]
        per_mb = 8.0 if op == SPI_FLASH_MD5 else 40.0
        return max(3.0, per_mb * size / 1e6)
    return 3.0


class Stopped(Exception):
    """The replay ended as esptool would end: a failed status, a missing reply."""


class Replay:
    """Drives `port` (an open pyserial port) through a trace's steps; `dialect` is "v4" or "v5"
    (where the status bytes are looked for)."""

    def __init__(self, port, dialect):
        self.port = port
        self.dialect = dialect
        self.stub = False
        self.received = bytearray()
        self.requests = 0
        self.mismatches = []  # replies that differ from the recording

    def run(self, trace_steps):
        """Returns nothing when the session ran through; raises Stopped otherwise."""
        connected = False
        for step in trace_steps:
            kind = step[0]
            if kind == "reset":
                connected = False
            elif kind == "hard_reset":
                self.port.rts = True
                time.sleep(0.1)
                self.port.rts = False
            elif kind == "baud":
                self.port.baudrate = step[1]
            elif kind == "purge":
                self.purge()
            elif kind == "send":
                pass  # READ_FLASH acknowledgements: read_flash() sends its own
            elif step[1].op == SYNC:
                if not connected:
                    self.connect(step[1])
                    connected = True
            else:
                self.exchange(step[1])

    def purge(self):
        self.port.reset_input_buffer()
        self.received.clear()

    def read_packet(self, deadline):
        """The next SLIP frame's payload, or None when the deadline passes first. Bytes
        outside frames are skipped."""
        while True:
            packet = self.take_packet()
            if packet is not None:
                return packet
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.port.timeout = min(remaining, 0.05)
            self.received += self.port.read(max(1, self.port.in_waiting))

    def take_packet(self):
        start = self.received.find(SLIP_END)
        if start < 0:
            self.received.clear()
            return None
        del self.received[:start]
        while len(self.received) > 1 and self.received[1] == SLIP_END:
            del self.received[:1]  # back-to-back ENDs: the first opened nothing
        end = self.received.find(SLIP_END, 1)
        if end < 0:
            return None
        payload = unescape(self.received[1:end])
        del self.received[:end + 1]
        return payload

    def command(self, request, timeout):
        """Sends the request and returns its reply packet, or None after `timeout`."""
        self.port.write(request.frame)
        self.requests += 1
        deadline = time.monotonic() + timeout
        for _ in range(100):  # esptool's command() reads at most 100 frames for a match
            packet = self.read_packet(deadline)
            if packet is None:
                return None
            if len(packet) < 8 or packet[0] != 1:
                continue
            if packet[1] == request.op:
                return packet
            if len(packet) >= 10 and packet[8] != 0 and packet[9] == ROM_INVALID_RECV_MSG:
                return packet  # esptool's UnsupportedCommandError
        return None

    def connect(self, sync):
        for _ in range(7):
            self.classic_reset()
            for _ in range(5):
                self.purge()
                reply = self.command(sync, 0.1)
                if reply is not None:
                    replies = [reply]
                    deadline = time.monotonic() + 3.0
                    while len(replies) < 8:
                        more = self.read_packet(deadline)
                        if more is None:
                            raise Stopped(f"SYNC: {len(replies)} replies, esptool reads 8")
                        if more[:2] == bytes([1, SYNC]):
                            replies.append(more)
                    self.check_recorded(sync, replies[0])
                    return
                time.sleep(0.05)
        raise Stopped("Failed to connect: no SYNC reply")

    def classic_reset(self):
        """esptool's ClassicReset: EN low, GPIO0 low, EN released, GPIO0 released."""
        self.port.dtr = False
        self.port.rts = True
        time.sleep(0.1)
        self.port.dtr = True
        self.port.rts = False
        time.sleep(0.05)
        self.port.dtr = False

    def exchange(self, request):
        if request.op == RUN_USER_CODE:
            self.port.write(request.frame)
            return
        reply = self.command(request, timeout_for(request, self.stub))
        if reply is None:
            if request.op == MEM_END and not self.stub:
                raise Stopped("MEM_END: no reply within esptool's 0.2 s")
            raise Stopped(f"op {request.op:#04x}: Timed out waiting for packet header")
        if reply[1] != request.op:
            if request.op != GET_SECURITY_INFO:
                raise Stopped(f"op {request.op:#04x}: answered as unsupported")
            self.purge()  # esptool flushes its input after an unsupported command
            return
        status = self.status_of(request.op, reply)
        if status[0] != 0:
            raise Stopped(f"op {request.op:#04x}: failed with status {status.hex()}")
        self.check_recorded(request, reply)
        if request.op == MEM_END and not self.stub:
            greeting = self.read_packet(time.monotonic() + 3.0)
            if greeting != b"OHAI":
                raise Stopped(f"Failed to start stub. Unexpected response: {greeting!r}")
            self.stub = True
        elif request.op == READ_FLASH:
            self.read_flash(request)

    def status_of(self, op, reply):
        data = reply[8:]
        length = STUB_STATUS_LENGTH if self.stub else ROM_STATUS_LENGTH
        if self.dialect == "v4" or op == 0x0A:  # READ_REG: only the first byte, both versions
            return data[-length:][:2] if len(data) >= length else b"\xff\xff"
        returned = {SPI_FLASH_MD5: 16 if self.stub else 32, 0x0E: 64}.get(op, 0)
        return data[returned:returned + 2] if len(data) >= returned + 2 else b"\xff\xff"

    def check_recorded(self, request, reply):
        recorded = [r for r in request.recorded if r[1] == request.op]
        if recorded and recorded[0] != bytes(reply):
            self.mismatches.append(
                f"op {request.op:#04x}: got {bytes(reply).hex()}, recorded {recorded[0].hex()}")

    def read_flash(self, request):
        """The stub's streamed read: data frames acknowledged as they come, then the digest."""
        length, packet_size = struct.unpack_from("<II", request.data, 4)
        data = bytearray()
        deadline = deadline_after(30)
        while len(data) < length:
            frame = self.read_packet(min(deadline, time.monotonic() + 3.0))
            if frame is None:
                raise Stopped(f"READ_FLASH: {len(data)} of {length} bytes")
            data += frame
            self.port.write(slip_frame(struct.pack("<I", len(data))))
        digest = self.read_packet(time.monotonic() + 3.0)
        if digest != hashlib.md5(data).digest():
            raise Stopped("READ_FLASH: digest does not match the data")
