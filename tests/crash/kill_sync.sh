#!/usr/bin/env bash
# SIGKILL `mailkeep sync` (POP3, or IMAP with MAILKEEP_KILL_PROTOCOL=imap;
# delete = after-download) at random moments against a real Dovecot, adding
# mail between runs (200 messages of 1-20 KB first, 20 more before each run),
# until 60 runs (MAILKEEP_KILLS; at least 50) were killed mid-way.
# Afterwards one clean run must leave: every seeded message in the archive
# exactly once (SHA-256 sets equal, no extra message), the server empty,
# and an archive that verifies. Nothing may leave the server before it is
# durable here.
source "$(dirname "$0")/../sync/lib.sh"

kills=${MAILKEEP_KILLS:-60}
mkdir -p "$WORK/seed"
# seed N: N more messages of 1-20 KB, unique, written to seed/ and delivered
# into alice's Maildir in that order (one python run: no process per file).
next=0
seed() {
  python3 - "$WORK/seed" "$(_dovecot_maildir alice)" "$1" "$next" <<'EOF2'
import os, pwd, random, sys
out, maildir, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
nobody = pwd.getpwnam("nobody")
rnd = random.Random(first)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
for i in range(first, first + n):
    lines = rnd.randint(15, 300)
    body = "\n".join(" ".join(rnd.choice(words) for _ in range(10)) for _ in range(lines))
    data = ("From: crash@example.test\nTo: alice@example.test\nSubject: crash test %d\n"
            "Message-ID: <crash-%d@example.test>\n\n%s\n" % (i, i, body)).encode()
    with open(os.path.join(out, "m%06d.eml" % i), "wb") as f:
        f.write(data)
    name = "%d.M%dP%d.mailkeep-kill" % (1700000000 + i, i, os.getpid())
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, nobody.pw_uid, nobody.pw_gid)
    os.rename(tmp, os.path.join(maildir, "new", name))
EOF2
  next=$((next + $1))
}

protocol=${MAILKEEP_KILL_PROTOCOL:-pop3}
port=$DOVECOT_POP3S_PORT
[[ $protocol == imap ]] && port=$DOVECOT_IMAPS_PORT
cat >"$WORK/config.ini" <<EOF
[account.alice]
protocol = $protocol
host = $DOVECOT_HOST
port = $port
user = alice
password_env = ALICE_PW
ca_file = $DOVECOT_CA
delete = after-download
timeout = 20
EOF
export ALICE_PW=$DOVECOT_ALICE_PASSWORD

seed 200
# Kill at a random moment within the run: the delay is uniform in [0, D] ms,
# and D shrinks whenever a run finished before its kill, so kills land
# anywhere from the login to the index update however fast the machine.
# (The delay by bash arithmetic: a python start-up would take longer.)
killed=0 finished=0 k=0 max_ms=1000
while ((killed < kills && k < 3 * kills)); do
  k=$((k + 1))
  seed 20
  # The binary itself in the background (not the mk function: $! would be
  # a subshell, and SIGKILL would leave mailkeep running on as an orphan).
  "$MAILKEEP" --archive "$ARCHIVE" sync --config "$WORK/config.ini" --lock-timeout 10 >/dev/null 2>"$WORK/err" &
  pid=$!
  ms=$(((RANDOM * 32768 + RANDOM) % (max_ms + 1)))
  # Killed when the delay is up, unless it finished first (then the next
  # run starts at once instead of after the rest of the delay).
  sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))" &
  timer=$! ended=
  set +e
  wait -n -p ended "$pid" "$timer" 2>/dev/null
  rc=$?
  if [[ $ended == "$timer" ]]; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    rc=$?
  else
    kill "$timer" 2>/dev/null
    wait "$timer" 2>/dev/null
  fi
  set -e
  if pgrep -f -- "--archive $ARCHIVE sync" >/dev/null; then
    fail "a mailkeep sync is still running after its kill (run $k)"
  fi
  if [[ $rc -eq 137 ]]; then
    killed=$((killed + 1))
  else
    finished=$((finished + 1))
    max_ms=$((max_ms * 7 / 10 > 20 ? max_ms * 7 / 10 : 20))
    # A clean failure (exit 1: e.g. the server still busy with the session
    # killed a moment ago) is allowed; it must say why. Anything else is not.
    if [[ $rc -eq 1 ]]; then
      echo "run $k failed cleanly: $(head -n 3 "$WORK/err")"
      grep -q "^mailkeep: " "$WORK/err" || fail "run $k exited 1 without saying why"
    elif [[ $rc -ne 0 ]]; then
      cat "$WORK/err" >&2
      fail "run $k exited $rc before the kill"
    fi
  fi
  if ((k % 15 == 0)); then
    mk verify >"$WORK/verr" 2>&1 || { cat "$WORK/verr" >&2; fail "verify failed after run $k"; }
  fi
done
echo "killed $killed runs, $finished finished before their kill (the delay was at most $max_ms ms at the end)"
[[ $killed -ge 50 ]] || fail "only $killed runs were killed mid-way in $k runs (need at least 50)"

# One clean run finishes the work.
mk sync --config "$WORK/config.ini" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; fail "final sync failed"; }
expect_eq "$(dovecot_count alice)" 0 "messages left on the server"
seeded=$(ls "$WORK/seed" | wc -l)
expect_eq "$(mk --json stats | json_field '["messages"]')" "$seeded" "messages in the archive"
mk export --format eml --out "$WORK/eml" >/dev/null
diff <(sha256sum "$WORK"/seed/* | cut -d' ' -f1 | sort) <(sha256sum "$WORK"/eml/*.eml | cut -d' ' -f1 | sort) ||
  fail "archived SHA-256 set differs from the seeded one"
mk verify >/dev/null || fail "final verify"
echo "kill_sync: ok ($protocol, $seeded messages, $killed kills)"
