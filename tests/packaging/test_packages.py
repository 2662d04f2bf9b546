"""The Debian packages, built, linted, installed and run for real.

Builds pgvigil-collector and pgvigil-aggregator with CPack from a Release
build made for packaging (deploy/packaging/packaging.cmake; tests/run.sh's
Release tree when it is one, else its own), runs lintian on them (every tag
left must be explained in deploy/packaging/lintian-tags), installs them with
apt into a minimal Debian 12 tree made by debootstrap (cached as a tarball in
/var/cache/pgvigil-test, so only the first run on a machine downloads it; a fresh copy of the
tree each run), and checks there: the files, the system user and its state
directory, the configuration's permissions, the RPATH and the libraries,
`systemd-analyze verify` on the units, `check-config` on the installed
configuration files (valid: 0; broken: 2 naming file, line and key). Then it
starts both daemons from the installed paths, as the pgvigil user, against
a real PostgreSQL on the host (loopback), sees a sample arrive through the
installed aggregator's API and in its history tables (migrations from the
installed SQL files), the dashboard files served, sends SIGHUP,
stops them, serves HTTPS from the installed tree (no libssl-dev there), and
purges the packages.

Run by ctest (label packaging) from tests/run.sh; needs root (chroot).
"""

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

from pgvigil_harness import PgCluster, Process, TestDir, free_port, wait_for

SRC = os.environ.get("PGVIGIL_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("PGVIGIL_BUILD_DIR", os.path.join(SRC, "build-test"))
WORK = os.path.join(BUILD, "packaging-test")
# The Debian tree and the downloaded packages are kept per machine, not per
# build tree, so a fresh clone (CI) on the same machine does not debootstrap
# again; a new machine pays once (about 5 minutes).
MACHINE_CACHE = os.environ.get("PGVIGIL_TEST_CACHE", "/var/cache/pgvigil-test")
CACHE = os.path.join(MACHINE_CACHE, "bookworm-minbase.tar")
ROOT = os.path.join(WORK, "root")
ARCHIVES = os.path.join(MACHINE_CACHE, "apt-archives")
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def log(msg):
    print("test_packages: %s" % msg, file=sys.stderr, flush=True)


def run(argv, timeout=600, check=True, **kw):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(argv), r.returncode, r.stdout[-4000:]))
    return r


def inside(argv, user=None, **kw):
    """argv run in the installed tree, with a clean environment."""
    pre = ["chroot", ROOT, "env", "-i", PATH, "LANG=C.UTF-8", "HOME=/root"]
    if user:
        pre += ["setpriv", "--reuid=" + user, "--regid=" + user, "--init-groups", "--"]
    return run(pre + argv, **kw)


def cache_var(build, name):
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def package_build_dir():
    """tests/run.sh's Release tree when it is configured for packaging, else our own."""
    release = os.environ.get("PGVIGIL_RELEASE_DIR", BUILD + "-release")
    if cache_var(release, "PGVIGIL_PACKAGE") == "ON" and cache_var(release, "CMAKE_INSTALL_PREFIX") == "/usr":
        return release
    own = os.path.join(WORK, "build")
    if cache_var(own, "PGVIGIL_PACKAGE") != "ON":
        run(["cmake", "-S", SRC, "-B", own, "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_INSTALL_PREFIX=/usr",
             "-DPGVIGIL_PACKAGE=ON", "-DPGVIGIL_TESTS=OFF", "-DPGVIGIL_BENCH=OFF"])
    return own


def build_debs():
    build = package_build_dir()
    log("building the packages in %s" % build)
    run(["cmake", "--build", build, "-j%d" % (os.cpu_count() or 2)], timeout=1200)
    for old in glob.glob(os.path.join(build, "pgvigil-*.deb")):
        os.unlink(old)
    run(["cpack", "-G", "DEB"], cwd=build, timeout=600)
    debs = sorted(glob.glob(os.path.join(build, "pgvigil-*.deb")))
    if len(debs) != 2:
        raise AssertionError("expected two packages, got %s" % debs)
    return debs


def mirror():
    for path in glob.glob("/etc/apt/sources.list.d/*.sources"):
        with open(path) as f:
            for line in f:
                if line.startswith("URIs:") and "security" not in line:
                    return line.split()[1]
    with open("/etc/apt/sources.list") as f:
        for line in f:
            parts = line.split()
            if len(parts) > 2 and parts[0] == "deb" and parts[2] == "bookworm":
                return parts[1]
    raise AssertionError("no Debian mirror in this machine's apt sources")


def mounts_under(path):
    """Mount points at or below path, deepest first (os.path.ismount misses bind
    mounts from the same file system)."""
    found = []
    with open("/proc/mounts") as f:
        for line in f:
            point = line.split()[1].replace("\\040", " ")
            if point == path or point.startswith(path + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_root():
    for point in mounts_under(ROOT):
        subprocess.run(["umount", "-l", point], check=False)
    left = mounts_under(ROOT)
    if left:  # never remove a tree that still reaches into another
        raise AssertionError("could not unmount %s" % left)


def remove_root():
    unmount_root()
    shutil.rmtree(ROOT, ignore_errors=True)


def make_root():
    """A fresh Debian 12 minbase tree from the cached tarball (debootstrap once)."""
    os.makedirs(ARCHIVES, exist_ok=True)
    if not os.path.exists(CACHE):
        log("debootstrap of a minimal Debian 12 tree (first run only; cached in %s)" % CACHE)
        tree = os.path.join(WORK, "minbase")
        shutil.rmtree(tree, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "bookworm", tree, mirror()], timeout=1500)
        run(["tar", "-C", tree, "-cf", CACHE + ".tmp", "."], timeout=600)
        os.rename(CACHE + ".tmp", CACHE)
        shutil.rmtree(tree, ignore_errors=True)
    remove_root()
    os.makedirs(ROOT)
    run(["tar", "-C", ROOT, "-xf", CACHE], timeout=600)
    # This machine's apt sources and resolver, as a real host would have its own.
    sources = glob.glob("/etc/apt/sources.list.d/*.sources")
    for path in sources:
        shutil.copy(path, os.path.join(ROOT, "etc/apt/sources.list.d/"))
    if sources and os.path.exists(os.path.join(ROOT, "etc/apt/sources.list")):
        os.unlink(os.path.join(ROOT, "etc/apt/sources.list"))
    shutil.copy("/etc/resolv.conf", os.path.join(ROOT, "etc/resolv.conf"))
    run(["mount", "-t", "proc", "proc", os.path.join(ROOT, "proc")])
    # Downloaded .debs are kept between runs.
    run(["mount", "--bind", ARCHIVES, os.path.join(ROOT, "var/cache/apt/archives")])


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


def lintian_allowed():
    """Tags explained in deploy/packaging/lintian-tags (one per line, after comments)."""
    allowed = set()
    with open(os.path.join(SRC, "deploy/packaging/lintian-tags")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                allowed.add(line)
    return allowed


@unittest.skipUnless(os.geteuid() == 0, "needs root (chroot, mount)")
class PackagesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        start = time.monotonic()
        cls.debs = build_debs()
        log("packages built in %.0f s: %s" % (time.monotonic() - start, [os.path.basename(d) for d in cls.debs]))

    @classmethod
    def tearDownClass(cls):
        remove_root()

    def deb(self, name):
        return [d for d in self.debs if os.path.basename(d).startswith(name + "_")][0]

    def test_control_and_contents(self):
        for name, files in (("pgvigil-collector", ["./usr/bin/pgvigil-collector",
                                                   "./lib/systemd/system/pgvigil-collector.service",
                                                   "./etc/pgvigil/collector.yaml",
                                                   "./usr/share/man/man8/pgvigil-collector.8.gz",
                                                   "./usr/share/doc/pgvigil-collector/copyright"]),
                            ("pgvigil-aggregator", ["./usr/bin/pgvigil-aggregator",
                                                    "./usr/lib/pgvigil/libssl.so", "./usr/lib/pgvigil/libcrypto.so",
                                                    "./usr/share/pgvigil/web/index.html",
                                                    "./usr/share/pgvigil/web/node_modules/uplot/dist/uPlot.iife.min.js",
                                                    "./usr/share/pgvigil/sql/",
                                                    "./lib/systemd/system/pgvigil-aggregator.service",
                                                    "./etc/pgvigil/aggregator.yaml",
                                                    "./usr/share/man/man8/pgvigil-aggregator.8.gz"])):
            deb = self.deb(name)
            listing = run(["dpkg-deb", "-c", deb]).stdout
            for f in files:
                self.assertRegex(listing, r"\s%s(\s|$| ->)" % f.replace(".", r"\."), "%s lacks %s" % (name, f))
            self.assertNotIn("package-lock.json", listing)
            depends = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
            for lib in ("libc6", "libzmq5", "libczmq4", "libpq5", "libyaml-0-2", "adduser"):
                self.assertIn(lib, depends, "%s Depends: %s" % (name, depends))
            conffiles = run(["sh", "-c", "dpkg-deb --ctrl-tarfile %s | tar -xOf - ./conffiles" % deb]).stdout
            self.assertEqual(conffiles.split(), ["/etc/pgvigil/%s.yaml" % name.split("-")[1]])
        depends = run(["dpkg-deb", "-f", self.deb("pgvigil-aggregator"), "Depends"]).stdout
        for lib in ("libcivetweb1", "libcurl4", "libssl3", "libjansson4", "libicu72", "procps"):
            self.assertIn(lib, depends)

    def test_lintian(self):
        r = run(["lintian", "--no-cfg", "--display-info", "--tag-display-limit", "0"] + self.debs, check=False, timeout=600)
        log("lintian:\n" + (r.stdout.strip() or "(no tags)"))
        allowed = lintian_allowed()
        for line in r.stdout.splitlines():
            # "W: pgvigil-aggregator: tag-name extra" -> tag-name
            parts = line.split()
            if len(parts) >= 3 and parts[0] in ("E:", "W:", "I:", "P:", "X:", "C:"):
                self.assertIn(parts[2], allowed, "unexplained lintian tag: %s" % line)

    def test_install_and_run(self):
        start = time.monotonic()
        make_root()
        debdir = os.path.join(ROOT, "tmp/debs")
        os.makedirs(debdir)
        for d in self.debs:
            shutil.copy(d, debdir)
        inside(["apt-get", "update", "-qq"], timeout=300)
        # With systemd and man-db, as on a real host, for systemd-analyze verify
        # (it loads the targets the units name and runs man for Documentation=).
        inside(["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                "/tmp/debs/*.deb systemd man-db"], timeout=900)
        log("installed into the Debian 12 tree in %.0f s" % (time.monotonic() - start))
        self.check_installed()
        self.check_upgrade_keeps_permissions()
        self.check_units()
        self.check_config_command()
        self.run_daemons()
        self.check_https()
        self.purge()

    def check_installed(self):
        pw = inside(["getent", "passwd", "pgvigil"]).stdout.strip().split(":")
        self.assertLess(int(pw[2]), 1000, "pgvigil is not a system user: %s" % pw)
        self.assertEqual(pw[5], "/var/lib/pgvigil")
        self.assertIn("nologin", pw[6])
        self.assertEqual(inside(["stat", "-c", "%U:%G %a", "/var/lib/pgvigil"]).stdout.strip(), "pgvigil:pgvigil 750")
        for daemon in ("collector", "aggregator"):
            self.assertEqual(inside(["stat", "-c", "%U:%G %a", "/etc/pgvigil/%s.yaml" % daemon]).stdout.strip(),
                             "root:pgvigil 640")
            exe = "/usr/bin/pgvigil-" + daemon
            self.assertNotIn("not found", inside(["ldd", exe]).stdout)
            self.assertIn("0.1.0", inside([exe, "--version"]).stdout)
            usage = inside([exe, "--help"]).stdout
            for sub in ("check-config", "keygen") + (("token",) if daemon == "aggregator" else ()):
                self.assertIn(sub, usage)
        rpath = run(["readelf", "-d", os.path.join(ROOT, "usr/bin/pgvigil-aggregator")]).stdout
        self.assertIn("[$ORIGIN/../lib/pgvigil]", rpath)
        self.assertNotIn(SRC, rpath)
        # civetweb's dlopen("libcrypto.so") finds the link to the real library.
        self.assertTrue(os.path.exists(os.path.join(ROOT, "usr/lib/pgvigil/libcrypto.so")))
        self.assertNotIn("not found", inside(["ldd", "/usr/lib/pgvigil/libssl.so"]).stdout)
        self.assertTrue(glob.glob(os.path.join(ROOT, "usr/share/pgvigil/sql/*.sql")))
        man = inside(["sh", "-c", "zcat /usr/share/man/man8/pgvigil-aggregator.8.gz"]).stdout
        self.assertIn("check\\-config", man)
        self.assertIn("CONFIGURATION ERRORS", man)

    def check_upgrade_keeps_permissions(self):
        """Reinstalling (as an upgrade does) keeps the configuration's mode on an
        unchanged file (which dpkg replaces) and an edit (a conffile)."""
        with open(os.path.join(ROOT, "etc/pgvigil/aggregator.yaml"), "a") as f:
            f.write("# edited here\n")
        inside(["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "
                "-o Dpkg::Options::=--force-confold /tmp/debs/*.deb"], timeout=300)
        for daemon in ("collector", "aggregator"):
            self.assertEqual(inside(["stat", "-c", "%U:%G %a", "/etc/pgvigil/%s.yaml" % daemon]).stdout.strip(),
                             "root:pgvigil 640", daemon)
        with open(os.path.join(ROOT, "etc/pgvigil/aggregator.yaml")) as f:
            self.assertIn("# edited here", f.read())

    def check_units(self):
        units = ["/lib/systemd/system/pgvigil-%s.service" % d for d in ("collector", "aggregator")]
        r = inside(["systemd-analyze", "verify"] + units, check=False)
        log("systemd-analyze verify: exit %d%s" % (r.returncode, (":\n" + r.stdout) if r.stdout.strip() else ", no output"))
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(r.stdout.strip(), "")
        for u in units:
            with open(os.path.join(ROOT, u.lstrip("/"))) as f:
                text = f.read()
            for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes",
                         "StateDirectory=pgvigil", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID",
                         "User=pgvigil"):
                self.assertIn(line, text, u)

    def check_config_command(self):
        for daemon in ("collector", "aggregator"):
            exe, conf = "/usr/bin/pgvigil-" + daemon, "/etc/pgvigil/%s.yaml" % daemon
            r = inside([exe, "check-config", conf], user="pgvigil")
            self.assertIn("valid", r.stdout)
        with open(os.path.join(ROOT, "etc/pgvigil/broken.yaml"), "w") as f:
            f.write("listen:\n  ingest: [tcp://0.0.0.0:7400]\n  http: 127.0.0.1:8080\n"
                    "delivery:\n  breaker_cooldown: 0s\n")
        r = inside(["/usr/bin/pgvigil-aggregator", "check-config", "/etc/pgvigil/broken.yaml"], check=False)
        self.assertEqual(r.returncode, 2, r.stdout)
        self.assertIn('/etc/pgvigil/broken.yaml:5: key "delivery.breaker_cooldown"', r.stdout)
        os.unlink(os.path.join(ROOT, "etc/pgvigil/broken.yaml"))

    def write_conf(self, name, text):
        path = os.path.join(ROOT, "etc/pgvigil", name)
        with open(path, "w") as f:
            f.write(text)
        inside(["chgrp", "pgvigil", "/etc/pgvigil/" + name])
        os.chmod(path, 0o640)
        return "/etc/pgvigil/" + name

    def daemon(self, d, daemon, conf):
        argv = ["chroot", ROOT, "env", "-i", PATH, "LANG=C.UTF-8", "setpriv", "--reuid=pgvigil", "--regid=pgvigil",
                "--init-groups", "--", "/usr/bin/pgvigil-" + daemon, "-c", conf]
        return Process(d, daemon, argv)

    def run_daemons(self):
        d = TestDir()
        cluster = PgCluster(d, replicas=0, pg_stat_statements=False).start()
        procs = []
        try:
            cluster.psql("primary", "CREATE DATABASE pgvigil")
            ingest, http = "tcp://127.0.0.1:%d" % free_port(), free_port()
            agg = self.write_conf("test-aggregator.yaml",
                                  "listen:\n  ingest: [%s]\n  http: 127.0.0.1:%d\n"
                                  "storage:\n  dsn: \"host=127.0.0.1 port=%d user=postgres dbname=pgvigil\"\n"
                                  "  spool_dir: /var/lib/pgvigil\n" % (ingest, http, cluster.port("primary")))
            col = self.write_conf("test-collector.yaml",
                                  "node: db-pkg\nregion: eu-west\ndsn: \"%s\"\naggregators: [%s]\ninterval: 500ms\n"
                                  % (cluster.dsn("primary"), ingest))
            for conf, exe in ((agg, "aggregator"), (col, "collector")):
                inside(["/usr/bin/pgvigil-" + exe, "check-config", conf], user="pgvigil")
            base = "http://127.0.0.1:%d" % http
            procs.append(self.daemon(d, "aggregator", agg))
            procs.append(self.daemon(d, "collector", col))

            def ready():
                try:
                    return get(base + "/readyz")[0] == 200
                except OSError:
                    return False

            try:
                wait_for(ready, 30, what="the installed aggregator's /readyz")
                wait_for(lambda: b'"db-pkg"' in get(base + "/api/v1/nodes")[1], 30,
                         what="a sample from the installed collector")
            except TimeoutError:
                raise AssertionError("aggregator:\n%s\ncollector:\n%s" % (procs[0].log_text(), procs[1].log_text()))
            # History: the migrations from /usr/share/pgvigil/sql ran and samples are written.
            wait_for(lambda: int(cluster.scalar("primary", "SELECT count(*) FROM node_samples WHERE node = 'db-pkg'",
                                                dbname="pgvigil") or 0) > 0, 30, what="a history row")
            status, body = get(base + "/")
            self.assertEqual(status, 200)
            self.assertIn(b"<html", body.lower())
            self.assertEqual(get(base + "/ui/vendor/uplot/uPlot.iife.min.js")[0], 200)
            self.assertTrue(os.path.exists(os.path.join(ROOT, "var/lib/pgvigil")))
            # SIGHUP: re-validated and logged, the daemons keep running.
            for p in procs:
                p.signal(signal.SIGHUP)
            time.sleep(1.0)
            for p in procs:
                self.assertTrue(p.running(), p.log_text())
            self.assertIn("SIGHUP", procs[0].log_text())
            self.assertIn("SIGHUP", procs[1].log_text())
            for p in reversed(procs):
                self.assertEqual(p.stop(timeout=30), 0, p.log_text())
        finally:
            for p in procs:
                p.stop()
            cluster.stop_all()
            d.remove()
        for name in ("test-aggregator.yaml", "test-collector.yaml"):
            os.unlink(os.path.join(ROOT, "etc/pgvigil", name))

    def check_https(self):
        """HTTPS from the installed tree, which has no libssl-dev: civetweb's
        dlopen of "libssl.so" and "libcrypto.so" must find lib/pgvigil's."""
        d = TestDir()
        try:
            key, crt = os.path.join(d.path, "key.pem"), os.path.join(d.path, "cert.pem")
            run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt, "-days", "1",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], timeout=60)
            with open(crt) as c, open(key) as k:
                self.write_conf("test-tls.pem", c.read() + k.read())
            port = free_port()
            conf = self.write_conf("test-https.yaml", "listen:\n  ingest: [tcp://127.0.0.1:%d]\n  http: 127.0.0.1:%d\n"
                                   "http: {tls_certificate: /etc/pgvigil/test-tls.pem}\n" % (free_port(), port))
            agg = self.daemon(d, "aggregator", conf)
            try:
                curl = ["curl", "-sS", "--max-time", "5", "--cacert", crt, "https://127.0.0.1:%d/healthz" % port]
                try:
                    wait_for(lambda: run(curl, check=False).returncode == 0, 20, what="HTTPS")
                except TimeoutError:
                    raise AssertionError(agg.log_text())
            finally:
                self.assertEqual(agg.stop(timeout=30), 0, agg.log_text())
        finally:
            d.remove()
            for name in ("test-tls.pem", "test-https.yaml"):
                os.unlink(os.path.join(ROOT, "etc/pgvigil", name))

    def purge(self):
        inside(["sh", "-c", "DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq pgvigil-collector pgvigil-aggregator"],
               timeout=300)
        for gone in ("usr/bin/pgvigil-aggregator", "etc/pgvigil", "lib/systemd/system/pgvigil-collector.service"):
            self.assertFalse(os.path.exists(os.path.join(ROOT, gone)), "left after purge: /" + gone)
        self.assertNotIn("/etc/pgvigil", inside(["dpkg-statoverride", "--list"], check=False).stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
