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

# account NAME PROTOCOL PORT [KEY=VALUE...]: appends an account to $cfg
# (plain TCP to 127.0.0.1 as alice); KEY=VALUE adds or overrides a key.
account() {
  local -A keys=([protocol]=$2 [host]=127.0.0.1 [port]=$3 [tls]=none [allow_plaintext]=true [user]=alice
                 [password_env]=MK_TEST_PASSWORD)
  local kv key
  for kv in "${@:4}"; do keys[${kv%%=*}]=${kv#*=}; done
  printf '\n[account.%s]\n' "$1" >>"$cfg"
  for key in "${!keys[@]}"; do printf '%s = %s\n' "$key" "${keys[$key]}" >>"$cfg"; done
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

# refused CASE SCENARIO ACCOUNT PROTOCOL MAX_SECONDS SAYS [KEY=VALUE...]:
# one hostile server, one account; the sync fails (exit 1) within
# MAX_SECONDS, as bounded as run() checks, with one error line for the
# account that says SAYS. $server_args go to the server.
server_args=()
refused() {
  cfg="$WORK/$1.ini"; : >"$cfg"
  start "$2" "${server_args[@]}"
  account "$3" "$4" "$port" "${@:7}"
  run "$1" 1 "$5"
  one_error "$3" "$6"
}

# 3-10, a case a line (a *tls* scenario gets the certificate):
#  3 endless CAPA before login, with tls = starttls (so in plaintext);
#  4 endless UIDL;
#  5 a reply that drips one byte every 2 s never trips the per-read timeout;
#    command_deadline bounds the whole command;
#  5b the same over TLS, where one record's bytes are dripped: OpenSSL reads
#    the record with many reads, each within the timeout; the deadline still
#    holds (a watchdog shuts the socket down);
#  6 endless IMAP LIST; 6b flags of ever new UIDs, forever;
#  7 "* OK" lines forever (slowly: the deadline, not the byte budget, ends it);
#  8 an IMAP reply dripping one byte every 2 s;
#  9 RFC822.SIZE 100 for 14 MiB messages, bodies in reverse UID order;
#  10 the same over COMPRESS=DEFLATE (a few hundred KB on the wire).
while IFS='|' read -r -u 3 scenario name protocol max_s says keys; do
  server_args=()
  if [[ $scenario == *tls* ]]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
      -subj /CN=127.0.0.1 2>/dev/null || skip "openssl cannot make a test certificate"
    server_args=("$WORK/cert.pem" "$WORK/key.pem")
  fi
  read -r -a keys <<<"$keys"
  refused "$scenario" "$scenario" "$name" "$protocol" "$max_s" "$says" "${keys[@]}"
done 3<<'EOF'
pop3-endless-capa|capa|pop3|30|CAPA|tls=starttls
pop3-endless-uidl|uidl|pop3|40|UIDL|
pop3-drip|drip|pop3|15|3 s|timeout=10 command_deadline=3
pop3-tls-drip|tlsdrip|pop3|15|3 s|timeout=10 command_deadline=3 tls=implicit tls_verify=false
imap-endless-list|list|imap|40|LIST|
imap-endless-flags|flags|imap|60|bytes|
imap-ok-forever|ok|imap|15|3 s|command_deadline=3
imap-drip|drip|imap|15|3 s|timeout=10 command_deadline=3
imap-lying-size|lying|imap|50|bytes|
imap-lying-size-deflate|lyingz|imap|50|bytes|
EOF
server_args=()

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
# 13. The same over IMAP: RFC822.SIZE 100, 14 MiB literals.
archived() { mk stats --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["messages"])'; }
for c in "pop3-lying-small pop3-lying-small small pop3 30 max_message_size" \
         "imap-lying-size-limit imap-lying-size smalli imap 50 over the limit"; do
  read -r case scenario name protocol max_s says <<<"$c"
  before=$(archived)
  refused "$case" "$scenario" "$name" "$protocol" "$max_s" "$says" max_message_size=1M
  expect_eq "$(archived)" "$before" "messages in the archive after $protocol messages sent over max_message_size"
done

[[ $failed -eq 0 ]] || exit 1
echo "sync_hostile: ok"
