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
