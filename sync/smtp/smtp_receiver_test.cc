// SMTP client against a real receiver: tests/servers/smtp_receiver.py
// (aiosmtpd) on 127.0.0.1, one per test with the options it needs, with
// test certificates made by tests/servers/dovecot.sh's _dovecot_make_certs.
// ctest registers it as smtp_receiver and smtp_receiver_corpus (exit 77 =
// skipped when /usr/bin/python3, aiosmtpd or openssl is missing).
//
// Environment: SMTP_RECEIVER (the script), DOVECOT_SH (for the
// certificates), MAILKEEP_CORPUS (optional: ../shared/corpus),
// SMTP_TEST_KEEP=1 keeps the work directory.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "store/util/ascii.h"
#include "sync/smtp/smtp_client.h"

extern char** environ;

namespace mailkeep::smtp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kPython = "/usr/bin/python3";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

std::string ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

fs::path g_root;  // work directory: tls/ and one directory per receiver

// Skips the whole program (exit 77) when the receiver cannot run here, and
// makes the test certificates.
class Setup : public ::testing::Environment {
 public:
  void SetUp() override {
    auto skip = [](const std::string& why) {
      std::printf("SKIP: %s\n", why.c_str());
      std::fflush(stdout);
      std::_Exit(77);
    };
    if (Env("SMTP_RECEIVER").empty() || Env("DOVECOT_SH").empty()) {
      skip("SMTP_RECEIVER and DOVECOT_SH are not set (run through ctest)");
    }
    if (::access(kPython, X_OK) != 0) skip(std::string(kPython) + " is not installed");
    if (std::system((std::string(kPython) + " -c 'import aiosmtpd' 2>/dev/null").c_str()) != 0) {
      skip("python3-aiosmtpd is not installed for /usr/bin/python3");
    }
    if (std::system("command -v openssl >/dev/null 2>&1") != 0) skip("openssl is not installed");
    char tmpl[] = "/tmp/mailkeep-smtp-test.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) skip("mkdtemp failed");
    g_root = tmpl;
    std::string cmd = "bash -c " + Quoted("source \"$DOVECOT_SH\" && _dovecot_make_certs " + (g_root / "tls").string());
    if (std::system(cmd.c_str()) != 0 || !fs::exists(g_root / "tls/ca.pem")) {
      std::fprintf(stderr, "could not make test certificates with %s\n", Env("DOVECOT_SH").c_str());
      std::exit(1);
    }
  }
  void TearDown() override {
    if (!g_root.empty() && Env("SMTP_TEST_KEEP") != "1") {
      std::error_code ec;
      fs::remove_all(g_root, ec);
    }
  }
};
const auto* const kSetup = ::testing::AddGlobalTestEnvironment(new Setup);

std::string Tls(const std::string& name) { return (g_root / "tls" / name).string(); }

// One smtp_receiver.py process.
class Receiver {
 public:
  explicit Receiver(std::vector<std::string> args) {
    static int n = 0;
    dir_ = g_root / ("receiver-" + std::to_string(++n));
    fs::create_directories(dir_);
    std::vector<std::string> argv = {kPython, Env("SMTP_RECEIVER"), "--dir", dir_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string out = (dir_ / "output.log").string();
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&pid_, kPython, &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
      pid_ = -1;
      error_ = "posix_spawn failed";
      return;
    }
    for (int i = 0; i < 500; ++i) {
      std::string p = ReadFile(dir_ / "port");
      if (!p.empty()) {
        port_ = static_cast<uint16_t>(std::stoi(p));
        return;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    error_ = "receiver did not start: " + ReadFile(dir_ / "output.log");
  }
  ~Receiver() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      for (int i = 0; i < 250 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (::waitpid(pid_, &status, WNOHANG) == 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
      }
    }
  }
  Receiver(const Receiver&) = delete;
  Receiver& operator=(const Receiver&) = delete;

  bool ok() const { return port_ != 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }
  std::string peer() const { return "127.0.0.1:" + std::to_string(port_); }

  // Message n (1-based) as stored, and its envelope record.
  std::string Eml(int n) const { return ReadFile(dir_ / Name(n, ".eml")); }
  json Record(int n) const {
    std::string text = ReadFile(dir_ / Name(n, ".json"));
    return text.empty() ? json() : json::parse(text);
  }
  int Count() const {
    int c = 0;
    while (fs::exists(dir_ / Name(c + 1, ".json"))) ++c;
    return c;
  }

 private:
  static std::string Name(int n, const char* ext) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d%s", n, ext);
    return buf;
  }
  fs::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string error_;
};

#define START(var, ...)                      \
  Receiver var(__VA_ARGS__);                 \
  ASSERT_TRUE(var.ok()) << var.error()

net::ConnectOptions Connect(const Receiver& r, net::TlsMode tls) {
  net::ConnectOptions c;
  c.host = "127.0.0.1";
  c.port = r.port();
  c.service = net::Service::kSmtpSubmission;
  c.tls = tls;
  c.ca_file = Tls("ca.pem");
  c.connect_timeout = std::chrono::milliseconds(5000);
  c.read_timeout = std::chrono::milliseconds(60000);
  return c;
}

SmtpOptions Login(AuthMethod method, const std::string& password = "alicepw") {
  SmtpOptions o;
  o.hello_name = "client.test";
  o.user = "alice";
  o.password = password;
  o.auth = method;
  return o;
}

SmtpOptions NoLogin() {
  SmtpOptions o;
  o.hello_name = "client.test";
  return o;
}

std::vector<std::string> StartTlsArgs(const std::string& cert = "server") {
  return {"--starttls", Tls(cert + "-chain.pem"), Tls(cert + ".key")};
}
std::vector<std::string> ImplicitArgs(const std::string& cert = "server") {
  return {"--implicit-tls", Tls(cert + "-chain.pem"), Tls(cert + ".key")};
}
std::vector<std::string> Plus(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Envelope To(std::vector<std::string> rcpts, std::string from = "alice@example.test") {
  Envelope e;
  e.from = std::move(from);
  for (auto& r : rcpts) e.recipients.push_back(Recipient{std::move(r), {}, ""});
  return e;
}

// What the receiver must store for `m`: CRLF line ends (bare CR and LF
// included), a final CRLF, no dot-stuffing. Written independently of
// smtp_data.cc.
std::string Expected(std::string_view m) {
  std::string out;
  out.reserve(m.size() + m.size() / 16 + 2);
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r') {
      out += "\r\n";
      if (i + 1 < m.size() && m[i + 1] == '\n') ++i;
    } else if (m[i] == '\n') {
      out += "\r\n";
    } else {
      out += m[i];
    }
  }
  if (!out.empty() && (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0)) out += "\r\n";
  return out;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::unique_ptr<SmtpClient> MustOpen(const net::ConnectOptions& c, const SmtpOptions& o) {
  auto client = SmtpClient::Open(c, o);
  EXPECT_TRUE(client) << client.error().message();
  return client ? std::move(*client) : nullptr;
}

const std::string kMessage = "From: alice@example.test\nTo: bob@example.test\nSubject: test\n\nhello\n";

// --- TLS and AUTH ---

void LoginAndSend(AuthMethod method, const char* mechanism) {
  START(r, Plus(StartTlsArgs(), {"--auth", "alice:alicepw"}));
  auto c = MustOpen(Connect(r, net::TlsMode::kStartTls), Login(method));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->secure());
  EXPECT_EQ(net::LoginMethodName(c->auth_method()), ascii::LowerCopy(mechanism));
  auto s = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->all_accepted()) << s->recipients[0].reason;
  EXPECT_TRUE(c->Quit());
  json j = r.Record(1);
  EXPECT_EQ(j["auth_login"], "alice");
  EXPECT_EQ(j["auth_mechanism"], mechanism);
  ASSERT_TRUE(j["tls"].is_string());
  EXPECT_EQ(j["tls"].get<std::string>().rfind("TLSv1.", 0), 0u) << j["tls"];
  EXPECT_EQ(j["helo"], "client.test");
  EXPECT_EQ(r.Eml(1), Expected(kMessage));
}

TEST(SmtpReceiver, StartTlsAuthPlain) { LoginAndSend(AuthMethod::kPlain, "PLAIN"); }
TEST(SmtpReceiver, StartTlsAuthLogin) { LoginAndSend(AuthMethod::kLogin, "LOGIN"); }
TEST(SmtpReceiver, StartTlsAuthCramMd5) { LoginAndSend(AuthMethod::kCramMd5, "CRAM-MD5"); }
TEST(SmtpReceiver, StartTlsAuthAutoPicksPlain) { LoginAndSend(AuthMethod::kAuto, "PLAIN"); }

TEST(SmtpReceiver, WrongPasswordIsAClearError) {
  START(r, Plus(StartTlsArgs(), {"--auth", "alice:alicepw"}));
  for (auto [method, mech] : {std::pair{AuthMethod::kPlain, "PLAIN"}, std::pair{AuthMethod::kLogin, "LOGIN"},
                              std::pair{AuthMethod::kCramMd5, "CRAM-MD5"}}) {
    auto c = SmtpClient::Open(Connect(r, net::TlsMode::kStartTls), Login(method, "not-the-pw"));
    ASSERT_FALSE(c) << mech;
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(c.error().message(), "SMTP login as alice at " + r.peer() + " failed (AUTH " + mech +
                                       "): 535 5.7.8 Authentication credentials invalid; check the user name and "
                                       "password");
    EXPECT_FALSE(Contains(c.error().message(), "not-the-pw"));
  }
  EXPECT_EQ(r.Count(), 0);
}

TEST(SmtpReceiver, AuthIsOfferedOnlyAfterStartTls) {
  START(r, Plus(StartTlsArgs(), {"--auth", "alice:alicepw"}));
  SmtpOptions o = Login(AuthMethod::kPlain);
  o.allow_plaintext = true;
  auto c = SmtpClient::Open(Connect(r, net::TlsMode::kNone), o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "SMTP server " + r.peer() +
                                     " does not offer AUTH; many servers offer it only after STARTTLS: use tls = "
                                     "starttls");
}

TEST(SmtpReceiver, ImplicitTlsWithAuth) {
  START(r, Plus(ImplicitArgs(), {"--auth", "alice:alicepw"}));
  auto c = MustOpen(Connect(r, net::TlsMode::kImplicit), Login(AuthMethod::kAuto));
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->secure());
  EXPECT_FALSE(c->extensions().starttls);
  auto s = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->all_accepted());
  EXPECT_TRUE(c->Quit());
  json j = r.Record(1);
  EXPECT_TRUE(j["tls"].is_string()) << j.dump();
  EXPECT_EQ(j["auth_login"], "alice");
}

TEST(SmtpReceiver, UntrustedCertificateIsRefused) {
  for (bool implicit : {true, false}) {
    START(r, implicit ? ImplicitArgs("untrusted") : StartTlsArgs("untrusted"));
    auto c = SmtpClient::Open(Connect(r, implicit ? net::TlsMode::kImplicit : net::TlsMode::kStartTls), NoLogin());
    ASSERT_FALSE(c) << "implicit=" << implicit;
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(Contains(c.error().message(), "TLS certificate of 127.0.0.1 is not trusted"))
        << c.error().message();
  }
}

TEST(SmtpReceiver, CertificateForAnotherNameIsRefused) {
  for (bool implicit : {true, false}) {
    START(r, implicit ? ImplicitArgs("wrongname") : StartTlsArgs("wrongname"));
    auto c = SmtpClient::Open(Connect(r, implicit ? net::TlsMode::kImplicit : net::TlsMode::kStartTls), NoLogin());
    ASSERT_FALSE(c) << "implicit=" << implicit;
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(Contains(c.error().message(), "does not match host name 127.0.0.1")) << c.error().message();
  }
}

TEST(SmtpReceiver, StartTlsRequiredButNotOffered) {
  START(r, {});
  auto c = SmtpClient::Open(Connect(r, net::TlsMode::kStartTls), NoLogin());
  ASSERT_FALSE(c);
  EXPECT_TRUE(Contains(c.error().message(), "does not offer STARTTLS")) << c.error().message();
}

TEST(SmtpReceiver, OpportunisticTls) {
  START(with_tls, StartTlsArgs());
  SmtpOptions o = NoLogin();
  o.opportunistic_tls = true;
  auto c = MustOpen(Connect(with_tls, net::TlsMode::kNone), o);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->secure());
  ASSERT_TRUE(c->Send(To({"bob@example.test"}), kMessage));
  EXPECT_TRUE(with_tls.Record(1)["tls"].is_string());

  // An untrusted certificate: the handshake fails, the client connects
  // again in plain text and says so.
  START(untrusted, StartTlsArgs("untrusted"));
  c = MustOpen(Connect(untrusted, net::TlsMode::kNone), o);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->secure());
  ASSERT_EQ(c->warnings().size(), 1u);
  EXPECT_TRUE(Contains(c->warnings()[0], "is not trusted")) << c->warnings()[0];
  auto s = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->all_accepted());
  EXPECT_TRUE(untrusted.Record(1)["tls"].is_null());
}

// --- recipients and parameters ---

TEST(SmtpReceiver, OneRefusedRecipientOthersDelivered) {
  for (bool pipelining : {true, false}) {
    std::vector<std::string> args = {"--refuse", "nobody@example.test", "--defer", "later@example.test"};
    if (!pipelining) args = Plus(args, {"--hide", "PIPELINING"});
    START(r, args);
    auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
    ASSERT_TRUE(c);
    EXPECT_EQ(c->extensions().pipelining, pipelining);
    auto s = c->Send(
        To({"bob@example.test", "nobody@example.test", "later@example.test", "carol@example.test"}), kMessage);
    ASSERT_TRUE(s);
    ASSERT_FALSE(s->session_error);
    EXPECT_EQ(s->recipients[0].outcome, Outcome::kAccepted);
    EXPECT_EQ(s->recipients[1].outcome, Outcome::kFailed);
    EXPECT_EQ(s->recipients[1].reason,
              "RCPT TO refused: 550 5.1.1 <nobody@example.test>: Recipient address rejected: User unknown");
    EXPECT_EQ(s->recipients[2].outcome, Outcome::kDeferred);
    EXPECT_EQ(s->recipients[2].rcpt.enhanced, "4.2.1");
    EXPECT_EQ(s->recipients[3].outcome, Outcome::kAccepted);
    EXPECT_EQ(s->data.enhanced, "2.0.0");
    // All refused: nothing stored, and the session goes on.
    auto none = c->Send(To({"nobody@example.test"}), kMessage);
    ASSERT_TRUE(none);
    EXPECT_EQ(none->recipients[0].outcome, Outcome::kFailed);
    EXPECT_FALSE(none->session_error);
    auto again = c->Send(To({"dave@example.test"}, ""), kMessage);
    ASSERT_TRUE(again);
    EXPECT_TRUE(again->all_accepted());
    EXPECT_TRUE(c->Quit());

    ASSERT_EQ(r.Count(), 2);
    json j = r.Record(1);
    ASSERT_EQ(j["rcpt_tos"].size(), 2u);
    EXPECT_EQ(j["rcpt_tos"][0]["address"], "bob@example.test");
    EXPECT_EQ(j["rcpt_tos"][1]["address"], "carol@example.test");
    EXPECT_EQ(j["refused"].size(), 2u);
    EXPECT_EQ(r.Eml(1), Expected(kMessage));
    EXPECT_EQ(r.Record(2)["mail_from"], "");  // the null sender
    EXPECT_EQ(r.Record(2)["rcpt_tos"][0]["address"], "dave@example.test");
  }
}

Envelope DsnEnvelope() {
  Envelope e = To({"bob@example.test", "carol@example.test"});
  e.ret = DsnReturn::kHeaders;
  e.envid = "resend+42=x";
  e.recipients[0].notify.success = e.recipients[0].notify.failure = true;
  e.recipients[0].orcpt = "bob@example.test";
  e.recipients[1].notify.never = true;
  return e;
}

TEST(SmtpReceiver, DsnParametersSeenOnTheWire) {
  START(r, {});
  auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
  ASSERT_TRUE(c);
  auto s = c->Send(DsnEnvelope(), kMessage);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->all_accepted()) << s->recipients[0].reason;
  EXPECT_TRUE(s->warnings.empty());
  json j = r.Record(1);
  const std::string size = "SIZE=" + std::to_string(Expected(kMessage).size());
  EXPECT_EQ(j["mail_params"], json({size, "RET=HDRS", "ENVID=resend+2B42+3Dx"}));
  EXPECT_EQ(j["rcpt_tos"][0]["params"], json({"NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob@example.test"}));
  EXPECT_EQ(j["rcpt_tos"][1]["params"], json({"NOTIFY=NEVER"}));
}

TEST(SmtpReceiver, DsnParametersDroppedWhenNotOffered) {
  START(r, {"--hide", "DSN"});  // it would answer 555 to DSN parameters
  auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
  ASSERT_TRUE(c);
  auto s = c->Send(DsnEnvelope(), kMessage);
  ASSERT_TRUE(s);
  EXPECT_TRUE(s->all_accepted()) << s->recipients[0].reason;
  ASSERT_EQ(s->warnings.size(), 1u);
  EXPECT_TRUE(Contains(s->warnings[0], "does not offer DSN"));
  json j = r.Record(1);
  EXPECT_EQ(j["mail_params"].size(), 1u) << j.dump();  // SIZE only
  EXPECT_EQ(j["rcpt_tos"][0]["params"], json::array());
}

TEST(SmtpReceiver, SizeLimit) {
  START(r, {"--size", "1000"});
  auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->extensions().size_limit, 1000u);
  auto big = c->Send(To({"bob@example.test"}), kMessage + std::string(2000, 'x') + "\n");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->recipients[0].outcome, Outcome::kFailed);
  EXPECT_TRUE(Contains(big->recipients[0].reason, "accepts (SIZE)")) << big->recipients[0].reason;
  auto small = c->Send(To({"bob@example.test"}), kMessage);
  ASSERT_TRUE(small);
  EXPECT_TRUE(small->all_accepted());
  EXPECT_EQ(r.Count(), 1);
}

TEST(SmtpReceiver, Smtputf8) {
  const std::string joerg = "j\xc3\xb6rg@b\xc3\xbc" "cher.example";
  {
    START(r, {});
    auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
    ASSERT_TRUE(c);
    const std::string m = "Subject: gr\xc3\xbc\xc3\x9f" "e\n\n\xc3\xa4\n";
    auto s = c->Send(To({joerg}), m);
    ASSERT_TRUE(s);
    EXPECT_TRUE(s->all_accepted()) << s->recipients[0].reason;
    json j = r.Record(1);
    EXPECT_EQ(j["rcpt_tos"][0]["address"], joerg);
    const std::string size = "SIZE=" + std::to_string(Expected(m).size());
    EXPECT_EQ(j["mail_params"], json({size, "BODY=8BITMIME", "SMTPUTF8"}));
    EXPECT_EQ(r.Eml(1), Expected(m));
  }
  {
    START(r, {"--hide", "SMTPUTF8"});
    auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
    ASSERT_TRUE(c);
    auto s = c->Send(To({"bob@example.test", joerg}), kMessage);
    ASSERT_TRUE(s);
    for (const auto& rr : s->recipients) {
      EXPECT_EQ(rr.outcome, Outcome::kFailed);
      EXPECT_EQ(rr.reason, "not sent: server " + r.peer() + " does not offer SMTPUTF8, needed for address " + joerg);
    }
    EXPECT_EQ(r.Count(), 0);
  }
}

// --- the bytes ---

TEST(SmtpReceiver, BytesArriveAsSentAfterLineEndNormalization) {
  START(r, {"--size", "67108864"});
  std::vector<std::string> messages = {
      "Subject: 8-bit\n\ncaf\xc3\xa9 \xff\xfe latin-1 \xe9\n",
      "Subject: dots\n\n.\n..\n.leading\n...three\n. space\nend.\n.",
      "Subject: no final newline\n\nlast line",
      "Subject: bare CR\r\n\r\none\rtwo\r\rthree\r",
      "Subject: mixed\r\n\nlf\ncrlf\r\n\n\r\n",
      "Subject: long line\n\n" + std::string(5000, 'L') + "\n",
      std::string("Subject: nul\n\na\0b\n", 18),
      "",
  };
  // About 20 MB: dots, 8-bit and bare line ends spread through it.
  std::string big = "Subject: big\n\n";
  for (int i = 0; big.size() < (20u << 20); ++i) {
    big += std::to_string(i);
    big += (i % 7 == 0) ? "\n.dot line\n" : (i % 11 == 0) ? " \xc3\xa9t\xc3\xa9\r\n" : (i % 13 == 0) ? " cr\r" : " ";
    big += std::string(60, static_cast<char>('a' + i % 26)) + "\n";
    if (i % 97 == 0) big += ".\n";
  }
  messages.push_back(big);

  auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
  ASSERT_TRUE(c);
  for (size_t i = 0; i < messages.size(); ++i) {
    auto s = c->Send(To({"bob@example.test"}), messages[i]);
    ASSERT_TRUE(s) << i;
    ASSERT_TRUE(s->all_accepted()) << i << ": " << s->recipients[0].reason;
    const std::string got = r.Eml(static_cast<int>(i) + 1);
    const std::string want = Expected(messages[i]);
    EXPECT_EQ(got.size(), want.size()) << "message " << i;
    EXPECT_TRUE(got == want) << "message " << i << " differs";
    json j = r.Record(static_cast<int>(i) + 1);
    std::vector<std::string> params = j["mail_params"];
    EXPECT_EQ(params[0], "SIZE=" + std::to_string(want.size())) << i;
    bool eight_bit = HasEightBit(messages[i]);
    EXPECT_EQ(std::find(params.begin(), params.end(), "BODY=8BITMIME") != params.end(), eight_bit) << i;
  }
  EXPECT_TRUE(c->Quit());
}

TEST(SmtpReceiverCorpus, FiftyCorpusMessages) {
  fs::path corpus = Env("MAILKEEP_CORPUS");
  if (corpus.empty() || !fs::is_directory(corpus)) {
    GTEST_SKIP() << "corpus not found (MAILKEEP_CORPUS=" << corpus.string() << "): the shared corpus is not beside this clone";
  }
  // Message files of a few themed corpora, in a stable order.
  std::vector<fs::path> files;
  for (const char* sub : {"mailgun-flanker-fixtures", "stalwart-mail-parser", "ruby-mail-gem-fixtures",
                          "nodemailer-mailparser-fixtures", "cpython-test_email"}) {
    std::error_code ec;
    std::vector<fs::path> these;
    for (const auto& e : fs::recursive_directory_iterator(corpus / sub, ec)) {
      if (!e.is_regular_file()) continue;
      auto ext = e.path().extension().string();
      if (ext != ".eml" && ext != ".msg" && ext != ".txt") continue;
      auto size = e.file_size();
      if (size == 0 || size > (4u << 20)) continue;
      these.push_back(e.path());
    }
    std::sort(these.begin(), these.end());
    for (size_t i = 0; i < these.size() && i < 10; ++i) files.push_back(these[i * these.size() / 10]);
  }
  if (files.empty()) GTEST_SKIP() << "no message files under " << corpus.string();
  START(r, {"--size", "67108864"});
  auto c = MustOpen(Connect(r, net::TlsMode::kNone), NoLogin());
  ASSERT_TRUE(c);
  int n = 0;
  for (const auto& f : files) {
    const std::string m = ReadFile(f);
    auto s = c->Send(To({"bob@example.test"}), m);
    ASSERT_TRUE(s) << f;
    ASSERT_TRUE(s->all_accepted()) << f << ": " << s->recipients[0].reason;
    ++n;
    EXPECT_TRUE(r.Eml(n) == Expected(m)) << f << " arrived changed";
  }
  EXPECT_TRUE(c->Quit());
  std::printf("sent %d corpus messages from %s\n", n, corpus.c_str());
  EXPECT_GE(n, 40);
}

}  // namespace
}  // namespace mailkeep::smtp
