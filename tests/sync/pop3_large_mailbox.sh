#!/usr/bin/env bash
# A POP3 mailbox of 3,250 real messages (the SpamAssassin public corpus, part
# 1, from ../shared/corpus) synced with delete = after-download: every
# message arrives byte for byte (line ends as LF), the server ends empty.
source "$(dirname "$0")/../cli/lib.sh"
source "$(dirname "$0")/../servers/dovecot.sh"
reason=$(dovecot_skip_reason) && skip "$reason"
tarball="${MAILKEEP_CORPUS:-}/spamassassin-public-corpus/spamassassin-20030228-part1.tar.zst"
[[ -f "$tarball" ]] || skip "the shared corpus is not here ($tarball)"
chmod 755 "$WORK"  # Dovecot's users must reach its directory inside
dovecot_start "$WORK/dovecot"
trap 'dovecot_stop; rm -rf "$WORK"' EXIT
mk init >/dev/null

mkdir -p "$WORK/sa"
tar --zstd -xf "$tarball" -C "$WORK/sa"
mapfile -t files < <(find "$WORK/sa" -type f ! -name 'cmds' ! -name '.*' -size +0 | sort)
[[ ${#files[@]} -ge 3000 ]] || fail "expected at least 3,000 messages in $tarball, found ${#files[@]}"
dovecot_deliver alice "${files[@]}"
expect_eq "$(dovecot_count alice)" "${#files[@]}" "messages on the server"

cat >"$WORK/config.ini" <<EOF
[account.alice]
protocol = pop3
host = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
user = alice
password_env = ALICE_PW
ca_file = $DOVECOT_CA
delete = after-download
EOF
ALICE_PW=$DOVECOT_ALICE_PASSWORD mk sync --config "$WORK/config.ini" >"$WORK/out" 2>"$WORK/err" ||
  { cat "$WORK/err" >&2; fail "sync failed"; }
cat "$WORK/out"
grep -q "^alice: fetched ${#files[@]} " "$WORK/out" || fail "not every message fetched"
expect_eq "$(dovecot_count alice)" 0 "messages left on the server"

# The archive holds each distinct message exactly once, in the form POP3
# delivers it: line ends LF, and a final line end (see pop3_sync.sh).
python3 - "$WORK/expected" "${files[@]}" <<'EOF'
import hashlib, sys
def pop3_form(b):
    b = b.replace(b"\r\n", b"\n")
    return b if b.endswith(b"\n") else b + b"\n"
with open(sys.argv[1], "w") as out:
    for p in sorted({hashlib.sha256(pop3_form(open(f, "rb").read())).hexdigest() for f in sys.argv[2:]}):
        out.write(p + "\n")
EOF
mk export --format eml --out "$WORK/eml" >/dev/null
sha256sum "$WORK"/eml/*.eml | cut -d' ' -f1 | sort >"$WORK/archived"
diff "$WORK/expected" "$WORK/archived" >"$WORK/diff" ||
  fail "archived messages differ from the mailbox: $(grep -c '^<' "$WORK/diff") missing, $(grep -c '^>' "$WORK/diff") unexpected"
expect_eq "$(mk search --count '*')" "$(wc -l <"$WORK/expected")" "indexed messages"
echo "pop3_large_mailbox: ok (${#files[@]} messages)"
