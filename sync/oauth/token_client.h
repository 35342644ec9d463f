// OAuth 2.0 access tokens for mail logins that run from cron.
//
// AccessTokens hands out an access token for one account or relay: the one
// cached in the archive's state (token_store.h) while it has more than
// `margin` seconds left, else a new one from the token endpoint for the
// refresh token (RFC 6749 §6: POST grant_type=refresh_token over HTTPS,
// https_post.h). The new access token is cached 0600 with its expiry; a
// refresh token in the reply (rotation) replaces the stored one. Renew()
// gets a new one whatever the cache says: the mail clients call it once
// when a server refuses a token (see ImapOptions::renew_token).
//
// The refresh token comes from the store (written by `mailkeep oauth`,
// device_grant.h) or from a command (`oauth_refresh_token_command`); a
// rotated token from the server is then not kept (the command owns it).
//
// Errors name the account (`context`) and say what to do, never a token:
//   "account work: no OAuth refresh token yet; run: mailkeep oauth work"
//   "account work: the token endpoint refused the refresh token
//    (invalid_grant: Token has been expired or revoked.); run: mailkeep oauth work"
// kFailedPrecondition when the user must act, kUnavailable for network
// trouble or a 5xx reply (try again later), kIoError for the state files.
//
// Thread-safety: an AccessTokens is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "store/util/status.h"
#include "sync/oauth/https_post.h"
#include "sync/oauth/token_reply.h"
#include "sync/oauth/token_store.h"

namespace mailkeep::oauth {

struct ClientConfig {
  std::string context;          // "account work", starts every message
  std::string reauthorize;      // "mailkeep oauth work": what the user runs to authorize again
  std::string token_url;        // https://...; REQUIRED
  std::string device_url;       // RFC 8628 device authorization endpoint; "" = none
  std::string client_id;        // REQUIRED
  std::string scope;            // sent with the device authorization request; "" = none
  // The client secret, asked for only when a request is made; empty
  // function = a public client (no secret sent).
  std::function<Result<std::string>()> client_secret;
  PostOptions post;             // CA file, timeouts, reply limit
  // The HTTPS transport; empty = PostForm (https_post.h). Tests put a
  // scripted one here.
  std::function<Result<HttpReply>(const HttpsUrl&, std::string_view form, const PostOptions&)> transport;
};

// client.transport, or PostForm.
Result<HttpReply> Post(const ClientConfig& client, const HttpsUrl& url, std::string_view form);

// One request to the token endpoint with `fields` plus client_id (and
// client_secret when the client has one). The reply is parsed, not judged.
Result<TokenReply> RequestToken(const ClientConfig& client, std::vector<std::pair<std::string, std::string>> fields);

class AccessTokens {
 public:
  struct Options {
    ClientConfig client;
    // Where the refresh token comes from instead of the store; empty = the store.
    std::function<Result<std::string>()> refresh_token_command;
    std::function<int64_t()> now;    // Unix seconds; empty = the system clock
    int64_t margin = 60;             // a cached token with less left is renewed
  };

  AccessTokens(Options options, TokenStore store);

  // A usable access token (cached, or refreshed now).
  Result<std::string> Get();
  // A new access token from the endpoint; the cache is replaced.
  Result<std::string> Renew();

 private:
  Result<std::string> RefreshToken() const;
  std::string Reauthorize() const;

  Options options_;
  TokenStore store_;
};

}  // namespace mailkeep::oauth
