// Internal to index/: the sharded on-disk layout of the index (schema
// version 2).
//
//   DIR/XAPIANDB   a Xapian stub database file, one line per shard in
//                  shard order: "glass shard-0", "glass shard-1", ... It
//                  records the number of shards N, so readers and later
//                  writers agree, and lets Xapian's own tools open DIR as
//                  one database (xapian-delve DIR).
//   DIR/shard-K    glass database K, 0 <= K < N.
//
// Catalog id c lives in shard (c-1) % N as shard docid (c-1)/N + 1. Opened
// together with Database::add_database in shard order, Xapian interleaves
// the shards' docids exactly so: combined docid = (shard docid-1)*N + K + 1
// = c. N never changes after the index is created (the writer reads it back
// from XAPIANDB); `mailkeep reindex` rebuilds with the current default.
#pragma once

#include <cstddef>
#include <string>

#include "store/util/status.h"

namespace mailkeep::index {

inline constexpr const char* kStubFile = "XAPIANDB";
inline constexpr size_t kMaxShards = 64;

// DIR/shard-K.
std::string ShardPath(const std::string& dir, size_t shard);

// N from DIR/XAPIANDB; 0 when DIR has no such file (no index yet, or an
// unsharded index from schema version 1). kCorruption when the file is not
// what WriteShardStub wrote.
Result<size_t> ReadShardCount(const std::string& dir);

// Writes DIR/XAPIANDB for `shards` shards (atomically: temporary + rename).
Status WriteShardStub(const std::string& dir, size_t shards);

}  // namespace mailkeep::index
