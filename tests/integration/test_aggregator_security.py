"""API security against a live aggregator fed by a real primary's collector,
history in a real database; and HTTPS with a test certificate (TlsTest).

Proves: tokens made by `pgvigil-aggregator token` and configured as SHA-256
hashes; no token -> 401 with WWW-Authenticate, a bad token -> 401, a viewer
reads but mutating -> 403, an operator acknowledging -> 200, and each of
these changes (and refusals) is an audit record that only an admin can read;
exceeding the rate limit -> 429 with Retry-After; oversized, malformed and
unknown-field bodies -> 4xx with the error shape; security headers on every
answer; the public status page needs no token, is cacheable and names no
node or cluster; CORS headers only for the configured origin.
"""

import json
import subprocess
import time
import unittest

from pgvigil_harness import (PgCluster, Process, TestDir, api_tokens, binary, collector_config, free_port,
                             http_call, shut_down, start_collector, wait_for)


class SecurityTest(unittest.TestCase):
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
  rate_limit: {per_second: 20, burst: 30}
  cors_origin: "https://ops.example.org"
rules:
  - {name: always_up, metric: node_up, op: ">", warning: 0.5, for: 0s, summary: "{node} is up"}
""" % (ingest, cls.port, dsn, cls.dir.sub("spool"), entries))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: cls.call("/healthz")[0] == 200, 20, what="aggregator")
        c = collector_config(cls.dir, "primary.yaml", "primary", cls.cluster.dsn("primary"), [ingest],
                             extra="interval: 500ms\n")
        cls.collector = start_collector(cls.dir, c, "collector-primary")
        wait_for(lambda: cls.call("/api/v1/alerts", token="viewer")[2].get("alerts"), 20, what="the alert")

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, [cls.collector])

    @classmethod
    def call(cls, path, method="GET", body=None, token=None, raw=None, base=None):
        """(status, headers, json or text); token: a role or a token"""
        return http_call((base or cls.base) + path, method, body, cls.tokens.get(token, token), raw)

    def alert_id(self):
        return self.call("/api/v1/alerts", token="viewer")[2]["alerts"][0]["id"]

    def audit(self):
        status, _, body = self.call("/api/v1/audit", token="admin")
        self.assertEqual(status, 200, body)
        return body["audit"]

    def test_1_tokens_and_roles(self):
        status, headers, body = self.call("/api/v1/alerts")
        self.assertEqual(status, 401)
        self.assertEqual(headers["WWW-Authenticate"], "Bearer")
        self.assertEqual(body["error"]["code"], "unauthorized")
        self.assertEqual(self.call("/api/v1/alerts", token="not-a-token")[0], 401)
        self.assertEqual(self.call("/metrics")[0], 401)
        self.assertEqual(self.call("/api/v1/alerts", token="viewer")[0], 200)
        alert = self.alert_id()
        status, _, body = self.call("/api/v1/alerts/%d" % alert, "PATCH", {"action": "acknowledge"}, token="viewer")
        self.assertEqual(status, 403)
        self.assertEqual(body["error"]["code"], "forbidden")
        status, _, body = self.call("/api/v1/alerts/%d" % alert, "PATCH", {"action": "acknowledge"})
        self.assertEqual(status, 401)
        status, _, body = self.call("/api/v1/alerts/%d" % alert, "PATCH",
                                    {"action": "acknowledge", "comment": "mine"}, token="operator")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["alert"]["acknowledged"])
        self.assertEqual(body["alert"]["acknowledgement"]["by"], "operator-bot")
        self.assertEqual(self.call("/api/v1/audit", token="operator")[0], 403)

        def records():
            return [(a["who"], a["role"], a["result"], a["target"]) for a in self.audit()]
        wait_for(lambda: ("operator-bot", "operator", 200, str(alert)) in records(), 10, what="audit of the ack")
        got = records()
        self.assertIn(("viewer-bot", "viewer", 403, "/api/v1/alerts/%d" % alert), got)
        self.assertIn(("anonymous", "none", 401, "/api/v1/alerts/%d" % alert), got)
        entry = next(a for a in self.audit() if a["result"] == 200)
        self.assertIn("acknowledge", entry["action"])
        self.assertEqual(entry["client"], "127.0.0.1")

    def test_2_bodies(self):
        alert = self.alert_id()
        path = "/api/v1/alerts/%d" % alert
        status, _, body = self.call(path, "PATCH", raw=b"{" + b"x" * 70000, token="operator")
        self.assertEqual(status, 413)
        self.assertEqual(body["error"]["code"], "payload_too_large")
        status, _, body = self.call(path, "PATCH", raw=b"{\"action\": ", token="operator")
        self.assertEqual(status, 400)
        self.assertEqual(body["error"]["code"], "bad_request")
        status, _, body = self.call(path, "PATCH", {"action": "acknowledge", "sudo": True}, token="operator")
        self.assertEqual(status, 400)
        self.assertIn("sudo", body["error"]["message"])
        status, _, body = self.call("/api/v1/silences", "POST", raw=b"[1, 2]", token="operator")
        self.assertEqual(status, 400)

    def test_3_headers_and_status_page(self):
        status, headers, _ = self.call("/api/v1/health", token="viewer")
        self.assertEqual(status, 200)
        self.assertEqual(headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(headers["X-Frame-Options"], "DENY")
        self.assertIn("default-src", headers["Content-Security-Policy"])
        self.assertEqual(headers["Access-Control-Allow-Origin"], "https://ops.example.org")
        status, headers, body = self.call("/api/v1/status")
        self.assertEqual(status, 200)
        self.assertIn("public", headers["Cache-Control"])
        self.assertEqual(body["status"], "degraded")
        region = next(r for r in body["regions"] if r["region"] == "eu-west")
        self.assertEqual(region["status"], "degraded")
        self.assertEqual(region["incidents"][0]["title"], "Performance degraded")
        text = json.dumps(body)
        self.assertNotIn("primary", text)
        self.assertNotIn("always_up", text)
        sysid = self.cluster.scalar("primary", "SELECT system_identifier FROM pg_control_system()")
        self.assertNotIn(str(int(sysid) & 0xFFFFFFFFFFFFFFFF), text)
        status, headers, page = self.call("/status")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertIn("eu-west", page)
        self.assertIn("degraded", page)

    def test_4_cors_preflight_and_curl(self):
        status, headers, _ = self.call("/api/v1/alerts/1", "OPTIONS")
        self.assertEqual(status, 204)
        self.assertIn("PATCH", headers["Access-Control-Allow-Methods"])
        self.assertIn("Authorization", headers["Access-Control-Allow-Headers"])
        out = subprocess.run(["curl", "-sS", "-H", "Authorization: Bearer " + self.tokens["viewer"],
                              self.base + "/api/v1/health"], capture_output=True, text=True, timeout=20)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn(json.loads(out.stdout)["status"], ("ok", "degraded", "critical"))

    def test_4b_stream_pushes_changes(self):
        import http.client
        self.assertEqual(self.call("/api/v1/stream")[0], 401)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + self.tokens["viewer"]})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertTrue(resp.getheader("Content-Type").startswith("text/event-stream"))

        def next_event():
            data = None
            while True:
                line = resp.fp.readline().decode()
                if not line:
                    raise EOFError("stream closed")
                if line.startswith("data: "):
                    data = json.loads(line[6:])
                elif line == "\n" and data is not None:
                    return data
        first = next_event()
        self.assertEqual(first["nodes"], 1)
        self.assertEqual(first["clusters"][0]["nodes"][0]["node"], "primary")
        alert = next(a for a in first["alerts"] if a["rule"] == "always_up")
        status, _, body = self.call("/api/v1/alerts/%d" % alert["id"], "PATCH", {"action": "resolve"},
                                    token="operator")
        self.assertEqual(status, 200, body)
        started = time.monotonic()
        while time.monotonic() - started < 10:  # pushed, not polled: the next events tell
            ev = next_event()
            if all(a["id"] != alert["id"] for a in ev["alerts"]):
                break
        else:
            self.fail("the resolution never came down the stream")
        self.assertGreater(ev["version"], first["version"])
        conn.close()

    def test_4c_heavy_maintenance_needs_admin(self):
        body = {"node": "primary", "operation": "VACUUM FULL", "table": "pg_class"}
        status, _, answer = self.call("/api/v1/maintenance", "POST", body, token="operator")
        self.assertEqual(status, 403, answer)
        self.assertEqual(answer["error"]["code"], "forbidden")
        self.assertEqual(self.call("/api/v1/maintenance", "POST", body, token="viewer")[0], 403)
        self.assertEqual(self.call("/api/v1/maintenance", "POST", body)[0], 401)
        wait_for(lambda: [a for a in self.audit() if a["action"].endswith("maintenance") and a["result"] == 403
                          and a["who"].startswith("operator-bot")], 10, what="the refusal in the audit log")

    def test_5_rate_limit(self):
        time.sleep(2)  # refill
        answers = [self.call("/api/v1/health", token="viewer") for _ in range(80)]
        limited = [a for a in answers if a[0] == 429]
        self.assertTrue(limited, [a[0] for a in answers])
        self.assertGreaterEqual(int(limited[0][1]["Retry-After"]), 1)
        self.assertEqual(limited[0][2]["error"]["code"], "rate_limited")
        self.assertEqual(answers[0][0], 200)
        time.sleep(2)
        self.assertEqual(self.call("/api/v1/health", token="viewer")[0], 200)


class TlsTest(unittest.TestCase):
    """HTTPS with a certificate made here, checked by curl against it; the
    plain port redirects to HTTPS."""

    def test_https_with_a_test_certificate(self):
        d = TestDir()
        try:
            key, crt = d.sub("tls") + "/key.pem", d.sub("tls") + "/cert.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True, timeout=60)
            pem = d.file("server.pem", open(crt).read() + open(key).read())
            tokens, entries = api_tokens("viewer")
            token = tokens["viewer"]
            port, plain = free_port(), free_port()
            cfg = d.file("aggregator.yaml", """
listen: {ingest: ["tcp://127.0.0.1:%d"], http: "127.0.0.1:%d"}
auth:
  tokens:
%s
http: {tls_certificate: %s, redirect_from: "127.0.0.1:%d"}
""" % (free_port(), port, entries, pem, plain))
            agg = Process(d, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])

            def curl(*args):
                return subprocess.run(["curl", "-sS", "--max-time", "5"] + list(args), capture_output=True,
                                      text=True, timeout=30)
            base = "https://127.0.0.1:%d" % port
            wait_for(lambda: curl("--cacert", crt, base + "/healthz").returncode == 0, 20, what="HTTPS")
            r = curl("--cacert", crt, "-H", "Authorization: Bearer " + token, base + "/api/v1/whoami")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["role"], "viewer")
            r = curl("--cacert", crt, "-o", "/dev/null", "-w", "%{http_code}", base + "/api/v1/alerts")
            self.assertEqual(r.stdout, "401")
            # The certificate is really checked: without it curl refuses.
            self.assertNotEqual(curl(base + "/healthz").returncode, 0)
            r = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "http://127.0.0.1:%d/healthz" % plain)
            code, location = r.stdout.split(" ", 1)
            self.assertTrue(code.startswith("30"), r.stdout)
            self.assertTrue(location.startswith("https://127.0.0.1:%d/" % port), r.stdout)
            self.assertEqual(agg.stop(), 0, agg.log_text())
        finally:
            d.remove()


if __name__ == "__main__":
    unittest.main(verbosity=2)
