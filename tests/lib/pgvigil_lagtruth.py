"""pgvigil_lagtruth — direct replication-lag truth for tests and benchmarks.

  Session(port)        a persistent psql session (as postgres, over TCP);
                       query(sql) -> rows as lists of strings
  WalHistory(port)     a thread reading the primary's pg_current_wal_lsn()
                       every 0.1 s; first_beyond(lsn) -> when the primary's
                       WAL first went beyond lsn (this host's clock)
  truth(primary, replica, history) -> (time, bytes, seconds) read now
  truth_read(...)      the same as a dict, with skew_ms (the two reads'
                       distance in time: they are made concurrently)
  faketime_env(shift)  environment that runs a program with its clock
                       shifted by libfaketime (Debian faketime), e.g. "+7"

Truth bytes = primary LSN - replica replay LSN, read concurrently; truth
seconds = now - the moment the primary first wrote beyond the replay LSN
(0 when it has not). Standard library only.
"""

import os
import subprocess
import threading
import time

from pgvigil_harness import parse_lsn

FAKETIME_LIB = os.environ.get("PGVIGIL_FAKETIME_LIB", "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


def faketime_env(shift):
    """LD_PRELOAD libfaketime (the thread-safe one: daemons run threads) with
    the wall clock shifted by shift seconds ("+7", "-7"); monotonic clocks
    stay true. Under AddressSanitizer the preload comes before its runtime,
    which it then has to accept."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": shift, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": (asan + ":" if asan else "") + "verify_asan_link_order=0"}


class Session:
    """A persistent psql session (as postgres, over TCP): one query at a time."""

    def __init__(self, port):
        argv = ["psql", "-X", "-q", "-A", "-t", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d", "postgres"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.lock = threading.Lock()

    def query(self, sql):
        self.send(sql)
        return self.receive()

    def send(self, sql):
        """The first half of query(): the session stays taken until receive()."""
        self.lock.acquire()
        try:
            self.proc.stdin.write(sql.rstrip(";") + ";\n\\echo __end__\n")
            self.proc.stdin.flush()
        except BaseException:
            self.lock.release()
            raise

    def receive(self):
        try:
            rows = []
            while True:
                line = self.proc.stdout.readline()
                if not line:
                    raise RuntimeError("psql session ended")
                line = line.rstrip("\n")
                if line == "__end__":
                    return rows
                rows.append(line.split("|"))
        finally:
            self.lock.release()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


class WalHistory(threading.Thread):
    """The primary's WAL position every 0.1 s: (wall time, lsn)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.session = Session(port)
        self.points, self.stop_flag = [], threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                lsn = parse_lsn(self.session.query("SELECT pg_current_wal_lsn()")[0][0])
            except Exception:
                break
            with self.lock:
                self.points.append((time.time(), lsn))
            self.stop_flag.wait(0.1)

    def first_beyond(self, lsn):
        """When the primary's WAL first went beyond lsn: the middle of the
        0.1 s poll gap in which it did; None if it has not."""
        with self.lock:
            pts = list(self.points)
        prev = None
        for i in range(len(pts) - 1, -1, -1):
            if pts[i][1] <= lsn:
                prev = i
                break
        if prev is None or prev == len(pts) - 1:
            return pts[0][0] if prev is None and pts else None
        return (pts[prev][0] + pts[prev + 1][0]) / 2

    def stop(self):
        self.stop_flag.set()
        self.join(5)
        self.session.close()


def truth(primary, replica, history):
    """(time, bytes, seconds) of the replica's replay lag, read now."""
    r = truth_read(primary, replica, history)
    return r["t"], r["bytes"], r["seconds"]


def truth_read(primary, replica, history, sequential=False):
    """The replica's replay lag read now, as a dict: t, bytes, seconds, and
    skew_ms, how far apart the two servers read their positions. Both
    queries are sent before either answer is read, so the servers read at
    nearly the same instant (each reports when it did, clock_timestamp() on
    this host's clock); t is the primary's instant. sequential: one after
    the other (to measure what reading them back to back costs)."""
    at = "extract(epoch FROM clock_timestamp())"
    replica.send("SELECT pg_last_wal_replay_lsn(), %s" % at)
    if sequential:
        (replay, t_replica), = replica.receive()
    try:
        primary.send("SELECT pg_current_wal_lsn(), %s" % at)
    finally:
        if not sequential:
            (replay, t_replica), = replica.receive()
    (wal, t), = primary.receive()
    replay, wal, t, t_replica = parse_lsn(replay), parse_lsn(wal), float(t), float(t_replica)
    behind = max(0, wal - replay)
    beyond = history.first_beyond(replay) if behind > 0 else None
    return {"t": t, "bytes": behind, "seconds": max(0.0, t - beyond) if beyond is not None else 0.0,
            "skew_ms": (t - t_replica) * 1000}
