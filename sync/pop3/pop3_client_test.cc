// POP3 client against a scripted fake server: the failures and edge cases a
// real server does not produce. tests/servers/pop3_dovecot_test.cc covers a
// real Dovecot.
#include "sync/net/sasl.h"
#include "sync/pop3/pop3_client.h"

#include <gtest/gtest.h>

#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::pop3 {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kGreeting = "+OK POP3 ready\r\n";
const std::string kCapaUser = "+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n";
const std::string kCapaPipelining = "+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\nSASL PLAIN LOGIN XOAUTH2\r\n.\r\n";

Pop3Options Opts(uint16_t port) { return mailkeep::testing::FakePop3(port, "s3cret-pw"); }

std::string Where(const FakeServer& s) { return "127.0.0.1:" + std::to_string(s.port()); }

// Greeting, CAPA (plain USER), USER/PASS.
std::vector<FakeStep> Login(const std::string& capa = kCapaUser) {
  return {{"", kGreeting}, {"CAPA", capa}, {"USER alice", "+OK\r\n"}, {"PASS s3cret-pw", "+OK logged in\r\n"}};
}

std::vector<FakeStep> Plus(std::vector<FakeStep> a, const std::vector<FakeStep>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(Pop3Client, GarbageGreeting) {
  FakeServer server;
  server.Serve({{"", "* OK IMAP4rev1 ready\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "POP3 server " + Where(server) +
                                     " broke the protocol in its reply to greeting: \"* OK IMAP4rev1 ready\"");
}

TEST(Pop3Client, ErrGreeting) {
  FakeServer server;
  server.Serve({{"", "-ERR [SYS/TEMP] too many connections\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(),
            "POP3 server " + Where(server) + " refused the session: [SYS/TEMP] too many connections");
}

TEST(Pop3Client, WrongPasswordNamesUserNotPassword) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"CAPA", kCapaUser},
                {"USER alice", "+OK\r\n"},
                {"PASS s3cret-pw", "-ERR [AUTH] Authentication failed.\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(),
            "POP3 login as alice at " + Where(server) + " failed (USER/PASS): [AUTH] Authentication failed.");
  EXPECT_FALSE(Contains(c.error().message(), "s3cret"));
  EXPECT_EQ(server.Finish(), "");
}

// A server that echoes what it was sent: the password, in whatever form it
// went out, never reaches an error (net::SecretMask).
TEST(Pop3Client, ServerEchoingThePasswordInAnyFormDoesNotPutItInTheError) {
  struct Case {
    AuthMethod auth;
    std::vector<FakeStep> script;
  };
  const std::vector<Case> cases = {
      {AuthMethod::kUserPass,
       {{"", kGreeting}, {"CAPA", kCapaUser}, {"USER alice", "+OK\r\n"},
        {"PASS s3cret-pw", "-ERR [AUTH] wrong password s3cret-pw\r\n"}}},
      {AuthMethod::kPlain,
       {{"", kGreeting}, {"CAPA", kCapaPipelining},
        {"AUTH PLAIN *", "-ERR [AUTH] bad AGFsaWNlAHMzY3JldC1wdw== given\r\n"}}},
      {AuthMethod::kLogin,
       {{"", kGreeting}, {"CAPA", kCapaPipelining}, {"AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"},
        {"YWxpY2U=", "+ UGFzc3dvcmQ6\r\n"}, {"czNjcmV0LXB3", "-ERR [AUTH] bad czNjcmV0LXB3 given\r\n"}}},
      {AuthMethod::kXoauth2,
       {{"", kGreeting}, {"CAPA", kCapaPipelining},
        {"AUTH XOAUTH2 *", "-ERR [AUTH] bad dXNlcj1hbGljZQFhdXRoPUJlYXJlciBzM2NyZXQtcHcBAQ== given\r\n"}}},
      // A line that breaks the protocol, echoing the password.
      {AuthMethod::kUserPass,
       {{"", kGreeting}, {"CAPA", kCapaUser}, {"USER alice", "+OK\r\n"},
        {"PASS s3cret-pw", "what is s3cret-pw?\r\n"}}},
  };
  for (const auto& c : cases) {
    FakeServer server;
    server.Serve(c.script);
    Pop3Options o = Opts(server.port());
    o.auth = c.auth;
    auto r = Pop3Client::Connect(o);
    ASSERT_FALSE(r);
    const std::string m = r.error().message();
    EXPECT_TRUE(Contains(m, "***")) << m;
    for (const char* form : {"s3cret", "czNjcmV0", "AGFsaWNlAHMzY3JldC1wdw", "dXNlcj1hbGljZQFhdXRoPUJlYXJlciBzM2NyZXQtcHc"}) {
      EXPECT_FALSE(Contains(m, form)) << m;
    }
    server.Finish();
  }
  // After login: a -ERR to RETR that echoes it.
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 1", "-ERR no such message, s3cret-pw\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  auto s = (*c)->Retrieve({1}, [&](int, std::string&&) { return OkStatus(); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "POP3 RETR 1 at " + Where(server) + " failed: no such message, ***");
}

TEST(Pop3Client, InUseIsTemporary) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"CAPA", kCapaUser},
                {"USER alice", "+OK\r\n"},
                {"PASS s3cret-pw", "-ERR [IN-USE] Mailbox locked by another session\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
}

TEST(Pop3Client, PlaintextRefusedBeforeAnyCredentialIsSent) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"CAPA", kCapaUser}});
  Pop3Options o = Opts(server.port());
  o.allow_plaintext = false;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "refusing to log in as alice at " + Where(server) +
                                     " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA"}));
}

TEST(Pop3Client, StartTlsRefusedWhenNotOffered) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"CAPA", kCapaUser}});
  Pop3Options o = Opts(server.port());
  o.connect.tls = net::TlsMode::kStartTls;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(c.error().message(), "does not offer STLS")) << c.error().message();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA"}));
}

TEST(Pop3Client, ApopRfc1939Example) {
  FakeServer server;
  server.Serve({{"", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"},
                {"CAPA", "-ERR unknown command\r\n"},
                {"APOP mrose c4c9334bac560ecc979e58001b3e22fb", "+OK mrose's maildrop has 0 messages\r\n"},
                {"QUIT", "+OK bye\r\n"}});
  Pop3Options o = Opts(server.port());
  o.user = "mrose";
  o.password = "tanstaaf";
  auto c = Pop3Client::Connect(o);  // auto picks APOP on a plain connection
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kApop);
  EXPECT_TRUE((*c)->capabilities().empty());
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, ApopAskedForButNoTimestamp) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"CAPA", kCapaUser}});
  Pop3Options o = Opts(server.port());
  o.auth = AuthMethod::kApop;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "does not offer APOP (no timestamp in its greeting)"))
      << c.error().message();
}

TEST(Pop3Client, SaslPlainInitialResponse) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"CAPA", kCapaPipelining},
                {"AUTH PLAIN AGFsaWNlAHMzY3JldC1wdw==", "+OK Logged in.\r\n"},
                {"QUIT", "+OK\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kPlain);
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, SaslLogin) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"CAPA", kCapaPipelining},
                {"AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"},
                {"YWxpY2U=", "+ UGFzc3dvcmQ6\r\n"},
                {"czNjcmV0LXB3", "-ERR [AUTH] Authentication failed.\r\n"}});
  Pop3Options o = Opts(server.port());
  o.auth = AuthMethod::kLogin;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(),
            "POP3 login as alice at " + Where(server) + " failed (AUTH LOGIN): [AUTH] Authentication failed.");
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, Xoauth2FailureChallengeGetsEmptyResponse) {
  std::string token(300, 't');  // too long for an initial response (255 octets)
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"CAPA", kCapaPipelining},
                {"AUTH XOAUTH2", "+ \r\n"},
                {"dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0dHR0*", "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
                {"*", "-ERR [AUTH] Invalid credentials\r\n"}});
  Pop3Options o = Opts(server.port());
  o.auth = AuthMethod::kXoauth2;
  o.password = token;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(),
            "POP3 login as alice at " + Where(server) + " failed (AUTH XOAUTH2): [AUTH] Invalid credentials");
  EXPECT_FALSE(Contains(c.error().message(), "tttt"));
  server.Finish();
  ASSERT_EQ(server.received().size(), 4u);
  EXPECT_EQ(server.received()[3], "");  // the empty response
}

TEST(Pop3Client, ARefusedBearerTokenIsRenewedOnceInTheSameSession) {
  FakeServer server;
  const std::string capa = "+OK\r\nUSER\r\nSASL XOAUTH2 OAUTHBEARER\r\n.\r\n";
  const std::string port = std::to_string(server.port());
  auto bearer = [&](const std::string& token) {
    return "AUTH OAUTHBEARER " + net::Base64Encode("n,a=alice,\x01host=127.0.0.1\x01port=" + port + "\x01" "auth=Bearer " +
                                                   token + "\x01\x01");
  };
  server.Serve({{"", kGreeting},
                {"CAPA", capa},
                {bearer("stale-1"), "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
                {"AQ==", "-ERR [AUTH] Invalid credentials\r\n"},
                {bearer("fresh-2"), "+OK Logged in.\r\n"}});
  Pop3Options o = Opts(server.port());
  o.auth = AuthMethod::kOauthBearer;
  o.password = "stale-1";
  int renewed = 0;
  o.renew_token = [&]() -> Result<std::string> { ++renewed; return std::string("fresh-2"); };
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(renewed, 1);
  c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, MechanismNotOffered) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"CAPA", kCapaUser}});
  Pop3Options o = Opts(server.port());
  o.auth = AuthMethod::kPlain;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "POP3 server " + Where(server) +
                                     " does not offer AUTH PLAIN (it offers USER/PASS)");
}

TEST(Pop3Client, ListMergesUidlAndListPipelined) {
  FakeServer server;
  server.Serve(Plus(Login("+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n"),
                    {{"UIDL", "+OK\r\n2 uid-b\r\n1 uid-a\r\n3 uid-c\r\n.\r\n"},
                     {"LIST", "+OK 3 messages\r\n1 100\r\n2 2000\r\n3 30\r\n.\r\n"},
                     {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].number, 1);
  EXPECT_EQ((*list)[0].uidl, "uid-a");
  EXPECT_EQ((*list)[0].size, 100u);
  EXPECT_EQ((*list)[1].uidl, "uid-b");
  EXPECT_EQ((*list)[1].size, 2000u);
  EXPECT_EQ((*list)[2].number, 3);
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

// Numbers and sizes are claims: message 2147483647 and a size of 2^64-1
// size nothing (they once allocated 16 GiB and reserved 256 MiB).
TEST(Pop3Client, HugeNumbersAndSizesSizeNothing) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"UIDL", "+OK\r\n1 uid-a\r\n2147483647 uid-b\r\n.\r\n"},
                              {"LIST", "+OK\r\n1 100\r\n2147483647 18446744073709551615\r\n.\r\n"},
                              {"RETR 2147483647", "+OK\r\nSubject: x\r\n\r\nhi\r\n.\r\n"},
                              {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].number, 2147483647);
  EXPECT_EQ((*list)[1].size, UINT64_MAX);
  std::string got;
  ASSERT_TRUE((*c)->Retrieve({2147483647}, [&](int, std::string&& m) {
    got = std::move(m);
    return OkStatus();
  }));
  EXPECT_EQ(got, "Subject: x\n\nhi\n");
  EXPECT_LT(got.capacity(), 4096u);
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

// A CAPA that never ends, before login and before STLS: the reply's byte
// budget (1 MiB) ends it.
TEST(Pop3Client, EndlessCapaStopsAtItsBudget) {
  FakeServer server;
  FakeStep endless{"", "X-FILLER " + std::string(60, 'y') + "\r\n"};
  endless.repeat = 0;
  server.Serve({{"", kGreeting}, {"CAPA", "+OK\r\nSTLS\r\nUSER\r\n"}, endless});
  Pop3Options o = Opts(server.port());
  o.connect.tls = net::TlsMode::kStartTls;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "POP3 server " + Where(server) + " broke the protocol in its reply to CAPA: reply from " +
                                     Where(server) + " is over 1048576 bytes");
}

// An endless UIDL stops at max_messages lines, or at max_listing_bytes.
TEST(Pop3Client, EndlessUidlStopsAtTheLimits) {
  for (bool by_count : {true, false}) {
    FakeServer server;
    // More distinct lines than either limit lets through (the same line
    // repeated would stop earlier, as a number listed twice).
    std::string lines;
    for (int n = 1; n <= 200000; ++n) lines += std::to_string(n) + " uid-" + std::to_string(n) + "\r\n";
    server.Serve(Plus(Login(), {{"UIDL", "+OK\r\n" + lines}}));
    Pop3Options o = Opts(server.port());
    if (by_count) o.max_messages = 1000;
    o.max_listing_bytes = 100000;
    if (by_count) o.max_listing_bytes = 1u << 20;
    auto c = Pop3Client::Connect(o);
    ASSERT_TRUE(c) << c.error().ToString();
    auto list = (*c)->List();
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().code(), ErrorCode::kFailedPrecondition);
    const std::string why = by_count ? "more than 1000 messages (the limit)" : "is over 100000 bytes";
    EXPECT_TRUE(Contains(list.error().message(), why)) << list.error().message();
    EXPECT_TRUE(Contains(list.error().message(), "UIDL")) << list.error().message();
  }
}

// One message number with two UIDLs would credit one message's content to
// the other UIDL, which could then be deleted unseen (pop3_response_fuzz).
TEST(Pop3Client, MessageNumberListedTwiceInUidlIsAnError) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"UIDL", "+OK\r\n1 uid-a\r\n1 uid-b\r\n.\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(list.error().message(), "message 1 listed twice")) << list.error().message();
}

TEST(Pop3Client, NoUidlIsAClearError) {
  FakeServer server;
  server.Serve(Plus(Login("+OK\r\nTOP\r\nUSER\r\n.\r\n"),
                    {{"UIDL", "-ERR Unknown command\r\n"}, {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(list.error().message(),
            "POP3 server " + Where(server) +
                " does not support UIDL, which mailkeep needs to tell which messages it already keeps "
                "(server said: Unknown command)");
  EXPECT_TRUE((*c)->Quit());  // still in step
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, DotUnstuffingAndLineEnds) {
  // On the wire (CRLF): "..", "...", ".x" (unstuffed by the rule), a lone CR
  // inside a line, an empty line, a bare-LF line, a line ending in CR CR LF.
  const std::string wire =
      "+OK 99 octets\r\n"
      "Subject: dots\r\n"
      "\r\n"
      "..\r\n"
      "...\r\n"
      "..leading\r\n"
      "a\rb\r\n"
      "bare lf\n"
      "cr-cr\r\r\n"
      "\r\n"
      "last\r\n"
      ".\r\n";
  const std::string expected = "Subject: dots\n\n.\n..\n.leading\na\rb\nbare lf\ncr-cr\r\n\nlast\n";
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 1", wire}, {"RETR 2", "+OK\r\n.\r\n"}, {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  std::vector<std::pair<int, std::string>> got;
  auto s = (*c)->Retrieve({1, 2}, [&](int n, std::string&& m) {
    got.emplace_back(n, std::move(m));
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].first, 1);
  EXPECT_EQ(got[0].second, expected);
  EXPECT_EQ(got[1].second, "");  // an empty message
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, TopUsesTheSameForm) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"TOP 3 0", "+OK\r\nSubject: x\r\n..dot\r\n\r\n.\r\n"}, {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  auto top = (*c)->Top(3, 0);
  ASSERT_TRUE(top) << top.error().ToString();
  EXPECT_EQ(*top, "Subject: x\n.dot\n\n");
  EXPECT_TRUE((*c)->Quit());
}

TEST(Pop3Client, DroppedMidMessage) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 1", "+OK\r\nSubject: cut\r\n\r\nhalf a li", 0, true}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  int calls = 0;
  auto s = (*c)->Retrieve({1}, [&](int, std::string&&) {
    ++calls;
    return OkStatus();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().message(), "POP3 RETR 1: connection to " + Where(server) + " closed by the server");
  // The session is gone: later calls fail, QUIT too (deletes not final).
  auto q = (*c)->Quit();
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kUnavailable);
}

TEST(Pop3Client, OverlongMessageLine) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 1", "+OK\r\n" + std::string(5000, 'x') + "\r\n.\r\n"}}));
  Pop3Options o = Opts(server.port());
  o.max_message_line = 4096;
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c);
  auto s = (*c)->Retrieve({1}, [&](int, std::string&&) { return OkStatus(); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.error().message(), "POP3 server " + Where(server) +
                                     " broke the protocol in its reply to RETR 1: line from " + Where(server) +
                                     " longer than 4096 bytes");
}

TEST(Pop3Client, OverlongReplyLine) {
  FakeServer server;
  server.Serve({{"", "+OK " + std::string(70 * 1024, 'g') + "\r\n"}});
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(c.error().message(), "longer than 65536 bytes")) << c.error().message();
}

TEST(Pop3Client, GarbageReplyToRetr) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 1", "HTTP/1.1 400 Bad Request\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  auto s = (*c)->Retrieve({1}, [&](int, std::string&&) { return OkStatus(); });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "POP3 server " + Where(server) +
                                     " broke the protocol in its reply to RETR 1: \"HTTP/1.1 400 Bad Request\"");
  EXPECT_FALSE((*c)->List());
}

TEST(Pop3Client, RetrErrStopsAndDrainsPipelinedReplies) {
  const std::string capa = "+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n";
  FakeServer server;
  server.Serve(Plus(Login(capa), {{"RETR 1", "+OK\r\none\r\n.\r\n"},
                                  {"RETR 2", "-ERR [SYS/TEMP] Message is being expunged\r\n"},
                                  {"RETR 3", "+OK\r\nthree\r\n.\r\n"},
                                  {"QUIT", "+OK\r\n"}}));
  Pop3Options o = Opts(server.port());
  o.pipeline_window = 2;
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c);
  std::vector<int> seen;
  auto s = (*c)->Retrieve({1, 2, 3, 4, 5}, [&](int n, std::string&& m) {
    seen.push_back(n);
    EXPECT_EQ(m, "one\n");
    return OkStatus();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().message(),
            "POP3 RETR 2 at " + Where(server) + " failed: [SYS/TEMP] Message is being expunged");
  EXPECT_EQ(seen, std::vector<int>{1});
  EXPECT_TRUE((*c)->Quit());  // RETR 3 was read and dropped: still in step
  EXPECT_EQ(server.Finish(), "");
  // RETR 4 and 5 were never sent.
  EXPECT_EQ(server.received().back(), "QUIT");
}

TEST(Pop3Client, SinkErrorStops) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"RETR 7", "+OK\r\nseven\r\n.\r\n"}, {"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  auto s = (*c)->Retrieve({7, 8}, [&](int, std::string&&) -> Status {
    return MakeError(ErrorCode::kIoError, "disk full");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kIoError);
  EXPECT_EQ(s.error().message(), "disk full");
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, PipelinedRetrieveKeepsOrder) {
  const std::string capa = "+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n";
  std::vector<FakeStep> steps = Login(capa);
  std::vector<int> numbers;
  for (int i = 40; i >= 1; --i) {
    numbers.push_back(i);
    steps.push_back({"RETR " + std::to_string(i), "+OK\r\nmessage " + std::to_string(i) + "\r\n.\r\n"});
  }
  steps.push_back({"QUIT", "+OK\r\n"});
  FakeServer server;
  server.Serve(steps);
  Pop3Options o = Opts(server.port());
  o.pipeline_window = 8;
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c);
  std::vector<int> seen;
  auto s = (*c)->Retrieve(numbers, [&](int n, std::string&& m) {
    EXPECT_EQ(m, "message " + std::to_string(n) + "\n");
    seen.push_back(n);
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(seen, numbers);
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, DeleteErrAndQuitErr) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"DELE 1", "+OK marked\r\n"},
                              {"DELE 9", "-ERR There's no message 9.\r\n"},
                              {"QUIT", "-ERR [SYS/PERM] Could not expunge\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  auto d = (*c)->Delete({1, 9, 10});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(d.error().message(), "POP3 DELE 9 at " + Where(server) + " failed: There's no message 9.");
  auto q = (*c)->Quit();
  ASSERT_FALSE(q);
  EXPECT_EQ(q.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(q.error().message(), "POP3 QUIT at " + Where(server) +
                                     " failed: [SYS/PERM] Could not expunge; messages marked for deletion may "
                                     "not be deleted");
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, BadArguments) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"QUIT", "+OK\r\n"}}));
  auto c = Pop3Client::Connect(Opts(server.port()));
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)->Delete({0}).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*c)->Top(-1, 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE((*c)->Quit());
}

TEST(Pop3Client, NoUserName) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"CAPA", kCapaUser}});
  Pop3Options o = Opts(server.port());
  o.user.clear();
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.received(), (std::vector<std::string>{"CAPA"}));
}

}  // namespace
}  // namespace mailkeep::pop3

namespace mailkeep::pop3 {
namespace {

// Office 365 throttles with "-ERR [THROTTLED] ... Suggested Backoff Time":
// waited out and sent again (RETR from the refused message on; those in
// flight behind it are read and asked again), each message once to the sink.
TEST(Pop3Client, ThrottledRetrIsWaitedOutAndResumed) {
  FakeServer server;
  const std::string capa = "+OK\r\nUIDL\r\nPIPELINING\r\nUSER\r\n.\r\n";
  const std::string throttled = "-ERR [THROTTLED] Request is throttled. Suggested Backoff Time: 5 milliseconds\r\n";
  server.Serve(Plus(Login(capa), {{"RETR 1", "+OK\r\none\r\n.\r\n"},
                                  {"RETR 2", throttled},
                                  {"RETR 3", "+OK\r\nthree\r\n.\r\n"},
                                  {"RETR 2", "+OK\r\ntwo\r\n.\r\n"},
                                  {"RETR 3", "+OK\r\nthree\r\n.\r\n"},
                                  {"QUIT", "+OK\r\n"}}));
  std::vector<std::chrono::milliseconds> waits;
  Pop3Options o = Opts(server.port());
  net::ThrottleOptions t;
  t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  std::vector<std::string> got;
  auto s = (*c)->Retrieve({1, 2, 3}, [&](int n, std::string&& m) {
    got.push_back(std::to_string(n) + ":" + m);
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(got, (std::vector<std::string>{"1:one\n", "2:two\n", "3:three\n"}));
  EXPECT_EQ(waits, std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(5)});
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

TEST(Pop3Client, ThrottledLongerThanTheRunMayWaitStops) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"UIDL", "-ERR Request is throttled. Suggested Backoff Time: 299961 milliseconds\r\n"},
                              {"QUIT", "+OK\r\n"}}));
  std::vector<std::chrono::milliseconds> waits;
  Pop3Options o = Opts(server.port());
  net::ThrottleOptions t;
  t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(list.error().message(), "server throttled POP3 UIDL at " + Where(server) +
                                        " (asked to wait 300 s, more than throttle_max_wait 120 s)");
  EXPECT_TRUE(waits.empty());
  EXPECT_TRUE((*c)->Quit());
  EXPECT_EQ(server.Finish(), "");
}

}  // namespace
}  // namespace mailkeep::pop3
