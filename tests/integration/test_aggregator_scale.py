"""Scale, against a real aggregator fed by pgvigil-ingest-load (clusters of a
primary and two replicas with moving LSNs):

- 5,000 simulated nodes with a small inbound memory budget, first at 1
  sample/s each, then as fast as the generator can send, so the core falls
  behind. The inbound queue stays within its budget, the aggregator's memory
  does not grow with the backlog (ingest sheds what it cannot read in time
  rather than let libzmq queue it), and every sample is accounted for:
  sent = received = accepted + shed = applied + coalesced + dropped + shed.
- The lists that scale with the fleet: filters, paging with a cursor that
  visits every item once, worst first, ETag and If-None-Match, gzip; the
  dashboard's stream leaves a large fleet's clusters out."""

import gzip
import json
import os
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from pgvigil_base import metrics
from pgvigil_harness import Process, TestDir, binary, free_port, wait_for

NODES = 5000
BUDGET_MB = 16
# What the aggregator may grow by while the core is behind, beyond the
# inbound budget: snapshot churn and allocator slack, not the backlog.
SLACK_MB = 256
# Under AddressSanitizer freed memory waits in a quarantine (256 MB by
# default) before reuse: a fixed overhead that would fill during the
# overload and be taken for growth. Kept small for this aggregator.
ASAN_QUARANTINE_MB = 16




def rss_mb(pid, key="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def load(ingest, seconds, rate):
    out = subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
                          "--replicas", "2", "--rate", str(rate), "--seconds", str(seconds)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=seconds + 60)
    assert out.returncode == 0, out.stdout
    stats = dict(kv.split("=", 1) for line in out.stdout.splitlines() if line.startswith("stats ")
                 for kv in line.split()[1:])
    return int(stats["sent"]), int(stats["unsent"])


class ScaleTest(unittest.TestCase):
    def test_budget_holds_and_every_sample_is_accounted_for(self):
        d = TestDir()
        ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
        base = "http://127.0.0.1:%d" % http
        cfg = d.file("agg.yaml", "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nlog_level: warning\n"
                                 "inbound_budget_mb: %d\n" % (ingest, http, BUDGET_MB))
        asan = os.environ.get("ASAN_OPTIONS", "")
        agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg],
                      env={"ASAN_OPTIONS": (asan + ":" if asan else "") + "quarantine_size_mb=%d" % ASAN_QUARANTINE_MB})
        try:
            wait_for(lambda: _ok(base + "/healthz"), 20, what="aggregator")
            self.assertEqual(metrics(base)["pgvigil_inbound_budget_bytes"], BUDGET_MB << 20)
            # every node known, at the cadence collectors use
            sent, unsent = load(ingest, 5, NODES)
            _quiet(base, sent=sent)
            rss_warm = rss_mb(agg.proc.pid)

            # overload: as fast as the generator goes; watch the queue meanwhile
            peak_queued = [0.0]
            gen = subprocess.Popen([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
                                    "--replicas", "2", "--seconds", "8"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            while gen.poll() is None:
                m = metrics(base)
                peak_queued[0] = max(peak_queued[0], m.get("pgvigil_ingest_queued_bytes", 0))
                time.sleep(0.2)
            out = gen.stdout.read()
            gen.stdout.close()
            self.assertEqual(gen.returncode, 0, out)
            stats = dict(kv.split("=", 1) for line in out.splitlines() if line.startswith("stats ")
                         for kv in line.split()[1:])
            sent += int(stats["sent"])
            unsent += int(stats["unsent"])
            m = _quiet(base, sent=sent)
            rss_peak = rss_mb(agg.proc.pid, "VmHWM:")

            self.assertEqual(unsent, 0)
            self.assertEqual(m["pgvigil_ingest_received_total"], sent)
            shed = m["pgvigil_ingest_shed_total"]
            self.assertEqual(m["pgvigil_ingest_accepted_total"] + shed, sent)
            applied, coalesced, dropped = (m["pgvigil_core_samples_applied_total"],
                                           m["pgvigil_ingest_coalesced_total"], m["pgvigil_ingest_dropped_total"])
            self.assertEqual(sent, applied + coalesced + dropped + shed, m)
            self.assertGreater(coalesced + dropped + shed, 0, "the overload did not put ingest behind: %r" % m)
            print("overload: %d sent, %d applied, %d coalesced, %d dropped, %d shed; RSS %.0f MB after warm-up,"
                  " peak %.0f MB" % (sent, applied, coalesced, dropped, shed, rss_warm, rss_peak))
            self.assertLessEqual(peak_queued[0], (BUDGET_MB << 20) / 2)
            self.assertLess(rss_peak - rss_warm, BUDGET_MB + SLACK_MB,
                            "RSS %.0f MB after warm-up, peak %.0f MB" % (rss_warm, rss_peak))
            if coalesced or shed:
                self.assertIn("samples coalesced", agg.log_text())
        finally:
            self.assertEqual(agg.stop(timeout=60), 0, agg.log_text()[-4000:])
            d.remove()


class ListsTest(unittest.TestCase):
    def test_filters_paging_etag_gzip(self):
        d = TestDir()
        ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
        base = "http://127.0.0.1:%d" % http
        cfg = d.file("agg.yaml", "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nlog_level: warning\n"
                     % (ingest, http))
        agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        nodes = 1800  # 600 clusters: more than the stream sends whole
        try:
            wait_for(lambda: _ok(base + "/healthz"), 20, what="aggregator")
            gen = subprocess.Popen([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(nodes),
                                    "--replicas", "2", "--rate", str(nodes), "--seconds", "60",
                                    "--lagging-every", "97"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
            try:
                wait_for(lambda: _get(base + "/api/v1/health?type=quick")[1].get("up") == nodes, 60,
                         interval=0.5, what="every node up")
                self._lists(base, nodes)
            finally:
                gen.terminate()
                gen.wait()
        finally:
            self.assertEqual(agg.stop(timeout=60), 0, agg.log_text()[-4000:])
            d.remove()

    def _lists(self, base, nodes):
        # a cursor visits every replica of a region once, in name order
        seen, cursor = [], None
        while True:
            url = base + "/api/v1/nodes?role=replica&region=eu-west&limit=97" + ("&cursor=" + cursor if cursor else "")
            _, page = _get(url)
            seen += [n["node"] for n in page["nodes"]]
            self.assertTrue(all(n["role"] == "replica" and n["region"] == "eu-west" for n in page["nodes"]))
            cursor = page["next"]
            if not cursor:
                break
        self.assertEqual(len(seen), page["matched"])
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(len(seen), sum(1 for i in range(nodes) if i % 3 and (i // 3) % 4 == 0))
        # worst first: the replicas the generator keeps far behind lead
        _, worst = _get(base + "/api/v1/nodes?sort=worst&limit=5")
        self.assertGreater(worst["nodes"][0]["lag"]["seconds"], 10, worst)
        _, worst_clusters = _get(base + "/api/v1/clusters?sort=worst&limit=3")
        self.assertIn(worst_clusters["clusters"][0]["status"], ("degraded", "critical"))
        _, prefixed = _get(base + "/api/v1/nodes?prefix=bench-17&limit=1000")
        self.assertEqual(prefixed["matched"], 1 + 10 + 100)  # bench-17, -170..-179, -1700..-1799
        # ETag: the same answer while nothing it shows changed; 304 on If-None-Match
        status, headers, body = _raw(base + "/api/v1/clusters?cluster=7300000000000000005")
        self.assertEqual(status, 200)
        etag = headers["ETag"]
        status, _, body = _raw(base + "/api/v1/clusters?cluster=7300000000000000005", {"If-None-Match": etag})
        self.assertIn(status, (200, 304))  # 200 only if the cluster changed in between
        if status == 304:
            self.assertEqual(body, b"")
        # gzip when accepted
        status, headers, body = _raw(base + "/api/v1/clusters?limit=100", {"Accept-Encoding": "gzip"})
        self.assertEqual(headers.get("Content-Encoding"), "gzip")
        self.assertEqual(len(json.loads(gzip.decompress(body))["clusters"]), 100)
        status, headers, body = _raw(base + "/metrics", {"Accept-Encoding": "gzip"})
        self.assertEqual(headers.get("Content-Encoding"), "gzip")
        self.assertIn(b"pgvigil_replication_lag_seconds{", gzip.decompress(body))
        # bad requests say what is wrong
        self.assertEqual(_raw(base + "/api/v1/nodes?limit=0")[0], 400)
        self.assertEqual(_raw(base + "/api/v1/clusters?role=primary")[0], 400)
        self.assertEqual(_raw(base + "/api/v1/nodes?sort=worst&cursor=k:bench-1")[0], 400)
        # the stream leaves a fleet this large to the paged API
        req = urllib.request.Request(base + "/api/v1/stream", headers={"Accept": "text/event-stream"})
        with urllib.request.urlopen(req, timeout=10) as r:
            data = b""
            while b"\ndata:" not in data or not data.endswith(b"\n\n"):
                data += r.read1(65536)
        event = json.loads(data.split(b"\ndata:", 1)[1].split(b"\n", 1)[0])
        self.assertTrue(event["clusters_paged"])
        self.assertEqual(event["clusters"], [])


def _get(url):
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.status, json.loads(r.read())


def _raw(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _ok(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def _quiet(base, stable_s=15, sent=0):
    """The metrics once every sent sample was received (what the generator
    handed to its sockets may still be in the kernel's buffers when it exits)
    and every accepted one is accounted for (applied, coalesced or dropped)
    and nothing waits; or, failing that, once the
    counters have not moved for stable_s (the caller's assertions then say
    what is missing)."""
    keys = ("pgvigil_ingest_received_total", "pgvigil_core_samples_applied_total",
            "pgvigil_ingest_coalesced_total", "pgvigil_ingest_dropped_total")
    last, since = None, time.monotonic()
    while True:
        m = metrics(base)
        if (m["pgvigil_ingest_received_total"] >= sent and not m.get("pgvigil_ingest_queued", 0)
                and m["pgvigil_ingest_accepted_total"] == sum(m[k] for k in keys[1:])):
            return m
        now = tuple(m.get(k) for k in keys)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > stable_s:
            return m
        time.sleep(0.5)


if __name__ == "__main__":
    unittest.main()
