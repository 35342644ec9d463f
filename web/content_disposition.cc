// ContentDisposition (see sanitize.h): the name made safe by
// exporting::SafeFileName, the same rule `export --attachments` uses.
#include <cstdio>
#include <string>
#include <string_view>

#include "store/export/parts.h"
#include "web/sanitize.h"

namespace mailkeep::web {
namespace {

bool IsAttrChar(char c) {  // RFC 5987 attr-char
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$&+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string ContentDisposition(std::string_view disposition, std::string_view filename) {
  const std::string safe = exporting::SafeFileName(filename, "part");
  std::string ascii, encoded;
  for (size_t i = 0; i < safe.size(); ++i) {
    const auto c = static_cast<unsigned char>(safe[i]);
    if ((c & 0xC0) != 0x80) ascii += (c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '%') ? safe[i] : '_';
    if (IsAttrChar(safe[i])) {
      encoded += safe[i];
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      encoded += buf;
    }
  }
  std::string lower(disposition);
  for (char& c : lower) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  const std::string_view kind = lower == "inline" ? "inline" : "attachment";
  return std::string(kind) + "; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

}  // namespace mailkeep::web
