#include "web/page_html.h"

#include <cstdio>
#include <ctime>

#include "store/mime/decode.h"
#include "web/pages.h"
#include "web/sanitize.h"

namespace mailkeep::web::page {

std::string Text(std::string_view text) { return EscapeHtml(mime::SanitizeUtf8(text)); }

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string SearchUrl(std::string_view query, std::string_view sort, size_t offset) {
  std::string url = "/?q=" + UrlEncode(query);
  if (sort != "newest") url += "&sort=" + UrlEncode(sort);
  if (offset % kResultsPerPage == 0 && offset > 0) url += "&page=" + std::to_string(offset / kResultsPerPage + 1);
  if (offset % kResultsPerPage != 0) url += "&offset=" + std::to_string(offset);
  return url;
}

std::string Date(std::optional<int64_t> unix_seconds, bool long_form) {
  if (!unix_seconds) return "";
  const time_t t = static_cast<time_t>(*unix_seconds);
  struct tm tm {};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  char buf[64];
  std::strftime(buf, sizeof buf, long_form ? "%Y-%m-%d %H:%M:%S UTC" : "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string Addresses(const std::vector<mime::Address>& list) {
  std::string out;
  for (const auto& a : list) {
    if (!out.empty()) out += ", ";
    out += a.name.empty() ? a.address : a.name + (a.address.empty() ? "" : " <" + a.address + ">");
  }
  return out;
}

std::string SenderName(const MessageInfo& info) {
  if (info.from.empty()) return "";
  return info.from.front().name.empty() ? info.from.front().address : info.from.front().name;
}

std::string Size(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
  char buf[32];
  const double kb = static_cast<double>(bytes) / 1024;
  if (kb < 1024) {
    std::snprintf(buf, sizeof buf, "%.1f KB", kb);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", kb / 1024);
  }
  return buf;
}

Response Html(int status, std::string_view title, std::string_view main, std::string_view query, bool focus) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
  r.body = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
           "<title>" + Text(title) + " \xE2\x80\x94 mailkeep</title>"
           "<link rel=\"stylesheet\" href=\"/static/style.css\"><script src=\"/static/app.js\" defer></script>"
           "</head><body><header class=\"top\"><a class=\"home\" href=\"/\">mailkeep</a>"
           "<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">"
           "<input type=\"search\" id=\"q\" name=\"q\" value=\"" + Text(query) + "\" aria-label=\"Search query\" "
           "placeholder=\"from:alice subject:invoice date:2024\"" + (focus ? " autofocus" : "") + ">"
           "<button type=\"submit\">Search</button></form></header>\n<main>";
  r.body += main;
  r.body += "</main></body></html>\n";
  return r;
}

Response Message(int status, std::string_view title, std::string_view line) {
  return Html(status, title, "<h1>" + Text(title) + "</h1><p class=\"error\">" + Text(line) + "</p>");
}

Response NotFound(std::string_view line) { return Message(404, "Not found", line); }

Response Failure(std::string_view what, const Error& error) {
  switch (error.code()) {
    case ErrorCode::kNotFound: return NotFound(error.message());
    case ErrorCode::kInvalidArgument: return Message(400, "Bad request", error.message());
    default: return Message(500, "Error", std::string(what) + ": " + error.message());
  }
}

Response PlainLine(int status, std::string_view line) {
  Response r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = mime::SanitizeUtf8(line) + "\n";
  return r;
}

std::expected<MessageInfo, Response> FindMessage(ArchiveSession& session, int64_t id) {
  auto info = session.archive.GetInfo(id);
  if (!info) return std::unexpected(Failure("reading the catalog", info.error()));
  if (!*info) return std::unexpected(NotFound("There is no message " + std::to_string(id) + " in this archive."));
  return std::move(**info);
}

}  // namespace mailkeep::web::page
