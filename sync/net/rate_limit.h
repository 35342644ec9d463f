// A download rate limit (the account's `bandwidth`, bytes per second):
// net::Connection reports every receive; when the bytes so far are ahead
// of the rate, the reading thread sleeps until they are not. Bursts of up
// to one second's worth go through at once (e.g. after a pause).
//
// Thread-safety: one RateLimit may be shared by the connections of one
// account (a reconnect), used from one thread at a time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace mailkeep::net {

class RateLimit {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  using Sleep = std::function<void(std::chrono::nanoseconds)>;

  // `bytes_per_second` > 0. Empty clock / sleep: std::chrono::steady_clock
  // and std::this_thread::sleep_for (tests pass a fake pair).
  explicit RateLimit(uint64_t bytes_per_second, Clock clock = {}, Sleep sleep = {});

  // `n` bytes arrived: returns once the rate allows them.
  void Took(size_t n);

 private:
  uint64_t rate_;
  Clock clock_;
  Sleep sleep_;
  // The time at which the bytes so far are paid for at the rate.
  std::chrono::steady_clock::time_point paid_until_{};
};

}  // namespace mailkeep::net
