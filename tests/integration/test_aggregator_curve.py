"""CURVE between collectors and the aggregator: a collector whose public key
is in the allow-list directory is admitted; one with an unknown key is not,
and the refused handshakes are counted; a configuration error names the key
and exits 2."""

import json
import os
import subprocess
import time
import unittest
import urllib.request

from pgvigil_harness import (PgCluster, Process, TestDir, binary, collector_config, free_port,
                             start_collector, wait_for)


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read().decode()


class CurveTest(unittest.TestCase):
    def test_allow_list(self):
        d = TestDir()
        cluster = PgCluster(d, replicas=0, pg_stat_statements=False).start()
        keys, allowed = d.sub("keys"), d.sub("allowed")
        subprocess.run([binary("pgvigil-aggregator"), "keygen", os.path.join(keys, "aggregator")], check=True,
                       stdout=subprocess.DEVNULL, timeout=10)
        for name in ("good", "bad"):  # each key may speak for its own node only
            subprocess.run([binary("pgvigil-collector"), "keygen", os.path.join(keys, name), "db-" + name],
                           check=True, stdout=subprocess.DEVNULL, timeout=10)
        os.link(os.path.join(keys, "good"), os.path.join(allowed, "good"))
        ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
        base = "http://127.0.0.1:%d" % http
        cfg = d.file("agg.yaml", "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\n"
                                 "curve:\n  server_cert: %s\n  allow_dir: %s\n"
                     % (ingest, http, os.path.join(keys, "aggregator_secret"), allowed))
        agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        try:
            try:
                wait_for(lambda: _ok(base + "/healthz"), 15, what="aggregator")
            except TimeoutError:
                raise AssertionError(agg.log_text())
            for name in ("good", "bad"):
                extra = ("interval: 500ms\ncurve:\n  server_public_key: %s\n  client_cert: %s\n"
                         % (os.path.join(keys, "aggregator"), os.path.join(keys, name + "_secret")))
                c = collector_config(d, name + ".yaml", "db-" + name, cluster.dsn("primary"), [ingest], extra=extra)
                start_collector(d, c, "collector-" + name)
            wait_for(lambda: "db-good" in json.loads(get(base + "/api/v1/nodes/db-good"))["node"]["node"]
                     if _ok(base + "/api/v1/nodes/db-good") else None, 15, what="the allowed collector")

            def refused():
                for line in get(base + "/metrics").splitlines():
                    if line.startswith("pgvigil_ingest_unauthenticated_total "):
                        return float(line.split()[1]) > 0
            wait_for(refused, 15, what="refused handshakes counted")
            time.sleep(1)
            nodes = [n["node"] for n in json.loads(get(base + "/api/v1/nodes"))["nodes"]]
            self.assertEqual(nodes, ["db-good"])
            self.assertNotIn("CURVE is not configured", agg.log_text())
        finally:
            self.assertEqual(agg.stop(), 0, agg.log_text())
            cluster.stop_all()
            d.remove()

    def test_config_errors_exit_2(self):
        d = TestDir()
        cases = [("listen:\n  ingest: [tcp://127.0.0.1:1]\n  http: 127.0.0.1:2\ncurve: {server_cert: /x}\n",
                  "curve.allow_dir"),
                 ("listen:\n  ingest: [tcp://127.0.0.1:1]\n  htp: 127.0.0.1:2\n", "listen.htp"),
                 ("listen:\n  ingest: [tcp://127.0.0.1:1]\n  http: 127.0.0.1:2\nstorage: {dsn: x, retention_days: -1}\n",
                  "storage.retention_days")]
        for text, key in cases:
            path = d.file("bad.yaml", text)
            r = subprocess.run([binary("pgvigil-aggregator"), "-c", path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=10)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(path, r.stderr)
            self.assertIn('"%s"' % key, r.stderr)
        d.remove()


def _ok(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    unittest.main(verbosity=2)
