#include "sync/smtp/smtp_reply.h"

#include <algorithm>
#include <charconv>

#include "store/util/ascii.h"

namespace mailkeep::smtp {

namespace {

using ascii::EqualsIgnoreCase;
using ascii::IsDigit;

// "d.d{1,3}.d{1,3}" followed by a space or the end: its length (without the
// space), or 0 when `text` does not start with one whose class is `klass`.
size_t EnhancedCodeLength(std::string_view text, int klass) {
  if (text.size() < 5 || text[0] != static_cast<char>('0' + klass) || text[1] != '.') return 0;
  if (klass != 2 && klass != 4 && klass != 5) return 0;
  size_t i = 2;
  auto digits = [&](size_t max) {
    size_t start = i;
    while (i < text.size() && IsDigit(text[i]) && i - start < max) ++i;
    return i > start && (i == text.size() || !IsDigit(text[i]));
  };
  if (!digits(3) || i >= text.size() || text[i] != '.') return 0;
  ++i;
  if (!digits(3)) return 0;
  if (i < text.size() && text[i] != ' ') return 0;
  return i;
}

std::vector<std::string_view> Words(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && ascii::IsWsp(s[i])) ++i;
    size_t start = i;
    while (i < s.size() && !ascii::IsWsp(s[i])) ++i;
    if (i > start) words.push_back(s.substr(start, i - start));
  }
  return words;
}

}  // namespace

std::string Reply::Text() const {
  std::string out;
  for (const auto& l : lines) {
    if (!out.empty() && !l.empty()) out += ' ';
    out += l;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Reply::ToString() const {
  if (code == 0) return "";
  std::string out = std::to_string(code);
  if (!enhanced.empty()) out += " " + enhanced;
  std::string text = Text();
  if (!text.empty()) out += " " + text;
  return out;
}

ReplyParser::ReplyParser(ReplyLimits limits) : limits_(limits) {}

void ReplyParser::Reset() {
  reply_ = Reply();
  in_reply_ = done_ = failed_ = false;
  error_.clear();
}

ReplyState ReplyParser::Fail(std::string why, std::string_view line) {
  failed_ = true;
  error_ = std::move(why);
  error_ += ": \"" + ascii::Printable(line, 100) + "\"";
  return ReplyState::kError;
}

ReplyState ReplyParser::FeedLine(std::string_view line) {
  if (failed_) return ReplyState::kError;
  if (done_) {  // the caller did not take the last reply: start over
    reply_ = Reply();
    done_ = in_reply_ = false;
  }
  if (line.size() > limits_.max_line) {
    return Fail("reply line longer than " + std::to_string(limits_.max_line) + " bytes", line.substr(0, 40));
  }
  if (line.size() < 3 || line[0] < '2' || line[0] > '5' || !IsDigit(line[1]) || !IsDigit(line[2])) {
    return Fail("not an SMTP reply line", line);
  }
  bool last;
  if (line.size() == 3 || line[3] == ' ') {
    last = true;
  } else if (line[3] == '-') {
    last = false;
  } else {
    return Fail("not an SMTP reply line", line);
  }
  const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  std::string_view text = line.size() > 4 ? line.substr(4) : std::string_view();
  if (!in_reply_) {
    in_reply_ = true;
    reply_.code = code;
    if (size_t n = EnhancedCodeLength(text, code / 100)) {
      reply_.enhanced = std::string(text.substr(0, n));
      text.remove_prefix(std::min(text.size(), n + 1));
    }
  } else {
    if (code != reply_.code) {
      return Fail("reply lines with different codes (" + std::to_string(reply_.code) + " then " +
                      std::to_string(code) + ")",
                  line);
    }
    if (!reply_.enhanced.empty()) {
      if (size_t n = EnhancedCodeLength(text, code / 100)) text.remove_prefix(std::min(text.size(), n + 1));
    }
  }
  if (reply_.lines.size() >= limits_.max_lines) {
    return Fail("reply of more than " + std::to_string(limits_.max_lines) + " lines", line);
  }
  reply_.lines.emplace_back(text);
  if (!last) return ReplyState::kNeedMore;
  done_ = true;
  return ReplyState::kReply;
}

Reply ReplyParser::TakeReply() {
  Reply r = std::move(reply_);
  reply_ = Reply();
  in_reply_ = done_ = false;
  return r;
}

bool Extensions::HasKeyword(std::string_view keyword) const {
  for (const auto& line : keywords) {
    auto words = Words(line);
    if (!words.empty() && EqualsIgnoreCase(words[0], keyword)) return true;
  }
  return false;
}

bool Extensions::HasAuth(std::string_view mechanism) const {
  return std::any_of(auth.begin(), auth.end(),
                     [&](const std::string& m) { return EqualsIgnoreCase(m, mechanism); });
}

Extensions ParseEhlo(const Reply& ehlo) {
  Extensions ext;
  if (ehlo.lines.empty()) return ext;
  auto first = Words(ehlo.lines[0]);
  if (!first.empty()) ext.domain = std::string(first[0]);
  // A hostile server could list hundreds of thousands within the reply
  // limits; real ones offer a handful.
  constexpr size_t kMaxMechanisms = 64;
  auto add_auth = [&](std::string_view mech) {
    if (mech.empty() || ext.auth.size() >= kMaxMechanisms) return;
    std::string m = ascii::UpperCopy(mech);
    if (std::find(ext.auth.begin(), ext.auth.end(), m) == ext.auth.end()) ext.auth.push_back(std::move(m));
  };
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    const std::string& line = ehlo.lines[i];
    ext.keywords.push_back(line);
    auto words = Words(line);
    if (words.empty()) continue;
    std::string_view kw = words[0];
    if (EqualsIgnoreCase(kw, "SIZE")) {
      ext.size = true;
      uint64_t n = 0;
      if (words.size() > 1) {
        auto [ptr, ec] = std::from_chars(words[1].data(), words[1].data() + words[1].size(), n);
        if (ec != std::errc() || ptr != words[1].data() + words[1].size()) n = 0;
      }
      ext.size_limit = n;
    } else if (EqualsIgnoreCase(kw, "8BITMIME")) {
      ext.eightbitmime = true;
    } else if (EqualsIgnoreCase(kw, "SMTPUTF8")) {
      ext.smtputf8 = true;
    } else if (EqualsIgnoreCase(kw, "PIPELINING")) {
      ext.pipelining = true;
    } else if (EqualsIgnoreCase(kw, "DSN")) {
      ext.dsn = true;
    } else if (EqualsIgnoreCase(kw, "STARTTLS")) {
      ext.starttls = true;
    } else if (EqualsIgnoreCase(kw, "ENHANCEDSTATUSCODES")) {
      ext.enhanced_status_codes = true;
    } else if (EqualsIgnoreCase(kw, "CHUNKING")) {
      ext.chunking = true;
    } else if (EqualsIgnoreCase(kw, "AUTH")) {
      for (size_t w = 1; w < words.size(); ++w) add_auth(words[w]);
    } else if (ascii::StartsWithIgnoreCase(kw, "AUTH=")) {
      // Pre-RFC 4954 form some servers still send: "AUTH=LOGIN PLAIN".
      add_auth(kw.substr(5));
      for (size_t w = 1; w < words.size(); ++w) add_auth(words[w]);
    }
  }
  return ext;
}

}  // namespace mailkeep::smtp
