#include "store/repack.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "store/util/sha256.h"

namespace mailkeep {
namespace {

using blobs::BlobLocation;

// A record a catalog row points at.
struct LiveRecord {
  BlobLocation loc;
  bool dictionary = false;
  int64_t blob_id = 0;  // blobs: the row's id
  uint64_t size() const { return blobs::kRecordHeaderSize + loc.stored_len; }
};

struct PackPlan {
  uint32_t pack = 0;
  uint64_t size = 0;                    // of the file (0 when missing)
  bool exists = false;
  std::vector<LiveRecord> live;         // by offset
  uint64_t live_bytes = 0;
  std::vector<uint32_t> dropped_dicts;  // dictionary records here no blob needs
};

// Runs `body` in one catalog transaction.
Status InTransaction(catalog::Catalog& cat, const std::function<Status()>& body) {
  MK_RETURN_IF_ERROR(cat.Begin());
  Status st = body();
  if (st) st = cat.Commit();
  if (!st) cat.Rollback();
  return st;
}

class Repacker {
 public:
  Repacker(catalog::Catalog& cat, blobs::PackStore& packs, std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends)
      : cat_(cat), packs_(packs), rolled_ends_(rolled_ends) {}

  Result<RepackReport> Run(const RepackOptions& options,
                           const std::function<void(int64_t, int64_t)>& on_progress) {
    if (!options.dry_run) {
      // A killed run's staged or dropped dictionaries' repair files.
      MK_RETURN_IF_ERROR(LoadCommittedDictionaries());
      MK_RETURN_IF_ERROR(SettleRepairFiles());
    }
    MK_ASSIGN_OR_RETURN(std::vector<PackPlan> plans, Plan());
    MK_ASSIGN_OR_RETURN(auto orphans, packs_.Orphans());
    report_.orphan_files = orphans.files;
    report_.orphan_bytes = orphans.bytes;
    if (options.dry_run) {
      for (const PackPlan& p : plans) Count(p);
      return report_;
    }
    // A tombstone (store/PACK_FORMAT.md) must outlive the removed records
    // it names, which lie in its pack or earlier ones: packs go in
    // ascending order (`plans` is), so a kill never leaves a removed
    // record without its tombstone. The current pack goes last, but is
    // rolled away from first, so that every live record is copied once,
    // into the pack after it.
    if (std::any_of(plans.begin(), plans.end(), [&](const PackPlan& p) { return p.pack == packs_.current_pack(); })) {
      MK_RETURN_IF_ERROR(packs_.Roll());
    }
    int64_t done = 0;
    for (const PackPlan& p : plans) {
      MK_RETURN_IF_ERROR(Rewrite(p));
      if (on_progress) on_progress(++done, static_cast<int64_t>(plans.size()));
    }
    if (orphans.files > 0) MK_RETURN_IF_ERROR(packs_.RemoveOrphans());
    MK_ASSIGN_OR_RETURN(int64_t free_pages, cat_.FreePages());
    if (free_pages > 0 || report_.packs_rewritten > 0) {
      MK_RETURN_IF_ERROR(cat_.Compact());
      report_.catalog_compacted = true;
    }
    return report_;
  }

 private:
  Status SettleRepairFiles() {
    auto settled = packs_.SettleRepairFiles(committed_);
    return settled ? OkStatus() : Status(std::unexpected(settled.error()));
  }

  Status LoadCommittedDictionaries() {
    MK_ASSIGN_OR_RETURN(auto dicts, cat_.Dictionaries());
    committed_.clear();
    for (const auto& d : dicts) committed_[d.id] = {d.pack, d.offset, d.stored_len, d.raw_len, d.id};
    return OkStatus();
  }

  // Which packs hold bytes no row needs, and what in them is live.
  Result<std::vector<PackPlan>> Plan() {
    std::vector<int64_t> ids;
    MK_ASSIGN_OR_RETURN(auto blob_rows, cat_.AllBlobs(&ids));
    MK_ASSIGN_OR_RETURN(auto dicts, cat_.Dictionaries());
    MK_ASSIGN_OR_RETURN(auto ends, cat_.PackEnds());
    MK_ASSIGN_OR_RETURN(auto sizes, packs_.PackSizes());
    report_.packs = static_cast<int64_t>(sizes.size());

    std::set<uint32_t> used;
    for (const auto& b : blob_rows) used.insert(b.dict);
    const uint32_t newest = dicts.empty() ? 0 : dicts.back().id;  // the writer's: always kept

    std::map<uint32_t, PackPlan> by_pack;
    auto plan = [&](uint32_t pack) -> PackPlan& {
      PackPlan& p = by_pack[pack];
      p.pack = pack;
      return p;
    };
    for (const auto& [pack, end] : ends) plan(pack);
    for (size_t i = 0; i < blob_rows.size(); ++i) {
      const auto& b = blob_rows[i];
      plan(b.pack).live.push_back({{b.pack, b.offset, b.stored_len, b.raw_len, b.dict}, false, ids[i]});
    }
    for (const auto& d : dicts) {
      if (used.count(d.id) > 0 || d.id == newest) {
        plan(d.pack).live.push_back({{d.pack, d.offset, d.stored_len, d.raw_len, d.id}, true, 0});
      } else {
        plan(d.pack).dropped_dicts.push_back(d.id);
      }
    }
    for (const auto& [pack, size] : sizes) {
      if (by_pack.count(pack) == 0 && pack < packs_.current_pack()) {
        report_.problems.push_back("pack " + std::to_string(pack) + " (" + std::to_string(size) +
                                   " bytes) is not known to the catalog; left as it is");
      }
    }
    std::vector<PackPlan> out;
    for (auto& [pack, p] : by_pack) {
      if (auto it = sizes.find(pack); it != sizes.end()) {
        p.exists = true;
        p.size = it->second;
      }
      std::sort(p.live.begin(), p.live.end(),
                [](const LiveRecord& a, const LiveRecord& b) { return a.loc.offset < b.loc.offset; });
      for (const auto& r : p.live) p.live_bytes += r.size();
      const bool current = pack == packs_.current_pack();
      const bool dead_bytes = p.size > p.live_bytes || !p.dropped_dicts.empty();
      const bool empty_leftover = p.live.empty() && !current;  // e.g. a pack a killed repack emptied
      if (dead_bytes || empty_leftover) out.push_back(std::move(p));
    }
    return out;
  }

  void Count(const PackPlan& p) {
    ++report_.packs_rewritten;
    report_.bytes_copied += p.live_bytes;
    report_.bytes_freed += p.size - std::min(p.size, p.live_bytes);
    report_.dictionaries_dropped += static_cast<int64_t>(p.dropped_dicts.size());
  }

  // Steps 1-4 of store/repack.h for one pack.
  Status Rewrite(const PackPlan& p) {
    if (p.pack == packs_.current_pack()) MK_RETURN_IF_ERROR(packs_.Roll());
    std::vector<std::pair<const LiveRecord*, BlobLocation>> moved;
    std::string problem;
    for (const LiveRecord& r : p.live) {
      auto copy = packs_.CopyRecord(r.loc, r.dictionary);
      if (!copy) {
        const ErrorCode code = copy.error().code();
        if (code != ErrorCode::kCorruption && code != ErrorCode::kFailedPrecondition) {
          return std::unexpected(copy.error());
        }
        problem = copy.error().message();
        break;
      }
      moved.emplace_back(&r, *copy);
    }
    MK_RETURN_IF_ERROR(packs_.Sync());
    // Switch: the rows point at the copies (unless a record failed: then
    // only the pack ends, and the copies are dead bytes of the current pack).
    MK_RETURN_IF_ERROR(InTransaction(cat_, [&]() -> Status {
      for (const auto& [pack, len] : rolled_ends_) MK_RETURN_IF_ERROR(cat_.SetPackCommitted(pack, len));
      MK_RETURN_IF_ERROR(cat_.SetPackCommitted(packs_.current_pack(), packs_.current_pack_len()));
      if (!problem.empty()) return OkStatus();
      for (const auto& [r, loc] : moved) {
        MK_RETURN_IF_ERROR(r->dictionary ? cat_.MoveDictionary(loc.dict_id, loc.pack, loc.offset)
                                         : cat_.MoveBlob(r->blob_id, loc.pack, loc.offset));
      }
      for (uint32_t id : p.dropped_dicts) MK_RETURN_IF_ERROR(cat_.RemoveDictionary(id));
      return OkStatus();
    }));
    rolled_ends_.clear();
    if (!problem.empty()) {
      report_.problems.push_back("pack " + std::to_string(p.pack) + " left as it is: " + problem);
      return OkStatus();
    }
    Count(p);
    for (const auto& [r, loc] : moved) {
      if (!r->dictionary) continue;
      committed_[loc.dict_id] = loc;
      MK_RETURN_IF_ERROR(packs_.RelocateDictionary(loc.dict_id, loc));
    }
    for (uint32_t id : p.dropped_dicts) {
      committed_.erase(id);
      MK_RETURN_IF_ERROR(packs_.RelocateDictionary(id, std::nullopt));
    }
    MK_RETURN_IF_ERROR(SettleRepairFiles());
    MK_RETURN_IF_ERROR(packs_.RemovePack(p.pack));
    return InTransaction(cat_, [&] { return cat_.RemovePack(p.pack); });
  }

  catalog::Catalog& cat_;
  blobs::PackStore& packs_;
  std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends_;
  std::map<uint32_t, BlobLocation> committed_;  // the catalog's dictionaries
  RepackReport report_;
};

}  // namespace

Result<RepackReport> RunRepack(catalog::Catalog& cat, blobs::PackStore& packs,
                               std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends, const RepackOptions& options,
                               const std::function<void(int64_t done, int64_t total)>& on_progress) {
  return Repacker(cat, packs, rolled_ends).Run(options, on_progress);
}

}  // namespace mailkeep
