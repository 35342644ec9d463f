#include "config/passphrase.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "store/util/files.h"

namespace mailkeep::config {

Result<std::string> ReadSecretFromTerminal(const std::string& prompt, std::string_view noun) {
  termios saved {};
  const bool restore = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::fputs(prompt.c_str(), stderr);
  std::fflush(stderr);
  std::string line;
  int err = 0;
  constexpr size_t kMaxPassphrase = 4096;
  for (;;) {
    char c = 0;
    const ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n <= 0 || c == '\n') break;
    if (c != '\r' && line.size() < kMaxPassphrase) line += c;
  }
  if (restore) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
  if (err != 0) {
    WipeSecret(line);
    return MakeError(ErrorCode::kIoError, "reading the " + std::string(noun) + " from the terminal: " + ErrnoText(err));
  }
  if (line.empty()) return MakeError(ErrorCode::kFailedPrecondition, "no " + std::string(noun) + " given");
  return line;
}

namespace {

Result<std::string> Prompt(const std::string& prompt) { return ReadSecretFromTerminal(prompt, "passphrase"); }

Result<std::string> PromptTwice(const std::string& archive_dir, const char* unchanged) {
  MK_ASSIGN_OR_RETURN(std::string first, Prompt("new passphrase for the archive in " + archive_dir + ": "));
  auto second = Prompt("the same passphrase again: ");
  const bool same = second && *second == first;
  if (second) WipeSecret(*second);
  if (!same) {
    WipeSecret(first);
    return second ? MakeError(ErrorCode::kFailedPrecondition, std::string("the passphrases do not match; ") + unchanged)
                  : std::unexpected(second.error());
  }
  return first;
}

}  // namespace

void WipeSecret(std::string& secret) {
  volatile char* p = secret.data();
  for (size_t i = 0; i < secret.size(); ++i) p[i] = 0;
  secret.clear();
}

Result<std::string> GetPassphrase(const Config* config, const std::string& archive_dir, PassphraseUse use) {
  if (config != nullptr && config->passphrase.kind != PasswordSource::Kind::kNone) {
    return ResolvePassword(config->passphrase, "the archive in " + archive_dir);
  }
  if (const char* env = std::getenv(kPassphraseEnv); env != nullptr && *env != '\0') return std::string(env);
  if (::isatty(STDIN_FILENO)) {
    if (use == PassphraseUse::kCreate) return PromptTwice(archive_dir, "nothing was created");
    return Prompt("passphrase for the archive in " + archive_dir + ": ");
  }
  return MakeError(ErrorCode::kFailedPrecondition,
                   "the archive in " + archive_dir +
                       " is encrypted: set passphrase_command, passphrase_file or passphrase_env in the config "
                       "file, or " + kPassphraseEnv);
}

Result<std::string> GetNewPassphrase(const PasswordSource& source, const std::string& archive_dir) {
  if (source.kind != PasswordSource::Kind::kNone) {
    PasswordSource s = source;
    s.key = "passphrase";
    auto got = ResolvePassword(s, "the new passphrase");
    if (got && got->empty()) return MakeError(ErrorCode::kFailedPrecondition, "the new passphrase is empty");
    return got;
  }
  if (::isatty(STDIN_FILENO)) return PromptTwice(archive_dir, "nothing was changed");
  return MakeError(ErrorCode::kFailedPrecondition,
                   "no new passphrase: not on a terminal, so give --new-passphrase-file, --new-passphrase-env or "
                   "--new-passphrase-command");
}

}  // namespace mailkeep::config
