// HTTPS POST of an application/x-www-form-urlencoded body, for OAuth 2.0
// token endpoints (RFC 6749 §3.2, RFC 8628 §3.1). The transport is
// net::Connection, so the certificate policy is the mail connections'
// (system store plus ca_file, the host name checked also for loopback names,
// TLS 1.2 or newer) and the whole exchange has one deadline and one byte
// budget: a server that drips bytes or sends without end fails the call.
//
// Only what token endpoints need: one request per connection ("Connection:
// close"), a reply body by Content-Length or chunked transfer coding.
//
// Errors (one line naming "host:port", never the request body, which holds
// secrets):
//   kInvalidArgument     a URL that is not https://host[:port][/path]
//   kUnavailable         network trouble, deadline passed
//   kFailedPrecondition  TLS policy, a malformed or oversized reply
//
// Thread-safety: plain functions; no shared state.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/util/status.h"

namespace mailkeep::oauth {

struct HttpsUrl {
  std::string host;        // DNS name or IP literal (without brackets)
  uint16_t port = 443;
  std::string target;      // path and query, "/" when the URL has none
};

// "https://host[:port][/path][?query]"; no user info, no fragment, no
// spaces or control characters, at most 2048 bytes.
Result<HttpsUrl> ParseHttpsUrl(std::string_view url);

// name=value&... with RFC 3986 unreserved characters kept and every other
// byte %XX-encoded (HTML form encoding's '+' for space is not used).
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

struct PostOptions {
  std::string ca_file;                               // extra trusted CA(s), PEM
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds read_timeout{60000};     // each read
  std::chrono::milliseconds deadline{120000};        // the whole reply
  size_t max_body = 64 * 1024;                       // reply body, bytes
};

struct HttpReply {
  int status = 0;                                    // 100..599
  std::string body;                                  // at most max_body bytes
};

// POSTs `form` (already encoded) to `url` and reads the whole reply.
Result<HttpReply> PostForm(const HttpsUrl& url, std::string_view form, const PostOptions& options);

}  // namespace mailkeep::oauth
