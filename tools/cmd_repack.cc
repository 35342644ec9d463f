// mailkeep repack: rewrite the packs that hold bytes no message needs any
// more (Archive::Repack), then bring the index up to date and compact it
// (index::CatchUpAndCompactIndex), so that removed messages are gone from
// the disk.
#include <iostream>

#include <nlohmann/json.hpp>

#include "index/feeder.h"
#include "tools/command.h"

namespace mailkeep::tools {

int CmdRepack(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("repack options");
  AddCommonOptions(desc, global);
  desc.add_options()("dry-run", "only say how many packs and bytes would be rewritten and freed");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] repack [--dry-run]\n\n"
                          "Rewrites every pack that holds bytes the catalog no longer needs (messages removed from\n"
                          "the catalog, dictionaries no message uses), one pack at a time: its other records are\n"
                          "copied unchanged into the current pack, then the old pack is removed. A dictionary\n"
                          "that may hold text of a removed message is replaced, its messages recompressed. Empties\n"
                          "packs/orphans/ and compacts the catalog, then brings the full-text index up to date\n"
                          "and compacts it (a removed message's words stay in the index's free space until then).\n"
                          "Needs free space for one pack and one copy of the index. Safe to interrupt: the next\n"
                          "repack finishes the work.",
                          desc, pos, vm)) {
    return *rc;
  }
  auto opened = OpenArchive(global, OpenMode::kReadWrite);
  if (!opened) return FailArchive(opened.error());
  const bool dry_run = vm.count("dry-run") > 0;
  Progress progress(global, "repacking");
  auto report = (*opened)->Repack({dry_run}, [&](int64_t done, int64_t total) { progress.Update(done, total); });
  progress.Finish();
  if (!report) return Fail(report.error());
  // The index: dropped documents of removed messages, then their words
  // from the index's free blocks.
  bool index_compacted = false;
  if (!dry_run) {
    auto compaction = index::CatchUpAndCompactIndex(**opened, [&](int64_t id, const std::string& why) {
      report->problems.push_back("message " + std::to_string(id) + " not indexed: " + why);
    });
    if (compaction) {
      index_compacted = compaction->compacted;
    } else {
      report->problems.push_back("the packs are done, but the index was not compacted: " +
                                 compaction.error().message() + "; run `mailkeep repack` again");
    }
  }
  for (const auto& p : report->problems) PrintError(p);
  for (const auto& old : report->old_catalogs) {
    PrintError(old + " (set aside by rebuild-catalog) may still name removed messages; delete it once you no "
               "longer need it");
  }
  if (global.json) {
    std::cout << nlohmann::json{{"dry_run", dry_run},
                                {"packs", report->packs},
                                {"packs_rewritten", report->packs_rewritten},
                                {"bytes_copied", report->bytes_copied},
                                {"bytes_freed", report->bytes_freed},
                                {"dictionaries_dropped", report->dictionaries_dropped},
                                {"messages_recompressed", report->messages_recompressed},
                                {"orphan_files", report->orphan_files},
                                {"orphan_bytes", report->orphan_bytes},
                                {"catalog_compacted", report->catalog_compacted},
                                {"index_compacted", index_compacted},
                                {"problems", report->problems}}
                     .dump()
              << "\n";
  } else if (global.verbosity > 0) {
    std::cout << (dry_run ? "would rewrite " : "rewrote ") << report->packs_rewritten << " of " << report->packs
              << " packs (" << report->bytes_copied << " bytes copied, " << report->bytes_freed << " bytes freed, "
              << report->dictionaries_dropped << " dictionaries dropped, " << report->messages_recompressed
              << " messages recompressed); "
              << (dry_run ? "would remove " : "removed ") << report->orphan_files << " orphan files ("
              << report->orphan_bytes << " bytes)" << (report->catalog_compacted ? "; compacted the catalog" : "")
              << (index_compacted ? "; index compacted" : "") << "\n";
  }
  return report->problems.empty() ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
