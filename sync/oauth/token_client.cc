#include "sync/oauth/token_client.h"

#include <chrono>

namespace mailkeep::oauth {
namespace {

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Result<HttpReply> Post(const ClientConfig& client, const HttpsUrl& url, std::string_view form) {
  return client.transport ? client.transport(url, form, client.post) : PostForm(url, form, client.post);
}

Result<TokenReply> RequestToken(const ClientConfig& client, std::vector<std::pair<std::string, std::string>> fields) {
  auto in_context = [&](const Error& e) { return std::unexpected(e.WithContext(client.context)); };
  auto url = ParseHttpsUrl(client.token_url);
  if (!url) return in_context(url.error());
  fields.emplace_back("client_id", client.client_id);
  if (client.client_secret) {
    auto secret = client.client_secret();
    if (!secret) return std::unexpected(secret.error());  // ResolvePassword's message names the account
    fields.emplace_back("client_secret", std::move(*secret));
  }
  std::string form = FormEncode(fields);
  auto reply = Post(client, *url, form);
  form.assign(form.size(), '\0');
  if (!reply) return in_context(reply.error());
  auto parsed = ParseTokenReply(reply->status, reply->body);
  if (!parsed) return in_context(parsed.error());
  return parsed;
}

AccessTokens::AccessTokens(Options options, TokenStore store)
    : options_(std::move(options)), store_(std::move(store)) {
  if (!options_.now) options_.now = SystemNow;
}

std::string AccessTokens::Reauthorize() const {
  return options_.client.reauthorize.empty() ? "" : "; run: " + options_.client.reauthorize;
}

Result<std::string> AccessTokens::RefreshToken() const {
  if (options_.refresh_token_command) return options_.refresh_token_command();
  auto stored = store_.LoadRefreshToken();
  if (!stored) return std::unexpected(stored.error().WithContext(options_.client.context));
  if (!*stored) {
    return MakeError(ErrorCode::kFailedPrecondition, options_.client.context + ": no OAuth refresh token yet" + Reauthorize());
  }
  return std::move(**stored);
}

Result<std::string> AccessTokens::Get() {
  if (auto cached = store_.LoadAccessToken(); cached && cached->expires_at - options_.margin > options_.now()) {
    return std::move(cached->token);
  }
  return Renew();
}

Result<std::string> AccessTokens::Renew() {
  MK_ASSIGN_OR_RETURN(std::string refresh, RefreshToken());
  const int64_t asked_at = options_.now();
  MK_ASSIGN_OR_RETURN(TokenReply reply,
                      RequestToken(options_.client, {{"grant_type", "refresh_token"}, {"refresh_token", refresh}}));
  if (reply.error != GrantError::kNone) {
    // Whatever is cached was not good either.
    (void)store_.ForgetAccessToken();
    return MakeError(ErrorCode::kFailedPrecondition, options_.client.context +
                                                         ": the token endpoint refused the refresh token (" +
                                                         reply.error_text + ")" + Reauthorize());
  }
  if (!reply.refresh_token.empty() && reply.refresh_token != refresh && !options_.refresh_token_command) {
    auto saved = store_.SaveRefreshToken(reply.refresh_token);
    if (!saved) return std::unexpected(saved.error().WithContext(options_.client.context + ": keeping the new refresh token"));
  }
  auto cached = store_.SaveAccessToken({reply.access_token, asked_at + reply.expires_in});
  if (!cached) return std::unexpected(cached.error().WithContext(options_.client.context));
  return std::move(reply.access_token);
}

}  // namespace mailkeep::oauth
