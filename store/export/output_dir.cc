#include "store/export/output_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "store/util/files.h"

namespace mailkeep::exporting {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

int Fd::Close() { return ::close(std::exchange(fd_, -1)); }

std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

Result<Fd> OpenDirNoFollow(int at, const std::string& path, const std::string& shown) {
  Fd fd(::openat(at, path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) {
    int err = errno;
    struct stat st {};
    if (err == ELOOP || (err == ENOTDIR && ::fstatat(at, path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                         S_ISLNK(st.st_mode))) {
      return MakeError(ErrorCode::kFailedPrecondition, shown + " is a symbolic link; give the real directory");
    }
    if (err == ENOTDIR) return MakeError(ErrorCode::kFailedPrecondition, shown + " is not a directory");
    return MakeError(ErrorCode::kIoError, shown + ": " + ErrnoText(err));
  }
  return fd;
}

Result<Fd> OpenOutDir(const std::string& path) {
  std::string dir = StripTrailingSlashes(path);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
    MK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  return OpenDirNoFollow(AT_FDCWD, dir, path);
}

Result<Fd> OpenSubdir(int parent, const std::string& name, const std::string& shown) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError(ErrorCode::kIoError, shown + ": " + ErrnoText(errno));
  }
  return OpenDirNoFollow(parent, name, shown);
}

Result<TempFile> CreateTemp(int dir, const std::string& prefix, const std::string& shown_dir) {
  static unsigned counter = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string name = prefix + ".mailkeep-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".tmp";
    Fd fd(::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (fd.ok()) return TempFile{std::move(fd), std::move(name)};
    if (errno != EEXIST) return MakeError(ErrorCode::kIoError, shown_dir + "/" + name + ": " + ErrnoText(errno));
  }
  return MakeError(ErrorCode::kIoError, shown_dir + ": cannot create a temporary file (all names taken)");
}

Status WritePrivateFile(int tmp_dir, const std::string& tmp_prefix, const std::string& shown_tmp_dir, int dest_dir,
                        const std::string& name, std::string_view data, const std::string& shown_dest) {
  MK_ASSIGN_OR_RETURN(TempFile tmp, CreateTemp(tmp_dir, tmp_prefix, shown_tmp_dir));
  auto st = WriteAll(tmp.fd.get(), data, shown_dest);
  if (tmp.fd.Close() != 0 && st) st = MakeError(ErrorCode::kIoError, shown_dest + ": " + ErrnoText(errno));
  if (st && ::renameat(tmp_dir, tmp.name.c_str(), dest_dir, name.c_str()) != 0) {
    st = MakeError(ErrorCode::kIoError, shown_dest + ": " + ErrnoText(errno));
  }
  if (!st) ::unlinkat(tmp_dir, tmp.name.c_str(), 0);
  return st;
}

Status WriteFileNoFollow(const std::string& path, std::string_view data) {
  std::string clean = StripTrailingSlashes(path);
  size_t slash = clean.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : clean.substr(0, slash);
  std::string name = slash == std::string::npos ? clean : clean.substr(slash + 1);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.ok()) return MakeError(ErrorCode::kIoError, dir + ": " + ErrnoText(errno));
  struct stat st {};
  if (::fstatat(fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kFailedPrecondition, path + " is a directory");
  }
  return WritePrivateFile(fd.get(), ".part", dir, fd.get(), name, data, path);
}

Result<MaildirWriter::Folder*> MaildirWriter::OpenFolder(const std::vector<std::string>& dir) {
  if (auto it = folders_.find(dir); it != folders_.end()) return &it->second;
  Fd here;
  std::string shown = shown_;
  int at = root_.get();
  for (const auto& component : dir) {
    shown += "/" + component;
    MK_ASSIGN_OR_RETURN(here, OpenSubdir(at, component, shown));
    at = here.get();
  }
  Folder f;
  f.here = std::move(here);
  f.shown = shown;
  MK_ASSIGN_OR_RETURN(f.cur, OpenSubdir(at, "cur", shown + "/cur"));
  MK_ASSIGN_OR_RETURN(Fd fresh, OpenSubdir(at, "new", shown + "/new"));
  MK_ASSIGN_OR_RETURN(f.tmp, OpenSubdir(at, "tmp", shown + "/tmp"));
  return &(folders_[dir] = std::move(f));
}

Status MaildirWriter::Write(const std::vector<std::string>& dir, const std::string& name, std::string_view data) {
  MK_ASSIGN_OR_RETURN(Folder * f, OpenFolder(dir));
  return WritePrivateFile(f->tmp.get(), name, f->shown + "/tmp", f->cur.get(), name, data, f->shown + "/cur/" + name);
}

std::string MaildirWriter::KeywordLetters(Folder& f, const std::vector<std::string>& keywords) {
  std::string letters;
  for (const auto& k : keywords) {
    auto at = std::find(f.keywords.begin(), f.keywords.end(), k);
    if (at == f.keywords.end() && f.keywords.size() < kMaildirKeywordLetters) at = f.keywords.insert(at, k);
    if (at != f.keywords.end()) {
      letters += static_cast<char>('a' + (at - f.keywords.begin()));
      continue;
    }
    ++keywords_left_out_;
    if (!f.warned && warn_) {
      warn_(f.shown + ": more than " + std::to_string(kMaildirKeywordLetters) +
            " keywords; a Maildir has no letter for the others (such as '" + k + "'), left out");
    }
    f.warned = true;
  }
  std::sort(letters.begin(), letters.end());
  return letters;
}

Status MaildirWriter::WriteMessage(const MaildirPlacement& place, const std::string& base, std::string_view data) {
  MK_ASSIGN_OR_RETURN(Folder * f, OpenFolder(place.dir));
  std::string name = base;
  if (place.flags_known) name += ":2," + place.letters + KeywordLetters(*f, place.keywords);
  return Write(place.dir, name, data);
}

Status MaildirWriter::WriteKeywordFiles() {
  for (auto& [dir, f] : folders_) {
    if (f.keywords.empty()) continue;
    int at = f.here.ok() ? f.here.get() : root_.get();
    MK_RETURN_IF_ERROR(WritePrivateFile(f.tmp.get(), kKeywordFileName, f.shown + "/tmp", at, kKeywordFileName,
                                        KeywordFileText(f.keywords), f.shown + "/" + kKeywordFileName));
  }
  return OkStatus();
}

}  // namespace mailkeep::exporting
