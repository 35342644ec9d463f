#include "tests/corpus/oracle_support.h"

#include <zstd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace mailkeep::corpus {

std::optional<fs::path> CorpusRoot() {
  const char* env = std::getenv("MAILKEEP_CORPUS");
  if (env == nullptr || *env == '\0') return std::nullopt;
  std::error_code ec;
  if (!fs::is_directory(env, ec)) return std::nullopt;
  return fs::path(env);
}

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

std::optional<std::string> ZstdDecompress(std::string_view data) {
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) return std::nullopt;
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, 27);
  std::string out;
  std::string buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  size_t last = 0;
  while (in.pos < in.size) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx, &ob, &in);
    if (ZSTD_isError(last)) {
      ZSTD_freeDCtx(dctx);
      return std::nullopt;
    }
    out.append(buf.data(), ob.pos);
  }
  // Flush whatever is still buffered.
  for (;;) {
    ZSTD_outBuffer ob{buf.data(), buf.size(), 0};
    last = ZSTD_decompressStream(dctx, &ob, &in);
    if (ZSTD_isError(last)) break;
    out.append(buf.data(), ob.pos);
    if (ob.pos == 0) break;
  }
  ZSTD_freeDCtx(dctx);
  return out;
}

std::vector<std::pair<std::string, std::string>> TarFiles(std::string_view tar) {
  std::vector<std::pair<std::string, std::string>> files;
  size_t pos = 0;
  std::string long_name;
  while (pos + 512 <= tar.size()) {
    std::string_view h = tar.substr(pos, 512);
    if (h[0] == '\0') break;  // end-of-archive block
    auto field = [&](size_t off, size_t len) {
      std::string_view f = h.substr(off, len);
      size_t nul = f.find('\0');
      return std::string(f.substr(0, nul));
    };
    std::string name = field(0, 100);
    std::string prefix = field(345, 155);
    if (!prefix.empty() && h.substr(257, 5) == "ustar") name = prefix + "/" + name;
    size_t size = std::strtoull(field(124, 12).c_str(), nullptr, 8);
    char type = h[156];
    pos += 512;
    if (pos + size > tar.size()) break;
    std::string_view body = tar.substr(pos, size);
    if (type == 'L') {
      long_name = std::string(body.substr(0, body.find('\0')));
    } else if (type == '0' || type == '\0') {
      files.emplace_back(long_name.empty() ? name : long_name, std::string(body));
      long_name.clear();
    } else {
      long_name.clear();
    }
    pos += (size + 511) / 512 * 512;
  }
  return files;
}

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Removes one level of surrounding double quotes and backslash escapes.
std::string Unquote(std::string_view s) {
  std::string t = Trim(s);
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') {
    std::string out;
    for (size_t i = 1; i + 1 < t.size(); ++i) {
      if (t[i] == '\\' && i + 2 < t.size()) ++i;
      out += t[i];
    }
    return out;
  }
  return t;
}

OracleAddress OneMailbox(std::string_view tok) {
  OracleAddress a;
  size_t lt = std::string_view::npos;
  bool q = false;
  for (size_t i = 0; i < tok.size(); ++i) {
    if (tok[i] == '\\' && q) {
      ++i;
      continue;
    }
    if (tok[i] == '"') q = !q;
    if (!q && tok[i] == '<') {
      lt = i;
      break;
    }
  }
  if (lt != std::string_view::npos) {
    size_t gt = tok.find('>', lt);
    a.address = Trim(tok.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1));
    a.name = Unquote(tok.substr(0, lt));
    return a;
  }
  // addr (Comment)
  size_t lp = tok.find('(');
  if (lp != std::string_view::npos) {
    size_t rp = tok.rfind(')');
    a.name = Trim(tok.substr(lp + 1, rp == std::string_view::npos || rp < lp ? std::string_view::npos : rp - lp - 1));
    a.address = Trim(tok.substr(0, lp));
    return a;
  }
  a.address = Unquote(tok);
  return a;
}

}  // namespace

std::vector<OracleAddress> SplitAddressString(std::string_view s) {
  std::vector<OracleAddress> out;
  std::string cur;
  bool q = false;
  int angle = 0, paren = 0;
  auto flush = [&] {
    std::string t = Trim(cur);
    cur.clear();
    if (!t.empty()) out.push_back(OneMailbox(t));
  };
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (q) {
      cur += c;
      if (c == '\\' && i + 1 < s.size()) cur += s[++i];
      else if (c == '"') q = false;
      continue;
    }
    if (c == '"') q = true;
    else if (c == '<') ++angle;
    else if (c == '>' && angle > 0) --angle;
    else if (c == '(') ++paren;
    else if (c == ')' && paren > 0) --paren;
    if (angle == 0 && paren == 0) {
      if (c == ',' || c == ';') {
        flush();
        continue;
      }
      if (c == ':') {  // group name: drop it
        cur.clear();
        continue;
      }
    }
    cur += c;
  }
  flush();
  return out;
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::optional<int64_t> ParseOracleDate(std::string_view s) {
  static const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                  "jul", "aug", "sep", "oct", "nov", "dec"};
  std::vector<std::string> tok;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == ',' || c == '\t') {
      if (!cur.empty()) tok.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) tok.push_back(cur);
  size_t i = 0;
  if (i < tok.size() && std::isalpha(static_cast<unsigned char>(tok[i][0]))) ++i;  // day name
  if (tok.size() < i + 4) return std::nullopt;
  int day = std::atoi(tok[i].c_str());
  std::string mon = Lower(tok[i + 1]);
  int month = 0;
  for (int m = 0; m < 12; ++m)
    if (mon.starts_with(kMonths[m])) month = m + 1;
  int64_t year = std::atoll(tok[i + 2].c_str());
  if (day < 1 || day > 31 || month == 0) return std::nullopt;
  if (tok[i + 2].size() <= 2) year += year < 50 ? 2000 : 1900;
  else if (tok[i + 2].size() == 3) year += 1900;
  int hh = 0, mm = 0, ss = 0;
  if (std::sscanf(tok[i + 3].c_str(), "%d:%d:%d", &hh, &mm, &ss) < 2) return std::nullopt;
  int64_t off = 0;
  if (tok.size() > i + 4) {
    std::string z = tok[i + 4];
    if ((z[0] == '+' || z[0] == '-') && z.size() == 5) {
      int v = std::atoi(z.c_str() + 1);
      off = (v / 100) * 3600 + (v % 100) * 60;
      if (z[0] == '-') off = -off;
    } else {
      static const std::pair<const char*, int> kZones[] = {
          {"ut", 0}, {"gmt", 0}, {"utc", 0}, {"z", 0},    {"est", -5}, {"edt", -4},
          {"cst", -6}, {"cdt", -5}, {"mst", -7}, {"mdt", -6}, {"pst", -8}, {"pdt", -7}};
      std::string lz = Lower(z);
      for (auto& [n, h] : kZones)
        if (lz == n) off = h * 3600;
    }
  }
  return DaysFromCivil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss - off;
}

std::string CollapseSpace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AddressKey(const std::vector<std::string>& addresses) {
  std::string out;
  for (size_t i = 0; i < addresses.size(); ++i) {
    if (i) out += ", ";
    out += Lower(Trim(addresses[i]));
  }
  return out;
}

std::string NormalizeMessageId(std::string_view s) {
  std::string t = Trim(s);
  if (!t.empty() && t.front() == '<') t.erase(0, 1);
  if (!t.empty() && t.back() == '>') t.pop_back();
  return Trim(t);
}

std::string DateKey(std::optional<int64_t> t) {
  if (!t) return "(none)";
  int64_t days = *t >= 0 ? *t / 86400 : (*t - 86399) / 86400;
  int64_t secs = *t - days * 86400;
  // civil_from_days
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<long long>(y), m, d,
                static_cast<long long>(secs / 3600), static_cast<long long>(secs / 60 % 60),
                static_cast<long long>(secs % 60));
  return buf;
}

std::string JoinList(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

bool Tally::Check(const std::string& field, const std::string& file, const std::string& expected,
                  const std::string& actual) {
  bool agree = expected == actual;
  Record(field, file, agree, expected, actual);
  return agree;
}

void Tally::Record(const std::string& field, const std::string& file, bool agree, const std::string& expected,
                   const std::string& actual) {
  auto [it, fresh] = fields_.try_emplace(field);
  if (fresh) order_.push_back(field);
  Field& f = it->second;
  ++f.total;
  if (agree) {
    ++f.agree;
  } else if (f.mismatches.size() < kKeep) {
    f.mismatches.push_back({file, expected, actual});
  }
}

int Tally::agree(const std::string& field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? 0 : it->second.agree;
}
int Tally::total(const std::string& field) const {
  auto it = fields_.find(field);
  return it == fields_.end() ? 0 : it->second.total;
}

namespace {
std::string Clip(const std::string& s) {
  std::string t;
  for (char c : s.size() > 300 ? s.substr(0, 300) + "..." : s) {
    if (c == '\n') t += "\\n";
    else if (c == '\r') t += "\\r";
    else if (c == '\t') t += "\\t";
    else t += c;
  }
  return t;
}
}  // namespace

void Tally::Print() const {
  const char* v = std::getenv("MAILKEEP_ORACLE_VERBOSE");
  const bool verbose = v != nullptr && *v == '1';
  std::printf("\n%-32s %-20s %9s %7s\n", "corpus", "field", "agree", "");
  for (const std::string& name : order_) {
    const Field& f = fields_.at(name);
    std::printf("%-32s %-20s %4d/%-4d %6.1f%%\n", corpus_.c_str(), name.c_str(), f.agree, f.total,
                f.total ? 100.0 * f.agree / f.total : 0.0);
  }
  if (verbose) {
    for (const std::string& name : order_) {
      for (const Mismatch& m : fields_.at(name).mismatches) {
        std::printf("  DIFF %s %s %s\n    expected: %s\n    actual:   %s\n", corpus_.c_str(), name.c_str(),
                    m.file.c_str(), Clip(m.expected).c_str(), Clip(m.actual).c_str());
      }
    }
  }
  std::fflush(stdout);
}

void Tally::ExpectAtLeast(const std::string& field, double min_ratio) const {
  auto it = fields_.find(field);
  if (it == fields_.end() || it->second.total == 0) {
    ADD_FAILURE() << corpus_ << " " << field << ": no comparisons were made";
    return;
  }
  const Field& f = it->second;
  const double ratio = static_cast<double>(f.agree) / f.total;
  if (ratio + 1e-9 >= min_ratio) return;
  std::ostringstream msg;
  msg << corpus_ << " " << field << ": agreement " << f.agree << "/" << f.total << " ("
      << 100.0 * ratio << "%) is below the threshold " << 100.0 * min_ratio << "%; disagreements";
  if (f.total - f.agree > 20) msg << " (first 20 of " << f.total - f.agree << ")";
  msg << ":";
  for (size_t i = 0; i < f.mismatches.size() && i < 20; ++i) {
    const Mismatch& m = f.mismatches[i];
    msg << "\n  " << m.file << "\n    expected: " << Clip(m.expected) << "\n    actual:   " << Clip(m.actual);
  }
  ADD_FAILURE() << msg.str();
}

void Tally::ExpectThresholds(const std::map<std::string, double>& mins) const {
  for (const std::string& name : order_) {
    auto it = mins.find(name);
    if (it == mins.end()) {
      ADD_FAILURE() << corpus_ << " " << name << ": no threshold set for this field";
      continue;
    }
    ExpectAtLeast(name, it->second);
  }
  for (const auto& [name, ratio] : mins) {
    if (!fields_.contains(name)) ADD_FAILURE() << corpus_ << " " << name << ": threshold set but field never compared";
  }
}

}  // namespace mailkeep::corpus
