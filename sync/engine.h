// The sync engine: one account's run, whatever its protocol. Folder by
// folder (Source::Folders), each in one selection on the server:
//
//   1. list what the server holds there (Source::ListFolder)
//   2. plan: what the archive lacks, what is too large, what may be deleted
//   3. fetch, handing messages to the Archive in batches bounded by count
//      and bytes; a message counts only once its batch is committed
//   4. delete on the server only messages whose catalog commit is durable
//      and whose stored bytes read back with the right SHA-256, then
//      record the deletion in the catalog
//
// A folder that fails (it cannot be opened, the server refuses a command)
// is one error line and the next folder is synced; the account stops only
// when the session is lost or the archive fails, or, as a partial run
// (AccountReport::partial), when the server throttles for longer than the
// run may wait (kResourceExhausted) or max_bytes_per_run is reached. Places that a complete
// listing no longer shows (expunged by another client, or under an old
// UIDVALIDITY) are marked gone; the mail stays archived.
//
// A folder listed under a new UIDVALIDITY whose UIDs hold, by size and
// INTERNALDATE, what was archived from them under the previous one is a
// server renumbering the folder, not its messages (Courier without
// courierimapuiddb and Mailutils for an mbox without X-IMAPbase do so at
// every opening): the archived places move to the new UIDVALIDITY, nothing
// is fetched or recorded again, and one line says what to do about it.
// Such a moved place is not proof for a deletion: it is fetched and
// compared by hash first.
//
// A message leaves the server only when this archive provably holds it:
// fetched in this run, or archived from that very place before with what
// the listing says of it now (size, INTERNALDATE where the protocol has
// one). On any doubt (another size or date, a size of 0, the archived copy
// disagreeing when read back) it is fetched again first: the archive keeps
// it (deduped by SHA-256) and it may then be deleted like a new message. A
// key listed twice in one folder is never deleted (nor trusted as known).
//
// A run killed at any instant loses nothing: before step 4 the server
// still has everything; a POP3 DELE becomes final only with QUIT, which is
// sent after the commit; a deletion that the catalog did not record yet
// just means the location keeps deleted_at empty.
//
// Thread-safety: SyncAccount may run for several accounts at once on one
// ArchiveGate; the gate serializes every use of the Archive.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/archive.h"
#include "sync/source.h"

namespace mailkeep::sync {

struct DeletePolicy {
  enum class Kind {
    kNever,          // keep everything on the server (default)
    kAfterDownload,  // delete once archived
    kOlderThan,      // delete once archived for `days` days
  };
  Kind kind = Kind::kNever;
  int days = 0;
};

struct SyncSettings {
  DeletePolicy delete_policy;
  uint64_t max_message_size = 0;   // 0 = no limit; larger messages are skipped with a warning
  size_t batch_messages = 500;     // a commit at least this often...
  size_t batch_bytes = 64 << 20;   // ...and at least every this many bytes
  bool dry_run = false;            // plan and report; change nothing anywhere
  // 0 = no limit. Once this run has fetched this many bytes, no new
  // message is fetched: a folder's fetch list is cut where its listed sizes
  // would pass what is left (one message always goes, so every run makes
  // progress), later folders wait, and the report says partial; what was
  // fetched is kept (and deleted under the policy), the rest next run.
  uint64_t max_bytes_per_run = 0;
  int64_t now = 0;                 // Unix seconds for deletion ages; 0 = the clock
  // Called with the archive (inside the gate) after each committed batch,
  // with the batch's outcomes (the callee may move from them), e.g. to hand
  // the new messages to the full-text index while the next batch is
  // fetched. Its errors are the caller's business.
  std::function<void(Archive&, std::vector<IngestOutcome>&)> after_commit;
  // Given: new messages are parsed once with these limits, and handed to
  // after_commit in IngestOutcome::parsed (Archive::Ingest's keep_parsed).
  std::optional<mime::ParseLimits> keep_parsed;
};

// The archive, shared by accounts that sync in parallel.
class ArchiveGate {
 public:
  explicit ArchiveGate(Archive& archive) : archive_(archive) {}
  template <typename F>
  auto With(F&& f) {
    std::lock_guard<std::mutex> lock(mu_);
    return f(archive_);
  }

 private:
  std::mutex mu_;
  Archive& archive_;
};

struct SyncPlan {
  // Not archived from that place yet; or archived, but the listing
  // contradicts what was archived from there (a reused UID or UIDL: it may
  // be another message, whatever the policy), or cannot prove it and the
  // policy may delete it; or listed under a key that the listing repeats.
  std::vector<ServerMessage> fetch;
  std::vector<ServerMessage> too_large;  // to fetch, but over max_message_size: skipped
  // Archived from that place before this run, in agreement with the
  // listing, and due for deletion under the policy, with their catalog ids.
  // Still to be proven by reading the archived copy back (ListedSize).
  std::vector<std::pair<ServerMessage, int64_t>> deletable;
  // Archived places whose flags changed on the server.
  std::vector<ServerMessage> flag_changes;
  // Messages whose key the listing repeats in their folder (also in fetch
  // or too_large): never deleted.
  std::vector<ServerMessage> listed_twice;
};

// What the archive knows of each listed folder, by folder name: its
// locations and its removed places (KnownLocation::removed_at).
using KnownFolders = std::map<std::string, std::vector<KnownLocation>>;

// Decides what to do with a listing given what the archive knows of those
// folders. A place whose deletion mailkeep recorded, or that was marked
// gone, counts as unknown: if it is listed again, it holds another message
// (a reused UIDL) or the copy came back, and either way it is fetched (the
// archive dedupes). A known place agrees with the listing when the
// INTERNALDATEs are equal (where both have one) and the listed size is
// the one the server listed there before (where the catalog has it; else
// one the archived bytes can have with CRLF line ends); a size of 0
// (unknown) agrees but proves nothing. A removed place (delete, prune)
// counts as known even when gone: when the listing agrees with it, the
// message is neither fetched nor deleted, nor are its flags recorded.
// Pure: no I/O; `settings.now` must be set.
SyncPlan PlanSync(const std::vector<ServerMessage>& listing, const KnownFolders& known,
                  const SyncSettings& settings);

// The size a server lists (line ends counted as CRLF) for a message in the
// form sources hand it over (line ends LF; see sync/pop3/pop3_client.h).
uint64_t ListedSize(std::string_view message);

struct AccountReport {
  std::string account;
  int64_t listed = 0;      // messages on the server (in the selected folders)
  int64_t fetched = 0;     // new messages stored
  int64_t duplicates = 0;  // fetched, but the archive had the content already (new location recorded)
  uint64_t bytes = 0;      // bytes fetched
  int64_t skipped = 0;     // over max_message_size
  int64_t deleted = 0;     // deleted on the server (final)
  int64_t flags_updated = 0;  // archived places whose flags changed on the server
  int64_t errors = 0;      // messages, folders or steps that failed
  int64_t folders_failed = 0;  // folders not synced (each also counts in errors); the others were
  double seconds = 0;
  bool ok = true;          // false: the run stopped early (connect, login, network, archive)
  // Not empty: nothing failed, but the run stopped before everything was
  // fetched, and why (the server throttled past throttle_max_wait,
  // max_bytes_per_run reached); the rest next run.
  std::string partial;
  // dry run: what would happen
  int64_t would_fetch = 0, would_delete = 0;
  uint64_t would_fetch_bytes = 0;
  std::vector<std::string> problems;  // one line each, warnings and errors
  std::vector<std::string> details;   // dry run: "fetch KEY SIZE" / "delete KEY" lines
};

// Runs one account against its source. Never throws; every failure ends up
// in the report (ok = false for a failure that stopped the run).
AccountReport SyncAccount(const std::string& account, Source& source, ArchiveGate& archive,
                          const SyncSettings& settings,
                          const std::function<void(int64_t done, int64_t total)>& on_progress = {});

}  // namespace mailkeep::sync
