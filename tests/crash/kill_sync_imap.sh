#!/usr/bin/env bash
# kill_sync.sh over IMAP: 50+ SIGKILLs of `mailkeep sync` with delete =
# after-download; no loss, no duplicate, an empty server at the end.
MAILKEEP_KILL_PROTOCOL=imap exec bash "$(dirname "$0")/kill_sync.sh"
