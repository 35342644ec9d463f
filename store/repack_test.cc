// Tests for Archive::Repack (store/repack.h): removed messages' bytes leave
// the packs, everything the catalog references stays byte-exact, needed
// dictionaries stay, packs with nothing to remove are not touched, and the
// catalog can still be rebuilt from the packs afterwards.
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "store/archive.h"
#include "store/blobs/pack_store.h"
#include "store/catalog/sqlite.h"
#include "store/util/files.h"
#include "store/util/sha256.h"

namespace mailkeep {
namespace {

namespace fs = std::filesystem;

std::string MakeMessage(int n, const std::string& extra = "") {
  std::string body;
  for (int i = 0; i < 12; ++i) {
    body += "Line " + std::to_string(i) + " of message " + std::to_string(n * 7919 % 10007) +
            ": status report about builds, kernels and patches.\n";
  }
  return "From: Sender " + std::to_string(n % 7) + " <sender" + std::to_string(n % 7) +
         "@example.org>\nTo: list@example.org\nSubject: Report " + std::to_string(n) +
         "\nMessage-ID: <repack" + std::to_string(n) + "@example.org>\n\n" + body + extra;
}

RawMessage Raw(const std::string& bytes, int n) {
  RawMessage m;
  m.bytes = bytes;
  m.origin.source = "eml";
  m.origin.account = "local";
  m.origin.folder = "/in";
  m.origin.key = "m" + std::to_string(n);
  return m;
}

// What a later delete command will do to the catalog: the message's rows
// and its blob row go; its bytes stay in the packs until a repack.
void RemoveFromCatalog(const std::string& dir, const std::vector<int64_t>& ids) {
  auto db = catalog::Db::Open(dir + "/catalog.sqlite", false, false);
  ASSERT_TRUE(db) << db.error().ToString();
  for (const char* sql : {"DELETE FROM locations WHERE message = ?", "DELETE FROM index_queue WHERE message = ?",
                          "DELETE FROM intents WHERE message = ?", "DELETE FROM messages WHERE id = ?",
                          "DELETE FROM blobs WHERE id = ?"}) {
    for (int64_t id : ids) {
      auto st = (*db)->Prepare(sql);
      ASSERT_TRUE(st) << sql << ": " << st.error().ToString();
      st->Bind(1, id);
      auto ran = st->Run();
      ASSERT_TRUE(ran) << sql << ": " << ran.error().ToString();
    }
  }
}

// Every file under `dir` (packs, repair files, orphans, catalog, WAL).
std::map<std::string, std::string> FilesUnder(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().string()] = *ReadFile(e.path().string());
  }
  return out;
}

// Every record in the packs: SHA-256 of blobs, and every blob and
// dictionary decompressed.
struct PackContents {
  std::set<std::string> blob_shas;
  std::string decompressed;  // all of it, concatenated
  std::string dictionaries;  // every dictionary's bytes, concatenated
};

PackContents ReadAllRecords(const std::string& dir) {
  PackContents c;
  auto store = blobs::PackStore::OpenReadOnly(dir + "/packs", {});
  EXPECT_TRUE(store);
  std::vector<blobs::ScannedRecord> records;
  auto st = (*store)->Scan([&](const blobs::ScannedRecord& r) -> Status {
    records.push_back(r);
    return OkStatus();
  }, [](uint32_t pack, uint64_t off, const std::string& why) {
    ADD_FAILURE() << "pack " << pack << " offset " << off << ": " << why;
  });
  EXPECT_TRUE(st);
  for (const auto& r : records) {
    if (r.kind != blobs::ScannedRecord::Kind::kDictionary) continue;
    auto bytes = (*store)->ReadDictionary(r.location);
    EXPECT_TRUE(bytes);
    EXPECT_TRUE((*store)->LoadDictionary(r.location.dict_id, *bytes));
    c.decompressed += *bytes;
    c.dictionaries += *bytes;
  }
  for (const auto& r : records) {
    if (r.kind != blobs::ScannedRecord::Kind::kBlob) continue;
    c.blob_shas.insert(ToHex(r.sha256));
    auto raw = (*store)->Read(r.location);
    EXPECT_TRUE(raw) << raw.error().ToString();
    if (raw) c.decompressed += *raw;
  }
  return c;
}

class RepackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-repack-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/archive";
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }

  // Stores messages 0..n-1 in batches of `batch`; returns id -> bytes.
  std::map<int64_t, std::string> Fill(int n, int batch, const ArchiveOptions& opts,
                                      const std::map<int, std::string>& extras = {}) {
    std::map<int64_t, std::string> stored;
    auto archive = Archive::Create(dir_, opts);
    EXPECT_TRUE(archive);
    for (int start = 0; start < n; start += batch) {
      std::vector<RawMessage> msgs;
      for (int i = start; i < std::min(n, start + batch); ++i) {
        auto it = extras.find(i);
        msgs.push_back(Raw(MakeMessage(i, it == extras.end() ? "" : it->second), i));
      }
      std::vector<std::string> bytes;
      for (const auto& m : msgs) bytes.push_back(m.bytes);
      auto out = (*archive)->Ingest(std::move(msgs));
      EXPECT_TRUE(out);
      for (size_t k = 0; k < out->size(); ++k) stored[(*out)[k].id] = bytes[k];
    }
    return stored;
  }

  RepackReport Repack(const ArchiveOptions& opts, bool dry_run = false) {
    auto archive = Archive::Open(dir_, OpenMode::kReadWrite, opts);
    EXPECT_TRUE(archive) << archive.error().ToString();
    auto report = (*archive)->Repack({dry_run});
    EXPECT_TRUE(report) << report.error().ToString();
    return report ? *report : RepackReport{};
  }

  // Every message reads back byte-exact and verify finds nothing.
  void ExpectIntact(const std::map<int64_t, std::string>& kept, const ArchiveOptions& opts) {
    auto archive = Archive::Open(dir_, OpenMode::kReadOnly, opts);
    ASSERT_TRUE(archive);
    auto ids = (*archive)->AllIds();
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->size(), kept.size());
    for (const auto& [id, bytes] : kept) {
      auto raw = (*archive)->ReadRaw(id);
      ASSERT_TRUE(raw) << "message " << id << ": " << raw.error().ToString();
      EXPECT_EQ(*raw, bytes) << "message " << id;
    }
    std::vector<std::string> problems;
    auto checked = (*archive)->Verify(false, [&](const VerifyProblem& p) { problems.push_back(p.what); });
    ASSERT_TRUE(checked);
    EXPECT_EQ(problems, std::vector<std::string>{});
  }

  std::string dir_;
};

ArchiveOptions SmallPacks() {
  ArchiveOptions opts;
  opts.dictionary_after = 0;
  opts.pack_size_limit = 1500;
  return opts;
}

// A marker zstd keeps literally: inside random bytes, its literals are
// stored raw (Huffman coding would not shrink them), so a grep of the pack
// files finds it.
std::string Secret() {
  std::string noise;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    noise.push_back(static_cast<char>(x));
  }
  return "\n" + noise.substr(0, 2048) + "zebra-quartz-7731-never-seen-elsewhere" + noise.substr(2048) + "\n";
}

TEST_F(RepackTest, RemovedBytesAreGoneEverythingElseStaysByteExact) {
  const ArchiveOptions opts = SmallPacks();
  auto stored = Fill(24, 4, opts, {{5, Secret()}});
  ASSERT_TRUE(fs::exists(dir_ + "/packs/000004.pack"));
  const std::string removed_sha = ToHex(Sha256(stored.at(6)));  // message 5 has id 6
  ASSERT_NE(stored.at(6).find("zebra-quartz"), std::string::npos);
  // The pack keeps the secret literally (a small frame stores it raw), so
  // the grep below could fail.
  bool literal = false;
  for (const auto& [path, bytes] : FilesUnder(dir_)) literal |= bytes.find("zebra-quartz") != std::string::npos;
  ASSERT_TRUE(literal);

  RemoveFromCatalog(dir_, {6, 7, 20});
  for (int64_t id : {6, 7, 20}) stored.erase(id);
  const auto before = FilesUnder(dir_ + "/packs");

  RepackReport report = Repack(opts);
  EXPECT_EQ(report.problems, std::vector<std::string>{});
  EXPECT_GE(report.packs_rewritten, 2);
  EXPECT_GT(report.bytes_freed, 0u);
  EXPECT_TRUE(report.catalog_compacted);

  ExpectIntact(stored, opts);
  for (const auto& [path, bytes] : FilesUnder(dir_)) {
    EXPECT_EQ(bytes.find("zebra-quartz"), std::string::npos) << path;
  }
  PackContents c = ReadAllRecords(dir_);
  EXPECT_EQ(c.blob_shas.count(removed_sha), 0u);
  EXPECT_EQ(c.decompressed.find("zebra-quartz"), std::string::npos);
  EXPECT_EQ(c.blob_shas.size(), stored.size());  // no dead copy of anything
  // The rewritten packs are gone; the others are the same files, byte for
  // byte, but for the current one, which only grew by the copies.
  const auto after = FilesUnder(dir_ + "/packs");
  const std::string current = before.rbegin()->first;
  int gone = 0, untouched = 0;
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    if (it == after.end()) {
      ++gone;
    } else if (path == current) {
      EXPECT_EQ(it->second.substr(0, bytes.size()), bytes);
    } else {
      EXPECT_EQ(it->second, bytes) << path;
      ++untouched;
    }
  }
  EXPECT_EQ(gone, report.packs_rewritten);
  EXPECT_GT(untouched, 0);

  // Nothing left to do: a second repack changes nothing.
  RepackReport again = Repack(opts);
  EXPECT_EQ(again.packs_rewritten, 0);
  EXPECT_EQ(FilesUnder(dir_ + "/packs"), after);
}

TEST_F(RepackTest, NothingRemovedLeavesEveryPackUntouchedAndDryRunChangesNothing) {
  const ArchiveOptions opts = SmallPacks();
  auto stored = Fill(12, 4, opts);
  const auto before = FilesUnder(dir_ + "/packs");
  RepackReport report = Repack(opts);
  EXPECT_EQ(report.packs_rewritten, 0);
  EXPECT_EQ(report.bytes_copied, 0u);
  EXPECT_EQ(FilesUnder(dir_ + "/packs"), before);

  RemoveFromCatalog(dir_, {2});
  stored.erase(2);
  const auto removed = FilesUnder(dir_);
  RepackReport dry = Repack(opts, /*dry_run=*/true);
  EXPECT_EQ(dry.packs_rewritten, 1);
  EXPECT_GT(dry.bytes_freed, 0u);
  EXPECT_EQ(FilesUnder(dir_ + "/packs"), before);
  RepackReport real = Repack(opts);
  EXPECT_EQ(real.packs_rewritten, dry.packs_rewritten);
  EXPECT_EQ(real.bytes_freed, dry.bytes_freed);
  EXPECT_EQ(real.bytes_copied, dry.bytes_copied);
  ExpectIntact(stored, opts);
}

ArchiveOptions SmallDictionaries() {
  ArchiveOptions opts;
  opts.dictionary_after = 100;
  opts.dictionary_retrain_after = 100;
  opts.dictionary_size = 8 * 1024;
  opts.pack_size_limit = 12 * 1024;
  return opts;
}

std::set<uint32_t> DictionaryIds(const std::string& dir) {
  auto db = catalog::Db::Open(dir + "/catalog.sqlite", false, true);
  EXPECT_TRUE(db);
  auto st = (*db)->Prepare("SELECT id FROM dictionaries");
  std::set<uint32_t> ids;
  while (*st->Step()) ids.insert(static_cast<uint32_t>(st->ColumnInt(0)));
  return ids;
}

// Batch 1 (dictionary 1) is removed whole: dictionary 1 goes, and so does
// 2, which may hold text of batch 1 too (store/PACK_FORMAT.md,
// "Repacking"); batch 2 is recompressed with dictionary 3, whose record
// moves when its pack loses batch 2's old frames (to a pack after blobs
// that use it, which a rebuild must handle) and keeps a valid repair file.
TEST_F(RepackTest, KeepsEveryNeededDictionaryDropsTheRest) {
  const ArchiveOptions opts = SmallDictionaries();
  auto stored = Fill(300, 100, opts);
  ASSERT_EQ(DictionaryIds(dir_), (std::set<uint32_t>{1, 2, 3}));
  std::vector<int64_t> gone;
  for (int64_t id = 1; id <= 100; ++id) gone.push_back(id);
  RemoveFromCatalog(dir_, gone);
  for (int64_t id : gone) stored.erase(id);

  RepackReport report = Repack(opts);
  EXPECT_EQ(report.problems, std::vector<std::string>{});
  EXPECT_EQ(report.dictionaries_dropped, 2);
  EXPECT_EQ(report.messages_recompressed, 100);
  EXPECT_EQ(DictionaryIds(dir_), (std::set<uint32_t>{3}));
  EXPECT_FALSE(fs::exists(dir_ + "/packs/dictionaries/1.repair"));
  EXPECT_FALSE(fs::exists(dir_ + "/packs/dictionaries/2.repair"));
  {
    // Dictionary 3 now lies in a pack after blobs compressed with it.
    auto db = catalog::Db::Open(dir_ + "/catalog.sqlite", false, true);
    ASSERT_TRUE(db);
    auto st = (*db)->Prepare("SELECT (SELECT pack FROM dictionaries WHERE id = 3) > (SELECT min(pack) FROM blobs WHERE dict = 3)");
    ASSERT_TRUE(st && *st->Step());
    EXPECT_EQ(st->ColumnInt(0), 1);
  }
  EXPECT_TRUE(fs::exists(dir_ + "/packs/dictionaries/3.repair"));
  for (const auto& e : fs::directory_iterator(dir_ + "/packs/dictionaries")) {
    EXPECT_EQ(e.path().extension(), ".repair") << e.path();  // nothing staged left
  }
  ExpectIntact(stored, opts);  // verify checks every dictionary's repair file too
  PackContents c = ReadAllRecords(dir_);
  EXPECT_EQ(c.blob_shas.size(), stored.size());

  // The packs alone still give the catalog back.
  auto rebuilt = Archive::RebuildCatalog(dir_, opts);
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->problems, std::vector<std::string>{});
  EXPECT_EQ(rebuilt->messages, static_cast<int64_t>(stored.size()));
  auto archive = Archive::Open(dir_, OpenMode::kReadOnly, opts);
  ASSERT_TRUE(archive);
  std::set<std::string> want, got;
  for (const auto& [id, bytes] : stored) want.insert(bytes);
  auto ids = (*archive)->AllIds();
  ASSERT_TRUE(ids);
  for (int64_t id : *ids) got.insert(*(*archive)->ReadRaw(id));
  EXPECT_TRUE(got == want) << got.size() << " messages read back of " << want.size();
}

// A dictionary holds snippets of the messages it was trained on: a removed
// message's text must leave the dictionaries too (store/PACK_FORMAT.md,
// "Repacking"). 192 messages in batches of 64 (training needs 64
// samples), one dictionary per batch, each trained on its batch (and
// perhaps the one before); message `secret_at`
// repeats a marker so that training puts it in the dictionary. It is
// removed the way `delete` removes (tombstone first), then repacked:
// the marker is nowhere under the archive directory, nor in any record
// decompressed, and every other message reads back byte-exact.
class RepackPurgeTest : public RepackTest {
 protected:
  static constexpr char kMarker[] = "walrus-octave-5519-only-in-one-message";
  static ArchiveOptions Options() {
    ArchiveOptions opts;
    opts.dictionary_after = 64;
    opts.dictionary_retrain_after = 64;
    opts.dictionary_size = 4 * 1024;
    opts.pack_size_limit = 16 * 1024;
    return opts;
  }
  // Removes message `secret_at` and repacks; returns the dictionaries after.
  std::set<uint32_t> RemoveAndRepack(int secret_at, std::map<int64_t, std::string>& stored) {
    std::string repeated;
    for (int i = 0; i < 60; ++i) repeated += std::string(kMarker) + " " + std::to_string(i % 3) + "\n";
    stored = Fill(192, 64, Options(), {{secret_at, repeated}});
    EXPECT_EQ(DictionaryIds(dir_), (std::set<uint32_t>{1, 2, 3}));
    EXPECT_NE(ReadAllRecords(dir_).dictionaries.find(kMarker), std::string::npos)
        << "the marker did not make it into a dictionary; the test would prove nothing";
    const int64_t id = secret_at + 1;
    {
      auto archive = Archive::Open(dir_, OpenMode::kReadWrite, Options());
      EXPECT_TRUE(archive);
      auto removed = (*archive)->Remove({id}, AuditContext{"delete", "test", "", "u", "h", 1});
      EXPECT_TRUE(removed && removed->removed == std::vector<int64_t>{id});
    }
    stored.erase(id);
    RepackReport dry = Repack(Options(), /*dry_run=*/true);
    RepackReport report = Repack(Options());
    EXPECT_EQ(dry.messages_recompressed, report.messages_recompressed);
    EXPECT_EQ(dry.dictionaries_dropped, report.dictionaries_dropped);
    EXPECT_EQ(report.problems, std::vector<std::string>{});
    EXPECT_GT(report.messages_recompressed, 0);
    for (const auto& [path, bytes] : FilesUnder(dir_)) {
      EXPECT_EQ(bytes.find(kMarker), std::string::npos) << path;
    }
    PackContents c = ReadAllRecords(dir_);
    EXPECT_EQ(c.dictionaries.find(kMarker), std::string::npos);
    EXPECT_EQ(c.decompressed.find(kMarker), std::string::npos);
    EXPECT_EQ(c.blob_shas.size(), stored.size());
    ExpectIntact(stored, Options());
    return DictionaryIds(dir_);
  }
};

// The marker is in the newest two dictionaries' samples: both go, after a
// new newest one, trained on the messages left, took their place.
TEST_F(RepackPurgeTest, RemovedTextLeavesTheNewestDictionaries) {
  std::map<int64_t, std::string> stored;
  EXPECT_EQ(RemoveAndRepack(100, stored), (std::set<uint32_t>{1, 4}));
  // A second repack has nothing left to do.
  RepackReport again = Repack(Options());
  EXPECT_EQ(again.packs_rewritten, 0);
  EXPECT_EQ(again.messages_recompressed, 0);
}

// The marker is in dictionary 1 (and could be in 2, trained on batch 1 as
// well): their messages move to dictionary 3, and the archive still
// rebuilds from its packs alone.
TEST_F(RepackPurgeTest, RemovedTextLeavesAnOlderDictionary) {
  std::map<int64_t, std::string> stored;
  EXPECT_EQ(RemoveAndRepack(10, stored), (std::set<uint32_t>{3}));
  auto rebuilt = Archive::RebuildCatalog(dir_, Options());
  ASSERT_TRUE(rebuilt) << rebuilt.error().ToString();
  EXPECT_EQ(rebuilt->problems, std::vector<std::string>{});
  EXPECT_EQ(rebuilt->messages, static_cast<int64_t>(stored.size()));
}

// Orphans (bytes a crash left past a recorded end) may hold removed mail
// too: a repack removes them.
TEST_F(RepackTest, OrphansAreRemoved) {
  const ArchiveOptions opts = SmallPacks();
  auto stored = Fill(4, 4, opts);
  ASSERT_TRUE(MakeDirs(dir_ + "/packs/orphans"));
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/packs/orphans/000001-from-9.orphan", std::string("zebra-quartz")));
  RepackReport report = Repack(opts);
  EXPECT_EQ(report.orphan_files, 1);
  EXPECT_EQ(report.orphan_bytes, 12u);
  EXPECT_TRUE(fs::is_empty(dir_ + "/packs/orphans"));
  ExpectIntact(stored, opts);
}

}  // namespace
}  // namespace mailkeep
