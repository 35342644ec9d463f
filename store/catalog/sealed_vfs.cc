#include "store/catalog/sealed_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <string_view>

namespace mailkeep::catalog {
namespace {

constexpr int kPage = kSealedPageSize;
constexpr int kData = kPage - kSealedReserve;  // what SQLite may use of a page
constexpr int kWalHeader = 32;                 // WAL file format
constexpr int kFrameHeader = 24;
constexpr int kFrame = kFrameHeader + kPage;

enum class Kind : uint8_t { kMain = 'd', kWal = 'w' };

thread_local const crypto::Key* t_opening_key = nullptr;

sqlite3_vfs* g_unix = nullptr;  // set once, before the VFS is registered
sqlite3_vfs g_vfs;

// One open file: the unix VFS's file object follows this struct.
struct alignas(8) SealedFile {
  sqlite3_file base;
  Kind kind;
  // Main database: SQLite holds WAL_RECOVER_LOCK (it is recovering the
  // WAL). WAL: the main database's file, which outlives it.
  bool recovering;
  SealedFile* main;
  crypto::Key key;
  uint8_t buf[kFrame];  // sealed bytes on their way to or from the disk
  uint8_t page[kPage];  // a whole page, for reads of part of one

  sqlite3_file* real() { return reinterpret_cast<sqlite3_file*>(this + 1); }
};

SealedFile* Sealed(sqlite3_file* f) { return reinterpret_cast<SealedFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return Sealed(f)->real(); }

std::string_view View(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

// The associated data of a page: which file kind and where in it.
struct Aad {
  uint8_t bytes[9];
  Aad(Kind kind, uint64_t index) {
    bytes[0] = static_cast<uint8_t>(kind);
    for (int i = 0; i < 8; ++i) bytes[1 + i] = static_cast<uint8_t>(index >> (8 * i));
  }
  std::string_view view() const { return View(bytes, sizeof bytes); }
};

bool AllZero(const uint8_t* p, size_t n) {
  return std::all_of(p, p + n, [](uint8_t b) { return b == 0; });
}

// Reads the sealed page at `off` (of this file's kind, numbered `index`)
// and opens it into `out` (kPage bytes; the reserved tail reads as zeros).
// A page wholly past the end of the file reads as zeros, as SQLite expects.
int ReadPage(SealedFile* f, sqlite3_int64 off, uint64_t index, uint8_t* out) {
  sqlite3_file* real = f->real();
  int rc = real->pMethods->xRead(real, f->buf, kPage, off);
  if (rc == SQLITE_IOERR_SHORT_READ && AllZero(f->buf, kPage)) {
    std::memset(out, 0, kPage);
    return rc;
  }
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  if (!crypto::OpenInto(f->key, View(f->buf, kPage), Aad(f->kind, index).view(), out)) return SQLITE_IOERR_DATA;
  std::memset(out + kData, 0, kSealedReserve);
  return SQLITE_OK;
}

// Seals the page `in` (kPage bytes) and writes it at `off`.
int WritePage(SealedFile* f, const uint8_t* in, sqlite3_int64 off, uint64_t index) {
  // The reserved tail is ours: SQLite never writes there (a WAL frame's
  // checksum covers it, so it must read back as it was written: zeros).
  if (!AllZero(in + kData, kSealedReserve)) return SQLITE_IOERR_WRITE;
  if (!crypto::SealInto(f->key, View(in, kData), Aad(f->kind, index).view(), f->buf)) return SQLITE_IOERR_WRITE;
  sqlite3_file* real = f->real();
  return real->pMethods->xWrite(real, f->buf, kPage, off);
}

// The main database: whole pages, and parts of one page (the 100-byte
// header of page 1, read before the page size is known).
int ReadMain(SealedFile* f, uint8_t* out, int n, sqlite3_int64 off) {
  const sqlite3_int64 start = off - off % kPage;
  const uint64_t pgno = static_cast<uint64_t>(start / kPage) + 1;
  if (off == start && n == kPage) return ReadPage(f, off, pgno, out);
  if (n < 0 || off + n > start + kPage) return SQLITE_IOERR_READ;
  int rc = ReadPage(f, start, pgno, f->page);
  if (rc == SQLITE_OK || rc == SQLITE_IOERR_SHORT_READ) std::memcpy(out, f->page + (off - start), n);
  return rc;
}

int WriteMain(SealedFile* f, const uint8_t* in, int n, sqlite3_int64 off) {
  if (off % kPage != 0 || n != kPage) return SQLITE_IOERR_WRITE;
  return WritePage(f, in, off, static_cast<uint64_t>(off / kPage) + 1);
}

// The WAL: its header and frame headers (or parts of them) pass through; a
// frame's page is read alone (walReadFrame, checkpoints) or with its header
// (recovery, rewriting checksums).
int ReadWal(SealedFile* f, uint8_t* out, int n, sqlite3_int64 off) {
  sqlite3_file* real = f->real();
  if (off + n <= kWalHeader) return real->pMethods->xRead(real, out, n, off);
  if (off < kWalHeader) return SQLITE_IOERR_READ;
  const uint64_t frame = static_cast<uint64_t>((off - kWalHeader) / kFrame);
  const sqlite3_int64 within = (off - kWalHeader) % kFrame;
  if (within == kFrameHeader && n == kPage) return ReadPage(f, off, frame, out);
  // (the previous frame's checksum, read when frames are rewritten in place)
  if (within + n <= kFrameHeader) return real->pMethods->xRead(real, out, n, off);
  if (within != 0 || n != kFrame) return SQLITE_IOERR_READ;
  int rc = real->pMethods->xRead(real, out, kFrameHeader, off);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  int page_rc = ReadPage(f, off + kFrameHeader, frame, out + kFrameHeader);
  // Recovery reads whole frames to find where the log ends. A frame whose
  // page fails its tag (torn by a power loss while being written, or
  // changed) ends it, as a frame failing SQLite's checksum does: its page
  // reads as zeros, which the frame's checksum (over the page written) then
  // refuses. So the page is never used, and a crash mid-write still opens.
  // (Whole frames are also read to rewrite checksums in a transaction:
  // there a failing page stays an error.)
  if (page_rc == SQLITE_IOERR_DATA && f->main && f->main->recovering) {
    std::memset(out + kFrameHeader, 0, kPage);
    page_rc = SQLITE_OK;
  }
  return rc == SQLITE_OK ? page_rc : rc;
}

int WriteWal(SealedFile* f, const uint8_t* in, int n, sqlite3_int64 off) {
  sqlite3_file* real = f->real();
  if (off + n <= kWalHeader) return real->pMethods->xWrite(real, in, n, off);
  if (off < kWalHeader) return SQLITE_IOERR_WRITE;
  const uint64_t frame = static_cast<uint64_t>((off - kWalHeader) / kFrame);
  const sqlite3_int64 within = (off - kWalHeader) % kFrame;
  if (within + n <= kFrameHeader) return real->pMethods->xWrite(real, in, n, off);
  if (within == kFrameHeader && n == kPage) return WritePage(f, in, off, frame);
  return SQLITE_IOERR_WRITE;
}

int Close(sqlite3_file* file) {
  SealedFile* f = Sealed(file);
  sqlite3_file* real = f->real();
  int rc = real->pMethods ? real->pMethods->xClose(real) : SQLITE_OK;
  f->~SealedFile();
  return rc;
}

int Read(sqlite3_file* file, void* out, int n, sqlite3_int64 off) {
  SealedFile* f = Sealed(file);
  auto* p = static_cast<uint8_t*>(out);
  return f->kind == Kind::kMain ? ReadMain(f, p, n, off) : ReadWal(f, p, n, off);
}

int Write(sqlite3_file* file, const void* in, int n, sqlite3_int64 off) {
  SealedFile* f = Sealed(file);
  auto* p = static_cast<const uint8_t*>(in);
  return f->kind == Kind::kMain ? WriteMain(f, p, n, off) : WriteWal(f, p, n, off);
}

// Reads and authenticates every page of the main database file. A page a
// checkpoint is writing at that moment may read torn: read once more.
int CheckPages(SealedFile* f, SealedPageCheck* out) {
  sqlite3_file* real = f->real();
  sqlite3_int64 size = 0;
  if (int rc = real->pMethods->xFileSize(real, &size); rc != SQLITE_OK) return rc;
  *out = {};
  for (sqlite3_int64 off = 0; off < size; off += kPage) {
    const uint64_t pgno = static_cast<uint64_t>(off / kPage) + 1;
    int rc = ReadPage(f, off, pgno, f->page);
    if (rc == SQLITE_IOERR_DATA) rc = ReadPage(f, off, pgno, f->page);
    if (rc == SQLITE_IOERR_DATA) {
      if (out->bad++ == 0) out->first_bad = static_cast<int64_t>(pgno);
    } else if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
      return rc;
    }
    ++out->pages;
  }
  return SQLITE_OK;
}

int FileControl(sqlite3_file* file, int op, void* arg) {
  if (op == kSealedFcntlCheckPages) {
    SealedFile* f = Sealed(file);
    return f->kind == Kind::kMain ? CheckPages(f, static_cast<SealedPageCheck*>(arg)) : SQLITE_NOTFOUND;
  }
  if (op == SQLITE_FCNTL_MMAP_SIZE) {  // never mapped: pages are sealed on disk
    *static_cast<sqlite3_int64*>(arg) = 0;
    return SQLITE_OK;
  }
  return Real(file)->pMethods->xFileControl(Real(file), op, arg);
}

int Fetch(sqlite3_file*, sqlite3_int64, int, void** pp) {
  *pp = nullptr;
  return SQLITE_OK;
}
int Unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

// The rest passes through to the unix file.
int Truncate(sqlite3_file* f, sqlite3_int64 size) { return Real(f)->pMethods->xTruncate(Real(f), size); }
int Sync(sqlite3_file* f, int flags) { return Real(f)->pMethods->xSync(Real(f), flags); }
int FileSize(sqlite3_file* f, sqlite3_int64* size) { return Real(f)->pMethods->xFileSize(Real(f), size); }
int Lock(sqlite3_file* f, int level) { return Real(f)->pMethods->xLock(Real(f), level); }
int Unlock(sqlite3_file* f, int level) { return Real(f)->pMethods->xUnlock(Real(f), level); }
int CheckReservedLock(sqlite3_file* f, int* out) { return Real(f)->pMethods->xCheckReservedLock(Real(f), out); }
int SectorSize(sqlite3_file* f) { return Real(f)->pMethods->xSectorSize(Real(f)); }
int DeviceCharacteristics(sqlite3_file* f) { return Real(f)->pMethods->xDeviceCharacteristics(Real(f)); }
int ShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** pp) {
  return Real(f)->pMethods->xShmMap(Real(f), region, size, extend, pp);
}
// Tracks WAL_RECOVER_LOCK (slot 2 of the WAL file format's locks), which
// SQLite holds exclusively while it recovers the WAL.
int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  constexpr int kRecoverLock = 2;
  int rc = Real(f)->pMethods->xShmLock(Real(f), offset, n, flags);
  if (rc == SQLITE_OK && offset <= kRecoverLock && kRecoverLock < offset + n) {
    if (flags & SQLITE_SHM_UNLOCK) Sealed(f)->recovering = false;
    else if (flags & SQLITE_SHM_EXCLUSIVE) Sealed(f)->recovering = true;
  }
  return rc;
}
void ShmBarrier(sqlite3_file* f) { Real(f)->pMethods->xShmBarrier(Real(f)); }
int ShmUnmap(sqlite3_file* f, int del) { return Real(f)->pMethods->xShmUnmap(Real(f), del); }

const sqlite3_io_methods kMethods = {
    3,        Close,    Read,        Write,        Truncate,   Sync,     FileSize, Lock,    Unlock, CheckReservedLock,
    FileControl, SectorSize, DeviceCharacteristics, ShmMap, ShmLock, ShmBarrier, ShmUnmap, Fetch, Unfetch,
};

// Opens the main database (with the key of the SealedOpenScope) or its WAL
// (with the main database's key); refuses every other file.
int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  file->pMethods = nullptr;
  const crypto::Key* key = nullptr;
  Kind kind = Kind::kMain;
  SealedFile* main = nullptr;
  if ((flags & SQLITE_OPEN_MAIN_DB) && name) {
    key = t_opening_key;
  } else if ((flags & SQLITE_OPEN_WAL) && name) {
    sqlite3_file* db = sqlite3_database_file_object(name);
    if (db && db->pMethods == &kMethods) main = Sealed(db);
    if (main) key = &main->key;
    kind = Kind::kWal;
  }
  if (!key) return SQLITE_CANTOPEN;  // journals and temporary files would hold plaintext
  SealedFile* f = new (file) SealedFile{};
  f->kind = kind;
  f->main = main;
  f->key = *key;
  f->real()->pMethods = nullptr;
  int rc = g_unix->xOpen(g_unix, name, f->real(), flags, out_flags);
  if (rc != SQLITE_OK) {
    Close(file);
    file->pMethods = nullptr;
    return rc;
  }
  file->pMethods = &kMethods;
  return SQLITE_OK;
}

void Register() {
  g_unix = sqlite3_vfs_find("unix");
  if (!g_unix) return;
  g_vfs = *g_unix;
  g_vfs.szOsFile = static_cast<int>(sizeof(SealedFile)) + g_unix->szOsFile;
  g_vfs.zName = "mailkeep-sealed";
  g_vfs.pNext = nullptr;
  g_vfs.xOpen = Open;
  if (sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0) != SQLITE_OK) g_unix = nullptr;
}

}  // namespace

const char* SealedVfsName() {
  static std::once_flag once;
  std::call_once(once, Register);
  return g_unix ? g_vfs.zName : nullptr;
}

SealedOpenScope::SealedOpenScope(const crypto::Key& key) : previous_(t_opening_key) { t_opening_key = &key; }
SealedOpenScope::~SealedOpenScope() { t_opening_key = previous_; }

}  // namespace mailkeep::catalog
