#include "config/archive_choice.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace mailkeep::config {
namespace {

Config WithArchive(const std::string& archive) {
  Config c;
  c.path = "/etc/mk/accounts.ini";
  c.archive = archive;
  return c;
}

TEST(ChooseArchive, FlagBeatsEverything) {
  Config c = WithArchive("/conf");
  ArchiveChoice a = ChooseArchive({"/flag", "/env", &c, true, "/home/u"});
  EXPECT_EQ(a.dir, "/flag");
  EXPECT_EQ(a.source, ArchiveSource::kFlag);
  EXPECT_EQ(a.from, "--archive");
}

TEST(ChooseArchive, EnvBeatsConfigFile) {
  Config c = WithArchive("/conf");
  ArchiveChoice a = ChooseArchive({"", "/env", &c, true, "/home/u"});
  EXPECT_EQ(a.dir, "/env");
  EXPECT_EQ(a.source, ArchiveSource::kEnv);
  EXPECT_EQ(a.from, "$MAILKEEP_ARCHIVE");
}

TEST(ChooseArchive, ConfigFileBeatsDefaultAndSaysWhichFile) {
  Config c = WithArchive("/conf");
  ArchiveChoice named = ChooseArchive({"", "", &c, true, "/home/u"});
  EXPECT_EQ(named.dir, "/conf");
  EXPECT_EQ(named.source, ArchiveSource::kConfig);
  EXPECT_EQ(named.from, "--config /etc/mk/accounts.ini");
  ArchiveChoice found = ChooseArchive({"", "", &c, false, "/home/u"});
  EXPECT_EQ(found.dir, "/conf");
  EXPECT_EQ(found.from, "config file /etc/mk/accounts.ini");
}

TEST(ChooseArchive, DefaultWithoutConfigOrWithoutItsArchive) {
  ArchiveChoice none = ChooseArchive({"", "", nullptr, false, "/home/u"});
  EXPECT_EQ(none.dir, "/home/u/.local/share/mailkeep");
  EXPECT_EQ(none.source, ArchiveSource::kDefault);
  EXPECT_EQ(none.from, "default");
  Config c = WithArchive("");
  EXPECT_EQ(ChooseArchive({"", "", &c, true, "/home/u"}).dir, "/home/u/.local/share/mailkeep");
  EXPECT_EQ(ChooseArchive({"", "", nullptr, false, ""}).dir, "./.local/share/mailkeep");
}

TEST(ArchiveSourceName, StableNames) {
  EXPECT_EQ(ArchiveSourceName(ArchiveSource::kFlag), "flag");
  EXPECT_EQ(ArchiveSourceName(ArchiveSource::kEnv), "env");
  EXPECT_EQ(ArchiveSourceName(ArchiveSource::kConfig), "config");
  EXPECT_EQ(ArchiveSourceName(ArchiveSource::kDefault), "default");
}

class LoadCommandConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mk-choice.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    const char* old = std::getenv("MAILKEEP_CONFIG");
    if (old != nullptr) old_env_ = old;
    had_env_ = old != nullptr;
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    if (had_env_) {
      ::setenv("MAILKEEP_CONFIG", old_env_.c_str(), 1);
    } else {
      ::unsetenv("MAILKEEP_CONFIG");
    }
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  std::string dir_, old_env_;
  bool had_env_ = false;
};

TEST_F(LoadCommandConfigTest, NamedFileIsReadAndItsRelativeArchiveIsBesideIt) {
  std::string path = Write("a.ini", "archive = store\n");
  auto loaded = LoadCommandConfig(path);
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->archive, dir_ + "/store");
}

TEST_F(LoadCommandConfigTest, NamedFileMissingIsAnError) {
  auto loaded = LoadCommandConfig(dir_ + "/missing.ini");
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(loaded.error().message().find("missing.ini"), std::string::npos);
}

TEST_F(LoadCommandConfigTest, DefaultFileMissingIsNoConfig) {
  ::setenv("MAILKEEP_CONFIG", (dir_ + "/absent.ini").c_str(), 1);
  auto loaded = LoadCommandConfig("");
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_FALSE(loaded->has_value());
}

TEST_F(LoadCommandConfigTest, DefaultFileIsReadWhenThere) {
  ::setenv("MAILKEEP_CONFIG", Write("d.ini", "archive = /srv/mail\n").c_str(), 1);
  auto loaded = LoadCommandConfig("");
  ASSERT_TRUE(loaded) << loaded.error().message();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->archive, "/srv/mail");
}

TEST_F(LoadCommandConfigTest, BrokenFileIsOneLineNamingFileAndLine) {
  std::string bad = Write("bad.ini", "archive = /x\nhots = y\n");
  for (const std::string& named : {bad, std::string()}) {
    ::setenv("MAILKEEP_CONFIG", bad.c_str(), 1);
    auto loaded = LoadCommandConfig(named);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code(), ErrorCode::kInvalidArgument);
    const std::string& m = loaded.error().message();
    EXPECT_NE(m.find("bad.ini:2: unknown key 'hots'"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST_F(LoadCommandConfigTest, EndlessFileIsRefused) {
  auto loaded = LoadCommandConfig("/dev/zero");
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find("/dev/zero: larger than"), std::string::npos) << loaded.error().message();
}

}  // namespace
}  // namespace mailkeep::config
