"""pgvigil_harness — real parts for pgvigil's integration tests.

Everything here starts real servers on loopback ports chosen free at run
time, inside a temporary directory the test owns:

  PgCluster   a PostgreSQL primary and streaming replicas (physical slots,
              pg_basebackup -R), started as the postgres user
  Process     a daemon with its output in log files; SIGTERM, then SIGKILL
  Receiver    pgvigil-test-receiver, the stand-in aggregator, as JSON lines
  Redis       a throwaway redis-server (optionally a replica)
  Sentinel    a real Redis Sentinel watching one
  Writer      a thread running a write on the primary every interval
  HttpSink    an HTTP server recording every request (notification sinks)
  SmtpSink    a minimal SMTP server recording every message
              (both in pgvigil_sinks, re-exported here)

Whatever a test starts is registered and stopped on any exit: normal end,
exception, SIGTERM or SIGINT (atexit plus signal handlers), so a failed test
leaves no postgres behind; should the test process be killed outright
(SIGKILL, a ctest timeout), a detached reaper does the same (both in
pgvigil_base). Standard library only; run with /usr/bin/python3.
"""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from pgvigil_base import _register, cleanup_all, free_port, reaper_note, wait_for  # noqa: F401 (re-exported)
from pgvigil_sinks import HttpSink, SmtpSink  # noqa: F401 (re-exported)

PG_BIN = os.environ.get("PGVIGIL_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
BUILD_DIR = os.environ.get("PGVIGIL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("PGVIGIL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))

def binary(name):
    """Path of a program built by this project (collector, aggregator, test helpers)."""
    for sub in ("collector", "aggregator", "tests/lib", "tests/bench"):
        p = os.path.join(BUILD_DIR, sub, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError("%s not found under %s" % (name, BUILD_DIR))


class TestDir:
    """A temporary directory owned by the test (and readable by postgres), removed at the end."""

    def __init__(self, prefix="pgvigil-test-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)
        reaper_note("dir", self.path)
        _register(self.remove)

    def sub(self, name, postgres_owned=False):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        if postgres_owned and os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(p, pw.pw_uid, pw.pw_gid)
        return p

    def file(self, name, text):
        p = os.path.join(self.path, name)
        with open(p, "w") as f:
            f.write(text)
        return p

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def _as_postgres(argv):
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--"] + argv
    return argv


def _run(argv, timeout=120, check=True, env=None):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
    return r


class PgNode:
    """One PostgreSQL server of a PgCluster."""

    def __init__(self, name, datadir, port, sockdir):
        self.name, self.datadir, self.port, self.sockdir = name, datadir, port, sockdir
        self.logfile = datadir + ".log"

    def pg_ctl(self, *args, timeout=120, check=True):
        return _run(_as_postgres([os.path.join(PG_BIN, "pg_ctl"), "-D", self.datadir] + list(args)),
                    timeout=timeout, check=check)

    def start(self):
        self.pg_ctl("-l", self.logfile, "-w", "-t", "60", "start")

    def stop(self, mode="fast"):
        self.pg_ctl("-m", mode, "-w", "-t", "60", "stop", check=False)

    def running(self):
        return self.pg_ctl("status", check=False).returncode == 0


class PgCluster:
    """A primary and streaming replicas on free loopback ports.

    cluster = PgCluster(testdir).start()        primary + "replica"
    PgCluster(testdir, replicas=0)              primary only
    PgCluster(testdir, replicas=2)              "replica" and "replica2"
    PgCluster(testdir, pg_stat_statements=False, settings={"max_connections": "20"})
    PgCluster(testdir, name="history")          a second cluster in the same TestDir

    Nodes are named "primary", "replica", "replica2", ...; each replica has a
    physical slot of its own name and application_name = its name.
    psql(node, sql) -> rows as lists of strings (as postgres, over TCP);
    scalar(node, sql); dsn(node) for the monitoring role pgvigil (pg_monitor);
    stop(node, mode), start(node), promote(node), pause_replay(node),
    resume_replay(node), wal_lsn(), replay_lsn(node), receive_lsn(node) (ints;
    format_lsn() for text), write_load(rows), add_replica(name), stop_all().
    """

    def __init__(self, testdir, replicas=1, pg_stat_statements=True, settings=None, name="pg"):
        self.dir = testdir
        self.name = name
        self.replica_count = replicas
        self.pgss = pg_stat_statements
        self.settings = dict(settings or {})
        self.nodes = {}
        self.sockdir = testdir.sub(name + "-sockets", postgres_owned=True)
        _register(self.stop_all)

    # ---- life cycle ----
    def start(self, node=None):
        """Without node: build and start the whole cluster (once). With node:
        start that (stopped) server again."""
        if node is not None:
            self.start_node(node)
            return self
        self._init_primary()
        for i in range(1, self.replica_count + 1):
            self.add_replica("replica" + ("" if i == 1 else str(i)))
        return self

    def _conf(self, port):
        lines = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": "'%s'" % self.sockdir,
            "wal_level": "replica",
            "max_wal_senders": "10",
            "max_replication_slots": "10",
            "hot_standby": "on",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "50",
            "wal_receiver_status_interval": "1s",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        if self.pgss:
            lines["shared_preload_libraries"] = "'pg_stat_statements'"
            lines["pg_stat_statements.track"] = "all"
        lines.update(self.settings)
        return "".join("%s = %s\n" % kv for kv in lines.items())

    def _init_primary(self):
        datadir = os.path.join(self.dir.sub(self.name, postgres_owned=True), "primary")
        node = PgNode("primary", datadir, free_port(), self.sockdir)
        _run(_as_postgres([os.path.join(PG_BIN, "initdb"), "-D", datadir, "-A", "trust", "-U", "postgres",
                           "--no-sync"]), timeout=180)
        with open(os.path.join(datadir, "postgresql.auto.conf"), "a") as f:
            f.write(self._conf(node.port))
        with open(os.path.join(datadir, "pg_hba.conf"), "w") as f:
            f.write("local all all trust\nlocal replication all trust\n"
                    "host all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n")
        # Registered before it starts, so a signal during the start still stops it.
        self.nodes["primary"] = node
        reaper_note("pg", datadir)
        node.start()
        setup = ["CREATE ROLE pgvigil LOGIN IN ROLE pg_monitor"]
        if self.pgss:
            setup.append("CREATE EXTENSION pg_stat_statements")
        for sql in setup:
            self.psql("primary", sql)

    def add_replica(self, name, named=True):
        """named=False keeps the primary_conninfo pg_basebackup -R wrote, so
        the standby calls itself "walreceiver" as such replicas do."""
        primary = self.nodes["primary"]
        slot = name.replace("-", "_")
        self.psql("primary", "SELECT pg_create_physical_replication_slot('%s')" % slot)
        datadir = os.path.join(self.dir.path, self.name, name)
        node = PgNode(name, datadir, free_port(), self.sockdir)
        _run(_as_postgres([os.path.join(PG_BIN, "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port),
                           "-U", "postgres", "-D", datadir, "-R", "-S", slot, "-X", "stream",
                           "--no-sync", "-c", "fast"]), timeout=180)
        with open(os.path.join(datadir, "postgresql.auto.conf"), "a") as f:
            f.write("port = %d\n" % node.port)
            # Name the standby after the node so the primary's view matches it.
            if named:
                f.write("primary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=%s'\n"
                        % (primary.port, name))
        self.nodes[name] = node
        reaper_note("pg", datadir)
        node.start()
        wait_for(lambda: self.psql(name, "SELECT status FROM pg_stat_wal_receiver") == [["streaming"]],
                 60, what="%s to stream" % name)
        return node

    def stop_all(self):
        for node in list(self.nodes.values()):
            if node.running():
                node.stop("immediate")

    # ---- access ----
    def port(self, node):
        return self.nodes[node].port

    def dsn(self, node, user="pgvigil", dbname="postgres"):
        return "host=127.0.0.1 port=%d user=%s dbname=%s" % (self.port(node), user, dbname)

    def psql(self, node, sql, dbname="postgres", timeout=60):
        """Run sql as postgres on node; return rows as lists of strings."""
        r = _run(["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                  "-h", "127.0.0.1", "-p", str(self.port(node)), "-U", "postgres", "-d", dbname,
                  "-c", sql], timeout=timeout)
        return [line.split("\t") for line in r.stdout.splitlines() if line != ""]

    def scalar(self, node, sql, **kw):
        rows = self.psql(node, sql, **kw)
        return rows[0][0] if rows else None

    # ---- operations ----
    def stop(self, node="primary", mode="fast"):
        self.nodes[node].stop(mode)

    def start_node(self, node="primary"):
        self.nodes[node].start()

    def promote(self, node="replica"):
        self.psql(node, "SELECT pg_promote(true, 30)")

    def pause_replay(self, node="replica"):
        self.psql(node, "SELECT pg_wal_replay_pause()")

    def resume_replay(self, node="replica"):
        self.psql(node, "SELECT pg_wal_replay_resume()")

    def wal_lsn(self, node="primary"):
        return parse_lsn(self.scalar(node, "SELECT pg_current_wal_lsn()"))

    def replay_lsn(self, node="replica"):
        return parse_lsn(self.scalar(node, "SELECT pg_last_wal_replay_lsn()"))

    def receive_lsn(self, node="replica"):
        return parse_lsn(self.scalar(node, "SELECT pg_last_wal_receive_lsn()"))

    def write_load(self, rows=1000, table="pgvigil_load", node="primary"):
        """Generate WAL: insert rows of ~100 bytes into table."""
        self.psql(node, "CREATE TABLE IF NOT EXISTS %s (id bigserial primary key, payload text);"
                        "INSERT INTO %s (payload) SELECT repeat('x', 100) FROM generate_series(1, %d)"
                  % (table, table, rows))


def parse_lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def format_lsn(value):
    return "%X/%X" % (value >> 32, value & 0xFFFFFFFF)


class Process:
    """A daemon started with its stdout and stderr in files of the test dir."""

    def __init__(self, testdir, name, argv, env=None):
        self.name = name
        self.out_path = os.path.join(testdir.path, name + ".out")
        self.err_path = os.path.join(testdir.path, name + ".err")
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=self._err, env=full_env,
                                     stdin=subprocess.DEVNULL)
        reaper_note("pid", self.proc.pid)
        _register(self.stop)

    def running(self):
        return self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.poll()

    def signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after timeout. Returns the exit status."""
        if self.running():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self._out, self._err):
            if not f.closed:
                f.close()
        return self.proc.returncode

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def stdout_text(self):
        with open(self.out_path) as f:
            return f.read()

    def log_text(self):
        with open(self.err_path) as f:
            return f.read()


class Receiver:
    """pgvigil-test-receiver on a free port; samples() parses its JSON lines."""

    def __init__(self, testdir, curve_server_cert=None, allow_dir=None, name="receiver"):
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        argv = [binary("pgvigil-test-receiver"), "--bind", self.endpoint]
        if curve_server_cert:
            argv += ["--curve-server-cert", curve_server_cert, "--allow-dir", allow_dir]
        self._offset, self._samples = 0, []
        self.process = Process(testdir, name, argv)
        wait_for(lambda: "listening" in self.process.log_text() or not self.process.running(), 10,
                 what="receiver to bind")
        if not self.process.running():
            raise RuntimeError("pgvigil-test-receiver exited: %s" % self.process.log_text())

    def samples(self, node=None):
        """Every sample printed so far (of node, if given), oldest first."""
        self._read_new_lines()
        return [s for s in self._samples if node is None or s.get("node") == node]

    def _read_new_lines(self):
        # Parse only what was appended since the last call, and only whole
        # lines: the receiver may be in the middle of writing one.
        with open(self.process.out_path, "rb") as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        for line in chunk[:end].splitlines():
            try:
                self._samples.append(json.loads(line))
            except ValueError:
                print("harness: receiver printed a line that is not JSON: %r" % line[:200], file=sys.stderr)
        self._offset += end

    def wait_for(self, predicate, timeout, node=None, what="samples"):
        """Wait until predicate(samples) is true; return the samples."""
        def check():
            s = self.samples(node)
            return s if predicate(s) else None
        return wait_for(check, timeout, what=what)

    def stop(self):
        return self.process.stop()


class Redis:
    """A throwaway redis-server on a free loopback port (no persistence: a
    restart loses everything). replica_of: another Redis to replicate."""

    def __init__(self, testdir, name="redis", replica_of=None):
        self.testdir, self.name, self.replica_of = testdir, name, replica_of
        self.port = free_port()
        self._start()

    def _start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.testdir.path]
        if self.replica_of:
            argv += ["--replicaof", "127.0.0.1", str(self.replica_of.port)]
        self.process = Process(self.testdir, self.name, argv)
        wait_for(self.ping, 10, what="redis")

    def restart(self, down_seconds=0):
        """Stop, wait, start again on the same port, empty."""
        self.stop()
        time.sleep(down_seconds)
        self._start()

    def command(self, *args):
        """One command through redis-cli; its output as text."""
        return subprocess.run(["redis-cli", "-p", str(self.port)] + [str(a) for a in args],
                              stdout=subprocess.PIPE, text=True, timeout=10).stdout.strip()

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        return self.process.stop()


class Sentinel:
    """A real Redis Sentinel (redis-server --sentinel) on a free loopback port,
    monitoring master under master_name with a quorum of quorum."""

    def __init__(self, testdir, master, master_name="pgvigil", quorum=2, name="sentinel",
                 down_after_ms=1000, failover_timeout_ms=3000):
        self.port = free_port()
        conf = testdir.file(name + ".conf",
                            "port %d\nbind 127.0.0.1\ndir %s\n"
                            "sentinel monitor %s 127.0.0.1 %d %d\n"
                            "sentinel down-after-milliseconds %s %d\n"
                            "sentinel failover-timeout %s %d\n"
                            "sentinel parallel-syncs %s 1\n"
                            % (self.port, testdir.path, master_name, master.port, quorum,
                               master_name, down_after_ms, master_name, failover_timeout_ms, master_name))
        self.process = Process(testdir, name, ["redis-server", conf, "--sentinel"])
        wait_for(self.ping, 10, what=name)

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def info(self):
        return subprocess.run(["redis-cli", "-p", str(self.port), "INFO", "sentinel"], stdout=subprocess.PIPE,
                              text=True, timeout=10).stdout

    def master_port(self, master_name="pgvigil"):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "SENTINEL", "get-master-addr-by-name",
                              master_name], stdout=subprocess.PIPE, text=True, timeout=10).stdout.split()
        return int(out[1]) if len(out) == 2 else None

    def stop(self):
        return self.process.stop()


def collector_config(testdir, name, node, dsn, endpoints=(), region="eu-west", extra=""):
    """Write a collector YAML config; return its path."""
    text = "node: %s\nregion: %s\ndsn: \"%s\"\n" % (node, region, dsn)
    if endpoints:
        text += "aggregators: [%s]\n" % ", ".join(endpoints)
    return testdir.file(name, text + extra)


def start_collector(testdir, config_path, name):
    return Process(testdir, name, [binary("pgvigil-collector"), "-c", config_path])


def collect_once(config_path, timeout=30):
    """Run --once --print; return (exit status, parsed JSON or None, stderr)."""
    r = subprocess.run([binary("pgvigil-collector"), "-c", config_path, "--once", "--print"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    try:
        data = json.loads(r.stdout) if r.stdout.strip() else None
    except ValueError:
        data = None
    return r.returncode, data, r.stderr


class Writer:
    """Runs write() every interval seconds on a thread until stop(); errors
    (the server being down) are ignored. Keeps WAL and commits flowing, so
    a paused replica falls behind in time as well as in bytes."""

    def __init__(self, write, interval=0.1):
        self.write, self.interval, self.stop_flag = write, interval, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                self.write()
            except Exception:
                pass
            self.stop_flag.wait(self.interval)

    def stop(self):
        self.stop_flag.set()
        self.thread.join(10)


def api_tokens(*roles):
    """Fresh API tokens from `pgvigil-aggregator token`: ({role: token}, the
    auth.tokens YAML entries, a "    - {name: <role>-bot, ...}" line each)."""
    tokens, entries = {}, []
    for role in roles:
        out = subprocess.run([binary("pgvigil-aggregator"), "token"], capture_output=True, text=True,
                             check=True).stdout
        tokens[role] = out.split("token:")[1].split()[0]
        entries.append("    - {name: %s-bot, role: %s, sha256: %s}" % (role, role, out.split("sha256:")[1].split()[0]))
    return tokens, "\n".join(entries)


def http_call(url, method="GET", body=None, token=None, raw=None, timeout=10):
    """One request: (status, headers, parsed JSON or text); (None, {}, {})
    when nothing answers. body is sent as JSON, raw as it is."""
    data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, hdrs, text = r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        status, hdrs, text = e.code, e.headers, e.read().decode()
    except OSError:
        return None, {}, {}
    try:
        return status, hdrs, json.loads(text)
    except ValueError:
        return status, hdrs, text


def shut_down(testdir, cluster, aggregator, processes=()):
    """Stop processes, the aggregator and the cluster, remove testdir, and
    fail (with the aggregator's log) unless the aggregator exited 0."""
    for p in processes:
        p.stop()
    rc = aggregator.stop()
    log = aggregator.log_text()
    cluster.stop_all()
    testdir.remove()
    assert rc == 0, "aggregator exited with %s:\n%s" % (rc, log)
