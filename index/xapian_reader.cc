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
// Search() in a date order does not let Xapian sort: sorting by a value
// builds a sort key string for every match (7 ms of CPU for `mips`, 34,840
// matches, on linux-mips). The reader keeps every document's place in the
// date order instead (DateOrder, rebuilt when a reopen finds new commits),
// collects the matches' docids, exactly counted, with a MatchSpy, and picks
// the page from them: the same documents in the same order as
// Enquire::set_sort_by_value gives.
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
#include <stdexcept>
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

// Every document of a database in Search's date orders. Newest first is by
// the date value (kValueDate) compared bytewise, as
// Enquire::set_sort_by_value(kValueDate, true) orders (an undated document
// has "" and comes last), ties by the higher docid first
// (set_docid_order(DESCENDING)); oldest first (sort_by_value ascending,
// docids ascending) is exactly its reverse.
class DateOrder {
 public:
  // Throws Xapian::Error.
  void Build(const Xapian::Database& db) {
    const Xapian::docid last = db.get_lastdocid();
    std::vector<std::string> dates(static_cast<size_t>(last) + 1);
    for (auto v = db.valuestream_begin(kValueDate); v != db.valuestream_end(kValueDate); ++v) {
      if (v.get_docid() <= last) dates[v.get_docid()] = *v;
    }
    newest_.clear();
    for (auto p = db.postlist_begin(""); p != db.postlist_end(""); ++p) newest_.push_back(*p);
    std::sort(newest_.begin(), newest_.end(), [&](Xapian::docid a, Xapian::docid b) {
      const int by_date = dates[a].compare(dates[b]);
      return by_date != 0 ? by_date > 0 : a > b;
    });
    place_.assign(static_cast<size_t>(last) + 1, kNowhere);
    for (size_t i = 0; i < newest_.size(); ++i) place_[newest_[i]] = static_cast<Xapian::docid>(i);
    marks_.assign(place_.size(), 0);
  }

  // The page [offset, offset + limit) (limit 0: to the end) of `matches`,
  // documents of the database Build() read, each once, in date order.
  // `matches` is reordered. Throws std::logic_error for a document Build()
  // did not see.
  std::vector<int64_t> Page(std::vector<Xapian::docid>& matches, bool newest, size_t offset, size_t limit) {
    for (Xapian::docid id : matches) {
      if (id >= place_.size() || place_[id] == kNowhere) throw std::logic_error("a match missing from the date order");
    }
    offset = std::min(offset, matches.size());
    const size_t end = limit == 0 ? matches.size() : std::min(matches.size(), offset + limit);
    std::vector<int64_t> page;
    page.reserve(end - offset);
    // Many matches: walk the order, about (end / share of matching documents)
    // steps; few: sort them.
    if (matches.size() * kWalkShare >= newest_.size() && end < matches.size()) {
      for (Xapian::docid id : matches) marks_[id] = 1;
      size_t seen = 0;
      for (size_t i = 0; seen < end; ++i) {
        const Xapian::docid id = newest ? newest_[i] : newest_[newest_.size() - 1 - i];
        if (marks_[id] != 0 && seen++ >= offset) page.push_back(id);
      }
      for (Xapian::docid id : matches) marks_[id] = 0;
      return page;
    }
    auto before = [&](Xapian::docid a, Xapian::docid b) { return newest ? place_[a] < place_[b] : place_[a] > place_[b]; };
    std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(end), matches.end(), before);
    for (size_t i = offset; i < end; ++i) page.push_back(matches[i]);
    return page;
  }

 private:
  static constexpr Xapian::docid kNowhere = std::numeric_limits<Xapian::docid>::max();
  // Walked when at least 1 in kWalkShare documents matches.
  static constexpr size_t kWalkShare = 16;
  std::vector<Xapian::docid> newest_;  // docids, newest first
  std::vector<Xapian::docid> place_;   // docid -> index in newest_, or kNowhere
  std::vector<uint8_t> marks_;         // docid -> matched (Page's scratch, all 0 between calls)
};

// Collects the docid of every match of an Enquire over shard `shard` of
// `shards` as the combined database's docid ((local - 1) * shards + shard +
// 1, as Database::add_database numbers them). One Enquire per shard: over
// the combined database, Xapian 1.4 shows a MatchSpy each document with its
// shard's docid, not telling which shard.
class MatchIds final : public Xapian::MatchSpy {
 public:
  MatchIds(Xapian::docid shard, Xapian::docid shards, std::vector<Xapian::docid>* ids)
      : shard_(shard), shards_(shards), ids_(ids) {}
  void operator()(const Xapian::Document& doc, double /*weight*/) override {
    ids_->push_back((doc.get_docid() - 1) * shards_ + shard_ + 1);
  }

 private:
  Xapian::docid shard_, shards_;
  std::vector<Xapian::docid>* ids_;
};

// The shards `stub` names: each (in stub order) and all as one database.
// Throws Xapian::Error.
struct OpenedShards {
  Xapian::Database all;
  std::vector<Xapian::Database> each;
};
Result<OpenedShards> OpenShards(const std::string& dir, const ShardStub& stub) {
  OpenedShards opened;
  for (const ShardName& name : stub.AllShards()) {
    const std::string path = dir + "/" + name.Name();
    Xapian::Database shard(path);
    MK_RETURN_IF_ERROR(CheckSchemaVersion(shard, path));
    opened.all.add_database(shard);
    opened.each.push_back(std::move(shard));
  }
  return opened;
}

class XapianReader final : public IndexReader {
 public:
  // `shards`: the databases `db` combines, in order; `stub`: what they are
  // (no segments: an unsharded index, `db` alone).
  XapianReader(Xapian::Database db, std::vector<Xapian::Database> shards, std::string dir, ShardStub stub)
      : db_(std::move(db)), shards_(std::move(shards)), dir_(std::move(dir)), stub_(std::move(stub)) {}

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
      if (db_.reopen()) order_current_ = searched_unordered_ = false;
      return OkStatus();
    }
    for (int attempt = 0;; ++attempt) {
      MK_ASSIGN_OR_RETURN(ShardStub now, ReadShardStub(dir_));
      if (now == stub_) {
        if (db_.reopen()) order_current_ = searched_unordered_ = false;  // the shards share db_'s state: reopened with it
        return OkStatus();
      }
      try {
        MK_ASSIGN_OR_RETURN(OpenedShards opened, OpenShards(dir_, now));
        db_ = std::move(opened.all);
        shards_ = std::move(opened.each);
        stub_ = std::move(now);
        order_current_ = searched_unordered_ = false;
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
    if (options.sort == SortOrder::kRelevance) return ByXapian(query, options);
    if (!order_current_) {
      // The first date-ordered search of this index state is sorted by
      // Xapian: building the order reads every document's date (about
      // 400 ms at 374,514 documents), which pays only for a reader that
      // searches again (a web server's, not a `mailkeep search`).
      if (!searched_unordered_) {
        searched_unordered_ = true;
        return ByXapian(query, options);
      }
      order_.Build(db_);
      order_current_ = true;
    }
    // Every match is collected, so the total is exact.
    matches_.clear();
    for (size_t s = 0; s < shards_.size(); ++s) {
      MatchIds spy(static_cast<Xapian::docid>(s), static_cast<Xapian::docid>(shards_.size()), &matches_);
      Xapian::Enquire enquire(shards_[s]);
      enquire.set_query(query);
      enquire.set_weighting_scheme(ZeroWeight());
      enquire.add_matchspy(&spy);
      enquire.get_mset(0, 0, shards_[s].get_doccount());
    }
    SearchResult result;
    result.total = matches_.size();
    result.ids = order_.Page(matches_, options.sort == SortOrder::kNewest, options.offset, options.limit);
    for (int64_t& id : result.ids) id = CatalogId(static_cast<Xapian::docid>(id));
    return result;
  }

  // Throws Xapian::Error.
  SearchResult ByXapian(const Xapian::Query& query, const SearchOptions& options) {
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
    // Every match is counted (check_at_least), so the total is exact; by
    // relevance this may double the time of a query with many matches
    // (linux-mips: 4.7 to 9.8 ms).
    const Xapian::MSet mset = enquire.get_mset(offset, limit, count);
    SearchResult result;
    result.total = mset.get_matches_estimated();
    result.ids.reserve(mset.size());
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it) {
      result.ids.push_back(CatalogId(*it));
    }
    return result;
  }

  // The catalog id of db_'s docid `docid`.
  int64_t CatalogId(Xapian::docid docid) const {
    if (stub_.segments.empty()) return static_cast<int64_t>(docid);
    return CatalogIdOf(docid, stub_.shards_per_segment(), stub_.segments.size());
  }

  Xapian::Database db_;
  std::vector<Xapian::Database> shards_;
  std::string dir_;
  ShardStub stub_;  // what db_ opened; no segments: an unsharded index
  DateOrder order_;
  bool order_current_ = false;          // order_ is of db_ as last reopened
  bool searched_unordered_ = false;     // a date-ordered search of db_'s state ran without order_
  std::vector<Xapian::docid> matches_;  // Run's scratch
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
      return std::unique_ptr<IndexReader>(new XapianReader(db, {db}, dir, {}));
    }
    MK_ASSIGN_OR_RETURN(OpenedShards opened, OpenShards(dir, stub));
    return std::unique_ptr<IndexReader>(
        new XapianReader(std::move(opened.all), std::move(opened.each), dir, std::move(stub)));
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, "index open " + dir));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, "index open " + dir));
  }
}

}  // namespace mailkeep::index
