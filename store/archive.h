// The Archive: the one facade over an archive directory. Callers add
// messages, read them back byte-exact, look them up and verify them; they
// never see SQLite, zstd or the file layout.
//
// Directory layout (private): catalog.sqlite, packs/, xapian/, lock.
// Files are 0600, directories 0700.
//
// Durability order in Ingest: compressed frames are appended to the pack and
// fsync'd, then ONE catalog transaction (synchronous=FULL) records blobs,
// messages and locations. A message is reported kStored only after that
// commit returned; a crash before it leaves bytes past the pack ends the
// catalog recorded, which the next writer moves to packs/orphans/. A new
// pack is recorded in the catalog before its first byte. Open refuses
// (naming `mailkeep rebuild-catalog`, changing nothing) a catalog that is
// missing, empty or unreadable while packs hold messages, and a writable
// open refuses packs the catalog does not know.
//
// Thread-safety: one Archive per process and thread. A writable Archive
// holds an exclusive lock on ARCHIVE/lock (flock) for its lifetime; a
// second writer gets kUnavailable. Readers take no lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/crypto/keys.h"
#include "store/mime/message.h"
#include "store/raw_message.h"
#include "store/util/status.h"

namespace mailkeep {

struct ArchiveOptions {
  int compression_level = 9;             // zstd level for message frames
  // Upper bound on a trained dictionary; the actual size is at most a
  // quarter of the sample bytes it is trained on.
  size_t dictionary_size = 1024 * 1024;
  // The first dictionary is trained once this many messages are stored
  // (0 disables dictionaries). The batch that crosses the threshold is
  // itself part of the samples and is compressed with the new dictionary,
  // so a large first import gets a dictionary from its first batch.
  size_t dictionary_after = 1000;
  // A new dictionary, trained on a uniform sample of the messages since the
  // last one, every this many messages. With import batches of 1,000 each
  // batch gets a dictionary trained on itself: on linux-mips that shrinks
  // the packs from 0.30 to 0.22 of the raw bytes (dictionary records
  // included), because mail quotes and repeats the mail around it.
  size_t dictionary_retrain_after = 1000;
  int workers = 0;                      // parse/compress threads; 0 = hardware threads
  // A new pack is started when a record would take the current one past
  // this size (tests make it small to cross pack rolls).
  uint64_t pack_size_limit = 1ull << 30;
  // A writer that finds the archive locked by another process waits this
  // long for it (0 = fail at once with kUnavailable).
  int lock_wait_seconds = 0;
  // For crash tests only: abort() after this many catalog commits.
  int debug_crash_after_commits = 0;
  // The keys of an encrypted archive (crypto::UnlockKeyFile, or
  // crypto::CreateKeyFile before Create); null for a plain one. Open and
  // Create refuse an encrypted archive without keys, and keys for a plain
  // archive.
  std::shared_ptr<const crypto::ArchiveKeys> keys;
};

enum class OpenMode { kReadOnly, kReadWrite };

enum class IngestStatus { kStored, kDuplicate, kKnownLocation, kFailed };

struct IngestOutcome {
  IngestStatus status = IngestStatus::kFailed;
  int64_t id = 0;       // catalog id (stored or duplicate)
  std::string sha256;   // hex SHA-256 of the raw bytes (plain, also in an encrypted archive)
  std::string error;    // for kFailed
  // kStored, when Ingest was given `keep_parsed`: the message as parsed
  // with those limits (text included), for the caller's index.
  std::shared_ptr<const mime::Message> parsed;
};

struct Location {
  std::string source, account, folder, key;
  uint64_t uidvalidity = 0;
  std::string flags;
  std::optional<int64_t> internal_date;
  int64_t seen_at = 0;
  std::optional<int64_t> deleted_at;  // mailkeep deleted it on the server
  std::optional<int64_t> gone_at = std::nullopt;  // it vanished from the server otherwise: no longer where it is
};

struct PartInfo {
  std::string path, content_type, charset, disposition, filename;
  uint64_t size = 0;
};

// What the catalog knows of one message.
struct MessageInfo {
  int64_t id = 0;
  std::string sha256;  // hex
  uint64_t size = 0;
  std::string message_id;
  std::string subject;
  std::optional<int64_t> date;
  int64_t added_at = 0;  // when it was archived (Unix seconds)
  std::vector<mime::Address> from, sender, reply_to, to, cc, bcc;
  bool has_attachments = false;
  int64_t thread = 0;
  uint32_t defects = 0;
  std::vector<PartInfo> parts;
  std::vector<Location> locations;
};

struct ArchiveStats {
  int64_t messages = 0;
  int64_t locations = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;   // pack files + catalog files on disk
  uint64_t pack_bytes = 0;
  uint64_t catalog_bytes = 0;
  int64_t dictionaries = 0;
  struct Source {
    std::string source, account;
    int64_t locations = 0, messages = 0;
  };
  std::vector<Source> per_source;
};

// A place the archive already knows in one folder (sync planning).
struct KnownLocation {
  std::string key;           // POP3 UIDL, IMAP UID, ...
  uint64_t uidvalidity = 0;
  int64_t message = 0;       // catalog id
  std::string flags;         // as last seen there
  int64_t seen_at = 0;       // when it was first archived from there (Unix seconds)
  std::optional<int64_t> deleted_at;  // when mailkeep deleted it on the server
  uint64_t size = 0;         // the archived bytes (line ends LF, as sources hand them over)
  std::optional<int64_t> internal_date;  // as the server dated it when archived (IMAP INTERNALDATE)
  std::optional<int64_t> gone_at = std::nullopt;  // vanished from the server (expunged elsewhere, old UIDVALIDITY)
  uint64_t listed_size = 0;  // the size the server listed there when archived or last fetched; 0 = unknown
  // A removed place (Archive::RemovedPlaces): `delete` or `prune` removed
  // the message found there at this time; message is 0, size the removed
  // message's length. Sync neither fetches nor deletes what it finds there.
  std::optional<int64_t> removed_at = std::nullopt;
};

// What a sync source remembers of one server folder between runs (IMAP:
// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ), to skip folders that did not change.
struct FolderState {
  std::string name;
  uint64_t uidvalidity = 0, uidnext = 0, highestmodseq = 0;
  std::optional<int64_t> gone_at;  // when the folder was found missing on the server
};

// One account's sync, kept in the catalog's runs table.
struct SyncRun {
  std::string account;
  int64_t started = 0, finished = 0;
  int64_t fetched = 0;
  uint64_t bytes = 0;
  int64_t deleted = 0, errors = 0;
};

// What became of one intent (below). The names are a send's; for an append
// kAccepted means the server took it (it has a place), for the index that
// the index committed it.
// kUnknown: no outcome recorded — the step may or may not have happened
// (for a send: the whole message went out but no reply to its end came, or
// the process died in between; sending again may deliver twice).
enum class SendOutcome { kAccepted = 0, kDeferred = 1, kFailed = 2, kUnknown = 3 };

// The irreversible steps the archive keeps intents for.
enum class IntentKind {
  kSend = 1,    // the end of an SMTP DATA to one recipient (resend)
  kAppend = 2,  // an IMAP APPEND (migrate)
  kIndex = 3,   // a message handed to the full-text index, until it commits
};

// One intent: recorded (committed and synced) BEFORE its step, resolved
// with the outcome after it. One without an outcome after a crash is
// `unknown`, and it is for the caller to decide, never to guess.
struct Intent {
  int64_t id = 0;              // assigned by RecordIntents
  IntentKind kind = IntentKind::kSend;
  int64_t message = 0;         // catalog id
  std::string target;          // kSend: the envelope recipient; kAppend: the account
  std::string via;             // kSend: "relay NAME" or "direct HOST"; kAppend: the folder
  std::string sender;          // kSend: the envelope sender
  int64_t created_at = 0;      // Unix seconds (RecordIntents fills 0 with now)
  SendOutcome outcome = SendOutcome::kUnknown;
  std::optional<int64_t> resolved_at;
  std::string reply;           // the server's reply, or why nothing was done

  // A new intent, not yet recorded.
  static Intent For(IntentKind kind, int64_t message, std::string target = {}, std::string via = {},
                    std::string sender = {}) {
    Intent i;
    i.kind = kind;
    i.message = message;
    i.target = std::move(target);
    i.via = std::move(via);
    i.sender = std::move(sender);
    return i;
  }
};

// Kept for callers of the send log: an intent of kind kSend.
using SendAttempt = Intent;

struct RebuildReport {
  int64_t messages = 0;
  std::vector<std::string> problems;  // damaged or skipped records, one line each
  std::string old_catalog;            // where the previous catalog went ("" if none)
};

struct RepackOptions {
  bool dry_run = false;  // only count what a repack would do
};

// What a repack did (or, with dry_run, would do).
struct RepackReport {
  int64_t packs = 0;               // pack files before
  int64_t packs_rewritten = 0;     // packs whose live records were copied and the pack removed
  uint64_t bytes_copied = 0;       // live record bytes copied into the current pack
  uint64_t bytes_freed = 0;        // pack bytes that are gone
  int64_t dictionaries_dropped = 0;  // dictionaries no message needs any more, or tainted (below)
  // Messages recompressed because their dictionary may hold fragments of a
  // removed message (store/PACK_FORMAT.md, "Repacking").
  int64_t messages_recompressed = 0;
  int64_t orphan_files = 0;        // files removed from packs/orphans/
  uint64_t orphan_bytes = 0;
  bool catalog_compacted = false;  // the catalog was rebuilt without free pages
  std::vector<std::string> problems;  // packs left as they were, one line each
  // Catalogs rebuild-catalog set aside (ARCHIVE/catalog.sqlite.old-N):
  // repack leaves them alone, and they may still name removed messages.
  std::vector<std::string> old_catalogs;
};

struct VerifyProblem {
  int64_t id = 0;           // 0 when not tied to one message
  std::string message_id;
  std::string what;
};

// Which messages one Verify reads, and until when.
struct VerifyOptions {
  bool deep = false;  // also re-parse each message
  // Subset `subset` of `of`: the messages whose id % of == subset - 1 (as
  // restic's --read-data-subset n/t, by message instead of pack). Running
  // subsets 1..of reads every message once. REQUIRES: 1 <= subset <= of.
  uint32_t subset = 1, of = 1;
  int64_t after_id = 0;  // resume: only messages with a larger id (ascending)
  // Stop once clock() passes the deadline (checked between chunks, so a
  // run overshoots by at most one chunk); nullopt = no deadline.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::function<std::chrono::steady_clock::time_point()> clock;  // default: steady_clock::now
  size_t chunk = 256;  // messages read between two deadline checks (> 0)
};

struct VerifyResult {
  int64_t checked = 0;    // messages read this run
  bool complete = true;   // false: stopped at the deadline
  int64_t last_id = 0;    // the largest id checked (where to resume)
};

// Who asks for a removal, hold or release, for the audit trail.
struct AuditContext {
  std::string command;  // "delete", "prune", "hold", "release"
  std::string query;    // as the user gave it (prune: the policy applied)
  std::string reason;   // hold: why (required by `mailkeep hold`)
  std::string user;     // "" = the login name of the process's user
  std::string host;     // "" = this host's name
  int64_t at = 0;       // Unix seconds; 0 = now
};

enum class AuditAction { kRemoved = 1, kHeld = 2, kReleased = 3 };

// One message in the audit trail: what one command run did to it. Kept
// after the message is gone.
struct AuditEntry {
  int64_t event = 0;  // the command run (entries of one run share it)
  int64_t at = 0;
  std::string user, host, command, query, reason;
  AuditAction action = AuditAction::kRemoved;
  std::string message_id;
  std::string sha256;  // hex
  std::optional<int64_t> date;
  uint64_t size = 0;
};

// A message under legal hold.
struct HoldInfo {
  int64_t id = 0;
  std::string message_id, subject;
  std::string reason, user, host;
  int64_t since = 0;
};

struct RemovalResult {
  std::vector<int64_t> removed;  // ids removed (catalog and, after the next index run, index)
  std::vector<int64_t> held;     // asked for but under legal hold: kept
  int64_t missing = 0;           // ids not in the catalog (already gone)
};

class Archive {
 public:
  // Creates an empty archive in `dir` (created 0700 if missing). Fails if an
  // archive is already there.
  static Result<std::unique_ptr<Archive>> Create(const std::string& dir, const ArchiveOptions& options = {});
  // Opens an existing archive; kNotFound when `dir` holds none.
  static Result<std::unique_ptr<Archive>> Open(const std::string& dir, OpenMode mode,
                                               const ArchiveOptions& options = {});
  // Rebuilds catalog.sqlite from packs alone: builds catalog.sqlite.rebuild,
  // and only when that is complete moves the old catalog aside
  // (catalog.sqlite.old-N) and the new one into place, so a kill or error
  // changes nothing. Messages, dictionaries, parsed fields and threads come
  // back (ids in pack order), and the legal holds of ARCHIVE/holds (a held
  // message not found, or a damaged file, is a reported problem);
  // locations and sync state do not (they are not in packs). A dictionary whose pack record is damaged is rebuilt from its
  // repair file (packs/dictionaries/) and reported. Every skipped record is
  // reported. The
  // full-text index is removed and every message queued for it.
  static Result<RebuildReport> RebuildCatalog(const std::string& dir, const ArchiveOptions& options = {});
  ~Archive();

  // Stores a batch. Outcomes are in batch order. A message already in the
  // archive (same SHA-256) gets only its new location (kDuplicate), or
  // nothing when that location was known (kKnownLocation). Returns an error
  // only when nothing of the batch could be committed.
  // With `keep_parsed`, new messages are parsed once with those limits
  // (text extraction on: the indexer's) and handed back in
  // IngestOutcome::parsed, so that indexing need not parse them again; the
  // catalog row is the same either way.
  Result<std::vector<IngestOutcome>> Ingest(std::vector<RawMessage>&& batch,
                                            const mime::ParseLimits* keep_parsed = nullptr);

  // The exact stored bytes.
  Result<std::string> ReadRaw(int64_t id);
  Result<std::optional<MessageInfo>> GetInfo(int64_t id);
  // GetInfo of each of `ids`, in their order, leaving out those not in the
  // catalog, read in one catalog read transaction (one snapshot; a page of
  // 20 results costs half the CPU of 20 GetInfo calls, which take SQLite's
  // locks twice each). Not inside InTransaction.
  Result<std::vector<MessageInfo>> GetInfos(const std::vector<int64_t>& ids);
  Result<std::vector<int64_t>> FindByMessageId(const std::string& message_id);
  Result<std::vector<int64_t>> AllIds();
  Result<ArchiveStats> Stats();
  // Checks every message's frame (readable, CRC, SHA-256 matches), every
  // dictionary's pack record and repair file (a damaged one is reported
  // with the one used instead) and the catalog; `deep` also re-parses each
  // message. Calls on_problem for each problem; returns the number of
  // messages checked.
  Result<int64_t> Verify(bool deep, const std::function<void(const VerifyProblem&)>& on_problem,
                         const std::function<void(int64_t done, int64_t total)>& on_progress = {});
  // The same for a subset, in ascending id order, until a deadline (see
  // VerifyOptions). The catalog and dictionary checks run every time.
  Result<VerifyResult> Verify(const VerifyOptions& options,
                              const std::function<void(const VerifyProblem&)>& on_problem,
                              const std::function<void(int64_t done, int64_t total)>& on_progress = {});

  // The full-text index follows the catalog through a durable queue: every
  // committed batch queues its new messages (and messages that gained a
  // location or changed thread); the indexer drains it with MarkIndexed
  // after its own commit, so an index that lags or is lost catches up.
  Result<std::vector<int64_t>> PendingIndex(size_t limit);
  Result<int64_t> PendingIndexCount();
  Status MarkIndexed(const std::vector<int64_t>& ids);
  // The same for an indexer that commits later: the messages leave the
  // queue and become index intents (IntentKind::kIndex) in one transaction,
  // so a run killed before the index committed them leaves them in
  // IndexInFlight() for the next run.
  Status HandToIndex(const std::vector<int64_t>& ids);
  // After an index commit: every index intent is dropped but those of
  // `still_pending` (messages the index refused, retried by a later run).
  Status IndexCommitted(const std::vector<int64_t>& still_pending);
  // Messages handed to the index and not known committed, ascending.
  Result<std::vector<int64_t>> IndexInFlight();
  // Queues every message (for `reindex`).
  Status QueueAllForIndex();
  // Messages of a thread, oldest first.
  Result<std::vector<int64_t>> ThreadMessages(int64_t thread);

  // Sync state: every location recorded in one folder of an account.
  Result<std::vector<KnownLocation>> FolderLocations(const std::string& source, const std::string& account,
                                                     const std::string& folder);
  // Places in one folder where a message was found that `delete` or
  // `prune` removed since (the places mailkeep deleted on the server left
  // out): KnownLocation rows with removed_at set, any uidvalidity. They
  // stay when the same bytes are archived again.
  Result<std::vector<KnownLocation>> RemovedPlaces(const std::string& source, const std::string& account,
                                                   const std::string& folder);
  // Records that these removed places (uidvalidity, key) vanished from the
  // server at `when`. Returns how many changed.
  Result<int64_t> MarkRemovedGone(const std::string& source, const std::string& account, const std::string& folder,
                                  const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when);
  // Records that these messages (key, catalog id) were deleted on the
  // server at `when`. Call only after the server made the deletion final.
  Status MarkDeleted(const std::string& source, const std::string& account, const std::string& folder,
                     uint64_t uidvalidity, const std::vector<std::pair<std::string, int64_t>>& keys, int64_t when);
  // Records that these places (uidvalidity, key) vanished from the server
  // at `when` without mailkeep deleting them; the messages stay. Places
  // already deleted or gone are left as they are. Returns how many changed.
  Result<int64_t> MarkGone(const std::string& source, const std::string& account, const std::string& folder,
                           const std::vector<std::pair<uint64_t, std::string>>& places, int64_t when);
  // Moves places `keys` of a folder from UIDVALIDITY `from` to `to` (the
  // server renumbered the folder's UIDVALIDITY, not its messages), removed
  // places included. Returns how many locations moved.
  Result<int64_t> MoveLocations(const std::string& source, const std::string& account, const std::string& folder,
                                uint64_t from, uint64_t to, const std::vector<std::string>& keys);
  Status RecordRun(const SyncRun& run);

  // The intents journal (see Intent). All writers: kFailedPrecondition when
  // opened read-only.
  // Records `intents` in one transaction that is on disk when this returns
  // (synchronous=FULL); fills their ids. Call it before the step.
  Status RecordIntents(std::vector<Intent>& intents);
  // Records the outcomes of earlier intents (by id: outcome, reply) in one
  // transaction. kUnknown keeps an intent unknown but stores its reply.
  Status ResolveIntents(const std::vector<Intent>& resolved);
  // An append intent resolved by the place the server gave the message:
  // the place is recorded (as AddLocation) and the intent dropped, in one
  // transaction — the place is its outcome. Without a place (the server
  // refused; nothing was appended) the intent is dropped alone.
  Status ResolveAppend(int64_t intent, int64_t message, const Origin* place);
  // Intents of `kind` for `message`, oldest first.
  Result<std::vector<Intent>> Intents(IntentKind kind, int64_t message);
  // Intents of `kind` that have no outcome, oldest first.
  Result<std::vector<Intent>> UnknownIntents(IntentKind kind);
  // Folders of one account and source, with their remembered server state.
  Result<std::vector<FolderState>> FolderStates(const std::string& source, const std::string& account);
  // Remembers a folder's server state. Call only once everything fetched
  // from that folder is committed.
  Status SetFolderState(const std::string& source, const std::string& account, const FolderState& state);
  // The folder is no longer on the server; its messages and locations stay.
  Status MarkFolderGone(const std::string& source, const std::string& account, const std::string& folder,
                        int64_t when);
  // New flags for known places (each Origin names the place and carries
  // its flags), in one commit; the index is updated on its next run.
  // Returns how many places changed.
  Result<int64_t> UpdateFlags(const std::vector<Origin>& places);

  const std::string& dir() const;
  // The archive's keys when it is encrypted, else null.
  const crypto::ArchiveKeys* keys() const;
  // An encrypted archive's new passphrase: crypto::RewrapKeyFile under this
  // writer's lock (so two changes cannot cross). The master key stays: packs
  // and catalog are untouched. kFailedPrecondition for a plain archive or a
  // read-only handle; a wrong `current` is RewrapKeyFile's
  // kFailedPrecondition "wrong passphrase ...".
  Status ChangePassphrase(std::string_view current, std::string_view next, const crypto::KdfParams& params);

  // Removal (`delete`, `prune`): removes `ids` from the catalog — blobs,
  // messages, locations, intents rows (the places on mail servers kept as
  // removed places, see RemovedPlaces); addresses nobody else uses; its
  // Message-ID stays as a thread ghost while its thread lives — skipping
  // held ones, and queues them for the index, whose next run
  // (IndexFeeder) removes their documents. Their bytes stay in the packs
  // until `repack`; first a tombstone per message is appended and synced
  // (store/PACK_FORMAT.md, "Tombstones"), so that rebuild-catalog does
  // not bring them back. Then one catalog transaction removes the rows,
  // records the audit trail (`who`, one entry per removed message) and
  // the packs' new end: a crash removes all of them or none (unsynced
  // tombstones past the end are moved to orphans/ by the next open).
  // Nothing removed: no audit event. kFailedPrecondition when read-only.
  Result<RemovalResult> Remove(const std::vector<int64_t>& ids, const AuditContext& who);
  // Legal hold: held messages survive Remove (and so delete, prune and
  // retention) until released. Hold records who.reason; each newly held
  // (resp. released) message gets an audit entry. Return the ids that
  // changed (already held / not held ones are left alone); unknown ids
  // are skipped. Holds are also kept outside the catalog, in ARCHIVE/holds
  // (store/holds_file.h), for RebuildCatalog: Hold writes it before its
  // catalog commit, Release after, so that a crash never leaves the file
  // without a hold the catalog has; a writable Open brings it in line.
  Result<std::vector<int64_t>> Hold(const std::vector<int64_t>& ids, const AuditContext& who);
  Result<std::vector<int64_t>> Release(const std::vector<int64_t>& ids, const AuditContext& who);
  Result<std::vector<HoldInfo>> Holds();
  Result<bool> IsHeld(int64_t id);
  // The audit trail, oldest first.
  Result<std::vector<AuditEntry>> AuditTrail();
  // Rewrites every pack that holds bytes the catalog no longer references
  // (records of removed messages, dictionaries no message needs, damage):
  // its live records are copied byte for byte to the current pack, the
  // catalog switched to the copies in one transaction, then the pack is
  // removed; one pack at a time, so it needs free space for one pack's live
  // records. Then packs/orphans/ is emptied and the catalog compacted
  // (store/PACK_FORMAT.md, "Repacking"). A kill at any point leaves an
  // archive that verifies; the next repack finishes the work. A pack with a
  // live record that does not verify is left as it is and reported.
  Result<RepackReport> Repack(const RepackOptions& options,
                              const std::function<void(int64_t done, int64_t total)>& on_progress = {});

  // Records one more place of a message already in the archive (e.g. where
  // a sync found a message that `migrate` appended), in its own committed
  // transaction, and queues the message for the index when the place is new
  // or its flags changed. Returns whether anything changed. kNotFound for
  // an unknown id; kFailedPrecondition when opened read-only.
  Result<bool> AddLocation(int64_t id, const Origin& origin);

 private:
  struct Impl;
  // Runs `body` in one catalog transaction, committed when it succeeds.
  Status InTransaction(const std::function<Status()>& body);
  Result<std::vector<int64_t>> ChangeHolds(const std::vector<int64_t>& ids, const AuditContext& who, bool hold);
  explicit Archive(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailkeep
