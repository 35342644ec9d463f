// ArchiveTest: a gtest fixture with a new, empty archive in a temporary
// directory of its own (mkdtemp in $TMPDIR, else /tmp), closed and removed
// after each test, so tests never share files or depend on run order.
// Subclasses that override SetUp() call ArchiveTest::SetUp() first.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "store/archive.h"

namespace mailkeep::testing {

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Ingests `bytes` as one local .eml message and returns its id (0 with a
  // test failure when it was not stored).
  int64_t IngestOne(const std::string& bytes);

  std::string root_;                   // the temporary directory
  std::unique_ptr<Archive> archive_;   // at root_ + "/archive", writable
};

// Watches the archive at `dir` through a read-only Archive of its own (as
// another process sees it), every 20 ms on a background thread, until the
// archive holds exactly one unknown intent of `kind` and `match` accepts it:
// to show that an intent is on disk while the server still holds the step.
class IntentWatcher {
 public:
  IntentWatcher(std::string dir, IntentKind kind, std::function<bool(const Intent&)> match);
  ~IntentWatcher();
  IntentWatcher(const IntentWatcher&) = delete;
  IntentWatcher& operator=(const IntentWatcher&) = delete;

  // Stops watching; whether that intent was seen.
  bool Seen();

 private:
  std::atomic<bool> running_{true}, seen_{false};
  std::thread thread_;
};

}  // namespace mailkeep::testing
