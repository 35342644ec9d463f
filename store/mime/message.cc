// ParseMessage: header blocks, the MIME tree and text extraction.
//
// All positions are offsets into the buffer a Parser walks (`raw`, or the
// decoded body of a transfer-encoded message/rfc822 part, parsed by a
// Parser of its own); every slice is bounds-checked by
// construction (string_view::substr with clamped lengths, memchr/memmem over
// [pos, end)). Limits degrade: past them the rest is body (dovecot's
// message-parser does the same), and a Message always has its root part.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/ascii.h"
#include "store/mime/decode.h"
#include "store/mime/message.h"

namespace mailkeep::mime {
namespace {

using ascii::IsWsp;
using ascii::IsSpace;
using ascii::Lower;
using ascii::EqualsIgnoreCase;
using ascii::Trim;

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

// Where a body part stops: a delimiter line of one of the boundaries in
// effect, or the end of the buffer.
struct Hit {
  size_t start = 0;  // offset of the "--boundary" line; the buffer size at the end
  size_t after = 0;  // offset after that line (its line break included)
  int level = -1;    // index of the matched boundary in the parser's stack; -1 at the end
  bool final = false;
};

// Whether `line` (no line break, maybe a trailing CR) is a delimiter of
// `boundary`: "--" boundary, "--" more for the final one, then the end of
// the line or a blank. RFC 2046 allows only trailing blanks, but mailers put
// text after them ("--b This is ignored", mime4j's ending-boundaries.msg),
// so anything after a blank is ignored. "--boundaryX" is not a delimiter of
// "boundary": it may be another, longer boundary. Returns 0 (no), 1
// (delimiter) or 2 (final).
int MatchBoundary(std::string_view line, std::string_view boundary) {
  if (line.size() < 2 + boundary.size() || line.compare(2, boundary.size(), boundary) != 0) return 0;
  size_t q = 2 + boundary.size();
  int kind = 1;
  if (q + 1 < line.size() && line[q] == '-' && line[q + 1] == '-') {
    kind = 2;
    q += 2;
  }
  return (q == line.size() || IsWsp(line[q]) || line[q] == '\r') ? kind : 0;
}

// The parser walks the buffer once, top to bottom, like GMime's and
// Dovecot's: a multipart pushes its boundary on a stack, and every line
// starting with "--" is matched against the stack innermost first, so an
// inner boundary wins over an outer one it extends (outer "a--", inner
// "a----": "--a----" delimits the inner part, it does not close the outer).
// A part's body ends at the first such line; an outer boundary ends every
// multipart inside it. Each byte is scanned once per nesting level at most
// (a multipart/alternative also pre-reads its children's headers): memmem
// looks for "--" plus the prefix the boundaries in effect share, and each
// line starting with it costs one comparison per boundary in effect.
class Parser {
 public:
  // `decoded_budget` bounds the bytes of transfer-decoded message/rfc822
  // bodies held at once; `in_decoded` marks a parser over such a body.
  Parser(std::string_view raw, const ParseLimits& limits, Message& msg, size_t* decoded_budget, bool in_decoded)
      : raw_(raw), lim_(limits), msg_(msg), decoded_budget_(decoded_budget), in_decoded_(in_decoded) {
    if (lim_.max_depth < 0) lim_.max_depth = 0;
  }

  void Run() { ParseEntity(0, 0, "1", "", "", false, false, true); }

  // The message inside a transfer-encoded message/rfc822 part at `depth` - 1
  // whose path is `prefix`.
  void RunNested(int depth, const std::string& prefix) {
    ParseEntity(0, depth, prefix + ".1", prefix + ".TEXT", prefix, false, false, false);
  }

 private:
  // Returns the line [pos, eol) without its line break and sets `next`.
  std::string_view Line(size_t pos, size_t& next) const {
    const size_t end = raw_.size();
    const void* nl = pos < end ? std::memchr(raw_.data() + pos, '\n', end - pos) : nullptr;
    size_t eol = nl ? static_cast<size_t>(static_cast<const char*>(nl) - raw_.data()) : end;
    next = nl ? eol + 1 : end;
    if (eol > pos && raw_[eol - 1] == '\r') --eol;
    return raw_.substr(pos, eol - pos);
  }

  // The innermost boundary in effect that `line` delimits, or -1.
  int MatchStack(std::string_view line, bool* final) const {
    if (line.size() < 2 || line[0] != '-' || line[1] != '-') return -1;
    for (size_t k = stack_.size(); k-- > 0;) {
      if (const int m = MatchBoundary(line, stack_[k])) {
        *final = m == 2;
        return static_cast<int>(k);
      }
    }
    return -1;
  }

  // The first occurrence of `needle` at or after `pos`, or npos. memmem
  // runs over bounded windows: sanitizers check a whole haystack per call,
  // which would make many calls over a large body quadratic.
  size_t Find(size_t pos, std::string_view needle) const {
    const size_t end = raw_.size();
    const size_t window = std::max<size_t>(size_t{1} << 16, 2 * needle.size());
    while (pos < end && end - pos >= needle.size()) {
      const size_t len = std::min(end - pos, window);
      const void* f = memmem(raw_.data() + pos, len, needle.data(), needle.size());
      if (f != nullptr) return static_cast<size_t>(static_cast<const char*>(f) - raw_.data());
      if (len == end - pos) break;
      pos += len - needle.size() + 1;
    }
    return std::string_view::npos;
  }

  void Push(const std::string& boundary) {
    // The needle: "--" and the prefix all boundaries in effect share.
    std::string needle = "--";
    if (stack_.empty()) {
      needle += boundary;
    } else {
      const std::string_view prev = std::string_view(needles_.back()).substr(2);
      size_t k = 0;
      while (k < prev.size() && k < boundary.size() && prev[k] == boundary[k]) ++k;
      needle += prev.substr(0, k);
    }
    stack_.push_back(boundary);
    needles_.push_back(std::move(needle));
  }

  void Pop() {
    stack_.pop_back();
    needles_.pop_back();
  }

  // The first delimiter line of a boundary in effect at or after `pos`
  // (which is a line start or the end).
  Hit NextBoundary(size_t pos) const {
    const size_t end = raw_.size();
    if (stack_.empty()) return {end, end, -1, false};
    const char* d = raw_.data();
    const std::string& needle = needles_.back();
    while (pos < end) {
      const size_t cand = Find(pos, needle);
      if (cand == std::string_view::npos) break;
      pos = cand + 1;
      if (cand > 0 && d[cand - 1] != '\n') continue;
      size_t next;
      const std::string_view line = Line(cand, next);
      bool final = false;
      const int level = MatchStack(line, &final);
      if (level >= 0) return {cand, next, level, final};
    }
    return {end, end, -1, false};
  }

  // The header block at `begin`. Inside a multipart it also ends at a
  // delimiter line (a part whose header runs into the next boundary).
  HeaderBlock ReadHeader(size_t begin) const {
    const size_t end = raw_.size();
    HeaderBlock hb;
    size_t pos = begin;
    size_t value_start = 0;
    while (pos < end) {
      size_t next;
      std::string_view line = Line(pos, next);
      if (line.empty()) {
        hb.separator = true;
        hb.body = next;
        return hb;
      }
      bool final;
      if (!stack_.empty() && MatchStack(line, &final) >= 0) {
        hb.body = pos;
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
        // otherwise the body starts here (missing blank line). A "--" line
        // is rather the first boundary of a multipart whose header lacks
        // the blank line, so the body starts there too.
        size_t after;
        std::string_view peek = Line(next, after);
        // An mbox "From " separator before the first field is not a defect.
        if (!(pos == begin && line.starts_with("From "))) hb.bad = true;
        if (next < end && !line.starts_with("--") && LooksLikeField(peek, nullptr)) {
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

  // Sets the body extent of part `index` (body_offset is set): it ends
  // before the delimiter line `stop` (whose line break belongs to it).
  void SetBodyEnd(size_t index, const Hit& stop) {
    Part& p = msg_.parts[index];
    const size_t e = stop.level >= 0 ? PartEnd(p.body_offset, stop.start) : stop.start;
    p.body_length = e - p.body_offset;
    if (p.is_multipart || p.is_message) p.size = p.body_length;
  }

  // Parses the entity starting at `begin` and returns the delimiter line
  // (or the end) that ends it. `leaf_path` is its path when it is not
  // multipart, `container_path` when it is, `child_prefix` the prefix of its
  // children's paths.
  Hit ParseEntity(size_t begin, int depth, const std::string& leaf_path, const std::string& container_path,
                  const std::string& child_prefix, bool digest_child, bool skip_html, bool top) {
    HeaderBlock hb = ReadHeader(begin);
    if (hb.too_large) Flag(kDefectHeaderTooLarge);
    if (hb.bad) Flag(kDefectBadHeader);
    if (top) {
      if (!hb.separator && !hb.too_large) Flag(kDefectNoHeader);
      FillTopLevel(hb);
    }

    Part part;
    part.depth = depth;
    part.header_offset = begin;
    part.body_offset = hb.body;
    part.in_decoded = in_decoded_;

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

    part.is_multipart = part.content_type.starts_with("multipart/");
    part.is_message = part.content_type == "message/rfc822" || part.content_type == "message/global";
    if ((part.is_multipart || part.is_message) && depth >= lim_.max_depth) {
      Flag(kDefectTooDeep);
      part.is_multipart = part.is_message = false;
    }
    // RFC 2046 allows only identity encodings on message parts; an encoded
    // one is decoded and parsed (ParseEncodedMessage).
    const bool encoded = part.transfer_encoding == "base64" || part.transfer_encoding == "quoted-printable";
    part.path = part.is_multipart ? container_path : leaf_path;
    if (!part.is_multipart) part.is_attachment = IsAttachment(part.content_type, part.disposition, part.filename);
    if (part.is_attachment && !part.filename.empty()) msg_.attachments.push_back(part.filename);

    const size_t index = msg_.parts.size();
    msg_.parts.push_back(std::move(part));
    const Part& p = msg_.parts[index];

    if (p.is_multipart) {
      const std::string* boundary = ct.Find("boundary");
      return ParseMultipart(index, depth, child_prefix, boundary ? *boundary : std::string(), skip_html);
    }
    if (p.is_message && !encoded) {
      // The inner message ends where this part does, at the next delimiter
      // in effect (its own multiparts pop their boundaries).
      const std::string prefix = p.path;  // copy: parts_ may reallocate
      const Hit stop = TakePartSlot() ? ParseEntity(p.body_offset, depth + 1, prefix + ".1", prefix + ".TEXT",
                                                    prefix, false, false, false)
                                      : NextBoundary(p.body_offset);
      SetBodyEnd(index, stop);
      return stop;
    }
    // A leaf or an encoded message: its body runs to the next delimiter line.
    const Hit stop = NextBoundary(p.body_offset);
    SetBodyEnd(index, stop);
    const std::string_view body = raw_.substr(p.body_offset, msg_.parts[index].body_length);
    if (p.is_message) {
      if (!ParseEncodedMessage(index, body, depth)) {
        Part& q = msg_.parts[index];
        q.is_message = false;
        q.size = DecodedSize(body, q.transfer_encoding);
      }
    } else {
      msg_.parts[index].size = DecodedSize(body, p.transfer_encoding);
      Leaf(index, body, skip_html);
    }
    return stop;
  }

  // message/rfc822 with a base64 or quoted-printable body (RFC 2046 forbids
  // it, mailers do it): parsed from its decoded bytes by a parser of its
  // own, whose parts have `in_decoded` set. False when it cannot be (part
  // slots or the decoding budget exhausted): the part stays a leaf.
  bool ParseEncodedMessage(size_t index, std::string_view body, int depth) {
    if (!TakePartSlot()) return false;
    bool bad = false;
    std::string decoded = DecodeTransfer(body, msg_.parts[index].transfer_encoding, &bad);
    if (decoded.size() > *decoded_budget_) return false;
    if (bad) Flag(kDefectBadEncoding);
    *decoded_budget_ -= decoded.size();
    const std::string prefix = msg_.parts[index].path;
    Parser(decoded, lim_, msg_, decoded_budget_, true).RunNested(depth + 1, prefix);
    *decoded_budget_ += decoded.size();
    return true;
  }

  bool TakePartSlot() {
    if (static_cast<int>(msg_.parts.size()) >= lim_.max_parts) {
      Flag(kDefectTooManyParts);
      return false;
    }
    return true;
  }

  // A multipart without a usable boundary: the first "--token" line of
  // [begin, end) (the body up to any outer delimiter) is taken as its
  // boundary.
  std::string GuessBoundary(size_t begin, size_t end) const {
    size_t pos = begin;
    int lines = 0;
    while (pos < end && lines < 200) {
      size_t next;
      std::string_view line = Line(pos, next);
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

  // Whether a multipart/alternative has a non-empty text/plain child;
  // `hit` is its first delimiter (its boundary is the top of the stack).
  bool HasUsefulPlain(Hit hit) const {
    const int level = static_cast<int>(stack_.size()) - 1;
    while (hit.level == level && !hit.final) {
      HeaderBlock hb = ReadHeader(hit.after);
      const Hit next = NextBoundary(hb.body);
      std::string type = "text/plain";
      if (const Field* f = FindField(hb, "content-type")) type = ParseHeaderParams(FieldValue(f->value)).value;
      bool attachment = false;
      if (const Field* f = FindField(hb, "content-disposition"))
        attachment = ParseHeaderParams(FieldValue(f->value)).value == "attachment";
      if (!attachment && type == "text/plain") {
        const size_t e = next.level >= 0 ? PartEnd(hb.body, next.start) : next.start;
        if (!Trim(raw_.substr(hb.body, e - hb.body)).empty()) return true;
      }
      hit = next;
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

  // The body of multipart part `index`: preamble, parts, epilogue. Returns
  // the outer delimiter (or the end) that ends it.
  Hit ParseMultipart(size_t index, int depth, const std::string& prefix, std::string boundary, bool skip_html) {
    const size_t body = msg_.parts[index].body_offset;
    const int level = static_cast<int>(stack_.size());
    Hit hit;
    if (!boundary.empty()) {
      Push(boundary);
      hit = NextBoundary(body);
      if (hit.level != level) Pop();
    }
    if (boundary.empty() || hit.level != level) {
      Flag(kDefectMissingBoundary);
      // The preamble scan stopped at an outer delimiter or the end.
      const Hit outer = boundary.empty() ? NextBoundary(body) : hit;
      boundary = GuessBoundary(body, outer.start);
      hit = outer;
      if (!boundary.empty()) {
        Push(boundary);
        hit = NextBoundary(body);
        if (hit.level != level) {
          Pop();
          hit = outer;
        }
      }
      if (hit.level != level) {
        // Nothing to split: keep the body as one text leaf.
        SetBodyEnd(index, hit);
        Leaf(index, raw_.substr(body, msg_.parts[index].body_length), skip_html, /*force_text=*/true);
        return hit;
      }
    }
    const std::string type = msg_.parts[index].content_type;
    const bool digest = type == "multipart/digest";
    bool child_skip_html = skip_html;
    if (type == "multipart/alternative" && lim_.extract_text && HasUsefulPlain(hit)) child_skip_html = true;
    int n = 0;
    bool full = false;
    while (hit.level == level && !hit.final) {
      if (hit.after == raw_.size()) break;  // a delimiter at the very end starts no part
      if (full || !TakePartSlot()) {
        // Out of part slots: skip to this multipart's end.
        full = true;
        hit = NextBoundary(hit.after);
        continue;
      }
      ++n;
      std::string path = prefix.empty() ? std::to_string(n) : prefix + "." + std::to_string(n);
      hit = ParseEntity(hit.after, depth + 1, path, path, path, digest, child_skip_html, false);
    }
    Pop();
    if (hit.level == level && hit.final) {
      // The epilogue runs to an outer delimiter.
      hit = NextBoundary(hit.after);
    } else {
      Flag(kDefectNoFinalBoundary);
      if (hit.level == level) hit = {hit.after, hit.after, -1, false};  // the last line
    }
    SetBodyEnd(index, hit);
    return hit;
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
    // Decoding a text leaf is skipped without extract_text (but for uuencode).
    if (bad) Flag(kDefectBadEncoding, /*text_only=*/!may_have_uu);
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

  // Records a defect; `text_only` when only text extraction found it.
  void Flag(uint32_t defect, bool text_only = false) {
    msg_.defects |= defect;
    if (!text_only) msg_.defects_without_text |= defect;
  }

  std::string_view raw_;
  ParseLimits lim_;
  Message& msg_;
  size_t* decoded_budget_;
  bool in_decoded_;
  std::vector<std::string> stack_;    // boundaries in effect, innermost last
  std::vector<std::string> needles_;  // needles_[k]: "--" + the prefix stack_[0..k] share
};

}  // namespace

bool IsSignatureType(std::string_view content_type) {
  return content_type == "application/pgp-signature" || content_type == "application/pkcs7-signature" ||
         content_type == "application/x-pkcs7-signature";
}

bool IsAttachment(std::string_view content_type, std::string_view disposition, std::string_view filename) {
  if (content_type.starts_with("multipart/") || IsSignatureType(content_type)) return false;
  return disposition == "attachment" || !filename.empty();
}

const std::string* Message::FindHeader(std::string_view name) const {
  for (const auto& h : headers)
    if (EqualsIgnoreCase(h.first, name)) return &h.second;
  return nullptr;
}

Message ParseMessage(std::string_view raw, const ParseLimits& limits) {
  Message msg;
  // Decoded message/rfc822 bodies held at once: at most twice the input.
  size_t decoded_budget = 2 * raw.size() + 4096;
  Parser(raw, limits, msg, &decoded_budget, false).Run();
  return msg;
}

}  // namespace mailkeep::mime
