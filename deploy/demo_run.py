"""The body of deploy/demo.sh: a primary, a replica, one collector next to
each, and a sink that receives their samples, with a one-line summary per
node every few seconds. Uses the project's test harness, which stops every
server and removes the temporary directory on exit or on SIGINT/SIGTERM.

DEMO_SECONDS=N: run N seconds, exit 0 if both nodes delivered samples."""

import os
import sys
import time

from pgvigil_harness import PgCluster, Receiver, TestDir, collector_config, format_lsn, parse_lsn, start_collector


def start_sink(d):
    """The sink the collectors publish to: for now the test receiver."""
    recv = Receiver(d, name="sink")
    return recv, recv.endpoint, recv.samples


def summary(samples):
    latest = {}
    for s in samples:
        latest[s["node"]] = s
    primary_lsn = None
    for s in latest.values():
        if s.get("wal_lsn") or s.get("primary_replication", {}).get("current_wal_lsn"):
            primary_lsn = parse_lsn(s["primary_replication"]["current_wal_lsn"])
    lines = []
    for node, s in sorted(latest.items()):
        if not s.get("up"):
            lines.append("  %-12s DOWN  %s" % (node, s.get("error", "")))
            continue
        line = "  %-12s %-8s seq=%-5d" % (node, s.get("role"), s["sequence"])
        rep = s.get("replica_replication")
        if rep and primary_lsn is not None and "replay_lsn" in rep:
            line += " replay=%s behind_primary=%d bytes" % (
                rep["replay_lsn"], max(0, primary_lsn - parse_lsn(rep["replay_lsn"])))
        elif "primary_replication" in s:
            line += " wal=%s standbys=%d" % (s["primary_replication"]["current_wal_lsn"],
                                             len(s["primary_replication"].get("standbys", [])))
        lines.append(line)
    return "\n".join(lines)


def main():
    seconds = float(os.environ.get("DEMO_SECONDS", "0"))
    d = TestDir(prefix="pgvigil-demo-")
    print("demo: starting a PostgreSQL primary and a streaming replica in %s ..." % d.path, flush=True)
    cluster = PgCluster(d).start()
    sink, endpoint, samples = start_sink(d)
    collectors = []
    for node in ("primary", "replica"):
        cfg = collector_config(d, node + ".yaml", "demo-" + node, cluster.dsn(node), [endpoint],
                               region="local")
        collectors.append(start_collector(d, cfg, "collector-" + node))
    print("demo: running\n"
          "  primary   127.0.0.1:%d (psql -h 127.0.0.1 -p %d -U postgres)\n"
          "  replica   127.0.0.1:%d\n"
          "  sink      %s (samples: %s)\n"
          "  logs      %s\n"
          "demo: press Ctrl-C to stop" % (cluster.port("primary"), cluster.port("primary"),
                                          cluster.port("replica"), endpoint, sink.process.out_path, d.path),
          flush=True)
    started = time.monotonic()
    while not seconds or time.monotonic() - started < seconds:
        time.sleep(min(3, seconds) if seconds else 3)
        cluster.write_load(rows=200)
        print(time.strftime("%H:%M:%S") + "\n" + summary(samples()), flush=True)
        for c in collectors:
            if not c.running():
                print("demo: %s exited:\n%s" % (c.name, c.log_text()), file=sys.stderr)
                return 1
    nodes = {s["node"] for s in samples() if s.get("up")}
    ok = nodes >= {"demo-primary", "demo-replica"}
    print("demo: samples from %s; %s" % (sorted(nodes), "ok" if ok else "MISSING NODES"), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
