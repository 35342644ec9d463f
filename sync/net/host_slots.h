// How many connections mailkeep holds open at once to one host, over all
// the accounts that sync in parallel (max_connections_per_host): providers
// limit connections per account or per address (Gmail: 15 per account) and
// refuse or throttle past that. A slot is held for an account's whole run;
// an account whose host is full waits for one to be given back.
//
// Thread-safety: all members may be called from any thread.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace mailkeep::net {

class HostSlots {
 public:
  explicit HostSlots(int per_host) : per_host_(per_host < 1 ? 1 : per_host) {}

  // One connection's place; given back when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : owner_(other.owner_), host_(std::move(other.host_)) { other.owner_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot() {
      if (owner_) owner_->Release(host_);
    }

   private:
    friend class HostSlots;
    Slot(HostSlots* owner, std::string host) : owner_(owner), host_(std::move(host)) {}
    HostSlots* owner_;
    std::string host_;
  };

  // Waits until `host` (case-insensitive) has a free slot, and takes it.
  Slot Acquire(const std::string& host);
  // Takes a slot if one is free now.
  std::optional<Slot> TryAcquire(const std::string& host);

 private:
  static std::string Key(const std::string& host);
  void Release(const std::string& key);

  const int per_host_;
  std::mutex mu_;
  std::condition_variable freed_;
  std::map<std::string, int> used_;
};

}  // namespace mailkeep::net
