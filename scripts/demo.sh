#!/usr/bin/env bash
# The README's main command: from a fresh Debian 12 machine to a working
# archive in one go. Installs the build dependencies, builds mailkeep, writes
# the bundled example mailbox (tools/make_sample_mail.cc: a Maildir++ tree
# and an mbox, generated, the same on every run), archives it into
# ./demo-archive and shows what mailkeep does with it: import, dedupe,
# stats, verify, show, export.
#
# Runs from any directory. ./demo-archive is replaced on every run; the
# sample and the exports go to a fresh temporary directory, printed at the
# end (set MAILKEEP_DEMO_CLEANUP=1 to remove it instead).
#
# (A later version will sync from a local Dovecot instead of the files.)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

step=0
bold="" plain=""
if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; fi
header() {
  step=$((step + 1))
  printf '\n%s== %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
run() {
  printf '$ %s\n' "$*"
  "$@"
}
# Like run, but shows the command's output only when it fails.
run_quiet() {
  printf '$ %s\n' "$*"
  local out
  if ! out=$("$@" 2>&1); then
    printf '%s\n' "$out" >&2
    return 1
  fi
}

header "Build dependencies (apt-get, only what is missing)"
run ./scripts/setup-debian.sh

header "Configure and build"
run_quiet cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
run cmake --build build -j2 --target mailkeep make_sample_mail

mailkeep="$root/build/tools/mailkeep"
archive=demo-archive
mk() {
  run "$mailkeep" --archive "$archive" "$@"
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mailkeep-demo.XXXXXX")
if [[ "${MAILKEEP_DEMO_CLEANUP:-0}" == 1 ]]; then
  trap 'rm -rf "$tmp"' EXIT
fi

header "Generate the example mailbox"
run build/tools/make_sample_mail "$tmp/sample"
maildir="$tmp/sample/Maildir"
mbox="$tmp/sample/old-mail.mbox"

header "Create a new archive at ./$archive"
rm -rf "$archive"
mk init

header "Import the Maildir (INBOX, .Sent, .Lists.dev, .Archive.2023)"
mk import "$maildir"

header "Import the mbox (one of its messages is already in the Maildir)"
mk import "$mbox"

header "Import both again: nothing is stored twice"
# (--json after the command name: the command's own options decide.)
again=$(mk import --json "$maildir" "$mbox")
printf '%s\n' "$again"
if ! grep -Eq '"imported": *0[,}]?$' <<<"$again"; then
  echo "demo: the second import stored new messages; dedupe is broken" >&2
  exit 1
fi

header "Statistics"
mk stats

header "Verify every stored message against its SHA-256"
mk verify

# Deterministic Message-ID of the forwarded invoice in the sample: a
# multipart/mixed message with a message/rfc822 part (which has its own PDF
# attachment) and a text attachment with an RFC 2231 encoded file name.
mid="fwd-invoice-2022-117@example.com"

header "Show one message: mid:$mid"
mk show "mid:$mid"

header "Export everything as one mboxrd file and as .eml files"
mk export --format mbox --out "$tmp/export.mbox"
mk export --format eml --out "$tmp/eml"
echo "mbox: $(grep -c '^From ' "$tmp/export.mbox") messages, $(wc -c <"$tmp/export.mbox") bytes"
echo "eml:  $(find "$tmp/eml" -name '*.eml' | wc -l) files"

header "The exported .eml is byte-identical to show --raw"
mapfile -t hits < <(grep -l "^Message-ID: <$mid>" "$tmp"/eml/*.eml)
if [[ ${#hits[@]} -ne 1 ]]; then
  echo "demo: expected one exported .eml with Message-ID <$mid>, found ${#hits[@]}" >&2
  exit 1
fi
eml=${hits[0]}
id=$(basename "$eml" .eml)
file_sum=$(sha256sum <"$eml" | cut -d' ' -f1)
raw_sum=$("$mailkeep" --archive "$archive" show --raw "mid:$mid" | sha256sum | cut -d' ' -f1)
echo "sha256 $file_sum  $eml"
echo "sha256 $raw_sum  mailkeep show --raw mid:$mid (id $id)"
if [[ "$file_sum" != "$raw_sum" ]]; then
  echo "demo: export and show --raw differ" >&2
  exit 1
fi
echo "identical"

header "Done"
echo "archive:            $root/$archive"
if [[ "${MAILKEEP_DEMO_CLEANUP:-0}" == 1 ]]; then
  echo "sample and exports: removed ($tmp)"
else
  echo "sample and exports: $tmp"
fi
echo "try:                $mailkeep --archive $archive show --help"
