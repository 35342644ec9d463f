// Migrator against a scripted fake IMAP server: the intents journal around
// APPEND, unknown intents looked for and skipped, --retry-unknown. A real
// Dovecot is in tests/sync/imap_migrate.sh and tests/crash/kill_migrate.sh.
#include "sync/migrate/migrator.h"

#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "sync/testing/archive_fixture.h"
#include "sync/net/throttle.h"
#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::migrate {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kMessage = "From: a@example.test\r\nSubject: hi\r\n\r\nhello\r\n";  // 44 bytes

imap::ImapOptions Opts(uint16_t port) { return mailkeep::testing::FakeImap(port); }

// Greeting, LOGIN (A1) and LIST (A2): INBOX and Archive exist.
std::vector<FakeStep> Hello(std::vector<FakeStep> then) {
  std::vector<FakeStep> s = {
      {"", "* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=PLAIN] ready\r\n"},
      {"A1 LOGIN \"alice\" \"pw\"", "A1 OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS UNSELECT] Logged in\r\n"},
      {"A2 LIST \"\" \"*\"", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\nA2 OK done\r\n"}};
  s.insert(s.end(), then.begin(), then.end());
  return s;
}

// The APPEND of kMessage to Archive as tag `tag`, answered with `reply`.
std::vector<FakeStep> AppendSteps(const std::string& tag, const FakeStep& answer) {
  return {{tag + " APPEND \"Archive\" {44+}", ""}, {"From: a@example.test", ""}, {"Subject: hi", ""},
          {"*", ""}, {"hello", ""}, answer};
}

// The SELECT of `folder` that marks it before its first APPEND (its UIDNEXT
// then: UIDVALIDITY 77, UIDNEXT 5) as tag A`n`, and the UNSELECT (A`n+1`).
std::vector<FakeStep> Marking(int n, const std::string& folder = "Archive", const std::string& extra = "") {
  const std::string a = "A" + std::to_string(n), b = "A" + std::to_string(n + 1);
  return {{a + " SELECT \"" + folder + "\"",
           extra + "* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 5] ok\r\n" + a + " OK [READ-WRITE] done\r\n"},
          {b + " UNSELECT", b + " OK\r\n"}};
}

std::vector<FakeStep> Join(std::vector<std::vector<FakeStep>> parts) {
  std::vector<FakeStep> out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class MigratorTest : public mailkeep::testing::ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    if (!HasFatalFailure()) id_ = IngestOne(kMessage);
  }
  Options To(bool retry_unknown = false) {
    Options o;
    o.account = "target";
    o.folder = "Archive";
    o.retry_unknown = retry_unknown;
    return o;
  }
  Warn Collect() {
    return [this](const std::string& w) { warnings_.push_back(w); };
  }

  int64_t id_ = 0;
  std::vector<std::string> warnings_;
};

// The intent is committed while the server still holds the APPEND, and
// resolved with the place APPENDUID gave.
TEST_F(MigratorTest, IntentIsCommittedBeforeAppendAndResolvedByItsPlace) {
  FakeServer server;
  server.Serve(Hello(Join({Marking(3), AppendSteps("A5", {"", "A5 OK [APPENDUID 77 5] done\r\n", 700})})));
  mailkeep::testing::IntentWatcher watcher(root_ + "/archive", IntentKind::kAppend,
                                           [](const Intent& i) { return i.via == "Archive"; });
  {
    auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
    ASSERT_TRUE(m) << m.error().message();
    Outcome out = (*m)->Migrate(id_);
    EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  }
  EXPECT_TRUE(watcher.Seen());
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "5");
  EXPECT_EQ(places[0].uidvalidity, 77u);
}

// An unknown intent whose message is not in the folder: skipped with one
// warning and no APPEND; --retry-unknown appends it and resolves the same
// intent.
TEST_F(MigratorTest, UnknownNotFoundIsSkippedUnlessRetried) {
  std::vector<Intent> intent = {Intent::For(IntentKind::kAppend, id_, "target", "Archive")};
  ASSERT_TRUE(archive_->RecordIntents(intent));
  const std::vector<FakeStep> look = {{"A3 EXAMINE \"Archive\"", "* 0 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nA3 OK [READ-ONLY] ok\r\n"},
                                      {"A4 UNSELECT", "A4 OK\r\n"}};
  {
    FakeServer server;
    server.Serve(Hello(look));
    auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ((*m)->Migrate(id_).kind, Outcome::kUnknown);
    m->reset();
    server.Finish();
    for (const auto& line : server.received()) EXPECT_EQ(line.find("APPEND"), std::string::npos) << line;
  }
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("--retry-unknown"), std::string::npos) << warnings_[0];
  ASSERT_EQ(archive_->UnknownIntents(IntentKind::kAppend)->size(), 1u);
  {
    FakeServer server;
    server.Serve(Hello(Join({look, Marking(5), AppendSteps("A7", {"", "A7 OK [APPENDUID 77 6] done\r\n"})})));
    auto m = Migrator::Connect(*archive_, Opts(server.port()), To(true), Collect());
    ASSERT_TRUE(m) << m.error().message();
    Outcome out = (*m)->Migrate(id_);
    EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
    m->reset();
    EXPECT_EQ(server.Finish(), "");
  }
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_EQ(archive_->FolderLocations("imap", "target", "Archive")->size(), 1u);
}

// An unknown intent whose message is there (same size, same bytes):
// recorded as found, nothing appended.
TEST_F(MigratorTest, UnknownFoundOnTheServerIsRecovered) {
  std::vector<Intent> intent = {Intent::For(IntentKind::kAppend, id_, "target", "Archive")};
  ASSERT_TRUE(archive_->RecordIntents(intent));
  FakeServer server;
  server.Serve(Hello({{"A3 EXAMINE \"Archive\"", "* 1 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nA3 OK [READ-ONLY] ok\r\n"},
                      {"A4 UID SEARCH LARGER 39 SMALLER 45", "* SEARCH 9\r\nA4 OK done\r\n"},
                      {"A5 UID FETCH 9 (UID RFC822.SIZE)", "* 1 FETCH (UID 9 RFC822.SIZE 44)\r\nA5 OK done\r\n"},
                      {"A6 UID FETCH 9 *", "* 1 FETCH (UID 9 BODY[] {44}\r\n" + kMessage + ")\r\nA6 OK done\r\n"},
                      {"A7 UNSELECT", "A7 OK\r\n"}}));
  auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kRecovered) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "9");
  EXPECT_TRUE(warnings_.empty());
}

// Refused by the server (NO): nothing was appended, so the intent goes.
TEST_F(MigratorTest, RefusedAppendLeavesNoIntent) {
  FakeServer server;
  server.Serve(Hello(Join({Marking(3), AppendSteps("A5", {"", "A5 NO [OVERQUOTA] quota exceeded\r\n"})})));
  auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kFailed);
  EXPECT_FALSE(out.stop);
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_TRUE(archive_->FolderLocations("imap", "target", "Archive")->empty());
}

// Greeting, LOGIN (A1) with `caps`, LIST (A2) answered with `list`.
std::vector<FakeStep> Session(const std::string& caps, const std::string& list, std::vector<FakeStep> then) {
  std::vector<FakeStep> s = {{"", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
                             {"A1 LOGIN \"alice\" \"pw\"", "A1 OK [CAPABILITY " + caps + "] Logged in\r\n"},
                             {"A2 LIST \"\" \"*\"", list + "A2 OK done\r\n"}};
  s.insert(s.end(), then.begin(), then.end());
  return s;
}

// The APPEND of `message` (CRLF lines) as `command`, answered with `reply`
// (which also reads the line that ends the command).
std::vector<FakeStep> Appending(const std::string& command, const std::string& message, const std::string& reply) {
  std::vector<FakeStep> s = {{command + " {" + std::to_string(message.size()) + "+}", ""}};
  size_t i = 0;
  while (i < message.size()) {
    size_t end = message.find("\r\n", i);
    std::string line = message.substr(i, end - i);
    s.push_back({line.empty() ? "*" : line, ""});
    i = end + 2;
  }
  s.push_back({"*", reply});
  return s;
}

int64_t IngestWithOrigin(Archive& archive, const std::string& bytes, Origin origin) {
  RawMessage m;
  m.bytes = bytes;
  m.origin = std::move(origin);
  auto out = archive.Ingest({m});
  EXPECT_TRUE(out) << out.error().message();
  return out ? (*out)[0].id : 0;
}

const std::string kSecond = "From: b@example.test\r\nMessage-ID: <m2@x>\r\n\r\nhi\r\n";

// Item 4 of issue 12: a folder whose PERMANENTFLAGS lack \* (GNU Mailutils)
// refuses keywords with BAD on APPEND. They are not sent, with one warning
// per flag and run; the folder is selected once.
TEST_F(MigratorTest, FlagsTheFolderDoesNotKeepAreDroppedWithOneWarning) {
  const Origin flagged{"maildir", "local", "/home/a/Maildir", "k2", 0, "$Label1 \\Seen", {}};
  const int64_t a = IngestWithOrigin(*archive_, kMessage, {"maildir", "local", "/home/a/Maildir", "k1", 0, "$Label1 \\Seen", {}});
  const int64_t b = IngestWithOrigin(*archive_, kSecond, flagged);
  FakeServer server;
  server.Serve(Session("IMAP4rev1 LITERAL+ UIDPLUS UNSELECT", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\n",
                       Join({{{"A3 SELECT \"Archive\"", "* FLAGS (\\Seen \\Answered $Label1)\r\n"
                                                      "* OK [PERMANENTFLAGS (\\Seen \\Answered)] ok\r\n"
                                                      "* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 5] ok\r\nA3 OK done\r\n"},
                              {"A4 UNSELECT", "A4 OK\r\n"}},
                             Appending("A5 APPEND \"Archive\" (\\Seen)", kMessage, "A5 OK [APPENDUID 77 5] done\r\n"),
                             Appending("A6 APPEND \"Archive\" (\\Seen)", kSecond, "A6 OK [APPENDUID 77 6] done\r\n")})));
  auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
  ASSERT_TRUE(m) << m.error().message();
  for (int64_t id : {a, b}) {
    Outcome out = (*m)->Migrate(id);
    EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
    EXPECT_EQ(out.flags, "\\Seen");
  }
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("$Label1"), std::string::npos) << warnings_[0];
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 2u);
  EXPECT_EQ(places[0].flags, "\\Seen");
}

// Item 5: without UIDPLUS the appended message's UID is found (the one new
// UID from UIDNEXT on, by UID FETCH; with another client's message beside
// it, by Message-ID) and recorded as a sync would, so a sync fetches nothing
// again. The folder is SELECTed once for PERMANENTFLAGS and UIDNEXT and
// left; no folder is selected while a message is appended (GNU Mailutils
// 3.15 keeps only the first APPEND, without its flags, into a folder the
// session has SELECTed read-write; Courier refuses an APPEND into the
// folder it has EXAMINEd), and the new UID is looked for in an EXAMINE
// (Mailutils answers UID SEARCH UID n:* with nothing).
TEST_F(MigratorTest, WithoutUidplusTheAppendedUidIsFound) {
  const int64_t b = IngestWithOrigin(*archive_, kSecond, {"eml", "local", "/in", "2", 0, "", {}});
  FakeServer server;
  const std::string examined = "* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 9] ok\r\n";
  server.Serve(Session("IMAP4rev1 LITERAL+ UNSELECT", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\n",
                       Join({{{"A3 SELECT \"Archive\"", "* 3 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\n"
                                                      "* OK [UIDNEXT 5] ok\r\nA3 OK [READ-WRITE] done\r\n"},
                              {"A4 UNSELECT", "A4 OK\r\n"}},
                             Appending("A5 APPEND \"Archive\"", kMessage, "A5 OK done\r\n"),
                             {{"A6 EXAMINE \"Archive\"", examined + "A6 OK [READ-ONLY] done\r\n"},
                              {"A7 UID FETCH 5:* (UID FLAGS INTERNALDATE RFC822.SIZE)",
                               "* 4 FETCH (UID 5 FLAGS () RFC822.SIZE 10)\r\nA7 OK done\r\n"},
                              {"A8 UNSELECT", "A8 OK\r\n"}},
                             Appending("A9 APPEND \"Archive\"", kSecond, "A9 OK done\r\n"),
                             {{"A10 EXAMINE \"Archive\"", examined + "A10 OK [READ-ONLY] done\r\n"},
                              {"A11 UID FETCH 6:* (UID FLAGS INTERNALDATE RFC822.SIZE)",
                               "* 5 FETCH (UID 6 FLAGS () RFC822.SIZE 10)\r\n* 6 FETCH (UID 7 FLAGS () RFC822.SIZE 10)\r\n"
                               "A11 OK done\r\n"},
                              {"A12 UID SEARCH HEADER Message-ID \"m2@x\"", "* SEARCH 3 7\r\nA12 OK done\r\n"},
                              {"A13 UNSELECT", "A13 OK\r\n"}}})));
  auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
  ASSERT_TRUE(m) << m.error().message();
  for (int64_t id : {id_, b}) EXPECT_EQ((*m)->Migrate(id).kind, Outcome::kAppended);
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(warnings_.empty());
  std::map<int64_t, std::pair<uint64_t, std::string>> got;
  auto places = archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_TRUE(places);
  for (const auto& k : *places) got[k.message] = {k.uidvalidity, k.key};
  EXPECT_EQ(got[id_], std::make_pair(uint64_t{77}, std::string("5")));
  EXPECT_EQ(got[b], std::make_pair(uint64_t{77}, std::string("7")));
}

// Item 3: names go into the target's namespace (Courier/Cyrus: INBOX.,
// "."); a folder the server will not create fails once with one line, its
// other messages quietly, and the other folders go on.
TEST_F(MigratorTest, RefusedFolderFailsOnceAndOthersGoOn) {
  const int64_t b = IngestWithOrigin(*archive_, kSecond, {"eml", "local", "/in", "2", 0, "", {}});
  const std::string third = "From: c@example.test\r\n\r\nthird\r\n";
  const int64_t c = IngestWithOrigin(*archive_, third, {"eml", "local", "/Lists.mips", "3", 0, "", {}});
  FakeServer server;
  server.Serve(Session("IMAP4rev1 LITERAL+ UIDPLUS NAMESPACE UNSELECT", "* LIST (\\HasChildren) \".\" INBOX\r\n",
                       Join({{{"A3 NAMESPACE", "* NAMESPACE ((\"INBOX.\" \".\")) NIL NIL\r\nA3 OK done\r\n"},
                              {"A4 CREATE \"INBOX.in\"", "A4 NO [NOPERM] Permission denied\r\n"},
                              {"A5 CREATE \"INBOX.Lists_mips\"", "A5 OK done\r\n"}},
                             Marking(6, "INBOX.Lists_mips"),
                             Appending("A8 APPEND \"INBOX.Lists_mips\"", third, "A8 OK [APPENDUID 9 1] done\r\n")})));
  Options o = To();
  o.keep_folders = true;
  auto m = Migrator::Connect(*archive_, Opts(server.port()), o, Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome first = (*m)->Migrate(id_);
  EXPECT_EQ(first.kind, Outcome::kFailed);
  EXPECT_EQ(first.folder, "INBOX.in");
  EXPECT_FALSE(first.repeat);
  EXPECT_FALSE(first.stop);
  EXPECT_NE(first.error.find("Permission denied"), std::string::npos) << first.error;
  EXPECT_NE(first.error.find("skipped this run"), std::string::npos) << first.error;
  Outcome again = (*m)->Migrate(b);
  EXPECT_EQ(again.kind, Outcome::kFailed);
  EXPECT_TRUE(again.repeat);
  Outcome other = (*m)->Migrate(c);
  EXPECT_EQ(other.kind, Outcome::kAppended) << other.error;
  EXPECT_EQ(other.folder, "INBOX.Lists_mips");  // one level: a "." in a file name is not a level
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
}

// PERMANENTFLAGS count for their own folder only: a message for another
// folder is not judged by the one still selected.
TEST_F(MigratorTest, FlagsAreCheckedAgainstTheFolderTheyGoTo) {
  const int64_t a = IngestWithOrigin(*archive_, kMessage, {"maildir", "local", "/m/.Archive", "k1", 0, "$Label1", {}});
  const int64_t b = IngestWithOrigin(*archive_, kSecond, {"maildir", "local", "/m/.Other", "k2", 0, "\\Flagged", {}});
  FakeServer server;
  server.Serve(Session("IMAP4rev1 LITERAL+ UIDPLUS UNSELECT",
                       "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\n* LIST () \"/\" Other\r\n",
                       Join({{{"A3 SELECT \"Archive\"", "* OK [PERMANENTFLAGS (\\Seen)] ok\r\n"
                                                      "* OK [UIDVALIDITY 77] ok\r\n* OK [UIDNEXT 5] ok\r\nA3 OK done\r\n"},
                              {"A4 UNSELECT", "A4 OK\r\n"}},
                             Appending("A5 APPEND \"Archive\"", kMessage, "A5 OK [APPENDUID 77 5] done\r\n"),
                             Marking(6, "Other"),
                             Appending("A8 APPEND \"Other\" (\\Flagged)", kSecond, "A8 OK [APPENDUID 78 1] done\r\n")})));
  Options o = To();
  o.keep_folders = true;
  auto m = Migrator::Connect(*archive_, Opts(server.port()), o, Collect());
  ASSERT_TRUE(m) << m.error().message();
  for (int64_t id : {a, b}) EXPECT_EQ((*m)->Migrate(id).kind, Outcome::kAppended);
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(warnings_.size(), 1u);
}

// A server that announces NAMESPACE but refuses it: the layout comes from
// LIST (prefix "INBOX." as every name has it, delimiter ".").
TEST_F(MigratorTest, RefusedNamespaceFallsBackToTheListedNames) {
  FakeServer server;
  server.Serve(Session("IMAP4rev1 LITERAL+ UIDPLUS NAMESPACE UNSELECT",
                       "* LIST () \".\" INBOX\r\n* LIST () \".\" INBOX.Sent\r\n",
                       Join({{{"A3 NAMESPACE", "A3 BAD unknown command\r\n"},
                              {"A4 CREATE \"INBOX.in\"", "A4 OK done\r\n"}},
                             Marking(5, "INBOX.in"),
                             Appending("A7 APPEND \"INBOX.in\"", kMessage, "A7 OK [APPENDUID 9 1] done\r\n")})));
  Options o = To();
  o.keep_folders = true;
  auto m = Migrator::Connect(*archive_, Opts(server.port()), o, Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  EXPECT_EQ(out.folder, "INBOX.in");
  m->reset();
  EXPECT_EQ(server.Finish(), "");
}

// Reconnect within the run (issue 12.7): a session the server ends is
// logged in to again and the run goes on. The greeting, LOGIN (A1) and a
// LIST with LIST-STATUS (A2): Archive has UIDVALIDITY 77, UIDNEXT 5.
std::vector<FakeStep> StatusHello(std::vector<FakeStep> then) {
  std::vector<FakeStep> s = {
      {"", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
      {"A1 LOGIN \"alice\" \"pw\"",
       "A1 OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS UNSELECT LIST-EXTENDED LIST-STATUS] Logged in\r\n"},
      {"A2 LIST \"\" \"*\" RETURN (CHILDREN STATUS (MESSAGES UIDNEXT UIDVALIDITY))",
       "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\n"
       "* STATUS Archive (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 77)\r\nA2 OK done\r\n"}};
  s.insert(s.end(), then.begin(), then.end());
  return s;
}

// A new session of the same server: greeting and LOGIN (A1); nothing is
// listed again.
std::vector<FakeStep> Relogin(std::vector<FakeStep> then) {
  auto s = StatusHello(std::move(then));
  s.erase(s.begin() + 2);
  return s;
}

Options Reconnecting(Options o) {
  o.reconnect = sync::ReconnectBudget(3, 1000, [](int) {});
  return o;
}

// The server hangs up between commands (after N commands, as Gmail and
// Office 365 do): the next APPEND, already sent when the client learns it,
// is settled in a new session (UIDNEXT is still the one after the first
// message's APPENDUID: not stored) and sent again there.
TEST_F(MigratorTest, SessionEndedBetweenCommandsIsLoggedInAgain) {
  const int64_t b = IngestWithOrigin(*archive_, kSecond, {"eml", "local", "/in", "2", 0, "", {}});
  FakeServer server;
  auto first = Appending("A3 APPEND \"Archive\"", kMessage, "A3 OK [APPENDUID 77 5] done\r\n");
  first.back().close = true;
  server.ServeSessions({StatusHello(first),
                        Relogin(Join({{{"A2 STATUS \"Archive\" (MESSAGES UIDNEXT UIDVALIDITY)",
                                        "* STATUS Archive (MESSAGES 5 UIDNEXT 6 UIDVALIDITY 77)\r\nA2 OK done\r\n"}},
                                      Appending("A3 APPEND \"Archive\"", kSecond, "A3 OK [APPENDUID 77 6] done\r\n")}))});
  auto m = Migrator::Connect(*archive_, Opts(server.port()), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  for (int64_t id : {id_, b}) {
    Outcome out = (*m)->Migrate(id);
    EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  }
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_EQ(archive_->FolderLocations("imap", "target", "Archive")->size(), 2u);
}

// The server hangs up inside the APPEND (its literal half sent, or all of
// it without an answer): in the new session the folder's UIDNEXT is still
// what it was before, so the server provably did not store it; it is
// appended once more, and only once.
TEST_F(MigratorTest, UnansweredAppendNotStoredIsAppendedInTheSameRun) {
  FakeServer server;
  auto cut = Appending("A3 APPEND \"Archive\"", kMessage, "");
  cut.back().close = true;
  auto again = Relogin(
      {{"A2 STATUS \"Archive\" (MESSAGES UIDNEXT UIDVALIDITY)",
        "* STATUS Archive (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 77)\r\nA2 OK done\r\n"}});
  auto append = Appending("A3 APPEND \"Archive\"", kMessage, "A3 OK [APPENDUID 77 5] done\r\n");
  again.insert(again.end(), append.begin(), append.end());
  server.ServeSessions({StatusHello(cut), again});
  auto m = Migrator::Connect(*archive_, Opts(server.port()), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  EXPECT_TRUE(warnings_.empty());
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "5");
}

// The server stored the message but hung up before its answer: UIDNEXT
// moved, so the message is looked for (size, bytes), found and recorded;
// not appended again.
TEST_F(MigratorTest, UnansweredAppendStoredIsFoundInTheSameRun) {
  FakeServer server;
  auto cut = Appending("A3 APPEND \"Archive\"", kMessage, "");
  cut.back().close = true;
  server.ServeSessions(
      {StatusHello(cut),
       Relogin({{"A2 STATUS \"Archive\" (MESSAGES UIDNEXT UIDVALIDITY)",
                 "* STATUS Archive (MESSAGES 5 UIDNEXT 6 UIDVALIDITY 77)\r\nA2 OK done\r\n"},
                {"A3 EXAMINE \"Archive\"", "* 5 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nA3 OK [READ-ONLY] ok\r\n"},
                {"A4 UID SEARCH LARGER 39 SMALLER 45", "* SEARCH 5\r\nA4 OK done\r\n"},
                {"A5 UID FETCH 5 (UID RFC822.SIZE)", "* 5 FETCH (UID 5 RFC822.SIZE 44)\r\nA5 OK done\r\n"},
                {"A6 UID FETCH 5 *", "* 5 FETCH (UID 5 BODY[] {44}\r\n" + kMessage + ")\r\nA6 OK done\r\n"},
                {"A7 UNSELECT", "A7 OK\r\n"}})});
  auto m = Migrator::Connect(*archive_, Opts(server.port()), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kRecovered) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  int appends = 0;
  for (const auto& line : server.received()) appends += line.find(" APPEND ") != std::string::npos;
  EXPECT_EQ(appends, 1);
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "5");
}

// Without LIST-STATUS (Courier, GNU Mailutils) the folder is SELECTed for
// its UIDNEXT before its first APPEND — as Courier 5 answers, without
// UIDNEXT, so a STATUS after it gives that; when that APPEND is cut off
// mid-literal, the new session's STATUS proves it was not stored, and it is
// appended once more in the same run (before, it was looked for and, not
// found, skipped with a warning until --retry-unknown).
TEST_F(MigratorTest, WithoutListStatusAnUnansweredFirstAppendIsProvedNotStored) {
  FakeServer server;
  auto cut = Join({{{"A3 SELECT \"Archive\"", "* 4 EXISTS\r\n* OK [UIDVALIDITY 77] ok\r\nA3 OK [READ-WRITE] done\r\n"},
                    {"A4 UNSELECT", "A4 OK\r\n"},
                    {"A5 STATUS \"Archive\" (MESSAGES UIDNEXT UIDVALIDITY)",
                     "* STATUS Archive (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 77)\r\nA5 OK done\r\n"}},
                   Appending("A6 APPEND \"Archive\"", kMessage, "")});
  cut.erase(cut.end() - 3, cut.end());  // hang up after "Subject: hi", before the end of the literal
  cut.back().close = true;
  auto again = Hello(Join({{{"A2 STATUS \"Archive\" (MESSAGES UIDNEXT UIDVALIDITY)",
                             "* STATUS Archive (MESSAGES 4 UIDNEXT 5 UIDVALIDITY 77)\r\nA2 OK done\r\n"}},
                           Appending("A3 APPEND \"Archive\"", kMessage, "A3 OK [APPENDUID 77 5] done\r\n")}));
  again.erase(again.begin() + 2);  // nothing is listed again
  server.ServeSessions({Hello(cut), again});
  auto m = Migrator::Connect(*archive_, Opts(server.port()), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  EXPECT_TRUE(warnings_.empty()) << warnings_.front();
  int appends = 0;
  for (const auto& line : server.received()) appends += line.find(" APPEND ") != std::string::npos;
  EXPECT_EQ(appends, 2);  // the cut one and the one answered
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  auto places = *archive_->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "5");
}

// A folder one may APPEND to but not SELECT (an insert-only ACL): the
// SELECT only for the mark is refused, the message is appended anyway.
TEST_F(MigratorTest, RefusedSelectForTheMarkStillAppends) {
  FakeServer server;
  server.Serve(Hello(Join({{{"A3 SELECT \"Archive\"", "A3 NO [NOPERM] no read right\r\n"}},
                           AppendSteps("A4", {"", "A4 OK [APPENDUID 77 5] done\r\n"})})));
  auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
}

// Throttled past throttle_max_wait (issue 12.8, as sync): the run stops as
// partial, in the same session (no reconnect); a throttled APPEND was not
// stored, so its intent goes and the next run appends the message; a
// throttled SELECT does not refuse the folder.
imap::ImapOptions Throttled(uint16_t port, std::vector<std::chrono::milliseconds>* waits) {
  imap::ImapOptions o = Opts(port);
  net::ThrottleOptions t;
  t.sleep = [waits](std::chrono::milliseconds d) { waits->push_back(d); };
  o.connect.throttle = std::make_shared<net::Throttle>(t);
  return o;
}

const std::string kLongBackoff = "NO [THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds\r\n";

TEST_F(MigratorTest, ThrottledAppendStopsTheRunAsPartial) {
  FakeServer server;
  server.Serve(StatusHello(AppendSteps("A3", {"", "A3 " + kLongBackoff})));
  std::vector<std::chrono::milliseconds> waits;
  auto m = Migrator::Connect(*archive_, Throttled(server.port(), &waits), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kFailed);
  EXPECT_TRUE(out.stop);
  EXPECT_TRUE(out.partial);
  EXPECT_FALSE(out.archive);
  EXPECT_NE(out.error.find("more than throttle_max_wait 120 s"), std::string::npos) << out.error;
  EXPECT_TRUE(waits.empty());
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 1);
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_TRUE(archive_->FolderLocations("imap", "target", "Archive")->empty());
}

TEST_F(MigratorTest, ThrottledSelectStopsTheRunAsPartial) {
  FakeServer server;
  server.Serve(Session("IMAP4rev1 LITERAL+ UNSELECT", "* LIST () \"/\" INBOX\r\n* LIST () \"/\" Archive\r\n",
                       {{"A3 SELECT \"Archive\"", "A3 " + kLongBackoff}}));
  std::vector<std::chrono::milliseconds> waits;
  auto m = Migrator::Connect(*archive_, Throttled(server.port(), &waits), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kFailed);
  EXPECT_TRUE(out.stop);
  EXPECT_TRUE(out.partial);
  EXPECT_EQ(out.error.find("skipped this run"), std::string::npos) << out.error;  // not a refused folder
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kAppend)->empty());
}

// The session ends mid-APPEND and the new login is throttled that long:
// partial too, and the APPEND without an answer stays for the next run.
TEST_F(MigratorTest, ThrottledLoginAfterAReconnectStopsTheRunAsPartial) {
  FakeServer server;
  auto cut = Appending("A3 APPEND \"Archive\"", kMessage, "");
  cut.back().close = true;
  server.ServeSessions({StatusHello(cut),
                        {{"", "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"},
                         {"A1 LOGIN \"alice\" \"pw\"", "A1 " + kLongBackoff}}});
  std::vector<std::chrono::milliseconds> waits;
  auto m = Migrator::Connect(*archive_, Throttled(server.port(), &waits), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kFailed);
  EXPECT_TRUE(out.stop);
  EXPECT_TRUE(out.partial);
  EXPECT_NE(out.error.find("more than throttle_max_wait 120 s"), std::string::npos) << out.error;
  m->reset();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(archive_->UnknownIntents(IntentKind::kAppend)->size(), 1u);
}

// A server that ends every new session at once: 3 reconnects, then the
// message fails with one line and the run stops (the rest next run).
TEST_F(MigratorTest, ServerEndingEverySessionIsGivenUpOn) {
  FakeServer server;
  auto first = Appending("A3 APPEND \"Archive\"", kMessage, "");
  first.back().close = true;
  std::vector<std::vector<FakeStep>> sessions = {StatusHello(first)};
  for (int i = 0; i < 3; ++i) sessions.push_back({{"", "", 0, true}});
  server.ServeSessions(sessions);
  auto m = Migrator::Connect(*archive_, Opts(server.port()), Reconnecting(To()), Collect());
  ASSERT_TRUE(m) << m.error().message();
  Outcome out = (*m)->Migrate(id_);
  EXPECT_EQ(out.kind, Outcome::kFailed);
  EXPECT_TRUE(out.stop);
  EXPECT_NE(out.error.find("gave up after 3 reconnects"), std::string::npos) << out.error;
  EXPECT_EQ((*m)->Migrate(id_).kind, Outcome::kFailed);  // no session left: fails, does not crash
  EXPECT_TRUE((*m)->Finish(true).empty());
  m->reset();
  server.Finish();
  EXPECT_EQ(server.sessions(), 4);
  EXPECT_EQ(archive_->UnknownIntents(IntentKind::kAppend)->size(), 1u);  // the next run looks for it
}

}  // namespace
}  // namespace mailkeep::migrate
