#!/usr/bin/env bash
# `cmake --install` into a temp prefix installs the binary, mailkeep(1), the
# bash completion and the cron/systemd examples; the man page renders
# without warnings; --version is the CMake project version; the examples run
# `mailkeep sync` with --config and hold no secret.
# Usage: install.sh BUILD_DIR PROJECT_VERSION
source "$(dirname "$0")/lib.sh"
BUILD=${1:?usage: install.sh BUILD_DIR PROJECT_VERSION}
VERSION=${2:?usage: install.sh BUILD_DIR PROJECT_VERSION}
P="$WORK/prefix"
"${CMAKE:-cmake}" --install "$BUILD" --prefix "$P" >"$WORK/install.log" 2>&1 || { cat "$WORK/install.log" >&2; fail "cmake --install"; }

for f in bin/mailkeep share/man/man1/mailkeep.1 share/bash-completion/completions/mailkeep \
         share/doc/mailkeep/mailkeep.example.ini share/doc/mailkeep/mailkeep-sync.service \
         share/doc/mailkeep/mailkeep-sync.timer share/doc/mailkeep/mailkeep.crontab; do
  [[ -s "$P/$f" ]] || fail "cmake --install did not install $f (log: $(tr '\n' ' ' <"$WORK/install.log"))"
done
[[ -x "$P/bin/mailkeep" ]] || fail "installed bin/mailkeep is not executable"

# --version: "mailkeep X.Y.Z", with " (git DESCRIBE)" in a build from git.
got=$("$P/bin/mailkeep" --version)
[[ $got =~ ^mailkeep\ ${VERSION//./\\.}(\ \(git\ [A-Za-z0-9._+-]+\))?$ ]] || fail "--version printed '$got', expected 'mailkeep $VERSION[ (git ...)]'"
expect_eq "$("$MAILKEEP" --version)" "$got" "--version of the build and of the installed binary"
grep -qF "mailkeep $VERSION" "$P/share/man/man1/mailkeep.1" || fail "the installed man page does not carry version $VERSION"

# The man page renders without a warning.
if command -v man >/dev/null && command -v groff >/dev/null; then
  MANWIDTH=80 man --warnings -E UTF-8 -l "$P/share/man/man1/mailkeep.1" >"$WORK/man.txt" 2>"$WORK/man.err" ||
    fail "man -l failed: $(cat "$WORK/man.err")"
  [[ ! -s "$WORK/man.err" ]] || fail "man -l warns: $(cat "$WORK/man.err")"
  grep -q "WHICH ARCHIVE" "$WORK/man.txt" || fail "the rendered man page lacks its WHICH ARCHIVE section"
else
  echo "man or groff not installed: not rendering the page"
fi

# The completion loads in bash and completes the installed binary's commands.
words=$(bash -c 'source "$1"; COMP_WORDS=("$2" st); COMP_CWORD=1; _mailkeep; echo "${COMPREPLY[*]}"' _ \
  "$P/share/bash-completion/completions/mailkeep" "$P/bin/mailkeep")
expect_eq "$words" "stats" "completion of 'mailkeep st'"

# The cron and systemd examples run `mailkeep ... --config ... sync`, with
# no password, secret or token on any line that is not a comment.
D="$P/share/doc/mailkeep"
grep -qE '^ExecStart=mailkeep .*--config [^ ]+ sync' "$D/mailkeep-sync.service" || fail "the service does not run mailkeep --config F sync"
grep -qE '^[0-9*].* mailkeep .*--config [^ ]+ sync' "$D/mailkeep.crontab" || fail "the crontab does not run mailkeep --config F sync"
grep -qE '^OnCalendar=' "$D/mailkeep-sync.timer" || fail "the timer has no OnCalendar"
for f in "$D/mailkeep-sync.service" "$D/mailkeep-sync.timer" "$D/mailkeep.crontab"; do
  if grep -vE '^[[:space:]]*#' "$f" | grep -niE 'pass(word)?|secret|token|Environment='; then fail "$f: a secret-looking line"; fi
done
# systemd reads both units without a complaint (system mode; it cannot run a
# user manager here). The service names the installed binary for the check.
if command -v systemd-analyze >/dev/null && command -v man >/dev/null; then
  mkdir "$WORK/units"
  sed "s|^ExecStart=mailkeep |ExecStart=$P/bin/mailkeep |" "$D/mailkeep-sync.service" >"$WORK/units/mailkeep-sync.service"
  cp "$D/mailkeep-sync.timer" "$WORK/units/"
  (cd "$WORK/units" && MANPATH="$P/share/man:" timeout 30 systemd-analyze verify ./mailkeep-sync.service ./mailkeep-sync.timer) \
    >"$WORK/verify.out" 2>&1 || true
  if grep -q . "$WORK/verify.out"; then fail "systemd-analyze verify: $(cat "$WORK/verify.out")"; fi
else
  echo "systemd-analyze or man not installed: not checking the units"
fi
echo "install: ok ($got)"
