#include "index/shards.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "store/util/files.h"

namespace mailkeep::index {

namespace {

constexpr std::string_view kLinePrefix = "glass ";
constexpr std::string_view kCompactedPrefix = "# mailkeep compacted-bytes ";

// Decimal digits without leading zeros (but "0"), at most `max_digits`.
template <typename Number>
bool ParseNumber(std::string_view s, Number& out, size_t max_digits = 9) {
  if (s.empty() || s.size() > max_digits || (s.size() > 1 && s[0] == '0')) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<Number>(c - '0');
  }
  return true;
}

}  // namespace

std::optional<ShardName> ParseShardName(std::string_view name) {
  if (!name.starts_with("shard-")) return std::nullopt;
  name.remove_prefix(6);
  ShardName parsed;
  const size_t dot = name.find('.');
  if (!ParseNumber(name.substr(0, dot), parsed.shard)) return std::nullopt;
  if (dot != std::string_view::npos && (!ParseNumber(name.substr(dot + 1), parsed.generation) || parsed.generation == 0)) {
    return std::nullopt;
  }
  return parsed;
}

std::string ShardName::Name() const {
  std::string name = "shard-" + std::to_string(shard);
  if (generation != 0) name += "." + std::to_string(generation);
  return name;
}

Result<std::vector<ShardName>> ReadShardStub(const std::string& dir, uint64_t* compacted_bytes) {
  const std::string path = dir + "/" + kStubFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::vector<ShardName>{};
    return MakeError(ErrorCode::kIoError, "index " + path + ": " + std::strerror(errno));
  }
  std::vector<ShardName> shards;
  uint64_t compacted = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto bad = [&] {
      return MakeError(ErrorCode::kCorruption,
                       "index " + path + ": unexpected line \"" + line.substr(0, 80) + "\"; run `mailkeep reindex`");
    };
    std::string_view rest = line;
    if (rest.starts_with(kCompactedPrefix)) {
      if (!ParseNumber(rest.substr(kCompactedPrefix.size()), compacted, 18)) return bad();
      continue;
    }
    if (!rest.starts_with(kLinePrefix)) return bad();
    rest.remove_prefix(kLinePrefix.size());
    const std::optional<ShardName> name = ParseShardName(rest);
    if (!name || name->shard != shards.size() || shards.size() >= kMaxShards) return bad();
    shards.push_back(*name);
  }
  if (in.bad()) return MakeError(ErrorCode::kIoError, "index " + path + ": read error");
  if (shards.empty()) return MakeError(ErrorCode::kCorruption, "index " + path + ": no shards; run `mailkeep reindex`");
  if (compacted_bytes != nullptr) *compacted_bytes = compacted;
  return shards;
}

Status WriteShardStub(const std::string& dir, const std::vector<ShardName>& shards, uint64_t compacted_bytes) {
  std::string text;
  for (const ShardName& shard : shards) text += std::string(kLinePrefix) + shard.Name() + "\n";
  if (compacted_bytes > 0) text += std::string(kCompactedPrefix) + std::to_string(compacted_bytes) + "\n";
  Status written = WriteFileAtomic(dir + "/" + kStubFile, text);
  if (!written) return MakeError(ErrorCode::kIoError, "index " + written.error().message());
  return OkStatus();
}

uint64_t ShardBytes(const std::string& dir, const std::vector<ShardName>& shards) {
  uint64_t bytes = 0;
  for (const ShardName& name : shards) {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir + "/" + name.Name(), ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      struct stat st {};
      if (::stat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  return bytes;
}

Status RemoveUnlistedShards(const std::string& dir, const std::vector<ShardName>& listed) {
  std::set<std::string> keep;
  for (const ShardName& name : listed) keep.insert(name.Name());
  std::error_code ec;
  bool removed = false;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (keep.count(name) != 0 || !ParseShardName(name)) continue;
    std::error_code removing;
    std::filesystem::remove_all(it->path(), removing);
    if (removing) return MakeError(ErrorCode::kIoError, "index " + dir + ": cannot remove " + name + ": " + removing.message());
    removed = true;
  }
  if (ec) return MakeError(ErrorCode::kIoError, "index " + dir + ": " + ec.message());
  if (removed) {
    if (Status synced = SyncDir(dir); !synced) return MakeError(ErrorCode::kIoError, "index " + synced.error().message());
  }
  return OkStatus();
}

}  // namespace mailkeep::index
