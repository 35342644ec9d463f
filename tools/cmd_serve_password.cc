// mailkeep serve-password NAME | --token [--token-file FILE] NAME | --check [--token] NAME:
// the logins of `mailkeep serve` ([serve] in the accounts file), made
// without a secret on the command line.
//   NAME           reads a password (twice without echo on a terminal, else
//                  the first line of stdin) and prints the line
//                  "user = NAME:HASH" to put under [serve]
//   --token NAME   makes a random bearer token, appends its hash to the
//                  token file (the config's token_file, or --token-file;
//                  created 0600) and prints the token once
//   --check NAME   reads a password (with --token: a token) the same way and
//                  says whether the config file's [serve] accepts it for NAME,
//                  through the same check `mailkeep serve` makes
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/passphrase.h"
#include "store/crypto/password_hash.h"
#include "store/util/files.h"
#include "sync/net/sasl.h"
#include "tools/command.h"
#include "web/auth.h"

namespace mailkeep::tools {
namespace {

constexpr size_t kMaxSecret = 1024;

// The secret from the terminal (asked twice when `twice`) or the first line
// of stdin. `noun`: "password", "token".
Result<std::string> ReadSecret(const std::string& noun, const std::string& name, bool twice) {
  if (::isatty(STDIN_FILENO)) {
    MK_ASSIGN_OR_RETURN(std::string first, config::ReadSecretFromTerminal(noun + " for " + name + ": ", noun));
    if (!twice) return first;
    auto second = config::ReadSecretFromTerminal("the same " + noun + " again: ", noun);
    const bool same = second && *second == first;
    if (second) config::WipeSecret(*second);
    if (same) return first;
    config::WipeSecret(first);
    if (!second) return std::unexpected(second.error());
    return MakeError(ErrorCode::kInvalidArgument, "the " + noun + "s do not match; nothing was printed");
  }
  std::string line;
  char c = 0;
  for (;;) {
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorCode::kIoError, "reading the " + noun + " from stdin: " + ErrnoText(errno));
    if (n == 0 || c == '\n') break;
    if (line.size() == kMaxSecret) {
      config::WipeSecret(line);
      return MakeError(ErrorCode::kInvalidArgument, "the " + noun + " is longer than 1024 bytes");
    }
    line += c;
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return MakeError(ErrorCode::kInvalidArgument, "no " + noun + " on stdin (its first line)");
  return line;
}

int MakeUser(const GlobalOptions& global, const std::string& name) {
  auto password = ReadSecret("password", name, /*twice=*/true);
  if (!password) return FailUsage(password.error().message());
  auto hash = crypto::HashPassword(*password);
  config::WipeSecret(*password);
  if (!hash) return Fail(hash.error());
  const std::string text = crypto::FormatPasswordHash(*hash);
  if (global.json) {
    std::cout << nlohmann::json{{"user", name}, {"hash", text}, {"line", "user = " + name + ":" + text}}.dump() << "\n";
  } else {
    std::cout << "user = " << name << ":" << text << "\n";
    if (global.verbosity > 0 && ::isatty(STDOUT_FILENO)) {
      std::cerr << "put this line under [serve] in the accounts file\n";
    }
  }
  return kExitOk;
}

int MakeToken(const GlobalOptions& global, const std::string& name, std::string token_file) {
  if (token_file.empty() && global.config_file) token_file = global.config_file->serve.token_file;
  if (token_file.empty()) {
    return FailUsage(
        "--token needs a token file: set token_file in [serve] of the accounts file, or give --token-file FILE");
  }
  auto token = web::NewBearerToken();
  if (!token) return Fail(token.error());
  if (auto st = web::AppendTokenLine(token_file, web::TokenLine(name, *token)); !st) {
    return st.error().code() == ErrorCode::kFailedPrecondition ? FailUsage(st.error().message()) : Fail(st.error());
  }
  if (global.json) {
    std::cout << nlohmann::json{{"name", name}, {"token", *token}, {"token_file", token_file}}.dump() << "\n";
  } else {
    std::cout << *token << "\n";
    if (global.verbosity > 0) {
      std::cerr << "added the token of " << name << " to " << TerminalText(token_file)
                << "; it is shown only now (clients send it as \"Authorization: Bearer TOKEN\")\n";
    }
  }
  config::WipeSecret(*token);
  return kExitOk;
}

// Builds the header a client would send and asks the authenticator of the
// config file's [serve], as `mailkeep serve` does.
int Check(const GlobalOptions& global, const std::string& name, bool token) {
  auto cfg = RequireConfig(global);
  if (!cfg) return FailUsage(cfg.error().message());
  const config::ServeConfig& serve = (*cfg)->serve;
  auto auth = web::MakeAuthenticator(serve);
  if (!auth) return FailUsage(auth.error().message());
  if (!*auth) return FailUsage("[serve] of " + (*cfg)->path + " has no user and no token_file");
  const bool known = token ? std::ranges::any_of(serve.tokens, [&](const auto& t) { return t.name == name; })
                           : std::ranges::any_of(serve.users, [&](const auto& u) { return u.name == name; });
  if (!known) return FailUsage("[serve] of " + (*cfg)->path + " has no " + (token ? "token" : "user") + " named " + name);
  auto secret = ReadSecret(token ? "token" : "password", name, /*twice=*/false);
  if (!secret) return FailUsage(secret.error().message());
  web::Request request;
  request.method = "GET";
  request.path = "/";
  request.client = "serve-password";
  request.headers.emplace_back(
      "authorization", token ? "Bearer " + *secret : "Basic " + net::Base64Encode(name + ":" + *secret));
  config::WipeSecret(*secret);
  const web::AuthResult result = (*auth)->Authenticate(request);
  config::WipeSecret(request.headers.back().second);
  const bool ok = result.allowed() && result.user == name;
  const std::string what = token ? "the token" : "the password";
  if (global.json) {
    std::cout << nlohmann::json{{"name", name}, {"accepted", ok}}.dump() << "\n";
  } else if (ok && global.verbosity > 0) {
    std::cout << what << " of " << name << " is accepted\n";
  }
  if (!ok) PrintError(what + " is not accepted for " + name + " by [serve] of " + (*cfg)->path);
  return ok ? kExitOk : kExitPartial;
}

}  // namespace

int CmdServePassword(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("serve-password options");
  AddCommonOptions(desc, global);
  std::string token_file;
  desc.add_options()("name", po::value<std::string>(), "the user (or token) name")(
      "token", "make a bearer token instead of a password hash (with --check: check a token)")(
      "token-file", po::value<std::string>(&token_file),
      "with --token: the token file to add to (default: token_file in [serve])")(
      "check", "check a password (or token) against [serve] of the accounts file");
  po::positional_options_description pos;
  pos.add("name", 1);
  po::variables_map vm;
  const char* usage =
      "mailkeep serve-password NAME | --token [--token-file FILE] NAME | --check [--token] NAME\n\n"
      "Logins for `mailkeep serve`, never with a secret on the command line. NAME alone reads a\n"
      "password (twice without echo on a terminal, else the first line of stdin) and prints the line\n"
      "`user = NAME:HASH` (scrypt, 32 MiB) to put under [serve] in the accounts file. --token makes a\n"
      "random bearer token, adds its SHA-256 to the token file (created 0600) and prints the token\n"
      "once. --check reads a password (or token) the same way and says whether [serve] accepts it.";
  if (auto rc = ParseArgs(global, args, usage, desc, pos, vm)) return *rc;
  if (!vm.count("name")) return FailUsage("serve-password needs a NAME (see --help)");
  const std::string name = vm["name"].as<std::string>();
  if (!config::IsServeName(name)) {
    return FailUsage("bad name '" + name + "' (letters, digits, '.', '_', '@', '+' and '-', at most 64)");
  }
  const bool token = vm.count("token") > 0;
  if (vm.count("token-file") && (!token || vm.count("check"))) return FailUsage("--token-file goes with --token");
  if (vm.count("check")) return Check(global, name, token);
  return token ? MakeToken(global, name, token_file) : MakeUser(global, name);
}

}  // namespace mailkeep::tools
