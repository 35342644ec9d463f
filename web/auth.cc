#include "web/auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/util/ascii.h"
#include "store/util/files.h"
#include "store/util/sha256.h"
#include "sync/net/sasl.h"

namespace mailkeep::web {
namespace {

// An Authorization header longer than this is refused before it is decoded.
constexpr size_t kMaxHeader = 4096;
constexpr size_t kMaxName = 64;
constexpr size_t kMaxPassword = 1024;

// A string wiped when it goes out of scope (decoded credentials).
struct Wiped {
  std::string text;
  ~Wiped() { OPENSSL_cleanse(text.data(), text.size()); }
};

// token68 (RFC 7235): the characters of base64 and base64url, '=' at the end.
bool IsToken68(std::string_view v) {
  const size_t end = v.find_last_not_of('=');
  if (end == std::string_view::npos) return false;
  return std::all_of(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(end) + 1, [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~' || c == '+' || c == '/';
  });
}

bool HasControl(std::string_view v) {
  return std::any_of(v.begin(), v.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// The WWW-Authenticate value of a 401: Basic when there are users, Bearer
// when there are tokens (or nothing else).
std::string Challenge(const config::ServeConfig& serve) {
  const bool basic = !serve.users.empty(), bearer = !serve.tokens.empty() || !basic;
  std::string out = basic ? "Basic realm=\"mailkeep\", charset=\"UTF-8\"" : "";
  if (basic && bearer) out += ", ";
  return bearer ? out + "Bearer realm=\"mailkeep\"" : out;
}

}  // namespace

Result<std::string> NewBearerToken() {
  std::string bytes(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(bytes.size())) != 1) {
    return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  }
  std::string token = net::Base64Encode(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  while (!token.empty() && token.back() == '=') token.pop_back();
  for (char& c : token) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return token;
}

std::string TokenLine(std::string_view name, std::string_view token) {
  return std::string(name) + ":sha256:" + ToHex(Sha256(token));
}

Status AppendTokenLine(const std::string& path, std::string_view line) {
  const std::string what = "token file " + path;
  const int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0) return MakeError(errno == ELOOP ? ErrorCode::kFailedPrecondition : ErrorCode::kIoError,
                               what + ": " + (errno == ELOOP ? "is a symbolic link" : ErrnoText(errno)));
  struct stat st {};
  Status status = OkStatus();
  char last = '\n';
  if (::fstat(fd, &st) != 0) {
    status = MakeError(ErrorCode::kIoError, what + ": " + ErrnoText(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = MakeError(ErrorCode::kFailedPrecondition, what + " is not a regular file");
  } else if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    status = MakeError(ErrorCode::kFailedPrecondition,
                       what + " is readable by its group or others; run: chmod 600 " + path);
  } else if (st.st_size > 0 && ::pread(fd, &last, 1, st.st_size - 1) != 1) {
    status = MakeError(ErrorCode::kIoError, what + ": " + ErrnoText(errno));
  }
  if (status) status = WriteAll(fd, (last == '\n' ? "" : "\n") + std::string(line) + "\n", what);
  if (status && ::fsync(fd) != 0) status = MakeError(ErrorCode::kIoError, what + ": fsync: " + ErrnoText(errno));
  ::close(fd);
  return status;
}

ServeAuthenticator::ServeAuthenticator(const config::ServeConfig& serve, AuthOptions options,
                                       crypto::PasswordHash stand_in)
    : users_(serve.users),
      tokens_(serve.tokens),
      options_(std::move(options)),
      stand_in_(std::move(stand_in)),
      challenge_(Challenge(serve)),
      kdf_slots_(std::clamp(options_.kdf_slots, 1, 64)) {
  RAND_bytes(cache_secret_.data(), static_cast<int>(cache_secret_.size()));
}

Result<std::unique_ptr<ServeAuthenticator>> MakeAuthenticator(const config::ServeConfig& serve,
                                                              AuthOptions options) {
  if (!serve.authenticates()) return std::unique_ptr<ServeAuthenticator>();
  const crypto::PasswordHashLimits& limits = options.hash_limits;
  for (const config::ServeUser& u : serve.users) {
    const uint64_t memory = u.hash.cost.Memory();
    if (memory < limits.min_memory || memory > limits.max_memory || u.hash.cost.p > limits.max_p) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the hash of user '" + u.name + "' in [serve] has a cost out of bounds");
    }
  }
  // The stand-in hash an unknown user is checked against: the first user's
  // cost, random salt and hash (no password matches it).
  crypto::PasswordHash stand_in;
  if (!serve.users.empty()) stand_in.cost = serve.users.front().hash.cost;
  stand_in.salt.resize(16);
  stand_in.hash.resize(32);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(stand_in.salt.data()), 16) != 1 ||
      RAND_bytes(reinterpret_cast<unsigned char*>(stand_in.hash.data()), 32) != 1) {
    return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  }
  return std::make_unique<ServeAuthenticator>(serve, std::move(options), std::move(stand_in));
}

AuthResult ServeAuthenticator::Authenticate(const Request& request) {
  const std::string client = ClientKey(request.client);
  AuthResult result = Check(client, request.Header("authorization"));
  if (result.allowed()) return result;
  result.challenge = challenge_;
  result.retry_after_seconds = SecondsBlocked(client, options_.now());
  return result;
}

AuthResult ServeAuthenticator::Check(const std::string& client, const std::string& header) {
  if (SecondsBlocked(client, options_.now()) > 0) return AuthResult::Denied(AuthOutcome::kThrottled);
  if (header.empty()) return AuthResult::Denied(AuthOutcome::kNoCredentials);

  AuthResult result = AuthResult::Denied(AuthOutcome::kMalformed);
  const size_t space = header.find(' ');
  const std::string_view scheme = std::string_view(header).substr(0, space);
  std::string_view rest = space == std::string::npos ? std::string_view() : std::string_view(header).substr(space);
  rest.remove_prefix(std::min(rest.size(), rest.find_first_not_of(' ')));
  if (header.size() <= kMaxHeader && IsToken68(rest)) {
    if (ascii::EqualsIgnoreCase(scheme, "basic")) result = CheckBasic(rest);
    if (ascii::EqualsIgnoreCase(scheme, "bearer")) result = CheckBearer(rest);
  }
  if (result.outcome == AuthOutcome::kRefused || result.outcome == AuthOutcome::kMalformed) {
    RecordFailure(client, options_.now());
  }
  return result;
}

AuthResult ServeAuthenticator::CheckBasic(std::string_view credentials) {
  if (users_.empty()) return AuthResult::Denied(AuthOutcome::kRefused);
  const Digest key = CacheKey(credentials);
  if (auto user = CachedUser(key)) return AuthResult::Allowed(std::move(*user));
  auto decoded = net::Base64Decode(credentials);
  if (!decoded) return AuthResult::Denied(AuthOutcome::kMalformed);
  const Wiped plain{std::move(*decoded)};
  const size_t colon = plain.text.find(':');
  if (colon == std::string::npos) return AuthResult::Denied(AuthOutcome::kMalformed);
  const std::string_view name = std::string_view(plain.text).substr(0, colon);
  const std::string_view password = std::string_view(plain.text).substr(colon + 1);
  if (name.empty() || name.size() > kMaxName || password.size() > kMaxPassword || HasControl(name) ||
      password.find('\0') != std::string_view::npos) {
    return AuthResult::Denied(AuthOutcome::kMalformed);
  }
  return VerifyUser(name, password, key);
}

AuthResult ServeAuthenticator::VerifyUser(std::string_view name, std::string_view password, const Digest& key) {
  const config::ServeUser* found = nullptr;
  for (const config::ServeUser& u : users_) {
    if (u.name == name) found = &u;
  }
  if (!kdf_slots_.try_acquire_for(std::chrono::milliseconds(options_.kdf_wait_ms))) {
    return AuthResult::Denied(AuthOutcome::kBusy);
  }
  // Another thread may have verified the same credentials while this one waited.
  if (auto user = CachedUser(key)) {
    kdf_slots_.release();
    return AuthResult::Allowed(std::move(*user));
  }
  auto match = crypto::VerifyPassword(password, found != nullptr ? found->hash : stand_in_);
  const bool ok = match && *match && found != nullptr;
  if (ok) Remember(key, found->name);  // before the slot is free: a waiting twin finds it
  kdf_slots_.release();
  {
    std::lock_guard lock(mu_);
    ++stats_.kdf_runs;
  }
  if (!match) return AuthResult::Denied(AuthOutcome::kBusy);
  if (!ok) return AuthResult::Denied(AuthOutcome::kRefused);
  return AuthResult::Allowed(found->name);
}

AuthResult ServeAuthenticator::CheckBearer(std::string_view token) {
  const Sha256Digest digest = Sha256(token);
  const config::ServeToken* found = nullptr;
  for (const config::ServeToken& t : tokens_) {  // every one compared: the time does not depend on which matched
    if (CRYPTO_memcmp(t.sha256.data(), digest.data(), digest.size()) == 0) found = &t;
  }
  if (found == nullptr) return AuthResult::Denied(AuthOutcome::kRefused);
  return AuthResult::Allowed(found->name);
}

ServeAuthenticator::Digest ServeAuthenticator::CacheKey(std::string_view credentials) const {
  Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), cache_secret_.data(), static_cast<int>(cache_secret_.size()),
       reinterpret_cast<const unsigned char*>(credentials.data()), credentials.size(), out.data(), &len);
  return out;
}

std::optional<std::string> ServeAuthenticator::CachedUser(const Digest& key) {
  std::lock_guard lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::nullopt;
  if (it->second.expires <= options_.now()) {
    cache_.erase(it);
    return std::nullopt;
  }
  ++stats_.cache_hits;
  return it->second.user;
}

void ServeAuthenticator::Remember(const Digest& key, const std::string& user) {
  if (options_.cache_entries == 0 || options_.cache_seconds <= 0) return;
  std::lock_guard lock(mu_);
  const TimePoint now = options_.now();
  if (cache_.size() >= options_.cache_entries) {
    std::erase_if(cache_, [&](const auto& e) { return e.second.expires <= now; });
  }
  if (cache_.size() >= options_.cache_entries) {
    cache_.erase(std::min_element(cache_.begin(), cache_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    }));
  }
  cache_[key] = {user, now + std::chrono::seconds(options_.cache_seconds)};
}

int ServeAuthenticator::SecondsBlocked(const std::string& client, TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end() || it->second.blocked_until <= now) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::seconds>(it->second.blocked_until - now).count());
}

void ServeAuthenticator::RecordFailure(const std::string& client, TimePoint now) {
  const auto window = std::chrono::seconds(options_.failure_window_seconds);
  std::lock_guard lock(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end()) {
    if (clients_.size() >= options_.max_clients) {
      std::erase_if(clients_, [&](const auto& e) {
        return e.second.blocked_until <= now && now - e.second.window_start >= window;
      });
    }
    if (clients_.size() >= options_.max_clients && !clients_.empty()) {
      clients_.erase(std::min_element(clients_.begin(), clients_.end(), [](const auto& a, const auto& b) {
        return std::max(a.second.window_start, a.second.blocked_until) <
               std::max(b.second.window_start, b.second.blocked_until);
      }));
    }
    it = clients_.emplace(client, Client{0, now, {}}).first;
  }
  Client& c = it->second;
  if (now - c.window_start >= window) c = Client{0, now, c.blocked_until};
  if (++c.failures >= options_.max_failures) {
    c = Client{0, now, now + std::chrono::seconds(options_.block_seconds)};
  }
}

AuthStats ServeAuthenticator::stats() {
  std::lock_guard lock(mu_);
  return stats_;
}

size_t ServeAuthenticator::tracked_clients() {
  std::lock_guard lock(mu_);
  return clients_.size();
}

}  // namespace mailkeep::web
