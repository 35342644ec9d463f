#include "store/catalog/catalog.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "store/catalog/sqlite.h"

namespace mailkeep::catalog {
namespace {

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-catalog-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/catalog.sqlite";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  MessageRow Row(uint8_t seed, const std::string& mid) {
    MessageRow r;
    r.blob.sha256.fill(seed);
    r.blob.pack = 1;
    r.blob.offset = seed * 100u;
    r.blob.stored_len = 50;
    r.blob.raw_len = 120;
    r.message_id = mid;
    r.subject = "subject " + mid;
    r.date = 1700000000;
    r.addresses = {{AddressRole::kFrom, "Alice", "alice@example.org"},
                   {AddressRole::kTo, "", "bob@example.org"},
                   {AddressRole::kTo, "Carol", "carol@example.org"}};
    r.parts = {{"1", "text/plain", "utf-8", "", "", 10}};
    return r;
  }

  std::string dir_, path_;
};

TEST_F(CatalogTest, NewCatalogHasCurrentSchemaVersionAndPrivateMode) {
  auto cat = Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat) << cat.error().ToString();
  auto db = Db::Open(path_, false, true);
  ASSERT_TRUE(db);
  auto st = (*db)->Prepare("PRAGMA user_version");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), kSchemaVersion);
  struct stat sb {};
  ASSERT_EQ(::stat(path_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST_F(CatalogTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(Catalog::Open(path_, true, false)); }
  {
    auto db = Db::Open(path_, false, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=99"));
  }
  auto cat = Catalog::Open(path_, false, false);
  ASSERT_FALSE(cat);
  EXPECT_EQ(cat.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(cat.error().message().find("newer"), std::string::npos);
}

TEST_F(CatalogTest, InsertFindAndReadBack) {
  auto cat = *Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat->Begin());
  auto id = cat->InsertMessage(Row(7, "a@x"));
  ASSERT_TRUE(id) << id.error().ToString();
  ASSERT_TRUE(cat->Commit());

  Sha256Digest sha;
  sha.fill(7);
  auto found = cat->FindBySha(sha);
  ASSERT_TRUE(found);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ(**found, *id);
  sha.fill(8);
  EXPECT_FALSE(cat->FindBySha(sha)->has_value());

  auto row = cat->GetMessage(*id);
  ASSERT_TRUE(row && *row);
  EXPECT_EQ((*row)->subject, "subject a@x");
  EXPECT_EQ((*row)->blob.offset, 700u);
  ASSERT_EQ((*row)->addresses.size(), 3u);
  EXPECT_EQ((*row)->addresses[2].name, "Carol");
  ASSERT_EQ((*row)->parts.size(), 1u);
  EXPECT_EQ((*row)->parts[0].charset, "utf-8");
  EXPECT_EQ(cat->FindByMessageId("a@x")->size(), 1u);
}

TEST_F(CatalogTest, SameLocationIsRecordedOnce) {
  auto cat = *Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat->Begin());
  int64_t id = *cat->InsertMessage(Row(1, "m@x"));
  Origin o{"maildir", "local", "/mail/INBOX", "123.abc", 0, "\\Seen", 1700000000};
  EXPECT_EQ(*cat->AddLocation(id, o, 1), LocationChange::kAdded);
  EXPECT_EQ(*cat->AddLocation(id, o, 2), LocationChange::kUnchanged);
  o.flags = "\\Flagged \\Seen";
  EXPECT_EQ(*cat->AddLocation(id, o, 2), LocationChange::kFlagsChanged);
  o.folder = "/mail/.Sent";
  EXPECT_EQ(*cat->AddLocation(id, o, 3), LocationChange::kAdded);
  ASSERT_TRUE(cat->Commit());
  auto locs = cat->GetLocations(id);
  ASSERT_TRUE(locs);
  EXPECT_EQ(locs->size(), 2u);
  auto stats = cat->Stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->messages, 1);
  EXPECT_EQ(stats->locations, 2);
  ASSERT_EQ(stats->per_source.size(), 1u);
  EXPECT_EQ(stats->per_source[0].source, "maildir");
}

TEST_F(CatalogTest, RollbackForgetsFoldersCreatedInTheTransaction) {
  auto cat = *Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat->Begin());
  int64_t id = *cat->InsertMessage(Row(2, "r@x"));
  Origin o{"mbox", "local", "/tmp/x.mbox", "0", 0, "", std::nullopt};
  ASSERT_EQ(*cat->AddLocation(id, o, 1), LocationChange::kAdded);
  cat->Rollback();
  ASSERT_TRUE(cat->Begin());
  id = *cat->InsertMessage(Row(2, "r@x"));
  auto added = cat->AddLocation(id, o, 1);
  ASSERT_TRUE(added) << added.error().ToString();
  EXPECT_EQ(*added, LocationChange::kAdded);
  ASSERT_TRUE(cat->Commit());
}

TEST_F(CatalogTest, APlaceTakenByAnotherMessageKeepsBothRecords) {
  auto cat = *Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat->Begin());
  int64_t first = *cat->InsertMessage(Row(4, "first@x"));
  int64_t second = *cat->InsertMessage(Row(5, "second@x"));
  Origin o{"mbox", "local", "/mail/box.mbox", "0", 0, "", std::nullopt};
  EXPECT_EQ(*cat->AddLocation(first, o, 1), LocationChange::kAdded);
  // The mbox was rewritten: another message now starts at offset 0.
  EXPECT_EQ(*cat->AddLocation(second, o, 2), LocationChange::kAdded);
  EXPECT_EQ(*cat->AddLocation(second, o, 3), LocationChange::kUnchanged);
  ASSERT_TRUE(cat->Commit());
  ASSERT_EQ(cat->GetLocations(first)->size(), 1u);
  auto locs = cat->GetLocations(second);
  ASSERT_EQ(locs->size(), 1u);
  EXPECT_EQ((*locs)[0].key, "0#" + std::to_string(second));
}

TEST_F(CatalogTest, CommittedPackEndAndDictionaries) {
  auto cat = *Catalog::Open(path_, true, false);
  auto end = cat->CommittedPackEnd();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->first, 0u);
  ASSERT_TRUE(cat->SetPackCommitted(1, 4096));
  ASSERT_TRUE(cat->SetPackCommitted(1, 8192));
  ASSERT_TRUE(cat->SetPackCommitted(2, 10));
  end = cat->CommittedPackEnd();
  EXPECT_EQ(end->first, 2u);
  EXPECT_EQ(end->second, 10u);
  ASSERT_TRUE(cat->AddDictionary({1, 1, 0, std::string("dict\0bytes", 10)}));
  auto dicts = cat->Dictionaries();
  ASSERT_TRUE(dicts);
  ASSERT_EQ(dicts->size(), 1u);
  EXPECT_EQ((*dicts)[0].bytes.size(), 10u);
}

TEST_F(CatalogTest, HostileTextIsBoundNotInterpolated) {
  auto cat = *Catalog::Open(path_, true, false);
  ASSERT_TRUE(cat->Begin());
  auto r = Row(3, "x'); DROP TABLE messages; --");
  int64_t id = *cat->InsertMessage(r);
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(cat->FindByMessageId("x'); DROP TABLE messages; --")->front(), id);
  EXPECT_EQ(*cat->CountMessages(), 1);
}

}  // namespace
}  // namespace mailkeep::catalog
