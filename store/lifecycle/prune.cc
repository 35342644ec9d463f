#include "store/lifecycle/prune.h"

namespace mailkeep::lifecycle {

Result<Selection> SelectExpired(Archive& archive, const Policy& policy, int64_t now) {
  Selection out;
  if (policy.empty()) return out;
  MK_ASSIGN_OR_RETURN(auto ids, archive.AllIds());
  for (int64_t id : ids) {
    MK_ASSIGN_OR_RETURN(auto info, archive.GetInfo(id));
    if (!info) continue;
    Candidate c{info->date, info->added_at, {}};
    for (auto& l : info->locations) c.places.push_back({l.source, l.account, l.folder, l.flags, l.internal_date});
    ++out.examined;
    switch (Judge(policy, c, now)) {
      case Verdict::kExpired: out.expired.push_back(id); break;
      case Verdict::kKeptFlagged: ++out.kept_flagged; break;
      case Verdict::kKeep: break;
    }
  }
  return out;
}

}  // namespace mailkeep::lifecycle
