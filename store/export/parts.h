// One MIME part's decoded bytes (`show --part`), and the file names and
// de-duplication for `export --attachments`.
//
// Thread-safety: pure functions; one AttachmentNamer per export.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "store/export/output_dir.h"
#include "store/mime/message.h"
#include "store/util/sha256.h"
#include "store/util/status.h"

namespace mailkeep::exporting {

// The transfer-decoded body of the part at `path` (Part::path, as `show
// --json` lists them) of `message`, parsed from `raw`; for a part inside a
// transfer-encoded message/rfc822 its container is decoded first.
// kNotFound for an unknown path; kInvalidArgument for a multipart
// container (it has no body of its own).
Result<std::string> DecodedPart(std::string_view raw, const mime::Message& message, std::string_view path);

inline constexpr size_t kMaxFileName = 200;  // bytes

// A file name from an attachment's (untrusted) name: only what follows the
// last '/' or '\'; control bytes, invalid UTF-8, characters that reorder
// or hide text (exporting::IsHiddenOrReordering) and the characters Windows
// reserves (<>:"|?*) become '_'; leading dots and spaces and trailing dots
// and spaces go (no hidden files, no "." or ".."); a Windows device name
// (CON, NUL, COM1, LPT1, ... with any extension) gets a leading '_'; at
// most kMaxFileName bytes, cut at a character, keeping a short extension.
// `fallback` (itself safe, e.g. "part-2.bin") when nothing is left.
std::string SafeFileName(std::string_view name, const std::string& fallback);

// Names attachment files in one output directory: identical contents
// (same SHA-256) are written once, and different contents wanting one name
// (compared without ASCII case, for case-insensitive file systems) get
// "NAME (2).EXT", "(3)", ... in the order they are asked for, so the same
// export gives the same names.
class AttachmentNamer {
 public:
  // The name to write these contents under, or nullopt when they were
  // already written (under the name returned then).
  std::optional<std::string> Claim(const std::string& safe_name, const Sha256Digest& contents);

 private:
  std::set<Sha256Digest> written_;
  std::set<std::string> taken_;  // lower-cased ASCII
};

// Writes the attachments of messages into one flat directory (see
// OutputDir's rules): every leaf part that is an attachment (Part::
// is_attachment), transfer-decoded, named by SafeFileName (fallback
// "ID-PATH.bin") and AttachmentNamer.
class AttachmentWriter {
 public:
  // REQUIRES: `dir` open (OpenOutDir); `shown` is its path for messages.
  AttachmentWriter(Fd dir, std::string shown) : dir_(std::move(dir)), shown_(std::move(shown)) {}
  // The attachments of message `id`; returns how many files were written
  // (identical contents already written are not written again).
  Result<int64_t> Add(int64_t id, std::string_view raw);
  int64_t skipped_duplicates() const { return duplicates_; }

 private:
  Fd dir_;
  std::string shown_;
  AttachmentNamer namer_;
  int64_t duplicates_ = 0;
};

}  // namespace mailkeep::exporting
