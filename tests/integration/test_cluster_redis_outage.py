"""Acceptance: Redis stopped for 30 s under an HA pair. Monitoring, alerts
and notifications go on (fail open: a fault during the outage is notified,
duplicates allowed, never silence), /readyz says degraded and /metrics
pgvigil_cluster_degraded 1 on both; when Redis returns (empty), ownership
converges within 2 lease TTLs and /readyz is ready again."""

import os
import sys
import time
import unittest

from pgvigil_cluster import AggregatorFleet, FleetTestCase, http_get
from pgvigil_harness import wait_for

TTL = 2.0
DOWN_SECONDS = float(os.environ.get("PGVIGIL_REDIS_DOWN_SECONDS", "30"))


class ClusterRedisOutageTest(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = AggregatorFleet(("agg-a", "agg-b"), lease_ttl=TTL, tier2_after=600)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()

    def test_fail_open_while_redis_is_down_then_converge(self):
        f = self.fleet
        f.redis.stop()
        down_at = time.monotonic()
        for name in f.names:
            wait_for(lambda: http_get(f.base(name) + "/readyz")[1].get("status") == "degraded", 5,
                     what=name + " /readyz degraded")
            self.assertIn("pgvigil_cluster_degraded 1", http_get(f.base(name) + "/metrics")[1])
        writer = f.pause_replay_with_writes()
        try:
            wait_for(lambda: f.hooks("firing"), 40, what="a firing notification while Redis is down")
        finally:
            f.resume_replay(writer)
        wait_for(lambda: f.hooks("resolved"), 40, what="the resolution while Redis is down")
        print("during the outage: %d firing and %d resolved webhooks (fail open: 1 or 2 each)"
              % (len(f.hooks("firing")), len(f.hooks("resolved"))), file=sys.stderr)
        self.assertLessEqual(len(f.hooks("firing")), 2)
        for name in f.names:
            self.assertIn("Redis is unreachable", f.proc(name).log_text())
        time.sleep(max(0, DOWN_SECONDS - (time.monotonic() - down_at)))
        self.assertTrue(all(http_get(f.base(n) + "/readyz")[1].get("status") == "degraded" for n in f.names))

        f.redis.restart()
        back = time.monotonic()
        # converged: one owner named everywhere, every door ready, and only
        # that owner holding the cluster under an epoch (the API names the
        # owner the members give before it has acquired)
        wait_for(lambda: f.owners_agree() and all(http_get(f.base(n) + "/readyz")[1].get("status") == "ready"
                                                  for n in f.names)
                 and sum("pgvigil_cluster_owner_epoch{" in http_get(f.base(n) + "/metrics")[1] for n in f.names) == 1,
                 2 * TTL, interval=0.1, what="ownership converged within 2 lease TTLs")
        print("converged %.2f s after Redis returned" % (time.monotonic() - back), file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
