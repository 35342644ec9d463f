// The engine's rules with an in-memory source: what is fetched, what is
// kept when a fetch breaks off, and that nothing leaves the "server" unless
// the archive holds it. Real servers are exercised in tests/sync/.
#include "sync/engine.h"

#include <algorithm>
#include <map>

#include <gtest/gtest.h>

#include "sync/testing/archive_fixture.h"

namespace mailkeep::sync {
namespace {

std::string Message(int n) {
  return "From: a@example.org\nSubject: message " + std::to_string(n) + "\nMessage-ID: <m" + std::to_string(n) +
         "@example.org>\n\nbody " + std::to_string(n) + "\n";
}

// The size a server lists for a message held here in Maildir form: every
// line end counted as CRLF.
uint64_t CrlfSize(const std::string& bytes) {
  return bytes.size() + static_cast<uint64_t>(std::count(bytes.begin(), bytes.end(), '\n'));
}

// A mailbox in memory, with faults on demand. `mailbox` is listed first
// (by key), then `also_listed` as is, so one key can be listed twice.
class MemorySource : public Source {
 public:
  std::map<std::string, std::string> mailbox;  // uidl -> bytes
  std::vector<std::pair<std::string, std::string>> also_listed;
  std::map<std::string, int64_t> internal_dates;  // listed and fetched with these (as IMAP)
  std::map<std::string, uint64_t> listed_sizes;   // a size other than CrlfSize (0 = unknown)
  int fail_fetch_after = -1;                   // break the connection after this many messages
  Error fetch_failure{ErrorCode::kUnavailable, "connection reset"};  // how it breaks
  bool fail_delete = false;
  std::vector<std::string> deleted;
  std::vector<std::string> fetched;            // keys, in order, every run

  const char* source_name() const override { return "pop3"; }
  Status Connect() override { return OkStatus(); }
  Result<Listing> List(const ListContext&) override {
    listed_.clear();
    for (const auto& entry : mailbox) listed_.push_back(entry);
    for (const auto& entry : also_listed) listed_.push_back(entry);
    Listing listing;
    for (size_t i = 0; i < listed_.size(); ++i) {
      const auto& [uidl, bytes] = listed_[i];
      ServerMessage m;
      m.origin = {"pop3", "acct", "INBOX", uidl, 0, "", DateOf(uidl)};
      auto size = listed_sizes.find(uidl);
      m.size = size != listed_sizes.end() ? size->second : CrlfSize(bytes);
      m.handle = static_cast<int64_t>(i) + 1;
      listing.messages.push_back(m);
    }
    return listing;
  }
  Status Fetch(const std::vector<ServerMessage>& wanted, const MessageSink& sink) override {
    int sent = 0;
    for (const auto& m : wanted) {
      if (sent == fail_fetch_after) return std::unexpected(fetch_failure);
      fetched.push_back(m.origin.key);
      MK_RETURN_IF_ERROR(sink(RawMessage{listed_.at(m.handle - 1).second, m.origin}));
      ++sent;
    }
    return OkStatus();
  }
  Result<std::vector<ServerMessage>> Delete(const std::vector<ServerMessage>& durable) override {
    if (fail_delete) return MakeError(ErrorCode::kUnavailable, "connection reset before QUIT");
    for (const auto& m : durable) {
      deleted.push_back(m.origin.key);
      const auto& [key, bytes] = listed_.at(m.handle - 1);
      std::erase(also_listed, listed_.at(m.handle - 1));
      if (mailbox.count(key) && mailbox[key] == bytes) mailbox.erase(key);
    }
    return durable;
  }
  Status Close() override { return OkStatus(); }

 private:
  std::optional<int64_t> DateOf(const std::string& key) const {
    auto it = internal_dates.find(key);
    return it == internal_dates.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
  std::vector<std::pair<std::string, std::string>> listed_;  // by handle - 1
};

class EngineTest : public mailkeep::testing::ArchiveTest {
 protected:
  AccountReport Sync(MemorySource& source, SyncSettings settings) {
    ArchiveGate gate(*archive_);
    return SyncAccount("acct", source, gate, settings);
  }
  int64_t ArchivedCount() { return static_cast<int64_t>(archive_->AllIds()->size()); }
  bool Archived(int n) { return !archive_->FindByMessageId("m" + std::to_string(n) + "@example.org")->empty(); }
  static SyncSettings AfterDownload() {
    SyncSettings s;
    s.delete_policy.kind = DeletePolicy::Kind::kAfterDownload;
    return s;
  }
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

TEST_F(EngineTest, MaxBytesPerRunStopsFetchingAndTheNextRunGoesOn) {
  MemorySource src;
  for (int i = 0; i < 10; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  const uint64_t one = CrlfSize(Message(0));  // all ten have this size
  SyncSettings s = AfterDownload();
  s.max_bytes_per_run = 4 * one - 1;  // three fit, a fourth would pass it
  auto first = Sync(src, s);
  EXPECT_TRUE(first.ok);
  EXPECT_EQ(first.fetched, 3);
  EXPECT_EQ(first.partial, "max_bytes_per_run (0.0 MB) reached; 7 messages in INBOX and any later folders wait");
  EXPECT_EQ(first.deleted, 3);  // what was fetched is kept, and deleted under the policy
  auto second = Sync(src, s);
  EXPECT_EQ(second.fetched, 3);
  EXPECT_FALSE(second.partial.empty());
  s.max_bytes_per_run = one / 2;  // smaller than any message: still one a run
  auto third = Sync(src, s);
  EXPECT_EQ(third.fetched, 1);
  EXPECT_FALSE(third.partial.empty());
  s.max_bytes_per_run = 0;
  auto last = Sync(src, s);
  EXPECT_EQ(last.fetched, 3);
  EXPECT_EQ(last.duplicates, 0);
  EXPECT_TRUE(last.partial.empty());
  EXPECT_TRUE(src.mailbox.empty());
  EXPECT_EQ(ArchivedCount(), 10);
}

TEST_F(EngineTest, AThrottledRunIsPartialNotFailed) {
  MemorySource src;
  for (int i = 0; i < 6; ++i) src.mailbox["u" + std::to_string(i)] = Message(i);
  src.fail_fetch_after = 2;
  src.fetch_failure = Error(ErrorCode::kResourceExhausted, "server throttled RETR 3 at h:1 (asked to wait 300 s, "
                                                            "more than throttle_max_wait 120 s)");
  auto throttled = Sync(src, AfterDownload());
  EXPECT_TRUE(throttled.ok);
  EXPECT_EQ(throttled.errors, 0);
  EXPECT_EQ(throttled.partial, src.fetch_failure.message());
  EXPECT_EQ(throttled.fetched, 2);  // kept
  EXPECT_EQ(throttled.deleted, 0);  // the account stopped before deleting
  src.fail_fetch_after = -1;
  auto next = Sync(src, AfterDownload());
  EXPECT_TRUE(next.partial.empty());
  EXPECT_EQ(next.fetched, 4);
  EXPECT_EQ(next.deleted, 6);
  EXPECT_EQ(ArchivedCount(), 6);
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

// Issue 11.1: a POP3 server lists one UIDL twice. Neither copy is taken for
// the one archived under that UIDL: both are fetched (the new one is
// stored), neither is deleted, and the account gets one warning.
TEST_F(EngineTest, UidlListedTwiceIsFetchedAndNeverDeleted) {
  MemorySource src;
  src.mailbox["u1"] = Message(1);
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  src.also_listed = {{"u1", Message(2)}, {"u1", Message(3)}};
  auto r = Sync(src, AfterDownload());
  EXPECT_TRUE(r.ok);
  EXPECT_TRUE(src.deleted.empty());
  EXPECT_EQ(r.deleted, 0);
  EXPECT_TRUE(Archived(2));
  EXPECT_TRUE(Archived(3));
  EXPECT_EQ(r.fetched, 2);
  EXPECT_EQ(r.errors, 0);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("u1"), std::string::npos) << r.problems[0];
}

// Issue 11.1: a place reused under the same UIDVALIDITY (a mailbox restored
// from a backup) lists another size: the message there is fetched and
// stored before it is deleted.
TEST_F(EngineTest, ReusedPlaceWithAnotherSizeIsArchivedBeforeDeletion) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  src.mailbox["2"] = Message(2);
  ASSERT_EQ(Sync(src, {}).fetched, 2);
  src.mailbox["1"] = Message(11) + "a longer body\n";
  auto r = Sync(src, AfterDownload());
  EXPECT_TRUE(r.ok) << (r.problems.empty() ? "" : r.problems[0]);
  EXPECT_TRUE(Archived(11));
  EXPECT_EQ(r.fetched, 1);
  EXPECT_EQ(r.deleted, 2);  // both provably archived now
  EXPECT_TRUE(src.mailbox.empty());
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"1", "2", "1"}));
  // The deletion is recorded for the message that was deleted, not for the
  // one archived from that place before.
  auto deleted_at = [&](int n) {
    auto info = archive_->GetInfo(archive_->FindByMessageId("m" + std::to_string(n) + "@example.org")->at(0));
    return info->value().locations.at(0).deleted_at.has_value();
  };
  EXPECT_TRUE(deleted_at(11));
  EXPECT_TRUE(deleted_at(2));
  EXPECT_FALSE(deleted_at(1));
}

// The same size but another INTERNALDATE: fetched, and kept under
// older-than (it was archived only now).
TEST_F(EngineTest, ReusedPlaceWithAnotherInternalDateIsFetchedNotDeleted) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  src.internal_dates["1"] = 1000;
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  src.mailbox["1"] = Message(7);  // as long as Message(1)
  src.internal_dates["1"] = 2000;
  SyncSettings s;
  s.delete_policy = {DeletePolicy::Kind::kOlderThan, 30};
  s.now = ::time(nullptr) + 31 * 86400;
  auto r = Sync(src, s);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.fetched, 1);
  EXPECT_TRUE(Archived(7));
  EXPECT_EQ(r.deleted, 0);
  EXPECT_EQ(src.mailbox.count("1"), 1u);
  // A month later the copy archived now is due, and proven by the listing.
  s.now += 31 * 86400;
  auto later = Sync(src, s);
  EXPECT_EQ(later.fetched + later.duplicates, 0);
  EXPECT_EQ(later.deleted, 1);
  EXPECT_TRUE(src.mailbox.empty());
}

// A listed size of 0 (unknown) proves nothing: the message is fetched
// again, and deleted because its hash is the one archived from there.
TEST_F(EngineTest, UnknownSizeIsFetchedAgainBeforeDeletion) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  src.listed_sizes["1"] = 0;
  auto r = Sync(src, AfterDownload());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.fetched, 0);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"1", "1"}));
}

// A listed size that only the archived bytes can contradict (plausible for
// their length, but not their CRLF count): fetched again, then deleted.
TEST_F(EngineTest, SizeThatDiffersFromTheArchivedCopyIsFetchedAgain) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  src.listed_sizes["1"] = CrlfSize(Message(1)) - 1;
  auto r = Sync(src, AfterDownload());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"1", "1"}));
}

// With the listing in agreement, a known message is deleted without being
// fetched again.
TEST_F(EngineTest, KnownMessageWithMatchingListingIsNotFetchedAgain) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  src.internal_dates["1"] = 1000;
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  auto r = Sync(src, AfterDownload());
  EXPECT_EQ(r.deleted, 1);
  EXPECT_EQ(src.fetched, std::vector<std::string>{"1"});
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

ServerMessage Listed(const std::string& key, uint64_t size, std::optional<int64_t> internal_date = std::nullopt) {
  ServerMessage m;
  m.origin = {"imap", "acct", "INBOX", key, 5, "", internal_date};
  m.size = size;
  return m;
}

// Known at uidvalidity 5 in INBOX: KEY holds message ID, archived SIZE
// bytes (LF) at `seen_at` 100.
KnownLocation Copy(const std::string& key, int64_t id, uint64_t size, std::optional<int64_t> internal_date = {}) {
  return {key, 5, id, "", 100, std::nullopt, size, internal_date};
}

SyncSettings Policy(DeletePolicy::Kind kind, int days = 0) {
  SyncSettings s;
  s.now = 1000;
  s.delete_policy = {kind, days};
  return s;
}

TEST(PlanSyncTest, ReusedPlaceAfterRecordedDeletionIsFetchedAgain) {
  std::vector<ServerMessage> listing{Listed("u1", 12)};
  KnownFolders known;
  known["INBOX"].push_back(Copy("u1", 7, 10));
  known["INBOX"][0].deleted_at = 200;
  auto s = Policy(DeletePolicy::Kind::kAfterDownload);
  auto plan = PlanSync(listing, known, s);
  EXPECT_EQ(plan.fetch.size(), 1u);
  EXPECT_TRUE(plan.deletable.empty());
  known["INBOX"][0].deleted_at.reset();
  plan = PlanSync(listing, known, s);
  EXPECT_TRUE(plan.fetch.empty());
  ASSERT_EQ(plan.deletable.size(), 1u);
  EXPECT_EQ(plan.deletable[0].second, 7);
}

// Issue 13.2: a place whose message `delete` removed is neither fetched
// again nor deleted, whatever the policy; another message listed there (a
// reused UIDL: another size) is fetched.
TEST(PlanSyncTest, RemovedPlaceIsNeitherFetchedNorDeleted) {
  std::vector<ServerMessage> listing{Listed("u1", 12), Listed("u2", 30)};
  listing[0].has_flags = true;
  listing[0].origin.flags = "\\Seen";
  KnownFolders known;
  known["INBOX"] = {Copy("u1", 0, 10), Copy("u2", 0, 10)};
  for (auto& k : known["INBOX"]) {
    k.removed_at = 150;
    k.listed_size = 12;
  }
  known["INBOX"][0].gone_at = 160;  // listed again after a restore: still removed
  for (auto kind : {DeletePolicy::Kind::kNever, DeletePolicy::Kind::kAfterDownload}) {
    auto plan = PlanSync(listing, known, Policy(kind));
    ASSERT_EQ(plan.fetch.size(), 1u);
    EXPECT_EQ(plan.fetch[0].origin.key, "u2");
    EXPECT_TRUE(plan.deletable.empty());
    EXPECT_TRUE(plan.flag_changes.empty());
  }
}

TEST(PlanSyncTest, KeyListedTwiceIsFetchedAndNeverDeletable) {
  std::vector<ServerMessage> listing{Listed("u1", 12), Listed("u2", 12), Listed("u1", 30)};
  KnownFolders known;
  known["INBOX"] = {Copy("u1", 7, 10), Copy("u2", 8, 10)};
  for (auto kind : {DeletePolicy::Kind::kNever, DeletePolicy::Kind::kAfterDownload}) {
    auto plan = PlanSync(listing, known, Policy(kind));
    ASSERT_EQ(plan.fetch.size(), 2u);
    EXPECT_EQ(plan.fetch[0].origin.key, "u1");
    EXPECT_EQ(plan.fetch[1].origin.key, "u1");
    EXPECT_EQ(plan.listed_twice.size(), 2u);
    EXPECT_EQ(plan.deletable.size(), kind == DeletePolicy::Kind::kNever ? 0u : 1u);  // u2 only
  }
}

// Issue 11.1: whatever the policy, a reused place's new message is fetched
// (and kept if new); only the policy may delete decides deletion.
TEST(PlanSyncTest, ListingThatContradictsTheArchivedCopyIsFetchedWhateverThePolicy) {
  KnownFolders known;
  known["INBOX"] = {Copy("1", 7, 10, 500), Copy("2", 8, 10, 500), Copy("3", 9, 10, 500)};
  std::vector<ServerMessage> listing{
      Listed("1", 15, 600),  // another INTERNALDATE
      Listed("2", 9, 500),   // shorter than the archived bytes
      Listed("3", 21, 500),  // more than twice as long (CRLF)
  };
  for (auto s : {Policy(DeletePolicy::Kind::kNever), Policy(DeletePolicy::Kind::kAfterDownload),
                 Policy(DeletePolicy::Kind::kOlderThan, 30)}) {
    auto plan = PlanSync(listing, known, s);
    EXPECT_EQ(plan.fetch.size(), 3u);
    EXPECT_TRUE(plan.deletable.empty());
  }
}

TEST(PlanSyncTest, UnknownSizeProvesNothing) {
  KnownFolders known;
  known["INBOX"] = {Copy("1", 7, 10)};
  std::vector<ServerMessage> listing{Listed("1", 0)};
  auto due = PlanSync(listing, known, Policy(DeletePolicy::Kind::kAfterDownload));
  EXPECT_EQ(due.fetch.size(), 1u);
  EXPECT_TRUE(due.deletable.empty());
  // Not due: trusted as known (nothing to prove yet).
  auto not_due = PlanSync(listing, known, Policy(DeletePolicy::Kind::kOlderThan, 30));
  EXPECT_TRUE(not_due.fetch.empty());
  EXPECT_TRUE(not_due.deletable.empty());
}

// After a reuse the catalog keeps the second message under "KEY#ID": that
// copy is the one the listing may match.
TEST(PlanSyncTest, SecondCopyAtAReusedPlaceCounts) {
  KnownFolders known;
  known["INBOX"] = {Copy("1", 7, 10, 500), Copy("1#9", 9, 30, 700)};
  std::vector<ServerMessage> listing{Listed("1", 40, 700)};
  auto plan = PlanSync(listing, known, Policy(DeletePolicy::Kind::kAfterDownload));
  EXPECT_TRUE(plan.fetch.empty());
  ASSERT_EQ(plan.deletable.size(), 1u);
  EXPECT_EQ(plan.deletable[0].second, 9);
}

TEST(PlanSyncTest, FlagChangesOnlyForTheCopyTheListingAgreesWith) {
  KnownFolders known;
  known["INBOX"] = {Copy("1", 7, 10, 500), Copy("2", 8, 10, 500)};
  std::vector<ServerMessage> listing{Listed("1", 12, 500), Listed("2", 12, 501)};
  for (auto& m : listing) {
    m.has_flags = true;
    m.origin.flags = "\\Seen";
  }
  auto plan = PlanSync(listing, known, Policy(DeletePolicy::Kind::kNever));
  ASSERT_EQ(plan.flag_changes.size(), 1u);
  EXPECT_EQ(plan.flag_changes[0].origin.key, "1");
}

TEST(ListedSizeTest, CountsLineEndsAsCrlf) {
  EXPECT_EQ(ListedSize(""), 0u);
  EXPECT_EQ(ListedSize("a\nbc\n"), 7u);
  EXPECT_EQ(ListedSize("no line end"), 11u);
}

// ---- Issue 12.1 / 12.6 / 11.1: renumbered folders, vanished places --------

// MemorySource whose listing is complete (as POP3's UIDL is) and, when
// `renumber` is set, under a new UIDVALIDITY at every listing (as Courier
// and Mailutils give one at every EXAMINE).
class RenumberingSource : public MemorySource {
 public:
  bool renumber = false;
  uint64_t uidvalidity = 100;
  Result<Listing> List(const ListContext& context) override {
    if (renumber) ++uidvalidity;
    MK_ASSIGN_OR_RETURN(Listing listing, MemorySource::List(context));
    for (auto& m : listing.messages) m.origin.uidvalidity = uidvalidity;
    listing.complete_folders.emplace("INBOX", uidvalidity);
    return listing;
  }
};

class PlacesTest : public EngineTest {
 protected:
  // The places recorded for message n: (uidvalidity, gone).
  std::vector<std::pair<uint64_t, bool>> Places(int n) {
    auto ids = archive_->FindByMessageId("m" + std::to_string(n) + "@example.org");
    std::vector<std::pair<uint64_t, bool>> out;
    if (!ids || ids->empty()) return out;
    auto info = archive_->GetInfo(ids->at(0));
    for (const auto& l : info->value().locations) out.emplace_back(l.uidvalidity, l.gone_at.has_value());
    std::sort(out.begin(), out.end());
    return out;
  }
  int64_t Rows() { return archive_->Stats()->locations; }
  static RenumberingSource Dated(int count) {
    RenumberingSource src;
    for (int i = 1; i <= count; ++i) {
      src.mailbox[std::to_string(i)] = Message(i);
      src.internal_dates[std::to_string(i)] = 1700000000 + i;
    }
    return src;
  }
  static bool Says(const AccountReport& r, const std::string& text) {
    return std::any_of(r.problems.begin(), r.problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
  }
};

TEST_F(PlacesTest, RenumberedFolderIsNeitherFetchedAgainNorGivenNewPlaces) {
  RenumberingSource src = Dated(3);
  src.renumber = true;
  ASSERT_EQ(Sync(src, {}).fetched, 3);
  ASSERT_EQ(Rows(), 3);
  for (int run = 2; run <= 3; ++run) {
    auto r = Sync(src, {});
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.errors, 0);
    EXPECT_EQ(r.fetched + r.duplicates, 0) << "run " << run;
    EXPECT_EQ(Rows(), 3) << "run " << run;
    EXPECT_TRUE(Says(r, "new UIDVALIDITY (" + std::to_string(src.uidvalidity - 1) + " -> " +
                            std::to_string(src.uidvalidity) + ")"));
    EXPECT_TRUE(Says(r, "open the folder once read-write with a mail client"));
  }
  EXPECT_EQ(src.fetched.size(), 3u);
  EXPECT_EQ(Places(2), (std::vector<std::pair<uint64_t, bool>>{{src.uidvalidity, false}}));
}

TEST_F(PlacesTest, RenumberedFolderWithAnotherMessageUnderAKnownUidIsFetchedAgain) {
  RenumberingSource src = Dated(3);
  ASSERT_EQ(Sync(src, {}).fetched, 3);
  // A real UIDVALIDITY change: UID 2 now holds another message.
  src.renumber = true;
  src.mailbox["2"] = Message(22);
  auto r = Sync(src, {});
  EXPECT_FALSE(Says(r, "new UIDVALIDITY"));
  EXPECT_EQ(r.fetched, 1);  // message 22
  EXPECT_EQ(r.duplicates, 2);
  EXPECT_TRUE(Archived(22));
  // The old places are gone, the new ones live; the mail stays.
  EXPECT_EQ(Places(1), (std::vector<std::pair<uint64_t, bool>>{{100, true}, {101, false}}));
  EXPECT_EQ(Places(2), (std::vector<std::pair<uint64_t, bool>>{{100, true}}));
  EXPECT_EQ(ArchivedCount(), 4);
}

TEST_F(PlacesTest, RenumberedPlacesAreComparedByHashBeforeDeletion) {
  RenumberingSource src = Dated(2);
  src.renumber = true;
  ASSERT_EQ(Sync(src, {}).fetched, 2);
  auto r = Sync(src, AfterDownload());
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.duplicates, 2);  // fetched again, compared by hash, stored once
  EXPECT_EQ(r.deleted, 2);
  EXPECT_EQ(Rows(), 2);
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"1", "2", "1", "2"}));
}

TEST_F(PlacesTest, UndatedListingIsNotTakenForARenumbering) {
  RenumberingSource src;
  src.mailbox["1"] = Message(1);
  src.renumber = true;
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  auto r = Sync(src, {});
  EXPECT_FALSE(Says(r, "new UIDVALIDITY"));
  EXPECT_EQ(r.duplicates, 1);  // fetched again: size alone proves nothing
}

TEST_F(PlacesTest, VanishedPlacesAreMarkedGoneAndComeBack) {
  RenumberingSource src = Dated(3);
  ASSERT_EQ(Sync(src, {}).fetched, 3);
  std::string second = src.mailbox["2"];
  src.mailbox.erase("2");  // expunged by another client
  auto r = Sync(src, {});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(Places(2), (std::vector<std::pair<uint64_t, bool>>{{100, true}}));
  EXPECT_EQ(Places(1), (std::vector<std::pair<uint64_t, bool>>{{100, false}}));
  EXPECT_EQ(ArchivedCount(), 3);  // the mail stays
  // Listed again (a restore): the place is live again, no second row.
  src.mailbox["2"] = second;
  r = Sync(src, {});
  EXPECT_EQ(r.duplicates, 1);
  EXPECT_EQ(Places(2), (std::vector<std::pair<uint64_t, bool>>{{100, false}}));
  EXPECT_EQ(Rows(), 3);
}

// Issue 13.2: a removed message's place follows the folder's renumbering,
// is marked gone when it vanishes and, listed again (a restore), is still
// neither fetched nor deleted.
TEST_F(PlacesTest, RemovedPlaceFollowsARenumberingAndStaysRemoved) {
  RenumberingSource src = Dated(3);
  src.renumber = true;
  ASSERT_EQ(Sync(src, {}).fetched, 3);
  auto removed = archive_->Remove(*archive_->FindByMessageId("m2@example.org"), {"delete", "m2", "", "u", "h", 1});
  ASSERT_TRUE(removed) << removed.error().ToString();
  ASSERT_EQ(removed->removed.size(), 1u);
  auto r = Sync(src, {});
  EXPECT_TRUE(Says(r, "new UIDVALIDITY"));
  EXPECT_EQ(r.fetched + r.duplicates, 0);
  auto places = *archive_->RemovedPlaces("pop3", "acct", "INBOX");
  ASSERT_EQ(places.size(), 1u);
  EXPECT_EQ(places[0].key, "2");
  EXPECT_EQ(places[0].uidvalidity, src.uidvalidity);
  EXPECT_FALSE(places[0].gone_at);
  src.renumber = false;
  const std::string second = src.mailbox["2"];
  src.mailbox.erase("2");
  EXPECT_TRUE(Sync(src, {}).ok);
  EXPECT_TRUE(archive_->RemovedPlaces("pop3", "acct", "INBOX")->at(0).gone_at);
  src.mailbox["2"] = second;
  r = Sync(src, AfterDownload());
  EXPECT_EQ(r.fetched + r.duplicates, 0);
  EXPECT_EQ(src.deleted, (std::vector<std::string>{"1", "3"}));
  EXPECT_EQ(src.fetched.size(), 3u);
  EXPECT_FALSE(Archived(2));
}

TEST_F(PlacesTest, PlacesOfAnIncompleteListingAreNotMarkedGone) {
  MemorySource src;  // says nothing about completeness
  src.mailbox["1"] = Message(1);
  src.mailbox["2"] = Message(2);
  ASSERT_EQ(Sync(src, {}).fetched, 2);
  src.mailbox.erase("2");
  Sync(src, {});
  EXPECT_EQ(Places(2), (std::vector<std::pair<uint64_t, bool>>{{0, false}}));
}

// Issue 11.1 under delete = never: a reused place's new message is archived.
TEST_F(PlacesTest, ReusedPlaceIsArchivedUnderDeleteNever) {
  MemorySource src;
  src.mailbox["1"] = Message(1);
  ASSERT_EQ(Sync(src, {}).fetched, 1);
  src.mailbox["1"] = Message(11) + "a longer body\n";
  auto r = Sync(src, {});
  EXPECT_EQ(r.fetched, 1);
  EXPECT_TRUE(Archived(11));
  r = Sync(src, {});
  EXPECT_EQ(r.fetched + r.duplicates, 0);  // known from then on
}

// A source with folders: one that fails is that folder's error; the next
// folder is still synced; a lost session stops the account.
class FoldersSource : public MemorySource {
 public:
  std::vector<std::string> folders{"A", "Broken", "C"};
  ErrorCode broken_code = ErrorCode::kNotFound;
  std::string listed_folder;
  Result<FolderList> Folders(const ListContext&) override { return FolderList{folders, 0, {}}; }
  Result<Listing> ListFolder(const std::string& folder, const ListContext& context) override {
    if (folder == "Broken") return MakeError(broken_code, "EXAMINE Broken failed: cannot open");
    MK_ASSIGN_OR_RETURN(Listing listing, MemorySource::List(context));
    for (auto& m : listing.messages) {
      m.origin.folder = folder;
      m.origin.key = folder + m.origin.key;
    }
    return listing;
  }
};

TEST_F(PlacesTest, FailingFolderDoesNotStopTheNextOnes) {
  FoldersSource src;
  src.mailbox["1"] = Message(1);
  auto r = Sync(src, {});
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.folders_failed, 1);
  EXPECT_EQ(r.errors, 1);
  EXPECT_EQ(r.duplicates + r.fetched, 2);  // A and C
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("folder Broken not synced: EXAMINE Broken failed"), std::string::npos);
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"A1", "C1"}));

  src.broken_code = ErrorCode::kUnavailable;  // the connection is gone
  src.mailbox["2"] = Message(2);
  r = Sync(src, {});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(src.fetched, (std::vector<std::string>{"A1", "C1", "A2"}));  // C not tried
}

}  // namespace
}  // namespace mailkeep::sync
