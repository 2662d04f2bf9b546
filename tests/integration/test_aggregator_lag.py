"""The aggregator fed by real collectors on a real primary and replica.

Proves: the fleet API groups both nodes in one cluster by system identifier
with the right roles; with replay paused while the primary writes, the
API's lag bytes match pg_current_wal_lsn() - pg_last_wal_replay_lsn()
measured on the servers, lag seconds grow about one second per second and
receive lag stays near zero; after resume lag returns to zero within 3 s;
an idle primary reads 0 s of lag; /metrics exports node and lag series and
the ingest counters; malformed messages are counted and dropped; bad
requests get the error shape; pg_promote() is reported as a failover
within 3 s; a stopped collector makes its node stale.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

import zmq

from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port, shut_down,
                             start_collector, wait_for)

INTERVAL = "500ms"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get_json(url):
    status, body = get(url)
    return status, json.loads(body)


class AggregatorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir).start()
        cls.ingest = "tcp://127.0.0.1:%d" % free_port()
        cls.http_port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.http_port
        cfg = cls.dir.file("aggregator.yaml",
                           "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nstale_intervals: 4\n"
                           % (cls.ingest, cls.http_port))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: get(cls.base + "/healthz")[0] == 200 if cls._up() else None, 15,
                 what="aggregator HTTP")
        cls.collectors = {}
        for node in ("primary", "replica"):
            c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [cls.ingest],
                                 extra="interval: %s\n" % INTERVAL)
            cls.collectors[node] = start_collector(cls.dir, c, "collector-" + node)
        wait_for(lambda: len(cls.nodes()) == 2 and all(n["up"] for n in cls.nodes())
                 and any(n.get("lag") for n in cls.nodes()), 20, what="both nodes in the API")

    @classmethod
    def _up(cls):
        try:
            urllib.request.urlopen(cls.base + "/healthz", timeout=1)
            return True
        except OSError:
            return False

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, cls.collectors.values())

    @classmethod
    def clusters(cls):
        return get_json(cls.base + "/api/v1/clusters")[1]["clusters"]

    @classmethod
    def nodes(cls):
        return [n for c in cls.clusters() for n in c["nodes"]]

    def replica(self):
        """The replica's summary; on a loaded machine a round can overrun its
        interval and one sample lack its lag, so wait briefly for one that has it."""
        return wait_for(lambda: next((n for n in self.nodes() if n["node"] == "replica" and n.get("lag")), None),
                        3, what="the replica with its lag")

    def direct_lag(self):
        wal = self.cluster.wal_lsn()
        replay = self.cluster.replay_lsn()
        return wal - replay

    def test_1_fleet_view(self):
        clusters = self.clusters()
        self.assertEqual(len(clusters), 1)
        c = clusters[0]
        sysid = self.cluster.scalar("primary", "SELECT system_identifier FROM pg_control_system()")
        self.assertEqual(c["id"], str(int(sysid) & 0xFFFFFFFFFFFFFFFF))
        self.assertEqual(c["primary"], "primary")
        roles = {n["node"]: n["role"] for n in c["nodes"]}
        self.assertEqual(roles, {"primary": "primary", "replica": "replica"})
        rep = self.replica()
        for key in ("bytes", "seconds", "receive_bytes", "replay_paused"):
            self.assertIn(key, rep["lag"])
        # The replica's WAL receiver names the primary's address and port.
        self.assertEqual(next(n for n in c["nodes"] if n["node"] == "replica")["upstream"], "primary")
        self.assertNotIn("upstream", next(n for n in c["nodes"] if n["node"] == "primary"))
        self.assertEqual(rep["region"], "eu-west")
        status, one = get_json(self.base + "/api/v1/clusters/" + c["id"])
        self.assertEqual(status, 200)
        self.assertEqual(one["cluster"]["id"], c["id"])
        status, node = get_json(self.base + "/api/v1/nodes/replica")
        self.assertEqual(status, 200)
        self.assertIn("replica_replication", node["node"]["sample"])

    def test_2_idle_primary_reads_zero(self):
        time.sleep(2)  # nothing written
        def zero():
            lag = self.replica()["lag"]
            return lag["seconds"] == 0 and lag["bytes"] == 0
        wait_for(zero, 10, what="zero lag on an idle primary")

    def test_3_paused_replay(self):
        self.cluster.pause_replay()
        try:
            seconds = []
            for i in range(6):
                self.cluster.write_load(rows=3000)
                time.sleep(1)
                seconds.append((time.monotonic(), self.replica()["lag"]["seconds"]))
            # stop writing; compare with the servers once samples have caught up
            time.sleep(1.5)
            direct = self.direct_lag()
            lag = self.replica()["lag"]
            self.assertGreater(direct, 100000)
            self.assertLessEqual(abs(lag["bytes"] - direct), max(0.01 * direct, 65536),
                                 (lag, direct))
            self.assertTrue(lag["replay_paused"])
            self.assertLess(lag["receive_bytes"], 65536)
            # about one second per second while paused
            (t0, s0), (t1, s1) = seconds[1], seconds[-1]
            rate = (s1 - s0) / (t1 - t0)
            self.assertGreater(rate, 0.7, seconds)
            self.assertLess(rate, 1.3, seconds)
            status, metrics = get(self.base + "/metrics")
            self.assertIn('pgvigil_replication_lag_bytes{cluster="', metrics)
            self.assertIn('pgvigil_replication_replay_paused{cluster="', metrics)
        finally:
            self.cluster.resume_replay()
        resumed = time.monotonic()
        wait_for(lambda: self.replica()["lag"]["bytes"] == 0 and self.replica()["lag"]["seconds"] == 0,
                 5, what="lag back to zero")
        self.assertLess(time.monotonic() - resumed, 3.5)
        kinds = [e["kind"] for e in get_json(self.base + "/api/v1/events?node=replica")[1]["events"]]
        self.assertIn("replay_paused", kinds)
        self.assertIn("replay_resumed", kinds)

    def test_4_metrics_and_ingest_counters(self):
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.DEALER)
        s.connect(self.ingest)
        s.send_multipart([b"garbage"])
        s.send_multipart([b"PV\x01\x01\x03bad", b"\xff\xff\xff"])
        s.send_multipart([b"PV\x01\x01\x03bad", b""])  # decodes, fails validation
        time.sleep(0.5)
        s.close(0)
        status, text = get(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertIn('pgvigil_node_up{cluster="', text)
        self.assertIn('node="primary",role="primary",region="eu-west"} 1', text)
        self.assertIn("pgvigil_replication_lag_seconds{", text)
        self.assertIn("pgvigil_ingest_accepted_total", text)

        def counter(name):
            for line in get(self.base + "/metrics")[1].splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        self.assertGreater(counter("pgvigil_ingest_accepted_total"), 10)
        self.assertGreaterEqual(counter('pgvigil_ingest_rejected_total{reason="bad_frames"}'), 1)
        self.assertGreaterEqual(counter('pgvigil_ingest_rejected_total{reason="bad_body"}'), 1)
        self.assertGreaterEqual(counter('pgvigil_ingest_rejected_total{reason="invalid"}'), 1)
        self.assertTrue(self.agg.running())

    def test_5_errors(self):
        status, body = get_json(self.base + "/api/v1/nodes/nosuchnode")
        self.assertEqual(status, 404)
        self.assertEqual(body["error"]["code"], "not_found")
        status, body = get_json(self.base + "/api/v1/health?type=sideways")
        self.assertEqual(status, 400)
        self.assertIn("message", body["error"])
        status, body = get_json(self.base + "/api/v1/events?limit=0")
        self.assertEqual(status, 400)
        status, body = get_json(self.base + "/api/v1/nowhere")
        self.assertEqual(status, 404)
        req = urllib.request.Request(self.base + "/api/v1/clusters", method="DELETE")
        try:
            urllib.request.urlopen(req, timeout=5)
            self.fail("DELETE accepted")
        except urllib.error.HTTPError as e:
            self.assertEqual(e.code, 405)
        status, quick = get_json(self.base + "/api/v1/health?type=quick")
        self.assertEqual(status, 200)
        self.assertEqual(quick["nodes"], 2)

    def test_6_failover_and_stale(self):
        self.cluster.promote("replica")
        promoted = time.monotonic()

        def failover():
            events = get_json(self.base + "/api/v1/events")[1]["events"]
            return any(e["kind"] == "failover" and e["node"] == "replica" for e in events)
        wait_for(failover, 5, what="failover event")
        self.assertLess(time.monotonic() - promoted, 3.5)
        c = self.clusters()[0]
        self.assertEqual(c["primary"], "replica")
        self.assertEqual(c["timeline"], 2)
        # both still accept writes: that is a split brain, and it is critical
        self.assertTrue(c["split_brain"])
        self.assertEqual(get_json(self.base + "/api/v1/health?type=quick")[1]["status"], "critical")
        # a silent collector makes its node stale
        self.collectors["primary"].stop()
        wait_for(lambda: next(n for n in self.nodes() if n["node"] == "primary")["stale"], 5,
                 what="stale node")


if __name__ == "__main__":
    unittest.main(verbosity=2)
