// IndexReader over a Xapian database: ParseQuery (index/query.h) + Enquire.
// The shards (index/shards.h) are opened with Database::add_database in
// stub order; CatalogIdOf turns Xapian's combined docids into catalog ids
// (for an index of one segment they are the same), and they sort alike.
//
// Facets() counts with a MatchSpy over the document data (the facets, one
// string per match, index/schema.h): at most max_documents + 1 matches are
// examined; when there are more, a pass sorted by date finds the
// (max_documents + 1)-th newest and another counts the matches dated after
// it.
//
// Each Search() and Facets() first reopens the database (and opens the
// shards anew when XAPIANDB names others: a compaction or a new segment), so a long-lived
// reader sees what writers committed since, then parses the query against it (stem
// expansion reads its vocabulary); a DatabaseModifiedError (a writer
// committed twice during a search) is retried a few times on a reopened
// database.

#include <xapian.h>

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "index/document.h"
#include "index/index.h"
#include "index/query.h"
#include "index/schema.h"
#include "index/shards.h"

namespace mailkeep::index {

namespace {

constexpr int kModifiedRetries = 3;

// Counts the facet values (index/document.h FacetView) of every document
// the matcher shows it.
class FacetSpy final : public Xapian::MatchSpy {
 public:
  void operator()(const Xapian::Document& doc, double /*weight*/) override {
    ++seen_;
    const std::string encoded = doc.get_data();
    FacetView view;
    if (!DecodeFacets(encoded, &view)) return;  // damaged: counted as a match, without values
    if (!view.month.empty()) Count(months_, view.month);
    for (std::string_view v : view.senders) Count(senders_, v);
    for (std::string_view v : view.folders) Count(folders_, v);
    for (std::string_view v : view.accounts) Count(accounts_, v);
  }

  size_t seen() const { return seen_; }

  // The counts into `result` (months ascending, the rest most first).
  void Fill(size_t max_values, FacetResult* result) const {
    result->counted = seen_;
    for (const auto& [month, count] : months_) result->months.push_back({month, count});
    result->senders = MostFrequent(senders_, max_values);
    result->folders = MostFrequent(folders_, max_values);
    result->accounts = MostFrequent(accounts_, max_values);
  }

 private:
  using Counts = std::map<std::string, int64_t, std::less<>>;

  static void Count(Counts& counts, std::string_view value) {
    auto it = counts.find(value);
    if (it == counts.end()) it = counts.emplace(std::string(value), 0).first;
    ++it->second;
  }

  // The `n` most frequent, ties by value.
  static std::vector<FacetCount> MostFrequent(const Counts& counts, size_t n) {
    std::vector<FacetCount> all;
    all.reserve(counts.size());
    for (const auto& [value, count] : counts) all.push_back({value, count});
    auto more = [](const FacetCount& a, const FacetCount& b) {
      return a.count != b.count ? a.count > b.count : a.value < b.value;
    };
    n = std::min(n, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(), more);
    all.resize(n);
    return all;
  }

  size_t seen_ = 0;
  Counts months_, senders_, folders_, accounts_;
};

// Weight 0 for every match, as Xapian::BoolWeight, for the orders that do
// not rank: but it asks for the wdf, so Xapian does not swap a term that
// indexes every document of a shard for the shard's all-documents list.
// Xapian 1.4 does that for BoolWeight, and reading that list fails
// ("Unexpected end of posting list") once it spans more than one B-tree
// chunk while the shard's docids have a gap (a removed message, or
// segments merged): `account:A` on a one-account archive of some thousand
// messages after one `delete`.
class ZeroWeight final : public Xapian::Weight {
 public:
  ZeroWeight() { need_stat(WDF); }
  ZeroWeight* clone() const override { return new ZeroWeight; }
  void init(double) override {}
  double get_sumpart(Xapian::termcount, Xapian::termcount, Xapian::termcount) const override { return 0; }
  double get_maxpart() const override { return 0; }
  double get_sumextra(Xapian::termcount, Xapian::termcount) const override { return 0; }
  double get_maxextra() const override { return 0; }
};

// The shards `stub` names, as one database. Throws Xapian::Error.
Result<Xapian::Database> OpenShards(const std::string& dir, const ShardStub& stub) {
  Xapian::Database db;
  for (const ShardName& name : stub.AllShards()) {
    const std::string path = dir + "/" + name.Name();
    Xapian::Database shard(path);
    MK_RETURN_IF_ERROR(CheckSchemaVersion(shard, path));
    db.add_database(shard);
  }
  return db;
}

class XapianReader final : public IndexReader {
 public:
  XapianReader(Xapian::Database db, std::string dir, ShardStub stub)
      : db_(std::move(db)), dir_(std::move(dir)), stub_(std::move(stub)) {}

  Result<SearchResult> Search(const std::string& query, const SearchOptions& options) override {
    return Parsed<SearchResult>("search", query, options.now, options.limits,
                                [&](const Xapian::Query& parsed) { return Run(parsed, options); });
  }

  Result<FacetResult> Facets(const std::string& query, const FacetOptions& options) override {
    if (options.max_documents == 0) return MakeError(ErrorCode::kInvalidArgument, "facets: max_documents must be > 0");
    return Parsed<FacetResult>("facets", query, options.now, options.limits,
                               [&](const Xapian::Query& parsed) { return CountFacets(parsed, options); });
  }

  Result<int64_t> DocumentCount() override {
    try {
      MK_RETURN_IF_ERROR(Reopen());
      return static_cast<int64_t>(db_.get_doccount());
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index document count"));
    }
  }

 private:
  // Brings db_ to what writers committed: the shards XAPIANDB names now,
  // reopened. Throws Xapian::Error.
  Status Reopen() {
    if (stub_.segments.empty()) {  // unsharded (schema version 1)
      db_.reopen();
      return OkStatus();
    }
    for (int attempt = 0;; ++attempt) {
      MK_ASSIGN_OR_RETURN(ShardStub now, ReadShardStub(dir_));
      if (now == stub_) {
        db_.reopen();
        return OkStatus();
      }
      try {
        MK_ASSIGN_OR_RETURN(db_, OpenShards(dir_, now));
        stub_ = std::move(now);
        return OkStatus();
      } catch (const Xapian::DatabaseOpeningError&) {
        // Removed by a compaction after the stub was read: read it again.
        if (attempt + 1 >= kModifiedRetries) throw;
      }
    }
  }

  // Reopens the database, parses `query` against it and calls `run` with
  // the parsed query, retrying on DatabaseModifiedError; every exception
  // becomes an error named `what`.
  template <typename T>
  Result<T> Parsed(const char* what, const std::string& query, int64_t now, const QueryLimits& limits,
                   const std::function<T(const Xapian::Query&)>& run) {
    if (now == 0) now = static_cast<int64_t>(std::time(nullptr));
    for (int attempt = 0;; ++attempt) {
      try {
        MK_RETURN_IF_ERROR(Reopen());
        // Parsed against the reopened database: words are expanded to the
        // stem variants in its vocabulary (index/query.h).
        Result<Xapian::Query> parsed = ParseQuery(query, now, &db_, limits);
        if (!parsed) return std::unexpected(std::move(parsed).error());
        return run(*parsed);
      } catch (const Xapian::DatabaseModifiedError& e) {
        if (attempt + 1 >= kModifiedRetries) return std::unexpected(ErrorFromXapian(e, what));
      } catch (const Xapian::WildcardError&) {
        // ParseQuery counted every wildcard in this very database, so this
        // is a backstop (index/query.h).
        return MakeError(ErrorCode::kInvalidArgument,
                         "query error: a wildcard matches too many words in the index (a query may search " +
                             std::to_string(limits.max_terms) + "); make it longer");
      } catch (const Xapian::Error& e) {
        return std::unexpected(ErrorFromXapian(e, what));
      } catch (const std::exception& e) {
        return std::unexpected(ErrorFromException(e, what));
      }
    }
  }

  // Throws Xapian::Error.
  FacetResult CountFacets(const Xapian::Query& query, const FacetOptions& options) {
    const auto most = static_cast<Xapian::doccount>(
        std::min<size_t>(options.max_documents, std::numeric_limits<Xapian::doccount>::max() - 1));
    FacetSpy all;
    FacetResult result;
    result.total = Spy(query, most + 1, &all).get_matches_estimated();
    if (all.seen() <= most) {
      all.Fill(options.max_values, &result);
      return result;
    }
    // More than `most` match: count those dated after the (most + 1)-th
    // newest, at most `most`. The smallest string above a value is the
    // value with a NUL appended (sortable_serialise strings compare
    // bytewise); after an undated one ("") is any dated one.
    Xapian::Enquire newest(db_);
    newest.set_query(query);
    newest.set_weighting_scheme(ZeroWeight());
    newest.set_docid_order(Xapian::Enquire::DESCENDING);
    newest.set_sort_by_value(kValueDate, true);
    const Xapian::MSet boundary = newest.get_mset(most, 1);
    std::string after = boundary.empty() ? std::string() : boundary.begin().get_document().get_value(kValueDate);
    after.push_back('\0');
    FacetSpy recent;
    Spy(Xapian::Query(Xapian::Query::OP_FILTER, query, Xapian::Query(Xapian::Query::OP_VALUE_GE, kValueDate, after)),
        most + 1, &recent);
    recent.Fill(options.max_values, &result);
    return result;
  }

  // Shows `spy` at least `at_least` matches of `query` (all when fewer).
  Xapian::MSet Spy(const Xapian::Query& query, Xapian::doccount at_least, FacetSpy* spy) {
    Xapian::Enquire enquire(db_);
    enquire.set_query(query);
    enquire.set_weighting_scheme(ZeroWeight());
    enquire.add_matchspy(spy);
    return enquire.get_mset(0, 0, at_least);
  }

  // Throws Xapian::Error.
  SearchResult Run(const Xapian::Query& query, const SearchOptions& options) {
    Xapian::Enquire enquire(db_);
    enquire.set_query(query);
    switch (options.sort) {
      case SortOrder::kNewest:
        enquire.set_weighting_scheme(ZeroWeight());
        enquire.set_docid_order(Xapian::Enquire::DESCENDING);
        enquire.set_sort_by_value(kValueDate, true);
        break;
      case SortOrder::kOldest:
        enquire.set_weighting_scheme(ZeroWeight());
        enquire.set_docid_order(Xapian::Enquire::ASCENDING);
        enquire.set_sort_by_value(kValueDate, false);
        break;
      case SortOrder::kRelevance:
        enquire.set_weighting_scheme(Xapian::BM25Weight());
        enquire.set_sort_by_relevance();
        break;
    }
    const Xapian::doccount count = db_.get_doccount();
    const Xapian::doccount offset =
        static_cast<Xapian::doccount>(std::min<size_t>(options.offset, count));
    const Xapian::doccount limit =
        options.limit == 0 ? count : static_cast<Xapian::doccount>(std::min<size_t>(options.limit, count));
    // Every match is counted (check_at_least), so the total is exact. For
    // the date orders this costs nothing more: sorting by a value visits
    // every match anyway (measured on linux-mips: 7.0 ms of CPU for `mips`,
    // 34,840 matches, with or without); by relevance it may double the time
    // of a query with many matches (4.7 to 9.8 ms there).
    const Xapian::MSet mset = enquire.get_mset(offset, limit, count);

    SearchResult result;
    result.total = mset.get_matches_estimated();
    result.ids.reserve(mset.size());
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it) {
      result.ids.push_back(stub_.segments.empty() ? static_cast<int64_t>(*it)
                                                  : CatalogIdOf(*it, stub_.shards_per_segment(), stub_.segments.size()));
    }
    return result;
  }

  Xapian::Database db_;
  std::string dir_;
  ShardStub stub_;  // what db_ opened; no segments: an unsharded index
};

}  // namespace

Result<std::unique_ptr<IndexReader>> IndexReader::Open(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kNotFound, "index " + dir + ": no index (run `mailkeep reindex`)");
  }
  try {
    MK_ASSIGN_OR_RETURN(ShardStub stub, ReadShardStub(dir));
    if (stub.segments.empty()) {
      // Not sharded: an index from schema version 1, which the schema check
      // rejects, or not an index at all.
      Xapian::Database db(dir);
      MK_RETURN_IF_ERROR(CheckSchemaVersion(db, dir));
      return std::unique_ptr<IndexReader>(new XapianReader(std::move(db), dir, {}));
    }
    MK_ASSIGN_OR_RETURN(Xapian::Database db, OpenShards(dir, stub));
    return std::unique_ptr<IndexReader>(new XapianReader(std::move(db), dir, std::move(stub)));
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, "index open " + dir));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, "index open " + dir));
  }
}

}  // namespace mailkeep::index
