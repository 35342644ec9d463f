// Internal to sync/local: reads a file as a stream of bytes, undoing gzip or
// zstd compression when the file starts with that format's magic bytes
// (the extension is not consulted). Memory: a fixed buffer per open file
// (zstd: its window, at most 128 MiB under zstd's default limit).
//
// Thread-safety: one object per thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "store/util/status.h"

namespace mailkeep::local {

enum class Compression { kNone, kGzip, kZstd };

class DecodedFile {
 public:
  virtual ~DecodedFile() = default;

  // Error messages do not name the file; callers add it.
  // Opens `path`, which must be a regular file and not a symbolic link
  // (O_NOFOLLOW). Errors: kNotFound (no such file), kIoError (open failed,
  // e.g. permission denied; a link; not a regular file), kCorruption (the
  // decoder refused the start).
  static Result<std::unique_ptr<DecodedFile>> Open(const std::string& path);

  // Reads up to `cap` decoded bytes into `buf`. Returns 0 only at the end of
  // the data. kCorruption for bad or truncated compressed data, kIoError for
  // a failed read. After an error the object must not be read again.
  virtual Result<size_t> Read(char* buf, size_t cap) = 0;

  virtual Compression compression() const = 0;
};

}  // namespace mailkeep::local
