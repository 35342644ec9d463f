// Applying a retention policy (store/lifecycle/retention.h) to an archive:
// which messages `mailkeep prune` removes. Removal itself is
// Archive::Remove, which skips held messages.
// Thread-safety: the archive's thread.
#pragma once

#include <cstdint>
#include <vector>

#include "store/archive.h"
#include "store/lifecycle/retention.h"
#include "store/util/status.h"

namespace mailkeep::lifecycle {

// What a policy selects in an archive.
struct Selection {
  std::vector<int64_t> expired;  // to remove (held ones included: Archive::Remove skips them)
  int64_t kept_flagged = 0;      // expired but kept for keep_flagged
  int64_t examined = 0;
};
// Judges every message of `archive` (one catalog read each).
Result<Selection> SelectExpired(Archive& archive, const Policy& policy, int64_t now);

}  // namespace mailkeep::lifecycle
