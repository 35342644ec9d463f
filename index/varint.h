// Internal to index/: LEB128 numbers and length-prefixed strings, as the
// document data (facets, index/document.h) and the positions records
// (index/positions.h) store them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mailkeep::index {

inline void AppendVarint(std::string& out, size_t n) {
  while (n >= 0x80) {
    out.push_back(static_cast<char>(0x80 | (n & 0x7F)));
    n >>= 7;
  }
  out.push_back(static_cast<char>(n));
}

// Reads a number of at most 5 bytes (35 bits) from the front of `in`;
// false when `in` ends first or the number is longer.
inline bool ConsumeVarint(std::string_view& in, size_t& n) {
  n = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    if (in.empty()) return false;
    const auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    n |= static_cast<size_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Reads a LEB128 length and that many bytes; false when `in` holds fewer.
inline bool ConsumeString(std::string_view& in, std::string_view& s) {
  size_t n = 0;
  if (!ConsumeVarint(in, n) || n > in.size()) return false;
  s = in.substr(0, n);
  in.remove_prefix(n);
  return true;
}

}  // namespace mailkeep::index
