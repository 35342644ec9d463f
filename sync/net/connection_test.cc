#include "sync/net/connection.h"

#include <zlib.h>

#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "sync/testing/fake_options.h"
#include "tests/servers/fake_server.h"

namespace mailkeep::net {
namespace {

using mailkeep::testing::FakeServer;
using mailkeep::testing::FakeStep;

ConnectOptions Plain(uint16_t port) { return mailkeep::testing::FakeConnect(port); }

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

// A reply that never ends stops at the command's byte budget, counted
// across reads.
TEST(CommandBudget, EndlessReplyStopsAtTheByteBudget) {
  FakeServer server;
  FakeStep endless{"", "* OK still here\r\n"};
  endless.repeat = 0;
  server.Serve({endless});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  (*c)->BeginCommand(1u << 20);
  size_t lines = 0;
  Result<std::string> line;
  while ((line = (*c)->ReadLine(100))) ++lines;
  EXPECT_EQ(line.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(line.error().message(), "reply from 127.0.0.1:" + std::to_string(server.port()) + " is over 1048576 bytes");
  EXPECT_GT(lines, 50000u);
  EXPECT_LT(lines, (1u << 20) / 17 + 1);
  EXPECT_TRUE((*c)->closed());
}

TEST(CommandBudget, EachCommandHasItsOwnBudget) {
  FakeServer server;
  server.Serve({{"", std::string(90, 'a') + "\r\n"}, {"next", std::string(90, 'b') + "\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  (*c)->BeginCommand(100);
  EXPECT_EQ((*c)->ReadLine(100).value(), std::string(90, 'a'));
  ASSERT_TRUE((*c)->Write("next\r\n"));
  ASSERT_TRUE((*c)->Flush());
  (*c)->BeginCommand(100);
  EXPECT_EQ((*c)->ReadLine(100).value(), std::string(90, 'b'));
}

// One byte every 300 ms never trips the 3 s read timeout; the deadline of
// the command as a whole ends it.
TEST(CommandBudget, DripIsEndedByTheCommandDeadline) {
  FakeServer server;
  FakeStep drip{"", "* OK this line comes very slowly\r\n"};
  drip.drip_ms = 300;
  server.Serve({drip});
  ConnectOptions o = Plain(server.port());
  o.command_deadline = std::chrono::milliseconds(1000);
  auto c = Connection::Open(o);
  ASSERT_TRUE(c);
  const auto start = std::chrono::steady_clock::now();
  (*c)->BeginCommand(UINT64_MAX);
  auto line = (*c)->ReadLine(1000);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(line.error().message(),
            "no complete reply from 127.0.0.1:" + std::to_string(server.port()) + " within 1 s (command_deadline)");
  EXPECT_GE(took, std::chrono::milliseconds(900));
  EXPECT_LT(took, std::chrono::milliseconds(1800));
}

// A silent server hits the deadline, not the longer read timeout.
TEST(CommandBudget, DeadlineShortensTheLastRead) {
  FakeServer server;
  server.Serve({{"", "late\r\n", 2500}});
  ConnectOptions o = Plain(server.port());
  o.command_deadline = std::chrono::milliseconds(500);
  auto c = Connection::Open(o);
  ASSERT_TRUE(c);
  const auto start = std::chrono::steady_clock::now();
  (*c)->BeginCommand(UINT64_MAX);
  auto line = (*c)->ReadLine(100);
  ASSERT_FALSE(line);
  EXPECT_NE(line.error().message().find("within 0.5 s (command_deadline)"), std::string::npos)
      << line.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
}

// A connection idle between commands past the deadline is left alone; a
// read of the expired command fails even when data is there.
TEST(CommandBudget, IdleBetweenCommandsIsFine) {
  FakeServer server;
  server.Serve({{"", "one\r\n"}, {"next", "two\r\nthree\r\n"}});
  ConnectOptions o = Plain(server.port());
  o.command_deadline = std::chrono::milliseconds(300);
  auto c = Connection::Open(o);
  ASSERT_TRUE(c);
  (*c)->BeginCommand(1000);
  EXPECT_EQ((*c)->ReadLine(100).value(), "one");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  ASSERT_TRUE((*c)->Write("next\r\n"));
  ASSERT_TRUE((*c)->Flush());
  (*c)->BeginCommand(1000);
  EXPECT_EQ((*c)->ReadLine(100).value(), "two");
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  auto late = (*c)->ReadLine(100);  // "three" is buffered, but the command is over time
  ASSERT_TRUE(late) << "a buffered line needs no read";
  EXPECT_EQ(*late, "three");
  auto more = (*c)->ReadLine(100);
  ASSERT_FALSE(more);
  EXPECT_NE(more.error().message().find("(command_deadline)"), std::string::npos) << more.error().message();
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

// COMPRESS=DEFLATE (RFC 4978) on the connection layer: round trips through
// a fake server that speaks raw deflate, and what a bad stream does.
namespace mailkeep::net {
namespace {

// Raw deflate (windowBits -15) of `data`, ended by a sync flush, or by the
// end of the stream with `finish`.
std::string RawDeflate(const std::string& data, bool finish = false) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_NE(deflate(&z, finish ? Z_FINISH : Z_SYNC_FLUSH), Z_STREAM_ERROR);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  return out;
}

// Text that compresses about as well as mail does (random base64 lines).
std::string MailLikeText(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string s;
  s.reserve(size + 80);
  while (s.size() < size) {
    for (int i = 0; i < 76; ++i) s += alphabet[rng() % 64];
    s += "\r\n";
  }
  s.resize(size);
  return s;
}

// Sends "COMPRESS", reads the server's "OK ..." and switches.
void Negotiate(Connection& conn) {
  ASSERT_TRUE(conn.Write("COMPRESS\r\n"));
  ASSERT_TRUE(conn.Flush());
  auto ok = conn.ReadLine(100);
  ASSERT_TRUE(ok) << ok.error().message();
  ASSERT_EQ(ok->substr(0, 2), "OK");
  ASSERT_FALSE(conn.compressing());
  ASSERT_TRUE(conn.StartCompression());
  ASSERT_TRUE(conn.compressing());
}

TEST(Compression, RoundTripOfLinesAndAFiveMegabyteLiteral) {
  const std::string literal = MailLikeText(5u << 20, 1);
  const std::string upload = MailLikeText(3u << 20, 2);  // CRLF lines
  FakeServer server;
  FakeStep go{"COMPRESS", "OK begin compression\r\n"};
  go.start_deflate = true;
  server.Serve({go,
                {"hello", "world\r\n{" + std::to_string(literal.size()) + "}\r\n" + literal + ")\r\nafter\r\n"},
                {"small", "done\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c) << c.error().ToString();
  Connection& conn = **c;
  Negotiate(conn);
  ASSERT_TRUE(conn.Write("hello\r\n"));
  ASSERT_TRUE(conn.Flush());
  EXPECT_EQ(conn.ReadLine(100).value(), "world");
  EXPECT_EQ(conn.ReadLine(100).value(), "{" + std::to_string(literal.size()) + "}");
  std::string got = "x";
  ASSERT_TRUE(conn.ReadExact(literal.size(), &got));
  EXPECT_TRUE(got == "x" + literal) << "sizes " << got.size() << " vs " << literal.size() + 1;
  EXPECT_EQ(conn.ReadLine(100).value(), ")");
  EXPECT_EQ(conn.ReadLineView(100).value(), "after");
  // A small command after a sync flush reaches the server at once.
  ASSERT_TRUE(conn.Write("small\r\n"));
  ASSERT_TRUE(conn.Flush());
  EXPECT_EQ(conn.ReadLine(100).value(), "done");
  // Megabytes the other way, in pieces (the buffer drains at 64 KiB, the
  // last bytes at Flush()).
  for (size_t off = 0; off < upload.size(); off += 10000) ASSERT_TRUE(conn.Write(upload.substr(off, 10000)));
  ASSERT_TRUE(conn.Write("\r\nlast\r\n"));
  ASSERT_TRUE(conn.Flush());
  ASSERT_TRUE(conn.Flush());  // nothing pending: fine
  conn.Close();
  EXPECT_EQ(server.Finish(), "");
  const auto& lines = server.received();
  ASSERT_GE(lines.size(), 4u);
  EXPECT_EQ(lines[0], "COMPRESS");
  EXPECT_EQ(lines[1], "hello");
  EXPECT_EQ(lines[2], "small");
  EXPECT_EQ(lines.back(), "last");
  std::string uploaded;
  for (size_t i = 3; i + 1 < lines.size(); ++i) uploaded += lines[i] + "\r\n";
  EXPECT_TRUE(uploaded == upload + "\r\n") << "sizes " << uploaded.size() << " vs " << upload.size() + 2;
}

// The budget counts bytes as inflated: a well-compressing endless reply
// stops after the same number of bytes as a plain one.
TEST(Compression, ByteBudgetCountsInflatedBytes) {
  FakeServer server;
  FakeStep go{"COMPRESS", "OK begin compression\r\n"};
  go.start_deflate = true;
  FakeStep endless{"", "* OK " + std::string(4000, 'z') + "\r\n"};
  endless.repeat = 0;
  server.Serve({go, endless});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  (*c)->BeginCommand(4u << 20);
  size_t bytes = 0;
  Result<std::string> line;
  while ((line = (*c)->ReadLine(5000))) bytes += line->size() + 2;
  EXPECT_EQ(line.error().code(), ErrorCode::kFailedPrecondition) << line.error().message();
  EXPECT_GT(bytes, 3u << 20);
  EXPECT_LE(bytes, 4u << 20);
}

TEST(Compression, BytesRightAfterTheOkAreTheStartOfTheStream) {
  // The server's compressed data arrives in the same packet as its OK.
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n" + RawDeflate("* 1 EXISTS\r\n* 2 EXISTS\r\n")}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  EXPECT_EQ((*c)->ReadLine(100).value(), "* 1 EXISTS");
  EXPECT_EQ((*c)->ReadLine(100).value(), "* 2 EXISTS");
}

TEST(Compression, CorruptStreamIsACleanError) {
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n\xff\xff\xff\xff not deflate at all\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  auto line = (*c)->ReadLine(100);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(line.error().message(),
            "corrupt compressed data from 127.0.0.1:" + std::to_string(server.port()) + " (zlib: invalid block type)");
  EXPECT_TRUE((*c)->closed());
  EXPECT_FALSE((*c)->ReadLine(100));
  EXPECT_FALSE((*c)->Write("x\r\n") && (*c)->Flush());
}

TEST(Compression, CorruptionInsideALiteralIsACleanError) {
  std::string good = RawDeflate("* 1 FETCH (BODY[] {100000}\r\n" + std::string(5000, 'a'));
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n" + good + std::string(64, '\xff')}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  EXPECT_EQ((*c)->ReadLine(100).value(), "* 1 FETCH (BODY[] {100000}");
  std::string body;
  Status s = (*c)->ReadExact(100000, &body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.error().message().find("corrupt compressed data from 127.0.0.1:"), std::string::npos)
      << s.error().message();
  EXPECT_TRUE((*c)->closed());
}

TEST(Compression, TheServerEndingItsStreamReadsAsClosed) {
  // Dovecot ends its deflate stream when it logs out.
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n" + RawDeflate("* BYE logging out\r\nA9 OK bye\r\n", /*finish=*/true)}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  EXPECT_EQ((*c)->ReadLine(100).value(), "* BYE logging out");
  EXPECT_EQ((*c)->ReadLine(100).value(), "A9 OK bye");
  auto line = (*c)->ReadLine(100);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(line.error().message().find("closed by the server"), std::string::npos) << line.error().message();
}

TEST(Compression, LineLimitHoldsWhateverTheRatio) {
  // 64 MiB without a line end compress to about 64 KiB: the reader must
  // stop at the line limit, not inflate it all.
  std::string bomb = RawDeflate(std::string(64u << 20, 'a'));
  ASSERT_LT(bomb.size(), 200u << 10);
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n" + bomb}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  auto line = (*c)->ReadLine(1 << 20);
  ASSERT_FALSE(line);
  EXPECT_EQ(line.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(line.error().message().find("longer than 1048576 bytes"), std::string::npos) << line.error().message();
}

TEST(Compression, OnceOnlyAndNoTlsAfterIt) {
  FakeServer server;
  server.Serve({{"COMPRESS", "OK go\r\n"}});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  Status again = (*c)->StartCompression();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kFailedPrecondition);
  Status tls = (*c)->StartTls();
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(tls.error().message().find("compression is already active"), std::string::npos);
}

TEST(Compression, ServerHangingUpIsUnavailable) {
  FakeServer server;
  FakeStep go{"COMPRESS", "OK go\r\n", 0, true};
  server.Serve({go});
  auto c = Connection::Open(Plain(server.port()));
  ASSERT_TRUE(c);
  Negotiate(**c);
  std::string out;
  Status s = (*c)->ReadExact(10, &out);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace mailkeep::net
