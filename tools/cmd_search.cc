// mailkeep search QUERY: the full-text index, notmuch-style queries.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "index/feeder.h"
#include "index/index.h"
#include "tools/command.h"
#include "web/json_views.h"

namespace mailkeep::tools {
namespace {

int TerminalWidth() {
  struct winsize ws {};
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

// `text` made safe for the terminal (TerminalText), cut or padded to
// `width` code points.
std::string Fit(const std::string& text, size_t width) {
  const std::string s = TerminalText(text);
  std::string out;
  size_t cps = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) != 0x80) {
      if (cps == width) break;
      ++cps;
    }
    out += s[i];
  }
  return out + std::string(width > cps ? width - cps : 0, ' ');
}

}  // namespace

int CmdSearch(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("search options");
  AddCommonOptions(desc, global);
  std::string format = "text", sort = "newest";
  size_t offset = 0;
  long limit = -1;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "query words (joined with spaces)")
      ("format", po::value<std::string>(&format), "text | json | ids | mids")
      ("sort", po::value<std::string>(&sort), "newest | oldest | relevance")
      ("limit", po::value<long>(&limit), "at most N results (default 50 for text, no limit otherwise)")
      ("offset", po::value<size_t>(&offset), "skip the first N results")
      ("count", "print only the number of matches")
      ("threads", "group results by thread");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] search QUERY [--format text|json|ids|mids] [--sort ...]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (global.json && !vm.count("format")) format = "json";
  if (format != "text" && format != "json" && format != "ids" && format != "mids") {
    return FailUsage("unknown --format '" + format + "': use text, json, ids or mids");
  }
  index::SearchOptions options;
  const auto order = index::ParseSortOrder(sort);
  if (!order) return FailUsage("unknown --sort '" + sort + "': use newest, oldest or relevance");
  options.sort = *order;
  if (!vm.count("query")) return FailUsage("search needs a QUERY (use * for every message)");
  std::string query;
  for (const auto& w : vm["query"].as<std::vector<std::string>>()) query += (query.empty() ? "" : " ") + w;
  options.offset = offset;
  options.limit = limit >= 0 ? static_cast<size_t>(limit) : (format == "text" && !vm.count("count") ? 50 : 0);

  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  auto reader = index::IndexReader::Open(index::IndexDir(archive));
  if (!reader) return Fail(reader.error());
  auto result = (*reader)->Search(query, options);
  if (!result) return Fail(result.error());
  if (vm.count("count")) {
    if (global.json) {
      std::cout << nlohmann::json{{"count", result->total}}.dump() << "\n";
    } else {
      std::cout << result->total << "\n";
    }
    return kExitOk;
  }

  if (format == "ids" && !vm.count("threads")) {
    // Ids need nothing from the catalog.
    std::string out;
    for (int64_t id : result->ids) out += std::to_string(id) + "\n";
    std::cout << out;
    return kExitOk;
  }
  std::vector<MessageInfo> infos;
  for (int64_t id : result->ids) {
    auto info = archive.GetInfo(id);
    if (!info) return Fail(info.error());
    if (*info) infos.push_back(std::move(**info));
  }
  if (vm.count("threads")) {
    // Group by thread, threads in the order of their first hit.
    std::vector<int64_t> order;
    std::map<int64_t, std::vector<MessageInfo>> groups;
    for (auto& info : infos) {
      if (!groups.count(info.thread)) order.push_back(info.thread);
      groups[info.thread].push_back(std::move(info));
    }
    infos.clear();
    for (int64_t t : order) {
      for (auto& info : groups[t]) infos.push_back(std::move(info));
    }
  }
  if (format == "json") {
    std::cout << web::DumpJson(web::SearchResultsJson(infos), 2) << "\n";
  } else if (format == "ids") {
    for (const auto& info : infos) std::cout << info.id << "\n";
  } else if (format == "mids") {
    for (const auto& info : infos) std::cout << TerminalText(info.message_id) << "\n";
  } else {
    int width = TerminalWidth();
    int64_t last_thread = -1;
    for (const auto& info : infos) {
      if (vm.count("threads") && info.thread != last_thread) {
        if (last_thread != -1) std::cout << "\n";
        std::cout << "thread " << info.thread << ":\n";
        last_thread = info.thread;
      }
      std::string date = info.date ? IsoDate(*info.date).substr(0, 10) : "          ";
      std::string id = std::to_string(info.id);
      int rest = width - 10 - 1 - 20 - 2 - static_cast<int>(id.size()) - 1;
      std::cout << date << " " << Fit(web::SenderName(info), 20) << "  " << Fit(info.subject, rest > 10 ? rest : 10) << " "
                << id << "\n";
    }
    if (global.verbosity > 0 && result->total > options.offset + infos.size()) {
      std::cerr << "(" << infos.size() << " of " << result->total << " shown; --limit N or --limit 0 for all)\n";
    }
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
