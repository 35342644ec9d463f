#!/usr/bin/env bash
# SIGKILL `mailkeep sync` (POP3, or IMAP with MAILKEEP_KILL_PROTOCOL=imap;
# delete = after-download) at random moments against a real Dovecot, adding
# mail between runs, until 60 runs (MAILKEEP_KILLS) were killed mid-way.
# Afterwards one clean run must leave: every seeded message in the archive
# exactly once (SHA-256 sets equal, no extra message), the server empty,
# and an archive that verifies. Nothing may leave the server before it is
# durable here.
source "$(dirname "$0")/../sync/lib.sh"

kills=${MAILKEEP_KILLS:-60}
mkdir -p "$WORK/seed"
# make_batch N FIRST: N messages of 2-40 KB, unique, written to seed/.
make_batch() {
  python3 - "$WORK/seed" "$1" "$2" <<'EOF'
import os, random, sys
out, n, first = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(first)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
for i in range(first, first + n):
    lines = rnd.randint(30, 600)
    body = "\n".join(" ".join(rnd.choice(words) for _ in range(10)) for _ in range(lines))
    with open(os.path.join(out, "m%06d.eml" % i), "w") as f:
        f.write("From: crash@example.test\nTo: alice@example.test\nSubject: crash test %d\n"
                "Message-ID: <crash-%d@example.test>\n\n%s\n" % (i, i, body))
EOF
}
next=0
seed() {
  local n=$1
  make_batch "$n" "$next"
  next=$((next + n))
  mapfile -t fresh < <(ls "$WORK/seed" | sort | tail -n "$n")
  dovecot_deliver alice "${fresh[@]/#/$WORK/seed/}"
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

seed 800
# Kill at a random moment within the run: the delay is uniform in [0, D],
# and D shrinks whenever a run finished before its kill, so kills land
# anywhere from the login to the index update however fast the machine.
killed=0 finished=0 k=0 max_delay=1.0
while ((killed < kills && k < 3 * kills)); do
  k=$((k + 1))
  seed 40
  # The binary itself in the background (not the mk function: $! would be
  # a subshell, and SIGKILL would leave mailkeep running on as an orphan).
  "$MAILKEEP" --archive "$ARCHIVE" sync --config "$WORK/config.ini" --lock-timeout 10 >/dev/null 2>"$WORK/err" &
  pid=$!
  sleep "$(python3 -c "import random; print(random.uniform(0.0, $max_delay))")"
  kill -KILL "$pid" 2>/dev/null || true
  set +e
  wait "$pid" 2>/dev/null
  rc=$?
  set -e
  if pgrep -f -- "--archive $ARCHIVE sync" >/dev/null; then
    fail "a mailkeep sync is still running after its kill (run $k)"
  fi
  if [[ $rc -eq 137 ]]; then
    killed=$((killed + 1))
  else
    finished=$((finished + 1))
    max_delay=$(python3 -c "print(max(0.02, $max_delay * 0.7))")
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
echo "killed $killed runs, $finished finished before their kill"
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
