#include "sync/oauth/token_reply.h"

#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "store/util/ascii.h"

namespace mailkeep::oauth {
namespace {

using Json = nlohmann::json;

std::unexpected<Error> Bad(const std::string& what) {
  return MakeError(ErrorCode::kFailedPrecondition, "token endpoint reply: " + what);
}

// Deepest nesting of [ and { outside strings; the parser never sees more.
int JsonDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

Result<Json> ParseObject(std::string_view body) {
  if (JsonDepth(body) > kMaxJsonDepth) return Bad("JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
  return j;
}

// A token or code: 1..max bytes of visible ASCII (0x21..0x7E).
Result<std::string> TokenField(const Json& j, const char* name, bool required, size_t max = kMaxToken) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) return Bad("no " + std::string(name));
    return std::string();
  }
  if (!it->is_string()) return Bad(std::string(name) + " is not a string");
  const std::string& s = it->get_ref<const std::string&>();
  if (s.empty() || s.size() > max) {
    return Bad(std::string(name) + " is " + std::to_string(s.size()) + " bytes (1.." + std::to_string(max) + ")");
  }
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7F) return Bad(std::string(name) + " has characters other than visible ASCII");
  }
  return s;
}

// A number (or a string of digits, as some servers send) in [lo, hi];
// `fallback` when absent.
Result<int64_t> NumberField(const Json& j, const char* name, int64_t lo, int64_t hi, std::optional<int64_t> fallback) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (fallback) return *fallback;
    return Bad("no " + std::string(name));
  }
  std::optional<int64_t> n;
  if (it->is_number_integer()) {
    n = it->get<int64_t>();
  } else if (it->is_number_float()) {
    double d = it->get<double>();
    if (d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) n = static_cast<int64_t>(d);
  } else if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && ptr == s.data() + s.size()) n = v;
  }
  if (!n || *n < lo || *n > hi) {
    return Bad(std::string(name) + " is not a number in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return *n;
}

std::string TextField(const Json& j, const char* name) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) return "";
  return ascii::Printable(it->get_ref<const std::string&>(), 200);
}

GrantError ErrorKind(std::string_view code) {
  struct Known { std::string_view code; GrantError kind; };
  static constexpr Known kKnown[] = {
      {"authorization_pending", GrantError::kAuthorizationPending},
      {"slow_down", GrantError::kSlowDown},
      {"expired_token", GrantError::kExpiredToken},
      {"access_denied", GrantError::kAccessDenied},
      {"invalid_grant", GrantError::kInvalidGrant},
      {"invalid_client", GrantError::kInvalidClient},
      {"unauthorized_client", GrantError::kInvalidClient},
  };
  for (const auto& k : kKnown) {
    if (k.code == code) return k.kind;
  }
  return GrantError::kOther;
}

// The "error" reply of RFC 6749 §5.2, or nullopt when `j` has no "error".
std::optional<TokenReply> ErrorReply(const Json& j) {
  auto it = j.find("error");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  TokenReply r;
  std::string code = ascii::Printable(it->get_ref<const std::string&>(), 64);
  r.error = ErrorKind(code);
  std::string description = TextField(j, "error_description");
  r.error_text = description.empty() ? code : code + ": " + description;
  return r;
}

// Status and body to a JSON object, or the error for a status without one.
Result<Json> ReplyObject(int http_status, std::string_view body) {
  if (http_status >= 500) {
    return MakeError(ErrorCode::kUnavailable, "token endpoint answered HTTP " + std::to_string(http_status) +
                                                  "; try again later");
  }
  auto j = ParseObject(body);
  if (!j) {
    if (http_status != 200) return Bad("HTTP " + std::to_string(http_status) + " without a JSON error");
    return j;
  }
  if (http_status != 200 && http_status != 400 && http_status != 401 && !j->contains("error")) {
    return Bad("HTTP " + std::to_string(http_status));
  }
  return j;
}

}  // namespace

Result<TokenReply> ParseTokenReply(int http_status, std::string_view body) {
  MK_ASSIGN_OR_RETURN(Json j, ReplyObject(http_status, body));
  if (auto error = ErrorReply(j)) return *error;
  if (http_status != 200) return Bad("HTTP " + std::to_string(http_status) + " without \"error\"");
  TokenReply r;
  MK_ASSIGN_OR_RETURN(r.access_token, TokenField(j, "access_token", true));
  auto type = j.find("token_type");
  if (type == j.end() || !type->is_string() || !ascii::EqualsIgnoreCase(type->get_ref<const std::string&>(), "Bearer")) {
    return Bad("token_type is not Bearer");
  }
  MK_ASSIGN_OR_RETURN(r.refresh_token, TokenField(j, "refresh_token", false));
  MK_ASSIGN_OR_RETURN(r.expires_in, NumberField(j, "expires_in", 1, kMaxExpiresIn, kDefaultExpiresIn));
  return r;
}

Result<DeviceAuthorization> ParseDeviceAuthorization(int http_status, std::string_view body) {
  MK_ASSIGN_OR_RETURN(Json j, ReplyObject(http_status, body));
  if (auto error = ErrorReply(j)) return Bad("device authorization refused: " + error->error_text);
  if (http_status != 200) return Bad("HTTP " + std::to_string(http_status) + " without \"error\"");
  DeviceAuthorization d;
  MK_ASSIGN_OR_RETURN(d.device_code, TokenField(j, "device_code", true));
  MK_ASSIGN_OR_RETURN(d.user_code, TokenField(j, "user_code", true, kMaxUserCode));
  // Google calls it verification_url.
  const char* uri_key = j.contains("verification_uri") ? "verification_uri" : "verification_url";
  MK_ASSIGN_OR_RETURN(d.verification_uri, TokenField(j, uri_key, true, kMaxUri));
  MK_ASSIGN_OR_RETURN(d.verification_uri_complete, TokenField(j, "verification_uri_complete", false, kMaxUri));
  for (const std::string* uri : {&d.verification_uri, &d.verification_uri_complete}) {
    if (!uri->empty() && !ascii::StartsWithIgnoreCase(*uri, "https://")) return Bad("a verification URI that is not https://");
  }
  MK_ASSIGN_OR_RETURN(d.expires_in, NumberField(j, "expires_in", 1, kMaxDeviceExpiresIn, std::nullopt));
  MK_ASSIGN_OR_RETURN(int64_t interval, NumberField(j, "interval", kMinInterval, kMaxInterval, kDefaultInterval));
  d.interval = static_cast<int>(interval);
  return d;
}

}  // namespace mailkeep::oauth
