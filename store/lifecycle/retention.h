// Retention: how long archived mail is kept before `mailkeep prune`
// removes it, and which messages a policy says have expired.
//
// A policy has a global rule, per-account rules and per-folder rules inside
// an account; the most specific rule that sets a value wins (folder, then
// account, then global), separately for the period and for keep_flagged.
// A message found in several places is expired only when EVERY place's
// rule says so (the longest retention wins), and a flagged message
// (\Flagged in any place) is kept when that place's keep_flagged says so.
// A message with no recorded place (e.g. after rebuild-catalog) is judged
// by the global rule.
//
// Which date: a message's age counts from the LATER of its Date header (as
// parsed into the catalog: what `date:` searches and sorting use) and the
// server's INTERNALDATE of any IMAP place; a message with neither is
// dated by when it was archived. (Other sources' dates are not used: a
// Maildir file's mtime is when it was copied, not when mail arrived.) The later one is the conservative choice:
// a forged or wrong Date header in the past cannot make mail go earlier
// than the server's receipt time says, and a missing one never makes mail
// expire at all before its archive time allows.
//
// Pure functions over plain values; thread-safe. (What a policy selects
// in an archive: store/lifecycle/prune.h.)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"

namespace mailkeep::lifecycle {

// N days, weeks, months or years ("90d", "4w", "18m", "7y"); count 0 is
// "forever" (never expires).
struct Period {
  int count = 0;
  char unit = 'd';  // 'd' | 'w' | 'm' | 'y'
  bool forever() const { return count == 0; }
  bool operator==(const Period&) const = default;
};

// "7y", "18m", "4w", "90d" (count 1..100000) or "forever". kInvalidArgument
// otherwise, with the accepted forms.
Result<Period> ParsePeriod(std::string_view text);
std::string PeriodText(const Period& p);

// The instant `p` before `now` (Unix seconds, UTC), by the calendar for
// months and years: 2024-03-31 minus 1m is 2024-02-29 (the day clamped to
// the month's last). REQUIRES: !p.forever().
int64_t Cutoff(const Period& p, int64_t now);

struct Rule {
  std::optional<Period> period;       // unset = inherit
  std::optional<bool> keep_flagged;   // unset = inherit (global default: yes)
};

// `pattern` matches a folder name; '*' matches any run of characters
// (separators included), everything else itself.
struct FolderRule {
  std::string pattern;
  Rule rule;
};

struct AccountRule {
  std::string account;
  Rule rule;
  std::vector<FolderRule> folders;  // the first matching pattern applies
};

struct Policy {
  Rule global;
  std::vector<AccountRule> accounts;
  bool empty() const;  // no period anywhere: nothing can expire
};

// One place a message was found.
struct Place {
  std::string source;                  // "imap", "pop3", "maildir", "mbox", ...: only IMAP dates count
  std::string account, folder;
  std::string flags;                   // IMAP flags, space separated
  std::optional<int64_t> internal_date;
};

struct Candidate {
  std::optional<int64_t> date;  // Date header (catalog)
  int64_t added_at = 0;         // when it was archived
  std::vector<Place> places;
};

enum class Verdict { kKeep, kExpired, kKeptFlagged };

// The rule in force for one place (folder, then account, then global; a
// global keep_flagged left unset is yes).
Rule RuleFor(const Policy& policy, const std::string& account, const std::string& folder);
// The instant the message's age counts from (see the header comment).
int64_t AgeFrom(const Candidate& c);
Verdict Judge(const Policy& policy, const Candidate& c, int64_t now);

bool FolderMatches(std::string_view pattern, std::string_view folder);

}  // namespace mailkeep::lifecycle
