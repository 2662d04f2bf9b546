"""The test harness itself (tests/lib/pgvigil_harness.py), which every
integration test of the project relies on.

Proves: a test process killed by SIGTERM or SIGKILL, or ending on an
exception, leaves no postgres, no daemon and no temporary directory behind; the HTTP sink
records requests, answers with the configured status and comes back on the
same port after an outage; the SMTP sink records a mail sent by smtplib;
the Redis helper serves; Process reports exit status and log files.
"""

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request

from pgvigil_harness import HttpSink, Process, Redis, SmtpSink, TestDir, wait_for

CHILD_CLUSTER = """
import json, sys, time
from pgvigil_harness import PgCluster, Process, TestDir
d = TestDir()
c = PgCluster(d, replicas=0, pg_stat_statements=False).start()
p = Process(d, "sleeper", ["sleep", "600"])
with open(c.nodes["primary"].datadir + "/postmaster.pid") as f:
    pid = int(f.readline())
print(json.dumps({"dir": d.path, "postmaster": pid, "sleeper": p.proc.pid}), flush=True)
if sys.argv[1] == "raise":
    raise RuntimeError("a failing test")
time.sleep(600)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as f:  # a zombie is gone for our purpose
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


class HarnessCleanupTest(unittest.TestCase):
    def run_child(self, how):
        child = subprocess.Popen([sys.executable, "-c", CHILD_CLUSTER, how], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        try:
            info = json.loads(child.stdout.readline())
            self.assertTrue(alive(info["postmaster"]))
            self.assertTrue(os.path.isdir(info["dir"]))
            if how == "sigterm":
                child.send_signal(signal.SIGTERM)
            elif how == "sigkill":
                child.kill()
            child.wait(60)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            child.stdout.close()
            child.stderr.close()
        return child.returncode, info

    def assert_nothing_left(self, info):
        wait_for(lambda: not alive(info["postmaster"]), 10, what="postmaster to end")
        self.assertFalse(alive(info["sleeper"]))
        self.assertFalse(os.path.exists(info["dir"]))

    def test_sigterm_stops_everything(self):
        rc, info = self.run_child("sigterm")
        self.assertEqual(rc, 128 + signal.SIGTERM)
        self.assert_nothing_left(info)

    def test_sigkill_leaves_the_reaper_to_stop_everything(self):
        rc, info = self.run_child("sigkill")
        self.assertEqual(rc, -signal.SIGKILL)
        wait_for(lambda: not alive(info["postmaster"]) and not os.path.exists(info["dir"]), 30,
                 what="the reaper to stop postgres and remove the test directory")
        self.assert_nothing_left(info)

    def test_exception_stops_everything(self):
        rc, info = self.run_child("raise")
        self.assertEqual(rc, 1)
        self.assert_nothing_left(info)


class HarnessServersTest(unittest.TestCase):
    def setUp(self):
        self.dir = TestDir()

    def tearDown(self):
        self.dir.remove()

    def test_http_sink_records_answers_and_survives_an_outage(self):
        sink = HttpSink(status=200)
        req = urllib.request.Request(sink.url + "/hook", data=b'{"a":1}', method="POST",
                                     headers={"Content-Type": "application/json", "X-Test": "yes"})
        with urllib.request.urlopen(req, timeout=5) as r:
            self.assertEqual(r.status, 200)
        got = sink.wait_for_requests(1, 5, path="/hook")[0]
        self.assertEqual((got["method"], got["body"], got["headers"]["X-Test"]), ("POST", b'{"a":1}', "yes"))
        sink.status = 503
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(sink.url + "/down", timeout=5)
        self.assertEqual(e.exception.code, 503)
        sink.stop()
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen(sink.url + "/gone", timeout=5)
        sink.status = 200
        sink.start()
        with urllib.request.urlopen(sink.url + "/back", timeout=5) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual([r["path"] for r in sink.received()], ["/hook", "/down", "/back"])
        sink.stop()

    def test_smtp_sink_records_a_mail(self):
        sink = SmtpSink()
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as s:
            s.sendmail("pgvigil@example.org", ["dba@example.org"],
                       "Subject: replica lag\r\n\r\nreplica is 40 s behind\r\n.leading dot\r\n")
        mail = sink.wait_for_messages(1, 5)[0]
        self.assertIn("pgvigil@example.org", mail["from"])
        self.assertIn("<dba@example.org>", mail["to"])
        self.assertIn("Subject: replica lag", mail["data"])
        self.assertIn("\n.leading dot", mail["data"])
        sink.stop()

    def test_redis_serves(self):
        r = Redis(self.dir)
        self.assertTrue(r.ping())
        self.assertEqual(r.stop(), 0)
        self.assertFalse(r.ping())

    def test_process_status_and_logs(self):
        p = Process(self.dir, "echo", ["sh", "-c", "echo out; echo err >&2; exit 3"])
        self.assertEqual(p.wait(10), 3)
        self.assertEqual(p.stdout_text(), "out\n")
        self.assertEqual(p.log_text(), "err\n")
        stubborn = Process(self.dir, "stubborn", ["sh", "-c", "trap '' TERM; sleep 30"])
        time.sleep(0.2)
        started = time.monotonic()
        self.assertEqual(stubborn.stop(timeout=1), -signal.SIGKILL)
        self.assertLess(time.monotonic() - started, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
