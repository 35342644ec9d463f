#include "sync/testing/archive_fixture.h"

#include <stdlib.h>

#include <filesystem>

namespace mailkeep::testing {

void ArchiveTest::SetUp() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "mk-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  root_ = tmpl;
  auto archive = Archive::Create(root_ + "/archive");
  ASSERT_TRUE(archive) << archive.error().message();
  archive_ = std::move(*archive);
}

void ArchiveTest::TearDown() {
  archive_.reset();
  if (!root_.empty()) std::filesystem::remove_all(root_);
}

int64_t ArchiveTest::IngestOne(const std::string& bytes) {
  RawMessage m;
  m.bytes = bytes;
  m.origin = {"eml", "local", "/in", "1", 0, "", {}};
  auto out = archive_->Ingest({m});
  EXPECT_TRUE(out && out->size() == 1) << (out ? "" : out.error().message());
  return out && out->size() == 1 ? (*out)[0].id : 0;
}

}  // namespace mailkeep::testing
