#include "web/routing.h"

#include <charconv>

#include <Poco/Net/IPAddress.h>

#include "config/config.h"
#include "web/json_views.h"
#include "web/sanitize.h"

namespace mailkeep::web {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The next "/"-separated segment of `path` (after its leading "/").
bool NextSegment(std::string_view& path, std::string_view& segment) {
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  const size_t end = path.find('/');
  segment = path.substr(0, end);
  path.remove_prefix(end == std::string_view::npos ? path.size() : end);
  return true;
}

// {id}: decimal digits only, > 0, fitting int64.
bool ParseId(std::string_view s, int64_t* id) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v <= 0) return false;
  *id = v;
  return true;
}

// {part}: digits and dots, at most 64 bytes.
bool IsPart(std::string_view s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of("0123456789.") == std::string_view::npos;
}

// Whether a Host value names this machine: an IP address (IPv6 in
// brackets) or "localhost" (any case), with or without a port. Read as a
// listen address (config::ParseListenAddress: strict IPv4 and IPv6
// syntax; "localhost" becomes 127.0.0.1), the port being optional here.
// The host must then be an address, not a name; Poco's parser (inet_aton)
// would also take "0x7f.1" or "127.1", so an IPv4 address must be in its
// one dotted form.
bool IsLocalHostValue(std::string_view host) {
  auto parsed = config::ParseListenAddress(host, config::AnyPort::kAllowed);
  if (!parsed) parsed = config::ParseListenAddress(std::string(host) + ":0", config::AnyPort::kAllowed);
  Poco::Net::IPAddress ip;
  return parsed && Poco::Net::IPAddress::tryParse(parsed->host, ip) &&
         (ip.family() == Poco::Net::IPAddress::IPv6 || ip.toString() == parsed->host);
}

}  // namespace

Result<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%') {
      const int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return MakeError(ErrorCode::kInvalidArgument, "bad percent-encoding in the request (a % needs two hex digits)");
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += plus_is_space && c == '+' ? ' ' : c;
    }
  }
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ParseQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    MK_ASSIGN_OR_RETURN(std::string name, PercentDecode(piece.substr(0, eq), true));
    std::string value;
    if (eq != std::string_view::npos) {
      MK_ASSIGN_OR_RETURN(value, PercentDecode(piece.substr(eq + 1), true));
    }
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

Status ParseTarget(std::string_view target, Request& request) {
  if (target.empty() || target.front() != '/') {
    return MakeError(ErrorCode::kInvalidArgument, "the request target must be a path starting with /");
  }
  const size_t q = target.find('?');
  MK_ASSIGN_OR_RETURN(request.path, PercentDecode(target.substr(0, q), false));
  request.query.clear();
  if (q != std::string_view::npos) {
    MK_ASSIGN_OR_RETURN(request.query, ParseQueryString(target.substr(q + 1)));
  }
  return OkStatus();
}

std::optional<Response> RefuseRequestHead(const Request& request, std::string_view version, bool any_host) {
  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    return ErrorResponse(505, request.path, "only HTTP/1.0 and HTTP/1.1 are served");
  }
  std::vector<std::string_view> hosts, lengths;
  bool transfer_encoding = false;
  int authorizations = 0;
  for (const auto& [name, value] : request.headers) {
    if (name == "host") hosts.push_back(value);
    if (name == "authorization") ++authorizations;
    if (name == "content-length") lengths.push_back(value);
    if (name == "transfer-encoding") transfer_encoding = true;
  }
  if (transfer_encoding) return ErrorResponse(413, request.path, "a GET request carries no body (Transfer-Encoding)");
  if (lengths.size() > 1 || (lengths.size() == 1 && (lengths[0].empty() || lengths[0].size() > 19 ||
                                                     lengths[0].find_first_not_of("0123456789") != std::string::npos))) {
    return ErrorResponse(400, request.path, "bad Content-Length");
  }
  if (lengths.size() == 1 && lengths[0].find_first_not_of('0') != std::string::npos) {
    return ErrorResponse(413, request.path, "a GET request carries no body");
  }
  if (hosts.size() > 1 || (hosts.empty() && version == "HTTP/1.1")) {
    return ErrorResponse(400, request.path, "an HTTP/1.1 request names exactly one Host");
  }
  if (authorizations > 1) return ErrorResponse(400, request.path, "give one Authorization header, not several");
  if (!any_host && !hosts.empty() && !IsLocalHostValue(hosts[0])) {
    return ErrorResponse(421, request.path,
                         "this server answers only requests for an IP address or localhost (Host: " +
                             std::string(hosts[0].substr(0, 100)) + ")");
  }
  return std::nullopt;
}

bool MatchPattern(std::string_view pattern, std::string_view path, int64_t* id, std::string* part) {
  int64_t got_id = 0;
  std::string_view got_part;
  std::string_view want, have;
  while (NextSegment(pattern, want)) {
    if (!NextSegment(path, have)) return false;
    if (want == "{id}") {
      if (!ParseId(have, &got_id)) return false;
    } else if (want == "{part}") {
      if (!IsPart(have)) return false;
      got_part = have;
    } else if (want != have) {
      return false;
    }
  }
  if (!path.empty()) return false;
  *id = got_id;
  *part = std::string(got_part);
  return true;
}

const Route* FindRoute(const std::vector<Route>& routes, Request& request) {
  const std::string method = request.method == "HEAD" ? "GET" : request.method;
  for (const Route& r : routes) {
    if (r.method == method && MatchPattern(r.pattern, request.path, &request.id, &request.part)) return &r;
  }
  return nullptr;
}

Response JsonError(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.content_type = "application/json";
  r.body = DumpJson(nlohmann::json{{"error", std::string(message)}}) + "\n";
  return r;
}

Response ErrorResponse(int status, std::string_view path, std::string_view message) {
  if (path == "/api" || path.starts_with("/api/")) return JsonError(status, message);
  Response r;
  r.status = status;
  const std::string text = EscapeHtml(message);
  r.body = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + std::to_string(status) +
           "</title></head><body><p>" + text + "</p></body></html>\n";
  return r;
}

}  // namespace mailkeep::web
