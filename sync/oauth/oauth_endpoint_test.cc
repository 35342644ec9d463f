// AccessTokens and the device grant against tests/servers/oauth_server.py
// over real HTTPS (run by tests/servers/oauth.sh, which sets OAUTH_URL and
// OAUTH_CA; skipped without them).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "sync/oauth/device_grant.h"
#include "sync/oauth/token_client.h"

namespace mailkeep::oauth {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = Env("OAUTH_URL");
    if (url_.empty()) GTEST_SKIP() << "OAUTH_URL is not set (run under tests/servers/oauth.sh)";
    char tmpl[] = "/tmp/oauth-endpoint-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    refresh_ = "rt-seed-" + std::to_string(++seq_) + "-" + std::to_string(::getpid());
    Admin({{"action", "set"}, {"rotate", "0"}, {"expires_in", "3600"}});
    Admin({{"action", "device_script"}, {"steps", ""}});
    Admin({{"action", "add_refresh"}, {"token", refresh_}, {"user", "alice"}});
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  nlohmann::json Admin(std::vector<std::pair<std::string, std::string>> fields) {
    PostOptions o;
    o.ca_file = Env("OAUTH_CA");
    auto url = ParseHttpsUrl(url_ + "/admin");
    EXPECT_TRUE(url);
    auto reply = PostForm(*url, FormEncode(fields), o);
    EXPECT_TRUE(reply) << reply.error().message();
    if (!reply) return {};
    return nlohmann::json::parse(reply->body);
  }

  ClientConfig Client() {
    ClientConfig c;
    c.context = "account work";
    c.reauthorize = "mailkeep oauth work";
    c.token_url = url_ + "/token";
    c.device_url = url_ + "/device";
    c.client_id = "mailkeep-test";
    c.post.ca_file = Env("OAUTH_CA");
    return c;
  }

  AccessTokens Tokens(int64_t* now) {
    AccessTokens::Options o;
    o.client = Client();
    o.now = [now] { return *now; };
    return AccessTokens(std::move(o), TokenStore(dir_, "account.work"));
  }

  void StoreRefresh() { ASSERT_TRUE(TokenStore(dir_, "account.work").SaveRefreshToken(refresh_)); }

  static inline int seq_ = 0;
  std::string url_, dir_, refresh_;
};

TEST_F(EndpointTest, RefreshesOnlyWhenTheCachedTokenExpires) {
  StoreRefresh();
  int64_t now = 1'000'000;
  auto tokens = Tokens(&now);
  int before = Admin({{"action", "stats"}})["refresh_grants"];
  auto first = tokens.Get();
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(first->starts_with("at-"));
  auto again = tokens.Get();  // cached: no request
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(Admin({{"action", "stats"}})["refresh_grants"], before + 1);
  now += 3600 - 30;           // inside the 60 s margin: refreshed
  auto later = tokens.Get();
  ASSERT_TRUE(later) << later.error().message();
  EXPECT_NE(*later, *first);
  EXPECT_EQ(Admin({{"action", "stats"}})["refresh_grants"], before + 2);
  auto renewed = tokens.Renew();  // whatever the cache says
  ASSERT_TRUE(renewed);
  EXPECT_NE(*renewed, *later);
}

TEST_F(EndpointTest, ARotatedRefreshTokenReplacesTheStoredOne) {
  StoreRefresh();
  Admin({{"action", "set"}, {"rotate", "1"}});
  int64_t now = 1'000'000;
  auto tokens = Tokens(&now);
  ASSERT_TRUE(tokens.Renew());
  auto stored = TokenStore(dir_, "account.work").LoadRefreshToken();
  ASSERT_TRUE(stored && *stored);
  EXPECT_NE(**stored, refresh_);
  EXPECT_TRUE(tokens.Renew());  // the old one is retired at the server; the new one works
}

TEST_F(EndpointTest, ARevokedRefreshTokenSaysWhatToRun) {
  StoreRefresh();
  Admin({{"action", "revoke"}, {"user", "alice"}});
  int64_t now = 1'000'000;
  auto tokens = Tokens(&now);
  auto r = tokens.Get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(r.error().message(),
            "account work: the token endpoint refused the refresh token (invalid_grant: Token has been expired or "
            "revoked.); run: mailkeep oauth work");
  EXPECT_EQ(r.error().message().find(refresh_), std::string::npos);
}

TEST_F(EndpointTest, NoRefreshTokenYetSaysWhatToRun) {
  int64_t now = 1;
  auto r = Tokens(&now).Get();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "account work: no OAuth refresh token yet; run: mailkeep oauth work");
}

TEST_F(EndpointTest, TheEndpointCertificateIsVerified) {
  StoreRefresh();
  AccessTokens::Options o;
  o.client = Client();
  o.client.post.ca_file.clear();  // the test CA is not in the system store
  AccessTokens tokens(std::move(o), TokenStore(dir_, "account.work"));
  auto r = tokens.Get();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not trusted"), std::string::npos) << r.error().message();
}

TEST_F(EndpointTest, AReplyOverTheLimitIsRefused) {
  PostOptions o;
  o.ca_file = Env("OAUTH_CA");
  o.max_body = 16;
  auto url = ParseHttpsUrl(url_ + "/admin");
  ASSERT_TRUE(url);
  auto r = PostForm(*url, "action=stats", o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("over 16 bytes"), std::string::npos) << r.error().message();
}

TEST_F(EndpointTest, DeviceGrantPollsAtTheIntervalAndHonoursSlowDown) {
  Admin({{"action", "device_script"}, {"steps", "authorization_pending,slow_down"}});
  TokenStore store(dir_, "account.work");
  std::vector<int> sleeps;
  DevicePrompt shown;
  int64_t now = 1'000'000;
  DeviceGrantHooks hooks;
  hooks.show = [&](const DevicePrompt& p) { shown = p; };
  hooks.sleep = [&](int s) { sleeps.push_back(s); now += s; };
  hooks.now = [&] { return now; };
  auto granted = RunDeviceGrant(Client(), store, hooks);
  ASSERT_TRUE(granted) << granted.error().message();
  EXPECT_EQ(shown.user_code, "WDJB-MJHT");
  EXPECT_TRUE(shown.verification_uri.starts_with("https://localhost:"));
  // authorization_pending, slow_down (+5 s from then on), granted (the server approves after 2 polls).
  EXPECT_EQ(sleeps, (std::vector<int>{1, 1, 6}));
  auto refresh = store.LoadRefreshToken();
  ASSERT_TRUE(refresh && *refresh);
  EXPECT_TRUE((*refresh)->starts_with("rt-"));
  EXPECT_TRUE(store.LoadAccessToken());
}

TEST_F(EndpointTest, DeviceGrantStopsWhenDeniedOrExpired) {
  for (auto [step, expected] : {std::pair{"access_denied", "authorization was denied"},
                                std::pair{"expired_token", "the code expired"}}) {
    Admin({{"action", "device_script"}, {"steps", step}});
    TokenStore store(dir_, "account.denied");
    DeviceGrantHooks hooks;
    hooks.show = [](const DevicePrompt&) {};
    hooks.sleep = [](int) {};
    auto granted = RunDeviceGrant(Client(), store, hooks);
    ASSERT_FALSE(granted) << step;
    EXPECT_NE(granted.error().message().find(expected), std::string::npos) << granted.error().message();
    auto refresh = store.LoadRefreshToken();
    ASSERT_TRUE(refresh);
    EXPECT_FALSE(*refresh);
  }
}

}  // namespace
}  // namespace mailkeep::oauth
