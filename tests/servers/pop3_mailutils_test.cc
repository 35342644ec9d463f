// POP3 client against GNU Mailutils' pop3d on 127.0.0.1, started by
// tests/servers/mailutils.sh ("mailutils.sh run -- pop3_mailutils_test"),
// which exports MAILUTILS_*. Without those variables every test skips.
//
// pop3d puts an APOP timestamp in every greeting but accepts APOP only for
// users in its APOP database (alice is, bob is not): `auth = auto` must not
// pick APOP over TLS, where USER/PASS is offered, and goes on with
// USER/PASS after a refused APOP without TLS (issue 12 item 2).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "sync/pop3/pop3_client.h"

namespace mailkeep::pop3 {
namespace {

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

#define REQUIRE_MAILUTILS()                                                                    \
  do {                                                                                         \
    if (Env("MAILUTILS_DIR").empty()) GTEST_SKIP() << "run under tests/servers/mailutils.sh"; \
  } while (0)

// `who` is "ALICE" (in the APOP database) or "BOB" (not).
Pop3Options Options(net::TlsMode tls, const std::string& who, AuthMethod auth = AuthMethod::kAuto) {
  Pop3Options o;
  o.connect.host = Env("MAILUTILS_HOST");
  o.connect.tls = tls;
  o.connect.port = static_cast<uint16_t>(
      std::stoi(Env(tls == net::TlsMode::kImplicit ? "MAILUTILS_POP3S_PORT" : "MAILUTILS_POP3_PORT")));
  o.connect.ca_file = Env("MAILUTILS_CA");
  o.connect.connect_timeout = std::chrono::seconds(5);
  o.connect.read_timeout = std::chrono::seconds(30);
  o.user = Env("MAILUTILS_" + who + "_USER");
  o.password = Env("MAILUTILS_" + who + "_PASSWORD");
  o.auth = auth;
  o.allow_plaintext = tls == net::TlsMode::kNone;
  return o;
}

std::string Peer(const Pop3Options& o) { return o.connect.host + ":" + std::to_string(o.connect.port); }

// The case: over TLS with USER offered, auto logs in with USER/PASS
// whether or not the user is in the APOP database.
TEST(Pop3MailutilsAuth, AutoOverTlsUsesUserPassNotApop) {
  REQUIRE_MAILUTILS();
  for (auto tls : {net::TlsMode::kImplicit, net::TlsMode::kStartTls}) {
    for (const char* who : {"BOB", "ALICE"}) {
      SCOPED_TRACE(std::string(net::TlsModeName(tls)) + " " + who);
      auto c = Pop3Client::Connect(Options(tls, who));
      ASSERT_TRUE(c) << c.error().ToString();
      EXPECT_EQ((*c)->auth_method(), AuthMethod::kUserPass);
      EXPECT_TRUE((*c)->secure());
      auto list = (*c)->List();
      EXPECT_TRUE(list) << list.error().ToString();
      EXPECT_TRUE((*c)->Quit());
    }
  }
}

// APOP when asked: works for the user in the database; for the other the
// error names the method, so the user knows what to change.
TEST(Pop3MailutilsAuth, ApopWhenAsked) {
  REQUIRE_MAILUTILS();
  auto ok = Pop3Client::Connect(Options(net::TlsMode::kImplicit, "ALICE", AuthMethod::kApop));
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ((*ok)->auth_method(), AuthMethod::kApop);
  EXPECT_TRUE((*ok)->Quit());

  Pop3Options o = Options(net::TlsMode::kImplicit, "BOB", AuthMethod::kApop);
  auto refused = Pop3Client::Connect(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  const std::string prefix = "POP3 login as " + o.user + " at " + Peer(o) + " failed (APOP): ";
  EXPECT_EQ(refused.error().message().substr(0, prefix.size()), prefix) << refused.error().message();
  EXPECT_EQ(refused.error().message().find(o.password), std::string::npos);
}

// A wrong password: the error names USER/PASS.
TEST(Pop3MailutilsAuth, WrongPasswordNamesTheMethod) {
  REQUIRE_MAILUTILS();
  Pop3Options o = Options(net::TlsMode::kImplicit, "BOB");
  o.password += "-wrong";
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  const std::string prefix = "POP3 login as " + o.user + " at " + Peer(o) + " failed (USER/PASS): ";
  EXPECT_EQ(c.error().message().substr(0, prefix.size()), prefix) << c.error().message();
}

// Without TLS (allow_plaintext) auto prefers APOP, which does not send the
// password: right for alice.
TEST(Pop3MailutilsAuth, AutoWithoutTlsPrefersApop) {
  REQUIRE_MAILUTILS();
  auto c = Pop3Client::Connect(Options(net::TlsMode::kNone, "ALICE"));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE((*c)->secure());
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kApop);
  EXPECT_TRUE((*c)->Quit());
}

// Without TLS auto tries APOP first; pop3d refuses it for bob (not in its
// APOP database), and the client goes on once with USER/PASS.
TEST(Pop3MailutilsAuth, AutoWithoutTlsFallsBackAfterARefusedApop) {
  REQUIRE_MAILUTILS();
  auto c = Pop3Client::Connect(Options(net::TlsMode::kNone, "BOB"));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kUserPass);
  EXPECT_TRUE((*c)->List());
  EXPECT_TRUE((*c)->Quit());
  // A wrong password: refused twice, the error names the last method.
  Pop3Options o = Options(net::TlsMode::kNone, "BOB");
  o.password += "-wrong";
  auto wrong = Pop3Client::Connect(o);
  ASSERT_FALSE(wrong);
  const std::string prefix = "POP3 login as " + o.user + " at " + Peer(o) + " failed (USER/PASS): ";
  EXPECT_EQ(wrong.error().message().substr(0, prefix.size()), prefix) << wrong.error().message();
}

}  // namespace
}  // namespace mailkeep::pop3
