// Which way to log in to a mail server: the one chooser the POP3, IMAP and
// SMTP clients share. Pure functions; thread-safe.
//
// `auto` picks, from what the server offers:
//   over TLS     SASL PLAIN, SASL LOGIN, SASL CRAM-MD5, then the protocol's
//                user/password command (POP3 USER/PASS, IMAP LOGIN).
//                Never APOP: a POP3 server may put a timestamp in every
//                greeting and still accept APOP only for users in its APOP
//                database (GNU Mailutils does), so the password a user gives
//                must go the way that checks it.
//   without TLS  (allow_plaintext) the methods that do not send the
//                password first: SASL CRAM-MD5, APOP; then SASL PLAIN, SASL
//                LOGIN, USER/PASS.
//                A server may offer CRAM-MD5 or APOP and still be unable to
//                check them (GNU Mailutils offers AUTH=CRAM-MD5 with no
//                CRAM password file, and an APOP timestamp in every POP3
//                greeting with APOP only for users in its APOP database):
//                when the server refuses the one auto chose, the client
//                tries the first offered of SASL PLAIN, SASL LOGIN,
//                USER/PASS (LOGIN) once more (FallbackLogin). So a wrong
//                password costs two refusals there.
// XOAUTH2 and OAUTHBEARER only when named. A named method is used only when offered.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"

namespace mailkeep::net {

// kLogin is SASL LOGIN; kUserPass is POP3 USER/PASS or the IMAP LOGIN
// command; kApop is POP3 only.
enum class LoginMethod { kAuto, kPlain, kLogin, kCramMd5, kXoauth2, kApop, kUserPass, kOauthBearer };

// The accounts-file words: "auto", "plain", "login", "cram-md5", "xoauth2",
// "apop", "user", "oauthbearer".
const char* LoginMethodName(LoginMethod method);

// XOAUTH2 and OAUTHBEARER: the secret is an OAuth2 access token, which a
// refusal may mean is stale.
inline bool IsBearer(LoginMethod method) {
  return method == LoginMethod::kXoauth2 || method == LoginMethod::kOauthBearer;
}

enum class LoginProtocol { kPop3, kImap, kSmtp };

// "POP3", "IMAP", "SMTP".
const char* LoginProtocolName(LoginProtocol protocol);

// What the server offers for logging in, read from its capabilities.
struct LoginOffer {
  bool tls = false;                // the connection is TLS (now, at login)
  std::vector<std::string> sasl;   // SASL mechanisms as the server names them (POP3 CAPA SASL,
                                   // IMAP AUTH=, SMTP EHLO AUTH); any case
  bool user_pass = false;          // POP3 USER (or a server without CAPA); IMAP LOGIN (no LOGINDISABLED)
  bool apop = false;               // POP3: a timestamp in the greeting
};

// The SASL mechanism of a SASL method ("PLAIN", "LOGIN", "CRAM-MD5",
// "XOAUTH2", "OAUTHBEARER"); nullptr for kAuto, kApop and kUserPass.
const char* SaslMechanism(LoginMethod method);

// How the method shows in messages: "AUTH PLAIN" (POP3, SMTP),
// "AUTHENTICATE PLAIN" (IMAP), "USER/PASS" (POP3), "LOGIN" (the IMAP
// command), "APOP".
std::string LoginCommand(LoginProtocol protocol, LoginMethod method);

// The method to log in with; never kAuto. `peer` ("host:port") is for the
// error. kFailedPrecondition when `wanted` is not offered, or `auto` finds
// nothing it may use; the message lists what the server offers, e.g.
//   "POP3 server mail.example.com:995 does not offer AUTH PLAIN (it offers USER/PASS, APOP)"
Result<LoginMethod> ChooseLogin(LoginProtocol protocol, LoginMethod wanted, const LoginOffer& offer,
                                std::string_view peer);

// After the server refused `used`, which ChooseLogin picked for `wanted`:
// the method to try once more, or nullopt. Only for auto without TLS after
// CRAM-MD5 or APOP (see above); never again after the fallback itself.
std::optional<LoginMethod> FallbackLogin(LoginMethod wanted, LoginMethod used, const LoginOffer& offer);

}  // namespace mailkeep::net
