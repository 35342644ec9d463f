#include "store/util/mutf7.h"

#include <cstdint>
#include <vector>

namespace mailkeep {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

// Next code point of UTF-8 at s[*i]; U+FFFD (consuming one byte) for a bad
// sequence, an overlong form, a surrogate or a value over U+10FFFF.
char32_t NextCodePoint(std::string_view s, size_t* i) {
  const unsigned char b0 = static_cast<unsigned char>(s[*i]);
  if (b0 < 0x80) {
    ++*i;
    return b0;
  }
  int len = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4;
    cp = b0 & 0x07;
  } else {
    ++*i;
    return 0xFFFD;
  }
  if (*i + static_cast<size_t>(len) > s.size()) {
    ++*i;
    return 0xFFFD;
  }
  for (int k = 1; k < len; ++k) {
    const unsigned char b = static_cast<unsigned char>(s[*i + static_cast<size_t>(k)]);
    if ((b & 0xC0) != 0x80) {
      ++*i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  static const char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return 0xFFFD;
  }
  *i += static_cast<size_t>(len);
  return cp;
}

void AppendUtf8(std::string* out, char32_t cp) {
  if (cp < 0x80) {
    *out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    *out += static_cast<char>(0xC0 | (cp >> 6));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += static_cast<char>(0xE0 | (cp >> 12));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    *out += static_cast<char>(0xF0 | (cp >> 18));
    *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    *out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void FlushRun(std::string* out, std::vector<char16_t>* units) {
  if (units->empty()) return;
  *out += '&';
  uint32_t bits = 0;
  int nbits = 0;
  for (char16_t u : *units) {
    bits = (bits << 16) | u;
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      *out += kAlphabet[(bits >> nbits) & 0x3F];
    }
    bits &= (1u << nbits) - 1;
  }
  if (nbits > 0) *out += kAlphabet[(bits << (6 - nbits)) & 0x3F];
  *out += '-';
  units->clear();
}

}  // namespace

std::string EncodeModifiedUtf7(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  std::vector<char16_t> units;
  size_t i = 0;
  while (i < utf8.size()) {
    const char32_t cp = NextCodePoint(utf8, &i);
    if (cp >= 0x20 && cp <= 0x7E) {
      FlushRun(&out, &units);
      if (cp == '&') {
        out += "&-";
      } else {
        out += static_cast<char>(cp);
      }
    } else if (cp >= 0x10000) {
      const char32_t v = cp - 0x10000;
      units.push_back(static_cast<char16_t>(0xD800 + (v >> 10)));
      units.push_back(static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
    } else {
      units.push_back(static_cast<char16_t>(cp));
    }
  }
  FlushRun(&out, &units);
  return out;
}

std::optional<std::string> TryDecodeModifiedUtf7(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) return std::nullopt;
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    ++i;
    if (i < in.size() && in[i] == '-') {
      out += '&';
      ++i;
      continue;
    }
    uint32_t bits = 0;
    int nbits = 0;
    char16_t high = 0;  // a pending high surrogate
    bool any = false;
    for (;;) {
      if (i >= in.size()) return std::nullopt;  // no closing '-'
      const char b = in[i++];
      if (b == '-') break;
      const int v = Base64Value(b);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<uint32_t>(v);
      nbits += 6;
      if (nbits >= 16) {
        nbits -= 16;
        const char16_t unit = static_cast<char16_t>((bits >> nbits) & 0xFFFF);
        bits &= (1u << nbits) - 1;
        any = true;
        if (high != 0) {
          if (unit < 0xDC00 || unit > 0xDFFF) return std::nullopt;
          AppendUtf8(&out, 0x10000 + ((static_cast<char32_t>(high) - 0xD800) << 10) + (unit - 0xDC00));
          high = 0;
        } else if (unit >= 0xD800 && unit <= 0xDBFF) {
          high = unit;
        } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
          return std::nullopt;
        } else if (unit >= 0x20 && unit <= 0x7E) {
          return std::nullopt;  // printable ASCII must be written as itself
        } else {
          AppendUtf8(&out, unit);
        }
      }
    }
    // Leftover bits are padding: fewer than 6 of them, all zero.
    if (!any || high != 0 || nbits >= 6 || bits != 0) return std::nullopt;
  }
  return out;
}

std::string DecodeModifiedUtf7(std::string_view mutf7) {
  auto decoded = TryDecodeModifiedUtf7(mutf7);
  if (!decoded) return std::string(mutf7);
  return std::move(*decoded);
}

}  // namespace mailkeep
