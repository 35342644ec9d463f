#!/usr/bin/env bash
# `mailkeep serve` in a real browser (tests/web/browser_test.py: headless
# chromium through chromedriver and python3-selenium, installed by
# scripts/setup-debian.sh): search, open a message, follow its thread,
# download an attachment, and a hostile HTML message that runs and fetches
# nothing. MAILKEEP_SCREENSHOTS=DIR keeps a screenshot of each page.
source "$(dirname "$0")/../cli/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
for tool in /usr/bin/chromium /usr/bin/chromedriver; do
  [[ -x $tool ]] || skip "$tool is not installed (scripts/setup-debian.sh installs it)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null || skip "python3-selenium is not installed (scripts/setup-debian.sh installs it)"

init_archive
beacon_port=$(/usr/bin/python3 "$here/browser_test.py" write-mbox "$WORK/mail.mbox")
mk -q import "$WORK/mail.mbox"

"$MAILKEEP" --archive "$ARCHIVE" serve --listen 127.0.0.1:0 2>"$WORK/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$WORK"' EXIT
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$WORK/serve.err" | head -1 || true)
  [[ -n $url ]] && break
  kill -0 $server 2>/dev/null || { cat "$WORK/serve.err" >&2; fail "mailkeep serve exited"; }
  sleep 0.1
done
[[ -n $url ]] || { cat "$WORK/serve.err" >&2; fail "mailkeep serve did not say where it listens"; }
mkdir -m 0700 "$WORK/downloads"
# HOME for chromium's profile: inside $WORK, removed with it.
HOME="$WORK" /usr/bin/python3 "$here/browser_test.py" run "$url" "$beacon_port" "$WORK/downloads"
