# Shared set-up for the resend tests (sourced): the command-line helpers,
# a test CA and server certificates (tests/servers/dovecot.sh makes them),
# an archive holding messages with awkward bytes, and helpers to run the
# SMTP test receiver (tests/servers/smtp_receiver.py, aiosmtpd).
# Skips (exit 77) when /usr/bin/python3 with aiosmtpd or openssl is missing.
source "$(dirname "${BASH_SOURCE[0]}")/../cli/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../servers/dovecot.sh"
RECEIVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../servers" && pwd)/smtp_receiver.py"
[[ -x /usr/bin/python3 ]] || skip "/usr/bin/python3 is not installed"
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || skip "python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)"
command -v openssl >/dev/null || skip "openssl is not installed"

_dovecot_make_certs "$WORK/tls" >/dev/null || fail "cannot make test certificates"
TLS=$WORK/tls

receivers=()
trap 'for p in "${receivers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# start_receiver DIR ARGS...: starts a receiver storing into DIR; sets
# RECEIVER_PORT once it listens.
start_receiver() {
  local dir=$1
  shift
  /usr/bin/python3 "$RECEIVER" --dir "$dir" "$@" >"$dir.log" 2>&1 &
  receivers+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s "$dir/port" ]] && break
    sleep 0.05
  done
  [[ -s "$dir/port" ]] || { cat "$dir.log" >&2; fail "the SMTP receiver did not start"; }
  RECEIVER_PORT=$(cat "$dir/port")
}

# The test messages: 8-bit bodies, lines starting with dots, no final
# newline, bare CR and mixed line ends, a 20 MB message; imported into the
# archive. Their exported bytes are in $WORK/eml/ID.eml.
make_messages() {
  mkdir -p "$WORK/in"
  /usr/bin/python3 - "$WORK/in" <<'EOF'
import os, random, sys
out = sys.argv[1]
def w(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
hdr = lambda n, frm="Alice Example <alice@example.test>", to="Bob <bob@example.test>", extra=b"": (
    f"From: {frm}\nTo: {to}\nCc: carol@example.test\nSubject: resend test {n}\n"
    f"Message-ID: <resend-{n}@example.test>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n").encode() + extra
w("01-eightbit.eml", hdr(1) + b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
  + "Grüße aus Köln — naïve café ☕\n".encode() * 20)
w("02-dots.eml", hdr(2) + b"\n.\n..\n.leading dot\n...three\nend\n.\n")
w("03-no-final-newline.eml", hdr(3) + b"\nlast line without a newline")
w("04-crlf.eml", (hdr(4) + b"\nwindows line ends\n.dot\n").replace(b"\n", b"\r\n"))
w("05-mixed.eml", hdr(5) + b"\nbare CR\rhere\r\nand CRLF\nand LF\n")
w("06-from-sender-only.eml", b"Sender: sender@example.test\nTo: dave@example.test\nSubject: no from\n"
  b"Message-ID: <resend-6@example.test>\n\nbody\n")
rnd = random.Random(7)
lines = []
size = 0
while size < 20 * 1024 * 1024:
    line = "".join(rnd.choice("abcdefghij .") for _ in range(rnd.randint(0, 120)))
    lines.append(line)
    size += len(line) + 1
w("07-large.eml", hdr(7) + b"\n" + "\n".join(lines).encode() + b"\n")
EOF
  mk init >/dev/null && mk import "$WORK/in" >/dev/null || fail "import failed"
  mk export --format eml --out "$WORK/eml" >/dev/null || fail "export failed"
}

# normalized FILE: the bytes an SMTP server must receive for FILE (every
# line end CRLF, a final CRLF), as a SHA-256.
normalized_sha() {
  /usr/bin/python3 -c '
import hashlib, re, sys
d = open(sys.argv[1], "rb").read()
d = re.sub(rb"\r\n|\r|\n", b"\r\n", d)
if not d.endswith(b"\r\n"): d += b"\r\n"
print(hashlib.sha256(d).hexdigest())' "$1"
}

# on_exit CMD: runs the shell command CMD when the test exits (newest
# first), before the receivers are stopped and $WORK is removed; e.g.
# on_exit dnsmasq_stop. SIGTERM/SIGINT (ctest's timeout) exit through it too.
_resend_exit_hooks=()
on_exit() {
  _resend_exit_hooks=("$1" "${_resend_exit_hooks[@]}")
  trap _resend_cleanup EXIT
  trap 'exit 143' TERM INT
}
_resend_cleanup() {
  local h p
  for h in "${_resend_exit_hooks[@]}"; do eval "$h" || true; done
  for p in "${receivers[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${receivers[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}

# free_port ADDR...: prints a TCP port that is free on every ADDR, so that
# receivers on several loopback addresses can share it (mail exchanges all
# listen on direct_port).
free_port() {
  /usr/bin/python3 - "$@" <<'PY'
import socket, sys
for _ in range(100):
    first = socket.socket()
    first.bind((sys.argv[1], 0))
    port = first.getsockname()[1]
    socks = [first]
    try:
        for addr in sys.argv[2:]:
            s = socket.socket()
            socks.append(s)
            s.bind((addr, port))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    print(port)
    break
else:
    raise SystemExit("no port free on " + " ".join(sys.argv[1:]))
PY
}

# start_receiver_on ADDR PORT DIR ARGS...: a receiver listening on
# ADDR:PORT (smtp_receiver.py --host), storing into DIR (which must not
# exist yet). Returns 1, with the receiver's output on stderr, when it cannot
# listen there (the port was taken since free_port): the caller picks
# another port.
start_receiver_on() {
  local addr=$1 port=$2 dir=$3
  shift 3
  [[ ! -e "$dir" ]] || fail "start_receiver_on: $dir exists"
  /usr/bin/python3 "$RECEIVER" --dir "$dir" --host "$addr" --port "$port" "$@" >"$dir.log" 2>&1 &
  local pid=$! i
  receivers+=("$pid")
  for ((i = 0; i < 200; i++)); do
    [[ -s "$dir/port" ]] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  cat "$dir.log" >&2
  return 1
}

# stop_receiver DIR: stops the receiver that stores into DIR and waits for it.
stop_receiver() {
  local pid
  pid=$(tr -dc 0-9 <"$1/pid") || fail "stop_receiver: no $1/pid"
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  local keep=() p
  for p in "${receivers[@]}"; do [[ "$p" == "$pid" ]] || keep+=("$p"); done
  receivers=("${keep[@]}")
}

# connections DIR: how many SMTP connections the receiver of DIR has
# accepted so far (aiosmtpd logs one "Peer:" line per TCP connection, not
# again after STARTTLS).
connections() {
  grep -c "Peer: " "$1/receiver.log" || true
}

# wait_until SECONDS WHAT CMD...: runs CMD every 0.1 s until it succeeds;
# fails the test naming WHAT after SECONDS (no fixed sleeps for
# asynchronous deliveries).
wait_until() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not after $limit s"
    sleep 0.1
  done
}

# start_one_message_exchange ADDR PORT DIR MODE: a scripted SMTP exchange
# (Python's socketserver) that takes one message per connection, storing it
# as DIR/N.eml (dot-stuffing removed, CRLF kept), and then ends the session:
# MODE 421 answers the next MAIL with "421 4.7.0 too many messages in this
# connection" and closes (a per-connection message limit, as Exim's
# smtp_accept_max_per_connection); MODE 452 answers it with OpenSMTPD's
# "452 4.5.3 Too many recipients: Too many messages sent" and keeps the
# session open (the client must QUIT it); MODE drop hangs up at once after the
# reply to the message (as after an idle timeout). DIR/connections counts
# the connections. Returns 1 when it cannot listen on ADDR:PORT.
start_one_message_exchange() {
  local addr=$1 port=$2 dir=$3 mode=$4
  mkdir -p "$dir"
  /usr/bin/python3 - "$addr" "$port" "$dir" "$mode" >"$dir.log" 2>&1 <<'PY' &
import os, socketserver, sys, threading, time
addr, port, out, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lock = threading.Lock()
def bump(name):
    with lock:
        path = os.path.join(out, name)
        n = int(open(path).read()) + 1 if os.path.exists(path) else 1
        open(path, "w").write("%d\n" % n)
        return n
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        bump("connections")
        say = lambda line: self.wfile.write(line.encode() + b"\r\n")
        say("220 limit.test ESMTP one message per connection")
        taken, mail = 0, False
        for raw in self.rfile:
            cmd = raw.decode("latin-1").rstrip("\r\n").upper()
            if cmd.startswith(("EHLO", "HELO")):
                say("250-limit.test")
                say("250-8BITMIME")
                say("250 PIPELINING")
            elif cmd.startswith("MAIL"):
                if taken and mode == "452":
                    say("452 4.5.3 Too many recipients: Too many messages sent")
                    continue
                if taken:
                    say("421 4.7.0 limit.test too many messages in this connection")
                    return
                mail = True
                say("250 2.1.0 OK")
            elif cmd.startswith(("RCPT", "DATA")) and not mail:
                say("503 5.5.1 need MAIL first")
            elif cmd.startswith("RCPT"):
                say("250 2.1.5 OK")
            elif cmd == "DATA":
                mail = False
                say("354 go ahead")
                data = b""
                for line in self.rfile:
                    if line == b".\r\n":
                        break
                    data += line[1:] if line.startswith(b".") else line
                n = bump("messages")
                with open(os.path.join(out, "%d.eml" % n), "wb") as f:
                    f.write(data)
                taken += 1
                if mode == "noreply":  # took it, but the answer never arrives
                    return
                say("250 2.0.0 queued as %d" % n)
                if mode == "drop":
                    return
            elif cmd in ("RSET", "NOOP"):
                mail = mail and cmd == "NOOP"
                say("250 2.0.0 OK")
            elif cmd == "QUIT":
                say("221 2.0.0 bye")
                return
            else:
                say("502 5.5.2 not here")
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
server = Server((addr, port), Session)
open(os.path.join(out, "ready"), "w").close()
parent = os.getppid()
threading.Thread(target=server.serve_forever, daemon=True).start()
while os.getppid() == parent:  # go when the test goes
    time.sleep(0.5)
PY
  receivers+=($!)
  local i
  for ((i = 0; i < 200; i++)); do
    [[ -e "$dir/ready" ]] && return 0
    kill -0 "${receivers[-1]}" 2>/dev/null || break
    sleep 0.025
  done
  cat "$dir.log" >&2
  return 1
}
