// The index feeder: keeps the full-text index (ARCHIVE/xapian) caught up
// with the catalog. It drains the archive's index queue, builds one
// document per message (parsed with text extraction, plus thread, accounts,
// folders and flags from its locations) and hands it to the index writer,
// whose shard threads build and write documents while this thread reads and
// parses the next ones.
//
// In-flight messages (the archive's index intents, IntentKind::kIndex):
// messages are taken off the catalog's queue when they are handed to the
// writer, not when the index commits, so that a batch imported meanwhile
// can queue them again (a new location, a thread merge) and have them
// rewritten. In the same catalog transaction they become index intents
// (Archive::HandToIndex); the intents go once the index has committed them
// (Archive::IndexCommitted). A run killed in between leaves them, and the
// next IndexFeeder indexes them first: nothing is lost. Messages the index
// refuses keep their intent and are retried by every later run; `verify`
// counts them as pending. (Older mailkeeps kept these ids in a text file,
// ARCHIVE/xapian/in-flight; it is adopted into the catalog and removed.)
//
// Library code: nothing here prints. Problems and progress reach the caller
// through the Callbacks and the CatchUpResult; the command prints them.
//
// Thread-safety: an IndexFeeder belongs to the thread that owns the Archive.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "index/index.h"
#include "store/archive.h"
#include "store/util/status.h"

namespace mailkeep::index {

// Where the full-text index of `archive` lives (the one place that says so):
// ARCHIVE/xapian for a plain archive. An encrypted archive's index cannot be
// encrypted, so it is kept outside the archive directory, as a local cache
// that `reindex` (or the next indexing run) rebuilds:
// ${XDG_CACHE_HOME:-$HOME/.cache}/mailkeep/index/<archive_id> (XDG_CACHE_HOME
// only when absolute; HOME unset: the passwd entry's home).
std::string IndexDir(const Archive& archive);
// Whether IndexDir is such a cache outside the archive directory.
bool IndexIsCache(const Archive& archive);

// An index cache that is gone (deleted, or a copy of the archive on another
// machine) while the catalog counts messages as indexed: queues every
// message for it again and returns how many there are. 0 when the index is
// there, when it is not a cache (a missing ARCHIVE/xapian is damage that
// `verify` reports), or when every message is queued already.
// IndexFeeder::Open and CatchUpIndex call it; their results say how many.
// REQUIRES: `archive` opened read-write.
Result<int64_t> RequeueLostIndex(Archive& archive);

// Drops the index so that the next run builds it again from every message:
// queues every message for it, then removes IndexDir (RemoveTree). After a
// failure the old index is still there with every message queued, or there
// is none: the archive verifies either way, and the next run indexes all.
// REQUIRES: `archive` opened read-write.
Status DropIndex(Archive& archive);

// How the indexer parses a message (text included, cut where the index
// stops reading). Archive::Ingest(batch, &limits) parses new messages this
// way once, for the catalog and the index both.
mime::ParseLimits IndexParseLimits();

// What a command already has of a message it has just stored, by catalog id.
struct AtHand {
  std::string raw;                              // the bytes (may be empty when `parsed` is set)
  std::shared_ptr<const mime::Message> parsed;  // parsed with IndexParseLimits(), or null
};

// Removed messages (Archive::Remove) are queued like changed ones; the
// feeder finds them gone from the catalog, removes their documents and
// takes them off the queue only once the index has committed that, so a
// killed run leaves them queued and the next run removes them again.
//
// Messages in flight: off the catalog's queue, not yet known committed to
// the index (the next indexing run does them first).
Result<std::vector<int64_t>> InFlightIds(Archive& archive);
// Moves the ids of an older mailkeep's xapian/in-flight file into the
// catalog (ids no longer in the catalog are dropped) and removes the file.
// REQUIRES: `archive` opened read-write.
Status AdoptLegacyJournal(Archive& archive);

struct CatchUpResult {
  int64_t indexed = 0;
  int64_t removed = 0;  // documents of messages no longer in the catalog, removed
  int64_t failed = 0;  // messages not indexed: unreadable (each reported through on_problem and left
                       // queued), or refused by the index (reported, kept in the journal); retried by a
                       // later run
  int64_t requeued = 0;  // the index cache was missing: every message queued again (RequeueLostIndex)
};

class IndexFeeder {
 public:
  struct Callbacks {
    std::function<void(int64_t done, int64_t total)> on_progress;       // after each chunk; may be empty
    std::function<void(int64_t id, const std::string& why)> on_problem;  // may be empty
  };

  // Opens (or creates) the index of `archive` and reads the journal left by
  // a killed run. A lost index cache is queued whole again first
  // (RequeueLostIndex; result().requeued says how many). `workers`: parse threads, 0 = hardware threads.
  // `writer`: the index writer's options; among them expected_bytes, the
  // mail the caller is about to store and index as far as it knows (a
  // large run is written into a segment of its own).
  // REQUIRES: `archive` opened read-write; it outlives the feeder.
  static Result<std::unique_ptr<IndexFeeder>> Open(Archive& archive, int workers, Callbacks callbacks,
                                                   const IndexWriterOptions& writer = {});
  // Commits what is in flight (errors lost: call Commit() first).
  ~IndexFeeder();

  // Hands everything queued now (journaled messages of an earlier run
  // first) to the index writer, in chunks of at most 1,000 messages and
  // ~256 MB of raw mail; commits every 5,000 messages. Returns when the
  // last chunk is queued, not written. A message that cannot be read is
  // reported and skipped (it stays queued).
  // `at_hand`, when given, holds what the caller already has of messages,
  // by catalog id (a batch just stored): used (moved from) instead of
  // reading the message back from the archive and parsing it.
  // Errors: a catalog error, or an index failure (the writer's, not one
  // document's); what was committed before stays indexed.
  Status Feed(std::unordered_map<int64_t, AtHand>* at_hand = nullptr);
  // Waits for everything handed over, commits it, reports refused
  // documents and empties the journal (but for them).
  Status Commit();

  const CatchUpResult& result() const { return result_; }

 private:
  IndexFeeder(Archive& archive, int workers, Callbacks callbacks, std::unique_ptr<IndexWriter> writer);

  Archive& archive_;
  int workers_;
  Callbacks callbacks_;
  std::unique_ptr<IndexWriter> writer_;
  std::vector<int64_t> replay_;       // journaled by a killed run: indexed first
  std::set<int64_t> skipped_;         // unreadable this run: stay queued, asked for past them
  std::set<int64_t> removing_;        // gone from the catalog: removed from the index, queued until it commits
  std::vector<int64_t> in_flight_;    // handed to the writer since the last commit
  std::vector<int64_t> retry_;        // refused by the index: keep their intents
  CatchUpResult result_;
  int64_t done_ = 0;
};

// Indexes everything queued and commits (IndexFeeder Open, Feed, Commit).
// Errors as IndexFeeder's.
// REQUIRES: `archive` opened read-write.
Result<CatchUpResult> CatchUpIndex(Archive& archive, int workers,
                                   const std::function<void(int64_t done, int64_t total)>& on_progress,
                                   const std::function<void(int64_t id, const std::string& why)>& on_problem);

// `mailkeep repack`'s index step. When the archive has an index, brings
// it up to date (CatchUpIndex: the documents of removed messages go) and
// compacts it (CompactIndex), so that no file of the index holds text of a
// removed message. No index (never built, or a cache that is gone):
// nothing is done, compacted is false (an index built later holds no
// removed message). Errors as CatchUpIndex's and CompactIndex's; after one
// the index is consistent, maybe not compacted.
// REQUIRES: `archive` opened read-write.
struct IndexCompaction {
  CatchUpResult caught_up;
  bool compacted = false;
};
Result<IndexCompaction> CatchUpAndCompactIndex(Archive& archive,
                                               const std::function<void(int64_t id, const std::string& why)>& on_problem);

}  // namespace mailkeep::index
