#include "sync/net/connection.h"

#include <gtest/gtest.h>

#include "tests/servers/fake_server.h"

namespace mailkeep::net {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

ConnectOptions Plain(uint16_t port) {
  ConnectOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.tls = TlsMode::kNone;
  o.connect_timeout = std::chrono::milliseconds(3000);
  o.read_timeout = std::chrono::milliseconds(3000);
  return o;
}

TEST(DefaultPort, StandardPorts) {
  EXPECT_EQ(DefaultPort(Service::kPop3, TlsMode::kImplicit), 995);
  EXPECT_EQ(DefaultPort(Service::kPop3, TlsMode::kStartTls), 110);
  EXPECT_EQ(DefaultPort(Service::kPop3, TlsMode::kNone), 110);
  EXPECT_EQ(DefaultPort(Service::kImap, TlsMode::kImplicit), 993);
  EXPECT_EQ(DefaultPort(Service::kImap, TlsMode::kStartTls), 143);
  EXPECT_EQ(DefaultPort(Service::kSmtpSubmission, TlsMode::kImplicit), 465);
  EXPECT_EQ(DefaultPort(Service::kSmtpSubmission, TlsMode::kStartTls), 587);
  EXPECT_EQ(DefaultPort(Service::kSmtpRelay, TlsMode::kStartTls), 25);
  EXPECT_EQ(DefaultPort(Service::kSmtpRelay, TlsMode::kNone), 25);
}

TEST(Connection, EmptyHostIsInvalid) {
  ConnectOptions o;
  auto c = Connection::Open(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
}

TEST(Connection, RefusedNamesHostAndPort) {
  uint16_t port;
  {
    FakeServer closed;  // a port that was free a moment ago and is closed now
    port = closed.port();
  }
  auto c = Connection::Open(Plain(port));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(), "connect to 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST(Connection, ReadsLinesAndExactBytes) {
  FakeServer server;
  server.Serve({{"", "first\r\nsecond\nthird\r\rX\r\n12345rest\r\n"}, {"hello", "ok\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  Connection& conn = **c;
  EXPECT_FALSE(conn.secure());
  EXPECT_EQ(conn.peer(), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(conn.ReadLine(100).value(), "first");
  EXPECT_EQ(conn.ReadLine(100).value(), "second");
  EXPECT_EQ(conn.ReadLine(100).value(), "third\r\rX");  // only the CRLF goes
  std::string bytes = "pre:";
  ASSERT_TRUE(conn.ReadExact(5, &bytes));
  EXPECT_EQ(bytes, "pre:12345");
  EXPECT_EQ(conn.ReadLine(100).value(), "rest");
  ASSERT_TRUE(conn.Write("hel"));
  ASSERT_TRUE(conn.Write("lo\r\n"));
  ASSERT_TRUE(conn.Flush());
  EXPECT_EQ(conn.ReadLine(100).value(), "ok");
  conn.Close();
  EXPECT_EQ(server.Finish(), "");
  EXPECT_FALSE(conn.ReadLine(100));
}

TEST(Connection, LineOverLimitIsAnError) {
  FakeServer server;
  server.Serve({{"", std::string(5000, 'x') + "\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  auto line = (*c)->ReadLine(4096);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(line.error().message().find("longer than 4096 bytes"), std::string::npos);
  EXPECT_TRUE((*c)->closed());
}

TEST(Connection, LineAtLimitIsFine) {
  FakeServer server;
  server.Serve({{"", std::string(4096, 'x') + "\r\n" + std::string(4096, 'y') + "\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)->ReadLine(4096).value(), std::string(4096, 'x'));
  EXPECT_EQ((*c)->ReadLine(4096).value(), std::string(4096, 'y'));
}

TEST(Connection, LongLinesAcrossManyReads) {
  std::string big(3 * 1024 * 1024 + 7, 'a');
  FakeServer server;
  server.Serve({{"", big + "\r\n" + big + "\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  EXPECT_EQ((*c)->ReadLine(4 << 20).value().size(), big.size());
  std::string exact;
  ASSERT_TRUE((*c)->ReadExact(big.size() + 2, &exact));
  EXPECT_EQ(exact, big + "\r\n");
}

TEST(Connection, ReadTimesOut) {
  FakeServer server;
  server.Serve({{"", "late\r\n", 1500}});
  ConnectOptions o = Plain(server.port());
  o.read_timeout = std::chrono::milliseconds(200);
  auto c = Connection::Open(o);
  ASSERT_TRUE(c);
  auto line = (*c)->ReadLine(100);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(line.error().message(),
            "read from 127.0.0.1:" + std::to_string(server.port()) + " timed out after 0.2 s");
}

TEST(Connection, ClosedMidLine) {
  FakeServer server;
  server.Serve({{"", "partial line", 0, true}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  auto line = (*c)->ReadLine(100);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(line.error().message().find("closed by the server"), std::string::npos);
  std::string out;
  EXPECT_FALSE((*c)->ReadExact(1, &out));
}

TEST(Connection, ImplicitTlsToAPlainServerFails) {
  FakeServer server;
  server.Serve({{"", "+OK plain text server\r\n", 0, false}});
  ConnectOptions o = Plain(server.port());
  o.tls = TlsMode::kImplicit;
  auto c = Connection::Open(o);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("TLS handshake with 127.0.0.1:"), std::string::npos)
      << c.error().message();
}

TEST(Connection, TlsHandshakeTimesOut) {
  FakeServer server;
  server.Serve({{"", "", 1500}});
  ConnectOptions o = Plain(server.port());
  o.tls = TlsMode::kImplicit;
  o.read_timeout = std::chrono::milliseconds(200);
  auto c = Connection::Open(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(c.error().message(),
            "TLS handshake with 127.0.0.1:" + std::to_string(server.port()) + " timed out after 0.2 s");
}

TEST(Connection, StartTlsRefusesDataSentBeforeTheHandshake) {
  // A man in the middle could inject replies after "go ahead" (CVE-2011-0411).
  FakeServer server;
  server.Serve({{"STLS", "+OK begin TLS\r\n+OK injected\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  ASSERT_TRUE((*c)->Write("STLS\r\n"));
  ASSERT_TRUE((*c)->Flush());
  // Read the first line only; wait until the injected one is buffered too.
  EXPECT_EQ((*c)->ReadLine(100).value(), "+OK begin TLS");
  auto s = (*c)->StartTls();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("sent data before the TLS handshake"), std::string::npos);
}

TEST(Connection, MissingCaFileIsAClearError) {
  FakeServer server;
  server.Serve({});
  ConnectOptions o = Plain(server.port());
  o.tls = TlsMode::kImplicit;
  o.ca_file = "/nonexistent/ca.pem";
  auto c = Connection::Open(o);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(c.error().message(), "TLS: ca_file /nonexistent/ca.pem: No such file or directory");
}

}  // namespace
}  // namespace mailkeep::net

namespace mailkeep::net {
namespace {

TEST(Connection, WritingToAClosedPeerIsAnErrorNotASignal) {
  FakeServer server;
  server.Serve({{"", "", 0, true}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  server.Finish();  // the server has hung up
  std::string big(1 << 20, 'x');
  Status s;
  for (int i = 0; i < 20 && s; ++i) {
    s = (*c)->Write(big);
    if (s) s = (*c)->Flush();
  }
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(s.error().message().find("127.0.0.1:"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace mailkeep::net
