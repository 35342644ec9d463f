// Tests for the index feeder (index/feeder.h): it drains the archive's
// index queue into the index, keeps in-flight messages as index intents
// until the index has committed them, and a run killed in between or an
// index that cannot be opened loses nothing. Documents are checked in the
// index through Xapian directly.
#include "index/feeder.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xapian.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "index/index.h"
#include "store/archive.h"
#include "store/crypto/keys.h"

namespace mailkeep::index {
namespace {

std::string MakeMessage(int n) {
  return "From: Sender <sender@example.org>\nTo: list@example.org\nSubject: Feeder test " + std::to_string(n) +
         "\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <feeder" + std::to_string(n) +
         "@example.org>\n\nBody of message " + std::to_string(n) + " about marmalade.\n";
}

class FeederTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-feeder-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/archive";
    auto archive = Archive::Create(dir_, CreateOptions());
    ASSERT_TRUE(archive) << archive.error().ToString();
    archive_ = std::move(*archive);
  }
  // The options the archive is created and opened with (a plain archive).
  virtual ArchiveOptions CreateOptions() { return {}; }

  void TearDown() override {
    archive_.reset();
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path());
  }

  // Stores `n` new messages; returns their catalog ids (all queued for the index).
  std::vector<int64_t> Store(int n) {
    std::vector<RawMessage> batch;
    for (int i = 0; i < n; ++i) {
      RawMessage m;
      m.bytes = MakeMessage(next_ + i);
      m.origin.source = "eml";
      m.origin.account = "local";
      m.origin.folder = "/in";
      m.origin.key = "k" + std::to_string(next_ + i);
      batch.push_back(std::move(m));
    }
    next_ += n;
    std::vector<int64_t> ids;
    auto out = archive_->Ingest(std::move(batch));
    EXPECT_TRUE(out) << out.error().ToString();
    if (!out) return ids;
    for (const auto& o : *out) {
      EXPECT_EQ(o.status, IngestStatus::kStored) << o.error;
      ids.push_back(o.id);
    }
    return ids;
  }

  void Reopen() {
    archive_.reset();
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite, options_);
    ASSERT_TRUE(archive) << archive.error().ToString();
    archive_ = std::move(*archive);
  }

  // The catalog ids of the documents a new reader finds in the index.
  std::vector<int64_t> IndexedIds() {
    std::vector<int64_t> ids;
    if (!std::filesystem::exists(IndexDir(*archive_) + "/XAPIANDB")) return ids;
    Xapian::Database db(IndexDir(*archive_));
    for (auto it = db.postlist_begin(""); it != db.postlist_end(""); ++it) ids.push_back(*it);
    return ids;
  }

  std::string dir_;
  ArchiveOptions options_;  // those of Reopen
  std::unique_ptr<Archive> archive_;
  int next_ = 1;
};

TEST_F(FeederTest, DrainsTheQueueIntoTheIndex) {
  const std::vector<int64_t> ids = Store(5);
  ASSERT_EQ(*archive_->PendingIndexCount(), 5);
  std::vector<std::pair<int64_t, int64_t>> progress;
  auto result = CatchUpIndex(
      *archive_, 2, [&](int64_t done, int64_t total) { progress.emplace_back(done, total); },
      [](int64_t id, const std::string& why) { ADD_FAILURE() << "message " << id << ": " << why; });
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 5);
  EXPECT_EQ(result->failed, 0);
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), std::make_pair(int64_t{5}, int64_t{5}));
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
  EXPECT_TRUE(archive_->IndexInFlight()->empty());
  EXPECT_EQ(IndexedIds(), ids);

  // The documents are the messages: their words are found by a search.
  auto reader = IndexReader::Open(IndexDir(*archive_));
  ASSERT_TRUE(reader) << reader.error().ToString();
  auto found = (*reader)->Search("marmalade", {});
  ASSERT_TRUE(found) << found.error().ToString();
  EXPECT_EQ(found->ids.size(), 5u);

  // Nothing queued: nothing to do (and the index is not even opened).
  result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result);
  EXPECT_EQ(result->indexed, 0);
}

TEST_F(FeederTest, RemovedMessagesLeaveTheIndexAndTheQueueOnlyWhenCommitted) {
  const std::vector<int64_t> ids = Store(3);
  ASSERT_TRUE(CatchUpIndex(*archive_, 1, {}, {}));
  AuditContext who;
  who.command = "delete";
  auto removed = archive_->Remove({ids[1]}, who);
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(*archive_->PendingIndexCount(), 1);
  {
    // Handed over, not committed: still queued (a killed run removes it again).
    auto feeder = IndexFeeder::Open(*archive_, 1, {});
    ASSERT_TRUE(feeder) << feeder.error().ToString();
    ASSERT_TRUE((*feeder)->Feed());
    EXPECT_EQ(*archive_->PendingIndexCount(), 1);
    EXPECT_TRUE(archive_->IndexInFlight()->empty());
    ASSERT_TRUE((*feeder)->Commit());
    EXPECT_EQ((*feeder)->result().removed, 1);
  }
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
  EXPECT_EQ(IndexedIds(), (std::vector<int64_t>{ids[0], ids[2]}));
  // A message removed before it was ever indexed: nothing to remove, no error.
  const std::vector<int64_t> fresh = Store(1);
  ASSERT_TRUE(archive_->Remove(fresh, who));
  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->removed, 1);
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
  EXPECT_EQ(IndexedIds(), (std::vector<int64_t>{ids[0], ids[2]}));
}

TEST_F(FeederTest, IntentsStayUntilTheIndexCommits) {
  const std::vector<int64_t> ids = Store(3);
  auto feeder = IndexFeeder::Open(*archive_, 1, {});
  ASSERT_TRUE(feeder) << feeder.error().ToString();
  ASSERT_TRUE((*feeder)->Feed());
  // Handed to the writer: off the queue, kept as index intents, not yet
  // visible in the index.
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
  EXPECT_EQ(*archive_->IndexInFlight(), ids);
  EXPECT_TRUE(IndexedIds().empty());
  EXPECT_EQ((*feeder)->result().indexed, 0);

  ASSERT_TRUE((*feeder)->Commit());
  EXPECT_TRUE(archive_->IndexInFlight()->empty());
  EXPECT_EQ(IndexedIds(), ids);
  EXPECT_EQ((*feeder)->result().indexed, 3);
}

TEST_F(FeederTest, IndexCommitThatFailsKeepsTheIntents) {
  const std::vector<int64_t> ids = Store(3);
  {
    auto feeder = IndexFeeder::Open(*archive_, 1, {});
    ASSERT_TRUE(feeder) << feeder.error().ToString();
    ASSERT_TRUE((*feeder)->Feed());
    // The index directory goes away under the writer: its commit fails.
    std::filesystem::rename(IndexDir(*archive_), IndexDir(*archive_) + ".gone");
    EXPECT_FALSE((*feeder)->Commit());
    EXPECT_EQ(*archive_->IndexInFlight(), ids);  // not dropped before the index committed
  }
  std::filesystem::remove_all(IndexDir(*archive_));
  std::filesystem::remove_all(IndexDir(*archive_) + ".gone");
  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 3);
  EXPECT_EQ(IndexedIds(), ids);
  EXPECT_TRUE(archive_->IndexInFlight()->empty());
}

TEST_F(FeederTest, IntentRecordedWithoutIndexCommitIsIndexedNextRun) {
  // A run that took the messages off the queue as index intents and was
  // killed before the index committed them.
  const std::vector<int64_t> ids = Store(4);
  ASSERT_TRUE(archive_->HandToIndex({ids[0], ids[2]}));
  Reopen();
  EXPECT_EQ(*archive_->PendingIndexCount(), 2);
  EXPECT_EQ(*archive_->IndexInFlight(), (std::vector<int64_t>{ids[0], ids[2]}));

  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 4);
  EXPECT_EQ(IndexedIds(), ids);
  EXPECT_TRUE(archive_->IndexInFlight()->empty());
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
}

TEST_F(FeederTest, ProcessKilledBeforeTheIndexCommitLosesNothing) {
  // A first run indexes some messages; a second is killed (no destructor,
  // no commit) after handing new ones to the writer.
  const std::vector<int64_t> first = Store(2);
  ASSERT_TRUE(CatchUpIndex(*archive_, 1, {}, {}));
  const std::vector<int64_t> second = Store(3);
  archive_.reset();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite);
    if (!archive) ::_exit(10);
    auto feeder = IndexFeeder::Open(**archive, 1, {});
    if (!feeder || !(*feeder)->Feed()) ::_exit(11);
    ::_exit(0);  // killed: the feeder and the writer never commit
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);

  Reopen();
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
  EXPECT_EQ(*archive_->IndexInFlight(), second);
  EXPECT_EQ(IndexedIds(), first);  // the killed run's documents never committed

  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 3);
  std::vector<int64_t> all = first;
  all.insert(all.end(), second.begin(), second.end());
  EXPECT_EQ(IndexedIds(), all);
  EXPECT_TRUE(archive_->IndexInFlight()->empty());
}

TEST_F(FeederTest, IndexThatFailsToOpenLeavesTheQueueIntact) {
  const std::vector<int64_t> ids = Store(3);
  ASSERT_TRUE(archive_->HandToIndex({ids[1]}));  // one in flight from a killed run
  // An index directory whose shard list is damaged: the writer refuses it.
  std::filesystem::create_directories(IndexDir(*archive_));
  std::ofstream(IndexDir(*archive_) + "/XAPIANDB") << "not a shard list\n";

  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_FALSE(result);
  EXPECT_EQ(*archive_->PendingIndexCount(), 2);
  EXPECT_EQ(*archive_->IndexInFlight(), std::vector<int64_t>{ids[1]});
  auto feeder = IndexFeeder::Open(*archive_, 1, {});
  ASSERT_FALSE(feeder);
  EXPECT_EQ(*archive_->PendingIndexCount(), 2);
  EXPECT_EQ(*archive_->IndexInFlight(), std::vector<int64_t>{ids[1]});

  // Once the index is usable again (reindex removes it), nothing is missing.
  std::filesystem::remove_all(IndexDir(*archive_));
  result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 3);
  EXPECT_EQ(IndexedIds(), ids);
}

TEST_F(FeederTest, LegacyJournalIsAdoptedAsIntents) {
  const std::vector<int64_t> ids = Store(3);
  ASSERT_TRUE(archive_->HandToIndex(ids));
  ASSERT_TRUE(archive_->IndexCommitted({}));  // as if an old run had them in its text journal
  std::filesystem::create_directories(IndexDir(*archive_));
  std::ofstream(IndexDir(*archive_) + "/in-flight") << ids[1] << "\n999999\n" << ids[2] << "\n";  // 999999: not in the catalog
  ASSERT_TRUE(AdoptLegacyJournal(*archive_));
  EXPECT_EQ(*archive_->IndexInFlight(), (std::vector<int64_t>{ids[1], ids[2]}));
  EXPECT_FALSE(std::filesystem::exists(IndexDir(*archive_) + "/in-flight"));
}

// An encrypted archive's index lives outside the archive directory, in
// $XDG_CACHE_HOME/mailkeep/index/<archive_id>; when that cache is gone, the
// next run queues every message again and says how many.
class EncryptedFeederTest : public FeederTest {
 protected:
  ArchiveOptions CreateOptions() override {
    const std::string root = std::filesystem::path(dir_).parent_path().string();
    cache_ = root + "/cache";
    ::setenv("XDG_CACHE_HOME", cache_.c_str(), 1);
    crypto::KdfParams cheap;
    cheap.log2_n = 10;  // 1 MiB: a test, not a secret
    auto keys = crypto::CreateKeyFile(dir_, "feeder test passphrase", cheap);
    EXPECT_TRUE(keys) << keys.error().ToString();
    if (keys) options_.keys = *keys;
    return options_;
  }
  void TearDown() override {
    FeederTest::TearDown();
    ::unsetenv("XDG_CACHE_HOME");
  }
  std::string cache_;
};

TEST_F(EncryptedFeederTest, IndexLivesInTheCacheAndALostCacheIsRebuilt) {
  ASSERT_NE(archive_->keys(), nullptr);
  EXPECT_TRUE(IndexIsCache(*archive_));
  const std::string index = cache_ + "/mailkeep/index/" + archive_->keys()->archive_id;
  EXPECT_EQ(IndexDir(*archive_), index);
  Store(3);
  auto result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->indexed, 3);
  EXPECT_EQ(result->requeued, 0);
  EXPECT_EQ(IndexedIds().size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/xapian"));
  struct stat st {};
  ASSERT_EQ(::stat((cache_ + "/mailkeep").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  // The cache deleted (or the archive copied to another machine): nothing
  // is queued, yet the next run indexes every message again.
  std::filesystem::remove_all(cache_);
  Reopen();
  ASSERT_EQ(*archive_->PendingIndexCount(), 0);
  result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->requeued, 3);
  EXPECT_EQ(result->indexed, 3);
  EXPECT_EQ(IndexedIds().size(), 3u);

  // A feeder opened on a lost cache says so too; a second run has nothing to redo.
  std::filesystem::remove_all(cache_);
  Store(1);
  auto feeder = IndexFeeder::Open(*archive_, 1, {});
  ASSERT_TRUE(feeder) << feeder.error().ToString();
  EXPECT_EQ((*feeder)->result().requeued, 4);
  ASSERT_TRUE((*feeder)->Feed());
  ASSERT_TRUE((*feeder)->Commit());
  EXPECT_EQ(IndexedIds().size(), 4u);
  feeder->reset();
  result = CatchUpIndex(*archive_, 1, {}, {});
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->requeued, 0);
  EXPECT_EQ(result->indexed, 0);
}

TEST_F(EncryptedFeederTest, RelativeXdgCacheHomeIsIgnored) {
  const std::string home = std::filesystem::path(dir_).parent_path().string() + "/home";
  const char* old_home = std::getenv("HOME");
  const std::string saved = old_home ? old_home : "";
  ::setenv("XDG_CACHE_HOME", "relative/cache", 1);
  ::setenv("HOME", home.c_str(), 1);
  EXPECT_EQ(IndexDir(*archive_), home + "/.cache/mailkeep/index/" + archive_->keys()->archive_id);
  ::setenv("HOME", saved.c_str(), 1);
}

// A plain archive keeps ARCHIVE/xapian, and a missing one is not rebuilt
// behind the user's back (it is damage that verify reports).
TEST_F(FeederTest, PlainArchiveKeepsItsIndexInside) {
  EXPECT_FALSE(IndexIsCache(*archive_));
  EXPECT_EQ(IndexDir(*archive_), dir_ + "/xapian");
  Store(2);
  ASSERT_TRUE(CatchUpIndex(*archive_, 1, {}, {}));
  std::filesystem::remove_all(dir_ + "/xapian");
  auto requeued = RequeueLostIndex(*archive_);
  ASSERT_TRUE(requeued) << requeued.error().ToString();
  EXPECT_EQ(*requeued, 0);
  EXPECT_EQ(*archive_->PendingIndexCount(), 0);
}

}  // namespace
}  // namespace mailkeep::index
