#include "sync/imap/response_parser.h"
#include "store/util/ascii.h"

#include <algorithm>
#include <utility>

namespace mailkeep::imap {

// How the reader works: bytes are collected into lines (a line is short:
// literals are never part of one); each complete line is tokenized at once.
// Only two things carry over from one line to the next: the open lists
// (stack_) and the literal announced at the end of the previous line. So the
// states are:
//   kStart    the first line of a response: tag, then a status condition
//             with its resp-text, or a data name and values;
//   kValues   a later line (after a literal): more values of the same
//             response;
// and, orthogonally, in_literal_ while the bytes of a literal arrive.

namespace {

using ascii::EqualsIgnoreCase;
std::string ToUpper(std::string_view s) { return ascii::UpperCopy(s); }

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

std::optional<uint64_t> ParseU64(std::string_view s) {
  if (!AllDigits(s) || s.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

// Fetch attributes whose "[section]" may hold spaces and parentheses:
// BODY[HEADER.FIELDS (FROM TO)]<0>, BINARY.PEEK[1]. Other atoms treat '['
// as an ordinary character (a mailbox may be called "a[b").
bool IsSectionAtom(std::string_view prefix) {
  return EqualsIgnoreCase(prefix, "BODY") || EqualsIgnoreCase(prefix, "BODY.PEEK") ||
         EqualsIgnoreCase(prefix, "BINARY") || EqualsIgnoreCase(prefix, "BINARY.PEEK") ||
         EqualsIgnoreCase(prefix, "BINARY.SIZE");
}

std::optional<Response::Cond> CondFor(std::string_view word) {
  if (EqualsIgnoreCase(word, "OK")) return Response::Cond::kOk;
  if (EqualsIgnoreCase(word, "NO")) return Response::Cond::kNo;
  if (EqualsIgnoreCase(word, "BAD")) return Response::Cond::kBad;
  if (EqualsIgnoreCase(word, "PREAUTH")) return Response::Cond::kPreauth;
  if (EqualsIgnoreCase(word, "BYE")) return Response::Cond::kBye;
  return std::nullopt;
}

// resp-text = ["[" code [SP args] "]" [SP]] text. Without a closing bracket
// the whole is text.
void ParseRespText(std::string_view s, Response* r) {
  if (!s.empty() && s[0] == '[') {
    size_t close = s.find(']');
    if (close != std::string_view::npos) {
      std::string_view inner = s.substr(1, close - 1);
      size_t sp = inner.find(' ');
      r->code = ToUpper(inner.substr(0, sp));
      if (sp != std::string_view::npos) r->code_args = std::string(inner.substr(sp + 1));
      s.remove_prefix(close + 1);
      if (!s.empty() && s[0] == ' ') s.remove_prefix(1);
    }
  }
  r->text = std::string(s);
}

void AppendEscaped(std::string* out, std::string_view s, size_t max) {
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max) {
      *out += "...";
      return;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      *out += '\\';
      *out += c;
    } else if (u < 0x20 || u >= 0x7F) {
      static const char kHex[] = "0123456789abcdef";
      *out += "\\x";
      *out += kHex[u >> 4];
      *out += kHex[u & 15];
    } else {
      *out += c;
    }
  }
}

void AppendValue(std::string* out, const Value& v) {
  switch (v.type) {
    case Value::Type::kAtom:
      *out += v.text;
      break;
    case Value::Type::kNil:
      *out += "NIL";
      break;
    case Value::Type::kQuoted:
      *out += '"';
      AppendEscaped(out, v.text, 200);
      *out += '"';
      break;
    case Value::Type::kLiteral:
      *out += "{" + std::to_string(v.text.size()) + "}\"";
      AppendEscaped(out, v.text, 200);
      *out += '"';
      break;
    case Value::Type::kList: {
      *out += '(';
      bool first = true;
      for (const Value& c : v.list) {
        if (!first) *out += ' ';
        first = false;
        AppendValue(out, c);
      }
      *out += ')';
      break;
    }
  }
}

}  // namespace

std::optional<uint64_t> Value::Number() const {
  if (type != Type::kAtom) return std::nullopt;
  return ParseU64(text);
}

bool Value::IsAtom(std::string_view name) const {
  return type == Type::kAtom && EqualsIgnoreCase(text, name);
}

const char* CondName(Response::Cond cond) {
  switch (cond) {
    case Response::Cond::kNone: return "";
    case Response::Cond::kOk: return "OK";
    case Response::Cond::kNo: return "NO";
    case Response::Cond::kBad: return "BAD";
    case Response::Cond::kPreauth: return "PREAUTH";
    case Response::Cond::kBye: return "BYE";
  }
  return "";
}

std::string Response::StatusText() const {
  std::string out;
  if (!code.empty()) {
    out = "[" + code;
    if (!code_args.empty()) out += " " + code_args;
    out += "]";
    if (!text.empty()) out += " ";
  }
  out += text;
  return out;
}

ResponseParser::ResponseParser(const ImapLimits& limits) : limits_(limits) {}

void ResponseParser::Reset() {
  phase_ = Phase::kStart;
  started_ = false;
  done_ = false;
  error_.clear();
  line_.clear();
  literal_ = std::string();
  literal_size_ = 0;
  in_literal_ = false;
  text_bytes_ = 0;
  literal_bytes_ = 0;
  value_count_ = 0;
  stack_.clear();
  response_ = Response();
}

ParseState ResponseParser::Fail(std::string message) {
  error_ = std::move(message);
  in_literal_ = false;
  literal_ = std::string();
  stack_.clear();
  line_.clear();
  return ParseState::kError;
}

uint64_t ResponseParser::literal_remaining() const {
  if (!in_literal_ || literal_.size() >= literal_size_) return 0;
  return literal_size_ - literal_.size();
}

Response ResponseParser::TakeResponse() {
  Response r = std::move(response_);
  bool failed = !error_.empty();
  std::string error = std::move(error_);
  Reset();
  if (failed) error_ = std::move(error);
  return r;
}

ParseState ResponseParser::LiteralFilled() {
  if (!error_.empty()) return ParseState::kError;
  if (!in_literal_) return ParseState::kNeedMore;
  if (literal_.size() > literal_size_) {
    return Fail("literal of " + std::to_string(literal_size_) + " bytes got " + std::to_string(literal_.size()));
  }
  if (literal_.size() < literal_size_) return ParseState::kNeedMore;
  return FinishLiteral();
}

bool ResponseParser::AddValue(Value&& v) {
  if (value_count_ >= limits_.max_values) {
    Fail("response has more than " + std::to_string(limits_.max_values) + " values");
    return false;
  }
  ++value_count_;
  stack_.back().list.push_back(std::move(v));
  return true;
}

ParseState ResponseParser::FinishLiteral() {
  in_literal_ = false;
  literal_bytes_ += literal_size_;
  Value v;
  v.type = Value::Type::kLiteral;
  v.text = std::move(literal_);
  literal_ = std::string();
  if (!AddValue(std::move(v))) return ParseState::kError;
  return ParseState::kNeedMore;
}

ParseState ResponseParser::Feed(std::string_view& in) {
  if (!error_.empty()) return ParseState::kError;
  if (done_) {
    TakeResponse();  // the caller did not take it: drop it
  }
  for (;;) {
    if (in_literal_) {
      const uint64_t remaining = literal_remaining();
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining, in.size()));
      literal_.append(in.data(), take);
      in.remove_prefix(take);
      if (literal_.size() < literal_size_) return ParseState::kNeedMore;
      if (LiteralFilled() == ParseState::kError) return ParseState::kError;
      continue;
    }
    if (in.empty()) return ParseState::kNeedMore;
    const size_t lf = in.find('\n');
    if (lf == std::string_view::npos) {
      // One more byte is allowed for the CR of a CRLF still to come.
      if (line_.size() + in.size() > limits_.max_line + 1) {
        return Fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
      }
      if (!in.empty()) started_ = true;
      line_.append(in);
      in = {};
      return ParseState::kNeedMore;
    }
    std::string_view line;
    if (line_.empty()) {
      line = in.substr(0, lf);
    } else {
      if (line_.size() + lf > limits_.max_line + 1) {
        return Fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
      }
      line_.append(in.substr(0, lf));
      line = line_;
    }
    in.remove_prefix(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > limits_.max_line) {
      return Fail("line longer than " + std::to_string(limits_.max_line) + " bytes");
    }
    ParseState s = ParseLine(line);
    line_.clear();
    if (s != ParseState::kNeedMore) return s;
  }
}

ParseState ResponseParser::ParseLine(std::string_view line) {
  if (phase_ == Phase::kStart && line.empty()) {
    started_ = false;  // a stray empty line between responses: ignored
    return ParseState::kNeedMore;
  }
  started_ = true;
  text_bytes_ += line.size();
  if (text_bytes_ > limits_.max_text) {
    return Fail("response longer than " + std::to_string(limits_.max_text) + " bytes outside literals");
  }
  if (phase_ == Phase::kStart) return ParseFirstLine(line);
  return ParseValues(line, 0);
}

ParseState ResponseParser::ParseFirstLine(std::string_view line) {
  Response& r = response_;
  if (line[0] == '+') {
    r.kind = Response::Kind::kContinuation;
    std::string_view rest = line.substr(1);
    if (!rest.empty() && rest[0] == ' ') rest.remove_prefix(1);
    ParseRespText(rest, &r);
    done_ = true;
    return ParseState::kResponse;
  }
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos || sp == 0) return Fail("response without a tag and a space");
  std::string_view tag = line.substr(0, sp);
  if (tag == "*") {
    r.kind = Response::Kind::kUntagged;
  } else {
    for (char c : tag) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7F || c == '(' || c == ')' || c == '{' || c == '"' || c == '\\' || c == '+' ||
          c == '%' || c == '*') {
        return Fail("bad tag");
      }
    }
    r.kind = Response::Kind::kTagged;
    r.tag = std::string(tag);
  }
  size_t pos = sp + 1;
  auto next_word = [&](std::string_view* word) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    *word = line.substr(pos, end - pos);
    pos = end < line.size() ? end + 1 : end;
  };
  std::string_view word;
  next_word(&word);
  if (word.empty()) return Fail("response without a status or name");
  if (auto cond = CondFor(word)) {
    r.cond = *cond;
    ParseRespText(line.substr(pos), &r);
    done_ = true;
    return ParseState::kResponse;
  }
  if (r.kind == Response::Kind::kTagged) return Fail("tagged response without OK, NO or BAD");
  if (AllDigits(word)) {
    auto n = ParseU64(word);
    if (!n || *n > UINT32_MAX) return Fail("message number out of range");
    r.number = static_cast<uint32_t>(*n);
    next_word(&word);
    if (word.empty()) return Fail("number without a name");
  }
  for (char c : word) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '(' || c == ')' || c == '{' || c == '"' || c == '[' || c == ']') {
      return Fail("bad response name");
    }
  }
  r.name = ToUpper(word);
  phase_ = Phase::kValues;
  stack_.clear();
  stack_.emplace_back();
  stack_.back().type = Value::Type::kList;
  return ParseValues(line, pos);
}

ParseState ResponseParser::ParseValues(std::string_view line, size_t pos) {
  const size_t n = line.size();
  while (pos < n) {
    const char c = line[pos];
    if (c == ' ') {
      ++pos;
      continue;
    }
    if (c == '(') {
      if (stack_.size() > static_cast<size_t>(std::max(0, limits_.max_depth))) {
        return Fail("lists nested deeper than " + std::to_string(limits_.max_depth));
      }
      if (value_count_ >= limits_.max_values) {
        return Fail("response has more than " + std::to_string(limits_.max_values) + " values");
      }
      ++value_count_;
      stack_.emplace_back();
      stack_.back().type = Value::Type::kList;
      ++pos;
      continue;
    }
    if (c == ')') {
      if (stack_.size() <= 1) return Fail("unbalanced ')'");
      Value v = std::move(stack_.back());
      stack_.pop_back();
      stack_.back().list.push_back(std::move(v));
      ++pos;
      continue;
    }
    if (c == '"') {
      Value v;
      v.type = Value::Type::kQuoted;
      ++pos;
      bool closed = false;
      while (pos < n) {
        char q = line[pos];
        if (q == '"') {
          closed = true;
          ++pos;
          break;
        }
        if (q == '\\') {
          if (pos + 1 >= n) break;
          v.text += line[pos + 1];
          pos += 2;
          continue;
        }
        // Copy the run of ordinary characters at once.
        size_t end = pos;
        while (end < n && line[end] != '"' && line[end] != '\\') ++end;
        v.text.append(line.data() + pos, end - pos);
        pos = end;
      }
      if (!closed) return Fail("unterminated quoted string");
      if (!AddValue(std::move(v))) return ParseState::kError;
      continue;
    }
    if (c == '{' || (c == '~' && pos + 1 < n && line[pos + 1] == '{')) {
      size_t p = pos + (c == '~' ? 2 : 1);
      size_t digits_start = p;
      while (p < n && line[p] >= '0' && line[p] <= '9') ++p;
      std::string_view digits = line.substr(digits_start, p - digits_start);
      if (p < n && line[p] == '+') ++p;
      if (p >= n || line[p] != '}') return Fail("bad literal header");
      ++p;
      if (p != n) return Fail("literal header not at the end of a line");
      auto size = ParseU64(digits);
      if (!size) return Fail("bad literal size");
      if (*size > limits_.max_literal || literal_bytes_ + *size > limits_.max_literal) {
        return Fail("literal of " + std::to_string(*size) + " bytes is over the limit of " +
                    std::to_string(limits_.max_literal));
      }
      in_literal_ = true;
      literal_size_ = *size;
      literal_ = std::string();
      literal_.reserve(static_cast<size_t>(std::min<uint64_t>(*size, limits_.literal_reserve)));
      if (*size == 0) return FinishLiteral();
      return ParseState::kNeedMore;
    }
    // An atom (also NIL and numbers).
    const size_t start = pos;
    while (pos < n) {
      const char a = line[pos];
      if (a == ' ' || a == '(' || a == ')') break;
      if (a == '[' && IsSectionAtom(line.substr(start, pos - start))) {
        size_t close = line.find(']', pos);
        if (close == std::string_view::npos) return Fail("unterminated '[' in a fetch attribute");
        pos = close + 1;
        continue;
      }
      ++pos;
    }
    Value v;
    v.text = std::string(line.substr(start, pos - start));
    v.type = EqualsIgnoreCase(v.text, "NIL") ? Value::Type::kNil : Value::Type::kAtom;
    if (!AddValue(std::move(v))) return ParseState::kError;
  }
  if (stack_.size() > 1) return Fail("unterminated list");
  response_.values = std::move(stack_[0].list);
  stack_.clear();
  done_ = true;
  return ParseState::kResponse;
}

std::string DebugString(const Response& r) {
  std::string out;
  switch (r.kind) {
    case Response::Kind::kContinuation: out = "+"; break;
    case Response::Kind::kUntagged: out = "*"; break;
    case Response::Kind::kTagged: out = r.tag; break;
  }
  if (r.is_status()) {
    out += " ";
    out += CondName(r.cond);
  }
  if (!r.code.empty() || !r.code_args.empty()) out += " [" + r.code + "|" + r.code_args + "]";
  if (r.is_status() || r.kind == Response::Kind::kContinuation) {
    out += " \"";
    AppendEscaped(&out, r.text, 200);
    out += "\"";
  }
  if (r.number) out += " #" + std::to_string(*r.number);
  if (!r.name.empty()) out += " " + r.name;
  if (!r.is_status() && r.kind == Response::Kind::kUntagged) {
    out += " ";
    std::string values;
    for (size_t i = 0; i < r.values.size(); ++i) {
      if (i) values += ' ';
      AppendValue(&values, r.values[i]);
    }
    out += "[" + values + "]";
  }
  return out;
}

}  // namespace mailkeep::imap
