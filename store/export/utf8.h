// UTF-8 checks shared by the export name sanitizers (internal to store/export).
#pragma once

#include <cstddef>
#include <string_view>

namespace mailkeep::exporting {

// Length (2-4) of the well-formed UTF-8 sequence of a non-ASCII character
// at s[i] (no overlong forms, surrogates or code points past U+10FFFF), or
// 0. REQUIRES: i < s.size().
inline size_t Utf8Length(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90)) {
    return 0;
  }
  return n;
}

}  // namespace mailkeep::exporting
