"""Redis stopped for 30 s: every aggregator fails open (owns every cluster it
hears, effects go through: duplicates possible, never silence) and says so
(state "degraded", a log line); when Redis returns, ownership converges
within 2 lease TTLs, one owner per cluster under newer epochs."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from pgvigil_base import wait_for  # noqa: E402
from pgvigil_cluster import SANITIZER_REPORTS, ClusterProbe, held_by, owners_agree  # noqa: E402
from pgvigil_harness import Redis, TestDir, cleanup_all  # noqa: E402

CLUSTERS = [7301234567890000000 + i * 7919 for i in range(6)]
TTL = 1.5
DOWN_SECONDS = float(os.environ.get("PGVIGIL_REDIS_DOWN_SECONDS", "30"))


class ClusterRedisDownTest(unittest.TestCase):
    def tearDown(self):
        cleanup_all()
        self.assertEqual(SANITIZER_REPORTS, [])

    def test_fail_open_while_redis_is_down_and_converge_after(self):
        d = TestDir(prefix="pgvigil-redisdown-")
        redis = Redis(d)
        probes = [ClusterProbe(d, "agg-%d" % i, redis=redis) for i in (1, 2)]
        for p in probes:
            p.observe(*CLUSTERS)
        wait_for(lambda: owners_agree(probes, CLUSTERS) and all(len(held_by(probes, c)) == 1 for c in CLUSTERS),
                 10, what="ownership")

        redis.stop()
        for p in probes:
            s = p.wait_status(lambda s: s["state"] == "degraded", 5, what="degraded")
            self.assertEqual(sorted(int(c) for c in s["owned"]), sorted(CLUSTERS))  # everything it hears
            self.assertEqual(p.claim(CLUSTERS[0], "alert/3/firing/mail-%s" % p.name)["result"], "go")
            self.assertIn("Redis is unreachable", p.log_text())
        time.sleep(max(0, DOWN_SECONDS - 2))
        for p in probes:
            self.assertEqual(p.status()["state"], "degraded")

        redis.restart()
        back = time.monotonic()
        wait_for(lambda: all(p.status()["state"] == "ok" for p in probes)
                 and owners_agree(probes, CLUSTERS) and all(len(held_by(probes, c)) == 1 for c in CLUSTERS),
                 2 * TTL, interval=0.05, what="ownership to converge within 2 lease TTLs")
        print("converged %.2f s after Redis returned" % (time.monotonic() - back), file=sys.stderr)
        for c in CLUSTERS:  # owned under an epoch again, not failing open
            holder = held_by(probes, c)[0]
            self.assertGreater(next(p for p in probes if p.name == holder).owned()[c], 0)
        for p in probes:
            self.assertIn("coordinating through Redis", p.log_text().split("Redis is unreachable")[-1])


if __name__ == "__main__":
    unittest.main()
