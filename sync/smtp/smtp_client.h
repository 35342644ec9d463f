// SMTP client for sending stored messages out again (mailkeep resend):
// RFC 5321 with STARTTLS (RFC 3207), AUTH (RFC 4954: PLAIN, LOGIN, CRAM-MD5,
// XOAUTH2), SIZE (RFC 1870), PIPELINING (RFC 2920), DSN (RFC 3461),
// 8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531).
//
// One SmtpClient is one session over one net::Connection. Open() greets,
// says EHLO (HELO when the server does not know EHLO), upgrades with
// STARTTLS when asked (EHLO again afterwards) and logs in when credentials
// are given. Send() then runs one mail transaction per message; the session
// is reused for many messages. Quit() ends it.
//
//   auto client = SmtpClient::Open(connect, options);      // Result<unique_ptr>
//   for (const auto& m : messages) {
//     auto r = (*client)->Send(envelope, m.bytes);         // Result<SendResult>
//     if (!r) ...                        // invalid envelope or a closed session
//     for (const auto& rcpt : r->recipients) Record(rcpt.address, rcpt.outcome, rcpt.reason);
//     if (r->session_error) ...          // reconnect for the next message
//   }
//   (*client)->Quit();
//
// The message goes out byte for byte apart from line-end normalization
// (CRLF) and dot-stuffing (smtp_data.h), in chunks, never copied whole.
//
// Errors (Status/Result; no exception escapes): one line naming the command,
// the server ("host:port") and the server's reply, never a password, e.g.
//   "SMTP login as alice at mail.example.com:587 failed: 535 5.7.8 Authentication
//    credentials invalid; check the user name and password"
//   kUnavailable         network trouble (refused, timeout, connection lost),
//                        the server ended the session (421 at any time), or a
//                        temporary refusal (4xx greeting, EHLO, AUTH); retry later.
//   kFailedPrecondition  the server refused for good (554 greeting, 5xx AUTH),
//                        TLS/policy problems (certificate, STARTTLS not
//                        offered, no password over plaintext), a mechanism or
//                        extension it does not offer, or it broke the protocol
//                        (garbage reply, a line or reply over the limits).
//   kInvalidArgument     bad arguments (no recipients, a control character in
//                        an address, a bad hello name or ENVID, port 465
//                        without implicit TLS).
// After a network or protocol error, or a 421, the connection is dropped and
// every later call fails with kUnavailable.
//
// Outcome of a message: Send() returns per-recipient outcomes rather than
// one status, because RCPT replies differ per recipient (one refused
// recipient does not stop the others). An outcome is final for that
// recipient and this attempt: kAccepted means the server took
// responsibility (its RCPT and the end of DATA were both accepted),
// kDeferred (4xx, or the session ended first) means try again later,
// kFailed (5xx, or refused here before MAIL, e.g. too big) means do not.
//
// Timeouts: every read and write uses net::ConnectOptions::read_timeout.
// RFC 5321 §4.5.3.2 lets a server take up to 10 minutes to answer the end of
// DATA; a relay that scans mail slowly needs read_timeout raised to match.
//
// Thread-safety: one thread at a time per client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"
#include "sync/net/connection.h"
#include "sync/net/login_chooser.h"
#include "sync/smtp/smtp_data.h"
#include "sync/smtp/smtp_reply.h"

namespace mailkeep::smtp {

// The login methods shared with POP3 and IMAP (sync/net/login_chooser.h);
// SMTP uses the SASL ones: kPlain, kLogin, kCramMd5, kXoauth2, kOauthBearer.
using AuthMethod = net::LoginMethod;

struct SmtpOptions {
  // The EHLO/HELO argument: a domain name or an address literal
  // ("[192.0.2.1]"). "" = this machine's fully qualified name, or
  // "localhost" when it has none.
  std::string hello_name;

  // Credentials; user "" = no AUTH. For kXoauth2 and kOauthBearer
  // `password` is the OAuth2 access token.
  std::string user, password;
  // kAuto (net::ChooseLogin): over TLS the first offered of PLAIN, LOGIN,
  // CRAM-MD5; without TLS (allow_plaintext) CRAM-MD5 first, since it does
  // not send the password. XOAUTH2 is used only when named. A named
  // mechanism the server does not offer is an error (the message lists what
  // it offers).
  AuthMethod auth = AuthMethod::kAuto;
  // kXoauth2 / kOauthBearer: when the server refuses the token (5xx), called
  // once for a new one (oauth::AccessTokens::Renew), which is tried once
  // more in the same session. Empty = no second try. Its error ends the
  // login.
  std::function<Result<std::string>()> renew_token;
  // Without it no credential of any kind is sent unless the connection is TLS.
  bool allow_plaintext = false;

  // With connect.tls = kNone: use STARTTLS when the server offers it and go
  // on in plain text when it does not (direct delivery to an MX). The
  // certificate policy is connect's (verify_certificate, ca_file). When the
  // STARTTLS handshake itself fails, the client connects again without
  // STARTTLS (as MTAs do) and says so in warnings().
  bool opportunistic_tls = false;

  ReplyLimits limits;                  // per reply line / lines per reply
  // Commands in flight at once with PIPELINING (MAIL, RCPTs, DATA are sent
  // in groups of this size and their replies read in order); 1 = lock-step.
  size_t pipeline_window = 100;
  // Size of the pieces the message is encoded and written in.
  size_t data_chunk = 256 * 1024;
};

// A DSN (RFC 3461) NOTIFY request for one recipient. All false = none sent
// (the server's default). `never` excludes the others.
struct DsnNotify {
  bool never = false, success = false, failure = false, delay = false;
  bool empty() const { return !never && !success && !failure && !delay; }
};

enum class DsnReturn { kDefault, kFull, kHeaders };   // RET= (not sent for kDefault)

struct Recipient {
  std::string address;        // "bob@example.com"; angle brackets optional; UTF-8 needs SMTPUTF8
  DsnNotify notify;           // NOTIFY=, only when the server offers DSN
  // ORCPT= (the original recipient), only when the server offers DSN; ""
  // = none. Sent as "rfc822;" + xtext, or as RFC 6533 "utf-8;" for a
  // non-ASCII address.
  std::string orcpt;
};

struct Envelope {
  std::string from;           // reverse-path; "" (or "<>") = the null sender
  std::vector<Recipient> recipients;   // REQUIRED: at least one
  DsnReturn ret = DsnReturn::kDefault; // RET=, only when the server offers DSN
  std::string envid;          // ENVID= (printable ASCII, at most 100 bytes), only with DSN
};

enum class Outcome { kAccepted, kDeferred, kFailed };
const char* OutcomeName(Outcome outcome);   // "accepted", "deferred", "failed"

struct RecipientResult {
  std::string address;        // as in the Envelope (brackets removed)
  Outcome outcome = Outcome::kDeferred;
  Reply rcpt;                 // the RCPT reply; code 0 when RCPT was not sent or not answered
  // Why: "" when accepted, else one printable line, e.g.
  // "RCPT TO refused: 550 5.1.1 user unknown",
  // "end of data refused: 451 4.3.0 try again later",
  // "not sent: the message is 31457280 bytes, more than the 10485760 that host:25 accepts (SIZE)".
  std::string reason;
};

struct SendResult {
  Reply mail;                 // the MAIL FROM reply (code 0: not sent)
  std::vector<RecipientResult> recipients;   // one per Envelope recipient, in its order
  Reply data_start;           // the reply to DATA (354 when the body followed; code 0: not sent)
  Reply data;                 // the reply after the body's final "." (code 0: body not finished)
  // Things done differently from what was asked, e.g. DSN parameters left
  // out because the server does not offer DSN, or 8-bit data sent to a
  // server without 8BITMIME.
  std::vector<std::string> warnings;
  // Set when the session ended during this transaction (421, network,
  // protocol error): every recipient not already refused is kDeferred, and
  // the client is closed (connect again for the next message).
  std::optional<Error> session_error;
  // The whole body went out but no reply to the final "." came: the server
  // may have taken the message, and sending it again may deliver it twice
  // (RFC 1047). Outcomes say kDeferred.
  bool delivery_unknown = false;

  size_t accepted() const;    // recipients with kAccepted
  bool all_accepted() const;  // every recipient kAccepted
};

class SmtpClient {
 public:
  // Connects (TLS first when connect.tls = kImplicit), reads the greeting,
  // EHLO (HELO after a 5xx to EHLO), STARTTLS when connect.tls = kStartTls
  // (an error if the server does not offer it) or when opportunistic_tls
  // says so, EHLO again, then AUTH when options.user is set. port 0 means
  // 465 for kImplicit, 587 otherwise (service kSmtpSubmission), or 25 for
  // service kSmtpRelay; any other service is taken as kSmtpSubmission.
  static Result<std::unique_ptr<SmtpClient>> Open(const net::ConnectOptions& connect,
                                                  const SmtpOptions& options);

  ~SmtpClient();  // closes without QUIT
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  // One mail transaction: MAIL FROM, RCPT TO for each recipient, DATA and the
  // message (see smtp_data.h), pipelined when the server offers PIPELINING.
  // Parameters: SIZE= when offered; BODY=8BITMIME when the message has 8-bit
  // bytes and the server offers it (sent as it is with a warning when not);
  // SMTPUTF8 when an envelope address is not ASCII (every recipient kFailed,
  // nothing sent, when the server does not offer it); DSN parameters when
  // offered (left out with a warning when not). A message larger than the
  // server's SIZE fails every recipient before MAIL. When no recipient is
  // accepted the body is not sent and the transaction is reset (RSET).
  //
  // Errors (nothing sent): kInvalidArgument for a bad envelope, kUnavailable
  // when the session is closed. Everything the server says, and the session
  // ending mid-way, is in the SendResult.
  //
  // `before_end`, when given, is called once the whole body is written and
  // before the end-of-data line that makes the server responsible for the
  // message, with the replies so far (which recipients RCPT accepted): the
  // place to journal an intent. When it fails, the session ends without
  // that line (nothing is delivered) and its error is the session_error.
  using BeforeEnd = std::function<Status(const SendResult& so_far)>;
  Result<SendResult> Send(const Envelope& envelope, std::string_view message, const BeforeEnd& before_end = {});

  // RSET: abandons any transaction. Send() needs none between messages (it
  // leaves the session clean); for callers that did something else.
  Status Reset();
  // NOOP: checks that a reused session is still alive.
  Status Noop();
  // QUIT, then close. An error when the server does not answer 221 (nothing
  // is lost: a message is delivered at its end-of-data reply, not at QUIT).
  Status Quit();

  const Extensions& extensions() const;  // from the last EHLO (empty after HELO)
  bool esmtp() const;                    // EHLO worked (false after the HELO fallback)
  const Reply& greeting() const;
  const std::string& hello_name() const; // what EHLO/HELO sent
  AuthMethod auth_method() const;        // the mechanism that logged in; kAuto when none
  bool secure() const;                   // TLS active
  bool closed() const;
  const std::string& peer() const;       // "host:port"
  // Mail transactions of this session that got a reply to their end of
  // data (accepted or not). Servers limit messages per session (OpenSMTPD:
  // 100, then 452 to MAIL; Exim: smtp_accept_max_per_connection MAIL
  // commands, then 421 and close): a new session is not refused for that.
  size_t transactions() const;
  // Session-level notes, e.g. "STARTTLS handshake with ... failed (...);
  // continued without TLS" under opportunistic_tls.
  const std::vector<std::string>& warnings() const;

  class Impl;

 private:
  explicit SmtpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// RFC 3461 §4 xtext: bytes outside "!".."~", and "+" and "=", as "+XX".
std::string XtextEncode(std::string_view s);

// This machine's fully qualified domain name, or "localhost" when it has
// none (the default hello name).
std::string DefaultHelloName();

}  // namespace mailkeep::smtp
