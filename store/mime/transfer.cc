// Content-Transfer-Encoding decoders: base64 (RFC 2045 6.8), quoted-printable
// (RFC 2045 6.7, and the RFC 2047 "Q" variant), uuencode.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/decode.h"

namespace mailkeep::mime {
namespace {

// 0..63 for the base64 alphabet, 64 for '=', 65 for whitespace, 66 for junk.
struct Base64Table {
  unsigned char v[256];
  constexpr Base64Table() : v() {
    for (int i = 0; i < 256; ++i) v[i] = 66;
    const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) v[static_cast<unsigned char>(a[i])] = static_cast<unsigned char>(i);
    auto at = [](char c) { return static_cast<unsigned char>(c); };
    v[at('-')] = 62;  // base64url, seen in broken mailers
    v[at('_')] = 63;
    v[at('=')] = 64;
    v[at(' ')] = v[at('\t')] = v[at('\r')] = v[at('\n')] = 65;
  }
};
constexpr Base64Table kB64;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string_view ToLowerTrimmed(std::string_view s, std::string& buf) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '"')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '"' || s.back() == ';'))
    s.remove_suffix(1);
  buf.assign(s);
  for (char& c : buf)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return buf;
}

// Decodes one uuencoded line into `out`; returns false for a line that is not
// uuencoded data.
bool DecodeUuLine(std::string_view line, std::string& out) {
  if (line.empty()) return false;
  const int n = (static_cast<unsigned char>(line[0]) - 0x20) & 0x3F;
  if (n == 0) return true;
  auto val = [&](size_t i) -> unsigned {
    return i < line.size() ? ((static_cast<unsigned char>(line[i]) - 0x20) & 0x3F) : 0u;
  };
  int produced = 0;
  for (size_t i = 1; produced < n; i += 4) {
    if (i >= line.size()) break;
    const unsigned a = val(i), b = val(i + 1), c = val(i + 2), d = val(i + 3);
    const unsigned char bytes[3] = {static_cast<unsigned char>((a << 2) | (b >> 4)),
                                    static_cast<unsigned char>((b << 4) | (c >> 2)),
                                    static_cast<unsigned char>((c << 6) | d)};
    for (int k = 0; k < 3 && produced < n; ++k, ++produced) out.push_back(static_cast<char>(bytes[k]));
  }
  return true;
}

// "begin 644 name" → name; false if the line is not a begin line.
bool ParseUuBegin(std::string_view line, std::string_view& name) {
  if (!line.starts_with("begin ")) return false;
  line.remove_prefix(6);
  size_t digits = 0;
  while (digits < line.size() && line[digits] >= '0' && line[digits] <= '7') ++digits;
  if (digits < 3 || digits > 4 || digits >= line.size() || line[digits] != ' ') return false;
  name = line.substr(digits + 1);
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t' || name.back() == '\r'))
    name.remove_suffix(1);
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  return !name.empty();
}

std::string_view NextLine(std::string_view text, size_t& pos) {
  const size_t nl = text.find('\n', pos);
  const size_t end = nl == std::string_view::npos ? text.size() : nl;
  std::string_view line = text.substr(pos, end - pos);
  pos = nl == std::string_view::npos ? text.size() : nl + 1;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::string DecodeBase64(std::string_view in, bool* bad) {
  std::string out;
  out.reserve(in.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int n = 0;
  for (char ch : in) {
    const unsigned v = kB64.v[static_cast<unsigned char>(ch)];
    if (v < 64) {
      acc = (acc << 6) | v;
      if (++n == 4) {
        out.push_back(static_cast<char>(acc >> 16));
        out.push_back(static_cast<char>(acc >> 8));
        out.push_back(static_cast<char>(acc));
        acc = 0;
        n = 0;
      }
    } else if (v == 64) {
      // Padding ends a quantum; data may continue after it (concatenated
      // encodings), so start afresh.
      if (n == 2) {
        out.push_back(static_cast<char>(acc >> 4));
      } else if (n == 3) {
        out.push_back(static_cast<char>(acc >> 10));
        out.push_back(static_cast<char>(acc >> 2));
      } else if (n == 1 && bad) {
        *bad = true;
      }
      acc = 0;
      n = 0;
    } else if (v == 66 && bad) {
      *bad = true;
    }
  }
  // Missing padding.
  if (n == 2) {
    out.push_back(static_cast<char>(acc >> 4));
  } else if (n == 3) {
    out.push_back(static_cast<char>(acc >> 10));
    out.push_back(static_cast<char>(acc >> 2));
  } else if (n == 1 && bad) {
    *bad = true;
  }
  return out;
}

std::string DecodeQuotedPrintable(std::string_view in, bool header_mode) {
  std::string out;
  out.reserve(in.size());
  const size_t n = in.size();
  size_t i = 0;
  while (i < n) {
    const char c = in[i];
    if (c == '=') {
      if (i + 2 < n && HexValue(in[i + 1]) >= 0 && HexValue(in[i + 2]) >= 0) {
        out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
        i += 3;
        continue;
      }
      if (!header_mode) {
        // Soft line break: "=" [transport padding] CRLF / LF / end.
        size_t j = i + 1;
        while (j < n && (in[j] == ' ' || in[j] == '\t')) ++j;
        if (j == n) {
          i = j;
          continue;
        }
        if (in[j] == '\n') {
          i = j + 1;
          continue;
        }
        if (in[j] == '\r') {
          i = (j + 1 < n && in[j + 1] == '\n') ? j + 2 : j + 1;
          continue;
        }
      }
      out.push_back('=');  // malformed: kept literally
      ++i;
    } else if (c == '_' && header_mode) {
      out.push_back(' ');
      ++i;
    } else if ((c == ' ' || c == '\t') && !header_mode) {
      // Trailing whitespace on a line is transport padding (RFC 2045).
      size_t j = i;
      while (j < n && (in[j] == ' ' || in[j] == '\t')) ++j;
      if (j < n && in[j] != '\r' && in[j] != '\n') {
        out.append(in.substr(i, j - i));
      } else if (j < n && in[j] == '\r' && !(j + 1 < n && in[j + 1] == '\n')) {
        out.append(in.substr(i, j - i));
      }
      i = j;
    } else {
      out.push_back(c);
      ++i;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> FindUuencodedBlocks(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> blocks;
  StripUuencodedBlocks(text, &blocks);
  return blocks;
}

std::string StripUuencodedBlocks(std::string_view text,
                                 std::vector<std::pair<std::string, std::string>>* blocks) {
  std::string rest;
  if (text.find("begin ") == std::string_view::npos) {
    rest.assign(text);
    return rest;
  }
  rest.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t line_start = pos;
    std::string_view line = NextLine(text, pos);
    std::string_view name;
    if (!ParseUuBegin(line, name)) {
      rest.append(text.substr(line_start, pos - line_start));
      continue;
    }
    std::string data;
    size_t body_pos = pos;
    bool ended = false;
    while (body_pos < text.size()) {
      std::string_view l = NextLine(text, body_pos);
      if (l == "end" || l.starts_with("end ")) {
        ended = true;
        break;
      }
      if (!DecodeUuLine(l, data)) {
        if (l.empty()) continue;
      }
    }
    (void)ended;  // an unterminated block still counts
    if (blocks) blocks->emplace_back(std::string(name), std::move(data));
    pos = body_pos;
  }
  return rest;
}

std::string DecodeTransfer(std::string_view body, std::string_view encoding, bool* bad) {
  std::string buf;
  std::string_view enc = ToLowerTrimmed(encoding, buf);
  if (enc == "base64") return DecodeBase64(body, bad);
  if (enc == "quoted-printable") return DecodeQuotedPrintable(body, false);
  if (enc == "x-uuencode" || enc == "uuencode" || enc == "x-uue" || enc == "uue") {
    std::vector<std::pair<std::string, std::string>> blocks;
    StripUuencodedBlocks(body, &blocks);
    if (!blocks.empty()) return std::move(blocks.front().second);
    std::string out;
    size_t pos = 0;
    while (pos < body.size()) DecodeUuLine(NextLine(body, pos), out);
    return out;
  }
  return std::string(body);
}

size_t DecodedSize(std::string_view body, std::string_view encoding) {
  std::string buf;
  std::string_view enc = ToLowerTrimmed(encoding, buf);
  if (enc == "base64") {
    size_t n = 0;
    for (char c : body)
      if (kB64.v[static_cast<unsigned char>(c)] < 64) ++n;
    return n / 4 * 3 + (n % 4 == 2 ? 1 : n % 4 == 3 ? 2 : 0);
  }
  if (enc == "quoted-printable") return DecodeQuotedPrintable(body, false).size();
  return body.size();
}

}  // namespace mailkeep::mime
