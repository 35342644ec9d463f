// The JSON API: the objects of `search --format json`, `show --json` and
// `thread --json` (web/json_views.h builds them for both), and a message's
// exact bytes.
#include <charconv>

#include "web/http.h"
#include "web/json_views.h"
#include "web/routing.h"
#include "web/sanitize.h"

namespace mailkeep::web {
namespace {

constexpr size_t kDefaultLimit = 50;
constexpr size_t kMaxLimit = 1000;
constexpr size_t kMaxOffset = 1000000000;

Response Json(const nlohmann::json& value) {
  Response r;
  r.content_type = "application/json";
  r.body = DumpJson(value) + "\n";
  return r;
}

// A failure of the archive or the index: 400 for what the request got
// wrong (a query's syntax or cost), 500 otherwise.
Response Failure(const Error& error) {
  return JsonError(error.code() == ErrorCode::kInvalidArgument ? 400 : 500, error.message());
}

// Query parameter `name` as a number in [0, max]; `fallback` when absent.
Result<size_t> NumberParam(const Request& request, std::string_view name, size_t fallback, size_t max) {
  const std::string text = request.Param(name, "\x01");
  if (text == "\x01") return fallback;
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value > max) {
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string(name) + " must be a number from 0 to " + std::to_string(max));
  }
  return value;
}

Result<index::SearchOptions> SearchOptionsOf(const Request& request) {
  index::SearchOptions options;
  MK_ASSIGN_OR_RETURN(options.limit, NumberParam(request, "limit", kDefaultLimit, kMaxLimit));
  MK_ASSIGN_OR_RETURN(options.offset, NumberParam(request, "offset", 0, kMaxOffset));
  const auto sort = index::ParseSortOrder(request.Param("sort", "newest"));
  if (!sort) return MakeError(ErrorCode::kInvalidArgument, "sort must be newest, oldest or relevance");
  options.sort = *sort;
  // limit=0 asks for no result, only the total (the index's 0 means all).
  return options;
}

Response Search(const Request& request, ArchiveSession& s) {
  auto options = SearchOptionsOf(request);
  if (!options) return Failure(options.error());
  const std::string query = request.Param("q");
  if (query.empty()) return JsonError(400, "q is missing: a query (* for every message)");
  const bool count_only = options->limit == 0;
  if (count_only) options->limit = 1;
  auto found = s.index.Search(query, *options);
  if (!found) return Failure(found.error());
  auto infos = s.archive.GetInfos(count_only ? std::vector<int64_t>{} : found->ids);
  if (!infos) return Failure(infos.error());
  return Json({{"total", found->total}, {"offset", options->offset}, {"results", SearchResultsJson(*infos)}});
}

// The catalog facts of the message a request names, or its 404.
Result<MessageInfo> InfoOf(const Request& request, ArchiveSession& s) {
  MK_ASSIGN_OR_RETURN(auto info, s.archive.GetInfo(request.id));
  if (!info) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(request.id));
  return std::move(*info);
}

Response NotFoundOr(const Error& error) {
  return error.code() == ErrorCode::kNotFound ? JsonError(404, error.message()) : Failure(error);
}

Response Message(const Request& request, ArchiveSession& s) {
  auto info = InfoOf(request, s);
  if (!info) return NotFoundOr(info.error());
  auto raw = s.archive.ReadRaw(request.id);
  if (!raw) return Failure(raw.error());
  return Json(MessageJson(*info, *raw, mime::ParseMessage(*raw)));
}

Response Raw(const Request& request, ArchiveSession& s) {
  auto info = InfoOf(request, s);
  if (!info) return NotFoundOr(info.error());
  auto raw = s.archive.ReadRaw(request.id);
  if (!raw) return Failure(raw.error());
  Response r;
  r.content_type = "message/rfc822";
  r.headers.emplace_back("Content-Disposition",
                         ContentDisposition("attachment", std::to_string(request.id) + ".eml"));
  r.body = std::move(*raw);
  return r;
}

Response Thread(const Request& request, ArchiveSession& s) {
  auto info = InfoOf(request, s);
  if (!info) return NotFoundOr(info.error());
  auto members = ThreadInfos(s.archive, info->thread);
  if (!members) return Failure(members.error());
  return Json(ThreadJson(*members));
}

}  // namespace

std::vector<Route> ApiRoutes() {
  return {
      {"GET", "/api/search", Search},
      {"GET", "/api/message/{id}", Message},
      {"GET", "/api/message/{id}/raw", Raw},
      {"GET", "/api/thread/{id}", Thread},
  };
}

}  // namespace mailkeep::web
