#!/usr/bin/python3
"""An SMTP receiver for tests, on 127.0.0.1 (or --host), built on aiosmtpd 1.4.3.

Run it with /usr/bin/python3 (Debian's python3-aiosmtpd); the pyenv python3
on PATH does not have the module.

  smtp_receiver.py --dir DIR [--host ADDR] [--port N] [--starttls CERT KEY | --implicit-tls CERT KEY]
                   [--auth USER:PASSWORD]... [--auth-plaintext]
                   [--refuse ADDR]... [--defer ADDR]... [--size N] [--hide KEYWORD]...
  smtp_receiver.py --self-test        checks the receiver itself with smtplib

--dir DIR          where everything goes (created if missing). When it
                   listens, DIR/pid and then DIR/port (the port, written
                   atomically: wait for this file) appear.
--host ADDR        the address to listen on (default 127.0.0.1). Any
                   127.x.y.z works on Linux, so receivers on 127.0.0.1 and
                   127.0.0.4 can share one port (MX records carry no port).
--port N           0 (default) = a free port.
--starttls CERT KEY  offer STARTTLS with this certificate (chain) and key.
--implicit-tls CERT KEY  TLS from the first byte (as on port 465).
--auth USER:PASSWORD  real AUTH PLAIN, LOGIN and CRAM-MD5 against these
                   users (repeatable); MAIL then needs AUTH. AUTH is offered
                   only over TLS, unless --auth-plaintext.
--refuse ADDR      answer RCPT for ADDR with 550 5.1.1 (repeatable).
--defer ADDR       answer RCPT for ADDR with 450 4.2.1 (repeatable).
--size N           announce SIZE N and refuse bigger messages (552);
                   default 33554432, aiosmtpd's.
--hide KEYWORD     leave an EHLO keyword out (PIPELINING, DSN, 8BITMIME,
                   SMTPUTF8, SIZE, ENHANCEDSTATUSCODES, AUTH, STARTTLS);
                   parameters of a hidden extension are then refused (555),
                   and a hidden SMTPUTF8 makes non-ASCII commands an error.

Offered besides aiosmtpd's own keywords: PIPELINING (aiosmtpd reads
commands in order anyway), DSN and ENHANCEDSTATUSCODES. The MAIL and RCPT
commands are parsed here, not by aiosmtpd, because aiosmtpd upper-cases
parameter values, refuses DSN parameters (555) and refuses MAIL FROM:<>.

Each accepted message (a reply of 250 to the final "."):
  DIR/NNNN.eml   the message as received: DATA with the dot-stuffing
                 removed and CRLF line ends as sent (aiosmtpd's
                 envelope.original_content, byte-exact), without the final
                 ".\\r\\n"
  DIR/NNNN.json  {"mail_from", "mail_params": ["SIZE=12", "RET=HDRS", ...],
                  "rcpt_tos": [{"address", "params": [...]}, ...],
                  "refused": [{"address", "reply"}, ...],
                  "auth_login", "auth_mechanism", "tls" ("TLSv1.3" or null),
                  "helo", "esmtp", "session", "size"}
                 parameters exactly as sent (case kept); written after the .eml
NNNN counts from 0001 over all sessions. DIR/receiver.log has aiosmtpd's
log. SIGTERM or SIGINT stops it, and so does its parent's exit (a test that
crashed leaves no server behind).
"""

import argparse
import asyncio
import collections
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import ssl
import sys
import warnings

try:
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, MISSING
except ImportError:  # reported by main(); the self-test and the C++ test skip on it
    SMTP = object
    AuthResult = Envelope = MISSING = None


def split_path(text):
    """'<a@b> P1 P2' -> ('a@b', ['P1', 'P2']); (None, None) when malformed."""
    s = text.lstrip(" ")
    if not s.startswith("<"):
        return None, None
    i, quoted = 1, False
    while i < len(s):
        c = s[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == ">":
            break
        i += 1
    if i >= len(s):
        return None, None
    rest = s[i + 1:]
    if rest and not rest.startswith(" "):
        return None, None
    return s[1:i], rest.split()


class Config:
    def __init__(self, args):
        self.dir = args.dir
        self.users = {}
        for spec in args.auth or []:
            user, _, password = spec.partition(":")
            self.users[user] = password
        self.auth_plaintext = args.auth_plaintext
        self.refuse = {a.lower() for a in args.refuse or []}
        self.defer = {a.lower() for a in args.defer or []}
        self.size = args.size
        self.hide = {k.upper() for k in args.hide or []}
        self.starttls = args.starttls
        self.implicit_tls = args.implicit_tls
        self.host = args.host
        self.counter = 0
        self.sessions = 0

    def offers(self, keyword):
        return keyword.upper() not in self.hide


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Recorder:
    """aiosmtpd handler: EHLO keywords and storing each message."""

    def __init__(self, cfg):
        self.cfg = cfg

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        keywords = [r[4:] for r in responses[1:]]
        keywords = [k for k in keywords if k.split(" ")[0].upper() != "HELP"]
        keywords += ["PIPELINING", "DSN", "ENHANCEDSTATUSCODES", "HELP"]
        if not self.cfg.users:
            keywords = [k for k in keywords if not k.upper().startswith("AUTH")]
        keywords = [k for k in keywords if k.split(" ")[0].upper() not in self.cfg.hide]
        lines = [responses[0][4:]] + keywords
        return [("250 " if i == len(lines) - 1 else "250-") + l for i, l in enumerate(lines)]

    async def handle_DATA(self, server, session, envelope):
        cfg = self.cfg
        cfg.counter += 1
        name = os.path.join(cfg.dir, "%04d" % cfg.counter)
        content = envelope.original_content
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        record = {
            "mail_from": envelope.mail_from,
            "mail_params": envelope.mail_params,
            "rcpt_tos": envelope.rcpts,
            "refused": envelope.refused,
            "auth_login": session.auth_data if session.authenticated else None,
            "auth_mechanism": getattr(session, "auth_mechanism", None) if session.authenticated else None,
            "tls": ssl_object.version() if ssl_object is not None else None,
            "helo": session.host_name,
            "esmtp": session.extended_smtp,
            "session": server.session_number,
            "size": len(content),
        }
        write_atomic(name + ".eml", content)
        write_atomic(name + ".json", json.dumps(record, indent=1, ensure_ascii=False).encode("utf-8"))
        return "250 2.0.0 OK queued as %04d" % cfg.counter


class Receiver(SMTP):
    # Test messages may have long lines; aiosmtpd's 1001 would answer 500.
    line_length_limit = 1 << 20
    command_size_limit = 4096

    def __init__(self, handler, cfg, **kwargs):
        super().__init__(handler, **kwargs)
        self.cfg = cfg
        # aiosmtpd keeps these in a class-level dict that grows with each EHLO.
        self.command_size_limits = collections.defaultdict(lambda: 4096)
        cfg.sessions += 1
        self.session_number = cfg.sessions

    def _create_envelope(self):
        e = Envelope()
        e.mail_seen = False
        e.mail_params = []
        e.rcpts = []
        e.refused = []
        return e

    async def smtp_MAIL(self, arg):
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("MAIL"):
            return
        syntax = "501 5.5.4 Syntax: MAIL FROM:<address> [SP <mail-parameters>]"
        if not arg or arg[:5].upper() != "FROM:":
            return await self.push(syntax)
        if self.envelope.mail_seen:
            return await self.push("503 5.5.1 Error: nested MAIL command")
        address, params = split_path(arg[5:])
        if address is None or (params and not self.session.extended_smtp):
            return await self.push(syntax)
        known = {"SIZE", "BODY", "SMTPUTF8", "AUTH"}
        if self.cfg.offers("DSN"):
            known |= {"RET", "ENVID"}
        if not self.cfg.offers("8BITMIME"):
            known.discard("BODY")
        if not self.cfg.offers("SMTPUTF8"):
            known.discard("SMTPUTF8")
        smtputf8 = False
        for p in params:
            key, eq, value = p.partition("=")
            key = key.upper()
            if key not in known:
                return await self.push("555 5.5.4 MAIL FROM parameter %s not recognized" % key)
            if key == "SIZE":
                if not value.isdigit():
                    return await self.push(syntax)
                if self.data_size_limit and int(value) > self.data_size_limit:
                    return await self.push("552 5.3.4 Message size exceeds fixed maximum message size")
            elif key == "BODY" and value.upper() not in ("7BIT", "8BITMIME"):
                return await self.push("501 5.5.4 BODY can only be one of 7BIT, 8BITMIME")
            elif key == "SMTPUTF8":
                if eq:
                    return await self.push("501 5.5.4 SMTPUTF8 takes no value")
                smtputf8 = True
            elif key == "RET" and value.upper() not in ("FULL", "HDRS"):
                return await self.push("501 5.5.4 RET must be FULL or HDRS")
            elif key == "ENVID" and not value:
                return await self.push("501 5.5.4 ENVID needs a value")
        if not address.isascii() and not smtputf8:
            return await self.push("553 5.6.7 non-ASCII address without SMTPUTF8")
        self.envelope.mail_seen = True
        self.envelope.mail_from = address
        self.envelope.mail_params = params
        self.envelope.mail_options = params
        self.envelope.smtp_utf8 = smtputf8
        await self.push("250 2.1.0 OK")

    async def smtp_RCPT(self, arg):
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("RCPT"):
            return
        if not self.envelope.mail_seen:
            return await self.push("503 5.5.1 Error: need MAIL command")
        syntax = "501 5.5.4 Syntax: RCPT TO:<address> [SP <parameters>]"
        if not arg or arg[:3].upper() != "TO:":
            return await self.push(syntax)
        address, params = split_path(arg[3:])
        if not address or (params and not self.session.extended_smtp):
            return await self.push(syntax)
        known = {"NOTIFY", "ORCPT"} if self.cfg.offers("DSN") else set()
        for p in params:
            key, _, value = p.partition("=")
            key = key.upper()
            if key not in known:
                return await self.push("555 5.5.4 RCPT TO parameter %s not recognized" % key)
            if key == "NOTIFY":
                values = value.upper().split(",")
                ok = values == ["NEVER"] or (
                    values and all(v in ("SUCCESS", "FAILURE", "DELAY") for v in values) and
                    len(set(values)) == len(values))
                if not ok:
                    return await self.push("501 5.5.4 Bad NOTIFY value")
            if key == "ORCPT" and ";" not in value:
                return await self.push("501 5.5.4 ORCPT needs addr-type;address")
        if not address.isascii() and not self.envelope.smtp_utf8:
            return await self.push("553 5.6.7 non-ASCII address without SMTPUTF8")
        if address.lower() in self.cfg.refuse:
            reply = "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
            self.envelope.refused.append({"address": address, "reply": reply})
            return await self.push(reply)
        if address.lower() in self.cfg.defer:
            reply = "450 4.2.1 <%s>: Mailbox temporarily unavailable" % address
            self.envelope.refused.append({"address": address, "reply": reply})
            return await self.push(reply)
        self.envelope.rcpt_tos.append(address)
        self.envelope.rcpts.append({"address": address, "params": params})
        await self.push("250 2.1.5 OK")

    # RFC 2195. aiosmtpd names the mechanism from the method name
    # ("__" -> "-").
    async def auth_CRAM__MD5(self, _, args):
        if len(args) > 1:
            await self.push("501 5.5.4 CRAM-MD5 takes no initial response")
            return AuthResult(success=False, handled=True)
        challenge = "<%d.%d@%s>" % (secrets.randbelow(10**9), os.getpid(), self.hostname)
        answer = await self.challenge_auth(challenge)
        if answer is MISSING:
            return AuthResult(success=False, handled=True)
        try:
            user, digest = answer.decode("utf-8").rsplit(" ", 1)
        except (UnicodeDecodeError, ValueError):
            await self.push("501 5.5.2 Bad CRAM-MD5 answer")
            return AuthResult(success=False, handled=True)
        password = self.cfg.users.get(user)
        expected = hmac.new((password or "").encode(), challenge.encode(), hashlib.md5).hexdigest()
        if password is not None and hmac.compare_digest(expected, digest.lower()):
            self.session.auth_mechanism = "CRAM-MD5"
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)


def make_authenticator(cfg):
    def authenticate(server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        want = cfg.users.get(login)
        if want is not None and hmac.compare_digest(want.encode(), password.encode()):
            session.auth_mechanism = mechanism
            return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)
    return authenticate


def tls_context(cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(cfg, port):
    loop = asyncio.get_running_loop()
    handler = Recorder(cfg)
    starttls_ctx = tls_context(*cfg.starttls) if cfg.starttls else None
    implicit_ctx = tls_context(*cfg.implicit_tls) if cfg.implicit_tls else None
    data_size = cfg.size if cfg.size is not None else 2 ** 25
    if not cfg.offers("SIZE"):
        data_size = None

    def factory():
        return Receiver(
            handler, cfg,
            loop=loop,
            hostname="receiver.test",
            data_size_limit=data_size,
            enable_SMTPUTF8=cfg.offers("SMTPUTF8"),
            tls_context=starttls_ctx,
            # On an implicit-TLS listener aiosmtpd does not know the session
            # is TLS: it would never offer AUTH.
            auth_require_tls=not (cfg.auth_plaintext or implicit_ctx),
            auth_required=bool(cfg.users),
            authenticator=make_authenticator(cfg) if cfg.users else None,
        )

    server = await loop.create_server(factory, cfg.host, port, ssl=implicit_ctx)
    bound = server.sockets[0].getsockname()[1]
    write_atomic(os.path.join(cfg.dir, "pid"), b"%d\n" % os.getpid())
    write_atomic(os.path.join(cfg.dir, "port"), b"%d\n" % bound)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    # A test that crashed cannot stop us: go when the parent goes.
    parent = os.getppid()

    async def watch_parent():
        while not stop.is_set():
            if os.getppid() != parent:
                stop.set()
            await asyncio.sleep(0.5)

    watcher = asyncio.ensure_future(watch_parent())
    await stop.wait()
    watcher.cancel()
    server.close()
    await server.wait_closed()


def self_test():
    """Starts receivers as child processes and talks to them with smtplib."""
    import shutil
    import smtplib
    import subprocess
    import tempfile
    import time

    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what)

    def start(d, *extra):
        p = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--dir", d, *extra])
        for _ in range(200):
            if os.path.exists(os.path.join(d, "port")):
                return p, int(open(os.path.join(d, "port")).read())
            if p.poll() is not None:
                break
            time.sleep(0.02)
        raise SystemExit("receiver did not start")

    def record(d, n):
        with open(os.path.join(d, "%04d.json" % n)) as f:
            return json.load(f)

    def eml(d, n):
        with open(os.path.join(d, "%04d.eml" % n), "rb") as f:
            return f.read()

    work = tempfile.mkdtemp(prefix="smtp-receiver-selftest.")
    procs = []
    try:
        d1 = os.path.join(work, "plain")
        p, port = start(d1, "--refuse", "nobody@example.test", "--defer", "later@example.test",
                        "--auth", "alice:alicepw", "--auth-plaintext")
        procs.append(p)
        body = (b"Subject: self test\r\n\r\n.leading dot\r\n..two\r\n8bit: caf\xc3\xa9\r\nend\r\n")
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            code, text = s.ehlo()
            ehlo = text.decode()
            for kw in ("PIPELINING", "DSN", "SIZE 33554432", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                       "AUTH CRAM-MD5 LOGIN PLAIN"):
                check(kw in ehlo.split("\n"), "EHLO offers %s: %r" % (kw, ehlo))
            check(s.mail("a@example.test")[0] == 530, "MAIL before AUTH is refused")
            s.rset()
            try:
                s.login("alice", "wrong")
                check(False, "a wrong password logs in")
            except smtplib.SMTPAuthenticationError as e:
                check(e.smtp_code == 535, "wrong password: 535, got %r" % (e.smtp_code,))
            s.user, s.password = "alice", "alicepw"
            code, _ = s.auth("CRAM-MD5", s.auth_cram_md5)
            check(code == 235, "CRAM-MD5 login")
            refused = s.sendmail("", ["bob@example.test", "nobody@example.test", "later@example.test"], body,
                                 mail_options=["RET=HDRS", "ENVID=x+2By", "BODY=8BITMIME"],
                                 rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@example.test"])
            check(set(refused) == {"nobody@example.test", "later@example.test"}, "refused: %r" % (refused,))
            check(refused.get("nobody@example.test", (0,))[0] == 550, "550 for --refuse")
            check(refused.get("later@example.test", (0,))[0] == 450, "450 for --defer")
        r = record(d1, 1)
        check(eml(d1, 1) == body, "stored bytes differ: %r" % eml(d1, 1))
        check(r["mail_from"] == "", "null sender: %r" % r["mail_from"])
        # smtplib adds SIZE itself, in lower case: kept as sent.
        check(r["mail_params"] == ["size=%d" % len(body), "RET=HDRS", "ENVID=x+2By", "BODY=8BITMIME"],
              "mail params: %r" % r["mail_params"])
        check(r["rcpt_tos"] == [{"address": "bob@example.test",
                                 "params": ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;Bob@example.test"]}],
              "rcpt_tos: %r" % r["rcpt_tos"])
        check(len(r["refused"]) == 2, "refused recorded")
        check(r["auth_login"] == "alice" and r["auth_mechanism"] == "CRAM-MD5", "auth recorded: %r" % r)
        check(r["tls"] is None and r["helo"] == "client.test" and r["esmtp"] is True, "session: %r" % r)

        d2 = os.path.join(work, "small")
        p, port = start(d2, "--size", "100", "--hide", "DSN", "--hide", "PIPELINING")
        procs.append(p)
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test") as s:
            s.ehlo()
            check(not s.has_extn("dsn") and not s.has_extn("pipelining"), "hidden keywords")
            check(s.has_extn("size") and s.esmtp_features["size"] == "100", "SIZE 100")
            check(s.mail("a@example.test", ["SIZE=101"])[0] == 552, "SIZE over the limit: 552")
            check(s.mail("a@example.test", ["RET=FULL"])[0] == 555, "RET without DSN: 555")
            code, _ = s.mail("a@example.test", ["SIZE=10"])
            check(code == 250, "MAIL with SIZE")
            check(s.rcpt("b@example.test", ["NOTIFY=NEVER"])[0] == 555, "NOTIFY without DSN: 555")
            s.rset()
            s.sendmail("j\u00f6rg@example.test", ["b\u00fccher@example.test"], b"x\r\n", mail_options=["SMTPUTF8"])
        r = record(d2, 1)
        check(r["mail_from"] == "j\u00f6rg@example.test" and r["mail_params"] == ["size=3", "SMTPUTF8"],
              "SMTPUTF8: %r" % r)
        check(eml(d2, 1) == b"x\r\n", "small message bytes")

        # --host: a second receiver on another loopback address, same port.
        d3 = os.path.join(work, "host4")
        p, port4 = start(d3, "--host", "127.0.0.4", "--port", str(port))
        procs.append(p)
        check(port4 == port, "--host 127.0.0.4 --port %d listens on %d" % (port, port4))
        with smtplib.SMTP("127.0.0.4", port, local_hostname="client.test") as s:
            s.sendmail("a@example.test", ["b@example.test"], b"on 127.0.0.4\r\n")
        check(eml(d3, 1) == b"on 127.0.0.4\r\n", "message through --host 127.0.0.4")
        check(not os.path.exists(os.path.join(d2, "0002.eml")), "the 127.0.0.1 receiver got the 127.0.0.4 message")
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("smtp_receiver self-test ok")
    return 0


def main():
    ap = argparse.ArgumentParser(description="SMTP test receiver (aiosmtpd)")
    ap.add_argument("--dir")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth", action="append", metavar="USER:PASSWORD")
    ap.add_argument("--auth-plaintext", action="store_true")
    ap.add_argument("--refuse", action="append", metavar="ADDR")
    ap.add_argument("--defer", action="append", metavar="ADDR")
    ap.add_argument("--size", type=int)
    ap.add_argument("--hide", action="append", metavar="KEYWORD")
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if SMTP is object:
        print("SKIP: python3-aiosmtpd is not installed for %s (run with /usr/bin/python3)" % sys.executable)
        return 77
    if args.self_test:
        return self_test()
    if not args.dir:
        ap.error("--dir is required")
    os.makedirs(args.dir, exist_ok=True)
    logging.basicConfig(filename=os.path.join(args.dir, "receiver.log"), level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # "Requiring AUTH while not requiring TLS": wanted with --auth-plaintext.
    warnings.filterwarnings("ignore", category=UserWarning, module="aiosmtpd")
    cfg = Config(args)
    asyncio.run(serve(cfg, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
