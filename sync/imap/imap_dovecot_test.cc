// IMAP client against a real Dovecot 2.3 on 127.0.0.1, started by
// tests/servers/dovecot.sh ("dovecot.sh run -- imap_dovecot_test"; ctest
// registers it as imap_dovecot). Without the harness's variables every test
// is skipped. ctest runs it a second time as imap_dovecot_compress, with
// DOVECOT_IMAP_COMPRESS=1: Dovecot then offers COMPRESS=DEFLATE and every
// test goes through a compressed stream.
//
// Each test logs in as its own user (dovecot.sh adduser), so tests do not
// see each other's mail.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sync/imap/imap_client.h"

namespace mailkeep::imap {
namespace {

namespace fs = std::filesystem;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

#define REQUIRE_DOVECOT()                                                          \
  do {                                                                             \
    if (Env("DOVECOT_DIR").empty()) GTEST_SKIP() << "run under tests/servers/dovecot.sh"; \
  } while (0)

std::string Shell(const std::string& command) {
  std::string out;
  FILE* p = ::popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

// One Dovecot user per test (password NAME-pw), all added before the
// tests run: Dovecot re-reads its passwd-file at most once a second, so a
// user added just before a login may not be known yet.
const char* const kUsers[] = {"connect", "wrongpw", "folders", "fetch", "append", "delete", "big", "cut", "compress"};

class Users : public ::testing::Environment {
 public:
  void SetUp() override {
    if (Env("DOVECOT_DIR").empty()) return;
    for (const char* u : kUsers) {
      Shell("bash " + Quoted(Env("DOVECOT_SH")) + " adduser " + Quoted(Env("DOVECOT_DIR")) + " " + u + " " + u +
            "-pw");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  }
};
const auto* const kUsersEnv = ::testing::AddGlobalTestEnvironment(new Users);

std::string NewUser(const std::string& name) { return name; }

// Whether this Dovecot offers COMPRESS=DEFLATE (dovecot.sh with
// DOVECOT_IMAP_COMPRESS=1), so sessions are compressed.
bool Compressing() { return Env("DOVECOT_IMAP_COMPRESS") == "1"; }

std::string Doveadm(const std::string& args) {
  return Shell("doveadm -c " + Quoted(Env("DOVECOT_CONF")) + " " + args + " 2>&1");
}

// "messages=3 uidvalidity=..." → the value of `key`.
uint64_t StatusValue(const std::string& user, const std::string& box, const std::string& key) {
  std::string out = Doveadm("mailbox status -u " + user + " " + key + " " + Quoted(box));
  size_t p = out.find(key + "=");
  if (p == std::string::npos) return 0;
  return std::strtoull(out.c_str() + p + key.size() + 1, nullptr, 10);
}

std::string Maildir(const std::string& user) { return Env("DOVECOT_DIR") + "/mail/" + user + "/Maildir"; }

// Delivers the messages (bytes as given) into USER's INBOX, in order.
void Deliver(const std::string& user, const std::vector<std::string>& messages) {
  // One directory per process: imap_dovecot and imap_dovecot_compress run
  // this binary at the same time (ctest -j2), each with its own Dovecot.
  fs::path dir = fs::temp_directory_path() / ("imap-deliver-" + user + "-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string files;
  for (size_t i = 0; i < messages.size(); ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "%06zu", i);
    std::ofstream(dir / name, std::ios::binary) << messages[i];
    files += " " + Quoted((dir / name).string());
  }
  Shell("bash " + Quoted(Env("DOVECOT_SH")) + " deliver " + Quoted(Env("DOVECOT_DIR")) + " " + user + files);
  fs::remove_all(dir);
}

enum class Mode { kImplicit, kStartTls, kPlain };

ImapOptions Opts(const std::string& user, Mode mode = Mode::kImplicit, AuthMethod auth = AuthMethod::kAuto) {
  ImapOptions o;
  o.connect.host = Env("DOVECOT_HOST");
  o.connect.ca_file = Env("DOVECOT_CA");
  switch (mode) {
    case Mode::kImplicit:
      o.connect.tls = net::TlsMode::kImplicit;
      o.connect.port = static_cast<uint16_t>(std::stoi(Env("DOVECOT_IMAPS_PORT")));
      break;
    case Mode::kStartTls:
      o.connect.tls = net::TlsMode::kStartTls;
      o.connect.port = static_cast<uint16_t>(std::stoi(Env("DOVECOT_IMAP_PORT")));
      break;
    case Mode::kPlain:
      o.connect.tls = net::TlsMode::kNone;
      o.connect.port = static_cast<uint16_t>(std::stoi(Env("DOVECOT_IMAP_PORT")));
      o.allow_plaintext = true;
      break;
  }
  o.user = user;
  o.password = user + "-pw";
  o.auth = auth;
  return o;
}

std::unique_ptr<ImapClient> MustConnect(const ImapOptions& o) {
  auto c = ImapClient::Connect(o);
  EXPECT_TRUE(c) << c.error().message();
  return c ? std::move(*c) : nullptr;
}

std::vector<FetchedMessage> FetchAll(ImapClient& c, const std::vector<uint32_t>& uids) {
  std::vector<FetchedMessage> out;
  Status s = c.FetchMessages(uids, [&](FetchedMessage&& m) {
    out.push_back(std::move(m));
    return OkStatus();
  });
  EXPECT_TRUE(s) << s.error().message();
  return out;
}

TEST(ImapDovecot, ConnectsWithEveryTlsModeAndLoginMethod) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("connect");
  struct Case {
    Mode mode;
    AuthMethod auth;
    bool secure;
    AuthMethod used;
  } cases[] = {
      {Mode::kImplicit, AuthMethod::kAuto, true, AuthMethod::kPlain},
      {Mode::kImplicit, AuthMethod::kUserPass, true, AuthMethod::kUserPass},
      {Mode::kImplicit, AuthMethod::kLogin, true, AuthMethod::kLogin},  // AUTHENTICATE LOGIN
      {Mode::kStartTls, AuthMethod::kPlain, true, AuthMethod::kPlain},
      {Mode::kStartTls, AuthMethod::kUserPass, true, AuthMethod::kUserPass},
      {Mode::kPlain, AuthMethod::kAuto, false, AuthMethod::kPlain},
      {Mode::kPlain, AuthMethod::kUserPass, false, AuthMethod::kUserPass},
  };
  for (const Case& k : cases) {
    auto c = MustConnect(Opts(user, k.mode, k.auth));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->secure(), k.secure);
    EXPECT_EQ(c->auth_method(), k.used);
    // Post-login capabilities, and CONDSTORE/QRESYNC turned on.
    EXPECT_TRUE(c->HasCapability("UIDPLUS"));
    EXPECT_TRUE(c->HasCapability("SPECIAL-USE"));
    EXPECT_TRUE(c->IsEnabled("QRESYNC"));
    EXPECT_TRUE(c->IsEnabled("CONDSTORE"));
    EXPECT_EQ(c->compressed(), Compressing());
    EXPECT_EQ(c->HasCapability("COMPRESS=DEFLATE"), Compressing());
    EXPECT_TRUE(c->Logout());
  }
  // Clear text without allow_plaintext: refused before the password goes out.
  ImapOptions o = Opts(user, Mode::kPlain);
  o.allow_plaintext = false;
  auto refused = ImapClient::Connect(o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(ImapDovecot, WrongPasswordAndWrongCertificate) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("wrongpw");
  for (AuthMethod auth : {AuthMethod::kPlain, AuthMethod::kUserPass}) {
    ImapOptions o = Opts(user, Mode::kImplicit, auth);
    o.password = "not-the-password";
    auto c = ImapClient::Connect(o);
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(c.error().message(), "IMAP login as wrongpw at " + Env("DOVECOT_HOST") + ":" +
                                       Env("DOVECOT_IMAPS_PORT") +
                                       " failed (" + (auth == AuthMethod::kPlain ? "AUTHENTICATE PLAIN" : "LOGIN") +
                                       "): [AUTHENTICATIONFAILED] Authentication failed.");
  }
  ImapOptions o = Opts(user);
  o.connect.host = Env("DOVECOT_WRONG_NAME_HOST");
  auto c = ImapClient::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
}

TEST(ImapDovecot, ListsSpecialUseAndNonAsciiFolders) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("folders");
  auto c = MustConnect(Opts(user));
  ASSERT_TRUE(c);
  for (const char* f : {"Entwürfe", "日本語", "Archive/2024", "A&B"}) ASSERT_TRUE(c->CreateFolder(f)) << f;
  ASSERT_TRUE(c->CreateFolder("Entwürfe"));  // already there: fine
  auto list = c->ListFolders();
  ASSERT_TRUE(list) << list.error().message();
  std::map<std::string, Folder> by_name;
  for (const auto& f : *list) by_name[f.name] = f;
  for (const char* f : {"INBOX", "Sent", "Trash", "Entwürfe", "日本語", "Archive", "Archive/2024", "A&B"})
    EXPECT_TRUE(by_name.count(f)) << f;
  EXPECT_EQ(by_name["Sent"].special_use(), "\\Sent");
  EXPECT_EQ(by_name["Trash"].special_use(), "\\Trash");
  EXPECT_EQ(by_name["INBOX"].special_use(), "");
  EXPECT_EQ(by_name["Entwürfe"].wire_name, "Entw&APw-rfe");
  EXPECT_EQ(by_name["日本語"].wire_name, "&ZeVnLIqe-");
  EXPECT_EQ(by_name["A&B"].wire_name, "A&-B");
  EXPECT_EQ(by_name["Archive/2024"].delimiter, '/');
  EXPECT_TRUE(by_name["Archive"].HasAttribute("\\HasChildren"));
  // LIST-STATUS.
  ASSERT_TRUE(by_name["INBOX"].status);
  EXPECT_EQ(by_name["INBOX"].status->uidvalidity, StatusValue(user, "INBOX", "uidvalidity"));
  EXPECT_GT(by_name["INBOX"].status->uidnext, 0u);
  // What Dovecot stored on disk, and what doveadm calls it.
  EXPECT_TRUE(fs::is_directory(Maildir(user) + "/.Entw&APw-rfe"));
  EXPECT_NE(Doveadm("mailbox list -u " + user).find("Entwürfe"), std::string::npos);
  // The UTF-8 name opens the folder.
  auto sel = c->Examine("日本語");
  ASSERT_TRUE(sel) << sel.error().message();
  EXPECT_EQ(sel->exists, 0u);
  auto missing = c->Examine("Nicht da");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(c->Logout());
}

std::vector<std::string> SampleMessages() {
  std::string long_line(5000, 'x');
  return {
      "From: a@example.test\nSubject: one\n\nBody one.\n.leading dot\n..two\n.\nend\n",
      "From: b@example.test\nSubject: =?utf-8?q?caf=C3=A9?=\nContent-Type: text/plain; charset=utf-8\n\n"
      "Grüße, 日本語\n",
      "From: c@example.test\nSubject: long\n\n" + long_line + "\n",
      "From: d@example.test\nSubject: no final newline\n\nlast line",
      "From: e@example.test\nSubject: blank lines\n\n\n\n\nx\n",
  };
}

TEST(ImapDovecot, ExamineSelectAndByteExactFetch) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("fetch");
  const auto messages = SampleMessages();
  Deliver(user, messages);
  ImapOptions o = Opts(user);
  o.fetch_chunk_messages = 2;  // three UID FETCH commands
  auto c = MustConnect(o);
  ASSERT_TRUE(c);
  auto ex = c->Examine("INBOX");
  ASSERT_TRUE(ex) << ex.error().message();
  EXPECT_TRUE(ex->read_only);
  EXPECT_EQ(ex->exists, messages.size());
  EXPECT_EQ(ex->uidvalidity, StatusValue(user, "INBOX", "uidvalidity"));
  EXPECT_EQ(ex->uidnext, StatusValue(user, "INBOX", "uidnext"));
  EXPECT_EQ(ex->highestmodseq, StatusValue(user, "INBOX", "highestmodseq"));
  EXPECT_GT(ex->highestmodseq, 0u);

  auto uids = c->UidSearch("ALL");
  ASSERT_TRUE(uids) << uids.error().message();
  ASSERT_EQ(uids->size(), messages.size());
  auto got = FetchAll(*c, *uids);
  ASSERT_EQ(got.size(), messages.size());
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].uid, (*uids)[i]);
    EXPECT_EQ(got[i].bytes, messages[i]) << "message " << i;
    size_t lfs = std::count(messages[i].begin(), messages[i].end(), '\n');
    EXPECT_EQ(got[i].size, messages[i].size() + lfs);
    EXPECT_EQ(got[i].flags, "");
    EXPECT_LT(std::abs(got[i].internal_date - now), 86400 * 2);  // Maildir: the file's time
  }
  // EXAMINE does not set \Seen (BODY.PEEK).
  auto flags = c->FetchFlags("1:*");
  ASSERT_TRUE(flags);
  ASSERT_EQ(flags->size(), messages.size());
  for (const auto& f : *flags) {
    EXPECT_EQ(f.flags, "");
    EXPECT_GT(f.modseq, 0u);
  }
  // "UID N:*" beyond the last UID: Dovecot answers with the highest UID,
  // which the client drops.
  auto none = c->UidSearch("UID " + std::to_string(ex->uidnext + 10) + ":*");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto tail = c->UidSearch("UID " + std::to_string((*uids)[3]) + ":*");
  ASSERT_TRUE(tail);
  EXPECT_EQ(*tail, (std::vector<uint32_t>{(*uids)[3], (*uids)[4]}));
  // UIDs that do not exist are skipped.
  auto some = FetchAll(*c, {(*uids)[1], ex->uidnext + 100});
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some[0].bytes, messages[1]);

  auto sel = c->Select("INBOX");
  ASSERT_TRUE(sel);
  EXPECT_FALSE(sel->read_only);
  EXPECT_EQ(sel->uidvalidity, ex->uidvalidity);
  ASSERT_TRUE(c->Unselect());
  EXPECT_TRUE(c->Logout());
}

TEST(ImapDovecot, AppendKeepsFlagsAndInternalDate) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("append");
  auto c = MustConnect(Opts(user, Mode::kStartTls));
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->CreateFolder("Entwürfe"));
  const std::string msg = "From: x@example.test\nSubject: appended\n\nline 1\n.dot line\n";
  const int64_t date = 1582979696;  // 2020-02-29 12:34:56 UTC
  auto r = c->Append("Entwürfe", msg, "\\Seen $Label1 \\Flagged \\Recent", date);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uidvalidity, StatusValue(user, "Entwürfe", "uidvalidity"));
  EXPECT_EQ(r->uid, 1u);
  auto r2 = c->Append("Entwürfe", "Subject: two\r\n\r\nCRLF already\r\n", "", std::nullopt);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->uid, 2u);
  auto missing = c->Append("Gibt es nicht", msg, "", std::nullopt);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  auto ex = c->Examine("Entwürfe");
  ASSERT_TRUE(ex);
  EXPECT_EQ(ex->exists, 2u);
  auto got = FetchAll(*c, {1, 2});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].bytes, msg);
  EXPECT_EQ(got[0].flags, "$Label1 \\Flagged \\Seen");
  EXPECT_EQ(got[0].internal_date, date);
  EXPECT_EQ(got[1].bytes, "Subject: two\n\nCRLF already\n");
  EXPECT_EQ(got[1].flags, "");
  auto flags = c->FetchFlags("1:*");
  ASSERT_TRUE(flags);
  ASSERT_EQ(flags->size(), 2u);
  EXPECT_EQ((*flags)[0].flags, "$Label1 \\Flagged \\Seen");
  // CHANGEDSINCE: nothing changed after the highest modseq.
  auto unchanged = c->FetchFlags("1:*", ex->highestmodseq);
  ASSERT_TRUE(unchanged);
  EXPECT_TRUE(unchanged->empty());
  EXPECT_TRUE(c->Logout());
}

TEST(ImapDovecot, DeleteRemovesExactlyTheGivenUids) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("delete");
  const auto messages = SampleMessages();
  Deliver(user, messages);  // UIDs 1..5
  auto c = MustConnect(Opts(user, Mode::kPlain));
  ASSERT_TRUE(c);
  // A message the user marked \Deleted (but did not expunge) must survive.
  auto marked = c->Append("INBOX", "Subject: marked by the user\n\nkeep me\n", "\\Deleted", std::nullopt);
  ASSERT_TRUE(marked);
  EXPECT_EQ(marked->uid, 6u);
  ASSERT_TRUE(c->Examine("INBOX"));
  Status ro = c->DeleteMessages({2});
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(c->Select("INBOX"));
  Status s = c->DeleteMessages({4, 2, 99});
  ASSERT_TRUE(s) << s.error().message();
  auto left = c->UidSearch("ALL");
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, (std::vector<uint32_t>{1, 3, 5, 6}));
  auto flags = c->FetchFlags("6");
  ASSERT_TRUE(flags);
  ASSERT_EQ(flags->size(), 1u);
  EXPECT_EQ((*flags)[0].flags, "\\Deleted");
  // Unselect of a read-write folder must not expunge it either.
  ASSERT_TRUE(c->Unselect());
  EXPECT_TRUE(c->Logout());
  EXPECT_EQ(StatusValue(user, "INBOX", "messages"), 4u);
}

TEST(ImapDovecot, ThirtyMegabyteLiteral) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("big");
  std::string msg = "From: big@example.test\nSubject: 30 MB\n\n";
  std::mt19937 rng(42);
  const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  while (msg.size() < 30u * 1000 * 1000) {
    for (int i = 0; i < 76; ++i) msg += alphabet[rng() % 64];
    msg += '\n';
  }
  auto c = MustConnect(Opts(user));
  ASSERT_TRUE(c);
  auto t0 = std::chrono::steady_clock::now();
  auto r = c->Append("INBOX", msg, "\\Seen", std::nullopt);
  ASSERT_TRUE(r) << r.error().message();
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c->Examine("INBOX"));
  auto got = FetchAll(*c, {r->uid});
  auto t2 = std::chrono::steady_clock::now();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].size, msg.size() + std::count(msg.begin(), msg.end(), '\n'));
  EXPECT_TRUE(got[0].bytes == msg) << "sizes " << got[0].bytes.size() << " vs " << msg.size();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::printf("30 MB: APPEND %lld ms, FETCH %lld ms\n", static_cast<long long>(ms(t1 - t0)),
              static_cast<long long>(ms(t2 - t1)));
  // The same with a limit below its size: skipped and named.
  ImapOptions small = Opts(user);
  small.max_literal = 10u << 20;
  auto c2 = MustConnect(small);
  ASSERT_TRUE(c2);
  ASSERT_TRUE(c2->Examine("INBOX"));
  Status s = c2->FetchMessages({r->uid}, [](FetchedMessage&&) { return OkStatus(); });
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("larger than max_literal"), std::string::npos) << s.error().message();
  EXPECT_TRUE(c->Logout());
  EXPECT_TRUE(c2->Logout());
}

// A TCP proxy on 127.0.0.1 to Dovecot's plain IMAP port that hangs up on
// both sides once the server has sent `cut_after` bytes: a connection lost
// in the middle of a literal.
class CuttingProxy {
 public:
  explicit CuttingProxy(size_t cut_after) : cut_after_(cut_after) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 1);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CuttingProxy() {
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  size_t forwarded() const { return forwarded_; }

 private:
  void Run() {
    pollfd l{listen_fd_, POLLIN, 0};
    if (::poll(&l, 1, 10000) <= 0) return;
    int client = ::accept(listen_fd_, nullptr, nullptr);
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(Env("DOVECOT_IMAP_PORT"))));
    if (::connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      char buf[16384];
      for (;;) {
        pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        if (::poll(p, 2, 10000) <= 0) break;
        if (p[0].revents) {
          ssize_t n = ::recv(client, buf, sizeof buf, 0);
          if (n <= 0 || ::send(server, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        if (p[1].revents) {
          ssize_t n = ::recv(server, buf, std::min(sizeof buf, cut_after_ - forwarded_), 0);
          if (n <= 0 || ::send(client, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
          forwarded_ += static_cast<size_t>(n);
          if (forwarded_ >= cut_after_) break;
        }
      }
    }
    ::close(server);
    ::shutdown(client, SHUT_RDWR);
    ::close(client);
  }

  size_t cut_after_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<size_t> forwarded_{0};
  std::thread thread_;
};

TEST(ImapDovecot, ConnectionLostMidLiteralPassesNoPartialMessage) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("cut");
  // Random text: compressed (imap_dovecot_compress) it is still over 1 MiB.
  std::string big = "Subject: big\n\n";
  std::mt19937 rng(7);
  while (big.size() < 3u << 20) {
    for (int i = 0; i < 70; ++i) big += static_cast<char>('!' + rng() % 90);
    big += '\n';
  }
  Deliver(user, {"Subject: small\n\nsmall\n", big, "Subject: after\n\nafter\n"});
  CuttingProxy proxy(1u << 20);  // the second message is 3 MB
  ImapOptions o = Opts(user, Mode::kPlain);
  o.connect.host = "127.0.0.1";
  o.connect.port = proxy.port();
  auto c = MustConnect(o);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->Examine("INBOX"));
  std::vector<FetchedMessage> got;
  Status s = c->FetchMessages({1, 2, 3}, [&](FetchedMessage&& m) {
    got.push_back(std::move(m));
    return OkStatus();
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable) << s.error().message();
  // "... closed by the server" (or "reset", should the close carry an RST).
  EXPECT_EQ(s.error().message().rfind("IMAP UID FETCH: connection to 127.0.0.1:" + std::to_string(proxy.port()), 0),
            0u)
      << s.error().message();
  ASSERT_EQ(got.size(), 1u);  // the small one; nothing of the cut one
  EXPECT_EQ(got[0].bytes, "Subject: small\n\nsmall\n");
  EXPECT_EQ(proxy.forwarded(), 1u << 20);
  auto again = c->Examine("INBOX");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kUnavailable);
}

// COMPRESS=DEFLATE against Dovecot's imap_zlib: negotiated after login
// over implicit TLS, STARTTLS and plain TCP, and a fetch of a few messages,
// one of several megabytes, is byte-exact; compress = false sends no
// COMPRESS. Without DOVECOT_IMAP_COMPRESS=1 the server does not offer it
// and the sessions stay uncompressed.
TEST(ImapDovecot, CompressedFetchIsByteExactInEveryTlsMode) {
  REQUIRE_DOVECOT();
  const std::string user = NewUser("compress");
  std::vector<std::string> messages = SampleMessages();
  std::string big = "From: big@example.test\nSubject: six megabytes\n\n";
  std::mt19937 rng(11);
  const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  while (big.size() < 6u << 20) {
    for (int i = 0; i < 76; ++i) big += alphabet[rng() % 64];
    big += '\n';
  }
  messages.insert(messages.begin() + 2, big);
  std::string eight_bit = "From: x@example.test\nSubject: 8 bit\n\n";
  for (int i = 0; i < 20000; ++i) eight_bit += static_cast<char>(0x80 + rng() % 0x7f);
  messages.push_back(eight_bit + "\n");
  Deliver(user, messages);

  for (Mode mode : {Mode::kImplicit, Mode::kStartTls, Mode::kPlain}) {
    std::vector<std::string> notes;
    ImapOptions o = Opts(user, mode);
    o.debug = [&](std::string_view note) { notes.emplace_back(note); };
    auto c = MustConnect(o);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->compressed(), Compressing()) << static_cast<int>(mode);
    if (Compressing()) {
      ASSERT_EQ(notes.size(), 1u);
      EXPECT_NE(notes[0].find("COMPRESS=DEFLATE active"), std::string::npos) << notes[0];
    } else {
      EXPECT_TRUE(notes.empty());
    }
    auto ex = c->Examine("INBOX");
    ASSERT_TRUE(ex) << ex.error().message();
    ASSERT_EQ(ex->exists, messages.size());
    auto uids = c->UidSearch("ALL");
    ASSERT_TRUE(uids);
    auto got = FetchAll(*c, *uids);
    ASSERT_EQ(got.size(), messages.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_TRUE(got[i].bytes == messages[i]) << "mode " << static_cast<int>(mode) << " message " << i << ": "
                                               << got[i].bytes.size() << " vs " << messages[i].size() << " bytes";
    }
    // The other direction: a literal of a few megabytes, fetched back.
    auto appended = c->Append("INBOX", big, "\\Seen", std::nullopt);
    ASSERT_TRUE(appended) << appended.error().message();
    ASSERT_TRUE(c->Examine("INBOX"));
    auto back = FetchAll(*c, {appended->uid});
    ASSERT_EQ(back.size(), 1u);
    EXPECT_TRUE(back[0].bytes == big);
    ASSERT_TRUE(c->Select("INBOX"));
    ASSERT_TRUE(c->DeleteMessages({appended->uid}));
    EXPECT_TRUE(c->Logout());
  }

  // Turned off: offered (when compressing) but not used.
  std::vector<std::string> notes;
  ImapOptions off = Opts(user, Mode::kImplicit);
  off.compress = false;
  off.debug = [&](std::string_view note) { notes.emplace_back(note); };
  auto c = MustConnect(off);
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->compressed());
  EXPECT_EQ(c->HasCapability("COMPRESS=DEFLATE"), Compressing());
  EXPECT_EQ(notes.size(), Compressing() ? 1u : 0u);
  ASSERT_TRUE(c->Examine("INBOX"));
  auto got = FetchAll(*c, {3});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].bytes == big);
  EXPECT_TRUE(c->Logout());
}

}  // namespace
}  // namespace mailkeep::imap
