// SMTP reply reader (RFC 5321 §4.2) with enhanced status codes (RFC 2034,
// RFC 3463), and the EHLO reply's extension keywords (RFC 5321 §4.1.1.1
// and the extensions' own RFCs).
//
// Replies arrive line by line: net::Connection already frames lines (and
// bounds their length), so the parser takes one line at a time:
//
//   ReplyParser p;
//   for (;;) {
//     auto line = conn.ReadLineView(limit);          // without CRLF
//     switch (p.FeedLine(*line)) {
//       case ReplyState::kNeedMore: continue;        // a "250-..." line
//       case ReplyState::kReply: return p.TakeReply();
//       case ReplyState::kError: Fail(p.error());    // fatal: drop the connection
//     }
//   }
//
// Memory is bounded by ReplyLimits (line length, lines per reply). Errors
// are fatal for the session: after a malformed line the reply stream cannot
// be re-synchronised. The parser never throws (std::bad_alloc aside) and
// never reads out of bounds on any input (fuzz target:
// tests/fuzz/smtp_reply_fuzz.cc).
//
// Thread-safety: one parser per connection, one thread at a time;
// ParseEhlo is a pure function. This header does not use
// store/util/status.h, so clang-14 fuzz builds can compile it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::smtp {

struct ReplyLimits {
  // One reply line without its CRLF. RFC 5321 §4.5.3.1.5 allows 512 octets;
  // real servers send longer texts.
  size_t max_line = 4096;
  // Lines in one reply (EHLO replies have one per extension).
  size_t max_lines = 1000;
};

// One complete reply.
struct Reply {
  int code = 0;                     // 200..599; 0 = no reply (command not sent or not answered)
  // The RFC 3463 status code ("5.1.1") when the first line's text starts
  // with one whose class digit equals the reply code's; "" otherwise.
  std::string enhanced;
  // Each line's text, without the code, the separator and (when `enhanced`
  // is set) the leading enhanced code. Bytes as sent (may be 8-bit).
  std::vector<std::string> lines;

  int klass() const { return code / 100; }                 // 2, 3, 4, 5; 0 for none
  bool positive() const { return code >= 200 && code < 300; }
  // The lines joined with " ", or "" when there are none.
  std::string Text() const;
  // "550 5.1.1 text" (enhanced code only when present; 8-bit and control
  // bytes kept; callers sanitize for messages). "" when code is 0.
  std::string ToString() const;
};

enum class ReplyState { kNeedMore, kReply, kError };

// ABNF (RFC 5321 §4.2; RFC 3463 §2 for the status code):
//   Reply-line   = *( Reply-code "-" [ textstring ] CRLF )
//                     Reply-code [ SP textstring ] CRLF
//   Reply-code   = %x32-35 %x30-35 %x30-39
//   textstring   = 1*(%d09 / %d32-126)
//   status-code  = class "." subject "." detail     ; at the start of the text
//   class        = "2" / "4" / "5"
//   subject      = 1*3digit
//   detail       = 1*3digit
// Leniencies (real servers): the text may hold any bytes but LF (8-bit
// under SMTPUTF8, stray CRs); the second and third digits may be any digit;
// "250" alone and "250-" with no text are accepted. Every line of a reply
// must carry the same code.
class ReplyParser {
 public:
  explicit ReplyParser(ReplyLimits limits = {});

  // One line as received, without its line end. kNeedMore after a
  // continuation line ("250-..."), kReply when the reply is complete (take
  // it with TakeReply()), kError when the line breaks the grammar or a limit
  // (see error(); the parser then stays in error until Reset()).
  ReplyState FeedLine(std::string_view line);

  // The completed reply; the parser is ready for the next one.
  Reply TakeReply();

  // After kError: what was wrong, one printable line naming the bad line's
  // start (at most ~100 bytes of it).
  const std::string& error() const { return error_; }

  // Forgets any partial reply and error.
  void Reset();

 private:
  ReplyState Fail(std::string why, std::string_view line);

  ReplyLimits limits_;
  Reply reply_;
  bool in_reply_ = false;
  bool done_ = false;
  bool failed_ = false;
  std::string error_;
};

// What an EHLO reply offers. Keywords are matched case-insensitively.
struct Extensions {
  std::string domain;                      // first word of the reply's first line
  std::vector<std::string> keywords;       // each extension line after the first, as sent

  bool size = false;                       // SIZE (RFC 1870)
  uint64_t size_limit = 0;                 // its value; 0 = no fixed limit announced
  bool eightbitmime = false;               // 8BITMIME (RFC 6152)
  bool smtputf8 = false;                   // SMTPUTF8 (RFC 6531)
  bool pipelining = false;                 // PIPELINING (RFC 2920)
  bool dsn = false;                        // DSN (RFC 3461)
  bool starttls = false;                   // STARTTLS (RFC 3207)
  bool enhanced_status_codes = false;      // ENHANCEDSTATUSCODES (RFC 2034)
  bool chunking = false;                   // CHUNKING (RFC 3030); not used by the client
  // AUTH mechanisms (RFC 4954), upper case, in the server's order, without
  // duplicates; also from the old "AUTH=MECH ..." form.
  std::vector<std::string> auth;

  bool HasKeyword(std::string_view keyword) const;  // any keyword line, e.g. "XCLIENT"
  bool HasAuth(std::string_view mechanism) const;   // case-insensitive
};

// Extensions from a positive EHLO reply (lines after the first). Never
// fails: unknown keywords are kept in `keywords` only; a SIZE value that is
// not a number counts as no limit.
Extensions ParseEhlo(const Reply& ehlo);

}  // namespace mailkeep::smtp
