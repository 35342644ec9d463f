// A message as a source hands it to the Archive: the exact bytes plus where
// it was found. Plain values; no threading concerns.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mailkeep {

// Where one copy of a message was found. (source, account, folder, key)
// identifies the copy: the same copy seen again adds no new location.
struct Origin {
  std::string source;   // "maildir", "mbox", "eml", "pop3", "imap"
  std::string account;  // account name from the config; "local" for import
  std::string folder;   // folder name, or the absolute path of a Maildir folder / mbox / directory
  std::string key;      // Maildir unique name, mbox byte offset, file name, POP3 UIDL, IMAP UID
  uint64_t uidvalidity = 0;            // IMAP only
  std::string flags;                   // IMAP-style, space separated: "\\Seen \\Flagged"
  std::optional<int64_t> internal_date;  // Unix seconds UTC (Maildir mtime, mbox From_ date, IMAP INTERNALDATE)
  // The size the server listed for it there (RFC822.SIZE, POP3 LIST; CRLF
  // line ends); 0 = not listed or unknown.
  uint64_t listed_size = 0;
};

struct RawMessage {
  std::string bytes;  // exactly as received
  Origin origin;
};

}  // namespace mailkeep
