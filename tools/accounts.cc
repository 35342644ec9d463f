#include "tools/accounts.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <algorithm>
#include <type_traits>

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
  // Fresh for each use: one run's bandwidth and throttle_max_wait, shared
  // by the sessions that use these options.
  if (a.bandwidth > 0) c.download_rate = std::make_shared<net::RateLimit>(a.bandwidth);
  net::ThrottleOptions throttle;
  throttle.max_wait = std::chrono::seconds(a.throttle_max_wait_seconds);
  c.throttle = std::make_shared<net::Throttle>(std::move(throttle));
  return c;
}

uint64_t ClientMessageLimit(const config::AccountConfig& a) {
  constexpr uint64_t kClientDefault = 1ull << 30;
  if (a.max_message_size == 0 || a.max_message_size >= kClientDefault / 2) return kClientDefault;
  return 2 * a.max_message_size + (1u << 20);
}

namespace {

// What accounts and relays share for OAuth: "account work" / "relay out",
// what to run to authorize again, and the token files' name.
template <typename C>
constexpr bool kIsRelay = std::is_same_v<C, config::RelayConfig>;

template <typename C>
std::string ContextOf(const C& c) {
  return (kIsRelay<C> ? "relay " : "account ") + c.name;
}

template <typename C>
oauth::ClientConfig MakeOAuthClient(const C& c) {
  oauth::ClientConfig client;
  client.context = ContextOf(c);
  client.reauthorize = std::string(kIsRelay<C> ? "mailkeep oauth --relay " : "mailkeep oauth ") + c.name;
  client.token_url = c.oauth.token_url;
  client.device_url = c.oauth.device_url;
  client.client_id = c.oauth.client_id;
  client.scope = c.oauth.scope;
  if (c.oauth.client_secret.kind != config::PasswordSource::Kind::kNone) {
    client.client_secret = [source = c.oauth.client_secret, context = client.context] {
      return config::ResolvePassword(source, context);
    };
  }
  client.post.ca_file = c.ca_file;
  client.post.connect_timeout = std::chrono::seconds(c.connect_timeout_seconds);
  client.post.read_timeout = std::chrono::seconds(c.timeout_seconds);
  int deadline = 300;
  if constexpr (!kIsRelay<C>) deadline = std::min(c.command_deadline_seconds, deadline);
  client.post.deadline = std::chrono::seconds(deadline);
  return client;
}

template <typename C>
oauth::TokenStore MakeTokenStore(const C& c, const std::string& archive_dir) {
  return oauth::TokenStore(archive_dir, (kIsRelay<C> ? "relay." : "account.") + c.name);
}

template <typename C>
Result<OAuthLogin> MakeOAuthLogin(const C& c, const std::string& archive_dir) {
  oauth::AccessTokens::Options options;
  options.client = MakeOAuthClient(c);
  if (c.oauth.refresh_token.kind != config::PasswordSource::Kind::kNone) {
    options.refresh_token_command = [source = c.oauth.refresh_token, context = options.client.context] {
      return config::ResolvePassword(source, context);
    };
  }
  auto tokens = std::make_shared<oauth::AccessTokens>(std::move(options), MakeTokenStore(c, archive_dir));
  OAuthLogin login;
  MK_ASSIGN_OR_RETURN(login.token, tokens->Get());
  login.current = [tokens] { return tokens->Get(); };
  login.renew = [tokens] { return tokens->Renew(); };
  return login;
}

}  // namespace

oauth::ClientConfig OAuthClientFor(const config::AccountConfig& a) { return MakeOAuthClient(a); }
oauth::ClientConfig OAuthClientFor(const config::RelayConfig& r) { return MakeOAuthClient(r); }
oauth::TokenStore TokenStoreFor(const config::AccountConfig& a, const std::string& archive_dir) {
  return MakeTokenStore(a, archive_dir);
}
oauth::TokenStore TokenStoreFor(const config::RelayConfig& r, const std::string& archive_dir) {
  return MakeTokenStore(r, archive_dir);
}
Result<OAuthLogin> OAuthLoginFor(const config::AccountConfig& a, const std::string& archive_dir) {
  return MakeOAuthLogin(a, archive_dir);
}
Result<OAuthLogin> OAuthLoginFor(const config::RelayConfig& r, const std::string& archive_dir) {
  return MakeOAuthLogin(r, archive_dir);
}

Result<imap::ImapOptions> ImapOptionsFor(const config::AccountConfig& a, const std::string& archive_dir) {
  imap::ImapOptions o;
  if (a.oauth.enabled()) {
    MK_ASSIGN_OR_RETURN(OAuthLogin login, OAuthLoginFor(a, archive_dir));
    o.password = std::move(login.token);
    o.renew_token = std::move(login.renew);
  } else {
    MK_ASSIGN_OR_RETURN(o.password, config::ResolvePassword(a.password, "account " + a.name));
  }
  o.connect = ConnectOptionsFor(a, net::Service::kImap);
  o.user = a.user;
  o.auth = config::LoginMethodFor(a.auth, net::LoginProtocol::kImap);
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

}  // namespace mailkeep::tools
