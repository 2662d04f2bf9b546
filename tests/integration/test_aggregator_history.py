"""History: two aggregators (an HA pair) write the samples of a real primary
and replica into one partitioned history database.

Proves: migrations are applied once by the pair (advisory lock); rows land
in the daily partition of their UTC day; a sample delivered to both
aggregators is stored once; an expired partition is dropped; stopping the
history database for 30 s while samples flow leaves, once it is back,
exactly one row per sample sent: no gaps, no duplicates.
"""

import json
import os
import time
import unittest
import urllib.error
import urllib.request

from pgvigil_base import metric
from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port,
                             start_collector, wait_for)

OUTAGE_S = 30




class HistoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir).start()
        cls.history = PgCluster(cls.dir.__class__(prefix="pgvigil-history-"), replicas=0,
                                pg_stat_statements=False).start()
        cls.history.psql("primary", "CREATE DATABASE pgvigil")
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.history.port("primary")
        cls.aggs, cls.bases, endpoints = [], [], []
        for i in range(2):
            ingest = "tcp://127.0.0.1:%d" % free_port()
            http = free_port()
            spool = cls.dir.sub("spool%d" % i)
            cfg = cls.dir.file("agg%d.yaml" % i,
                               "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nstale_intervals: 10\n"
                               "storage:\n  dsn: \"%s\"\n  retention_days: 7\n  spool_dir: %s\n"
                               "  memory_rows: 100\n  maintenance_interval: 2s\n"
                               % (ingest, http, dsn, spool))
            cls.aggs.append(Process(cls.dir, "aggregator%d" % i, [binary("pgvigil-aggregator"), "-c", cfg]))
            cls.bases.append("http://127.0.0.1:%d" % http)
            endpoints.append(ingest)
        for base in cls.bases:
            wait_for(lambda: metric(base, "pgvigil_store_connected") == 1, 30, what="store connected")
        cls.collectors = [
            start_collector(cls.dir, collector_config(cls.dir, n + ".yaml", n, cls.cluster.dsn(n), endpoints,
                                                      extra="interval: 500ms\n"), "collector-" + n)
            for n in ("primary", "replica")]

    @classmethod
    def tearDownClass(cls):
        for c in cls.collectors:
            c.stop()
        codes = [a.stop() for a in cls.aggs]
        cls.history.stop_all()
        cls.cluster.stop_all()
        cls.dir.remove()
        assert codes == [0, 0], codes

    def sql(self, query):
        return self.history.psql("primary", query, dbname="pgvigil")

    def test_1_migrations_and_partitions(self):
        wait_for(lambda: int(self.sql("SELECT count(*) FROM node_samples")[0][0]) > 10, 20, what="rows")
        files = sorted(f for f in os.listdir(os.path.join(os.environ["PGVIGIL_SOURCE_DIR"], "sql"))
                       if f.endswith(".sql"))
        self.assertEqual(self.sql("SELECT version, name FROM schema_migrations ORDER BY version"),
                         [[str(int(f.split("_")[0])), f] for f in files])
        self.assertIn("001_history.sql", files)
        rows = self.sql("SELECT DISTINCT tableoid::regclass::text,"
                        " to_char(collected_at AT TIME ZONE 'UTC', 'YYYYMMDD') FROM node_samples")
        for part, day in rows:
            self.assertEqual(part, "node_samples_p" + day)
        parts = {r[0] for r in self.sql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                        " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'node_samples'")}
        today = time.strftime("%Y%m%d", time.gmtime())
        tomorrow = time.strftime("%Y%m%d", time.gmtime(time.time() + 86400))
        self.assertIn("node_samples_p" + today, parts)
        self.assertIn("node_samples_p" + tomorrow, parts)  # created ahead
        lag = self.sql("SELECT count(*) FROM replication_lag WHERE node = 'replica'")
        self.assertGreater(int(lag[0][0]), 0)
        status = dict(self.sql("SELECT node, state FROM node_status"))
        self.assertEqual(status, {"primary": "up", "replica": "up"})

    def test_1b_history_api(self):
        base = self.bases[0]

        def get(path):
            try:
                with urllib.request.urlopen(base + path, timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())
        wait_for(lambda: len(get("/api/v1/nodes/replica/lag?from=-10m")[1].get("points", [])) > 3, 20,
                 what="lag history")
        status, lag = get("/api/v1/nodes/replica/lag?from=-10m")
        self.assertEqual(status, 200)
        self.assertEqual(lag["resolution_s"], 0)
        self.assertEqual(len(lag["points"][0]), 5)
        status, h = get("/api/v1/nodes/primary/history?metric=connections_total&from=-3h")
        self.assertEqual(status, 200)
        self.assertEqual(h["resolution_s"], 60)  # minutes beyond an hour
        self.assertGreater(len(h["points"]), 0)
        # a catalogue metric charted from metric_values: every server process
        status, h = get("/api/v1/nodes/primary/history?metric=connections_in_use&from=-10m")
        self.assertEqual(status, 200)
        self.assertGreater(len(h["points"]), 0)
        self.assertGreaterEqual(min(p[1] for p in h["points"]), 1)
        with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
            lines = [line for line in r.read().decode().splitlines()
                     if line.startswith("pgvigil_connections_in_use{") and 'node="primary"' in line]
        self.assertEqual(len(lines), 1, lines)
        self.assertGreaterEqual(float(lines[0].split()[-1]), 1)
        status, up = get("/api/v1/nodes/primary/uptime?from=-10m")
        self.assertEqual(status, 200)
        self.assertGreater(up["seconds"]["up"], 1)
        self.assertEqual(up["transitions"][0]["state"], "up")
        self.assertEqual(get("/api/v1/nodes/primary/history?metric=nonsense")[0], 400)
        self.assertEqual(get("/api/v1/nodes/primary/history?metric=up&from=yesterday-ish")[0], 400)
        self.assertEqual(get("/api/v1/nodes/primary/history")[0], 400)
        self.assertEqual(get("/readyz")[0], 200)

    def test_2_expired_partition_dropped(self):
        self.sql("CREATE TABLE node_samples_p20200101 PARTITION OF node_samples"
                 " FOR VALUES FROM ('2020-01-01') TO ('2020-01-02')")
        wait_for(lambda: self.sql("SELECT to_regclass('node_samples_p20200101')") == [[""]] or
                 self.sql("SELECT to_regclass('node_samples_p20200101') IS NULL") == [["t"]], 10,
                 what="expired partition dropped")

    def test_3_outage_loses_nothing_and_duplicates_nothing(self):
        self.history.stop("primary", "fast")
        time.sleep(OUTAGE_S)
        for base in self.bases:
            self.assertEqual(metric(base, "pgvigil_store_connected"), 0)
            try:
                urllib.request.urlopen(base + "/readyz", timeout=5)
                self.fail("ready without its history database")
            except urllib.error.HTTPError as e:
                self.assertEqual(e.code, 503)
            self.assertGreater(metric(base, "pgvigil_store_rows_buffered") +
                               metric(base, "pgvigil_store_rows_spooled"), 0)
        self.assertGreater(metric(self.bases[0], "pgvigil_store_rows_spooled"), 0)  # memory_rows exceeded
        self.history.start_node("primary")
        time.sleep(2)
        for c in self.collectors:
            c.stop()
        for base in self.bases:
            wait_for(lambda: metric(base, "pgvigil_store_connected") == 1 and
                     metric(base, "pgvigil_store_rows_buffered") == 0 and
                     metric(base, "pgvigil_store_rows_spooled") == 0, 60, what="catch-up")
        for node in ("primary", "replica"):
            with urllib.request.urlopen(self.bases[0] + "/api/v1/nodes/" + node, timeout=5) as r:
                last = json.loads(r.read())["node"]["sample"]["sequence"]
            count, distinct, lo, hi = map(int, self.sql(
                "SELECT count(*), count(DISTINCT sequence), min(sequence), max(sequence)"
                " FROM node_samples WHERE node = '%s'" % node)[0])
            self.assertEqual((count, distinct, lo, hi), (last, last, 1, last), node)


if __name__ == "__main__":
    unittest.main(verbosity=2)
