#include "sync/testing/archive_fixture.h"

#include <stdlib.h>

#include <chrono>
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

IntentWatcher::IntentWatcher(std::string dir, IntentKind kind, std::function<bool(const Intent&)> match)
    : thread_([this, dir = std::move(dir), kind, match = std::move(match)] {
        while (running_ && !seen_) {
          auto reader = Archive::Open(dir, OpenMode::kReadOnly);
          if (reader) {
            auto unknown = (*reader)->UnknownIntents(kind);
            if (unknown && unknown->size() == 1 && match((*unknown)[0])) seen_ = true;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }) {}

IntentWatcher::~IntentWatcher() { Seen(); }

bool IntentWatcher::Seen() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  return seen_;
}

}  // namespace mailkeep::testing
