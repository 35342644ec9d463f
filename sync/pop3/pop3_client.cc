#include "sync/pop3/pop3_client.h"
#include "store/util/ascii.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <exception>
#include <map>
#include <set>
#include <optional>

#include "sync/net/login_chooser.h"
#include "sync/net/sasl.h"
#include "sync/net/secret_mask.h"
#include "sync/net/sasl.h"

namespace mailkeep::pop3 {

// Replies (RFC 1939 §3, RFC 2449 §8, RFC 5034 §4):
//   single-line  = ("+OK" / "-ERR") [SP text] CRLF
//   multi-line   = "+OK" [SP text] CRLF *(line CRLF) "." CRLF
//                  where a line starting with "." is sent with one more "."
//   continuation = "+" [SP base64] CRLF            (only inside AUTH)
//   text may start with a response code: "[" code *("/" code) "]"

namespace {

using ascii::EqualsIgnoreCase;
using ascii::StartsWithIgnoreCase;
// Server text for an error message: printable, one line, bounded.
std::string Sanitize(std::string_view text, size_t max = 200) { return ascii::Printable(text, max); }

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// The RFC 2449 response code's class decides retry: temporary ones are
// kUnavailable.
ErrorCode CodeFor(std::string_view text, ErrorCode fallback) {
  if (net::ThrottleWait(text, {})) return ErrorCode::kResourceExhausted;
  if (text.empty() || text[0] != '[') return fallback;
  size_t end = text.find(']');
  if (end == std::string_view::npos) return fallback;
  std::string_view code = text.substr(1, end - 1);
  if (StartsWithIgnoreCase(code, "SYS/TEMP") || StartsWithIgnoreCase(code, "IN-USE") ||
      StartsWithIgnoreCase(code, "LOGIN-DELAY")) {
    return ErrorCode::kUnavailable;
  }
  return fallback;
}

// APOP timestamp: the first "<...>" in the greeting (RFC 1939 §7).
std::string FindTimestamp(std::string_view greeting) {
  size_t open = greeting.find('<');
  if (open == std::string_view::npos) return {};
  size_t close = greeting.find('>', open);
  if (close == std::string_view::npos) return {};
  std::string_view ts = greeting.substr(open, close - open + 1);
  if (ts.find(' ') != std::string_view::npos || ts.size() < 3) return {};
  return std::string(ts);
}

}  // namespace

struct Reply {
  enum Kind { kOk, kErr, kContinue } kind = kErr;
  std::string text;  // after "+OK " / "-ERR " / "+ "
};

class Pop3Client::Impl {
 public:
  Pop3Options options;
  net::SecretMask mask;  // applied to every reply text before it is used
  std::unique_ptr<net::Connection> conn;
  std::vector<std::string> capabilities;
  bool have_capa = false;
  std::string timestamp;
  AuthMethod used = AuthMethod::kAuto;
  int replies = 0;  // status lines read, the greeting included

  const std::string& peer() const { return conn->peer(); }

  bool Has(std::string_view name) const {
    for (const auto& line : capabilities) {
      auto words = Words(line);
      if (!words.empty() && EqualsIgnoreCase(words[0], name)) return true;
    }
    return false;
  }

  std::vector<std::string> SaslMechanisms() const {
    std::vector<std::string> mechs;
    for (const auto& line : capabilities) {
      auto words = Words(line);
      if (words.empty() || !EqualsIgnoreCase(words[0], "SASL")) continue;
      for (size_t i = 1; i < words.size(); ++i) {
        std::string m(words[i]);
        for (char& c : m) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        mechs.push_back(m);
      }
    }
    return mechs;
  }

  Status Usable() const {
    if (conn->closed()) {
      return MakeError(ErrorCode::kUnavailable,
                       "POP3 session with " + conn->peer() + " is closed (after QUIT or an earlier error)");
    }
    return OkStatus();
  }

  // A reply that breaks the protocol: the stream is out of step, drop it.
  Error ProtocolError(const std::string& command, std::string_view what) {
    conn->Close();
    return Error(ErrorCode::kFailedPrecondition,
                 "POP3 server " + peer() + " broke the protocol in its reply to " + command + ": " +
                     std::string(what));
  }

  Status Send(const std::string& line, const std::string& command) {
    Status s = conn->Write(line);
    if (!s) return std::unexpected(s.error().WithContext("POP3 " + command));
    return OkStatus();
  }
  Status Flush(const std::string& command) {
    Status s = conn->Flush();
    if (!s) return std::unexpected(s.error().WithContext("POP3 " + command));
    return OkStatus();
  }
  Status SendNow(const std::string& line, const std::string& command) {
    MK_RETURN_IF_ERROR(Send(line, command));
    return Flush(command);
  }

  // Bytes one reply may bring, with its multi-line body: listings and
  // messages have their limits; anything else (CAPA, AUTH, status lines) is
  // small.
  static constexpr uint64_t kSmallReply = 1u << 20;
  uint64_t MessageReplyBudget() const {
    // Dot-stuffing and CRLF may triple a message on the wire ("..\r\n" for ".\n").
    const uint64_t m = options.max_message_size;
    return m > UINT64_MAX / 4 ? UINT64_MAX : 3 * m + options.max_message_line + kSmallReply;
  }

  // Reads one status line; it starts the reply's byte budget and deadline
  // (net::Connection::BeginCommand). `allow_continue` for AUTH exchanges.
  Result<Reply> ReadReply(const std::string& command, bool allow_continue = false,
                          uint64_t budget = kSmallReply) {
    conn->BeginCommand(budget);
    auto line = conn->ReadLineView(options.max_reply_line);
    if (!line) {
      if (line.error().code() == ErrorCode::kFailedPrecondition) {
        return std::unexpected(ProtocolError(command, line.error().message()));
      }
      return std::unexpected(line.error().WithContext("POP3 " + command));
    }
    std::string_view l = *line;
    Reply reply;
    auto rest = [&](size_t n) {
      std::string_view t = l.substr(n);
      while (!t.empty() && (t[0] == ' ' || t[0] == '\t')) t.remove_prefix(1);
      return mask.Apply(t);
    };
    if (StartsWithIgnoreCase(l, "+OK") && (l.size() == 3 || l[3] == ' ' || l[3] == '\t')) {
      ++replies;
      reply.kind = Reply::kOk;
      reply.text = rest(3);
    } else if (StartsWithIgnoreCase(l, "-ERR") && (l.size() == 4 || l[4] == ' ' || l[4] == '\t')) {
      ++replies;
      reply.kind = Reply::kErr;
      reply.text = rest(4);
    } else if (allow_continue && !l.empty() && l[0] == '+' && (l.size() == 1 || l[1] == ' ')) {
      reply.kind = Reply::kContinue;
      reply.text = rest(1);
    } else {
      return std::unexpected(ProtocolError(command, "\"" + Sanitize(mask.Apply(l), 80) + "\""));
    }
    return reply;
  }

  // Reads a multi-line body up to the "." line, calling on_line with each
  // dot-unstuffed line (without its line end); on_line returns "" to go on,
  // or why the line breaks the protocol (then reading stops there).
  template <typename OnLine>
  Status ReadBody(const std::string& command, size_t max_line, uint64_t max_total, OnLine&& on_line) {
    uint64_t total = 0;
    for (;;) {
      auto line = conn->ReadLineView(max_line);
      if (!line) {
        if (line.error().code() == ErrorCode::kFailedPrecondition) {
          return std::unexpected(ProtocolError(command, line.error().message()));
        }
        return std::unexpected(line.error().WithContext("POP3 " + command));
      }
      std::string_view l = *line;
      if (!l.empty() && l[0] == '.') {
        if (l.size() == 1) return OkStatus();
        l.remove_prefix(1);
      }
      total += l.size() + 1;
      if (total > max_total) {
        return std::unexpected(ProtocolError(
            command, "more than " + std::to_string(max_total) + " bytes (max_message_size)"));
      }
      if (std::string why = on_line(l); !why.empty()) return std::unexpected(ProtocolError(command, why));
    }
  }

  Status DrainBody(const std::string& command) {
    return ReadBody(command, options.max_message_line, UINT64_MAX, [](std::string_view) { return std::string(); });
  }

  Result<std::vector<std::string>> ReadListBody(const std::string& command) {
    std::vector<std::string> lines;
    MK_RETURN_IF_ERROR(ReadBody(command, options.max_reply_line, UINT64_MAX, [&](std::string_view l) {
      lines.emplace_back(l);
      return std::string();
    }));
    return lines;
  }

  // A UIDL or LIST body: each line's first two words to `add` (number,
  // second word), at most options.max_messages lines. The words are checked
  // here; what they mean is up to `add` ("" = fine, else why not).
  template <typename Add>
  Status ReadListing(const std::string& command, Add&& add) {
    size_t count = 0;
    return ReadBody(command, options.max_reply_line, UINT64_MAX, [&](std::string_view l) -> std::string {
      if (++count > options.max_messages) {
        return "more than " + std::to_string(options.max_messages) + " messages (the limit)";
      }
      auto words = Words(l);
      int n = 0;
      if (words.size() < 2 || !ParseNumber(words[0], &n) || n < 1) return "a bad line \"" + Sanitize(mask.Apply(l), 80) + "\"";
      if (std::string why = add(n, words[1]); !why.empty()) return why + " in \"" + Sanitize(mask.Apply(l), 80) + "\"";
      return {};
    });
  }

  Status Capa() {
    MK_RETURN_IF_ERROR(SendNow("CAPA\r\n", "CAPA"));
    MK_ASSIGN_OR_RETURN(Reply reply, ReadReply("CAPA"));
    capabilities.clear();
    have_capa = reply.kind == Reply::kOk;
    if (!have_capa) return OkStatus();  // an RFC 1939-only server
    MK_ASSIGN_OR_RETURN(capabilities, ReadListBody("CAPA"));
    return OkStatus();
  }

  // The refusal of a login, naming the way it was tried.
  Status LoginError(const Reply& reply) {
    return MakeError(CodeFor(reply.text, ErrorCode::kFailedPrecondition),
                     "POP3 login as " + options.user + " at " + peer() + " failed (" +
                         net::LoginCommand(net::LoginProtocol::kPop3, used) + "): " + Sanitize(reply.text));
  }

  net::LoginOffer Offer() const {
    return {.tls = conn->secure(),
            .sasl = SaslMechanisms(),
            .user_pass = !have_capa || Has("USER"),  // RFC 1939 servers without CAPA have USER
            .apop = !timestamp.empty()};
  }

  // Where OAUTHBEARER says it logs in (and SecretMask looks for it).
  uint16_t Port() const {
    const net::ConnectOptions& c = options.connect;
    return c.port != 0 ? c.port : net::DefaultPort(net::Service::kPop3, c.tls);
  }
  void Mask() { mask = net::SecretMask(options.user, options.password, options.connect.host, Port()); }

  // One SASL exchange (RFC 5034 §4): the initial response goes with AUTH
  // when the line fits in 255 octets. Returns the final reply (+OK or -ERR).
  Result<Reply> Sasl() {
    const std::string command = net::LoginCommand(net::LoginProtocol::kPop3, used);
    Reply last;
    net::SaslWire wire{
        .command = command,
        .max_command_line = 255,
        .send = [&](const std::string& line) { return SendNow(line + "\r\n", command); },
        .next = [&](std::string* challenge) -> Result<bool> {
          MK_ASSIGN_OR_RETURN(last, ReadReply(command, /*allow_continue=*/true));
          if (last.kind != Reply::kContinue) return false;
          *challenge = last.text;
          return true;
        },
        .broken = [&](std::string_view what) { return ProtocolError(command, what); },
        .host = options.connect.host,
        .port = Port()};
    MK_RETURN_IF_ERROR(net::RunSasl(used, options.user, options.password, wire));
    return last;
  }

  // Sends `line`, reads the status reply.
  Result<Reply> Step(const std::string& line, const std::string& command) {
    MK_RETURN_IF_ERROR(SendNow(line + "\r\n", command));
    return ReadReply(command);
  }


  Status Authenticate() {
    if (options.user.empty()) return MakeError(ErrorCode::kInvalidArgument, "POP3: no user name given");
    if (!conn->secure() && !options.allow_plaintext) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "refusing to log in as " + options.user + " at " + peer() +
                           " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
    }
    const net::LoginOffer offer = Offer();
    MK_ASSIGN_OR_RETURN(used, net::ChooseLogin(net::LoginProtocol::kPop3, options.auth, offer, peer()));
    MK_ASSIGN_OR_RETURN(Reply last, Login());
    if (last.kind != Reply::kOk && !conn->closed()) {
      if (auto next = net::FallbackLogin(options.auth, used, offer)) {
        used = *next;  // CRAM-MD5 or APOP refused: once more with the next method
        MK_ASSIGN_OR_RETURN(last, Login());
      }
    }
    if (last.kind != Reply::kOk) return LoginError(last);
    return OkStatus();
  }

  // One login with `used`; the final reply (a refusal is not an error here).
  Result<Reply> Login() {
    switch (used) {
      case AuthMethod::kApop: {
        std::string digest = net::ApopDigest(timestamp, options.password);
        if (digest.empty()) return MakeError(ErrorCode::kInternal, "POP3 APOP: MD5 is not available");
        return Step("APOP " + options.user + " " + digest, "APOP");
      }
      case AuthMethod::kUserPass: {
        MK_ASSIGN_OR_RETURN(Reply user, Step("USER " + options.user, "USER"));
        if (user.kind != Reply::kOk) return user;
        return Step("PASS " + options.password, "PASS");
      }
      default: {
        MK_ASSIGN_OR_RETURN(Reply last, Sasl());
        if (last.kind != Reply::kOk && net::IsBearer(used) && options.renew_token) {
          // The token may be stale: once more with a new one.
          MK_ASSIGN_OR_RETURN(options.password, options.renew_token());
          Mask();
          MK_ASSIGN_OR_RETURN(last, Sasl());
        }
        return last;
      }
    }
  }

  Status Open() {
    MK_ASSIGN_OR_RETURN(Reply greeting, ReadReply("greeting"));
    if (greeting.kind != Reply::kOk) {
      conn->Close();
      return MakeError(CodeFor(greeting.text, ErrorCode::kUnavailable),
                       "POP3 server " + peer() + " refused the session: " + Sanitize(greeting.text));
    }
    timestamp = FindTimestamp(greeting.text);
    MK_RETURN_IF_ERROR(Capa());
    if (options.connect.tls == net::TlsMode::kStartTls) {
      if (!Has("STLS")) {
        conn->Close();
        return MakeError(ErrorCode::kFailedPrecondition,
                         "POP3 server " + peer() +
                             " does not offer STLS; use tls = implicit (port 995), or tls = none only on a "
                             "trusted network");
      }
      MK_RETURN_IF_ERROR(SendNow("STLS\r\n", "STLS"));
      MK_ASSIGN_OR_RETURN(Reply reply, ReadReply("STLS"));
      if (reply.kind != Reply::kOk) {
        conn->Close();
        return MakeError(ErrorCode::kFailedPrecondition,
                         "POP3 STLS at " + peer() + " failed: " + Sanitize(reply.text));
      }
      MK_RETURN_IF_ERROR(conn->StartTls());
      // RFC 2595 §4: capabilities learnt before TLS are discarded.
      MK_RETURN_IF_ERROR(Capa());
    }
    Status auth = Authenticate();
    if (!auth) {
      conn->Close();
      return auth;
    }
    return OkStatus();
  }

  // A refusal of `command` (its `tries`-th send) that is throttling
  // (net/throttle.h): OK once waited out (send it again), else the error.
  // nullopt: no throttling, or no Throttle set.
  std::optional<Status> WaitIfThrottled(const std::string& text, int tries, const std::string& command) {
    if (!options.connect.throttle) return std::nullopt;
    return options.connect.throttle->Wait(text, tries, "POP3 " + command + " at " + peer());
  }

  ErrorCode MessageErrorCode(const std::string& text) const {
    return CodeFor(text, ErrorCode::kNotFound);
  }

  Status CheckNumbers(const std::vector<int>& numbers, const char* command) const {
    for (int n : numbers) {
      if (n < 1) {
        return MakeError(ErrorCode::kInvalidArgument,
                         std::string("POP3 ") + command + ": bad message number " + std::to_string(n));
      }
    }
    return OkStatus();
  }

  size_t Window() const {
    if (!Has("PIPELINING")) return 1;
    return static_cast<size_t>(std::max(1, options.pipeline_window));
  }
};

Pop3Client::Pop3Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Pop3Client::~Pop3Client() {
  if (impl_ && impl_->conn) impl_->conn->Close();
}

Result<std::unique_ptr<Pop3Client>> Pop3Client::Connect(const Pop3Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->options.connect.service = net::Service::kPop3;
  impl->Mask();
  auto conn = net::Connection::Open(impl->options.connect);
  if (!conn) return std::unexpected(conn.error());
  impl->conn = std::move(*conn);
  MK_RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Pop3Client>(new Pop3Client(std::move(impl)));
}

const std::vector<std::string>& Pop3Client::capabilities() const { return impl_->capabilities; }
bool Pop3Client::HasCapability(std::string_view name) const { return impl_->Has(name); }
AuthMethod Pop3Client::auth_method() const { return impl_->used; }
bool Pop3Client::secure() const { return impl_->conn->secure(); }
const std::string& Pop3Client::peer() const { return impl_->peer(); }
bool Pop3Client::closed() const { return impl_->conn->closed(); }
bool Pop3Client::timed_out() const { return impl_->conn->timed_out(); }
int Pop3Client::replies() const { return impl_->replies; }

Result<std::vector<MailboxEntry>> Pop3Client::List() {
  for (int tries = 1;; ++tries) {
    std::string refusal;
    auto out = ListOnce(&refusal);
    if (out || refusal.empty()) return out;
    auto waited = impl_->WaitIfThrottled(refusal, tries, "UIDL");
    if (!waited) return out;
    MK_RETURN_IF_ERROR(*waited);
  }
}

Result<std::vector<MailboxEntry>> Pop3Client::ListOnce(std::string* refusal) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  bool pipelined = d.Has("PIPELINING");
  MK_RETURN_IF_ERROR(d.Send("UIDL\r\n", "UIDL"));
  if (pipelined) MK_RETURN_IF_ERROR(d.Send("LIST\r\n", "LIST"));
  MK_RETURN_IF_ERROR(d.Flush("UIDL"));

  // Nothing is sized by a number the server sends: entries grow line by
  // line, at most max_messages of them, within max_listing_bytes.
  const uint64_t budget = d.options.max_listing_bytes;
  MK_ASSIGN_OR_RETURN(Reply uidl, d.ReadReply("UIDL", false, budget));
  std::vector<MailboxEntry> entries;
  if (uidl.kind == Reply::kOk) {
    std::set<int> numbers;
    MK_RETURN_IF_ERROR(d.ReadListing("UIDL", [&](int n, std::string_view uid) -> std::string {
      if (uid.size() > 512) return "a UIDL longer than 512 bytes";
      // One number with two UIDLs would credit one message's content to
      // another's UIDL (and could get that one deleted unseen).
      if (!numbers.insert(n).second) return "message " + std::to_string(n) + " listed twice";
      entries.push_back({n, std::string(uid), 0});
      return {};
    }));
  }
  if (uidl.kind != Reply::kOk) {
    if (pipelined) {  // read the LIST answer that is on its way
      MK_ASSIGN_OR_RETURN(Reply list, d.ReadReply("LIST", false, budget));
      if (list.kind == Reply::kOk) MK_RETURN_IF_ERROR(d.DrainBody("LIST"));
    }
    *refusal = uidl.text;
    return MakeError(CodeFor(uidl.text, ErrorCode::kFailedPrecondition),
                     "POP3 server " + d.peer() +
                         " does not support UIDL, which mailkeep needs to tell which messages it already "
                         "keeps (server said: " + Sanitize(uidl.text) + ")");
  }
  if (!pipelined) MK_RETURN_IF_ERROR(d.SendNow("LIST\r\n", "LIST"));
  MK_ASSIGN_OR_RETURN(Reply list, d.ReadReply("LIST", false, budget));
  if (list.kind != Reply::kOk) {
    *refusal = list.text;
    return MakeError(CodeFor(list.text, ErrorCode::kFailedPrecondition),
                     "POP3 LIST at " + d.peer() + " failed: " + Sanitize(list.text));
  }
  std::map<int, uint64_t> sizes;
  MK_RETURN_IF_ERROR(d.ReadListing("LIST", [&](int n, std::string_view size) -> std::string {
    if (!ParseNumber(size, &sizes[n])) return "a bad size";
    return {};
  }));
  for (auto& e : entries) {
    auto it = sizes.find(e.number);
    if (it == sizes.end()) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "POP3 server " + d.peer() + " listed message " + std::to_string(e.number) +
                           " in UIDL but not in LIST");
    }
    e.size = it->second;
  }
  std::sort(entries.begin(), entries.end(),
            [](const MailboxEntry& a, const MailboxEntry& b) { return a.number < b.number; });
  return entries;
}

Status Pop3Client::Retrieve(const std::vector<int>& numbers,
                            const std::function<Status(int number, std::string&& message)>& sink) {
  std::vector<int> rest = numbers;
  for (int tries = 1;; ++tries) {
    std::string refusal;
    size_t refused_at = 0;
    Status out = RetrieveOnce(rest, sink, &refusal, &refused_at);
    if (out || refusal.empty()) return out;
    auto waited = impl_->WaitIfThrottled(refusal, tries, "RETR " + std::to_string(rest[refused_at]));
    if (!waited) return out;
    MK_RETURN_IF_ERROR(*waited);
    // Those before the refused one reached the sink; the others are asked again.
    rest.erase(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(refused_at));
  }
}

Status Pop3Client::RetrieveOnce(const std::vector<int>& numbers,
                                const std::function<Status(int number, std::string&& message)>& sink,
                                std::string* refusal, size_t* refused_at) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.CheckNumbers(numbers, "RETR"));
  const size_t window = d.Window();
  size_t sent = 0;
  size_t done = 0;
  bool stop = false;
  std::optional<Error> failure;

  auto command_for = [&](size_t i) { return "RETR " + std::to_string(numbers[i]); };
  auto send_more = [&]() -> Status {
    bool wrote = false;
    while (!stop && sent < numbers.size() && sent - done < window) {
      MK_RETURN_IF_ERROR(d.Send(command_for(sent) + "\r\n", "RETR"));
      ++sent;
      wrote = true;
    }
    if (wrote) MK_RETURN_IF_ERROR(d.Flush("RETR"));
    return OkStatus();
  };

  MK_RETURN_IF_ERROR(send_more());
  while (done < sent) {
    const std::string command = command_for(done);
    const int number = numbers[done];
    MK_ASSIGN_OR_RETURN(Reply reply, d.ReadReply(command, false, d.MessageReplyBudget()));
    if (reply.kind != Reply::kOk) {
      ++done;
      if (!stop) {
        stop = true;
        *refusal = reply.text;
        *refused_at = done - 1;
        failure = Error(d.MessageErrorCode(reply.text),
                        "POP3 " + command + " at " + d.peer() + " failed: " + Sanitize(reply.text));
      }
      continue;
    }
    if (stop) {
      MK_RETURN_IF_ERROR(d.DrainBody(command));
      ++done;
      continue;
    }
    // Grows by the bytes that come, never by the size LIST claimed.
    std::string message;
    MK_RETURN_IF_ERROR(d.ReadBody(command, d.options.max_message_line, d.options.max_message_size,
                                  [&](std::string_view line) {
                                    message.append(line);
                                    message.push_back('\n');
                                    return std::string();
                                  }));
    ++done;
    Status s = sink(number, std::move(message));
    if (!s) {
      stop = true;
      failure = s.error();
      continue;
    }
    MK_RETURN_IF_ERROR(send_more());
  }
  if (failure) return std::unexpected(*failure);
  return OkStatus();
}

Result<std::string> Pop3Client::Top(int number, int lines) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.CheckNumbers({number}, "TOP"));
  if (lines < 0) return MakeError(ErrorCode::kInvalidArgument, "POP3 TOP: negative line count");
  const std::string command = "TOP " + std::to_string(number) + " " + std::to_string(lines);
  MK_RETURN_IF_ERROR(d.SendNow(command + "\r\n", "TOP"));
  MK_ASSIGN_OR_RETURN(Reply reply, d.ReadReply(command, false, d.MessageReplyBudget()));
  if (reply.kind != Reply::kOk) {
    return MakeError(d.MessageErrorCode(reply.text),
                     "POP3 " + command + " at " + d.peer() + " failed: " + Sanitize(reply.text));
  }
  std::string out;
  MK_RETURN_IF_ERROR(d.ReadBody(command, d.options.max_message_line, d.options.max_message_size,
                                [&](std::string_view line) {
                                  out.append(line);
                                  out.push_back('\n');
                                  return std::string();
                                }));
  return out;
}

Status Pop3Client::Delete(const std::vector<int>& numbers) {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  MK_RETURN_IF_ERROR(d.CheckNumbers(numbers, "DELE"));
  const size_t window = d.Window();
  size_t sent = 0;
  size_t done = 0;
  std::optional<Error> failure;
  auto command_for = [&](size_t i) { return "DELE " + std::to_string(numbers[i]); };
  while (done < numbers.size()) {
    bool wrote = false;
    while (!failure && sent < numbers.size() && sent - done < window) {
      MK_RETURN_IF_ERROR(d.Send(command_for(sent) + "\r\n", "DELE"));
      ++sent;
      wrote = true;
    }
    if (wrote) MK_RETURN_IF_ERROR(d.Flush("DELE"));
    if (done == sent) break;
    const std::string command = command_for(done);
    MK_ASSIGN_OR_RETURN(Reply reply, d.ReadReply(command));
    ++done;
    if (reply.kind != Reply::kOk && !failure) {
      failure = Error(d.MessageErrorCode(reply.text),
                      "POP3 " + command + " at " + d.peer() + " failed: " + Sanitize(reply.text));
    }
  }
  if (failure) return std::unexpected(*failure);
  return OkStatus();
}

Status Pop3Client::Quit() {
  Impl& d = *impl_;
  MK_RETURN_IF_ERROR(d.Usable());
  const std::string lost = "; messages marked for deletion may not be deleted";
  Status sent = d.SendNow("QUIT\r\n", "QUIT");
  if (!sent) {
    d.conn->Close();
    return MakeError(sent.error().code(), sent.error().message() + lost);
  }
  auto reply = d.ReadReply("QUIT");
  d.conn->Close();
  if (!reply) return MakeError(reply.error().code(), reply.error().message() + lost);
  if (reply->kind != Reply::kOk) {
    return MakeError(CodeFor(reply->text, ErrorCode::kFailedPrecondition),
                     "POP3 QUIT at " + d.peer() + " failed: " + Sanitize(reply->text) + lost);
  }
  return OkStatus();
}

}  // namespace mailkeep::pop3
