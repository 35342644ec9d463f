// mailkeep delete QUERY [--dry-run] [--yes]: removes the messages a query
// selects from the catalog and the index (Archive::Remove), held ones kept.
#include <iostream>

#include "tools/command.h"

namespace mailkeep::tools {

int CmdDelete(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("delete options");
  AddCommonOptions(desc, global);
  RemovalRequest req;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "what to delete (search syntax, ids, id:MESSAGE-ID)")
      ("dry-run,n", po::bool_switch(&req.dry_run), "list what would be deleted; change nothing")
      ("yes,y", po::bool_switch(&req.yes), "do not ask for the count (needed when not on a terminal)");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] delete QUERY [--dry-run] [--yes]\n\n"
                          "Removes the matching messages from the catalog and the index, keeping held ones\n"
                          "(mailkeep hold), and records each in the audit trail (mailkeep audit). On a terminal\n"
                          "it asks you to type the number of messages; otherwise --yes is needed. Their bytes\n"
                          "stay in the pack files until `mailkeep repack`.",
                          desc, pos, vm)) {
    return *rc;
  }
  auto query = JoinQuery(vm, "delete");
  if (!query) return FailUsage(query.error().message());
  auto opened = OpenArchive(global, req.dry_run ? OpenMode::kReadOnly : OpenMode::kReadWrite);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  if (!req.dry_run) {
    // The query is answered by the index: it must know every message first.
    int64_t problems = 0;
    if (auto st = CatchUpIndexQuietly(archive, &problems); !st) return Fail(st.error());
  }
  auto ids = ResolveQuery(archive, vm["query"].as<std::vector<std::string>>());
  if (!ids) return Fail(ids.error());
  req.ids = std::move(*ids);
  req.who.command = "delete";
  req.who.query = *query;
  req.list = true;
  req.confirm = true;
  return RunRemoval(global, archive, req);
}

}  // namespace mailkeep::tools
