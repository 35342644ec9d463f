// ImapSource and Pop3Source against scripted servers that end the session:
// they log in again and go on with what is left (nothing handed over
// twice), open the folder again and check its UIDVALIDITY before deleting,
// renumber POP3 messages by UIDL, and fit POP3 deletions into the sessions
// the server allows. Real servers: tests/sync/drop_after_*.sh.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sync/imap_source.h"
#include "sync/pop3_source.h"
#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::sync {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

ReconnectBudget NoPauses() { return ReconnectBudget(3, 1000, [](int) {}); }

std::vector<FakeStep> Plus(std::vector<FakeStep> a, const std::vector<FakeStep>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// --- IMAP -----------------------------------------------------------------

std::vector<FakeStep> ImapLogin() {
  return {{"", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
          {"A1 LOGIN \"alice\" \"pw\"", "A1 OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS UNSELECT] Logged in\r\n"}};
}

std::string Selected(int uidvalidity, const std::string& tag, const std::string& mode) {
  return "* 2 EXISTS\r\n* OK [UIDVALIDITY " + std::to_string(uidvalidity) + "] ok\r\n* OK [UIDNEXT 3] ok\r\n" + tag +
         " OK [" + mode + "] ok\r\n";
}

ServerMessage ImapMessage(uint32_t uid, int uidvalidity) {
  ServerMessage m;
  m.origin.source = "imap";
  m.origin.account = "acct";
  m.origin.folder = "INBOX";
  m.origin.uidvalidity = uidvalidity;
  m.origin.key = std::to_string(uid);
  m.size = 10;
  m.handle = uid;
  return m;
}

// Lost in the middle of message 2: the new session opens the folder again
// and fetches only message 2.
TEST(ImapReconnect, FetchGoesOnWithWhatIsLeft) {
  FakeServer server;
  server.ServeSessions(
      {Plus(ImapLogin(), {{"A2 EXAMINE \"INBOX\"", Selected(7, "A2", "READ-ONLY")},
                          {"A3 UID FETCH 1:2 (UID RFC822.SIZE)",
                           "* 1 FETCH (UID 1 RFC822.SIZE 10)\r\n* 2 FETCH (UID 2 RFC822.SIZE 10)\r\nA3 OK\r\n"},
                          {"A4 UID FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                           "* 1 FETCH (UID 1 FLAGS () BODY[] {10}\r\nabc\r\ndefgh)\r\n* 2 FETCH (UID 2 BODY[] {10}\r\nab",
                           0, true}}),
       Plus(ImapLogin(), {{"A2 EXAMINE \"INBOX\"", Selected(7, "A2", "READ-ONLY")},
                          {"A3 UID FETCH 2 (UID RFC822.SIZE)", "* 2 FETCH (UID 2 RFC822.SIZE 10)\r\nA3 OK\r\n"},
                          {"A4 UID FETCH 2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])",
                           "* 2 FETCH (UID 2 FLAGS () BODY[] {10}\r\nxyz\r\nuvwxy)\r\nA4 OK\r\n"},
                          {"A5 LOGOUT", "* BYE\r\nA5 OK\r\n"}})});
  ImapSourceOptions options;
  options.client = mailkeep::testing::FakeImap(server.port());
  ImapSource source("acct", options, NoPauses());
  ASSERT_TRUE(source.Connect());
  std::vector<std::string> got;
  Status fetched = source.Fetch({ImapMessage(1, 7), ImapMessage(2, 7)}, [&](RawMessage&& m) {
    got.push_back(m.origin.key + ":" + m.bytes);
    return OkStatus();
  });
  ASSERT_TRUE(fetched) << fetched.error().message();
  EXPECT_EQ(got, (std::vector<std::string>{"1:abc\ndefgh", "2:xyz\nuvwxy"}));
  EXPECT_TRUE(source.Close());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
}

// Lost at the SELECT before a deletion; in the new session the folder has
// another UIDVALIDITY: its UIDs may name other messages now, so nothing is
// deleted (no STORE, no EXPUNGE) and that folder fails.
TEST(ImapReconnect, NoDeleteWhenTheUidvalidityChangedAcrossTheReconnect) {
  FakeServer server;
  server.ServeSessions({Plus(ImapLogin(), {{"A2 SELECT \"INBOX\"", "", 0, true}}),
                        Plus(ImapLogin(), {{"A2 SELECT \"INBOX\"", Selected(8, "A2", "READ-WRITE")},
                                           {"A3 LOGOUT", "* BYE\r\nA3 OK\r\n"}})});
  ImapSourceOptions options;
  options.client = mailkeep::testing::FakeImap(server.port());
  ImapSource source("acct", options, NoPauses());
  ASSERT_TRUE(source.Connect());
  auto gone = source.Delete({ImapMessage(1, 7), ImapMessage(2, 7)});
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(gone.error().message().find("changed its UIDVALIDITY during the sync (7 -> 8)"), std::string::npos)
      << gone.error().message();
  EXPECT_TRUE(source.Close());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  for (const auto& line : server.received()) {
    EXPECT_EQ(line.find("UID STORE"), std::string::npos) << line;
    EXPECT_EQ(line.find("EXPUNGE"), std::string::npos) << line;
  }
}

// The same UIDVALIDITY after the reconnect: the deletion is done there.
TEST(ImapReconnect, DeleteGoesOnUnderTheSameUidvalidity) {
  FakeServer server;
  server.ServeSessions(
      {Plus(ImapLogin(), {{"A2 SELECT \"INBOX\"", "", 0, true}}),
       Plus(ImapLogin(), {{"A2 SELECT \"INBOX\"", Selected(7, "A2", "READ-WRITE")},
                          {"A3 UID STORE 1:2 +FLAGS.SILENT (\\Deleted)", "A3 OK\r\n"},
                          {"A4 UID EXPUNGE 1:2", "* 1 EXPUNGE\r\n* 1 EXPUNGE\r\nA4 OK\r\n"},
                          {"A5 LOGOUT", "* BYE\r\nA5 OK\r\n"}})});
  ImapSourceOptions options;
  options.client = mailkeep::testing::FakeImap(server.port());
  ImapSource source("acct", options, NoPauses());
  ASSERT_TRUE(source.Connect());
  auto gone = source.Delete({ImapMessage(1, 7), ImapMessage(2, 7)});
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_EQ(gone->size(), 2u);
  EXPECT_TRUE(source.Close());
  EXPECT_EQ(server.Finish(), "");
}

// Every new session ends at once: three reconnects, then one line.
TEST(ImapReconnect, GivesUpAfterThreeInARow) {
  FakeServer server;
  std::vector<std::vector<FakeStep>> sessions(4, Plus(ImapLogin(), {{"A2 LIST *", "", 0, true}}));
  server.ServeSessions(sessions);
  ImapSourceOptions options;
  options.client = mailkeep::testing::FakeImap(server.port());
  std::vector<int> slept;
  ImapSource source("acct", options, ReconnectBudget(3, 1000, [&](int s) { slept.push_back(s); }));
  ASSERT_TRUE(source.Connect());
  auto folders = source.Folders(ListContext{});
  ASSERT_FALSE(folders);
  EXPECT_EQ(folders.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(folders.error().message(),
            "IMAP: the server at 127.0.0.1:" + std::to_string(server.port()) +
                " ended the session 4 times in a row without progress (gave up after 3 reconnects): IMAP LIST: "
                "connection to 127.0.0.1:" + std::to_string(server.port()) +
                " closed by the server; the next run goes on where this one stopped");
  EXPECT_EQ(slept, (std::vector<int>{1, 2}));
  source.Close();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 4);
}

// A server that stops answering is not logged in to again: the read
// timeout (3 s here) would most likely be waited again.
TEST(ImapReconnect, NoReconnectAfterATimeout) {
  FakeServer server;
  server.ServeSessions({Plus(ImapLogin(), {{"A2 LIST *", "", 4000, true}})});
  ImapSourceOptions options;
  options.client = mailkeep::testing::FakeImap(server.port());
  ImapSource source("acct", options, NoPauses());
  ASSERT_TRUE(source.Connect());
  auto folders = source.Folders(ListContext{});
  ASSERT_FALSE(folders);
  EXPECT_EQ(folders.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(folders.error().message().rfind("IMAP LIST: read from 127.0.0.1:", 0), 0u) << folders.error().message();
  EXPECT_NE(folders.error().message().find("timed out"), std::string::npos) << folders.error().message();
  source.Close();
  server.Finish();
  EXPECT_EQ(server.sessions(), 1);
}

// --- POP3 -----------------------------------------------------------------

std::vector<FakeStep> Pop3Login() {
  return {{"", "+OK ready\r\n"},
          {"CAPA", "+OK\r\nUIDL\r\nUSER\r\n.\r\n"},
          {"USER alice", "+OK\r\n"},
          {"PASS pw", "+OK\r\n"}};
}

// UIDL and LIST of a maildrop: each "uidl" at number 1, 2, ... with size 20.
std::vector<FakeStep> Pop3Listing(const std::vector<std::string>& uidls) {
  std::string uidl = "+OK\r\n", list = "+OK\r\n";
  for (size_t i = 0; i < uidls.size(); ++i) {
    uidl += std::to_string(i + 1) + " " + uidls[i] + "\r\n";
    list += std::to_string(i + 1) + " 20\r\n";
  }
  return {{"UIDL", uidl + ".\r\n"}, {"LIST", list + ".\r\n"}};
}

// Session 1 ends at RETR 2 after 7 replies (greeting, CAPA, USER, PASS,
// UIDL, LIST, RETR 1). Session 2 has a new message in front: "b" is number
// 3 there, and is fetched once. The deletions then go one per session (7
// replies allow login, UIDL, LIST, one DELE and QUIT), by the numbers each
// session gives the UIDLs.
TEST(Pop3Reconnect, RenumbersByUidlAndFitsDeletionsIntoSessions) {
  FakeServer server;
  server.ServeSessions(
      {Plus(Plus(Pop3Login(), Pop3Listing({"ua", "ub"})),
            {{"RETR 1", "+OK\r\nmessage a\r\n.\r\n"}, {"RETR 2", "", 0, true}}),
       Plus(Plus(Pop3Login(), Pop3Listing({"unew", "ua", "ub"})),
            {{"RETR 3", "+OK\r\nmessage b\r\n.\r\n"}, {"DELE 2", "+OK\r\n"}, {"QUIT", "+OK\r\n"}}),
       Plus(Plus(Pop3Login(), Pop3Listing({"unew", "ub"})), {{"DELE 2", "+OK\r\n"}, {"QUIT", "+OK\r\n"}})});
  Pop3Source source("acct", mailkeep::testing::FakePop3(server.port()), NoPauses());
  ASSERT_TRUE(source.Connect());
  auto listing = source.ListFolder("", ListContext{});
  ASSERT_TRUE(listing) << listing.error().message();
  ASSERT_EQ(listing->messages.size(), 2u);
  std::vector<std::string> got;
  Status fetched = source.Fetch(listing->messages, [&](RawMessage&& m) {
    got.push_back(m.origin.key + ":" + m.bytes);
    return OkStatus();
  });
  ASSERT_TRUE(fetched) << fetched.error().message();
  EXPECT_EQ(got, (std::vector<std::string>{"ua:message a\n", "ub:message b\n"}));
  auto gone = source.Delete(listing->messages);
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_EQ(gone->size(), 2u);
  EXPECT_TRUE(source.Close());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 3);
}

// A deletion whose session ends before QUIT is answered is not claimed: it
// may not be final. The new session no longer lists it (the QUIT did go
// through), so it is left out, and nothing else is deleted in its place.
TEST(Pop3Reconnect, UnconfirmedDeletionIsNotClaimed) {
  FakeServer server;
  server.ServeSessions(
      {Plus(Plus(Pop3Login(), Pop3Listing({"ua", "ub"})),
            {{"DELE 1", "+OK\r\n"}, {"DELE 2", "+OK\r\n"}, {"QUIT", "", 0, true}}),
       Plus(Plus(Pop3Login(), Pop3Listing({"uc"})), {{"QUIT", "+OK\r\n"}})});
  Pop3Source source("acct", mailkeep::testing::FakePop3(server.port()), NoPauses());
  ASSERT_TRUE(source.Connect());
  auto listing = source.ListFolder("", ListContext{});
  ASSERT_TRUE(listing) << listing.error().message();
  auto gone = source.Delete(listing->messages);
  ASSERT_TRUE(gone) << gone.error().message();
  EXPECT_TRUE(gone->empty());
  EXPECT_TRUE(source.Close());
  EXPECT_EQ(server.Finish(), "");
  for (const auto& line : server.received()) EXPECT_NE(line, "DELE 3");
}

}  // namespace
}  // namespace mailkeep::sync
