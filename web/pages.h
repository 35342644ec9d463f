// The pages of `mailkeep serve` (PageRoutes(), web/http.h): plain HTML and
// CSS with one small script, all served from the binary. Every page works
// without JavaScript; message-supplied text reaches a page only through
// EscapeHtml (web/sanitize.h), an HTML part only through SanitizeHtml and
// only inside a sandboxed iframe.
//
//   GET /                          search: ?q=, &page= (1-based) or &offset=, &sort=newest|oldest|relevance
//   GET /message/{id}              headers, text, the HTML part in an iframe, attachments
//   GET /message/{id}/html/{part}  one text/html part, sanitized, under kHtmlPartPolicy
//   GET /message/{id}/part/{part}  one part decoded, as a download
//   GET /message/{id}/eml          the exact stored bytes, as ID.eml
//   GET /thread/{id}               every message of id's thread, oldest first
//   GET /export.mbox?q=Q           the matches as one mboxrd file (as `export --format mbox`), streamed a message at a time
//   GET /static/NAME               web/static/ (style.css, app.js)
//
// Stable ids and classes (the browser test relies on them): #q (search
// box), #query-error (a query error, with <mark> at its column), #results
// (tr.result, a.subject), #total, #sort, #paging, #histogram (rect.bar, one
// per month or year with matches), #facets (ul.senders, ul.folders,
// ul.accounts; their links narrow the query), #export; on a message
// #headers, #body, iframe#html, a.attachment, #thread, #eml; on a thread
// #messages (tr.message, tr.current).
//
// Thread-safety: handlers keep no state; each uses only the session it is
// given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "web/http.h"

namespace mailkeep::web {

// The Content-Security-Policy of every page: scripts only from /static/
// (no inline script, no event handler attributes), styles likewise, frames
// only our own HTML parts.
inline constexpr char kPagePolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
// That of a sanitized HTML part: no script at all, inline styles, images
// only from this server (cid: parts rewritten to /message/ID/part/N) or
// data: URLs, sandboxed even when opened outside its iframe.
inline constexpr char kHtmlPartPolicy[] =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; base-uri 'none'; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox";
// The iframe's sandbox: nothing but opening its links (target=_blank,
// rel=noopener from the sanitizer) in a new, unsandboxed tab; no script,
// no same origin, no form, no navigation of the page around it.
inline constexpr char kHtmlPartSandbox[] = "allow-popups allow-popups-to-escape-sandbox";

inline constexpr size_t kResultsPerPage = 50;

// What /export.mbox writes at most; past either bound it answers 413.
struct MboxLimits {
  size_t max_messages = 10000;
  uint64_t max_bytes = uint64_t{256} << 20;
};

// The handlers PageRoutes() routes (exposed for tests). A message or part
// that does not exist is a 404 page; a catalog or index failure a 500 page
// saying which.
Response SearchPage(const Request& request, ArchiveSession& session);
Response MessagePage(const Request& request, ArchiveSession& session);
Response HtmlPartPage(const Request& request, ArchiveSession& session);
Response PartDownload(const Request& request, ArchiveSession& session);
Response EmlDownload(const Request& request, ArchiveSession& session);
Response ThreadPage(const Request& request, ArchiveSession& session);
Response MboxExport(const Request& request, ArchiveSession& session, const MboxLimits& limits = {});

// `query` narrowed to `field:"value"` (index/query.h; '"' and '\\' in the
// value escaped, index::QuoteQueryValue): the term alone when the query is
// empty or "*", the query in parentheses when it has an OR (so that the
// term applies to all of it). nullopt when the value is empty.
std::optional<std::string> NarrowQuery(std::string_view query, std::string_view field, std::string_view value);

}  // namespace mailkeep::web
