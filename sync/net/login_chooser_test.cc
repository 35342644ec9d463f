#include "sync/net/login_chooser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

namespace mailkeep::net {
namespace {

using M = LoginMethod;
constexpr std::array kAllMethods = {M::kAuto,    M::kPlain, M::kLogin,   M::kCramMd5,
                                    M::kXoauth2, M::kApop,  M::kUserPass};
constexpr std::array<const char*, 4> kMechs = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2"};

bool Offered(const LoginOffer& o, M m) {
  switch (m) {
    case M::kApop: return o.apop;
    case M::kUserPass: return o.user_pass;
    case M::kAuto: return false;
    default: return std::find(o.sasl.begin(), o.sasl.end(), SaslMechanism(m)) != o.sasl.end();
  }
}

// The preference the header documents, written out as a table.
M Expected(const LoginOffer& o) {
  const std::vector<M> order = o.tls ? std::vector<M>{M::kPlain, M::kLogin, M::kCramMd5, M::kUserPass}
                                     : std::vector<M>{M::kCramMd5, M::kApop, M::kPlain, M::kLogin, M::kUserPass};
  for (M m : order)
    if (Offered(o, m)) return m;
  return M::kAuto;  // nothing
}

// Every combination: TLS or not, each subset of the SASL mechanisms, USER
// or not, an APOP timestamp or not, each configured method, each protocol.
TEST(LoginChooser, EveryCombination) {
  int combinations = 0;
  for (LoginProtocol p : {LoginProtocol::kPop3, LoginProtocol::kImap, LoginProtocol::kSmtp}) {
    for (bool tls : {false, true}) {
      for (unsigned subset = 0; subset < (1u << kMechs.size()); ++subset) {
        for (bool user : {false, true}) {
          for (bool apop : {false, true}) {
            LoginOffer o;
            o.tls = tls;
            for (size_t i = 0; i < kMechs.size(); ++i)
              if (subset & (1u << i)) o.sasl.push_back(kMechs[i]);
            o.user_pass = user;
            o.apop = apop;
            for (M wanted : kAllMethods) {
              ++combinations;
              SCOPED_TRACE(std::string(LoginProtocolName(p)) + " tls=" + std::to_string(tls) + " subset=" +
                           std::to_string(subset) + " user=" + std::to_string(user) + " apop=" +
                           std::to_string(apop) + " wanted=" + LoginMethodName(wanted));
              auto got = ChooseLogin(p, wanted, o, "h:1");
              const M expected = wanted == M::kAuto ? Expected(o) : Offered(o, wanted) ? wanted : M::kAuto;
              if (expected == M::kAuto) {
                ASSERT_FALSE(got) << LoginMethodName(*got);
                EXPECT_EQ(got.error().code(), ErrorCode::kFailedPrecondition);
                EXPECT_NE(got.error().message().find(std::string(LoginProtocolName(p)) + " server h:1 does not offer "),
                          std::string::npos)
                    << got.error().message();
                continue;
              }
              ASSERT_TRUE(got) << got.error().message();
              EXPECT_EQ(*got, expected);
              // auto never picks XOAUTH2, nor APOP over TLS.
              if (wanted == M::kAuto) {
                EXPECT_NE(*got, M::kXoauth2);
                if (tls) {
                  EXPECT_NE(*got, M::kApop);
                }
              }
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(combinations, 3 * 2 * 16 * 2 * 2 * 7);
}

// GNU Mailutils pop3d: a timestamp in every greeting, USER, no SASL.
TEST(LoginChooser, MailutilsPop3OverTlsUsesUserPass) {
  LoginOffer o{.tls = true, .sasl = {}, .user_pass = true, .apop = true};
  EXPECT_EQ(ChooseLogin(LoginProtocol::kPop3, M::kAuto, o, "h:995"), M::kUserPass);
  EXPECT_EQ(ChooseLogin(LoginProtocol::kPop3, M::kApop, o, "h:995"), M::kApop);
  o.tls = false;
  EXPECT_EQ(ChooseLogin(LoginProtocol::kPop3, M::kAuto, o, "h:110"), M::kApop);
}

// Without TLS, a refused CRAM-MD5 or APOP that auto chose is followed once
// by the next method that the server can check against its password store
// (GNU Mailutils offers both and checks neither for most users).
TEST(LoginChooser, FallbackAfterARefusedChallengeResponse) {
  // Mailutils imap4d on a plain connection.
  LoginOffer imap{.tls = false, .sasl = {"CRAM-MD5", "DIGEST-MD5", "LOGIN", "PLAIN"}, .user_pass = true, .apop = false};
  ASSERT_EQ(ChooseLogin(LoginProtocol::kImap, M::kAuto, imap, "h:143"), M::kCramMd5);
  EXPECT_EQ(FallbackLogin(M::kAuto, M::kCramMd5, imap), M::kPlain);
  // Mailutils pop3d: no SASL, a timestamp in every greeting.
  LoginOffer pop{.tls = false, .sasl = {}, .user_pass = true, .apop = true};
  ASSERT_EQ(ChooseLogin(LoginProtocol::kPop3, M::kAuto, pop, "h:110"), M::kApop);
  EXPECT_EQ(FallbackLogin(M::kAuto, M::kApop, pop), M::kUserPass);
  pop.sasl = {"LOGIN"};
  EXPECT_EQ(FallbackLogin(M::kAuto, M::kApop, pop), M::kLogin);
  // Exactly once: not after the fallback, not after what sends the password.
  for (M used : {M::kPlain, M::kLogin, M::kUserPass, M::kXoauth2, M::kOauthBearer}) {
    EXPECT_EQ(FallbackLogin(M::kAuto, used, imap), std::nullopt) << LoginMethodName(used);
  }
  // Not for a method the user named, not over TLS, not when nothing else is offered.
  EXPECT_EQ(FallbackLogin(M::kCramMd5, M::kCramMd5, imap), std::nullopt);
  EXPECT_EQ(FallbackLogin(M::kApop, M::kApop, pop), std::nullopt);
  imap.tls = true;
  EXPECT_EQ(FallbackLogin(M::kAuto, M::kCramMd5, imap), std::nullopt);
  LoginOffer only_cram{.tls = false, .sasl = {"CRAM-MD5"}, .user_pass = false, .apop = false};
  EXPECT_EQ(FallbackLogin(M::kAuto, M::kCramMd5, only_cram), std::nullopt);
}

TEST(LoginChooser, SaslBeforeUserPassOverTls) {
  LoginOffer o{.tls = true, .sasl = {"login", "plain"}, .user_pass = true, .apop = true};  // any case
  EXPECT_EQ(ChooseLogin(LoginProtocol::kPop3, M::kAuto, o, "h:1"), M::kPlain);
  o.sasl = {"CRAM-MD5", "SCRAM-SHA-256"};
  EXPECT_EQ(ChooseLogin(LoginProtocol::kImap, M::kAuto, o, "h:1"), M::kCramMd5);
  o.sasl = {"SCRAM-SHA-256", "GSSAPI"};
  EXPECT_EQ(ChooseLogin(LoginProtocol::kImap, M::kAuto, o, "h:1"), M::kUserPass);
}

TEST(LoginChooser, ErrorsListWhatIsOffered) {
  LoginOffer o{.tls = true, .sasl = {"PLAIN", "LOGIN"}, .user_pass = false, .apop = false};
  auto e = ChooseLogin(LoginProtocol::kSmtp, M::kCramMd5, o, "h:587");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "SMTP server h:587 does not offer AUTH CRAM-MD5 (it offers AUTH PLAIN, AUTH LOGIN)");

  o = {.tls = true, .sasl = {"PLAIN"}, .user_pass = true, .apop = false};
  e = ChooseLogin(LoginProtocol::kImap, M::kXoauth2, o, "h:993");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "IMAP server h:993 does not offer AUTHENTICATE XOAUTH2 (it offers AUTHENTICATE PLAIN, LOGIN)");

  o = {.tls = true, .sasl = {}, .user_pass = false, .apop = true};
  e = ChooseLogin(LoginProtocol::kPop3, M::kAuto, o, "h:995");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "POP3 server h:995 does not offer a login method mailkeep supports (it offers APOP); over TLS "
            "mailkeep uses APOP only with auth = apop");

  o = {.tls = false, .sasl = {}, .user_pass = true, .apop = false};
  e = ChooseLogin(LoginProtocol::kPop3, M::kApop, o, "h:110");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(),
            "POP3 server h:110 does not offer APOP (no timestamp in its greeting) (it offers USER/PASS)");

  o = {};
  e = ChooseLogin(LoginProtocol::kSmtp, M::kAuto, o, "h:25");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message(), "SMTP server h:25 does not offer a login method mailkeep supports (it offers none)");
}

// Mechanism names come from the server: printable and bounded in errors.
TEST(LoginChooser, ServerNamesAreSanitizedAndBounded) {
  LoginOffer o{.tls = true, .sasl = {}, .user_pass = false, .apop = false};
  o.sasl.push_back("X\x1b[31mRED");
  for (int i = 0; i < 100; ++i) o.sasl.push_back(std::string(500, 'A'));
  auto e = ChooseLogin(LoginProtocol::kPop3, M::kAuto, o, "h:1");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().message().find('\x1b'), std::string::npos);
  EXPECT_NE(e.error().message().find("AUTH X?[31MRED"), std::string::npos) << e.error().message();
  EXPECT_LT(e.error().message().size(), 1200u);
}

TEST(LoginChooser, NamesAndCommands) {
  EXPECT_STREQ(LoginMethodName(M::kCramMd5), "cram-md5");
  EXPECT_STREQ(LoginMethodName(M::kUserPass), "user");
  EXPECT_EQ(LoginCommand(LoginProtocol::kPop3, M::kPlain), "AUTH PLAIN");
  EXPECT_EQ(LoginCommand(LoginProtocol::kImap, M::kPlain), "AUTHENTICATE PLAIN");
  EXPECT_EQ(LoginCommand(LoginProtocol::kImap, M::kUserPass), "LOGIN");
  EXPECT_EQ(LoginCommand(LoginProtocol::kPop3, M::kUserPass), "USER/PASS");
  EXPECT_EQ(LoginCommand(LoginProtocol::kPop3, M::kApop), "APOP");
  EXPECT_EQ(SaslMechanism(M::kApop), nullptr);
}

}  // namespace
}  // namespace mailkeep::net
