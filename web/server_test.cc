// Tests for the web server (web/server.h), its routing and limits
// (web/routing.h, web/client_limits.h) and the JSON API (web/api.cc): pure
// functions directly, the rest over real sockets on 127.0.0.1 (port 0)
// against a small archive with an index made in a temp dir.
#include "web/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>
#include <sstream>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <Poco/Net/Context.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>

#include "index/feeder.h"
#include "store/export/mbox.h"
#include "web/client_limits.h"
#include "web/json_views.h"
#include "web/pages.h"
#include "web/routing.h"

namespace mailkeep::web {
namespace {

using namespace std::chrono_literals;

TEST(PercentDecode, DecodesAndRefusesBadEscapes) {
  EXPECT_EQ(*PercentDecode("%41b+c%2f", false), "Ab+c/");
  EXPECT_EQ(*PercentDecode("%41b+c", true), "Ab c");
  EXPECT_EQ(*PercentDecode("%00", false), std::string(1, '\0'));
  for (const char* bad : {"%", "%4", "%zz", "a%g1", "%%41"}) {
    auto r = PercentDecode(bad, false);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  }
}

TEST(ParseTarget, SplitsPathAndQuery) {
  Request r;
  ASSERT_TRUE(ParseTarget("/api/search?q=from%3Aalice+x&limit=5&&flag&q=second", r));
  EXPECT_EQ(r.path, "/api/search");
  ASSERT_EQ(r.query.size(), 4u);
  EXPECT_EQ(r.Param("q"), "from:alice x");
  EXPECT_EQ(r.Param("limit"), "5");
  EXPECT_EQ(r.Param("flag", "unset"), "");
  EXPECT_EQ(r.Param("none", "fallback"), "fallback");
  EXPECT_FALSE(ParseTarget("http://example.org/", r));
  EXPECT_FALSE(ParseTarget("*", r));
  EXPECT_FALSE(ParseTarget("/a?q=%G0", r));
  EXPECT_FALSE(ParseTarget("/a%", r));
}

TEST(MatchPattern, IdsAndParts) {
  int64_t id = -1;
  std::string part = "x";
  EXPECT_TRUE(MatchPattern("/", "/", &id, &part));
  EXPECT_EQ(id, 0);
  EXPECT_EQ(part, "");
  EXPECT_TRUE(MatchPattern("/message/{id}", "/message/42", &id, &part));
  EXPECT_EQ(id, 42);
  EXPECT_TRUE(MatchPattern("/message/{id}", "/message/9223372036854775807", &id, &part));
  EXPECT_EQ(id, INT64_MAX);
  for (const char* bad : {"/message/0", "/message/-1", "/message/+1", "/message/1x", "/message/",
                          "/message/9223372036854775808", "/message/42/", "/message/42/raw", "/message"}) {
    EXPECT_FALSE(MatchPattern("/message/{id}", bad, &id, &part)) << bad;
  }
  EXPECT_TRUE(MatchPattern("/message/{id}/part/{part}", "/message/7/part/2.1", &id, &part));
  EXPECT_EQ(id, 7);
  EXPECT_EQ(part, "2.1");
  EXPECT_TRUE(MatchPattern("/m/{part}", "/m/" + std::string(64, '1'), &id, &part));
  EXPECT_FALSE(MatchPattern("/m/{part}", "/m/" + std::string(65, '1'), &id, &part));
  EXPECT_FALSE(MatchPattern("/m/{part}", "/m/1a", &id, &part));
  EXPECT_FALSE(MatchPattern("/m/{part}", "/m/../x", &id, &part));
}

TEST(FindRoute, HeadTakesTheGetRoute) {
  std::vector<Route> routes = {{"GET", "/a/{id}", [](const Request&, ArchiveSession&) { return Response{}; }}};
  Request r;
  r.method = "HEAD";
  r.path = "/a/5";
  ASSERT_EQ(FindRoute(routes, r), &routes[0]);
  EXPECT_EQ(r.id, 5);
  r.method = "POST";
  EXPECT_EQ(FindRoute(routes, r), nullptr);
}

TEST(ErrorResponse, OneLineJsonUnderApiElseEscapedHtml) {
  Response api = ErrorResponse(400, "/api/search", "query error at column 3: \"x\"");
  EXPECT_EQ(api.status, 400);
  EXPECT_EQ(api.content_type, "application/json");
  EXPECT_EQ(api.body, "{\"error\":\"query error at column 3: \\\"x\\\"\"}\n");
  Response page = ErrorResponse(404, "/message/1", "<script>alert(1)</script>");
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
  EXPECT_NE(page.body.find("&lt;script&gt;"), std::string::npos);
}

// Host without authentication: an IP address or localhost, with or
// without a port, read as a listen address is (config::ParseListenAddress).
TEST(RefuseRequestHead, HostMustNameThisMachine) {
  auto status = [](const std::string& host) {
    Request r;
    r.path = "/api/search";
    r.headers = {{"host", host}};
    auto refused = RefuseRequestHead(r, "HTTP/1.1", false);
    return refused ? refused->status : 0;
  };
  for (const char* local : {"[::1]:8025", "[::1]", "127.0.0.1", "127.0.0.1:8025", "localhost:80", "LOCALHOST",
                            "LocalHost:1", "127.1.2.3", "[::ffff:127.0.0.1]:80", "192.0.2.7:8025"}) {
    EXPECT_EQ(status(local), 0) << local;
  }
  for (const char* other : {"evil.example", "evil.example:8025", "127.0.0.1.evil.example", "[::1", "[::1]x", "",
                            ":8025", "127.0.0.1:", "127.0.0.1:99999", "::1", "localhost.", "0x7f.1", "127.1",
                            "2130706433", "127.0.0.1@evil.example"}) {
    EXPECT_EQ(status(other), 421) << other;
  }
  Request any;
  any.headers = {{"host", "mail.example.org"}};
  EXPECT_FALSE(RefuseRequestHead(any, "HTTP/1.1", true));
}

TEST(ClientLimiter, ConcurrencyRateAndMemoryBound) {
  ClientLimits limits;
  limits.max_concurrent = 2;
  limits.requests_per_second = 2;
  limits.burst = 3;
  limits.max_clients = 2;
  ClientLimiter l(limits);
  const auto t0 = ClientLimiter::Clock::time_point{} + 100s;
  EXPECT_TRUE(l.Admit("a", t0).admitted);
  EXPECT_TRUE(l.Admit("a", t0).admitted);
  auto busy = l.Admit("a", t0);  // two in progress
  EXPECT_FALSE(busy.admitted);
  EXPECT_EQ(busy.retry_after_seconds, 1);
  l.Release("a");
  EXPECT_TRUE(l.Admit("a", t0).admitted);  // the third token of the burst
  l.Release("a");
  l.Release("a");
  auto fast = l.Admit("a", t0);  // bucket empty
  EXPECT_FALSE(fast.admitted);
  EXPECT_GE(fast.retry_after_seconds, 1);
  EXPECT_TRUE(l.Admit("a", t0 + 500ms).admitted);  // one token back after 1/rate
  l.Release("a");
  // Another address has its own limits.
  EXPECT_TRUE(l.Admit("b", t0).admitted);
  // A third address past max_clients: refused while a and b are busy or recent...
  EXPECT_FALSE(l.Admit("c", t0).admitted);
  l.Release("b");
  // ... admitted once an idle one (full bucket, nothing in progress) is forgotten.
  EXPECT_TRUE(l.Admit("c", t0 + 10s).admitted);
  EXPECT_LE(l.tracked(), 2u);
}

// One host with an IPv6 /64 (what a provider hands out) has 2^64
// addresses: counted per address, it would never be limited.
TEST(ClientLimiter, AnIpv6ClientIsCountedByItsSlash64) {
  ClientLimits limits;
  limits.requests_per_second = 1;
  limits.burst = 2;
  ClientLimiter l(limits);
  const auto t0 = ClientLimiter::Clock::time_point{} + 100s;
  for (const char* address : {"2001:db8:1:2::1", "2001:db8:1:2::2"}) {
    EXPECT_TRUE(l.Admit(address, t0).admitted) << address;
    l.Release(address);
  }
  EXPECT_FALSE(l.Admit("2001:db8:1:2:ffff:ffff:ffff:ffff", t0).admitted);
  EXPECT_TRUE(l.Admit("2001:db8:1:3::1", t0).admitted);  // another /64
  // IPv4 clients, also as IPv4-mapped IPv6 addresses, stay one each.
  EXPECT_TRUE(l.Admit("::ffff:192.0.2.1", t0).admitted);
  EXPECT_TRUE(l.Admit("::ffff:192.0.2.2", t0).admitted);
  EXPECT_EQ(l.tracked(), 4u);
}

// Poco closes a few accepted connections without running them (an
// exception between its filter and its queue; queued ones when it stops):
// their count, keyed by descriptor, must not stay taken for ever.
TEST(ConnectionCounter, ASocketClosedWithoutCloseIsNotCountedForever) {
  auto tcp = [] { return ::socket(AF_INET, SOCK_STREAM, 0); };
  ConnectionCounter c;
  const int a = tcp(), b = tcp(), x = tcp();
  ASSERT_TRUE(a >= 0 && b >= 0 && x >= 0);
  EXPECT_TRUE(c.Open(a, "k", 2));
  EXPECT_TRUE(c.Open(b, "k", 2));
  EXPECT_FALSE(c.Open(x, "k", 2));  // at its bound, and both are open
  EXPECT_EQ(c.open("k"), 2u);
  ::close(a);  // dropped without Close
  EXPECT_TRUE(c.Open(x, "k", 2));  // a's count was stale
  EXPECT_EQ(c.open("k"), 2u);
  // b's number comes back with a new connection (of another client): the
  // old socket it named is closed, so its count goes.
  const int fresh = tcp();
  ASSERT_EQ(::dup2(fresh, b), b);
  ::close(fresh);
  EXPECT_TRUE(c.Open(b, "other", 1));
  EXPECT_EQ(c.open("k"), 1u);
  EXPECT_EQ(c.open("other"), 1u);
  c.Close(b);
  c.Close(x);
  c.Close(x);  // twice: nothing more
  EXPECT_EQ(c.open("k"), 0u);
  EXPECT_EQ(c.open("other"), 0u);
  ::close(b);
  ::close(x);
}

// alice with "Bearer good-token"; "Bearer slow-down" is throttled.
class FixedUser : public Authenticator {
 public:
  AuthResult Authenticate(const Request& request) override {
    const std::string header = request.Header("authorization");
    if (header == "Bearer good-token") return AuthResult::Allowed("alice");
    if (header == "Bearer slow-down") return AuthResult::Denied(AuthOutcome::kThrottled, "Bearer realm=\"t\"", 42);
    return AuthResult::Denied(AuthOutcome::kRefused, "Basic realm=\"mailkeep\", charset=\"UTF-8\"");
  }
};

TEST(CheckOptions, BeyondLoopbackNeedsTlsAndAuthentication) {
  ServerOptions o;
  o.listen = {"0.0.0.0", 0};
  auto refused = CheckOptions(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(refused.error().message().find('\n'), std::string::npos);
  o.tls_certificate = "/c.pem";
  o.tls_key = "/k.pem";
  EXPECT_FALSE(CheckOptions(o));  // TLS without authentication
  o.authenticator = std::make_shared<FixedUser>();
  EXPECT_TRUE(CheckOptions(o));
  o.tls_key.clear();
  EXPECT_FALSE(CheckOptions(o));  // a certificate without its key
  ServerOptions loopback;
  loopback.listen = {"127.0.0.1", 0};
  EXPECT_TRUE(CheckOptions(loopback));
}

// serve --listen reads addresses as [serve] listen does
// (config::ParseListenAddress, whose test has the cases), with port 0, and
// the server takes the parsed form; beyond loopback the rule is the
// accounts file's (config::CheckServeSecurity), with its message.
TEST(CheckOptions, ListenAddressesAsTheConfigFileReadsThem) {
  ServerOptions o;
  for (const char* loopback : {"localhost:0", "LOCALHOST:8025", "[::1]:0", "127.1.2.3:1", "[::ffff:127.0.0.1]:0"}) {
    auto parsed = config::ParseListenAddress(loopback, config::AnyPort::kAllowed);
    ASSERT_TRUE(parsed) << loopback;
    o.listen = *parsed;
    EXPECT_TRUE(CheckOptions(o)) << loopback;
  }
  // A host name, as the accounts file allows: beyond loopback, so only with TLS and authentication.
  o.listen = *config::ParseListenAddress("archive.example.com:443");
  EXPECT_EQ(CheckOptions(o).error().message(),
            "listening on archive.example.com:443 (beyond this machine) needs tls_certificate and tls_key in [serve]");
  o.tls_certificate = "/c.pem";
  o.tls_key = "/k.pem";
  EXPECT_EQ(CheckOptions(o).error().message(),
            "listening on archive.example.com:443 (beyond this machine) needs 'user = NAME:HASH' (from mailkeep "
            "serve-password NAME) or 'token_file' in [serve]");
  o.authenticator = std::make_shared<FixedUser>();
  EXPECT_TRUE(CheckOptions(o));
}

// ---------------------------------------------------------------------------
// Over sockets.

std::string Message(int n, const std::string& extra = "") {
  return "From: Alice Example <alice@example.org>\nTo: bob@example.org\nSubject: Marmalade " + std::to_string(n) +
         "\nDate: Mon, " + std::to_string(n) + " Jan 2024 10:00:00 +0000\nMessage-ID: <m" + std::to_string(n) +
         "@example.org>\n" + extra + "\nAbout marmalade, number " + std::to_string(n) + ".\r\n";
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Reply {
  int status = 0;
  std::string head;  // status line and header fields
  std::string body;
  std::string Header(const std::string& name) const {
    const std::string key = "\r\n" + name + ": ";
    const size_t at = head.find(key);
    if (at == std::string::npos) return "";
    const size_t start = at + key.size();
    return head.substr(start, head.find("\r\n", start) - start);
  }
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-web-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/archive";
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive) << archive.error().ToString();
    std::vector<RawMessage> batch;
    for (int i = 1; i <= 3; ++i) {
      RawMessage m;
      m.bytes = Message(i, i == 2 ? "In-Reply-To: <m1@example.org>\nReferences: <m1@example.org>\n" : "");
      m.origin.source = "eml";
      m.origin.account = "local";
      m.origin.folder = "INBOX";
      m.origin.key = "k" + std::to_string(i);
      batch.push_back(std::move(m));
    }
    auto stored = (*archive)->Ingest(std::move(batch));
    ASSERT_TRUE(stored);
    auto indexed = index::CatchUpIndex(**archive, 1, {}, {});
    ASSERT_TRUE(indexed) << indexed.error().ToString();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(root_);
  }

  void Start(ServerOptions options = {}, std::vector<Route> routes = ApiRoutes()) {
    options.listen = {"127.0.0.1", 0};
    auto pool = SessionPool::Open(2, ReadOnlySessions(dir_, {}));
    ASSERT_TRUE(pool) << pool.error().ToString();
    auto server = Server::Start(std::move(options), std::move(routes), std::move(*pool));
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(*server);
  }

  Poco::Net::StreamSocket Connect() {
    Poco::Net::StreamSocket s(Poco::Net::SocketAddress("127.0.0.1", server_->port()));
    s.setReceiveTimeout(Poco::Timespan(10, 0));
    return s;
  }

  static std::string ReadAll(Poco::Net::StreamSocket& s) {
    std::string out;
    char buf[4096];
    try {
      for (int n; (n = s.receiveBytes(buf, sizeof buf)) > 0;) out.append(buf, n);
    } catch (const Poco::Exception&) {
    }
    return out;
  }

  static Reply Parse(const std::string& text) {
    Reply r;
    const size_t end = text.find("\r\n\r\n");
    r.head = text.substr(0, end == std::string::npos ? text.size() : end);
    if (end != std::string::npos) r.body = text.substr(end + 4);
    if (text.size() > 12) r.status = std::stoi(text.substr(9, 3));
    return r;
  }

  // Sends `request` as it is and reads the reply until the server closes.
  Reply Send(const std::string& request) {
    auto s = Connect();
    s.sendBytes(request.data(), static_cast<int>(request.size()));
    return Parse(ReadAll(s));
  }

  Reply Get(const std::string& target, const std::string& method = "GET", const std::string& headers = "") {
    return Send(method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + headers + "\r\n");
  }

  Result<std::unique_ptr<Archive>> Open() { return Archive::Open(dir_, OpenMode::kReadOnly, {}); }

  std::string root_, dir_;
  std::unique_ptr<Server> server_;
};

// The body of a chunked reply, and whether it ended with its last chunk.
std::pair<std::string, bool> Unchunk(const std::string& in) {
  std::string out;
  size_t at = 0;
  for (;;) {
    const size_t eol = in.find("\r\n", at);
    if (eol == std::string::npos || eol == at) return {out, false};
    const size_t n = std::stoul(in.substr(at, eol - at), nullptr, 16);
    at = eol + 2;
    if (n == 0) return {out, in.compare(at, 2, "\r\n") == 0};
    if (at + n + 2 > in.size()) return {out + in.substr(std::min(at, in.size())), false};
    out += in.substr(at, n);
    at += n + 2;
  }
}

// What the server writes on std::cerr while it lives.
class CapturedLog {
 public:
  CapturedLog() : old_(std::cerr.rdbuf(text_.rdbuf())) {}
  ~CapturedLog() { std::cerr.rdbuf(old_); }
  std::string text() const { return text_.str(); }

 private:
  std::ostringstream text_;
  std::streambuf* old_;
};

TEST_F(ServerTest, SearchReturnsTheCliObjectsAndTheTotal) {
  Start();
  Reply r = Get("/api/search?q=marmalade&limit=2&sort=oldest");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  auto got = nlohmann::json::parse(r.body);
  EXPECT_EQ(got["total"], 3);
  EXPECT_EQ(got["offset"], 0);
  auto archive = Open();
  ASSERT_TRUE(archive);
  std::vector<MessageInfo> infos;
  for (int64_t id : {1, 2}) infos.push_back(**(*archive)->GetInfo(id));
  EXPECT_EQ(got["results"], SearchResultsJson(infos));

  auto page = nlohmann::json::parse(Get("/api/search?q=marmalade&offset=2&sort=oldest").body);
  ASSERT_EQ(page["results"].size(), 1u);
  EXPECT_EQ(page["results"][0]["id"], 3);
  EXPECT_EQ(page["offset"], 2);
}

TEST_F(ServerTest, HandledRequestsSayTheirServerTiming) {
  Start();
  Reply r = Get("/api/search?q=marmalade&limit=1");
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string timing = r.Header("Server-Timing");
  double wait = -1, app = -1;
  ASSERT_EQ(std::sscanf(timing.c_str(), "wait;dur=%lf, app;dur=%lf", &wait, &app), 2) << timing;
  EXPECT_GE(wait, 0);
  EXPECT_GT(app, 0);
  EXPECT_EQ(Get("/api/nothing").Header("Server-Timing"), "");  // refused before a handler ran
}

// A session given back goes to the caller that waited longest, not to one
// that arrives meanwhile (which would let a request wait without bound
// under load). The hand-over races with the woken thread, so it is tried
// 20 times: an unfair pool loses at least one of them.
TEST_F(ServerTest, SessionPoolServesWaitersFirstComeFirstServed) {
  auto pool = SessionPool::Open(1, ReadOnlySessions(dir_, {}));
  ASSERT_TRUE(pool) << pool.error().ToString();
  auto later = [] { return std::chrono::steady_clock::now() + 10s; };
  for (int round = 0; round < 20; ++round) {
    auto held = (*pool)->Acquire(std::chrono::steady_clock::now(), 8);
    ASSERT_TRUE(held);
    std::vector<int> order;
    std::mutex order_mu;
    std::atomic<bool> checked{false};
    auto waiter = [&](int who) {
      auto lease = (*pool)->Acquire(later(), 8);
      {
        std::lock_guard lock(order_mu);
        order.push_back(lease ? who : -who);
      }
      while (!checked) std::this_thread::sleep_for(1ms);  // held until the check below is done
    };
    std::thread first(waiter, 1);
    while ((*pool)->waiting() < 1) std::this_thread::sleep_for(1ms);
    std::thread second(waiter, 2);
    while ((*pool)->waiting() < 2) std::this_thread::sleep_for(1ms);
    held.reset();
    // The session is the first waiter's now, even before its thread runs:
    // a caller arriving now finds none free.
    EXPECT_FALSE((*pool)->Acquire(std::chrono::steady_clock::now(), 8)) << "round " << round;
    checked = true;
    first.join();
    second.join();
    EXPECT_EQ(order, (std::vector<int>{1, 2})) << "round " << round;
  }
}

TEST_F(ServerTest, SearchRefusesBadQueriesAndParametersInOneLine) {
  Start();
  for (const char* target : {"/api/search?q=subject%3A%28", "/api/search?q=x&limit=1001", "/api/search?q=x&limit=-1",
                             "/api/search?q=x&sort=up", "/api/search", "/api/search?q=%zz"}) {
    Reply r = Get(target);
    EXPECT_EQ(r.status, 400) << target << ": " << r.body;
    auto j = nlohmann::json::parse(r.body);
    ASSERT_TRUE(j.contains("error")) << target;
    EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << target;
  }
  // A query past QueryLimits (more than 100 words) is refused before it runs.
  std::string words;
  for (int i = 0; i < 150; ++i) words += "w" + std::to_string(i) + "+";
  EXPECT_EQ(Get("/api/search?q=" + words).status, 400);
}

TEST_F(ServerTest, MessageRawAndThreadAsTheCli) {
  Start();
  auto archive = Open();
  ASSERT_TRUE(archive);
  const MessageInfo info = **(*archive)->GetInfo(2);
  const std::string raw = *(*archive)->ReadRaw(2);

  Reply m = Get("/api/message/2");
  ASSERT_EQ(m.status, 200) << m.body;
  EXPECT_EQ(nlohmann::json::parse(m.body), MessageJson(info, raw, mime::ParseMessage(raw)));

  Reply r = Get("/api/message/2/raw");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, raw);
  EXPECT_EQ(r.Header("Content-Type"), "message/rfc822");
  EXPECT_NE(r.Header("Content-Disposition").find("attachment; filename=\"2.eml\""), std::string::npos);

  Reply t = Get("/api/thread/1");
  ASSERT_EQ(t.status, 200);
  auto members = ThreadInfos(**archive, info.thread);
  ASSERT_TRUE(members);
  EXPECT_EQ(members->size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(t.body), ThreadJson(*members));

  for (const char* target : {"/api/message/99", "/api/message/99/raw", "/api/thread/99"}) {
    Reply nf = Get(target);
    EXPECT_EQ(nf.status, 404) << target;
    EXPECT_TRUE(nlohmann::json::parse(nf.body).contains("error"));
  }
  EXPECT_EQ(Get("/api/message/0").status, 404);
  EXPECT_EQ(Get("/api/message/abc").status, 404);
}

TEST_F(ServerTest, SecurityHeadersOnEveryResponse) {
  Start();
  for (const char* target : {"/api/message/1", "/api/nothing", "/elsewhere"}) {
    Reply r = Get(target);
    EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff") << target;
    EXPECT_EQ(r.Header("Referrer-Policy"), "no-referrer") << target;
    EXPECT_EQ(r.Header("X-Frame-Options"), "DENY") << target;
    EXPECT_EQ(r.Header("Content-Security-Policy").rfind("default-src 'none'", 0), 0u) << target;
    EXPECT_EQ(r.Header("Cache-Control"), "no-store") << target;
  }
  Reply page = Get("/elsewhere");
  EXPECT_EQ(page.status, 404);
  EXPECT_EQ(page.Header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(ServerTest, OnlyGetAndHeadWithoutBody) {
  Start();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "TRACE"}) {
    Reply r = Get("/api/search?q=x", method);
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Header("Allow"), "GET, HEAD");
  }
  Reply head = Get("/api/message/1/raw", "HEAD");
  Reply get = Get("/api/message/1/raw");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  EXPECT_EQ(head.Header("Content-Length"), std::to_string(get.body.size()));
  EXPECT_EQ(Get("/api/message/1", "GET", "Content-Length: 3\r\n").status, 413);
}

TEST_F(ServerTest, SizesOfTargetAndHeaderAreBounded) {
  ServerOptions o;
  o.limits.max_target_bytes = 1000;
  o.limits.max_header_bytes = 2000;
  Start(o);
  EXPECT_EQ(Get("/api/search?q=" + std::string(1000, 'a')).status, 414);
  EXPECT_EQ(Get("/api/search?q=" + std::string(20000, 'a')).status, 414);  // past Poco's own bound too
  EXPECT_EQ(Get("/api/message/1", "GET", "X-Big: " + std::string(2000, 'b') + "\r\n").status, 431);
  EXPECT_EQ(Get("/api/message/1", "GET", "X-Big: " + std::string(9000, 'b') + "\r\n").status, 431);
  EXPECT_EQ(Send("GET / HTTP/1.1111\r\n\r\n").status, 400);
  EXPECT_EQ(Get("/api/message/1").status, 200);
}

// Without authentication the server answers only requests that name this
// machine: a page in the user's own browser can point a DNS name it
// controls at 127.0.0.1 (DNS rebinding) and would then read the archive as
// a same-origin site. Every browser request carries Host; an IP address or
// localhost cannot be rebound.
TEST_F(ServerTest, WithoutAuthenticationHostMustNameThisMachine) {
  Start();
  const std::string port = std::to_string(server_->port());
  auto with_host = [&](const std::string& host_lines, const std::string& version = "HTTP/1.1") {
    return Send("GET /api/message/1 " + version + "\r\n" + host_lines + "Connection: close\r\n\r\n");
  };
  for (const std::string& host : std::vector<std::string>{"evil.example:" + port, "evil.example", "127.0.0.1.nip.io:" + port, "localhost.",
                                 "LOCALHOST.evil.example", "127.0.0.1@evil.example"}) {
    Reply r = with_host("Host: " + host + "\r\n");
    EXPECT_EQ(r.status, 421) << host;
    EXPECT_TRUE(nlohmann::json::parse(r.body).contains("error")) << host;
  }
  for (const std::string& host : std::vector<std::string>{"127.0.0.1:" + port, "127.0.0.1", "localhost:" + port, "LocalHost", "[::1]:" + port,
                                 "127.1.2.3:80"}) {
    EXPECT_EQ(with_host("Host: " + host + "\r\n").status, 200) << host;
  }
  EXPECT_EQ(with_host("").status, 400);                                       // HTTP/1.1 needs one Host
  EXPECT_EQ(with_host("Host: 127.0.0.1\r\nHost: evil.example\r\n").status, 400);  // and only one
  EXPECT_EQ(with_host("", "HTTP/1.0").status, 200);
  EXPECT_EQ(with_host("Host: evil.example\r\n", "HTTP/1.0").status, 421);
}

TEST_F(ServerTest, WithAuthenticationAnyHostName) {
  ServerOptions o;
  o.authenticator = std::make_shared<FixedUser>();
  Start(o);
  Reply r = Send("GET /api/message/1 HTTP/1.1\r\nHost: mail.example.org\r\nAuthorization: Bearer good-token\r\n"
                 "Connection: close\r\n\r\n");
  EXPECT_EQ(r.status, 200) << r.body;
}

// A GET has no body, so any framing of one is refused and the connection
// closed: a proxy in front that reads "Transfer-Encoding: identity, chunked"
// or the second of two Content-Lengths would frame the bytes differently,
// and what it took for a body would be served here as the next request.
TEST_F(ServerTest, BodyFramingIsRefusedAndEndsTheConnection) {
  Start();
  const std::string next = "GET /api/message/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  for (const std::string& framing :
       std::vector<std::string>{"Transfer-Encoding: chunked\r\n", "Transfer-Encoding: identity, chunked\r\n", "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: identity\r\n", "Content-Length: 0\r\nContent-Length: 5\r\n", "Content-Length: -1\r\n",
        "Content-Length: 99999999999999999999999\r\n", "Content-Length: 0x10\r\n", "Content-Length: 5\r\n"}) {
    auto s = Connect();
    const std::string request =
        "GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" + framing + "\r\n0\r\n\r\n" + next;
    s.sendBytes(request.data(), static_cast<int>(request.size()));
    const std::string all = ReadAll(s);
    const Reply r = Parse(all);
    EXPECT_TRUE(r.status == 400 || r.status == 413) << framing << all;
    EXPECT_EQ(all.find("HTTP/1.1", 1), std::string::npos) << framing << ": a second response\n" << all;
  }
  EXPECT_EQ(Get("/api/message/1", "GET", "Content-Length: 0\r\n").status, 200);
}

// The status line is HTTP/1.1 (or 1.0 for a 1.0 client) whatever version
// token the request line carried.
TEST_F(ServerTest, OnlyHttp1VersionsAndTheReplySaysHttp1) {
  Start();
  for (const std::string& line : std::vector<std::string>{"GET /api/message/1 HTTP/2.0", "GET /api/message/1 HTTP/1.2", "GET /api/message/1 300",
                                 "GET /api/message/1\rxyz HTTP/1.1"}) {
    auto s = Connect();
    const std::string request = line + "\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    s.sendBytes(request.data(), static_cast<int>(request.size()));
    const std::string all = ReadAll(s);
    EXPECT_TRUE(all.starts_with("HTTP/1.1 505 ") || all.starts_with("HTTP/1.1 400 ")) << line << "\n" << all;
  }
}

TEST_F(ServerTest, PerClientLimitsAnswer429WithRetryAfter) {
  ServerOptions o;
  o.limits.limit_loopback = true;
  o.limits.per_client.requests_per_second = 0.5;
  o.limits.per_client.burst = 2;
  Start(o);
  EXPECT_EQ(Get("/api/message/1").status, 200);
  EXPECT_EQ(Get("/api/message/1").status, 200);
  Reply r = Get("/api/message/1");
  EXPECT_EQ(r.status, 429);
  EXPECT_GE(std::stoi(r.Header("Retry-After")), 1);
  EXPECT_TRUE(nlohmann::json::parse(r.body).contains("error"));
}

TEST_F(ServerTest, AuthenticatorIsAskedForEveryRequest) {
  ServerOptions o;
  o.authenticator = std::make_shared<FixedUser>();
  Start(o);
  Reply denied = Get("/api/message/1");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(denied.Header("WWW-Authenticate"), "Basic realm=\"mailkeep\", charset=\"UTF-8\"");
  EXPECT_EQ(denied.Header("Retry-After"), "");
  EXPECT_EQ(Get("/api/message/1", "GET", "Authorization: Bearer bad\r\n").status, 401);
  EXPECT_EQ(Get("/api/message/1", "GET", "Authorization: Bearer good-token\r\n").status, 200);
  Reply throttled = Get("/api/message/1", "GET", "Authorization: Bearer slow-down\r\n");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.Header("Retry-After"), "42");
  EXPECT_EQ(throttled.Header("WWW-Authenticate"), "");
}

// Credentials given twice are ambiguous (a proxy in front may check the
// other one): refused, whichever comes first.
TEST_F(ServerTest, TwoAuthorizationHeadersAreRefused) {
  ServerOptions o;
  o.authenticator = std::make_shared<FixedUser>();
  Start(o);
  for (const char* twice : {"Authorization: Bearer good-token\r\nAuthorization: Bearer bad\r\n",
                            "Authorization: Bearer bad\r\nAuthorization: Bearer good-token\r\n",
                            "Authorization: Bearer good-token\r\nauthorization: Bearer good-token\r\n"}) {
    EXPECT_EQ(Get("/api/message/1", "GET", twice).status, 400) << twice;
  }
}

TEST_F(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  Start();
  auto s = Connect();
  const std::string one = "GET /api/message/1/raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  const std::string two = "GET /api/message/2/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  const std::string both = one + two;
  s.sendBytes(both.data(), static_cast<int>(both.size()));
  const std::string all = ReadAll(s);
  EXPECT_EQ(all.rfind("HTTP/1.1 200", 0), 0u);
  EXPECT_NE(all.find("HTTP/1.1 200", 10), std::string::npos);
}

TEST_F(ServerTest, ASlowRequestIsCutAtItsDeadline) {
  ServerOptions o;
  o.limits.request_timeout = 1s;
  Start(o);
  auto s = Connect();
  const std::string part = "GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  s.sendBytes(part.data(), static_cast<int>(part.size()));
  const auto start = std::chrono::steady_clock::now();
  // A byte every 300 ms never lets a per-read timeout fire; the deadline does.
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(300ms);
    try {
      if (s.sendBytes("X", 1) <= 0) break;
    } catch (const Poco::Exception&) {
      break;
    }
  }
  ReadAll(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

TEST_F(ServerTest, FullQueueAnswers503) {
  ServerOptions o;
  o.limits.threads = 1;
  o.limits.queued = 1;
  Start(o);
  auto busy = Connect();  // holds the one thread: a request that never ends
  busy.sendBytes("GET / HTTP/1.1\r\n", 16);
  std::this_thread::sleep_for(200ms);
  auto waiting = Connect();  // queued
  std::this_thread::sleep_for(200ms);
  auto refused = Connect();
  Reply r = Parse(ReadAll(refused));
  EXPECT_EQ(r.status, 503);
}

// Idle connections cost a thread each until their deadline (35 s by
// default): one client opening threads + queued of them (128) locked every
// other client out for minutes. A limited client may hold at most
// per_client.max_concurrent connections; past that it is answered 503.
TEST_F(ServerTest, OneClientCannotHoldEveryConnection) {
  ServerOptions o;
  o.limits.threads = 4;
  o.limits.queued = 4;
  o.limits.limit_loopback = true;
  o.limits.per_client.max_concurrent = 2;
  Start(o);
  std::vector<Poco::Net::StreamSocket> idle;
  for (int i = 0; i < 2; ++i) idle.push_back(Connect());  // send nothing
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Get("/api/message/1").status, 503);
  for (auto& s : idle) s.close();
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {  // the server sees them closed
    std::this_thread::sleep_for(100ms);
    status = Get("/api/message/1").status;
  }
  EXPECT_EQ(status, 200);
}

// Idle connections used to hold a thread each for 35 s (keep-alive and
// request timeouts): a few of them, from anyone, stalled every request.
// A connection's first head must arrive within header_timeout.
TEST_F(ServerTest, IdleConnectionsHoldThreadsOnlyUntilTheHeaderDeadline) {
  ServerOptions o;
  o.limits.threads = 2;
  o.limits.queued = 8;
  o.limits.header_timeout = 1s;
  Start(o);
  std::vector<Poco::Net::StreamSocket> idle;
  for (int i = 0; i < 4; ++i) idle.push_back(Connect());  // twice the threads; send nothing
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  Reply r = Get("/api/message/1");  // waits behind them: two rounds of 1 s
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 8s);
  for (auto& s : idle) EXPECT_EQ(ReadAll(s), "") << "closed without an answer";
}

TEST_F(ServerTest, ASlowHeadIsCutAtTheHeaderDeadline) {
  ServerOptions o;
  o.limits.header_timeout = 1s;  // request_timeout stays 30 s
  Start(o);
  auto s = Connect();
  const std::string part = "GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  s.sendBytes(part.data(), static_cast<int>(part.size()));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {  // a header byte every 300 ms
    std::this_thread::sleep_for(300ms);
    try {
      if (s.sendBytes("X", 1) <= 0) break;
    } catch (const Poco::Exception&) {
      break;
    }
  }
  ReadAll(s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
}

// Loopback clients are exempt from per-client limits (they are one
// address), but not from a bound on their connections together.
TEST_F(ServerTest, LoopbackCannotHoldEveryConnection) {
  ServerOptions o;
  o.limits.threads = 4;
  o.limits.queued = 4;
  o.limits.loopback_connections = 2;
  Start(o);
  std::vector<Poco::Net::StreamSocket> idle;
  for (int i = 0; i < 2; ++i) idle.push_back(Connect());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(Get("/api/message/1").status, 503);
  for (auto& s : idle) s.close();
  int status = 0;
  for (int i = 0; i < 50 && status != 200; ++i) {
    std::this_thread::sleep_for(100ms);
    status = Get("/api/message/1").status;
  }
  EXPECT_EQ(status, 200);
}

// /export.mbox is streamed: chunked (HTTP/1.1) or to the end of the
// connection (HTTP/1.0), the bytes `mailkeep export --format mbox` writes.
TEST_F(ServerTest, MboxExportIsStreamedAsExportWritesIt) {
  std::vector<Route> routes = ApiRoutes();
  for (auto& r : PageRoutes()) routes.push_back(std::move(r));
  Start({}, std::move(routes));
  auto archive = Open();
  ASSERT_TRUE(archive);
  std::string expected;
  for (int64_t id : {1, 2, 3}) {  // oldest first
    auto info = (*archive)->GetInfo(id);
    ASSERT_TRUE(info && *info);
    exporting::AppendMboxrd(expected, *(*archive)->ReadRaw(id),
                            exporting::MboxFromLine((*info)->from.front().address, (*info)->date));
  }
  Reply r = Get("/export.mbox?q=marmalade");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("Content-Type"), "application/mbox");
  EXPECT_EQ(Lower(r.Header("Transfer-Encoding")), "chunked");
  EXPECT_EQ(r.Header("Content-Length"), "");
  auto [body, ended] = Unchunk(r.body);
  EXPECT_TRUE(ended);
  EXPECT_EQ(body, expected);
  EXPECT_EQ(Send("GET /export.mbox?q=marmalade HTTP/1.0\r\n\r\n").body, expected);
  Reply head = Get("/export.mbox?q=marmalade", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
  // Keep-alive goes on after a streamed body.
  auto s = Connect();
  const std::string two = "GET /export.mbox?q=marmalade HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                          "GET /api/message/1/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  s.sendBytes(two.data(), static_cast<int>(two.size()));
  const std::string all = ReadAll(s);
  EXPECT_NE(all.find("0\r\n\r\nHTTP/1.1 200 OK\r\n"), std::string::npos);
}

// A piece that cannot be made after the head was sent: the status stays
// 200, so the body is left unfinished (no last chunk) for the client to
// see it cut, the connection is closed, and one line is logged.
TEST_F(ServerTest, AStreamedBodyThatFailsIsCutAndLogged) {
  ::signal(SIGPIPE, SIG_IGN);  // as serve does (StopSignals)
  auto failing = [](const Request&, ArchiveSession&) {
    Response r;
    r.content_type = "application/mbox";
    r.next_piece = [calls = 0](ArchiveSession&, std::string& piece) mutable -> Result<bool> {
      if (++calls == 1) {
        piece = "first piece";
        return true;
      }
      return MakeError(ErrorCode::kCorruption, "reading message 2: the pack is\x1b[31m damaged");
    };
    return r;
  };
  Start({}, {{"GET", "/cut", failing}});
  CapturedLog log;
  auto s = Connect();
  const std::string both = "GET /cut HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                           "GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  s.sendBytes(both.data(), static_cast<int>(both.size()));
  Reply r = Parse(ReadAll(s));  // ends: the server closed the connection
  EXPECT_EQ(r.status, 200);
  auto [body, ended] = Unchunk(r.body);
  EXPECT_EQ(body, "first piece");
  EXPECT_FALSE(ended) << r.body;
  EXPECT_EQ(r.body.find("HTTP/1.1"), std::string::npos) << "the second request was not answered";
  const std::string text = log.text();
  EXPECT_EQ(text, "mailkeep: GET /cut for 127.0.0.1: cut after 11 bytes: reading message 2: the pack is\xEF\xBF\xBD[31m "
                  "damaged\n")
      << text;
}

// The log line of a request never carries raw control bytes: a Host with
// ESC (421) is not in it, a path with ESC is made safe, a Host with a bare
// CR is refused by the header reader before anything is logged.
TEST_F(ServerTest, LogLinesCarryNoControlBytes) {
  ServerOptions o;
  o.log_requests = true;
  Start(o);
  CapturedLog log;
  Reply misdirected = Send("GET /api/message/1 HTTP/1.1\r\nHost: evil\x1b]0;owned\x07.example\x1b[2J\r\n"
                           "Connection: close\r\n\r\n");
  EXPECT_EQ(misdirected.status, 421);
  EXPECT_EQ(misdirected.body.find('\x1b'), std::string::npos);
  EXPECT_EQ(Send("GET /api/x\x1b[2J HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status, 404);
  const int bare_cr = Send("GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\rX\x1b[2J\r\nConnection: close\r\n\r\n").status;
  EXPECT_TRUE(bare_cr == 400 || bare_cr == 431) << bare_cr;  // Poco's header reader refuses it
  server_->Stop();
  const std::string text = log.text();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
  EXPECT_NE(text.find("127.0.0.1 GET /api/message/1 421 "), std::string::npos) << text;
  EXPECT_NE(text.find("127.0.0.1 GET /api/x\xEF\xBF\xBD[2J 404 "), std::string::npos) << text;
  for (char c : text) {
    EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << "control byte " << int(c) << " in " << text;
  }
}

TEST_F(ServerTest, ServesOverTlsWithTheConfiguredCertificate) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) GTEST_SKIP() << "no openssl command";
  const std::string cert = root_ + "/cert.pem", key = root_ + "/key.pem";
  const std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout " + key +
                           " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0);
  ServerOptions o;
  o.tls_certificate = cert;
  o.tls_key = key;
  Start(o);
  EXPECT_EQ(server_->url().rfind("https://127.0.0.1:", 0), 0u);
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;  // self-signed: the test checks the channel, not trust
  Poco::Net::Context::Ptr client = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
  Poco::Net::SecureStreamSocket s(Poco::Net::SocketAddress("127.0.0.1", server_->port()), client);
  s.setReceiveTimeout(Poco::Timespan(10, 0));
  const std::string request = "GET /api/message/1/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  s.sendBytes(request.data(), static_cast<int>(request.size()));
  Poco::Net::StreamSocket plain = s;
  Reply r = Parse(ReadAll(plain));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, *(*Open())->ReadRaw(1));
  // Unusable files: one line, before anything listens.
  ServerOptions bad;
  bad.listen = {"127.0.0.1", 0};
  bad.tls_certificate = root_ + "/missing.pem";
  bad.tls_key = key;
  auto refused = Server::Start(bad, ApiRoutes(), *SessionPool::Open(1, ReadOnlySessions(dir_, {})));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(ServerTest, AKeepAliveConnectionYieldsItsThreadToAWaitingOne) {
  ServerOptions o;
  o.limits.threads = 1;
  o.limits.queued = 4;
  Start(o);
  auto first = Connect();  // takes the one thread
  std::this_thread::sleep_for(200ms);
  auto second = Connect();  // waits for it
  const std::string second_request = "GET /api/message/2/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  second.sendBytes(second_request.data(), static_cast<int>(second_request.size()));
  std::this_thread::sleep_for(200ms);
  const std::string keep_alive = "GET /api/message/1/raw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  first.sendBytes(keep_alive.data(), static_cast<int>(keep_alive.size()));
  const auto start = std::chrono::steady_clock::now();
  Reply one = Parse(ReadAll(first));  // ends: the server closed it
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(Lower(one.Header("Connection")), "close");
  Reply two = Parse(ReadAll(second));
  EXPECT_EQ(two.status, 200);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // not after the 5 s keep-alive wait
}

TEST_F(ServerTest, StopEndsIdleConnections) {
  Start();
  auto idle = Connect();
  const std::string one = "GET /api/message/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  idle.sendBytes(one.data(), static_cast<int>(one.size()));
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

}  // namespace
}  // namespace mailkeep::web
