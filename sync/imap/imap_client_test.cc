// IMAP client against a scripted fake server: the failures and edge cases a
// real server does not produce (garbage, BYE, drops mid-literal, no UIDPLUS,
// "UID N:*" answered with a lower UID). imap_dovecot_test.cc covers a real
// Dovecot.
#include "sync/imap/imap_client.h"

#include <gtest/gtest.h>

#include "sync/net/sasl.h"
#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::imap {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kGreeting = "* OK [CAPABILITY IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN] ready\r\n";
const std::string kCaps = "IMAP4rev1 LITERAL+ UIDPLUS UNSELECT";

ImapOptions Opts(uint16_t port) { return mailkeep::testing::FakeImap(port, "s3cret-pw"); }

std::string Where(const FakeServer& s) { return "127.0.0.1:" + std::to_string(s.port()); }

// Greeting and LOGIN (tag A1); the next command is A2.
std::vector<FakeStep> Login(const std::string& caps = kCaps) {
  return {{"", kGreeting}, {"A1 LOGIN \"alice\" \"s3cret-pw\"", "A1 OK [CAPABILITY " + caps + "] Logged in\r\n"}};
}

std::vector<FakeStep> Plus(std::vector<FakeStep> a, const std::vector<FakeStep>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const std::string kSelectReply =
    "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
    "* 3 EXISTS\r\n* 0 RECENT\r\n"
    "* OK [UIDVALIDITY 1700000000] UIDs valid\r\n"
    "* OK [UIDNEXT 9] Predicted next UID\r\n"
    "* OK [HIGHESTMODSEQ 12] Highest\r\n";

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(ImapClient, GarbageGreeting) {
  FakeServer server;
  server.Serve({{"", "HTTP/1.1 400 Bad Request\r\n"}});
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "IMAP server " + Where(server) +
                                     " broke the protocol in its reply to greeting: tagged response without OK, "
                                     "NO or BAD");
}

TEST(ImapClient, ByeGreeting) {
  FakeServer server;
  server.Serve({{"", "* BYE [UNAVAILABLE] Too many connections\r\n", 0, true}});
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(),
            "IMAP server " + Where(server) + " refused the session: [UNAVAILABLE] Too many connections");
}

TEST(ImapClient, WrongPasswordNamesUserNotPassword) {
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"A1 LOGIN \"alice\" \"s3cret-pw\"", "A1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"}});
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(),
            "IMAP login as alice at " + Where(server) + " failed (LOGIN): [AUTHENTICATIONFAILED] Authentication failed.");
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, ServerEchoingThePasswordDoesNotPutItInTheError) {
  FakeServer server;
  server.Serve({{"", kGreeting}, {"A1 LOGIN *", "A1 NO [UNAVAILABLE] no backend for s3cret-pw\r\n"}});
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(Contains(c.error().message(), "s3cret")) << c.error().message();
  EXPECT_TRUE(Contains(c.error().message(), "no backend for ***")) << c.error().message();
}

TEST(ImapClient, ServerEchoingThePasswordInAnyFormDoesNotPutItInTheError) {
  const std::vector<std::pair<AuthMethod, std::vector<FakeStep>>> cases = {
      // The quoted form, escapes and all.
      {AuthMethod::kUserPass, {{"", kGreeting}, {"A1 LOGIN *", "A1 NO [AUTHENTICATIONFAILED] \"s3\\\"cret\" wrong\r\n"}}},
      {AuthMethod::kPlain, {{"", kGreeting}, {"A1 AUTHENTICATE PLAIN *", "A1 NO [AUTHENTICATIONFAILED] " +
                                                                             net::Base64Encode(std::string("\0alice\0s3\"cret", 14)) + "\r\n"}}},
      // Past a 200-byte cut: masked before it is shortened.
      {AuthMethod::kUserPass, {{"", kGreeting}, {"A1 LOGIN *", "A1 NO " + std::string(196, 'x') + "s3\"cret\r\n"}}},
  };
  for (const auto& [method, steps] : cases) {
    FakeServer server;
    server.Serve(steps);
    ImapOptions o = Opts(server.port());
    o.auth = method;
    o.password = "s3\"cret";
    auto c = ImapClient::Connect(o);
    ASSERT_FALSE(c);
    const std::string m = c.error().message();
    EXPECT_TRUE(Contains(m, "***")) << m;
    EXPECT_FALSE(Contains(m, "s3")) << m;
    EXPECT_FALSE(Contains(m, net::Base64Encode(std::string("\0alice\0s3\"cret", 14)))) << m;
    server.Finish();
  }
}

TEST(ImapClient, NoPasswordWithoutTlsUnlessAllowed) {
  FakeServer server;
  server.Serve({{"", kGreeting}});
  ImapOptions o = Opts(server.port());
  o.allow_plaintext = false;
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(c.error().message(), "without TLS")) << c.error().message();
  server.Finish();
  EXPECT_TRUE(server.received().empty());  // not even a user name was sent
}

TEST(ImapClient, StartTlsNotOfferedIsRefused) {
  FakeServer server;
  server.Serve({{"", kGreeting}});
  ImapOptions o = Opts(server.port());
  o.connect.tls = net::TlsMode::kStartTls;
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(c.error().message(), "does not offer STARTTLS")) << c.error().message();
  server.Finish();
  EXPECT_TRUE(server.received().empty());
}

TEST(ImapClient, PreauthWithStartTlsIsRefused) {
  FakeServer server;
  server.Serve({{"", "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"}});
  ImapOptions o = Opts(server.port());
  o.connect.tls = net::TlsMode::kStartTls;
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "PREAUTH")) << c.error().message();
}

TEST(ImapClient, LoginQuotesAndUsesLiterals) {
  FakeServer server;
  // LITERAL+: no wait for a continuation.
  server.Serve({{"", kGreeting},
                {"A1 LOGIN \"al\\\"i\\\\ce\" {6+}", ""},
                {"p\xc3\xa4 ss", "A1 OK [CAPABILITY IMAP4rev1] Logged in\r\n"}});
  ImapOptions o = Opts(server.port());
  o.user = "al\"i\\ce";
  o.password = "p\xc3\xa4 ss";
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, LoginWithSynchronizingLiteral) {
  FakeServer server;
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1] ready\r\n"},
                {"A1 LOGIN \"alice\" {6}", "+ Ready for literal data\r\n"},
                {"p\xc3\xa4 ss", "A1 OK Logged in\r\n"},
                {"A2 CAPABILITY", "* CAPABILITY IMAP4rev1 UIDPLUS\r\nA2 OK done\r\n"}});
  ImapOptions o = Opts(server.port());
  o.password = "p\xc3\xa4 ss";
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE((*c)->HasCapability("uidplus"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, AuthenticatePlainWithAndWithoutSaslIr) {
  const std::string b64 = net::Base64Encode(std::string("\0alice\0s3cret-pw", 16));
  {
    FakeServer server;
    server.Serve({{"", kGreeting}, {"A1 AUTHENTICATE PLAIN " + b64, "A1 OK [CAPABILITY IMAP4rev1] ok\r\n"}});
    ImapOptions o = Opts(server.port());
    o.auth = AuthMethod::kAuto;
    auto c = ImapClient::Connect(o);
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ((*c)->auth_method(), AuthMethod::kPlain);
    if (c) c->reset();
    EXPECT_EQ(server.Finish(), "");
  }
  {
    FakeServer server;
    server.Serve({{"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"},
                  {"A1 AUTHENTICATE PLAIN", "+ \r\n"},
                  {b64, "A1 OK [CAPABILITY IMAP4rev1] ok\r\n"}});
    ImapOptions o = Opts(server.port());
    o.auth = AuthMethod::kPlain;
    auto c = ImapClient::Connect(o);
    ASSERT_TRUE(c) << c.error().message();
    if (c) c->reset();
    EXPECT_EQ(server.Finish(), "");
  }
}

// The shared SASL exchange (net::RunSasl) answers a challenge over IMAP
// too; without TLS auto prefers CRAM-MD5 (RFC 2195's example).
TEST(ImapClient, AuthenticateCramMd5AnswersTheChallenge) {
  FakeServer server;
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=CRAM-MD5] ready\r\n"},
                {"A1 AUTHENTICATE CRAM-MD5",
                 "+ " + net::Base64Encode("<1896.697170952@postoffice.reston.mci.net>") + "\r\n"},
                {net::Base64Encode("tim b913a602c7eda7a495b4e6e7334d3890"), "A1 OK [CAPABILITY IMAP4rev1] ok\r\n"}});
  ImapOptions o = Opts(server.port());
  o.auth = AuthMethod::kAuto;
  o.user = "tim";
  o.password = "tanstaaftanstaaf";
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ((*c)->auth_method(), AuthMethod::kCramMd5);
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, Xoauth2FailureChallengeIsAnsweredAndReported) {
  FakeServer server;
  const std::string b64 = net::Base64Encode("user=alice\x01" "auth=Bearer tok-123\x01\x01");
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"},
                {"A1 AUTHENTICATE XOAUTH2 " + b64, "+ eyJzdGF0dXMiOiI0MDEifQ==\r\n"},
                {"*", "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"}});
  ImapOptions o = Opts(server.port());
  o.auth = AuthMethod::kXoauth2;
  o.password = "tok-123";
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(),
            "IMAP login as alice at " + Where(server) +
                " failed (AUTHENTICATE XOAUTH2): [AUTHENTICATIONFAILED] Invalid credentials");
  server.Finish();
  ASSERT_EQ(server.received().size(), 2u);
  EXPECT_EQ(server.received()[1], "");  // the empty response to the challenge
}

TEST(ImapClient, ARefusedBearerTokenIsRenewedOnceInTheSameSession) {
  FakeServer server;
  const std::string stale = net::Base64Encode("user=alice\x01" "auth=Bearer stale-1\x01\x01");
  const std::string fresh = net::Base64Encode("user=alice\x01" "auth=Bearer fresh-2\x01\x01");
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2] ready\r\n"},
                {"A1 AUTHENTICATE XOAUTH2 " + stale, "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"},
                {"A2 AUTHENTICATE XOAUTH2 " + fresh, "A2 OK [CAPABILITY IMAP4rev1] Logged in\r\n"}});
  ImapOptions o = Opts(server.port());
  o.auth = AuthMethod::kXoauth2;
  o.password = "stale-1";
  int renewed = 0;
  o.renew_token = [&]() -> Result<std::string> { ++renewed; return std::string("fresh-2"); };
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(renewed, 1);
  c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, OauthBearerIsRenewedOnlyOnceAndTheRenewalErrorEndsTheLogin) {
  FakeServer server;
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=OAUTHBEARER] ready\r\n"},
                {"A1 AUTHENTICATE OAUTHBEARER " +
                     net::Base64Encode("n,a=alice,\x01host=127.0.0.1\x01port=" + std::to_string(server.port()) +
                                       "\x01" "auth=Bearer tok\x01\x01"),
                 "A1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"}});
  ImapOptions o = Opts(server.port());
  o.auth = AuthMethod::kOauthBearer;
  o.password = "tok";
  int renewed = 0;
  o.renew_token = [&]() -> Result<std::string> {
    ++renewed;
    return MakeError(ErrorCode::kFailedPrecondition, "account a: the token endpoint refused the refresh token");
  };
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(renewed, 1);
  EXPECT_EQ(c.error().message(), "account a: the token endpoint refused the refresh token");
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, EnablesCondstoreAndQresyncWhenOffered) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 ENABLE CONDSTORE QRESYNC"),
                    {{"A2 ENABLE QRESYNC CONDSTORE", "* ENABLED QRESYNC CONDSTORE\r\nA2 OK Enabled\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE((*c)->IsEnabled("CONDSTORE"));
  EXPECT_TRUE((*c)->IsEnabled("qresync"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, SelectReadsItsValues) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 SELECT \"Entw&APw-rfe\"", kSelectReply + "A2 OK [READ-WRITE] Select completed.\r\n"},
                              {"A3 EXAMINE \"INBOX\"", kSelectReply + "A3 OK [READ-ONLY] Examine completed.\r\n"},
                              {"A4 SELECT \"Nope\"", "A4 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"},
                              {"A5 EXAMINE \"NoValidity\"", "* 0 EXISTS\r\nA5 OK [READ-ONLY] done\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto s = (*c)->Select("Entwürfe");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->uidvalidity, 1700000000u);
  EXPECT_EQ(s->uidnext, 9u);
  EXPECT_EQ(s->exists, 3u);
  EXPECT_EQ(s->highestmodseq, 12u);
  EXPECT_FALSE(s->read_only);
  auto e = (*c)->Examine("INBOX");
  ASSERT_TRUE(e);
  EXPECT_TRUE(e->read_only);
  auto n = (*c)->Select("Nope");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(n.error().message(),
            "IMAP SELECT Nope at " + Where(server) + " failed: [NONEXISTENT] Mailbox doesn't exist: Nope");
  auto v = (*c)->Examine("NoValidity");
  ASSERT_FALSE(v);
  EXPECT_TRUE(Contains(v.error().message(), "no UIDVALIDITY")) << v.error().message();
  // Nothing selected now.
  auto u = (*c)->UidSearch("ALL");
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(ImapClient, ByeMidSessionIsACleanUnavailableError) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n* BYE [UNAVAILABLE] Server shutting down\r\n",
                               0, true}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto e = (*c)->Examine("INBOX");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(e.error().message(), "IMAP server " + Where(server) +
                                     " ended the session during EXAMINE INBOX: [UNAVAILABLE] Server shutting down");
  auto again = (*c)->ListFolders();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

TEST(ImapClient, GarbageReplyMidSessionDropsTheConnection) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", "* 3 EXISTS\r\n))) garbage\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto e = (*c)->Examine("INBOX");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(e.error().message(), "broke the protocol in its reply to EXAMINE INBOX"))
      << e.error().message();
  auto again = (*c)->Examine("INBOX");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

TEST(ImapClient, UidStarReturningALowerUidIsDropped) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 ESEARCH"),
                    {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                     {"A3 UID SEARCH RETURN (ALL) UID 101:*", "* ESEARCH (TAG \"A3\") UID ALL 100\r\nA3 OK\r\n"},
                     {"A4 UID SEARCH RETURN (ALL) UID 90:*",
                      "* ESEARCH (TAG \"A4\") UID ALL 90:92,100\r\nA4 OK\r\n"},
                     {"A5 UID SEARCH RETURN (ALL) ALL", "* ESEARCH (TAG \"A5\") UID\r\nA5 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  auto u = (*c)->UidSearch("UID 101:*");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_TRUE(u->empty());
  u = (*c)->UidSearch("UID 90:*");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (std::vector<uint32_t>{90, 91, 92, 100}));
  u = (*c)->UidSearch("ALL");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->empty());
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, PlainSearchWithoutEsearch) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID SEARCH UID 101:*", "* SEARCH 100\r\nA3 OK\r\n"},
                              {"A4 UID SEARCH ALL", "* SEARCH 7 3\r\n* 4 EXISTS\r\n* SEARCH 5 3\r\nA4 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  auto u = (*c)->UidSearch("UID 101:*");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_TRUE(u->empty());
  u = (*c)->UidSearch("ALL");
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, (std::vector<uint32_t>{3, 5, 7}));
}

TEST(ImapClient, DeleteWithoutUidplusIsRefused) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1"), {{"A2 SELECT \"INBOX\"", kSelectReply + "A2 OK [READ-WRITE] ok\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Select("INBOX"));
  Status s = (*c)->DeleteMessages({3, 4});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.error().message(), "IMAP server " + Where(server) +
                                     " lacks UIDPLUS; refusing to delete, because a plain EXPUNGE could remove "
                                     "other messages marked \\Deleted");
  (*c).reset();
  server.Finish();
  for (const auto& line : server.received()) EXPECT_FALSE(Contains(line, "STORE")) << line;
}

TEST(ImapClient, DeleteStoresAndExpungesExactlyThoseUids) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 SELECT \"INBOX\"", kSelectReply + "A3 OK [READ-WRITE] ok\r\n"},
                              {"A4 UID STORE 3,5:6 +FLAGS.SILENT (\\Deleted)", "A4 OK Store completed.\r\n"},
                              {"A5 UID EXPUNGE 3,5:6", "* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nA5 OK Expunge completed.\r\n"},
                              {"A6 UNSELECT", "A6 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  Status ro = (*c)->DeleteMessages({3});
  ASSERT_FALSE(ro);
  EXPECT_TRUE(Contains(ro.error().message(), "read-only")) << ro.error().message();
  ASSERT_TRUE((*c)->Select("INBOX"));
  Status s = (*c)->DeleteMessages({6, 3, 5, 5});
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_TRUE((*c)->Unselect());
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, UnselectWithoutTheExtensionNeverClosesReadWrite) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 UIDPLUS"), {{"A2 SELECT \"INBOX\"", kSelectReply + "A2 OK [READ-WRITE] ok\r\n"},
                                                 {"A3 EXAMINE \"INBOX\"", kSelectReply + "A3 OK [READ-ONLY] ok\r\n"},
                                                 {"A4 CLOSE", "A4 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Select("INBOX"));
  ASSERT_TRUE((*c)->Unselect());
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

const std::string kSizes12 = "* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n* 2 FETCH (UID 2 RFC822.SIZE 10)\r\nA3 OK\r\n";
const std::string kFetch12 = "A4 UID FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])";

TEST(ImapClient, DropMidLiteralPassesNoPartialMessage) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:2 (UID RFC822.SIZE)", kSizes12},
                              {kFetch12,
                               "* 1 FETCH (UID 1 FLAGS (\\Seen \\Recent) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
                               "RFC822.SIZE 10 BODY[] {10}\r\nabc\r\ndefgh)\r\n"
                               "* 2 FETCH (UID 2 BODY[] {10}\r\nabc",
                               0, true}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  std::vector<FetchedMessage> got;
  Status s = (*c)->FetchMessages({2, 1}, [&](FetchedMessage&& m) {
    got.push_back(std::move(m));
    return OkStatus();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().message(), "IMAP UID FETCH: connection to " + Where(server) + " closed by the server");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].uid, 1u);
  EXPECT_EQ(got[0].bytes, "abc\ndefgh");
  EXPECT_EQ(got[0].flags, "\\Seen");
  EXPECT_EQ(got[0].size, 10u);
  EXPECT_EQ(got[0].internal_date, 837596665);  // 1996-07-17 09:44:25 UTC
}

TEST(ImapClient, LiteralArrivingInPieces) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:2 (UID RFC822.SIZE)", kSizes12},
                              {kFetch12, "* 1 FETCH (UID 1 BODY[] {10}\r\nab"},
                              {"", "c\r", 50},
                              {"", "\ndefgh", 50},
                              {"", ")\r\n* 2 FETCH (UID 2 BODY[] {1", 50},
                              {"", "0}\r\n0123456789", 50},
                              {"", ")\r\nA4 OK\r\n", 50}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  std::vector<std::string> got;
  Status s = (*c)->FetchMessages({1, 2}, [&](FetchedMessage&& m) {
    got.push_back(std::move(m.bytes));
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(got, (std::vector<std::string>{"abc\ndefgh", "0123456789"}));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, FetchDeliversInUidOrderAndIgnoresUnsolicitedResponses) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:4 (UID RFC822.SIZE)",
                               "* 1 FETCH (UID 1 RFC822.SIZE 3)\r\n* 3 FETCH (UID 4 RFC822.SIZE 3)\r\n"
                               "* 2 FETCH (UID 2 RFC822.SIZE 5)\r\nA3 OK\r\n"},
                              {"A4 UID FETCH 1:2,4 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                               "* 9 EXISTS\r\n"
                               "* 3 FETCH (UID 4 FLAGS () BODY[] \"x y\")\r\n"
                               "* 7 FETCH (FLAGS (\\Seen))\r\n"
                               "* 8 FETCH (UID 77 FLAGS (\\Seen))\r\n"
                               "* OK [ALERT] Quota nearly full\r\n"
                               "* 2 FETCH (FLAGS ($Junk \\Answered) UID 2)\r\n"
                               "* 2 FETCH (UID 2 BODY[] {5}\r\na\r\r\nb)\r\n"
                               "* 1 FETCH (UID 1 BODY[] {3}\r\n1\r\n)\r\n"
                               "* 5 EXPUNGE\r\n"
                               "A4 OK Fetch completed.\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  std::vector<FetchedMessage> got;
  Status s = (*c)->FetchMessages({4, 2, 1, 3}, [&](FetchedMessage&& m) {
    got.push_back(std::move(m));
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].uid, 1u);
  EXPECT_EQ(got[0].bytes, "1\n");
  EXPECT_EQ(got[1].uid, 2u);
  EXPECT_EQ(got[1].bytes, "a\r\nb");  // CR CR LF: one CRLF → LF, the lone CR stays
  EXPECT_EQ(got[1].flags, "$Junk \\Answered");
  EXPECT_EQ(got[2].uid, 4u);
  EXPECT_EQ(got[2].bytes, "x y");
  EXPECT_EQ((*c)->TakeAlerts(), std::vector<std::string>{"Quota nearly full"});
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

// RFC822.SIZE 10 each, 40 KiB bodies, newest first: what is held is
// counted by the bytes that came, and the answer may bring twice the sizes
// asked for plus max_command_bytes, not more.
TEST(ImapClient, LyingSizesInReverseOrderAreHeldToBytes) {
  const std::string body(40 << 10, 'x');
  std::string bodies;
  for (int uid : {3, 2, 1}) {
    bodies += "* " + std::to_string(uid) + " FETCH (UID " + std::to_string(uid) + " RFC822.SIZE 10 BODY[] {" +
              std::to_string(body.size()) + "}\r\n" + body + ")\r\n";
  }
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:3 (UID RFC822.SIZE)",
                               "* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n* 2 FETCH (UID 2 RFC822.SIZE 10)\r\n"
                               "* 3 FETCH (UID 3 RFC822.SIZE 10)\r\nA3 OK\r\n"},
                              {"A4 UID FETCH 1:3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])", bodies}}));
  ImapOptions o = Opts(server.port());
  o.max_command_bytes = 64 << 10;
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  int delivered = 0;
  Status s = (*c)->FetchMessages({1, 2, 3}, [&](FetchedMessage&&) {
    ++delivered;
    return OkStatus();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.error().message(), "IMAP server " + Where(server) + " broke the protocol in its reply to UID FETCH: reply from " +
                                     Where(server) + " is over " + std::to_string(2 * 30 + (64 << 10)) + " bytes");
  EXPECT_EQ(delivered, 0);
}

// A LIST that never ends stops at max_folders, or at the command's bytes;
// of endless ALERTs only the first 64 are kept.
TEST(ImapClient, EndlessListStopsAtTheLimits) {
  for (bool alerts : {false, true}) {
    FakeServer server;
    FakeStep endless{"", alerts ? "* OK [ALERT] again\r\n" : "* LIST () \"/\" folder\r\n"};
    endless.repeat = 0;
    server.Serve(Plus(Login(), {{"A2 LIST \"\" \"*\"", ""}, endless}));
    ImapOptions o = Opts(server.port());
    o.max_folders = 1000;
    o.max_command_bytes = 1 << 20;
    auto c = ImapClient::Connect(o);
    ASSERT_TRUE(c) << c.error().message();
    auto list = (*c)->ListFolders();
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(list.error().message(), "IMAP server " + Where(server) + " broke the protocol in its reply to LIST: " +
                                          (alerts ? "reply from " + Where(server) + " is over 1048576 bytes"
                                                  : std::string("more than 1000 folders (max_folders)")));
    if (alerts) {
      EXPECT_EQ((*c)->TakeAlerts().size(), 64u);
    }
  }
}

// "* OK" lines that keep coming, each well inside the read timeout: the
// command's deadline ends it.
TEST(ImapClient, OkForeverEndsAtTheDeadline) {
  FakeServer server;
  FakeStep endless{"", "* OK still working\r\n"};
  endless.repeat = 0;
  endless.drip_ms = 5;
  server.Serve(Plus(Login(), {{"A2 LIST \"\" \"*\"", ""}, endless}));
  ImapOptions o = Opts(server.port());
  o.connect.command_deadline = std::chrono::milliseconds(1000);
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  const auto start = std::chrono::steady_clock::now();
  auto list = (*c)->ListFolders();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(list.error().message(),
            "IMAP LIST: no complete reply from " + Where(server) + " within 1 s (command_deadline)");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2000));
}

TEST(ImapClient, SinkErrorStopsDeliveryButTheSessionStaysUsable) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:2 (UID RFC822.SIZE)", kSizes12},
                              {kFetch12,
                               "* 1 FETCH (UID 1 BODY[] {3}\r\nabc)\r\n* 2 FETCH (UID 2 BODY[] {3}\r\ndef)\r\n"
                               "A4 OK\r\n"},
                              {"A5 UNSELECT", "A5 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  int calls = 0;
  Status s = (*c)->FetchMessages({1, 2}, [&](FetchedMessage&&) -> Status {
    ++calls;
    return MakeError(ErrorCode::kIoError, "disk full");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "disk full");
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE((*c)->Unselect());
}

TEST(ImapClient, TooLargeMessagesAreSkippedAndNamed) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"},
                              {"A3 UID FETCH 1:2 (UID RFC822.SIZE)",
                               "* 1 FETCH (UID 1 RFC822.SIZE 2000)\r\n* 2 FETCH (UID 2 RFC822.SIZE 10)\r\nA3 OK\r\n"},
                              {"A4 UID FETCH 2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                               "* 2 FETCH (UID 2 BODY[] {3}\r\nabc)\r\nA4 OK\r\n"},
                              // A server that lies about the size.
                              {"A5 UID FETCH 2 (UID RFC822.SIZE)", "* 2 FETCH (UID 2 RFC822.SIZE 10)\r\nA5 OK\r\n"},
                              {"A6 UID FETCH 2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                               "* 2 FETCH (UID 2 BODY[] {5000}\r\n"}}));
  ImapOptions o = Opts(server.port());
  o.max_literal = 1000;
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  std::vector<uint32_t> got;
  auto sink = [&](FetchedMessage&& m) {
    got.push_back(m.uid);
    return OkStatus();
  };
  Status s = (*c)->FetchMessages({1, 2}, sink);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.error().message(), "IMAP UID FETCH at " + Where(server) +
                                     " in INBOX: message UID 1 (2000 bytes) is larger than max_literal (1000 "
                                     "bytes); skipped");
  EXPECT_EQ(got, std::vector<uint32_t>{2});
  s = (*c)->FetchMessages({2}, sink);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(s.error().message(), "literal of 5000 bytes is over the limit of 1000"))
      << s.error().message();
}

TEST(ImapClient, FetchFlagsWithCondstore) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 ENABLE CONDSTORE"),
                    {{"A2 ENABLE CONDSTORE", "* ENABLED CONDSTORE\r\nA2 OK\r\n"},
                     {"A3 EXAMINE \"INBOX\"", kSelectReply + "A3 OK [READ-ONLY] ok\r\n"},
                     {"A4 UID FETCH 5:* (UID FLAGS MODSEQ) (CHANGEDSINCE 10)",
                      "* 1 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (11))\r\n"
                      "* 3 FETCH (UID 9 MODSEQ (14) FLAGS (\\Seen \\Flagged \\Recent))\r\n"
                      "* 2 FETCH (UID 6 FLAGS () MODSEQ (12))\r\nA4 OK\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->Examine("INBOX"));
  auto f = (*c)->FetchFlags("5:*", 10);
  ASSERT_TRUE(f) << f.error().message();
  ASSERT_EQ(f->size(), 2u);  // UID 4 is outside 5:*
  EXPECT_EQ((*f)[0].uid, 6u);
  EXPECT_EQ((*f)[0].flags, "");
  EXPECT_EQ((*f)[0].modseq, 12u);
  EXPECT_EQ((*f)[1].uid, 9u);
  EXPECT_EQ((*f)[1].flags, "\\Flagged \\Seen");
  EXPECT_EQ((*f)[1].modseq, 14u);
}

TEST(ImapClient, ListFoldersDecodesNamesAndMergesStatus) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 LIST-EXTENDED SPECIAL-USE LIST-STATUS"),
                    {{"A2 LIST \"\" \"*\" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UIDNEXT UIDVALIDITY))",
                      "* LIST (\\HasNoChildren) \"/\" INBOX\r\n"
                      "* STATUS INBOX (MESSAGES 3 UIDNEXT 9 UIDVALIDITY 77)\r\n"
                      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Gesendete Objekte\"\r\n"
                      "* LIST (\\HasChildren) \"/\" \"Entw&APw-rfe\"\r\n"
                      "* LIST (\\Noselect \\HasChildren) \"/\" {8}\r\n&ZeVnLA-\r\n"
                      "* LIST () NIL \"odd&name\"\r\n"
                      "A2 OK List completed.\r\n"},
                     {"A3 EXAMINE \"odd&name\"", kSelectReply + "A3 OK [READ-ONLY] ok\r\n"},
                     {"A4 EXAMINE \"&ZeVnLIqe-\"", "A4 NO [NONEXISTENT] no\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto l = (*c)->ListFolders();
  ASSERT_TRUE(l) << l.error().message();
  ASSERT_EQ(l->size(), 5u);
  const auto& f = *l;
  EXPECT_EQ(f[0].name, "INBOX");
  ASSERT_TRUE(f[0].status);
  EXPECT_EQ(f[0].status->messages, 3u);
  EXPECT_EQ(f[0].status->uidnext, 9u);
  EXPECT_EQ(f[0].status->uidvalidity, 77u);
  EXPECT_EQ(f[0].delimiter, '/');
  EXPECT_EQ(f[1].special_use(), "\\Sent");
  EXPECT_FALSE(f[1].status);
  EXPECT_EQ(f[2].name, "Entwürfe");
  EXPECT_EQ(f[2].wire_name, "Entw&APw-rfe");
  EXPECT_EQ(f[3].name, "日本");
  EXPECT_FALSE(f[3].selectable());
  EXPECT_EQ(f[4].name, "odd&name");  // not well-formed: kept as sent
  EXPECT_EQ(f[4].delimiter, '\0');
  // The odd name goes back to the server exactly as it spelt it.
  ASSERT_TRUE((*c)->Examine("odd&name"));
  EXPECT_EQ((*c)->Examine("日本語").error().code(), ErrorCode::kNotFound);
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, AppendWithSynchronizingLiteral) {
  FakeServer server;
  server.Serve({{"", "* OK [CAPABILITY IMAP4rev1] ready\r\n"},
                {"A1 LOGIN \"alice\" \"s3cret-pw\"", "A1 OK [CAPABILITY IMAP4rev1 UIDPLUS] Logged in\r\n"},
                {"A2 APPEND \"Entw&APw-rfe\" (\\Flagged \\Seen) \"01-Jan-2024 00:00:00 +0000\" {20}",
                 "+ OK\r\n"},
                {"Subject: x", ""},
                {"*", ""},  // (an empty line; "" would mean "read nothing")
                {"body", ""},
                {"*", "A2 OK [APPENDUID 38505 3955] Append completed.\r\n"},
                {"A3 APPEND \"Missing\" {3}", "A3 NO [TRYCREATE] Mailbox doesn't exist: Missing\r\n"}});
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto r = (*c)->Append("Entwürfe", "Subject: x\n\nbody\n", "\\Seen \\Recent \\Flagged", 1704067200);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uidvalidity, 38505u);
  EXPECT_EQ(r->uid, 3955u);
  auto m = (*c)->Append("Missing", "x\r\n", "", std::nullopt);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  auto bad = (*c)->Append("INBOX", "x", "\\Seen (oops", std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
  ASSERT_GE(server.received().size(), 6u);
  EXPECT_EQ(server.received()[3], "");
  EXPECT_EQ(server.received()[5], "");
}

TEST(ImapClient, LogoutAndCreate) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 CREATE \"&ZeVnLIqe-\"", "A2 NO [ALREADYEXISTS] Mailbox already exists\r\n"},
                              {"A3 CREATE \"x\"", "A3 NO [NOPERM] Permission denied\r\n"},
                              {"A4 LOGOUT", "* BYE Logging out\r\nA4 OK Logout completed.\r\n", 0, true}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE((*c)->CreateFolder("日本語"));
  Status s = (*c)->CreateFolder("x");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "IMAP CREATE x at " + Where(server) + " failed: [NOPERM] Permission denied");
  EXPECT_TRUE((*c)->Logout());
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

// PERMANENTFLAGS from SELECT: which flags the folder keeps (Mailutils
// sends no "\\*", so keywords are refused with BAD on APPEND).
TEST(ImapClient, PermanentFlagsFromSelect) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 SELECT \"INBOX\"",
                               "* FLAGS (\\Answered \\Seen $Label1)\r\n"
                               "* OK [PERMANENTFLAGS (\\Answered \\Seen)] Permanent flags\r\n"
                               "* OK [UIDVALIDITY 5] ok\r\n* OK [UIDNEXT 12] ok\r\nA2 OK [READ-WRITE] done\r\n"},
                              {"A3 SELECT \"Other\"",
                               "* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n* OK [UIDVALIDITY 6] ok\r\nA3 OK done\r\n"},
                              {"A4 SELECT \"Plain\"", "* OK [UIDVALIDITY 7] ok\r\nA4 OK done\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto box = (*c)->Select("INBOX");
  ASSERT_TRUE(box) << box.error().message();
  ASSERT_TRUE(box->has_permanent_flags);
  EXPECT_EQ(box->permanent_flags, (std::vector<std::string>{"\\Answered", "\\Seen"}));
  EXPECT_EQ(box->uidnext, 12u);
  EXPECT_TRUE(box->Permits("\\seen"));
  EXPECT_FALSE(box->Permits("\\Flagged"));
  EXPECT_FALSE(box->Permits("$Label1"));
  auto other = (*c)->Select("Other");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->Permits("$Label1"));
  EXPECT_FALSE(other->Permits("\\Draft"));
  auto plain = (*c)->Select("Plain");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_permanent_flags);
  EXPECT_TRUE(plain->Permits("$Label1"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

// NAMESPACE (RFC 2342): the first personal namespace; none without the
// capability (no command sent).
TEST(ImapClient, PersonalNamespace) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 NAMESPACE"),
                    {{"A2 NAMESPACE", "* NAMESPACE ((\"INBOX.\" \".\")) ((\"#shared.\" \".\")) NIL\r\nA2 OK done\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto ns = (*c)->Namespace();
  ASSERT_TRUE(ns) << ns.error().message();
  ASSERT_TRUE(*ns);
  EXPECT_EQ((*ns)->prefix, "INBOX.");
  EXPECT_EQ((*ns)->delimiter, '.');
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");

  FakeServer plain;
  plain.Serve(Login());
  auto d = ImapClient::Connect(Opts(plain.port()));
  ASSERT_TRUE(d) << d.error().message();
  auto none = (*d)->Namespace();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  if (d) d->reset();
  EXPECT_EQ(plain.Finish(), "");
}

// APPENDUID counts only from a server that announces UIDPLUS.
TEST(ImapClient, AppendUidOnlyWithUidplus) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 LITERAL+"),
                    {{"A2 APPEND \"INBOX\" {3+}", ""}, {"x", ""}, {"*", "A2 OK [APPENDUID 4 9] done\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  auto r = (*c)->Append("INBOX", "x\n", "", std::nullopt);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uid, 0u);
  EXPECT_EQ(r->uidvalidity, 0u);
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

// COMPRESS=DEFLATE (RFC 4978): after login and ENABLE, when offered.
FakeStep CompressOk(const std::string& tag) {
  FakeStep step{tag + " COMPRESS DEFLATE", tag + " OK DEFLATE active\r\n"};
  step.start_deflate = true;
  return step;
}

TEST(ImapClient, CompressesWhenOfferedAndEverythingAfterGoesThroughIt) {
  const std::string body(200000, 'z');  // a literal far larger than its compressed form
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 LITERAL+ UIDPLUS ENABLE CONDSTORE COMPRESS=DEFLATE"),
                    {{"A2 ENABLE CONDSTORE", "* ENABLED CONDSTORE\r\nA2 OK Enabled\r\n"},
                     CompressOk("A3"),
                     {"A4 EXAMINE \"INBOX\"", kSelectReply + "A4 OK [READ-ONLY] ok\r\n"},
                     {"A5 UID FETCH 1 (UID RFC822.SIZE)", "* 1 FETCH (UID 1 RFC822.SIZE 200000)\r\nA5 OK\r\n"},
                     {"A6 UID FETCH 1 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                      "* 1 FETCH (UID 1 FLAGS (\\Seen) BODY[] {200000}\r\n" + body + ")\r\nA6 OK\r\n"},
                     {"A7 APPEND \"INBOX\" {5+}", ""},
                     {"abc", ""},
                     {"*", "A7 OK [APPENDUID 1700000000 9] done\r\n"},  // the empty line ending the command
                     {"A8 LOGOUT", "* BYE Logging out\r\nA8 OK Logout completed.\r\n", 0, true}}));
  std::vector<std::string> notes;
  ImapOptions o = Opts(server.port());
  o.debug = [&](std::string_view note) { notes.emplace_back(note); };
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_TRUE((*c)->compressed());
  EXPECT_TRUE((*c)->IsEnabled("CONDSTORE"));
  ASSERT_TRUE((*c)->Examine("INBOX"));
  std::vector<FetchedMessage> got;
  Status s = (*c)->FetchMessages({1}, [&](FetchedMessage&& m) {
    got.push_back(std::move(m));
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bytes == body);
  auto appended = (*c)->Append("INBOX", "abc\n", "", std::nullopt);
  ASSERT_TRUE(appended) << appended.error().message();
  EXPECT_EQ(appended->uid, 9u);
  EXPECT_TRUE((*c)->Logout());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(notes, std::vector<std::string>{"IMAP " + Where(server) + ": COMPRESS=DEFLATE active"});
}

TEST(ImapClient, CompressRefusedGoesOnUncompressed) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 COMPRESS=DEFLATE"),
                    {{"A2 COMPRESS DEFLATE", "A2 NO [COMPRESSIONACTIVE] TLS compression already active\r\n"},
                     {"A3 EXAMINE \"INBOX\"", kSelectReply + "A3 OK [READ-ONLY] ok\r\n"}}));
  std::vector<std::string> notes;
  ImapOptions o = Opts(server.port());
  o.debug = [&](std::string_view note) { notes.emplace_back(note); };
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE((*c)->compressed());
  EXPECT_TRUE((*c)->Examine("INBOX"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "IMAP " + Where(server) +
                          ": server refused COMPRESS DEFLATE ([COMPRESSIONACTIVE] TLS compression already active); "
                          "going on uncompressed");
}

TEST(ImapClient, CompressBadGoesOnUncompressed) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 COMPRESS=DEFLATE"),
                    {{"A2 COMPRESS DEFLATE", "A2 BAD Unknown command\r\n"},
                     {"A3 EXAMINE \"INBOX\"", kSelectReply + "A3 OK [READ-ONLY] ok\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE((*c)->compressed());
  EXPECT_TRUE((*c)->Examine("INBOX"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, CompressOffSendsNoCompressCommand) {
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 COMPRESS=DEFLATE"),
                    {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"}}));
  std::vector<std::string> notes;
  ImapOptions o = Opts(server.port());
  o.compress = false;
  o.debug = [&](std::string_view note) { notes.emplace_back(note); };
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE((*c)->compressed());
  EXPECT_TRUE((*c)->Examine("INBOX"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
  for (const auto& line : server.received()) EXPECT_FALSE(Contains(line, "COMPRESS")) << line;
  EXPECT_EQ(notes, std::vector<std::string>{"IMAP " + Where(server) +
                                            ": COMPRESS=DEFLATE offered, not used (option compress is off)"});
}

TEST(ImapClient, NotOfferedNoCompressCommand) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"", kSelectReply + "A2 OK [READ-ONLY] ok\r\n"}}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_FALSE((*c)->compressed());
  EXPECT_TRUE((*c)->Examine("INBOX"));
  if (c) c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, CorruptCompressedReplyIsAProtocolError) {
  FakeStep bad = CompressOk("A2");
  bad.reply += "\xff\xff garbage";  // sent raw, where compressed data belongs
  FakeServer server;
  server.Serve(Plus(Login("IMAP4rev1 COMPRESS=DEFLATE"), {bad}));
  auto c = ImapClient::Connect(Opts(server.port()));
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE((*c)->compressed());
  auto e = (*c)->Examine("INBOX");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(e.error().message(), "IMAP server " + Where(server) +
                                     " broke the protocol in its reply to EXAMINE INBOX: corrupt compressed data "
                                     "from " + Where(server) + " (zlib: invalid block type)");
  auto again = (*c)->Examine("INBOX");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

TEST(Helpers, UidSetsAndDates) {
  EXPECT_EQ(UidSetString({9, 1, 2, 3, 5, 7, 8, 0, 3}), "1:3,5,7:9");
  EXPECT_EQ(UidSetString({}), "");
  EXPECT_EQ(ParseInternalDate("17-Jul-1996 02:44:25 -0700"), 837596665);
  EXPECT_EQ(ParseInternalDate(" 1-Jan-1970 00:00:00 +0000"), 0);
  EXPECT_EQ(ParseInternalDate("01-jan-2024 01:00:00 +0100"), 1704067200);
  EXPECT_EQ(ParseInternalDate("1-Foo-2024 00:00:00 +0000"), std::nullopt);
  EXPECT_EQ(ParseInternalDate("01-Jan-2024 00:00 +0000"), std::nullopt);
  EXPECT_EQ(FormatInternalDate(837596665), "17-Jul-1996 09:44:25 +0000");
  EXPECT_EQ(FormatInternalDate(-1), "31-Dec-1969 23:59:59 +0000");
  for (int64_t t : {int64_t{0}, int64_t{951782400}, int64_t{4102444799}, int64_t{-86400 * 365}})
    EXPECT_EQ(ParseInternalDate(FormatInternalDate(t)), t);
}

}  // namespace
}  // namespace mailkeep::imap

namespace mailkeep::imap {
namespace {

// Office 365 throttles with NO [THROTTLED] and with BAD: waited out as
// asked (the sleeper is a recorder: no time passes) and sent again.
TEST(ImapClient, ThrottledCommandIsWaitedOutAndSentAgain) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"*",
                               "A2 NO [THROTTLED] Request is throttled. Suggested Backoff Time: 5 milliseconds\r\n"},
                              {"A3 EXAMINE \"INBOX\"*", "A3 BAD Request is throttled. Suggested Backoff Time: 7 milliseconds\r\n"},
                              {"A4 EXAMINE \"INBOX\"*", kSelectReply + "A4 OK [READ-ONLY] done\r\n"}}));
  std::vector<std::chrono::milliseconds> waits;
  ImapOptions o = Opts(server.port());
  net::ThrottleOptions t;
  t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  auto box = (*c)->Examine("INBOX");
  ASSERT_TRUE(box) << box.error().ToString();
  EXPECT_EQ(box->exists, 3u);
  EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(5), std::chrono::milliseconds(7)}));
  c->reset();
  EXPECT_EQ(server.Finish(), "");
}

TEST(ImapClient, ThrottledLongerThanTheRunMayWaitStops) {
  FakeServer server;
  server.Serve(Plus(Login(), {{"A2 EXAMINE \"INBOX\"*",
                               "A2 NO [THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds\r\n"}}));
  std::vector<std::chrono::milliseconds> waits;
  ImapOptions o = Opts(server.port());
  net::ThrottleOptions t;
  t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  auto c = ImapClient::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  auto box = (*c)->Examine("INBOX");
  ASSERT_FALSE(box);
  EXPECT_EQ(box.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(box.error().message(), "server throttled IMAP EXAMINE INBOX at " + Where(server) +
                                       " (asked to wait 300 s, more than throttle_max_wait 120 s)");
  EXPECT_TRUE(waits.empty());
  c->reset();
  EXPECT_EQ(server.Finish(), "");
}

// AUTHENTICATE goes through the same throttle as every other command: a
// throttled login is waited out and sent again, with SASL-IR and without.
TEST(ImapClient, ThrottledAuthenticateIsWaitedOutAndSentAgain) {
  const std::string b64 = net::Base64Encode(std::string("\0alice\0s3cret-pw", 16));
  const std::string throttled = "NO [THROTTLED] Request is throttled. Suggested Backoff Time: 5 milliseconds\r\n";
  const std::vector<std::vector<FakeStep>> scripts = {
      {{"", kGreeting},
       {"A1 AUTHENTICATE PLAIN " + b64, "A1 " + throttled},
       {"A2 AUTHENTICATE PLAIN " + b64, "A2 BAD Request is throttled. Suggested Backoff Time: 7 milliseconds\r\n"},
       {"A3 AUTHENTICATE PLAIN " + b64, "A3 OK [CAPABILITY " + kCaps + "] Logged in\r\n"}},
      {{"", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"},
       {"A1 AUTHENTICATE PLAIN", "+ \r\n"},
       {b64, "A1 " + throttled},
       {"A2 AUTHENTICATE PLAIN", "+ \r\n"},
       {b64, "A2 BAD Request is throttled. Suggested Backoff Time: 7 milliseconds\r\n"},
       {"A3 AUTHENTICATE PLAIN", "+ \r\n"},
       {b64, "A3 OK [CAPABILITY " + kCaps + "] Logged in\r\n"}}};
  for (const auto& script : scripts) {
    FakeServer server;
    server.Serve(script);
    std::vector<std::chrono::milliseconds> waits;
    ImapOptions o = Opts(server.port());
    o.auth = AuthMethod::kAuto;
    net::ThrottleOptions t;
    t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
    o.connect.throttle = std::make_shared<net::Throttle>(t);
    auto c = ImapClient::Connect(o);
    ASSERT_TRUE(c) << c.error().ToString();
    EXPECT_EQ((*c)->auth_method(), AuthMethod::kPlain);
    EXPECT_EQ(waits, (std::vector<std::chrono::milliseconds>{std::chrono::milliseconds(5), std::chrono::milliseconds(7)}));
    c->reset();
    EXPECT_EQ(server.Finish(), "");
  }
}

// Past throttle_max_wait a throttled login stops the account for this run
// (kResourceExhausted, as for any command), without waiting.
TEST(ImapClient, ThrottledAuthenticateLongerThanTheRunMayWaitStops) {
  const std::string b64 = net::Base64Encode(std::string("\0alice\0s3cret-pw", 16));
  FakeServer server;
  server.Serve({{"", kGreeting},
                {"A1 AUTHENTICATE PLAIN " + b64,
                 "A1 NO [THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds\r\n"}});
  std::vector<std::chrono::milliseconds> waits;
  ImapOptions o = Opts(server.port());
  o.auth = AuthMethod::kPlain;
  net::ThrottleOptions t;
  t.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(c.error().message(), "server throttled IMAP login as alice at " + Where(server) +
                                     " (asked to wait 300 s, more than throttle_max_wait 120 s)");
  EXPECT_TRUE(waits.empty());
  EXPECT_EQ(server.Finish(), "");
}

}  // namespace
}  // namespace mailkeep::imap
