#!/usr/bin/env bash
# mailkeep serve: the JSON API answers exactly what the command line prints
# (search --format json, show --json, show --raw, thread --json), refuses
# what it must (query errors, POST, oversized requests, a listen address
# beyond loopback without TLS and authentication) and stops on SIGTERM.
source "$(dirname "$0")/../cli/lib.sh"
: "${MAKE_SAMPLE_MAIL:?}"
command -v curl >/dev/null || skip "curl is not installed"
"$MAKE_SAMPLE_MAIL" "$WORK/sample" >/dev/null
init_archive
mk -q import "$WORK/sample/Maildir" "$WORK/sample/old-mail.mbox"

server_pid=
trap '[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null; rm -rf "$WORK"' EXIT
"$MAILKEEP" --archive "$ARCHIVE" serve --listen 127.0.0.1:0 2>"$WORK/serve.err" &
server_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's|^mailkeep: serving .* on \(http://127\.0\.0\.1:[0-9]*/\)$|\1|p' "$WORK/serve.err")
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "serve exited before listening"; }
  sleep 0.1
done
[[ -n $url ]] || fail "no 'serving ... on URL' line: $(cat "$WORK/serve.err")"
grep -q "serving $ARCHIVE on " "$WORK/serve.err" || fail "the line does not name the archive"

# get CURL-ARGS...: the body on stdout; the status in $WORK/status.
get() { curl -s -o "$WORK/body" -w '%{http_code}' "$@" >"$WORK/status"; cat "$WORK/body"; }
status() { cat "$WORK/status"; }
# Pairs of JSON files that must be equal, compared at the end in one python3
# run (python3 may start slowly): "API CLI" per line; API files of searches
# are compared by their "results" and their "total" against a count file.
pairs=()

# Search: the results are the objects of `search --format json`, the total its --count.
n=0
for q in '*' 'subject:Rechnung' 'from:example.com'; do
  n=$((n + 1))
  get -G --data-urlencode "q=$q" -d limit=7 -d offset=1 -d sort=oldest "${url}api/search" >"$WORK/api-search-$n.json"
  expect_eq "$(status)" 200 "search $q"
  mk search --format json --limit 7 --offset 1 --sort oldest "$q" >"$WORK/cli-search-$n.json"
  mk search --count "$q" >"$WORK/cli-count-$n"
  pairs+=("$WORK/api-search-$n.json $WORK/cli-search-$n.json $WORK/cli-count-$n")
done

# One message: show --json, show --raw (byte for byte), thread --json.
id=$(mk search --format ids --limit 1 'subject:Re')
[[ -n $id ]] || fail "no reply in the sample"
get "${url}api/message/$id" >"$WORK/api-show.json"
expect_eq "$(status)" 200 "message $id"
mk --json show "$id" >"$WORK/cli-show.json"
pairs+=("$WORK/api-show.json $WORK/cli-show.json")
curl -s -D "$WORK/raw-headers" "${url}api/message/$id/raw" >"$WORK/api.eml"
mk show --raw "$id" >"$WORK/cli.eml"
cmp "$WORK/api.eml" "$WORK/cli.eml" || fail "/api/message/$id/raw differs from show --raw"
grep -qi '^content-type: message/rfc822' "$WORK/raw-headers" || fail "raw is not message/rfc822"
grep -qi "^content-disposition: attachment; filename=\"$id.eml\"" "$WORK/raw-headers" || fail "raw is not an attachment $id.eml"
get "${url}api/thread/$id" >"$WORK/api-thread.json"
mk --json thread "$id" >"$WORK/cli-thread.json"
pairs+=("$WORK/api-thread.json $WORK/cli-thread.json")
get "${url}api/message/999999" >/dev/null
expect_eq "$(status)" 404 "unknown id"
printf '%s\n' "${pairs[@]}" | python3 -c '
import json, sys
for line in sys.stdin:
    files = line.split()
    api, cli = (json.load(open(f)) for f in files[:2])
    if len(files) == 3:
        assert api["total"] == int(open(files[2]).read()), ("total", files)
        api = api["results"]
    assert api == cli, ("API and CLI differ", files)
' || fail "the API and the command line differ (above)"

# Refusals: one line each.
get "${url}api/search?q=%28from%3Aalice" >"$WORK/err.json"
expect_eq "$(status)" 400 "query syntax error"
[[ $(wc -l <"$WORK/err.json") -eq 1 ]] || fail "the query error is not one line"
grep -q '^{"error":"query error at column [0-9]' "$WORK/err.json" || fail "the query error does not point at a column: $(cat "$WORK/err.json")"
get -X POST "${url}api/search?q=x" >/dev/null
expect_eq "$(status)" 405 "POST"
long=$(head -c 10000 /dev/zero | tr '\0' a)
get "${url}api/search?q=$long" >/dev/null
[[ $(status) == 414 || $(status) == 431 ]] || fail "an oversized request line got $(status)"
get -H "X-Big: $long$long" "${url}api/search?q=x" >/dev/null
expect_eq "$(status)" 431 "oversized header"
curl -s -D "$WORK/h" -o /dev/null "${url}api/message/$id"
grep -qi '^x-content-type-options: nosniff' "$WORK/h" || fail "no nosniff header"
grep -qi "^content-security-policy: default-src 'none'" "$WORK/h" || fail "no default CSP"

# Beyond loopback without TLS and authentication: refused, exit 2, one line.
expect_status 2 mk serve --listen 0.0.0.0:0
[[ $(wc -l <"$WORK/err") -eq 1 ]] || fail "the refusal is not one line: $(cat "$WORK/err")"
grep -q 'listening on 0.0.0.0:0 (beyond this machine) needs tls_certificate' "$WORK/err" || fail "the refusal does not say why: $(cat "$WORK/err")"

# SIGTERM stops it, exit 0.
kill -TERM "$server_pid"
for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$server_pid" 2>/dev/null && fail "serve still runs 5 s after SIGTERM"
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=
expect_eq "$rc" 0 "exit status after SIGTERM"
echo "serve_api: ok"
