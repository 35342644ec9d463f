#!/usr/bin/env bash
# `mailkeep sync` against hostile servers (tests/servers/hostile_server.py):
# memory and time stay bounded by mailkeep's own limits whatever a server
# claims or however long it talks. Each run is capped by `timeout` and runs
# under `ulimit -v` so that a regression fails the test instead of eating
# the machine; each case's peak RSS (GNU time, %M: the largest of mailkeep
# and its children) must stay under 512 MB and is printed.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
[[ -x /usr/bin/time ]] || skip "/usr/bin/time (GNU time) is not installed"
SERVER="$(dirname "$0")/../servers/hostile_server.py"

mk init >/dev/null
export MK_TEST_PASSWORD=pw
LIMIT_KB=$((512 * 1024))
servers=()
# KEEP_GOING=1: report every failing case instead of stopping at the first.
failed=0
if [[ -n ${KEEP_GOING:-} ]]; then fail() { echo "FAIL: $*" >&2; failed=1; }; fi
trap 'for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT

# start SCENARIO [CERT KEY]: starts a hostile server; sets $port.
start() {
  local file="$WORK/port.$1"
  python3 "$SERVER" "$1" "$file" "${@:2}" &
  servers+=($!)
  for _ in $(seq 100); do [[ -s $file ]] && break; sleep 0.1; done
  [[ -s $file ]] || fail "hostile server $1 did not start"
  port=$(cat "$file")
}

# account NAME PROTOCOL PORT [KEY=VALUE...]: appends an account to $cfg.
account() {
  local name=$1 protocol=$2 p=$3
  shift 3
  printf '\n[account.%s]\nprotocol = %s\nhost = 127.0.0.1\nport = %s\ntls = none\nallow_plaintext = true\nuser = alice\npassword_env = MK_TEST_PASSWORD\n' \
    "$name" "$protocol" "$p" >>"$cfg"
  local kv
  for kv in "$@"; do printf '%s\n' "${kv/=/ = }" >>"$cfg"; done
}

# run CASE WANT_STATUS MAX_SECONDS [SYNC ARGS...]: syncs $cfg; checks the
# exit status, the time taken and the peak RSS; leaves $WORK/out, $WORK/err.
run() {
  local name=$1 want=$2 max_s=$3
  shift 3
  local start end got rss
  start=$(date +%s.%N)
  set +e
  (ulimit -v 1500000; exec /usr/bin/time -f %M -o "$WORK/rss" timeout -s KILL 60 \
    "$MAILKEEP" --archive "$ARCHIVE" sync --no-index --config "$cfg" "$@") >"$WORK/out" 2>"$WORK/err"
  got=$?
  set -e
  end=$(date +%s.%N)
  rss=$(tail -n 1 "$WORK/rss")
  local secs
  secs=$(python3 -c "print(f'{$end - $start:.1f}')")
  echo "$name: exit $got, ${secs} s, peak RSS $((rss / 1024)) MB"
  sed 's/^/    /' "$WORK/err"
  [[ $got -eq $want ]] || { cat "$WORK/out" "$WORK/err" >&2; fail "$name: exit $got, expected $want"; }
  python3 -c "import sys; sys.exit(0 if $end - $start <= $max_s else 1)" || fail "$name: took ${secs} s (limit $max_s s)"
  [[ $rss =~ ^[0-9]+$ && $rss -lt $LIMIT_KB ]] || fail "$name: peak RSS $rss KB is not under 512 MB"
  if grep -q "terminate called\|Aborted\|bad_alloc" "$WORK/err"; then fail "$name: $(cat "$WORK/err")"; fi
}
# one_error ACCOUNT PATTERN: exactly one line about the account, matching.
one_error() {
  local lines
  lines=$(grep -c "^mailkeep: account $1:" "$WORK/err" || true)
  [[ $lines -eq 1 ]] || fail "expected one error line for $1, got: $(cat "$WORK/err")"
  grep -q "^mailkeep: account $1: .*$2" "$WORK/err" || fail "error for $1 does not say '$2': $(cat "$WORK/err")"
}
fetched() { grep "^$1: " "$WORK/out" | sed -E 's/.*: fetched ([0-9]+) .*/\1/'; }

# 1. UIDL / LIST numbers 1 and 2147483647, next to an ordinary account,
#    --jobs 2: nothing is sized by a message number; both accounts finish.
cfg="$WORK/huge-numbers.ini"; : >"$cfg"
start pop3-huge-numbers; account huge pop3 "$port"
start pop3-good; account good pop3 "$port"
run pop3-huge-numbers 0 30 --jobs 2
expect_eq "$(fetched huge)" 2 "messages fetched from the huge-numbers server"
expect_eq "$(fetched good)" 1 "messages fetched from the ordinary server"

# 2. LIST claims ~1 GiB per message: nothing is reserved by a claimed size.
cfg="$WORK/huge-sizes.ini"; : >"$cfg"
start pop3-huge-sizes; account sizes pop3 "$port"
run pop3-huge-sizes 0 30
expect_eq "$(fetched sizes)" 8 "messages fetched from the huge-sizes server"

# 3. Endless CAPA before login, with tls = starttls (so in plaintext).
cfg="$WORK/capa.ini"; : >"$cfg"
start pop3-endless-capa; account capa pop3 "$port"
sed -i 's/^tls = none$/tls = starttls/' "$cfg"
run pop3-endless-capa 1 30
one_error capa "CAPA"

# 4. Endless UIDL.
cfg="$WORK/uidl.ini"; : >"$cfg"
start pop3-endless-uidl; account uidl pop3 "$port"
run pop3-endless-uidl 1 40
one_error uidl "UIDL"

# 5. A reply that drips one byte every 2 s never trips the per-read timeout;
#    command_deadline bounds the whole command.
cfg="$WORK/pop3-drip.ini"; : >"$cfg"
start pop3-drip; account drip pop3 "$port" timeout=10 command_deadline=3
run pop3-drip 1 15
one_error drip "3 s"

# 5b. The same over TLS, where one record's bytes are dripped: OpenSSL reads
#     the record with many reads, each within the timeout; the deadline still
#     holds (a watchdog shuts the socket down).
cfg="$WORK/tls-drip.ini"; : >"$cfg"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj /CN=127.0.0.1 2>/dev/null || skip "openssl cannot make a test certificate"
start pop3-tls-drip "$WORK/cert.pem" "$WORK/key.pem"
account tlsdrip pop3 "$port" timeout=10 command_deadline=3
sed -i 's/^tls = none$/tls = implicit\ntls_verify = false/' "$cfg"
run pop3-tls-drip 1 15
one_error tlsdrip "3 s"

# 6. Endless IMAP LIST.
cfg="$WORK/list.ini"; : >"$cfg"
start imap-endless-list; account list imap "$port"
run imap-endless-list 1 40
one_error list "LIST"

# 6b. Flags of ever new UIDs, forever.
cfg="$WORK/flags.ini"; : >"$cfg"
start imap-endless-flags; account flags imap "$port"
run imap-endless-flags 1 60
one_error flags "bytes"

# 7. "* OK" lines forever (slowly: the deadline, not the byte budget, ends it).
cfg="$WORK/ok.ini"; : >"$cfg"
start imap-ok-forever; account ok imap "$port" command_deadline=3
run imap-ok-forever 1 15
one_error ok "3 s"

# 8. An IMAP reply dripping one byte every 2 s.
cfg="$WORK/imap-drip.ini"; : >"$cfg"
start imap-drip; account drip imap "$port" timeout=10 command_deadline=3
run imap-drip 1 15
one_error drip "3 s"

# 9. RFC822.SIZE 100 for 14 MiB messages, bodies in reverse UID order.
cfg="$WORK/lying.ini"; : >"$cfg"
start imap-lying-size; account lying imap "$port"
run imap-lying-size 1 50
one_error lying "bytes"

# 10. The same over COMPRESS=DEFLATE (a few hundred KB on the wire).
cfg="$WORK/lying-deflate.ini"; : >"$cfg"
start imap-lying-size-deflate; account lyingz imap "$port"
run imap-lying-size-deflate 1 50
one_error lyingz "bytes"

# 11. An exception inside one account's worker (--jobs 2) is that account's
#     one-line error; the other account finishes.
cfg="$WORK/throw.ini"; : >"$cfg"
start pop3-good; account thrower pop3 "$port"
account other pop3 "$port"
run worker-exception 1 30 --jobs 2 --debug-throw-in thrower
one_error thrower "out of memory"
expect_eq "$(fetched other)" 1 "messages fetched by the account beside the one that threw"

# 12. With max_message_size set, a message listed under it but sent far over
#     it (LIST says 100 bytes, RETR brings 5 MiB) is refused while it
#     arrives: nothing over the account's limit is stored (the clients used
#     to accept up to 1 GiB whatever the limit).
archived() { mk stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["messages"])'; }
before=$(archived)
cfg="$WORK/lying-small.ini"; : >"$cfg"
start pop3-lying-small; account small pop3 "$port" max_message_size=1M
run pop3-lying-small 1 30
one_error small "max_message_size"
expect_eq "$(archived)" "$before" "messages in the archive after a POP3 message sent over max_message_size"

# 13. The same over IMAP: RFC822.SIZE 100, 14 MiB literals, max_message_size 1M.
before=$(archived)
cfg="$WORK/lying-imap-small.ini"; : >"$cfg"
start imap-lying-size; account smalli imap "$port" max_message_size=1M
run imap-lying-size-limit 1 50
grep -q "^mailkeep: account smalli: " "$WORK/err" || fail "no error line for smalli: $(cat "$WORK/err")"
expect_eq "$(archived)" "$before" "messages in the archive after IMAP literals over max_message_size"

[[ $failed -eq 0 ]] || exit 1
echo "sync_hostile: ok"
