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
//   FAULT_KIND    eio | enospc | short | kill. `short` writes the first half
//                 of a write and returns that count, and the next write to
//                 the same file fails with ENOSPC (a disk filling up); on an
//                 operation that is not a write, `short` is ENOSPC. `kill`
//                 sends the process SIGKILL just before operation l (a
//                 crash at that step; what was written stays in the page
//                 cache, as after any killed process).
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
// ftruncate, ftruncate64 ("truncate"), an open that may create a file: open,
// open64, openat, openat64 and their fortified forms with O_CREAT, creat,
// fopen and fopen64 for writing or appending ("create"), mkdir, mkdirat
// ("mkdir"), unlink, unlinkat, rmdir, remove ("unlink"). Calls made inside
// libc itself (stdio flushing through its own write, remove() calling
// unlink) do not go through the PLT; C++ streams do (libstdc++ calls write),
// so the index's stub file is counted. FAULT_OPS (a comma-separated list of
// those names, default all) limits which kinds are counted and failed.
//
// Directory entries are modelled too: see note_entry below.
//
// Threads: the step counter and the pending short-write fd are atomics; the
// rest is set once before main. Reentrancy: the real functions are looked
// up with dlsym(RTLD_NEXT) in the constructor (lazily as a fallback), and
// the library's own output goes through the real write.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
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

enum Op { kWrite, kSync, kRename, kTruncate, kCreate, kMkdir, kUnlink, kOps };
constexpr const char* kOpNames[kOps] = {"write", "sync", "rename", "truncate", "create", "mkdir", "unlink"};
enum Kind { kEio, kEnospc, kShort, kKill };
constexpr const char* kKindNames[] = {"eio", "enospc", "short", "kill"};

char g_dir[PATH_MAX];
size_t g_dir_len;  // 0: inactive
long g_step;
bool g_counted[kOps] = {true, true, true, true, true, true, true};  // FAULT_OPS
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
typedef int (*open_fn)(const char*, int, ...);
typedef int (*openat_fn)(int, const char*, int, ...);
typedef int (*open2_fn)(const char*, int);
typedef int (*openat2_fn)(int, const char*, int);
typedef int (*creat_fn)(const char*, mode_t);
typedef FILE* (*fopen_fn)(const char*, const char*);
typedef int (*mkdir_fn)(const char*, mode_t);
typedef int (*mkdirat_fn)(int, const char*, mode_t);
typedef int (*path_fn)(const char*);
typedef int (*unlinkat_fn)(int, const char*, int);

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
  open_fn open, open64;
  openat_fn openat, openat64;
  open2_fn __open_2, __open64_2;
  openat2_fn __openat_2, __openat64_2;
  creat_fn creat, creat64;
  fopen_fn fopen, fopen64;
  mkdir_fn mkdir;
  mkdirat_fn mkdirat;
  path_fn unlink, rmdir, remove;
  unlinkat_fn unlinkat;
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
  if (kind && strcmp(kind, "kill") == 0) g_kind = kKill;
  if (const char* ops = getenv("FAULT_OPS"); ops && *ops) {
    for (int op = 0; op < kOps; ++op) {
      const char* at = strstr(ops, kOpNames[op]);
      size_t n = strlen(kOpNames[op]);
      g_counted[op] = at && (at == ops || at[-1] == ',') && (at[n] == ',' || at[n] == '\0');
    }
  }
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
  RESOLVE(open);
  RESOLVE(open64);
  RESOLVE(openat);
  RESOLVE(openat64);
  RESOLVE(__open_2);
  RESOLVE(__open64_2);
  RESOLVE(__openat_2);
  RESOLVE(__openat64_2);
  RESOLVE(creat);
  RESOLVE(creat64);
  RESOLVE(fopen);
  RESOLVE(fopen64);
  RESOLVE(mkdir);
  RESOLVE(mkdirat);
  RESOLVE(unlink);
  RESOLVE(rmdir);
  RESOLVE(remove);
  RESOLVE(unlinkat);
}

void lose_unsynced();
void report_unsynced_entries();

__attribute__((destructor)) void fault_fini(void) {
  if (!g_dir_len) return;
  lose_unsynced();
  report_unsynced_entries();
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
  if (!g_counted[op] || !under_dir(path)) return 0;
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
  if (g_kind == kKill) raise(SIGKILL);
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

// Directory entries. A name made in a directory (a file created, a
// directory made, a file renamed into it) survives a power cut only once
// that directory is fsynced. Modelled: the names made in each directory
// since its last successful fsync; when an fsync of that directory fails,
// those that exist then are at risk until a later fsync of it succeeds. At
// exit each name still at risk is reported to FAULT_HIT as
// "unsynced-entry PATH": the program went on past a failed directory fsync
// without making that name durable (the driver requires such a run to
// fail). Nothing is removed: a name at risk may be gone by then (SQLite
// deletes its WAL at close), but what was committed through it was not
// durable while the program relied on it.
struct Entry {
  char path[PATH_MAX];
  bool at_risk;
};
Entry g_entries[512];  // guarded by g_synced_mu
int g_entries_n;

// The directory part of path (without the trailing slash).
void parent_of(const char* path, char* out, size_t size) {
  snprintf(out, size, "%s", path);
  char* slash = strrchr(out, '/');
  if (slash) *slash = '\0';
}

void note_entry(const char* path) {
  if (!under_dir(path)) return;
  std::lock_guard<std::mutex> lock(g_synced_mu);
  for (int i = 0; i < g_entries_n; ++i) {
    if (strcmp(g_entries[i].path, path) == 0) return;
  }
  if (g_entries_n == 512) return;
  snprintf(g_entries[g_entries_n].path, PATH_MAX, "%s", path);
  g_entries[g_entries_n++].at_risk = false;
}

void note_entry_at(int dirfd, const char* name) {
  if (!g_dir_len) return;
  char path[PATH_MAX];
  at_path(dirfd, name, path, sizeof path);
  note_entry(path);
}

// An fsync of directory `dir` succeeded (ok) or failed.
void note_dir_sync(const char* dir, bool ok) {
  std::lock_guard<std::mutex> lock(g_synced_mu);
  char parent[PATH_MAX];
  for (int i = 0; i < g_entries_n;) {
    parent_of(g_entries[i].path, parent, sizeof parent);
    if (strcmp(parent, dir) != 0) {
      ++i;
    } else if (ok) {
      g_entries[i] = g_entries[--g_entries_n];  // durable now
    } else {
      if (access(g_entries[i].path, F_OK) == 0) g_entries[i].at_risk = true;
      ++i;
    }
  }
}

void report_unsynced_entries() {
  for (int i = 0; i < g_entries_n; ++i) {
    if (!g_entries[i].at_risk) continue;
    put(g_hit_fd, "unsynced-entry ");
    put(g_hit_fd, g_entries[i].path);
    put(g_hit_fd, "\n");
  }
}

int is_dir(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
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
    if (is_dir(fd)) note_dir_sync(path, false);
    note_failed_sync(path, fd);
    errno = fail_errno();
    return -1;
  }
  int rc = real_sync(fd);
  if (rc == 0 && under_dir(path)) {
    if (is_dir(fd)) note_dir_sync(path, true);
    note_synced(path, fd);
  }
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

// After a rename that worked: the target's name is a new entry.
int renamed(int rc, int tofd, const char* to) {
  if (rc == 0) note_entry_at(tofd, to);
  return rc;
}

int rename(const char* from, const char* to) {
  return rename_fails(AT_FDCWD, from) ? -1 : renamed(RESOLVE(rename)(from, to), AT_FDCWD, to);
}

int renameat(int fromfd, const char* from, int tofd, const char* to) {
  return rename_fails(fromfd, from) ? -1 : renamed(RESOLVE(renameat)(fromfd, from, tofd, to), tofd, to);
}

int renameat2(int fromfd, const char* from, int tofd, const char* to, unsigned flags) {
  return rename_fails(fromfd, from) ? -1 : renamed(RESOLVE(renameat2)(fromfd, from, tofd, to, flags), tofd, to);
}

// An operation on a name (relative to dirfd) that fails whole or happens:
// counted as `op` when the name is under FAULT_DIR; its path in `path`.
int name_fails(enum Op op, int dirfd, const char* name, char* path) {
  path[0] = '\0';
  if (!g_dir_len) return 0;
  at_path(dirfd, name, path, PATH_MAX);
  if (!count(op, path)) return 0;
  errno = fail_errno();
  return 1;
}

// An open that may create `name`: with O_CREAT it counts ("create") and a
// name it made is a new entry. `call` does the real open.
extern "C++" template <typename Call>
int open_call(int dirfd, const char* name, int flags, Call call) {
  if (!(flags & O_CREAT) || !g_dir_len) return call();
  char path[PATH_MAX];
  if (name_fails(kCreate, dirfd, name, path)) return -1;
  if (!under_dir(path)) return call();
  const bool fresh = access(path, F_OK) != 0;
  int fd = call();
  if (fd >= 0 && fresh) note_entry(path);
  return fd;
}

mode_t mode_arg(int flags, va_list ap) { return __OPEN_NEEDS_MODE(flags) ? va_arg(ap, mode_t) : 0; }

#define OPEN_WRAPPER(name)                                                             \
  int name(const char* path, int flags, ...) {                                         \
    va_list ap;                                                                        \
    va_start(ap, flags);                                                               \
    mode_t mode = mode_arg(flags, ap);                                                 \
    va_end(ap);                                                                        \
    return open_call(AT_FDCWD, path, flags, [&] { return RESOLVE(name)(path, flags, mode); }); \
  }
#define OPENAT_WRAPPER(name)                                                                 \
  int name(int dirfd, const char* path, int flags, ...) {                                    \
    va_list ap;                                                                              \
    va_start(ap, flags);                                                                     \
    mode_t mode = mode_arg(flags, ap);                                                       \
    va_end(ap);                                                                              \
    return open_call(dirfd, path, flags, [&] { return RESOLVE(name)(dirfd, path, flags, mode); }); \
  }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

// The fortified forms (no mode: glibc refuses O_CREAT without one there).
int __open_2(const char* path, int flags) {
  return open_call(AT_FDCWD, path, flags, [&] { return RESOLVE(__open_2)(path, flags); });
}
int __open64_2(const char* path, int flags) {
  return open_call(AT_FDCWD, path, flags, [&] { return RESOLVE(__open64_2)(path, flags); });
}
int __openat_2(int dirfd, const char* path, int flags) {
  return open_call(dirfd, path, flags, [&] { return RESOLVE(__openat_2)(dirfd, path, flags); });
}
int __openat64_2(int dirfd, const char* path, int flags) {
  return open_call(dirfd, path, flags, [&] { return RESOLVE(__openat64_2)(dirfd, path, flags); });
}

int creat(const char* path, mode_t mode) {
  return open_call(AT_FDCWD, path, O_CREAT, [&] { return RESOLVE(creat)(path, mode); });
}
int creat64(const char* path, mode_t mode) {
  return open_call(AT_FDCWD, path, O_CREAT, [&] { return RESOLVE(creat64)(path, mode); });
}

// fopen for writing or appending may create the file.
FILE* fopen_call(const char* path, const char* mode, fopen_fn real_fopen) {
  FILE* f = nullptr;
  int flags = mode[0] == 'w' || mode[0] == 'a' ? O_CREAT : 0;
  int fd = open_call(AT_FDCWD, path, flags, [&] {
    f = real_fopen(path, mode);
    return f ? 0 : -1;
  });
  return fd < 0 ? nullptr : f;
}
FILE* fopen(const char* path, const char* mode) { return fopen_call(path, mode, RESOLVE(fopen)); }
FILE* fopen64(const char* path, const char* mode) { return fopen_call(path, mode, RESOLVE(fopen64)); }

int mkdir(const char* name, mode_t mode) {
  char path[PATH_MAX];
  if (name_fails(kMkdir, AT_FDCWD, name, path)) return -1;
  int rc = RESOLVE(mkdir)(name, mode);
  if (rc == 0) note_entry(path);
  return rc;
}

int mkdirat(int dirfd, const char* name, mode_t mode) {
  char path[PATH_MAX];
  if (name_fails(kMkdir, dirfd, name, path)) return -1;
  int rc = RESOLVE(mkdirat)(dirfd, name, mode);
  if (rc == 0) note_entry(path);
  return rc;
}

int unlink(const char* name) {
  char path[PATH_MAX];
  return name_fails(kUnlink, AT_FDCWD, name, path) ? -1 : RESOLVE(unlink)(name);
}
int rmdir(const char* name) {
  char path[PATH_MAX];
  return name_fails(kUnlink, AT_FDCWD, name, path) ? -1 : RESOLVE(rmdir)(name);
}
int remove(const char* name) {
  char path[PATH_MAX];
  return name_fails(kUnlink, AT_FDCWD, name, path) ? -1 : RESOLVE(remove)(name);
}
int unlinkat(int dirfd, const char* name, int flags) {
  char path[PATH_MAX];
  return name_fails(kUnlink, dirfd, name, path) ? -1 : RESOLVE(unlinkat)(dirfd, name, flags);
}

}  // extern "C"
