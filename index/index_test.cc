// Tests for index/: text folding, the schema table, the document builder
// (terms and values checked through Xapian directly), the writer's commit
// policy and errors, and searches through the reader.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <xapian.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "index/document.h"
#include "index/index.h"
#include "index/positions.h"
#ifdef MAILKEEP_INDEX_HAVE_QUERY
#include "index/query.h"
#endif
#include "index/schema.h"
#include "index/shards.h"
#include "index/text.h"
#include "store/mime/message.h"

namespace mailkeep::index {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "index_test.XXXXXX").string();
    if (::mkdtemp(tmpl.data()) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

int64_t Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = s;
  return static_cast<int64_t>(timegm(&t));
}

std::set<std::string> Terms(const Xapian::Document& doc) {
  std::set<std::string> terms;
  for (auto it = doc.termlist_begin(); it != doc.termlist_end(); ++it) terms.insert(*it);
  return terms;
}

// A message with every field the schema indexes.
constexpr std::string_view kRich =
    "From: Alice Ångström <Alice.Smith@Example.ORG>\n"
    "To: Bob <bob@example.net>\n"
    "Cc: carol@example.com\n"
    "Bcc: Dave Hidden <dave@secret.example>\n"
    "Subject: Quarterly Café reports\n"
    "Message-ID: <Msg1@Example.org>\n"
    "Date: Tue, 05 Mar 2024 10:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=XX\n"
    "\n"
    "--XX\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "The numbers for Zürich are running late.\n"
    "--XX\n"
    "Content-Type: application/pdf; name=\"Q3-Résumé.pdf\"\n"
    "Content-Disposition: attachment; filename=\"Q3-Résumé.pdf\"\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--XX--\n";

IndexDocument MakeDoc(int64_t id, const mime::Message& message, uint64_t size) {
  IndexDocument doc;
  doc.id = id;
  doc.message = std::make_shared<const mime::Message>(message);
  doc.size = size;
  return doc;
}

// ---------------------------------------------------------------- text

TEST(FoldText, LowerCasesAndRemovesLatinDiacritics) {
  EXPECT_EQ(FoldText("ÉCOLE Ça Straße Ångström"), "ecole ca strasse angstrom");
  EXPECT_EQ(FoldText("Œuvre Ærø ĳs Łódź Şişli Țară"), "oeuvre aero ijs lodz sisli tara");
  EXPECT_EQ(FoldText("Tiếng Việt ẞ"), "tieng viet ss");
  EXPECT_EQ(FoldText("HELLO World 123 @#"), "hello world 123 @#");
}

TEST(FoldText, DecomposedInputFoldsLikePrecomposed) {
  EXPECT_EQ(FoldText("Cafe\xCC\x81"), "cafe");  // e + U+0301
  EXPECT_EQ(FoldText("Café"), FoldText("Cafe\xCC\x81"));
}

TEST(FoldText, OtherScriptsKeepTheirLettersButLoseCase) {
  EXPECT_EQ(FoldText("ΑΒΓ Москва"), "αβγ москва");
  EXPECT_EQ(FoldText("東京 שלום"), "東京 שלום");
  EXPECT_EQ(FoldText("× ÷"), "× ÷");
}

TEST(FoldText, InvalidUtf8PassesThrough) {
  EXPECT_EQ(FoldText(std::string_view("A\xFF\xC3", 3)), std::string("a\xFF\xC3"));
  EXPECT_EQ(FoldText(std::string_view("\xC0\xAF", 2)), std::string("\xC0\xAF"));  // overlong
  EXPECT_EQ(FoldText(""), "");
}

TEST(AddressTerms, WholeLocalPartAndDomainFolded) {
  EXPECT_EQ(AddressTerms("Alice.Smith@Example.ORG"),
            (std::vector<std::string>{"alice.smith@example.org", "alice.smith", "example.org"}));
  EXPECT_EQ(AddressTerms("<bob@x.net>"), (std::vector<std::string>{"bob@x.net", "bob", "x.net"}));
  EXPECT_EQ(AddressTerms("undisclosed"), (std::vector<std::string>{"undisclosed"}));
  EXPECT_TRUE(AddressTerms("").empty());
}

// ---------------------------------------------------------------- schema

TEST(Schema, FindFieldIsCaseInsensitive) {
  ASSERT_NE(FindField("FROM"), nullptr);
  EXPECT_EQ(FindField("From")->prefix, "F");
  EXPECT_EQ(FindField("mid")->prefix, "Q");
  EXPECT_EQ(FindField("id")->prefix, "Q");
  EXPECT_EQ(FindField("bcc")->kind, FieldKind::kAddress);
  EXPECT_EQ(FindField("folder")->kind, FieldKind::kBoolean);
  EXPECT_EQ(FindField("date"), nullptr);  // a value range, not a term field
  EXPECT_EQ(FindField("nope"), nullptr);
  EXPECT_EQ(FindField(""), nullptr);
}

// ---------------------------------------------------------------- document

TEST(BodyForIndex, CutsOnACharacterBoundary) {
  const std::string text = "ab\xC3\xA9" "cd";  // a b é c d
  EXPECT_EQ(BodyForIndex(text, 3), "ab\n");
  EXPECT_EQ(BodyForIndex(text, 4), "ab\xC3\xA9\n");
  EXPECT_EQ(BodyForIndex(text, 100), text + "\n");
}

TEST(SplitQuoted, QuotedLinesGoApart) {
  std::string own, quoted;
  SplitQuoted("On Monday you wrote:\n> the old text\n  >> older\nmy answer\n>last", &own, &quoted);
  EXPECT_EQ(own, "On Monday you wrote:\nmy answer\n");
  EXPECT_EQ(quoted, "> the old text\n  >> older\n>last");
}

TEST(BodyForIndex, DropsEncodedLines) {
  const std::string text =
      "Hello there\n"
      "iQIzBAEBCAAdFiEEx7kTpWQ0Vb9l2yQk5gq7TDd3M8oFAl9xYZ0ACgkQ5gq7TDd3\n"
      "short+line/of=base64\n"
      "bye\n";
  EXPECT_EQ(BodyForIndex(text, 1000), "Hello there\nshort+line/of=base64\nbye\n");
}

TEST(DocumentBuilder, FollowsTheSchema) {
  const mime::Message message = mime::ParseMessage(kRich);
  IndexDocument doc = MakeDoc(7, message, 1234);
  doc.thread = 42;
  doc.accounts = {"work"};
  doc.folders = {"INBOX", "archive"};
  doc.flags = {"\\Seen", "\\Flagged", "$Label1"};
  DocumentBuilder builder(64 * 1024);
  const Xapian::Document document = builder.Build(doc);
  const std::set<std::string> terms = Terms(document);

  for (const char* expected : {
           // subject, once, under S; folded
           "Squarterly", "Scafe", "Sreports",
           // from: names, address words and exact address terms
           "Falice", "Fangstrom", "Fsmith", "Falice.smith@example.org", "Falice.smith", "Fexample.org",
           // to, cc, bcc
           "Tbob", "Tbob@example.net", "Texample.net", "Ccarol@example.com", "BCdave@secret.example",
           "BChidden",
           // body, once, without a prefix (schema version 3)
           "zurich", "numbers",
           // attachment name words and the whole name
           "Aq3", "Aresume", "Apdf", "Aq3-resume.pdf",
           // booleans
           "Mtext/plain", "Mapplication/pdf", "QMsg1@Example.org", "G42", "XAwork", "XFINBOX", "XFarchive",
           "Kseen", "Kflagged", "K$label1", "Hattachment"}) {
    EXPECT_TRUE(terms.contains(expected)) << expected;
  }
  // Subject and names are not indexed a second time unprefixed; attachment
  // names only under A; containers have no mimetype term; no stems (Z terms).
  for (const char* absent : {"dave", "hidden", "q3", "Mmultipart/mixed", "Café", "Scafé", "cafe", "reports",
                             "angstrom", "alice", "Bzurich", "Znumber", "ZSreport", "Zreport"}) {
    EXPECT_FALSE(terms.contains(absent)) << absent;
  }
  EXPECT_EQ(Xapian::sortable_unserialise(document.get_value(kValueDate)), static_cast<double>(Utc(2024, 3, 5, 10)));
  EXPECT_EQ(Xapian::sortable_unserialise(document.get_value(kValueSize)), 1234.0);
  EXPECT_GT(builder.last_text_bytes(), 0u);

  // Text terms have positions (phrases), in the record beside the document
  // (version 5), not in it; exact address and boolean terms have none.
  std::vector<TermPositions> record;
  ASSERT_TRUE(DecodePositions(builder.last_positions(), &record));
  auto positions = [&](const std::string& term) -> size_t {
    for (const TermPositions& entry : record) {
      if (entry.term == term) return entry.positions.size();
    }
    return 0;
  };
  // Address words have none either (phrases match names).
  EXPECT_GT(positions("Scafe"), 0u);
  EXPECT_GT(positions("zurich"), 0u);
  EXPECT_GT(positions("Fangstrom"), 0u);
  EXPECT_EQ(positions("Fsmith"), 0u);
  EXPECT_EQ(positions("Falice.smith@example.org"), 0u);
  EXPECT_EQ(positions("XFINBOX"), 0u);
  for (auto it = document.termlist_begin(); it != document.termlist_end(); ++it) {
    EXPECT_EQ(it.positionlist_count(), 0u) << *it;
  }
  EXPECT_TRUE(terms.contains("zurich"));  // the terms stay, with their wdf
}

// The writer takes every prefix from the schema table: a message with every
// field gives a document holding a term of each field of kFields (a term
// belongs to the longest table prefix it starts with; the body's, "", to
// terms starting with no capital), and every value slot.
TEST(DocumentBuilder, EveryFieldOfTheSchemaAppearsInABuiltDocument) {
  const mime::Message message = mime::ParseMessage(kRich);
  IndexDocument doc = MakeDoc(7, message, 1234);
  doc.thread = 42;
  doc.accounts = {"work"};
  doc.folders = {"INBOX"};
  doc.flags = {"\\Seen"};
  DocumentBuilder builder(64 * 1024);
  const Xapian::Document document = builder.Build(doc);
  std::set<std::string_view> owners;
  const std::set<std::string> terms = Terms(document);
  for (const std::string& term : terms) {
    const Field* owner = nullptr;
    for (const Field& field : kFields) {
      if (!term.starts_with(field.prefix)) continue;
      if (field.prefix.empty() && term.front() >= 'A' && term.front() <= 'Z') continue;
      if (owner == nullptr || field.prefix.size() > owner->prefix.size()) owner = &field;
    }
    ASSERT_NE(owner, nullptr) << "term of no field: " << term;
    owners.insert(owner->prefix);
  }
  for (const Field& field : kFields) EXPECT_TRUE(owners.contains(field.prefix)) << field.name;
  for (unsigned slot : {kValueDate, kValueSize}) EXPECT_FALSE(document.get_value(slot).empty()) << slot;
  EXPECT_FALSE(document.get_data().empty()) << "the facets";
}

TEST(DocumentBuilder, FacetValuesAreWhatFieldQueriesMatch) {
  const mime::Message message = mime::ParseMessage(
      "From: Alice <Alice.Smith@Example.ORG>, \"x y\"@example.org, alice.smith@example.org\n"
      "Date: Thu, 29 Feb 2024 23:30:00 -0200\n\nhi\n");
  IndexDocument doc = MakeDoc(1, message, 10);
  doc.folders = {"INBOX", "Sent Items", "odd \"quoted\"", "INBOX", std::string(300, 'f')};
  doc.accounts = {"Work"};
  const FacetValues values = FacetValuesOf(doc);
  EXPECT_EQ(values.month, "2024-03");  // 2024-03-01T01:30:00 UTC
  // "x y"@example.org is read as the address y"@example.org; from: names it
  // (with \" inside quotes, index/query.h), so it is a facet value too.
  EXPECT_EQ(values.senders, (std::vector<std::string>{"alice.smith@example.org", "y\"@example.org"}));
  EXPECT_EQ(values.folders, (std::vector<std::string>{"INBOX", "Sent Items", "odd \"quoted\""}));
  EXPECT_EQ(values.accounts, (std::vector<std::string>{"Work"}));
  // Each is a term of the document, as the field query finds it.
  const std::set<std::string> terms = Terms(DocumentBuilder(64 * 1024).Build(doc));
  for (const std::string& v : values.senders) EXPECT_TRUE(terms.contains(std::string(FieldPrefix("from")) + v)) << v;
  for (const std::string& v : values.folders) EXPECT_TRUE(terms.contains(std::string(FieldPrefix("folder")) + v)) << v;
  EXPECT_EQ(MonthOf(Utc(2024, 2, 29, 23, 59, 59)), "2024-02");
  EXPECT_EQ(MonthOf(Utc(1969, 12, 31, 23)), "1969-12");
  EXPECT_EQ(MonthOf(400000000000LL), "");  // past year 9999

  const std::string encoded = EncodeFacets(values);
  FacetView view;
  ASSERT_TRUE(DecodeFacets(encoded, &view));
  EXPECT_EQ(view.month, "2024-03");
  EXPECT_EQ(view.folders, (std::vector<std::string_view>{"INBOX", "Sent Items", "odd \"quoted\""}));
  EXPECT_EQ(view.senders.size(), 2u);
  EXPECT_EQ(view.accounts, (std::vector<std::string_view>{"Work"}));
  // Damaged values are refused, never read past.
  for (size_t n = 0; n < encoded.size(); ++n) EXPECT_FALSE(DecodeFacets(encoded.substr(0, n), &view)) << n;
  EXPECT_FALSE(DecodeFacets(encoded + "x", &view));
  EXPECT_FALSE(DecodeFacets(std::string("\x00\xFF\xFF\xFF\xFF\x0F", 6), &view));
}

TEST(DocumentBuilder, BodyCutAtMaxBodyBytes) {
  const std::string raw = "Subject: s\n\nearlyword " + std::string(5000, 'x') + " lateword\n";
  const mime::Message message = mime::ParseMessage(raw);
  DocumentBuilder builder(100);
  const std::set<std::string> terms = Terms(builder.Build(MakeDoc(1, message, raw.size())));
  EXPECT_TRUE(terms.contains("earlyword"));
  EXPECT_FALSE(terms.contains("lateword"));
}

TEST(DocumentBuilder, MissingDateLeavesSlotEmptyAndHugeTermsAreSkipped) {
  const std::string long_id(400, 'i');
  const std::string raw = "Subject: x\nMessage-ID: <" + long_id + "@x>\n\nbody\n";
  const mime::Message message = mime::ParseMessage(raw);
  DocumentBuilder builder(1024);
  const Xapian::Document document = builder.Build(MakeDoc(1, message, raw.size()));
  EXPECT_TRUE(document.get_value(kValueDate).empty());
  for (const std::string& term : Terms(document)) EXPECT_LE(term.size(), kMaxTermBytes);
  // ... and such a document can be written.
  TempDir dir;
  auto writer = IndexWriter::Open(dir.Sub("x"));
  ASSERT_TRUE(writer) << writer.error().ToString();
  EXPECT_TRUE((*writer)->Add(MakeDoc(1, message, raw.size())));
}

// ---------------------------------------------------------------- writer

std::string Raw(int n, std::string_view subject, std::string_view from, std::string_view date,
                std::string_view body) {
  return "From: " + std::string(from) + "\nTo: list@example.org\nSubject: " + std::string(subject) +
         "\nMessage-ID: <m" + std::to_string(n) + "@example.org>\nDate: " + std::string(date) + "\n\n" +
         std::string(body) + "\n";
}

// The index is private whatever the umask: Xapian's own files and shard
// directories too (they follow the umask: 0644/0755 under 022).
TEST(IndexWriter, FilesArePrivateWhateverTheUmask) {
  TempDir dir;
  const mode_t old = ::umask(022);
  {
    auto writer = IndexWriter::Open(dir.Sub("xapian"));
    ASSERT_TRUE(writer) << writer.error().ToString();
    const std::string raw = Raw(1, "one", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "alpha");
    EXPECT_TRUE((*writer)->Add(MakeDoc(1, mime::ParseMessage(raw), raw.size())));
    EXPECT_TRUE((*writer)->Commit());
  }
  ::umask(old);
  size_t checked = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir.Sub("xapian"))) {
    struct stat st {};
    ASSERT_EQ(::lstat(e.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, S_ISDIR(st.st_mode) ? 0700u : 0600u) << e.path();
    ++checked;
  }
  EXPECT_GT(checked, 5u);
}

// The shard list is written whole and private by itself (not only after
// the writer's MakePrivate pass): temp file 0600, fsync, rename, directory
// fsync; no temp file stays behind.
TEST(ShardStub, WrittenAtomicallyAndPrivate) {
  TempDir dir;
  ShardStub stub;
  stub.segments.push_back(Segment{1, {{0, 0}, {1, 0}}});
  const mode_t old = ::umask(022);
  const Status written = WriteShardStub(dir.path(), stub);
  ::umask(old);
  ASSERT_TRUE(written) << written.error().ToString();
  struct stat st {};
  ASSERT_EQ(::stat(dir.Sub(kStubFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub(std::string(kStubFile) + ".tmp")));
  auto read = ReadShardStub(dir.path());
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(*read, stub);
  EXPECT_EQ(read->compacted_bytes, 0u);  // none recorded
  // Segments, and the size after a compaction, on lines Xapian skips.
  stub.segments.push_back(Segment{74907, {{0, 3}, {1, 3}}});
  stub.compacted_bytes = 123456789012;
  ASSERT_TRUE(WriteShardStub(dir.path(), stub));
  std::ifstream in(dir.Sub(kStubFile));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "glass shard-0\nglass shard-1\n# mailkeep segment-from 74907\nglass shard-0.3\nglass shard-1.3\n"
                  "# mailkeep compacted-bytes 123456789012\n");
  EXPECT_EQ(ReadShardStub(dir.path()).value(), stub);
  EXPECT_EQ(stub.SegmentOf(1), 0u);
  EXPECT_EQ(stub.SegmentOf(74906), 0u);
  EXPECT_EQ(stub.SegmentOf(74907), 1u);
  EXPECT_EQ(stub.NextGeneration(), 4u);
  // Not what WriteShardStub writes: a bad number, a segment short of a
  // shard, ids not increasing, two segments of one generation.
  for (const char* bad : {"glass shard-0\n# mailkeep compacted-bytes 12x\n",
                          "glass shard-0\nglass shard-1\n# mailkeep segment-from 9\nglass shard-0.1\n",
                          "glass shard-0\n# mailkeep segment-from 1\nglass shard-0.1\n",
                          "glass shard-0.2\n# mailkeep segment-from 9\nglass shard-0.2\n",
                          "glass shard-0\n# mailkeep segment-from 9\n"}) {
    std::ofstream(dir.Sub(kStubFile)) << bad;
    EXPECT_EQ(ReadShardStub(dir.path()).error().code(), ErrorCode::kCorruption) << bad;
  }
  // A directory that cannot take the file: an error.
  EXPECT_FALSE(WriteShardStub(dir.Sub("missing"), stub));
}

// Combined docids over S segments of N shards back to catalog ids: every
// id of every segment, and in the same order.
TEST(ShardStub, CombinedDocIdsMapBackToCatalogIds) {
  for (size_t n : {1u, 2u, 3u}) {
    for (size_t segments : {1u, 2u, 5u}) {
      // Segment s holds ids [1 + 10*s, 10*(s+1)] (the last: up to 60).
      std::vector<std::pair<uint64_t, int64_t>> combined;  // docid, id
      for (int64_t id = 1; id <= 60; ++id) {
        const size_t s = std::min<size_t>(static_cast<size_t>((id - 1) / 10), segments - 1);
        const uint64_t shard_docid = static_cast<uint64_t>(id - 1) / n + 1;
        const size_t j = s * n + static_cast<size_t>(id - 1) % n;
        combined.emplace_back((shard_docid - 1) * n * segments + j + 1, id);
      }
      std::sort(combined.begin(), combined.end());
      for (size_t i = 0; i < combined.size(); ++i) {
        EXPECT_EQ(CatalogIdOf(combined[i].first, n, segments), combined[i].second) << n << " " << segments;
        EXPECT_EQ(combined[i].second, static_cast<int64_t>(i) + 1);  // docid order is id order
      }
    }
  }
}

TEST(ShardStub, SegmentsMergeInTiers) {
  // Tier factor 4, tier 0 below 4,000 documents.
  auto merge = [](std::vector<int64_t> documents) { return SegmentsToMerge(documents, 4, 1000); };
  EXPECT_EQ(merge({37455}), 0u);                       // alone: compacted
  EXPECT_EQ(merge({37455, 37455}), 1u);                // two of a tier: only the fresh one
  EXPECT_EQ(merge({37455, 37455, 37455, 37455}), 0u);  // four of a tier: one
  EXPECT_EQ(merge({149820, 37455, 37455, 37455}), 3u);
  // A cascade, as one merge: four small ones make a tier-2 one, the fifth
  // then.
  EXPECT_EQ(merge({600000, 20000, 20000, 20000, 5000, 5000, 5000, 5000}), 1u);
  EXPECT_EQ(merge({600000, 150000, 20000, 3000, 3000, 3000}), 5u);
  EXPECT_EQ(merge({600000, 150000, 20000, 3000, 3000, 3000, 3000}), 3u);
  // Never more than kMaxSegments - 1 left, so that a writer can start another.
  std::vector<int64_t> many;  // 4^18 ... 4^0: each of its own tier
  for (int64_t d = int64_t{1} << 36; d > 0; d /= 4) many.push_back(d);
  ASSERT_EQ(many.size(), kMaxSegments + 3);
  EXPECT_EQ(SegmentsToMerge(many, 4, 1), kMaxSegments - 2);
  many.resize(kMaxSegments - 1);
  EXPECT_EQ(SegmentsToMerge(many, 4, 1), kMaxSegments - 2);  // only the fresh one
}

TEST(IndexWriter, AddReplaceRemoveAndCount) {
  TempDir dir;
  auto writer = IndexWriter::Open(dir.Sub("xapian"));
  ASSERT_TRUE(writer) << writer.error().ToString();
  std::vector<std::string> raws = {Raw(1, "one", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "alpha"),
                                   Raw(2, "two", "b@x.org", "Tue, 2 Jan 2024 00:00:00 +0000", "beta"),
                                   Raw(3, "three", "c@x.org", "Wed, 3 Jan 2024 00:00:00 +0000", "gamma")};
  std::vector<mime::Message> messages;
  for (const auto& raw : raws) messages.push_back(mime::ParseMessage(raw));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*writer)->Add(MakeDoc(i + 1, messages[i], raws[i].size())));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ((*writer)->DocumentCount().value(), 3);
  EXPECT_EQ((*writer)->LastDocId().value(), 3);

  // Replacing keeps the count and the old terms go.
  const std::string raw2 = Raw(2, "two again", "b@x.org", "Tue, 2 Jan 2024 00:00:00 +0000", "delta");
  const mime::Message message2 = mime::ParseMessage(raw2);
  ASSERT_TRUE((*writer)->Add(MakeDoc(2, message2, raw2.size())));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ((*writer)->DocumentCount().value(), 3);
  {
    Xapian::Database db(dir.Sub("xapian"));
    EXPECT_EQ(db.get_termfreq("beta"), 0u);
    EXPECT_EQ(db.get_termfreq("delta"), 1u);
    EXPECT_EQ(db.get_metadata("mailkeep.schema"), std::to_string(kSchemaVersion));
  }

  ASSERT_TRUE((*writer)->Remove(3));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ((*writer)->DocumentCount().value(), 2);
  // A removal queued twice, or for a message never indexed, is no error.
  EXPECT_TRUE((*writer)->Remove(3));
  EXPECT_EQ((*writer)->DocumentCount().value(), 2);

  auto bad = (*writer)->Add(MakeDoc(0, messages[0], 1));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  IndexDocument no_message;
  no_message.id = 9;
  EXPECT_EQ((*writer)->Add(no_message).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*writer)->Remove(int64_t{1} << 40).error().code(), ErrorCode::kInvalidArgument);

  // Reopening finds everything again; the directory is private.
  writer->reset();
  auto again = IndexWriter::Open(dir.Sub("xapian"));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_EQ((*again)->DocumentCount().value(), 2);
  struct stat st {};
  ASSERT_EQ(::stat(dir.Sub("xapian").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(IndexWriter, CommitsByDocumentCountAndBytes) {
  TempDir dir;
  std::string body;
  for (int i = 0; i < 50; ++i) body += "word" + std::to_string(i) + " ";
  const std::string raw = Raw(1, "s", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", body);
  const mime::Message message = mime::ParseMessage(raw);
  auto committed = [&](const std::string& path) { return Xapian::Database(path).get_doccount(); };

  IndexWriterOptions by_count;
  by_count.commit_every_documents = 2;
  auto writer = IndexWriter::Open(dir.Sub("a"), by_count);
  ASSERT_TRUE(writer);
  ASSERT_TRUE((*writer)->Add(MakeDoc(1, message, raw.size())));
  EXPECT_EQ(committed(dir.Sub("a")), 0u);
  ASSERT_TRUE((*writer)->Add(MakeDoc(2, message, raw.size())));
  EXPECT_EQ(committed(dir.Sub("a")), 2u);

  IndexWriterOptions by_bytes;
  by_bytes.commit_every_bytes = 200;
  auto writer2 = IndexWriter::Open(dir.Sub("b"), by_bytes);
  ASSERT_TRUE(writer2);
  ASSERT_TRUE((*writer2)->Add(MakeDoc(1, message, raw.size())));
  EXPECT_EQ(committed(dir.Sub("b")), 1u);

  IndexWriterOptions zero;
  zero.commit_every_documents = 0;
  EXPECT_EQ(IndexWriter::Open(dir.Sub("c"), zero).error().code(), ErrorCode::kInvalidArgument);

  // Destroying a writer commits what is pending.
  IndexWriterOptions lazy;
  auto writer3 = IndexWriter::Open(dir.Sub("d"), lazy);
  ASSERT_TRUE(writer3);
  ASSERT_TRUE((*writer3)->Add(MakeDoc(5, message, raw.size())));
  EXPECT_EQ(committed(dir.Sub("d")), 0u);
  writer3->reset();
  EXPECT_EQ(committed(dir.Sub("d")), 1u);
}

TEST(IndexWriter, SchemaMismatchIsFailedPrecondition) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  {
    Xapian::WritableDatabase db(path, Xapian::DB_CREATE_OR_OPEN);
    db.set_metadata("mailkeep.schema", "99");
    db.commit();
  }
  auto writer = IndexWriter::Open(path);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(writer.error().message().find("index schema 99, expected " + std::to_string(kSchemaVersion) +
                                          "; run `mailkeep reindex`"),
            std::string::npos)
      << writer.error().message();

  // A non-empty database without the key is an old or foreign index.
  const std::string foreign = dir.Sub("foreign");
  {
    Xapian::WritableDatabase db(foreign, Xapian::DB_CREATE_OR_OPEN);
    db.add_document(Xapian::Document());
    db.commit();
  }
  auto writer2 = IndexWriter::Open(foreign);
  ASSERT_FALSE(writer2);
  EXPECT_NE(writer2.error().message().find("index schema 0, expected"), std::string::npos);
}

TEST(IndexWriter, XapianErrorsBecomeStatus) {
  TempDir dir;
  // A second writer on the same database: the lock is held.
  auto first = IndexWriter::Open(dir.Sub("xapian"));
  ASSERT_TRUE(first);
  auto second = IndexWriter::Open(dir.Sub("xapian"));
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable) << second.error().ToString();

  // A path that is a regular file.
  const std::string file = dir.Sub("file");
  std::ofstream(file) << "not a database";
  auto on_file = IndexWriter::Open(file);
  ASSERT_FALSE(on_file);
  EXPECT_NE(on_file.error().message().find(file), std::string::npos);

  // A path below a missing directory cannot be created.
  auto nested = IndexWriter::Open(dir.Sub("missing/deeper/xapian"));
  ASSERT_FALSE(nested);
  EXPECT_EQ(nested.error().code(), ErrorCode::kIoError) << nested.error().ToString();
}

TEST(IndexWriter, ShardsInterleaveDocidsAsAddDatabaseDoes) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  constexpr int kDocs = 700;  // more than a shard's queue holds
  std::vector<std::string> raws;
  for (int i = 1; i <= kDocs; ++i) {
    raws.push_back(Raw(i, "s" + std::to_string(i), "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "body"));
  }
  std::vector<mime::Message> messages;
  for (const auto& raw : raws) messages.push_back(mime::ParseMessage(raw));
  IndexWriterOptions three;
  three.shards = 3;
  {
    auto writer = IndexWriter::Open(path, three);
    ASSERT_TRUE(writer) << writer.error().ToString();
    for (int i = 1; i <= kDocs; ++i) ASSERT_TRUE((*writer)->Add(MakeDoc(i, messages[i - 1], 100)));
    ASSERT_TRUE((*writer)->Commit());
    EXPECT_EQ((*writer)->DocumentCount().value(), kDocs);
    EXPECT_EQ((*writer)->LastDocId().value(), kDocs);
  }
  {
    std::ifstream stub(path + "/XAPIANDB");
    std::stringstream text;
    text << stub.rdbuf();
    EXPECT_EQ(text.str(), "glass shard-0\nglass shard-1\nglass shard-2\n");
  }
  // Catalog id c is shard (c-1)%3, shard docid (c-1)/3+1 ...
  for (int c : {1, 2, 3, 4, 5, 6, 7, 699, 700}) {
    Xapian::Database shard(path + "/shard-" + std::to_string((c - 1) % 3));
    const Xapian::Document doc = shard.get_document(static_cast<Xapian::docid>((c - 1) / 3 + 1));
    EXPECT_TRUE(Terms(doc).contains("Qm" + std::to_string(c) + "@example.org")) << c;
  }
  // ... and the shards combined in shard order give back c as the docid.
  Xapian::Database combined;
  for (int k = 0; k < 3; ++k) combined.add_database(Xapian::Database(path + "/shard-" + std::to_string(k)));
  EXPECT_EQ(combined.get_doccount(), static_cast<Xapian::doccount>(kDocs));
  for (int c = 1; c <= kDocs; ++c) {
    ASSERT_TRUE(Terms(combined.get_document(c)).contains("Qm" + std::to_string(c) + "@example.org")) << c;
  }
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  auto reader = IndexReader::Open(path);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->DocumentCount().value(), kDocs);
  SearchOptions options;
  options.sort = SortOrder::kOldest;
  EXPECT_EQ((*reader)->Search("id:m599@example.org", options).value().ids, std::vector<int64_t>{599});
  EXPECT_EQ((*reader)->Search("subject:s17", options).value().ids, std::vector<int64_t>{17});
  EXPECT_EQ((*reader)->Search("*", options).value().ids.size(), static_cast<size_t>(kDocs));
#endif

  // A later writer keeps the index's 3 shards whatever it asks for.
  IndexWriterOptions two;
  two.shards = 2;
  auto again = IndexWriter::Open(path, two);
  ASSERT_TRUE(again) << again.error().ToString();
  const std::string raw = Raw(701, "late", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "body");
  const mime::Message late = mime::ParseMessage(raw);
  ASSERT_TRUE((*again)->Add(MakeDoc(701, late, raw.size())));
  ASSERT_TRUE((*again)->Remove(700));
  ASSERT_TRUE((*again)->Commit());
  EXPECT_EQ((*again)->LastDocId().value(), 701);
  // 700 was shard 0's docid 234; 701 is shard 1's docid 234.
  EXPECT_THROW(Xapian::Database(path + "/shard-0").get_document(234), Xapian::DocNotFoundError);
  EXPECT_TRUE(Terms(Xapian::Database(path + "/shard-1").get_document(234)).contains("Qm701@example.org"));
  EXPECT_EQ(Xapian::Database(path).get_doccount(), static_cast<Xapian::doccount>(kDocs));  // the stub opens all
}

TEST(IndexWriter, UnshardedOrDamagedLayoutNeedsReindex) {
  TempDir dir;
  // A single database, as schema version 1 wrote (even stamped 2).
  const std::string single = dir.Sub("single");
  {
    Xapian::WritableDatabase db(single, Xapian::DB_CREATE_OR_OPEN);
    db.set_metadata("mailkeep.schema", std::to_string(kSchemaVersion));
    db.add_document(Xapian::Document());
    db.commit();
  }
  auto writer = IndexWriter::Open(single);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(writer.error().message().find("run `mailkeep reindex`"), std::string::npos) << writer.error().message();

  // A stub that is not ours.
  const std::string damaged = dir.Sub("damaged");
  std::filesystem::create_directory(damaged);
  std::ofstream(damaged + "/XAPIANDB") << "auto /somewhere/else\n";
  auto bad = IndexWriter::Open(damaged);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(bad.error().message().find("run `mailkeep reindex`"), std::string::npos) << bad.error().message();
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  EXPECT_EQ(IndexReader::Open(damaged).error().code(), ErrorCode::kCorruption);
#endif
}

// A writer that failed or was killed while creating the index leaves only
// XAPIANDB.tmp behind: there is no index yet, and the next writer makes one
// (found by tests/fault, an EIO on writing the stub).
TEST(IndexWriter, LeftoverTemporaryStubIsNoIndex) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  std::filesystem::create_directory(path);
  std::ofstream(path + "/XAPIANDB.tmp") << "glass sha";  // torn
  auto writer = IndexWriter::Open(path);
  ASSERT_TRUE(writer) << writer.error().message();
  const std::string raw = Raw(1, "one", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "alpha");
  ASSERT_TRUE((*writer)->Add(MakeDoc(1, mime::ParseMessage(raw), raw.size())));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ((*writer)->DocumentCount().value(), 1);
  EXPECT_FALSE(std::filesystem::exists(path + "/XAPIANDB.tmp"));
}

// Xapian creates a database's tables before its version file: a shard
// whose creation failed or was killed has tables but no iamglass, and is
// made anew (found by tests/fault, an EIO on the fsync of shard-0/v.tmp).
TEST(IndexWriter, HalfCreatedShardIsMadeAnew) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  IndexWriterOptions two;
  two.shards = 2;
  ASSERT_TRUE(IndexWriter::Open(path, two));
  std::filesystem::remove_all(path + "/shard-0");
  std::filesystem::create_directory(path + "/shard-0");
  std::ofstream(path + "/shard-0/postlist.glass").flush();
  std::ofstream(path + "/shard-0/termlist.glass").flush();
  auto writer = IndexWriter::Open(path, two);
  ASSERT_TRUE(writer) << writer.error().message();
  const std::string raw = Raw(1, "one", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "alpha");
  ASSERT_TRUE((*writer)->Add(MakeDoc(1, mime::ParseMessage(raw), raw.size())));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ((*writer)->DocumentCount().value(), 1);
}

TEST(ErrorFromXapian, MapsClasses) {
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseLockError("x"), "c").code(), ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseModifiedError("x"), "c").code(), ErrorCode::kUnavailable);
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseCorruptError("x"), "c").code(), ErrorCode::kCorruption);
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseNotFoundError("x"), "c").code(), ErrorCode::kNotFound);
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseVersionError("x"), "c").code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(ErrorFromXapian(Xapian::DatabaseError("x"), "c").code(), ErrorCode::kIoError);
  EXPECT_EQ(ErrorFromXapian(Xapian::QueryParserError("x"), "c").code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(ErrorFromXapian(Xapian::InternalError("x"), "c").code(), ErrorCode::kInternal);
  const Error e = ErrorFromXapian(Xapian::DatabaseCorruptError("bad\nblock"), "index open /a");
  EXPECT_EQ(e.message(), "index open /a: DatabaseCorruptError: bad block");
}

// ---------------------------------------------------------------- reader
// The reader is built together with the query parser (index/CMakeLists.txt).
#ifdef MAILKEEP_INDEX_HAVE_QUERY

TEST(IndexReader, OpenErrors) {
  TempDir dir;
  auto missing = IndexReader::Open(dir.Sub("nothing"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  // A directory that holds no database.
  const std::string plain = dir.Sub("plain");
  std::filesystem::create_directory(plain);
  std::ofstream(plain + "/junk") << "x";
  auto not_db = IndexReader::Open(plain);
  ASSERT_FALSE(not_db);
  EXPECT_EQ(not_db.error().code(), ErrorCode::kNotFound) << not_db.error().ToString();

  // A damaged database.
  const std::string damaged = dir.Sub("damaged");
  {
    auto writer = IndexWriter::Open(damaged);
    ASSERT_TRUE(writer);
  }
  std::ofstream(damaged + "/shard-0/iamglass", std::ios::trunc) << "garbage";
  auto corrupt = IndexReader::Open(damaged);
  ASSERT_FALSE(corrupt);
  EXPECT_EQ(corrupt.error().code(), ErrorCode::kCorruption) << corrupt.error().ToString();

  // Schema mismatch.
  const std::string old = dir.Sub("old");
  {
    Xapian::WritableDatabase db(old, Xapian::DB_CREATE_OR_OPEN);
    db.set_metadata("mailkeep.schema", "0");
    db.add_document(Xapian::Document());
    db.commit();
  }
  auto mismatch = IndexReader::Open(old);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(mismatch.error().message().find("run `mailkeep reindex`"), std::string::npos);
}

// An index of schema 3 (before the facet slot) is refused by readers and
// writers with one line naming `mailkeep reindex`.
// Past 10,000 matches Xapian only estimates the count unless told to count
// every match; the total is exact anyway, in every sort order (the pages'
// "N messages" and the API's total are true).
TEST(IndexReader, TotalIsExactPastTenThousandMatches) {
  TempDir dir;
  {
    auto writer = IndexWriter::Open(dir.Sub("xapian"));
    ASSERT_TRUE(writer) << writer.error().ToString();
    for (int64_t id = 1; id <= 15000; ++id) {
      const std::string raw = "From: a@example.org\nSubject: " + std::string(id % 4 == 0 ? "alpha" : "beta") +
                              "\nDate: " + std::to_string(id % 28 + 1) + " Jan 2020 10:00:00 +0000\n\n" +
                              (id % 2 == 1 ? "gamma" : "delta") + (id % 3 == 0 ? " patches" : "") +
                              (id % 5 == 0 ? " patched" : "") + (id % 7 == 0 ? " patch" : "") + "\n";
      ASSERT_TRUE((*writer)->Add(MakeDoc(id, mime::ParseMessage(raw), 100)));
    }
    ASSERT_TRUE((*writer)->Commit());
  }
  auto reader = IndexReader::Open(dir.Sub("xapian"));
  ASSERT_TRUE(reader) << reader.error().ToString();
  // gamma (odd ids), or a form of patch (multiples of 3, 5 or 7): an OR
  // whose count Xapian estimates (as 12,000).
  size_t expected = 0;
  for (int64_t id = 1; id <= 15000; ++id) expected += id % 2 == 1 || id % 3 == 0 || id % 5 == 0 || id % 7 == 0;
  for (SortOrder sort : {SortOrder::kNewest, SortOrder::kOldest, SortOrder::kRelevance}) {
    SearchOptions options;
    options.sort = sort;
    options.limit = 20;
    auto result = (*reader)->Search("gamma OR patch", options);
    ASSERT_TRUE(result) << result.error().ToString();
    EXPECT_EQ(result->total, expected) << static_cast<int>(sort);
    EXPECT_EQ(result->ids.size(), 20u);
  }
}

// The date orders are Xapian's own sort by the date value (ties by docid,
// undated messages last when newest first, first when oldest first) on
// every page, over shards, with many ties, undated and removed documents,
// and after a later commit changes the dates.
TEST(IndexReader, DateOrdersAreXapiansSortByValueOnEveryPage) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  auto add = [&](IndexWriter& writer, int id, int day) {
    const std::string date = day == 0 ? "" : std::to_string(day) + " Mar 2021 10:00:00 +0000";
    const std::string raw = "From: a@example.org\nSubject: s" + std::to_string(id) + "\n" +
                            (date.empty() ? "" : "Date: " + date + "\n") + "\nevery " +
                            (id % 9 == 0 ? "rare" : "") + (id % 2 == 0 ? " even" : "") + "\n";
    ASSERT_TRUE(writer.Add(MakeDoc(id, mime::ParseMessage(raw), 100)));
  };
  IndexWriterOptions three;
  three.shards = 3;
  {
    auto writer = IndexWriter::Open(path, three);
    ASSERT_TRUE(writer) << writer.error().ToString();
    // 400 messages, 5 distinct dates not in id order, 1 in 13 undated.
    for (int id = 1; id <= 400; ++id) add(**writer, id, id % 13 == 0 ? 0 : 1 + (id * 7) % 5);
    for (int id : {5, 6, 200, 399}) ASSERT_TRUE((*writer)->Remove(id));
    ASSERT_TRUE((*writer)->Commit());
  }
  auto reader = IndexReader::Open(path);
  ASSERT_TRUE(reader) << reader.error().ToString();
  auto check = [&] {
    Xapian::Database combined;
    const std::vector<ShardName> shards = ReadShardStub(path).value().AllShards();
    for (const ShardName& shard : shards) combined.add_database(Xapian::Database(path + "/" + shard.Name()));
    for (const std::string query : {"*", "every", "even", "rare", "rare AND even", "NOT rare", "nothing"}) {
      for (SortOrder sort : {SortOrder::kNewest, SortOrder::kOldest}) {
        const bool newest = sort == SortOrder::kNewest;
        for (auto [offset, limit] : std::vector<std::pair<size_t, size_t>>{
                 {0, 20}, {0, 1}, {7, 30}, {0, 0}, {180, 20}, {195, 10}, {390, 5}, {1000, 20}}) {
          Xapian::Enquire enquire(combined);
          enquire.set_query(ParseQuery(query, 0, &combined).value());
          enquire.set_weighting_scheme(Xapian::BoolWeight());
          enquire.set_docid_order(newest ? Xapian::Enquire::DESCENDING : Xapian::Enquire::ASCENDING);
          enquire.set_sort_by_value(kValueDate, newest);
          const Xapian::MSet all = enquire.get_mset(0, combined.get_doccount(), combined.get_doccount());
          std::vector<int64_t> expected;
          for (auto it = all.begin(); it != all.end(); ++it) expected.push_back(*it);
          const size_t total = expected.size();
          expected.erase(expected.begin(), expected.begin() + static_cast<std::ptrdiff_t>(std::min(offset, total)));
          if (limit != 0 && expected.size() > limit) expected.resize(limit);
          SearchOptions options;
          options.sort = sort;
          options.offset = offset;
          options.limit = limit;
          auto result = (*reader)->Search(query, options);
          ASSERT_TRUE(result) << result.error().ToString();
          EXPECT_EQ(result->total, total) << query;
          EXPECT_EQ(result->ids, expected) << query << " newest " << newest << " offset " << offset << " limit " << limit;
        }
      }
    }
  };
  check();
  // A later commit moves messages to other dates, removes and adds some:
  // the open reader's order follows.
  {
    auto writer = IndexWriter::Open(path);
    ASSERT_TRUE(writer) << writer.error().ToString();
    for (int id = 1; id <= 60; ++id) add(**writer, id, 1 + id % 3);
    for (int id = 401; id <= 420; ++id) add(**writer, id, id % 2 == 0 ? 0 : 4);
    ASSERT_TRUE((*writer)->Remove(100));
    ASSERT_TRUE((*writer)->Commit());
  }
  check();
}

// A word in every document of a shard, in a shard with a gap in its docids
// (a message removed) whose document-length list spans B-tree chunks:
// Xapian 1.4 swaps such a term for the shard's all-documents list when the
// weight is BoolWeight, and reading that list failed ("Unexpected end of
// posting list"): `account:A` on a one-account archive after a `delete`.
TEST(IndexReader, AWordInEveryDocumentIsFoundAfterARemoval) {
  TempDir dir;
  IndexWriterOptions options;
  options.shards = 1;
  {
    auto writer = IndexWriter::Open(dir.Sub("xapian"), options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    for (int64_t id = 1; id <= 4000; ++id) {
      const std::string raw = "From: a@example.org\nSubject: s" + std::to_string(id) + "\nDate: 1 Jan 2020 10:00:00 +0000\n\nword\n";
      ASSERT_TRUE((*writer)->Add(MakeDoc(id, mime::ParseMessage(raw), 100)));
    }
    ASSERT_TRUE((*writer)->Commit());
    ASSERT_TRUE((*writer)->Remove(2));
    ASSERT_TRUE((*writer)->Commit());
  }
  auto reader = IndexReader::Open(dir.Sub("xapian"));
  ASSERT_TRUE(reader) << reader.error().ToString();
  for (SortOrder sort : {SortOrder::kNewest, SortOrder::kOldest, SortOrder::kRelevance}) {
    SearchOptions search;
    search.sort = sort;
    search.limit = 3;
    auto result = (*reader)->Search("from:a@example.org", search);
    ASSERT_TRUE(result) << result.error().ToString();
    EXPECT_EQ(result->total, 3999u);
    if (sort == SortOrder::kNewest) {
      EXPECT_EQ(result->ids, (std::vector<int64_t>{4000, 3999, 3998}));
    } else if (sort == SortOrder::kOldest) {
      EXPECT_EQ(result->ids, (std::vector<int64_t>{1, 3, 4}));
    }
  }
  auto facets = (*reader)->Facets("from:a@example.org", FacetOptions{});
  ASSERT_TRUE(facets) << facets.error().ToString();
  EXPECT_EQ(facets->counted, 3999u);
}

TEST(IndexReader, SchemaThreeIndexNeedsReindex) {
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  {
    auto writer = IndexWriter::Open(path);
    ASSERT_TRUE(writer);
  }
  {
    Xapian::WritableDatabase shard(path + "/shard-0", Xapian::DB_OPEN);
    shard.set_metadata("mailkeep.schema", "3");
    shard.add_document(Xapian::Document());
    shard.commit();
  }
  auto reader = IndexReader::Open(path);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(reader.error().message().find("index schema 3, expected " + std::to_string(kSchemaVersion) + "; run `mailkeep reindex`"), std::string::npos)
      << reader.error().message();
  auto writer = IndexWriter::Open(path);
  ASSERT_FALSE(writer);
  EXPECT_NE(writer.error().message().find("index schema 3, expected " + std::to_string(kSchemaVersion) + "; run `mailkeep reindex`"), std::string::npos)
      << writer.error().message();
}

// A small archive: messages 1..4 with known fields.
class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    raws_ = {
        Raw(1, "Kernel patch for MIPS", "Ralf Bächle <ralf@linux-mips.org>", "Mon, 1 Jan 2018 10:00:00 +0000",
            "This patch fixes the cache flush on R4000."),
        Raw(2, "Re: Kernel patch for MIPS", "Maciej <macro@mips.com>", "Fri, 15 Jun 2018 10:00:00 +0000",
            "Looks good to me. Ça marche."),
        Raw(3, "Holiday photos", "alice@example.org", "Sat, 1 Dec 2018 10:00:00 +0000",
            "See the attached pictures from the café."),
        Raw(4, "Invoice", "billing@shop.example", "Tue, 1 Jan 2019 10:00:00 +0000", "Your invoice is attached."),
    };
    for (const auto& raw : raws_) messages_.push_back(mime::ParseMessage(raw));
    auto writer = IndexWriter::Open(dir_.Sub("xapian"));
    ASSERT_TRUE(writer) << writer.error().ToString();
    for (size_t i = 0; i < raws_.size(); ++i) {
      IndexDocument doc = MakeDoc(static_cast<int64_t>(i + 1), messages_[i], 1000 * (i + 1));
      doc.thread = i < 2 ? 100 : static_cast<int64_t>(200 + i);
      doc.accounts = {i < 2 ? "lists" : "home"};
      doc.folders = {i < 2 ? "Lists/MIPS" : "INBOX"};
      if (i % 2 == 0) doc.flags = {"\\Seen"};
      if (i == 3) doc.flags = {"\\Flagged"};
      if (i == 3) doc.folders.push_back("Sent Items");
      ASSERT_TRUE((*writer)->Add(doc));
    }
    ASSERT_TRUE((*writer)->Commit());
    auto reader = IndexReader::Open(dir_.Sub("xapian"));
    ASSERT_TRUE(reader) << reader.error().ToString();
    reader_ = std::move(*reader);
  }

  std::vector<int64_t> Ids(const std::string& query, SortOrder sort = SortOrder::kOldest) {
    SearchOptions options;
    options.sort = sort;
    options.now = Utc(2019, 1, 2, 12);
    auto result = reader_->Search(query, options);
    EXPECT_TRUE(result) << query << ": " << result.error().ToString();
    return result ? result->ids : std::vector<int64_t>{};
  }

  TempDir dir_;
  std::vector<std::string> raws_;
  std::vector<mime::Message> messages_;
  std::unique_ptr<IndexReader> reader_;
};

using V = std::vector<int64_t>;

TEST_F(SearchTest, FreeTextPhrasesAndStems) {
  EXPECT_EQ(Ids("patch"), (V{1, 2}));
  EXPECT_EQ(Ids("patches"), (V{1, 2}));  // stem
  EXPECT_EQ(Ids("\"cache flush\""), (V{1}));
  EXPECT_EQ(Ids("\"flush cache\""), (V{}));
  EXPECT_EQ(Ids("flushing"), (V{1}));  // stem variant of "flush", found in the vocabulary
  EXPECT_EQ(Ids("\"flushing\""), (V{}));  // quoted: the word only
  EXPECT_EQ(Ids("kernels"), (V{1, 2}));   // subject words, stem variants too
  EXPECT_EQ(Ids("cache"), (V{1}));  // body words are free text
  EXPECT_EQ(Ids("cach*"), (V{1}));
  EXPECT_EQ(Ids("ralf"), (V{1}));  // sender name is free text
  EXPECT_EQ(Ids("*"), (V{1, 2, 3, 4}));
}

TEST_F(SearchTest, CaseAndDiacriticInsensitive) {
  EXPECT_EQ(Ids("CAFE"), (V{3}));
  EXPECT_EQ(Ids("café"), (V{3}));
  EXPECT_EQ(Ids("from:bachle"), (V{1}));
  EXPECT_EQ(Ids("from:BÄCHLE"), (V{1}));
  EXPECT_EQ(Ids("ca"), (V{2}));  // "Ça"
}

TEST_F(SearchTest, TextFieldPrefixes) {
  EXPECT_EQ(Ids("subject:kernel"), (V{1, 2}));
  EXPECT_EQ(Ids("subject:cache"), (V{}));
  EXPECT_EQ(Ids("body:cache"), (V{1}));
  EXPECT_EQ(Ids("body:kernel"), (V{}));
  EXPECT_EQ(Ids("from:ralf@linux-mips.org"), (V{1}));
  EXPECT_EQ(Ids("from:linux-mips.org"), (V{1}));
  EXPECT_EQ(Ids("from:macro"), (V{2}));
  EXPECT_EQ(Ids("to:list@example.org"), (V{1, 2, 3, 4}));
  EXPECT_EQ(Ids("to:ralf"), (V{}));
}

TEST_F(SearchTest, BooleanFields) {
  EXPECT_EQ(Ids("id:m3@example.org"), (V{3}));
  EXPECT_EQ(Ids("mid:<m4@example.org>"), (V{4}));
  EXPECT_EQ(Ids("thread:100"), (V{1, 2}));
  EXPECT_EQ(Ids("account:home"), (V{3, 4}));
  EXPECT_EQ(Ids("folder:INBOX"), (V{3, 4}));
  EXPECT_EQ(Ids("folder:Lists/MIPS"), (V{1, 2}));
  EXPECT_EQ(Ids("is:seen"), (V{1, 3}));
  EXPECT_EQ(Ids("is:flagged"), (V{4}));
  EXPECT_EQ(Ids("mimetype:text/plain"), (V{1, 2, 3, 4}));
  EXPECT_EQ(Ids("has:attachment"), (V{}));
  EXPECT_EQ(Ids("patch AND NOT is:seen"), (V{2}));
}

TEST_F(SearchTest, DateAndSizeValues) {
  EXPECT_EQ(Ids("date:2018"), (V{1, 2, 3}));
  EXPECT_EQ(Ids("date:2018-06..2018-12"), (V{2, 3}));
  EXPECT_EQ(Ids("date:2019.."), (V{4}));
  EXPECT_EQ(Ids("date:yesterday"), (V{4}));
  EXPECT_EQ(Ids("size:..2k"), (V{1, 2}));
  EXPECT_EQ(Ids("size:3000"), (V{3}));
}

TEST_F(SearchTest, SortingPagingAndTotals) {
  EXPECT_EQ(Ids("*", SortOrder::kNewest), (V{4, 3, 2, 1}));
  EXPECT_EQ(Ids("*", SortOrder::kOldest), (V{1, 2, 3, 4}));
  const V relevance = Ids("patch OR invoice", SortOrder::kRelevance);
  EXPECT_EQ(std::set<int64_t>(relevance.begin(), relevance.end()), (std::set<int64_t>{1, 2, 4}));

  SearchOptions options;
  options.sort = SortOrder::kNewest;
  options.offset = 1;
  options.limit = 2;
  auto page = reader_->Search("*", options);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->ids, (V{3, 2}));
  EXPECT_EQ(page->total, 4u);
  options.offset = 10;
  page = reader_->Search("*", options);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->ids.empty());
  EXPECT_EQ(reader_->DocumentCount().value(), 4);
}

TEST_F(SearchTest, SyntaxErrorIsInvalidArgument) {
  auto result = reader_->Search("(unbalanced", {});
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(result.error().message().find('\n'), std::string::npos);
}

TEST_F(SearchTest, ReaderSeesLaterCommits) {
  reader_.reset();
  auto reader = IndexReader::Open(dir_.Sub("xapian"));
  ASSERT_TRUE(reader);
  reader_ = std::move(*reader);
  {
    auto writer = IndexWriter::Open(dir_.Sub("xapian"));
    ASSERT_TRUE(writer);
    const std::string raw = Raw(5, "late arrival", "z@z.org", "Wed, 2 Jan 2019 10:00:00 +0000", "zebra");
    const mime::Message message = mime::ParseMessage(raw);
    ASSERT_TRUE((*writer)->Add(MakeDoc(5, message, raw.size())));
    ASSERT_TRUE((*writer)->Commit());
  }
  EXPECT_EQ(Ids("zebra"), (V{5}));
}

using C = std::vector<std::pair<std::string, int64_t>>;

C Counts(const std::vector<FacetCount>& counts) {
  C out;
  for (const FacetCount& c : counts) out.emplace_back(c.value, c.count);
  return out;
}

TEST_F(SearchTest, FacetsCountMonthsSendersFoldersAccounts) {
  FacetOptions options;
  options.now = Utc(2019, 1, 2, 12);
  auto all = reader_->Facets("*", options);
  ASSERT_TRUE(all) << all.error().ToString();
  EXPECT_EQ(Counts(all->months), (C{{"2018-01", 1}, {"2018-06", 1}, {"2018-12", 1}, {"2019-01", 1}}));
  EXPECT_EQ(Counts(all->senders), (C{{"alice@example.org", 1}, {"billing@shop.example", 1}, {"macro@mips.com", 1},
                                     {"ralf@linux-mips.org", 1}}));
  EXPECT_EQ(Counts(all->folders), (C{{"INBOX", 2}, {"Lists/MIPS", 2}, {"Sent Items", 1}}));
  EXPECT_EQ(Counts(all->accounts), (C{{"home", 2}, {"lists", 2}}));
  EXPECT_EQ(all->counted, 4u);
  EXPECT_EQ(all->total, 4u);

  auto patch = reader_->Facets("patch", options);
  ASSERT_TRUE(patch);
  EXPECT_EQ(Counts(patch->folders), (C{{"Lists/MIPS", 2}}));
  EXPECT_EQ(Counts(patch->months), (C{{"2018-01", 1}, {"2018-06", 1}}));
  EXPECT_EQ(patch->counted, 2u);

  options.max_values = 1;
  auto top = reader_->Facets("*", options);
  ASSERT_TRUE(top);
  EXPECT_EQ(Counts(top->folders), (C{{"INBOX", 2}}));
  EXPECT_EQ(top->months.size(), 4u);  // every month

  auto bad = reader_->Facets("(oops", options);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
}

// Clicking a value narrows the query to exactly the messages it counted.
TEST_F(SearchTest, FacetValuesNarrowTheQueryWhenClicked) {
  FacetOptions options;
  options.now = Utc(2019, 1, 2, 12);
  for (const std::string base : {"*", "to:list@example.org", "NOT patch"}) {
    auto facets = reader_->Facets(base, options);
    ASSERT_TRUE(facets) << facets.error().ToString();
    auto check = [&](const char* field, const std::vector<FacetCount>& counts) {
      for (const FacetCount& c : counts) {
        const std::string query = base + " " + field + ":\"" + c.value + "\"";
        EXPECT_EQ(static_cast<int64_t>(Ids(query).size()), c.count) << query;
      }
    };
    check("date", facets->months);
    check("from", facets->senders);
    check("folder", facets->folders);
    check("account", facets->accounts);
  }
}

// Past max_documents, the newest are counted: those dated after the
// (max_documents + 1)-th newest.
TEST_F(SearchTest, FacetsCountTheNewestWhenThereAreMore) {
  FacetOptions options;
  options.now = Utc(2019, 1, 2, 12);
  options.max_documents = 2;
  auto newest = reader_->Facets("*", options);
  ASSERT_TRUE(newest) << newest.error().ToString();
  EXPECT_EQ(newest->counted, 2u);
  EXPECT_EQ(newest->total, 4u);
  EXPECT_EQ(Counts(newest->months), (C{{"2018-12", 1}, {"2019-01", 1}}));
  EXPECT_EQ(Counts(newest->folders), (C{{"INBOX", 2}, {"Sent Items", 1}}));
  options.max_documents = 3;
  auto three = reader_->Facets("*", options);
  ASSERT_TRUE(three);
  EXPECT_EQ(three->counted, 3u);
  EXPECT_EQ(Counts(three->months), (C{{"2018-06", 1}, {"2018-12", 1}, {"2019-01", 1}}));
  options.max_documents = 0;
  EXPECT_FALSE(reader_->Facets("*", options));
}

// A search box open to others: wildcards, word lists and phrases that would
// take gigabytes or minutes are refused while parsing, in one line saying
// what to narrow, under SearchOptions::limits.
TEST(IndexReader, CostlyQueriesAreRefusedInOneLine) {
  TempDir dir;
  std::string body;  // 3000 distinct words starting with "a"
  for (int i = 0; i < 3000; ++i) body += "a" + std::to_string(i) + " ";
  const std::string raw = Raw(1, "many words", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", body);
  const mime::Message message = mime::ParseMessage(raw);
  {
    auto writer = IndexWriter::Open(dir.Sub("xapian"));
    ASSERT_TRUE(writer) << writer.error().ToString();
    ASSERT_TRUE((*writer)->Add(MakeDoc(1, message, raw.size())));
    ASSERT_TRUE((*writer)->Commit());
  }
  auto reader = IndexReader::Open(dir.Sub("xapian"));
  ASSERT_TRUE(reader) << reader.error().ToString();
  SearchOptions options;
  options.limits.max_terms = 1000;
  auto refused = [&](const std::string& query) {
    auto result = (*reader)->Search(query, options);
    if (result) return std::string("matched ") + std::to_string(result->ids.size());
    EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument) << query.substr(0, 40);
    EXPECT_EQ(result.error().message().find('\n'), std::string::npos);
    return result.error().message();
  };
  std::string wildcards;
  for (int i = 0; i < 500; ++i) wildcards += "a* ";
  EXPECT_EQ(refused(wildcards),
            "query error at column 1: wildcard \"a*\" matches too many words in the index (a query may search "
            "1000); make it longer");
  EXPECT_EQ(refused("\"" + body + "\""),
            "query error at column 2: more than 100 words in the query; search for fewer words");
  EXPECT_EQ(refused("a12*"), "matched 1");  // a12, a120..a129, a1200..a1299
  EXPECT_EQ(refused("\"a0 a1 a2 a3\""), "matched 1");
}

#endif  // MAILKEEP_INDEX_HAVE_QUERY

// ---------------------------------------------------------------- compaction (repack)

namespace compaction {

// A writer of 2 shards that writes a fresh segment for any run once the
// newest segment holds `fresh_from_documents` (0: never), segments merged
// in tiers of `tier_factor` (100: never here).
IndexWriterOptions SegmentOptions(size_t fresh_from_documents, size_t tier_factor = 100) {
  IndexWriterOptions options;
  options.shards = 2;
  options.fresh_segment_min_documents = fresh_from_documents;
  options.fresh_segment_min_bytes = 0;  // whatever the run brings
  options.segment_tier_factor = tier_factor;
  return options;
}

// Whether `needle` occurs in any regular file under `dir` (as grep -r).
std::vector<std::string> FilesHolding(const std::string& dir, std::string_view needle) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) found.push_back(entry.path().lexically_relative(dir).string());
  }
  return found;
}

// The shard lines of the stub (without its compacted-bytes line).
std::string ShardLines(const std::string& path) {
  std::ifstream stub(path + "/XAPIANDB");
  std::string lines;
  for (std::string line; std::getline(stub, line);) {
    if (!line.starts_with("#")) lines += line + "\n";
  }
  return lines;
}

std::set<std::string> Entries(const std::string& path) {
  std::set<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(path)) entries.insert(entry.path().filename());
  return entries;
}

// What a compaction leaves: the stub naming generation `g` of the two
// shards, no other shard directory, and the shards' size after it
// recorded in the stub.
void ExpectOnlyGeneration(const std::string& path, size_t g) {
  const std::vector<ShardName> names = {ShardName{0, g}, ShardName{1, g}};
  EXPECT_EQ(ShardLines(path), "glass " + names[0].Name() + "\nglass " + names[1].Name() + "\n");
  EXPECT_EQ(Entries(path), (std::set<std::string>{"XAPIANDB", names[0].Name(), names[1].Name()}));
  auto stub = ReadShardStub(path);
  ASSERT_TRUE(stub);
  EXPECT_EQ(stub->compacted_bytes, ShardBytes(path, names));
}

// The docids the index holds, through the stub (as the reader's
// add_database opens the shards).
std::vector<Xapian::docid> DocIds(const std::string& path) {
  Xapian::Database db(path);
  std::vector<Xapian::docid> ids;
  for (auto it = db.postlist_begin(""); it != db.postlist_end(""); ++it) ids.push_back(*it);
  return ids;
}

constexpr std::string_view kRemovedWord = "quixotrypsinwort";

// 20 documents; number 7 carries kRemovedWord in its subject and body.
void AddTwenty(IndexWriter& writer) {
  for (int i = 1; i <= 20; ++i) {
    const std::string word = i == 7 ? std::string(kRemovedWord) : "common" + std::to_string(i);
    const std::string raw = Raw(i, "note " + word, "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "text " + word);
    ASSERT_TRUE(writer.Add(MakeDoc(i, mime::ParseMessage(raw), raw.size())));
  }
}

// Adds documents first..last, subject "s<number>", body `body`.
void AddNumbered(IndexWriter& writer, int first, int last, std::string_view body = "body") {
  for (int i = first; i <= last; ++i) {
    const std::string raw = Raw(i, "s" + std::to_string(i), "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", body);
    ASSERT_TRUE(writer.Add(MakeDoc(i, mime::ParseMessage(raw), raw.size())));
  }
}

}  // namespace compaction

// A removed document's terms stay in freed B-tree blocks until the shards
// are rewritten; Compact() rewrites them (repack's index step), keeping
// the docids, and the writer goes on writing to the new generation.
TEST(IndexWriter, CompactLeavesNoByteOfARemovedDocument) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  IndexWriterOptions options;
  options.shards = 2;
  auto writer = IndexWriter::Open(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  AddTwenty(**writer);
  ASSERT_TRUE((*writer)->Commit());
  // Catalog id 7 is shard 0's docid 4; its positions record goes with it.
  EXPECT_FALSE(Xapian::Database(path + "/shard-0").get_metadata(PositionsKey(4)).empty());
  ASSERT_TRUE((*writer)->Remove(7));
  ASSERT_TRUE((*writer)->Commit());
  EXPECT_EQ(Xapian::Database(path + "/shard-0").get_metadata(PositionsKey(4)), "");
  EXPECT_EQ(Xapian::Database(path).get_termfreq(std::string(kRemovedWord)), 0u);
  // What this test is about: removed, but its bytes are still on disk.
  ASSERT_FALSE(FilesHolding(path, kRemovedWord).empty());

  ASSERT_TRUE((*writer)->Compact());
  EXPECT_EQ(FilesHolding(path, kRemovedWord), std::vector<std::string>{});
  ExpectOnlyGeneration(path, 1);
  std::vector<Xapian::docid> expected;
  for (Xapian::docid id = 1; id <= 20; ++id) {
    if (id != 7) expected.push_back(id);
  }
  EXPECT_EQ(DocIds(path), expected);
  EXPECT_EQ((*writer)->DocumentCount().value(), 19);
  EXPECT_EQ((*writer)->LastDocId().value(), 20);

  // The writer goes on, on the new generation; a second compaction makes
  // the next one.
  const std::string raw = Raw(21, "later", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "text later");
  ASSERT_TRUE((*writer)->Add(MakeDoc(21, mime::ParseMessage(raw), raw.size())));
  ASSERT_TRUE((*writer)->Commit());
  ASSERT_TRUE((*writer)->Compact());
  writer->reset();
  ExpectOnlyGeneration(path, 2);
  expected.push_back(21);
  EXPECT_EQ(DocIds(path), expected);
}

// The compaction policy: a writer that changed the index compacts it when
// closed once the shards have grown since the size recorded at the last
// compaction (none: from 0) by compact_growth_percent of it and by
// compact_min_growth_bytes; docids stay. (The old rule, "added >= 10,000
// documents and half the index", left linux-mips imported 3 times over
// at 1.2 x raw.)
TEST(IndexWriter, CompactsWhenGrownPastThePolicy) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  // Opens a writer with the policy (percent, min_bytes), adds documents
  // first..last (and removes `remove`), closes it.
  auto session = [&](size_t percent, uint64_t min_bytes, int first, int last, int remove = 0) {
    IndexWriterOptions options;
    options.shards = 2;
    options.compact_growth_percent = percent;
    options.compact_min_growth_bytes = min_bytes;
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddNumbered(**writer, first, last);
    if (remove != 0) {
      ASSERT_TRUE((*writer)->Commit());
      ASSERT_TRUE((*writer)->Remove(remove));
    }
  };
  session(25, 0, 1, 300, 1);  // a new index: grown from nothing
  ExpectOnlyGeneration(path, 1);
  std::vector<Xapian::docid> expected;
  for (Xapian::docid id = 2; id <= 300; ++id) expected.push_back(id);
  EXPECT_EQ(DocIds(path), expected);  // shard 0 starts with a gap
  session(1000, 0, 301, 301);  // grown by less than 1000 %
  session(1, uint64_t{1} << 30, 302, 302);  // by less than the byte minimum
  session(1, 0, 0, -1);  // nothing changed
  EXPECT_EQ(ShardLines(path), "glass shard-0.1\nglass shard-1.1\n");
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 301u);
  session(1, 0, 303, 303);  // 301 to 303 together grew it by more than 1 %
  ExpectOnlyGeneration(path, 2);
  for (Xapian::docid id = 301; id <= 303; ++id) expected.push_back(id);
  EXPECT_EQ(DocIds(path), expected);
  session(0, 0, 304, 304);  // 0 %: never
  EXPECT_EQ(ShardLines(path), "glass shard-0.2\nglass shard-1.2\n");
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 303u);
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  auto reader = IndexReader::Open(path);
  ASSERT_TRUE(reader) << reader.error().ToString();
  SearchOptions oldest;
  oldest.sort = SortOrder::kOldest;
  EXPECT_EQ((*reader)->Search("id:m3@example.org", oldest).value().ids, std::vector<int64_t>{3});
  EXPECT_EQ((*reader)->Search("subject:s303", oldest).value().ids, std::vector<int64_t>{303});
  EXPECT_EQ((*reader)->Search("id:m1@example.org", oldest).value().ids, std::vector<int64_t>{});
#endif
}

// A writer that adds past the last id of an index whose newest segment is
// large enough writes a fresh segment, which it compacts alone or merges
// by tiers when it closes; a reader sees every segment, each document once
// under its catalog id, in id order, also a reader opened before.
TEST(IndexWriter, WritesFreshSegmentsAndMergesThemInTiers) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  // Adds documents first..last, replaces `replace` and removes `remove`
  // (0: none), closes. A fresh segment from 10 documents in the newest;
  // tiers of 2 (tier 0 below 20 documents).
  auto session = [&](int first, int last, int replace = 0, int remove = 0) {
    IndexWriterOptions options = SegmentOptions(10, 2);
    options.segment_tier_base = 10;
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddNumbered(**writer, first, last);
    if (replace != 0) {
      const std::string raw =
          Raw(replace, "replaced", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "body of a replaced one");
      ASSERT_TRUE((*writer)->Add(MakeDoc(replace, mime::ParseMessage(raw), raw.size())));
    }
    if (remove != 0) {
      ASSERT_TRUE((*writer)->Remove(remove));
    }
    ASSERT_TRUE((*writer)->Commit());
    EXPECT_EQ((*writer)->LastDocId().value(), last);
  };
  auto first_ids = [&] {
    std::vector<int64_t> ids;
    const ShardStub stub = ReadShardStub(path).value();
    for (const Segment& segment : stub.segments) ids.push_back(segment.first_id);
    return ids;
  };
  auto listed_only = [&] {
    std::set<std::string> listed = {"XAPIANDB"};
    for (const ShardName& name : ReadShardStub(path).value().AllShards()) listed.insert(name.Name());
    EXPECT_EQ(Entries(path), listed);
  };
  session(1, 5);  // a new index: one segment
  session(6, 12);  // 5 in the newest: written in place
  EXPECT_EQ(first_ids(), std::vector<int64_t>{1});
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  auto early = IndexReader::Open(path);  // opened now, searched after the segments change
  ASSERT_TRUE(early) << early.error().ToString();
#endif
  session(13, 20, 3, 4);  // 12 in the newest: a fresh one from 13; 12 and 8 (tier 0) merge
  EXPECT_EQ(first_ids(), std::vector<int64_t>{1});
  session(21, 45, 0, 14);  // 19 in the newest: fresh from 21; 19 (tier 0) and 25 (tier 1) stay apart
  EXPECT_EQ(first_ids(), (std::vector<int64_t>{1, 21}));
  listed_only();
  session(46, 47, 30, 2);  // 25 in the newest: fresh from 46 (tier 0)
  EXPECT_EQ(first_ids(), (std::vector<int64_t>{1, 21, 46}));
  listed_only();
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 44u);  // 47 - 3 removed
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  for (IndexReader* reader : {early->get(), IndexReader::Open(path).value().release()}) {
    std::vector<int64_t> all;
    for (int64_t id = 1; id <= 47; ++id) {
      if (id != 2 && id != 4 && id != 14) all.push_back(id);
    }
    SearchOptions oldest;
    oldest.sort = SortOrder::kOldest;
    auto found = reader->Search("body", oldest);
    ASSERT_TRUE(found) << found.error().ToString();
    EXPECT_EQ(found->ids, all);
    SearchOptions newest;
    std::reverse(all.begin(), all.end());
    EXPECT_EQ(reader->Search("body", newest).value().ids, all);
    EXPECT_EQ(reader->Search("subject:replaced", oldest).value().ids, (std::vector<int64_t>{3, 30}));
    EXPECT_EQ(reader->Search("subject:s47", oldest).value().ids, std::vector<int64_t>{47});
    // Phrases read the positions records of every segment, replaced ones too.
    EXPECT_EQ(reader->Search("\"of a replaced\"", oldest).value().ids, (std::vector<int64_t>{3, 30}));
    EXPECT_EQ(reader->Search("\"a of replaced\"", oldest).value().ids, std::vector<int64_t>{});
    EXPECT_EQ(reader->DocumentCount().value(), 44);
    if (reader != early->get()) delete reader;
  }
#endif
  session(48, 60);  // 2 in the newest: in place; 15 there now
  EXPECT_EQ(first_ids(), (std::vector<int64_t>{1, 21, 46}));
  session(61, 75);  // fresh from 61 (15, tier 0): 15 and 15 merge, then 30 and 25 (tier 1)
  EXPECT_EQ(first_ids(), (std::vector<int64_t>{1, 21}));
  listed_only();
  // Compact(): every segment into one.
  {
    auto writer = IndexWriter::Open(path);
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->Compact());
  }
  EXPECT_EQ(first_ids(), std::vector<int64_t>{1});
  listed_only();
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 72u);
#ifdef MAILKEEP_INDEX_HAVE_QUERY
  EXPECT_EQ(IndexReader::Open(path).value()->Search("\"of a replaced\"", SearchOptions{}).value().ids,
            (std::vector<int64_t>{30, 3}));  // the records went with their documents into one segment
#endif
  std::vector<Xapian::docid> expected;
  for (Xapian::docid id = 1; id <= 75; ++id) {
    if (id != 2 && id != 4 && id != 14) expected.push_back(id);
  }
  EXPECT_EQ(DocIds(path), expected);
}

// Only a run expected to bring fresh_segment_min_bytes of mail gets a
// fresh segment; a smaller one (or one that says nothing) adds to the
// newest.
TEST(IndexWriter, OnlyALargeRunWritesAFreshSegment) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  auto session = [&](int first, int last, uint64_t expected_bytes) {
    IndexWriterOptions options = SegmentOptions(10);
    options.fresh_segment_min_bytes = 1000;
    options.expected_bytes = expected_bytes;
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddNumbered(**writer, first, last);
    ASSERT_TRUE((*writer)->Commit());
  };
  auto first_ids = [&] {
    std::vector<int64_t> ids;
    const ShardStub stub = ReadShardStub(path).value();
    for (const Segment& segment : stub.segments) ids.push_back(segment.first_id);
    return ids;
  };
  session(1, 12, 5000);  // a new index: one segment
  session(13, 20, 999);  // small: in place
  session(21, 25, 0);    // not known: in place
  EXPECT_EQ(first_ids(), std::vector<int64_t>{1});
  session(26, 40, 1000);  // large: a segment of its own
  EXPECT_EQ(first_ids(), (std::vector<int64_t>{1, 26}));
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 40u);
}

// A shard commits by itself once the documents since its last commit hold
// shard_flush_text_bytes of text, however few they are: Xapian's buffer
// grows with the words.
TEST(IndexWriter, AShardCommitsByItselfAfterSoMuchText) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  IndexWriterOptions options;
  options.shards = 2;
  options.shard_flush_documents = 1000;
  options.shard_flush_text_bytes = 16 * 1024;
  auto writer = IndexWriter::Open(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  std::string body;
  for (int i = 0; i < 600; ++i) body += "word" + std::to_string(i) + " ";  // about 5 KB
  AddNumbered(**writer, 1, 20, body);
  ASSERT_EQ((*writer)->DocumentCount().value(), 20);  // waits for every add
  // No Commit() yet: what a reader sees the shards committed by themselves,
  // each after 4 documents of about 5 KB.
  EXPECT_GE(Xapian::Database(path).get_doccount(), 16u);
}

// A writer that adds to the newest of several segments compacts that one
// alone when it has grown past the policy: the older segments' shards are
// left as they are (not rewritten, same generation).
TEST(IndexWriter, CompactsTheNewestSegmentAloneWhileItGrows) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  auto session = [&](int first, int last, size_t fresh_from_documents) {
    IndexWriterOptions options = SegmentOptions(fresh_from_documents);
    options.compact_min_growth_bytes = 1;
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddNumbered(**writer, first, last);
    ASSERT_TRUE((*writer)->Commit());
  };
  auto segments = [&] { return ReadShardStub(path).value().segments; };
  session(1, 12, 10);
  session(13, 30, 10);  // 12 in the newest: a fresh segment from 13, compacted alone
  const std::vector<Segment> before = segments();
  ASSERT_EQ(before.size(), 2u);
  ASSERT_EQ(before[1].first_id, 13);
  session(31, 60, 1000);  // added to the newest segment, which more than doubles
  const std::vector<Segment> after = segments();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0], before[0]);  // the older segment untouched
  EXPECT_EQ(after[1].first_id, 13);
  EXPECT_NE(after[1].shards, before[1].shards);  // the newest rewritten: a new generation
  std::set<std::string> listed = {"XAPIANDB"};
  for (const ShardName& name : ReadShardStub(path).value().AllShards()) listed.insert(name.Name());
  EXPECT_EQ(Entries(path), listed);  // the replaced generation is gone
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 60u);
  EXPECT_EQ(ReadShardStub(path).value().compacted_bytes, ShardBytes(path, ReadShardStub(path).value().AllShards()));
}

// A writer runs a thread only for each shard that new documents go to,
// from its first add: replacing or removing an older segment's document and
// every commit run on the caller's thread. The threads end with the writer.
TEST(IndexWriter, RunsAThreadOnlyForEachShardNewDocumentsGoTo) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  auto open = [&](size_t fresh_from_documents) {
    IndexWriterOptions options = SegmentOptions(fresh_from_documents);
    return IndexWriter::Open(path, options);
  };
  for (int first : {1, 13, 25}) {  // three segments of 12
    auto writer = open(10);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddNumbered(**writer, first, first + 11);
  }
  ASSERT_EQ(ReadShardStub(path).value().segments.size(), 3u);
  // This process's threads, less those exiting: a joined thread can stay
  // listed for a moment after join() returns, with PF_EXITING (0x4) set in
  // the flags field of its stat (the 7th after the command's ')').
  auto threads = [] {
    size_t n = 0;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream in(task.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t paren = stat.rfind(')');
      if (paren == std::string::npos) continue;  // gone meanwhile
      std::istringstream fields(stat.substr(paren + 1));
      std::string field;
      unsigned long flags = 0;
      for (int i = 0; i < 7 && fields >> field; ++i) {
        if (i == 6) flags = std::stoul(field);
      }
      if ((flags & 0x4) == 0) ++n;
    }
    return n;
  };
  const size_t before = threads();
  {
    auto writer = open(1000);  // adds go to the newest segment
    ASSERT_TRUE(writer) << writer.error().ToString();
    EXPECT_EQ(threads(), before);
    ASSERT_TRUE((*writer)->Remove(3));  // in the oldest segment
    const std::string raw = Raw(5, "replaced", "a@x.org", "Mon, 1 Jan 2024 00:00:00 +0000", "body");
    ASSERT_TRUE((*writer)->Add(MakeDoc(5, mime::ParseMessage(raw), raw.size())));  // in the oldest too
    ASSERT_TRUE((*writer)->Commit());
    EXPECT_EQ(threads(), before);
    AddNumbered(**writer, 37, 37);
    EXPECT_EQ(threads(), before + 1);
    AddNumbered(**writer, 38, 40);
    EXPECT_EQ(threads(), before + 2);  // one per shard of the newest segment
    ASSERT_TRUE((*writer)->Commit());
    auto count = (*writer)->DocumentCount();
    ASSERT_TRUE(count);
    EXPECT_EQ(*count, 39);
  }
  EXPECT_EQ(threads(), before);
  Xapian::Database db(path);
  EXPECT_EQ(db.get_doccount(), 39u);
  EXPECT_EQ(db.get_termfreq("Ss3"), 0u);  // removed
  EXPECT_EQ(db.get_termfreq("Ss5"), 0u);  // replaced
  EXPECT_EQ(db.get_termfreq("Sreplaced"), 1u);
  EXPECT_EQ(db.get_termfreq("Ss40"), 1u);
}

// A writer killed after it created a fresh segment's shards but before it
// listed them leaves directories the next writer removes.
TEST(IndexWriter, OpenRemovesAnUnlistedFreshSegment) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  {
    IndexWriterOptions options;
    options.shards = 2;
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer);
    AddTwenty(**writer);
  }
  const std::set<std::string> before = Entries(path);
  std::filesystem::create_directory(path + "/shard-0.7");
  std::filesystem::create_directory(path + "/shard-1.7");
  std::ofstream(path + "/shard-1.7/postlist.glass") << "partial";
  auto writer = IndexWriter::Open(path);
  ASSERT_TRUE(writer);
  EXPECT_EQ(Entries(path), before);
  EXPECT_EQ((*writer)->DocumentCount().value(), 20);
}

// A compaction killed before XAPIANDB switched leaves (part of) the next
// generation; killed after, the previous one. Either may hold a removed
// document's text: the next writer removes every shard directory the stub
// does not list, and keeps everything else.
TEST(IndexWriter, OpenRemovesShardDirectoriesTheStubDoesNotList) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  IndexWriterOptions options;
  options.shards = 2;
  {
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddTwenty(**writer);
    ASSERT_TRUE((*writer)->Commit());
    ASSERT_TRUE((*writer)->Remove(7));
  }
  // Killed after the switch (the old generation left), then before the
  // next one's switch (a complete and a partial next generation).
  std::filesystem::copy(path + "/shard-0", path + "/shard-0.1", std::filesystem::copy_options::recursive);
  std::filesystem::copy(path + "/shard-1", path + "/shard-1.1", std::filesystem::copy_options::recursive);
  ASSERT_TRUE(WriteShardStub(path, ShardStub{{Segment{1, {ShardName{0, 1}, ShardName{1, 1}}}}, 0}));
  std::filesystem::copy(path + "/shard-0.1", path + "/shard-0.2", std::filesystem::copy_options::recursive);
  std::filesystem::create_directory(path + "/shard-1.2");
  std::ofstream(path + "/shard-1.2/postlist.glass") << "partial";
  std::ofstream(path + "/in-flight") << "3\n";  // not a shard: left alone
  ASSERT_FALSE(FilesHolding(path + "/shard-0", kRemovedWord).empty());

  auto writer = IndexWriter::Open(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  EXPECT_EQ(Entries(path), (std::set<std::string>{"XAPIANDB", "in-flight", "shard-0.1", "shard-1.1"}));
  EXPECT_EQ((*writer)->DocumentCount().value(), 19);
  ASSERT_TRUE((*writer)->Compact());
  EXPECT_EQ(ShardLines(path), "glass shard-0.2\nglass shard-1.2\n");
  EXPECT_EQ(FilesHolding(path, kRemovedWord), std::vector<std::string>{});
  EXPECT_EQ((*writer)->DocumentCount().value(), 19);
}

// CompactIndex (what `mailkeep repack` calls): nothing to do without an
// index, and it creates none.
TEST(CompactIndex, CompactsAnIndexAndCreatesNone) {
  using namespace compaction;
  TempDir dir;
  const std::string path = dir.Sub("xapian");
  auto none = CompactIndex(path);
  ASSERT_TRUE(none) << none.error().ToString();
  EXPECT_FALSE(*none);
  EXPECT_FALSE(std::filesystem::exists(path));
  IndexWriterOptions options;
  options.shards = 2;
  {
    auto writer = IndexWriter::Open(path, options);
    ASSERT_TRUE(writer) << writer.error().ToString();
    AddTwenty(**writer);
    ASSERT_TRUE((*writer)->Commit());
    ASSERT_TRUE((*writer)->Remove(7));
  }
  auto done = CompactIndex(path);
  ASSERT_TRUE(done) << done.error().ToString();
  EXPECT_TRUE(*done);
  EXPECT_EQ(FilesHolding(path, kRemovedWord), std::vector<std::string>{});
  EXPECT_EQ(Xapian::Database(path).get_doccount(), 19u);
}

}  // namespace
}  // namespace mailkeep::index
