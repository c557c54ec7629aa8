"""Headless Chromium (Debian's `chromium`) driven over its DevTools protocol, with
python3-websocket as the protocol's client: enough to load a page, run script in it, type,
and take screenshots."""

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

from support import deadline_after, end_process

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class Chromium:
    """One headless browser with one page; close() ends it."""

    def __init__(self, width=1280, height=720, timeout=30):
        # Chromium's helpers may still be writing there as it ends.
        self._profile = tempfile.TemporaryDirectory(prefix="ttynet-chromium-",
                                                    ignore_cleanup_errors=True)
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
                f"--user-data-dir={self._profile.name}", f"--window-size={width},{height}",
                "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        port = self._devtools_port(timeout)
        end = deadline_after(timeout)
        page = None
        while page is None and time.monotonic() < end:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as reply:
                page = next((t for t in json.load(reply) if t["type"] == "page"), None)
            if page is None:
                time.sleep(0.1)
        if page is None:
            raise AssertionError("chromium opened no page")
        self._socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=timeout,
                                                   suppress_origin=True)
        self._next_id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")
        # The viewport, and so the screenshots, at exactly this size.
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _devtools_port(self, timeout):
        """The port from "DevTools listening on ws://127.0.0.1:PORT/..." on stderr."""
        end = deadline_after(timeout)
        seen = b""
        os.set_blocking(self.proc.stderr.fileno(), False)
        while time.monotonic() < end:
            chunk = self.proc.stderr.read() or b""
            seen += chunk
            match = re.search(rb"DevTools listening on ws://127\.0\.0\.1:(\d+)/", seen)
            if match:
                return int(match.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"chromium did not start: {seen[-2000:].decode(errors='replace')}")

    def call(self, method, **params):
        """Sends one command and returns its result; events that come meanwhile are kept."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def navigate(self, url, timeout=20):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'", timeout)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=20, what=None):
        """Polls until the expression is truthy; returns its value."""
        end = deadline_after(timeout)
        value = None
        while time.monotonic() < end:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"{what or expression}: not true within {timeout} s (last: {value!r})")

    def type_text(self, text):
        """Types as a user does, one key at a time, into the element that has the focus."""
        for char in text:
            key = {"\r": "Enter"}.get(char, char)
            self.call("Input.dispatchKeyEvent", type="keyDown", key=key, text=char,
                      unmodifiedText=char, windowsVirtualKeyCode=13 if char == "\r" else 0)
            self.call("Input.dispatchKeyEvent", type="keyUp", key=key)

    def screenshot(self):
        """The viewport as PNG bytes."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])

    def close(self):
        try:
            self._socket.close()
        finally:
            end_process(self.proc)
            self.proc.stderr.close()
            self._profile.cleanup()
