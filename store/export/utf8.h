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

// Whether the well-formed UTF-8 character `ch` (Utf8Length bytes) is one a
// file name must not show: a C1 control (U+0080-U+009F), a bidirectional
// control that reorders what follows (U+061C, U+200E/F, U+202A-U+202E,
// U+2066-U+2069: "invoice\u202Efdp.exe" reads "invoiceexe.pdf"), or an
// invisible format or separator character (U+00AD, U+180E, U+200B-U+200D,
// U+2028/9, U+2060-U+206F, U+FEFF, U+FFF9-U+FFFB).
inline bool IsHiddenOrReordering(std::string_view ch) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(ch[k]); };
  if (ch.size() == 2) return (b(0) == 0xC2 && (b(1) <= 0x9F || b(1) == 0xAD)) || (b(0) == 0xD8 && b(1) == 0x9C);
  if (ch.size() != 3) return false;
  if (b(0) == 0xE1) return b(1) == 0xA0 && b(2) == 0x8E;
  if (b(0) == 0xE2 && b(1) == 0x80) return (b(2) >= 0x8B && b(2) <= 0x8F) || (b(2) >= 0xA8 && b(2) <= 0xAE);
  if (b(0) == 0xE2 && b(1) == 0x81) return b(2) >= 0xA0 && b(2) <= 0xAF;
  if (b(0) == 0xEF) return (b(1) == 0xBB && b(2) == 0xBF) || (b(1) == 0xBF && b(2) >= 0xB9 && b(2) <= 0xBB);
  return false;
}

}  // namespace mailkeep::exporting
