#!/usr/bin/env python3
"""viewers.py: simulated HLS viewers for the cluster test.

Usage: viewers.py --base URL --videos A,B,... --viewers N --seconds S --pace P --out FILE.json

Each viewer (a thread with its own keep-alive connection) loops until S seconds have passed: picks a video,
GETs its master playlist, a variant playlist (it switches variant every few segments, as ABR does), then the
segments in order, P seconds apart. Every answer is checked: status 200 and a body exactly as long as its
Content-Length. A 404 for a segment name that the playlist no longer lists (the source was replaced while the
viewer held the old playlist) is counted as "gone" and the viewer starts over from the master (so is a 502
for a name the playlist, fetched again, no longer lists: a balancer with no other node up to ask); every other
non-200 answer, short body, reset or timeout is a failure. Each segment URL's body hash is recorded: the
summary lists every URL that ever gave two different bodies (a mix of old and new bytes under one name).

A keep-alive connection found closed before any answer is opened again once at once, as browsers do
(counted as reconnects). Writes a JSON summary to FILE: requests, bytes, failures (with the first few; "cut"
lists the transport failures, resets and bodies cut short, as [start, end, what]), length_mismatches, gone,
mixed (URLs with two bodies), segments per video, seconds, and the URLs seen per video.
"""

import argparse
import hashlib
import http.client
import json
import random
import threading
import time
import urllib.parse

LOCK = threading.Lock()
R = {"reconnects": 0, "requests": 0, "bytes": 0, "failures": 0, "failure_samples": [], "length_mismatches": 0, "gone": 0, "gone_502": 0,
     "segments": 0, "cut": []}
BODIES = {}      # url -> set of sha256
SEEN = {}        # video -> set of segment names


def note_failure(what, started=None):
    """A failed request; started (its start time) marks a transport failure: a reset or a body cut short."""
    with LOCK:
        R["failures"] += 1
        if len(R["failure_samples"]) < 8:
            R["failure_samples"].append(what)
        if started is not None and len(R["cut"]) < 100:
            R["cut"].append([started, time.time(), what])


class Viewer:
    def __init__(self, base, seed):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.conn = None
        self.rng = random.Random(seed)

    def get(self, path):
        """(status, body) or None after a transport failure (counted)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            started = time.time()
            try:
                self.conn.request("GET", self.prefix + path, headers={"Accept-Encoding": "identity"})
                resp = self.conn.getresponse()
                clen = resp.getheader("Content-Length")
                body = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
                # a keep-alive connection the server closed between requests: one new connection, at once
                self.conn.close()
                self.conn = None
                if attempt == 0 and isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError)):
                    with LOCK:
                        R["reconnects"] += 1
                    continue
                note_failure("%s: %s" % (path, e), started)
                return None
            except Exception as e:  # timeouts, short bodies (IncompleteRead), resets mid-body
                self.conn.close()
                self.conn = None
                note_failure("%s: %r" % (path, e), started)
                with LOCK:
                    R["requests"] += 1
                    if "IncompleteRead" in repr(e):
                        R["length_mismatches"] += 1
                return None
            with LOCK:
                R["requests"] += 1
                R["bytes"] += len(body)
                if clen is not None and int(clen) != len(body):
                    R["length_mismatches"] += 1
            if clen is not None and int(clen) != len(body):
                note_failure("%s: Content-Length %s, %d bytes" % (path, clen, len(body)))
                return None
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return resp.status, body
        return None

    def replaced(self, video, variant, name):
        """Whether the variant playlist, fetched again, no longer lists name."""
        r = self.get("/%s/%s" % (video, variant))
        return bool(r) and r[0] == 200 and name not in r[1].decode().splitlines()

    def watch(self, video, pace, deadline):
        r = self.get("/%s/master.m3u8" % video)
        if not r:
            return
        if r[0] != 200:
            note_failure("/%s/master.m3u8: %d" % (video, r[0]))
            return
        variants = [l for l in r[1].decode().splitlines() if l and not l.startswith("#")]
        if not variants:
            note_failure("/%s/master.m3u8 lists no variant" % video)
            return
        v = self.rng.choice(variants)
        seq = 0
        playlists = {}
        while time.time() < deadline:
            if v not in playlists:
                r = self.get("/%s/%s" % (video, v))
                if not r:
                    return
                if r[0] != 200:
                    note_failure("/%s/%s: %d" % (video, v, r[0]))
                    return
                playlists[v] = [l for l in r[1].decode().splitlines() if l and not l.startswith("#")]
            segs = playlists[v]
            if seq >= len(segs):
                return
            name = segs[seq]
            path = "/%s/%s/%s" % (video, v.rsplit("/", 1)[0], name)
            r = self.get(path)
            if not r:
                return
            if r[0] == 404:
                with LOCK:
                    R["gone"] += 1
                return  # the source was replaced: start over from the master
            if r[0] == 502 and self.replaced(video, v, name):
                # The node asked answered 404 and the balancer had no other node up to ask (nginx
                # then answers 502): still a name the playlist no longer lists.
                with LOCK:
                    R["gone"] += 1
                    R["gone_502"] += 1
                return
            if r[0] != 200:
                note_failure("%s: %d" % (path, r[0]))
                return
            h = hashlib.sha256(r[1]).hexdigest()
            with LOCK:
                R["segments"] += 1
                BODIES.setdefault(path, set()).add(h)
                SEEN.setdefault(video, set()).add(name)
            seq += 1
            if self.rng.random() < 0.3:
                v = self.rng.choice(variants)  # an ABR switch: the next segment from another variant
            time.sleep(pace)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--videos", required=True)
    ap.add_argument("--viewers", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--pace", type=float, default=0.2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    videos = [urllib.parse.quote(v) for v in a.videos.split(",")]
    t0 = time.time()
    deadline = t0 + a.seconds

    def run(i):
        viewer = Viewer(a.base, i)
        while time.time() < deadline:
            viewer.watch(viewer.rng.choice(videos), a.pace, deadline)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(a.viewers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    R["seconds"] = round(time.time() - t0, 3)
    R["mixed"] = sorted(u for u, hs in BODIES.items() if len(hs) > 1)
    R["seen"] = {v: sorted(n) for v, n in SEEN.items()}
    with open(a.out, "w") as f:
        json.dump(R, f, indent=1)


if __name__ == "__main__":
    main()
