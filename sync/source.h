// A Source is one place mail comes from — a POP3 mailbox now, IMAP folders
// next — seen the same way by the sync engine (sync/engine.h): list what
// the server holds, fetch what the archive lacks, and delete on the server
// what the archive has made durable.
//
// Thread-safety: one thread per Source.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "store/raw_message.h"
#include "store/util/status.h"

namespace mailkeep::sync {

// One message a server holds, as its listing describes it.
struct ServerMessage {
  // source, account, folder, uidvalidity and key identify the copy; flags
  // and internal_date are filled when the listing carries them.
  Origin origin;
  uint64_t size = 0;   // as the server counts it (POP3 LIST counts CRLF line ends)
  int64_t handle = 0;  // the source's own handle: POP3 message number, IMAP UID
};

using MessageSink = std::function<Status(RawMessage&&)>;

class Source {
 public:
  virtual ~Source() = default;

  // Connects and logs in. Errors are one line naming the server.
  virtual Status Connect() = 0;
  // Everything the server holds, in the order to fetch it.
  virtual Result<std::vector<ServerMessage>> List() = 0;
  // Fetches `wanted` (taken from List()) in order and hands each message to
  // `sink` with its origin set. A sink error stops the fetch and is returned.
  virtual Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) = 0;
  // Deletes messages on the server. The caller passes only messages whose
  // catalog commit is durable. Returns those whose deletion the server has
  // made final; on an error nothing may be assumed deleted.
  virtual Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) = 0;
  // Ends the session. Deletions already returned by Delete() stay final.
  virtual Status Close() = 0;
};

}  // namespace mailkeep::sync
