// mailkeep oauth ACCOUNT | --relay NAME: authorizes mailkeep once for an
// account (or a relay) with oauth_token_url, by the OAuth 2.0 device authorization grant (RFC 8628;
// sync/oauth/device_grant.h does the work): prints where to go and the code
// to enter, waits until the user approved, then keeps the refresh token in
// the archive's state (ARCHIVE/oauth/account.NAME.refresh or
// relay.NAME.refresh, 0600), from which every later `sync` (`resend`) gets
// its access tokens. It does not hold the
// archive lock while the user approves (that may take minutes, and a sync
// from cron must not wait for it): the token files are written atomically
// and a running sync reads either the old or the new one.
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "store/util/terminal.h"
#include "sync/oauth/device_grant.h"
#include "tools/accounts.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

// `kind` "account" or "relay"; `who` "account work".
void ShowPrompt(const std::string& kind, const std::string& name, const oauth::DevicePrompt& p, bool json) {
  const std::string who = kind + " " + name;
  if (json) {
    std::cout << nlohmann::json{{kind, name}, {"verification_uri", p.verification_uri},
                                {"verification_uri_complete", p.verification_uri_complete},
                                {"user_code", p.user_code}, {"expires_in", p.expires_in}}
                     .dump()
              << std::endl;
    return;
  }
  std::cout << "To let mailkeep use " << TerminalText(who) << ", open\n  " << TerminalText(p.verification_uri)
            << "\nand enter the code\n  " << TerminalText(p.user_code) << "\n";
  if (!p.verification_uri_complete.empty()) {
    std::cout << "(or open " << TerminalText(p.verification_uri_complete) << ")\n";
  }
  std::cout << "Waiting for the approval (the code expires in " << (p.expires_in + 59) / 60 << " min)..."
            << std::endl;
}

// The grant for one account or relay (`kind`: "account", "relay").
template <typename C>
int Authorize(GlobalOptions& global, const C& c, const std::string& kind, const std::string& config_path) {
  const std::string who = kind + " " + c.name;
  if (!c.oauth.enabled() || c.oauth.device_url.empty()) {
    return FailUsage(who + " needs oauth_token_url and oauth_device_url in " + config_path);
  }
  if (c.oauth.refresh_token.kind != config::PasswordSource::Kind::kNone) {
    return FailUsage(who + " takes its refresh token from oauth_refresh_token_command; "
                     "a token kept in the archive would never be used");
  }
  auto opened = OpenConfiguredArchive(global, /*writable=*/false, /*lock_timeout=*/0);
  if (!opened) return FailArchive(opened.error());
  oauth::TokenStore store = TokenStoreFor(c, (*opened)->dir());
  oauth::DeviceGrantHooks hooks;
  hooks.show = [&](const oauth::DevicePrompt& p) { ShowPrompt(kind, c.name, p, global.json); };
  if (auto granted = oauth::RunDeviceGrant(OAuthClientFor(c), store, hooks); !granted) return Fail(granted.error());
  if (global.json) {
    std::cout << nlohmann::json{{kind, c.name}, {"authorized", true}, {"refresh_token_file", store.refresh_path()}}.dump()
              << "\n";
  } else {
    std::cout << TerminalText(who) << ": authorized; the refresh token is kept in "
              << TerminalText(store.refresh_path()) << "\n";
  }
  return kExitOk;
}

}  // namespace

int CmdOauth(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("oauth options");
  AddCommonOptions(desc, global);
  std::string name, relay;
  desc.add_options()
      ("account", po::value<std::string>(&name), "account of the config file to authorize")
      ("relay", po::value<std::string>(&relay), "authorize [relay.NAME] instead (for resend)");
  po::positional_options_description pos;
  pos.add("account", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--config FILE] [--archive DIR] oauth ACCOUNT | --relay NAME", desc,
                          pos, vm)) {
    return *rc;
  }
  if (name.empty() == relay.empty()) return FailUsage("oauth needs an ACCOUNT of the config file, or --relay NAME");
  auto loaded = RequireConfig(global);
  if (!loaded) return FailUsage(loaded.error().message());
  const std::string& config_path = (*loaded)->path;
  if (!relay.empty()) {
    const config::RelayConfig* r = (*loaded)->FindRelay(relay);
    if (r == nullptr) return FailUsage("no [relay." + relay + "] in " + config_path);
    return Authorize(global, *r, "relay", config_path);
  }
  const config::AccountConfig* account = (*loaded)->FindAccount(name);
  if (account == nullptr) return FailUsage("no account '" + name + "' in " + config_path);
  return Authorize(global, *account, "account", config_path);
}

}  // namespace mailkeep::tools
