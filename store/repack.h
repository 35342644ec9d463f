// Repack: the engine behind Archive::Repack (store/archive.h), on the
// archive's catalog and pack store. Internal to store/.
//
// Per pack, in this order, each step durable before the next
// (store/PACK_FORMAT.md, "Repacking"):
//   1. copy the pack's live records (blobs a catalog row points at,
//      dictionaries a remaining blob or the writer needs) byte for byte to
//      the writer's current pack, staging a repair file for each moved
//      dictionary; fsync;
//   2. one catalog transaction: the rows point at the copies, unneeded
//      dictionaries are dropped, the writer's pack ends are recorded;
//   3. settle the repair files, unlink the pack, fsync packs/;
//   4. drop the pack's row.
// Every state in between is an ordinary archive: before 2 the copies lie
// past the recorded end (the next writer moves them to orphans/); after 2
// the old pack holds no live record and the next repack removes it.
// Thread-safety: the archive's writer thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "store/archive.h"
#include "store/blobs/pack_store.h"
#include "store/catalog/catalog.h"

namespace mailkeep {

// `rolled_ends` collects the packs the writer rolls away from (the
// archive's NewPackHook); their ends are committed with each switch.
Result<RepackReport> RunRepack(catalog::Catalog& cat, blobs::PackStore& packs,
                               std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends, const RepackOptions& options,
                               const std::function<void(int64_t done, int64_t total)>& on_progress);

}  // namespace mailkeep
