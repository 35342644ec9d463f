// Dictionary repair files: see dictionary_repair.h and store/PACK_FORMAT.md.
#include "store/blobs/dictionary_repair.h"

#include <algorithm>
#include <array>

#include "store/blobs/coding.h"

namespace mailkeep::blobs {
namespace {

// Magic "\x89MKR", version 1, header CRC at byte 76.
constexpr HeaderFrame kRepairFrame{{0x89, 'M', 'K', 'R'}, 1, 76};
constexpr uint8_t kSchemeXorParity = 1;
constexpr size_t kRepairHeaderSize = 80;
constexpr size_t kBodyCrcOffset = 72;
// A record is a 64-byte header and at most 4 GiB - 1 of payload.
constexpr uint64_t kMaxRecordLength = 64 + 0xffffffffull;

uint64_t BlockCount(uint64_t length, uint32_t block_size) { return (length + block_size - 1) / block_size; }
uint64_t GroupCount(uint64_t blocks) { return std::min<uint64_t>(kRepairGroups, blocks); }

std::string_view Block(std::string_view record, uint64_t i, uint32_t block_size) {
  return record.substr(static_cast<size_t>(i * block_size), block_size);
}

// XOR of `block` (zero-padded) into `into`.
void XorInto(char* into, std::string_view block) {
  for (size_t k = 0; k < block.size(); ++k) into[k] ^= block[k];
}

Error Corrupt(const std::string& why) { return Error(ErrorCode::kCorruption, "repair file: " + why); }

}  // namespace

std::string EncodeRepairFile(const RepairTarget& t, std::string_view record) {
  const uint32_t bs = kRepairBlockSize;
  const uint64_t n = BlockCount(record.size(), bs), g = GroupCount(n);
  std::string out(kRepairHeaderSize + 4 * n + g * bs, '\0');
  auto* b = reinterpret_cast<uint8_t*>(out.data());
  StartHeader(b, kRepairFrame, kSchemeXorParity);
  PutU32(b + 8, t.dict_id);
  PutU32(b + 12, t.pack);
  PutU64(b + 16, t.offset);
  PutU64(b + 24, record.size());
  PutU32(b + 32, bs);
  PutU32(b + 36, kRepairGroups);
  const Sha256Digest sha = Sha256(record);
  std::copy(sha.begin(), sha.end(), b + 40);
  char* parity = out.data() + kRepairHeaderSize + 4 * n;
  for (uint64_t i = 0; i < n; ++i) {
    std::string_view blk = Block(record, i, bs);
    PutU32(b + kRepairHeaderSize + 4 * i, Crc32(blk));
    XorInto(parity + (i % g) * bs, blk);
  }
  PutU32(b + kBodyCrcOffset, Crc32(std::string_view(out).substr(kRepairHeaderSize)));
  SealHeader(b, kRepairFrame);
  return out;
}

Result<RepairData> DecodeRepairFile(std::string_view file) {
  if (file.size() < kRepairHeaderSize) return std::unexpected(Corrupt("shorter than its header"));
  const auto* b = reinterpret_cast<const uint8_t*>(file.data());
  if (std::string why = CheckHeader(b, kRepairFrame); !why.empty()) return std::unexpected(Corrupt(why));
  if (b[5] != kSchemeXorParity) return std::unexpected(Corrupt("unknown scheme " + std::to_string(b[5])));
  RepairData d;
  d.target = {GetU32(b + 8), GetU32(b + 12), GetU64(b + 16), GetU64(b + 24)};
  d.block_size = GetU32(b + 32);
  const uint32_t groups = GetU32(b + 36);
  std::copy(b + 40, b + 72, d.sha256.begin());
  if (d.target.length == 0 || d.target.length > kMaxRecordLength || d.block_size != kRepairBlockSize ||
      groups != kRepairGroups) {
    return std::unexpected(Corrupt("impossible sizes"));
  }
  const uint64_t n = BlockCount(d.target.length, d.block_size), g = GroupCount(n);
  if (file.size() != kRepairHeaderSize + 4 * n + g * d.block_size) {
    return std::unexpected(Corrupt(std::to_string(file.size()) + " bytes, not the size its header gives"));
  }
  if (GetU32(b + kBodyCrcOffset) != Crc32(file.substr(kRepairHeaderSize))) {
    return std::unexpected(Corrupt("body CRC mismatch"));
  }
  d.block_crcs.resize(n);
  for (uint64_t i = 0; i < n; ++i) d.block_crcs[i] = GetU32(b + kRepairHeaderSize + 4 * i);
  d.parity.assign(file.substr(kRepairHeaderSize + 4 * n));
  return d;
}

Result<std::string> RepairRecord(const RepairData& d, std::string_view read, size_t* repaired_blocks) {
  const uint32_t bs = d.block_size;
  const uint64_t n = d.block_crcs.size(), g = GroupCount(n);
  std::string rec(read.substr(0, d.target.length));
  rec.resize(d.target.length, '\0');  // a pack that ends early: the missing blocks are damaged
  std::vector<uint64_t> bad;
  std::vector<int> bad_in_group(g, 0);
  for (uint64_t i = 0; i < n; ++i) {
    if (Crc32(Block(rec, i, bs)) == d.block_crcs[i]) continue;
    bad.push_back(i);
    if (++bad_in_group[i % g] > 1) {
      return std::unexpected(Corrupt("two damaged blocks in one parity group; the record cannot be repaired"));
    }
  }
  for (uint64_t i : bad) {
    std::string block = d.parity.substr((i % g) * bs, bs);
    for (uint64_t j = i % g; j < n; j += g) {
      if (j != i) XorInto(block.data(), Block(rec, j, bs));
    }
    rec.replace(static_cast<size_t>(i * bs), Block(rec, i, bs).size(), block, 0, Block(rec, i, bs).size());
  }
  if (Sha256(rec) != d.sha256) {
    return std::unexpected(Corrupt(bad.empty() ? "protects other bytes (SHA-256 mismatch)"
                                               : "repair does not give the recorded SHA-256"));
  }
  if (repaired_blocks != nullptr) *repaired_blocks = bad.size();
  return rec;
}

}  // namespace mailkeep::blobs
