# Shared helpers for the command-line tests (sourced). Each test gets a
# private temp dir, removed on exit.
set -euo pipefail
: "${MAILKEEP:?MAILKEEP must point at the mailkeep binary}"
source "$(dirname "${BASH_SOURCE[0]}")/../python.sh"
WORK=$(mktemp -d /tmp/mailkeep-test.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
ARCHIVE="$WORK/archive"

mk() { "$MAILKEEP" --archive "$ARCHIVE" "$@"; }
# MAILKEEP_TEST_ENCRYPTED=1 runs a test on encrypted archives (the `_encrypted`
# variants in tests/CMakeLists.txt): init_archive makes each archive with
# `init --encrypt` (scrypt at 1 MiB, to stay fast; the passphrase from
# MAILKEEP_PASSPHRASE), and the index cache of an encrypted archive lives in
# $WORK, not in the home directory.
if [[ ${MAILKEEP_TEST_ENCRYPTED:-0} == 1 ]]; then
  export MAILKEEP_PASSPHRASE="test passphrase for $WORK"
  export XDG_CACHE_HOME="$WORK/cache"
  encrypt_args=(--encrypt --kdf-memory 1)
else
  encrypt_args=()
fi
encrypted() { [[ ${MAILKEEP_TEST_ENCRYPTED:-0} == 1 ]]; }
# init_archive [DIR]: a new, empty archive in DIR (default $ARCHIVE).
init_archive() { "$MAILKEEP" --archive "${1:-$ARCHIVE}" init "${encrypt_args[@]}" >/dev/null; }
# index_dir [DIR]: where the full-text index of the archive in DIR lives
# (an encrypted archive's is the one cache directory under $XDG_CACHE_HOME).
index_dir() {
  if encrypted; then
    local d=("$XDG_CACHE_HOME"/mailkeep/index/*)
    [[ ${#d[@]} -eq 1 && -d ${d[0]} ]] || fail "not one index cache under $XDG_CACHE_HOME/mailkeep/index: ${d[*]}"
    echo "${d[0]}"
  else
    echo "${1:-$ARCHIVE}/xapian"
  fi
}
# held_sha256s [ID...]: the sorted SHA-256 (hex) of every message the
# archive holds, one per blob; with IDs, of those messages only (an id not
# held gives no line). A plain catalog names them; an encrypted one cannot
# be read from outside (and keys its content hash), so its messages are
# exported: only the IDs asked for, hashed by one sha256sum.
held_sha256s() {
  local id ids=
  for id in "$@"; do
    [[ $id =~ ^[0-9]+$ ]] || fail "held_sha256s: not a message id: $id"
    ids+=${ids:+,}$id
  done
  if encrypted; then
    local tmp dir files
    tmp=$(mktemp -d "$WORK/held.XXXXXX")  # (callers may run side by side)
    dir="$tmp/eml"
    if (($#)); then
      mk -q export --format eml --out "$dir" "$@" >/dev/null 2>&1 || true  # an id not held: no file for it
    else
      mk -q export --format eml --out "$dir"
    fi
    files=("$dir"/*)
    [[ ! -e ${files[0]} ]] || sha256sum "${files[@]}" | cut -d' ' -f1 | sort
    rm -rf "$tmp"
  else
    sqlite3 "$ARCHIVE/catalog.sqlite" "SELECT lower(hex(sha256)) FROM blobs${ids:+ WHERE id IN ($ids)}" | sort
  fi
}
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
