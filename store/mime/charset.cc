// Charset conversion to UTF-8.
//
// UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are decoded here without
// iconv (they are most of real mail); everything else goes through glibc
// iconv with descriptors cached per thread, because iconv_open costs far more
// than converting a typical body. Names real mail uses but glibc does not know
// are mapped first (see CanonicalCharset); HZ, which glibc lacks, is decoded
// here on top of its GB18030 converter (AppendHz).
#include <iconv.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/decode.h"

namespace mailkeep::mime {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 when invalid
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  const size_t left = s.size() - i;
  auto cont = [&](size_t k) {
    return k < left && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xE0 && b1 < 0xA0) return 0;   // overlong
    if (b0 == 0xED && b1 >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1]);
    if (b0 == 0xF0 && b1 < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && b1 >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool IsAscii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// Appends `s`, replacing each invalid UTF-8 sequence by U+FFFD.
void AppendSanitizedUtf8(std::string& out, std::string_view s, bool* bad) {
  size_t i = 0;
  size_t run = 0;  // start of the current valid run
  while (i < s.size()) {
    const size_t n = Utf8SequenceLength(s, i);
    if (n == 0) {
      out.append(s.substr(run, i - run));
      out.append(kReplacement);
      if (bad) *bad = true;
      ++i;
      run = i;
    } else {
      i += n;
    }
  }
  out.append(s.substr(run));
}

// windows-1252 0x80..0x9F; the five undefined bytes map to the C1 control
// of the same value (as the WHATWG encoding standard does).
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

void AppendCp1252(std::string& out, std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else if (c < 0xA0) {
      AppendUtf8(out, kCp1252High[c - 0x80]);
    } else {
      AppendUtf8(out, c);
    }
  }
}

// Unlabelled bytes: UTF-8 when they are valid UTF-8, windows-1252 otherwise.
void AppendUnlabelled(std::string& out, std::string_view s) {
  if (IsValidUtf8(s)) {
    out.append(s);
  } else {
    AppendCp1252(out, s);
  }
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

enum class Kind { kUnlabelled, kUtf8, kCp1252, kHz, kIconv };

struct Canonical {
  Kind kind;
  std::string iconv_name;  // upper case, for kIconv
};

// Maps a charset label to how it is decoded.
Canonical CanonicalCharset(std::string_view label) {
  // Trim blanks and quotes; drop an RFC 2231 "*language" suffix.
  while (!label.empty() && (label.front() == ' ' || label.front() == '\t' || label.front() == '"' ||
                            label.front() == '\''))
    label.remove_prefix(1);
  while (!label.empty() && (label.back() == ' ' || label.back() == '\t' || label.back() == '"' ||
                            label.back() == '\''))
    label.remove_suffix(1);
  if (auto star = label.find('*'); star != std::string_view::npos) label = label.substr(0, star);
  if (label.empty() || label.size() > 40) return {Kind::kUnlabelled, {}};
  std::string name;
  name.reserve(label.size());
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return {Kind::kUnlabelled, {}};
    name.push_back(AsciiLower(c));
  }
  if (name == "utf-8" || name == "utf8" || name == "x-utf-8" || name == "unicode-1-1-utf-8")
    return {Kind::kUtf8, {}};
  // Labelled ASCII with 8-bit bytes in it is common; treat it as unlabelled.
  if (name == "us-ascii" || name == "ascii" || name == "x-unknown" || name == "unknown" ||
      name == "unknown-8bit" || name == "x-user-defined" || name == "default" || name == "us" ||
      name == "ansi_x3.4-1968" || name == "iso646-us" || name == "8bit" || name == "7bit" ||
      name == "none" || name == "charset")
    return {Kind::kUnlabelled, {}};
  // The WHATWG rule: latin1 labels decode as windows-1252.
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" ||
      name == "latin-1" || name == "l1" || name == "windows-1252" || name == "cp1252" ||
      name == "x-cp1252" || name == "iso-8859-1:1987" || name == "iso_8859-1:1987" ||
      name == "cp819" || name == "ibm819" || name == "iso-ir-100")
    return {Kind::kCp1252, {}};
  // HZ (RFC 1843): glibc iconv has no converter, see AppendHz.
  if (name == "hz-gb-2312" || name == "hz") return {Kind::kHz, {}};
  struct Alias {
    std::string_view from, to;
  };
  static constexpr Alias kAliases[] = {
      {"ks_c_5601-1987", "CP949"},   {"ks_c_5601", "CP949"},       {"ks_c_5601-1989", "CP949"},
      {"ksc5601", "CP949"},          {"ksc_5601", "CP949"},        {"euc-kr", "CP949"},
      {"x-euc-kr", "CP949"},         {"windows-949", "CP949"},     {"x-gbk", "GB18030"},
      {"gbk", "GB18030"},            {"gb2312", "GB18030"},        {"gb_2312-80", "GB18030"},
      {"gb_2312", "GB18030"},        {"csgb2312", "GB18030"},      {"x-gb2312", "GB18030"},
      {"euc-cn", "GB18030"},         {"x-euc-cn", "GB18030"},      {"cp936", "GB18030"},
      {"windows-936", "GB18030"},    {"chinese", "GB18030"},       {"unicode-1-1-utf-7", "UTF-7"},
      {"x-unicode-2-0-utf-7", "UTF-7"}, {"utf7", "UTF-7"},         {"iso-8859-8-i", "ISO-8859-8"},
      {"iso-8859-8-e", "ISO-8859-8"}, {"iso-8859-6-i", "ISO-8859-6"}, {"iso-8859-6-e", "ISO-8859-6"},
      {"logical", "ISO-8859-8"},     {"visual", "ISO-8859-8"},     {"x-mac-roman", "MACINTOSH"},
      {"mac", "MACINTOSH"},          {"macintosh", "MACINTOSH"},   {"x-mac", "MACINTOSH"},
      {"shift_jis", "CP932"},        {"shift-jis", "CP932"},       {"x-sjis", "CP932"},
      {"sjis", "CP932"},             {"ms_kanji", "CP932"},        {"windows-31j", "CP932"},
      {"x-ms-cp932", "CP932"},       {"big5", "BIG5-HKSCS"},       {"x-x-big5", "BIG5-HKSCS"},
      {"big-5", "BIG5-HKSCS"},       {"cn-big5", "BIG5-HKSCS"},    {"x-euc-jp", "EUC-JP"},
      {"windows-874", "CP874"},      {"tis-620", "CP874"},         {"iso-8859-11", "CP874"},
      {"x-cp1250", "WINDOWS-1250"},  {"x-cp1251", "WINDOWS-1251"}, {"koi8r", "KOI8-R"},
      {"iso-8859-15", "ISO-8859-15"}, {"latin9", "ISO-8859-15"},   {"utf-16", "UTF-16"},
  };
  for (const auto& a : kAliases)
    if (name == a.from) return {Kind::kIconv, std::string(a.to)};
  // cp125x → WINDOWS-125x
  if (name.size() == 6 && name.starts_with("cp125")) return {Kind::kIconv, "WINDOWS-" + name.substr(2)};
  std::string upper = name;
  for (char& c : upper)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  return {Kind::kIconv, std::move(upper)};
}

const iconv_t kNoIconv = reinterpret_cast<iconv_t>(-1);

// Per-thread cache of iconv descriptors (failures are cached too, so an
// unknown label costs one iconv_open per thread). Bounded, because labels
// come from untrusted mail.
class IconvCache {
 public:
  ~IconvCache() {
    for (auto& e : entries_)
      if (e.second != kNoIconv) iconv_close(e.second);
  }
  // Returns a reset descriptor, or kNoIconv. `owned` is set when the caller
  // must close it (cache full).
  iconv_t Get(const std::string& name, bool* owned) {
    *owned = false;
    for (auto& e : entries_) {
      if (e.first == name) {
        if (e.second != kNoIconv) iconv(e.second, nullptr, nullptr, nullptr, nullptr);
        return e.second;
      }
    }
    iconv_t cd = iconv_open("UTF-8", name.c_str());
    if (entries_.size() < kMaxEntries) {
      entries_.emplace_back(name, cd);
    } else {
      *owned = cd != kNoIconv;
    }
    return cd;
  }

 private:
  static constexpr size_t kMaxEntries = 64;
  std::vector<std::pair<std::string, iconv_t>> entries_;
};

IconvCache& Cache() {
  thread_local IconvCache cache;
  return cache;
}

void AppendIconv(std::string& out, iconv_t cd, std::string_view bytes, bool* bad) {
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  char buf[4096];
  while (in_left > 0) {
    char* op = buf;
    size_t out_left = sizeof buf;
    const size_t r = iconv(cd, &in, &in_left, &op, &out_left);
    const int err = errno;
    out.append(buf, static_cast<size_t>(op - buf));
    if (r != static_cast<size_t>(-1)) continue;
    if (err == E2BIG) continue;
    out.append(kReplacement);
    if (bad) *bad = true;
    if (err == EILSEQ && in_left > 0) {
      ++in;
      --in_left;
      continue;
    }
    break;  // EINVAL: truncated sequence at the end
  }
  char* op = buf;
  size_t out_left = sizeof buf;
  iconv(cd, nullptr, nullptr, &op, &out_left);
  out.append(buf, static_cast<size_t>(op - buf));
}

// HZ (RFC 1843, hz-gb-2312): 7-bit GB2312. In ASCII mode "~{" switches to
// GB mode, "~~" is '~' and "~" + newline is a line continuation (both
// removed); in GB mode each byte pair is a GB2312 character with the high
// bits cleared and "~}" switches back. Lenient where RFC 1843 is strict: a
// line break in GB mode ends it, other "~" sequences are kept as written;
// an odd byte, a pair outside 0x21..0x7E or an 8-bit byte becomes U+FFFD.
void AppendHz(std::string& out, std::string_view s, bool* bad) {
  bool owned = false;
  iconv_t cd = Cache().Get("GB18030", &owned);
  std::string gb;  // the current GB run with the high bits set
  auto flush = [&] {
    if (gb.empty()) return;
    if (cd == kNoIconv) {
      out.append(kReplacement);
      if (bad) *bad = true;
    } else {
      AppendIconv(out, cd, gb, bad);
    }
    gb.clear();
  };
  bool gb_mode = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    const char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (c == '~' && gb_mode && next == '}') {
      flush();
      gb_mode = false;
      i += 2;
    } else if (c == '~' && !gb_mode && (next == '{' || next == '~' || next == '\n')) {
      if (next == '{') gb_mode = true;
      if (next == '~') out.push_back('~');
      i += 2;
    } else if (c == '~' && !gb_mode && next == '\r' && i + 2 < s.size() && s[i + 2] == '\n') {
      i += 3;  // "~" CRLF continuation
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      flush();
      out.append(kReplacement);
      if (bad) *bad = true;
      ++i;
    } else if (!gb_mode) {
      out.push_back(c);
      ++i;
    } else if (c == '\n' || c == '\r') {
      flush();
      gb_mode = false;
      out.push_back(c);
      ++i;
    } else {
      const auto b1 = static_cast<unsigned char>(c), b2 = static_cast<unsigned char>(next);
      if (i + 1 < s.size() && b1 >= 0x21 && b1 <= 0x7E && b2 >= 0x21 && b2 <= 0x7E) {
        gb.push_back(static_cast<char>(b1 | 0x80));
        gb.push_back(static_cast<char>(b2 | 0x80));
        i += 2;
      } else {
        flush();
        out.append(kReplacement);
        if (bad) *bad = true;
        ++i;
      }
    }
  }
  flush();
  if (owned) iconv_close(cd);
}

}  // namespace

std::string SanitizeUtf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  AppendSanitizedUtf8(out, bytes, nullptr);
  return out;
}

std::string ToUtf8(std::string_view bytes, std::string_view charset, bool* bad) {
  std::string out;
  if (bytes.empty()) return out;
  out.reserve(bytes.size() + bytes.size() / 4);
  // Pure ASCII is the same in every charset mail uses except the 7-bit
  // stateful ones (UTF-7, ISO-2022-*, HZ) and the wide ones (UTF-16/32,
  // UCS-2/4), which must go through iconv.
  if (IsAscii(bytes)) {
    bool special = false;
    if (charset.size() >= 2) {
      std::string lower;
      for (char c : charset.substr(0, 24)) lower.push_back(AsciiLower(c));
      for (std::string_view k : {"utf-7", "utf7", "2022", "hz", "16", "32", "ucs", "unicode"})
        special |= lower.find(k) != std::string::npos;
    }
    if (!special) {
      out.append(bytes);
      return out;
    }
  }
  Canonical c = CanonicalCharset(charset);
  switch (c.kind) {
    case Kind::kUnlabelled:
      AppendUnlabelled(out, bytes);
      return out;
    case Kind::kUtf8:
      AppendSanitizedUtf8(out, bytes, bad);
      return out;
    case Kind::kCp1252:
      AppendCp1252(out, bytes);
      return out;
    case Kind::kHz:
      AppendHz(out, bytes, bad);
      return out;
    case Kind::kIconv:
      break;
  }
  bool owned = false;
  iconv_t cd = Cache().Get(c.iconv_name, &owned);
  if (cd == kNoIconv) {
    AppendUnlabelled(out, bytes);
    return out;
  }
  AppendIconv(out, cd, bytes, bad);
  if (owned) iconv_close(cd);
  return out;
}

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace mailkeep::mime
