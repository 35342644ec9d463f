// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), for the date parsers (message headers, mbox From_
// lines). Header-only, so readers built without mailkeep_util can use it.
// Pure; thread-safe.
#pragma once

#include <cstdint>

namespace mailkeep {

// REQUIRES: 1 <= month <= 12, 1 <= day <= 31 (not checked).
constexpr int64_t DaysFromCivil(int64_t year, int64_t month, int64_t day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}
static_assert(DaysFromCivil(1970, 1, 1) == 0 && DaysFromCivil(2000, 3, 1) == 11017 &&
              DaysFromCivil(1969, 12, 31) == -1);

}  // namespace mailkeep
