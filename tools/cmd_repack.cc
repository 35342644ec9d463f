// mailkeep repack: rewrite the packs that hold bytes no message needs any
// more, so that removed messages are gone from the disk (Archive::Repack).
#include <iostream>

#include <nlohmann/json.hpp>

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
                          "packs/orphans/ and compacts the catalog. Needs free space for one pack. Safe to\n"
                          "interrupt: the next repack finishes the work.",
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
  for (const auto& p : report->problems) PrintError(p);
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
              << "\n";
  }
  return report->problems.empty() ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
