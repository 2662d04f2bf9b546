"""pgvigil_sinks — receivers for pgvigil's notifications in tests: an HTTP
server recording every request (webhooks, chat, paging APIs), with a
configurable answer and outages on the same port, and a minimal SMTP server
recording every mail. Both stop on any exit through pgvigil_base's cleanups.
Standard library only."""

import http.server
import socketserver
import threading
import time

from pgvigil_base import _register, free_port, wait_for


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

    def wait_for_requests(self, n, timeout, path=None):
        """Wait until at least n requests (to path, if given) arrived; return them."""
        return wait_for(lambda: (lambda r: r if len(r) >= n else None)(self.received(path)), timeout,
                        what="%d HTTP requests" % n)


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

    def received(self):
        with self.lock:
            return list(self.messages)

    def wait_for_messages(self, n, timeout):
        """Wait until at least n messages arrived; return them."""
        return wait_for(lambda: (lambda m: m if len(m) >= n else None)(self.received()), timeout,
                        what="%d mails" % n)

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
