// Resending archived messages over SMTP (mailkeep resend), through one relay
// or straight to each recipient domain's mail exchangers (direct delivery).
//
// The envelope: the sender is Options::from, else the message's own From
// (then Sender); the recipients are Options::to (plus the message's To, Cc
// and Bcc with to_original), each address once. The data is the stored
// bytes, CRLF-normalized and dot-stuffed, nothing else changed;
// resent_headers prepends Resent-From, Resent-To (Bcc recipients left out),
// Resent-Date and Resent-Message-ID (RFC 5322 §3.6.6).
//
// Nothing sent twice — the archive's intents journal (IntentKind::kSend):
// once the whole body is written and before the end-of-data line that makes
// the server responsible for the message, one intent per recipient the
// server's RCPT accepted is committed to the catalog; the server's answer
// then resolves them (accepted, deferred, failed). A process killed in
// between, or an end of data that got no answer, leaves them unknown.
// With skip_sent a recipient whose earlier intent was accepted is skipped,
// and one whose earlier intent is unknown is skipped with a warning (the
// server may have delivered it) unless retry_unknown. Recipients refused
// before the end of data are recorded with their outcome, as a log.
//
// A new session when one is used up: servers limit the messages of one
// session (OpenSMTPD 6.8 answers MAIL 101 with "452 4.5.3 Too many
// recipients: Too many messages sent" and keeps the session; Exim 4.96
// answers the MAIL over smtp_accept_max_per_connection with "421 too many
// messages in this connection" and closes; providers do likewise). When
// a session that has carried messages refuses the next one for now before
// taking any recipient (4xx to MAIL, or to every RCPT), or ends before
// answering any recipient (421, a hang-up), the message is tried once more
// on a new session; only what that fresh session refuses too is deferred.
// Bound: at most one new session per message, so a run opens at most two
// sessions per message. Nothing is delivered twice by this: no end of data
// was sent in the attempt given up, and a message whose whole data went
// out without a final reply is unknown and never tried again.
//
// Outcomes, per recipient: accepted (the server took responsibility),
// deferred (4xx, or no server reachable now: try again), failed (5xx, a
// null MX, a domain that does not exist), unknown (see above). One refused
// recipient does not stop the others.
//
// Direct delivery (RFC 5321 §5.1): recipients grouped by domain; the MX
// records looked up with dns_server (else the system's); exchanges tried in
// preference order (equal ones shuffled; at most 10, and 4 addresses of
// each), until one answers; no MX → the domain's own address; a null MX
// (RFC 7505) fails at once. STARTTLS when offered, without certificate
// checks (opportunistic, like an MTA). No AUTH. An exchange that answers but
// refuses a recipient is final for it; only a connection or session failure
// moves on to the next exchange. Sessions are kept for the whole run; one
// that the exchange ended since its last message is replaced by a new
// connection first. The outcomes of each domain are recorded before the
// next domain is tried.
//
// Thread-safety: a Resender belongs to the thread that owns the Archive.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/archive.h"
#include "store/util/status.h"
#include "sync/net/connection.h"
#include "sync/smtp/smtp_client.h"

namespace mailkeep::resend {

// "local@domain": something before and after the last '@', no spaces,
// control characters or angle brackets (UTF-8 is allowed: SMTPUTF8).
bool IsMailbox(std::string_view address);
// The domain of a mailbox, ASCII lower case.
std::string DomainOf(std::string_view address);

// Receives one warning line.
using Warn = std::function<void(const std::string&)>;

struct Relay {
  std::string name;              // [relay.NAME]: routes read "relay NAME"
  net::ConnectOptions connect;
};

struct Direct {
  std::string dns_server;        // "" = the system's resolver
  uint16_t smtp_port = 25;
};

struct Options {
  std::vector<std::string> to;   // envelope recipients (mailboxes)
  bool to_original = false;      // also the message's own To, Cc and Bcc
  std::string from;              // "" = the message's From; "<>" = the null sender
  bool resent_headers = false;
  bool skip_sent = false;        // leave out recipients an earlier resend got accepted (or unknown)
  bool retry_unknown = false;    // with skip_sent: send again where the earlier outcome is unknown
  bool dry_run = false;          // plan only: send and record nothing
  smtp::SmtpOptions smtp;        // hello name; credentials for a relay
  // A relay that logs in with OAuth: its access token, asked before each new
  // session (oauth::AccessTokens::Get: the cached one while it is valid,
  // else a refreshed one), so a long run outlives a token; it replaces
  // smtp.password. Its error makes the relay unusable (relay_error()).
  // Empty = smtp.password as given.
  std::function<Result<std::string>()> relay_token;
  std::optional<smtp::DsnNotify> notify;
  smtp::DsnReturn ret = smtp::DsnReturn::kDefault;
  std::string envid_prefix;      // ENVID = prefix + message id (with DSN)
  std::optional<Relay> relay;    // unset: direct delivery
  Direct direct;
};

// What happened to one recipient of one message in this run.
struct RecipientReport {
  std::string address;
  SendOutcome outcome = SendOutcome::kFailed;
  bool skipped = false;   // skip_sent: accepted (or unknown) in an earlier run
  std::string route;      // "relay NAME" / "direct HOST"
  std::string reply;      // the server's reply, or why nothing was sent
  bool bcc = false;       // from the message's Bcc: kept out of Resent-To
};

struct MessageReport {
  int64_t id = 0;
  std::string message_id;
  std::string from;                       // the envelope sender ("" = null)
  std::vector<RecipientReport> recipients;
  std::string problem;                    // why the message was not sent at all ("" = none)
};

class Resender {
 public:
  // `warn` gets session and per-message warnings, one line each (may
  // repeat; the caller prints each once).
  // REQUIRES: `archive` opened read-write unless options.dry_run; it
  // outlives the Resender.
  Resender(Archive& archive, Options options, Warn warn);
  ~Resender();  // QUITs open sessions

  // Resends message `id`; nullopt when the archive has no such message.
  // Errors: the archive failed (reading, or recording an intent or an
  // outcome). Nothing more may be sent then: the catalog must know every
  // message that went out.
  Result<std::optional<MessageReport>> Send(int64_t id);

  // Set once the relay could not be used at all (connect, TLS or login);
  // later messages are then deferred as "not attempted".
  const std::optional<Error>& relay_error() const;

  class Route;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace mailkeep::resend
