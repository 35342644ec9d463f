#include "index/shards.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace mailkeep::index {

namespace {

std::string StubLine(size_t shard) { return "glass shard-" + std::to_string(shard); }

}  // namespace

std::string ShardPath(const std::string& dir, size_t shard) { return dir + "/shard-" + std::to_string(shard); }

Result<size_t> ReadShardCount(const std::string& dir) {
  const std::string path = dir + "/" + kStubFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return size_t{0};
    return MakeError(ErrorCode::kIoError, "index " + path + ": " + std::strerror(errno));
  }
  size_t shards = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line != StubLine(shards) || shards >= kMaxShards) {
      return MakeError(ErrorCode::kCorruption, "index " + path + ": unexpected line \"" + line.substr(0, 80) +
                                                   "\"; run `mailkeep reindex`");
    }
    ++shards;
  }
  if (in.bad()) return MakeError(ErrorCode::kIoError, "index " + path + ": read error");
  if (shards == 0) return MakeError(ErrorCode::kCorruption, "index " + path + ": no shards; run `mailkeep reindex`");
  return shards;
}

Status WriteShardStub(const std::string& dir, size_t shards) {
  const std::string path = dir + "/" + kStubFile;
  const std::string temp = path + ".tmp";
  {
    std::ofstream out(temp, std::ios::trunc);
    for (size_t k = 0; k < shards; ++k) out << StubLine(k) << '\n';
    out.flush();
    if (!out) return MakeError(ErrorCode::kIoError, "index " + temp + ": cannot write");
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    return MakeError(ErrorCode::kIoError, "index " + path + ": " + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace mailkeep::index
