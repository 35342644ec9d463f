// mailkeep serve: the read-only web interface and JSON API (web/server.h)
// over the archive, until SIGINT or SIGTERM.
#include <algorithm>
#include <iostream>
#include <thread>

#include "tools/command.h"
#include "web/auth.h"
#include "web/server.h"

namespace mailkeep::tools {
namespace {

std::vector<web::Route> AllRoutes() {
  std::vector<web::Route> routes = web::ApiRoutes();
  for (auto& r : web::PageRoutes()) routes.push_back(std::move(r));
  return routes;
}

}  // namespace

int CmdServe(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("serve options");
  AddCommonOptions(desc, global);
  desc.add_options()("listen", po::value<std::string>(),
                     "HOST:PORT to listen on (default: [serve] listen, else 127.0.0.1:8025; port 0 = any free one)");
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] serve [--listen HOST:PORT] [-v]", desc, {}, vm)) {
    return *rc;
  }
  web::ServerOptions options;
  if (const config::Config* c = global.config_file.get()) {
    if (c->serve.listen) options.listen = *c->serve.listen;
    if (const auto& seconds = c->serve.header_timeout_seconds) options.limits.header_timeout = std::chrono::seconds(*seconds);
    options.tls_certificate = c->serve.tls_certificate;
    options.tls_key = c->serve.tls_key;
    auto authenticator = web::MakeAuthenticator(c->serve);
    if (!authenticator) return FailUsage(authenticator.error().message());
    options.authenticator = std::move(*authenticator);
  }
  if (vm.count("listen")) {
    auto listen = config::ParseListenAddress(vm["listen"].as<std::string>(), config::AnyPort::kAllowed);
    if (!listen) return FailUsage(listen.error().message());
    options.listen = *listen;
  }
  options.log_requests = global.verbosity > 1;
  // Refused before the archive is opened (and its passphrase asked for).
  if (auto st = web::CheckOptions(options); !st) return FailUsage(st.error().message());

  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  const std::string dir = (*opened)->dir();
  auto keyed = WithArchiveKeys(global, dir);  // the keys unlocked above, not asked again
  if (!keyed) return FailArchive(keyed.error());
  auto opener = web::ReadOnlySessions(dir, *keyed);
  auto first = opener();
  if (!first) return FailArchive(first.error());
  opened->reset();
  const size_t sessions = std::max<size_t>(2, std::thread::hardware_concurrency());
  auto pool = web::SessionPool::Open(sessions, opener, std::move(*first));
  if (!pool) return FailArchive(pool.error());

  web::StopSignals signals;
  auto server = web::Server::Start(std::move(options), AllRoutes(), std::move(*pool));
  if (!server) {
    return server.error().code() == ErrorCode::kInvalidArgument ? FailUsage(server.error().message())
                                                                 : Fail(server.error());
  }
  if (global.verbosity > 0) std::cerr << "mailkeep: serving " << TerminalText(dir) << " on " << (*server)->url() << "\n";
  signals.Wait();
  (*server)->Stop();
  return kExitOk;
}

}  // namespace mailkeep::tools
