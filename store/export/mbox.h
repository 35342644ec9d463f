// mboxrd, as `export --format mbox` and the web interface's /export.mbox
// write it: a "From " line, the message with every line matching ^>*From 
// given one more '>', and a blank line after it.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mailkeep::exporting {

// The "From " line of a message (without its newline): the sender's address
// with spaces and control bytes removed ("MAILER-DAEMON" when none is
// left) and the date in UTC, asctime-style ("Mon Jan  1 10:00:00 2024";
// the epoch when the message has no date).
std::string MboxFromLine(std::string_view sender, std::optional<int64_t> date);

// Appends `raw` to `out` as one mboxrd message under `from_line`.
void AppendMboxrd(std::string& out, std::string_view raw, std::string_view from_line);

}  // namespace mailkeep::exporting
