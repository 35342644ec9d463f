// The search page: the box, an inline query error, the results with paging
// and sorting, and the facets of the matches (histogram, senders, folders,
// accounts) whose links narrow the query.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "index/query.h"
#include "web/page_html.h"
#include "web/pages.h"

namespace mailkeep::web {
namespace {

using page::Text;

constexpr size_t kMaxOffset = 10'000'000;
constexpr int kMaxMonthBars = 120;  // a longer span is shown by year

// A paper clip, drawn (no font has to have the emoji).
constexpr std::string_view kClip =
    "<svg class=\"clip\" viewBox=\"0 0 16 16\" width=\"14\" height=\"14\" role=\"img\" aria-label=\"attachment\">"
    "<path d=\"M5 9V4a3 3 0 0 1 6 0v7a2 2 0 0 1-4 0V5\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"1.5\"/></svg>";

struct SearchParams {
  std::string query;
  std::string sort = "newest";
  index::SortOrder order = index::SortOrder::kNewest;
  size_t offset = 0;
};

// A decimal count of at most 8 digits, or nullopt.
std::optional<size_t> Count(std::string_view text) {
  if (text.empty() || text.size() > 8 || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoul(std::string(text));
}

SearchParams ReadParams(const Request& request) {
  SearchParams p;
  p.query = request.Param("q");
  const std::string sort = request.Param("sort");
  p.order = index::ParseSortOrder(sort).value_or(index::SortOrder::kNewest);
  if (p.order != index::SortOrder::kNewest) p.sort = sort;
  if (auto page = Count(request.Param("page")); page && *page > 0) {
    p.offset = (*page - 1) * kResultsPerPage;
  } else if (auto offset = Count(request.Param("offset"))) {
    p.offset = *offset;
  }
  p.offset = std::min(p.offset, kMaxOffset);
  return p;
}

// "query error at column C: ..." -> C (1-based, UTF-8 characters).
std::optional<size_t> ErrorColumn(std::string_view message) {
  static constexpr std::string_view kAt = "at column ";
  const size_t at = message.find(kAt);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(at + kAt.size());
  return Count(rest.substr(0, rest.find_first_not_of("0123456789")));
}

// The query with the character at `column` in <mark> (an empty mark at the end).
std::string MarkColumn(std::string_view query, size_t column) {
  size_t start = 0, chars = 1;
  while (start < query.size() && chars < column) {
    ++start;
    while (start < query.size() && (static_cast<unsigned char>(query[start]) & 0xC0) == 0x80) ++start;
    ++chars;
  }
  size_t end = start;
  if (end < query.size()) {
    ++end;
    while (end < query.size() && (static_cast<unsigned char>(query[end]) & 0xC0) == 0x80) ++end;
  }
  return Text(query.substr(0, start)) + "<mark>" + Text(query.substr(start, end - start)) + "</mark>" +
         Text(query.substr(end));
}

std::string QueryError(std::string_view query, const Error& error) {
  std::string html = "<div id=\"query-error\" class=\"error\" role=\"alert\"><p>" + Text(error.message()) + "</p>";
  if (auto column = ErrorColumn(error.message())) {
    html += "<pre class=\"query\">" + MarkColumn(query, *column) + "</pre>";
  }
  return html + "</div>";
}

std::string ResultRow(const MessageInfo& info) {
  std::set<std::string> folders;
  for (const auto& l : info.locations) folders.insert(l.folder);
  std::string folder_text;
  for (const auto& f : folders) folder_text += (folder_text.empty() ? "" : ", ") + f;
  const std::string id = std::to_string(info.id);
  return "<tr class=\"result\" data-id=\"" + id + "\"><td class=\"date\">" + Text(page::Date(info.date)) +
         "</td><td class=\"from\">" + Text(page::SenderName(info)) + "</td><td><a class=\"subject\" href=\"/message/" +
         id + "\">" + Text(info.subject.empty() ? "(no subject)" : info.subject) + "</a></td><td class=\"folders\">" +
         Text(folder_text) + "</td><td class=\"att\">" +
         (info.has_attachments ? "<span class=\"attachment-mark\" title=\"has attachments\">" + std::string(kClip) +
                                     "</span>"
                               : "") +
         "</td></tr>\n";
}

// Results table; Failure when a listed message cannot be read.
std::expected<std::string, Response> ResultsTable(ArchiveSession& session, const std::vector<int64_t>& ids) {
  std::string html =
      "<table id=\"results\"><thead><tr><th>Date</th><th>From</th><th>Subject</th><th>Folder</th>"
      "<th><span title=\"attachment\">" + std::string(kClip) + "</span></th></tr></thead><tbody>\n";
  for (int64_t id : ids) {
    auto info = page::FindMessage(session, id);
    if (!info) {
      if (info.error().status == 404) continue;  // removed since the index saw it
      return std::unexpected(std::move(info).error());
    }
    html += ResultRow(*info);
  }
  return html + "</tbody></table>\n";
}

std::string SortLinks(const SearchParams& p) {
  std::string html = "<nav id=\"sort\" class=\"sort\">Sort: ";
  for (const char* sort : {"newest", "oldest", "relevance"}) {
    html += "<a href=\"" + Text(page::SearchUrl(p.query, sort)) + "\"" +
            (p.sort == sort ? " aria-current=\"true\"" : "") + ">" + sort + "</a>";
  }
  return html + "</nav>\n";
}

std::string PagingLinks(const SearchParams& p, size_t shown, size_t total) {
  std::string html = "<nav id=\"paging\" class=\"paging\">";
  if (p.offset > 0) {
    const size_t prev = p.offset > kResultsPerPage ? p.offset - kResultsPerPage : 0;
    html += "<a rel=\"prev\" href=\"" + Text(page::SearchUrl(p.query, p.sort, prev)) + "\">\xE2\x86\x90 previous page</a>";
  }
  if (shown > 0) {
    html += "<span>" + std::to_string(p.offset + 1) + "\xE2\x80\x93" + std::to_string(p.offset + shown) + "</span> ";
  }
  if (p.offset + shown < total && shown == kResultsPerPage) {
    html += "<a rel=\"next\" href=\"" + Text(page::SearchUrl(p.query, p.sort, p.offset + kResultsPerPage)) +
            "\">next page \xE2\x86\x92</a>";
  }
  return html + "</nav>\n";
}

// --- Facets ------------------------------------------------------------

// "YYYY-MM" -> months since year 0, or nullopt.
std::optional<int> MonthNumber(std::string_view value) {
  if (value.size() != 7 || value[4] != '-') return std::nullopt;
  auto year = Count(value.substr(0, 4));
  auto month = Count(value.substr(5, 2));
  if (!year || !month || *month < 1 || *month > 12) return std::nullopt;
  return static_cast<int>(*year) * 12 + static_cast<int>(*month) - 1;
}

// The bars of a histogram: month (or year) number -> matches.
struct Bars {
  bool yearly = false;
  std::map<int, int64_t> counts;

  std::string Name(int k) const {
    char buf[16];
    if (yearly) {
      std::snprintf(buf, sizeof buf, "%04d", k);
    } else {
      std::snprintf(buf, sizeof buf, "%04d-%02d", k / 12, k % 12 + 1);
    }
    return buf;
  }
};

// One bar per month with matches, or per year when they span more than
// kMaxMonthBars months; values that are not "YYYY-MM" are left out.
Bars CountBars(const std::vector<index::FacetCount>& months) {
  std::map<int, int64_t> by_month;
  for (const auto& m : months) {
    if (auto n = MonthNumber(m.value); n && m.count > 0) by_month[*n] += m.count;
  }
  Bars bars;
  if (by_month.empty()) return bars;
  bars.yearly = by_month.rbegin()->first - by_month.begin()->first >= kMaxMonthBars;
  for (const auto& [n, count] : by_month) bars.counts[bars.yearly ? n / 12 : n] += count;
  return bars;
}

// The bars on a linear time axis, as an inline SVG (no script, no style
// attribute); each links to the query narrowed to its month or year.
std::string Histogram(std::string_view query, std::string_view sort, const std::vector<index::FacetCount>& months) {
  const Bars bars = CountBars(months);
  if (bars.counts.empty()) return "";
  const int first = bars.counts.begin()->first, last = bars.counts.rbegin()->first;
  int64_t most = 0;
  for (const auto& [k, count] : bars.counts) most = std::max(most, count);
  std::string svg = "<svg viewBox=\"0 0 " + std::to_string((last - first + 1) * 10) +
                    " 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Matches per " +
                    (bars.yearly ? "year" : "month") + ", " + bars.Name(first) + " to " + bars.Name(last) + "\">";
  for (const auto& [k, count] : bars.counts) {
    const int64_t height = std::max<int64_t>(1, count * 100 / most);
    const std::string label = bars.Name(k);
    svg += "<a href=\"" + Text(page::SearchUrl(NarrowQuery(query, "date", label).value_or(""), sort)) +
           "\"><rect class=\"bar\" x=\"" + std::to_string((k - first) * 10 + 1) + "\" y=\"" +
           std::to_string(100 - height) + "\" width=\"8\" height=\"" + std::to_string(height) + "\"><title>" + label +
           ": " + std::to_string(count) + "</title></rect></a>";
  }
  return "<section id=\"histogram\"><h2 class=\"visually-hidden\">Matches over time</h2>" + svg +
         "</svg><div class=\"range\"><span>" + bars.Name(first) + "</span><span>" + bars.Name(last) +
         "</span></div></section>\n";
}

std::string FacetList(std::string_view query, std::string_view sort, const char* title, const char* cls,
                      const char* field, const std::vector<index::FacetCount>& values) {
  if (values.empty()) return "";
  std::string html = std::string("<h3>") + title + "</h3><ul class=\"" + cls + "\">";
  for (const auto& v : values) {
    const auto narrowed = NarrowQuery(query, field, v.value);
    const std::string shown = Text(v.value.empty() ? "(none)" : v.value);
    html += "<li>" +
            (narrowed ? "<a href=\"" + Text(page::SearchUrl(*narrowed, sort)) + "\">" + shown + "</a>" : shown) +
            " <span class=\"count\">" + std::to_string(v.count) + "</span></li>";
  }
  return html + "</ul>";
}

std::string FacetsPanel(std::string_view query, std::string_view sort, const index::FacetResult& f) {
  return "<aside id=\"facets\"><h2>Narrow</h2>" + FacetList(query, sort, "Senders", "senders", "from", f.senders) +
         FacetList(query, sort, "Folders", "folders", "folder", f.folders) +
         FacetList(query, sort, "Accounts", "accounts", "account", f.accounts) + "</aside>\n";
}

std::string TotalLine(size_t total) {
  std::string n = std::to_string(total);
  return "<p id=\"total\" class=\"total\">" + std::string(total > 10000 ? "about " : "") + n +
         (total == 1 ? " message" : " messages") + "</p>\n";
}

constexpr std::string_view kHelp =
    "<p class=\"help\">Search words, phrases in quotes, and fields: <code>from:</code> <code>to:</code> "
    "<code>subject:</code> <code>body:</code> <code>attachment:</code> <code>folder:</code> <code>account:</code> "
    "<code>date:2024-03</code> <code>date:7d..</code> <code>size:1m..</code> <code>has:attachment</code> "
    "<code>is:flagged</code>; combine with <code>AND</code>, <code>OR</code>, <code>NOT</code>, "
    "<code>( )</code>. <code>*</code> is every message.</p>";

}  // namespace

std::optional<std::string> NarrowQuery(std::string_view query, std::string_view field, std::string_view value) {
  if (value.empty()) return std::nullopt;
  const std::string term = std::string(field) + ":" + index::QuoteQueryValue(value);
  const size_t first = query.find_first_not_of(" \t");
  if (first == std::string_view::npos) return term;
  query = query.substr(first, query.find_last_not_of(" \t") - first + 1);
  if (query == "*") return term;
  // An OR anywhere (as a word, any case) may bind looser than the new term.
  std::string lower(query);
  std::ranges::transform(lower, lower.begin(), [](unsigned char c) { return std::tolower(c); });
  bool has_or = false;
  for (size_t at = lower.find("or"); at != std::string::npos; at = lower.find("or", at + 1)) {
    const bool starts = at == 0 || std::string_view(" \t()\"").find(lower[at - 1]) != std::string_view::npos;
    const bool ends = at + 2 == lower.size() || std::string_view(" \t()\"").find(lower[at + 2]) != std::string_view::npos;
    has_or = has_or || (starts && ends);
  }
  return (has_or ? "(" + std::string(query) + ")" : std::string(query)) + " " + term;
}

Response SearchPage(const Request& request, ArchiveSession& session) {
  const SearchParams p = ReadParams(request);
  if (p.query.find_first_not_of(" \t") == std::string::npos) {
    return page::Html(200, "Search", std::string(kHelp), p.query, true);
  }
  index::SearchOptions options;
  options.sort = p.order;
  options.offset = p.offset;
  options.limit = kResultsPerPage;
  auto found = session.index.Search(p.query, options);
  if (!found) {
    if (found.error().code() != ErrorCode::kInvalidArgument) return page::Failure("searching", found.error());
    return page::Html(400, p.query, QueryError(p.query, found.error()) + std::string(kHelp), p.query, true);
  }
  auto table = ResultsTable(session, found->ids);
  if (!table) return std::move(table).error();
  std::string main = "<div class=\"layout\"><div class=\"main\">";
  // Without facets (an index that cannot give them) the page shows the results alone.
  std::optional<index::FacetResult> facets;
  if (found->total > 0) {
    if (auto f = session.index.Facets(p.query, {})) facets = std::move(*f);
  }
  if (facets) main += Histogram(p.query, p.sort, facets->months);
  main += TotalLine(found->total) + SortLinks(p) + *table + PagingLinks(p, found->ids.size(), found->total);
  if (found->total > 0) {
    main += "<p><a id=\"export\" href=\"/export.mbox?q=" + Text(page::UrlEncode(p.query)) +
            "\">Download the matches as mbox</a></p>";
  }
  main += "</div>";
  if (facets) main += FacetsPanel(p.query, p.sort, *facets);
  return page::Html(200, p.query, main + "</div>\n", p.query, true);
}

}  // namespace mailkeep::web
