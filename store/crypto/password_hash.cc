#include "store/crypto/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>

namespace mailkeep::crypto {
namespace {

constexpr std::string_view kPrefix = "$scrypt$";
constexpr size_t kSaltBytes = 16, kHashBytes = 32;
constexpr size_t kMinBytes = 16, kMaxBytes = 64;
constexpr uint64_t kMinMakeMemory = uint64_t{1} << 20;

// Base64 (RFC 4648) without padding, through OpenSSL's codec.
std::string Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

// Only the canonical form: what Encode gives back for the bytes decoded.
bool Decode(std::string_view text, std::string& out) {
  if (text.empty() || text.size() > 2 * kMaxBytes || text.size() % 4 == 1) return false;
  std::string padded(text);
  padded.append((4 - text.size() % 4) % 4, '=');
  std::string bytes(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0) return false;
  bytes.resize(static_cast<size_t>(n) - (padded.size() - text.size()));  // DecodeBlock counts padding as zeros
  if (Encode(bytes) != text) return false;
  out = std::move(bytes);
  return true;
}

// "NAME=DIGITS" at the front of `in`, then `sep` (',') or the end (sep 0).
bool ConsumeNumber(std::string_view& in, std::string_view name, char sep, uint64_t& out) {
  if (!in.starts_with(name) || in.size() <= name.size() || in[name.size()] != '=') return false;
  in.remove_prefix(name.size() + 1);
  auto [end, ec] = std::from_chars(in.data(), in.data() + in.size(), out);
  if (ec != std::errc() || end == in.data()) return false;
  in.remove_prefix(static_cast<size_t>(end - in.data()));
  if (sep == 0) return in.empty();
  if (!in.starts_with(sep)) return false;
  in.remove_prefix(1);
  return true;
}

bool ParseCost(std::string_view text, ScryptCost& cost) {
  uint64_t ln = 0, r = 0, p = 0;
  if (!ConsumeNumber(text, "ln", ',', ln) || !ConsumeNumber(text, "r", ',', r) || !ConsumeNumber(text, "p", 0, p)) {
    return false;
  }
  if (ln < 1 || ln > 40 || r < 1 || r > 1024 || p < 1 || p > 1024) return false;  // bounds for the arithmetic
  cost = {static_cast<uint8_t>(ln), static_cast<uint32_t>(r), static_cast<uint32_t>(p)};
  return true;
}

std::string MiB(uint64_t bytes) {
  return bytes >= (uint64_t{1} << 20) ? std::to_string(bytes >> 20) + " MiB" : std::to_string(bytes) + " bytes";
}

Status Derive(std::string_view password, const std::string& salt, const ScryptCost& cost, std::string& out) {
  const uint64_t maxmem = cost.Memory() + uint64_t{128} * cost.r * cost.p + (uint64_t{1} << 20);
  if (EVP_PBE_scrypt(password.data(), password.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                     salt.size(), uint64_t{1} << cost.log2_n, cost.r, cost.p, maxmem,
                     reinterpret_cast<unsigned char*>(out.data()), out.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "scrypt failed (out of memory?)");
  }
  return OkStatus();
}

}  // namespace

Result<PasswordHash> ParsePasswordHash(std::string_view text, const PasswordHashLimits& limits) {
  auto malformed = [] {
    return MakeError(ErrorCode::kInvalidArgument, "not a $scrypt$ln=N,r=R,p=P$SALT$HASH string");
  };
  if (!text.starts_with(kPrefix)) return malformed();
  text.remove_prefix(kPrefix.size());
  const size_t d1 = text.find('$');
  const size_t d2 = d1 == std::string_view::npos ? d1 : text.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return malformed();
  PasswordHash h;
  if (!ParseCost(text.substr(0, d1), h.cost) || !Decode(text.substr(d1 + 1, d2 - d1 - 1), h.salt) ||
      !Decode(text.substr(d2 + 1), h.hash) || h.salt.size() < kMinBytes || h.hash.size() < kMinBytes ||
      h.hash.size() > kMaxBytes) {
    return malformed();
  }
  const uint64_t memory = h.cost.Memory();
  if (memory < limits.min_memory || memory > limits.max_memory || h.cost.p > limits.max_p) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "its cost is out of bounds (memory " + MiB(memory) + ", p = " + std::to_string(h.cost.p) +
                         "; allowed " + MiB(limits.min_memory) + " to " + MiB(limits.max_memory) +
                         ", p <= " + std::to_string(limits.max_p) + ")");
  }
  return h;
}

std::string FormatPasswordHash(const PasswordHash& hash) {
  return std::string(kPrefix) + "ln=" + std::to_string(hash.cost.log2_n) + ",r=" + std::to_string(hash.cost.r) +
         ",p=" + std::to_string(hash.cost.p) + "$" + Encode(hash.salt) + "$" + Encode(hash.hash);
}

Result<PasswordHash> HashPassword(std::string_view password, const ScryptCost& cost) {
  const PasswordHashLimits bounds;
  if (password.empty()) return MakeError(ErrorCode::kInvalidArgument, "the password is empty");
  if (cost.log2_n < 1 || cost.log2_n > 40 || cost.r < 1 || cost.p < 1 || cost.p > bounds.max_p ||
      cost.r > 1024 || cost.Memory() < kMinMakeMemory || cost.Memory() > bounds.max_memory) {
    return MakeError(ErrorCode::kInvalidArgument, "scrypt cost out of bounds (memory " + MiB(cost.Memory()) + ")");
  }
  PasswordHash h;
  h.cost = cost;
  h.salt.resize(kSaltBytes);
  h.hash.resize(kHashBytes);
  if (RAND_bytes(reinterpret_cast<unsigned char*>(h.salt.data()), static_cast<int>(h.salt.size())) != 1) {
    return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  }
  MK_RETURN_IF_ERROR(Derive(password, h.salt, h.cost, h.hash));
  return h;
}

Result<bool> VerifyPassword(std::string_view password, const PasswordHash& hash) {
  std::string derived(hash.hash.size(), '\0');
  MK_RETURN_IF_ERROR(Derive(password, hash.salt, hash.cost, derived));
  const bool same = CRYPTO_memcmp(derived.data(), hash.hash.data(), derived.size()) == 0;
  OPENSSL_cleanse(derived.data(), derived.size());
  return same;
}

}  // namespace mailkeep::crypto
