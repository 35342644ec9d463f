#!/usr/bin/env python3
"""Load test for `mailkeep serve` (python3 standard library only; not a test).

N concurrent clients (one keep-alive connection each) search and open
messages for a given time against a running server:

    serve_load.py --url http://127.0.0.1:PORT/ [--clients 50] [--procs 4] [--duration 60] [--pid SERVER_PID]
    serve_load.py --url ... --single 20 [--pid SERVER_PID]   # one client, each query in turn

Each client loops: GET /api/search?q=WORD&limit=20 (a word from --words),
then GET /api/message/ID of one of the results. Every reply must be 200 with
a body that is valid JSON; anything else (or a failed connection) is an
error. The clients run as threads spread over --procs processes, with a short
GIL switch interval, so that the client's own scheduling adds little to what
it measures.

Printed: requests and errors; per endpoint p50/p95/max of the wall time the
client saw and of the server's own time (its Server-Timing header: waiting
for an archive session, running the handler); the client's CPU time; with
--pid the server's CPU time per request (utime + stime from /proc/PID/stat,
before and after) and its peak RSS (VmHWM); the load average before and after.
--single prints, per query, the matches and the median wall and handler time
of that many requests made one after another.
"""
import argparse
import http.client
import json
import multiprocessing
import os
import random
import resource
import sys
import threading
import time
import urllib.parse

DEFAULT_WORDS = "invoice meeting report patch release thanks review question project update " \
                "from:example.com subject:re date:2021 has:attachment * kernel linux mips"


def server_timing(resp):
    """(wait, app) in seconds from a Server-Timing header; None when absent."""
    got = {}
    for item in (resp.getheader("Server-Timing") or "").split(","):
        name, _, dur = item.strip().partition(";dur=")
        try:
            got[name] = float(dur) / 1000
        except ValueError:
            pass
    return (got["wait"], got["app"]) if "wait" in got and "app" in got else None


def get_json(conn, target, kind, out):
    """GETs `target`; records wall time and Server-Timing under `kind`;
    returns the decoded body, or None after recording an error."""
    t0 = time.perf_counter()
    conn.request("GET", target)
    resp = conn.getresponse()
    body = resp.read()
    out[kind].append(time.perf_counter() - t0)
    timing = server_timing(resp)
    if timing:
        out[kind + "_wait"].append(timing[0])
        out[kind + "_app"].append(timing[1])
    if resp.status != 200:
        out["errors"].append(f"{kind} {resp.status}")
        return None
    try:
        return json.loads(body)
    except ValueError:
        out["errors"].append(f"{kind}: body is not JSON")
        return None


def client(host, port, words, stop_at, out, seed):
    rnd = random.Random(seed)
    conn = None
    while time.monotonic() < stop_at:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=30)
            q = urllib.parse.quote(rnd.choice(words))
            found = get_json(conn, f"/api/search?q={q}&limit=20", "search", out)
            if not found or not found["results"]:
                continue
            get_json(conn, f"/api/message/{rnd.choice(found['results'])['id']}", "message", out)
        except (OSError, http.client.HTTPException) as e:
            out["errors"].append(type(e).__name__)
            if conn is not None:
                conn.close()
            conn = None


KINDS = ("search", "search_wait", "search_app", "message", "message_wait", "message_app", "errors")


def worker(host, port, words, stop_at, first_seed, n, queue):
    """One process: `n` client threads; puts their merged results on `queue`."""
    sys.setswitchinterval(0.0005)
    outs = [{k: [] for k in KINDS} for _ in range(n)]
    threads = [threading.Thread(target=client, args=(host, port, words, stop_at, outs[i], first_seed + i))
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put({k: [x for o in outs for x in o[k]] for k in KINDS})


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


def cpu_ticks(pid):
    """utime + stime of process `pid`, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def single(host, port, words, n):
    conn = http.client.HTTPConnection(host, port, timeout=30)
    print(f"{'query':<20} {'total':>7} {'wall p50 ms':>12} {'app p50 ms':>11}")
    for w in words:
        out = {k: [] for k in KINDS}
        found = None
        for _ in range(n):
            found = get_json(conn, f"/api/search?q={urllib.parse.quote(w)}&limit=20", "search", out)
        total = found["total"] if found else "error"
        print(f"{w:<20} {total:>7} {pct(out['search'], 50):>12.2f} {pct(out['search_app'], 50):>11.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--procs", type=int, default=4, help="client processes the clients are spread over")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--pid", type=int, help="the server's process id, for its CPU time and peak RSS")
    ap.add_argument("--words", default=DEFAULT_WORDS, help="queries to pick from, separated by spaces")
    ap.add_argument("--single", type=int, metavar="N", help="one client: N requests per query, in turn")
    args = ap.parse_args()
    parts = urllib.parse.urlsplit(args.url)
    words = args.words.split()
    if args.single:
        single(parts.hostname, parts.port, words, args.single)
        return
    procs = max(1, min(args.procs, args.clients))
    load_before = loadavg()
    server_before = cpu_ticks(args.pid) if args.pid else 0
    stop_at = time.monotonic() + args.duration
    queue = multiprocessing.Queue()
    workers, first = [], 0
    for i in range(procs):
        n = args.clients // procs + (1 if i < args.clients % procs else 0)
        workers.append(multiprocessing.Process(target=worker,
                                               args=(parts.hostname, parts.port, words, stop_at, first, n, queue)))
        first += n
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    got = {k: [x for r in results for x in r[k]] for k in KINDS}
    requests = len(got["search"]) + len(got["message"])
    errors = got["errors"]
    print(f"clients {args.clients} in {procs} processes, {args.duration:.0f} s: {requests} requests "
          f"({requests / args.duration:.0f}/s), {len(errors)} errors" + (f" (first: {errors[0]})" if errors else ""))
    for name in ("search", "message"):
        v, wait, app = got[name], got[name + "_wait"], got[name + "_app"]
        print(f"/api/{name}: {len(v)} requests; wall p50 {pct(v, 50):.1f} ms, p95 {pct(v, 95):.1f} ms, "
              f"max {pct(v, 100):.1f} ms; server: handler p50 {pct(app, 50):.1f} ms, p95 {pct(app, 95):.1f} ms, "
              f"session wait p95 {pct(wait, 95):.1f} ms")
    client_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_s = client_cpu.ru_utime + client_cpu.ru_stime
    print(f"client CPU {client_s:.1f} s ({client_s / args.duration * 100:.0f}% of a core, "
          f"{client_s / max(requests, 1) * 1000:.2f} ms per request)")
    if args.pid:
        server_s = (cpu_ticks(args.pid) - server_before) / os.sysconf("SC_CLK_TCK")
        print(f"server CPU {server_s:.1f} s ({server_s / args.duration * 100:.0f}% of a core, "
              f"{server_s / max(requests, 1) * 1000:.2f} ms per request)")
        with open(f"/proc/{args.pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM", "VmRSS")):
                    print("server " + " ".join(line.split()))
    print(f"load average before {load_before}, after {loadavg()}; {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
