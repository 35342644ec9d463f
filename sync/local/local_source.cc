#include "sync/local/local_source.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "store/export/folder_names.h"
#include "store/util/files.h"
#include "sync/local/decoded_file.h"
#include "sync/local/mbox_splitter.h"

namespace mailkeep::local {
namespace {

constexpr size_t kReadChunk = 1 << 18;

struct Entry {
  std::string name;
  bool is_dir = false;
  bool is_file = false;
  int64_t mtime = 0;
  std::string open_path;  // what to open: the entry, or where an in-tree link resolves
  std::string outside;    // set for a link out of the tree: where it resolves
};

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string Join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Result<std::string> AbsolutePath(const std::string& path) {
  std::unique_ptr<char, void (*)(void*)> abs(::realpath(path.c_str(), nullptr), std::free);
  if (!abs) {
    int e = errno;
    return MakeError(e == ENOENT || e == ENOTDIR ? ErrorCode::kNotFound : ErrorCode::kIoError,
                     path + ": " + ErrnoText(e));
  }
  return std::string(abs.get());
}

// Whether the resolved path `real` is `root` or below it.
bool Within(const std::string& real, const std::string& root) {
  if (root == "/" || real == root) return true;
  return real.size() > root.size() && real.starts_with(root) && real[root.size()] == '/';
}

// What `path` is, without following a link out of `root`: an in-tree link
// is classified by its target (and opened there); a link out of the tree
// gets `outside` set and is neither file nor directory, as is a dangling one.
Entry Classify(const std::string& path, const std::string& root) {
  Entry entry;
  entry.open_path = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return entry;
  if (S_ISLNK(st.st_mode)) {
    auto real = AbsolutePath(path);
    if (!real) return entry;
    if (!Within(*real, root)) {
      entry.outside = std::move(*real);
      return entry;
    }
    entry.open_path = std::move(*real);
    if (::stat(entry.open_path.c_str(), &st) != 0) return entry;
  }
  entry.is_dir = S_ISDIR(st.st_mode);
  entry.is_file = S_ISREG(st.st_mode);
  entry.mtime = st.st_mtim.tv_sec;
  return entry;
}

// The entries of `dir` (without "." and ".."), sorted by name so that every
// walk visits files in the same order, classified by Classify(…, root).
Result<std::vector<Entry>> ListDir(const std::string& dir, const std::string& root) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
  if (!d) return MakeError(ErrorCode::kIoError, ErrnoText(errno));
  std::vector<Entry> out;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d.get());
    if (e == nullptr) {
      if (errno != 0) return MakeError(ErrorCode::kIoError, ErrnoText(errno));
      break;
    }
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    Entry entry = Classify(Join(dir, name), root);
    entry.name = std::move(name);
    out.push_back(std::move(entry));
  }
  std::sort(out.begin(), out.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return out;
}

// A Maildir folder: a directory with a cur/ or new/ directory in it.
bool IsMaildirFolder(const std::string& dir) {
  return IsDirectory(Join(dir, "cur")) || IsDirectory(Join(dir, "new"));
}

bool IsMaildirPart(const std::string& name) {
  return name == "cur" || name == "new" || name == "tmp";
}

// Files and directories mail servers keep inside a Maildir folder that are
// not messages (hidden ones such as .uidvalidity are skipped anyway).
bool IsMaildirMetadata(const std::string& name) {
  return name.starts_with("dovecot") || name.starts_with("courierimap") || name == "maildirfolder" ||
         name == "subscriptions";
}

// Splits a Maildir file name into the unique name and the flag letters.
void SplitMaildirName(const std::string& name, std::string* key, std::string* letters) {
  size_t info = name.rfind(":2,");
  if (info == std::string::npos) info = name.rfind("!2,");
  if (info == std::string::npos || info == 0) {
    *key = name;
    letters->clear();
    return;
  }
  *key = name.substr(0, info);
  *letters = name.substr(info + 3);
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

using VisitedSet = std::set<std::pair<dev_t, ino_t>>;

// False when `dir` was seen before in this walk (a symlink loop).
bool FirstVisit(const std::string& dir, VisitedSet& visited) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return true;
  return visited.emplace(st.st_dev, st.st_ino).second;
}

// True when `dir` is a Maildir folder or holds one somewhere below it
// (inside `root`).
bool ContainsMaildir(const std::string& dir, const std::string& root, VisitedSet& visited) {
  if (IsMaildirFolder(dir)) return true;
  if (!FirstVisit(dir, visited)) return false;
  auto entries = ListDir(dir, root);
  if (!entries) return false;
  for (const Entry& e : *entries) {
    if (!e.is_dir) continue;
    std::string child = Join(dir, e.name);
    if (e.name[0] == '.' ? IsMaildirFolder(child) : ContainsMaildir(child, root, visited)) return true;
  }
  return false;
}

bool ContainsMaildir(const std::string& dir, const std::string& root) {
  VisitedSet visited;
  return ContainsMaildir(dir, root, visited);
}

// Appends the rest of `file` to `out`. Once `out` would pass the limit it is
// emptied and kFailedPrecondition (TooLargeText) returned, so memory stays
// bounded by the limit plus one chunk.
Status ReadRest(DecodedFile& file, std::string& buf, const ReadLimits& limits, std::string* out) {
  for (;;) {
    MK_ASSIGN_OR_RETURN(size_t n, file.Read(buf.data(), buf.size()));
    if (n == 0) return OkStatus();
    if (out->size() + n > limits.max_message_size) {
      std::string().swap(*out);
      return MakeError(ErrorCode::kFailedPrecondition, TooLargeText(limits));
    }
    out->append(buf.data(), n);
  }
}

// State of one ReadInput call.
class Reader {
 public:
  Reader(const MessageSink& sink, const ProblemSink& on_problem, const ReadLimits& limits)
      : sink_(sink), on_problem_(on_problem), limits_(limits) {}

  // The tree being read (resolved); links out of it are not followed.
  void SetRoot(std::string root) { root_ = std::move(root); }

  void Problem(const std::string& where, const std::string& why) {
    if (on_problem_) on_problem_(where, why);
  }

  void SkippedLink(const std::string& path, const std::string& target) {
    Problem(path, "symbolic link out of the imported tree (to " + target + "); skipped");
  }

  bool FirstVisit(const std::string& dir) { return local::FirstVisit(dir, visited_); }

  // Reads the file `path` (opened at `open_path`, where it resolves), which
  // may be compressed: an mbox when its data starts with "From ", else one
  // message with the given folder and key.
  Status ReadFileInput(const std::string& path, const std::string& open_path, const std::string& folder,
                       const std::string& key, int64_t mtime) {
    auto file = DecodedFile::Open(open_path);
    if (!file) {
      Problem(path, file.error().message());
      return OkStatus();
    }
    std::string head;
    std::string& buf = ReadBuffer();
    while (head.size() < 5) {
      auto n = (*file)->Read(buf.data(), buf.size());
      if (!n) {
        Problem(path, n.error().message());
        return OkStatus();
      }
      if (*n == 0) break;
      head.append(buf.data(), *n);
    }
    if (head.empty()) {
      Problem(path, "empty file");
      return OkStatus();
    }
    if (head.starts_with("From ")) return ReadMboxStream(path, **file, head, buf);

    auto bytes = ReadMessage(path, **file, std::move(head), buf);
    if (!bytes) return OkStatus();
    RawMessage m;
    m.bytes = std::move(*bytes);
    m.origin.source = "eml";
    m.origin.account = "local";
    m.origin.folder = folder;
    m.origin.key = key;
    m.origin.internal_date = mtime;
    return sink_(std::move(m));
  }

  // Splits an mbox as it is decoded; `head` is what was already read.
  Status ReadMboxStream(const std::string& path, DecodedFile& file, std::string_view head,
                        std::string& buf) {
    MboxSplitter splitter(path, sink_, &on_problem_, limits_);
    MK_RETURN_IF_ERROR(splitter.Feed(head));
    for (;;) {
      auto n = file.Read(buf.data(), buf.size());
      if (!n) {
        std::string why = n.error().message();
        if (auto dropped = splitter.Abandon()) {
          why += "; the message at byte " + std::to_string(*dropped) +
                 " and any after it were not read";
        }
        Problem(path, why);
        return OkStatus();
      }
      if (*n == 0) break;
      MK_RETURN_IF_ERROR(splitter.Feed(std::string_view(buf.data(), *n)));
    }
    return splitter.Finish();
  }

  // One Maildir folder: the files in cur/ and new/ (tmp/ holds deliveries
  // in progress and is skipped, as are dot files).
  Status ReadMaildirFolder(const std::string& dir) {
    std::unordered_set<std::string> keys;
    const std::vector<std::string> keywords = ReadKeywords(dir);
    for (const char* sub : {"cur", "new"}) {
      std::string subdir = Join(dir, sub);
      Entry what = Classify(subdir, root_);
      if (!what.outside.empty()) SkippedLink(subdir, what.outside);
      if (!what.is_dir) continue;
      auto entries = ListDir(subdir, root_);
      if (!entries) {
        Problem(subdir, entries.error().message());
        continue;
      }
      for (const Entry& e : *entries) {
        std::string path = Join(subdir, e.name);
        if (e.name[0] != '.' && !e.outside.empty()) SkippedLink(path, e.outside);
        if (e.name[0] == '.' || !e.is_file) continue;
        std::string key, letters;
        SplitMaildirName(e.name, &key, &letters);
        // Two files with one unique name (a client crashed mid-rename):
        // keep both, the second under its whole file name.
        if (!keys.insert(key).second) key = e.name;
        auto bytes = ReadWhole(path, e.open_path);
        if (!bytes) continue;
        RawMessage m;
        m.bytes = std::move(*bytes);
        m.origin.source = "maildir";
        m.origin.account = "local";
        m.origin.folder = dir;
        m.origin.key = std::move(key);
        m.origin.flags = exporting::MaildirFlags(letters, keywords);
        m.origin.internal_date = e.mtime;
        MK_RETURN_IF_ERROR(sink_(std::move(m)));
      }
    }
    return OkStatus();
  }

  // A Maildir, its Maildir++ ".Sub" folders, and nested Maildirs below it
  // (mutt style). Everything else in the tree is read as message files, so
  // a mixed tree imports whole (notmuch's corpora keep messages beside cur/
  // and new/) — except the servers' own files (dovecot-uidlist,
  // maildirfolder, subscriptions, ...) and hidden ones.
  Status WalkMaildirTree(const std::string& dir) {
    if (!FirstVisit(dir)) return OkStatus();
    const bool is_folder = IsMaildirFolder(dir);
    if (is_folder) MK_RETURN_IF_ERROR(ReadMaildirFolder(dir));
    auto entries = ListDir(dir, root_);
    if (!entries) {
      Problem(dir, entries.error().message());
      return OkStatus();
    }
    for (const Entry& e : *entries) {
      // cur/ and new/ links are ReadMaildirFolder's to report.
      if (!e.outside.empty() && !(is_folder && IsMaildirPart(e.name))) {
        SkippedLink(Join(dir, e.name), e.outside);
        continue;
      }
      if (e.is_file && e.name[0] != '.' && !IsMaildirMetadata(e.name)) {
        MK_RETURN_IF_ERROR(ReadFileInput(Join(dir, e.name), e.open_path, dir, e.name, e.mtime));
        continue;
      }
      if (!e.is_dir || IsMaildirPart(e.name) || IsMaildirMetadata(e.name)) continue;
      std::string child = Join(dir, e.name);
      if (e.name[0] == '.') {
        // Maildir++ folders are flat siblings; other dot directories
        // (.notmuch, .git) are not mail.
        if (IsMaildirFolder(child) && FirstVisit(child)) {
          MK_RETURN_IF_ERROR(ReadMaildirFolder(child));
        }
        continue;
      }
      if (ContainsMaildir(child, root_)) {
        MK_RETURN_IF_ERROR(WalkMaildirTree(child));
      } else {
        MK_RETURN_IF_ERROR(WalkFileTree(child, ""));
      }
    }
    return OkStatus();
  }

  // Every regular, non-hidden file below `root`, recursively.
  Status WalkFileTree(const std::string& root, const std::string& rel) {
    std::string dir = rel.empty() ? root : Join(root, rel);
    if (!FirstVisit(dir)) return OkStatus();
    auto entries = ListDir(dir, root_);
    if (!entries) {
      Problem(dir, entries.error().message());
      return OkStatus();
    }
    for (const Entry& e : *entries) {
      if (e.name[0] == '.') continue;
      std::string child_rel = rel.empty() ? e.name : Join(rel, e.name);
      if (!e.outside.empty()) {
        SkippedLink(Join(root, child_rel), e.outside);
      } else if (e.is_dir) {
        MK_RETURN_IF_ERROR(WalkFileTree(root, child_rel));
      } else if (e.is_file) {
        MK_RETURN_IF_ERROR(ReadFileInput(Join(root, child_rel), e.open_path, root, child_rel, e.mtime));
      }
    }
    return OkStatus();
  }

 private:
  // The keywords `dir`'s dovecot-keywords file names (folder_names.h), if
  // it has one; a link out of the tree or an unreadable file is reported.
  std::vector<std::string> ReadKeywords(const std::string& dir) {
    std::string path = Join(dir, exporting::kKeywordFileName);
    Entry what = Classify(path, root_);
    if (!what.outside.empty()) SkippedLink(path, what.outside);
    if (!what.is_file) return {};
    auto text = ReadFile(what.open_path, exporting::kMaxKeywordFile);
    if (!text) {
      Problem(path, text.error().message() + "; its keywords are not imported");
      return {};
    }
    return exporting::ParseKeywordFile(*text);
  }

  // A whole message file (decompressed if it is gzip or zstd) at
  // `open_path`; problems are reported (naming `path`) and give an error.
  Result<std::string> ReadWhole(const std::string& path, const std::string& open_path) {
    auto file = DecodedFile::Open(open_path);
    if (!file) {
      Problem(path, file.error().message());
      return std::unexpected(file.error());
    }
    return ReadMessage(path, **file, std::string(), ReadBuffer());
  }

  // `head` and the rest of `file`, up to the message size limit; problems
  // (read errors, too large, empty) are reported and give an error.
  Result<std::string> ReadMessage(const std::string& path, DecodedFile& file, std::string head,
                                  std::string& buf) {
    std::string out = std::move(head);
    if (Status st = ReadRest(file, buf, limits_, &out); !st) {
      Problem(path, st.error().message());
      return std::unexpected(st.error());
    }
    if (out.empty()) {
      Problem(path, "empty file");
      return MakeError(ErrorCode::kInvalidArgument, "empty file");
    }
    return out;
  }

  const MessageSink& sink_;
  const ProblemSink& on_problem_;
  // The read buffer, one for the whole walk: allocating and zeroing
  // kReadChunk bytes per message file was 1.3 % of an import's CPU on
  // linux-mips, and each such block freed went back to the heap.
  std::string& ReadBuffer() {
    if (read_buffer_.empty()) read_buffer_.resize(kReadChunk);
    return read_buffer_;
  }

  const ReadLimits limits_;
  std::string root_;
  VisitedSet visited_;
  std::string read_buffer_;
};

InputKind DetectFile(const std::string& path, std::string* why) {
  auto file = DecodedFile::Open(path);
  if (!file) {
    if (why) *why = path + ": " + file.error().message();
    return InputKind::kUnknown;
  }
  char head[5];
  size_t have = 0;
  while (have < sizeof head) {
    auto n = (*file)->Read(head + have, sizeof head - have);
    if (!n) {
      if (why) *why = path + ": " + n.error().message();
      return InputKind::kUnknown;
    }
    if (*n == 0) break;
    have += *n;
  }
  if (have == sizeof head && std::string_view(head, have) == "From ") return InputKind::kMbox;
  return InputKind::kMessageFile;
}

}  // namespace

InputKind DetectInput(const std::string& path, std::string* why) {
  // Resolved first: DecodedFile does not follow links, and a tree is where
  // its path resolves.
  auto real = AbsolutePath(path);
  if (!real) {
    if (why) *why = real.error().message();
    return InputKind::kUnknown;
  }
  struct stat st {};
  if (::stat(real->c_str(), &st) != 0) {
    if (why) *why = path + ": " + ErrnoText(errno);
    return InputKind::kUnknown;
  }
  if (S_ISREG(st.st_mode)) return DetectFile(*real, why);
  if (!S_ISDIR(st.st_mode)) {
    if (why) *why = path + ": not a file or directory";
    return InputKind::kUnknown;
  }
  auto entries = ListDir(*real, *real);
  if (!entries) {
    if (why) *why = path + ": " + entries.error().message();
    return InputKind::kUnknown;
  }
  return ContainsMaildir(*real, *real) ? InputKind::kMaildir : InputKind::kEmlDirectory;
}

namespace {

// Folder paths below `root` as names (FolderNaming).
MessageSink NameFolders(const std::string& root, const FolderNaming& naming, const MessageSink& sink) {
  return [root, account = naming.account, names = naming.names, &sink](RawMessage&& m) -> Status {
    const std::string& folder = m.origin.folder;
    if (folder == root || (folder.starts_with(root) && folder.size() > root.size() && folder[root.size()] == '/')) {
      std::vector<std::string> relative;
      std::string_view rest = std::string_view(folder).substr(root.size());
      while (!rest.empty()) {
        rest.remove_prefix(1);  // the '/'
        size_t slash = rest.find('/');
        relative.emplace_back(rest.substr(0, slash));
        rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash);
      }
      m.origin.folder = exporting::FolderName(relative, names);
      m.origin.account = account;
    }
    return sink(std::move(m));
  };
}

}  // namespace

Status ReadInput(const std::string& path, const MessageSink& sink, const ProblemSink& on_problem,
                 const ReadLimits& limits, const FolderNaming& naming) {
  if (!naming.account.empty()) {
    auto resolved = AbsolutePath(path);
    if (resolved) {
      struct stat st {};
      if (::stat(resolved->c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        return ReadInput(path, NameFolders(*resolved, naming, sink), on_problem, limits, {});
      }
    }
  }
  Reader reader(sink, on_problem, limits);
  auto resolved = AbsolutePath(path);
  if (!resolved) {
    if (resolved.error().code() == ErrorCode::kNotFound) return std::unexpected(resolved.error());
    reader.Problem(path, resolved.error().message());
    return OkStatus();
  }
  const std::string& abs = *resolved;
  struct stat st {};
  if (::stat(abs.c_str(), &st) != 0) {
    reader.Problem(abs, ErrnoText(errno));
    return OkStatus();
  }
  if (S_ISREG(st.st_mode)) {
    return reader.ReadFileInput(abs, abs, DirName(abs), BaseName(abs), st.st_mtim.tv_sec);
  }
  if (!S_ISDIR(st.st_mode)) {
    reader.Problem(abs, "not a file or directory");
    return OkStatus();
  }
  reader.SetRoot(abs);
  if (ContainsMaildir(abs, abs)) return reader.WalkMaildirTree(abs);
  return reader.WalkFileTree(abs, "");
}

uint64_t InputBytesUpTo(const std::vector<std::string>& paths, uint64_t enough) {
  uint64_t total = 0;
  for (const std::string& path : paths) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) continue;
    if (std::filesystem::is_regular_file(status)) {
      const uintmax_t size = std::filesystem::file_size(path, ec);
      if (!ec) total += size;
      continue;
    }
    for (auto it = std::filesystem::recursive_directory_iterator(
             path, std::filesystem::directory_options::skip_permission_denied, ec);
         !ec && it != std::filesystem::recursive_directory_iterator() && total < enough; it.increment(ec)) {
      std::error_code unreadable;
      if (it->is_symlink(unreadable) || !it->is_regular_file(unreadable)) continue;
      const uintmax_t size = it->file_size(unreadable);
      if (!unreadable) total += size;
    }
  }
  return total;
}

Status SplitMbox(std::string_view data, const std::string& folder, const MessageSink& sink) {
  MboxSplitter splitter(folder, sink, nullptr, ReadLimits{data.size() + 1, ""});
  MK_RETURN_IF_ERROR(splitter.Feed(data));
  return splitter.Finish();
}

}  // namespace mailkeep::local
