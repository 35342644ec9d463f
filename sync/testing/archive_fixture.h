// ArchiveTest: a gtest fixture with a new, empty archive in a temporary
// directory of its own (mkdtemp in $TMPDIR, else /tmp), closed and removed
// after each test, so tests never share files or depend on run order.
// Subclasses that override SetUp() call ArchiveTest::SetUp() first.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

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

}  // namespace mailkeep::testing
