#include "store/util/terminal.h"

#include <cstdint>

namespace mailkeep {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the well-formed UTF-8 sequence at in[i] whose lead byte is
// `c` (>= 0x80) and its code point; 0 when it is not well-formed.
size_t Utf8Sequence(std::string_view in, size_t i, unsigned char c, uint32_t* cp) {
  const size_t len = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > in.size()) return 0;
  uint32_t v = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (size_t k = 1; k < len; ++k) {
    auto cc = static_cast<unsigned char>(in[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    v = (v << 6) | (cc & 0x3Fu);
  }
  const bool ok = (len == 2 && v >= 0x80) || (len == 3 && v >= 0x800 && (v < 0xD800 || v > 0xDFFF)) ||
                  (len == 4 && v >= 0x10000 && v <= 0x10FFFF);
  *cp = v;
  return ok ? len : 0;
}

// One ASCII byte at in[i]; returns how many bytes it consumed.
size_t Ascii(std::string_view in, size_t i, TextKind kind, std::string& out) {
  const auto c = static_cast<unsigned char>(in[i]);
  const bool body = kind == TextKind::kMultiline;
  if (c >= 0x20 && c != 0x7f) {
    out += static_cast<char>(c);
  } else if (c == '\t') {
    out += body ? '\t' : ' ';
  } else if (c == '\n' && body) {
    out += '\n';
  } else if (c == '\r' && body && i + 1 < in.size() && in[i + 1] == '\n') {
    // CRLF line end: the LF that follows is kept.
  } else {
    out += kReplacement;
  }
  return 1;
}

}  // namespace

std::string TerminalText(std::string_view in, TextKind kind) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (c < 0x80) {
      i += Ascii(in, i, kind, out);
      continue;
    }
    uint32_t cp = 0;
    const size_t len = Utf8Sequence(in, i, c, &cp);
    if (len == 0 || cp <= 0x9F) {  // not UTF-8, or a C1 control
      out += kReplacement;
      i += len == 0 ? 1 : len;
      continue;
    }
    out.append(in.substr(i, len));
    i += len;
  }
  return out;
}

}  // namespace mailkeep
