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
