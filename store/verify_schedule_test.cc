#include "store/verify_schedule.h"

#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/util/files.h"

namespace mailkeep {
namespace {

using Clock = std::chrono::steady_clock;

class VerifyScheduleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-verify-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/archive";
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive) << archive.error().ToString();
    std::vector<RawMessage> batch;
    for (int i = 1; i <= 10; ++i) {
      RawMessage m;
      m.bytes = "Subject: m" + std::to_string(i) + "\nMessage-ID: <m" + std::to_string(i) + "@x>\n\nbody\n";
      m.origin.source = "eml";
      m.origin.account = "local";
      m.origin.folder = "/in";
      m.origin.key = "k" + std::to_string(i);
      batch.push_back(std::move(m));
    }
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
    archive_ = std::move(*archive);
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }

  ScheduledVerify Run(const std::string& subset, VerifyOptions options = {}) {
    auto spec = ParseSubset(subset);
    EXPECT_TRUE(spec) << subset;
    int problems = 0;
    auto run = VerifyOnSchedule(*archive_, *spec, options, [&](const VerifyProblem&) { ++problems; });
    EXPECT_TRUE(run) << run.error().ToString();
    EXPECT_EQ(problems, 0);
    return *run;
  }

  std::string dir_;
  std::unique_ptr<Archive> archive_;
};

TEST_F(VerifyScheduleTest, RotatingSubsetsReadEveryMessageOnceAndWrapAround) {
  // ids 1..10 in thirds by id % 3: {3,6,9}, {1,4,7,10}, {2,5,8}.
  std::vector<std::pair<uint32_t, int64_t>> seen;
  for (int run = 0; run < 4; ++run) {
    auto r = Run("next/3");
    EXPECT_EQ(r.of, 3u);
    EXPECT_TRUE(r.result.complete);
    seen.emplace_back(r.subset, r.result.checked);
  }
  EXPECT_EQ(seen, (std::vector<std::pair<uint32_t, int64_t>>{{1, 3}, {2, 4}, {3, 3}, {1, 3}}));
}

TEST_F(VerifyScheduleTest, ExplicitSubsetLeavesTheRotationAlone) {
  EXPECT_EQ(Run("next/3").subset, 1u);
  auto r = Run("2/3");
  EXPECT_EQ(r.subset, 2u);
  EXPECT_EQ(r.result.checked, 4);
  EXPECT_EQ(Run("next/3").subset, 2u);
  // A different M starts its rotation at 1.
  EXPECT_EQ(Run("next/5").subset, 1u);
  EXPECT_EQ(Run("1/1").result.checked, 10);
}

TEST_F(VerifyScheduleTest, StopsAtTheDeadlineAndTheNextRunResumesWhereItStopped) {
  // A clock that moves one second per look: the deadline passes before the
  // third chunk of two messages.
  Clock::time_point t{};
  VerifyOptions timed;
  timed.chunk = 2;
  timed.clock = [&] { return t += std::chrono::seconds(1); };
  timed.deadline = Clock::time_point{} + std::chrono::seconds(3);
  auto first = Run("1/1", timed);
  EXPECT_FALSE(first.result.complete);
  EXPECT_EQ(first.result.checked, 4);
  EXPECT_EQ(first.result.last_id, 4);
  EXPECT_NE(ReadFile(dir_ + "/verify-state")->find("open 1 1 4"), std::string::npos);

  // The same subset again, without a deadline: the other six, then done.
  auto second = Run("1/1");
  EXPECT_EQ(second.resumed_after, 4);
  EXPECT_EQ(second.result.checked, 6);
  EXPECT_TRUE(second.result.complete);
  EXPECT_EQ(Run("1/1").result.checked, 10);  // finished: starts over
}

TEST_F(VerifyScheduleTest, AStoppedRotatingSubsetIsFinishedBeforeTheRotationMoves) {
  Clock::time_point t{};
  VerifyOptions timed;
  timed.chunk = 1;
  timed.clock = [&] { return t += std::chrono::seconds(1); };
  timed.deadline = Clock::time_point{} + std::chrono::seconds(2);
  auto first = Run("next/2", timed);  // subset 1: ids 2,4,6,8,10; stops after 2
  EXPECT_EQ(first.subset, 1u);
  EXPECT_EQ(first.result.checked, 1);
  auto rest = Run("next/2");
  EXPECT_EQ(rest.subset, 1u);
  EXPECT_EQ(rest.resumed_after, 2);
  EXPECT_EQ(rest.result.checked, 4);
  EXPECT_EQ(Run("next/2").subset, 2u);
}

TEST_F(VerifyScheduleTest, ADamagedStateFileStartsOver) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/verify-state",
                              "mailkeep-verify 1\nrotation 3 9\nopen 5 3 -1\nopen 1 99999999 7\n\xff\n"));
  auto r = Run("next/3");
  EXPECT_EQ(r.subset, 1u);
  EXPECT_EQ(r.resumed_after, 0);
}

TEST(ParseSubsetTest, AcceptsNofMAndNextAndRefusesTheRest) {
  auto s = ParseSubset("3/10");
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->rotating);
  EXPECT_EQ(s->subset, 3u);
  EXPECT_EQ(s->of, 10u);
  s = ParseSubset("next/10");
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->rotating);
  for (const char* bad : {"", "0/10", "11/10", "1/0", "1/100001", "x/3", "1/", "/3", "1/3/4", "-1/3", "1 /3"}) {
    EXPECT_FALSE(ParseSubset(bad)) << bad;
  }
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(ParseDuration("10m")->count(), 600);
  EXPECT_EQ(ParseDuration("90s")->count(), 90);
  EXPECT_EQ(ParseDuration("90")->count(), 90);
  EXPECT_EQ(ParseDuration("2h")->count(), 7200);
  EXPECT_EQ(ParseDuration("1d")->count(), 86400);
  for (const char* bad : {"", "0m", "-5m", "m", "10x", "400d", "99999999999999999999"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

}  // namespace
}  // namespace mailkeep
