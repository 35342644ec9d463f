// PageRoutes(): the table of the pages (web/pages.h), the static files and
// the mbox export of a result set.
#include "web/pages.h"

#include "store/export/mbox.h"
#include "web/page_html.h"
#include "web/sanitize.h"
#include "web/static_files.h"

namespace mailkeep::web {
namespace {

std::string StaticType(std::string_view name) {
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  return "application/octet-stream";
}

Route StaticRoute(const StaticFile& file) {
  return {"GET", "/static/" + std::string(file.name), [file](const Request&, ArchiveSession&) {
            Response r;
            r.content_type = StaticType(file.name);
            r.headers.emplace_back("Cache-Control", "no-cache");
            r.body = std::string(file.data);
            return r;
          }};
}

std::string TooMuch(const MboxLimits& limits) {
  return "; an mbox export holds at most " + std::to_string(limits.max_messages) + " messages and " +
         std::to_string(limits.max_bytes >> 20) + " MiB: narrow the query (e.g. add date:2024)";
}

// The export's body: one message a piece, read when its piece is asked
// for, so that what is held at once is one message (and the list of them).
struct MboxEntry {
  int64_t id;
  std::string from_line;
};
Response::NextPiece MboxPieces(std::vector<MboxEntry> entries) {
  return [entries = std::move(entries), next = size_t{0}](ArchiveSession& session,
                                                            std::string& piece) mutable -> Result<bool> {
    if (next == entries.size()) return false;
    const MboxEntry& entry = entries[next++];
    auto raw = session.archive.ReadRaw(entry.id);
    if (!raw) {
      return MakeError(raw.error().code(), "reading message " + std::to_string(entry.id) + ": " + raw.error().message());
    }
    exporting::AppendMboxrd(piece, *raw, entry.from_line);
    return next < entries.size();
  };
}

}  // namespace

Response MboxExport(const Request& request, ArchiveSession& session, const MboxLimits& limits) {
  const std::string query = request.Param("q");
  if (query.find_first_not_of(" \t") == std::string::npos) {
    return page::PlainLine(400, "give a query: /export.mbox?q=QUERY (* for every message)");
  }
  index::SearchOptions options;
  options.sort = index::SortOrder::kOldest;  // as `export` writes them
  options.limit = limits.max_messages + 1;
  auto found = session.index.Search(query, options);
  if (!found) return page::PlainLine(found.error().code() == ErrorCode::kInvalidArgument ? 400 : 500,
                                     found.error().message());
  if (found->ids.size() > limits.max_messages) {
    return page::PlainLine(413, std::to_string(found->total) + " messages match" + TooMuch(limits));
  }
  std::vector<MboxEntry> entries;
  uint64_t bytes = 0;
  for (int64_t id : found->ids) {
    auto info = session.archive.GetInfo(id);
    if (!info) return page::PlainLine(500, "reading the catalog: " + info.error().message());
    if (!*info) continue;  // removed since the index saw it
    bytes += (*info)->size;
    const auto& from = (*info)->from;
    entries.push_back({id, exporting::MboxFromLine(from.empty() ? "" : from.front().address, (*info)->date)});
  }
  if (bytes > limits.max_bytes) return page::PlainLine(413, "the matches hold " + page::Size(bytes) + TooMuch(limits));
  Response r;
  r.content_type = "application/mbox";
  r.headers.emplace_back("Content-Disposition", ContentDisposition("attachment", "mailkeep.mbox"));
  r.next_piece = MboxPieces(std::move(entries));
  return r;
}

std::vector<Route> PageRoutes() {
  std::vector<Route> routes = {
      {"GET", "/", SearchPage},
      {"GET", "/message/{id}", MessagePage},
      {"GET", "/message/{id}/html/{part}", HtmlPartPage},
      {"GET", "/message/{id}/part/{part}", PartDownload},
      {"GET", "/message/{id}/eml", EmlDownload},
      {"GET", "/thread/{id}", ThreadPage},
      {"GET", "/export.mbox", [](const Request& r, ArchiveSession& s) { return MboxExport(r, s); }},
  };
  for (const StaticFile& file : StaticFiles()) routes.push_back(StaticRoute(file));
  return routes;
}

}  // namespace mailkeep::web
