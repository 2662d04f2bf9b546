"""Aggregators coordinated through a real Redis (aggregator/cluster/), each
run as the coordination actor alone (pgvigil-test-cluster-probe): every
cluster has exactly one owner that all agree on, a killed owner's clusters are
taken over within the lease TTL + 1 s and nothing else moves, a clean stop
hands over at once, views and mutations reach every aggregator, and once-only
effects are sent once across a hand-over."""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pgvigil_cluster import SANITIZER_REPORTS, ClusterProbe, held_by, owners_agree  # noqa: E402
from pgvigil_harness import Redis, TestDir, cleanup_all  # noqa: E402

CLUSTERS = [7301234567890000000 + i * 7919 for i in range(6)]
TTL = 1.5


class ClusterMembershipTest(unittest.TestCase):
    def setUp(self):
        self.dir = TestDir(prefix="pgvigil-cluster-")
        self.redis = Redis(self.dir)
        self.probes = [ClusterProbe(self.dir, "agg-%d" % i, redis=self.redis) for i in (1, 2, 3)]
        for p in self.probes:
            p.observe(*CLUSTERS)
        self.owners = self.wait_settled(self.probes)

    def tearDown(self):
        cleanup_all()
        self.assertEqual(SANITIZER_REPORTS, [])

    def wait_settled(self, probes, timeout=10):
        """Every probe names the same owner for each cluster, and that owner holds it."""
        def settled():
            owners = owners_agree(probes, CLUSTERS)
            if not owners:
                return None
            for c, name in owners.items():
                if held_by(probes, c) != [name]:
                    return None
            return owners
        from pgvigil_base import wait_for
        return wait_for(settled, timeout, interval=0.05, what="ownership to settle")

    def probe(self, name):
        return next(p for p in self.probes if p.name == name)

    def test_each_cluster_has_one_owner_and_all_agree(self):
        self.assertEqual(set(self.owners), set(CLUSTERS))
        for p in self.probes:
            self.assertEqual(p.status()["state"], "ok")
            self.assertEqual(p.status()["members"], 3)
        # every aggregator sees every cluster in the published fleet, with its owner
        for p in self.probes:
            for c in CLUSTERS:
                p.send('publish %d {"from": "%s"}' % (c, p.name))
        def fleet_complete(p):
            fleet = p.status()["fleet"]
            return all(str(c) in fleet and fleet[str(c)]["owner"] == self.owners[c]
                       and fleet[str(c)]["view"]["from"] == self.owners[c] for c in CLUSTERS)
        for p in self.probes:
            p.wait_status(lambda s, p=p: fleet_complete(p), 5, what="the whole fleet with owners")

    def test_killed_owner_is_replaced_within_lease_ttl_and_only_its_share_moves(self):
        victim = self.owners[CLUSTERS[0]]
        survivors = [p for p in self.probes if p.name != victim]
        killed_at = time.monotonic()
        self.probe(victim).kill()
        moved = [c for c in CLUSTERS if self.owners[c] == victim]
        from pgvigil_base import wait_for
        wait_for(lambda: all(len(held_by(survivors, c)) == 1 for c in moved), TTL + 1.0, interval=0.02,
                 what="takeover of %s's clusters within the lease TTL + 1 s" % victim)
        took = time.monotonic() - killed_at
        print("takeover after kill -9: %.2f s (lease TTL %.1f s)" % (took, TTL), file=sys.stderr)
        after = self.wait_settled(survivors)
        for c in CLUSTERS:
            if self.owners[c] != victim:
                self.assertEqual(after[c], self.owners[c], "cluster %d moved though its owner lives" % c)
        for p in survivors:
            p.wait_status(lambda s: s["members"] == 2, 2, what="the lease of the killed one to run out")
        # the new owners acquired under a newer epoch than the victim's
        for c in moved:
            new = self.probe(after[c]).owned()[c]
            self.assertGreater(new, 1)

    def test_clean_stop_hands_over_at_once(self):
        leaver = self.owners[CLUSTERS[0]]
        rest = [p for p in self.probes if p.name != leaver]
        t0 = time.monotonic()
        self.probe(leaver).stop()
        self.wait_settled(rest, timeout=TTL)
        print("hand-over after a clean stop: %.2f s" % (time.monotonic() - t0), file=sys.stderr)

    def test_mutation_reaches_the_owner_from_any_aggregator(self):
        c = CLUSTERS[1]
        owner = self.probe(self.owners[c])
        other = next(p for p in self.probes if p.name != owner.name)
        other.send('route %d {"acknowledge": "alert-7"}' % c)
        from pgvigil_base import wait_for
        ev = wait_for(lambda: [e for e in owner.events("mutation") if e[1] == str(c)], 5,
                      what="the mutation at the owner")
        self.assertEqual(ev[0][2], '{"acknowledge": "alert-7"}'.replace(" ", ""))
        self.assertEqual(other.events("mutation"), [])

    def test_once_only_effects_across_a_hand_over(self):
        c = CLUSTERS[2]
        owner = self.probe(self.owners[c])
        others = [p for p in self.probes if p is not owner]
        self.assertEqual(owner.claim(c, "alert/1/firing/webhook")["result"], "go")
        self.assertEqual(owner.claim(c, "alert/1/firing/webhook")["result"], "done")
        self.assertEqual(others[0].claim(c, "alert/1/firing/webhook")["result"], "fenced")
        # the owner claims the next transition and dies before delivering it
        self.assertEqual(owner.claim(c, "alert/1/resolved/webhook", pending=True)["result"], "go")
        owner.kill()
        after = self.wait_settled(others)
        heir = self.probe(after[c])
        self.assertEqual(heir.claim(c, "alert/1/firing/webhook")["result"], "done")
        self.assertEqual(heir.claim(c, "alert/1/resolved/webhook")["result"], "go")  # never silence
        self.assertEqual(heir.claim(c, "alert/1/resolved/webhook")["result"], "done")  # delivered now


class ManyClustersTest(unittest.TestCase):
    """Thousands of clusters are held within seconds, also without a history
    database. Without one the epoch floors could never be read, and every
    placement pass (every 50 ms) raised one Redis counter per held cluster
    first: at 2,000 clusters the thread did little else, and a fleet of
    6,667 had 1,699 held after 94 s."""

    def tearDown(self):
        cleanup_all()
        self.assertEqual(SANITIZER_REPORTS, [])

    def test_three_thousand_clusters_held_within_seconds(self):
        d = TestDir(prefix="pgvigil-cluster-")
        redis = Redis(d)
        probe = ClusterProbe(d, "agg-1", redis=redis, lease_ttl="3s")
        many = [7302000000000000000 + i for i in range(3000)]
        started = time.monotonic()
        probe.observe(*many)
        from pgvigil_base import wait_for
        # Alone it takes about a second; the bound leaves room for a loaded
        # machine (the fresh-Debian run, with other tests beside it, missed 20 s).
        wait_for(lambda: (probe.status() or {}).get("owned_count") == len(many), 60, interval=0.2,
                 what="every cluster held")
        print("3,000 clusters held in %.1f s" % (time.monotonic() - started))
        self.assertEqual(probe.status()["state"], "ok")


if __name__ == "__main__":
    unittest.main()
