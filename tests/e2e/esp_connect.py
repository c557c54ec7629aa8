"""esptool-style connects (classic reset, then SYNC) through a port URL, with pyserial's
rfc2217:// client or ttynet's (tests/e2e/esp_connect_probe), and the latency proxy that puts a
network between client and server. Shared by test_esp_reset.py and bench/esp_reset_latency.py."""

import json
import os
import select
import struct
import subprocess
import time

import serial

from support import deadline_after, end_process

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"  # Debian's, the one python3-serial belongs to
PROBE = os.environ.get("TTYNET_ESP_PROBE", "esp_connect_probe")
SYNC_REQUEST = (b"\xc0" + struct.pack("<BBHI", 0, 0x08, 36, 0) + b"\x07\x07\x12\x20"
                + b"\x55" * 32 + b"\xc0")
WAITING = b"waiting for download"


def esptool_classic_reset(port, delay=0.05):
    """esptool's ClassicReset as it goes over RFC 2217: every RTS write is followed by a write
    of the unchanged DTR (one more SET-CONTROL each), with its 0.1 s and `delay` holds."""
    port.dtr = False
    port.rts = True
    port.dtr = port.dtr
    time.sleep(0.1)  # the sequence's own timing, not a synchronisation
    port.dtr = True
    port.rts = False
    port.dtr = port.dtr
    time.sleep(delay)
    port.dtr = False


def has_sync_reply(data):
    return any(len(chunk) >= 8 and chunk[0] == 1 and chunk[1] == 0x08
               for chunk in data.split(b"\xc0"))


def pyserial_connect(port, sync_timeout):
    """One attempt: True when the download-mode boot message came after the reset and a
    SYNC was answered."""
    port.reset_input_buffer()
    esptool_classic_reset(port)
    data = bytearray()
    for _ in range(5):
        port.write(SYNC_REQUEST)
        end = deadline_after(sync_timeout)
        while not has_sync_reply(data) and time.monotonic() < end:
            port.timeout = max(0.01, min(0.2, end - time.monotonic()))
            data += port.read(4096)
        if has_sync_reply(data):
            return WAITING in data
        if b"boot:" in data and WAITING not in data:
            return False  # booted something else: no SYNC will be answered
    return False


def pyserial_attempts(url, attempts, sync_timeout):
    """Opens `url` with pyserial and makes `attempts` connects; (successes, seconds each)."""
    port = serial.serial_for_url(url, baudrate=115200, timeout=1)
    try:
        seconds = []
        successes = 0
        for _ in range(attempts):
            start = time.monotonic()
            successes += pyserial_connect(port, sync_timeout)
            seconds.append(time.monotonic() - start)
        return successes, seconds
    finally:
        port.close()


def ttynet_attempts(url, attempts, sync_timeout, timeout=300):
    """The same through ttynet's client (esp_connect_probe); (successes, seconds each)."""
    done = subprocess.run([PROBE, url, "--attempts", str(attempts), "--sync-timeout",
                           str(sync_timeout)], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"esp_connect_probe failed: {done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["successes"], result["seconds"]


class LatencyProxy:
    """tests/e2e/latency_proxy.py in front of a loopback port: `delay` seconds each way."""

    def __init__(self, target_port, delay, jitter=0.0, lifetime=900):
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(HERE, "latency_proxy.py"), "--target",
             f"127.0.0.1:{target_port}", "--delay", str(delay), "--jitter", str(jitter),
             "--lifetime", str(lifetime)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        line = self.proc.stdout.readline() if ready else ""  # "listening PORT" once it accepts
        if not line.startswith("listening "):
            self.stop()
            raise AssertionError(f"latency proxy did not start: {self.proc.stderr.read()}")
        self.port = int(line.split()[1])

    def url(self, options=""):
        return f"rfc2217://127.0.0.1:{self.port}{options}"

    def stop(self):
        end_process(self.proc)
        self.proc.stdout.close()
        self.proc.stderr.close()
