// Fixed-width little-endian integers and CRC-32 for the blob store's
// on-disk formats (store/PACK_FORMAT.md). Internal to store/blobs.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailkeep::blobs {

inline void PutU32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutU64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// zlib's CRC-32 (ISO-HDLC; "123456789" -> 0xCBF43926), any length.
inline uint32_t Crc32(const void* data, size_t len) {
  return static_cast<uint32_t>(crc32_z(0L, static_cast<const Bytef*>(data), static_cast<z_size_t>(len)));
}
inline uint32_t Crc32(std::string_view data) { return Crc32(data.data(), data.size()); }

// The frame every on-disk header here shares (store/PACK_FORMAT.md: pack
// records and repair files): bytes 0-3 a magic, 4 the version, 5 a kind,
// 6-7 flags (zero unless the format defines one), and at `crc_offset` the
// CRC-32 of all bytes before it.
struct HeaderFrame {
  std::array<uint8_t, 4> magic;
  uint8_t version;
  size_t crc_offset;
};

// Writes the magic, version, `kind` and zero flags into b[0..8).
inline void StartHeader(uint8_t* b, const HeaderFrame& f, uint8_t kind) {
  std::copy(f.magic.begin(), f.magic.end(), b);
  b[4] = f.version;
  b[5] = kind;
  b[6] = b[7] = 0;
}
// Writes the CRC of b[0..crc_offset) at crc_offset; call it last.
inline void SealHeader(uint8_t* b, const HeaderFrame& f) { PutU32(b + f.crc_offset, Crc32(b, f.crc_offset)); }
// The flags field (bytes 6-7, little-endian).
inline uint16_t GetFlags(const uint8_t* b) { return static_cast<uint16_t>(b[6] | b[7] << 8); }
inline void PutFlags(uint8_t* b, uint16_t flags) {
  b[6] = static_cast<uint8_t>(flags);
  b[7] = static_cast<uint8_t>(flags >> 8);
}
// Checks magic, CRC, version and flags (none but `known_flags` set) of the
// crc_offset + 4 bytes at `b`: "" when they are good, else what is wrong
// (one line).
inline std::string CheckHeader(const uint8_t* b, const HeaderFrame& f, uint16_t known_flags = 0) {
  if (!std::equal(f.magic.begin(), f.magic.end(), b)) return "bad magic";
  if (GetU32(b + f.crc_offset) != Crc32(b, f.crc_offset)) return "header CRC mismatch";
  if (b[4] != f.version) return "unsupported version " + std::to_string(b[4]);
  if ((GetFlags(b) & ~known_flags) != 0) return "unknown flags";
  return {};
}

}  // namespace mailkeep::blobs
