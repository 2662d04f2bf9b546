"""SIGHUP reload without restart: a real primary and replica, real
collectors, the aggregator, API tokens and a real HTTP sink.

Proves, in order:
 1. with alerts firing (one acknowledged), a new file that raises a rule's
    severity, removes a rule, adds a token and changes publish_interval,
    then SIGHUP: the new thresholds apply to the same alert (same id, now
    critical, still acknowledged), the removed rule's alerts are resolved,
    the new token works, the other open alerts are kept, the fleet state is
    kept (the replica is listed with its lag, its ingest counters go on
    from where they were, no restart counted), and the log says that
    publish_interval needs a restart;
 2. a broken file, SIGHUP: refused, the log names the file, the line and
    the key, and the previous configuration stays in force (the token added
    in 1 still works, the rules of 1 still judge);
 3. POST /api/v1/receivers/{name}/test: operator only, 404 for an unknown
    receiver, delivered to the real sink (X-Pgvigil-Event: test) with the
    outcome in the answer; a receiver that does not answer is reported as
    not delivered after one attempt; each request is in the audit log.
"""

import json
import os
import signal
import threading
import time
import unittest

from pgvigil_harness import (PgCluster, Process, TestDir, api_tokens, binary, collector_config, free_port,
                             http_call, shut_down, start_collector, wait_for)
from pgvigil_sinks import HttpSink

RULES_BEFORE = """
  - {name: up_watch, metric: node_up, op: ">", warning: 0.5, critical: 5, for: 0s, summary: "{node} watched"}
  - {name: up_other, metric: node_up, op: ">", warning: 0.5, for: 0s, summary: "{node} other"}
  - {name: up_gone, metric: node_up, op: ">", warning: 0.5, for: 0s, summary: "{node} gone"}
"""
# up_watch: critical now 0.5 (node_up is 1): the same alert becomes critical.
RULES_AFTER = """
  - {name: up_watch, metric: node_up, op: ">", warning: 0.2, critical: 0.5, for: 0s, summary: "{node} watched"}
  - {name: up_other, metric: node_up, op: ">", warning: 0.5, for: 0s, summary: "{node} other"}
"""


class ReloadTest(unittest.TestCase):
    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            print("---- aggregator log (last 60 lines) ----\n" + "\n".join(self.agg.log_text().splitlines()[-60:]))
        return out

    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, pg_stat_statements=False).start()
        cls.cluster.psql("primary", "CREATE DATABASE pgvigil")
        cls.dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.cluster.port("primary")
        cls.sink = HttpSink()
        cls.dead = "http://127.0.0.1:%d/nobody" % free_port()  # nothing listens there
        cls.tokens, cls.entries = api_tokens("operator", "viewer", "admin")
        cls.lines = cls.entries.splitlines()
        cls.ingest = "tcp://127.0.0.1:%d" % free_port()
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        cls.path = os.path.join(cls.dir.path, "aggregator.yaml")
        cls.write_config(RULES_BEFORE, cls.lines[0] + "\n" + cls.lines[2], "100ms")
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cls.path])
        wait_for(lambda: cls.call("/healthz")[0] == 200, 20, what="aggregator")
        cls.collectors = []
        for node in ("primary", "replica"):
            c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [cls.ingest],
                                 extra="interval: 500ms\n")
            cls.collectors.append(start_collector(cls.dir, c, "collector-" + node))
        wait_for(lambda: cls.node("replica").get("lag") is not None, 30, what="replica lag")

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, cls.collectors)
        cls.sink.stop()

    @classmethod
    def write_config(cls, rules, tokens, publish):
        text = """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
storage: {dsn: "%s", spool_dir: %s}
stale_intervals: 8
publish_interval: %s
http:
  rate_limit: {per_second: 100000, burst: 100000}
auth:
  anonymous: none
  tokens:
%s
rules:%s
receivers:
  - {name: hook, type: webhook, url: "%s/hook"}
  - {name: dead, type: webhook, url: "%s"}
delivery: {timeout: 2s}
escalation:
  normal: [{after: 0s, receivers: [hook]}]
""" % (cls.ingest, cls.port, cls.dsn, cls.dir.sub("spool"), publish, tokens, rules, cls.sink.url, cls.dead)
        tmp = cls.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, cls.path)

    @classmethod
    def call(cls, path, method="GET", body=None, token="operator"):
        status, _, doc = http_call(cls.base + path, method, body, cls.tokens.get(token, token))
        return status, doc

    @classmethod
    def node(cls, name):
        status, doc = cls.call("/api/v1/nodes/" + name)
        return doc.get("node", {}) if status == 200 else {}

    def open_alerts(self, rule=None):
        status, doc = self.call("/api/v1/alerts?state=open")
        self.assertEqual(status, 200, doc)
        return [a for a in doc["alerts"] if rule is None or a["rule"] == rule]

    def alert(self, alert_id):
        status, doc = self.call("/api/v1/alerts?state=all")
        return next((a for a in doc.get("alerts", []) if a["id"] == alert_id), None)

    def log_after(self, mark):
        return self.agg.log_text()[mark:]

    def test_1_reload_applies_and_keeps_state(self):
        wait_for(lambda: len(self.open_alerts()) == 6 and
                 all(a["state"] == "firing" for a in self.open_alerts()), 30, what="six firing alerts")
        watch = next(a for a in self.open_alerts("up_watch") if a["node"] == "replica")
        self.assertEqual(watch["severity"], "warning")
        status, doc = self.call("/api/v1/alerts/%d" % watch["id"], "PATCH",
                                {"action": "acknowledge", "comment": "looking"})
        self.assertEqual(status, 200, doc)
        others = {a["id"] for a in self.open_alerts("up_other")}
        gone = {a["id"] for a in self.open_alerts("up_gone")}
        before = self.node("replica")["ingest"]
        self.assertEqual(self.call("/api/v1/alerts", token="viewer")[0], 401)  # not configured yet

        # requests from other threads while the token table is swapped: each
        # sees the old table or the new one, never an error (ASan watches)
        statuses, stop = [], threading.Event()

        def hammer():
            while not stop.is_set():
                statuses.append(self.call("/api/v1/alerts")[0])
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        mark = len(self.agg.log_text())
        self.write_config(RULES_AFTER, self.entries, "200ms")
        self.agg.signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in self.log_after(mark), 10, what="the reload in the log")
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(10)
        self.assertTrue(statuses)
        self.assertEqual(set(statuses), {200}, statuses[:20])

        # new thresholds, same alert: critical, still acknowledged
        a = wait_for(lambda: (lambda x: x if x and x["severity"] == "critical" else None)(self.alert(watch["id"])),
                     10, what="up_watch critical")
        self.assertEqual(a["state"], "firing")
        self.assertTrue(a["acknowledged"], a)
        # the removed rule's alerts are resolved; the others are kept
        for gid in gone:
            g = wait_for(lambda: (lambda x: x if x and x["state"] == "resolved" else None)(self.alert(gid)),
                         10, what="up_gone resolved")
            self.assertEqual(g["rule"], "up_gone")
        self.assertEqual({a["id"] for a in self.open_alerts("up_other")}, others)
        self.assertEqual(len(self.open_alerts("up_watch")), 2)
        # the new token works (viewer: reads)
        self.assertEqual(self.call("/api/v1/alerts", token="viewer")[0], 200)
        # the fleet is the same: listed with its lag, counters go on, no restart
        node = self.node("replica")
        self.assertIsNotNone(node.get("lag"))
        self.assertGreaterEqual(node["ingest"]["received"], before["received"])
        self.assertEqual(node["ingest"]["restarts"], before["restarts"])
        self.assertEqual(node["ingest"]["gaps"], before["gaps"])
        time.sleep(1.5)
        self.assertGreater(self.node("replica")["ingest"]["received"], before["received"])
        self.assertIn("publish_interval", self.log_after(mark))
        self.assertIn("need a restart", self.log_after(mark))

    def test_2_broken_file_refused(self):
        mark = len(self.agg.log_text())
        with open(self.path) as f:
            text = f.read()
        with open(self.path, "w") as f:
            f.write(text.replace("stale_intervals: 8", "stale_intervals: banana"))
        self.agg.signal(signal.SIGHUP)
        wait_for(lambda: "refused" in self.log_after(mark), 10, what="the refusal in the log")
        log = self.log_after(mark)
        self.assertIn(self.path + ":", log)
        self.assertIn("stale_intervals", log)
        self.assertRegex(log, r"aggregator\.yaml:\d+:")
        self.assertNotIn("reloaded", log)
        # the previous configuration is in force: the token of test 1 and its rules
        self.assertEqual(self.call("/api/v1/alerts", token="viewer")[0], 200)
        self.assertEqual(len(self.open_alerts("up_gone")), 0)
        self.assertTrue(all(a["severity"] == "critical" for a in self.open_alerts("up_watch")))
        self.assertTrue(self.agg.running())

    def test_3_receiver_test_notification(self):
        path = "/api/v1/receivers/%s/test"
        self.assertEqual(self.call(path % "hook", "POST", {}, token="viewer")[0], 403)
        status, doc = self.call(path % "nosuch", "POST", {})
        self.assertEqual(status, 404, doc)
        before = len(self.sink.received("/hook"))
        status, doc = self.call(path % "hook", "POST", {})
        self.assertEqual(status, 200, doc)
        n = doc["notification"]
        self.assertTrue(n["delivered"], n)
        self.assertEqual((n["receiver"], n["status"], n["attempts"]), ("hook", 200, 1))
        got = self.sink.received("/hook")[before:]
        tests = [r for r in got if r["headers"].get("X-Pgvigil-Event") == "test"]
        self.assertEqual(len(tests), 1, got)
        self.assertEqual(tests[0]["headers"]["X-Pgvigil-Delivery"], str(n["id"]))
        payload = json.loads(tests[0]["body"])
        self.assertEqual(payload["kind"], "test")
        self.assertIn("operator-bot", payload["alert"]["summary"])
        # a receiver that does not answer: the outcome says so, once, no retry
        status, doc = self.call(path % "dead", "POST", {})
        self.assertEqual(status, 200, doc)
        self.assertFalse(doc["notification"]["delivered"], doc)
        self.assertTrue(doc["notification"]["error"])
        self.assertEqual(doc["notification"]["attempts"], 1)
        # audited like every change, with the outcome of the request
        def audited():
            status, a = self.call("/api/v1/audit", token="admin")
            self.assertEqual(status, 200, a)
            return [(e["who"], e["target"], e["result"]) for e in a["audit"] if "test notification" in e["action"]]
        entries = wait_for(lambda: (lambda x: x if len(x) >= 3 else None)(audited()), 10, what="audit records")
        self.assertIn(("operator-bot", "hook", 202), entries)
        self.assertIn(("operator-bot", "dead", 202), entries)
        self.assertIn(("operator-bot", "nosuch", 404), entries)


if __name__ == "__main__":
    unittest.main()
