// A Source is one place mail comes from — a POP3 mailbox now, IMAP folders
// next — seen the same way by the sync engine (sync/engine.h): list what
// the server holds, fetch what the archive lacks, and delete on the server
// what the archive has made durable.
//
// Thread-safety: one thread per Source.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "store/archive.h"
#include "store/raw_message.h"
#include "store/util/status.h"

namespace mailkeep::sync {

// One message a server holds, as its listing describes it.
struct ServerMessage {
  // source, account, folder, uidvalidity and key identify the copy; flags
  // and internal_date are filled when the listing carries them.
  Origin origin;
  bool has_flags = false;  // the listing reports the server's flags (IMAP)
  uint64_t size = 0;       // as the server counts it (CRLF line ends); 0 = unknown
  int64_t handle = 0;      // the source's own handle: POP3 message number, IMAP UID
};

// What the engine tells a source before it lists.
struct ListContext {
  // What the archive remembers of this account's folders.
  std::vector<FolderState> known_folders;
  // List every message even in folders that did not change since the last
  // run (needed when the delete policy may delete already archived mail).
  bool list_unchanged_folders = false;
  // Open folders read-write (the run may delete there), so that listing,
  // fetching and deleting share one selection.
  bool writable = false;
  // How many places the archive knows, not deleted nor gone, in `folder`
  // under `uidvalidity`: lets a source that lists only what changed tell
  // whether messages vanished. Empty: not known.
  std::function<Result<int64_t>(const std::string& folder, uint64_t uidvalidity)> live_places;
};

struct Listing {
  std::vector<ServerMessage> messages;
  // Messages on the server in all selected folders, also those left out
  // because their folder did not change; -1 = messages.size().
  int64_t on_server = -1;
  // Server state of the listed folders, to remember once everything fetched
  // from them is committed.
  std::vector<FolderState> folder_states;
  // Folders whose every message is in `messages` (not only those that
  // changed), with the UIDVALIDITY they were listed under (0 without one):
  // any other place the archive knows there has vanished from the server.
  std::map<std::string, uint64_t> complete_folders;
};

// The folders of one run, each to be listed, fetched and deleted from in
// turn (Source::ListFolder).
struct FolderList {
  std::vector<std::string> names;
  // Messages in folders left out because they did not change.
  int64_t on_server = 0;
  // Known folders the server no longer has.
  std::vector<std::string> vanished_folders;
};

using MessageSink = std::function<Status(RawMessage&&)>;

class Source {
 public:
  virtual ~Source() = default;

  // The Origin::source of this source's messages: "pop3", "imap".
  virtual const char* source_name() const = 0;
  // Connects and logs in. Errors are one line naming the server.
  virtual Status Connect() = 0;
  // The folders to sync, one at a time: the engine lists one
  // (ListFolder), fetches and deletes what it lists, then goes on to the
  // next, so that a failure in one folder fails that folder only. The
  // default is one unnamed unit: everything, through List().
  virtual Result<FolderList> Folders(const ListContext& context);
  // What the server holds in one folder of Folders() (nothing when it did
  // not change, unless the context asks for all), in the order to fetch
  // it. The folder stays open for Fetch() and Delete(): a server that
  // renumbers a folder at each opening is listed and fetched under one
  // UIDVALIDITY. The default calls List().
  virtual Result<Listing> ListFolder(const std::string& folder, const ListContext& context);
  // What the server holds, all at once, for sources without folders; the
  // default is an error (such sources override ListFolder).
  virtual Result<Listing> List(const ListContext& context);
  // Fetches `wanted` (taken from the last listing) in order and hands each
  // message to `sink` with its origin set. A sink error stops the fetch and
  // is returned. kUnavailable: the session is lost.
  virtual Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) = 0;
  // Deletes messages on the server. The caller passes only messages whose
  // catalog commit is durable. Returns those whose deletion the server has
  // made final; on an error nothing may be assumed deleted.
  virtual Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) = 0;
  // Ends the session. Deletions already returned by Delete() stay final.
  virtual Status Close() = 0;
};

inline Result<FolderList> Source::Folders(const ListContext&) { return FolderList{{""}, 0, {}}; }
inline Result<Listing> Source::ListFolder(const std::string&, const ListContext& context) { return List(context); }
inline Result<Listing> Source::List(const ListContext&) {
  return MakeError(ErrorCode::kInternal, std::string(source_name()) + ": lists folder by folder only");
}

}  // namespace mailkeep::sync
