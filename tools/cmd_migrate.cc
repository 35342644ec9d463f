// mailkeep migrate [QUERY...] --to-account NAME [--folder F | --keep-folders [--map OLD=NEW]...]
//                  [--dry-run] [--retry-unknown] [--config FILE] [--lock-timeout N] [--no-index]
//
// APPENDs archived messages to an IMAP account of the config file, keeping
// their flags and internal dates. Planning, the APPENDs and the intents
// journal that keeps anything from being appended twice are in
// sync/migrate/migrator.h; this file parses, calls and prints.
// Output: one summary line (appended, already there, failed, seconds), or
// JSON with --json; --dry-run lists "ID -> FOLDER" lines and changes
// nothing (it still logs in, to learn the server's folders and delimiter).
// A session the server ends is logged in to again and the run goes on
// (sync/migrate/migrator.h); past the reconnect budget, or a connection
// that timed out, stops the run (exit 1; the rest is for the next run).
// A server that throttles longer than throttle_max_wait stops it as
// partial, as sync does: the summary says "partial: WHY; the rest next
// run" (JSON "partial"), exit 1, and what was not appended is not
// attempted rather than failed.
// A folder the server will not create is reported once, not per message.
#include <chrono>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "store/util/terminal.h"
#include "sync/migrate/migrator.h"
#include "tools/accounts.h"
#include "tools/command.h"
#include "index/feeder.h"

namespace mailkeep::tools {

namespace {

// The --map rules, then the account's folder_map (sync/migrate/folder_map.h);
// an error names where the bad rule came from.
Result<migrate::FolderMap> FolderRules(std::vector<std::string> rules, const config::AccountConfig& account,
                                       const std::string& config_path) {
  const std::vector<std::string> file_rules = migrate::SplitRules(account.folder_map);
  if (auto bad = migrate::FolderMap::Parse(file_rules); !bad) {
    return MakeError(ErrorCode::kInvalidArgument, config_path + ":" + std::to_string(account.folder_map_line) +
                                                      ": folder_map: " + bad.error().message());
  }
  if (auto bad = migrate::FolderMap::Parse(rules); !bad) {
    return MakeError(ErrorCode::kInvalidArgument, "--map: " + bad.error().message());
  }
  rules.insert(rules.end(), file_rules.begin(), file_rules.end());
  return migrate::FolderMap::Parse(rules);
}

}  // namespace

int CmdMigrate(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("migrate options");
  AddCommonOptions(desc, global);
  std::string to_account, folder_opt;
  int lock_timeout = 60;
  int crash_after = 0;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "ids, mid:MESSAGE-ID or a search query; nothing or * = all")
      ("to-account", po::value<std::string>(&to_account), "IMAP account of the config file to append to")
      ("folder", po::value<std::string>(&folder_opt), "put every message into this folder (default INBOX)")
      ("keep-folders", "use each message's own folder (IMAP name, or Maildir/mbox name), in the target's namespace")
      ("map", po::value<std::vector<std::string>>()->composing(),
       "with --keep-folders: OLD=NEW, a glob over the neutral folder name (levels joined by /); '*' in NEW is what "
       "'*' matched, e.g. 'Lists/*=Mailing lists/*' (repeatable; before the account's folder_map)")
      ("dry-run,n", "list what would be appended where; change nothing")
      ("retry-unknown", "append again a message whose earlier APPEND got no answer and that is not found there")
      ("lock-timeout", po::value<int>(&lock_timeout)->default_value(60),
       "seconds to wait for another mailkeep holding the archive, then exit 3")
      ("no-index", "do not bring the full-text index up to date afterwards")
      ("debug-crash-after-appends", po::value<int>(&crash_after)->default_value(0),
       "testing: abort() right after the server accepted the Nth APPEND, before it is recorded");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--config FILE] [--archive DIR] migrate [QUERY...] --to-account NAME "
                          "[--folder F | --keep-folders [--map OLD=NEW]...] [--dry-run] [--retry-unknown]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (to_account.empty()) return FailUsage("migrate needs --to-account NAME (an IMAP account of the config file)");
  const bool keep_folders = vm.count("keep-folders") > 0;
  if (keep_folders && vm.count("folder")) return FailUsage("--folder and --keep-folders exclude each other");
  if (vm.count("folder") && folder_opt.empty()) return FailUsage("--folder needs a folder name");
  std::vector<std::string> rules;
  if (vm.count("map")) rules = vm["map"].as<std::vector<std::string>>();
  if (!rules.empty() && !keep_folders) return FailUsage("--map needs --keep-folders");
  if (lock_timeout < 0) return FailUsage("--lock-timeout must not be negative");
  const bool dry_run = vm.count("dry-run") > 0;

  auto loaded = RequireConfig(global);
  if (!loaded) return FailUsage(loaded.error().message());
  const config::Config& cfg = **loaded;
  const std::string& config_path = cfg.path;
  const config::AccountConfig* account = cfg.FindAccount(to_account);
  if (account == nullptr) return FailUsage("no account '" + to_account + "' in " + config_path);
  if (account->protocol != config::Protocol::kImap) {
    return FailUsage("account '" + to_account + "' is not an IMAP account; migrate appends over IMAP");
  }
  auto folder_map = FolderRules(std::move(rules), *account, config_path);
  if (!folder_map) return FailUsage(folder_map.error().message());

  auto opened = OpenConfiguredArchive(global, !dry_run, lock_timeout);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  std::vector<std::string> terms;
  if (vm.count("query")) terms = vm["query"].as<std::vector<std::string>>();
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  WarnIfUnverified(*account);
  auto started = std::chrono::steady_clock::now();
  auto options = ImapOptionsFor(*account, archive.dir());
  if (!options) return FailUsage(options.error().message());
  if (global.verbosity >= 2) {
    options->debug = [&to_account](std::string_view note) {
      std::cerr << "mailkeep: account " << to_account << ": " << TerminalText(note) << "\n";
    };
  }
  migrate::Options mo;
  mo.folder_map = std::move(*folder_map);
  mo.account = to_account;
  mo.folder = folder_opt.empty() ? "INBOX" : folder_opt;
  mo.keep_folders = keep_folders;
  mo.dry_run = dry_run;
  mo.retry_unknown = vm.count("retry-unknown") > 0;
  mo.debug_crash_after_appends = crash_after;
  Progress progress(global, dry_run ? "planning" : "migrating");
  auto warn = [&](const std::string& w) {
    progress.Finish();
    std::cerr << "mailkeep: warning: " << TerminalText(w) << "\n";
  };
  auto connected = migrate::Migrator::Connect(archive, *options, mo, warn);
  if (!connected && connected.error().code() != ErrorCode::kResourceExhausted) {
    std::cerr << "mailkeep: account " << to_account << ": " << TerminalText(connected.error().message()) << "\n";
    return kExitPartial;
  }

  int64_t appended = 0, already = 0, recovered = 0, unknown = 0, failed = 0, not_attempted = 0;
  uint64_t bytes = 0;
  nlohmann::json planned = nlohmann::json::array();
  std::optional<std::string> stopped;  // lost connection or archive trouble: the rest waits for the next run
  std::optional<std::string> partial;  // throttled (already at login): the rest is for the next run
  if (!connected) partial = connected.error().message();
  bool archive_broken = false, connection_lost = false;
  for (size_t k = 0; k < ids->size(); ++k) {
    const int64_t id = (*ids)[k];
    progress.Update(static_cast<int64_t>(k), static_cast<int64_t>(ids->size()));
    if (stopped || partial) {
      ++not_attempted;
      continue;
    }
    const migrate::Outcome out = (*connected)->Migrate(id);
    switch (out.kind) {
      case migrate::Outcome::kAlready: ++already; break;
      case migrate::Outcome::kRecovered: ++already, ++recovered; break;
      case migrate::Outcome::kUnknown: ++unknown; break;
      case migrate::Outcome::kAppended: ++appended, bytes += out.bytes; break;
      case migrate::Outcome::kFailed:
        if (out.partial) {  // not appended, not failed: the next run
          ++not_attempted;
          partial = out.error;
          break;
        }
        ++failed;
        if (out.repeat) break;  // its folder's failure is reported once
        progress.Finish();
        std::cerr << "mailkeep: message " << id << ": " << TerminalText(out.error) << "\n";
        if (out.stop) stopped = out.error;
        archive_broken = archive_broken || out.archive;
        connection_lost = connection_lost || (out.stop && !out.archive);
        break;
    }
    if (!dry_run || out.kind != migrate::Outcome::kAppended) continue;
    if (global.json) {
      planned.push_back({{"id", id}, {"folder", out.folder}, {"flags", out.flags}, {"create_folder", out.create_folder},
                         {"check_first", out.check_first},
                         {"internal_date", out.internal_date ? nlohmann::json(*out.internal_date) : nlohmann::json()}});
    } else if (global.verbosity > 0) {
      progress.Finish();
      std::cout << id << " -> " << TerminalText(out.folder) << (out.create_folder ? " (new folder)" : "") << "  (" << out.flags
                << ") " << (out.internal_date ? IsoDate(*out.internal_date) : "-")
                << (out.check_first ? "  [an earlier APPEND was not confirmed: looked for first]" : "") << "\n";
    }
  }
  progress.Finish();
  for (auto& alert : connected ? (*connected)->Finish(connection_lost) : std::vector<std::string>()) {
    std::cerr << "mailkeep: account " << to_account << ": ALERT " << TerminalText(alert) << "\n";
  }
  if (stopped) {
    std::cerr << "mailkeep: migrate stopped: " << TerminalText(*stopped) << "; " << not_attempted
              << " message(s) not attempted, the next run continues\n";
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // New locations change what the index knows (folder:, account:).
  bool index_ok = true;
  if (!dry_run && appended > 0 && !vm.count("no-index") && !archive_broken) {
    auto caught_up = index::CatchUpIndex(archive, 0, {}, [&](int64_t id, const std::string& why) {
      index_ok = false;
      std::cerr << "mailkeep: message " << id << " not indexed: " << TerminalText(why) << "\n";
    });
    if (caught_up) SayIndexRequeued(archive, caught_up->requeued);
    if (!caught_up) {
      index_ok = false;
      PrintError("migrated, but " + IndexStoppedLine(caught_up.error(), "the next sync, import"));
    }
  }

  const std::vector<std::string> none;
  const std::vector<std::string>& created = connected ? (*connected)->created_folders() : none;
  // A partial run is neither ok nor FAILED (as sync's summary).
  const bool failures = failed > 0 || unknown > 0 || stopped || !index_ok;
  const bool ok = !failures && not_attempted == 0 && !partial;
  if (global.json) {
    nlohmann::json j = {{"account", to_account},  {"dry_run", dry_run},   {"selected", ids->size()},
                        {"already_there", already}, {"recovered", recovered}, {"unknown", unknown}, {"failed", failed},   {"not_attempted", not_attempted},
                        {"bytes", bytes},         {"folders_created", created}, {"seconds", seconds},
                        {"ok", ok},
                        {"partial", partial ? nlohmann::json(*partial) : nlohmann::json(nullptr)}};
    j[dry_run ? "would_append" : "appended"] = appended;
    if (dry_run) j["messages"] = planned;
    std::cout << j.dump(2) << "\n";
  } else if (global.verbosity > 0) {
    char buf[512];
    std::string found = recovered > 0 ? " (" + std::to_string(recovered) + " found after an unconfirmed APPEND)" : "";
    if (unknown > 0) found += ", unknown " + std::to_string(unknown);
    // Not attempted counts as failed when the connection or the archive
    // failed; after throttling it is the rest, for the next run.
    const std::string counts = partial ? "failed " + std::to_string(failed) + ", not attempted " + std::to_string(not_attempted)
                                       : "failed " + std::to_string(failed + not_attempted);
    std::snprintf(buf, sizeof buf, "migrate to %s: %s %lld (%.1f MB), already there %lld%s, %s, %.1f s%s",
                  to_account.c_str(), dry_run ? "would append" : "appended", (long long)appended,
                  static_cast<double>(bytes) / 1e6, (long long)already, found.c_str(), counts.c_str(), seconds,
                  failures ? ", FAILED" : "");
    std::cout << buf << (partial ? ", partial: " + TerminalText(*partial) + "; the rest next run" : "") << "\n";
  }
  if (archive_broken) return kExitArchive;
  return ok ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
