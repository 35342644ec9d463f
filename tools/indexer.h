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
  int64_t failed = 0;  // messages that could not be read (reported through on_problem)
};

// REQUIRES: `archive` opened read-write.
Result<CatchUpResult> CatchUpIndex(Archive& archive, int workers,
                                   const std::function<void(int64_t done, int64_t total)>& on_progress,
                                   const std::function<void(int64_t id, const std::string& why)>& on_problem);

}  // namespace mailkeep::tools
