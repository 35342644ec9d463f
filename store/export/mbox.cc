#include "store/export/mbox.h"

#include <ctime>

namespace mailkeep::exporting {

std::string MboxFromLine(std::string_view sender, std::optional<int64_t> date) {
  std::string clean;
  for (char c : sender) {
    if (static_cast<unsigned char>(c) > ' ' && c != 0x7f) clean += c;
  }
  if (clean.empty()) clean = "MAILER-DAEMON";
  time_t t = static_cast<time_t>(date.value_or(0));
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return "From " + clean + " " + buf;
}

void AppendMboxrd(std::string& out, std::string_view raw, std::string_view from_line) {
  out += from_line;
  out += '\n';
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    size_t end = eol == std::string_view::npos ? raw.size() : eol + 1;
    std::string_view line = raw.substr(pos, end - pos);
    size_t gt = 0;
    while (gt < line.size() && line[gt] == '>') ++gt;
    if (line.substr(gt, 5) == "From ") out += '>';
    out.append(line);
    pos = end;
  }
  if (raw.empty() || raw.back() != '\n') out += '\n';
  out += '\n';
}

}  // namespace mailkeep::exporting
