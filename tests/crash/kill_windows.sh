# kill_windows MAX_MS COMMAND...: the SIGKILL loop of the resend and migrate
# crash tests. Run k passes COMMAND the catalog ids of window k and of the
# window before (which a kill may have interrupted), and is killed after a
# delay uniform in [0, MAX_MS] ms; the delay shrinks by 30 % (to 20 ms at
# least) each time a run finishes before its kill. Stops once $kills runs
# were killed mid-way, or when the $n messages in windows of $window run
# out (then fails). Sets $killed, $finished and $k.
kill_windows() {
  local max_ms=$1 pid ms rc
  shift
  killed=0 finished=0 k=0
  while ((killed < kills && (k + 1) * window <= n)); do
    k=$((k + 1))
    # The binary itself in the background (exec: $! is mailkeep, not a
    # subshell that SIGKILL would leave mailkeep running on from); the delay
    # by bash arithmetic (a python start-up would take longer than a run).
    (exec "$@" -q $(seq $(((k - 1) * window + 1 - (k > 1 ? window : 0))) $((k * window))) \
      >/dev/null 2>"$WORK/err") &
    pid=$!
    ms=$(((RANDOM * 32768 + RANDOM) % (max_ms + 1)))
    sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
    kill -KILL "$pid" 2>/dev/null || true
    set +e
    wait "$pid" 2>/dev/null
    rc=$?
    set -e
    if pgrep -f -- "--archive $ARCHIVE " >/dev/null; then fail "a mailkeep is still running after its kill (run $k)"; fi
    if [[ $rc -eq 137 ]]; then
      killed=$((killed + 1))
    else
      finished=$((finished + 1))
      max_ms=$((max_ms * 7 / 10 > 20 ? max_ms * 7 / 10 : 20))
      # Exit 1 is allowed (a refused message, a busy server); it says why.
      [[ $rc -le 1 ]] || { cat "$WORK/err" >&2; fail "run $k exited $rc before the kill"; }
    fi
  done
  echo "killed $killed runs, $finished finished before their kill"
  ((killed >= kills)) || fail "only $killed runs were killed mid-way in $k runs (need $kills)"
}
