// Folder names on disk: how `export --format maildir` turns the folders a
// message was found in (server names, UTF-8, untrusted) into Maildir
// directories, and how `import` turns such directories back into names.
//
// A folder name is split at '/' into components (empty ones are dropped;
// "" and a lone "INBOX", any case, are the Maildir's root). Each component
// keeps its UTF-8 and escapes, as %XX (upper-case hex), every byte that
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

inline constexpr size_t kMaxDirName = 200;  // bytes per directory name (file systems allow 255)

// The directory of `folder` relative to the Maildir root, as path
// components ({} for the root; one ".A.B" for Maildir++; one per level
// for nested). Every component is a single safe file name.
std::vector<std::string> FolderDir(std::string_view folder, MaildirLayout layout);

// The folder name for a directory below an imported Maildir root, given as
// the components of its path relative to the root ({} → "INBOX"). A
// component starting with '.' is a Maildir++ folder (split at '.');
// %XX escapes are undone unless the result would hold a control byte, a
// '/' or invalid UTF-8 (then that piece is kept as written).
std::string FolderName(const std::vector<std::string>& relative_dir);

// Maildir info letters (sorted: D F R S T) for IMAP-style flags
// ("\\Seen \\Flagged"; matched whole and case-insensitively). Keywords
// have no letter and are left out.
std::string MaildirLetters(std::string_view imap_flags);

// Where one message goes: one placement per distinct directory.
struct MaildirPlacement {
  std::vector<std::string> dir;  // as FolderDir
  std::string letters;           // the union of the flags found in those folders
  bool flags_known = false;      // some location there comes from a source with flags (imap, maildir)
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
                                           const std::function<std::string(const Location&)>& folder_name = {});

}  // namespace mailkeep::exporting
