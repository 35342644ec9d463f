// mailkeep sync [ACCOUNT...]: pulls the accounts of the config file into
// the archive (sync/engine.h does the work), then brings the full-text
// index up to date. Made for cron: one summary line per account, nothing
// else unless something went wrong; exit 0 only when everything worked.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "sync/engine.h"
#include "sync/imap_source.h"
#include "sync/net/host_slots.h"
#include "sync/pop3_source.h"
#include "tools/accounts.h"
#include "tools/command.h"
#include "index/feeder.h"

namespace mailkeep::tools {
namespace {

sync::DeletePolicy ToDeletePolicy(const config::DeletePolicy& p) {
  sync::DeletePolicy out;
  out.days = p.days;
  switch (p.kind) {
    case config::DeletePolicy::Kind::kNever: out.kind = sync::DeletePolicy::Kind::kNever; break;
    case config::DeletePolicy::Kind::kAfterDownload: out.kind = sync::DeletePolicy::Kind::kAfterDownload; break;
    case config::DeletePolicy::Kind::kOlderThan: out.kind = sync::DeletePolicy::Kind::kOlderThan; break;
  }
  return out;
}

// Builds the account's source; the password is resolved here, at use time,
// and lives only in the source's options. `debug` (may be empty) gets the
// IMAP client's notes.
Result<std::unique_ptr<sync::Source>> MakeSource(const config::AccountConfig& a, const std::string& archive_dir,
                                                 std::function<void(std::string_view)> debug) {
  if (a.protocol == config::Protocol::kImap) {
    sync::ImapSourceOptions o;
    MK_ASSIGN_OR_RETURN(o.client, ImapOptionsFor(a, archive_dir));
    o.client.debug = std::move(debug);
    o.folders = a.folders;
    o.exclude = a.exclude;
    return std::unique_ptr<sync::Source>(new sync::ImapSource(a.name, std::move(o)));
  }
  pop3::Pop3Options o;
  if (a.oauth.enabled()) {
    MK_ASSIGN_OR_RETURN(OAuthLogin login, OAuthLoginFor(a, archive_dir));
    o.password = std::move(login.token);
    o.renew_token = std::move(login.renew);
  } else {
    MK_ASSIGN_OR_RETURN(o.password, config::ResolvePassword(a.password, "account " + a.name));
  }
  o.connect = ConnectOptionsFor(a, net::Service::kPop3);
  o.user = a.user;
  o.auth = config::LoginMethodFor(a.auth, net::LoginProtocol::kPop3);
  o.allow_plaintext = a.allow_plaintext;
  // Real mail breaks the 998-byte line limit, sometimes by megabytes (a
  // base64 blob without line breaks); such a message is still mail to keep.
  // Memory stays bounded by the message size limit.
  o.max_message_line = 256u << 20;
  o.max_message_size = ClientMessageLimit(a);
  return std::unique_ptr<sync::Source>(new sync::Pop3Source(a.name, std::move(o)));
}

std::string Summary(const sync::AccountReport& r, bool dry_run) {
  char buf[512];
  if (dry_run) {
    std::snprintf(buf, sizeof buf, "%s: would fetch %lld (%.1f MB), would delete %lld, skipped %lld, %s",
                  r.account.c_str(), (long long)r.would_fetch, static_cast<double>(r.would_fetch_bytes) / 1e6,
                  (long long)r.would_delete, (long long)r.skipped, r.ok ? "ok" : "FAILED");
  } else {
    // "fetched N (M MB, D already stored)": D of the N had content the
    // archive already held (another account, folder or import): only the
    // new place was recorded. "on server": messages listed there.
    std::string flags = r.flags_updated > 0 ? ", flags changed " + std::to_string(r.flags_updated) : "";
    if (r.folders_failed > 0) flags += ", folders failed " + std::to_string(r.folders_failed);
    std::snprintf(buf, sizeof buf,
                  "%s: fetched %lld (%.1f MB, %lld already stored), on server %lld, skipped %lld, deleted %lld%s, "
                  "errors %lld, %.1f s%s",
                  r.account.c_str(), (long long)(r.fetched + r.duplicates), static_cast<double>(r.bytes) / 1e6,
                  (long long)r.duplicates, (long long)r.listed, (long long)r.skipped, (long long)r.deleted,
                  flags.c_str(), (long long)(r.errors + (r.ok ? 0 : 1)), r.seconds, r.ok ? "" : ", FAILED");
  }
  // A partial run never reads as a success.
  if (!r.partial.empty()) return buf + (", partial: " + TerminalText(r.partial) + "; the rest next run");
  return buf;
}

nlohmann::json ReportJson(const sync::AccountReport& r, bool dry_run) {
  nlohmann::json j = {{"account", r.account}, {"ok", r.ok}, {"on_server", r.listed}, {"skipped", r.skipped},
                      {"problems", r.problems}};
  if (dry_run) {
    j["would_fetch"] = r.would_fetch;
    j["would_fetch_bytes"] = r.would_fetch_bytes;
    j["would_delete"] = r.would_delete;
    j["details"] = r.details;
  } else {
    j["fetched"] = r.fetched + r.duplicates;
    j["new"] = r.fetched;
    j["already_stored"] = r.duplicates;
    j["bytes"] = r.bytes;
    j["deleted"] = r.deleted;
    j["flags_changed"] = r.flags_updated;
    j["folders_failed"] = r.folders_failed;
    j["errors"] = r.errors + (r.ok ? 0 : 1);
    j["seconds"] = r.seconds;
    // null, or why the run stopped before everything was fetched (the rest next run).
    j["partial"] = r.partial.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.partial);
  }
  return j;
}

}  // namespace

int CmdSync(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("sync options");
  AddCommonOptions(desc, global);
  int jobs = 2;
  int lock_timeout = 60;
  int64_t debug_now = 0;
  std::string debug_throw_in;
  desc.add_options()
      ("account", po::value<std::vector<std::string>>(), "accounts to sync (default: all in the config file)")
      ("dry-run,n", "list what would be fetched and deleted; change nothing")
      ("jobs,j", po::value<int>(&jobs)->default_value(2), "accounts synced in parallel")
      ("lock-timeout", po::value<int>(&lock_timeout)->default_value(60),
       "seconds to wait for another mailkeep holding the archive, then exit 3")
      ("no-index", "store only; the next sync, import or `mailkeep reindex --pending` indexes")
      ("debug-now", po::value<int64_t>(&debug_now), "testing: the current time (Unix seconds) for delete ages")
      ("debug-throw-in", po::value<std::string>(&debug_throw_in), "testing: this account's worker throws std::bad_alloc");
  po::positional_options_description pos;
  pos.add("account", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--config FILE] [--archive DIR] sync [ACCOUNT...]", desc, pos, vm)) {
    return *rc;
  }
  if (jobs < 1) return FailUsage("--jobs must be at least 1");
  if (lock_timeout < 0) return FailUsage("--lock-timeout must not be negative");
  const bool dry_run = vm.count("dry-run") > 0;

  auto loaded = RequireConfig(global);
  if (!loaded) return FailUsage(loaded.error().message());
  const config::Config& cfg = **loaded;
  const std::string& config_path = cfg.path;

  std::vector<const config::AccountConfig*> accounts;
  if (vm.count("account")) {
    for (const auto& name : vm["account"].as<std::vector<std::string>>()) {
      const auto* a = cfg.FindAccount(name);
      if (a == nullptr) return FailUsage("no account '" + name + "' in " + config_path);
      accounts.push_back(a);
    }
  } else {
    for (const auto& a : cfg.accounts) accounts.push_back(&a);
  }
  if (accounts.empty()) return FailUsage(config_path + " defines no [account.NAME] section; nothing to sync");

  auto opened = OpenConfiguredArchive(global, !dry_run, lock_timeout);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  sync::ArchiveGate gate(archive);

  for (const auto* a : accounts) WarnIfUnverified(*a);

  // The index follows each committed batch (IndexFeeder: Xapian writes on
  // its own threads while the next batch is fetched). What was committed is
  // durable whatever happens to indexing; a lagging index catches up on the
  // next run. The feeder is used only inside the archive gate.
  int64_t not_indexed = 0;
  std::optional<Error> index_error;
  std::unique_ptr<index::IndexFeeder> feeder;
  if (!dry_run && !vm.count("no-index")) {
    feeder = OpenCommandFeeder(archive, &not_indexed, &index_error);
  }
  auto feed_index = [&](Archive&, std::vector<IngestOutcome>& outcomes) {
    if (!feeder) return;
    std::unordered_map<int64_t, index::AtHand> at_hand;
    for (auto& o : outcomes) {
      if (o.status == IngestStatus::kStored && o.parsed) at_hand[o.id].parsed = std::move(o.parsed);
    }
    if (Status st = feeder->Feed(&at_hand); !st) {
      index_error = st.error();
      feeder.reset();  // stop indexing; what is journaled is indexed by the next run
    }
  };

  const bool indexing = feeder != nullptr;  // read before the workers start (feed_index may reset it)
  std::vector<sync::AccountReport> reports(accounts.size());
  std::atomic<size_t> next{0};
  std::mutex out_mu;
  Progress progress(global, "syncing");
  std::atomic<int64_t> fetched_total{0};
  net::HostSlots host_slots(cfg.max_connections_per_host);
  auto worker = [&]() {
    for (size_t i = next++; i < accounts.size(); i = next++) {
      const config::AccountConfig& a = *accounts[i];
      sync::SyncSettings settings;
      settings.delete_policy = ToDeletePolicy(a.delete_policy);
      settings.max_message_size = a.max_message_size;
      settings.max_bytes_per_run = a.max_bytes_per_run;
      settings.dry_run = dry_run;
      settings.now = debug_now;
      if (indexing) {
        settings.after_commit = feed_index;
        settings.keep_parsed = index::IndexParseLimits();
      }
      std::function<void(std::string_view)> debug;
      if (global.verbosity >= 2) {
        debug = [&out_mu, name = a.name](std::string_view note) {
          std::lock_guard<std::mutex> lock(out_mu);
          std::cerr << "mailkeep: account " << name << ": " << TerminalText(note) << "\n";
        };
      }
      auto fail = [&](const std::string& problem) {
        reports[i] = sync::AccountReport{};
        reports[i].account = a.name;
        reports[i].ok = false;
        reports[i].problems.push_back(problem);
      };
      // Whatever goes wrong inside one account (even an exception, e.g. out
      // of memory) is that account's one-line error; the others go on.
      try {
        if (a.name == debug_throw_in) throw std::bad_alloc();
        // One connection for the account's whole run (max_connections_per_host).
        net::HostSlots::Slot slot = host_slots.Acquire(a.host);
        auto source = MakeSource(a, archive.dir(), std::move(debug));
        if (!source) {
          fail(source.error().message());
        } else {
          int64_t last = 0;
          reports[i] = sync::SyncAccount(a.name, **source, gate, settings, [&](int64_t done, int64_t) {
            fetched_total += done - last;
            last = done;
            std::lock_guard<std::mutex> lock(out_mu);
            progress.Update(fetched_total);
          });
        }
      } catch (const std::bad_alloc&) {
        fail("out of memory; this account stopped, what it committed is kept (try a lower max_message_size)");
      } catch (const std::exception& e) {
        fail(std::string("internal error, this account stopped: ") + e.what());
      } catch (...) {
        fail("internal error, this account stopped");
      }
      std::lock_guard<std::mutex> lock(out_mu);
      progress.Finish();
      for (const auto& p : reports[i].problems) std::cerr << "mailkeep: account " << a.name << ": " << TerminalText(p) << "\n";
      if (!global.json && global.verbosity > 0) {
        std::cout << Summary(reports[i], dry_run) << "\n";
        if (dry_run && global.verbosity >= 2) {
          for (const auto& d : reports[i].details) std::cout << "  " << TerminalText(d) << "\n";
        }
        std::cout.flush();
      }
    }
  };
  std::vector<std::thread> threads;
  int n = std::min<int>(jobs, static_cast<int>(accounts.size()));
  for (int t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  progress.Finish();

  bool all_ok = true;
  for (const auto& r : reports) all_ok = all_ok && r.ok && r.errors == 0 && r.partial.empty();

  int64_t indexed = 0;
  if (feeder) {
    Status st = feeder->Feed();
    if (st) st = feeder->Commit();
    if (!st) index_error = st.error();
    indexed = feeder->result().indexed;
    feeder.reset();  // closes the index (compacting it after a bulk load)
  }
  if (index_error) {
    all_ok = false;
    PrintError("messages are archived, but " + IndexStoppedLine(*index_error, "the next sync"));
  }
  if (not_indexed > 0) all_ok = false;

  if (global.json) {
    nlohmann::json j = {{"accounts", nlohmann::json::array()}, {"dry_run", dry_run}, {"indexed", indexed},
                        {"not_indexed", not_indexed}, {"ok", all_ok}};
    for (const auto& r : reports) j["accounts"].push_back(ReportJson(r, dry_run));
    std::cout << j.dump(2) << "\n";
  }
  return all_ok ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
