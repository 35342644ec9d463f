#!/usr/bin/env python3
"""Hostile POP3 / IMAP servers on 127.0.0.1, for tests only: each scenario
does one thing no real server does, to check that mailkeep's memory and time
stay bounded by its own limits, never by what a server claims.

usage: hostile_server.py SCENARIO PORT_FILE [CERT KEY]

Listens on a free port of 127.0.0.1, writes it to PORT_FILE once it accepts
connections, and serves every connection (one thread each) until killed.
Any user and password log in. Plain TCP only; the IMAP scenarios may go on
under COMPRESS=DEFLATE. Scenarios:

  pop3-good            one ordinary message
  pop3-huge-numbers    UIDL / LIST number messages 1 and 2147483647
  pop3-huge-sizes      LIST claims ~1 GiB for each of 8 small messages
  pop3-endless-capa    CAPA never ends (before login; offers STLS first)
  pop3-endless-uidl    UIDL never ends
  pop3-drip            the CAPA reply comes one byte every 2 s, forever
  pop3-tls-drip        implicit TLS (CERT, KEY); the greeting is one TLS
                       record whose bytes come one every 2 s
  imap-endless-list    LIST never ends
  imap-ok-forever      "* OK" lines during LIST, 50 a second, forever
  imap-drip            the LIST reply comes one byte every 2 s, forever
  imap-endless-flags   UID FETCH 1:* (UID FLAGS ...) never ends (new UIDs)
  imap-lying-size      40 messages claim RFC822.SIZE 100, are 14 MiB each,
                       and come in reverse UID order
  imap-lying-size-deflate   the same after COMPRESS=DEFLATE
  imap-volatile        folders INBOX, Broken, Later: every EXAMINE / SELECT
                       reports a new UIDVALIDITY (as Courier and Mailutils
                       do until a folder is opened read-write); INBOX and
                       Later hold 3 messages each at UIDs 1-3, Broken
                       cannot be opened (NO)
"""
import base64
import binascii
import os
import re
import socket
import ssl
import sys
import threading
import time
import zlib

MESSAGE = (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hello\r\n"
           b"Message-ID: <hostile-1@example.com>\r\n\r\nbody\r\n")


class Peer:
    """One connection: lines in, bytes out; deflate both ways once asked."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.inflate = None
        self.deflate = None

    def send(self, data):
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def start_deflate(self):
        self.inflate = zlib.decompressobj(-15)
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.buf = self.inflate.decompress(self.buf)

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += self.inflate.decompress(data) if self.inflate else data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def read(self, n):
        """Exactly n bytes (a literal)."""
        while len(self.buf) < n:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError
            self.buf += self.inflate.decompress(data) if self.inflate else data
        data, self.buf = self.buf[:n], self.buf[n:]
        return data


def forever(peer, make_line, pause=0.0):
    """Sends make_line(i) for i = 1, 2, ... until the client hangs up."""
    i = 0
    batch = 1 if pause else 1000
    while True:
        peer.send(b"".join(make_line(i + k) for k in range(1, batch + 1)))
        i += batch
        if pause:
            time.sleep(pause)


def drip(peer, data=b"X"):
    while True:
        for b in data:
            peer.send(bytes([b]))
            time.sleep(2)


# --- POP3 ------------------------------------------------------------------

def pop3(peer, scenario):
    peer.send(b"+OK hostile POP3 ready\r\n")
    messages = {1: MESSAGE}
    sizes = {1: len(MESSAGE)}
    if scenario == "pop3-huge-numbers":
        messages = {1: MESSAGE, 2147483647: MESSAGE.replace(b"hostile-1", b"hostile-2")}
        sizes = {n: len(m) for n, m in messages.items()}
    elif scenario == "pop3-huge-sizes":
        messages = {n: MESSAGE.replace(b"hostile-1", b"hostile-%d" % n) for n in range(1, 9)}
        sizes = {n: 1073741823 for n in messages}
    elif scenario == "pop3-lying-small":  # LIST says 100 bytes; RETR sends 5 MiB
        messages = {1: MESSAGE + (b"y" * 998 + b"\r\n") * 5250}
        sizes = {1: 100}
    while True:
        cmd = peer.line().split(" ")
        verb = cmd[0].upper()
        if verb == "CAPA":
            if scenario == "pop3-endless-capa":
                peer.send(b"+OK\r\nSTLS\r\nUSER\r\nUIDL\r\n")
                forever(peer, lambda i: b"X-FILLER-%d %s\r\n" % (i, b"y" * 60))
            if scenario == "pop3-drip":
                peer.send(b"+OK\r\nUSER\r\n")
                drip(peer)
            peer.send(b"+OK\r\nUSER\r\nUIDL\r\n.\r\n")
        elif verb in ("USER", "PASS", "NOOP", "DELE", "RSET"):
            peer.send(b"+OK\r\n")
        elif verb == "STAT":
            peer.send(b"+OK %d %d\r\n" % (len(messages), sum(sizes.values())))
        elif verb == "UIDL":
            if scenario == "pop3-endless-uidl":
                peer.send(b"+OK\r\n")
                forever(peer, lambda i: b"%d uid-%d\r\n" % (i, i))
            peer.send(b"+OK\r\n" + b"".join(b"%d u%d\r\n" % (n, n) for n in messages) + b".\r\n")
        elif verb == "LIST":
            peer.send(b"+OK\r\n" + b"".join(b"%d %d\r\n" % (n, sizes[n]) for n in messages) + b".\r\n")
        elif verb == "RETR":
            body = messages.get(int(cmd[1]))
            if body is None:
                peer.send(b"-ERR no such message\r\n")
            else:
                peer.send(b"+OK\r\n" + body + b".\r\n")
        elif verb == "QUIT":
            peer.send(b"+OK bye\r\n")
            return
        else:
            peer.send(b"-ERR unknown command\r\n")


def tls_drip(sock, cert, key):
    """Handshake through memory BIOs, then one record dripped byte by byte."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_side=True)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            sock.sendall(outgoing.read())
            data = sock.recv(65536)
            if not data:
                raise EOFError
            incoming.write(data)
    sock.sendall(outgoing.read())
    tls.write(b"+OK hostile POP3 ready, at the pace of a byte every two seconds\r\n")
    for b in outgoing.read():
        sock.sendall(bytes([b]))
        time.sleep(2)


# --- IMAP ------------------------------------------------------------------

LYING_COUNT = 40
LYING_BODY_BYTES = 14 << 20


def lying_body(uid):
    head = b"From: a@example.com\r\nSubject: big %d\r\nMessage-ID: <big-%d@example.com>\r\n\r\n" % (uid, uid)
    line = b"x" * 998 + b"\r\n"
    return head + line * ((LYING_BODY_BYTES - len(head)) // len(line))


def imap(peer, scenario):
    caps = b"IMAP4rev1 LITERAL+ UIDPLUS"
    if scenario == "imap-lying-size-deflate":
        caps += b" COMPRESS=DEFLATE"
    peer.send(b"* OK [CAPABILITY " + caps + b"] hostile IMAP ready\r\n")
    count = LYING_COUNT if scenario.startswith("imap-lying-size") else 1 if scenario == "imap-endless-flags" else 0
    while True:
        line = peer.line()
        m = re.match(r"(\S+) (UID \S+|\S+) ?(.*)", line)
        if not m:
            continue
        tag, verb, rest = m.group(1).encode(), m.group(2).upper(), m.group(3)
        ok = tag + b" OK done\r\n"
        if verb == "CAPABILITY":
            peer.send(b"* CAPABILITY " + caps + b"\r\n" + ok)
        elif verb == "LOGIN":
            peer.send(tag + b" OK [CAPABILITY " + caps + b"] logged in\r\n")
        elif verb == "COMPRESS":
            peer.send(ok)
            peer.start_deflate()
        elif verb == "LIST":
            if scenario == "imap-endless-list":
                forever(peer, lambda i: b'* LIST () "/" "folder-%d-%s"\r\n' % (i, b"z" * 40))
            if scenario == "imap-ok-forever":
                forever(peer, lambda i: b"* OK still listing %d\r\n" % i, pause=0.02)
            if scenario == "imap-drip":
                peer.send(b'* LIST () "/" ')
                drip(peer)
            peer.send(b'* LIST () "/" INBOX\r\n' + ok)
        elif verb in ("EXAMINE", "SELECT"):
            peer.send(b"* %d EXISTS\r\n* OK [UIDVALIDITY 7] x\r\n* OK [UIDNEXT %d] x\r\n" % (count, count + 1) +
                      tag + (b" OK [READ-ONLY] done\r\n" if verb == "EXAMINE" else b" OK [READ-WRITE] done\r\n"))
        elif verb == "UID FETCH":
            spec, _, items = rest.partition(" ")
            uids = uid_set(spec, LYING_COUNT)
            if scenario == "imap-endless-flags":
                forever(peer, lambda i: b"* %d FETCH (UID %d FLAGS (\\Seen) RFC822.SIZE 1)\r\n" % (i, i))
            if "BODY" not in items.upper():
                peer.send(b"".join(b"* %d FETCH (UID %d FLAGS () RFC822.SIZE 100)\r\n" % (u, u) for u in uids) + ok)
            else:
                for u in reversed(uids):
                    body = lying_body(u)
                    peer.send(b'* %d FETCH (UID %d FLAGS () INTERNALDATE "01-Jan-2020 00:00:00 +0000" '
                              b"RFC822.SIZE 100 BODY[] {%d}\r\n" % (u, u, len(body)) + body + b")\r\n")
                peer.send(ok)
        elif verb == "LOGOUT":
            peer.send(b"* BYE bye\r\n" + ok)
            return
        else:  # NOOP, ENABLE, UNSELECT, CLOSE, CHECK ...
            peer.send(ok)


# --- A small read-only IMAP mailbox (imap-volatile, throttling_server.py) ---

def uid_set(spec, count):
    """The UIDs 1..count that a UID set ("1:3,5", "2:*") names, sorted."""
    uids = set()
    for item in spec.split(","):
        lo, _, hi = item.partition(":")
        lo = count if lo == "*" else int(lo)
        hi = count if hi == "*" else int(hi or lo)
        uids.update(u for u in range(min(lo, hi), max(lo, hi) + 1) if 1 <= u <= count)
    return sorted(uids)


def sasl_login(peer, mechanism, initial):
    """The user an AUTHENTICATE PLAIN or LOGIN exchange names (any password
    is right), or None when the client sent something malformed or "*"."""
    pending = [initial] if initial is not None else []

    def answer(prompt):  # the initial response (SASL-IR) answers the first prompt
        if pending:
            return pending.pop()
        peer.send(b"+ " + prompt + b"\r\n")
        return peer.line()
    try:
        if mechanism == "PLAIN":
            parts = base64.b64decode(answer(b""), validate=True).split(b"\0")
            return parts[1] if len(parts) == 3 and parts[1] and parts[2] else None
        if mechanism == "LOGIN":
            user = base64.b64decode(answer(b"VXNlcm5hbWU6"), validate=True)
            password = base64.b64decode(answer(b"UGFzc3dvcmQ6"), validate=True)
            return user if user and password else None
    except (ValueError, binascii.Error):
        return None
    return None


def mailbox_imap(peer, greeting, folders, message, refuse=None, uidvalidity=None, sasl=(), on_append=None):
    """Serves a mailbox over peer until LOGOUT. folders: each folder LIST
    shows and its message count (UIDs 1..count; None: listed, but EXAMINE
    and SELECT get NO). message(folder, uid): its bytes. refuse(verb,
    folder, items): None, or a refusal (b"NO ..." / b"BAD ...") sent
    instead of the answer to an AUTHENTICATE (folder None), EXAMINE, SELECT
    or UID FETCH. uidvalidity(folder): the UIDVALIDITY of this selection
    (default 7). sasl: the AUTHENTICATE mechanisms offered (PLAIN, LOGIN;
    with SASL-IR), and then LOGINDISABLED; any user and password log in.
    on_append(folder, bytes): stores an APPENDed message and returns its
    UID (None: no such folder); refuse is asked first, with verb APPEND.
    Without it APPEND is not served."""
    caps = b"IMAP4rev1 LITERAL+ UIDPLUS" + b"".join(b" AUTH=" + m.encode() for m in sasl) + (
        b" SASL-IR LOGINDISABLED" if sasl else b"")
    peer.send(b"* OK [CAPABILITY " + caps + b"] " + greeting + b"\r\n")
    folder = None
    while True:
        m = re.match(r"(\S+) (UID \S+|\S+) ?(.*)", peer.line())
        if not m:
            continue
        tag, verb, rest = m.group(1).encode(), m.group(2).upper(), m.group(3)
        ok = tag + b" OK done\r\n"
        if verb == "LOGIN" and sasl:
            peer.send(tag + b" NO LOGIN is disabled: use AUTHENTICATE\r\n")
        elif verb == "LOGIN":
            peer.send(tag + b" OK [CAPABILITY " + caps + b"] logged in\r\n")
        elif verb == "AUTHENTICATE":
            mechanism, _, initial = rest.partition(" ")
            mechanism = mechanism.upper()
            if mechanism not in sasl:
                peer.send(tag + b" NO [CANNOT] mechanism not offered\r\n")
                continue
            user = sasl_login(peer, mechanism, initial.encode() if initial else None)
            refusal = refuse and refuse(verb, None, mechanism)
            if user is None:
                peer.send(tag + b" BAD malformed or cancelled AUTHENTICATE\r\n")
            elif refusal:
                peer.send(tag + b" " + refusal + b"\r\n")
            else:
                peer.send(tag + b" OK [CAPABILITY " + caps + b"] logged in as " + user + b"\r\n")
        elif verb == "LIST":
            peer.send(b"".join(b'* LIST () "/" %s\r\n' % f.encode() for f in folders) + ok)
        elif verb in ("EXAMINE", "SELECT"):
            folder = rest.split(" ")[0].strip('"')
            refusal = b"NO cannot open that folder" if folders.get(folder) is None else refuse and refuse(verb, folder, "")
            if refusal:
                folder = None
                peer.send(tag + b" " + refusal + b"\r\n")
                continue
            n = folders[folder]
            peer.send(b"* %d EXISTS\r\n* OK [UIDVALIDITY %d] x\r\n* OK [UIDNEXT %d] x\r\n" % (
                n, uidvalidity(folder) if uidvalidity else 7, n + 1) +
                tag + (b" OK [READ-ONLY] done\r\n" if verb == "EXAMINE" else b" OK [READ-WRITE] done\r\n"))
        elif verb == "UID FETCH" and folder:
            spec, _, items = rest.partition(" ")
            refusal = refuse and refuse(verb, folder, items.upper())
            if refusal:
                peer.send(tag + b" " + refusal + b"\r\n")
                continue
            out = b""
            for u in uid_set(spec, folders[folder]):
                body = message(folder, u)
                attrs = b'UID %d FLAGS (\\Seen) INTERNALDATE "01-Jan-2024 00:00:0%d +0000" RFC822.SIZE %d' % (
                    u, u, len(body))
                if "BODY" in items.upper():
                    attrs += b" BODY[] {%d}\r\n" % len(body) + body
                out += b"* %d FETCH (%s)\r\n" % (u, attrs)
            peer.send(out + ok)
        elif verb == "APPEND" and on_append:
            m = re.match(r'("[^"]*"|\S+) .*\{(\d+)(\+?)\}$', rest)
            if not m:
                peer.send(tag + b" BAD malformed APPEND\r\n")
                continue
            if not m.group(3):
                peer.send(b"+ go ahead\r\n")
            data = peer.read(int(m.group(2)))
            peer.line()  # the end of the command
            target = m.group(1).strip('"')
            refusal = refuse and refuse(verb, target, "")
            uid = None if refusal else on_append(target, data)
            if refusal:
                peer.send(tag + b" " + refusal + b"\r\n")
            elif uid is None:
                peer.send(tag + b" NO [TRYCREATE] no such folder\r\n")
            else:
                peer.send(tag + b" OK [APPENDUID %d %d] done\r\n" % (uidvalidity(target) if uidvalidity else 7, uid))
        elif verb == "LOGOUT":
            peer.send(b"* BYE bye\r\n" + ok)
            return
        else:  # CAPABILITY, NOOP, UNSELECT, CLOSE, UID STORE, EXPUNGE ...
            peer.send((b"* CAPABILITY " + caps + b"\r\n" if verb == "CAPABILITY" else b"") + ok)


VOLATILE_FOLDERS = {"INBOX": 3, "Broken": None, "Later": 3}
volatile_uidvalidity = iter(range(1000, 1 << 31))
volatile_lock = threading.Lock()


def volatile_message(folder, uid):
    return (b"From: a@example.com\r\nTo: b@example.com\r\nSubject: %s %d\r\n"
            b"Message-ID: <volatile-%s-%d@example.com>\r\n\r\nbody %d\r\n" % (
                folder.encode(), uid, folder.encode(), uid, uid))


def next_uidvalidity(folder):
    with volatile_lock:
        return next(volatile_uidvalidity)


def volatile_imap(peer):
    """imap-volatile: one folder open at a time; a new UIDVALIDITY each time."""
    mailbox_imap(peer, b"volatile IMAP ready", VOLATILE_FOLDERS, volatile_message, uidvalidity=next_uidvalidity)


def serve(conn, scenario, tls_files):
    peer = Peer(conn)
    try:
        if scenario == "pop3-tls-drip":
            tls_drip(conn, *tls_files)
        elif scenario.startswith("pop3"):
            pop3(peer, scenario)
        elif scenario == "imap-volatile":
            volatile_imap(peer)
        else:
            imap(peer, scenario)
    except (EOFError, OSError, ValueError, ssl.SSLError):
        pass
    finally:
        conn.close()


def listen_and_serve(port_file, handler, *args):
    """Listens on a free port of 127.0.0.1, writes the port to port_file
    (atomically), and runs handler(conn, *args) in a thread per connection."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(listener.getsockname()[1]))
    os.rename(tmp, port_file)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handler, args=(conn, *args), daemon=True).start()


def main():
    if len(sys.argv) not in (3, 5):
        sys.exit(__doc__)
    scenario, port_file, tls_files = sys.argv[1], sys.argv[2], sys.argv[3:]
    listen_and_serve(port_file, serve, scenario, tls_files)


if __name__ == "__main__":
    main()
