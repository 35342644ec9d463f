#!/usr/bin/env bash
# SIGKILL `mailkeep resend --skip-sent` at random moments (MAILKEEP_KILLS,
# default 50, runs killed mid-way) against a real SMTP receiver
# (tests/servers/smtp_receiver.py, which stores each message it answered
# 250 for). Then one clean --skip-sent run. Nothing may arrive twice, and
# nothing may be marked accepted that did not arrive; every message is in
# the end either delivered once or left "unknown" (a kill between the end
# of data and the server's answer), which --skip-sent does not send again.
source "$(dirname "$0")/../resend/lib.sh"
source "$(dirname "$0")/kill_windows.sh"

kills=${MAILKEEP_KILLS:-50}
window=${MAILKEEP_KILL_WINDOW:-20}  # new messages per run
n=$((2 * kills * window))
mkdir -p "$WORK/in"
/usr/bin/python3 - "$WORK/in" "$n" <<'PY'
import os, sys
out, n = sys.argv[1], int(sys.argv[2])
for i in range(1, n + 1):
    with open(os.path.join(out, "m%06d.eml" % i), "w") as f:
        f.write("From: alice@example.test\nTo: bob@example.test\nSubject: kill resend %d\n"
                "Message-ID: <kill-%d@example.test>\n\n%s\n" % (i, i, ("line %d of the body\n" % i) * 40))
PY
mk init >/dev/null && mk import "$WORK/in" >/dev/null || fail "import failed"
start_receiver "$WORK/rx"
cat >"$WORK/config.ini" <<EOF
[relay.test]
host = 127.0.0.1
port = $RECEIVER_PORT
tls = none
EOF

resend=("$MAILKEEP" --archive "$ARCHIVE" --config "$WORK/config.ini" resend --to bob@example.test --skip-sent
  --lock-timeout 10)
kill_windows 800 "${resend[@]}"

set +e
"${resend[@]}" '*' --json >"$WORK/final.json" 2>"$WORK/final.err"
set -e
# What the archive says of each message now (a dry run reads the journal).
"${resend[@]}" '*' --json --dry-run >"$WORK/state.json" 2>/dev/null || true
/usr/bin/python3 - "$WORK/rx" "$WORK/state.json" "$n" <<'PY' || fail "duplicates or false 'accepted'"
import collections, glob, json, re, sys
rx, state, n = sys.argv[1], json.load(open(sys.argv[2])), int(sys.argv[3])
got = collections.Counter()
for f in glob.glob(rx + "/*.eml"):
    m = re.search(rb"^Message-ID: <([^>]+)>", open(f, "rb").read(), re.M)
    got[m.group(1).decode()] += 1
twice = [k for k, c in got.items() if c > 1]
assert not twice, "delivered twice: %s" % twice[:10]
accepted, unknown, other = set(), set(), []
for m in state["messages"]:
    (r,) = m["recipients"]
    if r["reply"] == "accepted by an earlier resend":
        accepted.add(m["message_id"])
    elif "may have delivered it" in r["reply"]:
        unknown.add(m["message_id"])
    else:
        other.append((m["message_id"], r))
assert not other, "neither accepted nor unknown after the final run: %s" % other[:5]
false = accepted - set(got)
assert not false, "marked accepted but never arrived: %s" % sorted(false)[:10]
assert len(accepted) + len(unknown) == n, (len(accepted), len(unknown))
print("kill_resend: %d delivered once, %d accepted, %d unknown (of them %d arrived)" %
      (len(got), len(accepted), len(unknown), len(unknown & set(got))))
PY
mk verify >/dev/null || fail "final verify"
echo "kill_resend: ok ($killed kills)"
