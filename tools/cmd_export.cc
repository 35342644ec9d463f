// mailkeep export [QUERY] --format eml|mbox|maildir --out PATH
//   eml:     PATH/<id>.eml, the exact stored bytes
//   mbox:    one mboxrd file at PATH (">From " quoting, blank line between)
//            (refused if PATH exists, unless --force; written to a temp file
//            beside it and renamed over at the end, so no half mbox is left)
//   maildir: PATH/cur/<date>.M<id>.mailkeep:2,<flags>, flags from locations
// File names are built from numbers only, so nothing in a message can steer
// where a file is written. Files are 0600, directories 0700. The --out
// directory is opened once (never through a symlink) and every file is
// created relative to it with O_EXCL|O_NOFOLLOW under a fresh temp name,
// then renamed into place: a symlink planted in the output is replaced,
// never written through.
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <optional>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "store/util/files.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

// An owned file descriptor. The output directories are opened once and
// every file is created relative to them, so nothing swapped in along the
// path later can redirect a write.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  // Closes now and reports the close error (buffered write failures show here).
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

// "a/b/" -> "a/b" (so O_NOFOLLOW applies to the last component itself).
std::string StripTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// Opens an existing directory, refusing a symbolic link in its place.
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

// The --out directory: created 0700 if missing, never followed if a symlink.
Result<Fd> OpenOutDir(const std::string& out) {
  std::string dir = StripTrailingSlashes(out);
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return MakeError(ErrorCode::kIoError, out + ": " + ErrnoText(errno));
    MK_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  }
  return OpenDirNoFollow(AT_FDCWD, dir, out);
}

// A subdirectory of `parent` (a Maildir's cur/, new/, tmp/), created 0700 if missing.
Result<Fd> OpenSubdir(int parent, const std::string& name, const std::string& shown) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0 && errno != EEXIST) {
    return MakeError(ErrorCode::kIoError, shown + ": " + ErrnoText(errno));
  }
  return OpenDirNoFollow(parent, name, shown);
}

struct TempFile {
  Fd fd;
  std::string name;  // relative to its directory
};

// Creates a new file (0600) in `dir` whose name starts with `prefix`; never
// opens anything that already exists there (a file, or a planted symlink).
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

// Writes `data` to a fresh temp file in `tmp_dir`, then renames it to `name`
// in `dest_dir` (replacing a file, or a symlink itself, never its target).
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

// Moves the finished mbox into place: over an existing file only with --force.
Status PublishMbox(int dir, const std::string& tmp, const std::string& name, bool force, const std::string& shown) {
  if (force) {
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
      return MakeError(ErrorCode::kIoError, shown + ": " + ErrnoText(errno));
    }
    return OkStatus();
  }
  if (::renameat2(dir, tmp.c_str(), dir, name.c_str(), RENAME_NOREPLACE) == 0) return OkStatus();
  int err = errno;
  if (err == EINVAL || err == ENOSYS) {
    // No RENAME_NOREPLACE on this file system: a hard link fails the same way
    // when the name exists.
    if (::linkat(dir, tmp.c_str(), dir, name.c_str(), 0) == 0) {
      ::unlinkat(dir, tmp.c_str(), 0);
      return OkStatus();
    }
    err = errno;
  }
  if (err == EEXIST) {
    return MakeError(ErrorCode::kFailedPrecondition, shown + " appeared during the export; nothing replaced (use --force)");
  }
  return MakeError(ErrorCode::kIoError, shown + ": " + ErrnoText(err));
}

// Appends `raw` to `out` with mboxrd quoting: every line matching ^>*From 
// gets one more '>'. Ends the message with a newline and a blank line.
void AppendMboxrd(std::string& out, std::string_view raw, const std::string& from_line) {
  out += from_line;
  out += '\n';
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t eol = raw.find('\n', pos);
    size_t end = eol == std::string_view::npos ? raw.size() : eol + 1;
    std::string_view line = raw.substr(pos, end - pos);
    size_t gt = 0;
    while (gt < line.size() && line[gt] == '>') ++gt;
    if (line.substr(gt, 5) == "From ") out += '>';
    out.append(line);
    pos = end;
  }
  if (raw.empty() || raw.back() != '\n') out += '\n';
  out += '\n';
}

std::string MboxFromLine(const MessageInfo& info) {
  std::string sender = info.from.empty() ? "" : info.from.front().address;
  std::string clean;
  for (char c : sender) {
    if (static_cast<unsigned char>(c) > ' ' && c != 0x7f) clean += c;
  }
  if (clean.empty()) clean = "MAILER-DAEMON";
  time_t t = static_cast<time_t>(info.date.value_or(0));
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a %b %e %H:%M:%S %Y", &tm);
  return "From " + clean + " " + buf;
}

std::string MaildirFlags(const MessageInfo& info) {
  std::set<char> letters;
  for (const auto& l : info.locations) {
    auto has = [&](const char* f) { return l.flags.find(f) != std::string::npos; };
    if (has("\\Draft")) letters.insert('D');
    if (has("\\Flagged")) letters.insert('F');
    if (has("\\Answered")) letters.insert('R');
    if (has("\\Seen")) letters.insert('S');
    if (has("\\Deleted")) letters.insert('T');
  }
  return std::string(letters.begin(), letters.end());
}

}  // namespace

int CmdExport(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("export options");
  AddCommonOptions(desc, global);
  std::string format, out;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "id, id:MESSAGE-ID, mid:MESSAGE-ID; nothing = all")
      ("format", po::value<std::string>(&format)->default_value("eml"), "eml | mbox | maildir")
      ("out,o", po::value<std::string>(&out), "output directory (eml, maildir) or file (mbox)")
      ("force", "mbox: replace an existing --out file");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] export [QUERY...] --format eml|mbox|maildir --out PATH [--force]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (out.empty()) return FailUsage("export needs --out PATH");
  if (format != "eml" && format != "mbox" && format != "maildir") {
    return FailUsage("unknown --format '" + format + "': use eml, mbox or maildir");
  }
  const bool force = vm.count("force") > 0;
  // mbox: PATH is one file, written beside itself and renamed into place.
  std::string mbox_dir, mbox_name;
  if (format == "mbox") {
    std::string path = StripTrailingSlashes(out);
    size_t slash = path.rfind('/');
    mbox_dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    mbox_name = slash == std::string::npos ? path : path.substr(slash + 1);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return FailUsage(out + " is a directory; --format mbox writes one file");
      if (!force) return FailUsage(out + " already exists; use --force to replace it");
    }
  }
  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  std::vector<std::string> terms;
  if (vm.count("query")) terms = vm["query"].as<std::vector<std::string>>();
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  Fd out_dir, cur_dir, tmp_dir;
  TempFile mbox;
  if (format == "mbox") {
    Fd dir(::open(mbox_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.ok()) return Fail(Error(ErrorCode::kIoError, mbox_dir + ": " + ErrnoText(errno)));
    auto tmp = CreateTemp(dir.get(), "." + mbox_name, mbox_dir);
    if (!tmp) return Fail(tmp.error());
    out_dir = std::move(dir);
    mbox = std::move(*tmp);
  } else {
    auto dir = OpenOutDir(out);
    if (!dir) return Fail(dir.error());
    out_dir = std::move(*dir);
    if (format == "maildir") {
      auto cur = OpenSubdir(out_dir.get(), "cur", out + "/cur");
      if (!cur) return Fail(cur.error());
      auto fresh = OpenSubdir(out_dir.get(), "new", out + "/new");
      if (!fresh) return Fail(fresh.error());
      auto tmp = OpenSubdir(out_dir.get(), "tmp", out + "/tmp");
      if (!tmp) return Fail(tmp.error());
      cur_dir = std::move(*cur);
      tmp_dir = std::move(*tmp);
    }
  }

  Progress progress(global, "exporting");
  int64_t written = 0, failed = 0;
  std::optional<Error> mbox_error;  // the mbox cannot be finished: nothing is published
  std::string buffer;
  for (size_t k = 0; k < ids->size(); ++k) {
    int64_t id = (*ids)[k];
    auto raw = archive.ReadRaw(id);
    Status st;
    if (!raw) {
      st = std::unexpected(raw.error());
    } else if (format == "eml") {
      std::string name = std::to_string(id) + ".eml";
      st = WritePrivateFile(out_dir.get(), "." + name, out, out_dir.get(), name, *raw, out + "/" + name);
    } else {
      auto info = archive.GetInfo(id);
      if (!info || !*info) {
        st = info ? MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id))
                  : Status(std::unexpected(info.error()));
      } else if (format == "mbox") {
        buffer.clear();
        AppendMboxrd(buffer, *raw, MboxFromLine(**info));
        st = WriteAll(mbox.fd.get(), buffer, out);
        if (!st) mbox_error = st.error();
      } else {
        int64_t when = (*info)->date.value_or(0);
        std::string name = std::to_string(when < 0 ? 0 : when) + ".M" + std::to_string(id) + ".mailkeep:2," +
                           MaildirFlags(**info);
        st = WritePrivateFile(tmp_dir.get(), name, out + "/tmp", cur_dir.get(), name, *raw, out + "/cur/" + name);
      }
    }
    if (!st) {
      ++failed;
      progress.Finish();
      PrintError("message " + std::to_string(id) + ": " + st.error().message());
      if (mbox_error) break;
    } else {
      ++written;
    }
    progress.Update(static_cast<int64_t>(k + 1), static_cast<int64_t>(ids->size()));
  }
  progress.Finish();
  if (format == "mbox") {
    if (!mbox_error && ::fsync(mbox.fd.get()) != 0) mbox_error = Error(ErrorCode::kIoError, out + ": " + ErrnoText(errno));
    if (mbox.fd.Close() != 0 && !mbox_error) mbox_error = Error(ErrorCode::kIoError, out + ": " + ErrnoText(errno));
    if (!mbox_error) {
      if (auto st = PublishMbox(out_dir.get(), mbox.name, mbox_name, force, out); !st) mbox_error = st.error();
    }
    if (mbox_error) {
      ::unlinkat(out_dir.get(), mbox.name.c_str(), 0);
      return Fail(Error(mbox_error->code(), mbox_error->message() + "; no mbox written"));
    }
    ::fsync(out_dir.get());
  }
  if (global.json) {
    std::cout << nlohmann::json{{"exported", written}, {"failed", failed}, {"format", format}, {"out", out}}.dump()
              << "\n";
  } else if (global.verbosity > 0) {
    std::cout << "exported " << written << " message(s) as " << format << " to " << out
              << (failed ? ", " + std::to_string(failed) + " failed" : "") << "\n";
  }
  return failed ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
