"""Acceptance: the owner of a cluster frozen with SIGSTOP past its lease
while an alert fires; its peer takes over and sends the resolution. Woken
with SIGCONT, the former owner sends nothing as owner (its effects carry an
epoch that is no longer its own and a lease that ran out) and gives the
cluster up: every transition reaches every receiver once."""

import signal
import sys
import time
import unittest

from pgvigil_cluster import AggregatorFleet, FleetTestCase
from pgvigil_harness import wait_for

TTL = 2.0


class ClusterSigstopTest(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = AggregatorFleet(("agg-a", "agg-b"), lease_ttl=TTL, tier2_after=600)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()

    def test_frozen_owner_sends_nothing_after_waking(self):
        f = self.fleet
        real = f.real_cluster()
        owner = f.owners_agree()[real]
        peer = next(n for n in f.names if n != owner)
        writer = f.pause_replay_with_writes()
        try:
            wait_for(lambda: f.hooks("firing") and f.mails("firing"), 40, what="firing notifications")
            f.proc(owner).signal(signal.SIGSTOP)
            wait_for(lambda: (lambda o: o if o and o[real] == peer else None)(f.owners_agree([peer])),
                     TTL + 2, what="the peer to take over from the frozen owner")
        finally:
            f.resume_replay(writer)
        # resolved while the former owner is frozen: its state still says firing
        wait_for(lambda: f.hooks("resolved") and f.mails("resolved"), 40, what="the resolution from the peer")
        f.proc(owner).signal(signal.SIGCONT)
        time.sleep(3 * TTL)  # it wakes, may evaluate its stale state first, gives up, stays out
        self.assertIn("lease ran out", f.proc(owner).log_text())
        wait_for(lambda: f.owners_agree(), 4 * TTL, what="both aggregators members again")
        time.sleep(2)
        self.assertEqual(len(f.hooks("firing")), 1)
        self.assertEqual(len(f.hooks("resolved")), 1, "the woken former owner sent the resolution again")
        self.assertEqual(len(f.mails("firing")), 1)
        self.assertEqual(len(f.mails("resolved")), 1)
        refused = [l for l in f.proc(owner).log_text().splitlines() if "not sent" in l]
        print("the woken former owner refused %d notifications itself:\n%s" % (len(refused), "\n".join(refused)),
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
