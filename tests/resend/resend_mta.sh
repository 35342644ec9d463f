#!/usr/bin/env bash
# mailkeep resend of 400 small messages through a real MTA that limits the
# messages of one session (issue 12, acceptance):
#   resend_mta.sh opensmtpd  OpenSMTPD 6.8, plain, no AUTH; its own limit of
#                            100 messages per session (452 4.5.3 to MAIL 101)
#   resend_mta.sh exim       Exim 4.96, STARTTLS (certificate checked) and
#                            AUTH as alice; smtp_accept_max_per_connection =
#                            100 (421 to MAIL 101, then it closes)
# One run accepts all 400 (exit 0, nothing deferred) over 4 sessions; each
# message arrives in bob's Maildir exactly once (counted by Message-ID; with
# Exim also byte for byte, line ends aside); a
# second run with --skip-sent sends nothing. Both servers run from their
# .debs in a private root (tests/servers/exim.sh, opensmtpd.sh): skips (77)
# where that cannot run. Prints the times.
source "$(dirname "$0")/../cli/lib.sh"
server=${1:?usage: resend_mta.sh opensmtpd|exim}
servers=$(cd "$(dirname "$0")/../servers" && pwd)
case "$server" in
  opensmtpd) source "$servers/opensmtpd.sh"; reason=$(opensmtpd_skip_reason) && skip "$reason" ;;
  exim) source "$servers/exim.sh"; reason=$(exim_skip_reason) && skip "$reason" ;;
  *) fail "unknown server $server" ;;
esac
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
N=400
trap '${server}_stop "$WORK/$server" || true; rm -rf "$WORK"' EXIT
SECONDS=0

mkdir -p "$WORK/in"
"$PY" - "$WORK/in" "$N" <<'EOF'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open(os.path.join(out, "%04d.eml" % i), "wb") as f:
        f.write(b"From: Alice <alice@example.test>\nTo: bob@example.test\nSubject: resend %d\n"
                b"Message-ID: <resend-mta-%d@example.test>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n"
                b"message %d\n" % (i, i, i))
EOF
mk init >/dev/null && mk import "$WORK/in" >/dev/null || fail "import failed"

t0=$SECONDS
if [[ $server == exim ]]; then
  EXIM_MAX_PER_CONNECTION=100 exim_start "$WORK/exim" || fail "Exim did not start"
  cat >"$WORK/config.ini" <<EOF
hello_name = client.mailkeep.test
[relay.mta]
host = localhost
port = $EXIM_PORT
tls = starttls
user = alice
password_env = RELAY_PW
ca_file = $EXIM_CA
EOF
  export RELAY_PW=alicepw
  count() { exim_count bob; }
  wait_count() { exim_wait_count bob "$1" 120; }
  mail_dir=$EXIM_MAIL/bob/Maildir
  # Sessions that said EHLO (the harness's readiness probes do not).
  sessions() { grep -cE "SMTP connection from \(client\.mailkeep\.test\) .*(closed|lost)" "$EXIM_LOG" || true; }
else
  opensmtpd_start "$WORK/opensmtpd" || fail "OpenSMTPD did not start"
  cat >"$WORK/config.ini" <<EOF
hello_name = client.mailkeep.test
[relay.mta]
host = 127.0.0.1
port = $OPENSMTPD_PORT
tls = none
EOF
  count() { opensmtpd_count bob; }
  wait_count() { opensmtpd_wait_count bob "$1" 120; }
  mail_dir=$OPENSMTPD_MAIL/bob/Maildir
  # Sessions ended by QUIT (the harness's readiness probe just hangs up).
  sessions() { grep -c "smtp disconnected reason=quit" "$OPENSMTPD_LOG" || true; }
fi
echo "$server started in $((SECONDS - t0)) s"
before=$(sessions)

start=$(date +%s%N)
expect_status 0 mk --config "$WORK/config.ini" --json resend '*' --to bob@example.test
end=$(date +%s%N)
"$PY" - "$WORK/out" "$N" <<'EOF' || { head -c 3000 "$WORK/out" >&2; fail "not every message accepted in one run"; }
import json, sys
d = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
assert (d["accepted"], d["deferred"], d["failed"]) == (n, 0, 0), {k: d[k] for k in ("accepted", "deferred", "failed")}
assert all(r["outcome"] == "accepted" and r["route"] == "relay mta" for m in d["messages"] for r in m["recipients"])
EOF
used=$(($(sessions) - before))
echo "resend: $N messages through $server in $(((end - start) / 1000000)) ms over $used sessions"
expect_eq "$used" 4 "sessions for $N messages at 100 per session"

wait_count "$N" || fail "bob's Maildir"
ids=$(grep -h -m1 -i "^Message-ID:" "$mail_dir"/new/* | tr -d '\r' | sort)
expect_eq "$(wc -l <<<"$ids")" "$N" "delivered messages"
expect_eq "$(uniq <<<"$ids" | wc -l)" "$N" "distinct Message-IDs delivered (each exactly once)"
if [[ $server == exim ]]; then
  expect_eq "$(grep -c "<= alice@example.test .*X=TLS.* A=plain:alice" "$EXIM_LOG")" "$N" "messages received with TLS and AUTH"
  # Exim's Maildir files are the data sent with CRLF made LF: the input files.
  (cd "$WORK/in" && sha256sum -- * | cut -d' ' -f1 | sort) >"$WORK/want"
  (cd "$mail_dir/new" && sha256sum -- * | cut -d' ' -f1 | sort) >"$WORK/got"
  cmp -s "$WORK/want" "$WORK/got" || fail "delivered bytes differ from the archived messages"
fi

# Every pair is accepted in the journal: --skip-sent sends nothing.
expect_status 0 mk --config "$WORK/config.ini" --json resend '*' --to bob@example.test --skip-sent
expect_eq "$(json_field '["skipped"]' <"$WORK/out")" "$N" "skipped on the second run"
expect_eq "$(json_field '["accepted"]' <"$WORK/out")" 0 "sent on the second run"
sleep 1
expect_eq "$(count)" "$N" "messages after the second run"
echo "resend_mta $server ok (${SECONDS}s)"
