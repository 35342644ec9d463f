// mailkeep export [QUERY] --format eml|mbox|maildir --out PATH
//   eml:     PATH/<id>.eml, the exact stored bytes
//   mbox:    one mboxrd file at PATH (">From " quoting, blank line between)
//   maildir: PATH/cur/<date>.M<id>.mailkeep:2,<flags>, flags from locations
// File names are built from numbers only, so nothing in a message can steer
// where a file is written. Files are 0600, directories 0700.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <set>

#include <nlohmann/json.hpp>

#include "store/util/files.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

Status WritePrivateFile(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return MakeError(ErrorCode::kIoError, tmp + ": " + ErrnoText(errno));
  auto st = WriteAll(fd, data, tmp);
  if (::close(fd) != 0 && st) st = MakeError(ErrorCode::kIoError, tmp + ": " + ErrnoText(errno));
  if (!st) {
    ::unlink(tmp.c_str());
    return st;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return MakeError(ErrorCode::kIoError, path + ": " + ErrnoText(errno));
  }
  return OkStatus();
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
      ("out,o", po::value<std::string>(&out), "output directory (eml, maildir) or file (mbox)");
  po::positional_options_description pos;
  pos.add("query", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] export [QUERY...] --format eml|mbox|maildir --out PATH",
                          desc, pos, vm)) {
    return *rc;
  }
  if (out.empty()) return FailUsage("export needs --out PATH");
  if (format != "eml" && format != "mbox" && format != "maildir") {
    return FailUsage("unknown --format '" + format + "': use eml, mbox or maildir");
  }
  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  std::vector<std::string> terms;
  if (vm.count("query")) terms = vm["query"].as<std::vector<std::string>>();
  auto ids = ResolveQuery(archive, terms);
  if (!ids) return Fail(ids.error());

  int mbox_fd = -1;
  if (format == "mbox") {
    mbox_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (mbox_fd < 0) return Fail(Error(ErrorCode::kIoError, out + ": " + ErrnoText(errno)));
  } else {
    auto st = MakeDirs(out, 0700);
    if (st && format == "maildir") {
      for (const char* sub : {"/cur", "/new", "/tmp"}) {
        if (st) st = MakeDirs(out + sub, 0700);
      }
    }
    if (!st) return Fail(st.error());
  }

  Progress progress(global, "exporting");
  int64_t written = 0, failed = 0;
  std::string buffer;
  for (size_t k = 0; k < ids->size(); ++k) {
    int64_t id = (*ids)[k];
    auto raw = archive.ReadRaw(id);
    Status st;
    if (!raw) {
      st = std::unexpected(raw.error());
    } else if (format == "eml") {
      st = WritePrivateFile(out + "/" + std::to_string(id) + ".eml", *raw);
    } else {
      auto info = archive.GetInfo(id);
      if (!info || !*info) {
        st = info ? MakeError(ErrorCode::kNotFound, "no message with id " + std::to_string(id))
                  : Status(std::unexpected(info.error()));
      } else if (format == "mbox") {
        buffer.clear();
        AppendMboxrd(buffer, *raw, MboxFromLine(**info));
        st = WriteAll(mbox_fd, buffer, out);
      } else {
        int64_t when = (*info)->date.value_or(0);
        std::string name = std::to_string(when < 0 ? 0 : when) + ".M" + std::to_string(id) + ".mailkeep:2," +
                           MaildirFlags(**info);
        std::string tmp = out + "/tmp/" + name;
        st = WritePrivateFile(tmp, *raw);
        if (st && ::rename(tmp.c_str(), (out + "/cur/" + name).c_str()) != 0) {
          st = MakeError(ErrorCode::kIoError, out + "/cur/" + name + ": " + ErrnoText(errno));
        }
      }
    }
    if (!st) {
      ++failed;
      progress.Finish();
      std::cerr << "mailkeep: message " << id << ": " << st.error().message() << "\n";
      if (st.error().code() == ErrorCode::kIoError && format == "mbox") break;
    } else {
      ++written;
    }
    progress.Update(static_cast<int64_t>(k + 1), static_cast<int64_t>(ids->size()));
  }
  progress.Finish();
  if (mbox_fd >= 0 && ::close(mbox_fd) != 0) {
    return Fail(Error(ErrorCode::kIoError, out + ": " + ErrnoText(errno)));
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
