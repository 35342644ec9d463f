#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that hangs up in the middle of the server's data.

usage: cutting_proxy.py UPSTREAM_HOST UPSTREAM_PORT CUT_AFTER PORT_FILE [LOG_FILE]

Forwards every accepted connection to UPSTREAM_HOST:UPSTREAM_PORT, both
ways, byte for byte (TLS passes through untouched). Once CUT_AFTER bytes
went from the server to the client on one connection, it forwards no more
and closes both sides: the client sees its connection end there, e.g. in
the middle of a big IMAP literal. CUT_AFTER 0 never cuts. The listening
port is written to PORT_FILE once the proxy accepts connections; each cut
is logged ("cut after N bytes") to LOG_FILE (default stderr). Runs until
killed.
"""
import os
import socket
import sys
import threading


def serve(client, upstream, cut_after, log):
    try:
        server = socket.create_connection(upstream)
    except OSError as e:
        log(f"upstream connect failed: {e}")
        client.close()
        return
    done = threading.Event()

    def pump(src, dst, limit):
        sent = 0
        try:
            while not done.is_set():
                data = src.recv(65536)
                if not data:
                    break
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

    up = threading.Thread(target=pump, args=(client, server, 0), daemon=True)
    up.start()
    pump(server, client, cut_after)
    up.join()
    client.close()
    server.close()


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit(__doc__)
    upstream = (sys.argv[1], int(sys.argv[2]))
    cut_after = int(sys.argv[3])
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
        threading.Thread(target=serve, args=(client, upstream, cut_after, log), daemon=True).start()


if __name__ == "__main__":
    main()
