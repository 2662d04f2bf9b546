"""kill -9 of the aggregator under the load generator (the issue measured
10-36 of 10,001 samples lost with the database up): 50 simulated collectors,
using the collector's own publisher (kept until acknowledged, sent again
after a reconnection), send 1,000 samples a second for 12 s; the aggregator
is killed after 5 s and restarted a second later. Every sequence number of
every node is stored exactly once.
"""

import subprocess
import time
import unittest

from faultlib import FaultStack, metric
from pgvigil_harness import binary, wait_for

NODES, RATE, SECONDS = 50, 1000, 12


class KillUnderLoadTest(unittest.TestCase):
    def test_kill_9_under_load_loses_nothing(self):
        st = FaultStack(collectors=0)
        load = None
        try:
            st.start_aggregator()
            load = subprocess.Popen([binary("pgvigil-ingest-load"), "--acked", "--endpoint", st.ingest,
                                     "--nodes", str(NODES), "--rate", str(RATE), "--seconds", str(SECONDS)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(5)
            self.assertGreater(metric(st.base, "pgvigil_store_samples_durable_total") or 0, 0)
            st.kill_aggregator()
            time.sleep(1)
            st.start_aggregator()
            out, err = load.communicate(timeout=SECONDS + 180)
            self.assertEqual(load.returncode, 0, err)
            made = st.load_made(self, out, NODES)
            st.wait_drained()
            text = st.assert_exact(self, made)
            total = sum(v[0] for v in made.values())
            print("%d samples from %d nodes through a kill -9: all stored once" % (total, NODES))
            self.assertGreater(total, RATE * SECONDS // 2, text)
        finally:
            codes = st.close(load)
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
