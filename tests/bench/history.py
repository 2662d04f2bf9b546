"""Driver of tests/bench/history.sh (see there)."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ingest import metrics, start_aggregator  # noqa: E402
from pgvigil_harness import PgCluster, TestDir, binary, wait_for  # noqa: E402

NODES = int(os.environ.get("NODES", "200"))
SECONDS = int(os.environ.get("SECONDS_PER_RUN", "30"))
RATE = int(os.environ.get("RATE", "0"))
PHASES = os.environ.get("PHASES", "write,disk,api").split(",")

SIZE_SQL = ("SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent"
            " WHERE p.relname = '%s'")


def sql(hist, text):
    return hist.psql("primary", text, dbname="pgvigil")[0][0]


def write_phase(d, hist, dsn):
    """Throughput and bytes per stored sample from the load generator."""
    agg, ingest, base = start_aggregator(d, "agg-write", dsn)
    m0, t0 = metrics(base), time.monotonic()
    out = subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
                          "--rate", str(RATE), "--seconds", str(SECONDS)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    t1 = time.monotonic()
    wait_for(lambda: (lambda m: m["pgvigil_core_samples_applied_total"] >= m["pgvigil_ingest_accepted_total"]
                      and m["pgvigil_store_rows_buffered"] == 0 and m["pgvigil_store_rows_spooled"] == 0)
             (metrics(base)), 900, interval=0.1, what="store drain")
    t2, m1 = time.monotonic(), metrics(base)
    applied = m1["pgvigil_core_samples_applied_total"] - m0["pgvigil_core_samples_applied_total"]
    rows = m1["pgvigil_store_rows_written_total"] - m0["pgvigil_store_rows_written_total"]
    print("write: %s; %.0f samples/s applied, %.0f rows/s written over the run and drain; drained %.1f s after"
          % (out, applied / (t2 - t0), rows / (t2 - t0), t2 - t1))
    agg.stop()
    samples = int(sql(hist, "SELECT count(*) FROM node_samples"))
    for table in ("node_samples", "replication_lag"):
        size = int(sql(hist, SIZE_SQL % table))
        n = int(sql(hist, "SELECT count(*) FROM %s" % table))
        print("disk: %s %d rows, %d bytes (indexes included), %.0f bytes/row, %.0f bytes/sample;"
              " %.1f MB per node-day at 1 s" % (table, n, size, size / max(n, 1), size / max(samples, 1),
                                                size / max(samples, 1) * 86400 / 1e6))
    return samples


def main():
    d = TestDir(prefix="pgvigil-bench-")
    hist = PgCluster(d, replicas=0, pg_stat_statements=False).start()
    hist.psql("primary", "CREATE DATABASE pgvigil")
    dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % hist.port("primary")
    print("history benchmark: %d simulated nodes, %d s, rate %s" % (NODES, SECONDS, RATE or "max"))
    if "write" in PHASES:
        write_phase(d, hist, dsn)
    hist.stop_all()


if __name__ == "__main__":
    main()
