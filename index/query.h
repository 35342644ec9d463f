// The search query language of `mailkeep search`, parsed into a Xapian query
// that meets the terms and values the indexer writes (index/schema.h).
//
// Grammar (EBNF; operators AND OR NOT are case-insensitive, so the words
// "and", "or" and "not" must be quoted to be searched for):
//
//   query      = or_expr ;
//   or_expr    = and_expr , { "OR" , and_expr } ;
//   and_expr   = unary , { [ "AND" ] , unary } ;        (* juxtaposition = AND *)
//   unary      = { "NOT" | "-" } , primary ;            (* "-" touches what follows *)
//   primary    = "(" , or_expr , ")"
//              | "*"                                    (* every message *)
//              | field , ":" , value
//              | phrase
//              | word ;
//   value      = "(" , or_expr , ")"                    (* field applies to each word inside *)
//              | phrase
//              | word ;
//   field      = letter , { letter | digit | "_" } ;    (* case-insensitive *)
//   phrase     = '"' , { '\\"' | '\\\\' | any character but '"' } , '"' ;
//                                      (* \" is '"', \\ is '\'; any other '\' is itself *)
//   word       = { any character but space, "(", ")", '"' } ;
//
// A word whose text before its first ':' is a name (as `field` above) is a
// field term; an unknown name is an error, so text such as "http://x" must be
// quoted. A field value ends at a space, parenthesis or '"' and may contain
// ':' (id:a:b@x). Escapes exist inside quotes only: folder:"say \"hi\""
// names the folder `say "hi"`, "C:\\temp\\" ends with a backslash, and
// "C:\temp" needs none (QuoteQueryValue below writes any value).
//
// Precedence: NOT binds tighter than AND, AND tighter than OR. A query (or a
// parenthesised group) made only of negated terms means "every message except
// those": `NOT x` and `-x` match everything without x.
//
// Terms. Text is folded with FoldText (lower case, no diacritics) and cut into
// words exactly as Xapian's TermGenerator does at index time.
//   free text       (no field) searches the body (unprefixed terms), subject
//                   (S) and from/to/cc (F T C) together: a word is
//                   w OR Sw OR Fw OR Tw OR Cw (each with its stem variants,
//                   below), a phrase position is (w OR Sw OR Fw OR Tw OR Cw),
//                   a wildcard is the OR of WILDCARD p+w over the same
//                   prefixes (schema.h, version 3).
//   word            one word: every indexed word of the field with the same
//                   English (Porter2) stem, OP_SYNONYM per prefix, found in
//                   the index's vocabulary (the index holds no stems): so
//                   "patches" finds patch, patched, patching, as notmuch's
//                   stemmed search does. Words starting with a digit, stems
//                   under 3 letters, and irregular forms whose stem does not
//                   share all but its last letter with them (dying -> die) are
//                   not expanded. Without a vocabulary: the word alone. A
//                   word that TermGenerator splits (foo-bar, foo.bar)
//                   becomes a phrase of its parts.
//   "a phrase"      positional phrase of exact (unstemmed) terms: the
//                   terms AND'ed, each candidate checked against its
//                   positions record (PhraseFilter, index/positions.h,
//                   schema version 5); a single quoted word is its exact
//                   term only.
//   word*           trailing wildcard: every term starting with the word.
//   field:*         every message with any term of that field (not body:,
//                   whose prefix "B" is also the start of bcc's "BC").
//   subject: body: attachment:      text of that field (prefix from schema.h).
//   from: to: cc: bcc:   a value containing '@' or '.' (and no space) is an
//                   address term (the whole address via AddressTerms, or a
//                   local part or domain as written); otherwise name/address
//                   text as for subject:. Address words have no positions,
//                   so a phrase matches names; a value without spaces that
//                   splits into words (linux-mips) also matches the exact
//                   local part or domain term.
//   mimetype: is: has:   lower-cased boolean terms; is: takes any flag or
//                   keyword and drops a leading '\'; has: accepts only
//                   "attachment".
//   id: mid:        Message-ID, surrounding <> removed, case kept.
//   thread:         a thread number (decimal digits).
//   account: folder:     names as written (case kept).
//   Boolean terms and value ranges carry no weight (they filter).
//
// Dates (value slot 0, Unix seconds, all UTC, both ends inclusive):
//   date:2024            2024-01-01T00:00:00 .. 2024-12-31T23:59:59
//   date:2024-03         the month;  date:2024-3-1 / date:2024-03-01  the day
//   date:A..B            from the start of A to the end of B, e.g.
//                        date:2024-01-15..2024-02 = 2024-01-15T00:00:00 ..
//                        2024-02-29T23:59:59
//   date:A..  date:..B   open ends (Xapian VALUE_GE / VALUE_LE)
//   date:today  date:yesterday   that UTC day
//   date:Nu              relative to now: N units ago, an instant; alone it
//                        means "since then" (date:7d == date:7d..). Units:
//                        h hour hours, d day days, w week weeks (exact
//                        seconds), m month months, y year years (calendar:
//                        the same day and time N months/years back, clamped
//                        to the month's last day). 1 <= digits <= 9; months
//                        and years at most 5000 years back.
//   Either end may be any of these forms (date:2w..yesterday). A range that
//   ends before it starts is an error.
//
// Sizes (value slot 1, raw bytes, inclusive): size:N exact, size:A..B,
//   size:A.. and size:..B; N is decimal digits with an optional
//   case-insensitive suffix b, k/kb/kib, m/mb/mib, g/gb/gib (1024-based).
//
// Cost: a query past its QueryLimits (index/index.h) is refused while it is
// parsed, before it runs, as an error of the form below, e.g.
//   more than 100 words in the query; search for fewer words
//   wildcard "a*" matches too many words in the index (a query may search
//     25000); make it longer
//   too many words to look up in the index; search for fewer words, or
//     quote a word to search only that form
// Wildcards are counted in `vocabulary`; each also carries its share of
// max_terms to Xapian (WILDCARD_LIMIT_ERROR), so without a vocabulary, or
// should the index differ, Xapian::WildcardError is thrown when it runs.
//
// Errors: every syntax error is kInvalidArgument with one line of the form
//   query error at column C: <what is wrong>
// where C counts UTF-8 characters from 1 and points at the offending token.
//
// Thread-safety: the functions keep no shared state; ParseQuery reads
// `vocabulary` (a Database belongs to one thread).
#pragma once

#include <xapian.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "index/index.h"
#include "store/util/status.h"

namespace mailkeep::index {

// Longest query accepted by default, in bytes (QueryLimits::max_bytes), and
// deepest nesting of parentheses.
inline constexpr size_t kMaxQueryBytes = QueryLimits{}.max_bytes;
inline constexpr int kMaxQueryDepth = 64;

// Parses `text` (grammar above). `now_unix` is the current time in Unix
// seconds, used by date:today, date:yesterday and relative dates.
// `vocabulary`, when not null, is the index the query will run on: words are
// expanded to their stem variants found in it (read during the call only).
// Errors: kInvalidArgument for any syntax error or a query past `limits`
// (one line, see above); kInternal if Xapian throws (a bug). A
// Xapian::Error reading `vocabulary` (DatabaseModifiedError, ...) is thrown
// to the caller.
Result<Xapian::Query> ParseQuery(std::string_view text, int64_t now_unix,
                                 const Xapian::Database* vocabulary = nullptr, const QueryLimits& limits = {});

// `value` as a quoted value of the query language: in double quotes, with
// '"' and '\\' escaped by a backslash, so that field:QuoteQueryValue(v)
// names exactly v (the facet links of the web pages).
std::string QuoteQueryValue(std::string_view value);

// Inclusive bounds of a value range; an empty optional is an open end.
struct ValueBounds {
  std::optional<int64_t> lo;
  std::optional<int64_t> hi;
};

// The value of a date: term (without "date:"), as Unix seconds. Errors are
// kInvalidArgument, one line without a column ("bad date ...").
Result<ValueBounds> ParseDateValue(std::string_view value, int64_t now_unix);

// The value of a size: term (without "size:"), in bytes. Errors as above.
Result<ValueBounds> ParseSizeValue(std::string_view value);

}  // namespace mailkeep::index
