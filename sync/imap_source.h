// IMAP as a sync Source: every folder the account's patterns select, one
// at a time; places are (folder, UIDVALIDITY, UID). A folder whose
// UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ (from LIST-STATUS, else EXAMINE)
// are what the archive remembers is skipped without reading its UIDs.
// Otherwise its UIDs with flags and sizes are listed in one UID FETCH —
// with CONDSTORE only those changed since the remembered HIGHESTMODSEQ
// (CHANGEDSINCE), new ones included, unless fewer messages are left than
// the archive knows there (then all, to see what vanished) — so new
// messages are fetched and flag changes recorded. A folder is listed,
// fetched and deleted from in one selection (EXAMINE, or SELECT when the
// run may delete): servers that give a folder a new UIDVALIDITY at every
// opening (Courier, Mailutils; see sync/engine.h) are read consistently.
// Deletion is UID STORE +FLAGS.SILENT (\Deleted) and UID EXPUNGE of exactly
// those UIDs (refused without UIDPLUS), final at once.
//
// A server that ends the session (Gmail and Office 365 drop connections
// after some commands) is logged in to again (ReconnectBudget,
// sync/reconnect.h) and the step goes on with what is left: the folder list
// or the folder's listing again, the messages not handed over yet, the
// folders not deleted from yet. Every folder is opened again first, and its
// UIDVALIDITY must be the listed one before anything is fetched or deleted
// there (a UID names one message for good only under one UIDVALIDITY); if
// not, that folder fails and nothing is deleted there. Only sessions the
// server ended (EOF, reset, BYE) are retried: not a server that stopped
// answering (a timeout or command_deadline would be waited again), a
// refusal, a protocol violation or a sink (archive) error. The initial
// Connect() is not retried.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sync/imap/imap_client.h"
#include "sync/reconnect.h"
#include "sync/source.h"

namespace mailkeep::sync {

struct ImapSourceOptions {
  imap::ImapOptions client;
  std::vector<std::string> folders{"*"};  // LIST-style patterns over UTF-8 names: * any, % any but the delimiter
  std::vector<std::string> exclude;       // same syntax; wins over `folders`
};

// Whether `name` matches an IMAP LIST pattern ("*" anything, "%" anything
// but `delimiter`). "INBOX" matches case-insensitively, as RFC 3501 says.
bool FolderMatches(const std::string& pattern, const std::string& name, char delimiter);

class ImapSource : public Source {
 public:
  ImapSource(std::string account, ImapSourceOptions options, ReconnectBudget budget = ReconnectBudget());
  ~ImapSource() override;

  const char* source_name() const override { return kSource; }
  Status Connect() override;
  Result<FolderList> Folders(const ListContext& context) override;
  // Errors after which the session is closed are kUnavailable: the run
  // cannot go on to another folder.
  Result<Listing> ListFolder(const std::string& folder, const ListContext& context) override;
  Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) override;
  Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) override;
  Status Close() override;

  static constexpr char kSource[] = "imap";

 private:
  // Opens `folder` (read-write when `writable`) unless it is open so
  // already, and checks that its UIDVALIDITY is still the listed one
  // (kFailedPrecondition: that folder fails, the session goes on).
  Status Open(const std::string& folder, uint64_t uidvalidity, bool writable);

  Result<Listing> ListOpen(const std::string& folder, const ListContext& context);
  Status FetchOpen(const std::vector<ServerMessage>& wanted, const MessageSink& sink);
  // Deletes in the folders that have no message in `gone` yet, adding
  // theirs once the server made their deletion final.
  Status DeleteOpen(const std::vector<ServerMessage>& durable, std::vector<ServerMessage>* gone);
  // `e`, as kUnavailable when the session is closed.
  Error SessionError(const Error& e) const;
  // Runs `step`; when the server ended the session (not when *stop is
  // set: the sink failed), logs in again within the budget and runs it
  // again. Errors after which the session is closed are kUnavailable.
  Status Retrying(const std::function<Status()>& step, const bool* stop = nullptr);
  // A new session after a lost one. Errors are kUnavailable.
  Status Reconnect(Error why);

  struct Selection {
    std::string folder;
    uint64_t uidvalidity = 0;
    bool writable = false;
  };
  std::string account_;
  ImapSourceOptions options_;
  ReconnectBudget budget_;
  std::unique_ptr<imap::ImapClient> client_;
  std::optional<Selection> selected_;  // the folder open now, as listed
};

}  // namespace mailkeep::sync
