#include "store/archive.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "store/blobs/pack_store.h"
#include "store/catalog/sqlite.h"
#include "store/holds_file.h"
#include "store/util/files.h"
#include "store/util/sha256.h"

namespace mailkeep {
namespace {

std::string MakeMessage(int n, const std::string& extra = "") {
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += "Line " + std::to_string(i) + " of message " + std::to_string(n) +
            ": the quick brown fox jumps over the lazy dog.\n";
  }
  return "From: Sender " + std::to_string(n % 7) + " <sender" + std::to_string(n % 7) +
         "@example.org>\nTo: list@example.org\nSubject: Test message " + std::to_string(n) +
         "\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-ID: <msg" + std::to_string(n) +
         "@example.org>\n" + extra + "\n" + body;
}

RawMessage Raw(const std::string& bytes, const std::string& key, const std::string& folder = "/in") {
  RawMessage m;
  m.bytes = bytes;
  m.origin.source = "eml";
  m.origin.account = "local";
  m.origin.folder = folder;
  m.origin.key = key;
  return m;
}

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-archive-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/archive";
  }
  void TearDown() override { std::filesystem::remove_all(std::filesystem::path(dir_).parent_path()); }
  std::string dir_;
};

// GetInfos: what GetInfo says of each id, in the order asked, unknown ids
// left out; its read transaction is over when it returns (a write after it
// works, and so does a read-only archive).
TEST_F(ArchiveTest, GetInfosReadsEachInOrderInOneReadTransaction) {
  auto archive = Archive::Create(dir_);
  ASSERT_TRUE(archive) << archive.error().ToString();
  auto out = (*archive)->Ingest({Raw(MakeMessage(1), "a"), Raw(MakeMessage(2), "b"), Raw(MakeMessage(3), "c")});
  ASSERT_TRUE(out) << out.error().ToString();
  const int64_t a = (*out)[0].id, b = (*out)[1].id, c = (*out)[2].id;
  auto check = [&](Archive& from) {
    auto infos = from.GetInfos({c, 999999, a, b, a});
    ASSERT_TRUE(infos) << infos.error().ToString();
    ASSERT_EQ(infos->size(), 4u);
    const std::vector<int64_t> order = {c, a, b, a};
    for (size_t i = 0; i < order.size(); ++i) {
      auto one = from.GetInfo(order[i]);
      ASSERT_TRUE(one && *one);
      EXPECT_EQ((*infos)[i].id, order[i]);
      EXPECT_EQ((*infos)[i].subject, (*one)->subject);
      EXPECT_EQ((*infos)[i].sha256, (*one)->sha256);
      EXPECT_EQ((*infos)[i].from.size(), (*one)->from.size());
      EXPECT_EQ((*infos)[i].locations.size(), (*one)->locations.size());
    }
    EXPECT_TRUE(from.GetInfos({}).value().empty());
  };
  check(**archive);
  auto more = (*archive)->Ingest({Raw(MakeMessage(4), "d")});
  ASSERT_TRUE(more) << more.error().ToString();
  EXPECT_EQ((*more)[0].status, IngestStatus::kStored);
  archive->reset();
  auto reader = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(reader) << reader.error().ToString();
  check(**reader);
  check(**reader);
}

TEST_F(ArchiveTest, IngestStoresReadsBackExactBytesAndDedupes) {
  auto archive = Archive::Create(dir_);
  ASSERT_TRUE(archive) << archive.error().ToString();
  std::string a = MakeMessage(1), b = MakeMessage(2, "X-Odd: \xff\xfe\r\n");
  std::vector<RawMessage> batch = {Raw(a, "a"), Raw(b, "b"), Raw(a, "a-copy")};
  auto out = (*archive)->Ingest(std::move(batch));
  ASSERT_TRUE(out) << out.error().ToString();
  ASSERT_EQ(out->size(), 3u);
  EXPECT_EQ((*out)[0].status, IngestStatus::kStored);
  EXPECT_EQ((*out)[1].status, IngestStatus::kStored);
  EXPECT_EQ((*out)[2].status, IngestStatus::kDuplicate);
  EXPECT_EQ((*out)[2].id, (*out)[0].id);

  EXPECT_EQ(*(*archive)->ReadRaw((*out)[0].id), a);
  EXPECT_EQ(*(*archive)->ReadRaw((*out)[1].id), b);
  auto info = (*archive)->GetInfo((*out)[0].id);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->locations.size(), 2u);
  EXPECT_EQ((*info)->subject, "Test message 1");
  EXPECT_EQ((*info)->sha256, ToHex(Sha256(a)));

  // The same input again adds nothing.
  std::vector<RawMessage> again = {Raw(a, "a"), Raw(b, "b")};
  out = (*archive)->Ingest(std::move(again));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].status, IngestStatus::kKnownLocation);
  EXPECT_EQ((*out)[1].status, IngestStatus::kKnownLocation);
  auto stats = (*archive)->Stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->messages, 2);
  EXPECT_EQ(stats->locations, 3);

  auto found = (*archive)->FindByMessageId("<msg2@example.org>");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front(), (*out)[1].id);
}

TEST_F(ArchiveTest, SecondWriterIsRefusedReadersAreNot) {
  auto writer = Archive::Create(dir_);
  ASSERT_TRUE(writer);
  auto second = Archive::Open(dir_, OpenMode::kReadWrite);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  auto reader = Archive::Open(dir_, OpenMode::kReadOnly);
  EXPECT_TRUE(reader) << reader.error().ToString();
}

TEST_F(ArchiveTest, MissingArchiveIsNotFound) {
  auto a = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(a.error().message().find("mailkeep init"), std::string::npos);
}

TEST_F(ArchiveTest, DictionaryIsTrainedAndEveryMessageStillReads) {
  ArchiveOptions opts;
  opts.dictionary_after = 200;
  opts.dictionary_size = 16 * 1024;
  opts.dictionary_retrain_after = 400;
  std::vector<std::string> all;
  {
    auto archive = Archive::Create(dir_, opts);
    ASSERT_TRUE(archive);
    for (int b = 0; b < 6; ++b) {
      std::vector<RawMessage> batch;
      for (int i = 0; i < 100; ++i) {
        int n = b * 100 + i;
        all.push_back(MakeMessage(n));
        batch.push_back(Raw(all.back(), std::to_string(n)));
      }
      auto out = (*archive)->Ingest(std::move(batch));
      ASSERT_TRUE(out) << out.error().ToString();
    }
    auto stats = (*archive)->Stats();
    ASSERT_TRUE(stats);
    EXPECT_GE(stats->dictionaries, 1);
  }
  auto archive = Archive::Open(dir_, OpenMode::kReadOnly, opts);
  ASSERT_TRUE(archive);
  auto ids = (*archive)->AllIds();
  ASSERT_TRUE(ids);
  ASSERT_EQ(ids->size(), all.size());
  std::set<std::string> stored;
  for (int64_t id : *ids) stored.insert(*(*archive)->ReadRaw(id));
  EXPECT_EQ(stored, std::set<std::string>(all.begin(), all.end()));
  int problems = 0;
  auto checked = (*archive)->Verify(true, [&](const VerifyProblem&) { ++problems; });
  ASSERT_TRUE(checked);
  EXPECT_EQ(*checked, static_cast<int64_t>(all.size()));
  EXPECT_EQ(problems, 0);
}

TEST_F(ArchiveTest, ManySmallRunsStillGetADictionary) {
  ArchiveOptions opts;
  opts.dictionary_after = 120;
  opts.dictionary_size = 8 * 1024;
  for (int run = 0; run < 8; ++run) {
    auto archive = run == 0 ? Archive::Create(dir_, opts) : Archive::Open(dir_, OpenMode::kReadWrite, opts);
    ASSERT_TRUE(archive) << archive.error().ToString();
    std::vector<RawMessage> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Raw(MakeMessage(run * 20 + i), std::to_string(run * 20 + i)));
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  auto archive = Archive::Open(dir_, OpenMode::kReadOnly, opts);
  ASSERT_TRUE(archive);
  EXPECT_EQ((*archive)->Stats()->dictionaries, 1);
  auto ids = (*archive)->AllIds();
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->size(), 160u);
  for (int64_t id : *ids) EXPECT_TRUE((*archive)->ReadRaw(id)) << id;
}

// Importing again what is all archived already stores nothing: no new
// dictionary is trained or written, the packs do not grow. (At the reopen
// the 200 messages stored with the dictionary count as "since" it, which is
// past dictionary_retrain_after, so only the absence of new messages stops
// a training from the archive's own messages.)
TEST_F(ArchiveTest, ARunWithNoNewMessageTrainsNoDictionary) {
  ArchiveOptions opts;
  opts.dictionary_after = 100;
  opts.dictionary_retrain_after = 150;
  opts.dictionary_size = 8 * 1024;
  auto batch = [] {
    std::vector<RawMessage> b;
    for (int i = 0; i < 200; ++i) b.push_back(Raw(MakeMessage(i), std::to_string(i)));
    return b;
  };
  auto pack_bytes = [&] {
    uintmax_t total = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/packs")) {
      if (e.is_regular_file()) total += e.file_size();
    }
    return total;
  };
  {
    auto archive = Archive::Create(dir_, opts);
    ASSERT_TRUE(archive);
    ASSERT_TRUE((*archive)->Ingest(batch()));
    ASSERT_EQ((*archive)->Stats()->dictionaries, 1);
  }
  const uintmax_t before = pack_bytes();
  auto archive = Archive::Open(dir_, OpenMode::kReadWrite, opts);
  ASSERT_TRUE(archive);
  auto out = (*archive)->Ingest(batch());
  ASSERT_TRUE(out) << out.error().ToString();
  for (const auto& o : *out) EXPECT_EQ(o.status, IngestStatus::kKnownLocation);
  EXPECT_EQ((*archive)->Stats()->dictionaries, 1);
  EXPECT_EQ(pack_bytes(), before);
}

TEST_F(ArchiveTest, FlippedByteIsReportedForExactlyThatMessage) {
  int64_t victim = 0;
  {
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch;
    for (int i = 0; i < 20; ++i) batch.push_back(Raw(MakeMessage(i), std::to_string(i)));
    auto out = (*archive)->Ingest(std::move(batch));
    ASSERT_TRUE(out);
    victim = (*out)[11].id;
  }
  // Find where message 11's frame ends by reading the packs directory: the
  // frame lies before the next record; flip a byte 10 bytes before the
  // start of message 12's record, which is inside 11's payload.
  std::filesystem::path pack;
  for (auto& e : std::filesystem::directory_iterator(dir_ + "/packs")) pack = e.path();
  auto bytes = ReadFile(pack.string());
  ASSERT_TRUE(bytes);
  // Records start with the pack magic; locate the 13th record (index 12).
  std::vector<size_t> starts;
  std::string magic = bytes->substr(0, 4);
  for (size_t p = bytes->find(magic); p != std::string::npos; p = bytes->find(magic, p + 1)) starts.push_back(p);
  ASSERT_GE(starts.size(), 13u);
  std::string damaged = *bytes;
  damaged[starts[12] - 10] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomic(pack.string(), damaged));

  auto archive = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(archive);
  std::vector<VerifyProblem> problems;
  auto checked = (*archive)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p); });
  ASSERT_TRUE(checked);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].id, victim);
  EXPECT_EQ(problems[0].message_id, "msg11@example.org");
  EXPECT_FALSE((*archive)->ReadRaw(victim));
}

// Offsets of the dictionary records (kind byte 2 or 3) in a pack's bytes.
std::vector<size_t> DictionaryRecords(const std::string& bytes) {
  std::string magic = bytes.substr(0, 4);
  std::vector<size_t> out;
  for (size_t p = bytes.find(magic); p != std::string::npos; p = bytes.find(magic, p + 1)) {
    if (bytes[p + 5] == 2 || bytes[p + 5] == 3) out.push_back(p);
  }
  return out;
}

// Two dictionaries, 120 messages each, in one pack.
void MakeTwoDictionaryArchive(const std::string& dir, const ArchiveOptions& opts, std::vector<std::string>& all) {
  auto archive = Archive::Create(dir, opts);
  ASSERT_TRUE(archive);
  for (int b = 0; b < 2; ++b) {
    std::vector<RawMessage> batch;
    for (int i = 0; i < 120; ++i) {
      all.push_back(MakeMessage(b * 1000 + i));
      batch.push_back(Raw(all.back(), std::to_string(b * 1000 + i)));
    }
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  ASSERT_EQ((*archive)->Stats()->dictionaries, 2);
}

ArchiveOptions SmallDictionaries() {
  ArchiveOptions opts;
  opts.dictionary_after = 100;
  opts.dictionary_retrain_after = 100;
  opts.dictionary_size = 8 * 1024;
  return opts;
}

void FlipFileByte(const std::string& path, size_t pos) {
  auto bytes = ReadFile(path);
  ASSERT_TRUE(bytes);
  std::string damaged = *bytes;
  damaged[pos] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(path, damaged));
}

// Every message reads back byte-exact; the problems verify reports.
std::vector<VerifyProblem> EveryMessageReadsAndVerify(const std::string& dir, const std::vector<std::string>& all) {
  auto archive = Archive::Open(dir, OpenMode::kReadOnly);
  EXPECT_TRUE(archive) << archive.error().ToString();
  if (!archive) return {};
  std::set<std::string> back;
  auto ids = (*archive)->AllIds();
  EXPECT_TRUE(ids);
  if (!ids) return {};
  for (int64_t id : *ids) {
    auto raw = (*archive)->ReadRaw(id);
    EXPECT_TRUE(raw) << raw.error().ToString();
    if (raw) back.insert(*raw);
  }
  EXPECT_EQ(back, std::set<std::string>(all.begin(), all.end()));
  std::vector<VerifyProblem> problems;
  EXPECT_TRUE((*archive)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p); }));
  return problems;
}

// One damaged byte costs at most one message: a byte flipped anywhere in a
// dictionary's pack record (payload or header), or in its repair file,
// loses nothing, and verify names the damage and what it used instead.
TEST_F(ArchiveTest, ADamagedDictionaryByteLosesNoMessage) {
  std::vector<std::string> all;
  MakeTwoDictionaryArchive(dir_, SmallDictionaries(), all);
  const std::string pack = dir_ + "/packs/000001.pack", repair = dir_ + "/packs/dictionaries/1.repair";
  const auto dicts = DictionaryRecords(*ReadFile(pack));
  ASSERT_EQ(dicts.size(), 2u);
  const auto clean_pack = *ReadFile(pack), clean_repair = *ReadFile(repair);
  for (size_t pos : {dicts[0] + 64 + 100, dicts[0] + 9}) {
    FlipFileByte(pack, pos);
    auto problems = EveryMessageReadsAndVerify(dir_, all);
    ASSERT_EQ(problems.size(), 1u) << "at " << pos;
    EXPECT_EQ(problems[0].id, 0);
    EXPECT_NE(problems[0].what.find("dictionary 1: its pack record is damaged"), std::string::npos) << problems[0].what;
    EXPECT_NE(problems[0].what.find("used the copy rebuilt from " + repair), std::string::npos) << problems[0].what;
    ASSERT_TRUE(WriteFileAtomic(pack, clean_pack));
  }
  FlipFileByte(repair, 300);
  auto problems = EveryMessageReadsAndVerify(dir_, all);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].what.find("dictionary 1: its repair file is damaged"), std::string::npos) << problems[0].what;
  EXPECT_NE(problems[0].what.find("used the pack record"), std::string::npos) << problems[0].what;
  // The next writer replaces it from the verified pack record.
  ASSERT_TRUE(Archive::Open(dir_, OpenMode::kReadWrite, SmallDictionaries()));
  EXPECT_EQ(*ReadFile(repair), clean_repair);
  EXPECT_TRUE(EveryMessageReadsAndVerify(dir_, all).empty());
}

// Only both copies damaged lose the dictionary's messages; verify names the
// dictionary once, then each message.
TEST_F(ArchiveTest, DamageInBothCopiesIsReportedWithEveryMessageUsingIt) {
  std::vector<std::string> all;
  MakeTwoDictionaryArchive(dir_, SmallDictionaries(), all);
  const std::string pack = dir_ + "/packs/000001.pack";
  const auto dicts = DictionaryRecords(*ReadFile(pack));
  ASSERT_EQ(dicts.size(), 2u);
  FlipFileByte(pack, dicts[0] + 64 + 100);
  FlipFileByte(dir_ + "/packs/dictionaries/1.repair", 300);

  auto archive = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(archive) << archive.error().ToString();
  std::vector<VerifyProblem> problems;
  ASSERT_TRUE((*archive)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p); }));
  ASSERT_EQ(problems.size(), 121u);
  EXPECT_EQ(problems[0].id, 0);
  EXPECT_NE(problems[0].what.find("dictionary 1 is damaged"), std::string::npos) << problems[0].what;
  EXPECT_NE(problems[0].what.find("120 messages"), std::string::npos) << problems[0].what;
  std::set<std::string> named;
  for (size_t i = 1; i < problems.size(); ++i) {
    EXPECT_NE(problems[i].what.find("dictionary 1 is unreadable"), std::string::npos) << problems[i].what;
    named.insert(problems[i].message_id);
  }
  EXPECT_EQ(named.size(), 120u);
  EXPECT_TRUE(named.count("msg0@example.org"));
  auto first = (*archive)->FindByMessageId("msg5@example.org");
  ASSERT_TRUE(first && first->size() == 1);
  EXPECT_FALSE((*archive)->ReadRaw(first->front()));
  auto second = (*archive)->FindByMessageId("msg1005@example.org");
  ASSERT_TRUE(second && second->size() == 1);
  EXPECT_EQ(*(*archive)->ReadRaw(second->front()), MakeMessage(1005));
}

// An archive made before repair files (none on disk) gets them on its next
// writable open, each written from a pack record that verifies; a damaged
// record gets none (nothing to copy from) and verify keeps naming it.
TEST_F(ArchiveTest, ArchivesWithoutRepairFilesAreUpgradedByTheNextWriter) {
  std::vector<std::string> all;
  MakeTwoDictionaryArchive(dir_, SmallDictionaries(), all);
  const std::string rdir = dir_ + "/packs/dictionaries";
  const auto want1 = *ReadFile(rdir + "/1.repair"), want2 = *ReadFile(rdir + "/2.repair");
  std::filesystem::remove_all(rdir);
  {
    auto reader = Archive::Open(dir_, OpenMode::kReadOnly);
    ASSERT_TRUE(reader);
    std::vector<VerifyProblem> problems;
    ASSERT_TRUE((*reader)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p); }));
    ASSERT_EQ(problems.size(), 2u);
    EXPECT_NE(problems[0].what.find("repair file is damaged or missing"), std::string::npos) << problems[0].what;
    EXPECT_FALSE(std::filesystem::exists(rdir)) << "a reader writes nothing";
  }
  const std::string pack = dir_ + "/packs/000001.pack";
  const auto dicts = DictionaryRecords(*ReadFile(pack));
  FlipFileByte(pack, dicts[1] + 64 + 10);
  ASSERT_TRUE(Archive::Open(dir_, OpenMode::kReadWrite, SmallDictionaries()));
  EXPECT_EQ(*ReadFile(rdir + "/1.repair"), want1);
  EXPECT_FALSE(std::filesystem::exists(rdir + "/2.repair"));
  FlipFileByte(pack, dicts[1] + 64 + 10);  // undo: now it verifies, and the next writer copies it
  ASSERT_TRUE(Archive::Open(dir_, OpenMode::kReadWrite, SmallDictionaries()));
  EXPECT_EQ(*ReadFile(rdir + "/2.repair"), want2);
  struct stat st {};
  ASSERT_EQ(::stat((rdir + "/2.repair").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(rdir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(EveryMessageReadsAndVerify(dir_, all).empty());
}

std::string Threaded(const std::string& mid, const std::string& extra) {
  return "From: a@example.org\nSubject: t\nMessage-ID: <" + mid + ">\n" + extra + "\nbody " + mid + "\n";
}

TEST_F(ArchiveTest, ThreadsJoinMergeAndShareMissingParents) {
  auto archive = Archive::Create(dir_);
  ASSERT_TRUE(archive);
  auto ingest = [&](const std::string& bytes) {
    std::vector<RawMessage> batch = {Raw(bytes, bytes.substr(40, 20))};
    auto out = (*archive)->Ingest(std::move(batch));
    EXPECT_TRUE(out);
    return (*(*archive)->GetInfo((*out)[0].id))->thread;
  };
  int64_t a = ingest(Threaded("a@x", ""));
  int64_t c = ingest(Threaded("c@x", "References: <a@x> <b@x>"));
  int64_t b = ingest(Threaded("b@x", "In-Reply-To: <b0@x>"));
  EXPECT_EQ(c, a) << "a message joins the thread of a message it references";
  EXPECT_EQ(b, a) << "a message referenced before it arrived joins that thread";

  int64_t p1 = ingest(Threaded("p1@x", "In-Reply-To: <gone@x>"));
  int64_t p2 = ingest(Threaded("p2@x", "References: <gone@x>"));
  EXPECT_EQ(p1, p2) << "siblings whose common parent is missing share a thread";
  EXPECT_NE(p1, a);

  int64_t x = ingest(Threaded("x@x", ""));
  int64_t y = ingest(Threaded("y@x", ""));
  EXPECT_NE(x, y);
  int64_t z = ingest(Threaded("z@x", "References: <x@x> <y@x>"));
  EXPECT_EQ(z, std::min(x, y));
  auto members = (*archive)->ThreadMessages(z);
  ASSERT_TRUE(members);
  EXPECT_EQ(members->size(), 3u) << "the two threads merged";
  auto y_ids = (*archive)->FindByMessageId("y@x");
  EXPECT_EQ((*(*archive)->GetInfo(y_ids->front()))->thread, z);
  // Every message is waiting for the indexer, including the re-threaded one.
  EXPECT_EQ(*(*archive)->PendingIndexCount(), 8);
  auto pending = (*archive)->PendingIndex(100);
  ASSERT_TRUE(pending);
  ASSERT_TRUE((*archive)->MarkIndexed(*pending));
  EXPECT_EQ(*(*archive)->PendingIndexCount(), 0);
}

TEST_F(ArchiveTest, CreateRefusesPacksWithoutACatalog) {
  {
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch = {Raw(MakeMessage(1), "1")};
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  std::filesystem::remove(dir_ + "/catalog.sqlite");
  auto again = Archive::Create(dir_);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message().find("rebuild-catalog"), std::string::npos) << again.error().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/packs/orphans"));
}

// Every file under packs/ with its bytes (orphans/ included).
std::map<std::string, std::string> TreeBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = *ReadFile(e.path());
  }
  return out;
}

// A lost catalog must never orphan the archive: a catalog that is missing,
// empty or not a database beside full packs makes every open refuse in one
// line naming rebuild-catalog, nothing in packs/ changes, and the rebuild
// brings every message back.
TEST_F(ArchiveTest, LostCatalogIsRefusedAndNothingIsOrphaned) {
  std::vector<std::string> all;
  {
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch;
    for (int i = 0; i < 50; ++i) {
      all.push_back(MakeMessage(i));
      batch.push_back(Raw(all.back(), std::to_string(i)));
    }
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  const std::string cat = dir_ + "/catalog.sqlite";
  for (const std::string damage : {"empty", "missing", "garbage"}) {
    SCOPED_TRACE(damage);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(cat + suffix);
    if (damage == "empty") {
      ASSERT_TRUE(WriteFileAtomic(cat, ""));
    } else if (damage == "garbage") {
      ASSERT_TRUE(WriteFileAtomic(cat, std::string(8192, 'x')));
    }
    const auto before = TreeBytes(dir_ + "/packs");
    for (OpenMode mode : {OpenMode::kReadWrite, OpenMode::kReadOnly}) {
      auto archive = Archive::Open(dir_, mode);
      ASSERT_FALSE(archive);
      EXPECT_NE(archive.error().message().find("mailkeep rebuild-catalog"), std::string::npos)
          << archive.error().message();
      EXPECT_EQ(archive.error().message().find('\n'), std::string::npos);
      EXPECT_NE(archive.error().code(), ErrorCode::kNotFound);
    }
    EXPECT_EQ(TreeBytes(dir_ + "/packs"), before) << "nothing in packs/ may change";
    auto rebuilt = Archive::RebuildCatalog(dir_);
    ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
    EXPECT_EQ(rebuilt->messages, 50);
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite);
    ASSERT_TRUE(archive) << archive.error().ToString();
    std::set<std::string> back;
    auto ids = (*archive)->AllIds();
    ASSERT_TRUE(ids);
    for (int64_t id : *ids) back.insert(*(*archive)->ReadRaw(id));
    EXPECT_EQ(back, std::set<std::string>(all.begin(), all.end()));
    EXPECT_FALSE(std::filesystem::exists(dir_ + "/packs/orphans"));
  }
}

// A catalog that does not know a pack (a copy from before the pack was
// begun) never causes that pack to be orphaned: the writer refuses.
TEST_F(ArchiveTest, APackTheCatalogDoesNotKnowIsNeverOrphaned) {
  ArchiveOptions opts;
  opts.pack_size_limit = 16 * 1024;
  const std::string cat = dir_ + "/catalog.sqlite";
  auto ingest = [&](int from, int n) {
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite, opts);
    ASSERT_TRUE(archive) << archive.error().ToString();
    std::vector<RawMessage> batch;
    for (int i = from; i < from + n; ++i) batch.push_back(Raw(MakeMessage(i), std::to_string(i)));
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  };
  ASSERT_TRUE(Archive::Create(dir_, opts));
  ingest(0, 5);
  ASSERT_TRUE(std::filesystem::copy_file(cat, dir_ + "/old-catalog"));
  ingest(5, 100);  // rolls into further packs
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/packs/000002.pack"));
  ASSERT_TRUE(std::filesystem::copy_file(dir_ + "/old-catalog", cat, std::filesystem::copy_options::overwrite_existing));
  const auto before = TreeBytes(dir_ + "/packs");
  auto writer = Archive::Open(dir_, OpenMode::kReadWrite, opts);
  ASSERT_FALSE(writer);
  EXPECT_NE(writer.error().message().find("000002.pack"), std::string::npos) << writer.error().message();
  EXPECT_NE(writer.error().message().find("mailkeep rebuild-catalog"), std::string::npos) << writer.error().message();
  EXPECT_EQ(TreeBytes(dir_ + "/packs"), before) << "nothing in packs/ may change";
  auto rebuilt = Archive::RebuildCatalog(dir_, opts);
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->messages, 105);
  EXPECT_TRUE(rebuilt->problems.empty());
  ingest(200, 100);  // writing after the rebuild moves nothing aside
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/packs/orphans"));
  auto reader = Archive::Open(dir_, OpenMode::kReadOnly, opts);
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->AllIds()->size(), 205u);
  int problems = 0;
  ASSERT_TRUE((*reader)->Verify(false, [&](const VerifyProblem&) { ++problems; }));
  EXPECT_EQ(problems, 0);
}

// A batch that rolls to a new pack records it before writing to it; a crash
// before the batch's commit leaves records past the recorded ends of both
// packs, and the next writer cuts both (keeping the bytes in orphans/).
TEST_F(ArchiveTest, ACrashDuringARollIsCutBackOnBothPacks) {
  ArchiveOptions opts;
  opts.pack_size_limit = 16 * 1024;
  const std::string cat = dir_ + "/catalog.sqlite";
  {
    auto archive = Archive::Create(dir_, opts);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch = {Raw(MakeMessage(0), "0")};
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  ASSERT_TRUE(std::filesystem::copy_file(cat, dir_ + "/before-roll"));
  const auto pack1 = std::filesystem::file_size(dir_ + "/packs/000001.pack");
  {
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite, opts);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch;
    for (int i = 1; i < 60; ++i) batch.push_back(Raw(MakeMessage(i), std::to_string(i)));
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  // Every pack's end is recorded, not only the last one's.
  {
    auto db = catalog::Db::Open(cat, false, false);
    ASSERT_TRUE(db);
    auto st = (*db)->Prepare("SELECT count(*) FROM packs");
    ASSERT_TRUE(st && *st->Step());
    EXPECT_GE(st->ColumnInt(0), 2);
  }
  // The state a kill leaves after the roll's own commit: the old catalog
  // plus the new pack's row at 0.
  ASSERT_TRUE(std::filesystem::copy_file(dir_ + "/before-roll", cat, std::filesystem::copy_options::overwrite_existing));
  {
    auto db = catalog::Db::Open(cat, false, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("INSERT INTO packs(id, committed_len) VALUES(2, 0)"));
  }
  std::filesystem::remove(dir_ + "/packs/000003.pack");  // only pack 2 was begun
  auto archive = Archive::Open(dir_, OpenMode::kReadWrite, opts);
  ASSERT_TRUE(archive) << archive.error().ToString();
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/packs/000001.pack"), pack1);
  EXPECT_EQ(std::filesystem::file_size(dir_ + "/packs/000002.pack"), 0u);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/packs/orphans/000002-from-0.orphan"));
  std::vector<RawMessage> batch = {Raw(MakeMessage(100), "100")};
  auto out = (*archive)->Ingest(std::move(batch));
  ASSERT_TRUE(out);
  EXPECT_EQ(*(*archive)->ReadRaw((*out)[0].id), MakeMessage(100));
  EXPECT_EQ(*(*archive)->ReadRaw(1), MakeMessage(0));
  archive->reset();
  auto rebuilt = Archive::RebuildCatalog(dir_, opts);
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->messages, 2);
  EXPECT_TRUE(rebuilt->problems.empty());
}

TEST_F(ArchiveTest, WriterRefusesACatalogPointingPastItsCommittedEnd) {
  {
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch = {Raw(MakeMessage(1), "1"), Raw(MakeMessage(2), "2")};
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  std::string pack = dir_ + "/packs/000001.pack";
  auto size = std::filesystem::file_size(pack);
  {
    auto db = catalog::Db::Open(dir_ + "/catalog.sqlite", false, false);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("UPDATE packs SET committed_len = 100"));
  }
  auto writer = Archive::Open(dir_, OpenMode::kReadWrite);
  ASSERT_FALSE(writer);
  EXPECT_EQ(writer.error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(std::filesystem::file_size(pack), size) << "nothing may be cut or moved";
  auto reader = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(reader);
  EXPECT_EQ(*(*reader)->ReadRaw(1), MakeMessage(1));
}

// rebuild-catalog takes a dictionary whose pack record is damaged from its
// repair file: every message comes back. Without the repair file the
// dictionary's messages are lost, reported, and the rest kept.
TEST_F(ArchiveTest, RebuildUsesTheRepairFileOfADamagedDictionary) {
  std::vector<std::string> all;
  MakeTwoDictionaryArchive(dir_, SmallDictionaries(), all);
  const std::string pack = dir_ + "/packs/000001.pack";
  const auto dicts = DictionaryRecords(*ReadFile(pack));
  ASSERT_EQ(dicts.size(), 2u);
  FlipFileByte(pack, dicts[0] + 64 + 50);

  auto report = Archive::RebuildCatalog(dir_, SmallDictionaries());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->messages, 240);
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_NE(report->problems[0].find("rebuilt from"), std::string::npos) << report->problems[0];
  EXPECT_EQ(EveryMessageReadsAndVerify(dir_, all).size(), 1u);  // the damaged pack record, repaired

  std::filesystem::remove(dir_ + "/packs/dictionaries/1.repair");
  report = Archive::RebuildCatalog(dir_, SmallDictionaries());
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_EQ(report->messages, 120);
  ASSERT_EQ(report->problems.size(), 121u);  // the scan's CRC report, then each message of dictionary 1
  EXPECT_NE(report->problems[0].find("pack 1"), std::string::npos) << report->problems[0];
  EXPECT_NE(report->problems[1].find("dictionary 1"), std::string::npos) << report->problems[1];
  auto archive = Archive::Open(dir_, OpenMode::kReadOnly);
  ASSERT_TRUE(archive);
  EXPECT_TRUE((*archive)->FindByMessageId("msg100@example.org")->empty());
  auto found = (*archive)->FindByMessageId("msg1100@example.org");
  ASSERT_TRUE(found && found->size() == 1);
  EXPECT_EQ(*(*archive)->ReadRaw(found->front()), MakeMessage(1100));
  EXPECT_EQ((*archive)->Stats()->dictionaries, 1);
}

TEST_F(ArchiveTest, RebuildCatalogFromPacksAlone) {
  std::vector<std::string> all;
  {
    ArchiveOptions opts;
    opts.dictionary_after = 100;
    opts.dictionary_size = 8 * 1024;
    auto archive = Archive::Create(dir_, opts);
    ASSERT_TRUE(archive);
    for (int b = 0; b < 3; ++b) {
      std::vector<RawMessage> batch;
      for (int i = 0; i < 100; ++i) {
        all.push_back(MakeMessage(b * 100 + i));
        batch.push_back(Raw(all.back(), std::to_string(b * 100 + i)));
      }
      ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
    }
  }
  std::filesystem::remove(dir_ + "/catalog.sqlite");
  auto rebuilt = Archive::RebuildCatalog(dir_);
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->messages, 300);
  EXPECT_TRUE(rebuilt->problems.empty());
  auto archive = Archive::Open(dir_, OpenMode::kReadWrite);
  ASSERT_TRUE(archive) << archive.error().ToString();
  auto found = (*archive)->FindByMessageId("msg250@example.org");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  auto raw = (*archive)->ReadRaw(found->front());
  ASSERT_TRUE(raw) << raw.error().ToString();
  EXPECT_EQ(*raw, all[250]);
  // Appending after a rebuild continues cleanly.
  std::vector<RawMessage> more = {Raw(MakeMessage(1000), "new")};
  auto out = (*archive)->Ingest(std::move(more));
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].status, IngestStatus::kStored);
  EXPECT_EQ(*(*archive)->ReadRaw((*out)[0].id), MakeMessage(1000));
}

TEST_F(ArchiveTest, UncommittedPackTailIsDiscardedOnReopen) {
  {
    auto archive = Archive::Create(dir_);
    ASSERT_TRUE(archive);
    std::vector<RawMessage> batch = {Raw(MakeMessage(1), "1")};
    ASSERT_TRUE((*archive)->Ingest(std::move(batch)));
  }
  // Simulate a crash after frames were appended but before the catalog
  // commit: garbage past the committed end.
  std::filesystem::path pack;
  for (auto& e : std::filesystem::directory_iterator(dir_ + "/packs")) pack = e.path();
  auto size_before = std::filesystem::file_size(pack);
  {
    int fd = ::open(pack.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(WriteAll(fd, std::string(777, 'x'), "pack"));
    ::close(fd);
  }
  auto archive = Archive::Open(dir_, OpenMode::kReadWrite);
  ASSERT_TRUE(archive);
  EXPECT_EQ(std::filesystem::file_size(pack), size_before);
  std::vector<RawMessage> batch = {Raw(MakeMessage(2), "2")};
  auto out = (*archive)->Ingest(std::move(batch));
  ASSERT_TRUE(out);
  EXPECT_EQ(*(*archive)->ReadRaw((*out)[0].id), MakeMessage(2));
  int problems = 0;
  ASSERT_TRUE((*archive)->Verify(false, [&](const VerifyProblem&) { ++problems; }));
  EXPECT_EQ(problems, 0);
}

}  // namespace
}  // namespace mailkeep

namespace mailkeep {
namespace {

class ArchiveIntentsTest : public ArchiveTest {
 protected:
  int64_t StoreOne(Archive& a) {
    auto out = a.Ingest({Raw(MakeMessage(1), "a")});
    EXPECT_TRUE(out);
    return out ? (*out)[0].id : 0;
  }
};

TEST_F(ArchiveIntentsTest, AnIntentIsOnDiskBeforeTheStepAndUnknownUntilResolved) {
  int64_t id = 0;
  std::vector<Intent> intents(2);
  {
    auto a = *Archive::Create(dir_);
    id = StoreOne(*a);
    intents[0] = Intent::For(IntentKind::kSend, id, "a@example.test", "relay r", "me@example.test");
    intents[1] = Intent::For(IntentKind::kSend, id, "b@example.test", "relay r", "me@example.test");
    ASSERT_TRUE(a->RecordIntents(intents));
    EXPECT_GT(intents[0].id, 0);
    EXPECT_GT(intents[0].created_at, 0);
    // The process dies here: a, and anything not committed, is gone.
  }
  auto a = *Archive::Open(dir_, OpenMode::kReadWrite);
  auto unknown = *a->UnknownIntents(IntentKind::kSend);
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0].outcome, SendOutcome::kUnknown);
  EXPECT_EQ(unknown[1].target, "b@example.test");
  intents[0].outcome = SendOutcome::kAccepted;
  intents[0].reply = "250 2.0.0 queued";
  intents[1].reply = "no reply to the end of data";  // still kUnknown
  ASSERT_TRUE(a->ResolveIntents(intents));
  auto all = *a->Intents(IntentKind::kSend, id);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].outcome, SendOutcome::kAccepted);
  EXPECT_TRUE(all[0].resolved_at);
  EXPECT_EQ(all[1].outcome, SendOutcome::kUnknown);
  EXPECT_EQ(all[1].reply, "no reply to the end of data");
  EXPECT_EQ(a->UnknownIntents(IntentKind::kSend)->size(), 1u);
  EXPECT_TRUE(a->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_TRUE(a->Intents(IntentKind::kSend, id + 1)->empty());
}

TEST_F(ArchiveIntentsTest, AnAppendIsResolvedByItsPlaceInOneStep) {
  auto a = *Archive::Create(dir_);
  const int64_t id = StoreOne(*a);
  ASSERT_TRUE(a->MarkIndexed({id}));
  std::vector<Intent> intent = {Intent::For(IntentKind::kAppend, id, "target", "Archive")};
  ASSERT_TRUE(a->RecordIntents(intent));
  EXPECT_EQ(a->UnknownIntents(IntentKind::kAppend)->size(), 1u);
  Origin place{"imap", "target", "Archive", "7", 42, "\\Seen", {}};
  ASSERT_TRUE(a->ResolveAppend(intent[0].id, id, &place));
  EXPECT_TRUE(a->UnknownIntents(IntentKind::kAppend)->empty());
  auto known = *a->FolderLocations("imap", "target", "Archive");
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].key, "7");
  EXPECT_EQ(known[0].uidvalidity, 42u);
  EXPECT_EQ(*a->PendingIndexCount(), 1);  // the new place reaches the index
  // Refused by the server: the intent goes, no place is recorded.
  ASSERT_TRUE(a->RecordIntents(intent));
  ASSERT_TRUE(a->ResolveAppend(intent[0].id, id, nullptr));
  EXPECT_TRUE(a->UnknownIntents(IntentKind::kAppend)->empty());
  EXPECT_EQ(a->FolderLocations("imap", "target", "Archive")->size(), 1u);
}

TEST_F(ArchiveIntentsTest, ReadOnlyArchiveRecordsNoIntent) {
  int64_t id = 0;
  {
    auto a = *Archive::Create(dir_);
    id = StoreOne(*a);
  }
  auto a = *Archive::Open(dir_, OpenMode::kReadOnly);
  std::vector<Intent> intent = {Intent::For(IntentKind::kSend, id, "a@example.test", "relay r")};
  auto st = a->RecordIntents(intent);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace mailkeep

namespace mailkeep {
namespace {

// The index's intents: handed messages leave the queue and stay in flight
// until the index committed them; refused ones stay for the next run.
TEST_F(ArchiveTest, IndexIntentsKeepHandedMessagesUntilCommitted) {
  std::vector<int64_t> ids;
  {
    auto a = *Archive::Create(dir_);
    auto out = *a->Ingest({Raw(MakeMessage(1), "a"), Raw(MakeMessage(2), "b"), Raw(MakeMessage(3), "c")});
    for (const auto& o : out) ids.push_back(o.id);
    ASSERT_TRUE(a->HandToIndex(ids));
    EXPECT_EQ(*a->PendingIndexCount(), 0);
    // Killed before the index committed.
  }
  auto a = *Archive::Open(dir_, OpenMode::kReadWrite);
  EXPECT_EQ(*a->IndexInFlight(), ids);
  ASSERT_TRUE(a->HandToIndex({ids[1]}));  // handed again by the replay
  ASSERT_TRUE(a->IndexCommitted({ids[1]}));  // refused: stays
  EXPECT_EQ(*a->IndexInFlight(), std::vector<int64_t>{ids[1]});
  EXPECT_EQ(a->UnknownIntents(IntentKind::kIndex)->size(), 1u);
  ASSERT_TRUE(a->IndexCommitted({}));
  EXPECT_TRUE(a->IndexInFlight()->empty());
}

}  // namespace
}  // namespace mailkeep

namespace mailkeep {
namespace {

// Whether `needle` occurs anywhere in the file at `path` (a missing file
// holds nothing).
bool FileContains(const std::string& path, const std::string& needle) {
  auto bytes = ReadFile(path);
  return bytes && bytes->find(needle) != std::string::npos;
}

// The catalog of an encrypted archive is sealed page by page: no subject
// or address reaches catalog.sqlite or its WAL, before or after a
// checkpoint, and the archive reopens and reads with its keys.
TEST_F(ArchiveTest, EncryptedArchiveCatalogHoldsNoPlaintext) {
  ASSERT_TRUE(MakeDirs(dir_, 0700));
  auto keys = crypto::CreateKeyFile(dir_, "pass", crypto::KdfParams{.log2_n = 10, .r = 8, .p = 1});
  ASSERT_TRUE(keys) << keys.error().ToString();
  const std::string subject = "Unmistakable subject zebra-quartz-81", address = "hidden.person@secret-domain.test";
  const std::string msg = "From: Hidden <" + address + ">\nTo: list@example.org\nSubject: " + subject +
                          "\nMessage-ID: <sealed1@example.org>\n\nbody\n";
  const std::string cat = dir_ + "/catalog.sqlite";
  int64_t id = 0;
  {
    auto a = Archive::Create(dir_, {.keys = *keys});
    ASSERT_TRUE(a) << a.error().ToString();
    auto out = (*a)->Ingest({Raw(msg, "k1")});
    ASSERT_TRUE(out) << out.error().ToString();
    id = (*out)[0].id;
    for (const auto& needle : {subject, address}) {
      EXPECT_FALSE(FileContains(cat, needle)) << needle;
      EXPECT_FALSE(FileContains(cat + "-wal", needle)) << needle;
    }
  }
  {
    auto a = Archive::Open(dir_, OpenMode::kReadWrite, {.keys = *keys});
    ASSERT_TRUE(a) << a.error().ToString();
    auto info = (*a)->GetInfo(id);
    ASSERT_TRUE(info && *info);
    EXPECT_EQ((*info)->subject, subject);
  }
  // A catalog rebuilt from the packs is sealed as well.
  auto rebuilt = Archive::RebuildCatalog(dir_, {.keys = *keys});
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  {
    auto a = Archive::Open(dir_, OpenMode::kReadOnly, {.keys = *keys});
    ASSERT_TRUE(a) << a.error().ToString();
    auto info = (*a)->GetInfo(id);
    ASSERT_TRUE(info && *info);
    EXPECT_EQ((*info)->subject, subject);
  }
  // The last close checkpointed the WAL into the database file, which
  // holds pages (sealed: not even SQLite's header is readable).
  auto bytes = ReadFile(cat);
  ASSERT_TRUE(bytes);
  EXPECT_GE(bytes->size(), 8192u);
  EXPECT_NE(bytes->substr(0, 15), "SQLite format 3");
  for (const auto& needle : {subject, address}) {
    EXPECT_FALSE(FileContains(cat, needle)) << needle;
    EXPECT_FALSE(FileContains(cat + "-wal", needle)) << needle;
  }
  // verify authenticates every page of the catalog: one changed byte is
  // a finding.
  {
    std::string bytes = *ReadFile(cat);
    bytes[bytes.size() - 2000] ^= 0x10;
    ASSERT_TRUE(WriteFileAtomic(cat, bytes));
  }
  auto a = Archive::Open(dir_, OpenMode::kReadOnly, {.keys = *keys});
  ASSERT_TRUE(a) << a.error().ToString();
  std::vector<std::string> problems;
  (void)(*a)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p.what); }, nullptr);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].find("fail authentication"), std::string::npos) << problems[0];
}

// ---- An encrypted archive's packs (store/PACK_FORMAT.md, "Sealed records") ----

class EncryptedArchiveTest : public ArchiveTest {
 protected:
  // A key file at the cheapest scrypt cost the key file accepts.
  std::shared_ptr<const crypto::ArchiveKeys> MakeKeys(const std::string& dir, const std::string& pass) {
    auto keys = crypto::CreateKeyFile(dir, pass, crypto::KdfParams{10, 8, 1});
    EXPECT_TRUE(keys) << keys.error().ToString();
    return keys ? *keys : nullptr;
  }
  ArchiveOptions Options(std::shared_ptr<const crypto::ArchiveKeys> keys) {
    ArchiveOptions o;
    o.keys = std::move(keys);
    o.dictionary_after = 64;  // the fewest samples a dictionary is trained on
    o.dictionary_size = 4096;
    o.dictionary_retrain_after = 64;
    return o;
  }
  // Ingests messages first..last-1 in batches of 70 (a dictionary each); returns their ids.
  std::vector<int64_t> Fill(Archive& a, int first, int last) {
    std::vector<int64_t> ids;
    for (int b = first; b < last; b += 70) {
      std::vector<RawMessage> batch;
      for (int i = b; i < std::min(last, b + 70); ++i) batch.push_back(Raw(MakeMessage(i), std::to_string(i)));
      auto out = a.Ingest(std::move(batch));
      EXPECT_TRUE(out) << out.error().ToString();
      if (out) {
        for (const auto& o : *out) ids.push_back(o.id);
      }
    }
    return ids;
  }
  // Bytes of every file under packs/.
  std::string PackDirBytes() {
    std::string all;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ + "/packs")) {
      if (e.is_regular_file()) all += *ReadFile(e.path().string());
    }
    return all;
  }
  std::vector<std::string> Problems(Archive& a) {
    std::vector<std::string> problems;
    auto checked = a.Verify(false, [&](const VerifyProblem& p) { problems.push_back(p.what); });
    EXPECT_TRUE(checked) << checked.error().ToString();
    return problems;
  }
};

TEST_F(EncryptedArchiveTest, MessagesAreSealedAndNamedByAKeyedHash) {
  auto keys = MakeKeys(dir_, "correct horse");
  auto archive = Archive::Create(dir_, Options(keys));
  ASSERT_TRUE(archive) << archive.error().ToString();
  std::vector<int64_t> ids = Fill(**archive, 0, 140);
  ASSERT_EQ(ids.size(), 140u);
  EXPECT_EQ((*archive)->Stats()->dictionaries, 2);
  for (int i = 0; i < 140; ++i) {
    auto raw = (*archive)->ReadRaw(ids[i]);
    ASSERT_TRUE(raw) << raw.error().ToString();
    EXPECT_EQ(*raw, MakeMessage(i));
  }
  // The content address is the HMAC under this archive's key, not SHA-256.
  auto info = (*archive)->GetInfo(ids[5]);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->sha256, ToHex(crypto::ContentHash(keys.get(), MakeMessage(5))));
  EXPECT_NE((*info)->sha256, ToHex(Sha256(MakeMessage(5))));
  // Another archive holding the same message names it differently.
  const std::string other_dir = dir_ + "-other";
  auto other = Archive::Create(other_dir, Options(MakeKeys(other_dir, "correct horse")));
  ASSERT_TRUE(other) << other.error().ToString();
  auto out = (*other)->Ingest({Raw(MakeMessage(5), "5")});
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_NE((*out)[0].sha256, (*info)->sha256);
  // No subject, body line or address in any byte under packs/.
  const std::string bytes = PackDirBytes();
  for (const std::string needle : {"Subject: Test message", "quick brown fox", "sender3@example.org",
                                   "list@example.org", "msg17@example.org"}) {
    EXPECT_EQ(bytes.find(needle), std::string::npos) << needle;
  }
  EXPECT_TRUE(Problems(**archive).empty());
}

// verify opens every seal: a payload byte changed with its CRC fixed up is
// reported for exactly that message.
TEST_F(EncryptedArchiveTest, VerifyChecksEveryAuthenticationTag) {
  auto keys = MakeKeys(dir_, "pw");
  int64_t victim = 0;
  {
    auto archive = Archive::Create(dir_, Options(keys));
    ASSERT_TRUE(archive);
    victim = Fill(**archive, 0, 10)[4];
  }
  blobs::PackStoreOptions popts;
  popts.keys = keys;
  auto packs = blobs::PackStore::OpenReadOnly(dir_ + "/packs", popts);
  ASSERT_TRUE(packs);
  std::vector<blobs::BlobLocation> blobs;
  ASSERT_TRUE((*packs)->Scan(
      [&](const blobs::ScannedRecord& r) -> Status {
        if (r.kind == blobs::ScannedRecord::Kind::kBlob) blobs.push_back(r.location);
        return OkStatus();
      },
      [](uint32_t, uint64_t, const std::string& why) { ADD_FAILURE() << why; }));
  ASSERT_EQ(blobs.size(), 10u);
  const blobs::BlobLocation& loc = blobs[4];
  const std::string pack = dir_ + "/packs/000001.pack";
  std::string b = *ReadFile(pack);
  b[loc.offset + blobs::kRecordHeaderSize + loc.stored_len - 3] ^= 0x10;  // in the tag
  // Fix up the payload CRC, then the header CRC over it: only the seal can tell.
  auto put_crc = [&](size_t at, size_t from, size_t len) {
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(b.data() + from), len));
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>(crc >> (8 * i));
  };
  put_crc(loc.offset + 56, loc.offset + blobs::kRecordHeaderSize, loc.stored_len);
  put_crc(loc.offset + 60, loc.offset, 60);
  ASSERT_TRUE(WriteFileAtomic(pack, b));
  auto archive = Archive::Open(dir_, OpenMode::kReadOnly, Options(keys));
  ASSERT_TRUE(archive) << archive.error().ToString();
  std::vector<VerifyProblem> problems;
  ASSERT_TRUE((*archive)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p); }));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].id, victim);
  EXPECT_NE(problems[0].what.find("authentication failed"), std::string::npos) << problems[0].what;
}

// Delete, rebuild-catalog and repack work on sealed records: tombstones are
// sealed and honoured, copies stay sealed byte for byte.
TEST_F(EncryptedArchiveTest, RemoveRebuildAndRepackKeepEverythingElse) {
  auto keys = MakeKeys(dir_, "pw");
  std::vector<int64_t> gone;
  {
    auto archive = Archive::Create(dir_, Options(keys));
    ASSERT_TRUE(archive);
    std::vector<int64_t> ids = Fill(**archive, 0, 140);
    gone = {ids[3], ids[100]};
    auto removed = (*archive)->Remove(gone, AuditContext{"delete", "test", "", "tester", "host", 1});
    ASSERT_TRUE(removed) << removed.error().ToString();
    ASSERT_EQ(removed->removed.size(), 2u);
  }
  auto rebuild = [&](int64_t expect) {
    auto rebuilt = Archive::RebuildCatalog(dir_, Options(keys));
    ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
    EXPECT_EQ(rebuilt->messages, expect);
    EXPECT_TRUE(rebuilt->problems.empty()) << rebuilt->problems.front();
  };
  rebuild(138);  // the tombstones keep the removed ones out
  {
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite, Options(keys));
    ASSERT_TRUE(archive) << archive.error().ToString();
    auto report = (*archive)->Repack({});
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_GT(report->packs_rewritten, 0);
    EXPECT_TRUE(report->problems.empty());
    EXPECT_TRUE(Problems(**archive).empty());
    for (int i : {0, 3, 100, 139}) {
      auto found = (*archive)->FindByMessageId("msg" + std::to_string(i) + "@example.org");
      ASSERT_TRUE(found);
      ASSERT_EQ(found->size(), (i == 3 || i == 100) ? 0u : 1u) << i;
      if (!found->empty()) {
        EXPECT_EQ(*(*archive)->ReadRaw(found->front()), MakeMessage(i));
      }
    }
  }
  rebuild(138);
  EXPECT_FALSE(Archive::RebuildCatalog(dir_, {}));  // not without the keys
  // Every record the repack copied or wrote is still sealed: a store
  // without the keys yields none of them.
  auto keyless = blobs::PackStore::OpenReadOnly(dir_ + "/packs", {});
  ASSERT_TRUE(keyless);
  int records = 0, sealed = 0;
  ASSERT_TRUE((*keyless)->Scan([&](const blobs::ScannedRecord&) -> Status { ++records; return OkStatus(); },
                               [&](uint32_t, uint64_t, const std::string& why) {
                                 sealed += why.find("passphrase") != std::string::npos;
                               }));
  EXPECT_EQ(records, 0);
  // As many as a store with the keys reads: the messages kept and the
  // dictionaries they need (repack replaced those a removed message was
  // a training sample of).
  blobs::PackStoreOptions with_keys;
  with_keys.keys = keys;
  auto keyed = blobs::PackStore::OpenReadOnly(dir_ + "/packs", with_keys);
  ASSERT_TRUE(keyed);
  int readable = 0;
  ASSERT_TRUE((*keyed)->Scan([&](const blobs::ScannedRecord&) -> Status { ++readable; return OkStatus(); },
                             [&](uint32_t, uint64_t, const std::string& why) { ADD_FAILURE() << why; }));
  EXPECT_GE(readable, 138 + 1);
  EXPECT_EQ(sealed, readable);
}


// Legal holds outlive the catalog: rebuild-catalog restores them from
// ARCHIVE/holds, a release stays a release, and repack changes neither.
class HoldsRebuildTest : public EncryptedArchiveTest, public ::testing::WithParamInterface<bool> {
 protected:
  ArchiveOptions Opts() {
    if (!GetParam()) return {};
    if (!keys_) keys_ = MakeKeys(dir_, "pw");
    return Options(keys_);
  }
  std::unique_ptr<Archive> OpenRw() {
    auto a = Archive::Open(dir_, OpenMode::kReadWrite, Opts());
    EXPECT_TRUE(a) << a.error().ToString();
    return a ? std::move(*a) : nullptr;
  }
  // Loses the catalog and rebuilds it; returns the held Message-IDs with their reasons.
  std::map<std::string, std::string> RebuildAndListHolds() {
    for (const char* f : {"/catalog.sqlite", "/catalog.sqlite-wal", "/catalog.sqlite-shm"}) {
      std::filesystem::remove(dir_ + f);
    }
    auto rebuilt = Archive::RebuildCatalog(dir_, Opts());
    EXPECT_TRUE(rebuilt) << rebuilt.error().ToString();
    if (rebuilt) {
      EXPECT_TRUE(rebuilt->problems.empty()) << rebuilt->problems.front();
    }
    std::map<std::string, std::string> held;
    auto a = OpenRw();
    auto list = a->Holds();
    EXPECT_TRUE(list);
    for (const auto& h : *list) {
      held[h.message_id] = h.reason + " by " + h.user + "@" + h.host + " at " + std::to_string(h.since);
    }
    return held;
  }
  std::shared_ptr<const crypto::ArchiveKeys> keys_;
};

TEST_P(HoldsRebuildTest, HoldsComeBackAndKeepTheirMessagesReleasesStay) {
  std::vector<int64_t> ids;
  {
    auto created = Archive::Create(dir_, Opts());
    ASSERT_TRUE(created) << created.error().ToString();
    ids = Fill(**created, 0, 5);
    ASSERT_EQ(ids.size(), 5u);
    auto held = (*created)->Hold({ids[1], ids[2]}, AuditContext{"hold", "q", "case 17", "alice", "box", 1000});
    ASSERT_TRUE(held) << held.error().ToString();
    ASSERT_EQ(held->size(), 2u);
  }
  const std::string by = " by alice@box at 1000";
  EXPECT_EQ(RebuildAndListHolds(), (std::map<std::string, std::string>{
                                       {"msg1@example.org", "case 17" + by}, {"msg2@example.org", "case 17" + by}}));
  {
    auto a = OpenRw();
    auto all = a->AllIds();
    auto removed = a->Remove(*all, AuditContext{"delete", "*", "", "bob", "box", 2000});
    ASSERT_TRUE(removed) << removed.error().ToString();
    EXPECT_EQ(removed->removed.size(), 3u);
    EXPECT_EQ(removed->held.size(), 2u);
    auto one = a->FindByMessageId("msg1@example.org");
    ASSERT_TRUE(a->Release(*one, AuditContext{"release", "q", "", "bob", "box", 3000}));
  }
  EXPECT_EQ(RebuildAndListHolds(), (std::map<std::string, std::string>{{"msg2@example.org", "case 17" + by}}));
  {
    auto a = OpenRw();
    auto report = a->Repack({});
    ASSERT_TRUE(report) << report.error().ToString();
    EXPECT_GT(report->packs_rewritten, 0);
  }
  EXPECT_EQ(RebuildAndListHolds(), (std::map<std::string, std::string>{{"msg2@example.org", "case 17" + by}}));
  auto a = OpenRw();
  EXPECT_EQ(a->AllIds()->size(), 2u);  // msg1 (released, never removed since) and msg2
}

TEST_P(HoldsRebuildTest, AWriterPutsBackAHoldsFileThatLacksACatalogHold) {
  {
    auto created = Archive::Create(dir_, Opts());
    ASSERT_TRUE(created);
    auto ids = Fill(**created, 0, 3);
    ASSERT_TRUE((*created)->Hold({ids[0]}, AuditContext{"hold", "q", "why", "alice", "box", 1000}));
  }
  // As if the file were lost (or a release's write had failed): the next
  // writer rewrites it from the catalog, a reader leaves it alone.
  ASSERT_TRUE(std::filesystem::remove(dir_ + "/holds"));
  ASSERT_TRUE(Archive::Open(dir_, OpenMode::kReadOnly, Opts()));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/holds"));
  OpenRw();
  auto file = holds::Read(dir_, keys_.get());
  ASSERT_TRUE(file && *file) << (file ? "none" : file.error().ToString());
  ASSERT_EQ((*file)->size(), 1u);
  EXPECT_EQ((**file)[0].reason, "why");
  EXPECT_EQ(RebuildAndListHolds().size(), 1u);
}

TEST_P(HoldsRebuildTest, ADamagedHoldsFileIsAReportedProblem) {
  {
    auto created = Archive::Create(dir_, Opts());
    ASSERT_TRUE(created);
    auto ids = Fill(**created, 0, 3);
    ASSERT_TRUE((*created)->Hold({ids[0]}, AuditContext{"hold", "q", "why", "alice", "box", 1000}));
  }
  std::string bytes = *ReadFile(dir_ + "/holds");
  bytes[20] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/holds", bytes));
  std::filesystem::remove(dir_ + "/catalog.sqlite");
  auto rebuilt = Archive::RebuildCatalog(dir_, Opts());
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  ASSERT_EQ(rebuilt->problems.size(), 1u);
  EXPECT_NE(rebuilt->problems[0].find("legal holds were not restored"), std::string::npos) << rebuilt->problems[0];
}

TEST_P(HoldsRebuildTest, AHoldIsNotCommittedUnlessTheHoldsFileHasIt) {
  auto a = Archive::Create(dir_, Opts());
  ASSERT_TRUE(a);
  auto ids = Fill(**a, 0, 2);
  // The file cannot be written (a directory is in its way): the hold fails
  // and the catalog has none, so no rebuild can lose it.
  ASSERT_TRUE(std::filesystem::create_directories(dir_ + "/holds/in-the-way"));
  EXPECT_FALSE((*a)->Hold({ids[0]}, AuditContext{"hold", "q", "why", "alice", "box", 1000}));
  EXPECT_FALSE(*(*a)->IsHeld(ids[0]));
  std::filesystem::remove_all(dir_ + "/holds");
  auto held = (*a)->Hold({ids[0]}, AuditContext{"hold", "q", "why", "alice", "box", 1000});
  ASSERT_TRUE(held) << held.error().ToString();
  EXPECT_EQ(held->size(), 1u);
  EXPECT_TRUE(*(*a)->IsHeld(ids[0]));
}

INSTANTIATE_TEST_SUITE_P(PlainAndEncrypted, HoldsRebuildTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Encrypted" : "Plain"; });

TEST_F(EncryptedArchiveTest, TheHoldsFileIsSealed) {
  auto keys = MakeKeys(dir_, "pw");
  auto a = Archive::Create(dir_, Options(keys));
  ASSERT_TRUE(a);
  auto ids = Fill(**a, 0, 2);
  ASSERT_TRUE((*a)->Hold({ids[0]}, AuditContext{"hold", "subpoena query", "subpoena 4711", "alice", "box", 1000}));
  const std::string file = *ReadFile(dir_ + "/holds");
  for (const char* plain : {"subpoena", "alice", "box"}) EXPECT_EQ(file.find(plain), std::string::npos) << plain;
  EXPECT_FALSE(holds::Decode(file, nullptr));
  auto opened = holds::Decode(file, keys.get());
  ASSERT_TRUE(opened) << opened.error().ToString();
  ASSERT_EQ(opened->size(), 1u);
  EXPECT_EQ((*opened)[0].reason, "subpoena 4711");
}

TEST_F(EncryptedArchiveTest, ChangePassphraseKeepsTheDataAndLocksOut) {
  auto keys = MakeKeys(dir_, "old");
  {
    auto a = Archive::Create(dir_, Options(keys));
    ASSERT_TRUE(a);
    Fill(**a, 0, 3);
    auto wrong = (*a)->ChangePassphrase("not it", "new", crypto::KdfParams{10, 8, 1});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), ErrorCode::kFailedPrecondition);
    ASSERT_TRUE((*a)->ChangePassphrase("old", "new", crypto::KdfParams{10, 8, 1}));
  }
  EXPECT_FALSE(crypto::UnlockKeyFile(dir_, "old"));
  auto now = crypto::UnlockKeyFile(dir_, "new");
  ASSERT_TRUE(now);
  auto a = Archive::Open(dir_, OpenMode::kReadOnly, Options(*now));
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_TRUE(Problems(**a).empty());
  EXPECT_EQ(*(*a)->ReadRaw((*a)->AllIds()->front()), MakeMessage(0));
  // A read-only handle or a plain archive has nothing to change.
  EXPECT_FALSE((*a)->ChangePassphrase("new", "newer", crypto::KdfParams{10, 8, 1}));
}

}  // namespace
}  // namespace mailkeep
