// Accounts of the config file (config/config.h) turned into client options,
// shared by the commands that talk to servers (sync, migrate). Passwords are
// resolved here, at use time, and live only in the returned options.
// Thread-safety: plain functions; ResolvePassword may run a command.
#pragma once

#include <functional>
#include <memory>

#include "config/config.h"
#include "store/util/status.h"
#include "sync/imap/imap_client.h"
#include "sync/net/connection.h"
#include "sync/oauth/token_client.h"
#include "sync/oauth/token_store.h"
#include "tools/command.h"

namespace mailkeep::tools {

// Host, port (0 = the standard one for `service` and the TLS mode), TLS
// mode, CA file, certificate verification and timeouts of an account.
net::ConnectOptions ConnectOptionsFor(const config::AccountConfig& account, net::Service service);

// The largest message a client of this account accepts on the wire: with
// max_message_size set, twice it plus 1 MiB (a server's size may count LF
// line ends that arrive as CRLF; anything larger is a server that lied about
// its size, since the engine skips what is listed over the limit); without,
// the clients' own 1 GiB.
uint64_t ClientMessageLimit(const config::AccountConfig& account);

// Everything an ImapClient needs for an IMAP account, password included
// (resolved now; errors name the account, never the password). With
// oauth_token_url the password is an OAuth access token from the archive's
// state in `archive_dir` (refreshed when it expired; renewed once more
// when the server refuses it).
Result<imap::ImapOptions> ImapOptionsFor(const config::AccountConfig& account, const std::string& archive_dir);

// The OAuth client of an account or relay (token endpoint, client id and
// secret, CA and timeouts), for the device grant and for OAuthLoginFor.
// Messages start "account NAME" / "relay NAME".
// REQUIRES: oauth.enabled().
oauth::ClientConfig OAuthClientFor(const config::AccountConfig& account);
oauth::ClientConfig OAuthClientFor(const config::RelayConfig& relay);
// For an account or relay with oauth_token_url: an access token (cached,
// or refreshed now), the hook that gives the usable one later (cached while
// valid, else refreshed: for each new session of a long run), and the hook
// the mail clients call once when a server refuses it (renew_token in their
// options).
struct OAuthLogin {
  std::string token;
  std::function<Result<std::string>()> current;
  std::function<Result<std::string>()> renew;
};
Result<OAuthLogin> OAuthLoginFor(const config::AccountConfig& account, const std::string& archive_dir);
Result<OAuthLogin> OAuthLoginFor(const config::RelayConfig& relay, const std::string& archive_dir);
// Where the tokens are kept: ARCHIVE/oauth/account.NAME.* / relay.NAME.*
oauth::TokenStore TokenStoreFor(const config::AccountConfig& account, const std::string& archive_dir);
oauth::TokenStore TokenStoreFor(const config::RelayConfig& relay, const std::string& archive_dir);

// The warning sync and migrate print for an account with tls_verify = false.
void WarnIfUnverified(const config::AccountConfig& account);

}  // namespace mailkeep::tools
