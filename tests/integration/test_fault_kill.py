"""kill -9 of the aggregator under load, with the history database up:
samples accepted in the last fraction of a second used to be lost (they were
acknowledged by nothing and sat in memory). Now a collector keeps each
sample until the aggregator says it is committed, and sends the rest again
to the restarted aggregator: every sequence number of every node is stored
exactly once.
"""

import time
import unittest

from faultlib import FaultStack, metric
from pgvigil_harness import wait_for

LOAD_S = 6


class KillTest(unittest.TestCase):
    def test_kill_9_with_database_up_loses_nothing(self):
        st = FaultStack(collectors=4)
        try:
            st.start_aggregator()
            st.start_collectors()
            wait_for(lambda: (metric(st.base, "pgvigil_store_samples_durable_total") or 0) > 40, 30,
                     what="samples stored")
            # new rows go by COPY straight into their tables
            self.assertGreater(metric(st.base, "pgvigil_store_batches_direct_total") or 0, 0)
            time.sleep(LOAD_S)
            st.kill_aggregator()
            time.sleep(1)
            st.start_aggregator()
            time.sleep(LOAD_S)
            made = st.stop_collectors()
            st.wait_drained()
            st.assert_exact(self, made)
        finally:
            codes = st.close()
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
