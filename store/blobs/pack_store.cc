// Pack store: see pack_store.h for the contract and store/PACK_FORMAT.md for
// the bytes on disk. zstd and zlib stay inside store/blobs.
#include "store/blobs/pack_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
// fastCover training and by-reference DDicts are in zstd's "static
// linking only" section; Debian's shared libzstd 1.5 exports them.
#define ZDICT_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY
#include <zdict.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <utility>

#include "store/blobs/coding.h"
#include "store/blobs/dictionary_repair.h"
#include "store/util/files.h"

namespace mailkeep::blobs {
namespace {

// ---- Record format (store/PACK_FORMAT.md) ---------------------------------

constexpr uint8_t kKindBlob = 1;
constexpr uint8_t kKindDictionary = 2;
// A dictionary whose payload is one zstd frame (no dictionary) of the
// dictionary bytes: per-batch dictionaries are large enough that storing
// them compressed matters (store/PACK_FORMAT.md).
constexpr uint8_t kKindCompressedDictionary = 3;
// A removal: `mailkeep delete` / `prune` removed the message whose SHA-256
// the header holds; every earlier blob record of it is dead until repack
// drops both (store/PACK_FORMAT.md, "Tombstones").
constexpr uint8_t kKindTombstone = 4;
constexpr uint32_t kTombstonePayload = 8;  // removal time, Unix seconds (int64 LE)
// Header flag: the payload is sealed (an encrypted archive; store/PACK_FORMAT.md,
// "Sealed records").
constexpr uint16_t kFlagSealed = 0x0001;
// A sealed payload's associated data is header bytes 0..55 (all but the
// CRCs), so it opens only under the header it was written with.
constexpr size_t kBoundHeaderBytes = 56;
// zstd level for compressed dictionary records: written once per
// dictionary, read once per process that needs it.
constexpr int kDictionaryRecordLevel = 9;
// fastCover training parameters (ZDICT_trainFromBuffer_fastCover), fixed
// rather than searched: the search (ZDICT_trainFromBuffer) costs several
// times more and, measured on linux-mips per-batch dictionaries, was no better.
constexpr unsigned kTrainK = 2048, kTrainD = 8, kTrainF = 20, kTrainAccel = 10;
// Level whose statistics the trainer's entropy tables are built from.
constexpr int kTrainStatsLevel = 3;

bool IsDictionaryKind(uint8_t kind) { return kind == kKindDictionary || kind == kKindCompressedDictionary; }
constexpr size_t kHeaderSize = kRecordHeaderSize;
// Magic "\x89MKP", version 1, header CRC at byte 60.
constexpr HeaderFrame kRecordFrame{{0x89, 'M', 'K', 'P'}, 1, 60};
constexpr uint32_t kMaxPackNumber = 999999;
constexpr const char* kOrphansDir = "orphans";
constexpr const char* kStagedRepairSuffix = ".next-repair";
constexpr const char* kRepairDir = "dictionaries";

struct RecordHeader {
  uint8_t kind = kKindBlob;
  uint16_t flags = 0;
  uint32_t dict_id = 0;
  uint32_t stored_len = 0;
  uint64_t raw_len = 0;
  Sha256Digest sha256{};
  uint32_t payload_crc = 0;
  bool sealed() const { return (flags & kFlagSealed) != 0; }
  // What sealing adds to the payload's length.
  uint32_t seal_overhead() const { return sealed() ? crypto::kSealOverhead : 0; }
};

std::array<uint8_t, kHeaderSize> EncodeHeader(const RecordHeader& h) {
  std::array<uint8_t, kHeaderSize> b{};
  StartHeader(b.data(), kRecordFrame, h.kind);
  PutFlags(b.data(), h.flags);
  PutU32(&b[8], h.dict_id);
  PutU32(&b[12], h.stored_len);
  PutU64(&b[16], h.raw_len);
  std::copy(h.sha256.begin(), h.sha256.end(), b.begin() + 24);
  PutU32(&b[56], h.payload_crc);
  SealHeader(b.data(), kRecordFrame);
  return b;
}

// Decodes and validates a header. Returns an empty string when it is good,
// else the reason (one line).
std::string DecodeHeader(const uint8_t* b, RecordHeader& h) {
  if (std::string why = CheckHeader(b, kRecordFrame, kFlagSealed); !why.empty()) return why;
  h.kind = b[5];
  h.flags = GetFlags(b);
  h.dict_id = GetU32(b + 8);
  h.stored_len = GetU32(b + 12);
  h.raw_len = GetU64(b + 16);
  std::copy(b + 24, b + 56, h.sha256.begin());
  h.payload_crc = GetU32(b + 56);
  if (h.kind != kKindBlob && !IsDictionaryKind(h.kind) && h.kind != kKindTombstone) {
    return "unknown record kind " + std::to_string(h.kind);
  }
  if (h.stored_len <= h.seal_overhead()) return h.sealed() ? "sealed payload shorter than its seal" : "empty payload";
  if (h.kind == kKindTombstone && (h.dict_id != 0 || h.stored_len != kTombstonePayload + h.seal_overhead() ||
                                   h.raw_len != kTombstonePayload)) {
    return "malformed tombstone record header";
  }
  if (h.kind == kKindDictionary && (h.dict_id == 0 || h.raw_len + h.seal_overhead() != h.stored_len)) {
    return "malformed dictionary record header";
  }
  if (h.kind == kKindCompressedDictionary && (h.dict_id == 0 || h.raw_len == 0 || h.raw_len > 0xffffffffu)) {
    return "malformed dictionary record header";
  }
  return {};
}

// Seals `plain` as the payload of record `h` into out[0, plain.size() +
// kSealOverhead), binding it to the header: sets h's sealed flag and
// stored_len first. `plain` may lie at out + kNonceSize (sealed in place).
Status SealPayload(const crypto::Key& key, RecordHeader& h, std::string_view plain, uint8_t* out) {
  if (plain.size() > std::numeric_limits<uint32_t>::max() - crypto::kSealOverhead) {
    return MakeError(ErrorCode::kInvalidArgument, "record payload exceeds 4 GiB");
  }
  h.flags |= kFlagSealed;
  h.stored_len = static_cast<uint32_t>(plain.size() + crypto::kSealOverhead);
  const auto hb = EncodeHeader(h);
  return crypto::SealInto(key, plain, {reinterpret_cast<const char*>(hb.data()), kBoundHeaderBytes}, out);
}

// The header of a blob record, but its stored_len and payload CRC.
RecordHeader BlobHeader(const CompressedBlob& blob) {
  RecordHeader h;
  h.kind = kKindBlob;
  h.flags = blob.sealed ? kFlagSealed : 0;
  h.dict_id = blob.dict_id;
  h.raw_len = blob.raw_len;
  h.sha256 = blob.sha256;
  return h;
}

// ---- File names -------------------------------------------------------------

std::string PackFileName(uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06u.pack", n);
  return buf;
}

// "NNNNNN.pack" with exactly six digits, 1..999999.
bool ParsePackFileName(std::string_view name, uint32_t& n) {
  if (name.size() != 11 || name.substr(6) != ".pack") return false;
  uint32_t v = 0;
  for (char c : name.substr(0, 6)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  if (v == 0) return false;
  n = v;
  return true;
}

std::string Where(uint32_t pack, uint64_t offset) {
  return "pack " + PackFileName(pack) + " offset " + std::to_string(offset);
}

// ---- POSIX helpers ------------------------------------------------------------

// Move-only owner of a file descriptor. The destructor closes quietly; code
// on a durability path calls Close() and looks at the Status.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  Status Close(const std::string& what) {
    if (fd_ < 0) return OkStatus();
    int rc = ::close(std::exchange(fd_, -1));
    if (rc != 0 && errno != EINTR) {
      return MakeError(ErrorCode::kIoError, what + ": close failed: " + ErrnoText(errno));
    }
    return OkStatus();
  }

 private:
  void Reset() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int fd_ = -1;
};

// Reads up to n bytes at off; stops early only at end of file.
Result<size_t> PReadUpTo(int fd, void* buf, size_t n, uint64_t off, const std::string& what) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, static_cast<char*>(buf) + got, n - got, static_cast<off_t>(off + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIoError, what + ": read failed: " + ErrnoText(errno));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Status PWriteAll(int fd, std::string_view data, uint64_t off, const std::string& what) {
  while (!data.empty()) {
    ssize_t r = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(off));
    if (r < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIoError, what + ": write failed: " + ErrnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(r));
    off += static_cast<uint64_t>(r);
  }
  return OkStatus();
}

Status FsyncFd(int fd, const std::string& what) {
  if (::fsync(fd) != 0) {
    return MakeError(ErrorCode::kIoError, what + ": fsync failed: " + ErrnoText(errno));
  }
  return OkStatus();
}

Result<uint64_t> FileSize(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return MakeError(ErrorCode::kIoError, what + ": stat failed: " + ErrnoText(errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

Result<uint64_t> PathSize(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kIoError, path + ": stat failed: " + ErrnoText(errno));
  }
  return static_cast<uint64_t>(st.st_size);
}

struct PackFile {
  uint32_t number;
  std::string path;
};

// The packs in `dir`, ascending by number. Other entries are ignored.
Result<std::vector<PackFile>> ListPacks(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    int e = errno;
    return MakeError(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     dir + ": cannot list: " + ErrnoText(e));
  }
  std::vector<PackFile> packs;
  errno = 0;
  while (struct dirent* ent = ::readdir(d)) {
    uint32_t n = 0;
    if (ParsePackFileName(ent->d_name, n)) packs.push_back({n, dir + "/" + ent->d_name});
    errno = 0;
  }
  int e = errno;
  ::closedir(d);
  if (e != 0) return MakeError(ErrorCode::kIoError, dir + ": cannot list: " + ErrnoText(e));
  std::sort(packs.begin(), packs.end(),
            [](const PackFile& a, const PackFile& b) { return a.number < b.number; });
  return packs;
}

std::string ParentDir(const std::string& dir) {
  auto slash = dir.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return dir.substr(0, slash);
}

// ---- zstd contexts --------------------------------------------------------------

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

// One context per thread, reused across calls and stores. A context never
// keeps a dictionary reference between calls (see Compress/Decompress).
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> cctx(ZSTD_createCCtx());
  return cctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> dctx(ZSTD_createDCtx());
  return dctx.get();
}

// A loaded dictionary: bytes, a DDict over them, and (built on first use by
// Compress) a CDict at the store's level. Immutable once published, so many
// threads share it read-only through shared_ptr.
class Dictionary {
 public:
  static Result<std::shared_ptr<Dictionary>> Make(uint32_t id, std::string_view bytes, int level) {
    auto d = std::shared_ptr<Dictionary>(new Dictionary(id, bytes, level));
    // By reference: the Dictionary owns the bytes and outlives its DDict.
    d->ddict_ = ZSTD_createDDict_byReference(d->bytes_.data(), d->bytes_.size());
    if (d->ddict_ == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "dictionary " + std::to_string(id) + ": zstd rejected it");
    }
    return d;
  }
  ~Dictionary() {
    ZSTD_freeDDict(ddict_);
    ZSTD_freeCDict(cdict_);
  }
  Dictionary(const Dictionary&) = delete;
  Dictionary& operator=(const Dictionary&) = delete;

  uint32_t id() const { return id_; }
  const std::string& bytes() const { return bytes_; }
  const ZSTD_DDict* ddict() const { return ddict_; }
  // Null only if zstd runs out of memory.
  const ZSTD_CDict* cdict() const {
    std::call_once(cdict_once_, [this] {
      cdict_ = ZSTD_createCDict(bytes_.data(), bytes_.size(), level_);
    });
    return cdict_;
  }

 private:
  Dictionary(uint32_t id, std::string_view bytes, int level)
      : id_(id), bytes_(bytes), level_(level) {}
  uint32_t id_;
  std::string bytes_;
  int level_;
  ZSTD_DDict* ddict_ = nullptr;
  mutable std::once_flag cdict_once_;
  mutable ZSTD_CDict* cdict_ = nullptr;
};

// Sequential reader over one pack for Scan(): a window of the file kept in
// memory so that small records cost no syscall each.
class WindowReader {
 public:
  WindowReader(int fd, uint64_t file_size, std::string what)
      : fd_(fd), file_size_(file_size), what_(std::move(what)) {}

  // The bytes [off, off+len). REQUIRES: off + len <= file_size. The view is
  // valid until the next call.
  Result<std::string_view> Get(uint64_t off, size_t len) {
    if (off >= buf_off_ && off + len <= buf_off_ + buf_.size()) {
      return std::string_view(buf_).substr(static_cast<size_t>(off - buf_off_), len);
    }
    size_t want = static_cast<size_t>(
        std::min<uint64_t>(std::max<uint64_t>(len, kWindow), file_size_ - off));
    buf_.resize(want);
    MK_ASSIGN_OR_RETURN(size_t got, PReadUpTo(fd_, buf_.data(), want, off, what_));
    buf_.resize(got);
    buf_off_ = off;
    if (got < len) {
      return MakeError(ErrorCode::kIoError, what_ + ": file shrank while scanning");
    }
    return std::string_view(buf_).substr(0, len);
  }

 private:
  static constexpr uint64_t kWindow = 1 << 20;
  int fd_;
  uint64_t file_size_;
  std::string what_;
  std::string buf_;
  uint64_t buf_off_ = 0;
};

// Is there a complete, CRC-valid record at `off`?
Result<bool> ValidRecordAt(WindowReader& r, uint64_t off, uint64_t size) {
  if (size - off < kHeaderSize) return false;
  MK_ASSIGN_OR_RETURN(std::string_view hb, r.Get(off, kHeaderSize));
  RecordHeader h;
  if (!DecodeHeader(reinterpret_cast<const uint8_t*>(hb.data()), h).empty()) return false;
  if (h.stored_len > size - off - kHeaderSize) return false;
  MK_ASSIGN_OR_RETURN(std::string_view payload, r.Get(off + kHeaderSize, h.stored_len));
  return Crc32(payload) == h.payload_crc;
}

// The first offset in [from, size) holding a fully valid record, or size.
Result<uint64_t> FindNextRecord(WindowReader& r, uint64_t from, uint64_t size) {
  constexpr uint64_t kChunk = 1 << 20;
  const std::string_view magic(reinterpret_cast<const char*>(kRecordFrame.magic.data()), kRecordFrame.magic.size());
  uint64_t pos = from;
  while (pos + kHeaderSize <= size) {
    size_t len = static_cast<size_t>(std::min<uint64_t>(kChunk, size - pos));
    MK_ASSIGN_OR_RETURN(std::string_view chunk, r.Get(pos, len));
    size_t hit = chunk.find(magic);
    if (hit == std::string_view::npos) {
      if (len < kChunk) break;  // reached the end of the pack
      pos += len - (magic.size() - 1);
      continue;
    }
    uint64_t cand = pos + hit;
    MK_ASSIGN_OR_RETURN(bool ok, ValidRecordAt(r, cand, size));
    if (ok) return cand;
    pos = cand + 1;
  }
  return size;
}

}  // namespace

// ---- Impl -----------------------------------------------------------------------

struct PackStore::Impl {
  std::string dir;
  PackStoreOptions options;
  bool read_only = false;

  // Dictionaries by id, usable from any thread: where each record is
  // (registered from the catalog, or written by AddDictionary) and, once
  // something needed it, the loaded dictionary. Loading is lazy so that
  // opening an archive with thousands of per-batch dictionaries reads none;
  // loaded ones past options.dictionary_cache_bytes are dropped least
  // recently used first (never the current one; readers hold shared_ptrs).
  struct DictSlot {
    std::optional<BlobLocation> loc;
    std::shared_ptr<const Dictionary> loaded;
    uint64_t last_use = 0;
  };
  mutable std::mutex dict_mu;
  mutable std::map<uint32_t, DictSlot> dicts;
  uint32_t current_id = 0;
  mutable uint64_t loaded_bytes = 0;
  mutable uint64_t use_tick = 0;

  // Read descriptors, opened lazily, closed only by the destructor (so a
  // descriptor fetched under the mutex stays valid for pread without it).
  mutable std::mutex read_mu;
  mutable std::map<uint32_t, UniqueFd> read_fds;

  // Writer state (one writer, externally serialized).
  uint32_t cur_pack = 0;
  uint64_t cur_len = 0;
  UniqueFd cur_fd;
  bool cur_dirty = false;           // cur_fd has bytes not yet fsync'd
  std::vector<std::pair<uint32_t, UniqueFd>> unsynced;  // rolled-away packs to fsync
  bool dir_dirty = false;           // a pack was created since the last Sync
  std::optional<Error> broken;      // sticky write/fsync error
  uint64_t quarantined = 0;
  NewPackHook new_pack_hook;

  std::string PackPath(uint32_t n) const { return dir + "/" + PackFileName(n); }

  // ---- Sealed records (store/PACK_FORMAT.md, "Sealed records") ----

  const crypto::ArchiveKeys* keys() const { return options.keys.get(); }
  // The name of a message or dictionary in a record header.
  Sha256Digest ContentHash(std::string_view data) const { return crypto::ContentHash(keys(), data); }

  // Why a record cannot be read by this store: sealed without keys, or
  // not sealed with them (an encrypted archive holds only sealed records).
  std::string SealingProblem(const RecordHeader& h) const {
    if (h.sealed() && !keys()) return "sealed: the archive's passphrase is needed";
    if (!h.sealed() && keys()) return "not sealed, in an encrypted archive";
    return {};
  }

  // The payload of a record `rec` read by ReadRecord (header h): opened in
  // place (its tag checked) when sealed. Refuses what SealingProblem names.
  Result<std::string_view> OpenPayload(const BlobLocation& loc, const RecordHeader& h, std::string& rec) const {
    if (std::string why = SealingProblem(h); !why.empty()) {
      return MakeError(h.sealed() ? ErrorCode::kFailedPrecondition : ErrorCode::kCorruption,
                       Where(loc.pack, loc.offset) + ": " + why);
    }
    char* payload = rec.data() + kHeaderSize;
    if (!h.sealed()) return std::string_view(payload, h.stored_len);
    char* plain = payload + crypto::kNonceSize;
    auto opened = crypto::OpenInto(keys()->pack, {payload, h.stored_len}, {rec.data(), kBoundHeaderBytes},
                                   reinterpret_cast<uint8_t*>(plain));
    if (!opened) return std::unexpected(opened.error().WithContext(Where(loc.pack, loc.offset)));
    return std::string_view(plain, h.stored_len - crypto::kSealOverhead);
  }

  // The payload to store for record h (a dictionary or tombstone): sealed
  // with keys (setting h's flag and stored_len), else as is; sets
  // h.payload_crc over the stored bytes.
  Result<std::string> StoredPayload(RecordHeader& h, std::string_view payload) const {
    std::string out;
    if (keys()) {
      out.resize(payload.size() + crypto::kSealOverhead);
      MK_RETURN_IF_ERROR(SealPayload(keys()->pack, h, payload, reinterpret_cast<uint8_t*>(out.data())));
    } else {
      out = payload;
      h.stored_len = static_cast<uint32_t>(out.size());
    }
    h.payload_crc = Crc32(out);
    return out;
  }

  bool KnowsDict(uint32_t id) const {
    std::lock_guard lock(dict_mu);
    return dicts.count(id) > 0;
  }

  // The loaded dictionary `id`, reading its record on first use. nullptr
  // when the id is unknown; kCorruption naming the record when it is damaged.
  Result<std::shared_ptr<const Dictionary>> FindDict(uint32_t id) const {
    BlobLocation loc;
    {
      std::lock_guard lock(dict_mu);
      auto it = dicts.find(id);
      if (it == dicts.end()) return std::shared_ptr<const Dictionary>();
      it->second.last_use = ++use_tick;
      if (it->second.loaded) return it->second.loaded;
      if (!it->second.loc) return std::shared_ptr<const Dictionary>();
      loc = *it->second.loc;
    }
    // Read outside the lock: two threads may both load it; the first wins.
    auto bytes = DictionaryBytes(loc);
    if (!bytes) {
      return MakeError(ErrorCode::kCorruption, "dictionary " + std::to_string(id) + " is unreadable: " +
                                                   bytes.error().message());
    }
    MK_ASSIGN_OR_RETURN(auto d, Dictionary::Make(id, *bytes, options.compression_level));
    std::lock_guard lock(dict_mu);
    DictSlot& slot = dicts[id];
    if (!slot.loaded) {
      slot.loaded = std::move(d);
      loaded_bytes += slot.loaded->bytes().size();
      EvictLocked();
    }
    slot.last_use = ++use_tick;
    return slot.loaded;
  }

  // Drops loaded dictionaries (not the current one, not ones without a
  // record to reload from) until the cache fits. REQUIRES: dict_mu held.
  void EvictLocked() const {
    while (loaded_bytes > options.dictionary_cache_bytes) {
      DictSlot* victim = nullptr;
      for (auto& [id, slot] : dicts) {
        if (id == current_id || !slot.loaded || !slot.loc) continue;
        if (!victim || slot.last_use < victim->last_use) victim = &slot;
      }
      if (!victim) return;
      loaded_bytes -= victim->loaded->bytes().size();
      victim->loaded.reset();
    }
  }

  // The dictionary bytes of a dictionary record read by ReadRecord:
  // decompressed (kind 3) or as stored (kind 2), checked against the
  // header's SHA-256.
  Result<std::string> DictionaryPayload(const BlobLocation& loc, const RecordHeader& h, std::string rec) const {
    const std::string where = Where(loc.pack, loc.offset);
    MK_ASSIGN_OR_RETURN(std::string_view payload, OpenPayload(loc, h, rec));
    std::string out;
    if (h.kind == kKindCompressedDictionary) {
      unsigned long long content = ZSTD_getFrameContentSize(payload.data(), payload.size());
      if (content != h.raw_len || ZSTD_findFrameCompressedSize(payload.data(), payload.size()) != payload.size()) {
        return MakeError(ErrorCode::kCorruption, where + ": dictionary payload is not one zstd frame of its raw length");
      }
      ZSTD_DCtx* dctx = ThreadDCtx();
      if (dctx == nullptr) return MakeError(ErrorCode::kInternal, "zstd: cannot create a decompression context");
      size_t rc = 0;
      out.resize_and_overwrite(static_cast<size_t>(h.raw_len), [&](char* p, size_t cap) {
        rc = ZSTD_decompressDCtx(dctx, p, cap, payload.data(), payload.size());
        return ZSTD_isError(rc) ? 0 : rc;
      });
      if (ZSTD_isError(rc) || rc != h.raw_len) {
        return MakeError(ErrorCode::kCorruption, where + ": dictionary does not decompress");
      }
    } else {
      out = payload;
    }
    if (ContentHash(out) != h.sha256) {
      return MakeError(ErrorCode::kCorruption, where + ": the dictionary's hash does not match the record");
    }
    return out;
  }

  Status CheckWritable() const {
    if (read_only) return MakeError(ErrorCode::kFailedPrecondition, dir + ": pack store is read-only");
    if (broken) {
      return std::unexpected(broken->WithContext(dir + ": pack store refuses writes after an earlier error"));
    }
    return OkStatus();
  }

  // Records a write/fsync error as sticky and returns it.
  std::unexpected<Error> Poison(Error e) {
    if (!broken) broken = e;
    return std::unexpected(std::move(e));
  }

  Result<int> ReadFd(uint32_t pack, uint64_t offset) const {
    std::lock_guard lock(read_mu);
    auto it = read_fds.find(pack);
    if (it != read_fds.end()) return it->second.get();
    if (pack == 0 || pack > kMaxPackNumber) {
      return MakeError(ErrorCode::kInvalidArgument, Where(pack, offset) + ": no such pack number");
    }
    int fd = ::open(PackPath(pack).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      return MakeError(e == ENOENT ? ErrorCode::kCorruption : ErrorCode::kIoError,
                       Where(pack, offset) + ": cannot open pack: " + ErrnoText(e));
    }
    read_fds.emplace(pack, UniqueFd(fd));
    return fd;
  }

  // The bytes of the record at loc (header + loc.stored_len payload bytes);
  // shorter when the pack ends inside it.
  Result<std::string> ReadRecordBytes(const BlobLocation& loc) const {
    const std::string where = Where(loc.pack, loc.offset);
    if (loc.stored_len == 0) {
      return MakeError(ErrorCode::kInvalidArgument, where + ": location has no stored length");
    }
    // Bound the allocation by what a valid record can need.
    if (loc.stored_len > ZSTD_compressBound(options.max_raw_len) + crypto::kSealOverhead) {
      return MakeError(ErrorCode::kCorruption,
                       where + ": stored length " + std::to_string(loc.stored_len) + " is impossible");
    }
    MK_ASSIGN_OR_RETURN(int fd, ReadFd(loc.pack, loc.offset));
    std::string buf;
    buf.resize(kHeaderSize + loc.stored_len);
    MK_ASSIGN_OR_RETURN(size_t got, PReadUpTo(fd, buf.data(), buf.size(), loc.offset, where));
    buf.resize(got);
    return buf;
  }

  // Reads the whole record at loc and checks it (CheckRecord).
  Result<std::string> ReadRecord(const BlobLocation& loc, uint8_t kind, RecordHeader& h) const {
    MK_ASSIGN_OR_RETURN(std::string buf, ReadRecordBytes(loc));
    MK_RETURN_IF_ERROR(CheckRecord(loc, kind, buf, h));
    return buf;
  }

  // Checks a record's header, that it matches loc, its kind and the payload CRC.
  static Status CheckRecord(const BlobLocation& loc, uint8_t kind, std::string_view buf, RecordHeader& h) {
    const std::string where = Where(loc.pack, loc.offset);
    if (buf.size() < kHeaderSize) {
      return MakeError(ErrorCode::kCorruption, where + ": record header is past the end of the pack");
    }
    std::string why = DecodeHeader(reinterpret_cast<const uint8_t*>(buf.data()), h);
    if (!why.empty()) return MakeError(ErrorCode::kCorruption, where + ": " + why);
    if (h.kind != kind && !(IsDictionaryKind(h.kind) && IsDictionaryKind(kind))) {
      const char* is = h.kind == kKindTombstone ? "a tombstone" : h.kind == kKindBlob ? "a blob" : "a dictionary";
      return MakeError(ErrorCode::kCorruption, where + ": is " + is + " record, not " +
                                                   (kind == kKindBlob ? "a blob" : "a dictionary"));
    }
    if (h.stored_len != loc.stored_len || h.raw_len != loc.raw_len || h.dict_id != loc.dict_id) {
      return MakeError(ErrorCode::kCorruption,
                       where + ": record header (stored " + std::to_string(h.stored_len) + ", raw " +
                           std::to_string(h.raw_len) + ", dict " + std::to_string(h.dict_id) +
                           ") does not match the location (stored " + std::to_string(loc.stored_len) +
                           ", raw " + std::to_string(loc.raw_len) + ", dict " +
                           std::to_string(loc.dict_id) + ")");
    }
    if (buf.size() < kHeaderSize + loc.stored_len) {
      return MakeError(ErrorCode::kCorruption, where + ": record is torn (pack ends inside it)");
    }
    if (Crc32(buf.data() + kHeaderSize, h.stored_len) != h.payload_crc) {
      return MakeError(ErrorCode::kCorruption, where + ": payload CRC mismatch");
    }
    return OkStatus();
  }

  // ---- Dictionary repair files (dictionary_repair.h) ----

  std::string RepairPath(uint32_t id) const {
    return dir + "/" + kRepairDir + "/" + std::to_string(id) + ".repair";
  }
  // A repack's repair file for the copy of a dictionary record, until the
  // catalog's switch to the copy is settled (SettleRepairFiles).
  std::string StagedRepairPath(uint32_t id) const {
    return dir + "/" + kRepairDir + "/" + std::to_string(id) + kStagedRepairSuffix;
  }

  Result<RepairData> LoadRepair(uint32_t id) const { return LoadRepairFile(RepairPath(id)); }

  // The repair file protecting the record at loc: <id>.repair, or the
  // staged copy's file while a repack moves the record.
  Result<RepairData> LoadRepairFor(const BlobLocation& loc) const {
    auto data = LoadRepair(loc.dict_id);
    if (data && data->target == TargetOf(loc)) return data;
    if (auto staged = LoadRepairFile(StagedRepairPath(loc.dict_id)); staged && staged->target == TargetOf(loc)) {
      return staged;
    }
    if (!data) return data;
    return MakeError(ErrorCode::kCorruption, RepairPath(loc.dict_id) + ": protects another record");
  }

  Result<RepairData> LoadRepairFile(const std::string& path) const {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      return MakeError(ErrorCode::kNotFound, path + ": " + ErrnoText(errno));
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxRepairFileSize) {
      return MakeError(ErrorCode::kCorruption, path + ": too large for a repair file");
    }
    MK_ASSIGN_OR_RETURN(std::string file, ReadFile(path));
    auto data = DecodeRepairFile(file);
    if (!data) return std::unexpected(data.error().WithContext(path));
    return data;
  }

  static RepairTarget TargetOf(const BlobLocation& loc) {
    return {loc.dict_id, loc.pack, loc.offset, kHeaderSize + loc.stored_len};
  }

  // The dictionary record at loc rebuilt through its repair file (which
  // must protect exactly that record), checked as ReadRecord checks.
  Result<std::string> RepairedRecord(const BlobLocation& loc, RecordHeader& h) const {
    MK_ASSIGN_OR_RETURN(RepairData data, LoadRepairFor(loc));
    auto read = ReadRecordBytes(loc);
    auto rec = RepairRecord(data, read ? std::string_view(*read) : std::string_view());
    if (!rec) return std::unexpected(rec.error().WithContext(RepairPath(loc.dict_id)));
    MK_RETURN_IF_ERROR(CheckRecord(loc, kKindDictionary, *rec, h));
    return rec;
  }

  // A dictionary's bytes: from its pack record, or when that is damaged
  // from the record rebuilt through its repair file. The error names both.
  Result<std::string> DictionaryBytes(const BlobLocation& loc) const {
    RecordHeader h;
    auto rec = ReadRecord(loc, kKindDictionary, h);
    auto bytes = rec ? DictionaryPayload(loc, h, std::move(*rec)) : std::unexpected(rec.error());
    if (bytes) return bytes;
    auto repaired = RepairedRecord(loc, h);
    if (repaired) return DictionaryPayload(loc, h, std::move(*repaired));
    return MakeError(ErrorCode::kCorruption, bytes.error().message() + "; and " + repaired.error().message());
  }

  // Writes the repair file of a dictionary record (temp file, fsync,
  // rename, directory fsync; 0600 in a 0700 directory).
  Status WriteRepair(const BlobLocation& loc, std::string_view record) {
    const std::string rdir = dir + "/" + kRepairDir;
    if (::access(rdir.c_str(), F_OK) != 0) {
      MK_RETURN_IF_ERROR(MakeDirs(rdir, 0700));
      MK_RETURN_IF_ERROR(SyncDir(dir));
    }
    return WriteFileAtomic(RepairPath(loc.dict_id), EncodeRepairFile(TargetOf(loc), record));
  }

  // Does dictionary `id` at loc have a repair file that decodes and names
  // that record? (Whether it matches the record's bytes is verify's check.)
  bool HasRepair(const BlobLocation& loc) const { return LoadRepairFor(loc).has_value(); }

  // ---- Scan (store/PACK_FORMAT.md, "Scanning a pack") ----

  // What Scan finds at one offset: a record, or damage and where to go on.
  struct ScanStep {
    std::optional<ScannedRecord> record;
    std::string damage;  // empty when the record is valid
    uint64_t next = 0;
    bool stop = false;  // nothing more in this pack
  };

  static ScannedRecord Scanned(const RecordHeader& h, uint32_t pack, uint64_t off) {
    ScannedRecord rec;
    rec.kind = h.kind == kKindBlob        ? ScannedRecord::Kind::kBlob
               : h.kind == kKindTombstone ? ScannedRecord::Kind::kTombstone
                                          : ScannedRecord::Kind::kDictionary;
    rec.sha256 = h.sha256;
    rec.location = BlobLocation{pack, off, h.stored_len, h.raw_len, h.dict_id};
    rec.end = off + kHeaderSize + h.stored_len;
    return rec;
  }

  Result<ScanStep> ScanAt(WindowReader& r, uint32_t pack, uint64_t off, uint64_t size) const {
    if (size - off < kHeaderSize) {
      return ScanStep{{}, "torn record: only " + std::to_string(size - off) + " bytes left for a " +
                              std::to_string(kHeaderSize) + "-byte header", size, true};
    }
    MK_ASSIGN_OR_RETURN(std::string_view hb, r.Get(off, kHeaderSize));
    RecordHeader h;
    std::string why = DecodeHeader(reinterpret_cast<const uint8_t*>(hb.data()), h);
    if (why.empty()) {
      const uint64_t left = size - off - kHeaderSize;
      if (h.stored_len > left) {
        return ScanStep{{}, "torn record: payload of " + std::to_string(h.stored_len) + " bytes but only " +
                                std::to_string(left) + " left in the pack", size, true};
      }
      MK_ASSIGN_OR_RETURN(std::string_view payload, r.Get(off + kHeaderSize, h.stored_len));
      ScannedRecord rec = Scanned(h, pack, off);
      if (Crc32(payload) != h.payload_crc) {
        return ScanStep{{}, "payload CRC mismatch; skipped the record (header is intact)", rec.end, false};
      }
      if (std::string problem = RecordProblem(h, payload); !problem.empty()) {
        return ScanStep{{}, problem + "; skipped the record", rec.end, false};
      }
      return ScanStep{rec, "", rec.end, false};
    }
    MK_ASSIGN_OR_RETURN(uint64_t next, FindNextRecord(r, off + 1, size));
    if (next >= size) {
      return ScanStep{{}, why + "; no valid record follows (" + std::to_string(size - off) +
                              " bytes to the end of the pack)", size, true};
    }
    return ScanStep{{}, why + "; skipped " + std::to_string(next - off) +
                            " bytes to the next valid record at offset " + std::to_string(next), next, false};
  }

  // What Scan refuses in a record whose CRCs are good: a sealing this store
  // cannot read, and a tombstone whose seal does not open (its hash field
  // decides what a rebuild removes; blobs and dictionaries are opened by
  // whoever reads them).
  std::string RecordProblem(const RecordHeader& h, std::string_view payload) const {
    if (std::string why = SealingProblem(h); !why.empty()) return why;
    if (h.kind != kKindTombstone || !h.sealed()) return {};
    const auto header = EncodeHeader(h);  // bytes 0..55 as read (they decoded to h)
    std::array<uint8_t, kTombstonePayload> when{};
    auto opened = crypto::OpenInto(keys()->pack, payload, {reinterpret_cast<const char*>(header.data()), kBoundHeaderBytes},
                                   when.data());
    return opened ? std::string() : "tombstone: " + opened.error().message();
  }

  // Where each repair file's record is: (pack, offset) -> dictionary id.
  using RepairIndex = std::map<std::pair<uint32_t, uint64_t>, uint32_t>;

  RepairIndex ReadRepairIndex() const {
    RepairIndex index;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir + "/" + kRepairDir, ec)) {
      const std::string name = e.path().filename().string();
      uint32_t id = 0;
      auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), id);
      if (err != std::errc() || id == 0 || std::string_view(end) != ".repair") continue;
      if (auto data = LoadRepair(id); data && data->target.dict_id == id) {
        index[{data->target.pack, data->target.offset}] = id;
      }
    }
    return index;
  }

  // The dictionary record at (pack, off) rebuilt through its repair file,
  // if one protects a record there.
  std::optional<ScannedRecord> RepairedAt(uint32_t pack, uint64_t off, std::optional<RepairIndex>& repairs) const {
    if (!repairs) repairs = ReadRepairIndex();
    auto it = repairs->find({pack, off});
    if (it == repairs->end()) return std::nullopt;
    auto data = LoadRepair(it->second);
    if (!data || data->target.length <= kHeaderSize) return std::nullopt;
    BlobLocation loc{pack, off, static_cast<uint32_t>(data->target.length - kHeaderSize), 0, it->second};
    auto read = ReadRecordBytes(loc);
    auto rec = RepairRecord(*data, read ? std::string_view(*read) : std::string_view());
    RecordHeader h;
    if (!rec || !DecodeHeader(reinterpret_cast<const uint8_t*>(rec->data()), h).empty() ||
        !IsDictionaryKind(h.kind) || h.dict_id != it->second || !SealingProblem(h).empty()) {
      return std::nullopt;
    }
    return Scanned(h, pack, off);
  }

  Status ScanPack(const PackFile& p, const std::function<Status(const ScannedRecord&)>& on_record,
                  const std::function<void(uint32_t, uint64_t, const std::string&)>& on_error,
                  std::optional<RepairIndex>& repairs) const {
    int raw_fd = ::open(p.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (raw_fd < 0) return MakeError(ErrorCode::kIoError, p.path + ": cannot open: " + ErrnoText(errno));
    UniqueFd fd(raw_fd);
    MK_ASSIGN_OR_RETURN(uint64_t size, FileSize(fd.get(), p.path));
    WindowReader r(fd.get(), size, p.path);
    for (uint64_t off = 0; off < size;) {
      MK_ASSIGN_OR_RETURN(ScanStep step, ScanAt(r, p.number, off, size));
      if (!step.damage.empty()) {
        auto fixed = RepairedAt(p.number, off, repairs);
        if (fixed) {
          step = {fixed, step.damage + "; a dictionary record, rebuilt from " + RepairPath(fixed->location.dict_id) +
                             " (nothing lost)", fixed->end, false};
        }
        on_error(p.number, off, step.damage);
      }
      if (step.record) MK_RETURN_IF_ERROR(on_record(*step.record));
      if (step.stop) break;
      off = step.next;
    }
    return OkStatus();
  }

  Status RollLocked() {
    if (cur_pack >= kMaxPackNumber) {
      return MakeError(ErrorCode::kFailedPrecondition, dir + ": out of pack numbers");
    }
    uint32_t next = cur_pack + 1;
    if (new_pack_hook) MK_RETURN_IF_ERROR(new_pack_hook(cur_pack, cur_len, next));
    std::string path = PackPath(next);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
      return MakeError(ErrorCode::kIoError, path + ": cannot create pack: " + ErrnoText(errno));
    }
    if (cur_fd.valid()) {
      if (cur_dirty) {
        unsynced.emplace_back(cur_pack, std::move(cur_fd));
      } else {
        (void)cur_fd.Close(PackPath(cur_pack));  // nothing unsynced in it
      }
    }
    cur_fd = UniqueFd(fd);
    cur_pack = next;
    cur_len = 0;
    cur_dirty = false;
    dir_dirty = true;
    return OkStatus();
  }

  Result<BlobLocation> AppendRecord(const RecordHeader& h, std::string_view payload) {
    auto hb = EncodeHeader(h);
    return AppendParts(h, {reinterpret_cast<const char*>(hb.data()), hb.size()}, payload);
  }

  // Appends a record given as its encoded header (of h) and payload.
  Result<BlobLocation> AppendParts(const RecordHeader& h, std::string_view header, std::string_view payload) {
    const uint64_t rec_len = kHeaderSize + payload.size();
    if (cur_pack == 0 || !cur_fd.valid() ||
        (cur_len > 0 && cur_len + rec_len > options.pack_size_limit)) {
      MK_RETURN_IF_ERROR(RollLocked());
    }
    const std::string what = PackPath(cur_pack);
    auto st = PWriteAll(cur_fd.get(), header, cur_len, what);
    if (st) st = PWriteAll(cur_fd.get(), payload, cur_len + kHeaderSize, what);
    cur_dirty = true;
    if (!st) return Poison(st.error());
    BlobLocation loc{cur_pack, cur_len, h.stored_len, h.raw_len, h.dict_id};
    cur_len += rec_len;
    return loc;
  }

  // Copies bytes [from, size) of pack `n` into orphans/ and fsyncs the copy.
  Status QuarantineTail(uint32_t n, int src_fd, uint64_t from, uint64_t size) {
    MK_ASSIGN_OR_RETURN(std::string path, OrphanPath(n, from));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return MakeError(ErrorCode::kIoError, path + ": cannot create: " + ErrnoText(errno));
    UniqueFd out(fd);
    std::string buf;
    for (uint64_t off = from; off < size;) {
      buf.resize(static_cast<size_t>(std::min<uint64_t>(1 << 20, size - off)));
      MK_ASSIGN_OR_RETURN(size_t got, PReadUpTo(src_fd, buf.data(), buf.size(), off, PackPath(n)));
      if (got == 0) break;
      MK_RETURN_IF_ERROR(PWriteAll(out.get(), std::string_view(buf).substr(0, got), off - from, path));
      off += got;
    }
    MK_RETURN_IF_ERROR(FsyncFd(out.get(), path));
    MK_RETURN_IF_ERROR(out.Close(path));
    MK_RETURN_IF_ERROR(SyncDir(dir + "/" + kOrphansDir));
    quarantined += size - from;
    return OkStatus();
  }

  // orphans/NNNNNN-from-OFFSET.orphan, or with .K before .orphan if taken.
  Result<std::string> OrphanPath(uint32_t n, uint64_t from) const {
    const std::string odir = dir + "/" + kOrphansDir;
    MK_RETURN_IF_ERROR(MakeDirs(odir, 0700));
    char stem[64];
    std::snprintf(stem, sizeof stem, "%06u-from-%llu", n, static_cast<unsigned long long>(from));
    for (int k = 0; k < 10000; ++k) {
      std::string p = odir + "/" + stem + (k == 0 ? "" : "." + std::to_string(k)) + ".orphan";
      struct stat st {};
      if (::lstat(p.c_str(), &st) != 0 && errno == ENOENT) return p;
    }
    return MakeError(ErrorCode::kFailedPrecondition, odir + ": too many orphans of pack " + PackFileName(n));
  }

  // Refuses, before anything changes, what recovery must not touch: a
  // committed pack shorter than its end (or missing), and a non-empty pack
  // above it that the catalog does not know.
  Status CheckRecoverable(const std::vector<PackFile>& packs, const PackEnds& known) const {
    const uint32_t last = known.empty() ? 0 : known.rbegin()->first;
    for (const PackFile& p : packs) {
      MK_ASSIGN_OR_RETURN(uint64_t size, PathSize(p.path));
      if (p.number > last && size > 0) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         p.path + " holds " + std::to_string(size) + " bytes the catalog never recorded (it knows " +
                             (last == 0 ? std::string("no pack") : "packs up to " + PackFileName(last)) +
                             "); nothing was changed");
      }
      if (p.number == last && size < known.at(last)) {
        return MakeError(ErrorCode::kCorruption,
                         p.path + ": is " + std::to_string(size) + " bytes, shorter than the committed " +
                             std::to_string(known.at(last)) + "; refusing to open for writing");
      }
    }
    bool has_last = std::any_of(packs.begin(), packs.end(), [&](const PackFile& p) { return p.number == last; });
    if (last > 0 && !has_last && known.at(last) > 0) {
      return MakeError(ErrorCode::kCorruption,
                       PackPath(last) + ": missing, but the catalog committed " + std::to_string(known.at(last)) +
                           " bytes of it; refusing to open for writing");
    }
    return OkStatus();
  }

  // Moves the tail of pack n past `end` (if any) into orphans/ and cuts it.
  Status CutTail(const PackFile& p, uint64_t end) {
    int fd = ::open(p.path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return MakeError(ErrorCode::kIoError, p.path + ": cannot open: " + ErrnoText(errno));
    UniqueFd f(fd);
    MK_ASSIGN_OR_RETURN(uint64_t size, FileSize(f.get(), p.path));
    if (size <= end) return f.Close(p.path);  // a shorter old pack is verify's to report
    // The tail was never referenced: keep a copy in orphans/, then cut.
    MK_RETURN_IF_ERROR(QuarantineTail(p.number, f.get(), end, size));
    if (::ftruncate(f.get(), static_cast<off_t>(end)) != 0) {
      return MakeError(ErrorCode::kIoError, p.path + ": truncate failed: " + ErrnoText(errno));
    }
    MK_RETURN_IF_ERROR(FsyncFd(f.get(), p.path));
    return f.Close(p.path);
  }

  // Brings the directory back to the ends the catalog recorded (see Open()).
  Status RecoverToKnownEnds(const PackEnds& known) {
    MK_ASSIGN_OR_RETURN(std::vector<PackFile> packs, ListPacks(dir));
    MK_RETURN_IF_ERROR(CheckRecoverable(packs, known));
    const uint32_t last = known.empty() ? 0 : known.rbegin()->first;
    bool dir_changed = false;
    for (const PackFile& p : packs) {
      if (auto it = known.find(p.number); it != known.end()) {
        MK_RETURN_IF_ERROR(CutTail(p, it->second));
      } else if (p.number > last) {  // empty (CheckRecoverable): nothing to keep
        if (::unlink(p.path.c_str()) != 0) {
          return MakeError(ErrorCode::kIoError, p.path + ": cannot remove empty pack: " + ErrnoText(errno));
        }
        dir_changed = true;
      }
    }
    if (last > 0 && ::access(PackPath(last).c_str(), F_OK) != 0) {
      // Recorded before its first byte (NewPackHook), then a crash.
      int fd = ::open(PackPath(last).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return MakeError(ErrorCode::kIoError, PackPath(last) + ": cannot create: " + ErrnoText(errno));
      ::close(fd);
      dir_changed = true;
    }
    if (dir_changed) MK_RETURN_IF_ERROR(SyncDir(dir));
    return OkStatus();
  }

  Status Sync() {
    MK_RETURN_IF_ERROR(CheckWritable());
    std::optional<Error> first;
    auto note = [&first](const Status& s) {
      if (!s && !first) first = s.error();
    };
    for (auto& [n, fd] : unsynced) {
      note(FsyncFd(fd.get(), PackPath(n)));
      note(fd.Close(PackPath(n)));
    }
    unsynced.clear();
    if (cur_dirty && cur_fd.valid()) {
      note(FsyncFd(cur_fd.get(), PackPath(cur_pack)));
      cur_dirty = false;
    }
    if (dir_dirty) {
      note(SyncDir(dir));
      dir_dirty = false;
    }
    if (first) return Poison(*first);
    return OkStatus();
  }

  Status InsertDictionary(std::shared_ptr<const Dictionary> d, std::optional<BlobLocation> loc) {
    std::lock_guard lock(dict_mu);
    const uint32_t id = d->id();
    auto it = dicts.find(id);
    if (it != dicts.end() && it->second.loaded) {
      if (it->second.loaded->bytes() != d->bytes()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "dictionary " + std::to_string(id) + " is already loaded with other bytes");
      }
      if (loc && !it->second.loc) it->second.loc = loc;
      return OkStatus();
    }
    DictSlot& slot = dicts[id];
    if (loc) slot.loc = loc;
    slot.loaded = std::move(d);
    slot.last_use = ++use_tick;
    loaded_bytes += slot.loaded->bytes().size();
    if (id > current_id) {
      // The old current one holds a compression dictionary (several times
      // its size); a writer with per-batch dictionaries would otherwise keep
      // every one. It is re-read from its record if a read needs it.
      if (auto old = dicts.find(current_id); old != dicts.end() && old->second.loaded && old->second.loc) {
        loaded_bytes -= old->second.loaded->bytes().size();
        old->second.loaded.reset();
      }
      current_id = id;
    }
    EvictLocked();
    return OkStatus();
  }
};

// ---- PackStore --------------------------------------------------------------

PackStore::PackStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PackStore::~PackStore() = default;

static Status ValidateOptions(const PackStoreOptions& o) {
  if (o.compression_level < ZSTD_minCLevel() || o.compression_level > ZSTD_maxCLevel() ||
      o.compression_level == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "compression level " + std::to_string(o.compression_level) + " is out of range");
  }
  if (o.pack_size_limit < kRecordHeaderSize) {
    return MakeError(ErrorCode::kInvalidArgument, "pack size limit is too small");
  }
  if (o.max_raw_len == 0) return MakeError(ErrorCode::kInvalidArgument, "max_raw_len must be positive");
  return OkStatus();
}

Result<std::unique_ptr<PackStore>> PackStore::Open(const std::string& dir,
                                                   const PackStoreOptions& options,
                                                   uint32_t committed_pack,
                                                   uint64_t committed_len) {
  if (committed_pack == 0 && committed_len != 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     dir + ": bad committed end (0, " + std::to_string(committed_len) + ")");
  }
  PackEnds known;
  if (committed_pack != 0) known[committed_pack] = committed_len;
  return Open(dir, options, known);
}

Result<std::unique_ptr<PackStore>> PackStore::Open(const std::string& dir, const PackStoreOptions& options,
                                                   const PackEnds& known) {
  MK_RETURN_IF_ERROR(ValidateOptions(options));
  if (!known.empty() && (known.begin()->first == 0 || known.rbegin()->first > kMaxPackNumber)) {
    return MakeError(ErrorCode::kInvalidArgument, dir + ": bad pack number in the committed ends");
  }
  const uint32_t committed_pack = known.empty() ? 0 : known.rbegin()->first;
  const uint64_t committed_len = known.empty() ? 0 : known.rbegin()->second;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    MK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
    MK_RETURN_IF_ERROR(SyncDir(ParentDir(dir)));
  } else if (!S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kFailedPrecondition, dir + ": exists and is not a directory");
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  MK_RETURN_IF_ERROR(impl->RecoverToKnownEnds(known));
  impl->cur_pack = committed_pack;
  impl->cur_len = committed_len;
  if (committed_pack > 0) {
    std::string path = impl->PackPath(committed_pack);
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return MakeError(ErrorCode::kIoError, path + ": cannot open: " + ErrnoText(errno));
    impl->cur_fd = UniqueFd(fd);
  }
  return std::unique_ptr<PackStore>(new PackStore(std::move(impl)));
}

Result<std::unique_ptr<PackStore>> PackStore::OpenReadOnly(const std::string& dir,
                                                           const PackStoreOptions& options) {
  MK_RETURN_IF_ERROR(ValidateOptions(options));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int e = errno;
    return MakeError(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError, dir + ": " + ErrnoText(e));
  }
  if (!S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kFailedPrecondition, dir + ": is not a directory");
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  impl->read_only = true;
  return std::unique_ptr<PackStore>(new PackStore(std::move(impl)));
}

Status PackStore::LoadDictionary(uint32_t id, std::string_view bytes) {
  if (id == 0) return MakeError(ErrorCode::kInvalidArgument, "dictionary id 0 is reserved");
  if (bytes.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty dictionary");
  MK_ASSIGN_OR_RETURN(auto d, Dictionary::Make(id, bytes, impl_->options.compression_level));
  return impl_->InsertDictionary(std::move(d), std::nullopt);
}

Status PackStore::RegisterDictionary(uint32_t id, const BlobLocation& loc) {
  if (id == 0 || loc.dict_id != id) return MakeError(ErrorCode::kInvalidArgument, "bad dictionary id");
  std::lock_guard lock(impl_->dict_mu);
  auto& slot = impl_->dicts[id];
  if (slot.loc && !(*slot.loc == loc)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "dictionary " + std::to_string(id) + " is already registered at another place");
  }
  slot.loc = loc;
  if (id > impl_->current_id) impl_->current_id = id;
  return OkStatus();
}

Result<std::string> PackStore::TrainDictionary(const std::vector<std::string_view>& samples,
                                               size_t dict_size) {
  if (dict_size < 1024) return MakeError(ErrorCode::kInvalidArgument, "dictionary size must be at least 1 KiB");
  if (samples.empty()) return MakeError(ErrorCode::kFailedPrecondition, "no samples to train a dictionary on");
  std::string joined;
  std::vector<size_t> sizes;
  sizes.reserve(samples.size());
  size_t total = 0;
  for (auto s : samples) total += s.size();
  joined.reserve(total);
  for (auto s : samples) {
    joined.append(s);
    sizes.push_back(s.size());
  }
  std::string dict(dict_size, '\0');
  ZDICT_fastCover_params_t params{};
  params.k = kTrainK;
  params.d = kTrainD;
  params.f = kTrainF;
  params.accel = kTrainAccel;
  params.splitPoint = 1.0;  // train on every sample; nothing held out for a search
  params.zParams.compressionLevel = kTrainStatsLevel;
  size_t n = ZDICT_trainFromBuffer_fastCover(dict.data(), dict.size(), joined.data(), sizes.data(),
                                             static_cast<unsigned>(sizes.size()), params);
  if (ZDICT_isError(n)) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "dictionary training failed on " + std::to_string(samples.size()) +
                         " samples: " + ZDICT_getErrorName(n));
  }
  dict.resize(n);
  return dict;
}

Result<std::pair<uint32_t, BlobLocation>> PackStore::AddDictionary(std::string_view bytes) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  if (bytes.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty dictionary");
  if (bytes.size() > std::numeric_limits<uint32_t>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "dictionary is too large");
  }
  uint32_t id = 1;
  {
    std::lock_guard lock(impl_->dict_mu);
    if (!impl_->dicts.empty()) id = impl_->dicts.rbegin()->first + 1;
  }
  if (id == 0) return MakeError(ErrorCode::kFailedPrecondition, "out of dictionary ids");
  // Build the zstd objects first, so a dictionary zstd rejects is never written.
  MK_ASSIGN_OR_RETURN(auto d, Dictionary::Make(id, bytes, impl_->options.compression_level));
  // Stored compressed when that is smaller (kind 3), else as is (kind 2).
  std::string packed;
  packed.resize_and_overwrite(ZSTD_compressBound(bytes.size()), [&](char* p, size_t cap) {
    size_t rc = ZSTD_compress(p, cap, bytes.data(), bytes.size(), kDictionaryRecordLevel);
    return ZSTD_isError(rc) ? 0 : rc;
  });
  const bool compressed = !packed.empty() && packed.size() < bytes.size();
  RecordHeader h;
  h.kind = compressed ? kKindCompressedDictionary : kKindDictionary;
  h.dict_id = id;
  h.raw_len = bytes.size();
  h.sha256 = impl_->ContentHash(bytes);
  MK_ASSIGN_OR_RETURN(const std::string payload, impl_->StoredPayload(h, compressed ? std::string_view(packed) : bytes));
  MK_ASSIGN_OR_RETURN(BlobLocation loc, impl_->AppendRecord(h, payload));
  auto header = EncodeHeader(h);
  std::string record(reinterpret_cast<const char*>(header.data()), header.size());
  record.append(payload);
  // Durable before the catalog commits the record, like the record itself;
  // a failure here is a write failure of the store (sticky).
  if (auto st = impl_->WriteRepair(loc, record); !st) return impl_->Poison(st.error());
  MK_RETURN_IF_ERROR(impl_->InsertDictionary(std::move(d), loc));
  return std::make_pair(id, loc);
}

uint32_t PackStore::current_dictionary() const {
  std::lock_guard lock(impl_->dict_mu);
  return impl_->current_id;
}

Result<CompressedBlob> PackStore::Compress(std::string_view raw, const Sha256Digest& sha) const {
  if (raw.size() > impl_->options.max_raw_len) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "message of " + std::to_string(raw.size()) + " bytes exceeds max_raw_len");
  }
  std::shared_ptr<const Dictionary> dict;
  if (uint32_t id = current_dictionary(); id != 0) {
    MK_ASSIGN_OR_RETURN(dict, impl_->FindDict(id));
  }
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx == nullptr) return MakeError(ErrorCode::kInternal, "zstd: cannot create a compression context");
  auto check = [](size_t rc) -> Status {
    if (ZSTD_isError(rc)) return MakeError(ErrorCode::kInternal, std::string("zstd: ") + ZSTD_getErrorName(rc));
    return OkStatus();
  };
  MK_RETURN_IF_ERROR(check(ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters)));
  MK_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
                                                  impl_->options.compression_level)));
  MK_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)));
  MK_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)));  // we CRC
  MK_RETURN_IF_ERROR(check(ZSTD_CCtx_setParameter(cctx, ZSTD_c_dictIDFlag, 0)));    // header has it
  if (dict) {
    const ZSTD_CDict* cdict = dict->cdict();
    if (cdict == nullptr) return MakeError(ErrorCode::kInternal, "zstd: cannot build a compression dictionary");
    MK_RETURN_IF_ERROR(check(ZSTD_CCtx_refCDict(cctx, cdict)));
  }
  CompressedBlob out;
  out.sha256 = sha;
  out.raw_len = raw.size();
  out.dict_id = dict ? dict->id() : 0;
  // Sealed: the frame is compressed to where the seal wants its plaintext
  // and sealed there, in place (no copy of the frame).
  const crypto::ArchiveKeys* keys = impl_->keys();
  out.sealed = keys != nullptr;
  const size_t at = out.sealed ? crypto::kNonceSize : 0;
  const size_t overhead = out.sealed ? crypto::kSealOverhead : 0;
  size_t rc = 0;
  Status sealed;
  out.frame.resize_and_overwrite(ZSTD_compressBound(raw.size()) + overhead, [&](char* p, size_t cap) {
    rc = ZSTD_compress2(cctx, p + at, cap - overhead, raw.data(), raw.size());
    if (ZSTD_isError(rc)) return size_t{0};
    if (keys != nullptr) {
      RecordHeader h = BlobHeader(out);
      sealed = SealPayload(keys->pack, h, {p + at, rc}, reinterpret_cast<uint8_t*>(p));
    }
    return rc + overhead;
  });
  (void)ZSTD_CCtx_refCDict(cctx, nullptr);  // keep no reference past this call
  MK_RETURN_IF_ERROR(check(rc));
  MK_RETURN_IF_ERROR(sealed);
  if (out.frame.size() > std::numeric_limits<uint32_t>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "compressed message exceeds 4 GiB");
  }
  return out;
}

Result<BlobLocation> PackStore::Append(const CompressedBlob& blob) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  if (blob.frame.empty() || blob.frame.size() > std::numeric_limits<uint32_t>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "blob frame is empty or larger than 4 GiB");
  }
  if (blob.sealed != (impl_->keys() != nullptr)) {
    return MakeError(ErrorCode::kInvalidArgument, blob.sealed ? "a sealed blob for a store without keys"
                                                              : "a blob that is not sealed, for a store with keys");
  }
  unsigned long long content =
      blob.sealed ? blob.raw_len : ZSTD_getFrameContentSize(blob.frame.data(), blob.frame.size());
  if (content != blob.raw_len || blob.frame.size() <= (blob.sealed ? crypto::kSealOverhead : 0)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "blob frame does not declare its raw length " + std::to_string(blob.raw_len));
  }
  if (blob.dict_id != 0 && !impl_->KnowsDict(blob.dict_id)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "blob uses dictionary " + std::to_string(blob.dict_id) + ", which is not loaded");
  }
  RecordHeader h = BlobHeader(blob);
  h.stored_len = static_cast<uint32_t>(blob.frame.size());
  h.payload_crc = Crc32(blob.frame);
  return impl_->AppendRecord(h, blob.frame);
}

Result<BlobLocation> PackStore::AppendTombstone(const Sha256Digest& sha, int64_t removed_at) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  std::string payload(kTombstonePayload, '\0');
  PutU64(reinterpret_cast<uint8_t*>(payload.data()), static_cast<uint64_t>(removed_at));
  RecordHeader h;
  h.kind = kKindTombstone;
  h.raw_len = kTombstonePayload;
  h.sha256 = sha;
  MK_ASSIGN_OR_RETURN(const std::string stored, impl_->StoredPayload(h, payload));
  return impl_->AppendRecord(h, stored);
}

Status PackStore::Sync() { return impl_->Sync(); }

void PackStore::SetNewPackHook(NewPackHook hook) { impl_->new_pack_hook = std::move(hook); }

Result<uint64_t> PackStore::PackBytesIn(const std::string& dir) {
  auto packs = ListPacks(dir);
  if (!packs && packs.error().code() == ErrorCode::kNotFound) return uint64_t{0};
  if (!packs) return std::unexpected(packs.error());
  uint64_t total = 0;
  for (const PackFile& p : *packs) {
    MK_ASSIGN_OR_RETURN(uint64_t size, PathSize(p.path));
    total += size;
  }
  return total;
}

Status PackStore::Roll() {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  return impl_->RollLocked();
}

uint32_t PackStore::current_pack() const { return impl_->cur_pack; }
uint64_t PackStore::current_pack_len() const { return impl_->cur_len; }
uint64_t PackStore::quarantined_bytes() const { return impl_->quarantined; }

Result<std::string> PackStore::Read(const BlobLocation& loc, bool verify_hash) const {
  const std::string where = Where(loc.pack, loc.offset);
  if (loc.raw_len > impl_->options.max_raw_len) {
    return MakeError(ErrorCode::kCorruption,
                     where + ": raw length " + std::to_string(loc.raw_len) + " exceeds max_raw_len");
  }
  RecordHeader h;
  MK_ASSIGN_OR_RETURN(std::string rec, impl_->ReadRecord(loc, kKindBlob, h));
  MK_ASSIGN_OR_RETURN(const std::string_view payload, impl_->OpenPayload(loc, h, rec));
  const char* frame = payload.data();
  const size_t frame_len = payload.size();

  size_t one = ZSTD_findFrameCompressedSize(frame, frame_len);
  if (ZSTD_isError(one) || one != frame_len) {
    return MakeError(ErrorCode::kCorruption, where + ": payload is not exactly one zstd frame");
  }
  unsigned long long content = ZSTD_getFrameContentSize(frame, frame_len);
  if (content == ZSTD_CONTENTSIZE_ERROR ||
      (content != ZSTD_CONTENTSIZE_UNKNOWN && content != h.raw_len)) {
    return MakeError(ErrorCode::kCorruption,
                     where + ": frame content size does not match raw length " + std::to_string(h.raw_len));
  }
  std::shared_ptr<const Dictionary> dict;
  if (h.dict_id != 0) {
    auto found = impl_->FindDict(h.dict_id);
    if (!found) return MakeError(ErrorCode::kCorruption, where + ": " + found.error().message());
    dict = std::move(*found);
    if (!dict) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       where + ": dictionary " + std::to_string(h.dict_id) + " is not loaded");
    }
  }
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (dctx == nullptr) return MakeError(ErrorCode::kInternal, "zstd: cannot create a decompression context");

  // The output buffer is exactly raw_len: zstd fails rather than write more.
  std::string out;
  size_t rc = 0;
  out.resize_and_overwrite(static_cast<size_t>(h.raw_len), [&](char* p, size_t cap) {
    rc = dict ? ZSTD_decompress_usingDDict(dctx, p, cap, frame, frame_len, dict->ddict())
              : ZSTD_decompressDCtx(dctx, p, cap, frame, frame_len);
    return ZSTD_isError(rc) ? 0 : rc;
  });
  if (ZSTD_isError(rc)) {
    return MakeError(ErrorCode::kCorruption,
                     where + ": decompression failed: " + ZSTD_getErrorName(rc));
  }
  if (rc != h.raw_len) {
    return MakeError(ErrorCode::kCorruption,
                     where + ": decompressed " + std::to_string(rc) + " bytes, expected " +
                         std::to_string(h.raw_len));
  }
  if (verify_hash && impl_->ContentHash(out) != h.sha256) {
    return MakeError(ErrorCode::kCorruption, where + ": the content's hash does not match the record");
  }
  return out;
}

Result<Sha256Digest> PackStore::ReadRecordHash(const BlobLocation& loc) const {
  const std::string where = Where(loc.pack, loc.offset);
  MK_ASSIGN_OR_RETURN(int fd, impl_->ReadFd(loc.pack, loc.offset));
  std::array<uint8_t, kHeaderSize> b{};
  MK_ASSIGN_OR_RETURN(size_t got, PReadUpTo(fd, b.data(), b.size(), loc.offset, where));
  if (got < kHeaderSize) {
    return MakeError(ErrorCode::kCorruption, where + ": record header is past the end of the pack");
  }
  RecordHeader h;
  std::string why = DecodeHeader(b.data(), h);
  if (!why.empty()) return MakeError(ErrorCode::kCorruption, where + ": " + why);
  return h.sha256;
}

Result<std::string> PackStore::ReadDictionary(const BlobLocation& loc) const { return impl_->DictionaryBytes(loc); }

std::string PackStore::RepairFilePath(uint32_t id) const { return impl_->RepairPath(id); }

DictionaryCheck PackStore::CheckDictionary(const BlobLocation& loc) const {
  DictionaryCheck c;
  RecordHeader h;
  auto rec = impl_->ReadRecord(loc, kKindDictionary, h);
  std::optional<Sha256Digest> record_sha;
  if (rec) record_sha = Sha256(*rec);
  auto bytes = rec ? impl_->DictionaryPayload(loc, h, std::move(*rec)) : std::unexpected(rec.error());
  if (!bytes) c.pack_damage = bytes.error().message();
  auto data = impl_->LoadRepairFor(loc);
  if (!data) {
    c.repair_damage = data.error().message();
  } else if (bytes && data->sha256 != *record_sha) {
    c.repair_damage = impl_->RepairPath(loc.dict_id) + ": does not match the pack record (SHA-256)";
  }
  if (bytes) {
    c.readable = true;
  } else if (c.repair_damage.empty()) {
    RecordHeader rh;
    auto repaired = impl_->RepairedRecord(loc, rh);
    if (repaired && impl_->DictionaryPayload(loc, rh, std::move(*repaired))) {
      c.readable = true;
    } else {
      c.repair_damage = repaired ? impl_->RepairPath(loc.dict_id) + ": the repaired dictionary does not verify"
                                 : repaired.error().message();
    }
  }
  return c;
}

Result<int> PackStore::WriteMissingRepairFiles() {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  std::vector<BlobLocation> locs;
  {
    std::lock_guard lock(impl_->dict_mu);
    for (const auto& [id, slot] : impl_->dicts) {
      if (slot.loc) locs.push_back(*slot.loc);
    }
  }
  int written = 0;
  for (const BlobLocation& loc : locs) {
    if (impl_->HasRepair(loc)) continue;
    // Only from a pack record that verifies (CRCs and the dictionary's SHA-256).
    RecordHeader h;
    auto rec = impl_->ReadRecord(loc, kKindDictionary, h);
    if (!rec || !impl_->DictionaryPayload(loc, h, *rec)) continue;  // damaged: verify reports it
    if (auto st = impl_->WriteRepair(loc, *rec); !st) return impl_->Poison(st.error());
    ++written;
  }
  return written;
}

Status PackStore::Scan(
    const std::function<Status(const ScannedRecord&)>& on_record,
    const std::function<void(uint32_t pack, uint64_t offset, const std::string&)>& on_error) const {
  MK_ASSIGN_OR_RETURN(std::vector<PackFile> packs, ListPacks(impl_->dir));
  std::optional<Impl::RepairIndex> repairs;  // read at the first damage
  for (const PackFile& p : packs) MK_RETURN_IF_ERROR(impl_->ScanPack(p, on_record, on_error, repairs));
  return OkStatus();
}

Result<uint64_t> PackStore::TotalBytes() const {
  MK_ASSIGN_OR_RETURN(std::vector<PackFile> packs, ListPacks(impl_->dir));
  uint64_t total = 0;
  for (const PackFile& p : packs) {
    struct stat st {};
    if (::stat(p.path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;  // raced with Open's recovery in another process
      return MakeError(ErrorCode::kIoError, p.path + ": stat failed: " + ErrnoText(errno));
    }
    total += static_cast<uint64_t>(st.st_size);
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(impl_->dir + "/" + kRepairDir, ec)) {
    std::error_code size_ec;
    if (e.path().extension() == ".repair") total += std::filesystem::file_size(e.path(), size_ec);
  }
  return total;
}

// ---- Repack ---------------------------------------------------------------------

Result<BlobLocation> PackStore::CopyRecord(const BlobLocation& from, bool dictionary) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  RecordHeader h;
  std::string rec;
  if (dictionary) {
    // The pack record if it verifies, else the record rebuilt through its
    // repair file: a repack heals a damaged dictionary record.
    auto read = impl_->ReadRecord(from, kKindDictionary, h);
    if (read && impl_->DictionaryPayload(from, h, *read)) {
      rec = std::move(*read);
    } else {
      auto repaired = impl_->RepairedRecord(from, h);
      if (!repaired || !impl_->DictionaryPayload(from, h, *repaired)) {
        auto bytes = impl_->DictionaryBytes(from);  // fails, naming both problems
        return MakeError(ErrorCode::kCorruption, bytes ? Where(from.pack, from.offset) + ": dictionary does not verify"
                                                       : bytes.error().message());
      }
      rec = std::move(*repaired);
    }
  } else {
    if (auto raw = Read(from, /*verify_hash=*/true); !raw) return std::unexpected(raw.error());
    MK_ASSIGN_OR_RETURN(rec, impl_->ReadRecord(from, kKindBlob, h));
  }
  const std::string_view bytes(rec);
  MK_ASSIGN_OR_RETURN(BlobLocation loc,
                      impl_->AppendParts(h, bytes.substr(0, kHeaderSize), bytes.substr(kHeaderSize)));
  if (dictionary) {
    auto st = WriteFileAtomic(impl_->StagedRepairPath(h.dict_id), EncodeRepairFile(Impl::TargetOf(loc), rec));
    if (!st) return impl_->Poison(st.error());
  }
  return loc;
}

Status PackStore::RelocateDictionary(uint32_t id, const std::optional<BlobLocation>& loc) {
  std::lock_guard lock(impl_->dict_mu);
  auto it = impl_->dicts.find(id);
  if (it == impl_->dicts.end()) return MakeError(ErrorCode::kNotFound, "dictionary " + std::to_string(id) + " unknown");
  if (loc) {
    if (loc->dict_id != id) return MakeError(ErrorCode::kInvalidArgument, "bad dictionary id");
    it->second.loc = *loc;
    return OkStatus();
  }
  if (id == impl_->current_id) {
    return MakeError(ErrorCode::kFailedPrecondition, "the current dictionary cannot be dropped");
  }
  if (it->second.loaded) impl_->loaded_bytes -= it->second.loaded->bytes().size();
  impl_->dicts.erase(it);
  return OkStatus();
}

Result<int> PackStore::SettleRepairFiles(const std::map<uint32_t, BlobLocation>& committed) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  const std::string rdir = impl_->dir + "/" + kRepairDir;
  std::vector<std::pair<uint32_t, bool>> files;  // id, staged
  std::vector<std::string> leftovers;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(rdir, ec)) {
    const std::string name = e.path().filename().string();
    uint32_t id = 0;
    auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), id);
    if (err != std::errc() || id == 0) continue;
    const std::string_view rest(end);
    if (rest == ".repair" || rest == kStagedRepairSuffix) files.emplace_back(id, rest != ".repair");
    if (rest.ends_with(".tmp")) leftovers.push_back(e.path().string());  // of an interrupted WriteFileAtomic
  }
  int changed = 0;
  auto unlink = [&](const std::string& path) -> Status {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return impl_->Poison(Error(ErrorCode::kIoError, path + ": cannot remove: " + ErrnoText(errno)));
    }
    ++changed;
    return OkStatus();
  };
  for (const auto& path : leftovers) MK_RETURN_IF_ERROR(unlink(path));
  for (const auto& [id, staged] : files) {
    auto it = committed.find(id);
    if (!staged) {
      if (it == committed.end()) MK_RETURN_IF_ERROR(unlink(impl_->RepairPath(id)));
      continue;
    }
    const std::string path = impl_->StagedRepairPath(id);
    auto data = impl_->LoadRepairFile(path);
    if (it == committed.end() || !data || !(data->target == Impl::TargetOf(it->second))) {
      MK_RETURN_IF_ERROR(unlink(path));
    } else if (::rename(path.c_str(), impl_->RepairPath(id).c_str()) != 0) {
      return impl_->Poison(Error(ErrorCode::kIoError, path + ": cannot rename: " + ErrnoText(errno)));
    } else {
      ++changed;
    }
  }
  if (changed > 0) {
    if (auto st = SyncDir(rdir); !st) return impl_->Poison(st.error());
  }
  return changed;
}

Status PackStore::RemovePack(uint32_t n) {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  if (n == impl_->cur_pack) return MakeError(ErrorCode::kFailedPrecondition, "cannot remove the current pack");
  {
    std::lock_guard lock(impl_->read_mu);
    impl_->read_fds.erase(n);
  }
  const std::string path = impl_->PackPath(n);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return OkStatus();
    return MakeError(ErrorCode::kIoError, path + ": cannot remove: " + ErrnoText(errno));
  }
  if (auto st = SyncDir(impl_->dir); !st) return impl_->Poison(st.error());
  return OkStatus();
}

Result<std::map<uint32_t, uint64_t>> PackStore::PackSizes() const {
  MK_ASSIGN_OR_RETURN(std::vector<PackFile> packs, ListPacks(impl_->dir));
  std::map<uint32_t, uint64_t> sizes;
  for (const PackFile& p : packs) {
    MK_ASSIGN_OR_RETURN(sizes[p.number], PathSize(p.path));
  }
  return sizes;
}

Result<PackStore::OrphanUsage> PackStore::Orphans() const {
  OrphanUsage u;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(impl_->dir + "/" + kOrphansDir, ec)) {
    std::error_code size_ec;
    if (!e.is_regular_file(size_ec)) continue;
    ++u.files;
    u.bytes += std::filesystem::file_size(e.path(), size_ec);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) {
    return MakeError(ErrorCode::kIoError, impl_->dir + "/" + kOrphansDir + ": cannot list: " + ec.message());
  }
  return u;
}

Status PackStore::RemoveOrphans() {
  MK_RETURN_IF_ERROR(impl_->CheckWritable());
  const std::string odir = impl_->dir + "/" + kOrphansDir;
  std::vector<std::string> paths;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(odir, ec)) {
    std::error_code type_ec;
    if (e.is_regular_file(type_ec)) paths.push_back(e.path().string());
  }
  for (const auto& path : paths) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return MakeError(ErrorCode::kIoError, path + ": cannot remove: " + ErrnoText(errno));
    }
  }
  return paths.empty() ? OkStatus() : SyncDir(odir);
}

}  // namespace mailkeep::blobs
