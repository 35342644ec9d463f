#include "index/shards.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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
constexpr std::string_view kSegmentPrefix = "# mailkeep segment-from ";

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

std::vector<ShardName> ShardStub::AllShards() const {
  std::vector<ShardName> all;
  for (const Segment& segment : segments) all.insert(all.end(), segment.shards.begin(), segment.shards.end());
  return all;
}

size_t ShardStub::SegmentOf(int64_t id) const {
  size_t s = 0;
  while (s + 1 < segments.size() && segments[s + 1].first_id <= id) ++s;
  return s;
}

size_t ShardStub::NextGeneration() const {
  size_t next = 1;
  for (const Segment& segment : segments) {
    for (const ShardName& shard : segment.shards) next = std::max(next, shard.generation + 1);
  }
  return next;
}

Result<ShardStub> ReadShardStub(const std::string& dir) {
  const std::string path = dir + "/" + kStubFile;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return ShardStub{};
    return MakeError(ErrorCode::kIoError, "index " + path + ": " + std::strerror(errno));
  }
  ShardStub stub;
  std::set<size_t> generations;  // of the segments before the current one
  auto segment_done = [&](const Segment& segment) {
    if (segment.shards.empty() || segment.shards.size() != stub.segments.front().shards.size()) return false;
    for (const ShardName& shard : segment.shards) {
      if (shard.generation != segment.shards.front().generation) return false;
    }
    return generations.insert(segment.shards.front().generation).second;
  };
  stub.segments.push_back(Segment{});
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto bad = [&] {
      return MakeError(ErrorCode::kCorruption,
                       "index " + path + ": unexpected line \"" + line.substr(0, 80) + "\"; run `mailkeep reindex`");
    };
    std::string_view rest = line;
    if (rest.starts_with(kCompactedPrefix)) {
      if (!ParseNumber(rest.substr(kCompactedPrefix.size()), stub.compacted_bytes, 18)) return bad();
      continue;
    }
    if (rest.starts_with(kSegmentPrefix)) {
      Segment next;
      if (!ParseNumber(rest.substr(kSegmentPrefix.size()), next.first_id, 18) ||
          next.first_id <= stub.segments.back().first_id || !segment_done(stub.segments.back()) ||
          stub.segments.size() >= kMaxSegments) {
        return bad();
      }
      stub.segments.push_back(std::move(next));
      continue;
    }
    if (!rest.starts_with(kLinePrefix)) return bad();
    rest.remove_prefix(kLinePrefix.size());
    std::vector<ShardName>& shards = stub.segments.back().shards;
    const std::optional<ShardName> name = ParseShardName(rest);
    if (!name || name->shard != shards.size() || shards.size() >= kMaxShards) return bad();
    shards.push_back(*name);
  }
  if (in.bad()) return MakeError(ErrorCode::kIoError, "index " + path + ": read error");
  if (stub.segments.front().shards.empty()) {
    return MakeError(ErrorCode::kCorruption, "index " + path + ": no shards; run `mailkeep reindex`");
  }
  if (!segment_done(stub.segments.back())) {
    return MakeError(ErrorCode::kCorruption, "index " + path + ": a segment without all its shards; run `mailkeep reindex`");
  }
  return stub;
}

Status WriteShardStub(const std::string& dir, const ShardStub& stub) {
  std::string text;
  for (size_t s = 0; s < stub.segments.size(); ++s) {
    if (s > 0) text += std::string(kSegmentPrefix) + std::to_string(stub.segments[s].first_id) + "\n";
    for (const ShardName& shard : stub.segments[s].shards) text += std::string(kLinePrefix) + shard.Name() + "\n";
  }
  if (stub.compacted_bytes > 0) text += std::string(kCompactedPrefix) + std::to_string(stub.compacted_bytes) + "\n";
  Status written = WriteFileAtomic(dir + "/" + kStubFile, text);
  if (!written) return MakeError(ErrorCode::kIoError, "index " + written.error().message());
  return OkStatus();
}

size_t SegmentsToMerge(const std::vector<int64_t>& documents, size_t tier_factor, int64_t tier_base) {
  const int64_t factor = static_cast<int64_t>(std::max<size_t>(tier_factor, 2));
  auto tier = [&](int64_t n) {
    int tier = 0;
    for (int64_t bound = std::max<int64_t>(tier_base, 1) * factor; n >= bound && bound <= INT64_MAX / factor; bound *= factor) {
      ++tier;
    }
    return tier;
  };
  struct Run {
    size_t first;  // index of its first segment
    int64_t documents;
  };
  std::vector<Run> runs;
  for (size_t i = 0; i < documents.size(); ++i) runs.push_back(Run{i, documents[i]});
  size_t first = documents.empty() ? 0 : documents.size() - 1;
  const size_t t = static_cast<size_t>(factor);
  while (runs.size() >= t) {
    const int newest = tier(runs.back().documents);
    bool same = true;
    for (size_t i = runs.size() - t; i < runs.size(); ++i) same = same && tier(runs[i].documents) == newest;
    if (!same) break;
    Run merged{runs[runs.size() - t].first, 0};
    for (size_t i = runs.size() - t; i < runs.size(); ++i) merged.documents += runs[i].documents;
    runs.resize(runs.size() - t);
    runs.push_back(merged);
    first = std::min(first, merged.first);
  }
  // At most kMaxSegments - 1 remain, so that a writer can start another.
  if (runs.size() > kMaxSegments - 1) first = std::min(first, runs[kMaxSegments - 2].first);
  return first;
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
