"""Redis Sentinel: aggregators find the master through three real sentinels
(redis-server --sentinel), and when the master is killed and the sentinels
promote its replica, they follow the new master within 10 s without a
restart, and ownership is whole again."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pgvigil_base import wait_for  # noqa: E402
from pgvigil_cluster import SANITIZER_REPORTS, ClusterProbe, held_by, owners_agree  # noqa: E402
from pgvigil_harness import Redis, Sentinel, TestDir, cleanup_all  # noqa: E402

CLUSTERS = [7301234567890000000 + i * 104729 for i in range(4)]


class ClusterSentinelTest(unittest.TestCase):
    def tearDown(self):
        cleanup_all()
        self.assertEqual(SANITIZER_REPORTS, [])

    def test_aggregators_follow_a_sentinel_failover_without_restart(self):
        d = TestDir(prefix="pgvigil-sentinel-")
        master = Redis(d, name="redis-master")
        replica = Redis(d, name="redis-replica", replica_of=master)
        wait_for(lambda: "master_link_status:up" in replica.command("INFO", "replication"), 10,
                 what="the replica to sync")
        sentinels = [Sentinel(d, master, name="sentinel-%d" % i) for i in range(3)]
        wait_for(lambda: all("slaves=1" in s.info() and "sentinels=3" in s.info() for s in sentinels), 20,
                 what="the sentinels to know the replica and each other")
        probes = [ClusterProbe(d, "agg-s%d" % i, sentinels=sentinels) for i in (1, 2)]
        for p in probes:
            p.observe(*CLUSTERS)
            p.wait_status(lambda s: s["master"] == "127.0.0.1:%d" % master.port and s["state"] == "ok", 10,
                          what="the master found through the sentinels")
        pids = [p.proc.pid for p in probes]
        wait_for(lambda: owners_agree(probes, CLUSTERS), 10, what="ownership")

        killed_at = time.monotonic()
        master.process.proc.kill()
        master.process.proc.wait()
        new_master = "127.0.0.1:%d" % replica.port
        for p in probes:
            p.wait_status(lambda s: s["master"] == new_master and s["state"] == "ok", 10,
                          what="the promoted replica followed")
        took = time.monotonic() - killed_at
        print("aggregators on the new master %.2f s after the old one was killed" % took, file=sys.stderr)
        self.assertEqual([p.proc.pid for p in probes], pids)  # no restart
        wait_for(lambda: all(len(held_by(probes, c)) == 1 for c in CLUSTERS), 5,
                 what="one owner per cluster on the new master")
        self.assertEqual(replica.command("ROLE").splitlines()[0], "master")


if __name__ == "__main__":
    unittest.main()
