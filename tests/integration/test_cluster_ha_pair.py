"""Acceptance: an HA pair of aggregators coordinated through a real Redis,
sharing one history database, both receiving every sample of one real
primary + replica. A fault that fires, escalates one tier and resolves
produces exactly one request per transition per receiver (webhook, SMTP,
PagerDuty), though both aggregators hear it; both APIs show the cluster with
the same owner, /metrics shows who owns it, /readyz is ready."""

import json
import time
import unittest
import urllib.error
import urllib.request

from pgvigil_cluster import cluster_section
from pgvigil_harness import (PgCluster, Process, Redis, TestDir, Writer, binary, collector_config, free_port,
                             start_collector, wait_for)
from pgvigil_sinks import HttpSink, SmtpSink


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = r.read().decode()
            return r.status, (json.loads(body) if body.startswith(("{", "[")) else body)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")


class ClusterHaPairTest(unittest.TestCase):
    aggs = {}

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            for name, (proc, _) in self.aggs.items():
                print("---- %s log (last 40 lines) ----\n%s" % (name, "\n".join(proc.log_text().splitlines()[-40:])))
        return out

    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir(prefix="pgvigil-ha-")
        cls.cluster = PgCluster(cls.dir).start()
        cls.cluster.psql("primary", "CREATE TABLE ha_load (at timestamptz)")
        cls.history = PgCluster(TestDir(prefix="pgvigil-ha-history-"), replicas=0, pg_stat_statements=False,
                                name="history").start()
        cls.history.psql("primary", "CREATE DATABASE pgvigil")
        cls.dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.history.port("primary")
        cls.redis = Redis(cls.dir)
        cls.sink, cls.smtp = HttpSink(), SmtpSink()
        for name in ("agg-a", "agg-b"):
            cls.start_aggregator(name)
        endpoints = [ingest for _, (_, (ingest, _)) in sorted(cls.aggs.items())]
        cls.collectors = []
        for node in ("primary", "replica"):
            c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), endpoints,
                                 region="eu-west", extra="interval: 500ms\n")
            cls.collectors.append(start_collector(cls.dir, c, "collector-" + node))
        wait_for(lambda: all(cls.owner(n) for n in cls.aggs), 30, what="the cluster owned, seen by both")

    @classmethod
    def start_aggregator(cls, name):
        ingest, port = "tcp://127.0.0.1:%d" % free_port(), free_port()
        config = cls.dir.file(name + ".yaml", """
listen: {ingest: [%(ingest)s], http: "127.0.0.1:%(http)d"}
storage: {dsn: "%(dsn)s", spool_dir: %(spool)s}
stale_intervals: 8
rules:
  - {name: replication_lag, metric: replication_lag_seconds, warning: 6, critical: 600, for: 1s}
  - {name: node_down, for: 2s}
  - {name: replica_disconnected, enabled: false}
regions: {eu-west: {timezone: Europe/London}}
peak: {days: []}
receivers:
  - {name: hook, type: webhook, url: "%(sink)s/hook"}
  - {name: mail, type: email, url: "smtp://127.0.0.1:%(smtp)d", from: pgvigil@example.org,
     to: [oncall@example.org], tls: none}
  - {name: pager, type: pagerduty, url: "%(sink)s/pagerduty", routing_key_env: PGVIGIL_TEST_PD_KEY}
escalation:
  normal: [{after: 0s, receivers: [hook, mail]}, {after: 6s, receivers: [pager]}]
flapping: {transitions: 0}
delivery: {retry_initial: 200ms, retry_max: 2s, breaker_failures: 3, breaker_cooldown: 1s, timeout: 2s}
%(cluster)s""" % {"ingest": ingest, "http": port, "dsn": cls.dsn, "spool": cls.dir.sub("spool-" + name),
                  "sink": cls.sink.url, "smtp": cls.smtp.port,
                  "cluster": cluster_section(name, redis=cls.redis, lease_ttl="2s", publish_interval="500ms")})
        proc = Process(cls.dir, name, [binary("pgvigil-aggregator"), "-c", config],
                       env={"PGVIGIL_TEST_PD_KEY": "pd-routing-key"})
        cls.aggs[name] = (proc, (ingest, "http://127.0.0.1:%d" % port))
        wait_for(lambda: cls.up(name) or not proc.running(), 20, what=name + " HTTP")
        if not proc.running():
            raise RuntimeError("%s exited:\n%s" % (name, proc.log_text()))

    @classmethod
    def base(cls, name):
        return cls.aggs[name][1][1]

    @classmethod
    def up(cls, name):
        try:
            return get(cls.base(name) + "/healthz")[0] == 200
        except OSError:
            return False

    @classmethod
    def owner(cls, name):
        status, body = get(cls.base(name) + "/api/v1/clusters")
        clusters = body.get("clusters", []) if status == 200 else []
        return clusters[0].get("owner") if len(clusters) == 1 else None

    @classmethod
    def tearDownClass(cls):
        for c in cls.collectors:
            c.stop()
        rcs = {name: proc.stop() for name, (proc, _) in cls.aggs.items()}
        cls.cluster.stop_all()
        cls.history.stop_all()
        cls.redis.stop()
        cls.dir.remove()
        assert all(rc == 0 for rc in rcs.values()), rcs

    def hook(self, kind):
        return [json.loads(r["body"]) for r in self.sink.received("/hook") if json.loads(r["body"])["kind"] == kind]

    def pager(self, action):
        return [p for p in (json.loads(r["body"]) for r in self.sink.received("/pagerduty"))
                if p.get("event_action") == action]

    def mails(self, kind):
        return [m for m in self.smtp.received()
                if any(l.startswith("Subject:") and " %s " % kind.upper() in l for l in m["data"].splitlines())]

    def test_one_request_per_transition_per_receiver(self):
        owners = {name: self.owner(name) for name in self.aggs}
        self.assertEqual(len(set(owners.values())), 1, owners)
        owner = owners["agg-a"]
        self.assertIn(owner, self.aggs)
        for name in self.aggs:
            self.assertEqual(get(self.base(name) + "/readyz")[0], 200)
            metrics = get(self.base(name) + "/metrics")[1]
            self.assertIn("pgvigil_cluster_degraded 0", metrics)
            self.assertEqual("pgvigil_cluster_owner_epoch{" in metrics, name == owner, name)

        self.cluster.pause_replay()
        writer = Writer(lambda: self.cluster.psql("primary", "INSERT INTO ha_load SELECT now()"))
        try:
            wait_for(lambda: self.hook("firing"), 40, what="the firing webhook")
            wait_for(lambda: self.mails("firing"), 10, what="the firing mail")
            wait_for(lambda: self.pager("trigger"), 20, what="tier 2 (PagerDuty)")
        finally:
            writer.stop()
            self.cluster.resume_replay()
        wait_for(lambda: self.hook("resolved") and self.mails("resolved") and self.pager("resolve"), 40,
                 what="the resolution to every receiver notified")
        time.sleep(3)  # anything doubled would have arrived by now
        self.assertEqual(len(self.hook("firing")), 1, self.hook("firing"))
        self.assertEqual(len(self.hook("resolved")), 1)
        self.assertEqual(len(self.mails("firing")), 1)
        self.assertEqual(len(self.mails("resolved")), 1)
        self.assertEqual(len(self.pager("trigger")), 1)
        self.assertEqual(len(self.pager("resolve")), 1)
        alert_ids = {p["alert"]["id"] for p in self.hook("firing") + self.hook("resolved")}
        self.assertEqual(len(alert_ids), 1)
        # every transition stored once (only the owner writes): pending, firing,
        # the two tiers reached, resolved
        rows = self.history.psql("primary", "SELECT from_state, to_state, detail, count(*) FROM alert_events "
                                 "WHERE alert_id = %d GROUP BY 1, 2, 3" % alert_ids.pop(), dbname="pgvigil")
        self.assertGreaterEqual(len(rows), 4, rows)
        self.assertTrue(all(int(r[3]) == 1 for r in rows), rows)

if __name__ == "__main__":
    unittest.main()
