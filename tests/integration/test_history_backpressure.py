"""A history database slower than the fleet holds the fleet back instead of
filling the aggregator's memory: with every write blocked (the history
table locked), ingest takes at most its budget's share of samples that are
not stored yet (inbound_budget_mb 4: 1,024) and stops reading; the
simulated collectors keep the rest (unacknowledged) and send them once the
database moves again. Every sequence number of every node is then stored
exactly once. Before, ingest took everything it was sent and the rows
piled up between the core and the store (800 MB at 80,000 samples/s
offered in tests/bench/ingest.sh).
"""

import signal
import subprocess
import time
import unittest

from faultlib import FaultStack, metric
from pgvigil_harness import binary, wait_for

NODES, RATE, SECONDS, LOCK_S = 20, 1000, 5, 10
UNDURABLE_MAX = 1024  # inbound_budget_mb 4: half of it at 2 kB a sample


class HistoryBackpressureTest(unittest.TestCase):
    def test_blocked_history_stops_ingest_at_its_budget(self):
        st = FaultStack(collectors=0, agg_extra="inbound_budget_mb: 4\n")
        load = locker = None
        try:
            st.start_aggregator()
            locker = subprocess.Popen(
                ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(st.pg.port("primary")), "-U", "postgres",
                 "-d", "pgvigil", "-c",
                 "BEGIN; LOCK TABLE node_samples IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d);" % LOCK_S],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: st.pg.scalar(
                "primary", "SELECT count(*) FROM pg_locks WHERE relation = 'node_samples'::regclass "
                "AND mode = 'AccessExclusiveLock' AND granted", dbname="pgvigil") == "1", 10, what="the lock")
            load = subprocess.Popen([binary("pgvigil-ingest-load"), "--acked", "--endpoint", st.ingest,
                                     "--nodes", str(NODES), "--rate", str(RATE), "--seconds", str(SECONDS)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(SECONDS + 1)
            self.assertIsNone(locker.poll(), "the lock ended before the check")
            accepted = metric(st.base, "pgvigil_ingest_accepted_total")
            undurable = metric(st.base, "pgvigil_ingest_undurable")
            durable = metric(st.base, "pgvigil_store_samples_durable_total")
            print("history blocked: %d of %d samples offered accepted, %d waiting to be stored, %d durable"
                  % (accepted, RATE * SECONDS, undurable, durable))
            self.assertEqual(durable, 0)
            self.assertLessEqual(undurable, UNDURABLE_MAX)
            self.assertGreaterEqual(accepted, UNDURABLE_MAX - 10)  # it did take its share
            self.assertLessEqual(accepted, UNDURABLE_MAX + 10)      # and no more
            out, err = load.communicate(timeout=LOCK_S + 120)
            self.assertEqual(load.returncode, 0, err)
            made = st.load_made(self, out, NODES)
            st.wait_drained()
            st.assert_exact(self, made)
            self.assertEqual(metric(st.base, "pgvigil_ingest_undurable"), 0)
        finally:
            for p in (load, locker):
                if p and p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.communicate()
            codes = st.close()
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
