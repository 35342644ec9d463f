// The engine's rules with an in-memory source: what is fetched, what is
// kept when a fetch breaks off, and that nothing leaves the "server" unless
// the archive holds it. Real servers are exercised in tests/sync/.
#include "sync/engine.h"

#include <stdlib.h>

#include <filesystem>
#include <map>

#include <gtest/gtest.h>

namespace mailkeep::sync {
namespace {

std::string Message(int n) {
  return "From: a@example.org\nSubject: message " + std::to_string(n) + "\nMessage-ID: <m" + std::to_string(n) +
         "@example.org>\n\nbody " + std::to_string(n) + "\n";
}

// A mailbox in memory, with faults on demand.
class MemorySource : public Source {
 public:
  std::map<std::string, std::string> mailbox;  // uidl -> bytes
  int fail_fetch_after = -1;                   // break the connection after this many messages
  bool fail_delete = false;
  std::vector<std::string> deleted;

  const char* source_name() const override { return "pop3"; }
  Status Connect() override { return OkStatus(); }
  Result<Listing> List(const ListContext&) override {
    Listing listing;
    std::vector<ServerMessage>& out = listing.messages;
    int n = 0;
    for (const auto& [uidl, bytes] : mailbox) {
      ServerMessage m;
      m.origin = {"pop3", "acct", "INBOX", uidl, 0, "", std::nullopt};
      m.size = bytes.size();
      m.handle = ++n;
      out.push_back(m);
    }
    return listing;
  }
  Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) override {
    int sent = 0;
    for (const auto& m : wanted) {
      if (sent == fail_fetch_after) return MakeError(ErrorCode::kUnavailable, "connection reset");
      MK_RETURN_IF_ERROR(sink(RawMessage{mailbox.at(m.origin.key), m.origin}));
      ++sent;
    }
    return OkStatus();
  }
  Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) override {
    if (fail_delete) return MakeError(ErrorCode::kUnavailable, "connection reset before QUIT");
    for (const auto& m : durable) {
      deleted.push_back(m.origin.key);
      mailbox.erase(m.origin.key);
    }
    return durable;
  }
  Status Close() override { return OkStatus(); }
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-engine-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto a = Archive::Create(root_ + "/archive");
    ASSERT_TRUE(a) << a.error().message();
    archive_ = std::move(*a);
  }
  void TearDown() override {
    archive_.reset();
    std::filesystem::remove_all(root_);
  }
  AccountReport Sync(MemorySource& source, SyncSettings settings) {
    ArchiveGate gate(*archive_);
    return SyncAccount("acct", source, gate, settings);
  }
  int64_t ArchivedCount() { return static_cast<int64_t>(archive_->AllIds()->size()); }

  std::string root_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(EngineTest, SecondRunFetchesOnlyWhatIsNew) {
  MemorySource src;
  for (int i = 0; i < 5; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  auto first = Sync(src, {});
  EXPECT_TRUE(first.ok);
  EXPECT_EQ(first.fetched, 5);
  EXPECT_EQ(first.deleted, 0);
  auto second = Sync(src, {});
  EXPECT_EQ(second.fetched + second.duplicates, 0);
  src.mailbox["u9"] = Message(9);
  auto third = Sync(src, {});
  EXPECT_EQ(third.fetched, 1);
  EXPECT_EQ(ArchivedCount(), 6);
  EXPECT_EQ(src.mailbox.size(), 6u);  // policy never: nothing deleted
}

TEST_F(EngineTest, AfterDownloadDeletesOnlyWhatIsArchived) {
  MemorySource src;
  for (int i = 0; i < 10; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  SyncSettings s;
  s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
  s.batch_messages = 3;
  src.fail_fetch_after = 7;  // the connection breaks after 7 messages
  auto broken = Sync(src, s);
  EXPECT_FALSE(broken.ok);
  EXPECT_EQ(broken.fetched, 7);  // everything that arrived whole was committed
  EXPECT_EQ(broken.deleted, 0);  // but a broken session deletes nothing
  EXPECT_EQ(ArchivedCount(), 7);
  src.fail_fetch_after = -1;
  auto resumed = Sync(src, s);
  EXPECT_TRUE(resumed.ok) << (resumed.problems.empty() ? "" : resumed.problems[0]);
  EXPECT_EQ(resumed.fetched, 3);
  EXPECT_EQ(resumed.deleted, 10);
  EXPECT_TRUE(src.mailbox.empty());
  EXPECT_EQ(ArchivedCount(), 10);
}

TEST_F(EngineTest, FailedDeleteIsRetriedNextRun) {
  MemorySource src;
  for (int i = 0; i < 4; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  SyncSettings s;
  s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
  src.fail_delete = true;
  auto first = Sync(src, s);
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.fetched, 4);
  EXPECT_EQ(src.mailbox.size(), 4u);
  src.fail_delete = false;
  auto second = Sync(src, s);
  EXPECT_TRUE(second.ok);
  EXPECT_EQ(second.fetched, 0);
  EXPECT_EQ(second.deleted, 4);
  EXPECT_TRUE(src.mailbox.empty());
}

TEST_F(EngineTest, OlderThanDeletesOnlyOldEnoughMessages) {
  MemorySource src;
  src.mailbox["old"] = Message(1);
  SyncSettings s;
  s.delete_policy = {DeletePolicy::Kind::kOlderThan, 30};
  auto first = Sync(src, s);
  EXPECT_EQ(first.fetched, 1);
  EXPECT_EQ(first.deleted, 0);
  int64_t now = ::time(nullptr);
  src.mailbox["new"] = Message(2);
  s.now = now + 31 * 86400;  // a month later "old" is due; "new" is archived now
  auto later = Sync(src, s);
  EXPECT_EQ(later.fetched, 1);
  EXPECT_EQ(later.deleted, 1);
  EXPECT_EQ(src.deleted, std::vector<std::string>{"old"});
  EXPECT_EQ(src.mailbox.count("new"), 1u);
}

TEST_F(EngineTest, TooLargeIsSkippedWithAWarning) {
  MemorySource src;
  src.mailbox["small"] = Message(1);
  src.mailbox["big"] = Message(2) + std::string(5000, 'x') + "\n";
  SyncSettings s;
  s.max_message_size = 1000;
  s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
  auto r = Sync(src, s);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.fetched, 1);
  EXPECT_EQ(r.skipped, 1);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("max_message_size"), std::string::npos) << r.problems[0];
  EXPECT_EQ(src.mailbox.count("big"), 1u);  // never deleted without being archived
}

TEST_F(EngineTest, DryRunChangesNothing) {
  MemorySource src;
  for (int i = 0; i < 3; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  SyncSettings s;
  s.dry_run = true;
  s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
  auto r = Sync(src, s);
  EXPECT_EQ(r.would_fetch, 3);
  EXPECT_EQ(r.would_delete, 3);
  EXPECT_EQ(r.fetched, 0);
  EXPECT_EQ(ArchivedCount(), 0);
  EXPECT_EQ(src.mailbox.size(), 3u);
}

TEST(PlanSyncTest, ReusedPlaceAfterRecordedDeletionIsFetchedAgain) {
  std::vector<ServerMessage> listing(1);
  listing[0].origin = {"pop3", "acct", "INBOX", "u1", 0, "", std::nullopt};
  KnownFolders known;
  known["INBOX"].push_back({"u1", 0, 7, "", 100, std::optional<int64_t>(200)});
  SyncSettings s;
  s.now = 1000;
  s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
  auto plan = PlanSync(listing, known, s);
  EXPECT_EQ(plan.fetch.size(), 1u);
  EXPECT_TRUE(plan.deletable.empty());
  known["INBOX"][0].deleted_at.reset();
  plan = PlanSync(listing, known, s);
  EXPECT_TRUE(plan.fetch.empty());
  ASSERT_EQ(plan.deletable.size(), 1u);
  EXPECT_EQ(plan.deletable[0].second, 7);
}

}  // namespace
}  // namespace mailkeep::sync
