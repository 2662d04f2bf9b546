"""History tiers: rollups and tiered retention on a real history database.

Proves: the 1-minute rollups equal an SQL aggregation of the raw rows over
the same minutes (min, max, avg, last, count of every catalogue slot, for
every node and minute), the 1-hour rollups equal an aggregation of the raw
rows too (min, max, count); a replayed batch changes nothing; and each
tier's partitions are dropped on their own schedule (raw after
retention_raw_days, 1-minute after retention_1m_days, 1-hour months after
retention_1h_days), while partitions within their tier's retention stay.
The history API answers a 7-day range from the 1-hour rollups.
"""

import json
import subprocess
import time
import unittest
import urllib.request

from pgvigil_base import metric
from pgvigil_harness import PgCluster, Process, TestDir, binary, free_port, wait_for




# Per (node, minute, slot) from the raw rows, independently of the rollup SQL.
RAW_1M = """
SELECT node, extract(epoch FROM date_bin('1 minute', collected_at, 'epoch'))::bigint, slot,
       min(v), max(v), avg(v), count(v),
       (array_agg(v ORDER BY collected_at DESC, sequence DESC) FILTER (WHERE v IS NOT NULL))[1]
FROM node_samples, unnest(metric_values) WITH ORDINALITY AS u(v, slot)
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""

ROLLED_1M = """
SELECT node, extract(epoch FROM bucket)::bigint, slot, mn, mx, av, n, la
FROM node_samples_1m, unnest(min_values, max_values, avg_values, counts, last_values)
     WITH ORDINALITY AS u(mn, mx, av, n, la, slot)
ORDER BY 1, 2, 3"""


class HistoryRollupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.history = PgCluster(cls.dir, replicas=0, pg_stat_statements=False).start()
        cls.history.psql("primary", "CREATE DATABASE pgvigil")
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.history.port("primary")
        cls.ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
        cfg = cls.dir.file("agg.yaml",
                           "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nstale_intervals: 100\n"
                           "storage:\n  dsn: \"%s\"\n  spool_dir: %s\n  maintenance_interval: 2s\n"
                           "  rollup_interval: 1s\n  retention_raw_days: 2\n  retention_1m_days: 10\n"
                           "  retention_1h_days: 100\n  retention_days: 30\n"
                           % (cls.ingest, http, dsn, cls.dir.sub("spool")))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        cls.base = "http://127.0.0.1:%d" % http
        wait_for(lambda: metric(cls.base, "pgvigil_store_connected") == 1, 30, what="store connected")

    @classmethod
    def tearDownClass(cls):
        code = cls.agg.stop()
        cls.history.stop_all()
        cls.dir.remove()
        assert code == 0, code

    def sql(self, query):
        return self.history.psql("primary", query, dbname="pgvigil")

    def settled(self):
        return (metric(self.base, "pgvigil_store_rows_buffered") == 0 and
                self.sql("SELECT count(*) FROM rollup_dirty") == [["0"]])

    def test_1_rollups_equal_raw_aggregation(self):
        subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", self.ingest, "--nodes", "6",
                        "--rate", "60", "--seconds", "6"], check=True, stdout=subprocess.DEVNULL, timeout=60)
        wait_for(lambda: int(self.sql("SELECT count(*) FROM node_samples")[0][0]) > 300 and self.settled(),
                 30, what="rows written and rolled up")
        raw, rolled = self.sql(RAW_1M), self.sql(ROLLED_1M)
        self.assertGreater(len(raw), 6 * 10)
        self.assertEqual(len(raw), len(rolled))
        for want, got in zip(raw, rolled):
            # exact but for the average, kept as real (7 significant digits)
            self.assertEqual(want[:5] + want[6:], got[:5] + got[6:])
            if want[5] or got[5]:
                self.assertAlmostEqual(float(want[5]), float(got[5]), delta=abs(float(want[5])) * 1e-6 + 1e-9)
        agg_h = self.sql("SELECT node, date_bin('1 hour', collected_at, 'epoch'), max(metric_values[1]),"
                         " min(metric_values[1]), count(metric_values[1]) FROM node_samples GROUP BY 1, 2 ORDER BY 1, 2")
        got_h = self.sql("SELECT node, bucket, max_values[1], min_values[1], counts[1] FROM node_samples_1h"
                         " ORDER BY 1, 2")
        self.assertEqual(agg_h, got_h)
        # A replayed minute (marked again) is recomputed to the same values.
        self.sql("INSERT INTO rollup_dirty SELECT node, bucket FROM node_samples_1m")
        wait_for(self.settled, 20, what="replayed minutes rolled up")
        self.assertEqual(self.sql(ROLLED_1M), rolled)

    def test_2_api_reads_rollups_for_long_ranges(self):
        node = self.sql("SELECT min(node) FROM node_samples")[0][0]
        with urllib.request.urlopen(self.base + "/api/v1/metrics", timeout=10) as r:
            name = json.loads(r.read())["metrics"][0]
        now = time.time()
        for days, table in ((7, "node_samples_1h"), (1, "node_samples_1m"), (0.01, "node_samples")):
            with urllib.request.urlopen("%s/api/v1/nodes/%s/history?metric=%s&from=%d&to=%d"
                                        % (self.base, node, name, now - days * 86400, now), timeout=10) as r:
                body = json.loads(r.read())
            self.assertEqual(body.get("source"), table, body)
            self.assertGreater(len(body["points"]), 0, body)

    def test_3_tiers_drop_on_their_own_schedule(self):
        today = int(time.time() // 86400)

        def day(n):
            return time.strftime("%Y%m%d", time.gmtime((today - n) * 86400))

        def iso(n):
            return time.strftime("%Y-%m-%d", time.gmtime((today - n) * 86400))

        made = {}
        for parent, age in (("node_samples", 3), ("node_samples", 1), ("replication_lag", 5),
                            ("node_samples_1m", 3), ("node_samples_1m", 12),
                            ("events", 12), ("events", 40)):
            name = "%s_p%s" % (parent, day(age))
            self.sql("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')"
                     % (name, parent, iso(age), iso(age - 1)))
            made[name] = (parent, age)
        # monthly 1-hour partitions: one ended 40 days ago (kept: 100), one 200 days ago (dropped)
        for ended in (40, 200):
            first = time.gmtime((today - ended - 1) * 86400)
            start = "%04d-%02d-01" % (first.tm_year, first.tm_mon)
            nxt = "%04d-%02d-01" % (first.tm_year + (first.tm_mon == 12), first.tm_mon % 12 + 1)
            name = "node_samples_1h_p" + start.replace("-", "")
            self.sql("CREATE TABLE IF NOT EXISTS %s PARTITION OF node_samples_1h FOR VALUES FROM ('%s') TO ('%s')"
                     % (name, start, nxt))
            made[name] = ("node_samples_1h", ended)
        expect_gone = {n for n, (p, age) in made.items()
                       if (p in ("node_samples", "replication_lag") and age > 2) or
                       (p == "node_samples_1m" and age > 10) or (p == "node_samples_1h" and age > 100) or
                       (p == "events" and age > 30)}
        self.assertEqual(len(expect_gone), 5)

        def exists(name):
            return self.sql("SELECT to_regclass('%s') IS NOT NULL" % name) == [["t"]]

        wait_for(lambda: not any(exists(n) for n in expect_gone), 20, what="expired partitions dropped")
        for name in set(made) - expect_gone:
            self.assertTrue(exists(name), name)


if __name__ == "__main__":
    unittest.main()
