"""Shared set-up of the fault tests (test_fault_*.py): one PostgreSQL server
that is both the monitored instance and the history database, real
collectors sampling it every 100 ms, and an aggregator that can be killed,
restarted and cut off. The proof of every case is the same: each collector
says at shutdown how many samples it made and how many were never
acknowledged; node_samples must then hold every sequence number 1..N of
every node exactly once.
"""

import os
import re
import signal
import subprocess
import time

from pgvigil_base import metric
from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port,
                             start_collector, wait_for)




def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class SmallTmpfs:
    """A tmpfs of `size` ("2m") mounted on a fresh directory at `path`, for
    a spool that fills (needs root); unmount() removes it."""

    def __init__(self, size):
        self.dir = TestDir(prefix="pgvigil-tmpfs-")
        self.path = self.dir.path
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", self.path], check=True, timeout=10)

    def unmount(self):
        subprocess.run(["umount", self.path], timeout=30)
        self.dir.remove()


class FaultStack:
    def __init__(self, collectors=4, interval="100ms", memory_rows=100000, spool_dir=None,
                 send_queue=3600):
        self.dir = TestDir()
        self.pg = PgCluster(self.dir, replicas=0, pg_stat_statements=False).start()
        self.pg.psql("primary", "CREATE DATABASE pgvigil")
        self.ingest = "tcp://127.0.0.1:%d" % free_port()
        self.ingest_port = int(self.ingest.rsplit(":", 1)[1])
        http = free_port()
        self.base = "http://127.0.0.1:%d" % http
        self.spool = spool_dir or self.dir.sub("spool")
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil connect_timeout=2" % self.pg.port("primary")
        self.agg_cfg = self.dir.file("agg.yaml",
                                     "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nstale_intervals: 50\n"
                                     "storage:\n  dsn: \"%s\"\n  spool_dir: %s\n  memory_rows: %d\n"
                                     % (self.ingest, http, dsn, self.spool, memory_rows))
        self.aggs = []
        self.nodes = ["fault-%d" % i for i in range(collectors)]
        self.collector_extra = "interval: %s\nsend_queue: %d\n" % (interval, send_queue)
        self.collectors = []

    # ---- aggregator ----
    @property
    def agg(self):
        return self.aggs[-1]

    def start_aggregator(self, wait_store=True):
        a = Process(self.dir, "aggregator%d" % len(self.aggs), [binary("pgvigil-aggregator"), "-c", self.agg_cfg])
        self.aggs.append(a)
        wait_for(lambda: metric(self.base, "pgvigil_store_connected") is not None or not a.running(), 30,
                 what="aggregator up")
        if wait_store:
            wait_for(lambda: metric(self.base, "pgvigil_store_connected") == 1, 30, what="store connected")
        return a

    def kill_aggregator(self):
        self.agg.proc.send_signal(signal.SIGKILL)
        self.agg.proc.wait(10)
        self.agg.stop()

    def aggregator_logs(self):
        return "".join(a.log_text() for a in self.aggs)

    # ---- collectors ----
    def start_collectors(self):
        for n in self.nodes:
            cfg = collector_config(self.dir, n + ".yaml", n, self.pg.dsn("primary"), [self.ingest],
                                   extra=self.collector_extra)
            self.collectors.append(start_collector(self.dir, cfg, "collector-" + n))

    def load_made(self, test, out, nodes):
        """{node: (samples made, unacknowledged, dropped)} from the lines of
        pgvigil-ingest-load --acked; every one of its nodes is then checked."""
        made = {m.group(1): (int(m.group(2)), int(m.group(3)), int(m.group(4)))
                for m in re.finditer(r"node (\S+) sent (\d+) unacked (\d+) dropped (\d+)", out)}
        test.assertEqual(len(made), nodes, out)
        self.nodes = sorted(made)
        return made

    def stop_collectors(self):
        """SIGTERM every collector; {node: (samples made, unacknowledged)}."""
        for c in self.collectors:
            c.signal(signal.SIGTERM)
        made = {}
        for n, c in zip(self.nodes, self.collectors):
            c.wait(20)
            c.stop()
            m = re.search(r"shutting down after (\d+) samples \((\d+) dropped, (\d+) unacknowledged\)",
                          c.log_text())
            assert m, c.log_text()[-2000:]
            made[n] = (int(m.group(1)), int(m.group(3)), int(m.group(2)))
        return made

    # ---- history ----
    def history(self, allow):
        """Let the aggregator reach its history database, or hold it away
        (connections refused, those open terminated)."""
        self.pg.psql("primary", "ALTER DATABASE pgvigil ALLOW_CONNECTIONS %s" % ("true" if allow else "false"))
        if not allow:
            self.pg.psql("primary", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                    " WHERE datname = 'pgvigil'")

    def sql(self, query):
        return self.pg.psql("primary", query, dbname="pgvigil")

    def stored(self):
        """{node: (rows, distinct sequences, min, max)} from node_samples."""
        rows = self.sql("SELECT node, count(*), count(DISTINCT sequence), min(sequence), max(sequence)"
                        " FROM node_samples GROUP BY node")
        return {r[0]: tuple(int(x) for x in r[1:]) for r in rows}

    def wait_drained(self, timeout=120):
        wait_for(lambda: metric(self.base, "pgvigil_store_rows_spooled") == 0 and
                 metric(self.base, "pgvigil_store_rows_buffered") == 0 and
                 metric(self.base, "pgvigil_store_connected") == 1, timeout, what="spool and memory written")

    def assert_exact(self, test, made):
        """Every sequence 1..N of every node stored exactly once."""
        stored = self.stored()
        report = []
        for n in self.nodes:
            total, unacked, dropped = made[n]
            rows, distinct, lo, hi = stored.get(n, (0, 0, 0, 0))
            report.append("%s: made %d, unacked %d, dropped %d, stored %d (distinct %d, %d..%d)"
                          % (n, total, unacked, dropped, rows, distinct, lo, hi))
        text = "\n".join(report)
        print(text)
        for n in self.nodes:
            total, unacked, dropped = made[n]
            rows, distinct, lo, hi = stored.get(n, (0, 0, 0, 0))
            test.assertEqual(unacked, 0, text)
            test.assertEqual(dropped, 0, text)
            test.assertEqual(rows, distinct, "doubled samples\n" + text)
            test.assertEqual((rows, lo, hi), (total, 1, total), "lost samples\n" + text)
        return text

    def close(self, *extra):
        """Stop everything; extra processes (a load generator still running
        after a failure) are killed first. The aggregators' exit codes."""
        for p in extra:
            if p and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.communicate()
        for c in self.collectors:
            c.stop()
        codes = [a.stop() for a in self.aggs]
        self.pg.stop_all()
        self.dir.remove()
        return codes
