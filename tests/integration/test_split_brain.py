"""Split brain end to end: a real primary and replica, the replica promoted
while the old primary keeps accepting writes (two primaries, one system
identifier).

Proves: the built-in split_brain rule fires critical on its own (no rule in
the configuration), once for each primary that accepts writes; its
notification reaches a real webhook sink and climbs to the next escalation
tier; /metrics carries pgvigil_cluster_split_brain 1
for the cluster, each node's timeline and its WAL receiver state; stopping
the old primary resolves the alert and the webhook hears of it.
"""

import json
import time
import unittest
import urllib.request

from pgvigil_harness import PgCluster, Process, TestDir, binary, collector_config, free_port, shut_down, wait_for
from pgvigil_sinks import HttpSink


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


def http_ok(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class SplitBrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, pg_stat_statements=False).start()
        cls.sink = HttpSink()
        ingest = "tcp://127.0.0.1:%d" % free_port()
        http = free_port()
        cls.base = "http://127.0.0.1:%d" % http
        cfg = cls.dir.file("aggregator.yaml", """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
receivers:
  - {name: hook, type: webhook, url: "%s/hook", secret: split-brain-test}
  - {name: pager, type: webhook, url: "%s/pager", secret: split-brain-test}
escalation:
  normal: [{after: 0s, receivers: [hook]}, {after: 2s, receivers: [pager]}]
flapping: {transitions: 0}
""" % (ingest, http, cls.sink.url, cls.sink.url))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: http_ok(cls.base + "/healthz"), 15, what="aggregator HTTP")
        cls.collectors = []
        for node in ("primary", "replica"):
            c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [ingest],
                                 extra="interval: 500ms\n")
            cls.collectors.append(Process(cls.dir, "collector-" + node, [binary("pgvigil-collector"), "-c", c]))
        wait_for(lambda: "pgvigil_replication_lag_seconds{" in get(cls.base + "/metrics"), 20, what="both nodes")

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, cls.collectors)

    def alerts(self, state):
        body = json.loads(get(self.base + "/api/v1/alerts?state=" + state))
        return [a for a in body["alerts"] if a["rule"] == "split_brain"]

    def hooks(self, path, kind):
        return [json.loads(r["body"]) for r in self.sink.received(path)
                if json.loads(r["body"]).get("kind") == kind and json.loads(r["body"])["alert"]["rule"] == "split_brain"]

    def metric(self, text, name, node=None):
        for line in text.splitlines():
            if line.startswith(name + "{") and (node is None or 'node="%s"' % node in line):
                return float(line.rsplit(" ", 1)[1])
        return None

    def test_split_brain_alerts_and_resolves(self):
        text = get(self.base + "/metrics")
        self.assertEqual(self.metric(text, "pgvigil_cluster_split_brain"), 0)
        self.assertEqual(self.metric(text, "pgvigil_node_timeline", "replica"), 1)
        self.assertEqual(self.metric(text, "pgvigil_wal_receiver_streaming", "replica"), 1)
        self.assertEqual(self.alerts("all"), [])

        self.cluster.promote("replica")  # the old primary still runs: two primaries
        promoted = time.monotonic()
        firing = wait_for(lambda: self.alerts("firing"), 10, what="split_brain firing")
        self.assertLess(time.monotonic() - promoted, 6)
        # one alert per primary that accepts writes: the old one and the promoted one
        firing = wait_for(lambda: (lambda a: a if len(a) == 2 else None)(self.alerts("firing")), 10,
                          what="split_brain on both primaries")
        self.assertEqual(sorted(a["node"] for a in firing), ["primary", "replica"])
        self.assertEqual({a["severity"] for a in firing}, {"critical"})
        fired = wait_for(lambda: self.hooks("/hook", "firing"), 10, what="the webhook")
        self.assertTrue({f["alert"]["id"] for f in fired} <= {a["id"] for a in firing})
        wait_for(lambda: self.hooks("/pager", "firing"), 10, what="the second escalation tier")
        text = get(self.base + "/metrics")
        self.assertEqual(self.metric(text, "pgvigil_cluster_split_brain"), 1)
        self.assertEqual(self.metric(text, "pgvigil_node_timeline", "replica"), 2)

        self.cluster.stop("primary")  # one primary again
        wait_for(lambda: not self.alerts("firing") and self.alerts("resolved"), 15, what="split_brain resolved")
        wait_for(lambda: self.hooks("/hook", "resolved"), 10, what="the resolution at the webhook")
        self.assertEqual(self.metric(get(self.base + "/metrics"), "pgvigil_cluster_split_brain"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
