// The SQLite catalog: what the archive holds and where each message was
// found. Internal to store/ — callers use store/archive.h.
//
// Schema (version in PRAGMA user_version; migrations run forward only, each
// in its own transaction; a catalog newer than this program is refused):
//
// Version 7 (version 6 lacks removed_places, and its blobs.id has no
// AUTOINCREMENT; version 5 lacks audit_events, audit_messages and holds;
// version 4 lacks locations.gone_at; version 3 has sends
// instead of intents; version 2 lacks both; version 1 also lacks the changes
// migration 1 → 2 lists in catalog.cc):
//
//   blobs(id, sha256, pack, offset, stored_len, raw_len, dict)
//       one row per distinct raw message; id is also the message id, never
//       handed out twice (AUTOINCREMENT: a removed message's id stays
//       unused, as audit rows, index documents and intents referred to it);
//       indexed by the first 6 bytes of sha256
//   messages(id → blobs.id, message_id, subject, date, thread,
//            has_attachments, defects, added_at, mid_hash, address_list,
//            part_list)
//       mid_hash: 23-bit hash of message_id (indexed, for lookups)
//       address_list: packed (role, addresses.id) per address
//       part_list: packed (path, content_type, charset, disposition,
//                  filename, size) per MIME part
//       only what listings and lookups need; everything else (In-Reply-To,
//       References, the text) is re-derived by parsing the raw bytes, which
//       keeps the catalog small (its size counts against the store ratio)
//   thread_ids(message_id, thread)      "ghosts": Message-IDs referenced in
//       References/In-Reply-To but not archived, and the thread they belong
//       to (an archived message's thread is messages.thread)
//   index_queue(message)                 messages the full-text index has not
//       caught up with (new, new location, thread changed); drained by the indexer
//   addresses(id, address, name)                   distinct (address, name)
//       roles in address_list: 1 from, 2 sender, 3 reply-to, 4 to, 5 cc, 6 bcc
//   accounts(id, name UNIQUE)
//   folders(id, account, source, name, uidvalidity, uidnext, highestmodseq)
//   locations(message, folder, uidvalidity, key, flags, internal_date,
//             seen_at, deleted_at, gone_at, listed_size)
//       PRIMARY KEY (folder, uidvalidity, key)
//       deleted_at: mailkeep deleted it there; gone_at: it vanished from
//       the server otherwise (see Catalog::MarkLocationsGone)
//   packs(id, committed_len)             durable end of each pack file
//   dictionaries(id, pack, offset, stored_len, raw_len)   where each
//       dictionary record is (the bytes are only in the pack)
//   runs(id, started, finished, account, fetched, bytes, deleted, errors)
//   intents(id, kind, message, target, via, sender, created_at,
//           resolved_at, outcome, reply)      (version 4; version 3 had
//       sends(message, recipient, sender, route, attempted_at, outcome,
//       reply) instead, and migrate's intents as "pending-<id>" locations)
//       one journal for every irreversible step: a row is committed before
//       the step (an SMTP end of data, an IMAP APPEND, handing a message to
//       the full-text index) and given its outcome after it; outcome NULL
//       means unknown (the step may or may not have happened). Kinds: 1
//       send (target recipient, via route, sender), 2 append (target
//       account, via folder), 3 index. Indexed by (message, kind) and, for
//       rows without an outcome, by (kind, message).
//   audit_events(id, at, user, host, command, query, reason)  (version 6)
//       one row per removing/holding/releasing command run
//   audit_messages(event, action, message_id, sha256, date, size)
//       what that run did to each message (action: AuditAction); no
//       reference to messages, so the trail outlives them
//   holds(message, event)     legal holds: a held message is never removed;
//       event is the hold's audit event (its reason, who, when)
//   removed_places(folder, uidvalidity, key, sha256, size, listed_size,
//                  internal_date, seen_at, removed_at, gone_at)  (version 7)
//       where on a mail server (imap, pop3 folders) a removed message was
//       found, so that sync does not fetch it again: one row per such
//       location it had (not those mailkeep deleted there), its key
//       without the "#ID" of a shared place, its SHA-256 and raw length;
//       the other columns as in locations. PRIMARY KEY (folder,
//       uidvalidity, key, sha256). Never removed by archiving the same
//       bytes again.
//
// Which rows reference a message's blob (what repack keeps): the blobs row
// (id = the message id; pack, offset, stored_len) and nothing else points
// into a pack but dictionaries rows. RemoveMessage deletes it with the
// message, its locations (kept as removed_places), intents and
// index-queue entry.
//
// Durability: journal_mode=WAL, synchronous=FULL; Commit() returns only
// once the transaction is on disk.
// Encryption: an encrypted archive's catalog is opened with its catalog key
// and sealed page by page, WAL included (sealed_vfs.h); the SQL is the same.
// Thread-safety: one thread at a time per Catalog.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/crypto/keys.h"
#include "store/raw_message.h"
#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::catalog {

class Db;

enum class LocationChange { kAdded, kFlagsChanged, kUnchanged };

inline constexpr int kSchemaVersion = 7;

enum class AddressRole { kFrom = 1, kSender = 2, kReplyTo = 3, kTo = 4, kCc = 5, kBcc = 6 };

struct BlobRow {
  Sha256Digest sha256{};
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint32_t stored_len = 0;
  uint64_t raw_len = 0;
  uint32_t dict = 0;
};

struct AddressRow {
  AddressRole role = AddressRole::kFrom;
  std::string name;
  std::string address;
};

struct PartRow {
  std::string path, content_type, charset, disposition, filename;
  uint64_t size = 0;
};

struct MessageRow {
  int64_t id = 0;
  BlobRow blob;
  std::string message_id;
  std::string subject;
  std::optional<int64_t> date;
  bool has_attachments = false;
  uint32_t defects = 0;
  int64_t added_at = 0;
  int64_t thread = 0;                 // read back; assigned by AssignThread
  std::vector<AddressRow> addresses;  // filled on insert; by GetAddresses on read
  std::vector<PartRow> parts;
  // Insert only: In-Reply-To and References ids, for AssignThread.
  std::vector<std::string> thread_links;
};

struct LocationRow {
  std::string source, account, folder, key;
  uint64_t uidvalidity = 0;
  std::string flags;
  std::optional<int64_t> internal_date;
  int64_t seen_at = 0;
  std::optional<int64_t> deleted_at;
  std::optional<int64_t> gone_at = std::nullopt;  // vanished from the server (not deleted by mailkeep)
};

// One place in a folder, for sync planning: what the archive already has.
struct FolderLocationRow {
  std::string key;
  uint64_t uidvalidity = 0;
  int64_t message = 0;
  std::string flags;
  int64_t seen_at = 0;
  std::optional<int64_t> deleted_at;
  uint64_t size = 0;  // the message's raw length
  std::optional<int64_t> internal_date;
  std::optional<int64_t> gone_at = std::nullopt;
  uint64_t listed_size = 0;  // as the server listed it there; 0 = unknown
  // A removed place (RemovedPlaces): message is 0, size the removed
  // message's raw length, deleted_at empty.
  std::optional<int64_t> removed_at = std::nullopt;
};

// What a sync source remembers of one server folder between runs.
struct FolderStateRow {
  std::string name;
  uint64_t uidvalidity = 0, uidnext = 0, highestmodseq = 0;
  std::optional<int64_t> gone_at;  // the folder was no longer on the server
};

// One `mailkeep sync` of one account, for `stats` and troubleshooting.
struct RunRow {
  std::string account;
  int64_t started = 0, finished = 0;
  int64_t fetched = 0;
  uint64_t bytes = 0;
  int64_t deleted = 0, errors = 0;
};

// One intent (see intents in the schema above). The meaning of target,
// via and sender depends on kind (IntentKind in store/archive.h).
struct IntentRow {
  int64_t id = 0;                     // assigned by AddIntents
  int kind = 0;
  int64_t message = 0;
  std::string target, via, sender;
  int64_t created_at = 0;             // Unix seconds
  std::optional<int64_t> resolved_at; // when it got an outcome
  std::optional<int> outcome;         // nullopt: unknown (no outcome yet)
  std::string reply;                  // the server's reply, or why nothing happened
};

// Audit trail (version 6).
enum class AuditAction { kRemoved = 1, kHeld = 2, kReleased = 3 };

struct AuditEventRow {
  int64_t id = 0;  // assigned by AddAuditEvent
  int64_t at = 0;  // Unix seconds
  std::string user, host, command, query, reason;
};

struct AuditRow {
  AuditEventRow event;
  AuditAction action = AuditAction::kRemoved;
  std::string message_id;
  Sha256Digest sha256{};
  std::optional<int64_t> date;
  uint64_t size = 0;
};

struct HoldRow {
  int64_t message = 0;
  AuditEventRow event;  // the hold: who, when, why (reason)
};

// Where a dictionary record is; its bytes live only in the pack.
struct DictionaryRow {
  uint32_t id = 0;
  uint32_t pack = 0;
  uint64_t offset = 0;
  uint32_t stored_len = 0;  // payload bytes in the pack (compressed or not)
  uint64_t raw_len = 0;     // dictionary bytes
};

struct SourceCount {
  std::string source, account;
  int64_t locations = 0;
  int64_t messages = 0;
};

struct CatalogStats {
  int64_t messages = 0;
  int64_t locations = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;  // sum of stored_len (frames)
  int64_t dictionaries = 0;
  std::vector<SourceCount> per_source;
};

class Catalog {
 public:
  // Opens or creates `path`. With `migrate` (only for the archive's writer,
  // who holds its lock) an older schema is migrated to kSchemaVersion, and
  // the WAL file (path-wal, kept between opens) exists and its directory is
  // fsynced before Open returns (kIoError when that fsync fails); otherwise
  // a catalog of another version is refused. With `key` (an encrypted
  // archive's catalog key) the database and its WAL are sealed page by page
  // (sealed_vfs.h); a page that fails authentication is kCorruption.
  static Result<std::unique_ptr<Catalog>> Open(const std::string& path, bool create, bool read_only,
                                               bool migrate = true, const crypto::Key* key = nullptr);
  // PRAGMA user_version of the catalog at `path` without changing it: 0 for
  // an empty file (no schema yet); kCorruption when it is not a database
  // (or, with `key`, not one sealed with it).
  static Result<int64_t> ReadSchemaVersion(const std::string& path, const crypto::Key* key = nullptr);
  ~Catalog();

  Status Begin();
  // A read transaction, ended by Commit() (or Rollback()): the reads in it
  // see one snapshot and take SQLite's locks once, not once per statement.
  Status BeginRead();
  Status Commit();
  void Rollback();
  // Moves the WAL into the database file and truncates the WAL.
  Status Checkpoint();

  Result<std::optional<int64_t>> FindBySha(const Sha256Digest& sha);
  // Inserts blob + message + addresses + parts; returns the new id.
  Result<int64_t> InsertMessage(const MessageRow& row);
  // row.id 0 = next id; rebuild-catalog passes ids to keep them stable.
  // Records where a message was found. kUnchanged: that place was known
  // with these flags; kFlagsChanged: known, flags updated. When the place
  // (folder, uidvalidity, key) holds another message, the earlier record
  // stays and this one is kept under key "KEY#<message id>".
  Result<LocationChange> AddLocation(int64_t message, const Origin& origin, int64_t now);

  // Threads: a message joins the thread of any Message-ID it carries or
  // references (known messages and referenced-but-missing ones alike);
  // when it links several threads they merge into the oldest (smallest id),
  // and every message whose thread changed is queued for re-indexing.
  // Returns the thread id. REQUIRES: inside a transaction.
  Result<int64_t> AssignThread(int64_t message, const std::string& message_id,
                               const std::vector<std::string>& links);
  Result<std::vector<int64_t>> ThreadMessages(int64_t thread);

  // The index queue (see schema).
  Status QueueForIndex(int64_t message);
  Status QueueAllForIndex();
  Result<std::vector<int64_t>> PendingIndex(size_t limit);
  Result<int64_t> PendingIndexCount();
  Status DequeueIndexed(const std::vector<int64_t>& ids);

  Result<std::pair<uint32_t, uint64_t>> CommittedPackEnd();
  // Every pack the catalog recorded an end for, ascending (the last one is
  // CommittedPackEnd()).
  Result<std::vector<std::pair<uint32_t, uint64_t>>> PackEnds();
  // For each pack, the end of the last record a row points at (blobs and
  // dictionaries), given the record header size.
  Result<std::vector<std::pair<uint32_t, uint64_t>>> ReferencedPackEnds(uint64_t header_size);
  Status SetPackCommitted(uint32_t pack, uint64_t len);
  Status AddDictionary(const DictionaryRow& dict);
  Result<std::vector<DictionaryRow>> Dictionaries();
  // Repack (store/repack.h): a record moved to another place, a dictionary
  // no blob needs, a pack file that is gone. The caller holds the
  // transaction.
  // A blob's record moved (a copy: same frame) or was recompressed (a new
  // frame: its length and dictionary change too).
  Status MoveBlob(int64_t id, uint32_t pack, uint64_t offset, uint32_t stored_len, uint32_t dict);
  Status MoveDictionary(uint32_t id, uint32_t pack, uint64_t offset);
  Status RemoveDictionary(uint32_t id);
  Status RemovePack(uint32_t pack);
  // Rebuilds the database file without free pages (VACUUM), then empties
  // the WAL (Checkpoint): no page of a deleted row survives in either file.
  // Outside a transaction.
  Status Compact();
  // Pages of the database file that hold no live row (PRAGMA freelist_count).
  Result<int64_t> FreePages();

  Result<std::optional<MessageRow>> GetMessage(int64_t id);  // with addresses and parts
  Result<std::vector<int64_t>> FindByMessageId(const std::string& message_id);
  Result<std::vector<int64_t>> AllIds();
  Result<std::vector<BlobRow>> AllBlobs(std::vector<int64_t>* ids);
  // The newest `limit` blobs compressed with dictionary `dict`.
  Result<std::vector<BlobRow>> RecentBlobs(uint32_t dict, size_t limit);
  Result<std::vector<LocationRow>> GetLocations(int64_t id);
  Result<int64_t> CountMessages();
  // Messages whose frame uses dictionary `dict` (0 = none).
  Result<int64_t> CountBlobsWithDict(uint32_t dict);
  Result<CatalogStats> Stats();
  // PRAGMA quick_check, and for a sealed catalog the tag of every page of
  // its file; what is wrong, "" when fine.
  Result<std::string> CheckIntegrity();

  // Sync state. Every location recorded in (source, account, folder), any
  // uidvalidity; empty when the folder was never seen.
  Result<std::vector<FolderLocationRow>> FolderLocations(const std::string& source, const std::string& account,
                                                        const std::string& folder);
  // The removed places recorded in (source, account, folder), any
  // uidvalidity (see removed_places; rows with removed_at set).
  Result<std::vector<FolderLocationRow>> RemovedPlaces(const std::string& source, const std::string& account,
                                                      const std::string& folder);
  // Sets gone_at = `when` on those removed places (uidvalidity, key) that
  // have none, in one transaction. Returns how many were marked.
  Result<int64_t> MarkRemovedPlacesGone(const std::string& source, const std::string& account,
                                        const std::string& folder,
                                        const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when);
  // Sets deleted_at = `when` on those locations (key and message id, in
  // `uidvalidity`) that have none yet; unknown ones are ignored.
  Status MarkLocationsDeleted(const std::string& source, const std::string& account, const std::string& folder,
                              uint64_t uidvalidity, const std::vector<std::pair<std::string, int64_t>>& keys,
                              int64_t when);
  // Sets gone_at = `when` on those places of (source, account, folder),
  // given as (uidvalidity, key), that have neither deleted_at nor gone_at,
  // in one transaction, and queues their messages for the index (a
  // vanished place no longer counts for folder:). Unknown places are
  // ignored. Returns how many were marked.
  Result<int64_t> MarkLocationsGone(const std::string& source, const std::string& account, const std::string& folder,
                                    const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when);
  // Moves the places `keys` of (source, account, folder) from UIDVALIDITY
  // `from` to `to`, in one transaction: for a server that gives a folder a
  // new UIDVALIDITY although its UIDs still name the same messages. A key
  // already recorded under `to` is left under `from`. Removed places with
  // those keys move too. Returns how many locations moved.
  Result<int64_t> MoveLocations(const std::string& source, const std::string& account, const std::string& folder,
                                uint64_t from, uint64_t to, const std::vector<std::string>& keys);
  Status AddRun(const RunRow& run);
  // Intents. The caller holds the transaction for the three writers.
  // AddIntents fills each row's id.
  Status AddIntents(std::vector<IntentRow>& rows);
  // Sets outcome, resolved_at (only with an outcome) and reply of row.id;
  // kNotFound for an unknown id.
  Status ResolveIntent(const IntentRow& row);
  Status RemoveIntents(const std::vector<int64_t>& ids);
  // Intents of `kind`, of one message or all, optionally only those without
  // an outcome; oldest first.
  Result<std::vector<IntentRow>> Intents(int kind, std::optional<int64_t> message, bool unresolved_only);
  // Folders of (source, account), with their remembered server state.
  Result<std::vector<FolderStateRow>> FolderStates(const std::string& source, const std::string& account);
  // Records a folder's server state (creating the folder row); clears gone_at.
  Status SetFolderState(const std::string& source, const std::string& account, const FolderStateRow& state);
  // Marks a folder as gone from the server at `when` (its locations stay,
  // and folder: still finds what was archived from it).
  Status MarkFolderGone(const std::string& source, const std::string& account, const std::string& folder,
                        int64_t when);
  // Sets the flags of known places (source, account, folder, uidvalidity,
  // key → flags), in one transaction; queues each message whose flags
  // changed for the index. Returns how many changed (unknown places are
  // skipped).
  Result<int64_t> UpdateFlags(const std::vector<Origin>& places);

  // Removal, holds and audit (version 6). The writers REQUIRE a
  // transaction held by the caller.
  // Removes a message: its blobs and messages rows, locations, intents and
  // hold; its places on mail servers that mailkeep did not delete there
  // become removed_places (removed_at `when`), in the same transaction;
  // queues its id for the index (whose next run drops the
  // document). When other messages stay in its thread, its Message-ID
  // becomes a ghost of that thread (later replies still join it); when
  // none stay, the thread's ghosts go. kNotFound for an unknown id.
  // Addresses it used stay until PruneAddresses.
  Status RemoveMessage(int64_t id, int64_t when);
  // Drops those of `candidates` (addresses ids) no remaining message uses.
  // Returns how many went. Reads every message's address list once.
  Result<int64_t> PruneAddresses(const std::vector<int64_t>& candidates);
  // The addresses ids a message uses (before RemoveMessage).
  Result<std::vector<int64_t>> MessageAddressIds(int64_t id);
  Result<int64_t> AddAuditEvent(const AuditEventRow& event);
  // Records what event did to message `id` (Message-ID, SHA-256, date and
  // size copied from its rows). kNotFound for an unknown id.
  Status AddAuditMessage(int64_t event, AuditAction action, int64_t id);
  // The whole trail, oldest first.
  Result<std::vector<AuditRow>> AuditTrail();
  // Returns false when the message was already held.
  Result<bool> AddHold(int64_t message, int64_t event);
  // Returns false when the message was not held.
  Result<bool> RemoveHold(int64_t message);
  Result<std::vector<HoldRow>> Holds();
  Result<bool> IsHeld(int64_t message);

 private:
  explicit Catalog(std::unique_ptr<Db> db);
  Status Migrate();
  Status SyncWalEntry();
  Status FillV2();
  Status CheckForeignKeys();
  Result<int64_t> AddressId(const std::string& address, const std::string& name);
  Result<int64_t> FolderId(const Origin& origin);
  std::unique_ptr<Db> db_;
  struct Cache;
  std::unique_ptr<Cache> cache_;
};

}  // namespace mailkeep::catalog
