// IndexReader over a Xapian database: ParseQuery (index/query.h) + Enquire.
// The shards (index/shards.h) are opened with Database::add_database in
// shard order, so Xapian's combined docids are the catalog ids.
//
// Each Search() first reopens the database, so a long-lived reader sees what
// writers committed since, then parses the query against it (stem
// expansion reads its vocabulary); a DatabaseModifiedError (a writer
// committed twice during a search) is retried a few times on a reopened
// database.

#include <xapian.h>

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
#include <memory>
#include <string>

#include "index/document.h"
#include "index/index.h"
#include "index/query.h"
#include "index/schema.h"
#include "index/shards.h"

namespace mailkeep::index {

namespace {

// Matches counted exactly (Xapian's check_at_least) so that small result
// sets report an exact total.
constexpr Xapian::doccount kExactTotalUpTo = 10000;
constexpr int kModifiedRetries = 3;

class XapianReader final : public IndexReader {
 public:
  XapianReader(Xapian::Database db, std::string dir) : db_(std::move(db)), dir_(std::move(dir)) {}

  Result<SearchResult> Search(const std::string& query, const SearchOptions& options) override {
    const int64_t now = options.now != 0 ? options.now : static_cast<int64_t>(std::time(nullptr));
    for (int attempt = 0;; ++attempt) {
      try {
        db_.reopen();
        // Parsed against the reopened database: words are expanded to the
        // stem variants in its vocabulary (index/query.h).
        Result<Xapian::Query> parsed = ParseQuery(query, now, &db_, options.limits);
        if (!parsed) return std::unexpected(std::move(parsed).error());
        return Run(*parsed, options);
      } catch (const Xapian::DatabaseModifiedError& e) {
        if (attempt + 1 >= kModifiedRetries) return std::unexpected(ErrorFromXapian(e, "search"));
      } catch (const Xapian::WildcardError&) {
        // ParseQuery counted every wildcard in this very database, so this
        // is a backstop (index/query.h).
        return MakeError(ErrorCode::kInvalidArgument,
                         "query error: a wildcard matches too many words in the index (a query may search " +
                             std::to_string(options.limits.max_terms) + "); make it longer");
      } catch (const Xapian::Error& e) {
        return std::unexpected(ErrorFromXapian(e, "search"));
      } catch (const std::exception& e) {
        return std::unexpected(ErrorFromException(e, "search"));
      }
    }
  }

  Result<int64_t> DocumentCount() override {
    try {
      db_.reopen();
      return static_cast<int64_t>(db_.get_doccount());
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index document count"));
    }
  }

 private:
  // Throws Xapian::Error.
  SearchResult Run(const Xapian::Query& query, const SearchOptions& options) {
    Xapian::Enquire enquire(db_);
    enquire.set_query(query);
    switch (options.sort) {
      case SortOrder::kNewest:
        enquire.set_weighting_scheme(Xapian::BoolWeight());
        enquire.set_docid_order(Xapian::Enquire::DESCENDING);
        enquire.set_sort_by_value(kValueDate, true);
        break;
      case SortOrder::kOldest:
        enquire.set_weighting_scheme(Xapian::BoolWeight());
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
    const Xapian::doccount check_at_least = std::max<Xapian::doccount>(offset + limit, kExactTotalUpTo);
    const Xapian::MSet mset = enquire.get_mset(offset, limit, check_at_least);

    SearchResult result;
    result.total = mset.get_matches_estimated();
    result.ids.reserve(mset.size());
    for (Xapian::MSetIterator it = mset.begin(); it != mset.end(); ++it) {
      result.ids.push_back(static_cast<int64_t>(*it));
    }
    return result;
  }

  Xapian::Database db_;
  std::string dir_;
};

}  // namespace

Result<std::unique_ptr<IndexReader>> IndexReader::Open(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    return MakeError(ErrorCode::kNotFound, "index " + dir + ": no index (run `mailkeep reindex`)");
  }
  try {
    MK_ASSIGN_OR_RETURN(const std::vector<ShardName> shards, ReadShardStub(dir));
    if (shards.empty()) {
      // Not sharded: an index from schema version 1, which the schema check
      // rejects, or not an index at all.
      Xapian::Database db(dir);
      MK_RETURN_IF_ERROR(CheckSchemaVersion(db, dir));
      return std::unique_ptr<IndexReader>(new XapianReader(std::move(db), dir));
    }
    Xapian::Database db;
    for (const ShardName& name : shards) {
      const std::string path = dir + "/" + name.Name();
      Xapian::Database shard(path);
      MK_RETURN_IF_ERROR(CheckSchemaVersion(shard, path));
      db.add_database(shard);
    }
    return std::unique_ptr<IndexReader>(new XapianReader(std::move(db), dir));
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, "index open " + dir));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, "index open " + dir));
  }
}

}  // namespace mailkeep::index
