// Address lists (RFC 5322 3.4, with the obsolete syntax of 4.4 and the
// broken forms real mail has). One pass over the value, one mailbox at a
// time; nothing here can fail.
#include <string>
#include <string_view>
#include <vector>

#include "store/mime/ascii.h"
#include "store/mime/decode.h"

namespace mailkeep::mime {
namespace {

using ascii::IsSpace;

// Length of a well-formed encoded word at s[i] ("=?cs?X?text?=" without
// blanks), or 0. Such a word is kept whole even if its text has specials.
size_t EncodedWordLength(std::string_view s, size_t i) {
  if (s.substr(i, 2) != "=?") return 0;
  size_t j = i + 2;
  int qmarks = 0;
  while (j < s.size() && j - i < 1024) {
    const char c = s[j];
    if (IsSpace(c)) return 0;
    if (c == '?') {
      if (qmarks == 2 && j + 1 < s.size() && s[j + 1] == '=') return j + 2 - i;
      if (qmarks < 2) ++qmarks;
    }
    ++j;
  }
  return 0;
}

// One unquoted word that can be a local part on its own ("foo",
// "mailer-daemon", "j.doe"): atext and dots only, with at least one letter
// or digit (8-bit bytes count as letters), and not an encoded word.
bool IsBareLocalPart(std::string_view w) {
  if (w.starts_with("=?")) return false;
  bool alnum = false;
  for (char ch : w) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80) {
      alnum = true;
    } else if (c <= ' ' || c == 0x7F || std::string_view("()<>[]:;@\\,\"").find(ch) != std::string_view::npos) {
      return false;
    }
  }
  return alnum;
}

size_t SkipComment(std::string_view s, size_t i, std::string* text) {
  int depth = 0;
  const size_t start = i + 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '\\') {
      i += 2;
      continue;
    }
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) {
      if (text) text->assign(s.substr(start, i - start));
      return i + 1;
    }
    ++i;
  }
  if (text && start <= s.size()) text->assign(s.substr(start));
  return s.size();
}

class ListParser {
 public:
  explicit ListParser(std::string_view v) : v_(v), last_gt_(v.rfind('>')) {}

  std::vector<Address> Run() {
    size_t i = 0;
    const size_t n = v_.size();
    while (i < n && out_.size() < 10000) {
      const char c = v_[i];
      if (IsSpace(c)) {
        space_ = true;
        ++i;
      } else if (c == '"') {
        i = Quoted(i);
      } else if (c == '(') {
        std::string text;
        i = SkipComment(v_, i, &text);
        if (comment_.empty()) comment_ = text;
        space_ = true;
      } else if (c == '<') {
        i = Angle(i);
      } else if (c == ',') {
        Finish();
        ++i;
      } else if (c == ';') {
        Finish();
        group_.clear();
        in_group_ = false;
        ++i;
      } else if (c == ':' && !in_group_ && !has_angle_ && bare_.find('@') == std::string::npos &&
                 !phrase_.empty()) {
        group_ = DecodeHeaderText(phrase_);
        in_group_ = true;
        Reset();
        ++i;
      } else if (const size_t ew = EncodedWordLength(v_, i); ew > 0) {
        Word(v_.substr(i, ew));
        i += ew;
      } else {
        Word(v_.substr(i, 1));
        ++i;
      }
    }
    Finish();
    return std::move(out_);
  }

 private:
  void Word(std::string_view w) {
    if (space_ && !phrase_.empty()) phrase_.push_back(' ');
    if (space_ && !bare_.empty()) bare_.push_back(' ');
    space_ = false;
    phrase_.append(w);
    bare_.append(w);
  }

  size_t Quoted(size_t i) {
    std::string q;
    size_t j = i + 1;
    while (j < v_.size()) {
      const char c = v_[j];
      if (c == '\\' && j + 1 < v_.size()) {
        q.push_back(v_[j + 1]);
        j += 2;
        continue;
      }
      if (c == '"') {
        ++j;
        break;
      }
      if (c != '\r' && c != '\n') q.push_back(c);
      ++j;
    }
    if (space_ && !phrase_.empty()) phrase_.push_back(' ');
    if (space_ && !bare_.empty()) bare_.push_back(' ');
    space_ = false;
    phrase_.append(q);
    bare_.push_back('"');
    bare_.append(v_.substr(i + 1, (j > i + 1 ? j - 1 : i + 1) - (i + 1)));
    bare_.push_back('"');
    return j;
  }

  size_t Angle(size_t i) {
    // A second <...> replaces the first; what was in the first becomes name
    // text ("a@b <c@d>" style garbage keeps c@d).
    if (has_angle_ && !angle_.empty()) {
      if (!phrase_.empty()) phrase_.push_back(' ');
      phrase_.append(angle_);
    }
    angle_.clear();
    has_angle_ = true;
    space_ = true;
    const bool closed = last_gt_ != std::string_view::npos && last_gt_ > i;
    size_t j = i + 1;
    while (j < v_.size()) {
      const char c = v_[j];
      if (c == '>') return j + 1;
      if (!closed && c == ',') return j;
      if (c == '(') {
        j = SkipComment(v_, j, nullptr);
        continue;
      }
      if (c == '"') {
        // Quoted local part: keep the quotes.
        size_t k = j + 1;
        while (k < v_.size() && v_[k] != '"') k += (v_[k] == '\\') ? 2 : 1;
        k = k < v_.size() ? k + 1 : v_.size();
        angle_.append(v_.substr(j, k - j));
        j = k;
        continue;
      }
      if (c == ':') {
        // Obsolete route "@a,@b:" (or "mailto:"): drop what came before.
        angle_.clear();
      } else if (!IsSpace(c) && c != '<') {
        angle_.push_back(c);
      }
      ++j;
    }
    return j;
  }

  void Finish() {
    Address a;
    a.group = group_;
    if (has_angle_) {
      a.address = angle_;
      a.name = DecodeHeaderText(phrase_);
    } else if (bare_.find('@') != std::string::npos) {
      // Join obsolete blanks around '@' and '.', then take the last token
      // with an '@' as the address and the rest as the name.
      std::string joined;
      for (size_t k = 0; k < bare_.size(); ++k) {
        if (bare_[k] == ' ') {
          const char prev = joined.empty() ? ' ' : joined.back();
          const char next = k + 1 < bare_.size() ? bare_[k + 1] : ' ';
          if (prev == '@' || prev == '.' || next == '@' || next == '.') continue;
        }
        joined.push_back(bare_[k]);
      }
      std::string_view j = joined;
      size_t at = j.rfind('@');
      size_t start = j.rfind(' ', at);
      start = start == std::string_view::npos ? 0 : start + 1;
      size_t end = j.find(' ', at);
      if (end == std::string_view::npos) end = j.size();
      a.address.assign(j.substr(start, end - start));
      std::string name(j.substr(0, start));
      if (end < j.size()) {
        name.push_back(' ');
        name.append(j.substr(end));
      }
      a.name = DecodeHeaderText(name);
    } else if (IsBareLocalPart(bare_)) {
      // "From: foo": a local mailbox of old Unix mail (CPython and GMime
      // agree), not a display name.
      a.address = bare_;
    } else {
      a.name = DecodeHeaderText(phrase_);
    }
    if (a.name.empty() && !comment_.empty()) a.name = DecodeHeaderText(comment_);
    // Names quoted twice ("'John Doe'") lose the inner quotes.
    if (a.name.size() >= 2 && a.name.front() == '\'' && a.name.back() == '\'')
      a.name = a.name.substr(1, a.name.size() - 2);
    if (!a.address.empty()) a.address = ToUtf8(a.address, "");
    bool meaningful = !a.address.empty();
    for (char c : a.name)
      meaningful |= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    static_cast<unsigned char>(c) >= 0x80;
    if (meaningful) out_.push_back(std::move(a));
    Reset();
  }

  void Reset() {
    phrase_.clear();
    bare_.clear();
    angle_.clear();
    comment_.clear();
    has_angle_ = false;
    space_ = false;
  }

  std::string_view v_;
  size_t last_gt_;  // so each '<' knows in O(1) whether a '>' follows
  std::vector<Address> out_;
  std::string group_;
  bool in_group_ = false;
  std::string phrase_;   // display-name text, quotes removed
  std::string bare_;     // the same text as written, for an addr-spec without <>
  std::string angle_;    // inside <...>, blanks and comments removed
  std::string comment_;  // first comment
  bool has_angle_ = false;
  bool space_ = false;
};

}  // namespace

std::vector<Address> ParseAddressList(std::string_view value) { return ListParser(value).Run(); }

}  // namespace mailkeep::mime
