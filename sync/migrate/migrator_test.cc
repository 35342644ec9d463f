// Migrator against a scripted fake IMAP server: the intents journal around
// APPEND, unknown intents looked for and skipped, --retry-unknown. A real
// Dovecot is in tests/sync/imap_migrate.sh and tests/crash/kill_migrate.sh.
#include "sync/migrate/migrator.h"

#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "tests/servers/fake_server.h"

namespace mailkeep::migrate {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kMessage = "From: a@example.test\r\nSubject: hi\r\n\r\nhello\r\n";  // 44 bytes

imap::ImapOptions Opts(uint16_t port) {
  imap::ImapOptions o;
  o.connect.host = "127.0.0.1";
  o.connect.port = port;
  o.connect.tls = net::TlsMode::kNone;
  o.connect.connect_timeout = std::chrono::milliseconds(3000);
  o.connect.read_timeout = std::chrono::milliseconds(3000);
  o.user = "alice";
  o.password = "pw";
  o.auth = imap::AuthMethod::kUserPass;
  o.allow_plaintext = true;
  return o;
}

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

class MigratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-migrate-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    archive_ = std::move(*Archive::Create(root_ + "/archive"));
    RawMessage m;
    m.bytes = kMessage;
    m.origin = {"eml", "local", "/in", "1", 0, "", {}};
    auto out = archive_->Ingest({m});
    ASSERT_TRUE(out);
    id_ = (*out)[0].id;
  }
  void TearDown() override {
    archive_.reset();
    std::filesystem::remove_all(root_);
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

  std::string root_;
  std::unique_ptr<Archive> archive_;
  int64_t id_ = 0;
  std::vector<std::string> warnings_;
};

// The intent is committed while the server still holds the APPEND, and
// resolved with the place APPENDUID gave.
TEST_F(MigratorTest, IntentIsCommittedBeforeAppendAndResolvedByItsPlace) {
  FakeServer server;
  auto steps = AppendSteps("A3", {"", "A3 OK [APPENDUID 77 5] done\r\n", 700});
  server.Serve(Hello(steps));
  std::atomic<bool> running{true}, seen{false};
  std::thread watcher([&] {
    while (running && !seen) {
      auto reader = Archive::Open(root_ + "/archive", OpenMode::kReadOnly);
      if (reader) {
        auto unknown = (*reader)->UnknownIntents(IntentKind::kAppend);
        if (unknown && unknown->size() == 1 && (*unknown)[0].via == "Archive") seen = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  {
    auto m = Migrator::Connect(*archive_, Opts(server.port()), To(), Collect());
    ASSERT_TRUE(m) << m.error().message();
    Outcome out = (*m)->Migrate(id_);
    EXPECT_EQ(out.kind, Outcome::kAppended) << out.error;
  }
  running = false;
  watcher.join();
  EXPECT_TRUE(seen);
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
    auto steps = look;
    auto append = AppendSteps("A5", {"", "A5 OK [APPENDUID 77 6] done\r\n"});
    steps.insert(steps.end(), append.begin(), append.end());
    server.Serve(Hello(steps));
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
                      {"A4 UID SEARCH LARGER 43 SMALLER 45", "* SEARCH 9\r\nA4 OK done\r\n"},
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
  server.Serve(Hello(AppendSteps("A3", {"", "A3 NO [OVERQUOTA] quota exceeded\r\n"})));
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

}  // namespace
}  // namespace mailkeep::migrate
