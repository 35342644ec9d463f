// web/sanitize: the HTML sanitizer against the usual XSS vectors (OWASP's
// filter evasion cheat sheet and mXSS classics), ordinary mail HTML kept,
// and the escaping and download naming helpers.
//
// The output is checked by an independent strict reader: the body must be
// canonical (text without raw '<' '>', tags "<name attr="value">" and
// "</name>" only), so what the checks see is what a browser parses.
#include "web/sanitize.h"

#include <gtest/gtest.h>

#include <ctime>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mailkeep::web {
namespace {

constexpr std::string_view kHead = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>";
constexpr std::string_view kTail = "</body></html>";

// The document SanitizeHtml makes of `body` (the element's contents), with
// `body_attrs` (" name=\"value\"...") on <body>.
std::string Doc(std::string_view body, std::string_view body_attrs = "") {
  return std::string(kHead) + "<body" + std::string(body_attrs) + ">" + std::string(body) + std::string(kTail);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

// Decodes the references the sanitizer writes (&amp; &lt; &gt; &quot;
// &#39; &#NN; &#xHH;), independently of its own decoder. Returns false on
// any other '&' (an unknown named reference).
bool DecodeOutput(std::string_view s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) return false;
    const std::string_view ref = s.substr(i + 1, semi - i - 1);
    if (ref == "amp") out += '&';
    else if (ref == "lt") out += '<';
    else if (ref == "gt") out += '>';
    else if (ref == "quot") out += '"';
    else if (ref == "#39") out += '\'';
    else if (ref.size() > 1 && ref[0] == '#') {
      const bool hex = ref[1] == 'x' || ref[1] == 'X';
      const uint32_t cp = static_cast<uint32_t>(std::stoul(std::string(ref.substr(hex ? 2 : 1)), nullptr, hex ? 16 : 10));
      if (cp >= 0x80) return false;  // the sanitizer writes those as UTF-8
      out += static_cast<char>(cp);
    } else {
      return false;
    }
    i = semi;
  }
  return true;
}

struct Tag {
  std::string name;
  bool end = false;
  std::vector<std::pair<std::string, std::string>> attrs;  // values decoded
};

// Reads a sanitized body strictly; fails the test on anything not canonical.
std::vector<Tag> ReadBody(std::string_view body) {
  std::vector<Tag> tags;
  size_t i = 0;
  auto name_char = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; };
  while (i < body.size()) {
    if (body[i] == '>') {
      ADD_FAILURE() << "raw '>' in text at " << i << ": " << body;
      return tags;
    }
    if (body[i] != '<') {
      ++i;
      continue;
    }
    Tag t;
    ++i;
    if (i < body.size() && body[i] == '/') {
      t.end = true;
      ++i;
    }
    while (i < body.size() && name_char(body[i])) t.name += body[i++];
    while (!t.end && i < body.size() && body[i] == ' ') {
      ++i;
      std::string name;
      while (i < body.size() && name_char(body[i])) name += body[i++];
      if (name.empty() || body.substr(i, 2) != "=\"") {
        ADD_FAILURE() << "bad attribute in: " << body;
        return tags;
      }
      i += 2;
      const size_t q = body.find('"', i);
      const std::string_view raw = body.substr(i, q - i);
      std::string value;
      if (q == std::string_view::npos || raw.find_first_of("<>'") != std::string_view::npos ||
          !DecodeOutput(raw, value)) {
        ADD_FAILURE() << "bad attribute value '" << raw << "' in: " << body;
        return tags;
      }
      t.attrs.emplace_back(name, value);
      i = q + 1;
    }
    if (t.name.empty() || i >= body.size() || body[i] != '>') {
      ADD_FAILURE() << "bad tag at " << i << " in: " << body;
      return tags;
    }
    ++i;
    tags.push_back(std::move(t));
  }
  return tags;
}

// The body element of a sanitized document, from "<body" to before
// "</body>" (and checks the document's frame).
std::string_view BodyOf(std::string_view doc) {
  const bool framed = doc.starts_with(std::string(kHead) + "<body") && doc.ends_with(kTail);
  EXPECT_TRUE(framed) << doc;
  if (!framed) return {};
  return doc.substr(kHead.size(), doc.size() - kHead.size() - kTail.size());
}

// What a URL looks like to a browser's scheme check: lower case, without
// any whitespace or control character.
std::string Squeezed(std::string_view v) {
  std::string out;
  for (char c : Lower(v))
    if (static_cast<unsigned char>(c) > 0x20 && c != 0x7F) out += c;
  return out;
}

// Asserts that `doc` can run nothing and load nothing remote.
void ExpectInert(const std::string& doc) {
  SCOPED_TRACE(doc);
  const std::string_view body = BodyOf(doc);
  std::vector<Tag> tags = ReadBody(body);
  EXPECT_TRUE(!tags.empty() && tags.front().name == "body" && !tags.front().end);
  if (!tags.empty()) tags.erase(tags.begin());
  static const std::vector<std::string_view> kForbiddenTags = {
      "script", "style",  "iframe", "frame",    "frameset", "object",   "embed", "applet", "form",
      "input",  "button", "select", "textarea", "meta",     "base",     "link",  "svg",    "math",
      "template", "noscript", "title", "body", "html", "head", "xmp", "plaintext", "noembed", "video",
      "audio", "source", "isindex", "param"};
  for (const Tag& t : tags) {
    for (auto f : kForbiddenTags) EXPECT_NE(t.name, f);
    for (const auto& [name, value] : t.attrs) {
      EXPECT_FALSE(name.starts_with("on")) << name;
      for (auto f : {"srcset", "action", "formaction", "poster", "srcdoc", "xmlns", "data", "dynsrc", "lowsrc"})
        EXPECT_NE(name, f);
      const std::string v = Squeezed(value);
      for (auto bad : {"javascript:", "vbscript:", "livescript:", "data:", "expression", "url(", "@import",
                       "\\", "behavior", "binding", "/*"})
        EXPECT_EQ(v.find(bad), std::string::npos) << name << "=" << value;
      if (name == "href" || name == "src" || name == "background") {
        const bool ok = v.starts_with("http://") || v.starts_with("https://") || v.starts_with("mailto:") ||
                        (v.starts_with("/") && !v.starts_with("//"));
        EXPECT_TRUE(ok) << name << "=" << value;
      }
      if (name == "src" || name == "background") {
        EXPECT_TRUE(v.starts_with("/")) << "remote load: " << value;
      }
    }
  }
  // Nothing outside tags can start one: raw '<' only begins the tags read.
  EXPECT_EQ(Lower(body).find("<script"), std::string::npos);
}

// Asserts inertness and idempotence.
std::string Check(std::string_view html) {
  const std::string out = SanitizeHtml(html);
  ExpectInert(out);
  EXPECT_EQ(SanitizeHtml(out), out) << "not idempotent for: " << html;
  return out;
}

bool Has(std::string_view hay, std::string_view needle) { return hay.find(needle) != std::string_view::npos; }

// --- XSS vectors -----------------------------------------------------------

const std::vector<std::string> kVectors = {
    // Script, in every spelling.
    "<script>alert(1)</script>",
    "<SCRIPT SRC=http://xss.rocks/xss.js></SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<SCRIPT/XSS SRC=\"http://xss.rocks/xss.js\"></SCRIPT>",
    "<<SCRIPT>alert(\"XSS\");//\\<</SCRIPT>",
    "<SCRIPT SRC=http://xss.rocks/xss.js?< B >",
    "<script>alert(1)</script ><b>after</b>",
    "<script>document.write('</scr'+'ipt><img src=x onerror=alert(1)>')</script>",
    "<script><!--<script></script><img src=x onerror=alert(1)>--></script>",
    "</TITLE><SCRIPT>alert(\"XSS\");</SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    std::string("<scr\0ipt>alert(1)</scr\0ipt>", 28),
    // Event handlers.
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<IMG SRC=/ onerror=\"alert(String.fromCharCode(88,83,83))\"></img>",
    "<img src=x onerror=alert(1)//>",
    "<img/src=x/onerror=alert(1)>",
    "<img src=x onerror\n=\nalert(1)>",
    "<a onmouseover=\"alert(document.cookie)\">xxs link</a>",
    "<b ONCLICK=alert(1)>x</b>",
    "<p/onclick=alert(1)>x</p>",
    "<div onclick\t=alert(1)>x</div>",
    std::string("<img src=x on\0error=alert(1)>", 29),
    "<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert(\"XSS\")>",
    "<body onload=alert(1)>",
    "<IMG \"\"\"><SCRIPT>alert(\"XSS\")</SCRIPT>\">",
    "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116"
    "&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039"
    "&#0000041\">",
    "<details open ontoggle=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    // javascript: and friends in URLs.
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;"
    "&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A&#x61&#x6C&#x65&#x72&#x74&#x28&#x27&#x58&#x53"
    "&#x53&#x27&#x29>",
    "<a href=\"jav\tascript:alert('XSS');\">x</a>",
    "<a href=\"jav&#x09;ascript:alert('XSS');\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert('XSS');\">x</a>",
    "<a href=\"jav&#x0D;ascript:alert('XSS');\">x</a>",
    "<a href=\" &#14;  javascript:alert('XSS');\">x</a>",
    "<a href=\"&#x6a;avascript&colon;alert(1)\">x</a>",
    "<a href=\"java&Tab;script:alert(1)\">x</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"\x01javascript:alert(1)\">x</a>",
    std::string("<a href=\"java\0script:alert(1)\">x</a>", 36),
    "<a href=javascript:alert(1)>x</a>",
    "<a href='javascript:alert(1)'>x</a>",
    "<a href=\"javascript:alert(1)",
    "<a href=\"http://ok.example/\" href=\"javascript:alert(1)\">first wins</a>",
    "<a href=\"javascript:alert(1)\" href=\"http://ok.example/\">first wins</a>",
    "<IMG SRC=\"`<javascript:alert>`('XSS')\"",
    "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert('XSS');\">",
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<table background=\"javascript:alert(1)\"><tr><td background=\"http://evil.example/t.png\">x</td></tr></table>",
    "<form action=\"javascript:alert(1)\"><button formaction=\"javascript:alert(1)\">x</button></form>",
    "<isindex action=javascript:alert(1) type=image>",
    "<video poster=javascript:alert(1)></video>",
    "<img srcset=\"http://evil.example/x.png 1x\">",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<a href=\"//evil.example/\">protocol-relative</a>",
    // SVG and MathML.
    "<svg/onload=alert('XSS')>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">x</text></a></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    // CSS.
    "<STYLE>@import'http://xss.rocks/xss.css';</STYLE>",
    "<STYLE>li {list-style-image: url(\"javascript:alert('XSS')\");}</STYLE><UL><LI>XSS</br>",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">x</DIV>",
    "<DIV STYLE=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072\\0069\\0070"
    "\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027\\0029'\\0029\">x</DIV>",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">x</DIV>",
    "<IMG STYLE=\"xss:expr/*XSS*/ession(alert('XSS'))\">",
    "<XSS STYLE=\"behavior: url(xss.htc);\">",
    "<div style=\"-moz-binding:url(http://evil.example/xss.xml#xss)\">x</div>",
    "<div style=\"background:url(http://evil.example/track.gif)\">x</div>",
    "<div style=\"background:u&#114;l(http://evil.example/track.gif)\">x</div>",
    "<div style=\"color: red; background: u\\rl(http://evil.example/t.gif)\">x</div>",
    "<div style=\"color: red; background: image-set('http://evil.example/t.gif' 1x)\">x</div>",
    "<div style=\"font-family: 'a;background:url(http://evil.example/t.gif)'\">x</div>",
    "<div style=\"color:red}body{background:url(http://evil.example/t.gif)\">x</div>",
    "<LINK REL=\"stylesheet\" HREF=\"http://xss.rocks/xss.css\">",
    // Meta, base, frames, objects.
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert('XSS');\">",
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4K\">",
    "<meta http-equiv=\"Set-Cookie\" content=\"USERID=<SCRIPT>alert('XSS')</SCRIPT>\">",
    "<BASE HREF=\"javascript:alert('XSS');//\">",
    "<base href=\"http://evil.example/\"><a href=\"x\">relative</a>",
    "<iframe src=http://xss.rocks/scriptlet.html <",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<iframe srcdoc=\"&lt;img src=x onerror=alert(1)&gt;\"></iframe>",
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.rocks/scriptlet.html\"></OBJECT>",
    "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv\">",
    "<applet code=\"x\"><param name=x value=y></applet>",
    // Comments, CDATA, raw text and parser differentials.
    "<!--[if gte IE 4]><SCRIPT>alert('XSS');</SCRIPT><![endif]-->",
    "<!--><script>alert(1)</script>-->",
    "<!---><script>alert(1)</script>-->",
    "<!-- --!><script>alert(1)</script> -->",
    "<!-- <!-- nested --> <script>alert(1)</script> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<?xml version=\"1.0\"?><script>alert(1)</script>",
    "<!DOCTYPE html><script>alert(1)</script>",
    "<title><img src=x onerror=alert(1)></title>",
    "<textarea><img src=x onerror=alert(1)></textarea>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<noembed><img title=\"</noembed><img src=x onerror=alert(1)>\"></noembed>",
    "<xmp><script>alert(1)</script></xmp>",
    "<plaintext><script>alert(1)</script>",
    "<template><script>alert(1)</script></template>",
    "<style><img src=x onerror=alert(1)></style>",
    "<a title=\"</a><script>alert(1)</script>\">x</a>",
    "<p title='\"><script>alert(1)</script>'>x</p>",
    "<img src=x onerror=alert(1)",
    "<img src=\"x\" alt=\"`\"onerror=alert(1)//\">",
    "<img alt=\"\" src=x onerror=alert(1)>",
    "<div id=\"x\" <img src=x onerror=alert(1)>",
    "<a <script>alert(1)</script>>x</a>",
    "</a onclick=alert(1)>",
    "<div\fonclick=alert(1)>x</div>",
    "<select><option><img src=x onerror=alert(1)></option></select>",
    "<table><script>alert(1)</script></table>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
};

TEST(SanitizeHtml, XssVectorsRunNothing) {
  for (const std::string& v : kVectors) {
    SCOPED_TRACE(v);
    Check(v);
  }
}

TEST(SanitizeHtml, ScriptEndTagWithSpaceEndsScript) {
  const std::string out = Check("<script>alert(1)</script ><b>after</b>");
  EXPECT_EQ(out, Doc("<b>after</b>"));
}

TEST(SanitizeHtml, EncodedTextStaysText) {
  EXPECT_EQ(Check("&lt;script&gt;alert(1)&lt;/script&gt;"), Doc("&lt;script&gt;alert(1)&lt;/script&gt;"));
  EXPECT_EQ(Check("1 < 2 > 0 & done"), Doc("1 &lt; 2 &gt; 0 &amp; done"));
}

TEST(SanitizeHtml, EventHandlersAndUnknownAttributesGo) {
  EXPECT_EQ(Check("<b ONCLICK=alert(1) class=x id=y title=\"t\">x</b>"), Doc("<b title=\"t\">x</b>"));
  EXPECT_EQ(Check("<img/src=x/onerror=alert(1) alt=pic>"), Doc("<img alt=\"pic\">"));
}

TEST(SanitizeHtml, JavascriptUrlsGoEvenEncoded) {
  for (std::string_view v : {"<a href=\"&#x6a;avascript:alert(1)\">x</a>", "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
                             "<a href=\" javascript:alert(1)\">x</a>", "<a href=\"JaVaScRiPt:alert(1)\">x</a>"}) {
    EXPECT_EQ(Check(v), Doc("<a>x</a>")) << v;
  }
}

TEST(SanitizeHtml, FirstOfDuplicateAttributesWins) {
  EXPECT_EQ(Check("<a href=\"javascript:alert(1)\" href=\"http://ok.example/\">x</a>"), Doc("<a>x</a>"));
}

TEST(SanitizeHtml, UnterminatedTagIsDropped) {
  EXPECT_EQ(Check("before<img src=x onerror=alert(1)"), Doc("before"));
}

TEST(SanitizeHtml, DangerousContainersGoWithContents) {
  EXPECT_EQ(Check("a<svg><text>in svg</text></svg>b<svg/>c"), Doc("abc"));
  EXPECT_EQ(Check("a<style>p{color:red}</style><title>t</title><template>x</template>b"), Doc("ab"));
  EXPECT_EQ(Check("a<select><option>o</option></select><textarea>t</textarea>b"), Doc("ab"));
  EXPECT_EQ(Check("a<iframe srcdoc=\"x\">fallback</iframe><noscript>ns</noscript>b"), Doc("ab"));
}

TEST(SanitizeHtml, OtherContainersKeepTheirText) {
  EXPECT_EQ(Check("<form action=\"http://x.example/\"><p>Name</p><input name=n><button>Send</button></form>"),
            Doc("<p>Name</p>Send"));
  EXPECT_EQ(Check("<object data=\"x.swf\"><param name=a value=b><p>fallback</p></object>"), Doc("<p>fallback</p>"));
  EXPECT_EQ(Check("<o:p>&nbsp;</o:p><custom-tag>text</custom-tag>"), Doc("\xC2\xA0text"));
}

TEST(SanitizeHtml, CommentsGo) {
  EXPECT_EQ(Check("a<!-- hidden <b>x</b> -->b<!-->c<!--->d<!-- x --!>e<!x>f<?php g ?>h"), Doc("abcdefh"));
  EXPECT_EQ(Check("a<!-- never closed <b>x</b>"), Doc("a"));
}

TEST(SanitizeHtml, CssThatLoadsIsDroppedDeclarationByDeclaration) {
  EXPECT_EQ(Check("<p style=\"color:red; background:url(http://evil.example/t.gif); FONT-WEIGHT : bold\">x</p>"),
            Doc("<p style=\"color: red; font-weight: bold\">x</p>"));
  EXPECT_EQ(Check("<p style=\"color: rgb(1, 2, 3); width: expression(alert(1)); position: fixed\">x</p>"),
            Doc("<p style=\"color: rgb(1, 2, 3)\">x</p>"));
  EXPECT_EQ(Check("<p style=\"font-family: 'Helvetica Neue', Arial, sans-serif !important\">x</p>"),
            Doc("<p style=\"font-family: &#39;Helvetica Neue&#39;, Arial, sans-serif !important\">x</p>"));
  EXPECT_EQ(Check("<p style=\"background:u\\rl(x)\">x</p>"), Doc("<p>x</p>"));
}

TEST(SanitizeHtml, RemoteImagesAreBlocked) {
  EXPECT_EQ(Check("<img src=\"https://track.example/p.gif\" alt=\"Logo\" width=\"100\">"),
            Doc("<img alt=\"Logo\" width=\"100\" data-blocked=\"remote\">"));
  EXPECT_EQ(Check("<img src=\"data:image/png;base64,AAAA\" alt=\"x\">"), Doc("<img alt=\"x\">"));
}

TEST(SanitizeHtml, LinksOpenElsewhereWithoutReferrer) {
  EXPECT_EQ(Check("<a href=\"https://ok.example/a?b=1&amp;c=2\" target=\"_self\" rel=\"opener\">x</a>"),
            Doc("<a href=\"https://ok.example/a?b=1&amp;c=2\" rel=\"noopener noreferrer\" target=\"_blank\">x</a>"));
  EXPECT_EQ(Check("<a href=\"mailto:someone@example.org\">mail</a>"),
            Doc("<a href=\"mailto:someone@example.org\" rel=\"noopener noreferrer\" target=\"_blank\">mail</a>"));
  // "&copy=" in an attribute is not a reference (HTML5's legacy rule).
  EXPECT_EQ(Check("<a href=\"http://ok.example/?a=1&copy=2\">x</a>"),
            Doc("<a href=\"http://ok.example/?a=1&amp;copy=2\" rel=\"noopener noreferrer\" target=\"_blank\">x</a>"));
}

TEST(SanitizeHtml, CidImagesGoThroughTheResolver) {
  std::vector<std::string> asked;
  const CidResolver resolver = [&](std::string_view cid) -> std::string {
    asked.emplace_back(cid);
    if (cid == "logo@x.example") return "/message/7/part/2";
    if (cid == "evil@x.example") return "javascript:alert(1)";
    if (cid == "other@x.example") return "//evil.example/x";
    return "";
  };
  const std::string out = SanitizeHtml(
      "<img src=\"cid:logo%40x.example\" alt=\"l\"><img src=\"CID:missing@x.example\"><img src=\"cid:evil@x.example\">"
      "<table background=\"cid:other@x.example\"></table><img src=\"cid:logo@x.example\">",
      resolver);
  ExpectInert(out);
  EXPECT_EQ(out, Doc("<img src=\"/message/7/part/2\" alt=\"l\"><img><img><table></table><img src=\"/message/7/part/2\">"));
  EXPECT_EQ(asked, (std::vector<std::string>{"logo@x.example", "missing@x.example", "evil@x.example",
                                             "other@x.example", "logo@x.example"}));
  // Without a resolver, cid: images lose their src.
  EXPECT_EQ(Check("<img src=\"cid:logo@x.example\">"), Doc("<img>"));
}

// --- ordinary mail ---------------------------------------------------------

TEST(SanitizeHtml, NewsletterKeepsTextStructureAndStyles) {
  const std::string html =
      "<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n"
      "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"><title>News</title>"
      "<style type=\"text/css\">body{margin:0} .btn{color:#fff}</style></head>"
      "<body bgcolor=\"#eeeeee\" style=\"margin:0;padding:0\">"
      "<span style=\"display:none;font-size:1px\">Preheader text</span>"
      "<table width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" align=\"center\" "
      "style=\"background-color:#ffffff;border-collapse:collapse\">"
      "<tr><td align=\"center\"><img src=\"https://cdn.example/logo.png\" alt=\"ACME\" width=\"120\"></td></tr>"
      "<tr><td style=\"font-family:Arial,sans-serif;font-size:14px;color:#333333;line-height:20px\">"
      "<h1 style=\"font-size:22px\">Spring sale &ndash; 20&nbsp;% off</h1>"
      "<p>Dear customer,<br>our <b>spring</b> sale starts today.</p>"
      "<a href=\"https://shop.example/sale?utm_source=mail&amp;id=42\" class=\"btn\" "
      "style=\"background-color:#0066cc;color:#ffffff;padding:10px 20px;text-decoration:none\">Shop now</a>"
      "<ul><li>Item one<li>Item two</ul>"
      "</td></tr></table></body></html>";
  const std::string out = Check(html);
  const std::string expected = Doc(
      "<span style=\"display: none; font-size: 1px\">Preheader text</span>"
      "<table width=\"600\" cellpadding=\"0\" cellspacing=\"0\" border=\"0\" align=\"center\" "
      "style=\"background-color: #ffffff; border-collapse: collapse\">"
      "<tr><td align=\"center\"><img alt=\"ACME\" width=\"120\" data-blocked=\"remote\"></td></tr>"
      "<tr><td style=\"font-family: Arial,sans-serif; font-size: 14px; color: #333333; line-height: 20px\">"
      "<h1 style=\"font-size: 22px\">Spring sale \xE2\x80\x93 20\xC2\xA0% off</h1>"
      "<p>Dear customer,<br>our <b>spring</b> sale starts today.</p>"
      "<a href=\"https://shop.example/sale?utm_source=mail&amp;id=42\" "
      "style=\"background-color: #0066cc; color: #ffffff; padding: 10px 20px; text-decoration: none\" "
      "rel=\"noopener noreferrer\" target=\"_blank\">Shop now</a>"
      "<ul><li>Item one</li><li>Item two</li></ul>"
      "</td></tr></table>",
      " bgcolor=\"#eeeeee\" style=\"margin: 0; padding: 0\"");
  EXPECT_EQ(out, expected);
}

TEST(SanitizeHtml, ReplyWithBlockquoteKeepsQuote) {
  const std::string html =
      "<html><body><div dir=\"ltr\">Thanks, that works!<br></div><br>"
      "<div class=\"gmail_quote\"><div dir=\"ltr\">On Mon, Jan 6, 2025 Ann &lt;ann@example.org&gt; wrote:<br></div>"
      "<blockquote class=\"gmail_quote\" style=\"margin:0px 0px 0px 0.8ex;border-left:1px solid "
      "rgb(204,204,204);padding-left:1ex\"><p>Does it work?</p><pre>$ make\nok</pre></blockquote></div>"
      "</body></html>";
  EXPECT_EQ(Check(html),
            Doc("<div dir=\"ltr\">Thanks, that works!<br></div><br>"
                "<div><div dir=\"ltr\">On Mon, Jan 6, 2025 Ann &lt;ann@example.org&gt; wrote:<br></div>"
                "<blockquote style=\"margin: 0px 0px 0px 0.8ex; border-left: 1px solid rgb(204,204,204); "
                "padding-left: 1ex\"><p>Does it work?</p><pre>$ make\nok</pre></blockquote></div>"));
}

TEST(SanitizeHtml, UnclosedAndMisnestedElementsAreClosed) {
  EXPECT_EQ(Check("<p>one<p>two<div>three"), Doc("<p>one</p><p>two</p><div>three</div>"));
  EXPECT_EQ(Check("<b><i>x</b>y</i>"), Doc("<b><i>x</i></b>y"));
  EXPECT_EQ(Check("<table><tr><td>a<td>b<tr><td>c</table>after"),
            Doc("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>after"));
  EXPECT_EQ(Check("<a href=\"http://a.example/\">1<a href=\"http://b.example/\">2</a>"),
            Doc("<a href=\"http://a.example/\" rel=\"noopener noreferrer\" target=\"_blank\">1</a>"
                "<a href=\"http://b.example/\" rel=\"noopener noreferrer\" target=\"_blank\">2</a>"));
  EXPECT_EQ(Check("x</b></p></div>y</br>z"), Doc("xy<br>z"));
}

TEST(SanitizeHtml, HeadingAfterParagraphInHeadingIsStable) {
  EXPECT_EQ(Check("<h1><p>a<h2>b"), Doc("<h1><p>a</p></h1><h2>b</h2>"));
}

TEST(SanitizeHtml, SpaceBeforeFirstTagIsKept) {
  EXPECT_EQ(Check("\n  a  <b>x</b>"), Doc("a  <b>x</b>"));
  EXPECT_EQ(Check("&#12;&#32;&#9;a"), Doc("a"));
}

TEST(SanitizeHtml, LongAttributeValuesAreDroppedTheSameWayTwice) {
  const std::string quotes(10000, '"');  // 60000 bytes once escaped
  EXPECT_EQ(Check("<p title='" + quotes + "'>x</p>"), Doc("<p title=\"" + EscapeHtml(quotes) + "\">x</p>"));
  EXPECT_EQ(Check("<p title='" + std::string(20000, 'a') + "'>x</p>"), Doc("<p>x</p>"));
}

TEST(SanitizeHtml, TextAndEntities) {
  EXPECT_EQ(Check("Gr\xC3\xBC\xC3\x9F" "e &amp; &euro;&#8364;&#x20AC; &hearts; &clubs; &bogus &#0; \xFF"),
            Doc("Gr\xC3\xBC\xC3\x9F" "e &amp; \xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC \xE2\x99\xA5 &clubs; &amp;bogus "
                "\xEF\xBF\xBD \xEF\xBF\xBD"));
  EXPECT_EQ(Check("a\r\nb\rc&#13;d"), Doc("a\nb\nc&#13;d"));
  EXPECT_EQ(Check(""), Doc(""));
}

// --- bounds ----------------------------------------------------------------

TEST(SanitizeHtml, NestingDepthIsBounded) {
  std::string html;
  for (int i = 0; i < 100000; ++i) html += "<div>";
  html += "deep";
  const std::string out = Check(html);
  size_t open = 0;
  for (size_t p = 0; (p = out.find("<div>", p)) != std::string::npos; ++p) ++open;
  EXPECT_EQ(open, kMaxHtmlDepth);
  EXPECT_TRUE(Has(out, "deep"));
}

TEST(SanitizeHtml, OutputSizeIsBounded) {
  const std::string html(kMaxHtmlOutput / 3, '<');  // each '<' becomes "&lt;"
  const std::string out = SanitizeHtml(html);
  ExpectInert(out);
  EXPECT_LE(out.size(), kMaxHtmlOutput + 4096);
  EXPECT_GT(out.size(), kMaxHtmlOutput - 4096);
}

// A 1 MB newsletter-like part. About 20 ms of CPU in an optimized build
// here; the bound is 25 times that, in CPU time (not wall time, so a busy
// machine does not fail it), and only in optimized builds without
// sanitizers, which are 50 times slower.
TEST(SanitizeHtml, OneMegabyteIsQuick) {
  std::string html = "<html><body>";
  while (html.size() < (1u << 20))
    html += "<table style=\"width:100%;color:#333\"><tr><td><a href=\"https://x.example/?a=1&amp;b=2\">Link</a> "
            "<img src=\"http://x.example/i.png\" alt=\"i\"><p>Some text &amp; more &nbsp;text</p></td></tr></table>"
            "<!-- c --><script>x()</script>";
  const auto cpu_ms = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
  };
  const double start = cpu_ms();
  const std::string out = SanitizeHtml(html);
  const double ms = cpu_ms() - start;
  EXPECT_TRUE(Has(out, "Some text &amp; more"));
  EXPECT_FALSE(Has(out, "<script"));
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(ms, 500) << "CPU ms for 1 MB";
#else
  (void)ms;
#endif
}

// --- EscapeHtml ------------------------------------------------------------

TEST(EscapeHtml, EscapesTheFiveCharacters) {
  EXPECT_EQ(EscapeHtml("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(EscapeHtml("Gr\xC3\xBC\xC3\x9F" "e"), "Gr\xC3\xBC\xC3\x9F" "e");
  EXPECT_EQ(EscapeHtml(""), "");
}

// --- ContentDisposition ----------------------------------------------------

// The filename= value and the percent-decoded filename*= value.
std::pair<std::string, std::string> Names(const std::string& header) {
  std::pair<std::string, std::string> out;
  const size_t a = header.find("; filename=\"");
  const size_t b = header.find("\"; filename*=UTF-8''");
  if (a == std::string::npos || b == std::string::npos) {
    ADD_FAILURE() << header;
    return out;
  }
  out.first = header.substr(a + 12, b - a - 12);
  const std::string enc = header.substr(b + 20);
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] == '%' && i + 2 < enc.size()) {
      out.second += static_cast<char>(std::stoi(enc.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out.second += enc[i];
    }
  }
  return out;
}

void ExpectSafeHeader(const std::string& header) {
  for (unsigned char c : header) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << "byte " << int(c) << " in " << header;
  const auto [ascii, utf8] = Names(header);
  for (char c : ascii) EXPECT_EQ(std::string_view("\"\\/%").find(c), std::string_view::npos) << header;
  EXPECT_EQ(utf8.find_first_of("/\\\"\r\n"), std::string::npos) << header;
  EXPECT_FALSE(utf8.empty() || utf8[0] == '.') << header;
  EXPECT_LE(utf8.size(), 200u) << header;
  // filename*= uses only RFC 5987 attr-chars and %XX.
  const std::string enc = header.substr(header.find("filename*=UTF-8''") + 17);
  EXPECT_EQ(enc.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$&+-.^_`|~%"),
            std::string::npos)
      << header;
}

TEST(ContentDisposition, PlainName) {
  EXPECT_EQ(ContentDisposition("attachment", "report.pdf"),
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
  EXPECT_EQ(ContentDisposition("inline", "a b.txt"), "inline; filename=\"a b.txt\"; filename*=UTF-8''a%20b.txt");
}

TEST(ContentDisposition, OnlyInlineOrAttachment) {
  const std::string h = ContentDisposition("attachment\r\nSet-Cookie: x=y", "a.txt");
  ExpectSafeHeader(h);
  EXPECT_TRUE(h.starts_with("attachment; filename=")) << h;
  EXPECT_TRUE(ContentDisposition("INLINE", "a.txt").starts_with("inline;"));
}

TEST(ContentDisposition, PathSeparatorsGo) {
  for (std::string_view n : {"../../etc/passwd", "..\\..\\windows\\system32\\passwd", "/abs/passwd", "a/b\\passwd"}) {
    const std::string h = ContentDisposition("attachment", n);
    ExpectSafeHeader(h);
    EXPECT_EQ(Names(h).second, "passwd") << h;
  }
}

TEST(ContentDisposition, QuotesControlsAndLineBreaksGo) {
  const std::string h = ContentDisposition("attachment", "my \"quoted\"\r\nSet-Cookie: a=b\x01\x7F;.txt");
  ExpectSafeHeader(h);
  EXPECT_EQ(h.find('\r'), std::string::npos);
  EXPECT_EQ(h.find('\n'), std::string::npos);
  EXPECT_EQ(Names(h).first, "my _quoted___Set-Cookie_ a=b__;.txt");
}

// "invoice\u202Efdp.exe" shows as "invoiceexe.pdf": a name that reorders or
// hides characters must not reach the download dialog (nor the page).
TEST(ContentDisposition, BidiAndInvisibleControlsGo) {
  for (std::string_view control : {"\u202E", "\u202D", "\u202A", "\u2066", "\u2067", "\u2068", "\u2069",
                                   "\u200E", "\u200F", "\u061C", "\u200B", "\u2028", "\u2029", "\uFEFF",
                                   "\u0085", "\u009B"}) {
    const std::string name = "invoice" + std::string(control) + "fdp.exe";
    const std::string h = ContentDisposition("attachment", name);
    ExpectSafeHeader(h);
    EXPECT_EQ(Names(h).second, "invoice_fdp.exe") << h;
  }
  // Ordinary right-to-left text stays.
  EXPECT_EQ(Names(ContentDisposition("attachment", "\u05D7\u05E9\u05D1\u05D5\u05DF.pdf")).second,
            "\u05D7\u05E9\u05D1\u05D5\u05DF.pdf");
}

TEST(ContentDisposition, LeadingDotsAndEmptyNames) {
  EXPECT_EQ(Names(ContentDisposition("attachment", ".bashrc")).second, "bashrc");
  for (std::string_view n : {"", "...", "..", ".", "/", "  "}) {
    const std::string h = ContentDisposition("attachment", n);
    ExpectSafeHeader(h);
    EXPECT_EQ(Names(h).second, "part") << n;
  }
}

TEST(ContentDisposition, VeryLongNameIsCutKeepingExtension) {
  std::string name;
  for (int i = 0; i < 300; ++i) name += "\xC3\xA9";  // é
  name += ".pdf";
  const std::string h = ContentDisposition("attachment", name);
  ExpectSafeHeader(h);
  const auto [ascii, utf8] = Names(h);
  EXPECT_TRUE(utf8.ends_with(".pdf")) << utf8;
  EXPECT_LE(utf8.size(), 200u);
  EXPECT_TRUE(ascii.ends_with(".pdf")) << ascii;
}

TEST(ContentDisposition, Utf8NameGoesToFilenameStar) {
  const std::string h = ContentDisposition("attachment", "Gr\xC3\xBC\xC3\x9F" "e 100%.pdf");
  ExpectSafeHeader(h);
  EXPECT_EQ(Names(h).first, "Gr__e 100_.pdf");
  EXPECT_EQ(Names(h).second, "Gr\xC3\xBC\xC3\x9F" "e 100%.pdf");
  EXPECT_TRUE(h.ends_with("filename*=UTF-8''Gr%C3%BC%C3%9Fe%20100%25.pdf")) << h;
  // Invalid UTF-8 does not pass through.
  ExpectSafeHeader(ContentDisposition("attachment", "a\xFF\xFE.txt"));
}

}  // namespace
}  // namespace mailkeep::web
