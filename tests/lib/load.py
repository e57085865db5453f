#!/usr/bin/env python3
"""Load driver for the crash and soak tests: THREADS clients, each over its
own keep-alive HTTPS connections, POST the requests of a job list round
robin until DURATION seconds have passed or COUNT requests were sent, and
write one line per request to OUT (as they complete, so a run of a million
requests holds none of them in memory):

    <unix time> <job index> <HTTP status, 0 when no answer> <X-Request-Id, or
    "-", or "error:<exception class>" without an answer> <sha256 of body>

A job file has one job per line: URL CONTENT-TYPE BODY-FILE [CERT KEY]
(CERT/KEY: the TLS client certificate chain and key, for mutual TLS).
With --until-file the run also stops once that file exists (the crash test
kills the daemon and then creates it); --started-file is created when the
first answer arrives (requests are in flight from then on). Exit status 0; the caller judges the
log. Only loopback addresses are accepted as targets.
"""
import argparse
import hashlib
import http.client
import ipaddress
import socket
import ssl
import sys
import threading
import time
import urllib.parse


def parse_jobs(path):
    jobs = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            url = urllib.parse.urlsplit(parts[0])
            host = url.hostname
            if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
                sys.exit("load.py: %s is not a loopback address" % host)
            with open(parts[2], "rb") as b:
                body = b.read()
            cert = (parts[3], parts[4]) if len(parts) >= 5 else None
            jobs.append((host, url.port or 443, url.path, parts[1], body, cert))
    if not jobs:
        sys.exit("load.py: no jobs in %s" % path)
    return jobs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--count", type=int, default=0, help="stop after this many requests (0: no limit)")
    ap.add_argument("--until-file")
    ap.add_argument("--sticky", action="store_true",
                    help="client k sends only job k %% jobs, over one connection (the daemons "
                    "allow 64 connections per address: a client per pledge keeps within it)")
    ap.add_argument("--started-file", help="created once the first answer has arrived")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    jobs = parse_jobs(a.jobs)
    ctxs = {}
    for j in jobs:
        if j[5] not in ctxs:
            c = ssl.create_default_context(cafile=a.cacert)
            if j[5]:
                c.load_cert_chain(j[5][0], j[5][1])
            ctxs[j[5]] = c
    lock = threading.Lock()
    state = {"next": 0, "sent": 0}
    out = open(a.out, "w", buffering=1 << 20)
    deadline = time.monotonic() + a.duration

    def take(k):
        with lock:
            if a.count and state["sent"] >= a.count:
                return None
            state["sent"] += 1
            if a.sticky:
                return k % len(jobs)
            i = state["next"]
            state["next"] = (i + 1) % len(jobs)
            return i

    def stop():
        if time.monotonic() >= deadline:
            return True
        if a.until_file:
            try:
                open(a.until_file).close()
                return True
            except OSError:
                return False
        return False

    def worker(k):
        conns = {}
        while not stop():
            i = take(k)
            if i is None:
                break
            host, port, path, ctype, body, cert = jobs[i]
            key = (host, port, cert)
            status, rid, digest = 0, "-", "-"
            try:
                c = conns.get(key)
                if c is None:
                    c = http.client.HTTPSConnection(host, port, context=ctxs[cert], timeout=a.timeout)
                    conns[key] = c
                c.request("POST", path, body=body, headers={"Content-Type": ctype})
                r = c.getresponse()
                data = r.read()
                status = r.status
                rid = r.getheader("X-Request-Id") or "-"
                digest = hashlib.sha256(data).hexdigest()
                if a.started_file and not state.get("started"):
                    state["started"] = True
                    open(a.started_file, "w").close()
                if r.getheader("Connection", "").lower() == "close" or r.version == 10:
                    c.close()
                    conns.pop(key, None)
            except (OSError, http.client.HTTPException) as e:
                rid = "error:" + type(e).__name__
                # no answer: the daemon died or the connection broke; a new
                # connection next time
                c = conns.pop(key, None)
                if c is not None:
                    c.close()
                if a.until_file:
                    # the crash test's daemon is gone: do not spin
                    time.sleep(0.01)
            line = "%.3f %d %d %s %s\n" % (time.time(), i, status, rid, digest)
            with lock:
                out.write(line)
        for c in conns.values():
            c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


if __name__ == "__main__":
    main()
