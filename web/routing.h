// From an HTTP request target to a Route (web/http.h): percent-decoding,
// query parameters, route patterns, and the one-line error responses. Pure
// functions, no I/O; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/util/status.h"
#include "web/http.h"

namespace mailkeep::web {

// Percent-decodes `in` (RFC 3986 "%XX"); with `plus_is_space` (a query
// component, application/x-www-form-urlencoded) "+" is a space. A "%" not
// followed by two hex digits is kInvalidArgument.
Result<std::string> PercentDecode(std::string_view in, bool plus_is_space);

// The query string (after "?", without it) as decoded name/value pairs in
// order; "a" alone is ("a", ""); empty pieces ("&&") are skipped.
Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query);

// Sets request.path and request.query from a request target in origin form
// ("/path?query"): kInvalidArgument for any other form or a bad encoding.
Status ParseTarget(std::string_view target, Request& request);

// What a request's head must be before it is routed (RFC 9112), or the
// refusal (nullopt: go on):
//  - `version` HTTP/1.0 or HTTP/1.1 (505);
//  - no body announced: a GET or HEAD has none, so any Transfer-Encoding,
//    or a Content-Length other than a single "0", is refused (413 for a
//    body, 400 for a length that is repeated or not a number). A proxy in
//    front could frame such a request differently, and what it took for
//    the body would be read here as the next request;
//  - HTTP/1.1 names exactly one Host, and no request gives two
//    Authorization headers (400: a proxy in front may check the other);
//  - unless `any_host`, Host names this machine: an IP address or
//    "localhost", any port (421 otherwise). A DNS name reaches a server
//    without authentication through DNS rebinding: a page in the user's own
//    browser points a name it controls at 127.0.0.1 and reads the archive
//    as its own origin.
// Header names in `request` are lower case (web/http.h).
std::optional<Response> RefuseRequestHead(const Request& request, std::string_view version, bool any_host);

// Whether `path` matches `pattern` (web/http.h, Route); on a match *id and
// *part receive what {id} and {part} held (0 / "" when absent).
bool MatchPattern(std::string_view pattern, std::string_view path, int64_t* id, std::string* part);

// The first route for `request` (a HEAD request takes the GET route), with
// request.id and request.part filled; nullptr when none matches.
const Route* FindRoute(const std::vector<Route>& routes, Request& request);

// An error as one line: {"error": "..."} (application/json) for paths under
// /api/, else a small HTML page with the message escaped.
Response ErrorResponse(int status, std::string_view path, std::string_view message);
// The JSON form alone (the API's handlers).
Response JsonError(int status, std::string_view message);

}  // namespace mailkeep::web
