"""Fencing: an owner frozen with SIGSTOP past its lease is replaced, and when
it wakes (SIGCONT) it performs nothing as owner under its old epoch, whatever
runs first in it (the effect or the heartbeat): the lease it last renewed has
run out on its monotonic clock, and Redis has a newer epoch. It gives the
cluster up and, if the hashing gives it back, owns it again only under a
newer epoch than its stand-in's."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pgvigil_base import wait_for  # noqa: E402
from pgvigil_cluster import SANITIZER_REPORTS, ClusterProbe, held_by, owners_agree  # noqa: E402
from pgvigil_harness import Redis, TestDir, cleanup_all  # noqa: E402

CLUSTERS = [7301234567890000000 + i * 7919 for i in range(6)]
TTL = 1.5


class ClusterFencingTest(unittest.TestCase):
    def tearDown(self):
        cleanup_all()
        self.assertEqual(SANITIZER_REPORTS, [])

    def test_frozen_owner_sends_nothing_as_owner_after_waking(self):
        d = TestDir(prefix="pgvigil-fencing-")
        redis = Redis(d)
        a, b = ClusterProbe(d, "agg-a", redis=redis), ClusterProbe(d, "agg-b", redis=redis)
        for p in (a, b):
            p.observe(*CLUSTERS)
        owners = wait_for(lambda: owners_agree((a, b), CLUSTERS), 10, what="ownership")
        c = next(c for c in CLUSTERS if owners[c] == "agg-a")
        old_epoch = a.wait_status(lambda s: str(c) in s["owned"], 5, what="a owns")["owned"][str(c)]
        self.assertEqual(a.claim(c, "alert/9/firing/sms")["result"], "go")

        a.signal(signal.SIGSTOP)
        wait_for(lambda: held_by([b], c), TTL + 1.0, interval=0.02, what="b to take over from the frozen a")
        new_epoch = b.owned()[c]
        self.assertGreater(new_epoch, old_epoch)
        # queued while frozen: handled by a's main thread as soon as it runs again
        a.send("claim %d alert/9/resolved/sms" % c)
        time.sleep(TTL)  # well past a's lease
        a.signal(signal.SIGCONT)
        first = wait_for(lambda: a.claims()[1] if len(a.claims()) > 1 else None, 5, what="a's claim after waking")
        self.assertEqual(first["result"], "fenced", "a acted as owner after its lease ran out: %s" % first)
        # a gave it up and stays out for a while; the stand-in sends the resolution once
        a.wait_status(lambda s: s["owned"] == {} and s["owners"][str(c)] == "agg-b", 2, what="a gave up")
        self.assertEqual(b.claim(c, "alert/9/resolved/sms")["result"], "go")
        self.assertEqual(b.claim(c, "alert/9/firing/sms")["result"], "done")
        self.assertIn("lease ran out", a.log_text())
        # a gave the old epoch up; if it owns the cluster again, it is under a newer epoch
        a.wait_status(lambda s: s["state"] == "ok" and s["members"] == 2, 3 * TTL + 1, what="a back as a member")
        wait_for(lambda: owners_agree((a, b), CLUSTERS) and all(len(held_by((a, b), x)) == 1 for x in CLUSTERS),
                 5, what="ownership to settle again")
        if c in a.owned():
            self.assertGreater(a.owned()[c], new_epoch)
            # and b, which lost it, is fenced from now on
            self.assertEqual(b.claim(c, "alert/10/firing/sms")["result"], "fenced")
        self.assertEqual(a.claim(c, "alert/9/resolved/sms")["result"], "done" if c in a.owned() else "fenced")


if __name__ == "__main__":
    unittest.main()
