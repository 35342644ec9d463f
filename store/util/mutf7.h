// Modified UTF-7 for IMAP mailbox names (RFC 3501 §5.1.3): printable ASCII
// stands for itself except "&", written "&-"; anything else is UTF-16 in a
// modified base64 (",' instead of "/", no padding) between "&" and "-".
// Example: "~peter/mail/台北/日本語" ↔ "~peter/mail/&U,BTFw-/&ZeVnLIqe-".
//
// The one codec for these names: the IMAP client's folder names and the
// Maildir folder directories export writes and import reads (Dovecot's
// default on-disk spelling). Pure functions; thread-safe. Its own library
// (mailkeep_mutf7) with no dependency on the rest of store/util (fuzz builds).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailkeep {

// UTF-8 → modified UTF-7. Invalid UTF-8 sequences become U+FFFD.
std::string EncodeModifiedUtf7(std::string_view utf8);

// Modified UTF-7 → UTF-8. Input that is not well-formed modified UTF-7 (a
// bad base64 run, an unpaired surrogate, 8-bit bytes — e.g. a server that
// sends raw UTF-8 names) is returned unchanged.
std::string DecodeModifiedUtf7(std::string_view mutf7);

// The same, but nullopt for input that is not well-formed (including
// non-canonical forms: printable ASCII inside a base64 run, "&" runs that
// should have been merged, non-zero padding bits).
std::optional<std::string> TryDecodeModifiedUtf7(std::string_view mutf7);

}  // namespace mailkeep
