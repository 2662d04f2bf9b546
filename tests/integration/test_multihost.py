"""Two hosts, as the README's "Deploying on several hosts" section sets them
up: a database host (a real primary + replica and a collector next to each)
and a monitoring host (the aggregator, its history database and the
dashboard), in two network namespaces this test creates, joined by a
cross-region link of 40 ms one-way delay and 1% packet loss in each
direction, with CURVE on (keys from `keygen`, the collectors' public keys in
the aggregator's allow-list).

Proves: the collectors' samples cross the link; the aggregator's clock
offset estimate for each collector is the true offset (0: one kernel, one
clock) minus the one-way delay, so between -40 ms and a few hundred ms
below; the replica's lag is small under a write load and rises when its
replay is paused; /readyz answers 200 on the monitoring host.

The link: `tc qdisc add dev ... netem delay 40ms loss 1%` on a veth pair
where the kernel has sch_netem; where it has not, a TUN device in each
namespace and a forwarder thread in this test that holds every packet 40 ms
and drops 1% (the same link, emulated in user space; the test prints which).

Network: every address used lives only inside the two namespaces this test
creates (192.168.251.1 and .2 on a private link between them, nothing else
routes there); each namespace's own loopback for the rest. PostgreSQL stays
in the test's namespace and the collectors reach it through its Unix socket
(a path, not an address). The namespaces are deleted on any exit.
"""

import collections
import ctypes
import fcntl
import json
import os
import random
import select
import shutil
import struct
import subprocess
import threading
import time
import unittest

from pgvigil_base import _register
from pgvigil_harness import PgCluster, Process, TestDir, Writer, api_tokens, binary, wait_for

DB_ADDR, MON_ADDR = "192.168.251.1", "192.168.251.2"  # private to the two namespaces below
DELAY_S, LOSS = 0.040, 0.01
INGEST_PORT, HTTP_PORT = 7400, 8080  # the README's ports, free inside a new namespace
RTT_PROBE = """import socket, sys, time
best = None
for _ in range(3):
    t = time.monotonic()
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    best = min(best or 1e9, (time.monotonic() - t) * 1000)
print(best)"""


def in_ns(ns):
    """The prefix that runs a program in network namespace ns. nsenter enters
    the network namespace only; `ip netns exec` would also remount /sys,
    which a chroot (a fresh Debian tree, a build container) may not allow."""
    return ["nsenter", "--net=/run/netns/" + ns, "--"] if ns else []


def mount_point(path):
    """Whether path is a mount point (a bind mount on itself included, which os.path.ismount misses)."""
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def ip(*args, ns=None, check=True):
    r = subprocess.run(in_ns(ns) + list(args), capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise AssertionError("%s: exit %d: %s" % (" ".join(in_ns(ns) + list(args)), r.returncode, r.stderr.strip()))
    return r


class TunLink:
    """A point-to-point link between two namespaces through a TUN device in
    each: a thread reads every packet from one side and writes it to the
    other DELAY_S later, dropping LOSS of them. setns() moves only the
    calling thread, so the rest of the test stays where it was."""

    TUNSETIFF, IFF_TUN, IFF_NO_PI, CLONE_NEWNET = 0x400454CA, 0x0001, 0x1000, 0x40000000

    def __init__(self, ns_a, ns_b, name):
        self.fds, self.error = [], None
        self.stop_r, self.stop_w = os.pipe()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ns_a, ns_b, name, ready), daemon=True)
        self.thread.start()
        ready.wait(10)
        if self.error or len(self.fds) != 2:
            raise OSError("could not make the TUN link: %s" % self.error)

    def _open(self, ns, name):
        libc = ctypes.CDLL(None, use_errno=True)
        nsfd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
        try:
            if libc.setns(nsfd, self.CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns " + ns)
        finally:
            os.close(nsfd)
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        fcntl.ioctl(fd, self.TUNSETIFF, struct.pack("16sH", name.encode(), self.IFF_TUN | self.IFF_NO_PI))
        return fd

    def _run(self, ns_a, ns_b, name, ready):
        try:
            self.fds = [self._open(ns_a, name), self._open(ns_b, name)]
        except OSError as e:
            self.error = e
        ready.set()
        if self.error:
            return
        queue = collections.deque()  # (due, fd to write, packet): one delay, so FIFO order is due order
        rng = random.Random(4711)
        while True:
            wait = max(0.0, queue[0][0] - time.monotonic()) if queue else 1.0
            readable, _, _ = select.select(self.fds + [self.stop_r], [], [], wait)
            if self.stop_r in readable:
                return
            for fd in readable:
                other = self.fds[1] if fd == self.fds[0] else self.fds[0]
                while True:
                    try:
                        packet = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    if rng.random() >= LOSS:
                        queue.append((time.monotonic() + DELAY_S, other, packet))
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _, fd, packet = queue.popleft()
                try:
                    os.write(fd, packet)
                except OSError:
                    pass  # a full queue is a lost packet

    def close(self):
        if self.thread.is_alive():
            os.write(self.stop_w, b"x")
            self.thread.join(5)
        for fd in self.fds + [self.stop_r, self.stop_w]:
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds = []


class Namespaces:
    """Two network namespaces joined by the cross-region link; deleted on any exit."""

    def __init__(self):
        tag = "%d" % os.getpid()
        self.db, self.mon = "pgv-db-" + tag, "pgv-mon-" + tag
        self.link, self.kind = None, None
        # `ip netns add` makes /run/netns a mount point the first time; one
        # this test made goes again at the end (a chroot could not be removed).
        self.run_netns_was_mounted = mount_point("/run/netns")
        _register(self.remove)
        for ns in (self.db, self.mon):
            ip("ip", "netns", "add", ns)
            ip("ip", "link", "set", "lo", "up", ns=ns)
        if not self._veth_netem():
            self._tun()

    def _veth_netem(self):
        """veth pair with netem on both ends; False if the kernel has no netem."""
        a, b = "pgvd%s" % os.getpid(), "pgvm%s" % os.getpid()
        ip("ip", "link", "add", a[:15], "netns", self.db, "type", "veth", "peer", "name", b[:15], "netns", self.mon)
        for ns, dev, addr, peer in ((self.db, a[:15], DB_ADDR, MON_ADDR), (self.mon, b[:15], MON_ADDR, DB_ADDR)):
            ip("ip", "addr", "add", addr + "/30", "dev", dev, ns=ns)
            ip("ip", "link", "set", dev, "up", ns=ns)
            r = ip("tc", "qdisc", "add", "dev", dev, "root", "netem", "delay", "%dms" % (DELAY_S * 1000),
                   "loss", "%g%%" % (LOSS * 100), ns=ns, check=False)
            if r.returncode != 0:
                ip("ip", "link", "del", a[:15], ns=self.db, check=False)
                self.netem_error = r.stderr.strip()
                return False
        self.kind = "veth pair, tc netem delay 40ms loss 1% on both ends"
        return True

    def _tun(self):
        self.link = TunLink(self.db, self.mon, "pgvlink")
        for ns, addr, peer in ((self.db, DB_ADDR, MON_ADDR), (self.mon, MON_ADDR, DB_ADDR)):
            ip("ip", "addr", "add", addr, "peer", peer, "dev", "pgvlink", ns=ns)
            ip("ip", "link", "set", "pgvlink", "up", ns=ns)
        self.kind = ("TUN pair with a user-space 40 ms / 1%% loss forwarder (this kernel has no netem: %s)"
                     % self.netem_error)

    def remove(self):
        if self.link:
            self.link.close()
            self.link = None
        for ns in (self.db, self.mon):
            ip("ip", "netns", "del", ns, check=False)
        if not self.run_netns_was_mounted and mount_point("/run/netns") and not os.listdir("/run/netns"):
            subprocess.run(["umount", "/run/netns"], capture_output=True, timeout=30)


def usable():
    """Why this test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if not all(shutil.which(p) for p in ("ip", "tc", "nsenter", "curl")):
        return "needs ip and tc (iproute2), nsenter (util-linux) and curl"
    return None


@unittest.skipIf(usable(), usable())
class MultiHostTest(unittest.TestCase):
    def test_two_hosts_over_a_cross_region_link(self):
        d = TestDir()
        self.addCleanup(d.remove)
        net = Namespaces()
        self.addCleanup(net.remove)
        print("\nlink: %s" % net.kind)

        cluster = PgCluster(d, replicas=1, pg_stat_statements=False).start()
        self.addCleanup(cluster.stop_all)
        history = PgCluster(d, replicas=0, pg_stat_statements=False, name="history").start()
        self.addCleanup(history.stop_all)
        history.psql("primary", "CREATE DATABASE pgvigil")

        sysid = cluster.psql("primary", "SELECT system_identifier FROM pg_control_system()")[0][0]

        # Keys (README: "Keys"): one pair for the aggregator, one per collector.
        mon_etc, db_etc = d.sub("mon-etc-pgvigil"), d.sub("db-etc-pgvigil")
        allow = os.path.join(mon_etc, "collectors")
        os.makedirs(allow)
        subprocess.run([binary("pgvigil-aggregator"), "keygen", os.path.join(mon_etc, "aggregator.cert")],
                       check=True, capture_output=True, timeout=10)
        shutil.copy(os.path.join(mon_etc, "aggregator.cert"), db_etc)  # public half to the database host
        for node in ("primary", "replica"):
            cert = os.path.join(db_etc, "db-%s.cert" % node)
            # The key may speak for its own node only (the certificate's "nodes").
            subprocess.run([binary("pgvigil-collector"), "keygen", cert, "db-%s" % node], check=True,
                           capture_output=True, timeout=10)
            shutil.copy(cert, allow)  # public half into the aggregator's allow-list

        # The monitoring host: aggregator with history, CURVE and tokens.
        tokens, entries = api_tokens("viewer")
        cfg = d.file("aggregator.yaml", """\
listen:
  ingest: [tcp://0.0.0.0:%d]
  http: 127.0.0.1:%d
storage:
  dsn: "host=%s port=%d dbname=pgvigil user=postgres"
  spool_dir: %s
curve:
  server_cert: %s
  allow_dir: %s
clusters:
  - {system_identifier: "%s", name: shop-eu}
auth:
  anonymous: none
  tokens:
%s
""" % (INGEST_PORT, HTTP_PORT, history.sockdir, history.port("primary"), d.sub("spool"),
            os.path.join(mon_etc, "aggregator.cert_secret"), allow, sysid, entries))
        self.check_config("pgvigil-aggregator", cfg)
        agg = Process(d, "aggregator", in_ns(net.mon) + [binary("pgvigil-aggregator"), "-c", cfg])
        self.addCleanup(agg.stop)

        def get(path, token=tokens["viewer"]):
            r = ip("curl", "-s", "-m", "5", "-w", "\n%{http_code}", "-H", "Authorization: Bearer " + token,
                   "http://127.0.0.1:%d%s" % (HTTP_PORT, path), ns=net.mon, check=False)
            body, _, code = r.stdout.rpartition("\n")
            return code, body

        wait_for(lambda: get("/readyz")[0] == "200", 30, what="/readyz 200 on the monitoring host")
        # A TCP handshake across the link from the database host takes a round trip: twice the delay.
        rtt = float(ip("/usr/bin/python3", "-c", RTT_PROBE, MON_ADDR, str(INGEST_PORT), ns=net.db).stdout)
        print("TCP connect from the database host to the ingest port: %.1f ms" % rtt)
        self.assertGreaterEqual(rtt, 2 * DELAY_S * 1000 - 1, "the link's delay in both directions")

        # The database host: one collector per instance, over the Unix socket.
        collectors = []
        for node in ("primary", "replica"):
            c = d.file(node + ".yaml", """\
node: db-%s
region: eu-west
dsn: "host=%s port=%d dbname=postgres user=pgvigil"
aggregators: [tcp://%s:%d]
interval: 500ms
curve:
  server_public_key: %s
  client_cert: %s
""" % (node, cluster.sockdir, cluster.port(node), MON_ADDR, INGEST_PORT, os.path.join(db_etc, "aggregator.cert"),
                os.path.join(db_etc, "db-%s.cert_secret" % node)))
            self.check_config("pgvigil-collector", c)
            p = Process(d, "collector-" + node, in_ns(net.db) + [binary("pgvigil-collector"), "-c", c])
            self.addCleanup(p.stop)
            collectors.append(p)

        def nodes():
            code, body = get("/api/v1/nodes")
            return {n["node"]: n for n in json.loads(body)["nodes"]} if code == "200" else {}

        def both_up():
            n = nodes()
            return n if all(n.get(k, {}).get("up") for k in ("db-primary", "db-replica")) else None

        try:
            wait_for(both_up, 60, what="samples from both collectors across the link")
        except TimeoutError:
            raise AssertionError("no samples:\n%s\n%s" % (agg.log_text()[-3000:], collectors[0].log_text()[-2000:]))
        self.assertNotIn("CURVE is not configured", agg.log_text())
        code, body = get("/api/v1/clusters")
        self.assertEqual([c["name"] for c in json.loads(body)["clusters"]], ["shop-eu"], body)

        # Clock offset: one clock, so the estimate is minus the one-way delay
        # (collection time and the sanitizer build add to it).
        time.sleep(5)  # a window of samples
        for name, n in both_up().items():
            offset = n["clock_offset_ms"]
            print("%s: clock offset estimate %.1f ms" % (name, offset))
            self.assertLessEqual(offset, -DELAY_S * 1000 + 0.5, name + ": the one-way delay is in the estimate")
            self.assertGreater(offset, -400, name + ": no more than the delay and a little collection time")

        # Lag under a write load: small, then rising while replay is paused.
        writer = Writer(lambda: cluster.write_load(rows=200), 0.3)
        self.addCleanup(writer.stop)
        lag = wait_for(lambda: (both_up() or {}).get("db-replica", {}).get("lag"), 20, what="the replica's lag")
        print("replica lag under load: %d bytes, %.2f s" % (lag["bytes"], lag["seconds"]))
        self.assertLess(lag["seconds"], 3)
        cluster.pause_replay("replica")
        try:
            lag = wait_for(lambda: (lambda g: g if g and g["seconds"] > 2 and g["bytes"] > 0 else None)(
                (both_up() or {}).get("db-replica", {}).get("lag")), 30, what="lag rising while replay is paused")
            print("replica lag with replay paused: %d bytes, %.2f s" % (lag["bytes"], lag["seconds"]))
        finally:
            cluster.resume_replay("replica")
        wait_for(lambda: (lambda g: g and g["seconds"] < 1.5)((both_up() or {}).get("db-replica", {}).get("lag")),
                 30, what="lag back down after replay resumed")
        writer.stop()
        for p in collectors:
            self.assertEqual(p.stop(), 0, p.log_text()[-2000:])
        self.assertEqual(agg.stop(), 0, agg.log_text()[-3000:])

    def check_config(self, program, path):
        """`PROGRAM check-config FILE` where the program has it (README: "Check it works")."""
        usage = subprocess.run([binary(program), "--help"], capture_output=True, text=True, timeout=10)
        if "check-config" not in usage.stdout + usage.stderr:
            return
        r = subprocess.run([binary(program), "check-config", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
