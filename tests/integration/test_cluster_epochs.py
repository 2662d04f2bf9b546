"""Fencing epochs only grow, even when Redis restarts without its data: the
floor is recovered from the history database (real PostgreSQL, table
cluster_epochs), and a running owner raises the counters of what it holds."""

import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pgvigil_base import wait_for  # noqa: E402
from pgvigil_cluster import SANITIZER_REPORTS, ClusterProbe  # noqa: E402
from pgvigil_harness import PgCluster, Redis, TestDir, cleanup_all  # noqa: E402

CLUSTER = 7301234567890123456


class ClusterEpochTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = TestDir(prefix="pgvigil-epochs-")
        cls.pg = PgCluster(cls.dir, replicas=0, pg_stat_statements=False)
        cls.pg.start()
        cls.pg.psql("primary", "CREATE DATABASE history OWNER pgvigil")
        cls.dsn = cls.pg.dsn("primary", dbname="history")

    @classmethod
    def tearDownClass(cls):
        cleanup_all()
        assert not SANITIZER_REPORTS, "\n".join(SANITIZER_REPORTS)

    def epoch_of(self, probe):
        s = probe.wait_status(lambda s: str(CLUSTER) in s["owned"] and s["owned"][str(CLUSTER)] > 0, 10,
                              what="ownership of the cluster")
        return s["owned"][str(CLUSTER)]

    def db_epoch(self):
        return int(self.pg.scalar("primary", "SELECT coalesce(max(epoch), 0) FROM cluster_epochs "
                                  "WHERE cluster_id = %d" % CLUSTER, dbname="history"))

    def test_epoch_survives_a_redis_restart_that_loses_data(self):
        redis = Redis(self.dir, name="redis-epochs")
        epochs = []
        for i in range(3):  # three acquisitions in a row: 1, 2, 3 (or above an older floor)
            p = ClusterProbe(self.dir, "agg-e%d" % i, dsn=self.dsn, redis=redis)
            p.observe(CLUSTER)
            epochs.append(self.epoch_of(p))
            p.stop()
        self.assertEqual(epochs, sorted(set(epochs)), "epochs must strictly grow: %s" % epochs)
        wait_for(lambda: self.db_epoch() == epochs[-1], 5, what="the last epoch in cluster_epochs")
        redis.restart()  # no persistence: every key is gone
        self.assertEqual(redis.command("GET", "pgvigil:epoch:%d" % CLUSTER), "")
        p = ClusterProbe(self.dir, "agg-after", dsn=self.dsn, redis=redis)
        p.observe(CLUSTER)
        after = self.epoch_of(p)
        self.assertGreater(after, epochs[-1], "an epoch went backwards after Redis lost its data")
        wait_for(lambda: self.db_epoch() == after, 5, what="the new epoch recorded")
        p.stop()
        redis.stop()

    def test_running_owner_comes_back_above_its_own_epoch(self):
        redis = Redis(self.dir, name="redis-running")
        owner = ClusterProbe(self.dir, "agg-r1", dsn=self.dsn, redis=redis)
        owner.observe(CLUSTER)
        held = self.epoch_of(owner)
        redis.restart()
        # the broken connection releases everything (fail open), the empty data set is
        # noticed, and the cluster is acquired again above the recorded floor
        s = owner.wait_status(lambda s: s["state"] == "ok" and s["owned"].get(str(CLUSTER), 0) > held, 10,
                              what="the cluster owned again under a newer epoch")
        self.assertIn("lost its data", owner.log_text())
        again = s["owned"][str(CLUSTER)]
        self.assertEqual(int(redis.command("GET", "pgvigil:epoch:%d" % CLUSTER)), again)
        # a newcomer that takes over gets a newer epoch still
        owner.stop()
        heir = ClusterProbe(self.dir, "agg-r2", dsn=self.dsn, redis=redis)
        heir.observe(CLUSTER)
        self.assertGreater(self.epoch_of(heir), again)
        heir.stop()
        redis.stop()


if __name__ == "__main__":
    unittest.main()
