#include "config/archive_choice.h"

#include <cstdlib>

namespace mailkeep::config {

ArchiveChoice ChooseArchive(const ArchiveInputs& in) {
  if (!in.flag.empty()) return {in.flag, ArchiveSource::kFlag, "--archive"};
  if (!in.env.empty()) return {in.env, ArchiveSource::kEnv, "$MAILKEEP_ARCHIVE"};
  if (in.config != nullptr && !in.config->archive.empty()) {
    return {in.config->archive, ArchiveSource::kConfig,
            (in.config_named ? "--config " : "config file ") + in.config->path};
  }
  return {(in.home.empty() ? std::string(".") : in.home) + "/.local/share/mailkeep", ArchiveSource::kDefault, "default"};
}

ArchiveChoice ChooseArchive(const std::string& flag, const Config* config, bool config_named) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "");
  };
  return ChooseArchive({flag, env("MAILKEEP_ARCHIVE"), config, config_named, env("HOME")});
}

std::string_view ArchiveSourceName(ArchiveSource source) {
  switch (source) {
    case ArchiveSource::kFlag: return "flag";
    case ArchiveSource::kEnv: return "env";
    case ArchiveSource::kConfig: return "config";
    case ArchiveSource::kDefault: break;
  }
  return "default";
}

Result<std::optional<Config>> LoadCommandConfig(const std::string& named) {
  const std::string path = named.empty() ? DefaultConfigPath() : named;
  auto loaded = LoadConfigFile(path);
  if (loaded) return std::optional<Config>(std::move(*loaded));
  if (named.empty() && loaded.error().code() == ErrorCode::kNotFound) return std::optional<Config>();
  return std::unexpected(loaded.error());
}

}  // namespace mailkeep::config
