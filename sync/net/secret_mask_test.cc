#include "sync/net/secret_mask.h"

#include <gtest/gtest.h>

#include "sync/net/sasl.h"

namespace mailkeep::net {
namespace {

TEST(SecretMask, EveryFormOfThePasswordIsMasked) {
  SecretMask mask("alice", "s3cret-pw", "mail.example.com", 993);
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

TEST(SecretMask, OauthBearerInitialResponseAndBareToken) {
  const std::string token = "ya29.a0AfH6SMB-token_value.xyz";
  SecretMask mask("alice@example.com", token, "smtp.example.com", 587);
  // The initial response the client sent (RFC 7628 §3.1), echoed in base64,
  // with and without padding.
  const std::string sent = SaslOauthBearer("alice@example.com", "smtp.example.com", 587, token);
  ASSERT_NE(sent.find("auth=Bearer " + token), std::string::npos);
  const std::string b64 = Base64Encode(sent);
  EXPECT_EQ(mask.Apply("535 5.7.8 " + b64 + " rejected"), "535 5.7.8 *** rejected");
  std::string unpadded = b64;
  while (unpadded.back() == '=') unpadded.pop_back();
  EXPECT_EQ(mask.Apply("NO " + unpadded), "NO ***");
  // The bare token, and the token inside the decoded response.
  EXPECT_EQ(mask.Apply("bad token " + token + "."), "bad token ***.");
  EXPECT_EQ(mask.Apply("got auth=Bearer " + token + " from you"), "got auth=Bearer *** from you");
  // Another host's response is not the one sent; its token part is still
  // masked wherever it shows bare.
  EXPECT_EQ(mask.Apply("x"), "x");
}

TEST(SecretMask, ImapQuotedForm) {
  SecretMask mask("alice", "pa\"ss\\word", "mail.example.com", 993);
  EXPECT_EQ(mask.Apply("NO \"pa\\\"ss\\\\word\" refused"), "NO \"***\" refused");
  EXPECT_EQ(mask.Apply("NO pa\"ss\\word refused"), "NO *** refused");
}

TEST(SecretMask, ShortPasswordsOnlyInsideLongerForms) {
  SecretMask mask("alice", "ab", "mail.example.com", 993);
  EXPECT_EQ(mask.Apply("about a bad tab"), "about a bad tab");
  EXPECT_EQ(mask.Apply("echo " + Base64Encode(SaslPlain("alice", "ab"))), "echo ***");
}

TEST(SecretMask, NoPasswordMasksNothing) {
  EXPECT_EQ(SecretMask().Apply("s3cret-pw"), "s3cret-pw");
  EXPECT_EQ(SecretMask("alice", "", "mail.example.com", 993).Apply("alice AGFsaWNlAA=="), "alice AGFsaWNlAA==");
}

}  // namespace
}  // namespace mailkeep::net
