// Password hashes for the people who log in to `mailkeep serve`: scrypt
// (salted, memory-hard), kept as one self-describing string in the PHC
// string format, the one passlib and others write for scrypt:
//
//   $scrypt$ln=15,r=8,p=1$SALT$HASH
//
// ln = log2 of scrypt's N, r and p its other costs (memory 128 * r * 2^ln
// bytes: 32 MiB for the default); SALT (16 random bytes) and HASH (32 bytes)
// in base64 (RFC 4648 alphabet) without padding. The cost written in a
// hash is checked against PasswordHashLimits when the string is read,
// before any key derivation runs: a file cannot make mailkeep spend more
// memory or time than the limits allow, and weak hashes are refused.
//
// Thread-safety: plain functions without shared state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/util/status.h"

namespace mailkeep::crypto {

struct ScryptCost {
  uint8_t log2_n = 15;  // N = 32768
  uint32_t r = 8;
  uint32_t p = 1;
  // 128 * r * N bytes: what one derivation holds in memory.
  uint64_t Memory() const { return (uint64_t{128} * r) << log2_n; }
};

// What a hash read from a file may ask for. The defaults are the
// production bounds; tests pass a lower min_memory explicitly.
struct PasswordHashLimits {
  uint64_t min_memory = uint64_t{32} << 20;   // 32 MiB: weaker hashes are refused
  uint64_t max_memory = uint64_t{256} << 20;  // per derivation
  uint32_t max_p = 4;                          // time grows with p
};

struct PasswordHash {
  ScryptCost cost;
  std::string salt;  // bytes, 16..64
  std::string hash;  // bytes, 16..64 (32 when made here)
};

// Parses the string form. Errors (kInvalidArgument, one line, never
// quoting the text): "not a $scrypt$ln=N,r=R,p=P$SALT$HASH string",
// "its cost is out of bounds (memory 1 MiB; allowed 32..256 MiB, p <= 4)".
Result<PasswordHash> ParsePasswordHash(std::string_view text, const PasswordHashLimits& limits = {});
std::string FormatPasswordHash(const PasswordHash& hash);

// A new hash of `password` with a random salt. kInvalidArgument for an
// empty password or a cost outside (1 MiB .. max_memory, p 1..max_p);
// kInternal when the system gives no random bytes or scrypt fails.
Result<PasswordHash> HashPassword(std::string_view password, const ScryptCost& cost = {});

// Whether `password` matches: scrypt with the hash's salt and cost, then a
// constant-time comparison. Takes the time of one derivation whatever the
// outcome. kInternal when scrypt fails (out of memory).
Result<bool> VerifyPassword(std::string_view password, const PasswordHash& hash);

}  // namespace mailkeep::crypto
