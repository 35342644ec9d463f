// The SMTP reply reader, EHLO parsing and the DATA encoder: pure functions,
// no network (smtp_client_test.cc drives the client against a fake server).
#include "sync/smtp/smtp_data.h"
#include "sync/smtp/smtp_reply.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace mailkeep::smtp {
namespace {

// Feeds lines; returns the reply, or an empty optional with *error set.
std::optional<Reply> Parse(const std::vector<std::string>& lines, std::string* error = nullptr,
                           ReplyLimits limits = {}) {
  ReplyParser p(limits);
  for (size_t i = 0; i < lines.size(); ++i) {
    switch (p.FeedLine(lines[i])) {
      case ReplyState::kNeedMore:
        if (i + 1 == lines.size()) {
          if (error) *error = "need more";
          return std::nullopt;
        }
        break;
      case ReplyState::kReply:
        EXPECT_EQ(i + 1, lines.size()) << "reply ended early";
        return p.TakeReply();
      case ReplyState::kError:
        if (error) *error = p.error();
        return std::nullopt;
    }
  }
  return std::nullopt;
}

TEST(ReplyParser, SingleLine) {
  auto r = Parse({"250 OK"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 250);
  EXPECT_EQ(r->enhanced, "");
  EXPECT_EQ(r->lines, (std::vector<std::string>{"OK"}));
  EXPECT_TRUE(r->positive());
  EXPECT_EQ(r->klass(), 2);
  EXPECT_EQ(r->ToString(), "250 OK");
}

TEST(ReplyParser, BareCodeAndEmptyContinuation) {
  auto r = Parse({"354"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 354);
  EXPECT_EQ(r->lines, (std::vector<std::string>{""}));
  EXPECT_EQ(r->ToString(), "354");
  r = Parse({"250-", "250 last"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->lines, (std::vector<std::string>{"", "last"}));
  EXPECT_EQ(r->Text(), "last");
}

TEST(ReplyParser, MultiLineWithEnhancedCodes) {
  auto r = Parse({"550-5.1.1 The email account that you tried to reach does not exist.",
                  "550-5.1.1 Please try double-checking the recipient's email",
                  "550 5.1.1 address for typos."});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->code, 550);
  EXPECT_EQ(r->enhanced, "5.1.1");
  ASSERT_EQ(r->lines.size(), 3u);
  EXPECT_EQ(r->lines[2], "address for typos.");
  EXPECT_EQ(r->ToString(),
            "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the "
            "recipient's email address for typos.");
}

TEST(ReplyParser, EnhancedCodeOnlyWhenClassMatches) {
  EXPECT_EQ(Parse({"250 2.1.5 Ok"})->enhanced, "2.1.5");
  EXPECT_EQ(Parse({"451 4.3.0 try later"})->enhanced, "4.3.0");
  EXPECT_EQ(Parse({"250 5.1.1 odd"})->enhanced, "");     // class differs from the code
  EXPECT_EQ(Parse({"250 2.1.5"})->enhanced, "2.1.5");    // nothing after it
  EXPECT_EQ(Parse({"250 2.1.5x"})->enhanced, "");
  EXPECT_EQ(Parse({"250 2.1234.5 x"})->enhanced, "");    // subject of 4 digits
  EXPECT_EQ(Parse({"250 2.100.999 x"})->enhanced, "2.100.999");
  EXPECT_EQ(Parse({"354 3.0.0 go"})->enhanced, "");      // no class 3 in RFC 3463
  EXPECT_EQ(Parse({"250 2.0 short"})->enhanced, "");
}

TEST(ReplyParser, Garbage) {
  std::string error;
  EXPECT_FALSE(Parse({"+OK POP3 ready"}, &error));
  EXPECT_EQ(error, "not an SMTP reply line: \"+OK POP3 ready\"");
  EXPECT_FALSE(Parse({"25"}, &error));
  EXPECT_FALSE(Parse({"2500 x"}, &error));
  EXPECT_FALSE(Parse({"150 preliminary"}, &error));   // no 1yz replies in SMTP
  EXPECT_FALSE(Parse({"650 x"}, &error));
  EXPECT_FALSE(Parse({"25a x"}, &error));
  EXPECT_FALSE(Parse({""}, &error));
  EXPECT_FALSE(Parse({"250_x"}, &error));
  EXPECT_FALSE(Parse({"250-a", "550 b"}, &error));
  EXPECT_EQ(error, "reply lines with different codes (250 then 550): \"550 b\"");
  EXPECT_TRUE(Parse({"250 \x01\x1b[31m"}));  // control bytes in the text are kept
}

TEST(ReplyParser, ErrorQuotesThePrintableStartOfTheLine) {
  std::string error;
  EXPECT_FALSE(Parse({std::string("x\x01\x1b") + std::string(300, 'y')}, &error));
  EXPECT_EQ(error, "not an SMTP reply line: \"x??" + std::string(97, 'y') + "...\"");
}

TEST(ReplyParser, Limits) {
  ReplyLimits limits;
  limits.max_line = 20;
  limits.max_lines = 3;
  std::string error;
  EXPECT_TRUE(Parse({"250 " + std::string(16, 'x')}, &error, limits));
  EXPECT_FALSE(Parse({"250 " + std::string(17, 'x')}, &error, limits));
  EXPECT_EQ(error.rfind("reply line longer than 20 bytes", 0), 0u) << error;
  EXPECT_TRUE(Parse({"250-a", "250-b", "250 c"}, &error, limits));
  EXPECT_FALSE(Parse({"250-a", "250-b", "250-c", "250 d"}, &error, limits));
  EXPECT_EQ(error, "reply of more than 3 lines: \"250 d\"");
}

TEST(ReplyParser, ErrorIsStickyUntilReset) {
  ReplyParser p;
  EXPECT_EQ(p.FeedLine("junk"), ReplyState::kError);
  EXPECT_EQ(p.FeedLine("250 ok"), ReplyState::kError);
  p.Reset();
  EXPECT_EQ(p.FeedLine("250 ok"), ReplyState::kReply);
  EXPECT_EQ(p.TakeReply().code, 250);
  // Replies one after the other.
  EXPECT_EQ(p.FeedLine("251-a"), ReplyState::kNeedMore);
  EXPECT_EQ(p.FeedLine("251 b"), ReplyState::kReply);
  EXPECT_EQ(p.TakeReply().lines.size(), 2u);
  EXPECT_EQ(p.FeedLine("354 go"), ReplyState::kReply);
  EXPECT_EQ(p.TakeReply().code, 354);
}

TEST(ParseEhlo, Extensions) {
  auto r = Parse({"250-mx.example.com Hello client [192.0.2.1]", "250-SIZE 35882577", "250-8BITMIME",
                  "250-AUTH LOGIN PLAIN XOAUTH2 PLAIN-CLIENTTOKEN OAUTHBEARER XOAUTH",
                  "250-AUTH=LOGIN cram-md5", "250-ENHANCEDSTATUSCODES", "250-PIPELINING", "250-CHUNKING",
                  "250-dsn", "250-STARTTLS", "250 SMTPUTF8"});
  ASSERT_TRUE(r);
  Extensions e = ParseEhlo(*r);
  EXPECT_EQ(e.domain, "mx.example.com");
  EXPECT_TRUE(e.size);
  EXPECT_EQ(e.size_limit, 35882577u);
  EXPECT_TRUE(e.eightbitmime && e.smtputf8 && e.pipelining && e.dsn && e.starttls && e.enhanced_status_codes &&
              e.chunking);
  EXPECT_EQ(e.auth, (std::vector<std::string>{"LOGIN", "PLAIN", "XOAUTH2", "PLAIN-CLIENTTOKEN", "OAUTHBEARER",
                                              "XOAUTH", "CRAM-MD5"}));
  EXPECT_TRUE(e.HasAuth("cram-md5"));
  EXPECT_FALSE(e.HasAuth("GSSAPI"));
  EXPECT_TRUE(e.HasKeyword("chunking"));
  EXPECT_FALSE(e.HasKeyword("XCLIENT"));
  EXPECT_EQ(e.keywords.size(), 10u);
}

TEST(ParseEhlo, SizeWithoutOrWithBadNumberMeansNoLimit) {
  EXPECT_EQ(ParseEhlo(*Parse({"250-x", "250 SIZE"})).size_limit, 0u);
  EXPECT_TRUE(ParseEhlo(*Parse({"250-x", "250 SIZE"})).size);
  EXPECT_EQ(ParseEhlo(*Parse({"250-x", "250 SIZE 12k"})).size_limit, 0u);
  EXPECT_EQ(ParseEhlo(*Parse({"250-x", "250 SIZE 99999999999999999999999"})).size_limit, 0u);
  Extensions none = ParseEhlo(*Parse({"250 only.example"}));
  EXPECT_EQ(none.domain, "only.example");
  EXPECT_FALSE(none.size || none.pipelining || none.starttls);
  EXPECT_TRUE(none.auth.empty());
}

// A reference for the DATA transform, written the obvious way.
std::string Reference(std::string_view m) {
  std::vector<std::string> lines;
  std::string cur;
  bool open = false;
  for (size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r' || m[i] == '\n') {
      if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') ++i;
      lines.push_back(cur);
      cur.clear();
      open = false;
    } else {
      cur += m[i];
      open = true;
    }
  }
  if (open) lines.push_back(cur);
  std::string out;
  for (const auto& l : lines) out += (l.rfind('.', 0) == 0 ? "." : "") + l + "\r\n";
  return out + ".\r\n";
}

TEST(DataEncoder, ByteForByte) {
  EXPECT_EQ(EncodeData(""), ".\r\n");
  EXPECT_EQ(EncodeData("a"), "a\r\n.\r\n");
  EXPECT_EQ(EncodeData("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(EncodeData("a\n"), "a\r\n.\r\n");
  EXPECT_EQ(EncodeData("a\r"), "a\r\n.\r\n");
  EXPECT_EQ(EncodeData("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n.\r\n");
  EXPECT_EQ(EncodeData("\n\n"), "\r\n\r\n.\r\n");
  EXPECT_EQ(EncodeData("a\r\r\nb"), "a\r\n\r\nb\r\n.\r\n");     // a bare CR, then CRLF
  EXPECT_EQ(EncodeData("a\n\rb"), "a\r\n\r\nb\r\n.\r\n");        // LF then a bare CR
  EXPECT_EQ(EncodeData(".\n"), "..\r\n.\r\n");
  EXPECT_EQ(EncodeData("."), "..\r\n.\r\n");
  EXPECT_EQ(EncodeData("..x\n.\r\nend.\n. \n"), "...x\r\n..\r\nend.\r\n.. \r\n.\r\n");
  EXPECT_EQ(EncodeData("x\r.y"), "x\r\n..y\r\n.\r\n");            // a dot after a bare CR starts a line
  EXPECT_EQ(EncodeData(std::string("\x80\xff\0z\n", 5)), std::string("\x80\xff\0z\r\n.\r\n", 9));
  EXPECT_EQ(EncodeData("Subject: x\n\nbody"), "Subject: x\r\n\r\nbody\r\n.\r\n");
}

TEST(DataEncoder, AnySplitGivesTheSameBytes) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab.\r\n\x80";
  for (int round = 0; round < 2000; ++round) {
    std::string m;
    size_t len = rng() % 40;
    for (size_t i = 0; i < len; ++i) m += alphabet[rng() % alphabet.size()];
    const std::string whole = EncodeData(m);
    ASSERT_EQ(whole, Reference(m)) << "message: " << ::testing::PrintToString(m);
    DataEncoder e;
    std::string pieces;
    size_t off = 0;
    while (off < m.size()) {
      size_t n = 1 + rng() % 5;
      e.Feed(std::string_view(m).substr(off, n), &pieces);
      off += n;
    }
    e.Finish(&pieces);
    ASSERT_EQ(pieces, whole) << "message: " << ::testing::PrintToString(m);
    // SIZE counts the normalized message: the stream without stuffing dots
    // and terminator.
    std::string unstuffed;
    size_t pos = 0;
    while (pos < whole.size()) {
      size_t eol = whole.find("\r\n", pos);
      std::string line = whole.substr(pos, eol - pos);
      pos = eol + 2;
      if (line == "." && pos == whole.size()) break;
      if (!line.empty() && line[0] == '.') line.erase(0, 1);
      unstuffed += line + "\r\n";
    }
    ASSERT_EQ(NormalizedSize(m), unstuffed.size()) << ::testing::PrintToString(m);
  }
}

TEST(DataEncoder, ReusableAfterFinish) {
  DataEncoder e;
  std::string out;
  e.Feed("a\r", &out);
  e.Finish(&out);
  e.Feed(".b", &out);
  e.Finish(&out);
  EXPECT_EQ(out, "a\r\n.\r\n..b\r\n.\r\n");
}

TEST(DataEncoder, SizeAndEightBit) {
  EXPECT_EQ(NormalizedSize(""), 0u);
  EXPECT_EQ(NormalizedSize("a"), 3u);
  EXPECT_EQ(NormalizedSize("a\n"), 3u);
  EXPECT_EQ(NormalizedSize(".a\r\n"), 4u);   // no stuffing dot
  EXPECT_FALSE(HasEightBit("plain ascii\r\n"));
  EXPECT_TRUE(HasEightBit("caf\xc3\xa9"));
}

}  // namespace
}  // namespace mailkeep::smtp
