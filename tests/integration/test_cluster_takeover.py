"""Acceptance: three aggregators coordinated through a real Redis, six
clusters (one real primary + replica, five simulated by pgvigil-ingest-load),
every sample sent to all three. Each cluster has one owner and every
aggregator's API lists all six with their owner. The owner of the real
cluster is killed (kill -9) while an alert is firing and before it
escalates: another aggregator owns the cluster within the lease TTL + 1 s,
takes the alert over without announcing it again, sends the next tier once
and on time (± 1 s), and the resolution once; no sample row is lost or
doubled (every sequence number is in history once)."""

import datetime
import signal
import sys
import time
import unittest

from pgvigil_cluster import AggregatorFleet, FleetTestCase, http_get
from pgvigil_harness import wait_for

TTL = 2.0
TIER2_AFTER = 12


def rfc3339(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class ClusterTakeoverTest(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = AggregatorFleet(("agg-a", "agg-b", "agg-c"), lease_ttl=TTL, tier2_after=TIER2_AFTER,
                                    simulated=5)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()

    def test_owner_killed_while_firing(self):
        f = self.fleet
        owners = f.owners_agree()
        self.assertEqual(len(owners), 6)
        self.assertEqual(len(set(owners.values())), 3, "six clusters over three aggregators: %s" % owners)
        real = f.real_cluster()
        victim = owners[real]
        survivors = [n for n in f.names if n != victim]

        writer = f.pause_replay_with_writes()
        try:
            wait_for(lambda: f.hooks("firing"), 40, what="the firing webhook")
            firing = f.hooks("firing")[0][1]["alert"]
            firing_at = rfc3339(firing["firing_at"])
            time.sleep(max(0, firing_at + 3 - time.time()))  # firing; tier 2 due in ~9 s
            killed_at = time.monotonic()
            f.proc(victim).signal(signal.SIGKILL)
            f.proc(victim).wait(10)
            holds = 'pgvigil_cluster_owner_epoch{cluster="%s"' % real
            new_owner = wait_for(lambda: next((n for n in survivors if holds in http_get(f.base(n) + "/metrics")[1]),
                                              None), TTL + 1.0, interval=0.05,
                                 what="a surviving aggregator owning the real cluster within the lease TTL + 1 s")
            print("takeover %.2f s after kill -9 of %s (lease TTL %.1f s); new owner %s"
                  % (time.monotonic() - killed_at, victim, TTL, new_owner), file=sys.stderr)
            owners = wait_for(lambda: f.owners_agree(survivors), 5, what="the survivors to agree on every owner")
            self.assertEqual(owners[real], new_owner)
            wait_for(lambda: f.pager("trigger"), TIER2_AFTER + 5, what="tier 2 from the new owner")
            late = f.pager("trigger")[0][0]["at"] - (firing_at + TIER2_AFTER)
            print("tier 2 sent %.2f s after it was due" % late, file=sys.stderr)
            self.assertLess(abs(late), 1.0, "tier 2 not on time: %.2f s off" % late)
        finally:
            f.resume_replay(writer)
        wait_for(lambda: f.hooks("resolved") and f.pager("resolve"), 40, what="the resolution")
        time.sleep(3)
        self.assertEqual(len(f.hooks("firing")), 1, "announced again after the take-over")
        self.assertEqual(len(f.pager("trigger")), 1)
        self.assertEqual(len(f.hooks("resolved")), 1)
        self.assertEqual(len(f.pager("resolve")), 1)
        self.assertEqual({p["alert"]["id"] for _, p in f.hooks("firing") + f.hooks("resolved")}, {firing["id"]})
        doubled = f.history.psql("primary", "SELECT count(*) FROM (SELECT node, sequence FROM node_samples "
                                 "WHERE node IN ('primary','replica') GROUP BY 1, 2 HAVING count(*) > 1) d",
                                 dbname="pgvigil")
        self.assertEqual(int(doubled[0][0]), 0)
        # the heir wrote the samples too: none missing across the hand-over (every sequence number)
        gaps = f.history.psql("primary", "SELECT node, max(sequence) - min(sequence) + 1 - count(*) FROM "
                              "node_samples WHERE node IN ('primary','replica') GROUP BY 1", dbname="pgvigil")
        self.assertEqual({r[0]: int(r[1]) for r in gaps}, {"primary": 0, "replica": 0},
                         "sample rows missing from history")


if __name__ == "__main__":
    unittest.main()
