"""pgvigil_base — what every part of the test harness shares: a registry of
cleanups run on any exit (normal end, exception, SIGTERM, SIGINT), a reaper
for the one exit no handler sees (SIGKILL, e.g. a ctest timeout), free
loopback ports, polling and reading /metrics. Standard library only."""

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

_cleanups = []
_cleanup_lock = threading.RLock()  # re-entrant: a signal handler may run inside


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


# The reaper is a small detached process started with the first thing worth
# reaping. It watches this process; if it disappears while the list file
# still exists (cleanup_all deletes it after a clean run), it stops the
# listed PostgreSQL servers (pg_ctl -m immediate), kills the listed
# processes (if the pid still names the same process) and removes the
# listed directories.
_REAPER = r"""
import os, shutil, signal, subprocess, sys, time
parent, listfile = int(sys.argv[1]), sys.argv[2]
def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while alive(parent) and os.path.exists(listfile):
    time.sleep(0.2)
try:
    with open(listfile) as f:
        entries = [line.rstrip("\n").split(" ", 1) for line in f if " " in line]
    os.unlink(listfile)
except OSError:
    sys.exit(0)
for kind, value in reversed(entries):
    try:
        if kind == "pg" and os.path.exists(os.path.join(value, "postmaster.pid")):
            argv = [sys.argv[3], "-D", value, "-m", "immediate", "-w", "-t", "30", "stop"]
            if os.geteuid() == 0:
                argv = ["runuser", "-u", "postgres", "--"] + argv
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        elif kind == "pid":
            pid, start = value.split(" ")
            with open("/proc/%s/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[19] == start:
                    os.kill(int(pid), signal.SIGKILL)
        elif kind == "dir":
            shutil.rmtree(value, ignore_errors=True)
    except Exception:
        pass
"""
_reaper_list = None
_reaper_proc = None
_reaper_lock = threading.RLock()


def _proc_start_time(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[19]


def reaper_note(kind, value):
    """Have the reaper clean value up if this process dies by SIGKILL.
    kind: "pg" (a data directory), "pid" (a process id) or "dir"."""
    global _reaper_list, _reaper_proc
    with _reaper_lock:
        if _reaper_list is None:
            fd, _reaper_list = tempfile.mkstemp(prefix="pgvigil-reaper-", suffix=".list")
            os.close(fd)
            pg_ctl = os.path.join(os.environ.get("PGVIGIL_PG_BIN", "/usr/lib/postgresql/15/bin"), "pg_ctl")
            argv = [sys.executable, "-c", _REAPER, str(os.getpid()), _reaper_list, pg_ctl]
            _reaper_proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        if kind == "pid":
            value = "%d %s" % (value, _proc_start_time(value))
        with open(_reaper_list, "a") as f:
            f.write("%s %s\n" % (kind, value))


def _reaper_dismiss():
    # Everything was cleaned up here: the reaper sees its list gone and exits.
    with _reaper_lock:
        if _reaper_list is not None and os.path.exists(_reaper_list):
            os.unlink(_reaper_list)
        if _reaper_proc is not None:
            try:
                _reaper_proc.wait(2)
            except subprocess.TimeoutExpired:
                _reaper_proc.kill()
                _reaper_proc.wait()


def _on_signal(signum, frame):
    cleanup_all()
    _reaper_dismiss()
    sys.exit(128 + signum)


def _cleanup_at_exit():
    cleanup_all()
    _reaper_dismiss()


atexit.register(_cleanup_at_exit)
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


def metrics(base, timeout=30):
    """The unlabelled samples of the aggregator's /metrics at base: name -> value."""
    with urllib.request.urlopen(base + "/metrics", timeout=timeout) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def metric(base, name):
    """One unlabelled sample of base's /metrics; None when it is absent or
    nothing answers (not listening yet, or any more)."""
    try:
        return metrics(base, timeout=5).get(name)
    except OSError:
        return None
