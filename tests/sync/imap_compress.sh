#!/usr/bin/env bash
# `mailkeep sync` over IMAP with COMPRESS=DEFLATE (RFC 4978) against a
# Dovecot that offers it (DOVECOT_IMAP_COMPRESS=1: plugins zlib and
# imap_zlib): several folders and an 8 MB message over implicit TLS,
# STARTTLS and plain TCP; the archive verifies and holds every message
# byte for byte; incremental runs fetch only what is new and see flag
# changes. Dovecot's rawlog (each session's bytes after login, as sent on
# the wire) shows "COMPRESS DEFLATE" for accounts with the default
# compress = yes and no COMPRESS command at all for compress = no, and the
# compressed sessions carry fewer bytes.
export DOVECOT_IMAP_COMPRESS=1
PROTOCOL=imap
source "$(dirname "$0")/../sync/lib.sh"
export ALICE_PW=$DOVECOT_ALICE_PASSWORD BOB_PW=$DOVECOT_BOB_PASSWORD

# Rawlog for every IMAP session from now on (a directory per user).
dovecot_rawlog_on alice bob
rawlog_in() { cat "$DOVECOT_DIR/mail/$1/rawlog/"*.in 2>/dev/null | tr -d '\0' || true; }
rawlog_sessions() {
  local f n=0
  for f in "$DOVECOT_DIR/mail/$1/rawlog/"*.in; do [[ -e $f ]] && n=$((n + 1)); done
  echo "$n"
}

# gen DIR TAG N: N mail-like messages (text of a few KB, compressible as
# real mail is) as files DIR/TAG-000001.eml ...
gen() {
  python3 - "$@" <<'EOF'
import os, random, sys
d, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(d, exist_ok=True)
rng = random.Random(tag)
words = ("the archive server message folder sync mail compress deflate window stream reply "
         "thanks regards meeting tomorrow report attached please find below question answer "
         "project release build test patch review commit branch merge issue").split()
for i in range(1, n + 1):
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(6, 14))) for _ in range(rng.randint(20, 80))]
    with open(os.path.join(d, "%s-%06d.eml" % (tag, i)), "w") as f:
        f.write("From: Sender <sender@example.test>\nTo: user@example.test\nSubject: %s %d\n"
                "Message-ID: <%s-%d@example.test>\nDate: Mon, 01 Jan 2024 00:00:00 +0000\n\n%s\n"
                % (tag, i, tag, i, "\n".join(lines)))
EOF
}
# fill USER FOLDER TAG N: N generated messages into FOLDER (created if needed).
fill() {
  local user=$1 folder=$2 tag=$3 n=$4 f
  gen "$WORK/gen/$user-$tag" "$tag" "$n"
  if [[ $folder == INBOX ]]; then
    dovecot_deliver "$user" "$WORK/gen/$user-$tag/"*.eml
  else
    doveadm_ mailbox create -u "$user" "$folder" 2>/dev/null || true
    for f in "$WORK/gen/$user-$tag/"*.eml; do doveadm_ save -u "$user" -m "$folder" <"$f"; done
  fi
}

# The same mail for alice (compress = yes, the default) and bob (no):
# INBOX 200, Archive/2024 40 plus an 8 MB message, Lists/dev 30, Entwürfe 10.
python3 - "$WORK/big.eml" <<'EOF'
import base64, random, sys
data = base64.encodebytes(random.Random(8).randbytes(6 * 1024 * 1024)).decode()
with open(sys.argv[1], "w") as f:
    f.write("From: big@example.test\nTo: user@example.test\nSubject: eight megabytes\n"
            "Message-ID: <big-compress@example.test>\nMIME-Version: 1.0\n"
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + data)
EOF
for u in alice bob; do
  fill "$u" INBOX inbox 200
  fill "$u" Archive/2024 arch 40
  doveadm_ save -u "$u" -m Archive/2024 <"$WORK/big.eml"
  fill "$u" Lists/dev lists 30
  fill "$u" "Entwürfe" draft 10
done
total=281

# 1. compress = yes (default) over implicit TLS: negotiated, everything
#    fetched, byte for byte.
account alice alice ALICE_PW implicit
sync_ok -v alice
grep -q "account alice: IMAP localhost:$DOVECOT_IMAPS_PORT: COMPRESS=DEFLATE active" "$WORK/err" ||
  fail "no 'COMPRESS=DEFLATE active' note: $(cat "$WORK/err")"
expect_eq "$(fetched alice)" "$total" "messages fetched from 4 folders"
expect_eq "$(messages)" "$total" "messages in the archive"
for f in INBOX Archive/2024 Lists/dev "Entwürfe"; do
  expect_eq "$(mk search --count "account:alice folder:\"$f\"")" \
    "$(dovecot_count alice "$f")" "messages archived from $f"
done
got=$(mk show --raw 'mid:big-compress@example.test' | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$(sha256sum <"$WORK/big.eml" | cut -d' ' -f1)" "8 MB message bytes"
for f in "$WORK/gen/alice-lists/"*.eml; do
  id=$(sed -n 's/^Message-ID: <\(.*\)>$/\1/p' "$f")
  cmp -s <(mk show --raw "mid:$id") "$f" || fail "message $id differs from what was delivered"
done
mk verify >/dev/null || fail "verify after the first sync"
expect_eq "$(rawlog_sessions alice)" 1 "alice's IMAP sessions in the rawlog"
rawlog_in alice | grep -aq "COMPRESS DEFLATE" || fail "alice's session sent no COMPRESS DEFLATE"
alice_out=$(dovecot_rawlog_bytes alice out)

# 2. compress = no: offered, never sent; the same mail arrives (stored
#    once: it is the same content).
account bob bob BOB_PW implicit compress=no
sync_ok -v bob
grep -q "account bob: IMAP localhost:$DOVECOT_IMAPS_PORT: COMPRESS=DEFLATE offered, not used" "$WORK/err" ||
  fail "no 'offered, not used' note: $(cat "$WORK/err")"
expect_eq "$(fetched bob)" "$total" "messages fetched with compress = no"
expect_eq "$(stored_before bob)" "$total" "bob's messages are alice's (content already stored)"
expect_eq "$(rawlog_sessions bob)" 1 "bob's IMAP sessions in the rawlog"
rawlog_in bob | grep -aq "COMPRESS" && fail "compress = no, yet a COMPRESS command was sent"
bob_out=$(dovecot_rawlog_bytes bob out)
echo "server -> client bytes for the first sync: compressed $alice_out, uncompressed $bob_out"
((alice_out * 10 < bob_out * 9)) || fail "compressed session not smaller: $alice_out vs $bob_out bytes"

# 3. STARTTLS and plain TCP with compression, limited to some folders.
account stls alice ALICE_PW starttls "folders=Archive/*"
account clear alice ALICE_PW none allow_plaintext=true "folders=Lists/*, INBOX"
sync_ok -v stls clear
expect_eq "$(grep -c "COMPRESS=DEFLATE active" "$WORK/err")" 2 "compressed STARTTLS and plain sessions"
expect_eq "$(fetched stls)" 41 "STARTTLS, Archive/*"
expect_eq "$(fetched clear)" 230 "plain TCP, INBOX and Lists/*"
expect_eq "$(messages)" "$total" "messages in the archive (nothing stored twice)"

# 4. Incremental: nothing new; then new mail in two folders and a flag
#    change, over the compressed session.
sync_ok alice
expect_eq "$(fetched alice)" 0 "second run"
fill alice Lists/dev lists2 5
fill alice INBOX inbox2 3
doveadm_ flags add -u alice '\Flagged' mailbox Archive/2024 subject 'arch 7'
sync_ok alice
expect_eq "$(fetched alice)" 8 "run after 8 new messages"
summary alice | grep -q "flags changed 1" || fail "flag change not seen: $(cat "$WORK/out")"
expect_eq "$(mk search --count 'is:flagged')" 1 "flagged messages"
expect_eq "$(mk search --count 'subject:lists2')" 5 "new messages indexed"
expect_eq "$(messages)" $((total + 8)) "messages in the archive"
sync_ok alice
expect_eq "$(fetched alice)" 0 "run after the incremental one"

mk verify >/dev/null || fail "verify at the end"
echo "imap_compress: ok"
