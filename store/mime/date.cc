// Dates: RFC 5322 3.3 date-time, the obsolete forms of 4.3, ISO 8601, and
// what broken mailers write. The scanner picks fields by shape rather than
// position, so missing weekdays, reordered fields and trailing junk work.
//
// Single-letter military zones are all read as +0000: RFC 822 defined
// A = +0100 ... M = +1200, N = -0100 ... Y = -1200, but senders got the sign
// backwards so often that RFC 1123 and RFC 5322 4.3 say they SHOULD be taken
// as -0000 (zone unknown, i.e. UTC); Z is UTC anyway. A missing or unknown
// zone is UTC too.
#include <cstdint>
#include <optional>
#include <string_view>

#include "store/mime/ascii.h"
#include "store/mime/decode.h"
#include "store/util/civil_date.h"

namespace mailkeep::mime {
namespace {

using ascii::IsDigit;
using ascii::IsAlpha;
using ascii::Lower;
using ascii::EqualsIgnoreCase;

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2) return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28;
  return kDays[m - 1];
}

int MonthFromName(std::string_view w) {
  static constexpr std::string_view kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                                 "jul", "aug", "sep", "oct", "nov", "dec"};
  if (w.size() < 3) return 0;
  for (int m = 0; m < 12; ++m)
    if (EqualsIgnoreCase(w.substr(0, 3), kMonths[m])) {
      // "March", "Sept", "Juli", "Mai"... any word starting with the
      // abbreviation, but not e.g. "Marketing" spelled long.
      if (w.size() <= 9) return m + 1;
    }
  if (EqualsIgnoreCase(w, "mai")) return 5;
  if (EqualsIgnoreCase(w, "okt")) return 10;
  if (EqualsIgnoreCase(w, "dez")) return 12;
  return 0;
}

// Zone names → minutes east of UTC; returns false if `w` is not a zone.
bool ZoneFromName(std::string_view w, int& minutes) {
  struct Z {
    std::string_view name;
    int minutes;
  };
  static constexpr Z kZones[] = {
      {"ut", 0},          {"utc", 0},         {"gmt", 0},         {"z", 0},           {"wet", 0},
      {"bst", 60},        {"cet", 60},        {"met", 60},        {"mez", 60},        {"cest", 120},
      {"mest", 120},      {"eet", 120},       {"eest", 180},      {"msk", 180},       {"ist", 330},
      {"jst", 540},       {"kst", 540},       {"hkt", 480},       {"sgt", 480},       {"aest", 600},
      {"aedt", 660},      {"nzst", 720},      {"nzdt", 780},      {"est", -300},      {"edt", -240},
      {"cst", -360},      {"cdt", -300},      {"mst", -420},      {"mdt", -360},      {"pst", -480},
      {"pdt", -420},      {"akst", -540},     {"akdt", -480},     {"hst", -600},      {"ast", -240},
      {"adt", -180},      {"nst", -210},      {"ndt", -150},
  };
  for (const auto& z : kZones)
    if (EqualsIgnoreCase(w, z.name)) {
      minutes = z.minutes;
      return true;
    }
  if (w.size() == 1 && Lower(w[0]) != 'j') {  // A..I, K..Z: military, no usable sign
    minutes = 0;
    return true;
  }
  return false;
}

bool IsWeekday(std::string_view w) {
  static constexpr std::string_view kDays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  if (w.size() < 3) return false;
  for (auto d : kDays)
    if (EqualsIgnoreCase(w.substr(0, 3), d)) return true;
  return false;
}

// Reads up to `max` digits at s[i]; returns the count read.
size_t ReadNumber(std::string_view s, size_t i, size_t max, int& value) {
  size_t k = 0;
  value = 0;
  while (i + k < s.size() && k < max && IsDigit(s[i + k])) {
    value = value * 10 + (s[i + k] - '0');
    ++k;
  }
  return k;
}

int FixYear(int year, size_t digits) {
  if (digits <= 2) return year < 50 ? 2000 + year : 1900 + year;
  if (digits == 3) return 1900 + year;  // "103" from tm_year bugs
  return year;
}

std::optional<int64_t> Assemble(int year, int month, int day, int hour, int minute, int second,
                                int zone_minutes) {
  if (month < 1 || month > 12 || year < 1 || year > 9999 || day < 1 || day > DaysInMonth(year, month))
    return std::nullopt;
  if (hour < 0 || hour > 24 || minute < 0 || minute > 59 || second < 0 || second > 60) return std::nullopt;
  if (second == 60) second = 59;
  int64_t t = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return t - static_cast<int64_t>(zone_minutes) * 60;
}

// ISO 8601 / RFC 3339: 2003-07-01[T ]10:52[:37][.123][Z|+02[:]00].
std::optional<int64_t> ParseIso(std::string_view s) {
  int year, month, day, hour = 0, minute = 0, second = 0;
  size_t i = 0;
  if (ReadNumber(s, i, 4, year) != 4) return std::nullopt;
  i += 4;
  if (i >= s.size() || (s[i] != '-' && s[i] != '/')) return std::nullopt;
  const char sep = s[i++];
  if (ReadNumber(s, i, 2, month) == 0) return std::nullopt;
  while (i < s.size() && IsDigit(s[i])) ++i;
  if (i >= s.size() || s[i] != sep) return std::nullopt;
  ++i;
  if (ReadNumber(s, i, 2, day) == 0) return std::nullopt;
  while (i < s.size() && IsDigit(s[i])) ++i;
  int zone = 0;
  if (i < s.size() && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
    ++i;
    while (i < s.size() && s[i] == ' ') ++i;
    size_t k = ReadNumber(s, i, 2, hour);
    if (k == 0) return Assemble(year, month, day, 0, 0, 0, 0);
    i += k;
    if (i < s.size() && s[i] == ':') {
      k = ReadNumber(s, ++i, 2, minute);
      i += k;
      if (i < s.size() && s[i] == ':') {
        k = ReadNumber(s, ++i, 2, second);
        i += k;
      }
    }
    if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
      ++i;
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
    while (i < s.size() && s[i] == ' ') ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      const int sign = s[i] == '-' ? -1 : 1;
      int zh = 0, zm = 0;
      ++i;
      const size_t zk = ReadNumber(s, i, 2, zh);
      i += zk;
      if (i < s.size() && s[i] == ':') ++i;
      ReadNumber(s, i, 2, zm);
      if (zk > 0 && zh <= 23 && zm <= 59) zone = sign * (zh * 60 + zm);
    } else if (i < s.size()) {
      size_t e = i;
      while (e < s.size() && IsAlpha(s[e])) ++e;
      int z;
      if (e > i && ZoneFromName(s.substr(i, e - i), z)) zone = z;
    }
  }
  return Assemble(year, month, day, hour, minute, second, zone);
}

}  // namespace

std::optional<int64_t> ParseDate(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  if (s.size() > 256) s = s.substr(0, 256);
  if (s.size() >= 8 && IsDigit(s[0]) && IsDigit(s[1]) && IsDigit(s[2]) && IsDigit(s[3]) &&
      (s[4] == '-' || s[4] == '/')) {
    if (auto t = ParseIso(s)) return t;
  }

  int year = -1, month = 0, day = 0;
  size_t year_digits = 0;
  int hour = -1, minute = 0, second = 0;
  bool have_zone = false;
  int zone = 0;
  bool named_zone = false;
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const char c = s[i];
    if (c == '(') {
      // Comment: only used for a zone name when nothing else gave one.
      const size_t close = s.find(')', i);
      const size_t end = close == std::string_view::npos ? n : close;
      std::string_view inner = s.substr(i + 1, end - i - 1);
      while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
      while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
      int z;
      if (!have_zone && hour >= 0 && ZoneFromName(inner, z)) {
        have_zone = true;
        zone = z;
      }
      i = close == std::string_view::npos ? n : close + 1;
      continue;
    }
    if (IsAlpha(c)) {
      size_t e = i;
      while (e < n && IsAlpha(s[e])) ++e;
      std::string_view w = s.substr(i, e - i);
      int z;
      if (month == 0 && MonthFromName(w)) {
        month = MonthFromName(w);
      } else if (IsWeekday(w)) {
        // ignored
      } else if (!have_zone && hour >= 0 && ZoneFromName(w, z)) {
        have_zone = true;
        named_zone = true;
        zone = z;
      } else if (hour >= 0 && hour <= 12 && w.size() == 2 && EqualsIgnoreCase(w, "pm") && !have_zone) {
        if (hour < 12) hour += 12;
      }
      i = e;
      continue;
    }
    if ((c == '+' || c == '-') && i + 1 < n && IsDigit(s[i + 1]) && hour >= 0 &&
        (!have_zone || named_zone)) {
      // Numeric zone: +HHMM, +HH, +HH:MM, +H. After "GMT" it overrides.
      int v;
      size_t k = ReadNumber(s, i + 1, 4, v);
      int zh = 0, zm = 0;
      if (k == 4) {
        zh = v / 100;
        zm = v % 100;
      } else if (k == 3) {
        zh = v / 100;
        zm = v % 100;
      } else {
        zh = v;
        if (i + 1 + k < n && s[i + 1 + k] == ':') {
          const size_t k2 = ReadNumber(s, i + 2 + k, 2, zm);
          k += 1 + k2;
        }
      }
      if (zh <= 23 && zm <= 59) {
        zone = (c == '-' ? -1 : 1) * (zh * 60 + zm);
        have_zone = true;
        named_zone = false;
      }
      i += 1 + k;
      continue;
    }
    if (IsDigit(c)) {
      int v;
      const size_t k = ReadNumber(s, i, 9, v);
      size_t e = i + k;
      if (e < n && (s[e] == ':' || (s[e] == '.' && hour < 0 && e + 1 < n && IsDigit(s[e + 1]))) &&
          hour < 0 && k <= 2) {
        // A time (10:52:37) or, with dots, a time or a d.m.y date.
        const char sep = s[e];
        int parts[3] = {v, 0, 0};
        size_t digits[3] = {k, 0, 0};
        int count = 1;
        while (count < 3 && e < n && s[e] == sep && e + 1 < n && IsDigit(s[e + 1])) {
          digits[count] = ReadNumber(s, e + 1, 4, parts[count]);
          e += 1 + digits[count];
          ++count;
        }
        if (sep == '.' && count == 3 && month == 0 && (digits[2] == 4 || day == 0)) {
          day = parts[0];
          month = parts[1];
          year = FixYear(parts[2], digits[2]);
          year_digits = 4;
        } else if (count >= 2) {
          hour = parts[0];
          minute = parts[1];
          second = count == 3 ? parts[2] : 0;
          if (e < n && s[e] == '.' && sep == ':') {  // fractional seconds
            ++e;
            while (e < n && IsDigit(s[e])) ++e;
          }
        }
        i = e;
        continue;
      }
      if (e < n && (s[e] == '/' || s[e] == '-') && month == 0 && day == 0 && k <= 2) {
        // m/d/y or d-m-y numerals: treat as d/m only when unambiguous.
        int p1, p2;
        size_t e2 = e + 1, k2 = ReadNumber(s, e2, 2, p1);
        if (k2 > 0 && e2 + k2 < n && s[e2 + k2] == s[e]) {
          size_t k3 = ReadNumber(s, e2 + k2 + 1, 4, p2);
          if (k3 > 0) {
            if (s[e] == '/' && p1 <= 31 && v <= 12) {  // US style m/d/y
              month = v;
              day = p1;
            } else {
              day = v;
              month = p1;
            }
            year = FixYear(p2, k3);
            year_digits = 4;
            i = e2 + k2 + 1 + k3;
            continue;
          }
        }
      }
      if (k >= 3 || v > 31) {
        if (year < 0) {
          year = FixYear(v, k);
          year_digits = k;
        }
      } else if (day == 0 && v >= 1) {
        day = v;
      } else if (year < 0) {
        year = FixYear(v, k);
        year_digits = k;
      }
      i = e;
      continue;
    }
    ++i;
  }
  (void)year_digits;
  if (year < 0 || month == 0 || day == 0) return std::nullopt;
  if (hour < 0) hour = 0;
  return Assemble(year, month, day, hour, minute, second, zone);
}

}  // namespace mailkeep::mime
