#!/usr/bin/env bash
# The man page and the bash completion cannot drift from the program: every
# command of tools/main.cc's command table has a ".SS NAME" section in
# doc/mailkeep.1.in that names every option `mailkeep NAME --help` lists,
# and the completion offers the command and those options; the man page
# describes no command or option that does not exist. Usage: docs_drift.sh SOURCE_DIR
source "$(dirname "$0")/lib.sh"
SRC=${1:?usage: docs_drift.sh SOURCE_DIR}
MAN="$SRC/doc/mailkeep.1.in"
COMPLETION="$SRC/doc/mailkeep.bash"
problems=()
problem() { problems+=("$*"); }

# The command table, as written in tools/main.cc: {"name", CmdName, "summary"},
mapfile -t commands < <(grep -oE '^ *\{"[a-z][a-z0-9-]*", Cmd[A-Za-z]+,' "$SRC/tools/main.cc" | grep -oE '"[^"]+"' | tr -d '"')
(( ${#commands[@]} >= 10 )) || fail "found only ${#commands[@]} commands in tools/main.cc's table: the pattern no longer matches it"

# The man page without roff's \- escapes; section NAME's text is from its
# ".SS NAME" to the next .SS or .SH.
plain_man=$(sed 's/\\-/-/g' "$MAN")
section() { awk -v name="$1" '$0 == ".SS " name { on = 1; next } on && /^\.S[SH] / { exit } on' <<<"$plain_man"; }
mapfile -t man_sections < <(sed -n 's/^\.SS //p' <<<"$plain_man")

# Completion: what _mailkeep offers for the words given (the last is the one being completed).
complete_words() {
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _mailkeep; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$COMPLETION" "$MAILKEEP" "$@"
}
offered_commands=$(complete_words "")

# Options a command's --help lists, as --long and -s, without the common ones
# (described once under OPTIONS) and the --debug-* ones kept for tests.
common='^--(archive|config|json|quiet|verbose|help)$|^-[qvh]$'
help_options() {
  "$MAILKEEP" "$1" --help | grep -oE '^  (-[A-Za-z] \[ )?--[a-z0-9-]+' | grep -oE -- '-[A-Za-z]( |$)|--[a-z0-9-]+' |
    tr -d ' ' | grep -vE "$common" | grep -v -- '^--debug-' || true
}

# (Pattern tests in bash itself: a grep per option takes a minute on a loaded machine.)
has_word() { [[ $2 =~ (^|[^a-z0-9-])$1([^a-z0-9-]|$) ]]; }
for cmd in "${commands[@]}"; do
  has_word "$cmd" "$offered_commands" || problem "completion (doc/mailkeep.bash): 'mailkeep <TAB>' does not offer command '$cmd' of tools/main.cc"
  text=$(section "$cmd")
  if [[ -z $text ]]; then
    problem "man page (doc/mailkeep.1.in): no '.SS $cmd' section for command '$cmd' of tools/main.cc"
    continue
  fi
  synopsis=$(head -3 <<<"$text")
  offered=" $(complete_words "$cmd" "-" | tr '\n' ' ') "
  listed=" $(help_options "$cmd" | tr '\n' ' ') "
  for opt in $listed; do
    if [[ $opt == --* ]]; then
      # A positional argument (--query for QUERY...) is named in the synopsis.
      name=${opt#--}
      [[ $synopsis == *"${name^^}"* ]] && continue
      [[ $offered == *" $opt "* ]] || problem "completion (doc/mailkeep.bash): 'mailkeep $cmd -<TAB>' does not offer $opt"
    fi
    has_word "$opt" "$text" ||
      problem "man page (doc/mailkeep.1.in), section '.SS $cmd': option $opt (listed by 'mailkeep $cmd --help') is not described"
  done
  # And nothing described that is not there: every option of a .TP item exists.
  for opt in $(awk '/^\.TP/ { getline; print }' <<<"$text" | grep -oE -- '(^|[^a-z0-9-])--?[a-z][a-z0-9-]*' | grep -oE -- '--?[a-z][a-z0-9-]*'); do
    [[ $listed == *" $opt "* ]] ||
      problem "man page (doc/mailkeep.1.in), section '.SS $cmd': describes $opt, which 'mailkeep $cmd --help' does not list"
  done
done
all_commands=" ${commands[*]} "
for s in "${man_sections[@]}"; do
  [[ $all_commands == *" $s "* ]] || problem "man page (doc/mailkeep.1.in): section '.SS $s' is not a command of tools/main.cc"
done
# The options every command takes, and --version, are under OPTIONS.
options_text=$(awk '/^\.SH OPTIONS/ { on = 1; next } on && /^\.SH / { exit } on' <<<"$plain_man")
for opt in --config --archive --json --quiet --verbose --help --version -q -v -h; do
  has_word "$opt" "$options_text" || problem "man page (doc/mailkeep.1.in): OPTIONS does not describe $opt"
done

# Account and relay names come from the config file.
printf 'archive = %s\n[account.work]\nprotocol = imap\nhost = h\nuser = u\npassword_env = X\n[account.home]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = X\n[relay.out]\nhost = h\n' \
  "$WORK/a" >"$WORK/c.ini"
expect_eq "$(complete_words --config "$WORK/c.ini" sync "" | sort | tr '\n' ' ')" "home work " "accounts offered for sync"
expect_eq "$(complete_words --config "$WORK/c.ini" migrate --to-account w)" "work" "accounts offered for --to-account"
expect_eq "$(MAILKEEP_CONFIG="$WORK/c.ini" complete_words resend --relay "")" "out" "relays offered from \$MAILKEEP_CONFIG"

# The version is CMake's project VERSION (cmake/version.cmake writes it into
# a header at build time); no source spells it out.
version=$(sed -nE 's/^project\(mailkeep VERSION ([0-9.]+) .*/\1/p' "$SRC/CMakeLists.txt")
[[ -n $version ]] || fail "no project(mailkeep VERSION ...) in CMakeLists.txt"
if hits=$(grep -rnE "[^0-9.]${version//./\\.}([^0-9.]|\$)" "$SRC"/{tools,store,sync,index,config,doc} \
    --include='*.cc' --include='*.h' --include='*.in' --include='*.bash'); then
  problem "version $version is hard-coded (use MAILKEEP_VERSION from tools/version.h): $hits"
fi

if (( ${#problems[@]} )); then
  printf 'FAIL: %s\n' "${problems[@]}" >&2
  exit 1
fi
echo "docs_drift: ok (${#commands[@]} commands)"
