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

// --- A new session when one is used up (issue 12 item 7) ---

// Archives `n` small messages ("Subject: m1" ...) besides the fixture's;
// returns their ids in order.
std::vector<int64_t> IngestNumbered(Archive& archive, int n) {
  std::vector<RawMessage> batch;
  for (int i = 1; i <= n; ++i) {
    RawMessage m;
    m.bytes = "From: alice@example.test\r\nSubject: m" + std::to_string(i) + "\r\n\r\nhello\r\n";
    m.origin = {"eml", "local", "/numbered", std::to_string(i), 0, "", {}};
    batch.push_back(std::move(m));
  }
  std::vector<int64_t> ids;
  auto out = archive.Ingest(std::move(batch));
  if (out) {
    for (const auto& o : *out) ids.push_back(o.id);
  }
  return ids;
}

// One lock-step transaction of message "m<i>" to bob, ended with `end`.
void AddTransaction(std::vector<FakeStep>& s, int i, const FakeStep& end) {
  for (const FakeStep& step : std::vector<FakeStep>{{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                                     {"RCPT TO:<bob@example.test>", "250 ok\r\n"},
                                                     {"DATA", "354 go\r\n"},
                                                     {"From: alice@example.test", ""},
                                                     {"Subject: m" + std::to_string(i), ""},
                                                     {"*", ""},
                                                     {"hello", ""},
                                                     end}) {
    s.push_back(step);
  }
}

// A server that takes `limit` messages per session and answers the next
// MAIL with `refusal` (OpenSMTPD: 452 after 100), for `total` messages; the
// client is expected to QUIT the used-up session and connect again.
std::vector<std::vector<FakeStep>> PerSessionLimit(int total, int limit, const std::string& refusal) {
  std::vector<std::vector<FakeStep>> sessions;
  for (int first = 1; first <= total; first += limit) {
    std::vector<FakeStep> s = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
    for (int i = first; i < first + limit && i <= total; ++i) AddTransaction(s, i, {".", "250 queued\r\n"});
    if (first + limit <= total) s.push_back({"MAIL FROM:<alice@example.test>", refusal});
    s.push_back({"QUIT", "221 bye\r\n"});
    sessions.push_back(std::move(s));
  }
  return sessions;
}

// OpenSMTPD's per-session limit: ten messages, three per session, all
// accepted in one run over four sessions; each recorded once, accepted.
TEST_F(ResenderTest, UsedUpSessionIsReplacedAndTheRunGoesOn) {
  std::vector<int64_t> ids = IngestNumbered(*archive_, 10);
  ASSERT_EQ(ids.size(), 10u);
  FakeServer server;
  server.ServeSessions(PerSessionLimit(10, 3, "452 4.5.3 Too many recipients: Too many messages sent\r\n"));
  {
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    for (int64_t id : ids) {
      auto report = resender.Send(id);
      ASSERT_TRUE(report && *report);
      ASSERT_EQ((*report)->recipients.size(), 1u);
      EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kAccepted) << (*report)->recipients[0].reply;
    }
  }
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 4);
  for (int64_t id : ids) {
    auto intents = *archive_->Intents(IntentKind::kSend, id);
    ASSERT_EQ(intents.size(), 1u) << "message " << id;
    EXPECT_EQ(intents[0].outcome, SendOutcome::kAccepted);
  }
}

// The same limit shown as 4xx to every RCPT instead of to MAIL.
TEST_F(ResenderTest, RecipientsRefusedForTheSessionGoOnANewOne) {
  std::vector<int64_t> ids = IngestNumbered(*archive_, 2);
  ASSERT_EQ(ids.size(), 2u);
  std::vector<FakeStep> first = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
  AddTransaction(first, 1, {".", "250 queued\r\n"});
  for (const FakeStep& step : std::vector<FakeStep>{{"MAIL FROM:<alice@example.test>", "250 ok\r\n"},
                                                    {"RCPT TO:<bob@example.test>", "451 4.7.1 session limit\r\n"},
                                                    {"RSET", "250 ok\r\n"},
                                                    {"QUIT", "221 bye\r\n"}}) {
    first.push_back(step);
  }
  std::vector<FakeStep> second = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
  AddTransaction(second, 2, {".", "250 queued\r\n"});
  second.push_back({"QUIT", "221 bye\r\n"});
  FakeServer server;
  server.ServeSessions({first, second});
  {
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    for (int64_t id : ids) {
      auto report = resender.Send(id);
      ASSERT_TRUE(report && *report);
      EXPECT_EQ((*report)->recipients[0].outcome, SendOutcome::kAccepted) << (*report)->recipients[0].reply;
    }
  }
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
}

// A fresh session that refuses too: deferred, with the fresh session's
// reply, after one new session (not one per attempt), and the next message
// is not given another.
TEST_F(ResenderTest, RefusalOfAFreshSessionDefers) {
  std::vector<int64_t> ids = IngestNumbered(*archive_, 3);
  ASSERT_EQ(ids.size(), 3u);
  const std::string refusal = "452 4.3.2 Too much mail from 127.0.0.1\r\n";
  std::vector<FakeStep> first = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
  AddTransaction(first, 1, {".", "250 queued\r\n"});
  first.push_back({"MAIL FROM:<alice@example.test>", refusal});
  first.push_back({"QUIT", "221 bye\r\n"});
  std::vector<FakeStep> second = {{"", "220 mx.test ESMTP\r\n"},
                                  {"EHLO client.test", "250 mx.test\r\n"},
                                  {"MAIL FROM:<alice@example.test>", refusal},
                                  {"MAIL FROM:<alice@example.test>", refusal},
                                  {"QUIT", "221 bye\r\n"}};
  FakeServer server;
  server.ServeSessions({first, second});
  std::vector<SendOutcome> outcomes;
  std::string reply;
  {
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    for (int64_t id : ids) {
      auto report = resender.Send(id);
      ASSERT_TRUE(report && *report);
      outcomes.push_back((*report)->recipients[0].outcome);
      reply = (*report)->recipients[0].reply;
    }
  }
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  EXPECT_EQ(outcomes,
            (std::vector<SendOutcome>{SendOutcome::kAccepted, SendOutcome::kDeferred, SendOutcome::kDeferred}));
  EXPECT_NE(reply.find("452 4.3.2"), std::string::npos) << reply;
}

// The server hangs up after the whole of message 2 without answering its
// end of data: unknown, and not sent again on the new session that carries
// message 3 (the server may have it).
TEST_F(ResenderTest, NoReplyToTheEndOfDataStaysUnknownAcrossANewSession) {
  std::vector<int64_t> ids = IngestNumbered(*archive_, 3);
  ASSERT_EQ(ids.size(), 3u);
  std::vector<FakeStep> first = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
  AddTransaction(first, 1, {".", "250 queued\r\n"});
  AddTransaction(first, 2, {".", "", 0, true});
  std::vector<FakeStep> second = {{"", "220 mx.test ESMTP\r\n"}, {"EHLO client.test", "250 mx.test\r\n"}};
  AddTransaction(second, 3, {".", "250 queued\r\n"});
  second.push_back({"QUIT", "221 bye\r\n"});
  FakeServer server;
  server.ServeSessions({first, second});
  std::vector<SendOutcome> outcomes;
  {
    Resender resender(*archive_, Relayed(server, {"bob@example.test"}), Collect());
    for (int64_t id : ids) {
      auto report = resender.Send(id);
      ASSERT_TRUE(report && *report);
      outcomes.push_back((*report)->recipients[0].outcome);
    }
  }
  EXPECT_EQ(server.Finish(), "");
  EXPECT_EQ(server.sessions(), 2);
  EXPECT_EQ(outcomes,
            (std::vector<SendOutcome>{SendOutcome::kAccepted, SendOutcome::kUnknown, SendOutcome::kAccepted}));
  auto unknown = *archive_->UnknownIntents(IntentKind::kSend);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].message, ids[1]);
}

}  // namespace
}  // namespace mailkeep::resend
