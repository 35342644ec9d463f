#include "index/document.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "index/schema.h"
#include "index/text.h"
#include "index/varint.h"

namespace mailkeep::index {

namespace {

// Term positions left empty between two fields, so that no phrase matches
// across a field boundary.
constexpr Xapian::termpos kFieldGap = 100;
// Shorter lines are never treated as encoded data.
constexpr size_t kEncodedLineMin = 40;

void AddTerm(Xapian::Document& document, const std::string& term) {
  if (term.size() <= kMaxTermBytes) document.add_term(term);
}

void AddBooleanTerm(Xapian::Document& document, std::string_view prefix, std::string_view value) {
  if (value.empty()) return;
  std::string term;
  term.reserve(prefix.size() + value.size());
  term.append(prefix).append(value);
  if (term.size() <= kMaxTermBytes) document.add_boolean_term(term);
}

bool IsBase64Char(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/' || c == '=';
}

bool LooksEncoded(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() < kEncodedLineMin) return false;
  for (unsigned char c : line) {
    if (!IsBase64Char(c)) return false;
  }
  return true;
}

}  // namespace

std::string BodyForIndex(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    size_t cut = max_bytes;
    // Back up to the start of a UTF-8 sequence.
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
  }
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!LooksEncoded(line)) {
      out.append(line);
      out.push_back('\n');
    }
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

void SplitQuoted(std::string_view text, std::string* own, std::string* quoted) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end == std::string_view::npos ? text.size() : end + 1);
    size_t i = 0;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    (i < line.size() && line[i] == '>' ? quoted : own)->append(line);
    text.remove_prefix(line.size());
  }
}

DocumentBuilder::DocumentBuilder(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {
  // No stems (schema version 3): the query parser expands a word to the
  // indexed words with the same English stem (index/query.h).
  generator_.set_stemming_strategy(Xapian::TermGenerator::STEM_NONE);
}

void DocumentBuilder::IndexText(std::string_view text, const std::string& prefix, bool positions) {
  if (text.empty()) return;
  const std::string folded = FoldText(text);
  text_bytes_ += folded.size();
  if (positions) {
    generator_.index_text(folded, 1, prefix);
    generator_.increase_termpos(kFieldGap);
  } else {
    generator_.index_text_without_positions(folded, 1, prefix);
  }
}

void DocumentBuilder::IndexAddresses(Xapian::Document& document, const std::vector<mime::Address>& addresses,
                                     const std::string& prefix) {
  for (const mime::Address& address : addresses) {
    IndexText(address.name, prefix, true);
    IndexText(address.address, prefix, false);
    for (const std::string& term : AddressTerms(address.address)) AddTerm(document, prefix + term);
  }
}

namespace {

// Each field's prefix, from the one table the query parser also reads.
const std::string kSubject(FieldPrefix("subject")), kBody(FieldPrefix("body")), kFrom(FieldPrefix("from")),
    kTo(FieldPrefix("to")), kCc(FieldPrefix("cc")), kBcc(FieldPrefix("bcc")), kAttachment(FieldPrefix("attachment"));
constexpr std::string_view kMimeType = FieldPrefix("mimetype"), kMessageId = FieldPrefix("id"),
                           kThread = FieldPrefix("thread"), kAccount = FieldPrefix("account"),
                           kFolder = FieldPrefix("folder"), kFlag = FieldPrefix("is"), kHas = FieldPrefix("has");
static_assert(FieldPrefix("mid") == FieldPrefix("id"));

// Whether `value` can be a facet value of a field with `prefix`: its term
// fits in the document (AddBooleanTerm and AddTerm leave longer ones out),
// and a field query can name it (any value quoted with QuoteQueryValue, but
// an address with a space in it would be searched as words).
bool FacetValueFits(std::string_view prefix, std::string_view value, bool no_space) {
  if (value.empty() || prefix.size() + value.size() > kMaxTermBytes) return false;
  return !no_space || value.find_first_of(" \t\r\n\f\v") == std::string_view::npos;
}

}  // namespace

std::string MonthOf(int64_t unix_seconds) {
  using namespace std::chrono;
  const year_month_day ymd{floor<days>(sys_seconds{seconds{unix_seconds}})};
  const int y = static_cast<int>(ymd.year());
  if (y < 0 || y > 9999) return {};
  char month[16];
  std::snprintf(month, sizeof month, "%04d-%02u", y, static_cast<unsigned>(ymd.month()));
  return month;
}

FacetValues FacetValuesOf(const IndexDocument& doc) {
  const mime::Message& message = *doc.message;
  FacetValues values;
  if (message.date) values.month = MonthOf(*message.date);
  for (const mime::Address& address : message.from) {
    // What from:ADDRESS matches: the whole folded address, its first term.
    std::vector<std::string> terms = AddressTerms(address.address);
    if (terms.empty() || terms.front().find('@') == std::string::npos) continue;
    std::string& whole = terms.front();
    if (!FacetValueFits(kFrom, whole, true) || std::ranges::find(values.senders, whole) != values.senders.end()) {
      continue;
    }
    values.senders.push_back(std::move(whole));
  }
  auto add_names = [](std::string_view prefix, const std::vector<std::string>& names, std::vector<std::string>& out) {
    for (const std::string& name : names) {
      if (FacetValueFits(prefix, name, false) && std::ranges::find(out, name) == out.end()) out.push_back(name);
    }
  };
  add_names(kFolder, doc.folders, values.folders);
  add_names(kAccount, doc.accounts, values.accounts);
  return values;
}

std::string EncodeFacets(const FacetValues& values) {
  std::string out;
  AppendVarint(out, values.month.size());
  out.append(values.month);
  for (const std::vector<std::string>* list : {&values.senders, &values.folders, &values.accounts}) {
    AppendVarint(out, list->size());
    for (const std::string& value : *list) {
      AppendVarint(out, value.size());
      out.append(value);
    }
  }
  return out;
}

bool DecodeFacets(std::string_view encoded, FacetView* view) {
  *view = FacetView{};
  if (!ConsumeString(encoded, view->month)) return false;
  for (std::vector<std::string_view>* list : {&view->senders, &view->folders, &view->accounts}) {
    size_t n = 0;
    // Each value takes at least one byte: a count past what is left is damage.
    if (!ConsumeVarint(encoded, n) || n > encoded.size()) return false;
    list->reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::string_view value;
      if (!ConsumeString(encoded, value)) return false;
      list->push_back(value);
    }
  }
  return encoded.empty();
}

Xapian::Document DocumentBuilder::Build(const IndexDocument& doc) {
  const mime::Message& message = *doc.message;
  Xapian::Document document;
  generator_.set_document(document);
  generator_.set_termpos(0);
  text_bytes_ = 0;

  IndexText(message.subject, kSubject, true);
  IndexAddresses(document, message.from, kFrom);
  IndexAddresses(document, message.sender, kFrom);
  IndexAddresses(document, message.to, kTo);
  IndexAddresses(document, message.cc, kCc);
  IndexAddresses(document, message.bcc, kBcc);

  // message.attachments: the attachment parts' names (Part::is_attachment,
  // store/mime's one rule) and uuencoded files.
  bool has_attachment = !message.attachments.empty();
  for (const std::string& name : message.attachments) {
    IndexText(name, kAttachment, true);
    AddTerm(document, kAttachment + FoldText(name));
  }
  for (const mime::Part& part : message.parts) {
    if (part.is_attachment) has_attachment = true;
    if (!part.is_multipart && !part.is_message) AddBooleanTerm(document, kMimeType, part.content_type);
  }

  if (!message.text.empty()) {
    // Quoted lines ("> ..."), most of a mailing list's text, are indexed
    // without positions: their words are found, a phrase only in the
    // message that wrote it (which the archive usually holds too). Saves a
    // seventh of the index and of its CPU on linux-mips.
    std::string own, quoted;
    SplitQuoted(BodyForIndex(message.text, max_body_bytes_), &own, &quoted);
    IndexText(own, kBody, true);
    IndexText(quoted, kBody, false);
  }

  AddBooleanTerm(document, kMessageId, message.message_id);
  if (doc.thread != 0) AddBooleanTerm(document, kThread, std::to_string(doc.thread));
  for (const std::string& account : doc.accounts) AddBooleanTerm(document, kAccount, account);
  for (const std::string& folder : doc.folders) AddBooleanTerm(document, kFolder, folder);
  for (std::string_view flag : doc.flags) {
    if (!flag.empty() && flag.front() == '\\') flag.remove_prefix(1);
    AddBooleanTerm(document, kFlag, FoldText(flag));
  }
  if (has_attachment) AddBooleanTerm(document, kHas, kHasAttachment);

  if (message.date) document.add_value(kValueDate, Xapian::sortable_serialise(static_cast<double>(*message.date)));
  document.add_value(kValueSize, Xapian::sortable_serialise(static_cast<double>(doc.size)));
  // The facets go in the document data, not a value slot: Xapian 1.4.22
  // writes value streams from a destructor (Glass::ValueUpdater), and a
  // disk error there ends the process (std::terminate; tests/fault saw it
  // with the facets in slot 2), where a failed data write is an exception.
  document.set_data(EncodeFacets(FacetValuesOf(doc)));
  positions_ = MovePositionsOut(document);
  return document;
}

Error ErrorFromXapian(const Xapian::Error& e, std::string_view context) {
  // Xapian 1.4's exception classes have no virtual functions, so the class
  // is told by its name rather than by dynamic_cast.
  const std::string_view type = e.get_type();
  ErrorCode code = ErrorCode::kInternal;
  if (type == "DatabaseLockError" || type == "DatabaseModifiedError") {
    code = ErrorCode::kUnavailable;
  } else if (type == "DatabaseNotFoundError" || type == "DocNotFoundError") {
    code = ErrorCode::kNotFound;
  } else if (type == "DatabaseOpeningError" || type == "DatabaseVersionError") {
    code = ErrorCode::kFailedPrecondition;
  } else if (type == "DatabaseCorruptError") {
    code = ErrorCode::kCorruption;
  } else if (type.starts_with("Database")) {  // DatabaseError, DatabaseCreateError, DatabaseClosedError
    code = ErrorCode::kIoError;
  } else if (type == "QueryParserError" || type == "InvalidArgumentError" || type == "RangeError" ||
             type == "WildcardError") {
    code = ErrorCode::kInvalidArgument;
  }
  std::string message(context);
  message += ": ";
  message += e.get_type();
  message += ": ";
  message += e.get_msg();
  if (const char* detail = e.get_error_string(); detail != nullptr && *detail != '\0') {
    message += " (";
    message += detail;
    message += ")";
  }
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return Error(code, std::move(message));
}

Error ErrorFromException(const std::exception& e, std::string_view context) {
  return Error(ErrorCode::kInternal, std::string(context) + ": " + e.what());
}

}  // namespace mailkeep::index
