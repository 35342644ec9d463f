#include "index/positions.h"

#include <gtest/gtest.h>
#include <xapian.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace mailkeep::index {
namespace {

using Phrase = std::vector<std::vector<std::string>>;
using namespace std::string_literals;  // "..."s keeps the NUL bytes

// A record of `entries` (as EncodePositions lays them out) in one group.
std::string OneGroup(const std::string& entries) {
  return std::string(1, '\x01') + entries + "\0\0\0\0\x01\0\0\0"s;
}

// New documents' records are appended to the metadata, not spread over it.
TEST(PositionsKey, SortsAsTheDocIds) {
  EXPECT_EQ(PositionsKey(1), "p\0\0\0\x01"s);
  EXPECT_LT(PositionsKey(255), PositionsKey(256));
  EXPECT_LT(PositionsKey(65535), PositionsKey(16777216));
  EXPECT_LT(PositionsKey(16777216), PositionsKey(4294967295u));
}

TEST(EncodePositions, RoundTripsAndSharesTermPrefixes) {
  const std::vector<TermPositions> terms = {
      {"Sreport", {1, 2}}, {"Sreports", {300}}, {"kernel", {105, 1000000}}, {"kernels", {7}}};
  const std::string record = EncodePositions(terms);
  // Sreports shares 7 bytes with Sreport.
  EXPECT_NE(record.find("\x07\x01s\x02\xac\x02"s), std::string::npos);
  std::vector<TermPositions> decoded;
  ASSERT_TRUE(DecodePositions(record, &decoded));
  EXPECT_EQ(decoded, terms);
  EXPECT_EQ(EncodePositions({}), "");
  ASSERT_TRUE(DecodePositions("", &decoded));
  EXPECT_TRUE(decoded.empty());
}

// Terms are found by a binary search over groups of 16: every term of a
// record of several groups is found, and none between them.
TEST(EncodePositions, EveryTermOfManyGroupsIsFound) {
  std::vector<TermPositions> terms;
  for (int i = 0; i < 100; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "w%03d", 2 * i);
    terms.push_back({name, {static_cast<Xapian::termpos>(i + 1)}});
  }
  const std::string record = EncodePositions(terms);
  std::vector<TermPositions> decoded;
  ASSERT_TRUE(DecodePositions(record, &decoded));
  EXPECT_EQ(decoded, terms);
  for (int i = 0; i < 100; ++i) {
    char word[8], next[8], between[8];
    std::snprintf(word, sizeof word, "w%03d", 2 * i);
    std::snprintf(next, sizeof next, "w%03d", 2 * i + 2);
    std::snprintf(between, sizeof between, "w%03d", 2 * i + 1);
    EXPECT_TRUE(HasPhrase(record, {{word}})) << word;
    EXPECT_FALSE(HasPhrase(record, {{between}})) << between;
    if (i < 99) {
      EXPECT_TRUE(HasPhrase(record, {{word}, {next}})) << word;
    }
  }
  EXPECT_FALSE(HasPhrase(record, {{"a"}}));  // before the first term
  EXPECT_FALSE(HasPhrase(record, {{"z"}}));  // after the last
}

// The positions leave the document; each term keeps its wdf, so weights and
// document lengths are as they were.
TEST(MovePositionsOut, LeavesTheTermsAndTheirWdf) {
  Xapian::Document document;
  Xapian::TermGenerator generator;
  generator.set_document(document);
  generator.index_text("the cat saw the other cat");
  generator.index_text_without_positions("quoted words", 1, "X");
  document.add_boolean_term("XFINBOX");
  const std::string record = MovePositionsOut(document);
  std::vector<TermPositions> decoded;
  ASSERT_TRUE(DecodePositions(record, &decoded));
  const std::vector<TermPositions> expected = {{"cat", {2, 6}}, {"other", {5}}, {"saw", {3}}, {"the", {1, 4}}};
  EXPECT_EQ(decoded, expected);
  std::vector<std::pair<std::string, Xapian::termcount>> wdf;
  for (auto t = document.termlist_begin(); t != document.termlist_end(); ++t) {
    EXPECT_EQ(t.positionlist_count(), 0u) << *t;
    wdf.emplace_back(*t, t.get_wdf());
  }
  const std::vector<std::pair<std::string, Xapian::termcount>> expected_wdf = {
      {"XFINBOX", 0}, {"Xquoted", 1}, {"Xwords", 1}, {"cat", 2}, {"other", 1}, {"saw", 1}, {"the", 2}};
  EXPECT_EQ(wdf, expected_wdf);
}

TEST(HasPhrase, FindsPhrasesAcrossAlternatives) {
  const std::string record = EncodePositions(
      {{"Scafe", {3}}, {"Sopening", {4}}, {"cat", {2, 6}}, {"other", {5}}, {"saw", {3}}, {"the", {1, 4}}});
  EXPECT_TRUE(HasPhrase(record, {{"the"}, {"cat"}}));
  EXPECT_TRUE(HasPhrase(record, {{"the"}, {"other"}, {"cat"}}));
  EXPECT_TRUE(HasPhrase(record, {{"cat"}, {"saw"}, {"the"}}));
  EXPECT_FALSE(HasPhrase(record, {{"cat"}, {"the"}}));   // in the wrong order
  EXPECT_FALSE(HasPhrase(record, {{"the"}, {"saw"}}));   // not next to each other
  EXPECT_FALSE(HasPhrase(record, {{"the"}, {"dog"}}));   // a word it does not have
  EXPECT_TRUE(HasPhrase(record, {{"Scafe", "cafe"}, {"Sopening", "opening"}}));  // any prefix at a place
  EXPECT_FALSE(HasPhrase(record, {{"cafe"}, {"opening"}}));
  EXPECT_TRUE(HasPhrase(record, {{"cat", "dog"}, {"saw"}}));
  EXPECT_TRUE(HasPhrase(record, {{"saw", "other"}, {"the", "cat"}}));  // 3-4 and 5-6
  EXPECT_FALSE(HasPhrase(record, {}));
  EXPECT_FALSE(HasPhrase("", {{"the"}, {"cat"}}));
}

// A damaged record (a damaged index, or someone else's metadata) matches no
// phrase and reads nothing outside itself.
TEST(HasPhrase, DamagedRecordsMatchNothing) {
  const Phrase the_cat = {{"the"}, {"cat"}};
  std::vector<TermPositions> decoded;
  std::vector<TermPositions> many;
  for (int i = 0; i < 40; ++i) many.push_back({"t" + std::to_string(100 + i), {static_cast<Xapian::termpos>(i + 1)}});
  many.push_back({"the", {41}});
  many.push_back({"zcat", {42}});
  const std::string good = EncodePositions(many);
  ASSERT_TRUE(HasPhrase(good, {{"the"}, {"zcat"}}));
  for (size_t cut = 0; cut < good.size(); ++cut) {
    EXPECT_FALSE(HasPhrase(good.substr(0, cut), {{"the"}, {"zcat"}})) << cut;
    EXPECT_FALSE(DecodePositions(good.substr(0, cut), &decoded) && cut > 0) << cut;
  }
  // Every single byte changed: a wrong answer is allowed, reading outside
  // the record (the sanitizer build would see it) is not.
  for (size_t at = 0; at < good.size(); ++at) {
    std::string bad = good;
    bad[at] = static_cast<char>(bad[at] ^ 0xA5);
    (void)HasPhrase(bad, {{"the"}, {"zcat"}});
    (void)HasPhrase(bad, {{"t120"}});
    (void)DecodePositions(bad, &decoded);
  }
  const std::vector<std::string> bad_records = {
      "x",
      "\x02\x00\x03the\x01\x01\0\0\0\0\x01\0\0\0"s,  // unknown format
      OneGroup("\x05\x03the\x01\x01"s),      // shares more than the previous term has
      OneGroup("\x00\x09the\x01\x01"s),      // term longer than what is left
      OneGroup("\x00\x03the\x05\x01"s),      // positions longer than what is left
      OneGroup("\x00\x03the\x01\x00"s),      // a zero step
      OneGroup("\x00\x03the\x02\x80\x80"s),  // a number cut short
      OneGroup("\x00\x03the\x06\xff\xff\xff\xff\x7f\x01"s),  // past 32 bits
      "\x01\x00\x03the\x01\x01\0\0\0\0\xff\xff\xff\x0f"s,  // more groups than bytes
      "\x01\x00\x03the\x01\x01\x09\0\0\0\x01\0\0\0"s,  // a group past the entries
      "\x01\x00\x03the\x01\x01\0\0\0\0\0\0\0\0\x02\0\0\0"s,  // groups not increasing
  };
  for (const std::string& bad : bad_records) {
    EXPECT_FALSE(DecodePositions(bad, &decoded)) << testing::PrintToString(bad);
    EXPECT_FALSE(HasPhrase(bad, {{"the"}})) << testing::PrintToString(bad);
  }
  EXPECT_TRUE(HasPhrase(OneGroup("\x00\x03the\x01\x01"s), {{"the"}}));  // the well-formed one
}

class PhraseFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Xapian::WritableDatabase(std::string(), Xapian::DB_BACKEND_INMEMORY);
    Add(1, "the cat sat");
    Add(2, "a cat and the dog");
    Add(3, "");  // no record
    Add(4, "the cat again, the cat");
    Add(5, "cat the");
    db_.set_metadata(PositionsKey(6), "damaged");
    db_.commit();
  }
  void Add(Xapian::docid id, const std::string& text) {
    Xapian::Document document;
    Xapian::TermGenerator generator;
    generator.set_document(document);
    generator.index_text(text);
    document.add_boolean_term("Xall");
    const std::string record = MovePositionsOut(document);
    db_.replace_document(id, document);
    db_.set_metadata(PositionsKey(id), record);
  }
  std::vector<Xapian::docid> Match(const Xapian::Query& query) {
    Xapian::Enquire enquire(db_);
    enquire.set_query(query);
    enquire.set_weighting_scheme(Xapian::BoolWeight());
    std::vector<Xapian::docid> ids;
    const Xapian::MSet mset = enquire.get_mset(0, 100);
    for (auto it = mset.begin(); it != mset.end(); ++it) ids.push_back(*it);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  Xapian::WritableDatabase db_;
};

// As the query parser uses it: the terms drive, the filter is checked.
TEST_F(PhraseFilterTest, KeepsTheCandidatesWithTheWordsInARow) {
  const Xapian::Query terms[] = {Xapian::Query("the"), Xapian::Query("cat"),
                                 Xapian::Query((new PhraseFilter({{"the"}, {"cat"}}))->release())};
  EXPECT_EQ(Match(Xapian::Query(Xapian::Query::OP_AND, std::begin(terms), std::end(terms))),
            std::vector<Xapian::docid>({1, 4}));
}

// Alone it drives the match itself (next and skip_to over the documents).
TEST_F(PhraseFilterTest, DrivesTheMatchWhenAlone) {
  EXPECT_EQ(Match(Xapian::Query((new PhraseFilter({{"the"}, {"cat"}}))->release())),
            std::vector<Xapian::docid>({1, 4}));
  EXPECT_EQ(Match(Xapian::Query((new PhraseFilter({{"cat"}, {"the"}}))->release())), std::vector<Xapian::docid>({5}));
  EXPECT_TRUE(Match(Xapian::Query((new PhraseFilter({{"dog"}, {"cat"}}))->release())).empty());
  // Beside a term that matches every document, whichever of the two drives.
  const Xapian::Query with_all[] = {Xapian::Query("Xall"),
                                    Xapian::Query((new PhraseFilter({{"the"}, {"cat"}}))->release())};
  EXPECT_EQ(Match(Xapian::Query(Xapian::Query::OP_AND, std::begin(with_all), std::end(with_all))),
            std::vector<Xapian::docid>({1, 4}));
}

// Each sub-database gets its own copy (clone), reading its own records.
TEST_F(PhraseFilterTest, WorksOverSeveralDatabases) {
  Xapian::WritableDatabase other(std::string(), Xapian::DB_BACKEND_INMEMORY);
  std::swap(other, db_);
  Add(1, "no match here");
  Add(2, "the cat is here");
  db_.commit();
  Xapian::Database both;
  both.add_database(other);
  both.add_database(db_);
  Xapian::Enquire enquire(both);
  const Xapian::Query terms[] = {Xapian::Query("the"), Xapian::Query("cat"),
                                 Xapian::Query((new PhraseFilter({{"the"}, {"cat"}}))->release())};
  enquire.set_query(Xapian::Query(Xapian::Query::OP_AND, std::begin(terms), std::end(terms)));
  std::vector<Xapian::docid> ids;
  const Xapian::MSet mset = enquire.get_mset(0, 100);
  for (auto it = mset.begin(); it != mset.end(); ++it) ids.push_back(*it);
  std::sort(ids.begin(), ids.end());
  // Interleaved docids: database j's docid d is (d - 1) * 2 + j + 1.
  EXPECT_EQ(ids, std::vector<Xapian::docid>({1, 4, 7}));
}

}  // namespace
}  // namespace mailkeep::index
