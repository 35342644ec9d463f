#!/usr/bin/env bash
# Issue 12.8: max_bytes_per_run against a real Dovecot (IMAP). With 10
# messages of ~30 KB (INBOX 7, Later 3) and max_bytes_per_run = 200k, the
# first run fetches the 6 that fit, says partial (exit 1), and leaves the
# rest; the second run fetches the other 4 and completes (exit 0); the
# archive then holds exactly what the server holds (SHA-256 sets compared,
# nothing twice). bandwidth is set too, so downloads go through the rate
# limit (its timing is unit-tested with a fake clock: sync/net/throttle_test.cc).
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
export ALICE_PW=$DOVECOT_ALICE_PASSWORD

mkdir "$WORK/mail"
doveadm_ mailbox create -u alice Later
python3 - "$WORK/mail" <<'EOF_PY'
import base64, os, sys
for i in range(1, 11):
    body = base64.encodebytes(os.urandom(22 * 1024)).decode()  # ~30 KB of 77-byte lines
    with open(os.path.join(sys.argv[1], "%02d.eml" % i), "w") as f:
        f.write("From: s@example.test\nTo: alice@example.test\nSubject: part %d\n"
                "Message-ID: <budget-%d@example.test>\n\n%s" % (i, i, body))
EOF_PY
for i in 01 02 03 04 05 06 07; do doveadm_ save -u alice -m INBOX <"$WORK/mail/$i.eml"; done
for i in 08 09 10; do doveadm_ save -u alice -m Later <"$WORK/mail/$i.eml"; done
want=$(sha256sum "$WORK"/mail/*.eml | cut -d' ' -f1 | sort)
archived() {
  local id
  for id in $(mk search --format ids '*'); do mk show --raw "$id" | sha256sum | cut -d' ' -f1; done | sort
}

account alice alice ALICE_PW implicit max_bytes_per_run=200k bandwidth=20M
expect_status 1 mk sync --config "$cfg"
expect_eq "$(fetched alice)" 6 "run 1: messages that fit in 200k"
summary alice | grep -Eq ", partial: max_bytes_per_run \(0\.2 MB\) reached; [0-9]+ messages in (INBOX|Later) and any later folders wait; the rest next run$" ||
  fail "run 1: the summary does not say partial: $(cat "$WORK/out")"
if summary alice | grep -q FAILED; then fail "run 1: partial, not failed: $(cat "$WORK/out")"; fi
expect_eq "$(messages)" 6 "run 1: messages archived"

sync_ok
expect_eq "$(fetched alice)" 4 "run 2: the rest"
if summary alice | grep -q partial; then fail "run 2: $(cat "$WORK/out")"; fi
expect_eq "$(archived)" "$want" "SHA-256 of archived vs. server messages"
expect_eq "$(mk --json stats | json_field '["locations"]')" 10 "location rows (nothing twice)"

sync_ok
expect_eq "$(fetched alice)" 0 "run 3: nothing left"
echo "ok"
