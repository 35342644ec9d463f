// Pack files of zstd frames addressed by content hash — the record of truth.
//
// A pack (`packs/NNNNNN.pack`) is a sequence of self-describing records
// (store/PACK_FORMAT.md): a header with magic, kind, content hash, raw
// length, dictionary id and CRCs, then one independent zstd frame. Blob
// records hold messages; dictionary records hold the zstd dictionaries later
// blobs were compressed with, so packs alone suffice to rebuild the catalog.
// The content hash is crypto::ContentHash: SHA-256, or in an encrypted
// archive (PackStoreOptions::keys) HMAC-SHA256 under its content key, and
// there every payload is sealed (PACK_FORMAT.md, "Sealed records").
//
// Durability contract: Append() writes into the current pack but does not
// sync. Sync() fsyncs every pack written since the last Sync (and the packs
// directory when a pack was created). Only after Sync() returns ok may a
// catalog row point at the appended records. After a crash, bytes past the
// end the catalog recorded for a pack are garbage: Open() cuts each known
// pack back to its recorded end — but moves the cut bytes into
// packs/orphans/ instead of destroying them, in case the caller was wrong —
// and never touches a pack the catalog does not know (NewPackHook lets the
// catalog record a pack before its first byte).
//
// Thread-safety: Compress(), Read(), ReadRecordHash(), ReadDictionary(),
// current_dictionary() and LoadDictionary() are safe to call from many threads
// at once, also while the writer appends (each call uses its own or a
// thread-local zstd context). Append, Sync, AddDictionary and Roll need
// external serialization (one writer). Scan() and TotalBytes() are safe at any
// time but see a record that is being appended as a torn tail.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/crypto/keys.h"
#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::blobs {

// Every record starts with a header of this many bytes; a record occupies
// kRecordHeaderSize + stored_len bytes of its pack (store/PACK_FORMAT.md).
inline constexpr uint64_t kRecordHeaderSize = 64;

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
  // One zstd frame; sealed (nonce || AES-256-GCM of the frame || tag) by a
  // store with keys.
  std::string frame;
  bool sealed = false;
};

struct PackStoreOptions {
  int compression_level = 9;                 // zstd level for blobs
  uint64_t pack_size_limit = 1ull << 30;     // roll to a new pack past this size
  uint64_t max_raw_len = 1ull << 31;         // refuse to compress or decompress past this
  // Loaded dictionaries kept in memory (bytes); past it the least recently
  // used are dropped and re-read from their records when needed again.
  uint64_t dictionary_cache_bytes = 256ull << 20;
  // An encrypted archive's keys (null = plain). With keys every record
  // written is sealed with keys->pack and named by crypto::ContentHash, and
  // a record that is not sealed is refused; without keys a sealed record is
  // refused (store/PACK_FORMAT.md, "Sealed records").
  std::shared_ptr<const crypto::ArchiveKeys> keys;
};

// A record found by Scan().
struct ScannedRecord {
  // kTombstone: sha256 names a removed message; location.raw_len and
  // stored_len are 8, dict_id 0 (store/PACK_FORMAT.md, "Tombstones").
  enum class Kind { kBlob, kDictionary, kTombstone } kind = Kind::kBlob;
  Sha256Digest sha256{};
  BlobLocation location;
  uint64_t end = 0;  // offset just past this record in its pack
};

// What CheckDictionary found: empty strings for the parts that are intact.
struct DictionaryCheck {
  std::string pack_damage;    // the pack record's problem
  std::string repair_damage;  // the repair file's problem (missing included)
  bool readable = false;      // the dictionary could be read from one of them
};

class PackStore {
 public:
  // The end of each pack the catalog recorded: bytes up to it may be
  // referenced; the highest pack is where appends continue.
  using PackEnds = std::map<uint32_t, uint64_t>;

  // Opens `dir` (the archive's packs/ directory, created 0700 if missing)
  // for writing. `known` holds every pack the catalog recorded an end for
  // (empty for an empty archive); its highest pack is the committed one
  // (current_pack()/current_pack_len() after a successful Sync).
  // Recovery before any append (store/PACK_FORMAT.md, "Durability and
  // recovery"): the bytes of a known pack past its known end were never
  // referenced: they are moved into dir/orphans/ (see quarantined_bytes())
  // and the pack is cut there. A pack the catalog does not know is never
  // moved or cut: a non-empty one numbered above the committed pack makes
  // Open fail (kFailedPrecondition, nothing changed; the catalog is not this
  // archive's, or was lost); an empty one there is removed. Nothing below a
  // known end is ever modified.
  // Errors: kCorruption when the committed pack is shorter than its end or
  // missing (the catalog points at data that is not there; nothing is
  // changed), kInvalidArgument for bad options, kIoError from the OS.
  static Result<std::unique_ptr<PackStore>> Open(const std::string& dir, const PackStoreOptions& options,
                                                 const PackEnds& known);
  // Open(dir, options, {{committed_pack, committed_len}}), or with no known
  // pack when committed_pack is 0.
  static Result<std::unique_ptr<PackStore>> Open(const std::string& dir,
                                                 const PackStoreOptions& options,
                                                 uint32_t committed_pack,
                                                 uint64_t committed_len);
  // Bytes in the pack files of `dir` (0 when it does not exist).
  static Result<uint64_t> PackBytesIn(const std::string& dir);
  // Opens for reading only: never writes, truncates or moves anything;
  // Append/Sync/AddDictionary/Roll fail with kFailedPrecondition.
  static Result<std::unique_ptr<PackStore>> OpenReadOnly(const std::string& dir,
                                                         const PackStoreOptions& options);
  ~PackStore();
  PackStore(const PackStore&) = delete;
  PackStore& operator=(const PackStore&) = delete;

  // Makes a dictionary known for compression (if it is the newest) and
  // decompression from its bytes. REQUIRES: id > 0. Loading the same id
  // again with the same bytes is a no-op; with other bytes it is
  // kInvalidArgument.
  Status LoadDictionary(uint32_t id, std::string_view bytes);
  // Makes dictionary `id` known by where its record is (from the catalog or
  // a Scan); its record is read, checked and decompressed only when a blob
  // needs it (Read, or Compress if it is the newest). A damaged record then
  // makes those calls fail with kCorruption naming the dictionary and its
  // record. REQUIRES: id > 0, loc.dict_id == id. Registering the same id at
  // another place is kInvalidArgument.
  Status RegisterDictionary(uint32_t id, const BlobLocation& loc);
  // Trains a dictionary of about `dict_size` bytes from `samples` (zstd
  // fastCover with fixed parameters). Pure; thread-safe.
  // kFailedPrecondition when zstd cannot train (e.g. too few samples).
  static Result<std::string> TrainDictionary(const std::vector<std::string_view>& samples,
                                             size_t dict_size);
  // Appends a dictionary record with the next id (highest known + 1, so
  // register the catalog's dictionaries first), loads it and makes it the
  // one new blobs use. The record holds the bytes zstd-compressed when that
  // is smaller. Returns its id and location (stored_len is the payload's,
  // raw_len the dictionary's). Not durable until Sync().
  Result<std::pair<uint32_t, BlobLocation>> AddDictionary(std::string_view bytes);
  // Id of the dictionary Compress() uses now (0 = none).
  uint32_t current_dictionary() const;

  // Compresses one raw message with the current dictionary, and with keys
  // seals the frame for its record. `sha` must be
  // crypto::ContentHash(options.keys, raw) (not recomputed; it is bound into
  // the seal). kInvalidArgument if raw is longer than options.max_raw_len.
  // Thread-safe.
  Result<CompressedBlob> Compress(std::string_view raw, const Sha256Digest& sha) const;
  // Appends a record; not durable until Sync(). Rolls to a new pack first
  // when the record would take the current pack past pack_size_limit.
  // After a write or fsync error the store refuses further writes (the
  // error is sticky): reopen it at the committed end.
  Result<BlobLocation> Append(const CompressedBlob& blob);
  // Appends a tombstone for the message `sha` (removed at `removed_at`,
  // Unix seconds): every blob record of `sha` before it is dead, so that
  // rebuilding the catalog from packs does not bring the message back. Not
  // durable until Sync(); errors as Append.
  Result<BlobLocation> AppendTombstone(const Sha256Digest& sha, int64_t removed_at);
  // Makes every appended byte durable: fsyncs each pack written since the
  // last Sync and the directory if a pack was created. Never forgets an
  // fsync error (sticky, as above).
  Status Sync();
  // Starts a new (empty) pack now; later appends go there.
  Status Roll();
  // Called before a new pack is created (by Roll, or by Append when a pack
  // is full or none exists yet), with the pack being left and its length
  // (0, 0 for the first pack) and the new pack's number. The archive
  // records the new pack in the catalog here, so that a pack always is
  // known to the catalog before it holds a byte (see Open). An error stops
  // the roll; nothing is created. Writer thread only.
  using NewPackHook = std::function<Status(uint32_t closing_pack, uint64_t closing_len, uint32_t new_pack)>;
  void SetNewPackHook(NewPackHook hook);
  // End of the current pack after the last append: what the caller commits.
  uint32_t current_pack() const;
  uint64_t current_pack_len() const;

  // Reads and decompresses one blob, checking header CRC, payload CRC, the
  // seal (with keys), raw length and (when verify_hash) the content hash
  // against the record's.
  // REQUIRES: loc as returned by Append()/Scan() (all fields; they are
  // checked against the header). Any failed check is kCorruption naming the
  // pack and offset; a dictionary that was never loaded is
  // kFailedPrecondition. Thread-safe.
  Result<std::string> Read(const BlobLocation& loc, bool verify_hash = true) const;
  // Reads the header at loc and returns its hash field (cheap integrity
  // check; the seal is not opened).
  Result<Sha256Digest> ReadRecordHash(const BlobLocation& loc) const;

  // Walks every record of every pack in order (not packs/orphans/). Checks
  // header and payload CRCs (does not decompress). A damaged region is
  // reported once through `on_error` (pack, offset, one-line reason) and
  // skipped: past a record whose header is valid but payload CRC is not, or
  // by searching for the next offset holding a fully valid record
  // (store/PACK_FORMAT.md, "Resync"). A torn tail ends the pack. Returns the
  // first error of on_record (which stops the walk) or an I/O error.
  // For rebuilding the catalog and for verify.
  Status Scan(const std::function<Status(const ScannedRecord&)>& on_record,
              const std::function<void(uint32_t pack, uint64_t offset, const std::string&)>& on_error) const;

  // Reads a dictionary's bytes (opened, decompressed, hash checked): from its
  // pack record, or, when that is damaged, from the record rebuilt through
  // its repair file (dictionary_repair.h). kCorruption naming both when
  // neither works.
  Result<std::string> ReadDictionary(const BlobLocation& loc) const;
  // Checks a dictionary's pack record and its repair file each on its own
  // (for verify): what is damaged, and whether the dictionary can be read.
  DictionaryCheck CheckDictionary(const BlobLocation& loc) const;
  // packs/dictionaries/<id>.repair
  std::string RepairFilePath(uint32_t id) const;
  // Writes the repair file of every registered dictionary whose file is
  // missing, unreadable or names another record, from its pack record once
  // that verifies (CRCs, SHA-256); a damaged pack record is left for verify
  // to report. Upgrades archives made before repair files, and replaces a
  // damaged repair file. Returns how many were written. Writer only.
  Result<int> WriteMissingRepairFiles();

  // ---- Repack (store/repack.h; store/PACK_FORMAT.md, "Repacking") ----
  // Appends a byte-exact copy of the record at `from` (a blob, or a
  // dictionary when `dictionary`) at the writer's end, after checking it
  // whole: a blob must decompress to its SHA-256, a dictionary must verify
  // (a damaged dictionary record is copied as rebuilt through its repair
  // file). For a dictionary the copy's repair file is staged, durable, as
  // dictionaries/<id>.next-repair; readers use it for the copy's location
  // until SettleRepairFiles. Not durable until Sync(). Writer only.
  Result<BlobLocation> CopyRecord(const BlobLocation& from, bool dictionary);
  // After the catalog committed it: dictionary `id` is now at `loc`, or,
  // with nullopt, gone (no blob needs it). Writer only.
  Status RelocateDictionary(uint32_t id, const std::optional<BlobLocation>& loc);
  // Brings packs/dictionaries/ in line with the catalog's dictionaries
  // (`committed`: id -> location): a staged <id>.next-repair that protects
  // the committed location replaces <id>.repair; any other staged file, and
  // the <id>.repair of a dictionary not in `committed`, and any temporary
  // file an interrupted write left, is removed; the
  // directory is fsynced when anything changed. Returns how many files
  // changed. Writer only.
  Result<int> SettleRepairFiles(const std::map<uint32_t, BlobLocation>& committed);
  // Removes pack `n` (never the current one): drops its read descriptor,
  // unlinks it and fsyncs packs/. A missing pack is fine. REQUIRES: no
  // other thread reads from it. Writer only.
  Status RemovePack(uint32_t n);
  // Size of every pack file, by number.
  Result<std::map<uint32_t, uint64_t>> PackSizes() const;
  // Files and bytes in packs/orphans/, and removing them (fsyncing the
  // directory). Writer only.
  struct OrphanUsage {
    int64_t files = 0;
    uint64_t bytes = 0;
  };
  Result<OrphanUsage> Orphans() const;
  Status RemoveOrphans();

  // Total bytes of all pack files and dictionary repair files (what the
  // store keeps; not counting packs/orphans/).
  Result<uint64_t> TotalBytes() const;

  // Bytes Open() moved into packs/orphans/ (an uncommitted tail after a
  // crash, or packs the catalog never referenced). Worth a log line.
  uint64_t quarantined_bytes() const;

 private:
  struct Impl;
  explicit PackStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailkeep::blobs
