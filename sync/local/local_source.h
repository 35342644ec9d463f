// Local inputs for `mailkeep import`: Maildir (cur/ and new/, Maildir++
// sub-folders), mbox files (mboxrd and mboxo quoting; plain, .gz or .zst),
// directories of .eml files, and single message files.
//
// Messages are produced one at a time through a callback, so memory stays
// bounded by the largest single message, never by the size of the input.
//
// Thread-safety: none needed; each call is independent.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/export/folder_names.h"
#include "store/raw_message.h"
#include "store/util/status.h"

namespace mailkeep::local {

enum class InputKind { kMaildir, kMbox, kEmlDirectory, kMessageFile, kUnknown };

// Looks at `path`: a directory with cur/ or new/ (or Maildir++ ".Sub"
// folders holding them, or nested directories that are Maildirs) is a
// Maildir; another directory is a directory of message files (searched
// recursively, every regular non-hidden file); a file starting with "From "
// (after decompression) is an mbox; any other file is a single message. Returns kUnknown with `why` set for a path that does not exist
// or cannot be read.
InputKind DetectInput(const std::string& path, std::string* why);

// Limits on what one input may make us hold in memory.
struct ReadLimits {
  // Largest message, in bytes after decompression (default 64 MiB). A
  // larger message file, or a larger message inside an mbox, is skipped:
  // its bytes are dropped as they are decoded (memory stays bounded by the
  // limit, however well the file compresses), one problem names it, and
  // reading goes on with the next file or the next message of the mbox.
  // REQUIRES: > 0.
  uint64_t max_message_size = uint64_t{64} << 20;
  // Appended to that problem, to say how to raise the limit (e.g. "; a
  // larger --max-message-mb imports it"); may be empty.
  std::string too_large_hint;
};

// How the folders of a directory input are recorded. By default: account
// "local", folder = the absolute path of the Maildir folder (or directory,
// or mbox file). With `account` set: that account, and folder = the name
// of the folder relative to the directory given (exporting::FolderName in
// store/export/folder_names.h: the directory itself is "INBOX", a
// Maildir++ ".Work.Sub" or nested Work/Sub is "Work/Sub", %XX escapes
// undone, modified UTF-7 decoded unless `names` is kUtf8) — the folders a
// `mailkeep export --format maildir` wrote.
// A single file input keeps its path either way.
struct FolderNaming {
  std::string account;  // "" = by path under account "local"
  exporting::FolderNameEncoding names = exporting::FolderNameEncoding::kModifiedUtf7;
};

using MessageSink = std::function<Status(RawMessage&&)>;
// Called for a message or file that could not be read; reading goes on.
using ProblemSink = std::function<void(const std::string& where, const std::string& why)>;

// Reads every message under `path` into `sink`. A sink error stops the walk
// and is returned. Origins: source "maildir"/"mbox"/"eml", account "local",
// folder = absolute path of the Maildir folder / mbox file / directory,
// key = Maildir unique name (before ":2,") / decimal byte offset of the
// "From " line in the uncompressed mbox / path relative to the directory.
// Maildir flags (letters after ":2," or "!2,") become IMAP flags (S→\Seen,
// R→\Answered, F→\Flagged, T→\Deleted, D→\Draft, in sorted order; then
// the keywords the letters a..z stand for in the folder's dovecot-keywords
// file; other letters ignored); new/ messages get no flag (not \Recent).
// internal_date: Maildir/eml file mtime; mbox From_ line date when it parses
// (a 1970-01-01 date counts as absent).
//
// Symbolic links: a link whose target (resolved in full) lies outside the
// tree given as `path` is never followed — not to a file, not to a
// directory, not as cur/ or new/ — and each one is reported to `on_problem`
// ("symbolic link out of the imported tree (to TARGET); skipped"). A link
// whose target lies inside the tree is followed like the entry it points
// at; a directory reached twice (a link to an ancestor, two links to one
// place) is read once, so link loops end. `path` itself may be a link: the
// tree is where it resolves to. Files are opened without following a link
// in their last component, so an entry swapped for a link after it was
// checked is not read either.
//
// Walks: a Maildir input reads the folder itself, its Maildir++ ".Sub"
// folders (each its own folder) and, recursively, nested Maildirs in plain
// sub-directories (mutt style); files outside cur/ and new/ are skipped, as
// are tmp/ and dot files, and a non-empty sub-directory holding no Maildir
// is reported to `on_problem` and skipped. A message directory reads every
// regular non-hidden file below it (hidden directories skipped); a file in
// it whose data starts with "From " is read as an mbox (folder = that
// file). Files are detected as gzip or zstd by their magic bytes, not their
// names, and decompressed as they are read. A single message file gets
// folder = its directory and key = its file name, the same origin as when
// its directory is imported.
// Files and directories are visited in name order, so reading the same
// input twice gives the same origins.
//
// Errors: kNotFound when `path` does not exist (nothing is read); otherwise
// only an error returned by `sink`. Everything else — unreadable files or
// directories, empty files ("empty file"), corrupt or truncated gzip/zstd
// data (messages before the damage are kept, the one in progress is
// dropped), empty mbox messages — goes to `on_problem` (may be empty) and
// reading continues, as do messages over `limits.max_message_size`.
Status ReadInput(const std::string& path, const MessageSink& sink, const ProblemSink& on_problem,
                 const ReadLimits& limits = {}, const FolderNaming& naming = {});

// About how much mail ReadInput reads from `paths`, in bytes, for choosing
// how to index a run before it starts: the sizes of the regular files at or
// below each path (compressed ones as stored; links not followed; a path
// that cannot be read counts 0), counted until `enough` is reached, so a
// large tree is not walked to its end only to learn that it is large.
uint64_t InputBytesUpTo(const std::vector<std::string>& paths, uint64_t enough);

// Splits an mbox stream that is already in memory (tests, fuzzing). Removes
// mboxrd quoting (">From " → "From ", ">>From " → ">From ") — which also
// undoes mboxo quoting of ">From " — and the blank line that separates
// messages. Separator: a line starting with "From " that is at the start
// of input or follows an empty line, or a line with the full shape of a
// From_ line ("From sender <date>", "From -") anywhere. Same splitter as ReadInput uses for
// mbox files; empty messages and text before the first separator are
// skipped. No size limit (the data is in memory already). Returns only a
// `sink` error.
Status SplitMbox(std::string_view data, const std::string& folder, const MessageSink& sink);

}  // namespace mailkeep::local
