#include "sync/net/sasl.h"

#include <gtest/gtest.h>
#include <optional>
#include <vector>

namespace mailkeep::net {
namespace {

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(Base64Decode("Zg=="), "f");
  EXPECT_EQ(Base64Decode("Zm8="), "fo");
  EXPECT_EQ(Base64Decode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Z").has_value());
  EXPECT_FALSE(Base64Decode("Zg==Zg").has_value());
}

TEST(Base64, BinaryRoundTrip) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  EXPECT_EQ(Base64Decode(Base64Encode(all)), all);
}

TEST(Sasl, PlainAndXoauth2) {
  EXPECT_EQ(Base64Encode(SaslPlain("tim", "tanstaaftanstaaf")), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(SaslXoauth2("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg"),
            std::string("user=someuser@example.com\x01" "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01"));
}

TEST(Apop, Rfc1939Example) {
  EXPECT_EQ(ApopDigest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf"), "c4c9334bac560ecc979e58001b3e22fb");
}

TEST(CramMd5, Rfc2195Example) {
  EXPECT_EQ(SaslCramMd5("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>"),
            "tim b913a602c7eda7a495b4e6e7334d3890");
  // The client's line on the wire is the base64 of that (RFC 2195 §2).
  EXPECT_EQ(Base64Encode(SaslCramMd5("tim", "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>")),
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw");
}

TEST(CramMd5, KeyLongerThanABlockIsHashedFirst) {
  // RFC 2104: a key over 64 bytes is replaced by its MD5 (checked against
  // Python's hmac module).
  EXPECT_EQ(SaslCramMd5("u", std::string(100, 'k'), "x"), "u 2917e317832330baa72b773a7941a286");
}


// --- RunSasl: the exchange the three protocols share ----------------------

// A scripted server: each step is a challenge (base64 text) or the end.
struct ScriptedWire {
  std::vector<std::string> sent;
  std::vector<std::optional<std::string>> steps;  // nullopt = the exchange ends
  size_t next_step = 0;

  SaslWire Wire(const std::string& command, size_t max_line) {
    SaslWire w;
    w.command = command;
    w.max_command_line = max_line;
    w.send = [this](const std::string& line) -> Status {
      sent.push_back(line);
      return OkStatus();
    };
    w.next = [this](std::string* challenge) -> Result<bool> {
      if (next_step >= steps.size()) return MakeError(ErrorCode::kUnavailable, "connection closed");
      const auto& s = steps[next_step++];
      if (!s) return false;
      *challenge = *s;
      return true;
    };
    w.broken = [](std::string_view what) { return Error(ErrorCode::kFailedPrecondition, "broken: " + std::string(what)); };
    return w;
  }
};

TEST(RunSasl, PlainWithInitialResponse) {
  ScriptedWire s;
  s.steps = {std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kPlain, "tim", "tanstaaftanstaaf", s.Wire("AUTH PLAIN", 255)));
  EXPECT_EQ(s.sent, std::vector<std::string>{"AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm"});
}

TEST(RunSasl, PlainWithoutRoomForTheInitialResponseAnswersTheFirstChallenge) {
  for (size_t max : {size_t{0}, size_t{20}}) {
    ScriptedWire s;
    s.steps = {"", std::nullopt};
    ASSERT_TRUE(RunSasl(LoginMethod::kPlain, "tim", "tanstaaftanstaaf", s.Wire("A1 AUTHENTICATE PLAIN", max)));
    EXPECT_EQ(s.sent, (std::vector<std::string>{"A1 AUTHENTICATE PLAIN", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm"}));
  }
}

TEST(RunSasl, PlainCancelsASecondChallenge) {
  ScriptedWire s;
  s.steps = {"", std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kPlain, "u", "p", s.Wire("AUTH PLAIN", 255)));
  EXPECT_EQ(s.sent, (std::vector<std::string>{"AUTH PLAIN AHUAcA==", "*"}));
}

TEST(RunSasl, LoginSendsUserThenPassword) {
  ScriptedWire s;
  s.steps = {"VXNlcm5hbWU6", "Password:" /* some servers prompt in clear */, std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kLogin, "alice", "pw", s.Wire("AUTH LOGIN", 512)));
  EXPECT_EQ(s.sent, (std::vector<std::string>{"AUTH LOGIN", Base64Encode("alice"), Base64Encode("pw")}));
}

TEST(RunSasl, CramMd5AnswersTheChallenge) {
  ScriptedWire s;
  s.steps = {Base64Encode("<1896.697170952@postoffice.reston.mci.net>"), std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kCramMd5, "tim", "tanstaaftanstaaf", s.Wire("AUTH CRAM-MD5", 512)));
  ASSERT_EQ(s.sent.size(), 2u);
  EXPECT_EQ(s.sent[0], "AUTH CRAM-MD5");
  EXPECT_EQ(Base64Decode(s.sent[1]), "tim b913a602c7eda7a495b4e6e7334d3890");
}

TEST(RunSasl, CramMd5ChallengeNotBase64IsBroken) {
  ScriptedWire s;
  s.steps = {"not base64!"};
  auto r = RunSasl(LoginMethod::kCramMd5, "tim", "pw", s.Wire("AUTH CRAM-MD5", 512));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "broken: a challenge that is not base64");
}

TEST(RunSasl, Xoauth2ErrorChallengeGetsAnEmptyAnswer) {
  ScriptedWire s;
  s.steps = {Base64Encode("{\"status\":\"401\"}"), std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kXoauth2, "u", "tok", s.Wire("AUTH XOAUTH2", 512)));
  EXPECT_EQ(s.sent, (std::vector<std::string>{"AUTH XOAUTH2 " + Base64Encode(SaslXoauth2("u", "tok")), ""}));
  // Without room for the initial response: the token answers the first
  // challenge, the JSON error the second.
  ScriptedWire t;
  t.steps = {"", Base64Encode("{}"), std::nullopt};
  ASSERT_TRUE(RunSasl(LoginMethod::kXoauth2, "u", "tok", t.Wire("A1 AUTHENTICATE XOAUTH2", 0)));
  EXPECT_EQ(t.sent, (std::vector<std::string>{"A1 AUTHENTICATE XOAUTH2", Base64Encode(SaslXoauth2("u", "tok")), ""}));
}

TEST(RunSasl, ChallengeAfterCancelIsBroken) {
  ScriptedWire s;
  s.steps = {"", "", ""};
  auto r = RunSasl(LoginMethod::kPlain, "u", "p", s.Wire("AUTH PLAIN", 255));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "broken: a challenge after the exchange was cancelled");
  EXPECT_EQ(s.sent.back(), "*");
}

TEST(RunSasl, ErrorsOfTheWirePassThrough) {
  ScriptedWire s;  // no steps: the connection is gone
  auto r = RunSasl(LoginMethod::kLogin, "u", "p", s.Wire("AUTH LOGIN", 512));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
}

TEST(SaslOauthBearer, Rfc7628Form) {
  EXPECT_EQ(SaslOauthBearer("user@example.com", "server.example.com", 143, "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg=="),
            std::string("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                        "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"));
  EXPECT_EQ(SaslOauthBearer("a,b=c", "h", 993, "t"), std::string("n,a=a=2Cb=3Dc,\x01host=h\x01port=993\x01" "auth=Bearer t\x01\x01"));
}
}  // namespace
}  // namespace mailkeep::net
