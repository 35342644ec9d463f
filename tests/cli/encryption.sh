#!/usr/bin/env bash
# The command line of an encrypted archive: `init --encrypt`, every
# passphrase source (the config file's passphrase_command, passphrase_file,
# passphrase_env; then $MAILKEEP_PASSPHRASE; first set wins), a wrong or
# missing passphrase (one line, exit 3), a group-readable passphrase_file
# refused, the full-text index kept outside the archive directory in
# $XDG_CACHE_HOME/mailkeep/index/<archive_id> and rebuilt after the cache is
# deleted, and every command opening the archive through the one path.
# The passphrase never appears in output, errors or the archive directory.
source "$(dirname "$0")/lib.sh"
export HOME="$WORK/home" XDG_CACHE_HOME="$WORK/cache"
mkdir -p "$HOME"
unset MAILKEEP_ARCHIVE MAILKEEP_CONFIG XDG_CONFIG_HOME MAILKEEP_PASSPHRASE
PASS='Correct-Horse-7731'
pm() { MAILKEEP_PASSPHRASE="$PASS" "$MAILKEEP" --archive "$ARCHIVE" "$@" </dev/null; }
# Runs mailkeep with no passphrase anywhere and stdin not a terminal.
nm() { "$MAILKEEP" --archive "$ARCHIVE" "$@" </dev/null; }
one_line() {  # one_line WANT: stderr ($WORK/err) is exactly that one line
  expect_eq "$(cat "$WORK/err")" "$1" "stderr"
  expect_eq "$(wc -l <"$WORK/err")" 1 "stderr lines"
}

# --- --kdf-memory is checked before anything is made.
for bad in 0 3 2048 x; do
  expect_status 2 nm init --encrypt --kdf-memory "$bad"
  grep -q -- '--kdf-memory' "$WORK/err" || fail "--kdf-memory $bad: $(cat "$WORK/err")"
  [[ ! -e "$ARCHIVE" ]] || fail "--kdf-memory $bad made $ARCHIVE"
done

# --- init --encrypt without a passphrase: one line, exit 3, nothing made.
expect_status 3 nm init --encrypt --kdf-memory 1
one_line "mailkeep: the archive in $ARCHIVE is encrypted: set passphrase_command, passphrase_file or passphrase_env in the config file, or MAILKEEP_PASSPHRASE"
[[ ! -e "$ARCHIVE/key" ]] || fail "init without a passphrase wrote a key file"

# --- init --encrypt with $MAILKEEP_PASSPHRASE.
pm init --encrypt --kdf-memory 1 >"$WORK/out"
grep -q 'encrypted' "$WORK/out" || fail "init --encrypt said: $(cat "$WORK/out")"
[[ -f "$ARCHIVE/key" ]] || fail "init --encrypt wrote no key file"
expect_eq "$(stat -c %a "$ARCHIVE/key")" 600 "mode of the key file"
pm stats >"$WORK/out"
grep -q '^encrypted *yes' "$WORK/out" || fail "stats does not say encrypted: $(cat "$WORK/out")"
expect_eq "$(pm stats --json | json_field '["encrypted"]')" True "stats --json encrypted"
id=$(pm stats --json | json_field '["archive_id"]')
[[ "$id" =~ ^[0-9a-f]{32}$ ]] || fail "stats --json archive_id: '$id'"

# --- a plain archive says so.
"$MAILKEEP" --archive "$WORK/plain" init >/dev/null
"$MAILKEEP" --archive "$WORK/plain" stats >"$WORK/out"
grep -q '^encrypted *no' "$WORK/out" || fail "stats of a plain archive: $(cat "$WORK/out")"

# --- some mail, indexed into the cache outside the archive.
md="$WORK/Maildir"
mkdir -p "$md/cur" "$md/new" "$md/tmp"
for i in 1 2 3; do
  printf 'From: alice%d@example.org\nTo: bob@example.org\nSubject: zebrafish %d\nMessage-ID: <e%d@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody line %d\n' \
    "$i" "$i" "$i" "$i" >"$md/cur/$i.host:2,S"
done
pm import "$md" >"$WORK/out" 2>"$WORK/err" || fail "import: $(cat "$WORK/err")"
grep -q '^imported 3' "$WORK/out" || fail "import said: $(cat "$WORK/out")"
cache="$XDG_CACHE_HOME/mailkeep/index/$id"
[[ -d "$cache" ]] || fail "no index in $cache"
expect_eq "$(stat -c %a "$cache")" 700 "mode of the index cache"
[[ ! -e "$ARCHIVE/xapian" ]] || fail "an encrypted archive's index is in the archive directory"
expect_eq "$(pm search --count zebrafish)" 3 "search in the encrypted archive"

# --- wrong passphrase: one line, exit 3, for every kind of command.
for cmd in "stats" "search zebrafish" "import $md" "verify" "reindex" "rebuild-catalog" "repack" "show 1"; do
  # shellcheck disable=SC2086
  expect_status 3 env MAILKEEP_PASSPHRASE=wrong-one "$MAILKEEP" --archive "$ARCHIVE" $cmd
  one_line "mailkeep: wrong passphrase for the archive in $ARCHIVE"
done
# --- no passphrase at all: one line, exit 3.
for cmd in "stats" "search zebrafish" "verify" "rebuild-catalog"; do
  # shellcheck disable=SC2086
  expect_status 3 nm $cmd
  one_line "mailkeep: the archive in $ARCHIVE is encrypted: set passphrase_command, passphrase_file or passphrase_env in the config file, or MAILKEEP_PASSPHRASE"
done

# --- each config file source; the config file's source wins over the environment.
cfg="$WORK/config.ini"
printf '%s\n' "$PASS" >"$WORK/pass.txt"
chmod 600 "$WORK/pass.txt"
export SECRET_FOR_TEST="$PASS"
for source in "passphrase_command = cat $WORK/pass.txt" "passphrase_file = $WORK/pass.txt" \
              "passphrase_env = SECRET_FOR_TEST"; do
  printf 'archive = %s\n%s\n' "$ARCHIVE" "$source" >"$cfg"
  got=$(MAILKEEP_PASSPHRASE=wrong-one "$MAILKEEP" --config "$cfg" search --count zebrafish </dev/null 2>"$WORK/err") ||
    fail "$source: $(cat "$WORK/err")"
  expect_eq "$got" 3 "search with $source"
done
# Unlocked once per process: passphrase_command runs once for an import
# (which opens the archive, then indexes) and once for a reindex.
printf 'archive = %s\npassphrase_command = echo run >>%s; cat %s\n' "$ARCHIVE" "$WORK/runs" "$WORK/pass.txt" >"$cfg"
"$MAILKEEP" --config "$cfg" -q import "$md" </dev/null 2>"$WORK/err" || fail "import with passphrase_command: $(cat "$WORK/err")"
"$MAILKEEP" --config "$cfg" -q reindex --pending </dev/null 2>"$WORK/err" || fail "reindex with passphrase_command: $(cat "$WORK/err")"
expect_eq "$(wc -l <"$WORK/runs")" 2 "passphrase_command runs for two commands"
# A group-readable passphrase_file is refused (as ssh refuses such a key).
chmod 640 "$WORK/pass.txt"
printf 'archive = %s\npassphrase_file = %s\n' "$ARCHIVE" "$WORK/pass.txt" >"$cfg"
expect_status 3 "$MAILKEEP" --config "$cfg" stats </dev/null
grep -q 'chmod 600' "$WORK/err" || fail "group-readable passphrase_file: $(cat "$WORK/err")"
expect_eq "$(wc -l <"$WORK/err")" 1 "stderr lines for a group-readable passphrase_file"
chmod 600 "$WORK/pass.txt"
# A failing passphrase_command: one line, exit 3, naming the key.
printf 'archive = %s\npassphrase_command = echo oops >&2; exit 4\n' "$ARCHIVE" >"$cfg"
expect_status 3 "$MAILKEEP" --config "$cfg" stats </dev/null
grep -q 'passphrase_command exited with status 4: oops' "$WORK/err" || fail "failing passphrase_command: $(cat "$WORK/err")"
# Two sources in the file: a config error.
printf 'archive = %s\npassphrase_env = A\npassphrase_file = %s\n' "$ARCHIVE" "$WORK/pass.txt" >"$cfg"
expect_status 2 "$MAILKEEP" --config "$cfg" stats </dev/null
grep -q "passphrase_env' and 'passphrase_file" "$WORK/err" || fail "two passphrase sources: $(cat "$WORK/err")"

# --- the commands that need the config file's accounts and relays open
# the archive the same way (refused here before any connection is made).
printf 'archive = %s\n[account.acct]\nprotocol = imap\nhost = 127.0.0.1\nport = 1\nuser = u\npassword_env = NOPE\n[relay.r]\nhost = 127.0.0.1\nport = 1\n' \
  "$ARCHIVE" >"$cfg"
for cmd in "sync acct" "migrate --to-account acct 1" "resend --relay r --to x@example.org 1" "delete --yes 1" "hold --reason r 1" "prune"; do
  # shellcheck disable=SC2086
  expect_status 3 env MAILKEEP_PASSPHRASE=wrong-one "$MAILKEEP" --config "$cfg" $cmd
  one_line "mailkeep: wrong passphrase for the archive in $ARCHIVE"
done

# --- the index cache deleted (a new machine): the next import queues every
# message again and says so in one line; search works after it.
rm -rf "$XDG_CACHE_HOME"
printf 'From: carol@example.org\nSubject: okapi\nMessage-ID: <e4@example.org>\n\nbody okapi\n' >"$WORK/four.eml"
pm import "$WORK/four.eml" >"$WORK/out" 2>"$WORK/err" || fail "import after the cache went: $(cat "$WORK/err")"
grep -q 'index' "$WORK/err" && grep -q 'again' "$WORK/err" || fail "import did not say the index is built again: $(cat "$WORK/err")"
expect_eq "$(grep -c . "$WORK/err")" 1 "lines about the missing index"
expect_eq "$(pm search --count zebrafish)" 3 "search after the index cache was rebuilt"
expect_eq "$(pm search --count okapi)" 1 "search for the new message"
# reindex rebuilds it too.
rm -rf "$XDG_CACHE_HOME"
pm reindex >"$WORK/out" 2>"$WORK/err" || fail "reindex: $(cat "$WORK/err")"
grep -q '^indexed 4 messages' "$WORK/out" || fail "reindex said: $(cat "$WORK/out")"
[[ -d "$cache" ]] || fail "reindex did not rebuild $cache"
expect_eq "$(pm search --count zebrafish)" 3 "search after reindex"

# --- the other commands open the encrypted archive.
pm verify >"$WORK/out" 2>"$WORK/err" || fail "verify: $(cat "$WORK/err")"
pm show 1 >/dev/null || fail "show"
pm export --format mbox --out "$WORK/out.mbox" >/dev/null 2>"$WORK/err" || fail "export: $(cat "$WORK/err")"
pm rebuild-catalog >/dev/null 2>"$WORK/err" || fail "rebuild-catalog: $(cat "$WORK/err")"
pm reindex --pending >/dev/null 2>"$WORK/err" || fail "reindex --pending: $(cat "$WORK/err")"
pm repack >/dev/null 2>"$WORK/err" || fail "repack: $(cat "$WORK/err")"
expect_eq "$(pm search --count zebrafish)" 3 "search after rebuild-catalog"

# --- init --encrypt on an existing archive is refused, the key untouched.
before=$(sha256sum <"$ARCHIVE/key")
expect_status 3 pm init --encrypt --kdf-memory 1
expect_eq "$(sha256sum <"$ARCHIVE/key")" "$before" "key file after a refused init"

# --- on a terminal: a prompt without echo (init asks twice and wants the
# same answer). A pseudo-terminal answers each prompt ending in ':'.
if [[ -x /usr/bin/python3 ]]; then
  tty_mk() {  # tty_mk ARCHIVE ANSWER... -- ARGS: mailkeep on a terminal; its output in $WORK/tty
    local dir=$1; shift
    local answers=()
    while [[ $1 != -- ]]; do answers+=("$1"); shift; done
    shift
    set +e
    /usr/bin/python3 "$(dirname "$0")/answer_prompts.py" "${answers[@]}" -- "$MAILKEEP" --archive "$dir" "$@" >"$WORK/tty"
    tty_status=$?
    set -e
  }
  tty_mk "$WORK/tty-archive" "$PASS" "$PASS" -- init --encrypt --kdf-memory 1
  expect_eq "$tty_status" 0 "init --encrypt on a terminal: $(cat "$WORK/tty")"
  grep -q 'new passphrase for the archive in' "$WORK/tty" || fail "no prompt: $(cat "$WORK/tty")"
  grep -q 'created an empty encrypted archive' "$WORK/tty" || fail "init on a terminal: $(cat "$WORK/tty")"
  tty_mk "$WORK/tty-archive" "$PASS" -- stats
  expect_eq "$tty_status" 0 "stats on a terminal: $(cat "$WORK/tty")"
  grep -q '^encrypted *yes' "$WORK/tty" || fail "stats on a terminal: $(cat "$WORK/tty")"
  tty_mk "$WORK/tty-archive" wrong-one -- stats
  expect_eq "$tty_status" 3 "stats on a terminal with a wrong passphrase"
  grep -q "mailkeep: wrong passphrase for the archive in $WORK/tty-archive" "$WORK/tty" || fail "wrong on a terminal: $(cat "$WORK/tty")"
  if grep -qF "$PASS" "$WORK/tty"; then fail "the passphrase was echoed"; fi
  tty_mk "$WORK/tty-other" "$PASS" "not-the-same" -- init --encrypt --kdf-memory 1
  expect_eq "$tty_status" 3 "init with two different passphrases"
  grep -q 'the passphrases do not match' "$WORK/tty" || fail "mismatch: $(cat "$WORK/tty")"
  [[ ! -e "$WORK/tty-other/key" ]] || fail "a key file after two different passphrases"
else
  echo "encryption: the terminal prompt is not tested (/usr/bin/python3 is not installed)"
fi

# --- the passphrase is nowhere under the archive or the cache.
if grep -rqaF "$PASS" "$ARCHIVE" "$XDG_CACHE_HOME"; then fail "the passphrase is stored in the clear"; fi
echo "encryption: ok"
