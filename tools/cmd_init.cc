// mailkeep init: create an empty archive, encrypted with --encrypt.
#include <unistd.h>

#include <bit>
#include <iostream>

#include <nlohmann/json.hpp>

#include "config/passphrase.h"
#include "store/crypto/keys.h"
#include "tools/command.h"

namespace mailkeep::tools {
namespace {

constexpr int kMinKdfMib = 1;
constexpr int kMaxKdfMib = 1024;

// scrypt parameters using `mib` MiB (128 * r * N bytes, r = 8): N = mib * 1024.
// REQUIRES: mib a power of two in [kMinKdfMib, kMaxKdfMib].
crypto::KdfParams KdfForMemory(int mib) {
  crypto::KdfParams params;
  params.r = 8;
  params.log2_n = static_cast<uint8_t>(10 + std::countr_zero(static_cast<unsigned>(mib)));
  return params;
}

// Writes the key file of a new encrypted archive in `dir` with a passphrase
// from the first source set, then creates the archive. A failed Create
// removes the key file again (CreateKeyFile refused a directory holding an
// archive, so the key file is the only thing it made).
Result<std::unique_ptr<Archive>> CreateEncrypted(const GlobalOptions& global, const std::string& dir, int kdf_mib) {
  MK_ASSIGN_OR_RETURN(std::string passphrase,
                      config::GetPassphrase(global.config_file.get(), dir, config::PassphraseUse::kCreate));
  auto keys = crypto::CreateKeyFile(dir, passphrase, KdfForMemory(kdf_mib));
  config::WipeSecret(passphrase);
  if (!keys) return std::unexpected(keys.error());
  ArchiveOptions options;
  options.keys = *keys;
  auto archive = Archive::Create(dir, options);
  if (!archive) ::unlink((dir + "/" + crypto::kKeyFileName).c_str());
  return archive;
}

}  // namespace

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
  if (kdf_mib < kMinKdfMib || kdf_mib > kMaxKdfMib || !std::has_single_bit(static_cast<unsigned>(kdf_mib))) {
    return FailUsage("--kdf-memory " + std::to_string(kdf_mib) + ": use a power of two from " +
                     std::to_string(kMinKdfMib) + " to " + std::to_string(kMaxKdfMib) + " (MiB)");
  }
  if (!encrypt && !vm["kdf-memory"].defaulted()) return FailUsage("--kdf-memory goes with --encrypt");
  std::string dir = ArchiveDir(global);
  auto archive = encrypt ? CreateEncrypted(global, dir, kdf_mib) : Archive::Create(dir);
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
