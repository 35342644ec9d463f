#include "sync/net/host_slots.h"

#include <cctype>

namespace mailkeep::net {

std::string HostSlots::Key(const std::string& host) {
  std::string key = host;
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

HostSlots::Slot HostSlots::Acquire(const std::string& host) {
  std::string key = Key(host);
  std::unique_lock<std::mutex> lock(mu_);
  freed_.wait(lock, [&] { return used_[key] < per_host_; });
  ++used_[key];
  return Slot(this, std::move(key));
}

std::optional<HostSlots::Slot> HostSlots::TryAcquire(const std::string& host) {
  std::string key = Key(host);
  std::lock_guard<std::mutex> lock(mu_);
  if (used_[key] >= per_host_) return std::nullopt;
  ++used_[key];
  return Slot(this, std::move(key));
}

void HostSlots::Release(const std::string& key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (--used_[key] == 0) used_.erase(key);
  }
  freed_.notify_all();
}

}  // namespace mailkeep::net
