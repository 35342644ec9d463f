// Repack: the engine behind Archive::Repack (store/archive.h), on the
// archive's catalog and pack store. Internal to store/.
//
// First, the dictionaries that may hold text of a removed message (found
// through the removed messages' dead records) are replaced: their
// messages are recompressed (new frames appended and synced), one catalog
// transaction switches the rows and drops those dictionaries, then their
// repair files go; their old frames and records become dead bytes.
// Then per pack, in this order, each step durable before the next
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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/archive.h"
#include "store/blobs/pack_store.h"
#include "store/catalog/catalog.h"

namespace mailkeep {

// How the archive trains a dictionary (store/archive.cc): on at most
// `max_samples` messages, each cut to `max_sample_bytes`.
struct DictionaryTraining {
  size_t max_samples = 0;
  size_t max_sample_bytes = 0;
  std::function<Result<std::string>(const std::vector<std::string_view>& samples)> train;
};

// `rolled_ends` collects the packs the writer rolls away from (the
// archive's NewPackHook); their ends are committed with each switch.
// `training` makes the new newest dictionary when the newest one may hold
// text of a removed message.
Result<RepackReport> RunRepack(catalog::Catalog& cat, blobs::PackStore& packs,
                               std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends,
                               const DictionaryTraining& training, const RepackOptions& options,
                               const std::function<void(int64_t done, int64_t total)>& on_progress);

}  // namespace mailkeep
