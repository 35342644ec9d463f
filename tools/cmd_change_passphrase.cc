// mailkeep change-passphrase: wrap an encrypted archive's master key under a
// new passphrase (Archive::ChangePassphrase; packs and catalog untouched).
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/passphrase.h"
#include "store/crypto/keys.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

// The one source of the new passphrase the options name (kNone: a prompt);
// more than one is a usage error.
Result<config::PasswordSource> NewPassphraseSource(const po::variables_map& vm) {
  using Kind = config::PasswordSource::Kind;
  config::PasswordSource source;
  int given = 0;
  for (auto [option, kind] : {std::pair{"new-passphrase-file", Kind::kFile}, std::pair{"new-passphrase-env", Kind::kEnv},
                              std::pair{"new-passphrase-command", Kind::kCommand}}) {
    if (vm.count(option) == 0) continue;
    ++given;
    source.kind = kind;
    source.value = vm[option].as<std::string>();
  }
  if (given > 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "give one of --new-passphrase-file, --new-passphrase-env and --new-passphrase-command");
  }
  return source;
}

}  // namespace

int CmdChangePassphrase(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("change-passphrase options");
  AddCommonOptions(desc, global);
  int kdf_mib = 64;
  desc.add_options()
      ("new-passphrase-file", po::value<std::string>(), "read the new passphrase from this file (mode 0600)")
      ("new-passphrase-env", po::value<std::string>(), "read the new passphrase from this environment variable")
      ("new-passphrase-command", po::value<std::string>(), "run this shell command; its output is the new passphrase")
      ("kdf-memory", po::value<int>(&kdf_mib)->default_value(64),
       "MiB of memory scrypt uses for the new passphrase: a power of two, 1..1024; every unlock needs as much");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] change-passphrase [--new-passphrase-file F | --new-passphrase-env "
                          "NAME | --new-passphrase-command CMD] [--kdf-memory MIB]\n\n"
                          "Wraps the encrypted archive's key under a new passphrase. The current passphrase comes as\n"
                          "for every command; the new one from the option given, else asked twice on a terminal.\n"
                          "The key itself stays: a copy of the old key file still opens with the old passphrase.",
                          desc, pos, vm)) {
    return *rc;
  }
  auto kdf = crypto::KdfForMemory(kdf_mib);
  if (!kdf) return FailUsage(kdf.error().message());
  auto source = NewPassphraseSource(vm);
  if (!source) return FailUsage(source.error().message());
  const std::string dir = ArchiveDir(global);
  if (!crypto::IsEncrypted(dir)) {
    return FailArchive(Error(ErrorCode::kFailedPrecondition, dir + " is not an encrypted archive (no key file); "
                                                                 "there is no passphrase to change"));
  }
  auto current = config::GetPassphrase(global.config_file.get(), dir, config::PassphraseUse::kUnlock);
  if (!current) return FailArchive(current.error());
  // Opened with the passphrase in hand (not OpenArchive, which asks for it
  // itself): the writer's lock keeps other writers out while the key file
  // is replaced.
  auto keys = crypto::UnlockKeyFile(dir, *current);
  ArchiveOptions options;
  if (keys) options.keys = *keys;
  auto opened = keys ? Archive::Open(dir, OpenMode::kReadWrite, options)
                     : Result<std::unique_ptr<Archive>>(std::unexpected(keys.error()));
  if (!opened) {
    config::WipeSecret(*current);
    return FailArchive(opened.error());
  }
  auto next = config::GetNewPassphrase(*source, dir);
  if (!next) {
    config::WipeSecret(*current);
    return FailUsage(next.error().message());  // the archive is fine; the new passphrase is not
  }
  Status changed = (*opened)->ChangePassphrase(*current, *next, *kdf);
  config::WipeSecret(*current);
  config::WipeSecret(*next);
  if (!changed) return FailArchive(changed.error());
  if (global.json) {
    std::cout << nlohmann::json{{"archive", dir}, {"passphrase_changed", true}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::cout << "changed the passphrase of the archive in " << dir
              << "; the key is the same: old copies of " << crypto::kKeyFileName
              << " still open with the old passphrase\n";
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
