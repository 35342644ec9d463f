// Encryption at rest: the key file of an encrypted archive, the keys derived
// from it, authenticated encryption and keyed content addresses.
//
// An encrypted archive holds ARCHIVE/key (0600): a random 256-bit master key
// wrapped (AES-256-GCM) under a key derived from the passphrase with scrypt
// (memory-hard; 64 MiB by default). The master key never changes (a new
// passphrase rewraps it: RewrapKeyFile); from it
// come one key per purpose (HMAC-SHA256 of the master key and a label):
//   pack     seals pack record payloads (message frames, dictionaries)
//   catalog  seals the catalog's database pages
//   content  keys the content address (HMAC-SHA256 of the raw message
//            instead of its SHA-256), so that the archive does not reveal
//            whether it holds a message an attacker knows
// The key file holds two copies of the wrapped key 4 KiB apart, each with
// its own CRC, so one damaged sector does not lose the archive.
//
// Sealed bytes are nonce (12 random bytes) || ciphertext || tag (16 bytes):
// AES-256-GCM, with associated data binding a sealed value to its place.
//
// Thread-safety: all functions are safe to call from many threads; keys are
// immutable once made.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::crypto {

inline constexpr size_t kKeySize = 32;
inline constexpr size_t kNonceSize = 12;
inline constexpr size_t kTagSize = 16;
// Sealed bytes are this much longer than the plaintext.
inline constexpr size_t kSealOverhead = kNonceSize + kTagSize;
// ARCHIVE/<kKeyFileName>
inline constexpr char kKeyFileName[] = "key";

// A 256-bit key, wiped when destroyed.
class Key {
 public:
  Key() { bytes_.fill(0); }
  ~Key();
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  uint8_t* data() { return bytes_.data(); }
  const uint8_t* data() const { return bytes_.data(); }
  static constexpr size_t size() { return kKeySize; }

 private:
  std::array<uint8_t, kKeySize> bytes_;
};

// scrypt cost: N = 2^log2_n, r, p; memory is 128 * r * N bytes.
struct KdfParams {
  uint8_t log2_n = 16;  // 64 MiB with r = 8
  uint32_t r = 8;
  uint32_t p = 1;
};

// scrypt parameters using `mib` MiB (r = 8, N = mib * 1024): what
// `--kdf-memory MIB` asks for. kInvalidArgument unless mib is a power of
// two from 1 to 1024.
Result<KdfParams> KdfForMemory(int mib);

// The keys of one encrypted archive.
struct ArchiveKeys {
  Key pack;
  Key catalog;
  Key content;
  // 32 hex digits, random at creation: names the archive's local caches
  // (the full-text index lives outside the archive directory).
  std::string archive_id;
};

// Whether `archive_dir` holds a key file (the archive is encrypted).
bool IsEncrypted(const std::string& archive_dir);

// Makes `archive_dir` (0700) an encrypted archive-to-be: writes its key file
// with a new random master key wrapped under `passphrase`. Refuses
// (kFailedPrecondition) a directory that already holds a key file, a
// catalog or packs, and an empty passphrase (kInvalidArgument).
Result<std::shared_ptr<const ArchiveKeys>> CreateKeyFile(const std::string& archive_dir,
                                                         std::string_view passphrase,
                                                         const KdfParams& params = {});
// Reads the key file and unwraps the master key. Wrong passphrase:
// kFailedPrecondition "wrong passphrase for the archive in DIR". A damaged or
// unknown key file: kCorruption naming the file. No key file: kNotFound.
Result<std::shared_ptr<const ArchiveKeys>> UnlockKeyFile(const std::string& archive_dir,
                                                         std::string_view passphrase);

// Changes the passphrase: unwraps the master key with `current` and wraps
// it under `next` (a new random salt, scrypt `params`). The master key, the
// keys derived from it and the archive id stay, so packs and catalog are
// untouched — and an old copy of the key file still opens with the old
// passphrase. The file is replaced atomically (temp file, fsync, rename,
// directory fsync): a crash at any moment leaves a key file that opens with
// `current` or with `next`. Errors: UnlockKeyFile's for `current` (wrong:
// kFailedPrecondition "wrong passphrase ..."); an empty `next` is
// kInvalidArgument. The caller keeps other writers out (Archive holds the
// archive's lock).
Status RewrapKeyFile(const std::string& archive_dir, std::string_view current, std::string_view next,
                     const KdfParams& params = {});

// AES-256-GCM with a random nonce. `out` receives plaintext.size() +
// kSealOverhead bytes. The plaintext may lie at out + kNonceSize (sealed in
// place, as the pack store does); otherwise the two must not overlap.
Status SealInto(const Key& key, std::string_view plaintext, std::string_view aad, uint8_t* out);
Result<std::string> Seal(const Key& key, std::string_view plaintext, std::string_view aad);
// Checks the tag and decrypts; any mismatch (wrong key, changed byte, other
// aad) is kCorruption "authentication failed". `out` receives
// sealed.size() - kSealOverhead bytes; it may be sealed.data() + kNonceSize
// (opened in place), otherwise the two must not overlap.
Status OpenInto(const Key& key, std::string_view sealed, std::string_view aad, uint8_t* out);
Result<std::string> Open(const Key& key, std::string_view sealed, std::string_view aad);

// The content address of `data`: HMAC-SHA256 under keys->content for an
// encrypted archive, plain SHA-256 when keys is null.
Sha256Digest ContentHash(const ArchiveKeys* keys, std::string_view data);

}  // namespace mailkeep::crypto
