#include "sync/local/local_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/util/files.h"
#include "sync/local/mbox_splitter.h"

namespace mailkeep::local {
namespace {

namespace fs = std::filesystem;

class LocalSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/local_source_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    // Canonical, so it compares equal to the folder names ReadInput makes.
    dir_ = fs::canonical(tmpl).string();
  }
  void TearDown() override {
    std::error_code ec;
    // Give back permissions a test took away so that removal works.
    for (auto& p : fs::recursive_directory_iterator(dir_, ec)) {
      fs::permissions(p.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    }
    fs::remove_all(dir_, ec);
  }

  std::string Path(const std::string& rel) const { return dir_ + "/" + rel; }

  void Write(const std::string& rel, std::string_view data) {
    std::string p = Path(rel);
    ASSERT_TRUE(MakeDirs(p.substr(0, p.rfind('/'))));
    int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0) << p;
    ASSERT_TRUE(WriteAll(fd, data, p));
    ::close(fd);
  }
  void Mkdir(const std::string& rel) { ASSERT_TRUE(MakeDirs(Path(rel))); }

  struct Run {
    Status status;
    std::vector<RawMessage> messages;
    std::vector<std::pair<std::string, std::string>> problems;
  };
  Run Read(const std::string& rel, const ReadLimits& limits = {}, const FolderNaming& naming = {}) {
    Run run;
    run.status = ReadInput(
        rel.empty() ? dir_ : Path(rel),
        [&](RawMessage&& m) {
          run.messages.push_back(std::move(m));
          return OkStatus();
        },
        [&](const std::string& where, const std::string& why) {
          run.problems.emplace_back(where, why);
        },
        limits, naming);
    return run;
  }
  void Symlink(const std::string& target, const std::string& rel) {
    ASSERT_EQ(::symlink(target.c_str(), Path(rel).c_str()), 0) << rel;
  }

  std::string dir_;
};

std::vector<RawMessage> Split(std::string_view data) {
  std::vector<RawMessage> out;
  Status s = SplitMbox(data, "/f", [&](RawMessage&& m) {
    out.push_back(std::move(m));
    return OkStatus();
  });
  EXPECT_TRUE(s);
  return out;
}

std::string Gzip(std::string_view data, const std::string& path) {
  gzFile gz = gzopen(path.c_str(), "wb");
  EXPECT_NE(gz, nullptr);
  EXPECT_EQ(gzwrite(gz, data.data(), static_cast<unsigned>(data.size())),
            static_cast<int>(data.size()));
  EXPECT_EQ(gzclose(gz), Z_OK);
  auto bytes = ReadFile(path);
  return bytes ? *bytes : std::string();
}

// Compresses through the streaming API, in small pieces, so that the
// result has several blocks.
std::string Zstd(std::string_view data) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  std::string out;
  std::string buf(ZSTD_CStreamOutSize(), '\0');
  size_t pos = 0;
  for (;;) {
    size_t take = std::min<size_t>(1000, data.size() - pos);
    bool last = pos + take == data.size();
    ZSTD_inBuffer in{data.data() + pos, take, 0};
    size_t remaining;
    do {
      ZSTD_outBuffer o{buf.data(), buf.size(), 0};
      remaining = ZSTD_compressStream2(cctx, &o, &in, last ? ZSTD_e_end : ZSTD_e_continue);
      EXPECT_FALSE(ZSTD_isError(remaining));
      out.append(buf.data(), o.pos);
    } while (last ? remaining != 0 : in.pos != in.size);
    pos += take;
    if (last) break;
  }
  ZSTD_freeCCtx(cctx);
  return out;
}

// ---------- mbox splitting ----------

// The estimate a large import is told apart by: file sizes below the
// path, links not followed, counting stopped once there is enough.
TEST_F(LocalSourceTest, InputBytesCountsFilesUpToEnough) {
  Write("mbox", std::string(1000, 'x'));
  Write("tree/cur/1", std::string(300, 'x'));
  Write("tree/new/2", std::string(200, 'x'));
  Write("tree/deep/er/3", std::string(100, 'x'));
  Symlink(Path("mbox"), "tree/link");
  EXPECT_EQ(InputBytesUpTo({Path("mbox")}, 1), 1000u);  // a file: its size
  EXPECT_EQ(InputBytesUpTo({Path("tree")}, 1 << 20), 600u);
  const uint64_t partial = InputBytesUpTo({Path("tree")}, 250);
  EXPECT_GE(partial, 250u);  // stops at the first file that reaches it
  EXPECT_LT(partial, 600u);
  EXPECT_EQ(InputBytesUpTo({Path("missing")}, 1 << 20), 0u);
  EXPECT_EQ(InputBytesUpTo({Path("mbox"), Path("missing"), Path("tree")}, 1 << 20), 1600u);  // every path
}

TEST(SplitMboxTest, TwoMessagesWithBlankLineRemoved) {
  auto msgs = Split(
      "From a@b Thu Jan  1 00:00:00 1970\nSubject: one\n\nbody1\n\n"
      "From c@d Sat Mar  2 10:11:12 2024\nSubject: two\n\nbody2\n\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].bytes, "Subject: one\n\nbody1\n");
  EXPECT_EQ(msgs[1].bytes, "Subject: two\n\nbody2\n");
  EXPECT_EQ(msgs[0].origin.key, "0");
  EXPECT_EQ(msgs[1].origin.key, "55");
  EXPECT_EQ(msgs[0].origin.source, "mbox");
  EXPECT_EQ(msgs[0].origin.account, "local");
  EXPECT_EQ(msgs[0].origin.folder, "/f");
  EXPECT_FALSE(msgs[0].origin.internal_date.has_value());  // 1970-01-01
  ASSERT_TRUE(msgs[1].origin.internal_date.has_value());
  EXPECT_EQ(*msgs[1].origin.internal_date, 1709374272);  // 2024-03-02T10:11:12Z
}

TEST(SplitMboxTest, MboxrdUnquoting) {
  auto msgs = Split(
      "From x Mon Jan  1 00:00:00 2001\n"
      "Subject: q\n\n>From here\n>>From there\n>>>From deep\n> From not\n>Fromage\nFrom mid\n\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].bytes,
            "Subject: q\n\nFrom here\n>From there\n>>From deep\n> From not\n>Fromage\nFrom mid\n");
}

TEST(SplitMboxTest, MboxoQuotedFromIsUnquoted) {
  // mboxo writers quote only "From " lines; the reader removes that '>'.
  auto msgs = Split("From x\nA: b\n\nline\n>From the start\n\nFrom y\nC: d\n\nz\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].bytes, "A: b\n\nline\nFrom the start\n");
  EXPECT_EQ(msgs[1].bytes, "C: d\n\nz\n");
  EXPECT_EQ(msgs[1].origin.key, "35");
}

TEST(SplitMboxTest, FromInsideBodyWithoutBlankLineIsNotASeparator) {
  auto msgs = Split("From x\nA: b\n\ntext\nFrom me to you\nmore\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].bytes, "A: b\n\ntext\nFrom me to you\nmore\n");
}

TEST(SplitMboxTest, CrlfMbox) {
  auto msgs = Split(
      "From x Tue Feb  3 04:05:06 2015\r\nA: b\r\n\r\nbody\r\n\r\n"
      "From y\r\nC: d\r\n\r\nz\r\n\r\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].bytes, "A: b\r\n\r\nbody\r\n");
  EXPECT_EQ(msgs[1].bytes, "C: d\r\n\r\nz\r\n");
  EXPECT_EQ(msgs[1].origin.key, "49");
  ASSERT_TRUE(msgs[0].origin.internal_date.has_value());
  EXPECT_EQ(*msgs[0].origin.internal_date, 1422936306);
}

TEST(SplitMboxTest, LastMessageWithoutTrailingNewline) {
  auto msgs = Split("From x\nA: b\n\nfirst\n\nFrom y\nC: d\n\nno newline");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].bytes, "A: b\n\nfirst\n");
  EXPECT_EQ(msgs[1].bytes, "C: d\n\nno newline");
}

TEST(SplitMboxTest, MessageNotEndingInBlankLineKeepsItsBytes) {
  auto msgs = Split("From x\nA: b\n\nlast line\n");
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].bytes, "A: b\n\nlast line\n");
}

TEST(SplitMboxTest, ChunkBoundariesDoNotMatter) {
  std::string data =
      "From a Wed Dec 31 23:59:59 2003\nA: 1\n\n>From x\n\nFrom b\r\nB: 2\r\n\r\n\r\n"
      "From c\nC: 3\n\nFrom not sep\n\n"
      "From d Thu Feb  8 18:49:08 1996\nD: 4\n\nhi\nFrom the desk\nlast\n"
      "From - \nE: 5\n\ne\r\nFrom - \r\nF: 6\r\n\r\nf";
  auto whole = Split(data);
  ASSERT_EQ(whole.size(), 6u);
  EXPECT_EQ(whole[3].bytes, "D: 4\n\nhi\nFrom the desk\nlast\n");
  EXPECT_EQ(whole[4].bytes, "E: 5\n\ne\r\n");
  EXPECT_EQ(whole[5].bytes, "F: 6\r\n\r\nf");
  for (size_t chunk = 1; chunk <= 41; ++chunk) {
    std::vector<RawMessage> got;
    MessageSink sink = [&](RawMessage&& m) {
      got.push_back(std::move(m));
      return OkStatus();
    };
    MboxSplitter splitter("/f", sink, nullptr, ReadLimits{});
    for (size_t i = 0; i < data.size(); i += chunk) {
      ASSERT_TRUE(splitter.Feed(std::string_view(data).substr(i, chunk)));
    }
    ASSERT_TRUE(splitter.Finish());
    ASSERT_EQ(got.size(), whole.size()) << chunk;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].bytes, whole[i].bytes);
      EXPECT_EQ(got[i].origin.key, whole[i].origin.key);
      EXPECT_EQ(got[i].origin.internal_date, whole[i].origin.internal_date);
    }
  }
}

// Some writers (Netscape, sloppy scripts) put no empty line before the next
// From_ line; a line with the full From_ shape still separates messages.
TEST(SplitMboxTest, FromLineWithoutBlankLineBeforeItSplits) {
  auto msgs = Split(
      "From a@b Mon Aug  7 11:00:27 2017\nA: 1\n\nbody1\n"
      "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nB: 2\n\nbody2\n"
      "From - \nC: 3\n\n--boundary--\n"
      "From c@d Sat Mar  2 10:11:12 PST 2024\nD: 4\n\nx\n"
      "From e@f Sat, 24 Mar 2007 10:00:00 +0000\nE: 5\n\ny\n\n"
      "From g@h Tue Feb  3 04:05:06 2015 remote from uucphost\nF: 6\n\nz\n");
  ASSERT_EQ(msgs.size(), 6u);
  // Nothing is stripped when no empty line precedes the separator.
  EXPECT_EQ(msgs[0].bytes, "A: 1\n\nbody1\n");
  EXPECT_EQ(msgs[1].bytes, "B: 2\n\nbody2\n");
  EXPECT_EQ(msgs[2].bytes, "C: 3\n\n--boundary--\n");
  EXPECT_EQ(msgs[3].bytes, "D: 4\n\nx\n");
  EXPECT_EQ(msgs[4].bytes, "E: 5\n\ny\n");  // the empty line rule as before
  EXPECT_EQ(msgs[5].bytes, "F: 6\n\nz\n");
  EXPECT_EQ(msgs[1].origin.key, "46");
  EXPECT_FALSE(msgs[1].origin.internal_date.has_value());
  ASSERT_TRUE(msgs[3].origin.internal_date.has_value());
  EXPECT_EQ(*msgs[3].origin.internal_date, 1709374272);
  ASSERT_TRUE(msgs[4].origin.internal_date.has_value());
  EXPECT_EQ(*msgs[4].origin.internal_date, 1174730400);  // 2007-03-24T10:00:00Z
}

TEST(SplitMboxTest, CrlfFromLineWithoutBlankLineBeforeItSplits) {
  auto msgs = Split("From - \r\nA: 1\r\n\r\none\r\nFrom - \r\nB: 2\r\n\r\ntwo\r\n");
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[0].bytes, "A: 1\r\n\r\none\r\n");
  EXPECT_EQ(msgs[1].bytes, "B: 2\r\n\r\ntwo\r\n");
  EXPECT_EQ(msgs[1].origin.key, "22");
}

// Text before the first separator no longer hides a From_ line that
// follows it directly.
TEST(SplitMboxTest, FromLineRightAfterPreamble) {
  std::vector<RawMessage> msgs;
  std::vector<std::string> problems;
  MessageSink sink = [&](RawMessage&& m) {
    msgs.push_back(std::move(m));
    return OkStatus();
  };
  ProblemSink on_problem = [&](const std::string&, const std::string& why) { problems.push_back(why); };
  MboxSplitter splitter("/f", sink, &on_problem, ReadLimits{});
  ASSERT_TRUE(splitter.Feed("junk\nFrom x Wed Dec 31 23:59:59 2003\nA: 1\n\nb\n"));
  ASSERT_TRUE(splitter.Finish());
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].bytes, "A: 1\n\nb\n");
  EXPECT_EQ(msgs[0].origin.key, "5");
  EXPECT_EQ(problems.size(), 1u);
}

// Body lines that merely start with "From " do not split without an empty
// line in front of them.
TEST(SplitMboxTest, FromProseWithoutBlankLineIsNotASeparator) {
  const std::string body =
      "Dear all,\n"
      "From the desk of J. Smith\n"
      "From here to there\n"
      "From - to\n"
      "From -- \n"
      "From\n"
      "From a@b Mon\n"
      "From a@b Mon Aug  7 11:00:27\n"
      "From a@b Mon Aug  7 11:00:27 2017 and then some\n"
      "From Monday Aug  7 11:00:27 2017\n"
      "From a@b Mon Aug 32 11:00:27 2017\n"
      "From a@b Mon Aug  7 25:00:27 2017\n"
      "From a@b 24 Mar 2007\n"
      "From  : John Doe <jdoe@example.com>\n"
      "From: header-like\n"
      "From Mon Aug  7 11:00:27 2017\n"
      "end\n";
  auto msgs = Split("From x\nA: b\n\n" + body);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].bytes, "A: b\n\n" + body);
}

TEST(SplitMboxTest, FromSeparatorLineShapes) {
  EXPECT_TRUE(IsFromSeparatorLine("From - \n"));
  EXPECT_TRUE(IsFromSeparatorLine("From -\r\n"));
  EXPECT_TRUE(IsFromSeparatorLine("From - Mon Jun  3 12:50:27 1996\n"));
  EXPECT_TRUE(IsFromSeparatorLine("From mboxrd@z Thu Jan  1 00:00:00 1970"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00 2017"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00:27 2017 +0200"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00:27 2017 CEST"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00:27 +0200 2017"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b\tMon Aug  7 11:00:27 2017"));
  EXPECT_TRUE(IsFromSeparatorLine("From Customer Support Tue Jul 15 10:00:00 2003"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b Sat, 24 Mar 2007 10:00:00 +0000"));
  EXPECT_TRUE(IsFromSeparatorLine("From a@b 24 Mar 2007 10:00:00"));
  EXPECT_FALSE(IsFromSeparatorLine("From the desk of J. Smith"));
  EXPECT_FALSE(IsFromSeparatorLine("From - to"));
  EXPECT_FALSE(IsFromSeparatorLine("From a@b"));
  EXPECT_FALSE(IsFromSeparatorLine("From Mon Aug  7 11:00:27 2017"));
  EXPECT_FALSE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00:27 2017 and then"));
  EXPECT_FALSE(IsFromSeparatorLine("From a@b Mon Aug  7 11:00:27 1899"));
  EXPECT_FALSE(IsFromSeparatorLine(">From a@b Mon Aug  7 11:00:27 2017"));
  EXPECT_FALSE(IsFromSeparatorLine("From: a@b Mon Aug  7 11:00:27 2017"));
}

TEST(SplitMboxTest, SinkErrorStops) {
  int calls = 0;
  Status s = SplitMbox("From a\nA: 1\n\nFrom b\nB: 2\n", "/f", [&](RawMessage&&) -> Status {
    ++calls;
    return MakeError(ErrorCode::kIoError, "disk full");
  });
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "disk full");
  EXPECT_EQ(calls, 1);
}

TEST(SplitMboxTest, FromLineDates) {
  EXPECT_EQ(ParseFromLineDate("From a Thu Jan  1 00:00:00 1970"), std::nullopt);
  EXPECT_EQ(ParseFromLineDate("From a Thu Jan  1 12:00:00 1970"), std::nullopt);
  EXPECT_EQ(ParseFromLineDate("From a Fri Jan  2 00:00:00 1970\n"), 86400);
  EXPECT_EQ(ParseFromLineDate("From a@b Sat Mar  2 10:11:12 2024 +0100"), 1709374272 - 3600);
  EXPECT_EQ(ParseFromLineDate("From a@b Sat Mar  2 10:11:12 PST 2024"), 1709374272);
  EXPECT_EQ(ParseFromLineDate("From a@b"), std::nullopt);
  EXPECT_EQ(ParseFromLineDate("From a@b Sat Foo  2 10:11:12 2024"), std::nullopt);
}

// ---------- files on disk ----------

TEST_F(LocalSourceTest, MaildirCurNewAndFlags) {
  Write("md/cur/1000.a.host:2,SR", "Subject: a\n\nA\n");
  Write("md/cur/1001.b.host:2,FTDxS", "Subject: b\n\nB\n");
  Write("md/cur/1002.c.host!2,S", "Subject: c\n\nC\n");
  Write("md/new/1003.d.host", "Subject: d\n\nD\n");
  Write("md/tmp/1004.e.host", "Subject: e\n\nE\n");
  Write("md/cur/.hidden", "x");
  Write("md/dovecot-uidlist", "3 V1 N5\n");
  EXPECT_EQ(DetectInput(Path("md"), nullptr), InputKind::kMaildir);
  Run run = Read("md");
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.problems.empty());
  ASSERT_EQ(run.messages.size(), 4u);
  const auto& m = run.messages;
  EXPECT_EQ(m[0].origin.key, "1000.a.host");
  EXPECT_EQ(m[0].origin.flags, "\\Answered \\Seen");
  EXPECT_EQ(m[0].bytes, "Subject: a\n\nA\n");
  EXPECT_EQ(m[1].origin.key, "1001.b.host");
  EXPECT_EQ(m[1].origin.flags, "\\Deleted \\Draft \\Flagged \\Seen");
  EXPECT_EQ(m[2].origin.key, "1002.c.host");
  EXPECT_EQ(m[2].origin.flags, "\\Seen");
  EXPECT_EQ(m[3].origin.key, "1003.d.host");
  EXPECT_EQ(m[3].origin.flags, "");
  for (const auto& msg : m) {
    EXPECT_EQ(msg.origin.source, "maildir");
    EXPECT_EQ(msg.origin.account, "local");
    EXPECT_EQ(msg.origin.folder, Path("md"));
    EXPECT_TRUE(msg.origin.internal_date.has_value());
  }
}

TEST_F(LocalSourceTest, MaildirPlusPlusSubFolders) {
  Write("md/cur/1:2,S", "A: inbox\n\n");
  Write("md/.Sent/cur/2:2,S", "A: sent\n\n");
  Write("md/.Lists.foo/new/3", "A: lists\n\n");
  Write("md/.Lists.foo/maildirfolder", "");
  Write("md/.notmuch/xapian/postlist.glass", "not mail");
  Run run = Read("md");
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.problems.empty());
  ASSERT_EQ(run.messages.size(), 3u);
  EXPECT_EQ(run.messages[0].origin.folder, Path("md"));
  EXPECT_EQ(run.messages[1].origin.folder, Path("md/.Lists.foo"));
  EXPECT_EQ(run.messages[1].bytes, "A: lists\n\n");
  EXPECT_EQ(run.messages[2].origin.folder, Path("md/.Sent"));
  EXPECT_EQ(run.messages[2].origin.key, "2");
}

TEST_F(LocalSourceTest, FoldersByNameUnderAnAccount) {
  // What `export --format maildir` writes, both layouts, read back as names.
  Write("md/cur/1.M1.mailkeep:2,S", "A: inbox\n\n");
  Write("md/.Work.Projects/cur/1.M2.mailkeep:2,FR", "A: work\n\n");
  Write("md/.Donn\xc3\xa9" "es.v1%2E2/cur/1.M3.mailkeep", "A: dot\n\n");
  Write("md/.evil%2F..%00/cur/1.M4.mailkeep:2,", "A: evil\n\n");
  Write("nested/cur/1.M1.mailkeep:2,S", "A: inbox\n\n");
  Write("nested/Work/Projects/cur/1.M2.mailkeep:2,T", "A: work\n\n");
  Write("nested/%63ur/cur/1.M5.mailkeep", "A: cur\n\n");
  FolderNaming naming{"restored"};
  Run run = Read("md", {}, naming);
  ASSERT_TRUE(run.status);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& m : run.messages) {
    EXPECT_EQ(m.origin.account, "restored");
    EXPECT_EQ(m.origin.source, "maildir");
    got.emplace(m.origin.folder, m.origin.flags);
  }
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{{"INBOX", "\\Seen"},
                                                                 {"Work/Projects", "\\Answered \\Flagged"},
                                                                 {"Donn\xc3\xa9" "es/v1.2", ""},
                                                                 {"evil%2F/%00", ""}}));
  got.clear();
  run = Read("nested", {}, naming);
  ASSERT_TRUE(run.status);
  for (const auto& m : run.messages) got.emplace(m.origin.folder, m.origin.flags);
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{
                     {"INBOX", "\\Seen"}, {"Work/Projects", "\\Deleted"}, {"cur", ""}}));
  // Without an account: paths under "local", as before.
  run = Read("md");
  ASSERT_EQ(run.messages.size(), 4u);
  EXPECT_EQ(run.messages[0].origin.account, "local");
  EXPECT_EQ(run.messages[0].origin.folder, Path("md"));
}

TEST_F(LocalSourceTest, KeywordsFromDovecotKeywordsAndModifiedUtf7Names) {
  // As Dovecot (and `export --format maildir`) writes them.
  Write("md/dovecot-keywords", "0 $Label1\n1 Junk\n3 $Forwarded\n");
  Write("md/cur/1.x:2,Sad", "A: one\n\n");
  Write("md/cur/2.x:2,bcz", "A: two\n\n");  // c and z: no keyword there
  Write("md/.&ANw-bersicht/cur/3.x:2,Fa", "A: three\n\n");  // no keywords file in this folder
  Write("md/.R&D/cur/4.x:2,", "A: four\n\n");               // not modified UTF-7: kept
  Write("outside-keywords", "0 Planted\n");
  Write("md/.Linked/cur/5.x:2,a", "A: five\n\n");
  Symlink(Path("outside-keywords"), "md/.Linked/dovecot-keywords");
  FolderNaming naming{"restored"};
  Run run = Read("md", {}, naming);
  ASSERT_TRUE(run.status);
  std::set<std::pair<std::string, std::string>> got;
  for (const auto& m : run.messages) got.emplace(m.origin.folder, m.origin.flags);
  EXPECT_EQ(got, (std::set<std::pair<std::string, std::string>>{{"INBOX", "\\Seen $Label1 $Forwarded"},
                                                                 {"INBOX", "Junk"},
                                                                 {"\xc3\x9c" "bersicht", "\\Flagged"},
                                                                 {"R&D", ""},
                                                                 {"Linked", ""}}));
  ASSERT_EQ(run.problems.size(), 1u);  // the link out of the tree, not followed
  EXPECT_NE(run.problems[0].second.find("symbolic link out of the imported tree"), std::string::npos);
  naming.names = exporting::FolderNameEncoding::kUtf8;
  got.clear();
  for (const auto& m : Read("md", {}, naming).messages) got.emplace(m.origin.folder, m.origin.flags);
  EXPECT_TRUE(got.contains({"&ANw-bersicht", "\\Flagged"}));
}

TEST_F(LocalSourceTest, NestedMaildirs) {
  Write("tree/work/cur/1:2,", "A: 1\n\n");
  Write("tree/work/projects/x/new/2", "A: 2\n\n");
  Write("tree/personal/cur/3:2,F", "A: 3\n\n");
  Write("tree/notes.txt", "loose file, not in a maildir");
  Write("tree/loose/a.eml", "A: 4\n\n");
  Mkdir("tree/empty");
  EXPECT_EQ(DetectInput(Path("tree"), nullptr), InputKind::kMaildir);
  Run run = Read("tree");
  ASSERT_TRUE(run.status);
  // Loose files and directories of files beside Maildirs are read as
  // message files: a mixed tree imports whole.
  EXPECT_TRUE(run.problems.empty());
  ASSERT_EQ(run.messages.size(), 5u);
  EXPECT_EQ(run.messages[0].origin.source, "eml");
  EXPECT_EQ(run.messages[0].origin.folder, Path("tree/loose"));
  EXPECT_EQ(run.messages[1].origin.folder, Path("tree"));
  EXPECT_EQ(run.messages[1].origin.key, "notes.txt");
  EXPECT_EQ(run.messages[2].origin.folder, Path("tree/personal"));
  EXPECT_EQ(run.messages[2].origin.flags, "\\Flagged");
  EXPECT_EQ(run.messages[3].origin.folder, Path("tree/work"));
  EXPECT_EQ(run.messages[4].origin.folder, Path("tree/work/projects/x"));
}

TEST_F(LocalSourceTest, LooseMessagesInAMaildirFolderAreReadServerFilesAreNot) {
  Write("md/cur/1:2,S", "A: 1\n\n");
  Write("md/01:2,", "A: loose\n\n");           // notmuch's corpora keep messages here
  Write("md/bar/17:2,", "A: in a plain dir\n\n");
  Write("md/dovecot-uidlist", "3 V1 N2\n");
  Write("md/maildirfolder", "");
  Write("md/subscriptions", "INBOX\n");
  Run run = Read("md");
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.problems.empty()) << run.problems[0].first << ": " << run.problems[0].second;
  ASSERT_EQ(run.messages.size(), 3u);
  EXPECT_EQ(run.messages[0].origin.source, "maildir");
  EXPECT_EQ(run.messages[1].origin.key, "01:2,");
  EXPECT_EQ(run.messages[2].origin.folder, Path("md/bar"));
}

TEST_F(LocalSourceTest, MboxFileOnDisk) {
  Write("box.mbox", "From a Sat Mar  2 10:11:12 2024\nA: 1\n\n>From q\n\nFrom b\nB: 2\n\nx\n\n");
  EXPECT_EQ(DetectInput(Path("box.mbox"), nullptr), InputKind::kMbox);
  Run run = Read("box.mbox");
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.problems.empty());
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].bytes, "A: 1\n\nFrom q\n");
  EXPECT_EQ(run.messages[0].origin.folder, Path("box.mbox"));
  EXPECT_EQ(run.messages[0].origin.key, "0");
  EXPECT_EQ(run.messages[1].origin.key, "47");
  EXPECT_EQ(run.messages[1].bytes, "B: 2\n\nx\n");
}

// A bigger mbox, so that compressed reads cross many chunk boundaries.
std::string BigMbox(std::vector<std::string>* expected) {
  std::string mbox;
  for (int i = 0; i < 300; ++i) {
    std::string body = "Subject: m" + std::to_string(i) + "\n\n";
    for (int j = 0; j < 100 + i * 7; ++j) body += "line " + std::to_string(j) + " of message\n";
    body += ">From quoted\n";
    std::string raw = body;
    raw.replace(raw.size() - 13, 13, "From quoted\n");
    expected->push_back(raw);
    mbox += "From sender Mon Jun  3 12:00:00 2019\n" + body + "\n";
  }
  return mbox;
}

TEST_F(LocalSourceTest, GzipAndZstdMboxes) {
  std::vector<std::string> expected;
  std::string mbox = BigMbox(&expected);
  Gzip(mbox, Path("a.mbox.gz"));
  Write("b.mbox.zst", Zstd(mbox));
  // Detection is by magic bytes: a gzip file without the extension.
  Gzip(mbox, Path("c"));
  Write("d.mbox", mbox);
  std::vector<std::string> plain_keys;
  for (const char* name : {"d.mbox", "a.mbox.gz", "b.mbox.zst", "c"}) {
    EXPECT_EQ(DetectInput(Path(name), nullptr), InputKind::kMbox) << name;
    Run run = Read(name);
    ASSERT_TRUE(run.status) << name;
    EXPECT_TRUE(run.problems.empty()) << name;
    ASSERT_EQ(run.messages.size(), expected.size()) << name;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(run.messages[i].bytes, expected[i]) << name << " " << i;
      EXPECT_EQ(run.messages[i].origin.folder, Path(name));
    }
    std::vector<std::string> keys;
    for (const auto& m : run.messages) keys.push_back(m.origin.key);
    if (plain_keys.empty()) plain_keys = keys;
    EXPECT_EQ(keys, plain_keys) << "keys are offsets in the uncompressed stream";
  }
}

TEST_F(LocalSourceTest, EmlDirectoryRecursion) {
  Write("eml/a.eml", "Subject: a\n\n");
  Write("eml/sub/b.eml", "Subject: b\n\n");
  Write("eml/sub/deeper/c", "Subject: c\n\n");
  Write("eml/.hidden.eml", "Subject: hidden\n\n");
  Write("eml/.git/config", "[core]\n");
  Write("eml/sub/d.eml.zst", Zstd("Subject: d\n\n"));
  EXPECT_EQ(DetectInput(Path("eml"), nullptr), InputKind::kEmlDirectory);
  Run run = Read("eml");
  ASSERT_TRUE(run.status);
  EXPECT_TRUE(run.problems.empty());
  ASSERT_EQ(run.messages.size(), 4u);
  EXPECT_EQ(run.messages[0].origin.key, "a.eml");
  EXPECT_EQ(run.messages[1].origin.key, "sub/b.eml");
  EXPECT_EQ(run.messages[2].origin.key, "sub/d.eml.zst");
  EXPECT_EQ(run.messages[2].bytes, "Subject: d\n\n");
  EXPECT_EQ(run.messages[3].origin.key, "sub/deeper/c");
  for (const auto& m : run.messages) {
    EXPECT_EQ(m.origin.source, "eml");
    EXPECT_EQ(m.origin.folder, Path("eml"));
  }
}

TEST_F(LocalSourceTest, SingleMessageFileHasSameOriginAsInItsDirectory) {
  Write("one/msg.eml", "Subject: x\n\nbody");
  EXPECT_EQ(DetectInput(Path("one/msg.eml"), nullptr), InputKind::kMessageFile);
  Run single = Read("one/msg.eml");
  Run dir = Read("one");
  ASSERT_TRUE(single.status);
  ASSERT_EQ(single.messages.size(), 1u);
  ASSERT_EQ(dir.messages.size(), 1u);
  EXPECT_EQ(single.messages[0].bytes, "Subject: x\n\nbody");
  EXPECT_EQ(single.messages[0].origin.folder, dir.messages[0].origin.folder);
  EXPECT_EQ(single.messages[0].origin.key, dir.messages[0].origin.key);
}

TEST_F(LocalSourceTest, SameInputTwiceGivesSameOrigins) {
  Write("in/md/cur/1:2,S", "A: 1\n\n");
  Write("in/md/.Sub/new/2", "A: 2\n\n");
  Write("box", "From a\nA: 1\n\nFrom b\nB: 2\n");
  for (const std::string rel : {"in", "box"}) {
    Run first = Read(rel);
    // A relative spelling of the same path must not change the folder names.
    std::string cwd = fs::current_path().string();
    fs::current_path(dir_);
    Run second = Read("./" + rel);
    Run via_relative;
    via_relative.status = ReadInput(
        rel,
        [&](RawMessage&& m) {
          via_relative.messages.push_back(std::move(m));
          return OkStatus();
        },
        nullptr);
    fs::current_path(cwd);
    ASSERT_TRUE(first.status);
    ASSERT_TRUE(via_relative.status);
    ASSERT_EQ(first.messages.size(), 2u);
    ASSERT_EQ(via_relative.messages.size(), first.messages.size());
    for (size_t i = 0; i < first.messages.size(); ++i) {
      const Origin& a = first.messages[i].origin;
      const Origin& b = via_relative.messages[i].origin;
      EXPECT_EQ(a.source, b.source);
      EXPECT_EQ(a.folder, b.folder);
      EXPECT_EQ(a.key, b.key);
      EXPECT_EQ(first.messages[i].bytes, via_relative.messages[i].bytes);
    }
  }
}

TEST_F(LocalSourceTest, EmptyFileIsAProblemNotAMessage) {
  Write("eml/empty.eml", "");
  Write("eml/ok.eml", "A: b\n\n");
  Write("md/cur/1:2,S", "");
  Run run = Read("eml");
  ASSERT_TRUE(run.status);
  ASSERT_EQ(run.messages.size(), 1u);
  ASSERT_EQ(run.problems.size(), 1u);
  EXPECT_EQ(run.problems[0].first, Path("eml/empty.eml"));
  EXPECT_EQ(run.problems[0].second, "empty file");
  Run md = Read("md");
  ASSERT_TRUE(md.status);
  EXPECT_TRUE(md.messages.empty());
  ASSERT_EQ(md.problems.size(), 1u);
  EXPECT_EQ(md.problems[0].second, "empty file");
}

TEST_F(LocalSourceTest, UnreadableFileIsReportedAndReadingGoesOn) {
  Write("eml/a.eml", "A: 1\n\n");
  Write("eml/b.eml", "A: 2\n\n");
  Write("eml/c.eml", "A: 3\n\n");
  ASSERT_EQ(::chmod(Path("eml/b.eml").c_str(), 0), 0);
  auto check = [&] {
    Run run = Read("eml");
    ASSERT_TRUE(run.status);
    ASSERT_EQ(run.messages.size(), 2u);
    EXPECT_EQ(run.messages[1].origin.key, "c.eml");
    ASSERT_EQ(run.problems.size(), 1u);
    EXPECT_EQ(run.problems[0].first, Path("eml/b.eml"));
    EXPECT_NE(run.problems[0].second.find("ermission denied"), std::string::npos) << run.problems[0].second;
  };
  if (::geteuid() != 0) {
    check();
    return;
  }
  // Root reads a mode 000 file anyway: run the walk in a child that has
  // dropped to the unprivileged "nobody" user (65534).
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(Path("eml").c_str(), 0755), 0);
  for (const char* f : {"eml/a.eml", "eml/c.eml"}) ASSERT_EQ(::chmod(Path(f).c_str(), 0644), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    check();
    ::_exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the unprivileged walk failed (3 = could not drop privileges)";
}

TEST_F(LocalSourceTest, CorruptAndTruncatedCompressedFiles) {
  std::vector<std::string> expected;
  std::string mbox = BigMbox(&expected);
  std::string gz = Gzip(mbox, Path("good.gz"));
  ASSERT_GT(gz.size(), 1000u);
  // Gzip magic followed by garbage.
  Write("dir/bad.gz", std::string("\x1f\x8b\x08\x00", 4) + std::string(200, 'x'));
  // A gzip stream cut in half.
  Write("dir/cut.gz", gz.substr(0, gz.size() / 2));
  // A zstd stream cut in half.
  std::string zst = Zstd(mbox);
  Write("dir/cut.zst", zst.substr(0, zst.size() / 2));
  // Zstd magic followed by garbage.
  Write("dir/bad.zst", std::string("\x28\xb5\x2f\xfd", 4) + std::string(200, 'y'));
  Write("dir/fine.eml", "A: b\n\n");
  Run run = Read("dir");
  ASSERT_TRUE(run.status);
  std::vector<std::string> where;
  for (const auto& [w, why] : run.problems) where.push_back(w);
  EXPECT_EQ(where, (std::vector<std::string>{Path("dir/bad.gz"), Path("dir/bad.zst"),
                                             Path("dir/cut.gz"), Path("dir/cut.zst")}));
  for (const auto& [w, why] : run.problems) {
    EXPECT_TRUE(why.find("gzip") != std::string::npos || why.find("zstd") != std::string::npos)
        << w << ": " << why;
  }
  // The messages before the damage are kept, each one complete; the one
  // in progress when the data broke off is dropped.
  size_t from_cut = 0;
  for (const auto& m : run.messages) {
    if (m.origin.source != "mbox") continue;
    ++from_cut;
    size_t index = std::stoul(m.bytes.substr(10, m.bytes.find('\n') - 10));
    ASSERT_LT(index, expected.size());
    EXPECT_EQ(m.bytes, expected[index]);
  }
  EXPECT_GT(from_cut, 0u);
  EXPECT_LT(from_cut, 2 * expected.size());
  EXPECT_EQ(run.messages.back().origin.key, "fine.eml");
}

// A message past the size limit is dropped as it is decoded, whatever the
// compression: one problem names the file (or the mbox and byte offset),
// and the other files and the other messages of the mbox are read.
TEST_F(LocalSourceTest, MessagesOverTheSizeLimitAreSkippedOneLineEach) {
  constexpr uint64_t kLimit = 1 << 20;
  const std::string big = "Subject: big\n\n" + std::string(3 << 20, 'x') + "\n";
  Write("dir/a-big.eml", big);
  Write("dir/b-big.eml.zst", Zstd(big));
  Gzip(big, Path("dir/b2-big.eml.gz"));
  Write("dir/c-ok.eml", "Subject: ok\n\nfine\n");
  // An mbox: small, too large (a long body), small, too large (one line
  // longer than the limit, no line end), small.
  std::string mbox = "From a Sat Mar  2 10:11:12 2024\nSubject: 1\n\none\n\n";
  const size_t second = mbox.size();
  mbox += "From b Sat Mar  2 10:11:12 2024\nSubject: 2\n\n";
  for (int i = 0; i < 40000; ++i) mbox += "a line of forty bytes in a large body.\n";
  mbox += "\nFrom c Sat Mar  2 10:11:12 2024\nSubject: 3\n\nthree\n\n";
  const size_t fourth = mbox.size();
  mbox += "From d Sat Mar  2 10:11:12 2024\nSubject: 4\n\n" + std::string(2 << 20, 'y') + "\n";
  mbox += "\nFrom e Sat Mar  2 10:11:12 2024\nSubject: 5\n\nfive\n";
  Write("dir/d.mbox.zst", Zstd(mbox));

  Run run = Read("dir", ReadLimits{kLimit, "; raise it"});
  ASSERT_TRUE(run.status);
  std::vector<std::string> subjects;
  for (const auto& m : run.messages) subjects.push_back(m.bytes.substr(0, m.bytes.find('\n')));
  EXPECT_EQ(subjects, (std::vector<std::string>{"Subject: ok", "Subject: 1", "Subject: 3", "Subject: 5"}));
  const std::string why = "message larger than the 1 MiB limit; skipped; raise it";
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(run.problems,
            (std::vector<P>{P(Path("dir/a-big.eml"), why), P(Path("dir/b-big.eml.zst"), why),
                            P(Path("dir/b2-big.eml.gz"), why),
                            P(Path("dir/d.mbox.zst") + " at byte " + std::to_string(second), why),
                            P(Path("dir/d.mbox.zst") + " at byte " + std::to_string(fourth), why)}));
  // The keys of the messages after the skipped ones are still their offsets.
  EXPECT_EQ(run.messages[3].origin.key, std::to_string(mbox.rfind("From e")));

  // Under the default limit (64 MiB) all of them are read.
  Run all = Read("dir");
  EXPECT_TRUE(all.problems.empty());
  EXPECT_EQ(all.messages.size(), 9u);
}

// The limit applies to the bytes stored: after ">From " unquoting, and
// without the empty line in front of the next separator. A message at
// exactly the limit that way is read; one byte more is refused.
TEST_F(LocalSourceTest, MboxSizeLimitCountsTheUnquotedBytes) {
  constexpr size_t kLimit = 4096;
  auto stored = [&](size_t size) {  // "Subject" + 20 "From " lines, padded to `size`
    std::string m = "Subject: s\n\n";
    for (int i = 0; i < 20; ++i) m += "From quoted\n";
    return m + std::string(size - m.size() - 1, 'x') + "\n";
  };
  auto quoted = [](std::string m) {
    for (size_t at = m.find("\nFrom "); at != std::string::npos; at = m.find("\nFrom ", at + 2)) m.insert(at + 1, ">");
    return m;
  };
  const std::string at_limit = stored(kLimit), over = stored(kLimit + 1);
  const std::string one_line = "From " + std::string(kLimit - 6, 'y') + "\n";  // quoted: kLimit + 1 bytes
  const std::string sep = "From a Sat Mar  2 10:11:12 2024\n";
  const std::string mbox = sep + quoted(at_limit) + "\n" + sep + quoted(over) + "\n" + sep + ">" + one_line + "\n" +
                           sep + "Subject: ok\n\nfine\n\n";
  ASSERT_GT(quoted(at_limit).size(), kLimit);
  Write("m.mbox", mbox);

  Run run = Read("m.mbox", ReadLimits{kLimit, ""});
  ASSERT_TRUE(run.status);
  ASSERT_EQ(run.messages.size(), 3u);
  EXPECT_EQ(run.messages[0].bytes, at_limit);
  EXPECT_EQ(run.messages[1].bytes, one_line);
  EXPECT_EQ(run.messages[2].bytes, "Subject: ok\n\nfine\n");
  const size_t second = sep.size() + quoted(at_limit).size() + 1;
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(run.problems, (std::vector<P>{P(Path("m.mbox") + " at byte " + std::to_string(second),
                                            "message larger than the 4096 bytes limit; skipped")}));
}

// Links out of the tree given are never followed, each is reported once;
// links inside it are followed, and a loop ends.
TEST_F(LocalSourceTest, SymlinksOutOfTheTreeAreSkippedAndReported) {
  Write("outside/secret", "Subject: secret\n\nshadow\n");
  Write("outside/dir/cur/s1", "Subject: secret dir\n\nx\n");
  Write("tree/cur/m1:2,S", "Subject: one\n\n1\n");
  Write("tree/.Sub/cur/m2", "Subject: two\n\n2\n");
  Mkdir("tree/new");
  Symlink(Path("outside/secret"), "tree/cur/link-to-secret");
  Symlink("/", "tree/cur/link-to-root");
  Symlink("../outside/dir", "tree/nested");              // a directory out of the tree
  Symlink(Path("outside/dir"), "tree/.Evil");            // a Maildir++ folder out of it
  Symlink(Path("outside/dir/cur"), "tree/.Sub2");        // not even a Maildir
  Symlink("m1:2,S", "tree/cur/inside-link");             // followed: inside the tree
  Symlink("..", "tree/cur/loop");                         // a directory inside: not a file
  Symlink(".", "tree/again");                             // a loop: the tree inside itself
  Mkdir("tree2/cur");
  Symlink(Path("outside/dir/cur"), "tree2/new");          // new/ itself out of the tree
  Write("tree2/cur/m3", "Subject: three\n\n3\n");

  for (const char* rel : {"tree", "tree2"}) {
    Run run = Read(rel);
    ASSERT_TRUE(run.status);
    for (const auto& m : run.messages) EXPECT_EQ(m.bytes.find("secret"), std::string::npos) << m.origin.key;
    for (const auto& [where, why] : run.problems) {
      EXPECT_NE(why.find("symbolic link out of the imported tree"), std::string::npos) << where << ": " << why;
    }
    std::set<std::string> where;
    for (const auto& p : run.problems) where.insert(p.first);
    EXPECT_EQ(where.size(), run.problems.size()) << "a link reported twice";
    if (std::string(rel) == "tree") {
      EXPECT_EQ(where, (std::set<std::string>{Path("tree/.Evil"), Path("tree/.Sub2"), Path("tree/cur/link-to-root"),
                                              Path("tree/cur/link-to-secret"), Path("tree/nested")}));
      std::multiset<std::string> keys;
      for (const auto& m : run.messages) keys.insert(m.origin.key);
      EXPECT_EQ(keys, (std::multiset<std::string>{"inside-link", "m1", "m2"}));
    } else {
      EXPECT_EQ(where, (std::set<std::string>{Path("tree2/new")}));
      ASSERT_EQ(run.messages.size(), 1u);
      EXPECT_EQ(run.messages[0].origin.key, "m3");
    }
  }
  // A tree of message files (not a Maildir) and the input itself given
  // through a link: the tree is where the link resolves.
  Write("files/a.eml", "Subject: a\n\na\n");
  Write("files/sub/c.eml", "Subject: c\n\nc\n");
  Symlink(Path("outside/secret"), "files/b.eml");
  Symlink("..", "files/sub/up");  // a loop
  Symlink(Path("files"), "files-link");
  Run run = Read("files-link");
  ASSERT_TRUE(run.status);
  ASSERT_EQ(run.messages.size(), 2u);
  EXPECT_EQ(run.messages[0].origin.key, "a.eml");
  EXPECT_EQ(run.messages[1].origin.key, "sub/c.eml");
  ASSERT_EQ(run.problems.size(), 1u);
  EXPECT_EQ(run.problems[0].first, Path("files/b.eml"));
}

TEST_F(LocalSourceTest, SinkErrorStopsTheWalk) {
  Write("eml/a", "A: 1\n\n");
  Write("eml/b", "A: 2\n\n");
  int calls = 0;
  Status s = ReadInput(
      Path("eml"),
      [&](RawMessage&&) -> Status {
        ++calls;
        return MakeError(ErrorCode::kIoError, "archive full");
      },
      nullptr);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "archive full");
  EXPECT_EQ(calls, 1);
}

TEST_F(LocalSourceTest, MissingPathIsNotFound) {
  Run run = Read("does-not-exist");
  ASSERT_FALSE(run.status);
  EXPECT_EQ(run.status.error().code(), ErrorCode::kNotFound);
  std::string why;
  EXPECT_EQ(DetectInput(Path("does-not-exist"), &why), InputKind::kUnknown);
  EXPECT_FALSE(why.empty());
}

// mu's test maildirs, when the shared corpus is present.
TEST(CorpusTest, MuTestdata) {
  const std::string root = "/work/shared/corpus/mu-testdata/testdir";
  if (!fs::exists(root)) GTEST_SKIP() << root << " not present";
  std::vector<RawMessage> got;
  std::vector<std::string> problems;
  Status s = ReadInput(
      root,
      [&](RawMessage&& m) {
        got.push_back(std::move(m));
        return OkStatus();
      },
      [&](const std::string& where, const std::string& why) { problems.push_back(where + why); });
  ASSERT_TRUE(s);
  EXPECT_TRUE(problems.empty());
  EXPECT_FALSE(got.empty());
  bool saw_special = false;
  for (const auto& m : got) {
    if (m.origin.key == "special") {
      saw_special = true;
      EXPECT_EQ(m.origin.flags, "\\Seen");  // "!2,Sabc": lower-case letters ignored
    }
  }
  EXPECT_TRUE(saw_special);
}

}  // namespace
}  // namespace mailkeep::local
