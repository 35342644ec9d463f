// IMAP response reader: an incremental tokenizer for what an IMAP4rev1 /
// IMAP4rev2 server sends (RFC 3501 §7, RFC 9051 §7). Bytes go in, in pieces
// of any size; complete responses come out, one at a time.
//
//   ResponseParser p(limits);
//   std::string_view in = bytes_from_the_socket;
//   while (!in.empty()) {
//     switch (p.Feed(in)) {                 // advances `in`
//       case ParseState::kNeedMore: break;  // `in` is now empty
//       case ParseState::kResponse: Use(p.TakeResponse()); break;
//       case ParseState::kError: Fail(p.error()); return;   // fatal
//     }
//   }
//
// Big literals (message bodies) need not pass through Feed(): while
// literal_remaining() > 0 the caller may append those bytes itself to
// *literal_buffer() (e.g. a socket read straight into it) and then call
// LiteralFilled(). Either way a literal is stored once, in the string that
// becomes Value::text, reserved up front (bounded), so a 100 MB message is
// neither copied nor re-grown quadratically.
//
// Memory is bounded by ImapLimits: one line outside literals, the text of a
// whole response outside literals, the literal bytes of a whole response,
// the number of values and the list depth. Exceeding a limit is an error,
// like a syntax error. Errors are fatal: the byte stream cannot be
// re-synchronised, so the caller drops the connection.
//
// The parser does not know which command a response answers; it only knows
// the response grammar. It never throws (std::bad_alloc aside) and never
// reads out of bounds on any input (there is a fuzz target:
// tests/fuzz/imap_response_fuzz.cc).
//
// Thread-safety: one parser per connection, used by one thread at a time.
// This header does not use store/util/status.h, so clang-14 fuzz builds can
// compile it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::imap {

struct ImapLimits {
  // One line of a response, outside literals, without its CRLF.
  size_t max_line = 16u << 20;           // 16 MiB ("* SEARCH" of ~1.8M UIDs)
  // All lines of one response together, outside literals.
  size_t max_text = 16u << 20;           // 16 MiB
  // All literal bytes of one response together (so also one literal).
  uint64_t max_literal = 1ull << 30;     // 1 GiB
  // Values (atoms, strings, lists) in one response.
  size_t max_values = 2u << 20;          // ~2M (about 64 bytes each)
  // Nesting of parenthesised lists.
  int max_depth = 32;
  // At most this much is reserved for a literal before its bytes arrive
  // (a server's announced size is not trusted with more).
  size_t literal_reserve = 64u << 20;    // 64 MiB
};

// One value of a response: an atom (also numbers and flags such as
// "\Seen", and fetch attribute names such as "BODY[]" or
// "BODY[HEADER.FIELDS (FROM)]<0>"), a quoted string, a literal, NIL or a
// parenthesised list.
struct Value {
  enum class Type : uint8_t { kAtom, kQuoted, kLiteral, kNil, kList };
  Type type = Type::kAtom;
  std::string text;           // atom / string bytes; "NIL" for kNil; empty for kList
  std::vector<Value> list;    // kList only

  bool is_list() const { return type == Type::kList; }
  bool is_nil() const { return type == Type::kNil; }
  // An atom, quoted string or literal (RFC 3501 "astring"/"string").
  bool is_string() const { return type == Type::kAtom || type == Type::kQuoted || type == Type::kLiteral; }
  // The atom as an unsigned number (only digits, no overflow); nullopt otherwise.
  std::optional<uint64_t> Number() const;
  // Case-insensitive comparison of an atom's text.
  bool IsAtom(std::string_view name) const;
};

// Grammar (RFC 3501 §9, abridged; what this reader accepts is a superset):
//   response       = continue-req / response-tagged / response-untagged
//   continue-req   = "+" [SP (resp-text / base64)] CRLF
//   response-tagged= tag SP resp-cond CRLF
//   response-untagged = "*" SP (resp-cond / [number SP] name *(SP value)) CRLF
//   resp-cond      = ("OK" / "NO" / "BAD" / "PREAUTH" / "BYE") [SP resp-text]
//   resp-text      = ["[" code [SP code-args] "]" [SP]] text
//   value          = atom / quoted / literal / "NIL" / "(" [value *(SP value)] ")"
//   quoted         = DQUOTE *(char / "\" char) DQUOTE          (no CR, LF)
//   literal        = ["~"] "{" number ["+"] "}" CRLF *OCTET    (number octets)
// Line ends may be CRLF or a bare LF.
struct Response {
  enum class Kind : uint8_t { kUntagged, kTagged, kContinuation };
  enum class Cond : uint8_t { kNone, kOk, kNo, kBad, kPreauth, kBye };

  Kind kind = Kind::kUntagged;
  std::string tag;              // kTagged: the command's tag
  // Status responses ("* OK ...", "A1 NO ...", "* BYE ...") and
  // continuations; kNone for data responses.
  Cond cond = Cond::kNone;
  std::string code;             // resp-text-code name, upper-cased ("UIDVALIDITY"); may be empty
  std::string code_args;        // the rest inside the brackets, as sent ("3", "38505 3955")
  std::string text;             // human-readable text (continuations: the base64 or text)
  // Data responses ("* 3 EXISTS", "* 12 FETCH (...)", "* LIST ...").
  std::optional<uint32_t> number;   // the message number or count before the name
  std::string name;                 // upper-cased: "EXISTS", "FETCH", "LIST", "CAPABILITY"
  std::vector<Value> values;        // what follows the name

  bool is_status() const { return cond != Cond::kNone; }
  // "[CODE args] text" (or just the text), for error messages.
  std::string StatusText() const;
};

// "OK", "NO", "BAD", "PREAUTH", "BYE" ("" for kNone).
const char* CondName(Response::Cond cond);

enum class ParseState { kNeedMore, kResponse, kError };

class ResponseParser {
 public:
  explicit ResponseParser(const ImapLimits& limits = {});

  // Consumes bytes from the front of `in` (advancing it) until one response
  // is complete (kResponse; the rest of `in` is left for the next call),
  // all of `in` is used (kNeedMore) or the input is bad (kError, see
  // error()). After kError every call returns kError.
  ParseState Feed(std::string_view& in);
  ParseState Feed(std::string_view&& in) {
    std::string_view v = in;
    return Feed(v);
  }
  // The response completed by the last kResponse. REQUIRES: the last Feed()
  // or LiteralFilled() returned kResponse.
  Response TakeResponse();

  // Inside a literal: the bytes of it still to come (0 otherwise).
  uint64_t literal_remaining() const;
  // Direct literal path: the caller appends at most literal_remaining()
  // bytes to this string, then calls LiteralFilled(). The pointer is valid
  // until the next call on the parser.
  std::string* literal_buffer() { return &literal_; }
  // Accounts for bytes appended to *literal_buffer(). Returns kNeedMore
  // (the response goes on after the literal, so feed the next line) or
  // kError (more bytes appended than the literal has).
  ParseState LiteralFilled();

  // Why the last kError happened, one line, e.g.
  // "literal of 2000000000 bytes is over the limit of 1073741824".
  const std::string& error() const { return error_; }
  // True when bytes of an incomplete response have been consumed.
  bool in_response() const { return started_; }

  // Forgets everything, including an error.
  void Reset();

 private:
  enum class Phase : uint8_t { kStart, kValues };
  ParseState Fail(std::string message);
  // Parses one complete line (without its line end).
  ParseState ParseLine(std::string_view line);
  ParseState ParseFirstLine(std::string_view line);
  ParseState ParseValues(std::string_view line, size_t pos);
  ParseState FinishLiteral();
  bool AddValue(Value&& v);

  ImapLimits limits_;
  Phase phase_ = Phase::kStart;
  bool started_ = false;
  bool done_ = false;
  std::string error_;
  std::string line_;                 // a line still missing its LF
  std::string literal_;              // the literal being received
  uint64_t literal_size_ = 0;        // its announced size
  bool in_literal_ = false;
  size_t text_bytes_ = 0;            // outside literals, this response
  uint64_t literal_bytes_ = 0;       // inside literals, this response
  size_t value_count_ = 0;
  std::vector<Value> stack_;         // open lists; stack_[0] holds response_.values
  Response response_;
};

// A readable one-line rendering of a response, for tests and the fuzzer
// (literals shown as {n}"bytes" with the bytes escaped).
std::string DebugString(const Response& r);

}  // namespace mailkeep::imap
