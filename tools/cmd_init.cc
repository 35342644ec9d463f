// mailkeep init: create an empty archive.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

namespace mailkeep::tools {

int CmdInit(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("init options");
  AddCommonOptions(desc, global);
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] init", desc, pos, vm)) return *rc;
  std::string dir = ArchiveDir(global);
  auto archive = Archive::Create(dir);
  if (!archive) return FailArchive(archive.error());
  if (global.json) {
    std::cout << nlohmann::json{{"archive", dir}, {"created", true}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::cout << "created an empty archive in " << dir << "\n";
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
