// Internal to index/ (includes Xapian): builds the Xapian document for one
// message following index/schema.h, and maps Xapian exceptions to Error.
//
// What a document holds (schema version kSchemaVersion):
//   text fields     folded (FoldText) and cut into words by a TermGenerator
//                   without stemming; every field once, under its own
//                   prefix (the body without one), with positions. Fields
//                   are separated by a position gap so a phrase never spans
//                   two of them. Free-text queries search the body, subject
//                   and from/to/cc prefixes together (index/query.h).
//   address fields  names as text with positions; the address itself as
//                   words without positions (phrases match names), plus the
//                   exact AddressTerms() terms (whole address, local part,
//                   domain) with wdf 1 and no positions.
//   attachment (A)  each file name as text, plus the whole folded name.
//   boolean fields  M Q G XA XF K H as boolean terms (wdf 0): the prefix
//                   followed directly by the value, never a ':' between
//                   them (so "XF" + "INBOX" is "XFINBOX", as index/query.cc
//                   spells it); account and folder names and Message-IDs
//                   keep their case, MIME types and flags are lower case.
//   values          slot 0 date (when the message has one), slot 1 raw size,
//                   both Xapian::sortable_serialise.
//   data            the facets (EncodeFacets(FacetValuesOf(doc)), schema
//                   version 4); the docid is the catalog id, the catalog has the rest.
// The positions of the text fields' words are not left in the document
// (schema version 5): Build() takes them out into a record
// (index/positions.h, last_positions()) that the writer stores beside it.
// Terms longer than Xapian's limit (245 bytes) are left out rather than
// failing the document.
//
// Thread-safety: a DocumentBuilder belongs to one thread.
#pragma once

#include <xapian.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "index/index.h"
#include "index/positions.h"
#include "store/util/status.h"

namespace mailkeep::index {

class DocumentBuilder {
 public:
  // `max_body_bytes`: Message::text indexed per message (IndexWriterOptions).
  explicit DocumentBuilder(size_t max_body_bytes);

  // REQUIRES: doc.message != nullptr.
  // May throw Xapian::Error (callers inside index/ catch and map it).
  Xapian::Document Build(const IndexDocument& doc);

  // Bytes of folded text fed to the term generator by the last Build().
  size_t last_text_bytes() const { return text_bytes_; }
  // The positions record of the last Build()'s document (index/positions.h);
  // "" when it has no positional terms.
  const std::string& last_positions() const { return positions_; }

 private:
  // Folds `text` and indexes its words under `prefix`, with positions (and
  // a gap after them) or without.
  void IndexText(std::string_view text, const std::string& prefix, bool positions);
  void IndexAddresses(Xapian::Document& document, const std::vector<mime::Address>& addresses,
                      const std::string& prefix);

  Xapian::TermGenerator generator_;
  size_t max_body_bytes_;
  size_t text_bytes_ = 0;
  std::string positions_;
};

// The body text that is indexed: the first `max_bytes` of `text`, cut on a
// UTF-8 character boundary, without lines that look like base64 or other
// encoded data (40+ characters of [A-Za-z0-9+/=] and no space), which only
// add unique junk terms. Not folded.
std::string BodyForIndex(std::string_view text, size_t max_bytes);

// Splits text into the writer's own lines and quoted ones (first non-blank
// character '>'), each kept with its line end, in order.
void SplitQuoted(std::string_view text, std::string* own, std::string* quoted);

// What a document contributes to IndexReader::Facets (its data): each value exactly what a field query matches, so that a
// facet narrows the query when clicked.
struct FacetValues {
  std::string month;                  // "YYYY-MM" of the date, UTC (MonthOf); "" without one
  std::vector<std::string> senders;   // From addresses as from: matches them (folded, lower case)
  std::vector<std::string> folders;   // as folder: matches them (as written)
  std::vector<std::string> accounts;  // as account: matches them
};
// The same, viewing an encoded value (valid while that string lives).
struct FacetView {
  std::string_view month;
  std::vector<std::string_view> senders, folders, accounts;
};

// "YYYY-MM" of a Unix time (UTC), or "" outside years 0000-9999 (which
// date: cannot name).
std::string MonthOf(int64_t unix_seconds);

// The facet values of a document. A value is left out when its term is too
// long to be indexed or when no field query can name it: one holding '"'
// (a quoted query value cannot), a From address with a space; duplicates
// are dropped.
FacetValues FacetValuesOf(const IndexDocument& doc);

// The slot's bytes: month, then senders, folders, accounts; each string a
// LEB128 length and its bytes, each list a LEB128 count first.
std::string EncodeFacets(const FacetValues& values);
// Reads EncodeFacets' output; false (and `view` partly filled) when it is
// not well formed (a damaged index): never reads outside `encoded`.
bool DecodeFacets(std::string_view encoded, FacetView* view);

// Checks the schema version in the "mailkeep.schema" metadata of an open
// database: OK when it is kSchemaVersion, or when the key is missing and
// the database is empty (new; the writer stamps it). Otherwise
// kFailedPrecondition "index schema N, expected M; run `mailkeep reindex`"
// (N = 0 for a non-empty database without the key).
Status CheckSchemaVersion(const Xapian::Database& db, const std::string& dir);

// Xapian's largest term, in bytes.
inline constexpr size_t kMaxTermBytes = 245;

// Error for a Xapian exception, "context: <type>: <message>":
//   DatabaseLockError, DatabaseModifiedError    kUnavailable
//   DatabaseNotFoundError, DocNotFoundError     kNotFound
//   DatabaseVersionError, DatabaseOpeningError  kFailedPrecondition (not an index we can open)
//   DatabaseCorruptError                        kCorruption
//   other DatabaseError (I/O, create, closed)   kIoError
//   QueryParserError, InvalidArgumentError,
//   RangeError, WildcardError                   kInvalidArgument
//   anything else                               kInternal
Error ErrorFromXapian(const Xapian::Error& e, std::string_view context);
// Error for a std::exception (std::bad_alloc, ...) escaping Xapian: kInternal.
Error ErrorFromException(const std::exception& e, std::string_view context);

}  // namespace mailkeep::index
