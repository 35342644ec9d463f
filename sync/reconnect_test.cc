// The reconnect budget: how many, how long a pause, and when progress
// restarts the count.
#include "sync/reconnect.h"

#include <vector>

#include <gtest/gtest.h>

namespace mailkeep::sync {
namespace {

TEST(ReconnectBudget, ThreeInARowWithGrowingPausesThenNoMore) {
  std::vector<int> slept;
  ReconnectBudget budget(3, 1000, [&](int s) { slept.push_back(s); });
  EXPECT_TRUE(budget.Spend());
  EXPECT_TRUE(budget.Spend());
  EXPECT_TRUE(budget.Spend());
  EXPECT_FALSE(budget.Spend());
  EXPECT_FALSE(budget.Spend());
  EXPECT_EQ(slept, (std::vector<int>{1, 2}));  // the first reconnect is immediate
  EXPECT_EQ(budget.total(), 3);
  EXPECT_EQ(budget.GaveUp("h:993", "IMAP LIST: connection closed"),
            "the server at h:993 ended the session 4 times in a row without progress (gave up after 3 "
            "reconnects): IMAP LIST: connection closed; the next run goes on where this one stopped");
}

TEST(ReconnectBudget, ProgressRestartsTheCountInARow) {
  std::vector<int> slept;
  ReconnectBudget budget(3, 1000, [&](int s) { slept.push_back(s); });
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(budget.Spend()) << i;
    ASSERT_TRUE(budget.Spend()) << i;
    budget.Progress();
  }
  EXPECT_EQ(budget.total(), 20);
  EXPECT_EQ(budget.in_a_row(), 0);
  EXPECT_EQ(slept, std::vector<int>(10, 1));
}

TEST(ReconnectBudget, TotalBoundsEvenWithProgress) {
  ReconnectBudget budget(3, 5, [](int) {});
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(budget.Spend()) << i;
    budget.Progress();
  }
  EXPECT_FALSE(budget.Spend());
  EXPECT_EQ(budget.GaveUp("h:110", "X"),
            "the server at h:110 ended the session 6 times in this run (gave up after 5 reconnects): X; the "
            "next run goes on where this one stopped");
}

TEST(ReconnectBudget, NoneAllowed) {
  ReconnectBudget budget(0, 1000, [](int) { ADD_FAILURE() << "slept"; });
  EXPECT_FALSE(budget.Spend());
}

}  // namespace
}  // namespace mailkeep::sync
