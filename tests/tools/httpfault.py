#!/usr/bin/env python3
"""httpfault.py: a small HTTP/1.1 file server with switchable faults, for hlsfs's remote-source tests.

Usage: httpfault.py --root DIR --port PORT --log FILE

Serves the files under DIR on 127.0.0.1:PORT with GET and HEAD: keep-alive (every response carries a
Content-Length), one byte range per request (Range: bytes=A-B, A-, -N) answered 206 with Content-Range,
416 when unsatisfiable, ETag (quoted hex of size and mtime, or the override set by mode=etag),
Last-Modified, Accept-Ranges: bytes; If-None-Match (304) and If-Range (a mismatch gives the whole file).
A path that leaves DIR, a folder or a missing file is 404.

Access log FILE: one line per media request, flushed at once: `METHOD PATH RANGE STATUS BODYBYTES`
(RANGE is the Range header without spaces, or '-'; STATUS is '-' for a request that got no answer (hang)).

Control (never logged, never counted, never faulted):
  GET /__fault?mode=M[&count=N][&path=SUBSTR][&method=GET|HEAD][&etag=X]   -> 200 "ok"
      From now on, the next N media requests (forever without count) whose path contains SUBSTR (all
      without path) and whose method is METHOD (both without method) get fault M; then back to normal.
      Modes: none (normal service; an ETag override stays), reset (normal, ETag overrides dropped too),
      status500, status503 (with Retry-After: 1), status429, status404, status403,
      hang (read the request, answer nothing, keep the socket open 300 s or until the server stops),
      slow (headers, then one body byte a second), close_mid_body and short (headers with the right
      Content-Length, half the body, then close the connection), short_length (a Content-Range naming
      the whole range asked, but a Content-Length of half of it and that half: a short body on a
      connection that stays good), norange (Range is ignored: 200 with the
      whole file, as a server without range support), etag (files whose path contains SUBSTR are served
      with ETag X from now on, whatever count says: a replaced object).
      The body modes (slow, close_mid_body, short, short_length) leave a HEAD alone and do not count it.
      M may be a comma-separated list of these faults (mode=status503,short_length): the matching
      requests get them in turn, the first again after the last.
  GET /__stats -> {"requests": N, "bytes": B}: media requests answered so far and body bytes sent.

SIGTERM or SIGINT: stops listening, wakes hanging and slow requests, exits 0.
"""

import argparse
import email.utils
import http.server
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import urllib.parse

STOP = threading.Event()
LOCK = threading.Lock()
STATE = {
    "rule": None,      # dict(modes, next, count (None: forever), path, method) or None
    "etags": [],       # [(path substring, etag)], the last matching one wins
    "requests": 0,
    "bytes": 0,
}
LOG = None
ROOT = None

STATUS_MODES = {
    "status500": (500, "Internal Server Error"),
    "status503": (503, "Service Unavailable"),
    "status429": (429, "Too Many Requests"),
    "status404": (404, "Not Found"),
    "status403": (403, "Forbidden"),
}
BODY_MODES = {"slow", "close_mid_body", "short", "short_length"}
MODES = set(STATUS_MODES) | BODY_MODES | {"none", "reset", "hang", "etag", "norange"}


def log_line(method, path, rng, status, nbytes):
    with LOCK:
        STATE["requests"] += 1
        STATE["bytes"] += nbytes
        LOG.write("%s %s %s %s %d\n" % (method, path, rng or "-", status, nbytes))
        LOG.flush()


def take_fault(method, path):
    """The fault mode for this media request ('none' for normal), counting it against the rule."""
    with LOCK:
        r = STATE["rule"]
        if r is None:
            return "none"
        if r["path"] and r["path"] not in path:
            return "none"
        if r["method"] and r["method"] != method:
            return "none"
        mode = r["modes"][r["next"] % len(r["modes"])]
        if mode in BODY_MODES and method == "HEAD":
            return "none"
        r["next"] += 1
        if r["count"] is not None:
            r["count"] -= 1
            if r["count"] <= 0:
                STATE["rule"] = None
        return mode


def etag_override(path):
    with LOCK:
        tag = None
        for sub, t in STATE["etags"]:
            if not sub or sub in path:
                tag = t
        return tag


def parse_range(value, size):
    """(start, end) inclusive, 'unsatisfiable', or None (no usable single range: serve the whole file)."""
    if not value:
        return None
    value = value.strip()
    if not value.lower().startswith("bytes="):
        return None
    spec = value[6:].strip()
    if "," in spec or "-" not in spec:
        return None
    a, b = spec.split("-", 1)
    a, b = a.strip(), b.strip()
    try:
        if a == "":
            if not b.isdigit():
                return None
            n = int(b)
            if n == 0 or size == 0:
                return "unsatisfiable"
            return (max(0, size - n), size - 1)
        if not a.isdigit() or (b and not b.isdigit()):
            return None
        start = int(a)
        if start >= size:
            return "unsatisfiable"
        end = int(b) if b else size - 1
        if end < start:
            return None
        return (start, min(end, size - 1))
    except ValueError:
        return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "httpfault/1"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):  # no stderr chatter
        pass

    def log_error(self, fmt, *args):
        pass

    # --- small helpers ------------------------------------------------------------------------------
    def _simple(self, code, text, extra=(), body=True, ctype="text/plain"):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if body:
            self.wfile.write(data)
        return len(data) if body else 0

    def _write(self, data):
        try:
            self.wfile.write(data)
            return True
        except (BrokenPipeError, ConnectionResetError, OSError):
            self.close_connection = True
            return False

    # --- control ------------------------------------------------------------------------------------
    def _control(self, path, query):
        q = urllib.parse.parse_qs(query, keep_blank_values=True)
        if path == "/__stats":
            with LOCK:
                body = json.dumps({"requests": STATE["requests"], "bytes": STATE["bytes"]})
            self._simple(200, body, ctype="application/json")
            return
        mode = q.get("mode", [""])[0]
        modes = mode.split(",")
        if mode not in MODES and (len(modes) < 2 or any(m not in MODES - {"none", "reset", "etag"} for m in modes)):
            self._simple(400, "unknown mode '%s'\n" % mode)
            return
        count = q.get("count", [None])[0]
        if count is not None:
            if not count.isdigit() or int(count) < 1:
                self._simple(400, "count must be a positive integer\n")
                return
            count = int(count)
        sub = q.get("path", [""])[0]
        method = q.get("method", [""])[0].upper()
        with LOCK:
            if mode == "reset":
                STATE["rule"] = None
                STATE["etags"] = []
            elif mode == "none":
                STATE["rule"] = None
            elif mode == "etag":
                tag = q.get("etag", [""])[0]
                if not tag:
                    self._simple(400, "mode=etag needs etag=X\n")
                    return
                if not (tag.startswith('"') or tag.startswith("W/")):
                    tag = '"%s"' % tag
                STATE["etags"].append((sub, tag))
            else:
                STATE["rule"] = {"modes": modes, "next": 0, "count": count, "path": sub, "method": method}
        self._simple(200, "ok\n")

    # --- media --------------------------------------------------------------------------------------
    def do_HEAD(self):
        self._serve("HEAD")

    def do_GET(self):
        self._serve("GET")

    def _resolve(self, upath):
        rel = urllib.parse.unquote(upath).lstrip("/")
        if "\0" in rel:
            return None
        full = os.path.realpath(os.path.join(ROOT, rel))
        if full != ROOT and not full.startswith(ROOT + os.sep):
            return None
        if not os.path.isfile(full):
            return None
        return full

    def _serve(self, method):
        parts = urllib.parse.urlsplit(self.path)
        upath = parts.path or "/"
        if method == "GET" and upath in ("/__fault", "/__stats"):
            self._control(upath, parts.query)
            return
        rng_hdr = self.headers.get("Range")
        rng_log = rng_hdr.replace(" ", "") if rng_hdr else "-"
        head = method == "HEAD"

        fault = take_fault(method, upath)
        if fault in STATUS_MODES:
            code, text = STATUS_MODES[fault]
            extra = [("Retry-After", "1")] if code == 503 else []
            n = self._simple(code, text + "\n", extra, body=not head)
            log_line(method, upath, rng_log, code, n)
            return
        if fault == "hang":
            log_line(method, upath, rng_log, "-", 0)
            STOP.wait(300)
            self.close_connection = True
            return

        full = self._resolve(upath)
        if full is None:
            n = self._simple(404, "Not Found\n", body=not head)
            log_line(method, upath, rng_log, 404, n)
            return
        try:
            f = open(full, "rb")
        except OSError:
            n = self._simple(403, "Forbidden\n", body=not head)
            log_line(method, upath, rng_log, 403, n)
            return
        with f:
            st = os.fstat(f.fileno())
            size = st.st_size
            etag = etag_override(upath) or '"%x-%x"' % (size, st.st_mtime_ns)
            lastmod = email.utils.formatdate(st.st_mtime, usegmt=True)
            common = [("ETag", etag), ("Last-Modified", lastmod), ("Accept-Ranges", "bytes")]

            inm = self.headers.get("If-None-Match")
            if inm is not None and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
                self.send_response(304)
                for k, v in common:
                    self.send_header(k, v)
                self.end_headers()
                log_line(method, upath, rng_log, 304, 0)
                return

            rng = None if fault == "norange" else parse_range(rng_hdr, size)
            if_range = self.headers.get("If-Range")
            if rng is not None and if_range is not None and if_range.strip() not in (etag, lastmod):
                rng = None
            if rng == "unsatisfiable":
                n = self._simple(416, "Range Not Satisfiable\n",
                                 common + [("Content-Range", "bytes */%d" % size)], body=not head)
                log_line(method, upath, rng_log, 416, n)
                return
            if rng is None:
                start, end, code = 0, size - 1, 200
            else:
                start, end = rng
                code = 206
            length = end - start + 1 if size > 0 else 0

            if fault == "short_length":
                length //= 2  # Content-Range below still names the whole range
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(length))
            if code == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            for k, v in common:
                self.send_header(k, v)
            self.end_headers()
            if head:
                log_line(method, upath, rng_log, code, 0)
                return
            try:
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                log_line(method, upath, rng_log, code, 0)
                return

            send = length
            if fault in ("close_mid_body", "short"):
                send = length // 2
            f.seek(start)
            sent = 0
            if fault == "slow":
                while sent < send and not STOP.is_set():
                    b = f.read(1)
                    if not b or not self._write(b):
                        break
                    try:
                        self.wfile.flush()
                    except OSError:
                        self.close_connection = True
                        break
                    sent += 1
                    if sent < send and STOP.wait(1.0):
                        break
                if sent < send:
                    self.close_connection = True
            else:
                while sent < send:
                    b = f.read(min(65536, send - sent))
                    if not b or not self._write(b):
                        break
                    sent += len(b)
                if sent < length:
                    # a short body: the client must see the connection end, not wait for the rest
                    self.close_connection = True
                    try:
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
            log_line(method, upath, rng_log, code, sent)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # a client that went away is not news
        pass


def main():
    global LOG, ROOT
    ap = argparse.ArgumentParser(description="HTTP/1.1 file server with switchable faults (hlsfs tests)")
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", required=True, type=int)
    ap.add_argument("--log", required=True)
    a = ap.parse_args()
    ROOT = os.path.realpath(a.root)
    if not os.path.isdir(ROOT):
        print("httpfault: --root %s is not a folder" % a.root, file=sys.stderr)
        return 2
    LOG = open(a.log, "a", buffering=1)
    try:
        srv = Server(("127.0.0.1", a.port), Handler)
    except OSError as e:
        print("httpfault: cannot listen on 127.0.0.1:%d: %s" % (a.port, e), file=sys.stderr)
        return 1

    def on_signal(signum, frame):
        STOP.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    t.start()
    while not STOP.wait(0.2):
        pass
    srv.shutdown()
    srv.server_close()
    LOG.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
