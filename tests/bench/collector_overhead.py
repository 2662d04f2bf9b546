"""Driver of collector_overhead.sh (see there)."""

import os
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from pgvigil_harness import PgCluster, Process, Receiver, TestDir, collector_config, free_port, start_collector, wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_kb(pid):
    return status_kb(pid, "VmHWM")


def server_ms(cluster, role):
    v = cluster.scalar("primary", "SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s"
                                  " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '%s'" % role)
    return float(v)


STATS_SECTIONS = (("tables", "pg_stat_user_tables"), ("indexes", "pg_stat_user_indexes"),
                  ("statements", "FROM pg_stat_statements("))


HOURLY_MARKERS = ("pg_stats", "pg_get_indexdef")


def stats_sections_ms(cluster, role):
    """Per stats section: (calls, mean ms, max ms) of the every-round query and
    of its hourly variant (bloat estimates, index definitions)."""
    rows = cluster.psql("primary", "SELECT query, calls, total_exec_time, max_exec_time FROM pg_stat_statements s"
                                   " JOIN pg_roles r ON r.oid = s.userid WHERE r.rolname = '%s'" % role)
    out = {}
    for query, calls, total, most in rows:
        for name, marker in STATS_SECTIONS:
            if marker in query:
                key = (name, any(m in query for m in HOURLY_MARKERS))
                c, t, x = out.get(key, (0, 0.0, 0.0))
                out[key] = (c + int(calls), t + float(total), max(x, float(most)))
    return {k: (c, t / max(c, 1), x) for k, (c, t, x) in out.items()}


def make_tables(cluster, n):
    cluster.psql("primary", "DO $$ BEGIN FOR i IN 1..%d LOOP"
                            " EXECUTE format('CREATE TABLE bench_t%%s (id int primary key, a int, b int, c text)', i);"
                            " EXECUTE format('CREATE INDEX ON bench_t%%s (a)', i);"
                            " EXECUTE format('CREATE INDEX ON bench_t%%s (b)', i);"
                            " END LOOP; END $$" % n, timeout=600)


def main():
    duration = float(os.environ.get("DURATION", "120"))
    tables = int(os.environ.get("TABLES", "0"))
    d = TestDir(prefix="pgvigil-bench-")
    cluster = PgCluster(d, replicas=0).start()
    cluster.psql("primary", "CREATE ROLE exporter LOGIN IN ROLE pg_monitor")
    if tables:
        make_tables(cluster, tables)
    cluster.write_load(rows=10000)
    recv = Receiver(d, name="receiver")
    cfg = collector_config(d, "collector.yaml", "bench", cluster.dsn("primary"), [recv.endpoint],
                           extra="interval: 1s\nslow_interval: 15s\nstats_interval: %s\nhourly_interval: %s\n"
                                 % (("10s", "30s") if tables else ("60s", "1h")))
    port = free_port()
    exporter = Process(d, "exporter", ["prometheus-postgres-exporter", "--web.listen-address=127.0.0.1:%d" % port],
                       env={"DATA_SOURCE_NAME": "postgresql://exporter@127.0.0.1:%d/postgres?sslmode=disable"
                                                % cluster.port("primary")})
    url = "http://127.0.0.1:%d/metrics" % port
    wait_for(lambda: exporter.log_text().find("Listening") >= 0 or _try(url), 20, what="exporter")
    cluster.psql("primary", "SELECT pg_stat_statements_reset()")
    col = start_collector(d, cfg, "collector")
    scrapes, scrape_bytes = 0, 0
    start = time.monotonic()
    next_scrape = start
    while time.monotonic() - start < duration:
        with urllib.request.urlopen(url, timeout=10) as r:
            scrape_bytes += len(r.read())
        scrapes += 1
        next_scrape += 1
        time.sleep(max(0, next_scrape - time.monotonic()))
    col_cpu, col_rss = cpu_seconds(col.proc.pid), peak_rss_kb(col.proc.pid)
    exp_cpu, exp_rss = cpu_seconds(exporter.proc.pid), peak_rss_kb(exporter.proc.pid)
    col_anon, exp_anon = status_kb(col.proc.pid, "RssAnon"), status_kb(exporter.proc.pid, "RssAnon")
    col_file, exp_file = status_kb(col.proc.pid, "RssFile"), status_kb(exporter.proc.pid, "RssFile")
    col_srv, exp_srv = server_ms(cluster, "pgvigil"), server_ms(cluster, "exporter")
    sections = stats_sections_ms(cluster, "pgvigil")
    col.stop()
    exporter.stop()
    samples = recv.samples()
    rounds = len(samples)
    col_bytes = sum(s["_bytes"] for s in samples) / max(rounds, 1)
    print("\ncollector overhead, %.0f s at a 1 s cadence%s" % (duration, ", %d tables" % tables if tables else ""))
    print("%-34s %14s %14s %9s" % ("", "pgvigil", "pg-exporter", "ratio"))
    rows = [
        ("rounds / scrapes", rounds, scrapes, None),
        ("peak RSS (MB)", col_rss / 1024, exp_rss / 1024, exp_rss / max(col_rss, 1)),
        ("private RSS now, RssAnon (MB)", col_anon / 1024, exp_anon / 1024, exp_anon / max(col_anon, 1)),
        ("mapped files now, RssFile (MB)", col_file / 1024, exp_file / 1024, exp_file / max(col_file, 1)),
        ("CPU ms per round", 1000 * col_cpu / max(rounds, 1), 1000 * exp_cpu / max(scrapes, 1),
         (exp_cpu / max(scrapes, 1)) / max(col_cpu / max(rounds, 1), 1e-9)),
        ("server query ms per round", col_srv / max(rounds, 1), exp_srv / max(scrapes, 1),
         (exp_srv / max(scrapes, 1)) / max(col_srv / max(rounds, 1), 1e-9)),
        ("bytes per sample / scrape", col_bytes, scrape_bytes / max(scrapes, 1),
         (scrape_bytes / max(scrapes, 1)) / max(col_bytes, 1)),
    ]
    for name, a, b, ratio in rows:
        print("%-34s %14.2f %14.2f %9s" % (name, a, b, "%.1fx" % ratio if ratio else ""))
    print("peak RSS counts the pages of shared libraries (libpq, OpenSSL, libzmq, czmq) the process touched;\n"
          "RssAnon is the memory the process itself allocated.")
    col_cpu_round = col_cpu / max(rounds, 1)
    exp_cpu_round = exp_cpu / max(scrapes, 1)
    checks = [
        ("collector peak RSS <= 8 MB", col_rss <= 8 * 1024, "%.1f MB" % (col_rss / 1024)),
        (">= 5x less CPU per round", exp_cpu_round >= 5 * col_cpu_round,
         "%.1fx" % (exp_cpu_round / max(col_cpu_round, 1e-9))),
        (">= 2x less memory (peak RSS)", exp_rss >= 2 * col_rss, "%.1fx" % (exp_rss / max(col_rss, 1))),
        (">= 2x less memory (RssAnon)", exp_anon >= 2 * col_anon, "%.1fx" % (exp_anon / max(col_anon, 1))),
    ]
    print("stats-cadence sections (server time per execution, pg_stat_statements):")
    every, hourly = 0.0, 0.0
    for name, _ in STATS_SECTIONS:
        for is_hourly in (False, True):
            calls, mean, most = sections.get((name, is_hourly), (0, 0.0, 0.0))
            if not calls:
                continue
            if is_hourly:
                hourly += mean
            else:
                every += mean
            print("  %-12s %-7s %4d runs  mean %8.2f ms  max %8.2f ms"
                  % (name, "hourly" if is_hourly else "", calls, mean, most))
    print("  a stats round: %.1f ms; the hourly one (bloat estimates, index definitions): %.1f ms"
          % (every, hourly + sum(sections.get((n, False), (0, 0, 0))[1] for n, _ in STATS_SECTIONS
                                 if not sections.get((n, True)))))
    if tables:
        checks.append(("stats sections < 200 ms a round", every < 200, "%.1f ms" % every))
    print("targets:")
    for name, met, value in checks:
        print("  %-4s %-32s %s" % ("met" if met else "MISS", name, value))


def _try(url):
    try:
        urllib.request.urlopen(url, timeout=2).read()
        return True
    except OSError:
        return False


if __name__ == "__main__":
    main()
