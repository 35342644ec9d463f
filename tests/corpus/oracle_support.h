// Helpers for the corpus oracle tests: reading the corpora (files, zstd,
// tar), reading the oracles' own value formats (address strings, dates),
// normalizing values before they are compared, and keeping per-field
// agreement tallies. Nothing here calls the MIME parser: the oracle side of a
// comparison must never be computed with the code under test.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkeep::corpus {

namespace fs = std::filesystem;

// $MAILKEEP_CORPUS when it names a directory, else nullopt (tests skip).
std::optional<fs::path> CorpusRoot();

std::optional<std::string> ReadFile(const fs::path& path);
// Whole-stream zstd decompression (multi-frame, long windows up to 2^27).
std::optional<std::string> ZstdDecompress(std::string_view data);
// Regular files of a (ustar/GNU) tar image, in archive order.
std::vector<std::pair<std::string, std::string>> TarFiles(std::string_view tar);
// Regular files below `dir`, recursively, sorted by path.
std::vector<fs::path> FilesUnder(const fs::path& dir);

// Oracle value formats -----------------------------------------------------

// One mailbox as an oracle prints it.
struct OracleAddress {
  std::string name;
  std::string address;
};
// Splits an address list as formatted by an oracle ("Name" <a@b>, c@d (Comment),
// group: x@y;) into mailboxes. Small and independent of store/mime.
std::vector<OracleAddress> SplitAddressString(std::string_view s);
// RFC 5322 date as an oracle prints it ("Fri, 04 May 2001 14:05:44 -0400";
// day name optional, seconds optional, zone +-HHMM or UT/GMT/UTC/Z or the
// US zone names). Returns Unix seconds UTC.
std::optional<int64_t> ParseOracleDate(std::string_view s);
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d);

// Normalization --------------------------------------------------------------

// Collapses runs of ASCII whitespace (space, tab, CR, LF) into one space and trims.
std::string CollapseSpace(std::string_view s);
std::string Lower(std::string_view s);
// "a@b, c@d" from mailboxes: address lower-cased and trimmed; empty ones kept as "".
std::string AddressKey(const std::vector<std::string>& addresses);
// Message-ID without angle brackets and surrounding space.
std::string NormalizeMessageId(std::string_view s);
std::string DateKey(std::optional<int64_t> t);  // ISO-8601 UTC or "(none)"
std::string JoinList(const std::vector<std::string>& v, std::string_view sep = " | ");

// Tally ----------------------------------------------------------------------

// Per-field agreement counts for one corpus, plus the first disagreements.
class Tally {
 public:
  explicit Tally(std::string corpus) : corpus_(std::move(corpus)) {}

  // Records one comparison; returns whether it agreed.
  bool Check(const std::string& field, const std::string& file, const std::string& expected,
             const std::string& actual);
  // Records an agreement/disagreement decided by the caller.
  void Record(const std::string& field, const std::string& file, bool agree,
              const std::string& expected, const std::string& actual);

  // Prints the table "corpus field agree/total percent" to stdout. With
  // MAILKEEP_ORACLE_VERBOSE=1 in the environment, prints every recorded
  // disagreement too.
  void Print() const;
  // Expects agree/total >= min_ratio for `field` (with at least one
  // comparison); on failure lists the disagreements (capped).
  void ExpectAtLeast(const std::string& field, double min_ratio) const;
  // ExpectAtLeast for every field that has a threshold in `mins`, and fails
  // for fields without one (so a new field gets a deliberate threshold).
  void ExpectThresholds(const std::map<std::string, double>& mins) const;

  int agree(const std::string& field) const;
  int total(const std::string& field) const;

 private:
  struct Mismatch {
    std::string file, expected, actual;
  };
  struct Field {
    int agree = 0, total = 0;
    std::vector<Mismatch> mismatches;  // capped at kKeep
  };
  static constexpr size_t kKeep = 200;
  std::string corpus_;
  std::vector<std::string> order_;
  std::map<std::string, Field> fields_;
};

}  // namespace mailkeep::corpus
