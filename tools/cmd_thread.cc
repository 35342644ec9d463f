// mailkeep thread ID: every message of one thread, oldest first.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

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
  auto members = archive.ThreadMessages((*first)->thread);
  if (!members) return Fail(members.error());
  nlohmann::json out = nlohmann::json::array();
  for (int64_t id : *members) {
    auto info = archive.GetInfo(id);
    if (!info || !*info) continue;
    const MessageInfo& m = **info;
    std::string from = m.from.empty() ? "" : (m.from[0].name.empty() ? m.from[0].address : m.from[0].name);
    if (global.json) {
      out.push_back({{"id", m.id}, {"message_id", m.message_id},
                     {"date", m.date ? nlohmann::json(IsoDate(*m.date)) : nlohmann::json()},
                     {"from", from}, {"subject", m.subject}});
    } else {
      std::cout << (m.date ? IsoDate(*m.date) : std::string(20, ' ')) << "  " << m.id << "  "
                << TerminalText(from) << "  " << TerminalText(m.subject) << "\n";
    }
  }
  if (global.json) std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return kExitOk;
}

}  // namespace mailkeep::tools
