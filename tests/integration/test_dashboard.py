"""The dashboard in headless Chromium (Debian's chromium, driven by
playwright-core from tests/browser/dashboard.mjs) against a live aggregator
fed by a real primary + replica and their collectors.

Proves: the fleet view shows both nodes; pausing replay makes the lag chart
rise and the alert appear without a reload; an operator acknowledges it from
the page and its state changes (on a viewer's page too); a viewer sees no
acknowledge button; the status page shows degraded; the page fits a phone
screen and makes no external requests. Then, with 500 simulated nodes
(pgvigil-ingest-load) on top, it measures the first load's bytes on the wire
and the time until the fleet is on screen, and prints them. Screenshots go
to <build>/screenshots/.
"""

import json
import os
import shutil
import subprocess
import time
import unittest

from pgvigil_harness import (BUILD_DIR, SOURCE_DIR, PgCluster, Process, TestDir, Writer, api_tokens, binary,
                             collector_config, free_port, http_call, shut_down, start_collector, wait_for)

BROWSER_DIR = os.path.join(SOURCE_DIR, "tests", "browser")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class DashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, replicas=1, pg_stat_statements=False).start()
        cls.tokens, entries = api_tokens("viewer", "operator")
        cls.ingest = "tcp://127.0.0.1:%d" % free_port()
        port = free_port()
        cls.base = "http://127.0.0.1:%d" % port
        cfg = cls.dir.file("aggregator.yaml", """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
stale_intervals: 8
auth:
  anonymous: none
  tokens:
%s
http: {web_dir: %s, rate_limit: {per_second: 1000, burst: 1000}}
regions: {eu-west: {timezone: UTC}}
peak: {days: [monday, tuesday, wednesday, thursday, friday, saturday, sunday], hours: "00:00-00:00"}
rules:
  - {name: replay_paused, for: 1s}
  - {name: replica_disconnected, enabled: false}
""" % (cls.ingest, port, entries, os.path.join(SOURCE_DIR, "aggregator", "http", "web")))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: cls.get("/healthz") is not None, 20, what="aggregator")
        cls.collectors = []
        for node in ("primary", "replica"):
            c = collector_config(cls.dir, node + ".yaml", node, cls.cluster.dsn(node), [cls.ingest],
                                 extra="interval: 500ms\n")
            cls.collectors.append(start_collector(cls.dir, c, "collector-" + node))
        wait_for(lambda: (cls.get("/api/v1/health", "viewer") or {}).get("nodes_up") == 2
                 or len((cls.get("/api/v1/nodes", "viewer") or {}).get("nodes", [])) == 2, 30, what="both nodes")
        cls.shots = os.path.join(BUILD_DIR, "screenshots")
        cls.writer = None

    @classmethod
    def tearDownClass(cls):
        if cls.writer:
            cls.writer.stop()
        shut_down(cls.dir, cls.cluster, cls.agg, cls.collectors)

    @classmethod
    def get(cls, path, token=None):
        """The JSON answer of a 200, else None."""
        status, _, answer = http_call(cls.base + path, token=cls.tokens[token] if token else None, timeout=5)
        return answer if status == 200 and isinstance(answer, dict) else None

    def act(self, name):
        if name == "pause_replay":
            self.cluster.pause_replay("replica")
            type(self).writer = Writer(lambda: self.cluster.write_load(rows=200), 0.3)
        elif name == "resume_replay":
            self.writer.stop()
            type(self).writer = None
            self.cluster.resume_replay("replica")
        else:
            raise ValueError(name)

    def browse(self, phase, timeout=240):
        env = dict(os.environ, PGVIGIL_URL=self.base, PGVIGIL_TOKENS=json.dumps(self.tokens),
                   PGVIGIL_SHOTS=self.shots, PGVIGIL_CHROMIUM=CHROMIUM, PGVIGIL_PHASE=phase,
                   NODE_PATH=os.path.join(BROWSER_DIR, "node_modules"))
        proc = subprocess.Popen(["node", os.path.join(BROWSER_DIR, "dashboard.mjs")], cwd=BROWSER_DIR, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        passed, figures, out = [], {}, []
        deadline = time.monotonic() + timeout
        try:
            for line in proc.stdout:
                out.append(line)
                if line.startswith("ACTION "):
                    try:
                        self.act(line.split()[1])
                        proc.stdin.write("OK\n")
                    except Exception as e:  # the script reports it and fails
                        proc.stdin.write("ERROR %s\n" % e)
                    proc.stdin.flush()
                elif line.startswith("PASS "):
                    passed.append(line[5:].strip())
                elif line.startswith("FIGURE "):
                    _, name, value = line.split()
                    figures[name] = float(value)
                if time.monotonic() > deadline:
                    proc.kill()
                    break
            rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        self.assertEqual(rc, 0, "the browser script failed:\n" + "".join(out[-40:]))
        return passed, figures

    def test_1_live_dashboard(self):
        passed, figures = self.browse("live")
        for step in ("fleet view shows both nodes", "peak banner", "cluster topology", "lag chart rises without a reload",
                     "alert appears without a reload", "viewer sees no acknowledge button",
                     "operator acknowledges and the state changes", "status page shows degraded",
                     "usable on a phone-sized screen", "no external network requests"):
            self.assertIn(step, passed)
        for name in ("fleet-viewer", "cluster", "replica-paused", "replica-acknowledged", "status", "fleet-phone"):
            self.assertTrue(os.path.getsize(os.path.join(self.shots, name + ".png")) > 1000, name)

    def test_2_first_load_with_500_nodes(self):
        load = Process(self.dir, "ingest-load", [binary("pgvigil-ingest-load"), "--endpoint", self.ingest,
                                                 "--nodes", "500", "--rate", "500", "--seconds", "60"])
        try:
            wait_for(lambda: (self.get("/api/v1/health", "viewer") or {}).get("nodes", 0) >= 502
                     or len((self.get("/api/v1/nodes", "viewer") or {}).get("nodes", [])) >= 502, 30,
                     what="500 simulated nodes")
            time.sleep(2)
            passed, f = self.browse("load")
        finally:
            load.stop()
        print("\ndashboard first load with %d nodes: %.0f kB on the wire, fleet on screen after %.0f ms "
              "(page load to ready %.0f ms wall), main-thread latency %.1f ms"
              % (f["fleet_nodes"], f["first_load_bytes"] / 1024, f["interactive_ms"], f["wall_ms"],
                 f["main_thread_latency_ms"]))
        print("  html %.0f ms, DOMContentLoaded %.0f ms, whoami %.0f ms, first byte of the stream %.0f ms"
              % (f.get("html_ms", 0), f.get("dom_content_loaded_ms", 0), f.get("whoami_ms", 0),
                 f.get("stream_first_byte_ms", 0)))
        self.assertGreaterEqual(f["fleet_nodes"], 502)
        self.assertLess(f["first_load_bytes"], 300 * 1024)


if __name__ == "__main__":
    unittest.main(verbosity=2)
