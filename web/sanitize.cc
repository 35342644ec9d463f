// The allow-list HTML sanitizer and EscapeHtml (see sanitize.h;
// ContentDisposition is in content_disposition.cc, so that this file needs
// only store/mime and the fuzz target builds with clang++ 14).
//
// Three steps: a tokenizer that follows HTML5's tokenization rules (tags,
// attributes, comments, raw text elements; no tree construction), a small
// builder that keeps allow-listed elements and closes them the way HTML5
// implies, and a writer that escapes every text and attribute value.
//
// Safety does not rest on parsing exactly as a browser does: the output is
// canonical (only listed elements, every attribute quoted and escaped,
// every element closed, no comment, no raw text element), so a browser
// reads exactly the elements, attributes and values checked here. Parsing
// like a browser only decides how much of an odd message survives.
#include "web/sanitize.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "store/mime/decode.h"

namespace mailkeep::web {
namespace {

constexpr size_t kMaxAttributes = 64;             // per tag; later ones are ignored
constexpr size_t kMaxAttributeValue = 16 << 10;   // bytes; a longer value drops the attribute

constexpr std::string_view kDocumentHead = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>";
constexpr std::string_view kTruncatedNote =
    "<p>[The rest of this HTML part is not shown: it is too large.]</p>";

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || (c >= '0' && c <= '9'); }
char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
// HTML5's ASCII whitespace (CR is gone after Preprocess).
bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

std::string AsciiLowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

bool IsOneOf(std::string_view s, std::initializer_list<std::string_view> list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

// Binary search in a sorted table of names.
template <typename T, size_t N>
const T* FindSorted(const std::array<T, N>& table, std::string_view name) {
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const T& e, std::string_view n) { return std::string_view(e.name) < n; });
  return it != table.end() && it->name == name ? &*it : nullptr;
}

// ---- The element and attribute lists ---------------------------------------

enum class Kind : uint8_t {
  kDropTag,  // not listed: the tag goes, its contents stay (the default)
  kKeep,     // listed, with an end tag
  kVoid,     // listed, no end tag
  kSkip,     // goes with everything up to its end tag (same-name nesting counted)
  kRawDrop,  // a raw text element: goes with its text
  kRawShow,  // a raw text element whose text is shown as text (xmp, plaintext)
  kBody,     // its attributes go to the output's <body>
};

struct Element {
  std::string_view name;
  Kind kind;
};

using enum Kind;
constexpr std::array kElements = std::to_array<Element>({
    {"a", kKeep},          {"abbr", kKeep},       {"acronym", kKeep},    {"address", kKeep},
    {"article", kKeep},    {"aside", kKeep},      {"b", kKeep},          {"bdi", kKeep},
    {"bdo", kKeep},        {"big", kKeep},        {"blockquote", kKeep}, {"body", kBody},
    {"br", kVoid},         {"caption", kKeep},    {"center", kKeep},     {"cite", kKeep},
    {"code", kKeep},       {"col", kVoid},        {"colgroup", kKeep},   {"datalist", kSkip},
    {"dd", kKeep},         {"del", kKeep},        {"details", kKeep},    {"dfn", kKeep},
    {"div", kKeep},        {"dl", kKeep},         {"dt", kKeep},         {"em", kKeep},
    {"figcaption", kKeep}, {"figure", kKeep},     {"font", kKeep},       {"footer", kKeep},
    {"h1", kKeep},         {"h2", kKeep},         {"h3", kKeep},         {"h4", kKeep},
    {"h5", kKeep},         {"h6", kKeep},         {"header", kKeep},     {"hr", kVoid},
    {"i", kKeep},          {"iframe", kRawDrop},  {"img", kVoid},        {"ins", kKeep},
    {"kbd", kKeep},        {"li", kKeep},         {"main", kKeep},       {"mark", kKeep},
    {"math", kSkip},       {"nav", kKeep},        {"noembed", kRawDrop}, {"noframes", kRawDrop},
    {"noscript", kRawDrop}, {"ol", kKeep},        {"p", kKeep},          {"plaintext", kRawShow},
    {"pre", kKeep},        {"q", kKeep},          {"s", kKeep},          {"samp", kKeep},
    {"script", kRawDrop},  {"section", kKeep},    {"select", kSkip},     {"small", kKeep},
    {"span", kKeep},       {"strike", kKeep},     {"strong", kKeep},     {"style", kRawDrop},
    {"sub", kKeep},        {"summary", kKeep},    {"sup", kKeep},        {"svg", kSkip},
    {"table", kKeep},      {"tbody", kKeep},      {"td", kKeep},         {"template", kSkip},
    {"textarea", kRawDrop}, {"tfoot", kKeep},     {"th", kKeep},         {"thead", kKeep},
    {"time", kKeep},       {"title", kRawDrop},   {"tr", kKeep},         {"tt", kKeep},
    {"u", kKeep},          {"ul", kKeep},         {"var", kKeep},        {"wbr", kVoid},
    {"xmp", kRawShow},
});
static_assert(std::ranges::is_sorted(kElements, {}, &Element::name));

const Element* FindElement(std::string_view name) { return FindSorted(kElements, name); }
Kind KindOf(std::string_view name) {
  const Element* e = FindElement(name);
  return e ? e->kind : kDropTag;
}

// Attributes kept as they are (escaped) on any listed element: they only
// describe presentation. href, src, background, style and data-blocked are
// checked one by one (AppendAttributes).
struct Name {
  std::string_view name;
};
constexpr std::array kPlainAttributes = std::to_array<Name>({
    {"abbr"},    {"align"},   {"alink"},  {"alt"},         {"bgcolor"},  {"border"},   {"cellpadding"},
    {"cellspacing"}, {"clear"}, {"color"}, {"colspan"},    {"compact"},  {"datetime"}, {"dir"},
    {"face"},    {"frame"},   {"headers"}, {"height"},     {"hspace"},   {"lang"},     {"link"},
    {"noshade"}, {"nowrap"},  {"open"},   {"reversed"},    {"rowspan"},  {"rules"},    {"scope"},
    {"size"},    {"span"},    {"start"},  {"summary"},     {"text"},     {"title"},    {"type"},
    {"valign"},  {"value"},   {"vlink"},  {"vspace"},      {"width"},
});
static_assert(std::ranges::is_sorted(kPlainAttributes, {}, &Name::name));

// CSS properties kept in a style attribute: none of them can load anything
// once their values pass SafeCssValue.
constexpr std::array kCssProperties = std::to_array<Name>({
    {"background"}, {"background-color"}, {"border"}, {"border-bottom"}, {"border-bottom-color"},
    {"border-bottom-style"}, {"border-bottom-width"}, {"border-collapse"}, {"border-color"}, {"border-left"},
    {"border-left-color"}, {"border-left-style"}, {"border-left-width"}, {"border-radius"}, {"border-right"},
    {"border-right-color"}, {"border-right-style"}, {"border-right-width"}, {"border-spacing"}, {"border-style"},
    {"border-top"}, {"border-top-color"}, {"border-top-style"}, {"border-top-width"}, {"border-width"},
    {"caption-side"}, {"clear"}, {"color"}, {"direction"}, {"display"}, {"empty-cells"}, {"float"}, {"font"},
    {"font-family"}, {"font-size"}, {"font-style"}, {"font-variant"}, {"font-weight"}, {"height"},
    {"letter-spacing"}, {"line-height"}, {"list-style-position"}, {"list-style-type"}, {"margin"},
    {"margin-bottom"}, {"margin-left"}, {"margin-right"}, {"margin-top"}, {"max-height"}, {"max-width"},
    {"min-height"}, {"min-width"}, {"opacity"}, {"overflow"}, {"padding"}, {"padding-bottom"}, {"padding-left"},
    {"padding-right"}, {"padding-top"}, {"table-layout"}, {"text-align"}, {"text-decoration"}, {"text-indent"},
    {"text-transform"}, {"vertical-align"}, {"visibility"}, {"white-space"}, {"width"}, {"word-break"},
    {"word-spacing"}, {"word-wrap"},
});
static_assert(std::ranges::is_sorted(kCssProperties, {}, &Name::name));

// ---- Input ------------------------------------------------------------------

// HTML5's input stream preprocessing: CRLF and CR become LF; NULs (which
// browsers drop or replace) are dropped; invalid UTF-8 becomes U+FFFD.
std::string Preprocess(std::string_view html) {
  std::string s = mime::SanitizeUtf8(html);
  size_t w = 0;
  for (size_t r = 0; r < s.size(); ++r) {
    const char c = s[r];
    if (c == '\0') continue;
    if (c == '\r') {
      s[w++] = '\n';
      if (r + 1 < s.size() && s[r + 1] == '\n') ++r;
      continue;
    }
    s[w++] = c;
  }
  s.resize(w);
  return s;
}

// ---- Tokenizer ------------------------------------------------------------------

struct Attribute {
  std::string name;        // lower case
  std::string_view value;  // as written, character references not decoded
};

struct Token {
  enum Type { kText, kRawText, kStartTag, kEndTag, kEof };
  Type type = kEof;
  std::string_view text;  // kText (references not decoded), kRawText
  std::string name;       // tags (lower case); kRawText: its element
  std::vector<Attribute> attributes;  // start tags: the first of each name
  bool self_closing = false;
};

// HTML5 tokenization, minus what only script or the tree builder needs.
// The views in a Token point into the input, which must outlive it.
class Tokenizer {
 public:
  explicit Tokenizer(std::string_view in) : in_(in) {}

  void Next(Token& t) {
    while (pos_ < in_.size()) {
      if (!raw_.empty()) return RawText(t);
      if (!StartsMarkup(pos_)) return Text(t);
      if (Markup(t)) return;
    }
    t.type = Token::kEof;
  }

 private:
  char At(size_t i) const { return i < in_.size() ? in_[i] : '\0'; }

  // '<' followed by what opens a tag, an end tag, a comment or a bogus
  // comment; any other '<' is text.
  bool StartsMarkup(size_t i) const {
    if (in_[i] != '<') return false;
    const char c = At(i + 1);
    return IsAsciiAlpha(c) || c == '!' || c == '?' || (c == '/' && i + 2 < in_.size());
  }

  void Text(Token& t) {
    size_t end = pos_ + 1;
    while ((end = in_.find('<', end)) != std::string_view::npos && !StartsMarkup(end)) ++end;
    if (end == std::string_view::npos) end = in_.size();
    t.type = Token::kText;
    t.text = in_.substr(pos_, end - pos_);
    pos_ = end;
  }

  // At a '<' that StartsMarkup: reads a tag into `t` (true), or skips a
  // comment (false).
  bool Markup(Token& t) {
    const char c = in_[pos_ + 1];
    if (c == '!' && in_.substr(pos_, 4) == "<!--") return SkipComment();
    if (c == '!' || c == '?') return SkipBogusComment(pos_ + 2);
    if (c != '/') return Tag(t, pos_ + 1, Token::kStartTag);
    if (in_[pos_ + 2] == '>') {  // "</>" is nothing
      pos_ += 3;
      return false;
    }
    if (!IsAsciiAlpha(in_[pos_ + 2])) return SkipBogusComment(pos_ + 2);
    return Tag(t, pos_ + 2, Token::kEndTag);
  }

  // Moves on to `p` having read no token.
  bool SkipTo(size_t p) {
    pos_ = std::min(p, in_.size());
    return false;
  }

  // Up to the next '>' (HTML5's bogus comment: "<!x>", "<?x>", "</ x>").
  bool SkipBogusComment(size_t from) {
    const size_t gt = in_.find('>', from);
    return SkipTo(gt == std::string_view::npos ? in_.size() : gt + 1);
  }

  // "<!--" ... "-->" (or "--!>"); "<!-->" and "<!--->" are empty comments.
  bool SkipComment() {
    size_t p = pos_ + 4;
    if (At(p) == '>') return SkipTo(p + 1);
    if (At(p) == '-' && At(p + 1) == '>') return SkipTo(p + 2);
    while ((p = in_.find("--", p)) != std::string_view::npos) {
      if (At(p + 2) == '>') return SkipTo(p + 3);
      if (At(p + 2) == '!' && At(p + 3) == '>') return SkipTo(p + 4);
      ++p;
    }
    return SkipTo(in_.size());
  }

  // A tag whose name starts at `p`. A tag cut by the end of the input is
  // dropped, as HTML5 does (false).
  bool Tag(Token& t, size_t p, Token::Type type) {
    const size_t name_start = p;
    while (p < in_.size() && !IsHtmlSpace(in_[p]) && in_[p] != '/' && in_[p] != '>') ++p;
    t.name = AsciiLowered(in_.substr(name_start, p - name_start));
    t.attributes.clear();
    t.self_closing = false;
    while (true) {
      while (p < in_.size() && IsHtmlSpace(in_[p])) ++p;
      if (p >= in_.size()) return SkipTo(p);
      if (in_[p] == '>') break;
      if (in_[p] == '/') {
        t.self_closing = At(++p) == '>';
        continue;
      }
      if (!Attr(t, p)) return SkipTo(in_.size());
    }
    pos_ = p + 1;
    t.type = type;
    if (type == Token::kStartTag && (KindOf(t.name) == kRawDrop || KindOf(t.name) == kRawShow)) raw_ = t.name;
    return true;
  }

  // One attribute from `p` (not a space, '/' or '>'); false at the end of
  // the input inside a quoted value.
  bool Attr(Token& t, size_t& p) {
    const size_t name_start = p++;  // the first character may be '='
    while (p < in_.size() && !IsHtmlSpace(in_[p]) && in_[p] != '/' && in_[p] != '>' && in_[p] != '=') ++p;
    const std::string_view name = in_.substr(name_start, p - name_start);
    while (p < in_.size() && IsHtmlSpace(in_[p])) ++p;
    std::string_view value;
    if (At(p) == '=') {
      ++p;
      while (p < in_.size() && IsHtmlSpace(in_[p])) ++p;
      const char quote = At(p);
      if (quote == '"' || quote == '\'') {
        const size_t close = in_.find(quote, p + 1);
        if (close == std::string_view::npos) return false;
        value = in_.substr(p + 1, close - p - 1);
        p = close + 1;
      } else {
        const size_t start = p;
        while (p < in_.size() && !IsHtmlSpace(in_[p]) && in_[p] != '>') ++p;
        value = in_.substr(start, p - start);
      }
    }
    std::string lower = AsciiLowered(name);
    const bool seen = std::any_of(t.attributes.begin(), t.attributes.end(),
                                  [&](const Attribute& a) { return a.name == lower; });
    if (!seen && t.attributes.size() < kMaxAttributes) t.attributes.push_back({std::move(lower), value});
    return true;
  }

  // The text of a raw text element, up to "</name" followed by a space,
  // '/' or '>' (any case), or the end of the input.
  void RawText(Token& t) {
    size_t end = in_.size();
    for (size_t p = pos_; raw_ != "plaintext" && (p = in_.find("</", p)) != std::string_view::npos; p += 2) {
      const std::string_view after = in_.substr(p + 2);
      if (after.size() > raw_.size() && AsciiLowered(after.substr(0, raw_.size())) == raw_ &&
          (IsHtmlSpace(after[raw_.size()]) || after[raw_.size()] == '/' || after[raw_.size()] == '>')) {
        end = p;
        break;
      }
    }
    t.type = Token::kRawText;
    t.text = in_.substr(pos_, end - pos_);
    t.name = std::move(raw_);
    raw_.clear();
    pos_ = end;
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::string raw_;  // the raw text element whose text comes next
};

// ---- Escaping -------------------------------------------------------------

// Appends decoded text escaped for element content (& < >) or, with
// `attribute`, a double-quoted attribute value (also " '). A CR, which the
// next parse would turn into LF, is written as a reference.
void AppendEscaped(std::string& out, std::string_view s, bool attribute) {
  const auto entity = [attribute](char c) -> std::string_view {
    switch (c) {
      case '&': return "&amp;";
      case '<': return "&lt;";
      case '>': return "&gt;";
      case '\r': return "&#13;";
      case '"': return attribute ? "&quot;" : "";
      case '\'': return attribute ? "&#39;" : "";
      default: return "";
    }
  };
  size_t extra = 0;
  for (char c : s) extra += entity(c).empty() ? 0 : entity(c).size() - 1;
  if (extra == 0) {
    out.append(s);
    return;
  }
  // One resize, then plain stores: text of '<'s must stay as quick as text.
  size_t w = out.size();
  out.resize(w + s.size() + extra);
  for (char c : s) {
    const std::string_view e = entity(c);
    if (e.empty()) {
      out[w++] = c;
    } else {
      std::copy(e.begin(), e.end(), out.begin() + static_cast<std::ptrdiff_t>(w));
      w += e.size();
    }
  }
}

// The character reference at s[i] == '&' decoded into `out` (bytes used),
// or 0 when it is none. In an attribute, a named reference without ';'
// followed by '=' is literal (HTML5's rule for "?a=1&copy=2").
size_t DecodeRef(std::string_view s, size_t i, bool attribute, std::string& out) {
  const size_t before = out.size();
  const size_t used = mime::DecodeCharRef(s, i, out);
  if (used > 0 && attribute && s[i + 1] != '#' && s[i + used - 1] != ';' && i + used < s.size() &&
      s[i + used] == '=') {
    out.resize(before);
    return 0;
  }
  return used;
}

// A named reference this decoder does not know ("&clubs;"): passed on for
// the browser to read, which can only ever make it text.
size_t UnknownNamedRef(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j >= s.size() || !IsAsciiAlpha(s[j])) return 0;
  while (j < s.size() && j - i <= 32 && IsAsciiAlnum(s[j])) ++j;
  return j < s.size() && s[j] == ';' ? j + 1 - i : 0;
}

// Appends `raw` (text or an attribute value as written) decoded and
// escaped, stopping at a character boundary once `out` reaches `limit`
// bytes; false when it stopped there.
bool AppendText(std::string& out, std::string_view raw, bool attribute, size_t limit = std::string::npos) {
  std::string decoded;
  for (size_t i = 0; i < raw.size();) {
    if (out.size() >= limit) return false;
    if (raw[i] != '&') {
      size_t end = std::min(raw.find('&', i), raw.size());
      // At most 5 output bytes per input byte: stay near the limit.
      if (limit != std::string::npos) end = std::min(end, i + std::max<size_t>((limit - out.size()) / 5, 1));
      while (end < raw.size() && (static_cast<unsigned char>(raw[end]) & 0xC0) == 0x80) ++end;
      AppendEscaped(out, raw.substr(i, end - i), attribute);
      i = end;
      continue;
    }
    decoded.clear();
    if (const size_t used = DecodeRef(raw, i, attribute, decoded)) {
      AppendEscaped(out, decoded, attribute);
      i += used;
    } else if (const size_t unknown = UnknownNamedRef(raw, i)) {
      out.append(raw.substr(i, unknown));
      i += unknown;
    } else {
      out += "&amp;";
      ++i;
    }
  }
  return true;
}

// An attribute value as the browser sees it: every reference it decodes
// decoded (unknown ones stay literal and are written escaped, so the
// browser sees what is checked).
std::string DecodeAttribute(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i < raw.size();) {
    const size_t used = raw[i] == '&' ? DecodeRef(raw, i, true, out) : 0;
    if (used == 0) out += raw[i];
    i += used ? used : 1;
  }
  return out;
}

// ---- URLs -----------------------------------------------------------------

// A URL as a browser's URL parser takes it: tabs and newlines removed
// anywhere, C0 controls and spaces trimmed at both ends.
std::string CleanUrl(std::string_view url) {
  std::string out;
  for (char c : url)
    if (c != '\t' && c != '\n' && c != '\r') out += c;
  const auto blank = [](char c) { return static_cast<unsigned char>(c) <= 0x20; };
  const auto first = std::find_if_not(out.begin(), out.end(), blank);
  const auto last = std::find_if_not(out.rbegin(), out.rend(), blank).base();
  return first < last ? std::string(first, last) : std::string();
}

// The URL's scheme in lower case, "" when it has none (a relative URL).
std::string SchemeOf(std::string_view url) {
  if (url.empty() || !IsAsciiAlpha(url[0])) return {};
  for (size_t i = 1; i < url.size(); ++i) {
    const char c = url[i];
    if (c == ':') return AsciiLowered(url.substr(0, i));
    if (!IsAsciiAlnum(c) && c != '+' && c != '-' && c != '.') return {};
  }
  return {};
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = AsciiLower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

std::string PercentDecoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A "cid:" URL through the resolver: a same-origin path, or "".
std::string ResolveCid(std::string_view url, const CidResolver& resolver) {
  if (!resolver) return {};
  std::string id = PercentDecoded(url.substr(4));
  if (id.size() >= 2 && id.front() == '<' && id.back() == '>') id = id.substr(1, id.size() - 2);
  std::string path = resolver(id);
  const bool same_origin = !path.empty() && path[0] == '/' && (path.size() == 1 || (path[1] != '/' && path[1] != '\\'));
  return same_origin ? path : std::string();
}

// ---- CSS --------------------------------------------------------------

// A declaration's value that can load nothing: identifiers, numbers,
// colours, quoted names, and no function but rgb/rgba/hsl/hsla. No
// backslash (CSS escapes), comment, '@', ':', '{', '}' or '<'.
bool SafeCssValue(std::string_view v) {
  char quote = 0;
  bool in_function = false;
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    const bool word = IsAsciiAlnum(c) || static_cast<unsigned char>(c) >= 0x80;
    if (quote) {
      if (c == quote) quote = 0;
      else if (!word && std::string_view(" -_,.").find(c) == std::string_view::npos) return false;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '(') {
      size_t start = i;
      while (start > 0 && (IsAsciiAlnum(v[start - 1]) || v[start - 1] == '-')) --start;
      if (in_function || !IsOneOf(AsciiLowered(v.substr(start, i - start)), {"rgb", "rgba", "hsl", "hsla"}))
        return false;
      in_function = true;
    } else if (c == ')') {
      if (!in_function) return false;
      in_function = false;
    } else if (!word && std::string_view(" #%.,+-!/_").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return !quote && !in_function;
}

std::string_view TrimmedLeft(std::string_view s) {
  while (!s.empty() && IsHtmlSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view Trimmed(std::string_view s) {
  s = TrimmedLeft(s);
  while (!s.empty() && IsHtmlSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string SpacesCollapsed(std::string_view s) {
  std::string out;
  for (char c : Trimmed(s)) {
    if (!IsHtmlSpace(c)) out += c;
    else if (out.back() != ' ') out += ' ';
  }
  return out;
}

// A style attribute's declarations kept when their property is listed and
// their value is safe, written "name: value; name: value".
std::string SanitizeStyle(std::string_view css) {
  std::string out;
  while (!css.empty()) {
    const size_t semi = css.find(';');
    const std::string_view decl = css.substr(0, semi);
    css.remove_prefix(semi == std::string_view::npos ? css.size() : semi + 1);
    const size_t colon = decl.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string name = AsciiLowered(Trimmed(decl.substr(0, colon)));
    const std::string value = SpacesCollapsed(decl.substr(colon + 1));
    if (!FindSorted(kCssProperties, name) || value.empty() || !SafeCssValue(value)) continue;
    out += out.empty() ? "" : "; ";
    out += name + ": " + value;
  }
  return out;
}

// ---- Attributes -------------------------------------------------------------

void AppendAttribute(std::string& out, std::string_view name, std::string_view decoded_value) {
  out += ' ';
  out += name;
  out += "=\"";
  AppendEscaped(out, decoded_value, true);
  out += '"';
}

// Writes the allowed attributes of a start tag of `element`.
void AppendAttributes(std::string& out, std::string_view element, const std::vector<Attribute>& attributes,
                      const CidResolver& cid) {
  bool blocked = false, link = false;
  for (const Attribute& a : attributes) {
    // Measured decoded, so that the limit drops the same values again
    // from this function's (escaped, longer) output.
    if (a.value.size() > kMaxAttributeValue && DecodeAttribute(a.value).size() > kMaxAttributeValue) continue;
    const std::string_view name = a.name;
    if (FindSorted(kPlainAttributes, name)) {
      out += ' ';
      out += name;
      out += "=\"";
      AppendText(out, a.value, true);
      out += '"';
      continue;
    }
    const bool url = (name == "href" && element == "a") || (name == "src" && element == "img") || name == "background";
    if (!url && name != "style" && !(name == "data-blocked" && element == "img")) continue;
    const std::string value = DecodeAttribute(a.value);
    if (name == "style") {
      if (const std::string css = SanitizeStyle(value); !css.empty()) AppendAttribute(out, name, css);
      continue;
    }
    if (name == "data-blocked") {
      blocked = blocked || value == "remote";
      continue;
    }
    const std::string clean = CleanUrl(value);
    const std::string scheme = SchemeOf(clean);
    std::string kept = scheme == "cid" ? ResolveCid(clean, cid) : "";
    if (name == "href" && IsOneOf(scheme, {"http", "https", "mailto"})) kept = clean;
    if (name == "src" && IsOneOf(scheme, {"http", "https"})) blocked = true;
    if (kept.empty()) continue;
    AppendAttribute(out, name, kept);
    link = link || name == "href";
  }
  if (blocked) out += " data-blocked=\"remote\"";
  if (link) out += " rel=\"noopener noreferrer\" target=\"_blank\"";
}

// ---- Builder ----------------------------------------------------------------

// An element of kElements by its index, and sets of them.
using ElementId = uint8_t;
static_assert(kElements.size() <= 128);

constexpr ElementId IdOf(std::string_view name) {
  const auto it = std::ranges::lower_bound(kElements, name, {}, &Element::name);
  return it != kElements.end() && it->name == name ? static_cast<ElementId>(it - kElements.begin())
                                                    : throw "not a listed element";
}

class ElementSet {
 public:
  constexpr ElementSet() = default;
  constexpr ElementSet(std::initializer_list<std::string_view> names) {
    for (auto n : names) Add(IdOf(n));
  }
  constexpr void Add(ElementId id) { bits_[id / 64] |= uint64_t{1} << (id % 64); }
  constexpr bool Has(ElementId id) const { return (bits_[id / 64] >> (id % 64)) & 1; }
  // Calls f(id) for each member.
  template <typename F>
  void ForEach(F f) const {
    for (int w = 0; w < 2; ++w)
      for (uint64_t b = bits_[w]; b != 0; b &= b - 1) f(static_cast<ElementId>(w * 64 + std::countr_zero(b)));
  }

 private:
  uint64_t bits_[2] = {0, 0};
};

constexpr ElementId kBr = IdOf("br"), kTable = IdOf("table");
// HTML5's "in scope": what an end tag or an implied end does not cross.
constexpr ElementSet kScope = {"caption", "table", "td", "th"};
constexpr ElementSet kTableParts = {"caption", "colgroup", "tbody", "td", "tfoot", "th", "thead", "tr"};
constexpr ElementSet kHeadings = {"h1", "h2", "h3", "h4", "h5", "h6"};
// Start tags that close an open <p> (HTML5 "in body").
constexpr ElementSet kClosesP = {"address", "article", "aside",  "blockquote", "center", "dd",     "details",
                                 "div",     "dl",      "dt",     "figcaption", "figure", "footer", "h1",
                                 "h2",      "h3",      "h4",     "h5",         "h6",     "header", "hr",
                                 "li",      "main",    "nav",    "ol",         "p",      "pre",    "section",
                                 "summary", "table",   "ul"};

// Keeps the listed elements of a token stream, balanced.
class Builder {
 public:
  Builder(const CidResolver& cid, size_t input_size) : cid_(cid) {
    out_.reserve(std::min(input_size + input_size / 4, kMaxHtmlOutput));
  }

  bool full() const { return truncated_; }

  void Start(const Token& t) {
    if (!skip_.empty()) {
      if (t.name == skip_ && !(t.self_closing && IsForeign(skip_))) ++skip_depth_;
      return;
    }
    const Element* e = FindElement(t.name);
    if (!e) return;
    switch (e->kind) {
      case kSkip:
        if (!(t.self_closing && IsForeign(e->name))) {
          skip_ = e->name;
          skip_depth_ = 1;
        }
        return;
      case kBody:
        if (!body_seen_) AppendAttributes(body_attributes_, "body", t.attributes, cid_);
        body_seen_ = true;
        return;
      case kVoid:
      case kKeep:
        return Open(Id(e), t.attributes);
      default:
        return;
    }
  }

  void End(std::string_view name) {
    if (!skip_.empty()) {
      if (name == skip_ && --skip_depth_ == 0) skip_ = {};
      return;
    }
    if (name == "br") return Open(kBr, {});  // "</br>" is <br>, as in browsers
    const Element* e = FindElement(name);
    if (!e || e->kind != kKeep) return;
    const ElementId id = Id(e);
    if (id == kTable) {
      CloseTo(Only(kTable), {});
    } else {
      CloseTo(Only(id), kTableParts.Has(id) ? Only(kTable) : kScope);
    }
  }

  // Text as written (references to decode), or, with !decode, raw text.
  void Text(std::string_view raw, bool decode) {
    if (!skip_.empty() || truncated_) return;
    const bool first = out_.empty();
    if (!decode) {
      AppendEscaped(out_, raw.substr(0, kMaxHtmlOutput - std::min(out_.size(), kMaxHtmlOutput)), false);
      truncated_ = out_.size() >= kMaxHtmlOutput;
    } else if (!AppendText(out_, raw, false, kMaxHtmlOutput)) {
      truncated_ = true;
    }
    // No blank (written or decoded) opens the body.
    if (first) out_.erase(0, out_.size() - TrimmedLeft(out_).size());
  }

  std::string Finish() {
    while (!open_.empty()) Pop();
    if (truncated_) out_ += kTruncatedNote;
    std::string doc;
    doc.reserve(kDocumentHead.size() + body_attributes_.size() + out_.size() + 32);
    doc.append(kDocumentHead).append("<body").append(body_attributes_).append(">");
    doc.append(out_).append("</body></html>");
    return doc;
  }

 private:
  static bool IsForeign(std::string_view name) { return name == "svg" || name == "math"; }
  static ElementId Id(const Element* e) { return static_cast<ElementId>(e - kElements.data()); }
  static ElementSet Only(ElementId id) {
    ElementSet s;
    s.Add(id);
    return s;
  }

  void Open(ElementId id, const std::vector<Attribute>& attributes) {
    const bool keep = kElements[id].kind == kKeep;
    if (keep && open_.size() >= kMaxHtmlDepth) return;  // too deep: the tag goes, its text stays
    CloseImpliedBy(id);
    const std::string_view name = kElements[id].name;
    out_ += '<';
    out_ += name;
    AppendAttributes(out_, name, attributes, cid_);
    out_ += '>';
    if (keep) {
      open_.push_back(id);
      ++open_count_[id];
    }
    truncated_ = out_.size() >= kMaxHtmlOutput;
  }

  void Pop() {
    out_ += "</";
    out_ += kElements[open_.back()].name;
    out_ += '>';
    --open_count_[open_.back()];
    open_.pop_back();
  }

  // Pops open elements down to the nearest one in `targets`, unless one in
  // `stops` comes first.
  void CloseTo(const ElementSet& targets, const ElementSet& stops) {
    bool any_open = false;
    targets.ForEach([&](ElementId id) { any_open = any_open || open_count_[id] > 0; });
    if (!any_open) return;
    for (size_t i = open_.size(); i-- > 0;) {
      if (targets.Has(open_[i])) {
        while (open_.size() > i) Pop();
        return;
      }
      if (stops.Has(open_[i])) return;
    }
  }

  // What a start tag closes first, as HTML5's tree builder does for
  // lists, tables, links, headings and paragraphs.
  void CloseImpliedBy(ElementId id) {
    static constexpr ElementSet kLi = {"li"}, kListStops = {"caption", "ol", "table", "td", "th", "ul"};
    static constexpr ElementSet kDefs = {"dd", "dt"}, kDefStops = {"caption", "dl", "table", "td", "th"};
    static constexpr ElementSet kTr = {"tr"}, kTableOnly = {"table"};
    static constexpr ElementSet kCells = {"td", "th"}, kCellStops = {"table", "tr"};
    static constexpr ElementSet kSections = {"tbody", "tfoot", "thead"};
    static constexpr ElementSet kA = {"a"}, kP = {"p"};
    if (kLi.Has(id)) CloseTo(kLi, kListStops);
    if (kDefs.Has(id)) CloseTo(kDefs, kDefStops);
    if (kTr.Has(id)) CloseTo(kTr, kTableOnly);
    if (kCells.Has(id)) CloseTo(kCells, kCellStops);
    if (kSections.Has(id)) CloseTo(kSections, kTableOnly);
    if (kA.Has(id)) CloseTo(kA, kScope);
    if (kClosesP.Has(id)) CloseTo(kP, kScope);
    if (kHeadings.Has(id) && !open_.empty() && kHeadings.Has(open_.back())) Pop();
  }

  const CidResolver& cid_;
  std::string out_;  // the body's contents
  std::string body_attributes_;
  bool body_seen_ = false;
  bool truncated_ = false;
  std::vector<ElementId> open_;
  std::array<uint16_t, kElements.size()> open_count_{};
  std::string_view skip_;  // the kSkip element being dropped
  size_t skip_depth_ = 0;
};

}  // namespace

std::string EscapeHtml(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendEscaped(out, text, true);
  return out;
}

std::string SanitizeHtml(std::string_view html, const CidResolver& cid) {
  const std::string in = Preprocess(html);
  Tokenizer tokenizer(in);
  Builder builder(cid, in.size());
  Token t;
  for (tokenizer.Next(t); t.type != Token::kEof && !builder.full(); tokenizer.Next(t)) {
    switch (t.type) {
      case Token::kText: builder.Text(t.text, true); break;
      case Token::kRawText:
        if (KindOf(t.name) == kRawShow) builder.Text(t.text, false);
        break;
      case Token::kStartTag: builder.Start(t); break;
      case Token::kEndTag: builder.End(t.name); break;
      case Token::kEof: break;
    }
  }
  return builder.Finish();
}

}  // namespace mailkeep::web
