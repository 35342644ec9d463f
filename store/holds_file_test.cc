#include "store/holds_file.h"

#include <gtest/gtest.h>

namespace mailkeep::holds {
namespace {

std::vector<HeldMessage> Sample() {
  HeldMessage a;
  a.hash.fill(0xab);
  a.since = 1700000000;
  a.user = "alice";
  a.host = "box";
  a.command = "hold";
  a.query = "from:bob";
  a.reason = "case 17: keep";
  HeldMessage b = a;
  b.hash.fill(0x01);
  b.since = -5;  // any signed time survives
  b.reason = "";
  return {a, b};
}

std::shared_ptr<const crypto::ArchiveKeys> TestKeys(uint8_t fill) {
  auto k = std::make_shared<crypto::ArchiveKeys>();
  std::fill(k->pack.data(), k->pack.data() + crypto::kKeySize, fill);
  return k;
}

TEST(HoldsFile, PlainAndSealedRoundTrip) {
  auto keys = TestKeys(7);
  for (const crypto::ArchiveKeys* k : {static_cast<const crypto::ArchiveKeys*>(nullptr), keys.get()}) {
    auto file = Encode(Sample(), k);
    ASSERT_TRUE(file);
    auto back = Decode(*file, k);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, Sample());
    auto none = Encode({}, k);
    ASSERT_TRUE(none);
    EXPECT_TRUE(Decode(*none, k)->empty());
  }
  // Plain text is readable in a plain file, not in a sealed one.
  EXPECT_NE(Encode(Sample(), nullptr)->find("case 17"), std::string::npos);
  EXPECT_EQ(Encode(Sample(), keys.get())->find("case 17"), std::string::npos);
}

TEST(HoldsFile, EveryFlippedByteAndEveryTruncationIsCorruption) {
  auto keys = TestKeys(7);
  for (const crypto::ArchiveKeys* k : {static_cast<const crypto::ArchiveKeys*>(nullptr), keys.get()}) {
    const std::string good = *Encode(Sample(), k);
    for (size_t i = 0; i < good.size(); ++i) {
      std::string bad = good;
      bad[i] ^= 0x10;
      auto r = Decode(bad, k);
      ASSERT_FALSE(r) << "byte " << i;
      EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
      ASSERT_FALSE(Decode(std::string_view(good).substr(0, i), k)) << "cut at " << i;
    }
  }
}

TEST(HoldsFile, SealingMustMatchTheArchive) {
  auto keys = TestKeys(7);
  auto other = TestKeys(8);
  EXPECT_FALSE(Decode(*Encode(Sample(), nullptr), keys.get()));
  EXPECT_FALSE(Decode(*Encode(Sample(), keys.get()), nullptr));
  EXPECT_FALSE(Decode(*Encode(Sample(), keys.get()), other.get()));
}

TEST(HoldsFile, RefusesTextPastItsLimit) {
  auto held = Sample();
  held[0].reason.assign(kMaxText + 1, 'x');
  EXPECT_EQ(Encode(held, nullptr).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace mailkeep::holds
