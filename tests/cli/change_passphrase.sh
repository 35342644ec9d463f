#!/usr/bin/env bash
# mailkeep change-passphrase (issue 13): the current passphrase as every
# command gets it, the new one from --new-passphrase-file/-env/-command or
# asked twice on a terminal. Afterwards only the new one opens the archive,
# whose data is untouched; an old copy of the key file still opens with the
# old one (the master key stays: README says so). A wrong current
# passphrase is one line, exit 3. Then SIGKILLs at random moments of a
# change: after each, exactly one of old/new opens and verify passes.
source "$(dirname "$0")/lib.sh"

unset MAILKEEP_PASSPHRASE
M="$WORK/mail"
mkdir -p "$M"/{cur,new,tmp}
for n in 1 2 3; do
  printf 'From: p%s@example.org\nSubject: note %s\nMessage-ID: <m%s@example.org>\n\nBody %s\n' "$n" "$n" "$n" "$n" \
    >"$M/cur/m$n.eml:2,S"
done
with() { MAILKEEP_PASSPHRASE="$1" "$MAILKEEP" --archive "$ARCHIVE" "${@:2}"; }
opens() { with "$1" -q verify >/dev/null 2>&1; }

with first init --encrypt --kdf-memory 1 >/dev/null
with first import -q "$M"
before=$(with first --json stats | json_field '["messages"]')
cp "$ARCHIVE/key" "$WORK/old-key"
packs_before=$(cd "$ARCHIVE" && find packs -type f -print0 | sort -z | xargs -0 sha256sum)

# Wrong current passphrase: one line, exit 3, nothing changed.
NEWPASS=second expect_status 3 with wrong change-passphrase --new-passphrase-env NEWPASS
expect_eq "$(cat "$WORK/err")" "mailkeep: wrong passphrase for the archive in $ARCHIVE" "wrong current passphrase"
cmp -s "$ARCHIVE/key" "$WORK/old-key" || fail "the key file changed after a wrong passphrase"

# Usage: one source of the new passphrase; a file others can read is refused.
expect_status 2 with first change-passphrase --new-passphrase-env A --new-passphrase-command 'echo b'
printf 'second\n' >"$WORK/newpass"
chmod 644 "$WORK/newpass"
expect_status 2 with first change-passphrase --new-passphrase-file "$WORK/newpass"
grep -q 'chmod 600' "$WORK/err" || fail "a readable passphrase file: $(cat "$WORK/err")"
expect_status 2 with first change-passphrase </dev/null  # off a terminal, no source
cmp -s "$ARCHIVE/key" "$WORK/old-key" || fail "the key file changed after refused changes"

# From a file: only the new passphrase opens; packs untouched; data intact.
chmod 600 "$WORK/newpass"
with first change-passphrase --new-passphrase-file "$WORK/newpass" --kdf-memory 2 >"$WORK/out"
grep -q 'changed the passphrase' "$WORK/out" || fail "change-passphrase output: $(cat "$WORK/out")"
opens second || fail "the new passphrase does not open the archive"
expect_status 3 with first stats
grep -q 'wrong passphrase' "$WORK/err" || fail "the old passphrase: $(cat "$WORK/err")"
expect_eq "$(with second --json stats | json_field '["messages"]')" "$before" "messages after the change"
expect_eq "$(cd "$ARCHIVE" && find packs -type f -print0 | sort -z | xargs -0 sha256sum)" "$packs_before" "packs after the change"
if grep -rqaF second "$ARCHIVE"; then fail "the new passphrase is stored in the clear"; fi

# The threat model, shown: an old copy of the key file opens with the old passphrase.
cp "$ARCHIVE/key" "$WORK/new-key"
cp "$WORK/old-key" "$ARCHIVE/key"
opens first || fail "an old key file copy does not open with the old passphrase"
cp "$WORK/new-key" "$ARCHIVE/key"

# From a command and from the environment.
with second change-passphrase -q --new-passphrase-command 'printf third' --kdf-memory 1
opens third || fail "--new-passphrase-command"
THE_NEW=fourth with third change-passphrase -q --new-passphrase-env THE_NEW --kdf-memory 1
opens fourth || fail "--new-passphrase-env"

# On a terminal: asked twice without echo; two different answers change nothing.
if [[ -x /usr/bin/python3 ]]; then
  tty_change() {
    set +e
    MAILKEEP_PASSPHRASE=fourth /usr/bin/python3 "$(dirname "$0")/answer_prompts.py" "$@" -- \
      "$MAILKEEP" --archive "$ARCHIVE" change-passphrase --kdf-memory 1 >"$WORK/tty"
    tty_status=$?
    set -e
  }
  tty_change fifth sixth
  expect_eq "$tty_status" 2 "two different new passphrases: $(cat "$WORK/tty")"
  grep -q 'do not match; nothing was changed' "$WORK/tty" || fail "mismatch: $(cat "$WORK/tty")"
  opens fourth || fail "the passphrase changed after a mismatch"
  tty_change fifth fifth
  expect_eq "$tty_status" 0 "change on a terminal: $(cat "$WORK/tty")"
  if grep -q fifth "$WORK/tty"; then fail "the new passphrase was echoed"; fi
  opens fifth || fail "the passphrase typed on a terminal"
  cur=fifth
else
  echo "change-passphrase: the terminal prompt is not tested (/usr/bin/python3 is not installed)"
  cur=fourth
fi

# SIGKILL at random moments of a change (scrypt at 16 MiB, so a change
# takes long enough to be hit anywhere). After each kill exactly one of the
# two passphrases opens, and the archive verifies.
start=$(date +%s%N)
NEXT=probe with "$cur" change-passphrase -q --new-passphrase-env NEXT --kdf-memory 16
took_us=$(( ($(date +%s%N) - start) / 1000 ))
cur=probe
kept=0 taken=0
for i in $(seq 1 20); do
  nxt="pass-$i"
  NEXT=$nxt MAILKEEP_PASSPHRASE=$cur "$MAILKEEP" --archive "$ARCHIVE" change-passphrase -q \
    --new-passphrase-env NEXT --kdf-memory 16 &
  pid=$!
  sleep "$(awk -v r="$RANDOM" -v t="$took_us" 'BEGIN { printf "%.6f", r / 32768 * t * 1.2 / 1e6 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  old_ok=0 new_ok=0
  opens "$cur" && old_ok=1
  opens "$nxt" && new_ok=1
  [[ $((old_ok + new_ok)) -eq 1 ]] || fail "kill $i: old opens=$old_ok, new opens=$new_ok"
  if [[ $new_ok -eq 1 ]]; then cur=$nxt taken=$((taken + 1)); else kept=$((kept + 1)); fi
done
expect_eq "$(with "$cur" --json stats | json_field '["messages"]')" "$before" "messages after the kills"
mk_verify() { with "$cur" -q verify; }
mk_verify || fail "verify after the kills"
echo "change-passphrase: ok (after 20 kills: the old passphrase opened $kept times, the new one $taken; one change took ${took_us} us)"
