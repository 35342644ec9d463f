// Repair data for a dictionary record, kept outside its pack
// (packs/dictionaries/<id>.repair; format in store/PACK_FORMAT.md,
// "Dictionary repair files").
//
// A dictionary record is the one record whose damage costs more than one
// message: every blob compressed with it needs it. Its repair file holds
// the CRC-32 of each block of the record (header included) and XOR parity
// over the blocks, interleaved in kGroups groups, plus the record's
// SHA-256. A damaged record is rebuilt block by block when at most one
// block per group is damaged (any damaged run of up to (kGroups - 1) *
// kBlockSize + 1 bytes, e.g. one byte or one lost 4 KiB sector), and the
// result is used only when its SHA-256 matches. A full second copy would
// do the same for any damage, but costs the dictionaries' size again
// (0.045 x raw on linux-mips); the parity costs kGroups * kBlockSize per
// dictionary.
//
// Pure functions: no I/O, no shared state; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::blobs {

inline constexpr uint32_t kRepairBlockSize = 4096;
inline constexpr uint32_t kRepairGroups = 4;
// A repair file larger than this is not one we wrote (a record is at most
// 64 + 4 GiB: 4 MiB of block CRCs + the parity).
inline constexpr uint64_t kMaxRepairFileSize = (8ull << 20) + kRepairGroups * kRepairBlockSize;

// Which record a repair file protects.
struct RepairTarget {
  uint32_t dict_id = 0;
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint64_t length = 0;  // header + payload
  bool operator==(const RepairTarget&) const = default;
};

struct RepairData {
  RepairTarget target;
  Sha256Digest sha256{};  // of the record's bytes
  uint32_t block_size = 0;
  std::vector<uint32_t> block_crcs;
  std::string parity;  // groups * block_size bytes
};

// The repair file for `record` (its exact bytes, header and payload).
// REQUIRES: record.size() == target.length > 0.
std::string EncodeRepairFile(const RepairTarget& target, std::string_view record);

// Parses a repair file, checking magic, version, sizes and both CRCs.
// kCorruption with a one-line reason when anything is off.
Result<RepairData> DecodeRepairFile(std::string_view file);

// The record rebuilt from `read` (the bytes read from the pack at the
// target; shorter if the pack ends early): blocks whose CRC does not match
// are rebuilt from the parity. kCorruption when a group has more than one
// damaged block or the result's SHA-256 does not match. Returns how many
// blocks were rebuilt through `repaired_blocks` (0: the record was intact).
Result<std::string> RepairRecord(const RepairData& data, std::string_view read, size_t* repaired_blocks = nullptr);

}  // namespace mailkeep::blobs
