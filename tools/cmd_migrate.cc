// mailkeep migrate [QUERY...] --to-account NAME [--folder F | --keep-folders]
//                  [--dry-run] [--config FILE] [--lock-timeout N] [--no-index]
//
// APPENDs archived messages to an IMAP account of the config file, keeping
// their flags and internal dates, e.g. to move an archive to a new server.
//
// What each message gets, from its locations (ranked: IMAP, Maildir, mbox,
// anything else; among IMAP places, one in another account and not deleted
// first):
//   flags          the best IMAP place's flags, else a Maildir place's, else
//                  none; \Recent and \Deleted are never sent (a \Deleted
//                  copy would vanish with the target's next EXPUNGE)
//   internal date  the first ranked place that has one (IMAP INTERNALDATE,
//                  Maildir mtime, mbox From_ date), else the Date header,
//                  else none (the server's clock)
//   folder         --folder F (default INBOX) for all; with --keep-folders
//                  the best place's folder: an IMAP name as it is; for a
//                  Maildir / mbox / directory the last path component, where
//                  Maildir++ ".Lists.dev" becomes Lists<delimiter>dev (each
//                  part decoded from modified UTF-7, as Dovecot writes them)
//                  and "Maildir" / "INBOX" become INBOX, and an mbox loses
//                  its .mbox/.mbx (and .gz/.zst/.xz/.bz2) suffix; POP3 → INBOX
// Missing folders are created (CREATE; [TRYCREATE] also leads to one).
//
// Resumable, nothing appended twice: before each APPEND an intent is
// recorded in the catalog (a location in the target account and folder with
// uidvalidity 0 and key "pending-<id>"); once the server accepted it, one
// transaction replaces the intent with the real place (source "imap", the
// target account, the folder, UIDVALIDITY and UID from APPENDUID; without
// APPENDUID uidvalidity 0 and key "appended-<id>", which no server UID can
// collide with). A message with a live (not deleted) real place in the
// target account and folder is not appended again — whether an earlier
// migrate put it there or a `sync` of that account found it there — and a
// later `sync` of the target account recognises what migrate appended. A
// message left with only an intent (the connection or the process died
// between sending the APPEND and recording its answer) is first looked for
// in the folder: UID SEARCH by exact size (and Message-ID), candidates
// compared byte for byte; found, its place is recorded ("recovered"),
// otherwise it is appended.
// Output: one summary line (appended, already there, failed, seconds), or
// JSON with --json; --dry-run lists "ID -> FOLDER" lines and changes
// nothing (it still logs in, to learn the server's folders and delimiter).
// A lost connection stops the run (exit 1; the rest is for the next run).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "sync/imap/imap_client.h"
#include "sync/imap/mutf7.h"
#include "tools/accounts.h"
#include "tools/command.h"
#include "tools/indexer.h"

namespace mailkeep::tools {
namespace {

constexpr char kImap[] = "imap";

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && EqualsIgnoreCase(s.substr(s.size() - suffix.size()), suffix);
}

// "inbox" and "Inbox/x" as the server spells INBOX: "INBOX", "INBOX/x".
std::string NormalizeInbox(std::string name, char delimiter) {
  if (name.size() >= 5 && EqualsIgnoreCase(std::string_view(name).substr(0, 5), "INBOX") &&
      (name.size() == 5 || (delimiter != '\0' && name[5] == delimiter))) {
    name.replace(0, 5, "INBOX");
  }
  return name;
}

int Rank(const Location& l) {
  if (l.source == "imap") return 0;
  if (l.source == "maildir") return 1;
  if (l.source == "mbox") return 2;
  return 3;
}

// The message's locations, best first (see the top of the file).
std::vector<const Location*> RankedLocations(const MessageInfo& info, const std::string& target_account) {
  std::vector<const Location*> out;
  for (const auto& l : info.locations) out.push_back(&l);
  auto key = [&](const Location* l) {
    bool target = l->source == kImap && l->account == target_account;
    return std::make_tuple(Rank(*l), target, l->deleted_at.has_value());
  };
  std::stable_sort(out.begin(), out.end(), [&](const Location* a, const Location* b) { return key(a) < key(b); });
  return out;
}

std::string LastComponent(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The target folder for a local (Maildir, mbox, .eml directory) place.
std::string LocalFolder(const Location& l, char delimiter) {
  std::string name = LastComponent(l.folder);
  if (name.empty() || name == "/" || EqualsIgnoreCase(name, "Maildir") || EqualsIgnoreCase(name, "INBOX")) {
    return "INBOX";
  }
  if (l.source == "maildir" && name.size() > 1 && name[0] == '.') {
    // Maildir++: ".Lists.dev" is Lists/dev; names are modified UTF-7 on disk.
    const char sep = delimiter != '\0' ? delimiter : '.';
    std::string out;
    size_t start = 1;
    for (;;) {
      size_t dot = name.find('.', start);
      std::string part = name.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      if (!part.empty()) {
        auto decoded = imap::TryDecodeModifiedUtf7(part);
        if (!out.empty()) out += sep;
        out += decoded ? *decoded : part;
      }
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    return out.empty() ? "INBOX" : NormalizeInbox(out, sep);
  }
  if (l.source == "mbox") {
    for (const char* ext : {".gz", ".zst", ".xz", ".bz2"}) {
      if (EndsWithIgnoreCase(name, ext) && name.size() > std::string_view(ext).size()) {
        name.resize(name.size() - std::string_view(ext).size());
        break;
      }
    }
    for (const char* ext : {".mbox", ".mbx"}) {
      if (EndsWithIgnoreCase(name, ext) && name.size() > std::string_view(ext).size()) {
        name.resize(name.size() - std::string_view(ext).size());
        break;
      }
    }
  }
  return NormalizeInbox(name, delimiter);
}

std::string KeptFolder(const Location* l, char delimiter) {
  if (l == nullptr || l->source == "pop3") return "INBOX";
  if (l->source == kImap) return l->folder.empty() ? "INBOX" : NormalizeInbox(l->folder, delimiter);
  return LocalFolder(*l, delimiter);
}

// Flags to send: sorted, without \Recent and \Deleted.
std::string CleanFlags(const std::string& flags) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < flags.size()) {
    size_t j = flags.find(' ', i);
    if (j == std::string::npos) j = flags.size();
    std::string f = flags.substr(i, j - i);
    if (!f.empty() && !EqualsIgnoreCase(f, "\\Recent") && !EqualsIgnoreCase(f, "\\Deleted")) out.insert(f);
    i = j + 1;
  }
  std::string s;
  for (const auto& f : out) s += (s.empty() ? "" : " ") + f;
  return s;
}

struct Target {
  std::string folder;
  std::string flags;
  std::optional<int64_t> internal_date;
};

Target PlanMessage(const MessageInfo& info, const std::string& account, const std::optional<std::string>& fixed,
                   char delimiter) {
  auto ranked = RankedLocations(info, account);
  Target t;
  const Location* best = ranked.empty() ? nullptr : ranked.front();
  t.folder = fixed ? *fixed : KeptFolder(best, delimiter);
  for (const Location* l : ranked) {
    if (l->source == kImap || l->source == "maildir") {
      t.flags = CleanFlags(l->flags);
      break;
    }
  }
  for (const Location* l : ranked) {
    if (l->internal_date) {
      t.internal_date = l->internal_date;
      break;
    }
  }
  if (!t.internal_date) t.internal_date = info.date;
  return t;
}

// A Message-ID that can go into a quoted IMAP SEARCH string as it is.
bool Searchable(const std::string& id) {
  if (id.empty() || id.size() > 900) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

struct ServerPlace {
  uint32_t uidvalidity = 0, uid = 0;
};

// Looks for the message `raw` in `folder` on the server, after an APPEND
// whose answer never arrived: candidates by exact RFC822.SIZE (what we
// sent: LF as CRLF) and Message-ID, then compared byte for byte. Leaves no
// folder selected. nullopt when it is not there (or the folder is missing).
Result<std::optional<ServerPlace>> FindOnServer(imap::ImapClient& client, const std::string& folder,
                                                const std::string& raw, const std::string& message_id) {
  auto box = client.Examine(folder);
  if (!box) {
    if (box.error().code() == ErrorCode::kNotFound) return std::optional<ServerPlace>();
    return std::unexpected(box.error());
  }
  uint64_t size = raw.size();
  std::string want;  // as FetchMessages hands it back: CRLF as LF
  want.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) ++size;
    if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
    want += raw[i];
  }
  std::string criteria = "LARGER " + std::to_string(size - 1) + " SMALLER " + std::to_string(size + 1);
  if (Searchable(message_id)) criteria += " HEADER Message-ID \"" + message_id + "\"";
  std::optional<ServerPlace> found;
  if (box->exists > 0 && size > 0) {
    MK_ASSIGN_OR_RETURN(auto uids, client.UidSearch(criteria));
    if (!uids.empty()) {
      MK_RETURN_IF_ERROR(client.FetchMessages(uids, [&](imap::FetchedMessage&& m) -> Status {
        if (!found && m.bytes == want) found = ServerPlace{box->uidvalidity, m.uid};
        return OkStatus();
      }));
    }
  }
  MK_RETURN_IF_ERROR(client.Unselect());
  return found;
}

std::string PendingKey(int64_t id) { return "pending-" + std::to_string(id); }

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
      ("keep-folders", "use each message's own folder (IMAP name, or Maildir/mbox name)")
      ("config", po::value<std::string>(), "accounts file (default $MAILKEEP_CONFIG, then ~/.config/mailkeep/config.ini)")
      ("dry-run,n", "list what would be appended where; change nothing")
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
                          "[--folder F | --keep-folders] [--dry-run]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (vm.count("config")) global.config = vm["config"].as<std::string>();
  if (to_account.empty()) return FailUsage("migrate needs --to-account NAME (an IMAP account of the config file)");
  const bool keep_folders = vm.count("keep-folders") > 0;
  if (keep_folders && vm.count("folder")) return FailUsage("--folder and --keep-folders exclude each other");
  if (vm.count("folder") && folder_opt.empty()) return FailUsage("--folder needs a folder name");
  if (lock_timeout < 0) return FailUsage("--lock-timeout must not be negative");
  const bool dry_run = vm.count("dry-run") > 0;

  std::string config_path = global.config.empty() ? config::DefaultConfigPath() : global.config;
  auto loaded = config::LoadConfigFile(config_path);
  if (!loaded) return FailUsage(loaded.error().message());
  const config::Config& cfg = *loaded;
  const config::AccountConfig* account = cfg.FindAccount(to_account);
  if (account == nullptr) return FailUsage("no account '" + to_account + "' in " + config_path);
  if (account->protocol != config::Protocol::kImap) {
    return FailUsage("account '" + to_account + "' is not an IMAP account; migrate appends over IMAP");
  }

  auto opened = OpenConfiguredArchive(global, cfg, !dry_run, lock_timeout);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  std::vector<std::string> terms;
  if (vm.count("query")) terms = vm["query"].as<std::vector<std::string>>();
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  WarnIfUnverified(*account);
  auto started = std::chrono::steady_clock::now();
  auto options = ImapOptionsFor(*account);
  if (!options) return FailUsage(options.error().message());
  if (global.verbosity >= 2) {
    options->debug = [&to_account](std::string_view note) {
      std::cerr << "mailkeep: account " << to_account << ": " << note << "\n";
    };
  }
  auto connected = imap::ImapClient::Connect(*options);
  if (!connected) {
    std::cerr << "mailkeep: account " << to_account << ": " << TerminalText(connected.error().message()) << "\n";
    return kExitPartial;
  }
  imap::ImapClient& client = **connected;
  auto listed = client.ListFolders();
  if (!listed) {
    std::cerr << "mailkeep: account " << to_account << ": " << TerminalText(listed.error().message()) << "\n";
    return kExitPartial;
  }
  // The hierarchy delimiter: INBOX's, else the first folder's that has one.
  char delimiter = '\0';
  std::set<std::string> existing;
  for (const auto& f : *listed) {
    if (f.name == "INBOX" && f.delimiter != '\0') delimiter = f.delimiter;
    existing.insert(f.name);
  }
  for (const auto& f : *listed) {
    if (delimiter == '\0') delimiter = f.delimiter;
  }
  std::optional<std::string> fixed;
  if (!keep_folders) fixed = NormalizeInbox(folder_opt.empty() ? "INBOX" : folder_opt, delimiter);

  // What the catalog knows of each target folder: messages with a live
  // place there, and intents (see the top of the file).
  struct Known {
    std::set<int64_t> live;
    std::set<int64_t> pending;
  };
  std::map<std::string, Known> present;
  auto present_in = [&](const std::string& folder) -> Result<Known*> {
    auto it = present.find(folder);
    if (it == present.end()) {
      MK_ASSIGN_OR_RETURN(auto rows, archive.FolderLocations(kImap, to_account, folder));
      Known known;
      for (const auto& k : rows) {
        if (k.deleted_at) continue;
        if (k.uidvalidity == 0 && k.key == PendingKey(k.message)) {
          known.pending.insert(k.message);
        } else {
          known.live.insert(k.message);
        }
      }
      it = present.emplace(folder, std::move(known)).first;
    }
    return &it->second;
  };
  auto place = [&](const std::string& folder, int64_t id) {
    Origin o;
    o.source = kImap;
    o.account = to_account;
    o.folder = folder;
    o.key = PendingKey(id);
    return o;
  };

  Progress progress(global, dry_run ? "planning" : "migrating");
  int64_t appended = 0, already = 0, recovered = 0, failed = 0, not_attempted = 0, appends = 0;
  uint64_t bytes = 0;
  std::vector<std::string> created;
  nlohmann::json planned = nlohmann::json::array();
  std::optional<Error> stopped;  // lost connection or archive trouble: the rest waits for the next run
  bool archive_broken = false;
  auto problem = [&](int64_t id, const std::string& what) {
    ++failed;
    progress.Finish();
    std::cerr << "mailkeep: message " << id << ": " << TerminalText(what) << "\n";
  };

  for (size_t k = 0; k < ids->size(); ++k) {
    const int64_t id = (*ids)[k];
    progress.Update(static_cast<int64_t>(k), static_cast<int64_t>(ids->size()));
    if (stopped) {
      ++not_attempted;
      continue;
    }
    auto info = archive.GetInfo(id);
    if (!info || !*info) {
      problem(id, info ? "no such message" : info.error().message());
      continue;
    }
    Target t = PlanMessage(**info, to_account, fixed, delimiter);
    auto there = present_in(t.folder);
    if (!there) {
      stopped = there.error();
      archive_broken = true;
      ++not_attempted;
      continue;
    }
    Known& known = **there;
    const Origin intent = place(t.folder, id);
    if (known.live.count(id)) {
      ++already;
      if (!dry_run && known.pending.count(id)) {
        // A stale intent (a sync found the message first): drop it.
        static_cast<void>(archive.AddLocation(id, intent, &intent));
        known.pending.erase(id);
      }
      continue;
    }
    const bool uncertain = known.pending.count(id) > 0;
    if (dry_run) {
      ++appended;
      bytes += (*info)->size;
      const bool create = !existing.count(t.folder);
      if (create) {
        existing.insert(t.folder);
        created.push_back(t.folder);
      }
      std::string date = t.internal_date ? IsoDate(*t.internal_date) : "-";
      if (global.json) {
        planned.push_back({{"id", id}, {"folder", t.folder}, {"flags", t.flags}, {"create_folder", create},
                           {"check_first", uncertain},
                           {"internal_date", t.internal_date ? nlohmann::json(*t.internal_date) : nlohmann::json()}});
      } else if (global.verbosity > 0) {
        progress.Finish();
        std::cout << id << " -> " << TerminalText(t.folder) << (create ? " (new folder)" : "") << "  (" << t.flags << ") " << date
                  << (uncertain ? "  [an earlier APPEND was not confirmed: looked for first]" : "") << "\n";
      }
      known.live.insert(id);
      continue;
    }
    auto raw = archive.ReadRaw(id);
    if (!raw) {
      problem(id, raw.error().message());
      continue;
    }
    Origin real;
    real.source = kImap;
    real.account = to_account;
    real.folder = t.folder;
    real.flags = t.flags;
    real.internal_date = t.internal_date;
    if (uncertain) {
      auto found = FindOnServer(client, t.folder, *raw, (*info)->message_id);
      if (!found) {
        problem(id, "looking for an unconfirmed APPEND in " + t.folder + ": " + found.error().message());
        if (found.error().code() == ErrorCode::kUnavailable) stopped = found.error();
        continue;
      }
      if (*found) {
        real.uidvalidity = (*found)->uidvalidity;
        real.key = std::to_string((*found)->uid);
        if (auto rec = archive.AddLocation(id, real, &intent); !rec) {
          problem(id, "found in " + t.folder + " but not recorded in the archive: " + rec.error().message());
          stopped = rec.error();
          archive_broken = true;
          continue;
        }
        known.pending.erase(id);
        known.live.insert(id);
        ++already;
        ++recovered;
        continue;
      }
    }
    if (!existing.count(t.folder)) {
      if (auto st = client.CreateFolder(t.folder); !st) {
        problem(id, st.error().message());
        if (st.error().code() == ErrorCode::kUnavailable) stopped = st.error();
        continue;
      }
      existing.insert(t.folder);
      created.push_back(t.folder);
    }
    if (!uncertain) {
      // The intent goes first: if the answer to the APPEND never arrives,
      // the next run looks before it appends again.
      if (auto rec = archive.AddLocation(id, intent); !rec) {
        problem(id, "not appended: recording the intent failed: " + rec.error().message());
        stopped = rec.error();
        archive_broken = true;
        continue;
      }
      known.pending.insert(id);
    }
    auto result = client.Append(t.folder, *raw, t.flags, t.internal_date);
    if (!result && result.error().code() == ErrorCode::kNotFound) {
      // [TRYCREATE]: the folder went away since LIST; make it once more.
      if (auto st = client.CreateFolder(t.folder); st) result = client.Append(t.folder, *raw, t.flags, t.internal_date);
    }
    if (!result) {
      problem(id, result.error().message());
      if (result.error().code() == ErrorCode::kUnavailable) stopped = result.error();
      continue;
    }
    if (crash_after > 0 && ++appends >= crash_after) std::abort();
    if (result->uidvalidity != 0 && result->uid != 0) {
      real.uidvalidity = result->uidvalidity;
      real.key = std::to_string(result->uid);
    } else {
      real.key = "appended-" + std::to_string(id);
    }
    if (auto rec = archive.AddLocation(id, real, &intent); !rec) {
      // On the server; the intent stays, so the next run finds it there.
      problem(id, "appended to " + t.folder + " but not recorded in the archive: " + rec.error().message());
      stopped = rec.error();
      archive_broken = true;
      continue;
    }
    known.pending.erase(id);
    known.live.insert(id);
    ++appended;
    bytes += raw->size();
  }
  progress.Finish();
  if (!stopped || stopped->code() != ErrorCode::kUnavailable) static_cast<void>(client.Logout());
  if (stopped) {
    std::cerr << "mailkeep: migrate stopped: " << TerminalText(stopped->message()) << "; " << not_attempted
              << " message(s) not attempted, the next run continues\n";
  }
  for (auto& alert : client.TakeAlerts()) std::cerr << "mailkeep: account " << to_account << ": ALERT " << TerminalText(alert) << "\n";
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // New locations change what the index knows (folder:, account:).
  bool index_ok = true;
  if (!dry_run && appended > 0 && !vm.count("no-index") && !archive_broken) {
    auto caught_up = CatchUpIndex(archive, 0, {}, [&](int64_t id, const std::string& why) {
      index_ok = false;
      std::cerr << "mailkeep: message " << id << " not indexed: " << TerminalText(why) << "\n";
    });
    if (!caught_up) {
      index_ok = false;
      std::cerr << "mailkeep: migrated, but indexing stopped: " << TerminalText(caught_up.error().message())
                << "; the next sync, import or `mailkeep reindex --pending` catches up\n";
    }
  }

  const bool ok = failed == 0 && not_attempted == 0 && !stopped && index_ok;
  if (global.json) {
    nlohmann::json j = {{"account", to_account},  {"dry_run", dry_run},   {"selected", ids->size()},
                        {"already_there", already}, {"recovered", recovered}, {"failed", failed},   {"not_attempted", not_attempted},
                        {"bytes", bytes},         {"folders_created", created}, {"seconds", seconds},
                        {"ok", ok}};
    j[dry_run ? "would_append" : "appended"] = appended;
    if (dry_run) j["messages"] = planned;
    std::cout << j.dump(2) << "\n";
  } else if (global.verbosity > 0) {
    char buf[512];
    std::string found = recovered > 0 ? " (" + std::to_string(recovered) + " found after an unconfirmed APPEND)" : "";
    std::snprintf(buf, sizeof buf, "migrate to %s: %s %lld (%.1f MB), already there %lld%s, failed %lld, %.1f s%s",
                  to_account.c_str(), dry_run ? "would append" : "appended", (long long)appended,
                  static_cast<double>(bytes) / 1e6, (long long)already, found.c_str(),
                  (long long)(failed + not_attempted), seconds, ok ? "" : ", FAILED");
    std::cout << buf << "\n";
  }
  if (archive_broken) return kExitArchive;
  return ok ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
