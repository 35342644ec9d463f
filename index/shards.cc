#include "index/shards.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "store/util/files.h"

namespace mailkeep::index {

namespace {

constexpr std::string_view kLinePrefix = "glass ";

// Decimal digits without leading zeros (but "0"), below 10^9.
bool ParseNumber(std::string_view s, size_t& out) {
  if (s.empty() || s.size() > 9 || (s.size() > 1 && s[0] == '0')) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<size_t>(c - '0');
  }
  return true;
}

}  // namespace

std::string ShardName::Name() const {
  std::string name = "shard-" + std::to_string(shard);
  if (generation != 0) name += "." + std::to_string(generation);
  return name;
}

Result<std::vector<ShardName>> ReadShardStub(const std::string& dir) {
  const std::string path = dir + "/" + kStubFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return std::vector<ShardName>{};
    return MakeError(ErrorCode::kIoError, "index " + path + ": " + std::strerror(errno));
  }
  std::vector<ShardName> shards;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto bad = [&] {
      return MakeError(ErrorCode::kCorruption,
                       "index " + path + ": unexpected line \"" + line.substr(0, 80) + "\"; run `mailkeep reindex`");
    };
    std::string_view rest = line;
    if (!rest.starts_with(kLinePrefix)) return bad();
    rest.remove_prefix(kLinePrefix.size());
    if (!rest.starts_with("shard-")) return bad();
    rest.remove_prefix(6);
    ShardName name;
    const size_t dot = rest.find('.');
    if (!ParseNumber(rest.substr(0, dot), name.shard)) return bad();
    if (dot != std::string_view::npos && (!ParseNumber(rest.substr(dot + 1), name.generation) || name.generation == 0)) {
      return bad();
    }
    if (name.shard != shards.size() || shards.size() >= kMaxShards) return bad();
    shards.push_back(name);
  }
  if (in.bad()) return MakeError(ErrorCode::kIoError, "index " + path + ": read error");
  if (shards.empty()) return MakeError(ErrorCode::kCorruption, "index " + path + ": no shards; run `mailkeep reindex`");
  return shards;
}

Status WriteShardStub(const std::string& dir, const std::vector<ShardName>& shards) {
  std::string text;
  for (const ShardName& shard : shards) text += std::string(kLinePrefix) + shard.Name() + "\n";
  Status written = WriteFileAtomic(dir + "/" + kStubFile, text);
  if (!written) return MakeError(ErrorCode::kIoError, "index " + written.error().message());
  return OkStatus();
}

}  // namespace mailkeep::index
