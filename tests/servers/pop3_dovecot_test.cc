// POP3 client and Connection against a real Dovecot on 127.0.0.1, started
// by tests/servers/dovecot.sh ("dovecot.sh run -- pop3_dovecot_test"), which
// exports DOVECOT_*. Without those variables every test skips.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "sync/net/connection.h"
#include "sync/pop3/pop3_client.h"

namespace mailkeep::pop3 {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

uint16_t Port(const char* name) { return static_cast<uint16_t>(std::stoi(Env(name))); }

#define REQUIRE_DOVECOT()                                                                  \
  do {                                                                                     \
    if (Env("DOVECOT_DIR").empty()) GTEST_SKIP() << "run under tests/servers/dovecot.sh"; \
  } while (0)

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Run(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << command << " → " << out;
  return out;
}

std::string Harness(const std::string& args) {
  return Run("bash " + Quote(Env("DOVECOT_SH")) + " " + args + " " + " 2>&1");
}

// A fresh user per test keeps tests independent on one server.
std::string NewUser(const std::string& name) {
  Harness("adduser " + Quote(Env("DOVECOT_DIR")) + " " + name + " pw-" + name);
  return name;
}

int Count(const std::string& user) {
  return std::stoi(Harness("count " + Quote(Env("DOVECOT_DIR")) + " " + user));
}

fs::path TempDir() {
  static int seq = 0;
  fs::path dir = fs::temp_directory_path() /
                 ("mailkeep-pop3-" + std::to_string(::getpid()) + "-" + std::to_string(++seq));
  fs::create_directories(dir);
  return dir;
}

void Deliver(const std::string& user, const std::vector<std::string>& messages) {
  fs::path dir = TempDir();
  std::string args = "deliver " + Quote(Env("DOVECOT_DIR")) + " " + user;
  for (size_t i = 0; i < messages.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu.eml", i);
    std::ofstream(dir / name, std::ios::binary) << messages[i];
    args += " " + Quote((dir / name).string());
  }
  Harness(args);
  fs::remove_all(dir);
}

Pop3Options Options(net::TlsMode tls, const std::string& user = "alice") {
  Pop3Options o;
  o.connect.host = Env("DOVECOT_HOST");
  o.connect.tls = tls;
  o.connect.port = Port(tls == net::TlsMode::kImplicit ? "DOVECOT_POP3S_PORT" : "DOVECOT_POP3_PORT");
  o.connect.ca_file = Env("DOVECOT_CA");
  o.connect.connect_timeout = std::chrono::milliseconds(5000);
  o.connect.read_timeout = std::chrono::milliseconds(30000);
  o.user = user;
  o.password = user == "alice" ? Env("DOVECOT_ALICE_PASSWORD")
               : user == "bob" ? Env("DOVECOT_BOB_PASSWORD")
                               : "pw-" + user;
  return o;
}

std::string Peer(const Pop3Options& o) { return o.connect.host + ":" + std::to_string(o.connect.port); }

// --- TLS modes and certificates ------------------------------------------

TEST(Pop3DovecotTls, ImplicitStartTlsAndPlain) {
  REQUIRE_DOVECOT();
  for (auto tls : {net::TlsMode::kImplicit, net::TlsMode::kStartTls, net::TlsMode::kNone}) {
    SCOPED_TRACE(net::TlsModeName(tls));
    Pop3Options o = Options(tls);
    o.allow_plaintext = tls == net::TlsMode::kNone;
    auto c = Pop3Client::Connect(o);
    ASSERT_TRUE(c) << c.error().ToString();
    EXPECT_EQ((*c)->secure(), tls != net::TlsMode::kNone);
    EXPECT_TRUE((*c)->HasCapability("UIDL"));
    EXPECT_TRUE((*c)->HasCapability("PIPELINING"));
    // RFC 2595: STLS is not offered again once TLS is on.
    EXPECT_EQ((*c)->HasCapability("STLS"), tls == net::TlsMode::kNone);
    EXPECT_TRUE((*c)->List());
    auto q = (*c)->Quit();
    EXPECT_TRUE(q) << q.error().ToString();
  }
}

// The command deadline shortens the socket's read timeout over TLS too.
TEST(Pop3DovecotTls, CommandDeadlineOverTls) {
  REQUIRE_DOVECOT();
  net::ConnectOptions o = Options(net::TlsMode::kImplicit).connect;
  o.read_timeout = std::chrono::seconds(30);
  o.command_deadline = std::chrono::milliseconds(800);
  auto c = net::Connection::Open(o);
  ASSERT_TRUE(c) << c.error().ToString();
  (*c)->BeginCommand(1u << 20);
  ASSERT_TRUE((*c)->ReadLine(1000));  // the greeting
  const auto start = std::chrono::steady_clock::now();
  (*c)->BeginCommand(1u << 20);
  auto line = (*c)->ReadLine(1000);  // nothing was asked: nothing comes
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(line.error().message().find("within 0.8 s (command_deadline)"), std::string::npos)
      << line.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(Pop3DovecotTls, IpAddressMatchesIpSan) {
  REQUIRE_DOVECOT();
  Pop3Options o = Options(net::TlsMode::kImplicit);
  o.connect.host = Env("DOVECOT_IP");
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE((*c)->Quit());
}

TEST(Pop3DovecotTls, PlaintextRefusedWithoutAllowPlaintext) {
  REQUIRE_DOVECOT();
  Pop3Options o = Options(net::TlsMode::kNone);
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "refusing to log in as alice at " + Peer(o) +
                                     " without TLS; use tls = implicit or starttls, or set allow_plaintext = true");
}

TEST(Pop3DovecotTls, UntrustedCertificateRefused) {
  REQUIRE_DOVECOT();
  for (auto tls : {net::TlsMode::kImplicit, net::TlsMode::kStartTls}) {
    SCOPED_TRACE(net::TlsModeName(tls));
    Pop3Options o = Options(tls);
    o.connect.host = Env("DOVECOT_UNTRUSTED_HOST");
    auto c = Pop3Client::Connect(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(c.error().message(),
              "TLS certificate of 127.0.0.3 is not trusted (self-signed certificate in certificate chain); "
              "set ca_file = <PEM file of the CA that issued it> or fix the server");
  }
}

TEST(Pop3DovecotTls, SystemStoreAloneDoesNotTrustTheTestCa) {
  REQUIRE_DOVECOT();
  Pop3Options o = Options(net::TlsMode::kImplicit);
  o.connect.ca_file.clear();
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(c.error().message().find("TLS certificate of localhost is not trusted ("), std::string::npos)
      << c.error().message();
}

TEST(Pop3DovecotTls, CaFileOfTheOtherCaIsTrusted) {
  REQUIRE_DOVECOT();
  Pop3Options o = Options(net::TlsMode::kImplicit);
  o.connect.host = Env("DOVECOT_UNTRUSTED_HOST");
  o.connect.ca_file = Env("DOVECOT_UNTRUSTED_CA");
  auto c = Pop3Client::Connect(o);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE((*c)->Quit());
}

TEST(Pop3DovecotTls, WrongHostNameRefusedEvenOnLoopback) {
  REQUIRE_DOVECOT();
  // 127.0.0.2 presents a certificate from the trusted CA that names only
  // mail.test. Poco itself skips this check for loopback names.
  for (auto tls : {net::TlsMode::kImplicit, net::TlsMode::kStartTls}) {
    SCOPED_TRACE(net::TlsModeName(tls));
    Pop3Options o = Options(tls);
    o.connect.host = Env("DOVECOT_WRONG_NAME_HOST");
    auto c = Pop3Client::Connect(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(c.error().message(), "TLS: certificate does not match host name 127.0.0.2");
  }
}

TEST(Pop3DovecotTls, VerifyOffAcceptsAnyCertificate) {
  REQUIRE_DOVECOT();
  for (const char* host : {"DOVECOT_WRONG_NAME_HOST", "DOVECOT_UNTRUSTED_HOST"}) {
    Pop3Options o = Options(net::TlsMode::kImplicit);
    o.connect.host = Env(host);
    o.connect.ca_file.clear();
    o.connect.verify_certificate = false;
    auto c = Pop3Client::Connect(o);
    ASSERT_TRUE(c) << c.error().ToString();
    EXPECT_TRUE((*c)->Quit());
  }
}

TEST(Pop3DovecotTls, ConnectionReadsOverTls) {
  REQUIRE_DOVECOT();
  net::ConnectOptions o;
  o.host = Env("DOVECOT_HOST");
  o.port = Port("DOVECOT_IMAPS_PORT");
  o.service = net::Service::kImap;
  o.ca_file = Env("DOVECOT_CA");
  auto c = net::Connection::Open(o);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE((*c)->secure());
  auto greeting = (*c)->ReadLine(4096);
  ASSERT_TRUE(greeting);
  EXPECT_EQ(greeting->rfind("* OK ", 0), 0u) << *greeting;
}

// --- Authentication -------------------------------------------------------

TEST(Pop3DovecotAuth, EachMechanism) {
  REQUIRE_DOVECOT();
  struct Case {
    AuthMethod asked, used;
  };
  for (Case k : {Case{AuthMethod::kAuto, AuthMethod::kPlain}, Case{AuthMethod::kPlain, AuthMethod::kPlain},
                 Case{AuthMethod::kLogin, AuthMethod::kLogin}, Case{AuthMethod::kUserPass, AuthMethod::kUserPass}}) {
    for (auto tls : {net::TlsMode::kImplicit, net::TlsMode::kStartTls}) {
      SCOPED_TRACE(std::string(net::LoginMethodName(k.asked)) + " over " + net::TlsModeName(tls));
      Pop3Options o = Options(tls, "bob");
      o.auth = k.asked;
      auto c = Pop3Client::Connect(o);
      ASSERT_TRUE(c) << c.error().ToString();
      EXPECT_EQ((*c)->auth_method(), k.used);
      EXPECT_TRUE((*c)->Quit());
    }
  }
}

TEST(Pop3DovecotAuth, ApopAndXoauth2NotOffered) {
  REQUIRE_DOVECOT();
  Pop3Options o = Options(net::TlsMode::kImplicit);
  o.auth = AuthMethod::kApop;
  auto c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "POP3 server " + Peer(o) +
                                     " does not offer APOP (no timestamp in its greeting) (it offers AUTH PLAIN, "
                                     "AUTH LOGIN, USER/PASS)");
  o.auth = AuthMethod::kXoauth2;
  c = Pop3Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("does not offer AUTH XOAUTH2"), std::string::npos);
}

TEST(Pop3DovecotAuth, WrongPassword) {
  REQUIRE_DOVECOT();
  for (AuthMethod m : {AuthMethod::kPlain, AuthMethod::kLogin, AuthMethod::kUserPass}) {
    SCOPED_TRACE(net::LoginMethodName(m));
    Pop3Options o = Options(net::TlsMode::kImplicit);
    o.auth = m;
    o.password = "not-the-password";
    auto start = std::chrono::steady_clock::now();
    auto c = Pop3Client::Connect(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    const std::string method = m == AuthMethod::kPlain ? "AUTH PLAIN" : m == AuthMethod::kLogin ? "AUTH LOGIN" : "USER/PASS";
    EXPECT_EQ(c.error().message(),
              "POP3 login as alice at " + Peer(o) + " failed (" + method + "): [AUTH] Authentication failed.");
    EXPECT_EQ(c.error().message().find("not-the-password"), std::string::npos);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  }
  // The right password still works right away (no auth penalty).
  auto c = Pop3Client::Connect(Options(net::TlsMode::kImplicit));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE((*c)->Quit());
}

// --- Mailbox round trip ---------------------------------------------------

// LF files with the awkward parts: lines that need dot-stuffing, a lone CR,
// 8-bit bytes, empty lines, a long line, a line of only ".".
std::vector<std::string> TrickyMessages(const std::string& user, int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i) {
    std::string m = "From: Tester <tester@example.test>\nTo: " + user +
                    "@example.test\nSubject: round trip " + std::to_string(i) +
                    "\nMessage-ID: <rt-" + std::to_string(i) + "@example.test>\n\n";
    m += ".\n..\n.starts with a dot\n";
    m += "lone\rCR inside\n\n\n";
    m += "8-bit: caf\xc3\xa9 \xff\xfe\n";
    m += std::string(static_cast<size_t>(997 + i * 1000), 'L') + "\n";
    m += "last line " + std::to_string(i) + "\n";
    out.push_back(m);
  }
  return out;
}

TEST(Pop3DovecotRoundTrip, ListRetrieveDeleteQuit) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("roundtrip");
  const std::vector<std::string> files = TrickyMessages(user, 5);
  Deliver(user, files);
  ASSERT_EQ(Count(user), 5);

  auto c = Pop3Client::Connect(Options(net::TlsMode::kImplicit, user));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_TRUE(list) << list.error().ToString();
  ASSERT_EQ(list->size(), 5u);
  std::vector<int> numbers;
  for (size_t i = 0; i < list->size(); ++i) {
    const MailboxEntry& e = (*list)[i];
    EXPECT_EQ(e.number, static_cast<int>(i) + 1);
    EXPECT_FALSE(e.uidl.empty());
    // The server counts CRLF line ends: one more byte per line.
    EXPECT_GE(e.size, files[i].size());
    numbers.push_back(e.number);
  }
  std::vector<std::string> got;
  auto s = (*c)->Retrieve(numbers, [&](int n, std::string&& m) {
    EXPECT_EQ(n, static_cast<int>(got.size()) + 1);
    got.push_back(std::move(m));
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  ASSERT_EQ(got.size(), files.size());
  for (size_t i = 0; i < files.size(); ++i) EXPECT_TRUE(got[i] == files[i]) << "message " << i + 1 << " differs";

  auto top = (*c)->Top(2, 0);
  ASSERT_TRUE(top) << top.error().ToString();
  EXPECT_EQ(*top, files[1].substr(0, files[1].find("\n\n") + 2));

  ASSERT_TRUE((*c)->Delete({1, 3}));
  auto q = (*c)->Quit();
  ASSERT_TRUE(q) << q.error().ToString();
  EXPECT_EQ(Count(user), 3);

  // Deletions without QUIT are not final.
  c = Pop3Client::Connect(Options(net::TlsMode::kStartTls, user));
  ASSERT_TRUE(c) << c.error().ToString();
  list = (*c)->List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3u);
  std::vector<std::string> rest;
  ASSERT_TRUE((*c)->Retrieve({1, 2, 3}, [&](int, std::string&& m) {
    rest.push_back(std::move(m));
    return OkStatus();
  }));
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_TRUE(rest[0] == files[1]);
  EXPECT_TRUE(rest[1] == files[3]);
  EXPECT_TRUE(rest[2] == files[4]);
  ASSERT_TRUE((*c)->Delete({1, 2, 3}));
  c->reset();  // dropped without QUIT
  EXPECT_EQ(Count(user), 3);
}

TEST(Pop3DovecotRoundTrip, UidlsAreStableAcrossSessions) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("stable");
  Deliver(user, TrickyMessages(user, 3));
  std::vector<std::string> first;
  for (int session = 0; session < 2; ++session) {
    auto c = Pop3Client::Connect(Options(net::TlsMode::kImplicit, user));
    ASSERT_TRUE(c) << c.error().ToString();
    auto list = (*c)->List();
    ASSERT_TRUE(list);
    std::vector<std::string> uidls;
    for (const auto& e : *list) uidls.push_back(e.uidl);
    if (session == 0) first = uidls;
    else EXPECT_EQ(uidls, first);
    EXPECT_TRUE((*c)->Quit());
  }
}

// --- Bulk -------------------------------------------------------------------

TEST(Pop3DovecotBulk, PipelinedRetrieveOfThreeHundred) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("bulk");
  Harness("seed " + Quote(Env("DOVECOT_DIR")) + " " + user + " 300");
  ASSERT_EQ(Count(user), 300);
  auto c = Pop3Client::Connect(Options(net::TlsMode::kImplicit, user));
  ASSERT_TRUE(c) << c.error().ToString();
  ASSERT_TRUE((*c)->HasCapability("PIPELINING"));
  auto list = (*c)->List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 300u);
  std::vector<int> numbers;
  for (const auto& e : *list) numbers.push_back(e.number);
  int next = 1;
  auto start = std::chrono::steady_clock::now();
  auto s = (*c)->Retrieve(numbers, [&](int n, std::string&& m) {
    EXPECT_EQ(n, next);
    EXPECT_NE(m.find("Subject: Test message " + std::to_string(n) + "\n"), std::string::npos) << m;
    EXPECT_NE(m.find("\n\nBody of message " + std::to_string(n) + ".\n.leading dot\n..two dots\n.\nend\n"),
              std::string::npos)
        << m;
    ++next;
    return OkStatus();
  });
  ASSERT_TRUE(s) << s.error().ToString();
  EXPECT_EQ(next, 301);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("retrieved 300 messages in %lld ms\n", static_cast<long long>(ms.count()));
  ASSERT_TRUE((*c)->Delete(numbers));
  ASSERT_TRUE((*c)->Quit());
  EXPECT_EQ(Count(user), 0);
}

TEST(Pop3DovecotBulk, ThirtyMegabyteMessage) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("large");
  std::string m = "From: big@example.test\nSubject: 30 MB\n\n";
  std::mt19937 rng(42);
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  while (m.size() < 30u * 1024 * 1024) {
    std::string line;
    if (rng() % 50 == 0) line = ".";  // needs stuffing on the wire
    for (int i = 0; i < 76; ++i) line += kB64[rng() % 64];
    m += line + "\n";
  }
  Deliver(user, {m});
  auto c = Pop3Client::Connect(Options(net::TlsMode::kImplicit, user));
  ASSERT_TRUE(c) << c.error().ToString();
  auto list = (*c)->List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_GE((*list)[0].size, m.size());
  std::string got;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE((*c)->Retrieve({1}, [&](int, std::string&& bytes) {
    got = std::move(bytes);
    return OkStatus();
  }));
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  std::printf("retrieved %zu bytes in %lld ms\n", got.size(), static_cast<long long>(ms.count()));
  EXPECT_EQ(got.size(), m.size());
  EXPECT_TRUE(got == m);
  EXPECT_TRUE((*c)->Quit());
}

}  // namespace
}  // namespace mailkeep::pop3
