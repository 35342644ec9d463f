// mailkeep resend QUERY --to ADDR...: sends archived messages out again over
// SMTP, through a configured relay ([relay.NAME]) or straight to each
// recipient domain's mail exchangers (--direct). The envelope, the routes
// and the intents journal that keeps anything from going out twice are in
// sync/resend/resender.h; this file parses, calls and prints.
//
// Exit: 0 when every recipient was accepted (or skipped), 1 when any was
// deferred, failed or unknown, 2 usage or configuration, 3 archive (also
// when an intent or an outcome could not be recorded: nothing more is sent).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "store/util/terminal.h"
#include "sync/resend/resender.h"
#include "tools/accounts.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

using resend::DomainOf;
using resend::IsMailbox;

// ASCII lower case.
std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// For terminal output (store/util/terminal.h).
std::string Printable(std::string_view s) { return TerminalText(s); }

std::string OutcomeWord(SendOutcome o) {
  switch (o) {
    case SendOutcome::kAccepted: return "accepted";
    case SendOutcome::kDeferred: return "deferred";
    case SendOutcome::kFailed: return "failed";
    case SendOutcome::kUnknown: return "unknown";
  }
  return "failed";
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
      ("skip-sent", "leave out recipients a previous resend of the message got accepted (or may have delivered)")
      ("retry-unknown", "with --skip-sent: send again where an earlier resend's outcome is unknown")
      ("dry-run,n", "list what would be sent to whom and how; send nothing")
      ("lock-timeout", po::value<int>(&lock_timeout)->default_value(60),
       "seconds to wait for another mailkeep holding the archive, then exit 3");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--config FILE] [--archive DIR] resend QUERY --to ADDR... [--to-original] "
                          "[--from ADDR] [--relay NAME | --direct] [--notify never|success,failure,delay] "
                          "[--ret full|hdrs] [--resent-headers] [--skip-sent [--retry-unknown]] [--dry-run]",
                          desc, pos, vm)) {
    return *rc;
  }
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
  resend::Options settings;
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
  if (vm.count("retry-unknown") && !vm.count("skip-sent")) return FailUsage("--retry-unknown goes with --skip-sent");
  settings.to = to_opt;
  settings.to_original = to_original;
  settings.from = from_opt;
  settings.resent_headers = vm.count("resent-headers") > 0;
  settings.skip_sent = vm.count("skip-sent") > 0;
  settings.retry_unknown = vm.count("retry-unknown") > 0;
  settings.dry_run = dry_run;

  // The config file: required for a relay; for --direct only when it exists.
  if (!direct && !global.config_file) return FailUsage(RequireConfig(global).error().message());
  const config::Config cfg = global.config_file ? *global.config_file : config::Config{};
  const std::string& config_path = cfg.path;
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

  auto opened = OpenConfiguredArchive(global, !dry_run, lock_timeout);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  Warnings warnings(global.verbosity == 0);
  if (relay != nullptr) {
    if (!relay->tls_verify && !dry_run) {
      warnings.Add("relay " + relay->name + ": tls_verify = false, the server's certificate is not checked");
    }
    if (!relay->user.empty() && !dry_run && relay->oauth.enabled()) {
      // An access token now (one line and exit 1 when there is none), the
      // usable one for each later session, a new one after a refusal.
      auto login = OAuthLoginFor(*relay, archive.dir());
      if (!login) {
        std::cerr << "mailkeep: " << Printable(login.error().message()) << "\n";
        return kExitPartial;
      }
      settings.smtp.password = std::move(login->token);
      settings.relay_token = std::move(login->current);
      settings.smtp.renew_token = std::move(login->renew);
    } else if (!relay->user.empty() && !dry_run) {
      auto password = config::ResolvePassword(relay->password, "relay " + relay->name);
      if (!password) return FailUsage(password.error().message());
      settings.smtp.password = std::move(*password);
    }
    if (!relay->user.empty() && !dry_run) {
      settings.smtp.user = relay->user;
      settings.smtp.auth = config::LoginMethodFor(relay->auth, net::LoginProtocol::kSmtp);
      settings.smtp.allow_plaintext = relay->allow_plaintext;
    }
    settings.relay = resend::Relay{relay->name, RelayConnectOptions(*relay)};
  } else {
    settings.direct = {cfg.direct.dns_server, cfg.direct.smtp_port};
  }
  resend::Resender resender(archive, std::move(settings), [&warnings](const std::string& w) { warnings.Add(w); });

  const auto started = std::chrono::steady_clock::now();
  int64_t accepted = 0, deferred = 0, failed = 0, skipped = 0, messages = 0;
  nlohmann::json json_messages = nlohmann::json::array();
  bool relay_reported = false;
  for (int64_t id : *ids) {
    auto sent = resender.Send(id);
    if (!sent) {
      std::cerr << "mailkeep: " << Printable(sent.error().message()) << "; nothing more is sent\n";
      return kExitArchive;
    }
    if (resender.relay_error() && !relay_reported) {
      relay_reported = true;
      std::cerr << "mailkeep: relay " << relay->name << ": " << Printable(resender.relay_error()->message()) << "\n";
    }
    if (!*sent) continue;
    const resend::MessageReport& m = **sent;
    const std::string& problem = m.problem;
    const std::vector<resend::RecipientReport>& to = m.recipients;
    ++messages;
    if (!problem.empty() && std::all_of(to.begin(), to.end(), [](const auto& r) { return r.skipped; })) ++failed;
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
      json_messages.push_back({{"id", id}, {"message_id", m.message_id}, {"from", m.from}, {"recipients", json_rcpts}});
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
  return (deferred > 0 || failed > 0 || resender.relay_error()) ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
