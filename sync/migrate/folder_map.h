// Folder names between servers (mailkeep migrate --keep-folders).
//
// Servers spell the same folder differently: Dovecot "Lists/mips" (personal
// namespace prefix "", delimiter "/"), Courier and Cyrus "INBOX.Lists.mips"
// (prefix "INBOX.", delimiter "."), a flat server without hierarchy. The
// archive keeps each source folder's name as its server spelt it (UTF-8).
// A name goes to the target through the NEUTRAL FORM: the folder's levels
// below the personal namespace, UTF-8, joined by "/" — "Lists/mips" for
// both spellings above; INBOX is "INBOX" (any case), and a level named INBOX
// first stays "INBOX/...".
//
//   source name --ToNeutral(source layout)--> neutral --user rules (FolderMap)
//     --or special-use (FolderMapper)--> neutral --FromNeutral(target layout)--> target name
//
// User rules ("--map OLD=NEW", accounts file "folder_map = OLD=NEW, ..."):
// OLD is a glob over the whole neutral name, case-sensitive: "*" matches
// any run of characters ("/" included), "?" one character; NEW is a
// neutral name in which each "*" is what the corresponding "*" of OLD
// matched, in order. A backslash takes the next character literally (so
// "\=", "\*", "\?", "\\", "\,"). The first rule that matches wins; its
// result is not mapped further. Examples: "Entwürfe=Drafts",
// "Lists/*=Mailing lists/*", "*/Archiv=*/Archive".
//
// Special use (RFC 6154), after the user rules: a source folder of one
// level (or below "[Gmail]" / "[Google Mail]") whose name is a well-known
// name of Sent, Drafts, Trash, Junk or Archive ("Gesendet", "Sent Items",
// "Entwürfe", "Deleted Items", "Spam", ...; RoleOfName) goes to the
// target's folder for that role: the one LIST marks with the attribute
// (\Sent ...), else the target's folder whose neutral name is a well-known
// name of the role; without either it keeps its own name.
//
// Target spelling: prefix + levels joined by the target's delimiter; a
// target delimiter inside one level becomes "_" (it would make two); on a
// flat server (no delimiter) levels are joined by "_". A path starting with
// INBOX on a server whose prefix is "INBOX<delimiter>" loses that level
// (Dovecot "INBOX/x" is Courier "INBOX.x").
//
// Pure functions and values; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/archive.h"
#include "store/util/status.h"
#include "sync/imap/imap_client.h"

namespace mailkeep::migrate {

// A server's personal namespace: what its folder names start with and what
// separates their levels.
struct Layout {
  std::string prefix;     // UTF-8, e.g. "" or "INBOX."
  char delimiter = '/';   // '\0' = flat
  bool operator==(const Layout&) const = default;
};

using Path = std::vector<std::string>;  // levels, UTF-8; {"INBOX"} for INBOX

Path ToNeutral(std::string_view name, const Layout& layout);
std::string FromNeutral(const Path& path, const Layout& layout);
// Levels joined by "/", and back (empty levels dropped; "inbox" is INBOX).
std::string NeutralString(const Path& path);
Path ParseNeutral(std::string_view neutral);

// The layout a source account had, from the folder names the archive keeps
// for it (without a connection to that server): every name other than
// INBOX starting with "INBOX." → prefix "INBOX.", delimiter "."; else "/"
// when a name contains "/", else "." when one contains "."; else "/".
Layout InferLayout(const std::vector<std::string>& names);

// The neutral names of the IMAP places an archive keeps, each account's
// layout inferred (InferLayout) from the folder names the archive keeps for
// it, once per account. Other places keep their folder as stored.
// REQUIRES: `archive` outlives this.
class ArchivedLayouts {
 public:
  explicit ArchivedLayouts(Archive& archive) : archive_(archive) {}
  std::string NeutralName(const Location& place);

 private:
  Archive& archive_;
  std::map<std::string, Layout> layouts_;  // account → layout
};

enum class Role { kNone, kSent, kDrafts, kTrash, kJunk, kArchive };
// The role of a source folder by its well-known name (see the top).
Role RoleOfName(const Path& path);
// "\Sent" → kSent, ...; kNone for anything else.
Role RoleOfAttribute(std::string_view special_use);

// The user's rules.
class FolderMap {
 public:
  // Each rule "OLD=NEW" (see the top). kInvalidArgument, one line naming
  // the rule, for: no "=", an empty side, a NEW with more "*" than OLD, a
  // rule over 1,000 bytes, more than 1,000 rules.
  static Result<FolderMap> Parse(const std::vector<std::string>& rules);
  // The first matching rule's result (a neutral name), or nullopt.
  std::optional<std::string> Apply(std::string_view neutral) const;
  bool empty() const { return rules_.empty(); }

  struct Token {
    enum Kind { kText, kStar, kOne } kind = kText;
    std::string text;
  };
  struct Rule {
    std::vector<Token> from, to;
  };

 private:
  std::vector<Rule> rules_;
};

// Splits a comma-separated list of rules (the accounts file's folder_map),
// honouring "\," inside a rule; empty items dropped.
std::vector<std::string> SplitRules(std::string_view list);

// Source folder → target folder for one target server.
class FolderMapper {
 public:
  // `listed`: the target's LIST (special-use attributes, existing names).
  FolderMapper(Layout target, const std::vector<imap::Folder>& listed, FolderMap rules);
  // The target folder (UTF-8, as the target spells it) for a source folder
  // given in neutral form.
  std::string Map(const Path& source) const;
  const Layout& target() const { return target_; }

 private:
  Layout target_;
  FolderMap rules_;
  std::vector<std::pair<Role, std::string>> by_attribute_, by_name_;  // role → target folder name
};

}  // namespace mailkeep::migrate
