// IndexWriter over a Xapian glass database.
//
// Commits: Xapian keeps added documents in memory and flushes them to its
// tables every XAPIAN_FLUSH_THRESHOLD documents (default 10,000); Commit()
// makes them durable. The writer commits by itself after
// commit_every_documents documents or commit_every_bytes bytes of indexed
// text since the last commit, whichever comes first; anything after the last
// commit is committed when the writer is destroyed (errors there are lost, so
// callers that record progress call Commit() first).

#include <sys/stat.h>

#include <xapian.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "index/document.h"
#include "index/index.h"
#include "index/schema.h"

namespace mailkeep::index {

namespace {

constexpr const char* kSchemaKey = "mailkeep.schema";

Result<Xapian::docid> ToDocId(int64_t id) {
  if (id <= 0 || static_cast<uint64_t>(id) > std::numeric_limits<Xapian::docid>::max()) {
    return MakeError(ErrorCode::kInvalidArgument, "index: document id " + std::to_string(id) + " out of range");
  }
  return static_cast<Xapian::docid>(id);
}

class XapianWriter final : public IndexWriter {
 public:
  XapianWriter(Xapian::WritableDatabase db, const IndexWriterOptions& options)
      : db_(std::move(db)), options_(options), builder_(options.max_body_bytes) {}

  ~XapianWriter() override {
    try {
      db_.close();  // commits what is pending
    } catch (const Xapian::Error&) {
      // Nothing to report to: see Commit().
    }
  }

  Status Add(const IndexDocument& doc) override {
    if (doc.message == nullptr) return MakeError(ErrorCode::kInvalidArgument, "index add: no message");
    MK_ASSIGN_OR_RETURN(const Xapian::docid docid, ToDocId(doc.id));
    try {
      db_.replace_document(docid, builder_.Build(doc));
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index add " + std::to_string(doc.id)));
    } catch (const std::exception& e) {
      return std::unexpected(ErrorFromException(e, "index add " + std::to_string(doc.id)));
    }
    ++pending_documents_;
    pending_bytes_ += builder_.last_text_bytes();
    if (pending_documents_ >= options_.commit_every_documents || pending_bytes_ >= options_.commit_every_bytes) {
      return Commit();
    }
    return OkStatus();
  }

  Status Remove(int64_t id) override {
    MK_ASSIGN_OR_RETURN(const Xapian::docid docid, ToDocId(id));
    try {
      db_.delete_document(docid);
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index remove " + std::to_string(id)));
    }
    ++pending_documents_;
    return OkStatus();
  }

  Status Commit() override {
    try {
      db_.commit();
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index commit"));
    } catch (const std::exception& e) {
      return std::unexpected(ErrorFromException(e, "index commit"));
    }
    pending_documents_ = 0;
    pending_bytes_ = 0;
    return OkStatus();
  }

  Result<int64_t> DocumentCount() override {
    try {
      return static_cast<int64_t>(db_.get_doccount());
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index document count"));
    }
  }

  Result<int64_t> LastDocId() override {
    try {
      return static_cast<int64_t>(db_.get_lastdocid());
    } catch (const Xapian::Error& e) {
      return std::unexpected(ErrorFromXapian(e, "index last document id"));
    }
  }

 private:
  Xapian::WritableDatabase db_;
  IndexWriterOptions options_;
  DocumentBuilder builder_;
  size_t pending_documents_ = 0;
  size_t pending_bytes_ = 0;
};

}  // namespace

Status CheckSchemaVersion(const Xapian::Database& db, const std::string& dir) {
  const std::string stored = db.get_metadata(kSchemaKey);
  if (stored.empty() && db.get_doccount() == 0) return OkStatus();
  const std::string expected = std::to_string(kSchemaVersion);
  if (stored == expected) return OkStatus();
  return MakeError(ErrorCode::kFailedPrecondition, "index " + dir + ": index schema " +
                                                       (stored.empty() ? std::string("0") : stored) +
                                                       ", expected " + expected + "; run `mailkeep reindex`");
}

Result<std::unique_ptr<IndexWriter>> IndexWriter::Open(const std::string& dir, const IndexWriterOptions& options) {
  if (options.commit_every_documents == 0 || options.commit_every_bytes == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "index: commit_every_documents and commit_every_bytes must be > 0");
  }
  struct stat st {};
  const bool existed = ::stat(dir.c_str(), &st) == 0;
  try {
    Xapian::WritableDatabase db(dir, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS);
    MK_RETURN_IF_ERROR(CheckSchemaVersion(db, dir));
    if (db.get_metadata(kSchemaKey).empty()) {
      db.set_metadata(kSchemaKey, std::to_string(kSchemaVersion));
      db.commit();
    }
    if (!existed) ::chmod(dir.c_str(), 0700);  // the archive keeps its folders private
    return std::unique_ptr<IndexWriter>(new XapianWriter(std::move(db), options));
  } catch (const Xapian::Error& e) {
    return std::unexpected(ErrorFromXapian(e, "index open " + dir));
  } catch (const std::exception& e) {
    return std::unexpected(ErrorFromException(e, "index open " + dir));
  }
}

}  // namespace mailkeep::index
