#include "sync/net/sasl.h"

#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <initializer_list>

namespace mailkeep::net {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}
}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) | (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    if (rest == 2) v |= static_cast<uint8_t>(data[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  size_t symbols = 0;
  for (char c : text) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad > 0) return std::nullopt;  // data after padding
    int v = DecodeChar(c);
    if (v < 0) return std::nullopt;
    ++symbols;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (pad > 2 || symbols % 4 == 1) return std::nullopt;
  if (pad > 0 && (symbols + pad) % 4 != 0) return std::nullopt;
  return out;
}

std::string SaslPlain(std::string_view user, std::string_view password) {
  std::string s;
  s += '\0';
  s += user;
  s += '\0';
  s += password;
  return s;
}

std::string SaslXoauth2(std::string_view user, std::string_view token) {
  std::string s = "user=";
  s += user;
  s += "\x01" "auth=Bearer ";
  s += token;
  s += "\x01\x01";
  return s;
}

namespace {

// MD5 of the concatenation of `parts`; false when MD5 is unavailable.
bool Md5(std::initializer_list<std::string_view> parts, std::array<unsigned char, 16>* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  bool ok = EVP_DigestInit_ex(ctx, EVP_md5(), nullptr) == 1;
  for (std::string_view p : parts) ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  unsigned int len = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out->data(), &len) == 1 && len == out->size();
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::string Hex(const std::array<unsigned char, 16>& md) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : md) {
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return hex;
}

}  // namespace

std::string SaslCramMd5(std::string_view user, std::string_view password, std::string_view challenge) {
  // HMAC (RFC 2104) over MD5, block size 64: keys longer than a block are
  // hashed first.
  constexpr size_t kBlock = 64;
  std::array<unsigned char, 16> digest{};
  std::string key(password);
  if (key.size() > kBlock) {
    if (!Md5({password}, &digest)) return {};
    key.assign(reinterpret_cast<const char*>(digest.data()), digest.size());
  }
  key.resize(kBlock, '\0');
  std::string ipad(kBlock, '\0'), opad(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<char>(key[i] ^ 0x36);
    opad[i] = static_cast<char>(key[i] ^ 0x5c);
  }
  std::array<unsigned char, 16> inner{};
  if (!Md5({ipad, challenge}, &inner)) return {};
  if (!Md5({opad, std::string_view(reinterpret_cast<const char*>(inner.data()), inner.size())}, &digest)) return {};
  std::string out(user);
  out += ' ';
  out += Hex(digest);
  return out;
}

std::string ApopDigest(std::string_view timestamp, std::string_view secret) {
  std::array<unsigned char, 16> md{};
  if (!Md5({timestamp, secret}, &md)) return {};
  return Hex(md);
}

std::string SaslOauthBearer(std::string_view user, std::string_view host, uint16_t port, std::string_view token) {
  std::string s = "n,a=";
  for (char c : user) {
    if (c == ',') s += "=2C";
    else if (c == '=') s += "=3D";
    else s += c;
  }
  s += ",\x01" "host=";
  s += host;
  s += "\x01" "port=" + std::to_string(port);
  s += "\x01" "auth=Bearer ";
  s += token;
  s += "\x01\x01";
  return s;
}

namespace {

// The client's side of one mechanism: what it sends first, and its answer
// to each challenge (nullopt: nothing more to say, cancel).
class Mechanism {
 public:
  Mechanism(LoginMethod method, std::string_view user, std::string_view secret, const SaslWire& wire)
      : method_(method), user_(user), secret_(secret), host_(wire.host), port_(wire.port) {}

  std::optional<std::string> Initial() const {
    if (method_ == LoginMethod::kPlain) return SaslPlain(user_, secret_);
    if (method_ == LoginMethod::kXoauth2) return SaslXoauth2(user_, secret_);
    if (method_ == LoginMethod::kOauthBearer) return SaslOauthBearer(user_, host_, port_, secret_);
    return std::nullopt;
  }

  // `sent_initial`: the initial response went with the command.
  // `challenge`: decoded, or nullopt when it was not base64.
  Result<std::optional<std::string>> Answer(int round, bool sent_initial,
                                            const std::optional<std::string>& challenge) const {
    switch (method_) {
      case LoginMethod::kPlain:
        if (round == 0 && !sent_initial) return Initial();
        return std::optional<std::string>();
      case LoginMethod::kXoauth2:
      case LoginMethod::kOauthBearer:
        if (round == 0 && !sent_initial) return Initial();
        // The server's JSON error: an empty answer (OAUTHBEARER: a lone ^A,
        // RFC 7628 §3.2.3) gets its final reply.
        if (round == (sent_initial ? 0 : 1)) {
          return std::optional<std::string>(method_ == LoginMethod::kOauthBearer ? "\x01" : "");
        }
        return std::optional<std::string>();
      case LoginMethod::kLogin:
        // Prompts ("Username:", "Password:") differ between servers, and
        // some send them in clear; the order does not.
        if (round == 0) return std::optional<std::string>(user_);
        if (round == 1) return std::optional<std::string>(secret_);
        return std::optional<std::string>();
      case LoginMethod::kCramMd5: {
        if (round != 0) return std::optional<std::string>();
        if (!challenge) return MakeError(ErrorCode::kFailedPrecondition, "a challenge that is not base64");
        std::string answer = SaslCramMd5(user_, secret_, *challenge);
        if (answer.empty()) return std::optional<std::string>();  // no MD5 here: cancel
        return std::optional<std::string>(std::move(answer));
      }
      default:
        return std::optional<std::string>();
    }
  }

 private:
  LoginMethod method_;
  std::string_view user_, secret_, host_;
  uint16_t port_;
};

}  // namespace

Status RunSasl(LoginMethod method, std::string_view user, std::string_view secret, const SaslWire& wire) {
  constexpr int kMaxChallenges = 8;
  const Mechanism mech(method, user, secret, wire);
  std::string line = wire.command;
  bool sent_initial = false;
  if (auto initial = mech.Initial()) {
    std::string ir = Base64Encode(*initial);
    if (ir.empty()) ir = "=";  // RFC 4954 §4: an empty initial response
    if (line.size() + 1 + ir.size() + 2 <= wire.max_command_line) {
      line += " " + ir;
      sent_initial = true;
    }
  }
  MK_RETURN_IF_ERROR(wire.send(line));
  bool cancelled = false;
  for (int round = 0; round < kMaxChallenges; ++round) {
    std::string text;
    MK_ASSIGN_OR_RETURN(bool challenge, wire.next(&text));
    if (!challenge) return OkStatus();
    if (cancelled) return std::unexpected(wire.broken("a challenge after the exchange was cancelled"));
    auto answer = mech.Answer(round, sent_initial, Base64Decode(text));
    if (!answer) return std::unexpected(wire.broken(answer.error().message()));
    if (!*answer) {
      cancelled = true;
      MK_RETURN_IF_ERROR(wire.send("*"));
      continue;
    }
    MK_RETURN_IF_ERROR(wire.send(Base64Encode(**answer)));
  }
  return std::unexpected(wire.broken("the exchange did not end"));
}

}  // namespace mailkeep::net
