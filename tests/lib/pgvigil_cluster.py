"""pgvigil_cluster — the aggregator's coordination actor alone, for tests of
membership, ownership, epochs and fencing against real Redis (and Sentinel)
and real PostgreSQL: ClusterProbe runs pgvigil-test-cluster-probe, writes
commands to its stdin and reads its JSON lines (see tests/lib/cluster_probe.c).
Standard library only."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

from pgvigil_base import _register, reaper_note, wait_for
from pgvigil_harness import binary


def cluster_section(name, redis=None, sentinels=None, master_name="pgvigil", lease_ttl="1500ms",
                    publish_interval="200ms", timeout="300ms"):
    """The YAML cluster section of an aggregator named name."""
    if sentinels:
        where = "sentinels: [%s], master_name: %s" % (
            ", ".join("'127.0.0.1:%d'" % s.port for s in sentinels), master_name)
    else:
        where = "address: '127.0.0.1:%d'" % redis.port
    return ("cluster:\n  name: %s\n  lease_ttl: %s\n  publish_interval: %s\n"
            "  redis: {%s, timeout: %s}\n" % (name, lease_ttl, publish_interval, where, timeout))


# Sanitizer reports found in the probes' logs when they stopped: tests assert
# this stays empty (a probe's own exit status is not seen by cleanup).
SANITIZER_REPORTS = []
_SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class ClusterProbe:
    """One aggregator's coordination actor in a process of its own."""

    def __init__(self, testdir, name, dsn=None, **section):
        self.name = name
        self.lease_ttl = section.get("lease_ttl", "1500ms")
        text = "listen: {ingest: ['tcp://127.0.0.1:1'], http: '127.0.0.1:1'}\n" + cluster_section(name, **section)
        if dsn:
            text += "storage: {dsn: \"%s\", spool_dir: %s}\n" % (dsn, testdir.path)
        self.config = testdir.file(name + ".yaml", text)
        self.out_path = os.path.join(testdir.path, name + ".out")
        self.err_path = os.path.join(testdir.path, name + ".err")
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        self.proc = subprocess.Popen([binary("pgvigil-test-cluster-probe"), "-c", self.config],
                                     stdin=subprocess.PIPE, stdout=self._out, stderr=self._err, text=True)
        reaper_note("pid", self.proc.pid)
        _register(self.stop)
        self._offset, self.records = 0, []
        wait_for(lambda: self.status() is not None or self.proc.poll() is not None, 10, what=name + " to start")
        if self.proc.poll() is not None:
            raise RuntimeError("%s exited: %s" % (name, self.log_text()))

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def observe(self, *cluster_ids):
        for c in cluster_ids:
            self.send("observe %d" % c)

    def _read(self):
        with open(self.out_path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        for line in chunk[:end].splitlines():
            try:
                self.records.append(json.loads(line))
            except ValueError:
                print("probe %s printed a line that is not JSON: %r" % (self.name, line[:200]), file=sys.stderr)
        self._offset += end
        return self.records

    def status(self):
        """The latest status record, or None."""
        for r in reversed(self._read()):
            if "status" in r:
                return r["status"]
        return None

    def wait_status(self, predicate, timeout, what="status"):
        def check():
            s = self.status()
            return s if s is not None and predicate(s) else None
        return wait_for(check, timeout, interval=0.05, what="%s: %s" % (self.name, what))

    def owned(self):
        s = self.status()
        return {int(k): v for k, v in (s["owned"] if s else {}).items()}

    def events(self, kind=None):
        return [r["event"] for r in self._read() if "event" in r and (kind is None or r["event"][0] == kind)]

    def claims(self):
        return [r for r in self._read() if "claim" in r]

    def claim(self, cluster_id, what, timeout=10, pending=False):
        """Claim a once-only effect; return its record."""
        n = len(self.claims())
        self.send("%s %d %s" % ("claim-pending" if pending else "claim", cluster_id, what))
        return wait_for(lambda: self.claims()[n] if len(self.claims()) > n else None, timeout,
                        what="%s to answer a claim" % self.name)

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def log_text(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self, timeout=10):
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self._out, self._err, self.proc.stdin):
            try:
                f.close()
            except (OSError, ValueError):
                pass
        log = self.log_text()
        if any(m in log for m in _SANITIZER_MARKS):
            SANITIZER_REPORTS.append("%s:\n%s" % (self.name, log[-4000:]))
        return self.proc.returncode


def owners_agree(probes, cluster_ids):
    """{cluster: owner} when every probe names the same live owner for each, else None."""
    result = {}
    for c in cluster_ids:
        names = set()
        for p in probes:
            s = p.status()
            names.add(s["owners"].get(str(c)) if s else None)
        if len(names) != 1 or None in names or "" in names:
            return None
        result[c] = names.pop()
    return result


def held_by(probes, cluster_id):
    """Names of the probes that hold cluster_id under an epoch."""
    return [p.name for p in probes if cluster_id in p.owned() and p.owned()[cluster_id] > 0]


def now():
    return time.monotonic()


# ---- whole aggregators coordinated through Redis ----

def http_get(url, timeout=5):
    """(status, parsed JSON or text); status 0 when nothing answers."""
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = r.read().decode()
            return r.status, (json.loads(body) if body.startswith(("{", "[")) else body)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        return e.code, (json.loads(text) if text.startswith("{") else text)
    except OSError:
        return 0, {}


AGGREGATOR_CONFIG = """
listen: {ingest: [%(ingest)s], http: "127.0.0.1:%(http)d"}
storage: {dsn: "%(dsn)s", spool_dir: %(spool)s}
stale_intervals: 8
rules:
  - {name: replication_lag, metric: replication_lag_seconds, warning: 6, critical: 600, for: 1s}
  - {name: node_down, for: 2s}
  - {name: replica_disconnected, enabled: false}
regions: {eu-west: {timezone: Europe/London}, us-east: {timezone: America/New_York}}
peak: {days: []}
receivers:
  - {name: hook, type: webhook, url: "%(sink)s/hook"}
  - {name: mail, type: email, url: "smtp://127.0.0.1:%(smtp)d", from: pgvigil@example.org,
     to: [oncall@example.org], tls: none}
  - {name: pager, type: pagerduty, url: "%(sink)s/pagerduty", routing_key_env: PGVIGIL_TEST_PD_KEY}
escalation:
  normal: [{after: 0s, receivers: [hook, mail]}, {after: %(tier2)ds, receivers: [pager]}]
flapping: {transitions: 0}
delivery: {retry_initial: 200ms, retry_max: 2s, breaker_failures: 3, breaker_cooldown: 1s, timeout: 2s}
%(cluster)s"""


class FleetTestCase(unittest.TestCase):
    """A test class over one AggregatorFleet (cls.fleet, set in setUpClass):
    when a test fails, every aggregator's log is printed."""

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            print(self.fleet.logs())
        return out


class AggregatorFleet:
    """A real primary + replica (collectors sending to every aggregator), a
    history database, a Redis, an HTTP sink (webhook, PagerDuty) and an SMTP
    sink, and the named aggregators coordinated through the Redis; simulated
    clusters from pgvigil-ingest-load when simulated > 0 (same fleet to each)."""

    def __init__(self, names, lease_ttl=2.0, tier2_after=6, simulated=0, sentinel=False):
        from pgvigil_harness import PgCluster, Redis, Sentinel, TestDir, collector_config, start_collector
        from pgvigil_sinks import HttpSink, SmtpSink
        self.names, self.lease_ttl, self.tier2_after = list(names), lease_ttl, tier2_after
        self.dir = TestDir(prefix="pgvigil-fleet-")
        self.cluster = PgCluster(self.dir).start()
        self.cluster.psql("primary", "CREATE TABLE fleet_load (at timestamptz)")
        self.history = PgCluster(TestDir(prefix="pgvigil-fleet-history-"), replicas=0, pg_stat_statements=False,
                                 name="history").start()
        self.history.psql("primary", "CREATE DATABASE pgvigil")
        self.dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % self.history.port("primary")
        self.redis = Redis(self.dir)
        self.sentinels = []
        if sentinel:  # a replica of it and three sentinels; aggregators ask the sentinels
            self.replica = Redis(self.dir, name="redis-replica", replica_of=self.redis)
            wait_for(lambda: "master_link_status:up" in self.replica.command("INFO", "replication"), 10,
                     what="the Redis replica to sync")
            self.sentinels = [Sentinel(self.dir, self.redis, name="sentinel-%d" % i) for i in range(3)]
            wait_for(lambda: all("sentinels=3" in s.info() and "slaves=1" in s.info() for s in self.sentinels), 20,
                     what="the sentinels to know the replica and each other")
        self.sink, self.smtp = HttpSink(), SmtpSink()
        self.aggs = {}
        for name in self.names:
            self.start_aggregator(name)
        endpoints = [self.aggs[n]["ingest"] for n in self.names]
        self.feeders = []
        for node in ("primary", "replica"):
            c = collector_config(self.dir, node + ".yaml", node, self.cluster.dsn(node), endpoints,
                                 region="eu-west", extra="interval: 500ms\n")
            self.feeders.append(start_collector(self.dir, c, "collector-" + node))
        from pgvigil_harness import Process
        for i, ep in enumerate(endpoints if simulated else ()):
            self.feeders.append(Process(self.dir, "simulated-%d" % i,
                                        [binary("pgvigil-ingest-load"), "--endpoint", ep, "--nodes",
                                         str(2 * simulated), "--rate", str(2 * simulated), "--seconds", "900"]))
        self.expect = 1 + simulated
        wait_for(lambda: self.owners_agree(), 40, what="every cluster with an agreed owner on every aggregator")

    def start_aggregator(self, name):
        from pgvigil_harness import Process, free_port
        ingest, port = "tcp://127.0.0.1:%d" % free_port(), free_port()
        config = self.dir.file(name + ".yaml", AGGREGATOR_CONFIG % {
            "ingest": ingest, "http": port, "dsn": self.dsn, "spool": self.dir.sub("spool-" + name),
            "sink": self.sink.url, "smtp": self.smtp.port, "tier2": int(self.tier2_after),
            "cluster": cluster_section(name, redis=self.redis, sentinels=self.sentinels,
                                       lease_ttl="%dms" % (self.lease_ttl * 1000), publish_interval="500ms")})
        proc = Process(self.dir, name, [binary("pgvigil-aggregator"), "-c", config],
                       env={"PGVIGIL_TEST_PD_KEY": "pd-routing-key"})
        self.aggs[name] = {"proc": proc, "ingest": ingest, "base": "http://127.0.0.1:%d" % port}
        wait_for(lambda: http_get(self.base(name) + "/healthz")[0] == 200 or not proc.running(), 20, what=name)
        if not proc.running():
            raise RuntimeError("%s exited:\n%s" % (name, proc.log_text()))

    def base(self, name):
        return self.aggs[name]["base"]

    def proc(self, name):
        return self.aggs[name]["proc"]

    def clusters(self, name):
        status, body = http_get(self.base(name) + "/api/v1/clusters")
        return {c["id"]: c for c in body.get("clusters", [])} if status == 200 else {}

    def owners_agree(self, names=None):
        """{cluster id: owner} when every named aggregator lists every cluster with
        the same live owner, else None."""
        names = names or self.names
        views = [self.clusters(n) for n in names]
        if any(len(v) != self.expect for v in views):
            return None
        owners = {cid: c.get("owner") for cid, c in views[0].items()}
        if any(o not in names for o in owners.values()):
            return None
        return owners if all({cid: c.get("owner") for cid, c in v.items()} == owners for v in views) else None

    def real_cluster(self):
        return next(cid for cid in self.clusters(self.names[0]) if not cid.startswith("73000000000000000"))

    def hooks(self, kind):
        out = [(r, json.loads(r["body"])) for r in self.sink.received("/hook")]
        return [(r, p) for r, p in out if p["kind"] == kind]

    def pager(self, action):
        out = [(r, json.loads(r["body"])) for r in self.sink.received("/pagerduty")]
        return [(r, p) for r, p in out if p.get("event_action") == action]

    def mails(self, kind):
        return [m for m in self.smtp.received()
                if any(l.startswith("Subject:") and " %s " % kind.upper() in l for l in m["data"].splitlines())]

    def pause_replay_with_writes(self):
        from pgvigil_harness import Writer
        self.cluster.pause_replay()
        return Writer(lambda: self.cluster.psql("primary", "INSERT INTO fleet_load SELECT now()"))

    def resume_replay(self, writer):
        writer.stop()
        self.cluster.resume_replay()

    def logs(self, lines=30):
        return "\n".join("---- %s (last %d lines) ----\n%s" % (n, lines, "\n".join(
            a["proc"].log_text().splitlines()[-lines:])) for n, a in self.aggs.items())

    def stop(self):
        for f in self.feeders:
            f.stop()
        rcs = {n: a["proc"].stop() for n, a in self.aggs.items()}
        self.cluster.stop_all()
        self.history.stop_all()
        for s in self.sentinels:
            s.stop()
        if self.sentinels:
            self.replica.stop()
        self.redis.stop()
        self.dir.remove()
        return rcs
