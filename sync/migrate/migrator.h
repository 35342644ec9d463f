// Migrating archived messages to an IMAP account (mailkeep migrate): each
// message is APPENDed with its flags and internal date, e.g. to move an
// archive to a new server.
//
// What each message gets, from its locations (ranked: places still on their
// server before those marked gone; then IMAP, Maildir, mbox, anything
// else; among IMAP places, one in another account and not deleted first):
//   flags          the best IMAP place's flags, else a Maildir place's, else
//                  none, never from a place marked gone; \Recent and \Deleted are never sent (a \Deleted
//                  copy would vanish with the target's next EXPUNGE); a flag
//                  the target folder does not keep (PERMANENTFLAGS without
//                  it, and without \* for a keyword) is not sent either —
//                  servers refuse the APPEND with BAD — with one warning per
//                  flag and run. The folder is SELECTed for that when a
//                  keyword is to be set, and always when the server lacks
//                  UIDPLUS (below); it is then held read-only (EXAMINE) while
//                  messages are appended to it, since GNU Mailutils keeps only
//                  the first APPEND (without its flags) into a folder the
//                  session has SELECTed read-write.
//   internal date  the first ranked place that has one (IMAP INTERNALDATE,
//                  Maildir mtime, mbox From_ date), else the Date header,
//                  else none (the server's clock)
//   folder         Options::folder for all (a target folder's exact name,
//                  else a neutral name, folder_map.h, in the target's
//                  layout; INBOX by default); with keep_folders the best
//                  place's folder translated to the target (folder_map.h:
//                  the target's NAMESPACE prefix and delimiter, the user's
//                  rules, then special-use folders): an IMAP folder of
//                  another account from that account's layout, which is
//                  inferred from the folder names the archive keeps for it
//                  (InferLayout); a place in the target account itself as it
//                  is; for a Maildir / mbox / directory the last path
//                  component, where Maildir++ ".Lists.dev" is Lists/dev (each
//                  level decoded from modified UTF-7) and "Maildir" / "INBOX"
//                  are INBOX, and an mbox loses its .mbox/.mbx (and
//                  .gz/.zst/.xz/.bz2) suffix; POP3 → INBOX
// Missing folders are created (CREATE; [TRYCREATE] also leads to one). A
// folder the server will not create (or SELECT) fails once with one line;
// its other messages fail quietly (Outcome::repeat), other folders go on.
//
// Nothing appended twice — the archive's intents journal (IntentKind::
// kAppend, target the account, via the folder): an intent is committed
// before each APPEND; the server's answer resolves it in one transaction
// with the place it gave (source "imap", the account, the folder,
// UIDVALIDITY and UID from APPENDUID). Without UIDPLUS the folder is
// selected and the UID found as a sync would know it: the one UID from
// UIDNEXT (as EXAMINE gave it, then after the last one found) on, by UID
// FETCH, else the one among those with the message's Message-ID; not unique, the place gets
// uidvalidity 0 and key "appended-<id>" (which no server UID can collide
// with) and one warning per folder: a sync of the target fetches it again. A message
// with a live (not deleted) place in the target folder is not appended
// again — whether an earlier migrate put it there or a `sync` of that
// account found it there. An intent left unknown (the process or the
// connection died between the intent and the answer) is first looked for
// in the folder: UID SEARCH by size (and Message-ID), candidates
// compared byte for byte; found, its place is recorded ("recovered");
// not found, the message is skipped with a warning (a server that altered
// it would not be recognised), unless retry_unknown.
//
// Reconnect and go on (issue 12.7): a session the server ends (EOF, reset,
// BYE; not a timeout, not a refusal) is logged in to again within
// Options::reconnect (sync/reconnect.h) and the message tried again there.
// An APPEND sent in this run that got no answer is settled first: when the
// folder's UIDVALIDITY is the one known before it and its UIDNEXT no higher
// than known then (from LIST-STATUS, SELECT, the UID of the last APPEND
// there plus one, or EXAMINE after it), the server provably did not store
// it (RFC 3501 2.3.1.1: every message added gets a UID at least UIDNEXT,
// and UIDNEXT grows) and it is appended again under the same intent;
// otherwise it is looked for as above (found: recorded; not found: skipped
// with the warning). A folder LIST-STATUS did not mark (servers without it:
// Courier, GNU Mailutils) is SELECTed once before its first APPEND, so the
// proof holds there too — except in an empty GNU Mailutils mbox, whose
// UIDVALIDITY is new at every look until a message holds it (3.15,
// measured), so the message is looked for there.
//
// Throttling (issue 12.8): a command the server throttles longer than the
// account's throttle_max_wait (net/throttle.h) stops the run as partial
// (Outcome::partial): that message was not appended (a refused APPEND
// drops its intent), nothing is counted failed, the next run goes on.
//
// Thread-safety: a Migrator belongs to the thread that owns the Archive.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/archive.h"
#include "store/util/status.h"
#include "sync/imap/imap_client.h"
#include "sync/migrate/folder_map.h"
#include "sync/reconnect.h"

namespace mailkeep::migrate {

using Warn = std::function<void(const std::string&)>;

struct Options {
  std::string account;                 // the target account's name (locations, intents)
  std::string folder = "INBOX";        // one folder for all ...
  bool keep_folders = false;           // ... or each message's own (see above)
  FolderMap folder_map;                // the user's rules for keep_folders (folder_map.h)
  bool dry_run = false;                // plan only: append and record nothing
  bool retry_unknown = false;          // append again what an unknown intent left unfound
  int debug_crash_after_appends = 0;   // testing: abort() after the Nth APPEND was accepted, before recording it
  // Sessions the server ends (EOF, reset, BYE) are logged in to again
  // within this budget (sync/reconnect.h); tests pass one that does not sleep.
  sync::ReconnectBudget reconnect;
};

struct Outcome {
  enum Kind {
    kAppended,   // appended now (dry run: would be)
    kAlready,    // already in the target folder
    kRecovered,  // an unknown intent found done on the server, now recorded
    kUnknown,    // an unknown intent not found on the server: skipped (see retry_unknown)
    kFailed,     // see error
  };
  Kind kind = kFailed;
  std::string folder, flags;
  std::optional<int64_t> internal_date;
  bool create_folder = false;   // dry run: the folder would be created
  bool check_first = false;     // an unknown intent is looked for first
  uint64_t bytes = 0;           // appended
  std::string error;            // kFailed: one line
  // kFailed only: stop the run — the connection is gone, the server
  // throttles longer than throttle_max_wait (then `partial` too: the
  // message was not appended, nothing failed), or the archive could not
  // record (then `archive` too); the rest is for the next run.
  bool stop = false, partial = false, archive = false;
  // kFailed only: the folder was refused earlier in this run and `error`
  // was already reported for it (print nothing again).
  bool repeat = false;
};

class Migrator {
 public:
  // Connects and logs in to the target account and learns its folders and
  // hierarchy delimiter. Errors: the connection or the listing.
  // REQUIRES: `archive` opened read-write unless options.dry_run; it
  // outlives the Migrator.
  static Result<std::unique_ptr<Migrator>> Connect(Archive& archive, const imap::ImapOptions& imap,
                                                   Options options, Warn warn);
  ~Migrator();

  Outcome Migrate(int64_t id);
  // Logs out (unless the connection is gone); returns the server's ALERTs.
  std::vector<std::string> Finish(bool connection_lost);
  const std::vector<std::string>& created_folders() const;

  struct State;

 private:
  explicit Migrator(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace mailkeep::migrate
