#include "sync/local/decoded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "store/util/files.h"

namespace mailkeep::local {
namespace {

constexpr size_t kInputChunk = 1 << 17;

// Reads with retry on EINTR; -1 with errno on failure.
ssize_t ReadSome(int fd, char* buf, size_t cap) {
  for (;;) {
    ssize_t n = ::read(fd, buf, cap);
    if (n >= 0 || errno != EINTR) return n;
  }
}

class FdHolder {
 public:
  explicit FdHolder(int fd) : fd_(fd) {}
  FdHolder(const FdHolder&) = delete;
  FdHolder& operator=(const FdHolder&) = delete;
  ~FdHolder() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

class PlainFile final : public DecodedFile {
 public:
  explicit PlainFile(int fd) : fd_(fd) {}
  Result<size_t> Read(char* buf, size_t cap) override {
    ssize_t n = ReadSome(fd_.get(), buf, cap);
    if (n < 0) return MakeError(ErrorCode::kIoError, "read failed: " + ErrnoText(errno));
    return static_cast<size_t>(n);
  }
  Compression compression() const override { return Compression::kNone; }

 private:
  FdHolder fd_;
};

class GzipFile final : public DecodedFile {
 public:
  explicit GzipFile(gzFile gz) : gz_(gz) {}
  ~GzipFile() override { gzclose(gz_); }
  Result<size_t> Read(char* buf, size_t cap) override {
    if (cap > INT_MAX) cap = INT_MAX;
    int n = gzread(gz_, buf, static_cast<unsigned>(cap));
    int err = Z_OK;
    const char* text = gzerror(gz_, &err);
    if (n < 0) {
      if (err == Z_ERRNO) {
        return MakeError(ErrorCode::kIoError, "read failed: " + ErrnoText(errno));
      }
      return MakeError(ErrorCode::kCorruption,
                       std::string("corrupt gzip data: ") + (text ? text : "unknown error"));
    }
    if (n == 0 && err == Z_BUF_ERROR) {
      return MakeError(ErrorCode::kCorruption, "truncated gzip data");
    }
    return static_cast<size_t>(n);
  }
  Compression compression() const override { return Compression::kGzip; }

 private:
  gzFile gz_;
};

class ZstdFile final : public DecodedFile {
 public:
  ZstdFile(int fd, ZSTD_DCtx* dctx) : fd_(fd), dctx_(dctx), in_buf_(kInputChunk) {}
  ~ZstdFile() override { ZSTD_freeDCtx(dctx_); }

  Result<size_t> Read(char* buf, size_t cap) override {
    for (;;) {
      // Fetch more input unless the decoder may still hold output for us.
      if (in_.pos == in_.size && !output_was_full_) {
        ssize_t n = ReadSome(fd_.get(), in_buf_.data(), in_buf_.size());
        if (n < 0) {
          return MakeError(ErrorCode::kIoError, "read failed: " + ErrnoText(errno));
        }
        if (n == 0) {
          if (frame_open_) return MakeError(ErrorCode::kCorruption, "truncated zstd data");
          return size_t{0};
        }
        in_ = ZSTD_inBuffer{in_buf_.data(), static_cast<size_t>(n), 0};
      }
      ZSTD_outBuffer out{buf, cap, 0};
      size_t ret = ZSTD_decompressStream(dctx_, &out, &in_);
      if (ZSTD_isError(ret)) {
        return MakeError(ErrorCode::kCorruption,
                         std::string("corrupt zstd data: ") + ZSTD_getErrorName(ret));
      }
      frame_open_ = ret != 0;
      output_was_full_ = out.pos == cap;
      if (out.pos > 0) return out.pos;
    }
  }
  Compression compression() const override { return Compression::kZstd; }

 private:
  FdHolder fd_;
  ZSTD_DCtx* dctx_;
  std::vector<char> in_buf_;
  ZSTD_inBuffer in_{nullptr, 0, 0};
  bool frame_open_ = false;
  bool output_was_full_ = false;
};

}  // namespace

Result<std::unique_ptr<DecodedFile>> DecodedFile::Open(const std::string& path) {
  // No link is followed in the last component (callers resolve the links
  // they accept), and a FIFO or device swapped in cannot block the open.
  FdHolder fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) {
    int e = errno;
    if (e == ELOOP) return MakeError(ErrorCode::kIoError, "is a symbolic link; not followed");
    return MakeError(e == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     ErrnoText(e));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return MakeError(ErrorCode::kIoError, ErrnoText(errno));
  if (!S_ISREG(st.st_mode)) return MakeError(ErrorCode::kIoError, "not a regular file");
  unsigned char magic[4] = {0, 0, 0, 0};
  size_t have = 0;
  while (have < sizeof magic) {
    ssize_t n = ReadSome(fd.get(), reinterpret_cast<char*>(magic) + have, sizeof magic - have);
    if (n < 0) return MakeError(ErrorCode::kIoError, "read failed: " + ErrnoText(errno));
    if (n == 0) break;
    have += static_cast<size_t>(n);
  }
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    return MakeError(ErrorCode::kIoError, "cannot seek: " + ErrnoText(errno));
  }
  if (have >= 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    gzFile gz = gzdopen(fd.get(), "rb");
    if (gz == nullptr) return MakeError(ErrorCode::kInternal, "gzdopen failed");
    fd.release();  // gzclose closes it
    gzbuffer(gz, kInputChunk);
    return std::unique_ptr<DecodedFile>(new GzipFile(gz));
  }
  if (have == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd) {
    ZSTD_DCtx* dctx = ZSTD_createDCtx();
    if (dctx == nullptr) return MakeError(ErrorCode::kInternal, "ZSTD_createDCtx failed");
    return std::unique_ptr<DecodedFile>(new ZstdFile(fd.release(), dctx));
  }
  return std::unique_ptr<DecodedFile>(new PlainFile(fd.release()));
}

}  // namespace mailkeep::local
