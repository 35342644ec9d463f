// mailkeep audit: the audit trail — who removed, held or released which
// message, when, with which command and query (Archive::AuditTrail).
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

namespace mailkeep::tools {
namespace {

const char* ActionName(AuditAction a) {
  switch (a) {
    case AuditAction::kRemoved: return "removed";
    case AuditAction::kHeld: return "held";
    case AuditAction::kReleased: return "released";
  }
  return "?";
}

}  // namespace

int CmdAudit(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("audit options");
  AddCommonOptions(desc, global);
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] [--json] audit\n\n"
                          "Prints the audit trail, oldest first: one line per message removed, held or\n"
                          "released, with when, who (user@host), the command and query, the Message-ID,\n"
                          "SHA-256, date and size. Kept after the messages are gone.",
                          desc, pos, vm)) {
    return *rc;
  }
  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  auto trail = (*opened)->AuditTrail();
  if (!trail) return Fail(trail.error());
  // An encrypted archive names messages by a keyed hash (HMAC-SHA256), not
  // their SHA-256: say so in the field's name.
  const std::string hash_name = (*opened)->keys() ? "content_hash" : "sha256";
  if (global.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : *trail) {
      out.push_back({{"event", e.event}, {"at", IsoDate(e.at)}, {"user", e.user}, {"host", e.host},
                     {"command", e.command}, {"query", e.query}, {"reason", e.reason},
                     {"action", ActionName(e.action)}, {"message_id", e.message_id}, {hash_name, e.sha256},
                     {"date", e.date ? nlohmann::json(IsoDate(*e.date)) : nlohmann::json()}, {"size", e.size}});
    }
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  for (const auto& e : *trail) {
    std::cout << IsoDate(e.at) << " " << ActionName(e.action) << " <" << TerminalText(e.message_id)
              << "> " << hash_name << "=" << e.sha256 << " date=" << (e.date ? IsoDate(*e.date) : "-") << " size=" << e.size
              << " by " << TerminalText(e.user) << "@" << TerminalText(e.host) << ": " << e.command << " "
              << TerminalText(e.query) << (e.reason.empty() ? "" : " (reason: " + TerminalText(e.reason) + ")")
              << "\n";
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
