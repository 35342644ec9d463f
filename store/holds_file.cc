#include "store/holds_file.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/blobs/coding.h"
#include "store/util/files.h"

namespace mailkeep::holds {
namespace {

using blobs::Crc32;
using blobs::GetU32;
using blobs::GetU64;
using blobs::PutU32;
using blobs::PutU64;

// Header (16 bytes): magic "\x89MKH", version 1, kind 1, flags (0x0001 =
// sealed), body length (LE32), CRC-32 of bytes 0..11. Then the body, then
// the CRC-32 of the body as stored.
constexpr blobs::HeaderFrame kFrame{{0x89, 'M', 'K', 'H'}, 1, 12};
constexpr uint8_t kKindHolds = 1;
constexpr uint16_t kFlagSealed = 0x0001;
constexpr size_t kHeaderSize = 16;
constexpr size_t kBoundHeaderBytes = 12;  // a sealed body's associated data

void PutText(std::string& out, const std::string& s) {
  uint8_t n[4];
  PutU32(n, static_cast<uint32_t>(s.size()));
  out.append(reinterpret_cast<const char*>(n), 4);
  out += s;
}

// A cursor over the plain body; every read checks what is left.
struct Reader {
  std::string_view in;
  bool Take(size_t n, std::string_view& out) {
    if (in.size() < n) return false;
    out = in.substr(0, n);
    in.remove_prefix(n);
    return true;
  }
  bool U32(uint32_t& v) {
    std::string_view b;
    if (!Take(4, b)) return false;
    v = GetU32(reinterpret_cast<const uint8_t*>(b.data()));
    return true;
  }
  bool Text(std::string& s) {
    uint32_t n = 0;
    std::string_view b;
    if (!U32(n) || n > kMaxText || !Take(n, b)) return false;
    s = b;
    return true;
  }
};

Result<std::string> PlainBody(const std::vector<HeldMessage>& held) {
  std::string body(4, '\0');
  PutU32(reinterpret_cast<uint8_t*>(body.data()), static_cast<uint32_t>(held.size()));
  for (const auto& h : held) {
    for (const std::string* t : {&h.user, &h.host, &h.command, &h.query, &h.reason}) {
      if (t->size() > kMaxText) return MakeError(ErrorCode::kInvalidArgument, "a hold's text is too long");
    }
    body.append(reinterpret_cast<const char*>(h.hash.data()), h.hash.size());
    uint8_t since[8];
    PutU64(since, static_cast<uint64_t>(h.since));
    body.append(reinterpret_cast<const char*>(since), 8);
    for (const std::string* t : {&h.user, &h.host, &h.command, &h.query, &h.reason}) PutText(body, *t);
    if (body.size() > kMaxBody - crypto::kSealOverhead) {
      return MakeError(ErrorCode::kInvalidArgument, "too many holds for the holds file");
    }
  }
  return body;
}

Result<std::vector<HeldMessage>> ParseBody(std::string_view body) {
  Reader r{body};
  uint32_t count = 0;
  if (!r.U32(count)) return MakeError(ErrorCode::kCorruption, "holds file: truncated body");
  std::vector<HeldMessage> out;
  for (uint32_t i = 0; i < count; ++i) {
    HeldMessage h;
    std::string_view hash, since;
    bool ok = r.Take(h.hash.size(), hash) && r.Take(8, since);
    for (std::string* t : {&h.user, &h.host, &h.command, &h.query, &h.reason}) ok = ok && r.Text(*t);
    if (!ok) return MakeError(ErrorCode::kCorruption, "holds file: entry " + std::to_string(i + 1) + " is truncated");
    std::copy(hash.begin(), hash.end(), h.hash.begin());
    h.since = static_cast<int64_t>(GetU64(reinterpret_cast<const uint8_t*>(since.data())));
    out.push_back(std::move(h));
  }
  if (!r.in.empty()) return MakeError(ErrorCode::kCorruption, "holds file: bytes after the last entry");
  return out;
}

std::string_view Bound(const std::string& file) { return std::string_view(file).substr(0, kBoundHeaderBytes); }

std::string FilePath(const std::string& dir) { return dir + "/" + kHoldsFileName; }

}  // namespace

Result<std::string> Encode(const std::vector<HeldMessage>& held, const crypto::ArchiveKeys* keys) {
  MK_ASSIGN_OR_RETURN(std::string body, PlainBody(held));
  const size_t stored = body.size() + (keys != nullptr ? crypto::kSealOverhead : 0);
  std::string file(kHeaderSize, '\0');
  auto* h = reinterpret_cast<uint8_t*>(file.data());
  blobs::StartHeader(h, kFrame, kKindHolds);
  blobs::PutFlags(h, keys != nullptr ? kFlagSealed : 0);
  PutU32(h + 8, static_cast<uint32_t>(stored));
  blobs::SealHeader(h, kFrame);
  if (keys != nullptr) {
    MK_ASSIGN_OR_RETURN(body, crypto::Seal(keys->pack, body, Bound(file)));
  }
  file += body;
  uint8_t crc[4];
  PutU32(crc, Crc32(body));
  file.append(reinterpret_cast<const char*>(crc), 4);
  return file;
}

Result<std::vector<HeldMessage>> Decode(std::string_view file, const crypto::ArchiveKeys* keys) {
  const auto* h = reinterpret_cast<const uint8_t*>(file.data());
  if (file.size() < kHeaderSize + 4) return MakeError(ErrorCode::kCorruption, "holds file: too short");
  if (std::string why = blobs::CheckHeader(h, kFrame, kFlagSealed); !why.empty() || h[5] != kKindHolds) {
    return MakeError(ErrorCode::kCorruption, "holds file: " + (why.empty() ? std::string("unknown kind") : why));
  }
  const uint32_t len = GetU32(h + 8);
  if (len > kMaxBody || file.size() != kHeaderSize + len + 4) {
    return MakeError(ErrorCode::kCorruption, "holds file: length does not match its header");
  }
  const std::string_view body = file.substr(kHeaderSize, len);
  if (Crc32(body) != GetU32(h + kHeaderSize + len)) return MakeError(ErrorCode::kCorruption, "holds file: CRC mismatch");
  const bool sealed = (blobs::GetFlags(h) & kFlagSealed) != 0;
  if (sealed != (keys != nullptr)) {
    return MakeError(ErrorCode::kCorruption, sealed ? "holds file: sealed, but the archive is not encrypted"
                                                    : "holds file: not sealed, but the archive is encrypted");
  }
  if (!sealed) return ParseBody(body);
  auto plain = crypto::Open(keys->pack, body, file.substr(0, kBoundHeaderBytes));
  if (!plain) return MakeError(ErrorCode::kCorruption, "holds file: " + plain.error().message());
  return ParseBody(*plain);
}

Status Write(const std::string& dir, const std::vector<HeldMessage>& held, const crypto::ArchiveKeys* keys) {
  MK_ASSIGN_OR_RETURN(std::string file, Encode(held, keys));
  return WriteFileAtomic(FilePath(dir), file);
}

Result<std::optional<std::vector<HeldMessage>>> Read(const std::string& dir, const crypto::ArchiveKeys* keys) {
  const std::string path = FilePath(dir);
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return std::optional<std::vector<HeldMessage>>();
  MK_ASSIGN_OR_RETURN(std::string file, ReadFile(path, kHeaderSize + kMaxBody + 4));
  auto held = Decode(file, keys);
  if (!held) return std::unexpected(held.error().WithContext(path));
  return std::optional<std::vector<HeldMessage>>(std::move(*held));
}

}  // namespace mailkeep::holds
