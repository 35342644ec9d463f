// What a message supplies and a browser reads: HTML parts and attachment
// names. Pure functions, no I/O; thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace mailkeep::web {

// Maps a Content-ID (from a cid: URL, percent-decoded, without <>) to a
// same-origin URL path such as "/message/42/part/2", or "" to drop the
// reference. Anything not starting with a single '/' is dropped too.
using CidResolver = std::function<std::string(std::string_view content_id)>;

// Bounds of SanitizeHtml's output.
inline constexpr size_t kMaxHtmlDepth = 200;  // open elements; deeper start tags are dropped, their text kept
inline constexpr size_t kMaxHtmlOutput = 16u << 20;  // bytes, roughly: past it the rest of the part is cut

// An HTML part made safe to show inside a sandboxed iframe. `html` is the
// part's text in UTF-8 (invalid sequences become U+FFFD, NULs are dropped).
//
// It is parsed with HTML5's tokenizer rules and written out again from an
// allow-list only, every text and attribute value escaped, every element
// closed, so the browser reads exactly what was checked:
//  - kept: text formatting, headings, lists, tables, blockquote, pre, links,
//    images, font/center, with harmless presentational attributes (align,
//    width, bgcolor, colspan, alt, title, ...) and a style attribute
//    reduced to allow-listed properties (colours, fonts, text, box sizes,
//    margins, padding, borders, display) whose values contain no function
//    but rgb()/rgba()/hsl()/hsla(), no backslash, comment or '@';
//  - removed with their contents: script, style (every <style> element: a
//    stylesheet cannot be checked as cheaply as a declaration), title,
//    textarea, select, datalist, template, iframe, noscript, noembed,
//    noframes, svg, math; removed, contents kept: every other element
//    (form, button, object, video, unknown and namespaced tags, ...; xmp
//    and plaintext keep their source as text); removed alone: meta, base,
//    link, input, embed, frame, param, source, comments;
//  - every attribute not on the list: on*, srcset, action, formaction,
//    xlink:href, poster, class, id, ...;
//  - URLs (a href, img src, background): decoded, tabs and newlines removed
//    and the ends trimmed as a browser does, then kept only when absolute
//    with scheme http, https or mailto (links) or cid (resolved through
//    `cid`; dropped without one). An img whose src is http(s) loses it and
//    gets data-blocked="remote" (remote images are blocked); links get
//    rel="noopener noreferrer" target="_blank" (the iframe's sandbox needs
//    allow-popups for them to open; cid images need img-src 'self').
// The result is a complete document, the first <body>'s allowed attributes
// kept on its body:
//   <!DOCTYPE html><html><head><meta charset="utf-8"></head><body…>…</body></html>
// Nesting is cut at kMaxHtmlDepth; past about kMaxHtmlOutput bytes the
// rest is cut and a paragraph says so. `cid` is called on this thread.
// Without a resolver, SanitizeHtml(SanitizeHtml(x)) == SanitizeHtml(x).
std::string SanitizeHtml(std::string_view html, const CidResolver& cid = {});

// Text (or anything else) escaped for HTML element content and quoted
// attribute values: & < > " ' -> entities (and CR -> &#13;, which a
// browser would otherwise read as LF).
std::string EscapeHtml(std::string_view text);

// A Content-Disposition header value for `disposition` ("inline"; anything
// else means "attachment") naming `filename` safely: the name sanitized (no
// path separators, controls, quotes, leading dots; at most 200 bytes;
// "part" when nothing is left), given both as an ASCII filename= (each
// non-ASCII character, '%' and '\' as '_') and as an RFC 6266 / 5987
// filename*=UTF-8'' form. The value is printable ASCII only.
std::string ContentDisposition(std::string_view disposition, std::string_view filename);

}  // namespace mailkeep::web
