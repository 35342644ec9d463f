// The catalog of an encrypted archive, sealed page by page: a SQLite VFS
// shim over the default "unix" VFS (registered once, never the default).
//
// Every page of the main database file and every page of a WAL frame is
// sealed with the catalog key (AES-256-GCM, crypto::SealInto: a fresh
// random nonce per write) in place: a page of kPageSize bytes on disk is
// nonce (12) || ciphertext (kPageSize - 28) || tag (16). SQLite keeps the
// last 28 bytes of each page free for this (reserved bytes, set before the
// first write) and sees them as zeros. The associated data binds a page to
// its place: the page number in the database file, the frame number in the
// WAL. A page that fails its tag (a changed byte, another key, a plain
// database) is SQLITE_IOERR_DATA, which Db reports as kCorruption; except
// while SQLite recovers the WAL (reading whole frames to find where the log
// ends): there a frame whose page fails its tag ends the log, as a frame
// failing SQLite's own checksum does, so that a frame torn by a power loss
// leaves a catalog that opens. Its page is never used; losing the WAL's
// tail this way is no more than truncating the file would do.
//
// What is not sealed holds no content: the WAL header and frame headers
// (page numbers, salts, checksums) are written as SQLite makes them, and
// the -shm index passes through. Rollback journals, super-journals and
// temporary files are refused (SQLITE_CANTOPEN): a sealed database lives in
// WAL mode with temp_store=MEMORY, so no plaintext page reaches a disk.
// Memory mapping is off (xFetch gives no pointer).
//
// Thread-safety: the VFS is registered once (thread-safe); each file belongs
// to its connection as SQLite requires.
#pragma once

#include <cstdint>

#include "store/crypto/keys.h"

namespace mailkeep::catalog {

// The page size of every sealed database (fixed at creation).
inline constexpr int kSealedPageSize = 4096;
// Bytes SQLite reserves at the end of each page for the nonce and the tag.
inline constexpr int kSealedReserve = static_cast<int>(crypto::kSealOverhead);

// A file control (sqlite3_file_control on "main") of a sealed database:
// authenticates every page of the database file, free pages too (arg:
// SealedPageCheck*, filled in). Not for a plain database (SQLITE_NOTFOUND).
inline constexpr int kSealedFcntlCheckPages = 0x4d4b5001;
struct SealedPageCheck {
  int64_t pages = 0;      // pages read
  int64_t bad = 0;        // pages failing authentication
  int64_t first_bad = 0;  // page number of the first, 0 when none
};

// The name of the sealed VFS, registering it on first use.
const char* SealedVfsName();

// While a scope lives, a main database this thread opens with the sealed
// VFS is sealed with `key` (copied into the file; its WAL takes the key from
// it). Outside a scope the sealed VFS opens nothing.
class SealedOpenScope {
 public:
  explicit SealedOpenScope(const crypto::Key& key);
  ~SealedOpenScope();
  SealedOpenScope(const SealedOpenScope&) = delete;
  SealedOpenScope& operator=(const SealedOpenScope&) = delete;

 private:
  const crypto::Key* previous_;
};

}  // namespace mailkeep::catalog
