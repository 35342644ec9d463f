#include "sync/resend/resender.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <random>
#include <set>
#include <utility>

#include "sync/smtp/mx_resolver.h"

namespace mailkeep::resend {

// What a route calls back: before_end just before the end-of-data line of
// a transaction (the route, the recipients of that transaction in envelope
// order, the replies so far), done with each group of recipients whose
// outcomes are final. An error from either stops the route.
struct Hooks {
  std::function<Status(const std::string& route, const std::vector<RecipientReport>& group,
                       const smtp::SendResult& so_far)>
      before_end;
  std::function<Status(std::vector<RecipientReport>& group)> done;
};

class Resender::Route {
 public:
  virtual ~Route() = default;
  // Sends to every recipient of `to`, filling in their outcomes. Errors: the
  // route cannot be used at all (a relay's connect, TLS or login), or a hook
  // failed.
  virtual Status Send(const std::string& from, std::string_view bytes, int64_t id,
                      std::vector<RecipientReport>& to, const Hooks& hooks) = 0;
};

namespace {

// Direct delivery tries at most this many exchanges per domain, and this
// many addresses of each (a hostile DNS answer can list thousands).
constexpr size_t kMaxExchanges = 10;
constexpr size_t kMaxAddressesPerExchange = 4;

// ASCII lower case (domains are compared that way; local parts are kept).
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool IsMailbox(std::string_view a) {
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() || a.size() > 320) return false;
  return std::none_of(a.begin(), a.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '<' || c == '>';
  });
}

std::string DomainOf(std::string_view address) { return Lower(address.substr(address.rfind('@') + 1)); }

namespace {

// "Sun, 22 Nov 2026 07:44:09 +0000"
std::string MailDateNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %d %s %d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

uint64_t RandomWord() {
  uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != sizeof v) {
    v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) * 0x9e3779b97f4a7c15ULL;
  }
  return v;
}

// The Resent-* block (RFC 5322 §3.6.6) put before the stored header.
std::string ResentHeaders(const std::string& from, const std::vector<std::string>& to, const std::string& domain) {
  std::string out = "Resent-From: <" + from + ">\r\n";
  out += "Resent-To: ";
  for (size_t i = 0; i < to.size(); ++i) {
    if (i > 0) out += ",\r\n ";
    out += "<" + to[i] + ">";
  }
  out += "\r\nResent-Date: " + MailDateNow() + "\r\n";
  char id[40];
  std::snprintf(id, sizeof id, "%016llx.%08llx", static_cast<unsigned long long>(RandomWord()),
                static_cast<unsigned long long>(std::time(nullptr)));
  out += "Resent-Message-ID: <mailkeep." + std::string(id) + "@" + domain + ">\r\n";
  return out;
}

SendOutcome FromSmtp(smtp::Outcome o) {
  switch (o) {
    case smtp::Outcome::kAccepted: return SendOutcome::kAccepted;
    case smtp::Outcome::kDeferred: return SendOutcome::kDeferred;
    case smtp::Outcome::kFailed: return SendOutcome::kFailed;
  }
  return SendOutcome::kFailed;
}

// Fills `out` (one per address, same order) from an SMTP transaction.
void FromSendResult(const smtp::SendResult& r, const std::string& route, std::vector<RecipientReport>& out) {
  for (size_t i = 0; i < out.size() && i < r.recipients.size(); ++i) {
    const smtp::RecipientResult& rr = r.recipients[i];
    out[i].outcome = FromSmtp(rr.outcome);
    // The whole message went out but its end-of-data reply never came: the
    // server may have it (RFC 1047), so sending it again may deliver twice.
    if (r.delivery_unknown && rr.outcome == smtp::Outcome::kDeferred && rr.rcpt.positive()) {
      out[i].outcome = SendOutcome::kUnknown;
    }
    out[i].route = route;
    out[i].reply = rr.outcome == smtp::Outcome::kAccepted ? r.data.ToString() : rr.reason;
    if (out[i].reply.empty() && r.session_error) out[i].reply = r.session_error->message();
  }
}

// The session ended before any recipient was answered: nothing was refused
// or taken, so the message may be tried again on a new connection.
bool Untouched(const smtp::SendResult& r) {
  return r.session_error && !r.delivery_unknown &&
         std::all_of(r.recipients.begin(), r.recipients.end(),
                     [](const smtp::RecipientResult& rr) { return rr.rcpt.code == 0; });
}

// A session that had carried `carried` messages refused this one for now
// before taking any recipient (4xx to MAIL, or to every RCPT): a limit of
// messages per session (OpenSMTPD answers MAIL with "452 4.5.3 ... Too many
// messages sent" after 100), which a new session does not have. Nothing was
// delivered: no end of data was sent.
bool UsedUp(const smtp::SendResult& r, size_t carried) {
  if (carried == 0 || r.session_error || r.delivery_unknown) return false;
  if (r.mail.klass() == 4) return true;
  return r.mail.positive() && std::all_of(r.recipients.begin(), r.recipients.end(),
                                          [](const smtp::RecipientResult& rr) { return rr.rcpt.klass() == 4; });
}

// Whether a transaction deserves one more try on a new session: the
// session ended before any recipient was answered, or it was used up. A
// fresh session that refuses too is not given another (see the callers:
// at most one new session per message).
bool TryANewSession(const smtp::SendResult& r, size_t carried) { return Untouched(r) || UsedUp(r, carried); }

// Ends a session politely (QUIT) when it is still open.
void Retire(std::unique_ptr<smtp::SmtpClient>& client) {
  if (client && !client->closed()) static_cast<void>(client->Quit());
  client.reset();
}

void AllTo(std::vector<RecipientReport>& out, SendOutcome outcome, const std::string& route,
           const std::string& why) {
  for (auto& r : out) {
    r.outcome = outcome;
    r.route = route;
    r.reply = why;
  }
}

// Error code → outcome for a failure before any server took part.
SendOutcome ForError(const Error& e) {
  return e.code() == ErrorCode::kUnavailable ? SendOutcome::kDeferred : SendOutcome::kFailed;
}

smtp::Envelope MakeEnvelope(const std::string& from, const std::vector<RecipientReport>& to,
                            const Options& s, int64_t id) {
  smtp::Envelope env;
  env.from = from;
  env.ret = s.ret;
  if (s.notify || s.ret != smtp::DsnReturn::kDefault) env.envid = s.envid_prefix + std::to_string(id);
  for (const auto& r : to) {
    smtp::Recipient rcpt;
    rcpt.address = r.address;
    if (s.notify) {
      rcpt.notify = *s.notify;
      rcpt.orcpt = r.address;
    }
    env.recipients.push_back(std::move(rcpt));
  }
  return env;
}

// One relay session, opened on first use and again after the session ends.
class RelayRoute : public Resender::Route {
 public:
  RelayRoute(const Relay& relay, const Options& settings, const Warn& warn)
      : relay_(relay), settings_(settings), warn_(warn) {}

  ~RelayRoute() { Retire(client_); }

  // Returns an error only when the relay cannot be used at all (connect,
  // TLS or login failed): the caller stops, since every message would fail
  // the same way.
  Status Send(const std::string& from, std::string_view bytes, int64_t id, std::vector<RecipientReport>& to,
              const Hooks& hooks) override {
    const std::string route = "relay " + relay_.name;
    const smtp::Envelope env = MakeEnvelope(from, to, settings_, id);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!client_ || client_->closed()) {
        auto opened = Open();
        if (!opened) return std::unexpected(opened.error());
        client_ = std::move(*opened);
        for (const auto& w : client_->warnings()) warn_(w);
      }
      const size_t carried = client_->transactions();
      auto sent = client_->Send(env, bytes, [&](const smtp::SendResult& so_far) {
        return hooks.before_end(route, to, so_far);
      });
      if (!sent) {
        if (sent.error().code() == ErrorCode::kUnavailable && attempt == 0) continue;  // closed: connect again
        AllTo(to, ForError(sent.error()), route, sent.error().message());
        return hooks.done(to);
      }
      for (const auto& w : sent->warnings) warn_(w);
      // Ended or used up before anything was taken: one more try on a
      // fresh connection.
      if (attempt == 0 && TryANewSession(*sent, carried)) {
        Retire(client_);
        continue;
      }
      FromSendResult(*sent, route, to);
      return hooks.done(to);
    }
    return hooks.done(to);
  }

 private:
  Result<std::unique_ptr<smtp::SmtpClient>> Open() const {
    if (!settings_.relay_token) return smtp::SmtpClient::Open(relay_.connect, settings_.smtp);
    smtp::SmtpOptions options = settings_.smtp;
    MK_ASSIGN_OR_RETURN(options.password, settings_.relay_token());
    return smtp::SmtpClient::Open(relay_.connect, options);
  }

  const Relay& relay_;
  const Options& settings_;
  const Warn& warn_;
  std::unique_ptr<smtp::SmtpClient> client_;
};

// Direct delivery: MX answers and sessions are kept for the whole run.
class DirectRoute : public Resender::Route {
 public:
  DirectRoute(const Options& settings, const Warn& warn)
      : settings_(settings), warn_(warn), rng_(static_cast<uint32_t>(RandomWord())) {
    resolver_.dns_server = settings.direct.dns_server;
    port_ = settings.direct.smtp_port;
    settings_.smtp.opportunistic_tls = true;
    settings_.smtp.user.clear();
    settings_.smtp.password.clear();
  }

  ~DirectRoute() {
    for (auto& [key, client] : sessions_) Retire(client);
  }

  // One transaction per recipient domain; hooks.done is called with each
  // domain's recipients as soon as their outcomes are known (so they are
  // recorded before the next domain is tried); its error stops the rest.
  Status Send(const std::string& from, std::string_view bytes, int64_t id, std::vector<RecipientReport>& to,
              const Hooks& hooks) override {
    std::map<std::string, std::vector<size_t>> by_domain;
    for (size_t i = 0; i < to.size(); ++i) by_domain[DomainOf(to[i].address)].push_back(i);
    for (const auto& [domain, indexes] : by_domain) {
      std::vector<RecipientReport> group;
      for (size_t i : indexes) group.push_back(to[i]);
      SendToDomain(domain, from, bytes, id, group, hooks);
      Status recorded = hooks.done(group);
      for (size_t k = 0; k < indexes.size(); ++k) to[indexes[k]] = std::move(group[k]);
      MK_RETURN_IF_ERROR(recorded);
    }
    return OkStatus();
  }

 private:
  void SendToDomain(const std::string& domain, const std::string& from, std::string_view bytes, int64_t id,
                    std::vector<RecipientReport>& to, const Hooks& hooks) {
    const std::string route = "direct " + domain;
    auto mx = Mx(domain);
    if (!mx) {
      AllTo(to, mx.error().code() == ErrorCode::kUnavailable ? SendOutcome::kDeferred : SendOutcome::kFailed, route,
            mx.error().message());
      return;
    }
    if (mx->kind == smtp::MxAnswer::kNullMx) {
      AllTo(to, SendOutcome::kFailed, route, "domain " + domain + " accepts no mail (null MX, RFC 7505)");
      return;
    }
    const smtp::Envelope env = MakeEnvelope(from, to, settings_, id);
    std::string last_error = "no mail exchanger of " + domain + " could be reached";
    // A domain whose every exchange has no address can never be reached:
    // failed, not deferred.
    bool only_no_address = true;
    std::vector<smtp::MailExchange> exchanges = smtp::OrderExchanges(mx->exchanges, rng_);
    if (exchanges.size() > kMaxExchanges) exchanges.resize(kMaxExchanges);  // a hostile answer cannot stall the run
    for (const smtp::MailExchange& exchange : exchanges) {
      auto addresses = Addresses(exchange.host);
      if (!addresses) {
        last_error = addresses.error().message();
        only_no_address = only_no_address && addresses.error().code() == ErrorCode::kNotFound;
        continue;
      }
      only_no_address = false;
      const size_t tries = std::min(addresses->size(), kMaxAddressesPerExchange);
      for (size_t a = 0; a < tries; ++a) {
        const std::string& address = (*addresses)[a];
        const std::string exchange_route = "direct " + exchange.host;
        // A session kept from an earlier message may have been ended by the
        // exchange since (an idle timeout; a per-connection message limit
        // answered with 421 at the next MAIL), or used up (that limit
        // answered with a 4xx). That says nothing about the exchange: one
        // more try on a new connection before the next address, as
        // RelayRoute does. Both retries below happen only when nothing was
        // delivered.
        bool retry = HasSession(address);
        for (;;) {
          auto client = Session(exchange.host, address);
          if (!client) {
            last_error = client.error().message();
            break;
          }
          const size_t carried = (*client)->transactions();
          auto sent = (*client)->Send(env, bytes, [&](const smtp::SendResult& so_far) {
            return hooks.before_end(exchange_route, to, so_far);
          });
          if (!sent) {
            last_error = sent.error().message();
            sessions_.erase(address);
            if (sent.error().code() != ErrorCode::kUnavailable) {
              AllTo(to, SendOutcome::kFailed, exchange_route, last_error);
              return;
            }
            if (std::exchange(retry, false)) continue;
            break;  // the next address or exchange
          }
          for (const auto& w : sent->warnings) warn_(w);
          const bool untouched = Untouched(*sent);
          if (sent->session_error) sessions_.erase(address);
          if (untouched) {
            last_error = sent->session_error->message();
            if (std::exchange(retry, false)) continue;
            break;  // the next address or exchange
          }
          if (UsedUp(*sent, carried) && std::exchange(retry, false)) {
            Retire(sessions_[address]);
            sessions_.erase(address);
            continue;
          }
          FromSendResult(*sent, exchange_route, to);
          return;
        }
      }
    }
    AllTo(to, only_no_address ? SendOutcome::kFailed : SendOutcome::kDeferred, route, last_error);
  }

  Result<smtp::MxAnswer> Mx(const std::string& domain) {
    auto it = mx_.find(domain);
    if (it == mx_.end()) it = mx_.emplace(domain, smtp::LookupMx(domain, resolver_)).first;
    return it->second;
  }

  Result<std::vector<std::string>> Addresses(const std::string& host) {
    auto it = addresses_.find(host);
    if (it == addresses_.end()) it = addresses_.emplace(host, smtp::LookupAddresses(host, resolver_)).first;
    return it->second;
  }

  // Whether a session with `address` is kept from an earlier message (and
  // not known to be closed): Session() would reuse it.
  bool HasSession(const std::string& address) const {
    auto it = sessions_.find(address);
    return it != sessions_.end() && it->second && !it->second->closed();
  }

  // A live session with the exchange at `address`, reused across messages.
  // A connection that failed is not retried in this run.
  Result<smtp::SmtpClient*> Session(const std::string& host, const std::string& address) {
    if (auto dead = unreachable_.find(address); dead != unreachable_.end()) {
      return std::unexpected(dead->second);
    }
    auto it = sessions_.find(address);
    if (it != sessions_.end() && !it->second->closed()) return it->second.get();
    net::ConnectOptions c;
    c.host = address;
    c.port = port_;
    c.service = net::Service::kSmtpRelay;
    c.tls = net::TlsMode::kNone;
    c.verify_certificate = false;  // opportunistic: see the top of the file
    c.connect_timeout = std::chrono::seconds(30);
    c.read_timeout = std::chrono::seconds(600);  // RFC 5321 4.5.3.2.6: up to 10 minutes for the end of data
    auto opened = smtp::SmtpClient::Open(c, settings_.smtp);
    if (!opened) {
      Error e = opened.error().WithContext("mail exchanger " + host);
      unreachable_.emplace(address, e);
      return std::unexpected(e);
    }
    for (const auto& w : (*opened)->warnings()) warn_(w);
    auto& slot = sessions_[address];
    slot = std::move(*opened);
    return slot.get();
  }

  Options settings_;  // a copy: no credentials, opportunistic TLS
  const Warn& warn_;
  std::mt19937 rng_;
  smtp::ResolverOptions resolver_;
  uint16_t port_ = 25;
  std::map<std::string, Result<smtp::MxAnswer>> mx_;
  std::map<std::string, Result<std::vector<std::string>>> addresses_;
  std::map<std::string, std::unique_ptr<smtp::SmtpClient>> sessions_;  // by address
  std::map<std::string, Error> unreachable_;
};


// "local@domain" as recipients are compared: the local part as written, the
// domain in lower case.
std::string RecipientKey(std::string_view address) {
  return std::string(address.substr(0, address.rfind('@') + 1)) + DomainOf(address);
}

}  // namespace

struct Resender::State {
  Archive& archive;
  Options options;
  Warn warn;
  std::unique_ptr<Route> route;
  std::optional<Error> relay_error;
  std::optional<Error> archive_error;  // a hook could not record: stop everything
  std::map<std::string, Intent> open;  // this message's intents by recipient key, awaiting their outcome

  Status BeforeEnd(int64_t id, const std::string& from, const std::string& route,
                   const std::vector<RecipientReport>& group, const smtp::SendResult& so_far);
  Status Done(int64_t id, const std::string& from, std::vector<RecipientReport>& group);
  Status MarkSkipped(int64_t id, const std::string& message_id, std::vector<RecipientReport>& to);
  std::string EnvelopeFrom(const MessageInfo& m) const;
  std::vector<RecipientReport> Recipients(const MessageInfo& m) const;
  void SendMessage(const MessageInfo& m, const std::string& from, std::vector<RecipientReport>& sending);
};

Resender::Resender(Archive& archive, Options options, Warn warn)
    : s_(new State{archive, std::move(options), std::move(warn), nullptr, {}, {}, {}}) {
  if (s_->options.dry_run) return;
  if (s_->options.relay) {
    s_->route = std::make_unique<RelayRoute>(*s_->options.relay, s_->options, s_->warn);
  } else {
    s_->route = std::make_unique<DirectRoute>(s_->options, s_->warn);
  }
}

Resender::~Resender() = default;

const std::optional<Error>& Resender::relay_error() const { return s_->relay_error; }

// The intents of the recipients the server's RCPT accepted, committed
// before the end of data.
Status Resender::State::BeforeEnd(int64_t id, const std::string& from, const std::string& route,
                                  const std::vector<RecipientReport>& group, const smtp::SendResult& so_far) {
  std::vector<Intent> intents;
  for (size_t i = 0; i < group.size() && i < so_far.recipients.size(); ++i) {
    if (so_far.recipients[i].rcpt.positive()) {
      intents.push_back(Intent::For(IntentKind::kSend, id, group[i].address, route, from));
    }
  }
  Status st = archive.RecordIntents(intents);
  if (!st) {
    archive_error = st.error().WithContext("recording the intent to send message " + std::to_string(id));
    return st;
  }
  for (Intent& i : intents) open[RecipientKey(i.target)] = std::move(i);
  return OkStatus();
}

// Resolves the open intents of `group` with their outcomes and logs the
// recipients that never reached the end of data, in one transaction each.
Status Resender::State::Done(int64_t id, const std::string& from, std::vector<RecipientReport>& group) {
  std::vector<Intent> resolved, logged;
  for (const RecipientReport& r : group) {
    if (r.reply.starts_with("not attempted")) continue;
    auto it = open.find(RecipientKey(r.address));
    Intent i = it != open.end() ? std::move(it->second) : Intent::For(IntentKind::kSend, id, r.address, r.route, from);
    if (it != open.end()) open.erase(it);
    i.outcome = r.outcome;
    i.reply = r.reply;
    (i.id != 0 ? resolved : logged).push_back(std::move(i));
  }
  Status st = archive.ResolveIntents(resolved);
  if (st) st = archive.RecordIntents(logged);
  if (!st) archive_error = st.error().WithContext("message " + std::to_string(id) + " was sent, but recording it failed");
  return st;
}

Status Resender::State::MarkSkipped(int64_t id, const std::string& message_id, std::vector<RecipientReport>& to) {
  MK_ASSIGN_OR_RETURN(auto earlier, archive.Intents(IntentKind::kSend, id));
  // Accepted, or possibly delivered (unknown): not sent again, so that
  // nothing arrives twice. Accepted wins over unknown.
  std::map<std::string, SendOutcome> done;
  for (const Intent& i : earlier) {
    if (i.outcome != SendOutcome::kAccepted && i.outcome != SendOutcome::kUnknown) continue;
    auto [it, fresh] = done.emplace(RecipientKey(i.target), i.outcome);
    if (!fresh && i.outcome == SendOutcome::kAccepted) it->second = SendOutcome::kAccepted;
  }
  for (RecipientReport& r : to) {
    auto it = done.find(RecipientKey(r.address));
    if (it == done.end()) continue;
    if (it->second == SendOutcome::kUnknown) {
      if (options.retry_unknown) continue;
      r.skipped = true;
      r.outcome = SendOutcome::kUnknown;
      r.reply = "an earlier resend may have delivered it (no answer to its end of data was recorded); not sent again";
      warn("message " + std::to_string(id) + " to " + r.address + ": " + r.reply + " (look for Message-ID <" +
           message_id + "> there; --retry-unknown sends it anyway)");
      continue;
    }
    r.skipped = true;
    r.outcome = SendOutcome::kAccepted;
    r.reply = "accepted by an earlier resend";
  }
  return OkStatus();
}

std::string Resender::State::EnvelopeFrom(const MessageInfo& m) const {
  if (options.from == "<>") return "";
  if (!options.from.empty()) return options.from;
  for (const auto* list : {&m.from, &m.sender}) {
    for (const auto& a : *list) {
      if (IsMailbox(a.address)) return a.address;
    }
  }
  return "";
}

std::vector<RecipientReport> Resender::State::Recipients(const MessageInfo& m) const {
  std::vector<RecipientReport> to;
  std::set<std::string> seen;
  auto add = [&](const std::string& address, bool bcc) {
    if (!seen.insert(RecipientKey(address)).second) return;
    RecipientReport r;
    r.address = address;
    r.bcc = bcc;
    to.push_back(std::move(r));
  };
  for (const auto& a : options.to) add(a, false);
  if (options.to_original) {
    for (const auto* list : {&m.to, &m.cc, &m.bcc}) {
      for (const auto& a : *list) {
        if (IsMailbox(a.address)) add(a.address, list == &m.bcc);
      }
    }
  }
  return to;
}

void Resender::State::SendMessage(const MessageInfo& m, const std::string& from,
                                  std::vector<RecipientReport>& sending) {
  const std::string relay_route = options.relay ? "relay " + options.relay->name : "direct";
  if (relay_error) {
    AllTo(sending, SendOutcome::kDeferred, relay_route, "not attempted: the relay could not be used");
    return;
  }
  Hooks hooks;
  hooks.before_end = [&](const std::string& route, const std::vector<RecipientReport>& group,
                         const smtp::SendResult& so_far) { return BeforeEnd(m.id, from, route, group, so_far); };
  hooks.done = [&](std::vector<RecipientReport>& group) { return Done(m.id, from, group); };
  auto raw = archive.ReadRaw(m.id);
  if (!raw) {
    AllTo(sending, SendOutcome::kFailed, "", "cannot read it from the archive: " + raw.error().message());
    static_cast<void>(hooks.done(sending));
    return;
  }
  std::string bytes = std::move(*raw);
  if (options.resent_headers) {
    std::vector<std::string> addresses;  // Bcc recipients stay unnamed (RFC 5322 3.6.3)
    for (const auto& r : sending) {
      if (!r.bcc) addresses.push_back(r.address);
    }
    bytes.insert(0, ResentHeaders(from, addresses, DomainOf(from)));  // from is set (see the caller)
  }
  Status st = route->Send(from, bytes, m.id, sending, hooks);
  if (!st && !archive_error) {
    relay_error = st.error();  // every later message would fail the same way
    AllTo(sending, SendOutcome::kDeferred, relay_route, st.error().message());
    static_cast<void>(hooks.done(sending));
  }
}

Result<std::optional<MessageReport>> Resender::Send(int64_t id) {
  State& s = *s_;
  MK_ASSIGN_OR_RETURN(auto info, s.archive.GetInfo(id));
  if (!info) return std::optional<MessageReport>();
  const MessageInfo& m = *info;
  MessageReport report;
  report.id = id;
  report.message_id = m.message_id;
  report.from = s.EnvelopeFrom(m);
  std::vector<RecipientReport> to = s.Recipients(m);
  if (s.options.skip_sent) MK_RETURN_IF_ERROR(s.MarkSkipped(id, m.message_id, to));
  if (report.from.empty() && s.options.from != "<>") {
    report.problem = "the message has no From address; give --from ADDR (or --from '<>')";
  }
  if (report.from.empty() && s.options.resent_headers) report.problem = "Resent-From needs a sender address; give --from ADDR";
  if (to.empty()) report.problem = "the message has no To, Cc or Bcc address to send to";

  std::vector<RecipientReport> sending;
  for (const auto& r : to) {
    if (!r.skipped) sending.push_back(r);
  }
  s.open.clear();
  if (!report.problem.empty()) {
    AllTo(sending, SendOutcome::kFailed, "", report.problem);
    if (!s.options.dry_run) static_cast<void>(s.Done(id, report.from, sending));
  } else if (!sending.empty() && !s.options.dry_run) {
    s.SendMessage(m, report.from, sending);
  }
  if (s.archive_error) return std::unexpected(*s.archive_error);
  size_t k = 0;
  for (auto& r : to) {
    if (!r.skipped) r = std::move(sending[k++]);
  }
  report.recipients = std::move(to);
  return std::optional<MessageReport>(std::move(report));
}

}  // namespace mailkeep::resend
