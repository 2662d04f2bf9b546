"""Driver of tests/bench/history.sh (see there)."""

import calendar
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


def catchup_phase(d, hist, dsn):
    """The store alone: rows held while the history database was down,
    written once it is back (no ingest, no core work meanwhile), from the
    moment the store reconnects to the last row."""
    agg, ingest, base = start_aggregator(d, "agg-catchup", dsn)
    wait_for(lambda: metrics(base)["pgvigil_store_connected"] == 1, 60, what="store connected")
    hist.stop("primary")
    wait_for(lambda: metrics(base)["pgvigil_store_connected"] == 0, 60, what="store disconnected")
    out = subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
                          "--rate", str(RATE), "--seconds", str(SECONDS)],
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    wait_for(lambda: (lambda m: m["pgvigil_core_samples_applied_total"] >= m["pgvigil_ingest_accepted_total"])
             (metrics(base)), 900, interval=0.1, what="the core to apply every sample")
    held = (lambda m: m["pgvigil_store_rows_buffered"] + m["pgvigil_store_rows_spooled"])(metrics(base))
    hist.start("primary")
    wait_for(lambda: metrics(base)["pgvigil_store_connected"] == 1, 120, interval=0.02, what="store back")
    m0, t0 = metrics(base), time.monotonic()
    wait_for(lambda: (lambda m: m["pgvigil_store_rows_buffered"] == 0 and m["pgvigil_store_rows_spooled"] == 0)
             (metrics(base)), 900, interval=0.05, what="store catch-up")
    t1, m1 = time.monotonic(), metrics(base)
    rows = m1["pgvigil_store_rows_written_total"] - m0["pgvigil_store_rows_written_total"]
    print("catch-up: %s; %.0f rows held, %.0f rows written in %.1f s once reconnected: %.0f rows/s"
          " (%.0f samples/s at %.2f rows a sample)"
          % (out, held, rows, t1 - t0, rows / (t1 - t0), rows / (t1 - t0) / ROWS_PER_SAMPLE, ROWS_PER_SAMPLE))
    agg.stop()


ROWS_PER_SAMPLE = 1.5  # the load generator's fleet: half replicas, each with a lag row


PREP_NODES = int(os.environ.get("PREP_NODES", "200"))
PREP_DAYS = int(os.environ.get("PREP_DAYS", "30"))
RAW_HOURS = int(os.environ.get("RAW_HOURS", "48"))  # storage.retention_raw_days is 2
REQUESTS = int(os.environ.get("REQUESTS", "200"))

# One row per node and time step, node after node within a step: the rows of
# one node are spread over the heap as the aggregator's batches spread them.
# (The rows of the one sample each node sent to register stay as written.)
RAW_SQL = ("INSERT INTO node_samples (node, collected_at, sequence, cluster_id, region, role, up, timeline,"
           " received_at, metrics, metric_values, metric_version)"
           " SELECT 'prep-' || n, t, extract(epoch FROM t)::bigint, 6912312345678901234, 'eu', 'primary', true, 1,"
           " t + interval '3 ms', NULL, v, %(slots)d"
           " FROM generate_series(to_timestamp(%(from)d), to_timestamp(%(to)d), interval '1 second') t,"
           " LATERAL (SELECT n, array_fill((random() * 100)::real, ARRAY[%(slots)d]) v"
           " FROM generate_series(0, %(last)d) n WHERE t IS NOT NULL) a ON CONFLICT DO NOTHING")
ROLLUP_SQL = ("INSERT INTO %(table)s SELECT 'prep-' || n, b, %(width)d, v, v, v, v, array_fill(%(width)d, ARRAY[%(slots)d])"
              " FROM generate_series(to_timestamp(%(from)d), to_timestamp(%(to)d), interval '%(width)d seconds') b,"
              " LATERAL (SELECT n, array_fill((random() * 100)::real, ARRAY[%(slots)d]) v"
              " FROM generate_series(0, %(last)d) n WHERE b IS NOT NULL) a ON CONFLICT DO NOTHING")


def partition(hist, parent, start, end):
    """The partition of parent for [start, end) (Unix seconds), named as the aggregator names it."""
    hist.psql("primary", "CREATE TABLE IF NOT EXISTS %s_p%s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')"
              % (parent, time.strftime("%Y%m%d", time.gmtime(start)), parent,
                 time.strftime("%Y-%m-%d", time.gmtime(start)), time.strftime("%Y-%m-%d", time.gmtime(end))),
              dbname="pgvigil")


def month_after(start):
    t = time.gmtime(start)
    return calendar.timegm((t.tm_year + (t.tm_mon == 12), t.tm_mon % 12 + 1, 1, 0, 0, 0))


def prepare(hist, slots):
    """PREP_NODES nodes as the aggregator leaves them after PREP_DAYS days: the
    1-hour rollups up to the current hour and the 1-minute ones up to a
    minute ago (the rollup pass runs every minute) for PREP_DAYS days, raw
    samples at 1 s for the last RAW_HOURS hours; generated by SQL
    (generate_series), a day (raw: an hour) per statement."""
    now = int(time.time())
    today, first = now // 86400 * 86400, (now - PREP_DAYS * 86400) // 86400 * 86400
    sql(hist, "SELECT 1")
    for day in range(first, today + 2 * 86400, 86400):
        partition(hist, "node_samples_1m", day, day + 86400)
        if day >= (now - RAW_HOURS * 3600) // 86400 * 86400:
            partition(hist, "node_samples", day, day + 86400)
    month = calendar.timegm(time.gmtime(first)[:2] + (1, 0, 0, 0))
    while month <= now:
        partition(hist, "node_samples_1h", month, month_after(month))
        month = month_after(month)
    t0, common = time.monotonic(), {"slots": slots, "last": PREP_NODES - 1}
    hist.psql("primary", ROLLUP_SQL % dict(common, table="node_samples_1h", width=3600,
                                           to=now // 3600 * 3600, **{"from": first}),
              dbname="pgvigil", timeout=3600)
    for day in range(first, today + 86400, 86400):
        hist.psql("primary", ROLLUP_SQL % dict(common, table="node_samples_1m", width=60,
                                               to=min(day + 86400 - 60, (now - 60) // 60 * 60), **{"from": day}),
                  dbname="pgvigil", timeout=3600)
    for hour in range(now - RAW_HOURS * 3600, now, 3600):
        hist.psql("primary", RAW_SQL % dict(common, to=min(hour + 3599, now), **{"from": hour}),
                  dbname="pgvigil", timeout=3600)
    hist.psql("primary", "VACUUM ANALYZE", dbname="pgvigil", timeout=3600)
    print("prepared %d nodes: %d days of rollups, %d hours of raw samples, in %.0f s (generate_series)"
          % (PREP_NODES, PREP_DAYS, RAW_HOURS, time.monotonic() - t0))
    for table, node_days in (("node_samples", RAW_HOURS / 24), ("node_samples_1m", PREP_DAYS),
                             ("node_samples_1h", PREP_DAYS)):
        size = int(sql(hist, SIZE_SQL % table))
        n = int(sql(hist, "SELECT count(*) FROM %s" % table))
        print("disk: %s %d rows, %.0f bytes/row, %.2f MB per node-day"
              % (table, n, size / max(n, 1), size / (PREP_NODES * node_days) / 1e6))
    return now


def top_up(hist, slots, since):
    """The rows the aggregator would have written while prepare() ran: raw
    samples from since to now, rollups to a minute ago and the current hour
    (so a 15-minute range is all raw rows and a rollup range's raw tail is
    what the rollup pass leaves, not the minutes prepare() took)."""
    now, common = int(time.time()), {"slots": slots, "last": PREP_NODES - 1}
    for day in range(since // 86400 * 86400, now + 1, 86400):
        partition(hist, "node_samples", day, day + 86400)
        partition(hist, "node_samples_1m", day, day + 86400)
    for table, width, frm, to in (("node_samples_1m", 60, since // 60 * 60, (now - 60) // 60 * 60),
                                  ("node_samples_1h", 3600, since // 3600 * 3600, now // 3600 * 3600)):
        hist.psql("primary", ROLLUP_SQL % dict(common, table=table, width=width, to=to, **{"from": frm}),
                  dbname="pgvigil", timeout=3600)
    hist.psql("primary", RAW_SQL % dict(common, to=now, **{"from": since + 1}), dbname="pgvigil", timeout=3600)


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
    top_up(hist, slots, prepare(hist, slots))
    for label, secs in (("15 min", 900), ("24 h", 86400), ("7 d", 7 * 86400), ("30 d", 30 * 86400)):
        times, points, source = [], 0, ""
        for _ in range(REQUESTS):
            node = "prep-%d" % random.randrange(PREP_NODES)
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
    if "catchup" in PHASES:
        catchup_phase(d, hist, dsn)
    if "api" in PHASES:
        api_phase(d, hist, dsn)
    hist.stop_all()


if __name__ == "__main__":
    main()
