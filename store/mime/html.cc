// text/html → readable text for indexing. Not an HTML parser: a single pass
// that drops tags, comments, script and style, turns block elements into
// line breaks and decodes character references.
#include <string>
#include <string_view>

#include "store/mime/decode.h"

namespace mailkeep::mime {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsAlpha(c) || (c >= '0' && c <= '9'); }

// HTML 4 Latin-1 entity names for U+00A0..U+00FF, in code point order.
constexpr std::string_view kLatin1Names[96] = {
    "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",    "copy",
    "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn", "sup2",   "sup3",
    "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",   "raquo",  "frac14", "frac12",
    "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde", "Auml",   "Aring",  "AElig",  "Ccedil",
    "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave", "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde",
    "Ograve", "Oacute", "Ocirc",  "Otilde", "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",
    "Uuml",   "Yacute", "THORN",  "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",
    "aelig",  "ccedil", "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",
    "eth",    "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
    "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};

struct Entity {
  std::string_view name;
  uint32_t cp;
};
constexpr Entity kEntities[] = {
    {"amp", '&'},       {"lt", '<'},         {"gt", '>'},         {"quot", '"'},       {"apos", '\''},
    {"ndash", 0x2013},  {"mdash", 0x2014},   {"lsquo", 0x2018},   {"rsquo", 0x2019},   {"sbquo", 0x201A},
    {"ldquo", 0x201C},  {"rdquo", 0x201D},   {"bdquo", 0x201E},   {"dagger", 0x2020},  {"Dagger", 0x2021},
    {"bull", 0x2022},   {"hellip", 0x2026},  {"permil", 0x2030},  {"prime", 0x2032},   {"lsaquo", 0x2039},
    {"rsaquo", 0x203A}, {"euro", 0x20AC},    {"trade", 0x2122},   {"larr", 0x2190},    {"rarr", 0x2192},
    {"uarr", 0x2191},   {"darr", 0x2193},    {"harr", 0x2194},    {"OElig", 0x0152},   {"oelig", 0x0153},
    {"Scaron", 0x0160}, {"scaron", 0x0161},  {"Yuml", 0x0178},    {"fnof", 0x0192},    {"circ", 0x02C6},
    {"tilde", 0x02DC},  {"ensp", 0x2002},    {"emsp", 0x2003},    {"thinsp", 0x2009},  {"zwnj", 0x200C},
    {"zwj", 0x200D},    {"lrm", 0x200E},     {"rlm", 0x200F},     {"minus", 0x2212},   {"infin", 0x221E},
    {"ne", 0x2260},     {"le", 0x2264},      {"ge", 0x2265},      {"asymp", 0x2248},   {"alpha", 0x03B1},
    {"beta", 0x03B2},   {"gamma", 0x03B3},   {"delta", 0x03B4},   {"pi", 0x03C0},      {"mu", 0x03BC},
    {"sigma", 0x03C3},  {"omega", 0x03C9},   {"Omega", 0x03A9},   {"hearts", 0x2665},  {"check", 0x2713},
};

}  // namespace

size_t DecodeCharRef(std::string_view s, size_t i, std::string& out) {
  size_t j = i + 1;
  if (j < s.size() && s[j] == '#') {
    ++j;
    uint32_t cp = 0;
    size_t digits = 0;
    if (j < s.size() && (s[j] == 'x' || s[j] == 'X')) {
      ++j;
      while (j < s.size() && digits < 8) {
        const char c = s[j];
        int v = (c >= '0' && c <= '9') ? c - '0' : (Lower(c) >= 'a' && Lower(c) <= 'f') ? Lower(c) - 'a' + 10 : -1;
        if (v < 0) break;
        cp = cp * 16 + static_cast<uint32_t>(v);
        ++j;
        ++digits;
      }
    } else {
      while (j < s.size() && digits < 8 && s[j] >= '0' && s[j] <= '9') {
        cp = cp * 10 + static_cast<uint32_t>(s[j] - '0');
        ++j;
        ++digits;
      }
    }
    if (digits == 0) return 0;
    if (j < s.size() && s[j] == ';') ++j;
    // Numeric references in the C1 range mean windows-1252 (HTML5).
    if (cp >= 0x80 && cp < 0xA0) {
      static constexpr uint16_t k1252[32] = {
          0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
          0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
          0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};
      cp = k1252[cp - 0x80];
    }
    AppendUtf8(out, cp);
    return j - i;
  }
  while (j < s.size() && j - i <= 10 && IsAlnum(s[j])) ++j;
  std::string_view name = s.substr(i + 1, j - i - 1);
  if (name.empty()) return 0;
  const bool semi = j < s.size() && s[j] == ';';
  uint32_t cp = 0;
  for (const auto& e : kEntities)
    if (e.name == name) cp = e.cp;
  if (cp == 0)
    for (int k = 0; k < 96; ++k)
      if (kLatin1Names[k] == name) cp = 0xA0 + static_cast<uint32_t>(k);
  if (cp == 0) {
    // Case-insensitive fallback for the common ones ("&NBSP;", "&AMP;").
    std::string lower(name);
    for (char& c : lower) c = Lower(c);
    if (lower == "nbsp") cp = 0xA0;
    else if (lower == "amp") cp = '&';
    else if (lower == "lt") cp = '<';
    else if (lower == "gt") cp = '>';
    else if (lower == "quot") cp = '"';
  }
  if (cp == 0) return 0;
  AppendUtf8(out, cp);
  return j - i + (semi ? 1 : 0);
}

namespace {

bool TagIs(std::string_view name, std::initializer_list<std::string_view> list) {
  for (auto n : list)
    if (name == n) return true;
  return false;
}

// Finds the end of "</name" (case-insensitive) from `from`; returns the
// index after its '>' or s.size().
size_t SkipToClose(std::string_view s, size_t from, std::string_view name) {
  size_t i = from;
  while (true) {
    i = s.find("</", i);
    if (i == std::string_view::npos) return s.size();
    bool match = i + 2 + name.size() <= s.size();
    for (size_t k = 0; match && k < name.size(); ++k) match = Lower(s[i + 2 + k]) == name[k];
    if (match) {
      const size_t gt = s.find('>', i);
      return gt == std::string_view::npos ? s.size() : gt + 1;
    }
    i += 2;
  }
}

}  // namespace

std::string HtmlToText(std::string_view s) {
  std::string out;
  out.reserve(s.size() / 2);
  bool pending_space = false;
  int pending_newlines = 0;
  auto emit_break = [&](int lines) {
    if (out.empty()) return;
    if (lines > pending_newlines) pending_newlines = lines;
  };
  auto flush_ws = [&] {
    if (pending_newlines > 0) {
      if (!out.empty()) out.append(static_cast<size_t>(pending_newlines), '\n');
    } else if (pending_space && !out.empty() && out.back() != '\n') {
      out.push_back(' ');
    }
    pending_newlines = 0;
    pending_space = false;
  };
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const char c = s[i];
    if (c == '<') {
      if (s.substr(i, 4) == "<!--") {
        const size_t end = s.find("-->", i + 4);
        i = end == std::string_view::npos ? n : end + 3;
        continue;
      }
      size_t j = i + 1;
      const bool closing = j < n && s[j] == '/';
      if (closing) ++j;
      if (j < n && (IsAlpha(s[j]) || s[j] == '!' || s[j] == '?')) {
        const size_t name_start = j;
        while (j < n && (IsAlnum(s[j]) || s[j] == ':' || s[j] == '-')) ++j;
        std::string name(s.substr(name_start, j - name_start));
        for (char& ch : name) ch = Lower(ch);
        // End of the tag, skipping quoted attribute values.
        char quote = 0;
        while (j < n) {
          const char d = s[j];
          if (quote) {
            if (d == quote) quote = 0;
          } else if (d == '"' || d == '\'') {
            // Only treat as a quote right after '=' (attribute value).
            size_t k = j;
            while (k > name_start && IsSpace(s[k - 1])) --k;
            if (k > name_start && s[k - 1] == '=') quote = d;
          } else if (d == '>') {
            break;
          }
          ++j;
        }
        i = j < n ? j + 1 : n;
        if (!closing && TagIs(name, {"script", "style", "head", "title", "xml"})) {
          if (name == "head") continue;  // keep scanning inside head; its text is title/style/script
          i = SkipToClose(s, i, name);
          continue;
        }
        if (TagIs(name, {"br", "p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5",
                         "h6", "blockquote", "pre", "hr", "dd", "dt", "dl", "address", "center",
                         "section", "article", "header", "footer", "form", "tbody", "thead"})) {
          emit_break(TagIs(name, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}) ? 2
                                                                                                    : 1);
        } else if (TagIs(name, {"td", "th"})) {
          pending_space = true;
        } else if (TagIs(name, {"img"})) {
          pending_space = true;
        }
        continue;
      }
      // A lone '<' is text.
    }
    if (IsSpace(c) || c == '\0') {
      pending_space = true;
      ++i;
      continue;
    }
    flush_ws();
    if (c == '&') {
      const size_t used = DecodeCharRef(s, i, out);
      if (used > 0) {
        // A space or &nbsp; decoded: keep collapsing.
        if (out.ends_with("\xC2\xA0")) {
          out.resize(out.size() - 2);
          pending_space = true;
        } else if (!out.empty() && out.back() == ' ') {
          out.pop_back();
          pending_space = true;
        }
        i += used;
        continue;
      }
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace mailkeep::mime
