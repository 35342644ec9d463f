#!/usr/bin/env bash
# The README's main command: from a fresh Debian 12 machine to a working
# archive in one go. Installs the build dependencies (Dovecot included),
# builds mailkeep, writes the bundled example mailbox
# (tools/make_sample_mail.cc: a Maildir++ tree and an mbox, generated, the
# same on every run), starts a throwaway Dovecot on 127.0.0.1 holding that
# mailbox, and pulls it over POP3 and IMAP with TLS into ./demo-archive, the
# way a nightly cron job would. Then: a second sync (nothing new), a third
# after a new message and a flag change, the old mbox imported (what is
# already archived is not stored again), stats, verify, search, show and
# export, and last one message resent over SMTP (STARTTLS, AUTH) to a local
# receiver.
#
# Runs from any directory, as root (Dovecot keeps mail as `nobody`; without
# root the demo imports the sample files instead of syncing them).
# ./demo-archive is replaced on every run; the sample, the config and the
# exports go to a fresh temporary directory, printed at the end (set
# MAILKEEP_DEMO_CLEANUP=1 to remove it instead). Dovecot is stopped on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

step=0
bold="" plain=""
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
header() {
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
run() {
  printf '$ %s\n' "$*"
  "$@"
}
# Like run, but shows the command's output only when it fails.
run_quiet() {
  printf '$ %s\n' "$*"
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

header "Build dependencies (apt-get, only what is missing)"
run ./scripts/setup-debian.sh

header "Configure and build"
run_quiet cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
run cmake --build build -j2 --target mailkeep make_sample_mail

mailkeep="$root/build/tools/mailkeep"
archive=demo-archive
mk() {
  run "$mailkeep" --archive "$archive" "$@"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailkeep-demo.XXXXXX")
if [[ "${MAILKEEP_DEMO_CLEANUP:-0}" == 1 ]]; then
  trap 'rm -rf "$tmp"' EXIT
fi

header "Generate the example mailbox"
run build/tools/make_sample_mail "$tmp/sample"
maildir="$tmp/sample/Maildir"
mbox="$tmp/sample/old-mail.mbox"

header "Create a new archive at ./$archive"
rm -rf "$archive"
mk init

source tests/servers/dovecot.sh
if reason=$(dovecot_skip_reason); then
  echo "(no server part: $reason)"
  header "Import the Maildir (INBOX, .Sent, .Lists.dev, .Archive.2023)"
  mk import "$maildir"
else
  header "Start a throwaway Dovecot on 127.0.0.1 holding the sample Maildir"
  trap 'dovecot_stop "$tmp/dovecot" >/dev/null 2>&1 || true; if [[ "${MAILKEEP_DEMO_CLEANUP:-0}" == 1 ]]; then rm -rf "$tmp"; fi' EXIT
  chmod 755 "$tmp"
  dovecot_start "$tmp/dovecot"
  cp -a "$maildir/." "$DOVECOT_DIR/mail/alice/Maildir/"
  chown -R nobody:nogroup "$DOVECOT_DIR/mail/alice"
  echo "user alice: INBOX $(dovecot_count alice) messages, Sent $(dovecot_count alice Sent)," \
    "Lists/dev $(dovecot_count alice Lists/dev), Archive/2023 $(dovecot_count alice Archive/2023)"
  echo "POP3S on localhost:$DOVECOT_POP3S_PORT, IMAPS on localhost:$DOVECOT_IMAPS_PORT"

  header "The accounts file: POP3 and IMAP with TLS, the password read from a 0600 file"
  config="$tmp/mailkeep.ini"
  (umask 077 && printf '%s\n' "$DOVECOT_ALICE_PASSWORD" >"$tmp/alice.password")
  (umask 077 && cat >"$config") <<CONFIG
archive = $root/$archive

[account.home-pop3]
protocol = pop3
host = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
tls = implicit
ca_file = $DOVECOT_CA
user = alice
password_file = $tmp/alice.password
delete = never

[account.home-imap]
protocol = imap
host = $DOVECOT_HOST
port = $DOVECOT_IMAPS_PORT
tls = implicit
ca_file = $DOVECOT_CA
user = alice
password_file = $tmp/alice.password
folders = *
exclude = Trash
CONFIG
  cat "$config"

  header "Sync both accounts: fetch, store, index (what cron runs every night)"
  echo "(POP3 sees only the INBOX; IMAP sees every folder, and the INBOX messages"
  echo " the POP3 account already brought in are recognised, not stored again)"
  run "$mailkeep" --config "$config" sync --jobs 1

  header "Sync again: only new mail is fetched, so nothing"
  run "$mailkeep" --config "$config" sync

  header "One new message arrives and one is flagged on the server; sync"
  printf 'From: Demo <demo@example.com>\nTo: alice@example.com\nSubject: a new message\nMessage-ID: <demo-new@example.com>\nDate: %s\n\nJust arrived.\n' \
    "$(date -R)" >"$tmp/new.eml"
  dovecot_deliver alice "$tmp/new.eml"
  doveadm -c "$DOVECOT_CONF" flags add -u alice '\Flagged' mailbox Sent all
  run "$mailkeep" --config "$config" sync
fi

header "Import the old mbox (one of its messages is already archived)"
mk import "$mbox"

header "Import it again: nothing is stored twice"
# (--json after the command name: the command's own options decide.)
again=$(mk import --json "$mbox")
printf '%s\n' "$again"
if ! grep -Eq '"imported": *0[,}]?$' <<<"$again"; then
  echo "demo: the second import stored new messages; dedupe is broken" >&2
  exit 1
fi

header "Statistics"
mk stats

header "Verify every stored message against its SHA-256"
mk verify

header "Search: words and fields, notmuch-style"
mk search 'subject:invoice OR attachment:*.pdf'
mk search --limit 5 'is:flagged folder:Sent'

# Deterministic Message-ID of the forwarded invoice in the sample: a
# multipart/mixed message with a message/rfc822 part (which has its own PDF
# attachment) and a text attachment with an RFC 2231 encoded file name.
mid="fwd-invoice-2022-117@example.com"

header "Show one message: mid:$mid"
mk show "mid:$mid"

header "Export everything as one mboxrd file and as .eml files"
mk export --format mbox --out "$tmp/export.mbox"
mk export --format eml --out "$tmp/eml"
echo "mbox: $(grep -c '^From ' "$tmp/export.mbox") messages, $(wc -c <"$tmp/export.mbox") bytes"
echo "eml:  $(find "$tmp/eml" -name '*.eml' | wc -l) files"

header "The exported .eml is byte-identical to show --raw"
mapfile -t hits < <(grep -l "^Message-ID: <$mid>" "$tmp"/eml/*.eml)
if [[ ${#hits[@]} -ne 1 ]]; then
  echo "demo: expected one exported .eml with Message-ID <$mid>, found ${#hits[@]}" >&2
  exit 1
fi
eml=${hits[0]}
id=$(basename "$eml" .eml)
file_sum=$(sha256sum <"$eml" | cut -d' ' -f1)
raw_sum=$("$mailkeep" --archive "$archive" show --raw "mid:$mid" | sha256sum | cut -d' ' -f1)
echo "sha256 $file_sum  $eml"
echo "sha256 $raw_sum  mailkeep show --raw mid:$mid (id $id)"
if [[ "$file_sum" != "$raw_sum" ]]; then
  echo "demo: export and show --raw differ" >&2
  exit 1
fi
echo "identical"

if [[ -n "${config:-}" ]] && /usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null; then
  header "Resend that message over SMTP: a local receiver with STARTTLS and AUTH"
  /usr/bin/python3 tests/servers/smtp_receiver.py --dir "$tmp/smtp" \
    --starttls "$DOVECOT_DIR/tls/server-chain.pem" "$DOVECOT_DIR/tls/server.key" \
    --auth "alice:$DOVECOT_ALICE_PASSWORD" >"$tmp/smtp.log" 2>&1 &
  receiver=$!
  for _ in $(seq 100); do [[ -s "$tmp/smtp/port" ]] && break; sleep 0.05; done
  cat >>"$config" <<CONFIG

[relay.local]
host = localhost
port = $(cat "$tmp/smtp/port")
tls = starttls
ca_file = $DOVECOT_CA
user = alice
password_file = $tmp/alice.password
CONFIG
  echo "(added [relay.local] to $config: an SMTP receiver on localhost:$(cat "$tmp/smtp/port"))"
  run "$mailkeep" --config "$config" resend "mid:$mid" --to restore@example.net --relay local
  kill "$receiver" 2>/dev/null || true
  received=$(find "$tmp/smtp" -name '*.eml' | head -1)
  echo "received: $received ($(wc -c <"$received") bytes; the stored message has $(wc -c <"$eml"))"
  want=$(/usr/bin/python3 -c 'import re,sys,hashlib; d=re.sub(rb"\r\n|\r|\n", b"\r\n", open(sys.argv[1],"rb").read()); d += b"" if d.endswith(b"\r\n") else b"\r\n"; print(hashlib.sha256(d).hexdigest())' "$eml")
  got=$(sha256sum <"$received" | cut -d' ' -f1)
  if [[ "$want" != "$got" ]]; then
    echo "demo: the received message differs from the stored one (after CRLF line ends)" >&2
    exit 1
  fi
  echo "the same bytes as stored, with CRLF line ends (SMTP's); envelope as the receiver saw it:"
  /usr/bin/python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); print("  MAIL FROM:<%s>  RCPT TO:%s  AUTH %s  %s" % (e["mail_from"], [r["address"] for r in e["rcpt_tos"]], e["auth_login"], e["tls"]))' "${received%.eml}.json"
fi

header "Done"
echo "archive:            $root/$archive"
if [[ "${MAILKEEP_DEMO_CLEANUP:-0}" == 1 ]]; then
  echo "sample and exports: removed ($tmp)"
else
  echo "sample and exports: $tmp"
fi
echo "try:                $mailkeep --archive $archive show --help"
