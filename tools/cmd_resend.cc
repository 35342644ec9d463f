// mailkeep resend QUERY --to ADDR...: sends archived messages out again over
// SMTP, through a configured relay ([relay.NAME]) or straight to each
// recipient domain's mail exchangers (--direct).
//
// The envelope: the sender is --from, else the message's own From; the
// recipients are only the --to addresses (plus the message's To, Cc and Bcc
// with --to-original). The data is the stored bytes, CRLF-normalized and
// dot-stuffed, nothing else changed; --resent-headers prepends Resent-From,
// Resent-To, Resent-Date and Resent-Message-ID (RFC 5322 §3.6.6).
//
// Outcomes, per message and recipient: accepted (the server took
// responsibility), deferred (4xx, or no server reachable now: try again),
// failed (5xx, a null MX, a domain that does not exist). One refused
// recipient does not stop the others. Every attempt is recorded in the
// catalog (sends table) before the next message; --skip-sent leaves out
// the (message, recipient) pairs already accepted, so a large resend that
// was interrupted resumes where it stopped.
//
// Direct delivery (RFC 5321 §5.1): recipients grouped by domain; the MX
// records looked up with the configured dns_server (else the system's);
// exchanges tried in preference order (equal ones shuffled), each of their
// addresses in turn, until one answers; no MX → the domain's own address;
// a null MX (RFC 7505) fails at once. STARTTLS is used when offered,
// without certificate checks (opportunistic, like an MTA: it encrypts
// against passive listeners; MX certificates rarely name the MX). No AUTH.
// An exchange that answers but refuses a recipient is final for it; only a
// connection or session failure moves on to the next exchange. Sessions are
// kept for the whole run; one that the exchange ended since its last
// message (421, idle timeout) is replaced by a new connection first.
//
// Exit: 0 when every recipient was accepted (or skipped), 1 when any was
// deferred or failed, 2 usage or configuration, 3 archive.
#include <sys/random.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <ctime>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "store/util/ascii.h"
#include "sync/smtp/mx_resolver.h"
#include "sync/smtp/smtp_client.h"
#include "tools/accounts.h"
#include "tools/command.h"

namespace mailkeep::tools {
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

// "local@domain": something before and after the last '@', no spaces,
// control characters or angle brackets (UTF-8 is allowed: SMTPUTF8).
bool IsMailbox(std::string_view a) {
  const size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size() || a.size() > 320) return false;
  return std::none_of(a.begin(), a.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f || c == '<' || c == '>';
  });
}

std::string DomainOf(std::string_view address) { return Lower(address.substr(address.rfind('@') + 1)); }

// For terminal output (store/util/terminal.h).
std::string Printable(std::string_view s) { return TerminalText(s); }

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

std::string OutcomeWord(SendOutcome o) {
  switch (o) {
    case SendOutcome::kAccepted: return "accepted";
    case SendOutcome::kDeferred: return "deferred";
    case SendOutcome::kFailed: return "failed";
    case SendOutcome::kUnknown: return "unknown";
  }
  return "failed";
}

SendOutcome FromSmtp(smtp::Outcome o) {
  switch (o) {
    case smtp::Outcome::kAccepted: return SendOutcome::kAccepted;
    case smtp::Outcome::kDeferred: return SendOutcome::kDeferred;
    case smtp::Outcome::kFailed: return SendOutcome::kFailed;
  }
  return SendOutcome::kFailed;
}

// What happened to one recipient of one message in this run.
struct RecipientReport {
  std::string address;
  SendOutcome outcome = SendOutcome::kFailed;
  bool skipped = false;   // --skip-sent: accepted (or delivery unknown) in an earlier run
  std::string route;      // "relay NAME" / "direct HOST"
  std::string reply;      // the server's reply, or why nothing was sent
  bool bcc = false;       // from the message's Bcc (--to-original): kept out of Resent-To
  bool recorded = false;  // already in the catalog (direct delivery records each domain at once)
};

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

struct SendSettings {
  smtp::SmtpOptions smtp;  // hello name; credentials for a relay
  std::optional<smtp::DsnNotify> notify;
  smtp::DsnReturn ret = smtp::DsnReturn::kDefault;
  std::string envid_prefix;
};

smtp::Envelope MakeEnvelope(const std::string& from, const std::vector<RecipientReport>& to,
                            const SendSettings& s, int64_t id) {
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

// Session-level and per-message warnings, each printed once.
class Warnings {
 public:
  explicit Warnings(bool quiet) : quiet_(quiet) {}
  void Add(const std::string& w) {
    if (!quiet_ && seen_.insert(w).second) std::cerr << "mailkeep: warning: " << Printable(w) << "\n";
  }

 private:
  bool quiet_;
  std::set<std::string> seen_;
};

// One relay session, opened on first use and again after the session ends.
class RelayRoute {
 public:
  RelayRoute(const config::RelayConfig& relay, net::ConnectOptions connect, SendSettings settings,
             Warnings& warnings)
      : relay_(relay), connect_(std::move(connect)), settings_(std::move(settings)), warnings_(warnings) {}

  ~RelayRoute() {
    if (client_ && !client_->closed()) static_cast<void>(client_->Quit());
  }

  // Returns an error only when the relay cannot be used at all (connect,
  // TLS or login failed): the caller stops, since every message would fail
  // the same way.
  Status Send(const std::string& from, std::string_view bytes, int64_t id, std::vector<RecipientReport>& to) {
    const std::string route = "relay " + relay_.name;
    const smtp::Envelope env = MakeEnvelope(from, to, settings_, id);
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!client_ || client_->closed()) {
        auto opened = smtp::SmtpClient::Open(connect_, settings_.smtp);
        if (!opened) return std::unexpected(opened.error());
        client_ = std::move(*opened);
        for (const auto& w : client_->warnings()) warnings_.Add(w);
      }
      auto sent = client_->Send(env, bytes);
      if (!sent) {
        if (sent.error().code() == ErrorCode::kUnavailable && attempt == 0) continue;  // closed: connect again
        AllTo(to, ForError(sent.error()), route, sent.error().message());
        return OkStatus();
      }
      for (const auto& w : sent->warnings) warnings_.Add(w);
      // The session ended before any recipient was answered: nothing was
      // refused or taken; one more try on a fresh connection.
      if (Untouched(*sent) && attempt == 0) continue;
      FromSendResult(*sent, route, to);
      return OkStatus();
    }
    return OkStatus();
  }

 private:
  const config::RelayConfig& relay_;
  net::ConnectOptions connect_;
  SendSettings settings_;
  Warnings& warnings_;
  std::unique_ptr<smtp::SmtpClient> client_;
};

// Direct delivery: MX answers and sessions are kept for the whole run.
class DirectRoute {
 public:
  DirectRoute(const config::DirectDeliveryConfig& direct, SendSettings settings, Warnings& warnings)
      : settings_(std::move(settings)), warnings_(warnings), rng_(static_cast<uint32_t>(RandomWord())) {
    resolver_.dns_server = direct.dns_server;
    port_ = direct.smtp_port;
    settings_.smtp.opportunistic_tls = true;
    settings_.smtp.user.clear();
    settings_.smtp.password.clear();
  }

  ~DirectRoute() {
    for (auto& [key, client] : sessions_) {
      if (client && !client->closed()) static_cast<void>(client->Quit());
    }
  }

  // One transaction per recipient domain; `done` is called with each
  // domain's recipients as soon as their outcomes are known (so they are
  // recorded before the next domain is tried).
  void Send(const std::string& from, std::string_view bytes, int64_t id, std::vector<RecipientReport>& to,
            const std::function<void(const std::vector<RecipientReport>&)>& done) {
    std::map<std::string, std::vector<size_t>> by_domain;
    for (size_t i = 0; i < to.size(); ++i) by_domain[DomainOf(to[i].address)].push_back(i);
    for (const auto& [domain, indexes] : by_domain) {
      std::vector<RecipientReport> group;
      for (size_t i : indexes) group.push_back(to[i]);
      SendToDomain(domain, from, bytes, id, group);
      done(group);
      for (size_t k = 0; k < indexes.size(); ++k) to[indexes[k]] = std::move(group[k]);
    }
  }

 private:
  void SendToDomain(const std::string& domain, const std::string& from, std::string_view bytes, int64_t id,
                    std::vector<RecipientReport>& to) {
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
        // answered with 421 at the next MAIL). That says nothing about the
        // exchange: one more try on a new connection before the next
        // address, as RelayRoute does. Both retries below happen only when
        // nothing was delivered.
        bool retry = HasSession(address);
        for (;;) {
          auto client = Session(exchange.host, address);
          if (!client) {
            last_error = client.error().message();
            break;
          }
          auto sent = (*client)->Send(env, bytes);
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
          for (const auto& w : sent->warnings) warnings_.Add(w);
          const bool untouched = Untouched(*sent);
          if (sent->session_error) sessions_.erase(address);
          if (untouched) {
            last_error = sent->session_error->message();
            if (std::exchange(retry, false)) continue;
            break;  // the next address or exchange
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
    for (const auto& w : (*opened)->warnings()) warnings_.Add(w);
    auto& slot = sessions_[address];
    slot = std::move(*opened);
    return slot.get();
  }

  SendSettings settings_;
  Warnings& warnings_;
  std::mt19937 rng_;
  smtp::ResolverOptions resolver_;
  uint16_t port_ = 25;
  std::map<std::string, Result<smtp::MxAnswer>> mx_;
  std::map<std::string, Result<std::vector<std::string>>> addresses_;
  std::map<std::string, std::unique_ptr<smtp::SmtpClient>> sessions_;  // by address
  std::map<std::string, Error> unreachable_;
};

smtp::AuthMethod ToSmtpAuth(config::Auth auth) {
  switch (auth) {
    case config::Auth::kPlain: return smtp::AuthMethod::kPlain;
    case config::Auth::kLogin: return smtp::AuthMethod::kLogin;
    case config::Auth::kCramMd5: return smtp::AuthMethod::kCramMd5;
    case config::Auth::kXoauth2: return smtp::AuthMethod::kXoauth2;
    case config::Auth::kAuto:
    case config::Auth::kApop:
    case config::Auth::kUser: break;  // apop and user are refused for relays by the config loader
  }
  return smtp::AuthMethod::kAuto;
}

net::ConnectOptions RelayConnectOptions(const config::RelayConfig& r) {
  net::ConnectOptions c;
  c.host = r.host;
  c.service = net::Service::kSmtpSubmission;
  c.tls = r.tls == config::Tls::kImplicit   ? net::TlsMode::kImplicit
          : r.tls == config::Tls::kStartTls ? net::TlsMode::kStartTls
                                            : net::TlsMode::kNone;
  c.port = r.port != 0 ? r.port : config::StandardSmtpPort(r.tls);
  c.ca_file = r.ca_file;
  c.verify_certificate = r.tls_verify;
  c.connect_timeout = std::chrono::seconds(r.connect_timeout_seconds);
  c.read_timeout = std::chrono::seconds(r.timeout_seconds);
  return c;
}

Result<smtp::DsnNotify> ParseNotify(const std::string& text) {
  smtp::DsnNotify n;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string word = Lower(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (word == "never") {
      n.never = true;
    } else if (word == "success") {
      n.success = true;
    } else if (word == "failure") {
      n.failure = true;
    } else if (word == "delay") {
      n.delay = true;
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "--notify takes never, or a comma-separated list of success, failure and delay; not '" +
                           Printable(text) + "'");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (n.never && (n.success || n.failure || n.delay)) {
    return MakeError(ErrorCode::kInvalidArgument, "--notify never cannot be combined with success, failure or delay");
  }
  return n;
}

}  // namespace

int CmdResend(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("resend options");
  AddCommonOptions(desc, global);
  std::vector<std::string> to_opt;
  std::string from_opt, relay_name, notify_opt, ret_opt;
  int lock_timeout = 60;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "ids, mid:MESSAGE-ID or a search query; * = every message")
      ("to", po::value<std::vector<std::string>>(&to_opt)->composing(), "envelope recipient (repeat for more)")
      ("to-original", "also send to the message's own To, Cc and Bcc addresses")
      ("from", po::value<std::string>(&from_opt), "envelope sender (default: the message's From address)")
      ("relay", po::value<std::string>(&relay_name), "send through [relay.NAME] of the config file")
      ("direct", "deliver straight to each recipient domain's mail exchangers (MX)")
      ("notify", po::value<std::string>(&notify_opt), "DSN: never, or a list of success,failure,delay")
      ("ret", po::value<std::string>(&ret_opt), "DSN: full or hdrs (what a bounce returns)")
      ("resent-headers", "prepend Resent-From, Resent-To, Resent-Date and Resent-Message-ID")
      ("skip-sent", "leave out recipients a previous resend of the message got accepted")
      ("config", po::value<std::string>(), "accounts file (default $MAILKEEP_CONFIG, then ~/.config/mailkeep/config.ini)")
      ("dry-run,n", "list what would be sent to whom and how; send nothing")
      ("lock-timeout", po::value<int>(&lock_timeout)->default_value(60),
       "seconds to wait for another mailkeep holding the archive, then exit 3");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--config FILE] [--archive DIR] resend QUERY --to ADDR... [--to-original] "
                          "[--from ADDR] [--relay NAME | --direct] [--notify never|success,failure,delay] "
                          "[--ret full|hdrs] [--resent-headers] [--skip-sent] [--dry-run]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (vm.count("config")) global.config = vm["config"].as<std::string>();
  std::vector<std::string> terms;
  if (vm.count("query")) terms = vm["query"].as<std::vector<std::string>>();
  if (terms.empty()) return FailUsage("resend needs a QUERY (ids, mid:MESSAGE-ID or a search; * = every message)");
  const bool to_original = vm.count("to-original") > 0;
  if (to_opt.empty() && !to_original) {
    return FailUsage("resend needs --to ADDR (or --to-original to use the message's own recipients)");
  }
  for (const auto& a : to_opt) {
    if (!IsMailbox(a)) return FailUsage("--to " + Printable(a) + " is not an address like user@example.com");
  }
  if (!from_opt.empty() && !IsMailbox(from_opt) && from_opt != "<>") {
    return FailUsage("--from " + Printable(from_opt) + " is not an address like user@example.com (or <>)");
  }
  const bool direct = vm.count("direct") > 0;
  if (direct && vm.count("relay")) return FailUsage("--relay and --direct exclude each other");
  if (lock_timeout < 0) return FailUsage("--lock-timeout must not be negative");
  SendSettings settings;
  if (vm.count("notify")) {
    auto n = ParseNotify(notify_opt);
    if (!n) return FailUsage(n.error().message());
    settings.notify = *n;
  }
  if (vm.count("ret")) {
    const std::string r = Lower(ret_opt);
    if (r == "full") {
      settings.ret = smtp::DsnReturn::kFull;
    } else if (r == "hdrs") {
      settings.ret = smtp::DsnReturn::kHeaders;
    } else {
      return FailUsage("--ret takes full or hdrs, not '" + Printable(ret_opt) + "'");
    }
  }
  const bool dry_run = vm.count("dry-run") > 0;
  const bool skip_sent = vm.count("skip-sent") > 0;
  const bool resent_headers = vm.count("resent-headers") > 0;

  // The config file: required for a relay; for --direct only when it exists.
  const std::string config_path = global.config.empty() ? config::DefaultConfigPath() : global.config;
  config::Config cfg;
  {
    auto loaded = config::LoadConfigFile(config_path);
    if (loaded) {
      cfg = std::move(*loaded);
    } else if (!(direct && global.config.empty() && loaded.error().code() == ErrorCode::kNotFound)) {
      return FailUsage(loaded.error().message());
    }
  }
  const config::RelayConfig* relay = nullptr;
  if (!direct) {
    if (!relay_name.empty()) {
      relay = cfg.FindRelay(relay_name);
      if (relay == nullptr) return FailUsage("no [relay." + relay_name + "] in " + config_path);
    } else if (cfg.relays.size() == 1) {
      relay = &cfg.relays[0];
    } else if ((relay = cfg.FindRelay("default")) == nullptr) {
      return FailUsage(cfg.relays.empty() ? "no [relay.NAME] in " + config_path + "; add one, or use --direct"
                                          : "several relays in " + config_path + "; choose one with --relay NAME");
    }
  }
  settings.smtp.hello_name = cfg.direct.hello_name.empty() ? smtp::DefaultHelloName() : cfg.direct.hello_name;
  settings.envid_prefix = "mailkeep." + std::to_string(std::time(nullptr)) + ".";

  auto opened = OpenConfiguredArchive(global, cfg, !dry_run, lock_timeout);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  Warnings warnings(global.verbosity == 0);
  std::unique_ptr<RelayRoute> relay_route;
  std::unique_ptr<DirectRoute> direct_route;
  if (!dry_run) {
    if (relay != nullptr) {
      if (!relay->tls_verify) {
        warnings.Add("relay " + relay->name + ": tls_verify = false, the server's certificate is not checked");
      }
      SendSettings s = settings;
      if (!relay->user.empty()) {
        auto password = config::ResolvePassword(relay->password, "relay " + relay->name);
        if (!password) return FailUsage(password.error().message());
        s.smtp.user = relay->user;
        s.smtp.password = std::move(*password);
        s.smtp.auth = ToSmtpAuth(relay->auth);
        s.smtp.allow_plaintext = relay->allow_plaintext;
      }
      relay_route = std::make_unique<RelayRoute>(*relay, RelayConnectOptions(*relay), std::move(s), warnings);
    } else {
      direct_route = std::make_unique<DirectRoute>(cfg.direct, settings, warnings);
    }
  }

  const auto started = std::chrono::steady_clock::now();
  int64_t accepted = 0, deferred = 0, failed = 0, skipped = 0, messages = 0;
  bool stopped = false;
  nlohmann::json json_messages = nlohmann::json::array();
  for (int64_t id : *ids) {
    auto info = archive.GetInfo(id);
    if (!info) return Fail(info.error());
    if (!*info) continue;
    const MessageInfo& m = **info;
    ++messages;

    // The envelope.
    std::string from = from_opt == "<>" ? "" : from_opt;
    if (from_opt.empty()) {
      for (const auto* list : {&m.from, &m.sender}) {
        for (const auto& a : *list) {
          if (IsMailbox(a.address)) {
            from = a.address;
            break;
          }
        }
        if (!from.empty()) break;
      }
    }
    std::vector<RecipientReport> to;
    std::set<std::string> seen;
    auto add = [&](const std::string& address, bool bcc) {
      const std::string key = address.substr(0, address.rfind('@') + 1) + DomainOf(address);
      if (seen.insert(key).second) {
        RecipientReport r;
        r.address = address;
        r.bcc = bcc;
        to.push_back(std::move(r));
      }
    };
    for (const auto& a : to_opt) add(a, false);
    if (to_original) {
      for (const auto* list : {&m.to, &m.cc, &m.bcc}) {
        for (const auto& a : *list) {
          if (IsMailbox(a.address)) add(a.address, list == &m.bcc);
        }
      }
    }
    if (skip_sent) {
      auto earlier = archive.SendAttempts(id);
      if (!earlier) return Fail(earlier.error());
      // Accepted, or possibly delivered (no reply to the end of data): not
      // sent again, so that nothing arrives twice.
      std::map<std::string, SendOutcome> done;
      for (const auto& s : *earlier) {
        if (s.outcome == SendOutcome::kAccepted || s.outcome == SendOutcome::kUnknown) {
          // Accepted wins over unknown.
          auto [it, fresh] =
              done.emplace(s.recipient.substr(0, s.recipient.rfind('@') + 1) + DomainOf(s.recipient), s.outcome);
          if (!fresh && s.outcome == SendOutcome::kAccepted) it->second = SendOutcome::kAccepted;
        }
      }
      for (auto& r : to) {
        auto it = done.find(r.address.substr(0, r.address.rfind('@') + 1) + DomainOf(r.address));
        if (it == done.end()) continue;
        r.skipped = true;
        r.outcome = SendOutcome::kAccepted;
        r.reply = "accepted by an earlier resend";
        if (it->second == SendOutcome::kUnknown) {
          r.reply = "an earlier resend got no reply to the end of data, so it may have been delivered; not sent again "
                    "(resend without --skip-sent to send it anyway)";
          warnings.Add("message " + std::to_string(id) + " to " + r.address + ": " + r.reply);
        }
      }
    }
    std::vector<RecipientReport> sending;
    for (const auto& r : to) {
      if (!r.skipped) sending.push_back(r);
    }

    std::string problem;  // why the message was not sent at all
    if (from.empty() && from_opt != "<>") problem = "the message has no From address; give --from ADDR (or --from '<>')";
    if (from.empty() && resent_headers) problem = "Resent-From needs a sender address; give --from ADDR";
    if (to.empty()) problem = "the message has no To, Cc or Bcc address to send to";

    if (!problem.empty()) {
      for (auto& r : sending) {
        r.outcome = SendOutcome::kFailed;
        r.reply = problem;
      }
      if (sending.empty()) ++failed;
    } else if (!sending.empty() && !dry_run && !stopped) {
      auto raw = archive.ReadRaw(id);
      if (!raw) {
        AllTo(sending, SendOutcome::kFailed, "", "cannot read it from the archive: " + raw.error().message());
      } else {
        std::string bytes = std::move(*raw);
        if (resent_headers) {
          std::vector<std::string> addresses;  // Bcc recipients stay unnamed (RFC 5322 3.6.3)
          for (const auto& r : sending) {
            if (!r.bcc) addresses.push_back(r.address);
          }
          bytes.insert(0, ResentHeaders(from, addresses, DomainOf(from)));  // from is set (see problem)
        }
        if (relay_route) {
          if (Status st = relay_route->Send(from, bytes, id, sending); !st) {
            std::cerr << "mailkeep: relay " << relay->name << ": " << Printable(st.error().message()) << "\n";
            stopped = true;  // every later message would fail the same way
            AllTo(sending, SendOutcome::kDeferred, "relay " + relay->name, st.error().message());
          }
        } else if (direct_route) {
          direct_route->Send(from, bytes, id, sending, [&](const std::vector<RecipientReport>& group) {
            std::vector<SendAttempt> attempts;
            const int64_t now = static_cast<int64_t>(std::time(nullptr));
            for (const auto& r : group) attempts.push_back(SendAttempt{id, r.address, from, r.route, now, r.outcome, r.reply});
            if (Status st = archive.RecordSends(attempts); !st) {
              std::cerr << "mailkeep: message " << id << " was sent, but recording it failed: "
                        << st.error().message() << "\n";
              std::exit(kExitPartial);  // stop before sending more than the catalog knows
            }
          });
          for (auto& r : sending) r.recorded = true;
        }
      }
    } else if (stopped) {
      AllTo(sending, SendOutcome::kDeferred, relay ? "relay " + relay->name : "direct",
            "not attempted: the relay could not be used");
    }

    // Record and report.
    std::vector<SendAttempt> attempts;
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    size_t k = 0;
    for (auto& r : to) {
      if (!r.skipped) r = sending[k++];
      if (r.skipped || r.recorded || dry_run || r.reply.starts_with("not attempted")) continue;
      attempts.push_back(SendAttempt{id, r.address, from, r.route, now, r.outcome, r.reply});
    }
    if (!attempts.empty()) {
      if (Status st = archive.RecordSends(attempts); !st) {
        std::cerr << "mailkeep: message " << id << " was sent, but recording it failed: " << st.error().message()
                  << "\n";
        return kExitPartial;
      }
    }
    nlohmann::json json_rcpts = nlohmann::json::array();
    for (const auto& r : to) {
      std::string outcome = r.skipped ? "skipped" : dry_run ? "would-send" : OutcomeWord(r.outcome);
      if (!dry_run && !problem.empty()) outcome = "failed";
      if (r.skipped) {
        ++skipped;
      } else if (!dry_run) {
        if (r.outcome == SendOutcome::kAccepted) ++accepted;
        if (r.outcome == SendOutcome::kDeferred || r.outcome == SendOutcome::kUnknown) ++deferred;
        if (r.outcome == SendOutcome::kFailed) ++failed;
      }
      std::string route = r.route;
      if (dry_run && route.empty()) route = relay ? "relay " + relay->name : "direct " + DomainOf(r.address);
      if (global.json) {
        json_rcpts.push_back({{"address", r.address}, {"outcome", outcome}, {"route", route}, {"reply", r.reply}});
      } else if (global.verbosity > 0) {
        std::cout << id << " <" << Printable(m.message_id) << "> to " << Printable(r.address) << ": " << outcome;
        if (!route.empty() && !r.skipped) std::cout << " via " << Printable(route);
        if (!r.reply.empty() && !dry_run) std::cout << " (" << Printable(r.reply) << ")";
        if (dry_run && !problem.empty()) std::cout << " (will fail: " << problem << ")";
        std::cout << "\n";
      }
    }
    if (to.empty() && !problem.empty() && !global.json && global.verbosity > 0) {
      std::cout << id << " <" << Printable(m.message_id) << ">: not sent: " << Printable(problem) << "\n";
    }
    if (global.json) {
      json_messages.push_back({{"id", id}, {"message_id", m.message_id}, {"from", from}, {"recipients", json_rcpts}});
      if (!problem.empty()) json_messages.back()["problem"] = problem;
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (global.json) {
    nlohmann::json out = {{"messages", json_messages}, {"accepted", accepted}, {"deferred", deferred},
                          {"failed", failed}, {"skipped", skipped}, {"dry_run", dry_run},
                          {"seconds", std::round(seconds * 1000) / 1000}};
    std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (global.verbosity > 0) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.2f", seconds);
    std::cout << "resend: " << messages << (messages == 1 ? " message" : " messages");
    if (dry_run) {
      std::cout << " (dry run: nothing sent)";
    } else {
      std::cout << ": " << accepted << " accepted, " << deferred << " deferred, " << failed << " failed";
    }
    std::cout << ", " << skipped << " skipped, " << secs << " s\n";
  }
  return (deferred > 0 || failed > 0 || stopped) ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
