// The bytes an SMTP client sends after DATA's 354 (RFC 5321 §4.1.1.4,
// §4.5.2), made from a stored message:
//   - line ends normalized: CRLF stays, a bare LF and a bare CR each become
//     CRLF (RFC 5321 §2.3.8 forbids bare ones on the wire);
//   - dot-stuffing: a line that starts with "." gets one more "." in front;
//   - a CRLF is added when the message does not end with a line end (an
//     empty message gets none);
//   - then the end-of-data line ".\r\n".
// Nothing else changes: 8-bit bytes, NULs and long lines go as they are.
//
// DataEncoder streams: Feed() any split of the message and the output is
// the same as for the whole, so a 20 MB message goes out in fixed-size
// chunks without a second full copy. EncodeData() is the whole-message
// form of the same transform.
//
// Pure functions and a small value type; no dependency on
// store/util/status.h (the fuzz target compiles this file under clang).
// Thread-safety: an encoder is used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailkeep::smtp {

class DataEncoder {
 public:
  // Appends the encoded form of `in` (the next bytes of the message) to *out.
  void Feed(std::string_view in, std::string* out);
  // Appends the final CRLF (when needed) and ".\r\n"; the encoder is then
  // ready for another message.
  void Finish(std::string* out);

 private:
  bool line_start_ = true;   // the next byte starts a line
  bool pending_cr_ = false;  // the last byte fed was a CR (its LF may come next)
};

// The whole DATA stream for `message`, terminator included.
std::string EncodeData(std::string_view message);

// RFC 1870's message size for SIZE=: octets after line-end normalization,
// with the final CRLF that EncodeData adds, without dot-stuffing and without
// the ".\r\n" terminator.
uint64_t NormalizedSize(std::string_view message);

// True when some byte is >= 0x80 (the message then needs BODY=8BITMIME).
bool HasEightBit(std::string_view data);

}  // namespace mailkeep::smtp
