#include "store/export/folder_names.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "store/export/utf8.h"
#include "store/util/mutf7.h"
#include "store/util/sha256.h"

namespace mailkeep::exporting {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";


bool ValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
    } else if (size_t n = Utf8Length(s, i)) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

void Escape(std::string& out, unsigned char c) {
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 15];
}

struct Unit {
  std::string text;
  bool escape = false;  // a %XX escape (else one character, kept or to be encoded)
};

// Units of modified UTF-7 text: each "&...-" run is one, so a cut never splits it.
void SplitEncoded(const std::string& encoded, std::vector<std::string>& out) {
  for (size_t i = 0; i < encoded.size();) {
    size_t end = encoded[i] == '&' ? encoded.find('-', i) : i;
    end = end == std::string::npos ? encoded.size() : end + 1;
    out.push_back(encoded.substr(i, end - i));
    i = end;
  }
}

// One component, escaped; each entry of the result is one character, one
// escape or one modified UTF-7 run (so a cut never splits one).
std::vector<std::string> EscapeComponent(std::string_view in, MaildirLayout layout, FolderNameEncoding names) {
  std::vector<Unit> units;
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    Unit unit;
    if (c >= 0x80) {
      if (size_t n = Utf8Length(in, i)) {
        units.push_back({std::string(in.substr(i, n))});
        i += n;
        continue;
      }
      Escape(unit.text, c);
      unit.escape = true;
    } else if (c < 0x20 || c == 0x7f || c == '%' || c == '/' ||
               (c == '.' && (layout == MaildirLayout::kMaildirPlusPlus || i == 0))) {
      Escape(unit.text, c);
      unit.escape = true;
    } else {
      unit.text = std::string(1, static_cast<char>(c));
    }
    units.push_back(std::move(unit));
    ++i;
  }
  if (layout == MaildirLayout::kNested && (in == "cur" || in == "new" || in == "tmp")) {
    units[0] = {"", true};
    Escape(units[0].text, static_cast<unsigned char>(in[0]));
  }
  std::vector<std::string> out;
  std::string run;  // characters between escapes, encoded together
  auto flush = [&] {
    if (names == FolderNameEncoding::kModifiedUtf7) {
      SplitEncoded(EncodeModifiedUtf7(run), out);
    }
    run.clear();
  };
  for (auto& u : units) {
    if (names == FolderNameEncoding::kUtf8) {
      out.push_back(std::move(u.text));
    } else if (u.escape) {
      flush();
      out.push_back(std::move(u.text));
    } else {
      run += u.text;
    }
  }
  flush();
  return out;
}

std::string Cut(const std::vector<std::string>& units, std::string_view prefix, std::string_view whole) {
  std::string out(prefix);
  size_t total = out.size();
  for (const auto& u : units) total += u.size();
  if (total <= kMaxDirName) {
    for (const auto& u : units) out += u;
    return out;
  }
  const std::string tag = "~" + ToHex(Sha256(whole)).substr(0, 8);
  for (const auto& u : units) {
    if (out.size() + u.size() + tag.size() > kMaxDirName) break;
    out += u;
  }
  return out + tag;
}

std::vector<std::string_view> Components(std::string_view folder) {
  std::vector<std::string_view> parts;
  while (!folder.empty()) {
    size_t slash = folder.find('/');
    std::string_view c = folder.substr(0, slash);
    if (!c.empty()) parts.push_back(c);
    folder.remove_prefix(slash == std::string_view::npos ? folder.size() : slash + 1);
  }
  return parts;
}

bool IsInbox(std::string_view s) {
  if (s.size() != 5) return false;
  return std::equal(s.begin(), s.end(), "INBOX", [](char a, char b) { return (a & ~0x20) == b; });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool CleanName(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f || c == '/') return false;
  }
  return ValidUtf8(s);
}

// Undoes %XX escapes, then (kModifiedUtf7) modified UTF-7, or returns the
// piece as written when the result would not be a clean name.
std::string Unescape(std::string_view piece, FolderNameEncoding names) {
  std::string out;
  for (size_t i = 0; i < piece.size(); ++i) {
    if (piece[i] == '%' && i + 2 < piece.size() && HexValue(piece[i + 1]) >= 0 && HexValue(piece[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(piece[i + 1]) * 16 + HexValue(piece[i + 2]));
      i += 2;
    } else {
      out += piece[i];
    }
  }
  if (!CleanName(out)) return std::string(piece);
  if (names == FolderNameEncoding::kModifiedUtf7) {
    if (auto decoded = TryDecodeModifiedUtf7(out); decoded && CleanName(*decoded)) return *decoded;
  }
  return out;
}

bool ValidKeyword(std::string_view k) {
  if (k.empty() || k.size() > kMaxKeywordLength || k.front() == '\\') return false;
  for (unsigned char c : k) {
    if (c <= 0x20 || c >= 0x7f || std::string_view("(){%*\"\\]").find(static_cast<char>(c)) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Adds the keywords of `imap_flags` to the sorted set `keywords`.
void AddKeywords(std::vector<std::string>& keywords, std::string_view imap_flags) {
  for (auto& k : Keywords(imap_flags)) {
    auto at = std::lower_bound(keywords.begin(), keywords.end(), k);
    if (at == keywords.end() || *at != k) keywords.insert(at, std::move(k));
  }
}

bool IsLocalPath(const Location& l) { return !l.folder.empty() && l.folder.front() == '/'; }

}  // namespace

std::vector<std::string> FolderDir(std::string_view folder, MaildirLayout layout, FolderNameEncoding names) {
  auto parts = Components(folder);
  if (parts.empty() || (parts.size() == 1 && IsInbox(parts[0]))) return {};
  if (layout == MaildirLayout::kNested) {
    std::vector<std::string> dir;
    for (auto p : parts) dir.push_back(Cut(EscapeComponent(p, layout, names), "", folder));
    return dir;
  }
  std::vector<std::string> units;
  for (auto p : parts) {
    units.emplace_back(".");
    auto escaped = EscapeComponent(p, layout, names);
    units.insert(units.end(), escaped.begin(), escaped.end());
  }
  return {Cut(units, "", folder)};
}

std::string FolderName(const std::vector<std::string>& relative_dir, FolderNameEncoding names) {
  std::string name;
  auto add = [&](std::string_view piece) {
    if (piece.empty()) return;
    if (!name.empty()) name += '/';
    name += Unescape(piece, names);
  };
  for (const auto& component : relative_dir) {
    if (component.starts_with('.')) {
      std::string_view rest = std::string_view(component).substr(1);
      while (!rest.empty()) {
        size_t dot = rest.find('.');
        add(rest.substr(0, dot));
        rest.remove_prefix(dot == std::string_view::npos ? rest.size() : dot + 1);
      }
    } else {
      add(component);
    }
  }
  return name.empty() ? "INBOX" : name;
}

std::string MaildirLetters(std::string_view imap_flags) {
  static const std::pair<const char*, char> kLetters[] = {
      {"\\draft", 'D'}, {"\\flagged", 'F'}, {"\\answered", 'R'}, {"\\seen", 'S'}, {"\\deleted", 'T'}};
  std::set<char> letters;
  while (!imap_flags.empty()) {
    size_t space = imap_flags.find(' ');
    std::string flag(imap_flags.substr(0, space));
    imap_flags.remove_prefix(space == std::string_view::npos ? imap_flags.size() : space + 1);
    std::transform(flag.begin(), flag.end(), flag.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const auto& [name, letter] : kLetters) {
      if (flag == name) letters.insert(letter);
    }
  }
  return std::string(letters.begin(), letters.end());
}

std::vector<std::string> Keywords(std::string_view imap_flags) {
  std::vector<std::string> out;
  while (!imap_flags.empty()) {
    size_t space = imap_flags.find(' ');
    std::string_view word = imap_flags.substr(0, space);
    imap_flags.remove_prefix(space == std::string_view::npos ? imap_flags.size() : space + 1);
    if (ValidKeyword(word) && std::find(out.begin(), out.end(), word) == out.end()) out.emplace_back(word);
  }
  return out;
}

std::string KeywordFileText(const std::vector<std::string>& keywords) {
  std::string text;
  for (size_t i = 0; i < keywords.size() && i < kMaildirKeywordLetters; ++i) {
    text += std::to_string(i) + " " + keywords[i] + "\n";
  }
  return text;
}

std::vector<std::string> ParseKeywordFile(std::string_view text) {
  std::vector<std::string> keywords;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    size_t space = line.find(' ');
    if (space == 0 || space > 2 || space == std::string_view::npos) continue;
    size_t index = 0;
    for (char c : line.substr(0, space)) index = c >= '0' && c <= '9' ? index * 10 + (c - '0') : kMaildirKeywordLetters;
    std::string_view name = line.substr(space + 1);
    if (index >= kMaildirKeywordLetters || !ValidKeyword(name)) continue;
    if (keywords.size() <= index) keywords.resize(index + 1);
    keywords[index] = name;
  }
  return keywords;
}

std::string MaildirFlags(std::string_view letters, const std::vector<std::string>& keywords) {
  static constexpr std::pair<char, const char*> kFlags[] = {
      {'R', "\\Answered"}, {'T', "\\Deleted"}, {'D', "\\Draft"}, {'F', "\\Flagged"}, {'S', "\\Seen"},
  };
  std::string out;
  auto add = [&](std::string_view flag) {
    if (!out.empty()) out += ' ';
    out += flag;
  };
  for (const auto& [letter, flag] : kFlags) {
    if (letters.find(letter) != std::string_view::npos) add(flag);
  }
  for (size_t i = 0; i < keywords.size(); ++i) {
    if (!keywords[i].empty() && letters.find(static_cast<char>('a' + i)) != std::string_view::npos) add(keywords[i]);
  }
  return out;
}

std::vector<MaildirPlacement> PlaceMessage(const std::vector<Location>& locations, MaildirLayout layout,
                                           const std::function<std::string(const Location&)>& folder_name,
                                           FolderNameEncoding names) {
  std::map<std::vector<std::string>, MaildirPlacement> by_dir;
  for (const auto& l : locations) {
    if (IsLocalPath(l)) continue;
    auto dir = FolderDir(folder_name ? folder_name(l) : l.folder, layout, names);
    MaildirPlacement& p = by_dir[dir];
    p.dir = dir;
    std::string letters = p.letters + MaildirLetters(l.flags);
    std::sort(letters.begin(), letters.end());
    letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
    p.letters = letters;
    AddKeywords(p.keywords, l.flags);
    p.flags_known = p.flags_known || l.source == "imap" || l.source == "maildir";
  }
  if (by_dir.empty()) {
    // No named folder: INBOX, with the flags of any local Maildir copy.
    MaildirPlacement root;
    for (const auto& l : locations) {
      if (l.source != "maildir") continue;
      root.flags_known = true;
      root.letters += MaildirLetters(l.flags);
      AddKeywords(root.keywords, l.flags);
    }
    std::sort(root.letters.begin(), root.letters.end());
    root.letters.erase(std::unique(root.letters.begin(), root.letters.end()), root.letters.end());
    return {root};
  }
  std::vector<MaildirPlacement> out;
  for (auto& [dir, p] : by_dir) out.push_back(std::move(p));
  return out;
}

}  // namespace mailkeep::exporting
