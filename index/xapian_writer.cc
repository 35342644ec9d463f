// IndexWriter over N glass databases (shards, index/shards.h) per segment;
// each shard that new documents go to is written by its own thread.
//
// Add() runs on the caller's thread: it picks the shard that owns the id and
// hands a copy of the IndexDocument (which points at the caller's Message)
// to that shard's bounded queue, blocking while the queue is full. The
// shard's thread builds the Xapian document (its own DocumentBuilder and
// TermGenerator) and writes it to its own WritableDatabase, so N documents
// are built and written at once. Every other operation (Remove, Commit,
// DocumentCount, LastDocId) is queued behind the adds and waited for, so
// each shard sees its operations in the order they were made. A shard of
// an older segment (which gets only replacements and removals) has no
// thread: the caller's thread does its work (class Shard says why).
//
// Errors: a document Xapian refuses with anything but a database error is
// skipped and remembered for TakeRefused(); a database error on an add is
// remembered by its shard and returned by the next Add() or Commit(), and
// the writer then refuses further adds (reopen it).
//
// Commits: Xapian keeps added documents in memory and flushes them to its
// tables every XAPIAN_FLUSH_THRESHOLD documents per shard; Commit() makes
// them durable in every shard. The writer commits by itself after
// commit_every_documents documents or about commit_every_bytes bytes of text
// (estimated from the message before folding) since the last commit; anything
// after the last commit is committed when the writer is destroyed (errors
// there are lost, so callers that record progress call Commit() first). A
// crash between two shards' commits leaves some documents of the last batch
// indexed: the catalog still lists them as pending, and adding them again
// replaces them.
//
// Compaction (Compact()): every segment's shard K is compacted (docids
// kept) into shard K of one new generation "shard-K.G", fsynced, XAPIANDB
// switched to them atomically, the shards reopened there and the old ones removed:
// 1.6 s for linux-mips with the shards in parallel. An index of at least
// 64 MB is compacted so, every shard on its own thread; a smaller one
// shard after another (the fault tests count its file operations in
// order). It halves an index written in many commits
// (half-empty B-tree blocks), and it is the only way a removed document's
// terms leave the disk: Xapian frees their blocks but does not overwrite
// them. `mailkeep repack` compacts (CompactIndex); so does a writer that
// changed the index, when destroyed, if the shards have grown enough since
// the size XAPIANDB records for the last compaction (IndexWriterOptions,
// compaction policy). A kill leaves XAPIANDB naming one complete
// generation; Open() removes the shard directories it does not name.
// Xapian 1.4.22's compact() ignores a failed fsync of the files it writes
// (tests/fault: ENOSPC on shard-0.1/postlist.glass's fsync, then the
// switch, and the lost page left the index unreadable): such a disk error
// is not caught here (`reindex` repairs it).
//
// Segments (index/shards.h): a writer opened for a large run
// (IndexWriterOptions::expected_bytes) on an index whose newest segment
// holds IndexWriterOptions::fresh_segment_min_documents or more puts the
// documents it adds past the index's last id into a fresh segment of its
// own (created, then listed in XAPIANDB, on the first such add);
// every other add, replace or remove goes to the segment of its id. When a
// writer that made a fresh segment closes, it merges the newest segments
// the tier policy names (SegmentsToMerge; at least its own, compacted
// alone) into one of a new generation, as Compact() does for all of them:
// Xapian's compact() over several sources with DBCOMPACT_NO_RENUMBER (the
// segments of one shard number hold disjoint, increasing docid ranges).
// Otherwise the compaction policy above applies, to the newest segment
// alone when the index has older ones and the growth can all be in the
// newest (CompactionDue).
//
// Shard flushes: each shard thread also commits by itself every
// shard_flush_documents adds (default 500) or shard_flush_text_bytes of
// their text (2 MiB), whichever first, so Xapian's in-memory buffer
// stays small (its per-posting map costs grow with it: a 2,500-document
// buffer per shard cost more CPU than five 500-document flushes; smaller
// flushes write more, index.h has the figures) and the caller never waits
// for those commits. XAPIAN_FLUSH_THRESHOLD (10,000 by
// default) is then never reached.

#include <sys/stat.h>

#include <xapian.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <dirent.h>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "index/document.h"
#include "index/index.h"
#include "index/positions.h"
#include "index/schema.h"
#include "index/shards.h"
#include "store/util/files.h"

namespace mailkeep::index {

namespace {

constexpr const char* kSchemaKey = "mailkeep.schema";
// Documents waiting per shard; bounds the memory held for the queue (the
// messages themselves are the caller's).
constexpr size_t kQueueCapacity = 512;
// An index at least this large is compacted shard by shard in parallel.
constexpr uint64_t kParallelCompactBytes = uint64_t{64} << 20;

Result<Xapian::docid> ToDocId(int64_t id) {
  if (id <= 0 || static_cast<uint64_t>(id) > std::numeric_limits<Xapian::docid>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "index: document id " + std::to_string(id) + " out of range");
  }
  return static_cast<Xapian::docid>(id);
}

// A task run on a shard's thread against its database. May throw.
using Task = std::function<Status(Xapian::WritableDatabase&)>;

// Runs `fn` (returning Status), mapping exceptions to an Error.
template <typename Fn>
Status Guarded(Fn&& fn, std::string_view context) {
  try {
    return fn();
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, context));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, context));
  }
}

Status RunTask(const Task& task, Xapian::WritableDatabase& db, std::string_view context) {
  return Guarded([&] { return task(db); }, context);
}

Result<Xapian::WritableDatabase> OpenShard(const std::string& dir, const ShardName& shard);

// A shard of the segment that new documents go to (`threaded`) starts its
// thread with its first add. Every other shard has none: the caller's
// thread does its work (the replacements and removals of older documents,
// commits, counts) itself. Each thread that has run holds a malloc arena
// of its own until it ends, which other threads' memory cannot use:
// linux-mips 8 times over in 8 segments, batch 8 into a ninth, peaked at
// 468 MB of anonymous memory with a thread per shard (243 MB with two).
class Shard {
 public:
  Shard(Xapian::WritableDatabase db, bool threaded, size_t max_body_bytes, size_t flush_documents,
        size_t flush_text_bytes)
      : db_(std::move(db)), threaded_(threaded), builder_(max_body_bytes), flush_documents_(flush_documents),
        flush_text_bytes_(flush_text_bytes) {}

  ~Shard() {
    if (thread_.joinable()) {
      {
        std::lock_guard lock(mu_);
        stop_ = true;
      }
      not_empty_.notify_one();
      thread_.join();
    }
    try {
      db_.close();  // commits what is pending
    } catch (const Xapian::Error&) {
      // Nothing to report to: see the file comment.
    }
  }

  // Queues an add (starting the thread); blocks while the queue is full.
  // Without a thread: writes it here.
  Status Add(IndexDocument doc, Xapian::docid docid) {
    std::unique_lock lock(mu_);
    if (!threaded_) {
      lock.unlock();
      Write(Op{std::move(doc), docid, nullptr, {}, nullptr});
      return OkStatus();
    }
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { Run(); });
      } catch (const std::system_error& e) {
        return MakeError(ErrorCode::kUnavailable, std::string("index add: cannot start a shard thread: ") + e.what());
      }
    }
    not_full_.wait(lock, [this] { return queue_.size() < kQueueCapacity; });
    queue_.push_back(Op{std::move(doc), docid, nullptr, {}, nullptr});
    lock.unlock();
    not_empty_.notify_one();
    return OkStatus();
  }

  // Queues `task` behind everything queued before (or, before the first
  // add, runs it here); the future gives its result.
  std::future<Status> Submit(Task task, std::string context) {
    auto promise = std::make_shared<std::promise<Status>>();
    std::future<Status> result = promise->get_future();
    std::unique_lock lock(mu_);
    if (!thread_.joinable()) {  // no thread, nothing queued: the caller's thread is the only user
      lock.unlock();
      promise->set_value(RunChecked(task, context));
      unflushed_ = 0;  // as Run() does
      unflushed_text_bytes_ = 0;
      return result;
    }
    not_full_.wait(lock, [this] { return queue_.size() < kQueueCapacity; });
    queue_.push_back(Op{{}, 0, std::move(task), std::move(context), std::move(promise)});
    lock.unlock();
    not_empty_.notify_one();
    return result;
  }

  // The first failed add, if any.
  std::optional<Error> failure() {
    std::lock_guard lock(mu_);
    return failure_;
  }

  // Moves the refused documents into `out`.
  void TakeRefused(std::vector<RefusedDocument>& out) {
    std::lock_guard lock(mu_);
    for (RefusedDocument& r : refused_) out.push_back(std::move(r));
    refused_.clear();
  }

 private:
  struct Op {
    IndexDocument doc;  // an add when task is empty
    Xapian::docid docid;
    Task task;
    std::string context;  // of the task's errors
    std::shared_ptr<std::promise<Status>> done;
  };

  void Run() {
    for (;;) {
      Op op;
      {
        std::unique_lock lock(mu_);
        not_empty_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, nothing left
        op = std::move(queue_.front());
        queue_.pop_front();
      }
      not_full_.notify_one();
      if (op.task) {
        op.done->set_value(RunChecked(op.task, op.context));
        unflushed_ = 0;  // a commit, or a read that needs none
        unflushed_text_bytes_ = 0;
        continue;
      }
      Write(std::move(op));
    }
  }

  // Builds and writes an add, and commits when the flush bounds are reached;
  // remembers what fails.
  void Write(Op op) {
    if (failed_) return;  // refuses further adds; the failure is reported
    const std::string context = "index add " + std::to_string(op.doc.id);
    Status status = RunTask(
        [&](Xapian::WritableDatabase& db) -> Status {
          Xapian::Document document = builder_.Build(op.doc);
          op.doc.message.reset();  // the text is in the document now
          db.replace_document(op.docid, document);
          // The positions record, in the same commit ("" removes an older one).
          db.set_metadata(PositionsKey(op.docid), builder_.last_positions());
          unflushed_text_bytes_ += builder_.last_text_bytes();
          return OkStatus();
        },
        db_, context);
    if (status && flush_documents_ != 0 &&
        (++unflushed_ >= flush_documents_ || unflushed_text_bytes_ >= flush_text_bytes_)) {
      unflushed_ = 0;
      unflushed_text_bytes_ = 0;
      status = RunTask(
          [](Xapian::WritableDatabase& db) -> Status {
            db.commit();
            return OkStatus();
          },
          db_, "index commit");
    }
    if (!status) {
      Error error = std::move(status).error();
      if (IsDatabaseFailure(error.code())) {
        Fail(std::move(error));
      } else {
        std::lock_guard lock(mu_);
        refused_.push_back(RefusedDocument{op.doc.id, std::move(error)});
      }
    }
  }

  // Runs a task; a database failure stops the shard (Fail).
  Status RunChecked(const Task& task, std::string_view context) {
    Status status = RunTask(task, db_, context);
    if (!status && IsDatabaseFailure(status.error().code())) Fail(status.error());
    return status;
  }

  // After a database error (a failed write, say) nothing more is written
  // to this shard: its later adds are refused, its commits fail, and what
  // is pending is discarded, not committed, when it closes. Xapian commits
  // pending changes when a database closes, and a commit after a failed
  // block write can make a revision of blocks that never reached the disk
  // (tests/fault: EIO on a postlist.glass write, then the writer's closing
  // commit: a shard whose documents were there and whose schema key was
  // not). A transaction begun without a commit discards them instead; the
  // catalog still lists the documents as pending, for the next run.
  void Fail(Error error) {
    if (!failed_) {
      failed_ = true;
      try {
        db_.begin_transaction(false);
      } catch (const Xapian::Error&) {
        // Already in one (never here), or the database is closed: nothing to discard.
      }
    }
    std::lock_guard lock(mu_);
    if (!failure_) failure_ = std::move(error);
  }

  // Errors of the database itself (ErrorFromXapian), as opposed to one
  // document's.
  static bool IsDatabaseFailure(ErrorCode code) {
    return code == ErrorCode::kIoError || code == ErrorCode::kCorruption || code == ErrorCode::kUnavailable ||
           code == ErrorCode::kNotFound || code == ErrorCode::kFailedPrecondition;
  }

  // db_ and the members up to mu_ are used only on thread_ (before it
  // starts and after it ends, or without one: on the caller's thread).
  Xapian::WritableDatabase db_;
  const bool threaded_;          // adds go to a thread of its own
  DocumentBuilder builder_;
  size_t flush_documents_;       // commit after this many adds (0 = never)
  size_t flush_text_bytes_;      // ... or after this much text (with flush_documents_ != 0)
  size_t unflushed_ = 0;         // adds since the last commit
  size_t unflushed_text_bytes_ = 0;  // their text
  bool failed_ = false;

  std::mutex mu_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Op> queue_;         // guarded by mu_
  bool stop_ = false;            // guarded by mu_
  std::optional<Error> failure_;  // guarded by mu_
  std::vector<RefusedDocument> refused_;  // guarded by mu_

  std::thread thread_;  // guarded by mu_; started by the first Add()
};

// Archive files are private whatever the umask: Xapian creates its files
// and shard directories with the process umask (0644/0755 under 022), so
// after every step that may create them the index tree is set to 0600
// files and 0700 directories. (mailkeep itself runs under umask 077, so
// nothing is ever readable by others even between two such steps.)
void MakePrivate(const std::string& dir) {
  std::error_code ec;
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const auto type = it->symlink_status(ec).type();
    if (type == std::filesystem::file_type::directory) {
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all, ec);
    } else if (type == std::filesystem::file_type::regular) {
      std::filesystem::permissions(it->path(),
                                   std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ec);
    }
    ec.clear();
  }
}

class ShardedWriter final : public IndexWriter {
 public:
  ShardedWriter(std::string dir, ShardStub stub, std::vector<Xapian::WritableDatabase> dbs, int64_t fresh_from,
                const IndexWriterOptions& options)
      : dir_(std::move(dir)), stub_(std::move(stub)), n_(stub_.shards_per_segment()), options_(options),
        fresh_from_(fresh_from) {
    // New documents go to the newest segment, or to a fresh one.
    const size_t newest_from = (stub_.segments.size() - 1) * n_;
    for (size_t j = 0; j < dbs.size(); ++j) {
      shards_.push_back(NewShard(std::move(dbs[j]), j >= newest_from && fresh_from_ == 0));
    }
  }

  ~ShardedWriter() override {
    // Errors are lost (see the file comment); a failed compaction or merge
    // leaves the index as it was.
    if (!changed_ || failure_ || !Commit()) return;
    if (fresh_) {
      (void)MergeNewestSegments();
    } else if (const auto from = CompactionDue()) {
      (void)Merge(*from);
    }
    // shards_ goes with the members: joins the threads, closing commits what is pending.
  }

  Status Add(IndexDocument doc) override {
    if (doc.message == nullptr) return MakeError(ErrorCode::kInvalidArgument, "index add: no message");
    MK_ASSIGN_OR_RETURN(const Xapian::docid id, ToDocId(doc.id));
    MK_RETURN_IF_ERROR(FirstFailure());
    if (fresh_from_ > 0 && doc.id >= fresh_from_ && !fresh_) MK_RETURN_IF_ERROR(MakeFreshSegment());
    const mime::Message& m = *doc.message;
    pending_bytes_ += std::min(m.text.size(), options_.max_body_bytes) + m.subject.size();
    Shard& shard = ShardOf(doc.id);
    MK_RETURN_IF_ERROR(shard.Add(std::move(doc), static_cast<Xapian::docid>((id - 1) / n_ + 1)));
    changed_ = true;
    ++pending_documents_;
    if (pending_documents_ >= options_.commit_every_documents || pending_bytes_ >= options_.commit_every_bytes) {
      return Commit();
    }
    return OkStatus();
  }

  Status Remove(int64_t id) override {
    MK_ASSIGN_OR_RETURN(const Xapian::docid docid, ToDocId(id));
    if (failure_) return std::unexpected(*failure_);
    const auto shard_docid = static_cast<Xapian::docid>((docid - 1) / n_ + 1);
    MK_RETURN_IF_ERROR(ShardOf(id)
                           .Submit(
                               [shard_docid](Xapian::WritableDatabase& db) -> Status {
                                 db.set_metadata(PositionsKey(shard_docid), "");
                                 try {
                                   db.delete_document(shard_docid);
                                 } catch (const Xapian::DocNotFoundError&) {
                                   // never indexed, or removed by a run killed before it was dequeued
                                 }
                                 return OkStatus();
                               },
                               "index remove " + std::to_string(id))
                           .get());
    changed_ = true;
    ++pending_documents_;
    return OkStatus();
  }

  Status Commit() override {
    std::vector<std::future<Status>> results;
    for (auto& shard : shards_) {
      results.push_back(shard->Submit(
          [](Xapian::WritableDatabase& db) -> Status {
            db.commit();
            return OkStatus();
          },
          "index commit"));
    }
    Status first = OkStatus();
    for (auto& result : results) {
      Status status = result.get();  // waits for every shard, even after an error
      if (!status && first) first = std::move(status);
    }
    MakePrivate(dir_);
    MK_RETURN_IF_ERROR(FirstFailure());
    MK_RETURN_IF_ERROR(first);
    MK_RETURN_IF_ERROR(SyncShardDirs());
    pending_documents_ = 0;
    pending_bytes_ = 0;
    return OkStatus();
  }

  std::vector<RefusedDocument> TakeRefused() override {
    std::vector<RefusedDocument> refused = std::move(refused_);
    refused_.clear();
    for (auto& shard : shards_) shard->TakeRefused(refused);
    return refused;
  }

  Result<int64_t> DocumentCount() override {
    int64_t total = 0;
    Status status = ForEachShard("index document count", [&](size_t, Xapian::WritableDatabase& db) {
      total += static_cast<int64_t>(db.get_doccount());
    });
    if (!status) return std::unexpected(std::move(status).error());
    return total;
  }

  // Every segment into one.
  Status Compact() override { return Merge(0); }

  Result<int64_t> LastDocId() override {
    int64_t last = 0;
    const auto n = static_cast<int64_t>(n_);
    Status status = ForEachShard("index last document id", [&](size_t j, Xapian::WritableDatabase& db) {
      const int64_t shard_last = db.get_lastdocid();
      if (shard_last > 0) last = std::max(last, (shard_last - 1) * n + static_cast<int64_t>(j % n_) + 1);
    });
    if (!status) return std::unexpected(std::move(status).error());
    return last;
  }

 private:
  std::unique_ptr<Shard> NewShard(Xapian::WritableDatabase db, bool threaded) const {
    return std::make_unique<Shard>(std::move(db), threaded, options_.max_body_bytes, options_.shard_flush_documents,
                                   options_.shard_flush_text_bytes);
  }

  // The shard that holds (or is to hold) catalog id `id`.
  Shard& ShardOf(int64_t id) { return *shards_[stub_.SegmentOf(id) * n_ + static_cast<size_t>(id - 1) % n_]; }

  // Starts this writer's own segment for the ids from fresh_from_ on:
  // its shards created, then listed in XAPIANDB (before anything written
  // to them is committed; a kill before the listing leaves directories
  // the next writer removes).
  Status MakeFreshSegment() {
    Segment fresh{fresh_from_, {}};
    const size_t generation = stub_.NextGeneration();
    for (size_t k = 0; k < n_; ++k) fresh.shards.push_back(ShardName{k, generation});
    std::vector<Xapian::WritableDatabase> dbs;
    MK_RETURN_IF_ERROR(Guarded(
        [&]() -> Status {
          for (const ShardName& name : fresh.shards) {
            MK_ASSIGN_OR_RETURN(Xapian::WritableDatabase db, OpenShard(dir_, name));
            dbs.push_back(std::move(db));
          }
          return OkStatus();
        },
        "index new segment " + dir_));
    MakePrivate(dir_);
    ShardStub next = stub_;
    next.segments.push_back(std::move(fresh));
    MK_RETURN_IF_ERROR(WriteShardStub(dir_, next));
    stub_ = std::move(next);
    for (auto& db : dbs) shards_.push_back(NewShard(std::move(db), true));
    fresh_ = true;
    return OkStatus();
  }

  // When the writer made a fresh segment: merges the newest segments as
  // SegmentsToMerge says (at least the fresh one, compacted alone).
  Status MergeNewestSegments() {
    std::vector<int64_t> documents(stub_.segments.size(), 0);
    MK_RETURN_IF_ERROR(ForEachShard("index document count", [&](size_t j, Xapian::WritableDatabase& db) {
      documents[j / n_] += static_cast<int64_t>(db.get_doccount());
    }));
    return Merge(SegmentsToMerge(documents, options_.segment_tier_factor, options_.segment_tier_base));
  }

  // The compaction policy (IndexWriterOptions) for a writer that made no
  // fresh segment: the first segment to compact, or nullopt when the shards
  // have not grown enough since the last compaction. The growth is counted
  // against the newest segment alone when there are older ones and it can
  // all be there (a writer adds to the newest segment; the older ones
  // change only when their documents are replaced or removed): then only
  // the newest is compacted, so a run that adds to a large index rewrites
  // at most the newest segment. Otherwise against the whole index: all
  // segments, into one (0, as Compact()).
  std::optional<size_t> CompactionDue() const {
    if (options_.compact_growth_percent == 0) return std::nullopt;
    const uint64_t now = ShardBytes(dir_, stub_.AllShards());
    if (now <= stub_.compacted_bytes) return std::nullopt;
    const uint64_t growth = now - stub_.compacted_bytes;
    if (growth < options_.compact_min_growth_bytes) return std::nullopt;
    auto due = [&](uint64_t compacted) { return growth >= compacted / 100 * options_.compact_growth_percent; };
    const size_t newest = stub_.segments.size() - 1;
    if (newest > 0) {
      const uint64_t newest_bytes = ShardBytes(dir_, stub_.segments[newest].shards);
      if (newest_bytes >= growth) return due(newest_bytes - growth) ? std::optional<size_t>(newest) : std::nullopt;
    }
    return due(stub_.compacted_bytes) ? std::optional<size_t>(0) : std::nullopt;
  }

  // Commits, then compacts segments `from`.. (the newest) into one segment
  // of a new generation (docids kept) and switches XAPIANDB to it, then
  // removes the shards replaced and goes on writing to the new ones.
  Status Merge(size_t from) {
    MK_RETURN_IF_ERROR(Commit());
    Segment merged{stub_.segments[from].first_id, {}};
    const size_t generation = stub_.NextGeneration();
    for (size_t k = 0; k < n_; ++k) merged.shards.push_back(ShardName{k, generation});
    if (Status written = CompactShards(from, merged.shards); !written) {
      RemoveShards(merged.shards);
      return written;
    }
    ShardStub next = stub_;
    next.segments.resize(from);
    next.segments.push_back(std::move(merged));
    next.compacted_bytes = std::max<uint64_t>(ShardBytes(dir_, next.AllShards()), 1);
    if (Status switched = WriteShardStub(dir_, next); !switched) {
      auto now = ReadShardStub(dir_);
      if (now && *now == stub_) {
        RemoveShards(next.segments.back().shards);
      } else {
        // Renamed but not known durable: both generations stay until the
        // next Open() keeps the one XAPIANDB names; this writer stops.
        failure_ = switched.error();
      }
      return switched;
    }
    std::vector<ShardName> replaced;
    for (size_t s = from; s < stub_.segments.size(); ++s) {
      replaced.insert(replaced.end(), stub_.segments[s].shards.begin(), stub_.segments[s].shards.end());
    }
    stub_ = std::move(next);
    fresh_ = false;
    fresh_from_ = 0;  // this writer's adds go to the segment of their id from now on
    if (Status reopened = Reopen(from); !reopened) {
      failure_ = reopened.error();  // XAPIANDB names the new shards; the old ones must not be written
      return reopened;
    }
    RemoveShards(replaced);
    if (Status synced = SyncDir(dir_); !synced) return MakeError(ErrorCode::kIoError, "index compact: " + synced.error().message());
    return OkStatus();
  }

  // Compacts shard k of the committed segments `from`.. into to[k] (keeping
  // the docids), each fsynced, the files private; the first error. A small
  // index one shard after another, so that the file operations come in one
  // order (tests/fault counts them); from kParallelCompactBytes on, every
  // shard on its own thread (the CPU work is Xapian's, per shard).
  Status CompactShards(size_t from, const std::vector<ShardName>& to) {
    std::vector<Status> done(n_, OkStatus());
    std::vector<ShardName> sources;
    for (size_t s = from; s < stub_.segments.size(); ++s) {
      sources.insert(sources.end(), stub_.segments[s].shards.begin(), stub_.segments[s].shards.end());
    }
    auto one = [&](size_t k) {
      const std::string path = dir_ + "/" + to[k].Name();
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);  // a killed compaction's
      done[k] = Guarded(
          [&]() -> Status {
            Xapian::Database source;
            for (size_t j = k; j < sources.size(); j += n_) source.add_database(Xapian::Database(dir_ + "/" + sources[j].Name()));
            source.compact(path, Xapian::DBCOMPACT_NO_RENUMBER);
            return SyncDir(path);  // its files' names, before XAPIANDB points at it
          },
          "index compact " + path);
    };
    if (ShardBytes(dir_, sources) >= kParallelCompactBytes) {
      std::vector<std::jthread> threads;
      for (size_t k = 0; k < n_; ++k) {
        try {
          threads.emplace_back(one, k);
        } catch (const std::system_error&) {
          one(k);  // no thread to be had: this one does it
        }
      }
    } else {
      for (size_t k = 0; k < n_; ++k) {
        one(k);
        if (!done[k]) break;
      }
    }
    MakePrivate(dir_);
    for (Status& status : done) MK_RETURN_IF_ERROR(status);
    return OkStatus();
  }

  // Opens the shards of segment `from` (the newest, just merged) and puts
  // threads on them in place of segments `from`.. replaced, closing their
  // databases (what their threads refused is kept for TakeRefused). The
  // older segments' shards stay open as they are.
  Status Reopen(size_t from) {
    std::vector<Xapian::WritableDatabase> dbs;
    MK_RETURN_IF_ERROR(Guarded(
        [&]() -> Status {
          for (const ShardName& name : stub_.segments[from].shards) {
            MK_ASSIGN_OR_RETURN(Xapian::WritableDatabase db, OpenShard(dir_, name));
            dbs.push_back(std::move(db));
          }
          return OkStatus();
        },
        "index reopen " + dir_));
    for (size_t j = from * n_; j < shards_.size(); ++j) shards_[j]->TakeRefused(refused_);
    shards_.resize(from * n_);
    for (auto& db : dbs) shards_.push_back(NewShard(std::move(db), true));  // the newest segment now
    return OkStatus();
  }

  void RemoveShards(const std::vector<ShardName>& names) {
    std::error_code ignored;
    for (const ShardName& name : names) std::filesystem::remove_all(dir_ + "/" + name.Name(), ignored);
  }

  // Xapian fsyncs its files but not the directories it makes them in (a
  // commit renames a new version file into place): what a commit made is
  // durable only with each shard's directory fsynced.
  Status SyncShardDirs() {
    for (const ShardName& name : stub_.AllShards()) {
      if (auto st = SyncDir(dir_ + "/" + name.Name()); !st) return MakeError(ErrorCode::kIoError, "index commit: " + st.error().message());
    }
    return OkStatus();
  }

  Status FirstFailure() {
    if (failure_) return std::unexpected(*failure_);
    for (auto& shard : shards_) {
      if (std::optional<Error> failure = shard->failure()) return std::unexpected(*failure);
    }
    return OkStatus();
  }

  // Runs `fn(j, db)` on every shard's thread (j: its place in stub order),
  // one shard at a time (so `fn` needs no locking); the first error.
  Status ForEachShard(std::string_view context, const std::function<void(size_t, Xapian::WritableDatabase&)>& fn) {
    for (size_t j = 0; j < shards_.size(); ++j) {
      MK_RETURN_IF_ERROR(shards_[j]
                             ->Submit(
                                 [&fn, j](Xapian::WritableDatabase& db) -> Status {
                                   fn(j, db);
                                   return OkStatus();
                                 },
                                 std::string(context))
                             .get());
    }
    return OkStatus();
  }

  std::string dir_;
  ShardStub stub_;  // as XAPIANDB says
  size_t n_;        // shards per segment
  IndexWriterOptions options_;
  std::vector<std::unique_ptr<Shard>> shards_;  // every segment's, in stub order
  int64_t fresh_from_;  // > 0: adds of ids from here on go to a fresh segment (made on the first)
  bool fresh_ = false;  // this writer made the newest segment
  bool changed_ = false;  // documents added or removed by this writer
  std::optional<Error> failure_;  // Compact() left the writer unusable
  std::vector<RefusedDocument> refused_;  // by shard threads Compact() ended
  size_t pending_documents_ = 0;
  size_t pending_bytes_ = 0;
};

// Whether `dir` holds no index yet: nothing, or only the temporary stub of
// a writer that failed or was killed while creating the index (the stub is
// written to XAPIANDB.tmp and renamed into place; until then there is no
// index, and the next writer's stub overwrites the temporary one).
bool HoldsNoIndex(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return false;
  const std::string temp_stub = std::string(kStubFile) + ".tmp";
  bool empty = true;
  while (const dirent* entry = ::readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != ".." && name != temp_stub) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Opens (creating when missing) shard K and stamps or checks its schema.
// Throws Xapian::Error.
Result<Xapian::WritableDatabase> OpenShard(const std::string& dir, const ShardName& shard) {
  const std::string path = dir + "/" + shard.Name();
  // Xapian creates a database's tables first and its version file
  // (iamglass) last, by rename. A shard directory without one is a creation
  // that failed or was killed: it holds nothing committed, but Xapian
  // refuses to open it ("Failed to open glass revision file"). Make it anew.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && ::stat((path + "/iamglass").c_str(), &st) != 0 && errno == ENOENT) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return MakeError(ErrorCode::kIoError, "index " + path + ": cannot remove a half-created shard: " + ec.message());
  }
  Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
  MK_RETURN_IF_ERROR(CheckSchemaVersion(db, path));
  if (db.get_metadata(kSchemaKey).empty()) {
    db.set_metadata(kSchemaKey, std::to_string(kSchemaVersion));
    db.commit();
  }
  return db;
}

// The first id of a fresh segment for a writer of `stub` (opened as
// `dbs`): one past the index's last id when the run is expected to bring
// options.fresh_segment_min_bytes or more and the newest segment holds
// options.fresh_segment_min_documents documents or more; 0 (adds go to the
// segment of their id) for a smaller run or segment, when the index has
// kMaxSegments segments, or when the combined docids of one more segment
// (about id x segments, index/shards.h) could come near Xapian's 32 bits.
int64_t FreshSegmentFrom(const ShardStub& stub, std::vector<Xapian::WritableDatabase>& dbs,
                         const IndexWriterOptions& options) {
  if (options.fresh_segment_min_documents == 0 || options.expected_bytes < options.fresh_segment_min_bytes ||
      stub.segments.size() >= kMaxSegments) {
    return 0;
  }
  const size_t n = stub.shards_per_segment();
  int64_t last = 0;
  uint64_t newest_documents = 0;
  for (size_t j = 0; j < dbs.size(); ++j) {
    const int64_t shard_last = dbs[j].get_lastdocid();
    if (shard_last > 0) last = std::max(last, (shard_last - 1) * static_cast<int64_t>(n) + static_cast<int64_t>(j % n) + 1);
    if (j >= dbs.size() - n) newest_documents += dbs[j].get_doccount();
  }
  if (newest_documents < options.fresh_segment_min_documents) return 0;
  if (static_cast<uint64_t>(last + 1) * (stub.segments.size() + 1) >= (uint64_t{1} << 31)) return 0;
  return last + 1;
}

}  // namespace

Status CheckSchemaVersion(const Xapian::Database& db, const std::string& dir) {
  const std::string stored = db.get_metadata(kSchemaKey);
  if (stored.empty() && db.get_doccount() == 0) return OkStatus();
  const std::string expected = std::to_string(kSchemaVersion);
  if (stored == expected) return OkStatus();
  return MakeError(ErrorCode::kFailedPrecondition, "index " + dir + ": index schema " +
                                                       (stored.empty() ? std::string("0") : stored) +
                                                       ", expected " + expected + "; run `mailkeep reindex`");
}

Result<std::unique_ptr<IndexWriter>> IndexWriter::Open(const std::string& dir, const IndexWriterOptions& options) {
  if (options.commit_every_documents == 0 || options.commit_every_bytes == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "index: commit_every_documents and commit_every_bytes must be > 0");
  }
  if (options.shards > kMaxShards) {
    return MakeError(ErrorCode::kInvalidArgument, "index: at most " + std::to_string(kMaxShards) + " shards");
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return MakeError(ErrorCode::kIoError, "index open " + dir + ": cannot create: " + std::strerror(errno));
    }
    // The index's own directory entry, made durable before anything relies
    // on the index (the catalog drops index intents once it commits).
    const auto parent = std::filesystem::path(dir).parent_path().string();
    if (auto synced = SyncDir(parent.empty() ? "." : parent); !synced) {
      return MakeError(ErrorCode::kIoError, "index open " + dir + ": " + synced.error().message());
    }
  } else if (!S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kFailedPrecondition, "index open " + dir + ": not a directory");
  }
  try {
    MK_ASSIGN_OR_RETURN(ShardStub stub, ReadShardStub(dir));
    if (stub.segments.empty()) {
      if (!HoldsNoIndex(dir)) {
        // An unsharded index (schema version 1) or something else: the
        // schema check names an old index; anything else is not ours.
        Xapian::Database old(dir);
        MK_RETURN_IF_ERROR(CheckSchemaVersion(old, dir));
        return MakeError(ErrorCode::kFailedPrecondition,
                         "index " + dir + ": an unsharded index from an older mailkeep; run `mailkeep reindex`");
      }
      size_t n = options.shards != 0 ? options.shards : std::max(2u, std::thread::hardware_concurrency());
      n = std::min(n, kMaxShards);
      stub.segments.push_back(Segment{1, {}});
      for (size_t k = 0; k < n; ++k) stub.segments.back().shards.push_back(ShardName{k, 0});
      // The stub first: a crash before every shard exists leaves an index
      // whose missing shards the next writer creates.
      MK_RETURN_IF_ERROR(WriteShardStub(dir, stub));
    }
    const std::vector<ShardName> shards = stub.AllShards();
    std::vector<Xapian::WritableDatabase> dbs;
    for (const ShardName& shard : shards) {
      MK_ASSIGN_OR_RETURN(Xapian::WritableDatabase db, OpenShard(dir, shard));
      dbs.push_back(std::move(db));
    }
    // With the shards' locks held, no compaction runs: the stub read above
    // must still be the one (a compaction that switched it meanwhile: try
    // again), and every other shard directory is a killed one's leftover.
    MK_ASSIGN_OR_RETURN(const ShardStub now, ReadShardStub(dir));
    if (now != stub) {
      return MakeError(ErrorCode::kUnavailable, "index open " + dir + ": compacted by another writer meanwhile; try again");
    }
    MK_RETURN_IF_ERROR(RemoveUnlistedShards(dir, shards));
    if (auto synced = SyncDir(dir); !synced) {  // the shard directories made here
      return MakeError(ErrorCode::kIoError, "index open " + dir + ": " + synced.error().message());
    }
    MakePrivate(dir);
    const int64_t fresh_from = FreshSegmentFrom(stub, dbs, options);
    return std::unique_ptr<IndexWriter>(new ShardedWriter(dir, std::move(stub), std::move(dbs), fresh_from, options));
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, "index open " + dir));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, "index open " + dir));
  }
}

Result<bool> CompactIndex(const std::string& dir) {
  MK_ASSIGN_OR_RETURN(const ShardStub stub, ReadShardStub(dir));
  if (stub.segments.empty()) return false;  // no index (or an unsharded one, which `reindex` replaces)
  IndexWriterOptions options;
  options.compact_growth_percent = 0;  // compacted here, not again when closed
  MK_ASSIGN_OR_RETURN(std::unique_ptr<IndexWriter> writer, IndexWriter::Open(dir, options));
  MK_RETURN_IF_ERROR(writer->Compact());
  return true;
}

}  // namespace mailkeep::index
