"""No connection can make libzmq abort the aggregator, and backpressure
with history refuses samples instead of stopping the socket.

libzmq 4.3.4 aborts the whole process (stream_engine_base.cpp,
"!_io_error") when a connection whose input it stopped (its queue at the
receive high-water mark) is reset by its peer while a heartbeat PING sits in
its read buffer, and input later resumes. The aggregator had a high-water
mark of 10 messages per connection: a peer speaking ZMTP by hand killed it
with one burst of messages and PINGs followed by a reset, within two
tries; and when the history spool was full ingest stopped reading, so any
collector dropping its connection then (its heartbeats go unanswered after
3 s) could do the same. Now the ROUTER has no high-water mark, ingest
reads all the time and sheds what it cannot keep up with; with history,
samples it cannot take are refused (Ack.resend_from) and the collectors
send them again later.
"""

import os
import socket
import struct
import subprocess
import time
import unittest

from faultlib import FaultStack, SmallTmpfs, metric
from pgvigil_harness import Process, TestDir, binary, free_port, wait_for

NODES, RATE, LOAD_S = 20, 400, 40


def zmtp_frame(flags, body):
    if len(body) < 256:
        return bytes([flags, len(body)]) + body
    return bytes([flags | 0x02]) + struct.pack(">Q", len(body)) + body


def hostile_burst(port, messages=16, linger=0.5):
    """A ZMTP 3.0 DEALER by hand: NULL handshake, then in one write more
    messages than the aggregator's per-connection queue used to hold, with
    a PING after each of the later ones, then a reset (after `linger`)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\0") + b"\0" * 32)
    ready = b"\x05READY" + bytes([11]) + b"Socket-Type" + struct.pack(">I", 6) + b"DEALER"
    s.sendall(zmtp_frame(0x04, ready))
    s.recv(64)  # the aggregator's greeting
    time.sleep(0.2)
    burst = b""
    for i in range(messages):
        burst += zmtp_frame(0x01, b"\x01\x01hostile") + zmtp_frame(0x00, b"not a sample %d" % i)
        if i >= 6:
            burst += zmtp_frame(0x04, b"\x04PING\x00\x00")
    s.sendall(burst)
    time.sleep(linger)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class HostileBurstTest(unittest.TestCase):
    def test_bursts_of_pings_then_resets_do_not_abort(self):
        d = TestDir()
        port, http = free_port(), free_port()
        cfg = d.file("agg.yaml", "listen:\n  ingest: [tcp://127.0.0.1:%d]\n  http: 127.0.0.1:%d\n" % (port, http))
        base = "http://127.0.0.1:%d" % http
        agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        try:
            wait_for(lambda: metric(base, "pgvigil_ingest_received_total") is not None, 30, what="aggregator up")
            for i in range(100):
                try:
                    hostile_burst(port, messages=400, linger=0)
                except OSError:
                    pass  # a connection may be reset; the aggregator must live on
                self.assertTrue(agg.running(), "died at burst %d:\n%s" % (i, agg.log_text()[-2000:]))
            time.sleep(1)
            self.assertTrue(agg.running(), agg.log_text()[-2000:])
            received = metric(base, "pgvigil_ingest_received_total")
            print("100 bursts of 400 messages and PINGs, each reset at once: alive, %d messages read" % received)
            self.assertGreater(received, 0)
        finally:
            code = agg.stop()
            d.remove()
        self.assertEqual(code, 0)


@unittest.skipUnless(os.geteuid() == 0, "mounting the small tmpfs needs root")
class IngestRefusalTest(unittest.TestCase):
    def setUp(self):
        self.tmpfs = SmallTmpfs("256k")
        self.addCleanup(self.tmpfs.unmount)

    def test_full_spool_refuses_survives_hostile_peers_and_loses_nothing(self):
        st = FaultStack(collectors=2, memory_rows=100, spool_dir=self.tmpfs.path)
        load = None
        try:
            st.start_aggregator()
            st.start_collectors()
            load = subprocess.Popen([binary("pgvigil-ingest-load"), "--acked", "--endpoint", st.ingest,
                                     "--nodes", str(NODES), "--rate", str(RATE), "--seconds", str(LOAD_S)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: (metric(st.base, "pgvigil_store_samples_durable_total") or 0) > 200, 30,
                     what="samples stored")
            st.history(False)
            wait_for(lambda: metric(st.base, "pgvigil_store_backpressure") == 1, 60, what="a full spool")
            for _ in range(4):
                hostile_burst(st.ingest_port)
            time.sleep(3)
            refused = metric(st.base, "pgvigil_ingest_refused_total")
            print("spool full: %d samples refused so far" % refused)
            self.assertGreater(refused, 0)
            st.history(True)
            wait_for(lambda: metric(st.base, "pgvigil_store_backpressure") == 0, 60, what="the spool draining")
            time.sleep(3)  # ingest has been reading the hostile connections' queues again
            self.assertTrue(st.agg.running(), st.agg.log_text()[-3000:])
            out, err = load.communicate(timeout=LOAD_S + 120)
            self.assertEqual(load.returncode, 0, err)
            time.sleep(2)
            real = st.stop_collectors()
            made = st.load_made(self, out, NODES)
            made.update(real)
            st.nodes = sorted(made)
            st.wait_drained()
            st.assert_exact(self, made)
            self.assertTrue(st.agg.running(), st.agg.log_text()[-3000:])
            print("%d samples through a full spool and hostile peers: all stored once"
                  % sum(v[0] for v in made.values()))
        finally:
            codes = st.close(load)
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
