"""Acceptance: an HA pair of aggregators coordinated through a real Redis,
sharing one history database, both receiving every sample of one real
primary + replica. A fault that fires, escalates one tier and resolves
produces exactly one request per transition per receiver (webhook, SMTP,
PagerDuty), though both aggregators hear it (without coordination: two);
both APIs show the cluster and the alert with the same owner, /metrics shows
who owns it, /readyz is ready; an acknowledgement sent to the aggregator
that does not own the cluster reaches the owner; every transition is stored
once."""

import json
import time
import unittest
import urllib.request

from pgvigil_cluster import AggregatorFleet, FleetTestCase, http_get
from pgvigil_harness import wait_for


class ClusterHaPairTest(FleetTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fleet = AggregatorFleet(("agg-a", "agg-b"), lease_ttl=2.0, tier2_after=6)

    @classmethod
    def tearDownClass(cls):
        rcs = cls.fleet.stop()
        assert all(rc == 0 for rc in rcs.values()), rcs

    def test_one_request_per_transition_per_receiver(self):
        f = self.fleet
        owner = f.owners_agree()[f.real_cluster()]
        for name in f.names:
            # ready once its history database connection is up (the store's, not ours)
            wait_for(lambda: http_get(f.base(name) + "/readyz") == (200, {"status": "ready"}), 15,
                     what=name + " /readyz ready")
            # the API names the owner the members give as soon as it joins; it
            # holds the cluster (an epoch in /metrics) once it has heard a sample
            metrics = wait_for(lambda: [m for m in [http_get(f.base(name) + "/metrics")[1]]
                                        if ("pgvigil_cluster_owner_epoch{" in m) == (name == owner)], 10,
                               what=name + " /metrics owner epoch" + ("" if name == owner else " absent"))[0]
            self.assertIn("pgvigil_cluster_degraded 0", metrics)

        writer = f.pause_replay_with_writes()
        try:
            wait_for(lambda: f.hooks("firing"), 40, what="the firing webhook")
            wait_for(lambda: f.mails("firing"), 10, what="the firing mail")
            wait_for(lambda: f.pager("trigger"), 20, what="tier 2 (PagerDuty)")
            alert_id = f.hooks("firing")[0][1]["alert"]["id"]
            other = next(n for n in f.names if n != owner)
            for name in f.names:  # one fleet from any door
                seen = wait_for(lambda: [a for a in http_get(f.base(name) + "/api/v1/alerts")[1].get("alerts", [])
                                         if a["id"] == alert_id], 5, what="the alert on " + name)
                self.assertEqual(seen[0]["owner"], owner)
            req = urllib.request.Request(f.base(other) + "/api/v1/alerts/%d" % alert_id, method="PATCH",
                                         data=json.dumps({"action": "acknowledge", "by": "bob"}).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 202)
                self.assertEqual(json.loads(r.read())["routed_to"], owner)
            wait_for(lambda: f.hooks("acknowledged"), 10, what="the acknowledgement applied by the owner")
            wait_for(lambda: any(a["id"] == alert_id and a["acknowledged"] for a in
                                 http_get(f.base(other) + "/api/v1/alerts")[1].get("alerts", [])), 5,
                     what="the acknowledgement visible on the other door")
        finally:
            f.resume_replay(writer)
        wait_for(lambda: f.hooks("resolved") and f.mails("resolved") and f.pager("resolve"), 40,
                 what="the resolution to every receiver notified")
        time.sleep(3)  # anything doubled would have arrived by now
        for what, got in (("firing webhook", f.hooks("firing")), ("resolved webhook", f.hooks("resolved")),
                          ("acknowledged webhook", f.hooks("acknowledged")),
                          ("firing mail", f.mails("firing")), ("resolved mail", f.mails("resolved")),
                          ("tier 2 trigger", f.pager("trigger")), ("tier 2 resolve", f.pager("resolve"))):
            self.assertEqual(len(got), 1, "%s: %d requests" % (what, len(got)))
        alert_ids = {p["alert"]["id"] for _, p in f.hooks("firing") + f.hooks("resolved")}
        self.assertEqual(len(alert_ids), 1)
        # every transition stored once (only the owner writes): pending, firing, the two tiers, resolved
        rows = f.history.psql("primary", "SELECT from_state, to_state, detail, count(*) FROM alert_events "
                              "WHERE alert_id = %d GROUP BY 1, 2, 3" % alert_ids.pop(), dbname="pgvigil")
        self.assertGreaterEqual(len(rows), 4, rows)
        self.assertTrue(all(int(r[3]) == 1 for r in rows), rows)


    def call(self, name, method, path, body=None):
        req = urllib.request.Request(self.fleet.base(name) + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")

    def silences(self, name):
        return [s["id"] for s in http_get(self.fleet.base(name) + "/api/v1/silences")[1].get("silences", [])]

    def test_silence_made_on_either_door_holds_back_the_owner(self):
        f = self.fleet
        owner = f.owners_agree()[f.real_cluster()]
        other = next(n for n in f.names if n != owner)
        now = time.time()
        iso = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        status, body = self.call(other, "POST", "/api/v1/silences", {
            "matchers": [{"name": "rule", "value": "replication_lag"}], "starts_at": iso(now - 60),
            "ends_at": iso(now + 600), "comment": "maintenance", "by": "carol"})
        self.assertEqual(status, 201, body)
        silence = body["silence"]["id"]
        wait_for(lambda: silence in self.silences(owner), 5, what="the silence on the owner")
        before = len(f.sink.received("/hook")), len(f.smtp.received())
        writer = f.pause_replay_with_writes()
        try:
            alert = wait_for(lambda: [a for a in http_get(f.base(owner) + "/api/v1/alerts")[1].get("alerts", [])
                                      if a["state"] == "firing" and a["rule"] == "replication_lag"], 40,
                             what="the alert firing, silenced")[0]
            self.assertTrue(alert["silenced"])
            time.sleep(2)
        finally:
            f.resume_replay(writer)
        wait_for(lambda: not [a for a in http_get(f.base(owner) + "/api/v1/alerts")[1].get("alerts", [])
                              if a["id"] == alert["id"]], 40, what="the alert resolved")
        self.assertEqual((len(f.sink.received("/hook")), len(f.smtp.received())), before, "a silenced alert notified")
        self.assertEqual(self.call(owner, "DELETE", "/api/v1/silences/%d" % silence)[0], 200)
        wait_for(lambda: silence not in self.silences(other), 5, what="the silence deleted on the other door")


if __name__ == "__main__":
    unittest.main()
