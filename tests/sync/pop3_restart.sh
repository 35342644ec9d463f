#!/usr/bin/env bash
# Dovecot restarted in the middle of a POP3 sync with delete =
# after-download: the run fails cleanly (exit 1, one line), keeps what
# arrived whole, deletes nothing it did not keep; the next run completes.
# At the end every message is in the archive exactly once and the server
# is empty.
PROTOCOL=pop3
source "$(dirname "$0")/../sync/lib.sh"

# 1,500 messages of ~60 KB: a sync long enough to interrupt.
python3 - "$WORK/seed" <<'EOF'
import os, random, sys
out = sys.argv[1]
os.makedirs(out)
rnd = random.Random(7)
words = ["archive", "mail", "server", "restart", "durable", "commit", "message", "kernel", "patch", "review"]
for i in range(1500):
    body = "\n".join(" ".join(rnd.choice(words) for _ in range(12)) for _ in range(800))
    with open(os.path.join(out, "m%05d.eml" % i), "w") as f:
        f.write("From: restart@example.test\nTo: alice@example.test\nSubject: restart test %d\n"
                "Message-ID: <restart-%d@example.test>\n\n%s\n" % (i, i, body))
EOF
mapfile -t files < <(find "$WORK/seed" -type f | sort)
dovecot_deliver alice "${files[@]}"
total=${#files[@]}

# write_config [LINE]: the account, with LINE added (the first run caps its
# bandwidth, so that the restart falls inside its fetching however fast the
# machine: 90 MB at 10 MB/s is 9 s, and the first commit is seen after
# about 700 messages; without a cap a quick run could fetch
# everything before the first commit was seen and be cut while deleting).
write_config() {
  cat >"$WORK/config.ini" <<EOF
[account.alice]
protocol = pop3
host = $DOVECOT_HOST
port = $DOVECOT_POP3S_PORT
user = alice
password_env = ALICE_PW
ca_file = $DOVECOT_CA
delete = after-download
timeout = 20
${1:-}
EOF
}
write_config "bandwidth = 10M"
export ALICE_PW=$DOVECOT_ALICE_PASSWORD

mk sync --config "$WORK/config.ini" >"$WORK/out1" 2>"$WORK/err1" &
syncer=$!
# Restart once the sync is under way (some messages committed).
for ((i = 0; i < 200; i++)); do
  n=$(mk --json stats 2>/dev/null | json_field '["messages"]' 2>/dev/null || echo 0)
  [[ $n -gt 0 ]] && break
  sleep 0.05
done
# A crash-restart: the session processes die with the master (a plain
# stop would let established sessions finish).
pkill -KILL -P "$DOVECOT_PID" || true
dovecot_stop
dovecot_start "$WORK/dovecot"
set +e
wait "$syncer"
rc=$?
set -e
[[ $rc -eq 1 ]] || { cat "$WORK/out1" "$WORK/err1" >&2; fail "interrupted sync exited $rc, expected 1"; }
[[ $(grep -c "account alice" "$WORK/err1") -eq 1 ]] || fail "the failure is not one line: $(cat "$WORK/err1")"
kept=$(mk --json stats | json_field '["messages"]')
left=$(dovecot_count alice)
echo "interrupted run kept $kept of $total messages; $left left on the server"
[[ $kept -gt 0 && $kept -lt $total ]] || fail "the restart did not interrupt the sync (kept $kept of $total)"
[[ $left -eq $total ]] || fail "a broken session deleted messages ($left of $total left)"

write_config  # the restarted server listens on new ports
mk sync --config "$WORK/config.ini" >"$WORK/out2" 2>"$WORK/err2" || { cat "$WORK/err2" >&2; fail "second sync failed"; }
expect_eq "$(mk --json stats | json_field '["messages"]')" "$total" "messages archived"
expect_eq "$(dovecot_count alice)" 0 "messages left on the server"
grep -q "fetched $((total - kept)) " "$WORK/out2" || fail "second run fetched other than the rest: $(cat "$WORK/out2")"
mk export --format eml --out "$WORK/eml" >/dev/null
diff <(sha256sum "${files[@]}" | cut -d' ' -f1 | sort) <(sha256sum "$WORK"/eml/*.eml | cut -d' ' -f1 | sort) >/dev/null ||
  fail "archive and seeded messages differ"
mk verify >/dev/null || fail "verify"
echo "pop3_restart: ok"
