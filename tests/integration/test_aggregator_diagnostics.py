"""Diagnostics and maintenance against a real primary, its collector and a
live aggregator with history in a real database.

Proves: updates that leave dead tuples (autovacuum off for that table by
reloption) make the table need VACUUM, with a vacuum recommendation and its
exact SQL; a VACUUM requested through the API runs via the collector
(queued -> running -> completed, stored in maintenance_operations with who
asked) and the dead tuples drop; an unused and a duplicate index are reported
and recommended for dropping; a pgbench run shows up in statements with
deltas; a query made slower by dropping its index is reported as a
regression (and raises query_regression); REINDEX of a missing index and a
table name carrying SQL are refused with 404 and nothing runs; heavy
operations need the admin role (operator -> 403); VACUUM FULL in peak hours
is refused without force (409) and runs with it.
"""

import datetime
import os
import subprocess
import threading
import time
import unittest
import zoneinfo

from pgvigil_harness import (PG_BIN, PgCluster, Process, TestDir, api_tokens, binary, collector_config,
                             free_port, http_call, shut_down, start_collector, wait_for)

ZONE = "Europe/London"


class DiagnosticsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir()
        cls.cluster = PgCluster(cls.dir, replicas=0).start()
        c = cls.cluster
        c.psql("primary", "CREATE DATABASE pgvigil")
        c.psql("primary", "CREATE TABLE guests (id int PRIMARY KEY, name text, table_no int, note text)"
                          " WITH (autovacuum_enabled = false)")
        c.psql("primary", "INSERT INTO guests SELECT g, 'guest ' || g, g % 200, 'x' FROM generate_series(1, 20000) g")
        c.psql("primary", "CREATE INDEX guests_table_no ON guests (table_no)")
        c.psql("primary", "CREATE INDEX guests_table_no_again ON guests (table_no)")
        c.psql("primary", "CREATE INDEX guests_note ON guests (note)")
        c.psql("primary", "ANALYZE guests")
        c.psql("primary", "UPDATE guests SET name = name || '!' WHERE id % 2 = 0")
        c.psql("primary", "CREATE TABLE lookups (id int, code int, payload text)")
        c.psql("primary", "INSERT INTO lookups SELECT g, g, md5(g::text) FROM generate_series(1, 300000) g")
        c.psql("primary", "CREATE INDEX lookups_code ON lookups (code)")
        c.psql("primary", "VACUUM ANALYZE lookups")
        c.psql("primary", "CREATE TABLE weddings (id int PRIMARY KEY, day date)")
        c.psql("primary", "INSERT INTO weddings SELECT g, current_date + g FROM generate_series(1, 42) g")
        c.psql("primary", "SELECT pg_stat_statements_reset()")
        cls.backups = cls.dir.sub("backups", postgres_owned=True)
        cls.scratch = cls.dir.sub("scratch", postgres_owned=True)
        subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(PG_BIN, "pg_basebackup"), "-h", "127.0.0.1",
                        "-p", str(c.port("primary")), "-U", "postgres", "-D", os.path.join(cls.backups, "b1"),
                        "-X", "stream", "-c", "fast", "--no-sync", "--manifest-checksums=SHA256"],
                       check=True, capture_output=True, timeout=180)
        cls.tokens, entries = api_tokens("operator", "admin")
        today = datetime.datetime.now(zoneinfo.ZoneInfo(ZONE)).date().isoformat()
        cls.dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % c.port("primary")
        ingest = "tcp://127.0.0.1:%d" % free_port()
        cls.port = free_port()
        cls.base = "http://127.0.0.1:%d" % cls.port
        cfg = cls.dir.file("aggregator.yaml", """
listen: {ingest: [%s], http: "127.0.0.1:%d"}
storage: {dsn: "%s", spool_dir: %s}
stale_intervals: 8
auth:
  anonymous: viewer
  tokens:
%s
regions: {eu-west: {timezone: %s}}
peak: {days: [], dates: [%s], hours: "00:00-00:00"}
diagnostics:
  seq_scan_min_rows: 1000
  regression: {factor: 3, min_increase: 1ms, min_calls: 10, recent: 4s, half_life: 1h, min_baseline: 2s}
""" % (ingest, cls.port, cls.dsn, cls.dir.sub("spool"), entries, ZONE, today))
        cls.agg = Process(cls.dir, "aggregator", [binary("pgvigil-aggregator"), "-c", cfg])
        wait_for(lambda: cls.call("/healthz")[0] == 200, 20, what="aggregator")
        # Maintenance needs the table owner: this collector connects as postgres.
        col = collector_config(cls.dir, "primary.yaml", "primary",
                               cls.cluster.dsn("primary", user="postgres"), [ingest],
                               extra="interval: 500ms\nstats_interval: 1s\nslow_interval: 1s\n"
                                     "maintenance: {enabled: true, lock_timeout: 2s}\n"
                                     "backup: {directory: %s, interval: 2s, restore: {enabled: true, interval: 1h,"
                                     " rto: 2m, query: \"select count(*) from weddings\", user: postgres,"
                                     " scratch_dir: %s}}\n" % (cls.backups, cls.scratch))
        cls.collector = start_collector(cls.dir, col, "collector-primary")
        wait_for(lambda: cls.table("guests"), 30, what="table statistics")

    @classmethod
    def tearDownClass(cls):
        shut_down(cls.dir, cls.cluster, cls.agg, [cls.collector])

    @classmethod
    def call(cls, path, method="GET", body=None, token=None):
        """(status, json or text)"""
        status, _, answer = http_call(cls.base + path, method, body, cls.tokens[token] if token else None)
        return status, answer

    @classmethod
    def table(cls, name):
        status, body = cls.call("/api/v1/nodes/primary/tables")
        if status != 200:
            return None
        return next((t for t in body["tables"] if t["table"] == name), None)

    def recommendations(self, kind):
        status, body = self.call("/api/v1/recommendations?node=primary&kind=" + kind)
        self.assertEqual(status, 200, body)
        return body["recommendations"]

    def maintenance(self, body, token="operator"):
        return self.call("/api/v1/maintenance", "POST", body, token=token)

    def wait_done(self, op_id, timeout=60):
        def done():
            status, body = self.call("/api/v1/maintenance/%d" % op_id)
            return body["operation"] if status == 200 and body["operation"]["state"] in ("completed", "failed") \
                else None
        return wait_for(done, timeout, what="operation %d to finish" % op_id)

    def pgbench(self, *args, seconds=3):
        argv = [os.path.join(PG_BIN, "pgbench"), "-h", "127.0.0.1", "-p", str(self.cluster.port("primary")),
                "-U", "postgres", "-n", "-T", str(seconds)] + list(args) + ["postgres"]
        return subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)

    def test_1_dead_tuples_need_vacuum_and_vacuum_runs_through_the_collector(self):
        t = wait_for(lambda: (lambda t: t if t and t["needs_vacuum"] else None)(self.table("guests")), 30,
                     what="guests to need VACUUM")
        self.assertGreaterEqual(t["dead_tuples"], 9000)
        self.assertIs(t["autovacuum_enabled"], False)  # the table's own reloption
        self.assertIn("dead_tuples", t["vacuum_reasons"])
        self.assertLess(t["vacuum_threshold"], t["dead_tuples"])
        status, body = self.call("/api/v1/nodes/primary/tables?needs_vacuum=true")
        self.assertIn("guests", [x["table"] for x in body["tables"]])
        self.assertNotIn("lookups", [x["table"] for x in body["tables"]])
        recs = [r for r in self.recommendations("vacuum") if r["table"] == "guests"]
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["sql"], 'VACUUM (ANALYZE) "public"."guests";')
        self.assertGreaterEqual(recs[0]["evidence"]["dead_tuples"], 9000)

        status, body = self.maintenance({"node": "primary", "operation": "VACUUM", "table": "guests",
                                         "verbose": True, "by": "dba on call"})
        self.assertEqual(status, 202, body)
        self.assertEqual(body["operation"]["state"], "queued")
        op = self.wait_done(body["operation"]["id"])
        self.assertEqual(op["state"], "completed", op)
        self.assertEqual(op["statement"], 'VACUUM (VERBOSE) "public"."guests"')
        self.assertIsNotNone(op["duration_ms"])
        self.assertIn("guests", op["output"])
        self.assertIn("operator-bot", op["requested_by"])
        wait_for(lambda: (lambda t: t and t["dead_tuples"] < 100 and not t["needs_vacuum"])(self.table("guests")),
                 30, what="dead tuples to drop after VACUUM")
        wait_for(lambda: not [r for r in self.recommendations("vacuum") if r["table"] == "guests"], 30,
                 what="the vacuum recommendation to go")
        row = wait_for(lambda: self.cluster.scalar(
            "primary", "SELECT state || ' ' || requested_by FROM maintenance_operations WHERE id = %d"
            % op["id"], dbname="pgvigil") or None, 20, what="maintenance_operations row")
        self.assertTrue(row.startswith("completed operator-bot"), row)

    def test_2_unused_and_duplicate_indexes(self):
        def indexes():
            status, body = self.call("/api/v1/nodes/primary/indexes")
            return {x["index"]: x for x in body.get("indexes", [])} if status == 200 else {}
        x = wait_for(lambda: (lambda i: i if "guests_note" in i else None)(indexes()), 30, what="indexes")
        self.assertTrue(x["guests_note"]["unused"])
        # Definitions come on the hourly cadence and are kept in between.
        self.assertEqual(x["guests_note"]["definition"], "CREATE INDEX guests_note ON public.guests USING btree (note)")
        self.assertFalse(x["guests_pkey"]["unused"])  # primary keys never count as unused
        self.assertEqual(x["guests_table_no_again"]["duplicate_of"], "guests_table_no")
        self.assertIsNone(x["guests_table_no"]["duplicate_of"])  # equal use: the name sorting first stays
        self.assertEqual(x["guests_table_no"]["duplicates"], ["guests_table_no_again"])
        dup = self.recommendations("drop_duplicate_index")
        self.assertEqual([r["index"] for r in dup], ["guests_table_no_again"])
        self.assertEqual(dup[0]["sql"], 'DROP INDEX CONCURRENTLY "public"."guests_table_no_again";')
        unused = [r["index"] for r in self.recommendations("drop_unused_index")]
        self.assertIn("guests_note", unused)
        self.assertNotIn("guests_table_no_again", unused)  # said once, as a duplicate

    def test_2b_pressure(self):
        def pressure():
            status, body = self.call("/api/v1/nodes/primary/diagnostics")
            p = body["diagnostics"]["pressure"] if status == 200 else {}
            return p if p.get("wraparound") and p.get("temp_files") and p.get("checkpoints") else None
        p = wait_for(pressure, 30, what="wraparound, temp file and checkpoint figures")
        self.assertGreater(p["wraparound"]["datfrozenxid_age"], 0)
        self.assertEqual(p["wraparound"]["autovacuum_freeze_max_age"], 200000000)
        self.assertIn("pgvigil", [d["database"] for d in p["wraparound"]["databases"]])
        self.assertGreater(p["temp_files"]["window_seconds"], 0)
        self.assertGreaterEqual(p["checkpoints"]["requested_ratio"], 0)
        self.assertEqual(p["connections"]["max_connections"], 50)
        self.assertLess(p["connections"]["saturation"], 1)

    def test_3_refusals_run_nothing(self):
        before = len(self.call("/api/v1/maintenance")[1]["operations"])
        status, body = self.maintenance({"node": "primary", "operation": "REINDEX", "index": "no_such_index"},
                                        token="admin")
        self.assertEqual(status, 404, body)
        self.assertEqual(body["error"]["code"], "not_found")
        status, body = self.maintenance({"node": "primary", "operation": "VACUUM",
                                         "table": "guests; DROP TABLE guests"})
        self.assertEqual(status, 404, body)
        status, body = self.maintenance({"node": "primary", "operation": "ANALYZE", "table": "guests",
                                         "schema": "public\"; DROP TABLE guests; --"})
        self.assertEqual(status, 404, body)
        status, body = self.maintenance({"node": "primary", "operation": "TRUNCATE", "table": "guests"})
        self.assertEqual(status, 400, body)
        status, body = self.maintenance({"node": "primary", "operation": "VACUUM", "table": "guests",
                                         "concurrently": True})
        self.assertEqual(status, 400, body)
        status, body = self.maintenance({"node": "nowhere", "operation": "VACUUM", "table": "guests"})
        self.assertEqual(status, 404, body)
        self.assertEqual(self.call("/api/v1/maintenance", "POST", {"node": "primary", "operation": "VACUUM",
                                                                    "table": "guests"})[0], 403)  # viewer
        self.assertEqual(len(self.call("/api/v1/maintenance")[1]["operations"]), before)
        self.assertEqual(self.cluster.scalar("primary", "SELECT count(*) FROM guests"), "20000")

    def test_4_heavy_operations_need_admin_and_force_in_peak(self):
        status, body = self.maintenance({"node": "primary", "operation": "VACUUM FULL", "table": "guests"})
        self.assertEqual(status, 403, body)
        status, body = self.maintenance({"node": "primary", "operation": "REINDEX", "table": "guests"})
        self.assertEqual(status, 403, body)  # without CONCURRENTLY
        status, body = self.maintenance({"node": "primary", "operation": "VACUUM FULL", "table": "guests"},
                                        token="admin")
        self.assertEqual(status, 409, body)
        self.assertIn("peak", body["error"]["message"])
        relfile = self.cluster.scalar("primary", "SELECT pg_relation_filenode('guests')")
        status, body = self.maintenance({"node": "primary", "operation": "VACUUM FULL", "table": "guests",
                                         "force": True}, token="admin")
        self.assertEqual(status, 202, body)
        self.assertTrue(body["operation"]["peak"])
        op = self.wait_done(body["operation"]["id"])
        self.assertEqual(op["state"], "completed", op)
        self.assertNotEqual(self.cluster.scalar("primary", "SELECT pg_relation_filenode('guests')"), relfile)
        # An operator may rebuild an index concurrently.
        status, body = self.maintenance({"node": "primary", "operation": "REINDEX", "index": "guests_note",
                                         "concurrently": True})
        self.assertEqual(status, 202, body)
        op = self.wait_done(body["operation"]["id"])
        self.assertEqual(op["state"], "completed", op)
        self.assertEqual(op["statement"], 'REINDEX INDEX CONCURRENTLY "public"."guests_note"')

    def test_5_statements_and_a_regression(self):
        r = subprocess.run([os.path.join(PG_BIN, "pgbench"), "-i", "-s", "1", "-q", "-h", "127.0.0.1", "-p",
                            str(self.cluster.port("primary")), "-U", "postgres", "postgres"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.pgbench("-S", "-c", "2", seconds=3)
        self.assertEqual(r.returncode, 0, r.stderr)

        def pgbench_statement():
            status, body = self.call("/api/v1/nodes/primary/statements")
            if status != 200:
                return None
            return next((s for s in body["statements"] if "pgbench_accounts" in (s["query"] or "")
                         and s["query"].lstrip().upper().startswith("SELECT")), None)
        s = wait_for(pgbench_statement, 30, what="the pgbench statement")
        self.assertGreater(s["calls"], 0)
        self.assertGreater(s["total_time_ms"], 0)
        self.assertIn("mean_time_ms", s)

        script = self.dir.file("lookup.sql", "\\set c random(1, 300000)\nSELECT payload FROM lookups WHERE code = :c;\n")
        r = self.pgbench("-c", "1", "-f", script, seconds=4)
        self.assertEqual(r.returncode, 0, r.stderr)
        time.sleep(6)  # the fast intervals leave the recent window for the baseline
        self.cluster.psql("primary", "DROP INDEX lookups_code")
        slow = threading.Thread(target=self.pgbench, args=("-c", "1", "-f", script), kwargs={"seconds": 12})
        slow.start()
        try:
            def regression():
                status, body = self.call("/api/v1/nodes/primary/statements?regressions=true")
                return next((x for x in body.get("regressions", []) if "lookups" in (x["query"] or "")), None)
            reg = wait_for(regression, 12, what="the regression")
            self.assertGreaterEqual(reg["recent_mean_ms"], 3 * reg["baseline_mean_ms"])
            self.assertGreaterEqual(reg["ratio"], 3)
            recs = self.recommendations("query_regression")
            self.assertTrue(any("lookups" in r["sql"] for r in recs), recs)
            alert = wait_for(lambda: [a for a in self.call("/api/v1/alerts")[1]["alerts"]
                                      if a["rule"] == "query_regression"], 10, what="the query_regression alert")
            self.assertEqual(alert[0]["node"], "primary")
            wait_for(lambda: [r for r in self.recommendations("add_index") if r["table"] == "lookups"], 10,
                     what="an add_index recommendation for lookups")
            # Its intervals are in the history: fast before the DROP INDEX, slow after.
            def history():
                status, body = self.call("/api/v1/nodes/primary/statements/%d/history?from=-5m" % reg["queryid"])
                pts = [p for p in body.get("points", []) if p[1]] if status == 200 else []
                return pts if len(pts) >= 3 and pts[-1][3] > 3 * min(p[3] for p in pts) else None
            pts = wait_for(history, 20, what="the statement's history")
            self.assertGreater(sum(p[1] for p in pts), 20)  # calls
            status, body = self.call("/api/v1/nodes/primary/statements/x1/history")
            self.assertEqual(status, 400, body)
        finally:
            slow.join(60)

    def test_6_backup_verifies_restores_and_a_damaged_copy_alerts(self):
        def backup():
            status, body = self.call("/api/v1/nodes/primary/backup")
            b = body.get("backup") if status == 200 else None
            return b if b and b.get("restore_ok") is not None else None
        b = wait_for(backup, 120, what="a verified and restored backup")
        self.assertTrue(b["ok"], b)
        self.assertTrue(b["path"].endswith("/b1"))
        self.assertIsNotNone(b["backup_at"])
        self.assertGreater(b["size_bytes"], 1000000)
        self.assertTrue(b["restore_ok"], b)
        self.assertEqual(b["restore_result"], "42")
        self.assertGreater(b["restore_ms"], 0)
        self.assertEqual(b["restore_rto_ms"], 120000)
        print("\nrestore test: copy + start until consistent + query in %d ms (RTO %d ms); verification %d ms"
              % (b["restore_ms"], b["restore_rto_ms"], b["duration_ms"]))
        self.assertEqual(os.listdir(self.scratch), [])  # the restore removed what it made
        wait_for(lambda: self.cluster.scalar("primary", "SELECT count(*) FROM backup_verifications WHERE ok"
                                                        " AND restore_ok AND restore_result = '42'",
                                             dbname="pgvigil") != "0", 20, what="a stored verification")
        # One altered byte in the copy: same size, another checksum.
        path = os.path.join(self.backups, "b1", "PG_VERSION")
        with open(path, "r+") as f:
            text = f.read()
            f.seek(0)
            f.write(text.replace("1", "2", 1))
        b = wait_for(lambda: (lambda b: b if b and not b["ok"] else None)(self.call("/api/v1/nodes/primary/backup")[1]
                                                                          .get("backup")), 30,
                     what="the verification to fail")
        self.assertIn("PG_VERSION", b["error"])
        alert = wait_for(lambda: [a for a in self.call("/api/v1/alerts")[1]["alerts"]
                                  if a["rule"] == "backup_verification_failed" and a["state"] == "firing"], 20,
                         what="the backup_verification_failed alert")
        self.assertEqual(alert[0]["severity"], "critical")
        self.assertGreater(int(self.cluster.scalar("primary", "SELECT count(*) FROM backup_verifications"
                                                              " WHERE NOT ok", dbname="pgvigil")), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
