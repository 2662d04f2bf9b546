"""Driver of alert_latency.sh (see there)."""

import json
import os
import random
import statistics
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))

from pgvigil_harness import (PgCluster, Process, TestDir, Writer, binary, collector_config, free_port,
                             start_collector, wait_for)
from pgvigil_sinks import HttpSink

TRIALS = int(os.environ.get("TRIALS", "10"))
SCENARIOS = os.environ.get("SCENARIOS", "lag,down").split(",")
THRESHOLD = float(os.environ.get("THRESHOLD", "1"))
TIMEOUT = 60


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def get_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def start_pgvigil(d, cluster, sink):
    ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
    cfg = d.file("aggregator.yaml", """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
stale_intervals: 3
rules:
  - {name: replication_lag, metric: replication_lag_seconds, warning: %g, critical: 3600, for: 0s}
  - {name: node_down, metric: node_up, op: "<", critical: 1, for: 0s}
receivers:
  - {name: hook, type: webhook, url: "%s/pgvigil", secret: bench}
escalation:
  normal: [{after: 0s, receivers: [hook]}]
flapping: {transitions: 0}   # the trials repeat the same fault on purpose
""" % (ingest, http, THRESHOLD, sink.url))
    agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
    base = "http://127.0.0.1:%d" % http
    wait_for(lambda: http_ok(base + "/healthz"), 20, what="aggregator")
    for node in ("primary", "replica"):
        c = collector_config(d, "collector-%s.yaml" % node, node, cluster.dsn(node), [ingest],
                             extra="interval: 1s\n")
        start_collector(d, c, "collector-" + node)
    return agg, base


def start_prometheus(d, cluster, sink):
    cluster.psql("primary", "CREATE ROLE exporter LOGIN IN ROLE pg_monitor")
    # The replication lag query is not built in: deployments add it through
    # --extend.query-path, as here (lag = now() - last replayed commit).
    queries = d.file("queries.yaml", """
pg_replication:
  query: "SELECT CASE WHEN pg_is_in_recovery() THEN GREATEST(0, EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())) ELSE 0 END AS lag"
  master: true
  metrics:
    - lag: {usage: GAUGE, description: "seconds since the last replayed commit"}
""")
    targets = {}
    for node in ("primary", "replica"):
        port = free_port()
        Process(d, "exporter-" + node, ["prometheus-postgres-exporter", "--web.listen-address=127.0.0.1:%d" % port,
                                        "--extend.query-path=" + queries],
                env={"DATA_SOURCE_NAME": "postgresql://exporter@127.0.0.1:%d/postgres?sslmode=disable"
                                         % cluster.port(node)})
        wait_for(lambda: http_ok("http://127.0.0.1:%d/metrics" % port), 20, what="exporter")
        targets[node] = "127.0.0.1:%d" % port
    am_port = free_port()
    am_cfg = d.file("alertmanager.yml", """
route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: "%s/alertmanager", send_resolved: true}]
""" % sink.url)
    Process(d, "alertmanager", ["prometheus-alertmanager", "--config.file=" + am_cfg,
                                "--storage.path=" + d.sub("alertmanager"),
                                "--web.listen-address=127.0.0.1:%d" % am_port, "--cluster.listen-address="])
    wait_for(lambda: http_ok("http://127.0.0.1:%d/-/ready" % am_port), 30, what="alertmanager")
    rules = d.file("rules.yml", """
groups:
  - name: bench
    interval: 1s
    rules:
      - alert: ReplicationLag
        expr: pg_replication_lag{node="replica"} > %g
        for: 0s
      - alert: NodeDown
        expr: pg_up{node="primary"} == 0 or up{node="primary"} == 0
        for: 0s
""" % THRESHOLD)
    prom_port = free_port()
    prom_cfg = d.file("prometheus.yml", """
global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}
rule_files: [%s]
alerting:
  alertmanagers: [{static_configs: [{targets: ["127.0.0.1:%d"]}]}]
scrape_configs:
  - job_name: postgres
    static_configs:
      - {targets: ["%s"], labels: {node: primary}}
      - {targets: ["%s"], labels: {node: replica}}
""" % (rules, am_port, targets["primary"], targets["replica"]))
    Process(d, "prometheus", ["prometheus", "--config.file=" + prom_cfg, "--storage.tsdb.path=" + d.sub("prom"),
                              "--web.listen-address=127.0.0.1:%d" % prom_port])
    base = "http://127.0.0.1:%d" % prom_port
    wait_for(lambda: http_ok(base + "/-/ready"), 30, what="prometheus")
    wait_for(lambda: get_json(base + "/api/v1/query?query=pg_replication_lag")["data"]["result"], 30,
             what="pg_replication_lag scraped")
    return base


def prom_debug(base):
    for q in ("pg_up", "up", "ALERTS"):
        try:
            print("  %s: %s" % (q, [(r["metric"].get("node"), r["metric"].get("alertname"), r["value"][1])
                                   for r in get_json(base + "/api/v1/query?query=" + q)["data"]["result"]]))
        except Exception as e:
            print("  %s: %s" % (q, e))


def first_after(sink, path, t0, match):
    for r in sink.received(path):
        if r["at"] >= t0 and match(json.loads(r["body"])):
            return r["at"]
    return None


def pgvigil_firing(rule):
    return lambda p: p.get("kind") == "firing" and p["alert"]["rule"] == rule


def pgvigil_resolved(rule):
    return lambda p: p.get("kind") == "resolved" and p["alert"]["rule"] == rule


def am_status(alertname, status):
    return lambda p: p.get("status") == status and any(a["labels"].get("alertname") == alertname
                                                       for a in p.get("alerts", []))


def trial(sink, t0, rules):
    """Wait for both stacks' firing webhooks; return their latencies (s)."""
    (pg_rule, am_rule) = rules
    deadline = time.time() + TIMEOUT
    while True:
        a = first_after(sink, "/pgvigil", t0, pgvigil_firing(pg_rule))
        b = first_after(sink, "/alertmanager", t0, am_status(am_rule, "firing"))
        if a and b:
            return a - t0, b - t0
        if time.time() > deadline:
            raise TimeoutError("no %s within %d s" % (" and ".join(
                n for n, v in (("pgvigil " + pg_rule, a), ("alertmanager " + am_rule, b)) if not v), TIMEOUT))
        time.sleep(0.02)


def recover(sink, t_fix, rules):
    (pg_rule, am_rule) = rules
    wait_for(lambda: first_after(sink, "/pgvigil", t_fix, pgvigil_resolved(pg_rule)) and
             first_after(sink, "/alertmanager", t_fix, am_status(am_rule, "resolved")), TIMEOUT,
             what="both resolved")
    time.sleep(2)


def summary(values):
    v = sorted(values)
    return {"n": len(v), "median_ms": statistics.median(v) * 1000, "p90_ms": v[int(0.9 * (len(v) - 1))] * 1000,
            "min_ms": v[0] * 1000, "max_ms": v[-1] * 1000}


def main():
    d = TestDir(prefix="pgvigil-bench-alerts-")
    cluster = PgCluster(d, pg_stat_statements=False).start()
    cluster.psql("primary", "CREATE TABLE bench_load (at timestamptz)")
    sink = HttpSink()
    agg, pg_base = start_pgvigil(d, cluster, sink)
    prom_base = start_prometheus(d, cluster, sink)
    writer = Writer(lambda: cluster.psql("primary", "INSERT INTO bench_load SELECT now()", timeout=5))
    time.sleep(5)
    results = {}
    try:
        for scenario in SCENARIOS:
            ours, theirs = [], []
            rules = ("replication_lag", "ReplicationLag") if scenario == "lag" else ("node_down", "NodeDown")
            for i in range(TRIALS):
                time.sleep(random.random())  # a random phase against both stacks' 1 s cycles
                t0 = time.time()
                if scenario == "lag":
                    cluster.pause_replay()
                else:
                    cluster.stop("primary", mode="immediate")
                try:
                    a, b = trial(sink, t0, rules)
                except TimeoutError:
                    prom_debug(prom_base)
                    raise
                finally:
                    t_fix = time.time()
                    if scenario == "lag":
                        cluster.resume_replay()
                    else:
                        cluster.start_node("primary")
                ours.append(a)
                theirs.append(b)
                print("%-5s trial %2d: pgvigil %6.0f ms   prometheus+alertmanager %6.0f ms"
                      % (scenario, i + 1, a * 1000, b * 1000), flush=True)
                recover(sink, t_fix, rules)
            results[scenario] = {"pgvigil": summary(ours), "prometheus": summary(theirs)}
            results[scenario]["ratio"] = results[scenario]["prometheus"]["median_ms"] / \
                results[scenario]["pgvigil"]["median_ms"]
            if scenario == "lag":  # the part both stacks share: lag has to reach the threshold
                for k in ("pgvigil", "prometheus"):
                    results[scenario][k]["median_minus_threshold_ms"] = \
                        results[scenario][k]["median_ms"] - THRESHOLD * 1000
    finally:
        writer.stop()
    print()
    print("fault -> webhook, %d trials each, 1 s collection/scrape/evaluation, for: 0s" % TRIALS)
    print("%-6s %-26s %9s %9s %9s %9s" % ("fault", "stack", "median", "p90", "min", "max"))
    for scenario, r in results.items():
        for k, label in (("pgvigil", "pgvigil"), ("prometheus", "prometheus+alertmanager")):
            s = r[k]
            print("%-6s %-26s %7.0fms %7.0fms %7.0fms %7.0fms" % (scenario, label, s["median_ms"], s["p90_ms"],
                                                                   s["min_ms"], s["max_ms"]))
        print("%-6s ratio of medians (prometheus / pgvigil): %.2f" % (scenario, r["ratio"]))
        if scenario == "lag":
            print("%-6s medians minus the %.1f s the lag needs to reach the threshold: pgvigil %.0f ms, prometheus"
                  " %.0f ms (a replica already a little behind at the pause crosses it sooner)"
                  % (scenario, THRESHOLD, r["pgvigil"]["median_minus_threshold_ms"],
                     r["prometheus"]["median_minus_threshold_ms"]))
    print(json.dumps(results))
    agg.stop()
    cluster.stop_all()
    d.remove()


if __name__ == "__main__":
    main()
