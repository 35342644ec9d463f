#!/usr/bin/env bash
# All 37,455 linux-mips messages import, and export --format eml reproduces
# each one's SHA-256 from the manifests. Also prints the store-size ratio
# (a measured figure for the README, not a pass/fail criterion).
# MIPS_FILES=NAME limits it to linux-mips-NAME (e.g. 2018: 6,182 messages).
source "$(dirname "$0")/../cli/lib.sh"
dir="${MAILKEEP_CORPUS:-}/linux-mips-list-archive"
[[ -d "$dir" ]] || skip "$dir not found (the shared corpus is not beside this clone)"
init_archive
files=("$dir"/linux-mips-${MIPS_FILES:-*}.mboxrd.zst)
[[ -f ${files[0]} ]] || fail "no linux-mips-${MIPS_FILES:-*}.mboxrd.zst in $dir"
for f in "${files[@]}"; do
  zstd -dc "${f%.mboxrd.zst}.manifest.tsv.zst" | tail -n +2 | cut -f4
done | sort >"$WORK/expected.sha"
mk import --no-index "${files[@]}"
mk export --format eml --out "$WORK/eml" -q
( cd "$WORK/eml" && find . -name '*.eml' -print0 | xargs -0 sha256sum | cut -d' ' -f1 ) | sort >"$WORK/exported.sha"
want=$(wc -l <"$WORK/expected.sha")
match=$(comm -12 "$WORK/expected.sha" "$WORK/exported.sha" | wc -l)
echo "export reproduces $match / $want manifest SHA-256s"
cmp -s "$WORK/expected.sha" "$WORK/exported.sha" || fail "exported set differs from the manifests"
total=$(mk --json stats | json_field '["messages"]')
for id in 1 $((total / 2)) "$total"; do
  sum=$(mk show --raw "$id" | sha256sum | cut -d' ' -f1)
  grep -qx "$sum" "$WORK/expected.sha" || fail "show --raw $id is not a message of the manifests"
done
mk stats
mk verify -q || fail "verify failed"
echo "ok"
