// make_sample_mail OUTDIR: writes the bundled example mailbox that the README
// demo (scripts/demo.sh) imports. Every message is generated here — nothing
// is copied from a real mailbox or corpus — from a fixed-seed PRNG, so the
// output is byte-identical on every run and every machine.
//
//   OUTDIR/Maildir          Maildir++ tree: INBOX (cur/, new/, tmp/) and the
//                           folders .Sent, .Lists.dev, .Archive.2023
//   OUTDIR/old-mail.mbox    mboxrd file of older mail (2019-2021); one of its
//                           messages is also in the Maildir, byte for byte
//
// The messages are meant to exercise the parser and the archive: us-ascii,
// 8bit UTF-8, quoted-printable ISO-8859-1 and windows-1252, KOI8-R and
// windows-1251 Cyrillic, ISO-2022-JP, base64 text; RFC 2047 encoded words (B
// and Q, UTF-8, ISO-8859-1, KOI8-R) in subjects and names; raw UTF-8 headers;
// multipart/alternative, multipart/mixed with generated PDF, PNG, CSV, ICS and
// text attachments (RFC 2231 file names, with continuations),
// message/rfc822, text/calendar, HTML-only newsletters, format=flowed; reply
// threads with In-Reply-To/References; group addresses; long folded Cc
// lists; obsolete address and date forms; a message without a final
// newline; whole messages with CRLF line endings; mbox body lines starting
// with "From " and ">From ".
//
// Dependency-free on purpose: standard library only.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------- randomness

// xorshift64*: small, fast, and the same sequence everywhere (unlike
// std::rand or the std:: distributions, whose algorithms are unspecified).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed ? seed : 0x9E3779B97F4A7C15ull) {}
  uint64_t Next() {
    s_ ^= s_ >> 12;
    s_ ^= s_ << 25;
    s_ ^= s_ >> 27;
    return s_ * 0x2545F4914F6CDD1Dull;
  }
  uint32_t Below(size_t n) { return n ? static_cast<uint32_t>(Next() % n) : 0; }
  int Range(int lo, int hi) { return lo + static_cast<int>(Below(static_cast<size_t>(hi - lo + 1))); }
  int64_t Range64(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }
  bool Chance(int percent) { return Below(100) < static_cast<uint32_t>(percent); }
  template <class T>
  const T& Pick(std::span<const T> v) {
    return v[Below(v.size())];
  }
  template <class T, size_t N>
  const T& Pick(const T (&a)[N]) {
    return a[Below(N)];
  }
  std::string Hex(int digits, bool upper = false) {
    const char* d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string s;
    for (int i = 0; i < digits; ++i) s += d[Below(16)];
    return s;
  }
  // Sequenced on purpose: the order of evaluation of operands of + is
  // unspecified, and the output must not depend on the compiler.
  std::string Uuid(bool upper) {
    std::string s = Hex(8, upper);
    for (int n : {4, 4, 4, 12}) {
      s += '-';
      s += Hex(n, upper);
    }
    return s;
  }
  std::string Alnum(int n) {
    static const char kA[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::string s;
    for (int i = 0; i < n; ++i) s += kA[Below(sizeof kA - 1)];
    return s;
  }
  std::string Digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + Below(10));
    return s;
  }

 private:
  uint64_t s_;
};

// ---------------------------------------------------------------- dates

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

int64_t UnixTime(int y, unsigned mo, unsigned d, int hh = 0, int mi = 0, int ss = 0) {
  return DaysFromCivil(y, mo, d) * 86400 + hh * 3600 + mi * 60 + ss;
}

struct Civil {
  int64_t y;
  unsigned m, d, hh, mi, ss, wday;  // wday 0 = Sunday
};

Civil ToCivil(int64_t t) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t secs = t - days * 86400;
  Civil c{};
  c.hh = static_cast<unsigned>(secs / 3600);
  c.mi = static_cast<unsigned>(secs / 60 % 60);
  c.ss = static_cast<unsigned>(secs % 60);
  c.wday = static_cast<unsigned>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  c.d = doy - (153 * mp + 2) / 5 + 1;
  c.m = mp < 10 ? mp + 3 : mp - 9;
  c.y = static_cast<int64_t>(yoe) + era * 400 + (c.m <= 2);
  return c;
}

const char* const kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string Fmt(const char* format, auto... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, format, args...);
  return buf;
}

std::string Zone(int tz_min) {
  int a = tz_min < 0 ? -tz_min : tz_min;
  return Fmt("%c%02d%02d", tz_min < 0 ? '-' : '+', a / 60, a % 60);
}

enum DateStyle { kDateNormal, kDatePadded, kDateNoWeekday, kDateGmt, kDateComment, kDateMinusZero };

// An RFC 5322 date (and a few obsolete or common variants) for UTC time `t`
// shown in zone `tz_min`.
std::string MailDate(int64_t t, int tz_min, DateStyle style = kDateNormal) {
  if (style == kDateGmt || style == kDateMinusZero) tz_min = 0;
  Civil c = ToCivil(t + tz_min * 60);
  std::string day = style == kDatePadded ? Fmt("%02u", c.d) : Fmt("%u", c.d);
  std::string s = style == kDateNoWeekday ? "" : std::string(kWeekdays[c.wday]) + ", ";
  s += day + " " + kMonths[c.m - 1] + " " + std::to_string(c.y) + Fmt(" %02u:%02u:%02u ", c.hh, c.mi, c.ss);
  if (style == kDateGmt) return s + "GMT";
  if (style == kDateMinusZero) return s + "-0000";
  s += Zone(tz_min);
  if (style == kDateComment) s += tz_min == 60 ? " (CET)" : tz_min == 120 ? " (CEST)" : " (UTC)";
  return s;
}

// "Tue Mar  5 13:03:22 2019" in UTC, for mbox From_ lines.
std::string Asctime(int64_t t) {
  Civil c = ToCivil(t);
  return Fmt("%s %s %2u %02u:%02u:%02u %lld", kWeekdays[c.wday], kMonths[c.m - 1], c.d, c.hh, c.mi, c.ss,
             static_cast<long long>(c.y));
}

// ---------------------------------------------------------------- Unicode and charsets

std::u32string DecodeUtf8(std::string_view s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    int n = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    char32_t c = n == 1 ? b : n == 2 ? (b & 0x1F) : n == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < n && i + static_cast<size_t>(k) < s.size(); ++k) {
      c = (c << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3F);
    }
    out += c;
    i += static_cast<size_t>(n);
  }
  return out;
}

void AppendUtf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

int ToLatin1(char32_t c) { return c < 0x100 ? static_cast<int>(c) : -1; }

int ToCp1252(char32_t c) {
  if (c < 0x80 || (c >= 0xA0 && c < 0x100)) return static_cast<int>(c);
  switch (c) {
    case U'€': return 0x80;
    case U'‚': return 0x82;
    case U'„': return 0x84;
    case U'…': return 0x85;
    case U'‘': return 0x91;
    case U'’': return 0x92;
    case U'“': return 0x93;
    case U'”': return 0x94;
    case U'–': return 0x96;
    case U'—': return 0x97;
    case U'™': return 0x99;
    case U'Œ': return 0x8C;
    case U'œ': return 0x9C;
    default: return -1;
  }
}

int ToKoi8r(char32_t c) {
  static const std::u32string_view lower = U"юабцдефгхийклмнопярстужвьызшэщчъ";
  static const std::u32string_view upper = U"ЮАБЦДЕФГХИЙКЛМНОПЯРСТУЖВЬЫЗШЭЩЧЪ";
  if (c < 0x80) return static_cast<int>(c);
  if (c == U'ё') return 0xA3;
  if (c == U'Ё') return 0xB3;
  if (auto i = lower.find(c); i != std::u32string_view::npos) return 0xC0 + static_cast<int>(i);
  if (auto i = upper.find(c); i != std::u32string_view::npos) return 0xE0 + static_cast<int>(i);
  return -1;
}

int ToCp1251(char32_t c) {
  if (c < 0x80) return static_cast<int>(c);
  if (c >= U'А' && c <= U'я') return 0xC0 + static_cast<int>(c - U'А');
  switch (c) {
    case U'Ё': return 0xA8;
    case U'ё': return 0xB8;
    case U'«': return 0xAB;
    case U'»': return 0xBB;
    case U'—': return 0x97;
    case U'–': return 0x96;
    case U'№': return 0xB9;
    default: return -1;
  }
}

bool Representable(std::string_view utf8, int (*map)(char32_t)) {
  for (char32_t c : DecodeUtf8(utf8)) {
    if (map(c) < 0) return false;
  }
  return true;
}

// ISO-2022-JP for ASCII, hiragana, katakana and a little punctuation (all
// the Japanese text that is sent in this charset uses nothing else).
int JisKana(char32_t c) {
  if (c >= 0x3041 && c <= 0x3093) return 0x2400 + 0x21 + static_cast<int>(c - 0x3041);
  if (c >= 0x30A1 && c <= 0x30F6) return 0x2500 + 0x21 + static_cast<int>(c - 0x30A1);
  if (c == U'、') return 0x2122;
  if (c == U'。') return 0x2123;
  if (c == U'ー') return 0x213C;
  if (c == U'！') return 0x212A;
  return -1;
}

std::string ToIso2022jp(std::string_view utf8) {
  std::string out;
  bool jis = false;
  for (char32_t c : DecodeUtf8(utf8)) {
    int j = c < 0x80 ? -1 : JisKana(c);
    if (c >= 0x80 && j < 0) j = 0x2129;  // '？' for anything else
    if (j >= 0 && !jis) {
      out += "\x1b$B";
      jis = true;
    } else if (j < 0 && jis) {
      out += "\x1b(B";
      jis = false;
    }
    if (j >= 0) {
      out += static_cast<char>(j >> 8);
      out += static_cast<char>(j & 0xFF);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (jis) out += "\x1b(B";
  return out;
}

// Converts UTF-8 text to `charset` (lower case name); unmappable characters
// become '?'.
std::string Convert(std::string_view utf8, std::string_view charset) {
  if (charset == "utf-8" || charset == "us-ascii") return std::string(utf8);
  if (charset == "iso-2022-jp") return ToIso2022jp(utf8);
  int (*map)(char32_t) = charset == "iso-8859-1"     ? ToLatin1
                         : charset == "windows-1252" ? ToCp1252
                         : charset == "koi8-r"       ? ToKoi8r
                                                     : ToCp1251;
  std::string out;
  for (char32_t c : DecodeUtf8(utf8)) {
    int b = map(c);
    out += static_cast<char>(b < 0 ? '?' : b);
  }
  return out;
}

// ---------------------------------------------------------------- transfer encodings

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Raw(std::string_view in) {
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i]) << 16 |
                                       static_cast<unsigned char>(in[i + 1]) << 8 |
                                       static_cast<unsigned char>(in[i + 2]));
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i]) << 16);
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1]) << 8);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string Base64(std::string_view in, size_t width = 76) {
  std::string raw = Base64Raw(in), out;
  for (size_t i = 0; i < raw.size(); i += width) out += raw.substr(i, width) + "\n";
  return out;
}

std::string HexByte(unsigned char b) { return Fmt("=%02X", b); }

// Quoted-printable (RFC 2045 6.7) of text with "\n" line breaks: lines of at
// most 76 characters with soft breaks, trailing white space protected.
std::string QuotedPrintable(std::string_view in) {
  std::string out;
  size_t pos = 0;
  while (pos <= in.size()) {
    size_t eol = in.find('\n', pos);
    bool has_nl = eol != std::string_view::npos;
    std::string_view line = in.substr(pos, (has_nl ? eol : in.size()) - pos);
    size_t col = 0;
    for (size_t i = 0; i < line.size(); ++i) {
      auto b = static_cast<unsigned char>(line[i]);
      bool last = i + 1 == line.size();
      std::string tok;
      if ((b == ' ' || b == '\t') && last) {
        tok = HexByte(b);
      } else if (b == '=' || b > 126 || (b < 32 && b != '\t')) {
        tok = HexByte(b);
      } else {
        tok = std::string(1, static_cast<char>(b));
      }
      if (col + tok.size() > 75) {
        out += "=\n";
        col = 0;
      }
      out += tok;
      col += tok.size();
    }
    if (!has_nl) break;
    out += '\n';
    pos = eol + 1;
    if (pos == in.size()) break;
  }
  return out;
}

std::string ToCrlf(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------- header encodings

bool QSafe(unsigned char b) {
  return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '!' || b == '*' ||
         b == '+' || b == '-' || b == '/';
}

// RFC 2047 encoded words for `bytes` (already in `charset`), each at most 75
// characters; UTF-8 sequences are never split between words.
std::vector<std::string> EncodedWords(std::string_view bytes, const std::string& charset, char enc) {
  const size_t room = 75 - (charset.size() + 7);
  bool utf8 = charset == "UTF-8" || charset == "utf-8";
  std::vector<std::string> words;
  size_t i = 0;
  while (i < bytes.size()) {
    size_t len = 0, cost = 0;
    while (i + len < bytes.size()) {
      size_t unit = 1;
      if (utf8) {
        while (i + len + unit < bytes.size() && (static_cast<unsigned char>(bytes[i + len + unit]) & 0xC0) == 0x80) {
          ++unit;
        }
      }
      size_t c = 0;
      if (enc == 'B') {
        c = (len + unit + 2) / 3 * 4;
      } else {
        c = cost;
        for (size_t k = 0; k < unit; ++k) {
          auto b = static_cast<unsigned char>(bytes[i + len + k]);
          c += (QSafe(b) || b == ' ') ? 1 : 3;
        }
      }
      if (c > room && len > 0) break;
      cost = c;
      len += unit;
    }
    std::string_view chunk = bytes.substr(i, len);
    std::string payload;
    if (enc == 'B') {
      payload = Base64Raw(chunk);
    } else {
      for (char ch : chunk) {
        auto b = static_cast<unsigned char>(ch);
        payload += b == ' ' ? std::string("_") : QSafe(b) ? std::string(1, ch) : HexByte(b);
      }
    }
    words.push_back("=?" + charset + "?" + enc + "?" + payload + "?=");
    i += len;
  }
  return words;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// Picks a charset and an encoding the way mail programs do for this text.
std::pair<std::string, char> ChooseHeaderCharset(Rng& rng, std::string_view utf8) {
  if (Representable(utf8, ToLatin1) && rng.Chance(40)) return {"ISO-8859-1", 'Q'};
  if (Representable(utf8, ToKoi8r) && rng.Chance(35)) return {"KOI8-R", 'B'};
  bool latin = Representable(utf8, ToCp1252);
  return {rng.Chance(50) ? "UTF-8" : "utf-8", latin ? (rng.Chance(70) ? 'Q' : 'B') : (rng.Chance(80) ? 'B' : 'Q')};
}

std::string EncodeAll(Rng& rng, std::string_view utf8) {
  auto [charset, enc] = ChooseHeaderCharset(rng, utf8);
  std::string lower;
  for (char c : charset) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return Join(EncodedWords(Convert(utf8, lower), charset, enc), " ");
}

// An unstructured header value (Subject): ASCII as is, otherwise encoded as
// a whole or, like some mailers do, only the runs of words that need it.
std::string Unstructured(Rng& rng, const std::string& utf8) {
  if (IsAscii(utf8)) return utf8;
  if (rng.Chance(60)) {
    // Keep a leading "Re: " / "Fwd: " / "[dev] " readable, encode the rest.
    size_t keep = 0;
    for (std::string_view p : {"Re: ", "AW: ", "RE: ", "Fwd: ", "TR: ", "[dev] "}) {
      while (std::string_view(utf8).substr(keep).starts_with(p)) keep += p.size();
    }
    if (keep > 0 && rng.Chance(50)) return utf8.substr(0, keep) + EncodeAll(rng, utf8.substr(keep));
    return EncodeAll(rng, utf8);
  }
  std::vector<std::string> words;
  size_t p = 0;
  while (p <= utf8.size()) {
    size_t sp = utf8.find(' ', p);
    if (sp == std::string::npos) sp = utf8.size();
    words.push_back(utf8.substr(p, sp - p));
    p = sp + 1;
  }
  std::string out;
  for (size_t i = 0; i < words.size();) {
    if (IsAscii(words[i])) {
      out += (out.empty() ? "" : " ") + words[i];
      ++i;
      continue;
    }
    std::string run = words[i];
    size_t j = i + 1;
    while (j < words.size() && !IsAscii(words[j])) run += " " + words[j++];
    out += (out.empty() ? "" : " ") + EncodeAll(rng, run);
    i = j;
  }
  return out;
}

// A display name: encoded when not ASCII, quoted when it has specials.
std::string Phrase(Rng& rng, std::string_view utf8) {
  if (!IsAscii(utf8)) return EncodeAll(rng, utf8);
  if (utf8.find_first_of("()<>[]:;@\\,.\"") != std::string_view::npos) return "\"" + std::string(utf8) + "\"";
  return std::string(utf8);
}

// One header line, folded at spaces to stay near 78 characters.
std::string HeaderLine(const std::string& name, const std::string& value) {
  std::string line = name + ": " + value;
  if (line.size() <= 78 || value.find('\n') != std::string::npos) return line + "\n";
  std::string out;
  size_t start = 0;
  while (line.size() - start > 78) {
    size_t min = start == 0 ? name.size() + 2 : start + 1;
    size_t p = line.rfind(' ', start + 76);
    if (p == std::string::npos || p < min) p = line.find(' ', start + 77);
    if (p == std::string::npos) break;
    out += line.substr(start, p - start) + "\n";
    start = p;
  }
  return out + line.substr(start) + "\n";
}

// RFC 2231 percent-encoding of a parameter value.
std::string Pct(std::string_view bytes) {
  std::string out;
  for (char ch : bytes) {
    auto b = static_cast<unsigned char>(ch);
    bool keep = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') ||
                std::string_view("!#$&+-.^_`|~").find(ch) != std::string_view::npos;
    out += keep ? std::string(1, ch) : Fmt("%%%02X", b);
  }
  return out;
}

// ---------------------------------------------------------------- people

enum Lang { kEn, kDe, kFr, kEs, kRu, kJa };
enum Mailer { kThunderbird, kOutlook, kAppleMail, kMutt, kGmail, kBot };

struct Person {
  const char* name;
  const char* addr;
  Lang lang;
  int tz;  // minutes east of UTC
  Mailer mailer;
};

const Person kOwner = {"Robin Keller", "robin.keller@example.com", kEn, 60, kThunderbird};

enum Who {
  kAna, kBen, kClaire, kPriya, kTom, kZoe, kGrace, kAhmed, kJuergen, kLena, kMia, kElodie, kFrancois, kSofia,
  kDmitri, kOlga, kHanako, kKen, kPeopleCount
};
const Person kPeople[kPeopleCount] = {
    {"Ana Souza", "ana.souza@example.com", kEn, 0, kGmail},
    {"Ben Okafor", "ben.okafor@example.com", kEn, 60, kOutlook},
    {"O'Brien, Claire", "claire@obrien.example", kEn, 0, kAppleMail},
    {"Priya Raman", "priya@example.com", kEn, 330, kGmail},
    {"Tom Nguyen", "tom.nguyen@example.net", kEn, -300, kMutt},
    {"Zoë Ångström", "zoe@example.org", kEn, 60, kThunderbird},
    {"Grace Liu", "grace.liu@example.net", kEn, -480, kAppleMail},
    {"Ahmed Hassan", "ahmed@example.org", kEn, 120, kOutlook},
    {"Jürgen Groß", "juergen.gross@werkstatt.example", kDe, 60, kOutlook},
    {"Lena Fischer", "lena.fischer@example.com", kDe, 60, kThunderbird},
    {"Mia Schäfer", "mia@schaefer.example", kDe, 60, kAppleMail},
    {"Élodie Fournier", "elodie@atelier.example", kFr, 60, kThunderbird},
    {"François Lefèvre", "francois.lefevre@example.org", kFr, 60, kOutlook},
    {"Sofía Martínez", "sofia@martinez.example", kEs, 60, kGmail},
    {"Дмитрий Волков", "dmitri@volkov.example", kRu, 180, kThunderbird},
    {"Ольга Петрова", "olga.petrova@example.net", kRu, 180, kOutlook},
    {"田中 花子", "hanako@tanaka.example", kJa, 540, kAppleMail},
    {"佐藤 健", "ken.sato@example.net", kJa, 540, kGmail},
};
const Person kGitLab = {"GitLab", "gitlab@git.example.com", kEn, 0, kBot};
const Person kBilling = {"Hosting Billing", "billing@hosting.example.net", kEn, 60, kBot};
const Person kNews = {"The Weekly Byte", "news@weeklybyte.example", kEn, -300, kBot};
const Person kCi = {"mailkeep CI", "ci@lists.example.org", kEn, 0, kBot};
const char kListAddr[] = "dev@lists.example.org";

const Person& P(Who w) { return kPeople[w]; }

std::string Mailbox(Rng& rng, const Person& p) { return Phrase(rng, p.name) + " <" + p.addr + ">"; }

std::string Domain(const Person& p) {
  std::string a = p.addr;
  return a.substr(a.find('@') + 1);
}

std::string FirstName(const Person& p) {
  std::string n = p.name;
  if (auto c = n.find(", "); c != std::string::npos) return n.substr(c + 2);
  auto sp = n.find(' ');
  if (p.lang == kJa) return n.substr(0, sp) + "さん";
  return n.substr(0, sp);
}

// ---------------------------------------------------------------- text

using Pool = std::span<const char* const>;

const char* const kEnWork[] = {
    "I went through the numbers again and the totals for March still don't add up.",
    "Can you take a look at the draft before Thursday?",
    "The meeting with the facilities team moved to 3pm.",
    "I've attached the latest version; changes are marked in the margin.",
    "Let me know if the new schedule works for you.",
    "We should probably loop in legal before we send anything out.",
    "The vendor confirmed delivery for the second week of the month.",
    "I'll be out of the office on Friday, back Monday morning.",
    "Could we push the review to next week? The test results are not in yet.",
    "The budget request went through, so we can order the extra licences.",
    "Nothing urgent, just wanted to keep you in the loop.",
    "I talked to Priya and she is fine with either option.",
    "The printer on the third floor is broken again, so I'll bring paper copies.",
    "Please ignore my previous message, I had the wrong spreadsheet open.",
    "The customer asked whether we can support exports in CSV as well.",
    "From what I can tell, the migration itself went fine; only the reports are slow.",
    "Room 4.12 is booked for the whole afternoon, so we can run over if needed.",
    "The invoice number on page 2 is wrong, it should be 2022-117, not 2022-171.",
    "I've moved the old files to the archive share (read-only from now on).",
    "Two people from the Lisbon office will join us on the call.",
    "Can you confirm the headcount for the team lunch by Wednesday noon?",
    "The new laptops arrive next week; IT will set them up on Monday.",
    "I'd like to keep the scope small for the first release and add the rest later.",
    "There is a 20% discount if we sign the renewal before the end of the quarter.",
};
const char* const kEnPersonal[] = {
    "Are you free for dinner on Saturday? We were thinking of trying the new Thai place.",
    "The kids loved the museum, thanks again for the tip.",
    "I finally fixed the bike, so I'll ride over on Sunday.",
    "Mum says hello and asks whether you got the photos.",
    "The flight lands at 18:40, no need to pick me up.",
    "We're back from the lake; the weather was perfect all week.",
    "Do you still have the recipe for that lemon cake?",
    "The concert tickets are booked: row 12, seats 5 and 6.",
    "I'm reading the book you recommended and can't put it down.",
    "From the top of the hill you can see all the way to the coast.",
    "Happy to help with the move, just tell me when.",
    "The garden is full of tomatoes again, come and take some.",
    "Let's do a video call at the weekend, the time difference is easier then.",
    "Sorry for the late reply, it has been a busy couple of weeks.",
};
const char* const kEnDev[] = {
    "The build fails on arm64 with g++ 12 because of a missing include.",
    "I can reproduce it with a clean checkout on Debian 12.",
    "Bisecting points at the commit that switched the pack format.",
    "Could you run the test suite with ASan enabled and post the log?",
    "The patch looks good to me, but it needs a test for the empty-input case.",
    "Performance is about 15% better on my machine, numbers below.",
    "I'd rather not add another dependency just for this.",
    "Let's discuss it at the sync call on Wednesday.",
    "From the backtrace it looks like a use-after-free in the tokenizer.",
    "Merged, thanks! It will be in the next release.",
    "We should document this behaviour in the README.",
    "Is there a reason we don't fsync the directory after the rename?",
    "The flaky test only fails when the machine is under heavy load.",
    "I pushed a branch with a possible fix, reviews welcome.",
    "Memory stays flat at about 40 MB even for the 2 GB mbox.",
    "Can we make the error message name the file and the line?",
    "That sounds reasonable, as long as old archives keep working.",
    "The CI runner ran out of disk space again; I cleaned up the caches.",
    "Please keep the public API stable until 1.0.",
    "I'm +1 on the proposal, with one small change to the naming.",
};
const char* const kEnCode[] = {
    "    $ cmake --build build -j8\n    ninja: build stopped: subcommand failed.",
    "    ==12345==ERROR: AddressSanitizer: heap-use-after-free on address 0x602000000010",
    "    $ ./build/tools/mailkeep --archive /tmp/a import ~/Maildir\n    imported 10234, duplicates 12, failed 0",
    "    Program received signal SIGSEGV, Segmentation fault.\n    0x000055555556a1b2 in Tokenizer::Next (this=0x0)",
    "    diff --git a/store/blobs/pack.cc b/store/blobs/pack.cc\n    -  if (n < 0) return;\n    +  if (n <= 0) return;",
};
const char* const kEnFlourish[] = {
    "The café on the corner — the one with the good croissants — is closed until Monday.",
    "Thanks again… really appreciated 🙂",
    "Zoë says the naïve approach was fine after all.",
    "It costs €45 per person, or £40 if you pay in advance.",
    "See you at the “usual place” at 7 – don't be late!",
    "Temperatures were around 30 °C all week, so ±2 °C doesn't matter much.",
};
const char* const kDeText[] = {
    "Anbei findest du die überarbeitete Version des Angebots.",
    "Können wir das Treffen auf nächste Woche verschieben?",
    "Die Rechnung ist heute eingegangen, ich überweise sie morgen.",
    "Viele Grüße aus München, das Wetter ist herrlich.",
    "Ich habe die Änderungen übernommen und die Tabelle aktualisiert.",
    "Für Rückfragen stehe ich gern zur Verfügung.",
    "Die Straßenbahn fällt wegen Bauarbeiten bis Freitag aus.",
    "Schöne Grüße an die ganze Familie!",
    "Das Büro bleibt zwischen den Jahren geschlossen.",
    "Könntest du bitte die Unterlagen bis Donnerstag prüfen?",
    "Der Kostenvoranschlag liegt bei 1.480 € inklusive Mehrwertsteuer.",
    "Wir treffen uns um halb acht vor dem Bahnhof.",
};
const char* const kFrText[] = {
    "Je te remercie pour ton message, c'était très agréable de te revoir.",
    "La réunion de vendredi est déplacée à 14 h, salle Molière.",
    "Peux-tu relire le compte rendu avant qu'on l'envoie ?",
    "Voici le récapitulatif des dépenses pour le mois de décembre.",
    "Nous avons réservé un gîte près d'Annecy pour l'été.",
    "Le café du coin a enfin rouvert, on s'y retrouve à midi ?",
    "N'hésite pas à me dire si quelque chose ne va pas.",
    "Les élèves ont préparé une très belle fête de fin d'année.",
    "J'ai corrigé les fautes dans la présentation, ça devrait être bon.",
    "« Mieux vaut tard que jamais », comme dirait ma grand-mère.",
    "Le devis s'élève à 2 300 euros, hors taxes.",
};
const char* const kEsText[] = {
    "¿Te viene bien que nos veamos el jueves por la mañana?",
    "Adjunto el informe con las correcciones que comentamos.",
    "El viaje a Sevilla fue estupendo, ya te contaré.",
    "Mañana no podré asistir a la reunión, lo siento mucho.",
    "Gracias por la información, la revisaré con calma.",
    "La niña ya habla un poco de alemán, ¡qué rápido aprenden!",
    "El año que viene queremos volver a Galicia.",
};
const char* const kRuText[] = {
    "Спасибо за письмо, всё получил.",
    "Отчёт за третий квартал будет готов к пятнице.",
    "Давай созвонимся завтра после обеда.",
    "Я посмотрел документы, есть несколько вопросов по второй части.",
    "Поздравляю с днём рождения, желаю здоровья и счастья!",
    "Встреча переносится на следующую неделю.",
    "Погода в Москве отличная, приезжайте в гости.",
    "Пришли, пожалуйста, последнюю версию договора.",
    "Счёт оплачен, копию платёжки пришлю вечером.",
};
const char* const kJaText[] = {
    "お疲れさまです。",
    "資料を添付しましたので、ご確認ください。",
    "来週の打ち合わせは水曜日の午後でいかがでしょうか。",
    "東京は今日もとても暑いです。",
    "先日はありがとうございました。",
    "日本語のテキストのテストです。",
    "ご不明な点がありましたら、お気軽にお問い合わせください。",
    "新しいバージョンは来月リリースされる予定です。",
};

enum Topic { kWork, kPersonal, kDev };

Pool PoolFor(Lang lang, Topic topic) {
  switch (lang) {
    case kDe: return kDeText;
    case kFr: return kFrText;
    case kEs: return kEsText;
    case kRu: return kRuText;
    case kJa: return kJaText;
    case kEn: break;
  }
  return topic == kWork ? Pool(kEnWork) : topic == kDev ? Pool(kEnDev) : Pool(kEnPersonal);
}

// A paragraph of `n` different sentences (Japanese: one per line).
std::string Paragraph(Rng& rng, Pool pool, int n, Lang lang, std::vector<size_t>* shared = nullptr) {
  std::vector<size_t> local;
  std::vector<size_t>& used = shared ? *shared : local;
  std::string out;
  for (int i = 0; i < n && used.size() < pool.size(); ++i) {
    size_t k = rng.Below(pool.size());
    while (std::find(used.begin(), used.end(), k) != used.end()) k = (k + 1) % pool.size();
    used.push_back(k);
    if (!out.empty()) out += lang == kJa ? "\n" : " ";
    out += pool[k];
  }
  return out;
}

std::string Greeting(Rng& rng, Lang lang, const std::string& first) {
  switch (lang) {
    case kDe: return rng.Pick({"Hallo ", "Liebe/r ", "Moin "}) + first + ",";
    case kFr: return rng.Pick({"Bonjour ", "Salut ", "Chère/cher "}) + first + ",";
    case kEs: return rng.Pick({"Hola ", "Querida/o "}) + first + ",";
    case kRu: return rng.Pick({"Привет, ", "Здравствуйте, ", "Добрый день, "}) + first + "!";
    case kJa:
      return first + (first.ends_with("さん") ? "" : "さん") + "\n\n" +
             rng.Pick({"お世話になっております。", "こんにちは。"});
    case kEn: break;
  }
  return rng.Pick({"Hi ", "Hello ", "Dear ", "Hey "}) + first + ",";
}

std::string Closing(Rng& rng, Lang lang, const Person& from, Mailer mailer) {
  std::string first = FirstName(from);
  if (lang == kJa) first = std::string(from.name).substr(0, std::string(from.name).find(' '));
  std::string c;
  switch (lang) {
    case kDe: c = rng.Pick({"Viele Grüße", "Liebe Grüße", "Beste Grüße", "Schöne Grüße"}); break;
    case kFr: c = rng.Pick({"Bien cordialement,", "À bientôt,", "Bises,", "Bonne journée,"}); break;
    case kEs: c = rng.Pick({"Saludos,", "Un abrazo,", "Hasta pronto,"}); break;
    case kRu: c = rng.Pick({"С уважением,", "Всего доброго,", "До связи,"}); break;
    case kJa: c = "よろしくお願いいたします。"; break;
    case kEn: c = rng.Pick({"Thanks,", "Cheers,", "Best regards,", "Best,", "Talk soon,"}); break;
  }
  std::string out = c + "\n" + first + "\n";
  if (mailer == kMutt || (mailer == kThunderbird && rng.Chance(40))) {
    // "-- " with its trailing space: the signature separator.
    out += "\n-- \n" + std::string(from.name) + "\n" + from.addr + "\n";
  } else if (mailer == kAppleMail && rng.Chance(50)) {
    out += "\nSent from my iPhone\n";
  }
  return out;
}

// Wraps lines longer than `width` characters at spaces; quoted lines keep
// their "> " prefix on continuation lines.
std::string Wrap(std::string_view text, size_t width = 72) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line(text.substr(pos, eol - pos));
    size_t plen = 0;
    while (plen < line.size() && line[plen] == '>') ++plen;
    if (plen > 0 && plen < line.size() && line[plen] == ' ') ++plen;
    std::string prefix = line.substr(0, plen);
    while (Utf8Length(line) > width) {
      // Byte index of the character at `width`.
      size_t idx = 0, chars = 0;
      while (idx < line.size() && chars < width) {
        ++idx;
        while (idx < line.size() && (static_cast<unsigned char>(line[idx]) & 0xC0) == 0x80) ++idx;
        ++chars;
      }
      size_t sp = line.rfind(' ', idx);
      if (sp == std::string::npos || sp <= plen) break;
      out += line.substr(0, sp) + "\n";
      line = prefix + line.substr(sp + 1);
    }
    out += line;
    if (eol < text.size()) out += "\n";
    pos = eol + 1;
  }
  if (!text.empty() && text.back() == '\n' && (out.empty() || out.back() != '\n')) out += "\n";
  return out;
}

// RFC 3676 format=flowed: soft breaks end in a space; lines that start with
// a space or "From " are space-stuffed.
std::string Flowed(std::string_view text, size_t width = 66) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line(text.substr(pos, eol - pos));
    size_t plen = 0;
    while (plen < line.size() && line[plen] == '>') ++plen;
    std::string prefix = line.substr(0, plen);
    std::string rest = line.substr(plen);
    if (plen > 0 && !rest.empty() && rest[0] == ' ') rest.erase(0, 1);
    if (line == "-- ") {
      out += line + "\n";
      pos = eol + 1;
      continue;
    }
    std::string lead = plen > 0 ? prefix + " " : "";
    while (Utf8Length(rest) > width) {
      size_t sp = rest.rfind(' ', width);
      if (sp == std::string::npos || sp == 0) break;
      std::string piece = rest.substr(0, sp + 1);
      if (plen == 0 && (piece.starts_with("From ") || piece.starts_with(" "))) piece = " " + piece;
      out += lead + piece + "\n";
      rest = rest.substr(sp + 1);
    }
    if (plen == 0 && (rest.starts_with("From ") || rest.starts_with(" "))) rest = " " + rest;
    out += lead + rest + "\n";
    pos = eol + 1;
  }
  return out;
}

std::string HtmlEscape(std::string_view s, bool entities) {
  std::string out;
  for (char32_t c : DecodeUtf8(s)) {
    switch (c) {
      case U'<': out += "&lt;"; break;
      case U'>': out += "&gt;"; break;
      case U'&': out += "&amp;"; break;
      case U'"': out += "&quot;"; break;
      case U'é': out += entities ? "&eacute;" : "é"; break;
      case U'ü': out += entities ? "&uuml;" : "ü"; break;
      case U'—': out += entities ? "&mdash;" : "—"; break;
      case U'€': out += entities ? "&euro;" : "€"; break;
      default:
        if (entities && c >= 0x80) {
          out += "&#" + std::to_string(static_cast<uint32_t>(c)) + ";";
        } else {
          AppendUtf8(out, c);
        }
    }
  }
  return out;
}

// HTML version of a plain text body: paragraphs, <br>, blockquotes.
std::string MakeHtml(Rng& rng, std::string_view text, Mailer mailer) {
  bool entities = rng.Chance(40);
  std::string body;
  bool in_quote = false;
  std::vector<std::string> para;
  auto flush = [&]() {
    if (para.empty()) return;
    body += "<p>" + Join(para, "<br>\n") + "</p>\n";
    para.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    bool quoted = line.starts_with(">");
    if (quoted != in_quote) {
      flush();
      body += quoted ? "<blockquote type=\"cite\">\n" : "</blockquote>\n";
      in_quote = quoted;
    }
    if (quoted) line.remove_prefix(line.size() > 1 && line[1] == ' ' ? 2 : 1);
    if (line.empty()) {
      flush();
    } else {
      std::string l = HtmlEscape(line, entities);
      if (l.starts_with("    ")) l = "<code>" + l + "</code>";
      para.push_back(l);
    }
  }
  flush();
  if (in_quote) body += "</blockquote>\n";
  std::string style = mailer == kOutlook ? "<style><!--\np.MsoNormal {margin:0cm; font-size:11.0pt; "
                                           "font-family:\"Calibri\",sans-serif;}\n--></style>\n"
                                         : "";
  return "<!DOCTYPE html>\n<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; "
         "charset=UTF-8\">\n" +
         style + "</head>\n<body style=\"font-family: Helvetica, Arial, sans-serif;\">\n" + body + "</body>\n</html>\n";
}

// ---------------------------------------------------------------- generated binaries

uint32_t Crc32(std::string_view data) {
  static uint32_t table[256];
  static bool ready = false;
  if (!ready) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    ready = true;
  }
  uint32_t c = 0xFFFFFFFFu;
  for (char ch : data) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

void Be32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xFF);
}

// A real, valid PNG: an RGB gradient with a few random dots, stored
// (uncompressed) deflate blocks.
std::string MakePng(Rng& rng, uint32_t w, uint32_t h) {
  std::string pixels;
  for (uint32_t y = 0; y < h; ++y) {
    pixels += '\0';  // filter: none
    for (uint32_t x = 0; x < w; ++x) {
      bool dot = rng.Chance(3);
      pixels += static_cast<char>(dot ? 255 : x * 255 / w);
      pixels += static_cast<char>(dot ? 255 : y * 255 / h);
      pixels += static_cast<char>(dot ? 255 : 160);
    }
  }
  std::string z = "\x78\x01";
  for (size_t i = 0; i < pixels.size(); i += 65535) {
    size_t n = std::min<size_t>(65535, pixels.size() - i);
    z += static_cast<char>(i + n == pixels.size() ? 1 : 0);
    z += static_cast<char>(n & 0xFF);
    z += static_cast<char>(n >> 8);
    z += static_cast<char>(~n & 0xFF);
    z += static_cast<char>((~n >> 8) & 0xFF);
    z += pixels.substr(i, n);
  }
  uint32_t a = 1, b = 0;
  for (char ch : pixels) {
    a = (a + static_cast<unsigned char>(ch)) % 65521;
    b = (b + a) % 65521;
  }
  Be32(z, (b << 16) | a);
  std::string png = "\x89PNG\r\n\x1a\n";
  auto chunk = [&](const char* type, const std::string& data) {
    Be32(png, static_cast<uint32_t>(data.size()));
    std::string td = std::string(type) + data;
    png += td;
    Be32(png, Crc32(td));
  };
  std::string ihdr;
  Be32(ihdr, w);
  Be32(ihdr, h);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);
  chunk("IHDR", ihdr);
  chunk("IDAT", z);
  chunk("IEND", "");
  return png;
}

// A small valid PDF (one page of Helvetica text) with a correct xref table.
std::string MakePdf(const std::vector<std::string>& lines) {
  std::string content = "BT\n/F1 14 Tf\n72 770 Td\n18 TL\n";
  for (const auto& l : lines) {
    std::string esc;
    for (char c : l) {
      if (c == '(' || c == ')' || c == '\\') esc += '\\';
      esc += c;
    }
    content += "(" + esc + ") Tj T*\n";
  }
  content += "ET\n";
  std::vector<std::string> objs = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "endstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
  };
  std::string pdf = "%PDF-1.4\n%\xE2\xE3\xCF\xD3\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objs.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objs[i] + "\nendobj\n";
  }
  size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objs.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) pdf += Fmt("%010zu 00000 n \n", off);
  pdf += "trailer\n<< /Size " + std::to_string(objs.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

std::string MakeCsv(Rng& rng, int rows) {
  std::string csv = "date,item,quantity,amount\n";
  const char* const items[] = {"Licences", "Travel", "Catering", "Hardware", "Consulting", "\"Books, misc\""};
  for (int i = 0; i < rows; ++i) {
    int month = rng.Range(1, 12);
    int day = rng.Range(1, 28);
    const char* item = rng.Pick(items);
    int quantity = rng.Range(1, 20);
    int euros = rng.Range(10, 4000);
    int cents = rng.Range(0, 99);
    csv += Fmt("2023-%02d-%02d,%s,%d,%d.%02d\n", month, day, item, quantity, euros, cents);
  }
  return csv;
}

std::string MakeIcs(const std::string& summary, int64_t start, const Person& organizer, const std::string& uid) {
  Civil s = ToCivil(start), e = ToCivil(start + 3600);
  auto stamp = [](const Civil& c) { return Fmt("%lld%02u%02uT%02u%02u00Z", static_cast<long long>(c.y), c.m, c.d, c.hh, c.mi); };
  std::string ics = "BEGIN:VCALENDAR\nPRODID:-//mailkeep sample//EN\nVERSION:2.0\nMETHOD:REQUEST\nBEGIN:VEVENT\n";
  ics += "UID:" + uid + "\nDTSTAMP:" + stamp(s) + "\nDTSTART:" + stamp(s) + "\nDTEND:" + stamp(e) + "\n";
  ics += "SUMMARY:" + summary + "\nLOCATION:Room 4.12\nORGANIZER;CN=" + std::string(organizer.name) + ":mailto:" +
         organizer.addr + "\nATTENDEE;RSVP=TRUE;CN=Robin Keller:mailto:" + kOwner.addr + "\n";
  ics += "END:VEVENT\nEND:VCALENDAR\n";
  return ics;  // LF; callers convert to CRLF where it is sent as is
}

// ---------------------------------------------------------------- MIME assembly

struct Entity {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  void Add(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  std::string Render() const {
    std::string out;
    for (const auto& [n, v] : headers) out += HeaderLine(n, v);
    return out + "\n" + body;
  }
};

std::string Boundary(Rng& rng, Mailer m) {
  switch (m) {
    case kThunderbird: return "------------" + rng.Alnum(24);
    case kOutlook: return "_000_" + rng.Hex(32, true) + "_";
    case kAppleMail: return "Apple-Mail=_" + rng.Uuid(true);
    case kMutt: return rng.Alnum(16);
    case kGmail: return "000000000000" + rng.Hex(16);
    case kBot: return "==_mimepart_" + rng.Hex(24);
  }
  return "b";
}

std::string Multipart(Rng& rng, Entity& e, const std::string& subtype, Mailer m, const std::vector<std::string>& parts,
                      const std::string& extra_params = "") {
  std::string b = Boundary(rng, m);
  e.Add("Content-Type", "multipart/" + subtype + ";" + (m == kOutlook ? "\n\t" : " ") + "boundary=\"" + b + "\"" +
                            extra_params);
  std::string body;
  if (m == kThunderbird || m == kBot) body += "This is a multi-part message in MIME format.\n";
  for (const auto& p : parts) {
    body += "--" + b + "\n" + p;
    if (m == kThunderbird || m == kAppleMail) body += "\n";
  }
  body += "--" + b + "--\n";
  e.body = body;
  return b;
}

std::string CharsetToken(Rng& rng, const std::string& cs) {
  std::string upper;
  for (char c : cs) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  int r = static_cast<int>(rng.Below(10));
  if (r < 4) return cs;
  if (r < 8) return upper;
  return "\"" + cs + "\"";
}

// A text/* leaf: converts `utf8` to `charset` and applies `cte`.
std::string TextPart(Rng& rng, const std::string& subtype, const std::string& utf8, const std::string& charset,
                     const std::string& cte, const std::string& extra = "") {
  Entity e;
  e.Add("Content-Type", "text/" + subtype + "; charset=" + CharsetToken(rng, charset) + extra);
  e.Add("Content-Transfer-Encoding", cte);
  std::string bytes = Convert(utf8, charset);
  if (cte == "quoted-printable") {
    e.body = QuotedPrintable(bytes);
  } else if (cte == "base64") {
    e.body = Base64(ToCrlf(bytes));
  } else {
    e.body = bytes;
  }
  return e.Render();
}

struct Attachment {
  std::string type;      // e.g. "application/pdf"
  std::string filename;  // UTF-8
  std::string data;      // raw bytes (message/rfc822: the whole message)
  std::string cte = "base64";
  bool inline_disposition = false;
  bool continuations = false;  // RFC 2231 filename*0*=...; filename*1*=...
};

std::string AttachmentPart(Rng& rng, const Attachment& a, Mailer m) {
  Entity e;
  std::string disp = a.inline_disposition ? "inline" : "attachment";
  bool ascii = IsAscii(a.filename);
  std::string ctype = a.type;
  if (!a.filename.empty()) {
    if (ascii) {
      ctype += "; name=\"" + a.filename + "\"";
    } else if (m == kOutlook || m == kGmail || m == kThunderbird) {
      // Encoded words inside a quoted parameter: not standard, very common.
      ctype += "; name=\"" + Join(EncodedWords(a.filename, "UTF-8", m == kOutlook ? 'B' : 'Q'), " ") + "\"";
    }
    if (ascii) {
      // A token needs no quotes; most mailers quote anyway.
      bool token = a.filename.find_first_of(" ()<>@,;:\\\"/[]?=") == std::string::npos;
      disp += token && rng.Chance(30) ? "; filename=" + a.filename : "; filename=\"" + a.filename + "\"";
    } else if (a.continuations) {
      std::string enc = Pct(a.filename);
      size_t n = 0;
      for (size_t i = 0; i < enc.size(); ++n) {
        size_t len = std::min<size_t>(30, enc.size() - i);
        // Never split a %XX escape.
        while (len < enc.size() - i && (enc[i + len - 1] == '%' || (len >= 2 && enc[i + len - 2] == '%'))) ++len;
        disp += ";\n filename*" + std::to_string(n) + "*=" + (n == 0 ? "UTF-8''" : "") + enc.substr(i, len);
        i += len;
      }
    } else {
      disp += ";\n filename*=UTF-8''" + Pct(a.filename);
    }
  }
  e.Add("Content-Type", ctype);
  e.Add("Content-Disposition", disp);
  if (a.type != "message/rfc822" || a.cte != "7bit") e.Add("Content-Transfer-Encoding", a.cte);
  e.body = a.cte == "base64" ? Base64(a.data) : a.cte == "quoted-printable" ? QuotedPrintable(a.data) : a.data;
  if (!e.body.empty() && e.body.back() != '\n') e.body += "\n";
  return e.Render();
}

enum Kind {
  kAscii, kUtf8Bit8, kUtf8Qp, kUtf8B64, kLatin1Qp, kLatin1Bit8, kCp1252Qp, kKoi8r, kCp1251Qp, kCp1251B64, kJis,
  kFlowedKind, kAlt, kHtmlOnly
};

struct Spec {
  const Person* from = nullptr;
  std::vector<const Person*> to, cc;
  std::string to_raw, cc_raw;  // used instead of to/cc when set (groups etc.)
  int64_t t = 0;
  DateStyle date_style = kDateNormal;
  std::string subject;  // UTF-8
  Lang lang = kEn;
  Kind kind = kAscii;
  std::string mid;  // without <>
  std::string in_reply_to;
  std::vector<std::string> refs;
  std::string text;  // UTF-8, logical lines (wrapped here)
  std::string html;  // for kAlt/kHtmlOnly when not derived from text
  std::vector<Attachment> atts;
  bool incoming = true;
  bool list = false;
  bool raw_utf8_headers = false;  // RFC 6532 style: UTF-8 straight in the header
  bool no_mime = false;           // no MIME-Version / Content-Type at all
  std::vector<std::pair<std::string, std::string>> extra;
};

std::string MessageId(Rng& rng, const Person& p, int64_t t) {
  std::string d = Domain(p);
  switch (p.mailer) {
    case kThunderbird: return rng.Uuid(false) + "@" + d;
    case kOutlook: {
      std::string id = "AM6PR10MB" + rng.Digits(4);
      id += rng.Hex(16, true);
      return id + "@AM6PR10MB" + rng.Digits(4) + ".mail." + d;
    }
    case kAppleMail: return rng.Uuid(true) + "@" + d;
    case kMutt: {
      Civil c = ToCivil(t);
      return Fmt("%lld%02u%02u%02u%02u%02u.", static_cast<long long>(c.y), c.m, c.d, c.hh, c.mi, c.ss) +
             rng.Alnum(10) + "@" + d;
    }
    case kGmail: return "CA" + rng.Alnum(38) + "@mail.gmail.example";
    case kBot: return rng.Hex(20) + ".notification@" + d;
  }
  return rng.Hex(16) + "@" + d;
}

std::string ReceivedHeader(Rng& rng, const Person& from, const std::string& rcpt, int64_t t) {
  std::string host = "mail." + Domain(from);
  const char* net = rng.Pick({"192.0.2", "198.51.100", "203.0.113"});
  std::string ip = Fmt("%s.%d", net, rng.Range(2, 254));
  std::string id = rng.Alnum(12);
  int delay = rng.Range(2, 40);
  return "from " + host + " (" + host + " [" + ip + "])\n\tby mx1.example.com (Postfix) with ESMTPS id " + id +
         "\n\tfor <" + rcpt + ">; " + MailDate(t + delay, 60, kDateComment);
}

std::string AddressList(Rng& rng, const std::vector<const Person*>& v, bool raw_utf8) {
  std::vector<std::string> out;
  for (const Person* p : v) {
    if (raw_utf8) {
      out.push_back(std::string(p->name) + " <" + p->addr + ">");
    } else if (rng.Chance(8)) {
      out.push_back(p->addr);
    } else {
      out.push_back(Mailbox(rng, *p));
    }
  }
  return Join(out, ", ");
}

// Builds a whole message (LF line endings).
std::string Build(Rng& rng, const Spec& s) {
  const Person& f = *s.from;
  Mailer m = f.mailer;
  Entity e;
  if (s.incoming) {
    e.Add("Return-Path", std::string("<") + f.addr + ">");
    std::string rcpt = s.list ? kOwner.addr : s.to.empty() ? kOwner.addr : s.to.front()->addr;
    e.Add("Received", ReceivedHeader(rng, f, rcpt, s.t));
  }
  auto add_ids = [&]() {
    e.Add("Message-ID", "<" + s.mid + ">");
    if (!s.in_reply_to.empty()) e.Add("In-Reply-To", "<" + s.in_reply_to + ">");
    if (!s.refs.empty()) {
      std::vector<std::string> r;
      for (const auto& x : s.refs) r.push_back("<" + x + ">");
      e.Add("References", Join(r, " "));
    }
  };
  if (m == kThunderbird) add_ids();
  e.Add("Date", MailDate(s.t, f.tz, s.date_style));
  std::string from_hdr = s.raw_utf8_headers ? std::string(f.name) + " <" + f.addr + ">" : Mailbox(rng, f);
  if (s.no_mime) from_hdr = std::string(f.addr) + " (" + f.name + ")";
  e.Add("From", from_hdr);
  std::string to = !s.to_raw.empty() ? s.to_raw : AddressList(rng, s.to, s.raw_utf8_headers);
  if (!to.empty()) e.Add("To", to);
  std::string cc = !s.cc_raw.empty() ? s.cc_raw : AddressList(rng, s.cc, s.raw_utf8_headers);
  if (!cc.empty()) e.Add("Cc", cc);
  e.Add("Subject", s.raw_utf8_headers ? s.subject : Unstructured(rng, s.subject));
  if (m != kThunderbird) add_ids();
  if (s.list) {
    e.Add("List-Id", "Developers <dev.lists.example.org>");
    e.Add("List-Post", "<mailto:dev@lists.example.org>");
    e.Add("List-Unsubscribe", "<https://lists.example.org/mailman/options/dev>,\n <mailto:dev-request@lists.example.org?subject=unsubscribe>");
    e.Add("List-Archive", "<https://lists.example.org/archives/dev/>");
    e.Add("Precedence", "list");
    e.Add("Sender", "\"dev\" <dev-bounces@lists.example.org>");
  }
  for (const auto& [n, v] : s.extra) e.Add(n, v);
  switch (s.no_mime ? kGmail : m) {
    case kThunderbird:
    {
      size_t v = rng.Below(3);
      const char* const rv[] = {"91.0", "102.0", "115.0"};
      const char* const tb[] = {"91.13.0", "102.15.1", "115.6.0"};
      e.Add("User-Agent", std::string("Mozilla/5.0 (X11; Linux x86_64; rv:") + rv[v] + ") Gecko/20100101 Thunderbird/" +
                              tb[v]);
    }
      if (s.lang != kEn) {
        const char* const tags[] = {"en-US", "de-DE", "fr", "es-ES", "ru", "ja"};
        e.Add("Content-Language", tags[s.lang]);
      }
      break;
    case kOutlook:
      e.Add("X-Mailer", "Microsoft Outlook 16.0");
      e.Add("Thread-Index", Base64Raw(rng.Hex(11)));
      break;
    case kAppleMail: e.Add("X-Mailer", "Apple Mail (2.3731.600.7)"); break;
    case kMutt: e.Add("User-Agent", "NeoMutt/20220429"); break;
    case kGmail: break;
    case kBot: e.Add("Auto-Submitted", "auto-generated"); break;
  }
  if (s.no_mime) {
    e.body = Wrap(s.text);
    return e.Render();
  }
  e.Add("MIME-Version", m == kAppleMail ? "1.0 (Mac OS X Mail 16.0 \\(3731.600.7\\))" : "1.0");

  std::string text = Wrap(s.text);
  std::string charset = "utf-8", cte = "8bit", extra;
  switch (s.kind) {
    case kAscii: charset = IsAscii(text) ? "us-ascii" : "utf-8"; cte = IsAscii(text) ? "7bit" : "8bit"; break;
    case kUtf8Bit8: break;
    case kUtf8Qp: cte = "quoted-printable"; break;
    case kUtf8B64: cte = "base64"; break;
    case kLatin1Qp:
    case kLatin1Bit8:
      if (Representable(text, ToLatin1)) charset = "iso-8859-1";
      cte = s.kind == kLatin1Qp || charset == "utf-8" ? "quoted-printable" : "8bit";
      break;
    case kCp1252Qp:
      if (Representable(text, ToCp1252)) charset = "windows-1252";
      cte = "quoted-printable";
      break;
    case kKoi8r: charset = "koi8-r"; break;
    case kCp1251Qp: charset = "windows-1251"; cte = "quoted-printable"; break;
    case kCp1251B64: charset = "windows-1251"; cte = "base64"; break;
    case kJis: charset = "iso-2022-jp"; cte = "7bit"; break;
    case kFlowedKind:
      text = Flowed(s.text);
      extra = "; format=flowed";
      cte = rng.Chance(50) ? "8bit" : "quoted-printable";
      break;
    case kAlt:
      cte = rng.Chance(60) ? "quoted-printable" : "8bit";
      if (IsAscii(text)) cte = "7bit";
      break;
    case kHtmlOnly: break;
  }
  std::string html = s.html.empty() ? MakeHtml(rng, s.text, m) : s.html;
  std::string body_part;
  if (s.kind == kAlt) {
    Entity alt;
    Multipart(rng, alt, "alternative", m,
              {TextPart(rng, "plain", text, charset, cte), TextPart(rng, "html", html, "utf-8", "quoted-printable")});
    body_part = alt.Render();
    if (s.atts.empty()) {
      e.headers.push_back(alt.headers[0]);
      e.body = alt.body;
      return e.Render();
    }
  } else if (s.kind == kHtmlOnly) {
    body_part = TextPart(rng, "html", html, "utf-8", "quoted-printable");
  } else {
    body_part = TextPart(rng, "plain", text, charset, cte, extra);
  }
  if (s.atts.empty()) {
    // A single part: its headers go into the message header.
    Entity leaf;
    size_t split = body_part.find("\n\n");
    std::string head = body_part.substr(0, split + 1);
    size_t p = 0;
    while (p < head.size()) {
      size_t eol = head.find('\n', p);
      std::string line = head.substr(p, eol - p);
      size_t colon = line.find(':');
      e.Add(line.substr(0, colon), line.substr(colon + 2));
      p = eol + 1;
    }
    e.body = body_part.substr(split + 2);
    return e.Render();
  }
  std::vector<std::string> parts = {body_part};
  for (const auto& a : s.atts) parts.push_back(AttachmentPart(rng, a, m));
  Multipart(rng, e, "mixed", m, parts);
  return e.Render();
}

// ---------------------------------------------------------------- the mailbox

struct Stored {
  std::string raw;
  int64_t t = 0;
  std::string flags;   // Maildir info letters after ":2,"
  bool is_new = false; // new/ instead of cur/
  std::string envelope; // mbox From_ sender
};

// What later replies need to know about a message.
struct Sent {
  std::string mid;
  std::vector<std::string> refs;
  std::string subject;
  std::string text;
  const Person* from = nullptr;
  std::vector<const Person*> to;
  int64_t t = 0;
  Lang lang = kEn;
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  void Run() {
    Specials();
    Conversations();
    Notifications();
    DevList();
    SentExtra();
    Archive2023();
    OldMbox();
    Fill(inbox_, 86, UnixTime(2022, 1, 3), UnixTime(2024, 12, 18), kPersonal);
    Fill(archive_, 40, UnixTime(2023, 1, 2), UnixTime(2023, 12, 29), kWork);
    // The most recent INBOX messages are still unread in new/.
    std::stable_sort(inbox_.begin(), inbox_.end(), [](const Stored& a, const Stored& b) { return a.t < b.t; });
    for (size_t i = inbox_.size() - 8; i < inbox_.size(); ++i) {
      inbox_[i].is_new = true;
      inbox_[i].flags.clear();
    }
  }

  int Write(const fs::path& out) {
    fs::path md = out / "Maildir";
    fs::path mbox = out / "old-mail.mbox";
    if (fs::exists(md) || fs::exists(mbox)) {
      std::cerr << "make_sample_mail: " << md.string() << " or " << mbox.string()
                << " already exists; remove it or choose another directory\n";
      return 1;
    }
    int n = 0;
    uint64_t bytes = 0;
    WriteFolder(md, inbox_, n, bytes, false);
    WriteFolder(md / ".Sent", sent_, n, bytes, true);
    WriteFolder(md / ".Lists.dev", lists_, n, bytes, true);
    WriteFolder(md / ".Archive.2023", archive_, n, bytes, true);
    std::string data;
    int quoted = 0;
    for (const auto& s : mbox_) quoted += AppendMboxrd(data, s);
    WriteFile(mbox, data, mbox_.back().t);
    std::cout << "make_sample_mail: wrote " << n << " messages to " << md.string() << " (INBOX " << inbox_.size()
              << " [" << std::count_if(inbox_.begin(), inbox_.end(), [](const Stored& s) { return s.is_new; })
              << " in new/], .Sent " << sent_.size() << ", .Lists.dev " << lists_.size() << ", .Archive.2023 "
              << archive_.size() << "; " << bytes << " bytes) and " << mbox_.size() << " messages to "
              << mbox.string() << " (mboxrd, " << quoted << " \">From \" lines, " << data.size()
              << " bytes; 1 message also in the Maildir)\n";
    return 0;
  }

 private:
  // ---- helpers

  const Person& Somebody(std::initializer_list<Who> who) {
    return P(*(who.begin() + rng_.Below(who.size())));
  }

  static std::string BaseSubject(const std::string& s) {
    std::string b = s;
    for (bool again = true; again;) {
      again = false;
      for (std::string_view p : {"Re: ", "RE: ", "AW: ", "Fwd: "}) {
        if (std::string_view(b).starts_with(p)) {
          b.erase(0, p.size());
          again = true;
        }
      }
    }
    return b;
  }

  std::string ReplySubject(const std::string& s, const Person& from) {
    std::string base = BaseSubject(s);
    if (from.mailer == kOutlook) return (from.lang == kDe ? "AW: " : "RE: ") + base;
    return "Re: " + base;
  }

  Kind KindFor(Lang lang, Mailer m) {
    int r = static_cast<int>(rng_.Below(100));
    switch (lang) {
      case kDe:
      case kFr:
      case kEs:
        return r < 35 ? kLatin1Qp : r < 50 ? kLatin1Bit8 : r < 65 ? kUtf8Bit8 : r < 75 ? kCp1252Qp : kAlt;
      case kRu: return r < 30 ? kKoi8r : r < 50 ? kCp1251Qp : r < 60 ? kCp1251B64 : r < 80 ? kUtf8Bit8 : kAlt;
      case kJa: return r < 40 ? kUtf8B64 : r < 70 ? kUtf8Bit8 : kAlt;
      case kEn: break;
    }
    if (m == kOutlook || m == kGmail || m == kAppleMail) return r < 70 ? kAlt : r < 85 ? kUtf8Qp : kAscii;
    if (m == kMutt) return r < 80 ? kAscii : kUtf8Bit8;
    return r < 30 ? kAscii : r < 55 ? kUtf8Bit8 : r < 70 ? kFlowedKind : r < 80 ? kUtf8Qp : kAlt;
  }

  std::string Compose(Lang lang, Topic topic, const Person& from, const Person& to, int paragraphs = 0) {
    Pool pool = PoolFor(lang, topic);
    if (paragraphs == 0) paragraphs = rng_.Range(1, 3);
    std::string text = Greeting(rng_, lang, FirstName(to)) + "\n\n";
    std::vector<size_t> used;  // no sentence twice in one message
    for (int i = 0; i < paragraphs && used.size() < pool.size(); ++i) {
      text += Paragraph(rng_, pool, rng_.Range(1, 4), lang, &used);
      if (lang == kEn && i == 0 && rng_.Chance(25)) text += " " + std::string(rng_.Pick(kEnFlourish));
      if (lang == kEn && topic == kDev && rng_.Chance(30)) text += "\n\n" + std::string(rng_.Pick(kEnCode));
      text += "\n\n";
    }
    return text + Closing(rng_, lang, from, from.mailer);
  }

  std::string Attribution(const Sent& parent, const Person& replier) {
    Civil c = ToCivil(parent.t + replier.tz * 60);
    std::string who = std::string(parent.from->name);
    switch (replier.lang) {
      case kDe: return Fmt("Am %02u.%02u.%lld um %02u:%02u schrieb ", c.d, c.m, static_cast<long long>(c.y), c.hh, c.mi) + who + ":";
      case kFr:
        return Fmt("Le %u/%02u/%lld à %02u:%02u, ", c.d, c.m, static_cast<long long>(c.y), c.hh, c.mi) + who + " a écrit :";
      case kEs: return Fmt("El %u/%u/%lld a las %02u:%02u, ", c.d, c.m, static_cast<long long>(c.y), c.hh, c.mi) + who + " escribió:";
      case kRu: return Fmt("%02u.%02u.%lld %02u:%02u, ", c.d, c.m, static_cast<long long>(c.y), c.hh, c.mi) + who + " пишет:";
      case kJa: return Fmt("%lld年%u月%u日 %02u:%02u ", static_cast<long long>(c.y), c.m, c.d, c.hh, c.mi) + who + " <" + parent.from->addr + ">:";
      case kEn: break;
    }
    return "On " + MailDate(parent.t, replier.tz) + ", " + who + " <" + parent.from->addr + "> wrote:";
  }

  static std::string Quote(const std::string& text, size_t max_lines = 14) {
    std::string out;
    size_t pos = 0, n = 0;
    std::string wrapped = Wrap(text, 70);
    while (pos < wrapped.size() && n < max_lines) {
      size_t eol = wrapped.find('\n', pos);
      if (eol == std::string::npos) eol = wrapped.size();
      std::string line = wrapped.substr(pos, eol - pos);
      if (line == "-- ") break;  // signatures are not quoted
      out += (line.empty() || line[0] == '>') ? ">" + line + "\n" : "> " + line + "\n";
      pos = eol + 1;
      ++n;
    }
    while (out == ">\n" || out.ends_with("\n>\n")) out.erase(out.size() - 2);
    if (pos < wrapped.size() && n == max_lines) out += "> [...]\n";
    return out;
  }

  // A reply to `parent` from `from`: quoting style follows the mailer.
  std::string ReplyText(const Sent& parent, const Person& from, Topic topic, const Person& to) {
    std::string mine = Compose(parent.lang, topic, from, to, rng_.Range(1, 2));
    if (from.mailer == kOutlook) {
      return mine + "\n-----Original Message-----\nFrom: " + parent.from->name + " <" + parent.from->addr +
             ">\nSent: " + MailDate(parent.t, from.tz) + "\nSubject: " + parent.subject + "\n\n" + Wrap(parent.text);
    }
    if (topic == kDev || from.mailer == kMutt) {
      // Bottom posting: quote first, answer below.
      return Attribution(parent, from) + "\n" + Quote(parent.text, 8) + "\n" + mine;
    }
    return mine + "\n" + Attribution(parent, from) + "\n" + Quote(parent.text);
  }

  Sent Remember(const Spec& s) {
    Sent r;
    r.mid = s.mid;
    r.refs = s.refs;
    r.subject = s.subject;
    r.text = s.text;
    r.from = s.from;
    r.to = s.to;
    r.t = s.t;
    r.lang = s.lang;
    return r;
  }

  void ReplyFields(Spec& s, const Sent& parent) {
    s.in_reply_to = parent.mid;
    s.refs = parent.refs;
    s.refs.push_back(parent.mid);
    if (s.refs.size() > 12) s.refs.erase(s.refs.begin() + 1, s.refs.end() - 11);
    s.subject = ReplySubject(parent.subject, *s.from);
  }

  Spec NewSpec(const Person& from, std::vector<const Person*> to, int64_t t, const std::string& subject, Lang lang,
               Topic topic, bool incoming) {
    Spec s;
    s.from = &from;
    s.to = std::move(to);
    s.t = t;
    s.subject = subject;
    s.lang = lang;
    s.kind = KindFor(lang, from.mailer);
    s.mid = MessageId(rng_, from, t);
    s.incoming = incoming;
    s.text = Compose(lang, topic, from, *s.to.front());
    if (rng_.Chance(6)) s.date_style = static_cast<DateStyle>(rng_.Below(6));
    return s;
  }

  static std::string Flags(Rng& rng) {
    int r = static_cast<int>(rng.Below(100));
    return r < 62 ? "S" : r < 80 ? "RS" : r < 90 ? "FS" : r < 94 ? "FRS" : "";
  }

  void Put(std::vector<Stored>& folder, const Spec& s, std::string flags, bool crlf = false) {
    std::string raw = Build(rng_, s);
    folder.push_back({crlf ? ToCrlf(raw) : raw, s.t, std::move(flags), false, s.from->addr});
  }

  Attachment Pdf(const std::string& name, const std::vector<std::string>& lines) {
    return {"application/pdf", name, MakePdf(lines)};
  }
  Attachment Png(const std::string& name) {
    auto w = static_cast<uint32_t>(rng_.Range(24, 48));
    auto h = static_cast<uint32_t>(rng_.Range(16, 32));
    return {"image/png", name, MakePng(rng_, w, h)};
  }

  // ---- the hand-written specials (fixed Message-IDs)

  void Specials() {
    // 1. A forwarded message (message/rfc822) with an invoice PDF inside and
    //    an RFC 2231 named .txt attachment next to it. The demo shows this one.
    {
      const Person& j = P(kJuergen);
      const Person& l = P(kLena);
      Spec inner;
      inner.from = &j;
      inner.to = {&l};
      inner.t = UnixTime(2022, 9, 14, 7, 42, 5);
      inner.subject = "Rechnung Nr. 2022-117 – Reparatur Lieferwagen";
      inner.lang = kDe;
      inner.kind = kLatin1Qp;
      inner.mid = "rechnung-2022-117.werkstatt@werkstatt.example";
      inner.text =
          "Sehr geehrte Frau Fischer,\n\nanbei erhalten Sie unsere Rechnung Nr. 2022-117 über die Reparatur "
          "Ihres Lieferwagens (Kennzeichen M-KL 4711). Wir haben die Bremsbeläge vorne erneuert, die Ölwanne "
          "abgedichtet und die Hauptuntersuchung durchgeführt.\n\nBitte überweisen Sie den Betrag von 1.284,50 "
          "Euro innerhalb von 14 Tagen auf das unten genannte Konto. Für Rückfragen stehe ich Ihnen gern zur "
          "Verfügung.\n\nMit freundlichen Grüßen\nJürgen Groß\nKfz-Werkstatt Groß & Söhne\nMünchener Straße 12\n";
      inner.atts.push_back(Pdf("Rechnung_2022-117.pdf",
                               {"Kfz-Werkstatt Gross & Soehne", "Rechnung Nr. 2022-117", "Datum: 14.09.2022", "",
                                "Bremsbelaege vorne erneuert      412,00 EUR", "Oelwanne abgedichtet             318,50 EUR",
                                "Hauptuntersuchung                146,00 EUR", "Arbeitszeit 3,5 h                408,00 EUR",
                                "", "Summe                          1.284,50 EUR"}));
      std::string inner_raw = Build(rng_, inner);

      Spec s;
      s.from = &l;
      s.to = {&kOwner};
      s.cc = {&P(kBen)};
      s.t = UnixTime(2022, 9, 15, 6, 30, 12);
      s.subject = "Fwd: Rechnung Nr. 2022-117 – Reparatur Lieferwagen";
      s.lang = kDe;
      s.kind = kUtf8Bit8;
      s.mid = "fwd-invoice-2022-117@example.com";
      s.text =
          "Hi Robin,\n\nanbei die Rechnung von der Werkstatt für den Lieferwagen. Kannst du die bitte freigeben? "
          "Meine Prüfnotizen hänge ich als Textdatei an – zwei Positionen sind teurer als im Kostenvoranschlag "
          "(412 € statt 380 € für die Bremsbeläge).\n\nGrüße\nLena\n";
      s.atts.push_back({"message/rfc822", "Rechnung Nr. 2022-117.eml", inner_raw, "7bit"});
      s.atts.push_back({"text/plain; charset=UTF-8", "Prüfnotizen Lena – Rechnung 2022-117 (Werkstatt Groß).txt",
                        "Position             KVA      Rechnung   Differenz\nBremsbeläge vorne    380,00   412,00     "
                        "+32,00 €\nÖlwanne              318,50   318,50       0,00 €\nHU                   146,00   "
                        "146,00       0,00 €\n\nFazit: Rückfrage wegen Bremsbelägen, sonst okay. – Lena\n",
                        "quoted-printable", false, true});
      Put(inbox_, s, "RS");
    }
    // 2. A photo (real PNG) shared with friends.
    {
      Spec s = NewSpec(P(kGrace), {&kOwner}, UnixTime(2023, 6, 3, 17, 5, 44), "Sunset from the ferry", kEn, kPersonal,
                       true);
      s.mid = "sunset-photo-2023@example.net";
      s.kind = kAlt;
      s.atts.push_back(Png("IMG_4821.png"));
      s.atts.back().inline_disposition = true;
      Put(inbox_, s, "FS");
    }
    // 3. Japanese: UTF-8 B subject "日本語", base64 body, RFC 2231 file name.
    {
      Spec s = NewSpec(P(kHanako), {&kOwner}, UnixTime(2024, 2, 20, 1, 15, 0), "日本語の資料について", kJa, kWork, true);
      s.mid = "nihongo-shiryou-2024@tanaka.example";
      s.kind = kUtf8B64;
      s.atts.push_back({"text/plain; charset=UTF-8", "資料_2024年2月.txt",
                        "会議の資料\n\n1. 新しいバージョンについて\n2. 東京出張の件\n3. その他\n", "base64"});
      Put(inbox_, s, "S");
    }
    // 4. ISO-2022-JP, kana only, with an ISO-2022-JP encoded subject.
    {
      Spec s;
      s.from = &P(kKen);
      s.to = {&kOwner};
      s.t = UnixTime(2022, 11, 2, 3, 20, 9);
      s.lang = kJa;
      s.kind = kJis;
      s.mid = "iso2022jp-kana-2022@example.net";
      s.subject = "ohayou";  // replaced below with the encoded form
      s.text = "ロビンさん\n\nこんにちは、サトウです。\nメールのテストです。\nありがとうございます！\n\nサトウ\n";
      std::string raw = Build(rng_, s);
      std::string enc = "=?ISO-2022-JP?B?" + Base64Raw(ToIso2022jp("テストメール")) + "?=";
      raw.replace(raw.find("Subject: ohayou"), 15, "Subject: " + enc);
      inbox_.push_back({raw, s.t, "S", false, s.from->addr});
    }
    // 5. Group syntax: a named group with members, and an empty group.
    {
      Spec s = NewSpec(P(kAhmed), {&kOwner}, UnixTime(2023, 3, 7, 9, 0, 0), "Project kickoff: agenda and roles", kEn,
                       kWork, true);
      s.mid = "kickoff-group-2023@example.org";
      s.to_raw = "project-team: Ana Souza <ana.souza@example.com>, ben.okafor@example.com,\n \"O'Brien, Claire\" "
                 "<claire@obrien.example>, Robin Keller <robin.keller@example.com>;";
      s.cc_raw = "observers:;";
      Put(archive_, s, "S");
      Spec u = NewSpec(P(kTom), {&kOwner}, UnixTime(2024, 4, 11, 15, 2, 33), "Reminder: building closed on Friday", kEn,
                       kWork, true);
      u.mid = "undisclosed-2024@example.net";
      u.to_raw = "undisclosed-recipients:;";
      Put(inbox_, u, "S");
    }
    // 6. A long Cc list (folded over several lines, some names encoded).
    {
      std::vector<const Person*> cc = {&P(kAna), &P(kBen), &P(kClaire), &P(kPriya), &P(kZoe), &P(kGrace),
                                       &P(kLena), &P(kElodie), &P(kDmitri), &P(kHanako)};
      Spec s = NewSpec(P(kPriya), {&kOwner}, UnixTime(2024, 5, 28, 8, 12, 40), "Offsite 2024: dates, hotel, travel",
                       kEn, kWork, true);
      s.mid = "offsite-2024-cc@example.com";
      s.cc = cc;
      s.kind = kAlt;
      Put(inbox_, s, "RS");
    }
    // 7. No final newline.
    {
      Spec s;
      s.from = &P(kAna);
      s.to = {&kOwner};
      s.t = UnixTime(2024, 7, 19, 18, 44, 2);
      s.subject = "running late";
      s.kind = kAscii;
      s.mid = "no-final-newline@example.com";
      s.text = "be there in 10 min, start without me\n\nSent from my phone";
      std::string raw = Build(rng_, s);
      while (!raw.empty() && raw.back() == '\n') raw.pop_back();
      inbox_.push_back({raw, s.t, "S", false, s.from->addr});
    }
    // 8. CRLF line endings (whole file), plain and multipart.
    {
      Spec s = NewSpec(P(kBen), {&kOwner}, UnixTime(2022, 4, 4, 10, 31, 7), "Quarterly numbers (CRLF)", kEn, kWork, true);
      s.mid = "crlf-plain-2022@example.com";
      s.kind = kAscii;
      Put(inbox_, s, "S", true);
      Spec a = NewSpec(P(kAhmed), {&kOwner}, UnixTime(2023, 10, 9, 13, 3, 51), "Slides for the all-hands", kEn, kWork,
                       true);
      a.mid = "crlf-alt-2023@example.org";
      a.kind = kAlt;
      a.atts.push_back(Pdf("all-hands.pdf", {"All-hands, October 2023", "", "1. Numbers", "2. Roadmap", "3. Q&A"}));
      Put(inbox_, a, "S", true);
    }
    // 9. A calendar invitation (text/calendar inside multipart/alternative,
    //    plus the .ics as an attachment).
    {
      const Person& b = P(kBen);
      int64_t t = UnixTime(2024, 9, 2, 8, 0, 0);
      std::string ics = MakeIcs("Budget review Q3", t + 3 * 86400 + 3600, b, "budget-q3-2024@example.com");
      Entity alt;
      Multipart(rng_, alt, "alternative", b.mailer,
                {TextPart(rng_, "plain",
                          "Budget review Q3\nWhen: Thursday, 5 September 2024 10:00-11:00 (UTC+01:00)\nWhere: Room "
                          "4.12\n\nPlease bring the updated forecast.\n",
                          "utf-8", "7bit"),
                 TextPart(rng_, "calendar", ics, "utf-8", "base64",
                          "; method=REQUEST")});
      Spec s = NewSpec(b, {&kOwner}, t, "Invitation: Budget review Q3 @ Thu 5 Sep 2024 10:00", kEn, kWork, true);
      s.mid = "invite-budget-q3-2024@example.com";
      Entity outer;
      std::string raw = Build(rng_, s);
      // Replace the generated body by mixed(alternative(plain, calendar), invite.ics).
      size_t hdr_end = raw.find("\nMIME-Version:");
      std::string head = raw.substr(0, hdr_end + 1) + "MIME-Version: 1.0\n";
      Multipart(rng_, outer, "mixed", b.mailer,
                {alt.Render(), AttachmentPart(rng_, {"application/ics", "invite.ics", ToCrlf(ics)}, b.mailer)});
      inbox_.push_back({head + outer.Render(), t, "S", false, b.addr});
    }
    // 10. windows-1252 with the euro sign and typographic quotes.
    {
      Spec s = NewSpec(P(kSofia), {&kOwner}, UnixTime(2023, 11, 23, 19, 9, 59), "Re: Cena de Navidad – precio", kEs,
                       kPersonal, true);
      s.mid = "cp1252-euro-2023@martinez.example";
      s.kind = kCp1252Qp;
      s.text = "Hola Robin,\n\nel menú cuesta 45 € por persona (“todo incluido”, dicen). ¿Te apunto?\n\n"
               "Un abrazo,\nSofía\n";
      Put(archive_, s, "RS");
    }
    // 11. Raw UTF-8 in headers (RFC 6532), as some mailers send.
    {
      Spec s = NewSpec(P(kZoe), {&kOwner}, UnixTime(2024, 1, 14, 11, 0, 5), "Grüße aus Åre ❄️", kEn, kPersonal, true);
      s.mid = "raw-utf8-header-2024@example.org";
      s.raw_utf8_headers = true;
      s.kind = kUtf8Bit8;
      Put(inbox_, s, "S");
    }
    // 12. A Cyrillic message with a KOI8-R encoded subject and KOI8-R body.
    {
      Spec s = NewSpec(P(kDmitri), {&kOwner}, UnixTime(2023, 2, 16, 7, 30, 0), "Отчёт за квартал", kRu, kWork, true);
      s.mid = "koi8r-otchet-2023@volkov.example";
      s.kind = kKoi8r;
      s.atts.push_back({"text/csv", "отчёт_Q4.csv", MakeCsv(rng_, 12), "base64", false, true});
      Put(archive_, s, "S");
    }
  }

  // ---- INBOX <-> Sent conversations

  void Conversations() {
    struct Plan {
      Who who;
      const char* subject;
      Topic topic;
      int replies;
    };
    const Plan plans[] = {
        {kAna, "Dinner on Saturday?", kPersonal, 3},
        {kBen, "Q3 budget review", kWork, 4},
        {kClaire, "Contract renewal", kWork, 2},
        {kPriya, "Customer request: CSV export", kWork, 3},
        {kLena, "Terminverschiebung Montag", kWork, 2},
        {kElodie, "Réunion de vendredi", kWork, 3},
        {kFrancois, "Vacances d'été à Annecy", kPersonal, 2},
        {kOlga, "Договор на подпись", kWork, 2},
        {kMia, "Grüße aus München", kPersonal, 2},
        {kSofia, "Viaje a Sevilla", kPersonal, 2},
        {kKen, "東京出張の件", kWork, 2},
        {kTom, "Travel booking for the Lisbon conference", kWork, 3},
    };
    for (const Plan& p : plans) {
      const Person& them = P(p.who);
      int64_t t = rng_.Range64(UnixTime(2022, 1, 10), UnixTime(2024, 11, 30));
      Spec s = NewSpec(them, {&kOwner}, t, p.subject, them.lang, p.topic, true);
      if (rng_.Chance(25)) s.cc = {&Somebody({kAna, kBen, kPriya, kLena})};
      if (p.topic == kWork && rng_.Chance(30)) {
        s.atts.push_back(rng_.Chance(50) ? Attachment{"text/csv", "numbers.csv", MakeCsv(rng_, 8), "7bit"}
                                         : Pdf("notes.pdf", {p.subject, "", "Draft - do not circulate"}));
      }
      Put(inbox_, s, rng_.Chance(50) ? "RS" : "S");
      Sent last = Remember(s);
      for (int k = 0; k < p.replies; ++k) {
        bool mine = k % 2 == 0;
        const Person& from = mine ? kOwner : them;
        const Person& to = mine ? them : kOwner;
        Spec r;
        r.from = &from;
        r.to = {&to};
        r.cc = s.cc;
        r.t = last.t + rng_.Range(600, 2 * 86400);
        r.lang = them.lang;
        r.kind = KindFor(them.lang, from.mailer);
        r.mid = MessageId(rng_, from, r.t);
        r.incoming = !mine;
        ReplyFields(r, last);
        r.text = ReplyText(last, from, p.topic, to);
        if (mine) {
          Put(sent_, r, "S");
        } else {
          Put(inbox_, r, k + 1 == p.replies ? Flags(rng_) : "RS");
        }
        last = Remember(r);
      }
    }
  }

  // ---- machine mail: GitLab, newsletters, invoices

  void Notifications() {
    for (int i = 0; i < 10; ++i) {
      int64_t t = rng_.Range64(UnixTime(2022, 2, 1), UnixTime(2024, 12, 10));
      std::string sha = rng_.Hex(8);
      bool failed = rng_.Chance(50);
      Spec s;
      s.from = &kGitLab;
      s.to = {&kOwner};
      s.t = t;
      s.kind = kAlt;
      s.mid = MessageId(rng_, kGitLab, t);
      s.subject = std::string("mailkeep | Pipeline #") + std::to_string(4000 + i * 37) + (failed ? " has failed" : " has been fixed") +
                  " for main | " + sha;
      s.text = std::string("Pipeline #") + std::to_string(4000 + i * 37) + (failed ? " has failed!" : " has been fixed!") +
               "\n\nProject: mailkeep\nBranch: main\nCommit: " + sha + "\nCommit Author: " +
               Somebody({kAna, kTom, kPriya, kZoe}).name + "\n\n" +
               (failed ? "Pipeline #" + std::to_string(4000 + i * 37) + " had 1 failed job.\nFailed job: test:asan\n"
                       : "All jobs passed.\n") +
               "\nhttps://git.example.com/mailkeep/mailkeep/-/pipelines/" + std::to_string(4000 + i * 37) + "\n";
      s.extra = {{"X-GitLab-Project", "mailkeep"}, {"X-GitLab-Pipeline-Id", std::to_string(4000 + i * 37)},
                 {"List-Unsubscribe", "<https://git.example.com/-/sent_notifications/" + rng_.Hex(32) + "/unsubscribe>"}};
      Put(inbox_, s, "S");
    }
    for (int i = 0; i < 6; ++i) {
      int64_t t = UnixTime(2022, 3, 1) + static_cast<int64_t>(i) * 86400 * 140 + rng_.Range(0, 86400 * 3);
      const char* topics[] = {"Why your backups are not backups", "SQLite in production, revisited",
                              "Ten years of Maildir", "The joy of boring technology",
                              "Unicode normalization for the rest of us", "Zstandard dictionaries explained"};
      Spec s;
      s.from = &kNews;
      s.to = {&kOwner};
      s.t = t;
      s.kind = i % 2 == 0 ? kHtmlOnly : kAlt;
      s.mid = MessageId(rng_, kNews, t);
      s.subject = "The Weekly Byte #" + std::to_string(112 + i * 20) + ": " + topics[i];
      std::string lead = Paragraph(rng_, kEnDev, 3, kEn);
      std::string also1 = Paragraph(rng_, kEnWork, 1, kEn);
      std::string also2 = Paragraph(rng_, kEnDev, 1, kEn);
      std::string unsubscribe = "https://weeklybyte.example/u/" + rng_.Hex(16);
      std::string article = Paragraph(rng_, kEnDev, 4, kEn);
      std::string read_more = "https://weeklybyte.example/read/" + rng_.Hex(8);
      std::string pixel = "https://weeklybyte.example/o/" + rng_.Hex(12) + ".gif";
      s.text = "THE WEEKLY BYTE #" + std::to_string(112 + i * 20) + "\n\n" + topics[i] + "\n\n" + lead +
               "\n\nAlso this week:\n* " + also1 + "\n* " + also2 +
               "\n\nYou are receiving this because you subscribed at weeklybyte.example.\nUnsubscribe: " +
               unsubscribe + "\n";
      s.html = "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n<html><head><meta charset=\"utf-8\">"
               "<title>The Weekly Byte</title>\n<style type=\"text/css\">body{margin:0;padding:0} .h{font-size:24px;"
               "color:#1a1a1a} td{font-family:Georgia,serif}</style></head>\n<body><table width=\"100%\" "
               "cellpadding=\"0\" cellspacing=\"0\" border=\"0\"><tr><td align=\"center\"><table width=\"600\">"
               "<tr><td class=\"h\">The&nbsp;Weekly&nbsp;Byte #" +
               std::to_string(112 + i * 20) + "</td></tr><tr><td><h1>" + topics[i] + "</h1><p>" +
               HtmlEscape(article, false) + "</p><p><a href=\"" + read_more +
               "\">Read more &rarr;</a></p></td></tr><tr><td style=\"font-size:11px;color:#888\">You are receiving "
               "this because you subscribed. <a href=\"" + unsubscribe +
               "\">Unsubscribe</a> &middot; &copy; 2024 The Weekly Byte</td></tr></table></td></tr>"
               "</table><img src=\"" + pixel + "\" width=\"1\" height=\"1\" alt=\"\"></body></html>\n";
      s.extra = {{"List-Unsubscribe", "<" + unsubscribe + ">"},
                 {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
                 {"Precedence", "bulk"}};
      Put(inbox_, s, rng_.Chance(50) ? "S" : "");
    }
    for (int i = 0; i < 4; ++i) {
      int64_t t = UnixTime(2022 + i % 3, static_cast<unsigned>(1 + (i * 4) % 12), 1, 5, 0, rng_.Range(0, 59));
      std::string no = Fmt("INV-%d-%04d", 2022 + i % 3, 310 + i * 17);
      Spec s;
      s.from = &kBilling;
      s.to = {&kOwner};
      s.t = t;
      s.kind = kAlt;
      s.mid = MessageId(rng_, kBilling, t);
      s.subject = "Your invoice " + no;
      s.text = "Hello Robin Keller,\n\nthank you for your payment. Your invoice " + no +
               " is attached as a PDF.\n\nVPS S (2 vCPU, 4 GB)     12.00 EUR\nBackup space 100 GB      3.50 EUR\nVAT "
               "19%                   2.95 EUR\nTotal                   18.45 EUR\n\nYour hosting team\n";
      s.atts.push_back(Pdf(no + ".pdf", {"Hosting Example GmbH", "Invoice " + no, "", "VPS S         12.00 EUR",
                                         "Backup 100 GB  3.50 EUR", "VAT 19%        2.95 EUR", "Total         18.45 EUR"}));
      Put(inbox_, s, "S");
    }
  }

  // ---- the dev@ mailing list: threads and announcements

  Spec ListSpec(const Person& from, int64_t t, const std::string& subject, Lang lang) {
    Spec s;
    s.from = &from;
    s.to_raw = std::string("Developers <") + kListAddr + ">";
    s.t = t;
    s.subject = subject;
    s.lang = lang;
    s.kind = KindFor(lang, from.mailer);
    if (s.kind == kAlt && rng_.Chance(50)) s.kind = kUtf8Qp;
    s.mid = MessageId(rng_, from, t);
    s.list = true;
    return s;
  }

  void DevList() {
    struct Thread {
      const char* subject;
      Lang lang;
      int size;
    };
    const Thread threads[] = {
        {"Build fails on arm64 with g++ 12", kEn, 6},
        {"RFC: switch pack format to zstd dictionaries", kEn, 8},
        {"Flaky test in catalog_test (WAL checkpoint)", kEn, 4},
        {"Release 0.9.0 planning", kEn, 5},
        {"Proposal: drop support for Debian 11", kEn, 4},
        {"Segfault when importing an empty mbox", kEn, 5},
        {"Memory usage with large attachments", kEn, 3},
        {"Code review guidelines", kEn, 4},
        {"Naming: \"folder\" vs \"mailbox\"", kEn, 3},
        {"Café meetup at FOSDEM?", kEn, 4},
        {"Übersetzung der Fehlermeldungen ins Deutsche", kDe, 3},
        {"Unicode normalization of folder names (NFC vs NFD)", kEn, 5},
        {"Question about the IMAP IDLE timeout", kEn, 2},
    };
    const Who dev_people[] = {kAna, kBen, kPriya, kTom, kGrace, kAhmed, kZoe, kDmitri, kHanako, kElodie};
    for (const Thread& th : threads) {
      int64_t t = rng_.Range64(UnixTime(2020, 3, 1), UnixTime(2024, 10, 31));
      const Person& root_from = th.lang == kDe ? P(kLena) : P(rng_.Pick(dev_people));
      Spec root = ListSpec(root_from, t, "[dev] " + std::string(th.subject), th.lang);
      root.text = Compose(th.lang, kDev, root_from, root_from, rng_.Range(2, 3));
      root.text.replace(0, root.text.find('\n'), th.lang == kDe ? "Hallo zusammen," : "Hi all,");
      Put(lists_, root, Flags(rng_));
      std::vector<Sent> msgs = {Remember(root)};
      for (int k = 1; k < th.size; ++k) {
        // Mostly answer the latest message, sometimes branch off an earlier one.
        const Sent& parent = rng_.Chance(70) ? msgs.back() : msgs[rng_.Below(msgs.size())];
        const Person* pick = rng_.Chance(20) ? &kOwner : &P(rng_.Pick(dev_people));
        if (pick == parent.from) pick = pick == &kOwner ? &P(kAna) : &kOwner;
        const Person& from = *pick;
        Spec r = ListSpec(from, std::max(parent.t, msgs.back().t) + rng_.Range(900, 3 * 86400), "", th.lang);
        if (r.kind == kAlt) r.kind = kUtf8Bit8;
        ReplyFields(r, parent);
        r.subject = "Re: " + BaseSubject(parent.subject);
        r.cc = {parent.from};
        r.text = ReplyText(parent, from, kDev, *parent.from);
        Put(lists_, r, k + 2 >= th.size && rng_.Chance(50) ? "" : "S");
        msgs.push_back(Remember(r));
      }
    }
    // A reply whose parent never reached this mailbox (dangling In-Reply-To).
    {
      Spec r = ListSpec(P(kTom), UnixTime(2021, 5, 6, 14, 0, 0), "Re: [dev] Old thread about pack compaction", kEn);
      r.in_reply_to = "lost-parent-2021@example.net";
      r.refs = {"lost-root-2021@example.net", "lost-parent-2021@example.net"};
      r.text = "> Should we compact packs online or offline?\n\nOffline first, online later. " +
               Paragraph(rng_, kEnDev, 2, kEn) + "\n\nTom\n";
      Put(lists_, r, "S");
    }
    // CI reports and announcements fill the folder up to 72.
    int week = 1;
    while (lists_.size() < 72) {
      int64_t t = UnixTime(2020, 4, 6) + static_cast<int64_t>(lists_.size() % 16) * 86400 * 105 + rng_.Range(0, 86400);
      if (lists_.size() % 5 == 0) {
        Spec s = ListSpec(P(kAna), t, "[dev] [ANN] mailkeep 0." + std::to_string(lists_.size() / 10) + "." +
                                          std::to_string(lists_.size() % 3) + " released",
                          kEn);
        s.kind = kAscii;
        s.text = "Hi all,\n\nmailkeep 0." + std::to_string(lists_.size() / 10) + " is out. Highlights:\n\n";
        for (int k = 0; k < 3; ++k) s.text += "- " + Paragraph(rng_, kEnDev, 1, kEn) + "\n";
        s.text += "\nTarballs and checksums: https://lists.example.org/releases/\n\nThanks to everyone who "
                 "contributed!\nAna\n";
        Put(lists_, s, "S");
      } else {
        Spec s = ListSpec(kCi, t, "[dev] Weekly CI report (week " + std::to_string(week) + ")", kEn);
        s.kind = kAscii;
        std::string table = "job              runs  failed  p50 time\n";
        for (const char* job : {"build:gcc12", "build:clang15", "test:unit", "test:asan", "test:corpus"}) {
          int runs = rng_.Range(20, 80);
          int failed = rng_.Range(0, 4);
          int minutes = rng_.Range(1, 14);
          int seconds = rng_.Range(0, 59);
          table += Fmt("%-16s %4d  %6d  %3dm%02ds\n", job, runs, failed, minutes, seconds);
        }
        s.text = "Weekly CI summary for main.\n\n" + table + "\nFlaky tests this week: " +
                 std::string(rng_.Pick({"none", "catalog_test.WalCheckpoint", "imap_test.IdleTimeout"})) +
                 "\n\n-- \nThis message was generated automatically.\n";
        Put(lists_, s, rng_.Chance(40) ? "" : "S");
        ++week;
      }
    }
  }

  // ---- more Sent mail: new messages by the owner

  void SentExtra() {
    const struct {
      Who to;
      const char* subject;
      Topic topic;
    } plans[] = {
        {kAna, "Photos from the weekend", kPersonal},
        {kBen, "Updated schedule", kWork},
        {kPriya, "Draft agenda for Thursday", kWork},
        {kLena, "Unterlagen für Donnerstag", kWork},
        {kGrace, "Happy birthday!", kPersonal},
        {kElodie, "Café demain ?", kPersonal},
        {kDmitri, "С днём рождения!", kPersonal},
        {kClaire, "Office move - what to pack", kWork},
        {kTom, "Server maintenance window on Sunday", kWork},
        {kZoe, "Concert tickets", kPersonal},
    };
    int i = 0;
    while (sent_.size() < 42) {
      const auto& p = plans[static_cast<size_t>(i) % std::size(plans)];
      const Person& to = P(p.to);
      int64_t t = rng_.Range64(UnixTime(2021, 6, 1), UnixTime(2024, 12, 15));
      std::string subject = i < static_cast<int>(std::size(plans)) ? p.subject
                                                                   : std::string(p.subject) + Fmt(" (%d)", i / 10 + 1);
      Spec s = NewSpec(kOwner, {&to}, t, subject, to.lang, p.topic, false);
      if (i % 7 == 3) s.cc = {&P(kAna), &P(kBen)};
      if (i % 9 == 4) s.atts.push_back(Png("photo-" + std::to_string(i) + ".png"));
      if (i % 11 == 5) s.atts.push_back({"text/plain; charset=UTF-8", "Notizen für München.txt",
                                         "- Hotel buchen\n- Zugtickets (ICE 1001)\n- Geschenk für Mia\n",
                                         "8bit"});
      Put(sent_, s, "S", i == 6);
      ++i;
    }
  }

  // ---- Archive.2023: a year of older mail

  void Archive2023() {
    for (int i = 0; i < 6; ++i) {
      const Person& them = P(static_cast<Who>(rng_.Below(kPeopleCount)));
      int64_t t = rng_.Range64(UnixTime(2023, 1, 5), UnixTime(2023, 12, 10));
      Spec s = NewSpec(them, {&kOwner}, t, them.lang == kEn ? "Quick question about the invoice"
                                             : them.lang == kDe ? "Rechnung März"
                                             : them.lang == kFr ? "Dépenses de décembre"
                                             : them.lang == kRu ? "Вопросы по документам"
                                             : them.lang == kJa ? "先日のお礼"
                                                                : "Informe corregido",
                       them.lang, kWork, true);
      Put(archive_, s, "RS", i == 2);
      // They follow up on their own message.
      Spec r = NewSpec(them, {&kOwner}, t + rng_.Range(3600, 5 * 86400), "", them.lang, kWork, true);
      ReplyFields(r, Remember(s));
      Put(archive_, r, "S");
    }
  }

  // ---- random singles to reach a folder size

  void Fill(std::vector<Stored>& folder, size_t target, int64_t from_t, int64_t to_t, Topic topic) {
    const char* const en_subjects[] = {
        "Team lunch on Friday?", "Printer on the 3rd floor", "Vendor delivery dates", "Onboarding checklist",
        "Holiday plans", "Flight details", "Bike repair", "Book recommendation", "Garden tomatoes",
        "Slides from yesterday", "Question about access rights", "Lemon cake recipe", "Weekend?"};
    while (folder.size() < target) {
      const Person& them = P(static_cast<Who>(rng_.Below(kPeopleCount)));
      int64_t t = rng_.Range64(from_t, to_t);
      std::string subject;
      switch (them.lang) {
        case kDe: subject = rng_.Pick({"Angebot für die Renovierung", "Frohe Weihnachten und einen guten Rutsch!", "Schöne Grüße", "Kurze Frage zur Tabelle"}); break;
        case kFr: subject = rng_.Pick({"Compte rendu du comité", "Fête de fin d'année à l'école", "Petite question", "Devis pour les travaux"}); break;
        case kEs: subject = rng_.Pick({"Reunión del jueves", "¡Feliz cumpleaños!", "Fotos del viaje"}); break;
        case kRu: subject = rng_.Pick({"Встреча на следующей неделе", "Привет из Москвы", "Счёт оплачен"}); break;
        case kJa: subject = rng_.Pick({"来週の打ち合わせ", "資料の送付", "ご連絡"}); break;
        case kEn: subject = rng_.Pick(en_subjects); break;
      }
      Topic tp = them.lang == kEn ? (rng_.Chance(50) ? topic : kWork) : kWork;
      Spec s = NewSpec(them, {&kOwner}, t, subject, them.lang, tp, true);
      if (rng_.Chance(15)) s.cc = {&P(static_cast<Who>(rng_.Below(kPeopleCount)))};
      if (rng_.Chance(12)) {
        int r = static_cast<int>(rng_.Below(3));
        s.atts.push_back(r == 0   ? Png("screenshot.png")
                         : r == 1 ? Attachment{"text/csv", "report.csv", MakeCsv(rng_, 6), "base64"}
                                  : Pdf("document.pdf", {subject, "", "Page 1 of 1"}));
        if (s.kind != kAlt && rng_.Chance(50)) s.kind = kAlt;  // mixed(alternative(...), attachment)
      }
      Put(folder, s, Flags(rng_));
    }
  }

  // ---- old-mail.mbox: 2019-2021, with "From " body lines

  void OldMbox() {
    std::vector<Spec> specs;
    // The message that is in both places: written once, stored twice.
    Spec dup = NewSpec(P(kAna), {&kOwner}, UnixTime(2021, 8, 21, 16, 40, 11), "Old photos from the lake", kEn,
                       kPersonal, true);
    dup.mid = "lake-photos-2021@example.com";
    dup.kind = kUtf8Bit8;
    dup.text = "Hi Robin,\n\nI found the old photos from the lake while clearing out the attic.\n\nFrom left to "
               "right: you, me, Ben and the dog that adopted us for a week. I'll scan the rest.\n\nAna\n";
    std::string dup_raw = Build(rng_, dup);
    inbox_.push_back({dup_raw, dup.t, "S", false, dup.from->addr});

    // The old-style message without MIME headers and obsolete syntax.
    {
      Spec s;
      s.from = &P(kBen);
      s.to_raw = "robin.keller@example.com";
      s.t = UnixTime(2019, 1, 7, 9, 5, 0);
      s.date_style = kDateNoWeekday;
      s.subject = "new year";
      s.mid = "20190107.old-style@example.com";
      s.no_mime = true;
      s.text = "Robin,\n\nhappy new year! From next week on I'm back in the office.\n\nFrom the old days: a plain "
               "text message,\nno MIME headers at all.\n\n>From here on it is a quoted From line, mboxrd style.\n\nBen\n";
      specs.push_back(s);
    }
    const Who people[] = {kAna, kBen, kClaire, kTom, kZoe, kLena, kMia, kElodie, kFrancois, kSofia, kDmitri, kOlga, kHanako};
    const char* const from_lines[] = {
        "From what I remember, the meeting was on a Tuesday.",
        "From now on all invoices go to the shared address.",
        "From: the committee, to: everyone. (That is how the letter started.)",
        "From 9 to 5 the office is open, after that use the side door.",
    };
    int64_t t = UnixTime(2019, 1, 14, 8, 0, 0);
    Sent last;
    bool have_last = false;
    while (specs.size() < 59) {
      t += rng_.Range(3 * 86400, 17 * 86400);
      const Person& them = P(rng_.Pick(people));
      bool reply = have_last && rng_.Chance(25);
      bool mine = rng_.Chance(30);
      const Person& from = mine ? kOwner : them;
      const Person& to = mine ? them : kOwner;
      Spec s;
      if (reply) {
        const Person& rf = last.from == &kOwner ? *last.to.front() : kOwner;
        s = NewSpec(rf, {last.from}, t, "", last.lang, kPersonal, &rf != &kOwner);
        ReplyFields(s, last);
        s.text = ReplyText(last, rf, kPersonal, *last.from);
      } else {
        s = NewSpec(from, {&to}, t, them.lang == kEn ? rng_.Pick({"Weekend?", "Moving house", "Old photos",
                                                                 "Bike trip", "Recipe"})
                                    : them.lang == kDe ? "Grüße aus Berlin"
                                    : them.lang == kFr ? "Nouvelles de Lyon"
                                    : them.lang == kRu ? "Привет!"
                                    : them.lang == kJa ? "お元気ですか"
                                                       : "Saludos desde Madrid",
                    them.lang, kPersonal, !mine);
      }
      if (specs.size() % 6 == 2) {
        // A paragraph that starts with "From ": needs ">From " in the mbox.
        size_t cut = s.text.find("\n\n");
        s.text.insert(cut + 2, std::string(rng_.Pick(from_lines)) + "\n\n");
        if (s.kind == kFlowedKind || s.kind == kAlt) s.kind = kUtf8Bit8;
      }
      if (specs.size() % 13 == 7) {
        s.atts.push_back(Png("scan-" + std::to_string(specs.size()) + ".png"));
      }
      last = Remember(s);
      have_last = true;
      specs.push_back(s);
    }
    for (const Spec& s : specs) {
      std::string raw = Build(rng_, s);
      mbox_.push_back({raw, s.t, "", false, s.from->addr});
    }
    mbox_.push_back({dup_raw, dup.t, "", false, dup.from->addr});
  }

  // ---- output

  static void WriteFile(const fs::path& path, const std::string& data, int64_t t) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    f.close();
    if (!f) throw std::runtime_error("cannot write " + path.string());
    auto when = std::chrono::file_clock::from_sys(std::chrono::sys_seconds{std::chrono::seconds{t}});
    std::error_code ec;
    fs::last_write_time(path, when, ec);  // cosmetic; ignore failures
  }

  static void WriteFolder(const fs::path& dir, std::vector<Stored>& msgs, int& n, uint64_t& bytes, bool sub) {
    for (const char* d : {"cur", "new", "tmp"}) fs::create_directories(dir / d);
    if (sub) WriteFile(dir / "maildirfolder", "", UnixTime(2024, 12, 31));
    std::stable_sort(msgs.begin(), msgs.end(), [](const Stored& a, const Stored& b) { return a.t < b.t; });
    for (const auto& m : msgs) {
      std::string name = std::to_string(m.t) + "." + std::to_string(++n) + ".sample";
      if (!m.is_new) name += ":2," + m.flags;
      WriteFile(dir / (m.is_new ? "new" : "cur") / name, m.raw, m.t);
      bytes += m.raw.size();
    }
  }

  // mboxrd: lines matching ^>*From  get one more '>'. Returns how many.
  static int AppendMboxrd(std::string& out, const Stored& m) {
    int quoted = 0;
    out += "From " + m.envelope + " " + Asctime(m.t) + "\n";
    size_t pos = 0;
    while (pos < m.raw.size()) {
      size_t eol = m.raw.find('\n', pos);
      size_t end = eol == std::string::npos ? m.raw.size() : eol + 1;
      std::string_view line(m.raw.data() + pos, end - pos);
      size_t gt = 0;
      while (gt < line.size() && line[gt] == '>') ++gt;
      if (line.substr(gt).starts_with("From ")) {
        out += '>';
        ++quoted;
      }
      out += line;
      pos = end;
    }
    if (m.raw.empty() || m.raw.back() != '\n') out += '\n';
    out += '\n';
    return quoted;
  }

  Rng rng_;
  std::vector<Stored> inbox_, sent_, lists_, archive_, mbox_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::string_view(argv[1]) == "-h" || std::string_view(argv[1]) == "--help") {
    std::cerr << "usage: make_sample_mail OUTDIR\n"
                 "Writes OUTDIR/Maildir (Maildir++: INBOX, .Sent, .Lists.dev, .Archive.2023) and\n"
                 "OUTDIR/old-mail.mbox (mboxrd): the same generated example mail on every run.\n";
    return argc == 2 ? 0 : 2;
  }
  try {
    fs::create_directories(argv[1]);
    Generator g(0x6D61696C6B656570ull);  // "mailkeep"
    g.Run();
    return g.Write(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "make_sample_mail: " << e.what() << "\n";
    return 1;
  }
}
