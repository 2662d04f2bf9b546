"""A full spool during a long history outage (issue 14, defect 4).

The spool lives on a 2 MB tmpfs; the history database refuses connections
for 60 s while six collectors send ten samples a second. It used to write
~250 error lines a second, let memory grow without bound, and say at
SIGTERM that thousands of rows "are lost". Now the store keeps at most
memory_rows in memory, pauses ingest (collectors keep their unacknowledged
samples), says so at most once a minute, and at SIGTERM keeps what it
cannot write unacknowledged; after a restart and the database's return
every sequence number of every node is stored exactly once.
"""

import os
import signal
import subprocess
import time
import unittest

from faultlib import FaultStack, metric, rss_kb
from pgvigil_harness import TestDir, wait_for

OUTAGE_S = 60
MEMORY_ROWS = 1000
RSS_BUDGET_KB = 150 * 1024


@unittest.skipUnless(os.geteuid() == 0, "mounting the 2 MB tmpfs needs root")
class SpoolFullTest(unittest.TestCase):
    def setUp(self):
        self.mnt = TestDir(prefix="pgvigil-tmpfs-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", self.mnt.path], check=True, timeout=10)

    def tearDown(self):
        subprocess.run(["umount", self.mnt.path], timeout=30)
        self.mnt.remove()

    def history(self, st, allow):
        st.pg.psql("primary", "ALTER DATABASE pgvigil ALLOW_CONNECTIONS %s" % ("true" if allow else "false"))
        if not allow:
            st.pg.psql("primary", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                  " WHERE datname = 'pgvigil'")

    def test_full_spool_applies_backpressure_and_loses_nothing(self):
        st = FaultStack(collectors=6, memory_rows=MEMORY_ROWS, spool_dir=self.mnt.path)
        try:
            st.start_aggregator()
            st.start_collectors()
            wait_for(lambda: (metric(st.base, "pgvigil_store_samples_durable_total") or 0) > 60, 30,
                     what="samples stored")
            self.history(st, False)
            began, paused, peak_rss = time.monotonic(), False, 0
            while time.monotonic() - began < OUTAGE_S:
                paused |= metric(st.base, "pgvigil_store_backpressure") == 1
                peak_rss = max(peak_rss, rss_kb(st.agg.proc.pid))
                time.sleep(1)
            spool_bytes = os.path.getsize(os.path.join(self.mnt.path, "aggregator.spool"))
            print("outage %d s: spool %d bytes, backpressure %s, peak RSS %d kB"
                  % (OUTAGE_S, spool_bytes, paused, peak_rss))
            self.assertTrue(paused, "the spool never filled: the test proves nothing")
            self.assertLess(peak_rss, RSS_BUDGET_KB)
            st.agg.proc.send_signal(signal.SIGTERM)
            self.assertEqual(st.agg.proc.wait(30), 0, st.agg.log_text()[-3000:])
            st.agg.stop()
            logs = st.aggregator_logs()
            self.assertNotIn("are lost", logs)
            full_lines = sum(logs.count(s) for s in ("spool cannot grow", "could not write the spool",
                                                      "could not fsync the spool", "ingest paused"))
            print("log lines about the full spool: %d in %d s" % (full_lines, OUTAGE_S))
            self.assertLessEqual(full_lines, 1 + OUTAGE_S // 60, logs[-3000:])
            st.start_aggregator(wait_store=False)
            time.sleep(2)
            self.history(st, True)
            st.wait_drained(timeout=180)
            made = st.stop_collectors()
            st.wait_drained()
            st.assert_exact(self, made)
        finally:
            codes = st.close()
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
