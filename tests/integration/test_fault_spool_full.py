"""A full spool during a long history outage (issue 14, defect 4).

The spool lives on a 2 MB tmpfs; the history database refuses connections
for 60 s while 50 simulated collectors (the collector's own publisher: kept
until acknowledged, sent again after a reconnection) send 300 samples a
second. It used to write ~250 error lines a second, let memory grow without
bound, and say at SIGTERM that thousands of rows "are lost". Now the store
keeps at most memory_rows in memory, pauses ingest (collectors keep their
unacknowledged samples), says so at most once a minute, and at SIGTERM keeps
what it cannot write unacknowledged; after a restart and the database's
return every sequence number of every node is stored exactly once.
"""

import os
import signal
import subprocess
import time
import unittest

from faultlib import FaultStack, SmallTmpfs, metric, rss_kb
from pgvigil_harness import binary, wait_for

OUTAGE_S = 60
NODES, RATE = 50, 300
MEMORY_ROWS = 2000
RSS_GROWTH_KB = 32 * 1024  # once paused, memory stays put


def sanitized():
    """ASan keeps freed memory in quarantine (up to 256 MB): RSS then grows
    with any allocation, so the bound is looser in the sanitizer tree."""
    r = subprocess.run(["ldd", binary("pgvigil-aggregator")], capture_output=True, text=True, timeout=10)
    return "libasan" in r.stdout


@unittest.skipUnless(os.geteuid() == 0, "mounting the 2 MB tmpfs needs root")
class SpoolFullTest(unittest.TestCase):
    def setUp(self):
        self.tmpfs = SmallTmpfs("2m")
        self.addCleanup(self.tmpfs.unmount)

    def outage(self, st):
        """Hold the history database away; (paused seen, RSS when paused, peak RSS)."""
        st.history(False)
        began, paused_rss, peak = time.monotonic(), 0, 0
        while time.monotonic() - began < OUTAGE_S:
            rss = rss_kb(st.agg.proc.pid)
            peak = max(peak, rss)
            if not paused_rss and metric(st.base, "pgvigil_store_backpressure") == 1:
                paused_rss = rss
            time.sleep(1)
        return paused_rss, peak

    def test_full_spool_applies_backpressure_and_loses_nothing(self):
        st = FaultStack(collectors=0, memory_rows=MEMORY_ROWS, spool_dir=self.tmpfs.path)
        load = None
        try:
            st.start_aggregator()
            load = subprocess.Popen([binary("pgvigil-ingest-load"), "--acked", "--endpoint", st.ingest,
                                     "--nodes", str(NODES), "--rate", str(RATE),
                                     "--seconds", str(OUTAGE_S + 40)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            wait_for(lambda: (metric(st.base, "pgvigil_store_samples_durable_total") or 0) > 500, 30,
                     what="samples stored")
            paused_rss, peak = self.outage(st)
            spool_bytes = os.path.getsize(os.path.join(self.tmpfs.path, "aggregator.spool"))
            print("outage %d s: spool %d bytes, RSS %d kB when paused, peak %d kB"
                  % (OUTAGE_S, spool_bytes, paused_rss, peak))
            self.assertTrue(paused_rss, "the spool never filled: the test proves nothing")
            budget = RSS_GROWTH_KB * (4 if sanitized() else 1)
            self.assertLess(peak - paused_rss, budget, "memory grew while paused")
            st.agg.proc.send_signal(signal.SIGTERM)
            self.assertEqual(st.agg.proc.wait(30), 0, st.agg.log_text()[-3000:])
            st.agg.stop()
            logs = st.aggregator_logs()
            self.assertNotIn("are lost", logs)
            full_lines = sum(logs.count(s) for s in ("spool cannot grow", "could not write the spool",
                                                      "could not fsync the spool", "new samples are refused"))
            print("log lines about the full spool: %d in %d s" % (full_lines, OUTAGE_S))
            self.assertLessEqual(full_lines, 1 + OUTAGE_S // 60, logs[-3000:])
            st.start_aggregator(wait_store=False)
            st.history(True)
            out, err = load.communicate(timeout=OUTAGE_S + 300)
            self.assertEqual(load.returncode, 0, err)
            made = st.load_made(self, out, NODES)
            st.wait_drained(timeout=300)
            st.assert_exact(self, made)
            print("%d samples through a 60 s outage with a full spool and a restart: all stored once"
                  % sum(v[0] for v in made.values()))
        finally:
            codes = st.close(load)
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
