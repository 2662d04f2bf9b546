"""Poison samples and poison rows (issue 14, defect 1).

A sample whose region (or any string at any depth) is not UTF-8 used to be
accepted; COPY then failed 2.5 times a second forever, nothing more was
written, and the row sat in the spool so a restart did not help. Now:

- such a sample is refused at ingest, counted as bad_text, and nothing
  reaches the database;
- a row the database refuses anyway (here: one written into the spool by an
  earlier run) is bisected out of its batch and set aside in
  history_quarantine, counted once; the rows around it are written and the
  spool drains.
"""

import os
import struct
import subprocess
import time
import unittest

from faultlib import FaultStack, metric
from pgvigil_harness import binary, wait_for

NODE_SAMPLES = 0  # store_table_t


def record(table, at_s, line):
    """One spool record: [u32 len][u8 table][i32 day][COPY line]."""
    body = struct.pack("<Bi", table, int(at_s // 86400)) + line
    return struct.pack("<I", len(body)) + body


def sample_line(node, seq, region, at_s):
    ts = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(at_s)).encode()
    # node_samples as of 005: ..., metrics, metric_values, metric_version
    return b"\t".join([node, ts, str(seq).encode(), b"\\N", region, b"unknown", b"f", b"\\N", ts,
                       b"{}", b"\\N", b"\\N"]) + b"\n"


def rejected(base, reason):
    import urllib.request
    with urllib.request.urlopen(base + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith('pgvigil_ingest_rejected_total{reason="%s"} ' % reason):
                return float(line.split()[1])
    return None


class PoisonTest(unittest.TestCase):
    def test_poison_row_in_spool_is_quarantined_and_poison_sample_refused(self):
        st = FaultStack(collectors=0)
        try:
            now = time.time()
            with open(os.path.join(st.spool, "aggregator.spool"), "wb") as f:
                for seq, region in ((1, b"eu"), (2, b"eu-\xff"), (3, b"eu")):
                    f.write(record(NODE_SAMPLES, now, sample_line(b"poison-1", seq, region, now + seq)))
            st.start_aggregator()
            wait_for(lambda: metric(st.base, "pgvigil_store_rows_spooled") == 0, 30, what="spool drained")
            self.assertEqual(metric(st.base, "pgvigil_store_rows_quarantined_total"), 1)
            rows = st.sql("SELECT sequence FROM node_samples WHERE node = 'poison-1' ORDER BY 1")
            self.assertEqual([r[0] for r in rows], ["1", "3"])
            q = st.sql("SELECT target_table, error, position('\\xff'::bytea in line) > 0"
                       " FROM history_quarantine")
            self.assertEqual(len(q), 1, q)
            self.assertEqual(q[0][0], "node_samples")
            self.assertIn("UTF8", q[0][1])
            self.assertEqual(q[0][2], "t")
            self.assertEqual(st.aggregator_logs().count("refused"), 1, st.aggregator_logs())

            # The repro of the issue: two nodes with region "eu-\xff" for a second.
            errors = metric(st.base, "pgvigil_store_write_errors_total")
            r = subprocess.run([binary("pgvigil-ingest-load").encode(), b"--endpoint", st.ingest.encode(),
                                b"--nodes", b"2", b"--seconds", b"1", b"--rate", b"200",
                                b"--region", b"eu-\xff"], capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_for(lambda: (rejected(st.base, "bad_text") or 0) >= 100, 10, what="bad_text counted")
            # A clean sample right after is stored: history is not blocked.
            subprocess.run([binary("pgvigil-ingest-load"), "--endpoint", st.ingest, "--nodes", "1",
                            "--name", "clean-1", "--count", "1", "--seconds", "2"], check=True, timeout=30,
                           stdout=subprocess.DEVNULL)
            wait_for(lambda: st.sql("SELECT count(*) FROM node_samples WHERE node = 'clean-1'")[0][0] == "1",
                     10, what="clean sample stored")
            self.assertEqual(st.sql("SELECT count(*) FROM node_samples WHERE node LIKE 'bench-%'")[0][0], "0")
            self.assertEqual(metric(st.base, "pgvigil_store_write_errors_total"), errors)
        finally:
            codes = st.close()
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
