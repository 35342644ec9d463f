#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include <gtest/gtest.h>

#include "store/export/folder_names.h"
#include "store/export/mbox.h"
#include "store/export/output_dir.h"
#include "store/export/parts.h"
#include "store/util/files.h"

namespace mailkeep::exporting {
namespace {

using Dir = std::vector<std::string>;

// No component may be empty, ".", "..", hold '/' or a control byte, or be
// longer than a file system allows.
void ExpectSafe(const Dir& dir) {
  for (const auto& c : dir) {
    EXPECT_FALSE(c.empty());
    EXPECT_NE(c, ".");
    EXPECT_NE(c, "..");
    EXPECT_EQ(c.find('/'), std::string::npos) << c;
    EXPECT_LE(c.size(), kMaxDirName) << c;
    for (unsigned char b : c) EXPECT_TRUE(b >= 0x20 && b != 0x7f) << c;
  }
}

TEST(FolderDirTest, MaildirPlusPlusAndNested) {
  const auto pp = MaildirLayout::kMaildirPlusPlus;
  const auto nested = MaildirLayout::kNested;
  EXPECT_EQ(FolderDir("INBOX", pp), Dir{});
  EXPECT_EQ(FolderDir("inbox", nested), Dir{});
  EXPECT_EQ(FolderDir("", pp), Dir{});
  EXPECT_EQ(FolderDir("Work/Projects", pp), Dir{".Work.Projects"});
  EXPECT_EQ(FolderDir("Work/Projects", nested), (Dir{"Work", "Projects"}));
  EXPECT_EQ(FolderDir("INBOX/Sub", pp), Dir{".INBOX.Sub"});
  EXPECT_EQ(FolderDir("v1.2", pp), Dir{".v1%2E2"});
  EXPECT_EQ(FolderDir("v1.2", nested), Dir{"v1.2"});
  EXPECT_EQ(FolderDir("Données/Été", pp, FolderNameEncoding::kUtf8), Dir{".Données.Été"});  // UTF-8 kept
  // Modified UTF-7 by default, as Dovecot spells its Maildir++ folders.
  EXPECT_EQ(FolderDir("Données/Été", pp), Dir{".Donn&AOk-es.&AMk-t&AOk-"});
  EXPECT_EQ(FolderDir("Übersicht", pp), Dir{".&ANw-bersicht"});
  EXPECT_EQ(FolderDir("Übersicht/日本語", nested), (Dir{"&ANw-bersicht", "&ZeVnLIqe-"}));
  EXPECT_EQ(FolderDir("R&D", pp), Dir{".R&-D"});
  EXPECT_EQ(FolderDir("R&D", pp, FolderNameEncoding::kUtf8), Dir{".R&D"});
  EXPECT_EQ(FolderDir("Ü.1", pp), Dir{".&ANw-%2E1"});  // escapes stay outside the encoded runs
  EXPECT_EQ(FolderDir("100%", pp), Dir{".100%25"});
}

TEST(FolderDirTest, HostileNamesStayInsideTheTree) {
  for (auto layout : {MaildirLayout::kMaildirPlusPlus, MaildirLayout::kNested}) {
    for (const std::string& evil : std::vector<std::string>{"../../etc", "/etc/passwd", "..", ".", "a/../../b", "cur", "new/x", "tmp",
                             std::string("a\x1b[31mred\x07\n", 13), std::string("nul\0byte", 8), "bad\xff\xfeutf8",
                             ".hidden", std::string(1000, 'x'), std::string(300, '.') + "/" + std::string(300, '/')}) {
      Dir d = FolderDir(evil, layout);
      ExpectSafe(d);
      if (layout == MaildirLayout::kNested) {
        for (const auto& c : d) {
          EXPECT_FALSE(c.starts_with('.')) << c;
          EXPECT_TRUE(c != "cur" && c != "new" && c != "tmp") << c;
        }
      } else {
        ASSERT_LE(d.size(), 1u);
        if (!d.empty()) {
          EXPECT_TRUE(d[0].starts_with('.'));
        }
      }
    }
  }
  EXPECT_EQ(FolderDir("../x", MaildirLayout::kNested), (Dir{"%2E.", "x"}));
  EXPECT_EQ(FolderDir("cur", MaildirLayout::kNested), Dir{"%63ur"});
  EXPECT_EQ(FolderDir(std::string("a\x1b", 2), MaildirLayout::kMaildirPlusPlus), Dir{".a%1B"});
  EXPECT_EQ(FolderDir("bad\xff", MaildirLayout::kMaildirPlusPlus), Dir{".bad%FF"});
}

TEST(FolderDirTest, LongNamesAreCutAtACharacterAndStayDistinct) {
  std::string a = std::string(150, 'a') + std::string(100, 'e') + "1";
  std::string b = std::string(150, 'a') + std::string(100, 'e') + "2";
  std::string wide;
  for (int i = 0; i < 150; ++i) wide += "é";
  for (auto layout : {MaildirLayout::kMaildirPlusPlus, MaildirLayout::kNested}) {
    Dir da = FolderDir(a, layout), db = FolderDir(b, layout), dw = FolderDir(wide, layout);
    ExpectSafe(da);
    ExpectSafe(dw);
    EXPECT_NE(da, db);
    // Cut between characters: the part before "~hash" is valid UTF-8 (no lone byte of é).
    std::string w = dw.back();
    std::string kept = w.substr(0, w.rfind('~'));
    EXPECT_EQ(kept.size() % 2, layout == MaildirLayout::kMaildirPlusPlus ? 1u : 0u);  // "." + whole é's
  }
}

TEST(FolderNameTest, RoundTripsWhatFolderDirWrites) {
  for (const std::string& name :
       std::vector<std::string>{"INBOX", "Work", "Work/Projects", "v1.2/x.y", "Données/Été", "100%", "cur", ".hidden/..",
                                "INBOX/Sub", std::string("tab\there", 8), "Übersicht", "R&D", "&-", "日本語/Ü.x&y"}) {
    for (auto layout : {MaildirLayout::kMaildirPlusPlus, MaildirLayout::kNested}) {
      for (auto names : {FolderNameEncoding::kModifiedUtf7, FolderNameEncoding::kUtf8}) {
        SCOPED_TRACE(name);
        std::string back = FolderName(FolderDir(name, layout, names), names);
        if (name.find('\t') != std::string::npos) {
          EXPECT_EQ(back.find('\t'), std::string::npos);  // kept escaped: no control byte in a name
        } else {
          EXPECT_EQ(back, name);
        }
      }
    }
  }
  // Import reads UTF-8 names as they are even when decoding modified UTF-7,
  // and keeps what is not well-formed modified UTF-7.
  EXPECT_EQ(FolderName({".Données"}), "Données");
  EXPECT_EQ(FolderName({".Donn&AOk-es"}), "Données");
  EXPECT_EQ(FolderName({".Donn&AOk-es"}, FolderNameEncoding::kUtf8), "Donn&AOk-es");
  EXPECT_EQ(FolderName({".R&D"}), "R&D");
  EXPECT_EQ(FolderName({".&AAE-"}), "&AAE-");  // would decode to a control byte
  EXPECT_EQ(FolderName({}), "INBOX");
  EXPECT_EQ(FolderName({".Lists.mips"}), "Lists/mips");
  EXPECT_EQ(FolderName({"work", "projects"}), "work/projects");
  EXPECT_EQ(FolderName({".a%2Fb"}), "a%2Fb");  // an escaped '/' is not a separator
  EXPECT_EQ(FolderName({".x%00y"}), "x%00y");
}

TEST(MaildirLettersTest, SystemFlagsOnlyWholeAndSorted) {
  EXPECT_EQ(MaildirLetters("\\Seen \\Flagged"), "FS");
  EXPECT_EQ(MaildirLetters("\\Answered \\Draft \\Deleted \\SEEN \\Flagged $Forwarded Junk"), "DFRST");
  EXPECT_EQ(MaildirLetters("\\Seenx \\Recent"), "");
  EXPECT_EQ(MaildirLetters(""), "");
}

Location Loc(std::string source, std::string folder, std::string flags) {
  Location l;
  l.source = std::move(source);
  l.account = "a";
  l.folder = std::move(folder);
  l.flags = std::move(flags);
  return l;
}

TEST(PlaceMessageTest, OneFilePerFolderWithThatFoldersFlags) {
  auto places = PlaceMessage({Loc("imap", "INBOX", "\\Seen"), Loc("imap", "Work/Projects", "\\Flagged"),
                              Loc("imap", "inbox", "\\Answered")},
                             MaildirLayout::kMaildirPlusPlus);
  ASSERT_EQ(places.size(), 2u);
  EXPECT_EQ(places[0], (MaildirPlacement{{}, "RS", true, {}}));
  EXPECT_EQ(places[1], (MaildirPlacement{{".Work.Projects"}, "F", true, {}}));
}

TEST(PlaceMessageTest, NoNamedFolderMeansInbox) {
  // Imported from local paths: INBOX; flags only from a Maildir copy.
  EXPECT_EQ(PlaceMessage({Loc("mbox", "/home/x/mail.mbox", "")}, MaildirLayout::kNested),
            (std::vector<MaildirPlacement>{{{}, "", false, {}}}));
  EXPECT_EQ(PlaceMessage({Loc("maildir", "/home/x/Maildir", "\\Seen")}, MaildirLayout::kNested),
            (std::vector<MaildirPlacement>{{{}, "S", true, {}}}));
  EXPECT_EQ(PlaceMessage({}, MaildirLayout::kNested), (std::vector<MaildirPlacement>{{{}, "", false, {}}}));
  // POP3 knows no flags.
  EXPECT_EQ(PlaceMessage({Loc("pop3", "INBOX", "")}, MaildirLayout::kNested),
            (std::vector<MaildirPlacement>{{{}, "", false, {}}}));
}

TEST(PlaceMessageTest, KeywordsOfEachFolderSortedOnce) {
  auto places = PlaceMessage({Loc("imap", "INBOX", "\\Seen Junk $Label1"), Loc("imap", "INBOX", "$Forwarded Junk"),
                              Loc("imap", "Übersicht", "\\Flagged custom-1 \\Recent")},
                             MaildirLayout::kMaildirPlusPlus);
  ASSERT_EQ(places.size(), 2u);
  EXPECT_EQ(places[0], (MaildirPlacement{{}, "S", true, {"$Forwarded", "$Label1", "Junk"}}));
  EXPECT_EQ(places[1], (MaildirPlacement{{".&ANw-bersicht"}, "F", true, {"custom-1"}}));
}

TEST(KeywordsTest, AtomsOnlyAndTheDovecotKeywordsFile) {
  EXPECT_EQ(Keywords("\\Seen $Label1 Junk \\Custom a(b x]y $Label1 " + std::string(200, 'k') + " NonJunk"),
            (std::vector<std::string>{"$Label1", "Junk", "NonJunk"}));
  EXPECT_EQ(KeywordFileText({"$Label1", "Junk"}), "0 $Label1\n1 Junk\n");
  std::vector<std::string> many;
  for (int i = 0; i < 30; ++i) many.push_back("k" + std::to_string(i));
  std::string text = KeywordFileText(many);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 26);  // only lettered keywords
  EXPECT_EQ(ParseKeywordFile(text), std::vector<std::string>(many.begin(), many.begin() + 26));
  // Dovecot's own file, and lines that are not "N KEYWORD" (N < 26).
  EXPECT_EQ(ParseKeywordFile("0 $Forwarded\n2 Junk\n26 Late\nx Bad\n3 two words\n1\n4 \x1b\n"),
            (std::vector<std::string>{"$Forwarded", "", "Junk"}));
  EXPECT_EQ(MaildirFlags("FSac", {"$Forwarded", "", "Junk"}), "\\Flagged \\Seen $Forwarded Junk");
  EXPECT_EQ(MaildirFlags("RTDbz", {"$Forwarded", "", "Junk"}), "\\Answered \\Deleted \\Draft");
  EXPECT_EQ(MaildirFlags("Sa"), "\\Seen");
}

TEST(SafeFileNameTest, HostileAttachmentNames) {
  EXPECT_EQ(SafeFileName("report.pdf", "x"), "report.pdf");
  EXPECT_EQ(SafeFileName("../../etc/passwd", "x"), "passwd");
  EXPECT_EQ(SafeFileName("C:\\Windows\\evil.exe", "x"), "evil.exe");
  EXPECT_EQ(SafeFileName("..", "part-2.bin"), "part-2.bin");
  EXPECT_EQ(SafeFileName("", "part-2.bin"), "part-2.bin");
  EXPECT_EQ(SafeFileName(".bashrc", "x"), "bashrc");
  EXPECT_EQ(SafeFileName(std::string("a\x1b[2Jb\nc\0d", 10), "x"), "a_[2Jb_c_d");
  EXPECT_EQ(SafeFileName("what?<>:\"|*.txt", "x"), "what_______.txt");
  EXPECT_EQ(SafeFileName("CON", "x"), "_CON");
  EXPECT_EQ(SafeFileName("nul.txt", "x"), "_nul.txt");
  EXPECT_EQ(SafeFileName("com7.tar.gz", "x"), "_com7.tar.gz");
  EXPECT_EQ(SafeFileName("console.txt", "x"), "console.txt");
  EXPECT_EQ(SafeFileName("name. . ", "x"), "name");
  EXPECT_EQ(SafeFileName("caf\xc3\xa9 \xff.txt", "x"), "café _.txt");
  std::string longname;
  for (int i = 0; i < 200; ++i) longname += "é";
  std::string cut = SafeFileName(longname + ".pdf", "x");
  EXPECT_LE(cut.size(), kMaxFileName);
  EXPECT_TRUE(cut.ends_with("é.pdf")) << cut;
}

TEST(AttachmentNamerTest, SameContentsOnceCollidingNamesNumbered) {
  AttachmentNamer namer;
  auto a = Sha256("aaa"), b = Sha256("bbb"), c = Sha256("ccc");
  EXPECT_EQ(namer.Claim("doc.pdf", a), "doc.pdf");
  EXPECT_EQ(namer.Claim("other-name.pdf", a), std::nullopt);  // identical contents: written once
  EXPECT_EQ(namer.Claim("doc.pdf", b), "doc (2).pdf");
  EXPECT_EQ(namer.Claim("DOC.PDF", c), "DOC (3).PDF");  // case-insensitive file systems
  EXPECT_EQ(namer.Claim("doc (2).pdf", Sha256("d")), "doc (2) (2).pdf");
  EXPECT_EQ(namer.Claim("noext", Sha256("e")), "noext");
  EXPECT_EQ(namer.Claim("noext", Sha256("f")), "noext (2)");
}

TEST(DecodedPartTest, LeavesNestedAndEncodedMessages) {
  std::string inner =
      "Subject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\nContent-Type: text/plain\r\n\r\n"
      "inner text\r\n--in\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
      "AAECAw==\r\n--in--\r\n";
  // base64 of `inner`, as some mailers send message/rfc822.
  std::string b64 = [&] {
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < inner.size(); i += 3) {
      uint32_t v = (uint8_t)inner[i] << 16 | (uint8_t)inner[i + 1] << 8 | (uint8_t)inner[i + 2];
      for (int s = 18; s >= 0; s -= 6) out += k[(v >> s) & 63];
    }
    if (i < inner.size()) {
      uint32_t v = (uint8_t)inner[i] << 16 | (i + 1 < inner.size() ? (uint8_t)inner[i + 1] << 8 : 0);
      out += k[(v >> 18) & 63];
      out += k[(v >> 12) & 63];
      out += i + 1 < inner.size() ? k[(v >> 6) & 63] : '=';
      out += '=';
    }
    return out;
  }();
  std::string raw =
      "Subject: outer\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n--out\r\nContent-Type: text/plain\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n--out\r\nContent-Type: message/rfc822\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      b64 + "\r\n--out--\r\n";
  mime::Message m = mime::ParseMessage(raw);
  EXPECT_EQ(*DecodedPart(raw, m, "1"), "café");
  auto whole = DecodedPart(raw, m, "2");
  ASSERT_TRUE(whole);
  EXPECT_EQ(*whole, inner);
  std::string paths;
  for (const auto& p : m.parts) paths += p.path + " ";
  auto text = DecodedPart(raw, m, "2.1");
  ASSERT_TRUE(text) << paths;
  EXPECT_EQ(*text, "inner text");
  auto bin = DecodedPart(raw, m, "2.2");
  ASSERT_TRUE(bin) << paths;
  EXPECT_EQ(*bin, std::string("\0\1\2\3", 4));
  EXPECT_EQ(DecodedPart(raw, m, "").error().code(), ErrorCode::kInvalidArgument);  // the multipart root
  EXPECT_EQ(DecodedPart(raw, m, "9").error().code(), ErrorCode::kNotFound);
}

TEST(MaildirWriterTest, WritesFoldersAndRefusesAPlantedSymlink) {
  char tmpl[] = "/tmp/mk-export-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = std::string(tmpl) + "/out";
  auto fd = OpenOutDir(root);
  ASSERT_TRUE(fd);
  MaildirWriter w(std::move(*fd), root);
  ASSERT_TRUE(w.Write({}, "1.M1.mailkeep:2,S", "one"));
  ASSERT_TRUE(w.Write({".Work.Sub"}, "1.M1.mailkeep:2,F", "one"));
  EXPECT_EQ(*ReadFile(root + "/cur/1.M1.mailkeep:2,S"), "one");
  EXPECT_EQ(*ReadFile(root + "/.Work.Sub/cur/1.M1.mailkeep:2,F"), "one");
  ASSERT_EQ(::mkdir((std::string(tmpl) + "/elsewhere").c_str(), 0700), 0);
  ASSERT_EQ(::symlink((std::string(tmpl) + "/elsewhere").c_str(), (root + "/.Evil").c_str()), 0);
  EXPECT_FALSE(w.Write({".Evil"}, "x", "two"));
  EXPECT_TRUE(std::filesystem::is_empty(std::string(tmpl) + "/elsewhere"));
  struct stat st {};
  ASSERT_EQ(::stat((root + "/.Work.Sub/cur/1.M1.mailkeep:2,F").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::filesystem::remove_all(tmpl);
}

TEST(MaildirWriterTest, KeywordLettersPerFolderAndTheKeywordsFile) {
  char tmpl[] = "/tmp/mk-export-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = std::string(tmpl) + "/out";
  auto fd = OpenOutDir(root);
  ASSERT_TRUE(fd);
  std::vector<std::string> warnings;
  MaildirWriter w(std::move(*fd), root, [&](const std::string& line) { warnings.push_back(line); });
  ASSERT_TRUE(w.WriteMessage({{}, "S", true, {"Junk", "$Label1"}}, "1.M1.mailkeep", "one"));
  ASSERT_TRUE(w.WriteMessage({{}, "", true, {"$Label1", "$Forwarded"}}, "2.M2.mailkeep", "two"));
  ASSERT_TRUE(w.WriteMessage({{".Sub"}, "F", true, {"$Forwarded"}}, "2.M2.mailkeep", "two"));
  ASSERT_TRUE(w.WriteMessage({{".Sub"}, "", false, {"Junk"}}, "3.M3.mailkeep", "three"));  // no flags known
  std::vector<std::string> many;
  for (int i = 0; i < 28; ++i) many.push_back("k" + std::to_string(i));
  ASSERT_TRUE(w.WriteMessage({{".Many"}, "", true, many}, "4.M4.mailkeep", "four"));
  ASSERT_TRUE(w.WriteMessage({{".Many"}, "", true, {"k27", "k0"}}, "5.M5.mailkeep", "five"));
  ASSERT_TRUE(w.WriteKeywordFiles());
  EXPECT_EQ(*ReadFile(root + "/cur/1.M1.mailkeep:2,Sab"), "one");
  EXPECT_EQ(*ReadFile(root + "/cur/2.M2.mailkeep:2,bc"), "two");
  EXPECT_EQ(*ReadFile(root + "/dovecot-keywords"), "0 Junk\n1 $Label1\n2 $Forwarded\n");
  EXPECT_EQ(*ReadFile(root + "/.Sub/cur/2.M2.mailkeep:2,Fa"), "two");
  EXPECT_EQ(*ReadFile(root + "/.Sub/cur/3.M3.mailkeep"), "three");
  EXPECT_EQ(*ReadFile(root + "/.Sub/dovecot-keywords"), "0 $Forwarded\n");
  EXPECT_EQ(*ReadFile(root + "/.Many/cur/5.M5.mailkeep:2,a"), "five");
  EXPECT_EQ(w.keywords_left_out(), 3);  // k26, k27, then k27 again
  ASSERT_EQ(warnings.size(), 1u);  // once per folder
  EXPECT_NE(warnings[0].find(".Many: more than 26 keywords"), std::string::npos) << warnings[0];
  std::filesystem::remove_all(tmpl);
}

// mboxrd: every ^>*From line gets one more '>', the message ends with a
// newline and a blank line, and the From_ line carries a clean sender.
TEST(Mbox, QuotesFromLinesAndEndsWithABlankLine) {
  std::string out;
  AppendMboxrd(out, "Subject: x\n\nFrom here\n>From there\nFromage", MboxFromLine("a b@example.org", 0));
  EXPECT_EQ(out, "From ab@example.org Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\nFromage\n\n");
  EXPECT_EQ(MboxFromLine("\x01", std::nullopt), "From MAILER-DAEMON Thu Jan  1 00:00:00 1970");
}

}  // namespace
}  // namespace mailkeep::exporting
