// SMTP client against a scripted fake server: the wire for each feature and
// the failures a real server rarely produces (garbage, 421 mid-transaction,
// a drop mid-DATA). smtp_receiver_test.cc covers a real receiver (aiosmtpd)
// with TLS.
#include "sync/smtp/smtp_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::smtp {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kGreeting = "220 mx.test ESMTP ready\r\n";

// An EHLO reply offering `keywords`.
std::string Ehlo(const std::vector<std::string>& keywords) {
  if (keywords.empty()) return "250 mx.test\r\n";
  std::string r = "250-mx.test Hello\r\n";
  for (size_t i = 0; i < keywords.size(); ++i) r += (i + 1 == keywords.size() ? "250 " : "250-") + keywords[i] + "\r\n";
  return r;
}

net::ConnectOptions Connect(uint16_t port) { return mailkeep::testing::FakeConnect(port); }

SmtpOptions Opts() {
  SmtpOptions o;
  o.hello_name = "client.test";
  return o;
}

SmtpOptions WithLogin(AuthMethod method = AuthMethod::kAuto) {
  SmtpOptions o = Opts();
  o.user = "alice";
  o.password = "s3cret-pw";
  o.allow_plaintext = true;
  o.auth = method;
  return o;
}

std::string Where(const FakeServer& s) { return "127.0.0.1:" + std::to_string(s.port()); }

std::vector<FakeStep> Hello(const std::vector<std::string>& keywords) {
  return {{"", kGreeting}, {"EHLO client.test", Ehlo(keywords)}};
}

std::vector<FakeStep> Plus(std::vector<FakeStep> a, const std::vector<FakeStep>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Envelope To(std::vector<std::string> rcpts, std::string from = "alice@example.test") {
  Envelope e;
  e.from = std::move(from);
  for (auto& r : rcpts) e.recipients.push_back(Recipient{std::move(r), {}, ""});
  return e;
}

const std::string kMessage = "Subject: hi\r\n\r\nhello\r\n";

// The body lines of kMessage as the fake server sees them (CRLF stripped),
// then the final ".". ("*" reads any line: an empty expect means "read
// nothing".)
std::vector<FakeStep> Body(const std::string& final_reply = "250 2.0.0 queued as 1\r\n") {
  return {{"Subject: hi", ""}, {"*", ""}, {"hello", ""}, {".", final_reply}};
}

std::unique_ptr<SmtpClient> MustOpen(const FakeServer& server, const SmtpOptions& o = Opts()) {
  auto c = SmtpClient::Open(Connect(server.port()), o);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::move(*c) : nullptr;
}

// --- greeting and EHLO ---

TEST(SmtpClient, MultiLineGreetingAndEhloExtensions) {
  FakeServer server;
  server.Serve({{"", "220-mx.test ESMTP\r\n220-no UCE\r\n220 ready\r\n"},
                {"EHLO client.test",
                 Ehlo({"SIZE 1000000", "8BITMIME", "SMTPUTF8", "PIPELINING", "DSN", "ENHANCEDSTATUSCODES",
                       "AUTH PLAIN LOGIN", "CHUNKING"})},
                {"QUIT", "221 2.0.0 bye\r\n"}});
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->greeting().code, 220);
  EXPECT_EQ(c->greeting().lines.size(), 3u);
  EXPECT_TRUE(c->esmtp());
  const Extensions& e = c->extensions();
  EXPECT_EQ(e.domain, "mx.test");
  EXPECT_EQ(e.size_limit, 1000000u);
  EXPECT_TRUE(e.eightbitmime && e.smtputf8 && e.pipelining && e.dsn && e.enhanced_status_codes && e.chunking);
  EXPECT_FALSE(e.starttls);
  EXPECT_EQ(e.auth, (std::vector<std::string>{"PLAIN", "LOGIN"}));
  EXPECT_EQ(c->auth_method(), AuthMethod::kAuto);  // no credentials: no AUTH
  EXPECT_FALSE(c->secure());
  EXPECT_EQ(c->peer(), Where(server));
  EXPECT_TRUE(c->Quit());
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, DefaultHelloName) {
  const std::string name = DefaultHelloName();
  ASSERT_FALSE(name.empty());
  EXPECT_TRUE(name == "localhost" || Contains(name, ".")) << name;
  FakeServer server;
  server.Serve({{"", kGreeting}, {"EHLO " + name, Ehlo({})}});
  SmtpOptions o;
  auto c = MustOpen(server, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->hello_name(), name);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, BadHelloNameAndPort465AreRefusedBeforeConnecting) {
  SmtpOptions o = Opts();
  o.hello_name = "two words";
  auto c = SmtpClient::Open(Connect(1), o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().message(),
            "SMTP: hello name \"two words\" is neither a domain name nor an address literal such as [192.0.2.1]");
  o.hello_name = "[192.0.2.1]";
  net::ConnectOptions conn = Connect(465);
  c = SmtpClient::Open(conn, o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(c.error().message(),
            "SMTP port 465 of 127.0.0.1 speaks TLS from the first byte (RFC 8314); use tls = implicit");
}

TEST(SmtpClient, Greeting554IsARefusalAndGetsQuit) {
  FakeServer server;
  server.Serve({{"", "554 5.7.1 No SMTP service here\r\n"}, {"QUIT", "221 bye\r\n"}});
  auto c = SmtpClient::Open(Connect(server.port()), Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) + " refused the session: 554 5.7.1 No SMTP service here");
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, Greeting421IsTemporary) {
  FakeServer server;
  server.Serve({{"", "421 4.3.2 too busy, try later\r\n", 0, true}});
  auto c = SmtpClient::Open(Connect(server.port()), Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) +
                                     " refused the session for now: 421 4.3.2 too busy, try later; try again later");
}

TEST(SmtpClient, GarbageGreetingNamesTheServer) {
  FakeServer server;
  server.Serve({{"", "+OK POP3 ready\r\n"}});
  auto c = SmtpClient::Open(Connect(server.port()), Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) +
                                     " broke the protocol in its reply to greeting: not an SMTP reply line: \"+OK "
                                     "POP3 ready\"");
}

TEST(SmtpClient, OverlongReplyLineIsAProtocolError) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"EHLO client.test", "250 " + std::string(5000, 'x') + "\r\n"}});
  auto c = SmtpClient::Open(Connect(server.port()), Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(c.error().message(), "broke the protocol in its reply to EHLO: line from " + Where(server) +
                                                " longer than 4096 bytes"))
      << c.error().message();
}

TEST(SmtpClient, HeloFallbackWhenEhloIsUnknown) {
  FakeServer server;
  server.Serve(Plus({{"", kGreeting},
                     {"EHLO client.test", "502 5.5.2 Error: command not recognized\r\n"},
                     {"HELO client.test", "250 mx.test\r\n"},
                     // No extensions: lock-step, no parameters.
                     {"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                     {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                     {"DATA", "354 go ahead\r\n"}},
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->esmtp());
  EXPECT_TRUE(c->extensions().keywords.empty());
  auto r = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_EQ(r->data.ToString(), "250 2.0.0 queued as 1");
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, HeloRefusedToo) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"EHLO client.test", "500 what\r\n"},
                {"HELO client.test", "550 go away\r\n"}});
  auto c = SmtpClient::Open(Connect(server.port()), Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(),
            "SMTP server " + Where(server) + " refused EHLO (500 what) and HELO client.test: 550 go away");
}

// --- STARTTLS decisions the fake server can show (TLS itself: see
// smtp_receiver_test.cc) ---

TEST(SmtpClient, StartTlsRequiredButNotOffered) {
  FakeServer server;
  server.Serve(Hello({"PIPELINING"}));
  net::ConnectOptions conn = Connect(server.port());
  conn.tls = net::TlsMode::kStartTls;
  auto c = SmtpClient::Open(conn, Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) +
                                     " does not offer STARTTLS; use tls = implicit (port 465), or tls = none only on "
                                     "a trusted network");
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"EHLO client.test"}));
}

TEST(SmtpClient, StartTlsRefusedByTheServer) {
  FakeServer server;
  server.Serve(Plus(Hello({"STARTTLS"}), {{"STARTTLS", "454 4.7.0 TLS not available due to temporary reason\r\n"}}));
  net::ConnectOptions conn = Connect(server.port());
  conn.tls = net::TlsMode::kStartTls;
  auto c = SmtpClient::Open(conn, Opts());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(),
            "SMTP STARTTLS at " + Where(server) + " refused: 454 4.7.0 TLS not available due to temporary reason");
}

TEST(SmtpClient, OpportunisticTlsGoesOnInPlainTextWhenNotOffered) {
  FakeServer server;
  server.Serve(Plus(Hello({"PIPELINING"}), {{"QUIT", "221 bye\r\n"}}));
  SmtpOptions o = Opts();
  o.opportunistic_tls = true;
  auto c = MustOpen(server, o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->secure());
  EXPECT_TRUE(c->warnings().empty());
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, OpportunisticTlsRefusedContinuesWithAWarning) {
  FakeServer server;
  server.Serve(Plus(Hello({"STARTTLS"}), {{"STARTTLS", "454 4.7.0 not now\r\n"}, {"QUIT", "221 bye\r\n"}}));
  SmtpOptions o = Opts();
  o.opportunistic_tls = true;
  auto c = MustOpen(server, o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->secure());
  EXPECT_EQ(c->warnings(), (std::vector<std::string>{"SMTP server " + Where(server) +
                                                      " refused STARTTLS (454 4.7.0 not now); continued without TLS"}));
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, OpportunisticTlsHandshakeFailureConnectsAgainInPlainText) {
  FakeServer server;
  // First connection: STARTTLS accepted, then the server hangs up instead of
  // a TLS handshake. Second connection: STARTTLS is offered again but not
  // tried.
  server.Serve(Plus(Hello({"STARTTLS"}), {{"STARTTLS", "220 2.0.0 go ahead\r\n", 0, true}}));
  std::thread second([&] {
    server.Finish();
    server.Serve(Plus(Hello({"STARTTLS", "PIPELINING"}), {{"QUIT", "221 bye\r\n"}}));
  });
  SmtpOptions o = Opts();
  o.opportunistic_tls = true;
  auto c = SmtpClient::Open(Connect(server.port()), o);
  second.join();
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE((*c)->secure());
  ASSERT_EQ((*c)->warnings().size(), 1u);
  EXPECT_TRUE(Contains((*c)->warnings()[0], "STARTTLS handshake with " + Where(server) + " failed (")) << (*c)->warnings()[0];
  EXPECT_TRUE(Contains((*c)->warnings()[0], "); connected again without TLS")) << (*c)->warnings()[0];
  EXPECT_TRUE((*c)->extensions().pipelining);
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

// --- AUTH ---

TEST(SmtpClient, AuthPlainOnTheWire) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH PLAIN LOGIN CRAM-MD5"}),
                    {{"AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==", "235 2.7.0 Authentication successful\r\n"}}));
  auto c = MustOpen(server, WithLogin(AuthMethod::kPlain));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kPlain);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, AuthLoginOnTheWire) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH=LOGIN"}), {{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"},
                                            {"YWxpY2U=", "334 UGFzc3dvcmQ6\r\n"},
                                            {"czNjcmV0LXB3", "235 2.7.0 ok\r\n"}}));
  auto c = MustOpen(server, WithLogin(AuthMethod::kLogin));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kLogin);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, AuthLoginWithPromptsInClearText) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH LOGIN"}), {{"AUTH LOGIN", "334 Username:\r\n"},
                                           {"YWxpY2U=", "334 Password:\r\n"},
                                           {"czNjcmV0LXB3", "235 2.7.0 ok\r\n"}}));
  auto c = MustOpen(server, WithLogin());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kLogin);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, CramMd5ChallengeMustBeBase64) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH CRAM-MD5"}), {{"AUTH CRAM-MD5", "334 <not base64!>\r\n"}}));
  auto c = SmtpClient::Open(Connect(server.port()), WithLogin());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) +
                                     " broke the protocol in its reply to AUTH CRAM-MD5: a challenge that is not base64");
}

TEST(SmtpClient, AuthCramMd5OnTheWireWithTheRfc2195Example) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH PLAIN LOGIN CRAM-MD5"}),
                    {{"AUTH CRAM-MD5", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"},
                     {"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw", "235 2.7.0 ok\r\n"}}));
  SmtpOptions o = WithLogin();  // kAuto without TLS: CRAM-MD5 first
  o.user = "tim";
  o.password = "tanstaaftanstaaf";
  auto c = MustOpen(server, o);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kCramMd5);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, AuthAutoWithoutCramMd5PicksPlain) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH LOGIN PLAIN"}), {{"AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==", "235 ok\r\n"}}));
  auto c = MustOpen(server, WithLogin());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kPlain);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, AuthXoauth2FailureSendsAnEmptyAnswerAndNamesTheToken) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH PLAIN XOAUTH2"}),
                    {{"AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2szbgEB",
                      "334 eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIn0=\r\n"},
                     {"*", "535 5.7.8 Username and Password not accepted\r\n"}}));
  SmtpOptions o = WithLogin(AuthMethod::kXoauth2);
  o.password = "tok3n";
  auto c = SmtpClient::Open(Connect(server.port()), o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP login as alice at " + Where(server) +
                                     " failed (AUTH XOAUTH2): 535 5.7.8 Username and Password not accepted; check "
                                     "the user name and the access token");
  EXPECT_EQ(server.Finish(), "");
}

// A refused token is renewed once (renew_token) and tried again in the
// same session.
TEST(SmtpClient, ARefusedTokenIsRenewedOnce) {
  for (bool second_accepted : {true, false}) {
    SCOPED_TRACE(second_accepted);
    FakeServer server;
    server.Serve(Plus(Hello({"AUTH XOAUTH2"}),
                      {{"AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBvbGQtdG9rZW4BAQ==",
                        "334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
                       {"*", "535 5.7.8 token expired\r\n"},
                       {"AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBuZXctdG9rZW4BAQ==",
                        second_accepted ? "235 2.7.0 ok\r\n" : "535 5.7.8 still not\r\n"}}));
    SmtpOptions o = WithLogin(AuthMethod::kXoauth2);
    o.password = "old-token";
    int renewed = 0;
    o.renew_token = [&]() -> Result<std::string> {
      ++renewed;
      return std::string("new-token");
    };
    auto c = SmtpClient::Open(Connect(server.port()), o);
    EXPECT_EQ(renewed, 1);
    if (second_accepted) {
      ASSERT_TRUE(c) << c.error().message();
      EXPECT_EQ((*c)->auth_method(), AuthMethod::kXoauth2);
      c->reset();
    } else {
      ASSERT_FALSE(c);
      EXPECT_TRUE(Contains(c.error().message(), "failed (AUTH XOAUTH2): 535 5.7.8 still not")) << c.error().message();
    }
    EXPECT_EQ(server.Finish(), "");
  }
}

// auto without TLS: a refused CRAM-MD5 (a server that offers it and cannot
// check it, like GNU Mailutils) is followed once by PLAIN.
TEST(SmtpClient, AutoFallsBackOnceAfterARefusedCramMd5) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH CRAM-MD5 PLAIN"}),
                    {{"AUTH CRAM-MD5", "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"},
                     {"*", "535 5.7.8 no CRAM secret for alice\r\n"},
                     {"AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==", "235 2.7.0 ok\r\n"}}));
  auto c = MustOpen(server, WithLogin());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->auth_method(), AuthMethod::kPlain);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, WrongPasswordNamesUserNotPassword) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH PLAIN"}), {{"AUTH PLAIN *", "535 5.7.8 Authentication credentials invalid\r\n"}}));
  auto c = SmtpClient::Open(Connect(server.port()), WithLogin());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "SMTP login as alice at " + Where(server) +
                                     " failed (AUTH PLAIN): 535 5.7.8 Authentication credentials invalid; check the "
                                     "user name and password");
  EXPECT_FALSE(Contains(c.error().message(), "s3cret"));
  EXPECT_EQ(server.Finish(), "");
}

// A server that echoes what it was sent: the password, in whatever form it
// went out, never reaches an error or a recorded reply (net::SecretMask).
TEST(SmtpClient, ServerEchoingThePasswordInAnyFormDoesNotPutItInTheError) {
  const std::vector<std::pair<AuthMethod, std::vector<FakeStep>>> cases = {
      {AuthMethod::kPlain, {{"AUTH PLAIN *", "535 5.7.8 AGFsaWNlAHMzY3JldC1wdw== is wrong\r\n"}}},
      {AuthMethod::kPlain, {{"AUTH PLAIN *", "535-5.7.8 password\r\n535 5.7.8 s3cret-pw is wrong\r\n"}}},
      {AuthMethod::kLogin,
       {{"AUTH LOGIN", "334 VXNlcm5hbWU6\r\n"}, {"YWxpY2U=", "334 UGFzc3dvcmQ6\r\n"},
        {"czNjcmV0LXB3", "535 5.7.8 czNjcmV0LXB3 is wrong\r\n"}}},
      {AuthMethod::kXoauth2,
       {{"AUTH XOAUTH2 *", "535 5.7.8 dXNlcj1hbGljZQFhdXRoPUJlYXJlciBzM2NyZXQtcHcBAQ is wrong\r\n"}}},
      {AuthMethod::kPlain, {{"AUTH PLAIN *", "53x s3cret-pw garbage\r\n"}}},
      // Garbage whose quote is cut at 100 bytes in the middle of the password.
      {AuthMethod::kPlain, {{"AUTH PLAIN *", "53x " + std::string(92, 'x') + "s3cret-pw\r\n"}}},
  };
  for (const auto& [method, steps] : cases) {
    FakeServer server;
    server.Serve(Plus(Hello({"AUTH PLAIN LOGIN XOAUTH2"}), steps));
    auto c = SmtpClient::Open(Connect(server.port()), WithLogin(method));
    ASSERT_FALSE(c);
    const std::string m = c.error().message();
    EXPECT_TRUE(Contains(m, "***")) << m;
    for (const char* form : {"s3c", "czNjcmV0", "AGFsaWNlAHMzY3JldC1wdw", "dXNlcj1hbGljZQFhdXRoPUJlYXJlciBzM2NyZXQtcHc"}) {
      EXPECT_FALSE(Contains(m, form)) << m;
    }
    server.Finish();
  }
}

TEST(SmtpClient, RepliesEchoingThePasswordAreMaskedInTheSendResult) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({"AUTH PLAIN"}), {{"AUTH PLAIN *", "235 2.7.0 ok\r\n"},
                                                {"MAIL FROM:<alice@example.test>", "250 ok s3cret-pw\r\n"},
                                                {"RCPT TO:<bob@example.test>", "550 5.1.1 no bob (s3cret-pw)\r\n"},
                                                {"RCPT TO:<carol@example.test>", "250 ok\r\n"},
                                                {"DATA", "354 go\r\n"}}),
                    Body("250 2.0.0 queued for alice:s3cret-pw\r\n")));
  auto c = MustOpen(server, WithLogin(AuthMethod::kPlain));
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test", "carol@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->mail.ToString(), "250 ok ***");
  EXPECT_EQ(r->recipients[0].rcpt.ToString(), "550 5.1.1 no bob (***)");
  EXPECT_EQ(r->recipients[0].reason, "RCPT TO refused: 550 5.1.1 no bob (***)");
  EXPECT_EQ(r->data.ToString(), "250 2.0.0 queued for alice:***");
  c.reset();
  server.Finish();
}

TEST(SmtpClient, TemporaryAuthFailureIsUnavailable) {
  FakeServer server;
  server.Serve(Plus(Hello({"AUTH PLAIN"}), {{"AUTH PLAIN *", "454 4.7.0 Temporary authentication failure\r\n"}}));
  auto c = SmtpClient::Open(Connect(server.port()), WithLogin());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(c.error().message(), "; try again later")) << c.error().message();
}

TEST(SmtpClient, PlaintextRefusedBeforeAnyCredentialIsSent) {
  FakeServer server;
  server.Serve(Hello({"AUTH PLAIN LOGIN CRAM-MD5"}));
  SmtpOptions o = WithLogin();
  o.allow_plaintext = false;
  auto c = SmtpClient::Open(Connect(server.port()), o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "refusing to log in as alice at " + Where(server) +
                                     " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"EHLO client.test"}));
}

TEST(SmtpClient, NamedMechanismNotOffered) {
  FakeServer server;
  server.Serve(Hello({"AUTH PLAIN LOGIN"}));
  auto c = SmtpClient::Open(Connect(server.port()), WithLogin(AuthMethod::kCramMd5));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(),
            "SMTP server " + Where(server) + " does not offer AUTH CRAM-MD5 (it offers AUTH PLAIN, AUTH LOGIN)");
}

TEST(SmtpClient, NoAuthOfferedHintsAtStartTls) {
  FakeServer server;
  server.Serve(Hello({"STARTTLS", "PIPELINING"}));
  auto c = SmtpClient::Open(Connect(server.port()), WithLogin());
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "SMTP server " + Where(server) +
                                     " does not offer AUTH; many servers offer it only after STARTTLS: use tls = "
                                     "starttls");
}

// --- transactions ---

TEST(SmtpClient, PipelinedTransactionSendsMailRcptsAndDataInOneGo) {
  FakeServer server;
  // The fake server answers only after reading DATA: a client that waited
  // for the MAIL reply first would time out.
  server.Serve(Plus(Plus(Hello({"PIPELINING", "SIZE 1000000", "ENHANCEDSTATUSCODES"}),
                         {{"MAIL FROM:<alice@example.test> SIZE=22", ""},
                          {"RCPT TO:<bob@example.test>", ""},
                          {"RCPT TO:<carol@example.test>", ""},
                          {"DATA", "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"}}),
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test", "<carol@example.test>"}), kMessage);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->session_error) << r->session_error->message();
  EXPECT_EQ(r->mail.ToString(), "250 2.1.0 Ok");
  ASSERT_EQ(r->recipients.size(), 2u);
  EXPECT_EQ(r->recipients[1].address, "carol@example.test");
  for (const auto& rr : r->recipients) {
    EXPECT_EQ(rr.outcome, Outcome::kAccepted);
    EXPECT_EQ(rr.rcpt.code, 250);
    EXPECT_EQ(rr.rcpt.enhanced, "2.1.5");
    EXPECT_EQ(rr.reason, "");
  }
  EXPECT_EQ(r->data_start.code, 354);
  EXPECT_EQ(r->data.code, 250);
  EXPECT_EQ(r->data.enhanced, "2.0.0");
  EXPECT_TRUE(r->all_accepted());
  EXPECT_TRUE(r->warnings.empty());
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, PipelineWindowSlides) {
  FakeServer server;
  // Window 2: two commands in flight, one more after each reply.
  server.Serve(Plus(Plus(Hello({"PIPELINING"}),
                         {{"MAIL FROM:<a@example.test>", ""},
                          {"RCPT TO:<r1@example.test>", "250 mail ok\r\n"},
                          {"RCPT TO:<r2@example.test>", "250 r1 ok\r\n"},
                          {"RCPT TO:<r3@example.test>", "550 5.1.1 r2 unknown\r\n"},
                          {"DATA", "250 r3 ok\r\n354 go\r\n"}}),
                    Body()));
  SmtpOptions o = Opts();
  o.pipeline_window = 2;
  auto c = MustOpen(server, o);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"r1@example.test", "r2@example.test", "r3@example.test"}, "a@example.test"), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(r->recipients[1].outcome, Outcome::kFailed);
  EXPECT_EQ(r->recipients[1].reason, "RCPT TO refused: 550 5.1.1 r2 unknown");
  EXPECT_EQ(r->recipients[2].outcome, Outcome::kAccepted);
  EXPECT_EQ(r->accepted(), 2u);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, LockStepOneRefusedRecipientDoesNotStopTheOthers) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({"8BITMIME"}),
                         {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                          {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                          {"RCPT TO:<nobody@example.test>", "550-5.1.1 <nobody@example.test>: Recipient\r\n550 5.1.1 address rejected: User unknown\r\n"},
                          {"RCPT TO:<later@example.test>", "450 4.2.1 mailbox busy\r\n"},
                          {"RCPT TO:<carol@example.test>", "251 2.1.5 will forward\r\n"},
                          {"DATA", "354 go\r\n"}}),
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test", "nobody@example.test", "later@example.test", "carol@example.test"}),
                   kMessage);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->recipients.size(), 4u);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kAccepted);
  EXPECT_EQ(r->recipients[1].outcome, Outcome::kFailed);
  EXPECT_EQ(r->recipients[1].rcpt.code, 550);
  EXPECT_EQ(r->recipients[1].rcpt.enhanced, "5.1.1");
  EXPECT_EQ(r->recipients[1].reason,
            "RCPT TO refused: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown");
  EXPECT_EQ(r->recipients[2].outcome, Outcome::kDeferred);
  EXPECT_EQ(r->recipients[2].reason, "RCPT TO refused: 450 4.2.1 mailbox busy");
  EXPECT_EQ(r->recipients[3].outcome, Outcome::kAccepted);
  EXPECT_FALSE(r->all_accepted());
  EXPECT_EQ(r->accepted(), 2u);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, LockStepAllRefusedSendsNoDataButRset) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<x@example.test>", "550 no\r\n"},
                                {"RCPT TO:<y@example.test>", "451 4.3.0 later\r\n"},
                                {"RSET", "250 flushed\r\n"},
                                // The session is reused for the next message.
                                {"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<z@example.test>", "250 ok\r\n"},
                                {"DATA", "354 go\r\n"},
                                {"Subject: hi", ""}, {"*", ""}, {"hello", ""},
                                {".", "250 ok\r\n"},
                                {"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"x@example.test", "y@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r->recipients[1].outcome, Outcome::kDeferred);
  EXPECT_EQ(r->data_start.code, 0);
  EXPECT_EQ(r->data.code, 0);
  EXPECT_FALSE(r->session_error);
  auto r2 = c->Send(To({"z@example.test"}), kMessage);
  ASSERT_TRUE(r2);
  EXPECT_TRUE(r2->all_accepted());
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, LockStepMailRefusedSendsNoRcpt) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<>", "553 5.7.1 sender rejected\r\n"}, {"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"x@example.test", "y@example.test"}, "<>"), kMessage);
  ASSERT_TRUE(r);
  for (const auto& rr : r->recipients) {
    EXPECT_EQ(rr.outcome, Outcome::kFailed);
    EXPECT_EQ(rr.reason, "MAIL FROM refused: 553 5.7.1 sender rejected");
    EXPECT_EQ(rr.rcpt.code, 0);
  }
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, PipelinedAllRefusedBodyNotSent) {
  FakeServer server;
  server.Serve(Plus(Hello({"PIPELINING"}),
                    {{"MAIL FROM:<alice@example.test>", ""},
                     {"RCPT TO:<x@example.test>", ""},
                     {"DATA", "250 ok\r\n550 5.1.1 unknown\r\n554 5.5.1 Error: no valid recipients\r\n"},
                     {"RSET", "250 ok\r\n"},
                     {"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"x@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r->recipients[0].reason, "RCPT TO refused: 550 5.1.1 unknown");
  EXPECT_EQ(r->data_start.code, 554);
  EXPECT_EQ(r->data.code, 0);
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, PipelinedDataAcceptedWithoutRecipientsGetsALoneDot) {
  FakeServer server;
  // RFC 2920 §3.1: DATA answered 354 although no RCPT succeeded: the
  // client ends the message at once with "." and sends no body.
  server.Serve(Plus(Hello({"PIPELINING"}),
                    {{"MAIL FROM:<alice@example.test>", ""},
                     {"RCPT TO:<x@example.test>", ""},
                     {"DATA", "250 ok\r\n550 no such user\r\n354 go ahead\r\n"},
                     {".", "554 no valid recipients\r\n"},
                     {"RSET", "250 ok\r\n"},
                     {"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"x@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r->data_start.code, 354);
  EXPECT_EQ(r->data.code, 0);
  EXPECT_FALSE(r->session_error);
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, DataRefusedAndEndOfDataRefused) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({}),
                         {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                          {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                          {"DATA", "451 4.3.0 not now\r\n"},
                          {"RSET", "250 ok\r\n"},
                          {"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                          {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                          {"DATA", "354 go\r\n"}}),
                    Body("554 5.7.1 rejected as spam\r\n")));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kDeferred);
  EXPECT_EQ(r->recipients[0].reason, "DATA refused: 451 4.3.0 not now");
  r = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kFailed);
  EXPECT_EQ(r->recipients[0].reason, "end of data refused: 554 5.7.1 rejected as spam");
  EXPECT_EQ(r->recipients[0].rcpt.code, 250);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

// --- parameters ---

TEST(SmtpClient, SizeLimitRefusesBeforeMail) {
  FakeServer server;
  server.Serve(Plus(Hello({"SIZE 100", "PIPELINING"}), {{"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  const std::string big = "Subject: big\n\n" + std::string(200, 'x') + "\n";
  auto r = c->Send(To({"bob@example.test", "carol@example.test"}), big);
  ASSERT_TRUE(r);
  for (const auto& rr : r->recipients) {
    EXPECT_EQ(rr.outcome, Outcome::kFailed);
    EXPECT_EQ(rr.reason, "not sent: the message is 218 bytes, more than the 100 that " + Where(server) +
                             " accepts (SIZE)");
  }
  EXPECT_EQ(r->mail.code, 0);
  EXPECT_TRUE(c->Quit());  // nothing was sent: the next command is QUIT
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, EightBitBodyGetsBody8BitMimeWhenOffered) {
  FakeServer server;
  server.Serve(Plus(Hello({"8BITMIME", "SIZE"}),
                    {{"MAIL FROM:<alice@example.test> SIZE=21 BODY=8BITMIME", "250 ok\r\n"},
                     {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                     {"DATA", "354 go\r\n"},
                     {"Subject: x", ""}, {"*", ""}, {"caf\xc3\xa9", ""},
                     {".", "250 ok\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), "Subject: x\n\ncaf\xc3\xa9");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_TRUE(r->warnings.empty());
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, EightBitBodyWithout8BitMimeIsSentWithAWarning) {
  FakeServer server;
  server.Serve(Plus(Hello({"PIPELINING"}),
                    {{"MAIL FROM:<alice@example.test>", ""},
                     {"RCPT TO:<bob@example.test>", ""},
                     {"DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
                     {"caf\xc3\xa9", ""},
                     {".", "250 ok\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), "caf\xc3\xa9\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_EQ(r->warnings, (std::vector<std::string>{"server " + Where(server) +
                                                   " does not offer 8BITMIME; the message has 8-bit bytes and was "
                                                   "sent as it is"}));
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, Utf8AddressGetsSmtpUtf8WhenOffered) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({"SMTPUTF8", "8BITMIME"}),
                         {{"MAIL FROM:<alice@example.test> SMTPUTF8", "250 ok\r\n"},
                          {"RCPT TO:<j\xc3\xb6rg@b\xc3\xbc" "cher.example>", "250 ok\r\n"},
                          {"DATA", "354 go\r\n"}}),
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"j\xc3\xb6rg@b\xc3\xbc" "cher.example"}), kMessage);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, Utf8AddressWithoutSmtpUtf8FailsEveryRecipient) {
  FakeServer server;
  server.Serve(Plus(Hello({"8BITMIME", "PIPELINING"}), {{"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test", "j\xc3\xb6rg@example.test"}), kMessage);
  ASSERT_TRUE(r);
  for (const auto& rr : r->recipients) {
    EXPECT_EQ(rr.outcome, Outcome::kFailed);
    EXPECT_EQ(rr.reason, "not sent: server " + Where(server) +
                             " does not offer SMTPUTF8, needed for address j\xc3\xb6rg@example.test");
  }
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

Envelope DsnEnvelope() {
  Envelope e;
  e.from = "alice@example.test";
  e.ret = DsnReturn::kHeaders;
  e.envid = "QQ314159+x=y";
  Recipient bob{"bob@example.test", {}, "bob@example.test"};
  bob.notify.success = bob.notify.failure = true;
  Recipient carol{"carol@example.test", {}, ""};
  carol.notify.never = true;
  Recipient dave{"dave@example.test", {}, "d\xc3\xa4ve+1@example.test"};
  dave.notify.delay = true;
  e.recipients = {bob, carol, dave};
  return e;
}

TEST(SmtpClient, DsnParametersOnTheWire) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({"DSN", "PIPELINING"}),
                         {{"MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ314159+2Bx+3Dy", ""},
                          {"RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.test", ""},
                          {"RCPT TO:<carol@example.test> NOTIFY=NEVER", ""},
                          {"RCPT TO:<dave@example.test> NOTIFY=DELAY ORCPT=utf-8;d\\x{E4}ve\\x{2B}1@example.test", ""},
                          {"DATA", "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"}}),
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(DsnEnvelope(), kMessage);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_TRUE(r->warnings.empty());
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, DsnParametersDroppedWithAWarningWhenNotOffered) {
  FakeServer server;
  server.Serve(Plus(Plus(Hello({"PIPELINING"}),
                         {{"MAIL FROM:<alice@example.test>", ""},
                          {"RCPT TO:<bob@example.test>", ""},
                          {"RCPT TO:<carol@example.test>", ""},
                          {"RCPT TO:<dave@example.test>", ""},
                          {"DATA", "250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"}}),
                    Body()));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(DsnEnvelope(), kMessage);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_EQ(r->warnings, (std::vector<std::string>{"server " + Where(server) +
                                                   " does not offer DSN; NOTIFY, ORCPT, RET and ENVID were not sent"}));
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, XtextEncoding) {
  EXPECT_EQ(XtextEncode("abc"), "abc");
  EXPECT_EQ(XtextEncode("a+b=c d"), "a+2Bb+3Dc+20d");
  EXPECT_EQ(XtextEncode("\x01\xff"), "+01+FF");
}

TEST(SmtpClient, BadEnvelopesAreRefusedBeforeAnythingIsSent) {
  FakeServer server;
  server.Serve(Plus(Hello({"DSN"}), {{"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(Envelope{}, kMessage);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message(), "SMTP: no recipients given");
  r = c->Send(To({"bob@example.test\r\nRCPT TO:<evil@example.test>"}), kMessage);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "SMTP: recipient address \"bob@example.test??RCPT TO:<evil@example.test>\" has a control character or an "
            "angle bracket");
  r = c->Send(To({""}), kMessage);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "SMTP: empty recipient address");
  Envelope e = To({"bob@example.test"});
  e.recipients[0].notify.never = e.recipients[0].notify.delay = true;
  r = c->Send(e, kMessage);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "SMTP: NOTIFY=NEVER for bob@example.test cannot be combined with other values");
  e = To({"bob@example.test"});
  e.envid = std::string(101, 'x');
  EXPECT_FALSE(c->Send(e, kMessage));
  e.envid = "tab\there";
  EXPECT_FALSE(c->Send(e, kMessage));
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

// --- the body ---

TEST(SmtpClient, DotStuffingLineEndsAndMissingFinalNewline) {
  FakeServer server;
  // The fake server strips CRLF; EncodeData's tests check the exact bytes.
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                {"DATA", "354 go\r\n"},
                                {"Subject: dots", ""},
                                {"*", ""},
                                {"..", ""},
                                {"..leading", ""},
                                {"...two", ""},
                                {"mid.dle", ""},
                                {"cr line", ""},
                                {"no final newline", ""},
                                {".", "250 ok\r\n"},
                                {"QUIT", "221 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}),
                   "Subject: dots\n\n.\r\n.leading\n..two\nmid.dle\rcr line\nno final newline");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->all_accepted());
  EXPECT_TRUE(c->Quit());
  EXPECT_EQ(server.Finish(), "");
}

// --- the session ending mid-way ---

TEST(SmtpClient, GarbageReplyMidTransactionEndsTheSession) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<carol@example.test>", "OK whatever\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test", "carol@example.test"}), kMessage);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_EQ(r->session_error->code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r->session_error->message(), "SMTP server " + Where(server) +
                                             " broke the protocol in its reply to RCPT TO:<carol@example.test>: not an "
                                             "SMTP reply line: \"OK whatever\"");
  for (const auto& rr : r->recipients) EXPECT_EQ(rr.outcome, Outcome::kDeferred);
  EXPECT_EQ(r->recipients[1].reason, "session ended: " + r->session_error->message());
  EXPECT_TRUE(c->closed());
  auto again = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(again.error().message(),
            "SMTP session with " + Where(server) + " is closed (after QUIT or an earlier error)");
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, Reply421MidTransactionDefersEverythingNotRefused) {
  FakeServer server;
  server.Serve(Plus(Hello({"PIPELINING"}),
                    {{"MAIL FROM:<alice@example.test>", ""},
                     {"RCPT TO:<a@example.test>", ""},
                     {"RCPT TO:<b@example.test>", ""},
                     {"RCPT TO:<c@example.test>", ""},
                     {"DATA", "250 ok\r\n550 5.1.1 a unknown\r\n250 ok\r\n421 4.4.2 shutting down\r\n", 0, true}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"a@example.test", "b@example.test", "c@example.test"}), kMessage);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_EQ(r->session_error->code(), ErrorCode::kUnavailable);
  EXPECT_EQ(r->session_error->message(), "SMTP server " + Where(server) +
                                             " closed the session in its reply to RCPT TO:<c@example.test>: 421 4.4.2 "
                                             "shutting down");
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kFailed);    // refused before the 421: final
  EXPECT_EQ(r->recipients[1].outcome, Outcome::kDeferred);  // accepted, but no message went
  EXPECT_EQ(r->recipients[2].outcome, Outcome::kDeferred);
  EXPECT_FALSE(r->delivery_unknown);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, DropAfterTheWholeBodyLeavesDeliveryUnknown) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                {"DATA", "354 go\r\n"},
                                {"Subject: hi", ""},
                                {"", "", 0, true}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_EQ(r->session_error->code(), ErrorCode::kUnavailable);
  // The small body fitted in the socket buffers: the client cannot know
  // whether the server kept it.
  EXPECT_TRUE(r->delivery_unknown);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kDeferred);
  EXPECT_TRUE(Contains(r->recipients[0].reason, "(after the whole message was sent: the server may have it)"))
      << r->recipients[0].reason;
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(server.Finish(), "");
}

// The hook runs after the whole body and before the end-of-data line, and
// sees which recipients RCPT accepted.
TEST(SmtpClient, BeforeEndRunsBeforeTheEndOfDataLine) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<carol@example.test>", "550 no such user\r\n"},
                                {"DATA", "354 go\r\n"},
                                {"Subject: hi", ""},
                                {"*", ""},
                                {"hello", ""},
                                {".", "250 queued\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  std::vector<int> codes;
  auto r = c->Send(To({"bob@example.test", "carol@example.test"}), kMessage, [&](const SendResult& so_far) {
    for (const auto& rr : so_far.recipients) codes.push_back(rr.rcpt.code);
    EXPECT_EQ(so_far.data.code, 0);  // the end of data is not answered yet
    return OkStatus();
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(codes, (std::vector<int>{250, 550}));
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kAccepted);
  c.reset();
  EXPECT_EQ(server.Finish(), "");
}

// A hook that fails keeps the end-of-data line off the wire: nothing is
// delivered, nothing is unknown.
TEST(SmtpClient, FailedBeforeEndSendsNoEndOfData) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                {"DATA", "354 go\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), kMessage,
                   [](const SendResult&) { return MakeError(ErrorCode::kIoError, "journal full"); });
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_EQ(r->session_error->message(), "journal full");
  EXPECT_FALSE(r->delivery_unknown);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kDeferred);
  EXPECT_TRUE(c->closed());
  server.Finish();
  for (const auto& line : server.received()) EXPECT_NE(line, ".");
}

TEST(SmtpClient, Reply421ToTheEndOfDataIsADeferralNotAnUnknown) {
  FakeServer server;
  std::vector<FakeStep> script = Plus(Hello({}), {{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                                  {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                                  {"DATA", "354 go\r\n"}});
  for (FakeStep& step : Body("421 4.3.0 shutting down\r\n")) script.push_back(step);
  script.back().close = true;
  server.Serve(script);
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto r = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_FALSE(r->delivery_unknown);  // the server said no, for now
  EXPECT_EQ(r->data.code, 421);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kDeferred);
  EXPECT_TRUE(Contains(r->recipients[0].reason, "421 4.3.0 shutting down")) << r->recipients[0].reason;
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, DropMidDataOfALargeMessage) {
  FakeServer server;
  server.Serve(Plus(Hello({"PIPELINING", "8BITMIME"}),
                    {{"MAIL FROM:<alice@example.test>", ""},
                     {"RCPT TO:<bob@example.test>", ""},
                     {"DATA", "250 ok\r\n250 ok\r\n354 go\r\n"},
                     {"Subject: big", "", 0, true}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  std::string big = "Subject: big\n\n";
  const std::string line(76, 'y');
  while (big.size() < (32u << 20)) big += line + "\n";
  auto r = c->Send(To({"bob@example.test"}), big);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->session_error);
  EXPECT_EQ(r->session_error->code(), ErrorCode::kUnavailable);
  EXPECT_TRUE(Contains(r->session_error->message(), "SMTP DATA: ")) << r->session_error->message();
  EXPECT_FALSE(r->delivery_unknown);
  EXPECT_EQ(r->recipients[0].outcome, Outcome::kDeferred);
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, ResetNoopQuit) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"RSET", "250 2.0.0 ok\r\n"}, {"NOOP", "250 2.0.0 ok\r\n"}, {"QUIT", "221 2.0.0 bye\r\n"}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->Reset());
  EXPECT_TRUE(c->Noop());
  EXPECT_TRUE(c->Quit());
  auto again = c->Noop();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(server.Finish(), "");
}

TEST(SmtpClient, NoopGets421) {
  FakeServer server;
  server.Serve(Plus(Hello({}), {{"NOOP", "421 4.4.2 idle too long\r\n", 0, true}}));
  auto c = MustOpen(server);
  ASSERT_TRUE(c);
  auto s = c->Noop();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().message(), "SMTP server " + Where(server) +
                                     " closed the session in its reply to NOOP: 421 4.4.2 idle too long");
  EXPECT_TRUE(c->closed());
}

}  // namespace
}  // namespace mailkeep::smtp
