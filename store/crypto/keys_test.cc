#include "store/crypto/keys.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "store/util/files.h"

namespace mailkeep::crypto {
namespace {

constexpr KdfParams kCheap{10, 8, 1};  // 1 MiB: keeps the tests fast

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mailkeep-keys.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/archive";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string KeyFile() const { return dir_ + "/key"; }
  void FlipByte(size_t offset) {
    std::fstream f(KeyFile(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(offset);
    char c = 0;
    f.get(c);
    f.seekp(offset);
    f.put(static_cast<char>(c ^ 0x01));
  }
  std::string root_, dir_;
};

Key TestKey(uint8_t fill) {
  Key k;
  std::memset(k.data(), fill, k.size());
  return k;
}

TEST(Aead, SealsAndOpens) {
  const Key k = TestKey(7);
  auto sealed = Seal(k, "Subject: hello", "record 1");
  ASSERT_TRUE(sealed) << sealed.error().message();
  EXPECT_EQ(sealed->size(), 14 + kSealOverhead);
  EXPECT_EQ(sealed->find("hello"), std::string::npos);
  auto opened = Open(k, *sealed, "record 1");
  ASSERT_TRUE(opened);
  EXPECT_EQ(*opened, "Subject: hello");
}

TEST(Aead, SameInputGivesDifferentBytes) {
  const Key k = TestKey(7);
  EXPECT_NE(*Seal(k, "same", ""), *Seal(k, "same", ""));
}

TEST(Aead, RefusesChangedBytesOtherAadAndOtherKey) {
  const Key k = TestKey(7);
  std::string sealed = *Seal(k, "a message body", "aad");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x40;
    auto r = Open(k, bad, "aad");
    ASSERT_FALSE(r) << "byte " << i;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  }
  EXPECT_FALSE(Open(k, sealed, "other"));
  EXPECT_FALSE(Open(TestKey(8), sealed, "aad"));
  EXPECT_FALSE(Open(k, sealed.substr(0, kSealOverhead - 1), "aad"));
}

// The pack store seals a frame where it was compressed and opens a record
// where it was read (keys.h: in place at out + kNonceSize).
TEST(Aead, SealsAndOpensInPlace) {
  const Key k = TestKey(9);
  const std::string plain(70000, 'm');
  std::string buf(plain.size() + kSealOverhead, '\0');
  std::memcpy(buf.data() + kNonceSize, plain.data(), plain.size());
  auto* p = reinterpret_cast<uint8_t*>(buf.data());
  ASSERT_TRUE(SealInto(k, {buf.data() + kNonceSize, plain.size()}, "aad", p));
  EXPECT_EQ(*Open(k, buf, "aad"), plain);  // the same bytes as sealed elsewhere
  ASSERT_TRUE(OpenInto(k, buf, "aad", p + kNonceSize));
  EXPECT_EQ(buf.substr(kNonceSize, plain.size()), plain);
}

TEST(Aead, EmptyPlaintext) {
  const Key k = TestKey(1);
  auto sealed = Seal(k, "", "x");
  ASSERT_TRUE(sealed);
  EXPECT_EQ(sealed->size(), kSealOverhead);
  EXPECT_EQ(*Open(k, *sealed, "x"), "");
}

TEST(ContentHashTest, PlainIsSha256KeyedIsNot) {
  EXPECT_EQ(ContentHash(nullptr, "abc"), Sha256("abc"));
  ArchiveKeys a, b;
  std::memset(a.content.data(), 1, kKeySize);
  std::memset(b.content.data(), 2, kKeySize);
  EXPECT_NE(ContentHash(&a, "abc"), Sha256("abc"));
  EXPECT_EQ(ContentHash(&a, "abc"), ContentHash(&a, "abc"));
  EXPECT_NE(ContentHash(&a, "abc"), ContentHash(&b, "abc"));
}

TEST_F(KeysTest, CreateThenUnlockGivesTheSameKeys) {
  auto made = CreateKeyFile(dir_, "correct horse", kCheap);
  ASSERT_TRUE(made) << made.error().message();
  EXPECT_TRUE(IsEncrypted(dir_));
  auto again = UnlockKeyFile(dir_, "correct horse");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(std::memcmp((*made)->pack.data(), (*again)->pack.data(), kKeySize), 0);
  EXPECT_EQ(std::memcmp((*made)->catalog.data(), (*again)->catalog.data(), kKeySize), 0);
  EXPECT_EQ(std::memcmp((*made)->content.data(), (*again)->content.data(), kKeySize), 0);
  EXPECT_EQ((*made)->archive_id, (*again)->archive_id);
  EXPECT_EQ((*made)->archive_id.size(), 32u);
  // The purposes get different keys.
  EXPECT_NE(std::memcmp((*made)->pack.data(), (*made)->catalog.data(), kKeySize), 0);
  EXPECT_NE(std::memcmp((*made)->pack.data(), (*made)->content.data(), kKeySize), 0);
  struct stat st {};
  ASSERT_EQ(::stat(KeyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(KeysTest, WrongPassphraseIsOneClearError) {
  ASSERT_TRUE(CreateKeyFile(dir_, "right", kCheap));
  auto r = UnlockKeyFile(dir_, "wrong");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.error().message(), "wrong passphrase for the archive in " + dir_);
}

TEST_F(KeysTest, TwoArchivesWithOnePassphraseHaveDifferentKeys) {
  auto a = CreateKeyFile(dir_, "same", kCheap);
  auto b = CreateKeyFile(root_ + "/other", "same", kCheap);
  ASSERT_TRUE(a && b);
  EXPECT_NE(std::memcmp((*a)->pack.data(), (*b)->pack.data(), kKeySize), 0);
  EXPECT_NE((*a)->archive_id, (*b)->archive_id);
}

TEST_F(KeysTest, OneDamagedCopyIsSurvivedTwoAreNot) {
  ASSERT_TRUE(CreateKeyFile(dir_, "pw", kCheap));
  FlipByte(70);  // inside the first copy's wrapped key
  ASSERT_TRUE(UnlockKeyFile(dir_, "pw"));
  FlipByte(4096 + 20);  // the second copy's salt
  auto r = UnlockKeyFile(dir_, "pw");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.error().message().find(KeyFile()), std::string::npos);
}

TEST_F(KeysTest, RefusesCostsOutsideTheLimits) {
  EXPECT_FALSE(CreateKeyFile(dir_, "pw", KdfParams{30, 8, 1}));
  EXPECT_FALSE(CreateKeyFile(dir_, "pw", KdfParams{10, 0, 1}));
  EXPECT_FALSE(IsEncrypted(dir_));
}

TEST_F(KeysTest, RefusesAnExistingArchiveAndAnEmptyPassphrase) {
  EXPECT_EQ(CreateKeyFile(dir_, "", kCheap).error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(MakeDirs(dir_ + "/packs"));
  auto r = CreateKeyFile(dir_, "pw", kCheap);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(IsEncrypted(dir_));
}

bool SameKeys(const ArchiveKeys& a, const ArchiveKeys& b) {
  return std::memcmp(a.pack.data(), b.pack.data(), kKeySize) == 0 &&
         std::memcmp(a.catalog.data(), b.catalog.data(), kKeySize) == 0 &&
         std::memcmp(a.content.data(), b.content.data(), kKeySize) == 0 && a.archive_id == b.archive_id;
}

TEST_F(KeysTest, RewrapKeepsTheKeysUnderTheNewPassphraseOnly) {
  auto made = CreateKeyFile(dir_, "old one", kCheap);
  ASSERT_TRUE(made);
  ASSERT_TRUE(ReadFile(KeyFile()));
  const std::string before = *ReadFile(KeyFile());
  ASSERT_TRUE(RewrapKeyFile(dir_, "old one", "new one", KdfParams{11, 8, 1}));
  auto now = UnlockKeyFile(dir_, "new one");
  ASSERT_TRUE(now) << now.error().message();
  EXPECT_TRUE(SameKeys(**made, **now));
  EXPECT_EQ(UnlockKeyFile(dir_, "old one").error().code(), ErrorCode::kFailedPrecondition);
  const std::string after = *ReadFile(KeyFile());
  EXPECT_EQ(after.size(), before.size());
  EXPECT_EQ(after[6], 11);                                 // the new scrypt cost
  EXPECT_NE(after.substr(16, 32), before.substr(16, 32));  // a new salt
  EXPECT_EQ(after.substr(48, 16), before.substr(48, 16));  // the same archive id
  EXPECT_EQ(after.substr(0, 128), after.substr(4096, 128));  // both copies
  struct stat st {};
  ASSERT_EQ(::stat(KeyFile().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(KeyFile() + ".tmp"));
}

TEST_F(KeysTest, RewrapRefusesAWrongCurrentPassphraseAndAnEmptyNewOne) {
  ASSERT_TRUE(CreateKeyFile(dir_, "right", kCheap));
  const std::string before = *ReadFile(KeyFile());
  auto wrong = RewrapKeyFile(dir_, "wrong", "new", kCheap);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(wrong.error().message(), "wrong passphrase for the archive in " + dir_);
  EXPECT_EQ(RewrapKeyFile(dir_, "right", "", kCheap).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(RewrapKeyFile(dir_, "right", "new", KdfParams{30, 8, 1}).error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(*ReadFile(KeyFile()), before);  // nothing changed
  EXPECT_EQ(RewrapKeyFile(root_ + "/none", "right", "new", kCheap).error().code(), ErrorCode::kNotFound);
}

TEST_F(KeysTest, NoKeyFileIsNotFound) {
  ASSERT_TRUE(MakeDirs(dir_));
  EXPECT_EQ(UnlockKeyFile(dir_, "pw").error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace mailkeep::crypto
