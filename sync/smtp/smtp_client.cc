#include "sync/smtp/smtp_client.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <utility>
#include <functional>

#include "store/util/ascii.h"
#include "sync/net/login_chooser.h"
#include "sync/net/sasl.h"
#include "sync/net/secret_mask.h"

namespace mailkeep::smtp {

// Session (RFC 5321 §3, §4.3.2 for the replies each command may get):
//   greeting     220 (554: no service here, QUIT; 421: not now)
//   EHLO         250 multi-line with extensions; 500/502 etc. → HELO
//   STARTTLS     220, TLS handshake, EHLO again (RFC 3207 §4.2)
//   AUTH m [ir]  334 challenge* → 235 (RFC 4954); 535 bad credentials
//   transaction  MAIL 250 → RCPT 250/251 (per recipient) → DATA 354 →
//                body "." → 250; with PIPELINING the MAIL, RCPT and DATA
//                commands go in groups and the replies come back in order
//                (RFC 2920 §3.1)
//   421 may come in reply to anything: the server is closing the session.

namespace {

using ascii::EqualsIgnoreCase;

std::string Sanitize(std::string_view text, size_t max = 200) { return ascii::Printable(text, max); }
std::string Show(const Reply& r) { return Sanitize(r.ToString()); }

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// An envelope address without its angle brackets; control characters,
// brackets and an empty address (unless `may_be_empty`) are refused.
Result<std::string> CleanAddress(std::string_view a, bool may_be_empty, const char* what) {
  std::string_view s = ascii::Trim(a);
  if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = s.substr(1, s.size() - 2);
  if (s.empty() && !may_be_empty) {
    return MakeError(ErrorCode::kInvalidArgument, std::string("SMTP: empty ") + what + " address");
  }
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '<' || c == '>') {
      return MakeError(ErrorCode::kInvalidArgument, std::string("SMTP: ") + what + " address \"" +
                                                        Sanitize(s, 100) +
                                                        "\" has a control character or an angle bracket");
    }
  }
  return std::string(s);
}

// RFC 6533 utf-8-addr-xtext: QCHARs as they are, every other code point as
// "\x{HEX}". nullopt for invalid UTF-8.
std::optional<std::string> Utf8AddrXtext(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (c < 0x80) {
      cp = c;
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      cp = c & 0x1F;
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      cp = c & 0x0F;
      len = 3;
    } else if ((c & 0xF8) == 0xF0) {
      cp = c & 0x07;
      len = 4;
    } else {
      return std::nullopt;
    }
    if (i + len > s.size()) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return std::nullopt;
    bool qchar = (cp >= 0x21 && cp <= 0x7E) && cp != '+' && cp != '=' && cp != '\\';
    if (qchar) {
      out += static_cast<char>(cp);
    } else {
      char buf[16];
      std::snprintf(buf, sizeof buf, "\\x{%X}", cp);
      out += buf;
    }
    i += len;
  }
  return out;
}

bool ValidHelloName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (name.front() == '[') {
    if (name.back() != ']') return false;
    for (char c : name.substr(1, name.size() - 2)) {
      if (!(ascii::IsAlpha(c) || ascii::IsDigit(c) || c == '.' || c == ':' || c == '-')) return false;
    }
    return name.size() > 2;
  }
  for (char c : name) {
    if (!(ascii::IsAlpha(c) || ascii::IsDigit(c) || c == '.' || c == '-' || c == '_')) return false;
  }
  return true;
}

Outcome ByClass(const Reply& r) {
  if (r.positive()) return Outcome::kAccepted;
  return r.klass() == 4 ? Outcome::kDeferred : Outcome::kFailed;
}

ErrorCode CodeForRefusal(const Reply& r) {
  return r.klass() == 4 ? ErrorCode::kUnavailable : ErrorCode::kFailedPrecondition;
}

}  // namespace

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccepted: return "accepted";
    case Outcome::kDeferred: return "deferred";
    case Outcome::kFailed: return "failed";
  }
  return "?";
}

size_t SendResult::accepted() const {
  return static_cast<size_t>(std::count_if(recipients.begin(), recipients.end(), [](const RecipientResult& r) {
    return r.outcome == Outcome::kAccepted;
  }));
}

bool SendResult::all_accepted() const { return !recipients.empty() && accepted() == recipients.size(); }

std::string XtextEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x21 && u <= 0x7E && c != '+' && c != '=') {
      out += c;
    } else {
      out += '+';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string DefaultHelloName() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
  std::string name = host;
  if (name.find('.') == std::string::npos) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_CANONNAME;
    addrinfo* res = nullptr;
    if (::getaddrinfo(host, nullptr, &hints, &res) == 0 && res != nullptr) {
      if (res->ai_canonname != nullptr) name = res->ai_canonname;
      ::freeaddrinfo(res);
    }
  }
  if (name.find('.') == std::string::npos || !ValidHelloName(name)) return "localhost";
  return name;
}

class SmtpClient::Impl {
 public:
  net::ConnectOptions connect;
  SmtpOptions options;
  net::SecretMask mask;  // applied to every reply before it is used or kept
  std::unique_ptr<net::Connection> conn;
  ReplyParser parser;
  Reply greeting;
  Extensions ext;
  bool esmtp = false;
  std::string hello;
  AuthMethod used = AuthMethod::kAuto;
  std::vector<std::string> warnings;
  bool tls_handshake_failed = false;   // STARTTLS's handshake (not the reply) failed
  size_t transactions = 0;             // ended by a reply to the end of data, this session
  std::string peer_name;               // "host:port", also once the connection is gone

  const std::string& peer() const { return peer_name; }

  Status Usable() const {
    if (!conn || conn->closed()) {
      return MakeError(ErrorCode::kUnavailable,
                       "SMTP session with " + peer() + " is closed (after QUIT or an earlier error)");
    }
    return OkStatus();
  }

  void Drop() {
    if (conn) conn->Close();
  }

  // The server's reply does not fit the protocol: the stream is out of step.
  Error ProtocolError(const std::string& command, std::string_view what) {
    Drop();
    return Error(ErrorCode::kFailedPrecondition,
                 "SMTP server " + peer() + " broke the protocol in its reply to " + command + ": " +
                     std::string(what));
  }

  Status Write(std::string_view data, const std::string& command) {
    Status s = conn->Write(data);
    if (!s) {
      Drop();
      return std::unexpected(s.error().WithContext("SMTP " + command));
    }
    return OkStatus();
  }
  Status Flush(const std::string& command) {
    Status s = conn->Flush();
    if (!s) {
      Drop();
      return std::unexpected(s.error().WithContext("SMTP " + command));
    }
    return OkStatus();
  }
  Status SendNow(const std::string& line, const std::string& command) {
    MK_RETURN_IF_ERROR(Write(line + "\r\n", command));
    return Flush(command);
  }

  // One whole reply, whatever its code.
  Result<Reply> ReadAnyReply(const std::string& command) {
    parser.Reset();
    for (;;) {
      auto line = conn->ReadLineView(options.limits.max_line);
      if (!line) {
        Drop();
        if (line.error().code() == ErrorCode::kFailedPrecondition) {
          return std::unexpected(ProtocolError(command, line.error().message()));
        }
        return std::unexpected(line.error().WithContext("SMTP " + command));
      }
      switch (parser.FeedLine(*line)) {
        case ReplyState::kNeedMore: continue;
        case ReplyState::kReply: return Masked(parser.TakeReply());
        case ReplyState::kError: return std::unexpected(ProtocolError(command, MaskedParseError(*line)));
      }
    }
  }

  Reply Masked(Reply r) const {
    for (auto& line : r.lines) line = mask.Apply(line);
    return r;
  }
  // The parser's error quotes `line` cut short, which could cut a password
  // in half: when the line holds one, the masked line is quoted instead.
  std::string MaskedParseError(std::string_view line) const {
    const std::string masked = mask.Apply(line);
    if (masked == line) return parser.error();
    const std::string& error = parser.error();
    return error.substr(0, error.find(": \"")) + ": \"" + Sanitize(masked, 100) + "\"";
  }

  // A reply; 421 (the server is closing the session) becomes an error.
  Result<Reply> ReadReply(const std::string& command) {
    MK_ASSIGN_OR_RETURN(Reply r, ReadAnyReply(command));
    if (r.code == 421) {
      Drop();
      return MakeError(ErrorCode::kUnavailable,
                       "SMTP server " + peer() + " closed the session in its reply to " + command + ": " + Show(r));
    }
    return r;
  }

  Status Greeting() {
    MK_ASSIGN_OR_RETURN(greeting, ReadAnyReply("greeting"));
    if (greeting.positive()) return OkStatus();
    if (greeting.klass() == 5) {
      // RFC 5321 §3.1: after a 554 greeting the server waits for QUIT.
      if (SendNow("QUIT", "QUIT")) (void)ReadAnyReply("QUIT");
      Drop();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "SMTP server " + peer() + " refused the session: " + Show(greeting));
    }
    if (greeting.klass() == 4) {
      Drop();
      return MakeError(ErrorCode::kUnavailable,
                       "SMTP server " + peer() + " refused the session for now: " + Show(greeting) +
                           "; try again later");
    }
    return std::unexpected(ProtocolError("greeting", "\"" + Show(greeting) + "\""));
  }

  Status Ehlo() {
    MK_RETURN_IF_ERROR(SendNow("EHLO " + hello, "EHLO"));
    MK_ASSIGN_OR_RETURN(Reply r, ReadReply("EHLO"));
    if (r.positive()) {
      ext = ParseEhlo(r);
      esmtp = true;
      return OkStatus();
    }
    if (r.klass() == 5) {  // 500/502: an RFC 821 server; RFC 5321 §4.1.4 says fall back to HELO
      MK_RETURN_IF_ERROR(SendNow("HELO " + hello, "HELO"));
      MK_ASSIGN_OR_RETURN(Reply h, ReadReply("HELO"));
      if (h.positive()) {
        ext = Extensions();
        esmtp = false;
        return OkStatus();
      }
      if (h.klass() != 4 && h.klass() != 5) return std::unexpected(ProtocolError("HELO", "\"" + Show(h) + "\""));
      Drop();
      return MakeError(CodeForRefusal(h), "SMTP server " + peer() + " refused EHLO (" + Show(r) + ") and HELO " +
                                              hello + ": " + Show(h));
    }
    if (r.klass() == 4) {
      Drop();
      return MakeError(ErrorCode::kUnavailable, "SMTP server " + peer() + " refused EHLO " + hello +
                                                    " for now: " + Show(r) + "; try again later");
    }
    return std::unexpected(ProtocolError("EHLO", "\"" + Show(r) + "\""));
  }

  Status StartTls(bool allow_opportunistic) {
    const bool required = connect.tls == net::TlsMode::kStartTls;
    const bool opportunistic =
        !required && connect.tls == net::TlsMode::kNone && options.opportunistic_tls && allow_opportunistic;
    if (!required && !opportunistic) return OkStatus();
    if (!ext.starttls) {
      if (opportunistic) return OkStatus();
      Drop();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "SMTP server " + peer() + " does not offer STARTTLS" +
                           (esmtp ? "" : " (it does not speak ESMTP)") +
                           "; use tls = implicit (port 465), or tls = none only on a trusted network");
    }
    MK_RETURN_IF_ERROR(SendNow("STARTTLS", "STARTTLS"));
    MK_ASSIGN_OR_RETURN(Reply r, ReadReply("STARTTLS"));
    if (!r.positive()) {
      if (r.klass() != 4 && r.klass() != 5) return std::unexpected(ProtocolError("STARTTLS", "\"" + Show(r) + "\""));
      if (opportunistic) {
        warnings.push_back("SMTP server " + peer() + " refused STARTTLS (" + Show(r) + "); continued without TLS");
        return OkStatus();
      }
      Drop();
      return MakeError(CodeForRefusal(r), "SMTP STARTTLS at " + peer() + " refused: " + Show(r));
    }
    Status s = conn->StartTls();
    if (!s) {
      tls_handshake_failed = true;
      Drop();
      return s;
    }
    // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
    ext = Extensions();
    return Ehlo();
  }

  Status LoginError(const Reply& r) {
    Drop();
    std::string msg = "SMTP login as " + options.user + " at " + peer() + " failed (" +
                      net::LoginCommand(net::LoginProtocol::kSmtp, used) + "): " + Show(r);
    if (r.code == 535) {
      msg += net::IsBearer(used) ? "; check the user name and the access token" : "; check the user name and password";
    } else if (r.klass() == 4) {
      msg += "; try again later";
    }
    return MakeError(CodeForRefusal(r), msg);
  }

  // One SASL exchange (RFC 4954 §4, net::RunSasl): the initial response
  // goes with AUTH when the line fits in 512 octets; 334 is a challenge.
  // Returns the final reply (235, 535, ...).
  Result<Reply> Sasl() {
    const std::string command = net::LoginCommand(net::LoginProtocol::kSmtp, used);
    Reply last;
    net::SaslWire wire{
        .command = command,
        .max_command_line = 512,
        .send = [&](const std::string& line) { return SendNow(line, command); },
        .next = [&](std::string* challenge) -> Result<bool> {
          MK_ASSIGN_OR_RETURN(last, ReadReply(command));
          if (last.code != 334) return false;
          *challenge = last.lines.empty() ? std::string() : last.lines[0];
          return true;
        },
        .broken = [&](std::string_view what) { return ProtocolError(command, what); },
        .host = connect.host,
        .port = connect.port};
    MK_RETURN_IF_ERROR(net::RunSasl(used, options.user, options.password, wire));
    if (!last.positive() && last.klass() != 4 && last.klass() != 5) {
      return std::unexpected(ProtocolError(command, "\"" + Show(last) + "\""));
    }
    return last;
  }

  // AUTH; a refused OAuth token is renewed once (renew_token), a refused
  // CRAM-MD5 that auto chose is followed by the next method once
  // (net::FallbackLogin), in the same session (RFC 4954 §4: a failed AUTH
  // leaves the session usable).
  Status Login(const net::LoginOffer& offer) {
    MK_ASSIGN_OR_RETURN(Reply r, Sasl());
    if (r.klass() == 5) {
      if (auto next = net::FallbackLogin(options.auth, used, offer)) {
        used = *next;
        MK_ASSIGN_OR_RETURN(r, Sasl());
      }
    }
    if (r.klass() == 5 && net::IsBearer(used) && options.renew_token) {
      auto renewed = options.renew_token();
      if (!renewed) {
        Drop();
        return std::unexpected(renewed.error());
      }
      options.password = std::move(*renewed);
      mask = net::SecretMask(options.user, options.password, connect.host, connect.port);
      MK_ASSIGN_OR_RETURN(r, Sasl());
    }
    if (r.positive()) return OkStatus();
    return LoginError(r);
  }

  Status Authenticate() {
    if (options.user.empty()) return OkStatus();
    if (!conn->secure() && !options.allow_plaintext) {
      Drop();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "refusing to log in as " + options.user + " at " + peer() +
                           " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
    }
    if (ext.auth.empty()) {
      Drop();
      std::string hint = !conn->secure() && ext.starttls ? "; many servers offer it only after STARTTLS: use tls = starttls"
                                                         : "";
      return MakeError(ErrorCode::kFailedPrecondition,
                       "SMTP server " + peer() + " does not offer AUTH" + (esmtp ? "" : " (it does not speak ESMTP)") +
                           hint);
    }
    const net::LoginOffer offer{.tls = conn->secure(), .sasl = ext.auth, .user_pass = false, .apop = false};
    auto method = net::ChooseLogin(net::LoginProtocol::kSmtp, options.auth, offer, peer());
    if (!method) {
      Drop();
      return std::unexpected(method.error());
    }
    used = *method;
    return Login(offer);
  }

  // Connect, greet, EHLO, STARTTLS, EHLO, AUTH.
  Status Start(bool allow_opportunistic) {
    greeting = Reply();
    ext = Extensions();
    esmtp = false;
    used = AuthMethod::kAuto;
    tls_handshake_failed = false;
    auto c = net::Connection::Open(connect);
    if (!c) return std::unexpected(c.error());
    conn = std::move(*c);
    MK_RETURN_IF_ERROR(Greeting());
    MK_RETURN_IF_ERROR(Ehlo());
    MK_RETURN_IF_ERROR(StartTls(allow_opportunistic));
    return Authenticate();
  }

  // --- one transaction ---

  struct Command {
    enum Kind { kMail, kRcpt, kData } kind;
    size_t rcpt = 0;
    std::string line;
    std::string name;   // for messages
  };

  void EndSession(SendResult& r, Error e) {
    Drop();
    if (!r.session_error) r.session_error = std::move(e);
  }

  Result<SendResult> Send(const Envelope& env, std::string_view message, const SmtpClient::BeforeEnd& before_end);
};

Result<SendResult> SmtpClient::Impl::Send(const Envelope& env, std::string_view message,
                                          const SmtpClient::BeforeEnd& before_end) {
  MK_RETURN_IF_ERROR(Usable());
  // Check everything before the first byte goes out.
  if (env.recipients.empty()) return MakeError(ErrorCode::kInvalidArgument, "SMTP: no recipients given");
  MK_ASSIGN_OR_RETURN(std::string from, CleanAddress(env.from, true, "sender"));
  if (env.envid.size() > 100) {
    return MakeError(ErrorCode::kInvalidArgument, "SMTP: ENVID longer than 100 characters (RFC 3461 §4.4)");
  }
  for (char c : env.envid) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7E) {
      return MakeError(ErrorCode::kInvalidArgument, "SMTP: ENVID must be printable ASCII (RFC 3461 §4.4)");
    }
  }
  SendResult r;
  std::vector<std::string> rcpts;
  std::vector<std::string> orcpts;
  std::string needs_utf8 = IsAscii(from) ? "" : from;
  bool dsn_asked = env.ret != DsnReturn::kDefault || !env.envid.empty();
  for (const Recipient& rc : env.recipients) {
    MK_ASSIGN_OR_RETURN(std::string a, CleanAddress(rc.address, false, "recipient"));
    if (rc.notify.never && (rc.notify.success || rc.notify.failure || rc.notify.delay)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "SMTP: NOTIFY=NEVER for " + Sanitize(a, 100) + " cannot be combined with other values");
    }
    std::string orcpt;
    if (!rc.orcpt.empty()) {
      MK_ASSIGN_OR_RETURN(std::string o, CleanAddress(rc.orcpt, false, "ORCPT"));
      if (IsAscii(o)) {
        orcpt = "rfc822;" + XtextEncode(o);
      } else {
        auto x = Utf8AddrXtext(o);
        if (!x) return MakeError(ErrorCode::kInvalidArgument, "SMTP: ORCPT address is not valid UTF-8");
        orcpt = "utf-8;" + *x;
      }
    }
    if (!rc.notify.empty() || !orcpt.empty()) dsn_asked = true;
    if (needs_utf8.empty() && !IsAscii(a)) needs_utf8 = a;
    RecipientResult rr;
    rr.address = a;
    r.recipients.push_back(std::move(rr));
    rcpts.push_back(std::move(a));
    orcpts.push_back(std::move(orcpt));
  }

  auto fail_all = [&](const std::string& reason) {
    for (auto& rr : r.recipients) {
      rr.outcome = Outcome::kFailed;
      rr.reason = reason;
    }
    return r;
  };
  if (!needs_utf8.empty() && !ext.smtputf8) {
    return fail_all("not sent: server " + peer() + " does not offer SMTPUTF8, needed for address " +
                    Sanitize(needs_utf8, 100));
  }
  const uint64_t size = NormalizedSize(message);
  if (ext.size && ext.size_limit > 0 && size > ext.size_limit) {
    return fail_all("not sent: the message is " + std::to_string(size) + " bytes, more than the " +
                    std::to_string(ext.size_limit) + " that " + peer() + " accepts (SIZE)");
  }
  const bool eight_bit = HasEightBit(message);
  if (eight_bit && !ext.eightbitmime) {
    r.warnings.push_back("server " + peer() +
                         " does not offer 8BITMIME; the message has 8-bit bytes and was sent as it is");
  }
  const bool dsn = dsn_asked && ext.dsn;
  if (dsn_asked && !ext.dsn) {
    r.warnings.push_back("server " + peer() + " does not offer DSN; NOTIFY, ORCPT, RET and ENVID were not sent");
  }

  std::vector<Command> cmds;
  {
    std::string mail = "MAIL FROM:<" + from + ">";
    if (ext.size) mail += " SIZE=" + std::to_string(size);
    if (eight_bit && ext.eightbitmime) mail += " BODY=8BITMIME";
    if (!needs_utf8.empty()) mail += " SMTPUTF8";
    if (dsn && env.ret != DsnReturn::kDefault) mail += env.ret == DsnReturn::kFull ? " RET=FULL" : " RET=HDRS";
    if (dsn && !env.envid.empty()) mail += " ENVID=" + XtextEncode(env.envid);
    cmds.push_back({Command::kMail, 0, std::move(mail), "MAIL FROM"});
  }
  for (size_t i = 0; i < rcpts.size(); ++i) {
    std::string line = "RCPT TO:<" + rcpts[i] + ">";
    const DsnNotify& n = env.recipients[i].notify;
    if (dsn && !n.empty()) {
      std::string v;
      if (n.never) v = "NEVER";
      if (n.success) v += "SUCCESS";
      if (n.failure) v += std::string(v.empty() ? "" : ",") + "FAILURE";
      if (n.delay) v += std::string(v.empty() ? "" : ",") + "DELAY";
      line += " NOTIFY=" + v;
    }
    if (dsn && !orcpts[i].empty()) line += " ORCPT=" + orcpts[i];
    cmds.push_back({Command::kRcpt, i, std::move(line), "RCPT TO:<" + Sanitize(rcpts[i], 100) + ">"});
  }
  cmds.push_back({Command::kData, 0, "DATA", "DATA"});

  // Send in groups (RFC 2920 §3.1: replies come back in order), or one by
  // one without PIPELINING. A command whose fate is already known is not
  // sent: no RCPT after a refused MAIL, no DATA when every RCPT was refused.
  const size_t window = ext.pipelining ? std::max<size_t>(1, options.pipeline_window) : 1;
  size_t sent = 0, done = 0;
  bool mail_answered = false, mail_ok = false, stop = false;
  size_t accepted = 0;
  while (done < cmds.size() && !r.session_error) {
    bool wrote = false;
    while (!stop && sent < cmds.size() && sent - done < window) {
      const Command& c = cmds[sent];
      if (c.kind != Command::kMail && mail_answered && !mail_ok) {
        stop = true;
        break;
      }
      if (c.kind == Command::kData && done == sent && accepted == 0) {
        stop = true;
        break;
      }
      Status s = Write(c.line + "\r\n", c.name);
      if (!s) {
        EndSession(r, s.error());
        break;
      }
      ++sent;
      wrote = true;
    }
    if (r.session_error) break;
    if (wrote) {
      Status s = Flush(cmds[done].name);
      if (!s) {
        EndSession(r, s.error());
        break;
      }
    }
    if (done == sent) break;
    const Command& c = cmds[done];
    auto reply = ReadReply(c.name);
    if (!reply) {
      EndSession(r, reply.error());
      break;
    }
    ++done;
    switch (c.kind) {
      case Command::kMail:
        if (reply->klass() != 2 && reply->klass() != 4 && reply->klass() != 5) {
          EndSession(r, ProtocolError(c.name, "\"" + Show(*reply) + "\""));
          break;
        }
        r.mail = std::move(*reply);
        mail_answered = true;
        mail_ok = r.mail.positive();
        if (!mail_ok) stop = true;
        break;
      case Command::kRcpt:
        if (reply->klass() != 2 && reply->klass() != 4 && reply->klass() != 5) {
          EndSession(r, ProtocolError(c.name, "\"" + Show(*reply) + "\""));
          break;
        }
        if (mail_ok && reply->positive()) ++accepted;
        r.recipients[c.rcpt].rcpt = std::move(*reply);
        break;
      case Command::kData:
        if (reply->code != 354 && reply->klass() != 4 && reply->klass() != 5) {
          EndSession(r, ProtocolError(c.name, "\"" + Show(*reply) + "\""));
          break;
        }
        r.data_start = std::move(*reply);
        break;
    }
  }

  bool body_done = false;  // the server answered the end of the body
  if (!r.session_error && r.data_start.code == 354) {
    if (mail_ok && accepted > 0) {
      DataEncoder encoder;
      std::string buf;
      const size_t chunk = std::max<size_t>(4096, options.data_chunk);
      buf.reserve(chunk + chunk / 8 + 16);
      Status s = OkStatus();
      for (size_t off = 0; off < message.size() && s; off += chunk) {
        buf.clear();
        encoder.Feed(message.substr(off, chunk), &buf);
        s = Write(buf, "DATA");
      }
      // The caller's last word before the line that commits the server (a
      // journal entry): a failure ends the session without it.
      if (s && before_end) s = before_end(r);
      if (s) {
        buf.clear();
        encoder.Finish(&buf);
        s = Write(buf, "DATA");
      }
      if (s) s = Flush("DATA");
      if (!s) {
        EndSession(r, s.error());
      } else {
        auto reply = ReadAnyReply("end of data");
        if (!reply) {
          r.delivery_unknown = true;
          EndSession(r, reply.error());
        } else if (reply->code == 421) {
          // A definite answer: not taken (deferred), and the session ends.
          Drop();
          r.data = *reply;
          EndSession(r, Error(ErrorCode::kUnavailable, "SMTP server " + peer() +
                                                          " closed the session in its reply to end of data: " +
                                                          Show(*reply)));
        } else if (reply->klass() != 2 && reply->klass() != 4 && reply->klass() != 5) {
          r.delivery_unknown = true;
          EndSession(r, ProtocolError("end of data", "\"" + Show(*reply) + "\""));
        } else {
          r.data = std::move(*reply);
          body_done = true;
          ++transactions;
        }
      }
    } else {
      // RFC 2920 §3.1: DATA was pipelined and accepted although no recipient
      // was: end the (empty) message at once and ignore what it gets.
      Status s = SendNow(".", "DATA");
      if (!s) {
        EndSession(r, s.error());
      } else if (auto reply = ReadReply("end of data"); !reply) {
        EndSession(r, reply.error());
      }
    }
  }

  // Each recipient's outcome, from the reply that decided it.
  const std::string ended =
      r.session_error ? "session ended: " + Sanitize(r.session_error->message(), 300) : std::string();
  for (RecipientResult& rr : r.recipients) {
    if (mail_answered && !mail_ok) {
      rr.outcome = ByClass(r.mail);
      rr.reason = "MAIL FROM refused: " + Show(r.mail);
    } else if (rr.rcpt.code == 0) {
      rr.outcome = Outcome::kDeferred;
      rr.reason = r.session_error ? ended : "not sent";
    } else if (!rr.rcpt.positive()) {
      rr.outcome = ByClass(rr.rcpt);
      rr.reason = "RCPT TO refused: " + Show(rr.rcpt);
    } else if (r.data.code != 0) {
      rr.outcome = ByClass(r.data);
      rr.reason = rr.outcome == Outcome::kAccepted ? "" : "end of data refused: " + Show(r.data);
    } else if (r.data_start.code != 0 && r.data_start.code != 354) {
      rr.outcome = ByClass(r.data_start);
      rr.reason = "DATA refused: " + Show(r.data_start);
    } else {
      rr.outcome = Outcome::kDeferred;
      rr.reason = r.session_error ? ended : "not sent";
      if (r.delivery_unknown) rr.reason += " (after the whole message was sent: the server may have it)";
    }
  }

  // A transaction that did not end with the body's reply is reset, so the
  // session is clean for the next message.
  if (!r.session_error && (mail_ok || r.data_start.code == 354) && !body_done) {
    Status s = SendNow("RSET", "RSET");
    if (s) {
      auto reply = ReadReply("RSET");
      if (!reply) {
        s = std::unexpected(reply.error());
      } else if (!reply->positive()) {
        s = std::unexpected(ProtocolError("RSET", "\"" + Show(*reply) + "\""));
      }
    }
    if (!s) EndSession(r, s.error());
  }
  return r;
}

SmtpClient::SmtpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SmtpClient::~SmtpClient() {
  if (impl_) impl_->Drop();
}

Result<std::unique_ptr<SmtpClient>> SmtpClient::Open(const net::ConnectOptions& connect,
                                                     const SmtpOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->connect = connect;
  impl->options = options;
  if (impl->connect.service != net::Service::kSmtpSubmission && impl->connect.service != net::Service::kSmtpRelay) {
    impl->connect.service = net::Service::kSmtpSubmission;
  }
  if (impl->connect.host.empty()) return MakeError(ErrorCode::kInvalidArgument, "SMTP: no host given");
  if (impl->connect.port == 0) impl->connect.port = net::DefaultPort(impl->connect.service, impl->connect.tls);
  impl->mask = net::SecretMask(options.user, options.password, impl->connect.host, impl->connect.port);
  if (impl->connect.port == 465 && impl->connect.tls != net::TlsMode::kImplicit) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "SMTP port 465 of " + impl->connect.host +
                         " speaks TLS from the first byte (RFC 8314); use tls = implicit");
  }
  impl->hello = options.hello_name.empty() ? DefaultHelloName() : options.hello_name;
  if (!ValidHelloName(impl->hello)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "SMTP: hello name \"" + Sanitize(impl->hello, 100) +
                         "\" is neither a domain name nor an address literal such as [192.0.2.1]");
  }
  if (impl->options.limits.max_line < 512) impl->options.limits.max_line = 512;
  if (impl->options.limits.max_lines < 1) impl->options.limits.max_lines = 1;
  impl->parser = ReplyParser(impl->options.limits);
  impl->peer_name = impl->connect.host + ":" + std::to_string(impl->connect.port);

  Status s = impl->Start(/*allow_opportunistic=*/true);
  if (!s && impl->tls_handshake_failed && options.opportunistic_tls) {
    // As MTAs do for opportunistic TLS: a failed handshake is retried in
    // plain text, once.
    std::string note = "STARTTLS handshake with " + impl->peer() + " failed (" + s.error().message() +
                       "); connected again without TLS";
    s = impl->Start(/*allow_opportunistic=*/false);
    if (s) impl->warnings.push_back(std::move(note));
  }
  if (!s) {
    impl->Drop();
    return std::unexpected(s.error());
  }
  return std::unique_ptr<SmtpClient>(new SmtpClient(std::move(impl)));
}

Result<SendResult> SmtpClient::Send(const Envelope& envelope, std::string_view message, const BeforeEnd& before_end) {
  return impl_->Send(envelope, message, before_end);
}

Status SmtpClient::Reset() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.SendNow("RSET", "RSET"));
  MK_ASSIGN_OR_RETURN(Reply r, d.ReadReply("RSET"));
  if (!r.positive()) return std::unexpected(d.ProtocolError("RSET", "\"" + Show(r) + "\""));
  return OkStatus();
}

Status SmtpClient::Noop() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.SendNow("NOOP", "NOOP"));
  MK_ASSIGN_OR_RETURN(Reply r, d.ReadReply("NOOP"));
  if (!r.positive()) {
    d.Drop();
    return MakeError(CodeForRefusal(r), "SMTP NOOP at " + d.peer() + " failed: " + Show(r));
  }
  return OkStatus();
}

Status SmtpClient::Quit() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  Status s = d.SendNow("QUIT", "QUIT");
  if (!s) {
    d.Drop();
    return s;
  }
  auto r = d.ReadAnyReply("QUIT");
  d.Drop();
  if (!r) return std::unexpected(r.error());
  if (!r->positive()) {
    return MakeError(CodeForRefusal(*r), "SMTP QUIT at " + d.peer() + " failed: " + Show(*r));
  }
  return OkStatus();
}

const Extensions& SmtpClient::extensions() const { return impl_->ext; }
bool SmtpClient::esmtp() const { return impl_->esmtp; }
const Reply& SmtpClient::greeting() const { return impl_->greeting; }
const std::string& SmtpClient::hello_name() const { return impl_->hello; }
AuthMethod SmtpClient::auth_method() const { return impl_->used; }
bool SmtpClient::secure() const { return impl_->conn && !impl_->conn->closed() && impl_->conn->secure(); }
bool SmtpClient::closed() const { return !impl_->conn || impl_->conn->closed(); }
const std::string& SmtpClient::peer() const { return impl_->peer(); }
size_t SmtpClient::transactions() const { return impl_->transactions; }
const std::vector<std::string>& SmtpClient::warnings() const { return impl_->warnings; }

}  // namespace mailkeep::smtp
