// What every page of web/pages.h is made of: text made safe for HTML, URLs,
// dates, the page frame and the error pages. Internal to the web pages.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/archive.h"
#include "store/util/status.h"
#include "web/http.h"

namespace mailkeep::web::page {

// Text from a message, the archive or the request, for HTML element content
// and quoted attribute values: invalid UTF-8 replaced, then EscapeHtml.
std::string Text(std::string_view text);

// `text` percent-encoded for a URL query value (all but A-Z a-z 0-9 - . _ ~).
std::string UrlEncode(std::string_view text);

// "/?q=...&sort=...&page=N": the search page; sort "newest" and offset 0
// are left out. Offsets that are a whole page give page=, others offset=.
std::string SearchUrl(std::string_view query, std::string_view sort = "newest", size_t offset = 0);

// "2024-03-01 12:00" (UTC); with seconds and " UTC" when `long_form`; "" without a date.
std::string Date(std::optional<int64_t> unix_seconds, bool long_form = false);

// "Name <address>" or "address" for each, joined with ", ".
std::string Addresses(const std::vector<mime::Address>& list);
// The first From's name, else its address ("" when none).
std::string SenderName(const MessageInfo& info);
// "12 bytes", "3.4 KB", "1.2 MB".
std::string Size(uint64_t bytes);

// A complete page: `main` (HTML) inside the frame (header with the search
// box holding `query`; `focus` puts the cursor in it), with kPagePolicy.
Response Html(int status, std::string_view title, std::string_view main, std::string_view query = {},
              bool focus = false);
// A page with one line of text (escaped): 404 for unknown messages, parts ...
Response Message(int status, std::string_view title, std::string_view line);
Response NotFound(std::string_view line);
// A failure reading the archive or the index: 404 for kNotFound, 400 for
// kInvalidArgument, 500 for the rest, saying what failed.
Response Failure(std::string_view what, const Error& error);
// A plain-text answer of one line (downloads that cannot be given).
Response PlainLine(int status, std::string_view line);

// The message's catalog record, or the response to give instead (404 for an
// unknown id, Failure for a catalog error).
std::expected<MessageInfo, Response> FindMessage(ArchiveSession& session, int64_t id);

}  // namespace mailkeep::web::page
