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

// A message whose dictionary is being replaced.
struct BlobRef {
  int64_t id = 0;
  Sha256Digest sha{};
  BlobLocation loc;
};

// Dictionaries next to each other (no kept one between them) that may hold
// fragments of a removed message, their messages, and the dictionary those
// move to: the kept one after them, or, when they include the newest, a new
// newest one (`target` 0 until it is made).
struct TaintedRun {
  std::vector<uint32_t> dicts;
  std::vector<BlobRef> users;
  uint32_t target = 0;
};

// The newest dictionary's stand-in when the messages left cannot train one
// (too few): header text every mail has, no byte of any message.
constexpr std::string_view kNeutralDictionary =
    "Received: from \r\nMessage-ID: <\r\nDate: \r\nFrom: \r\nTo: \r\nCc: \r\nSubject: Re: \r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\n";

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
  Repacker(catalog::Catalog& cat, blobs::PackStore& packs, std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends,
           const DictionaryTraining& training)
      : cat_(cat), packs_(packs), rolled_ends_(rolled_ends), training_(training) {}

  Result<RepackReport> Run(const RepackOptions& options,
                           const std::function<void(int64_t, int64_t)>& on_progress) {
    if (!options.dry_run) {
      // A killed run's staged or dropped dictionaries' repair files.
      MK_RETURN_IF_ERROR(LoadCommittedDictionaries());
      MK_RETURN_IF_ERROR(SettleRepairFiles());
    }
    MK_ASSIGN_OR_RETURN(std::vector<PackPlan> plans, Plan());
    MK_ASSIGN_OR_RETURN(std::vector<TaintedRun> runs, TaintedRuns(plans));
    MK_ASSIGN_OR_RETURN(auto orphans, packs_.Orphans());
    report_.orphan_files = orphans.files;
    report_.orphan_bytes = orphans.bytes;
    if (options.dry_run) {
      for (const TaintedRun& r : runs) Count(r);
      for (const PackPlan& p : plans) Count(p);
      return Finish();
    }
    // First the dictionaries (their messages' old frames become dead bytes
    // of the packs, which the rewrite below then frees), while the dead
    // records that tell which dictionaries are tainted are still there.
    for (TaintedRun& r : runs) MK_RETURN_IF_ERROR(Replace(r));
    if (!runs.empty()) {
      MK_ASSIGN_OR_RETURN(plans, Plan());
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
    return Finish();
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
    NoteUnknownPacks(sizes, by_pack);
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

  // Pack files below the current one that the catalog does not know.
  void NoteUnknownPacks(const std::map<uint32_t, uint64_t>& sizes, const std::map<uint32_t, PackPlan>& known) {
    unknown_packs_.clear();
    for (const auto& [pack, size] : sizes) {
      if (known.count(pack) == 0 && pack < packs_.current_pack()) {
        unknown_packs_.push_back("pack " + std::to_string(pack) + " (" + std::to_string(size) +
                                 " bytes) is not known to the catalog; left as it is");
      }
    }
  }

  RepackReport Finish() {
    report_.problems.insert(report_.problems.end(), unknown_packs_.begin(), unknown_packs_.end());
    return report_;
  }

  void Count(const TaintedRun& r) {
    report_.messages_recompressed += static_cast<int64_t>(r.users.size());
    report_.dictionaries_dropped += static_cast<int64_t>(r.dicts.size());
  }

  // The writer's pack ends, with every switch.
  Status CommitEnds() {
    for (const auto& [pack, len] : rolled_ends_) MK_RETURN_IF_ERROR(cat_.SetPackCommitted(pack, len));
    return cat_.SetPackCommitted(packs_.current_pack(), packs_.current_pack_len());
  }

  // Dictionaries dropped from the catalog: forgotten by the store, their
  // repair files removed.
  Status ForgetDictionaries(const std::vector<uint32_t>& ids) {
    for (uint32_t id : ids) {
      committed_.erase(id);
      MK_RETURN_IF_ERROR(packs_.RelocateDictionary(id, std::nullopt));
    }
    return SettleRepairFiles();
  }

  // ---- Dictionaries that may hold a removed message's text ----
  //
  // A dictionary is trained on messages compressed with the one before it
  // and on the batch it is made for (store/archive.cc), so a message
  // compressed with dictionary d can be a sample of d and of d + 1 only
  // (ids grow by one, and the newest is the one the writer compresses
  // with). A removed message is found by its dead record: a blob record no
  // row points at whose SHA-256 the catalog no longer has (a dead copy of a
  // kept message does not count); its header names d.
  Result<std::vector<TaintedRun>> TaintedRuns(const std::vector<PackPlan>& plans) {
    MK_ASSIGN_OR_RETURN(auto dicts, cat_.Dictionaries());
    std::set<uint32_t> tainted;
    for (const PackPlan& p : plans) {
      if (p.exists) MK_RETURN_IF_ERROR(FindTainted(p, tainted));
    }
    std::vector<TaintedRun> runs;
    bool in_run = false;
    for (const auto& d : dicts) {  // ascending
      if (tainted.count(d.id) == 0) {
        if (in_run) runs.back().target = d.id;
        in_run = false;
        continue;
      }
      if (!in_run) runs.emplace_back();
      runs.back().dicts.push_back(d.id);
      in_run = true;
    }
    if (!runs.empty()) MK_RETURN_IF_ERROR(CollectUsers(runs));
    return runs;
  }

  // Adds to `tainted` the dictionaries of the removed messages in pack p.
  // Damage the scan cannot frame may have been a removed message: reported.
  Status FindTainted(const PackPlan& p, std::set<uint32_t>& tainted) {
    std::set<uint64_t> live;
    for (const LiveRecord& r : p.live) live.insert(r.loc.offset);
    std::optional<std::string> damage;  // unless a repair file rebuilt the record there
    uint64_t damage_at = 0;
    auto flush = [&] {
      if (damage) report_.problems.push_back(*damage + "; a removed message there may have left text in a dictionary");
      damage.reset();
    };
    MK_RETURN_IF_ERROR(packs_.ScanPack(p.pack, [&](const blobs::ScannedRecord& r) -> Status {
      if (damage && r.location.offset == damage_at) damage.reset();  // rebuilt: nothing lost
      flush();
      if (r.kind != blobs::ScannedRecord::Kind::kBlob || live.count(r.location.offset) > 0) return OkStatus();
      MK_ASSIGN_OR_RETURN(auto row, cat_.FindBySha(r.sha256));
      if (!row) tainted.insert({r.location.dict_id, r.location.dict_id + 1});
      return OkStatus();
    }, [&](uint32_t pack, uint64_t offset, const std::string& why) {
      flush();
      damage = "pack " + std::to_string(pack) + " offset " + std::to_string(offset) + ": " + why;
      damage_at = offset;
    }));
    flush();
    return OkStatus();
  }

  Status CollectUsers(std::vector<TaintedRun>& runs) {
    std::map<uint32_t, TaintedRun*> by_dict;
    for (TaintedRun& r : runs) {
      for (uint32_t d : r.dicts) by_dict[d] = &r;
    }
    std::vector<int64_t> ids;
    MK_ASSIGN_OR_RETURN(auto rows, cat_.AllBlobs(&ids));
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& b = rows[i];
      if (auto it = by_dict.find(b.dict); it != by_dict.end()) {
        it->second->users.push_back({ids[i], b.sha256, {b.pack, b.offset, b.stored_len, b.raw_len, b.dict}});
      }
    }
    return OkStatus();
  }

  // Recompresses a run's messages with its target (first made, when it
  // includes the newest), then drops its dictionaries; the same steps as a
  // pack's rewrite: new frames appended and synced, one transaction
  // switches the rows, then the dropped dictionaries' repair files go (the
  // old frames and records are dead bytes the pack rewrite frees).
  Status Replace(TaintedRun& run) {
    std::vector<std::string> samples;
    if (std::string problem = ReadAll(run.users, run.target == 0 ? &samples : nullptr); !problem.empty()) {
      report_.problems.push_back("dictionaries " + std::to_string(run.dicts.front()) + ".." +
                                 std::to_string(run.dicts.back()) + " kept, though they may hold text of a removed "
                                 "message: " + problem);
      return OkStatus();
    }
    std::optional<catalog::DictionaryRow> added;
    if (run.target == 0) {
      MK_ASSIGN_OR_RETURN(auto made, packs_.AddDictionary(Train(samples)));
      const BlobLocation& loc = made.second;
      added = catalog::DictionaryRow{made.first, loc.pack, loc.offset, loc.stored_len, loc.raw_len};
      run.target = made.first;
    }
    std::vector<std::pair<int64_t, BlobLocation>> moved;
    for (const BlobRef& u : run.users) {
      MK_ASSIGN_OR_RETURN(std::string raw, packs_.Read(u.loc));
      MK_ASSIGN_OR_RETURN(auto frame, packs_.Compress(raw, u.sha, run.target));
      MK_ASSIGN_OR_RETURN(BlobLocation loc, packs_.Append(frame));
      moved.emplace_back(u.id, loc);
    }
    MK_RETURN_IF_ERROR(packs_.Sync());
    MK_RETURN_IF_ERROR(InTransaction(cat_, [&]() -> Status {
      MK_RETURN_IF_ERROR(CommitEnds());
      if (added) MK_RETURN_IF_ERROR(cat_.AddDictionary(*added));
      for (const auto& [id, loc] : moved) {
        MK_RETURN_IF_ERROR(cat_.MoveBlob(id, loc.pack, loc.offset, loc.stored_len, loc.dict_id));
      }
      for (uint32_t id : run.dicts) MK_RETURN_IF_ERROR(cat_.RemoveDictionary(id));
      return OkStatus();
    }));
    rolled_ends_.clear();
    Count(run);
    if (added) committed_[added->id] = {added->pack, added->offset, added->stored_len, added->raw_len, added->id};
    return ForgetDictionaries(run.dicts);
  }

  // Reads every message (checking its SHA-256), so that one that does not
  // read stops the run before anything is written; keeps evenly spread
  // training samples when asked. The problem, or "".
  std::string ReadAll(const std::vector<BlobRef>& users, std::vector<std::string>* samples) {
    const size_t every = samples == nullptr || training_.max_samples == 0
                             ? 0
                             : (users.size() + training_.max_samples - 1) / training_.max_samples;
    for (size_t i = 0; i < users.size(); ++i) {
      auto raw = packs_.Read(users[i].loc);
      if (!raw) return "message " + std::to_string(users[i].id) + ": " + raw.error().message();
      if (every > 0 && i % every == 0) samples->push_back(raw->substr(0, training_.max_sample_bytes));
    }
    return "";
  }

  std::string Train(const std::vector<std::string>& samples) {
    std::vector<std::string_view> views(samples.begin(), samples.end());
    if (training_.train && !views.empty()) {
      if (auto dict = training_.train(views)) return *dict;
    }
    return std::string(kNeutralDictionary);
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
      MK_RETURN_IF_ERROR(CommitEnds());
      if (!problem.empty()) return OkStatus();
      for (const auto& [r, loc] : moved) {
        MK_RETURN_IF_ERROR(r->dictionary ? cat_.MoveDictionary(loc.dict_id, loc.pack, loc.offset)
                                         : cat_.MoveBlob(r->blob_id, loc.pack, loc.offset, loc.stored_len, loc.dict_id));
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
    MK_RETURN_IF_ERROR(ForgetDictionaries(p.dropped_dicts));
    MK_RETURN_IF_ERROR(packs_.RemovePack(p.pack));
    return InTransaction(cat_, [&] { return cat_.RemovePack(p.pack); });
  }

  catalog::Catalog& cat_;
  blobs::PackStore& packs_;
  std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends_;
  const DictionaryTraining& training_;
  std::map<uint32_t, BlobLocation> committed_;  // the catalog's dictionaries
  std::vector<std::string> unknown_packs_;      // the last Plan's packs the catalog does not know
  RepackReport report_;
};

}  // namespace

Result<RepackReport> RunRepack(catalog::Catalog& cat, blobs::PackStore& packs,
                               std::vector<std::pair<uint32_t, uint64_t>>& rolled_ends,
                               const DictionaryTraining& training, const RepackOptions& options,
                               const std::function<void(int64_t done, int64_t total)>& on_progress) {
  return Repacker(cat, packs, rolled_ends, training).Run(options, on_progress);
}

}  // namespace mailkeep
