"""Both daemons' command lines and start-up validation, run as an operator
would: --help lists every subcommand, --version, check-config exits 0 or 2
naming file, line and key; a daemon started with a missing CURVE
certificate, allow-list directory or spool directory, or a zero duration,
exits 2 with the key named, before it binds anything; SIGHUP re-validates
without stopping (a broken file is refused and logged, the daemon keeps
running)."""

import os
import signal
import subprocess
import time
import unittest
import urllib.request

from pgvigil_harness import Process, TestDir, binary, free_port, wait_for

AGG, COL = "pgvigil-aggregator", "pgvigil-collector"


def run(argv, timeout=30):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.keys = cls.dir.sub("keys")
        for name in ("agg", "col"):
            r = run([binary(AGG if name == "agg" else COL), "keygen", os.path.join(cls.keys, name)])
            assert r.returncode == 0, r.stderr
        cls.allowed = cls.dir.sub("allowed")
        cls.spool = cls.dir.sub("spool")

    @classmethod
    def tearDownClass(cls):
        cls.dir.remove()

    def listen(self):
        return "listen:\n  ingest: [tcp://127.0.0.1:%d]\n  http: 127.0.0.1:%d\n" % (free_port(), free_port())

    def test_help_and_version(self):
        for exe, subs in ((AGG, ("check-config", "keygen", "token")), (COL, ("check-config", "keygen"))):
            r = run([binary(exe), "--help"])
            self.assertEqual(r.returncode, 0, r.stderr)
            for sub in subs + ("--config", "--log-level", "--version", "Exit status"):
                self.assertIn(sub, r.stdout, exe)
            r = run([binary(exe), "--version"])
            self.assertEqual(r.returncode, 0)
            self.assertRegex(r.stdout, r"^%s \d+\.\d+\.\d+\n$" % exe)
            r = run([binary(exe), "--no-such-option"])
            self.assertEqual(r.returncode, 2)
            self.assertIn("check-config FILE", r.stderr)
            r = run([binary(exe), "check-config"])
            self.assertEqual(r.returncode, 2)

    def test_check_config(self):
        good = self.dir.file("good.yaml", self.listen())
        r = run([binary(AGG), "check-config", good])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "%s: configuration is valid" % good))
        bad = self.dir.file("bad.yaml", self.listen() + "flapping:\n  transitions: 3\n  window: 0s\n")
        r = run([binary(AGG), "check-config", bad])
        self.assertEqual(r.returncode, 2)
        self.assertIn('%s:6: key "flapping.window": expected at least 1s' % bad, r.stderr)
        col = self.dir.file("col.yaml", "node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://a:1]\n"
                                        "lock_timeout: 0ms\n")
        r = run([binary(COL), "check-config", col])
        self.assertEqual(r.returncode, 2)
        self.assertIn('%s:5: key "lock_timeout"' % col, r.stderr)
        r = run([binary(COL), "check-config", self.dir.path + "/absent.yaml"])
        self.assertEqual(r.returncode, 2)
        self.assertIn("could not open", r.stderr)

    def expect_start_refused(self, exe, text, key):
        path = self.dir.file("start.yaml", text)
        r = run([binary(exe), "-c", path], timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('key "%s"' % key, r.stderr)
        self.assertIn(path + ":", r.stderr)

    def test_start_refuses_missing_files(self):
        secret, missing = os.path.join(self.keys, "agg_secret"), os.path.join(self.dir.path, "missing")
        curve = "curve:\n  server_cert: %s\n  allow_dir: %s\n"
        self.expect_start_refused(AGG, self.listen() + curve % (missing, self.allowed), "curve.server_cert")
        self.expect_start_refused(AGG, self.listen() + curve % (secret, missing), "curve.allow_dir")
        self.expect_start_refused(AGG, self.listen() + "storage:\n  dsn: host=127.0.0.1\n  spool_dir: %s\n" % missing,
                                  "storage.spool_dir")
        self.expect_start_refused(AGG, self.listen() + "delivery: {give_up_after: 0s}\n", "delivery.give_up_after")
        self.expect_start_refused(AGG, self.listen() + "delivery: {breaker_cooldown: 0s}\n", "delivery.breaker_cooldown")
        col = "node: db-1\nregion: eu\ndsn: host=x\naggregators: [tcp://127.0.0.1:1]\n"
        self.expect_start_refused(COL, col + "curve:\n  server_public_key: %s\n  client_cert: %s\n"
                                  % (os.path.join(self.keys, "agg"), missing), "curve.client_cert")
        self.expect_start_refused(COL, col + "curve:\n  server_public_key: %s\n  client_cert: %s\n"
                                  % (missing, os.path.join(self.keys, "col_secret")), "curve.server_public_key")

    def test_sighup_revalidates_and_keeps_running(self):
        http = free_port()
        text = "listen:\n  ingest: [tcp://127.0.0.1:%d]\n  http: 127.0.0.1:%d\n" % (free_port(), http)
        path = self.dir.file("hup.yaml", text)
        agg = Process(self.dir, "aggregator-hup", [binary(AGG), "-c", path])
        try:
            base = "http://127.0.0.1:%d" % http

            def healthy():
                try:
                    with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                        return r.status == 200
                except OSError:
                    return False

            wait_for(healthy, 15, what="aggregator")
            for _ in range(5):  # a signal to any thread must not stop an actor
                agg.signal(signal.SIGHUP)
                time.sleep(0.1)
            wait_for(lambda: agg.log_text().count("is valid") >= 1, 10, what="the SIGHUP verdict")
            with open(path, "a") as f:
                f.write("delivery: {breaker_cooldown: 0s}\n")
            agg.signal(signal.SIGHUP)
            wait_for(lambda: "delivery.breaker_cooldown" in agg.log_text(), 10, what="the refusal logged")
            self.assertTrue(healthy(), agg.log_text())
            self.assertTrue(agg.running())
        finally:
            self.assertEqual(agg.stop(), 0, agg.log_text())

    def test_collector_sighup_keeps_running(self):
        path = self.dir.file("col-hup.yaml", "node: db-hup\nregion: eu\ndsn: \"host=127.0.0.1 port=%d\"\n"
                                             "aggregators: [tcp://127.0.0.1:%d]\n" % (free_port(), free_port()))
        col = Process(self.dir, "collector-hup", [binary(COL), "-c", path])
        try:
            wait_for(lambda: "collecting from" in col.log_text(), 15, what="the collector")
            for _ in range(5):
                col.signal(signal.SIGHUP)
                time.sleep(0.1)
            wait_for(lambda: col.log_text().count("SIGHUP") == 5, 10, what="five SIGHUPs answered")
            self.assertTrue(col.running(), col.log_text())
        finally:
            self.assertEqual(col.stop(), 0, col.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
