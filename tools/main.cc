// mailkeep: keeps mail. The command table and global option handling; each
// command lives in its own tools/cmd_<name>.cc.
#include <sys/stat.h>

#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "tools/command.h"
#include "tools/version.h"

namespace mailkeep::tools {
namespace {

const Command kCommands[] = {
    {"init", CmdInit, "create an archive"},
    {"sync", CmdSync, "pull the accounts of the config file (IMAP, POP3) into the archive"},
    {"import", CmdImport, "import Maildirs, mbox files (.gz, .zst) or message files"},
    {"search", CmdSearch, "find messages: words, from: to: subject: date: size: ... (see --help)"},
    {"thread", CmdThread, "list the messages of one thread, oldest first"},
    {"show", CmdShow, "show one message: headers and text, --raw bytes, --json, or one --part"},
    {"serve", CmdServe, "a read-only web interface and JSON API over the archive (loopback by default)"},
    {"export", CmdExport, "write messages as .eml files, an mbox or a Maildir tree; --attachments"},
    {"migrate", CmdMigrate, "append messages to an IMAP account, keeping flags, dates and folders"},
    {"resend", CmdResend, "send messages out again over SMTP, through a relay or straight to the MX"},
    {"oauth", CmdOauth, "authorize mailkeep once for an OAuth2 account (device code); sync then refreshes tokens"},
    {"delete", CmdDelete, "remove the messages a query selects (held ones kept; audited)"},
    {"prune", CmdPrune, "remove messages past the accounts file's retention (for cron)"},
    {"hold", CmdHold, "put messages under legal hold (--reason), or --list the held ones"},
    {"release", CmdRelease, "end the legal hold of messages"},
    {"audit", CmdAudit, "who removed, held or released which message, and when"},
    {"serve-password", CmdServePassword, "make a login for `serve`: a user = NAME:HASH line, or --token"},
    {"stats", CmdStats, "counts, sizes and compression of the archive"},
    {"verify", CmdVerify, "check stored messages against their SHA-256 (all, or a rotating subset)"},
    {"reindex", CmdReindex, "rebuild the full-text index from the archive"},
    {"rebuild-catalog", CmdRebuildCatalog, "recreate the catalog from the pack files alone"},
    {"change-passphrase", CmdChangePassphrase, "wrap an encrypted archive's key under a new passphrase"},
    {"repack", CmdRepack, "rewrite packs so that removed messages' bytes are gone; --dry-run counts"},
};

void PrintUsage(std::ostream& out) {
  out << "usage: mailkeep [--config FILE] [--archive DIR] [--json] [-q|-v] COMMAND [ARGS]\n\ncommands:\n";
  for (const auto& c : kCommands) {
    out << "  " << c.name << std::string(18 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
  out << "\n`mailkeep COMMAND --help` describes a command. The archive: --archive, else $MAILKEEP_ARCHIVE,\n"
         "else the config file's `archive` (--config FILE, else $MAILKEEP_CONFIG, else\n"
         "~/.config/mailkeep/config.ini), else ~/.local/share/mailkeep.\n"
         "exit status: 0 ok, 1 some messages failed or problems found, 2 usage or config file error, 3 archive missing,\n"
         "locked or unusable.\n";
}

}  // namespace
}  // namespace mailkeep::tools

int main(int argc, char** argv) {
  using namespace mailkeep::tools;
  // Everything mailkeep creates — the archive with Xapian's and SQLite's own
  // files, exports — is for its owner only (0600 files, 0700 directories),
  // whatever umask it was started with; libraries that create files with
  // the umask's mode get it right too.
  ::umask(077);
  GlobalOptions global;
  int i = 1;
  // Global options come before the command.
  for (; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      std::string prefix = std::string(name) + "=";
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      if (i + 1 >= argc) {
        std::exit(FailUsage(std::string(name) + " needs a value"));
      }
      return argv[++i];
    };
    if (a == "--archive" || a.rfind("--archive=", 0) == 0) {
      global.archive = value("--archive");
    } else if (a == "--config" || a.rfind("--config=", 0) == 0) {
      global.config = value("--config");
    } else if (a == "--json") {
      global.json = true;
    } else if (a == "-q" || a == "--quiet") {
      global.verbosity = 0;
    } else if (a == "-v" || a == "--verbose") {
      global.verbosity = 2;
    } else if (a == "-h" || a == "--help") {
      PrintUsage(std::cout);
      return kExitOk;
    } else if (a == "--version") {
      std::cout << "mailkeep " << MAILKEEP_VERSION << "\n";
      return kExitOk;
    } else {
      PrintError("unknown option " + a);
      PrintUsage(std::cerr);
      return kExitUsage;
    }
  }
  if (i >= argc) {
    PrintUsage(std::cerr);
    return kExitUsage;
  }
  std::string name = argv[i++];
  std::vector<std::string> args(argv + i, argv + argc);
  for (const auto& c : kCommands) {
    if (name == c.name) {
      try {
        return c.run(global, args);
      } catch (const std::exception& e) {
        PrintError(name + ": unexpected error: " + e.what());
        return kExitPartial;
      }
    }
  }
  PrintError("unknown command '" + name + "'");
  PrintUsage(std::cerr);
  return kExitUsage;
}
