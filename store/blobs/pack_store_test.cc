// Tests for the pack store. Some tests write records with their own encoder,
// built from store/PACK_FORMAT.md rather than from pack_store.cc, so the
// document and the code are checked against each other.
#include "store/blobs/pack_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "store/util/files.h"

namespace mailkeep::blobs {
namespace {

namespace fs = std::filesystem;

// ---- helpers ------------------------------------------------------------------

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "pack_store_test.XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    EXPECT_NE(p, nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string packs() const { return path_ + "/packs"; }

 private:
  std::string path_;
};

// Mail-like text: headers plus words from a small vocabulary, deterministic.
std::string FakeMessage(std::mt19937& rng, size_t body_words) {
  static const char* kWords[] = {"the",    "kernel", "patch",  "mips",   "build",  "fails",
                                 "with",   "gcc",    "please", "review", "thanks", "signed",
                                 "off",    "by",     "cache",  "tlb",    "octeon", "ralf",
                                 "driver", "commit", "merge",  "linux",  "arch",   "config"};
  constexpr size_t kN = sizeof kWords / sizeof kWords[0];
  std::uniform_int_distribution<size_t> w(0, kN - 1);
  std::uniform_int_distribution<int> num(0, 999999);
  std::string m;
  m += "From: Developer " + std::to_string(num(rng)) + " <dev" + std::to_string(num(rng) % 50) +
       "@linux-mips.org>\r\n";
  m += "To: linux-mips@linux-mips.org\r\n";
  m += "Subject: [PATCH " + std::to_string(num(rng) % 9) + "/9] MIPS: " + kWords[w(rng)] + " " +
       kWords[w(rng)] + "\r\n";
  m += "Message-ID: <" + std::to_string(num(rng)) + "." + std::to_string(num(rng)) +
       "@mail.example.org>\r\n";
  m += "Date: Mon, 1 Jan 2018 12:00:00 +0000\r\nMIME-Version: 1.0\r\n"
       "Content-Type: text/plain; charset=UTF-8\r\n\r\n";
  for (size_t i = 0; i < body_words; ++i) {
    m += kWords[w(rng)];
    m += (i % 12 == 11) ? "\r\n" : " ";
  }
  m += "\r\n";
  return m;
}

std::vector<std::string> FakeMessages(size_t n, size_t body_words, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back(FakeMessage(rng, body_words + (i * 7) % 50));
  return v;
}

std::unique_ptr<PackStore> OpenOrDie(const std::string& dir, const PackStoreOptions& o = {},
                                     uint32_t pack = 0, uint64_t len = 0) {
  auto s = PackStore::Open(dir, o, pack, len);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().ToString());
  return s ? std::move(*s) : nullptr;
}

// `keys`: the store's (a sealed store names records by the keyed hash).
BlobLocation AddOrDie(PackStore& s, std::string_view raw, const crypto::ArchiveKeys* keys = nullptr) {
  auto c = s.Compress(raw, crypto::ContentHash(keys, raw));
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().ToString());
  auto loc = s.Append(*c);
  EXPECT_TRUE(loc.has_value()) << (loc ? "" : loc.error().ToString());
  return *loc;
}

std::string PackPath(const std::string& dir, uint32_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/%06u.pack", n);
  return dir + buf;
}

void FlipByte(const std::string& path, uint64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  unsigned char b = 0;
  ASSERT_EQ(::pread(fd, &b, 1, static_cast<off_t>(offset)), 1);
  b ^= 0x20;
  ASSERT_EQ(::pwrite(fd, &b, 1, static_cast<off_t>(offset)), 1);
  ::close(fd);
}

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Independent encoder for PACK_FORMAT.md version 1.
std::string EncodeRecord(uint8_t kind, uint32_t dict_id, uint64_t raw_len, const Sha256Digest& sha,
                         std::string_view payload) {
  std::string h(64, '\0');
  auto put = [&h](size_t at, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) h[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  h[0] = '\x89';
  h[1] = 'M';
  h[2] = 'K';
  h[3] = 'P';
  h[4] = 1;
  h[5] = static_cast<char>(kind);
  put(8, dict_id, 4);
  put(12, payload.size(), 4);
  put(16, raw_len, 8);
  for (int i = 0; i < 32; ++i) h[24 + i] = static_cast<char>(sha[i]);
  put(56, crc32(0, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())), 4);
  put(60, crc32(0, reinterpret_cast<const Bytef*>(h.data()), 60), 4);
  return h + std::string(payload);
}

void WriteFile(const std::string& path, std::string_view data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
}

struct ScanLog {
  std::vector<ScannedRecord> records;
  std::vector<std::pair<BlobLocation, std::string>> errors;
};

ScanLog ScanAll(const PackStore& s) {
  ScanLog log;
  auto st = s.Scan(
      [&](const ScannedRecord& r) -> Status {
        log.records.push_back(r);
        return OkStatus();
      },
      [&](uint32_t pack, uint64_t offset, const std::string& msg) {
        log.errors.push_back({BlobLocation{pack, offset}, msg});
      });
  EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().ToString());
  return log;
}

// ---- round trips --------------------------------------------------------------

TEST(PackStoreTest, RoundTripWithoutDictionary) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->current_pack(), 0u);
  EXPECT_EQ(s->current_dictionary(), 0u);
  const std::string raw = FakeMessages(1, 300)[0];
  auto c = s->Compress(raw, Sha256(raw));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->dict_id, 0u);
  EXPECT_EQ(c->raw_len, raw.size());
  EXPECT_LT(c->frame.size(), raw.size());
  auto loc = s->Append(*c);
  ASSERT_TRUE(loc.has_value());
  EXPECT_EQ(loc->pack, 1u);
  EXPECT_EQ(loc->offset, 0u);
  EXPECT_EQ(loc->stored_len, c->frame.size());
  EXPECT_EQ(loc->raw_len, raw.size());
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_EQ(s->current_pack(), 1u);
  EXPECT_EQ(s->current_pack_len(), kRecordHeaderSize + c->frame.size());
  auto back = s->Read(*loc);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(*back, raw);
  auto hash = s->ReadRecordHash(*loc);
  ASSERT_TRUE(hash.has_value());
  EXPECT_EQ(*hash, Sha256(raw));
  auto total = s->TotalBytes();
  ASSERT_TRUE(total.has_value());
  EXPECT_EQ(*total, s->current_pack_len());
}

TEST(PackStoreTest, EmptyMessageRoundTrips) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  auto loc = AddOrDie(*s, "");
  auto back = s->Read(loc);
  ASSERT_TRUE(back.has_value()) << back.error().ToString();
  EXPECT_EQ(*back, "");
}

TEST(PackStoreTest, RoundTripWithDictionary) {
  TempDir t;
  auto msgs = FakeMessages(600, 120);
  std::vector<std::string_view> samples(msgs.begin(), msgs.begin() + 500);
  auto dict = PackStore::TrainDictionary(samples, 16 * 1024);
  ASSERT_TRUE(dict.has_value()) << dict.error().ToString();
  EXPECT_LE(dict->size(), 16u * 1024);

  auto s = OpenOrDie(t.packs());
  const std::string& raw = msgs[550];
  auto plain = s->Compress(raw, Sha256(raw));
  ASSERT_TRUE(plain.has_value());

  auto added = s->AddDictionary(*dict);
  ASSERT_TRUE(added.has_value()) << added.error().ToString();
  EXPECT_EQ(added->first, 1u);
  EXPECT_EQ(added->second.dict_id, 1u);
  EXPECT_EQ(s->current_dictionary(), 1u);

  auto with = s->Compress(raw, Sha256(raw));
  ASSERT_TRUE(with.has_value());
  EXPECT_EQ(with->dict_id, 1u);
  EXPECT_LT(with->frame.size(), plain->frame.size());

  auto loc_dict = s->Append(*with);
  auto loc_plain = s->Append(*plain);  // an old frame without dictionary still appends
  ASSERT_TRUE(loc_dict && loc_plain);
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_EQ(*s->Read(*loc_dict), raw);
  EXPECT_EQ(*s->Read(*loc_plain), raw);

  auto d = s->ReadDictionary(added->second);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  EXPECT_EQ(*d, *dict);
  // A blob location is not a dictionary and vice versa.
  EXPECT_EQ(s->ReadDictionary(*loc_dict).error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(s->Read(added->second).error().code(), ErrorCode::kCorruption);

  // Reopen: without the dictionary loaded the blob cannot be read; with it, it can.
  const uint32_t p = s->current_pack();
  const uint64_t len = s->current_pack_len();
  s.reset();
  s = OpenOrDie(t.packs(), {}, p, len);
  auto missing = s->Read(*loc_dict);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kFailedPrecondition);
  ASSERT_TRUE(s->LoadDictionary(1, *dict).has_value());
  EXPECT_EQ(s->current_dictionary(), 1u);
  EXPECT_EQ(*s->Read(*loc_dict), raw);
}

TEST(PackStoreTest, TrainDictionaryFailsOnTooFewSamples) {
  std::vector<std::string_view> samples = {"hello", "world"};
  auto d = PackStore::TrainDictionary(samples, 16 * 1024);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_FALSE(PackStore::TrainDictionary({}, 16 * 1024).has_value());
}

TEST(PackStoreTest, LoadDictionaryRules) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  const std::string a(2000, 'a'), b(2000, 'b'), c(2000, 'c');
  EXPECT_EQ(s->LoadDictionary(0, a).error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(s->LoadDictionary(3, a).has_value());
  ASSERT_TRUE(s->LoadDictionary(1, b).has_value());
  EXPECT_EQ(s->current_dictionary(), 3u);         // highest id wins
  ASSERT_TRUE(s->LoadDictionary(3, a).has_value());  // same bytes: no-op
  EXPECT_EQ(s->LoadDictionary(3, b).error().code(), ErrorCode::kInvalidArgument);
  auto added = s->AddDictionary(c);
  ASSERT_TRUE(added.has_value());
  EXPECT_EQ(added->first, 4u);
  EXPECT_EQ(s->current_dictionary(), 4u);
  // A blob naming a dictionary this store does not know is refused.
  auto blob = s->Compress("x", Sha256("x"));
  blob->dict_id = 9;
  EXPECT_EQ(s->Append(*blob).error().code(), ErrorCode::kInvalidArgument);
}

// ---- packs, reopen, roll --------------------------------------------------------

TEST(PackStoreTest, ManyBlobsAcrossPackRoll) {
  TempDir t;
  PackStoreOptions o;
  o.compression_level = 3;
  o.pack_size_limit = 8 * 1024;
  auto s = OpenOrDie(t.packs(), o);
  auto msgs = FakeMessages(300, 200);
  std::vector<BlobLocation> locs;
  for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m));
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_GT(s->current_pack(), 5u);
  for (size_t i = 1; i < locs.size(); ++i) {
    const auto& a = locs[i - 1];
    const auto& b = locs[i];
    if (a.pack == b.pack) {
      EXPECT_EQ(b.offset, a.offset + kRecordHeaderSize + a.stored_len);
    } else {
      EXPECT_EQ(b.pack, a.pack + 1);
      EXPECT_EQ(b.offset, 0u);
    }
  }
  uint64_t sum = 0;
  for (uint32_t p = 1; p <= s->current_pack(); ++p) {
    auto size = fs::file_size(PackPath(t.packs(), p));
    EXPECT_LE(size, o.pack_size_limit);
    sum += size;
  }
  EXPECT_EQ(*s->TotalBytes(), sum);
  for (size_t i = 0; i < msgs.size(); ++i) {
    auto r = s->Read(locs[i]);
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_EQ(*r, msgs[i]);
  }
}

TEST(PackStoreTest, RecordLargerThanPackLimitGetsAPackOfItsOwn) {
  TempDir t;
  PackStoreOptions o;
  o.pack_size_limit = 256;
  auto s = OpenOrDie(t.packs(), o);
  std::mt19937 rng(7);
  std::string big(4000, '\0');
  for (auto& ch : big) ch = static_cast<char>(rng());  // incompressible
  auto a = AddOrDie(*s, "small");
  auto b = AddOrDie(*s, big);
  auto c = AddOrDie(*s, "small again");
  EXPECT_EQ(a.pack, 1u);
  EXPECT_EQ(b.pack, 2u);
  EXPECT_EQ(b.offset, 0u);
  EXPECT_EQ(c.pack, 3u);
  EXPECT_EQ(*s->Read(b), big);
}

TEST(PackStoreTest, ReopenAndRead) {
  TempDir t;
  auto msgs = FakeMessages(50, 100);
  std::vector<BlobLocation> locs;
  uint32_t p = 0;
  uint64_t len = 0;
  {
    auto s = OpenOrDie(t.packs());
    for (size_t i = 0; i < 25; ++i) locs.push_back(AddOrDie(*s, msgs[i]));
    ASSERT_TRUE(s->Sync().has_value());
    p = s->current_pack();
    len = s->current_pack_len();
  }
  {
    auto s = OpenOrDie(t.packs(), {}, p, len);
    EXPECT_EQ(s->quarantined_bytes(), 0u);
    EXPECT_EQ(s->current_pack(), p);
    EXPECT_EQ(s->current_pack_len(), len);
    for (size_t i = 25; i < 50; ++i) locs.push_back(AddOrDie(*s, msgs[i]));
    ASSERT_TRUE(s->Sync().has_value());
    EXPECT_EQ(locs[25].offset, len);  // appends continue at the committed end
    p = s->current_pack();
    len = s->current_pack_len();
  }
  auto ro = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(ro.has_value());
  for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(*(*ro)->Read(locs[i]), msgs[i]);
  auto blob = (*ro)->Compress("x", Sha256("x"));
  ASSERT_TRUE(blob.has_value());
  EXPECT_EQ((*ro)->Append(*blob).error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*ro)->Sync().error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*ro)->AddDictionary("dict").error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), p)), len);
}

TEST(PackStoreTest, RollStartsAnEmptyPack) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  auto a = AddOrDie(*s, "first");
  ASSERT_TRUE(s->Roll().has_value());
  EXPECT_EQ(s->current_pack(), 2u);
  EXPECT_EQ(s->current_pack_len(), 0u);
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_TRUE(fs::exists(PackPath(t.packs(), 2)));
  s.reset();
  s = OpenOrDie(t.packs(), {}, 2, 0);
  auto b = AddOrDie(*s, "second");
  EXPECT_EQ(b.pack, 2u);
  EXPECT_EQ(*s->Read(a), "first");
  EXPECT_EQ(*s->Read(b), "second");
}

TEST(PackStoreTest, OpenRejectsACommittedEndThatIsNotThere) {
  TempDir t;
  uint64_t len = 0;
  {
    auto s = OpenOrDie(t.packs());
    AddOrDie(*s, "hello");
    ASSERT_TRUE(s->Sync().has_value());
    len = s->current_pack_len();
  }
  auto longer = PackStore::Open(t.packs(), {}, 1, len + 1);
  ASSERT_FALSE(longer.has_value());
  EXPECT_EQ(longer.error().code(), ErrorCode::kCorruption);
  auto missing = PackStore::Open(t.packs(), {}, 2, 10);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kCorruption);
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), 1)), len);  // untouched
  EXPECT_FALSE(fs::exists(t.packs() + "/orphans"));
  PackStoreOptions bad;
  bad.compression_level = 99;
  EXPECT_EQ(PackStore::Open(t.packs(), bad, 1, len).error().code(), ErrorCode::kInvalidArgument);
}

// ---- corruption -------------------------------------------------------------------

TEST(PackStoreTest, FlippedPayloadByteIsCorruption) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  AddOrDie(*s, "before");
  const std::string raw = FakeMessages(1, 200)[0];
  auto loc = AddOrDie(*s, raw);
  ASSERT_TRUE(s->Sync().has_value());
  FlipByte(PackPath(t.packs(), 1), loc.offset + kRecordHeaderSize + loc.stored_len / 2);
  auto r = s->Read(loc);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(r.error().message().find("pack 000001.pack offset " + std::to_string(loc.offset)),
            std::string::npos)
      << r.error().message();
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
}

TEST(PackStoreTest, EveryFlippedHeaderByteIsCorruption) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  const std::string raw = FakeMessages(1, 50)[0];
  auto loc = AddOrDie(*s, raw);
  ASSERT_TRUE(s->Sync().has_value());
  const std::string path = PackPath(t.packs(), 1);
  for (uint64_t i = 0; i < kRecordHeaderSize; ++i) {
    FlipByte(path, i);
    auto r = s->Read(loc);
    ASSERT_FALSE(r.has_value()) << "byte " << i;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << "byte " << i;
    EXPECT_FALSE(s->ReadRecordHash(loc).has_value()) << "byte " << i;
    FlipByte(path, i);  // restore
  }
  EXPECT_EQ(*s->Read(loc), raw);
}

TEST(PackStoreTest, ReadChecksTheLocationAgainstTheHeader) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  auto loc = AddOrDie(*s, "some message");
  auto wrong = loc;
  wrong.raw_len += 1;
  EXPECT_EQ(s->Read(wrong).error().code(), ErrorCode::kCorruption);
  wrong = loc;
  wrong.offset += 1;
  EXPECT_EQ(s->Read(wrong).error().code(), ErrorCode::kCorruption);
  wrong = loc;
  wrong.pack = 7;
  EXPECT_EQ(s->Read(wrong).error().code(), ErrorCode::kCorruption);
}

TEST(PackStoreTest, DecompressionIsBoundedByTheRecordedRawLength) {
  TempDir t;
  ASSERT_EQ(::mkdir(t.packs().c_str(), 0700), 0);
  const std::string raw = FakeMessages(1, 2000)[0];

  // A frame without a content size, whose header claims far fewer bytes.
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  std::string frame(ZSTD_compressBound(raw.size()), '\0');
  size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), raw.data(), raw.size());
  ASSERT_FALSE(ZSTD_isError(n));
  frame.resize(n);
  // And a normal frame (with content size) whose header also lies.
  std::string sized(ZSTD_compressBound(raw.size()), '\0');
  ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  n = ZSTD_compress2(cctx, sized.data(), sized.size(), raw.data(), raw.size());
  ASSERT_FALSE(ZSTD_isError(n));
  sized.resize(n);
  ZSTD_freeCCtx(cctx);

  const auto sha = Sha256(raw);
  std::string r1 = EncodeRecord(1, 0, 100, sha, frame);
  std::string r2 = EncodeRecord(1, 0, 100, sha, sized);
  std::string r3 = EncodeRecord(1, 0, 1ull << 40, sha, sized);  // past max_raw_len
  std::string r4 = EncodeRecord(1, 0, raw.size(), sha, frame);  // honest, no content size
  WriteFile(PackPath(t.packs(), 1), r1 + r2 + r3 + r4);

  auto s = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(s.has_value());
  uint64_t off = 0;
  auto loc_of = [&](const std::string& rec, uint64_t raw_len) {
    BlobLocation l{1, off, static_cast<uint32_t>(rec.size() - kRecordHeaderSize), raw_len, 0};
    off += rec.size();
    return l;
  };
  auto l1 = loc_of(r1, 100), l2 = loc_of(r2, 100), l3 = loc_of(r3, 1ull << 40), l4 = loc_of(r4, raw.size());
  for (const auto& l : {l1, l2, l3}) {
    auto r = (*s)->Read(l);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kCorruption) << r.error().ToString();
  }
  auto ok = (*s)->Read(l4);
  ASSERT_TRUE(ok.has_value()) << ok.error().ToString();
  EXPECT_EQ(*ok, raw);

  // The hand-written records are what Scan sees, too.
  auto log = ScanAll(**s);
  ASSERT_EQ(log.records.size(), 4u);
  EXPECT_TRUE(log.errors.empty());
  EXPECT_EQ(log.records[3].location, l4);
  EXPECT_EQ(log.records[3].sha256, sha);
}

TEST(PackStoreTest, AppendRefusesAFrameThatDisagreesWithRawLen) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  auto blob = s->Compress("hello world", Sha256("hello world"));
  ASSERT_TRUE(blob.has_value());
  blob->raw_len = 5;
  EXPECT_EQ(s->Append(*blob).error().code(), ErrorCode::kInvalidArgument);
  PackStoreOptions o;
  o.max_raw_len = 4;
  auto small = OpenOrDie(t.path() + "/other", o);
  EXPECT_EQ(small->Compress("hello", Sha256("hello")).error().code(), ErrorCode::kInvalidArgument);
}

// ---- crash recovery -----------------------------------------------------------------

TEST(PackStoreTest, TornTailIsCutAtTheCommittedEndAndKept) {
  TempDir t;
  auto msgs = FakeMessages(4, 100);
  std::vector<BlobLocation> locs;
  uint64_t committed = 0;
  uint64_t torn_size = 0;
  {
    auto s = OpenOrDie(t.packs());
    locs.push_back(AddOrDie(*s, msgs[0]));
    locs.push_back(AddOrDie(*s, msgs[1]));
    ASSERT_TRUE(s->Sync().has_value());
    committed = s->current_pack_len();
    // Crash while appending the next record: half of it reaches the disk.
    auto c = AddOrDie(*s, msgs[2]);
    torn_size = c.offset + kRecordHeaderSize + c.stored_len / 2;
    fs::resize_file(PackPath(t.packs(), 1), torn_size);
  }
  {
    auto ro = PackStore::OpenReadOnly(t.packs(), {});
    ASSERT_TRUE(ro.has_value());
    auto log = ScanAll(**ro);
    EXPECT_EQ(log.records.size(), 2u);
    ASSERT_EQ(log.errors.size(), 1u);
    EXPECT_EQ(log.errors[0].first.offset, committed);
    EXPECT_NE(log.errors[0].second.find("torn"), std::string::npos) << log.errors[0].second;
    EXPECT_EQ(fs::file_size(PackPath(t.packs(), 1)), torn_size);  // read-only changes nothing
  }
  auto s = OpenOrDie(t.packs(), {}, 1, committed);
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), 1)), committed);
  EXPECT_EQ(s->quarantined_bytes(), torn_size - committed);
  const std::string orphan = t.packs() + "/orphans/000001-from-" + std::to_string(committed) + ".orphan";
  ASSERT_TRUE(fs::exists(orphan));
  EXPECT_EQ(fs::file_size(orphan), torn_size - committed);
  EXPECT_EQ(Mode(orphan), 0600u);
  EXPECT_EQ(Mode(t.packs() + "/orphans"), 0700u);

  locs.push_back(AddOrDie(*s, msgs[3]));
  EXPECT_EQ(locs.back().offset, committed);
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_EQ(*s->Read(locs[0]), msgs[0]);
  EXPECT_EQ(*s->Read(locs[1]), msgs[1]);
  EXPECT_EQ(*s->Read(locs[2]), msgs[3]);
  auto log = ScanAll(*s);
  EXPECT_EQ(log.records.size(), 3u);
  EXPECT_TRUE(log.errors.empty());
}

// Every pack's bytes, by name (orphans/ not included).
std::map<std::string, std::string> PackBytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) out[e.path().filename()] = *ReadFile(e.path());
  }
  return out;
}

// Packs the committed end does not know are never moved or cut: a catalog
// that lost its last packs (or an empty one, {0,0}) makes Open refuse and
// change nothing; an empty unknown pack is just removed.
TEST(PackStoreTest, PacksTheCatalogDoesNotKnowAreNeverOrphaned) {
  TempDir t;
  PackStoreOptions o;
  o.pack_size_limit = 1024;
  auto msgs = FakeMessages(40, 150);
  uint32_t committed_pack = 0;
  uint64_t committed_len = 0;
  {
    auto s = OpenOrDie(t.packs(), o);
    for (size_t i = 0; i < 10; ++i) AddOrDie(*s, msgs[i]);
    ASSERT_TRUE(s->Sync().has_value());
    committed_pack = s->current_pack();
    committed_len = s->current_pack_len();
    for (size_t i = 10; i < 40; ++i) AddOrDie(*s, msgs[i]);
    ASSERT_TRUE(s->Sync().has_value());
    ASSERT_GT(s->current_pack(), committed_pack + 1);
  }
  const auto before = PackBytes(t.packs());
  for (auto [pack, len] : {std::pair<uint32_t, uint64_t>{committed_pack, committed_len}, {0, 0}}) {
    auto s = PackStore::Open(t.packs(), o, pack, len);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code(), ErrorCode::kFailedPrecondition);
    EXPECT_NE(s.error().message().find("never recorded"), std::string::npos) << s.error().message();
    EXPECT_EQ(PackBytes(t.packs()), before) << "nothing may be cut or moved";
    EXPECT_FALSE(fs::exists(t.packs() + "/orphans"));
  }
  // An empty pack past the known ones holds nothing to keep.
  fs::remove_all(t.packs());
  {
    auto s = OpenOrDie(t.packs(), o);
    AddOrDie(*s, msgs[0]);
    ASSERT_TRUE(s->Sync().has_value());
    committed_len = s->current_pack_len();
    ASSERT_TRUE(s->Roll().has_value());
  }
  ASSERT_EQ(fs::file_size(PackPath(t.packs(), 2)), 0u);
  auto s = OpenOrDie(t.packs(), o, 1, committed_len);
  EXPECT_FALSE(fs::exists(PackPath(t.packs(), 2)));
  EXPECT_EQ(s->quarantined_bytes(), 0u);
}

// Each known pack is cut back to its own recorded end (a batch that rolled
// from pack 1 to 2 and was never committed leaves records in both); the
// cut bytes are kept in orphans/. A known last pack that was never created
// (the catalog recorded it, then a crash) is created.
TEST(PackStoreTest, EveryKnownPackIsCutAtItsRecordedEnd) {
  TempDir t;
  PackStoreOptions o;
  o.pack_size_limit = 2048;
  auto msgs = FakeMessages(20, 150);
  std::vector<BlobLocation> locs;
  uint64_t end1 = 0;
  {
    auto s = OpenOrDie(t.packs(), o);
    locs.push_back(AddOrDie(*s, msgs[0]));
    ASSERT_TRUE(s->Sync().has_value());
    end1 = s->current_pack_len();
    for (size_t i = 1; i < 20 && s->current_pack() < 3; ++i) AddOrDie(*s, msgs[i]);
    ASSERT_TRUE(s->Sync().has_value());
    ASSERT_EQ(s->current_pack(), 3u);
  }
  const uint64_t size1 = fs::file_size(PackPath(t.packs(), 1));
  const uint64_t size2 = fs::file_size(PackPath(t.packs(), 2));
  ASSERT_GT(size1, end1);
  fs::remove(PackPath(t.packs(), 3));  // pack 3 recorded at 0, never created
  auto s = PackStore::Open(t.packs(), o, PackStore::PackEnds{{1, end1}, {2, 0}, {3, 0}});
  ASSERT_TRUE(s.has_value()) << s.error().ToString();
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), 1)), end1);
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), 2)), 0u);
  EXPECT_EQ(fs::file_size(PackPath(t.packs(), 3)), 0u);
  EXPECT_EQ((*s)->quarantined_bytes(), size1 - end1 + size2);
  EXPECT_TRUE(fs::exists(t.packs() + "/orphans/000001-from-" + std::to_string(end1) + ".orphan"));
  EXPECT_TRUE(fs::exists(t.packs() + "/orphans/000002-from-0.orphan"));
  EXPECT_EQ(*(*s)->Read(locs[0]), msgs[0]);
  auto loc = AddOrDie(**s, "after recovery");
  EXPECT_EQ(loc.pack, 3u);
  EXPECT_EQ(loc.offset, 0u);
}

// The hook runs before a new pack exists; its error stops the roll.
TEST(PackStoreTest, NewPackHookRunsBeforeThePackIsCreated) {
  TempDir t;
  PackStoreOptions o;
  o.pack_size_limit = 1024;
  auto s = OpenOrDie(t.packs(), o);
  std::vector<std::tuple<uint32_t, uint64_t, uint32_t>> calls;
  bool refuse = false;
  s->SetNewPackHook([&](uint32_t closing, uint64_t len, uint32_t next) -> Status {
    calls.emplace_back(closing, len, next);
    EXPECT_FALSE(fs::exists(PackPath(t.packs(), next)));
    if (refuse) return MakeError(ErrorCode::kIoError, "catalog is down");
    return OkStatus();
  });
  auto msgs = FakeMessages(10, 150);
  AddOrDie(*s, msgs[0]);
  const uint64_t len1 = s->current_pack_len();
  while (s->current_pack() == 1) AddOrDie(*s, msgs[1]);
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], std::make_tuple(0u, uint64_t{0}, 1u));
  EXPECT_EQ(std::get<0>(calls[1]), 1u);
  EXPECT_EQ(std::get<1>(calls[1]), fs::file_size(PackPath(t.packs(), 1)));
  EXPECT_GE(std::get<1>(calls[1]), len1);
  refuse = true;
  auto c = s->Compress(msgs[2], Sha256(msgs[2]));
  ASSERT_TRUE(c.has_value());
  while (s->current_pack_len() + kRecordHeaderSize + c->frame.size() <= o.pack_size_limit) {
    ASSERT_TRUE(s->Append(*c).has_value());
  }
  auto refused = s->Append(*c);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message().find("catalog is down"), std::string::npos);
  EXPECT_FALSE(fs::exists(PackPath(t.packs(), 3)));
}

// ---- scan ---------------------------------------------------------------------------

TEST(PackStoreTest, ScanFindsEveryRecordAndReportsATornTail) {
  TempDir t;
  PackStoreOptions o;
  o.pack_size_limit = 4096;
  auto msgs = FakeMessages(60, 150);
  auto s = OpenOrDie(t.packs(), o);
  std::vector<BlobLocation> expected;
  for (size_t i = 0; i < 20; ++i) expected.push_back(AddOrDie(*s, msgs[i]));
  auto d = s->AddDictionary(std::string(3000, 'd'));
  ASSERT_TRUE(d.has_value());
  expected.push_back(d->second);
  for (size_t i = 20; i < 60; ++i) expected.push_back(AddOrDie(*s, msgs[i]));
  ASSERT_TRUE(s->Sync().has_value());

  auto log = ScanAll(*s);
  EXPECT_TRUE(log.errors.empty());
  ASSERT_EQ(log.records.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(log.records[i].location, expected[i]) << i;
    const bool is_dict = i == 20;
    EXPECT_EQ(log.records[i].kind,
              is_dict ? ScannedRecord::Kind::kDictionary : ScannedRecord::Kind::kBlob);
    if (!is_dict) {
      EXPECT_EQ(log.records[i].sha256, Sha256(msgs[i < 20 ? i : i - 1]));
    }
  }
  EXPECT_EQ(*s->ReadDictionary(log.records[20].location), std::string(3000, 'd'));

  // Tear the last record of the last pack.
  const auto& last = expected.back();
  fs::resize_file(PackPath(t.packs(), last.pack), last.offset + 10);
  log = ScanAll(*s);
  EXPECT_EQ(log.records.size(), expected.size() - 1);
  ASSERT_EQ(log.errors.size(), 1u);
  EXPECT_EQ(log.errors[0].first.pack, last.pack);
  EXPECT_EQ(log.errors[0].first.offset, last.offset);
}

TEST(PackStoreTest, ScanResyncsPastDamage) {
  TempDir t;
  auto msgs = FakeMessages(10, 150);
  auto s = OpenOrDie(t.packs());
  std::vector<BlobLocation> locs;
  for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m));
  ASSERT_TRUE(s->Sync().has_value());
  const std::string path = PackPath(t.packs(), 1);

  // Payload damage: the header still frames the record, so only it is lost.
  FlipByte(path, locs[2].offset + kRecordHeaderSize + 3);
  // Header damage: found again by searching for the next valid record.
  FlipByte(path, locs[5].offset + 13);
  auto log = ScanAll(*s);
  ASSERT_EQ(log.errors.size(), 2u);
  EXPECT_EQ(log.errors[0].first.offset, locs[2].offset);
  EXPECT_NE(log.errors[0].second.find("payload CRC"), std::string::npos);
  EXPECT_EQ(log.errors[1].first.offset, locs[5].offset);
  EXPECT_NE(log.errors[1].second.find("skipped"), std::string::npos) << log.errors[1].second;
  ASSERT_EQ(log.records.size(), 8u);
  std::vector<uint64_t> got;
  for (const auto& r : log.records) got.push_back(r.location.offset);
  std::vector<uint64_t> want;
  for (size_t i = 0; i < locs.size(); ++i) {
    if (i != 2 && i != 5) want.push_back(locs[i].offset);
  }
  EXPECT_EQ(got, want);

  // Garbage (zeros) in the middle and at the end of a pack.
  fs::resize_file(path, fs::file_size(path) + 5000);
  log = ScanAll(*s);
  ASSERT_EQ(log.errors.size(), 3u);
  EXPECT_NE(log.errors[2].second.find("no valid record follows"), std::string::npos);

  // on_record's error stops the walk and is returned.
  int seen = 0;
  auto st = s->Scan(
      [&](const ScannedRecord&) -> Status {
        if (++seen == 3) return MakeError(ErrorCode::kInternal, "stop");
        return OkStatus();
      },
      [](uint32_t, uint64_t, const std::string&) {});
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().message(), "stop");
  EXPECT_EQ(seen, 3);
}

// ---- format, modes, threads --------------------------------------------------------------

TEST(PackStoreTest, HeaderBytesMatchTheDocumentedFormat) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  auto d = s->AddDictionary(std::string(1500, 'q'));
  ASSERT_TRUE(d.has_value());
  const std::string raw = "Subject: hi\r\n\r\nhello\r\n";
  auto blob = s->Compress(raw, Sha256(raw));
  ASSERT_TRUE(blob.has_value());
  auto loc = s->Append(*blob);
  ASSERT_TRUE(loc.has_value());
  ASSERT_TRUE(s->Sync().has_value());
  std::ifstream f(PackPath(t.packs(), 1), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // A compressible dictionary is stored as kind 3: one zstd frame of it.
  const std::string dict(1500, 'q');
  ASSERT_EQ(d->second.raw_len, dict.size());
  ASSERT_LT(d->second.stored_len, dict.size());
  const std::string payload = bytes.substr(kRecordHeaderSize, d->second.stored_len);
  std::string back(dict.size(), '\0');
  EXPECT_EQ(ZSTD_decompress(back.data(), back.size(), payload.data(), payload.size()), dict.size());
  EXPECT_EQ(back, dict);
  EXPECT_EQ(bytes, EncodeRecord(3, 1, dict.size(), Sha256(dict), payload) +
                       EncodeRecord(1, 1, raw.size(), Sha256(raw), blob->frame));
  // Frames carry their content size and no dictionary id or checksum.
  EXPECT_EQ(ZSTD_getFrameContentSize(blob->frame.data(), blob->frame.size()), raw.size());
  EXPECT_EQ(ZSTD_getDictID_fromFrame(blob->frame.data(), blob->frame.size()), 0u);
}

TEST(PackStoreTest, TombstoneMatchesTheDocumentedFormatAndScansAsOne) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  const std::string raw = "Subject: gone\r\n\r\nbye\r\n";
  auto blob = s->Compress(raw, Sha256(raw));
  ASSERT_TRUE(blob.has_value());
  ASSERT_TRUE(s->Append(*blob).has_value());
  auto tomb = s->AppendTombstone(Sha256(raw), 0x0102030405060708);
  ASSERT_TRUE(tomb.has_value()) << tomb.error().ToString();
  ASSERT_TRUE(s->Sync().has_value());
  EXPECT_EQ(tomb->stored_len, 8u);
  EXPECT_EQ(tomb->raw_len, 8u);
  std::ifstream f(PackPath(t.packs(), 1), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, EncodeRecord(1, 0, raw.size(), Sha256(raw), blob->frame) +
                       EncodeRecord(4, 0, 8, Sha256(raw), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8)));
  auto log = ScanAll(*s);
  EXPECT_TRUE(log.errors.empty());
  ASSERT_EQ(log.records.size(), 2u);
  EXPECT_EQ(log.records[1].kind, ScannedRecord::Kind::kTombstone);
  EXPECT_EQ(log.records[1].sha256, Sha256(raw));
  EXPECT_EQ(log.records[1].location, *tomb);
  // A tombstone is not a blob: reading it as one is refused.
  auto read = s->Read(*tomb);
  ASSERT_FALSE(read.has_value());
  EXPECT_NE(read.error().message().find("tombstone"), std::string::npos) << read.error().message();
}

TEST(PackStoreTest, IncompressibleDictionaryIsStoredAsIs) {
  TempDir t;
  auto s = OpenOrDie(t.packs());
  std::string dict;
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 4096; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    dict.push_back(static_cast<char>(x));
  }
  auto d = s->AddDictionary(dict);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->second.stored_len, dict.size());
  ASSERT_TRUE(s->Sync().has_value());
  std::ifstream f(PackPath(t.packs(), 1), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, EncodeRecord(2, 1, dict.size(), Sha256(dict), dict));
  EXPECT_EQ(*s->ReadDictionary(d->second), dict);
}

TEST(PackStoreTest, RegisteredDictionaryLoadsOnFirstUseAndDamageIsNamed) {
  TempDir t;
  auto msgs = FakeMessages(40, 300);
  BlobLocation dloc;
  std::vector<BlobLocation> locs;
  {
    auto s = OpenOrDie(t.packs());
    std::vector<std::string_view> samples(msgs.begin(), msgs.end());
    auto dict = PackStore::TrainDictionary(samples, 2048);
    ASSERT_TRUE(dict.has_value()) << dict.error().ToString();
    auto d = s->AddDictionary(*dict);
    ASSERT_TRUE(d.has_value());
    dloc = d->second;
    for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m));
    ASSERT_TRUE(s->Sync().has_value());
  }
  {
    // A second store knows only where the record is.
    auto r = PackStore::OpenReadOnly(t.packs(), {});
    ASSERT_TRUE(r.has_value());
    auto& s = **r;
    auto before = s.Read(locs[0]);
    ASSERT_FALSE(before.has_value());
    EXPECT_EQ(before.error().code(), ErrorCode::kFailedPrecondition);
    ASSERT_TRUE(s.RegisterDictionary(dloc.dict_id, dloc).has_value());
    EXPECT_EQ(s.current_dictionary(), dloc.dict_id);
    for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(*s.Read(locs[i]), msgs[i]);
    BlobLocation elsewhere = dloc;
    elsewhere.offset += 1;
    EXPECT_FALSE(s.RegisterDictionary(dloc.dict_id, elsewhere).has_value());
  }
  // Damage in the pack record: the record is rebuilt through its repair file.
  const uint64_t flip = dloc.offset + kRecordHeaderSize + dloc.stored_len / 2;
  FlipByte(PackPath(t.packs(), 1), flip);
  {
    auto r = PackStore::OpenReadOnly(t.packs(), {});
    ASSERT_TRUE(r.has_value());
    ASSERT_TRUE((*r)->RegisterDictionary(dloc.dict_id, dloc).has_value());
    for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(*(*r)->Read(locs[i]), msgs[i]);
    DictionaryCheck c = (*r)->CheckDictionary(dloc);
    EXPECT_TRUE(c.readable);
    EXPECT_NE(c.pack_damage.find("payload CRC mismatch"), std::string::npos) << c.pack_damage;
    EXPECT_EQ(c.repair_damage, "");
  }
  // And in the repair file as well: now the dictionary is lost, and named.
  const std::string repair = t.packs() + "/dictionaries/1.repair";
  ASSERT_EQ(Mode(repair), 0600u);
  ASSERT_EQ(Mode(t.packs() + "/dictionaries"), 0700u);
  FlipByte(repair, 200);
  auto r = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE((*r)->RegisterDictionary(dloc.dict_id, dloc).has_value());
  auto read = (*r)->Read(locs[3]);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(read.error().message().find("dictionary 1 is unreadable"), std::string::npos) << read.error().message();
  EXPECT_NE(read.error().message().find("body CRC mismatch"), std::string::npos) << read.error().message();
  EXPECT_FALSE((*r)->ReadDictionary(dloc).has_value());
  EXPECT_FALSE((*r)->CheckDictionary(dloc).readable);
  // Only the repair file damaged: the pack record is used.
  FlipByte(PackPath(t.packs(), 1), flip);
  auto again = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(again.has_value());
  ASSERT_TRUE((*again)->RegisterDictionary(dloc.dict_id, dloc).has_value());
  EXPECT_EQ(*(*again)->Read(locs[3]), msgs[3]);
  DictionaryCheck c = (*again)->CheckDictionary(dloc);
  EXPECT_TRUE(c.readable);
  EXPECT_EQ(c.pack_damage, "");
  EXPECT_NE(c.repair_damage.find("body CRC mismatch"), std::string::npos) << c.repair_damage;
  // A writer replaces the damaged repair file from the intact record.
  auto w = OpenOrDie(t.packs(), {}, 1, fs::file_size(PackPath(t.packs(), 1)));
  ASSERT_TRUE(w->RegisterDictionary(dloc.dict_id, dloc).has_value());
  EXPECT_EQ(*w->WriteMissingRepairFiles(), 1);
  EXPECT_EQ(w->CheckDictionary(dloc).repair_damage, "");
  EXPECT_EQ(*w->WriteMissingRepairFiles(), 0);
}

// Scan (rebuild-catalog's walk) yields a damaged dictionary record rebuilt
// through its repair file, and reports the damage once.
TEST(PackStoreTest, ScanRebuildsADamagedDictionaryRecordFromItsRepairFile) {
  TempDir t;
  auto msgs = FakeMessages(40, 300);
  BlobLocation dloc;
  {
    auto s = OpenOrDie(t.packs());
    AddOrDie(*s, msgs[0]);
    std::vector<std::string_view> samples(msgs.begin(), msgs.end());
    auto d = s->AddDictionary(*PackStore::TrainDictionary(samples, 2048));
    ASSERT_TRUE(d.has_value());
    dloc = d->second;
    for (size_t i = 1; i < msgs.size(); ++i) AddOrDie(*s, msgs[i]);
    ASSERT_TRUE(s->Sync().has_value());
  }
  FlipByte(PackPath(t.packs(), 1), dloc.offset + 9);  // in the header: resync territory
  auto r = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(r.has_value());
  auto log = ScanAll(**r);
  EXPECT_EQ(log.records.size(), msgs.size() + 1);
  ASSERT_EQ(log.errors.size(), 1u);
  EXPECT_EQ(log.errors[0].first.offset, dloc.offset);
  EXPECT_NE(log.errors[0].second.find("rebuilt from"), std::string::npos) << log.errors[0].second;
  auto bytes = (*r)->ReadDictionary(dloc);
  ASSERT_TRUE(bytes.has_value()) << bytes.error().ToString();
  ASSERT_TRUE((*r)->LoadDictionary(dloc.dict_id, *bytes).has_value());
  for (const auto& rec : log.records) {
    if (rec.kind == ScannedRecord::Kind::kBlob) {
      EXPECT_TRUE((*r)->Read(rec.location).has_value());
    }
  }
}

TEST(PackStoreTest, FileModes) {
  TempDir t;
  const mode_t old = ::umask(022);
  const std::string dir = t.path() + "/archive/packs";  // parents created too
  {
    auto s = OpenOrDie(dir);
    AddOrDie(*s, "mode test");
    ASSERT_TRUE(s->Sync().has_value());
  }
  ::umask(old);
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(PackPath(dir, 1)), 0600u);
}

TEST(PackStoreTest, ConcurrentCompressAndReadWhileAppending) {
  TempDir t;
  PackStoreOptions o;
  o.compression_level = 3;
  o.pack_size_limit = 64 * 1024;
  auto msgs = FakeMessages(400, 150);
  auto s = OpenOrDie(t.packs(), o);
  std::vector<BlobLocation> first;
  for (size_t i = 0; i < 100; ++i) first.push_back(AddOrDie(*s, msgs[i]));
  ASSERT_TRUE(s->Sync().has_value());
  std::vector<std::string_view> samples(msgs.begin(), msgs.begin() + 300);
  auto dict = PackStore::TrainDictionary(samples, 8 * 1024);
  ASSERT_TRUE(dict.has_value()) << dict.error().ToString();

  std::atomic<int> failures{0};
  std::atomic<bool> dict_seen{false};
  std::vector<std::vector<CompressedBlob>> produced(4);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = 100 + w; i < 400; i += 4) {
        auto c = s->Compress(msgs[i], Sha256(msgs[i]));
        if (!c) {
          ++failures;
          continue;
        }
        if (c->dict_id != 0) dict_seen = true;
        produced[w].push_back(std::move(*c));
        const auto& loc = first[(i * 31) % first.size()];
        auto r = s->Read(loc);
        if (!r || *r != msgs[(i * 31) % first.size()]) ++failures;
      }
    });
  }
  // The writer switches dictionaries and appends while workers run.
  ASSERT_TRUE(s->AddDictionary(*dict).has_value());
  for (size_t i = 100; i < 200; ++i) AddOrDie(*s, msgs[i]);
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(s->Sync().has_value());

  // Every produced frame appends and reads back.
  for (auto& v : produced) {
    for (const auto& c : v) {
      auto loc = s->Append(c);
      ASSERT_TRUE(loc.has_value());
      auto r = s->Read(*loc);
      ASSERT_TRUE(r.has_value()) << r.error().ToString();
      EXPECT_EQ(Sha256(*r), c.sha256);
    }
  }
  ASSERT_TRUE(s->Sync().has_value());
}

// ---- sealed records (store/PACK_FORMAT.md, "Sealed records") ----------------

std::shared_ptr<const crypto::ArchiveKeys> TestKeys(uint8_t seed) {
  auto k = std::make_shared<crypto::ArchiveKeys>();
  for (size_t i = 0; i < crypto::kKeySize; ++i) {
    k->pack.data()[i] = static_cast<uint8_t>(seed + i);
    k->catalog.data()[i] = static_cast<uint8_t>(seed * 3 + i);
    k->content.data()[i] = static_cast<uint8_t>(seed * 7 + i);
  }
  k->archive_id = "0123456789abcdef0123456789abcdef";
  return k;
}

PackStoreOptions SealedOptions(uint8_t seed = 1) {
  PackStoreOptions o;
  o.keys = TestKeys(seed);
  return o;
}

std::string FileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

uint32_t Le32(std::string_view b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

void PutLe32(std::string& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t Crc(std::string_view b) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(b.data()), static_cast<uInt>(b.size())));
}

// The records of one pack file as header and payload, framed by stored_len.
std::vector<std::pair<std::string, std::string>> SplitRecords(const std::string& pack) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t off = 0; off + kRecordHeaderSize <= pack.size();) {
    const uint32_t stored = Le32(pack, off + 12);
    out.emplace_back(pack.substr(off, kRecordHeaderSize), pack.substr(off + kRecordHeaderSize, stored));
    off += kRecordHeaderSize + stored;
  }
  return out;
}

// Changes one payload byte of the record at `rec` and fixes its payload CRC
// (and so its header CRC), so that only the seal can tell.
void TamperPayloadKeepingCrcs(const std::string& path, const BlobLocation& rec) {
  std::string b = FileBytes(path);
  b[rec.offset + kRecordHeaderSize + rec.stored_len / 2] ^= 0x01;
  PutLe32(b, rec.offset + 56, Crc(std::string_view(b).substr(rec.offset + kRecordHeaderSize, rec.stored_len)));
  PutLe32(b, rec.offset + 60, Crc(std::string_view(b).substr(rec.offset, 60)));
  WriteFile(path, b);
}

// Changes header byte `at` (in 0..55, bound by the seal) and fixes the header CRC.
void TamperHeaderKeepingCrcs(const std::string& path, const BlobLocation& rec, size_t at) {
  std::string b = FileBytes(path);
  b[rec.offset + at] ^= 0x01;
  PutLe32(b, rec.offset + 60, Crc(std::string_view(b).substr(rec.offset, 60)));
  WriteFile(path, b);
}

TEST(PackStoreTest, SealedRecordsMatchTheDocumentedFormatAndRoundTrip) {
  TempDir t;
  const PackStoreOptions o = SealedOptions();
  const crypto::ArchiveKeys& keys = *o.keys;
  auto msgs = FakeMessages(40, 200);
  std::vector<std::string_view> samples(msgs.begin(), msgs.end());
  auto dict = PackStore::TrainDictionary(samples, 4096);
  ASSERT_TRUE(dict.has_value()) << dict.error().ToString();
  auto s = OpenOrDie(t.packs(), o);
  auto d = s->AddDictionary(*dict);
  ASSERT_TRUE(d.has_value()) << d.error().ToString();
  std::vector<BlobLocation> locs;
  for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m, &keys));
  auto tomb = s->AppendTombstone(crypto::ContentHash(&keys, msgs[0]), 0x0102030405060708);
  ASSERT_TRUE(tomb.has_value()) << tomb.error().ToString();
  ASSERT_TRUE(s->Sync().has_value());

  // Bytes on disk: flags 0x0001, stored_len = sealed length, payload CRC
  // over the sealed bytes, hash field = HMAC under the content key, and the
  // payload opens under the pack key with header bytes 0..55 as associated data.
  auto records = SplitRecords(FileBytes(PackPath(t.packs(), 1)));
  ASSERT_EQ(records.size(), msgs.size() + 2);
  for (const auto& [h, payload] : records) {
    EXPECT_EQ(static_cast<uint8_t>(h[6]), 1u);
    EXPECT_EQ(static_cast<uint8_t>(h[7]), 0u);
    EXPECT_EQ(Le32(h, 56), Crc(payload));
    EXPECT_EQ(Le32(h, 60), Crc(std::string_view(h).substr(0, 60)));
  }
  auto opened = [&](size_t i) {
    auto plain = crypto::Open(keys.pack, records[i].second, std::string_view(records[i].first).substr(0, 56));
    EXPECT_TRUE(plain.has_value()) << "record " << i << ": " << (plain ? "" : plain.error().ToString());
    return plain ? *plain : std::string();
  };
  auto hash_field = [&](size_t i) { return records[i].first.substr(24, 32); };
  auto as_field = [](const Sha256Digest& d) { return std::string(d.begin(), d.end()); };
  // The dictionary (kind 3: one zstd frame of it, sealed).
  ASSERT_EQ(records[0].first[5], 3);
  const std::string dframe = opened(0);
  EXPECT_EQ(records[0].second.size(), dframe.size() + crypto::kSealOverhead);
  EXPECT_EQ(d->second.stored_len, records[0].second.size());
  std::string dback(dict->size(), '\0');
  EXPECT_EQ(ZSTD_decompress(dback.data(), dback.size(), dframe.data(), dframe.size()), dict->size());
  EXPECT_EQ(dback, *dict);
  EXPECT_EQ(hash_field(0), as_field(crypto::ContentHash(&keys, *dict)));
  // A blob: one zstd frame of the message, named by its keyed hash.
  ASSERT_EQ(records[1].first[5], 1);
  const std::string frame = opened(1);
  EXPECT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), msgs[0].size());
  EXPECT_EQ(hash_field(1), as_field(crypto::ContentHash(&keys, msgs[0])));
  EXPECT_NE(hash_field(1), as_field(Sha256(msgs[0])));
  // The tombstone: 8 bytes of time, sealed.
  ASSERT_EQ(records.back().first[5], 4);
  EXPECT_EQ(opened(records.size() - 1), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
  EXPECT_EQ(tomb->stored_len, 8 + crypto::kSealOverhead);

  // Round trip, also from a second store that knows only where records are.
  for (size_t i = 0; i < msgs.size(); ++i) EXPECT_EQ(*s->Read(locs[i]), msgs[i]);
  auto r = PackStore::OpenReadOnly(t.packs(), o);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE((*r)->RegisterDictionary(d->second.dict_id, d->second).has_value());
  for (size_t i = 0; i < msgs.size(); ++i) {
    auto back = (*r)->Read(locs[i]);
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, msgs[i]);
  }
  EXPECT_EQ(*(*r)->ReadDictionary(d->second), *dict);
  DictionaryCheck c = (*r)->CheckDictionary(d->second);
  EXPECT_TRUE(c.readable);
  EXPECT_EQ(c.pack_damage + c.repair_damage, "");
  auto log = ScanAll(**r);
  EXPECT_TRUE(log.errors.empty());
  ASSERT_EQ(log.records.size(), msgs.size() + 2);
  EXPECT_EQ(log.records.back().kind, ScannedRecord::Kind::kTombstone);
  EXPECT_EQ(log.records.back().sha256, crypto::ContentHash(&keys, msgs[0]));
  // A frame made by a plain store is not appended to a sealed one.
  auto plain_store = OpenOrDie(t.path() + "/plain");
  auto plain_frame = plain_store->Compress(msgs[1], Sha256(msgs[1]));
  ASSERT_TRUE(plain_frame.has_value());
  auto mixed = s->Append(*plain_frame);
  ASSERT_FALSE(mixed.has_value());
  EXPECT_EQ(mixed.error().code(), ErrorCode::kInvalidArgument);
}

// No message text in any byte under a sealed store (packs, dictionary
// records, repair files); the same records in a plain store show it (zstd
// stores incompressible blocks and dictionaries as they are).
TEST(PackStoreTest, NoPlaintextOfAMessageInAnySealedPackByte) {
  std::mt19937 rng(7);
  auto noise = [&](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng()));
    return s;
  };
  auto msgs = FakeMessages(20, 150);
  for (int i = 0; i < 5; ++i) msgs.push_back("Subject: needle-subject " + std::to_string(i) + "\r\n\r\n" + noise(3000));
  const std::string dict = noise(2000) + "needle-in-the-dictionary" + noise(2000);
  const std::vector<std::string> needles = {"needle-subject", "needle-in-the-dictionary", "linux-mips@linux-mips.org"};
  auto found_under = [&](const std::string& dir) {
    std::set<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      const std::string bytes = FileBytes(e.path().string());
      for (const auto& n : needles) {
        if (bytes.find(n) != std::string::npos) found.insert(n);
      }
    }
    return found;
  };
  for (bool sealed : {false, true}) {
    TempDir t;
    const PackStoreOptions o = sealed ? SealedOptions() : PackStoreOptions{};
    auto s = OpenOrDie(t.packs(), o);
    for (size_t i = 0; i < 10; ++i) AddOrDie(*s, msgs[i], o.keys.get());
    ASSERT_TRUE(s->AddDictionary(dict).has_value());
    for (size_t i = 10; i < msgs.size(); ++i) AddOrDie(*s, msgs[i], o.keys.get());
    ASSERT_TRUE(s->AppendTombstone(crypto::ContentHash(o.keys.get(), msgs[0]), 1).has_value());
    ASSERT_TRUE(s->Sync().has_value());
    ASSERT_TRUE(fs::exists(t.packs() + "/dictionaries/1.repair"));
    if (sealed) {
      EXPECT_TRUE(found_under(t.path()).empty());
    } else {
      EXPECT_EQ(found_under(t.path()).size(), 2u);  // the check sees plaintext where there is some
    }
  }
}

TEST(PackStoreTest, ASealedRecordOpensOnlyWithItsKeyAndUnderItsOwnHeader) {
  TempDir t;
  const PackStoreOptions o = SealedOptions();
  auto msgs = FakeMessages(3, 200);
  std::vector<BlobLocation> locs;
  {
    auto s = OpenOrDie(t.packs(), o);
    for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m, o.keys.get()));
    ASSERT_TRUE(s->Sync().has_value());
  }
  const std::string pack = PackPath(t.packs(), 1);
  auto expect_refused = [&](const PackStoreOptions& with, const BlobLocation& loc, ErrorCode code,
                            const std::string& why) {
    auto r = PackStore::OpenReadOnly(t.packs(), with);
    ASSERT_TRUE(r.has_value());
    auto read = (*r)->Read(loc, /*verify_hash=*/false);
    ASSERT_FALSE(read.has_value()) << "read " << loc.offset << " though " << why;
    EXPECT_EQ(read.error().code(), code) << read.error().ToString();
    EXPECT_NE(read.error().message().find(why), std::string::npos) << read.error().message();
  };
  // Another key, and no key at all.
  expect_refused(SealedOptions(2), locs[0], ErrorCode::kCorruption, "authentication failed");
  expect_refused({}, locs[0], ErrorCode::kFailedPrecondition, "passphrase");
  // A changed payload byte whose CRC was fixed up.
  TamperPayloadKeepingCrcs(pack, locs[1]);
  expect_refused(o, locs[1], ErrorCode::kCorruption, "authentication failed");
  // The payload under a changed header (its hash field; header CRC fixed up).
  TamperHeaderKeepingCrcs(pack, locs[2], 30);
  expect_refused(o, locs[2], ErrorCode::kCorruption, "authentication failed");
  auto r = PackStore::OpenReadOnly(t.packs(), o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*(*r)->Read(locs[0]), msgs[0]);  // the untouched one still reads
  // Scan without the key reports every sealed record instead of yielding it.
  auto keyless = PackStore::OpenReadOnly(t.packs(), {});
  ASSERT_TRUE(keyless.has_value());
  auto log = ScanAll(**keyless);
  EXPECT_TRUE(log.records.empty());
  ASSERT_EQ(log.errors.size(), msgs.size());
  EXPECT_NE(log.errors[0].second.find("passphrase"), std::string::npos) << log.errors[0].second;
}

TEST(PackStoreTest, WithKeysARecordThatIsNotSealedIsRefused) {
  TempDir t;
  auto msgs = FakeMessages(2, 100);
  BlobLocation blob, dloc;
  {
    auto s = OpenOrDie(t.packs());
    blob = AddOrDie(*s, msgs[0]);
    auto d = s->AddDictionary(std::string(2000, 'z'));
    ASSERT_TRUE(d.has_value());
    dloc = d->second;
    ASSERT_TRUE(s->AppendTombstone(Sha256(msgs[0]), 1).has_value());
    ASSERT_TRUE(s->Sync().has_value());
  }
  auto r = PackStore::OpenReadOnly(t.packs(), SealedOptions());
  ASSERT_TRUE(r.has_value());
  auto read = (*r)->Read(blob);
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().code(), ErrorCode::kCorruption);
  EXPECT_NE(read.error().message().find("not sealed"), std::string::npos) << read.error().message();
  auto dict = (*r)->ReadDictionary(dloc);
  ASSERT_FALSE(dict.has_value());
  EXPECT_NE(dict.error().message().find("not sealed"), std::string::npos) << dict.error().message();
  auto log = ScanAll(**r);
  EXPECT_TRUE(log.records.empty());
  ASSERT_EQ(log.errors.size(), 3u);
  EXPECT_NE(log.errors[2].second.find("not sealed"), std::string::npos) << log.errors[2].second;
}

// A repair file protects a sealed dictionary record as stored: damage in
// the sealed payload is rebuilt, and the rebuilt record still opens.
TEST(PackStoreTest, ADamagedSealedDictionaryRecordIsRebuiltFromItsRepairFile) {
  TempDir t;
  const PackStoreOptions o = SealedOptions();
  auto msgs = FakeMessages(40, 300);
  BlobLocation dloc;
  std::vector<BlobLocation> locs;
  {
    auto s = OpenOrDie(t.packs(), o);
    std::vector<std::string_view> samples(msgs.begin(), msgs.end());
    auto d = s->AddDictionary(*PackStore::TrainDictionary(samples, 2048));
    ASSERT_TRUE(d.has_value());
    dloc = d->second;
    for (const auto& m : msgs) locs.push_back(AddOrDie(*s, m, o.keys.get()));
    ASSERT_TRUE(s->Sync().has_value());
  }
  FlipByte(PackPath(t.packs(), 1), dloc.offset + kRecordHeaderSize + dloc.stored_len / 2);
  auto r = PackStore::OpenReadOnly(t.packs(), o);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE((*r)->RegisterDictionary(dloc.dict_id, dloc).has_value());
  for (size_t i = 0; i < msgs.size(); ++i) {
    auto back = (*r)->Read(locs[i]);
    ASSERT_TRUE(back.has_value()) << back.error().ToString();
    EXPECT_EQ(*back, msgs[i]);
  }
  DictionaryCheck c = (*r)->CheckDictionary(dloc);
  EXPECT_TRUE(c.readable);
  EXPECT_NE(c.pack_damage.find("payload CRC mismatch"), std::string::npos) << c.pack_damage;
  EXPECT_EQ(c.repair_damage, "");
}

}  // namespace
}  // namespace mailkeep::blobs
