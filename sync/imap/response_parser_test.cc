// The IMAP response reader: every token type, responses split at every
// byte, literals fed directly, limits, and bad input (habit 13: dovecot's
// test-imap-parser.c feeds one more byte per step).
#include "sync/imap/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mailkeep::imap {
namespace {

struct Outcome {
  std::vector<std::string> responses;  // DebugString of each
  bool error = false;
  std::string message;
  bool operator==(const Outcome& o) const { return responses == o.responses && error == o.error; }
};

// Feeds `input` in pieces of `step` bytes (0 = all at once).
Outcome Parse(std::string_view input, size_t step = 0, const ImapLimits& limits = {}) {
  ResponseParser p(limits);
  Outcome out;
  size_t pos = 0;
  while (pos < input.size()) {
    size_t n = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    std::string_view chunk = input.substr(pos, n);
    pos += n;
    while (!chunk.empty()) {
      ParseState s = p.Feed(chunk);
      if (s == ParseState::kError) {
        out.error = true;
        out.message = p.error();
        return out;
      }
      if (s == ParseState::kResponse) out.responses.push_back(DebugString(p.TakeResponse()));
    }
  }
  if (p.in_response()) {
    out.error = true;
    out.message = "incomplete";
  }
  return out;
}

// Parses exactly one response and returns it.
Response One(std::string_view input) {
  ResponseParser p;
  std::string_view in = input;
  ParseState s = p.Feed(in);
  EXPECT_EQ(s, ParseState::kResponse) << p.error();
  EXPECT_TRUE(in.empty()) << "left over: " << in;
  return p.TakeResponse();
}

TEST(ResponseParser, TaggedStatusWithCode) {
  Response r = One("A1 OK [READ-WRITE] SELECT completed\r\n");
  EXPECT_EQ(r.kind, Response::Kind::kTagged);
  EXPECT_EQ(r.tag, "A1");
  EXPECT_EQ(r.cond, Response::Cond::kOk);
  EXPECT_EQ(r.code, "READ-WRITE");
  EXPECT_EQ(r.code_args, "");
  EXPECT_EQ(r.text, "SELECT completed");
}

TEST(ResponseParser, ResponseCodes) {
  Response r = One("* OK [UIDVALIDITY 3] UIDs valid\r\n");
  EXPECT_EQ(r.kind, Response::Kind::kUntagged);
  EXPECT_EQ(r.code, "UIDVALIDITY");
  EXPECT_EQ(r.code_args, "3");
  EXPECT_EQ(r.text, "UIDs valid");

  r = One("A3 OK [APPENDUID 38505 3955] APPEND completed\r\n");
  EXPECT_EQ(r.code, "APPENDUID");
  EXPECT_EQ(r.code_args, "38505 3955");

  r = One("* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] Dovecot ready.\r\n");
  EXPECT_EQ(r.code, "CAPABILITY");
  EXPECT_EQ(r.code_args, "IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN");
  EXPECT_EQ(r.text, "Dovecot ready.");
  EXPECT_EQ(r.StatusText(), "[CAPABILITY IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN] Dovecot ready.");

  r = One("* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n");
  EXPECT_EQ(r.code, "PERMANENTFLAGS");
  EXPECT_EQ(r.code_args, "(\\Deleted \\Seen \\*)");

  r = One("a2 no [authenticationfailed] Authentication failed.\r\n");
  EXPECT_EQ(r.cond, Response::Cond::kNo);
  EXPECT_EQ(r.code, "AUTHENTICATIONFAILED");
  EXPECT_EQ(r.StatusText(), "[AUTHENTICATIONFAILED] Authentication failed.");

  // Text that merely looks like a code, and text with IMAP specials.
  r = One("* NO [unterminated (text \"with\" {3}\r\n");
  EXPECT_EQ(r.code, "");
  EXPECT_EQ(r.text, "[unterminated (text \"with\" {3}");

  r = One("* BYE\r\n");
  EXPECT_EQ(r.cond, Response::Cond::kBye);
  EXPECT_EQ(r.text, "");

  r = One("* PREAUTH [ALERT] hello\n");  // bare LF
  EXPECT_EQ(r.cond, Response::Cond::kPreauth);
  EXPECT_EQ(r.code, "ALERT");
}

TEST(ResponseParser, Continuations) {
  Response r = One("+ Ready for literal data\r\n");
  EXPECT_EQ(r.kind, Response::Kind::kContinuation);
  EXPECT_EQ(r.text, "Ready for literal data");
  r = One("+\r\n");
  EXPECT_EQ(r.kind, Response::Kind::kContinuation);
  EXPECT_EQ(r.text, "");
  r = One("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n");
  EXPECT_EQ(r.text, "eyJzdGF0dXMiOiI0MDEifQ==");
  r = One("+ [ALERT] go on\r\n");
  EXPECT_EQ(r.code, "ALERT");
  EXPECT_EQ(r.text, "go on");
}

TEST(ResponseParser, EveryTokenType) {
  Response r = One(
      "* LIST (\\HasNoChildren \\Sent) \"/\" \"Sent \\\"Items\\\" \\\\ x\" atom NIL nil 42 {5}\r\nhe\r\nl ~{2}\r\nab x\r\n");
  EXPECT_EQ(r.name, "LIST");
  ASSERT_EQ(r.values.size(), 10u);
  EXPECT_TRUE(r.values[0].is_list());
  ASSERT_EQ(r.values[0].list.size(), 2u);
  EXPECT_EQ(r.values[0].list[0].text, "\\HasNoChildren");
  EXPECT_EQ(r.values[1].type, Value::Type::kQuoted);
  EXPECT_EQ(r.values[1].text, "/");
  EXPECT_EQ(r.values[2].text, "Sent \"Items\" \\ x");
  EXPECT_EQ(r.values[3].type, Value::Type::kAtom);
  EXPECT_EQ(r.values[3].text, "atom");
  EXPECT_TRUE(r.values[4].is_nil());
  EXPECT_TRUE(r.values[5].is_nil());
  EXPECT_EQ(r.values[5].text, "nil");
  EXPECT_EQ(r.values[6].Number(), 42u);
  EXPECT_EQ(r.values[3].Number(), std::nullopt);
  EXPECT_EQ(r.values[7].type, Value::Type::kLiteral);
  EXPECT_EQ(r.values[7].text, "he\r\nl");
  EXPECT_EQ(r.values[8].type, Value::Type::kLiteral);  // literal8
  EXPECT_EQ(r.values[8].text, "ab");
  EXPECT_EQ(r.values[9].text, "x");
}

TEST(ResponseParser, NonSynchronizingLiteralAndEmptyLiteral) {
  Response r = One("* 1 FETCH (BODY[] {3+}\r\nabc UID 7 X {0}\r\n)\r\n");
  ASSERT_EQ(r.values.size(), 1u);
  const auto& l = r.values[0].list;
  ASSERT_EQ(l.size(), 6u);
  EXPECT_EQ(l[1].text, "abc");
  EXPECT_EQ(l[3].Number(), 7u);
  EXPECT_EQ(l[5].type, Value::Type::kLiteral);
  EXPECT_EQ(l[5].text, "");
}

TEST(ResponseParser, NestedLists) {
  Response r = One("* X (a (b (c (d) ()) e) ((f)))\r\n");
  EXPECT_EQ(DebugString(r), "* X [(a (b (c (d) ()) e) ((f)))]");
  const Value& top = r.values[0];
  ASSERT_EQ(top.list.size(), 3u);
  EXPECT_EQ(top.list[1].list[1].list[1].list[0].text, "d");
  EXPECT_TRUE(top.list[1].list[1].list[2].list.empty());
}

TEST(ResponseParser, NumberedDataResponses) {
  Response r = One("* 23 EXISTS\r\n");
  EXPECT_EQ(r.number, 23u);
  EXPECT_EQ(r.name, "EXISTS");
  EXPECT_TRUE(r.values.empty());
  r = One("* 4 expunge\r\n");
  EXPECT_EQ(r.name, "EXPUNGE");
  r = One("* 12 FETCH (UID 100 FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-1996 02:44:25 -0700\" "
          "RFC822.SIZE 4 MODSEQ (12345) BODY[HEADER.FIELDS (FROM TO)]<0> {4}\r\nab\r\n)\r\n");
  EXPECT_EQ(r.number, 12u);
  EXPECT_EQ(r.name, "FETCH");
  const auto& l = r.values[0].list;
  ASSERT_EQ(l.size(), 12u);
  EXPECT_EQ(l[10].text, "BODY[HEADER.FIELDS (FROM TO)]<0>");
  EXPECT_EQ(l[11].text, "ab\r\n");
  EXPECT_EQ(l[9].list[0].Number(), 12345u);
  r = One("* SEARCH 2 84 882\r\n");
  EXPECT_EQ(DebugString(r), "* SEARCH [2 84 882]");
  r = One("* ESEARCH (TAG \"A5\") UID ALL 1:3,5\r\n");
  EXPECT_EQ(DebugString(r), "* ESEARCH [(TAG \"A5\") UID ALL 1:3,5]");
  // An ordinary atom with '[' (a mailbox name) does not open a section.
  r = One("* LIST () \"/\" a[b\r\n");
  EXPECT_EQ(r.values[2].text, "a[b");
}

const char kSession[] =
    "* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n"
    "* 3 EXISTS\r\n"
    "* 1 FETCH (UID 10 FLAGS (\\Seen) BODY[] {12}\r\nline1\r\nline2)\r\n"
    "* 2 EXPUNGE\r\n"
    "* OK [ALERT] disk almost full\r\n"
    "* 2 FETCH (UID 12 BODY[] {0}\r\n FLAGS ())\r\n"
    "* 5 FETCH (FLAGS (\\Deleted))\r\n"
    "* LIST (\\Noselect) \"/\" {6+}\r\n\"odd\")\r\n"
    "+ go ahead\r\n"
    "A7 OK [UIDNEXT 13] done\r\n"
    "* BYE [UNAVAILABLE] shutting down\r\n";

TEST(ResponseParser, InterleavedSessionAllAtOnce) {
  Outcome o = Parse(kSession);
  ASSERT_FALSE(o.error) << o.message;
  std::vector<std::string> want = {
      "* OK [CAPABILITY|IMAP4rev1 LITERAL+] \"ready\"",
      "* #3 EXISTS []",
      "* #1 FETCH [(UID 10 FLAGS (\\Seen) BODY[] {12}\"line1\\x0d\\x0aline2\")]",
      "* #2 EXPUNGE []",
      "* OK [ALERT|] \"disk almost full\"",
      "* #2 FETCH [(UID 12 BODY[] {0}\"\" FLAGS ())]",
      "* #5 FETCH [(FLAGS (\\Deleted))]",
      "* LIST [(\\Noselect) \"/\" {6}\"\\\"odd\\\")\"]",
      "+ \"go ahead\"",
      "A7 OK [UIDNEXT|13] \"done\"",
      "* BYE [UNAVAILABLE|] \"shutting down\"",
  };
  EXPECT_EQ(o.responses, want);
}

TEST(ResponseParser, SplitAtEveryBytePosition) {
  const Outcome whole = Parse(kSession);
  const std::string_view s = kSession;
  for (size_t i = 1; i < s.size(); ++i) {
    ResponseParser p;
    Outcome o;
    for (std::string_view chunk : {s.substr(0, i), s.substr(i)}) {
      while (!chunk.empty()) {
        ParseState st = p.Feed(chunk);
        ASSERT_NE(st, ParseState::kError) << "split at " << i << ": " << p.error();
        if (st == ParseState::kResponse) o.responses.push_back(DebugString(p.TakeResponse()));
      }
    }
    EXPECT_EQ(o.responses, whole.responses) << "split at " << i;
  }
  // One byte per Feed; "need more" until each response's last byte.
  EXPECT_EQ(Parse(kSession, 1), whole);
  EXPECT_EQ(Parse(kSession, 2), whole);
  EXPECT_EQ(Parse(kSession, 7), whole);
}

TEST(ResponseParser, ByteAtATimeNeedsMoreUntilTheLast) {
  const std::string r = "* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n";
  ResponseParser p;
  for (size_t i = 0; i + 1 < r.size(); ++i) {
    std::string_view b(&r[i], 1);
    ASSERT_EQ(p.Feed(b), ParseState::kNeedMore) << "byte " << i;
    EXPECT_TRUE(b.empty());
  }
  std::string_view last(&r.back(), 1);
  ASSERT_EQ(p.Feed(last), ParseState::kResponse);
  EXPECT_EQ(DebugString(p.TakeResponse()), "* #1 FETCH [(BODY[] {5}\"ab\\x0d\\x0ac\")]");
}

TEST(ResponseParser, FeedStopsAfterOneResponse) {
  ResponseParser p;
  std::string_view in = "* 1 EXISTS\r\n* 2 EXISTS\r\n* 3 EX";
  ASSERT_EQ(p.Feed(in), ParseState::kResponse);
  EXPECT_EQ(in, "* 2 EXISTS\r\n* 3 EX");
  EXPECT_EQ(p.TakeResponse().number, 1u);
  ASSERT_EQ(p.Feed(in), ParseState::kResponse);
  EXPECT_EQ(p.TakeResponse().number, 2u);
  ASSERT_EQ(p.Feed(in), ParseState::kNeedMore);
  EXPECT_TRUE(p.in_response());
  ASSERT_EQ(p.Feed(std::string_view("ISTS\r\n")), ParseState::kResponse);
  EXPECT_EQ(p.TakeResponse().number, 3u);
  EXPECT_FALSE(p.in_response());
}

TEST(ResponseParser, DirectLiteralPathAvoidsCopies) {
  ResponseParser p;
  ASSERT_EQ(p.Feed(std::string_view("* 1 FETCH (UID 5 BODY[] {40}\r\n")), ParseState::kNeedMore);
  ASSERT_EQ(p.literal_remaining(), 40u);
  std::string* buf = p.literal_buffer();
  EXPECT_GE(buf->capacity(), 40u);  // reserved up front
  const char* data = buf->data();
  buf->append("0123");
  EXPECT_EQ(p.LiteralFilled(), ParseState::kNeedMore);
  EXPECT_EQ(p.literal_remaining(), 36u);
  p.literal_buffer()->append("456789012345678901234567890123456789");
  EXPECT_EQ(p.LiteralFilled(), ParseState::kNeedMore);
  EXPECT_EQ(p.literal_remaining(), 0u);
  ASSERT_EQ(p.Feed(std::string_view(")\r\n")), ParseState::kResponse);
  Response r = p.TakeResponse();
  EXPECT_EQ(r.values[0].list[3].text, "0123456789012345678901234567890123456789");
  EXPECT_EQ(r.values[0].list[3].text.data(), data);  // the same buffer, moved
}

TEST(ResponseParser, DirectLiteralOverfillIsAnError) {
  ResponseParser p;
  ASSERT_EQ(p.Feed(std::string_view("* 1 FETCH (BODY[] {2}\r\n")), ParseState::kNeedMore);
  p.literal_buffer()->append("abc");
  EXPECT_EQ(p.LiteralFilled(), ParseState::kError);
}

TEST(ResponseParser, Limits) {
  ImapLimits small;
  small.max_line = 20;
  small.max_text = 40;
  small.max_literal = 10;
  small.max_values = 5;
  small.max_depth = 2;
  EXPECT_FALSE(Parse("* OK 12345678901234\r\n", 0, small).error);
  Outcome o = Parse("* OK 123456789012345678901234567890\r\n", 0, small);
  EXPECT_TRUE(o.error);
  EXPECT_EQ(o.message, "line longer than 20 bytes");
  EXPECT_TRUE(Parse("* OK 123456789012345678901234567890\r\n", 3, small).error);
  // A line that never ends is refused once it passes the limit.
  ResponseParser p(small);
  std::string endless(25, 'x');
  std::string_view in = endless;
  EXPECT_EQ(p.Feed(in), ParseState::kError);

  o = Parse("* X {11}\r\n01234567890)\r\n", 0, small);
  EXPECT_TRUE(o.error);
  EXPECT_EQ(o.message, "literal of 11 bytes is over the limit of 10");
  EXPECT_FALSE(Parse("* X {5}\r\n01234 {5}\r\n01234\r\n", 0, small).error);
  EXPECT_TRUE(Parse("* X {5}\r\n01234 {6}\r\n012345\r\n", 0, small).error);  // in total
  EXPECT_TRUE(Parse("* X {99999999999999999999999}\r\n", 0, small).error);

  EXPECT_FALSE(Parse("* X a b c d e\r\n", 0, small).error);
  o = Parse("* X a b c d e f\r\n", 0, small);
  EXPECT_EQ(o.message, "response has more than 5 values");
  EXPECT_FALSE(Parse("* X ((a))\r\n", 0, small).error);
  o = Parse("* X (((a)))\r\n", 0, small);
  EXPECT_EQ(o.message, "lists nested deeper than 2");
  // Text outside literals, over several lines.
  o = Parse("* X {1}\r\na 0123456789012 {1}\r\nb 0123456789012 {1}\r\nc\r\n", 0, small);
  EXPECT_TRUE(o.error);
}

TEST(ResponseParser, BadInputIsAnErrorNotACrash) {
  const char* bad[] = {
      "A1\r\n",                           // no status
      " OK\r\n",                          // empty tag
      "A1 FETCH (x)\r\n",                 // tagged without a condition
      "A(1 OK x\r\n",                     // bad tag
      "* 99999999999 EXISTS\r\n",         // number out of range
      "* 12\r\n",                         // number without a name
      "* (LIST)\r\n",                     // bad name
      "* X (a b\r\n",                     // unterminated list
      "* X a)\r\n",                       // unbalanced )
      "* X \"abc\r\n",                    // unterminated quoted string
      "* X \"abc\\\r\n",                  // escape at the end
      "* X {3}x\r\n",                     // literal header not at the end
      "* X {3\r\n",                       // bad literal header
      "* X {}\r\n",                       // no size
      "* X {-1}\r\n",                     // no size
      "* X BODY[HEADER (A\r\n",           // unterminated section
  };
  for (const char* input : bad) {
    Outcome o = Parse(input);
    EXPECT_TRUE(o.error) << input;
    EXPECT_FALSE(o.message.empty()) << input;
    EXPECT_TRUE(Parse(input, 1).error) << input;
  }
  // After an error, everything is an error until Reset().
  ResponseParser p;
  ASSERT_EQ(p.Feed(std::string_view("* X )\r\n")), ParseState::kError);
  EXPECT_EQ(p.Feed(std::string_view("* OK fine\r\n")), ParseState::kError);
  p.Reset();
  EXPECT_EQ(p.Feed(std::string_view("* OK fine\r\n")), ParseState::kResponse);
}

TEST(ResponseParser, StrayEmptyLinesAndBinaryBytes) {
  Outcome o = Parse("\r\n\r\n* OK x\r\n");
  ASSERT_FALSE(o.error);
  EXPECT_EQ(o.responses.size(), 1u);
  // 8-bit and NUL bytes inside a literal are data.
  std::string lit = std::string("* 1 FETCH (BODY[] {4}\r\n") + std::string("\0\xff\r\n", 4) + ")\r\n";
  Response r = One(lit);
  EXPECT_EQ(r.values[0].list[1].text, std::string("\0\xff\r\n", 4));
}

}  // namespace
}  // namespace mailkeep::imap
