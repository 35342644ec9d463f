#include "store/catalog/catalog.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <string_view>

#include "store/catalog/sqlite.h"
#include "store/util/files.h"

namespace mailkeep::catalog {
namespace {

// Forward-only migrations: kMigrations[i] takes user_version i to i + 1.
const char* const kMigrations[] = {
    // 0 → 1: the initial schema.
    R"sql(
CREATE TABLE blobs(
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL UNIQUE,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  stored_len INTEGER NOT NULL,
  raw_len INTEGER NOT NULL,
  dict INTEGER NOT NULL DEFAULT 0);
CREATE TABLE messages(
  id INTEGER PRIMARY KEY REFERENCES blobs(id),
  message_id TEXT,
  subject TEXT,
  date INTEGER,
  thread INTEGER,
  has_attachments INTEGER NOT NULL DEFAULT 0,
  defects INTEGER NOT NULL DEFAULT 0,
  added_at INTEGER NOT NULL);
CREATE INDEX messages_by_message_id ON messages(message_id);
CREATE INDEX messages_by_thread ON messages(thread);
CREATE TABLE thread_ids(
  message_id TEXT PRIMARY KEY,
  thread INTEGER NOT NULL) WITHOUT ROWID;  -- ghosts only: ids referenced, never archived
CREATE INDEX thread_ids_by_thread ON thread_ids(thread);
CREATE TABLE index_queue(
  message INTEGER PRIMARY KEY);
CREATE TABLE addresses(
  id INTEGER PRIMARY KEY,
  address TEXT NOT NULL,
  name TEXT NOT NULL,
  UNIQUE(address, name));
CREATE TABLE message_addresses(
  message INTEGER NOT NULL REFERENCES messages(id),
  role INTEGER NOT NULL,
  position INTEGER NOT NULL,
  address INTEGER NOT NULL REFERENCES addresses(id),
  PRIMARY KEY(message, role, position)) WITHOUT ROWID;
CREATE TABLE parts(
  message INTEGER NOT NULL REFERENCES messages(id),
  path TEXT NOT NULL,
  content_type TEXT NOT NULL,
  charset TEXT,
  disposition TEXT,
  filename TEXT,
  size INTEGER NOT NULL,
  PRIMARY KEY(message, path)) WITHOUT ROWID;
CREATE TABLE accounts(
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE);
CREATE TABLE folders(
  id INTEGER PRIMARY KEY,
  account INTEGER NOT NULL REFERENCES accounts(id),
  source TEXT NOT NULL,
  name TEXT NOT NULL,
  uidvalidity INTEGER,
  uidnext INTEGER,
  highestmodseq INTEGER,
  gone_at INTEGER,
  UNIQUE(account, source, name));
CREATE TABLE locations(
  message INTEGER NOT NULL REFERENCES messages(id),
  folder INTEGER NOT NULL REFERENCES folders(id),
  uidvalidity INTEGER NOT NULL DEFAULT 0,
  key TEXT NOT NULL,
  flags TEXT NOT NULL DEFAULT '',
  internal_date INTEGER,
  seen_at INTEGER NOT NULL,
  deleted_at INTEGER,
  PRIMARY KEY(folder, uidvalidity, key)) WITHOUT ROWID;
CREATE INDEX locations_by_message ON locations(message);
CREATE TABLE packs(
  id INTEGER PRIMARY KEY,
  committed_len INTEGER NOT NULL);
CREATE TABLE dictionaries(
  id INTEGER PRIMARY KEY,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  bytes BLOB NOT NULL);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY,
  started INTEGER NOT NULL,
  finished INTEGER,
  account TEXT NOT NULL,
  fetched INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0);
)sql",
    // 1 → 2: a smaller catalog (its size counts against the store ratio).
    // - blobs loses its UNIQUE(sha256) index (32-byte keys); lookups go
    //   through an index on the first 6 bytes, then compare the full hash.
    //   The table is rebuilt (SQLite cannot drop a constraint in place).
    // - messages_by_message_id (whole Message-IDs as keys) becomes an index
    //   on a 23-bit hash of the Message-ID (messages.mid_hash).
    // - message_addresses (8 rows per list message) and parts fold into
    //   packed columns of messages (address_list, part_list); nothing looks
    //   messages up by address or part in SQL (the full-text index does).
    // - dictionaries keeps only where each dictionary record is: the packs
    //   hold the bytes (one copy; see store/PACK_FORMAT.md).
    // The packed columns and hashes of existing rows are filled in by C++
    // (FillV2) between this script and kMigration2Finish.
    R"sql(
CREATE TABLE blobs_v2(
  id INTEGER PRIMARY KEY,
  sha256 BLOB NOT NULL,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  stored_len INTEGER NOT NULL,
  raw_len INTEGER NOT NULL,
  dict INTEGER NOT NULL DEFAULT 0);
INSERT INTO blobs_v2(id, sha256, pack, offset, stored_len, raw_len, dict)
  SELECT id, sha256, pack, offset, stored_len, raw_len, dict FROM blobs ORDER BY id;
DROP TABLE blobs;
ALTER TABLE blobs_v2 RENAME TO blobs;
CREATE INDEX blobs_by_sha_prefix ON blobs(substr(sha256, 1, 6));
ALTER TABLE messages ADD COLUMN mid_hash INTEGER;
ALTER TABLE messages ADD COLUMN address_list BLOB;
ALTER TABLE messages ADD COLUMN part_list BLOB;
DROP INDEX messages_by_message_id;
CREATE TABLE dictionaries_v2(
  id INTEGER PRIMARY KEY,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  stored_len INTEGER NOT NULL,
  raw_len INTEGER NOT NULL);
INSERT INTO dictionaries_v2(id, pack, offset, stored_len, raw_len)
  SELECT id, pack, offset, length(bytes), length(bytes) FROM dictionaries ORDER BY id;
DROP TABLE dictionaries;
ALTER TABLE dictionaries_v2 RENAME TO dictionaries;
)sql",
    // 2 → 3: what `resend` sent, one row per attempt and recipient, so an
    // interrupted resend can skip the pairs already delivered.
    R"sql(
CREATE TABLE sends(
  id INTEGER PRIMARY KEY,
  message INTEGER NOT NULL REFERENCES messages(id),
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  route TEXT NOT NULL,
  attempted_at INTEGER NOT NULL,
  outcome INTEGER NOT NULL,
  reply TEXT NOT NULL);
CREATE INDEX sends_by_message ON sends(message, recipient);
)sql",
    // 3 → 4: one journal of intents for every irreversible step (an SMTP
    // end of data, an IMAP APPEND, an index commit), recorded before it and
    // resolved after it. The sends log moves into it (an "unknown" send
    // becomes an unresolved intent), and migrate's old intents — locations
    // keyed "pending-<id>" with uidvalidity 0 in an IMAP folder — become
    // unresolved append intents for that account and folder.
    R"sql(
CREATE TABLE intents(
  id INTEGER PRIMARY KEY,
  kind INTEGER NOT NULL,
  message INTEGER NOT NULL REFERENCES messages(id),
  target TEXT NOT NULL,
  via TEXT NOT NULL,
  sender TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  resolved_at INTEGER,
  outcome INTEGER,
  reply TEXT NOT NULL DEFAULT '');
CREATE INDEX intents_by_message ON intents(message, kind);
CREATE INDEX intents_unresolved ON intents(kind, message) WHERE outcome IS NULL;
INSERT INTO intents(kind, message, target, via, sender, created_at, resolved_at, outcome, reply)
  SELECT 1, message, recipient, route, sender, attempted_at,
         CASE outcome WHEN 3 THEN NULL ELSE attempted_at END,
         CASE outcome WHEN 3 THEN NULL ELSE outcome END, reply
  FROM sends ORDER BY id;
DROP TABLE sends;
INSERT INTO intents(kind, message, target, via, created_at)
  SELECT 2, l.message, a.name, f.name, l.seen_at
  FROM locations l JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account
  WHERE f.source = 'imap' AND l.uidvalidity = 0 AND l.key = 'pending-' || l.message AND l.deleted_at IS NULL
  ORDER BY l.seen_at, l.message;
DELETE FROM locations WHERE uidvalidity = 0 AND key = 'pending-' || message
  AND folder IN (SELECT id FROM folders WHERE source = 'imap');
)sql",
    // 4 → 5: places that vanished from the server without mailkeep deleting
    // them (expunged by another client, left under an old UIDVALIDITY, or
    // holding another message now) get gone_at; the message stays archived.
    // Each place keeps the size the server listed there (listed_size), so
    // that a listing can be compared with it exactly.
    R"sql(
ALTER TABLE locations ADD COLUMN gone_at INTEGER;
ALTER TABLE locations ADD COLUMN listed_size INTEGER;
)sql",
    // 5 → 6: removal for real (`delete`, `prune`), legal holds and the
    // audit trail. An audit event is one command run (who, where, when,
    // which command and query); its audit_messages name each message it
    // removed, held or released by Message-ID, SHA-256, date and size, so
    // the trail outlives the messages (no reference to messages).
    R"sql(
CREATE TABLE audit_events(
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  user TEXT NOT NULL,
  host TEXT NOT NULL,
  command TEXT NOT NULL,
  query TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '');
CREATE TABLE audit_messages(
  event INTEGER NOT NULL REFERENCES audit_events(id),
  action INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  date INTEGER,
  size INTEGER NOT NULL);
CREATE INDEX audit_messages_by_event ON audit_messages(event);
CREATE TABLE holds(
  message INTEGER PRIMARY KEY REFERENCES messages(id),
  event INTEGER NOT NULL REFERENCES audit_events(id));
)sql",
    // 6 → 7: removal that lasts.
    // - Message ids are never handed out again: blobs (whose id is the
    //   message id) is rebuilt with AUTOINCREMENT, its counter starting
    //   above every id still referred to (threads and ghosts are numbered
    //   by message ids; the index queue names removed ids for the index to
    //   drop). Without it, removing the newest message let the next one
    //   take its id.
    // - removed_places: where on a server each removed message was found
    //   (the places its locations named, those mailkeep deleted there left
    //   out), so that sync does not fetch it again. The listing facts
    //   (sizes, INTERNALDATE) are kept to tell a reused UID or UIDL holding
    //   another message; gone_at as for locations.
    R"sql(
CREATE TABLE blobs_v7(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sha256 BLOB NOT NULL,
  pack INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  stored_len INTEGER NOT NULL,
  raw_len INTEGER NOT NULL,
  dict INTEGER NOT NULL DEFAULT 0);
INSERT INTO blobs_v7(id, sha256, pack, offset, stored_len, raw_len, dict)
  SELECT id, sha256, pack, offset, stored_len, raw_len, dict FROM blobs ORDER BY id;
DROP TABLE blobs;
ALTER TABLE blobs_v7 RENAME TO blobs;
CREATE INDEX blobs_by_sha_prefix ON blobs(substr(sha256, 1, 6));
DELETE FROM sqlite_sequence WHERE name IN ('blobs', 'blobs_v7');
INSERT INTO sqlite_sequence(name, seq) SELECT 'blobs', max(
  (SELECT coalesce(max(id), 0) FROM blobs),
  (SELECT coalesce(max(thread), 0) FROM messages),
  (SELECT coalesce(max(thread), 0) FROM thread_ids),
  (SELECT coalesce(max(message), 0) FROM index_queue));
CREATE TABLE removed_places(
  folder INTEGER NOT NULL REFERENCES folders(id),
  uidvalidity INTEGER NOT NULL,
  key TEXT NOT NULL,
  sha256 BLOB NOT NULL,
  size INTEGER NOT NULL,
  listed_size INTEGER,
  internal_date INTEGER,
  seen_at INTEGER NOT NULL,
  removed_at INTEGER NOT NULL,
  gone_at INTEGER,
  PRIMARY KEY(folder, uidvalidity, key, sha256)) WITHOUT ROWID;
)sql",
};
constexpr int kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
static_assert(kMigrationCount == kSchemaVersion);

// Runs after FillV2 in the 1 → 2 transaction.
constexpr char kMigration2Finish[] = R"sql(
CREATE INDEX messages_by_mid_hash ON messages(mid_hash);
DROP TABLE message_addresses;
DROP TABLE parts;
)sql";

// ---- Packed columns ---------------------------------------------------------
// Unsigned LEB128 varints; strings as varint length + bytes.

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool GetVarint(std::string_view& in, uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// address_list: one varint per address, (addresses.id << 3) | role, in
// role order and, within a role, in header order.
std::string PackAddressList(const std::vector<std::pair<int, int64_t>>& role_and_id) {
  std::string out;
  for (const auto& [role, id] : role_and_id) PutVarint(out, (static_cast<uint64_t>(id) << 3) | static_cast<uint64_t>(role));
  return out;
}

// Values so common in part_list that they are stored as a one-byte token:
// a string is varint(2 * index + 1) for kCommon[index], else
// varint(2 * length) + bytes. Append only: stored lists refer to indexes.
constexpr std::string_view kCommon[] = {
    "",           "1",         "2",          "3",          "1.1",       "1.2",
    "text/plain", "text/html", "multipart/mixed", "multipart/alternative", "multipart/signed",
    "multipart/related", "application/pgp-signature", "application/octet-stream", "message/rfc822",
    "text/x-patch", "text/x-diff", "us-ascii",   "utf-8",      "iso-8859-1", "iso-8859-15", "inline",
    "attachment"};

void PutToken(std::string& out, std::string_view s) {
  for (size_t i = 0; i < std::size(kCommon); ++i) {
    if (kCommon[i] == s) return PutVarint(out, 2 * i + 1);
  }
  PutVarint(out, 2 * s.size());
  out.append(s);
}

bool GetToken(std::string_view& in, std::string& s) {
  uint64_t v = 0;
  if (!GetVarint(in, v)) return false;
  if (v & 1) {
    if (v / 2 >= std::size(kCommon)) return false;
    s.assign(kCommon[v / 2]);
    return true;
  }
  if (v / 2 > in.size()) return false;
  s.assign(in.substr(0, static_cast<size_t>(v / 2)));
  in.remove_prefix(static_cast<size_t>(v / 2));
  return true;
}

// part_list: per part path, content_type, charset, disposition, filename
// (tokens, above) and size (varint), sorted by path (what the v1 parts
// table's primary key returned); a repeated path keeps its first part.
std::string PackPartList(std::vector<PartRow> parts) {
  std::stable_sort(parts.begin(), parts.end(), [](const PartRow& a, const PartRow& b) { return a.path < b.path; });
  std::string out;
  const std::string* last = nullptr;
  for (const auto& p : parts) {
    if (last && *last == p.path) continue;
    last = &p.path;
    PutToken(out, p.path);
    PutToken(out, p.content_type);
    PutToken(out, p.charset);
    PutToken(out, p.disposition);
    PutToken(out, p.filename);
    PutVarint(out, p.size);
  }
  return out;
}

bool UnpackPartList(std::string_view in, std::vector<PartRow>& parts) {
  while (!in.empty()) {
    PartRow p;
    if (!GetToken(in, p.path) || !GetToken(in, p.content_type) || !GetToken(in, p.charset) ||
        !GetToken(in, p.disposition) || !GetToken(in, p.filename) || !GetVarint(in, p.size)) {
      return false;
    }
    parts.push_back(std::move(p));
  }
  return true;
}

std::string_view DigestView(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// What blobs_by_sha_prefix indexes: substr(sha256, 1, 6). Six bytes keep
// index entries small and make a false match (then settled by comparing the
// whole hash) rare even with hundreds of millions of messages.
std::string_view DigestPrefix(const Sha256Digest& d) { return DigestView(d).substr(0, 6); }

// 23 bits of FNV-1a over the Message-ID: fits SQLite's 3-byte integers, so
// the index stays small; lookups compare the whole Message-ID as well (a
// shared hash costs one extra row read).
int64_t MidHash(std::string_view mid) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : mid) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return static_cast<int64_t>((h ^ (h >> 32)) & 0x7fffff);
}

}  // namespace

struct Catalog::Cache {
  Statement find_thread, delete_ghost, move_thread_messages, move_thread_ids, queue_thread,
      upsert_thread_id, set_thread, queue_index;
  Statement find_location, update_flags;
  Statement get_message, get_locations;  // per GetInfo: the indexer calls it for every message
  Statement find_sha, insert_blob, insert_message, find_address, insert_address, get_address,
      insert_location, find_folder, insert_folder, find_account, insert_account;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> folders;
  // addresses rows by id (name, address): rows never change once
  // committed; forgotten on rollback like folders.
  std::unordered_map<int64_t, std::pair<std::string, std::string>> addresses;
};

Catalog::Catalog(std::unique_ptr<Db> db) : db_(std::move(db)), cache_(std::make_unique<Cache>()) {}
Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path, bool create, bool read_only, bool migrate,
                                               const crypto::Key* key) {
  MK_ASSIGN_OR_RETURN(auto db, Db::Open(path, create, read_only, key));
  std::unique_ptr<Catalog> cat(new Catalog(std::move(db)));
  if (!read_only) {
    MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA journal_mode=WAL"));
    MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA synchronous=FULL"));
    // A persistent WAL is emptied (truncated to 0) at the last close, and
    // kept at most this large after a checkpoint.
    MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA journal_size_limit=67108864"));
    if (migrate) MK_RETURN_IF_ERROR(cat->SyncWalEntry());
  }
  MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA foreign_keys=ON"));
  // A 16 MiB page cache per connection (the hot pages: the sha256 and
  // message-id indexes' upper levels, the tails being appended); the rest
  // comes from the OS page cache. It was 64 MiB, which a catalog fills
  // once it is larger (linux-mips at 10 x: 110 MB) and which was most of
  // why an import's peak RSS grew with the archive.
  MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA cache_size=-16384"));
  if (read_only || !migrate) {
    MK_ASSIGN_OR_RETURN(auto st, cat->db_->Prepare("PRAGMA user_version"));
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    int64_t version = row ? st.ColumnInt(0) : 0;
    if (version != kSchemaVersion) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       path + ": catalog schema version " + std::to_string(version) + ", this mailkeep reads " +
                           std::to_string(kSchemaVersion) + "; run a writing command (e.g. import) with a matching mailkeep");
    }
  } else {
    MK_RETURN_IF_ERROR(cat->Migrate());
  }
  return cat;
}

Result<int64_t> Catalog::ReadSchemaVersion(const std::string& path, const crypto::Key* key) {
  // Read-write like the archive's readers (a WAL database needs its -shm),
  // but nothing is written: no pragma that changes the file runs here.
  MK_ASSIGN_OR_RETURN(auto db, Db::Open(path, /*create=*/false, /*read_only=*/false, key));
  MK_ASSIGN_OR_RETURN(auto st, db->Prepare("PRAGMA user_version"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : int64_t{0};
}

// The writer's commits go to path-wal: before the first one, that file
// exists and the directory holding it is fsynced, checked. (SQLite does
// fsync the directory after creating the WAL but ignores a failure, and a
// WAL made by an older mailkeep or by a reader was never checked.) One
// fsync of a directory per writable open.
Status Catalog::SyncWalEntry() {
  const std::string wal = db_->path() + "-wal";
  if (::access(wal.c_str(), F_OK) != 0) {
    // A reading statement opens the WAL (making the file) in WAL mode.
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM sqlite_master"));
    MK_RETURN_IF_ERROR(st.Run());
  }
  if (::access(wal.c_str(), F_OK) != 0) {
    return MakeError(ErrorCode::kIoError, wal + ": the catalog's write-ahead log was not created: " + ErrnoText(errno));
  }
  const std::string dir = std::filesystem::path(db_->path()).parent_path().string();
  if (auto st = SyncDir(dir.empty() ? "." : dir); !st) {
    return MakeError(ErrorCode::kIoError, "catalog: cannot make its write-ahead log durable: " + st.error().message());
  }
  return OkStatus();
}

Status Catalog::Migrate() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("PRAGMA user_version"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  int64_t version = row ? st.ColumnInt(0) : 0;
  st.Reset();
  if (version > kSchemaVersion) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     db_->path() + ": catalog schema version " + std::to_string(version) +
                         " is newer than this mailkeep understands (" + std::to_string(kSchemaVersion) +
                         "); upgrade mailkeep");
  }
  if (version == kSchemaVersion) return OkStatus();
  // Rebuilding a table that others reference (blobs in 1 → 2) needs foreign
  // keys off, SQLite's documented way; they are checked before each commit.
  // The pragma is a no-op inside a transaction, so it is set around them.
  MK_RETURN_IF_ERROR(db_->Exec("PRAGMA foreign_keys=OFF"));
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    auto s = db_->Exec("BEGIN IMMEDIATE");
    if (s) s = db_->Exec(kMigrations[v]);
    if (s && v == 1) s = FillV2();
    if (s && v == 1) s = db_->Exec(kMigration2Finish);
    if (s) s = CheckForeignKeys();
    if (s) s = db_->Exec("PRAGMA user_version=" + std::to_string(v + 1));
    if (s) s = db_->Exec("COMMIT");
    if (!s) {
      (void)db_->Exec("ROLLBACK");
      (void)db_->Exec("PRAGMA foreign_keys=ON");
      return s;
    }
  }
  return db_->Exec("PRAGMA foreign_keys=ON");
}

Status Catalog::CheckForeignKeys() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("PRAGMA foreign_key_check"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  if (row) {
    return MakeError(ErrorCode::kCorruption, db_->path() + ": migration left a dangling reference in table " +
                                                 st.ColumnText(0) + "; the catalog was not changed");
  }
  return OkStatus();
}

// Fills the v2 columns of rows migrated from v1 (inside the migration's
// transaction, before message_addresses and parts are dropped).
Status Catalog::FillV2() {
  std::vector<std::pair<int64_t, std::string>> rows;
  {
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, message_id FROM messages ORDER BY id"));
    for (;;) {
      MK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      rows.emplace_back(st.ColumnInt(0), st.ColumnText(1));
    }
  }
  MK_ASSIGN_OR_RETURN(auto ad, db_->Prepare(
      "SELECT role, address FROM message_addresses WHERE message = ? ORDER BY role, position"));
  MK_ASSIGN_OR_RETURN(auto pt, db_->Prepare(
      "SELECT path, content_type, charset, disposition, filename, size FROM parts WHERE message = ? ORDER BY path"));
  MK_ASSIGN_OR_RETURN(auto up, db_->Prepare(
      "UPDATE messages SET mid_hash = ?, address_list = ?, part_list = ? WHERE id = ?"));
  for (const auto& [id, mid] : rows) {
    std::vector<std::pair<int, int64_t>> addrs;
    ad.Bind(1, id);
    for (;;) {
      MK_ASSIGN_OR_RETURN(bool row, ad.Step());
      if (!row) break;
      addrs.emplace_back(static_cast<int>(ad.ColumnInt(0)), ad.ColumnInt(1));
    }
    ad.Reset();
    std::vector<PartRow> parts;
    pt.Bind(1, id);
    for (;;) {
      MK_ASSIGN_OR_RETURN(bool row, pt.Step());
      if (!row) break;
      parts.push_back({pt.ColumnText(0), pt.ColumnText(1), pt.ColumnText(2), pt.ColumnText(3), pt.ColumnText(4),
                       static_cast<uint64_t>(pt.ColumnInt(5))});
    }
    pt.Reset();
    up.Bind(1, MidHash(mid));
    std::string a = PackAddressList(addrs), p = PackPartList(std::move(parts));
    if (a.empty()) up.BindNull(2); else up.BindBlob(2, a);
    if (p.empty()) up.BindNull(3); else up.BindBlob(3, p);
    up.Bind(4, id);
    MK_RETURN_IF_ERROR(up.Run());
  }
  return OkStatus();
}

Status Catalog::Begin() { return db_->Exec("BEGIN IMMEDIATE"); }
Status Catalog::BeginRead() { return db_->Exec("BEGIN DEFERRED"); }
Status Catalog::Commit() { return db_->Exec("COMMIT"); }
Status Catalog::Checkpoint() { return db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
void Catalog::Rollback() {
  (void)db_->Exec("ROLLBACK");
  // ids created in the rolled-back transaction are gone
  cache_->folders.clear();
  cache_->addresses.clear();
}

// Returns the cached statement in `slot`, preparing it on first use. The
// statement is reset on return, ready for binding.
static Result<Statement*> Cached(Db& db, Statement& slot, std::string_view sql) {
  if (!slot.valid()) {
    MK_ASSIGN_OR_RETURN(slot, db.Prepare(sql));
  } else {
    slot.Reset();
  }
  return &slot;
}

Result<std::optional<int64_t>> Catalog::FindBySha(const Sha256Digest& sha) {
  MK_ASSIGN_OR_RETURN(Statement * st, Cached(*db_, cache_->find_sha,
                                                    "SELECT id FROM blobs WHERE substr(sha256, 1, 6) = ? AND sha256 = ?"));
  st->BindBlob(1, DigestPrefix(sha)).BindBlob(2, DigestView(sha));
  MK_ASSIGN_OR_RETURN(bool row, st->Step());
  std::optional<int64_t> id;
  if (row) id = st->ColumnInt(0);
  st->Reset();
  return id;
}

Result<int64_t> Catalog::AddressId(const std::string& address, const std::string& name) {
  MK_ASSIGN_OR_RETURN(Statement * find,
                      Cached(*db_, cache_->find_address, "SELECT id FROM addresses WHERE address = ? AND name = ?"));
  find->Bind(1, address).Bind(2, name);
  MK_ASSIGN_OR_RETURN(bool row, find->Step());
  if (row) {
    int64_t id = find->ColumnInt(0);
    find->Reset();
    return id;
  }
  find->Reset();
  MK_ASSIGN_OR_RETURN(Statement * ins,
                      Cached(*db_, cache_->insert_address, "INSERT INTO addresses(address, name) VALUES(?, ?)"));
  ins->Bind(1, address).Bind(2, name);
  MK_RETURN_IF_ERROR(ins->Run());
  return db_->LastInsertId();
}

Result<int64_t> Catalog::InsertMessage(const MessageRow& row) {
  MK_ASSIGN_OR_RETURN(Statement * blob,
                      Cached(*db_, cache_->insert_blob,
                             "INSERT INTO blobs(id, sha256, pack, offset, stored_len, raw_len, dict) "
                             "VALUES(?, ?, ?, ?, ?, ?, ?)"));
  if (row.id > 0) {
    blob->Bind(1, row.id);
  } else {
    blob->BindNull(1);
  }
  blob->BindBlob(2, DigestView(row.blob.sha256))
      .Bind(3, static_cast<int64_t>(row.blob.pack))
      .Bind(4, static_cast<int64_t>(row.blob.offset))
      .Bind(5, static_cast<int64_t>(row.blob.stored_len))
      .Bind(6, static_cast<int64_t>(row.blob.raw_len))
      .Bind(7, static_cast<int64_t>(row.blob.dict));
  MK_RETURN_IF_ERROR(blob->Run());
  int64_t id = db_->LastInsertId();

  // Addresses in role order, header order within a role (stable sort).
  std::vector<std::pair<int, int64_t>> addrs;
  for (const auto& a : row.addresses) {
    MK_ASSIGN_OR_RETURN(int64_t addr, AddressId(a.address, a.name));
    addrs.emplace_back(static_cast<int>(a.role), addr);
  }
  std::stable_sort(addrs.begin(), addrs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const std::string address_list = PackAddressList(addrs);
  const std::string part_list = PackPartList(row.parts);

  MK_ASSIGN_OR_RETURN(Statement * msg,
                      Cached(*db_, cache_->insert_message,
                             "INSERT INTO messages(id, message_id, subject, date, has_attachments, defects, added_at, "
                             "mid_hash, address_list, part_list) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  msg->Bind(1, id).Bind(2, row.message_id).Bind(3, row.subject).Bind(4, row.date);
  msg->Bind(5, int64_t{row.has_attachments}).Bind(6, int64_t{row.defects}).Bind(7, row.added_at);
  msg->Bind(8, MidHash(row.message_id));
  if (address_list.empty()) msg->BindNull(9); else msg->BindBlob(9, address_list);
  if (part_list.empty()) msg->BindNull(10); else msg->BindBlob(10, part_list);
  MK_RETURN_IF_ERROR(msg->Run());
  return id;
}

Result<int64_t> Catalog::FolderId(const Origin& origin) {
  auto cache_key = std::make_tuple(origin.account, origin.source, origin.folder);
  if (auto it = cache_->folders.find(cache_key); it != cache_->folders.end()) return it->second;

  MK_ASSIGN_OR_RETURN(Statement * fa, Cached(*db_, cache_->find_account, "SELECT id FROM accounts WHERE name = ?"));
  fa->Bind(1, origin.account);
  MK_ASSIGN_OR_RETURN(bool have_account, fa->Step());
  int64_t account = have_account ? fa->ColumnInt(0) : 0;
  fa->Reset();
  if (!have_account) {
    MK_ASSIGN_OR_RETURN(Statement * ia, Cached(*db_, cache_->insert_account, "INSERT INTO accounts(name) VALUES(?)"));
    ia->Bind(1, origin.account);
    MK_RETURN_IF_ERROR(ia->Run());
    account = db_->LastInsertId();
  }
  MK_ASSIGN_OR_RETURN(Statement * ff, Cached(*db_, cache_->find_folder,
                                             "SELECT id FROM folders WHERE account = ? AND source = ? AND name = ?"));
  ff->Bind(1, account).Bind(2, origin.source).Bind(3, origin.folder);
  MK_ASSIGN_OR_RETURN(bool have_folder, ff->Step());
  int64_t folder = have_folder ? ff->ColumnInt(0) : 0;
  ff->Reset();
  if (!have_folder) {
    MK_ASSIGN_OR_RETURN(Statement * inf, Cached(*db_, cache_->insert_folder,
                                                "INSERT INTO folders(account, source, name) VALUES(?, ?, ?)"));
    inf->Bind(1, account).Bind(2, origin.source).Bind(3, origin.folder);
    MK_RETURN_IF_ERROR(inf->Run());
    folder = db_->LastInsertId();
  }
  cache_->folders.emplace(cache_key, folder);
  return folder;
}

Result<LocationChange> Catalog::AddLocation(int64_t message, const Origin& origin, int64_t now) {
  MK_ASSIGN_OR_RETURN(int64_t folder, FolderId(origin));
  std::string key = origin.key;
  for (int attempt = 0; attempt < 2; ++attempt) {
    MK_ASSIGN_OR_RETURN(Statement * st,
                        Cached(*db_, cache_->insert_location,
                               "INSERT OR IGNORE INTO locations(message, folder, uidvalidity, key, flags, "
                               "internal_date, seen_at, listed_size) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
    const std::optional<int64_t> listed_size =
        origin.listed_size ? std::optional<int64_t>(static_cast<int64_t>(origin.listed_size)) : std::nullopt;
    st->Bind(1, message).Bind(2, folder).Bind(3, static_cast<int64_t>(origin.uidvalidity)).Bind(4, key);
    st->Bind(5, origin.flags).Bind(6, origin.internal_date).Bind(7, now).Bind(8, listed_size);
    MK_RETURN_IF_ERROR(st->Run());
    if (db_->Changes() > 0) return LocationChange::kAdded;
    // The place is taken: by this message (seen again; its flags may have
    // changed) or by another one (an mbox rewritten so that a new message
    // sits at an old offset). The other message's record is history and
    // stays; this one gets the key made unique by its id.
    MK_ASSIGN_OR_RETURN(Statement * find,
                        Cached(*db_, cache_->find_location,
                               "SELECT message, flags, gone_at, listed_size FROM locations WHERE folder = ? AND uidvalidity = ? "
                               "AND key = ?"));
    find->Bind(1, folder).Bind(2, static_cast<int64_t>(origin.uidvalidity)).Bind(3, key);
    MK_ASSIGN_OR_RETURN(bool row, find->Step());
    int64_t holder = row ? find->ColumnInt(0) : 0;
    std::string flags = row ? find->ColumnText(1) : std::string();
    const bool gone = row && !find->ColumnIsNull(2);
    const bool resized = row && listed_size && find->ColumnInt(3) != *listed_size;
    find->Reset();
    if (holder == message) {
      // Seen there again: its flags (and the size listed) are the server's
      // now, and a place marked gone is back.
      if (flags == origin.flags && !gone && !resized) return LocationChange::kUnchanged;
      MK_ASSIGN_OR_RETURN(Statement * up,
                          Cached(*db_, cache_->update_flags,
                                 "UPDATE locations SET flags = ?, gone_at = NULL, "
                                 "listed_size = coalesce(?, listed_size) "
                                 "WHERE folder = ? AND uidvalidity = ? AND key = ?"));
      up->Bind(1, origin.flags).Bind(2, listed_size).Bind(3, folder).Bind(4, static_cast<int64_t>(origin.uidvalidity));
      up->Bind(5, key);
      MK_RETURN_IF_ERROR(up->Run());
      return LocationChange::kFlagsChanged;
    }
    key = origin.key + "#" + std::to_string(message);
  }
  return LocationChange::kUnchanged;  // the disambiguated key is already recorded for this message
}

// Every row's first column, as integers (ids).
static Result<std::vector<int64_t>> FirstColumn(Statement& st) {
  std::vector<int64_t> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back(st.ColumnInt(0));
  }
  return out;
}

Result<int64_t> Catalog::AssignThread(int64_t message, const std::string& message_id,
                                      const std::vector<std::string>& links) {
  // Every Message-ID this message carries or mentions, its own first.
  std::vector<std::string> ids;
  if (!message_id.empty()) ids.push_back(message_id);
  for (const auto& l : links) {
    if (!l.empty() && std::find(ids.begin(), ids.end(), l) == ids.end()) ids.push_back(l);
  }
  // The thread of each: an archived message's, else a ghost's (a Message-ID
  // only ever referenced). `known[i]` says whether ids[i] is archived.
  std::vector<int64_t> threads;
  std::vector<bool> known(ids.size(), false);
  for (size_t i = 0; i < ids.size(); ++i) {
    MK_ASSIGN_OR_RETURN(Statement * st,
                        Cached(*db_, cache_->find_thread,
                               "SELECT coalesce(thread, id), 1 FROM messages WHERE mid_hash = ?3 AND message_id = ?1 "
                               "AND id != ?2 UNION ALL SELECT thread, 0 FROM thread_ids WHERE message_id = ?1 LIMIT 1"));
    st->Bind(1, ids[i]).Bind(2, message).Bind(3, MidHash(ids[i]));
    MK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (row) {
      int64_t t = st->ColumnInt(0);
      known[i] = st->ColumnInt(1) != 0;
      if (std::find(threads.begin(), threads.end(), t) == threads.end()) threads.push_back(t);
    }
    st->Reset();
  }
  int64_t thread = message;
  for (int64_t t : threads) thread = std::min(thread, t);
  for (int64_t t : threads) {
    if (t == thread) continue;
    // Merge thread t into `thread`: its messages change thread, so their
    // index documents must be rewritten.
    MK_ASSIGN_OR_RETURN(Statement * q, Cached(*db_, cache_->queue_thread,
                                              "INSERT OR IGNORE INTO index_queue(message) "
                                              "SELECT id FROM messages WHERE thread = ?"));
    q->Bind(1, t);
    MK_RETURN_IF_ERROR(q->Run());
    MK_ASSIGN_OR_RETURN(Statement * mm, Cached(*db_, cache_->move_thread_messages,
                                               "UPDATE messages SET thread = ? WHERE thread = ?"));
    mm->Bind(1, thread).Bind(2, t);
    MK_RETURN_IF_ERROR(mm->Run());
    MK_ASSIGN_OR_RETURN(Statement * mi, Cached(*db_, cache_->move_thread_ids,
                                               "UPDATE thread_ids SET thread = ? WHERE thread = ?"));
    mi->Bind(1, thread).Bind(2, t);
    MK_RETURN_IF_ERROR(mi->Run());
  }
  // Ghosts: referenced Message-IDs not (yet) archived keep the thread, so
  // replies to a missing parent still meet. This message's own id is no
  // ghost any more.
  if (!message_id.empty()) {
    MK_ASSIGN_OR_RETURN(Statement * del, Cached(*db_, cache_->delete_ghost,
                                                "DELETE FROM thread_ids WHERE message_id = ?"));
    del->Bind(1, message_id);
    MK_RETURN_IF_ERROR(del->Run());
  }
  for (size_t i = message_id.empty() ? 0 : 1; i < ids.size(); ++i) {
    if (known[i]) continue;
    MK_ASSIGN_OR_RETURN(Statement * up, Cached(*db_, cache_->upsert_thread_id,
                                               "INSERT INTO thread_ids(message_id, thread) VALUES(?, ?) "
                                               "ON CONFLICT(message_id) DO UPDATE SET thread = excluded.thread"));
    up->Bind(1, ids[i]).Bind(2, thread);
    MK_RETURN_IF_ERROR(up->Run());
  }
  MK_ASSIGN_OR_RETURN(Statement * set, Cached(*db_, cache_->set_thread, "UPDATE messages SET thread = ? WHERE id = ?"));
  set->Bind(1, thread).Bind(2, message);
  MK_RETURN_IF_ERROR(set->Run());
  return thread;
}

Result<std::vector<int64_t>> Catalog::ThreadMessages(int64_t thread) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM messages WHERE thread = ? ORDER BY date, id"));
  st.Bind(1, thread);
  return FirstColumn(st);
}

Status Catalog::QueueForIndex(int64_t message) {
  MK_ASSIGN_OR_RETURN(Statement * st, Cached(*db_, cache_->queue_index,
                                             "INSERT OR IGNORE INTO index_queue(message) VALUES(?)"));
  st->Bind(1, message);
  return st->Run();
}

Status Catalog::QueueAllForIndex() { return db_->Exec("INSERT OR IGNORE INTO index_queue(message) SELECT id FROM messages"); }

Result<std::vector<int64_t>> Catalog::PendingIndex(size_t limit) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT message FROM index_queue ORDER BY message LIMIT ?"));
  st.Bind(1, static_cast<int64_t>(limit));
  return FirstColumn(st);
}

Result<int64_t> Catalog::PendingIndexCount() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM index_queue"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Status Catalog::DequeueIndexed(const std::vector<int64_t>& ids) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM index_queue WHERE message = ?"));
  for (int64_t id : ids) {
    st.Bind(1, id);
    MK_RETURN_IF_ERROR(st.Run());
  }
  return OkStatus();
}

Result<std::pair<uint32_t, uint64_t>> Catalog::CommittedPackEnd() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, committed_len FROM packs ORDER BY id DESC LIMIT 1"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::make_pair(uint32_t{0}, uint64_t{0});
  return std::make_pair(static_cast<uint32_t>(st.ColumnInt(0)), static_cast<uint64_t>(st.ColumnInt(1)));
}

Result<std::vector<std::pair<uint32_t, uint64_t>>> Catalog::PackEnds() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, committed_len FROM packs ORDER BY id"));
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.emplace_back(static_cast<uint32_t>(st.ColumnInt(0)), static_cast<uint64_t>(st.ColumnInt(1)));
  }
  return out;
}

Result<std::vector<std::pair<uint32_t, uint64_t>>> Catalog::ReferencedPackEnds(uint64_t header_size) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT pack, max(e) FROM (SELECT pack, offset + ?1 + stored_len AS e FROM blobs "
      "UNION ALL SELECT pack, offset + ?1 + stored_len FROM dictionaries) GROUP BY pack"));
  st.Bind(1, static_cast<int64_t>(header_size));
  std::vector<std::pair<uint32_t, uint64_t>> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.emplace_back(static_cast<uint32_t>(st.ColumnInt(0)), static_cast<uint64_t>(st.ColumnInt(1)));
  }
  return out;
}

Status Catalog::SetPackCommitted(uint32_t pack, uint64_t len) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT INTO packs(id, committed_len) VALUES(?, ?) "
                                            "ON CONFLICT(id) DO UPDATE SET committed_len = excluded.committed_len"));
  st.Bind(1, int64_t{pack}).Bind(2, static_cast<int64_t>(len));
  return st.Run();
}

Status Catalog::AddDictionary(const DictionaryRow& dict) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO dictionaries(id, pack, offset, stored_len, raw_len) VALUES(?, ?, ?, ?, ?)"));
  st.Bind(1, int64_t{dict.id}).Bind(2, int64_t{dict.pack}).Bind(3, static_cast<int64_t>(dict.offset));
  st.Bind(4, int64_t{dict.stored_len}).Bind(5, static_cast<int64_t>(dict.raw_len));
  return st.Run();
}

Status Catalog::MoveBlob(int64_t id, uint32_t pack, uint64_t offset, uint32_t stored_len, uint32_t dict) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE blobs SET pack = ?, offset = ?, stored_len = ?, dict = ? WHERE id = ?"));
  st.Bind(1, int64_t{pack}).Bind(2, static_cast<int64_t>(offset)).Bind(3, int64_t{stored_len});
  st.Bind(4, int64_t{dict}).Bind(5, id);
  MK_RETURN_IF_ERROR(st.Run());
  if (db_->Changes() != 1) return MakeError(ErrorCode::kNotFound, "no blob with id " + std::to_string(id));
  return OkStatus();
}

Status Catalog::MoveDictionary(uint32_t id, uint32_t pack, uint64_t offset) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("UPDATE dictionaries SET pack = ?, offset = ? WHERE id = ?"));
  st.Bind(1, int64_t{pack}).Bind(2, static_cast<int64_t>(offset)).Bind(3, int64_t{id});
  MK_RETURN_IF_ERROR(st.Run());
  if (db_->Changes() != 1) return MakeError(ErrorCode::kNotFound, "no dictionary " + std::to_string(id));
  return OkStatus();
}

Status Catalog::RemoveDictionary(uint32_t id) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM dictionaries WHERE id = ?"));
  st.Bind(1, int64_t{id});
  return st.Run();
}

Status Catalog::RemovePack(uint32_t pack) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM packs WHERE id = ?"));
  st.Bind(1, int64_t{pack});
  return st.Run();
}

Status Catalog::Compact() {
  MK_RETURN_IF_ERROR(db_->Exec("VACUUM"));
  return Checkpoint();
}

Result<int64_t> Catalog::FreePages() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("PRAGMA freelist_count"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Result<std::vector<DictionaryRow>> Catalog::Dictionaries() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT id, pack, offset, stored_len, raw_len FROM dictionaries ORDER BY id"));
  std::vector<DictionaryRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DictionaryRow d;
    d.id = static_cast<uint32_t>(st.ColumnInt(0));
    d.pack = static_cast<uint32_t>(st.ColumnInt(1));
    d.offset = static_cast<uint64_t>(st.ColumnInt(2));
    d.stored_len = static_cast<uint32_t>(st.ColumnInt(3));
    d.raw_len = static_cast<uint64_t>(st.ColumnInt(4));
    out.push_back(std::move(d));
  }
  return out;
}

static void ReadBlobColumns(const Statement& st, int first, BlobRow& b) {
  std::string sha = st.ColumnBlob(first);
  if (sha.size() == b.sha256.size()) std::copy(sha.begin(), sha.end(), b.sha256.begin());
  b.pack = static_cast<uint32_t>(st.ColumnInt(first + 1));
  b.offset = static_cast<uint64_t>(st.ColumnInt(first + 2));
  b.stored_len = static_cast<uint32_t>(st.ColumnInt(first + 3));
  b.raw_len = static_cast<uint64_t>(st.ColumnInt(first + 4));
  b.dict = static_cast<uint32_t>(st.ColumnInt(first + 5));
}

Result<std::optional<MessageRow>> Catalog::GetMessage(int64_t id) {
  MK_ASSIGN_OR_RETURN(Statement * stp, Cached(*db_, cache_->get_message,
      "SELECT m.id, b.sha256, b.pack, b.offset, b.stored_len, b.raw_len, b.dict, m.message_id, m.subject, m.date, "
      "m.has_attachments, m.defects, m.added_at, coalesce(m.thread, m.id), m.address_list, m.part_list "
      "FROM messages m JOIN blobs b ON b.id = m.id WHERE m.id = ?"));
  Statement& st = *stp;
  st.Bind(1, id);
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) {
    st.Reset();
    return std::optional<MessageRow>();
  }
  MessageRow m;
  m.id = st.ColumnInt(0);
  ReadBlobColumns(st, 1, m.blob);
  m.message_id = st.ColumnText(7);
  m.subject = st.ColumnText(8);
  if (!st.ColumnIsNull(9)) m.date = st.ColumnInt(9);
  m.has_attachments = st.ColumnInt(10) != 0;
  m.defects = static_cast<uint32_t>(st.ColumnInt(11));
  m.added_at = st.ColumnInt(12);
  m.thread = st.ColumnInt(13);

  const std::string address_list = st.ColumnBlob(14);
  const std::string part_list = st.ColumnBlob(15);
  st.Reset();
  std::string_view in = address_list;
  while (!in.empty()) {
    uint64_t v = 0;
    if (!GetVarint(in, v)) return MakeError(ErrorCode::kCorruption, "message " + std::to_string(id) + ": bad address list");
    const int64_t addr = static_cast<int64_t>(v >> 3);
    auto it = cache_->addresses.find(addr);
    if (it == cache_->addresses.end()) {
      MK_ASSIGN_OR_RETURN(Statement * ga, Cached(*db_, cache_->get_address, "SELECT name, address FROM addresses WHERE id = ?"));
      ga->Bind(1, addr);
      MK_ASSIGN_OR_RETURN(bool r, ga->Step());
      if (!r) {
        return MakeError(ErrorCode::kCorruption,
                         "message " + std::to_string(id) + ": address " + std::to_string(addr) + " is missing");
      }
      it = cache_->addresses.emplace(addr, std::make_pair(ga->ColumnText(0), ga->ColumnText(1))).first;
      ga->Reset();
    }
    m.addresses.push_back({static_cast<AddressRole>(v & 7), it->second.first, it->second.second});
  }
  if (!UnpackPartList(part_list, m.parts)) {
    return MakeError(ErrorCode::kCorruption, "message " + std::to_string(id) + ": bad part list");
  }
  return std::optional<MessageRow>(std::move(m));
}

Result<std::vector<int64_t>> Catalog::FindByMessageId(const std::string& message_id) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM messages WHERE mid_hash = ? AND message_id = ? ORDER BY id"));
  st.Bind(1, MidHash(message_id)).Bind(2, message_id);
  return FirstColumn(st);
}

Result<std::vector<int64_t>> Catalog::AllIds() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM messages ORDER BY id"));
  return FirstColumn(st);
}

Result<std::vector<BlobRow>> Catalog::AllBlobs(std::vector<int64_t>* ids) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT id, sha256, pack, offset, stored_len, raw_len, dict FROM blobs ORDER BY pack, offset"));
  std::vector<BlobRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    BlobRow b;
    ReadBlobColumns(st, 1, b);
    if (ids) ids->push_back(st.ColumnInt(0));
    out.push_back(b);
  }
  return out;
}

Result<std::vector<BlobRow>> Catalog::RecentBlobs(uint32_t dict, size_t limit) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT sha256, pack, offset, stored_len, raw_len, dict FROM blobs WHERE dict = ? ORDER BY id DESC LIMIT ?"));
  st.Bind(1, int64_t{dict}).Bind(2, static_cast<int64_t>(limit));
  std::vector<BlobRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    BlobRow b;
    ReadBlobColumns(st, 0, b);
    out.push_back(b);
  }
  return out;
}

Result<std::vector<LocationRow>> Catalog::GetLocations(int64_t id) {
  MK_ASSIGN_OR_RETURN(Statement * stp, Cached(*db_, cache_->get_locations,
      "SELECT f.source, a.name, f.name, l.key, l.uidvalidity, l.flags, l.internal_date, l.seen_at, l.deleted_at, "
      "l.gone_at "
      "FROM locations l JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account "
      "WHERE l.message = ? ORDER BY l.seen_at, f.name, l.key"));
  Statement& st = *stp;
  st.Bind(1, id);
  std::vector<LocationRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    LocationRow l;
    l.source = st.ColumnText(0);
    l.account = st.ColumnText(1);
    l.folder = st.ColumnText(2);
    l.key = st.ColumnText(3);
    l.uidvalidity = static_cast<uint64_t>(st.ColumnInt(4));
    l.flags = st.ColumnText(5);
    if (!st.ColumnIsNull(6)) l.internal_date = st.ColumnInt(6);
    l.seen_at = st.ColumnInt(7);
    if (!st.ColumnIsNull(8)) l.deleted_at = st.ColumnInt(8);
    if (!st.ColumnIsNull(9)) l.gone_at = st.ColumnInt(9);
    out.push_back(std::move(l));
  }
  st.Reset();
  return out;
}

Result<int64_t> Catalog::CountMessages() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM messages"));
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Result<int64_t> Catalog::CountBlobsWithDict(uint32_t dict) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM blobs WHERE dict = ?"));
  st.Bind(1, int64_t{dict});
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  return row ? st.ColumnInt(0) : 0;
}

Result<CatalogStats> Catalog::Stats() {
  CatalogStats s;
  {
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*), coalesce(sum(raw_len),0), coalesce(sum(stored_len),0) FROM blobs"));
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) {
      s.messages = st.ColumnInt(0);
      s.raw_bytes = static_cast<uint64_t>(st.ColumnInt(1));
      s.stored_bytes = static_cast<uint64_t>(st.ColumnInt(2));
    }
  }
  {
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM locations"));
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) s.locations = st.ColumnInt(0);
  }
  {
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT count(*) FROM dictionaries"));
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) s.dictionaries = st.ColumnInt(0);
  }
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT f.source, a.name, count(*), count(DISTINCT l.message) FROM locations l "
      "JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account "
      "GROUP BY f.source, a.name ORDER BY f.source, a.name"));
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    s.per_source.push_back({st.ColumnText(0), st.ColumnText(1), st.ColumnInt(2), st.ColumnInt(3)});
  }
  return s;
}

// quick_check reads every page in use (in the database file or the WAL),
// which for a sealed catalog checks every tag met; the file's free pages
// are then checked too. A page failing its tag stops quick_check: that is
// a finding, not an error of the check.
Result<std::string> Catalog::CheckIntegrity() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("PRAGMA quick_check"));
  std::string out;
  auto add = [&out](const std::string& line) { out += (out.empty() ? "" : "; ") + line; };
  for (;;) {
    auto row = st.Step();
    if (!row && row.error().code() == ErrorCode::kCorruption) {
      add(row.error().message());
      break;
    }
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    std::string line = st.ColumnText(0);
    if (line != "ok") add(line);
  }
  if (db_->sealed()) {
    MK_ASSIGN_OR_RETURN(std::string pages, db_->CheckSealedPages());
    if (!pages.empty()) add(pages);
  }
  return out;
}

}  // namespace mailkeep::catalog

namespace mailkeep::catalog {

namespace {

// The columns a place has in `locations` and in `removed_places` alike,
// which both readers below select first, in this order: key, uidvalidity,
// seen_at, size, internal_date, gone_at, listed_size.
FolderLocationRow PlaceFrom(Statement& st) {
  FolderLocationRow l;
  l.key = st.ColumnText(0);
  l.uidvalidity = static_cast<uint64_t>(st.ColumnInt(1));
  l.seen_at = st.ColumnInt(2);
  l.size = static_cast<uint64_t>(st.ColumnInt(3));
  if (!st.ColumnIsNull(4)) l.internal_date = st.ColumnInt(4);
  if (!st.ColumnIsNull(5)) l.gone_at = st.ColumnInt(5);
  if (!st.ColumnIsNull(6)) l.listed_size = static_cast<uint64_t>(st.ColumnInt(6));
  return l;
}

}  // namespace

Result<std::vector<FolderLocationRow>> Catalog::FolderLocations(const std::string& source, const std::string& account,
                                                               const std::string& folder) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT l.key, l.uidvalidity, l.seen_at, b.raw_len, l.internal_date, l.gone_at, l.listed_size, "
      "l.message, l.deleted_at, l.flags "
      "FROM locations l JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account "
      "LEFT JOIN blobs b ON b.id = l.message "
      "WHERE a.name = ? AND f.source = ? AND f.name = ?"));
  st.Bind(1, account).Bind(2, source).Bind(3, folder);
  std::vector<FolderLocationRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FolderLocationRow l = PlaceFrom(st);
    l.message = st.ColumnInt(7);
    if (!st.ColumnIsNull(8)) l.deleted_at = st.ColumnInt(8);
    l.flags = st.ColumnText(9);
    out.push_back(std::move(l));
  }
  return out;
}

Result<std::vector<FolderLocationRow>> Catalog::RemovedPlaces(const std::string& source, const std::string& account,
                                                             const std::string& folder) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT r.key, r.uidvalidity, r.seen_at, r.size, r.internal_date, r.gone_at, r.listed_size, r.removed_at "
      "FROM removed_places r JOIN folders f ON f.id = r.folder JOIN accounts a ON a.id = f.account "
      "WHERE a.name = ? AND f.source = ? AND f.name = ?"));
  st.Bind(1, account).Bind(2, source).Bind(3, folder);
  std::vector<FolderLocationRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FolderLocationRow l = PlaceFrom(st);
    l.removed_at = st.ColumnInt(7);
    out.push_back(std::move(l));
  }
  return out;
}

Result<int64_t> Catalog::MarkRemovedPlacesGone(const std::string& source, const std::string& account,
                                               const std::string& folder,
                                               const std::vector<std::pair<uint64_t, std::string>>& places,
                                               int64_t when) {
  if (places.empty()) return 0;
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = folder;
  MK_RETURN_IF_ERROR(Begin());
  int64_t marked = 0;
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(int64_t folder_id, FolderId(origin));
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE removed_places SET gone_at = ? WHERE folder = ? AND uidvalidity = ? AND key = ? AND gone_at IS NULL"));
    for (const auto& [uidvalidity, key] : places) {
      st.Bind(1, when).Bind(2, folder_id).Bind(3, static_cast<int64_t>(uidvalidity)).Bind(4, key);
      MK_RETURN_IF_ERROR(st.Run());
      marked += db_->Changes();
    }
    return OkStatus();
  }();
  if (!done) {
    Rollback();
    return std::unexpected(done.error());
  }
  MK_RETURN_IF_ERROR(Commit());
  return marked;
}

Result<int64_t> Catalog::MarkLocationsGone(const std::string& source, const std::string& account,
                                           const std::string& folder,
                                           const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when) {
  if (places.empty()) return 0;
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = folder;
  MK_RETURN_IF_ERROR(Begin());
  int64_t marked = 0;
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(int64_t folder_id, FolderId(origin));
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE locations SET gone_at = ? WHERE folder = ? AND uidvalidity = ? AND key = ? "
        "AND deleted_at IS NULL AND gone_at IS NULL RETURNING message"));
    for (const auto& [uidvalidity, key] : places) {
      st.Bind(1, when).Bind(2, folder_id).Bind(3, static_cast<int64_t>(uidvalidity)).Bind(4, key);
      MK_ASSIGN_OR_RETURN(bool row, st.Step());
      const int64_t message = row ? st.ColumnInt(0) : 0;
      st.Reset();
      if (!row) continue;
      MK_RETURN_IF_ERROR(QueueForIndex(message));
      ++marked;
    }
    return OkStatus();
  }();
  if (!done) {
    Rollback();
    return std::unexpected(done.error());
  }
  MK_RETURN_IF_ERROR(Commit());
  return marked;
}

Result<int64_t> Catalog::MoveLocations(const std::string& source, const std::string& account,
                                       const std::string& folder, uint64_t from, uint64_t to,
                                       const std::vector<std::string>& keys) {
  if (keys.empty() || from == to) return 0;
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = folder;
  MK_RETURN_IF_ERROR(Begin());
  int64_t moved = 0;
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(int64_t folder_id, FolderId(origin));
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE OR IGNORE locations SET uidvalidity = ? WHERE folder = ? AND uidvalidity = ? AND key = ?"));
    // A removed place moves with the folder too (it is not counted).
    MK_ASSIGN_OR_RETURN(auto removed, db_->Prepare(
        "UPDATE OR IGNORE removed_places SET uidvalidity = ? WHERE folder = ? AND uidvalidity = ? AND key = ?"));
    for (const auto& key : keys) {
      st.Bind(1, static_cast<int64_t>(to)).Bind(2, folder_id).Bind(3, static_cast<int64_t>(from)).Bind(4, key);
      MK_RETURN_IF_ERROR(st.Run());
      moved += db_->Changes();
      removed.Bind(1, static_cast<int64_t>(to)).Bind(2, folder_id).Bind(3, static_cast<int64_t>(from)).Bind(4, key);
      MK_RETURN_IF_ERROR(removed.Run());
    }
    return OkStatus();
  }();
  if (!done) {
    Rollback();
    return std::unexpected(done.error());
  }
  MK_RETURN_IF_ERROR(Commit());
  return moved;
}

Status Catalog::MarkLocationsDeleted(const std::string& source, const std::string& account, const std::string& folder,
                                     uint64_t uidvalidity, const std::vector<std::pair<std::string, int64_t>>& keys,
                                     int64_t when) {
  if (keys.empty()) return OkStatus();
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = folder;
  MK_RETURN_IF_ERROR(Begin());
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(int64_t folder_id, FolderId(origin));
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE locations SET deleted_at = ? WHERE folder = ? AND uidvalidity = ? AND message = ? "
        "AND key IN (?, ?) AND deleted_at IS NULL"));
    for (const auto& [key, message] : keys) {
      // The message's place is KEY, or KEY#ID when KEY was taken (AddLocation).
      st.Bind(1, when).Bind(2, folder_id).Bind(3, static_cast<int64_t>(uidvalidity)).Bind(4, message);
      st.Bind(5, key).Bind(6, key + "#" + std::to_string(message));
      MK_RETURN_IF_ERROR(st.Run());
    }
    return OkStatus();
  }();
  if (!done) {
    Rollback();
    return done;
  }
  return Commit();
}

Status Catalog::AddRun(const RunRow& run) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO runs(started, finished, account, fetched, bytes, deleted, errors) VALUES(?, ?, ?, ?, ?, ?, ?)"));
  st.Bind(1, run.started).Bind(2, run.finished).Bind(3, run.account).Bind(4, run.fetched);
  st.Bind(5, static_cast<int64_t>(run.bytes)).Bind(6, run.deleted).Bind(7, run.errors);
  return st.Run();
}

Status Catalog::AddIntents(std::vector<IntentRow>& rows) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO intents(kind, message, target, via, sender, created_at, resolved_at, outcome, reply) "
      "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  for (IntentRow& r : rows) {
    st.Bind(1, int64_t{r.kind}).Bind(2, r.message).Bind(3, r.target).Bind(4, r.via).Bind(5, r.sender);
    st.Bind(6, r.created_at).Bind(7, r.resolved_at);
    st.Bind(8, r.outcome ? std::optional<int64_t>(*r.outcome) : std::nullopt).Bind(9, r.reply);
    MK_RETURN_IF_ERROR(st.Run());
    st.Reset();
    r.id = db_->LastInsertId();
  }
  return OkStatus();
}

Status Catalog::ResolveIntent(const IntentRow& row) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE intents SET resolved_at = ?, outcome = ?, reply = ? WHERE id = ?"));
  st.Bind(1, row.outcome ? row.resolved_at : std::nullopt);
  st.Bind(2, row.outcome ? std::optional<int64_t>(*row.outcome) : std::nullopt).Bind(3, row.reply).Bind(4, row.id);
  MK_RETURN_IF_ERROR(st.Run());
  if (db_->Changes() == 0) return MakeError(ErrorCode::kNotFound, "no intent " + std::to_string(row.id));
  return OkStatus();
}

Status Catalog::RemoveIntents(const std::vector<int64_t>& ids) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("DELETE FROM intents WHERE id = ?"));
  for (int64_t id : ids) {
    st.Bind(1, id);
    MK_RETURN_IF_ERROR(st.Run());
    st.Reset();
  }
  return OkStatus();
}

Result<std::vector<IntentRow>> Catalog::Intents(int kind, std::optional<int64_t> message, bool unresolved_only) {
  // Separate texts, so that each uses its index (intents_by_message,
  // intents_unresolved) rather than scanning the table.
  std::string sql = "SELECT id, kind, message, target, via, sender, created_at, resolved_at, outcome, reply FROM intents "
                    "WHERE kind = ?";
  if (message) sql += " AND message = ?";
  if (unresolved_only) sql += " AND outcome IS NULL";
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(sql + " ORDER BY id"));
  st.Bind(1, int64_t{kind});
  if (message) st.Bind(2, *message);
  std::vector<IntentRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    IntentRow r;
    r.id = st.ColumnInt(0);
    r.kind = static_cast<int>(st.ColumnInt(1));
    r.message = st.ColumnInt(2);
    r.target = st.ColumnText(3);
    r.via = st.ColumnText(4);
    r.sender = st.ColumnText(5);
    r.created_at = st.ColumnInt(6);
    if (!st.ColumnIsNull(7)) r.resolved_at = st.ColumnInt(7);
    if (!st.ColumnIsNull(8)) r.outcome = static_cast<int>(st.ColumnInt(8));
    r.reply = st.ColumnText(9);
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<FolderStateRow>> Catalog::FolderStates(const std::string& source, const std::string& account) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT f.name, f.uidvalidity, f.uidnext, f.highestmodseq, f.gone_at "
      "FROM folders f JOIN accounts a ON a.id = f.account WHERE a.name = ? AND f.source = ? ORDER BY f.name"));
  st.Bind(1, account).Bind(2, source);
  std::vector<FolderStateRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FolderStateRow f;
    f.name = st.ColumnText(0);
    f.uidvalidity = static_cast<uint64_t>(st.ColumnInt(1));
    f.uidnext = static_cast<uint64_t>(st.ColumnInt(2));
    f.highestmodseq = static_cast<uint64_t>(st.ColumnInt(3));
    if (!st.ColumnIsNull(4)) f.gone_at = st.ColumnInt(4);
    out.push_back(std::move(f));
  }
  return out;
}

Status Catalog::SetFolderState(const std::string& source, const std::string& account, const FolderStateRow& state) {
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = state.name;
  MK_ASSIGN_OR_RETURN(int64_t folder, FolderId(origin));
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE folders SET uidvalidity = ?, uidnext = ?, highestmodseq = ?, gone_at = NULL WHERE id = ?"));
  st.Bind(1, static_cast<int64_t>(state.uidvalidity)).Bind(2, static_cast<int64_t>(state.uidnext));
  st.Bind(3, static_cast<int64_t>(state.highestmodseq)).Bind(4, folder);
  return st.Run();
}

Status Catalog::MarkFolderGone(const std::string& source, const std::string& account, const std::string& folder,
                               int64_t when) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "UPDATE folders SET gone_at = ? WHERE gone_at IS NULL AND source = ? AND name = ? "
      "AND account = (SELECT id FROM accounts WHERE name = ?)"));
  st.Bind(1, when).Bind(2, source).Bind(3, folder).Bind(4, account);
  return st.Run();
}

Result<int64_t> Catalog::UpdateFlags(const std::vector<Origin>& places) {
  if (places.empty()) return 0;
  MK_RETURN_IF_ERROR(Begin());
  int64_t changed = 0;
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(auto find, db_->Prepare(
        "SELECT l.message, l.flags, l.folder FROM locations l JOIN folders f ON f.id = l.folder "
        "JOIN accounts a ON a.id = f.account "
        "WHERE a.name = ? AND f.source = ? AND f.name = ? AND l.uidvalidity = ? AND l.key = ?"));
    MK_ASSIGN_OR_RETURN(auto up, db_->Prepare(
        "UPDATE locations SET flags = ? WHERE folder = ? AND uidvalidity = ? AND key = ?"));
    for (const Origin& o : places) {
      find.Bind(1, o.account).Bind(2, o.source).Bind(3, o.folder).Bind(4, static_cast<int64_t>(o.uidvalidity));
      find.Bind(5, o.key);
      MK_ASSIGN_OR_RETURN(bool row, find.Step());
      if (!row || find.ColumnText(1) == o.flags) {
        find.Reset();
        continue;
      }
      const int64_t message = find.ColumnInt(0), folder_id = find.ColumnInt(2);
      find.Reset();
      up.Bind(1, o.flags).Bind(2, folder_id).Bind(3, static_cast<int64_t>(o.uidvalidity)).Bind(4, o.key);
      MK_RETURN_IF_ERROR(up.Run());
      MK_RETURN_IF_ERROR(QueueForIndex(message));
      ++changed;
    }
    return OkStatus();
  }();
  if (!done) {
    Rollback();
    return std::unexpected(done.error());
  }
  MK_RETURN_IF_ERROR(Commit());
  return changed;
}

}  // namespace mailkeep::catalog

namespace mailkeep::catalog {

// ---- Removal, holds and audit (version 6) ------------------------------------

namespace {

// Runs one statement with `id` bound to ?1.
Status RunWithId(Db& db, std::string_view sql, int64_t id) {
  MK_ASSIGN_OR_RETURN(auto st, db.Prepare(sql));
  st.Bind(1, id);
  return st.Run();
}

bool DecodeAddressIds(std::string_view in, std::vector<int64_t>& out) {
  while (!in.empty()) {
    uint64_t v = 0;
    if (!GetVarint(in, v)) return false;
    out.push_back(static_cast<int64_t>(v >> 3));
  }
  return true;
}

AuditEventRow ReadEvent(const Statement& st, int first) {
  return {st.ColumnInt(first), st.ColumnInt(first + 1), st.ColumnText(first + 2), st.ColumnText(first + 3),
          st.ColumnText(first + 4), st.ColumnText(first + 5), st.ColumnText(first + 6)};
}

constexpr char kEventColumns[] = "e.id, e.at, e.user, e.host, e.command, e.query, e.reason";

}  // namespace

// A removed message's places on mail servers (imap, pop3: what sync reads)
// that mailkeep did not delete there become removed places, under the key
// of the place ("KEY#ID" is KEY: Catalog::AddLocation). ?1 id, ?2 when.
constexpr char kKeepRemovedPlaces[] = R"sql(
INSERT OR IGNORE INTO removed_places(folder, uidvalidity, key, sha256, size, listed_size, internal_date, seen_at,
                                     removed_at, gone_at)
SELECT l.folder, l.uidvalidity,
       CASE WHEN length(l.key) > length('#' || ?1) AND substr(l.key, -length('#' || ?1)) = '#' || ?1
            THEN substr(l.key, 1, length(l.key) - length('#' || ?1)) ELSE l.key END,
       b.sha256, b.raw_len, l.listed_size, l.internal_date, l.seen_at, ?2, l.gone_at
FROM locations l JOIN blobs b ON b.id = l.message JOIN folders f ON f.id = l.folder
WHERE l.message = ?1 AND l.deleted_at IS NULL AND f.source IN ('imap', 'pop3')
)sql";

Status Catalog::RemoveMessage(int64_t id, int64_t when) {
  MK_ASSIGN_OR_RETURN(auto find, db_->Prepare("SELECT coalesce(message_id, ''), coalesce(thread, id) FROM messages WHERE id = ?"));
  find.Bind(1, id);
  MK_ASSIGN_OR_RETURN(bool row, find.Step());
  if (!row) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id));
  const std::string mid = find.ColumnText(0);
  const int64_t thread = find.ColumnInt(1);
  find.Reset();
  MK_ASSIGN_OR_RETURN(auto keep, db_->Prepare(kKeepRemovedPlaces));
  keep.Bind(1, id).Bind(2, when);
  MK_RETURN_IF_ERROR(keep.Run());
  for (const char* sql : {"DELETE FROM intents WHERE message = ?1", "DELETE FROM locations WHERE message = ?1",
                          "DELETE FROM holds WHERE message = ?1", "DELETE FROM messages WHERE id = ?1",
                          "DELETE FROM blobs WHERE id = ?1",
                          "INSERT OR IGNORE INTO index_queue(message) VALUES(?1)"}) {
    MK_RETURN_IF_ERROR(RunWithId(*db_, sql, id));
  }
  MK_ASSIGN_OR_RETURN(auto left, db_->Prepare("SELECT 1 FROM messages WHERE coalesce(thread, id) = ? LIMIT 1"));
  left.Bind(1, thread);
  MK_ASSIGN_OR_RETURN(bool thread_lives, left.Step());
  left.Reset();
  if (!thread_lives) return RunWithId(*db_, "DELETE FROM thread_ids WHERE thread = ?1", thread);
  if (mid.empty()) return OkStatus();
  MK_ASSIGN_OR_RETURN(auto ghost, db_->Prepare("INSERT OR IGNORE INTO thread_ids(message_id, thread) VALUES(?, ?)"));
  ghost.Bind(1, mid).Bind(2, thread);
  return ghost.Run();
}

Result<std::vector<int64_t>> Catalog::MessageAddressIds(int64_t id) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT address_list FROM messages WHERE id = ?"));
  st.Bind(1, id);
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  std::vector<int64_t> out;
  if (row && !DecodeAddressIds(st.ColumnBlob(0), out)) {
    return MakeError(ErrorCode::kCorruption, "message " + std::to_string(id) + ": bad address list");
  }
  return out;
}

Result<int64_t> Catalog::PruneAddresses(const std::vector<int64_t>& candidates) {
  std::set<int64_t> unused(candidates.begin(), candidates.end());
  if (unused.empty()) return int64_t{0};
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, address_list FROM messages WHERE address_list IS NOT NULL"));
  std::vector<int64_t> ids;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || unused.empty()) break;
    ids.clear();
    if (!DecodeAddressIds(st.ColumnBlob(1), ids)) {
      return MakeError(ErrorCode::kCorruption, "message " + std::to_string(st.ColumnInt(0)) + ": bad address list");
    }
    for (int64_t a : ids) unused.erase(a);
  }
  st.Reset();
  for (int64_t a : unused) {
    MK_RETURN_IF_ERROR(RunWithId(*db_, "DELETE FROM addresses WHERE id = ?1", a));
    cache_->addresses.erase(a);
  }
  return static_cast<int64_t>(unused.size());
}

Result<int64_t> Catalog::AddAuditEvent(const AuditEventRow& e) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO audit_events(at, user, host, command, query, reason) VALUES(?, ?, ?, ?, ?, ?)"));
  st.Bind(1, e.at).Bind(2, e.user).Bind(3, e.host).Bind(4, e.command).Bind(5, e.query).Bind(6, e.reason);
  MK_RETURN_IF_ERROR(st.Run());
  return db_->LastInsertId();
}

Status Catalog::AddAuditMessage(int64_t event, AuditAction action, int64_t id) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "INSERT INTO audit_messages(event, action, message_id, sha256, date, size) "
      "SELECT ?, ?, coalesce(m.message_id, ''), b.sha256, m.date, b.raw_len "
      "FROM messages m JOIN blobs b ON b.id = m.id WHERE m.id = ?"));
  st.Bind(1, event).Bind(2, static_cast<int64_t>(action)).Bind(3, id);
  MK_RETURN_IF_ERROR(st.Run());
  if (db_->Changes() == 0) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id));
  return OkStatus();
}

Result<std::vector<AuditRow>> Catalog::AuditTrail() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string("SELECT ") + kEventColumns +
      ", a.action, a.message_id, a.sha256, a.date, a.size FROM audit_messages a "
      "JOIN audit_events e ON e.id = a.event ORDER BY e.id, a.rowid"));
  std::vector<AuditRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    AuditRow r;
    r.event = ReadEvent(st, 0);
    r.action = static_cast<AuditAction>(st.ColumnInt(7));
    r.message_id = st.ColumnText(8);
    const std::string sha = st.ColumnBlob(9);
    if (sha.size() == r.sha256.size()) std::copy(sha.begin(), sha.end(), r.sha256.begin());
    if (!st.ColumnIsNull(10)) r.date = st.ColumnInt(10);
    r.size = static_cast<uint64_t>(st.ColumnInt(11));
    out.push_back(std::move(r));
  }
  return out;
}

Result<bool> Catalog::AddHold(int64_t message, int64_t event) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT OR IGNORE INTO holds(message, event) VALUES(?, ?)"));
  st.Bind(1, message).Bind(2, event);
  MK_RETURN_IF_ERROR(st.Run());
  return db_->Changes() > 0;
}

Result<bool> Catalog::RemoveHold(int64_t message) {
  MK_RETURN_IF_ERROR(RunWithId(*db_, "DELETE FROM holds WHERE message = ?1", message));
  return db_->Changes() > 0;
}

Result<std::vector<HoldRow>> Catalog::Holds() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(std::string("SELECT h.message, ") + kEventColumns +
                                            " FROM holds h JOIN audit_events e ON e.id = h.event ORDER BY h.message"));
  std::vector<HoldRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnInt(0), ReadEvent(st, 1)});
  }
  return out;
}

Result<bool> Catalog::IsHeld(int64_t message) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT 1 FROM holds WHERE message = ?"));
  st.Bind(1, message);
  return st.Step();
}

}  // namespace mailkeep::catalog
