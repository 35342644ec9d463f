#include "tools/command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <set>

#include "config/passphrase.h"
#include "index/index.h"
#include "web/json_views.h"

namespace mailkeep::tools {

void AddCommonOptions(po::options_description& desc, GlobalOptions& global) {
  // Not bound to `global` directly: a command's parse must not reset what
  // was given before the command name (`mailkeep --json import ...`).
  static_cast<void>(global);
  desc.add_options()
      ("archive", po::value<std::string>(), "archive directory")
      ("json", "print JSON on stdout")
      ("quiet,q", "only errors")
      ("verbose,v", "more detail")
      ("help,h", "show this help");
}

std::optional<int> ParseArgs(GlobalOptions& global, const std::vector<std::string>& args, const char* usage,
                             po::options_description& desc, const po::positional_options_description& positional,
                             po::variables_map& vm) {
  // Every command takes --config; one that declares it itself keeps its own.
  if (desc.find_nothrow("config", false) == nullptr) {
    desc.add_options()("config", po::value<std::string>(),
                       "config file (default $MAILKEEP_CONFIG, then ~/.config/mailkeep/config.ini)");
  }
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    PrintError(e.what());
    std::cerr << "usage: " << usage << "\n(see --help)\n";
    return kExitUsage;
  }
  if (vm.count("help")) {
    std::cout << "usage: " << usage << "\n\n" << desc << "\n";
    return kExitOk;
  }
  if (vm.count("config")) global.config = vm["config"].as<std::string>();
  auto loaded = config::LoadCommandConfig(global.config);
  if (!loaded) return FailUsage(loaded.error().message());
  if (*loaded) global.config_file = std::make_shared<const config::Config>(std::move(**loaded));
  if (vm.count("archive")) global.archive = vm["archive"].as<std::string>();
  if (vm.count("json")) global.json = true;
  if (vm.count("quiet")) global.verbosity = 0;
  if (vm.count("verbose")) global.verbosity = 2;
  return std::nullopt;
}

config::ArchiveChoice ArchiveFor(const GlobalOptions& global) {
  return config::ChooseArchive(global.archive, global.config_file.get(), !global.config.empty());
}

std::string ArchiveDir(const GlobalOptions& global) { return ArchiveFor(global).dir; }

Result<ArchiveOptions> WithArchiveKeys(const GlobalOptions& global, const std::string& dir, ArchiveOptions options) {
  if (!crypto::IsEncrypted(dir)) return options;
  // Unlocked once per process (scrypt is slow on purpose; a command may
  // open its archive more than once).
  static std::map<std::string, std::shared_ptr<const crypto::ArchiveKeys>> unlocked;
  if (auto it = unlocked.find(dir); it != unlocked.end()) {
    options.keys = it->second;
    return options;
  }
  MK_ASSIGN_OR_RETURN(std::string passphrase,
                      config::GetPassphrase(global.config_file.get(), dir, config::PassphraseUse::kUnlock));
  auto keys = crypto::UnlockKeyFile(dir, passphrase);
  config::WipeSecret(passphrase);
  if (!keys) return std::unexpected(keys.error());
  options.keys = unlocked[dir] = *keys;
  return options;
}

Result<std::unique_ptr<Archive>> OpenArchive(const GlobalOptions& global, OpenMode mode, ArchiveOptions options) {
  const std::string dir = ArchiveDir(global);
  MK_ASSIGN_OR_RETURN(options, WithArchiveKeys(global, dir, std::move(options)));
  return Archive::Open(dir, mode, options);
}

Result<std::unique_ptr<Archive>> CreateArchive(const GlobalOptions& global, const crypto::KdfParams* encrypt) {
  const std::string dir = ArchiveDir(global);
  if (encrypt == nullptr) return Archive::Create(dir);
  MK_ASSIGN_OR_RETURN(std::string passphrase,
                      config::GetPassphrase(global.config_file.get(), dir, config::PassphraseUse::kCreate));
  auto keys = crypto::CreateKeyFile(dir, passphrase, *encrypt);
  config::WipeSecret(passphrase);
  if (!keys) return std::unexpected(keys.error());
  ArchiveOptions options;
  options.keys = *keys;
  auto archive = Archive::Create(dir, options);
  // CreateKeyFile refused a directory holding an archive, so the key file
  // is all this made: without it a second init can start afresh.
  if (!archive) ::unlink((dir + "/" + crypto::kKeyFileName).c_str());
  return archive;
}

Result<std::unique_ptr<Archive>> OpenConfiguredArchive(const GlobalOptions& global, bool writable, int lock_timeout) {
  ArchiveOptions options;
  options.lock_wait_seconds = lock_timeout;
  return OpenArchive(global, writable ? OpenMode::kReadWrite : OpenMode::kReadOnly, options);
}

Result<const config::Config*> RequireConfig(const GlobalOptions& global) {
  if (global.config_file) return global.config_file.get();
  // Only the default file may be missing (ParseArgs refuses a missing --config FILE).
  return MakeError(ErrorCode::kNotFound,
                   "no config file: " + config::DefaultConfigPath() + " does not exist; name one with --config FILE");
}

void PrintError(std::string_view line) { std::cerr << "mailkeep: " << TerminalText(line) << "\n"; }

std::unique_ptr<index::IndexFeeder> OpenCommandFeeder(Archive& archive, int64_t* not_indexed,
                                                      std::optional<Error>* error,
                                                      const index::IndexWriterOptions& writer) {
  index::IndexFeeder::Callbacks callbacks;
  callbacks.on_problem = [not_indexed](int64_t id, const std::string& why) {
    ++*not_indexed;
    PrintError("message " + std::to_string(id) + " not indexed: " + why);
  };
  auto opened = index::IndexFeeder::Open(archive, 0, std::move(callbacks), writer);
  if (!opened) {
    *error = opened.error();
    return nullptr;
  }
  SayIndexRequeued(archive, (*opened)->result().requeued);
  return std::move(*opened);
}

std::string IndexStoppedLine(const Error& error, std::string_view next_run) {
  std::string line = "indexing stopped: " + error.message();
  if (error.code() != ErrorCode::kFailedPrecondition && error.code() != ErrorCode::kCorruption) {
    line += "; " + std::string(next_run) + " or `mailkeep reindex --pending` catches up";
  }
  return line;
}

void SayIndexRequeued(const Archive& archive, int64_t requeued) {
  if (requeued <= 0) return;
  PrintError("the search index (" + index::IndexDir(archive) + ") was missing: all " + std::to_string(requeued) +
             " messages are being indexed again");
}

int FailArchive(const Error& error) {
  PrintError(error.message());
  return kExitArchive;
}

int Fail(const Error& error) {
  PrintError(error.message());
  return error.code() == ErrorCode::kInvalidArgument ? kExitUsage : kExitPartial;
}

int FailUsage(const std::string& message) {
  PrintError(message);
  return kExitUsage;
}

Result<std::vector<int64_t>> ResolveQuery(Archive& archive, const std::vector<std::string>& terms) {
  if (terms.empty() || (terms.size() == 1 && (terms[0] == "*" || terms[0].empty()))) return archive.AllIds();
  auto is_direct = [](const std::string& t) {
    if (t.rfind("id:", 0) == 0 || t.rfind("mid:", 0) == 0) return t.find(' ') == std::string::npos;
    return !t.empty() && t.find_first_not_of("0123456789") == std::string::npos;
  };
  bool direct = true;
  for (const auto& t : terms) direct = direct && is_direct(t);
  if (!direct) {
    // Anything else is a search query, answered by the full-text index.
    std::string query;
    for (const auto& t : terms) query += (query.empty() ? "" : " ") + t;
    auto reader = index::IndexReader::Open(index::IndexDir(archive));
    if (!reader) {
      // An archive that never held a message has no index yet: nothing matches.
      MK_ASSIGN_OR_RETURN(auto ids, archive.AllIds());
      if (ids.empty()) return ids;
      return std::unexpected(reader.error());
    }
    index::SearchOptions options;
    options.sort = index::SortOrder::kOldest;
    MK_ASSIGN_OR_RETURN(auto result, (*reader)->Search(query, options));
    return result.ids;
  }
  std::vector<int64_t> out;
  std::set<int64_t> seen;
  auto add = [&](int64_t id) {
    if (seen.insert(id).second) out.push_back(id);
  };
  for (const auto& term : terms) {
    if (term.rfind("id:", 0) == 0 || term.rfind("mid:", 0) == 0) {
      std::string mid = term.substr(term.find(':') + 1);
      if (mid.empty()) return MakeError(ErrorCode::kInvalidArgument, "empty Message-ID in '" + term + "'");
      MK_ASSIGN_OR_RETURN(auto ids, archive.FindByMessageId(mid));
      for (int64_t id : ids) add(id);
      continue;
    }
    char* end = nullptr;
    long long id = std::strtoll(term.c_str(), &end, 10);
    if (term.empty() || *end != '\0' || id <= 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "cannot read query term '" + term + "': use a message id number, id:MESSAGE-ID or mid:MESSAGE-ID");
    }
    add(id);
  }
  return out;
}

Result<std::vector<int64_t>> ResolveMessage(Archive& archive, const std::string& query) {
  MK_ASSIGN_OR_RETURN(auto ids, ResolveQuery(archive, {query}));
  if (ids.empty()) return MakeError(ErrorCode::kNotFound, "no message matches " + query);
  return ids;
}

std::string IsoDate(int64_t unix_seconds) { return web::IsoDate(unix_seconds); }

static int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Progress::Progress(const GlobalOptions& global, std::string what)
    : enabled_(global.verbosity > 0 && ::isatty(STDERR_FILENO)), what_(std::move(what)) {}
Progress::~Progress() { Finish(); }

void Progress::Update(int64_t done, int64_t total) {
  if (!enabled_) return;
  int64_t now = NowMs();
  if (now - last_ms_ < 100) return;
  last_ms_ = now;
  shown_ = true;
  if (total > 0) {
    int width = 30;
    int filled = static_cast<int>(width * done / total);
    std::fprintf(stderr, "\r%s [%-*s] %lld/%lld", what_.c_str(), width, std::string(filled, '#').c_str(), (long long)done,
                 (long long)total);
  } else {
    std::fprintf(stderr, "\r%s %lld", what_.c_str(), (long long)done);
  }
  std::fflush(stderr);
}

void Progress::Finish() {
  if (shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

}  // namespace mailkeep::tools
