// A message (headers, text, HTML part, attachments), one part of it (as a
// sanitized HTML document or a download), its raw bytes and its thread.
#include <set>
#include <sstream>

#include "store/export/parts.h"
#include "store/mime/decode.h"
#include "web/page_html.h"
#include "web/pages.h"
#include "web/sanitize.h"

namespace mailkeep::web {
namespace {

using page::Text;

struct Loaded {
  MessageInfo info;
  std::string raw;
  mime::Message parsed;
};

// The message `id` read and parsed (its text extracted when `text`), or the
// response to give instead.
std::expected<Loaded, Response> Load(ArchiveSession& session, int64_t id, bool text) {
  auto info = page::FindMessage(session, id);
  if (!info) return std::unexpected(std::move(info).error());
  auto raw = session.archive.ReadRaw(id);
  if (!raw) return std::unexpected(page::Failure("reading message " + std::to_string(id), raw.error()));
  mime::ParseLimits limits;
  limits.extract_text = text;
  mime::Message parsed = mime::ParseMessage(*raw, limits);
  return Loaded{std::move(*info), std::move(*raw), std::move(parsed)};
}

// The leaf part at `path`, or nullptr (unknown, or a multipart container).
const mime::Part* FindLeaf(const mime::Message& m, std::string_view path) {
  for (const auto& p : m.parts) {
    if (p.path == path) return p.is_multipart ? nullptr : &p;
  }
  return nullptr;
}

bool IsListedAttachment(const mime::Part& p) { return !p.is_multipart && (p.is_attachment || !p.filename.empty()); }
bool IsShownHtml(const mime::Part& p) { return !p.is_multipart && !p.is_attachment && p.content_type == "text/html"; }

std::string PartUrl(int64_t id, std::string_view kind, std::string_view path) {
  return "/message/" + std::to_string(id) + "/" + std::string(kind) + "/" + std::string(path);
}

std::string HeaderRow(std::string_view name, std::string_view value) {
  if (value.empty()) return "";
  return "<tr><th>" + std::string(name) + "</th><td>" + Text(value) + "</td></tr>";
}

std::string HeadersTable(const Loaded& m) {
  std::set<std::string> places, flags;
  for (const auto& l : m.info.locations) {
    places.insert(l.account + ": " + l.folder);
    std::istringstream in(l.flags);
    for (std::string f; in >> f;) flags.insert(f);
  }
  auto joined = [](const std::set<std::string>& values) {
    std::string out;
    for (const auto& v : values) out += (out.empty() ? "" : ", ") + v;
    return out;
  };
  const mime::Message& p = m.parsed;
  return "<table id=\"headers\">" + HeaderRow("From", page::Addresses(p.from)) + HeaderRow("To", page::Addresses(p.to)) +
         HeaderRow("Cc", page::Addresses(p.cc)) + HeaderRow("Date", page::Date(p.date, true)) +
         HeaderRow("Subject", p.subject) + HeaderRow("Message-ID", p.message_id.empty() ? "" : "<" + p.message_id + ">") +
         HeaderRow(places.size() == 1 ? "Folder" : "Folders", joined(places)) + HeaderRow("Flags", joined(flags)) +
         "</table>\n";
}

// The name a part is downloaded under (and listed as): the message's name
// for it made safe (exporting::SafeFileName: no path, control, bidi or
// invisible characters), else ID-PATH.bin.
std::string DownloadName(int64_t id, const mime::Part& p) {
  const std::string fallback = std::to_string(id) + "-" + p.path + ".bin";
  return p.filename.empty() ? fallback : exporting::SafeFileName(p.filename, fallback);
}

std::string AttachmentList(const Loaded& m) {
  std::string items;
  for (const auto& p : m.parsed.parts) {
    if (!IsListedAttachment(p)) continue;
    items += "<li><a class=\"attachment\" href=\"" + PartUrl(m.info.id, "part", p.path) + "\">" +
             Text(p.filename.empty() ? "(unnamed part " + p.path + ")" : DownloadName(m.info.id, p)) +
             "</a> <span class=\"size\">(" +
             Text(p.content_type) + ", " + page::Size(p.size) + ")</span></li>";
  }
  if (items.empty()) return "";
  return "<section><h2>Attachments</h2><ul class=\"attachments\">" + items + "</ul></section>\n";
}

// The HTML parts, each in a sandboxed iframe (the first one is #html).
std::string HtmlFrames(const Loaded& m) {
  std::string html;
  for (const auto& p : m.parsed.parts) {
    if (!IsShownHtml(p)) continue;
    html += std::string("<iframe") + (html.empty() ? " id=\"html\"" : "") +
            " class=\"html\" sandbox=\"" + std::string(kHtmlPartSandbox) + "\" referrerpolicy=\"no-referrer\" title=\"HTML part " + p.path + "\" src=\"" +
            PartUrl(m.info.id, "html", p.path) + "\"></iframe>\n";
  }
  return html;
}

// Resolves a cid: reference of message `m` (SanitizeHtml) to the download
// URL of the part with that Content-ID ("" = none: dropped).
CidResolver InlineParts(const mime::Message& m, int64_t id) {
  return [&m, id](std::string_view content_id) -> std::string {
    for (const auto& p : m.parts) {
      if (!p.is_multipart && !p.content_id.empty() && p.content_id == content_id) return PartUrl(id, "part", p.path);
    }
    return {};
  };
}

// What a browser is told a downloaded part is: images it can show and plain
// text as such, anything else as bytes.
std::string DownloadType(const mime::Part& p) {
  static const std::set<std::string, std::less<>> kImages = {"image/png", "image/jpeg", "image/gif", "image/webp",
                                                             "image/bmp"};
  if (kImages.contains(p.content_type)) return p.content_type;
  if (p.content_type != "text/plain") return "application/octet-stream";
  const bool token = !p.charset.empty() && p.charset.size() <= 40 &&
                     p.charset.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789._:-") == std::string::npos;
  return token ? "text/plain; charset=" + p.charset : "text/plain";
}

Response Download(std::string content_type, std::string_view name, std::string body) {
  Response r;
  r.content_type = std::move(content_type);
  r.headers.emplace_back("Content-Disposition", ContentDisposition("attachment", name));
  r.body = std::move(body);
  return r;
}

}  // namespace

Response MessagePage(const Request& request, ArchiveSession& session) {
  auto m = Load(session, request.id, true);
  if (!m) return std::move(m).error();
  auto thread = session.archive.ThreadMessages(m->info.thread);
  const std::string id = std::to_string(m->info.id);
  const std::string title = m->parsed.subject.empty() ? "(no subject)" : m->parsed.subject;
  std::string main = "<h1 class=\"subject\">" + Text(title) + "</h1>\n" + HeadersTable(*m) +
                     "<p class=\"links\"><a id=\"thread\" href=\"/thread/" + id + "\">Thread";
  if (thread) main += " (" + std::to_string(thread->size()) + (thread->size() == 1 ? " message)" : " messages)");
  main += "</a><a id=\"eml\" href=\"/message/" + id + "/eml\">Raw message (.eml)</a></p>\n" + AttachmentList(*m) +
          HtmlFrames(*m) + "<h2>Text</h2><pre id=\"body\">" + Text(m->parsed.text) + "</pre>\n";
  return page::Html(200, title, main);
}

Response HtmlPartPage(const Request& request, ArchiveSession& session) {
  auto m = Load(session, request.id, false);
  if (!m) return std::move(m).error();
  const mime::Part* part = FindLeaf(m->parsed, request.part);
  if (part == nullptr || !IsShownHtml(*part)) {
    return page::NotFound("Message " + std::to_string(request.id) + " has no HTML part " + request.part + ".");
  }
  auto bytes = exporting::DecodedPart(m->raw, m->parsed, part->path);
  if (!bytes) return page::Failure("decoding part " + part->path, bytes.error());
  Response r;
  r.headers.emplace_back("Content-Security-Policy", kHtmlPartPolicy);
  r.body = SanitizeHtml(mime::ToUtf8(*bytes, part->charset), InlineParts(m->parsed, request.id));
  return r;
}

Response PartDownload(const Request& request, ArchiveSession& session) {
  auto m = Load(session, request.id, false);
  if (!m) return std::move(m).error();
  const mime::Part* part = FindLeaf(m->parsed, request.part);
  if (part == nullptr) {
    return page::NotFound("Message " + std::to_string(request.id) + " has no part " + request.part + ".");
  }
  auto bytes = exporting::DecodedPart(m->raw, m->parsed, part->path);
  if (!bytes) return page::Failure("decoding part " + part->path, bytes.error());
  return Download(DownloadType(*part), DownloadName(request.id, *part), std::move(*bytes));
}

Response EmlDownload(const Request& request, ArchiveSession& session) {
  auto info = page::FindMessage(session, request.id);
  if (!info) return std::move(info).error();
  auto raw = session.archive.ReadRaw(request.id);
  if (!raw) return page::Failure("reading message " + std::to_string(request.id), raw.error());
  return Download("message/rfc822", std::to_string(request.id) + ".eml", std::move(*raw));
}

Response ThreadPage(const Request& request, ArchiveSession& session) {
  auto info = page::FindMessage(session, request.id);
  if (!info) return std::move(info).error();
  auto members = session.archive.ThreadMessages(info->thread);
  if (!members) return page::Failure("reading the thread", members.error());
  std::string rows;
  for (int64_t id : *members) {
    auto m = page::FindMessage(session, id);
    if (!m) continue;  // removed meanwhile
    const bool current = id == request.id;
    rows += std::string("<tr class=\"message") + (current ? " current\" aria-current=\"page\"" : "\"") +
            "><td class=\"date\">" + Text(page::Date(m->date)) + "</td><td class=\"from\">" +
            Text(page::SenderName(*m)) + "</td><td><a class=\"subject\" href=\"/message/" + std::to_string(id) + "\">" +
            Text(m->subject.empty() ? "(no subject)" : m->subject) + "</a></td></tr>\n";
  }
  const std::string title = info->subject.empty() ? "Thread" : "Thread: " + info->subject;
  return page::Html(200, title,
                    "<h1>" + Text(title) + "</h1><table id=\"messages\"><thead><tr><th>Date</th><th>From</th>"
                    "<th>Subject</th></tr></thead><tbody>\n" + rows + "</tbody></table>\n");
}

}  // namespace mailkeep::web
