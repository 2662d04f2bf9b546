"""Driver of tests/bench/ingest.sh (see there)."""

import json
import random
import os
import re
import subprocess
import time
import urllib.request

import zmq

from make_seeds import field
from pgvigil_base import metrics
from pgvigil_harness import PgCluster, Process, TestDir, binary, free_port, wait_for

SECONDS_PER_RUN = int(os.environ.get("SECONDS_PER_RUN", "20"))
NODES = int(os.environ.get("NODES", "200"))
CLK_TCK = os.sysconf("SC_CLK_TCK")




def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def start_aggregator(d, name, storage_dsn=None):
    ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
    text = "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nlog_level: warning\n" % (ingest, http)
    if storage_dsn:
        text += "storage:\n  dsn: \"%s\"\n  spool_dir: %s\n  memory_rows: 5000000\n" % (storage_dsn, d.sub(name))
    cfg = d.file(name + ".yaml", text)
    agg = Process(d, name, [binary("pgvigil-aggregator"), "-c", cfg])
    base = "http://127.0.0.1:%d" % http
    wait_for(lambda: _ok(base + "/healthz"), 20, what="aggregator")
    return agg, ingest, base


def _ok(url):
    try:
        urllib.request.urlopen(url, timeout=1)
        return True
    except OSError:
        return False


def acked_summary(out):
    """The per-node lines of pgvigil-ingest-load --acked, summed."""
    rows = [tuple(int(x) for x in m.groups())
            for m in re.finditer(r"node \S+ sent (\d+) unacked (\d+) dropped (\d+)", out)]
    return "%d nodes sent %d samples, %d left unacknowledged, %d dropped" % (
        len(rows), sum(r[0] for r in rows), sum(r[1] for r in rows), sum(r[2] for r in rows))


def load_run(d, agg, ingest, base, rate=0, acked=False):
    """With history the generator delivers like collectors (--acked): it
    keeps every sample until acknowledged and sends refused ones again, so
    the figure is what is stored, not what was offered."""
    m0, c0, t0 = metrics(base), cpu_seconds(agg.proc.pid), time.monotonic()
    cmd = [binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
           "--rate", str(rate or (200000 if acked else 0)), "--seconds", str(SECONDS_PER_RUN)]
    out = subprocess.run(cmd + (["--acked"] if acked else []),
                         stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
    if acked:
        out = acked_summary(out)
    # sustained: everything the generator sent has been applied by the core,
    # or (storage off, the core behind) coalesced or dropped by ingest
    def settled(m):
        done = sum(m.get(k, 0) for k in ("pgvigil_core_samples_applied_total", "pgvigil_ingest_coalesced_total",
                                          "pgvigil_ingest_dropped_total"))
        return done >= m["pgvigil_ingest_accepted_total"] >= m0["pgvigil_ingest_accepted_total"] + 1
    wait_for(lambda: settled(metrics(base)), 600, interval=0.05, what="the core to apply every sample")
    m1, c1, t1 = metrics(base), cpu_seconds(agg.proc.pid), time.monotonic()
    applied = m1["pgvigil_core_samples_applied_total"] - m0["pgvigil_core_samples_applied_total"]
    coalesced = m1.get("pgvigil_ingest_coalesced_total", 0) - m0.get("pgvigil_ingest_coalesced_total", 0)
    result = {"generator": out, "accepted_per_s": applied / (t1 - t0), "coalesced_per_s": coalesced / (t1 - t0),
              "cpu_cores": (c1 - c0) / (t1 - t0), "peak_rss_mb": peak_rss_mb(agg.proc.pid)}
    if "pgvigil_store_rows_written_total" in m1:
        # let the store drain, then rows written per second of the whole run
        wait_for(lambda: metrics(base)["pgvigil_store_rows_buffered"] == 0 and
                 metrics(base)["pgvigil_store_rows_spooled"] == 0, 600, what="store drain")
        m2, t2 = metrics(base), time.monotonic()
        written = m2["pgvigil_store_rows_written_total"] - m0["pgvigil_store_rows_written_total"]
        result["rows_written_per_s"] = written / (t2 - t0)
        result["drain_s"] = t2 - t1
    return result


def probe_latency(ingest, base, n=100):
    """Send samples of one node and time until the API shows each. Probes
    are spaced at random (like collectors, unlike a tight loop that would
    fall into step with the snapshot period)."""
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.connect(ingest)
    env = b"PV\x01\x01" + bytes([5]) + b"probe"
    delays = []
    started = int(time.time() * 1e6)
    for seq in range(1, n + 1):
        body = (field(1, 0, 1) + field(2, 2, b"probe") + field(3, 2, b"eu") + field(4, 0, 42) + field(5, 0, 1)
                + field(7, 0, 1) + field(9, 0, seq) + field(10, 0, int(time.time() * 1e6)) + field(11, 0, 1)
                + field(13, 0, started) + field(14, 0, 1000))
        t0 = time.perf_counter()
        s.send_multipart([env, body])
        while True:
            try:
                with urllib.request.urlopen(base + "/api/v1/nodes/probe", timeout=5) as r:
                    if json.loads(r.read())["node"]["sample"]["sequence"] == seq:
                        break
            except OSError:
                pass
        delays.append((time.perf_counter() - t0) * 1000)
        time.sleep(random.uniform(0.15, 0.35))
    s.close(0)
    delays.sort()
    return delays[len(delays) // 2], delays[int(len(delays) * 0.99) - 1]


def wrk_quick(base, threads):
    out = subprocess.run(["wrk", "-t%d" % threads, "-c16", "-d10s", "--latency", base + "/api/v1/health?type=quick"],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}
    return float(p99.group(1)) * scale[p99.group(2)], float(rps.group(1))


def main():
    d = TestDir(prefix="pgvigil-bench-")
    print("ingest benchmark: %d simulated collectors, %d s per run, %d cores" % (NODES, SECONDS_PER_RUN, os.cpu_count()))
    agg, ingest, base = start_aggregator(d, "agg-nostore")
    r = load_run(d, agg, ingest, base)
    print("storage disabled : %s; sustained %.0f samples/s applied (%.0f/s more coalesced); aggregator %.2f cores;"
          " peak RSS %.1f MB" % (r["generator"], r["accepted_per_s"], r["coalesced_per_s"], r["cpu_cores"],
                                 r["peak_rss_mb"]))
    bg = subprocess.Popen([binary("pgvigil-ingest-load"), "--endpoint", ingest, "--nodes", str(NODES),
                           "--rate", "2000", "--seconds", "60"], stdout=subprocess.DEVNULL)
    p50, p99 = probe_latency(ingest, base)
    print("send -> visible in API (2,000 samples/s background): p50 %.2f ms, p99 %.2f ms" % (p50, p99))
    for threads in (1, 2):
        wp99, rps = wrk_quick(base, threads)
        print("wrk -t%d -c16 /api/v1/health?type=quick (2,000 samples/s background): p99 %.3f ms, %.0f requests/s"
              % (threads, wp99, rps))
    bg.terminate()
    bg.wait()
    agg.stop()

    hist = PgCluster(d, replicas=0, pg_stat_statements=False).start()
    hist.psql("primary", "CREATE DATABASE pgvigil")
    dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil" % hist.port("primary")
    agg, ingest, base = start_aggregator(d, "agg-store", dsn)
    r = load_run(d, agg, ingest, base, acked=True)
    print("history persisted: %s; sustained %.0f samples/s; %.0f rows/s written (drained %.1f s after the run);"
          " aggregator %.2f cores; peak RSS %.1f MB"
          % (r["generator"], r["accepted_per_s"], r["rows_written_per_s"], r["drain_s"], r["cpu_cores"],
             r["peak_rss_mb"]))
    r = load_run(d, agg, ingest, base, rate=20000, acked=True)
    print("history persisted at 20,000 samples/s offered: accepted %.0f/s, %.0f rows/s written,"
          " backlog drained %.1f s after the run" % (r["accepted_per_s"], r["rows_written_per_s"], r["drain_s"]))
    agg.stop()
    print("targets: 20,000 samples/s with history; 200,000 samples/s without; quick health p99 < 1 ms")


if __name__ == "__main__":
    main()
