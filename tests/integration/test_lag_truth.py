"""Replication lag against direct LSN truth, on a real primary and a replica
made with pg_basebackup -R (so it calls itself "walreceiver").

Truth (tests/lib/pgvigil_lagtruth.py): bytes = primary pg_current_wal_lsn()
- replica pg_last_wal_replay_lsn(); seconds = time since the primary's WAL
first went beyond that replay position (the primary polled every 0.1 s).

Proves:
  - the primary's own view (primary_replay_lag_seconds) is there for such a
    replica, paired by its replication slot, not by name;
  - idle, then a blocked stream (WAL sender stopped) and a small write the
    replica never gets: lag seconds stay within 0.5 s of the truth, where
    counting from when the primary reached the replay position read the
    whole idle spell;
  - the replica's collector restarted with its clock at +7 s, back at true
    time, then at -7 s (libfaketime), during a replay pause under load: from
    the first sample after each restart, seconds within 0.5 s and bytes
    within 10% (or 64 kB) of the truth, and the offset shown is the new one;
    the event stream's lag of the paused replica grows with the clock;
  - a replay pause reaches the API within 600 ms of pg_wal_replay_pause(),
    with the collector's interval at 1 s: the replica watch (watch_interval,
    250 ms by default) starts a round when it sees the pause, where waiting
    for the next round took up to the whole interval;
  - the primary's first write after an idle spell, at a random point of its
    collector's 1 s interval and kept from the replica: once the replica has
    sampled since, the lag seconds are within 0.25 s of the truth. The
    primary's watch places the write after the spell it saw the WAL stand
    still; without it the write was placed halfway through the interval
    (up to 0.5 s off);
  - while the replica's replay is paused, the primary's collector (1 s
    interval) sends a round at every watch tick (about 4 a second; the
    aggregator asks it to), and back to one a second after the pause;
  - with the primary stopped the WAL receiver state is a named one, never "".
"""

import json
import os
import random
import signal
import time
import unittest
import urllib.request

from pgvigil_harness import (PgCluster, Process, TestDir, Writer, binary, collector_config, free_port, shut_down,
                             wait_for)
from pgvigil_lagtruth import Session, WalHistory, faketime_env, truth

INTERVAL = "500ms"
RECEIVER_STATES = ("no receiver", "stopped", "starting", "waiting", "restarting", "stopping", "streaming")


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class LagTruthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, replicas=0, pg_stat_statements=False).start()
        cls.cluster.add_replica("replica", named=False)
        cls.ingest = "tcp://127.0.0.1:%d" % free_port()
        http = free_port()
        cls.base = "http://127.0.0.1:%d" % http
        cfg = cls.dir.file("aggregator.yaml", "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\n" % (cls.ingest, http))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: http_ok(cls.base + "/healthz"), 15, what="aggregator HTTP")
        cls.collectors = {}
        for node in ("primary", "replica"):
            cls.start_collector(node)
        cls.primary = Session(cls.cluster.port("primary"))
        cls.replica = Session(cls.cluster.port("replica"))
        cls.history = WalHistory(cls.cluster.port("primary"))
        cls.history.start()
        wait_for(lambda: cls.lag() and cls.lag().get("bytes") is not None, 20, what="the replica's lag")

    @classmethod
    def tearDownClass(cls):
        cls.history.stop()
        for s in (cls.primary, cls.replica):
            s.close()
        shut_down(cls.dir, cls.cluster, cls.agg, list(cls.collectors.values()))

    @classmethod
    def start_collector(cls, node, shift=None, interval=INTERVAL):
        old = cls.collectors.pop(node, None)
        if old:
            old.stop()
        cfg = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [cls.ingest],
                               extra="interval: %s\n" % interval)
        cls.collectors[node] = Process(cls.dir, "collector-%s%s" % (node, shift or ""),
                                       [binary("pgvigil-collector"), "-c", cfg],
                                       env=faketime_env(shift) if shift else None)

    @classmethod
    def node(cls, name="replica"):
        return get_json(cls.base + "/api/v1/nodes/" + name)["node"]

    @classmethod
    def lag(cls):
        try:
            return cls.node().get("lag")
        except OSError:
            return None

    def compare(self, seconds, what, bytes_too=False):
        """Probe every 0.25 s for `seconds`: the API against the truth."""
        end, probes = time.monotonic() + seconds, []
        while time.monotonic() < end:
            t, truth_bytes, truth_seconds = truth(self.primary, self.replica, self.history)
            lag = self.lag()
            probes.append((round(truth_seconds, 2), lag["seconds"] and round(lag["seconds"], 2), truth_bytes,
                           lag["bytes"]))
            time.sleep(0.25)
        for truth_s, api_s, truth_b, api_b in probes:
            self.assertLessEqual(abs(api_s - truth_s), 0.5, "%s: seconds (truth, api, truth bytes, api bytes) %s"
                                 % (what, probes))
            if bytes_too:
                self.assertLessEqual(abs(api_b - truth_b), max(0.1 * truth_b, 65536),
                                     "%s: bytes (truth, api, truth bytes, api bytes) %s" % (what, probes))
        return probes

    def stream_events(self, count):
        """(arrival time, data) of the next count events of /api/v1/stream."""
        events = []
        with urllib.request.urlopen(self.base + "/api/v1/stream", timeout=10) as r:
            while len(events) < count:
                line = r.readline().decode()
                if line.startswith("data: "):
                    events.append((time.monotonic(), json.loads(line[6:])))
        return events

    def test_1_primary_view_of_a_basebackup_replica(self):
        standbys = self.cluster.psql("primary", "SELECT application_name FROM pg_stat_replication")
        self.assertEqual(standbys, [["walreceiver"]])
        lag = wait_for(lambda: (lambda x: x if x and x.get("primary_replay_lag_seconds") is not None else None)(
            self.lag()), 10, what="primary_replay_lag_seconds")
        self.assertEqual(lag["primary_view_paired_by"], "slot")
        self.assertEqual(lag["wal_receiver_status"], "streaming")
        for key in ("receive_seconds", "estimated", "apply_bytes", "receive_bytes"):
            self.assertIn(key, lag)
        self.assertEqual(lag["bytes"], lag["receive_bytes"] + lag["apply_bytes"])

    def test_2_idle_then_stall(self):
        wait_for(lambda: self.lag()["bytes"] == 0 and self.lag()["seconds"] == 0, 15, what="an idle, caught-up pair")
        time.sleep(5)  # the primary idles at the replica's position
        pid = int(self.cluster.scalar("primary", "SELECT pid FROM pg_stat_replication"))
        os.kill(pid, signal.SIGSTOP)  # the stream blocks between the hosts
        try:
            self.primary.query("CREATE TABLE stall (payload text); INSERT INTO stall SELECT repeat('s', 1100)")
            time.sleep(1.0)
            probes = self.compare(3, "idle then stall")
            self.assertGreater(probes[-1][0], 3.0, probes)  # the truth did grow: the stream was blocked
        finally:
            os.kill(pid, signal.SIGCONT)
        wait_for(lambda: self.lag()["bytes"] == 0, 15, what="catch-up after the stall")

    def test_3_collector_clock_shifts_during_a_pause(self):
        writer = Writer(lambda: self.primary.query(
            "CREATE TABLE IF NOT EXISTS load (payload text); INSERT INTO load SELECT repeat('x', 200) "
            "FROM generate_series(1, 50)"), interval=0.05)
        try:
            time.sleep(2)
            self.cluster.pause_replay()
            time.sleep(2)
            for shift, offset_s in (("+7", 7.0), (None, 0.0), ("-7", -7.0)):
                before = self.node()["ingest"]["restarts"]
                self.start_collector("replica", shift)
                wait_for(lambda: self.node()["ingest"]["restarts"] > before, 15,
                         what="the first sample of the collector at %s s" % (shift or "0"))
                node = self.node()
                self.assertLess(abs(node["clock_offset_ms"] / 1000.0 - offset_s), 0.5, node)
                self.assertTrue(node["lag"]["replay_paused"])
                self.compare(3, "collector clock %s s" % (shift or "0"), bytes_too=True)
            # the stream shows the same lag, moving with the clock between samples
            events = self.stream_events(4)
            lags = [(t, next(n["lag"]["seconds"] for c in e["clusters"] for n in c["nodes"] if n["node"] == "replica"))
                    for t, e in events]
            for (t0, s0), (t1, s1) in zip(lags, lags[1:]):
                self.assertLess(abs((s1 - s0) - (t1 - t0)), 0.5, lags)
        finally:
            self.cluster.resume_replay()
            writer.stop()
        wait_for(lambda: self.lag()["bytes"] < 65536, 20, what="catch-up after the pause")

    def paused_shown(self, paused, timeout):
        """Wait until the API's replay_paused reads paused (polled every 20 ms)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lag = self.lag()
            if lag and lag.get("replay_paused") is paused:
                return
            time.sleep(0.02)
        self.fail("replay_paused did not read %s within %s s: %s" % (paused, timeout, self.lag()))

    def test_4_pause_is_seen_within_the_watch(self):
        before = self.node()["ingest"]["restarts"]
        self.start_collector("replica", interval="1s")
        wait_for(lambda: self.node()["ingest"]["restarts"] > before, 15, what="the collector at a 1 s interval")
        self.paused_shown(False, 5)
        delays = []
        try:
            for _ in range(5):
                time.sleep(1 + random.uniform(0, 1))  # anywhere within the collector's interval
                start = time.monotonic()
                self.replica.query("SELECT pg_wal_replay_pause()")
                self.paused_shown(True, 5)
                delays.append(round(time.monotonic() - start, 3))
                self.replica.query("SELECT pg_wal_replay_resume()")
                self.paused_shown(False, 5)
        finally:
            self.cluster.resume_replay()
        print("pause to replay_paused in the API, s: %s" % delays, flush=True)
        self.assertLess(max(delays), 0.6, "seconds from pg_wal_replay_pause() to replay_paused in the API: %s"
                        % delays)

    def test_5_first_write_after_idle_is_placed(self):
        before = self.node("primary")["ingest"]["restarts"]
        self.start_collector("primary", interval="1s")
        wait_for(lambda: self.node("primary")["ingest"]["restarts"] > before, 15,
                 what="the primary's collector at a 1 s interval")
        trials = []
        for _ in range(5):
            wait_for(lambda: self.lag()["bytes"] == 0 and self.lag()["seconds"] == 0, 15,
                     what="an idle, caught-up pair")
            time.sleep(1.5 + random.uniform(0, 1))  # idle; the write falls anywhere within an interval
            pid = int(self.cluster.scalar("primary", "SELECT pid FROM pg_stat_replication"))
            os.kill(pid, signal.SIGSTOP)  # the replica gets nothing of it
            try:
                self.primary.query("CREATE TABLE IF NOT EXISTS resumed (payload text); "
                                   "INSERT INTO resumed SELECT repeat('r', 500)")
                wrote, probes = time.monotonic(), []
                # the replica (1 s interval since test 4) has sampled twice since
                for after in (2.25, 2.5, 2.75):
                    time.sleep(max(0, wrote + after - time.monotonic()))
                    _, _, truth_s = truth(self.primary, self.replica, self.history)
                    probes.append((round(truth_s, 2), round(self.lag()["seconds"], 2)))
                trials.append(probes)
            finally:
                os.kill(pid, signal.SIGCONT)
            wait_for(lambda: self.lag()["bytes"] == 0, 15, what="catch-up after the stall")
        print("first write after idle, (truth, api) seconds 2.25/2.5/2.75 s after it: %s" % trials, flush=True)
        for probes in trials:
            for truth_s, api_s in probes:
                self.assertGreater(truth_s, 1.0, trials)  # the stream was blocked
                self.assertLessEqual(abs(api_s - truth_s), 0.25, "(truth, api) seconds: %s" % trials)

    def test_6_primary_is_followed_closely_during_a_pause(self):
        def rate(seconds):
            before, start = self.node("primary")["ingest"]["received"], time.monotonic()
            time.sleep(seconds)
            return (self.node("primary")["ingest"]["received"] - before) / (time.monotonic() - start)
        time.sleep(6)  # fast rounds the stalls of test 5 asked for run out
        calm = rate(3)
        self.cluster.pause_replay()
        try:
            self.paused_shown(True, 5)
            lag = self.lag()  # moves with the clock, read at the request's instant
            self.assertTrue(lag.get("moving"), lag)
            self.assertLess(abs(lag["as_of_us"] / 1e6 - time.time()), 1.0, lag)
            self.assertEqual(lag["bytes"], lag["receive_bytes"] + lag["apply_bytes"], lag)
            paused = rate(4)
        finally:
            self.cluster.resume_replay()
        self.paused_shown(False, 5)
        self.assertNotIn("moving", self.lag())
        time.sleep(6)  # the last request (5 s) runs out
        after = rate(3)
        print("primary samples/s: before %.2f, replica paused %.2f, after %.2f" % (calm, paused, after), flush=True)
        self.assertLess(calm, 1.7)
        self.assertGreater(paused, 2.5)  # a round every watch tick (250 ms)
        self.assertLess(after, 1.7)

    def test_7_receiver_state_is_named(self):
        self.cluster.stop("primary")
        state = wait_for(lambda: (lambda x: x if x and x.get("wal_receiver_status") != "streaming" else None)(
            self.lag()), 20, what="a WAL receiver that no longer streams")["wal_receiver_status"]
        self.assertIn(state, RECEIVER_STATES)


if __name__ == "__main__":
    unittest.main(verbosity=2)
