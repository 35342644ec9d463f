#include "sync/reconnect.h"

#include <chrono>
#include <thread>

namespace mailkeep::sync {

ReconnectBudget::ReconnectBudget(int max_in_a_row, int max_total, std::function<void(int)> sleep)
    : max_in_a_row_(max_in_a_row), max_total_(max_total), sleep_(std::move(sleep)) {
  if (!sleep_) sleep_ = [](int s) { std::this_thread::sleep_for(std::chrono::seconds(s)); };
}

bool ReconnectBudget::Spend() {
  if (in_a_row_ >= max_in_a_row_ || total_ >= max_total_) return false;
  if (in_a_row_ > 0) sleep_(in_a_row_);
  ++in_a_row_;
  ++total_;
  return true;
}

std::string ReconnectBudget::GaveUp(const std::string& server, const std::string& last) const {
  if (total_ >= max_total_) {
    return "the server at " + server + " ended the session " + std::to_string(total_ + 1) +
           " times in this run (gave up after " + std::to_string(total_) + " reconnects): " + last +
           "; the next run goes on where this one stopped";
  }
  return "the server at " + server + " ended the session " + std::to_string(in_a_row_ + 1) +
         " times in a row without progress (gave up after " + std::to_string(in_a_row_) + " reconnects): " + last +
         "; the next run goes on where this one stopped";
}

bool ServerEndedSession(const Error& e, const imap::ImapClient& client) {
  return e.code() == ErrorCode::kUnavailable && client.closed() && !client.timed_out();
}

Result<std::unique_ptr<imap::ImapClient>> ReconnectImap(const imap::ImapOptions& options, ReconnectBudget& budget,
                                                        Error why) {
  const std::string server = options.connect.host + ":" + std::to_string(options.connect.port);
  for (;;) {
    if (!budget.Spend()) return MakeError(ErrorCode::kUnavailable, "IMAP: " + budget.GaveUp(server, why.message()));
    auto c = imap::ImapClient::Connect(options);
    if (c) return c;
    // Throttled past throttle_max_wait stays what it is: the run is partial.
    if (c.error().code() == ErrorCode::kResourceExhausted) return std::unexpected(c.error());
    if (c.error().code() != ErrorCode::kUnavailable) return MakeError(ErrorCode::kUnavailable, c.error().message());
    why = c.error();
  }
}

}  // namespace mailkeep::sync
