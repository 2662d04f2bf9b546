"""Acceptance: aggregators find Redis through three real sentinels. The
Redis master is killed, the sentinels promote its replica, and both
aggregators follow the new master within 10 s without a restart (/metrics
names it, /readyz is ready); coordination works on it: a fault afterwards
is notified exactly once."""

import signal
import sys
import time
import unittest

from pgvigil_cluster import AggregatorFleet, FleetTestCase, http_get
from pgvigil_harness import wait_for


class ClusterSentinelFailoverTest(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = AggregatorFleet(("agg-a", "agg-b"), lease_ttl=2.0, tier2_after=600, sentinel=True)

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()

    def on_master(self, name, port):
        metrics = http_get(self.fleet.base(name) + "/metrics")[1]
        return 'pgvigil_cluster_redis_master{address="127.0.0.1:%d"} 1' % port in metrics and \
            http_get(self.fleet.base(name) + "/readyz")[1].get("status") == "ready"

    def test_aggregators_follow_the_promoted_replica(self):
        f = self.fleet
        for name in f.names:
            wait_for(lambda: self.on_master(name, f.redis.port), 10, what=name + " on the first master")
        pids = [f.proc(n).proc.pid for n in f.names]
        killed_at = time.monotonic()
        f.redis.process.signal(signal.SIGKILL)
        for name in f.names:
            wait_for(lambda: self.on_master(name, f.replica.port), 10, what=name + " on the promoted replica")
        print("both aggregators on the new master %.2f s after the kill" % (time.monotonic() - killed_at),
              file=sys.stderr)
        self.assertEqual([f.proc(n).proc.pid for n in f.names], pids)
        self.assertTrue(all(f.proc(n).running() for n in f.names))
        wait_for(lambda: f.owners_agree(), 10, what="ownership on the new master")
        writer = f.pause_replay_with_writes()
        try:
            wait_for(lambda: f.hooks("firing"), 40, what="a firing notification")
        finally:
            f.resume_replay(writer)
        wait_for(lambda: f.hooks("resolved"), 40, what="the resolution")
        time.sleep(2)
        self.assertEqual((len(f.hooks("firing")), len(f.hooks("resolved"))), (1, 1))


if __name__ == "__main__":
    unittest.main()
