#include "tools/accounts.h"

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "store/util/terminal.h"

namespace mailkeep::tools {
namespace {

net::TlsMode ToTlsMode(config::Tls tls) {
  switch (tls) {
    case config::Tls::kImplicit: return net::TlsMode::kImplicit;
    case config::Tls::kStartTls: return net::TlsMode::kStartTls;
    case config::Tls::kNone: return net::TlsMode::kNone;
  }
  return net::TlsMode::kImplicit;
}

imap::AuthMethod ToImapAuth(config::Auth auth) {
  switch (auth) {
    case config::Auth::kPlain: return imap::AuthMethod::kPlain;
    case config::Auth::kXoauth2: return imap::AuthMethod::kXoauth2;
    case config::Auth::kLogin:  // SASL LOGIN is not offered by IMAP servers we know; the LOGIN command is
    case config::Auth::kUser: return imap::AuthMethod::kUserPass;
    case config::Auth::kAuto:
    case config::Auth::kApop:      // apop is refused for IMAP accounts by the config loader,
    case config::Auth::kCramMd5: break;  // cram-md5 for every account
  }
  return imap::AuthMethod::kAuto;
}

}  // namespace

net::ConnectOptions ConnectOptionsFor(const config::AccountConfig& a, net::Service service) {
  net::ConnectOptions c;
  c.host = a.host;
  c.service = service;
  c.tls = ToTlsMode(a.tls);
  c.port = a.port != 0 ? a.port : net::DefaultPort(service, c.tls);
  c.ca_file = a.ca_file;
  c.verify_certificate = a.tls_verify;
  c.connect_timeout = std::chrono::seconds(a.connect_timeout_seconds);
  c.read_timeout = std::chrono::seconds(a.timeout_seconds);
  c.command_deadline = std::chrono::seconds(a.command_deadline_seconds);
  return c;
}

uint64_t ClientMessageLimit(const config::AccountConfig& a) {
  constexpr uint64_t kClientDefault = 1ull << 30;
  if (a.max_message_size == 0 || a.max_message_size >= kClientDefault / 2) return kClientDefault;
  return 2 * a.max_message_size + (1u << 20);
}

Result<imap::ImapOptions> ImapOptionsFor(const config::AccountConfig& a) {
  MK_ASSIGN_OR_RETURN(std::string password, config::ResolvePassword(a.password, "account " + a.name));
  imap::ImapOptions o;
  o.connect = ConnectOptionsFor(a, net::Service::kImap);
  o.user = a.user;
  o.password = std::move(password);
  o.auth = ToImapAuth(a.auth);
  o.allow_plaintext = a.allow_plaintext;
  o.compress = a.compress;
  o.max_literal = ClientMessageLimit(a);
  return o;
}

void WarnIfUnverified(const config::AccountConfig& a) {
  if (a.tls_verify) return;
  std::cerr << "mailkeep: warning: account " << TerminalText(a.name)
            << ": tls_verify = false, the server's certificate is not checked; anyone on the network path "
               "could read the password and the mail\n";
}

Result<std::unique_ptr<Archive>> OpenConfiguredArchive(GlobalOptions& global, const config::Config& config,
                                                       bool writable, int lock_timeout) {
  if (global.archive.empty() && !config.archive.empty() && !std::getenv("MAILKEEP_ARCHIVE")) {
    global.archive = config.archive;
  }
  ArchiveOptions options;
  options.lock_wait_seconds = lock_timeout;
  return OpenArchive(global, writable ? OpenMode::kReadWrite : OpenMode::kReadOnly, options);
}

}  // namespace mailkeep::tools
