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
  # GNU Mailutils' IMAP and POP3 servers conflict with nothing (under systemd:
  # systemctl disable --now mailutils-imap4d mailutils-pop3d).
  mailutils-imap4d mailutils-pop3d
  # The browser test of `mailkeep serve` (tests/web/browser.sh): headless
  # Chromium driven through chromedriver by Selenium.
  chromium chromium-driver python3-selenium
  # The libraries and tools of the servers below that would replace Dovecot
  # or Postfix if installed: only their .debs are fetched (private_debs).
  db-util gawk libclamav12 libical3 libzephyr4 libicu72 libjansson4 libpcre3 libpq5
  libwrap0 libxapian30 libxml2 libsasl2-modules libcyrus-imap-perl
  libcourier-unicode4 libgdbm6 libidn12 libltdl7 libglib2.0-0 libdb5.3
  libgnutls30 libgnutls-dane0 libidn2-0 libnsl2 libpcre2-8-0 libevent-2.1-7
)
# Servers the tests run only inside a private mount namespace
# (tests/servers/private_root.sh): Cyrus, Courier, Exim, OpenSMTPD. Installing
# them would remove dovecot-imapd/-pop3d (Cyrus, Courier) or postfix (Exim,
# OpenSMTPD), so their .debs are downloaded into MAILKEEP_DEBS and never
# installed; the tests unpack them with dpkg-deb -x.
private_debs=(
  cyrus-common cyrus-imapd cyrus-pop3d cyrus-admin cyrus-clients sasl2-bin
  courier-base courier-imap courier-pop courier-authlib courier-authdaemon
  courier-authlib-userdb gamin libgamin0
  exim4-base exim4-config exim4-daemon-light
  opensmtpd
)
debs_dir=${MAILKEEP_DEBS:-/var/cache/mailkeep-debs}
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

missing_debs=()
for p in "${private_debs[@]}"; do
  compgen -G "$debs_dir/${p}_*.deb" >/dev/null || missing_debs+=("$p")
done

if [[ ${#missing[@]} -eq 0 && ${#missing_debs[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages are installed, ${#private_debs[@]} .debs in $debs_dir"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Other apt-get runs (another checkout's setup) are waited for, not failed on.
apt_opts=(-q -o DPkg::Lock::Timeout=600)
# Refresh the package lists only when they are missing or a day old.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get "${apt_opts[@]}" update
fi

if [[ ${#missing_debs[@]} -gt 0 ]]; then
  echo "setup: downloading ${missing_debs[*]} into $debs_dir (not installed)"
  $SUDO mkdir -p "$debs_dir"
  # apt-get download writes into the current directory, as _apt when it can.
  $SUDO chown _apt:root "$debs_dir" 2>/dev/null || true
  (cd "$debs_dir" && $SUDO apt-get "${apt_opts[@]}" download "${missing_debs[@]}")
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup: installing ${missing[*]}"
# Postfix is only run privately by the tests (tests/servers/postfix.sh): no
# system mail configuration, so the package starts no daemon of its own.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
fi
$SUDO apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}"
