// The web interface (`mailkeep serve`): HTTP requests and responses as plain
// values, so that every page and API handler is written and unit-tested
// without a socket. web/server.{h,cc} (Poco's HTTPServer) turns each request
// into a Request, checks it (authentication, per-client limits, deadline),
// finds its Route and writes the Response.
//
// Two sets of routes, one table each:
//   ApiRoutes()   web/api.cc    /api/search, /api/message/{id}, /api/message/{id}/raw,
//                               /api/thread/{id}: the same JSON objects as
//                               `search --format json`, `show --json`, `thread --json`
//   PageRoutes()  web/pages.cc  /, /message/{id}, /thread/{id}, attachments, .eml, mbox export
//
// Nothing in a URL ever names a file: a handler reads only through the
// ArchiveSession it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "index/index.h"
#include "store/archive.h"

namespace mailkeep::web {

struct Request {
  std::string method;  // "GET" or "HEAD" (the server refuses the rest: read-only)
  std::string path;    // percent-decoded, without the query string: "/message/42"
  // Percent-decoded query parameters in the order given ("+" is a space).
  std::vector<std::pair<std::string, std::string>> query;
  // Header names in lower case.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string client;  // the peer's address, "127.0.0.1"
  std::string user;    // who authenticated ("" when the server needs no authentication)
  // Captured by the route pattern: {id} a catalog id (decimal, > 0) and
  // {part} a part path as `show --json` lists it ("1", "2.1"; digits and
  // dots, at most 64 bytes). 0 / "" when the pattern has none.
  int64_t id = 0;
  std::string part;

  // The first value of query parameter `name`, or `fallback`.
  std::string Param(std::string_view name, std::string_view fallback = {}) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return std::string(fallback);
  }
  // The first value of header `name` (lower case), or "".
  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return {};
  }
};

struct ArchiveSession;

struct Response {
  int status = 200;
  std::string content_type = "text/html; charset=utf-8";
  // Extra headers (Content-Disposition, Content-Security-Policy, ...). The
  // server adds its own security headers to every response
  // (X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, a
  // default Content-Security-Policy when the handler set none).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A body too big to hold at once (the mbox export), made piece by piece
  // instead of `body` once the head is sent. The server calls it again and
  // again, each time with an archive session borrowed for that call alone
  // and an empty `piece` to fill, and sends the piece before the next call;
  // it returns whether more pieces follow. The body has no Content-Length:
  // it is chunked (HTTP/1.1) or ends with the connection (HTTP/1.0). An
  // error cannot change the status, sent already: the server logs one line
  // and closes the connection with the chunked body unfinished, so the
  // client sees a truncated transfer.
  using NextPiece = std::function<Result<bool>(ArchiveSession& session, std::string& piece)>;
  NextPiece next_piece;
};

// What a handler reads: the archive (opened read-only) and its index, for
// the calling thread only; never kept past the call.
struct ArchiveSession {
  Archive& archive;
  index::IndexReader& index;
};

using Handler = std::function<Response(const Request&, ArchiveSession&)>;

// `pattern` is a path with optional placeholders {id} and {part}, each one
// whole path segment: "/", "/api/search", "/message/{id}",
// "/message/{id}/part/{part}". A path matches when every literal segment
// is equal and every placeholder holds a valid value (see Request).
struct Route {
  std::string method;  // "GET" (HEAD is served by the GET route, without the body)
  std::string pattern;
  Handler handler;
};

std::vector<Route> ApiRoutes();   // web/api.cc
std::vector<Route> PageRoutes();  // web/pages.cc

// Why an Authenticator decided as it did.
enum class AuthOutcome {
  kOk,             // `user` is who authenticated
  kNoCredentials,  // no Authorization header (not a failure)
  kRefused,        // wrong password, unknown user, unknown token (a failure)
  kMalformed,      // an Authorization header that cannot be read (a failure)
  kThrottled,      // the client failed too often; nothing was checked
  kBusy,           // no scrypt slot in time, or scrypt failed (not a failure)
};

// An Authenticator's answer for one request, which the server carries out:
//   allowed()    the request goes on as `user`;
//   throttled()  429 with Retry-After: retry_after_seconds (the client
//                failed too often; this request may be the failure that
//                started the block);
//   otherwise    401 with WWW-Authenticate: `challenge`.
struct AuthResult {
  AuthOutcome outcome = AuthOutcome::kRefused;
  std::string user;             // when allowed
  std::string challenge;        // when not allowed: the WWW-Authenticate value (not empty)
  int retry_after_seconds = 0;  // when not allowed: > 0 while the client is throttled
  static AuthResult Allowed(std::string user) { return {AuthOutcome::kOk, std::move(user), {}, 0}; }
  static AuthResult Denied(AuthOutcome why, std::string challenge = {}, int retry_after_seconds = 0) {
    return {why, {}, std::move(challenge), retry_after_seconds};
  }
  bool allowed() const { return outcome == AuthOutcome::kOk; }
  bool throttled() const { return !allowed() && retry_after_seconds > 0; }
};

// Decides who a request comes from. The server asks it for every request
// when one is configured (required when listening beyond loopback);
// web/auth.{h,cc} builds it from the accounts file's [serve] section.
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Must take the same time whether the user exists or not.
  virtual AuthResult Authenticate(const Request& request) = 0;
};

}  // namespace mailkeep::web
