// mailkeep prune [--dry-run] [--now DATE]: applies the accounts file's
// retention (retention, keep_flagged, folder_retention) and prints one line.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <optional>

#include "config/config.h"
#include "store/lifecycle/prune.h"
#include "store/util/civil_date.h"
#include "tools/accounts.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

// "2026-01-31" or "2026-01-31T12:00:00Z" (UTC).
std::optional<int64_t> ParseNow(const std::string& s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  char tail = 0;
  const int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%c", &y, &mo, &d, &h, &mi, &se, &tail);
  const bool date_only = n == 3 && s.size() == 10;
  if (!date_only && !(n == 6 && s.size() == 20)) return std::nullopt;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
}

}  // namespace

int CmdPrune(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("prune options");
  AddCommonOptions(desc, global);
  RemovalRequest req;
  std::string now_text;
  desc.add_options()
      ("dry-run,n", po::bool_switch(&req.dry_run), "count what would be removed; change nothing")
      ("now", po::value<std::string>(&now_text), "judge ages as of this UTC date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ) "
                                                  "instead of the clock");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--config FILE] [--archive DIR] prune [--dry-run] [--now DATE]\n\n"
                          "Removes the messages older than the accounts file's retention (retention,\n"
                          "keep_flagged, folder_retention; the most specific wins), keeping held and, with\n"
                          "keep_flagged, flagged ones. Age counts from the later of the Date header and an IMAP\n"
                          "server's INTERNALDATE. Prints one line; for cron.",
                          desc, pos, vm)) {
    return *rc;
  }
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (!now_text.empty()) {
    auto parsed = ParseNow(now_text);
    if (!parsed) return FailUsage("bad --now '" + now_text + "': use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
    now = *parsed;
  }
  auto cfg = RequireConfig(global);
  if (!cfg) return FailUsage(cfg.error().message());
  const std::string& config_path = (*cfg)->path;
  const lifecycle::Policy policy = config::RetentionPolicy(**cfg);
  auto opened = OpenConfiguredArchive(global, !req.dry_run, 0);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  if (policy.empty()) {
    if (global.verbosity > 0) std::cout << "prune: no retention in " << config_path << "; nothing to do\n";
    return kExitOk;
  }
  auto selection = lifecycle::SelectExpired(archive, policy, now);
  if (!selection) return Fail(selection.error());
  req.ids = std::move(selection->expired);
  req.who.command = "prune";
  req.who.query = "retention of " + config_path + " as of " + IsoDate(now);
  req.note = ", " + std::to_string(selection->kept_flagged) + " flagged (kept), " +
             std::to_string(selection->examined) + " examined";
  return RunRemoval(global, archive, req);
}

}  // namespace mailkeep::tools
