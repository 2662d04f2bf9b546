"""Driver of lag_truth.sh (see there).

Truth: a thread reads the primary's pg_current_wal_lsn() every 0.1 s over a
persistent session (the primary's WAL history, on this host's clock). Every
PROBE seconds a probe reads the replica's pg_last_wal_replay_lsn() and the
primary's pg_current_wal_lsn() concurrently (both queries sent before either
answer is read; each server says when it read, and the report shows how far
apart: LAG_TRUTH_SEQUENTIAL=1 reads them one after the other instead), then
pgvigil's API (/api/v1/nodes/replica) and postgres_exporter's /metrics:
  truth bytes   = primary LSN - replica replay LSN
  truth seconds = probe time - the moment the primary's WAL first went beyond
                  the replay LSN (from the 0.1 s history; 0 when it has not)
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from pgvigil_harness import PgCluster, Process, TestDir, binary, collector_config, free_port, wait_for
from pgvigil_lagtruth import Session, WalHistory, faketime_env, truth_read

INTERVAL = os.environ.get("INTERVAL", "1s")
PHASE = float(os.environ.get("PHASE_SECONDS", "20"))
IDLE = float(os.environ.get("IDLE_SECONDS", "10"))
PROBE = 0.5
TPS = int(os.environ.get("TPS", "300"))
SCENARIOS = os.environ.get("SCENARIOS", "load,pause,idle,idle_stall,clock_plus7,clock_back,clock_minus7,clock_step_back").split(",")
SEQUENTIAL = bool(os.environ.get("LAG_TRUTH_SEQUENTIAL"))
VERBOSE = float(os.environ.get("LAG_TRUTH_VERBOSE", "0"))  # per-probe lines for the first N s
BYTES_FLOOR = 65536  # relative byte errors are taken against max(truth, 64 kB)


def http_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def exporter_value(port, name):
    """First sample of metric name on a postgres_exporter, or None."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " ") or line.startswith(name + "{"):
                    return float(line.rsplit(" ", 1)[1])
    except OSError:
        pass
    return None


class Bench:
    def __init__(self):
        self.d = TestDir(prefix="pgvigil-lag-truth-")
        self.cluster = PgCluster(self.d, pg_stat_statements=False).start()
        subprocess.run(["pgbench", "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p", str(self.cluster.port("primary")),
                        "-U", "postgres", "postgres"], check=True, capture_output=True, timeout=120)
        self.primary = Session(self.cluster.port("primary"))
        self.replica = Session(self.cluster.port("replica"))
        self.history = WalHistory(self.cluster.port("primary"))
        self.history.start()
        self.ingest = "tcp://127.0.0.1:%d" % free_port()
        http = free_port()
        self.base = "http://127.0.0.1:%d" % http
        cfg = self.d.file("aggregator.yaml", "listen: {ingest: [%s], http: \"127.0.0.1:%d\"}\n" % (self.ingest, http))
        self.agg = Process(self.d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: http_ok(self.base + "/healthz"), 20, what="aggregator")
        self.collectors = {}
        for node in ("primary", "replica"):
            self.start_collector(node)
        self.start_exporters()
        self.pgbench = None
        wait_for(lambda: (self.api_lag() or {}).get("bytes") is not None, 30, what="lag in the API")

    # ---- parts ----
    def start_collector(self, node, shift=None, env=None):
        old = self.collectors.pop(node, None)
        if old:
            old.stop()
        cfg = collector_config(self.d, "collector-%s.yaml" % node, node, self.cluster.dsn(node), [self.ingest],
                               extra="interval: %s\n" % INTERVAL)
        env = env or (faketime_env(shift) if shift else None)
        self.collectors[node] = Process(self.d, "collector-%s%s" % (node, shift or ""),
                                        [binary("pgvigil-collector"), "-c", cfg], env=env)

    def start_exporters(self):
        self.cluster.psql("primary", "CREATE ROLE exporter LOGIN IN ROLE pg_monitor")
        # The lag reading postgres_exporter users deploy (it is not built in):
        # now() - pg_last_xact_replay_timestamp() on the replica.
        queries = self.d.file("queries.yaml", """
pg_replication:
  query: "SELECT CASE WHEN pg_is_in_recovery() THEN GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) ELSE 0 END AS lag"
  master: true
  metrics:
    - lag: {usage: GAUGE, description: "seconds since the last replayed commit"}
""")
        self.exporter = {}
        for node in ("primary", "replica"):
            port = free_port()
            Process(self.d, "exporter-" + node, ["prometheus-postgres-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                                                 "--extend.query-path=" + queries],
                    env={"DATA_SOURCE_NAME": "postgresql://exporter@127.0.0.1:%d/postgres?sslmode=disable"
                                             % self.cluster.port(node)})
            wait_for(lambda: http_ok("http://127.0.0.1:%d/metrics" % port), 20, what="exporter")
            self.exporter[node] = port

    def load(self, on):
        if on and not self.pgbench:
            self.pgbench = Process(self.d, "pgbench", ["pgbench", "-n", "-R", str(TPS), "-c", "2", "-j", "1", "-T", "3600",
                                                       "-h", "127.0.0.1", "-p", str(self.cluster.port("primary")),
                                                       "-U", "postgres", "postgres"])
            time.sleep(3)  # steady load before anything is measured
        elif not on and self.pgbench:
            self.pgbench.stop()
            self.pgbench = None

    def api_node(self):
        try:
            return http_json(self.base + "/api/v1/nodes/replica")["node"]
        except (OSError, ValueError, KeyError):
            return {}

    def api_lag(self):
        return self.api_node().get("lag")

    def restarts(self):
        return self.api_node().get("ingest", {}).get("restarts", 0)

    # ---- probing ----
    def probe(self):
        tr = truth_read(self.primary, self.replica, self.history, sequential=SEQUENTIAL)
        api_t = time.time()
        lag = self.api_lag() or {}
        exp_s = exporter_value(self.exporter["replica"], "pg_replication_lag")
        exp_b = exporter_value(self.exporter["primary"], "pg_stat_replication_pg_wal_lsn_diff")
        return {"t": tr["t"], "truth_bytes": tr["bytes"], "truth_seconds": tr["seconds"], "truth_skew_ms": tr["skew_ms"],
                "bytes": lag.get("bytes"), "seconds": lag.get("seconds"), "estimated": lag.get("estimated"),
                "paused": lag.get("replay_paused"), "api_t": api_t, "exporter_seconds": exp_s, "exporter_bytes": exp_b}

    def measure(self, seconds):
        rows, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.monotonic()
            rows.append(self.probe())
            time.sleep(max(0.0, PROBE - (time.monotonic() - started)))
        return rows

    def settle(self):
        """Until the replica has caught up (or 15 s)."""
        try:
            wait_for(lambda: self.cluster.wal_lsn() - self.cluster.replay_lsn() < 65536, 15, what="catch up")
        except Exception:
            pass

    # ---- scenarios ----
    def s_load(self):
        self.load(True)
        return self.measure(PHASE)

    def s_pause(self):
        self.load(True)
        self.cluster.pause_replay()
        try:
            return self.measure(PHASE)
        finally:
            self.cluster.resume_replay()
            self.settle()

    def s_idle(self):
        self.load(False)
        self.settle()
        time.sleep(2)
        return self.measure(IDLE)

    def s_idle_stall(self):
        """Idle, then the stream blocks (WAL sender stopped) and the primary
        writes ~1.3 kB that the replica never receives."""
        self.load(False)
        self.settle()
        time.sleep(IDLE)
        pid = int(self.cluster.scalar("primary", "SELECT pid FROM pg_stat_replication LIMIT 1"))
        os.kill(pid, signal.SIGSTOP)
        try:
            self.primary.query("CREATE TABLE IF NOT EXISTS stall (payload text);"
                               "INSERT INTO stall SELECT repeat('s', 1100)")
            return self.measure(PHASE)
        finally:
            os.kill(pid, signal.SIGCONT)
            self.settle()

    def clock(self, shift):
        """Restart the replica's collector with its clock shifted, then a
        replay pause under load, measured from the first sample after it."""
        self.load(True)
        before = self.restarts()
        self.start_collector("replica", shift)
        wait_for(lambda: self.restarts() > before, 20, what="the restarted collector's first sample")
        self.cluster.pause_replay()
        try:
            return self.measure(PHASE)
        finally:
            self.cluster.resume_replay()
            self.settle()

    def s_clock_plus7(self):
        return self.clock("+7")

    def s_clock_back(self):
        return self.clock(None)  # from +7 s back to true time: the case of issue 13

    def s_clock_minus7(self):
        return self.clock("-7")

    def s_clock_step_back(self):
        """The running collector's clock steps from +7 s to true time (no
        restart) during a pause; measured from the step."""
        self.load(True)
        spec = self.d.file("faketime-replica", "+7\n")
        env = faketime_env("+7")
        del env["FAKETIME"]
        env.update({"FAKETIME_TIMESTAMP_FILE": spec, "FAKETIME_NO_CACHE": "1"})
        before = self.restarts()
        self.start_collector("replica", env=env)
        wait_for(lambda: self.restarts() > before, 20, what="the restarted collector's first sample")
        time.sleep(3)
        self.cluster.pause_replay()
        try:
            time.sleep(1)
            with open(spec, "w") as f:
                f.write("+0\n")
            return self.measure(PHASE)
        finally:
            self.cluster.resume_replay()
            self.settle()
            self.start_collector("replica")

    def close(self):
        self.load(False)
        self.history.stop()
        for s in (self.primary, self.replica):
            s.close()
        for p in self.collectors.values():
            p.stop()
        self.agg.stop()
        self.cluster.stop_all()
        self.d.remove()


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def summary(rows, key, truth):
    errs = [abs(r[key] - r[truth]) for r in rows if r.get(key) is not None]
    return errs


def fmt(errs, scale=1.0, unit=""):
    if not errs:
        return "%-26s" % "n/a"
    return "%7.2f %7.2f %8.2f%s" % (statistics.median(errs) * scale, pct(errs, 0.95) * scale, max(errs) * scale, unit)


def report(name, rows):
    out = {"scenario": name, "probes": len(rows)}
    sec = summary(rows, "seconds", "truth_seconds")
    exp_sec = summary(rows, "exporter_seconds", "truth_seconds")
    byt = summary(rows, "bytes", "truth_bytes")
    rel = [abs(r["bytes"] - r["truth_bytes"]) / max(r["truth_bytes"], BYTES_FLOOR) for r in rows if r.get("bytes") is not None]
    exp_rel = [abs(r["exporter_bytes"] - r["truth_bytes"]) / max(r["truth_bytes"], BYTES_FLOOR)
               for r in rows if r.get("exporter_bytes") is not None]
    # "10% or 64 kB": the share of probes within it
    within = [abs(r["bytes"] - r["truth_bytes"]) <= max(0.1 * r["truth_bytes"], BYTES_FLOOR)
              for r in rows if r.get("bytes") is not None]
    # relative error once pgvigil shows the pause (its replica sample saw it)
    flagged = [abs(r["bytes"] - r["truth_bytes"]) / r["truth_bytes"] for r in rows
               if r.get("paused") and r.get("bytes") is not None and r["truth_bytes"] >= BYTES_FLOOR]
    print("%-13s n=%-3d truth: bytes max %9d, seconds max %6.2f; estimated in %d probes"
          % (name, len(rows), max([r["truth_bytes"] for r in rows] or [0]), max([r["truth_seconds"] for r in rows] or [0]),
             sum(1 for r in rows if r.get("estimated"))))
    print("   %-22s %s" % ("seconds |err| (s)", "pgvigil med/p95/max %s   exporter med/p95/max %s" % (fmt(sec), fmt(exp_sec))))
    print("   %-22s %s" % ("bytes |err| (kB)", "pgvigil med/p95/max %s" % fmt(byt, 1 / 1024.0)))
    print("   %-22s %s" % ("bytes |err|/max(truth,64k)", "pgvigil med/p95/max %s   exporter(primary view) %s"
                           % (fmt(rel, 100, "%"), fmt(exp_rel, 100, "%"))))
    skew = [abs(r["truth_skew_ms"]) for r in rows if r.get("truth_skew_ms") is not None]
    if skew:
        print("   %-22s med/p95/max %6.1f %6.1f %7.1f ms apart" % ("truth's two reads", statistics.median(skew),
                                                                   pct(skew, 0.95), max(skew)))
        out["truth_skew_ms"] = {"median": statistics.median(skew), "p95": pct(skew, 0.95), "max": max(skew)}
    if within:
        print("   %-22s %d of %d probes" % ("bytes within 10%/64k", sum(within), len(within)))
        out["bytes_within_10pct_or_64k"] = sum(within) / len(within)
    if flagged:
        print("   %-22s pgvigil med/p95/max %s" % ("bytes |err|/truth, paused shown", fmt(flagged, 100, "%")))
    shown = [i for i, r in enumerate(rows) if r.get("paused")]
    if shown:
        # Probes before pgvigil showed the pause read the replica's last
        # sample, taken while it still replayed: no figure can know better.
        print("   %-22s from probe %d (%.2f s): %d probes before it" % ("pause shown", shown[0],
                                                                     rows[shown[0]]["t"] - rows[0]["t"], shown[0]))
        out["probes_before_pause_shown"] = shown[0]
    for key, errs in (("seconds", sec), ("exporter_seconds", exp_sec), ("bytes", byt), ("bytes_rel", rel),
                      ("exporter_bytes_rel", exp_rel), ("bytes_rel_paused_shown", flagged)):
        if errs:
            out[key] = {"median": statistics.median(errs), "p95": pct(errs, 0.95), "max": max(errs)}
    return out


def probe_lines(rows, seconds):
    """Every probe of the first `seconds` of a scenario, one line each."""
    for r in rows:
        at = r["t"] - rows[0]["t"]
        if at > seconds:
            break
        err = (r["bytes"] or 0) - r["truth_bytes"]
        print("     %5.2fs truth %8d B %6.2f s | pgvigil %8s B %6s s %-12s %-6s | err %+8d B %5.1f%% | "
              "reads %4.1f ms apart, API read %3.0f ms after"
              % (at, r["truth_bytes"], r["truth_seconds"], r["bytes"],
                 "%.2f" % r["seconds"] if r["seconds"] is not None else "-",
                 "estimated" if r["estimated"] else "interpolated", "paused" if r["paused"] else "",
                 err, 100.0 * abs(err) / max(r["truth_bytes"], BYTES_FLOOR), abs(r["truth_skew_ms"]),
                 (r["api_t"] - r["t"]) * 1000))


def main():
    bench = Bench()
    results = []
    try:
        print("lag truth: collector interval %s, pgbench %d tps, phases of %.0f s, probes every %.1f s"
              % (INTERVAL, TPS, PHASE, PROBE))
        for name in SCENARIOS:
            rows = getattr(bench, "s_" + name)()
            results.append(report(name, rows))
            if VERBOSE:
                probe_lines(rows, VERBOSE)
            if os.environ.get("LAG_TRUTH_ROWS"):
                with open(os.environ["LAG_TRUTH_ROWS"], "a") as f:
                    for r in rows:
                        f.write(json.dumps(dict(r, scenario=name)) + "\n")
            sys.stdout.flush()
    finally:
        if os.environ.get("LAG_TRUTH_WAL"):
            with open(os.environ["LAG_TRUTH_WAL"], "w") as f:
                json.dump(bench.history.points, f)
        bench.close()
    print(json.dumps({"lag_truth": results}))


if __name__ == "__main__":
    main()
