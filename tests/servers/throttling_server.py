#!/usr/bin/env python3
"""Throttling IMAP and POP3 servers on 127.0.0.1, for tests only: they
refuse chosen commands the way Office 365 does when it throttles, then
serve a small real mailbox. No real server here throttles like that.

usage: throttling_server.py SCENARIO PORT_FILE

Listens on a free port of 127.0.0.1, writes it to PORT_FILE once it accepts
connections, and serves every connection (one thread each) until killed.
Any user and password log in. Plain TCP. What was refused is remembered
for the server's life, so a second run of a client sees what comes next.
The mailbox: INBOX with 5 messages, Archive with 3 (POP3: the 5 of INBOX).
Scenarios:

  imap-short   the first EXAMINE of INBOX gets "NO [THROTTLED] ... Suggested
               Backoff Time: 200 milliseconds", the first body FETCH of
               Archive "BAD Request is throttled. Suggested Backoff Time:
               200 milliseconds"; everything works once asked again
  imap-long    the first body FETCH of Archive gets "NO [THROTTLED] Request
               is throttled. Suggested Backoff Time: 299961 milliseconds"
  pop3-short   the first UIDL and the first RETR 2 get "-ERR [THROTTLED]
               ... Suggested Backoff Time: 200 milliseconds" (PIPELINING
               offered: RETR 3 to 5 are on their way and answered)
  pop3-long    the first RETR 3 gets "-ERR Request is throttled. Suggested
               Backoff Time: 299961 milliseconds"
  imap-auth-short   AUTHENTICATE PLAIN and LOGIN, no LOGIN command: the first
               AUTHENTICATE gets "NO [THROTTLED] ... Suggested Backoff Time:
               200 milliseconds", the second "BAD Request is throttled ...";
               the third logs in
  imap-auth-long    the first AUTHENTICATE gets "NO [THROTTLED] Request is
               throttled. Suggested Backoff Time: 299961 milliseconds"
  imap-slow    no throttling; each greeting comes after 300 ms, so that
               clients connecting at once overlap
  imap-append-short  APPEND is served (to INBOX and Archive); the second
               APPEND gets "NO [THROTTLED] ... Suggested Backoff Time: 200
               milliseconds"
  imap-append-long   the third APPEND gets "NO [THROTTLED] Request is
               throttled. Suggested Backoff Time: 299961 milliseconds"

Messages APPENDed (and kept) so far: PORT_FILE.appended holds their count
and the count of distinct ones ("N D").

The most connections open at once so far is kept in PORT_FILE.max.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_server import Peer, listen_and_serve, mailbox_imap  # noqa: E402

FOLDERS = {"INBOX": 5, "Archive": 3}
UIDVALIDITY = 7


def message(folder, uid):
    return (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: %s %d\r\n"
            b"Message-ID: <throttled-%s-%d@example.com>\r\n\r\nbody of %s %d\r\n" % (
                folder.encode(), uid, folder.encode(), uid, folder.encode(), uid))


SHORT = b"Request is throttled. Suggested Backoff Time: 200 milliseconds"
LONG = b"Request is throttled. Suggested Backoff Time: 299961 milliseconds"

given = set()  # refusals already sent (each is sent once in the server's life)
given_lock = threading.Lock()


def refuse_once(name):
    with given_lock:
        if name in given:
            return False
        given.add(name)
        return True


def imap_refusal(scenario):
    """What the IMAP scenario refuses (see mailbox_imap's refuse)."""
    def refuse(verb, folder, items):
        if verb == "AUTHENTICATE" and scenario == "imap-auth-short":
            if refuse_once("auth-1"):
                return b"NO [THROTTLED] " + SHORT
            if refuse_once("auth-2"):
                return b"BAD " + SHORT
        if verb == "AUTHENTICATE" and scenario == "imap-auth-long" and refuse_once("auth"):
            return b"NO [THROTTLED] " + LONG
        if verb == "APPEND" and scenario == "imap-append-short" and len(appended) == 1 and refuse_once("append"):
            return b"NO [THROTTLED] " + SHORT
        if verb == "APPEND" and scenario == "imap-append-long" and len(appended) == 2 and refuse_once("append"):
            return b"NO [THROTTLED] " + LONG
        if verb in ("EXAMINE", "SELECT") and scenario == "imap-short" and folder == "INBOX" and refuse_once("examine"):
            return b"NO [THROTTLED] " + SHORT
        if verb == "UID FETCH" and "BODY" in items and folder == "Archive":
            if scenario == "imap-short" and refuse_once("fetch"):
                return b"BAD " + SHORT
            if scenario == "imap-long" and refuse_once("fetch"):
                return b"NO [THROTTLED] " + LONG
        return None
    return refuse


def pop3(peer, scenario):
    peer.send(b"+OK throttling POP3 ready\r\n")
    messages = {n: message("INBOX", n) for n in range(1, FOLDERS["INBOX"] + 1)}
    while True:
        cmd = peer.line().split(" ")
        verb = cmd[0].upper()
        if verb == "CAPA":
            peer.send(b"+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n")
        elif verb in ("USER", "PASS", "NOOP", "DELE", "RSET"):
            peer.send(b"+OK\r\n")
        elif verb == "UIDL":
            if scenario == "pop3-short" and refuse_once("uidl"):
                peer.send(b"-ERR [THROTTLED] " + SHORT + b"\r\n")
                continue
            peer.send(b"+OK\r\n" + b"".join(b"%d u%d\r\n" % (n, n) for n in messages) + b".\r\n")
        elif verb == "LIST":
            peer.send(b"+OK\r\n" + b"".join(b"%d %d\r\n" % (n, len(m)) for n, m in messages.items()) + b".\r\n")
        elif verb == "RETR":
            n = int(cmd[1])
            if scenario == "pop3-short" and n == 2 and refuse_once("retr"):
                peer.send(b"-ERR [THROTTLED] " + SHORT + b"\r\n")
            elif scenario == "pop3-long" and n == 3 and refuse_once("retr"):
                peer.send(b"-ERR " + LONG + b"\r\n")
            elif n in messages:
                peer.send(b"+OK\r\n" + messages[n] + b".\r\n")
            else:
                peer.send(b"-ERR no such message\r\n")
        elif verb == "QUIT":
            peer.send(b"+OK bye\r\n")
            return
        else:
            peer.send(b"-ERR unknown command\r\n")


appended = []  # the messages APPENDed so far


def store(port_file):
    """mailbox_imap's on_append: keeps the message in its folder."""
    def on_append(folder, data):
        with given_lock:
            if folder not in FOLDERS:
                return None
            FOLDERS[folder] += 1
            appended.append(data)
            with open(port_file + ".appended.tmp", "w") as f:
                f.write("%d %d" % (len(appended), len(set(appended))))
            os.rename(port_file + ".appended.tmp", port_file + ".appended")
            return FOLDERS[folder]
    return on_append


open_now = 0
open_max = 0


def count(port_file, change):
    global open_now, open_max
    with given_lock:
        open_now += change
        if open_now > open_max:
            open_max = open_now
            with open(port_file + ".max.tmp", "w") as f:
                f.write(str(open_max))
            os.rename(port_file + ".max.tmp", port_file + ".max")


def serve(conn, scenario, port_file):
    peer = Peer(conn)
    count(port_file, 1)
    try:
        if scenario == "imap-slow":
            time.sleep(0.3)
        if scenario.startswith("pop3"):
            pop3(peer, scenario)
        else:
            sasl = ("PLAIN", "LOGIN") if scenario.startswith("imap-auth") else ()
            mailbox_imap(peer, b"throttling IMAP ready", FOLDERS, message, imap_refusal(scenario), sasl=sasl,
                         on_append=store(port_file) if scenario.startswith("imap-append") else None)
    except (EOFError, OSError, ValueError):
        pass
    finally:
        conn.close()
        count(port_file, -1)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in (
            "imap-short", "imap-long", "imap-auth-short", "imap-auth-long", "pop3-short", "pop3-long", "imap-slow",
            "imap-append-short", "imap-append-long"):
        sys.exit(__doc__)
    scenario, port_file = sys.argv[1], sys.argv[2]
    listen_and_serve(port_file, serve, scenario, port_file)


if __name__ == "__main__":
    main()
