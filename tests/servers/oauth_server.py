#!/usr/bin/env python3
"""A local OAuth 2.0 token endpoint over HTTPS, for tests.

    oauth_server.py --cert CHAIN.pem --key KEY.pem --port-file FILE [options]

Listens on 127.0.0.1 (a free port, written to FILE once it listens) and
serves until SIGTERM:

  POST /token       RFC 6749 §6 grant_type=refresh_token, and RFC 8628 §3.4
                    grant_type=urn:ietf:params:oauth:grant-type:device_code.
                    client_id must be --client-id, client_secret
                    --client-secret (when given). Access tokens live
                    --expires-in seconds. --rotate: every refresh hands out a
                    new refresh token and retires the old one.
  POST /device      RFC 8628 §3.1: a device code for --device-user; the
                    token endpoint answers authorization_pending to the
                    first --approve-after polls of it, then grants.
                    interval is --interval.
  POST /introspect  RFC 7662 token=...: {"active": true, "username": USER}
                    for a live access token, else {"active": false}. Dovecot's
                    oauth2 passdb (introspection_mode = post) asks here.
  POST /admin       test control, form fields:
                      action=add_refresh token=T user=U   a refresh token for U
                      action=expire_access                every access token dies
                      action=revoke user=U                U's access and refresh tokens die
                      action=device_script steps=a,b,ok   the next device polls answer
                                                          these errors in turn, then grant
                      action=set rotate=0|1 expires_in=N  change --rotate / --expires-in
                      action=stats                        counts as JSON

Every request is logged to --log (method, path, grant type, outcome;
never a token). Standard library only.
"""
import argparse
import http.server
import json
import secrets
import ssl
import sys
import threading
import time
import urllib.parse

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.refresh = {}      # refresh token -> user
        self.access = {}       # access token -> (user, expires_at)
        self.devices = {}      # device code -> {"user", "polls", "script"}
        self.device_script = []
        self.counts = {"refresh_grants": 0, "refresh_refused": 0, "device_polls": 0, "device_grants": 0,
                       "introspections": 0, "introspections_active": 0}

    def issue(self, user, with_refresh):
        access = "at-" + secrets.token_urlsafe(24)
        self.access[access] = (user, time.time() + self.args.expires_in)
        reply = {"access_token": access, "token_type": "Bearer", "expires_in": self.args.expires_in}
        if with_refresh:
            refresh = "rt-" + secrets.token_urlsafe(24)
            self.refresh[refresh] = user
            reply["refresh_token"] = refresh
        return reply


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mailkeep-oauth-test"

    def log_message(self, fmt, *args):  # to --log, never to stderr
        pass

    def note(self, text):
        with open(self.server.state.args.log, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, text))

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, description="", status=400):
        self.note("error " + code)
        self.reply(status, {"error": code, "error_description": description})

    def form(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 65536:
            return None
        fields = urllib.parse.parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        return {k: v[0] for k, v in fields.items()}

    def client_ok(self, f):
        args = self.server.state.args
        if f.get("client_id") != args.client_id:
            return False
        return args.client_secret is None or f.get("client_secret") == args.client_secret

    def do_POST(self):
        f = self.form()
        if f is None:
            return self.error("invalid_request", "body too large")
        route = {"/token": self.token, "/device": self.device, "/introspect": self.introspect,
                 "/admin": self.admin}.get(urllib.parse.urlsplit(self.path).path)
        if route is None:
            return self.error("not_found", status=404)
        with self.server.state.lock:
            route(f)

    def token(self, f):
        st = self.server.state
        if not self.client_ok(f):
            return self.error("invalid_client", "unknown client or wrong secret", 401)
        grant = f.get("grant_type")
        if grant == "refresh_token":
            user = st.refresh.get(f.get("refresh_token", ""))
            if user is None:
                st.counts["refresh_refused"] += 1
                return self.error("invalid_grant", "Token has been expired or revoked.")
            st.counts["refresh_grants"] += 1
            if st.args.rotate:
                del st.refresh[f["refresh_token"]]
            self.note("refresh_token ok")
            return self.reply(200, st.issue(user, st.args.rotate))
        if grant == DEVICE_GRANT:
            device = st.devices.get(f.get("device_code", ""))
            if device is None:
                return self.error("invalid_grant", "unknown device code")
            st.counts["device_polls"] += 1
            device["polls"] += 1
            if device["script"]:
                return self.error(device["script"].pop(0))
            if device["polls"] <= st.args.approve_after:
                return self.error("authorization_pending")
            del st.devices[f["device_code"]]
            st.counts["device_grants"] += 1
            self.note("device_code ok")
            return self.reply(200, st.issue(device["user"], True))
        return self.error("unsupported_grant_type")

    def device(self, f):
        st = self.server.state
        if f.get("client_id") != st.args.client_id:
            return self.error("invalid_client", status=401)
        code = "dc-" + secrets.token_urlsafe(24)
        st.devices[code] = {"user": st.args.device_user, "polls": 0, "script": list(st.device_script)}
        port = self.server.server_address[1]
        self.note("device code issued")
        self.reply(200, {"device_code": code, "user_code": "WDJB-MJHT",
                         "verification_uri": "https://localhost:%d/activate" % port,
                         "expires_in": 600, "interval": st.args.interval})

    def introspect(self, f):
        st = self.server.state
        st.counts["introspections"] += 1
        entry = st.access.get(f.get("token", ""))
        if entry is None or entry[1] < time.time():
            self.note("introspect inactive")
            return self.reply(200, {"active": False})
        st.counts["introspections_active"] += 1
        self.note("introspect active")
        self.reply(200, {"active": True, "username": entry[0], "token_type": "Bearer"})

    def admin(self, f):
        st = self.server.state
        action = f.get("action")
        if action == "add_refresh":
            st.refresh[f["token"]] = f["user"]
        elif action == "expire_access":
            st.access.clear()
        elif action == "revoke":
            st.access = {k: v for k, v in st.access.items() if v[0] != f["user"]}
            st.refresh = {k: v for k, v in st.refresh.items() if v != f["user"]}
        elif action == "set":
            if "rotate" in f:
                st.args.rotate = f["rotate"] == "1"
            if "expires_in" in f:
                st.args.expires_in = int(f["expires_in"])
        elif action == "device_script":
            st.device_script = [s for s in f.get("steps", "").split(",") if s and s != "ok"]
        elif action != "stats":
            return self.error("unknown_action")
        self.reply(200, dict(st.counts, refresh_tokens=len(st.refresh), access_tokens=len(st.access)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", default="/dev/null")
    p.add_argument("--client-id", default="mailkeep-test")
    p.add_argument("--client-secret", default=None)
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--interval", type=int, default=1)
    p.add_argument("--approve-after", type=int, default=2)
    p.add_argument("--device-user", default="alice")
    p.add_argument("--rotate", action="store_true")
    args = p.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main()
