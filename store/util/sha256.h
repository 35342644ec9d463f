// SHA-256 over byte strings, through OpenSSL's EVP interface (hardware
// accelerated where the CPU allows). Thread-safe: no shared state.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mailkeep {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view data);
std::string ToHex(const Sha256Digest& digest);
// Parses 64 hex digits; false on anything else.
bool FromHex(std::string_view hex, Sha256Digest& out);

}  // namespace mailkeep
