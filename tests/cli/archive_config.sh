#!/usr/bin/env bash
# Every command finds the archive the same way: --archive, then
# $MAILKEEP_ARCHIVE, then the config file's `archive` (--config F, else the
# default config file), then ~/.local/share/mailkeep. `stats` says which it
# opened and why; a config file that does not parse is one line and exit 2.
source "$(dirname "$0")/lib.sh"
# A private HOME and no inherited choice, so the default is ours to check.
export HOME="$WORK/home"
mkdir -p "$HOME"
unset MAILKEEP_ARCHIVE MAILKEEP_CONFIG XDG_CONFIG_HOME
m() { "$MAILKEEP" "$@"; }

msg() {  # msg FILE WORD: one message whose body holds WORD
  printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\nMessage-ID: <%s@example.org>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\nbody %s\n' \
    "$2" "$2" "$2" >"$1"
}
# A top-level field of `stats --json` (printed one per line; python3 takes
# seconds to start on a loaded machine, sed does not).
jf() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p"; }
messages() { m "$@" stats --json | jf messages; }

# --- --config F: search, stats, import, export (and the rest) open F's archive.
cfgdir="$WORK/cfg"
mkdir -p "$cfgdir"
printf 'archive = %s\n' "$WORK/from-config" >"$cfgdir/accounts.ini"
F="$cfgdir/accounts.ini"
m --config "$F" init >/dev/null
[[ -d "$WORK/from-config" ]] || fail "init --config did not create F's archive"
msg "$WORK/one.eml" zebrafish
m --config "$F" import "$WORK/one.eml" >/dev/null
expect_eq "$(messages --config "$F")" 1 "stats --config F after import --config F"
m --config "$F" search zebrafish --format ids >"$WORK/ids"
expect_eq "$(cat "$WORK/ids")" 1 "search --config F"
m --config "$F" export '*' --format mbox --out "$WORK/out.mbox" >/dev/null
grep -q zebrafish "$WORK/out.mbox" || fail "export --config F did not export F's message"
m --config "$F" show 1 | grep -q zebrafish || fail "show --config F"
m --config "$F" thread 1 >/dev/null || fail "thread --config F"
m --config "$F" verify >/dev/null || fail "verify --config F"
m --config "$F" reindex >/dev/null || fail "reindex --config F"
[[ ! -e "$HOME/.local/share/mailkeep" ]] || fail "a command with --config F touched the default archive"
# --config after the command name is the same option.
expect_eq "$(m stats --config "$F" --json | jf messages)" 1 "stats --config F (after the command)"

# stats says which archive and why, in text and JSON.
m --config "$F" stats >"$WORK/stats"
grep -qxF "archive         $WORK/from-config (from --config $F)" "$WORK/stats" ||
  fail "stats does not say where the archive came from: $(head -3 "$WORK/stats")"
expect_eq "$(m --config "$F" stats --json | jf archive)" "$WORK/from-config" "stats --json archive"
expect_eq "$(m --config "$F" stats --json | jf archive_source)" "config" "stats --json archive_source"
expect_eq "$(m --config "$F" stats --json | jf archive_from)" "--config $F" "stats --json archive_from"

# A relative `archive` is relative to the config file's directory.
printf 'archive = rel-archive\n' >"$cfgdir/rel.ini"
m --config "$cfgdir/rel.ini" init >/dev/null
[[ -d "$cfgdir/rel-archive" ]] || fail "relative archive not under the config file's directory"

# --- Precedence, each source in turn: four archives with 1, 2, 3, 4 messages.
make_archive() {  # make_archive DIR N: an archive of N messages
  mkdir -p "$WORK/msgs$2"
  for i in $(seq "$2"); do msg "$WORK/msgs$2/$i.eml" "w$i"; done
  m --archive "$1" init >/dev/null
  m --archive "$1" import --no-index "$WORK/msgs$2" >/dev/null
}
make_archive "$WORK/flag" 1
make_archive "$WORK/env" 2
make_archive "$WORK/conf" 3
make_archive "$HOME/.local/share/mailkeep" 4
printf 'archive = %s\n' "$WORK/conf" >"$WORK/prec.ini"

export MAILKEEP_ARCHIVE="$WORK/env"
expect_eq "$(messages --archive "$WORK/flag" --config "$WORK/prec.ini")" 1 "--archive beats \$MAILKEEP_ARCHIVE and the config"
expect_eq "$(m --archive "$WORK/flag" stats --json | jf archive_source)" "flag" "source of --archive"
expect_eq "$(messages --config "$WORK/prec.ini")" 2 "\$MAILKEEP_ARCHIVE beats the config file"
expect_eq "$(m stats --json | jf archive_from)" "\$MAILKEEP_ARCHIVE" "source of \$MAILKEEP_ARCHIVE"
unset MAILKEEP_ARCHIVE
expect_eq "$(messages --config "$WORK/prec.ini")" 3 "the config file's archive beats the default"
# The default config file: $MAILKEEP_CONFIG, then ~/.config/mailkeep/config.ini.
export MAILKEEP_CONFIG="$WORK/prec.ini"
expect_eq "$(messages)" 3 "\$MAILKEEP_CONFIG's archive"
expect_eq "$(m stats --json | jf archive_from)" "config file $WORK/prec.ini" "source of the default config file"
unset MAILKEEP_CONFIG
mkdir -p "$HOME/.config/mailkeep"
cp "$WORK/prec.ini" "$HOME/.config/mailkeep/config.ini"
expect_eq "$(messages)" 3 "~/.config/mailkeep/config.ini's archive"
rm "$HOME/.config/mailkeep/config.ini"
expect_eq "$(messages)" 4 "the default archive without any config file"
expect_eq "$(m stats --json | jf archive_source)" "default" "source of the default"
# A config file without `archive` leaves the default.
printf '# nothing\n' >"$WORK/empty.ini"
expect_eq "$(messages --config "$WORK/empty.ini")" 4 "a config file without archive"

# --- A config file that does not parse, or is missing when named: one line, exit 2, for every command.
printf 'archive = %s\nhots = x\n' "$WORK/conf" >"$WORK/bad.ini"
for cmd in "stats" "search w1" "import $WORK/one.eml" "export *" "show 1" "thread 1" "verify" "reindex" "rebuild-catalog" "init" "sync" "oauth x"; do
  # shellcheck disable=SC2086
  expect_status 2 m --config "$WORK/bad.ini" $cmd
  expect_eq "$(wc -l <"$WORK/err")" 1 "lines on stderr for '$cmd' with a bad config"
  grep -q "bad.ini:2: unknown key 'hots'" "$WORK/err" || fail "'$cmd' with a bad config: $(cat "$WORK/err")"
done
expect_status 2 m --config "$WORK/missing.ini" stats
expect_eq "$(wc -l <"$WORK/err")" 1 "lines on stderr for a missing --config"
# The default config file broken is the same error.
cp "$WORK/bad.ini" "$HOME/.config/mailkeep/config.ini"
expect_status 2 m stats
grep -q "config.ini:2: unknown key 'hots'" "$WORK/err" || fail "broken default config: $(cat "$WORK/err")"
echo "archive_config: ok"
