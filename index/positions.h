// Internal to index/ (includes Xapian): term positions kept beside Xapian's
// tables rather than in its position table (schema version 5), and the
// phrase filter that reads them.
//
// Why: Xapian's glass position table keys each (term, document) pair
// separately, sorted by term first. It held 57% of linux-mips' index, and
// every batch of new documents lands in blocks spread over the whole table:
// at ten times linux-mips, an import into one segment slowed to about half
// its first rate, and writing segments instead cost index size. One record
// per document holds the same positions in a third less space (linux-mips:
// 28 MB of records per shard against a 42 MB position table), written in
// docid order.
//
// Where: each shard's user metadata, key PositionsKey(shard docid): "p"
// and the docid as 4 bytes big-endian, so the keys sort as the docids do
// and new documents' records are appended. The record is written and
// removed with its document, in the same shard commit (the writer); a
// compaction copies it unchanged (docids are kept, index/shards.h); a
// document without positional terms has none.
//
// Record (EncodePositions), not compressed (zstd saved a quarter of the
// space but made each phrase check several times slower):
//   format byte 1;
//   one entry per term, terms in increasing byte order: LEB128 length
//   shared with the previous term (0 for the first of each group of 16),
//   LEB128 length of the rest, the rest, LEB128 byte length of the
//   positions, the positions in LEB128 (the first, then each increase,
//   all > 0);
//   where each group of 16 entries starts (counted from the first entry),
//   then the number of groups, each 4 bytes little-endian.
// A term is found by a binary search over the groups' first terms and a
// scan of one group. Readers check every length and offset against the
// record: a damaged record matches no phrase and nothing outside it is read.
#pragma once

#include <xapian.h>

#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::index {

// The metadata keys of the records start with this.
inline constexpr std::string_view kPositionsKeyPrefix = "p";

struct TermPositions {
  std::string term;
  std::vector<Xapian::termpos> positions;  // increasing
  bool operator==(const TermPositions&) const = default;
};

// The metadata key of shard docid `docid`'s record.
std::string PositionsKey(Xapian::docid docid);

// The record of `terms` (sorted by term, no duplicates); "" when there are
// none.
std::string EncodePositions(const std::vector<TermPositions>& terms);

// Takes every position out of `document` (its terms keep their wdf) and
// returns their record ("" when it had none).
std::string MovePositionsOut(Xapian::Document& document);

// Every entry of `record` ("": none); false when it is damaged.
bool DecodePositions(std::string_view record, std::vector<TermPositions>* terms);

// Whether `record` holds the phrase `phrase`: some position p such that for
// every i, one of the terms phrase[i] is at position p + i. False for an
// empty phrase or a damaged record.
bool HasPhrase(std::string_view record, const std::vector<std::vector<std::string>>& phrase);

// Matches the documents of a sub-database whose record holds `phrase`
// (HasPhrase). Weightless: used as a filter beside the
// phrase's terms (Query(OP_AND, terms..., Query(filter.release()))), whose
// postlists drive the match while this one is asked about each candidate
// (check()); it says it matches every document so that it never drives.
class PhraseFilter final : public Xapian::PostingSource {
 public:
  explicit PhraseFilter(std::vector<std::vector<std::string>> phrase);

  Xapian::PostingSource* clone() const override;
  void init(const Xapian::Database& db) override;
  Xapian::doccount get_termfreq_min() const override { return 0; }
  Xapian::doccount get_termfreq_est() const override { return documents_; }
  Xapian::doccount get_termfreq_max() const override { return documents_; }
  Xapian::docid get_docid() const override { return docid_; }
  bool at_end() const override { return at_end_; }
  void next(double min_wt) override;
  void skip_to(Xapian::docid did, double min_wt) override;
  bool check(Xapian::docid did, double min_wt) override;
  std::string get_description() const override;

 private:
  bool Matches(Xapian::docid did);

  std::vector<std::vector<std::string>> phrase_;
  Xapian::Database db_;
  Xapian::doccount documents_ = 0;
  Xapian::docid docid_ = 0;  // the current document, or the last one checked
  bool matched_ = false;     // docid_ matches
  bool at_end_ = false;
};

}  // namespace mailkeep::index
