"""The collector against a real primary and streaming replica.

Proves: both nodes report one system identifier and the right roles; the
replica's replay LSN never passes the primary's WAL LSN; samples reach a
ZeroMQ receiver in sequence at the configured cadence; a stopped primary is
reported up=false within two intervals and up again after it restarts;
a promoted replica reports primary on timeline 2; a paused replay shows as replay_paused with a stalled replay LSN;
pg_stat_statements is used when present and skipped without error when not;
broken configurations exit 2 naming the key; CURVE admits only allowed keys.
"""

import os
import subprocess
import threading
import time
import unittest

from pgvigil_harness import (PgCluster, Receiver, TestDir, binary, collect_once, collector_config,
                             start_collector, wait_for, parse_lsn)

INTERVAL_MS = 500


class CollectorClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir).start()
        cls.cfg = {
            node: collector_config(cls.dir, node + "-once.yaml", "db-" + node, cls.cluster.dsn(node))
            for node in ("primary", "replica")
        }

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop_all()
        cls.dir.remove()

    def once(self, node):
        rc, data, err = collect_once(self.cfg[node])
        self.assertEqual(rc, 0, err)
        self.assertIsNotNone(data, err)
        return data

    def test_identity_and_roles(self):
        p, r = self.once("primary"), self.once("replica")
        self.assertTrue(p["up"])
        self.assertTrue(r["up"])
        self.assertIsInstance(p["system_identifier"], str)
        self.assertEqual(p["system_identifier"], r["system_identifier"])
        expected = self.cluster.scalar("primary", "SELECT system_identifier FROM pg_control_system()")
        self.assertEqual(int(p["system_identifier"]) & 0xFFFFFFFFFFFFFFFF,
                         int(expected) & 0xFFFFFFFFFFFFFFFF)
        self.assertEqual(p["role"], "primary")
        self.assertEqual(r["role"], "replica")
        self.assertEqual(p["timeline"], 1)
        self.assertEqual(r["timeline"], 1)
        self.assertRegex(p["wal_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
        self.assertRegex(r["receive_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
        self.assertRegex(r["replay_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
        self.assertNotIn("section_errors", p)
        self.assertNotIn("section_errors", r)
        # every section of a full round on the primary
        for key in ("probe", "connections", "locks", "primary_replication", "replication_slots",
                    "databases", "checkpointer", "archiver", "wraparound", "tables", "indexes",
                    "statements"):
            self.assertIn(key, p)
        self.assertEqual(r["replica_replication"]["wal_receiver_status"], "streaming")
        standbys = p["primary_replication"]["standbys"]
        self.assertEqual([s["application_name"] for s in standbys], ["replica"])
        # what pairs a standby row with its replica: slot, sender pid, client port
        sender = self.cluster.psql("primary", "SELECT pid, client_port FROM pg_stat_replication")[0]
        self.assertEqual(standbys[0]["slot_name"], r["replica_replication"]["slot_name"])
        self.assertEqual([standbys[0]["pid"], standbys[0]["client_port"]], [int(x) for x in sender])
        # each side dates its positions, after the round began
        for sample, side in ((p, "primary_replication"), (r, "replica_replication")):
            measured, collected = int(sample[side]["measured_at_us"]), int(sample["collected_at_us"])
            self.assertTrue(collected <= measured < collected + 30 * 10**6, (collected, measured))
        slots = p["replication_slots"]["slots"]
        self.assertTrue(slots[0]["active"])
        self.assertIn("postgres", [d["datname"] for d in p["databases"]["databases"]])

    def test_replay_never_passes_primary(self):
        # a writer keeps WAL flowing while both collectors sample
        stop = threading.Event()
        errors = []

        def writer():
            try:
                while not stop.is_set():
                    self.cluster.write_load(rows=2000, table="pgvigil_replay_load")
            except Exception as e:  # reported by the test below
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        try:
            replays = []
            for i in range(8):
                primary_before = parse_lsn(self.once("primary")["wal_lsn"])
                replica = self.once("replica")
                primary_after = parse_lsn(self.once("primary")["wal_lsn"])
                replay = parse_lsn(replica["replay_lsn"])
                self.assertLessEqual(replay, primary_after)
                self.assertLessEqual(replay, parse_lsn(replica["receive_lsn"]))
                self.assertLess(primary_before, primary_after)  # WAL was being written
                replays.append(replay)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(replays, sorted(replays))
        self.assertGreater(replays[-1], replays[0])  # the replica did replay meanwhile

    def test_paused_replay_is_reported(self):
        c = self.cluster
        c.pause_replay()
        try:
            wait_for(lambda: c.scalar("replica", "SELECT pg_get_wal_replay_pause_state()") == "paused",
                     10, what="replay to pause")
            stalled = c.replay_lsn()
            c.write_load(rows=2000, table="pgvigil_pause_load")
            target = c.wal_lsn()
            wait_for(lambda: c.receive_lsn() >= target, 15, what="the replica to receive the load")
            r = self.once("replica")["replica_replication"]
            self.assertTrue(r["replay_paused"])
            self.assertEqual(parse_lsn(r["replay_lsn"]), stalled)
            self.assertGreaterEqual(parse_lsn(r["receive_lsn"]), target)
        finally:
            c.resume_replay()
        wait_for(lambda: c.replay_lsn() >= target, 15, what="replay to catch up")
        r = self.once("replica")["replica_replication"]
        self.assertFalse(r.get("replay_paused", False))
        self.assertGreaterEqual(parse_lsn(r["replay_lsn"]), target)

    def test_statements_present_with_extension(self):
        p = self.once("primary")
        self.assertIn("statements", p)
        self.assertNotIn("section_errors", p)

    def test_samples_flow_in_sequence_at_cadence(self):
        recv = Receiver(self.dir, name="recv-cadence")
        # the interval's timer alone: the watch would add a round at the
        # primary's first write after an idle spell (test_lag_truth)
        cfg = collector_config(self.dir, "cadence.yaml", "db-cadence", self.cluster.dsn("primary"),
                               [recv.endpoint], extra="interval: %dms\nwatch_interval: 0\n" % INTERVAL_MS)
        col = start_collector(self.dir, cfg, "collector-cadence")
        samples = recv.wait_for(lambda s: len(s) >= 10, 20)
        col.stop()
        self.assertEqual(col.returncode, 0, col.log_text())
        seqs = [s["sequence"] for s in samples]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        # after the first (immediate) round, rounds follow the interval
        times = [s["collected_at_us"] for s in samples[1:]]
        gaps = [(b - a) / 1000 for a, b in zip(times, times[1:])]
        # each gap near the interval (scheduling noise on a loaded CI box), and
        # on average exactly the interval: the timer does not drift
        for g in gaps:
            self.assertGreater(g, INTERVAL_MS * 0.6, gaps)
            self.assertLess(g, INTERVAL_MS * 1.4, gaps)
        self.assertAlmostEqual(sum(gaps) / len(gaps), INTERVAL_MS, delta=INTERVAL_MS * 0.05)
        self.assertTrue(all(s["up"] for s in samples))
        self.assertTrue(all(s["_envelope_node"] == "db-cadence" for s in samples))
        self.assertEqual(recv.stop(), 0, recv.process.log_text())
        self.assertIn(" 0 malformed", recv.process.log_text())

    def test_up_false_while_primary_is_down(self):
        recv = Receiver(self.dir, name="recv-down")
        cfg = collector_config(self.dir, "down.yaml", "db-down", self.cluster.dsn("primary"),
                               [recv.endpoint], extra="interval: %dms\n" % INTERVAL_MS)
        col = start_collector(self.dir, cfg, "collector-down")
        try:
            recv.wait_for(lambda s: len(s) >= 3 and all(x["up"] for x in s), 15)
            self.cluster.stop("primary", "fast")
            stopped_at_us = time.time() * 1e6
            down = recv.wait_for(lambda s: any(not x["up"] for x in s), 10)
            first_down = next(x for x in down if not x["up"])
            self.assertLess(first_down["_received_at_us"] - stopped_at_us, 2 * INTERVAL_MS * 1000 + 300000)
            self.assertIn("error", first_down)
            self.assertNotIn("password", first_down["error"])
            self.assertEqual(first_down["role"], "unknown")
            # down samples keep coming every interval while the server is away
            time.sleep(2)
            n_down = sum(1 for x in recv.samples() if not x["up"])
            self.assertGreaterEqual(n_down, 3)
        finally:
            self.cluster.start_node("primary")
        restarted_at = len(recv.samples())
        recv.wait_for(lambda s: len(s) > restarted_at and s[-1]["up"], 15)
        col.stop()
        seqs = [s["sequence"] for s in recv.samples()]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
        recv.stop()

    def test_broken_configs_exit_2_naming_the_key(self):
        cases = [
            ("node: a\nregion: eu\ndsn: x\ninterval: fast\n", "interval"),
            ("region: eu\ndsn: x\n", "node"),
            ("node: a\nregion: eu\ndsn: x\nintreval: 1s\n", "intreval"),
            ("node: a\nregion: eu\ndsn: x\naggregators: [nowhere]\n", "aggregators"),
            ("node: 'bad name'\nregion: eu\ndsn: x\n", "node"),
            ("node: a\nregion: eu\ndsn: x\nstatements: {max: lots}\n", "statements.max"),
        ]
        for text, key in cases:
            path = self.dir.file("broken.yaml", text)
            r = subprocess.run([binary("pgvigil-collector"), "-c", path, "--once", "--print"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, (text, r.stderr))
            self.assertIn(path, r.stderr)
            self.assertIn('"%s"' % key, r.stderr)
        r = subprocess.run([binary("pgvigil-collector"), "-c", "/nonexistent.yaml"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent.yaml", r.stderr)

    def test_curve_admits_only_allowed_keys(self):
        keys = self.dir.sub("keys")
        allowed = self.dir.sub("allowed")
        for name in ("server", "good", "bad"):
            subprocess.run([binary("pgvigil-collector"), "keygen", os.path.join(keys, name)],
                           check=True, stdout=subprocess.DEVNULL, timeout=10)
        os.link(os.path.join(keys, "good"), os.path.join(allowed, "good"))
        recv = Receiver(self.dir, curve_server_cert=os.path.join(keys, "server_secret"),
                        allow_dir=allowed, name="recv-curve")
        procs = []
        for name in ("good", "bad"):
            extra = ("interval: %dms\ncurve:\n  server_public_key: %s\n  client_cert: %s\n"
                     % (INTERVAL_MS, os.path.join(keys, "server"), os.path.join(keys, name + "_secret")))
            cfg = collector_config(self.dir, "curve-%s.yaml" % name, "db-curve-" + name,
                                   self.cluster.dsn("primary"), [recv.endpoint], extra=extra)
            procs.append(start_collector(self.dir, cfg, "collector-curve-" + name))
        recv.wait_for(lambda s: len(s) >= 4, 15, node="db-curve-good")
        time.sleep(1)
        self.assertEqual(recv.samples(node="db-curve-bad"), [])
        for p in procs:
            self.assertEqual(p.stop(), 0, p.log_text())
        self.assertEqual(recv.stop(), 0, recv.process.log_text())  # no leak report from ASan


class CollectorFailoverTest(unittest.TestCase):
    """After a promotion the replica reports itself primary on a new timeline,
    still with the cluster's system identifier."""

    def test_promoted_replica_reports_primary_on_new_timeline(self):
        d = TestDir()
        cluster = PgCluster(d, pg_stat_statements=False).start()
        try:
            cfg = collector_config(d, "replica.yaml", "db-replica", cluster.dsn("replica"))
            rc, before, err = collect_once(cfg)
            self.assertEqual(rc, 0, err)
            self.assertEqual((before["role"], before["timeline"]), ("replica", 1))
            cluster.stop("primary")
            cluster.promote("replica")
            wait_for(lambda: cluster.scalar("replica", "SELECT pg_is_in_recovery()") == "f", 30,
                     what="promotion")
            # the new timeline shows in pg_control_checkpoint() after the end-of-recovery checkpoint
            wait_for(lambda: (collect_once(cfg)[1] or {}).get("timeline") == 2, 30, what="timeline 2")
            rc, after, err = collect_once(cfg)
            self.assertEqual(rc, 0, err)
            self.assertEqual(after["role"], "primary")
            self.assertEqual(after["system_identifier"], before["system_identifier"])
            self.assertRegex(after["wal_lsn"], r"^[0-9A-F]+/[0-9A-F]+$")
            self.assertNotIn("replica_replication", after)
        finally:
            cluster.stop_all()
            d.remove()


class CollectorWithoutStatementsTest(unittest.TestCase):
    """A server started without pg_stat_statements: no section, no error."""

    def test_statements_absent_without_error(self):
        d = TestDir()
        cluster = PgCluster(d, replicas=0, pg_stat_statements=False).start()
        try:
            cfg = collector_config(d, "nopgss.yaml", "db-nopgss", cluster.dsn("primary"))
            rc, data, err = collect_once(cfg)
            self.assertEqual(rc, 0, err)
            self.assertTrue(data["up"])
            self.assertNotIn("statements", data)
            self.assertNotIn("section_errors", data)
            self.assertIn("tables", data)  # the stats round did run
        finally:
            cluster.stop_all()
            d.remove()


if __name__ == "__main__":
    unittest.main(verbosity=2)
