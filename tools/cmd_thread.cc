// mailkeep thread ID: every message of one thread, oldest first.
#include <iostream>

#include "tools/command.h"
#include "web/json_views.h"

namespace mailkeep::tools {

int CmdThread(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("thread options");
  AddCommonOptions(desc, global);
  desc.add_options()("id", po::value<std::string>(), "a message of the thread: catalog id or mid:MESSAGE-ID");
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] thread ID|mid:MESSAGE-ID [--json]", desc, pos, vm)) {
    return *rc;
  }
  if (!vm.count("id")) return FailUsage("thread needs a message: a catalog id or mid:MESSAGE-ID");
  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  auto ids = ResolveMessage(archive, vm["id"].as<std::string>());
  if (!ids) return Fail(ids.error());
  auto first = archive.GetInfo(ids->front());
  if (!first || !*first) return Fail(first ? Error(ErrorCode::kNotFound, "no such message") : first.error());
  auto members = web::ThreadInfos(archive, (*first)->thread);
  if (!members) return Fail(members.error());
  if (global.json) {
    std::cout << web::DumpJson(web::ThreadJson(*members), 2) << "\n";
    return kExitOk;
  }
  for (const MessageInfo& m : *members) {
    std::cout << (m.date ? IsoDate(*m.date) : std::string(20, ' ')) << "  " << m.id << "  "
              << TerminalText(web::SenderName(m)) << "  " << TerminalText(m.subject) << "\n";
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
