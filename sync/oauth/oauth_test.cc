// Unit tests of the OAuth pieces that need no server: URL and form
// encoding, token endpoint replies with their limits, the token store and
// the OAUTHBEARER initial response, the device grant's polling with a
// scripted transport and clock. token_client and device_grant also run
// against tests/servers/oauth_server.py (oauth_endpoint_test.cc).
#include <sys/stat.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <vector>

#include <gtest/gtest.h>

#include "store/util/files.h"
#include "sync/oauth/device_grant.h"
#include "sync/oauth/https_post.h"
#include "sync/net/sasl.h"
#include "sync/oauth/token_reply.h"
#include "sync/oauth/token_store.h"

namespace mailkeep::oauth {
namespace {

TEST(HttpsUrl, ParsesHostPortAndTarget) {
  auto u = ParseHttpsUrl("https://login.example.com/oauth2/token");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->host, "login.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/oauth2/token");
  u = ParseHttpsUrl("https://[::1]:8443?x=1");
  ASSERT_TRUE(u) << u.error().message();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 8443);
  EXPECT_EQ(u->target, "/?x=1");
}

TEST(HttpsUrl, RefusesWhatIsNotPlainHttps) {
  for (const char* bad : {"http://example.com/token", "https://user:pw@example.com/", "https:///token",
                          "https://example.com:0/", "https://example.com:70000/", "https://example.com/a b",
                          "https://example.com/#frag", "https://example.com/\x1b[2J"}) {
    auto u = ParseHttpsUrl(bad);
    EXPECT_FALSE(u) << bad;
    if (!u) {
      EXPECT_EQ(u.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(ParseHttpsUrl("https://example.com/" + std::string(3000, 'a')));
}

TEST(FormEncode, PercentEncodesAllButUnreserved) {
  EXPECT_EQ(FormEncode({{"grant_type", "refresh_token"}, {"refresh_token", "1//a+b/c= d&e"}}),
            "grant_type=refresh_token&refresh_token=1%2F%2Fa%2Bb%2Fc%3D%20d%26e");
}

TEST(TokenReply, AcceptsABearerToken) {
  auto r = ParseTokenReply(200, R"({"access_token":"ya29.a0Af","token_type":"Bearer","expires_in":3599,
                                    "refresh_token":"1//0gRefresh","scope":"https://mail.google.com/"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->error, GrantError::kNone);
  EXPECT_EQ(r->access_token, "ya29.a0Af");
  EXPECT_EQ(r->refresh_token, "1//0gRefresh");
  EXPECT_EQ(r->expires_in, 3599);
}

TEST(TokenReply, ExpiresInAsStringOrAbsent) {
  auto r = ParseTokenReply(200, R"({"access_token":"a","token_type":"bearer","expires_in":"600"})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->expires_in, 600);
  EXPECT_TRUE(r->refresh_token.empty());
  r = ParseTokenReply(200, R"({"access_token":"a","token_type":"Bearer"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->expires_in, kDefaultExpiresIn);
}

TEST(TokenReply, RefusesOutOfRangeAndHostileFields) {
  const char* bad[] = {
      R"({"access_token":"a","token_type":"Bearer","expires_in":0})",
      R"({"access_token":"a","token_type":"Bearer","expires_in":-5})",
      R"({"access_token":"a","token_type":"Bearer","expires_in":1e30})",
      R"({"access_token":"a","token_type":"Bearer","expires_in":99999999999})",
      R"({"access_token":"a","token_type":"Bearer","expires_in":"12x"})",
      R"({"access_token":"a b","token_type":"Bearer"})",
      R"({"access_token":"a\r\nA1 LOGOUT","token_type":"Bearer"})",
      R"({"access_token":"a\u001b[2J","token_type":"Bearer"})",
      R"({"access_token":"","token_type":"Bearer"})",
      R"({"access_token":7,"token_type":"Bearer"})",
      R"({"access_token":"a","token_type":"mac"})",
      R"({"access_token":"a"})",
      R"({"token_type":"Bearer"})",
      R"(["access_token"])",
      "not json",
  };
  for (const char* body : bad) {
    auto r = ParseTokenReply(200, body);
    EXPECT_FALSE(r) << body;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition) << body;
    }
  }
  std::string huge = R"({"access_token":")" + std::string(kMaxToken + 1, 'a') + R"(","token_type":"Bearer"})";
  EXPECT_FALSE(ParseTokenReply(200, huge));
  std::string deep = R"({"access_token":"a","token_type":"Bearer","x":)" + std::string(5000, '[') +
                     std::string(5000, ']') + "}";
  auto r = ParseTokenReply(200, deep);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("nested"), std::string::npos);
}

TEST(TokenReply, ErrorsAreClassifiedAndPrintable) {
  auto r = ParseTokenReply(400, R"({"error":"invalid_grant","error_description":"Token has been\u001b[31m revoked."})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->error, GrantError::kInvalidGrant);
  EXPECT_EQ(r->error_text, "invalid_grant: Token has been?[31m revoked.");
  r = ParseTokenReply(400, R"({"error":"authorization_pending"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, GrantError::kAuthorizationPending);
  r = ParseTokenReply(400, R"({"error":"slow_down"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->error, GrantError::kSlowDown);
  r = ParseTokenReply(503, "<html>busy</html>");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(ParseTokenReply(404, "<html>no</html>"));
  EXPECT_FALSE(ParseTokenReply(400, R"({"no":"error"})"));
}

TEST(DeviceAuthorization, ParsesAndBoundsTheCodeAndInterval) {
  auto d = ParseDeviceAuthorization(200, R"({"device_code":"dc","user_code":"WDJB-MJHT",
      "verification_uri":"https://example.com/device","expires_in":1800,"interval":5})");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->user_code, "WDJB-MJHT");
  EXPECT_EQ(d->verification_uri, "https://example.com/device");
  EXPECT_EQ(d->interval, 5);
  d = ParseDeviceAuthorization(200, R"({"device_code":"dc","user_code":"C","verification_url":"https://g.co/device",
      "expires_in":1800})");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->interval, kDefaultInterval);
  for (const char* body : {
           R"({"device_code":"dc","user_code":"C","verification_uri":"https://x/","expires_in":1800,"interval":0})",
           R"({"device_code":"dc","user_code":"C","verification_uri":"https://x/","expires_in":1800,"interval":100000})",
           R"({"device_code":"dc","user_code":"C","verification_uri":"https://x/","expires_in":0})",
           R"({"device_code":"dc","user_code":"C","verification_uri":"javascript:x","expires_in":60})",
           R"({"device_code":"dc","user_code":"C\u001b]0;x","verification_uri":"https://x/","expires_in":60})",
       }) {
    EXPECT_FALSE(ParseDeviceAuthorization(200, body)) << body;
  }
  std::string long_code = R"({"device_code":"dc","user_code":")" + std::string(kMaxUserCode + 1, 'A') +
                          R"(","verification_uri":"https://x/","expires_in":60})";
  EXPECT_FALSE(ParseDeviceAuthorization(200, long_code));
}

class TokenStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/oauth-store-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  static mode_t Mode(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  std::string dir_;
};

TEST_F(TokenStoreTest, KeepsTokensPrivateAndReadsThemBack) {
  TokenStore store(dir_, "account.work");
  auto none = store.LoadRefreshToken();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  EXPECT_FALSE(store.LoadAccessToken());
  ASSERT_TRUE(store.SaveRefreshToken("1//refresh"));
  ASSERT_TRUE(store.SaveAccessToken({"ya29.access", 1700000000}));
  EXPECT_EQ(Mode(dir_ + "/oauth"), 0700u);
  EXPECT_EQ(Mode(dir_ + "/oauth/account.work.refresh"), 0600u);
  EXPECT_EQ(Mode(dir_ + "/oauth/account.work.access"), 0600u);
  auto refresh = store.LoadRefreshToken();
  ASSERT_TRUE(refresh && *refresh);
  EXPECT_EQ(**refresh, "1//refresh");
  auto access = store.LoadAccessToken();
  ASSERT_TRUE(access);
  EXPECT_EQ(access->token, "ya29.access");
  EXPECT_EQ(access->expires_at, 1700000000);
  ASSERT_TRUE(store.ForgetAccessToken());
  EXPECT_FALSE(store.LoadAccessToken());
  EXPECT_FALSE(TokenStore(dir_, "relay.work").LoadAccessToken());  // another name, another file
}

TEST_F(TokenStoreTest, RefusesReadableAndDamagedFiles) {
  TokenStore store(dir_, "account.a");
  ASSERT_TRUE(store.SaveRefreshToken("tok"));
  ASSERT_EQ(::chmod((dir_ + "/oauth/account.a.refresh").c_str(), 0644), 0);
  auto r = store.LoadRefreshToken();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("chmod 600"), std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oauth/account.a.refresh", "two\ntokens\n"));
  r = store.LoadRefreshToken();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("damaged"), std::string::npos);
  EXPECT_EQ(r.error().message().find("tokens"), std::string::npos);  // never the content
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oauth/account.a.access", "mailkeep-oauth-access 1\nsoon\ntok\n"));
  EXPECT_FALSE(store.LoadAccessToken());
  EXPECT_FALSE(store.SaveRefreshToken("has space"));
  EXPECT_FALSE(store.SaveAccessToken({"line\nbreak", 1}));
}

// The device grant with a scripted token endpoint: each poll takes the
// next step; time passes only in the injected sleeper.
class DeviceGrantTest : public TokenStoreTest {
 protected:
  struct Step {
    int status = 400;
    std::string body;                // used when status != 0
  };
  static Step Pending() { return {400, R"({"error":"authorization_pending"})"}; }
  static Step SlowDown() { return {400, R"({"error":"slow_down"})"}; }
  static Step Unreachable() { return {0, ""}; }
  static Step Granted() {
    return {200, R"({"access_token":"at-0123456789","token_type":"Bearer","expires_in":3600,)"
                 R"("refresh_token":"rt-0123456789"})"};
  }

  // expires_in and interval of the device code.
  Status Run(std::vector<Step> steps, int expires_in = 600, int interval = 5) {
    std::deque<Step> script(steps.begin(), steps.end());
    ClientConfig client;
    client.context = "account work";
    client.token_url = "https://login.example.com/token";
    client.device_url = "https://login.example.com/device";
    client.client_id = "mailkeep-test";
    client.transport = [&, expires_in, interval](const HttpsUrl& url, std::string_view, const PostOptions&)
        -> Result<HttpReply> {
      if (url.target == "/device") {
        return HttpReply{200, R"({"device_code":"dc-1","user_code":"WDJB-MJHT",)"
                              R"("verification_uri":"https://login.example.com/activate","expires_in":)" +
                                  std::to_string(expires_in) + R"(,"interval":)" + std::to_string(interval) + "}"};
      }
      ++polls;
      if (script.empty()) return MakeError(ErrorCode::kInternal, "poll after the script ended");
      Step step = script.front();
      script.pop_front();
      if (step.status == 0) return MakeError(ErrorCode::kUnavailable, "login.example.com:443: connection refused");
      return HttpReply{step.status, step.body};
    };
    DeviceGrantHooks hooks;
    hooks.show = [](const DevicePrompt&) {};
    hooks.sleep = [this](int s) {
      sleeps.push_back(s);
      now += s;
    };
    hooks.now = [this] { return now; };
    TokenStore store(dir_, "account.work");
    return RunDeviceGrant(client, store, hooks);
  }

  bool Granted(const Status& s) {
    auto refresh = TokenStore(dir_, "account.work").LoadRefreshToken();
    return s && refresh && *refresh && **refresh == "rt-0123456789";
  }

  int64_t now = 1'000'000;
  std::vector<int> sleeps;
  int polls = 0;
};

TEST_F(DeviceGrantTest, SlowDownAddsFiveSecondsFromThenOn) {
  Status s = Run({Pending(), SlowDown(), Pending(), SlowDown(), Granted()});
  EXPECT_TRUE(Granted(s)) << (s ? "" : s.error().message());
  EXPECT_EQ(sleeps, (std::vector<int>{5, 5, 10, 10, 15}));
}

TEST_F(DeviceGrantTest, NetworkTroubleWhilePollingIsRetriedLessOften) {
  Status s = Run({Pending(), Unreachable(), Unreachable(), Pending(), Granted()});
  EXPECT_TRUE(Granted(s)) << (s ? "" : s.error().message());
  // Each failed poll doubles the interval (RFC 8628 §3.5).
  EXPECT_EQ(sleeps, (std::vector<int>{5, 5, 10, 20, 20}));
}

TEST_F(DeviceGrantTest, NetworkTroubleIsRetriedABoundedNumberOfTimes) {
  std::vector<Step> down(kMaxUnreachablePolls + 1, Unreachable());
  Status s = Run(down, /*expires_in=*/86400);
  ASSERT_FALSE(s);
  EXPECT_EQ(polls, kMaxUnreachablePolls + 1);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(s.error().message(), "account work: login.example.com:443: connection refused (6 polls in a row); "
                                 "run the command again");
  EXPECT_FALSE(Granted(s));
}

TEST_F(DeviceGrantTest, OtherFailuresAreNotRetried) {
  Status s = Run({{500, "oops"}, Granted()});
  // A 5xx is network trouble too...
  EXPECT_TRUE(Granted(s)) << (s ? "" : s.error().message());
  polls = 0;
  sleeps.clear();
  // ...a reply that is not OAuth is not.
  s = Run({{200, "<html>"}, Granted()});
  ASSERT_FALSE(s);
  EXPECT_EQ(polls, 1);
}

TEST_F(DeviceGrantTest, ExpiryEndsTheWaitWithOneLine) {
  Status s = Run(std::vector<Step>(10, Pending()), /*expires_in=*/12, /*interval=*/5);
  ASSERT_FALSE(s);
  EXPECT_EQ(sleeps, (std::vector<int>{5, 5}));  // a third poll would come after the code expired
  EXPECT_EQ(s.error().message(), "account work: the code expired before it was approved; run the command again");
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
  s = Run({Pending(), {400, R"({"error":"expired_token"})"}});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "account work: the code expired before it was approved; run the command again");
}

}  // namespace
}  // namespace mailkeep::oauth
