// What a message supplies and a browser reads: HTML parts and attachment
// names. Pure functions, no I/O.
#pragma once

#include <string>
#include <string_view>

namespace mailkeep::web {

// An HTML part made safe to show inside a sandboxed iframe: no script, no
// event handler attributes, no javascript: (or any non-http(s)/mailto/cid)
// URL, no remote resource fetched (remote images are blocked: their src is
// dropped), no <meta>, <base>, <form>, <object>, <embed>, <iframe>, <svg>,
// no CSS that loads anything (url(), @import, expression()). The result is a
// complete UTF-8 HTML document.
std::string SanitizeHtml(std::string_view html);

// Text (or anything else) escaped for HTML element content and quoted
// attribute values: & < > " ' -> entities.
std::string EscapeHtml(std::string_view text);

// A Content-Disposition header value for `disposition` ("attachment" or
// "inline") naming `filename` safely: the name sanitized (no path
// separators, controls, quotes, leading dots; at most 200 bytes; "part"
// when nothing is left), given both as an ASCII filename= and as an
// RFC 6266 / 5987 filename*=UTF-8'' form.
std::string ContentDisposition(std::string_view disposition, std::string_view filename);

}  // namespace mailkeep::web
