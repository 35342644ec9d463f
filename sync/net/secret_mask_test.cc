#include "sync/net/secret_mask.h"

#include <gtest/gtest.h>

#include "sync/net/sasl.h"

namespace mailkeep::net {
namespace {

TEST(SecretMask, EveryFormOfThePasswordIsMasked) {
  SecretMask mask("alice", "s3cret-pw");
  EXPECT_EQ(mask.Apply("[AUTH] bad password s3cret-pw for alice"), "[AUTH] bad password *** for alice");
  // AUTH PLAIN: base64 of "\0alice\0s3cret-pw", with and without padding.
  EXPECT_EQ(mask.Apply("535 AGFsaWNlAHMzY3JldC1wdw== rejected"), "535 *** rejected");
  EXPECT_EQ(mask.Apply("535 AGFsaWNlAHMzY3JldC1wdw rejected"), "535 *** rejected");
  // AUTH LOGIN: base64 of the password.
  EXPECT_EQ(mask.Apply("-ERR czNjcmV0LXB3 is wrong"), "-ERR *** is wrong");
  // XOAUTH2: the password is the token.
  const std::string x = Base64Encode(SaslXoauth2("alice", "s3cret-pw"));
  EXPECT_EQ(mask.Apply("NO " + x), "NO ***");
  // Every occurrence, and nothing else.
  EXPECT_EQ(mask.Apply("s3cret-pws3cret-pw s3cret"), "****** s3cret");
  EXPECT_EQ(mask.Apply(""), "");
}

TEST(SecretMask, ImapQuotedForm) {
  SecretMask mask("alice", "pa\"ss\\word");
  EXPECT_EQ(mask.Apply("NO \"pa\\\"ss\\\\word\" refused"), "NO \"***\" refused");
  EXPECT_EQ(mask.Apply("NO pa\"ss\\word refused"), "NO *** refused");
}

TEST(SecretMask, ShortPasswordsOnlyInsideLongerForms) {
  SecretMask mask("alice", "ab");
  EXPECT_EQ(mask.Apply("about a bad tab"), "about a bad tab");
  EXPECT_EQ(mask.Apply("echo " + Base64Encode(SaslPlain("alice", "ab"))), "echo ***");
}

TEST(SecretMask, NoPasswordMasksNothing) {
  EXPECT_EQ(SecretMask().Apply("s3cret-pw"), "s3cret-pw");
  EXPECT_EQ(SecretMask("alice", "").Apply("alice AGFsaWNlAA=="), "alice AGFsaWNlAA==");
}

}  // namespace
}  // namespace mailkeep::net
