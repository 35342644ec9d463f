#include "index/text.h"

#include <cstdint>

#include "store/mime/decode.h"

namespace mailkeep::index {

namespace {

// Latin letters with diacritics and ligatures folded to lower-case ASCII,
// two bytes per code point ("e ", "ae", "ss"); two spaces mean "no folding".
// Generated once from the Unicode names and decompositions of each code
// point (base letter of "LATIN ... LETTER X WITH ..."), ligatures spelled
// out. U+00D7 and U+00F7 (× ÷) are not letters and are kept.
constexpr char kLatin1ToExtB[] =  // U+00C0 .. U+024F
    "a a a a a a aec e e e e i i i i "  // U+00C0
    "d n o o o o o   o u u u u y thss"  // U+00D0
    "a a a a a a aec e e e e i i i i "  // U+00E0
    "d n o o o o o   o u u u u y thy "  // U+00F0
    "a a a a a a c c c c c c c c d d "  // U+0100
    "d d e e e e e e e e e e g g g g "  // U+0110
    "g g g g h h h h i i i i i i i i "  // U+0120
    "i i ijijj j k k k l l l l l l l "  // U+0130
    "l l l n n n n n n n     o o o o "  // U+0140
    "o o oeoer r r r r r s s s s s s "  // U+0150
    "s s t t t t t t u u u u u u u u "  // U+0160
    "u u u u w w y y y z z z z z z s "  // U+0170
    "b b b b       c c   d d d       "  // U+0180
    "  f f g       i k k l     n n o "  // U+0190
    "o o     p p           t t t t u "  // U+01A0
    "u   v y y z z                   "  // U+01B0
    "        dzdzdzljljljnjnjnja a i "  // U+01C0
    "i o o u u u u u u u u u u   a a "  // U+01D0
    "a a aeaeg g g g k k o o o o     "  // U+01E0
    "j dzdzdzg g     n n a a aeaeo o "  // U+01F0
    "a a a a e e e e i i i i o o o o "  // U+0200
    "r r r r u u u u s s t t     h h "  // U+0210
    "n d     z z a a e e o o o o o o "  // U+0220
    "o o y y l n t j     a c c l t s "  // U+0230
    "z     b     e e j j   q r r y y "  // U+0240
    ;
constexpr uint32_t kLatin1ToExtBFirst = 0xC0;
constexpr uint32_t kLatin1ToExtBEnd = 0x250;

constexpr char kLatinExtAdditional[] =  // U+1E00 .. U+1EFF
    "a a b b b b b b c c d d d d d d "  // U+1E00
    "d d d d e e e e e e e e e e f f "  // U+1E10
    "g g h h h h h h h h h h i i i i "  // U+1E20
    "k k k k k k l l l l l l l l m m "  // U+1E30
    "m m m m n n n n n n n n o o o o "  // U+1E40
    "o o o o p p p p r r r r r r r r "  // U+1E50
    "s s s s s s s s s s t t t t t t "  // U+1E60
    "t t u u u u u u u u u u v v v v "  // U+1E70
    "w w w w w w w w w w x x x x y y "  // U+1E80
    "z z z z z z h t w y a s     ss  "  // U+1E90
    "a a a a a a a a a a a a a a a a "  // U+1EA0
    "a a a a a a a a e e e e e e e e "  // U+1EB0
    "e e e e e e e e i i i i o o o o "  // U+1EC0
    "o o o o o o o o o o o o o o o o "  // U+1ED0
    "o o o o u u u u u u u u u u u u "  // U+1EE0
    "u u y y y y y y y y         y y "  // U+1EF0
    ;
constexpr uint32_t kLatinExtAdditionalFirst = 0x1E00;
constexpr uint32_t kLatinExtAdditionalEnd = 0x1F00;

static_assert(sizeof(kLatin1ToExtB) == 2 * (kLatin1ToExtBEnd - kLatin1ToExtBFirst) + 1);
static_assert(sizeof(kLatinExtAdditional) == 2 * (kLatinExtAdditionalEnd - kLatinExtAdditionalFirst) + 1);

// The folded spelling of `cp` from the tables ("" when it has none).
std::string_view FoldLatin(uint32_t cp) {
  const char* slot = nullptr;
  if (cp >= kLatin1ToExtBFirst && cp < kLatin1ToExtBEnd) {
    slot = kLatin1ToExtB + 2 * (cp - kLatin1ToExtBFirst);
  } else if (cp >= kLatinExtAdditionalFirst && cp < kLatinExtAdditionalEnd) {
    slot = kLatinExtAdditional + 2 * (cp - kLatinExtAdditionalFirst);
  } else {
    return {};
  }
  if (slot[0] == ' ') return {};
  return std::string_view(slot, slot[1] == ' ' ? 1 : 2);
}

// Combining marks: dropped, so decomposed input ("e" U+0301) folds like
// precomposed input (U+00E9).
bool IsCombiningMark(uint32_t cp) {
  return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
         (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
         (cp >= 0xFE20 && cp <= 0xFE2F);
}

// Simple lower-casing of the basic Greek and Cyrillic capitals; their
// accents are left alone. Other code points are returned unchanged.
uint32_t LowerOther(uint32_t cp) {
  if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return cp + 0x20;  // Α..Ω
  if (cp >= 0x0410 && cp <= 0x042F) return cp + 0x20;                  // А..Я
  if (cp >= 0x0400 && cp <= 0x040F) return cp + 0x50;                  // Ѐ..Џ
  return cp;
}

// Decodes one well-formed UTF-8 sequence at in[i] (not ASCII). Returns its
// length, or 0 for an invalid sequence (overlong, surrogate, truncated,
// beyond U+10FFFF).
size_t DecodeUtf8(std::string_view in, size_t i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  const unsigned char lead = byte(i);
  size_t len = 0;
  uint32_t value = 0;
  uint32_t min = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2, value = lead & 0x1F, min = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    len = 3, value = lead & 0x0F, min = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    len = 4, value = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (in.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char c = byte(i + k);
    if ((c & 0xC0) != 0x80) return 0;
    value = (value << 6) | (c & 0x3F);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *cp = value;
  return len;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '<')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '>')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string FoldText(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  size_t i = 0;
  while (i < utf8.size()) {
    const unsigned char c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : static_cast<char>(c));
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t len = DecodeUtf8(utf8, i, &cp);
    if (len == 0) {  // invalid: pass the byte through
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (IsCombiningMark(cp)) {
      // dropped
    } else if (std::string_view folded = FoldLatin(cp); !folded.empty()) {
      out.append(folded);
    } else if (const uint32_t lower = LowerOther(cp); lower != cp) {
      mime::AppendUtf8(out, lower);
    } else {
      out.append(utf8.substr(i, len));
    }
    i += len;
  }
  return out;
}

std::vector<std::string> AddressTerms(std::string_view address) {
  std::vector<std::string> terms;
  const std::string whole = FoldText(Trim(address));
  if (whole.empty()) return terms;
  terms.push_back(whole);
  const size_t at = whole.rfind('@');
  if (at == std::string::npos) return terms;
  std::string local = whole.substr(0, at);
  std::string domain = whole.substr(at + 1);
  if (!local.empty() && local != whole) terms.push_back(std::move(local));
  if (!domain.empty() && domain != terms.back() && domain != whole) terms.push_back(std::move(domain));
  return terms;
}

}  // namespace mailkeep::index
