// Recursive-descent parser for the query language in index/query.h.
//
// The lexer is a cursor over the query text (offsets into it, no copies);
// every token remembers where it starts so an error can name its column.
// Terms are produced the way the indexer produces them: FoldText, then
// Xapian's own TermGenerator splits the words, so a query word always meets
// the term written at index time.
#include "index/query.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <expected>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "index/positions.h"
#include "index/schema.h"
#include "index/text.h"

namespace mailkeep::index {
namespace {

using Xapian::Query;

// An error found while parsing: where (byte offset into the text being
// parsed) and what.
struct ParseError {
  size_t offset;
  std::string message;
};
template <typename T>
using Parsed = std::expected<T, ParseError>;

std::unexpected<ParseError> Fail(size_t offset, std::string message) {
  return std::unexpected<ParseError>(ParseError{offset, std::move(message)});
}

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsDigit);
}

// A character that ends a bare word or field value.
bool IsDelimiter(char c) { return IsSpace(c) || c == '(' || c == ')' || c == '"'; }

// 1-based column of byte `offset`, counting UTF-8 characters.
size_t Column(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t column = 1;
  for (size_t i = 0; i < offset; ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

// `s` in quotes for an error message, cut after 60 bytes (at a character
// boundary) so that the message stays one short line.
std::string Quoted(std::string_view s) {
  constexpr size_t kShown = 60;
  if (s.size() <= kShown) return "\"" + std::string(s) + "\"";
  size_t cut = kShown;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(s.substr(0, cut)) + "...\"";
}

// ---------------------------------------------------------------------------
// Dates and sizes. Offsets in errors are relative to the value.

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;
using std::chrono::sys_seconds;

int64_t ToUnix(sys_seconds t) { return t.time_since_epoch().count(); }
int64_t ToUnix(sys_days d) { return ToUnix(sys_seconds(d)); }

// What one date expression covers: [start, end], both inclusive. A relative
// expression is an instant (start == end) and says so.
struct DateSpan {
  int64_t start;
  int64_t end;
  bool relative;
};

constexpr std::string_view kDateForms =
    "expected YYYY, YYYY-MM, YYYY-MM-DD, today, yesterday or an age like 7d, 2w, 3m, 1y; ranges as A..B";

Parsed<int> ParseNumberPart(std::string_view s, size_t offset, std::string_view whole, const char* what,
                            size_t min_digits, size_t max_digits) {
  if (s.size() < min_digits || s.size() > max_digits || !AllDigits(s)) {
    return Fail(offset, "bad date \"" + std::string(whole) + "\": " + what + " must be " +
                            (min_digits == max_digits ? std::to_string(min_digits) : "1 or 2") + " digits");
  }
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

// YYYY, YYYY-MM or YYYY-MM-DD.
Parsed<DateSpan> ParseCalendarDate(std::string_view s, size_t offset) {
  using namespace std::chrono;
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dash = s.find('-', start);
    parts.push_back(s.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (parts.size() > 3) return Fail(offset, "bad date \"" + std::string(s) + "\": " + std::string(kDateForms));
  MK_ASSIGN_OR_RETURN(int y, ParseNumberPart(parts[0], offset, s, "the year", 4, 4));
  const year yy{y};
  if (parts.size() == 1) {
    return DateSpan{ToUnix(sys_days(yy / January / 1)), ToUnix(sys_days((yy + years{1}) / January / 1)) - 1, false};
  }
  MK_ASSIGN_OR_RETURN(int m, ParseNumberPart(parts[1], offset, s, "the month", 1, 2));
  if (m < 1 || m > 12) {
    return Fail(offset, "bad date \"" + std::string(s) + "\": month " + std::string(parts[1]) + " is not 01-12");
  }
  const year_month ym = yy / month{static_cast<unsigned>(m)};
  if (parts.size() == 2) {
    return DateSpan{ToUnix(sys_days(ym / 1)), ToUnix(sys_days((ym + months{1}) / 1)) - 1, false};
  }
  MK_ASSIGN_OR_RETURN(int d, ParseNumberPart(parts[2], offset, s, "the day", 1, 2));
  const year_month_day ymd = ym / day{static_cast<unsigned>(d)};
  if (d < 1 || !ymd.ok()) {
    const unsigned last = static_cast<unsigned>(year_month_day_last(yy, month_day_last(ym.month())).day());
    return Fail(offset, "bad date \"" + std::string(s) + "\": day " + std::string(parts[2]) + " is not 01-" +
                            std::to_string(last) + " in " + std::string(parts[0]) + "-" +
                            (m < 10 ? "0" : "") + std::to_string(m));
  }
  const int64_t start = ToUnix(sys_days(ymd));
  return DateSpan{start, start + 86400 - 1, false};
}

// N followed by a unit: an instant N units before `now`.
Parsed<DateSpan> ParseRelativeDate(std::string_view s, size_t offset, int64_t now) {
  using namespace std::chrono;
  size_t digits = 0;
  while (digits < s.size() && IsDigit(s[digits])) ++digits;
  const std::string unit = AsciiLower(s.substr(digits));
  if (digits > 9) return Fail(offset, "bad date \"" + std::string(s) + "\": the number has more than 9 digits");
  int64_t n = 0;
  for (size_t i = 0; i < digits; ++i) n = n * 10 + (s[i] - '0');

  int64_t unit_seconds = 0;
  int64_t unit_months = 0;
  if (unit == "h" || unit == "hour" || unit == "hours") {
    unit_seconds = 3600;
  } else if (unit == "d" || unit == "day" || unit == "days") {
    unit_seconds = 86400;
  } else if (unit == "w" || unit == "week" || unit == "weeks") {
    unit_seconds = 7 * 86400;
  } else if (unit == "m" || unit == "month" || unit == "months") {
    unit_months = 1;
  } else if (unit == "y" || unit == "year" || unit == "years") {
    unit_months = 12;
  } else {
    return Fail(offset + digits, "bad date \"" + std::string(s) + "\": unknown unit \"" + std::string(s.substr(digits)) +
                                     "\" (units: h, d, w, m for months, y)");
  }
  int64_t t;
  if (unit_seconds != 0) {
    t = now - n * unit_seconds;  // |n * unit| < 1e9 * 604800: no overflow
  } else {
    const int64_t back = n * unit_months;
    if (back > 5000 * 12) return Fail(offset, "bad date \"" + std::string(s) + "\": more than 5000 years back");
    const sys_seconds tp{seconds{now}};
    const sys_days day_point = floor<days>(tp);
    const seconds time_of_day = tp - sys_seconds(day_point);
    const year_month_day ymd{day_point};
    const year_month ym = year_month(ymd.year(), ymd.month()) - months{back};
    const day last = year_month_day_last(ym.year(), month_day_last(ym.month())).day();
    t = ToUnix(sys_days(ym / std::min(ymd.day(), last)) + time_of_day);
  }
  return DateSpan{t, t, true};
}

Parsed<DateSpan> ParseDatePoint(std::string_view s, size_t offset, int64_t now) {
  using namespace std::chrono;
  const std::string lower = AsciiLower(s);
  if (lower == "today" || lower == "yesterday") {
    sys_days d = floor<days>(sys_seconds{seconds{now}});
    if (lower == "yesterday") d -= days{1};
    return DateSpan{ToUnix(d), ToUnix(d + days{1}) - 1, false};
  }
  size_t digits = 0;
  while (digits < s.size() && IsDigit(s[digits])) ++digits;
  if (digits > 0 && digits < s.size() && IsAsciiLetter(s[digits])) return ParseRelativeDate(s, offset, now);
  if (digits > 0) return ParseCalendarDate(s, offset);
  return Fail(offset, "bad date \"" + std::string(s) + "\": " + std::string(kDateForms));
}

Parsed<ValueBounds> ParseDateBounds(std::string_view value, int64_t now) {
  const size_t dots = value.find("..");
  if (dots == std::string_view::npos) {
    MK_ASSIGN_OR_RETURN(DateSpan span, ParseDatePoint(value, 0, now));
    if (span.relative) return ValueBounds{span.start, std::nullopt};  // date:7d == date:7d..
    return ValueBounds{span.start, span.end};
  }
  const std::string_view lo_text = value.substr(0, dots);
  const std::string_view hi_text = value.substr(dots + 2);
  if (lo_text.empty() && hi_text.empty()) {
    return Fail(0, "bad date \"" + std::string(value) + "\": a range needs at least one end");
  }
  ValueBounds bounds;
  if (!lo_text.empty()) {
    MK_ASSIGN_OR_RETURN(DateSpan lo, ParseDatePoint(lo_text, 0, now));
    bounds.lo = lo.start;
  }
  if (!hi_text.empty()) {
    MK_ASSIGN_OR_RETURN(DateSpan hi, ParseDatePoint(hi_text, dots + 2, now));
    bounds.hi = hi.end;
  }
  if (bounds.lo && bounds.hi && *bounds.lo > *bounds.hi) {
    return Fail(0, "bad date \"" + std::string(value) + "\": the range ends before it starts");
  }
  return bounds;
}

constexpr std::string_view kSizeForms = "expected a number with an optional k, M or G suffix (1024-based)";
// Largest size kept exact by sortable_serialise's double.
constexpr int64_t kMaxSize = int64_t{1} << 53;

Parsed<int64_t> ParseSizePoint(std::string_view s, size_t offset) {
  size_t digits = 0;
  while (digits < s.size() && IsDigit(s[digits])) ++digits;
  if (digits == 0) return Fail(offset, "bad size \"" + std::string(s) + "\": " + std::string(kSizeForms));
  const std::string suffix = AsciiLower(s.substr(digits));
  int64_t unit;
  if (suffix.empty() || suffix == "b") {
    unit = 1;
  } else if (suffix == "k" || suffix == "kb" || suffix == "kib") {
    unit = int64_t{1} << 10;
  } else if (suffix == "m" || suffix == "mb" || suffix == "mib") {
    unit = int64_t{1} << 20;
  } else if (suffix == "g" || suffix == "gb" || suffix == "gib") {
    unit = int64_t{1} << 30;
  } else {
    return Fail(offset + digits, "bad size \"" + std::string(s) + "\": unknown suffix \"" +
                                     std::string(s.substr(digits)) + "\" (k, M or G)");
  }
  int64_t n = 0;
  for (size_t i = 0; i < digits; ++i) {
    n = n * 10 + (s[i] - '0');
    if (n > kMaxSize) return Fail(offset, "bad size \"" + std::string(s) + "\": too large");
  }
  if (n > kMaxSize / unit) return Fail(offset, "bad size \"" + std::string(s) + "\": too large");
  return n * unit;
}

Parsed<ValueBounds> ParseSizeBounds(std::string_view value) {
  const size_t dots = value.find("..");
  if (dots == std::string_view::npos) {
    MK_ASSIGN_OR_RETURN(int64_t n, ParseSizePoint(value, 0));
    return ValueBounds{n, n};
  }
  const std::string_view lo_text = value.substr(0, dots);
  const std::string_view hi_text = value.substr(dots + 2);
  if (lo_text.empty() && hi_text.empty()) {
    return Fail(0, "bad size \"" + std::string(value) + "\": a range needs at least one end");
  }
  ValueBounds bounds;
  if (!lo_text.empty()) {
    MK_ASSIGN_OR_RETURN(bounds.lo, ParseSizePoint(lo_text, 0));
  }
  if (!hi_text.empty()) {
    MK_ASSIGN_OR_RETURN(bounds.hi, ParseSizePoint(hi_text, dots + 2));
  }
  if (bounds.lo && bounds.hi && *bounds.lo > *bounds.hi) {
    return Fail(0, "bad size \"" + std::string(value) + "\": the range ends before it starts");
  }
  return bounds;
}

Query ValueQuery(unsigned slot, const ValueBounds& b) {
  if (b.lo && b.hi) {
    return Query(Query::OP_VALUE_RANGE, slot, Xapian::sortable_serialise(static_cast<double>(*b.lo)),
                 Xapian::sortable_serialise(static_cast<double>(*b.hi)));
  }
  if (b.lo) return Query(Query::OP_VALUE_GE, slot, Xapian::sortable_serialise(static_cast<double>(*b.lo)));
  return Query(Query::OP_VALUE_LE, slot, Xapian::sortable_serialise(static_cast<double>(*b.hi)));
}

// ---------------------------------------------------------------------------
// Fields.

// What a term is searched in: free text, a schema field, or a value slot.
struct Target {
  enum Kind { kFree, kField, kDate, kSize } kind = kFree;
  const Field* field = nullptr;  // for kField
};

std::string FieldList() {
  std::string out;
  for (const Field& f : kFields) {
    out += f.name;
    out += ", ";
  }
  return out + "date, size";
}

// Optimal string alignment distance, for "did you mean".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string UnknownFieldMessage(std::string_view name) {
  const std::string lower = AsciiLower(name);
  std::string best;
  size_t best_distance = 3;  // suggest only close names
  auto consider = [&](std::string_view candidate) {
    const size_t distance = EditDistance(lower, candidate);
    if (distance < best_distance && distance < candidate.size()) {
      best_distance = distance;
      best = candidate;
    }
  };
  for (const Field& f : kFields) consider(f.name);
  consider("date");
  consider("size");
  std::string message = "unknown field " + Quoted(name);
  if (!best.empty()) message += ", did you mean \"" + best + "\"?";
  return message + " (fields: " + FieldList() + "; quote text that contains \":\")";
}

Parsed<Target> LookupField(std::string_view name, size_t offset) {
  for (const Field& f : kFields) {
    if (EqualsIgnoreCase(name, f.name)) return Target{Target::kField, &f};
  }
  if (EqualsIgnoreCase(name, "date")) return Target{Target::kDate, nullptr};
  if (EqualsIgnoreCase(name, "size")) return Target{Target::kSize, nullptr};
  return Fail(offset, UnknownFieldMessage(name));
}

// True when another field's prefix starts with `prefix`, so that a wildcard
// on the bare prefix would also match that field's terms.
bool PrefixIsAmbiguous(std::string_view prefix) {
  for (const Field& f : kFields) {
    if (f.prefix.size() > prefix.size() && f.prefix.starts_with(prefix)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Terms.

// Every document. Not Query::MatchAll: that is one static object, whose
// reference count (not atomic) every copy of it changes, and `mailkeep
// serve` parses queries on several threads at once. Copies made by two of
// them at a time corrupted the count until it freed the object in use: a
// server thread jumped into the heap under the 50-client load test, which
// searches "*". Query(std::string()) is the same query, a new object each
// time, as Xapian's documentation advises.
Xapian::Query Everything() { return Xapian::Query(std::string()); }

// The words TermGenerator makes of folded text, in order.
std::vector<std::string> Words(const std::string& folded) {
  Xapian::Document doc;
  Xapian::TermGenerator generator;
  generator.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
  generator.set_document(doc);
  generator.index_text(folded);
  std::vector<std::pair<Xapian::termpos, std::string>> positioned;
  for (auto term = doc.termlist_begin(); term != doc.termlist_end(); ++term) {
    for (auto pos = term.positionlist_begin(); pos != term.positionlist_end(); ++pos) {
      positioned.emplace_back(*pos, *term);
    }
  }
  std::sort(positioned.begin(), positioned.end());
  std::vector<std::string> words;
  words.reserve(positioned.size());
  for (auto& [pos, word] : positioned) words.push_back(std::move(word));
  return words;
}

// Words that are expanded to their stem's variants: those starting with a
// letter (as TermGenerator's STEM_SOME stems them, and notmuch's queries).
bool ShouldStem(const std::string& word) {
  constexpr unsigned kStemmable = (1u << Xapian::Unicode::LOWERCASE_LETTER) |
                                  (1u << Xapian::Unicode::TITLECASE_LETTER) |
                                  (1u << Xapian::Unicode::MODIFIER_LETTER) |
                                  (1u << Xapian::Unicode::OTHER_LETTER);
  Xapian::Utf8Iterator it(word);
  return it != Xapian::Utf8Iterator() && ((kStemmable >> Xapian::Unicode::get_category(*it)) & 1u) != 0;
}

// The beginning every word with Porter2 stem `stem` has: the stem itself,
// but for a stem whose last letter Porter2 may have rewritten (y to i, an
// e added or kept: happiness/happi, hoping/hope) or that ends in "bl" for
// "-bility" (possibility/possibl), which start with the stem minus its last
// letter. Checked against Xapian's stemmer on the 164,136 words of the
// linux-mips list archive: no word has a stem it does not start with
// outside these cases. The narrower beginning is what keeps a common word's
// expansion cheap ("mips": the terms starting "mip", not every "mi...").
std::string StemCandidatesStart(const std::string& stem) {
  const char last = stem.back();
  const bool rewritten = last == 'e' || last == 'i' || last == 'y' || stem.ends_with("bl");
  return rewritten ? stem.substr(0, stem.size() - 1) : stem;
}

// Stems shorter than this are not expanded (the word alone is searched).
constexpr size_t kMinStemToExpand = 3;
// Vocabulary terms examined per prefix when expanding one word's stem.
constexpr size_t kMaxStemCandidates = 20000;

Query Filter(Query q) { return Query(Query::OP_SCALE_WEIGHT, std::move(q), 0.0); }

class Parser {
 public:
  Parser(std::string_view text, int64_t now, const Xapian::Database* vocabulary, const QueryLimits& limits)
      : text_(text), now_(now), vocabulary_(vocabulary), limits_(limits), stemmer_("english") {}

  Parsed<Query> Parse() {
    MK_ASSIGN_OR_RETURN(Token first, Peek());
    if (first.kind == Token::kEnd) return Fail(0, "empty query (use * to match every message)");
    MK_ASSIGN_OR_RETURN(Operand result, ParseOr(Target{}, 0));
    MK_ASSIGN_OR_RETURN(Token rest, Peek());
    if (rest.kind == Token::kRParen) return Fail(rest.offset, "\")\" without a matching \"(\"");
    if (rest.kind != Token::kEnd) return Fail(rest.offset, "unexpected " + Describe(rest));  // not reached
    return Resolve(std::move(result));
  }

 private:
  struct Token {
    enum Kind { kEnd, kLParen, kRParen, kAnd, kOr, kNot, kMinus, kStar, kWord, kPhrase, kField } kind = kEnd;
    size_t offset = 0;  // where the token starts
    std::string text;   // word, phrase contents (unescaped) or field name
  };

  // A parsed subexpression; `negated` is kept symbolic until it meets a
  // positive partner (a AND NOT b) or must stand alone (everything but it).
  struct Operand {
    Query query;
    bool negated = false;
  };

  static Query Resolve(Operand op) {
    if (!op.negated) return std::move(op.query);
    return Query(Query::OP_AND_NOT, Everything(), std::move(op.query));
  }

  static std::string Describe(const Token& t) {
    switch (t.kind) {
      case Token::kEnd: return "end of query";
      case Token::kLParen: return "\"(\"";
      case Token::kRParen: return "\")\"";
      case Token::kAnd: return "AND";
      case Token::kOr: return "OR";
      case Token::kNot: return "NOT";
      case Token::kMinus: return "\"-\"";
      case Token::kStar: return "\"*\"";
      case Token::kWord: return Quoted(t.text);
      case Token::kPhrase: return "phrase";
      case Token::kField: return std::string(t.text) + ":";
    }
    return "token";
  }

  static bool StartsOperand(Token::Kind kind) {
    return kind == Token::kLParen || kind == Token::kNot || kind == Token::kMinus || kind == Token::kStar ||
           kind == Token::kWord || kind == Token::kPhrase || kind == Token::kField;
  }

  // --- Lexer -----------------------------------------------------------

  void SkipSpace() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
  }

  // The next token, without consuming it.
  Parsed<Token> Peek() {
    if (!peeked_) {
      MK_ASSIGN_OR_RETURN(Token t, Lex());
      peeked_ = t;
    }
    return *peeked_;
  }

  void Consume() {
    peeked_.reset();
  }

  // Reads a phrase starting at the '"' under the cursor: its contents, with
  // \" read as '"' and \\ as '\' (any other backslash is itself, so
  // "C:\temp" needs no escape). An error inside the value names a column
  // counted in the contents as read, from the opening quote.
  Parsed<Token> LexPhrase() {
    const size_t open = pos_;
    std::string contents;
    bool escaped_quote = false;
    for (size_t i = open + 1; i < text_.size(); ++i) {
      const char c = text_[i];
      if (c == '"') {
        pos_ = i + 1;
        return Token{Token::kPhrase, open, std::move(contents)};
      }
      const bool escape = c == '\\' && i + 1 < text_.size() && (text_[i + 1] == '"' || text_[i + 1] == '\\');
      if (escape) {
        ++i;
        escaped_quote = escaped_quote || text_[i] == '"';
      }
      contents += text_[i];
    }
    return Fail(open, std::string("unterminated quote: \" without a closing \"") +
                          (escaped_quote ? " (inside quotes \\\" is a quote, \\\\ a backslash)" : ""));
  }

  Parsed<Token> Lex() {
    SkipSpace();
    const size_t start = pos_;
    if (pos_ == text_.size()) return Token{Token::kEnd, start, {}};
    const char c = text_[pos_];
    if (c == '(') {
      ++pos_;
      return Token{Token::kLParen, start, {}};
    }
    if (c == ')') {
      ++pos_;
      return Token{Token::kRParen, start, {}};
    }
    if (c == '"') return LexPhrase();
    if (c == '-') {
      if (pos_ + 1 == text_.size() || IsSpace(text_[pos_ + 1]) || text_[pos_ + 1] == ')') {
        return Fail(start, "\"-\" must be followed directly by the term it excludes");
      }
      ++pos_;
      return Token{Token::kMinus, start, {}};
    }
    while (pos_ < text_.size() && !IsDelimiter(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    // field:  — a name of letters, digits and '_' starting with a letter.
    const size_t colon = word.find(':');
    if (colon != std::string_view::npos && colon > 0 && IsAsciiLetter(word[0]) &&
        std::all_of(word.begin(), word.begin() + colon,
                    [](char ch) { return IsAsciiLetter(ch) || IsDigit(ch) || ch == '_'; })) {
      pos_ = start + colon + 1;  // the value is read by ParseFieldValue
      return Token{Token::kField, start, std::string(word.substr(0, colon))};
    }
    if (word == "*") return Token{Token::kStar, start, std::string(word)};
    if (EqualsIgnoreCase(word, "and")) return Token{Token::kAnd, start, std::string(word)};
    if (EqualsIgnoreCase(word, "or")) return Token{Token::kOr, start, std::string(word)};
    if (EqualsIgnoreCase(word, "not")) return Token{Token::kNot, start, std::string(word)};
    return Token{Token::kWord, start, std::string(word)};
  }

  // --- Grammar ---------------------------------------------------------

  // After an operator: the operand it needs must start here.
  Parsed<void> ExpectOperandAfter(const Token& op) {
    MK_ASSIGN_OR_RETURN(Token next, Peek());
    if (StartsOperand(next.kind)) return {};
    if (next.kind == Token::kEnd) return Fail(op.offset, Describe(op) + " needs a term after it");
    return Fail(next.offset, Describe(op) + " needs a term after it, not " + Describe(next));
  }

  Parsed<Operand> ParseOr(Target target, int depth) {
    std::vector<Operand> items;
    MK_ASSIGN_OR_RETURN(Operand first, ParseAnd(target, depth));
    items.push_back(std::move(first));
    for (;;) {
      MK_ASSIGN_OR_RETURN(Token t, Peek());
      if (t.kind != Token::kOr) break;
      Consume();
      MK_RETURN_IF_ERROR(ExpectOperandAfter(t));
      MK_ASSIGN_OR_RETURN(Operand next, ParseAnd(target, depth));
      items.push_back(std::move(next));
    }
    if (items.size() == 1) return std::move(items.front());
    std::vector<Query> alternatives;
    for (Operand& item : items) alternatives.push_back(Resolve(std::move(item)));
    return Operand{Query(Query::OP_OR, alternatives.begin(), alternatives.end()), false};
  }

  Parsed<Operand> ParseAnd(Target target, int depth) {
    std::vector<Query> positive;
    std::vector<Query> negative;
    for (bool first = true;; first = false) {
      MK_ASSIGN_OR_RETURN(Token t, Peek());
      if (t.kind == Token::kAnd) {
        if (first) return Fail(t.offset, "AND needs a term before it");
        Consume();
        MK_RETURN_IF_ERROR(ExpectOperandAfter(t));
      } else if (!StartsOperand(t.kind)) {
        if (first) {
          if (t.kind == Token::kOr) return Fail(t.offset, "OR needs a term before it");
          if (t.kind == Token::kRParen) {
            return Fail(t.offset, depth == 0 ? "\")\" without a matching \"(\"" : "empty parentheses");
          }
          return Fail(t.offset, "expected a term");  // not reached: callers check
        }
        break;
      }
      MK_ASSIGN_OR_RETURN(Operand item, ParseUnary(target, depth));
      (item.negated ? negative : positive).push_back(std::move(item.query));
    }
    auto combine = [](std::vector<Query>& qs, Query::op op) {
      return qs.size() == 1 ? std::move(qs.front()) : Query(op, qs.begin(), qs.end());
    };
    if (negative.empty()) return Operand{combine(positive, Query::OP_AND), false};
    // Only negations: NOT a AND NOT b == NOT (a OR b), still negated.
    if (positive.empty()) return Operand{combine(negative, Query::OP_OR), true};
    return Operand{Query(Query::OP_AND_NOT, combine(positive, Query::OP_AND), combine(negative, Query::OP_OR)),
                   false};
  }

  Parsed<Operand> ParseUnary(Target target, int depth) {
    bool negated = false;
    for (;;) {
      MK_ASSIGN_OR_RETURN(Token t, Peek());
      if (t.kind != Token::kNot && t.kind != Token::kMinus) break;
      Consume();
      MK_RETURN_IF_ERROR(ExpectOperandAfter(t));
      negated = !negated;
    }
    MK_ASSIGN_OR_RETURN(Operand op, ParsePrimary(target, depth));
    op.negated = op.negated != negated;
    return op;
  }

  Parsed<Operand> ParsePrimary(Target target, int depth) {
    MK_ASSIGN_OR_RETURN(Token t, Peek());
    Consume();
    switch (t.kind) {
      case Token::kLParen:
        return ParseGroup(t, target, depth);
      case Token::kStar:
        if (target.kind == Target::kFree) return Operand{Everything(), false};
        return MakeTerm(target, t.text, false, t.offset);
      case Token::kWord:
        return MakeTerm(target, t.text, false, t.offset);
      case Token::kPhrase:
        return MakeTerm(target, t.text, true, t.offset + 1);
      case Token::kField:
        return ParseFieldValue(t, depth);
      default:
        return Fail(t.offset, "expected a term, not " + Describe(t));  // not reached: callers check
    }
  }

  // After "(": or_expr ")".
  Parsed<Operand> ParseGroup(const Token& open, Target target, int depth) {
    if (depth + 1 > kMaxQueryDepth) {
      return Fail(open.offset, "parentheses nested deeper than " + std::to_string(kMaxQueryDepth));
    }
    MK_ASSIGN_OR_RETURN(Token next, Peek());
    if (next.kind == Token::kEnd) return Fail(open.offset, "\"(\" is never closed");
    MK_ASSIGN_OR_RETURN(Operand inner, ParseOr(target, depth + 1));
    MK_ASSIGN_OR_RETURN(Token close, Peek());
    if (close.kind != Token::kRParen) return Fail(open.offset, "\"(\" is never closed");
    Consume();
    return inner;
  }

  // After "name:": the field's value, read straight from the cursor.
  Parsed<Operand> ParseFieldValue(const Token& field_token, int depth) {
    MK_ASSIGN_OR_RETURN(Target target, LookupField(field_token.text, field_token.offset));
    const std::string field_name = AsciiLower(field_token.text);
    if (pos_ == text_.size() || IsSpace(text_[pos_]) || text_[pos_] == ')') {
      return Fail(field_token.offset, field_name + ": needs a value");
    }
    if (text_[pos_] == '(') {
      MK_ASSIGN_OR_RETURN(Token open, Peek());
      Consume();
      return ParseGroup(open, target, depth);
    }
    if (text_[pos_] == '"') {
      MK_ASSIGN_OR_RETURN(Token phrase, LexPhrase());
      if (phrase.text.empty()) return Fail(field_token.offset, field_name + ": needs a value, not \"\"");
      return MakeTerm(target, phrase.text, true, phrase.offset + 1);
    }
    const size_t start = pos_;
    while (pos_ < text_.size() && !IsDelimiter(text_[pos_])) ++pos_;
    return MakeTerm(target, text_.substr(start, pos_ - start), false, start);
  }

  // --- Cost (QueryLimits) ------------------------------------------------
  // Charged as the query is parsed, before any term is built.

  // `value`'s words (split at spaces; at least one) against max_words.
  Parsed<void> ChargeWords(std::string_view value, size_t offset) {
    size_t n = 0;
    for (size_t i = 0; i < value.size(); ++i) n += !IsSpace(value[i]) && (i == 0 || IsSpace(value[i - 1]));
    words_ += std::max<size_t>(n, 1);
    if (words_ <= limits_.max_words) return {};
    return Fail(offset, "more than " + std::to_string(limits_.max_words) + " words in the query; search for fewer words");
  }

  // `n` index terms for `value` (shown as written) against max_terms.
  Parsed<void> ChargeTerms(size_t n, std::string_view value, size_t offset, bool wildcard) {
    if (n <= limits_.max_terms - terms_) {
      terms_ += n;
      return {};
    }
    const std::string too_many =
        " too many words in the index (a query may search " + std::to_string(limits_.max_terms) + "); ";
    if (wildcard) return Fail(offset, "wildcard " + Quoted(value) + " matches" + too_many + "make it longer");
    return Fail(offset, Quoted(value) + " needs" + too_many + "search for fewer words");
  }

  // Every term starting with `pattern` (a prefix and the start of a word),
  // charged with how many there are: counted in the vocabulary now, and
  // that count (without a vocabulary: what is left of max_terms) is the
  // most Xapian may expand it to when the query runs.
  Parsed<Query> Wildcard(const std::string& pattern, std::string_view shown, size_t offset) {
    const size_t left = limits_.max_terms - terms_;
    size_t expansion = left;
    if (vocabulary_ != nullptr) {
      size_t matched = 0;
      for (auto t = vocabulary_->allterms_begin(pattern); t != vocabulary_->allterms_end(pattern) && matched <= left;
           ++t) {
        ++matched;
      }
      MK_RETURN_IF_ERROR(ChargeTerms(matched, shown, offset, true));
      expansion = matched;
    }
    const auto most = static_cast<Xapian::termcount>(
        std::clamp<size_t>(expansion, 1, std::numeric_limits<Xapian::termcount>::max()));
    return Query(Query::OP_WILDCARD, pattern, most, Query::WILDCARD_LIMIT_ERROR);
  }

  // --- Terms -----------------------------------------------------------

  // `value` is a word or phrase contents at byte `offset` of the query.
  Parsed<Operand> MakeTerm(Target target, std::string_view value, bool quoted, size_t offset) {
    MK_RETURN_IF_ERROR(ChargeWords(value, offset));
    switch (target.kind) {
      case Target::kFree:
        return TextTerm(FreeTextPrefixes(), "text", value, quoted, offset);
      case Target::kDate: {
        auto bounds = ParseDateBounds(value, now_);
        if (!bounds) return Fail(offset + bounds.error().offset, bounds.error().message);
        return Operand{ValueQuery(kValueDate, *bounds), false};
      }
      case Target::kSize: {
        auto bounds = ParseSizeBounds(value);
        if (!bounds) return Fail(offset + bounds.error().offset, bounds.error().message);
        return Operand{ValueQuery(kValueSize, *bounds), false};
      }
      case Target::kField:
        break;
    }
    const Field& field = *target.field;
    switch (field.kind) {
      case FieldKind::kText:
        return TextTerm({std::string(field.prefix)}, field.name, value, quoted, offset);
      case FieldKind::kAddress:
        if (field.name == "to") {
          // As in notmuch, to: means any recipient: To, Cc or Bcc.
          std::vector<Query> any;
          for (std::string_view prefix : {FieldPrefix("to"), FieldPrefix("cc"), FieldPrefix("bcc")}) {
            auto one = AddressTerm(prefix, field.name, value, quoted, offset);
            if (!one) return one;
            any.push_back(Resolve(std::move(*one)));
          }
          return Operand{Query(Query::OP_OR, any.begin(), any.end()), false};
        }
        return AddressTerm(field.prefix, field.name, value, quoted, offset);
      case FieldKind::kBoolean:
        return BooleanTerm(field, value, quoted, offset);
    }
    return Fail(offset, "internal error: unknown field kind");
  }

  static bool IsWildcard(std::string_view value, bool quoted) { return !quoted && value.ends_with('*'); }

  // field:* — every term of the field; boolean fields filter.
  Parsed<Operand> PrefixWildcard(std::string_view prefix, std::string_view name, bool boolean, size_t offset) {
    if (PrefixIsAmbiguous(prefix)) return Fail(offset, std::string(name) + ":* is not supported");
    MK_ASSIGN_OR_RETURN(Query q, Wildcard(std::string(prefix), std::string(name) + ":*", offset));
    return Operand{boolean ? Filter(std::move(q)) : std::move(q), false};
  }

  // The prefixes free text searches: the body (no prefix), subject and the
  // from/to/cc names and addresses, each indexed once (schema version 3).
  static std::vector<std::string> FreeTextPrefixes() {
    std::vector<std::string> prefixes;
    for (std::string_view p : kFreeTextPrefixes) prefixes.emplace_back(p);
    return prefixes;
  }

  // One word in every prefix of `prefixes`, OR'ed; a single term when there
  // is one prefix. Positional: usable inside a phrase.
  static Query WordIn(const std::vector<std::string>& prefixes, const std::string& word) {
    if (prefixes.size() == 1) return Query(prefixes.front() + word);
    std::vector<Query> alternatives;
    for (const std::string& p : prefixes) alternatives.emplace_back(p + word);
    return Query(Query::OP_OR, alternatives.begin(), alternatives.end());
  }

  // One unquoted word: under each prefix, the word itself and every indexed
  // word with the same English stem (OP_SYNONYM, so they weigh as one term),
  // OR'ed over the prefixes. The index holds no stems (schema version 3);
  // the vocabulary is searched instead: a word whose stem is S starts with
  // S (StemCandidatesStart), so only the terms with that beginning are
  // stemmed and compared. Without a vocabulary (or for a word TermGenerator
  // would not stem, or a stem under 3 letters) the word alone.
  // Charged: the terms, and the vocabulary read (max_form_reads).
  Parsed<Query> WordWithStem(const std::vector<std::string>& prefixes, const std::string& word,
                             std::string_view value, size_t offset) {
    MK_RETURN_IF_ERROR(ChargeTerms(prefixes.size(), value, offset, false));
    if (vocabulary_ == nullptr || !ShouldStem(word)) return WordIn(prefixes, word);
    const std::string stem = stemmer_(word);
    if (stem.size() < kMinStemToExpand) return WordIn(prefixes, word);
    const std::string lead = StemCandidatesStart(stem);
    std::vector<Query> alternatives;
    for (const std::string& p : prefixes) {
      std::vector<Query> variants;
      variants.emplace_back(p + word);
      const std::string start = p + lead;
      size_t scanned = 0;
      for (auto t = vocabulary_->allterms_begin(start); t != vocabulary_->allterms_end(start); ++t) {
        if (++scanned > kMaxStemCandidates) break;
        if (++form_reads_ > limits_.max_form_reads) {
          return Fail(offset, "too many words to look up in the index; search for fewer words, or quote a word to "
                              "search only that form");
        }
        const std::string& term = *t;
        const std::string candidate = term.substr(p.size());
        if (candidate != word && stemmer_(candidate) == stem) variants.emplace_back(term);
      }
      MK_RETURN_IF_ERROR(ChargeTerms(variants.size() - 1, value, offset, false));
      if (variants.size() == 1) {
        alternatives.push_back(std::move(variants.front()));
      } else {
        alternatives.emplace_back(Query::OP_SYNONYM, variants.begin(), variants.end());
      }
    }
    if (alternatives.size() == 1) return std::move(alternatives.front());
    return Query(Query::OP_OR, alternatives.begin(), alternatives.end());
  }

  // Text under `prefixes` (one field's, or free text's). `name` names the
  // field in errors.
  Parsed<Operand> TextTerm(const std::vector<std::string>& prefixes, std::string_view name, std::string_view value,
                           bool quoted, size_t offset) {
    if (IsWildcard(value, quoted)) {
      const std::string_view stem = value.substr(0, value.size() - 1);
      if (stem.empty()) {
        if (prefixes.size() > 1) return Operand{Everything(), false};
        return PrefixWildcard(prefixes.front(), name, false, offset);
      }
      const std::vector<std::string> words = Words(FoldText(stem));
      if (words.size() != 1) return Fail(offset, "a wildcard applies to one word: " + Quoted(value));
      std::vector<Query> alternatives;
      for (const std::string& p : prefixes) {
        MK_ASSIGN_OR_RETURN(Query q, Wildcard(p + words.front(), value, offset));
        alternatives.push_back(std::move(q));
      }
      if (alternatives.size() == 1) return Operand{std::move(alternatives.front()), false};
      return Operand{Query(Query::OP_OR, alternatives.begin(), alternatives.end()), false};
    }
    const std::vector<std::string> words = Words(FoldText(value));
    if (words.empty()) {
      if (quoted && value.empty()) return Fail(offset - 1, "empty phrase \"\"");
      return Fail(offset, Quoted(value) + " has no words to search for");
    }
    if (words.size() == 1 && !quoted) {
      MK_ASSIGN_OR_RETURN(Query q, WordWithStem(prefixes, words.front(), value, offset));
      return Operand{std::move(q), false};
    }
    MK_RETURN_IF_ERROR(ChargeTerms(words.size() * prefixes.size(), value, offset, false));
    if (words.size() == 1) return Operand{WordIn(prefixes, words.front()), false};
    // A phrase: each position matches the word under any of the prefixes
    // (all fields share one position space; a gap between fields keeps a
    // phrase inside one of them). The positions are in the index's own
    // records, not Xapian's (index/positions.h): the words' terms find the
    // candidates and weigh them as OP_PHRASE would, PhraseFilter keeps
    // those with the words in a row.
    std::vector<Query> terms;
    std::vector<std::vector<std::string>> places;
    for (const std::string& w : words) {
      terms.push_back(WordIn(prefixes, w));
      std::vector<std::string>& place = places.emplace_back();
      for (const std::string& p : prefixes) place.push_back(p + w);
    }
    terms.emplace_back((new PhraseFilter(std::move(places)))->release());
    return Operand{Query(Query::OP_AND, terms.begin(), terms.end()), false};
  }

  Parsed<Operand> AddressTerm(std::string_view prefix, std::string_view name, std::string_view value, bool quoted,
                              size_t offset) {
    const std::string p(prefix);
    const bool no_space = std::none_of(value.begin(), value.end(), IsSpace);
    const bool address_like = value.find_first_of("@.") != std::string_view::npos && no_space;
    if (!address_like) {
      MK_ASSIGN_OR_RETURN(Operand text, TextTerm({p}, name, value, quoted, offset));
      // Address words have no positions (schema version 3), so a value that
      // TermGenerator splits into a phrase ("linux-mips") matches names
      // only: it also matches the exact local part or domain term.
      if (!no_space || IsWildcard(value, quoted)) return text;
      const std::string folded = FoldText(value);
      if (Words(folded).size() < 2) return text;
      MK_RETURN_IF_ERROR(ChargeTerms(1, value, offset, false));
      return Operand{Query(Query::OP_OR, std::move(text.query), Query(p + folded)), false};
    }
    std::string_view address = value;
    if (address.starts_with('<') && address.ends_with('>') && address.size() >= 2) {
      address = address.substr(1, address.size() - 2);
    }
    if (IsWildcard(address, quoted)) {
      MK_ASSIGN_OR_RETURN(Query q, Wildcard(p + FoldText(address.substr(0, address.size() - 1)), value, offset));
      return Operand{std::move(q), false};
    }
    std::string term;
    if (address.find('@') != std::string_view::npos) {
      for (std::string& t : AddressTerms(address)) {
        if (t.find('@') != std::string::npos) {
          term = std::move(t);
          break;
        }
      }
    }
    if (term.empty()) term = FoldText(address);
    if (term.empty()) return Fail(offset, Quoted(value) + " has no address to search for");
    MK_RETURN_IF_ERROR(ChargeTerms(1, value, offset, false));
    return Operand{Query(p + term), false};
  }

  Parsed<Operand> BooleanTerm(const Field& field, std::string_view value, bool quoted, size_t offset) {
    const std::string p(field.prefix);
    std::string term;
    if (field.name == "id" || field.name == "mid") {
      if (value.starts_with('<')) value.remove_prefix(1);
      if (value.ends_with('>')) value.remove_suffix(1);
      term = std::string(value);
    } else if (field.name == "thread") {
      if (!AllDigits(value)) return Fail(offset, "thread: expects a thread number, not " + Quoted(value));
      term = std::string(value);
    } else if (field.name == "is") {
      if (value.starts_with('\\')) value.remove_prefix(1);
      term = AsciiLower(value);
    } else if (field.name == "has") {
      term = AsciiLower(value);
      if (term != kHasAttachment) return Fail(offset, "has: supports only \"attachment\", not " + Quoted(value));
    } else if (field.name == "mimetype") {
      term = AsciiLower(value);
    } else {
      term = std::string(value);  // account, folder: as written
    }
    if (IsWildcard(term, quoted)) {
      term.pop_back();
      if (term.empty()) return PrefixWildcard(field.prefix, field.name, true, offset);
      MK_ASSIGN_OR_RETURN(Query q, Wildcard(p + term, value, offset));
      return Operand{Filter(std::move(q)), false};
    }
    if (term.empty()) return Fail(offset, std::string(field.name) + ": needs a value");
    MK_RETURN_IF_ERROR(ChargeTerms(1, value, offset, false));
    return Operand{Filter(Query(p + term)), false};
  }

  std::string_view text_;
  int64_t now_;
  const Xapian::Database* vocabulary_;  // for stem expansion; may be null
  const QueryLimits& limits_;
  size_t words_ = 0;       // charged against limits_.max_words
  size_t terms_ = 0;       // ... max_terms (never above it)
  size_t form_reads_ = 0;  // ... max_form_reads
  Xapian::Stem stemmer_;
  size_t pos_ = 0;
  std::optional<Token> peeked_;
};

Error InvalidValue(const ParseError& e) { return Error(ErrorCode::kInvalidArgument, e.message); }

}  // namespace

Result<Xapian::Query> ParseQuery(std::string_view text, int64_t now_unix, const Xapian::Database* vocabulary,
                                 const QueryLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return MakeError(ErrorCode::kInvalidArgument, "query error at column 1: query longer than " +
                                                      std::to_string(limits.max_bytes) + " bytes");
  }
  try {
    Parser parser(text, now_unix, vocabulary, limits);
    auto query = parser.Parse();
    if (!query) {
      return MakeError(ErrorCode::kInvalidArgument, "query error at column " +
                                                        std::to_string(Column(text, query.error().offset)) + ": " +
                                                        query.error().message);
    }
    return std::move(*query);
  } catch (const Xapian::DatabaseError&) {
    throw;  // reading the vocabulary: the caller's to handle (retry, report)
  } catch (const Xapian::Error& e) {
    return MakeError(ErrorCode::kInternal, "query: " + e.get_description());
  }
}

std::string QuoteQueryValue(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

Result<ValueBounds> ParseDateValue(std::string_view value, int64_t now_unix) {
  auto bounds = ParseDateBounds(value, now_unix);
  if (!bounds) return std::unexpected(InvalidValue(bounds.error()));
  return *bounds;
}

Result<ValueBounds> ParseSizeValue(std::string_view value) {
  auto bounds = ParseSizeBounds(value);
  if (!bounds) return std::unexpected(InvalidValue(bounds.error()));
  return *bounds;
}

}  // namespace mailkeep::index
