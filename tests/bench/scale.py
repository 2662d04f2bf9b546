"""Driver of tests/bench/scale.sh (see there).

One run per (fleet size, storage mode): a fresh aggregator, the load
generator at PER_NODE_RATE samples/s per node (clusters of a primary and
replicas with moving LSNs), a warm-up until every node is known, then a
measured window: aggregator CPU from /proc/PID/stat (utime + stime), RSS,
samples applied vs offered, coalesced/dropped counters from /metrics, and
sequential keep-alive requests timing the first page of the clusters, the
quick health verdict and /metrics. After the generator stops, how long the
core (and, with history, the store) takes to drain its backlog.

With --aggregators N (N > 1), each size also gets a run of N aggregators
coordinated through one real Redis (run_many): one generator sends
every sample to all N, as real collectors do, and each aggregator's CPU is
compared with the single aggregator's over a quiet window (no API requests),
which the single run then measures first.
"""

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time

from pgvigil_harness import PgCluster, Process, Redis, TestDir, binary, free_port, wait_for

CLK_TCK = os.sysconf("SC_CLK_TCK")
ENDPOINTS = (("clusters", "/api/v1/clusters?limit=100", 2),
             ("quick", "/api/v1/health?type=quick", 1),
             ("metrics", "/metrics", 10))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid, key="VmRSS:"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


class Api:
    """Sequential requests over one keep-alive connection (reopened on error)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path, headers=None, timeout=30):
        """(status, body bytes, elapsed ms, response headers)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers=headers or {})
                r = self.conn.getresponse()
                body = r.read()
                ms = (time.perf_counter() - t0) * 1000
                return r.status, body, ms, dict(r.getheaders())
            except (OSError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return None

    def metrics(self):
        _, body, _, _ = self.get("/metrics")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    out[key] = float(value)
                except ValueError:
                    pass
        return out

    def quick(self):
        _, body, _, _ = self.get("/api/v1/health?type=quick")
        return json.loads(body)

    def close(self):
        if self.conn:
            self.conn.close()


def counter(m, pattern, exclude=None):
    """Sum of the series whose name matches pattern (label sets included)."""
    rx = re.compile(pattern)
    return sum(v for k, v in m.items() if rx.search(k.split("{")[0]) and not (exclude and re.search(exclude, k)))


def backlog_counts(m):
    """(received, applied, coalesced, dropped) as the aggregator counts them."""
    return (m.get("pgvigil_ingest_accepted_total", 0), m.get("pgvigil_core_samples_applied_total", 0),
            counter(m, r"^pgvigil_.*coalesced.*_total$"), counter(m, r"^pgvigil_.*dropped.*_total$", "partitions"))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def start_aggregator(d, name, dsn, extra):
    ingest, port = "tcp://127.0.0.1:%d" % free_port(), free_port()
    text = "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\nlog_level: warning\n" % (ingest, port)
    if dsn:
        text += "storage:\n  dsn: \"%s\"\n  spool_dir: %s\n  memory_rows: 5000000\n" % (dsn, d.sub(name + "-spool"))
    text += extra
    agg = Process(d, name, [binary("pgvigil-aggregator"), "-c", d.file(name + ".yaml", text)])
    api = Api(port)
    wait_for(lambda: _up(api), 30, what="the aggregator's HTTP port")
    return agg, ingest, api


def _up(api):
    try:
        return api.get("/healthz", timeout=1)[0] == 200
    except OSError:
        return False


def sample_latencies(api, agg, seconds, rss_cap_mb):
    """Round-robin requests for `seconds`; each endpoint at its own stride."""
    lat = {name: [] for name, _, _ in ENDPOINTS}
    end, i, killed = time.monotonic() + seconds, 0, None
    while time.monotonic() < end and agg.running():
        for name, path, stride in ENDPOINTS:
            if i % stride == 0:
                lat[name].append(api.get(path)[2])
        i += 1
        if rss_mb(agg.proc.pid) > rss_cap_mb:
            killed = "RSS over %d MB" % rss_cap_mb
            break
        time.sleep(0.05)
    return lat, killed


def response_sizes(api):
    out = {}
    for name, path, _ in ENDPOINTS:
        plain = len(api.get(path)[1])
        _, body, _, headers = api.get(path, {"Accept-Encoding": "gzip"})
        gz = len(body) if headers.get("Content-Encoding", "") == "gzip" else None
        out[name] = (plain, gz)
    return out


def generator(ingests, nodes, args, seconds=None):
    """The load generator sending every sample to each endpoint in ingests."""
    rate = nodes * args.per_node_rate
    argv = [binary("pgvigil-ingest-load")]
    for ingest in ingests:
        argv += ["--endpoint", ingest]
    seconds = seconds or args.warmup + args.seconds + 1
    return subprocess.Popen(argv + ["--nodes", str(nodes), "--rate", "%g" % rate, "--seconds", str(seconds),
                                    "--replicas", str(args.replicas), "--lagging-every", "97"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def warm_up(api, gen, nodes, seconds):
    """Until every node is known (or the warm-up time is over)."""
    deadline = time.monotonic() + seconds
    known = 0
    while time.monotonic() < deadline and gen.poll() is None:
        try:
            known = api.quick().get("nodes", 0)
        except (OSError, ValueError):
            pass
        if known >= nodes and time.monotonic() > deadline - seconds + 3:
            break
        time.sleep(0.5)
    return known


def drain(api, agg, seconds, storage):
    """Seconds until the core has taken every accepted sample (and the store
    written every row), or None if it did not within `seconds`."""
    t0 = time.monotonic()

    def caught_up():
        m = api.metrics()
        received, applied, coalesced, dropped = backlog_counts(m)
        core = applied + coalesced + dropped >= received
        store = not storage or (m.get("pgvigil_store_rows_buffered", 0) == 0 and
                                m.get("pgvigil_store_rows_spooled", 0) == 0)
        return core and store
    try:
        wait_for(lambda: not agg.running() or caught_up(), seconds, interval=0.2, what="drain")
    except TimeoutError:
        return None
    return time.monotonic() - t0 if agg.running() else None


def quiet_cores(agg, seconds):
    """Cores over `seconds` without a request to the aggregator (None if it died)."""
    c0, t0 = cpu_seconds(agg.proc.pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(agg.proc.pid) - c0) / max(time.monotonic() - t0, 1e-9) if agg.running() else None


def run_one(d, nodes, storage, hist, args):
    name = "agg-%d-%s" % (nodes, "store" if storage else "nostore")
    dsn = None
    if storage:
        hist.psql("primary", "CREATE DATABASE pgvigil_%d" % nodes)
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil_%d" % (hist.port("primary"), nodes)
    agg, ingest, api = start_aggregator(d, name, dsn, args.extra_config)
    time.sleep(1)
    pid = agg.proc.pid
    rss0 = rss_mb(pid)
    baseline = args.aggregators > 1
    # with the baseline: its window, and a few seconds to see that no backlog is left
    gen = generator([ingest], nodes, args, args.warmup + (2 * args.seconds + 10 if baseline else args.seconds + 1))
    known = warm_up(api, gen, nodes, args.warmup)
    quiet = None
    if baseline:  # the multi-aggregator run's baseline, once no backlog is left either
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline and agg.running() and not steady([(agg, ingest, api)], nodes
                                                                            * args.per_node_rate):
            time.sleep(0.5)
        quiet = quiet_cores(agg, args.seconds)
    m0, c0, t0 = api.metrics(), cpu_seconds(pid), time.monotonic()
    lat, killed = sample_latencies(api, agg, args.seconds, args.rss_cap_mb)
    alive = agg.running()
    m1, c1, t1 = (api.metrics(), cpu_seconds(pid), time.monotonic()) if alive else (m0, c0, t0)
    rss1, hwm = (rss_mb(pid), rss_mb(pid, "VmHWM:")) if alive else (0, 0)
    if killed:
        agg.stop()
    out, _ = gen.communicate(timeout=args.warmup + args.seconds + 60)
    stats = dict(kv.split("=", 1) for line in out.splitlines() if line.startswith("stats ")
                 for kv in line.split()[1:])
    row = {"nodes": nodes, "storage": "on" if storage else "off", "known": known, "killed": killed,
           "generator": stats, "window_s": t1 - t0, "quiet_cores": quiet}
    if agg.running():
        row["drain_s"] = drain(api, agg, args.drain, storage)
        row["sizes"] = response_sizes(api)
        row["end"] = backlog_counts(api.metrics())
    else:
        row["exit"] = agg.returncode if not killed else "killed"
    w0, w1 = backlog_counts(m0), backlog_counts(m1)
    row.update({"cores": (c1 - c0) / max(t1 - t0, 1e-9), "rss_mb": rss1, "hwm_mb": hwm, "rss0_mb": rss0,
                "applied_per_s": (w1[1] - w0[1]) / max(t1 - t0, 1e-9),
                "received_per_s": (w1[0] - w0[0]) / max(t1 - t0, 1e-9),
                "offered_per_s": nodes * args.per_node_rate,
                "lat": {k: (percentile(v, 50), percentile(v, 99), len(v)) for k, v in lat.items()}})
    api.close()
    agg.stop(timeout=30)
    return row


# ---- several aggregators on one fleet (--aggregators N) ----

def fleet_owners(api, names, clusters):
    """{cluster id: owner} when this aggregator lists `clusters` clusters, each
    owned by one of names; else None."""
    try:
        status, body, _, _ = api.get("/api/v1/clusters?limit=100000", timeout=30)
        listed = json.loads(body).get("clusters", []) if status == 200 else []
    except (OSError, ValueError, http.client.HTTPException):
        return None
    owners = {c.get("id"): c.get("owner") for c in listed}
    if len(owners) != clusters or any(o not in names for o in owners.values()):
        return None
    return owners


def settled(apis, names, clusters):
    """The owners every aggregator agrees on, or None."""
    views = [fleet_owners(api, names, clusters) for api in apis]
    return views[0] if views[0] and all(v == views[0] for v in views) else None


def known_nodes(api):
    try:
        return api.quick().get("nodes", 0)
    except (OSError, ValueError, http.client.HTTPException):
        return 0


def held(aggs):
    """Clusters held under an epoch, summed over the aggregators."""
    try:
        return sum(api.metrics().get("pgvigil_cluster_owned_clusters", 0) for _, _, api in aggs)
    except (OSError, http.client.HTTPException):
        return -1


def steady(aggs, offered, probe_s=2.0):
    """Whether no aggregator receives more than 10% over the offered rate
    (i.e. none is still catching up on a backlog)."""
    try:
        r0, t0 = [api.metrics().get("pgvigil_ingest_accepted_total", 0) for _, _, api in aggs], time.monotonic()
        time.sleep(probe_s)
        r1, t1 = [api.metrics().get("pgvigil_ingest_accepted_total", 0) for _, _, api in aggs], time.monotonic()
    except (OSError, http.client.HTTPException):
        return False
    return all((b - a) / (t1 - t0) <= 1.1 * offered for a, b in zip(r0, r1))


def settle(aggs, gen, names, nodes, clusters, offered, seconds, hold_wait=20):
    """Until every aggregator knows every node, all agree on an owner for
    every cluster (in /api/v1/clusters) and none is catching up on a backlog,
    and then until every cluster is held under an epoch by its owner
    (pgvigil_cluster_owned_clusters adds up) or hold_wait seconds more have
    passed: (owners or None, nodes known by each, seconds taken)."""
    t0 = time.monotonic()
    owners, known, agreed_at = None, [], None
    while time.monotonic() < t0 + seconds and gen.poll() is None and all(a.running() for a, _, _ in aggs):
        known = [known_nodes(api) for _, _, api in aggs]
        owners = settled([api for _, _, api in aggs], names, clusters) if min(known) >= nodes else None
        if owners and steady(aggs, offered):
            agreed_at = agreed_at or time.monotonic()
            if held(aggs) == clusters or time.monotonic() > agreed_at + hold_wait:
                break
        owners = None
        time.sleep(1)
    return owners, known, time.monotonic() - t0


def measure_many(aggs, seconds, rss_cap_mb):
    """Every aggregator's cores, RSS and counters over one window."""
    pids = [a.proc.pid for a, _, _ in aggs]
    m0 = [api.metrics() for _, _, api in aggs]
    c0, t0 = [cpu_seconds(p) for p in pids], time.monotonic()
    killed = None
    while time.monotonic() < t0 + seconds and all(a.running() for a, _, _ in aggs) and not killed:
        if any(rss_mb(p) > rss_cap_mb for p in pids):
            killed = "RSS over %d MB" % rss_cap_mb
        time.sleep(0.5)
    if not all(a.running() for a, _, _ in aggs):
        return None, "an aggregator exited during the window"
    c1, t1 = [cpu_seconds(p) for p in pids], time.monotonic()
    m1 = [api.metrics() for _, _, api in aggs]
    window = max(t1 - t0, 1e-9)
    per = []
    for i, pid in enumerate(pids):
        w0, w1 = backlog_counts(m0[i]), backlog_counts(m1[i])
        per.append({"cores": (c1[i] - c0[i]) / window, "rss_mb": rss_mb(pid), "hwm_mb": rss_mb(pid, "VmHWM:"),
                    "applied_per_s": (w1[1] - w0[1]) / window, "received_per_s": (w1[0] - w0[0]) / window,
                    "owned": m1[i].get("pgvigil_cluster_owned_clusters", 0),
                    "members": m1[i].get("pgvigil_cluster_members", 0)})
    return {"window_s": window, "per": per}, killed


def run_many(d, nodes, storage, hist, redis, args, alone):
    """args.aggregators aggregators coordinated through redis, every sample
    sent to each; their cores over one window, beside the single run's."""
    from pgvigil_cluster import cluster_section
    k, tag = args.aggregators, "%d-%s" % (nodes, "store" if storage else "nostore")
    names = ["agg-%d" % i for i in range(k)]
    clusters = (nodes - 1) // (args.replicas + 1) + 1
    row = {"nodes": nodes, "storage": "on" if storage else "off", "aggregators": k, "clusters": clusters,
           "offered_per_s": nodes * args.per_node_rate, "alone_quiet_cores": alone.get("quiet_cores"),
           "alone_cores": alone["cores"], "names": names, "failed": None}
    dsn = None
    if storage:
        hist.psql("primary", "CREATE DATABASE pgvigil_%d_x%d" % (nodes, k))
        dsn = "host=127.0.0.1 port=%d user=postgres dbname=pgvigil_%d_x%d" % (hist.port("primary"), nodes, k)
    redis.command("FLUSHALL")  # nothing left from the previous size's run
    extra = args.extra_config + ("\n" if args.extra_config and not args.extra_config.endswith("\n") else "")
    aggs, gen = [], None
    print("scale: %d aggregators, %d nodes: starting" % (k, nodes), file=sys.stderr, flush=True)
    try:
        for name in names:
            aggs.append(start_aggregator(d, "multi-%s-%s" % (tag, name), dsn, extra + cluster_section(
                name, redis=redis, lease_ttl=args.lease_ttl, publish_interval=args.publish_interval)))
        time.sleep(1)
        gen = generator([ingest for _, ingest, _ in aggs], nodes, args,
                        args.warmup + args.settle + args.seconds + 30)  # stopped after the window
        owners, row["known"], row["settle_s"] = settle(aggs, gen, names, nodes, clusters, row["offered_per_s"],
                                                       args.warmup + args.settle)
        if not owners:
            row["failed"] = "not settled after %.0f s (nodes known %s)" % (row["settle_s"], row["known"])
        row["held_at_start"] = held(aggs)
        if all(a.running() for a, _, _ in aggs):
            measured, killed = measure_many(aggs, args.seconds, args.rss_cap_mb)
            row.update(measured or {})
            row["failed"] = row["failed"] or killed or (None if measured else "an aggregator exited")
            after = settled([api for _, _, api in aggs], names, clusters) if measured and owners else None
            row["owners_changed"] = (sum(1 for c, o in owners.items() if after.get(c) != o)
                                     if owners and after else None)
        else:
            row["failed"] = row["failed"] or "an aggregator exited before the window"
        gen.send_signal(signal.SIGINT)  # the window is over: stop the load now
        out, _ = gen.communicate(timeout=90)
        row["generator"] = dict(kv.split("=", 1) for line in out.splitlines() if line.startswith("stats ")
                                for kv in line.split()[1:])
    finally:
        if gen and gen.poll() is None:
            gen.kill()
            gen.wait()
        for agg, _, api in aggs:
            api.close()
            agg.stop(timeout=30)
    return row


def print_many(r):
    alone = r["alone_quiet_cores"]
    print("\n%d aggregators on one Redis, %d nodes (%d clusters), history %s; one generator sends every sample"
          " to each (offered %.0f/s to each)" % (r["aggregators"], r["nodes"], r["clusters"], r["storage"],
                                                r["offered_per_s"]))
    print("one aggregator alone: %s cores (window without API requests), %.2f cores (window with them)"
          % ("?" if alone is None else "%.2f" % alone, r["alone_cores"]))
    g = r.get("generator", {})
    print("settled (every node known, owners agreed, no backlog) after %.1f s, nodes known %s;"
          " window %.1f s; owners changed during it: %s;"
          " generator sent %s / unsent %s / messages %s" % (
              r.get("settle_s", float("nan")), r.get("known"), r.get("window_s", float("nan")),
              r.get("owners_changed", "?"), g.get("sent", "?"), g.get("unsent", "?"), g.get("messages", "?")))
    held_n = int(r.get("held_at_start", -1))
    print("clusters held under an epoch when the window began: %d of %d%s" % (
        held_n, r["clusters"], " (the others had an owner named in /api/v1/clusters but no epoch yet)"
        if 0 <= held_n < r["clusters"] else ""))
    if r["failed"]:
        print("run failed: %s" % r["failed"])
    per = r.get("per", [])
    if per:
        print("| aggregator | cores | % of one alone | RSS MB (HWM) | applied/s | received/s | kept up "
              "| clusters owned (share) | members |\n|" + "---|" * 9)
    # kept up: applied at least 95% of what was offered ("behind": its cores are capped by the machine),
    # and received at most 10% more ("catching up": its cores include work on a backlog)
    kept = ["no (behind)" if a["applied_per_s"] < 0.95 * r["offered_per_s"] else
            "no (catching up)" if a["received_per_s"] > 1.1 * r["offered_per_s"] else "yes" for a in per]
    for name, a, k in zip(r["names"], per, kept):
        pct = 100.0 * a["cores"] / alone if alone else float("nan")
        print("| %s | %.2f | %.0f%% | %.0f (%.0f) | %.0f | %.0f | %s | %d (%.0f%%) | %d |" % (
            name, a["cores"], pct, a["rss_mb"], a["hwm_mb"], a["applied_per_s"], a["received_per_s"],
            k, a["owned"], 100.0 * a["owned"] / r["clusters"], a["members"]))
    if per and alone:
        total = sum(a["cores"] for a in per)
        print("all %d together: %.2f cores (%.0f%% of one alone)" % (len(per), total, 100.0 * total / alone))
    ok = bool(per) and bool(alone) and not r["failed"] and all(a["cores"] <= 0.45 * alone for a in per)
    print("each \u2264 45%% of one alone: %s%s" % ("yes" if ok else "no", "" if set(kept) == {"yes"} else
          " (not every aggregator kept up, see the kept up column: the figures are not a clean steady state)"),
          flush=True)


def fmt_size(n):
    if n is None:
        return "-"
    return "%.1f MB" % (n / 1e6) if n >= 1e5 else "%.1f kB" % (n / 1e3)


def print_row(r):
    lat, sizes = r["lat"], r.get("sizes", {})

    def ep(name):
        p50, p99, count = lat[name]
        plain, gz = sizes.get(name, (None, None))
        size = fmt_size(plain) + ("/gz " + fmt_size(gz) if gz else "")
        return "%.2f / %.2f (%s, n=%d)" % (p50, p99, size, count)
    end = r.get("end")
    g = r["generator"]
    # kept up: every accepted sample applied (none coalesced or dropped), none left unsent
    kept = (end and end[1] >= end[0] and r.get("drain_s") is not None and g.get("unsent") == "0")
    per_node_kb = (r["rss_mb"] - r["rss0_mb"]) * 1024 / r["nodes"] if r["rss_mb"] else float("nan")
    print("| %d | %s | %.2f | %.0f (HWM %.0f) | %.1f | %.0f / %.0f | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        r["nodes"], r["storage"], r["cores"], r["rss_mb"], r["hwm_mb"], per_node_kb,
        r["applied_per_s"], r["offered_per_s"],
        "%s / %s" % (g.get("sent", "?"), g.get("unsent", "?")),
        "%d / %d / %d / %d" % tuple(end) if end else r.get("exit", "?"),
        ep("clusters"), ep("quick"), ep("metrics"),
        "-" if r.get("drain_s") is None else "%.1f s" % r["drain_s"],
        "yes" if kept and not r["killed"] else "no" + (" (%s)" % r["killed"] if r["killed"] else ""),
        "%s/%s" % (r["known"], r["nodes"])), flush=True)


HEADER = ("| nodes | history | aggregator cores | RSS MB | RSS/node kB | applied/s / offered/s (window) "
          "| generator sent / unsent | received / applied / coalesced / dropped (end) "
          "| clusters?limit=100 p50 / p99 ms (size) | quick health p50 / p99 ms | /metrics p50 / p99 ms (size) "
          "| backlog drained | kept up | nodes known |\n|" + "---|" * 14)


def main():
    p = argparse.ArgumentParser(description="aggregator scale curve (see tests/bench/scale.sh)")
    p.add_argument("--sizes", default="1000,5000,20000,50000", help="comma-separated fleet sizes")
    p.add_argument("--storage", choices=("off", "on", "both"), default="both")
    p.add_argument("--seconds", type=int, default=30, help="measured window per run")
    p.add_argument("--warmup", type=int, default=10, help="at most this long until every node is known")
    p.add_argument("--drain", type=int, default=60, help="wait at most this long for the backlog after a run")
    p.add_argument("--per-node-rate", type=float, default=1.0, help="samples/s per node")
    p.add_argument("--replicas", type=int, default=2, help="replicas per cluster")
    p.add_argument("--rss-cap-mb", type=int, default=6000, help="stop a run whose aggregator grows past this")
    p.add_argument("--extra-config", default="", help="YAML appended to the aggregator's configuration")
    p.add_argument("--aggregators", type=int, default=1,
                   help="after each size's run, a run of this many aggregators coordinated through Redis")
    p.add_argument("--lease-ttl", default="5000ms", help="cluster.lease_ttl of the multi-aggregator run")
    p.add_argument("--publish-interval", default="1000ms", help="cluster.publish_interval of that run")
    p.add_argument("--settle", type=int, default=60,
                   help="after the warm-up, wait at most this long for cluster ownership to settle")
    p.add_argument("--json", help="also write the rows to this file")
    args = p.parse_args()
    if not 1 <= args.aggregators <= 16:
        p.error("--aggregators is from 1 to 16")
    sizes = [int(s) for s in args.sizes.split(",") if s]
    modes = {"off": [False], "on": [True], "both": [False, True]}[args.storage]
    d = TestDir(prefix="pgvigil-scale-")
    hist = redis = None
    if True in modes:
        hist = PgCluster(d, replicas=0, pg_stat_statements=False).start()
    if args.aggregators > 1:
        redis = Redis(d)
    print("scale: sizes %s, history %s, %g sample/s per node, %d s window, %d cores, load average %s"
          % (sizes, args.storage, args.per_node_rate, args.seconds, os.cpu_count(),
             " ".join("%.2f" % x for x in os.getloadavg())), flush=True)
    print(HEADER, flush=True)
    rows, multi = [], []
    try:
        for storage in modes:
            for n in sizes:
                r = run_one(d, n, storage, hist, args)
                rows.append(r)
                print_row(r)
                if redis:
                    multi.append(run_many(d, n, storage, hist, redis, args, r))
    finally:
        if redis:
            redis.stop()
    for m in multi:
        print_many(m)
    print("load average at the end: %s" % " ".join("%.2f" % x for x in os.getloadavg()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"single": rows, "multi": multi} if multi else rows, f, indent=1)
    if hist:
        hist.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
