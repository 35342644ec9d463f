// Provider throttling: servers that refuse a command for now and say how
// long to wait, e.g. Office 365
//   A7 NO [THROTTLED] Request is throttled. Suggested Backoff Time: 299961 milliseconds
//   -ERR [THROTTLED] Request is throttled. Suggested Backoff Time: 2000 milliseconds
// A client that gets such a refusal asks its Throttle: within the run's
// budget (max_wait, over all waits of one account's run, across sessions)
// it waits as asked and the command is sent again, at most max_tries times;
// otherwise the account stops for this run (kResourceExhausted) and the
// rest waits for the next run.
//
// Thread-safety: one Throttle per account run, used by one thread at a time.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "store/util/status.h"

namespace mailkeep::net {

using std::chrono::milliseconds;

// Whether `text` (a refusal as sent, after "NO"/"-ERR", response code
// included) is a throttling reply: "[THROTTLED]", "Request is throttled"
// or "Suggested Backoff Time: N milliseconds|seconds" (case-insensitive).
// Returns the wait it asks for, `fallback` when it names none; nullopt when
// it is no throttling reply. A number past a day reads as a day.
std::optional<milliseconds> ThrottleWait(std::string_view text, milliseconds fallback);

struct ThrottleOptions {
  milliseconds max_wait{120000};   // all waits of one run together (throttle_max_wait)
  int max_tries = 5;               // sends of one command in all
  milliseconds fallback_wait{30000};  // for a throttling reply without a suggested time
  // How to wait; empty = std::this_thread::sleep_for. Tests count instead.
  std::function<void(milliseconds)> sleep;
};

class Throttle {
 public:
  explicit Throttle(ThrottleOptions options = {}) : options_(std::move(options)) {}

  // The server refused `what` (e.g. "IMAP UID FETCH at host:993") with
  // `text`, the `tries`-th send of it. Not a throttling reply: nullopt
  // (the caller handles the refusal as before). Else waits as asked and
  // returns OK (send it again), or, when the wait does not fit in what is
  // left of max_wait or tries reached max_tries, returns kResourceExhausted
  // with one line: "server throttled UID FETCH at host:993 (asked to wait
  // 300 s, more than throttle_max_wait 120 s)".
  std::optional<Status> Wait(std::string_view text, int tries, const std::string& what);

  milliseconds waited() const { return waited_; }

 private:
  ThrottleOptions options_;
  milliseconds waited_{0};
};

}  // namespace mailkeep::net
