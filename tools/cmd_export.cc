// mailkeep export [QUERY] --format eml|mbox|maildir --out PATH
//                [--layout maildir++|nested] [--folder-names mutf7|utf8]
//                [--account NAME [--folder NAME]] [--attachments DIR]
//   eml:     PATH/<id>.eml, the exact stored bytes
//   mbox:    one mboxrd file at PATH (">From " quoting, blank line between)
//            (refused if PATH exists, unless --force; written to a temp file
//            beside it and renamed over at the end, so no half mbox is left)
//   maildir: each folder the message was found in, as
//            PATH/<folder dir>/cur/<date>.M<id>.mailkeep[:2,<flags>]
//            (folder dirs, flags and keywords: store/export/folder_names.h)
//   --account NAME: only messages with a location in that account (and
//            --folder: in that folder); a Maildir gets only those folders.
//   --attachments DIR: the decoded attachments, once per contents
//            (store/export/parts.h); with or without --out.
// Message file names are built from numbers only, folder and attachment
// names are sanitized, and every file is written as store/export/
// output_dir.h says (never through a symlink; 0600 files, 0700 dirs).
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <iterator>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "store/export/folder_names.h"
#include "store/export/mbox.h"
#include "store/export/output_dir.h"
#include "store/export/parts.h"
#include "store/util/files.h"
#include "sync/migrate/folder_map.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

using exporting::Fd;
using exporting::TempFile;

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

}  // namespace

int CmdExport(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("export options");
  AddCommonOptions(desc, global);
  std::string format, out, layout_name = "maildir++", names_name = "mutf7", attachments, account, folder;
  desc.add_options()
      ("query", po::value<std::vector<std::string>>(), "id, id:MESSAGE-ID, mid:MESSAGE-ID; nothing = all")
      ("format", po::value<std::string>(&format)->default_value("eml"), "eml | mbox | maildir")
      ("out,o", po::value<std::string>(&out), "output directory (eml, maildir) or file (mbox)")
      ("layout", po::value<std::string>(&layout_name), "maildir folders: maildir++ (.Parent.Child, default) | nested")
      ("folder-names", po::value<std::string>(&names_name),
       "maildir folder names on disk: mutf7 (modified UTF-7, as Dovecot reads them by default) | utf8")
      ("account", po::value<std::string>(&account), "only messages with a location in this account")
      ("folder", po::value<std::string>(&folder), "with --account: only messages in this folder (as `show` names it)")
      ("attachments", po::value<std::string>(&attachments), "also (or only) write decoded attachments to this directory")
      ("force", "mbox: replace an existing --out file");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] export [QUERY...] --format eml|mbox|maildir --out PATH "
                          "[--layout maildir++|nested] [--folder-names mutf7|utf8] [--account NAME [--folder NAME]] "
                          "[--attachments DIR] [--force]",
                          desc, pos, vm)) {
    return *rc;
  }
  if (out.empty() && attachments.empty()) return FailUsage("export needs --out PATH (or --attachments DIR)");
  if (format != "eml" && format != "mbox" && format != "maildir") {
    return FailUsage("unknown --format '" + format + "': use eml, mbox or maildir");
  }
  if (layout_name != "maildir++" && layout_name != "nested") {
    return FailUsage("unknown --layout '" + layout_name + "': use maildir++ or nested");
  }
  if (names_name != "mutf7" && names_name != "utf8") {
    return FailUsage("unknown --folder-names '" + names_name + "': use mutf7 or utf8");
  }
  if ((vm.count("layout") || vm.count("folder-names")) && format != "maildir") {
    return FailUsage("--layout and --folder-names go with --format maildir");
  }
  if (vm.count("folder") && account.empty()) return FailUsage("--folder goes with --account NAME");
  const auto layout =
      layout_name == "nested" ? exporting::MaildirLayout::kNested : exporting::MaildirLayout::kMaildirPlusPlus;
  const auto names = names_name == "utf8" ? exporting::FolderNameEncoding::kUtf8
                                          : exporting::FolderNameEncoding::kModifiedUtf7;
  const bool messages = !out.empty();
  const bool force = vm.count("force") > 0;
  // mbox: PATH is one file, written beside itself and renamed into place.
  std::string mbox_dir, mbox_name;
  if (messages && format == "mbox") {
    std::string path = exporting::StripTrailingSlashes(out);
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

  Fd out_dir;
  TempFile mbox;
  std::optional<exporting::MaildirWriter> maildir;
  std::optional<exporting::AttachmentWriter> attachment_writer;
  if (!attachments.empty()) {
    auto dir = exporting::OpenOutDir(attachments);
    if (!dir) return Fail(dir.error());
    attachment_writer.emplace(std::move(*dir), attachments);
  }
  if (messages && format == "mbox") {
    Fd dir(::open(mbox_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.ok()) return Fail(Error(ErrorCode::kIoError, mbox_dir + ": " + ErrnoText(errno)));
    auto tmp = exporting::CreateTemp(dir.get(), "." + mbox_name, mbox_dir);
    if (!tmp) return Fail(tmp.error());
    out_dir = std::move(dir);
    mbox = std::move(*tmp);
  } else if (messages) {
    auto dir = exporting::OpenOutDir(out);
    if (!dir) return Fail(dir.error());
    if (format == "maildir") {
      maildir.emplace(std::move(*dir), out, [&](const std::string& line) { PrintError("warning: " + line); });
    } else {
      out_dir = std::move(*dir);
    }
  }

  migrate::ArchivedLayouts layouts(archive);  // IMAP folder names as '/'-separated names
  // --account/--folder: whether a location is one asked for.
  auto wanted = [&](const Location& l) {
    return account.empty() || (l.account == account && (folder.empty() || layouts.NeutralName(l) == folder ||
                                                         l.folder == folder));
  };
  int64_t skipped = 0;  // not in --account/--folder
  Progress progress(global, "exporting");
  int64_t written = 0, failed = 0, attachment_files = 0;
  std::optional<Error> mbox_error;  // the mbox cannot be finished: nothing is published
  std::string buffer;
  // One message: its file(s) in the chosen format (`info` is there for mbox and maildir).
  auto write_message = [&](int64_t id, const std::optional<MessageInfo>& info, const std::string& raw) -> Status {
    if (format == "eml") {
      std::string name = std::to_string(id) + ".eml";
      return exporting::WritePrivateFile(out_dir.get(), "." + name, out, out_dir.get(), name, raw, out + "/" + name);
    }
    if (format == "mbox") {
      buffer.clear();
      exporting::AppendMboxrd(buffer, raw,
                              exporting::MboxFromLine(info->from.empty() ? "" : info->from.front().address, info->date));
      auto st = WriteAll(mbox.fd.get(), buffer, out);
      if (!st) mbox_error = st.error();
      return st;
    }
    int64_t when = info->date.value_or(0);
    std::string base = std::to_string(when < 0 ? 0 : when) + ".M" + std::to_string(id) + ".mailkeep";
    auto name_of = [&](const Location& l) { return layouts.NeutralName(l); };
    std::vector<Location> locations;
    std::ranges::copy_if(info->locations, std::back_inserter(locations), wanted);
    for (const auto& place : exporting::PlaceMessage(locations, layout, name_of, names)) {
      MK_RETURN_IF_ERROR(maildir->WriteMessage(place, base, raw));
    }
    return OkStatus();
  };
  // One message: false when --account/--folder leave it out. Its catalog
  // record is read only when needed (not for a plain eml export).
  auto export_one = [&](int64_t id) -> Result<bool> {
    std::optional<MessageInfo> info;
    if (format != "eml" || !account.empty()) {
      MK_ASSIGN_OR_RETURN(info, archive.GetInfo(id));
      if (!info) return MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id));
      if (!std::ranges::any_of(info->locations, wanted)) return false;
    }
    MK_ASSIGN_OR_RETURN(const std::string raw, archive.ReadRaw(id));
    if (messages) MK_RETURN_IF_ERROR(write_message(id, info, raw));
    if (attachment_writer) {
      MK_ASSIGN_OR_RETURN(const int64_t n, attachment_writer->Add(id, raw));
      attachment_files += n;
    }
    return true;
  };
  for (size_t k = 0; k < ids->size(); ++k) {
    int64_t id = (*ids)[k];
    auto done = export_one(id);
    if (!done) {
      ++failed;
      progress.Finish();
      PrintError("message " + std::to_string(id) + ": " + done.error().message());
      if (mbox_error) break;
    } else {
      ++(*done ? written : skipped);
    }
    progress.Update(static_cast<int64_t>(k + 1), static_cast<int64_t>(ids->size()));
  }
  progress.Finish();
  if (maildir) {
    if (auto st = maildir->WriteKeywordFiles(); !st) {
      ++failed;
      PrintError(st.error().message());
    }
  }
  if (messages && format == "mbox") {
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
  const int64_t folders = maildir ? maildir->folders() : 0;
  const int64_t duplicates = attachment_writer ? attachment_writer->skipped_duplicates() : 0;
  if (global.json) {
    nlohmann::json j{{"exported", written}, {"failed", failed}, {"format", format}, {"out", out}};
    if (maildir) {
      j["folders"] = folders;
      j["keywords_left_out"] = maildir->keywords_left_out();
    }
    if (!account.empty()) j["not_in_account"] = skipped;
    if (attachment_writer) {
      j["attachments"] = attachment_files;
      j["attachment_duplicates"] = duplicates;
    }
    std::cout << j.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::cout << "exported " << written << " message(s)";
    if (messages) std::cout << " as " << format << " to " << out;
    if (maildir) std::cout << " (" << folders << " folder(s))";
    if (maildir && maildir->keywords_left_out()) {
      std::cout << ", " << maildir->keywords_left_out() << " keyword(s) left out (more than 26 in a folder)";
    }
    if (attachment_writer) {
      std::cout << ", " << attachment_files << " attachment file(s) to " << attachments << " ("
                << duplicates << " duplicate(s) written once)";
    }
    std::cout << (failed ? ", " + std::to_string(failed) + " failed" : "") << "\n";
  }
  return failed ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
