#include "store/archive.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <thread>
#include <tuple>
#include <map>
#include <set>
#include <mutex>
#include <unordered_map>

#include "store/blobs/pack_store.h"
#include "store/catalog/catalog.h"
#include "store/holds_file.h"
#include "store/mime/message.h"
#include "store/repack.h"
#include "store/util/files.h"
#include "store/util/sha256.h"

namespace mailkeep {
namespace {

namespace fs = std::filesystem;

constexpr char kCatalogFile[] = "catalog.sqlite";
constexpr char kPacksDir[] = "packs";
constexpr char kLockFile[] = "lock";
// Dictionary samples: a uniform reservoir of at most kMaxSamples messages
// seen since the last dictionary, each cut to kMaxSampleBytes, so memory
// stays bounded (≤ 64 MB) however long the import. (16 KiB samples train
// about as fast, but dictionaries 0.1 % of raw bytes worse on linux-mips.)
constexpr size_t kMaxSamples = 2000;
constexpr size_t kMaxSampleBytes = 32 * 1024;
// A dictionary is at most this fraction of its samples' bytes: a larger one
// would mostly be copies of single messages, which cost as much in the
// dictionary record as they save in the frames.
constexpr size_t kSampleBytesPerDictionaryByte = 4;

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A dictionary of at most `max_size` bytes (and of at most a quarter of
// the samples' bytes) trained on `samples`.
Result<std::string> TrainOn(const std::vector<std::string_view>& samples, size_t max_size) {
  size_t sample_bytes = 0;
  for (auto v : samples) sample_bytes += v.size();
  size_t size = std::min(max_size, std::max<size_t>(sample_bytes / kSampleBytesPerDictionaryByte, 4096));
  return blobs::PackStore::TrainDictionary(samples, size);
}

int WorkerCount(int requested) {
  if (requested > 0) return requested;
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 2 : static_cast<int>(hw);
}

// Runs fn(i) for i in [0, n) on up to `workers` threads. An exception in
// any call (e.g. bad_alloc on a huge message) stops the work and comes back
// as an error instead of terminating the process.
template <typename Fn>
Status ParallelFor(size_t n, int workers, Fn fn) {
  if (n == 0) return OkStatus();
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex error_mu;
  std::string error;
  auto loop = [&] {
    try {
      for (size_t i = next++; i < n && !failed.load(std::memory_order_relaxed); i = next++) fn(i);
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!failed.exchange(true)) error = e.what();
    }
  };
  size_t threads = std::min<size_t>(static_cast<size_t>(workers), n);
  std::vector<std::thread> pool;
  try {
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(loop);
  } catch (const std::system_error&) {
    // Fewer threads than asked for: the ones running (and this one) finish.
  }
  loop();
  for (auto& t : pool) t.join();
  if (failed) return MakeError(ErrorCode::kInternal, "worker failed: " + error);
  return OkStatus();
}

// The catalog's view of a parsed message.
catalog::MessageRow RowFromParsed(const mime::Message& m) {
  catalog::MessageRow row;
  row.message_id = m.message_id;
  row.subject = m.subject;
  row.date = m.date;
  row.defects = m.defects_without_text;  // the same with or without text extraction
  if (!m.in_reply_to.empty()) row.thread_links.push_back(m.in_reply_to);
  row.thread_links.insert(row.thread_links.end(), m.references.begin(), m.references.end());
  auto add = [&](catalog::AddressRole role, const std::vector<mime::Address>& list) {
    for (const auto& a : list) row.addresses.push_back({role, a.name, a.address});
  };
  add(catalog::AddressRole::kFrom, m.from);
  add(catalog::AddressRole::kSender, m.sender);
  add(catalog::AddressRole::kReplyTo, m.reply_to);
  add(catalog::AddressRole::kTo, m.to);
  add(catalog::AddressRole::kCc, m.cc);
  add(catalog::AddressRole::kBcc, m.bcc);
  for (const auto& p : m.parts) {
    row.parts.push_back({p.path, p.content_type, p.charset, p.disposition, p.filename, p.size});
    if (p.is_attachment) row.has_attachments = true;
  }
  if (!m.attachments.empty()) row.has_attachments = true;
  return row;
}

constexpr char kRebuildHint[] = "run `mailkeep rebuild-catalog` to recover the catalog from the packs";

// The catalog key of an encrypted archive; null for a plain one.
const crypto::Key* CatalogKey(const ArchiveOptions& options) {
  return options.keys ? &options.keys->catalog : nullptr;
}

// A catalog that is missing, empty (no schema) or unreadable beside packs
// that hold messages must not be taken for an empty archive: a writer would
// then disown every pack. Checked before the catalog is opened; refuses
// (changing nothing) with one line naming rebuild-catalog. `key`: the
// catalog key of an encrypted archive.
Status CheckCatalogBesidePacks(const std::string& dir, const crypto::Key* key) {
  const std::string cat_path = dir + "/" + kCatalogFile;
  MK_ASSIGN_OR_RETURN(uint64_t pack_bytes, blobs::PackStore::PackBytesIn(dir + "/" + kPacksDir));
  const std::string packs_hold = "packs/ holds " + std::to_string(pack_bytes) + " bytes of messages; nothing was changed: ";
  if (::access(cat_path.c_str(), F_OK) != 0) {
    if (pack_bytes == 0) {
      return MakeError(ErrorCode::kNotFound, "no archive in " + dir + "; create one with `mailkeep init`");
    }
    return MakeError(ErrorCode::kFailedPrecondition, cat_path + " is missing but " + packs_hold + kRebuildHint);
  }
  if (pack_bytes == 0) return OkStatus();
  auto version = catalog::Catalog::ReadSchemaVersion(cat_path, key);
  if (!version && version.error().code() == ErrorCode::kCorruption) {
    return MakeError(ErrorCode::kCorruption,
                     cat_path + " is unreadable (" + version.error().message() + ") but " + packs_hold + kRebuildHint);
  }
  if (!version) return std::unexpected(version.error());
  if (*version == 0) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     cat_path + " is empty (it has no catalog in it) but " + packs_hold + kRebuildHint);
  }
  return OkStatus();
}

// Damage found while opening (a catalog SQLite calls corrupt, a pack
// shorter than its committed end) names the way out, once.
Error WithRebuildHint(const Error& e) {
  if (e.code() != ErrorCode::kCorruption || e.message().find("rebuild-catalog") != std::string::npos) return e;
  return Error(e.code(), e.message() + "; " + kRebuildHint);
}

// PackStore::Open refuses (kFailedPrecondition) a pack the catalog never
// recorded: say what that means and what to do.
Error WithUnknownPackHint(const Error& e) {
  if (e.code() != ErrorCode::kFailedPrecondition) return e;
  return Error(e.code(), e.message() + ": the catalog is not this archive's or lost its last packs; " + kRebuildHint +
                             " (a pack left by an interrupted write of an older mailkeep can instead be moved "
                             "into packs/orphans/)");
}

Status UnlinkIfThere(const std::string& path) {
  if (::unlink(path.c_str()) == 0 || errno == ENOENT) return OkStatus();
  return MakeError(ErrorCode::kIoError, path + ": cannot remove: " + ErrnoText(errno));
}

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// How every PackStore of the archive is opened: with its keys (an encrypted
// archive's records are sealed), its compression level and pack size.
blobs::PackStoreOptions PackOptions(const ArchiveOptions& options) {
  blobs::PackStoreOptions popts;
  popts.compression_level = options.compression_level;
  popts.pack_size_limit = options.pack_size_limit;
  popts.keys = options.keys;
  return popts;
}

// Moves the catalog at `path` and its WAL aside to path.old-N (N the first
// free number) and drops its -shm (SQLite rebuilds it from the WAL); returns
// path.old-N, or "" when there was nothing to move. The catalog file moves
// first: a catalog without its WAL is never left to be opened (a missing
// catalog is refused until rebuild-catalog runs again), and that next run
// moves the WAL after the catalog that went before it, to the same N.
Result<std::string> MoveCatalogAside(const std::string& path) {
  const bool has_catalog = Exists(path);
  int n = 1;
  while (Exists(path + ".old-" + std::to_string(n))) ++n;
  if (!has_catalog && n > 1) --n;  // an interrupted move took the catalog there
  const std::string aside = path + ".old-" + std::to_string(n);
  bool moved = false;
  for (const char* suffix : {"", "-wal"}) {
    const std::string from = path + suffix, to = aside + suffix;
    if (!Exists(from)) continue;
    if (Exists(to)) return MakeError(ErrorCode::kFailedPrecondition, from + ": cannot move aside: " + to + " exists");
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return MakeError(ErrorCode::kIoError, from + ": cannot move aside: " + ErrnoText(errno));
    }
    moved = true;
  }
  MK_RETURN_IF_ERROR(UnlinkIfThere(path + "-shm"));
  return moved ? aside : std::string();
}

class LockFile {
 public:
  ~LockFile() {
    if (fd_ >= 0) ::close(fd_);  // closing releases the flock
  }
  // Waits up to `wait_seconds` for another process to let go.
  Status Acquire(const std::string& path, int wait_seconds = 0) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
    while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK && errno != EINTR) {
        return MakeError(ErrorCode::kIoError, path + ": lock failed: " + ErrnoText(errno));
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        std::string waited = wait_seconds > 0 ? " after waiting " + std::to_string(wait_seconds) + " s" : "";
        return MakeError(ErrorCode::kUnavailable, "archive is locked by another mailkeep process (" + path + ")" +
                                                      waited + "; wait for it to finish");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return OkStatus();
  }

 private:
  int fd_ = -1;
};

}  // namespace

struct Archive::Impl {
  std::string dir;
  ArchiveOptions options;
  OpenMode mode = OpenMode::kReadOnly;
  LockFile lock;
  std::unique_ptr<catalog::Catalog> catalog;
  std::unique_ptr<blobs::PackStore> packs;
  int workers = 1;
  // Dictionary training: a reservoir of messages seen since the current
  // dictionary was made.
  std::vector<std::string> samples;
  uint64_t sample_rng = 0x9e3779b97f4a7c15ull;
  int64_t since_dictionary = 0;  // messages stored with the current dictionary
  int commits = 0;
  // Set when a batch failed after a dictionary was added in memory: the
  // writer's state no longer matches the catalog, so it must be reopened.
  bool needs_reopen = false;

  // Dictionary training in three steps, so the (CPU-only) training can run
  // beside parsing: whether it is time and with which samples, training,
  // then writing the record and the catalog row.
  Result<bool> DictionaryDue(catalog::Catalog& cat);
  Result<std::string> TrainFromSamples();
  Status InstallDictionary(const Result<std::string>& dict);
  // Loads dictionaries committed since this handle opened (a reader next to
  // a running import meets blobs compressed with a newer dictionary).
  Status ReloadDictionaries();
  // Open's work after the checks: catalog, then packs at their known ends.
  Status OpenStores();
  // The content address of a message: keyed for an encrypted archive.
  Sha256Digest ContentHash(std::string_view raw) const { return crypto::ContentHash(options.keys.get(), raw); }
  Result<blobs::PackStore::PackEnds> KnownPackEnds();
  Status RecordNewPack(uint32_t closing, uint64_t closing_len, uint32_t next);
  Status BeginBatchCommit();
  Status VerifyDictionaries(const std::function<void(const VerifyProblem&)>& on_problem);
  // Packs this batch rolled away from, with their final lengths; recorded
  // with the batch's commit.
  std::vector<std::pair<uint32_t, uint64_t>> rolled_ends;
  // The dictionary this batch added, recorded with the batch's commit.
  std::optional<catalog::DictionaryRow> new_dictionary;
  void GatherSample(std::string_view raw);
};

Archive::Archive(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Archive::~Archive() = default;
const std::string& Archive::dir() const { return impl_->dir; }
const crypto::ArchiveKeys* Archive::keys() const { return impl_->options.keys.get(); }

Status Archive::ChangePassphrase(std::string_view current, std::string_view next, const crypto::KdfParams& params) {
  if (impl_->mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  if (!keys()) return MakeError(ErrorCode::kFailedPrecondition, "the archive in " + impl_->dir + " is not encrypted");
  return crypto::RewrapKeyFile(impl_->dir, current, next, params);
}

Result<std::vector<int64_t>> Archive::PendingIndex(size_t limit) { return impl_->catalog->PendingIndex(limit); }
Result<int64_t> Archive::PendingIndexCount() { return impl_->catalog->PendingIndexCount(); }

Status Archive::MarkIndexed(const std::vector<int64_t>& ids) {
  if (impl_->mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  MK_RETURN_IF_ERROR(impl_->catalog->Begin());
  auto st = impl_->catalog->DequeueIndexed(ids);
  if (st) st = impl_->catalog->Commit();
  if (!st) impl_->catalog->Rollback();
  return st;
}

Status Archive::HandToIndex(const std::vector<int64_t>& ids) {
  if (ids.empty()) return OkStatus();
  std::vector<catalog::IntentRow> rows;
  const int64_t now = NowSeconds();
  for (int64_t id : ids) rows.push_back({0, static_cast<int>(IntentKind::kIndex), id, "", "", "", now, {}, {}, ""});
  return InTransaction([&]() -> Status {
    MK_RETURN_IF_ERROR(impl_->catalog->AddIntents(rows));
    return impl_->catalog->DequeueIndexed(ids);
  });
}

Status Archive::IndexCommitted(const std::vector<int64_t>& still_pending) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->Intents(static_cast<int>(IntentKind::kIndex), std::nullopt, true));
  const std::set<int64_t> keep(still_pending.begin(), still_pending.end());
  std::set<int64_t> kept;
  std::vector<int64_t> drop;
  for (const auto& r : rows) {
    // One intent per message is kept; repeats and committed ones go.
    if (!keep.count(r.message) || !kept.insert(r.message).second) drop.push_back(r.id);
  }
  if (drop.empty()) return OkStatus();
  return InTransaction([&] { return impl_->catalog->RemoveIntents(drop); });
}

Result<std::vector<int64_t>> Archive::IndexInFlight() {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->Intents(static_cast<int>(IntentKind::kIndex), std::nullopt, true));
  std::set<int64_t> ids;
  for (const auto& r : rows) ids.insert(r.message);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

Status Archive::QueueAllForIndex() {
  if (impl_->mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  MK_RETURN_IF_ERROR(impl_->catalog->Begin());
  auto st = impl_->catalog->QueueAllForIndex();
  if (st) st = impl_->catalog->Commit();
  if (!st) impl_->catalog->Rollback();
  return st;
}

Result<std::vector<int64_t>> Archive::ThreadMessages(int64_t thread) { return impl_->catalog->ThreadMessages(thread); }

namespace {

// An encrypted archive (one with a key file) is opened only with its keys,
// and keys are never used on a plain archive.
Status CheckKeys(const std::string& dir, const ArchiveOptions& options) {
  const bool encrypted = crypto::IsEncrypted(dir);
  if (encrypted && !options.keys) {
    return MakeError(ErrorCode::kFailedPrecondition, "the archive in " + dir + " is encrypted; its passphrase is needed");
  }
  if (!encrypted && options.keys) {
    return MakeError(ErrorCode::kFailedPrecondition, "the archive in " + dir + " is not encrypted (no key file)");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Archive>> Archive::Create(const std::string& dir, const ArchiveOptions& options) {
  MK_RETURN_IF_ERROR(CheckKeys(dir, options));
  std::error_code ec;
  const bool empty_before = !std::filesystem::exists(dir, ec) || std::filesystem::is_empty(dir, ec);
  MK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // An empty archive directory made beforehand (e.g. by an installer) is
  // made private too; a directory that already holds other files keeps the
  // mode its owner chose (the archive's own files are 0600 regardless).
  if (empty_before && ::chmod(dir.c_str(), 0700) != 0) {
    return MakeError(ErrorCode::kIoError, dir + ": cannot make it private (0700): " + ErrnoText(errno));
  }
  std::string cat_path = dir + "/" + kCatalogFile;
  if (::access(cat_path.c_str(), F_OK) == 0) {
    return MakeError(ErrorCode::kFailedPrecondition, "an archive already exists in " + dir);
  }
  // Packs without a catalog are an archive whose catalog was lost: a new
  // empty catalog would disown them. Rebuild instead.
  for (const auto& e : std::filesystem::directory_iterator(dir + "/" + kPacksDir, ec)) {
    if (e.path().extension() == ".pack") {
      return MakeError(ErrorCode::kFailedPrecondition,
                       dir + " holds pack files but no catalog; run `mailkeep rebuild-catalog` to recover it");
    }
  }
  {
    LockFile lock;
    MK_RETURN_IF_ERROR(lock.Acquire(dir + "/" + kLockFile));
    MK_ASSIGN_OR_RETURN(auto cat, catalog::Catalog::Open(cat_path, /*create=*/true, /*read_only=*/false,
                                                         /*migrate=*/true, CatalogKey(options)));
    MK_RETURN_IF_ERROR(MakeDirs(dir + "/" + kPacksDir, 0700));
    MK_RETURN_IF_ERROR(SyncDir(dir));
    const auto parent = std::filesystem::absolute(dir).parent_path().string();
    MK_RETURN_IF_ERROR(SyncDir(parent.empty() ? "/" : parent));
  }
  return Open(dir, OpenMode::kReadWrite, options);
}

Result<std::unique_ptr<Archive>> Archive::Open(const std::string& dir, OpenMode mode, const ArchiveOptions& options) {
  // Keys first: an encrypted catalog is read only with its key.
  MK_RETURN_IF_ERROR(CheckKeys(dir, options));
  MK_RETURN_IF_ERROR(CheckCatalogBesidePacks(dir, CatalogKey(options)));
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->options = options;
  impl->mode = mode;
  impl->workers = WorkerCount(options.workers);
  if (mode == OpenMode::kReadWrite) {
    MK_RETURN_IF_ERROR(impl->lock.Acquire(dir + "/" + kLockFile, options.lock_wait_seconds));
  }
  if (auto st = impl->OpenStores(); !st) return std::unexpected(WithRebuildHint(st.error()));
  return std::unique_ptr<Archive>(new Archive(std::move(impl)));
}

// ARCHIVE/holds (store/holds_file.h), defined with Hold below: brings the
// file in line with the catalog's holds on a writable open, and puts its
// holds back into a rebuilt catalog.
static Status ReconcileHoldsFile(catalog::Catalog& cat, const std::string& dir, const crypto::ArchiveKeys* keys);
static Status RestoreHolds(catalog::Catalog& cat, const std::string& dir, const crypto::ArchiveKeys* keys,
                           std::vector<std::string>& problems);

Status Archive::Impl::OpenStores() {
  const bool writable = mode == OpenMode::kReadWrite;
  // A read-only open of a WAL database still needs write access to the
  // -shm file; open read-write but never write from this handle, and only
  // the writer (holding the lock) migrates.
  MK_ASSIGN_OR_RETURN(catalog, catalog::Catalog::Open(dir + "/" + kCatalogFile, false, /*read_only=*/false, writable,
                                                      CatalogKey(options)));
  const blobs::PackStoreOptions popts = PackOptions(options);
  if (writable) {
    MK_ASSIGN_OR_RETURN(auto known, KnownPackEnds());
    auto opened = blobs::PackStore::Open(dir + "/" + kPacksDir, popts, known);
    if (!opened) return std::unexpected(WithUnknownPackHint(opened.error()));
    packs = std::move(*opened);
    packs->SetNewPackHook([this](uint32_t closing, uint64_t closing_len, uint32_t next) {
      return RecordNewPack(closing, closing_len, next);
    });
  } else {
    MK_ASSIGN_OR_RETURN(packs, blobs::PackStore::OpenReadOnly(dir + "/" + kPacksDir, popts));
  }
  MK_RETURN_IF_ERROR(ReloadDictionaries());
  if (!writable) return OkStatus();
  // Archives made before repair files get them now (each from a pack
  // record that verifies); a damaged or missing one is replaced.
  MK_RETURN_IF_ERROR(packs->WriteMissingRepairFiles());
  MK_RETURN_IF_ERROR(ReconcileHoldsFile(*catalog, dir, options.keys.get()));
  MK_ASSIGN_OR_RETURN(since_dictionary, catalog->CountBlobsWithDict(packs->current_dictionary()));
  return OkStatus();
}

// The end of every pack the catalog knows: its recorded end, or further
// where rows point further (archives written before every pack's end was
// recorded kept only the end of the pack a batch finished in).
Result<blobs::PackStore::PackEnds> Archive::Impl::KnownPackEnds() {
  MK_ASSIGN_OR_RETURN(auto rows, catalog->PackEnds());
  blobs::PackStore::PackEnds known(rows.begin(), rows.end());
  const uint32_t last = known.empty() ? 0 : known.rbegin()->first;
  // The catalog must not point past the end it committed: if it does
  // (a catalog from elsewhere, a half-made one), opening for writing would
  // move referenced records aside. Refuse and change nothing.
  MK_ASSIGN_OR_RETURN(auto referenced, catalog->ReferencedPackEnds(blobs::kRecordHeaderSize));
  for (const auto& [pack, pack_end] : referenced) {
    if (pack > last || (pack == last && pack_end > known[last])) {
      return MakeError(ErrorCode::kCorruption,
                       "catalog " + dir + "/" + kCatalogFile + " points at pack " + std::to_string(pack) +
                           " up to byte " + std::to_string(pack_end) + ", past its committed end (pack " +
                           std::to_string(last) + ", " + std::to_string(last == 0 ? 0 : known[last]) +
                           " bytes); nothing was changed: run `mailkeep verify`, or `mailkeep rebuild-catalog`");
    }
    known[pack] = std::max(known[pack], pack_end);
  }
  return known;
}

// Opens a batch's transaction with what the batch wrote before it: its
// dictionary's row and the final ends of the packs it rolled away from.
Status Archive::Impl::BeginBatchCommit() {
  MK_RETURN_IF_ERROR(catalog->Begin());
  if (new_dictionary) MK_RETURN_IF_ERROR(catalog->AddDictionary(*new_dictionary));
  for (const auto& [pack, len] : rolled_ends) MK_RETURN_IF_ERROR(catalog->SetPackCommitted(pack, len));
  return OkStatus();
}

// NewPackHook: the new pack is recorded (at length 0) in its own committed
// transaction before its file exists, so no pack ever holds bytes the
// catalog does not know of; the end of the pack left behind is recorded
// with the batch that filled it.
Status Archive::Impl::RecordNewPack(uint32_t closing, uint64_t closing_len, uint32_t next) {
  MK_RETURN_IF_ERROR(catalog->Begin());
  auto st = catalog->SetPackCommitted(next, 0);
  if (st) st = catalog->Commit();
  if (!st) {
    catalog->Rollback();
    return st;
  }
  if (closing != 0) rolled_ends.emplace_back(closing, closing_len);
  return OkStatus();
}

// Each dictionary has two sources, its pack record and its repair file:
// a damaged one is reported with the one that was used instead; only when
// both are damaged are its messages lost (each is also named by Verify).
Status Archive::Impl::VerifyDictionaries(const std::function<void(const VerifyProblem&)>& on_problem) {
  MK_ASSIGN_OR_RETURN(auto dicts, catalog->Dictionaries());
  for (const auto& d : dicts) {
    blobs::BlobLocation loc{d.pack, d.offset, d.stored_len, d.raw_len, d.id};
    blobs::DictionaryCheck c = packs->CheckDictionary(loc);
    if (c.pack_damage.empty() && c.repair_damage.empty()) continue;
    const std::string name = "dictionary " + std::to_string(d.id);
    MK_ASSIGN_OR_RETURN(int64_t users, catalog->CountBlobsWithDict(d.id));
    const std::string count = std::to_string(users) + " messages compressed with it";
    if (!c.readable) {
      on_problem({0, "", name + " is damaged in its pack record (" + c.pack_damage + ") and in its repair file (" +
                             c.repair_damage + "); " + count + " cannot be read"});
    } else if (!c.pack_damage.empty()) {
      on_problem({0, "", name + ": its pack record is damaged (" + c.pack_damage + "); used the copy rebuilt from " +
                             packs->RepairFilePath(d.id) + " instead, so the " + count + " still read"});
    } else if (!c.repair_damage.empty()) {
      on_problem({0, "", name + ": its repair file is damaged or missing (" + c.repair_damage +
                             "); used the pack record, which is intact (the next writing command rewrites the "
                             "repair file)"});
    }
  }
  return OkStatus();
}

// Only tells the pack store where each dictionary record is; a record is
// read when a message needs it.
Status Archive::Impl::ReloadDictionaries() {
  MK_ASSIGN_OR_RETURN(auto dicts, catalog->Dictionaries());
  for (const auto& d : dicts) {
    MK_RETURN_IF_ERROR(packs->RegisterDictionary(d.id, {d.pack, d.offset, d.stored_len, d.raw_len, d.id}));
  }
  return OkStatus();
}

// Reservoir sampling (Algorithm R) over the messages since the last
// dictionary; `since_dictionary` counts them, this one included.
void Archive::Impl::GatherSample(std::string_view raw) {
  std::string_view s = raw.substr(0, kMaxSampleBytes);
  if (samples.size() < kMaxSamples) {
    samples.emplace_back(s);
    return;
  }
  sample_rng ^= sample_rng << 13;
  sample_rng ^= sample_rng >> 7;
  sample_rng ^= sample_rng << 17;
  uint64_t j = sample_rng % static_cast<uint64_t>(since_dictionary);
  if (j < kMaxSamples) samples[j].assign(s);
}

Result<bool> Archive::Impl::DictionaryDue(catalog::Catalog& cat) {
  if (options.dictionary_after == 0) return false;
  size_t threshold = packs->current_dictionary() == 0 ? options.dictionary_after : options.dictionary_retrain_after;
  if (threshold == 0 || static_cast<size_t>(since_dictionary) < threshold) return false;
  // Many small runs (a nightly sync) each see few messages: top the sample
  // up from what the archive already holds since the last dictionary.
  const size_t wanted = std::min<size_t>(kMaxSamples, static_cast<size_t>(since_dictionary));
  if (samples.size() < wanted / 2) {
    MK_ASSIGN_OR_RETURN(auto recent, cat.RecentBlobs(packs->current_dictionary(), wanted - samples.size()));
    for (const auto& b : recent) {
      auto raw = packs->Read({b.pack, b.offset, b.stored_len, b.raw_len, b.dict}, /*verify_hash=*/false);
      if (raw) samples.emplace_back(std::string_view(*raw).substr(0, kMaxSampleBytes));
    }
  }
  if (samples.size() < 64) return false;
  return true;
}

Result<std::string> Archive::Impl::TrainFromSamples() {
  return TrainOn(std::vector<std::string_view>(samples.begin(), samples.end()), options.dictionary_size);
}

Status Archive::Impl::InstallDictionary(const Result<std::string>& dict) {
  samples.clear();
  since_dictionary = 0;
  if (!dict) return OkStatus();  // training can fail on odd samples; keep going without
  MK_ASSIGN_OR_RETURN(auto added, packs->AddDictionary(*dict));
  const blobs::BlobLocation& loc = added.second;
  new_dictionary = catalog::DictionaryRow{added.first, loc.pack, loc.offset, loc.stored_len, loc.raw_len};
  return OkStatus();
}

Result<std::vector<IngestOutcome>> Archive::Ingest(std::vector<RawMessage>&& batch,
                                                   const mime::ParseLimits* keep_parsed) {
  Impl& s = *impl_;
  if (s.mode != OpenMode::kReadWrite) {
    return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  }
  if (s.needs_reopen) {
    return MakeError(ErrorCode::kFailedPrecondition, "an earlier batch failed; reopen the archive");
  }
  const size_t n = batch.size();
  std::vector<IngestOutcome> out(n);
  if (n == 0) return out;

  // 1. Hash everything (workers).
  // The content address (keyed in an encrypted archive); callers are told
  // the message's plain SHA-256 either way.
  std::vector<Sha256Digest> sha(n);
  MK_RETURN_IF_ERROR(ParallelFor(n, s.workers, [&](size_t i) {
    sha[i] = s.ContentHash(batch[i].bytes);
    out[i].sha256 = ToHex(s.options.keys ? Sha256(batch[i].bytes) : sha[i]);
  }));

  // 2. Classify: known blob, first copy in this batch, or repeat in batch.
  enum class Kind { kNew, kKnown, kRepeat };
  std::vector<Kind> kind(n, Kind::kNew);
  std::vector<size_t> first_of(n);
  std::unordered_map<std::string, size_t> seen;
  std::vector<size_t> fresh;
  for (size_t i = 0; i < n; ++i) {
    std::string key(reinterpret_cast<const char*>(sha[i].data()), sha[i].size());
    if (auto it = seen.find(key); it != seen.end()) {
      kind[i] = Kind::kRepeat;
      first_of[i] = it->second;
      continue;
    }
    seen.emplace(key, i);
    MK_ASSIGN_OR_RETURN(auto existing, s.catalog->FindBySha(sha[i]));
    if (existing) {
      kind[i] = Kind::kKnown;
      out[i].id = *existing;
    } else {
      fresh.push_back(i);
    }
  }

  // No catalog transaction is open while records are appended: a pack roll
  // commits the new pack's row on its own (Impl::RecordNewPack).
  const uint32_t dictionary_before = s.packs->current_dictionary();
  auto fail = [&](const Error& e) -> Result<std::vector<IngestOutcome>> {
    s.catalog->Rollback();  // a no-op before step 6
    if (s.packs->current_dictionary() != dictionary_before) s.needs_reopen = true;
    s.rolled_ends.clear();  // their tails are past the recorded ends: cut at the next open
    s.new_dictionary.reset();
    return std::unexpected(e);
  };

  // 3. Train a dictionary when enough messages have gone by. With the
  // default batch of 1,000 and dictionary_retrain_after = 1,000 every
  // batch gets a dictionary trained on itself, which is what makes the
  // frames small: mail in a batch quotes and repeats mail in the same batch.
  // Training runs on its own thread while the workers parse; its record is
  // made durable together with this batch's frames.
  // A batch with no new message stores nothing, so it trains nothing either.
  bool train = false;
  if (s.options.dictionary_after > 0 && !fresh.empty()) {
    for (size_t i : fresh) {
      ++s.since_dictionary;
      s.GatherSample(batch[i].bytes);
    }
    auto due = s.DictionaryDue(*s.catalog);
    if (!due) return fail(due.error());
    train = *due;
  }
  Result<std::string> trained = MakeError(ErrorCode::kInternal, "not trained");
  std::thread trainer;
  if (train) {
    try {
      trainer = std::thread([&] { trained = s.TrainFromSamples(); });
    } catch (const std::system_error&) {
      trained = s.TrainFromSamples();  // no thread to spare: train here
    }
  }

  // 4. Parse (workers, beside the trainer), then compress with the new
  // dictionary (workers).
  std::vector<catalog::MessageRow> rows(fresh.size());
  std::vector<Result<blobs::CompressedBlob>> frames(fresh.size(), MakeError(ErrorCode::kInternal, "not run"));
  mime::ParseLimits limits;
  limits.extract_text = false;
  if (keep_parsed != nullptr) limits = *keep_parsed;
  auto parsed = ParallelFor(fresh.size(), s.workers, [&](size_t j) {
    auto m = std::make_shared<mime::Message>(mime::ParseMessage(batch[fresh[j]].bytes, limits));
    rows[j] = RowFromParsed(*m);
    if (keep_parsed != nullptr) out[fresh[j]].parsed = std::move(m);
  });
  if (trainer.joinable()) trainer.join();
  if (!parsed) return fail(parsed.error());
  if (train) {
    if (auto st = s.InstallDictionary(trained); !st) return fail(st.error());
  }
  if (auto st = ParallelFor(fresh.size(), s.workers, [&](size_t j) {
        size_t i = fresh[j];
        frames[j] = s.packs->Compress(batch[i].bytes, sha[i]);
      });
      !st) {
    return fail(st.error());
  }

  // 5. Append frames, then make them durable before the catalog points at them.
  for (size_t j = 0; j < fresh.size(); ++j) {
    size_t i = fresh[j];
    if (!frames[j]) {
      out[i].status = IngestStatus::kFailed;
      out[i].error = frames[j].error().message();
      continue;
    }
    auto loc = s.packs->Append(*frames[j]);
    if (!loc) return fail(loc.error());
    auto& b = rows[j].blob;
    b.sha256 = sha[i];
    b.pack = loc->pack;
    b.offset = loc->offset;
    b.stored_len = loc->stored_len;
    b.raw_len = loc->raw_len;
    b.dict = loc->dict_id;
    frames[j] = MakeError(ErrorCode::kInternal, "appended");  // free the frame
  }
  if (auto st = s.packs->Sync(); !st) return fail(st.error());

  // 6. One transaction: dictionary, blobs, messages, locations, pack ends.
  if (auto st = s.BeginBatchCommit(); !st) return fail(st.error());
  const int64_t now = NowSeconds();
  for (size_t j = 0; j < fresh.size(); ++j) {
    size_t i = fresh[j];
    if (out[i].status == IngestStatus::kFailed && !out[i].error.empty()) continue;
    rows[j].added_at = now;
    auto id = s.catalog->InsertMessage(rows[j]);
    if (!id) return fail(id.error());
    if (auto t = s.catalog->AssignThread(*id, rows[j].message_id, rows[j].thread_links); !t) return fail(t.error());
    if (auto q = s.catalog->QueueForIndex(*id); !q) return fail(q.error());
    out[i].id = *id;
    out[i].status = IngestStatus::kStored;
  }
  for (size_t i = 0; i < n; ++i) {
    if (kind[i] == Kind::kRepeat) {
      const IngestOutcome& first = out[first_of[i]];
      if (first.status == IngestStatus::kFailed) {
        out[i] = first;
        continue;
      }
      out[i].id = first.id;
    }
    if (out[i].status == IngestStatus::kFailed && kind[i] == Kind::kNew) continue;
    auto change = s.catalog->AddLocation(out[i].id, batch[i].origin, now);
    if (!change) return fail(change.error());
    if (kind[i] != Kind::kNew) {
      out[i].status = *change == catalog::LocationChange::kAdded ? IngestStatus::kDuplicate
                                                                  : IngestStatus::kKnownLocation;
      // A new place or new flags change what the index knows of it.
      if (*change != catalog::LocationChange::kUnchanged) {
        if (auto q = s.catalog->QueueForIndex(out[i].id); !q) return fail(q.error());
      }
    }
  }
  if (auto st = s.catalog->SetPackCommitted(s.packs->current_pack(), s.packs->current_pack_len()); !st) {
    return fail(st.error());
  }
  if (auto st = s.catalog->Commit(); !st) return fail(st.error());  // fail() rolls back
  s.rolled_ends.clear();
  s.new_dictionary.reset();
  if (s.options.debug_crash_after_commits > 0 && ++s.commits >= s.options.debug_crash_after_commits) {
    std::abort();
  }
  return out;
}

Result<std::string> Archive::ReadRaw(int64_t id) {
  MK_ASSIGN_OR_RETURN(auto row, impl_->catalog->GetMessage(id));
  if (!row) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id));
  blobs::BlobLocation loc{row->blob.pack, row->blob.offset, row->blob.stored_len, row->blob.raw_len, row->blob.dict};
  auto read = impl_->packs->Read(loc, /*verify_hash=*/false);
  if (!read && read.error().code() == ErrorCode::kFailedPrecondition) {
    MK_RETURN_IF_ERROR(impl_->ReloadDictionaries());
    read = impl_->packs->Read(loc, /*verify_hash=*/false);
  }
  MK_ASSIGN_OR_RETURN(std::string raw, std::move(read));
  if (impl_->ContentHash(raw) != row->blob.sha256) {
    return MakeError(ErrorCode::kCorruption, "message " + std::to_string(id) + ": stored bytes do not match their hash");
  }
  return raw;
}

Result<std::optional<MessageInfo>> Archive::GetInfo(int64_t id) {
  MK_ASSIGN_OR_RETURN(auto row, impl_->catalog->GetMessage(id));
  if (!row) return std::optional<MessageInfo>();
  MessageInfo info;
  info.id = row->id;
  info.sha256 = ToHex(row->blob.sha256);
  info.size = row->blob.raw_len;
  info.message_id = row->message_id;
  info.subject = row->subject;
  info.date = row->date;
  info.added_at = row->added_at;
  info.has_attachments = row->has_attachments;
  info.thread = row->thread;
  info.defects = row->defects;
  for (const auto& a : row->addresses) {
    mime::Address addr{a.name, a.address, {}};
    switch (a.role) {
      case catalog::AddressRole::kFrom: info.from.push_back(addr); break;
      case catalog::AddressRole::kSender: info.sender.push_back(addr); break;
      case catalog::AddressRole::kReplyTo: info.reply_to.push_back(addr); break;
      case catalog::AddressRole::kTo: info.to.push_back(addr); break;
      case catalog::AddressRole::kCc: info.cc.push_back(addr); break;
      case catalog::AddressRole::kBcc: info.bcc.push_back(addr); break;
    }
  }
  for (const auto& p : row->parts) info.parts.push_back({p.path, p.content_type, p.charset, p.disposition, p.filename, p.size});
  MK_ASSIGN_OR_RETURN(auto locs, impl_->catalog->GetLocations(id));
  for (auto& l : locs) {
    info.locations.push_back({l.source, l.account, l.folder, l.key, l.uidvalidity, l.flags, l.internal_date, l.seen_at,
                              l.deleted_at, l.gone_at});
  }
  return std::optional<MessageInfo>(std::move(info));
}

Result<std::vector<MessageInfo>> Archive::GetInfos(const std::vector<int64_t>& ids) {
  MK_RETURN_IF_ERROR(impl_->catalog->BeginRead());
  std::vector<MessageInfo> infos;
  infos.reserve(ids.size());
  for (int64_t id : ids) {
    auto info = GetInfo(id);
    if (!info) {
      impl_->catalog->Rollback();
      return std::unexpected(std::move(info).error());
    }
    if (*info) infos.push_back(std::move(**info));
  }
  MK_RETURN_IF_ERROR(impl_->catalog->Commit());
  return infos;
}

Result<std::vector<int64_t>> Archive::FindByMessageId(const std::string& message_id) {
  std::string mid = message_id;
  if (mid.size() >= 2 && mid.front() == '<' && mid.back() == '>') mid = mid.substr(1, mid.size() - 2);
  return impl_->catalog->FindByMessageId(mid);
}

Result<std::vector<int64_t>> Archive::AllIds() { return impl_->catalog->AllIds(); }

static uint64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

Result<ArchiveStats> Archive::Stats() {
  MK_ASSIGN_OR_RETURN(auto cs, impl_->catalog->Stats());
  ArchiveStats s;
  s.messages = cs.messages;
  s.locations = cs.locations;
  s.raw_bytes = cs.raw_bytes;
  s.dictionaries = cs.dictionaries;
  MK_ASSIGN_OR_RETURN(s.pack_bytes, impl_->packs->TotalBytes());
  std::string cat = impl_->dir + "/" + kCatalogFile;
  s.catalog_bytes = FileSize(cat) + FileSize(cat + "-wal");
  s.stored_bytes = s.pack_bytes + s.catalog_bytes;
  for (const auto& p : cs.per_source) s.per_source.push_back({p.source, p.account, p.locations, p.messages});
  return s;
}

Result<int64_t> Archive::Verify(bool deep, const std::function<void(const VerifyProblem&)>& on_problem,
                                const std::function<void(int64_t, int64_t)>& on_progress) {
  VerifyOptions options;
  options.deep = deep;
  MK_ASSIGN_OR_RETURN(VerifyResult r, Verify(options, on_problem, on_progress));
  return r.checked;
}

Result<VerifyResult> Archive::Verify(const VerifyOptions& options,
                                     const std::function<void(const VerifyProblem&)>& on_problem,
                                     const std::function<void(int64_t, int64_t)>& on_progress) {
  if (options.of == 0 || options.subset == 0 || options.subset > options.of || options.chunk == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "verify subset must be N/M with 1 <= N <= M");
  }
  Impl& s = *impl_;
  auto now = [&] { return options.clock ? options.clock() : std::chrono::steady_clock::now(); };
  MK_ASSIGN_OR_RETURN(std::string integrity, s.catalog->CheckIntegrity());
  if (!integrity.empty()) on_problem({0, "", "catalog integrity check failed: " + integrity});

  MK_RETURN_IF_ERROR(s.VerifyDictionaries(on_problem));

  std::vector<int64_t> all_ids;
  MK_ASSIGN_OR_RETURN(auto all_blobs, s.catalog->AllBlobs(&all_ids));
  // After listing the blobs: every dictionary they use is committed by now.
  MK_RETURN_IF_ERROR(s.ReloadDictionaries());
  // This run's messages, ascending by id so that a stopped run can resume.
  std::vector<std::pair<int64_t, catalog::BlobRow>> todo;
  for (size_t i = 0; i < all_blobs.size(); ++i) {
    const int64_t id = all_ids[i];
    if (id > options.after_id && static_cast<uint64_t>(id) % options.of == options.subset - 1) {
      todo.emplace_back(id, all_blobs[i]);
    }
  }
  std::sort(todo.begin(), todo.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t n = todo.size();
  std::vector<std::string> problems(n);
  std::atomic<int64_t> done{0};
  VerifyResult result;
  size_t start = 0;
  for (; start < n; start += options.chunk) {
    if (options.deadline && now() >= *options.deadline) break;
    size_t end = std::min(n, start + options.chunk);
    MK_RETURN_IF_ERROR(ParallelFor(end - start, s.workers, [&](size_t k) {
      size_t i = start + k;
      const auto& b = todo[i].second;
      blobs::BlobLocation loc{b.pack, b.offset, b.stored_len, b.raw_len, b.dict};
      auto raw = s.packs->Read(loc, /*verify_hash=*/false);
      if (!raw) {
        problems[i] = raw.error().message();
      } else if (s.ContentHash(*raw) != b.sha256) {
        problems[i] = "stored bytes do not match the catalog's hash " + ToHex(b.sha256);
      } else if (options.deep) {
        mime::Message m = mime::ParseMessage(*raw);
        (void)m;  // parsing must not crash or hang; defects are normal for real mail
      }
      ++done;
    }));
    result.last_id = todo[end - 1].first;
    if (on_progress) on_progress(done.load(), static_cast<int64_t>(n));
  }
  const size_t read = std::min(start, n);
  result.checked = static_cast<int64_t>(read);
  result.complete = read == n;
  for (size_t i = 0; i < read; ++i) {
    if (problems[i].empty()) continue;
    VerifyProblem p{todo[i].first, "", problems[i]};
    if (auto row = s.catalog->GetMessage(todo[i].first); row && *row) p.message_id = (*row)->message_id;
    on_problem(p);
  }
  return result;
}

Result<RepackReport> Archive::Repack(const RepackOptions& options,
                                     const std::function<void(int64_t, int64_t)>& on_progress) {
  Impl& s = *impl_;
  if (s.mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  if (s.needs_reopen) return MakeError(ErrorCode::kFailedPrecondition, "an earlier batch failed; reopen the archive");
  const DictionaryTraining training{kMaxSamples, kMaxSampleBytes, [&s](const std::vector<std::string_view>& v) {
                                      return TrainOn(v, s.options.dictionary_size);
                                    }};
  auto report = RunRepack(*s.catalog, *s.packs, s.rolled_ends, training, options, on_progress);
  if (!report) {
    s.needs_reopen = true;  // the store may hold a dictionary the catalog does not
    return report;
  }
  // Samples gathered before may be of removed or recompressed messages.
  s.samples.clear();
  MK_ASSIGN_OR_RETURN(s.since_dictionary, s.catalog->CountBlobsWithDict(s.packs->current_dictionary()));
  const std::string aside = s.dir + "/" + kCatalogFile + ".old-";
  for (int n = 1; Exists(aside + std::to_string(n)); ++n) report->old_catalogs.push_back(aside + std::to_string(n));
  return report;
}

Result<RebuildReport> Archive::RebuildCatalog(const std::string& dir, const ArchiveOptions& options) {
  std::string cat_path = dir + "/" + kCatalogFile;
  std::string packs_dir = dir + "/" + kPacksDir;
  if (::access(packs_dir.c_str(), F_OK) != 0) {
    return MakeError(ErrorCode::kNotFound, "no packs in " + dir + "; nothing to rebuild from");
  }
  MK_RETURN_IF_ERROR(CheckKeys(dir, options));
  LockFile lock;
  MK_RETURN_IF_ERROR(lock.Acquire(dir + "/" + kLockFile));

  // Build beside the old catalog; only a complete rebuild replaces it, so a
  // kill or an error here leaves the archive exactly as it was.
  std::string tmp_path = cat_path + ".rebuild";
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) MK_RETURN_IF_ERROR(UnlinkIfThere(tmp_path + suffix));
  RebuildReport report;
  {
    MK_ASSIGN_OR_RETURN(auto cat, catalog::Catalog::Open(tmp_path, true, false, /*migrate=*/true, CatalogKey(options)));
    MK_ASSIGN_OR_RETURN(auto packs, blobs::PackStore::OpenReadOnly(packs_dir, PackOptions(options)));

    // The end of the last valid record of every pack (0 for a pack with
    // none): what the next writer keeps of each.
    blobs::PackStore::PackEnds ends;
    const int64_t now = NowSeconds();
    // A dictionary record must be readable before the blobs that use it
    // can be; a damaged one is reported here and its blobs below.
    auto add_dictionary = [&](const blobs::BlobLocation& loc) -> Status {
      auto bytes = packs->ReadDictionary(loc);
      if (!bytes) {
        report.problems.push_back("dictionary " + std::to_string(loc.dict_id) + " unreadable: " +
                                  bytes.error().message() + "; the messages compressed with it are lost");
        // (ReadDictionary already fell back to the record's repair file.)
        return OkStatus();
      }
      MK_RETURN_IF_ERROR(packs->LoadDictionary(loc.dict_id, *bytes));
      MK_RETURN_IF_ERROR(packs->RegisterDictionary(loc.dict_id, loc));
      catalog::DictionaryRow row{loc.dict_id, loc.pack, loc.offset, loc.stored_len, loc.raw_len};
      return cat->AddDictionary(row);
    };
    // A blob whose dictionary comes later (a repack moved the dictionary
    // record to a later pack) waits for the end of the scan.
    std::vector<blobs::ScannedRecord> deferred;
    auto add_blob = [&](const blobs::ScannedRecord& rec, bool last_chance) -> Status {
      MK_ASSIGN_OR_RETURN(auto existing, cat->FindBySha(rec.sha256));
      if (existing) return OkStatus();  // a second copy (e.g. from a rolled-back batch)
      auto raw = packs->Read(rec.location, /*verify_hash=*/true);
      if (!raw && !last_chance && raw.error().code() == ErrorCode::kFailedPrecondition) {
        deferred.push_back(rec);
        return OkStatus();
      }
      if (!raw) {
        report.problems.push_back("message " + ToHex(rec.sha256) + " skipped: " + raw.error().message());
        return OkStatus();
      }
      mime::ParseLimits limits;
      limits.extract_text = false;
      catalog::MessageRow row = RowFromParsed(mime::ParseMessage(*raw, limits));
      row.blob = {rec.sha256, rec.location.pack, rec.location.offset, rec.location.stored_len,
                  rec.location.raw_len, rec.location.dict_id};
      row.added_at = now;
      MK_ASSIGN_OR_RETURN(int64_t id, cat->InsertMessage(row));
      MK_RETURN_IF_ERROR(cat->AssignThread(id, row.message_id, row.thread_links));
      MK_RETURN_IF_ERROR(cat->QueueForIndex(id));
      ++report.messages;
      return OkStatus();
    };
    MK_RETURN_IF_ERROR(cat->Begin());
    auto scanned = packs->Scan(
        [&](const blobs::ScannedRecord& rec) -> Status {
          ends[rec.location.pack] = std::max(ends[rec.location.pack], rec.end);
          if (rec.kind == blobs::ScannedRecord::Kind::kDictionary) return add_dictionary(rec.location);
          if (rec.kind == blobs::ScannedRecord::Kind::kTombstone) {
            // Removed (delete, prune): every earlier copy is dead, those
            // waiting for a later dictionary too; a later one (archived
            // again since) is found after it.
            std::erase_if(deferred, [&](const blobs::ScannedRecord& d) { return d.sha256 == rec.sha256; });
            MK_ASSIGN_OR_RETURN(auto existing, cat->FindBySha(rec.sha256));
            if (!existing) return OkStatus();
            --report.messages;
            return cat->RemoveMessage(*existing, now);
          }
          return add_blob(rec, /*last_chance=*/false);
        },
        [&](uint32_t pack, uint64_t offset, const std::string& why) {
          report.problems.push_back("pack " + std::to_string(pack) + " offset " + std::to_string(offset) + ": " + why);
          ends.emplace(pack, 0);
        });
    for (const auto& rec : deferred) {
      if (scanned) scanned = add_blob(rec, /*last_chance=*/true);
    }
    if (!scanned) {
      cat->Rollback();
      return std::unexpected(scanned.error());
    }
    for (const auto& [pack, end] : ends) MK_RETURN_IF_ERROR(cat->SetPackCommitted(pack, end));
    MK_RETURN_IF_ERROR(RestoreHolds(*cat, dir, options.keys.get(), report.problems));
    MK_RETURN_IF_ERROR(cat->Commit());
    MK_RETURN_IF_ERROR(cat->Checkpoint());
  }
  // The rebuilt catalog's WAL is empty (checkpointed, closed): only the
  // catalog file moves in, and no WAL may stay beside a catalog it does not
  // belong to.
  for (const char* suffix : {"-wal", "-shm"}) MK_RETURN_IF_ERROR(UnlinkIfThere(tmp_path + suffix));
  MK_ASSIGN_OR_RETURN(report.old_catalog, MoveCatalogAside(cat_path));
  if (::rename(tmp_path.c_str(), cat_path.c_str()) != 0) {
    return MakeError(ErrorCode::kIoError, tmp_path + ": cannot move into place: " + ErrnoText(errno));
  }
  MK_RETURN_IF_ERROR(SyncDir(dir));
  // Ids may differ from the old catalog's, so the index (keyed by id) is
  // rebuilt from scratch: every message is queued for it, and the old index
  // must go whole.
  if (auto st = RemoveTree(dir + "/xapian"); !st) {
    return MakeError(st.error().code(), "the catalog was rebuilt, but its old index stays: " + st.error().message() +
                                            "; run `mailkeep reindex`");
  }
  return report;
}

}  // namespace mailkeep

namespace mailkeep {

// ---- Removal, legal hold, audit ------------------------------------------------

namespace {

std::string LoginName() {
  if (const char* u = std::getenv("USER"); u != nullptr && *u != '\0') return u;
  std::array<char, 4096> buf{};
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr) return found->pw_name;
  return "uid " + std::to_string(::getuid());
}

std::string HostName() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "";
  return buf.data();
}

// What the holds file must list: every hold of the catalog, and the
// entries of the file whose message the catalog does not have (a rebuild
// that could not read a held message keeps its hold for a later one). A
// damaged file counts as empty (it is rewritten).
Result<std::vector<holds::HeldMessage>> HoldsToKeep(catalog::Catalog& cat, const std::string& dir,
                                                    const crypto::ArchiveKeys* keys) {
  std::vector<holds::HeldMessage> out;
  MK_ASSIGN_OR_RETURN(auto rows, cat.Holds());
  for (auto& h : rows) {
    MK_ASSIGN_OR_RETURN(auto m, cat.GetMessage(h.message));
    if (!m) continue;
    out.push_back({m->blob.sha256, h.event.at, std::move(h.event.user), std::move(h.event.host),
                   std::move(h.event.command), std::move(h.event.query), std::move(h.event.reason)});
  }
  if (auto file = holds::Read(dir, keys); file && *file) {
    for (auto& h : **file) {
      MK_ASSIGN_OR_RETURN(auto known, cat.FindBySha(h.hash));
      if (!known) out.push_back(std::move(h));
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.hash < b.hash; });
  return out;
}

}  // namespace

static Status WriteHoldsFile(catalog::Catalog& cat, const std::string& dir, const crypto::ArchiveKeys* keys) {
  MK_ASSIGN_OR_RETURN(auto keep, HoldsToKeep(cat, dir, keys));
  return holds::Write(dir, keep, keys);
}

static Status ReconcileHoldsFile(catalog::Catalog& cat, const std::string& dir, const crypto::ArchiveKeys* keys) {
  MK_ASSIGN_OR_RETURN(auto keep, HoldsToKeep(cat, dir, keys));
  auto file = holds::Read(dir, keys);
  if (file && (*file ? **file == keep : keep.empty())) return OkStatus();
  return holds::Write(dir, keep, keys);
}

// Puts the holds of ARCHIVE/holds back into a rebuilt catalog, each with its
// audit event; a held message not in the packs, or a damaged file, is a
// problem the rebuild reports.
static Status RestoreHolds(catalog::Catalog& cat, const std::string& dir, const crypto::ArchiveKeys* keys,
                           std::vector<std::string>& problems) {
  auto file = holds::Read(dir, keys);
  if (!file) {
    problems.push_back(file.error().message() + "; legal holds were not restored: check `mailkeep hold --list`");
    return OkStatus();
  }
  for (const auto& h : file->value_or(std::vector<holds::HeldMessage>{})) {
    MK_ASSIGN_OR_RETURN(auto id, cat.FindBySha(h.hash));
    if (!id) {
      problems.push_back("a held message (content hash " + ToHex(h.hash) + ", held since " +
                         std::to_string(h.since) + ") is not in the packs; its hold is kept in " + dir + "/" +
                         holds::kHoldsFileName);
      continue;
    }
    MK_ASSIGN_OR_RETURN(int64_t ev, cat.AddAuditEvent({0, h.since, h.user, h.host, h.command, h.query, h.reason}));
    if (auto added = cat.AddHold(*id, ev); !added) return std::unexpected(added.error());
    MK_RETURN_IF_ERROR(cat.AddAuditMessage(ev, catalog::AuditAction::kHeld, *id));
  }
  return OkStatus();
}

namespace {

catalog::AuditEventRow EventRow(const AuditContext& who) {
  return {0, who.at != 0 ? who.at : NowSeconds(), who.user.empty() ? LoginName() : who.user,
          who.host.empty() ? HostName() : who.host, who.command, who.query, who.reason};
}

}  // namespace

Result<RemovalResult> Archive::Remove(const std::vector<int64_t>& ids, const AuditContext& who) {
  Impl& s = *impl_;
  if (s.mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  if (s.needs_reopen) return MakeError(ErrorCode::kFailedPrecondition, "an earlier batch failed; reopen the archive");
  RemovalResult result;
  std::vector<Sha256Digest> shas;
  for (int64_t id : std::set<int64_t>(ids.begin(), ids.end())) {
    MK_ASSIGN_OR_RETURN(auto row, s.catalog->GetMessage(id));
    MK_ASSIGN_OR_RETURN(bool held, s.catalog->IsHeld(id));
    if (!row) {
      ++result.missing;
    } else if (held) {
      result.held.push_back(id);
    } else {
      result.removed.push_back(id);
      shas.push_back(row->blob.sha256);
    }
  }
  if (result.removed.empty()) return result;
  // Tombstones first, durable; then the rows. Any failure leaves the
  // tombstones past the committed end, where this handle must not append
  // after them (its next commit would make them count): reopen.
  auto fail = [&](const Error& e) -> Result<RemovalResult> {
    s.catalog->Rollback();
    s.needs_reopen = true;
    s.rolled_ends.clear();
    return std::unexpected(e);
  };
  const catalog::AuditEventRow event = EventRow(who);
  for (const auto& sha : shas) {
    if (auto t = s.packs->AppendTombstone(sha, event.at); !t) return fail(t.error());
  }
  if (auto st = s.packs->Sync(); !st) return fail(st.error());
  auto body = [&]() -> Status {
    MK_RETURN_IF_ERROR(s.BeginBatchCommit());
    MK_ASSIGN_OR_RETURN(int64_t ev, s.catalog->AddAuditEvent(event));
    std::vector<int64_t> addresses;
    for (int64_t id : result.removed) {
      MK_ASSIGN_OR_RETURN(auto used, s.catalog->MessageAddressIds(id));
      addresses.insert(addresses.end(), used.begin(), used.end());
      MK_RETURN_IF_ERROR(s.catalog->AddAuditMessage(ev, catalog::AuditAction::kRemoved, id));
      MK_RETURN_IF_ERROR(s.catalog->RemoveMessage(id, event.at));
    }
    MK_RETURN_IF_ERROR(s.catalog->PruneAddresses(addresses));
    MK_RETURN_IF_ERROR(s.catalog->SetPackCommitted(s.packs->current_pack(), s.packs->current_pack_len()));
    return s.catalog->Commit();
  };
  if (auto st = body(); !st) return fail(st.error());
  s.rolled_ends.clear();
  if (s.options.debug_crash_after_commits > 0 && ++s.commits >= s.options.debug_crash_after_commits) std::abort();
  return result;
}

// Holds or releases, in one transaction with their audit entries (no event
// when no id is in the catalog).
Result<std::vector<int64_t>> Archive::ChangeHolds(const std::vector<int64_t>& ids, const AuditContext& who,
                                                  bool hold) {
  catalog::Catalog& cat = *impl_->catalog;
  std::vector<int64_t> changed;
  const catalog::AuditEventRow event = EventRow(who);
  MK_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    int64_t ev = 0;
    for (int64_t id : std::set<int64_t>(ids.begin(), ids.end())) {
      MK_ASSIGN_OR_RETURN(auto row, cat.GetMessage(id));
      if (!row) continue;
      if (ev == 0) {
        MK_ASSIGN_OR_RETURN(ev, cat.AddAuditEvent(event));
      }
      MK_ASSIGN_OR_RETURN(bool did, hold ? cat.AddHold(id, ev) : cat.RemoveHold(id));
      if (!did) continue;
      MK_RETURN_IF_ERROR(cat.AddAuditMessage(ev, hold ? catalog::AuditAction::kHeld : catalog::AuditAction::kReleased, id));
      changed.push_back(id);
    }
    // New holds reach the holds file before the catalog commits them ...
    return hold && !changed.empty() ? WriteHoldsFile(cat, impl_->dir, keys()) : OkStatus();
  }));
  // ... and releases leave it after: it never lacks a committed hold.
  if (!hold && !changed.empty()) {
    if (auto st = WriteHoldsFile(cat, impl_->dir, keys()); !st) {
      return MakeError(st.error().code(), "released, but " + st.error().message() +
                                              " still lists them (the next writer corrects it)");
    }
  }
  return changed;
}

Result<std::vector<int64_t>> Archive::Hold(const std::vector<int64_t>& ids, const AuditContext& who) {
  return ChangeHolds(ids, who, /*hold=*/true);
}

Result<std::vector<int64_t>> Archive::Release(const std::vector<int64_t>& ids, const AuditContext& who) {
  return ChangeHolds(ids, who, /*hold=*/false);
}

Result<std::vector<HoldInfo>> Archive::Holds() {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->Holds());
  std::vector<HoldInfo> out;
  for (auto& h : rows) {
    MK_ASSIGN_OR_RETURN(auto m, impl_->catalog->GetMessage(h.message));
    out.push_back({h.message, m ? m->message_id : "", m ? m->subject : "", std::move(h.event.reason),
                   std::move(h.event.user), std::move(h.event.host), h.event.at});
  }
  return out;
}

Result<bool> Archive::IsHeld(int64_t id) { return impl_->catalog->IsHeld(id); }

Result<std::vector<AuditEntry>> Archive::AuditTrail() {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->AuditTrail());
  std::vector<AuditEntry> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    out.push_back({r.event.id, r.event.at, std::move(r.event.user), std::move(r.event.host),
                   std::move(r.event.command), std::move(r.event.query), std::move(r.event.reason),
                   static_cast<AuditAction>(r.action), std::move(r.message_id), ToHex(r.sha256), r.date, r.size});
  }
  return out;
}

static std::vector<KnownLocation> ToKnown(std::vector<catalog::FolderLocationRow>&& rows) {
  std::vector<KnownLocation> out;
  out.reserve(rows.size());
  for (auto& r : rows) {
    out.push_back({std::move(r.key), r.uidvalidity, r.message, std::move(r.flags), r.seen_at, r.deleted_at, r.size,
                   r.internal_date, r.gone_at, r.listed_size, r.removed_at});
  }
  return out;
}

Result<std::vector<KnownLocation>> Archive::FolderLocations(const std::string& source, const std::string& account,
                                                            const std::string& folder) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->FolderLocations(source, account, folder));
  return ToKnown(std::move(rows));
}

Result<std::vector<KnownLocation>> Archive::RemovedPlaces(const std::string& source, const std::string& account,
                                                          const std::string& folder) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->RemovedPlaces(source, account, folder));
  return ToKnown(std::move(rows));
}

Result<int64_t> Archive::MarkRemovedGone(const std::string& source, const std::string& account,
                                         const std::string& folder,
                                         const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when) {
  return impl_->catalog->MarkRemovedPlacesGone(source, account, folder, places, when);
}

Status Archive::MarkDeleted(const std::string& source, const std::string& account, const std::string& folder,
                            uint64_t uidvalidity, const std::vector<std::pair<std::string, int64_t>>& keys,
                            int64_t when) {
  return impl_->catalog->MarkLocationsDeleted(source, account, folder, uidvalidity, keys, when);
}

Result<int64_t> Archive::MarkGone(const std::string& source, const std::string& account, const std::string& folder,
                                  const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when) {
  return impl_->catalog->MarkLocationsGone(source, account, folder, places, when);
}

Result<int64_t> Archive::MoveLocations(const std::string& source, const std::string& account,
                                       const std::string& folder, uint64_t from, uint64_t to,
                                       const std::vector<std::string>& keys) {
  return impl_->catalog->MoveLocations(source, account, folder, from, to, keys);
}

Status Archive::RecordRun(const SyncRun& run) {
  return impl_->catalog->AddRun({run.account, run.started, run.finished, run.fetched, run.bytes, run.deleted,
                                 run.errors});
}

namespace {

catalog::IntentRow ToRow(const Intent& i) {
  catalog::IntentRow r{i.id, static_cast<int>(i.kind), i.message, i.target, i.via, i.sender, i.created_at,
                       i.resolved_at, std::nullopt, i.reply};
  if (i.outcome != SendOutcome::kUnknown) r.outcome = static_cast<int>(i.outcome);
  return r;
}

Intent FromRow(catalog::IntentRow&& r) {
  const SendOutcome outcome = r.outcome ? static_cast<SendOutcome>(*r.outcome) : SendOutcome::kUnknown;
  return Intent{r.id, static_cast<IntentKind>(r.kind), r.message, std::move(r.target), std::move(r.via),
                std::move(r.sender), r.created_at, outcome, r.resolved_at, std::move(r.reply)};
}

std::vector<Intent> FromRows(std::vector<catalog::IntentRow>&& rows) {
  std::vector<Intent> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back(FromRow(std::move(r)));
  return out;
}

}  // namespace

// Runs `body` in one catalog transaction of a writable archive.
Status Archive::InTransaction(const std::function<Status()>& body) {
  if (impl_->mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  MK_RETURN_IF_ERROR(impl_->catalog->Begin());
  Status st = body();
  if (st) st = impl_->catalog->Commit();
  if (!st) impl_->catalog->Rollback();
  return st;
}

Status Archive::RecordIntents(std::vector<Intent>& intents) {
  if (intents.empty()) return OkStatus();
  std::vector<catalog::IntentRow> rows;
  for (Intent& i : intents) {
    if (i.created_at == 0) i.created_at = NowSeconds();
    if (i.outcome != SendOutcome::kUnknown && !i.resolved_at) i.resolved_at = i.created_at;  // a log entry
    rows.push_back(ToRow(i));
  }
  MK_RETURN_IF_ERROR(InTransaction([&] { return impl_->catalog->AddIntents(rows); }));
  for (size_t k = 0; k < rows.size(); ++k) intents[k].id = rows[k].id;
  return OkStatus();
}

Status Archive::ResolveIntents(const std::vector<Intent>& resolved) {
  if (resolved.empty()) return OkStatus();
  const int64_t now = NowSeconds();
  return InTransaction([&]() -> Status {
    for (const Intent& i : resolved) {
      catalog::IntentRow r = ToRow(i);
      r.resolved_at = now;
      MK_RETURN_IF_ERROR(impl_->catalog->ResolveIntent(r));
    }
    return OkStatus();
  });
}

Status Archive::ResolveAppend(int64_t intent, int64_t message, const Origin* place) {
  return InTransaction([&]() -> Status {
    MK_RETURN_IF_ERROR(impl_->catalog->RemoveIntents({intent}));
    if (place == nullptr) return OkStatus();
    MK_ASSIGN_OR_RETURN(auto change, impl_->catalog->AddLocation(message, *place, NowSeconds()));
    if (change == catalog::LocationChange::kUnchanged) return OkStatus();
    return impl_->catalog->QueueForIndex(message);
  });
}

Result<std::vector<Intent>> Archive::Intents(IntentKind kind, int64_t message) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->Intents(static_cast<int>(kind), message, false));
  return FromRows(std::move(rows));
}

Result<std::vector<Intent>> Archive::UnknownIntents(IntentKind kind) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->Intents(static_cast<int>(kind), std::nullopt, true));
  return FromRows(std::move(rows));
}

Result<std::vector<FolderState>> Archive::FolderStates(const std::string& source, const std::string& account) {
  MK_ASSIGN_OR_RETURN(auto rows, impl_->catalog->FolderStates(source, account));
  std::vector<FolderState> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({std::move(r.name), r.uidvalidity, r.uidnext, r.highestmodseq, r.gone_at});
  return out;
}

Status Archive::SetFolderState(const std::string& source, const std::string& account, const FolderState& state) {
  return impl_->catalog->SetFolderState(source, account,
                                        {state.name, state.uidvalidity, state.uidnext, state.highestmodseq, {}});
}

Status Archive::MarkFolderGone(const std::string& source, const std::string& account, const std::string& folder,
                               int64_t when) {
  return impl_->catalog->MarkFolderGone(source, account, folder, when);
}

Result<int64_t> Archive::UpdateFlags(const std::vector<Origin>& places) {
  return impl_->catalog->UpdateFlags(places);
}

Result<bool> Archive::AddLocation(int64_t id, const Origin& origin) {
  Impl& s = *impl_;
  if (s.mode != OpenMode::kReadWrite) return MakeError(ErrorCode::kFailedPrecondition, "archive opened read-only");
  MK_ASSIGN_OR_RETURN(auto row, s.catalog->GetMessage(id));
  if (!row) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id));
  bool changed = false;
  MK_RETURN_IF_ERROR(InTransaction([&]() -> Status {
    MK_ASSIGN_OR_RETURN(auto change, s.catalog->AddLocation(id, origin, NowSeconds()));
    changed = change != catalog::LocationChange::kUnchanged;
    return changed ? s.catalog->QueueForIndex(id) : OkStatus();
  }));
  return changed;
}

}  // namespace mailkeep
