// Fault injection below the program: an LD_PRELOAD library that interposes
// the file-system calls through which mailkeep, SQLite and Xapian write an
// archive, counts those on files under one directory, and makes the l-th of
// them fail. The seam sits below the program because the catalog (SQLite)
// and the index (Xapian) do their own file I/O, which no Env of ours could
// reach; interposition reaches all three alike.
//
// Environment (read once, at load):
//   FAULT_DIR     only operations on paths under this directory count
//                 (absolute; resolved with realpath). Unset: the library
//                 does nothing.
//   FAULT_STEP    l >= 1: operation number l fails; 0 or unset: count only.
//   FAULT_KIND    eio | enospc | short. `short` writes the first half of a
//                 write and returns that count, and the next write to the
//                 same file fails with ENOSPC (a disk filling up); on an
//                 operation that is not a write, `short` is ENOSPC.
//   FAULT_COUNTS  at exit, "total N" and one line per kind of operation are
//                 written to this file (the driver learns N from a run
//                 without a fault).
//   FAULT_HIT     when the fault is injected, one line "STEP KIND OP PATH"
//                 is appended to this file.
//   FAULT_TRACE   every counted operation is appended here ("N OP PATH").
//
// Operations counted (the ones that change or make durable what is on
// disk): write, pwrite, pwrite64, writev, pwritev, pwritev64 (op "write"),
// fsync, fdatasync ("sync"), rename, renameat, renameat2 ("rename"),
// ftruncate, ftruncate64 ("truncate"). Calls made inside libc itself (stdio
// flushing through its own write) do not go through the PLT; C++ streams do
// (libstdc++ calls write), so the index's stub file is counted.
//
// Threads: the step counter and the pending short-write fd are atomics; the
// rest is set once before main. Reentrancy: the real functions are looked
// up with dlsym(RTLD_NEXT) in the constructor (lazily as a fallback), and
// the library's own output goes through the real write.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

namespace {

enum Op { kWrite, kSync, kRename, kTruncate, kOps };
constexpr const char* kOpNames[kOps] = {"write", "sync", "rename", "truncate"};
enum Kind { kEio, kEnospc, kShort };
constexpr const char* kKindNames[] = {"eio", "enospc", "short"};

char g_dir[PATH_MAX];
size_t g_dir_len;  // 0: inactive
long g_step;
enum Kind g_kind = kEio;
const char* g_counts_path;
int g_hit_fd = -1, g_trace_fd = -1;
std::atomic<long> g_count;
std::atomic<long> g_per_op[kOps];
std::atomic<int> g_short_fd{-1};

// What a failed fsync loses. After a real fsync error the kernel may have
// dropped the pages it could not write back, and reports the error once; a
// later fsync can succeed without them. Modelled here for the bytes past the
// file's size at its last successful fsync (or when this process first
// wrote to it) up to its size at the failed fsync: at exit, those bytes
// that were not written again after the failure read as zeros. A program
// that goes on as if that fsync had worked then finds what it claimed
// durable damaged, and `verify` sees it. Bytes rewritten in place below the
// synced size and directory entries are not modelled; the files that
// matter here (packs, the SQLite WAL) are appended to.
struct Synced {
  char path[PATH_MAX];
  off_t size;
};
std::mutex g_synced_mu;  // guards everything below
Synced g_synced[256];
int g_synced_n;
struct Loss {
  char path[PATH_MAX];  // empty: no fsync failed
  off_t from, to;
  int rewritten_n;  // writes since, as [begin, end) ranges; past 64: all rewritten
  off_t rewritten[64][2];
} g_loss;

typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*pwrite64_fn)(int, const void*, size_t, off64_t);
typedef ssize_t (*writev_fn)(int, const struct iovec*, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec*, int, off_t);
typedef ssize_t (*pwritev64_fn)(int, const struct iovec*, int, off64_t);
typedef int (*fd_fn)(int);
typedef int (*rename_fn)(const char*, const char*);
typedef int (*renameat_fn)(int, const char*, int, const char*);
typedef int (*renameat2_fn)(int, const char*, int, const char*, unsigned);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*ftruncate64_fn)(int, off64_t);

struct {
  write_fn write;
  pwrite_fn pwrite;
  pwrite64_fn pwrite64;
  writev_fn writev;
  pwritev_fn pwritev;
  pwritev64_fn pwritev64;
  fd_fn fsync, fdatasync;
  rename_fn rename;
  renameat_fn renameat;
  renameat2_fn renameat2;
  ftruncate_fn ftruncate;
  ftruncate64_fn ftruncate64;
} real;

// The next definition of a function after this library's (the real one).
// Looked up before main; the lookup on first use only covers calls made
// by other libraries' constructors before this one ran.
template <typename F>
F resolve(F& slot, const char* name) {
  if (!slot) slot = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  return slot;
}
#define RESOLVE(name) resolve(real.name, #name)

// Writes all of s to fd with the real write (never counted).
void put(int fd, const char* s) {
  if (fd < 0 || !RESOLVE(write)) return;
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = real.write(fd, s, n);
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

int open_log(const char* var) {
  const char* p = getenv(var);
  return p && *p ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
}

__attribute__((constructor)) void fault_init(void) {
  const char* dir = getenv("FAULT_DIR");
  if (!dir || !*dir || !realpath(dir, g_dir)) return;
  g_dir_len = strlen(g_dir);
  const char* step = getenv("FAULT_STEP");
  g_step = step ? strtol(step, NULL, 10) : 0;
  const char* kind = getenv("FAULT_KIND");
  if (kind && strcmp(kind, "enospc") == 0) g_kind = kEnospc;
  if (kind && strcmp(kind, "short") == 0) g_kind = kShort;
  g_counts_path = getenv("FAULT_COUNTS");
  g_hit_fd = open_log("FAULT_HIT");
  g_trace_fd = open_log("FAULT_TRACE");
  RESOLVE(write);
  RESOLVE(pwrite);
  RESOLVE(pwrite64);
  RESOLVE(writev);
  RESOLVE(pwritev);
  RESOLVE(pwritev64);
  RESOLVE(fsync);
  RESOLVE(fdatasync);
  RESOLVE(rename);
  RESOLVE(renameat);
  RESOLVE(renameat2);
  RESOLVE(ftruncate);
  RESOLVE(ftruncate64);
}

void lose_unsynced();

__attribute__((destructor)) void fault_fini(void) {
  if (!g_dir_len) return;
  lose_unsynced();
  if (!g_counts_path) return;
  int fd = open(g_counts_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return;
  char line[64];
  snprintf(line, sizeof line, "total %ld\n", g_count.load());
  put(fd, line);
  for (int op = 0; op < kOps; ++op) {
    snprintf(line, sizeof line, "%s %ld\n", kOpNames[op], g_per_op[op].load());
    put(fd, line);
  }
  close(fd);
}

int under_dir(const char* path) {
  return g_dir_len && strncmp(path, g_dir, g_dir_len) == 0 && (path[g_dir_len] == '/' || path[g_dir_len] == '\0');
}

void fd_path(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  out[n > 0 ? n : 0] = '\0';
}

// `name` relative to dirfd (AT_FDCWD or a directory fd) as an absolute path.
void at_path(int dirfd, const char* name, char* out, size_t size) {
  if (name[0] == '/') {
    snprintf(out, size, "%s", name);
    return;
  }
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) base[0] = '\0';
  } else {
    fd_path(dirfd, base, sizeof base);
  }
  snprintf(out, size, "%s/%s", base, name);
}

// Counts one operation on `path` when it is under FAULT_DIR. Returns 1 when
// this operation is the one to fail (and logs it).
int count(enum Op op, const char* path) {
  if (!under_dir(path)) return 0;
  long n = g_count.fetch_add(1) + 1;
  g_per_op[op].fetch_add(1);
  char line[PATH_MAX + 64];
  if (g_trace_fd >= 0) {
    snprintf(line, sizeof line, "%ld %s %s\n", n, kOpNames[op], path);
    put(g_trace_fd, line);
  }
  if (n != g_step) return 0;
  snprintf(line, sizeof line, "%ld %s %s %s\n", n, kKindNames[g_kind], kOpNames[op], path);
  put(g_hit_fd, line);
  return 1;
}

int count_fd(enum Op op, int fd) {
  if (!g_dir_len) return 0;
  char path[PATH_MAX];
  fd_path(fd, path, sizeof path);
  return count(op, path);
}

off_t size_of(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
}

// The entry for path, added (with `size`) when missing; null when full.
Synced* synced_entry(const char* path, off_t size) {
  for (int i = 0; i < g_synced_n; ++i) {
    if (strcmp(g_synced[i].path, path) == 0) return &g_synced[i];
  }
  if (g_synced_n == 256 || size < 0) return nullptr;
  Synced* e = &g_synced[g_synced_n++];
  snprintf(e->path, sizeof e->path, "%s", path);
  e->size = size;
  return e;
}

// Before a write: the file's size now is durable if nothing of this
// process was written to it yet.
void note_first_write(const char* path, int fd) {
  std::lock_guard<std::mutex> lock(g_synced_mu);
  synced_entry(path, size_of(fd));
}

void note_synced(const char* path, int fd) {
  off_t size = size_of(fd);
  std::lock_guard<std::mutex> lock(g_synced_mu);
  if (Synced* e = synced_entry(path, size)) e->size = size;
}

void note_failed_sync(const char* path, int fd) {
  off_t size = size_of(fd);
  std::lock_guard<std::mutex> lock(g_synced_mu);
  Synced* e = synced_entry(path, -1);
  if (!e || size <= e->size) return;  // nothing unsynced (or not a tracked file)
  snprintf(g_loss.path, sizeof g_loss.path, "%s", path);
  g_loss.from = e->size;
  g_loss.to = size;
}

// Before a write of len bytes at off to path: it makes those bytes safe
// from the failed fsync's loss (if it was not followed by another failure).
void note_rewrite(const char* path, off_t off, size_t len) {
  std::lock_guard<std::mutex> lock(g_synced_mu);
  if (!g_loss.path[0] || strcmp(path, g_loss.path) != 0 || g_loss.rewritten_n > 64) return;
  if (g_loss.rewritten_n == 64) {
    ++g_loss.rewritten_n;  // too many to track: count everything as rewritten
    return;
  }
  g_loss.rewritten[g_loss.rewritten_n][0] = off;
  g_loss.rewritten[g_loss.rewritten_n][1] = off + (off_t)len;
  ++g_loss.rewritten_n;
}

// The end of the run of bytes from `at` that were written again (at if none).
off_t rewritten_to(off_t at) {
  for (bool moved = true; moved;) {
    moved = false;
    for (int i = 0; i < g_loss.rewritten_n && i < 64; ++i) {
      if (g_loss.rewritten[i][0] <= at && at < g_loss.rewritten[i][1]) {
        at = g_loss.rewritten[i][1];
        moved = true;
      }
    }
  }
  return at;
}

// The first byte from `at` that was written again (end if none is).
off_t next_rewritten(off_t at, off_t end) {
  for (int i = 0; i < g_loss.rewritten_n && i < 64; ++i) {
    if (g_loss.rewritten[i][0] > at && g_loss.rewritten[i][0] < end) end = g_loss.rewritten[i][0];
  }
  return end;
}

// At exit: the failed fsync's loss, as zeros.
void lose_unsynced() {
  if (!g_loss.path[0] || g_loss.rewritten_n > 64) return;
  int fd = open(g_loss.path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  off_t size = size_of(fd);
  off_t end = size < g_loss.to ? size : g_loss.to;
  static const char zeros[4096] = {};
  for (off_t at = rewritten_to(g_loss.from); at < end; at = rewritten_to(at)) {
    off_t stop = next_rewritten(at, end);
    char line[PATH_MAX + 64];
    snprintf(line, sizeof line, "lost %s bytes %lld..%lld\n", g_loss.path, (long long)at, (long long)stop);
    put(g_hit_fd, line);
    for (; at < stop;) {
      size_t n = stop - at < (off_t)sizeof zeros ? (size_t)(stop - at) : sizeof zeros;
      if (RESOLVE(pwrite)(fd, zeros, n, at) <= 0) break;
      at += (off_t)n;
    }
    at = stop;
  }
  close(fd);
}

// errno for a failed operation that is not a short write.
int fail_errno(void) { return g_kind == kEio ? EIO : ENOSPC; }

// Where write() on fd writes.
off_t current_offset(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_APPEND) ? size_of(fd) : lseek(fd, 0, SEEK_CUR);
}

// Decides what a write of `len` bytes at `off` (-1: the fd's offset) to fd
// does: 0 = go ahead, -1 = fail (errno set), or > 0 = write only that many
// bytes (a short write).
ssize_t write_fault(int fd, size_t len, off_t off) {
  if (!g_dir_len) return 0;
  char path[PATH_MAX];
  fd_path(fd, path, sizeof path);
  if (!under_dir(path)) return 0;
  note_first_write(path, fd);
  note_rewrite(path, off >= 0 ? off : current_offset(fd), len);
  int hit = count(kWrite, path);
  int expected = fd;
  if (!hit && g_short_fd.compare_exchange_strong(expected, -1)) {
    errno = ENOSPC;  // the write after a short one: the disk is full
    return -1;
  }
  if (!hit) return 0;
  if (g_kind == kShort && len >= 2) {
    g_short_fd.store(fd);
    return (ssize_t)(len / 2);
  }
  errno = fail_errno();
  return -1;
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t len) {
  ssize_t f = write_fault(fd, len, -1);
  if (f < 0) return -1;
  return RESOLVE(write)(fd, buf, f > 0 ? (size_t)f : len);
}

ssize_t pwrite(int fd, const void* buf, size_t len, off_t off) {
  ssize_t f = write_fault(fd, len, off);
  if (f < 0) return -1;
  return RESOLVE(pwrite)(fd, buf, f > 0 ? (size_t)f : len, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t len, off64_t off) {
  ssize_t f = write_fault(fd, len, off);
  if (f < 0) return -1;
  return RESOLVE(pwrite64)(fd, buf, f > 0 ? (size_t)f : len, off);
}

size_t iov_len(const struct iovec* iov, int n) {
  size_t total = 0;
  for (int i = 0; i < n; ++i) total += iov[i].iov_len;
  return total;
}

// The first `keep` bytes of iov, in out (at most 64 entries); returns the count.
int iov_cut(const struct iovec* iov, int n, size_t keep, struct iovec* out) {
  int k = 0;
  for (int i = 0; i < n && k < 64 && keep > 0; ++i, ++k) {
    out[k] = iov[i];
    if (out[k].iov_len > keep) out[k].iov_len = keep;
    keep -= out[k].iov_len;
  }
  return k;
}

ssize_t writev(int fd, const struct iovec* iov, int n) {
  ssize_t f = write_fault(fd, iov_len(iov, n), -1);
  if (f < 0) return -1;
  if (f == 0) return RESOLVE(writev)(fd, iov, n);
  struct iovec cut[64];
  return RESOLVE(writev)(fd, cut, iov_cut(iov, n, (size_t)f, cut));
}

ssize_t pwritev(int fd, const struct iovec* iov, int n, off_t off) {
  ssize_t f = write_fault(fd, iov_len(iov, n), off);
  if (f < 0) return -1;
  if (f == 0) return RESOLVE(pwritev)(fd, iov, n, off);
  struct iovec cut[64];
  return RESOLVE(pwritev)(fd, cut, iov_cut(iov, n, (size_t)f, cut), off);
}

ssize_t pwritev64(int fd, const struct iovec* iov, int n, off64_t off) {
  ssize_t f = write_fault(fd, iov_len(iov, n), off);
  if (f < 0) return -1;
  if (f == 0) return RESOLVE(pwritev64)(fd, iov, n, off);
  struct iovec cut[64];
  return RESOLVE(pwritev64)(fd, cut, iov_cut(iov, n, (size_t)f, cut), off);
}

// An operation that either fails whole or happens.
int fails(enum Op op, int fd) {
  if (!count_fd(op, fd)) return 0;
  errno = fail_errno();
  return 1;
}

// fsync or fdatasync: fails at its step (and loses what it did not sync),
// else records what is now durable.
int sync_call(int fd, fd_fn real_sync) {
  if (!g_dir_len) return real_sync(fd);
  char path[PATH_MAX];
  fd_path(fd, path, sizeof path);
  if (count(kSync, path)) {
    note_failed_sync(path, fd);
    errno = fail_errno();
    return -1;
  }
  int rc = real_sync(fd);
  if (rc == 0 && under_dir(path)) note_synced(path, fd);
  return rc;
}

int fsync(int fd) { return sync_call(fd, RESOLVE(fsync)); }
int fdatasync(int fd) { return sync_call(fd, RESOLVE(fdatasync)); }
int ftruncate(int fd, off_t len) { return fails(kTruncate, fd) ? -1 : RESOLVE(ftruncate)(fd, len); }
int ftruncate64(int fd, off64_t len) { return fails(kTruncate, fd) ? -1 : RESOLVE(ftruncate64)(fd, len); }

// A rename counts when its source is under FAULT_DIR.
int rename_fails(int dirfd, const char* from) {
  if (!g_dir_len) return 0;
  char path[PATH_MAX];
  at_path(dirfd, from, path, sizeof path);
  if (!count(kRename, path)) return 0;
  errno = fail_errno();
  return 1;
}

int rename(const char* from, const char* to) {
  return rename_fails(AT_FDCWD, from) ? -1 : RESOLVE(rename)(from, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  return rename_fails(fromfd, from) ? -1 : RESOLVE(renameat)(fromfd, from, tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  return rename_fails(fromfd, from) ? -1 : RESOLVE(renameat2)(fromfd, from, tofd, to, flags);
}

}  // extern "C"
