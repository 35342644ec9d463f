// Resender against the scripted fake SMTP server: the intents journal
// around the end of data, --skip-sent and --retry-unknown. Real receivers
// (aiosmtpd, Postfix) are in tests/resend/*.sh and tests/crash/kill_resend.sh.
#include "sync/resend/resender.h"

#include <gtest/gtest.h>

#include "sync/testing/archive_fixture.h"
#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::resend {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

const std::string kMessage = "From: alice@example.test\r\nSubject: hi\r\n\r\nhello\r\n";

class ResenderTest : public mailkeep::testing::ArchiveTest {
 protected:
  void SetUp() override {
    ArchiveTest::SetUp();
    if (!HasFatalFailure()) id_ = IngestOne(kMessage);
  }

  Options Relayed(const FakeServer& server, std::vector<std::string> to) {
    Options o;
    o.to = std::move(to);
    o.smtp.hello_name = "client.test";
    Relay relay;
    relay.name = "test";
    relay.connect = mailkeep::testing::FakeConnect(server.port());
    o.relay = relay;
    return o;
  }

  // One transaction to each of `rcpts` (replies given), then QUIT.
  static std::vector<FakeStep> Script(const std::vector<std::pair<std::string, std::string>>& rcpts,
                                      const FakeStep& end_of_data) {
    std::vector<FakeStep> s = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"},
                               {"MAIL FROM:<alice@example.test>", "250 ok\r\n"}};
    for (const auto& [address, reply] : rcpts) s.push_back({"RCPT TO:<" + address + ">", reply});
    for (FakeStep step : std::vector<FakeStep>{{"DATA", "354 go\r\n"}, {"From: alice@example.test", ""},
                                               {"Subject: hi", ""}, {"*", ""}, {"hello", ""}, end_of_data,
                                               {"QUIT", "221 bye\r\n"}}) {
      s.push_back(step);
    }
    return s;
  }

  std::vector<std::string> warnings_;
  Warn Collect() {
    return [this](const std::string& w) { warnings_.push_back(w); };
  }

  int64_t id_ = 0;
};

// The intent is on disk (visible to another reader of the archive) while
// the server still holds the end of data: a kill at any moment after the
// server's answer finds it.
TEST_F(ResenderTest, IntentIsCommittedBeforeTheEndOfData) {
  FakeServer server;
  server.Serve(Script({{"bob@example.test", "250 ok\r\n"}}, {".", "250 queued\r\n", 700}));
  mailkeep::testing::IntentWatcher watcher(root_ + "/archive", IntentKind::kSend,
                                           [](const Intent& i) { return i.target == "bob@example.test"; });
  {
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    auto report = resender.Send(id_);
    ASSERT_TRUE(report) << report.error().message();
    ASSERT_TRUE(*report);
    EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kAccepted);
  }
  EXPECT_TRUE(watcher.Seen());
  EXPECT_EQ(server.Finish(), "");
  auto intents = *archive_->Intents(IntentKind::kSend, id_);
  ASSERT_EQ(intents.size(), 1u);
  EXPECT_EQ(intents[0].outcome, SendOutcome::kAccepted);
  EXPECT_EQ(intents[0].via, "relay test");
  EXPECT_EQ(intents[0].reply, "250 queued");
}

// No answer to the end of data: unknown. --skip-sent leaves it out with one
// warning (and makes no connection); --retry-unknown sends it again.
TEST_F(ResenderTest, UnknownIsSkippedWithAWarningUnlessRetried) {
  {
    FakeServer server;
    auto script = Script({{"bob@example.test", "250 ok\r\n"}}, {".", "", 0, true});
    script.pop_back();  // no QUIT: the server hung up
    server.Serve(script);
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    auto report = resender.Send(id_);
    ASSERT_TRUE(report && *report);
    EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kUnknown);
    server.Finish();
  }
  ASSERT_EQ(archive_->UnknownIntents(IntentKind::kSend)->size(), 1u);
  {
    FakeServer unused;  // never connected to
    Options o = Relayed(unused, {"bob@example.test"});
    o.skip_sent = true;
    Resender resender(*archive_, o, Collect());
    auto report = resender.Send(id_);
    ASSERT_TRUE(report && *report);
    EXPECT_TRUE((*report)->recipients[0].skipped);
    EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kUnknown);
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_NE(warnings_[0].find("--retry-unknown"), std::string::npos) << warnings_[0];
  }
  {
    FakeServer server;
    server.Serve(Script({{"bob@example.test", "250 ok\r\n"}}, {".", "250 queued\r\n"}));
    Options o = Relayed(server, {"bob@example.test"});
    o.skip_sent = true;
    o.retry_unknown = true;
    Resender resender(*archive_, o, Collect());
    auto report = resender.Send(id_);
    ASSERT_TRUE(report && *report);
    EXPECT_FALSE((*report)->recipients[0].skipped);
    EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kAccepted);
  }
  // The unknown attempt stays in the log as it was; the accepted one wins.
  EXPECT_EQ(archive_->UnknownIntents(IntentKind::kSend)->size(), 1u);
  auto intents = *archive_->Intents(IntentKind::kSend, id_);
  ASSERT_EQ(intents.size(), 2u);
  EXPECT_EQ(intents[1].outcome, SendOutcome::kAccepted);
}

// Accepted recipients are skipped with --skip-sent; one refused at RCPT is
// logged with its outcome (no intent was needed: no end of data for it) and
// sent again.
TEST_F(ResenderTest, SkipSentLeavesOutAcceptedAndRetriesRefused) {
  FakeServer first;
  {
    FakeServer& server = first;
    server.Serve(Script({{"bob@example.test", "250 ok\r\n"}, {"carol@example.test", "450 4.2.1 later\r\n"}},
                        {".", "250 queued\r\n"}));
    Resender resender(*archive_, Relayed(server, {"bob@example.test", "carol@example.test"}), Collect());
    auto report = resender.Send(id_);
    ASSERT_TRUE(report && *report);
    EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kAccepted);
    EXPECT_EQ((*report)->recipients[1].outcome, SendOutcome::kDeferred);
  }
  EXPECT_EQ(first.Finish(), "");
  auto intents = *archive_->Intents(IntentKind::kSend, id_);
  ASSERT_EQ(intents.size(), 2u);
  EXPECT_TRUE(archive_->UnknownIntents(IntentKind::kSend)->empty());
  FakeServer server;
  server.Serve(Script({{"carol@example.test", "250 ok\r\n"}}, {".", "250 queued\r\n"}));
  Options o = Relayed(server, {"bob@example.test", "carol@example.test"});
  o.skip_sent = true;
  Resender resender(*archive_, o, Collect());
  auto report = resender.Send(id_);
  ASSERT_TRUE(report && *report);
  EXPECT_TRUE((*report)->recipients[0].skipped);
  EXPECT_EQ((*report)->recipients[1].outcome, SendOutcome::kAccepted);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(ResenderTest, UnknownMessageIsNullopt) {
  FakeServer unused;
  Resender resender(*archive_, Relayed(unused, {"bob@example.test"}), Collect());
  auto report = resender.Send(id_ + 100);
  ASSERT_TRUE(report);
  EXPECT_FALSE(*report);
}

}  // namespace
}  // namespace mailkeep::resend
