// ParseMessage: header blocks, the MIME tree and text extraction.
//
// All positions are offsets into `raw`; every slice is bounds-checked by
// construction (string_view::substr with clamped lengths, memchr/memmem over
// [pos, end)). Limits degrade: past them the rest is body (dovecot's
// message-parser does the same), and a Message always has its root part.
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/decode.h"
#include "store/mime/message.h"

namespace mailkeep::mime {
namespace {

bool IsWsp(char c) { return c == ' ' || c == '\t'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string LowerTrimmed(std::string_view s) {
  s = Trim(s);
  std::string r(s);
  for (char& c : r) c = Lower(c);
  return r;
}

struct Field {
  std::string_view name;
  std::string_view value;  // raw, may contain folds
};

struct HeaderBlock {
  std::vector<Field> fields;
  size_t body = 0;  // offset of the body in raw
  bool separator = false;
  bool too_large = false;
  bool bad = false;
};

// "Name:" with a printable, blank-free name (blanks before the colon allowed).
bool LooksLikeField(std::string_view line, size_t* colon_out) {
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  size_t name_end = colon;
  while (name_end > 0 && IsWsp(line[name_end - 1])) --name_end;
  if (name_end == 0) return false;
  for (size_t i = 0; i < name_end; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c <= 32 || c >= 127) return false;
  }
  if (colon_out) *colon_out = colon;
  return true;
}

// "name=value" (optionally with a trailing ';'): a MIME parameter.
bool LooksLikeParameter(std::string_view line) {
  const size_t eq = line.find('=');
  if (eq == std::string_view::npos || eq == 0) return false;
  for (size_t i = 0; i < eq; ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    if (c <= 32 || c >= 127 || c == ':' || c == '"') return false;
  }
  return true;
}

class Parser {
 public:
  Parser(std::string_view raw, const ParseLimits& limits, Message& msg)
      : raw_(raw), lim_(limits), msg_(msg) {
    if (lim_.max_depth < 0) lim_.max_depth = 0;
  }

  void Run() {
    ParseEntity(0, raw_.size(), 0, "1", "", "", false, false, true);
  }

 private:
  // Returns the line [pos, eol) without its line break and sets `next`.
  std::string_view Line(size_t pos, size_t end, size_t& next) const {
    const void* nl = pos < end ? std::memchr(raw_.data() + pos, '\n', end - pos) : nullptr;
    size_t eol = nl ? static_cast<size_t>(static_cast<const char*>(nl) - raw_.data()) : end;
    next = nl ? eol + 1 : end;
    if (eol > pos && raw_[eol - 1] == '\r') --eol;
    return raw_.substr(pos, eol - pos);
  }

  HeaderBlock ReadHeader(size_t begin, size_t end) const {
    HeaderBlock hb;
    size_t pos = begin;
    size_t value_start = 0;
    while (pos < end) {
      size_t next;
      std::string_view line = Line(pos, end, next);
      if (line.empty()) {
        hb.separator = true;
        hb.body = next;
        return hb;
      }
      if (pos - begin > lim_.max_header_bytes) {
        hb.too_large = true;
        hb.body = pos;
        return hb;
      }
      if (IsWsp(line[0])) {
        if (!hb.fields.empty()) {
          const size_t line_end = pos + line.size();
          hb.fields.back().value = raw_.substr(value_start, line_end - value_start);
        } else {
          hb.bad = true;
        }
        pos = next;
        continue;
      }
      size_t colon;
      if (!LooksLikeField(line, &colon) && !hb.fields.empty() && LooksLikeParameter(line)) {
        // "Content-Type: text/html;\ncharset=x": a parameter on an
        // unindented line continues the previous field.
        hb.bad = true;
        hb.fields.back().value = raw_.substr(value_start, pos + line.size() - value_start);
        pos = next;
        continue;
      }
      if (!LooksLikeField(line, &colon)) {
        // Skip one bad line if a field follows ("From " mbox lines, junk);
        // otherwise the body starts here (missing blank line).
        size_t after;
        std::string_view peek = Line(next, end, after);
        // An mbox "From " separator before the first field is not a defect.
        if (!(pos == begin && line.starts_with("From "))) hb.bad = true;
        if (next < end && LooksLikeField(peek, nullptr)) {
          pos = next;
          continue;
        }
        hb.body = pos;
        return hb;
      }
      size_t name_end = colon;
      while (name_end > 0 && IsWsp(line[name_end - 1])) --name_end;
      value_start = pos + colon + 1;
      hb.fields.push_back({line.substr(0, name_end), raw_.substr(value_start, line.size() - colon - 1)});
      pos = next;
    }
    hb.body = end;
    return hb;
  }

  static const Field* FindField(const HeaderBlock& hb, std::string_view name) {
    for (const auto& f : hb.fields)
      if (EqualsIgnoreCase(f.name, name)) return &f;
    return nullptr;
  }

  static std::string FieldValue(std::string_view raw_value) {
    return std::string(Trim(Unfold(raw_value)));
  }

  void FillTopLevel(const HeaderBlock& hb) {
    msg_.headers.reserve(hb.fields.size());
    bool have_from = false, have_sender = false, have_reply_to = false, have_subject = false,
         have_id = false, have_date = false, have_irt = false, have_refs = false;
    for (const auto& f : hb.fields) {
      std::string value = FieldValue(f.value);
      const std::string_view n = f.name;
      if (EqualsIgnoreCase(n, "subject")) {
        if (!have_subject) msg_.subject = DecodeHeaderText(f.value);  // folds seen, so collapsed
        have_subject = true;
      } else if (EqualsIgnoreCase(n, "from")) {
        if (!have_from) msg_.from = ParseAddressList(value);
        have_from = true;
      } else if (EqualsIgnoreCase(n, "to")) {
        Append(msg_.to, ParseAddressList(value));
      } else if (EqualsIgnoreCase(n, "cc")) {
        Append(msg_.cc, ParseAddressList(value));
      } else if (EqualsIgnoreCase(n, "bcc")) {
        Append(msg_.bcc, ParseAddressList(value));
      } else if (EqualsIgnoreCase(n, "sender")) {
        if (!have_sender) msg_.sender = ParseAddressList(value);
        have_sender = true;
      } else if (EqualsIgnoreCase(n, "reply-to")) {
        if (!have_reply_to) msg_.reply_to = ParseAddressList(value);
        have_reply_to = true;
      } else if (EqualsIgnoreCase(n, "date")) {
        if (!have_date) {
          msg_.date = ParseDate(value);
          have_date = msg_.date.has_value();
        }
      } else if (EqualsIgnoreCase(n, "message-id")) {
        if (!have_id) {
          auto ids = ParseMessageIds(value);
          if (!ids.empty()) msg_.message_id = std::move(ids.front());
        }
        have_id = true;
      } else if (EqualsIgnoreCase(n, "in-reply-to")) {
        if (!have_irt) {
          auto ids = ParseMessageIds(value);
          if (!ids.empty()) msg_.in_reply_to = std::move(ids.front());
        }
        have_irt = true;
      } else if (EqualsIgnoreCase(n, "references")) {
        if (!have_refs) msg_.references = ParseMessageIds(value);
        have_refs = true;
      }
      msg_.headers.emplace_back(std::string(f.name), std::move(value));
    }
  }

  static void Append(std::vector<Address>& to, std::vector<Address>&& more) {
    if (to.empty()) {
      to = std::move(more);
    } else {
      for (auto& a : more) to.push_back(std::move(a));
    }
  }

  // Parses the entity in raw[begin, end). `leaf_path` is its path when it
  // is not multipart, `container_path` when it is, `child_prefix` the
  // prefix of its children's paths.
  void ParseEntity(size_t begin, size_t end, int depth, const std::string& leaf_path,
                   const std::string& container_path, const std::string& child_prefix, bool digest_child,
                   bool skip_html, bool top) {
    HeaderBlock hb = ReadHeader(begin, end);
    if (hb.too_large) msg_.defects |= kDefectHeaderTooLarge;
    if (hb.bad) msg_.defects |= kDefectBadHeader;
    if (top) {
      if (!hb.separator && !hb.too_large) msg_.defects |= kDefectNoHeader;
      FillTopLevel(hb);
    }

    Part part;
    part.depth = depth;
    part.header_offset = begin;
    part.body_offset = hb.body;
    part.body_length = end - hb.body;

    HeaderParams ct;
    if (const Field* f = FindField(hb, "content-type")) ct = ParseHeaderParams(FieldValue(f->value));
    const size_t slash = ct.value.find('/');
    const bool usable = slash != std::string::npos && slash > 0 && slash + 1 < ct.value.size() &&
                        ct.value.find('/', slash + 1) == std::string::npos;
    part.content_type = usable ? ct.value : (digest_child ? "message/rfc822" : "text/plain");
    if (const std::string* cs = ct.Find("charset")) part.charset = LowerTrimmed(*cs);
    HeaderParams cd;
    if (const Field* f = FindField(hb, "content-disposition")) {
      cd = ParseHeaderParams(FieldValue(f->value));
      part.disposition = cd.value;
    }
    const std::string* fname = cd.Find("filename");
    if (!fname || fname->empty()) fname = ct.Find("name");
    if (fname) {
      std::string_view name = Trim(*fname);
      const size_t sep = name.find_last_of("/\\");
      if (sep != std::string_view::npos) name.remove_prefix(sep + 1);
      part.filename.assign(name);
    }
    if (const Field* f = FindField(hb, "content-id")) {
      std::string id = FieldValue(f->value);
      std::string_view v = Trim(id);
      if (v.size() >= 2 && v.front() == '<' && v.back() == '>') v = v.substr(1, v.size() - 2);
      part.content_id = SanitizeUtf8(v);
    }
    if (const Field* f = FindField(hb, "content-transfer-encoding"))
      part.transfer_encoding = LowerTrimmed(FieldValue(f->value));

    const bool encoded = part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable";
    part.is_multipart = part.content_type.starts_with("multipart/");
    part.is_message = !encoded && (part.content_type == "message/rfc822" ||
                                   part.content_type == "message/global");
    const bool container = part.is_multipart || part.is_message;
    if (container && depth >= lim_.max_depth) {
      msg_.defects |= kDefectTooDeep;
      part.is_multipart = part.is_message = false;
    }
    part.path = part.is_multipart ? container_path : leaf_path;
    if (!part.is_multipart) {
      part.is_attachment = part.disposition == "attachment" || !part.filename.empty();
    }
    std::string_view body = raw_.substr(hb.body, end - hb.body);
    if (part.is_multipart || part.is_message) {
      part.size = body.size();
    } else {
      part.size = DecodedSize(body, part.transfer_encoding);
    }
    if (part.is_attachment && !part.filename.empty()) msg_.attachments.push_back(part.filename);

    const size_t index = msg_.parts.size();
    msg_.parts.push_back(std::move(part));
    Part& p = msg_.parts[index];

    if (p.is_multipart) {
      const std::string* boundary = ct.Find("boundary");
      std::string b = boundary ? *boundary : std::string();
      ParseMultipart(index, hb.body, end, depth, child_prefix, b, skip_html);
    } else if (p.is_message) {
      const std::string prefix = p.path;  // copy: parts_ may reallocate
      if (TakePartSlot())
        ParseEntity(hb.body, end, depth + 1, prefix + ".1", prefix + ".TEXT", prefix, false, false, false);
    } else {
      Leaf(index, body, skip_html);
    }
  }

  bool TakePartSlot() {
    if (static_cast<int>(msg_.parts.size()) >= lim_.max_parts) {
      msg_.defects |= kDefectTooManyParts;
      return false;
    }
    return true;
  }

  struct Delimiter {
    size_t start;  // offset of "--boundary"
    size_t after;  // offset after its line
    bool final;
  };

  // Delimiter lines for `boundary` in raw[begin, end), up to the final one.
  std::vector<Delimiter> FindDelimiters(size_t begin, size_t end, std::string_view boundary) const {
    std::vector<Delimiter> out;
    std::string delim = "--";
    delim.append(boundary);
    size_t pos = begin;
    while (pos < end && end - pos >= delim.size()) {
      const void* hit = memmem(raw_.data() + pos, end - pos, delim.data(), delim.size());
      if (!hit) break;
      const size_t f = static_cast<size_t>(static_cast<const char*>(hit) - raw_.data());
      pos = f + 1;
      if (f != begin && raw_[f - 1] != '\n') continue;
      size_t q = f + delim.size();
      bool final = false;
      if (q + 1 < end && raw_[q] == '-' && raw_[q + 1] == '-') {
        final = true;
        q += 2;
      }
      while (q < end && (IsWsp(raw_[q]) || raw_[q] == '\r')) ++q;
      if (q < end && raw_[q] != '\n') continue;  // "--boundaryX": another boundary
      out.push_back({f, q < end ? q + 1 : end, final});
      if (final) break;
      pos = q;
    }
    return out;
  }

  // A multipart without a usable boundary parameter: take the first
  // "--token" line of the body as its boundary.
  std::string GuessBoundary(size_t begin, size_t end) const {
    size_t pos = begin;
    int lines = 0;
    while (pos < end && lines < 200) {
      size_t next;
      std::string_view line = Line(pos, end, next);
      ++lines;
      if (line.size() > 2 && line.starts_with("--")) {
        std::string_view b = Trim(line.substr(2));
        if (b.ends_with("--")) b.remove_suffix(2);
        if (!b.empty() && b.size() <= 200) return std::string(b);
      }
      pos = next;
    }
    return {};
  }

  bool HasUsefulPlain(size_t end, const std::vector<Delimiter>& ds) const {
    for (size_t k = 0; k < ds.size() && !ds[k].final; ++k) {
      const size_t pb = ds[k].after;
      const size_t pe = k + 1 < ds.size() ? PartEnd(pb, ds[k + 1].start) : end;
      HeaderBlock hb = ReadHeader(pb, pe);
      std::string type = "text/plain";
      if (const Field* f = FindField(hb, "content-type")) type = ParseHeaderParams(FieldValue(f->value)).value;
      if (const Field* f = FindField(hb, "content-disposition"))
        if (ParseHeaderParams(FieldValue(f->value)).value == "attachment") continue;
      if (type != "text/plain") continue;
      if (!Trim(raw_.substr(hb.body, pe - hb.body)).empty()) return true;
    }
    return false;
  }

  // The line break before a delimiter belongs to the delimiter.
  size_t PartEnd(size_t part_begin, size_t delim_start) const {
    size_t e = delim_start;
    if (e > part_begin && raw_[e - 1] == '\n') --e;
    if (e > part_begin && raw_[e - 1] == '\r') --e;
    return e;
  }

  void ParseMultipart(size_t index, size_t begin, size_t end, int depth, const std::string& prefix,
                      std::string boundary, bool skip_html) {
    std::vector<Delimiter> ds;
    if (!boundary.empty()) ds = FindDelimiters(begin, end, boundary);
    if (ds.empty()) {
      msg_.defects |= kDefectMissingBoundary;
      boundary = GuessBoundary(begin, end);
      if (!boundary.empty()) ds = FindDelimiters(begin, end, boundary);
    }
    if (ds.empty()) {
      // Nothing to split: keep the body as one text leaf.
      Leaf(index, raw_.substr(begin, end - begin), skip_html, /*force_text=*/true);
      return;
    }
    if (!ds.back().final) msg_.defects |= kDefectNoFinalBoundary;
    const std::string type = msg_.parts[index].content_type;
    const bool digest = type == "multipart/digest";
    bool child_skip_html = skip_html;
    if (type == "multipart/alternative" && lim_.extract_text && HasUsefulPlain(end, ds))
      child_skip_html = true;
    int n = 0;
    for (size_t k = 0; k < ds.size(); ++k) {
      if (ds[k].final) break;
      const size_t pb = ds[k].after;
      const size_t pe = k + 1 < ds.size() ? PartEnd(pb, ds[k + 1].start) : end;
      if (!TakePartSlot()) return;
      ++n;
      std::string path = prefix.empty() ? std::to_string(n) : prefix + "." + std::to_string(n);
      ParseEntity(pb, pe, depth + 1, path, path, path, digest, child_skip_html, false);
    }
  }

  void AppendText(std::string_view text) {
    if (msg_.text.size() >= lim_.max_text_bytes) return;
    // Normalize line endings and trim.
    while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
    while (!text.empty() && (text.front() == '\r' || text.front() == '\n')) text.remove_prefix(1);
    if (text.empty()) return;
    if (!msg_.text.empty()) msg_.text.append("\n\n");
    for (size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (c == '\r') {
        if (i + 1 < text.size() && text[i + 1] == '\n') continue;
        msg_.text.push_back('\n');
      } else if (c == '\0') {
        continue;
      } else {
        msg_.text.push_back(c);
      }
    }
    if (msg_.text.size() > lim_.max_text_bytes) {
      size_t cut = lim_.max_text_bytes;
      while (cut > 0 && (static_cast<unsigned char>(msg_.text[cut]) & 0xC0) == 0x80) --cut;
      msg_.text.resize(cut);
    }
  }

  // Looks for <meta charset=...> / content="...; charset=..." in HTML.
  static std::string SniffHtmlCharset(std::string_view html) {
    html = html.substr(0, 4096);
    size_t pos = 0;
    while (true) {
      // case-insensitive search for "charset="
      size_t found = std::string_view::npos;
      for (size_t i = pos; i + 8 <= html.size(); ++i) {
        if (Lower(html[i]) == 'c' && EqualsIgnoreCase(html.substr(i, 7), "charset")) {
          size_t j = i + 7;
          while (j < html.size() && IsSpace(html[j])) ++j;
          if (j < html.size() && html[j] == '=') {
            found = j + 1;
            break;
          }
        }
      }
      if (found == std::string_view::npos) return {};
      size_t j = found;
      while (j < html.size() && (IsSpace(html[j]) || html[j] == '"' || html[j] == '\'')) ++j;
      size_t e = j;
      while (e < html.size() && !IsSpace(html[e]) && html[e] != '"' && html[e] != '\'' && html[e] != ';' &&
             html[e] != '>' && html[e] != '/')
        ++e;
      if (e > j) return LowerTrimmed(html.substr(j, e - j));
      pos = found;
    }
  }

  void Leaf(size_t index, std::string_view body, bool skip_html, bool force_text = false) {
    const Part& p = msg_.parts[index];
    const bool plain = force_text || p.content_type == "text/plain" || p.content_type == "text/enriched";
    const bool html = !force_text && p.content_type == "text/html";
    const bool may_have_uu = p.content_type == "text/plain" && body.find("begin ") != std::string_view::npos;
    if (p.disposition == "attachment" || (!plain && !html)) return;
    if (html && skip_html) return;
    if (!lim_.extract_text && !may_have_uu) return;
    if (msg_.text.size() >= lim_.max_text_bytes && !may_have_uu) return;
    bool bad = false;
    std::string decoded = DecodeTransfer(body, force_text ? std::string_view() : p.transfer_encoding, &bad);
    std::string charset = p.charset;
    if (html && charset.empty()) charset = SniffHtmlCharset(decoded);
    std::string utf8 = ToUtf8(decoded, charset, &bad);
    if (bad) msg_.defects |= kDefectBadEncoding;
    if (html) {
      AppendText(HtmlToText(utf8));
      return;
    }
    if (may_have_uu) {
      std::vector<std::pair<std::string, std::string>> blocks;
      std::string rest = StripUuencodedBlocks(utf8, &blocks);
      for (auto& b : blocks) msg_.attachments.push_back(SanitizeUtf8(b.first));
      if (lim_.extract_text) AppendText(rest);
      return;
    }
    AppendText(utf8);
  }

  std::string_view raw_;
  ParseLimits lim_;
  Message& msg_;
};

}  // namespace

const std::string* Message::FindHeader(std::string_view name) const {
  for (const auto& h : headers)
    if (EqualsIgnoreCase(h.first, name)) return &h.second;
  return nullptr;
}

Message ParseMessage(std::string_view raw, const ParseLimits& limits) {
  Message msg;
  Parser(raw, limits, msg).Run();
  return msg;
}

}  // namespace mailkeep::mime
