// The mailkeep command line: shared options, exit codes and helpers for the
// commands in tools/cmd_*.cc (one command per file, listed in main.cc).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "config/archive_choice.h"
#include "config/config.h"
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
  std::string archive;     // --archive ("" = not given); the archive opened is ArchiveFor(*this)
  std::string config;      // --config: the config (accounts) file ("" = not given)
  // The config file every command reads (ParseArgs): --config, else the
  // default one when it exists; nullptr when there is none.
  std::shared_ptr<const config::Config> config_file;
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
int CmdDelete(GlobalOptions& global, const std::vector<std::string>& args);
int CmdPrune(GlobalOptions& global, const std::vector<std::string>& args);
int CmdHold(GlobalOptions& global, const std::vector<std::string>& args);
int CmdRelease(GlobalOptions& global, const std::vector<std::string>& args);
int CmdAudit(GlobalOptions& global, const std::vector<std::string>& args);
int CmdServe(GlobalOptions& global, const std::vector<std::string>& args);
int CmdServePassword(GlobalOptions& global, const std::vector<std::string>& args);
int CmdChangePassphrase(GlobalOptions& global, const std::vector<std::string>& args);

namespace po = boost::program_options;

// Adds --archive, --json, -q, -v and --help to a command's options
// (ParseArgs adds --config).
void AddCommonOptions(po::options_description& desc, GlobalOptions& global);

// Parses a command's arguments, applies the common options to `global` and
// reads the config file (config::LoadCommandConfig into global.config_file).
// Returns an exit code when the command should stop now (after --help, or a
// usage or config file error already printed as one line: kExitUsage).
std::optional<int> ParseArgs(GlobalOptions& global, const std::vector<std::string>& args, const char* usage,
                             po::options_description& desc, const po::positional_options_description& positional,
                             po::variables_map& vm);

// The archive of every command, and why (config/archive_choice.h):
// --archive, $MAILKEEP_ARCHIVE, the config file's `archive`, the default.
config::ArchiveChoice ArchiveFor(const GlobalOptions& global);
std::string ArchiveDir(const GlobalOptions& global);  // ArchiveFor(global).dir
// The one way every command opens an archive (init creates one with
// CreateArchive). An encrypted archive is
// unlocked with its passphrase (config::GetPassphrase: the config file's
// passphrase_* key, $MAILKEEP_PASSPHRASE, a prompt on a terminal), once per
// process; `options.keys` is set from that. Any error -> FailArchive (exit 3).
Result<std::unique_ptr<Archive>> OpenArchive(const GlobalOptions& global, OpenMode mode,
                                             ArchiveOptions options = {});
// init: creates the archive of ArchiveFor(global); with `encrypt`, an
// encrypted one (its key file made with a passphrase from
// config::GetPassphrase, asked twice on a terminal, and scrypt `*encrypt`).
Result<std::unique_ptr<Archive>> CreateArchive(const GlobalOptions& global, const crypto::KdfParams* encrypt);
// `options` with the keys of the archive in `dir` when it is encrypted
// (null for a plain one): for the calls that are not Archive::Open
// (Archive::RebuildCatalog).
Result<ArchiveOptions> WithArchiveKeys(const GlobalOptions& global, const std::string& dir,
                                       ArchiveOptions options = {});
// OpenArchive for the commands that wait for the lock: a writer waits up to
// `lock_timeout` seconds for another mailkeep holding it.
Result<std::unique_ptr<Archive>> OpenConfiguredArchive(const GlobalOptions& global, bool writable, int lock_timeout);

// The config file of a command that cannot work without one (sync,
// migrate, oauth, resend through a relay): global.config_file, or the
// error of reading the default one ("PATH: No such file or directory").
Result<const config::Config*> RequireConfig(const GlobalOptions& global);

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
// the next run catches the index up. `writer`: the index writer's options
// (IndexFeeder::Open).
std::unique_ptr<index::IndexFeeder> OpenCommandFeeder(Archive& archive, int64_t* not_indexed,
                                                      std::optional<Error>* error,
                                                      const index::IndexWriterOptions& writer = {});

// "indexing stopped: WHY" and what to do: the index's own advice when it
// needs a full `mailkeep reindex` (another schema, a damaged layout:
// kFailedPrecondition, kCorruption), else that `next_run` or `mailkeep
// reindex --pending` catches up.
std::string IndexStoppedLine(const Error& error, std::string_view next_run);

// When `requeued` > 0 (index::CatchUpResult::requeued: the index cache of
// an encrypted archive was missing), says in one line that every message is
// being indexed again. OpenCommandFeeder calls it itself.
void SayIndexRequeued(const Archive& archive, int64_t requeued);

// "2024-03-01T12:00:00Z"
std::string IsoDate(int64_t unix_seconds);

// Removal (tools/removal.cc), shared by delete and prune.
struct RemovalRequest {
  std::vector<int64_t> ids;  // the selection (held ones included: they are kept and counted)
  AuditContext who;          // who.command is the verb printed ("delete", "prune")
  bool dry_run = false;      // list / count only
  bool list = false;         // dry run: one line per message
  bool confirm = false;      // ask for the count on a terminal unless `yes`; refuse off a terminal
  bool yes = false;
  std::string note;          // appended to the summary line
};
// Removes (Archive::Remove), brings the index up to date and prints the
// summary; returns the exit code.
int RunRemoval(const GlobalOptions& global, Archive& archive, const RemovalRequest& request);
// The held ones of `ids`.
Result<std::vector<int64_t>> HeldAmong(Archive& archive, const std::vector<int64_t>& ids);
// Indexes what waits (and drops removed documents); problems are printed
// and counted.
Status CatchUpIndexQuietly(Archive& archive, int64_t* problems);
// QUERY words of a lifecycle command as one string, refused when empty.
Result<std::string> JoinQuery(const po::variables_map& vm, const char* command);
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
