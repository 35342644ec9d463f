// The passphrase of an encrypted archive, from the first source that is
// set: the config file's passphrase_command / passphrase_file /
// passphrase_env (Config::passphrase, resolved as ResolvePassword resolves
// an account's password), then the environment variable
// MAILKEEP_PASSPHRASE, then a prompt without echo when stdin is a terminal
// (for a new archive asked twice). The passphrase is never printed, and no
// message here contains it.
//
// Thread-safety: reads the environment and the terminal; call from one
// thread.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "store/util/status.h"

namespace mailkeep::config {

inline constexpr char kPassphraseEnv[] = "MAILKEEP_PASSPHRASE";

enum class PassphraseUse {
  kUnlock,  // opening an existing archive
  kCreate,  // init --encrypt: a prompt asks twice and the two must match
};

// `config` may be null (no config file). `archive_dir` names the archive in
// messages. Errors (each one line):
//   no source: kFailedPrecondition "the archive in DIR is encrypted: set
//     passphrase_command, passphrase_file or passphrase_env in the config
//     file, or MAILKEEP_PASSPHRASE"
//   a source that fails: ResolvePassword's error, after "the archive in DIR: "
//   a prompt: kFailedPrecondition "the passphrases do not match" (kCreate),
//     "no passphrase given" (empty), or kIoError reading the terminal.
Result<std::string> GetPassphrase(const Config* config, const std::string& archive_dir, PassphraseUse use);

// Turns echo off, prints `prompt` on stderr (after: what is typed once
// the prompt shows is never discarded or echoed) and reads one line (at
// most 4096 bytes kept) from the terminal on stdin. `noun` ("passphrase",
// "password") names it in errors: kIoError reading the terminal,
// kFailedPrecondition "no NOUN given" for an empty line.
Result<std::string> ReadSecretFromTerminal(const std::string& prompt, std::string_view noun);

// The new passphrase of `mailkeep change-passphrase`: from `source` when
// it is set (--new-passphrase-file / -env / -command, fetched and checked
// as ResolvePassword does: a file readable by its group or others is
// refused), else asked twice without echo on a terminal. Never from argv.
// Errors (one line each): ResolvePassword's after "the new passphrase: ";
// kFailedPrecondition for an empty passphrase, two that differ ("...;
// nothing was changed"), or no source off a terminal.
Result<std::string> GetNewPassphrase(const PasswordSource& source, const std::string& archive_dir);

// Overwrites a secret's bytes before it is released.
void WipeSecret(std::string& secret);

}  // namespace mailkeep::config
