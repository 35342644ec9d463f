// The index schema: every field, its Xapian prefix and how it is indexed,
// in one table. Bump kSchemaVersion when a prefix or its meaning changes;
// the version is stored in the database metadata key "mailkeep.schema", and
// a database with another version is rebuilt by `mailkeep reindex`.
//
//   query field      prefix  kind           indexed from
//   (free text)      -       text           searches the body, S, F, T and C terms together
//                                           (each field is indexed once, version 3)
//   body:            ""      text           Message::text (first max_body_bytes), no prefix
//   subject:         S       text           decoded Subject
//   from:            F       text+address   From and Sender: names, address words, whole address,
//                                           local part, domain
//   to:              T       text+address   To (a to: query also searches C and BC: any recipient, as in notmuch)
//   cc:              C       text+address   Cc
//   bcc:             BC      text+address   Bcc
//   attachment:      A       text           attachment file names (words and the whole name)
//   mimetype:        M       boolean        MIME type of every leaf part, lower case
//   id: / mid:       Q       boolean        Message-ID without angle brackets
//   thread:          G       boolean        thread id (decimal)
//   account:         XA      boolean        account name of every location
//   folder:          XF      boolean        folder name of every location
//   is:              K       boolean        IMAP flags without "\", lower case: seen, flagged, answered, draft, deleted
//   has:attachment   H       boolean        "attachment" when the message has one
//
//   value slot 0: date, Xapian::sortable_serialise(Unix seconds UTC)
//   value slot 1: raw size in bytes, Xapian::sortable_serialise
//   document data: the facets (version 4; IndexReader::Facets), one string
//                 (EncodeFacets, index/document.h): the month "YYYY-MM" of
//                 the date (UTC; empty without a date or outside years
//                 0000-9999), then three lists: the From addresses (lower
//                 case), the folders and the accounts, each value exactly
//                 what from:, folder: and account: match (values whose
//                 term would be too long to index are left out, as the
//                 term is). One slot, so counting reads one value per match.
//
// Text is lower-cased and diacritics are folded (é → e) before term
// generation, for case- and diacritic-insensitive search. Folded text never
// starts with an upper-case ASCII letter, so the unprefixed body terms never
// collide with a prefixed term. Positions are kept for the body, subject,
// names and attachment names (phrases); address words have none. They are
// kept in a record per document in the shard's metadata, key "p" + docid
// (version 5, index/positions.h), not in Xapian's position table.
//
// Versions:
//   1  the body indexed twice with positions: under B and unprefixed.
//   2  the body indexed once, under B; free text searches the unprefixed
//      terms OR the B terms (phrases too: each phrase position is an OR of
//      the word and "B" + word; all fields share one position space, with
//      a gap between fields). Subject and names are still indexed both
//      prefixed and unprefixed. Halves the index and the write time.
//   3  every field once: the body unprefixed, subject and names only under
//      their prefixes (free text ORs them); no stems (Z terms): a query word
//      is expanded to the indexed words with the same English stem; address
//      words without positions. linux-mips: 261 -> ~170 MB, about 40% less
//      indexing CPU.
//   4  the document data holds the facets (month, senders, folders, accounts), for
//      the search page's histogram and counts. Terms unchanged.
//   5  positions out of Xapian's position table, into one record per
//      document (index/positions.h): terms unchanged, phrases found by
//      their terms and checked against the records. linux-mips ten times
//      over in one segment: the index from 0.692 to 0.547 x raw, batch 1
//      imported in 16.1 s instead of 22-26 s. A phrase no longer matches
//      a word without positions (an address word, a quoted line) as if it
//      stood just before a field's first word, as Xapian's phrases did.
#pragma once

#include <string_view>

namespace mailkeep::index {

inline constexpr int kSchemaVersion = 5;

inline constexpr unsigned kValueDate = 0;
inline constexpr unsigned kValueSize = 1;

enum class FieldKind { kText, kAddress, kBoolean };

struct Field {
  std::string_view name;    // as written in queries, lower case, without ':'
  std::string_view prefix;  // Xapian term prefix
  FieldKind kind;
};

// Every field; the document writer (index/document.cc) and the query parser
// (index/query.cc) both take their prefixes from here.
inline constexpr Field kFields[] = {
    {"subject", "S", FieldKind::kText},      {"body", "", FieldKind::kText},
    {"from", "F", FieldKind::kAddress},      {"to", "T", FieldKind::kAddress},
    {"cc", "C", FieldKind::kAddress},        {"bcc", "BC", FieldKind::kAddress},
    {"attachment", "A", FieldKind::kText},   {"mimetype", "M", FieldKind::kBoolean},
    {"id", "Q", FieldKind::kBoolean},        {"mid", "Q", FieldKind::kBoolean},
    {"thread", "G", FieldKind::kBoolean},    {"account", "XA", FieldKind::kBoolean},
    {"folder", "XF", FieldKind::kBoolean},   {"is", "K", FieldKind::kBoolean},
    {"has", "H", FieldKind::kBoolean},
};

// The prefix of field `name` (exact, lower case). Evaluated at compile
// time where it is used in a constant: an unknown name does not compile.
consteval std::string_view FieldPrefix(std::string_view name) {
  for (const Field& field : kFields) {
    if (field.name == name) return field.prefix;
  }
  throw "no such field in kFields";
}

// The body's prefix (none, version 3) and the subject's.
inline constexpr std::string_view kBodyPrefix = FieldPrefix("body");
inline constexpr std::string_view kSubjectPrefix = FieldPrefix("subject");
// The prefixes free text searches, in this order (version 3).
inline constexpr std::string_view kFreeTextPrefixes[] = {kBodyPrefix, kSubjectPrefix, FieldPrefix("from"),
                                                         FieldPrefix("to"), FieldPrefix("cc")};
// The term has:attachment matches (under FieldPrefix("has")).
inline constexpr std::string_view kHasAttachment = "attachment";

// The field for a query name (case-insensitive), or nullptr.
const Field* FindField(std::string_view name);

}  // namespace mailkeep::index
