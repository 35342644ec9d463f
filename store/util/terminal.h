// Text from outside — a message, a server's reply, a folder or file name —
// made safe to print on a terminal or in a log line: it can neither move
// the cursor, recolour or retitle the screen, nor start a forged line.
// Every printer path in tools/ (text output, error and warning lines) passes
// outside text through TerminalText(); JSON output is escaped by its
// encoder instead.
//
// Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace mailkeep {

enum class TextKind {
  kLine,       // one line: a tab becomes a space, every other control character U+FFFD
  kMultiline,  // a body: '\n' and '\t' kept, CRLF becomes LF, other controls U+FFFD
};

// C0 controls (but see `kind`), DEL, C1 controls (U+0080..U+009F, which
// include the one-byte CSI) and bytes that are not well-formed UTF-8
// (overlong forms, surrogates, past U+10FFFF, cut sequences) become U+FFFD,
// one per byte; everything else is kept as is.
std::string TerminalText(std::string_view in, TextKind kind = TextKind::kLine);

}  // namespace mailkeep
