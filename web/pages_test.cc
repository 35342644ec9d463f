// Tests for the pages (web/pages.h): each handler called on a small real
// archive (stored, indexed) without a server. A fake IndexReader supplies
// facets (and, by default, fails them as an index without them does).
#include "web/pages.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>

#include "index/feeder.h"
#include "store/export/mbox.h"
#include "store/export/parts.h"
#include "store/mime/decode.h"
#include "web/sanitize.h"

namespace mailkeep::web {
namespace {

// Hostile subject, a body line that mboxrd must quote.
const char kXss[] =
    "From: Mallory <mallory@example.net>\nTo: bob@example.org\nSubject: <script>alert(1)</script>\n"
    "Date: Wed, 10 Jan 2024 08:00:00 +0000\nMessage-ID: <xss1@example.net>\n\n"
    "quince <b>bold</b> & more\nFrom here the body goes on.\n";
// A thread of three; the middle one with non-ASCII (RFC 2047) headers.
const char kThread1[] =
    "From: Carol <carol@example.org>\nTo: list@example.org\nSubject: Plans\n"
    "Date: Thu, 1 Feb 2024 10:00:00 +0000\nMessage-ID: <t1@example.org>\n\nFirst quince.\n";
const char kThread2[] =
    "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\nTo: list@example.org\n"
    "Subject: =?UTF-8?B?UmU6IEdyw7zDn2UgYXVzIEvDtmxu?=\nDate: Fri, 2 Feb 2024 10:00:00 +0000\n"
    "Message-ID: <t2@example.org>\nIn-Reply-To: <t1@example.org>\nReferences: <t1@example.org>\n\nZweite quince.\n";
const char kThread3[] =
    "From: Carol <carol@example.org>\nTo: list@example.org\nSubject: Re: Plans\n"
    "Date: Sat, 3 Feb 2024 10:00:00 +0000\nMessage-ID: <t3@example.org>\nIn-Reply-To: <t2@example.org>\n"
    "References: <t1@example.org> <t2@example.org>\n\nThird quince.\n";
// Text and HTML (with script, a cid: image, Latin-1), an inline image and an
// attachment whose name tries to leave the download directory.
const char kHtml[] =
    "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>\nSubject: Report with pictures\n"
    "Date: Fri, 10 May 2024 09:00:00 +0000\nMessage-ID: <html1@example.org>\nMIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n\n"
    "--outer\nContent-Type: multipart/alternative; boundary=\"alt\"\n\n"
    "--alt\nContent-Type: text/plain; charset=utf-8\n\nquince report in plain text\n"
    "--alt\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
    "<html><body><p>quince report</p><script>alert('x')</script><img src=3D\"cid:logo@example.org\">"
    "<p>caf=E9</p></body></html>\n"
    "--alt--\n"
    "--outer\nContent-Type: image/png\nContent-ID: <logo@example.org>\nContent-Transfer-Encoding: base64\n"
    "Content-Disposition: inline\n\niVBORw0KGgo=\n"
    "--outer\nContent-Type: application/x-sh\n"
    "Content-Disposition: attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd%0D%0A.txt\n"
    "Content-Transfer-Encoding: base64\n\nIyEvYmluL3NoCmVjaG8gb3duZWQK\n--outer--\n";

// The real index, with facets given by the test (or failing as an index
// without them does).
class FakeFacetsReader : public index::IndexReader {
 public:
  explicit FakeFacetsReader(index::IndexReader& real) : real_(real) {}
  Result<index::SearchResult> Search(const std::string& query, const index::SearchOptions& options) override {
    return real_.Search(query, options);
  }
  Result<index::FacetResult> Facets(const std::string& query, const index::FacetOptions&) override {
    facet_queries.push_back(query);
    if (!facets) return MakeError(ErrorCode::kFailedPrecondition, "facets need index schema version 4");
    return *facets;
  }
  Result<int64_t> DocumentCount() override { return real_.DocumentCount(); }

  std::optional<index::FacetResult> facets;
  std::vector<std::string> facet_queries;

 private:
  index::IndexReader& real_;
};

Origin Place(std::string account, std::string folder, std::string key, std::string flags = {}) {
  Origin o;
  o.source = "imap";
  o.account = std::move(account);
  o.folder = std::move(folder);
  o.key = std::move(key);
  o.uidvalidity = 1;
  o.flags = std::move(flags);
  return o;
}

Request Get(std::string path, std::vector<std::pair<std::string, std::string>> query = {}, int64_t id = 0,
            std::string part = {}) {
  Request r;
  r.method = "GET";
  r.path = std::move(path);
  r.query = std::move(query);
  r.client = "127.0.0.1";
  r.id = id;
  r.part = std::move(part);
  return r;
}

std::string Header(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

size_t Count(std::string_view haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string_view::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The q= values of the links in `html` (hrefs unescaped, q decoded).
std::vector<std::string> LinkedQueries(const std::string& html) {
  std::vector<std::string> out;
  static const std::regex kHref("href=\"/\\?q=([^\"&]*)");
  for (std::sregex_iterator it(html.begin(), html.end(), kHref), end; it != end; ++it) {
    out.push_back(PercentDecode((*it)[1].str()));
  }
  return out;
}

// What every HTML page must be: UTF-8, the page policy (no inline script),
// no event handler attribute, the one script tag ours.
void ExpectSafePage(const Response& r) {
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(r, "Content-Security-Policy"), kPagePolicy);
  EXPECT_NE(std::string(kPagePolicy).find("script-src 'self';"), std::string::npos);
  EXPECT_EQ(std::string(kPagePolicy).find("unsafe"), std::string::npos);
  EXPECT_FALSE(std::regex_search(r.body, std::regex("\\son[a-z]+\\s*=", std::regex::icase))) << r.body;
  EXPECT_EQ(Count(r.body, "<script"), 1u) << r.body;
  EXPECT_NE(r.body.find("<script src=\"/static/app.js\" defer></script>"), std::string::npos);
  EXPECT_NE(r.body.find("<meta charset=\"utf-8\">"), std::string::npos);
}

class PagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-pages-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    auto archive = Archive::Create(root_ + "/archive");
    ASSERT_TRUE(archive) << archive.error().ToString();
    archive_ = std::move(*archive);
    // t3 before its parent: a thread joins out of order.
    const auto ids = Store({{kXss, Place("work", "INBOX", "1", "\\Seen \\Flagged")},
                            {kThread1, Place("work", "Archive 2024", "2")},
                            {kThread3, Place("work", "Archive 2024", "3")},
                            {kThread2, Place("work", "Archive 2024", "4")},
                            {kHtml, Place("home", "INBOX", "5")}});
    ASSERT_EQ(ids.size(), 5u);
    xss_ = ids[0], t1_ = ids[1], t3_ = ids[2], t2_ = ids[3], html_ = ids[4];
    Index();
  }
  void TearDown() override {
    reader_.reset();
    archive_.reset();
    std::filesystem::remove_all(root_);
  }

  // Stores the messages in one batch; their ids.
  std::vector<int64_t> Store(std::vector<RawMessage> batch) {
    std::vector<int64_t> ids;
    auto out = archive_->Ingest(std::move(batch));
    EXPECT_TRUE(out) << out.error().ToString();
    for (const auto& o : out ? *out : std::vector<IngestOutcome>{}) {
      EXPECT_EQ(o.status, IngestStatus::kStored) << o.error;
      ids.push_back(o.id);
    }
    return ids;
  }

  void Index() {
    reader_.reset();
    auto done = index::CatchUpIndex(*archive_, 1, {}, {});
    ASSERT_TRUE(done) << done.error().ToString();
    auto reader = index::IndexReader::Open(index::IndexDir(*archive_));
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
    fake_ = std::make_unique<FakeFacetsReader>(*reader_);
  }

  template <typename Handler>
  Response Call(Handler handler, const Request& request) {
    ArchiveSession session{*archive_, *fake_};
    return handler(request, session);
  }
  Response Search(std::vector<std::pair<std::string, std::string>> query) {
    return Call(SearchPage, Get("/", std::move(query)));
  }
  std::vector<int64_t> ResultIds(const std::string& html) {
    std::vector<int64_t> ids;
    static const std::regex kRow("<tr class=\"result\" data-id=\"([0-9]+)\"");
    for (std::sregex_iterator it(html.begin(), html.end(), kRow), end; it != end; ++it) {
      ids.push_back(std::stoll((*it)[1].str()));
    }
    return ids;
  }
  // How many messages `query` matches in the real index (kInvalidArgument fails the test).
  size_t Matches(const std::string& query) {
    auto found = reader_->Search(query, {});
    EXPECT_TRUE(found) << query << ": " << found.error().ToString();
    return found ? found->total : 0;
  }

  std::string root_;
  std::unique_ptr<Archive> archive_;
  std::unique_ptr<index::IndexReader> reader_;
  std::unique_ptr<FakeFacetsReader> fake_;
  int64_t xss_ = 0, t1_ = 0, t2_ = 0, t3_ = 0, html_ = 0;
};

TEST_F(PagesTest, SearchListsResultsNewestFirstWithSortLinks) {
  Response r = Search({{"q", "quince"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSafePage(r);
  EXPECT_EQ(ResultIds(r.body), (std::vector<int64_t>{html_, t3_, t2_, t1_, xss_}));
  EXPECT_NE(r.body.find("<input type=\"search\" id=\"q\" name=\"q\" value=\"quince\""), std::string::npos);
  EXPECT_NE(r.body.find("<p id=\"total\" class=\"total\">5 messages</p>"), std::string::npos);
  EXPECT_NE(r.body.find("<a class=\"subject\" href=\"/message/" + std::to_string(t1_) + "\">Plans</a>"),
            std::string::npos);
  EXPECT_NE(r.body.find("href=\"/?q=quince&amp;sort=oldest\""), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/?q=quince&amp;sort=relevance\""), std::string::npos);
  EXPECT_NE(r.body.find("<a href=\"/?q=quince\" aria-current=\"true\">newest</a>"), std::string::npos);
  EXPECT_NE(r.body.find("href=\"/export.mbox?q=quince\""), std::string::npos);
  // The attachment mark on the message with an attachment only.
  EXPECT_EQ(Count(r.body, "class=\"attachment-mark\""), 1u);
  // The folder column.
  EXPECT_NE(r.body.find("<td class=\"folders\">Archive 2024</td>"), std::string::npos);

  Response oldest = Search({{"q", "quince"}, {"sort", "oldest"}});
  EXPECT_EQ(ResultIds(oldest.body), (std::vector<int64_t>{xss_, t1_, t2_, t3_, html_}));
  EXPECT_NE(oldest.body.find("aria-current=\"true\">oldest</a>"), std::string::npos);
}

TEST_F(PagesTest, PagingLinksAndOffsets) {
  std::vector<RawMessage> batch;
  for (int i = 0; i < 52; ++i) {
    RawMessage m;
    m.bytes = "From: f@example.org\nSubject: filler " + std::to_string(i) + "\nDate: Mon, 1 Jan 2024 00:00:" +
              (i < 10 ? "0" : "") + std::to_string(i % 60) + " +0000\nMessage-ID: <f" + std::to_string(i) +
              "@example.org>\n\nfiller\n";
    m.origin = Place("work", "Filler", "f" + std::to_string(i));
    batch.push_back(std::move(m));
  }
  ASSERT_EQ(Store(std::move(batch)).size(), 52u);
  Index();
  Response first = Search({{"q", "filler"}, {"sort", "oldest"}});
  EXPECT_EQ(ResultIds(first.body).size(), kResultsPerPage);
  EXPECT_NE(first.body.find("<a rel=\"next\" href=\"/?q=filler&amp;sort=oldest&amp;page=2\">"), std::string::npos);
  EXPECT_EQ(first.body.find("rel=\"prev\""), std::string::npos);
  Response second = Search({{"q", "filler"}, {"sort", "oldest"}, {"page", "2"}});
  ASSERT_EQ(ResultIds(second.body).size(), 2u);
  EXPECT_EQ(ResultIds(second.body)[0], ResultIds(first.body)[0] + 50);
  EXPECT_NE(second.body.find("<a rel=\"prev\" href=\"/?q=filler&amp;sort=oldest\">"), std::string::npos);
  EXPECT_EQ(second.body.find("rel=\"next\""), std::string::npos);
  EXPECT_NE(second.body.find("<span>51\xE2\x80\x93" "52</span>"), std::string::npos);
  // offset= is taken as given; links from there keep the offset.
  Response shifted = Search({{"q", "filler"}, {"sort", "oldest"}, {"offset", "1"}});
  EXPECT_EQ(ResultIds(shifted.body)[0], ResultIds(first.body)[1]);
  EXPECT_NE(shifted.body.find("<a rel=\"next\" href=\"/?q=filler&amp;sort=oldest&amp;offset=51\">"), std::string::npos);
  EXPECT_NE(shifted.body.find("<a rel=\"prev\" href=\"/?q=filler&amp;sort=oldest\">"), std::string::npos);
  // Nonsense paging is the first page.
  EXPECT_EQ(ResultIds(Search({{"q", "filler"}, {"sort", "oldest"}, {"page", "x"}}).body), ResultIds(first.body));
}

TEST_F(PagesTest, QuerySyntaxErrorIsShownInlineWithItsColumnMarked) {
  Response r = Search({{"q", "quince subject:("}});
  EXPECT_EQ(r.status, 400);
  ExpectSafePage(r);
  EXPECT_NE(r.body.find("id=\"query-error\""), std::string::npos) << r.body;
  auto direct = reader_->Search("quince subject:(", {});
  ASSERT_FALSE(direct);
  EXPECT_NE(r.body.find(EscapeHtml(direct.error().message())), std::string::npos) << r.body;
  std::smatch column;
  ASSERT_TRUE(std::regex_search(direct.error().message(), column, std::regex("column ([0-9]+)")));
  const size_t at = std::stoul(column[1].str()) - 1;  // ASCII query: characters are bytes
  const std::string query = "quince subject:(";
  const std::string marked = query.substr(0, at) + "<mark>" + query.substr(at, 1) + "</mark>" + query.substr(at + 1);
  EXPECT_NE(r.body.find("<pre class=\"query\">" + marked + "</pre>"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("id=\"results\""), std::string::npos);
  // The query stays in the box to be corrected.
  EXPECT_NE(r.body.find("value=\"quince subject:(\""), std::string::npos);
}

TEST_F(PagesTest, EmptySearchIsTheFormAlone) {
  Response r = Search({});
  EXPECT_EQ(r.status, 200);
  ExpectSafePage(r);
  EXPECT_NE(r.body.find("id=\"q\""), std::string::npos);
  EXPECT_NE(r.body.find(" autofocus"), std::string::npos);
  EXPECT_EQ(r.body.find("id=\"results\""), std::string::npos);
}

TEST_F(PagesTest, MessageTextIsEscapedEverywhere) {
  const std::string escaped = "&lt;script&gt;alert(1)&lt;/script&gt;";
  for (const Response& r : {Call(MessagePage, Get("/message", {}, xss_)), Search({{"q", "mallory"}}),
                            Call(ThreadPage, Get("/thread", {}, xss_))}) {
    ASSERT_EQ(r.status, 200) << r.body;
    ExpectSafePage(r);
    EXPECT_EQ(r.body.find("<script>alert(1)"), std::string::npos) << r.body;
    EXPECT_NE(r.body.find(escaped), std::string::npos) << r.body;
  }
  Response m = Call(MessagePage, Get("/message", {}, xss_));
  EXPECT_NE(m.body.find("<pre id=\"body\">quince &lt;b&gt;bold&lt;/b&gt; &amp; more\nFrom here"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("<title>" + escaped), std::string::npos);
  EXPECT_NE(m.body.find("<tr><th>Flags</th><td>\\Flagged, \\Seen</td></tr>"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("<tr><th>Message-ID</th><td>&lt;xss1@example.net&gt;</td></tr>"), std::string::npos);
}

TEST_F(PagesTest, MessagePageShowsHeadersHtmlFrameAttachmentsAndLinks) {
  Response r = Call(MessagePage, Get("/message", {}, html_));
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSafePage(r);
  const std::string id = std::to_string(html_);
  EXPECT_NE(r.body.find("<table id=\"headers\"><tr><th>From</th><td>Alice &lt;alice@example.org&gt;</td></tr>"
                        "<tr><th>To</th><td>Bob &lt;bob@example.org&gt;</td></tr>"
                        "<tr><th>Date</th><td>2024-05-10 09:00:00 UTC</td></tr>"
                        "<tr><th>Subject</th><td>Report with pictures</td></tr>"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("<tr><th>Folder</th><td>home: INBOX</td></tr>"), std::string::npos);
  EXPECT_NE(r.body.find("<iframe id=\"html\" class=\"html\" sandbox=\"allow-popups allow-popups-to-escape-sandbox\" referrerpolicy=\"no-referrer\" "
                        "title=\"HTML part 1.2\" src=\"/message/" + id + "/html/1.2\"></iframe>"),
            std::string::npos)
      << r.body;
  for (const char* power : {"allow-scripts", "allow-same-origin", "allow-forms", "allow-top-navigation"}) {
    EXPECT_EQ(r.body.find(power), std::string::npos) << power;
  }
  EXPECT_NE(r.body.find("<a class=\"attachment\" href=\"/message/" + id + "/part/3\">passwd__.txt</a>"),
            std::string::npos)
      << r.body;
  EXPECT_EQ(Count(r.body, "class=\"attachment\""), 1u);
  EXPECT_NE(r.body.find("<a id=\"thread\" href=\"/thread/" + id + "\">Thread (1 message)</a>"), std::string::npos);
  EXPECT_NE(r.body.find("<a id=\"eml\" href=\"/message/" + id + "/eml\">"), std::string::npos);
  EXPECT_NE(r.body.find("<pre id=\"body\">quince report in plain text"), std::string::npos);

  // RFC 2047 headers decoded, and shown as UTF-8.
  Response t = Call(MessagePage, Get("/message", {}, t2_));
  EXPECT_NE(t.body.find("<h1 class=\"subject\">Re: Gr\xC3\xBC\xC3\x9F" "e aus K\xC3\xB6ln</h1>"), std::string::npos)
      << t.body;
  EXPECT_NE(t.body.find("J\xC3\xBCrgen M\xC3\xBCller &lt;juergen@example.de&gt;"), std::string::npos);
  EXPECT_NE(t.body.find("Thread (3 messages)"), std::string::npos);
}

TEST_F(PagesTest, HtmlPartIsSanitizedUnderItsOwnPolicy) {
  Response r = Call(HtmlPartPage, Get("/message/html", {}, html_, "1.2"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(Header(r, "Content-Security-Policy"), kHtmlPartPolicy);
  const std::string policy = kHtmlPartPolicy;
  EXPECT_EQ(policy.find("script"), std::string::npos);
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos);
  EXPECT_NE(policy.find("sandbox"), std::string::npos);
  // SanitizeHtml's output for the decoded, converted part, with the cid:
  // image pointing at its part.
  const std::string html =
      "<html><body><p>quince report</p><script>alert('x')</script><img src=\"cid:logo@example.org\">"
      "<p>caf\xC3\xA9</p></body></html>";  // the newline before a boundary is the boundary's
  const std::string part_url = "/message/" + std::to_string(html_) + "/part/2";
  const std::string expected = SanitizeHtml(html, [&](std::string_view cid) {
    return cid == "logo@example.org" ? part_url : std::string();
  });
  EXPECT_NE(expected.find(part_url), std::string::npos) << expected;
  EXPECT_EQ(r.body, expected);
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
  // Not an HTML part, a container, no such part, no such message: 404.
  EXPECT_EQ(Call(HtmlPartPage, Get("/message/html", {}, html_, "1.1")).status, 404);
  EXPECT_EQ(Call(HtmlPartPage, Get("/message/html", {}, html_, "1")).status, 404);
  EXPECT_EQ(Call(HtmlPartPage, Get("/message/html", {}, html_, "9")).status, 404);
  EXPECT_EQ(Call(HtmlPartPage, Get("/message/html", {}, 999, "1.2")).status, 404);
}

TEST_F(PagesTest, PartDownloadIsTheDecodedPartUnderASafeName) {
  auto raw = archive_->ReadRaw(html_);
  ASSERT_TRUE(raw);
  const mime::Message m = mime::ParseMessage(*raw);
  Response r = Call(PartDownload, Get("/message/part", {}, html_, "3"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "#!/bin/sh\necho owned\n");
  EXPECT_EQ(r.body, *exporting::DecodedPart(*raw, m, "3"));
  EXPECT_EQ(r.content_type, "application/octet-stream");
  const std::string disposition = Header(r, "Content-Disposition");
  EXPECT_EQ(disposition, ContentDisposition("attachment", m.parts[5].filename));
  EXPECT_TRUE(disposition.starts_with("attachment; filename=\"")) << disposition;
  EXPECT_EQ(disposition.find_first_of("\r\n/\\"), std::string::npos) << disposition;
  // A known-safe type keeps its type.
  Response png = Call(PartDownload, Get("/message/part", {}, html_, "2"));
  EXPECT_EQ(png.content_type, "image/png");
  EXPECT_EQ(png.body, *exporting::DecodedPart(*raw, m, "2"));
  EXPECT_EQ(Header(png, "Content-Disposition"),
            ContentDisposition("attachment", std::to_string(html_) + "-2.bin"));
  EXPECT_EQ(Call(PartDownload, Get("/message/part", {}, html_, "1.1")).content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(Call(PartDownload, Get("/message/part", {}, html_, "1")).status, 404);  // a container
  EXPECT_EQ(Call(PartDownload, Get("/message/part", {}, html_, "7")).status, 404);
  EXPECT_EQ(Call(PartDownload, Get("/message/part", {}, 999, "1")).status, 404);
}

TEST_F(PagesTest, EmlIsTheStoredBytes) {
  Response r = Call(EmlDownload, Get("/message/eml", {}, t2_));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body, *archive_->ReadRaw(t2_));
  EXPECT_EQ(r.body, kThread2);
  EXPECT_EQ(r.content_type, "message/rfc822");
  EXPECT_EQ(Header(r, "Content-Disposition"), ContentDisposition("attachment", std::to_string(t2_) + ".eml"));
  Response missing = Call(EmlDownload, Get("/message/eml", {}, 999));
  EXPECT_EQ(missing.status, 404);
  ExpectSafePage(missing);
}

TEST_F(PagesTest, ThreadListsItsMessagesOldestFirstWithTheCurrentOneMarked) {
  Response r = Call(ThreadPage, Get("/thread", {}, t3_));
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSafePage(r);
  std::vector<int64_t> ids;
  static const std::regex kLink("<a class=\"subject\" href=\"/message/([0-9]+)\">");
  for (std::sregex_iterator it(r.body.begin(), r.body.end(), kLink), end; it != end; ++it) {
    ids.push_back(std::stoll((*it)[1].str()));
  }
  EXPECT_EQ(ids, (std::vector<int64_t>{t1_, t2_, t3_}));
  EXPECT_EQ(Count(r.body, "<tr class=\"message"), 3u);
  ASSERT_EQ(Count(r.body, "<tr class=\"message current\" aria-current=\"page\">"), 1u);
  const size_t current = r.body.find("current");
  EXPECT_LT(r.body.find("/message/" + std::to_string(t3_), current), r.body.find("</tr>", current));
}

// An attachment named to look like another (U+202E reverses what follows:
// "invoice<RLO>fdp.exe" reads "invoiceexe.pdf"): the page lists it, and the
// download names it, without the reordering character.
TEST_F(PagesTest, AttachmentNamesCannotReorderThemselves) {
  const std::string rlo = "\xE2\x80\xAE";
  const auto ids = Store({{"From: a@example.org\nSubject: invoice\nMessage-ID: <rlo@example.org>\n"
                           "Date: Mon, 6 May 2024 10:00:00 +0000\nMIME-Version: 1.0\n"
                           "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\npay\n"
                           "--b\nContent-Type: application/octet-stream\n"
                           "Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe\n\nMZ\n--b--\n",
                           Place("work", "INBOX", "rlo")}});
  ASSERT_EQ(ids.size(), 1u);
  Response page = Call(MessagePage, Get("/message", {}, ids[0]));
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(page.body.find(rlo), std::string::npos);
  EXPECT_NE(page.body.find(">invoice_fdp.exe</a>"), std::string::npos) << page.body;
  Response part = Call(PartDownload, Get("/message/part", {}, ids[0], "2"));
  ASSERT_EQ(part.status, 200) << part.body;
  EXPECT_EQ(Header(part, "Content-Disposition"),
            "attachment; filename=\"invoice_fdp.exe\"; filename*=UTF-8''invoice_fdp.exe");
}

TEST_F(PagesTest, UnknownIdsAreNotFoundPages) {
  for (auto handler : {MessagePage, ThreadPage, EmlDownload}) {
    Response r = Call(handler, Get("/x", {}, 4242));
    EXPECT_EQ(r.status, 404);
    ExpectSafePage(r);
    EXPECT_NE(r.body.find("There is no message 4242"), std::string::npos);
  }
}

// The pieces a streamed body is made of (Response::next_piece), each made
// with `session` as the server would; their sizes in `sizes`.
std::string Pieces(const Response& r, ArchiveSession& session, std::vector<size_t>* sizes = nullptr) {
  std::string all;
  for (bool more = true; more;) {
    std::string piece;
    auto made = r.next_piece(session, piece);
    if (!made) {
      ADD_FAILURE() << made.error().message();
      break;
    }
    more = *made;
    if (sizes != nullptr) sizes->push_back(piece.size());
    all += piece;
  }
  return all;
}

TEST_F(PagesTest, MboxIsWhatExportWrites) {
  ArchiveSession session{*archive_, *fake_};
  Response r = MboxExport(Get("/export.mbox", {{"q", "quince"}}), session);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/mbox");
  EXPECT_EQ(Header(r, "Content-Disposition"), ContentDisposition("attachment", "mailkeep.mbox"));
  std::string expected;
  for (int64_t id : {xss_, t1_, t2_, t3_, html_}) {  // oldest first, as `export` writes them
    auto info = archive_->GetInfo(id);
    ASSERT_TRUE(info && *info);
    exporting::AppendMboxrd(expected, *archive_->ReadRaw(id),
                            exporting::MboxFromLine((*info)->from.front().address, (*info)->date));
  }
  ASSERT_TRUE(r.next_piece);
  EXPECT_EQ(r.body, "");
  const std::string body = Pieces(r, session);
  EXPECT_EQ(body, expected);
  EXPECT_TRUE(body.starts_with("From mallory@example.net Wed Jan 10 08:00:00 2024\n"));
  EXPECT_NE(body.find("\n>From here the body goes on.\n"), std::string::npos);
  EXPECT_EQ(Count("\n" + body, "\nFrom "), 5u);

  Response many = MboxExport(Get("/export.mbox", {{"q", "quince"}}), session, {.max_messages = 4});
  EXPECT_EQ(many.status, 413);
  EXPECT_NE(many.body.find("narrow the query"), std::string::npos) << many.body;
  Response big = MboxExport(Get("/export.mbox", {{"q", "quince"}}), session, {.max_bytes = 1000});
  EXPECT_EQ(big.status, 413);
  EXPECT_NE(big.body.find("narrow the query"), std::string::npos) << big.body;
  EXPECT_EQ(MboxExport(Get("/export.mbox", {{"q", "subject:("}}), session).status, 400);
  EXPECT_EQ(MboxExport(Get("/export.mbox"), session).status, 400);
}

// /export.mbox may hold 256 MiB: it used to be built whole in memory for
// each request. Now what is held at once is one message: each piece the
// server asks for is exactly the next message in mboxrd form, read from the
// archive only then.
TEST_F(PagesTest, MboxIsMadeAMessageAtATime) {
  ArchiveSession session{*archive_, *fake_};
  Response r = MboxExport(Get("/export.mbox", {{"q", "quince"}}), session);
  ASSERT_TRUE(r.next_piece);
  std::vector<size_t> sizes;
  const std::string body = Pieces(r, session, &sizes);
  std::vector<size_t> want;
  for (int64_t id : {xss_, t1_, t2_, t3_, html_}) {
    auto info = archive_->GetInfo(id);
    ASSERT_TRUE(info && *info);
    std::string one;
    exporting::AppendMboxrd(one, *archive_->ReadRaw(id),
                            exporting::MboxFromLine((*info)->from.front().address, (*info)->date));
    want.push_back(one.size());
  }
  EXPECT_EQ(sizes, want);
  EXPECT_LT(*std::max_element(sizes.begin(), sizes.end()), body.size() / 2);
  // Nothing matches: an empty body, in one call.
  Response none = MboxExport(Get("/export.mbox", {{"q", "nosuchwordanywhere"}}), session);
  ASSERT_EQ(none.status, 200);
  std::vector<size_t> no_sizes;
  EXPECT_EQ(Pieces(none, session, &no_sizes), "");
  EXPECT_EQ(no_sizes, std::vector<size_t>{0});
}

TEST_F(PagesTest, WithoutFacetsThePageShowsResultsAlone) {
  Response r = Search({{"q", "quince"}});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(fake_->facet_queries, std::vector<std::string>{"quince"});
  EXPECT_EQ(r.body.find("id=\"facets\""), std::string::npos);
  EXPECT_EQ(r.body.find("id=\"histogram\""), std::string::npos);
  EXPECT_EQ(ResultIds(r.body).size(), 5u);
}

TEST_F(PagesTest, FacetsNarrowTheQueryWithValidQueries) {
  index::FacetResult f;
  f.months = {{"2024-01", 1}, {"2024-02", 3}, {"2024-05", 1}, {"garbage", 7}};
  f.senders = {{"carol@example.org", 2}, {"juergen@example.de", 1}};
  f.folders = {{"Archive 2024", 3}, {"INBOX", 2}, {"say \"hi\"", 1}};
  f.accounts = {{"work", 4}, {"home", 1}};
  f.counted = f.total = 5;
  fake_->facets = f;
  for (const std::string query : {"quince", "quince OR nothing"}) {
    Response r = Search({{"q", query}});
    ASSERT_EQ(r.status, 200) << r.body;
    ExpectSafePage(r);
    const size_t hist = r.body.find("<section id=\"histogram\">");
    ASSERT_NE(hist, std::string::npos) << r.body;
    const std::string histogram = r.body.substr(hist, r.body.find("</section>", hist) - hist);
    EXPECT_EQ(Count(histogram, "<rect class=\"bar\""), 3u) << histogram;  // the valid months
    const size_t aside = r.body.find("<aside id=\"facets\">");
    ASSERT_NE(aside, std::string::npos);
    const std::string facets = r.body.substr(aside, r.body.find("</aside>", aside) - aside);
    EXPECT_NE(facets.find("<ul class=\"senders\">"), std::string::npos);
    EXPECT_NE(facets.find("<ul class=\"folders\">"), std::string::npos);
    EXPECT_NE(facets.find("<ul class=\"accounts\">"), std::string::npos);

    // Every narrowing link is a valid query, and narrows: what it finds is
    // what the query and the value find together.
    std::map<std::string, size_t> found;
    for (const std::string& narrowed : LinkedQueries(histogram + facets)) found[narrowed] = Matches(narrowed);
    EXPECT_EQ(found.size(), 3u + 2 + 3 + 2) << facets;
    const std::string base = query == "quince" ? "quince" : "(quince OR nothing)";
    EXPECT_EQ(found.at(base + " folder:\"Archive 2024\""), 3u);
    EXPECT_EQ(found.at(base + " folder:\"INBOX\""), 2u);
    EXPECT_EQ(found.at(base + " folder:\"say \\\"hi\\\"\""), 0u);  // none in the real index
    EXPECT_EQ(found.at(base + " from:\"carol@example.org\""), 2u);
    EXPECT_EQ(found.at(base + " from:\"juergen@example.de\""), 1u);
    EXPECT_EQ(found.at(base + " account:\"home\""), 1u);
    EXPECT_EQ(found.at(base + " account:\"work\""), 4u);
    EXPECT_EQ(found.at(base + " date:\"2024-02\""), 3u);
    EXPECT_EQ(found.at(base + " date:\"2024-05\""), 1u);
  }
}

// Facet values holding '"' and '\\' (a folder, a sender's quoted local
// part) link to queries that find exactly their messages: the links quote
// them with the query language's escapes (\\" and \\\\), as the real index
// counts them.
TEST_F(PagesTest, FacetLinksNameValuesWithQuotesAndBackslashes) {
  const std::string odd_folder = "say \"hi\" C:\\temp\\";  // say "hi" C:\temp\ (ends with a backslash)
  const std::string near_folder = "say \"hi\" C:\\temp";  // the same without it
  auto message = [](std::string from, std::string id) {
    return "From: " + from + "\nTo: bob@example.org\nSubject: odd mango\nDate: Mon, 3 Jun 2024 10:00:00 +0000\n"
           "Message-ID: <" + id + "@example.org>\n\nmango\n";
  };
  const auto ids = Store({{message("\"q\\\"uote\\\\d\"@example.org", "odd1"), Place("work", odd_folder, "o1")},
                          {message("\"q\\\"uote\\\\d\"@example.org", "odd2"), Place("work", near_folder, "o2")},
                          {message("q@example.org", "odd3"), Place("work", odd_folder, "o3")}});
  ASSERT_EQ(ids.size(), 3u);
  Index();
  auto facets = reader_->Facets("mango", {});
  ASSERT_TRUE(facets) << facets.error().ToString();
  fake_->facets = *facets;
  std::vector<std::string> senders;
  for (const auto& v : facets->senders) senders.push_back(v.value);
  std::ranges::sort(senders);
  // The local part as written, quotes and backslashes kept (what from: matches).
  ASSERT_EQ(senders, (std::vector<std::string>{R"("q\"uote\\d"@example.org)", "q@example.org"}));

  Response r = Search({{"q", "mango"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ExpectSafePage(r);
  const size_t aside = r.body.find("<aside id=\"facets\">");
  ASSERT_NE(aside, std::string::npos) << r.body;
  std::map<std::string, std::vector<int64_t>> found;
  for (const std::string& q : LinkedQueries(r.body.substr(aside, r.body.find("</aside>", aside) - aside))) {
    auto hits = reader_->Search(q, {});
    ASSERT_TRUE(hits) << q << ": " << hits.error().ToString();
    std::ranges::sort(hits->ids);
    found[q] = hits->ids;
  }
  const std::vector<int64_t> o2 = {ids[1]}, o3 = {ids[2]};
  std::vector<int64_t> o13 = {ids[0], ids[2]}, o12 = {ids[0], ids[1]};
  std::ranges::sort(o13);
  std::ranges::sort(o12);
  EXPECT_EQ(found, (std::map<std::string, std::vector<int64_t>>{
                       {R"(mango folder:"say \"hi\" C:\\temp\\")", o13},
                       {R"(mango folder:"say \"hi\" C:\\temp")", o2},
                       {R"(mango from:"\"q\\\"uote\\\\d\"@example.org")", o12},
                       {R"(mango from:"q@example.org")", o3},
                       {R"(mango account:"work")", (std::vector<int64_t>{ids[0], ids[1], ids[2]})},
                   }));
}

// Matches spread over more than ten years are shown by year.
TEST_F(PagesTest, HistogramOfALongSpanHasABarPerYear) {
  index::FacetResult f;
  f.months = {{"2010-01", 1}, {"2024-02", 3}, {"2024-05", 1}};
  fake_->facets = f;
  Response r = Search({{"q", "quince"}});
  const size_t hist = r.body.find("<section id=\"histogram\">");
  ASSERT_NE(hist, std::string::npos) << r.body;
  const std::string histogram = r.body.substr(hist, r.body.find("</section>", hist) - hist);
  EXPECT_EQ(Count(histogram, "<rect class=\"bar\""), 2u) << histogram;
  EXPECT_NE(histogram.find("<title>2024: 4</title>"), std::string::npos) << histogram;
  EXPECT_EQ(LinkedQueries(histogram), (std::vector<std::string>{"quince date:\"2010\"", "quince date:\"2024\""}));
  EXPECT_EQ(Matches("quince date:\"2024\""), 5u);
}

TEST(NarrowQuery, QuotesTheValueAndKeepsTheQueryWhole) {
  EXPECT_EQ(NarrowQuery("", "folder", "INBOX"), "folder:\"INBOX\"");
  EXPECT_EQ(NarrowQuery(" * ", "folder", "INBOX"), "folder:\"INBOX\"");
  EXPECT_EQ(NarrowQuery("a b", "from", "x@y.org"), "a b from:\"x@y.org\"");
  EXPECT_EQ(NarrowQuery("a or b", "account", "my (work)"), "(a or b) account:\"my (work)\"");
  EXPECT_EQ(NarrowQuery("(a)OR(b)", "account", "w"), "((a)OR(b)) account:\"w\"");
  EXPECT_EQ(NarrowQuery("color order", "account", "w"), "color order account:\"w\"");
  EXPECT_EQ(NarrowQuery("a", "folder", "say \"hi\""), "a folder:\"say \\\"hi\\\"\"");
  EXPECT_EQ(NarrowQuery("a", "folder", "C:\\x\\"), "a folder:\"C:\\\\x\\\\\"");
  EXPECT_EQ(NarrowQuery("a", "folder", ""), std::nullopt);
}

// The static files are served byte for byte as they are in web/static/.
TEST_F(PagesTest, StaticFilesAreServedAsTheyAreOnDisk) {
  std::map<std::string, std::string> patterns;
  for (const Route& route : PageRoutes()) {
    EXPECT_EQ(route.method, "GET");
    patterns[route.pattern] = route.method;
  }
  for (const char* p : {"/", "/message/{id}", "/message/{id}/html/{part}", "/message/{id}/part/{part}",
                        "/message/{id}/eml", "/thread/{id}", "/export.mbox", "/static/style.css", "/static/app.js"}) {
    EXPECT_TRUE(patterns.contains(p)) << p;
  }
  for (const Route& route : PageRoutes()) {
    if (!route.pattern.starts_with("/static/")) continue;
    const std::string name = route.pattern.substr(8);
    std::ifstream in(std::string(MAILKEEP_WEB_STATIC_DIR) + "/" + name, std::ios::binary);
    std::stringstream file;
    file << in.rdbuf();
    ASSERT_FALSE(file.str().empty()) << name;
    Response r = Call(route.handler, Get(route.pattern));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, file.str()) << name;
    EXPECT_EQ(r.content_type, name.ends_with(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
  }
}

}  // namespace
}  // namespace mailkeep::web
