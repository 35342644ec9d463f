// Keeps the full-text index (ARCHIVE/xapian) caught up with the catalog:
// drains the archive's index queue, builds one document per message
// (parsed with text extraction, plus thread, accounts, folders and flags
// from its locations), commits the index, then marks those messages
// indexed in the catalog. A run killed halfway leaves them queued, so the
// next run (import, or `mailkeep reindex`) finishes the work.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "store/archive.h"
#include "store/util/status.h"

namespace mailkeep::tools {

std::string IndexDir(const Archive& archive);

struct CatchUpResult {
  int64_t indexed = 0;
  int64_t failed = 0;  // messages not indexed: unreadable, or refused by the index (each
                       // reported through on_problem, left queued for a later run)
};

// Works in chunks of at most 5,000 messages and ~256 MB of raw mail (one
// index commit and one MarkIndexed each). A message that cannot be read or
// that the index writer refuses is reported and skipped; the run goes on.
// Errors: a failed commit (or a writer that refuses every add), or a
// catalog error; what was committed before stays indexed.
// REQUIRES: `archive` opened read-write.
Result<CatchUpResult> CatchUpIndex(Archive& archive, int workers,
                                   const std::function<void(int64_t done, int64_t total)>& on_progress,
                                   const std::function<void(int64_t id, const std::string& why)>& on_problem);

}  // namespace mailkeep::tools
