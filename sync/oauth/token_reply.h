// Replies of an OAuth 2.0 token endpoint, read with limits: the access
// token response (RFC 6749 §5.1), the error response (§5.2, with RFC 8628
// §3.5's device-flow codes) and the device authorization response (RFC 8628
// §3.2). Nothing the server sends is trusted: the body is at most
// https_post.h's max_body, nesting is at most kMaxJsonDepth, every token and
// code is 1..kMaxToken bytes of visible ASCII without spaces (so it can
// neither break a SASL line nor reach a terminal as a control sequence), and
// every number is checked against a range before it is used.
//
// Messages never contain a token. Text from the server (error codes, the
// error_description) is cut to 200 bytes and made printable.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/util/status.h"

namespace mailkeep::oauth {

inline constexpr size_t kMaxToken = 16 * 1024;        // access, refresh and device codes
inline constexpr int kMaxJsonDepth = 8;
inline constexpr int64_t kMaxExpiresIn = 366 * 86400;  // an access token's lifetime, seconds
inline constexpr int64_t kDefaultExpiresIn = 3600;     // when the server does not say
inline constexpr int kMinInterval = 1, kMaxInterval = 300, kDefaultInterval = 5;  // device polling, s
inline constexpr int64_t kMaxDeviceExpiresIn = 86400;  // a device code's lifetime, seconds
inline constexpr size_t kMaxUserCode = 64;
inline constexpr size_t kMaxUri = 2048;

// The error codes a token endpoint may answer with that callers act on.
enum class GrantError {
  kNone,
  kAuthorizationPending,  // device flow: the user has not approved yet; poll again
  kSlowDown,              // device flow: poll again, 5 s slower
  kExpiredToken,          // device flow: the device code expired
  kAccessDenied,          // device flow: the user said no
  kInvalidGrant,          // the refresh token (or device code) is no longer valid
  kInvalidClient,         // client id or secret refused
  kOther,
};

struct TokenReply {
  GrantError error = GrantError::kNone;
  std::string error_text;     // "invalid_grant: Token has been expired or revoked." (printable, <= 200 bytes)
  // When error == kNone:
  std::string access_token;
  std::string refresh_token;  // empty when the server sent none (keep the old one)
  int64_t expires_in = kDefaultExpiresIn;  // 1..kMaxExpiresIn
};

// A reply with HTTP status 200 must carry access_token and token_type
// "Bearer" (any case); a 400/401 reply must carry "error". Anything else —
// another status, a body that is not a JSON object, a field of the wrong
// type, out of range or too long — is kFailedPrecondition naming the field.
// A 5xx status is kUnavailable (try again later).
Result<TokenReply> ParseTokenReply(int http_status, std::string_view body);

struct DeviceAuthorization {
  std::string device_code;
  std::string user_code;                   // <= kMaxUserCode
  std::string verification_uri;            // https://..., <= kMaxUri
  std::string verification_uri_complete;   // may be empty
  int64_t expires_in = 0;                  // 1..kMaxDeviceExpiresIn
  int interval = kDefaultInterval;         // kMinInterval..kMaxInterval
};

// RFC 8628 §3.2. Errors as for ParseTokenReply (an "error" reply is
// kFailedPrecondition with its text).
Result<DeviceAuthorization> ParseDeviceAuthorization(int http_status, std::string_view body);

}  // namespace mailkeep::oauth
