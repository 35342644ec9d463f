#include "config/config.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "store/util/files.h"

namespace mailkeep::config {
namespace {

// A minimal valid account, to which tests add lines.
constexpr std::string_view kMinimal =
    "[account.work]\n"
    "protocol = imap\n"
    "host = mail.example.com\n"
    "user = alice\n"
    "password_env = WORK_PASSWORD\n";

Config MustParse(std::string_view text, const std::string& file = "config.ini") {
  auto r = ParseConfig(text, file);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : Config{};
}

// The one-line error ParseConfig gives for `text`.
std::string ErrorOf(std::string_view text, const std::string& file = "config.ini") {
  auto r = ParseConfig(text, file);
  EXPECT_FALSE(r.has_value()) << "parsed without error:\n" << text;
  if (r) return "";
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  return r.error().message();
}

// Parses kMinimal plus `line` and returns the account.
AccountConfig AccountWith(std::string_view line) {
  Config c = MustParse(std::string(kMinimal) + std::string(line) + "\n");
  return c.accounts.empty() ? AccountConfig{} : c.accounts[0];
}

std::string BadValueOf(std::string_view line) { return ErrorOf(std::string(kMinimal) + std::string(line) + "\n"); }

bool Contains(const std::string& haystack, std::string_view needle) {
  return haystack.find(needle) != std::string::npos;
}

// Sets or unsets an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mailkeep-config-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, std::string_view data, mode_t mode = 0600) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << data;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------
// Parsing: the shapes of a valid file.

TEST(ParseConfig, DesignExample) {
  Config c = MustParse(
      "archive = /var/lib/mailkeep\n"
      "\n"
      "[account.work]\n"
      "protocol = imap            ; imap | pop3\n"
      "host = mail.example.com\n"
      "port = 0                   ; 0 = standard port for protocol and tls\n"
      "tls = implicit             ; implicit | starttls | none\n"
      "user = alice@example.com\n"
      "password_command = pass show mail/work   ; or password_env / password_file\n"
      "folders = *                ; patterns\n"
      "exclude = Trash, Junk\n"
      "delete = never             ; never | after-download | older-than:30d\n"
      "\n"
      "[relay.default]\n"
      "host = smtp.example.com\n"
      "tls = starttls\n"
      "user = alice@example.com\n"
      "password_env = SMTP_PASSWORD\n");
  EXPECT_EQ(c.path, "config.ini");
  EXPECT_EQ(c.archive, "/var/lib/mailkeep");
  ASSERT_EQ(c.accounts.size(), 1u);
  const AccountConfig& a = c.accounts[0];
  EXPECT_EQ(a.name, "work");
  EXPECT_EQ(a.where.file, "config.ini");
  EXPECT_EQ(a.where.line, 3);
  EXPECT_EQ(a.protocol, Protocol::kImap);
  EXPECT_EQ(a.host, "mail.example.com");
  EXPECT_EQ(a.port, 0);
  EXPECT_EQ(a.tls, Tls::kImplicit);
  EXPECT_EQ(a.user, "alice@example.com");
  EXPECT_EQ(a.password.kind, PasswordSource::Kind::kCommand);
  EXPECT_EQ(a.password.value, "pass show mail/work");
  EXPECT_EQ(a.folders, std::vector<std::string>{"*"});
  EXPECT_EQ(a.exclude, (std::vector<std::string>{"Trash", "Junk"}));
  EXPECT_EQ(a.delete_policy.kind, DeletePolicy::Kind::kNever);
  ASSERT_EQ(c.relays.size(), 1u);
  const RelayConfig& r = c.relays[0];
  EXPECT_EQ(r.name, "default");
  EXPECT_EQ(r.where.line, 14);
  EXPECT_EQ(r.host, "smtp.example.com");
  EXPECT_EQ(r.tls, Tls::kStartTls);
  EXPECT_EQ(r.user, "alice@example.com");
  EXPECT_EQ(r.password.kind, PasswordSource::Kind::kEnv);
  EXPECT_EQ(r.password.value, "SMTP_PASSWORD");
}

TEST(ParseConfig, AccountDefaults) {
  Config c = MustParse(kMinimal);
  EXPECT_EQ(c.archive, "");
  ASSERT_EQ(c.accounts.size(), 1u);
  const AccountConfig& a = c.accounts[0];
  EXPECT_EQ(a.port, 0);
  EXPECT_EQ(a.tls, Tls::kImplicit);
  EXPECT_EQ(a.auth, Auth::kAuto);
  EXPECT_EQ(a.ca_file, "");
  EXPECT_TRUE(a.tls_verify);
  EXPECT_FALSE(a.allow_plaintext);
  EXPECT_TRUE(a.compress);
  EXPECT_EQ(a.folders, std::vector<std::string>{"*"});
  EXPECT_TRUE(a.exclude.empty());
  EXPECT_EQ(a.delete_policy.kind, DeletePolicy::Kind::kNever);
  EXPECT_EQ(a.delete_policy.days, 0);
  EXPECT_EQ(a.max_message_size, 0u);
  EXPECT_EQ(a.connect_timeout_seconds, 30);
  EXPECT_EQ(a.timeout_seconds, 120);
  EXPECT_EQ(a.command_deadline_seconds, 1800);
}

TEST(ParseConfig, RelayDefaults) {
  Config c = MustParse("[relay.out]\nhost = smtp.example.com\n");
  ASSERT_EQ(c.relays.size(), 1u);
  const RelayConfig& r = c.relays[0];
  EXPECT_EQ(r.port, 0);
  EXPECT_EQ(r.tls, Tls::kStartTls);
  EXPECT_EQ(r.user, "");
  EXPECT_EQ(r.auth, Auth::kAuto);
  EXPECT_EQ(r.password.kind, PasswordSource::Kind::kNone);
  EXPECT_TRUE(r.tls_verify);
  EXPECT_FALSE(r.allow_plaintext);
  EXPECT_EQ(r.connect_timeout_seconds, 30);
  EXPECT_EQ(r.timeout_seconds, 120);
}

TEST(ParseConfig, DirectDeliveryKeys) {
  Config c = MustParse("archive = /a\n");
  EXPECT_EQ(c.direct.dns_server, "");
  EXPECT_EQ(c.direct.smtp_port, 25);
  EXPECT_EQ(c.direct.hello_name, "");
  c = MustParse("dns_server = 127.0.0.1:10053\ndirect_port = 2525\nhello_name = mk.example.test\n");
  EXPECT_EQ(c.direct.dns_server, "127.0.0.1:10053");
  EXPECT_EQ(c.direct.smtp_port, 2525);
  EXPECT_EQ(c.direct.hello_name, "mk.example.test");
  for (const char* ok : {"192.0.2.1", "::1", "[::1]:53", "[2001:db8::1]"}) {
    EXPECT_EQ(MustParse(std::string("dns_server = ") + ok + "\n").direct.dns_server, ok);
  }
  for (const char* bad : {"dns.example.com", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "[::1", "[127.0.0.1]x",
                          "1.2.3"}) {
    EXPECT_EQ(ErrorOf(std::string("dns_server = ") + bad + "\n"),
              std::string("config.ini:1: bad value '") + bad +
                  "' for 'dns_server' (an IP address, optionally with :PORT (e.g. 127.0.0.1:10053))");
  }
  EXPECT_EQ(ErrorOf("direct_port = 0\n"), "config.ini:1: bad value '0' for 'direct_port' (1..65535 (SMTP is 25))");
  EXPECT_NE(ErrorOf("hello_name = a b\n"), "");
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = s\ndns_server = 127.0.0.1\n"),
            "config.ini:3: unknown key 'dns_server' in [relay.r] (top-level keys go before the first section)");
}

TEST(ParseConfig, EmptyFileAndCommentsOnly) {
  Config c = MustParse("");
  EXPECT_TRUE(c.accounts.empty());
  c = MustParse("# nothing\n; here\n\n   \n\t# indented\n");
  EXPECT_TRUE(c.accounts.empty());
  EXPECT_TRUE(c.relays.empty());
}

TEST(ParseConfig, Comments) {
  Config c = MustParse(
      "# full line\n"
      "; full line\n"
      "   # indented\n"
      "[account.a]   ; after a header\n"
      "protocol = imap # hash after whitespace\n"
      "host=mail.example.com;not-a-comment\n"
      "user = a#b\n"
      "password_command = pass show x#y ;   comment\n"
      "exclude = ; only a comment\n");
  ASSERT_EQ(c.accounts.size(), 1u);
  const AccountConfig& a = c.accounts[0];
  EXPECT_EQ(a.protocol, Protocol::kImap);
  EXPECT_EQ(a.host, "mail.example.com;not-a-comment");
  EXPECT_EQ(a.user, "a#b");
  EXPECT_EQ(a.password.value, "pass show x#y");
  EXPECT_TRUE(a.exclude.empty());
}

TEST(ParseConfig, QuotedValueKeepsCommentCharacters) {
  AccountConfig a = AccountWith("folders = \"#news.*, Lists ; all\"   ; a comment");
  EXPECT_EQ(a.folders, (std::vector<std::string>{"#news.*", "Lists ; all"}));
  Config c = MustParse(
      "[account.a]\nprotocol = imap\nhost = h\nuser = u\n"
      "password_command = \"/opt/my tool/pw\" --account a\n");  // not wholly quoted: kept as is
  ASSERT_EQ(c.accounts.size(), 1u);
  EXPECT_EQ(c.accounts[0].password.value, "\"/opt/my tool/pw\" --account a");
}

TEST(ParseConfig, WhitespaceCrLfAndBom) {
  Config c = MustParse(
      "\xEF\xBB\xBF"
      "archive=/srv/a\r\n"
      "\t[ account.work ]\r\n"
      "  protocol\t=\tpop3  \r\n"
      "host   =   pop.example.com\r\n"
      "user=bob\r\n"
      "password_env=P\r\n");
  EXPECT_EQ(c.archive, "/srv/a");
  ASSERT_EQ(c.accounts.size(), 1u);
  EXPECT_EQ(c.accounts[0].name, "work");
  EXPECT_EQ(c.accounts[0].protocol, Protocol::kPop3);
  EXPECT_EQ(c.accounts[0].host, "pop.example.com");
  EXPECT_EQ(c.accounts[0].user, "bob");
  EXPECT_EQ(c.accounts[0].password.value, "P");
}

TEST(ParseConfig, AccountsInFileOrderAndFind) {
  Config c = MustParse(
      "[account.b-2]\nprotocol = imap\nhost = h\nuser = u\npassword_env = X\n"
      "[relay.r_1]\nhost = smtp\n"
      "[account.A.1]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = X\n"
      "[relay.work]\nhost = smtp2\n"
      "[account.work]\nprotocol = imap\nhost = h\nuser = u\npassword_env = X\n");
  ASSERT_EQ(c.accounts.size(), 3u);
  EXPECT_EQ(c.accounts[0].name, "b-2");
  EXPECT_EQ(c.accounts[1].name, "A.1");
  EXPECT_EQ(c.accounts[2].name, "work");
  EXPECT_EQ(c.accounts[2].where.line, 15);
  ASSERT_EQ(c.relays.size(), 2u);
  EXPECT_EQ(c.FindAccount("A.1"), &c.accounts[1]);
  EXPECT_EQ(c.FindAccount("a.1"), nullptr);
  EXPECT_EQ(c.FindAccount("nope"), nullptr);
  EXPECT_EQ(c.FindRelay("work"), &c.relays[1]);
  EXPECT_EQ(c.FindRelay("b-2"), nullptr);
}

// ---------------------------------------------------------------------------
// Value forms.

TEST(Values, ProtocolTlsAuth) {
  EXPECT_EQ(AccountWith("tls = starttls").tls, Tls::kStartTls);
  EXPECT_EQ(AccountWith("tls = none").tls, Tls::kNone);
  EXPECT_EQ(AccountWith("tls = Implicit").tls, Tls::kImplicit);
  EXPECT_EQ(AccountWith("auth = plain").auth, Auth::kPlain);
  EXPECT_EQ(AccountWith("auth = LOGIN").auth, Auth::kLogin);
  EXPECT_EQ(AccountWith("auth = xoauth2").auth, Auth::kXoauth2);
  EXPECT_EQ(AccountWith("auth = user").auth, Auth::kUser);
  EXPECT_EQ(AccountWith("auth = auto").auth, Auth::kAuto);
  Config c = MustParse("[account.p]\nprotocol = POP3\nhost = h\nuser = u\npassword_env = X\nauth = apop\n");
  ASSERT_EQ(c.accounts.size(), 1u);
  EXPECT_EQ(c.accounts[0].protocol, Protocol::kPop3);
  EXPECT_EQ(c.accounts[0].auth, Auth::kApop);

  EXPECT_EQ(ErrorOf("[account.p]\nprotocol = smtp\n"),
            "config.ini:2: bad value 'smtp' for 'protocol' (imap | pop3)");
  EXPECT_EQ(BadValueOf("tls = ssl"), "config.ini:6: bad value 'ssl' for 'tls' (implicit | starttls | none)");
  EXPECT_EQ(BadValueOf("auth = cram-md5"),
            "config.ini:6: bad value 'cram-md5' for 'auth' (auto | plain | login | xoauth2 | oauthbearer | apop | user)");
}

// Every accounts-file word, as the loader reads it and as each client is
// told to log in: the one mapping (LoginMethodFor) cmd_sync, the IMAP
// options and resend use.
TEST(Values, AuthWordsBecomeLoginMethods) {
  using M = net::LoginMethod;
  using P = net::LoginProtocol;
  struct Case {
    const char* word;
    M pop3, imap, smtp;  // kAuto where the loader refuses the word (checked below)
  };
  const Case cases[] = {
      {"auto", M::kAuto, M::kAuto, M::kAuto},
      {"plain", M::kPlain, M::kPlain, M::kPlain},
      {"login", M::kLogin, M::kUserPass, M::kLogin},
      {"cram-md5", M::kAuto, M::kAuto, M::kCramMd5},
      {"xoauth2", M::kXoauth2, M::kXoauth2, M::kXoauth2},
      {"oauthbearer", M::kOauthBearer, M::kOauthBearer, M::kOauthBearer},
      {"apop", M::kApop, M::kAuto, M::kAuto},
      {"user", M::kUserPass, M::kUserPass, M::kAuto},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.word);
    const std::string word = c.word;
    for (auto [protocol, proto_word, want] : {std::tuple{P::kPop3, "pop3", c.pop3}, {P::kImap, "imap", c.imap}}) {
      const std::string text = std::string("[account.a]\nprotocol = ") + proto_word +
                               "\nhost = h\nuser = u\npassword_env = X\nauth = " + word + "\n";
      auto parsed = ParseConfig(text, "config.ini");
      if (word == "cram-md5" || (word == "apop" && protocol == P::kImap)) {
        EXPECT_FALSE(parsed) << proto_word;
        continue;
      }
      ASSERT_TRUE(parsed) << proto_word << ": " << parsed.error().message();
      EXPECT_EQ(config::LoginMethodFor(parsed->accounts[0].auth, protocol), want) << proto_word;
    }
    auto relay = ParseConfig("[relay.r]\nhost = s\nuser = u\npassword_env = P\nauth = " + word + "\n", "config.ini");
    if (word == "apop" || word == "user") {
      EXPECT_FALSE(relay);
      continue;
    }
    ASSERT_TRUE(relay) << relay.error().message();
    EXPECT_EQ(config::LoginMethodFor(relay->relays[0].auth, P::kSmtp), c.smtp);
  }
  // An unknown word: one line naming the allowed words.
  EXPECT_EQ(BadValueOf("auth = kerberos"),
            "config.ini:6: bad value 'kerberos' for 'auth' (auto | plain | login | xoauth2 | oauthbearer | apop | user)");
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = s\nuser = u\npassword_env = P\nauth = digest-md5\n"),
            "config.ini:5: bad value 'digest-md5' for 'auth' (auto | plain | login | cram-md5 | xoauth2 | oauthbearer)");
}

TEST(Values, Booleans) {
  for (std::string_view t : {"true", "yes", "1", "TRUE", "Yes"}) {
    EXPECT_TRUE(AccountWith("allow_plaintext = " + std::string(t)).allow_plaintext) << t;
  }
  for (std::string_view f : {"false", "no", "0", "False", "NO"}) {
    EXPECT_FALSE(AccountWith("tls_verify = " + std::string(f)).tls_verify) << f;
  }
  EXPECT_EQ(BadValueOf("tls_verify = maybe"),
            "config.ini:6: bad value 'maybe' for 'tls_verify' (true | false | yes | no | 1 | 0)");
  EXPECT_TRUE(Contains(BadValueOf("allow_plaintext ="), "bad value '' for 'allow_plaintext'"));
}

TEST(Values, Compress) {
  EXPECT_TRUE(AccountWith("compress = yes").compress);
  EXPECT_TRUE(AccountWith("compress = TRUE").compress);
  EXPECT_FALSE(AccountWith("compress = no").compress);
  EXPECT_FALSE(AccountWith("compress = 0").compress);
  EXPECT_EQ(BadValueOf("compress = deflate"),
            "config.ini:6: bad value 'deflate' for 'compress' (true | false | yes | no | 1 | 0)");
  EXPECT_EQ(BadValueOf("compress = yes\ncompress = no"),
            "config.ini:7: duplicate key 'compress' in [account.work] (first on line 6)");
  EXPECT_EQ(ErrorOf("[account.p]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = P\ncompress = no\n"),
            "config.ini:6: 'compress' needs 'protocol = imap' in [account.p] (POP3 has no compression)");
}

TEST(Values, Ports) {
  EXPECT_EQ(AccountWith("port = 0").port, 0);
  EXPECT_EQ(AccountWith("port = 993").port, 993);
  EXPECT_EQ(AccountWith("port = 65535").port, 65535);
  for (std::string_view bad : {"65536", "-1", "+1", "99999999999999999999999", "1e3", "x", "9 93", ""}) {
    std::string msg = BadValueOf("port = " + std::string(bad));
    EXPECT_TRUE(Contains(msg, "config.ini:6: bad value '" + std::string(bad) + "' for 'port' (0..65535")) << msg;
  }
}

TEST(Values, Timeouts) {
  AccountConfig a = AccountWith("connect_timeout = 1");
  EXPECT_EQ(a.connect_timeout_seconds, 1);
  EXPECT_EQ(AccountWith("timeout = 86400").timeout_seconds, 86400);
  for (std::string_view bad : {"0", "-5", "86401", "10s", "1.5", ""}) {
    std::string msg = BadValueOf("timeout = " + std::string(bad));
    EXPECT_EQ(msg, "config.ini:6: bad value '" + std::string(bad) + "' for 'timeout' (seconds, 1..86400)");
  }
  EXPECT_TRUE(Contains(BadValueOf("connect_timeout = 0"), "for 'connect_timeout' (seconds, 1..86400)"));
  EXPECT_EQ(AccountWith("command_deadline = 3").command_deadline_seconds, 3);
  EXPECT_TRUE(Contains(BadValueOf("command_deadline = 0"), "for 'command_deadline' (seconds, 1..86400)"));
}

TEST(Values, ThrottlingAndQuotas) {
  AccountConfig a = AccountWith("bandwidth = 2M");
  EXPECT_EQ(a.bandwidth, 2u << 20);
  EXPECT_EQ(a.max_bytes_per_run, 0u);
  EXPECT_EQ(a.throttle_max_wait_seconds, 120);
  EXPECT_EQ(AccountWith("max_bytes_per_run = 2500M").max_bytes_per_run, 2500ull << 20);
  EXPECT_EQ(AccountWith("throttle_max_wait = 0").throttle_max_wait_seconds, 0);
  EXPECT_EQ(AccountWith("throttle_max_wait = 600").throttle_max_wait_seconds, 600);
  EXPECT_TRUE(Contains(BadValueOf("bandwidth = fast"), "for 'bandwidth' (bytes, or a number with k, M or G"));
  EXPECT_TRUE(Contains(BadValueOf("throttle_max_wait = 86401"), "for 'throttle_max_wait' (seconds, 0..86400"));
  EXPECT_EQ(MustParse("archive = /a\n").max_connections_per_host, 4);
  EXPECT_EQ(MustParse("max_connections_per_host = 15\n").max_connections_per_host, 15);
  for (const char* bad : {"0", "1001", "x"}) {
    EXPECT_EQ(ErrorOf(std::string("max_connections_per_host = ") + bad + "\n"),
              std::string("config.ini:1: bad value '") + bad + "' for 'max_connections_per_host' (1..1000)");
  }
}

TEST(Values, DeletePolicy) {
  EXPECT_EQ(AccountWith("delete = never").delete_policy.kind, DeletePolicy::Kind::kNever);
  EXPECT_EQ(AccountWith("delete = after-download").delete_policy.kind, DeletePolicy::Kind::kAfterDownload);
  DeletePolicy p = AccountWith("delete = older-than:30d").delete_policy;
  EXPECT_EQ(p.kind, DeletePolicy::Kind::kOlderThan);
  EXPECT_EQ(p.days, 30);
  EXPECT_EQ(AccountWith("delete = older-than:1d").delete_policy.days, 1);
  EXPECT_EQ(AccountWith("delete = Older-Than:365D").delete_policy.days, 365);
  for (std::string_view bad : {"sometimes", "older-than:0d", "older-than:30", "older-than:d", "older-than:-3d",
                               "older-than:3w", "older-than: 3d", "older-than:99999999999d", "after download", ""}) {
    EXPECT_EQ(BadValueOf("delete = " + std::string(bad)),
              "config.ini:6: bad value '" + std::string(bad) + "' for 'delete' (never | after-download | older-than:Nd)");
  }
}

TEST(Values, MaxMessageSize) {
  EXPECT_EQ(AccountWith("max_message_size = 0").max_message_size, 0u);
  EXPECT_EQ(AccountWith("max_message_size = 1048576").max_message_size, 1048576u);
  EXPECT_EQ(AccountWith("max_message_size = 500k").max_message_size, 500u * 1024);
  EXPECT_EQ(AccountWith("max_message_size = 500K").max_message_size, 500u * 1024);
  EXPECT_EQ(AccountWith("max_message_size = 25M").max_message_size, 25u * 1024 * 1024);
  EXPECT_EQ(AccountWith("max_message_size = 25mb").max_message_size, 25u * 1024 * 1024);
  EXPECT_EQ(AccountWith("max_message_size = 1G").max_message_size, uint64_t{1} << 30);
  EXPECT_EQ(AccountWith("max_message_size = 2GB").max_message_size, uint64_t{2} << 30);
  for (std::string_view bad : {"1.5M", "-1", "k", "25T", "25 M", "100B", "99999999999999999999", "17179869184G", ""}) {
    std::string msg = BadValueOf("max_message_size = " + std::string(bad));
    EXPECT_TRUE(Contains(msg, "config.ini:6: bad value '" + std::string(bad) + "' for 'max_message_size' ("))
        << msg;
  }
}

TEST(Values, FolderLists) {
  AccountConfig a = AccountWith("folders = INBOX, Archive/* ,, Sent Items,");
  EXPECT_EQ(a.folders, (std::vector<std::string>{"INBOX", "Archive/*", "Sent Items"}));
  a = AccountWith("exclude = Trash");
  EXPECT_EQ(a.exclude, std::vector<std::string>{"Trash"});
  EXPECT_TRUE(AccountWith("exclude =").exclude.empty());
  EXPECT_TRUE(Contains(BadValueOf("folders = , ,"), "config.ini:6: bad value ', ,' for 'folders'"));
  EXPECT_TRUE(Contains(BadValueOf("folders ="), "config.ini:6: bad value '' for 'folders'"));
}

// folder_map is kept as written (migrate reads the rules), with its line.
TEST(Values, FolderMap) {
  AccountConfig a = AccountWith("folder_map = Entwürfe=Drafts, Lists/*=Mailing lists/*");
  EXPECT_EQ(a.folder_map, "Entwürfe=Drafts, Lists/*=Mailing lists/*");
  EXPECT_EQ(a.folder_map_line, 6);
  EXPECT_TRUE(Contains(BadValueOf("folder_map = Drafts"), "config.ini:6: bad value 'Drafts' for 'folder_map'"));
  EXPECT_EQ(ErrorOf("[account.p]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = P\nfolder_map = a=b\n"),
            "config.ini:6: 'folder_map' needs 'protocol = imap' in [account.p] (POP3 has one mailbox)");
}

TEST(Values, HostUserAndPasswordSources) {
  EXPECT_EQ(ErrorOf("[account.a]\nhost = imaps://mail.example.com\n"),
            "config.ini:2: bad value 'imaps://mail.example.com' for 'host' (a host name or address, without "
            "scheme or port)");
  EXPECT_TRUE(Contains(ErrorOf("[account.a]\nhost = mail example\n"), "config.ini:2: bad value 'mail example' for 'host'"));
  EXPECT_TRUE(Contains(ErrorOf("[account.a]\nuser =\n"), "config.ini:2: bad value '' for 'user'"));
  EXPECT_EQ(ErrorOf("[account.a]\npassword_env = MY-PASS\n"),
            "config.ini:2: bad value 'MY-PASS' for 'password_env' (an environment variable name)");
  EXPECT_TRUE(Contains(ErrorOf("[account.a]\npassword_command =\n"), "config.ini:2: bad value '' for 'password_command'"));
  EXPECT_TRUE(Contains(ErrorOf("[account.a]\npassword_file =\n"), "config.ini:2: bad value '' for 'password_file'"));
}

TEST(Values, PathsExpandAndResolveAgainstTheConfigDirectory) {
  ScopedEnv home("HOME", "/home/alice");
  Config c = MustParse("archive = ~/mail\n", "/etc/mailkeep/config.ini");
  EXPECT_EQ(c.archive, "/home/alice/mail");
  EXPECT_EQ(MustParse("archive = ~\n").archive, "/home/alice");
  EXPECT_EQ(MustParse("archive = /abs/./dir\n", "/etc/x/config.ini").archive, "/abs/dir");
  EXPECT_EQ(MustParse("archive = arch\n", "/etc/mailkeep/config.ini").archive, "/etc/mailkeep/arch");
  EXPECT_EQ(MustParse("archive = ../arch\n", "/etc/mailkeep/config.ini").archive, "/etc/arch");
  Config f = MustParse(
      "[account.a]\nprotocol = imap\nhost = h\nuser = u\npassword_file = secrets/a.pw\n",
      "/etc/mailkeep/config.ini");
  ASSERT_EQ(f.accounts.size(), 1u);
  EXPECT_EQ(f.accounts[0].password.kind, PasswordSource::Kind::kFile);
  EXPECT_EQ(f.accounts[0].password.value, "/etc/mailkeep/secrets/a.pw");
  EXPECT_EQ(ErrorOf("archive = ~bob/mail\n"),
            "config.ini:1: bad value '~bob/mail' for 'archive' (~user is not expanded; use ~/... or an absolute "
            "path)");
  EXPECT_EQ(ErrorOf("archive =\n"), "config.ini:1: bad value '' for 'archive' (a path)");
}

TEST(Values, CaFileMustExist) {
  TempDir dir;
  std::string pem = dir.Write("ca.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
  std::string cfg_path = dir.path() + "/config.ini";
  Config c = MustParse(std::string(kMinimal) + "ca_file = " + pem + "\n", cfg_path);
  ASSERT_EQ(c.accounts.size(), 1u);
  EXPECT_EQ(c.accounts[0].ca_file, pem);
  // Relative to the config file's directory.
  c = MustParse("[relay.r]\nhost = smtp\nca_file = ca.pem\n", cfg_path);
  ASSERT_EQ(c.relays.size(), 1u);
  EXPECT_EQ(c.relays[0].ca_file, pem);

  std::string missing = dir.path() + "/missing.pem";
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "ca_file = " + missing + "\n"),
            "config.ini:6: cannot use 'ca_file' " + missing + ": No such file or directory");
  EXPECT_EQ(ErrorOf("[relay.r]\nca_file = " + dir.path() + "\n"),
            "config.ini:2: cannot use 'ca_file' " + dir.path() + ": not a regular file");
}

// ---------------------------------------------------------------------------
// Errors: each names the file, the line and the key or section.

TEST(Errors, UnknownKey) {
  EXPECT_EQ(ErrorOf("\n\n[account.work]\nprotocol = imap\nhots = x\n"),
            "config.ini:5: unknown key 'hots' in [account.work]");
  EXPECT_EQ(ErrorOf("[relay.out]\nfolders = *\n"), "config.ini:2: unknown key 'folders' in [relay.out]");
  EXPECT_EQ(ErrorOf("[relay.out]\nprotocol = imap\n"), "config.ini:2: unknown key 'protocol' in [relay.out]");
  EXPECT_EQ(ErrorOf("archve = /x\n"), "config.ini:1: unknown key 'archve'");
  EXPECT_EQ(ErrorOf("[account.w]\nHost = x\n"),
            "config.ini:2: unknown key 'Host' in [account.w] (keys are lowercase: 'host')");
  EXPECT_EQ(ErrorOf("[account.w]\narchive = /x\n"),
            "config.ini:2: unknown key 'archive' in [account.w] (top-level keys go before the first section)");
}

TEST(Errors, UnknownKeyNeverQuotesTheValue) {
  std::string msg = ErrorOf("[account.w]\npassword = hunter2secret\n");
  EXPECT_EQ(msg,
            "config.ini:2: unknown key 'password' in [account.w] (passwords are not kept in the file: use "
            "password_env, password_file or password_command)");
  EXPECT_FALSE(Contains(msg, "hunter2secret"));
}

TEST(Errors, LineWithoutEqualsIsNotQuoted) {
  std::string msg = ErrorOf("[account.w]\nprotocol = imap\nhunter2secret\n");
  EXPECT_EQ(msg, "config.ini:3: expected 'key = value' or '[section]'");
  EXPECT_EQ(ErrorOf("= value\n"), "config.ini:1: missing key before '='");
}

TEST(Errors, BadValue) {
  EXPECT_EQ(ErrorOf("[account.work]\nprotocol = imap\nhost = h\n\n\n\ndelete = sometimes\n"),
            "config.ini:7: bad value 'sometimes' for 'delete' (never | after-download | older-than:Nd)");
}

TEST(Errors, MissingRequiredKeysNameTheSectionHeaderLine) {
  EXPECT_EQ(ErrorOf("archive = /a\n\n[account.work]\nprotocol = imap\nuser = u\npassword_env = P\n"),
            "config.ini:3: [account.work] is missing 'host'");
  EXPECT_EQ(ErrorOf("[account.work]\nhost = h\nuser = u\npassword_env = P\n"),
            "config.ini:1: [account.work] is missing 'protocol'");
  EXPECT_EQ(ErrorOf("[account.work]\nprotocol = imap\nhost = h\npassword_env = P\n"),
            "config.ini:1: [account.work] is missing 'user'");
  EXPECT_EQ(ErrorOf("[account.work]\nprotocol = imap\nhost = h\nuser = u\n[relay.r]\nhost = s\n"),
            "config.ini:1: [account.work] is missing 'password_env', 'password_file' or 'password_command'");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[relay.r]\nport = 25\n"), "config.ini:6: [relay.r] is missing 'host'");
}

TEST(Errors, DuplicateSection) {
  std::string text = std::string(kMinimal);
  for (int i = 0; i < 14; ++i) text += "\n";
  text += "[account.work]\n";  // line 20
  EXPECT_EQ(ErrorOf(text), "config.ini:20: duplicate section [account.work] (first on line 1)");
}

TEST(Errors, DuplicateKey) {
  EXPECT_EQ(ErrorOf("[account.work]\nhost = a\nprotocol = imap\nhost = b\n"),
            "config.ini:4: duplicate key 'host' in [account.work] (first on line 2)");
  EXPECT_EQ(ErrorOf("archive = /a\narchive = /b\n"), "config.ini:2: duplicate key 'archive' (first on line 1)");
  // The same key in two sections is fine.
  Config c = MustParse(std::string(kMinimal) + "[account.two]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = P\n");
  EXPECT_EQ(c.accounts.size(), 2u);
}

TEST(Errors, KeyOutsideOfASection) {
  EXPECT_EQ(ErrorOf("archive = /a\n\n\nhost = mail.example.com\n"),
            "config.ini:4: key 'host' outside of a section (put it under [account.NAME] or [relay.NAME])");
}

TEST(Errors, Sections) {
  EXPECT_EQ(ErrorOf("[foo]\n"),
            "config.ini:1: unknown section [foo] (sections are [account.NAME], [relay.NAME] and [serve])");
  EXPECT_EQ(ErrorOf("[Account.work]\n"),
            "config.ini:1: unknown section [Account.work] (sections are [account.NAME], [relay.NAME] and [serve])");
  EXPECT_EQ(ErrorOf("[account]\n"), "config.ini:1: section [account] needs a name: [account.NAME]");
  EXPECT_EQ(ErrorOf("[account.]\n"), "config.ini:1: bad name '' in [account.] (letters, digits, '.', '_' and '-')");
  EXPECT_EQ(ErrorOf("[account.my work]\n"),
            "config.ini:1: bad name 'my work' in [account.my work] (letters, digits, '.', '_' and '-')");
  EXPECT_EQ(ErrorOf("[account.a/b]\n"), "config.ini:1: bad name 'a/b' in [account.a/b] (letters, digits, '.', '_' and '-')");
  EXPECT_EQ(ErrorOf("[account.work\n"), "config.ini:1: section header without ']'");
  EXPECT_EQ(ErrorOf("[account.work] x\n"), "config.ini:1: unexpected text after the section header");
}

TEST(Errors, CrossFieldChecks) {
  EXPECT_EQ(ErrorOf("[account.work]\nprotocol = imap\nhost = h\nuser = u\nauth = apop\npassword_env = P\n"),
            "config.ini:5: 'auth = apop' needs 'protocol = pop3' in [account.work]");
  EXPECT_EQ(ErrorOf("[account.p]\nfolders = INBOX\nprotocol = pop3\nhost = h\nuser = u\npassword_env = P\n"),
            "config.ini:2: 'folders' needs 'protocol = imap' in [account.p] (POP3 has one mailbox)");
  EXPECT_EQ(ErrorOf("[account.p]\nprotocol = pop3\nhost = h\nuser = u\npassword_env = P\nexclude = Trash\n"),
            "config.ini:6: 'exclude' needs 'protocol = imap' in [account.p] (POP3 has one mailbox)");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "password_file = /x\n"),
            "config.ini:6: [account.work] sets both 'password_env' and 'password_file' (choose one)");
  EXPECT_EQ(ErrorOf("[account.w]\npassword_command = pw\npassword_env = P\n"),
            "config.ini:3: [account.w] sets both 'password_command' and 'password_env' (choose one)");
  // tls = none with a password is allowed here; the client refuses it later
  // unless allow_plaintext = true.
  AccountConfig a = AccountWith("tls = none");
  EXPECT_EQ(a.tls, Tls::kNone);
  EXPECT_FALSE(a.allow_plaintext);
}

TEST(Errors, RelayCredentials) {
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = s\nuser = u\n"),
            "config.ini:3: 'user' needs 'password_env', 'password_file' or 'password_command' in [relay.r]");
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = s\npassword_env = P\n"),
            "config.ini:3: 'password_env' needs 'user' in [relay.r]");
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = s\nauth = plain\n"), "config.ini:3: 'auth' needs 'user' in [relay.r]");
  EXPECT_EQ(ErrorOf("[relay.r]\nauth = apop\n"),
            "config.ini:2: bad value 'apop' for 'auth' (auto | plain | login | cram-md5 | xoauth2 | oauthbearer)");
  EXPECT_EQ(ErrorOf("[relay.r]\nauth = user\n"),
            "config.ini:2: bad value 'user' for 'auth' (auto | plain | login | cram-md5 | xoauth2 | oauthbearer)");
  // CRAM-MD5 is an SMTP mechanism: relays only.
  EXPECT_EQ(MustParse("[relay.r]\nhost = s\nuser = u\npassword_env = P\nauth = cram-md5\n").relays[0].auth,
            Auth::kCramMd5);
  EXPECT_EQ(ErrorOf("[account.a]\nauth = cram-md5\n"),
            "config.ini:2: bad value 'cram-md5' for 'auth' (auto | plain | login | xoauth2 | oauthbearer | apop | user)");
  Config c = MustParse("[relay.r]\nhost = s\nauth = auto\n");
  EXPECT_EQ(c.relays.size(), 1u);
}

TEST(Errors, FirstErrorInFileOrder) {
  // The bad value on line 2 comes before the missing key of the same section
  // and the unknown key of the next.
  EXPECT_EQ(ErrorOf("[account.a]\nport = x\n[account.b]\nbogus = 1\n"),
            "config.ini:2: bad value 'x' for 'port' (0..65535; 0 = standard port)");
  // A section's missing key is reported before a later syntax error.
  EXPECT_EQ(ErrorOf("[account.a]\nprotocol = imap\n[account.b]\nbogus = 1\n"),
            "config.ini:1: [account.a] is missing 'host'");
}

TEST(Errors, FileNameAsGiven) {
  EXPECT_EQ(ErrorOf("[x.y]\n", "/etc/mailkeep/mailkeep.ini"),
            "/etc/mailkeep/mailkeep.ini:1: unknown section [x.y] (sections are [account.NAME], [relay.NAME] and [serve])");
}

// ---------------------------------------------------------------------------
// Loading files and the default path.

TEST(LoadConfigFile, ReadsAFile) {
  TempDir dir;
  std::string path = dir.Write("config.ini", std::string(kMinimal) + "delete = older-than:7d\n");
  auto c = LoadConfigFile(path);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ(c->path, path);
  ASSERT_EQ(c->accounts.size(), 1u);
  EXPECT_EQ(c->accounts[0].where.file, path);
  EXPECT_EQ(c->accounts[0].delete_policy.days, 7);

  std::string bad = dir.Write("bad.ini", "[account.w]\nhots = x\n");
  auto e = LoadConfigFile(bad);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().message(), bad + ":2: unknown key 'hots' in [account.w]");
}

TEST(LoadConfigFile, MissingFile) {
  TempDir dir;
  auto e = LoadConfigFile(dir.path() + "/nope.ini");
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(Contains(e.error().message(), dir.path() + "/nope.ini"));
}

TEST(DefaultConfigPath, Precedence) {
  ScopedEnv home("HOME", "/home/alice");
  {
    ScopedEnv mk("MAILKEEP_CONFIG", "/etc/mk.ini");
    ScopedEnv xdg("XDG_CONFIG_HOME", "/xdg");
    EXPECT_EQ(DefaultConfigPath(), "/etc/mk.ini");
  }
  {
    ScopedEnv mk("MAILKEEP_CONFIG", "");
    ScopedEnv xdg("XDG_CONFIG_HOME", "/xdg");
    EXPECT_EQ(DefaultConfigPath(), "/xdg/mailkeep/config.ini");
  }
  {
    ScopedEnv mk("MAILKEEP_CONFIG", std::nullopt);
    ScopedEnv xdg("XDG_CONFIG_HOME", std::nullopt);
    EXPECT_EQ(DefaultConfigPath(), "/home/alice/.config/mailkeep/config.ini");
  }
  {
    ScopedEnv mk("MAILKEEP_CONFIG", std::nullopt);
    ScopedEnv xdg("XDG_CONFIG_HOME", "relative/dir");  // XDG says: ignore relative paths
    EXPECT_EQ(DefaultConfigPath(), "/home/alice/.config/mailkeep/config.ini");
  }
}

// ---------------------------------------------------------------------------
// The shipped example: it parses, and it documents every key.

TEST(Example, ParsesAndDocumentsEveryKey) {
  auto c = LoadConfigFile(MAILKEEP_EXAMPLE_INI);
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_FALSE(c->archive.empty());
  bool pop3 = false, imap = false;
  for (const auto& a : c->accounts) {
    pop3 |= a.protocol == Protocol::kPop3;
    imap |= a.protocol == Protocol::kImap;
  }
  EXPECT_TRUE(pop3);
  EXPECT_TRUE(imap);
  EXPECT_FALSE(c->relays.empty());

  // Keys set (or shown commented out) in each kind of section.
  auto text = ReadFile(MAILKEEP_EXAMPLE_INI);
  ASSERT_TRUE(text.has_value());
  std::set<std::string> top, account, relay, serve;
  std::set<std::string>* current = &top;
  std::string_view rest = *text;
  while (!rest.empty()) {
    std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos) continue;
    line.remove_prefix(start);
    if (line.starts_with("[account.")) current = &account;
    if (line.starts_with("[relay.")) current = &relay;
    if (line.starts_with("[serve]")) current = &serve;
    if (line.starts_with("# ") || line.starts_with("; ")) line.remove_prefix(2);
    size_t eq = line.find(" = ");
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq);
    if (key.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos) current->emplace(key);
  }
  for (std::string_view k : TopLevelKeys()) EXPECT_TRUE(top.contains(std::string(k))) << "top-level key " << k;
  for (std::string_view k : AccountKeys()) EXPECT_TRUE(account.contains(std::string(k))) << "account key " << k;
  for (std::string_view k : RelayKeys()) EXPECT_TRUE(relay.contains(std::string(k))) << "relay key " << k;
  for (std::string_view k : ServeKeys()) EXPECT_TRUE(serve.contains(std::string(k))) << "serve key " << k;
  EXPECT_EQ(c->serve.where.line != 0, true) << "the example has a [serve] section";
}

TEST(Keys, TablesAgreeWithTheParser) {
  EXPECT_EQ(AccountKeys().size(), 35u);
  EXPECT_EQ(RelayKeys().size(), 21u);
  ASSERT_EQ(TopLevelKeys().size(), 10u);
  EXPECT_EQ(TopLevelKeys()[0], "archive");
  EXPECT_EQ(ServeKeys().size(), 6u);
  // Every relay key is an account key except none, and the parser knows all.
  for (std::string_view k : RelayKeys()) {
    EXPECT_NE(std::find(AccountKeys().begin(), AccountKeys().end(), k), AccountKeys().end()) << k;
  }
}

TEST(Retention, TopLevelAccountAndFolderRules) {
  auto c = ParseConfig(
      "retention = 7y\nkeep_flagged = no\n"
      "[account.work]\nprotocol = imap\nhost = h\nuser = u\npassword_env = P\n"
      "retention = 1y\nfolder_retention = Trash=30d, Lists/*=forever\n",
      "r.ini");
  ASSERT_TRUE(c) << c.error().message();
  const lifecycle::Policy p = RetentionPolicy(*c);
  EXPECT_EQ(*p.global.period, (lifecycle::Period{7, 'y'}));
  EXPECT_FALSE(*p.global.keep_flagged);
  EXPECT_EQ(*lifecycle::RuleFor(p, "work", "INBOX").period, (lifecycle::Period{1, 'y'}));
  EXPECT_EQ(*lifecycle::RuleFor(p, "work", "Trash").period, (lifecycle::Period{30, 'd'}));
  EXPECT_TRUE(lifecycle::RuleFor(p, "work", "Lists/x").period->forever());
  EXPECT_EQ(*lifecycle::RuleFor(p, "other", "INBOX").period, (lifecycle::Period{7, 'y'}));

  auto bad = ParseConfig("retention = 7 years\n", "r.ini");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            "r.ini:1: bad value '7 years' for 'retention' (a number with d, w, m or y, e.g. 90d or 7y; or forever)");
  bad = ParseConfig("[account.w]\nprotocol = imap\nhost = h\nuser = u\npassword_env = P\nfolder_retention = Trash\n",
                    "r.ini");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("r.ini:6: bad value 'Trash' for 'folder_retention'"), std::string::npos)
      << bad.error().message();
}

TEST(Names, SpellingsAndStandardPorts) {
  EXPECT_EQ(ProtocolName(Protocol::kPop3), "pop3");
  EXPECT_EQ(TlsName(Tls::kStartTls), "starttls");
  EXPECT_EQ(AuthName(Auth::kXoauth2), "xoauth2");
  EXPECT_EQ(AuthName(Auth::kUser), "user");
  EXPECT_EQ(AuthName(Auth::kCramMd5), "cram-md5");
  EXPECT_EQ(AuthName(Auth::kOauthBearer), "oauthbearer");
  EXPECT_EQ(DeletePolicyText(DeletePolicy{DeletePolicy::Kind::kOlderThan, 30}), "older-than:30d");
  EXPECT_EQ(DeletePolicyText(DeletePolicy{}), "never");
  EXPECT_EQ(StandardPort(Protocol::kImap, Tls::kImplicit), 993);
  EXPECT_EQ(StandardPort(Protocol::kImap, Tls::kStartTls), 143);
  EXPECT_EQ(StandardPort(Protocol::kPop3, Tls::kImplicit), 995);
  EXPECT_EQ(StandardPort(Protocol::kPop3, Tls::kNone), 110);
  EXPECT_EQ(StandardSmtpPort(Tls::kImplicit), 465);
  EXPECT_EQ(StandardSmtpPort(Tls::kStartTls), 587);
  EXPECT_EQ(StandardSmtpPort(Tls::kNone), 25);
}

// An IMAP account that gets OAuth access tokens itself.
constexpr std::string_view kOAuth =
    "[account.gmail]\n"
    "protocol = imap\n"
    "host = imap.gmail.com\n"
    "user = alice@gmail.com\n"
    "auth = xoauth2\n"
    "oauth_token_url = https://oauth2.googleapis.com/token\n"
    "oauth_client_id = 123.apps.googleusercontent.com\n";

TEST(OAuth, KeysNeedNoPassword) {
  Config c = MustParse(std::string(kOAuth) +
                       "oauth_device_url = https://oauth2.googleapis.com/device/code\n"
                       "oauth_client_secret_file = secret.txt\n"
                       "oauth_scope = https://mail.google.com/ openid\n"
                       "oauth_refresh_token_command = pass show gmail-refresh\n",
                       "/etc/mk/config.ini");
  ASSERT_EQ(c.accounts.size(), 1u);
  const OAuthConfig& o = c.accounts[0].oauth;
  EXPECT_TRUE(o.enabled());
  EXPECT_EQ(o.token_url, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(o.device_url, "https://oauth2.googleapis.com/device/code");
  EXPECT_EQ(o.client_id, "123.apps.googleusercontent.com");
  EXPECT_EQ(o.scope, "https://mail.google.com/ openid");
  EXPECT_EQ(o.client_secret.kind, PasswordSource::Kind::kFile);
  EXPECT_EQ(o.client_secret.value, "/etc/mk/secret.txt");
  EXPECT_EQ(o.refresh_token.kind, PasswordSource::Kind::kCommand);
  EXPECT_EQ(c.accounts[0].password.kind, PasswordSource::Kind::kNone);
  EXPECT_EQ(MustParse(std::string(kOAuth)).accounts[0].auth, Auth::kXoauth2);
  std::string bearer(kOAuth);
  bearer.replace(bearer.find("auth = xoauth2"), 14, "auth = oauthbearer");
  EXPECT_EQ(MustParse(bearer).accounts[0].auth, Auth::kOauthBearer);
  EXPECT_FALSE(AccountWith("").oauth.enabled());  // password accounts are as before
}

TEST(OAuth, ChecksSayWhatIsMissingOrInTheWay) {
  std::string a(kOAuth);
  EXPECT_EQ(ErrorOf(a + "password_env = X\n"),
            "config.ini:8: [account.gmail] sets both 'oauth_token_url' and 'password_env' (choose one: a password key "
            "gives a ready access token)");
  std::string plain = a;
  plain.replace(plain.find("auth = xoauth2"), 14, "auth = plain");
  EXPECT_EQ(ErrorOf(plain), "config.ini:6: 'oauth_token_url' needs 'auth = xoauth2' or 'auth = oauthbearer' in [account.gmail]");
  std::string no_id = a.substr(0, a.find("oauth_client_id"));
  EXPECT_EQ(ErrorOf(no_id), "config.ini:6: 'oauth_token_url' needs 'oauth_client_id' in [account.gmail]");
  std::string pop3 = a;
  pop3.replace(pop3.find("protocol = imap"), 15, "protocol = pop3");
  EXPECT_EQ(MustParse(pop3).accounts[0].protocol, Protocol::kPop3);
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "oauth_client_id = x\n"),
            "config.ini:6: 'oauth_client_id' needs 'oauth_token_url' in [account.work]");
  EXPECT_TRUE(Contains(BadValueOf("oauth_token_url = http://example.com/token"), "(an https:// URL)"));
  EXPECT_TRUE(Contains(BadValueOf("oauth_client_id = a b"), "(a client id)"));
  EXPECT_EQ(ErrorOf(a + "oauth_client_secret_env = S\noauth_client_secret_file = /x\n"),
            "config.ini:9: [account.gmail] sets both 'oauth_client_secret_env' and 'oauth_client_secret_file' (choose one)");
  EXPECT_TRUE(Contains(ErrorOf("[relay.r]\nhost = h\nuser = u\npassword_env = T\nauth = apop\n"),
                       "bad value 'apop' for 'auth'"));
}

constexpr char kOAuthRelay[] =
    "[relay.gmail]\n"
    "host = smtp.gmail.com\n"
    "user = alice@gmail.com\n"
    "auth = oauthbearer\n"
    "oauth_token_url = https://oauth2.googleapis.com/token\n"
    "oauth_client_id = 123.apps.googleusercontent.com\n";

TEST(OAuth, RelaysTakeTheSameKeys) {
  Config c = MustParse(std::string(kOAuthRelay) +
                       "oauth_device_url = https://oauth2.googleapis.com/device/code\n"
                       "oauth_client_secret_env = GMAIL_SECRET\n"
                       "oauth_scope = https://mail.google.com/\n");
  ASSERT_EQ(c.relays.size(), 1u);
  const RelayConfig& r = c.relays[0];
  EXPECT_EQ(r.auth, Auth::kOauthBearer);
  EXPECT_TRUE(r.oauth.enabled());
  EXPECT_EQ(r.oauth.device_url, "https://oauth2.googleapis.com/device/code");
  EXPECT_EQ(r.oauth.client_secret.kind, PasswordSource::Kind::kEnv);
  EXPECT_EQ(r.oauth.client_secret.key, "oauth_client_secret");
  EXPECT_EQ(r.password.kind, PasswordSource::Kind::kNone);
  // The checks of accounts, naming the relay.
  std::string a(kOAuthRelay);
  EXPECT_EQ(ErrorOf(a + "password_env = X\n"),
            "config.ini:7: [relay.gmail] sets both 'oauth_token_url' and 'password_env' (choose one: a password key "
            "gives a ready access token)");
  std::string plain = a;
  plain.replace(plain.find("auth = oauthbearer"), 18, "auth = plain");
  EXPECT_EQ(ErrorOf(plain), "config.ini:5: 'oauth_token_url' needs 'auth = xoauth2' or 'auth = oauthbearer' in [relay.gmail]");
  std::string no_user = a;
  no_user.erase(no_user.find("user = "), std::string("user = alice@gmail.com\n").size());
  EXPECT_EQ(ErrorOf(no_user), "config.ini:4: 'oauth_token_url' needs 'user' in [relay.gmail]");
  EXPECT_EQ(ErrorOf("[relay.r]\nhost = h\nuser = u\npassword_env = T\noauth_scope = s\n"),
            "config.ini:5: 'oauth_scope' needs 'oauth_token_url' in [relay.r]");
}

// ---------------------------------------------------------------------------
// ResolvePassword.

constexpr char kSecret[] = "s3cr3t-Passw0rd";

PasswordSource Source(PasswordSource::Kind kind, std::string value) {
  PasswordSource s;
  s.kind = kind;
  s.value = std::move(value);
  return s;
}

// The error for `source`, checked to be one line without the secret.
Error ResolveError(const PasswordSource& source, ResolveOptions options = {}) {
  auto r = ResolvePassword(source, "account work", options);
  EXPECT_FALSE(r.has_value()) << "resolved to a password";
  if (r) return Error(ErrorCode::kInternal, "");
  EXPECT_FALSE(Contains(r.error().message(), kSecret)) << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  EXPECT_TRUE(r.error().message().starts_with("account work: ")) << r.error().message();
  return r.error();
}

// The OAuth secrets come from keys of their own; their errors name them.
TEST(ResolvePassword, OAuthSecretsNameTheirKeys) {
  TempDir dir;
  Config c = MustParse(std::string(kOAuth) + "oauth_client_secret_command = echo oops >&2; exit 3\n" +
                       "oauth_refresh_token_command = true\n" + std::string(kOAuthRelay) +
                       "oauth_client_secret_file = " + dir.path() + "/missing\n");
  const OAuthConfig& account = c.accounts[0].oauth;
  Error e = ResolveError(account.client_secret);
  EXPECT_EQ(e.message(), "account work: oauth_client_secret_command exited with status 3: oops");
  e = ResolveError(account.refresh_token);
  EXPECT_EQ(e.message(), "account work: oauth_refresh_token_command printed no OAuth refresh token (exit status 0) "
                         "(nothing on stderr)");
  e = ResolveError(c.relays[0].oauth.client_secret);
  EXPECT_EQ(e.message(), "account work: OAuth client secret file " + dir.path() + "/missing: No such file or directory");
  const std::string empty = dir.Write("empty", "\n");
  PasswordSource file = c.relays[0].oauth.client_secret;
  file.value = empty;
  EXPECT_EQ(ResolveError(file).message(),
            "account work: OAuth client secret file " + empty + " is empty (the OAuth client secret is its first line)");
  Config env = MustParse(std::string(kOAuth) + "oauth_client_secret_env = MAILKEEP_TEST_SECRET\n");
  ScopedEnv unset("MAILKEEP_TEST_SECRET", std::nullopt);
  EXPECT_EQ(ResolveError(env.accounts[0].oauth.client_secret).message(),
            "account work: environment variable MAILKEEP_TEST_SECRET (oauth_client_secret_env) is not set");
}

// The archive's passphrase (top-level passphrase_command / _file / _env):
// one source, resolved like a password, its messages naming its keys.
TEST(ResolvePassword, ArchivePassphraseKeys) {
  TempDir dir;
  const std::string file = dir.Write("pass", std::string(kSecret) + "\n", 0600);
  Config c = MustParse("passphrase_file = " + file + "\n");
  EXPECT_EQ(c.passphrase.kind, PasswordSource::Kind::kFile);
  EXPECT_EQ(c.passphrase.key, "passphrase");
  EXPECT_EQ(ResolvePassword(c.passphrase, "archive").value_or(""), kSecret);
  c = MustParse("passphrase_command = echo oops >&2; exit 4\n");
  EXPECT_EQ(ResolveError(c.passphrase).message(), "account work: passphrase_command exited with status 4: oops");
  c = MustParse("passphrase_env = MAILKEEP_TEST_PASSPHRASE\n");
  ScopedEnv unset("MAILKEEP_TEST_PASSPHRASE", std::nullopt);
  EXPECT_EQ(ResolveError(c.passphrase).message(),
            "account work: environment variable MAILKEEP_TEST_PASSPHRASE (passphrase_env) is not set");
  const std::string open = dir.Write("open", std::string(kSecret) + "\n", 0640);
  c = MustParse("passphrase_file = " + open + "\n");
  EXPECT_EQ(ResolveError(c.passphrase).message(),
            "account work: passphrase file " + open + " is readable by its group (mode 0640); run: chmod 600 " + open);
  EXPECT_EQ(ErrorOf("passphrase_env = A\npassphrase_file = " + file + "\n"),
            "config.ini:2: the file sets both 'passphrase_env' and 'passphrase_file' (choose one)");
  EXPECT_EQ(ErrorOf("[account.x]\npassphrase_env = A\n"),
            "config.ini:2: unknown key 'passphrase_env' in [account.x] (top-level keys go before the first section)");
  EXPECT_EQ(MustParse(std::string(kMinimal)).passphrase.kind, PasswordSource::Kind::kNone);
}

TEST(ResolvePassword, None) {
  Error e = ResolveError(PasswordSource{});
  EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(e.message(), "account work: no password configured");
}

TEST(ResolvePassword, Env) {
  {
    ScopedEnv env("MAILKEEP_TEST_PW", kSecret);
    auto r = ResolvePassword(Source(PasswordSource::Kind::kEnv, "MAILKEEP_TEST_PW"), "account work");
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(*r, kSecret);
  }
  {
    ScopedEnv env("MAILKEEP_TEST_PW", std::nullopt);
    Error e = ResolveError(Source(PasswordSource::Kind::kEnv, "MAILKEEP_TEST_PW"));
    EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
    EXPECT_EQ(e.message(), "account work: environment variable MAILKEEP_TEST_PW (password_env) is not set");
  }
  {
    ScopedEnv env("MAILKEEP_TEST_PW", "");
    Error e = ResolveError(Source(PasswordSource::Kind::kEnv, "MAILKEEP_TEST_PW"));
    EXPECT_EQ(e.message(), "account work: environment variable MAILKEEP_TEST_PW (password_env) is empty");
  }
}

TEST(ResolvePassword, FileAcceptedAt0600) {
  TempDir dir;
  std::string path = dir.Write("pw", std::string(kSecret) + "\nsecond line\n", 0600);
  auto r = ResolvePassword(Source(PasswordSource::Kind::kFile, path), "account work");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, kSecret);
  // CRLF, no final newline, surrounding spaces kept, 0400 is fine.
  path = dir.Write("crlf", std::string(kSecret) + "\r\n", 0400);
  EXPECT_EQ(ResolvePassword(Source(PasswordSource::Kind::kFile, path), "a").value_or(""), kSecret);
  path = dir.Write("bare", " pw with spaces ", 0600);
  EXPECT_EQ(ResolvePassword(Source(PasswordSource::Kind::kFile, path), "a").value_or(""), " pw with spaces ");
}

TEST(ResolvePassword, FileRefusedWhenGroupOrWorldReadable) {
  TempDir dir;
  std::string path = dir.Write("pw", std::string(kSecret) + "\n", 0640);
  Error e = ResolveError(Source(PasswordSource::Kind::kFile, path));
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(e.message(), "account work: password file " + path +
                             " is readable by its group (mode 0640); run: chmod 600 " + path);

  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  e = ResolveError(Source(PasswordSource::Kind::kFile, path));
  EXPECT_EQ(e.message(), "account work: password file " + path +
                             " is readable by others (mode 0604); run: chmod 600 " + path);

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  e = ResolveError(Source(PasswordSource::Kind::kFile, path));
  EXPECT_TRUE(Contains(e.message(), "readable by its group and others (mode 0644); run: chmod 600 " + path));
}

TEST(ResolvePassword, FileProblems) {
  TempDir dir;
  Error e = ResolveError(Source(PasswordSource::Kind::kFile, dir.path() + "/missing"));
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "account work: password file " + dir.path() + "/missing: No such file or directory");

  std::string empty = dir.Write("empty", "\nsecond\n", 0600);
  e = ResolveError(Source(PasswordSource::Kind::kFile, empty));
  EXPECT_EQ(e.message(), "account work: password file " + empty + " is empty (the password is its first line)");

  e = ResolveError(Source(PasswordSource::Kind::kFile, dir.path()));
  EXPECT_EQ(e.message(), "account work: password file " + dir.path() + " is not a regular file");
}

TEST(ResolvePassword, CommandSuccess) {
  auto r = ResolvePassword(
      Source(PasswordSource::Kind::kCommand, std::string("printf '%s\\nline two\\n' '") + kSecret + "'; echo noise >&2"),
      "account work");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, kSecret);
  // No trailing newline; stdin is /dev/null (cat gets EOF at once).
  r = ResolvePassword(Source(PasswordSource::Kind::kCommand, "cat; printf pw"), "account work");
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "pw");
  // The environment is passed on.
  ScopedEnv env("MAILKEEP_TEST_PW", "from-env");
  r = ResolvePassword(Source(PasswordSource::Kind::kCommand, "echo \"$MAILKEEP_TEST_PW\""), "account work");
  EXPECT_EQ(r.value_or(""), "from-env");
}

TEST(ResolvePassword, CommandFailureGivesExitStatusAndStderrNeverStdout) {
  Error e = ResolveError(Source(PasswordSource::Kind::kCommand,
                                std::string("echo ") + kSecret + "; echo 'gpg: decryption failed' >&2; echo more >&2; exit 3"));
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(e.message(), "account work: password_command exited with status 3: gpg: decryption failed");

  e = ResolveError(Source(PasswordSource::Kind::kCommand, std::string("echo ") + kSecret + "; exit 1"));
  EXPECT_EQ(e.message(), "account work: password_command exited with status 1 (nothing on stderr)");

  e = ResolveError(Source(PasswordSource::Kind::kCommand, "exit 127"));
  EXPECT_EQ(e.message(), "account work: password_command exited with status 127 (nothing on stderr)");
}

TEST(ResolvePassword, CommandStderrRepeatingTheSecretIsMasked) {
  Error e = ResolveError(Source(PasswordSource::Kind::kCommand,
                                std::string("echo ") + kSecret + "; echo \"bad: " + kSecret + "\" >&2; exit 2"));
  EXPECT_EQ(e.message(), "account work: password_command exited with status 2: bad: ***");
}

TEST(ResolvePassword, CommandEmptyOutput) {
  Error e = ResolveError(Source(PasswordSource::Kind::kCommand, "true"));
  EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(e.message(), "account work: password_command printed no password (exit status 0) (nothing on stderr)");
  e = ResolveError(Source(PasswordSource::Kind::kCommand, "echo; echo 'no entry for work' >&2"));
  EXPECT_EQ(e.message(), "account work: password_command printed no password (exit status 0): no entry for work");
}

TEST(ResolvePassword, CommandKilledBySignal) {
  Error e = ResolveError(Source(PasswordSource::Kind::kCommand, "echo partial; kill -TERM $$"));
  EXPECT_EQ(e.message(), "account work: password_command was killed by signal 15 (nothing on stderr)");
}

TEST(ResolvePassword, CommandTimesOut) {
  ResolveOptions options;
  options.command_timeout_seconds = 1;
  auto start = std::chrono::steady_clock::now();
  Error e = ResolveError(Source(PasswordSource::Kind::kCommand, "echo waiting >&2; exec sleep 30"), options);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
  EXPECT_EQ(e.message(), "account work: password_command timed out after 1 s and was killed: waiting");
  EXPECT_LT(took, std::chrono::seconds(10));
}

TEST(ResolvePassword, CommandLeavingABackgroundProcessDoesNotWaitForIt) {
  // The background sleep keeps stdout and stderr open after the shell exits.
  auto start = std::chrono::steady_clock::now();
  auto r = ResolvePassword(Source(PasswordSource::Kind::kCommand, "sleep 3 & echo pw"), "account work");
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(*r, "pw");
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

TEST(ResolvePassword, CommandGetsDefaultSigpipeEvenIfTheCallerIgnoresIt) {
  struct sigaction old {};
  struct sigaction ign {};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ign, &old), 0);
  // The shell reports its own ignored-signal mask.
  auto r = ResolvePassword(Source(PasswordSource::Kind::kCommand, "awk '/^SigIgn:/ {print $2}' /proc/$$/status"),
                           "account work");
  ::sigaction(SIGPIPE, &old, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  uint64_t ignored = std::stoull(*r, nullptr, 16);
  EXPECT_EQ(ignored & (uint64_t{1} << (SIGPIPE - 1)), 0u) << *r;
}

// ---------------------------------------------------------------------------
// [serve]: how `mailkeep serve` listens and who may log in.

// A hash string as serve-password writes it (32 MiB); parsing runs no KDF.
constexpr std::string_view kHash =
    "$scrypt$ln=15,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

// The serve files of a test: a certificate (0644), a key and a token file (0600).
struct ServeFiles {
  TempDir dir;
  std::string cert = dir.Write("cert.pem", "-----BEGIN CERTIFICATE-----\n", 0644);
  std::string key = dir.Write("key.pem", "-----BEGIN PRIVATE KEY-----\n", 0600);
  std::string tokens = dir.Write("tokens", "# CI\nci:sha256:" + std::string(64, 'a') + "\n\nbot:sha256:" +
                                               std::string(64, 'B') + "\n", 0600);
  std::string Tls() const { return "tls_certificate = " + cert + "\ntls_key = " + key + "\n"; }
};

TEST(Serve, NoSectionMeansLoopbackWithoutLogin) {
  Config c = MustParse(kMinimal);
  EXPECT_EQ(c.serve.where.line, 0);
  EXPECT_FALSE(c.serve.listen);
  EXPECT_FALSE(c.serve.tls());
  EXPECT_FALSE(c.serve.authenticates());
}

TEST(Serve, EveryKey) {
  ServeFiles f;
  Config c = MustParse(std::string(kMinimal) + "[serve]\nlisten = 0.0.0.0:8443\n" + f.Tls() + "user = alice:" +
                       std::string(kHash) + "\nuser = bob@example.com:" + std::string(kHash) +
                       "\ntoken_file = " + f.tokens + "\n");
  const ServeConfig& s = c.serve;
  EXPECT_EQ(s.where.line, 6);
  ASSERT_TRUE(s.listen);
  EXPECT_EQ(s.listen->host, "0.0.0.0");
  EXPECT_EQ(s.listen->port, 8443);
  EXPECT_EQ(s.tls_certificate, f.cert);
  EXPECT_EQ(s.tls_key, f.key);
  ASSERT_EQ(s.users.size(), 2u);
  EXPECT_EQ(s.users[0].name, "alice");
  EXPECT_EQ(s.users[0].line, 10);
  EXPECT_EQ(s.users[0].hash.cost.log2_n, 15);
  EXPECT_EQ(s.users[0].hash.salt, "saltsaltsaltsalt");
  EXPECT_EQ(s.users[1].name, "bob@example.com");
  EXPECT_EQ(s.token_file, f.tokens);
  ASSERT_EQ(s.tokens.size(), 2u);
  EXPECT_EQ(s.tokens[0].name, "ci");
  EXPECT_EQ(s.tokens[0].line, 2);
  EXPECT_EQ(s.tokens[0].sha256[0], 0xaa);
  EXPECT_EQ(s.tokens[1].name, "bot");
  EXPECT_EQ(s.tokens[1].sha256[31], 0xbb);
  EXPECT_TRUE(s.tls());
  EXPECT_TRUE(s.authenticates());
}

TEST(Serve, BadListen) {
  for (std::string_view v : {"8025", "localhost", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:", ":8025",
                             "::1:8025", "[::1]", "[nonsense]:80", "999.1.2.3:80", "host name:80", "a/b:80",
                             "127.0.0.1:80x", "127.0.0.1:+80"}) {
    EXPECT_EQ(ErrorOf("[serve]\nlisten = " + std::string(v) + "\n"),
              "config.ini:2: bad value '" + std::string(v) +
                  "' for 'listen' (HOST:PORT or [IPv6]:PORT, port 1..65535)");
  }
  Config c = MustParse("[serve]\nlisten = [::1]:8025\n");
  ASSERT_TRUE(c.serve.listen);
  EXPECT_EQ(c.serve.listen->host, "::1");
  EXPECT_EQ(MustParse("[serve]\nlisten = localhost:1\n").serve.listen->port, 1);
}

// The one listen-address parser, for [serve] listen and serve --listen
// (web::CheckOptions): hosts, [IPv6]:PORT, loopback, ports, localhost.
TEST(ParseListenAddress, HostsPortsAndLoopback) {
  struct Case {
    std::string_view text, host;
    uint16_t port;
    bool loopback;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"127.0.0.1:8025", "127.0.0.1", 8025, true},
           {"127.1.2.3:1", "127.1.2.3", 1, true},
           {"[::1]:8025", "::1", 8025, true},
           {"[::ffff:127.0.0.1]:80", "::ffff:127.0.0.1", 80, true},
           {"localhost:8025", "127.0.0.1", 8025, true},  // never resolved: always IPv4 loopback
           {"LocalHost:1", "127.0.0.1", 1, true},
           {"0.0.0.0:8025", "0.0.0.0", 8025, false},
           {"[::]:80", "::", 80, false},
           {"192.168.1.5:8025", "192.168.1.5", 8025, false},
           {"[2001:db8::1]:443", "2001:db8::1", 443, false},
           {"archive.example.com:443", "archive.example.com", 443, false},
           {"localhost.example.com:1", "localhost.example.com", 1, false},
           {"127.0.0.1:65535", "127.0.0.1", 65535, true},
       }) {
    auto a = ParseListenAddress(c.text);
    ASSERT_TRUE(a) << c.text << ": " << a.error().message();
    EXPECT_EQ(a->host, c.host) << c.text;
    EXPECT_EQ(a->port, c.port) << c.text;
    EXPECT_EQ(IsLoopback(*a), c.loopback) << c.text;
  }
  for (std::string_view bad : {"8025", "localhost", "127.0.0.1", "127.0.0.1:", ":8025", "127.0.0.1:65536",
                               "127.0.0.1:123456", "127.0.0.1:99999999999999999999", "127.0.0.1:x", "127.0.0.1:80x",
                               "127.0.0.1:+80", "127.0.0.1:-1", "::1:8025", "[::1]", "[nonsense]:80", "[]:80",
                               "999.1.2.3:80", "127.1:80", "host name:80", "a/b:80", "[::1]x:80"}) {
    auto r = ParseListenAddress(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().message(),
              "bad listen address '" + std::string(bad) + "' (HOST:PORT or [IPv6]:PORT, port 1..65535)");
  }
  // Port 0 (any free one) only where the caller allows it (serve --listen).
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:0"));
  auto any = ParseListenAddress("127.0.0.1:0", AnyPort::kAllowed);
  ASSERT_TRUE(any);
  EXPECT_EQ(any->port, 0);
  EXPECT_EQ(ParseListenAddress("localhost:0", AnyPort::kAllowed)->host, "127.0.0.1");
  EXPECT_EQ(ParseListenAddress("127.0.0.1:65536", AnyPort::kAllowed).error().message(),
            "bad listen address '127.0.0.1:65536' (HOST:PORT or [IPv6]:PORT, port 0..65535; 0 = any free one)");
}

TEST(Serve, ListeningBeyondLoopbackNeedsTlsAndLogin) {
  ServeFiles f;
  EXPECT_EQ(ErrorOf("[serve]\nlisten = 0.0.0.0:8025\n"),
            "config.ini:2: listening on 0.0.0.0:8025 (beyond this machine) needs tls_certificate and tls_key in [serve]");
  EXPECT_EQ(ErrorOf("[serve]\n" + f.Tls() + "listen = [2001:db8::1]:443\n"),
            "config.ini:4: listening on [2001:db8::1]:443 (beyond this machine) needs 'user = NAME:HASH' "
            "(from mailkeep serve-password NAME) or 'token_file' in [serve]");
  EXPECT_EQ(ErrorOf("[serve]\nlisten = archive.example.com:443\n" + f.Tls()),
            "config.ini:2: listening on archive.example.com:443 (beyond this machine) needs "
            "'user = NAME:HASH' (from mailkeep serve-password NAME) or 'token_file' in [serve]");
  MustParse("[serve]\nlisten = 0.0.0.0:8025\n" + f.Tls() + "user = a:" + std::string(kHash) + "\n");
  MustParse("[serve]\nlisten = 0.0.0.0:8025\n" + f.Tls() + "token_file = " + f.tokens + "\n");
  // Loopback needs neither.
  for (std::string_view v : {"127.0.0.1:8025", "127.1.2.3:80", "[::1]:8025", "localhost:8025", "LocalHost:8025",
                             "[::ffff:127.0.0.1]:80"}) {
    MustParse("[serve]\nlisten = " + std::string(v) + "\n");
  }
  // The same check for serve --listen.
  ServeConfig none;
  EXPECT_TRUE(CheckServeSecurity(none, {"127.0.0.1", 8025}));
  EXPECT_FALSE(CheckServeSecurity(none, {"192.168.1.2", 8025}));
  EXPECT_FALSE(CheckServeSecurity(none, {"::", 8025}));
  EXPECT_FALSE(IsLoopback({"128.0.0.1", 1}));
  EXPECT_FALSE(IsLoopback({"localhost.example.com", 1}));
}

TEST(Serve, HeaderTimeout) {
  EXPECT_FALSE(MustParse("[serve]\nlisten = 127.0.0.1:8025\n").serve.header_timeout_seconds);
  EXPECT_EQ(MustParse("[serve]\nheader_timeout = 12\n").serve.header_timeout_seconds, 12);
  for (std::string_view bad : {"0", "-1", "86401", "5s", ""}) {
    EXPECT_NE(ErrorOf("[serve]\nheader_timeout = " + std::string(bad) + "\n").find("config.ini:2:"), std::string::npos)
        << bad;
  }
}

TEST(Serve, TlsFiles) {
  ServeFiles f;
  EXPECT_EQ(ErrorOf("[serve]\ntls_certificate = " + f.cert + "\n"),
            "config.ini:2: 'tls_certificate' needs 'tls_key' in [serve]");
  EXPECT_EQ(ErrorOf("[serve]\n\ntls_key = " + f.key + "\n"), "config.ini:3: 'tls_key' needs 'tls_certificate' in [serve]");
  const std::string missing = f.dir.path() + "/missing.pem";
  EXPECT_EQ(ErrorOf("[serve]\ntls_certificate = " + f.cert + "\ntls_key = " + missing + "\n"),
            "config.ini:3: tls_key " + missing + ": No such file or directory");
  EXPECT_EQ(ErrorOf("[serve]\ntls_certificate = " + missing + "\n"),
            "config.ini:2: cannot use 'tls_certificate' " + missing + ": No such file or directory");
  ASSERT_EQ(::chmod(f.key.c_str(), 0640), 0);
  EXPECT_EQ(ErrorOf("[serve]\n" + f.Tls()), "config.ini:3: tls_key " + f.key +
                                                " is readable by its group (mode 0640); run: chmod 600 " + f.key);
  ASSERT_EQ(::chmod(f.key.c_str(), 0400), 0);
  MustParse("[serve]\n" + f.Tls());
  EXPECT_EQ(ErrorOf("[serve]\ntls_certificate = " + f.cert + "\ntls_key = " + f.dir.path() + "\n"),
            "config.ini:3: tls_key " + f.dir.path() + " is not a regular file");
  // Relative to the config file's directory.
  Config c = MustParse("[serve]\ntls_certificate = cert.pem\ntls_key = key.pem\n", f.dir.path() + "/c.ini");
  EXPECT_EQ(c.serve.tls_key, f.key);
}

TEST(Serve, Users) {
  const std::string hash(kHash);
  EXPECT_EQ(ErrorOf("[serve]\nuser = a:" + hash + "\nuser = b:" + hash + "\nuser = a:" + hash + "\n"),
            "config.ini:4: duplicate user 'a' in [serve] (first on line 2)");
  const std::string shape =
      "'user' in [serve] is NAME:HASH (NAME: letters, digits, '.', '_', '@', '+' and '-', at most 64); "
      "mailkeep serve-password NAME prints the line";
  EXPECT_EQ(ErrorOf("[serve]\nuser = alice\n"), "config.ini:2: " + shape);
  EXPECT_EQ(ErrorOf("[serve]\nuser = :" + hash + "\n"), "config.ini:2: " + shape);
  EXPECT_EQ(ErrorOf("[serve]\nuser = a b:" + hash + "\n"), "config.ini:2: " + shape);
  EXPECT_EQ(ErrorOf("[serve]\nuser = " + std::string(65, 'a') + ":" + hash + "\n"), "config.ini:2: " + shape);
  // A password where the hash belongs is refused without being quoted.
  std::string e = ErrorOf("[serve]\nuser = alice:hunter2\n");
  EXPECT_EQ(e, "config.ini:2: the hash of user 'alice' in [serve]: not a $scrypt$ln=N,r=R,p=P$SALT$HASH string; "
               "mailkeep serve-password alice makes a new one");
  // A cheap hash (1 MiB) is refused when the file is read.
  e = ErrorOf("[serve]\nuser = alice:$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA\n");
  EXPECT_TRUE(Contains(e, "config.ini:2: the hash of user 'alice' in [serve]: its cost is out of bounds (memory 1 MiB"))
      << e;
  EXPECT_EQ(ErrorOf("[serve]\npassword = x\n"),
            "config.ini:2: unknown key 'password' in [serve] (give each user a hash: user = NAME:HASH, from "
            "mailkeep serve-password NAME)");
}

TEST(Serve, TokenFile) {
  ServeFiles f;
  ASSERT_EQ(::chmod(f.tokens.c_str(), 0604), 0);
  EXPECT_EQ(ErrorOf("[serve]\ntoken_file = " + f.tokens + "\n"),
            "config.ini:2: token_file " + f.tokens + " is readable by others (mode 0604); run: chmod 600 " + f.tokens);
  const std::string missing = f.dir.path() + "/none";
  EXPECT_EQ(ErrorOf("[serve]\ntoken_file = " + missing + "\n"),
            "config.ini:2: token_file " + missing +
                " does not exist (mailkeep serve-password --token --token-file FILE NAME creates it)");
  const std::string bad = f.dir.path() + "/bad";
  for (std::string line : {std::string("rawtoken"), std::string("ci:sha256:abc"), "ci:sha1:" + std::string(64, 'a'),
                                ":sha256:" + std::string(64, 'a'), "c i:sha256:" + std::string(64, 'a')}) {
    f.dir.Write("bad", "ci:sha256:" + std::string(64, '0') + "\n" + std::string(line) + "\n", 0600);
    EXPECT_EQ(ErrorOf("[serve]\ntoken_file = " + bad + "\n"),
              "config.ini:2: token_file " + bad +
                  ":2: expected NAME:sha256:HEX (mailkeep serve-password --token NAME adds one)")
        << line;
  }
  f.dir.Write("empty", "", 0600);
  Config c = MustParse("[serve]\ntoken_file = " + f.dir.path() + "/empty\n");
  EXPECT_TRUE(c.serve.tokens.empty());
  EXPECT_TRUE(c.serve.authenticates());  // a token file, even empty, means every request must log in
  f.dir.Write("big", std::string(70 * 1024, '#'), 0600);
  EXPECT_EQ(ErrorOf("[serve]\ntoken_file = " + f.dir.path() + "/big\n"),
            "config.ini:2: token_file " + f.dir.path() + "/big is larger than 64 KiB");
}

TEST(Serve, SectionRules) {
  EXPECT_EQ(ErrorOf("[serve.web]\n"), "config.ini:1: section [serve.web]: [serve] takes no name");
  EXPECT_EQ(ErrorOf("[serve]\n[serve]\n"), "config.ini:2: duplicate section [serve] (first on line 1)");
  EXPECT_EQ(ErrorOf("[serve]\nlisten = 127.0.0.1:1\nlisten = 127.0.0.1:2\n"),
            "config.ini:3: duplicate key 'listen' in [serve] (first on line 2)");
  EXPECT_EQ(ErrorOf("listen = 127.0.0.1:8025\n"),
            "config.ini:1: key 'listen' outside of a section (put it under [serve])");
  EXPECT_EQ(ErrorOf("[serve]\nhost = h\n"), "config.ini:2: unknown key 'host' in [serve]");
  EXPECT_EQ(ErrorOf("[serve]\narchive = /a\n"),
            "config.ini:2: unknown key 'archive' in [serve] (top-level keys go before the first section)");
  // Sections after [serve] are still read.
  Config c = MustParse("[serve]\nlisten = 127.0.0.1:9000\n" + std::string(kMinimal));
  EXPECT_EQ(c.accounts.size(), 1u);
  EXPECT_EQ(c.serve.listen->port, 9000);
}

}  // namespace
}  // namespace mailkeep::config
