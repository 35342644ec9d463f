// mailkeep hold QUERY --reason TEXT | hold --list; mailkeep release QUERY:
// legal hold (Archive::Hold/Release), recorded in the audit trail.
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

namespace mailkeep::tools {
namespace {

constexpr size_t kMaxReason = 1000;

int PrintHolds(const GlobalOptions& global, Archive& archive) {
  auto holds = archive.Holds();
  if (!holds) return Fail(holds.error());
  if (global.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& h : *holds) {
      out.push_back({{"id", h.id}, {"message_id", h.message_id}, {"subject", h.subject}, {"reason", h.reason},
                     {"since", IsoDate(h.since)}, {"user", h.user}, {"host", h.host}});
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  for (const auto& h : *holds) {
    std::cout << h.id << "  " << IsoDate(h.since) << "  " << TerminalText(h.user) << "@" << TerminalText(h.host)
              << "  <" << TerminalText(h.message_id) << ">  " << TerminalText(h.reason) << "\n";
  }
  if (global.verbosity > 0) std::cerr << holds->size() << " held\n";
  return kExitOk;
}

// hold and release: the same shape, one verb apart.
int ChangeHolds(GlobalOptions& global, const std::vector<std::string>& args, bool hold) {
  const char* verb = hold ? "hold" : "release";
  po::options_description desc(std::string(verb) + " options");
  AddCommonOptions(desc, global);
  std::string reason;
  desc.add_options()("query", po::value<std::vector<std::string>>(), "which messages (search syntax, ids, id:MID)");
  if (hold) {
    desc.add_options()("reason", po::value<std::string>(&reason), "why (required; kept in the audit trail)")(
        "list", "list held messages");
  }
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  const char* usage = hold ? "mailkeep [--archive DIR] hold QUERY --reason TEXT | hold --list\n\n"
                             "Puts the matching messages under legal hold: delete and prune keep them until\n"
                             "`mailkeep release`. Recorded in the audit trail."
                           : "mailkeep [--archive DIR] release QUERY\n\n"
                             "Ends the legal hold of the matching messages. Recorded in the audit trail.";
  if (auto rc = ParseArgs(global, args, usage, desc, pos, vm)) return *rc;
  if (hold && vm.count("list")) {
    auto opened = OpenArchive(global, OpenMode::kReadOnly);
    if (!opened) return FailArchive(opened.error());
    return PrintHolds(global, **opened);
  }
  auto query = JoinQuery(vm, verb);
  if (!query) return FailUsage(query.error().message());
  if (hold && reason.empty()) return FailUsage("hold needs --reason TEXT (why; kept in the audit trail)");
  if (reason.size() > kMaxReason) return FailUsage("--reason is longer than 1000 bytes");
  auto opened = OpenArchive(global, OpenMode::kReadWrite);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  int64_t problems = 0;
  if (auto st = CatchUpIndexQuietly(archive, &problems); !st) return Fail(st.error());
  auto ids = ResolveQuery(archive, vm["query"].as<std::vector<std::string>>());
  if (!ids) return Fail(ids.error());
  AuditContext who;
  who.command = verb;
  who.query = *query;
  who.reason = reason;
  auto changed = hold ? archive.Hold(*ids, who) : archive.Release(*ids, who);
  if (!changed) return Fail(changed.error());
  if (global.json) {
    std::cout << nlohmann::json{{hold ? "held" : "released", changed->size()}, {"matched", ids->size()},
                                {"ids", *changed}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::cout << verb << ": " << changed->size() << " of " << ids->size() << " matching messages "
              << (hold ? "now held" : "released") << "\n";
  }
  return kExitOk;
}

}  // namespace

int CmdHold(GlobalOptions& global, const std::vector<std::string>& args) { return ChangeHolds(global, args, true); }
int CmdRelease(GlobalOptions& global, const std::vector<std::string>& args) {
  return ChangeHolds(global, args, false);
}

}  // namespace mailkeep::tools
