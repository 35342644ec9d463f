// Removal, legal hold, audit trail (Archive) and retention (lifecycle).
#include <stdlib.h>

#include <filesystem>
#include <set>

#include <gtest/gtest.h>

#include "store/archive.h"
#include "store/lifecycle/prune.h"
#include "store/lifecycle/retention.h"
#include "store/util/civil_date.h"
#include "store/util/sha256.h"

namespace mailkeep::lifecycle {
namespace {

constexpr int64_t kDay = 86400;

int64_t At(int y, int m, int d) { return DaysFromCivil(y, m, d) * kDay; }

std::string Message(int n, const std::string& date = "Mon, 1 Jan 2024 10:00:00 +0000",
                    const std::string& extra = "") {
  return "From: Person " + std::to_string(n) + " <p" + std::to_string(n) + "@example.org>\nTo: list@example.org\n"
         "Subject: Note " + std::to_string(n) + "\nDate: " + date + "\nMessage-ID: <m" + std::to_string(n) +
         "@example.org>\n" + extra + "\nBody of note " + std::to_string(n) + ".\n";
}

RawMessage Raw(const std::string& bytes, const std::string& key, const std::string& folder = "INBOX",
               const std::string& flags = "") {
  RawMessage m;
  m.bytes = bytes;
  m.origin.source = "imap";
  m.origin.account = "work";
  m.origin.folder = folder;
  m.origin.key = key;
  m.origin.flags = flags;
  return m;
}

class LifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-lifecycle-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/archive";
    auto a = Archive::Create(dir_);
    ASSERT_TRUE(a) << a.error().ToString();
    archive_ = std::move(*a);
  }
  void TearDown() override {
    archive_.reset();
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path());
  }
  std::vector<int64_t> Add(std::vector<RawMessage> batch) {
    auto out = archive_->Ingest(std::move(batch));
    EXPECT_TRUE(out) << out.error().ToString();
    std::vector<int64_t> ids;
    for (const auto& o : *out) ids.push_back(o.id);
    return ids;
  }
  AuditContext Who(const std::string& command) {
    AuditContext w;
    w.command = command;
    w.query = "q-" + command;
    w.user = "tester";
    w.host = "box";
    w.at = At(2025, 6, 1);
    return w;
  }
  std::string dir_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(LifecycleTest, RemoveTakesEveryRowAndKeepsTheRestAndTheAudit) {
  auto ids = Add({Raw(Message(1), "1"), Raw(Message(2), "2"), Raw(Message(3, "Mon, 1 Jan 2024 10:00:00 +0000",
                                                                       "In-Reply-To: <m1@example.org>\n"), "3")});
  const std::string sha1 = ToHex(Sha256(Message(1)));
  auto removed = archive_->Remove({ids[0], 999}, Who("delete"));
  ASSERT_TRUE(removed) << removed.error().ToString();
  EXPECT_EQ(removed->removed, std::vector<int64_t>{ids[0]});
  EXPECT_EQ(removed->missing, 1);
  EXPECT_FALSE(*archive_->GetInfo(ids[0]));
  EXPECT_TRUE(archive_->FindByMessageId("<m1@example.org>")->empty());
  EXPECT_EQ(*archive_->ReadRaw(ids[1]), Message(2));
  EXPECT_EQ(*archive_->ReadRaw(ids[2]), Message(3, "Mon, 1 Jan 2024 10:00:00 +0000", "In-Reply-To: <m1@example.org>\n"));
  EXPECT_EQ(archive_->Stats()->messages, 2);
  int64_t problems = 0;
  auto checked = archive_->Verify(false, [&](const VerifyProblem&) { ++problems; });
  ASSERT_TRUE(checked);
  EXPECT_EQ(*checked, 2);
  EXPECT_EQ(problems, 0);
  // Its id waits in the index queue, for the index to drop it.
  auto pending = archive_->PendingIndex(100);
  ASSERT_TRUE(pending);
  EXPECT_TRUE(std::set<int64_t>(pending->begin(), pending->end()).count(ids[0]));

  auto trail = archive_->AuditTrail();
  ASSERT_TRUE(trail);
  ASSERT_EQ(trail->size(), 1u);
  const AuditEntry& e = trail->front();
  EXPECT_EQ(e.action, AuditAction::kRemoved);
  EXPECT_EQ(e.message_id, "m1@example.org");
  EXPECT_EQ(e.sha256, sha1);
  EXPECT_EQ(e.size, Message(1).size());
  EXPECT_EQ(e.date, At(2024, 1, 1) + 10 * 3600);
  EXPECT_EQ(e.user, "tester");
  EXPECT_EQ(e.host, "box");
  EXPECT_EQ(e.command, "delete");
  EXPECT_EQ(e.query, "q-delete");
  EXPECT_EQ(e.at, At(2025, 6, 1));

  // A reply to the removed message still joins its thread (a ghost).
  auto reply = Add({Raw(Message(4, "Mon, 1 Jan 2024 10:00:00 +0000", "In-Reply-To: <m1@example.org>\n"), "4")});
  EXPECT_EQ((*archive_->GetInfo(reply[0]))->thread, (*archive_->GetInfo(ids[2]))->thread);
}

TEST_F(LifecycleTest, HeldMessagesSurviveRemovalUntilReleased) {
  auto ids = Add({Raw(Message(1), "1"), Raw(Message(2), "2")});
  AuditContext hold = Who("hold");
  hold.reason = "case 7";
  auto held = archive_->Hold({ids[0]}, hold);
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, std::vector<int64_t>{ids[0]});
  EXPECT_TRUE(archive_->Hold({ids[0]}, hold)->empty());  // already held
  auto holds = archive_->Holds();
  ASSERT_TRUE(holds);
  ASSERT_EQ(holds->size(), 1u);
  EXPECT_EQ(holds->front().reason, "case 7");
  EXPECT_EQ(holds->front().message_id, "m1@example.org");

  auto removed = archive_->Remove(ids, Who("delete"));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->removed, std::vector<int64_t>{ids[1]});
  EXPECT_EQ(removed->held, std::vector<int64_t>{ids[0]});
  EXPECT_TRUE(*archive_->GetInfo(ids[0]));

  EXPECT_EQ(*archive_->Release({ids[0]}, Who("release")), std::vector<int64_t>{ids[0]});
  removed = archive_->Remove({ids[0]}, Who("delete"));
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->removed, std::vector<int64_t>{ids[0]});
  std::vector<AuditAction> actions;
  auto trail = archive_->AuditTrail();
  ASSERT_TRUE(trail);
  for (const auto& e : *trail) actions.push_back(e.action);
  EXPECT_EQ(actions, (std::vector<AuditAction>{AuditAction::kHeld, AuditAction::kRemoved, AuditAction::kReleased,
                                               AuditAction::kRemoved}));
}

TEST_F(LifecycleTest, RebuiltCatalogHonoursTombstonesButNotLaterCopies) {
  auto ids = Add({Raw(Message(1), "1"), Raw(Message(2), "2"), Raw(Message(3), "3")});
  ASSERT_TRUE(archive_->Remove({ids[0], ids[1]}, Who("delete")));
  Add({Raw(Message(2), "2-again")});  // archived again after its removal
  archive_.reset();
  auto report = Archive::RebuildCatalog(dir_);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->messages, 2);
  auto a = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(a);
  EXPECT_TRUE((*a)->FindByMessageId("<m1@example.org>")->empty());
  EXPECT_EQ((*a)->FindByMessageId("<m2@example.org>")->size(), 1u);
  EXPECT_EQ((*a)->FindByMessageId("<m3@example.org>")->size(), 1u);
}

// ---- retention ---------------------------------------------------------------

TEST(RetentionTest, ParsesPeriods) {
  EXPECT_EQ(*ParsePeriod("7y"), (Period{7, 'y'}));
  EXPECT_EQ(*ParsePeriod("90d"), (Period{90, 'd'}));
  EXPECT_EQ(*ParsePeriod("4w"), (Period{4, 'w'}));
  EXPECT_EQ(*ParsePeriod("18m"), (Period{18, 'm'}));
  EXPECT_TRUE(ParsePeriod("forever")->forever());
  for (const char* bad : {"", "y", "7", "0d", "-1d", "7x", "7 y", "1000000d", "7Y"}) {
    EXPECT_FALSE(ParsePeriod(bad)) << bad;
  }
}

TEST(RetentionTest, CutoffIsCalendarArithmetic) {
  EXPECT_EQ(Cutoff({1, 'm'}, At(2024, 3, 31) + 3600), At(2024, 2, 29) + 3600);
  EXPECT_EQ(Cutoff({1, 'y'}, At(2024, 2, 29)), At(2023, 2, 28));
  EXPECT_EQ(Cutoff({7, 'y'}, At(2026, 1, 15)), At(2019, 1, 15));
  EXPECT_EQ(Cutoff({13, 'm'}, At(2026, 1, 15)), At(2024, 12, 15));
  EXPECT_EQ(Cutoff({2, 'w'}, At(2026, 1, 15)), At(2026, 1, 1));
  EXPECT_EQ(Cutoff({10, 'd'}, At(2026, 1, 15)), At(2026, 1, 5));
}

TEST(RetentionTest, TheMostSpecificRuleWins) {
  Policy p;
  p.global.period = Period{7, 'y'};
  AccountRule work{"work", {Period{1, 'y'}, false}, {{"Trash", {Period{30, 'd'}, {}}}, {"Lists/*", {Period{}, {}}}}};
  p.accounts.push_back(work);
  EXPECT_EQ(*RuleFor(p, "home", "INBOX").period, (Period{7, 'y'}));
  EXPECT_TRUE(*RuleFor(p, "home", "INBOX").keep_flagged);
  EXPECT_EQ(*RuleFor(p, "work", "INBOX").period, (Period{1, 'y'}));
  EXPECT_FALSE(*RuleFor(p, "work", "INBOX").keep_flagged);
  EXPECT_EQ(*RuleFor(p, "work", "Trash").period, (Period{30, 'd'}));
  EXPECT_FALSE(*RuleFor(p, "work", "Trash").keep_flagged);  // inherited from the account
  EXPECT_TRUE(RuleFor(p, "work", "Lists/dev").period->forever());
  EXPECT_TRUE(FolderMatches("Lists/*", "Lists/a/b"));
  EXPECT_TRUE(FolderMatches("*", ""));
  EXPECT_FALSE(FolderMatches("Lists/*", "Listsx"));
  EXPECT_TRUE(FolderMatches("a*b*c", "aXbYbZc"));
}

TEST(RetentionTest, JudgesByTheLaterDateAndEveryPlace) {
  Policy p;
  p.global.period = Period{1, 'y'};
  const int64_t now = At(2026, 1, 1);
  Candidate old{At(2020, 1, 1), At(2025, 12, 1), {{"imap", "a", "INBOX", "", {}}}};
  EXPECT_EQ(Judge(p, old, now), Verdict::kExpired);
  // The server received it recently: the later date counts.
  Candidate received = old;
  received.places[0].internal_date = At(2025, 6, 1);
  EXPECT_EQ(AgeFrom(received), At(2025, 6, 1));
  EXPECT_EQ(Judge(p, received, now), Verdict::kKeep);
  // Only an IMAP server's date counts (a Maildir file's mtime is when it was copied).
  received.places[0].source = "maildir";
  EXPECT_EQ(AgeFrom(received), At(2020, 1, 1));
  // No Date header: dated by when it was archived.
  Candidate undated{std::nullopt, At(2025, 12, 1), {}};
  EXPECT_EQ(Judge(p, undated, now), Verdict::kKeep);
  // Flagged: kept with keep_flagged (default yes), expired without.
  Candidate flagged = old;
  flagged.places[0].flags = "\\Seen \\Flagged";
  EXPECT_EQ(Judge(p, flagged, now), Verdict::kKeptFlagged);
  p.global.keep_flagged = false;
  EXPECT_EQ(Judge(p, flagged, now), Verdict::kExpired);
  // A place whose rule keeps it longer keeps it.
  p.accounts.push_back({"b", {Period{}, {}}, {}});
  Candidate two = old;
  two.places.push_back({"imap", "b", "INBOX", "", {}});
  EXPECT_EQ(Judge(p, two, now), Verdict::kKeep);
  // No period anywhere: nothing expires.
  EXPECT_TRUE(Policy{}.empty());
  EXPECT_EQ(Judge(Policy{}, old, now), Verdict::kKeep);
}

TEST_F(LifecycleTest, SelectExpiredReadsTheArchive) {
  auto ids = Add({Raw(Message(1, "Sun, 1 Jan 2017 10:00:00 +0000"), "1"),
                  Raw(Message(2, "Sun, 1 Jan 2017 10:00:00 +0000"), "2", "INBOX", "\\Flagged"),
                  Raw(Message(3, "Mon, 1 Jan 2024 10:00:00 +0000"), "3")});
  Policy p;
  p.global.period = Period{7, 'y'};
  auto sel = SelectExpired(*archive_, p, At(2026, 1, 1));
  ASSERT_TRUE(sel) << sel.error().ToString();
  EXPECT_EQ(sel->expired, std::vector<int64_t>{ids[0]});
  EXPECT_EQ(sel->kept_flagged, 1);
  EXPECT_EQ(sel->examined, 3);
}

}  // namespace
}  // namespace mailkeep::lifecycle
