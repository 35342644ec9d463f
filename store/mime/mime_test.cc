#include <gtest/gtest.h>

#include "store/mime/decode.h"
#include "store/mime/message.h"

namespace mailkeep::mime {
namespace {
TEST(Mime, Smoke) {
  Message m = ParseMessage("Subject: hi\n\nbody\n");
  EXPECT_EQ(m.subject, "hi");
}
}  // namespace
}  // namespace mailkeep::mime
