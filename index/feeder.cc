#include "index/feeder.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "index/shards.h"
#include "store/mime/message.h"
#include "store/util/files.h"

namespace mailkeep::index {
namespace {

// Messages read and parsed at a time (one import batch), journaled and
// taken off the queue in one transaction, then handed to the writer (whose
// shard queues hold 512 each, so a chunk rarely waits for a shard).
constexpr size_t kChunk = 1000;
// A chunk's raw messages (all held until parsed) stop at this many bytes,
// judged from the catalog's sizes before reading; one message always fits.
constexpr uint64_t kChunkBytes = uint64_t{256} << 20;
// Messages per index commit. Parsed messages are freed as soon as their
// document is built, so this bounds only Xapian's own buffers. Measured on
// linux-mips with 2 shards (schema 3): see README "Measured".
constexpr size_t kCommitEvery = 5000;

// The journal file of older mailkeeps, adopted into the catalog on open.
constexpr const char* kJournalName = "in-flight";

void FillFromInfo(const MessageInfo& info, IndexDocument& doc) {
  doc.id = info.id;
  doc.size = info.size;
  doc.thread = info.thread;
  std::set<std::string> accounts, folders, flags;
  for (const auto& l : info.locations) {
    accounts.insert(l.account);
    if (l.gone_at) continue;  // no longer there: neither its folder nor its flags count
    folders.insert(l.folder);
    std::istringstream in(l.flags);
    for (std::string f; in >> f;) flags.insert(f);
  }
  doc.accounts.assign(accounts.begin(), accounts.end());
  doc.folders.assign(folders.begin(), folders.end());
  doc.flags.assign(flags.begin(), flags.end());
}

// Ids in a journal file left by an older mailkeep (ARCHIVE/xapian/in-flight,
// one id a line; a torn last line is dropped: its fsync never returned).
std::vector<int64_t> LegacyJournalIds(const std::string& path) {
  std::ifstream in(path);
  std::set<int64_t> ids;
  for (std::string line; std::getline(in, line);) {
    char* end = nullptr;
    const long long id = std::strtoll(line.c_str(), &end, 10);
    if (id > 0 && end != line.c_str() && *end == '\0') ids.insert(id);
  }
  return std::vector<int64_t>(ids.begin(), ids.end());
}

// ${XDG_CACHE_HOME:-$HOME/.cache}; "/.cache" when there is no home at all
// (not the archive directory: a copy of it must not hold the index).
std::string CacheHome() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return xdg;
  const char* home = std::getenv("HOME");
  if (home == nullptr || home[0] != '/') {
    const passwd* pw = ::getpwuid(::getuid());
    home = pw != nullptr && pw->pw_dir != nullptr && pw->pw_dir[0] == '/' ? pw->pw_dir : nullptr;
  }
  return std::string(home != nullptr ? home : "") + "/.cache";
}

}  // namespace

bool IndexIsCache(const Archive& archive) { return archive.keys() != nullptr; }

std::string IndexDir(const Archive& archive) {
  if (!IndexIsCache(archive)) return archive.dir() + "/xapian";
  // archive_id is 32 hex digits made by crypto::UnlockKeyFile: safe as a name.
  return CacheHome() + "/mailkeep/index/" + archive.keys()->archive_id;
}

Result<int64_t> RequeueLostIndex(Archive& archive) {
  const std::string dir = IndexDir(archive);
  if (!IndexIsCache(archive) || ::access(dir.c_str(), F_OK) == 0) return int64_t{0};
  MK_ASSIGN_OR_RETURN(std::vector<int64_t> all, archive.AllIds());
  MK_ASSIGN_OR_RETURN(int64_t queued, archive.PendingIndexCount());
  MK_ASSIGN_OR_RETURN(std::vector<int64_t> in_flight, InFlightIds(archive));
  const auto messages = static_cast<int64_t>(all.size());
  if (messages <= queued + static_cast<int64_t>(in_flight.size())) return int64_t{0};
  MK_RETURN_IF_ERROR(archive.QueueAllForIndex());
  return messages;
}

Status DropIndex(Archive& archive) {
  MK_RETURN_IF_ERROR(archive.QueueAllForIndex());
  return RemoveTree(IndexDir(archive));
}

mime::ParseLimits IndexParseLimits() {
  mime::ParseLimits limits;
  // Only the first max_body_bytes of the text are indexed; the parser
  // stops decoding there (the same text, cut at the same place).
  limits.max_text_bytes = IndexWriterOptions().max_body_bytes;
  return limits;
}

IndexFeeder::IndexFeeder(Archive& archive, int workers, Callbacks callbacks,
                         std::unique_ptr<IndexWriter> writer)
    : archive_(archive),
      workers_(workers > 0 ? workers : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))),
      callbacks_(std::move(callbacks)),
      writer_(std::move(writer)) {}

IndexFeeder::~IndexFeeder() = default;

Result<std::unique_ptr<IndexFeeder>> IndexFeeder::Open(Archive& archive, int workers, Callbacks callbacks,
                                                       const IndexWriterOptions& writer_options) {
  MK_ASSIGN_OR_RETURN(const int64_t requeued, RequeueLostIndex(archive));
  const std::string dir = IndexDir(archive);
  if (IndexIsCache(archive)) {
    MK_RETURN_IF_ERROR(MakeDirs(std::filesystem::path(dir).parent_path().string(), 0700));
  }
  MK_ASSIGN_OR_RETURN(auto writer, IndexWriter::Open(dir, writer_options));
  std::unique_ptr<IndexFeeder> feeder(new IndexFeeder(archive, workers, std::move(callbacks), std::move(writer)));
  feeder->result_.requeued = requeued;
  MK_RETURN_IF_ERROR(AdoptLegacyJournal(archive));
  MK_ASSIGN_OR_RETURN(feeder->replay_, InFlightIds(archive));
  return feeder;
}

Status AdoptLegacyJournal(Archive& archive) {
  const std::string path = IndexDir(archive) + "/" + kJournalName;
  if (::access(path.c_str(), F_OK) != 0) return OkStatus();
  std::vector<int64_t> known;
  for (int64_t id : LegacyJournalIds(path)) {
    auto info = archive.GetInfo(id);
    if (info && *info) known.push_back(id);  // a gone id has nothing to index
  }
  MK_RETURN_IF_ERROR(archive.HandToIndex(known));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return MakeError(ErrorCode::kIoError, "index journal " + path + ": " + std::strerror(errno));
  }
  return OkStatus();
}

Result<std::vector<int64_t>> InFlightIds(Archive& archive) { return archive.IndexInFlight(); }

Status IndexFeeder::Feed(std::unordered_map<int64_t, AtHand>* at_hand) {
  MK_ASSIGN_OR_RETURN(int64_t queued, archive_.PendingIndexCount());
  const int64_t total = done_ + queued + static_cast<int64_t>(replay_.size());
  const mime::ParseLimits limits = IndexParseLimits();
  for (;;) {
    // Journaled messages of a killed run first: they are off the queue.
    const bool replaying = !replay_.empty();
    std::vector<int64_t> ids;
    if (replaying) {
      const size_t n = std::min(kChunk, replay_.size());
      ids.assign(replay_.begin(), replay_.begin() + static_cast<std::ptrdiff_t>(n));
      replay_.erase(replay_.begin(), replay_.begin() + static_cast<std::ptrdiff_t>(n));
    } else {
      MK_ASSIGN_OR_RETURN(std::vector<int64_t> pending,
                          archive_.PendingIndex(kChunk + skipped_.size() + removing_.size()));
      for (int64_t id : pending) {
        if (!skipped_.count(id) && !removing_.count(id)) ids.push_back(id);
      }
    }
    if (ids.empty()) break;

    // Catalog reads stay on this thread (the Archive is single-threaded);
    // parsing runs on the workers. The chunk ends early at kChunkBytes; the
    // ids after it are taken next time.
    struct Work {
      std::string error;  // unreadable
      std::string raw;
      IndexDocument doc;
      bool gone = false;  // no longer in the catalog
    };
    std::vector<Work> work(ids.size());
    uint64_t chunk_bytes = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      auto info = archive_.GetInfo(ids[i]);
      if (!info) {
        work[i].error = info.error().message();
        continue;
      }
      if (!*info) {
        work[i].gone = true;
        continue;
      }
      if (i > 0 && chunk_bytes + (*info)->size > kChunkBytes) {
        if (replaying) replay_.insert(replay_.begin(), ids.begin() + static_cast<std::ptrdiff_t>(i), ids.end());
        ids.resize(i);
        work.resize(i);
        break;
      }
      chunk_bytes += (*info)->size;
      FillFromInfo(**info, work[i].doc);
      if (at_hand != nullptr) {
        if (auto it = at_hand->find(ids[i]); it != at_hand->end()) {
          if (it->second.parsed) {
            work[i].doc.message = std::move(it->second.parsed);
            at_hand->erase(it);
            continue;
          }
          if (!it->second.raw.empty()) {
            work[i].raw = std::move(it->second.raw);
            at_hand->erase(it);
            continue;
          }
        }
      }
      auto raw = archive_.ReadRaw(ids[i]);
      if (!raw) {
        work[i].error = raw.error().message();
        continue;
      }
      work[i].raw = std::move(*raw);
    }
    std::atomic<size_t> next{0};
    auto parse = [&] {
      for (size_t i = next++; i < work.size(); i = next++) {
        if (!work[i].error.empty() || work[i].gone || work[i].doc.message) continue;
        work[i].doc.message = std::make_shared<const mime::Message>(mime::ParseMessage(work[i].raw, limits));
        std::string().swap(work[i].raw);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < workers_ && static_cast<size_t>(t) < work.size(); ++t) pool.emplace_back(parse);
    parse();
    for (auto& t : pool) t.join();

    std::vector<int64_t> handing;  // journaled, then off the catalog's queue, then to the writer
    for (size_t i = 0; i < work.size(); ++i) {
      if (work[i].gone) {
        // Removed from the catalog (delete, prune, a tombstone at
        // rebuild): its document goes. It stays queued until the index
        // has committed the removal, so a killed run removes it again.
        MK_RETURN_IF_ERROR(writer_->Remove(ids[i]));
        removing_.insert(ids[i]);
        continue;
      }
      if (work[i].error.empty()) {
        handing.push_back(ids[i]);
        continue;
      }
      // Unreadable: reported and skipped, never silently dropped and never
      // holding up the rest of the chunk. From the queue it stays queued
      // (verify names it); from the journal it stays journaled.
      ++result_.failed;
      if (replaying) {
        retry_.push_back(ids[i]);
      } else {
        skipped_.insert(ids[i]);
      }
      if (callbacks_.on_problem) callbacks_.on_problem(ids[i], work[i].error);
    }
    MK_RETURN_IF_ERROR(archive_.HandToIndex(handing));
    for (size_t i = 0; i < work.size(); ++i) {
      if (work[i].gone || !work[i].error.empty()) continue;
      MK_RETURN_IF_ERROR(writer_->Add(std::move(work[i].doc)));
      in_flight_.push_back(ids[i]);
    }
    done_ += static_cast<int64_t>(ids.size());
    if (callbacks_.on_progress) callbacks_.on_progress(done_, std::max(total, done_));
    if (in_flight_.size() >= kCommitEvery) MK_RETURN_IF_ERROR(Commit());
  }
  return OkStatus();
}

Status IndexFeeder::Commit() {
  MK_RETURN_IF_ERROR(writer_->Commit());
  std::set<int64_t> refused;
  for (RefusedDocument& r : writer_->TakeRefused()) {
    if (!refused.insert(r.id).second) continue;
    retry_.push_back(r.id);
    ++result_.failed;
    if (callbacks_.on_problem) callbacks_.on_problem(r.id, r.error.message());
  }
  for (int64_t id : in_flight_) {
    if (!refused.count(id)) ++result_.indexed;
  }
  in_flight_.clear();
  if (!removing_.empty()) {
    MK_RETURN_IF_ERROR(archive_.MarkIndexed(std::vector<int64_t>(removing_.begin(), removing_.end())));
    result_.removed += static_cast<int64_t>(removing_.size());
    removing_.clear();
  }
  std::sort(retry_.begin(), retry_.end());
  retry_.erase(std::unique(retry_.begin(), retry_.end()), retry_.end());
  return archive_.IndexCommitted(retry_);
}

Result<CatchUpResult> CatchUpIndex(Archive& archive, int workers,
                                   const std::function<void(int64_t, int64_t)>& on_progress,
                                   const std::function<void(int64_t, const std::string&)>& on_problem) {
  MK_ASSIGN_OR_RETURN(const int64_t requeued, RequeueLostIndex(archive));
  MK_ASSIGN_OR_RETURN(int64_t total, archive.PendingIndexCount());
  MK_ASSIGN_OR_RETURN(auto in_flight, InFlightIds(archive));
  const bool legacy = ::access((IndexDir(archive) + "/" + kJournalName).c_str(), F_OK) == 0;
  if (total == 0 && in_flight.empty() && !legacy) return CatchUpResult{};
  MK_ASSIGN_OR_RETURN(auto feeder, IndexFeeder::Open(archive, workers, {on_progress, on_problem}));
  MK_RETURN_IF_ERROR(feeder->Feed());
  MK_RETURN_IF_ERROR(feeder->Commit());
  CatchUpResult result = feeder->result();
  result.requeued = requeued;
  return result;
}

Result<IndexCompaction> CatchUpAndCompactIndex(Archive& archive,
                                               const std::function<void(int64_t, const std::string&)>& on_problem) {
  const std::string dir = IndexDir(archive);
  MK_ASSIGN_OR_RETURN(const ShardStub stub, ReadShardStub(dir));
  IndexCompaction result;
  if (stub.segments.empty()) return result;  // no index to clean
  MK_ASSIGN_OR_RETURN(result.caught_up, CatchUpIndex(archive, 0, {}, on_problem));
  MK_ASSIGN_OR_RETURN(result.compacted, CompactIndex(dir));
  return result;
}

}  // namespace mailkeep::index
