// Internal to index/: the sharded on-disk layout of the index (schema
// version 2).
//
//   DIR/XAPIANDB   a Xapian stub database file, one line per shard in
//                  shard order: "glass shard-0", "glass shard-1", ..., or
//                  "glass shard-K.G" after the G-th compaction of shard K.
//                  It records the number of shards N, so readers and later
//                  writers agree, and lets Xapian's own tools open DIR as
//                  one database (xapian-delve DIR).
//                  A compaction also writes the line "# mailkeep
//                  compacted-bytes B" (Xapian skips '#' lines): B bytes
//                  were the shards' files right after it, what the writer's
//                  compaction policy measures growth against
//                  (IndexWriterOptions::compact_growth_percent). Switched
//                  with the shards in the same rename, so it always
//                  describes the generation the stub names.
//   DIR/shard-K[.G]  glass database K, 0 <= K < N.
//
// Generations: a compaction (IndexWriter::Compact) writes every shard's
// next generation beside the current one, fsyncs it, then switches
// XAPIANDB to it in one rename and removes the old generation. XAPIANDB
// always names one complete generation; shard directories it does not name
// are leftovers of a killed compaction, removed by the next writer.
//
// Catalog id c lives in shard (c-1) % N as shard docid (c-1)/N + 1. Opened
// together with Database::add_database in shard order, Xapian interleaves
// the shards' docids exactly so: combined docid = (shard docid-1)*N + K + 1
// = c. N never changes after the index is created (the writer reads it back
// from XAPIANDB); `mailkeep reindex` rebuilds with the current default.
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

// The shards listed in DIR/XAPIANDB, in shard order; empty when DIR has no
// such file (no index yet, or an unsharded index from schema version 1).
// `compacted_bytes`, when given, gets the recorded size after the last
// compaction (0: none recorded). kCorruption when the file is not what
// WriteShardStub wrote.
Result<std::vector<ShardName>> ReadShardStub(const std::string& dir, uint64_t* compacted_bytes = nullptr);

// Writes DIR/XAPIANDB durably and atomically (WriteFileAtomic: a 0600
// temporary, fsync, rename, directory fsync), with the compacted-bytes
// line when `compacted_bytes` > 0.
Status WriteShardStub(const std::string& dir, const std::vector<ShardName>& shards, uint64_t compacted_bytes = 0);

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
