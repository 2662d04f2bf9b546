"""The body of deploy/demo.sh: a small fleet with a story.

A primary and a streaming replica (cluster "demo-shop", named in the
aggregator's config by its system identifier) under a pgbench write load, a
collector next to each, and the aggregator with its history in a third,
local PostgreSQL, behind API tokens (one viewer, one operator, printed at
start; nothing is open without one). Half a minute in, an incident: WAL
replay is paused on the replica (pg_wal_replay_pause()), the lag grows, the
replay_paused and replication_lag alerts fire and are delivered to a webhook
receiver, a small HTTP server in this process that prints each delivery
(and checks its signature) in the console; then replay is resumed and the
resolutions arrive the same way. A one-line summary per node every few
seconds comes from the aggregator's API.

Uses the project's test harness, which stops every server and removes the
temporary directory on exit or on SIGINT/SIGTERM.

DEMO_SECONDS=N (or --check, 90 s unless DEMO_SECONDS says otherwise): run
at least N seconds (longer, by at most a minute, until the incident is
over); exit 0 only if both nodes were up in the API and both the firing and
the resolution of the lag alert were delivered to the webhook, 1 otherwise.
"""

import hashlib
import hmac
import http.server
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))

from pgvigil_harness import (PG_BIN, PgCluster, Process, TestDir, api_tokens, binary, collector_config,  # noqa: E402
                             free_port, start_collector, wait_for)

CLUSTER_NAME = "demo-shop"
LAG_RULE = "replication_lag"


def port_or_free(preferred):
    if preferred <= 0:
        return free_port()
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
            return preferred
        except OSError:
            return free_port()


def stamp():
    return time.strftime("%H:%M:%S")


class WebhookSink:
    """The demo's webhook receiver: prints every delivery as it arrives and
    keeps (kind, rule, alert id) of each."""

    def __init__(self):
        self.secret = secrets.token_hex(16)
        self.deliveries = []
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()
                sink.received(body, self.headers.get("X-Pgvigil-Signature", ""))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = "http://127.0.0.1:%d/pgvigil" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, body, signature):
        expected = "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
        try:
            doc = json.loads(body)
            alert = doc.get("alert", {})
        except ValueError:
            print("%s webhook: a delivery that is not JSON: %r" % (stamp(), body[:200]), flush=True)
            return
        kind = doc.get("kind", "?")
        severity = "" if kind == "resolved" else alert.get("severity", "")
        print("%s webhook <- %-9s %-8s %s on %s (%s): %s   [signature %s]"
              % (stamp(), kind.upper(), severity, alert.get("rule", "?"), alert.get("node", "?"),
                 alert.get("cluster", "?"), alert.get("summary", ""),
                 "ok" if hmac.compare_digest(signature, expected) else "WRONG"), flush=True)
        with self.lock:
            self.deliveries.append((kind, alert.get("rule"), alert.get("id")))

    def seen(self, kind, rule, alert_id=None):
        """The id of an alert of rule delivered as kind (and with alert_id if given), else None."""
        with self.lock:
            for k, r, i in self.deliveries:
                if k == kind and r == rule and (alert_id is None or i == alert_id):
                    return i
        return None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Api:
    def __init__(self, base, token):
        self.base, self.token = base, token

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={"Authorization": "Bearer " + self.token})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def reachable(self):
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5):
                return True
        except OSError:
            return False


AGGREGATOR_CONFIG = """\
listen:
  ingest: [%(ingest)s]
  http: 127.0.0.1:%(http)d
storage:
  dsn: "host=127.0.0.1 port=%(history)d user=postgres dbname=pgvigil"
  spool_dir: %(spool)s
clusters:
  - {system_identifier: "%(sysid)s", name: %(name)s}
stale_intervals: 5
# The demo's incident should fire within seconds: shorter holds than the defaults.
rules:
  - {name: replay_paused, for: 2s}
  - {name: replication_lag, warning: 4, critical: 30, clear: 2, for: 2s}
receivers:
  - {name: demo-webhook, type: webhook, url: "%(hook)s", secret: "%(secret)s"}
delivery: {retry_initial: 1s, retry_max: 5s, give_up_after: 1m, timeout: 5s}
auth:
  anonymous: none
  tokens:
%(tokens)s
"""


def start_aggregator(d, sysid, sink, token_entries):
    """The aggregator, with its history in a database of its own."""
    history = PgCluster(d, replicas=0, pg_stat_statements=False, name="history").start()
    history.psql("primary", "CREATE DATABASE pgvigil")
    ingest = "tcp://127.0.0.1:%d" % free_port()
    http = port_or_free(int(os.environ.get("DEMO_HTTP_PORT", "8080")))
    cfg = d.file("aggregator.yaml", AGGREGATOR_CONFIG % {
        "ingest": ingest, "http": http, "history": history.port("primary"), "spool": d.sub("spool"),
        "sysid": sysid, "name": CLUSTER_NAME, "hook": sink.url, "secret": sink.secret, "tokens": token_entries})
    agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
    return agg, ingest, "http://127.0.0.1:%d" % http, history, cfg


def start_pgbench(d, cluster):
    """pgbench's tables on the primary, then a light, steady write load (50 transactions/s)."""
    port = str(cluster.port("primary"))
    pgbench = os.path.join(PG_BIN, "pgbench")
    cluster.psql("primary", "CREATE DATABASE shop")
    subprocess.run([pgbench, "-i", "-q", "-s", "2", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "shop"],
                   check=True, timeout=120, capture_output=True)
    return Process(d, "pgbench", [pgbench, "-n", "-c", "2", "-R", "50", "-T", "86400", "-P", "3600",
                                  "-h", "127.0.0.1", "-p", port, "-U", "postgres", "shop"])


def summary(api):
    lines = []
    for c in api.get("/api/v1/clusters")["clusters"]:
        lines.append("  cluster %s (%s) primary=%s" % (c["name"], c["status"], c["primary"]))
        for n in c["nodes"]:
            line = "    %-8s %-8s %s" % (n["node"], n["role"], n["state"])
            if n.get("lag"):
                line += "  lag %d bytes, %.2f s" % (n["lag"]["bytes"], n["lag"]["seconds"])
            lines.append(line)
    return "\n".join(lines)


def banner(cluster, history, base, tokens, cfg, d, incident_at):
    print("demo: running\n"
          "  cluster     %s: primary 127.0.0.1:%d (psql -h 127.0.0.1 -p %d -U postgres shop), replica 127.0.0.1:%d\n"
          "  load        pgbench, 2 clients, 50 transactions/s on the primary\n"
          "  history     127.0.0.1:%d  database pgvigil\n"
          "  dashboard   %s/   (sign in with a token below)\n"
          "  viewer      token %s\n"
          "  operator    token %s   (acknowledge, resolve, silence)\n"
          "  status page %s/status   (public)\n"
          "  API         curl -H 'Authorization: Bearer <token>' %s/api/v1/clusters\n"
          "  incident    %.0f s from now: WAL replay paused on the replica; watch %s/#/node/replica\n"
          "  config      %s\n"
          "  logs        %s\n"
          "demo: press Ctrl-C to stop"
          % (CLUSTER_NAME, cluster.port("primary"), cluster.port("primary"), cluster.port("replica"),
             history.port("primary"), base, tokens["viewer"], tokens["operator"], base, base, incident_at, base,
             cfg, d.path),
          flush=True)


class Incident:
    """Replay paused on the replica at `at` seconds, resumed once the lag
    alert's firing was delivered (plus a few seconds), over when its
    resolution was delivered."""

    def __init__(self, cluster, sink, at):
        self.cluster, self.sink, self.at = cluster, sink, at
        self.phase, self.since, self.alert_id = "waiting", 0.0, None

    def step(self, elapsed):
        if self.phase == "waiting" and elapsed >= self.at:
            self.cluster.pause_replay("replica")
            print("%s demo: INCIDENT: WAL replay paused on the replica (SELECT pg_wal_replay_pause()); "
                  "the primary keeps writing" % stamp(), flush=True)
            self.phase, self.since = "paused", elapsed
        elif self.phase == "paused":
            self.alert_id = self.alert_id or self.sink.seen("firing", LAG_RULE)
            fired_long_enough = self.alert_id and elapsed - self.since > 12
            if fired_long_enough or elapsed - self.since > 60:
                self.cluster.resume_replay("replica")
                print("%s demo: WAL replay resumed on the replica (SELECT pg_wal_replay_resume())" % stamp(),
                      flush=True)
                self.phase, self.since = "resumed", elapsed
        elif self.phase == "resumed" and self.alert_id and self.sink.seen("resolved", LAG_RULE, self.alert_id):
            print("%s demo: incident over: the lag alert fired and was resolved, both delivered" % stamp(),
                  flush=True)
            self.phase = "over"

    def told(self):
        return self.phase == "over"


def run(seconds, cluster, agg, collectors, pgbench, api, incident):
    """The main loop; True if both nodes were last seen up."""
    started = time.monotonic()
    ok, last_summary = False, 0.0
    while True:
        elapsed = time.monotonic() - started
        if seconds and elapsed >= seconds and (incident.told() or incident.phase == "waiting"
                                               or elapsed >= seconds + 60):
            return ok
        time.sleep(1)
        for p in collectors + [agg, pgbench]:
            if not p.running():
                print("demo: %s exited:\n%s" % (p.name, p.log_text()), file=sys.stderr)
                return False
        incident.step(elapsed)
        if elapsed - last_summary < 5:
            continue
        last_summary = elapsed
        try:
            print(stamp() + "\n" + summary(api), flush=True)
            nodes = [n for c in api.get("/api/v1/clusters")["clusters"] for n in c["nodes"]]
            ok = len(nodes) == 2 and all(n["up"] for n in nodes)
        except OSError as e:
            print("demo: API not answering: %s" % e, file=sys.stderr)


def main():
    for arg in sys.argv[1:]:
        if arg != "--check":
            print("usage: deploy/demo.sh [--check]", file=sys.stderr)
            return 2
    seconds = float(os.environ.get("DEMO_SECONDS", "90" if "--check" in sys.argv[1:] else "0"))
    d = TestDir(prefix="pgvigil-demo-")
    print("demo: starting PostgreSQL (primary, replica, history) in %s ..." % d.path, flush=True)
    cluster = PgCluster(d).start()
    sysid = cluster.psql("primary", "SELECT system_identifier FROM pg_control_system()")[0][0]
    sink = WebhookSink()
    tokens, entries = api_tokens("viewer", "operator")
    agg, ingest, base, history, cfg = start_aggregator(d, sysid, sink, entries)
    api = Api(base, tokens["viewer"])
    wait_for(api.reachable, 20, what="the aggregator's HTTP API")
    pgbench = start_pgbench(d, cluster)
    collectors = []
    for node in ("primary", "replica"):
        c = collector_config(d, node + ".yaml", node, cluster.dsn(node), [ingest], region="local",
                             extra="interval: 1s\n")
        collectors.append(start_collector(d, c, "collector-" + node))
    # Half a minute in, or a third of a shorter run.
    incident = Incident(cluster, sink, min(30.0, seconds / 3) if seconds else 30.0)
    banner(cluster, history, base, tokens, cfg, d, incident.at)
    try:
        ok = run(seconds, cluster, agg, collectors, pgbench, api, incident)
    finally:
        if incident.phase == "paused":
            cluster.resume_replay("replica")
        sink.stop()
    told = incident.told()
    print("demo: %s; %s" % ("both nodes up in the API" if ok else "NODES MISSING FROM THE API",
                            "the incident's firing and resolution were delivered" if told
                            else "THE INCIDENT'S DELIVERIES DID NOT BOTH ARRIVE (phase %s)" % incident.phase),
          flush=True)
    return 0 if ok and told else 1


if __name__ == "__main__":
    sys.exit(main())
