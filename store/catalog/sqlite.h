// Thin RAII layer over sqlite3 — the only place outside catalog.cc that
// names sqlite3 types, and it stays inside store/catalog.
//
// Statement binds parameters by position (1-based) and resets itself when a
// Scope ends, so a cached statement is always ready for the next use.
// Thread-safety: a Db and its Statements belong to one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "store/crypto/keys.h"
#include "store/util/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mailkeep::catalog {

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool valid() const { return stmt_ != nullptr; }

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);
  Statement& Bind(int index, const std::optional<int64_t>& value) {
    return value ? Bind(index, *value) : BindNull(index);
  }

  // Steps once: true = a row is available, false = done. Errors carry the
  // SQLite message.
  Result<bool> Step();
  // Steps until done (for INSERT/UPDATE/DELETE).
  Status Run();
  // Clears bindings and rewinds.
  void Reset();

  int64_t ColumnInt(int col) const;
  bool ColumnIsNull(int col) const;
  std::string ColumnText(int col) const;
  std::string ColumnBlob(int col) const;

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class Db {
 public:
  // Opens (creating when `create`) the database file with mode 0600. With
  // `key`, the file is sealed page by page (sealed_vfs.h): a new one gets
  // the sealed page layout, temp_store=MEMORY keeps temporary data off the
  // disk, and a page that fails authentication is kCorruption.
  static Result<std::unique_ptr<Db>> Open(const std::string& path, bool create, bool read_only,
                                          const crypto::Key* key = nullptr);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  Status Exec(const std::string& sql);
  Result<Statement> Prepare(std::string_view sql);
  int64_t LastInsertId() const;
  int Changes() const;
  const std::string& path() const { return path_; }
  bool sealed() const { return sealed_; }
  // A sealed database: how many pages of its file fail authentication
  // (sealed_vfs.h), as "" when none.
  Result<std::string> CheckSealedPages();

 private:
  Db(sqlite3* db, std::string path, bool sealed) : db_(db), path_(std::move(path)), sealed_(sealed) {}
  // Page size, reserved bytes and pragmas of a sealed database.
  Status SetUpSealed(bool read_only);
  sqlite3* db_;
  std::string path_;
  bool sealed_;
};

}  // namespace mailkeep::catalog
