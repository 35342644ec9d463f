# Shared helpers for the command-line tests (sourced). Each test gets a
# private temp dir, removed on exit.
set -euo pipefail
: "${MAILKEEP:?MAILKEEP must point at the mailkeep binary}"
WORK=$(mktemp -d /tmp/mailkeep-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ARCHIVE="$WORK/archive"

mk() { "$MAILKEEP" --archive "$ARCHIVE" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
expect_eq() { [[ "$1" == "$2" ]] || fail "$3: expected '$2', got '$1'"; }
# Runs a command that must fail with a given exit status; captures stderr.
expect_status() {
  local want=$1; shift
  set +e
  "$@" >"$WORK/out" 2>"$WORK/err"
  local got=$?
  set -e
  [[ $got -eq $want ]] || { cat "$WORK/err" >&2; fail "'$*' exited $got, expected $want"; }
}
json_field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
