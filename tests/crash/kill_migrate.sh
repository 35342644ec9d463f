#!/usr/bin/env bash
# SIGKILL `mailkeep migrate` at random moments (MAILKEEP_KILLS, default 50,
# runs killed mid-way) against a real Dovecot. Then clean runs: the first
# looks for every unknown APPEND (found: recorded) and skips the rest with
# a warning; --retry-unknown appends those. In the end every message must be
# in the target folder exactly once (nothing appended twice, nothing
# recorded as appended that was not: a false record would never be
# appended, and the folder would miss it).
source "$(dirname "$0")/../sync/lib.sh"
source "$(dirname "$0")/kill_windows.sh"

kills=${MAILKEEP_KILLS:-50}
window=${MAILKEEP_KILL_WINDOW:-10}  # new messages per run
n=$((2 * kills * window))
mkdir -p "$WORK/in"
python3 - "$WORK/in" "$n" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open(os.path.join(out, "m%06d.eml" % i), "w") as f:
        f.write("From: alice@example.test\nTo: bob@example.test\nSubject: kill migrate %d\n"
                "Message-ID: <kill-%d@example.test>\n\n%s\n" % (i, i, ("line %d of the body\n" % i) * 40))
PY
mk import "$WORK/in" >/dev/null || fail "import failed"
export BOB_PW=$DOVECOT_BOB_PASSWORD
printf '[account.bob]\nprotocol = imap\nhost = %s\nport = %s\ntls = implicit\nuser = bob\npassword_env = BOB_PW\nca_file = %s\ntimeout = 30\n' \
  "$DOVECOT_HOST" "$DOVECOT_IMAPS_PORT" "$DOVECOT_CA" >"$WORK/config.ini"
migrate=("$MAILKEEP" --archive "$ARCHIVE" --config "$WORK/config.ini" migrate --to-account bob --folder Migrated
  --no-index --lock-timeout 10)

kill_windows 1500 "${migrate[@]}"

set +e
"${migrate[@]}" --json '*' >"$WORK/out" 2>"$WORK/err"
set -e
unknown=$(json_field '["unknown"]' <"$WORK/out")
recovered=$(json_field '["recovered"]' <"$WORK/out")
if ((unknown > 0)); then
  expect_eq "$(grep -c -- "--retry-unknown appends it" "$WORK/err")" "$unknown" "warnings for unknown APPENDs"
  "${migrate[@]}" --json --retry-unknown '*' >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "--retry-unknown run"; }
  expect_eq "$(json_field '["appended"]' <"$WORK/out")" "$unknown" "appended by --retry-unknown"
fi
"$(_doveadm_bin)" -c "$DOVECOT_CONF" fetch -u bob hdr.message-id mailbox Migrated | grep -o 'kill-[0-9]*' |
  sort | uniq -c | awk '$1 > 1 { print }' >"$WORK/twice"
[[ ! -s $WORK/twice ]] || fail "appended twice: $(head -5 "$WORK/twice")"
expect_eq "$(dovecot_count bob Migrated)" "$n" "messages in bob's Migrated (each once)"
"${migrate[@]}" --json '*' >"$WORK/out" 2>"$WORK/err" || fail "a last run found work"
expect_eq "$(json_field '["appended"]' <"$WORK/out")" 0 "appended by a last run"
mk verify >/dev/null || fail "final verify"
echo "kill_migrate: ok ($killed kills, $recovered found after an unconfirmed APPEND, $unknown unknown then appended)"
