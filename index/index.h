// The full-text index: a Xapian database beside the catalog (ARCHIVE/xapian).
// Only index/ includes Xapian headers; every Xapian::Error is caught here
// and returned as a Status.
//
// Document id = catalog message id. What is indexed and under which prefix
// lives in one table (index/schema.h), versioned in the database metadata.
// On disk the index is N shards written in parallel (index/shards.h:
// DIR/XAPIANDB lists DIR/shard-0 .. shard-N-1); readers open them as one
// database.
//
// Thread-safety: an IndexWriter belongs to one thread (the archive's index
// thread): Add/Remove/Commit are called from it, and the writer runs its own
// shard threads internally. IndexReader instances are independent and each
// belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/mime/message.h"
#include "store/util/status.h"

namespace mailkeep::index {

// Everything the index needs about one message: the parsed message plus
// where it was found and its catalog facts.
struct IndexDocument {
  int64_t id = 0;                       // catalog id = Xapian docid
  // Parsed with text extraction (ParseLimits::max_text_bytes may be cut to
  // IndexWriterOptions::max_body_bytes: only that much is indexed). Shared,
  // not copied: a shard thread reads it once to build the document, then
  // drops its reference.
  std::shared_ptr<const mime::Message> message;
  uint64_t size = 0;                    // raw bytes
  int64_t thread = 0;                   // thread id (catalog)
  std::vector<std::string> accounts;    // account names of all locations
  std::vector<std::string> folders;     // folder names of all locations
  std::vector<std::string> flags;       // IMAP flags ("\\Seen" ...), union over locations
};

struct IndexWriterOptions {
  size_t commit_every_documents = 20000;   // commit at least this often
  size_t commit_every_bytes = 256u << 20;  // ... or after this many bytes of text
  size_t max_body_bytes = 64 * 1024;       // body text indexed per message
  // Each shard thread also commits by itself after this many documents,
  // without the caller waiting: Xapian buffers a shard's changes in maps
  // whose per-posting cost grows with their size, so small flushes cost
  // less CPU and memory, but each commit rewrites the B-tree blocks it
  // touches (linux-mips reindex, 2 shards, loaded machine: 250: 34.1 s CPU,
  // 5.0 GB written, 45 s wall; 500: 35.2 s, 3.0 GB, 42 s; 1000: 36.1 s,
  // 2.0 GB, 39 s but import peak RSS 248 MB). 0 = only the commits above.
  size_t shard_flush_documents = 500;
  // ... or once the documents since its last commit hold this much text
  // (DocumentBuilder's folded text), whichever comes first: Xapian's buffer
  // grows with the words, not the documents, so 500 long messages (up to
  // max_body_bytes each) would hold many times what 500 typical ones do.
  // linux-mips 10 times over (tools/bench/scale_bench.sh, quiet machine):
  // peak RSS 235-255 MB at every batch with 2 MiB (234-264 MB in runs
  // without);
  // batch 10 into a copy of the 9x archive: 1 MiB 69.0 s, 2 MiB 50.7 s,
  // 4 MiB 60.0 s, none 56.8 s (single runs vary by 15 % here).
  size_t shard_flush_text_bytes = size_t{2} << 20;
  // Shards (and writer threads) of a new index; 0 = the hardware threads,
  // at least 2. An existing index keeps the number it was created with.
  size_t shards = 0;
  // Compaction policy: when a writer that changed the index is destroyed,
  // it compacts the shards (Compact()) if they have grown since the last
  // compaction (the size XAPIANDB records; none yet: 0) by at least
  // compact_growth_percent of that size and at least
  // compact_min_growth_bytes. Documents added to an index grow it by about
  // three times their compact size (B-tree blocks split half empty, old
  // copies of rewritten blocks freed), so the index stays within
  // (1 + compact_growth_percent/100) of its compact size, and each byte
  // added is rewritten by compactions a bounded number of times (every
  // compaction follows growth of a fixed share of what it rewrites).
  // linux-mips imported 10 times over in batches of 37,455 (each growing
  // the index by more than 25 %: batch 3 of the old rule, which compacted
  // only after a writer that added half the index, took it from 313 MB to
  // 807 MB) is compacted after every batch; its compact size was about
  // 0.70 x raw with schema 4 (158 MB for 224 MB at 1 x, 313 MB for 448 MB
  // at 2 x), 0.55-0.58 x raw with schema 5 (130 MB at 1 x).
  // compact_growth_percent 0 = never. A kill at any step of a compaction
  // leaves the index with exactly its committed documents (Compact();
  // tests/fault/repack_steps.sh kills it at each step).
  size_t compact_growth_percent = 25;
  uint64_t compact_min_growth_bytes = uint64_t{16} << 20;
  // Segments (index/shards.h): a writer opened for a run expected to bring
  // at least fresh_segment_min_bytes of mail (expected_bytes; `import`
  // counts its input's bytes), on an index whose newest segment holds at
  // least fresh_segment_min_documents documents, writes the documents it
  // adds past the index's last id into a fresh segment of its own.
  // Otherwise it adds them to the newest segment, and when it closes the
  // compaction policy above compacts the newest segment alone while the
  // growth can all be there (IndexWriter's CompactionDue), so a run
  // rewrites at most the newest segment. When a writer that made a fresh
  // segment closes, it merges the newest segments by tiers
  // (SegmentsToMerge: segment_tier_factor segments of one tier become one;
  // tier 0 is below segment_tier_base * segment_tier_factor documents) or,
  // when none merge, compacts its fresh segment alone.
  // Why: adding to a large glass database costs more per document (each
  // flush rewrites blocks spread over the whole postlist table), and
  // compacting it rewrites all of it. linux-mips imported 10 times over
  // (tools/bench/scale_bench.sh, 37,455 messages a batch, 2 cores, schema
  // 5):
  //   - one segment (fresh_segment_min_documents 0): batch 10 at 0.73 of
  //     batch 1's rate; index 0.547 x raw; peak RSS 216-237 MB.
  //   - a fresh segment for every batch but the first: batch 10 at 0.90;
  //     batch 8, which merged 8 segments into one, at 0.69; index 0.582 x
  //     raw; peak RSS 205-247 MB (the writer runs threads only for the
  //     shards new documents go to).
  // Why not for every run: Xapian 1.4's compact() merges postlists by
  // copying each source's chunks, so a term found in several segments keeps
  // a chunk in each, and no later merge takes it back (0.035 x raw more
  // index in the run above). A small run's segment would cost the most per
  // message, and cron runs are small.
  size_t fresh_segment_min_documents = 10000;
  // ... and only for a run the caller expects to bring at least this much
  // mail (expected_bytes): a smaller one adds to the newest segment.
  uint64_t fresh_segment_min_bytes = uint64_t{64} << 20;
  // The mail the caller expects this run to add, in bytes; 0: not known
  // (taken as a small run).
  uint64_t expected_bytes = 0;
  size_t segment_tier_factor = 8;
  int64_t segment_tier_base = 1000;
};

// A document the index refused (not a failure of the index itself).
struct RefusedDocument {
  int64_t id = 0;
  Error error;
};

class IndexWriter {
 public:
  // Opens or creates the database in `dir`.
  static Result<std::unique_ptr<IndexWriter>> Open(const std::string& dir, const IndexWriterOptions& options = {});
  virtual ~IndexWriter() = default;
  // Adds or replaces a document: queued to the shard that owns doc.id and
  // built and written there in the background (blocks while that queue is
  // full). A document the index refuses (a Xapian error other than a
  // database error, e.g. std::bad_alloc or an invalid term) is skipped and
  // listed by TakeRefused(); a database error (I/O, corruption, lock) is
  // returned by a later Add() or by Commit(), and after one the writer
  // refuses further adds.
  virtual Status Add(IndexDocument doc) = 0;
  // Removes message `id`'s document; one that is not there is no error (a
  // removal queued twice, or for a message never indexed).
  virtual Status Remove(int64_t id) = 0;
  // Waits for everything added so far, makes it durable in every shard and
  // visible to new readers; the first error of any shard.
  virtual Status Commit() = 0;
  // The documents refused since the last call, in no particular order;
  // complete for everything added before the last successful Commit().
  virtual std::vector<RefusedDocument> TakeRefused() = 0;
  virtual Result<int64_t> DocumentCount() = 0;
  // Highest docid in the index (0 when empty).
  virtual Result<int64_t> LastDocId() = 0;
  // Commits, then rewrites every shard into its next generation (docids
  // kept) and switches XAPIANDB to it (index/shards.h), then removes the
  // old generation and goes on writing to the new one. Afterwards no file
  // under the index directory holds a byte of a removed or replaced
  // document (Xapian leaves them in freed B-tree blocks until then); the
  // shards are also at their compact size. Needs free space for one copy
  // of the index. An error before the switch leaves the index as it was;
  // after it (the new shards cannot be opened) the writer refuses further
  // work (reopen it). A kill at any moment leaves an index with exactly
  // the committed documents: XAPIANDB names one complete generation, and
  // the next Open() removes the shard directories it does not name. Not
  // caught: a failed fsync inside Xapian's compact(), which Xapian 1.4.22
  // ignores (a disk error there can leave the index unreadable until
  // `reindex`; the catalog is not affected).
  virtual Status Compact() = 0;
};

// `mailkeep repack`'s index step: IndexWriter::Compact() on the index in
// `dir`, if there is one (a writer is opened and closed; a writer open
// elsewhere makes this kUnavailable). false, and nothing created, when
// `dir` holds no index.
Result<bool> CompactIndex(const std::string& dir);

enum class SortOrder { kNewest, kOldest, kRelevance };

// "newest", "oldest", "relevance" (as `search --sort` and the web take
// them); nullopt for anything else.
inline std::optional<SortOrder> ParseSortOrder(std::string_view name) {
  if (name == "newest") return SortOrder::kNewest;
  if (name == "oldest") return SortOrder::kOldest;
  if (name == "relevance") return SortOrder::kRelevance;
  return std::nullopt;
}

// What one query may cost, so that a search box open to others cannot take
// the machine (unbounded, 500 x `a*` took 2.4 GB and minutes, a 4,000-word
// phrase 30 s). Counted while the query is parsed, before anything runs;
// past a bound the query is refused with kInvalidArgument and one line,
// "query error at column C: <what>; <what to narrow>" (index/query.h).
// Within the defaults, on the 37,455 messages of linux-mips, the costliest
// queries measured (c*, to:*: 21,000-23,000 terms) took under 3 s and 50 MB
// on a loaded 2-core machine, a 100-word phrase 0.7 s and 31 MB.
struct QueryLimits {
  // Query text, in bytes.
  size_t max_bytes = 64 * 1024;
  // Words in the whole query: each word of a phrase (as split at spaces),
  // each wildcard and each field value counts one.
  size_t max_words = 100;
  // Index terms the query searches once expanded: a free-text word is five
  // (body, subject, from, to, cc) plus its other forms found in the index; a
  // wildcard is every term it matches (counted in the index while parsing;
  // Xapian is also told to refuse more when the query runs).
  size_t max_terms = 25000;
  // Index terms read while looking up the other forms of words (stems).
  size_t max_form_reads = 200000;
};

struct SearchOptions {
  SortOrder sort = SortOrder::kNewest;
  size_t offset = 0;
  size_t limit = 0;  // 0 = no limit
  int64_t now = 0;   // Unix seconds for date:today etc.; 0 = the real clock
  QueryLimits limits;
};

struct SearchResult {
  std::vector<int64_t> ids;  // in the requested order
  size_t total = 0;          // matches (exact: every match is counted)
};

// The facets of a query's matches: the search page's histogram over time
// and the counts by sender, folder and account that narrow a query when
// clicked (each value is what a field query matches: from:, folder:,
// account:).
struct FacetCount {
  std::string value;
  int64_t count = 0;
};

struct FacetOptions {
  size_t max_values = 10;          // senders, folders, accounts: the most frequent this many
  size_t max_documents = 100000;   // matches counted at most (the newest; see Facets); >= 1
  int64_t now = 0;                 // as SearchOptions::now
  QueryLimits limits;
};

struct FacetResult {
  std::vector<FacetCount> months;    // "YYYY-MM" (UTC), ascending: every month with a counted match
  std::vector<FacetCount> senders;   // From addresses, lower case, most first
  std::vector<FacetCount> folders;   // most first
  std::vector<FacetCount> accounts;  // most first
  size_t counted = 0;                // matches counted (<= max_documents; the newest)
  size_t total = 0;                  // matches: exact up to max_documents + 1, estimated past it
};

class IndexReader {
 public:
  static Result<std::unique_ptr<IndexReader>> Open(const std::string& dir);
  virtual ~IndexReader() = default;
  // Parses `query` (index/query.h syntax) and runs it. A syntax error, or
  // a query past options.limits, is kInvalidArgument with a one-line
  // message pointing at the problem.
  virtual Result<SearchResult> Search(const std::string& query, const SearchOptions& options) = 0;
  // The facets of `query`'s matches (same syntax, errors and limits as
  // Search). When more than options.max_documents match, the newest that
  // many are counted at most: those dated after the (max_documents + 1)-th
  // newest (so messages sharing its date, and undated ones, are left out).
  // Each value is exactly what its field query matches: month M is
  // date:M, sender S from:"S", folder F folder:"F", account A account:"A"
  // (no value holds '"'; a From address with a space, which from: cannot
  // name, is not listed). Cost: reads one document data (index/schema.h) per
  // counted match; memory grows with the distinct values counted.
  virtual Result<FacetResult> Facets(const std::string& query, const FacetOptions& options) = 0;
  virtual Result<int64_t> DocumentCount() = 0;
};

}  // namespace mailkeep::index
