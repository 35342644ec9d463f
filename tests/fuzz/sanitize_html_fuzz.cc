// libFuzzer target for web/sanitize: SanitizeHtml on any bytes, with and
// without a cid resolver (one that also answers with hostile URLs). The
// output must be valid UTF-8 and canonical: the fixed document frame, text
// with no raw '<' or '>', tags written <name attr="value"> and </name>
// only, no element that runs or loads anything, no on* attribute, URLs
// only http(s)/mailto or a same-origin path, no image from elsewhere. And
// sanitizing it again must change nothing.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "store/mime/decode.h"
#include "web/sanitize.h"

namespace {

constexpr std::string_view kHead = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body";
constexpr std::string_view kTail = "</body></html>";

void Require(bool ok) {
  if (!ok) std::abort();
}

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

// The value as a browser reads it: the references the sanitizer writes
// decoded, lower case, blanks and controls removed.
std::string Squeezed(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '&') {
      const size_t semi = v.find(';', i);
      Require(semi != std::string_view::npos);
      const std::string_view ref = v.substr(i + 1, semi - i - 1);
      c = ref == "amp" ? '&' : ref == "lt" ? '<' : ref == "gt" ? '>' : ref == "quot" ? '"' : ref == "#39" ? '\'' : ' ';
      i = semi;
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (static_cast<unsigned char>(c) > 0x20 && c != 0x7F) out += c;
  }
  return out;
}

void CheckAttribute(std::string_view tag, std::string_view name, std::string_view value) {
  Require(!name.starts_with("on"));
  const std::string v = Squeezed(value);
  if (name == "style") {
    for (std::string_view bad : {"url(", "expression", "\\", "@", "/*", "image", "javascript:", ":(", "{"})
      Require(v.find(bad) == std::string::npos);
  }
  if (name == "href" || name == "src" || name == "background") {
    const bool same_origin = v.starts_with("/") && !v.starts_with("//") && !v.starts_with("/\\");
    Require(same_origin || (name == "href" && (v.starts_with("http:") || v.starts_with("https:") ||
                                               v.starts_with("mailto:"))));
  }
  Require(tag != "img" || name != "srcset");
}

// The document from "<body" to "</body>": strictly canonical, nothing
// that runs.
void CheckBody(std::string_view s) {
  static constexpr std::string_view kForbidden[] = {
      "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
      "button", "select", "textarea", "meta", "base", "link", "svg", "math", "template", "noscript",
      "title", "html", "head", "xmp", "plaintext", "noembed", "noframes", "video", "audio", "source"};
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    Require(s[i] != '>');
    if (s[i] != '<') {
      ++i;
      continue;
    }
    const bool end = s[++i] == '/';
    if (end) ++i;
    const size_t name_start = i;
    while (i < s.size() && IsNameChar(s[i])) ++i;
    const std::string_view tag = s.substr(name_start, i - name_start);
    Require(!tag.empty());
    for (auto f : kForbidden) Require(tag != f);
    Require(tag != "body" || (first && !end) || (end && i + 1 == s.size()));
    first = false;
    while (!end && i < s.size() && s[i] == ' ') {
      const size_t a = ++i;
      while (i < s.size() && IsNameChar(s[i])) ++i;
      const std::string_view name = s.substr(a, i - a);
      Require(!name.empty() && s.substr(i, 2) == "=\"");
      const size_t close = s.find('"', i + 2);
      Require(close != std::string_view::npos);
      const std::string_view value = s.substr(i + 2, close - i - 2);
      Require(value.find_first_of("<>'") == std::string_view::npos);
      CheckAttribute(tag, name, value);
      i = close + 1;
    }
    Require(i < s.size() && s[i] == '>');
    ++i;
  }
}

void CheckDocument(const std::string& doc) {
  Require(mailkeep::mime::SanitizeUtf8(doc) == doc);
  Require(doc.starts_with(kHead) && doc.ends_with(kTail));
  std::string_view body = doc;
  body.remove_prefix(kHead.size() - 5);  // from "<body"
  body.remove_suffix(7);                 // without "</html>"
  CheckBody(body);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace web = mailkeep::web;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string out = web::SanitizeHtml(in);
  CheckDocument(out);
  Require(web::SanitizeHtml(out) == out);

  // A resolver answering with paths, and with whatever the id says.
  const web::CidResolver resolver = [](std::string_view id) {
    return id.size() % 2 == 0 ? "/message/1/part/" + std::to_string(id.size()) : std::string(id);
  };
  CheckDocument(web::SanitizeHtml(in, resolver));
  return 0;
}
