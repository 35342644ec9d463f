// Folder names between server layouts, user rules and special use.
#include "sync/migrate/folder_map.h"

#include <stdlib.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace mailkeep::migrate {
namespace {

const Layout kSlash{"", '/'};
const Layout kInboxDot{"INBOX.", '.'};
const Layout kFlat{"", '\0'};

imap::Folder F(std::string name, std::vector<std::string> attributes = {}) {
  imap::Folder f;
  f.name = std::move(name);
  f.attributes = std::move(attributes);
  return f;
}

TEST(FolderMap, NeutralFormBetweenLayouts) {
  EXPECT_EQ(ToNeutral("INBOX.Lists.mips", kInboxDot), (Path{"Lists", "mips"}));
  EXPECT_EQ(ToNeutral("inbox.Lists.mips", kInboxDot), (Path{"Lists", "mips"}));
  EXPECT_EQ(ToNeutral("Lists/mips", kSlash), (Path{"Lists", "mips"}));
  EXPECT_EQ(ToNeutral("Inbox", kInboxDot), (Path{"INBOX"}));
  EXPECT_EQ(ToNeutral("inbox/sub", kSlash), (Path{"INBOX", "sub"}));
  EXPECT_EQ(ToNeutral("Entwürfe", kSlash), (Path{"Entwürfe"}));
  EXPECT_EQ(FromNeutral({"Lists", "mips"}, kInboxDot), "INBOX.Lists.mips");
  EXPECT_EQ(FromNeutral({"Lists", "mips"}, kSlash), "Lists/mips");
  EXPECT_EQ(FromNeutral({"INBOX"}, kInboxDot), "INBOX");
  EXPECT_EQ(FromNeutral({"INBOX", "sub"}, kInboxDot), "INBOX.sub");   // not INBOX.INBOX.sub
  EXPECT_EQ(FromNeutral({"INBOX", "sub"}, kSlash), "INBOX/sub");
  EXPECT_EQ(FromNeutral({"v1.2", "x"}, kInboxDot), "INBOX.v1_2.x");   // a "." inside a level is not a level
  EXPECT_EQ(FromNeutral({"a", "b"}, kFlat), "a_b");
  EXPECT_EQ(NeutralString({"Lists", "mips"}), "Lists/mips");
  EXPECT_EQ(ParseNeutral("/Lists//mips/"), (Path{"Lists", "mips"}));
  EXPECT_EQ(ParseNeutral("inbox"), (Path{"INBOX"}));
  // Round trips.
  for (const auto& name : {"INBOX.Lists.mips", "INBOX.Entwürfe", "INBOX"}) {
    EXPECT_EQ(FromNeutral(ToNeutral(name, kInboxDot), kInboxDot), name);
  }
}

TEST(FolderMap, InferLayoutFromArchivedNames) {
  EXPECT_EQ(InferLayout({"INBOX", "INBOX.Sent", "INBOX.Lists.mips"}), kInboxDot);
  EXPECT_EQ(InferLayout({"INBOX", "Sent", "Lists/mips"}), kSlash);
  EXPECT_EQ(InferLayout({"INBOX", "Sent", "Lists.mips"}), (Layout{"", '.'}));
  EXPECT_EQ(InferLayout({"INBOX", "Sent"}), kSlash);
  EXPECT_EQ(InferLayout({"INBOX"}), kSlash);
  EXPECT_EQ(InferLayout({}), kSlash);
}

// export --format maildir names IMAP places through their account's layout.
TEST(FolderMap, ArchivedLayoutsGiveNeutralNamesPerAccount) {
  char tmpl[] = "/tmp/folder_map_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  {
    auto archive = Archive::Create(std::string(tmpl) + "/a");
    ASSERT_TRUE(archive);
    for (const char* name : {"INBOX", "INBOX.Sent", "INBOX.Lists.mips"}) {
      FolderState f;
      f.name = name;
      ASSERT_TRUE((*archive)->SetFolderState("imap", "courier", f));
    }
    FolderState f;
    f.name = "Lists/v1.2";
    ASSERT_TRUE((*archive)->SetFolderState("imap", "dovecot", f));
    ArchivedLayouts layouts(**archive);
    auto place = [](std::string source, std::string account, std::string folder) {
      Location l;
      l.source = std::move(source);
      l.account = std::move(account);
      l.folder = std::move(folder);
      return l;
    };
    EXPECT_EQ(layouts.NeutralName(place("imap", "courier", "INBOX.Lists.mips")), "Lists/mips");
    EXPECT_EQ(layouts.NeutralName(place("imap", "courier", "INBOX")), "INBOX");
    EXPECT_EQ(layouts.NeutralName(place("imap", "dovecot", "Lists/v1.2")), "Lists/v1.2");
    EXPECT_EQ(layouts.NeutralName(place("maildir", "local", "/home/x/Maildir/.Sent")), "/home/x/Maildir/.Sent");
  }
  std::filesystem::remove_all(tmpl);
}

TEST(FolderMap, RolesByWellKnownNameAndAttribute) {
  EXPECT_EQ(RoleOfName({"Gesendet"}), Role::kSent);
  EXPECT_EQ(RoleOfName({"sent items"}), Role::kSent);
  EXPECT_EQ(RoleOfName({"Entwürfe"}), Role::kDrafts);
  EXPECT_EQ(RoleOfName({"[Gmail]", "Spam"}), Role::kJunk);
  EXPECT_EQ(RoleOfName({"Projects", "Sent"}), Role::kNone);  // only top-level names
  EXPECT_EQ(RoleOfName({"INBOX"}), Role::kNone);
  EXPECT_EQ(RoleOfAttribute("\\Trash"), Role::kTrash);
  EXPECT_EQ(RoleOfAttribute("\\HasChildren"), Role::kNone);
}

TEST(FolderMap, RulesAreGlobsWithCaptures) {
  auto m = FolderMap::Parse({"Entwürfe=Drafts", "Lists/*=Mailing lists/*", "*/Archiv=*/Archive", "a?c=x",
                             "x\\=y=z", "*/*=*-*"});
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->Apply("Entwürfe"), "Drafts");
  EXPECT_EQ(m->Apply("Lists/mips/old"), "Mailing lists/mips/old");
  EXPECT_EQ(m->Apply("2023/Archiv"), "2023/Archive");
  EXPECT_EQ(m->Apply("aüc"), "x");              // "?" is one character, not one byte
  EXPECT_EQ(m->Apply("x=y"), "z");
  EXPECT_EQ(m->Apply("p/q"), "p-q");
  EXPECT_EQ(m->Apply("Entwürfe2"), std::nullopt);  // the whole name must match
  EXPECT_EQ(m->Apply("INBOX"), std::nullopt);
  // Long names against many stars stay fast (linear backtracking).
  auto many = FolderMap::Parse({"*a*a*a*a*a*a*a*a*b=x"});
  ASSERT_TRUE(many);
  EXPECT_EQ(many->Apply(std::string(5000, 'a')), std::nullopt);
  for (const char* bad : {"nothing", "=x", "x=", "a=*", "a*=*/*"}) {
    auto r = FolderMap::Parse({bad});
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("OLD=NEW"), std::string::npos) << r.error().message();
  }
  EXPECT_EQ(SplitRules(" a=b , c\\,d=e,, "), (std::vector<std::string>{"a=b", "c\\,d=e"}));
  auto comma = FolderMap::Parse(SplitRules("c\\,d=e"));
  ASSERT_TRUE(comma);
  EXPECT_EQ(comma->Apply("c,d"), "e");
}

// Mailutils "Entwürfe" and "Gesendet" into a Courier-style server: into its
// Drafts (by name) and Sent (by attribute); other folders under INBOX.; a
// user rule wins over special use.
TEST(FolderMap, MapperTranslatesIntoTheTargetLayout) {
  std::vector<imap::Folder> listed = {F("INBOX"), F("INBOX.Drafts"), F("INBOX.Sent Items", {"\\Sent"}),
                                      F("INBOX.Sent"), F("INBOX.Trash", {"\\Noselect"})};
  FolderMapper mapper(kInboxDot, listed, *FolderMap::Parse({"Spam=Quarantine"}));
  EXPECT_EQ(mapper.Map({"Entwürfe"}), "INBOX.Drafts");
  EXPECT_EQ(mapper.Map({"Gesendet"}), "INBOX.Sent Items");  // the attribute before the name
  EXPECT_EQ(mapper.Map({"Sent"}), "INBOX.Sent Items");
  EXPECT_EQ(mapper.Map({"Trash"}), "INBOX.Trash");          // \Noselect is no target: own name
  EXPECT_EQ(mapper.Map({"Spam"}), "INBOX.Quarantine");
  EXPECT_EQ(mapper.Map({"Lists", "mips"}), "INBOX.Lists.mips");
  EXPECT_EQ(mapper.Map({"INBOX"}), "INBOX");
  FolderMapper plain(kSlash, {F("INBOX"), F("Sent", {"\\Sent"})}, FolderMap());
  EXPECT_EQ(plain.Map({"Gesendete Objekte"}), "Sent");
  EXPECT_EQ(plain.Map({"Entwürfe"}), "Entwürfe");  // no Drafts there: its own name
}

}  // namespace
}  // namespace mailkeep::migrate
