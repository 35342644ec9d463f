#!/usr/bin/env python3
"""Load test for `mailkeep serve` (python3 standard library only; not a test).

N concurrent clients (threads, one keep-alive connection each) search and
open messages for a given time against a running server:

    serve_load.py --url http://127.0.0.1:PORT/ [--clients 50] [--duration 60] [--pid SERVER_PID]

Each client loops: GET /api/search?q=WORD&limit=20 (a word from --words),
then GET /api/message/ID of one of the results. Prints the requests made,
errors (anything but 200, or a failed connection), p50/p95/max of
/api/search and /api/message, the server's peak RSS (VmHWM of /proc/PID)
and the load average.
"""
import argparse
import http.client
import json
import random
import threading
import time
import urllib.parse

DEFAULT_WORDS = "invoice meeting report patch release thanks review question project update " \
                "from:example.com subject:re date:2021 has:attachment * kernel linux mips"


def client(url, words, stop_at, out, seed):
    rnd = random.Random(seed)
    parts = urllib.parse.urlsplit(url)
    conn = None
    while time.monotonic() < stop_at:
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            q = urllib.parse.quote(rnd.choice(words))
            t0 = time.monotonic()
            conn.request("GET", f"/api/search?q={q}&limit=20")
            resp = conn.getresponse()
            body = resp.read()
            out["search"].append(time.monotonic() - t0)
            if resp.status != 200:
                out["errors"].append(f"search {resp.status}")
                continue
            results = json.loads(body)["results"]
            if not results:
                continue
            t0 = time.monotonic()
            conn.request("GET", f"/api/message/{rnd.choice(results)['id']}")
            resp = conn.getresponse()
            resp.read()
            out["message"].append(time.monotonic() - t0)
            if resp.status != 200:
                out["errors"].append(f"message {resp.status}")
        except (OSError, http.client.HTTPException) as e:
            out["errors"].append(type(e).__name__)
            if conn is not None:
                conn.close()
            conn = None


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--pid", type=int, help="the server's process id, for its peak RSS")
    ap.add_argument("--words", default=DEFAULT_WORDS, help="queries to pick from, separated by spaces")
    args = ap.parse_args()
    words = args.words.split()
    stop_at = time.monotonic() + args.duration
    outs = [{"search": [], "message": [], "errors": []} for _ in range(args.clients)]
    threads = [threading.Thread(target=client, args=(args.url, words, stop_at, outs[i], i))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    search = [x for o in outs for x in o["search"]]
    message = [x for o in outs for x in o["message"]]
    errors = [x for o in outs for x in o["errors"]]
    print(f"clients {args.clients}, {args.duration:.0f} s: {len(search) + len(message)} requests "
          f"({(len(search) + len(message)) / args.duration:.0f}/s), {len(errors)} errors"
          + (f" (first: {errors[0]})" if errors else ""))
    for name, v in (("/api/search", search), ("/api/message", message)):
        print(f"{name}: {len(v)} requests, p50 {pct(v, 50):.1f} ms, p95 {pct(v, 95):.1f} ms, max {pct(v, 100):.1f} ms")
    if args.pid:
        with open(f"/proc/{args.pid}/status") as f:
            for line in f:
                if line.startswith(("VmHWM", "VmRSS")):
                    print("server " + " ".join(line.split()))
    with open("/proc/loadavg") as f:
        print("load average " + " ".join(f.read().split()[:3]))


if __name__ == "__main__":
    main()
