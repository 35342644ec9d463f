#include "web/auth.h"

#include <atomic>
#include <chrono>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include "store/crypto/password_hash.h"
#include "store/util/sha256.h"
#include "sync/net/sasl.h"

namespace mailkeep::web {
namespace {

using crypto::ParsePasswordHash;
using crypto::PasswordHash;
using crypto::PasswordHashLimits;
using crypto::ScryptCost;
using std::chrono::seconds;

// Tests hash at 1 MiB (an explicit test parameter); production is 32 MiB.
constexpr ScryptCost kTestCost{10, 8, 1};
PasswordHashLimits TestLimits() {
  PasswordHashLimits l;
  l.min_memory = uint64_t{1} << 20;
  return l;
}

PasswordHash MustHash(std::string_view password, ScryptCost cost = kTestCost) {
  auto h = crypto::HashPassword(password, cost);
  EXPECT_TRUE(h) << h.error().message();
  return h ? *h : PasswordHash{};
}

config::ServeToken Token(std::string name, std::string_view token) {
  config::ServeToken t;
  t.name = std::move(name);
  t.sha256 = Sha256(token);
  return t;
}

std::string Basic(std::string_view user, std::string_view password) {
  return "Basic " + net::Base64Encode(std::string(user) + ":" + std::string(password));
}

Request From(std::string authorization, std::string client = "192.0.2.1") {
  Request r;
  r.method = "GET";
  r.path = "/";
  r.client = std::move(client);
  if (!authorization.empty()) r.headers.emplace_back("authorization", std::move(authorization));
  return r;
}

// Users alice, bob and carol, tokens ci and bot, a clock the test moves.
class AuthTest : public ::testing::Test {
 protected:
  AuthTest() {
    for (auto [name, password] : {std::pair{"alice", "correct horse"}, {"bob", "battery staple"}, {"carol", "pw3"}}) {
      serve_.users.push_back({name, MustHash(password), 0});
    }
    serve_.token_file = "/tokens";
    serve_.tokens = {Token("ci", "ci-token-0123456789"), Token("bot", "bot-token-abcdef")};
    options_.now = [this] { return now_; };
    options_.hash_limits = TestLimits();
  }
  ServeAuthenticator& Auth() {
    if (!auth_) {
      auto made = MakeAuthenticator(serve_, options_);
      EXPECT_TRUE(made) << made.error().message();
      auth_ = std::move(*made);
    }
    return *auth_;
  }
  AuthOutcome Outcome(std::string header, std::string client = "192.0.2.1") {
    return Auth().Authenticate(From(std::move(header), std::move(client))).outcome;
  }
  // What a request without credentials (never counted as a failure) is told.
  AuthResult Unauthenticated(std::string client = "192.0.2.1") { return Auth().Authenticate(From("", client)); }
  uint64_t KdfRuns() { return Auth().stats().kdf_runs; }

  config::ServeConfig serve_;
  AuthOptions options_;
  std::chrono::steady_clock::time_point now_{seconds(1000)};
  std::unique_ptr<ServeAuthenticator> auth_;
};

// ---------------------------------------------------------------------------
// The hash string.

TEST(PasswordHash, RoundTripAndVerify) {
  const PasswordHash h = MustHash("correct horse");
  const std::string text = crypto::FormatPasswordHash(h);
  EXPECT_TRUE(text.starts_with("$scrypt$ln=10,r=8,p=1$")) << text;
  EXPECT_EQ(text.find('=', text.find('$', 8)), std::string::npos);  // no base64 padding after the cost
  auto back = ParsePasswordHash(text, TestLimits());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->salt, h.salt);
  EXPECT_EQ(back->hash, h.hash);
  EXPECT_EQ(back->salt.size(), 16u);
  EXPECT_EQ(back->hash.size(), 32u);
  EXPECT_TRUE(crypto::VerifyPassword("correct horse", *back).value_or(false));
  EXPECT_FALSE(crypto::VerifyPassword("correct hors", *back).value_or(true));
  EXPECT_FALSE(crypto::VerifyPassword("", *back).value_or(true));
  // Two hashes of one password differ (salted).
  EXPECT_NE(crypto::FormatPasswordHash(MustHash("correct horse")), text);
}

// A hash another implementation made (Python's hashlib.scrypt, written in
// the same PHC form) verifies here: the format and the scrypt call agree
// with the standard.
TEST(PasswordHash, InteroperatesWithOtherScrypt) {
  auto h = ParsePasswordHash("$scrypt$ln=10,r=8,p=1$bWFpbGtlZXAtc2FsdC0xNg$8rZIPT4Knp8Z1O/LjE1LbrerPHT9dEasOSQ7bgLdAbo",
                             TestLimits());
  ASSERT_TRUE(h) << h.error().message();
  EXPECT_EQ(h->salt, "mailkeep-salt-16");
  EXPECT_TRUE(crypto::VerifyPassword("correct horse", *h).value_or(false));
  EXPECT_FALSE(crypto::VerifyPassword("correct horsE", *h).value_or(true));
}

TEST(PasswordHash, DefaultCostIsMemoryHard) {
  EXPECT_GE(ScryptCost{}.Memory(), uint64_t{32} << 20);
  EXPECT_EQ(PasswordHashLimits{}.min_memory, uint64_t{32} << 20);
  // A test-cost hash is refused under the production limits.
  auto r = ParsePasswordHash(crypto::FormatPasswordHash(MustHash("x")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "its cost is out of bounds (memory 1 MiB, p = 1; allowed 32 MiB to 256 MiB, p <= 4)");
  EXPECT_FALSE(crypto::HashPassword("", kTestCost));
  EXPECT_FALSE(crypto::HashPassword("x", ScryptCost{9, 8, 1}));  // 512 KiB
  EXPECT_FALSE(crypto::HashPassword("x", ScryptCost{19, 8, 1}));  // 512 MiB
}

TEST(PasswordHash, CostOutOfBoundsRefusedBeforeAnyDerivation) {
  const std::string salt_hash = "$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
  // 128 GiB, 1 GiB, p = 5, r = 1024 with ln = 40: each would take minutes or
  // all memory; refused at once.
  for (std::string cost : {"ln=30,r=8,p=1", "ln=20,r=8,p=1", "ln=15,r=8,p=5", "ln=40,r=1024,p=1", "ln=14,r=8,p=1"}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = ParsePasswordHash("$scrypt$" + cost + salt_hash);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
    ASSERT_FALSE(r) << cost;
    EXPECT_TRUE(r.error().message().starts_with("its cost is out of bounds")) << r.error().message();
  }
  EXPECT_TRUE(ParsePasswordHash("$scrypt$ln=15,r=8,p=1" + salt_hash));
  EXPECT_TRUE(ParsePasswordHash("$scrypt$ln=17,r=8,p=4" + salt_hash));  // 128 MiB
}

TEST(PasswordHash, MalformedStringsRefused) {
  const std::string salt = "c2FsdHNhbHRzYWx0c2FsdA", hash = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
  const std::string good = "$scrypt$ln=15,r=8,p=1$" + salt + "$" + hash;
  ASSERT_TRUE(ParsePasswordHash(good));
  for (std::string bad : {
           std::string(""), std::string("hunter2"), "$argon2id$v=19$m=65536,t=3,p=4$" + salt + "$" + hash,
           "$scrypt$ln=15,r=8$" + salt + "$" + hash,               // p missing
           "$scrypt$r=8,ln=15,p=1$" + salt + "$" + hash,           // order
           "$scrypt$ln=15,r=8,p=1,$" + salt + "$" + hash,          // trailing comma
           "$scrypt$ln=15,r=8,p=1,x=2$" + salt + "$" + hash,       // extra field
           "$scrypt$ln=,r=8,p=1$" + salt + "$" + hash,             // no number
           "$scrypt$ln=-1,r=8,p=1$" + salt + "$" + hash,           // sign
           "$scrypt$ln=99,r=8,p=1$" + salt + "$" + hash,           // beyond arithmetic
           "$scrypt$ln=15,r=0,p=1$" + salt + "$" + hash,           // r = 0
           "$scrypt$ln=15,r=8,p=99999999999999999999$" + salt + "$" + hash,  // overflow
           "$scrypt$ln=15,r=8,p=1$" + salt,                        // no hash
           "$scrypt$ln=15,r=8,p=1$" + salt + "$" + hash + "$",     // extra part
           "$scrypt$ln=15,r=8,p=1$" + salt + "==$" + hash,         // padding
           "$scrypt$ln=15,r=8,p=1$" + salt + "$" + hash + "=",     // padding
           "$scrypt$ln=15,r=8,p=1$c2Fsd!NhbHRzYWx0c2FsdA$" + hash,  // not base64
           "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdB$" + hash,  // non-canonical last symbol
           "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHQ$" + hash,            // salt of 8 bytes
           "$scrypt$ln=15,r=8,p=1$" + salt + "$aGFzaA",            // hash of 4 bytes
           "$scrypt$ln=15,r=8,p=1$" + salt + "$" + hash + hash + hash,  // hash of 96 bytes
           "$scrypt$ln=15,r=8,p=1$" + salt + "$" + hash.substr(0, 42) + "\n",
           "$scrypt$ln=15,r=8,p=1$" + salt + std::string("\0", 1) + "$" + hash,
       }) {
    auto r = ParsePasswordHash(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message(), "not a $scrypt$ln=N,r=R,p=P$SALT$HASH string") << bad;
  }
}

// ---------------------------------------------------------------------------
// Basic and Bearer.

TEST_F(AuthTest, RightPassword) {
  EXPECT_EQ(Auth().Authenticate(From(Basic("alice", "correct horse"))).user, "alice");
  AuthResult r = Auth().Authenticate(From(Basic("bob", "battery staple")));
  EXPECT_EQ(r.outcome, AuthOutcome::kOk);
  EXPECT_EQ(r.user, "bob");
  // The scheme is case-insensitive (RFC 7235), spaces before the credentials are skipped.
  EXPECT_EQ(Outcome("basic " + net::Base64Encode("carol:pw3")), AuthOutcome::kOk);
  EXPECT_EQ(Outcome("BASIC    " + net::Base64Encode("carol:pw3")), AuthOutcome::kOk);
  // A password may hold ':' (only the first one separates).
  serve_.users.push_back({"dave", MustHash("a:b:c"), 0});
  auth_.reset();
  EXPECT_EQ(Auth().Authenticate(From(Basic("dave", "a:b:c"))).user, "dave");
}

TEST_F(AuthTest, WrongPasswordAndUnknownUserCostTheSame) {
  EXPECT_EQ(Outcome(Basic("alice", "correct horsf")), AuthOutcome::kRefused);
  EXPECT_EQ(KdfRuns(), 1u);
  EXPECT_EQ(Outcome(Basic("mallory", "correct horse")), AuthOutcome::kRefused);
  EXPECT_EQ(KdfRuns(), 2u);  // one scrypt run, as for a known user
  EXPECT_EQ(Outcome(Basic("Alice", "correct horse")), AuthOutcome::kRefused);  // names are case-sensitive
  EXPECT_EQ(Outcome(Basic("alice", "")), AuthOutcome::kRefused);
  EXPECT_EQ(Auth().Authenticate(From(Basic("alice", "battery staple"))).user, "");  // bob's password
  EXPECT_EQ(KdfRuns(), 5u);
}

TEST_F(AuthTest, MalformedHeadersAreRefusedWithoutScrypt) {
  options_.max_failures = 1000;
  const std::string huge = Basic("alice", "correct horse" + std::string(5000, 'x'));
  for (const std::string& header : std::vector<std::string>{
           std::string("Basic"), std::string("Basic "), std::string("Basic !!!!"), std::string("Basic YWxpY2U6*"),
           "Basic " + net::Base64Encode("alice"),                          // no colon
           "Basic " + net::Base64Encode(":correct horse"),                 // no name
           "Basic " + net::Base64Encode(std::string("ali\0ce:correct horse", 19)),  // NUL in the name
           "Basic " + net::Base64Encode(std::string("alice:correct\0horse", 19)),  // NUL in the password
           "Basic " + net::Base64Encode("al\nice:x"),                      // control character
           "Basic " + net::Base64Encode(std::string(65, 'a') + ":x"),      // name too long
           "Basic " + net::Base64Encode("alice:" + std::string(1025, 'x')),  // password too long
           huge,                                                           // header over 4 KiB
           "Basic YWxpY2U6Y29ycmVjdCBob3JzZQ== extra",                     // two words
           std::string("Basic YWxpY2U6\0Y29ycmVjdCBob3JzZQ==", 35),        // NUL in the header
           "Basic =YWxp", "Basic YQ=Y", "Digest username=\"alice\"", "alice:correct horse", "Bearer",
           "Bearer two words", "Bearer tok\x01", "Negotiate YIIB"}) {
    AuthResult r = Auth().Authenticate(From(header));
    EXPECT_NE(r.outcome, AuthOutcome::kOk) << header;
    EXPECT_TRUE(r.user.empty());
    EXPECT_TRUE(r.outcome == AuthOutcome::kMalformed || r.outcome == AuthOutcome::kRefused) << header;
  }
  EXPECT_EQ(KdfRuns(), 0u);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
}

TEST_F(AuthTest, BearerTokens) {
  EXPECT_EQ(Auth().Authenticate(From("Bearer ci-token-0123456789")).user, "ci");
  EXPECT_EQ(Auth().Authenticate(From("bearer bot-token-abcdef")).user, "bot");
  EXPECT_EQ(Outcome("Bearer ci-token-012345678"), AuthOutcome::kRefused);
  EXPECT_EQ(Outcome("Bearer ci-token-01234567890"), AuthOutcome::kRefused);
  EXPECT_EQ(Outcome("Bearer " + ToHex(Sha256("ci-token-0123456789"))), AuthOutcome::kRefused);  // the hash is not the token
  EXPECT_EQ(Outcome(Basic("ci", "ci-token-0123456789")), AuthOutcome::kRefused);  // a token is not a password
  EXPECT_EQ(KdfRuns(), 1u);  // only that Basic attempt ran scrypt
}

TEST_F(AuthTest, NoHeaderIsNotAFailure) {
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Outcome(""), AuthOutcome::kNoCredentials);
  EXPECT_EQ(Auth().tracked_clients(), 0u);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
}

TEST_F(AuthTest, OnlyTokensOrOnlyUsers) {
  serve_.users.clear();
  EXPECT_EQ(Unauthenticated().challenge, "Bearer realm=\"mailkeep\"");
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kRefused);
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789"), AuthOutcome::kOk);
  EXPECT_EQ(KdfRuns(), 0u);

  config::ServeConfig users_only;
  users_only.users.push_back({"alice", MustHash("pw"), 0});
  auto made = MakeAuthenticator(users_only, options_);
  ASSERT_TRUE(made && *made);
  EXPECT_EQ((*made)->Authenticate(From("")).challenge, "Basic realm=\"mailkeep\", charset=\"UTF-8\"");
  EXPECT_EQ((*made)->Authenticate(From("Bearer ci-token-0123456789")).outcome, AuthOutcome::kRefused);
}

TEST_F(AuthTest, MakeAuthenticator) {
  EXPECT_EQ(Unauthenticated().challenge, "Basic realm=\"mailkeep\", charset=\"UTF-8\", Bearer realm=\"mailkeep\"");
  // Nothing to check: no authenticator (loopback only).
  auto none = MakeAuthenticator(config::ServeConfig{}, options_);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr);
  // A token file without tokens still means every request must log in.
  config::ServeConfig empty_tokens;
  empty_tokens.token_file = "/tokens";
  auto made = MakeAuthenticator(empty_tokens, options_);
  ASSERT_TRUE(made && *made);
  EXPECT_EQ((*made)->Authenticate(From("Bearer anything")).outcome, AuthOutcome::kRefused);
  // Under the production limits the 1 MiB test hashes are refused.
  auto refused = MakeAuthenticator(serve_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "the hash of user 'alice' in [serve] has a cost out of bounds");
}

// ---------------------------------------------------------------------------
// Throttling, with the injected clock.

TEST_F(AuthTest, FiveFailuresInAMinuteBlockTheClientForAMinute) {
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Outcome(Basic("alice", "guess" + std::to_string(i))), AuthOutcome::kRefused);
    now_ += seconds(10);
  }
  const uint64_t runs = KdfRuns();
  EXPECT_EQ(runs, 5u);
  // Blocked now, even with the right password, and nothing is checked.
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kThrottled);
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789"), AuthOutcome::kThrottled);
  EXPECT_EQ(Auth().Authenticate(From(Basic("alice", "correct horse"))).user, "");
  EXPECT_EQ(KdfRuns(), runs);
  EXPECT_EQ(Unauthenticated("192.0.2.1").retry_after_seconds, 50);  // blocked at the 5th failure, 10 s ago
  // Other clients are not.
  EXPECT_EQ(Outcome(Basic("alice", "correct horse"), "192.0.2.2"), AuthOutcome::kOk);
  EXPECT_EQ(Unauthenticated("192.0.2.2").retry_after_seconds, 0);
  now_ += seconds(49);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kThrottled);
  now_ += seconds(1);
  EXPECT_EQ(Unauthenticated("192.0.2.1").retry_after_seconds, 0);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
  // A fresh count after the block.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(Outcome("Bearer wrong"), AuthOutcome::kRefused);
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789"), AuthOutcome::kOk);
  EXPECT_EQ(Outcome("Bearer wrong"), AuthOutcome::kRefused);
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789"), AuthOutcome::kThrottled);
}

// The one answer the server acts on: allowed (the user), challenged (401
// with the challenge) or throttled (429 with Retry-After), from the failure
// that starts the block on.
TEST_F(AuthTest, TheResultSaysWhatTheServerAnswers) {
  const std::string both = "Basic realm=\"mailkeep\", charset=\"UTF-8\", Bearer realm=\"mailkeep\"";
  AuthResult ok = Auth().Authenticate(From("Bearer ci-token-0123456789"));
  EXPECT_TRUE(ok.allowed());
  EXPECT_FALSE(ok.throttled());
  EXPECT_EQ(ok.user, "ci");
  EXPECT_EQ(ok.challenge, "");
  EXPECT_EQ(ok.retry_after_seconds, 0);
  for (const AuthResult& challenged : {Unauthenticated(), Auth().Authenticate(From("Bearer wrong"))}) {
    EXPECT_FALSE(challenged.allowed());
    EXPECT_FALSE(challenged.throttled());
    EXPECT_EQ(challenged.user, "");
    EXPECT_EQ(challenged.challenge, both);
    EXPECT_EQ(challenged.retry_after_seconds, 0);
  }
  for (int i = 2; i <= 4; ++i) EXPECT_FALSE(Auth().Authenticate(From("Bearer wrong")).throttled()) << i;
  now_ += seconds(1);
  AuthResult fifth = Auth().Authenticate(From("Bearer wrong"));
  EXPECT_EQ(fifth.outcome, AuthOutcome::kRefused);  // checked, and refused ...
  EXPECT_TRUE(fifth.throttled());                   // ... and from now on throttled
  EXPECT_EQ(fifth.retry_after_seconds, 60);
  now_ += std::chrono::milliseconds(20500);
  AuthResult blocked = Auth().Authenticate(From("Bearer ci-token-0123456789"));
  EXPECT_EQ(blocked.outcome, AuthOutcome::kThrottled);
  EXPECT_TRUE(blocked.throttled());
  EXPECT_FALSE(blocked.allowed());
  EXPECT_EQ(blocked.user, "");
  EXPECT_EQ(blocked.retry_after_seconds, 40);  // 39.5 s left, rounded up
}

TEST_F(AuthTest, FailuresSpreadOverMoreThanAMinuteDoNotBlock) {
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(Outcome("Bearer wrong"), AuthOutcome::kRefused) << i;
    now_ += seconds(16);  // at most 4 in any window of 60 s
  }
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789"), AuthOutcome::kOk);
}

TEST_F(AuthTest, MalformedHeadersCountAsFailures) {
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Outcome("Basic !!!"), AuthOutcome::kMalformed);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kThrottled);
}

TEST_F(AuthTest, AnIpv6ClientIsCountedByItsSlash64) {
  for (int i = 1; i <= 5; ++i) Outcome("Bearer wrong", "2001:db8:1:2::" + std::to_string(i));
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789", "2001:db8:1:2:ffff::9"), AuthOutcome::kThrottled);
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789", "2001:db8:1:3::1"), AuthOutcome::kOk);
  EXPECT_EQ(Unauthenticated("2001:db8:1:2::77").retry_after_seconds, 60);
  EXPECT_EQ(ClientKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
  EXPECT_EQ(ClientKey("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
  EXPECT_EQ(ClientKey("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(ClientKey(std::string(100, 'x')).size(), 64u);
}

TEST_F(AuthTest, TheClientTableIsBounded) {
  options_.max_clients = 8;
  for (int i = 0; i < 100; ++i) {
    Outcome("Bearer wrong", "198.51.100." + std::to_string(i));
    EXPECT_LE(Auth().tracked_clients(), 8u);
    now_ += seconds(1);
  }
  // A client blocked a moment ago stays blocked while the table churns
  // (the oldest entries go first).
  for (int i = 0; i < 5; ++i) Outcome("Bearer wrong", "203.0.113.1");
  for (int i = 0; i < 6; ++i) Outcome("Bearer wrong", "198.51.100.200");
  EXPECT_EQ(Outcome("Bearer ci-token-0123456789", "203.0.113.1"), AuthOutcome::kThrottled);
}

// ---------------------------------------------------------------------------
// The cache of verified credentials.

TEST_F(AuthTest, VerifiedCredentialsAreCachedForAMinute) {
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
  EXPECT_EQ(KdfRuns(), 1u);
  now_ += seconds(59);
  EXPECT_EQ(Auth().Authenticate(From(Basic("alice", "correct horse"))).user, "alice");
  EXPECT_EQ(KdfRuns(), 1u);
  EXPECT_EQ(Auth().stats().cache_hits, 1u);
  now_ += seconds(1);  // expired: checked again
  EXPECT_EQ(Auth().Authenticate(From(Basic("alice", "correct horse"))).user, "alice");
  EXPECT_EQ(KdfRuns(), 2u);
  // Failures are never cached.
  Outcome(Basic("alice", "nope"));
  Outcome(Basic("alice", "nope"));
  EXPECT_EQ(KdfRuns(), 4u);
}

TEST_F(AuthTest, TheCacheIsBounded) {
  options_.cache_entries = 2;
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
  now_ += seconds(1);
  EXPECT_EQ(Outcome(Basic("bob", "battery staple")), AuthOutcome::kOk);
  now_ += seconds(1);
  EXPECT_EQ(Outcome(Basic("carol", "pw3")), AuthOutcome::kOk);  // alice's entry goes
  EXPECT_EQ(KdfRuns(), 3u);
  EXPECT_EQ(Outcome(Basic("carol", "pw3")), AuthOutcome::kOk);
  EXPECT_EQ(Outcome(Basic("bob", "battery staple")), AuthOutcome::kOk);
  EXPECT_EQ(KdfRuns(), 3u);
  EXPECT_EQ(Outcome(Basic("alice", "correct horse")), AuthOutcome::kOk);
  EXPECT_EQ(KdfRuns(), 4u);
}

TEST_F(AuthTest, ConcurrentRequestsWithOneCredentialShareTheirScryptRuns) {
  options_.kdf_slots = 1;
  ServeAuthenticator& auth = Auth();
  std::vector<std::thread> threads;
  std::atomic<int> ok = 0;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (auth.Authenticate(From(Basic("alice", "correct horse"))).user == "alice") ++ok;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(KdfRuns(), 1u);  // the others found it in the cache once they had the slot
}

// The cost of one request's authentication at the production cost: scrypt
// once (32 MiB), then the cache. Printed for the record.
TEST(AuthCost, ProductionCostAndTheCache) {
  const auto t0 = std::chrono::steady_clock::now();
  auto hash = crypto::HashPassword("correct horse");
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(hash) << hash.error().message();
  EXPECT_EQ(hash->cost.Memory(), uint64_t{32} << 20);
  config::ServeConfig serve;
  serve.users.push_back({"alice", *hash, 0});
  auto made = MakeAuthenticator(serve);
  ASSERT_TRUE(made && *made);
  ServeAuthenticator& auth = **made;
  const Request request = From(Basic("alice", "correct horse"));
  const auto t2 = std::chrono::steady_clock::now();
  EXPECT_EQ(auth.Authenticate(request).user, "alice");
  const auto t3 = std::chrono::steady_clock::now();
  auto cached = std::chrono::nanoseconds::max();
  for (int i = 0; i < 100; ++i) {
    const auto a = std::chrono::steady_clock::now();
    EXPECT_EQ(auth.Authenticate(request).user, "alice");
    cached = std::min(cached, std::chrono::steady_clock::now() - a);
  }
  using us = std::chrono::microseconds;
  std::cout << "auth cost: hashing " << std::chrono::duration_cast<us>(t1 - t0).count() << " us, first request (scrypt "
            << (hash->cost.Memory() >> 20) << " MiB) " << std::chrono::duration_cast<us>(t3 - t2).count()
            << " us, cached request (best of 100) " << std::chrono::duration_cast<us>(cached).count() << " us\n";
  EXPECT_EQ(auth.stats().kdf_runs, 1u);
  EXPECT_LT(cached, t3 - t2);
}

}  // namespace
}  // namespace mailkeep::web
