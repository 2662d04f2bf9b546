"""pgvigil_harness — real parts for pgvigil's integration tests.

Everything here starts real servers on loopback ports chosen free at run
time, inside a temporary directory the test owns:

  PgCluster   a PostgreSQL primary and streaming replicas (physical slots,
              pg_basebackup -R), started as the postgres user
  Process     a daemon with its output in log files; SIGTERM, then SIGKILL
  Receiver    pgvigil-test-receiver, the stand-in aggregator, as JSON lines
  Redis       a throwaway redis-server
  HttpSink    an HTTP server recording every request (notification sinks)
  SmtpSink    a minimal SMTP server recording every message

Whatever a test starts is registered and stopped on any exit: normal end,
exception, SIGTERM or SIGINT (atexit plus signal handlers), so a failed test
leaves no postgres behind. Standard library only; run with /usr/bin/python3.
"""

import atexit
import http.server
import json
import os
import pwd
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

PG_BIN = os.environ.get("PGVIGIL_PG_BIN", "/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
BUILD_DIR = os.environ.get("PGVIGIL_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SOURCE_DIR = os.environ.get("PGVIGIL_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))

_cleanups = []
_cleanup_lock = threading.Lock()


def _register(fn):
    with _cleanup_lock:
        _cleanups.append(fn)
    return fn


def cleanup_all():
    """Stop everything started so far, newest first."""
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning up
            print("harness: cleanup failed: %s" % e, file=sys.stderr)


def _on_signal(signum, frame):
    cleanup_all()
    sys.exit(128 + signum)


atexit.register(cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_sig, _on_signal)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.1, what="condition"):
    """Poll predicate until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


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

    cluster = PgCluster(testdir); cluster.start()
    cluster.psql("primary", "select 1") -> [["1"]]
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
    def start(self):
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
        node.start()
        self.nodes["primary"] = node
        setup = ["CREATE ROLE pgvigil LOGIN IN ROLE pg_monitor"]
        if self.pgss:
            setup.append("CREATE EXTENSION pg_stat_statements")
        for sql in setup:
            self.psql("primary", sql)

    def add_replica(self, name):
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
            f.write("primary_conninfo = 'host=127.0.0.1 port=%d user=postgres application_name=%s'\n"
                    % (primary.port, name))
        node.start()
        self.nodes[name] = node
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
        self.process = Process(testdir, name, argv)
        wait_for(lambda: "listening" in self.process.log_text(), 10, what="receiver to bind")

    def samples(self, node=None):
        out = []
        for line in self.process.stdout_text().splitlines():
            try:
                s = json.loads(line)
            except ValueError:
                continue  # a line being written
            if node is None or s.get("node") == node:
                out.append(s)
        return out

    def wait_for(self, predicate, timeout, node=None, what="samples"):
        """Wait until predicate(samples) is true; return the samples."""
        def check():
            s = self.samples(node)
            return s if predicate(s) else None
        return wait_for(check, timeout, what=what)

    def stop(self):
        return self.process.stop()


class Redis:
    """A throwaway redis-server on a free loopback port."""

    def __init__(self, testdir):
        self.port = free_port()
        self.process = Process(testdir, "redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                                  "--save", "", "--appendonly", "no", "--dir", testdir.path])
        wait_for(self.ping, 10, what="redis")

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self):
        return self.process.stop()


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        sink = self.server.sink
        with sink.lock:
            sink.requests.append({"method": self.command, "path": self.path,
                                  "headers": dict(self.headers.items()), "body": body,
                                  "at": time.time()})
            status = sink.status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _record

    def log_message(self, fmt, *args):
        pass


class HttpSink:
    """An HTTP server on a free loopback port that records every request.

    status: the answer to give (e.g. 500 to simulate a failing receiver).
    stop()/start() keep the port, to simulate an outage."""

    def __init__(self, status=200):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.status = status
        self.requests = []
        self.lock = threading.Lock()
        self.server = None
        self.start()
        _register(self.stop)

    def start(self):
        socketserver.TCPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), _SinkHandler)
        self.server.sink = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self, path=None):
        with self.lock:
            return [r for r in self.requests if path is None or r["path"] == path]


class _SmtpHandler(socketserver.StreamRequestHandler):
    def _reply(self, text):
        self.wfile.write((text + "\r\n").encode())

    def handle(self):
        self._reply("220 pgvigil-test smtp")
        mail = {"from": None, "to": [], "data": ""}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._reply("250 pgvigil-test")
            elif verb == "MAIL":
                mail["from"] = cmd[10:].strip()
                self._reply("250 OK")
            elif verb == "RCPT":
                mail["to"].append(cmd[8:].strip())
                self._reply("250 OK")
            elif verb == "DATA":
                self._reply("354 end with .")
                lines = []
                while True:
                    l = self.rfile.readline().decode(errors="replace")
                    if l in (".\r\n", ".\n", ""):
                        break
                    lines.append(l[1:] if l.startswith("..") else l)
                mail["data"] = "".join(lines)
                with self.server.sink.lock:
                    self.server.sink.messages.append(dict(mail))
                mail = {"from": None, "to": [], "data": ""}
                self._reply("250 OK")
            elif verb == "QUIT":
                self._reply("221 bye")
                return
            else:
                self._reply("250 OK")


class SmtpSink:
    """A minimal SMTP server (no TLS, no auth) recording every message."""

    def __init__(self):
        self.port = free_port()
        self.messages = []
        self.lock = threading.Lock()
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), _SmtpHandler)
        self.server.daemon_threads = True
        self.server.sink = self
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        _register(self.stop)

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


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
