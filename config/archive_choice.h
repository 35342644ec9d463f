// Which archive a command opens, and why: the one rule every command follows.
//   1. --archive DIR
//   2. $MAILKEEP_ARCHIVE (set and non-empty)
//   3. the config file's top-level `archive` (the file named by --config,
//      else DefaultConfigPath() when that file exists)
//   4. ~/.local/share/mailkeep
// Thread-safety: plain functions; LoadCommandConfig reads the environment
// and the file system.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "store/util/status.h"

namespace mailkeep::config {

enum class ArchiveSource { kFlag, kEnv, kConfig, kDefault };

struct ArchiveChoice {
  std::string dir;
  ArchiveSource source = ArchiveSource::kDefault;
  // Why, for people: "--archive", "$MAILKEEP_ARCHIVE", "--config FILE",
  // "config file FILE" (the default one), "default".
  std::string from;
};

struct ArchiveInputs {
  std::string flag;               // --archive; "" = not given
  std::string env;                // $MAILKEEP_ARCHIVE; "" = unset
  const Config* config = nullptr; // the config file read, if any
  bool config_named = false;      // it was named by --config (else the default file)
  std::string home;               // $HOME; "" = unset (then "." stands for it)
};

ArchiveChoice ChooseArchive(const ArchiveInputs& in);

// The same, with env and home from this process's environment.
ArchiveChoice ChooseArchive(const std::string& flag, const Config* config, bool config_named);

// "flag", "env", "config", "default" (stable: stats --json prints it).
std::string_view ArchiveSourceName(ArchiveSource source);

// The config file of a command: `named` (--config) when given, which must
// exist and parse; else DefaultConfigPath(), which may be absent (nullopt)
// but must parse when it is there. Errors are LoadConfigFile's: one line
// naming the file (and line).
Result<std::optional<Config>> LoadCommandConfig(const std::string& named);

}  // namespace mailkeep::config
