// Reconnecting a source whose server ended the session. Gmail and Office 365
// (and many providers) drop IMAP and POP3 connections after some number of
// commands or some time; the sources (imap_source.h, pop3_source.h) then log
// in again, open the folder again (IMAP: checking its UIDVALIDITY before
// anything is fetched or deleted there), and go on with what is left, in
// the same run.
//
// ReconnectBudget bounds that: at most `max_in_a_row` reconnects without
// progress between them (a folder listed, a message handed over, deletions
// made final) and at most `max_total` in one account's run. The first
// reconnect in a row is immediate (a drop after N commands is routine), the
// k-th waits k-1 seconds (0, 1, 2 s for the default 3), so a server that is
// down or drops every session at once costs about 3 s before the account
// fails with one line (GaveUp).
//
// Thread-safety: one thread per budget (one per source).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "store/util/status.h"
#include "sync/imap/imap_client.h"

namespace mailkeep::sync {

class ReconnectBudget {
 public:
  // Three in a row: a server that ends every session before anything is
  // done fails fast, and one that drops after N commands gets three tries
  // at each step (enough to ride out a server restart or a lost packet).
  static constexpr int kMaxInARow = 3;
  // A safety bound on logins per run (providers lock accounts that log in
  // too often): a server that lets through a trickle per session is given
  // up on after this many, and the next run goes on where this one stopped.
  static constexpr int kMaxTotal = 1000;

  // `sleep` waits that many seconds (tests pass a recorder); empty = the clock.
  explicit ReconnectBudget(int max_in_a_row = kMaxInARow, int max_total = kMaxTotal,
                           std::function<void(int seconds)> sleep = {});

  // Whether one more reconnect is allowed. If so it is counted, and the
  // pause before it has been waited.
  bool Spend();
  // Something was done since the last reconnect: the in-a-row count restarts.
  void Progress() { in_a_row_ = 0; }

  int in_a_row() const { return in_a_row_; }
  int total() const { return total_; }

  // The one line for a spent budget, e.g. "the server at H ended the
  // session 4 times in a row without progress (gave up after 3 reconnects):
  // LAST; the next run goes on where this one stopped".
  std::string GaveUp(const std::string& server, const std::string& last) const;

 private:
  int max_in_a_row_, max_total_;
  std::function<void(int)> sleep_;
  int in_a_row_ = 0, total_ = 0;
};

// Whether `e`, from an operation of `client`, means the server ended the
// session (EOF, reset, BYE): only then is a new session worth it. Not a
// refusal (the session is still open), not a protocol violation
// (kFailedPrecondition), not a server that stopped answering (a timeout
// would most likely cost the whole timeout again).
bool ServerEndedSession(const Error& e, const imap::ImapClient& client);

// Logs in to the IMAP server of `options` again, within `budget`: `why`
// is what ended the last session. A new session the server ends before
// the login is done costs one more of the budget; a spent budget or a
// refused login is the error (kUnavailable, one line: GaveUp's, or the
// refusal), a login throttled past throttle_max_wait kResourceExhausted
// (the run stops as partial).
Result<std::unique_ptr<imap::ImapClient>> ReconnectImap(const imap::ImapOptions& options, ReconnectBudget& budget,
                                                        Error why);

}  // namespace mailkeep::sync
