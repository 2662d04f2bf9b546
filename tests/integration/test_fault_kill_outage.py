"""kill -9 of the aggregator during a 30 s history outage: rows used to wait
in memory up to memory_rows and died with the process (6,066 of 14,001 lost).
Now, while the database is away, rows go to the spool and are fsynced before
their samples are acknowledged; what was not acknowledged is sent again by
the collectors to the restarted aggregator. Once the database is back every
sequence number of every node is stored exactly once.
"""

import time
import unittest

from faultlib import FaultStack, metric
from pgvigil_harness import wait_for

OUTAGE_S = 30
KILL_AFTER_S = 10


class KillDuringOutageTest(unittest.TestCase):
    def test_kill_9_during_outage_loses_nothing(self):
        st = FaultStack(collectors=4)
        try:
            st.start_aggregator()
            st.start_collectors()
            wait_for(lambda: (metric(st.base, "pgvigil_store_samples_durable_total") or 0) > 40, 30,
                     what="samples stored")
            st.pg.stop("primary")
            began = time.monotonic()
            time.sleep(KILL_AFTER_S)
            self.assertGreater(metric(st.base, "pgvigil_store_rows_spooled"), 0)
            st.kill_aggregator()
            st.start_aggregator(wait_store=False)
            time.sleep(max(0, OUTAGE_S - (time.monotonic() - began)))
            st.pg.start("primary")
            st.wait_drained()
            made = st.stop_collectors()
            st.wait_drained()
            st.assert_exact(self, made)
        finally:
            codes = st.close()
        self.assertEqual(codes[-1], 0)


if __name__ == "__main__":
    unittest.main()
