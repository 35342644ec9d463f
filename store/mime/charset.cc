// Charset conversion to UTF-8.
//
// UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are decoded here without
// iconv (they are most of real mail); everything else goes through glibc
// iconv with descriptors cached per thread, because iconv_open costs far more
// than converting a typical body. Names real mail uses but glibc does not know
// are mapped first, whatever their spelling (case, '-', '_', '.', vendor
// "x-" prefixes: see AliasKey and CanonicalCharset); HZ, which glibc lacks, is decoded
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
  // For kIconv: the names to try with iconv_open, in order (upper case).
  std::vector<std::string> iconv_names;
};

// A label's key for the alias table: lower case, only letters and digits
// ("ks_c_5601-1987" -> "ksc56011987", "ISO8859_1" -> "iso88591"), after
// vendor prefixes ("x-", "x-x-") are dropped. Every spelling of a name that
// differs only in case, '-', '_', '.', ':' or such a prefix has one key.
std::string AliasKey(std::string_view name) {
  while (name.size() > 2 && (name.starts_with("x-") || name.starts_with("x_"))) name.remove_prefix(2);
  std::string key;
  key.reserve(name.size());
  for (char c : name) {
    c = AsciiLower(c);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) key.push_back(c);
  }
  return key;
}

struct Alias {
  std::string_view key;  // AliasKey form
  Kind kind;
  std::string_view iconv_name;  // for kIconv
};

// Labels real mail uses (IANA names, Python codec names and aliases, vendor
// x- names) that glibc iconv does not take as written, by AliasKey.
// Labelled ASCII with 8-bit bytes in it is common, so ASCII labels are read
// as unlabelled; latin1 labels decode as windows-1252 (the WHATWG rule);
// Korean, simplified Chinese and Japanese Shift_JIS labels as their
// supersets (CP949, GB18030, CP932), as mail clients write them.
constexpr Alias kAliases[] = {
    {"utf8", Kind::kUtf8, {}},           {"u8", Kind::kUtf8, {}},           {"utf", Kind::kUtf8, {}},
    {"unicode11utf8", Kind::kUtf8, {}},  {"cp65001", Kind::kUtf8, {}},      {"csutf8", Kind::kUtf8, {}},
    {"usascii", Kind::kUnlabelled, {}},  {"ascii", Kind::kUnlabelled, {}},  {"unknown", Kind::kUnlabelled, {}},
    {"unknown8bit", Kind::kUnlabelled, {}}, {"userdefined", Kind::kUnlabelled, {}},
    {"default", Kind::kUnlabelled, {}},  {"us", Kind::kUnlabelled, {}},     {"ansix341968", Kind::kUnlabelled, {}},
    {"ansix341986", Kind::kUnlabelled, {}}, {"iso646us", Kind::kUnlabelled, {}}, {"646", Kind::kUnlabelled, {}},
    {"csascii", Kind::kUnlabelled, {}},  {"cp367", Kind::kUnlabelled, {}},  {"ibm367", Kind::kUnlabelled, {}},
    {"8bit", Kind::kUnlabelled, {}},     {"7bit", Kind::kUnlabelled, {}},   {"none", Kind::kUnlabelled, {}},
    {"charset", Kind::kUnlabelled, {}},
    {"iso88591", Kind::kCp1252, {}},     {"latin1", Kind::kCp1252, {}},     {"latin", Kind::kCp1252, {}},
    {"l1", Kind::kCp1252, {}},           {"windows1252", Kind::kCp1252, {}}, {"cp1252", Kind::kCp1252, {}},
    {"iso885911987", Kind::kCp1252, {}}, {"cp819", Kind::kCp1252, {}},      {"ibm819", Kind::kCp1252, {}},
    {"isoir100", Kind::kCp1252, {}},     {"csisolatin1", Kind::kCp1252, {}}, {"iso8859", Kind::kCp1252, {}},
    {"8859", Kind::kCp1252, {}},         {"mscp1252", Kind::kCp1252, {}},
    {"hzgb2312", Kind::kHz, {}},         {"hz", Kind::kHz, {}},             {"hzgb", Kind::kHz, {}},
    {"ksc56011987", Kind::kIconv, "CP949"}, {"ksc5601", Kind::kIconv, "CP949"}, {"ksc56011989", Kind::kIconv, "CP949"},
    {"euckr", Kind::kIconv, "CP949"},    {"cseuckr", Kind::kIconv, "CP949"}, {"windows949", Kind::kIconv, "CP949"},
    {"ms949", Kind::kIconv, "CP949"},    {"uhc", Kind::kIconv, "CP949"},    {"korean", Kind::kIconv, "CP949"},
    {"ksx1001", Kind::kIconv, "CP949"},
    {"gbk", Kind::kIconv, "GB18030"},    {"gb2312", Kind::kIconv, "GB18030"}, {"gb231280", Kind::kIconv, "GB18030"},
    {"gb23121980", Kind::kIconv, "GB18030"}, {"csgb2312", Kind::kIconv, "GB18030"},
    {"csiso58gb231280", Kind::kIconv, "GB18030"}, {"isoir58", Kind::kIconv, "GB18030"},
    {"euccn", Kind::kIconv, "GB18030"},  {"eucgb2312cn", Kind::kIconv, "GB18030"}, {"cp936", Kind::kIconv, "GB18030"},
    {"ms936", Kind::kIconv, "GB18030"},  {"windows936", Kind::kIconv, "GB18030"}, {"936", Kind::kIconv, "GB18030"},
    {"chinese", Kind::kIconv, "GB18030"}, {"gb180302000", Kind::kIconv, "GB18030"},
    {"unicode11utf7", Kind::kIconv, "UTF-7"}, {"unicode20utf7", Kind::kIconv, "UTF-7"}, {"utf7", Kind::kIconv, "UTF-7"},
    {"u7", Kind::kIconv, "UTF-7"},
    {"iso88598i", Kind::kIconv, "ISO-8859-8"}, {"iso88598e", Kind::kIconv, "ISO-8859-8"},
    {"logical", Kind::kIconv, "ISO-8859-8"}, {"visual", Kind::kIconv, "ISO-8859-8"},
    {"iso88596i", Kind::kIconv, "ISO-8859-6"}, {"iso88596e", Kind::kIconv, "ISO-8859-6"},
    {"macroman", Kind::kIconv, "MACINTOSH"}, {"mac", Kind::kIconv, "MACINTOSH"}, {"macintosh", Kind::kIconv, "MACINTOSH"},
    {"csmacintosh", Kind::kIconv, "MACINTOSH"},
    {"maccyrillic", Kind::kIconv, "MAC-CYRILLIC"}, {"macce", Kind::kIconv, "MAC-CENTRALEUROPE"},
    {"maccentraleurope", Kind::kIconv, "MAC-CENTRALEUROPE"}, {"maclatin2", Kind::kIconv, "MAC-CENTRALEUROPE"},
    {"maccenteuro", Kind::kIconv, "MAC-CENTRALEUROPE"}, {"macukrainian", Kind::kIconv, "MACUKRAINIAN"},
    {"macukraine", Kind::kIconv, "MACUKRAINIAN"}, {"macicelandic", Kind::kIconv, "MAC-IS"},
    {"maciceland", Kind::kIconv, "MAC-IS"},
    {"shiftjis", Kind::kIconv, "CP932"}, {"sjis", Kind::kIconv, "CP932"}, {"mskanji", Kind::kIconv, "CP932"},
    {"csshiftjis", Kind::kIconv, "CP932"}, {"windows31j", Kind::kIconv, "CP932"}, {"mscp932", Kind::kIconv, "CP932"},
    {"ms932", Kind::kIconv, "CP932"},    {"932", Kind::kIconv, "CP932"},
    {"shiftjis2004", Kind::kIconv, "SHIFT_JISX0213"}, {"sjis2004", Kind::kIconv, "SHIFT_JISX0213"},
    {"shiftjisx0213", Kind::kIconv, "SHIFT_JISX0213"}, {"sjisx0213", Kind::kIconv, "SHIFT_JISX0213"},
    {"eucjp", Kind::kIconv, "EUC-JP"},   {"ujis", Kind::kIconv, "EUC-JP"},   {"cseucpkdfmtjapanese", Kind::kIconv, "EUC-JP"},
    {"eucjis2004", Kind::kIconv, "EUC-JISX0213"}, {"eucjisx0213", Kind::kIconv, "EUC-JISX0213"},
    {"big5", Kind::kIconv, "BIG5-HKSCS"}, {"big5tw", Kind::kIconv, "BIG5-HKSCS"}, {"csbig5", Kind::kIconv, "BIG5-HKSCS"},
    {"cnbig5", Kind::kIconv, "BIG5-HKSCS"}, {"big5hkscs", Kind::kIconv, "BIG5-HKSCS"}, {"hkscs", Kind::kIconv, "BIG5-HKSCS"},
    {"ms950", Kind::kIconv, "CP950"},    {"950", Kind::kIconv, "CP950"},
    {"windows874", Kind::kIconv, "CP874"}, {"tis620", Kind::kIconv, "CP874"}, {"tis6200", Kind::kIconv, "CP874"},
    {"tis62025290", Kind::kIconv, "CP874"}, {"tis62025291", Kind::kIconv, "CP874"}, {"iso885911", Kind::kIconv, "CP874"},
    {"isoir166", Kind::kIconv, "CP874"},
    {"koi8r", Kind::kIconv, "KOI8-R"},   {"cskoi8r", Kind::kIconv, "KOI8-R"}, {"koi8u", Kind::kIconv, "KOI8-U"},
    {"latin9", Kind::kIconv, "ISO-8859-15"}, {"l9", Kind::kIconv, "ISO-8859-15"},
    {"iso2022jp", Kind::kIconv, "ISO-2022-JP"}, {"csiso2022jp", Kind::kIconv, "ISO-2022-JP"},
    {"iso2022kr", Kind::kIconv, "ISO-2022-KR"}, {"csiso2022kr", Kind::kIconv, "ISO-2022-KR"},
    {"utf16", Kind::kIconv, "UTF-16"},   {"u16", Kind::kIconv, "UTF-16"},     {"utf16le", Kind::kIconv, "UTF-16LE"},
    {"utf16be", Kind::kIconv, "UTF-16BE"}, {"utf32", Kind::kIconv, "UTF-32"}, {"u32", Kind::kIconv, "UTF-32"},
    {"utf32le", Kind::kIconv, "UTF-32LE"}, {"utf32be", Kind::kIconv, "UTF-32BE"},
};

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The iconv name for a key of a numbered family: iso8859N, latinN / lN,
// windowsNNNN / cpNNNN / msNNNN / mscpNNNN (cp125x, cp874, cp850 ...),
// ibmNNN; "" when the key is none of them.
std::string NumberedCharset(const std::string& key) {
  static constexpr std::string_view kLatin[] = {"", "1", "2", "3", "4", "9", "10", "13", "14", "15", "16"};
  auto tail = [&](std::string_view prefix) -> std::string_view {
    if (!key.starts_with(prefix)) return {};
    std::string_view rest = std::string_view(key).substr(prefix.size());
    return AllDigits(rest) && rest.size() <= 5 ? rest : std::string_view();
  };
  if (auto n = tail("iso8859"); !n.empty()) return "ISO-8859-" + std::string(n);
  for (std::string_view latin : {"latin", "l"}) {
    if (auto n = tail(latin); !n.empty()) {
      const int k = std::stoi(std::string(n));
      if (k >= 1 && k <= 10) return "ISO-8859-" + std::string(kLatin[k]);
    }
  }
  for (std::string_view cp : {"windows", "mscp", "cp", "ms"}) {
    if (auto n = tail(cp); !n.empty()) return "CP" + std::string(n);
  }
  if (auto n = tail("ibm"); !n.empty()) return "IBM" + std::string(n);
  return {};
}

// Maps a charset label to how it is decoded: the alias table, then a
// numbered family, then iconv with the label as written and with '_' read
// as '-' (euc_kr -> EUC-KR).
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
  std::string upper;
  upper.reserve(label.size());
  for (char c : label) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return {Kind::kUnlabelled, {}};
    upper.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c);
  }
  const std::string key = AliasKey(label);
  for (const Alias& a : kAliases) {
    if (key == a.key) return {a.kind, a.kind == Kind::kIconv ? std::vector<std::string>{std::string(a.iconv_name)}
                                                             : std::vector<std::string>{}};
  }
  if (std::string numbered = NumberedCharset(key); !numbered.empty()) return {Kind::kIconv, {std::move(numbered)}};
  Canonical c{Kind::kIconv, {upper}};
  std::string hyphens = upper;
  for (char& ch : hyphens)
    if (ch == '_') ch = '-';
  if (hyphens != upper) c.iconv_names.push_back(std::move(hyphens));
  return c;
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
      const std::string key = AliasKey(charset.substr(0, 24));
      for (std::string_view k : {"utf7", "u7", "2022", "hz", "16", "32", "ucs", "unicode"})
        special |= key.find(k) != std::string::npos;
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
  for (const std::string& name : c.iconv_names) {
    bool owned = false;
    iconv_t cd = Cache().Get(name, &owned);
    if (cd == kNoIconv) continue;
    AppendIconv(out, cd, bytes, bad);
    if (owned) iconv_close(cd);
    return out;
  }
  AppendUnlabelled(out, bytes);
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
