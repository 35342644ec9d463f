// mailkeep init: create an empty archive, encrypted with --encrypt.
#include <iostream>

#include <nlohmann/json.hpp>

#include "store/crypto/keys.h"
#include "tools/command.h"

namespace mailkeep::tools {
int CmdInit(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("init options");
  AddCommonOptions(desc, global);
  int kdf_mib = 64;
  desc.add_options()
      ("encrypt", "encrypt the archive with a key from a passphrase (passphrase_command, passphrase_file or "
                  "passphrase_env in the config file, else $MAILKEEP_PASSPHRASE, else asked twice on a terminal)")
      ("kdf-memory", po::value<int>(&kdf_mib)->default_value(64),
       "MiB of memory scrypt uses to derive the key from the passphrase with --encrypt: a power of two, 1..1024; "
       "every unlock needs as much");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] init [--encrypt [--kdf-memory MIB]]", desc, pos, vm)) {
    return *rc;
  }
  const bool encrypt = vm.count("encrypt") > 0;
  auto kdf = crypto::KdfForMemory(kdf_mib);
  if (!kdf) return FailUsage(kdf.error().message());
  if (!encrypt && !vm["kdf-memory"].defaulted()) return FailUsage("--kdf-memory goes with --encrypt");
  std::string dir = ArchiveDir(global);
  auto archive = CreateArchive(global, encrypt ? &*kdf : nullptr);
  if (!archive) return FailArchive(archive.error());
  if (global.json) {
    std::cout << nlohmann::json{{"archive", dir}, {"created", true}, {"encrypted", encrypt}}.dump() << "\n";
  } else if (global.verbosity > 0) {
    std::cout << "created an empty " << (encrypt ? "encrypted " : "") << "archive in " << dir << "\n";
    if (encrypt) {
      std::cout << "keep the passphrase and a copy of " << dir << "/" << crypto::kKeyFileName
                << ": without both, nothing in the archive can be read\n";
    }
  }
  return kExitOk;
}

}  // namespace mailkeep::tools
