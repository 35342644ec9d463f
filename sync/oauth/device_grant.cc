#include "sync/oauth/device_grant.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace mailkeep::oauth {
namespace {

constexpr char kDeviceGrantType[] = "urn:ietf:params:oauth:grant-type:device_code";

int64_t SystemNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Result<DeviceAuthorization> RequestDeviceCode(const ClientConfig& client) {
  auto in_context = [&](const Error& e) { return std::unexpected(e.WithContext(client.context)); };
  if (client.device_url.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, client.context + ": no oauth_device_url configured");
  }
  auto url = ParseHttpsUrl(client.device_url);
  if (!url) return in_context(url.error());
  std::vector<std::pair<std::string, std::string>> fields{{"client_id", client.client_id}};
  if (!client.scope.empty()) fields.emplace_back("scope", client.scope);
  auto reply = Post(client, *url, FormEncode(fields));
  if (!reply) return in_context(reply.error());
  auto parsed = ParseDeviceAuthorization(reply->status, reply->body);
  if (!parsed) return in_context(parsed.error());
  return parsed;
}

Status Keep(const ClientConfig& client, TokenStore& store, const TokenReply& reply, int64_t asked_at) {
  if (reply.refresh_token.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     client.context + ": the authorization gave no refresh token (the client or scope may not "
                                      "allow offline access)");
  }
  auto saved = store.SaveRefreshToken(reply.refresh_token);
  if (saved) saved = store.SaveAccessToken({reply.access_token, asked_at + reply.expires_in});
  if (!saved) return std::unexpected(saved.error().WithContext(client.context));
  return OkStatus();
}

}  // namespace

Status RunDeviceGrant(const ClientConfig& client, TokenStore& store, const DeviceGrantHooks& hooks) {
  auto now = hooks.now ? hooks.now : SystemNow;
  auto sleep = hooks.sleep ? hooks.sleep : [](int s) { std::this_thread::sleep_for(std::chrono::seconds(s)); };
  MK_ASSIGN_OR_RETURN(DeviceAuthorization device, RequestDeviceCode(client));
  const int64_t expires_at = now() + device.expires_in;
  hooks.show({device.verification_uri, device.verification_uri_complete, device.user_code, device.expires_in});
  int interval = device.interval;
  int unreachable = 0;  // polls in a row that met network trouble
  auto fail = [&](const std::string& what) { return MakeError(ErrorCode::kFailedPrecondition, client.context + ": " + what); };
  while (true) {
    if (now() + interval > expires_at) return fail("the code expired before it was approved; run the command again");
    sleep(interval);
    const int64_t asked_at = now();
    auto reply = RequestToken(client, {{"grant_type", kDeviceGrantType}, {"device_code", device.device_code}});
    if (!reply) {
      // Network trouble (§3.5): poll again, less often, a bounded number of times.
      if (reply.error().code() != ErrorCode::kUnavailable) return std::unexpected(reply.error());
      if (++unreachable > kMaxUnreachablePolls) {
        return MakeError(ErrorCode::kUnavailable, reply.error().message() + " (" + std::to_string(unreachable) +
                                                      " polls in a row); run the command again");
      }
      interval = std::min(interval * 2, kMaxInterval);
      continue;
    }
    unreachable = 0;
    switch (reply->error) {
      case GrantError::kNone: return Keep(client, store, *reply, asked_at);
      case GrantError::kAuthorizationPending: continue;
      case GrantError::kSlowDown: interval = std::min(interval + 5, kMaxInterval); continue;
      case GrantError::kExpiredToken: return fail("the code expired before it was approved; run the command again");
      case GrantError::kAccessDenied: return fail("authorization was denied (" + reply->error_text + ")");
      default: return fail("the token endpoint refused the device code (" + reply->error_text + ")");
    }
  }
}

}  // namespace mailkeep::oauth
