#include "store/util/mutf7.h"

#include <gtest/gtest.h>

namespace mailkeep {
namespace {

TEST(ModifiedUtf7, Rfc3501Example) {
  EXPECT_EQ(DecodeModifiedUtf7("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
  EXPECT_EQ(EncodeModifiedUtf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
}

TEST(ModifiedUtf7, RoundTrips) {
  const char* names[] = {"INBOX", "Entwürfe", "日本語", "&", "a&b", "&&-", "Gelöschte Elemente",
                         "Отправленные", "emoji 😀 here", "tab\there", "", "~/%*", "ü", "üüü", "a-b&-c"};
  for (const char* n : names) {
    std::string wire = EncodeModifiedUtf7(n);
    for (char c : wire) {
      unsigned char u = static_cast<unsigned char>(c);
      EXPECT_TRUE(u >= 0x20 && u <= 0x7E) << n;
    }
    EXPECT_EQ(TryDecodeModifiedUtf7(wire), std::optional<std::string>(n)) << n << " -> " << wire;
  }
  EXPECT_EQ(EncodeModifiedUtf7("Entwürfe"), "Entw&APw-rfe");
  EXPECT_EQ(EncodeModifiedUtf7("a&b"), "a&-b");
  EXPECT_EQ(EncodeModifiedUtf7("😀"), "&2D3eAA-");  // a surrogate pair
  EXPECT_EQ(DecodeModifiedUtf7("&2D3eAA-"), "😀");
}

TEST(ModifiedUtf7, MalformedInputIsReturnedUnchanged) {
  const char* bad[] = {
      "&U,BTFw",       // no closing '-'
      "&U/BTFw-",      // '/' is not in the modified alphabet
      "&AGE-",         // "a" encoded: printable ASCII must be itself
      "&2D0-",         // lone high surrogate
      "&3gA-",         // lone low surrogate
      "&U,BTFx-",      // non-zero padding bits
      "&-&",           // '&' at the end
      "Entwürfe",      // raw 8-bit (a server sending UTF-8)
      "&AAAA-x",       // leftover bits
  };
  for (const char* b : bad) {
    EXPECT_EQ(TryDecodeModifiedUtf7(b), std::nullopt) << b;
    EXPECT_EQ(DecodeModifiedUtf7(b), b) << b;
  }
}

TEST(ModifiedUtf7, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(DecodeModifiedUtf7(EncodeModifiedUtf7("a\xff" "b")), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(DecodeModifiedUtf7(EncodeModifiedUtf7("\xc3")), "\xEF\xBF\xBD");
  EXPECT_EQ(DecodeModifiedUtf7(EncodeModifiedUtf7("\xed\xa0\x80")), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace mailkeep
