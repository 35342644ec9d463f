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
//
// Text is lower-cased and diacritics are folded (é → e) before term
// generation, for case- and diacritic-insensitive search. Folded text never
// starts with an upper-case ASCII letter, so the unprefixed body terms never
// collide with a prefixed term. Positions are kept for the body, subject,
// names and attachment names (phrases); address words have none.
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
#pragma once

#include <string_view>

namespace mailkeep::index {

inline constexpr int kSchemaVersion = 3;

// The body's prefix (none, version 3) and the subject's.
inline constexpr std::string_view kBodyPrefix = "";
inline constexpr std::string_view kSubjectPrefix = "S";
// The prefixes free text searches, in this order (version 3).
inline constexpr std::string_view kFreeTextPrefixes[] = {kBodyPrefix, kSubjectPrefix, "F", "T", "C"};

inline constexpr unsigned kValueDate = 0;
inline constexpr unsigned kValueSize = 1;

enum class FieldKind { kText, kAddress, kBoolean };

struct Field {
  std::string_view name;    // as written in queries, lower case, without ':'
  std::string_view prefix;  // Xapian term prefix
  FieldKind kind;
};

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

// The field for a query name (case-insensitive), or nullptr.
const Field* FindField(std::string_view name);

}  // namespace mailkeep::index
