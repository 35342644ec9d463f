#include "sync/oauth/token_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "store/util/files.h"
#include "sync/oauth/token_reply.h"

namespace mailkeep::oauth {
namespace {

constexpr size_t kMaxFile = 64 * 1024;
constexpr std::string_view kAccessMagic = "mailkeep-oauth-access 1";

// The whole file (at most kMaxFile bytes), nullopt when it does not exist.
// Refused when it is not a regular file or others may read it.
Result<std::optional<std::string>> ReadPrivate(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  }
  struct stat st {};
  std::optional<Error> problem;
  if (::fstat(fd, &st) != 0) {
    problem = Error(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  } else if (!S_ISREG(st.st_mode)) {
    problem = Error(ErrorCode::kFailedPrecondition, path + " is not a regular file");
  } else if ((st.st_mode & 077) != 0) {
    problem = Error(ErrorCode::kFailedPrecondition, path + " is accessible by others; run: chmod 600 " + path);
  }
  std::string data;
  char buf[4096];
  while (!problem && data.size() <= kMaxFile) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) problem = Error(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  if (problem) return std::unexpected(*problem);
  if (data.size() > kMaxFile) return MakeError(ErrorCode::kFailedPrecondition, path + " is larger than 64 KiB");
  return std::optional<std::string>(std::move(data));
}

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxToken) return false;
  for (char c : s) {
    if (c <= 0x20 || c >= 0x7F) return false;
  }
  return true;
}

// Splits off the first line ("\n"-terminated).
std::optional<std::string_view> TakeLine(std::string_view& s) {
  size_t nl = s.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view line = s.substr(0, nl);
  s.remove_prefix(nl + 1);
  return line;
}

}  // namespace

TokenStore::TokenStore(std::string archive_dir, std::string name)
    : dir_(std::move(archive_dir) + "/oauth"),
      refresh_path_(dir_ + "/" + name + ".refresh"),
      access_path_(dir_ + "/" + name + ".access") {}

Status TokenStore::MakeDir() const { return MakeDirs(dir_, 0700); }

Result<std::optional<std::string>> TokenStore::LoadRefreshToken() const {
  MK_ASSIGN_OR_RETURN(std::optional<std::string> data, ReadPrivate(refresh_path_));
  if (!data) return data;
  std::string_view rest = *data;
  std::optional<std::string_view> line = TakeLine(rest);
  if (!line || !rest.empty() || !IsToken(*line)) {
    return MakeError(ErrorCode::kFailedPrecondition, refresh_path_ + " is damaged (not one token line)");
  }
  return std::optional<std::string>(std::string(*line));
}

Status TokenStore::SaveRefreshToken(std::string_view token) {
  if (!IsToken(token)) return MakeError(ErrorCode::kInvalidArgument, "not a refresh token to keep");
  MK_RETURN_IF_ERROR(MakeDir());
  return WriteFileAtomic(refresh_path_, std::string(token) + "\n");
}

std::optional<CachedAccessToken> TokenStore::LoadAccessToken() const {
  auto data = ReadPrivate(access_path_);
  if (!data || !*data) return std::nullopt;
  std::string_view rest = **data;
  auto magic = TakeLine(rest);
  auto expires = TakeLine(rest);
  auto token = TakeLine(rest);
  if (!magic || *magic != kAccessMagic || !expires || !token || !rest.empty() || !IsToken(*token)) {
    return std::nullopt;
  }
  CachedAccessToken cached;
  auto [ptr, ec] = std::from_chars(expires->data(), expires->data() + expires->size(), cached.expires_at);
  if (expires->empty() || ec != std::errc() || ptr != expires->data() + expires->size()) return std::nullopt;
  cached.token = *token;
  return cached;
}

Status TokenStore::SaveAccessToken(const CachedAccessToken& cached) {
  if (!IsToken(cached.token)) return MakeError(ErrorCode::kInvalidArgument, "not an access token to cache");
  MK_RETURN_IF_ERROR(MakeDir());
  return WriteFileAtomic(access_path_, std::string(kAccessMagic) + "\n" + std::to_string(cached.expires_at) + "\n" +
                                           cached.token + "\n");
}

Status TokenStore::ForgetAccessToken() {
  if (::unlink(access_path_.c_str()) != 0 && errno != ENOENT) {
    return MakeError(ErrorCode::kIoError, access_path_ + ": " + ErrnoText(errno));
  }
  return OkStatus();
}

}  // namespace mailkeep::oauth
