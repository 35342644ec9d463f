// mailkeep show ID: one message for a person (headers and decoded text),
// --raw for the exact stored bytes, --json for one object, --part PATH for
// one part's decoded bytes (to stdout — shown as text, controls replaced,
// when stdout is a terminal — or --output FILE, 0600, never through a
// symlink). Text output shows
// no control characters from the message (store/util/terminal.h).
#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <string_view>

#include "store/export/output_dir.h"
#include "store/export/parts.h"
#include "store/mime/message.h"
#include "store/util/terminal.h"
#include "tools/command.h"
#include "web/json_views.h"

namespace mailkeep::tools {
namespace {

// What a message says is shown as text, never as terminal control
// (TerminalText): header values on one line, the body with its lines.
std::string HeaderText(std::string_view in) { return TerminalText(in, TextKind::kLine); }

std::string AddressesText(const std::vector<mime::Address>& list) {
  std::string out;
  for (const auto& a : list) {
    if (!out.empty()) out += ", ";
    if (a.name.empty()) {
      out += a.address;
    } else {
      out += a.name + (a.address.empty() ? "" : " <" + a.address + ">");
    }
  }
  return out;
}

}  // namespace

int CmdShow(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("show options");
  AddCommonOptions(desc, global);
  desc.add_options()
      ("id", po::value<std::string>(), "catalog id, or mid:MESSAGE-ID")
      ("raw", "write the exact stored bytes to stdout")
      ("part", po::value<std::string>(), "write this part decoded (a path as `show --json` lists: 1, 2.1, ...)")
      ("output,o", po::value<std::string>(), "--part: write to this file instead of stdout");
  po::positional_options_description pos;
  pos.add("id", 1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] show ID|mid:MESSAGE-ID [--raw | --json | --part N [--output FILE]]", desc, pos, vm)) {
    return *rc;
  }
  if (!vm.count("id")) return FailUsage("show needs a message: a catalog id or mid:MESSAGE-ID");
  if (vm.count("output") && !vm.count("part")) return FailUsage("--output goes with --part");
  auto opened = OpenArchive(global, OpenMode::kReadOnly);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;
  auto ids = ResolveMessage(archive, vm["id"].as<std::string>());
  if (!ids) return Fail(ids.error());
  if (ids->size() > 1 && global.verbosity > 0) {
    std::cerr << "mailkeep: " << ids->size() << " messages match; showing the first (id " << ids->front() << ")\n";
  }
  int64_t id = ids->front();
  auto info = archive.GetInfo(id);
  if (!info) return Fail(info.error());
  if (!*info) return Fail(Error(ErrorCode::kNotFound, "no message with id " + std::to_string(id)));
  auto raw = archive.ReadRaw(id);
  if (!raw) return Fail(raw.error());

  if (vm.count("raw")) {
    std::cout.write(raw->data(), static_cast<std::streamsize>(raw->size()));
    std::cout.flush();
    return std::cout ? kExitOk : kExitPartial;
  }
  mime::Message m = mime::ParseMessage(*raw);
  if (vm.count("part")) {
    auto part = exporting::DecodedPart(*raw, m, vm["part"].as<std::string>());
    if (!part) return part.error().code() == ErrorCode::kInvalidArgument ? FailUsage(part.error().message())
                                                                       : Fail(part.error());
    if (!vm.count("output")) {
      // Decoded bytes from a message never go to a terminal as they are.
      if (::isatty(STDOUT_FILENO)) {
        std::cout << TerminalText(*part, TextKind::kMultiline);
        if (!part->empty() && part->back() != '\n') std::cout << "\n";
        return kExitOk;
      }
      std::cout.write(part->data(), static_cast<std::streamsize>(part->size()));
      std::cout.flush();
      return std::cout ? kExitOk : kExitPartial;
    }
    if (auto st = exporting::WriteFileNoFollow(vm["output"].as<std::string>(), *part); !st) return Fail(st.error());
    return kExitOk;
  }
  const MessageInfo& mi = **info;
  if (global.json) {
    std::cout << web::DumpJson(web::MessageJson(mi, *raw, m), 2) << "\n";
    return kExitOk;
  }
  auto line = [](const char* name, const std::string& value) {
    if (!value.empty()) std::cout << name << HeaderText(value) << "\n";
  };
  line("Id:         ", std::to_string(mi.id));
  line("Message-ID: ", m.message_id.empty() ? "" : "<" + m.message_id + ">");
  line("Date:       ", m.date ? IsoDate(*m.date) : "");
  line("From:       ", AddressesText(m.from));
  line("Sender:     ", AddressesText(m.sender));
  line("Reply-To:   ", AddressesText(m.reply_to));
  line("To:         ", AddressesText(m.to));
  line("Cc:         ", AddressesText(m.cc));
  line("Bcc:        ", AddressesText(m.bcc));
  line("Subject:    ", m.subject);
  for (const auto& p : m.parts) {
    if (!p.is_attachment) continue;
    std::cout << "Attachment: " << (p.filename.empty() ? "(unnamed)" : HeaderText(p.filename)) << " ("
              << HeaderText(p.content_type) << ", " << p.size << " bytes)\n";
  }
  for (const auto& l : mi.locations) {
    std::cout << "Found in:   "
              << HeaderText(l.source + " " + l.account + " " + l.folder + (l.key.empty() ? "" : " " + l.key) +
                            (l.flags.empty() ? "" : " [" + l.flags + "]"))
              << (l.gone_at ? " (no longer on the server)" : "") << "\n";
  }
  std::string text = TerminalText(m.text, TextKind::kMultiline);
  std::cout << "\n" << text;
  if (!text.empty() && text.back() != '\n') std::cout << "\n";
  return kExitOk;
}

}  // namespace mailkeep::tools
