#include "web/client_limits.h"

#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace mailkeep::web {

std::string ClientKey(std::string_view address) {
  unsigned char v6[16];
  const std::string text(address.substr(0, 64));
  if (::inet_pton(AF_INET6, text.c_str(), v6) != 1) return text;
  constexpr unsigned char kMapped4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::equal(v6, v6 + 12, kMapped4)) return text;  // an IPv4 client
  std::fill(v6 + 8, v6 + 16, 0);
  char out[INET6_ADDRSTRLEN];
  return ::inet_ntop(AF_INET6, v6, out, sizeof out) != nullptr ? std::string(out) : text;
}

ClientLimiter::ClientLimiter(ClientLimits limits) : limits_(limits) {}

void ClientLimiter::Refill(State& s, Clock::time_point now) const {
  const double seconds = std::chrono::duration<double>(now - s.last).count();
  if (seconds > 0) {
    s.tokens = std::min(limits_.burst, s.tokens + seconds * limits_.requests_per_second);
    s.last = now;
  }
}

// Drops the addresses with nothing in progress and a full bucket (they are
// as if never seen); whether any was dropped.
bool ClientLimiter::ForgetIdle(Clock::time_point now) {
  const size_t before = clients_.size();
  for (auto it = clients_.begin(); it != clients_.end();) {
    Refill(it->second, now);
    const bool idle = it->second.active == 0 && it->second.tokens >= limits_.burst;
    it = idle ? clients_.erase(it) : std::next(it);
  }
  return clients_.size() < before;
}

ClientLimiter::Verdict ClientLimiter::Admit(const std::string& client, Clock::time_point now) {
  const std::string key = ClientKey(client);
  std::lock_guard lock(mu_);
  auto it = clients_.find(key);
  if (it == clients_.end()) {
    if (clients_.size() >= limits_.max_clients && !ForgetIdle(now)) return {false, 1};
    it = clients_.emplace(key, State{limits_.burst, now, 0}).first;
  }
  State& s = it->second;
  Refill(s, now);
  if (s.active >= limits_.max_concurrent) return {false, 1};
  if (s.tokens < 1) {
    const double wait = (1 - s.tokens) / limits_.requests_per_second;
    return {false, std::max(1, static_cast<int>(std::ceil(wait)))};
  }
  s.tokens -= 1;
  ++s.active;
  return {true, 0};
}

void ClientLimiter::Release(const std::string& client) {
  const std::string key = ClientKey(client);
  std::lock_guard lock(mu_);
  auto it = clients_.find(key);
  if (it != clients_.end() && it->second.active > 0) --it->second.active;
}

size_t ClientLimiter::tracked() const {
  std::lock_guard lock(mu_);
  return clients_.size();
}

namespace {

// The inode of the file `fd` names; 0 when it names none.
ino_t InodeOf(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_ino : 0;
}

}  // namespace

bool ConnectionCounter::Open(int fd, const std::string& key, size_t max) {
  const ino_t inode = InodeOf(fd);
  std::lock_guard lock(mu_);
  ForgetLocked(fd);  // counted before: that socket was closed, since its number is free again
  if (open_[key] >= max) ForgetStaleLocked(key);
  size_t& open = open_[key];
  if (open >= max) {
    if (open == 0) open_.erase(key);
    return false;
  }
  ++open;
  counted_[fd] = Counted{key, inode};
  return true;
}

void ConnectionCounter::Close(int fd) {
  std::lock_guard lock(mu_);
  ForgetLocked(fd);
}

size_t ConnectionCounter::open(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = open_.find(key);
  return it == open_.end() ? 0 : it->second;
}

void ConnectionCounter::ForgetLocked(int fd) {
  auto socket = counted_.find(fd);
  if (socket == counted_.end()) return;
  auto it = open_.find(socket->second.key);
  if (it != open_.end() && --it->second == 0) open_.erase(it);
  counted_.erase(socket);
}

void ConnectionCounter::ForgetStaleLocked(const std::string& key) {
  std::vector<int> stale;
  for (const auto& [fd, counted] : counted_) {
    if (counted.key == key && InodeOf(fd) != counted.inode) stale.push_back(fd);
  }
  for (int fd : stale) ForgetLocked(fd);
}

}  // namespace mailkeep::web
