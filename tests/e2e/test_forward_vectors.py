"""Recorded esptool.py sessions (tests/vectors) replayed through `ttynet forward` in front of
`ttynet serve --esp` on the simulated chip: every reply the tool sees is the one the chip gave
when the session was recorded, blocks are answered ahead, and a chip that keeps failing a block
ends the session with the chip's status, never with a good MD5.

esptool itself is no Debian package, so CI cannot run it; trace_replay.py sends its recorded
requests the way it does (see there)."""

import os
import re
import unittest
from concurrent.futures import ThreadPoolExecutor

import serial

from esp_connect import LatencyProxy
from support import Forward, Server
from trace_replay import Replay, Stopped, parse_trace, steps

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vectors")
ANSWERED_RE = (r"closing: (\d+) SYNCs answered here, (\d+) replies given ahead "
               r"\((\d+) register writes\), (\d+) confirmed")


def read_trace(name):
    with open(os.path.join(VECTORS, name), encoding="ascii") as file:
        return parse_trace(file.read())


class ForwardedSession:
    """serve --esp on the trace's chip (with extra sim options), optionally behind a latency
    proxy, and forward in front; a pyserial rfc2217:// client on forward, as esptool opens it."""

    def __init__(self, trace_name, sim_options="", delay=0.0, raw=False):
        self.url, self.events = read_trace(trace_name)
        if sim_options:
            self.url += ("&" if "?" in self.url else "?") + sim_options
        self.dialect = "v4" if trace_name.startswith("v4") else "v5"
        self.server = Server("--esp", self.url)
        self.proxy = LatencyProxy(self.server.port, delay) if delay else None
        far_port = self.proxy.port if self.proxy else self.server.port
        raw_args = ["--raw"] if raw else []
        self.forward = Forward(f"rfc2217://127.0.0.1:{far_port}", "-v", *raw_args)
        # esptool over socket:// can neither reset the chip nor change the baud: forward does.
        url = self.forward.url("socket") if raw else self.forward.url(options="?ign_set_control")
        self.port = serial.serial_for_url(url, timeout=3)
        self.replay = Replay(self.port, self.dialect)

    def run(self):
        self.replay.run(steps(self.events))

    def close(self):
        """Closes the tool's port, stops everything, and returns forward's closing counts."""
        self.port.close()
        counts = self.forward.wait_for_log(ANSWERED_RE, 10)
        self.forward.stop()
        if self.proxy:
            self.proxy.stop()
        self.server.stop()
        return [int(counts.group(i)) for i in (1, 2, 4, 3)]


def replay(trace_name, **options):
    """Runs one session through; its replay, forward's closing counts (SYNCs answered, replies
    given ahead, confirmed, register writes among those given ahead) and forward's log."""
    session = ForwardedSession(trace_name, **options)
    try:
        session.run()
    finally:
        counts = session.close()
    return session.replay, counts, session.forward.lines


# Sessions mostly wait (on the chip, the network, esptool's pauses): four at a time.
PARALLEL_SESSIONS = 4


class ForwardReplaysRecordedSessions(unittest.TestCase):
    def replay_all(self, names, **options):
        """Replays every named session, several at a time; per name forward's counts and log."""
        with ThreadPoolExecutor(PARALLEL_SESSIONS) as pool:
            results = dict(zip(names, pool.map(lambda name: replay(name, **options), names)))
        counts = {}
        for name, (done, name_counts, log) in results.items():
            with self.subTest(name):
                self.assertEqual(done.mismatches, [])
                self.assertGreater(done.requests, 5)
                self.assertGreaterEqual(name_counts[0], 1)  # SYNC answered here
                self.assertEqual(name_counts[1], name_counts[2])  # every early reply confirmed
            counts[name] = (name_counts, log)
        return counts

    def test_every_recorded_session_at_loopback(self):
        names = sorted(n for n in os.listdir(VECTORS) if n.endswith(".trace") and "paced" not in n)
        self.assertGreater(len(names), 30)
        self.replay_all(names)

    def test_blocks_are_answered_ahead_across_200_ms(self):
        # esptool.py alone cannot even connect from about 100 ms. At most every block but the
        # last is answered ahead, and the stub's MEM_END; the strict chip (pace=1) takes its
        # time for each. Register writes (setting up each SPI flash command) are answered
        # ahead too, in the value the loader leaves in them: the replay checks every byte.
        most = {"v4.8.1-esp32-write-large.trace": 9, "v5.3.1-esp32-write-large.trace": 8,
                "v4.8.1-esp32-write-no-stub.trace": 7, "v5.3.1-esp32-write-paced.trace": 1}
        counts = self.replay_all(list(most), delay=0.1)
        for name, ((_, ahead, _, registers), _) in counts.items():
            with self.subTest(name):
                self.assertGreater(registers, 0)
                self.assertGreater(ahead - registers, 0)
                self.assertLessEqual(ahead - registers, most[name])

    def test_reads_do_not_wait_a_round_trip_per_packet_across_200_ms(self):
        # The stub's READ_FLASH: the tool's acknowledgements are dropped and the far server
        # gives its own, so the stub streams. The ROM's READ_FLASH_SLOW: read ahead, and the
        # tool's requests answered with the replies. Either way the chip's replies, and the
        # stub's digest over the data, are unchanged.
        counted = {"v4.8.1-esp32-read.trace": r"(\d+) reads streamed",
                   "v5.3.1-esp32-read.trace": r"(\d+) reads streamed",
                   "v4.8.1-esp32-read-no-stub.trace": r"(\d+) slow reads read ahead",
                   "v5.3.1-esp32-read-no-stub.trace": r"(\d+) slow reads read ahead"}
        for name, (_, log) in self.replay_all(list(counted), delay=0.1).items():
            closing = next((line for line in log if "closing:" in line), "")
            count = re.search(counted[name], closing)
            self.assertIsNotNone(count, f"{name}: {closing}")
            self.assertGreaterEqual(int(count.group(1)), 1, f"{name}: {closing}")

    def test_the_raw_front_resets_and_follows_baud_changes_for_the_tool(self):
        # The chip garbles what comes at another baud than its own: 460800 has to reach the
        # port right after CHANGE_BAUDRATE's reply.
        faster = ["v4.8.1-esp32-write-460800.trace", "v5.3.1-esp32-write-460800.trace"]
        results = self.replay_all([*faster, "v5.3.1-esp32-write-large.trace",
                                   "v4.8.1-esp32-flash-id-no-stub.trace"], raw=True, delay=0.1)
        for name in faster:
            log = results[name][1]
            self.assertTrue(any("the chip now talks at 460800 baud" in line for line in log), name)

    def test_a_transient_block_failure_is_sent_again_unseen(self):
        # The ROM programs a block before it answers, so its failure names that block, and
        # sending it again repairs it. (The stubs report a block's failure with a later reply.)
        session = ForwardedSession("v4.8.1-esp32-write-no-stub.trace", sim_options="fail_block=2",
                                   delay=0.05)
        try:
            session.run()
        finally:
            session.close()
        self.assertEqual(session.replay.mismatches, [])
        session.forward.wait_for_log(r"FLASH_DATA block 2: status 01 08; sending it again", 1)

    def test_a_block_the_rom_keeps_failing_fails_the_session_with_its_status(self):
        for name in ("v4.8.1-esp32-write-no-stub.trace", "v5.3.1-esp32-write-no-stub.trace"):
            with self.subTest(name):
                session = ForwardedSession(name, sim_options="fail_block=2&fail_always=1",
                                           delay=0.05)
                try:
                    with self.assertRaises(Stopped) as stopped:
                        session.run()
                finally:
                    session.close()
                self.assertIn("failed with status 0108", str(stopped.exception))
                session.forward.wait_for_log(r"every further reply to the tool fails", 1)

    def test_a_block_a_stub_keeps_failing_never_verifies(self):
        # A stub reports a block's failure with the next block's reply: sending that one again
        # passes, and the MD5 then tells, as it does for esptool on a local port.
        for name in ("v4.8.1-esp32-write-large.trace", "v5.3.1-esp32-write-large.trace"):
            with self.subTest(name):
                session = ForwardedSession(name, sim_options="fail_block=2&fail_always=1")
                outcome = ""
                try:
                    session.run()
                except Stopped as stopped:
                    outcome = str(stopped)
                finally:
                    session.close()
                bad_md5 = any(m.startswith("op 0x13") for m in session.replay.mismatches)
                self.assertTrue("failed with status" in outcome or bad_md5,
                                f"{outcome} {session.replay.mismatches}")


if __name__ == "__main__":
    unittest.main()
