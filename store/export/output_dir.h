// Writing exported files where nothing in a message, and nothing planted
// in the output, can steer a write: directories are opened once, never
// through a symbolic link, and every file is created relative to its
// directory with O_EXCL|O_NOFOLLOW under a fresh temp name, then renamed
// into place (a symlink planted under the final name is replaced, never
// written through). Files are 0600, directories 0700.
//
// Thread-safety: none; one writer per thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/export/folder_names.h"
#include "store/util/status.h"

namespace mailkeep::exporting {

// An owned file descriptor: move-only; the destructor closes quietly,
// Close() reports.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  int Close();  // closes now; -1 with errno on failure

 private:
  int fd_ = -1;
};

// "a/b/" -> "a/b" (so O_NOFOLLOW applies to the last component itself).
std::string StripTrailingSlashes(std::string path);
// Opens an existing directory `path` relative to `at` (AT_FDCWD for the
// working directory), refusing a symbolic link in its place; `shown` names
// it in errors.
Result<Fd> OpenDirNoFollow(int at, const std::string& path, const std::string& shown);
// The output directory `path`: created 0700 (with parents) if missing,
// refused if it is a symbolic link or not a directory.
Result<Fd> OpenOutDir(const std::string& path);
// A subdirectory `name` (one component) of `parent`, created 0700 if missing.
Result<Fd> OpenSubdir(int parent, const std::string& name, const std::string& shown);

struct TempFile {
  Fd fd;
  std::string name;  // relative to its directory
};
// Creates a new file (0600) in `dir` named "PREFIX.mailkeep-PID-N.tmp";
// never opens anything that already exists there.
Result<TempFile> CreateTemp(int dir, const std::string& prefix, const std::string& shown_dir);
// Writes `data` to a fresh temp file in `tmp_dir`, then renames it to `name`
// in `dest_dir` (replacing a file, or a symlink itself, never its target).
Status WritePrivateFile(int tmp_dir, const std::string& tmp_prefix, const std::string& shown_tmp_dir, int dest_dir,
                        const std::string& name, std::string_view data, const std::string& shown_dest);

// Writes `data` to the file `path` (created 0600 or replaced; a symlink
// there is replaced, not followed) through a temp file beside it. The
// directory must exist.
Status WriteFileNoFollow(const std::string& path, std::string_view data);

// A Maildir tree being written: folders (cur/, new/, tmp/ each) are created
// on first use below the root and kept open.
class MaildirWriter {
 public:
  // REQUIRES: `root` open (OpenOutDir); `shown` is its path for messages.
  // `warn` gets one line per folder that has more keywords than letters.
  MaildirWriter(Fd root, std::string shown, std::function<void(const std::string&)> warn = {})
      : root_(std::move(root)), shown_(std::move(shown)), warn_(std::move(warn)) {}
  // Writes `data` as DIR/cur/NAME, DIR being `dir` (FolderDir's components,
  // each one safe name) below the root.
  Status Write(const std::vector<std::string>& dir, const std::string& name, std::string_view data);
  // Writes `data` in place.dir as `base`, with (place.flags_known) the info
  // ":2," + place.letters + one letter per keyword: the folder's keywords
  // are numbered as first seen, 'a' for the first; a keyword past the 26th
  // has no letter and is left out (counted; `warn` once per folder).
  Status WriteMessage(const MaildirPlacement& place, const std::string& base, std::string_view data);
  // Writes the dovecot-keywords file of every folder that has keywords
  // (folder_names.h). Call once, after the last WriteMessage.
  Status WriteKeywordFiles();
  // Folders written so far (their directories relative to the root).
  int64_t folders() const { return static_cast<int64_t>(folders_.size()); }
  // Keyword letters that could not be written (one per message and keyword).
  int64_t keywords_left_out() const { return keywords_left_out_; }

 private:
  struct Folder {
    Fd here, cur, tmp;  // `here` is not open for the root
    std::string shown;
    std::vector<std::string> keywords;  // index = letter - 'a'
    bool warned = false;
  };
  Result<Folder*> OpenFolder(const std::vector<std::string>& dir);
  // The letters of `keywords` in `f` (numbering new ones).
  std::string KeywordLetters(Folder& f, const std::vector<std::string>& keywords);
  Fd root_;
  std::string shown_;
  std::function<void(const std::string&)> warn_;
  std::map<std::vector<std::string>, Folder> folders_;
  int64_t keywords_left_out_ = 0;
};

}  // namespace mailkeep::exporting
