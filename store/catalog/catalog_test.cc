#include "store/catalog/catalog.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "store/catalog/sealed_vfs.h"
#include "store/catalog/sqlite.h"
#include "store/util/files.h"

namespace mailkeep::catalog {
namespace {

// A catalog file, plain or sealed (sealed_vfs.h) with a test key.
class CatalogFixture {
 protected:
  explicit CatalogFixture(bool sealed) : sealed_(sealed) {
    for (size_t i = 0; i < crypto::Key::size(); ++i) key_.data()[i] = static_cast<uint8_t>(i * 7 + 1);
    char tmpl[] = "/tmp/mk-catalog-XXXXXX";
    if (mkdtemp(tmpl)) dir_ = tmpl;
    path_ = dir_ + "/catalog.sqlite";
  }
  ~CatalogFixture() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  const crypto::Key* key() const { return sealed_ ? &key_ : nullptr; }
  Result<std::unique_ptr<Catalog>> OpenCat(bool create, bool read_only, bool migrate = true) {
    return Catalog::Open(path_, create, read_only, migrate, key());
  }
  Result<std::unique_ptr<Db>> OpenDb(bool create, bool read_only) { return Db::Open(path_, create, read_only, key()); }

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

  bool sealed_;
  crypto::Key key_;
  std::string dir_, path_;
};

// Every catalog test runs on a plain and on a sealed catalog.
class CatalogTest : public CatalogFixture, public ::testing::TestWithParam<bool> {
 protected:
  CatalogTest() : CatalogFixture(GetParam()) {}
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }
};

TEST_P(CatalogTest, NewCatalogHasCurrentSchemaVersionAndPrivateMode) {
  auto cat = OpenCat(true, false);
  ASSERT_TRUE(cat) << cat.error().ToString();
  auto db = OpenDb(false, true);
  ASSERT_TRUE(db);
  auto st = (*db)->Prepare("PRAGMA user_version");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), kSchemaVersion);
  struct stat sb {};
  ASSERT_EQ(::stat(path_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

// The WAL's directory entry is made once and kept: a writer's open leaves
// path-wal in place (fsynced into its directory), and the last close
// empties it instead of deleting it.
TEST_P(CatalogTest, WalFileIsKeptAndEmptiedAtClose) {
  const std::string wal = path_ + "-wal";
  {
    auto cat = OpenCat(true, false);
    ASSERT_TRUE(cat) << cat.error().ToString();
    EXPECT_TRUE(std::filesystem::exists(wal));
    ASSERT_TRUE((*cat)->Begin());
    ASSERT_TRUE((*cat)->InsertMessage(Row(1, "<a@x>")));
    ASSERT_TRUE((*cat)->Commit());
    EXPECT_GT(std::filesystem::file_size(wal), 0u);
  }
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_EQ(std::filesystem::file_size(wal), 0u);
  std::filesystem::remove(wal);  // as an older mailkeep left it: made again
  { ASSERT_TRUE(OpenCat(false, false)); }
  EXPECT_TRUE(std::filesystem::exists(wal));
}

// The page cache is bounded (16 MiB) whatever the catalog's size: a
// catalog of about 30 MB, every page written in one transaction, leaves
// SQLite holding well under its size (64 MiB kept all of it; an import's
// peak RSS then grew with the archive).
TEST_P(CatalogTest, PageCacheStaysBoundedAsTheCatalogGrows) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  for (int i = 0; i < 7000; ++i) {
    MessageRow r = Row(1, "m" + std::to_string(i) + "@x");
    for (size_t b = 0; b < 4; ++b) r.blob.sha256[b] = static_cast<uint8_t>(i >> (8 * b));
    r.subject.assign(4000, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(cat->InsertMessage(r));
  }
  ASSERT_TRUE(cat->Commit());
  EXPECT_GT(std::filesystem::file_size(path_) + std::filesystem::file_size(path_ + "-wal"), 28u << 20);
  EXPECT_LT(sqlite3_memory_used(), 20 << 20);
}

TEST_P(CatalogTest, NewerSchemaIsRefused) {
  { ASSERT_TRUE(OpenCat(true, false)); }
  {
    auto db = OpenDb(false, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version=99"));
  }
  auto cat = OpenCat(false, false);
  ASSERT_FALSE(cat);
  EXPECT_EQ(cat.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(cat.error().message().find("newer"), std::string::npos);
}

TEST_P(CatalogTest, InsertFindAndReadBack) {
  auto cat = *OpenCat(true, false);
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

TEST_P(CatalogTest, SameLocationIsRecordedOnce) {
  auto cat = *OpenCat(true, false);
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

// Issue 12.6: places that vanished from the server are marked gone (not
// deleted: mailkeep did not delete them), their messages queued for the
// index; a place listed again is live again; a renumbered folder's places
// move to the new UIDVALIDITY.
TEST_P(CatalogTest, PlacesAreMarkedGoneRevivedAndMoved) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  int64_t a = *cat->InsertMessage(Row(1, "a@x")), b = *cat->InsertMessage(Row(2, "b@x"));
  Origin pa{"imap", "acct", "INBOX", "1", 7, "", 1700000000}, pb{"imap", "acct", "INBOX", "2", 7, "", 1700000001};
  ASSERT_TRUE(cat->AddLocation(a, pa, 10));
  ASSERT_TRUE(cat->AddLocation(b, pb, 10));
  ASSERT_TRUE(cat->Commit());
  ASSERT_TRUE(cat->MarkLocationsDeleted("imap", "acct", "INBOX", 7, {{"2", b}}, 20));
  while (*cat->PendingIndexCount() > 0) {
    auto ids = *cat->PendingIndex(100);
    ASSERT_TRUE(cat->Begin());
    ASSERT_TRUE(cat->DequeueIndexed(ids));
    ASSERT_TRUE(cat->Commit());
  }
  // "2" was deleted by mailkeep: not gone; "9" is unknown.
  EXPECT_EQ(*cat->MarkLocationsGone("imap", "acct", "INBOX", {{7, "1"}, {7, "2"}, {7, "9"}}, 30), 1);
  EXPECT_EQ(*cat->PendingIndexCount(), 1);
  EXPECT_EQ(cat->GetLocations(a)->at(0).gone_at, 30);
  EXPECT_FALSE(cat->GetLocations(b)->at(0).gone_at);
  EXPECT_EQ(*cat->MarkLocationsGone("imap", "acct", "INBOX", {{7, "1"}}, 40), 0);  // once
  auto rows = *cat->FolderLocations("imap", "acct", "INBOX");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].key == "1" ? rows[0].gone_at : rows[1].gone_at, 30);
  // Listed again: live again, with the flags seen now.
  ASSERT_TRUE(cat->Begin());
  EXPECT_EQ(*cat->AddLocation(a, pa, 50), LocationChange::kFlagsChanged);
  ASSERT_TRUE(cat->Commit());
  EXPECT_FALSE(cat->GetLocations(a)->at(0).gone_at);
  // Renumbered: "1" moves to 8; a key already recorded under 8 stays.
  Origin taken = pb;
  taken.uidvalidity = 8;
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->AddLocation(b, taken, 60));
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(*cat->MoveLocations("imap", "acct", "INBOX", 7, 8, {"1", "2"}), 1);
  EXPECT_EQ(cat->GetLocations(a)->at(0).uidvalidity, 8u);
  EXPECT_EQ(cat->GetLocations(b)->size(), 2u);
}

TEST_P(CatalogTest, IntentsAreRecordedResolvedAndListedByKind) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  int64_t id = *cat->InsertMessage(Row(1, "m@x"));
  int64_t other = *cat->InsertMessage(Row(2, "n@x"));
  std::vector<IntentRow> rows = {{0, 1, id, "a@example.test", "relay r", "me@x", 100, {}, {}, ""},
                                 {0, 1, id, "b@example.test", "relay r", "me@x", 100, {}, {}, ""},
                                 {0, 2, other, "acct", "INBOX", "", 100, {}, {}, ""}};
  ASSERT_TRUE(cat->AddIntents(rows));
  ASSERT_TRUE(cat->Commit());
  EXPECT_NE(rows[0].id, rows[1].id);
  EXPECT_EQ(cat->Intents(1, std::nullopt, true)->size(), 2u);
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->ResolveIntent({rows[0].id, 1, id, "", "", "", 0, 150, 0, "250 2.0.0 queued"}));
  // No outcome: stays unknown (its reply is kept, resolved_at is not set).
  ASSERT_TRUE(cat->ResolveIntent({rows[1].id, 1, id, "", "", "", 0, 150, std::nullopt, "no reply"}));
  EXPECT_FALSE(cat->ResolveIntent({999, 1, id, "", "", "", 0, 150, 0, ""}));
  ASSERT_TRUE(cat->Commit());
  auto sends = *cat->Intents(1, id, false);
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].target, "a@example.test");
  EXPECT_EQ(sends[0].outcome, 0);
  EXPECT_EQ(sends[0].resolved_at, 150);
  EXPECT_EQ(sends[0].reply, "250 2.0.0 queued");
  EXPECT_FALSE(sends[1].outcome);
  EXPECT_FALSE(sends[1].resolved_at);
  EXPECT_EQ(sends[1].reply, "no reply");
  auto unknown = *cat->Intents(1, std::nullopt, true);
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_EQ(unknown[0].id, rows[1].id);
  auto appends = *cat->Intents(2, other, false);
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].target, "acct");
  EXPECT_EQ(appends[0].via, "INBOX");
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->RemoveIntents({appends[0].id}));
  ASSERT_TRUE(cat->Commit());
  EXPECT_TRUE(cat->Intents(2, std::nullopt, false)->empty());
  // An intent for a message the catalog lacks is refused.
  ASSERT_TRUE(cat->Begin());
  std::vector<IntentRow> bad = {{0, 1, 999, "c@x", "r", "", 300, {}, {}, ""}};
  EXPECT_FALSE(cat->AddIntents(bad));
  cat->Rollback();
}

// A version 3 catalog (sends log; migrate's intents as "pending-<id>"
// locations) is migrated in place to the intents journal.
TEST_P(CatalogTest, VersionThreeSendsAndPendingLocationsBecomeIntents) {
  int64_t id = 0, other = 0;
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    id = *cat->InsertMessage(Row(1, "m@x"));
    other = *cat->InsertMessage(Row(2, "n@x"));
    Origin pending{"imap", "target", "Archive", "pending-" + std::to_string(id), 0, "", {}};
    Origin real{"imap", "target", "Archive", "7", 42, "", {}};
    Origin not_intent{"imap", "target", "Archive", "pending-" + std::to_string(id), 0, "", {}};
    ASSERT_TRUE(cat->AddLocation(id, pending, 1000));
    ASSERT_TRUE(cat->AddLocation(other, real, 1000));
    // Another message's key that merely looks like an intent stays a place.
    not_intent.folder = "Other";
    ASSERT_TRUE(cat->AddLocation(other, not_intent, 1000));
    ASSERT_TRUE(cat->Commit());
  }
  {
    // Back to version 3 as an older mailkeep left it.
    auto db = *OpenDb(false, false);
    ASSERT_TRUE(db->Exec(
        "DROP TABLE intents; CREATE TABLE sends(id INTEGER PRIMARY KEY, message INTEGER NOT NULL REFERENCES "
        "messages(id), recipient TEXT NOT NULL, sender TEXT NOT NULL, route TEXT NOT NULL, attempted_at INTEGER NOT "
        "NULL, outcome INTEGER NOT NULL, reply TEXT NOT NULL); CREATE INDEX sends_by_message ON sends(message, "
        "recipient); ALTER TABLE locations DROP COLUMN gone_at; "
        "ALTER TABLE locations DROP COLUMN listed_size; DROP TABLE holds; DROP TABLE audit_messages; "
        "DROP TABLE audit_events; DROP TABLE removed_places; PRAGMA user_version=3"));
    ASSERT_TRUE(db->Exec("INSERT INTO sends VALUES(1, " + std::to_string(id) +
                         ", 'a@x', 'me@x', 'relay r', 100, 0, '250 ok'), (2, " + std::to_string(id) +
                         ", 'b@x', 'me@x', 'relay r', 100, 3, 'no reply to the end of data')"));
  }
  auto cat = *OpenCat(false, false);
  auto sends = *cat->Intents(1, id, false);
  ASSERT_EQ(sends.size(), 2u);
  EXPECT_EQ(sends[0].target, "a@x");
  EXPECT_EQ(sends[0].via, "relay r");
  EXPECT_EQ(sends[0].sender, "me@x");
  EXPECT_EQ(sends[0].outcome, 0);
  EXPECT_FALSE(sends[1].outcome);  // unknown stays unknown
  auto appends = *cat->Intents(2, std::nullopt, true);
  ASSERT_EQ(appends.size(), 1u);
  EXPECT_EQ(appends[0].message, id);
  EXPECT_EQ(appends[0].target, "target");
  EXPECT_EQ(appends[0].via, "Archive");
  EXPECT_EQ(appends[0].created_at, 1000);
  EXPECT_TRUE(cat->GetLocations(id)->empty());  // the fake place is gone
  EXPECT_EQ(cat->GetLocations(other)->size(), 2u);
  EXPECT_EQ(*cat->CheckIntegrity(), "");
}

TEST_P(CatalogTest, VersionFiveGainsHoldsAndTheAuditTrail) {
  int64_t id = 0;
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    id = *cat->InsertMessage(Row(1, "m@x"));
    ASSERT_TRUE(cat->Commit());
  }
  {
    auto db = *OpenDb(false, false);
    ASSERT_TRUE(db->Exec("DROP TABLE holds; DROP TABLE audit_messages; DROP TABLE audit_events; "
                         "DROP TABLE removed_places; PRAGMA user_version=5"));
  }
  auto cat = OpenCat(false, false);
  ASSERT_TRUE(cat) << cat.error().ToString();
  ASSERT_TRUE((*cat)->Begin());
  const int64_t ev = *(*cat)->AddAuditEvent({0, 5, "u", "h", "hold", "q", "why"});
  EXPECT_TRUE(*(*cat)->AddHold(id, ev));
  ASSERT_TRUE((*cat)->AddAuditMessage(ev, AuditAction::kHeld, id));
  ASSERT_TRUE((*cat)->Commit());
  EXPECT_TRUE(*(*cat)->IsHeld(id));
  auto holds = *(*cat)->Holds();
  ASSERT_EQ(holds.size(), 1u);
  EXPECT_EQ(holds[0].event.reason, "why");
  auto trail = *(*cat)->AuditTrail();
  ASSERT_EQ(trail.size(), 1u);
  EXPECT_EQ(trail[0].message_id, "m@x");
  EXPECT_EQ(trail[0].size, 120u);
  EXPECT_EQ(*(*cat)->CheckIntegrity(), "");
}

TEST_P(CatalogTest, RemoveMessageTakesItsRowsAndTheAddressesOnlyItUsed) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  MessageRow a = Row(1, "a@x");
  a.addresses.push_back({AddressRole::kCc, "Only A", "only-a@example.org"});
  const int64_t ida = *cat->InsertMessage(a);
  const int64_t idb = *cat->InsertMessage(Row(2, "b@x"));
  ASSERT_TRUE(cat->AssignThread(ida, "a@x", {}));
  ASSERT_TRUE(cat->AssignThread(idb, "b@x", {"a@x"}));
  Origin o{"imap", "acct", "INBOX", "1", 7, "", {}};
  ASSERT_TRUE(cat->AddLocation(ida, o, 1));
  auto used = *cat->MessageAddressIds(ida);
  EXPECT_EQ(used.size(), 4u);
  ASSERT_TRUE(cat->RemoveMessage(ida, 1));
  EXPECT_EQ(*cat->PruneAddresses(used), 1);  // only-a; the others b uses too
  ASSERT_TRUE(cat->Commit());
  EXPECT_FALSE(*cat->GetMessage(ida));
  EXPECT_FALSE(*cat->FindBySha(a.blob.sha256));
  EXPECT_TRUE(cat->GetLocations(ida)->empty());
  EXPECT_EQ(cat->GetMessage(idb)->value().addresses.size(), 3u);
  // a@x stays a ghost of the thread b lives in: a new reply to it joins.
  ASSERT_TRUE(cat->Begin());
  const int64_t idc = *cat->InsertMessage(Row(3, "c@x"));
  const int64_t thread = *cat->AssignThread(idc, "c@x", {"a@x"});
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(thread, cat->GetMessage(idb)->value().thread);
  auto pending = *cat->PendingIndex(10);
  EXPECT_NE(std::find(pending.begin(), pending.end(), ida), pending.end());  // for the index to drop
  EXPECT_EQ(cat->RemoveMessage(ida, 1).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(*cat->CheckIntegrity(), "");
}

// Issue 13.2: a removed message's places on mail servers are kept, so that
// sync does not fetch it again; archiving the same bytes again keeps them.
TEST_P(CatalogTest, RemovedMessageLeavesItsServerPlacesBehind) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  const int64_t a = *cat->InsertMessage(Row(1, "a@x"));
  const int64_t b = *cat->InsertMessage(Row(2, "b@x"));
  Origin imap{"imap", "acct", "INBOX", "1", 7, "\\Seen", 1700000000, 130};
  Origin shared{"imap", "acct", "INBOX", "2", 7, "", 1700000001, 0};
  Origin deleted{"imap", "acct", "Sent", "3", 7, "", {}, 0};
  Origin pop{"pop3", "acct", "INBOX", "UIDL-a", 0, "", {}, 131};
  Origin mbox{"mbox", "local", "/mail/box.mbox", "0", 0, "", {}, 0};
  ASSERT_TRUE(cat->AddLocation(a, imap, 10));
  ASSERT_TRUE(cat->AddLocation(b, shared, 11));
  ASSERT_TRUE(cat->AddLocation(a, shared, 12));  // recorded as "2#<a>"
  for (const Origin* o : {&deleted, &pop, &mbox}) ASSERT_TRUE(cat->AddLocation(a, *o, 13));
  ASSERT_TRUE(cat->Commit());
  ASSERT_TRUE(cat->MarkLocationsDeleted("imap", "acct", "Sent", 7, {{"3", a}}, 14));
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->RemoveMessage(a, 500));
  ASSERT_TRUE(cat->Commit());

  auto inbox = *cat->RemovedPlaces("imap", "acct", "INBOX");
  ASSERT_EQ(inbox.size(), 2u);
  std::sort(inbox.begin(), inbox.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  EXPECT_EQ(inbox[0].key, "1");
  EXPECT_EQ(inbox[0].uidvalidity, 7u);
  EXPECT_EQ(inbox[0].removed_at, 500);
  EXPECT_EQ(inbox[0].size, 120u);
  EXPECT_EQ(inbox[0].listed_size, 130u);
  EXPECT_EQ(inbox[0].internal_date, 1700000000);
  EXPECT_EQ(inbox[0].seen_at, 10);
  EXPECT_EQ(inbox[0].message, 0);
  EXPECT_EQ(inbox[1].key, "2");  // the shared place, under its own key
  EXPECT_EQ(inbox[1].seen_at, 12);
  EXPECT_TRUE(cat->RemovedPlaces("imap", "acct", "Sent")->empty());  // mailkeep deleted it there
  ASSERT_EQ(cat->RemovedPlaces("pop3", "acct", "INBOX")->size(), 1u);
  EXPECT_TRUE(cat->RemovedPlaces("mbox", "local", "/mail/box.mbox")->empty());  // not a server
  // b's place is its own still.
  EXPECT_EQ(cat->FolderLocations("imap", "acct", "INBOX")->size(), 1u);

  // The same bytes archived again: a new message, the places stay removed.
  ASSERT_TRUE(cat->Begin());
  const int64_t again = *cat->InsertMessage(Row(1, "a@x"));
  ASSERT_TRUE(cat->Commit());
  EXPECT_GT(again, b);
  EXPECT_EQ(cat->RemovedPlaces("imap", "acct", "INBOX")->size(), 2u);

  // Gone from the server once; renumbered with the folder.
  EXPECT_EQ(*cat->MarkRemovedPlacesGone("imap", "acct", "INBOX", {{7, "1"}, {7, "9"}}, 600), 1);
  EXPECT_EQ(*cat->MarkRemovedPlacesGone("imap", "acct", "INBOX", {{7, "1"}}, 700), 0);
  EXPECT_EQ(*cat->MoveLocations("imap", "acct", "INBOX", 7, 8, {"1"}), 0);  // no location moved
  inbox = *cat->RemovedPlaces("imap", "acct", "INBOX");
  std::sort(inbox.begin(), inbox.end(), [](const auto& x, const auto& y) { return x.key < y.key; });
  EXPECT_EQ(inbox[0].uidvalidity, 8u);
  EXPECT_EQ(inbox[0].gone_at, 600);
  EXPECT_EQ(inbox[1].uidvalidity, 7u);
  EXPECT_FALSE(inbox[1].gone_at);
  EXPECT_EQ(*cat->CheckIntegrity(), "");
}

// Issue 13.2: ids are never handed out twice, so that what refers to a
// removed message's id (audit, index documents, intents) names no other.
TEST_P(CatalogTest, RemovedNewestIdIsNotReused) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  for (uint8_t i = 1; i <= 3; ++i) EXPECT_EQ(*cat->InsertMessage(Row(i, "m" + std::to_string(i))), i);
  ASSERT_TRUE(cat->RemoveMessage(3, 100));
  ASSERT_TRUE(cat->Commit());
  ASSERT_TRUE(cat->Begin());
  EXPECT_EQ(*cat->InsertMessage(Row(4, "m4")), 4);
  ASSERT_TRUE(cat->Commit());
  cat.reset();
  cat = *OpenCat(false, false);  // the high-water mark is on disk
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->RemoveMessage(4, 200));
  ASSERT_TRUE(cat->Commit());
  ASSERT_TRUE(cat->Begin());
  EXPECT_EQ(*cat->InsertMessage(Row(5, "m5")), 5);
  ASSERT_TRUE(cat->Commit());
}

// A version 6 catalog: blobs rebuilt with AUTOINCREMENT, its counter above
// every id still referred to (here the removed newest message, still queued
// for the index to drop, and a thread numbered by it); removed_places added.
TEST_P(CatalogTest, VersionSixGetsIdsThatAreNeverReusedAndRemovedPlaces) {
  int64_t first = 0;
  Sha256Digest sha{};
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    MessageRow r = Row(1, "a@x");
    sha = r.blob.sha256;
    first = *cat->InsertMessage(r);
    ASSERT_TRUE(cat->AddLocation(first, {"imap", "acct", "INBOX", "1", 7, "", {}, 0}, 10));
    ASSERT_TRUE(cat->Commit());
  }
  {
    // Back to version 6 as an older mailkeep left it: message 3, the
    // newest, removed (its id queued for the index), and message 2's
    // thread numbered 3 by it.
    auto db = *OpenDb(false, false);
    ASSERT_TRUE(db->Exec(
        "CREATE TABLE blobs_v6(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL, pack INTEGER NOT NULL, "
        "offset INTEGER NOT NULL, stored_len INTEGER NOT NULL, raw_len INTEGER NOT NULL, "
        "dict INTEGER NOT NULL DEFAULT 0); "
        "INSERT INTO blobs_v6 SELECT * FROM blobs; DROP TABLE blobs; ALTER TABLE blobs_v6 RENAME TO blobs; "
        "CREATE INDEX blobs_by_sha_prefix ON blobs(substr(sha256, 1, 6)); DELETE FROM sqlite_sequence; "
        "DROP TABLE removed_places; "
        "INSERT INTO blobs(id, sha256, pack, offset, stored_len, raw_len) VALUES(2, x'02', 1, 200, 50, 120); "
        "INSERT INTO messages(id, message_id, thread, added_at) VALUES(2, 'b@x', 3, 1); "
        "INSERT INTO index_queue(message) VALUES(3); PRAGMA user_version=6"));
  }
  auto opened = OpenCat(false, false);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto& cat = *opened;
  EXPECT_EQ(*Catalog::ReadSchemaVersion(path_, key()), kSchemaVersion);
  EXPECT_EQ(*cat->FindBySha(sha), first);  // rows and the hash index kept
  EXPECT_EQ(cat->GetLocations(first)->size(), 1u);
  ASSERT_TRUE(cat->Begin());
  EXPECT_EQ(*cat->InsertMessage(Row(4, "d@x")), 4);  // not 3
  ASSERT_TRUE(cat->RemoveMessage(first, 50));
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(cat->RemovedPlaces("imap", "acct", "INBOX")->size(), 1u);
  EXPECT_EQ(*cat->CheckIntegrity(), "");
}

TEST_P(CatalogTest, RollbackForgetsFoldersCreatedInTheTransaction) {
  auto cat = *OpenCat(true, false);
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

TEST_P(CatalogTest, APlaceTakenByAnotherMessageKeepsBothRecords) {
  auto cat = *OpenCat(true, false);
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

TEST_P(CatalogTest, CommittedPackEndAndDictionaries) {
  auto cat = *OpenCat(true, false);
  auto end = cat->CommittedPackEnd();
  ASSERT_TRUE(end);
  EXPECT_EQ(end->first, 0u);
  ASSERT_TRUE(cat->SetPackCommitted(1, 4096));
  ASSERT_TRUE(cat->SetPackCommitted(1, 8192));
  ASSERT_TRUE(cat->SetPackCommitted(2, 10));
  end = cat->CommittedPackEnd();
  EXPECT_EQ(end->first, 2u);
  EXPECT_EQ(end->second, 10u);
  ASSERT_TRUE(cat->AddDictionary({1, 1, 0, 700, 2048}));
  auto dicts = cat->Dictionaries();
  ASSERT_TRUE(dicts);
  ASSERT_EQ(dicts->size(), 1u);
  EXPECT_EQ((*dicts)[0].stored_len, 700u);
  EXPECT_EQ((*dicts)[0].raw_len, 2048u);
  auto ends = cat->ReferencedPackEnds(64);
  ASSERT_TRUE(ends);
  ASSERT_EQ(ends->size(), 1u);
  EXPECT_EQ((*ends)[0].second, 764u);
}

TEST_P(CatalogTest, AddressesAndPartsKeepOrderAndLookupsUseSmallIndexes) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  auto r = Row(5, "m5@example.org");
  // Roles out of order on input; read back in role order, header order within.
  r.addresses = {{AddressRole::kCc, "", "cc1@example.org"},
                 {AddressRole::kFrom, "Alice", "alice@example.org"},
                 {AddressRole::kCc, "Zed", "cc0@example.org"},
                 {AddressRole::kBcc, "", "b@example.org"}};
  r.parts = {{"2", "application/pdf", "", "attachment", "a.pdf", 1234567},
             {"1", "text/plain", "utf-8", "", "", 10},
             {"1.10", "text/html", "", "", "", 3},
             {"1.2", "text/x-diff", "us-ascii", "inline", "p.diff", 4}};
  int64_t id = *cat->InsertMessage(r);
  ASSERT_TRUE(cat->Commit());
  auto m = *cat->GetMessage(id);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->addresses.size(), 4u);
  EXPECT_EQ(m->addresses[0].address, "alice@example.org");
  EXPECT_EQ(m->addresses[0].name, "Alice");
  EXPECT_EQ(m->addresses[1].address, "cc1@example.org");
  EXPECT_EQ(m->addresses[2].address, "cc0@example.org");
  EXPECT_EQ(m->addresses[2].name, "Zed");
  EXPECT_EQ(m->addresses[3].role, AddressRole::kBcc);
  ASSERT_EQ(m->parts.size(), 4u);
  EXPECT_EQ(m->parts[0].path, "1");
  EXPECT_EQ(m->parts[1].path, "1.10");
  EXPECT_EQ(m->parts[2].path, "1.2");
  EXPECT_EQ(m->parts[2].filename, "p.diff");
  EXPECT_EQ(m->parts[3].size, 1234567u);
  EXPECT_EQ(*cat->FindBySha(r.blob.sha256), id);
  Sha256Digest other = r.blob.sha256;
  other[31] ^= 1;  // same 6-byte prefix, other hash
  EXPECT_FALSE(*cat->FindBySha(other));

  auto db = *OpenDb(false, true);
  auto plan = [&](const std::string& sql) {
    auto st = *db->Prepare("EXPLAIN QUERY PLAN " + sql);
    std::string out;
    while (*st.Step()) out += st.ColumnText(3) + ";";
    return out;
  };
  EXPECT_NE(plan("SELECT id FROM blobs WHERE substr(sha256, 1, 6) = x'00' AND sha256 = x'00'").find("blobs_by_sha_prefix"),
            std::string::npos);
  EXPECT_NE(plan("SELECT id FROM messages WHERE mid_hash = 1 AND message_id = 'x'").find("messages_by_mid_hash"),
            std::string::npos);
}

// The version 1 schema exactly as version 1 of mailkeep created it: what
// archives made before migration 1 → 2 hold on disk.
constexpr char kSchemaV1[] = R"sql(
CREATE TABLE blobs(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, pack INTEGER NOT NULL,
  offset INTEGER NOT NULL, stored_len INTEGER NOT NULL, raw_len INTEGER NOT NULL, dict INTEGER NOT NULL DEFAULT 0);
CREATE TABLE messages(id INTEGER PRIMARY KEY REFERENCES blobs(id), message_id TEXT, subject TEXT, date INTEGER,
  thread INTEGER, has_attachments INTEGER NOT NULL DEFAULT 0, defects INTEGER NOT NULL DEFAULT 0,
  added_at INTEGER NOT NULL);
CREATE INDEX messages_by_message_id ON messages(message_id);
CREATE INDEX messages_by_thread ON messages(thread);
CREATE TABLE thread_ids(message_id TEXT PRIMARY KEY, thread INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX thread_ids_by_thread ON thread_ids(thread);
CREATE TABLE index_queue(message INTEGER PRIMARY KEY);
CREATE TABLE addresses(id INTEGER PRIMARY KEY, address TEXT NOT NULL, name TEXT NOT NULL, UNIQUE(address, name));
CREATE TABLE message_addresses(message INTEGER NOT NULL REFERENCES messages(id), role INTEGER NOT NULL,
  position INTEGER NOT NULL, address INTEGER NOT NULL REFERENCES addresses(id),
  PRIMARY KEY(message, role, position)) WITHOUT ROWID;
CREATE TABLE parts(message INTEGER NOT NULL REFERENCES messages(id), path TEXT NOT NULL, content_type TEXT NOT NULL,
  charset TEXT, disposition TEXT, filename TEXT, size INTEGER NOT NULL, PRIMARY KEY(message, path)) WITHOUT ROWID;
CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE folders(id INTEGER PRIMARY KEY, account INTEGER NOT NULL REFERENCES accounts(id), source TEXT NOT NULL,
  name TEXT NOT NULL, uidvalidity INTEGER, uidnext INTEGER, highestmodseq INTEGER, gone_at INTEGER,
  UNIQUE(account, source, name));
CREATE TABLE locations(message INTEGER NOT NULL REFERENCES messages(id), folder INTEGER NOT NULL REFERENCES folders(id),
  uidvalidity INTEGER NOT NULL DEFAULT 0, key TEXT NOT NULL, flags TEXT NOT NULL DEFAULT '', internal_date INTEGER,
  seen_at INTEGER NOT NULL, deleted_at INTEGER, PRIMARY KEY(folder, uidvalidity, key)) WITHOUT ROWID;
CREATE INDEX locations_by_message ON locations(message);
CREATE TABLE packs(id INTEGER PRIMARY KEY, committed_len INTEGER NOT NULL);
CREATE TABLE dictionaries(id INTEGER PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, bytes BLOB NOT NULL);
CREATE TABLE runs(id INTEGER PRIMARY KEY, started INTEGER NOT NULL, finished INTEGER, account TEXT NOT NULL,
  fetched INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0);
INSERT INTO blobs VALUES(1, x'0101010101010101010101010101010101010101010101010101010101010101', 1, 1100, 50, 120, 1);
INSERT INTO blobs VALUES(2, x'0202020202020202020202020202020202020202020202020202020202020202', 1, 1214, 60, 130, 1);
INSERT INTO messages VALUES(1, 'one@example.org', 'first', 1700000000, 1, 0, 0, 1795000000);
INSERT INTO messages VALUES(2, 'two@example.org', 'second', NULL, 1, 1, 4, 1795000000);
INSERT INTO thread_ids VALUES('ghost@example.org', 1);
INSERT INTO index_queue VALUES(2);
INSERT INTO addresses VALUES(1, 'alice@example.org', 'Alice'), (2, 'bob@example.org', ''), (3, 'carol@example.org', 'C');
INSERT INTO message_addresses VALUES(1, 1, 0, 1), (1, 4, 0, 2), (1, 4, 1, 3), (2, 1, 0, 2), (2, 5, 0, 1);
INSERT INTO parts VALUES(1, '1', 'text/plain', 'utf-8', NULL, NULL, 10);
INSERT INTO parts VALUES(2, '1', 'multipart/mixed', NULL, NULL, NULL, 0), (2, '1.1', 'text/plain', NULL, NULL, NULL, 5),
  (2, '1.2', 'image/png', NULL, 'attachment', 'x.png', 99);
INSERT INTO accounts VALUES(1, 'local');
INSERT INTO folders VALUES(1, 1, 'maildir', 'INBOX', 7, NULL, NULL, NULL);
INSERT INTO locations VALUES(1, 1, 7, 'k1', '\Seen', 1600000000, 1795000000, NULL);
INSERT INTO locations VALUES(2, 1, 7, 'k2', '', NULL, 1795000000, 1795000100);
INSERT INTO packs VALUES(1, 1274);
INSERT INTO dictionaries VALUES(1, 1, 0, zeroblob(1036));
INSERT INTO runs VALUES(1, 1795000000, 1795000050, 'local', 2, 250, 0, 0);
PRAGMA user_version = 1;
)sql";

TEST_P(CatalogTest, VersionOneCatalogIsMigratedInPlace) {
  {
    auto db = *OpenDb(true, false);
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL"));
    ASSERT_TRUE(db->Exec(kSchemaV1));
  }
  {
    // Readers never migrate: they refuse the old version.
    auto ro = OpenCat(false, false, /*migrate=*/false);
    ASSERT_FALSE(ro);
    EXPECT_EQ(ro.error().code(), ErrorCode::kFailedPrecondition);
  }
  auto opened = OpenCat(false, false);
  ASSERT_TRUE(opened) << opened.error().ToString();
  auto cat = std::move(*opened);
  {
    auto db = *OpenDb(false, true);
    auto st = *db->Prepare("PRAGMA user_version");
    ASSERT_TRUE(*st.Step());
    EXPECT_EQ(st.ColumnInt(0), kSchemaVersion);
    auto gone = *db->Prepare(
        "SELECT count(*) FROM sqlite_schema WHERE name IN ('message_addresses', 'parts', 'messages_by_message_id', "
        "'sqlite_autoindex_blobs_1')");
    ASSERT_TRUE(*gone.Step());
    EXPECT_EQ(gone.ColumnInt(0), 0);
  }
  auto m1 = *cat->GetMessage(1);
  ASSERT_TRUE(m1);
  EXPECT_EQ(m1->message_id, "one@example.org");
  EXPECT_EQ(m1->subject, "first");
  EXPECT_EQ(m1->date, 1700000000);
  EXPECT_EQ(m1->blob.offset, 1100u);
  EXPECT_EQ(m1->blob.dict, 1u);
  EXPECT_EQ(m1->blob.sha256[0], 1);
  ASSERT_EQ(m1->addresses.size(), 3u);
  EXPECT_EQ(m1->addresses[0].role, AddressRole::kFrom);
  EXPECT_EQ(m1->addresses[0].name, "Alice");
  EXPECT_EQ(m1->addresses[1].address, "bob@example.org");
  EXPECT_EQ(m1->addresses[2].address, "carol@example.org");
  ASSERT_EQ(m1->parts.size(), 1u);
  EXPECT_EQ(m1->parts[0].charset, "utf-8");
  auto m2 = *cat->GetMessage(2);
  ASSERT_TRUE(m2);
  EXPECT_FALSE(m2->date);
  EXPECT_TRUE(m2->has_attachments);
  EXPECT_EQ(m2->defects, 4u);
  ASSERT_EQ(m2->addresses.size(), 2u);
  EXPECT_EQ(m2->addresses[1].role, AddressRole::kCc);
  ASSERT_EQ(m2->parts.size(), 3u);
  EXPECT_EQ(m2->parts[2].filename, "x.png");
  EXPECT_EQ(m2->parts[2].disposition, "attachment");
  EXPECT_EQ(m2->parts[2].size, 99u);
  EXPECT_EQ(*cat->FindByMessageId("two@example.org"), std::vector<int64_t>{2});
  Sha256Digest two;
  two.fill(2);
  EXPECT_EQ(*cat->FindBySha(two), 2);
  auto locs = *cat->GetLocations(2);
  ASSERT_EQ(locs.size(), 1u);
  EXPECT_EQ(locs[0].deleted_at, 1795000100);
  auto dicts = *cat->Dictionaries();
  ASSERT_EQ(dicts.size(), 1u);
  EXPECT_EQ(dicts[0].stored_len, 1036u);
  EXPECT_EQ(dicts[0].raw_len, 1036u);
  EXPECT_EQ(*cat->CommittedPackEnd(), std::make_pair(uint32_t{1}, uint64_t{1274}));
  EXPECT_EQ(*cat->PendingIndexCount(), 1);
  // Threading still finds archived messages and ghosts after the migration.
  ASSERT_TRUE(cat->Begin());
  auto r = Row(9, "three@example.org");
  int64_t id = *cat->InsertMessage(r);
  EXPECT_EQ(*cat->AssignThread(id, r.message_id, {"two@example.org"}), 1);
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(*cat->CheckIntegrity(), "");
  // Opening again is a no-op.
  cat.reset();
  EXPECT_TRUE(OpenCat(false, false));
}

TEST_P(CatalogTest, HostileTextIsBoundNotInterpolated) {
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  auto r = Row(3, "x'); DROP TABLE messages; --");
  int64_t id = *cat->InsertMessage(r);
  ASSERT_TRUE(cat->Commit());
  EXPECT_EQ(cat->FindByMessageId("x'); DROP TABLE messages; --")->front(), id);
  EXPECT_EQ(*cat->CountMessages(), 1);
}

INSTANTIATE_TEST_SUITE_P(PlainAndSealed, CatalogTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Sealed" : "Plain"; });

// What only a sealed catalog does.
class SealedCatalogTest : public CatalogFixture, public ::testing::Test {
 protected:
  SealedCatalogTest() : CatalogFixture(/*sealed=*/true) {}
  void SetUp() override { ASSERT_FALSE(dir_.empty()); }

  std::string FileBytes(const std::string& path) {
    auto bytes = ReadFile(path);
    return bytes ? *bytes : std::string();
  }
  // Whether any known plaintext of Row(…, mid) is in the file.
  bool HoldsPlaintext(const std::string& path, const std::string& mid) {
    std::string bytes = FileBytes(path);
    for (const std::string& needle : {"subject " + mid, std::string("alice@example.org"), std::string("Carol")}) {
      if (bytes.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  void FlipByte(const std::string& path, off_t at) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    uint8_t b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, at), 1);
    b ^= 0x01;
    ASSERT_EQ(::pwrite(fd, &b, 1, at), 1);
    ::close(fd);
  }
};

// No subject or address reaches the database file or its WAL: after
// commits (pages in WAL frames), after a checkpoint, after a VACUUM.
TEST_F(SealedCatalogTest, NoPlaintextInTheDatabaseOrItsWal) {
  const std::string wal = path_ + "-wal";
  auto cat = *OpenCat(true, false);
  for (uint8_t i = 1; i <= 20; ++i) {
    ASSERT_TRUE(cat->Begin());
    ASSERT_TRUE(cat->InsertMessage(Row(i, "<m" + std::to_string(i) + "@x>")));
    ASSERT_TRUE(cat->Commit());
  }
  EXPECT_GT(std::filesystem::file_size(wal), 4096u);
  EXPECT_FALSE(HoldsPlaintext(wal, "<m7@x>"));
  EXPECT_FALSE(HoldsPlaintext(path_, "<m7@x>"));
  ASSERT_TRUE(cat->Checkpoint());
  EXPECT_GT(std::filesystem::file_size(path_), 4096u);
  EXPECT_FALSE(HoldsPlaintext(path_, "<m7@x>"));
  EXPECT_NE(FileBytes(path_).substr(0, 15), "SQLite format 3");
  ASSERT_TRUE(cat->Compact());  // VACUUM: its temporary database stays in memory
  EXPECT_FALSE(HoldsPlaintext(path_, "<m7@x>"));
  EXPECT_FALSE(HoldsPlaintext(wal, "<m7@x>"));
  EXPECT_FALSE(std::filesystem::exists(path_ + "-journal"));
  auto got = cat->GetMessage(*cat->FindByMessageId("<m7@x>")->begin());
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->subject, "subject <m7@x>");
  EXPECT_EQ(*cat->CheckIntegrity(), "");
}

// A rollback journal would hold plaintext pages: a sealed database cannot
// leave WAL mode, and no journal file is ever made.
TEST_F(SealedCatalogTest, NoRollbackJournalIsEverOpened) {
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    ASSERT_TRUE(cat->InsertMessage(Row(1, "<a@x>")));
    ASSERT_TRUE(cat->Commit());
  }
  {
    auto db = *OpenDb(false, false);
    EXPECT_FALSE(db->Exec("PRAGMA journal_mode=DELETE"));  // its switch transaction needs a journal
    auto mode = *db->Prepare("PRAGMA journal_mode");
    ASSERT_TRUE(*mode.Step());
    EXPECT_EQ(mode.ColumnText(0), "wal");
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + "-journal"));
  auto cat = OpenCat(false, false);
  ASSERT_TRUE(cat) << cat.error().ToString();
  EXPECT_EQ(*(*cat)->CountMessages(), 1);
}

// A transaction larger than the page cache spills pages to the WAL and
// rewrites frames in place (reading a frame header's checksum alone);
// an index build sorts. Both work sealed.
TEST_F(SealedCatalogTest, ATransactionLargerThanTheCacheSpillsAndRewritesFrames) {
  auto db = *OpenDb(true, false);
  ASSERT_TRUE(db->Exec("PRAGMA cache_size=20"));
  ASSERT_TRUE(db->Exec("CREATE TABLE t(x)"));  // committed: the big transaction's frames do not start the WAL
  ASSERT_TRUE(db->Exec(
      "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<20000) "
      "INSERT INTO t SELECT randomblob(50) FROM c; UPDATE t SET x = randomblob(40); CREATE INDEX ti ON t(x); "
      "COMMIT"));
  auto st = *db->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(*st.Step());
  EXPECT_EQ(st.ColumnInt(0), 20000);
  st.Reset();
  auto check = *db->Prepare("PRAGMA quick_check");
  ASSERT_TRUE(*check.Step());
  EXPECT_EQ(check.ColumnText(0), "ok");
}

// Another key, no key, or a key for a plain file: one clear error, never
// garbage.
TEST_F(SealedCatalogTest, WrongKeyMissingKeyAndPlainFileAreRefused) {
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    ASSERT_TRUE(cat->InsertMessage(Row(1, "<a@x>")));
    ASSERT_TRUE(cat->Commit());
  }
  crypto::Key other = key_;
  other.data()[0] ^= 0x80;
  auto wrong = Catalog::Open(path_, false, false, true, &other);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(wrong.error().message().find("failed authentication"), std::string::npos) << wrong.error().message();
  EXPECT_EQ(Catalog::ReadSchemaVersion(path_, &other).error().code(), ErrorCode::kCorruption);
  auto none = Catalog::Open(path_, false, false);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(*Catalog::ReadSchemaVersion(path_, &key_), kSchemaVersion);

  const std::string plain = dir_ + "/plain.sqlite";
  { ASSERT_TRUE(Catalog::Open(plain, true, false)); }
  auto sealed_open = Catalog::Open(plain, false, false, true, &key_);
  ASSERT_FALSE(sealed_open);
  EXPECT_EQ(sealed_open.error().code(), ErrorCode::kCorruption);
}

// One changed byte anywhere in a page is found: the page's tag fails, the
// read is kCorruption, and quick_check (what verify runs) reads every page.
TEST_F(SealedCatalogTest, AFlippedByteIsCorruptionAndQuickCheckFindsIt) {
  {
    auto cat = *OpenCat(true, false);
    ASSERT_TRUE(cat->Begin());
    for (uint8_t i = 1; i <= 60; ++i) ASSERT_TRUE(cat->InsertMessage(Row(i, "<m" + std::to_string(i) + "@x>")));
    ASSERT_TRUE(cat->Commit());
  }
  const auto size = static_cast<off_t>(std::filesystem::file_size(path_));
  ASSERT_EQ(size % kSealedPageSize, 0);
  ASSERT_GE(size, 4 * kSealedPageSize);
  FlipByte(path_, size - kSealedPageSize + 2000);  // the middle of the last page
  auto cat = OpenCat(false, false);
  ASSERT_TRUE(cat) << cat.error().ToString();  // page 1 and the schema are fine
  auto check = (*cat)->CheckIntegrity();
  ASSERT_TRUE(check) << check.error().ToString();
  EXPECT_NE(check->find("failed authentication"), std::string::npos) << *check;  // quick_check met it
  EXPECT_NE(check->find("1 of " + std::to_string(size / kSealedPageSize) +
                        " pages of the database file fail authentication"),
            std::string::npos)
      << *check;
  cat->reset();
  FlipByte(path_, size - kSealedPageSize + 2000);  // back as it was
  FlipByte(path_, 50);                              // page 1's header
  auto broken = OpenCat(false, false);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code(), ErrorCode::kCorruption) << broken.error().ToString();
}

// A page in a WAL frame is authenticated too. While the WAL is recovered,
// a frame whose page fails its tag ends the log as a torn frame does (its
// page is never used; the catalog opens as it was before that
// transaction); a frame page read after recovery (a checkpoint) that fails
// its tag is kCorruption.
TEST_F(SealedCatalogTest, AChangedWalFramePageIsNeverUsed) {
  const std::string copy = dir_ + "/copy.sqlite";
  auto cat = *OpenCat(true, false);
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->InsertMessage(Row(1, "<a@x>")));
  ASSERT_TRUE(cat->Commit());
  ASSERT_TRUE(cat->Checkpoint());
  ASSERT_TRUE(cat->Begin());
  ASSERT_TRUE(cat->InsertMessage(Row(2, "<b@x>")));
  ASSERT_TRUE(cat->Commit());
  // As a crash leaves it: the last transaction only in the WAL.
  auto crash_copy = [&] {
    std::filesystem::copy_file(path_, copy, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(path_ + "-wal", copy + "-wal", std::filesystem::copy_options::overwrite_existing);
    std::filesystem::remove(copy + "-shm");
  };
  crash_copy();
  {
    auto intact = Catalog::Open(copy, false, false, true, &key_);
    ASSERT_TRUE(intact) << intact.error().ToString();
    EXPECT_EQ(*(*intact)->CountMessages(), 2);  // recovered from the WAL
  }
  crash_copy();
  FlipByte(copy + "-wal", 32 + 24 + 1000);  // the first frame's page
  {
    auto recovered = Catalog::Open(copy, false, false, true, &key_);
    ASSERT_TRUE(recovered) << recovered.error().ToString();
    EXPECT_EQ(*(*recovered)->CountMessages(), 1);
    EXPECT_TRUE((*recovered)->FindByMessageId("<b@x>")->empty());
    EXPECT_EQ(*(*recovered)->CheckIntegrity(), "");
  }
  crash_copy();
  auto reader = Catalog::Open(copy, false, false, true, &key_);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ(*(*reader)->CountMessages(), 2);
  FlipByte(copy + "-wal", 32 + 24 + 1000);  // after recovery: the checkpoint reads it
  auto st = (*reader)->Checkpoint();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kCorruption) << st.error().ToString();
}

// A writer killed (SIGKILL) with committed transactions in the WAL and one
// in progress: the next open recovers every committed row from the sealed
// frames and none of the unfinished one.
TEST_F(SealedCatalogTest, KilledWriterIsRecoveredFromTheSealedWal) {
  { ASSERT_TRUE(OpenCat(true, false)); }
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto cat = OpenCat(false, false);
    if (!cat) ::_exit(2);
    for (uint8_t i = 1; i <= 30; ++i) {
      if (!(*cat)->Begin() || !(*cat)->InsertMessage(Row(i, "<m" + std::to_string(i) + "@x>")) || !(*cat)->Commit()) {
        ::_exit(3);
      }
    }
    if (!(*cat)->Begin()) ::_exit(4);
    for (uint8_t i = 31; i <= 250; ++i) (void)(*cat)->InsertMessage(Row(i, "<m" + std::to_string(i) + "@x>"));
    ::raise(SIGKILL);  // mid-transaction: its pages may be in the WAL, uncommitted
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child exited with " << status;
  ASSERT_GT(std::filesystem::file_size(path_ + "-wal"), 0u);
  auto cat = OpenCat(false, false);
  ASSERT_TRUE(cat) << cat.error().ToString();
  EXPECT_EQ(*(*cat)->CountMessages(), 30);
  EXPECT_EQ((*cat)->FindByMessageId("<m30@x>")->size(), 1u);
  EXPECT_TRUE((*cat)->FindByMessageId("<m31@x>")->empty());
  EXPECT_EQ(*(*cat)->CheckIntegrity(), "");
}

}  // namespace
}  // namespace mailkeep::catalog
