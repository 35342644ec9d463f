#include "web/routing.h"

#include <charconv>

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
