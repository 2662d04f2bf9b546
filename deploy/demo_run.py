"""The body of deploy/demo.sh: a primary, a streaming replica, a collector
next to each, and the aggregator with its history in a third, local
PostgreSQL, with a one-line summary per node every few seconds from the
aggregator's API. Uses the project's test harness, which stops every server
and removes the temporary directory on exit or on SIGINT/SIGTERM.

DEMO_SECONDS=N (or --check, 30 s unless DEMO_SECONDS says otherwise): run N
seconds, exit 0 if the API showed both nodes up, 1 otherwise."""

import json
import os
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))

from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port,
                             start_collector, wait_for)


def port_or_free(preferred):
    if preferred <= 0:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def api(base, path):
    with urllib.request.urlopen(base + path, timeout=5) as r:
        return json.loads(r.read())


def start_aggregator(d):
    """The aggregator, with its history in a database of its own."""
    history = PgCluster(d, replicas=0, pg_stat_statements=False, name="history").start()
    history.psql("primary", "CREATE DATABASE pgvigil")
    ingest = "tcp://127.0.0.1:%d" % free_port()
    http = port_or_free(int(os.environ.get("DEMO_HTTP_PORT", "8080")))
    cfg = d.file("aggregator.yaml",
                 "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\n"
                 "storage:\n  dsn: \"host=127.0.0.1 port=%d user=postgres dbname=pgvigil\"\n"
                 "  spool_dir: %s\n" % (ingest, http, history.port("primary"), d.sub("spool")))
    agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
    base = "http://127.0.0.1:%d" % http
    wait_for(lambda: _reachable(base), 20, what="the aggregator's HTTP API")
    return agg, ingest, base, history


def _reachable(base):
    try:
        api(base, "/healthz")
        return True
    except OSError:
        return False


def summary(base):
    lines = []
    for c in api(base, "/api/v1/clusters")["clusters"]:
        lines.append("  cluster %s (%s) primary=%s" % (c["name"], c["status"], c["primary"]))
        for n in c["nodes"]:
            line = "    %-8s %-8s %s" % (n["node"], n["role"], n["state"])
            if n.get("lag"):
                line += "  lag %d bytes, %.2f s" % (n["lag"]["bytes"], n["lag"]["seconds"])
            lines.append(line)
    return "\n".join(lines)


def main():
    for arg in sys.argv[1:]:
        if arg != "--check":
            print("usage: deploy/demo.sh [--check]", file=sys.stderr)
            return 2
    seconds = float(os.environ.get("DEMO_SECONDS", "30" if "--check" in sys.argv[1:] else "0"))
    d = TestDir(prefix="pgvigil-demo-")
    print("demo: starting PostgreSQL (primary, replica, history) in %s ..." % d.path, flush=True)
    cluster = PgCluster(d).start()
    agg, ingest, base, history = start_aggregator(d)
    collectors = []
    for node in ("primary", "replica"):
        cfg = collector_config(d, node + ".yaml", node, cluster.dsn(node), [ingest], region="local")
        collectors.append(start_collector(d, cfg, "collector-" + node))
    print("demo: running\n"
          "  primary     127.0.0.1:%d  (psql -h 127.0.0.1 -p %d -U postgres)\n"
          "  replica     127.0.0.1:%d\n"
          "  history     127.0.0.1:%d  database pgvigil\n"
          "  dashboard   %s/  (no auth section in the demo: open to anyone on this machine)\n"
          "  status page %s/status\n"
          "  API         %s/api/v1/clusters\n"
          "              %s/api/v1/health?type=quick\n"
          "              %s/api/v1/nodes/replica/lag?from=-15m\n"
          "              %s/api/v1/events\n"
          "  metrics     %s/metrics\n"
          "  logs        %s\n"
          "demo: press Ctrl-C to stop" % (cluster.port("primary"), cluster.port("primary"),
                                          cluster.port("replica"), history.port("primary"),
                                          base, base, base, base, base, base, base, d.path), flush=True)
    started = time.monotonic()
    ok = False
    while not seconds or time.monotonic() - started < seconds:
        time.sleep(min(3, seconds) if seconds else 3)
        cluster.write_load(rows=200)
        for p in collectors + [agg]:
            if not p.running():
                print("demo: %s exited:\n%s" % (p.name, p.log_text()), file=sys.stderr)
                return 1
        try:
            print(time.strftime("%H:%M:%S") + "\n" + summary(base), flush=True)
            nodes = [n for c in api(base, "/api/v1/clusters")["clusters"] for n in c["nodes"]]
            ok = len(nodes) == 2 and all(n["up"] for n in nodes)
        except OSError as e:
            print("demo: API not answering: %s" % e, file=sys.stderr)
    print("demo: %s" % ("both nodes up in the API" if ok else "NODES MISSING FROM THE API"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
