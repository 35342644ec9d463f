#include "sync/net/throttle.h"

#include <gtest/gtest.h>

#include <vector>

#include "sync/net/rate_limit.h"

namespace mailkeep::net {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kFallback{30000};

TEST(ThrottleWaitTest, ReadsOffice365Replies) {
  EXPECT_EQ(ThrottleWait("[THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds", kFallback),
            milliseconds(299961));
  EXPECT_EQ(ThrottleWait("Request is throttled. Suggested Backoff Time: 200 milliseconds", kFallback),
            milliseconds(200));
  EXPECT_EQ(ThrottleWait("[UNAVAILABLE] suggested backoff time: 3 seconds", kFallback), milliseconds(3000));
  EXPECT_EQ(ThrottleWait("[THROTTLED] slow down", kFallback), kFallback);
  EXPECT_EQ(ThrottleWait("Request is throttled.", kFallback), kFallback);
}

TEST(ThrottleWaitTest, OtherRefusalsAreNoThrottling) {
  EXPECT_FALSE(ThrottleWait("[UNAVAILABLE] Temporary failure", kFallback));
  EXPECT_FALSE(ThrottleWait("[AUTHENTICATIONFAILED] Authentication failed.", kFallback));
  EXPECT_FALSE(ThrottleWait("", kFallback));
}

TEST(ThrottleWaitTest, HugeNumbersAreCapped) {
  EXPECT_EQ(ThrottleWait("Suggested Backoff Time: 99999999999999999999999 milliseconds", kFallback),
            milliseconds(86400000));
  EXPECT_EQ(ThrottleWait("Suggested Backoff Time: 99999999999 seconds", kFallback), milliseconds(86400000));
}

struct Recorder {
  std::vector<milliseconds> waits;
  ThrottleOptions Options(milliseconds max_wait, int max_tries = 5) {
    ThrottleOptions o;
    o.max_wait = max_wait;
    o.max_tries = max_tries;
    o.sleep = [this](milliseconds d) { waits.push_back(d); };
    return o;
  }
};

TEST(ThrottleTest, WaitsAsAskedWithinTheBudget) {
  Recorder r;
  Throttle t(r.Options(milliseconds(1000)));
  auto s = t.Wait("[THROTTLED] Suggested Backoff Time: 400 milliseconds", 1, "UID FETCH at h:1");
  ASSERT_TRUE(s);
  EXPECT_TRUE(*s);
  s = t.Wait("[THROTTLED] Suggested Backoff Time: 500 milliseconds", 2, "UID FETCH at h:1");
  ASSERT_TRUE(s && *s);
  EXPECT_EQ(r.waits, (std::vector<milliseconds>{milliseconds(400), milliseconds(500)}));
  EXPECT_EQ(t.waited(), milliseconds(900));
  // 200 ms more would pass the run's 1 s: stop, without waiting.
  s = t.Wait("[THROTTLED] Suggested Backoff Time: 200 milliseconds", 1, "LIST at h:1");
  ASSERT_TRUE(s);
  ASSERT_FALSE(*s);
  EXPECT_EQ(s->error().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(s->error().message().find("after 1 s of throttle_max_wait 1 s"), std::string::npos) << s->error().message();
  EXPECT_EQ(r.waits.size(), 2u);
}

TEST(ThrottleTest, AWaitOverTheCapStopsAtOnce) {
  Recorder r;
  Throttle t(r.Options(milliseconds(120000)));
  auto s = t.Wait("[THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds", 1,
                  "UID FETCH at outlook:993");
  ASSERT_TRUE(s);
  ASSERT_FALSE(*s);
  EXPECT_EQ(s->error().message(),
            "server throttled UID FETCH at outlook:993 (asked to wait 300 s, more than throttle_max_wait 120 s)");
  EXPECT_TRUE(r.waits.empty());
}

TEST(ThrottleTest, TriesAreBounded) {
  Recorder r;
  Throttle t(r.Options(milliseconds(100000), 3));
  EXPECT_TRUE(*t.Wait("[THROTTLED] Suggested Backoff Time: 1 milliseconds", 2, "X"));
  auto s = t.Wait("[THROTTLED] Suggested Backoff Time: 1 milliseconds", 3, "X");
  ASSERT_TRUE(s);
  EXPECT_FALSE(*s);
  EXPECT_NE(s->error().message().find("still throttling after 3 tries"), std::string::npos);
}

TEST(ThrottleTest, NotThrottlingIsLeftToTheCaller) {
  Recorder r;
  Throttle t(r.Options(milliseconds(1000)));
  EXPECT_FALSE(t.Wait("[NONEXISTENT] no such folder", 1, "X"));
  EXPECT_TRUE(r.waits.empty());
}

// A fake clock that only the limiter's sleeps move on.
struct FakeTime {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1000)};
  RateLimit Limit(uint64_t rate) {
    return RateLimit(rate, [this] { return now; }, [this](std::chrono::nanoseconds d) { now += d; });
  }
  double Seconds(std::chrono::steady_clock::time_point since) const {
    return std::chrono::duration<double>(now - since).count();
  }
};

TEST(RateLimitTest, DownloadsTakeAsLongAsTheRateSays) {
  FakeTime t;
  RateLimit limit = t.Limit(2'000'000);  // bandwidth = 2 MB/s
  const auto start = t.now;
  for (int i = 0; i < 160; ++i) limit.Took(65536);  // 10.5 MB in 64 KiB receives
  // 10.49 MB at 2 MB/s is 5.24 s, less the one second's burst allowed.
  EXPECT_NEAR(t.Seconds(start), 4.24, 0.05);
}

TEST(RateLimitTest, TimeSpentElsewhereIsCreditForOneSecondOnly) {
  FakeTime t;
  RateLimit limit = t.Limit(1000);
  limit.Took(1000);
  t.now += std::chrono::hours(1);  // idle for an hour (e.g. the archive committing)
  const auto start = t.now;
  limit.Took(5000);  // 5 s of bytes: 1 s burst, 4 s of waiting
  EXPECT_NEAR(t.Seconds(start), 4.0, 0.01);
}

TEST(RateLimitTest, SlowDownloadsAreNotHeldBack) {
  FakeTime t;
  RateLimit limit = t.Limit(1000);
  const auto start = t.now;
  for (int i = 0; i < 10; ++i) {
    t.now += std::chrono::seconds(1);  // the server sends 500 bytes a second
    limit.Took(500);
  }
  EXPECT_NEAR(t.Seconds(start), 10.0, 1e-9);
}

}  // namespace
}  // namespace mailkeep::net

#include "sync/net/host_slots.h"

namespace mailkeep::net {
namespace {

TEST(HostSlotsTest, AccountsOnOneHostShareItsSlots) {
  HostSlots slots(2);
  auto a = slots.TryAcquire("imap.example.com");
  auto b = slots.TryAcquire("IMAP.Example.COM");  // the same host
  ASSERT_TRUE(a && b);
  EXPECT_FALSE(slots.TryAcquire("imap.example.com"));
  auto other = slots.TryAcquire("pop.example.net");  // another host is not held back
  EXPECT_TRUE(other);
  a.reset();  // an account done: its slot is free again
  EXPECT_TRUE(slots.TryAcquire("imap.example.com"));
  HostSlots::Slot c = slots.Acquire("imap.example.com");  // free now: does not wait
  EXPECT_FALSE(slots.TryAcquire("imap.example.com"));
}

}  // namespace
}  // namespace mailkeep::net
