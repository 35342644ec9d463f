#!/usr/bin/env bash
# Installs every build and test dependency of mailkeep on Debian 12 with
# apt-get. Idempotent: when everything is there it only checks and returns.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ca-certificates pkg-config
  libpoco-dev libsqlite3-dev libzstd-dev libxapian-dev libboost-program-options-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev zlib1g-dev libssl-dev
  zstd sqlite3 gzip python3
  # Integration tests against real servers on 127.0.0.1 (tests/servers/):
  # Dovecot (IMAP, POP3, LMTP), an SMTP receiver (aiosmtpd, run by Debian's
  # /usr/bin/python3), dnsmasq for MX records, Postfix for the round trip.
  dovecot-imapd dovecot-pop3d dovecot-lmtpd openssl
  python3-aiosmtpd dnsmasq-base postfix
  # GNU Mailutils for tests/servers/mailutils.sh (under systemd: systemctl disable --now mailutils-imap4d mailutils-pop3d).
  mailutils-imap4d mailutils-pop3d
)
# Fuzzing (clang + libFuzzer) is optional: pass --fuzz. clang 16 for
# pop3_response_fuzz (std::expected; tests/fuzz/CMakeLists.txt).
if [[ "${1:-}" == "--fuzz" ]]; then
  packages+=(clang libclang-rt-14-dev clang-16 libclang-rt-16-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are missing or a day old.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -q
fi
# Postfix is only run privately by the tests (tests/servers/postfix.sh): no
# system mail configuration, so the package starts no daemon of its own.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
