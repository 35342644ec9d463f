#include "store/crypto/keys.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cstring>
#include <filesystem>

#include "store/util/files.h"

namespace mailkeep::crypto {
namespace {

// Key file: two copies of one 128-byte record, at 0 and at kCopyStride.
//   0  magic "\x89MKK"   4  version 1   5  kdf 1 = scrypt   6  log2_n   7  0
//   8  r (LE32)  12 p (LE32)  16 salt (32)  48 archive id (16)
//   64 wrapped master key: nonce || AES-256-GCM(master) || tag (60 bytes),
//      associated data = bytes 0..63
//   124 CRC-32 of bytes 0..123
constexpr char kMagic[4] = {'\x89', 'M', 'K', 'K'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kKdfScrypt = 1;
constexpr size_t kHeaderSize = 64;
constexpr size_t kRecordSize = 128;
constexpr size_t kCopyStride = 4096;
constexpr size_t kSaltSize = 32;
constexpr size_t kIdSize = 16;
// Limits on what a key file may ask of the KDF (trust nothing from a file).
constexpr uint8_t kMinLog2N = 10, kMaxLog2N = 22;
constexpr uint64_t kMaxKdfMemory = 1ull << 30;

void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t GetLe32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint32_t Crc(const uint8_t* p, size_t n) { return static_cast<uint32_t>(crc32(0, p, static_cast<uInt>(n))); }

std::string_view View(const uint8_t* p, size_t n) { return {reinterpret_cast<const char*>(p), n}; }

Status CheckParams(const KdfParams& k) {
  if (k.log2_n < kMinLog2N || k.log2_n > kMaxLog2N || k.r < 1 || k.r > 32 || k.p < 1 || k.p > 16 ||
      128ull * k.r * (1ull << k.log2_n) > kMaxKdfMemory) {
    return MakeError(ErrorCode::kCorruption, "key derivation parameters out of range");
  }
  return {};
}

Result<Key> DeriveWrappingKey(std::string_view passphrase, const uint8_t* salt, const KdfParams& k) {
  MK_RETURN_IF_ERROR(CheckParams(k));
  Key out;
  const uint64_t memory = 128ull * k.r * (1ull << k.log2_n) * k.p;
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt, kSaltSize, 1ull << k.log2_n, k.r, k.p,
                     memory + (16ull << 20), out.data(), out.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "scrypt key derivation failed (out of memory?)");
  }
  return out;
}

Key Subkey(const Key& master, std::string_view label) {
  Key out;
  unsigned int len = 0;
  HMAC(EVP_sha256(), master.data(), static_cast<int>(master.size()), reinterpret_cast<const uint8_t*>(label.data()),
       label.size(), out.data(), &len);
  return out;
}

std::shared_ptr<const ArchiveKeys> KeysFrom(const Key& master, const uint8_t* id) {
  auto keys = std::make_shared<ArchiveKeys>();
  keys->pack = Subkey(master, "mailkeep 1 pack");
  keys->catalog = Subkey(master, "mailkeep 1 catalog");
  keys->content = Subkey(master, "mailkeep 1 content");
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kIdSize; ++i) {
    keys->archive_id += kHex[id[i] >> 4];
    keys->archive_id += kHex[id[i] & 15];
  }
  return keys;
}

std::string KeyFilePath(const std::string& dir) { return dir + "/" + kKeyFileName; }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The first copy whose CRC, magic and version check; nullptr if none.
const uint8_t* GoodCopy(const std::string& file) {
  for (size_t at : {size_t{0}, kCopyStride}) {
    if (file.size() < at + kRecordSize) continue;
    const auto* r = reinterpret_cast<const uint8_t*>(file.data()) + at;
    if (Crc(r, kRecordSize - 4) != GetLe32(r + kRecordSize - 4)) continue;
    if (std::memcmp(r, kMagic, 4) != 0 || r[4] != kVersion || r[5] != kKdfScrypt) continue;
    return r;
  }
  return nullptr;
}

}  // namespace

Key::~Key() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

Result<KdfParams> KdfForMemory(int mib) {
  constexpr int kMinMib = 1, kMaxMib = 1024;
  if (mib < kMinMib || mib > kMaxMib || !std::has_single_bit(static_cast<unsigned>(mib))) {
    return MakeError(ErrorCode::kInvalidArgument, "--kdf-memory " + std::to_string(mib) +
                                                      ": use a power of two from 1 to 1024 (MiB)");
  }
  KdfParams params;
  params.r = 8;
  params.log2_n = static_cast<uint8_t>(10 + std::countr_zero(static_cast<unsigned>(mib)));
  return params;
}

bool IsEncrypted(const std::string& archive_dir) { return Exists(KeyFilePath(archive_dir)); }

namespace {

// The key file's bytes: `master` wrapped under `passphrase` (a new random
// salt, scrypt `params`) with archive id `id`, twice.
Result<std::string> KeyFileBytes(const Key& master, const uint8_t* id, std::string_view passphrase,
                                 const KdfParams& params) {
  if (passphrase.empty()) return MakeError(ErrorCode::kInvalidArgument, "the passphrase is empty");
  MK_RETURN_IF_ERROR(CheckParams(params));
  uint8_t rec[kRecordSize] = {};
  std::memcpy(rec, kMagic, 4);
  rec[4] = kVersion;
  rec[5] = kKdfScrypt;
  rec[6] = params.log2_n;
  PutLe32(rec + 8, params.r);
  PutLe32(rec + 12, params.p);
  if (RAND_bytes(rec + 16, kSaltSize) != 1) return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  std::memcpy(rec + 16 + kSaltSize, id, kIdSize);
  MK_ASSIGN_OR_RETURN(Key wrapping, DeriveWrappingKey(passphrase, rec + 16, params));
  MK_RETURN_IF_ERROR(SealInto(wrapping, View(master.data(), master.size()), View(rec, kHeaderSize), rec + kHeaderSize));
  PutLe32(rec + kRecordSize - 4, Crc(rec, kRecordSize - 4));
  std::string file(kCopyStride + kRecordSize, '\0');
  std::memcpy(file.data(), rec, kRecordSize);
  std::memcpy(file.data() + kCopyStride, rec, kRecordSize);
  return file;
}

// The master key and archive id of the key file in `dir`, unwrapped with
// `passphrase` (errors as UnlockKeyFile).
struct Unwrapped {
  Key master;
  std::array<uint8_t, kIdSize> id{};
};
Result<Unwrapped> UnwrapKeyFile(const std::string& dir, std::string_view passphrase) {
  const std::string path = KeyFilePath(dir);
  if (!Exists(path)) return MakeError(ErrorCode::kNotFound, dir + " is not an encrypted archive (no key file)");
  MK_ASSIGN_OR_RETURN(std::string file, ReadFile(path, 64 * 1024));
  const uint8_t* rec = GoodCopy(file);
  if (rec == nullptr) {
    return MakeError(ErrorCode::kCorruption, path + ": damaged or not a mailkeep key file; restore it from a backup");
  }
  KdfParams params;
  params.log2_n = rec[6];
  params.r = GetLe32(rec + 8);
  params.p = GetLe32(rec + 12);
  if (auto st = CheckParams(params); !st) return std::unexpected(st.error().WithContext(path));
  MK_ASSIGN_OR_RETURN(Key wrapping, DeriveWrappingKey(passphrase, rec + 16, params));
  Unwrapped out;
  if (!OpenInto(wrapping, View(rec + kHeaderSize, kKeySize + kSealOverhead), View(rec, kHeaderSize),
                out.master.data())) {
    return MakeError(ErrorCode::kFailedPrecondition, "wrong passphrase for the archive in " + dir);
  }
  std::memcpy(out.id.data(), rec + 16 + kSaltSize, kIdSize);
  return out;
}

}  // namespace

Result<std::shared_ptr<const ArchiveKeys>> CreateKeyFile(const std::string& dir, std::string_view passphrase,
                                                         const KdfParams& params) {
  if (passphrase.empty()) return MakeError(ErrorCode::kInvalidArgument, "the passphrase is empty");
  for (const char* name : {kKeyFileName, "catalog.sqlite", "packs"}) {
    if (Exists(dir + "/" + name)) {
      return MakeError(ErrorCode::kFailedPrecondition, "an archive already exists in " + dir);
    }
  }
  Key master;
  uint8_t id[kIdSize];
  if (RAND_bytes(id, kIdSize) != 1 || RAND_bytes(master.data(), master.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  }
  MK_ASSIGN_OR_RETURN(std::string file, KeyFileBytes(master, id, passphrase, params));
  const bool empty_before = !Exists(dir) || std::filesystem::is_empty(dir);
  MK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  if (empty_before && ::chmod(dir.c_str(), 0700) != 0) {
    return MakeError(ErrorCode::kIoError, dir + ": cannot make it private (0700): " + ErrnoText(errno));
  }
  MK_RETURN_IF_ERROR(WriteFileAtomic(KeyFilePath(dir), file));
  return KeysFrom(master, id);
}

Result<std::shared_ptr<const ArchiveKeys>> UnlockKeyFile(const std::string& dir, std::string_view passphrase) {
  MK_ASSIGN_OR_RETURN(Unwrapped key, UnwrapKeyFile(dir, passphrase));
  return KeysFrom(key.master, key.id.data());
}

Status RewrapKeyFile(const std::string& dir, std::string_view current, std::string_view next,
                     const KdfParams& params) {
  if (next.empty()) return MakeError(ErrorCode::kInvalidArgument, "the new passphrase is empty");
  MK_ASSIGN_OR_RETURN(Unwrapped key, UnwrapKeyFile(dir, current));
  MK_ASSIGN_OR_RETURN(std::string file, KeyFileBytes(key.master, key.id.data(), next, params));
  return WriteFileAtomic(KeyFilePath(dir), file);
}

namespace {

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// One context per thread, re-keyed per call (cheap next to the bytes).
EVP_CIPHER_CTX* ThreadCtx() {
  thread_local CipherCtx c;
  return c.ctx;
}

bool Crypt(bool seal, const Key& key, const uint8_t* nonce, std::string_view aad, const uint8_t* in, size_t n,
           uint8_t* out, uint8_t* tag) {
  EVP_CIPHER_CTX* ctx = ThreadCtx();
  if (ctx == nullptr) return false;
  int len = 0;
  bool ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), nullptr, key.data(), nonce, seal ? 1 : 0) == 1;
  if (ok && !aad.empty()) {
    ok = EVP_CipherUpdate(ctx, nullptr, &len, reinterpret_cast<const uint8_t*>(aad.data()),
                          static_cast<int>(aad.size())) == 1;
  }
  // EVP takes int lengths: feed large inputs in pieces.
  for (size_t done = 0; ok && done < n;) {
    const size_t step = std::min<size_t>(n - done, 1u << 30);
    ok = EVP_CipherUpdate(ctx, out + done, &len, in + done, static_cast<int>(step)) == 1;
    done += step;
  }
  if (ok && !seal) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, tag) == 1;
  if (ok) ok = EVP_CipherFinal_ex(ctx, out + n, &len) == 1;
  if (ok && seal) ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, tag) == 1;
  return ok;
}

}  // namespace

Status SealInto(const Key& key, std::string_view plaintext, std::string_view aad, uint8_t* out) {
  if (RAND_bytes(out, kNonceSize) != 1) return MakeError(ErrorCode::kInternal, "no random bytes from the system");
  uint8_t* body = out + kNonceSize;
  if (!Crypt(true, key, out, aad, reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size(), body,
             body + plaintext.size())) {
    return MakeError(ErrorCode::kInternal, "AES-256-GCM encryption failed");
  }
  return {};
}

Result<std::string> Seal(const Key& key, std::string_view plaintext, std::string_view aad) {
  std::string out(plaintext.size() + kSealOverhead, '\0');
  MK_RETURN_IF_ERROR(SealInto(key, plaintext, aad, reinterpret_cast<uint8_t*>(out.data())));
  return out;
}

Status OpenInto(const Key& key, std::string_view sealed, std::string_view aad, uint8_t* out) {
  if (sealed.size() < kSealOverhead) return MakeError(ErrorCode::kCorruption, "authentication failed (too short)");
  const auto* p = reinterpret_cast<const uint8_t*>(sealed.data());
  const size_t n = sealed.size() - kSealOverhead;
  uint8_t tag[kTagSize];
  std::memcpy(tag, p + kNonceSize + n, kTagSize);
  if (!Crypt(false, key, p, aad, p + kNonceSize, n, out, tag)) {
    OPENSSL_cleanse(out, n);
    return MakeError(ErrorCode::kCorruption, "authentication failed");
  }
  return {};
}

Result<std::string> Open(const Key& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kSealOverhead) return MakeError(ErrorCode::kCorruption, "authentication failed (too short)");
  std::string out(sealed.size() - kSealOverhead, '\0');
  MK_RETURN_IF_ERROR(OpenInto(key, sealed, aad, reinterpret_cast<uint8_t*>(out.data())));
  return out;
}

Sha256Digest ContentHash(const ArchiveKeys* keys, std::string_view data) {
  if (keys == nullptr) return Sha256(data);
  Sha256Digest out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), keys->content.data(), static_cast<int>(keys->content.size()),
       reinterpret_cast<const uint8_t*>(data.data()), data.size(), out.data(), &len);
  return out;
}

}  // namespace mailkeep::crypto
