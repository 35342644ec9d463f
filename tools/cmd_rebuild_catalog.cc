// mailkeep rebuild-catalog: recreate catalog.sqlite from the packs alone.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

namespace mailkeep::tools {

int CmdRebuildCatalog(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("rebuild-catalog options");
  AddCommonOptions(desc, global);
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] rebuild-catalog\n\n"
                          "Moves catalog.sqlite aside (catalog.sqlite.old-N) and recreates it from the pack files:\n"
                          "every message and dictionary comes back; where messages were found (locations, flags,\n"
                          "sync state) is not kept in packs and is lost until the next import or sync re-adds it.",
                          desc, pos, vm)) {
    return *rc;
  }
  std::string dir = ArchiveDir(global);
  auto options = WithArchiveKeys(global, dir);
  if (!options) return FailArchive(options.error());
  auto report = Archive::RebuildCatalog(dir, *options);
  if (!report) return FailArchive(report.error());
  if (global.json) {
    std::cout << nlohmann::json{{"archive", dir},
                                {"messages", report->messages},
                                {"problems", report->problems},
                                {"old_catalog", report->old_catalog}}
                     .dump()
              << "\n";
  } else {
    for (const auto& p : report->problems) PrintError(p);
    if (global.verbosity > 0) {
      std::cout << "rebuilt the catalog of " << dir << " from its packs: " << report->messages << " messages"
                << (report->old_catalog.empty() ? "" : "; the old catalog is " + report->old_catalog)
                << "; run `mailkeep reindex --pending` to rebuild the search index\n";
    }
  }
  return report->problems.empty() ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
