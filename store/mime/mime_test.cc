// Scenario tests for store/mime (habit 13): each test names the case it
// pins down; the last ones feed every prefix and byte-flipped variants of a
// complex message to shake out out-of-bounds reads (run under ASan).
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

#include "store/mime/decode.h"
#include "store/mime/message.h"

namespace mailkeep::mime {
namespace {

// Test messages are written with LF; CRLF variants are made by this.
std::string Crlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

int64_t Utc(int y, int mo, int d, int h, int mi, int s) {
  // Independent of the code under test: timegm.
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<int64_t>(timegm(&t));
}

// ---------------------------------------------------------------- headers

TEST(MimeHeader, UnfoldRemovesLineBreaks) {
  EXPECT_EQ(Unfold("a\r\n b\n\tc"), "a b\tc");
}

TEST(MimeHeader, FoldedSubjectCollapsesToOneSpace) {
  Message m = ParseMessage("Subject: Fwd: \n\tSaying \n Hello\n\nx\n");
  EXPECT_EQ(m.subject, "Fwd: Saying Hello");
}

TEST(MimeHeader, HeadersKeepOrderAndCase) {
  Message m = ParseMessage("X-A: 1\nx-b:2\nX-A: 3\n\nbody");
  ASSERT_EQ(m.headers.size(), 3u);
  EXPECT_EQ(m.headers[0].first, "X-A");
  EXPECT_EQ(m.headers[1].second, "2");
  ASSERT_NE(m.FindHeader("x-a"), nullptr);
  EXPECT_EQ(*m.FindHeader("x-a"), "1");
  EXPECT_EQ(m.FindHeader("nope"), nullptr);
}

TEST(MimeHeader, WhitespaceBeforeColonAccepted) {
  Message m = ParseMessage("Subject : spaced\n\nx");
  EXPECT_EQ(m.subject, "spaced");
}

TEST(MimeHeader, MboxFromLineSkipped) {
  Message m = ParseMessage("From alice@example.com Mon Jan  1 00:00:00 2024\nSubject: s\n\nbody\n");
  EXPECT_EQ(m.subject, "s");
  EXPECT_EQ(m.text, "body");
}

TEST(MimeHeader, MissingBlankLineStartsBodyAtFirstNonHeaderLine) {
  Message m = ParseMessage("Subject: s\nThis is the body\nmore body\n");
  EXPECT_EQ(m.subject, "s");
  EXPECT_EQ(m.text, "This is the body\nmore body");
  EXPECT_TRUE(m.defects & kDefectBadHeader);
}

TEST(MimeHeader, JunkLineInsideHeaderIsSkipped) {
  Message m = ParseMessage("From: a@b.c\nthis is junk\nSubject: kept\n\nbody");
  EXPECT_EQ(m.subject, "kept");
  EXPECT_TRUE(m.defects & kDefectBadHeader);
}

TEST(MimeHeader, UnindentedParameterContinuesContentType) {
  Message m = ParseMessage("Content-Type: text/plain;\ncharset=\"iso-8859-1\"\nSubject: s\n\ncaf\xE9");
  EXPECT_EQ(m.parts[0].charset, "iso-8859-1");
  EXPECT_EQ(m.subject, "s");
  EXPECT_EQ(m.text, "café");
}

TEST(MimeHeader, HeaderOnlyMessageHasNoSeparatorDefect) {
  Message m = ParseMessage("Subject: only\n");
  EXPECT_EQ(m.subject, "only");
  EXPECT_TRUE(m.defects & kDefectNoHeader);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.parts[0].body_length, 0u);
}

TEST(MimeHeader, NulBytesTolerated) {
  std::string raw("Subject: a\0b\n\nbo\0dy\n", 20);
  Message m = ParseMessage(raw);
  EXPECT_EQ(m.subject, "ab");
  EXPECT_EQ(m.text, "body");
}

TEST(MimeHeader, MessageIdAndReferences) {
  Message m = ParseMessage(
      "Message-ID: <abc@example.com>\nIn-Reply-To: <x@y> (comment)\nReferences: <r1@a>\n <r2@b> <r3@c>\n\n");
  EXPECT_EQ(m.message_id, "abc@example.com");
  EXPECT_EQ(m.in_reply_to, "x@y");
  EXPECT_EQ(m.references, (std::vector<std::string>{"r1@a", "r2@b", "r3@c"}));
}

TEST(MimeHeader, MessageIdWithoutBrackets) {
  EXPECT_EQ(ParseMessageIds("abc@example.com"), (std::vector<std::string>{"abc@example.com"}));
  EXPECT_EQ(ParseMessageIds("<a@b>,<c@d>"), (std::vector<std::string>{"a@b", "c@d"}));
}

// --------------------------------------------------------------- RFC 2047

TEST(MimeEncodedWords, QAndB) {
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?Andr=E9?= Pirard"), "André Pirard");
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?w6k=?="), "é");
}

TEST(MimeEncodedWords, AdjacentAreJoined) {
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?="), "ab");
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-2?Q?_b?="), "a b");
  EXPECT_EQ(DecodeHeaderText(" =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
                             "     =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n"),
            "If you can read this you understand the example.");
}

TEST(MimeEncodedWords, SpaceBetweenWordAndTextKept) {
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?a?= b"), "a b");
  EXPECT_EQ(DecodeHeaderText("a =?ISO-8859-1?Q?b?="), "a b");
}

TEST(MimeEncodedWords, MultibyteCharacterSplitAcrossWords) {
  // "é" (C3 A9) split over two base64 words of the same charset.
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?w6E=?= =?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?="), "áé");
}

TEST(MimeEncodedWords, LowercaseEncodingLetter) {
  EXPECT_EQ(DecodeHeaderText("=?utf-8?q?caf=C3=A9?="), "café");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?b?Y2Fmw6k=?="), "café");
}

TEST(MimeEncodedWords, GluedToText) {
  EXPECT_EQ(DecodeHeaderText("Re:=?utf-8?q?caf=C3=A9?=!"), "Re:café!");
}

TEST(MimeEncodedWords, SpacesInsideQText) {
  EXPECT_EQ(DecodeHeaderText("=?iso-8859-1?q?this is some text?="), "this is some text");
}

TEST(MimeEncodedWords, InsideQuotedStringInAddress) {
  auto v = ParseAddressList("\"=?utf-8?Q?J=C3=BCrgen?=\" <j@example.com>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "Jürgen");
  EXPECT_EQ(v[0].address, "j@example.com");
}

TEST(MimeEncodedWords, UnknownCharsetIsLenient) {
  EXPECT_EQ(DecodeHeaderText("=?x-nonsense?Q?caf=C3=A9?="), "café");          // valid UTF-8 kept
  EXPECT_EQ(DecodeHeaderText("=?x-nonsense?Q?caf=E9?="), "café");             // else windows-1252
}

TEST(MimeEncodedWords, MalformedLeftLiteral) {
  EXPECT_EQ(DecodeHeaderText("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?q?abc"), "=?utf-8?q?abc");
  EXPECT_EQ(DecodeHeaderText("price =? 5"), "price =? 5");
}

TEST(MimeEncodedWords, RawUtf8AndLatin1InHeader) {
  EXPECT_EQ(DecodeHeaderText("Gr\xC3\xBC\xC3\x9F" "e"), "Grüße");
  EXPECT_EQ(DecodeHeaderText("Gr\xFC\xDF" "e"), "Grüße");
}

TEST(MimeEncodedWords, Rfc2231LanguageInCharset) {
  EXPECT_EQ(DecodeHeaderText("=?US-ASCII*EN?Q?Keith_Moore?="), "Keith Moore");
}

TEST(MimeEncodedWords, SubjectDecodedInMessage) {
  Message m = ParseMessage("Subject: =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\n"
                           " =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?=\n\n");
  EXPECT_EQ(m.subject, "If you can read this you understand the example.");
}

// --------------------------------------------------------------- params

TEST(MimeParams, BasicAndQuoted) {
  HeaderParams p = ParseHeaderParams("Text/PLAIN; Charset=\"ISO-8859-1\"; format=flowed");
  EXPECT_EQ(p.value, "text/plain");
  ASSERT_NE(p.Find("charset"), nullptr);
  EXPECT_EQ(*p.Find("charset"), "ISO-8859-1");
  EXPECT_EQ(*p.Find("FORMAT"), "flowed");
}

TEST(MimeParams, MissingSemicolon) {
  HeaderParams p = ParseHeaderParams("text/plain charset=us-ascii");
  EXPECT_EQ(p.value, "text/plain");
  ASSERT_NE(p.Find("charset"), nullptr);
  EXPECT_EQ(*p.Find("charset"), "us-ascii");
}

TEST(MimeParams, UnquotedFilenameWithSpaces) {
  HeaderParams p = ParseHeaderParams("attachment; filename=my report.pdf");
  EXPECT_EQ(*p.Find("filename"), "my report.pdf");
}

TEST(MimeParams, Rfc2231Continuation) {
  HeaderParams p = ParseHeaderParams(
      "message/external-body; access-type=URL;\n URL*0=\"ftp://\";\n URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\"");
  EXPECT_EQ(*p.Find("url"), "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar");
}

TEST(MimeParams, Rfc2231ContinuationWithCharset) {
  HeaderParams p = ParseHeaderParams(
      "attachment; filename*0*=UTF-8''T%C3%A4st%20;\n filename*1*=%C3%A4;\n filename*2=\".txt\"");
  EXPECT_EQ(*p.Find("filename"), "Täst ä.txt");
}

TEST(MimeParams, Rfc2231OutOfOrderSegments) {
  HeaderParams p = ParseHeaderParams("attachment; name*1=\"b\"; name*0=\"a\"; name*2=\"c\"");
  EXPECT_EQ(*p.Find("name"), "abc");
}

TEST(MimeParams, Rfc2231SingleExtendedValue) {
  HeaderParams p = ParseHeaderParams("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A");
  EXPECT_EQ(*p.Find("title"), "This is ***fun***");
}

TEST(MimeParams, Rfc2231Latin1Charset) {
  HeaderParams p = ParseHeaderParams("attachment; filename*=iso-8859-1''r%E9sum%E9.doc");
  EXPECT_EQ(*p.Find("filename"), "résumé.doc");
}

TEST(MimeParams, Rfc2231WinsOverPlain) {
  HeaderParams p = ParseHeaderParams("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt");
  EXPECT_EQ(*p.Find("filename"), "€.txt");
  EXPECT_EQ(p.params.size(), 1u);
}

TEST(MimeParams, EncodedWordInParameter) {
  HeaderParams p = ParseHeaderParams("attachment; filename=\"=?UTF-8?B?w6kudHh0?=\"");
  EXPECT_EQ(*p.Find("filename"), "é.txt");
}

TEST(MimeParams, BoundaryKeptRaw) {
  HeaderParams p = ParseHeaderParams("multipart/mixed; boundary=\"=?weird?= b\"");
  EXPECT_EQ(*p.Find("boundary"), "=?weird?= b");
}

TEST(MimeParams, CommentsIgnored) {
  HeaderParams p = ParseHeaderParams("text/plain; (a comment) charset=utf-8 (another)");
  EXPECT_EQ(*p.Find("charset"), "utf-8");
}

// --------------------------------------------------------------- addresses

TEST(MimeAddress, NameAngleAddr) {
  auto v = ParseAddressList("John Doe <jdoe@machine.example>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Address{"John Doe", "jdoe@machine.example", ""}));
}

TEST(MimeAddress, QuotedNameWithSpecials) {
  auto v = ParseAddressList("<boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0], (Address{"", "boss@nil.test", ""}));
  EXPECT_EQ(v[1], (Address{"Giant; \"Big\" Box", "sysservices@example.net", ""}));
}

TEST(MimeAddress, BareAddresses) {
  auto v = ParseAddressList("a@x.test,b@y.test , c@z.test");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2].address, "c@z.test");
}

TEST(MimeAddress, Groups) {
  auto v = ParseAddressList("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;, after@x.test");
  ASSERT_EQ(v.size(), 4u);
  EXPECT_EQ(v[0], (Address{"Ed Jones", "c@a.test", "A Group"}));
  EXPECT_EQ(v[1], (Address{"", "joe@where.test", "A Group"}));
  EXPECT_EQ(v[2], (Address{"John", "jdoe@one.test", "A Group"}));
  EXPECT_EQ(v[3], (Address{"", "after@x.test", ""}));
}

TEST(MimeAddress, EmptyGroup) {
  EXPECT_TRUE(ParseAddressList("Undisclosed recipients:;").empty());
}

TEST(MimeAddress, CommentUsedAsName) {
  auto v = ParseAddressList("jdoe@example.org (John Doe)");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Address{"John Doe", "jdoe@example.org", ""}));
}

TEST(MimeAddress, CommentsInsideAngleIgnored) {
  auto v = ParseAddressList("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "Pete");
  EXPECT_EQ(v[0].address, "pete@silly.test");
}

TEST(MimeAddress, ObsoleteRoute) {
  auto v = ParseAddressList("Mary <@a.test,@b.test:mary@x.test>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Address{"Mary", "mary@x.test", ""}));
}

TEST(MimeAddress, ObsoleteSpacesAroundAt) {
  auto v = ParseAddressList("john . doe @ example . com");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].address, "john.doe@example.com");
}

TEST(MimeAddress, RawUtf8Name) {
  auto v = ParseAddressList("J\xC3\xBCrgen <j@example.com>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "Jürgen");
}

TEST(MimeAddress, Rfc2047Name) {
  auto v = ParseAddressList("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>, =?utf-8?q?Doe,_Jane?= <j@x>");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].name, "Keld Jørn Simonsen");
  EXPECT_EQ(v[1].name, "Doe, Jane");
}

TEST(MimeAddress, GarbageSalvaged) {
  auto v = ParseAddressList("John Doe jdoe@example.org");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Address{"John Doe", "jdoe@example.org", ""}));
  v = ParseAddressList("<unterminated@example.org, b@x.test");
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0].address, "unterminated@example.org");
  EXPECT_EQ(v[1].address, "b@x.test");
  v = ParseAddressList(",,, ;;: <>");
  EXPECT_TRUE(v.empty());
}

TEST(MimeAddress, BareWordIsLocalAddressNotName) {
  // CPython msg_05.txt "From: foo" / "To: baz": a local mailbox of old Unix mail.
  auto v = ParseAddressList("Whomever");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0], (Address{"", "Whomever", ""}));
  v = ParseAddressList("foo, mailer-daemon (Mail Delivery), j.doe");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], (Address{"", "foo", ""}));
  EXPECT_EQ(v[1], (Address{"Mail Delivery", "mailer-daemon", ""}));
  EXPECT_EQ(v[2].address, "j.doe");
  Message m = ParseMessage("From: foo\nTo: baz\n\n");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].address, "foo");
  EXPECT_EQ(m.from[0].name, "");
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].address, "baz");
}

TEST(MimeAddress, SeveralWordsOrQuotedOrEncodedStayNames) {
  EXPECT_EQ(ParseAddressList("John Doe")[0], (Address{"John Doe", "", ""}));
  EXPECT_EQ(ParseAddressList("\"foo\"")[0], (Address{"foo", "", ""}));
  EXPECT_EQ(ParseAddressList("=?utf-8?q?J=C3=B6rg?=")[0], (Address{"Jörg", "", ""}));
  EXPECT_TRUE(ParseAddressList("...").empty());
}

TEST(MimeAddress, MailtoInAngle) {
  auto v = ParseAddressList("Bob <mailto:bob@example.com>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].address, "bob@example.com");
}

TEST(MimeAddress, SingleQuotedName) {
  auto v = ParseAddressList("'Bob Smith' <bob@example.com>");
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].name, "Bob Smith");
}

TEST(MimeAddress, MessageFieldsFilled) {
  Message m = ParseMessage("From: A <a@x>\nTo: b@x, c@x\nTo: d@x\nCc: e@x\nReply-To: r@x\nSender: s@x\n\n");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.to.size(), 3u);  // both To fields
  EXPECT_EQ(m.cc.size(), 1u);
  EXPECT_EQ(m.reply_to[0].address, "r@x");
  EXPECT_EQ(m.sender[0].address, "s@x");
}

// --------------------------------------------------------------- dates

TEST(MimeDate, Rfc5322) {
  EXPECT_EQ(ParseDate("Tue, 1 Jul 2003 10:52:37 +0200"), Utc(2003, 7, 1, 8, 52, 37));
  EXPECT_EQ(ParseDate("Tue, 30 Dec 1969 23:32:54 -0330"), Utc(1969, 12, 31, 3, 2, 54));
}

TEST(MimeDate, ObsoleteZones) {
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 GMT"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 UT"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 EST"), Utc(1997, 11, 21, 14, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 PDT"), Utc(1997, 11, 21, 16, 55, 6));
}

TEST(MimeDate, MilitaryZoneLettersReadAsUtcPerRfc5322) {
  // RFC 5322 4.3: their sign was historically inverted, so every letter is -0000.
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 Z"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 A"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 N"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 m"), Utc(1997, 11, 21, 9, 55, 6));
  EXPECT_EQ(ParseDate("Fri, 21 Nov 1997 09:55:06 Y"), Utc(1997, 11, 21, 9, 55, 6));
}

TEST(MimeDate, LetterGluedToTimeIsMilitaryZone) {
  // stalwart malformed/019.eml: "10:00:t" is 10:00 with zone T, i.e. 10:00Z.
  EXPECT_EQ(ParseDate("Tue, 7 Apr 2026 10:00:t"), Utc(2026, 4, 7, 10, 0, 0));
  // A numeric zone after a letter still wins.
  EXPECT_EQ(ParseDate("Tue, 7 Apr 2026 10:00 T +0200"), Utc(2026, 4, 7, 8, 0, 0));
}

TEST(MimeDate, MissingWeekdayAndSeconds) {
  EXPECT_EQ(ParseDate("1 Jul 2003 10:52 +0000"), Utc(2003, 7, 1, 10, 52, 0));
}

TEST(MimeDate, TwoDigitYears) {
  EXPECT_EQ(ParseDate("Tue, 1 Jul 03 10:52:37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
  EXPECT_EQ(ParseDate("Thu, 1 Jan 98 00:00:00 GMT"), Utc(1998, 1, 1, 0, 0, 0));
}

TEST(MimeDate, ExtraText) {
  EXPECT_EQ(ParseDate("Tue, 1 Jul 2003 10:52:37 +0200 (CEST) and more"), Utc(2003, 7, 1, 8, 52, 37));
}

TEST(MimeDate, GmtPlusOffset) {
  EXPECT_EQ(ParseDate("Tue, 1 Jul 2003 10:52:37 GMT+0100"), Utc(2003, 7, 1, 9, 52, 37));
  EXPECT_EQ(ParseDate("Tue, 1 Jul 2003 10:52:37 GMT-05:00"), Utc(2003, 7, 1, 15, 52, 37));
}

TEST(MimeDate, Iso8601) {
  EXPECT_EQ(ParseDate("2003-07-01T10:52:37Z"), Utc(2003, 7, 1, 10, 52, 37));
  EXPECT_EQ(ParseDate("2003-07-01 10:52:37+02:00"), Utc(2003, 7, 1, 8, 52, 37));
  EXPECT_EQ(ParseDate("2003-07-01T10:52:37.123-0100"), Utc(2003, 7, 1, 11, 52, 37));
  EXPECT_EQ(ParseDate("2003-07-01"), Utc(2003, 7, 1, 0, 0, 0));
}

TEST(MimeDate, LowercaseMonthAndLongNames) {
  EXPECT_EQ(ParseDate("tue, 1 jul 2003 10:52:37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
  EXPECT_EQ(ParseDate("Tuesday, 1 July 2003 10:52:37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
}

TEST(MimeDate, Dots) {
  EXPECT_EQ(ParseDate("Tue, 1 Jul. 2003 10:52:37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
  EXPECT_EQ(ParseDate("01.07.2003 10:52:37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
  EXPECT_EQ(ParseDate("Tue, 1 Jul 2003 10.52.37 +0000"), Utc(2003, 7, 1, 10, 52, 37));
}

TEST(MimeDate, Asctime) {
  EXPECT_EQ(ParseDate("Tue Jul  1 10:52:37 2003"), Utc(2003, 7, 1, 10, 52, 37));
}

TEST(MimeDate, DashedDate) {
  EXPECT_EQ(ParseDate("1-Jul-2003 10:52:37 -0000"), Utc(2003, 7, 1, 10, 52, 37));
}

TEST(MimeDate, Invalid) {
  EXPECT_FALSE(ParseDate(""));
  EXPECT_FALSE(ParseDate("garbage"));
  EXPECT_FALSE(ParseDate("31 Feb 2003 10:00:00"));
  EXPECT_FALSE(ParseDate("1 Jul 2003 25:00:00"));
}

TEST(MimeDate, MessageDateField) {
  Message m = ParseMessage("Date: Wed, 17 May 2000 19:58:13 -0400\n\n");
  EXPECT_EQ(m.date, Utc(2000, 5, 17, 23, 58, 13));
  EXPECT_FALSE(ParseMessage("Date: whenever\n\n").date.has_value());
}

// --------------------------------------------------------------- transfer

TEST(MimeTransfer, Base64SkipsJunk) {
  bool bad = false;
  EXPECT_EQ(DecodeBase64("aGVs\r\nbG8g*d29y!bGQ=\n", &bad), "hello world");
  EXPECT_TRUE(bad);
}

TEST(MimeTransfer, Base64MissingPadding) {
  EXPECT_EQ(DecodeBase64("aGVsbG8"), "hello");
  EXPECT_EQ(DecodeBase64("aGVsbA"), "hell");
}

TEST(MimeTransfer, Base64ConcatenatedChunks) {
  EXPECT_EQ(DecodeBase64("aGk=aGk="), "hihi");
}

TEST(MimeTransfer, QuotedPrintable) {
  EXPECT_EQ(DecodeQuotedPrintable("caf=C3=A9 =\r\nsoft=3d=\nend"), "café soft=end");
  EXPECT_EQ(DecodeQuotedPrintable("lower =c3=a9"), "lower é");
}

TEST(MimeTransfer, QuotedPrintableMalformedKeptLiterally) {
  EXPECT_EQ(DecodeQuotedPrintable("a=zz b= c=4"), "a=zz b= c=4");
  EXPECT_EQ(DecodeQuotedPrintable("trailing   \nnext"), "trailing\nnext");
}

TEST(MimeTransfer, QuotedPrintableHeaderMode) {
  EXPECT_EQ(DecodeQuotedPrintable("a_b=5F", true), "a b_");
}

TEST(MimeTransfer, IdentityEncodings) {
  EXPECT_EQ(DecodeTransfer("x=41", "7bit"), "x=41");
  EXPECT_EQ(DecodeTransfer("x=41", "8BIT"), "x=41");
  EXPECT_EQ(DecodeTransfer("x=41", "binary"), "x=41");
  EXPECT_EQ(DecodeTransfer("x=41", " Quoted-Printable "), "xA");
  EXPECT_EQ(DecodeTransfer("eA==", "BASE64"), "x");
  EXPECT_EQ(DecodedSize("aGVsbG8gd29ybGQ=", "base64"), 11u);
}

const char kUu[] =
    "begin 644 cat.txt\n"
    "#0V%T\n"
    "`\n"
    "end\n";

TEST(MimeTransfer, UuencodedBlocks) {
  auto blocks = FindUuencodedBlocks(std::string("Look:\n") + kUu + "bye\n");
  ASSERT_EQ(blocks.size(), 1u);
  EXPECT_EQ(blocks[0].first, "cat.txt");
  EXPECT_EQ(blocks[0].second, "Cat");
}

TEST(MimeTransfer, UuencodeInTextReportedAsAttachment) {
  Message m = ParseMessage(std::string("Subject: uu\n\nLook:\n") + kUu + "bye\n");
  EXPECT_EQ(m.attachments, (std::vector<std::string>{"cat.txt"}));
  EXPECT_EQ(m.text, "Look:\nbye");
}

TEST(MimeTransfer, XUuencodeTransferEncoding) {
  EXPECT_EQ(DecodeTransfer(kUu, "x-uuencode"), "Cat");
}

// --------------------------------------------------------------- charsets

TEST(MimeCharset, Utf8PassesAndInvalidBecomesReplacement) {
  EXPECT_EQ(ToUtf8("caf\xC3\xA9", "utf-8"), "café");
  bool bad = false;
  EXPECT_EQ(ToUtf8("a\xFF" "b", "UTF-8", &bad), "a\xEF\xBF\xBD" "b");
  EXPECT_TRUE(bad);
  EXPECT_EQ(SanitizeUtf8("\xC0\xAF\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MimeCharset, Latin1IsWindows1252) {
  EXPECT_EQ(ToUtf8("\xE9\x80", "iso-8859-1"), "é€");
  EXPECT_EQ(ToUtf8("\x93q\x94", "Windows-1252"), "“q”");
}

TEST(MimeCharset, Ks_c_5601Alias) {
  // "한국" in CP949/EUC-KR.
  EXPECT_EQ(ToUtf8("\xC7\xD1\xB1\xB9", "ks_c_5601-1987"), "한국");
}

TEST(MimeCharset, GbAliasesUseGb18030) {
  // "中文" in GB2312; 0x95 0x41 is GBK-only (U+6B9F? any valid char).
  EXPECT_EQ(ToUtf8("\xD6\xD0\xCE\xC4", "gb2312"), "中文");
  EXPECT_EQ(ToUtf8("\xD6\xD0\xCE\xC4", "x-gbk"), "中文");
  EXPECT_EQ(ToUtf8("\xD6\xD0\xCE\xC4", "GB_2312-80"), "中文");
  bool bad = false;
  const std::string gbk_only = ToUtf8("\x81\x40", "gb2312", &bad);  // 丂 U+4E02, GBK only
  EXPECT_EQ(gbk_only, "丂");
  EXPECT_FALSE(bad);
}

TEST(MimeCharset, Utf7Alias) {
  EXPECT_EQ(ToUtf8("Hi Mom -+Jjo--!", "unicode-1-1-utf-7"), "Hi Mom -☺-!");
  EXPECT_EQ(ToUtf8("+AOk-", "utf-7"), "é");
}

TEST(MimeCharset, Iso88598iAlias) {
  EXPECT_EQ(ToUtf8("\xF9\xEC\xE5\xED", "iso-8859-8-i"), "שלום");
}

TEST(MimeCharset, MacRomanAlias) {
  EXPECT_EQ(ToUtf8("\x8E", "x-mac-roman"), "é");
}

TEST(MimeCharset, Windows125x) {
  EXPECT_EQ(ToUtf8("\xCF\xF0\xE8\xE2\xE5\xF2", "windows-1251"), "Привет");
  EXPECT_EQ(ToUtf8("\xB9", "cp1250"), "ą");
}

// Python- and vendor-style spellings of known charsets decode as that
// charset, not as the windows-1252 fallback.
TEST(MimeCharset, AliasSpellingsDecodeAsTheirCharset) {
  struct Case {
    const char* label;
    std::string bytes;
    const char* utf8;
  };
  const Case cases[] = {
      {"eucgb2312_cn", "\xD6\xD0\xCE\xC4", "中文"},
      {"gb2312_80", "\xD6\xD0\xCE\xC4", "中文"},
      {"GB2312_1980", "\xD6\xD0\xCE\xC4", "中文"},
      {"euc_cn", "\xD6\xD0\xCE\xC4", "中文"},
      {"ms936", "\xD6\xD0\xCE\xC4", "中文"},
      {"euc_kr", "\xC7\xD1\xB1\xB9", "한국"},
      {"ks_c_5601_1987", "\xC7\xD1\xB1\xB9", "한국"},
      {"KS_C_5601-1987", "\xC7\xD1\xB1\xB9", "한국"},
      {"uhc", "\xC7\xD1\xB1\xB9", "한국"},
      {"x-sjis", "\x93\xFA\x96\x7B", "日本"},
      {"shift-jis", "\x93\xFA\x96\x7B", "日本"},
      {"s_jis", "\x93\xFA\x96\x7B", "日本"},
      {"ms_kanji", "\x93\xFA\x96\x7B", "日本"},
      {"ms932", "\x93\xFA\x96\x7B", "日本"},
      {"euc_jp", "\xC6\xFC\xCB\xDC", "日本"},
      {"ujis", "\xC6\xFC\xCB\xDC", "日本"},
      {"iso8859_2", "\xB1", "ą"},
      {"iso_8859_2", "\xB1", "ą"},
      {"latin_2", "\xB1", "ą"},
      {"l2", "\xB1", "ą"},
      {"iso8859_1", "\xE9\x80", "é€"},
      {"latin_1", "\xE9", "é"},
      {"cp1252", "\x93q\x94", "“q”"},
      {"windows_1251", "\xCF\xF0\xE8\xE2\xE5\xF2", "Привет"},
      {"x-cp1251", "\xCF\xF0\xE8\xE2\xE5\xF2", "Привет"},
      {"koi8_r", "\xF0\xD2\xC9\xD7\xC5\xD4", "Привет"},
      {"x-mac-cyrillic", "\x8F\xF0\xE8\xE2\xE5\xF2", "Привет"},
      {"mac_cyrillic", "\x8F\xF0\xE8\xE2\xE5\xF2", "Привет"},
      {"x-mac-ce", "\x88", "ą"},
      {"mac_latin2", "\x88", "ą"},
      {"x-mac-ukrainian", "\x8F\xF0\xE8\xE2\xE5\xF2", "Привет"},
      {"macroman", "\x8E", "é"},
      {"mac_roman", "\x8E", "é"},
      {"utf8", "caf\xC3\xA9", "café"},
      {"utf_8", "caf\xC3\xA9", "café"},
      {"UTF-8", "caf\xC3\xA9", "café"},
      {"big5_tw", "\xA4\xA4\xA4\xE5", "中文"},
      {"big5_hkscs", "\xA4\xA4\xA4\xE5", "中文"},
      {"cp950", "\xA4\xA4\xA4\xE5", "中文"},
      {"windows_874", "\xA1", "ก"},
      {"tis_620", "\xA1", "ก"},
      {"iso_2022_jp", "\x1B$BF|K\\\x1B(B", "日本"},
      {"csISO2022JP", "\x1B$BF|K\\\x1B(B", "日本"},
      {"utf_7", "+AOk-", "é"},
      {"utf_16_le", std::string("h\0i\0", 4), "hi"},
  };
  for (const Case& c : cases) {
    bool bad = false;
    EXPECT_EQ(ToUtf8(c.bytes, c.label, &bad), c.utf8) << c.label;
    EXPECT_FALSE(bad) << c.label;
  }
  // Unknown names still fall back (UTF-8 if valid, else windows-1252).
  EXPECT_EQ(ToUtf8("caf\xE9", "x_no_such_charset"), "café");
  EXPECT_EQ(ToUtf8("caf\xE9", "x-mac-klingon"), "café");
}

TEST(MimeCharset, UnlabelledUtf8OrWindows1252) {
  for (const char* label : {"", "x-unknown", "unknown", "us-ascii"}) {
    EXPECT_EQ(ToUtf8("caf\xC3\xA9", label), "café") << label;
    EXPECT_EQ(ToUtf8("caf\xE9", label), "café") << label;
  }
}

TEST(MimeCharset, UnknownCharsetFallsBack) {
  EXPECT_EQ(ToUtf8("caf\xE9", "x-does-not-exist"), "café");
  EXPECT_EQ(ToUtf8("caf\xE9", "bad//TRANSLIT"), "café");
}

TEST(MimeCharset, GarbageBecomesReplacement) {
  bool bad = false;
  const std::string s = ToUtf8("\xC7", "cp949", &bad);  // truncated double-byte
  EXPECT_EQ(s, "\xEF\xBF\xBD");
  EXPECT_TRUE(bad);
}

TEST(MimeCharset, Utf16IsNotMistakenForAscii) {
  EXPECT_EQ(ToUtf8(std::string("h\0i\0", 4), "utf-16le"), "hi");
  EXPECT_EQ(ToUtf8(std::string("\xFF\xFEh\0i\0", 6), "UTF-16"), "hi");
}

TEST(MimeCharset, Iso2022Jp) {
  EXPECT_EQ(ToUtf8("\x1B$B$3$s$K$A$O\x1B(B", "iso-2022-jp"), "こんにちは");
}

TEST(MimeCharset, HzGb2312DecodedWithoutIconvSupport) {
  // cpython-cjkencodings hz.txt: GB2312 with the high bits cleared between ~{ and ~}.
  bool bad = false;
  EXPECT_EQ(ToUtf8("The next sentence is in GB.~{<:Ky2;S{#,NpJ)l6HK!#~}Bye.\n", "hz-gb-2312", &bad),
            "The next sentence is in GB.己所不欲，勿施於人。Bye.\n");
  EXPECT_FALSE(bad);
  EXPECT_EQ(ToUtf8("~{<:Ky2;~}", "HZ"), "己所不");
  // "~~" is a tilde, "~" + newline a line continuation.
  EXPECT_EQ(ToUtf8("a~~b~\nc~\r\nd", "hz"), "a~bcd");
  // Pure ASCII labelled HZ still goes through the decoder.
  EXPECT_EQ(ToUtf8("x~~y", "hz-gb-2312"), "x~y");
}

TEST(MimeCharset, HzMalformedBecomesReplacement) {
  bool bad = false;
  EXPECT_EQ(ToUtf8("~{<:K", "hz", &bad), "己\xEF\xBF\xBD");  // odd byte at the end of GB mode
  EXPECT_TRUE(bad);
  bad = false;
  EXPECT_EQ(ToUtf8("~{<:\nok", "hz", &bad), "己\nok");  // a line break ends GB mode
  EXPECT_FALSE(bad);
  EXPECT_EQ(ToUtf8("~{<:", "hz"), "己");  // unterminated at the end
  EXPECT_EQ(ToUtf8("a\xB1" "b", "hz"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(ToUtf8("~x", "hz"), "~x");
}

TEST(MimeCharset, ShiftJis) {
  EXPECT_EQ(ToUtf8("\x82\xB1\x82\xF1", "shift_jis"), "こん");
}

// --------------------------------------------------------------- html

TEST(MimeHtml, TagsStrippedAndEntitiesDecoded) {
  EXPECT_EQ(HtmlToText("<p>Hello&nbsp;<b>w&ouml;rld</b> &amp; &#233;&#x20AC;&lt;</p>"), "Hello wörld & é€<");
}

TEST(MimeHtml, DropsScriptAndStyle) {
  EXPECT_EQ(HtmlToText("<html><head><style>p{color:red}</style><script>var x = '<p>';</script></head>"
                       "<body>Text<SCRIPT type=x>evil()</SCRIPT> here</body></html>"),
            "Text here");
}

TEST(MimeHtml, CommentsDropped) {
  EXPECT_EQ(HtmlToText("a<!-- <b>hidden</b> -->b"), "ab");
}

TEST(MimeHtml, BlockElementsBreakLines) {
  EXPECT_EQ(HtmlToText("<div>one</div><div>two<br>three</div>"), "one\ntwo\nthree");
}

TEST(MimeHtml, AttributesWithGreaterThan) {
  EXPECT_EQ(HtmlToText("<a title=\"a > b\" href='x'>link</a>"), "link");
}

TEST(MimeHtml, LoneLessThanIsText) {
  EXPECT_EQ(HtmlToText("1 < 2 & 3"), "1 < 2 & 3");
}

TEST(MimeHtml, HtmlOnlyMessageTextExtracted) {
  Message m = ParseMessage("Content-Type: text/html; charset=iso-8859-1\n\n<p>caf\xE9</p>");
  EXPECT_EQ(m.text, "café");
}

TEST(MimeHtml, MetaCharsetUsedWhenUnlabelled) {
  Message m = ParseMessage(
      "Content-Type: text/html\n\n<meta http-equiv=Content-Type content=\"text/html; charset=windows-1251\">"
      "<p>\xCF\xF0\xE8\xE2\xE5\xF2</p>");
  EXPECT_EQ(m.text, "Привет");
}

// --------------------------------------------------------------- MIME tree

const char kNested[] =
    "From: Alice <alice@example.com>\n"
    "To: Bob <bob@example.com>\n"
    "Subject: nested\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "preamble is ignored\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Plain caf=C3=A9\n"
    "--inner\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>HTML version</p>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pdf; name=\"doc.pdf\"\n"
    "Content-Disposition: attachment; filename=\"C:\\\\tmp\\\\doc.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-ID: <part3@x>\n"
    "\n"
    "aGVsbG8gd29ybGQ=\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: Carol <carol@example.com>\n"
    "Subject: inner message\n"
    "Content-Type: multipart/mixed; boundary=deep\n"
    "\n"
    "--deep\n"
    "Content-Type: text/plain\n"
    "\n"
    "Forwarded text\n"
    "--deep\n"
    "Content-Type: image/png\n"
    "Content-Disposition: inline; filename=pic.png\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "iVBORw0KGgo=\n"
    "--deep--\n"
    "--outer--\n"
    "epilogue is ignored\n";

TEST(MimeTree, NestedMultipartPathsAndTypes) {
  for (const std::string& raw : {std::string(kNested), Crlf(kNested)}) {
    Message m = ParseMessage(raw);
    std::vector<std::string> paths, types;
    for (const auto& p : m.parts) {
      paths.push_back(p.path);
      types.push_back(p.content_type);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1", "1.2", "2", "3", "3.TEXT", "3.1", "3.2"}));
    EXPECT_EQ(types, (std::vector<std::string>{"multipart/mixed", "multipart/alternative", "text/plain",
                                               "text/html", "application/pdf", "message/rfc822",
                                               "multipart/mixed", "text/plain", "image/png"}));
    EXPECT_EQ(m.parts[2].depth, 2);
    EXPECT_EQ(m.parts[6].depth, 2);
    EXPECT_EQ(m.parts[7].depth, 3);
    EXPECT_TRUE(m.parts[0].is_multipart);
    EXPECT_TRUE(m.parts[5].is_message);
    EXPECT_EQ(m.defects, 0u);
  }
}

TEST(MimeTree, AttachmentFields) {
  Message m = ParseMessage(kNested);
  const Part& pdf = m.parts[4];
  EXPECT_EQ(pdf.filename, "doc.pdf");  // directory removed
  EXPECT_EQ(pdf.disposition, "attachment");
  EXPECT_EQ(pdf.transfer_encoding, "base64");
  EXPECT_EQ(pdf.content_id, "part3@x");
  EXPECT_EQ(pdf.size, 11u);
  EXPECT_TRUE(pdf.is_attachment);
  EXPECT_EQ(std::string_view(kNested).substr(pdf.body_offset, pdf.body_length), "aGVsbG8gd29ybGQ=");
  EXPECT_EQ(m.attachments, (std::vector<std::string>{"doc.pdf", "pic.png"}));
  EXPECT_EQ(m.parts[2].charset, "utf-8");
}

// A detached signature (multipart/signed's second part) is not an
// attachment, named or not (notmuch and mu count them the same way).
TEST(MimeTree, SignaturePartsAreNotAttachments) {
  for (const char* type : {"application/pgp-signature", "application/pkcs7-signature",
                           "Application/X-PKCS7-Signature"}) {
    const std::string raw = std::string(
                                "From: a@example.com\nSubject: signed\nContent-Type: multipart/signed; boundary=b\n\n"
                                "--b\nContent-Type: multipart/mixed; boundary=c\n\n"
                                "--c\nContent-Type: text/plain\n\nhello\n"
                                "--c\nContent-Type: image/png; name=pic.png\nContent-Disposition: attachment\n\nPNG\n"
                                "--c--\n"
                                "--b\nContent-Type: ") +
                            type + "; name=sig.asc\nContent-Disposition: attachment; filename=sig.asc\n\nSIG\n--b--\n";
    const Message m = ParseMessage(raw);
    ASSERT_EQ(m.parts.size(), 5u) << type;
    EXPECT_TRUE(m.parts[3].is_attachment) << type;
    EXPECT_FALSE(m.parts[4].is_attachment) << type;
    EXPECT_EQ(m.parts[4].filename, "sig.asc");
    EXPECT_EQ(m.attachments, (std::vector<std::string>{"pic.png"})) << type;
  }
  EXPECT_TRUE(IsAttachment("application/pdf", "", "a.pdf"));
  EXPECT_TRUE(IsAttachment("application/octet-stream", "attachment", ""));
  EXPECT_FALSE(IsAttachment("text/plain", "inline", ""));
  EXPECT_FALSE(IsAttachment("application/pgp-signature", "attachment", "signature.asc"));
  EXPECT_FALSE(IsAttachment("multipart/mixed", "attachment", "x.zip"));
  // Encrypted data and keys are attachments: only detached signatures are not.
  EXPECT_TRUE(IsAttachment("application/pgp-keys", "attachment", "key.asc"));
  EXPECT_TRUE(IsAttachment("application/pkcs7-mime", "attachment", "smime.p7m"));
}

TEST(MimeTree, TextPrefersPlainAlternativeAndIncludesForwarded) {
  Message m = ParseMessage(kNested);
  EXPECT_EQ(m.text, "Plain café\n\nForwarded text");
  EXPECT_EQ(m.subject, "nested");  // inner Subject does not leak
  EXPECT_EQ(m.from[0].address, "alice@example.com");
}

TEST(MimeTree, HtmlUsedWhenAlternativeHasNoPlain) {
  Message m = ParseMessage(
      "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain\n\n\n--b\n"
      "Content-Type: text/html\n\n<b>only html</b>\n--b--\n");
  EXPECT_EQ(m.text, "only html");
}

TEST(MimeTree, SinglePartRootIsOne) {
  Message m = ParseMessage("Subject: x\n\nhello\n");
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.parts[0].path, "1");
  EXPECT_EQ(m.parts[0].content_type, "text/plain");
  EXPECT_EQ(m.text, "hello");
}

TEST(MimeTree, OffsetsPointIntoRaw) {
  const std::string raw = "Subject: x\r\n\r\nhello\r\n";
  Message m = ParseMessage(raw);
  EXPECT_EQ(m.parts[0].header_offset, 0u);
  EXPECT_EQ(m.parts[0].body_offset, 14u);
  EXPECT_EQ(m.parts[0].body_length, 7u);
}

TEST(MimeTree, MultipartWithoutFinalBoundary) {
  Message m = ParseMessage("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n");
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.text, "one\n\ntwo");
  EXPECT_TRUE(m.defects & kDefectNoFinalBoundary);
}

TEST(MimeTree, MissingBoundaryParameterIsGuessed) {
  Message m = ParseMessage("Content-Type: multipart/mixed\n\n--guess\n\none\n--guess\n\ntwo\n--guess--\n");
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.text, "one\n\ntwo");
  EXPECT_TRUE(m.defects & kDefectMissingBoundary);
}

TEST(MimeTree, EmptyBoundaryParameter) {
  Message m = ParseMessage("Content-Type: multipart/mixed; boundary=\"\"\n\n--x\n\none\n--x--\n");
  EXPECT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text, "one");
}

TEST(MimeTree, BoundaryNeverAppearsKeepsBodyAsText) {
  Message m = ParseMessage("Content-Type: multipart/mixed; boundary=zzz\n\njust text\n");
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_EQ(m.text, "just text");
  EXPECT_TRUE(m.defects & kDefectMissingBoundary);
}

TEST(MimeTree, DuplicateBoundaryMakesEmptyPart) {
  Message m = ParseMessage("Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\ntwo\n--b--\n");
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].body_length, 0u);
  EXPECT_EQ(m.text, "two");
}

TEST(MimeTree, NestedSameBoundaryDoesNotLoop) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=b\n\n"
      "--b\n\ninner\n--b--\n");
  EXPECT_GE(m.parts.size(), 2u);
  EXPECT_LE(m.parts.size(), 4u);
}

TEST(MimeTree, BoundaryPrefixOfAnother) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=b-2\n\n"
      "--b-2\n\nalt one\n--b-2--\n--b\n\nsecond\n--b--\n");
  std::vector<std::string> paths;
  for (const auto& p : m.parts) paths.push_back(p.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1", "2"}));
}

TEST(MimeTree, BoundaryWithTrailingWhitespace) {
  Message m = ParseMessage("Content-Type: multipart/mixed; boundary=b\n\n--b  \n\none\n--b-- \t\n");
  EXPECT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text, "one");
}

TEST(MimeTree, BoundaryLineWithTextAfterBlankIsDelimiter) {
  // mime4j testmsgs/ending-boundaries.msg: text after the boundary and a blank.
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b This should be ignored\n\none\n"
      "--b-- and so should this\nepilogue\n");
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text, "one");
  EXPECT_FALSE(m.defects & kDefectNoFinalBoundary);
  // "--bX" is a longer token, not a delimiter of "b"; nor is "--b--X".
  m = ParseMessage("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--bX\ntwo\n--b--X\n--b--\n");
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text, "one\n--bX\ntwo\n--b--X");
}

TEST(MimeTree, InnerBoundaryExtendingOuterIsMatchedFirst) {
  // stalwart malformed/005.eml: outer "a--", inner "a----". "--a----" is the
  // inner delimiter (innermost boundary first), not the outer's close.
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=\"a--\"\n\n--a--\n"
      "Content-Type: multipart/mixed; boundary=\"a----\"\n\n--a----\nContent-Type: text/plain\n\nbody\n"
      "--a------\nContent-Type: text/html\n\nbody2\n--a----";
  for (const std::string& r : {raw, Crlf(raw)}) {
    Message m = ParseMessage(r);
    std::vector<std::string> paths, types;
    for (const auto& p : m.parts) {
      paths.push_back(p.path);
      types.push_back(p.content_type);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1"}));
    EXPECT_EQ(types, (std::vector<std::string>{"multipart/mixed", "multipart/mixed", "text/plain"}));
    EXPECT_EQ(m.text, "body");  // the html is the inner epilogue
    EXPECT_FALSE(m.defects & kDefectNoFinalBoundary);
  }
}

TEST(MimeTree, OuterDelimiterEndsUnclosedInnerMultipart) {
  // stalwart malformed/009.eml (as GMime and Dovecot read it): the inner
  // multipart never closes; the outer "--1" ends it and starts a sibling.
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=\"1\"\n\n--1\nContent-Type: multipart/mixed; boundary=\"2\"\n\n"
      "--2\nContent-Type: text/plain\n\n1\n--2\nContent-Type: text/plain\n\n22\n--1\nContent-Type: text/plain\n\n333\n";
  Message m = ParseMessage(raw);
  std::vector<std::string> paths;
  for (const auto& p : m.parts) paths.push_back(p.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1", "1.2", "2"}));
  EXPECT_EQ(m.text, "1\n\n22\n\n333");
  EXPECT_TRUE(m.defects & kDefectNoFinalBoundary);
  // The inner container and its last part end before the outer delimiter line.
  EXPECT_EQ(raw.substr(m.parts[1].body_offset + m.parts[1].body_length, 5), "\n--1\n");
  EXPECT_EQ(m.parts[1].body_offset + m.parts[1].body_length, m.parts[3].body_offset + m.parts[3].body_length);
}

TEST(MimeTree, NestedSameBoundaryInnerClosesThenOuterContinues) {
  // CPython msg_15.txt: the alternative reuses the outer boundary. Innermost
  // first, its close pops it and the next delimiter is the outer's again,
  // so the attachment after it is kept (GMime does the same).
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: multipart/alternative; boundary=X\n\n"
      "--X\nContent-Type: text/plain\n\nplain\n--X\nContent-Type: text/html\n\n<p>html</p>\n--X--\n\n"
      "--X\nContent-Type: image/gif; name=xx.gif\nContent-Transfer-Encoding: base64\n\nR0lG\n--X--\n");
  std::vector<std::string> paths;
  for (const auto& p : m.parts) paths.push_back(p.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1", "1.2", "2"}));
  EXPECT_EQ(m.attachments, (std::vector<std::string>{"xx.gif"}));
  EXPECT_EQ(m.text, "plain");
}

TEST(MimeTree, DelimiterAtEndOfInputStartsNoPart) {
  // stalwart malformed/014.eml: a last "--1" with nothing after it.
  const std::string raw = "Content-Type: multipart/mixed; boundary=\"1\"\n\n--1\nContent-Type: text/plain\n\nhello\n--1\n";
  Message m = ParseMessage(raw);
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.text, "hello");
  EXPECT_TRUE(m.defects & kDefectNoFinalBoundary);
  EXPECT_EQ(m.parts[0].body_offset + m.parts[0].body_length, raw.size());
  EXPECT_EQ(raw.substr(m.parts[1].body_offset, m.parts[1].body_length), "hello");
}

TEST(MimeTree, BoundaryLineEndsHeaderWithoutBlankLine) {
  // stalwart malformed/007.eml: the inner multipart's header runs straight
  // into its first delimiter; that line is not junk to skip.
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\nContent-Type: multipart/mixed; boundary=\"ab\"\n"
      "MIME-Version: 1.0\n--ab\nContent-Type: text/plain\n\n--ab--\n--a--\n");
  std::vector<std::string> types;
  for (const auto& p : m.parts) types.push_back(p.content_type);
  EXPECT_EQ(types, (std::vector<std::string>{"multipart/mixed", "multipart/mixed", "text/plain"}));
}

TEST(MimeTree, PartHeaderStopsAtDelimiter) {
  // A part with a header and no blank line before the next delimiter.
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n--b\nContent-Type: text/plain\n\nx\n--b--\n");
  ASSERT_EQ(m.parts.size(), 3u);
  EXPECT_EQ(m.parts[1].content_type, "text/html");
  EXPECT_EQ(m.parts[1].body_length, 0u);
  EXPECT_EQ(m.parts[2].content_type, "text/plain");
  EXPECT_EQ(m.text, "x");
}

constexpr char kBase64Rfc822[] =
    "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nouter\n--b\n"
    "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n"
    // "Subject: in\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner text\n--i\n"
    // "Content-Type: application/pdf; name=a.pdf\n\n%PDF\n--i--\n"
    "U3ViamVjdDogaW4KQ29udGVudC1UeXBlOiBtdWx0aXBhcnQvYWx0ZXJuYXRpdmU7IGJvdW5kYXJ5\n"
    "PWkKCi0taQoKaW5uZXIgdGV4dAotLWkKQ29udGVudC1UeXBlOiBhcHBsaWNhdGlvbi9wZGY7IG5h\n"
    "bWU9YS5wZGYKCiVQREYKLS1pLS0K\n"
    "--b--\n";

TEST(MimeTree, Base64MessageRfc822ParsedFromDecodedBody) {
  // mime4j testmsgs/base64encoded-rfc822message*.msg.
  Message m = ParseMessage(kBase64Rfc822);
  std::vector<std::string> paths, types;
  for (const auto& p : m.parts) {
    paths.push_back(p.path);
    types.push_back(p.content_type);
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "2", "2.TEXT", "2.1", "2.2"}));
  EXPECT_EQ(types, (std::vector<std::string>{"multipart/mixed", "text/plain", "message/rfc822",
                                             "multipart/alternative", "text/plain", "application/pdf"}));
  const Part& msg = m.parts[2];
  EXPECT_TRUE(msg.is_message);
  EXPECT_FALSE(msg.in_decoded);  // its own offsets are in raw
  EXPECT_EQ(msg.size, msg.body_length);
  EXPECT_EQ(m.text, "outer\n\ninner text");
  EXPECT_EQ(m.attachments, (std::vector<std::string>{"a.pdf"}));
  EXPECT_EQ(m.subject, "");  // the inner Subject does not leak
  // Inner parts' offsets point into the container's decoded body.
  const std::string decoded =
      DecodeTransfer(std::string_view(kBase64Rfc822).substr(msg.body_offset, msg.body_length), msg.transfer_encoding);
  for (size_t i = 3; i < m.parts.size(); ++i) {
    const Part& p = m.parts[i];
    EXPECT_TRUE(p.in_decoded) << p.path;
    ASSERT_LE(p.body_offset + p.body_length, decoded.size());
  }
  EXPECT_EQ(m.parts[3].header_offset, 0u);
  EXPECT_EQ(decoded.substr(m.parts[4].body_offset, m.parts[4].body_length), "inner text");
  EXPECT_EQ(decoded.substr(m.parts[5].body_offset, m.parts[5].body_length), "%PDF");
  for (size_t i = 0; i < 3; ++i) EXPECT_FALSE(m.parts[i].in_decoded);
}

TEST(MimeTree, QuotedPrintableMessageRfc822SinglePart) {
  Message m = ParseMessage(
      "Content-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\n"
      "Subject: x\nContent-Type: text/plain; charset=3Dutf-8\n\ncaf=C3=A9 =\nau lait\n");
  std::vector<std::string> paths;
  for (const auto& p : m.parts) paths.push_back(p.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"1", "1.1"}));
  EXPECT_EQ(m.parts[1].charset, "utf-8");
  EXPECT_EQ(m.text, "café au lait");
}

TEST(MimeTree, NestedEncodedMessagesEachDecodedOnce) {
  // base64(message/rfc822 whose body is base64(message/rfc822 text))
  // mime4j testmsgs/base64encoded-rfc822message-nested.msg.
  const std::string inner = "Subject: deepest\n\ndeep text\n";
  const std::string mid = "Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" +
                          std::string("U3ViamVjdDogZGVlcGVzdAoKZGVlcCB0ZXh0Cg==\n");
  ASSERT_EQ(DecodeBase64("U3ViamVjdDogZGVlcGVzdAoKZGVlcCB0ZXh0Cg=="), inner);
  std::string outer_b64;
  {
    // Encode `mid` with the decoder's inverse, checked by round trip.
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < mid.size(); i += 3) {
      uint32_t v = static_cast<unsigned char>(mid[i]) << 16;
      if (i + 1 < mid.size()) v |= static_cast<unsigned char>(mid[i + 1]) << 8;
      if (i + 2 < mid.size()) v |= static_cast<unsigned char>(mid[i + 2]);
      outer_b64 += k[(v >> 18) & 63];
      outer_b64 += k[(v >> 12) & 63];
      outer_b64 += i + 1 < mid.size() ? k[(v >> 6) & 63] : '=';
      outer_b64 += i + 2 < mid.size() ? k[v & 63] : '=';
    }
    ASSERT_EQ(DecodeBase64(outer_b64), mid);
  }
  Message m = ParseMessage("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n" + outer_b64 + "\n");
  std::vector<std::string> types, paths;
  for (const auto& p : m.parts) {
    types.push_back(p.content_type);
    paths.push_back(p.path);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"message/rfc822", "message/rfc822", "text/plain"}));
  EXPECT_EQ(paths, (std::vector<std::string>{"1", "1.1", "1.1.1"}));
  EXPECT_EQ(m.text, "deep text");
  EXPECT_FALSE(m.parts[0].in_decoded);
  EXPECT_TRUE(m.parts[1].in_decoded);
  EXPECT_TRUE(m.parts[2].in_decoded);
  // parts[2] is relative to parts[1]'s decoded body, itself inside parts[0]'s.
  const std::string d1 = DecodeBase64(outer_b64);
  const std::string d2 = DecodeTransfer(std::string_view(d1).substr(m.parts[1].body_offset, m.parts[1].body_length),
                                        m.parts[1].transfer_encoding);
  EXPECT_EQ(d2.substr(m.parts[2].body_offset, m.parts[2].body_length), "deep text\n");
}

TEST(MimeTree, EncodedMessageAtDepthLimitStaysLeaf) {
  ParseLimits lim;
  lim.max_depth = 0;
  Message m = ParseMessage(std::string("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n") +
                               "U3ViamVjdDogZGVlcGVzdAoKZGVlcCB0ZXh0Cg==\n",
                           lim);
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_FALSE(m.parts[0].is_message);
  EXPECT_EQ(m.parts[0].size, 28u);
  EXPECT_TRUE(m.text.empty());
}

TEST(MimeTree, MessageRfc822SinglePart) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: in\n\nbody in\n--b--\n");
  std::vector<std::string> paths;
  for (const auto& p : m.parts) paths.push_back(p.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"", "1", "1.1"}));
  EXPECT_EQ(m.text, "body in");
}

TEST(MimeTree, DigestDefaultsToMessage) {
  Message m = ParseMessage(
      "Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: one\n\nfirst\n--d\n\nSubject: two\n\nsecond\n--d--\n");
  ASSERT_EQ(m.parts.size(), 5u);
  EXPECT_EQ(m.parts[1].content_type, "message/rfc822");
  EXPECT_EQ(m.text, "first\n\nsecond");
}

TEST(MimeTree, UnusableContentTypeDefaultsToTextPlain) {
  EXPECT_EQ(ParseMessage("Content-Type: garbage\n\nx").parts[0].content_type, "text/plain");
  EXPECT_EQ(ParseMessage("Content-Type: TEXT/HTML\n\nx").parts[0].content_type, "text/html");
}

TEST(MimeTree, NamedInlineTextIsAttachmentButIndexed) {
  Message m = ParseMessage(
      "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n--b\nContent-Type: text/plain; name=notes.txt\n"
      "Content-Disposition: inline; filename=notes.txt\n\nnotes\n--b\nContent-Type: text/plain\n"
      "Content-Disposition: attachment; filename=log.txt\n\nlog content\n--b--\n");
  EXPECT_EQ(m.attachments, (std::vector<std::string>{"notes.txt", "log.txt"}));
  EXPECT_EQ(m.text, "body\n\nnotes");
}

TEST(MimeTree, TextCharsetConverted) {
  Message m = ParseMessage(
      "Content-Type: text/plain; charset=koi8-r\nContent-Transfer-Encoding: base64\n\n8NLJ18XU\n");
  EXPECT_EQ(m.text, "Привет");
}

TEST(MimeTree, BadBase64FlagsDefect) {
  Message m = ParseMessage("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n//79\n");
  EXPECT_TRUE(m.defects & kDefectBadEncoding);
  EXPECT_EQ(m.text, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(MimeTree, DefectsWithoutTextAreWhatAParseWithoutTextReports) {
  ParseLimits no_text;
  no_text.extract_text = false;
  const std::string bad_text = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\n//79\n";
  const std::string bad_uu = "Content-Type: text/plain\n\nbegin 644 a.bin\n#0V%T\n`\nend\n\xff\n";
  for (const std::string& raw : {bad_text, bad_uu, std::string(kNested), std::string("no header at all")}) {
    const Message with = ParseMessage(raw);
    const Message without = ParseMessage(raw, no_text);
    EXPECT_EQ(with.defects_without_text, without.defects) << raw;
    EXPECT_EQ(without.defects_without_text, without.defects) << raw;
  }
  EXPECT_TRUE(ParseMessage(bad_text).defects & kDefectBadEncoding);
  EXPECT_FALSE(ParseMessage(bad_text).defects_without_text & kDefectBadEncoding);
}

TEST(MimeTree, ExtractTextOffSkipsText) {
  ParseLimits lim;
  lim.extract_text = false;
  Message m = ParseMessage(kNested, lim);
  EXPECT_TRUE(m.text.empty());
  EXPECT_EQ(m.parts.size(), 9u);
  EXPECT_EQ(m.attachments.size(), 2u);
}

// --------------------------------------------------------------- limits

std::string DeepMessage(int levels) {
  std::string head, tail;
  for (int i = 0; i < levels; ++i) {
    head += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\n\n--b" + std::to_string(i) + "\n";
    tail = "\n--b" + std::to_string(i) + "--\n" + tail;
  }
  return head + "Content-Type: text/plain\n\ndeepest" + tail;
}

TEST(MimeLimits, DepthLimitKeepsRestAsBody) {
  ParseLimits lim;
  lim.max_depth = 3;
  Message m = ParseMessage(DeepMessage(10), lim);
  EXPECT_TRUE(m.defects & kDefectTooDeep);
  EXPECT_EQ(m.parts.size(), 4u);  // depths 0..3
  EXPECT_FALSE(m.parts.back().is_multipart);
  EXPECT_EQ(m.parts.back().content_type, "multipart/mixed");
  EXPECT_EQ(m.parts.back().depth, 3);
}

TEST(MimeLimits, DeepNestingWithinLimitParsed) {
  Message m = ParseMessage(DeepMessage(20));
  EXPECT_EQ(m.parts.size(), 21u);
  EXPECT_EQ(m.text, "deepest");
  EXPECT_EQ(m.parts.back().path, "1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1");
}

TEST(MimeLimits, PartCountLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n";
  for (int i = 0; i < 50; ++i) raw += "--b\n\npart " + std::to_string(i) + "\n";
  raw += "--b--\n";
  ParseLimits lim;
  lim.max_parts = 10;
  Message m = ParseMessage(raw, lim);
  EXPECT_EQ(m.parts.size(), 10u);
  EXPECT_TRUE(m.defects & kDefectTooManyParts);
}

TEST(MimeLimits, HeaderSizeLimit) {
  std::string raw = "Subject: s\n";
  for (int i = 0; i < 100; ++i) raw += "X-Filler: " + std::string(100, 'x') + "\n";
  raw += "\nbody\n";
  ParseLimits lim;
  lim.max_header_bytes = 1000;
  Message m = ParseMessage(raw, lim);
  EXPECT_TRUE(m.defects & kDefectHeaderTooLarge);
  EXPECT_EQ(m.subject, "s");
  EXPECT_LT(m.headers.size(), 20u);
  EXPECT_EQ(m.parts[0].body_offset + m.parts[0].body_length, raw.size());
}

TEST(MimeLimits, TextCapRespectsUtf8) {
  ParseLimits lim;
  lim.max_text_bytes = 5;
  Message m = ParseMessage("Content-Type: text/plain; charset=utf-8\n\néééééé", lim);
  EXPECT_EQ(m.text, "éé");
}

TEST(MimeLimits, ZeroPartsStillHasRoot) {
  ParseLimits lim;
  lim.max_parts = 0;
  lim.max_depth = 0;
  Message m = ParseMessage(kNested, lim);
  ASSERT_EQ(m.parts.size(), 1u);
}

// --------------------------------------------------------------- robustness

TEST(MimeRobustness, EmptyInput) {
  Message m = ParseMessage("");
  ASSERT_EQ(m.parts.size(), 1u);
  EXPECT_TRUE(m.text.empty());
}

TEST(MimeRobustness, EveryPrefixOfComplexMessage) {
  const std::string full = Crlf(kNested) + "\n" + std::string(kUu);
  for (size_t n = 0; n <= full.size(); ++n) {
    // A copy of exactly n bytes so ASan catches any read past the end.
    std::string prefix = full.substr(0, n);
    std::unique_ptr<char[]> buf(new char[n ? n : 1]);
    std::memcpy(buf.get(), prefix.data(), n);
    Message m = ParseMessage(std::string_view(buf.get(), n));
    ASSERT_FALSE(m.parts.empty());
    for (const auto& p : m.parts) ASSERT_LE(p.body_offset + p.body_length, n);
  }
}

TEST(MimeRobustness, ByteFlippedVariants) {
  const std::string full = std::string(kNested);
  const char replacements[] = {'\0', '\n', '\r', '-', '"', ':', ';', '=', '?', '<', '(', '\\', '\xFF', ' '};
  for (size_t i = 0; i < full.size(); ++i) {
    for (char r : replacements) {
      std::string s = full;
      s[i] = r;
      std::unique_ptr<char[]> buf(new char[s.size()]);
      std::memcpy(buf.get(), s.data(), s.size());
      Message m = ParseMessage(std::string_view(buf.get(), s.size()));
      ASSERT_FALSE(m.parts.empty());
      ASSERT_EQ(SanitizeUtf8(m.text), m.text);
    }
  }
}

std::string Repeat(std::string_view s, size_t n) {
  std::string r;
  for (size_t i = 0; i < n; ++i) r.append(s);
  return r;
}

TEST(MimeRobustness, HostileHeadersStayLinear) {
  // Each would be quadratic with an unbounded search; 1 MB must be quick.
  const size_t n = 25000;
  const std::string cases[] = {Repeat("=?a?q?", n), Repeat("<,", n), Repeat("(", n), Repeat("\"", n),
                               Repeat("a*1*=%; ", n / 2), Repeat("<script>", n / 2), Repeat("=?", n), Repeat("=?a?q?x ", n)};
  for (const auto& c : cases) {
    const auto t0 = std::chrono::steady_clock::now();
    ParseMessage("Subject: " + c + "\nFrom: " + c + "\nTo: " + c + "\nContent-Type: text/html; " + c +
                 "\nDate: " + c + "\nReferences: " + c + "\n\n" + c);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    EXPECT_LT(ms.count(), 3000) << c.substr(0, 20);
  }
}

TEST(MimeRobustness, ManyDelimiterLikeLinesUnderDeepBoundaryStackStayLinear) {
  // 31 nested multiparts, message/rfc822 parts and alternatives whose long
  // boundaries share a prefix, then 15,000 "--" lines that nearly match
  // them: every line is matched against the whole stack, once per level at
  // most, so this stays linear (~10 ms; a quadratic walk would take minutes).
  const std::string prefix(60, 'p');
  std::string raw;
  for (int i = 0; i < 31; ++i) {
    const std::string b = prefix + std::to_string(i);
    raw += (i % 3 == 1 ? "Content-Type: message/rfc822\n\n" : "") + std::string("Content-Type: multipart/") +
           (i % 2 ? "alternative" : "mixed") + "; boundary=\"" + b + "\"\n\n--" + b + "\n";
  }
  raw += "Content-Type: text/plain\n\n";
  for (int i = 0; i < 5000; ++i) raw += "--" + prefix + "x\n--" + prefix + "1x \n--\n";
  const auto t0 = std::chrono::steady_clock::now();
  Message m = ParseMessage(raw);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_LT(ms.count(), 3000);
  EXPECT_GE(m.parts.size(), 31u);
  EXPECT_TRUE(m.defects & kDefectNoFinalBoundary);
}

TEST(MimeRobustness, BuildingBlocksOnHostileInput) {
  const std::string hostile[] = {"=?", "=?a?b?", "=?utf-8?q?=", "=?utf-8?b?====?=", "\"", "(((", "<<<>>>",
                                 "\\", "a*0*=x'", "%", "&#xFFFFFFFF;&#0;&#55296;", "<script", "begin 644 ",
                                 std::string(1, '\0')};
  for (const auto& h : hostile) {
    EXPECT_EQ(SanitizeUtf8(DecodeHeaderText(h)), DecodeHeaderText(h));
    ParseAddressList(h);
    ParseDate(h);
    ParseHeaderParams(h);
    ParseMessageIds(h);
    DecodeBase64(h);
    DecodeQuotedPrintable(h);
    FindUuencodedBlocks(h);
    EXPECT_EQ(SanitizeUtf8(HtmlToText(h)), HtmlToText(h));
  }
}

}  // namespace
}  // namespace mailkeep::mime
