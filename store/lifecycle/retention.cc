#include "store/lifecycle/retention.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "store/util/civil_date.h"

namespace mailkeep::lifecycle {
namespace {

constexpr int kMaxCount = 100000;
constexpr int64_t kDay = 86400;

struct Civil {
  int64_t y, m, d;
};

// H. Hinnant's civil_from_days, the inverse of DaysFromCivil.
Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

int64_t DaysInMonth(int64_t y, int64_t m) {
  const int64_t next = m == 12 ? DaysFromCivil(y + 1, 1, 1) : DaysFromCivil(y, m + 1, 1);
  return next - DaysFromCivil(y, m, 1);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0); }

bool HasFlagged(const std::string& flags) {
  std::istringstream in(flags);
  for (std::string f; in >> f;) {
    if (f == "\\Flagged") return true;
  }
  return false;
}

void Inherit(Rule& into, const Rule& from) {
  if (!into.period) into.period = from.period;
  if (!into.keep_flagged) into.keep_flagged = from.keep_flagged;
}

}  // namespace

Result<Period> ParsePeriod(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument, "bad retention period '" + std::string(text) +
                                                      "' (a number with d, w, m or y, e.g. 90d or 7y; or forever)");
  };
  if (text == "forever") return Period{};
  if (text.size() < 2) return bad();
  const char unit = text.back();
  if (unit != 'd' && unit != 'w' && unit != 'm' && unit != 'y') return bad();
  int count = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size() - 1;
  auto [end, err] = std::from_chars(first, last, count);
  if (err != std::errc() || end != last || count < 1 || count > kMaxCount) return bad();
  return Period{count, unit};
}

std::string PeriodText(const Period& p) { return p.forever() ? "forever" : std::to_string(p.count) + p.unit; }

int64_t Cutoff(const Period& p, int64_t now) {
  if (p.unit == 'd') return now - p.count * kDay;
  if (p.unit == 'w') return now - p.count * 7 * kDay;
  const int64_t days = FloorDiv(now, kDay);
  const int64_t secs = now - days * kDay;
  Civil c = CivilFromDays(days);
  const int64_t months = p.unit == 'm' ? p.count : int64_t{p.count} * 12;
  int64_t index = c.y * 12 + (c.m - 1) - months;
  const int64_t y = FloorDiv(index, 12);
  const int64_t m = index - y * 12 + 1;
  const int64_t d = std::min(c.d, DaysInMonth(y, m));
  return DaysFromCivil(y, m, d) * kDay + secs;
}

bool Policy::empty() const {
  auto has = [](const Rule& r) { return r.period && !r.period->forever(); };
  if (has(global)) return false;
  for (const auto& a : accounts) {
    if (has(a.rule)) return false;
    for (const auto& f : a.folders) {
      if (has(f.rule)) return false;
    }
  }
  return true;
}

bool FolderMatches(std::string_view pattern, std::string_view folder) {
  // Greedy wildcard match with backtracking to the last '*'.
  size_t p = 0, f = 0, star = std::string_view::npos, mark = 0;
  while (f < folder.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = f;
    } else if (p < pattern.size() && pattern[p] == folder[f]) {
      ++p;
      ++f;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      f = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Rule RuleFor(const Policy& policy, const std::string& account, const std::string& folder) {
  Rule r;
  for (const auto& a : policy.accounts) {
    if (a.account != account) continue;
    for (const auto& f : a.folders) {
      if (FolderMatches(f.pattern, folder)) {
        r = f.rule;
        break;
      }
    }
    Inherit(r, a.rule);
    break;
  }
  Inherit(r, policy.global);
  if (!r.keep_flagged) r.keep_flagged = true;
  return r;
}

int64_t AgeFrom(const Candidate& c) {
  std::optional<int64_t> from = c.date;
  for (const auto& p : c.places) {
    if (p.source != "imap" || !p.internal_date) continue;
    if (!from || *p.internal_date > *from) from = p.internal_date;
  }
  return from ? *from : c.added_at;
}

Verdict Judge(const Policy& policy, const Candidate& c, int64_t now) {
  const int64_t age_from = AgeFrom(c);
  std::vector<Place> places = c.places;
  if (places.empty()) places.push_back({});  // no place known: the global rule
  bool flagged_keep = false;
  for (const auto& place : places) {
    const Rule r = RuleFor(policy, place.account, place.folder);
    if (!r.period || r.period->forever() || age_from >= Cutoff(*r.period, now)) return Verdict::kKeep;
    if (*r.keep_flagged && HasFlagged(place.flags)) flagged_keep = true;
  }
  return flagged_keep ? Verdict::kKeptFlagged : Verdict::kExpired;
}

}  // namespace mailkeep::lifecycle
