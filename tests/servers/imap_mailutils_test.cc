// IMAP logins against GNU Mailutils' imap4d on 127.0.0.1, started by
// tests/servers/mailutils.sh ("mailutils.sh run -- imap_mailutils_test"),
// which exports MAILUTILS_*. Without those variables every test skips.
//
// imap4d offers AUTH=CRAM-MD5 (through GNU SASL) but has no CRAM password
// file to check it against: without TLS `auth = auto` tries CRAM-MD5 first
// (it does not send the password) and must go on once with the next
// method (net::FallbackLogin; issue 12 item 2).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "sync/imap/imap_client.h"

namespace mailkeep::imap {
namespace {

std::string Env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

ImapOptions Plaintext(AuthMethod auth = AuthMethod::kAuto) {
  ImapOptions o;
  o.connect.host = Env("MAILUTILS_HOST");
  o.connect.tls = net::TlsMode::kNone;
  o.connect.port = static_cast<uint16_t>(std::stoi(Env("MAILUTILS_IMAP_PORT")));
  o.connect.connect_timeout = std::chrono::seconds(5);
  o.connect.read_timeout = std::chrono::seconds(30);
  o.user = Env("MAILUTILS_BOB_USER");
  o.password = Env("MAILUTILS_BOB_PASSWORD");
  o.auth = auth;
  o.allow_plaintext = true;
  return o;
}

TEST(ImapMailutilsAuth, AutoWithoutTlsFallsBackAfterARefusedCramMd5) {
  if (Env("MAILUTILS_DIR").empty()) GTEST_SKIP() << "run under tests/servers/mailutils.sh";
  auto c = ImapClient::Connect(Plaintext());
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_FALSE((*c)->secure());
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kPlain);
  EXPECT_TRUE((*c)->ListFolders());
  EXPECT_TRUE((*c)->Logout());

  // Named, CRAM-MD5 gets no second try: the error names it.
  ImapOptions o = Plaintext(AuthMethod::kCramMd5);
  auto cram = ImapClient::Connect(o);
  ASSERT_FALSE(cram);
  const std::string peer = o.connect.host + ":" + std::to_string(o.connect.port);
  EXPECT_TRUE(cram.error().message().starts_with("IMAP login as " + o.user + " at " + peer +
                                                 " failed (AUTHENTICATE CRAM-MD5): "))
      << cram.error().message();

  // A wrong password: refused twice, the error names the last method.
  o = Plaintext();
  o.password += "-wrong";
  auto wrong = ImapClient::Connect(o);
  ASSERT_FALSE(wrong);
  EXPECT_TRUE(wrong.error().message().starts_with("IMAP login as " + o.user + " at " + peer +
                                                  " failed (AUTHENTICATE PLAIN): "))
      << wrong.error().message();
  EXPECT_EQ(wrong.error().message().find(o.password), std::string::npos);
}

}  // namespace
}  // namespace mailkeep::imap
