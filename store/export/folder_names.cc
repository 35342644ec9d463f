#include "store/export/folder_names.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "store/export/utf8.h"
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

// One component, escaped; each entry of `units` is one character or escape
// (so a cut never splits one).
std::vector<std::string> EscapeComponent(std::string_view in, MaildirLayout layout) {
  std::vector<std::string> units;
  for (size_t i = 0; i < in.size();) {
    auto c = static_cast<unsigned char>(in[i]);
    std::string unit;
    if (c >= 0x80) {
      if (size_t n = Utf8Length(in, i)) {
        units.emplace_back(in.substr(i, n));
        i += n;
        continue;
      }
      Escape(unit, c);
    } else if (c < 0x20 || c == 0x7f || c == '%' || c == '/' ||
               (c == '.' && (layout == MaildirLayout::kMaildirPlusPlus || i == 0))) {
      Escape(unit, c);
    } else {
      unit = std::string(1, static_cast<char>(c));
    }
    units.push_back(std::move(unit));
    ++i;
  }
  if (layout == MaildirLayout::kNested && (in == "cur" || in == "new" || in == "tmp")) {
    units[0].clear();
    Escape(units[0], static_cast<unsigned char>(in[0]));
  }
  return units;
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

// Undoes %XX escapes, or returns the piece as written when the result
// would not be a clean name.
std::string Unescape(std::string_view piece) {
  std::string out;
  for (size_t i = 0; i < piece.size(); ++i) {
    if (piece[i] == '%' && i + 2 < piece.size() && HexValue(piece[i + 1]) >= 0 && HexValue(piece[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(piece[i + 1]) * 16 + HexValue(piece[i + 2]));
      i += 2;
    } else {
      out += piece[i];
    }
  }
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f || c == '/') return std::string(piece);
  }
  return ValidUtf8(out) ? out : std::string(piece);
}

bool IsLocalPath(const Location& l) { return !l.folder.empty() && l.folder.front() == '/'; }

}  // namespace

std::vector<std::string> FolderDir(std::string_view folder, MaildirLayout layout) {
  auto parts = Components(folder);
  if (parts.empty() || (parts.size() == 1 && IsInbox(parts[0]))) return {};
  if (layout == MaildirLayout::kNested) {
    std::vector<std::string> dir;
    for (auto p : parts) dir.push_back(Cut(EscapeComponent(p, layout), "", folder));
    return dir;
  }
  std::vector<std::string> units;
  for (auto p : parts) {
    units.emplace_back(".");
    auto escaped = EscapeComponent(p, layout);
    units.insert(units.end(), escaped.begin(), escaped.end());
  }
  return {Cut(units, "", folder)};
}

std::string FolderName(const std::vector<std::string>& relative_dir) {
  std::string name;
  auto add = [&](std::string_view piece) {
    if (piece.empty()) return;
    if (!name.empty()) name += '/';
    name += Unescape(piece);
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

std::vector<MaildirPlacement> PlaceMessage(const std::vector<Location>& locations, MaildirLayout layout,
                                           const std::function<std::string(const Location&)>& folder_name) {
  std::map<std::vector<std::string>, MaildirPlacement> by_dir;
  for (const auto& l : locations) {
    if (IsLocalPath(l)) continue;
    auto dir = FolderDir(folder_name ? folder_name(l) : l.folder, layout);
    MaildirPlacement& p = by_dir[dir];
    p.dir = dir;
    std::string letters = p.letters + MaildirLetters(l.flags);
    std::sort(letters.begin(), letters.end());
    letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
    p.letters = letters;
    p.flags_known = p.flags_known || l.source == "imap" || l.source == "maildir";
  }
  if (by_dir.empty()) {
    // No named folder: INBOX, with the flags of any local Maildir copy.
    MaildirPlacement root;
    for (const auto& l : locations) {
      if (l.source != "maildir") continue;
      root.flags_known = true;
      root.letters += MaildirLetters(l.flags);
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
