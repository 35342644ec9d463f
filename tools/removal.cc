// What `delete` and `prune` share: the listing of a selection, the count to
// type on a terminal, the removal itself (Archive::Remove, then the index
// drops the documents through its queue) and the summary.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "index/feeder.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

std::string Plural(int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Asks on the terminal for the number of messages; true when typed.
bool Confirmed(const std::string& verb, int64_t n) {
  std::fprintf(stderr, "type %lld to %s %s: ", static_cast<long long>(n), verb.c_str(),
               Plural(n, "message").c_str());
  std::fflush(stderr);
  std::string line;
  if (!std::getline(std::cin, line)) return false;
  return line == std::to_string(n);
}

void ListSelection(Archive& archive, const std::vector<int64_t>& ids) {
  for (int64_t id : ids) {
    auto info = archive.GetInfo(id);
    if (!info || !*info) continue;
    const MessageInfo& m = **info;
    std::cout << id << "  " << (m.date ? IsoDate(*m.date).substr(0, 10) : std::string(10, ' ')) << "  "
              << TerminalText(m.subject) << "\n";
  }
}

}  // namespace

Result<std::string> JoinQuery(const po::variables_map& vm, const char* command) {
  std::string query;
  if (vm.count("query")) {
    for (const auto& w : vm["query"].as<std::vector<std::string>>()) query += (query.empty() ? "" : " ") + w;
  }
  if (query.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(command) + " needs a QUERY (as for search; * for every message)");
  }
  return query;
}

Result<std::vector<int64_t>> HeldAmong(Archive& archive, const std::vector<int64_t>& ids) {
  std::vector<int64_t> held;
  for (int64_t id : ids) {
    MK_ASSIGN_OR_RETURN(bool h, archive.IsHeld(id));
    if (h) held.push_back(id);
  }
  return held;
}

Status CatchUpIndexQuietly(Archive& archive, int64_t* problems) {
  auto done = index::CatchUpIndex(archive, 0, {}, [&](int64_t id, const std::string& why) {
    ++*problems;
    PrintError("message " + std::to_string(id) + " not indexed: " + why);
  });
  if (!done) return std::unexpected(done.error());
  SayIndexRequeued(archive, done->requeued);
  return OkStatus();
}

int RunRemoval(const GlobalOptions& global, Archive& archive, const RemovalRequest& req) {
  auto held = HeldAmong(archive, req.ids);
  if (!held) return Fail(held.error());
  const int64_t n = static_cast<int64_t>(req.ids.size() - held->size());
  const std::string verb = req.who.command;
  if (req.dry_run) {
    if (global.json) {
      std::cout << nlohmann::json{{"dry_run", true}, {"would_remove", n}, {"held", held->size()},
                                  {"ids", req.ids}, {"held_ids", *held}, {"note", req.note}}.dump() << "\n";
      return kExitOk;
    }
    if (req.list) ListSelection(archive, req.ids);
    if (global.verbosity > 0 || !req.list) {
      std::printf("%s --dry-run: would remove %s, %lld held (kept)%s; nothing was changed\n", verb.c_str(),
                  Plural(n, "message").c_str(), static_cast<long long>(held->size()), req.note.c_str());
    }
    return kExitOk;
  }
  if (n > 0 && req.confirm && !req.yes) {
    if (!::isatty(STDIN_FILENO)) {
      return FailUsage(verb + " would remove " + Plural(n, "message") +
                       "; not on a terminal, so give --yes to confirm (or --dry-run to list them)");
    }
    if (!Confirmed(verb, n)) {
      PrintError("not confirmed; nothing was removed");
      return kExitUsage;
    }
  }
  auto removed = archive.Remove(req.ids, req.who);
  if (!removed) return Fail(removed.error());
  int64_t problems = 0;
  if (auto st = CatchUpIndexQuietly(archive, &problems); !st) {
    // The catalog is done; the index's queue keeps the removals for the
    // next indexing run.
    PrintError("removed from the catalog, but the index is not updated yet: " + st.error().message() +
               "; run `mailkeep reindex --pending`");
    problems = 1;
  }
  const auto removed_n = static_cast<long long>(removed->removed.size());
  if (global.json) {
    std::cout << nlohmann::json{{"removed", removed_n}, {"held", removed->held.size()}, {"missing", removed->missing},
                                {"removed_ids", removed->removed}, {"held_ids", removed->held},
                                {"note", req.note}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::printf("%s: removed %s, %lld held (kept)%s%s\n", verb.c_str(), Plural(removed_n, "message").c_str(),
                static_cast<long long>(removed->held.size()), req.note.c_str(),
                removed_n > 0 ? "; their bytes stay in packs/ until `mailkeep repack`" : "");
  }
  return problems ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
