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


PREP_NODES = int(os.environ.get("PREP_NODES", "200"))
PREP_DAYS = int(os.environ.get("PREP_DAYS", "30"))
RAW_DAYS = int(os.environ.get("RAW_DAYS", "2"))
REQUESTS = int(os.environ.get("REQUESTS", "200"))


def prepare(hist, slots):
    """PREP_NODES nodes: 1-hour and 1-minute rollups for PREP_DAYS days and
    raw samples at 1 s for the last RAW_DAYS days, generated in SQL (each
    node's rows in one INSERT ... SELECT generate_series)."""
    now = int(time.time())
    sql(hist, "SELECT 1")
    for parent, days, step in (("node_samples", RAW_DAYS, 1), ("node_samples_1m", PREP_DAYS, 1)):
        for k in range(days + 1):
            day = time.gmtime((now // 86400 - k) * 86400)
            nxt = time.gmtime((now // 86400 - k + 1) * 86400)
            hist.psql("primary", "CREATE TABLE IF NOT EXISTS %s_p%s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')"
                      % (parent, time.strftime("%Y%m%d", day), parent, time.strftime("%Y-%m-%d", day),
                         time.strftime("%Y-%m-%d", nxt)), dbname="pgvigil")
    for k in range(3):
        first = time.gmtime(now - k * 28 * 86400)
        start = "%04d-%02d-01" % (first.tm_year, first.tm_mon)
        nxt = "%04d-%02d-01" % (first.tm_year + (first.tm_mon == 12), first.tm_mon % 12 + 1)
        hist.psql("primary", "CREATE TABLE IF NOT EXISTS node_samples_1h_p%s PARTITION OF node_samples_1h"
                  " FOR VALUES FROM ('%s') TO ('%s')" % (start.replace("-", ""), start, nxt), dbname="pgvigil")
    arr = "array_fill((random() * 100)::real, ARRAY[%d])" % slots
    cnt = "array_fill(%%d, ARRAY[%d])" % slots
    t0 = time.monotonic()
    for i in range(PREP_NODES):
        node = "prep-%d" % i
        for table, step, width in (("node_samples_1h", "1 hour", 3600), ("node_samples_1m", "1 minute", 60)):
            hist.psql("primary",
                      "INSERT INTO %s SELECT '%s', b, %d, %s, %s, %s, %s, %s FROM generate_series("
                      "date_bin('%s', now() - interval '%d days', 'epoch'), now() - interval '%s', interval '%s') b"
                      % (table, node, width, arr, arr, arr, arr, cnt % width, step, PREP_DAYS, step, step),
                      dbname="pgvigil", timeout=3600)
        if i < int(os.environ.get("RAW_NODES", str(PREP_NODES))):
            hist.psql("primary",
                      "INSERT INTO node_samples SELECT '%s', t, row_number() OVER (), 6912312345678901234,"
                      " 'eu', 'primary', true, 1, t, NULL, %s, %d FROM generate_series(now() - interval '%d days',"
                      " now(), interval '1 second') t" % (node, arr, slots, RAW_DAYS), dbname="pgvigil", timeout=3600)
    hist.psql("primary", "ANALYZE", dbname="pgvigil", timeout=900)
    print("prepared %d nodes x %d days of rollups, raw for %d days, in %.0f s"
          % (PREP_NODES, PREP_DAYS, RAW_DAYS, time.monotonic() - t0))
    for table, days in (("node_samples_1m", PREP_DAYS), ("node_samples_1h", PREP_DAYS)):
        size = int(sql(hist, SIZE_SQL % table))
        n = int(sql(hist, "SELECT count(*) FROM %s" % table))
        print("disk: %s %d rows, %.0f bytes/row, %.2f MB per node-day"
              % (table, n, size / max(n, 1), size / (PREP_NODES * days) / 1e6))


def api_phase(d, hist, dsn):
    import json
    import random
    import urllib.request
    agg, ingest, base = start_aggregator(d, "agg-api", dsn)
    for i in range(PREP_NODES):  # the API answers for nodes the fleet knows
        subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", "1", "--name",
                        "prep-%d" % i, "--count", "1", "--seconds", "5"], stdout=subprocess.DEVNULL, check=True)
    with urllib.request.urlopen(base + "/api/v1/metrics", timeout=10) as r:
        names = json.loads(r.read())["metrics"]
    slots = int(os.environ.get("SLOTS", "34"))  # metric_history_slots() of this catalogue
    prepare(hist, slots)
    for label, secs in (("15 min", 900), ("24 h", 86400), ("7 d", 7 * 86400), ("30 d", 30 * 86400)):
        times, points, source = [], 0, ""
        for _ in range(REQUESTS):
            node = "prep-%d" % random.randrange(PREP_NODES if secs > 3600 else int(os.environ.get("RAW_NODES", "1")))
            now = time.time()
            url = "%s/api/v1/nodes/%s/history?metric=%s&from=%d&to=%d" % (
                base, node, random.choice(names), now - secs, now)
            t0 = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as r:
                body = json.loads(r.read())
            times.append((time.perf_counter() - t0) * 1000)
            points, source = len(body["points"]), body.get("source", "")
        times.sort()
        print("api: %-6s range: p50 %.1f ms, p99 %.1f ms (%d requests, %d points from %s)"
              % (label, times[len(times) // 2], times[int(len(times) * 0.99) - 1], REQUESTS, points, source))
    if os.environ.get("EXPLAIN"):
        print("\n".join(r[0] for r in hist.psql("primary", os.environ["EXPLAIN"], dbname="pgvigil")))
    agg.stop()


def main():
    d = TestDir(prefix="pgvigil-bench-")
    hist = PgCluster(d, replicas=0, pg_stat_statements=False).start()
    hist.psql("primary", "CREATE DATABASE pgvigil")
    dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % hist.port("primary")
    print("history benchmark: %d simulated nodes, %d s, rate %s" % (NODES, SECONDS, RATE or "max"))
    if "write" in PHASES:
        write_phase(d, hist, dsn)
    if "api" in PHASES:
        api_phase(d, hist, dsn)
    hist.stop_all()


if __name__ == "__main__":
    main()
