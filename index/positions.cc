#include "index/positions.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "index/varint.h"

namespace mailkeep::index {

namespace {

constexpr char kFormat = 1;
// Entries per group: each group starts with a whole term, and the record
// ends with where each group starts, so a term is found by a binary search
// over the groups' first terms and a scan of at most one group.
constexpr size_t kGroupEntries = 16;

void AppendFixed32(std::string& out, uint32_t n) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>((n >> shift) & 0xFF));
}

uint32_t Fixed32At(std::string_view bytes, size_t at) {
  uint32_t n = 0;
  for (int i = 3; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[at + static_cast<size_t>(i)]);
  return n;
}

// Reads the parts of the entry at the front of `in`: how many bytes its
// term shares with the previous entry's, the rest of its term, and its
// positions' bytes; false when they run past `in`.
bool ConsumeEntryParts(std::string_view& in, size_t& shared, std::string_view& rest, std::string_view& positions) {
  return ConsumeVarint(in, shared) && ConsumeString(in, rest) && ConsumeString(in, positions);
}

// Reads one entry from the front of `in` into `term` (which holds the
// previous entry's term); false when damaged.
bool ConsumeEntry(std::string_view& in, std::string& term, std::string_view& positions) {
  size_t shared = 0;
  std::string_view rest;
  if (!ConsumeEntryParts(in, shared, rest, positions) || shared > term.size()) return false;
  term.resize(shared);
  term.append(rest);
  return true;
}

// Appends the positions in `bytes` to `out`; false when damaged.
bool DecodePositionList(std::string_view bytes, std::vector<Xapian::termpos>* out) {
  uint64_t position = 0;
  while (!bytes.empty()) {
    size_t step = 0;
    if (!ConsumeVarint(bytes, step) || step == 0) return false;
    position += step;
    if (position > std::numeric_limits<Xapian::termpos>::max()) return false;
    out->push_back(static_cast<Xapian::termpos>(position));
  }
  return true;
}

// A record's parts, checked: its entries and where each group starts.
class RecordView {
 public:
  // False when `record` is not a well-formed record.
  bool Open(std::string_view record) {
    if (record.size() < 1 + 4 || record.front() != kFormat) return false;
    const size_t groups = Fixed32At(record, record.size() - 4);
    if (groups == 0 || groups > (record.size() - 1 - 4) / 4) return false;
    const size_t table = record.size() - 4 - 4 * groups;
    entries_ = record.substr(1, table - 1);
    starts_ = record.substr(table, 4 * groups);
    for (size_t g = 0; g < groups; ++g) {
      const uint32_t start = Start(g);
      if (start >= entries_.size() || (g == 0 && start != 0) || (g > 0 && start <= Start(g - 1))) return false;
    }
    return true;
  }

  std::string_view entries() const { return entries_; }

  // The positions bytes of `term` in *positions; false when the record
  // does not have it, or `*damaged` when an entry cannot be read.
  bool Find(std::string_view term, std::string_view* positions, bool* damaged) {
    // The last group whose first term is <= term. A group's first term is
    // whole (it shares nothing with the entry before it).
    size_t lo = 0, hi = starts_.size() / 4;
    while (hi - lo > 1) {
      const size_t mid = lo + (hi - lo) / 2;
      std::string_view in = Group(mid);
      size_t shared = 0;
      std::string_view first;
      if (!ConsumeEntryParts(in, shared, first, *positions) || shared != 0) {
        *damaged = true;
        return false;
      }
      if (first <= term) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    // Scans the group without rebuilding its terms: `common` is how many
    // bytes the previous entry (which sorts before `term`) shares with
    // `term`, so an entry sharing more than that with the previous one
    // sorts before `term` too, one sharing less sorts after it, and only
    // one sharing exactly that much has its rest compared.
    std::string_view in = Group(lo);
    size_t common = 0;
    size_t previous_size = 0;
    while (!in.empty()) {
      size_t shared = 0;
      std::string_view rest;
      if (!ConsumeEntryParts(in, shared, rest, *positions) || shared > previous_size) {
        *damaged = true;
        return false;
      }
      previous_size = shared + rest.size();
      if (shared > common) continue;
      if (shared < common) return false;
      const std::string_view wanted = term.substr(common);
      const size_t n = std::min(rest.size(), wanted.size());
      size_t k = 0;
      while (k < n && rest[k] == wanted[k]) ++k;
      if (k == rest.size() && k == wanted.size()) return true;
      const bool before = k == rest.size() ||
                          (k < wanted.size() && static_cast<unsigned char>(rest[k]) < static_cast<unsigned char>(wanted[k]));
      if (!before) return false;
      common += k;
    }
    return false;
  }

 private:
  uint32_t Start(size_t g) const { return Fixed32At(starts_, 4 * g); }
  // Group g's entries.
  std::string_view Group(size_t g) const {
    const size_t end = 4 * (g + 1) < starts_.size() ? Start(g + 1) : entries_.size();
    return entries_.substr(Start(g), end - Start(g));
  }

  std::string_view entries_;
  std::string_view starts_;
};

}  // namespace

std::string PositionsKey(Xapian::docid docid) {
  std::string key(kPositionsKeyPrefix);
  for (int shift = 24; shift >= 0; shift -= 8) key.push_back(static_cast<char>((docid >> shift) & 0xFF));
  return key;
}

std::string EncodePositions(const std::vector<TermPositions>& terms) {
  if (terms.empty()) return {};
  std::string record(1, kFormat);
  std::vector<uint32_t> starts;
  std::string_view previous;
  std::string list;
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string_view term = terms[i].term;
    size_t shared = 0;
    if (i % kGroupEntries == 0) {
      starts.push_back(static_cast<uint32_t>(record.size() - 1));
    } else {
      shared = std::mismatch(previous.begin(), previous.end(), term.begin(), term.end()).first - previous.begin();
    }
    AppendVarint(record, shared);
    AppendVarint(record, term.size() - shared);
    record.append(term.substr(shared));
    list.clear();
    Xapian::termpos last = 0;
    for (Xapian::termpos position : terms[i].positions) {
      AppendVarint(list, position - last);
      last = position;
    }
    AppendVarint(record, list.size());
    record += list;
    previous = term;
  }
  for (uint32_t start : starts) AppendFixed32(record, start);
  AppendFixed32(record, static_cast<uint32_t>(starts.size()));
  return record;
}

std::string MovePositionsOut(Xapian::Document& document) {
  std::vector<TermPositions> terms;
  for (auto t = document.termlist_begin(); t != document.termlist_end(); ++t) {
    if (t.positionlist_count() == 0) continue;
    TermPositions& entry = terms.emplace_back();
    entry.term = *t;
    entry.positions.assign(t.positionlist_begin(), t.positionlist_end());
  }
  for (const TermPositions& entry : terms) {
    document.remove_postings(entry.term, 0, std::numeric_limits<Xapian::termpos>::max(), 0);
  }
  return EncodePositions(terms);
}

bool DecodePositions(std::string_view record, std::vector<TermPositions>* terms) {
  terms->clear();
  if (record.empty()) return true;
  RecordView view;
  if (!view.Open(record)) return false;
  std::string_view in = view.entries();
  std::string term;
  while (!in.empty()) {
    TermPositions& entry = terms->emplace_back();
    std::string_view list;
    if (!ConsumeEntry(in, term, list) || !DecodePositionList(list, &entry.positions)) return false;
    entry.term = term;
  }
  return true;
}

bool HasPhrase(std::string_view record, const std::vector<std::vector<std::string>>& phrase) {
  if (phrase.empty() || record.empty()) return false;
  RecordView view;
  if (!view.Open(record)) return false;
  // The positions of each place of the phrase (the union of its terms').
  std::vector<std::vector<Xapian::termpos>> at(phrase.size());
  for (size_t i = 0; i < phrase.size(); ++i) {
    for (const std::string& term : phrase[i]) {
      std::string_view list;
      bool damaged = false;
      if (view.Find(term, &list, &damaged)) {
        if (!DecodePositionList(list, &at[i])) return false;
      } else if (damaged) {
        return false;
      }
    }
    if (at[i].empty()) return false;
    if (phrase[i].size() > 1) std::sort(at[i].begin(), at[i].end());
  }
  for (Xapian::termpos start : at[0]) {
    bool all = true;
    for (size_t i = 1; i < at.size() && all; ++i) {
      all = std::binary_search(at[i].begin(), at[i].end(), start + static_cast<Xapian::termpos>(i));
    }
    if (all) return true;
  }
  return false;
}

PhraseFilter::PhraseFilter(std::vector<std::vector<std::string>> phrase) : phrase_(std::move(phrase)) {}

Xapian::PostingSource* PhraseFilter::clone() const { return new PhraseFilter(phrase_); }

void PhraseFilter::init(const Xapian::Database& db) {
  db_ = db;
  documents_ = db.get_doccount();
  docid_ = 0;
  matched_ = false;
  at_end_ = false;
}

bool PhraseFilter::Matches(Xapian::docid did) { return HasPhrase(db_.get_metadata(PositionsKey(did)), phrase_); }

void PhraseFilter::next(double min_wt) { skip_to(docid_ + 1, min_wt); }

// Walks the documents from `did` on. Reached only when this filter drives
// the match, which its estimate avoids.
void PhraseFilter::skip_to(Xapian::docid did, double) {
  if (at_end_ || (matched_ && did <= docid_)) return;
  // After a failed check() the position is just past docid_.
  const Xapian::docid from = std::max(did, docid_ + 1);
  auto document = db_.postlist_begin(std::string());  // every document
  document.skip_to(from);
  for (; document != db_.postlist_end(std::string()); ++document) {
    if (Matches(*document)) {
      docid_ = *document;
      matched_ = true;
      return;
    }
  }
  at_end_ = true;
}

bool PhraseFilter::check(Xapian::docid did, double) {
  docid_ = did;
  matched_ = Matches(did);
  return matched_;  // false: not here, and next() or skip_to() go on after it
}

std::string PhraseFilter::get_description() const {
  std::string description = "phrase(";
  for (size_t i = 0; i < phrase_.size(); ++i) {
    if (i > 0) description += ' ';
    for (size_t j = 0; j < phrase_[i].size(); ++j) description += (j > 0 ? "|" : "") + phrase_[i][j];
  }
  return description + ")";
}

}  // namespace mailkeep::index
