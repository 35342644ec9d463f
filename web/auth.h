// Who may use `mailkeep serve`: the Authenticator of web/http.h, built from
// the accounts file's [serve] section (config::ServeConfig).
//
//   Authorization: Basic BASE64(NAME:PASSWORD)   (RFC 7617) checked against
//       `user = NAME:HASH`: scrypt with the hash's salt and cost
//       (store/crypto/password_hash.h), compared in constant time.
//   Authorization: Bearer TOKEN                  (RFC 6750) checked against
//       token_file: the SHA-256 of TOKEN compared in constant time with
//       every stored hash (the file never holds a token itself).
//
// Defences, each with its default in AuthOptions:
//   - An unknown user costs the same scrypt run as a known one (against a
//     stand-in hash with the first user's cost), so timing does not tell
//     which names exist.
//   - A verified Basic credential is remembered for cache_seconds (at most
//     cache_entries), keyed by HMAC-SHA256 of the header under a random
//     per-process key: a browser sends the header with every request, and
//     each would otherwise pay scrypt. Failures are never cached.
//   - At most kdf_slots scrypt runs at once (memory: slots x the hash's
//     cost, 32 MiB by default); a request that waits longer than
//     kdf_wait_ms for a slot is refused (kBusy) without counting as a
//     failure.
//   - Per client address (an IPv6 address by its /64): after max_failures
//     failed attempts within failure_window_seconds the client is refused,
//     with no check at all, for block_seconds, even with the right
//     password. The table holds at most max_clients addresses (expired
//     entries go first, then the oldest).
// A request without an Authorization header is refused (kNoCredentials)
// but not counted as a failure: a browser's first request carries none.
//
// Thread-safety: one ServeAuthenticator serves every server thread.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "store/crypto/password_hash.h"
#include "store/util/status.h"
#include "web/client_limits.h"  // ClientKey
#include "web/http.h"

namespace mailkeep::web {

struct AuthOptions {
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  Clock now = [] { return std::chrono::steady_clock::now(); };  // injected by tests
  int cache_seconds = 60;
  size_t cache_entries = 256;
  int kdf_slots = 2;
  int kdf_wait_ms = 10'000;
  int max_failures = 5;
  int failure_window_seconds = 60;
  int block_seconds = 60;
  size_t max_clients = 4096;
  // The bounds each user's hash must meet (the loader already checked them
  // against the defaults); tests lower min_memory explicitly.
  crypto::PasswordHashLimits hash_limits;
};

// Counters, for tests and measurements.
struct AuthStats {
  uint64_t kdf_runs = 0;    // scrypt derivations run (the expensive step)
  uint64_t cache_hits = 0;  // Basic credentials accepted from the cache
};

class ServeAuthenticator : public Authenticator {
 public:
  // Use MakeAuthenticator.
  ServeAuthenticator(const config::ServeConfig& serve, AuthOptions options, crypto::PasswordHash stand_in);

  // Who `request` comes from, or why not (web/http.h). The challenge of a
  // 401 is Basic when users are configured, Bearer when tokens are (two
  // values joined by ", "); Retry-After the seconds left of the client's
  // block, rounded up.
  AuthResult Authenticate(const Request& request) override;

  AuthStats stats();
  size_t tracked_clients();

 private:
  using Digest = std::array<uint8_t, 32>;
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Cached {
    std::string user;
    TimePoint expires;
  };
  struct Client {
    int failures = 0;
    TimePoint window_start;
    TimePoint blocked_until;
  };

  AuthResult Check(const std::string& client, const std::string& header);
  AuthResult CheckBasic(std::string_view credentials);
  AuthResult CheckBearer(std::string_view token);
  AuthResult VerifyUser(std::string_view name, std::string_view password, const Digest& cache_key);
  std::optional<std::string> CachedUser(const Digest& key);
  void Remember(const Digest& key, const std::string& user);
  int SecondsBlocked(const std::string& client, TimePoint now);  // 0 = not blocked
  void RecordFailure(const std::string& client, TimePoint now);
  Digest CacheKey(std::string_view credentials) const;

  const std::vector<config::ServeUser> users_;
  const std::vector<config::ServeToken> tokens_;
  const AuthOptions options_;
  const crypto::PasswordHash stand_in_;  // for unknown users
  const std::string challenge_;          // the WWW-Authenticate value
  std::array<uint8_t, 32> cache_secret_{};
  std::counting_semaphore<64> kdf_slots_;

  std::mutex mu_;  // guards the members below
  std::map<Digest, Cached> cache_;
  std::unordered_map<std::string, Client> clients_;
  AuthStats stats_;
};

// Null when the section needs no authentication (no user and no
// token_file: loopback only, config::CheckServeSecurity). Errors
// (kInvalidArgument): a user whose hash is outside options.hash_limits.
Result<std::unique_ptr<ServeAuthenticator>> MakeAuthenticator(const config::ServeConfig& serve,
                                                              AuthOptions options = {});

// A new bearer token: 32 random bytes in base64url without padding (43
// characters). kInternal when the system gives no random bytes.
Result<std::string> NewBearerToken();
// The token_file line of `token` for `name`: "NAME:sha256:HEX".
std::string TokenLine(std::string_view name, std::string_view token);
// Appends `line` and a newline to the token file `path` (and a newline
// before it when the file does not end with one), creating the file with
// mode 0600, then fsyncs it. Refuses (kFailedPrecondition) a path that is a
// symbolic link, not a regular file, or readable by group or others.
Status AppendTokenLine(const std::string& path, std::string_view line);

}  // namespace mailkeep::web
