// Header field values: unfolding (RFC 5322 2.2.3), encoded words (RFC 2047),
// parameters with continuations and charsets (RFC 2045 5.1, RFC 2231), and
// message-id lists.
#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/ascii.h"
#include "store/mime/decode.h"

namespace mailkeep::mime {
namespace {

using ascii::IsSpace;
using ascii::Lower;
using ascii::EqualsIgnoreCase;
using ascii::Trim;
using ascii::LowerCopy;

bool IsAscii(std::string_view s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Appends literal header text: folds (whitespace runs with a line break)
// become one space, NULs are dropped, 8-bit bytes are read as UTF-8 when
// valid, else windows-1252.
void AppendPlain(std::string& out, std::string_view s) {
  const size_t start = out.size();
  bool eight_bit = false;
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsSpace(c)) {
      size_t j = i;
      bool fold = false;
      while (j < s.size() && IsSpace(s[j])) {
        fold |= s[j] == '\r' || s[j] == '\n';
        ++j;
      }
      if (fold) {
        out.push_back(' ');
      } else {
        out.append(s.substr(i, j - i));
      }
      i = j;
      continue;
    }
    if (c == '\0') {
      ++i;
      continue;
    }
    if (static_cast<unsigned char>(c) >= 0x80) eight_bit = true;
    out.push_back(c);
    ++i;
  }
  if (eight_bit) {
    std::string raw = out.substr(start);
    out.resize(start);
    out += ToUtf8(raw, "");
  }
}

struct EncodedWord {
  std::string_view charset;
  char encoding;  // 'b' or 'q'
  std::string_view text;
  size_t end;  // index just past "?="
};

// Parses "=?charset?X?text?=" at s[pos] (which is "=?"). `next_close`
// caches the position of the next "?=" so that scanning a hostile header
// with many "=?" and no "?=" stays linear.
bool ParseEncodedWord(std::string_view s, size_t pos, EncodedWord& ew, size_t& next_close) {
  size_t i = pos + 2;
  const size_t cs_start = i;
  while (i < s.size() && s[i] != '?' && !IsSpace(s[i]) && i - cs_start < 64) ++i;
  if (i >= s.size() || s[i] != '?') return false;  // an empty charset is unlabelled
  ew.charset = s.substr(cs_start, i - cs_start);
  if (i + 2 >= s.size()) return false;
  const char enc = Lower(s[i + 1]);
  if ((enc != 'b' && enc != 'q') || s[i + 2] != '?') return false;
  ew.encoding = enc;
  const size_t text_start = i + 3;
  // Spaces and folds inside the text are a broken form we accept, within
  // a bound.
  if (next_close == std::string_view::npos || next_close < text_start) {
    next_close = s.find("?=", text_start);
    if (next_close == std::string_view::npos) next_close = s.size();
  }
  const size_t close = next_close;
  if (close >= s.size() || close - text_start > 2048) return false;
  ew.text = s.substr(text_start, close - text_start);
  ew.end = close + 2;
  return true;
}

bool AllSpace(std::string_view s) {
  for (char c : s)
    if (!IsSpace(c)) return false;
  return true;
}

void PercentDecodeAppend(std::string& out, std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
}

// Skips a (possibly nested) comment starting at s[i] == '('.
size_t SkipComment(std::string_view s, size_t i) {
  int depth = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) return i + 1;
    ++i;
  }
  return s.size();
}

// Reads a quoted string starting at s[i] == '"'; unescapes into `out`.
// Tolerates a missing closing quote.
size_t ReadQuoted(std::string_view s, size_t i, std::string& out) {
  ++i;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size()) {
      out.push_back(s[i + 1]);
      i += 2;
      continue;
    }
    if (c == '"') return i + 1;
    if (c == '\r' || c == '\n') {
      ++i;
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return i;
}

}  // namespace

std::string Unfold(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '\r' || c == '\n') continue;
    out.push_back(c);
  }
  return out;
}

std::string DecodeHeaderText(std::string_view v) {
  std::string out;
  v = Trim(v);
  if (v.find("=?") == std::string_view::npos) {
    // Fast path: nothing to decode.
    bool simple = IsAscii(v);
    if (simple)
      for (char c : v)
        if (c == '\r' || c == '\n' || c == '\0') {
          simple = false;
          break;
        }
    if (simple) return std::string(v);
    AppendPlain(out, v);
    return out;
  }
  out.reserve(v.size());
  std::string pending;  // decoded bytes of adjacent encoded words
  std::string_view pending_charset;
  bool last_was_ew = false;
  auto flush = [&] {
    if (!pending.empty()) out += ToUtf8(pending, pending_charset);
    pending.clear();
  };
  size_t text_start = 0;
  size_t i = 0;
  size_t next_close = std::string_view::npos;
  while (i < v.size()) {
    const size_t pos = v.find("=?", i);
    if (pos == std::string_view::npos) break;
    EncodedWord ew;
    if (!ParseEncodedWord(v, pos, ew, next_close)) {
      i = pos + 1;
      continue;
    }
    std::string_view between = v.substr(text_start, pos - text_start);
    if (!(last_was_ew && AllSpace(between))) {
      flush();
      AppendPlain(out, between);
    }
    std::string bytes = ew.encoding == 'b' ? DecodeBase64(ew.text) : DecodeQuotedPrintable(ew.text, true);
    if (!EqualsIgnoreCase(ew.charset, pending_charset)) flush();
    pending_charset = ew.charset;
    pending += bytes;
    last_was_ew = true;
    i = text_start = ew.end;
  }
  flush();
  AppendPlain(out, v.substr(text_start));
  // Encoded words may decode to leading/trailing blanks or control bytes.
  size_t a = 0, b = out.size();
  while (a < b && IsSpace(out[a])) ++a;
  while (b > a && IsSpace(out[b - 1])) --b;
  if (a > 0 || b < out.size()) out = out.substr(a, b - a);
  return out;
}

const std::string* HeaderParams::Find(std::string_view name) const {
  for (const auto& p : params)
    if (EqualsIgnoreCase(p.first, name)) return &p.second;
  return nullptr;
}

HeaderParams ParseHeaderParams(std::string_view s) {
  HeaderParams r;
  size_t i = 0;
  const size_t n = s.size();
  // The value: up to ';', or up to whitespace when a parameter follows
  // without a semicolon ("text/plain charset=us-ascii").
  while (i < n && (IsSpace(s[i]) || s[i] == '"')) ++i;
  {
    const size_t start = i;
    while (i < n && s[i] != ';' && !IsSpace(s[i]) && s[i] != '(' && s[i] != '"') ++i;
    r.value = LowerCopy(s.substr(start, i - start));
  }

  struct Segment {
    std::string name;  // lower case, without "*N*"
    int index;         // -1 when not a continuation
    bool extended;
    std::string value;
  };
  std::vector<Segment> segs;
  while (i < n && segs.size() < 256) {
    // Skip separators and comments.
    if (IsSpace(s[i]) || s[i] == ';' || s[i] == '"') {
      ++i;
      continue;
    }
    if (s[i] == '(') {
      i = SkipComment(s, i);
      continue;
    }
    const size_t name_start = i;
    while (i < n && s[i] != '=' && s[i] != ';' && !IsSpace(s[i])) ++i;
    std::string_view name = s.substr(name_start, i - name_start);
    while (i < n && IsSpace(s[i])) ++i;
    if (i >= n || s[i] != '=') continue;  // attribute without value: ignored
    ++i;
    while (i < n && IsSpace(s[i])) ++i;
    std::string value;
    if (i < n && s[i] == '"') {
      i = ReadQuoted(s, i, value);
      // Garbage after the closing quote up to the next ';' is dropped.
      while (i < n && s[i] != ';') ++i;
    } else {
      const size_t vstart = i;
      while (i < n && s[i] != ';') ++i;
      std::string_view raw = Trim(s.substr(vstart, i - vstart));
      // A token ends at whitespace unless what follows is not another
      // parameter (file names with spaces are common).
      size_t sp = 0;
      while (sp < raw.size() && !IsSpace(raw[sp])) ++sp;
      if (sp < raw.size()) {
        std::string_view after = Trim(raw.substr(sp));
        const size_t eq = after.find('=');
        const bool comment = after.starts_with('(') && after.ends_with(')');
        if (comment || (eq != std::string_view::npos && after.substr(0, eq).find(' ') == std::string_view::npos &&
                        !after.starts_with("=?"))) {
          // "charset=x name=y" without ';': cut here and parse the rest.
          i = static_cast<size_t>(raw.data() - s.data()) + sp;
          raw = raw.substr(0, sp);
        }
      }
      value.assign(raw);
    }
    // Split "name*N*" into parts.
    Segment seg{LowerCopy(name), -1, false, std::move(value)};
    if (!seg.name.empty() && seg.name.back() == '*') {
      seg.extended = true;
      seg.name.pop_back();
    }
    if (const size_t star = seg.name.rfind('*'); star != std::string::npos) {
      std::string_view num = std::string_view(seg.name).substr(star + 1);
      int idx = 0;
      bool ok = !num.empty() && num.size() <= 4;
      for (size_t k = 0; ok && k < num.size(); ++k) {
        if (num[k] < '0' || num[k] > '9') ok = false;
        else idx = idx * 10 + (num[k] - '0');
      }
      if (ok) {
        seg.index = idx;
        seg.name.resize(star);
      }
    }
    if (seg.name.empty()) continue;
    segs.push_back(std::move(seg));
  }

  // Assemble: names in order of first appearance; RFC 2231 forms win over a
  // plain parameter of the same name.
  std::vector<std::string> names;
  for (const auto& sg : segs)
    if (std::find(names.begin(), names.end(), sg.name) == names.end()) names.push_back(sg.name);
  for (const auto& name : names) {
    std::vector<const Segment*> parts;
    const Segment* plain = nullptr;
    const Segment* single_ext = nullptr;
    for (const auto& sg : segs) {
      if (sg.name != name) continue;
      if (sg.index >= 0) {
        bool dup = false;
        for (const Segment* p : parts) dup |= p->index == sg.index;
        if (!dup) parts.push_back(&sg);
      } else if (sg.extended) {
        if (!single_ext) single_ext = &sg;
      } else if (!plain) {
        plain = &sg;
      }
    }
    std::stable_sort(parts.begin(), parts.end(),
                     [](const Segment* a, const Segment* b) { return a->index < b->index; });
    const bool raw_param = name == "boundary";
    std::string value;
    if (!parts.empty() || single_ext) {
      if (parts.empty()) parts.push_back(single_ext);
      std::string charset;
      std::string bytes;
      bool any_extended = false;
      for (size_t k = 0; k < parts.size(); ++k) {
        std::string_view v = parts[k]->value;
        if (parts[k]->extended) {
          if (!any_extended) {
            // charset'language'value on the first extended segment.
            const size_t q1 = v.find('\'');
            const size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
            if (q2 != std::string_view::npos) {
              charset.assign(v.substr(0, q1));
              v = v.substr(q2 + 1);
            }
          }
          any_extended = true;
          PercentDecodeAppend(bytes, v);
        } else {
          bytes.append(v);
        }
      }
      if (raw_param) {
        value = std::move(bytes);
      } else if (any_extended && !charset.empty()) {
        value = ToUtf8(bytes, charset);
      } else {
        value = DecodeHeaderText(bytes);
      }
    } else if (plain) {
      value = raw_param ? plain->value : DecodeHeaderText(plain->value);
    }
    r.params.emplace_back(name, std::move(value));
  }
  return r;
}

std::vector<std::string> ParseMessageIds(std::string_view v) {
  std::vector<std::string> ids;
  size_t i = 0;
  const size_t n = v.size();
  bool any_bracket = v.find('<') != std::string_view::npos;
  while (i < n && ids.size() < 10000) {
    const char c = v[i];
    if (c == '(') {
      i = SkipComment(v, i);
      continue;
    }
    if (any_bracket) {
      if (c != '<') {
        ++i;
        continue;
      }
      size_t j = i + 1;
      std::string id;
      while (j < n && v[j] != '>' && v[j] != '<') {
        if (!IsSpace(v[j])) id.push_back(v[j]);
        ++j;
      }
      if (j < n && v[j] == '>') ++j;
      i = j;
      if (!id.empty()) ids.push_back(std::move(id));
    } else {
      if (IsSpace(c) || c == ',' || c == ';') {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < n && !IsSpace(v[j]) && v[j] != ',' && v[j] != ';' && v[j] != '(') ++j;
      std::string_view tok = v.substr(i, j - i);
      if (tok.find('@') != std::string_view::npos || ids.empty()) ids.emplace_back(tok);
      i = j;
    }
  }
  for (auto& id : ids) id = SanitizeUtf8(id);
  return ids;
}

}  // namespace mailkeep::mime
