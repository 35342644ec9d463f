// mailkeep reindex: rebuild the full-text index from the catalog and blobs.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"
#include "index/feeder.h"

namespace mailkeep::tools {

int CmdReindex(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("reindex options");
  AddCommonOptions(desc, global);
  desc.add_options()("pending", "only index the messages waiting in the queue (after import --no-index or an "
                                 "interrupted run); keeps the index");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] reindex [--pending]\n\n"
                          "Deletes the index (ARCHIVE/xapian; an encrypted archive's is in ~/.cache/mailkeep/index)\n"
                          "and indexes every message again (the index is derived data).\n"
                          "With --pending, indexes only what the catalog says the index has not caught up with.",
                          desc, pos, vm)) {
    return *rc;
  }
  auto opened = OpenArchive(global, OpenMode::kReadWrite);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  if (!vm.count("pending")) {
    if (auto st = index::DropIndex(archive); !st) return Fail(st.error());
  }
  Progress progress(global, "indexing");
  int64_t problems = 0;
  auto done = index::CatchUpIndex(
      archive, 0, [&](int64_t d, int64_t t) { progress.Update(d, t); },
      [&](int64_t id, const std::string& why) {
        ++problems;
        progress.Finish();
        PrintError("message " + std::to_string(id) + " not indexed: " + why);
      });
  progress.Finish();
  if (!done) return Fail(done.error());
  SayIndexRequeued(archive, done->requeued);
  if (global.json) {
    std::cout << nlohmann::json{{"indexed", done->indexed}, {"failed", done->failed}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::printf("indexed %lld messages%s\n", (long long)done->indexed,
                done->failed ? (", " + std::to_string(done->failed) + " could not be read").c_str() : "");
  }
  return problems ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
