// Small POSIX file helpers shared by store/, sync/ and tools/.
// All return Status/Result with the path and errno text in the message.
// Thread-safety: no shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/util/status.h"

namespace mailkeep {

// Reads a whole file. More than `max_bytes` is kInvalidArgument ("PATH:
// larger than N bytes"), found before more than max_bytes + 64 KiB is held.
Result<std::string> ReadFile(const std::string& path, size_t max_bytes = SIZE_MAX);
// Creates `path` and missing parents with `mode` (default 0700).
Status MakeDirs(const std::string& path, int mode = 0700);
// Writes `data` to path.tmp (mode 0600), fsyncs it, renames it over `path`,
// and fsyncs the directory.
Status WriteFileAtomic(const std::string& path, std::string_view data);
// fsyncs a directory so that entries created or renamed in it are durable.
Status SyncDir(const std::string& dir);
// Removes directory `dir` and all in it so that it is gone whole or not at
// all: it is renamed to dir.removing (the parent fsynced), then deleted.
// A dir.removing an interrupted call left is deleted first. A missing `dir`
// is fine.
Status RemoveTree(const std::string& dir);
// Writes all of `data` to fd, retrying short writes and EINTR.
Status WriteAll(int fd, std::string_view data, const std::string& what);
std::string ErrnoText(int err);

}  // namespace mailkeep
