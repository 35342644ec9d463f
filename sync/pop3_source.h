// POP3 as a sync Source: one folder, "INBOX", whose places are UIDLs.
// Deletions are DELE commands made final by QUIT, so Delete() ends the
// session; a connection lost before QUIT deletes nothing (RFC 1939 §6).
//
// A server that ends the session (Gmail and others drop POP3 connections
// after some commands) is logged in to again (ReconnectBudget,
// sync/reconnect.h), and the run goes on: message numbers are per session,
// so the new session's UIDL + LIST maps what is left to fetch or delete to
// its new numbers by UIDL (and size); a UIDL that is gone or repeated since
// is neither fetched nor deleted. Deletions go in chunks that fit the
// sessions the server allows, each made final by its own QUIT: once a
// session ended after R replies, each later session sends DELE only as far
// as R allows, with room for the QUIT. As for IMAP (imap_source.h), only
// sessions the server ended are retried, and the initial Connect() is not.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "sync/pop3/pop3_client.h"
#include "sync/reconnect.h"
#include "sync/source.h"

namespace mailkeep::sync {

class Pop3Source : public Source {
 public:
  Pop3Source(std::string account, pop3::Pop3Options options, ReconnectBudget budget = ReconnectBudget());
  ~Pop3Source() override;

  const char* source_name() const override { return kSource; }
  Status Connect() override;
  Result<Listing> List(const ListContext& context) override;
  Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) override;
  // Deletions made final (QUIT answered) before an error stay so: they are
  // not returned then, and the next run's listing marks those places gone.
  Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) override;
  Status Close() override;

  static constexpr char kSource[] = "pop3";
  static constexpr char kFolder[] = "INBOX";

 private:
  // Runs `step`; when it failed because the server ended the session (not
  // when *stop is set: the sink failed), logs in again within the budget
  // and runs it again.
  Status Retrying(const std::function<Status()>& step, const bool* stop = nullptr);
  // A new session after a lost one, within the budget. Errors are
  // kUnavailable: the account cannot go on.
  Status Reconnect(Error why);
  // In a session after the listing's: UIDL + LIST there (once).
  Status Renumber();
  // The session's number for a message of the listing: its handle in the
  // listing's own session; in a later one (after Renumber), the number its
  // UIDL has there (nullopt when gone, repeated, or of another size).
  std::optional<int> NumberOf(const ServerMessage& m) const;
  // How many DELE fit in this session with its QUIT, at least 1 (all
  // when no session has ended yet).
  size_t DeleteRoom() const;

  std::string account_;
  pop3::Pop3Options options_;
  ReconnectBudget budget_;
  std::unique_ptr<pop3::Pop3Client> client_;
  bool listing_session_ = false;  // the session is the one List() ran in: handles hold
  std::optional<std::map<std::string, pop3::MailboxEntry>> renumbered_;  // by UIDL, in a later session
  int session_limit_ = 0;  // replies a session carried when the server ended it; 0 = none ended yet
};

}  // namespace mailkeep::sync
