// POP3 client (RFC 1939; CAPA and PIPELINING, RFC 2449; STLS, RFC 2595;
// SASL AUTH, RFC 5034, with PLAIN, LOGIN, CRAM-MD5 and XOAUTH2; APOP;
// USER/PASS).
//
// One Pop3Client is one session: Connect() greets, reads CAPA, upgrades with
// STLS when asked and logs in; List/Retrieve/Top/Delete work in the
// TRANSACTION state; Quit() ends it. Deletions become final only when the
// server answers +OK to QUIT: a session that ends any other way (error,
// destructor, lost connection) deletes nothing.
//
// Messages come back in the form a Maildir file has: dot-unstuffed, the
// final "." line removed, every CRLF (or bare LF) line end turned into LF,
// a lone CR inside a line kept. A message pulled over POP3 therefore has the
// same bytes (and hash) as the same message imported from a Maildir.
//
// Errors: one line naming the command, the server and the server's text,
// never the password, e.g.
//   "POP3 login as alice at mail.example.com:995 failed (AUTH PLAIN): [AUTH] Authentication failed."
//   kUnavailable         network trouble or a temporary server condition
//                        ([SYS/TEMP], [IN-USE], [LOGIN-DELAY]); retry later.
//   kFailedPrecondition  login refused, TLS/policy problems, no UIDL, the
//                        server broke the protocol (garbage reply, a line
//                        over the limit); retrying will not help.
//   kNotFound            -ERR to RETR/TOP/DELE of one message (e.g. deleted
//                        by another session).
//   kInvalidArgument     bad arguments (no user name, message number < 1).
// After a network or protocol error the connection is dropped and every
// later call fails with kUnavailable.
//
// Thread-safety: one thread at a time per client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"
#include "sync/net/connection.h"
#include "sync/net/login_chooser.h"

namespace mailkeep::pop3 {

// The login methods shared with IMAP and SMTP (sync/net/login_chooser.h);
// POP3 uses kPlain, kLogin, kCramMd5, kXoauth2 (SASL AUTH), kApop and
// kUserPass (USER/PASS).
using AuthMethod = net::LoginMethod;

struct Pop3Options {
  net::ConnectOptions connect;         // service is forced to kPop3
  std::string user, password;          // password = OAuth2 token for kXoauth2 / kOauthBearer
  // kAuto (net::ChooseLogin): over TLS SASL PLAIN, LOGIN, CRAM-MD5, then
  // USER/PASS, never APOP (servers such as GNU Mailutils put a timestamp in
  // every greeting but accept APOP only for some users); without TLS
  // (allow_plaintext) CRAM-MD5 and APOP first. XOAUTH2, OAUTHBEARER only when named.
  AuthMethod auth = AuthMethod::kAuto;
  // kXoauth2 / kOauthBearer: when the server refuses the token (-ERR),
  // called once for a new one, which is tried once more in the same
  // session. Empty = no second try. Its error ends the login.
  std::function<Result<std::string>()> renew_token;
  bool allow_plaintext = false;        // without it, no password is sent unless the connection is TLS

  // Limits: going past one is an error, so memory stays bounded whatever
  // the server sends or claims. Each reply also has a byte budget and the
  // deadline connect.command_deadline (net::Connection::BeginCommand):
  // 1 MiB for CAPA, AUTH and status replies; max_listing_bytes for UIDL and
  // LIST; 3 x max_message_size (+ a line) for RETR and TOP.
  size_t max_reply_line = 64 * 1024;        // status lines, CAPA/UIDL/LIST lines
  size_t max_message_line = 1024 * 1024;    // one line of a message (RETR/TOP)
  uint64_t max_message_size = 1ull << 30;   // one whole message (1 GiB)
  uint64_t max_listing_bytes = 64ull << 20; // one UIDL or LIST reply (64 MiB)
  size_t max_messages = 1000000;            // lines of one UIDL or LIST reply
  // RETR/DELE commands in flight at once when the server offers PIPELINING
  // (1 otherwise).
  int pipeline_window = 16;
};

struct MailboxEntry {
  int number = 0;        // message number in this session, 1-based
  std::string uidl;      // the server's unique id (UIDL)
  uint64_t size = 0;     // octets as the server counts them (CRLF line ends)
};

class Pop3Client {
 public:
  // Greeting (keeps the APOP timestamp), CAPA, STLS when tls = kStartTls
  // (refused if the server does not offer it; CAPA again afterwards),
  // then authentication. With tls = kNone and allow_plaintext = false it
  // fails before any credential is sent.
  static Result<std::unique_ptr<Pop3Client>> Connect(const Pop3Options& options);

  ~Pop3Client();  // closes without QUIT: nothing marked is deleted
  Pop3Client(const Pop3Client&) = delete;
  Pop3Client& operator=(const Pop3Client&) = delete;

  // CAPA lines as sent (empty when the server has no CAPA).
  const std::vector<std::string>& capabilities() const;
  // True when a CAPA line's first word equals `name` (case-insensitive).
  bool HasCapability(std::string_view name) const;
  // The method that logged in (never kAuto).
  AuthMethod auth_method() const;
  bool secure() const;
  const std::string& peer() const;
  // After QUIT, or an error that ended the session (the server hung up).
  bool closed() const;
  // Closed because the server stopped answering (net::Connection::timed_out).
  bool timed_out() const;
  // Replies (+OK / -ERR lines) read in this session, the greeting
  // included: how many commands a session carried before the server ended
  // it (Pop3Source uses it to fit deletions into the sessions a server allows).
  int replies() const;

  // UIDL + LIST merged, in message-number order. A server without UIDL →
  // kFailedPrecondition with a clear message. Numbers and sizes are the
  // server's claims: nothing is sized by them.
  Result<std::vector<MailboxEntry>> List();

  // A throttling -ERR to UIDL, LIST or RETR (sync/net/throttle.h) is waited
  // out as connect.throttle allows and the command sent again (RETR from
  // the refused message on); past that, kResourceExhausted.
  // RETR each number (pipelined in a bounded window when PIPELINING is
  // advertised); each message is buffered by the bytes that came and calls sink(number, bytes) in the given order, bytes in
  // Maildir form (see the top of this file). If sink returns an error, or the
  // server answers -ERR, no further RETR is sent, the ones in flight are read
  // and dropped, and that error is returned; the session stays usable.
  Status Retrieve(const std::vector<int>& numbers,
                  const std::function<Status(int number, std::string&& message)>& sink);

  // Headers plus `lines` body lines of one message, in the same form.
  Result<std::string> Top(int number, int lines);

  // DELE each (pipelined if offered). Only marks: final after Quit(). On
  // -ERR no further DELE is sent and the first error is returned (earlier
  // ones in this call stay marked).
  Status Delete(const std::vector<int>& numbers);

  // QUIT; an error if the server does not answer +OK (deletions then are not
  // final). The connection is closed either way.
  Status Quit();

  class Impl;

 private:
  explicit Pop3Client(std::unique_ptr<Impl> impl);
  // One try of List() / Retrieve(); a -ERR's text goes to *refusal (and,
  // for RETR, the index into `numbers` of the refused one to *refused_at),
  // for List() and Retrieve() to wait out throttling (net/throttle.h).
  Result<std::vector<MailboxEntry>> ListOnce(std::string* refusal);
  Status RetrieveOnce(const std::vector<int>& numbers,
                      const std::function<Status(int number, std::string&& message)>& sink, std::string* refusal,
                      size_t* refused_at);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailkeep::pop3
