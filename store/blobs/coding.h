// Fixed-width little-endian integers and CRC-32 for the blob store's
// on-disk formats (store/PACK_FORMAT.md). Internal to store/blobs.
#pragma once

#include <zlib.h>

#include <cstddef>
#include <cstdint>
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

}  // namespace mailkeep::blobs
