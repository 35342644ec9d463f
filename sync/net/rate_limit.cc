#include "sync/net/rate_limit.h"

#include <algorithm>
#include <thread>

namespace mailkeep::net {

RateLimit::RateLimit(uint64_t bytes_per_second, Clock clock, Sleep sleep)
    : rate_(std::max<uint64_t>(bytes_per_second, 1)), clock_(std::move(clock)), sleep_(std::move(sleep)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
  if (!sleep_) sleep_ = [](std::chrono::nanoseconds d) { std::this_thread::sleep_for(d); };
}

void RateLimit::Took(size_t n) {
  using std::chrono::nanoseconds;
  const auto now = clock_();
  // Time not used in the past is credit for at most one second's burst.
  paid_until_ = std::max(paid_until_, now - std::chrono::seconds(1));
  const long double ns = static_cast<long double>(n) * 1e9L / static_cast<long double>(rate_);
  paid_until_ += nanoseconds(static_cast<int64_t>(ns));
  if (paid_until_ > now) sleep_(paid_until_ - now);
}

}  // namespace mailkeep::net
