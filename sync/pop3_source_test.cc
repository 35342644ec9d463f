// The sync engine over Pop3Source against a scripted POP3 server: what is
// deleted on the wire. The server here lists one UIDL twice, which no real
// server does on purpose (tests/sync/pop3_sync.sh covers a real Dovecot).
#include "sync/pop3_source.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "sync/engine.h"
#include "sync/testing/archive_fixture.h"
#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::sync {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kFirst = "From: a@example.org\r\nSubject: first\r\nMessage-ID: <first@example.org>\r\n\r\none\r\n";
const std::string kSecond =
    "From: b@example.org\r\nSubject: second\r\nMessage-ID: <second@example.org>\r\n\r\nanother one\r\n";

pop3::Pop3Options Opts(uint16_t port) { return mailkeep::testing::FakePop3(port); }

std::vector<FakeStep> Login() {
  return {{"", "+OK POP3 ready\r\n"},
          {"CAPA", "+OK\r\nUIDL\r\nUSER\r\n.\r\n"},
          {"USER alice", "+OK\r\n"},
          {"PASS pw", "+OK logged in\r\n"}};
}

FakeStep Retr(int n, const std::string& bytes) { return {"RETR " + std::to_string(n), "+OK\r\n" + bytes + ".\r\n"}; }

class Pop3SourceTest : public mailkeep::testing::ArchiveTest {
 protected:
  // One sync against `script`; returns the report, with the server's
  // deviation from the script (if any) as the last problem.
  AccountReport Run(std::vector<FakeStep> script, DeletePolicy::Kind policy, std::vector<std::string>* sent) {
    FakeServer server;
    server.Serve(std::move(script));
    Pop3Source source("acct", Opts(server.port()));
    ArchiveGate gate(*archive_);
    SyncSettings settings;
    settings.delete_policy.kind = policy;
    AccountReport r = SyncAccount("acct", source, gate, settings);
    std::string deviation = server.Finish();
    if (!deviation.empty()) r.problems.push_back("server: " + deviation);
    *sent = server.received();
    return r;
  }
};

// Issue 11.1: first run one message; then the server lists a second
// message under the same UIDL. Neither is deleted (no DELE on the wire),
// the second is archived, and there is one warning naming the UIDL.
TEST_F(Pop3SourceTest, UidlListedTwiceIsNeverDeleted) {
  std::vector<std::string> sent;
  auto first = Run(
      [] {
        auto s = Login();
        s.push_back({"UIDL", "+OK\r\n1 uid-a\r\n.\r\n"});
        s.push_back({"LIST", "+OK\r\n1 " + std::to_string(kFirst.size()) + "\r\n.\r\n"});
        s.push_back(Retr(1, kFirst));
        s.push_back({"QUIT", "+OK bye\r\n", 0, true});
        return s;
      }(),
      DeletePolicy::Kind::kNever, &sent);
  ASSERT_TRUE(first.ok) << first.problems.front();
  ASSERT_EQ(first.fetched, 1);

  auto second = Run(
      [] {
        auto s = Login();
        s.push_back({"UIDL", "+OK\r\n1 uid-a\r\n2 uid-a\r\n.\r\n"});
        s.push_back({"LIST", "+OK\r\n1 " + std::to_string(kFirst.size()) + "\r\n2 " +
                                 std::to_string(kSecond.size()) + "\r\n.\r\n"});
        s.push_back(Retr(1, kFirst));
        s.push_back(Retr(2, kSecond));
        s.push_back({"QUIT", "+OK bye\r\n", 0, true});
        return s;
      }(),
      DeletePolicy::Kind::kAfterDownload, &sent);
  EXPECT_TRUE(std::none_of(sent.begin(), sent.end(), [](const std::string& l) { return l.starts_with("DELE"); }))
      << "the server was told to delete";
  EXPECT_TRUE(second.ok);
  EXPECT_EQ(second.deleted, 0);
  EXPECT_EQ(second.fetched, 1);
  EXPECT_EQ(archive_->FindByMessageId("second@example.org")->size(), 1u);
  ASSERT_EQ(second.problems.size(), 1u) << second.problems.back();
  EXPECT_NE(second.problems[0].find("uid-a"), std::string::npos) << second.problems[0];
}

}  // namespace
}  // namespace mailkeep::sync
