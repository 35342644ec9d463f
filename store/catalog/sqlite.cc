#include "store/catalog/sqlite.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include "store/catalog/sealed_vfs.h"

namespace mailkeep::catalog {

// The start of a statement on one line, for error messages.
static std::string Snippet(std::string_view sql) {
  std::string out;
  for (char c : sql) {
    bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
    if (out.size() >= 60) break;
  }
  return out;
}

static Error SqlError(sqlite3* db, int rc, std::string_view what) {
  if (rc == SQLITE_IOERR_DATA) {
    return Error(ErrorCode::kCorruption, "catalog: " + std::string(what) +
                                             ": a page failed authentication (changed on disk, or not sealed with "
                                             "this archive's key)");
  }
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: code = ErrorCode::kUnavailable; break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: code = ErrorCode::kCorruption; break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY: code = ErrorCode::kIoError; break;
    case SQLITE_CONSTRAINT: code = ErrorCode::kFailedPrecondition; break;
    default: break;
  }
  std::string msg = "catalog: ";
  msg += what;
  msg += ": ";
  msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(code, msg);
}

Statement::~Statement() {
  if (stmt_) sqlite3_finalize(stmt_);
}
Statement::Statement(Statement&& other) noexcept : db_(other.db_), stmt_(other.stmt_) {
  other.stmt_ = nullptr;
}
Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_) sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = other.stmt_;
    other.stmt_ = nullptr;
  }
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, std::string_view text) {
  sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return *this;
}
Statement& Statement::BindBlob(int index, std::string_view bytes) {
  sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error err = SqlError(db_, rc, sqlite3_sql(stmt_) ? Snippet(sqlite3_sql(stmt_)) : "step");
  sqlite3_reset(stmt_);
  return std::unexpected(err);
}

Status Statement::Run() {
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  Reset();
  return OkStatus();
}

void Statement::Reset() {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }
bool Statement::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
std::string Statement::ColumnText(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}
std::string Statement::ColumnBlob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  int n = sqlite3_column_bytes(stmt_, col);
  return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, bool create, bool read_only, const crypto::Key* key) {
  sqlite3* db = nullptr;
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const char* vfs = nullptr;
  if (key && !(vfs = SealedVfsName())) {
    return MakeError(ErrorCode::kInternal, "catalog: cannot register the sealing SQLite VFS");
  }
  mode_t old = ::umask(077);  // the catalog and its -wal/-shm files are 0600
  int rc;
  if (key) {
    SealedOpenScope scope(*key);
    rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  } else {
    rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  }
  ::umask(old);
  if (rc != SQLITE_OK) {
    Error err = SqlError(db, rc, path);
    sqlite3_close(db);
    return std::unexpected(err);
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  // The WAL file stays when the last connection closes (emptied, see
  // Catalog::Open), so its directory entry is made once and kept: SQLite
  // fsyncs the directory after making it but ignores a failure there.
  int persist = 1;
  sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  std::unique_ptr<Db> out(new Db(db, path, key != nullptr));
  if (key) MK_RETURN_IF_ERROR(out->SetUpSealed(read_only));
  return out;
}

// Before anything is written: every page keeps kSealedReserve bytes for
// its nonce and tag (an existing database keeps the layout it was made
// with, and its first page read proves it sealed); temporary tables,
// indexes and statement journals stay in memory; and the database is in
// WAL mode, as the sealed VFS opens no rollback journal. Switching a new
// database to WAL writes its first page in a rollback transaction, so that
// one runs with journal_mode=OFF: an empty file has nothing to roll back.
Status Db::SetUpSealed(bool read_only) {
  int reserve = kSealedReserve;
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
  MK_RETURN_IF_ERROR(Exec("PRAGMA page_size=" + std::to_string(kSealedPageSize)));
  MK_RETURN_IF_ERROR(Exec("PRAGMA temp_store=MEMORY"));
  MK_RETURN_IF_ERROR(Exec("PRAGMA mmap_size=0"));
  if (read_only) return OkStatus();
  MK_ASSIGN_OR_RETURN(auto pages, Prepare("PRAGMA page_count"));
  MK_ASSIGN_OR_RETURN(bool row, pages.Step());
  const bool empty = !row || pages.ColumnInt(0) == 0;
  pages.Reset();
  if (!empty) return OkStatus();  // made here, so in WAL mode already
  MK_RETURN_IF_ERROR(Exec("PRAGMA journal_mode=OFF"));
  return Exec("PRAGMA journal_mode=WAL");
}

Db::~Db() { sqlite3_close_v2(db_); }

Status Db::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    if (rc == SQLITE_IOERR_DATA) return std::unexpected(SqlError(nullptr, rc, Snippet(sql)));
    Error e = SqlError(nullptr, rc, Snippet(sql));
    return MakeError(e.code(), "catalog: " + msg + " (in: " + Snippet(sql) + ")");
  }
  return OkStatus();
}

Result<Statement> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                              &stmt, nullptr);
  if (rc != SQLITE_OK) return std::unexpected(SqlError(db_, rc, Snippet(sql)));
  return Statement(db_, stmt);
}

Result<std::string> Db::CheckSealedPages() {
  SealedPageCheck check;
  int rc = sqlite3_file_control(db_, "main", kSealedFcntlCheckPages, &check);
  if (rc != SQLITE_OK) return std::unexpected(SqlError(nullptr, rc, path_ + ": checking its sealed pages"));
  if (check.bad == 0) return std::string();
  return std::to_string(check.bad) + " of " + std::to_string(check.pages) +
         " pages of the database file fail authentication (changed on disk), the first is page " +
         std::to_string(check.first_bad);
}

int64_t Db::LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
int Db::Changes() const { return sqlite3_changes(db_); }

}  // namespace mailkeep::catalog
