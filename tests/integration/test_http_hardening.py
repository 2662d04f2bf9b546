"""HTTP hardening against a live aggregator (a real primary's collector,
history in a real database, bearer tokens), and against a bare aggregator
for slow clients.

Proves:
- a body of 1,000 nested "[" is refused with 400 (nesting is counted before
  jansson parses; it used to overflow a worker's stack), and the server
  stays up;
- "/ui/index.html%00.js" does not serve index.html (404), and "%c0%af" in a
  path answers 400 with the API's error shape (it answered 500 "{}");
- "?from=9999999999999999999999" is a 400 (it wrapped to year -290308), and
  an unparsable time is a 400 whose message is ours, not PostgreSQL's;
- a history query stuck behind a locked table does not delay another
  history request (a pool of connections, not one behind a mutex);
- refused changes are audited at a bounded rate: hundreds of refused
  PATCHes (403, then 429) leave one audit record per client, token and
  status, not one per request;
- 100 connections trickling one byte a second do not take the API down: a
  normal client's GET /api/v1/health has p99 < 50 ms meanwhile.
"""

import json
import socket
import subprocess
import threading
import time
import unittest

from pgvigil_harness import (PgCluster, Process, TestDir, api_tokens, binary, collector_config, free_port,
                             http_call, shut_down, start_collector, wait_for)


def raw_get(port, target, timeout=10):
    """GET target exactly as written (no client-side normalisation): (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target).encode())
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode(errors="replace")


class HardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, replicas=0, pg_stat_statements=False).start()
        cls.cluster.psql("primary", "CREATE DATABASE pgvigil")
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % cls.cluster.port("primary")
        cls.tokens, entries = api_tokens("viewer", "operator", "admin")
        ingest = "tcp://127.0.0.1:%d" % free_port()
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        cfg = cls.dir.file("aggregator.yaml", """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
storage: {dsn: "%s", spool_dir: %s}
auth:
  anonymous: none
  tokens:
%s
http:
  rate_limit: {per_second: 50, burst: 100}
""" % (ingest, cls.port, dsn, cls.dir.sub("spool"), entries))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: cls.call("/healthz")[0] == 200, 20, what="aggregator")
        c = collector_config(cls.dir, "primary.yaml", "primary", cls.cluster.dsn("primary"), [ingest],
                             extra="interval: 500ms\n")
        cls.collector = start_collector(cls.dir, c, "collector-primary")
        wait_for(lambda: cls.call("/api/v1/nodes/primary", token="viewer")[0] == 200, 20, what="the node")

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, [cls.collector])

    @classmethod
    def call(cls, path, method="GET", body=None, token=None, raw=None):
        return http_call(cls.base + path, method, body, cls.tokens.get(token, token), raw)

    def setUp(self):
        time.sleep(2.1)  # the rate limit's bucket refills between tests

    def test_time_out_of_range_is_a_400(self):
        for q in ("from=9999999999999999999999", "to=1e400", "from=-99999999999d", "from=-5"):
            status, _, answer = self.call("/api/v1/nodes/primary/history?metric=up&" + q, token="viewer")
            self.assertEqual(status, 400, (q, answer))
            self.assertEqual(answer["error"]["code"], "bad_request")
            # refused by our range check, not by the database after wrapping around
            self.assertIn("Unix seconds from 0", answer["error"]["message"], q)
            self.assertNotIn("290308", answer["error"]["message"])

    def test_database_error_text_is_not_returned(self):
        status, _, answer = self.call("/api/v1/nodes/primary/history?metric=up&from=yesterday-ish", token="viewer")
        self.assertEqual(status, 400, answer)
        message = answer["error"]["message"]
        self.assertNotIn("invalid input syntax", message)
        self.assertNotIn("timestamp with time zone", message)
        self.assertIn("from and to", message)

    def test_slow_history_query_does_not_delay_another(self):
        wait_for(lambda: self.call("/api/v1/nodes/primary/uptime", token="viewer")[0] == 200, 10, what="uptime")
        locker = subprocess.Popen(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.cluster.port("primary")), "-U", "postgres",
             "-d", "pgvigil", "-c", "BEGIN; LOCK TABLE node_samples IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8);"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: self.cluster.scalar(
                "primary", "SELECT count(*) FROM pg_locks WHERE relation = 'node_samples'::regclass "
                "AND mode = 'AccessExclusiveLock' AND granted", dbname="pgvigil") == "1", 10, what="the lock")
            slow = {}

            def slow_request():
                started = time.monotonic()
                slow["status"] = self.call("/api/v1/nodes/primary/history?metric=up&from=-1h", token="viewer")[0]
                slow["seconds"] = time.monotonic() - started
            t = threading.Thread(target=slow_request)
            t.start()
            time.sleep(0.5)  # the slow one holds its connection now
            started = time.monotonic()
            status, _, answer = self.call("/api/v1/nodes/primary/uptime?from=-10m", token="viewer")
            fast = time.monotonic() - started
            self.assertEqual(status, 200, answer)
            t.join(15)
            self.assertGreater(slow["seconds"], 2, slow)  # it really was stuck behind the lock
            self.assertLess(fast, 1.0, "a history request waited %.2f s behind a slow one" % fast)
        finally:
            locker.kill()
            locker.wait()

    def test_refused_changes_are_audited_at_a_bounded_rate(self):
        path = "/api/v1/silences/424242"
        statuses = [self.call(path, "DELETE", token="viewer")[0] for _ in range(300)]
        self.assertIn(403, statuses)
        self.assertIn(429, statuses)
        time.sleep(2.5)

        def rows():
            status, _, body = self.call("/api/v1/audit?limit=1000", token="admin")
            self.assertEqual(status, 200, body)
            return [a for a in body["audit"] if a["who"] == "viewer-bot"]
        got = wait_for(lambda: len({a["result"] for a in rows()}) == 2 and rows(), 10, what="audit records")
        time.sleep(1)
        got = rows()
        self.assertLessEqual(len(got), 2, got)
        self.assertEqual(sorted(a["result"] for a in got), [403, 429])
        self.assertEqual({a["target"] for a in got}, {path})


class BareAggregator(unittest.TestCase):
    """An aggregator without storage or auth (anyone is admin), one per class."""

    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.port = free_port()
        cfg = cls.dir.file("aggregator.yaml", 'listen: {ingest: ["tcp://127.0.0.1:%d"], http: "127.0.0.1:%d"}\n'
                           % (free_port(), cls.port))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: cls.call("/healthz")[0] == 200, 20, what="aggregator")

    @classmethod
    def tearDownClass(cls):
        rc = cls.agg.stop()
        log = cls.agg.log_text()
        cls.dir.remove()
        assert rc == 0, "aggregator exited with %s:\n%s" % (rc, log)

    @classmethod
    def call(cls, path, method="GET", body=None, token=None, raw=None):
        return http_call("http://127.0.0.1:%d%s" % (cls.port, path), method, body, token, raw)


class NestedBodyTest(BareAggregator):
    def test_deeply_nested_body_is_refused_not_a_crash(self):
        for body in (b"[" * 1000, b'{"matchers":' * 1000, b"[" * 33 + b"]" * 33):
            status, _, answer = self.call("/api/v1/silences", "POST", raw=body)
            self.assertEqual(status, 400, answer)
            self.assertEqual(answer["error"]["code"], "bad_request")
            self.assertIn("deeper", answer["error"]["message"])
        self.assertTrue(self.agg.running())
        self.assertEqual(self.call("/healthz")[0], 200)
        # a reasonable nesting still reaches the core's own checks
        status, _, answer = self.call("/api/v1/silences", "POST", raw=b'{"matchers": [[[[1]]]]}')
        self.assertEqual(status, 400, answer)
        self.assertNotIn("deeper", answer["error"]["message"])


class PathTest(BareAggregator):
    def test_nul_byte_in_path_does_not_serve_index(self):
        status, body = raw_get(self.port, "/ui/index.html%00.js")
        self.assertEqual(status, 404, body[:200])
        self.assertNotIn("<html", body.lower())
        self.assertEqual(raw_get(self.port, "/ui/index.html")[0], 200)

    def test_overlong_utf8_in_path_answers_the_error_shape(self):
        for target in ("/api/v1/%c0%af", "/ui/%c0%afetc/passwd", "/api/v1/nodes/%ff"):
            status, body = raw_get(self.port, target)
            self.assertIn(status, (400, 404), body)
            error = json.loads(body)["error"]
            self.assertTrue(error["code"] and error["message"], body)


class SlowClientsTest(BareAggregator):
    SLOW = 100
    PROBES = 200

    def test_slow_clients_do_not_delay_health(self):
        request = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 64
        socks, stop = [], threading.Event()
        for _ in range(self.SLOW):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
            socks.append(s)

        def trickle():
            i = 0
            while not stop.is_set():
                for s in list(socks):
                    try:
                        s.send(request[i % len(request):i % len(request) + 1])
                    except OSError:
                        socks.remove(s)
                        s.close()
                        try:  # a cut client comes back, as an attacker would
                            socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
                        except OSError:
                            pass
                i += 1
                stop.wait(1.0)
        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            time.sleep(2)  # every slow client has a worker by now
            times = []
            deadline = time.monotonic() + 60
            while len(times) < self.PROBES and time.monotonic() < deadline:
                started = time.monotonic()
                status, _, body = http_call("http://127.0.0.1:%d/api/v1/health" % self.port, timeout=5)
                elapsed = time.monotonic() - started
                self.assertEqual(status, 200, body)
                times.append(elapsed)
                time.sleep(0.02)
            times.sort()
            p99 = times[int(len(times) * 0.99) - 1]
            print("slow clients: %d; health probes: %d; p50 %.1f ms, p99 %.1f ms, max %.1f ms"
                  % (self.SLOW, len(times), times[len(times) // 2] * 1000, p99 * 1000, times[-1] * 1000))
            self.assertEqual(len(times), self.PROBES)
            self.assertLess(p99, 0.050, "p99 of /api/v1/health was %.1f ms" % (p99 * 1000))
        finally:
            stop.set()
            t.join(5)
            for s in socks:
                s.close()
        self.assertTrue(self.agg.running())


if __name__ == "__main__":
    unittest.main(verbosity=2)
