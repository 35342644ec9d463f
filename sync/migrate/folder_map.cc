#include "sync/migrate/folder_map.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "store/util/ascii.h"

namespace mailkeep::migrate {
namespace {

using ascii::EqualsIgnoreCase;
using ascii::StartsWithIgnoreCase;

constexpr size_t kMaxRule = 1000, kMaxRules = 1000;

bool IsInbox(std::string_view s) { return EqualsIgnoreCase(s, "INBOX"); }

Path Split(std::string_view s, char delimiter) {
  Path out;
  if (delimiter == '\0') {
    if (!s.empty()) out.emplace_back(s);
    return out;
  }
  size_t start = 0;
  for (;;) {
    size_t end = s.find(delimiter, start);
    std::string_view part = s.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!part.empty()) out.emplace_back(part);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

Path NormalizeInbox(Path p) {
  if (p.empty()) return {"INBOX"};
  if (IsInbox(p[0])) p[0] = "INBOX";
  return p;
}

struct RoleNames {
  Role role;
  std::vector<std::string_view> names;  // the first is the standard English one
};

const std::array<RoleNames, 5>& WellKnown() {
  static const std::array<RoleNames, 5> k = {{
      {Role::kSent, {"Sent", "Sent Items", "Sent Messages", "Sent Mail", "Gesendet", "Gesendete Objekte",
                     "Gesendete Elemente", "Envoyés", "Éléments envoyés", "Enviados", "Inviati", "Verzonden"}},
      {Role::kDrafts, {"Drafts", "Draft", "Entwürfe", "Brouillons", "Borradores", "Bozze", "Concepten"}},
      {Role::kTrash, {"Trash", "Deleted Items", "Deleted Messages", "Deleted", "Bin", "Papierkorb",
                      "Gelöschte Objekte", "Gelöschte Elemente", "Corbeille", "Papelera", "Cestino", "Prullenbak"}},
      {Role::kJunk, {"Junk", "Spam", "Junk E-mail", "Junk Email", "Junk Mail", "Bulk Mail", "Spamverdacht",
                     "Courrier indésirable", "Indésirables"}},
      {Role::kArchive, {"Archive", "Archives", "Archiv", "Archivio", "Archivo", "Archief"}},
  }};
  return k;
}

// Unescapes and tokenizes one side of a rule; "?" is special only with
// `one_char` (NEW knows only "*").
std::vector<FolderMap::Token> Tokens(std::string_view s, bool one_char) {
  std::vector<FolderMap::Token> out;
  auto text = [&]() -> std::string& {
    if (out.empty() || out.back().kind != FolderMap::Token::kText) out.push_back({FolderMap::Token::kText, ""});
    return out.back().text;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      text() += s[++i];
    } else if (s[i] == '*') {
      out.push_back({FolderMap::Token::kStar, ""});
    } else if (s[i] == '?' && one_char) {
      out.push_back({FolderMap::Token::kOne, ""});
    } else {
      text() += s[i];
    }
  }
  return out;
}

size_t Utf8Length(std::string_view s, size_t at) {
  const auto c = static_cast<unsigned char>(s[at]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
  return std::min(n, s.size() - at);
}

// Glob match of the whole of `s`: linear backtracking to the last "*"
// only (no exponential blow-up); each "*" takes as little as it can. The
// captures of the stars, in order.
std::optional<std::vector<std::string>> Match(const std::vector<FolderMap::Token>& tokens, std::string_view s) {
  // One entry per pattern character: a byte, '?' (one UTF-8 character) or '*'.
  struct Unit {
    FolderMap::Token::Kind kind;
    char c;
  };
  std::vector<Unit> pat;
  for (const auto& t : tokens) {
    if (t.kind != FolderMap::Token::kText) pat.push_back({t.kind, 0});
    for (char c : t.text) pat.push_back({FolderMap::Token::kText, c});
  }
  std::vector<size_t> from(pat.size()), to(pat.size());
  size_t i = 0, p = 0, star = SIZE_MAX, star_s = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p].kind == FolderMap::Token::kStar) {
      star = p;
      from[p] = to[p] = star_s = i;
      ++p;
    } else if (p < pat.size() && pat[p].kind == FolderMap::Token::kOne) {
      i += Utf8Length(s, i);
      ++p;
    } else if (p < pat.size() && pat[p].c == s[i]) {
      ++i;
      ++p;
    } else if (star != SIZE_MAX) {
      star_s += Utf8Length(s, star_s);
      to[star] = i = star_s;
      p = star + 1;
    } else {
      return std::nullopt;
    }
  }
  while (p < pat.size() && pat[p].kind == FolderMap::Token::kStar) {
    from[p] = to[p] = i;
    ++p;
  }
  if (p != pat.size()) return std::nullopt;
  std::vector<std::string> caps;
  for (size_t k = 0; k < pat.size(); ++k) {
    if (pat[k].kind == FolderMap::Token::kStar) caps.emplace_back(s.substr(from[k], to[k] - from[k]));
  }
  return caps;
}

}  // namespace

Path ToNeutral(std::string_view name, const Layout& layout) {
  if (IsInbox(name)) return {"INBOX"};
  std::string_view rest = name;
  const bool inbox_prefix = StartsWithIgnoreCase(layout.prefix, "INBOX");
  if (!layout.prefix.empty() && (inbox_prefix ? StartsWithIgnoreCase(rest, layout.prefix) : rest.starts_with(layout.prefix))) {
    rest.remove_prefix(layout.prefix.size());
  }
  return NormalizeInbox(Split(rest, layout.delimiter));
}

std::string FromNeutral(const Path& in, const Layout& layout) {
  Path path = NormalizeInbox(in);
  if (path.size() == 1 && path[0] == "INBOX") return "INBOX";
  if (path[0] == "INBOX" && layout.delimiter != '\0' &&
      EqualsIgnoreCase(layout.prefix, std::string("INBOX") + layout.delimiter)) {
    path.erase(path.begin());
  }
  const char join = layout.delimiter == '\0' ? '_' : layout.delimiter;
  std::string out = layout.prefix;
  for (size_t i = 0; i < path.size(); ++i) {
    std::string level = path[i];
    if (layout.delimiter != '\0') std::replace(level.begin(), level.end(), layout.delimiter, '_');
    if (i > 0) out += join;
    out += level;
  }
  return out;
}

std::string NeutralString(const Path& path) {
  std::string out;
  for (const auto& p : path) out += (out.empty() ? "" : "/") + p;
  return out;
}

Path ParseNeutral(std::string_view neutral) { return NormalizeInbox(Split(neutral, '/')); }

Layout InferLayout(const std::vector<std::string>& names) {
  bool any = false, all_inbox_dot = true, slash = false, dot = false;
  for (const auto& n : names) {
    if (IsInbox(n)) continue;
    any = true;
    all_inbox_dot = all_inbox_dot && StartsWithIgnoreCase(n, "INBOX.");
    slash = slash || n.find('/') != std::string::npos;
    dot = dot || n.find('.') != std::string::npos;
  }
  if (any && all_inbox_dot) return {"INBOX.", '.'};
  if (slash || !dot) return {"", '/'};
  return {"", '.'};
}

std::string ArchivedLayouts::NeutralName(const Location& place) {
  if (place.source != "imap") return place.folder;
  auto it = layouts_.find(place.account);
  if (it == layouts_.end()) {
    std::vector<std::string> names;
    if (auto states = archive_.FolderStates("imap", place.account)) {
      for (const auto& f : *states) names.push_back(f.name);
    }
    it = layouts_.emplace(place.account, InferLayout(names)).first;
  }
  return NeutralString(ToNeutral(place.folder, it->second));
}

Role RoleOfName(const Path& in) {
  Path path = in;
  if (path.size() == 2 && (path[0] == "[Gmail]" || path[0] == "[Google Mail]")) path.erase(path.begin());
  if (path.size() != 1) return Role::kNone;
  for (const auto& r : WellKnown()) {
    for (auto n : r.names) {
      if (EqualsIgnoreCase(path[0], n)) return r.role;
    }
  }
  return Role::kNone;
}

Role RoleOfAttribute(std::string_view a) {
  if (EqualsIgnoreCase(a, "\\Sent")) return Role::kSent;
  if (EqualsIgnoreCase(a, "\\Drafts")) return Role::kDrafts;
  if (EqualsIgnoreCase(a, "\\Trash")) return Role::kTrash;
  if (EqualsIgnoreCase(a, "\\Junk")) return Role::kJunk;
  if (EqualsIgnoreCase(a, "\\Archive")) return Role::kArchive;
  return Role::kNone;
}

std::vector<std::string> SplitRules(std::string_view list) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    std::string_view t = ascii::Trim(cur);
    if (!t.empty()) out.emplace_back(t);
    cur.clear();
  };
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i] == '\\' && i + 1 < list.size()) {
      cur += list[i];
      cur += list[++i];
    } else if (list[i] == ',') {
      flush();
    } else {
      cur += list[i];
    }
  }
  flush();
  return out;
}

Result<FolderMap> FolderMap::Parse(const std::vector<std::string>& rules) {
  if (rules.size() > kMaxRules) {
    return MakeError(ErrorCode::kInvalidArgument, "more than " + std::to_string(kMaxRules) + " folder mapping rules");
  }
  FolderMap map;
  for (const auto& rule : rules) {
    auto bad = [&](const std::string& why) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "folder mapping '" + ascii::Printable(rule, 120) + "': " + why + " (OLD=NEW, e.g. Lists/*=Mailing lists/*)");
    };
    if (rule.size() > kMaxRule) return bad("longer than " + std::to_string(kMaxRule) + " bytes");
    size_t eq = std::string::npos;
    for (size_t i = 0; i < rule.size(); ++i) {
      if (rule[i] == '\\') {
        ++i;
      } else if (rule[i] == '=') {
        eq = i;
        break;
      }
    }
    if (eq == std::string::npos) return bad("no '='");
    std::string_view old_side = ascii::Trim(std::string_view(rule).substr(0, eq));
    std::string_view new_side = ascii::Trim(std::string_view(rule).substr(eq + 1));
    if (old_side.empty() || new_side.empty()) return bad("an empty side");
    Rule r{Tokens(old_side, true), Tokens(new_side, false)};
    auto stars = [](const std::vector<Token>& t) {
      return std::count_if(t.begin(), t.end(), [](const Token& x) { return x.kind == Token::kStar; });
    };
    if (stars(r.to) > stars(r.from)) return bad("NEW has more '*' than OLD");
    map.rules_.push_back(std::move(r));
  }
  return map;
}

std::optional<std::string> FolderMap::Apply(std::string_view neutral) const {
  for (const Rule& r : rules_) {
    auto caps = Match(r.from, neutral);
    if (!caps) continue;
    std::string out;
    size_t next = 0;
    for (const Token& t : r.to) out += t.kind == Token::kStar ? (*caps)[next++] : t.text;
    return out;
  }
  return std::nullopt;
}

FolderMapper::FolderMapper(Layout target, const std::vector<imap::Folder>& listed, FolderMap rules)
    : target_(std::move(target)), rules_(std::move(rules)) {
  for (const auto& f : listed) {
    if (!f.selectable()) continue;
    if (Role r = RoleOfAttribute(f.special_use()); r != Role::kNone) by_attribute_.emplace_back(r, f.name);
  }
  // By name, in the order of the well-known names (the standard one first).
  for (const auto& known : WellKnown()) {
    for (auto n : known.names) {
      for (const auto& f : listed) {
        Path p = ToNeutral(f.name, target_);
        if (f.selectable() && p.size() == 1 && EqualsIgnoreCase(p[0], n)) by_name_.emplace_back(known.role, f.name);
      }
    }
  }
}

std::string FolderMapper::Map(const Path& source) const {
  if (auto mapped = rules_.Apply(NeutralString(source))) return FromNeutral(ParseNeutral(*mapped), target_);
  if (Role role = RoleOfName(source); role != Role::kNone) {
    for (const auto* list : {&by_attribute_, &by_name_}) {
      for (const auto& [r, name] : *list) {
        if (r == role) return name;
      }
    }
  }
  return FromNeutral(source, target_);
}

}  // namespace mailkeep::migrate
