// Pack files of zstd frames addressed by SHA-256 — the record of truth.
//
// A pack (`packs/NNNNNN.pack`) is a sequence of self-describing records
// (store/PACK_FORMAT.md): a header with magic, kind, SHA-256, raw length,
// dictionary id and CRCs, then one independent zstd frame. Blob records hold
// messages; dictionary records hold the zstd dictionaries later blobs were
// compressed with, so packs alone suffice to rebuild the catalog.
//
// Durability contract: Append() writes into the current pack but does not
// sync. Sync() fsyncs every pack written since the last Sync (and the packs
// directory when a pack was created). Only after Sync() returns ok may a
// catalog row point at the appended records. After a crash, bytes past the
// last committed end are garbage: OpenForWriting() truncates the pack to the
// end the caller says was committed.
//
// Thread-safety: Compress() and Read() are safe to call from many threads at
// once (each call uses its own or a thread-local zstd context). Append, Sync,
// AddDictionary and Roll need external serialization (one writer).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::blobs {

// Where a record lives. `offset` is the record's first header byte.
struct BlobLocation {
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint32_t stored_len = 0;  // length of the zstd frame (payload only)
  uint64_t raw_len = 0;
  uint32_t dict_id = 0;     // 0 = no dictionary
  bool operator==(const BlobLocation&) const = default;
};

// A compressed blob ready to append; produced off the writer thread.
struct CompressedBlob {
  Sha256Digest sha256{};
  uint64_t raw_len = 0;
  uint32_t dict_id = 0;
  std::string frame;  // one zstd frame
};

struct PackStoreOptions {
  int compression_level = 9;                 // zstd level for blobs
  uint64_t pack_size_limit = 1ull << 30;     // roll to a new pack past this size
  uint64_t max_raw_len = 1ull << 31;         // refuse to decompress past this
};

// A record found by Scan().
struct ScannedRecord {
  enum class Kind { kBlob, kDictionary } kind = Kind::kBlob;
  Sha256Digest sha256{};
  BlobLocation location;
};

class PackStore {
 public:
  // Opens `dir` (the archive's packs/ directory, created 0700 if missing).
  // `committed_end` is (pack number, byte length) the catalog last
  // committed; a longer current pack is truncated to it, and appends
  // continue there. {0,0} for an empty archive.
  static Result<std::unique_ptr<PackStore>> Open(const std::string& dir,
                                                 const PackStoreOptions& options,
                                                 uint32_t committed_pack,
                                                 uint64_t committed_len);
  // Opens for reading only: Append/Sync/AddDictionary fail.
  static Result<std::unique_ptr<PackStore>> OpenReadOnly(const std::string& dir,
                                                         const PackStoreOptions& options);
  ~PackStore();
  PackStore(const PackStore&) = delete;
  PackStore& operator=(const PackStore&) = delete;

  // Makes a dictionary known for compression (if it is the newest) and
  // decompression. Used when opening an archive with dictionaries from the
  // catalog. REQUIRES: id > 0.
  Status LoadDictionary(uint32_t id, std::string_view bytes);
  // Trains a dictionary of about `dict_size` bytes from `samples`. Pure.
  static Result<std::string> TrainDictionary(const std::vector<std::string_view>& samples,
                                             size_t dict_size);
  // Appends a dictionary record with the next id, loads it and makes it the
  // one new blobs use. Returns its id and location.
  Result<std::pair<uint32_t, BlobLocation>> AddDictionary(std::string_view bytes);
  // Id of the dictionary Compress() uses now (0 = none).
  uint32_t current_dictionary() const;

  // Compresses one raw message with the current dictionary. Thread-safe.
  Result<CompressedBlob> Compress(std::string_view raw, const Sha256Digest& sha) const;
  // Appends a record; not durable until Sync().
  Result<BlobLocation> Append(const CompressedBlob& blob);
  // Makes every appended byte durable.
  Status Sync();
  // End of the current pack after the last append: what the caller commits.
  uint32_t current_pack() const;
  uint64_t current_pack_len() const;

  // Reads and decompresses one blob, checking header CRC, raw length and
  // (when verify_hash) the SHA-256 against the record's. Thread-safe.
  Result<std::string> Read(const BlobLocation& loc, bool verify_hash = true) const;
  // Reads the header at loc and returns its SHA-256 (cheap integrity check).
  Result<Sha256Digest> ReadRecordHash(const BlobLocation& loc) const;

  // Walks every record of every pack in order. Stops at the first torn or
  // corrupt record of a pack (reported through `on_error`, then the next
  // pack). For rebuilding the catalog and for verify.
  Status Scan(const std::function<Status(const ScannedRecord&)>& on_record,
              const std::function<void(uint32_t pack, uint64_t offset, const std::string&)>& on_error) const;

  // Reads a dictionary record's bytes (for rebuild).
  Result<std::string> ReadDictionary(const BlobLocation& loc) const;

  // Total bytes of all pack files.
  Result<uint64_t> TotalBytes() const;

 private:
  struct Impl;
  explicit PackStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailkeep::blobs
