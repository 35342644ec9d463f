// The building blocks ParseMessage uses, exposed for tests and for callers
// that need one piece (index/, show). None of them throws or fails: bad input
// degrades (U+FFFD, skipped junk), and `bad` out-flags tell when it did.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/mime/message.h"

namespace mailkeep::mime {

// Converts `bytes` labelled `charset` to UTF-8 through iconv, with the
// aliases real mail uses (ks_c_5601-1987 → CP949, x-gbk/gb2312 → GB18030,
// unicode-1-1-utf-7 → UTF-7, iso-8859-8-i → ISO-8859-8, x-mac-roman, ...).
// Unknown or empty charset: bytes that are valid UTF-8 are kept, others are
// read as windows-1252. Invalid sequences become U+FFFD.
std::string ToUtf8(std::string_view bytes, std::string_view charset, bool* bad = nullptr);

// Appends code point `cp` as UTF-8; NUL, surrogates and values past
// U+10FFFF become U+FFFD.
void AppendUtf8(std::string& out, uint32_t cp);

// Replaces invalid UTF-8 sequences with U+FFFD.
std::string SanitizeUtf8(std::string_view bytes);

// RFC 2047: decodes encoded words in an unstructured header value. Adjacent
// encoded words separated only by whitespace are joined; common broken forms
// (encoded words inside quoted strings or glued to text, missing "?=" before
// a space, lowercase b/q) are tolerated. Raw 8-bit bytes outside encoded
// words are taken as UTF-8 if valid, else windows-1252.
std::string DecodeHeaderText(std::string_view value);

// Removes CRLF/LF followed by whitespace (folding).
std::string Unfold(std::string_view value);

// Address lists (From, To, Cc, ...): groups, quoted names, comments
// (used as the name when there is no other), obsolete routes, UTF-8 and
// RFC 2047 names. A lone unquoted word without '@' or <> ("From: foo")
// is a local address with no name, as CPython and GMime read it. Never
// fails; garbage yields what can be salvaged.
std::vector<Address> ParseAddressList(std::string_view value);

// Dates: RFC 5322, obsolete zones (UT, GMT, EST.. PDT; military letters
// are read as +0000 per RFC 5322 4.3),
// missing day-of-week or seconds, two-digit years, ISO 8601, and common
// broken forms. Returns Unix seconds UTC, or nullopt.
std::optional<int64_t> ParseDate(std::string_view value);

// Message-ID-like lists: "<a@b> <c@d>" → {"a@b", "c@d"}; tolerates missing
// brackets and comments.
std::vector<std::string> ParseMessageIds(std::string_view value);

// Content-Type / Content-Disposition: "type/subtype; a=b; c*0*=..." →
// lower-case value and parameters with lower-case names; RFC 2231
// continuations and charsets are joined and decoded to UTF-8, RFC 2047 in
// parameter values too.
struct HeaderParams {
  std::string value;
  std::vector<std::pair<std::string, std::string>> params;
  const std::string* Find(std::string_view name) const;
};
HeaderParams ParseHeaderParams(std::string_view value);

// Transfer decodings. Base64 skips characters outside the alphabet and
// tolerates missing padding; QP keeps malformed '=' sequences literally.
std::string DecodeBase64(std::string_view in, bool* bad = nullptr);
std::string DecodeQuotedPrintable(std::string_view in, bool header_mode = false);
// Decodes uuencoded "begin NNN name" ... "end" blocks found in text; returns
// (filename, bytes) pairs.
std::vector<std::pair<std::string, std::string>> FindUuencodedBlocks(std::string_view text);
// Like FindUuencodedBlocks, and also returns `text` with those blocks (from
// the "begin" line through the "end" line) cut out. `blocks` may be null.
std::string StripUuencodedBlocks(std::string_view text,
                                 std::vector<std::pair<std::string, std::string>>* blocks);
// Decodes the body of a part per its Content-Transfer-Encoding.
std::string DecodeTransfer(std::string_view body, std::string_view encoding, bool* bad = nullptr);
// The size DecodeTransfer would return, computed without decoding base64.
size_t DecodedSize(std::string_view body, std::string_view encoding);

// Decodes the HTML character reference at s[i] == '&' (named: the HTML 4
// Latin-1 set and common others; numeric: &#NN; &#xHH;, C1 values read as
// windows-1252, the ';' optional) into `out` as UTF-8; returns the bytes
// consumed, 0 when it is not one (the '&' is then literal).
size_t DecodeCharRef(std::string_view s, size_t i, std::string& out);

// text/html → readable text: tags removed, script/style dropped, block
// elements become line breaks, entities (named, &#NN;, &#xHH;) decoded.
std::string HtmlToText(std::string_view html);

}  // namespace mailkeep::mime
