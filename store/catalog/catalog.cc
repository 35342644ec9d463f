#include "store/catalog/catalog.h"

#include <algorithm>
#include <map>
#include <string_view>

#include "store/catalog/sqlite.h"

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
};
constexpr int kMigrationCount = sizeof(kMigrations) / sizeof(kMigrations[0]);
static_assert(kMigrationCount == kSchemaVersion);

std::string_view DigestView(const Sha256Digest& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

struct Catalog::Cache {
  Statement find_thread, delete_ghost, move_thread_messages, move_thread_ids, queue_thread,
      upsert_thread_id, set_thread, queue_index;
  Statement find_location, update_flags;
  Statement find_sha, insert_blob, insert_message, find_address, insert_address,
      insert_message_address, insert_part, insert_location, find_folder, insert_folder,
      find_account, insert_account;
  std::map<std::tuple<std::string, std::string, std::string>, int64_t> folders;
};

Catalog::Catalog(std::unique_ptr<Db> db) : db_(std::move(db)), cache_(std::make_unique<Cache>()) {}
Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path, bool create, bool read_only, bool migrate) {
  MK_ASSIGN_OR_RETURN(auto db, Db::Open(path, create, read_only));
  std::unique_ptr<Catalog> cat(new Catalog(std::move(db)));
  if (!read_only) {
    MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA journal_mode=WAL"));
    MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA synchronous=FULL"));
  }
  MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA foreign_keys=ON"));
  MK_RETURN_IF_ERROR(cat->db_->Exec("PRAGMA cache_size=-65536"));
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
  for (int64_t v = version; v < kSchemaVersion; ++v) {
    MK_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
    auto s = db_->Exec(kMigrations[v]);
    if (s) s = db_->Exec("PRAGMA user_version=" + std::to_string(v + 1));
    if (!s) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
    MK_RETURN_IF_ERROR(db_->Exec("COMMIT"));
  }
  return OkStatus();
}

Status Catalog::Begin() { return db_->Exec("BEGIN IMMEDIATE"); }
Status Catalog::Commit() { return db_->Exec("COMMIT"); }
Status Catalog::Checkpoint() { return db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); }
void Catalog::Rollback() {
  (void)db_->Exec("ROLLBACK");
  cache_->folders.clear();  // ids created in the rolled-back transaction are gone
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
  MK_ASSIGN_OR_RETURN(Statement * st, Cached(*db_, cache_->find_sha, "SELECT id FROM blobs WHERE sha256 = ?"));
  st->BindBlob(1, DigestView(sha));
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

  MK_ASSIGN_OR_RETURN(Statement * msg,
                      Cached(*db_, cache_->insert_message,
                             "INSERT INTO messages(id, message_id, subject, date, has_attachments, defects, added_at) "
                             "VALUES(?, ?, ?, ?, ?, ?, ?)"));
  msg->Bind(1, id).Bind(2, row.message_id).Bind(3, row.subject).Bind(4, row.date);
  msg->Bind(5, int64_t{row.has_attachments}).Bind(6, int64_t{row.defects}).Bind(7, row.added_at);
  MK_RETURN_IF_ERROR(msg->Run());

  int position[7] = {};
  for (const auto& a : row.addresses) {
    MK_ASSIGN_OR_RETURN(int64_t addr, AddressId(a.address, a.name));
    MK_ASSIGN_OR_RETURN(Statement * ma,
                        Cached(*db_, cache_->insert_message_address,
                               "INSERT INTO message_addresses(message, role, position, address) VALUES(?, ?, ?, ?)"));
    int role = static_cast<int>(a.role);
    ma->Bind(1, id).Bind(2, int64_t{role}).Bind(3, int64_t{position[role]++}).Bind(4, addr);
    MK_RETURN_IF_ERROR(ma->Run());
  }
  for (const auto& p : row.parts) {
    MK_ASSIGN_OR_RETURN(Statement * pt,
                        Cached(*db_, cache_->insert_part,
                               "INSERT OR IGNORE INTO parts(message, path, content_type, charset, disposition, "
                               "filename, size) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    pt->Bind(1, id).Bind(2, p.path).Bind(3, p.content_type);
    if (p.charset.empty()) pt->BindNull(4); else pt->Bind(4, p.charset);
    if (p.disposition.empty()) pt->BindNull(5); else pt->Bind(5, p.disposition);
    if (p.filename.empty()) pt->BindNull(6); else pt->Bind(6, p.filename);
    pt->Bind(7, static_cast<int64_t>(p.size));
    MK_RETURN_IF_ERROR(pt->Run());
  }
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
                               "internal_date, seen_at) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    st->Bind(1, message).Bind(2, folder).Bind(3, static_cast<int64_t>(origin.uidvalidity)).Bind(4, key);
    st->Bind(5, origin.flags).Bind(6, origin.internal_date).Bind(7, now);
    MK_RETURN_IF_ERROR(st->Run());
    if (db_->Changes() > 0) return LocationChange::kAdded;
    // The place is taken: by this message (seen again; its flags may have
    // changed) or by another one (an mbox rewritten so that a new message
    // sits at an old offset). The other message's record is history and
    // stays; this one gets the key made unique by its id.
    MK_ASSIGN_OR_RETURN(Statement * find,
                        Cached(*db_, cache_->find_location,
                               "SELECT message, flags FROM locations WHERE folder = ? AND uidvalidity = ? AND key = ?"));
    find->Bind(1, folder).Bind(2, static_cast<int64_t>(origin.uidvalidity)).Bind(3, key);
    MK_ASSIGN_OR_RETURN(bool row, find->Step());
    int64_t holder = row ? find->ColumnInt(0) : 0;
    std::string flags = row ? find->ColumnText(1) : std::string();
    find->Reset();
    if (holder == message) {
      if (flags == origin.flags) return LocationChange::kUnchanged;
      MK_ASSIGN_OR_RETURN(Statement * up,
                          Cached(*db_, cache_->update_flags,
                                 "UPDATE locations SET flags = ? WHERE folder = ? AND uidvalidity = ? AND key = ?"));
      up->Bind(1, origin.flags).Bind(2, folder).Bind(3, static_cast<int64_t>(origin.uidvalidity)).Bind(4, key);
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
                               "SELECT coalesce(thread, id), 1 FROM messages WHERE message_id = ?1 AND id != ?2 "
                               "UNION ALL SELECT thread, 0 FROM thread_ids WHERE message_id = ?1 LIMIT 1"));
    st->Bind(1, ids[i]).Bind(2, message);
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

Result<std::vector<std::pair<uint32_t, uint64_t>>> Catalog::ReferencedPackEnds(uint64_t header_size) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT pack, max(e) FROM (SELECT pack, offset + ?1 + stored_len AS e FROM blobs "
      "UNION ALL SELECT pack, offset + ?1 + length(bytes) FROM dictionaries) GROUP BY pack"));
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
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("INSERT INTO dictionaries(id, pack, offset, bytes) VALUES(?, ?, ?, ?)"));
  st.Bind(1, int64_t{dict.id}).Bind(2, int64_t{dict.pack}).Bind(3, static_cast<int64_t>(dict.offset));
  st.BindBlob(4, dict.bytes);
  return st.Run();
}

Result<std::vector<DictionaryRow>> Catalog::Dictionaries() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id, pack, offset, bytes FROM dictionaries ORDER BY id"));
  std::vector<DictionaryRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    DictionaryRow d;
    d.id = static_cast<uint32_t>(st.ColumnInt(0));
    d.pack = static_cast<uint32_t>(st.ColumnInt(1));
    d.offset = static_cast<uint64_t>(st.ColumnInt(2));
    d.bytes = st.ColumnBlob(3);
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
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT m.id, b.sha256, b.pack, b.offset, b.stored_len, b.raw_len, b.dict, m.message_id, m.subject, m.date, "
      "m.has_attachments, m.defects, m.added_at, coalesce(m.thread, m.id) "
      "FROM messages m JOIN blobs b ON b.id = m.id WHERE m.id = ?"));
  st.Bind(1, id);
  MK_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<MessageRow>();
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

  MK_ASSIGN_OR_RETURN(auto ad, db_->Prepare(
      "SELECT ma.role, a.name, a.address FROM message_addresses ma JOIN addresses a ON a.id = ma.address "
      "WHERE ma.message = ? ORDER BY ma.role, ma.position"));
  ad.Bind(1, id);
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool r, ad.Step());
    if (!r) break;
    m.addresses.push_back({static_cast<AddressRole>(ad.ColumnInt(0)), ad.ColumnText(1), ad.ColumnText(2)});
  }
  MK_ASSIGN_OR_RETURN(auto pt, db_->Prepare(
      "SELECT path, content_type, charset, disposition, filename, size FROM parts WHERE message = ?"));
  pt.Bind(1, id);
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool r, pt.Step());
    if (!r) break;
    m.parts.push_back({pt.ColumnText(0), pt.ColumnText(1), pt.ColumnText(2), pt.ColumnText(3), pt.ColumnText(4),
                       static_cast<uint64_t>(pt.ColumnInt(5))});
  }
  return std::optional<MessageRow>(std::move(m));
}

Result<std::vector<int64_t>> Catalog::FindByMessageId(const std::string& message_id) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("SELECT id FROM messages WHERE message_id = ? ORDER BY id"));
  st.Bind(1, message_id);
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
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT f.source, a.name, f.name, l.key, l.uidvalidity, l.flags, l.internal_date, l.seen_at, l.deleted_at "
      "FROM locations l JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account "
      "WHERE l.message = ? ORDER BY l.seen_at, f.name, l.key"));
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
    out.push_back(std::move(l));
  }
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

Result<std::string> Catalog::CheckIntegrity() {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare("PRAGMA quick_check"));
  std::string out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    std::string line = st.ColumnText(0);
    if (line != "ok") out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

}  // namespace mailkeep::catalog

namespace mailkeep::catalog {

Result<std::vector<FolderLocationRow>> Catalog::FolderLocations(const std::string& source, const std::string& account,
                                                               const std::string& folder) {
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "SELECT l.key, l.uidvalidity, l.message, l.seen_at, l.deleted_at, l.flags "
      "FROM locations l JOIN folders f ON f.id = l.folder JOIN accounts a ON a.id = f.account "
      "WHERE a.name = ? AND f.source = ? AND f.name = ?"));
  st.Bind(1, account).Bind(2, source).Bind(3, folder);
  std::vector<FolderLocationRow> out;
  for (;;) {
    MK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    FolderLocationRow l;
    l.key = st.ColumnText(0);
    l.uidvalidity = static_cast<uint64_t>(st.ColumnInt(1));
    l.message = st.ColumnInt(2);
    l.seen_at = st.ColumnInt(3);
    if (!st.ColumnIsNull(4)) l.deleted_at = st.ColumnInt(4);
    l.flags = st.ColumnText(5);
    out.push_back(std::move(l));
  }
  return out;
}

Status Catalog::MarkLocationsDeleted(const std::string& source, const std::string& account, const std::string& folder,
                                     uint64_t uidvalidity, const std::vector<std::string>& keys, int64_t when) {
  if (keys.empty()) return OkStatus();
  Origin origin;
  origin.source = source;
  origin.account = account;
  origin.folder = folder;
  MK_RETURN_IF_ERROR(Begin());
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(int64_t folder_id, FolderId(origin));
    MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
        "UPDATE locations SET deleted_at = ? WHERE folder = ? AND uidvalidity = ? AND key = ? AND deleted_at IS NULL"));
    for (const auto& key : keys) {
      st.Bind(1, when).Bind(2, folder_id).Bind(3, static_cast<int64_t>(uidvalidity)).Bind(4, key);
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

Result<bool> Catalog::UpdateFlags(const std::string& source, const std::string& account, const std::string& folder,
                                  uint64_t uidvalidity, const std::string& key, const std::string& flags) {
  MK_ASSIGN_OR_RETURN(auto find, db_->Prepare(
      "SELECT l.message, l.flags, l.folder FROM locations l JOIN folders f ON f.id = l.folder "
      "JOIN accounts a ON a.id = f.account "
      "WHERE a.name = ? AND f.source = ? AND f.name = ? AND l.uidvalidity = ? AND l.key = ?"));
  find.Bind(1, account).Bind(2, source).Bind(3, folder).Bind(4, static_cast<int64_t>(uidvalidity)).Bind(5, key);
  MK_ASSIGN_OR_RETURN(bool row, find.Step());
  if (!row || find.ColumnText(1) == flags) return false;
  int64_t message = find.ColumnInt(0), folder_id = find.ColumnInt(2);
  find.Reset();
  MK_RETURN_IF_ERROR(Begin());
  auto done = [&]() -> Status {
    MK_ASSIGN_OR_RETURN(auto up, db_->Prepare(
        "UPDATE locations SET flags = ? WHERE folder = ? AND uidvalidity = ? AND key = ?"));
    up.Bind(1, flags).Bind(2, folder_id).Bind(3, static_cast<int64_t>(uidvalidity)).Bind(4, key);
    MK_RETURN_IF_ERROR(up.Run());
    return QueueForIndex(message);
  }();
  if (!done) {
    Rollback();
    return std::unexpected(done.error());
  }
  MK_RETURN_IF_ERROR(Commit());
  return true;
}

Result<bool> Catalog::RemoveLocation(int64_t message, const Origin& place) {
  MK_ASSIGN_OR_RETURN(int64_t folder, FolderId(place));
  MK_ASSIGN_OR_RETURN(auto st, db_->Prepare(
      "DELETE FROM locations WHERE message = ? AND folder = ? AND uidvalidity = ? AND key = ?"));
  st.Bind(1, message).Bind(2, folder).Bind(3, static_cast<int64_t>(place.uidvalidity)).Bind(4, place.key);
  MK_RETURN_IF_ERROR(st.Run());
  return db_->Changes() > 0;
}

}  // namespace mailkeep::catalog
