// The mailkeep command line: shared options, exit codes and helpers for the
// commands in tools/cmd_*.cc (one command per file, listed in main.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "index/feeder.h"
#include "store/archive.h"
#include "store/util/status.h"
#include "store/util/terminal.h"

namespace mailkeep::tools {

// Exit codes, the same for every command.
enum ExitCode : int {
  kExitOk = 0,          // everything asked for was done
  kExitPartial = 1,     // some messages or accounts failed (the rest done), or verify found problems
  kExitUsage = 2,       // bad command line or configuration
  kExitArchive = 3,     // archive missing, locked or unusable
};

struct GlobalOptions {
  std::string archive;     // --archive, else $MAILKEEP_ARCHIVE, else ~/.local/share/mailkeep
  std::string config;      // --config: the accounts file (sync)
  bool json = false;       // --json: machine-readable output on stdout
  int verbosity = 1;       // -q = 0, -v = 2
};

using CommandFn = int (*)(GlobalOptions& global, const std::vector<std::string>& args);

struct Command {
  const char* name;
  CommandFn run;
  const char* summary;
};

int CmdInit(GlobalOptions& global, const std::vector<std::string>& args);
int CmdImport(GlobalOptions& global, const std::vector<std::string>& args);
int CmdSync(GlobalOptions& global, const std::vector<std::string>& args);
int CmdShow(GlobalOptions& global, const std::vector<std::string>& args);
int CmdExport(GlobalOptions& global, const std::vector<std::string>& args);
int CmdStats(GlobalOptions& global, const std::vector<std::string>& args);
int CmdVerify(GlobalOptions& global, const std::vector<std::string>& args);
int CmdRebuildCatalog(GlobalOptions& global, const std::vector<std::string>& args);
int CmdRepack(GlobalOptions& global, const std::vector<std::string>& args);
int CmdSearch(GlobalOptions& global, const std::vector<std::string>& args);
int CmdReindex(GlobalOptions& global, const std::vector<std::string>& args);
int CmdThread(GlobalOptions& global, const std::vector<std::string>& args);
int CmdMigrate(GlobalOptions& global, const std::vector<std::string>& args);
int CmdResend(GlobalOptions& global, const std::vector<std::string>& args);
int CmdOauth(GlobalOptions& global, const std::vector<std::string>& args);

namespace po = boost::program_options;

// Adds --archive, --json, -q, -v and --help to a command's options.
void AddCommonOptions(po::options_description& desc, GlobalOptions& global);

// Parses a command's arguments and applies the common options to `global`.
// Returns an exit code when the command should
// stop now (after --help, or a usage error already printed).
std::optional<int> ParseArgs(GlobalOptions& global, const std::vector<std::string>& args, const char* usage,
                             po::options_description& desc, const po::positional_options_description& positional,
                             po::variables_map& vm);

// Fills in the default archive directory.
std::string ArchiveDir(const GlobalOptions& global);
Result<std::unique_ptr<Archive>> OpenArchive(const GlobalOptions& global, OpenMode mode,
                                             const ArchiveOptions& options = {});

// Prints "mailkeep: " + `line` on stderr as one line: control characters
// in it (from file names, servers, messages) are shown as U+FFFD
// (TerminalText). Every error and warning line of the tools goes through it.
void PrintError(std::string_view line);

// Each prints "mailkeep: message" (PrintError) and returns the exit code.
// FailArchive: any error from opening the archive (Archive::Open, Create,
// RebuildCatalog, OpenArchive) -> kExitArchive, whatever its code.
int FailArchive(const Error& error);
// Fail: everything after the archive is open. kInvalidArgument (a bad
// command-line value or query syntax, from parsing) -> kExitUsage; anything
// else (a message, the index, an output path) -> kExitPartial.
int Fail(const Error& error);
int FailUsage(const std::string& message);

// Resolves a query: nothing or "*" = every message; terms that are all
// numbers (catalog ids) or id:X / mid:X (Message-IDs) are looked up in the
// catalog (their union, in the order given); anything else is a search
// query answered by the full-text index, oldest first.
Result<std::vector<int64_t>> ResolveQuery(Archive& archive, const std::vector<std::string>& terms);

// ResolveQuery for commands about one message (show, thread): the matches,
// or kNotFound "no message matches QUERY" when there are none.
Result<std::vector<int64_t>> ResolveMessage(Archive& archive, const std::string& query);

// The index feeder of a command that stores and indexes as it goes
// (import, sync): a message the index refuses is printed ("mailkeep:
// message N not indexed: WHY") and counted in *not_indexed. When the index
// cannot be opened, returns nullptr with *error set: storing goes on, and
// the next run catches the index up.
std::unique_ptr<index::IndexFeeder> OpenCommandFeeder(Archive& archive, int64_t* not_indexed,
                                                      std::optional<Error>* error);

// "2024-03-01T12:00:00Z"
std::string IsoDate(int64_t unix_seconds);
// A progress line on stderr when it is a terminal and verbosity allows.
class Progress {
 public:
  Progress(const GlobalOptions& global, std::string what);
  ~Progress();
  void Update(int64_t done, int64_t total = -1);
  void Finish();

 private:
  bool enabled_;
  std::string what_;
  int64_t last_ms_ = 0;
  bool shown_ = false;
};

}  // namespace mailkeep::tools
