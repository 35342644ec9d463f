#include "store/util/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace mailkeep {

std::string ErrnoText(int err) { return std::strerror(err); }

Result<std::string> ReadFile(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    return MakeError(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     path + ": " + ErrnoText(e));
  }
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(std::min(static_cast<size_t>(st.st_size), max_bytes));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(e));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return MakeError(ErrorCode::kInvalidArgument, path + ": larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  ::close(fd);
  return out;
}

Status MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return OkStatus();
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return OkStatus();
    return MakeError(ErrorCode::kFailedPrecondition, path + ": exists and is not a directory");
  }
  auto slash = path.find_last_of('/');
  if (slash != std::string::npos && slash > 0) {
    MK_RETURN_IF_ERROR(MakeDirs(path.substr(0, slash), mode));
  }
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST) {
    return MakeError(ErrorCode::kIoError, path + ": cannot create directory: " + ErrnoText(errno));
  }
  return OkStatus();
}

Status WriteAll(int fd, std::string_view data, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIoError, what + ": write failed: " + ErrnoText(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return OkStatus();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return MakeError(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return MakeError(ErrorCode::kIoError, dir + ": fsync failed: " + ErrnoText(e));
  return OkStatus();
}

Status RemoveTree(const std::string& dir) {
  const std::string gone = dir + ".removing";
  std::error_code ec;
  std::filesystem::remove_all(gone, ec);
  if (ec) return MakeError(ErrorCode::kIoError, gone + ": cannot remove: " + ec.message());
  if (::rename(dir.c_str(), gone.c_str()) != 0) {
    if (errno == ENOENT) return OkStatus();
    return MakeError(ErrorCode::kIoError, dir + ": cannot move it away to remove it: " + ErrnoText(errno));
  }
  const auto parent = std::filesystem::path(dir).parent_path().string();
  MK_RETURN_IF_ERROR(SyncDir(parent.empty() ? "." : parent));
  std::filesystem::remove_all(gone, ec);
  if (ec) return MakeError(ErrorCode::kIoError, gone + ": cannot remove: " + ec.message());
  return OkStatus();
}

Status WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kIoError, tmp + ": " + ErrnoText(errno));
  auto st = WriteAll(fd, data, tmp);
  if (st && ::fsync(fd) != 0) st = MakeError(ErrorCode::kIoError, tmp + ": fsync failed: " + ErrnoText(errno));
  if (::close(fd) != 0 && st) st = MakeError(ErrorCode::kIoError, tmp + ": close failed: " + ErrnoText(errno));
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return MakeError(ErrorCode::kIoError, path + ": rename failed: " + ErrnoText(errno));
  }
  auto slash = path.find_last_of('/');
  return SyncDir(slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash)));
}

}  // namespace mailkeep
