// mailkeep stats: counts, sizes, compression, per source.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "tools/command.h"

namespace mailkeep::tools {

static std::string Human(uint64_t bytes) {
  char buf[32];
  double v = static_cast<double>(bytes);
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

int CmdStats(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("stats options");
  AddCommonOptions(desc, global);
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--config FILE] [--archive DIR] stats [--json]", desc, pos, vm)) {
    return *rc;
  }
  const config::ArchiveChoice where = ArchiveFor(global);
  auto archive = OpenArchive(global, OpenMode::kReadOnly);
  if (!archive) return FailArchive(archive.error());
  auto stats = (*archive)->Stats();
  if (!stats) return Fail(stats.error());
  const ArchiveStats& s = *stats;
  const crypto::ArchiveKeys* keys = (*archive)->keys();
  double ratio = s.raw_bytes ? static_cast<double>(s.stored_bytes) / static_cast<double>(s.raw_bytes) : 0.0;
  if (global.json) {
    nlohmann::json sources = nlohmann::json::array();
    for (const auto& p : s.per_source) {
      sources.push_back({{"source", p.source}, {"account", p.account}, {"locations", p.locations}, {"messages", p.messages}});
    }
    nlohmann::json j = {{"archive", where.dir},
                        {"archive_source", config::ArchiveSourceName(where.source)},
                        {"archive_from", where.from},
                        {"messages", s.messages},       {"blobs", s.messages},
                        {"locations", s.locations},     {"raw_bytes", s.raw_bytes},
                        {"stored_bytes", s.stored_bytes}, {"pack_bytes", s.pack_bytes},
                        {"catalog_bytes", s.catalog_bytes}, {"ratio", ratio},
                        {"dictionaries", s.dictionaries}, {"sources", sources},
                        {"encrypted", keys != nullptr}};
    if (keys != nullptr) j["archive_id"] = keys->archive_id;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("archive         %s (from %s)\n", TerminalText(where.dir).c_str(), TerminalText(where.from).c_str());
  if (keys != nullptr) {
    std::printf("encrypted       yes (its index: %s)\n", TerminalText(index::IndexDir(**archive)).c_str());
  } else {
    std::printf("encrypted       no\n");
  }
  std::printf("messages        %lld (distinct blobs)\n", (long long)s.messages);
  std::printf("locations       %lld\n", (long long)s.locations);
  std::printf("raw bytes       %s (%llu)\n", Human(s.raw_bytes).c_str(), (unsigned long long)s.raw_bytes);
  std::printf("stored bytes    %s (packs %s + catalog %s)\n", Human(s.stored_bytes).c_str(),
              Human(s.pack_bytes).c_str(), Human(s.catalog_bytes).c_str());
  std::printf("ratio           %.3f (stored / raw)\n", ratio);
  std::printf("dictionaries    %lld\n", (long long)s.dictionaries);
  if (!s.per_source.empty()) {
    std::printf("per source:\n");
    for (const auto& p : s.per_source) {
      std::printf("  %-8s %-16s %lld messages, %lld locations\n", p.source.c_str(), p.account.c_str(),
                  (long long)p.messages, (long long)p.locations);
    }
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
