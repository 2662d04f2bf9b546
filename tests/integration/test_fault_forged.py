"""Forged samples (issue 14, defect 3).

A sample with the victim's collector_started_at_us and sequence 2^62 made
every later real sample a "duplicate", and with CURVE on any allowed key
could publish under any node name. Now a key speaks only for the node names
in its certificate's "nodes" metadata, and a sequence far beyond what the
collector can have produced is refused; the real node keeps reporting.
"""

import json
import os
import subprocess
import time
import unittest
import urllib.request

from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port,
                             start_collector, wait_for)

JUMP = str(2 ** 62)


def get_json(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except OSError:
        return None


def rejected(base, reason):
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('pgvigil_ingest_rejected_total{reason="%s"} ' % reason):
                return float(line.split()[1])
    return 0.0


class ForgedTest(unittest.TestCase):
    def setUp(self):
        self.d = TestDir()
        self.pg = PgCluster(self.d, replicas=0, pg_stat_statements=False).start()
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.stop()
        self.pg.stop_all()
        self.d.remove()

    def stack(self, curve_yaml="", collector_extra=""):
        self.ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
        self.base = "http://127.0.0.1:%d" % http
        cfg = self.d.file("agg.yaml", "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\n%s"
                          % (self.ingest, http, curve_yaml))
        self.procs.append(Process(self.d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg]))
        wait_for(lambda: get_json(self.base + "/healthz") is not None, 20, what="aggregator")
        c = collector_config(self.d, "victim.yaml", "fault-0", self.pg.dsn("primary"), [self.ingest],
                             extra="interval: 200ms\n" + collector_extra)
        self.procs.append(start_collector(self.d, c, "collector-victim"))
        node = wait_for(lambda: (get_json(self.base + "/api/v1/nodes/fault-0") or {}).get("node"), 20,
                        what="the victim reporting")
        return node["sample"]["collector_started_at_us"]

    def forge(self, started, name="fault-0", extra=()):
        subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", self.ingest, "--nodes", "1", "--name", name,
                        "--count", "5", "--seconds", "3", "--started-at", str(started),
                        "--sequence-start", JUMP] + list(extra),
                       check=True, timeout=30, stdout=subprocess.DEVNULL)

    def assert_victim_reports(self):
        before = get_json(self.base + "/api/v1/nodes/fault-0")["node"]
        time.sleep(2)
        after = get_json(self.base + "/api/v1/nodes/fault-0")["node"]
        self.assertEqual(after["ingest"]["duplicates"], 0, after["ingest"])
        self.assertGreater(after["ingest"]["received"], before["ingest"]["received"] + 5)
        self.assertFalse(after["stale"])
        self.assertLess(after["sample"]["sequence"], 10 ** 6)

    def test_sequence_jump_is_refused(self):
        started = self.stack()
        self.forge(started)
        wait_for(lambda: rejected(self.base, "sequence_jump") >= 5, 10, what="jumps refused")
        self.assert_victim_reports()

    def test_curve_key_speaks_only_for_its_nodes(self):
        keys, allowed = self.d.sub("keys"), self.d.sub("allowed")
        subprocess.run([binary("pgvigil-aggregator"), "keygen", os.path.join(keys, "aggregator")], check=True,
                       stdout=subprocess.DEVNULL, timeout=10)
        for name, nodes in (("victim", "fault-0"), ("attacker", "attacker-*")):
            subprocess.run([binary("pgvigil-collector"), "keygen", os.path.join(keys, name), nodes], check=True,
                           stdout=subprocess.DEVNULL, timeout=10)
            os.link(os.path.join(keys, name), os.path.join(allowed, name))
        # A key without "nodes" metadata speaks for nothing, and the log says so at start.
        subprocess.run([binary("pgvigil-collector"), "keygen", os.path.join(allowed, "legacy")], check=True,
                       stdout=subprocess.DEVNULL, timeout=10)
        os.unlink(os.path.join(allowed, "legacy_secret"))
        started = self.stack("curve:\n  server_cert: %s\n  allow_dir: %s\n"
                             % (os.path.join(keys, "aggregator_secret"), allowed),
                             "curve:\n  server_public_key: %s\n  client_cert: %s\n"
                             % (os.path.join(keys, "aggregator"), os.path.join(keys, "victim_secret")))
        curve = ["--curve-client-cert", os.path.join(keys, "attacker_secret"),
                 "--curve-server-key", os.path.join(keys, "aggregator")]
        self.forge(started, extra=curve)
        wait_for(lambda: rejected(self.base, "key_not_allowed") >= 5, 10, what="forged node refused")
        # The same key is admitted for the names it holds.
        subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", self.ingest, "--nodes", "1",
                        "--name", "attacker-1", "--count", "1", "--seconds", "2"] + curve,
                       check=True, timeout=30, stdout=subprocess.DEVNULL)
        wait_for(lambda: get_json(self.base + "/api/v1/nodes/attacker-1"), 10, what="its own node accepted")
        self.assert_victim_reports()
        self.assertIn('has no "nodes" metadata', self.procs[0].log_text())


if __name__ == "__main__":
    unittest.main()
