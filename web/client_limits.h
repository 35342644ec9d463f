// Per-client limits of `mailkeep serve`: how many requests one client
// address may have in progress at once, and how fast it may send them (a
// token bucket: `requests_per_second` on average, bursts up to `burst`).
// A refused request is answered 429 with Retry-After. Memory is bounded:
// at most `max_clients` addresses are tracked; idle ones are forgotten
// first, and a new address past the bound is refused.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace mailkeep::web {

struct ClientLimits {
  size_t max_concurrent = 16;        // requests of one address in progress at once
  double requests_per_second = 50;   // sustained rate per address
  double burst = 100;                // requests an idle address may send at once (>= 1)
  size_t max_clients = 10000;        // addresses tracked at once
};

// The key a client address is counted under, here and in the login
// throttle (web/auth.h): an IPv6 address becomes its /64
// ("2001:db8:1:2::"), since one host commonly has a whole /64; anything
// else (IPv4, IPv4-mapped IPv6) stays as given (at most 64 bytes).
std::string ClientKey(std::string_view address);

class ClientLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Verdict {
    bool admitted = false;
    int retry_after_seconds = 0;  // when refused: when to try again (>= 1)
  };

  explicit ClientLimiter(ClientLimits limits);
  // Admits one request of `client` (an address; counted by ClientKey) at
  // `now`, or refuses it. An admitted request must be ended with
  // Release(client).
  Verdict Admit(const std::string& client, Clock::time_point now);
  void Release(const std::string& client);
  size_t tracked() const;

 private:
  struct State {
    double tokens = 0;
    Clock::time_point last;
    size_t active = 0;
  };
  void Refill(State& s, Clock::time_point now) const;
  bool ForgetIdle(Clock::time_point now);

  const ClientLimits limits_;
  mutable std::mutex mu_;
  std::map<std::string, State> clients_;
};

// The open connections of each client key, each counted under its socket
// descriptor from when it is accepted to when its thread ends. A
// connection that the HTTP library drops without running it (Poco closes
// it on a few paths: an exception between accept and queueing, a server
// stopping with connections queued) is never given back by its thread; so
// each count also remembers which socket it is (its inode), and a count
// whose descriptor was closed or now names another file is dropped: at
// once when the descriptor number comes back with a new connection, and
// for a whole key before one of its connections would be refused.
//
// Thread-safety: all methods may be called from any thread.
class ConnectionCounter {
 public:
  // Counts socket `fd` under `key`; false (nothing counted) when `key`
  // holds `max` live connections already.
  bool Open(int fd, const std::string& key, size_t max);
  // Gives back what Open(fd, ...) counted (nothing if it counted nothing).
  // Call before the socket is closed.
  void Close(int fd);
  size_t open(const std::string& key) const;

 private:
  struct Counted {
    std::string key;
    ino_t inode = 0;
  };
  void ForgetLocked(int fd);
  void ForgetStaleLocked(const std::string& key);
  mutable std::mutex mu_;
  std::map<std::string, size_t> open_;
  std::map<int, Counted> counted_;  // socket -> what it is counted as
};

}  // namespace mailkeep::web
