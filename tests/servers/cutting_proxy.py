#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that hangs up in the middle of the server's data,
or after some commands of the client.

usage: cutting_proxy.py UPSTREAM_HOST UPSTREAM_PORT CUT_AFTER PORT_FILE [LOG_FILE]

Forwards every accepted connection to UPSTREAM_HOST:UPSTREAM_PORT, both
ways, byte for byte (TLS passes through untouched). Once CUT_AFTER bytes
went from the server to the client on one connection, it forwards no more
and closes both sides: the client sees its connection end there, e.g. in
the middle of a big IMAP literal. CUT_AFTER 0 never cuts; "N@K" cuts
after N bytes on the first K connections only (a server that comes back
whole after one lost connection). CUT_AFTER
"lines:N" forwards N lines of the client on each connection and closes
both sides when the next one comes, as servers do that end a session after
N commands (Gmail, Office 365): the server gets the end of its input
after N lines, answers them and closes, and the proxy closes the client's
side then (what the client sends beyond N lines is dropped). It needs a
plaintext, uncompressed session (logged "cut after N lines"). The listening
port is written to PORT_FILE once the proxy accepts connections; each cut
is logged ("cut after N bytes") to LOG_FILE (default stderr). Runs until
killed.
"""
import os
import socket
import sys
import threading


def serve(client, upstream, cut_after, log):
    max_lines = 0
    if isinstance(cut_after, str):
        max_lines, cut_after = int(cut_after.split(":", 1)[1]), 0
    try:
        server = socket.create_connection(upstream)
    except OSError as e:
        log(f"upstream connect failed: {e}")
        client.close()
        return
    done = threading.Event()

    def pump(src, dst, limit, max_lines=0):
        sent = 0
        lines = 0
        try:
            while not done.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if max_lines:
                    at = 0
                    while lines < max_lines and (nl := data.find(b"\n", at)) >= 0:
                        lines += 1
                        at = nl + 1
                    if lines == max_lines and at < len(data):
                        # The server answers what it got, sees the end
                        # of input and closes; the rest is dropped.
                        dst.sendall(data[:at])
                        log(f"cut after {max_lines} lines")
                        dst.shutdown(socket.SHUT_WR)
                        while src.recv(65536):
                            pass
                        return
                if limit and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    log(f"cut after {limit} bytes")
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        done.set()
        for s in (client, server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    up = threading.Thread(target=pump, args=(client, server, 0, max_lines), daemon=True)
    up.start()
    pump(server, client, cut_after)
    up.join()
    client.close()
    server.close()


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    upstream = (sys.argv[1], int(sys.argv[2]))
    cut_after = sys.argv[3] if sys.argv[3].startswith("lines:") else int(sys.argv[3].split("@")[0])
    cut_connections = int(sys.argv[3].split("@")[1]) if "@" in sys.argv[3] else -1
    log_file = open(sys.argv[5], "a", buffering=1) if len(sys.argv) == 6 else sys.stderr
    lock = threading.Lock()

    def log(text):
        with lock:
            print(text, file=log_file, flush=True)

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    with open(sys.argv[4] + ".tmp", "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(sys.argv[4] + ".tmp", sys.argv[4])
    while True:
        client, _ = listener.accept()
        cut = cut_after if cut_connections != 0 else 0
        cut_connections -= cut_connections > 0
        threading.Thread(target=serve, args=(client, upstream, cut, log), daemon=True).start()


if __name__ == "__main__":
    main()
