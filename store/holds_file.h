// The legal holds of an archive, kept outside its catalog: ARCHIVE/holds
// (store/PACK_FORMAT.md, "The holds file") is a snapshot of every current
// hold — the held message's content hash, when, who, the command, query and
// reason — so that `mailkeep rebuild-catalog`, which rebuilds everything
// else from the packs, brings the holds back. Archive::Hold and Release
// write it (temp file, fsync, rename, directory fsync) before their catalog
// commit, so the file never lacks a hold the catalog has committed.
//
// In an encrypted archive the body is sealed (AES-256-GCM under the pack
// key, bound to the file's header), so the file reveals only how long the
// list is.
//
// Thread-safety: pure functions, except Read/Write, which touch only the
// file (the archive's writer lock serializes writers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/crypto/keys.h"
#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::holds {

// ARCHIVE/<kHoldsFileName>
inline constexpr char kHoldsFileName[] = "holds";
// Limits a file read must pass (trust nothing from a file).
inline constexpr uint32_t kMaxBody = 64u << 20;
inline constexpr uint32_t kMaxText = 64u << 10;

struct HeldMessage {
  Sha256Digest hash{};  // the catalog's content hash (crypto::ContentHash)
  int64_t since = 0;    // Unix seconds
  std::string user, host, command, query, reason;
  bool operator==(const HeldMessage&) const = default;
};

// The file's bytes for `held`; sealed when `keys` is not null.
// kInvalidArgument when a text is longer than kMaxText or the whole passes
// kMaxBody.
Result<std::string> Encode(const std::vector<HeldMessage>& held, const crypto::ArchiveKeys* keys);
// Parses and checks a file: kCorruption (one line, what is wrong) for any
// damage, a seal that does not open, or a sealing that does not match
// `keys` (sealed without keys, plain with keys).
Result<std::vector<HeldMessage>> Decode(std::string_view file, const crypto::ArchiveKeys* keys);

// Writes ARCHIVE/holds atomically (the old file or the new one, whatever
// happens) and durably.
Status Write(const std::string& archive_dir, const std::vector<HeldMessage>& held,
             const crypto::ArchiveKeys* keys);
// Reads ARCHIVE/holds; nullopt when there is none (no hold was ever
// recorded). Errors name the file.
Result<std::optional<std::vector<HeldMessage>>> Read(const std::string& archive_dir,
                                                     const crypto::ArchiveKeys* keys);

}  // namespace mailkeep::holds
