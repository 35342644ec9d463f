#include "store/blobs/dictionary_repair.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace mailkeep::blobs {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

const RepairTarget kTarget{7, 2, 4096, 0};

RepairData Decoded(const std::string& record) {
  RepairTarget t = kTarget;
  t.length = record.size();
  auto d = DecodeRepairFile(EncodeRepairFile(t, record));
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().ToString());
  return *d;
}

TEST(DictionaryRepairTest, SizeIsTheParityAndOneCrcPerBlock) {
  const std::string record = RandomBytes(10 * kRepairBlockSize + 123, 1);
  RepairTarget t = kTarget;
  t.length = record.size();
  EXPECT_EQ(EncodeRepairFile(t, record).size(), 80 + 4 * 11 + kRepairGroups * kRepairBlockSize);
  RepairData d = Decoded(record);
  EXPECT_EQ(d.target, t);
  size_t repaired = 9;
  auto same = RepairRecord(d, record, &repaired);
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(*same, record);
  EXPECT_EQ(repaired, 0u);
}

// Every single flipped byte of the record, at every position class
// (first/last byte of a block, the short last block, the header), is repaired.
TEST(DictionaryRepairTest, AnyOneDamagedByteIsRepaired) {
  for (size_t len : {size_t{64 + 100}, size_t{3 * kRepairBlockSize}, size_t{9 * kRepairBlockSize + 77}}) {
    const std::string record = RandomBytes(len, static_cast<uint32_t>(len));
    RepairData d = Decoded(record);
    for (size_t pos = 0; pos < len; pos += (pos % kRepairBlockSize == 0 ? 1 : 997)) {
      std::string damaged = record;
      damaged[pos] ^= 0x40;
      size_t repaired = 0;
      auto fixed = RepairRecord(d, damaged, &repaired);
      ASSERT_TRUE(fixed.has_value()) << "len " << len << " pos " << pos << ": " << fixed.error().ToString();
      EXPECT_EQ(*fixed, record);
      EXPECT_EQ(repaired, 1u);
    }
  }
}

// A lost 4 KiB sector (two blocks at most) and a pack cut inside the
// last block are repaired; damage in two blocks of one group is refused.
TEST(DictionaryRepairTest, RunsUpToThreeBlocksAndATruncationAreRepaired) {
  const std::string record = RandomBytes(20 * kRepairBlockSize + 500, 3);
  RepairData d = Decoded(record);
  std::string sector = record;
  for (size_t i = 0; i < 4096; ++i) sector[5000 + i] = 0;
  EXPECT_EQ(*RepairRecord(d, sector), record);
  std::string run = record;
  for (size_t i = 0; i < 3 * kRepairBlockSize; ++i) run[kRepairBlockSize + i] ^= 0x11;
  EXPECT_EQ(*RepairRecord(d, run), record);
  EXPECT_EQ(*RepairRecord(d, std::string_view(record).substr(0, record.size() - 300)), record);
  std::string two = record;
  two[10] ^= 1;
  two[10 + kRepairGroups * kRepairBlockSize] ^= 1;
  auto refused = RepairRecord(d, two);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), ErrorCode::kCorruption);
}

// The repair file itself: any flipped byte is detected (header or body
// CRC), never used.
TEST(DictionaryRepairTest, DamagedRepairFileIsRefused) {
  const std::string record = RandomBytes(5 * kRepairBlockSize, 4);
  RepairTarget t = kTarget;
  t.length = record.size();
  const std::string file = EncodeRepairFile(t, record);
  for (size_t pos = 0; pos < file.size(); pos += (pos < 100 ? 1 : 331)) {
    std::string bad = file;
    bad[pos] ^= 0x02;
    auto d = DecodeRepairFile(bad);
    ASSERT_FALSE(d.has_value()) << "pos " << pos;
    EXPECT_EQ(d.error().code(), ErrorCode::kCorruption);
  }
  EXPECT_FALSE(DecodeRepairFile(file.substr(0, file.size() - 1)).has_value());
  EXPECT_FALSE(DecodeRepairFile(file + "x").has_value());
  EXPECT_FALSE(DecodeRepairFile("").has_value());
}

// Bytes that are not the record (more damaged blocks than parity) are
// refused; whatever comes back is the protected record, never other bytes.
TEST(DictionaryRepairTest, OtherBytesAreNotMistakenForTheRecord) {
  const std::string record = RandomBytes(10 * kRepairBlockSize, 5);
  RepairData d = Decoded(record);
  const std::string other = RandomBytes(10 * kRepairBlockSize, 6);
  EXPECT_FALSE(RepairRecord(d, other).has_value());
  const std::string small = RandomBytes(2 * kRepairBlockSize, 7);
  RepairData ds = Decoded(small);  // fewer blocks than groups: the parity is a copy
  auto back = RepairRecord(ds, RandomBytes(2 * kRepairBlockSize, 8));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, small);
}

}  // namespace
}  // namespace mailkeep::blobs
