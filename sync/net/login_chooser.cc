#include "sync/net/login_chooser.h"

#include <array>

#include "store/util/ascii.h"

namespace mailkeep::net {

namespace {

bool Offers(const LoginOffer& offer, LoginMethod method) {
  switch (method) {
    case LoginMethod::kApop: return offer.apop;
    case LoginMethod::kUserPass: return offer.user_pass;
    case LoginMethod::kAuto: return false;
    default: break;
  }
  const char* mech = SaslMechanism(method);
  for (const auto& m : offer.sasl) {
    if (ascii::EqualsIgnoreCase(m, mech)) return true;
  }
  return false;
}

// "AUTH PLAIN, AUTH X-UNKNOWN, USER/PASS, APOP": what the server offers, in
// its own words; mechanism names come from the server, so each is made
// printable and the list is bounded.
std::string Offered(LoginProtocol protocol, const LoginOffer& offer) {
  constexpr size_t kMaxListed = 16;
  std::string list;
  auto add = [&](const std::string& what) { list += (list.empty() ? "" : ", ") + what; };
  const std::string sasl_verb = protocol == LoginProtocol::kImap ? "AUTHENTICATE " : "AUTH ";
  for (size_t i = 0; i < offer.sasl.size(); ++i) {
    if (i == kMaxListed) {
      add("...");
      break;
    }
    add(sasl_verb + ascii::Printable(ascii::UpperCopy(offer.sasl[i]), 40));
  }
  if (offer.user_pass) add(LoginCommand(protocol, LoginMethod::kUserPass));
  if (offer.apop) add("APOP");
  return list.empty() ? "none" : list;
}

}  // namespace

const char* LoginMethodName(LoginMethod method) {
  switch (method) {
    case LoginMethod::kAuto: return "auto";
    case LoginMethod::kPlain: return "plain";
    case LoginMethod::kLogin: return "login";
    case LoginMethod::kCramMd5: return "cram-md5";
    case LoginMethod::kXoauth2: return "xoauth2";
    case LoginMethod::kOauthBearer: return "oauthbearer";
    case LoginMethod::kApop: return "apop";
    case LoginMethod::kUserPass: return "user";
  }
  return "?";
}

const char* LoginProtocolName(LoginProtocol protocol) {
  switch (protocol) {
    case LoginProtocol::kPop3: return "POP3";
    case LoginProtocol::kImap: return "IMAP";
    case LoginProtocol::kSmtp: return "SMTP";
  }
  return "?";
}

const char* SaslMechanism(LoginMethod method) {
  switch (method) {
    case LoginMethod::kPlain: return "PLAIN";
    case LoginMethod::kLogin: return "LOGIN";
    case LoginMethod::kCramMd5: return "CRAM-MD5";
    case LoginMethod::kXoauth2: return "XOAUTH2";
    case LoginMethod::kOauthBearer: return "OAUTHBEARER";
    default: return nullptr;
  }
}

std::string LoginCommand(LoginProtocol protocol, LoginMethod method) {
  if (const char* mech = SaslMechanism(method)) {
    return std::string(protocol == LoginProtocol::kImap ? "AUTHENTICATE " : "AUTH ") + mech;
  }
  switch (method) {
    case LoginMethod::kApop: return "APOP";
    case LoginMethod::kUserPass:
      return protocol == LoginProtocol::kImap ? "LOGIN" : protocol == LoginProtocol::kPop3 ? "USER/PASS" : "a password command";
    default: return "auto";
  }
}

Result<LoginMethod> ChooseLogin(LoginProtocol protocol, LoginMethod wanted, const LoginOffer& offer,
                                std::string_view peer) {
  auto not_offered = [&](const std::string& what, const std::string& hint = "") {
    return MakeError(ErrorCode::kFailedPrecondition,
                     std::string(LoginProtocolName(protocol)) + " server " + std::string(peer) + " does not offer " +
                         what + " (it offers " + Offered(protocol, offer) + ")" + hint);
  };
  if (wanted != LoginMethod::kAuto) {
    if (Offers(offer, wanted)) return wanted;
    if (wanted == LoginMethod::kApop && protocol == LoginProtocol::kPop3) {
      return not_offered("APOP (no timestamp in its greeting)");
    }
    return not_offered(LoginCommand(protocol, wanted));
  }
  using M = LoginMethod;
  static constexpr std::array kOverTls = {M::kPlain, M::kLogin, M::kCramMd5, M::kUserPass};
  static constexpr std::array kWithoutTls = {M::kCramMd5, M::kApop, M::kPlain, M::kLogin, M::kUserPass};
  if (offer.tls) {
    for (M m : kOverTls)
      if (Offers(offer, m)) return m;
  } else {
    for (M m : kWithoutTls)
      if (Offers(offer, m)) return m;
  }
  const bool apop_only_if_asked = offer.tls && offer.apop;
  return not_offered("a login method mailkeep supports",
                     apop_only_if_asked ? "; over TLS mailkeep uses APOP only with auth = apop" : "");
}

std::optional<LoginMethod> FallbackLogin(LoginMethod wanted, LoginMethod used, const LoginOffer& offer) {
  using M = LoginMethod;
  if (wanted != M::kAuto || offer.tls || (used != M::kCramMd5 && used != M::kApop)) return std::nullopt;
  for (M m : {M::kPlain, M::kLogin, M::kUserPass})
    if (Offers(offer, m)) return m;
  return std::nullopt;
}

}  // namespace mailkeep::net
