#include "sync/net/throttle.h"

#include <algorithm>
#include <cctype>
#include <thread>

namespace mailkeep::net {
namespace {

constexpr milliseconds kDay{86400000};

std::string Lower(std::string_view s) {
  std::string out(s.substr(0, 4096));  // a refusal is one line; no more is looked at
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "N milliseconds" / "N ms" / "N seconds" after "suggested backoff time:".
std::optional<milliseconds> SuggestedBackoff(const std::string& text) {
  const std::string key = "suggested backoff time:";
  size_t at = text.find(key);
  if (at == std::string::npos) return std::nullopt;
  at += key.size();
  while (at < text.size() && text[at] == ' ') ++at;
  uint64_t n = 0;
  size_t digits = 0;
  for (; at < text.size() && std::isdigit(static_cast<unsigned char>(text[at])); ++at, ++digits) {
    if (n < 1'000'000'000'000ull) n = n * 10 + static_cast<uint64_t>(text[at] - '0');
  }
  if (digits == 0) return std::nullopt;
  while (at < text.size() && text[at] == ' ') ++at;
  const std::string_view unit = std::string_view(text).substr(at);
  const bool seconds = unit.starts_with("s");  // "seconds", "sec", "s"; else milliseconds
  const uint64_t ms = seconds ? std::min<uint64_t>(n, 86400) * 1000 : std::min<uint64_t>(n, 86400000);
  return milliseconds(ms);
}

std::string Seconds(milliseconds d) {
  const auto s = (d.count() + 999) / 1000;
  return std::to_string(s) + " s";
}

}  // namespace

std::optional<milliseconds> ThrottleWait(std::string_view text, milliseconds fallback) {
  const std::string t = Lower(text);
  auto asked = SuggestedBackoff(t);
  if (asked) return std::min(*asked, kDay);
  if (t.find("[throttled]") != std::string::npos || t.find("request is throttled") != std::string::npos) {
    return fallback;
  }
  return std::nullopt;
}

std::optional<Status> Throttle::Wait(std::string_view text, int tries, const std::string& what) {
  auto asked = ThrottleWait(text, options_.fallback_wait);
  if (!asked) return std::nullopt;
  const milliseconds left = options_.max_wait > waited_ ? options_.max_wait - waited_ : milliseconds(0);
  std::string why;
  if (tries >= options_.max_tries) {
    why = "still throttling after " + std::to_string(tries) + " tries";
  } else if (*asked > options_.max_wait) {
    why = "asked to wait " + Seconds(*asked) + ", more than throttle_max_wait " + Seconds(options_.max_wait);
  } else if (*asked > left) {
    why = "asked to wait " + Seconds(*asked) + " more, after " + Seconds(waited_) + " of throttle_max_wait " +
          Seconds(options_.max_wait);
  }
  if (!why.empty()) {
    return Status(MakeError(ErrorCode::kResourceExhausted, "server throttled " + what + " (" + why + ")"));
  }
  if (options_.sleep) {
    options_.sleep(*asked);
  } else {
    std::this_thread::sleep_for(*asked);
  }
  waited_ += *asked;
  return OkStatus();
}

}  // namespace mailkeep::net
