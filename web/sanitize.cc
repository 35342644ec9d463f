// First version: SanitizeHtml shows the HTML source as text (everything
// escaped), which runs nothing; the allow-list sanitizer replaces it.
#include "web/sanitize.h"

#include <cstdio>

#include "store/export/parts.h"

namespace mailkeep::web {

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string SanitizeHtml(std::string_view html, const CidResolver&) {
  return "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body><pre>" + EscapeHtml(html) +
         "</pre></body></html>";
}

std::string ContentDisposition(std::string_view disposition, std::string_view filename) {
  const std::string safe = exporting::SafeFileName(filename, "part");
  std::string ascii, encoded;
  for (unsigned char c : safe) {
    ascii += (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') ? static_cast<char>(c) : '_';
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
        c == '_') {
      encoded += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += buf;
    }
  }
  return std::string(disposition) + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace mailkeep::web
