// Internal to index/: the on-disk layout of the index (schema version 2):
// segments of N shards.
//
//   DIR/XAPIANDB   a Xapian stub database file naming every shard, segment
//                  after segment, each segment's shards in shard order:
//                    glass shard-0.3
//                    glass shard-1.3
//                    # mailkeep segment-from 74907
//                    glass shard-0.5
//                    glass shard-1.5
//                    # mailkeep compacted-bytes 412345678
//                  A segment holds the catalog ids from its first id (1 for
//                  the first segment; "# mailkeep segment-from F" starts
//                  another) up to the next segment's first id. Every segment
//                  has the same number of shards N, so readers and later
//                  writers agree. Xapian skips '#' lines, so its own tools
//                  open DIR as one database (xapian-delve DIR).
//                  "# mailkeep compacted-bytes B": B bytes were the shards'
//                  files right after the last compaction, what the writer's
//                  compaction policy measures growth against
//                  (IndexWriterOptions::compact_growth_percent).
//   DIR/shard-K[.G]  glass database: shard K of the segment whose shards
//                  are generation G (no two segments share one).
//
// Why segments: adding documents to a large Xapian database costs more per
// document the larger it is (each flush rewrites B-tree blocks spread over
// the whole postlist table), so a writer that adds many documents to a
// large index writes them into a fresh segment of its own, the segments
// merged in tiers (SegmentsToMerge), like a log-structured merge tree.
// Only a large run gets a segment of its own (IndexWriterOptions says
// why); readers and writers read any number of segments.
//
// Generations: a compaction (IndexWriter::Compact) or a merge writes the
// shards of one new generation beside the current ones, fsyncs them, then
// switches XAPIANDB to them in one rename and removes the ones replaced.
// XAPIANDB always names complete shards; shard directories it does not
// name are leftovers of a killed compaction or of a segment created by a
// writer killed before it listed it, removed by the next writer.
//
// Document ids: catalog id c lives in shard (c-1) % N of its segment, as
// shard docid (c-1)/N + 1 (in every segment: the segments of one shard
// number hold disjoint docid ranges). Opened together with
// Database::add_database in stub order (M = S*N databases for S segments),
// Xapian interleaves the databases' docids: combined docid = (shard
// docid-1)*M + j + 1 for database j; CatalogIdOf turns it back into c. For
// one segment that is c itself. Combined docids sort as catalog ids do
// (the segments hold increasing id ranges), so Xapian's docid order is
// catalog id order. N never changes after the index is created (the writer
// reads it back from XAPIANDB); `mailkeep reindex` rebuilds with the
// current default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"

namespace mailkeep::index {

inline constexpr const char* kStubFile = "XAPIANDB";
inline constexpr size_t kMaxShards = 64;

// One shard as XAPIANDB names it.
struct ShardName {
  size_t shard = 0;       // K
  size_t generation = 0;  // G; 0 = "shard-K"
  std::string Name() const;  // "shard-K" or "shard-K.G"
  bool operator==(const ShardName&) const = default;
};

// A segment: the catalog ids from first_id on (up to the next segment's),
// in N shards of one generation.
struct Segment {
  int64_t first_id = 1;
  std::vector<ShardName> shards;  // shard order
  bool operator==(const Segment&) const = default;
};

// What XAPIANDB says.
struct ShardStub {
  std::vector<Segment> segments;  // increasing first_id; the first's is 1; empty: no index
  uint64_t compacted_bytes = 0;   // after the last compaction; 0: none recorded

  size_t shards_per_segment() const { return segments.empty() ? 0 : segments.front().shards.size(); }
  // Every shard in stub order (Xapian's database order).
  std::vector<ShardName> AllShards() const;
  // The segment holding catalog id `id` (>= 1).
  size_t SegmentOf(int64_t id) const;
  // A generation no segment uses.
  size_t NextGeneration() const;
  bool operator==(const ShardStub&) const = default;
};

inline constexpr size_t kMaxSegments = 16;

// The stub in DIR/XAPIANDB; no segments when DIR has no such file (no
// index yet, or an unsharded index from schema version 1). kCorruption
// when the file is not what WriteShardStub writes.
Result<ShardStub> ReadShardStub(const std::string& dir);

// Writes DIR/XAPIANDB durably and atomically (WriteFileAtomic: a 0600
// temporary, fsync, rename, directory fsync).
Status WriteShardStub(const std::string& dir, const ShardStub& stub);

// The catalog id of Xapian's combined docid `docid` over `segments`
// segments of `shards` shards opened in stub order (see the file comment).
inline int64_t CatalogIdOf(uint64_t docid, size_t shards, size_t segments) {
  const uint64_t m = static_cast<uint64_t>(shards) * segments;
  const uint64_t shard_docid = (docid - 1) / m + 1;
  return static_cast<int64_t>((shard_docid - 1) * shards + (docid - 1) % m % shards + 1);
}

// The tier merge policy of a writer that wrote a fresh segment: given the
// documents of every segment (the fresh one last), the first of the newest
// segments to merge into one when it closes (documents.size() - 1: only the
// fresh one, which is then compacted alone). Segments are in tiers by size
// (tier t: documents in [base*T^t, base*T^(t+1)), tier 0 below base*T);
// whenever the newest T segments are of one tier they are merged (a
// cascade, done as one merge). Each document is then rewritten about once
// per tier (log_T of the index), and at most about T-1 segments per tier
// remain; past kMaxSegments - 1 the newest are merged regardless.
size_t SegmentsToMerge(const std::vector<int64_t>& documents, size_t tier_factor, int64_t tier_base);

// The size of the files in DIR's shard directories `shards`, in bytes
// (what cannot be read counts 0).
uint64_t ShardBytes(const std::string& dir, const std::vector<ShardName>& shards);

// "shard-K" or "shard-K.G" (G > 0) as a ShardName; nullopt for any other
// name.
std::optional<ShardName> ParseShardName(std::string_view name);

// Removes every shard directory in DIR that `listed` (XAPIANDB) does not
// name: what a compaction killed before its switch (the next generation,
// maybe partial) or after it (the previous one) left. Either may hold
// text of removed documents. Other files are left alone. REQUIRES: the
// caller holds the listed shards' write locks (no compaction runs).
Status RemoveUnlistedShards(const std::string& dir, const std::vector<ShardName>& listed);

}  // namespace mailkeep::index
