"""Alerting end to end: a real primary and replica, real collectors, the
aggregator with a history database, a real HTTP sink (webhook and PagerDuty
paths) and a real SMTP sink.

Proves, in order:
 1. replay paused with writes -> replication_lag goes pending, then firing;
    the webhook carries an HMAC-SHA256 signature that verifies; the SMTP
    sink gets the mail; acknowledging through the API stops the climb to
    tier 2; resuming sends the resolution to every receiver that was
    notified (and to no other);
 2. the webhook receiver down for 20 s, with an aggregator restart in the
    middle: the firing notification is retried and delivered exactly once
    when it returns, the restored alert is not announced again, and the
    resolution arrives once;
 3. a peak date of today (peak hours all day): the threshold is halved, so
    the alert fires below the normal threshold, carries peak: true, and
    tier 2 (PagerDuty, Events API v2 shape) is reached after its `after`;
    and (7) a peak day from peak.events_query once today's count reaches
    its threshold; (8) with the history database down, notifications still
    go out and every alert write lands once it is back;
 4. silences: a matching silence holds back notifications;
 5. the replica's collector killed -> collector_stale fires and the
    replica's firing replication_lag goes to no data instead of resolving;
 6. the primary stopped -> node_down fires;
 and every transition is in alert_events, every attempt in
 notification_attempts; /metrics has pgvigil_alerts_firing.
"""

import datetime
import hashlib
import hmac
import json
import time
import unittest
import urllib.error
import urllib.request
import zoneinfo

from pgvigil_harness import (PgCluster, Process, TestDir, Writer, binary, collector_config, free_port,
                             start_collector, wait_for)
from pgvigil_sinks import HttpSink, SmtpSink

SECRET = "s3cret-for-the-hook"
ZONE = "Europe/London"


def request(url, method="GET", body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read().decode() or "{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")


class AlertsTest(unittest.TestCase):
    def run(self, result=None):
        """On a failure, show the aggregator's log: the test dir is removed."""
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures and self.agg:
            print("---- aggregator log (last 60 lines) ----\n" + "\n".join(self.agg.log_text().splitlines()[-60:]))
        return out

    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir).start()
        cls.cluster.psql("primary", "CREATE TABLE alert_load (at timestamptz)")
        cls.history = PgCluster(cls.dir.__class__(prefix="pgvigil-history-"), replicas=0,
                                pg_stat_statements=False, name="history").start()
        cls.history.psql("primary", "CREATE DATABASE pgvigil")
        cls.dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.history.port("primary")
        cls.sink = HttpSink()
        cls.smtp = SmtpSink()
        cls.ingest = "tcp://127.0.0.1:%d" % free_port()
        cls.http_port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.http_port
        cls.spool = cls.dir.sub("spool")
        cls.runs = 0
        cls.agg = None
        cls.start_aggregator(peak=False)
        cls.collectors = {}
        for node in ("primary", "replica"):
            cls.start_collector(node)
        wait_for(lambda: cls.replica_lag() is not None, 30, what="replica lag in the API")

    @classmethod
    def config(cls, peak):
        today = datetime.datetime.now(zoneinfo.ZoneInfo(ZONE)).date().isoformat()
        if peak == "events":
            peak_cfg = ("peak:\n  days: []\n  hours: \"00:00-00:00\"\n  events_query:\n"
                        "    dsn: \"host=127.0.0.1 port=%d user=postgres dbname=postgres\"\n"
                        "    sql: \"SELECT count(*) FROM weddings WHERE day = current_date\"\n"
                        "    threshold: 2\n    interval: 1s\n" % cls.cluster.port("primary"))
        elif peak:
            peak_cfg = ("peak:\n  days: []\n  dates: [%s]\n  hours: \"00:00-00:00\"\n  threshold_factor: 0.5\n"
                        % today)
        else:
            peak_cfg = "peak:\n  days: []\n"
        return cls.dir.file("aggregator-%s.yaml" % (peak if peak == "events" else "peak" if peak else "normal"), """
listen: {ingest: [%(ingest)s], http: "127.0.0.1:%(http)d"}
storage: {dsn: "%(dsn)s", spool_dir: %(spool)s}
stale_intervals: 8   # 4 s: a loaded CI machine may hold a collector back for 2 s
rules:
  - {name: replication_lag, metric: replication_lag_seconds, warning: 6, critical: 600, for: 1s,
     summary: "{node} replays {value} s behind"}
  - {name: node_down, for: 2s}   # a round starved of CPU is not an outage
  - {name: replica_disconnected, enabled: false}
regions: {eu-west: {timezone: %(zone)s}}
%(peak)s
receivers:
  - {name: hook, type: webhook, url: "%(sink)s/hook", secret_env: PGVIGIL_TEST_HOOK_SECRET}
  - {name: mail, type: email, url: "smtp://127.0.0.1:%(smtp)d", from: pgvigil@example.org,
     to: [oncall@example.org], tls: none}
  - {name: pager, type: pagerduty, url: "%(sink)s/pagerduty", routing_key_env: PGVIGIL_TEST_PD_KEY}
escalation:
  normal: [{after: 0s, receivers: [hook, mail]}, {after: 8s, receivers: [pager]}]
  peak: [{after: 0s, receivers: [hook, mail]}, {after: 3s, receivers: [pager]}]
flapping: {transitions: 0}  # the scenarios repeat the same fault; flapping has unit tests
delivery: {retry_initial: 200ms, retry_max: 2s, breaker_failures: 3, breaker_cooldown: 1s, timeout: 2s}
""" % {"ingest": cls.ingest, "http": cls.http_port, "dsn": cls.dsn, "spool": cls.spool, "zone": ZONE,
       "peak": peak_cfg, "sink": cls.sink.url, "smtp": cls.smtp.port})

    @classmethod
    def start_aggregator(cls, peak):
        cls.runs += 1
        cls.agg = Process(cls.dir, "aggregator-%d" % cls.runs,
                          [binary("pgvigil-aggregator"), "-c", cls.config(peak)],
                          env={"PGVIGIL_TEST_HOOK_SECRET": SECRET, "PGVIGIL_TEST_PD_KEY": "pd-routing-key"})
        wait_for(lambda: cls.up(), 20, what="aggregator HTTP")

    @classmethod
    def stop_aggregator(cls):
        rc = cls.agg.stop()
        assert rc == 0, "aggregator exited with %s:\n%s" % (rc, cls.agg.log_text())

    @classmethod
    def start_collector(cls, node):
        c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [cls.ingest],
                             region="eu-west", extra="interval: 500ms\n")
        cls.collectors[node] = start_collector(cls.dir, c, "collector-%s-%d" % (node, time.monotonic_ns()))

    @classmethod
    def up(cls):
        try:
            return request(cls.base + "/healthz")[0] == 200
        except (OSError, ValueError):  # not listening yet, or an answer that is not ours yet
            return False

    @classmethod
    def tearDownClass(cls):
        for c in cls.collectors.values():
            c.stop()
        if cls.agg:
            rc = cls.agg.stop()
            log = cls.agg.log_text()
        cls.cluster.stop_all()
        cls.history.stop_all()
        cls.dir.remove()
        assert rc == 0, "aggregator exited with %s:\n%s" % (rc, log)

    @classmethod
    def replica_lag(cls):
        status, body = request(cls.base + "/api/v1/nodes/replica")
        return body["node"].get("lag") if status == 200 else None

    # ---- helpers ----
    def alerts(self, rule=None, state="open", node=None):
        status, body = request(self.base + "/api/v1/alerts?state=%s" % state)
        self.assertEqual(status, 200, body)
        return [a for a in body["alerts"] if (rule is None or a["rule"] == rule)
                and (node is None or a["node"] == node)]

    def wait_state(self, rule, state, timeout, node=None, alert_id=None):
        """The alert of rule (on node, or with alert_id) once it is in state."""
        def check():
            for a in self.alerts(rule, "all", node):
                if a["state"] == state and (alert_id is None or a["id"] == alert_id):
                    return a
            return None
        return wait_for(check, timeout, what="%s %s" % (rule, state))

    def hook_requests(self, alert_id=None, kind=None):
        out = []
        for r in self.sink.received("/hook"):
            p = json.loads(r["body"])
            if (alert_id is None or p["alert"]["id"] == alert_id) and (kind is None or p["kind"] == kind):
                out.append((r, p))
        return out

    def pager_requests(self, dedup=None):
        out = [json.loads(r["body"]) for r in self.sink.received("/pagerduty")]
        return [p for p in out if dedup is None or p["dedup_key"] == dedup]

    def mails(self, alert_id, kind):
        def subject(m):
            return next((l for l in m["data"].splitlines() if l.startswith("Subject:")), "")
        return [m for m in self.smtp.received()
                if "Alert %d," % alert_id in m["data"] and " %s " % kind.upper() in subject(m)]

    def sql(self, query):
        return self.history.psql("primary", query, dbname="pgvigil")

    def pause_with_writes(self):
        self.cluster.pause_replay()
        return Writer(lambda: self.cluster.psql("primary", "INSERT INTO alert_load SELECT now()"))

    def resume(self, writer):
        writer.stop()
        self.cluster.resume_replay()

    # ---- scenarios ----
    def test_1_pending_firing_signed_mail_ack_resolve(self):
        writer = self.pause_with_writes()
        try:
            firing = self.wait_state("replication_lag", "firing", 30)
            self.assertFalse(firing["peak"])
            self.assertEqual(firing["threshold"], 6)
            self.assertGreaterEqual(firing["value"], 6)
            alert_id = firing["id"]
            wait_for(lambda: self.hook_requests(alert_id, "firing"), 10, what="webhook")
            req, payload = self.hook_requests(alert_id, "firing")[0]
            signature = req["headers"]["X-Pgvigil-Signature"]
            expected = "sha256=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha256).hexdigest()
            self.assertTrue(hmac.compare_digest(signature, expected), (signature, expected))
            self.assertNotEqual(signature, "sha256=" + hmac.new(b"wrong", req["body"], hashlib.sha256).hexdigest())
            self.assertEqual(payload["alert"]["rule"], "replication_lag")
            self.assertEqual(payload["alert"]["node"], "replica")
            self.assertIn("replays", payload["alert"]["summary"])
            wait_for(lambda: self.mails(alert_id, "firing"), 10, what="the mail")
            mail = self.mails(alert_id, "firing")[0]
            self.assertIn("<oncall@example.org>", mail["to"][0])
            self.assertIn("Subject: [WARNING] FIRING replication_lag on replica", mail["data"])

            status, body = request(self.base + "/api/v1/alerts/%d" % alert_id, "PATCH",
                                   {"action": "acknowledge", "comment": "looking", "by": "alice"})
            self.assertEqual(status, 200, body)
            self.assertTrue(body["alert"]["acknowledged"])
            self.assertEqual(body["alert"]["acknowledgement"]["by"], "alice")
            self.assertTrue(self.alerts("replication_lag")[0]["acknowledged"])
            # tier 2 is due 8 s after firing: acknowledged, it never comes
            time.sleep(max(0, 10 - (time.time() - req["at"])))
            self.assertEqual(self.pager_requests("pgvigil-%d" % alert_id), [])
            self.assertEqual(self.alerts("replication_lag")[0]["tier"], 1)
        finally:
            self.resume(writer)
        self.wait_state("replication_lag", "resolved", 30, alert_id=alert_id)
        wait_for(lambda: self.hook_requests(alert_id, "resolved"), 10, what="resolution to the hook")
        wait_for(lambda: self.mails(alert_id, "resolved"), 10, what="resolution by mail")
        time.sleep(1)
        self.assertEqual(self.pager_requests("pgvigil-%d" % alert_id), [])  # never notified: no resolution either
        self.assertEqual(len(self.hook_requests(alert_id, "firing")), 1)
        self.assertEqual(len(self.hook_requests(alert_id, "resolved")), 1)
        self.assertEqual(len(self.hook_requests(alert_id, "acknowledged")), 1)
        states = [r[0] for r in self.sql("SELECT to_state FROM alert_events WHERE alert_id = %d ORDER BY seq"
                                         % alert_id)]
        self.assertEqual(states[:2], ["pending", "firing"])
        self.assertEqual(states[-1], "resolved")
        self.assertEqual(self.sql("SELECT state FROM alerts WHERE id = %d" % alert_id), [["resolved"]])

    def test_2_receiver_outage_across_restart(self):
        self.sink.stop()
        sink_started = False
        outage_started = time.time()
        writer = self.pause_with_writes()
        try:
            firing = self.wait_state("replication_lag", "firing", 30)
            alert_id = firing["id"]
            wait_for(lambda: self.mails(alert_id, "firing"), 10, what="the mail while the hook is down")
            wait_for(lambda: int(self.sql("SELECT count(*) FROM notification_attempts a JOIN notification_outbox o"
                                          " ON o.id = a.outbox_id WHERE o.alert_id = %d AND NOT a.ok" % alert_id)
                                 [0][0]) >= 2, 15, what="failed attempts recorded")
            self.stop_aggregator()
            self.start_aggregator(peak=False)
            restored = wait_for(lambda: next(iter(self.alerts("replication_lag")), None), 10, what="restored alert")
            self.assertEqual(restored["id"], alert_id)
            self.assertEqual(restored["state"], "firing",
                             self.sql("SELECT at, from_state, to_state, detail FROM alert_events WHERE alert_id = %d"
                                      " ORDER BY seq" % alert_id))
            time.sleep(max(0, 20 - (time.time() - outage_started)))
            self.sink.start()
            sink_started = True
            wait_for(lambda: self.hook_requests(alert_id, "firing"), 15, what="the retried webhook")
            time.sleep(3)
            firings = self.hook_requests(alert_id, "firing")
            self.assertEqual(len(firings), 1, "duplicated: %r" % firings)
            self.assertEqual(len(self.mails(alert_id, "firing")), 1, "restored alert announced again")
            self.assertEqual(self.sql("SELECT state FROM notification_outbox WHERE alert_id = %d AND receiver = "
                                      "'hook' AND kind = 'firing'" % alert_id), [["delivered"]])
        finally:
            if not sink_started:
                self.sink.start()
            self.resume(writer)
        self.wait_state("replication_lag", "resolved", 30, alert_id=alert_id)
        wait_for(lambda: self.hook_requests(alert_id, "resolved"), 10, what="resolution")
        time.sleep(1)
        self.assertEqual(len(self.hook_requests(alert_id, "resolved")), 1)
        ids = [r["headers"]["X-Pgvigil-Delivery"] for r in self.sink.received("/hook")]
        self.assertEqual(len(ids), len(set(ids)), "a notification was delivered twice")

    def test_3_peak_day_stricter_and_tier_two(self):
        self.stop_aggregator()
        self.start_aggregator(peak=True)
        wait_for(lambda: self.replica_lag() is not None, 20, what="replica lag")
        writer = self.pause_with_writes()
        paused_at = time.time()
        try:
            firing = self.wait_state("replication_lag", "firing", 30)
            fired_after = time.time() - paused_at
            self.assertTrue(firing["peak"])
            self.assertEqual(firing["threshold"], 3)  # 6 s at factor 0.5
            self.assertLess(firing["value"], 6)       # below the normal threshold
            self.assertLess(fired_after, 6 + 1)       # normal would need lag >= 6 s plus for: 1 s
            alert_id = firing["id"]
            hook = wait_for(lambda: self.hook_requests(alert_id, "firing"), 10, what="webhook")[0]
            self.assertTrue(hook[1]["alert"]["peak"])
            dedup = "pgvigil-%d" % alert_id
            pd = wait_for(lambda: self.pager_requests(dedup), 15, what="tier 2 (PagerDuty)")[0]
            reached = next(r["at"] for r in self.sink.received("/pagerduty")
                           if json.loads(r["body"])["dedup_key"] == dedup)
            self.assertGreaterEqual(reached - hook[0]["at"], 2.5)  # after: 3s, minus request skew
            self.assertLess(reached - hook[0]["at"], 6)
            self.assertEqual(pd["event_action"], "trigger")
            self.assertEqual(pd["routing_key"], "pd-routing-key")
            self.assertEqual(pd["payload"]["source"], "replica")
            # the API shows what was sent within a publish interval (100 ms)
            wait_for(lambda: self.alerts("replication_lag")[0]["tier"] == 2, 1, what="tier 2 in the API")
            status, metrics = 200, urllib.request.urlopen(self.base + "/metrics", timeout=5).read().decode()
            self.assertIn('pgvigil_alerts_firing{severity="warning"} 1', metrics)
            self.assertIn('pgvigil_peak{region="eu-west"} 1', metrics)
        finally:
            self.resume(writer)
        self.wait_state("replication_lag", "resolved", 30, alert_id=alert_id)
        pd = wait_for(lambda: [p for p in self.pager_requests(dedup) if p["event_action"] == "resolve"], 10,
                      what="PagerDuty resolve")
        self.assertEqual(len(pd), 1)

    def test_4_silence_holds_back_notifications(self):
        end = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10))
        status, body = request(self.base + "/api/v1/silences", "POST",
                               {"matchers": [{"name": "node", "value": "rep.*", "regex": True},
                                             {"name": "rule", "value": "replication_lag"}],
                                "ends_at": end.strftime("%Y-%m-%dT%H:%M:%SZ"), "comment": "maintenance"})
        self.assertEqual(status, 201, body)
        silence_id = body["silence"]["id"]
        status, bad = request(self.base + "/api/v1/silences", "POST", {"matchers": [], "ends_at": "soon"})
        self.assertEqual(status, 400)
        self.assertIn("error", bad)
        writer = self.pause_with_writes()
        try:
            firing = self.wait_state("replication_lag", "firing", 30)
            self.assertTrue(firing["silenced"])
            time.sleep(2)
            self.assertEqual(self.hook_requests(firing["id"]), [])
            self.assertEqual(self.mails(firing["id"], "firing"), [])
        finally:
            self.resume(writer)
        self.wait_state("replication_lag", "resolved", 30, alert_id=firing["id"])
        status, _ = request(self.base + "/api/v1/silences/%d" % silence_id, "DELETE")
        self.assertEqual(status, 200)
        status, listing = request(self.base + "/api/v1/silences")
        self.assertNotIn(silence_id, [s["id"] for s in listing["silences"]])

    def test_5_collector_killed_stale_and_nodata(self):
        writer = self.pause_with_writes()
        try:
            firing = self.wait_state("replication_lag", "firing", 30)
            self.collectors["replica"].proc.kill()
            stale = self.wait_state("collector_stale", "firing", 20, node="replica")
            self.assertEqual(stale["node"], "replica")
            nodata = wait_for(lambda: next((a for a in self.alerts("replication_lag") if a["id"] == firing["id"]
                                            and a["state"] == "nodata"), None), 10, what="no data")
            time.sleep(2)
            self.assertEqual([a["state"] for a in self.alerts("replication_lag", "all")
                              if a["id"] == firing["id"]], ["nodata"])  # never resolved silently
            self.assertEqual(nodata["severity"], firing["severity"])
        finally:
            self.start_collector("replica")
            self.resume(writer)
        self.wait_state("collector_stale", "resolved", 20, alert_id=stale["id"])
        self.wait_state("replication_lag", "resolved", 30, alert_id=firing["id"])

    def test_6_primary_stopped_node_down(self):
        self.cluster.stop("primary", mode="immediate")
        try:
            down = self.wait_state("node_down", "firing", 20, node="primary")
            self.assertEqual(down["severity"], "critical")
            wait_for(lambda: self.hook_requests(down["id"], "firing"), 10, what="node_down webhook")
        finally:
            self.cluster.start_node("primary")
        self.wait_state("node_down", "resolved", 30, alert_id=down["id"])

    def test_7_events_query_makes_a_peak_day(self):
        def peak_metric():
            text = urllib.request.urlopen(self.base + "/metrics", timeout=5).read().decode()
            return 'pgvigil_peak{region="eu-west"} 1' in text
        self.cluster.psql("primary", "CREATE TABLE weddings (day date); INSERT INTO weddings VALUES (current_date)")
        self.stop_aggregator()
        self.start_aggregator(peak="events")
        wait_for(lambda: self.replica_lag() is not None, 20, what="replica lag")
        time.sleep(3)  # three runs of the query: 1 wedding < threshold 2
        self.assertFalse(peak_metric())
        self.cluster.psql("primary", "INSERT INTO weddings VALUES (current_date)")
        wait_for(peak_metric, 10, what="peak from the events query")

    def test_8_history_database_outage_loses_nothing(self):
        def pending_writes():
            for line in urllib.request.urlopen(self.base + "/metrics", timeout=5).read().decode().splitlines():
                if line.startswith("pgvigil_alert_writes_pending "):
                    return float(line.split()[1])
            return None
        self.history.stop("primary")
        try:
            writer = self.pause_with_writes()
            try:
                firing = self.wait_state("replication_lag", "firing", 30)
                wait_for(lambda: self.hook_requests(firing["id"], "firing"), 10,
                         what="the webhook while the database is down")
                self.assertGreater(pending_writes(), 0)
            finally:
                self.resume(writer)
            self.wait_state("replication_lag", "resolved", 30, alert_id=firing["id"])
            wait_for(lambda: self.hook_requests(firing["id"], "resolved"), 10, what="the resolution")
        finally:
            self.history.start_node("primary")
        wait_for(lambda: pending_writes() == 0, 30, what="alert writes caught up")
        self.assertEqual(self.sql("SELECT state FROM alerts WHERE id = %d" % firing["id"]), [["resolved"]])
        states = [r[0] for r in self.sql("SELECT to_state FROM alert_events WHERE alert_id = %d ORDER BY seq"
                                         % firing["id"])]
        self.assertEqual(states[:2], ["pending", "firing"])
        self.assertEqual(states[-1], "resolved")
        self.assertEqual(self.sql("SELECT kind, state FROM notification_outbox WHERE alert_id = %d AND receiver = "
                                  "'hook' ORDER BY id" % firing["id"]),
                         [["firing", "delivered"], ["resolved", "delivered"]])

    def test_9_api_errors(self):
        status, body = request(self.base + "/api/v1/alerts?state=bogus")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "bad_request")
        status, body = request(self.base + "/api/v1/alerts/12345", "PATCH", {"action": "acknowledge"})
        self.assertEqual(status, 404)
        resolved = self.alerts(state="resolved")
        self.assertTrue(resolved)
        status, body = request(self.base + "/api/v1/alerts/%d" % resolved[0]["id"], "PATCH", {"action": "snooze"})
        self.assertEqual(status, 400)
        status, body = request(self.base + "/api/v1/alerts/%d" % resolved[0]["id"], "PATCH",
                               {"action": "acknowledge", "extra": 1})
        self.assertEqual(status, 400)
        status, body = request(self.base + "/api/v1/alerts", "DELETE")
        self.assertEqual(status, 405)
        attempts = int(self.sql("SELECT count(*) FROM notification_attempts")[0][0])
        self.assertGreater(attempts, 5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
