"""pgvigil-test-receiver, the stand-in aggregator the collector tests rely on.

Proves, with hand-built wire messages sent by a python3-zmq DEALER (no
PostgreSQL needed): a valid [envelope][Sample] becomes one JSON line with
"_bytes", "_received_at_us" and "_envelope_node"; malformed messages (wrong
frame count, bad envelope magic, unknown type, undecodable body) are counted
on stderr and the receiver keeps going; --count and --timeout end it with
status 0; SIGTERM ends it with status 0 and a summary; bad arguments exit 2.
"""

import signal
import subprocess
import time
import unittest

import zmq

from pgvigil_harness import Process, Receiver, TestDir, binary, free_port, wait_for


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def sample_body(node, sequence, system_identifier=7302458102913460231, up=True):
    """A pgvigil.Sample with node (2), system_identifier (4), sequence (9), up (11)."""
    name = node.encode()
    return (b"\x12" + varint(len(name)) + name + b"\x20" + varint(system_identifier)
            + b"\x48" + varint(sequence) + b"\x58" + (b"\x01" if up else b"\x00"))


def envelope(node, msg_type=1, version=1):
    name = node.encode()
    return b"PV" + bytes([version, msg_type, len(name)]) + name


class ReceiverTest(unittest.TestCase):
    def setUp(self):
        self.dir = TestDir()
        self.ctx = zmq.Context()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close(linger=0)
        self.ctx.term()
        self.dir.remove()

    def dealer(self, endpoint):
        s = self.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 1000)
        s.connect(endpoint)
        self.socks.append(s)
        return s

    def test_valid_and_malformed_messages(self):
        recv = Receiver(self.dir)
        d = self.dealer(recv.endpoint)
        body = sample_body("db-eu-1", 1)
        d.send_multipart([envelope("db-eu-1"), body])
        d.send_multipart([b"just one frame"])
        d.send_multipart([b"XX\x01\x01\x01a", body])               # bad magic
        d.send_multipart([envelope("db-eu-1", msg_type=9), body])  # unknown type
        d.send_multipart([envelope("db-eu-1", version=2), body])   # unknown version
        d.send_multipart([envelope("db-eu-1"), b"\xff\xff\xff"])   # not a Sample
        d.send_multipart([envelope("db-eu-1"), body, b"extra"])    # too many frames
        d.send_multipart([envelope("db-eu-2"), sample_body("db-eu-2", 2, up=False)])
        before_us = time.time() * 1e6
        samples = recv.wait_for(lambda s: len(s) >= 2, 10)
        wait_for(lambda: recv.process.log_text().count("malformed message") >= 6, 10,
                 what="six malformed reports")
        self.assertTrue(recv.process.running(), "the receiver died on a malformed message")
        self.assertEqual(len(samples), 2)
        first, second = samples
        self.assertEqual(first["node"], "db-eu-1")
        self.assertEqual(first["_envelope_node"], "db-eu-1")
        self.assertEqual(first["sequence"], 1)
        self.assertEqual(first["system_identifier"], "7302458102913460231")
        self.assertTrue(first["up"])
        self.assertEqual(first["_bytes"], len(body))
        self.assertLess(abs(first["_received_at_us"] - before_us), 10e6)
        self.assertEqual(second["node"], "db-eu-2")
        self.assertFalse(second["up"])
        self.assertEqual(recv.stop(), 0)
        self.assertIn("2 samples, 6 malformed", recv.process.log_text())

    def test_count_ends_the_receiver(self):
        port = free_port()
        endpoint = "tcp://127.0.0.1:%d" % port
        p = Process(self.dir, "recv-count", [binary("pgvigil-test-receiver"), "--bind", endpoint,
                                             "--count", "3", "--timeout", "30"])
        wait_for(lambda: "listening" in p.log_text(), 10, what="receiver to bind")
        d = self.dealer(endpoint)
        for seq in range(1, 6):
            d.send_multipart([envelope("n1"), sample_body("n1", seq)])
        self.assertEqual(p.wait(10), 0)
        lines = p.stdout_text().splitlines()
        self.assertEqual(len(lines), 3)

    def test_timeout_ends_the_receiver(self):
        started = time.monotonic()
        r = subprocess.run([binary("pgvigil-test-receiver"), "--bind", "tcp://127.0.0.1:%d" % free_port(),
                            "--timeout", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=20)
        elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 10)
        self.assertIn("0 samples, 0 malformed", r.stderr)

    def test_sigterm_exits_cleanly(self):
        recv = Receiver(self.dir)
        recv.process.signal(signal.SIGTERM)
        self.assertEqual(recv.process.wait(10), 0)
        self.assertIn("0 samples", recv.process.log_text())

    def test_bad_arguments_exit_2(self):
        exe = binary("pgvigil-test-receiver")
        for argv in ([exe], [exe, "--bind", "tcp://127.0.0.1:1", "--count", "many"],
                     [exe, "--bind", "tcp://127.0.0.1:1", "--curve-server-cert", "/x"],
                     [exe, "--bind", "tcp://127.0.0.1:1", "stray"]):
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, argv)
            self.assertIn("usage", r.stderr)
        r = subprocess.run([exe, "--bind", "not-an-endpoint"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not-an-endpoint", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
