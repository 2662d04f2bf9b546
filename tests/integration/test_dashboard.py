"""The dashboard in headless Chromium (Debian's chromium and chromium-driver,
through Debian's python3-selenium: tests/browser/chromium.py) against a live aggregator
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
import sys
import time
import unittest

from pgvigil_harness import (BUILD_DIR, SOURCE_DIR, PgCluster, Process, TestDir, Writer, api_tokens, binary,
                             collector_config, free_port, http_call, shut_down, start_collector, wait_for)

sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "browser"))
from chromium import Page  # noqa: E402 (tests/browser is not on PYTHONPATH)


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

    def pause_replay(self):
        self.cluster.pause_replay("replica")
        type(self).writer = Writer(lambda: self.cluster.write_load(rows=200), 0.3)

    def resume_replay(self):
        self.writer.stop()
        type(self).writer = None
        self.cluster.resume_replay("replica")

    def page(self, role=None, width=1280, height=900):
        p = Page(self.base, width, height)
        self.addCleanup(p.close)
        return p.sign_in(self.tokens[role], role) if role else p

    def shot(self, page, name):
        page.screenshot(os.path.join(self.shots, name + ".png"))

    def test_1_live_dashboard(self):
        # A viewer sees the fleet, the peak banner and the cluster's topology.
        v = self.page("viewer")
        v.wait_visible('[data-node="primary"]')
        v.wait_visible('[data-node="replica"]')
        self.assertIn("replica", v.text('[data-node="replica"]'), "the replica's role")
        v.wait_visible("#peak:not([hidden])")
        self.assertIn("eu-west", v.text("#peak"), "the peak banner names eu-west")
        v.click(".cluster h3 a")
        v.wait_visible('.topology .d1 a[href="#/node/replica"]')
        self.assertNotIn("upstream not identified", v.text(".topology"), "the replica's upstream")
        self.shot(v, "cluster")
        v.goto("/#/")
        v.wait_visible('[data-node="replica"]')
        self.shot(v, "fleet-viewer")

        # An operator watches the replica's page while its replay is paused:
        # the lag chart rises and the alert appears, without a reload.
        o = self.page("operator")
        o.goto("/#/node/replica")
        o.wait_visible("#chart-lag canvas")
        max_lag = ("(() => { const c = window.pgvigil.charts.lag;"
                   " return c ? Math.max(0, ...c.data[1].filter((x) => x !== null && x !== undefined)) : 0; })()")
        before = o.js(max_lag)
        self.pause_replay()
        o.wait("(() => { const c = window.pgvigil.charts.lag;"
               " return c && c.data[1].length && c.data[1][c.data[1].length - 1] > 1.5; })()",
               "the lag chart's last point above 1.5 s", 30)
        after = o.js(max_lag)
        self.assertGreater(after, before + 1, "the lag chart rises")
        print("\nlag chart peak while replay is paused: %.2f s" % after)
        o.wait_visible('#node-alerts tr[data-rule="replay_paused"]', 30)
        self.shot(o, "replica-paused")

        # The viewer's page shows the alert too, without buttons.
        v.goto("/#/alerts")
        v.wait_visible('tr[data-rule="replay_paused"]')
        self.assertEqual(v.count("button[data-act]"), 0, "no action buttons for a viewer")

        # The operator acknowledges from the page; both pages follow.
        self.assertEqual(o.count('#node-alerts tr[data-rule="replay_paused"] button[data-act="acknowledge"]'), 1,
                         "an acknowledge button for the operator")
        o.click('#node-alerts tr[data-rule="replay_paused"] button[data-act="acknowledge"]')
        o.wait("(() => { const td = document.querySelector('#node-alerts tr[data-rule=\"replay_paused\"] .ack');"
               " return td && td.textContent.includes('acknowledged by operator-bot'); })()",
               "the operator's page to show the acknowledgement", 15)
        v.wait("(() => { const td = document.querySelector('tr[data-rule=\"replay_paused\"] .ack');"
               " return td && td.textContent.includes('acknowledged'); })()",
               "the viewer's page to follow", 15)
        self.shot(o, "replica-acknowledged")

        # The public status page says degraded.
        s = self.page()
        s.goto("/status")
        s.wait("document.readyState === 'complete' && /degraded/i.test(document.body.textContent)",
               "the status page to say degraded", 15)
        self.shot(s, "status")

        # A phone-sized screen: no horizontal scrolling.
        ph = self.page("viewer", 390, 844)
        ph.wait_visible('[data-node="replica"]')
        overflow = ph.js("document.documentElement.scrollWidth - window.innerWidth")
        self.assertLessEqual(overflow, 1, "no horizontal scrolling on a phone")
        self.shot(ph, "fleet-phone")

        for x in (v, o, ph, s):
            x.read_network_log()
            self.assertEqual(x.external, [], "no external network requests")
        self.resume_replay()
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
            f = self.first_load()
        finally:
            load.stop()
        print("\ndashboard first load with %d nodes: %.0f kB on the wire, fleet on screen after %.0f ms "
              "(page load to ready %.0f ms wall), main-thread latency %.1f ms"
              % (f["fleet_nodes"], f["first_load_bytes"] / 1024, f["interactive_ms"], f["wall_ms"],
                 f["main_thread_latency_ms"]))
        print("  html %.0f ms, DOMContentLoaded %.0f ms, whoami %.0f ms, first byte of the stream %.0f ms"
              % (f.get("html_ms") or 0, f.get("dom_content_loaded_ms") or 0, f.get("whoami_ms") or 0,
                 f.get("stream_first_byte_ms") or 0))
        self.assertGreaterEqual(f["fleet_nodes"], 502)
        self.assertLess(f["first_load_bytes"], 300 * 1024)

    def first_load(self):
        """Bytes on the wire and time until the fleet is on screen (the page's own ready mark)."""
        p = self.page()
        p.before_scripts("sessionStorage.setItem('pgvigil.token', %s);" % json.dumps(self.tokens["viewer"]))
        p.read_network_log()
        p.bytes_received = 0
        t0 = time.monotonic()
        p.goto("/")
        p.wait("document.body && document.body.dataset.ready === 'true'", "the fleet on screen", 20, interval=0.02)
        wall_ms = (time.monotonic() - t0) * 1000
        p.read_network_log()  # the bytes until ready, not the stream's later events
        f = {"wall_ms": wall_ms, "first_load_bytes": p.bytes_received,
             "fleet_nodes": p.js("window.pgvigil.fleet.nodes"),
             "interactive_ms": p.js("window.pgvigil.readyAt"),
             # Interactive: the main thread takes a click at once.
             "main_thread_latency_ms": p.js_async("const t = performance.now();"
                                                 " setTimeout(() => done(performance.now() - t), 0);")}
        f.update(p.js("""(() => {
            const out = {}, nav = performance.getEntriesByType("navigation")[0];
            out.html_ms = nav.responseEnd;
            out.dom_content_loaded_ms = nav.domContentLoadedEventEnd;
            for (const e of performance.getEntriesByType("resource")) {
              const name = e.name.replace(/^.*\\/\\/[^/]+/, "");
              if (name.startsWith("/api/v1/stream")) out.stream_first_byte_ms = e.responseStart;
              if (name.startsWith("/api/v1/whoami")) out.whoami_ms = e.responseEnd;
            }
            return out; })()"""))
        p.screenshot(os.path.join(self.shots, "fleet-500.png"), full_page=False)
        return f


if __name__ == "__main__":
    unittest.main(verbosity=2)
