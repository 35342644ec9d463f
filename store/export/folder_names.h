// Folder names on disk: how `export --format maildir` turns the folders a
// message was found in (server names, UTF-8, untrusted) into Maildir
// directories, and how `import` turns such directories back into names.
//
// A folder name is split at '/' into components (empty ones are dropped;
// "" and a lone "INBOX", any case, are the Maildir's root). Each component
// is spelt as Dovecot reads it by default: non-ASCII in modified UTF-7
// (RFC 3501 5.1.3, store/util/mutf7.h: "Übersicht" → "&ANw-bersicht",
// "&" → "&-"), or kept as UTF-8 when asked (Dovecot's UTF8 mail_location
// option). Either way it escapes, as %XX (upper-case hex), every byte that
// could steer or break a path: '%' itself, '/', control bytes (< 0x20 and
// 0x7f), bytes that are not valid UTF-8, '.' (Maildir++'s separator; in
// the nested layout only a leading '.', so no component is "." or ".."
// or hidden), and in the nested layout the first letter of a component
// named cur, new or tmp. A directory name longer than kMaxDirName bytes is
// cut (never inside a character or an escape) and ends in "~" and 8 hex
// digits of the SHA-256 of the whole folder name, so long names stay
// distinct; such a name does not decode back to the original.
//
//   Maildir++ (default): "Work/Projects" → ".Work.Projects", "v1.2" → ".v1%2E2"
//                        "Données" → ".Donn&AOk-es" (UTF-8: ".Données")
//   nested:              "Work/Projects" → "Work/Projects",  ".x"   → "%2Ex"
//
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/archive.h"

namespace mailkeep::exporting {

enum class MaildirLayout { kMaildirPlusPlus, kNested };
enum class FolderNameEncoding { kModifiedUtf7, kUtf8 };

inline constexpr size_t kMaxDirName = 200;  // bytes per directory name (file systems allow 255)

// The directory of `folder` relative to the Maildir root, as path
// components ({} for the root; one ".A.B" for Maildir++; one per level
// for nested). Every component is a single safe file name.
std::vector<std::string> FolderDir(std::string_view folder, MaildirLayout layout,
                                   FolderNameEncoding names = FolderNameEncoding::kModifiedUtf7);

// The folder name for a directory below an imported Maildir root, given as
// the components of its path relative to the root ({} → "INBOX"). A
// component starting with '.' is a Maildir++ folder (split at '.');
// %XX escapes are undone, then (kModifiedUtf7) well-formed modified UTF-7
// is decoded (anything else, such as raw UTF-8, is kept), unless the result
// would hold a control byte, a '/' or invalid UTF-8 (then that piece is
// kept as written).
std::string FolderName(const std::vector<std::string>& relative_dir,
                       FolderNameEncoding names = FolderNameEncoding::kModifiedUtf7);

// Maildir info letters (sorted: D F R S T) for IMAP-style flags
// ("\\Seen \\Flagged"; matched whole and case-insensitively). Keywords
// are not system letters and are left out (see Keywords).
std::string MaildirLetters(std::string_view imap_flags);

// IMAP keywords in a folder's Maildir, as Dovecot keeps them: the folder's
// "dovecot-keywords" file numbers them ("0 $Label1\n1 Junk\n"), and
// keyword N is the letter 'a' + N in a file name's info (":2,Sab"). Only
// the first 26 have a letter.
inline constexpr size_t kMaildirKeywordLetters = 26;
inline constexpr size_t kMaxKeywordLength = 128;  // bytes; longer ones are left out
inline constexpr size_t kMaxKeywordFile = 64 * 1024;  // bytes of dovecot-keywords read
inline constexpr char kKeywordFileName[] = "dovecot-keywords";

// The keywords in IMAP-style flags: every word not starting with '\\'
// that is an IMAP atom (printable ASCII without ( ) { % * " \\ ] or space)
// of at most kMaxKeywordLength bytes; others are left out. In order, once each.
std::vector<std::string> Keywords(std::string_view imap_flags);
// The dovecot-keywords text for `keywords` (index = position).
std::string KeywordFileText(const std::vector<std::string>& keywords);
// The keywords a dovecot-keywords text names, by index (empty = none);
// lines that are not "N KEYWORD" with N < 26 and a valid keyword are skipped.
std::vector<std::string> ParseKeywordFile(std::string_view text);
// IMAP-style flags for Maildir info letters: the system flags (sorted:
// \\Answered \\Deleted \\Draft \\Flagged \\Seen), then the keyword of each
// letter a..z that `keywords` (ParseKeywordFile) names; other letters are ignored.
std::string MaildirFlags(std::string_view letters, const std::vector<std::string>& keywords = {});

// Where one message goes: one placement per distinct directory.
struct MaildirPlacement {
  std::vector<std::string> dir;  // as FolderDir
  std::string letters;           // the union of the system flags found in those folders
  bool flags_known = false;      // some location there comes from a source with flags (imap, maildir)
  std::vector<std::string> keywords;  // the union of their keywords (Keywords), sorted
  bool operator==(const MaildirPlacement&) const = default;
};

// The directories for a message, from its locations: each folder it was
// found in, once (two locations whose folders map to one directory merge).
// A location whose folder is a local path (import of an mbox, a Maildir by
// path, eml files: the folder starts with '/') names no folder; a message
// with no named folder goes to the root (INBOX). `folder_name` gives a
// location's folder as a '/'-separated name (e.g. an IMAP name spelt
// "INBOX.Lists.mips" by its server as "Lists/mips", see
// migrate::ArchivedLayouts); empty = the folder as stored.
std::vector<MaildirPlacement> PlaceMessage(const std::vector<Location>& locations, MaildirLayout layout,
                                           const std::function<std::string(const Location&)>& folder_name = {},
                                           FolderNameEncoding names = FolderNameEncoding::kModifiedUtf7);

}  // namespace mailkeep::exporting
