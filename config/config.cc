#include "config/config.h"

#include <arpa/inet.h>
#include "store/util/ascii.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <optional>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <type_traits>

#include "store/util/files.h"

extern char** environ;

namespace mailkeep::config {
namespace {

// ---------------------------------------------------------------------------
// Small string helpers.

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

using ascii::EqualsIgnoreCase;
using ascii::Lower;
std::string ToLower(std::string_view s) { return ascii::LowerCopy(s); }

// The first line of `s`, without "\n" or "\r\n".
std::string_view FirstLine(std::string_view s) {
  s = s.substr(0, s.find('\n'));
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------
// Where a value came from, for messages.

struct Ctx {
  const std::string& file;
  int line;
  std::string_view key;
  const std::string& section;   // "[account.work]", or "" at top level
  const std::string& base_dir;  // for relative paths; may be ""
};

std::unexpected<Error> LineError(const std::string& file, int line, const std::string& message) {
  return MakeError(ErrorCode::kInvalidArgument, file + ":" + std::to_string(line) + ": " + message);
}
std::unexpected<Error> LineError(const Ctx& x, const std::string& message) {
  return LineError(x.file, x.line, message);
}
// "bad value 'sometimes' for 'delete' (never | after-download | older-than:Nd)"
std::unexpected<Error> BadValue(const Ctx& x, std::string_view value, std::string_view allowed) {
  return LineError(x, "bad value '" + std::string(value) + "' for '" + std::string(x.key) + "' (" +
                          std::string(allowed) + ")");
}

// ---------------------------------------------------------------------------
// Value parsers. Each returns the value or a BadValue error naming the forms
// it accepts.

template <typename E>
struct Word {
  std::string_view text;
  E value;
};

template <typename E, size_t N>
Result<E> ParseWord(const Ctx& x, std::string_view v, const std::array<Word<E>, N>& words) {
  for (const auto& w : words) {
    if (EqualsIgnoreCase(v, w.text)) return w.value;
  }
  std::string allowed;
  for (const auto& w : words) {
    if (!allowed.empty()) allowed += " | ";
    allowed += w.text;
  }
  return BadValue(x, v, allowed);
}

constexpr std::array<Word<Protocol>, 2> kProtocols{{{"imap", Protocol::kImap}, {"pop3", Protocol::kPop3}}};
constexpr std::array<Word<Tls>, 3> kTlsModes{
    {{"implicit", Tls::kImplicit}, {"starttls", Tls::kStartTls}, {"none", Tls::kNone}}};
constexpr std::array<Word<Auth>, 7> kAuths{{{"auto", Auth::kAuto},
                                            {"plain", Auth::kPlain},
                                            {"login", Auth::kLogin},
                                            {"xoauth2", Auth::kXoauth2},
                                            {"oauthbearer", Auth::kOauthBearer},
                                            {"apop", Auth::kApop},
                                            {"user", Auth::kUser}}};
constexpr std::array<Word<Auth>, 6> kRelayAuths{{{"auto", Auth::kAuto},
                                                 {"plain", Auth::kPlain},
                                                 {"login", Auth::kLogin},
                                                 {"cram-md5", Auth::kCramMd5},
                                                 {"xoauth2", Auth::kXoauth2},
                                                 {"oauthbearer", Auth::kOauthBearer}}};

Result<bool> ParseBool(const Ctx& x, std::string_view v) {
  for (std::string_view t : {"true", "yes", "1"}) {
    if (EqualsIgnoreCase(v, t)) return true;
  }
  for (std::string_view f : {"false", "no", "0"}) {
    if (EqualsIgnoreCase(v, f)) return false;
  }
  return BadValue(x, v, "true | false | yes | no | 1 | 0");
}

// Digits only (no sign, no spaces); false on overflow.
bool ParseDigits(std::string_view v, uint64_t& out) {
  if (v.empty()) return false;
  for (char c : v) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  return ec == std::errc() && ptr == v.data() + v.size();
}

Result<uint16_t> ParsePort(const Ctx& x, std::string_view v) {
  uint64_t n = 0;
  if (!ParseDigits(v, n) || n > 65535) return BadValue(x, v, "0..65535; 0 = standard port");
  return static_cast<uint16_t>(n);
}

constexpr uint64_t kMaxSeconds = 86400;

Result<int> ParseSeconds(const Ctx& x, std::string_view v) {
  uint64_t n = 0;
  if (!ParseDigits(v, n) || n < 1 || n > kMaxSeconds) return BadValue(x, v, "seconds, 1..86400");
  return static_cast<int>(n);
}

// "0", "1048576", "500k", "25M", "1G" (k = 1024), optionally "kB"/"MB"/"GB".
Result<uint64_t> ParseSize(const Ctx& x, std::string_view v) {
  auto bad = [&] { return BadValue(x, v, "bytes, or a number with k, M or G (k = 1024); 0 = no limit"); };
  std::string_view digits = v;
  uint64_t unit = 1;
  if (!digits.empty() && (digits.back() == 'b' || digits.back() == 'B') && digits.size() >= 2) {
    char before = Lower(digits[digits.size() - 2]);
    if (before == 'k' || before == 'm' || before == 'g') digits.remove_suffix(1);
  }
  if (!digits.empty()) {
    switch (Lower(digits.back())) {
      case 'k': unit = uint64_t{1} << 10; break;
      case 'm': unit = uint64_t{1} << 20; break;
      case 'g': unit = uint64_t{1} << 30; break;
      default: break;
    }
    if (unit != 1) digits.remove_suffix(1);
  }
  uint64_t n = 0;
  if (!ParseDigits(digits, n)) return bad();
  if (n > UINT64_MAX / unit) return bad();
  return n * unit;
}

constexpr uint64_t kMaxDeleteDays = 36500;

Result<DeletePolicy> ParseDelete(const Ctx& x, std::string_view v) {
  DeletePolicy p;
  if (EqualsIgnoreCase(v, "never")) return p;
  if (EqualsIgnoreCase(v, "after-download")) {
    p.kind = DeletePolicy::Kind::kAfterDownload;
    return p;
  }
  constexpr std::string_view kPrefix = "older-than:";
  if (v.size() > kPrefix.size() + 1 && EqualsIgnoreCase(v.substr(0, kPrefix.size()), kPrefix) &&
      Lower(v.back()) == 'd') {
    uint64_t days = 0;
    if (ParseDigits(v.substr(kPrefix.size(), v.size() - kPrefix.size() - 1), days) && days >= 1 &&
        days <= kMaxDeleteDays) {
      p.kind = DeletePolicy::Kind::kOlderThan;
      p.days = static_cast<int>(days);
      return p;
    }
  }
  return BadValue(x, v, "never | after-download | older-than:Nd");
}

// Comma separated, items trimmed, empty items skipped.
std::vector<std::string> SplitList(std::string_view v) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = v.find(',');
    std::string_view item = Trim(v.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return out;
}

std::string HomeDir() {
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return home;
  std::array<char, 4096> buf{};
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (::getpwuid_r(::getuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr) {
    return found->pw_dir;
  }
  return "";
}

// "~" and "~/x" → home; relative → relative to the config file's directory.
Result<std::string> ExpandPath(const Ctx& x, std::string_view v) {
  if (v.empty()) return BadValue(x, v, "a path");
  std::string path(v);
  if (v[0] == '~') {
    if (v.size() > 1 && v[1] != '/') {
      return BadValue(x, v, "~user is not expanded; use ~/... or an absolute path");
    }
    std::string home = HomeDir();
    if (home.empty()) return LineError(x, "cannot expand '~' in '" + std::string(x.key) + "': no home directory");
    path = home + std::string(v.substr(1));
  } else if (v[0] != '/' && !x.base_dir.empty()) {
    path = x.base_dir + "/" + path;
  }
  return std::filesystem::path(path).lexically_normal().string();
}

std::string ModeText(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Opens a file that holds secrets (a password file, a TLS key, the token
// hashes): it must be a regular file that neither its group nor others may
// read. `what` ("password file PATH", "tls_key PATH") starts each message.
// The caller closes the descriptor. kNotFound when missing, kIoError when it
// cannot be read, kFailedPrecondition otherwise.
Result<int> OpenPrivateFile(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int e = errno;
    const ErrorCode code = e == ENOENT                  ? ErrorCode::kNotFound
                           : (e == EACCES || e == EPERM) ? ErrorCode::kFailedPrecondition
                                                         : ErrorCode::kIoError;
    return MakeError(code, what + ": " + ErrnoText(e));
  }
  struct stat st {};
  std::optional<Error> refused;
  if (::fstat(fd, &st) != 0) {
    refused = Error(ErrorCode::kIoError, what + ": " + ErrnoText(errno));
  } else if (!S_ISREG(st.st_mode)) {
    refused = Error(ErrorCode::kFailedPrecondition, what + " is not a regular file");
  } else if ((st.st_mode & (S_IRGRP | S_IROTH)) != 0) {
    const char* who = (st.st_mode & S_IRGRP) && (st.st_mode & S_IROTH) ? "its group and others"
                      : (st.st_mode & S_IRGRP)                         ? "its group"
                                                                       : "others";
    refused = Error(ErrorCode::kFailedPrecondition, what + " is readable by " + who + " (mode " +
                                                        ModeText(st.st_mode) + "); run: chmod 600 " + path);
  }
  if (refused) {
    ::close(fd);
    return std::unexpected(*refused);
  }
  return fd;
}

bool IsEnvName(std::string_view v) {
  if (v.empty() || (v[0] >= '0' && v[0] <= '9')) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool IsSectionName(std::string_view v) {
  if (v.empty()) return false;
  return std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string_view PasswordKey(PasswordSource::Kind kind) {
  switch (kind) {
    case PasswordSource::Kind::kEnv: return "password_env";
    case PasswordSource::Kind::kFile: return "password_file";
    case PasswordSource::Kind::kCommand: return "password_command";
    case PasswordSource::Kind::kNone: break;
  }
  return "password";
}

// ---------------------------------------------------------------------------
// Key tables: the one list of keys per section kind. The parser looks keys up
// here, and AccountKeys()/RelayKeys()/TopLevelKeys() list them.

template <typename C>
struct KeySpec {
  std::string_view name;
  Status (*set)(C& c, const Ctx& x, std::string_view v);
};

Status SetArchive(Config& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.archive, ExpandPath(x, v));
  return OkStatus();
}

Status SetProtocol(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.protocol, ParseWord(x, v, kProtocols));
  return OkStatus();
}

template <typename C>
Status SetHost(C& c, const Ctx& x, std::string_view v) {
  if (v.empty() || std::any_of(v.begin(), v.end(), [](char ch) { return IsSpace(ch) || ch == '/'; })) {
    return BadValue(x, v, "a host name or address, without scheme or port");
  }
  c.host = v;
  return OkStatus();
}

template <typename C>
Status SetPort(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.port, ParsePort(x, v));
  return OkStatus();
}

template <typename C>
Status SetTls(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.tls, ParseWord(x, v, kTlsModes));
  return OkStatus();
}

template <typename C>
Status SetUser(C& c, const Ctx& x, std::string_view v) {
  if (v.empty()) return BadValue(x, v, "a user name");
  c.user = v;
  return OkStatus();
}

template <typename C>
Status SetAuth(C& c, const Ctx& x, std::string_view v) {
  if constexpr (std::is_same_v<C, RelayConfig>) {
    MK_ASSIGN_OR_RETURN(c.auth, ParseWord(x, v, kRelayAuths));
  } else {
    MK_ASSIGN_OR_RETURN(c.auth, ParseWord(x, v, kAuths));
  }
  return OkStatus();
}

// One of the secret keys PREFIX_env / PREFIX_file / PREFIX_command (the
// password, the OAuth client secret) into `target`.
template <PasswordSource::Kind K>
Status SetSecret(PasswordSource& target, std::string_view prefix, const Ctx& x, std::string_view v) {
  static_assert(K != PasswordSource::Kind::kNone);
  if (target.kind != PasswordSource::Kind::kNone) {
    return LineError(x, (x.section.empty() ? "the file" : x.section) + " sets both '" + std::string(prefix) +
                            std::string(PasswordKey(target.kind)).substr(8) + "' and '" + std::string(x.key) +
                            "' (choose one)");
  }
  PasswordSource p;
  p.kind = K;
  p.key = prefix;  // a literal of the callers below
  if constexpr (K == PasswordSource::Kind::kEnv) {
    if (!IsEnvName(v)) return BadValue(x, v, "an environment variable name");
    p.value = v;
  } else if constexpr (K == PasswordSource::Kind::kFile) {
    MK_ASSIGN_OR_RETURN(p.value, ExpandPath(x, v));
  } else {
    if (v.empty()) return BadValue(x, v, "a shell command that prints the secret");
    p.value = v;
  }
  target = std::move(p);
  return OkStatus();
}

template <PasswordSource::Kind K>
Status SetPassphrase(Config& c, const Ctx& x, std::string_view v) {
  return SetSecret<K>(c.passphrase, "passphrase", x, v);
}

template <typename C, PasswordSource::Kind K>
Status SetPassword(C& c, const Ctx& x, std::string_view v) {
  return SetSecret<K>(c.password, "password", x, v);
}

template <typename C, PasswordSource::Kind K>
Status SetOAuthClientSecret(C& c, const Ctx& x, std::string_view v) {
  return SetSecret<K>(c.oauth.client_secret, "oauth_client_secret", x, v);
}

template <typename C>
Status SetOAuthRefreshTokenCommand(C& c, const Ctx& x, std::string_view v) {
  return SetSecret<PasswordSource::Kind::kCommand>(c.oauth.refresh_token, "oauth_refresh_token", x, v);
}

// oauth_token_url, oauth_device_url: https:// and visible ASCII.
template <typename C, std::string OAuthConfig::*M>
Status SetOAuthUrl(C& c, const Ctx& x, std::string_view v) {
  bool ok = v.size() > 8 && v.size() <= 2048 && EqualsIgnoreCase(v.substr(0, 8), "https://") &&
            std::all_of(v.begin(), v.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; });
  if (!ok) return BadValue(x, v, "an https:// URL");
  c.oauth.*M = v;
  return OkStatus();
}

// oauth_client_id, oauth_scope: visible ASCII (the scope also spaces).
template <typename C, std::string OAuthConfig::*M>
Status SetOAuthWord(C& c, const Ctx& x, std::string_view v) {
  bool spaces = M == &OAuthConfig::scope;
  bool ok = !v.empty() && v.size() <= 1024 && std::all_of(v.begin(), v.end(), [&](char ch) {
    return (ch > 0x20 && ch < 0x7f) || (spaces && ch == ' ');
  });
  if (!ok) return BadValue(x, v, spaces ? "space-separated scope names" : "a client id");
  c.oauth.*M = v;
  return OkStatus();
}

// A path that names an existing regular file when the file is loaded (ca_file, tls_certificate).
Result<std::string> RegularFile(const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(std::string path, ExpandPath(x, v));
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  const std::string cannot = "cannot use '" + std::string(x.key) + "' " + path;
  if (fd < 0) return LineError(x, cannot + ": " + ErrnoText(errno));
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) return LineError(x, cannot + ": not a regular file");
  return path;
}

template <typename C>
Status SetCaFile(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.ca_file, RegularFile(x, v));
  return OkStatus();
}

template <typename C>
Status SetTlsVerify(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.tls_verify, ParseBool(x, v));
  return OkStatus();
}

template <typename C>
Status SetAllowPlaintext(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.allow_plaintext, ParseBool(x, v));
  return OkStatus();
}

Status SetCompress(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.compress, ParseBool(x, v));
  return OkStatus();
}

Status SetFolders(AccountConfig& c, const Ctx& x, std::string_view v) {
  std::vector<std::string> list = SplitList(v);
  if (list.empty()) return BadValue(x, v, "comma-separated IMAP patterns, e.g. * or INBOX, Archive/*");
  c.folders = std::move(list);
  return OkStatus();
}

Status SetExclude(AccountConfig& c, const Ctx&, std::string_view v) {
  c.exclude = SplitList(v);
  return OkStatus();
}

Status SetFolderMap(AccountConfig& c, const Ctx& x, std::string_view v) {
  if (v.find('=') == std::string_view::npos) {
    return BadValue(x, v, "OLD=NEW rules, comma separated, e.g. Lists/*=Mailing lists/*");
  }
  c.folder_map = v;
  c.folder_map_line = x.line;
  return OkStatus();
}

Status SetDelete(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.delete_policy, ParseDelete(x, v));
  return OkStatus();
}

Status SetMaxMessageSize(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.max_message_size, ParseSize(x, v));
  return OkStatus();
}

template <typename C>
Status SetConnectTimeout(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.connect_timeout_seconds, ParseSeconds(x, v));
  return OkStatus();
}

template <typename C>
Status SetTimeout(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.timeout_seconds, ParseSeconds(x, v));
  return OkStatus();
}

Status SetCommandDeadline(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.command_deadline_seconds, ParseSeconds(x, v));
  return OkStatus();
}

Status SetBandwidth(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.bandwidth, ParseSize(x, v));
  return OkStatus();
}

Status SetMaxBytesPerRun(AccountConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.max_bytes_per_run, ParseSize(x, v));
  return OkStatus();
}

Status SetThrottleMaxWait(AccountConfig& c, const Ctx& x, std::string_view v) {
  uint64_t n = 0;
  if (!ParseDigits(v, n) || n > kMaxSeconds) return BadValue(x, v, "seconds, 0..86400 (0 = never wait)");
  c.throttle_max_wait_seconds = static_cast<int>(n);
  return OkStatus();
}

Status SetMaxConnectionsPerHost(Config& c, const Ctx& x, std::string_view v) {
  uint64_t n = 0;
  if (!ParseDigits(v, n) || n < 1 || n > 1000) return BadValue(x, v, "1..1000");
  c.max_connections_per_host = static_cast<int>(n);
  return OkStatus();
}

Result<lifecycle::Period> ParseRetention(const Ctx& x, std::string_view v) {
  auto p = lifecycle::ParsePeriod(v);
  if (!p) return BadValue(x, v, "a number with d, w, m or y, e.g. 90d or 7y; or forever");
  return *p;
}

template <typename C>
Status SetRetention(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.retention.period, ParseRetention(x, v));
  return OkStatus();
}

template <typename C>
Status SetKeepFlagged(C& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.retention.keep_flagged, ParseBool(x, v));
  return OkStatus();
}

// folder_retention = Trash=30d, Lists/*=2y
Status SetFolderRetention(AccountConfig& c, const Ctx& x, std::string_view v) {
  std::vector<lifecycle::FolderRule> rules;
  for (const std::string& item : SplitList(v)) {
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0) {
      return BadValue(x, v, "FOLDER=PERIOD rules, comma separated, e.g. Trash=30d, Lists/*=2y");
    }
    lifecycle::FolderRule r;
    r.pattern = std::string(Trim(std::string_view(item).substr(0, eq)));
    MK_ASSIGN_OR_RETURN(r.rule.period, ParseRetention(x, Trim(std::string_view(item).substr(eq + 1))));
    rules.push_back(std::move(r));
  }
  if (rules.empty()) return BadValue(x, v, "FOLDER=PERIOD rules, comma separated, e.g. Trash=30d, Lists/*=2y");
  c.folder_retention = std::move(rules);
  return OkStatus();
}

using PK = PasswordSource::Kind;

// dns_server = IP[:PORT] (IPv4 or IPv6; an IPv6 address with a port is
// written [ADDR]:PORT).
Status SetDnsServer(Config& c, const Ctx& x, std::string_view v) {
  auto bad = [&] { return BadValue(x, v, "an IP address, optionally with :PORT (e.g. 127.0.0.1:10053)"); };
  std::string_view addr = v;
  std::optional<std::string_view> port;
  if (v.starts_with('[')) {
    const size_t close = v.find(']');
    if (close == std::string_view::npos) return bad();
    addr = v.substr(1, close - 1);
    std::string_view rest = v.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad();
      port = rest.substr(1);
    }
  } else if (std::count(v.begin(), v.end(), ':') == 1) {  // IPv4:PORT; a bare IPv6 address has several
    addr = v.substr(0, v.find(':'));
    port = v.substr(v.find(':') + 1);
  }
  unsigned char buf[16];
  const std::string text(addr);
  if (::inet_pton(AF_INET, text.c_str(), buf) != 1 && ::inet_pton(AF_INET6, text.c_str(), buf) != 1) return bad();
  uint64_t n = 0;
  if (port && (!ParseDigits(*port, n) || n == 0 || n > 65535)) return bad();
  c.direct.dns_server = v;
  return OkStatus();
}

Status SetDirectPort(Config& c, const Ctx& x, std::string_view v) {
  uint64_t n = 0;
  if (!ParseDigits(v, n) || n == 0 || n > 65535) return BadValue(x, v, "1..65535 (SMTP is 25)");
  c.direct.smtp_port = static_cast<uint16_t>(n);
  return OkStatus();
}

Status SetHelloName(Config& c, const Ctx& x, std::string_view v) {
  const bool ok = !v.empty() && v.size() <= 253 && std::all_of(v.begin(), v.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
           ch == '-' || ch == '[' || ch == ']' || ch == ':';
  });
  if (!ok) return BadValue(x, v, "a host name such as mail.example.com, or an address literal [192.0.2.1]");
  c.direct.hello_name = v;
  return OkStatus();
}

const KeySpec<Config> kTopLevelSpecs[] = {
    {"archive", &SetArchive},
    {"dns_server", &SetDnsServer},
    {"direct_port", &SetDirectPort},
    {"hello_name", &SetHelloName},
    {"max_connections_per_host", &SetMaxConnectionsPerHost},
    {"retention", &SetRetention<Config>},
    {"keep_flagged", &SetKeepFlagged<Config>},
    {"passphrase_command", &SetPassphrase<PK::kCommand>},
    {"passphrase_file", &SetPassphrase<PK::kFile>},
    {"passphrase_env", &SetPassphrase<PK::kEnv>},
};

const KeySpec<AccountConfig> kAccountSpecs[] = {
    {"protocol", &SetProtocol},
    {"host", &SetHost<AccountConfig>},
    {"port", &SetPort<AccountConfig>},
    {"tls", &SetTls<AccountConfig>},
    {"user", &SetUser<AccountConfig>},
    {"auth", &SetAuth<AccountConfig>},
    {"password_env", &SetPassword<AccountConfig, PK::kEnv>},
    {"password_file", &SetPassword<AccountConfig, PK::kFile>},
    {"password_command", &SetPassword<AccountConfig, PK::kCommand>},
    {"oauth_token_url", &SetOAuthUrl<AccountConfig, &OAuthConfig::token_url>},
    {"oauth_device_url", &SetOAuthUrl<AccountConfig, &OAuthConfig::device_url>},
    {"oauth_client_id", &SetOAuthWord<AccountConfig, &OAuthConfig::client_id>},
    {"oauth_client_secret_env", &SetOAuthClientSecret<AccountConfig, PK::kEnv>},
    {"oauth_client_secret_file", &SetOAuthClientSecret<AccountConfig, PK::kFile>},
    {"oauth_client_secret_command", &SetOAuthClientSecret<AccountConfig, PK::kCommand>},
    {"oauth_scope", &SetOAuthWord<AccountConfig, &OAuthConfig::scope>},
    {"oauth_refresh_token_command", &SetOAuthRefreshTokenCommand<AccountConfig>},
    {"ca_file", &SetCaFile<AccountConfig>},
    {"tls_verify", &SetTlsVerify<AccountConfig>},
    {"allow_plaintext", &SetAllowPlaintext<AccountConfig>},
    {"compress", &SetCompress},
    {"folders", &SetFolders},
    {"exclude", &SetExclude},
    {"folder_map", &SetFolderMap},
    {"delete", &SetDelete},
    {"max_message_size", &SetMaxMessageSize},
    {"connect_timeout", &SetConnectTimeout<AccountConfig>},
    {"timeout", &SetTimeout<AccountConfig>},
    {"command_deadline", &SetCommandDeadline},
    {"bandwidth", &SetBandwidth},
    {"max_bytes_per_run", &SetMaxBytesPerRun},
    {"throttle_max_wait", &SetThrottleMaxWait},
    {"retention", &SetRetention<AccountConfig>},
    {"keep_flagged", &SetKeepFlagged<AccountConfig>},
    {"folder_retention", &SetFolderRetention},
};

const KeySpec<RelayConfig> kRelaySpecs[] = {
    {"host", &SetHost<RelayConfig>},
    {"port", &SetPort<RelayConfig>},
    {"tls", &SetTls<RelayConfig>},
    {"user", &SetUser<RelayConfig>},
    {"auth", &SetAuth<RelayConfig>},
    {"password_env", &SetPassword<RelayConfig, PK::kEnv>},
    {"password_file", &SetPassword<RelayConfig, PK::kFile>},
    {"password_command", &SetPassword<RelayConfig, PK::kCommand>},
    {"oauth_token_url", &SetOAuthUrl<RelayConfig, &OAuthConfig::token_url>},
    {"oauth_device_url", &SetOAuthUrl<RelayConfig, &OAuthConfig::device_url>},
    {"oauth_client_id", &SetOAuthWord<RelayConfig, &OAuthConfig::client_id>},
    {"oauth_client_secret_env", &SetOAuthClientSecret<RelayConfig, PK::kEnv>},
    {"oauth_client_secret_file", &SetOAuthClientSecret<RelayConfig, PK::kFile>},
    {"oauth_client_secret_command", &SetOAuthClientSecret<RelayConfig, PK::kCommand>},
    {"oauth_scope", &SetOAuthWord<RelayConfig, &OAuthConfig::scope>},
    {"oauth_refresh_token_command", &SetOAuthRefreshTokenCommand<RelayConfig>},
    {"ca_file", &SetCaFile<RelayConfig>},
    {"tls_verify", &SetTlsVerify<RelayConfig>},
    {"allow_plaintext", &SetAllowPlaintext<RelayConfig>},
    {"connect_timeout", &SetConnectTimeout<RelayConfig>},
    {"timeout", &SetTimeout<RelayConfig>},
};

// ---------------------------------------------------------------------------
// [serve]

constexpr std::string_view kServeNames = "letters, digits, '.', '_', '@', '+' and '-', at most 64";

Status SetListen(ServeConfig& c, const Ctx& x, std::string_view v) {
  auto address = ParseListenAddress(v);
  if (!address) return BadValue(x, v, "HOST:PORT or [IPv6]:PORT, port 1..65535");
  c.listen = *address;
  return OkStatus();
}

Status SetTlsCertificate(ServeConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.tls_certificate, RegularFile(x, v));
  return OkStatus();
}

// A file of `key` that holds secrets, checked now (OpenPrivateFile); its
// descriptor, or a line error (`if_missing` replaces the errno text of a
// file that does not exist).
Result<int> OpenPrivateKeyFile(const Ctx& x, std::string_view v, std::string& path,
                               std::string_view if_missing = {}) {
  MK_ASSIGN_OR_RETURN(path, ExpandPath(x, v));
  const std::string what = std::string(x.key) + " " + path;
  auto fd = OpenPrivateFile(path, what);
  if (!fd && fd.error().code() == ErrorCode::kNotFound && !if_missing.empty()) {
    return LineError(x, what + " " + std::string(if_missing));
  }
  if (!fd) return LineError(x, fd.error().message());
  return *fd;
}

Status SetTlsKey(ServeConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(int fd, OpenPrivateKeyFile(x, v, c.tls_key));
  ::close(fd);
  return OkStatus();
}

// user = NAME:HASH
Status SetServeUser(ServeConfig& c, const Ctx& x, std::string_view v) {
  const size_t colon = v.find(':');
  const std::string_view name = v.substr(0, colon);
  if (colon == std::string_view::npos || !IsServeName(name)) {
    return LineError(x, "'user' in [serve] is NAME:HASH (NAME: " + std::string(kServeNames) +
                            "); mailkeep serve-password NAME prints the line");
  }
  for (const ServeUser& u : c.users) {
    if (u.name == name) {
      return LineError(x, "duplicate user '" + std::string(name) + "' in [serve] (first on line " +
                              std::to_string(u.line) + ")");
    }
  }
  auto hash = crypto::ParsePasswordHash(v.substr(colon + 1));
  if (!hash) {
    return LineError(x, "the hash of user '" + std::string(name) + "' in [serve]: " + hash.error().message() +
                            "; mailkeep serve-password " + std::string(name) + " makes a new one");
  }
  c.users.push_back({std::string(name), std::move(*hash), x.line});
  return OkStatus();
}

constexpr size_t kMaxTokenFileBytes = 64 * 1024;
constexpr size_t kMaxTokens = 1000;

// One line of the token file: NAME:sha256:HEX.
bool ParseTokenLine(std::string_view line, ServeToken& out) {
  constexpr std::string_view kTag = ":sha256:";
  const size_t at = line.find(kTag);
  if (at == std::string_view::npos || !IsServeName(line.substr(0, at))) return false;
  out.name = line.substr(0, at);
  return FromHex(line.substr(at + kTag.size()), out.sha256);
}

Status SetTokenFile(ServeConfig& c, const Ctx& x, std::string_view v) {
  constexpr std::string_view kMissing =
      "does not exist (mailkeep serve-password --token --token-file FILE NAME creates it)";
  MK_ASSIGN_OR_RETURN(const int raw_fd, OpenPrivateKeyFile(x, v, c.token_file, kMissing));
  std::string data;
  char buf[4096];
  ssize_t n = 0;
  while (data.size() <= kMaxTokenFileBytes && (n = ::read(raw_fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  const int read_errno = n < 0 ? errno : 0;
  ::close(raw_fd);
  const std::string what = "token_file " + c.token_file;
  if (read_errno != 0) return LineError(x, what + ": " + ErrnoText(read_errno));
  if (data.size() > kMaxTokenFileBytes) return LineError(x, what + " is larger than 64 KiB");
  int line_no = 0;
  for (std::string_view rest = data; !rest.empty();) {
    const size_t nl = rest.find('\n');
    const std::string_view line = Trim(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    ServeToken t;
    if (!ParseTokenLine(line, t)) {
      return LineError(x, what + ":" + std::to_string(line_no) +
                              ": expected NAME:sha256:HEX (mailkeep serve-password --token NAME adds one)");
    }
    if (c.tokens.size() == kMaxTokens) return LineError(x, what + " holds more than 1000 tokens");
    t.line = line_no;
    c.tokens.push_back(std::move(t));
  }
  return OkStatus();
}

Status SetHeaderTimeout(ServeConfig& c, const Ctx& x, std::string_view v) {
  MK_ASSIGN_OR_RETURN(c.header_timeout_seconds, ParseSeconds(x, v));
  return OkStatus();
}

const KeySpec<ServeConfig> kServeSpecs[] = {
    {"listen", &SetListen},
    {"tls_certificate", &SetTlsCertificate},
    {"tls_key", &SetTlsKey},
    {"user", &SetServeUser},
    {"token_file", &SetTokenFile},
    {"header_timeout", &SetHeaderTimeout},
};

template <typename C, size_t N>
const KeySpec<C>* FindSpec(const KeySpec<C> (&specs)[N], std::string_view key) {
  for (const auto& s : specs) {
    if (s.name == key) return &s;
  }
  return nullptr;
}

template <typename C, size_t N>
std::span<const std::string_view> Names(const KeySpec<C> (&specs)[N]) {
  static const std::array<std::string_view, N> names = [&] {
    std::array<std::string_view, N> out{};
    for (size_t i = 0; i < N; ++i) out[i] = specs[i].name;
    return out;
  }();
  return names;
}

bool IsKnownKey(std::string_view key) {
  return FindSpec(kTopLevelSpecs, key) || FindSpec(kAccountSpecs, key) || FindSpec(kRelaySpecs, key) ||
         FindSpec(kServeSpecs, key);
}

// ---------------------------------------------------------------------------
// The line parser.

enum class SectionKind { kTop, kAccount, kRelay, kServe };

// A hint appended to "unknown key" messages. Never quotes the value.
std::string UnknownKeyHint(std::string_view key, SectionKind kind) {
  if (kind != SectionKind::kTop && FindSpec(kTopLevelSpecs, key)) {
    return " (top-level keys go before the first section)";
  }
  std::string lower = ToLower(key);
  if (lower != key && IsKnownKey(lower)) return " (keys are lowercase: '" + lower + "')";
  if (lower == "password" || lower == "pass" || lower == "passwd") {
    if (kind == SectionKind::kServe) {
      return " (give each user a hash: user = NAME:HASH, from mailkeep serve-password NAME)";
    }
    return " (passwords are not kept in the file: use password_env, password_file or password_command)";
  }
  return "";
}

// Keys that may appear more than once in a section: one `user` line per user.
bool IsRepeatable(SectionKind kind, std::string_view key) { return kind == SectionKind::kServe && key == "user"; }

struct OpenSection {
  SectionKind kind = SectionKind::kTop;
  int line = 0;
  std::string label;                             // "[account.work]"
  std::map<std::string, int, std::less<>> seen;  // key → line
};

int LineOf(const OpenSection& s, std::string_view key) {
  auto it = s.seen.find(key);
  return it == s.seen.end() ? 0 : it->second;
}

// The oauth_* keys of an account or relay: all need oauth_token_url, which
// needs auth = xoauth2 | oauthbearer, oauth_client_id, a user and no
// password key (the password keys give a ready access token instead).
template <typename C>
Status CheckOAuth(const OpenSection& s, const C& a, const std::string& file) {
  if (!a.oauth.enabled()) {
    for (std::string_view key : std::is_same_v<C, RelayConfig> ? RelayKeys() : AccountKeys()) {
      if (int line = LineOf(s, key); line != 0 && key.starts_with("oauth_")) {
        return LineError(file, line, "'" + std::string(key) + "' needs 'oauth_token_url' in " + s.label);
      }
    }
    return OkStatus();
  }
  const int line = LineOf(s, "oauth_token_url");
  if (a.auth != Auth::kXoauth2 && a.auth != Auth::kOauthBearer) {
    return LineError(file, line, "'oauth_token_url' needs 'auth = xoauth2' or 'auth = oauthbearer' in " + s.label);
  }
  if (a.oauth.client_id.empty()) return LineError(file, line, "'oauth_token_url' needs 'oauth_client_id' in " + s.label);
  if (a.user.empty()) return LineError(file, line, "'oauth_token_url' needs 'user' in " + s.label);
  if (a.password.kind != PasswordSource::Kind::kNone) {
    return LineError(file, LineOf(s, PasswordKey(a.password.kind)),
                     s.label + " sets both 'oauth_token_url' and '" + std::string(PasswordKey(a.password.kind)) +
                         "' (choose one: a password key gives a ready access token)");
  }
  return OkStatus();
}

// [serve]: the TLS keys go together, and `listen` beyond loopback needs
// TLS and a way to log in.
Status FinishServe(const OpenSection& s, const ServeConfig& serve, const std::string& file) {
  for (auto [have, need] : {std::pair{"tls_certificate", "tls_key"}, std::pair{"tls_key", "tls_certificate"}}) {
    if (int line = LineOf(s, have); line != 0 && LineOf(s, need) == 0) {
      return LineError(file, line, "'" + std::string(have) + "' needs '" + need + "' in [serve]");
    }
  }
  if (serve.listen) {
    if (auto st = CheckServeSecurity(serve, *serve.listen); !st) {
      return LineError(file, LineOf(s, "listen"), st.error().message());
    }
  }
  return OkStatus();
}

// Checks that need the whole section (required keys, keys that depend on
// each other), when the section ends.
Status FinishSection(const OpenSection& s, Config& cfg, const std::string& file) {
  auto missing = [&](std::string_view what) {
    return LineError(file, s.line, s.label + " is missing " + std::string(what));
  };
  if (s.kind == SectionKind::kAccount) {
    const AccountConfig& a = cfg.accounts.back();
    for (std::string_view key : {"protocol", "host", "user"}) {
      if (LineOf(s, key) == 0) return missing("'" + std::string(key) + "'");
    }
    MK_RETURN_IF_ERROR(CheckOAuth(s, a, file));
    if (a.password.kind == PasswordSource::Kind::kNone && !a.oauth.enabled()) {
      return missing("'password_env', 'password_file' or 'password_command'");
    }
    if (a.auth == Auth::kApop && a.protocol != Protocol::kPop3) {
      return LineError(file, LineOf(s, "auth"), "'auth = apop' needs 'protocol = pop3' in " + s.label);
    }
    if (a.protocol == Protocol::kPop3) {
      for (std::string_view key : {"folders", "exclude", "folder_map"}) {
        if (int line = LineOf(s, key); line != 0) {
          return LineError(file, line,
                           "'" + std::string(key) + "' needs 'protocol = imap' in " + s.label +
                               " (POP3 has one mailbox)");
        }
      }
      if (int line = LineOf(s, "compress"); line != 0) {
        return LineError(file, line,
                         "'compress' needs 'protocol = imap' in " + s.label + " (POP3 has no compression)");
      }
    }
  } else if (s.kind == SectionKind::kRelay) {
    const RelayConfig& r = cfg.relays.back();
    if (LineOf(s, "host") == 0) return missing("'host'");
    bool has_password = r.password.kind != PasswordSource::Kind::kNone;
    if (has_password && r.user.empty()) {
      return LineError(file, LineOf(s, PasswordKey(r.password.kind)),
                       "'" + std::string(PasswordKey(r.password.kind)) + "' needs 'user' in " + s.label);
    }
    MK_RETURN_IF_ERROR(CheckOAuth(s, r, file));
    if (!r.user.empty() && !has_password && !r.oauth.enabled()) {
      return LineError(file, LineOf(s, "user"),
                       "'user' needs 'password_env', 'password_file' or 'password_command' in " + s.label);
    }
    if (int line = LineOf(s, "auth"); line != 0 && r.auth != Auth::kAuto && r.user.empty()) {
      return LineError(file, line, "'auth' needs 'user' in " + s.label);
    }
  } else if (s.kind == SectionKind::kServe) {
    return FinishServe(s, cfg.serve, file);
  }
  return OkStatus();
}

// The value after '=': a value wholly in double quotes is taken literally;
// otherwise a ';' or '#' preceded by whitespace starts a comment.
std::string_view ValueOf(std::string_view raw) {
  std::string_view v = Trim(raw);
  if (v.size() >= 2 && v.front() == '"') {
    for (size_t i = 1; i < v.size(); ++i) {
      if (v[i] != '"') continue;
      std::string_view after = v.substr(i + 1);
      std::string_view rest = Trim(after);
      if (rest.empty() || (IsSpace(after.front()) && (rest.front() == ';' || rest.front() == '#'))) {
        return v.substr(1, i - 1);
      }
    }
  }
  for (size_t i = 1; i < raw.size(); ++i) {
    if ((raw[i] == ';' || raw[i] == '#') && IsSpace(raw[i - 1])) {
      raw = raw.substr(0, i);
      break;
    }
  }
  return Trim(raw);
}

std::string BaseDir(const std::string& file_name) {
  if (file_name.empty()) return "";
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(file_name, ec);
  if (ec) return "";
  return p.lexically_normal().parent_path().string();
}

}  // namespace

// ---------------------------------------------------------------------------

lifecycle::Policy RetentionPolicy(const Config& config) {
  lifecycle::Policy p;
  p.global = config.retention;
  for (const auto& a : config.accounts) p.accounts.push_back({a.name, a.retention, a.folder_retention});
  return p;
}

const AccountConfig* Config::FindAccount(std::string_view name) const {
  for (const auto& a : accounts) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

const RelayConfig* Config::FindRelay(std::string_view name) const {
  for (const auto& r : relays) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::span<const std::string_view> TopLevelKeys() { return Names(kTopLevelSpecs); }
std::span<const std::string_view> AccountKeys() { return Names(kAccountSpecs); }
std::span<const std::string_view> RelayKeys() { return Names(kRelaySpecs); }
std::span<const std::string_view> ServeKeys() { return Names(kServeSpecs); }

bool IsServeName(std::string_view v) {
  return !v.empty() && v.size() <= 64 && std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '@' || c == '+' || c == '-';
  });
}

Result<ListenAddress> ParseListenAddress(std::string_view text, AnyPort any_port) {
  const bool zero_ok = any_port == AnyPort::kAllowed;
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "bad listen address '" + std::string(text.substr(0, 300)) + "' (HOST:PORT or [IPv6]:PORT, port " +
                         (zero_ok ? "0..65535; 0 = any free one)" : "1..65535)"));
  };
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad();
  std::string_view host = text.substr(0, colon);
  unsigned char buf[16];
  if (host.starts_with('[') && host.ends_with(']')) {
    host = host.substr(1, host.size() - 2);
    if (::inet_pton(AF_INET6, std::string(host).c_str(), buf) != 1) return bad();
  } else {
    const bool name_chars = !host.empty() && host.size() <= 253 && std::all_of(host.begin(), host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
    });
    const bool looks_numeric =
        std::all_of(host.begin(), host.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    if (!name_chars || (looks_numeric && ::inet_pton(AF_INET, std::string(host).c_str(), buf) != 1)) return bad();
  }
  uint64_t port = 0;
  if (!ParseDigits(text.substr(colon + 1), port) || (port == 0 && !zero_ok) || port > 65535) return bad();
  if (EqualsIgnoreCase(host, "localhost")) host = "127.0.0.1";
  return ListenAddress{std::string(host), static_cast<uint16_t>(port)};
}

bool IsLoopback(const ListenAddress& address) {
  if (EqualsIgnoreCase(address.host, "localhost")) return true;
  unsigned char v4[4], v6[16];
  if (::inet_pton(AF_INET, address.host.c_str(), v4) == 1) return v4[0] == 127;
  if (::inet_pton(AF_INET6, address.host.c_str(), v6) != 1) return false;
  constexpr unsigned char kLoopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  constexpr unsigned char kMapped4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::equal(v6, v6 + 16, kLoopback6) || (std::equal(v6, v6 + 12, kMapped4) && v6[12] == 127);
}

std::string FormatListenAddress(const ListenAddress& address) {
  const bool v6 = address.host.find(':') != std::string::npos;
  return (v6 ? "[" + address.host + "]" : address.host) + ":" + std::to_string(address.port);
}

Status CheckServeSecurity(const ListenAddress& address, bool tls, bool authenticates) {
  if (IsLoopback(address)) return OkStatus();
  const std::string needs = "listening on " + FormatListenAddress(address) + " (beyond this machine) needs ";
  if (!tls) return MakeError(ErrorCode::kInvalidArgument, needs + "tls_certificate and tls_key in [serve]");
  if (!authenticates) {
    return MakeError(ErrorCode::kInvalidArgument,
                     needs + "'user = NAME:HASH' (from mailkeep serve-password NAME) or 'token_file' in [serve]");
  }
  return OkStatus();
}

std::string_view ProtocolName(Protocol protocol) {
  return protocol == Protocol::kPop3 ? "pop3" : "imap";
}

std::string_view TlsName(Tls tls) {
  for (const auto& w : kTlsModes) {
    if (w.value == tls) return w.text;
  }
  return "?";
}

std::string_view AuthName(Auth auth) {
  for (const auto& w : kAuths) {
    if (w.value == auth) return w.text;
  }
  for (const auto& w : kRelayAuths) {
    if (w.value == auth) return w.text;
  }
  return "?";
}

net::LoginMethod LoginMethodFor(Auth auth, net::LoginProtocol protocol) {
  using M = net::LoginMethod;
  using P = net::LoginProtocol;
  switch (auth) {
    case Auth::kAuto: return M::kAuto;
    case Auth::kPlain: return M::kPlain;
    case Auth::kLogin: return protocol == P::kImap ? M::kUserPass : M::kLogin;  // IMAP servers offer no SASL LOGIN
    case Auth::kXoauth2: return M::kXoauth2;
    case Auth::kOauthBearer: return M::kOauthBearer;
    case Auth::kUser: return protocol == P::kSmtp ? M::kAuto : M::kUserPass;
    case Auth::kApop: return protocol == P::kPop3 ? M::kApop : M::kAuto;
    case Auth::kCramMd5: return protocol == P::kSmtp ? M::kCramMd5 : M::kAuto;
  }
  return M::kAuto;
}

std::string DeletePolicyText(const DeletePolicy& policy) {
  switch (policy.kind) {
    case DeletePolicy::Kind::kNever: return "never";
    case DeletePolicy::Kind::kAfterDownload: return "after-download";
    case DeletePolicy::Kind::kOlderThan: return "older-than:" + std::to_string(policy.days) + "d";
  }
  return "?";
}

uint16_t StandardPort(Protocol protocol, Tls tls) {
  bool implicit = tls == Tls::kImplicit;
  if (protocol == Protocol::kPop3) return implicit ? 995 : 110;
  return implicit ? 993 : 143;
}

uint16_t StandardSmtpPort(Tls tls) {
  switch (tls) {
    case Tls::kImplicit: return 465;
    case Tls::kStartTls: return 587;
    case Tls::kNone: return 25;
  }
  return 25;
}

Result<Config> ParseConfig(std::string_view text, const std::string& file_name) {
  Config cfg;
  cfg.path = file_name;
  const std::string base_dir = BaseDir(file_name);
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 BOM

  OpenSection cur;
  std::map<std::string, int, std::less<>> account_lines, relay_lines;
  int line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view raw_line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++line_no;
    std::string_view line = Trim(raw_line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;

    if (line.front() == '[') {
      size_t close = line.find(']');
      if (close == std::string_view::npos) return LineError(file_name, line_no, "section header without ']'");
      std::string_view rest = Trim(line.substr(close + 1));
      if (!rest.empty() && rest.front() != '#' && rest.front() != ';') {
        return LineError(file_name, line_no, "unexpected text after the section header");
      }
      MK_RETURN_IF_ERROR(FinishSection(cur, cfg, file_name));

      std::string_view inner = Trim(line.substr(1, close - 1));
      std::string label = "[" + std::string(inner) + "]";
      size_t dot = inner.find('.');
      std::string_view kind = inner.substr(0, dot);
      std::string_view name = dot == std::string_view::npos ? std::string_view() : inner.substr(dot + 1);
      SectionKind sk;
      if (kind == "account") {
        sk = SectionKind::kAccount;
      } else if (kind == "relay") {
        sk = SectionKind::kRelay;
      } else if (kind == "serve") {
        if (dot != std::string_view::npos) {
          return LineError(file_name, line_no, "section " + label + ": [serve] takes no name");
        }
        if (cfg.serve.where.line != 0) {
          return LineError(file_name, line_no,
                           "duplicate section [serve] (first on line " + std::to_string(cfg.serve.where.line) + ")");
        }
        cfg.serve.where = Where{file_name, line_no};
        cur = OpenSection{SectionKind::kServe, line_no, label, {}};
        continue;
      } else {
        return LineError(file_name, line_no,
                         "unknown section " + label + " (sections are [account.NAME], [relay.NAME] and [serve])");
      }
      if (dot == std::string_view::npos) {
        return LineError(file_name, line_no,
                         "section " + label + " needs a name: [" + std::string(kind) + ".NAME]");
      }
      if (!IsSectionName(name)) {
        return LineError(file_name, line_no,
                         "bad name '" + std::string(name) + "' in " + label +
                             " (letters, digits, '.', '_' and '-')");
      }
      auto& lines = sk == SectionKind::kAccount ? account_lines : relay_lines;
      auto [it, inserted] = lines.emplace(std::string(name), line_no);
      if (!inserted) {
        return LineError(file_name, line_no,
                         "duplicate section " + label + " (first on line " + std::to_string(it->second) + ")");
      }
      cur = OpenSection{sk, line_no, label, {}};
      Where where{file_name, line_no};
      if (sk == SectionKind::kAccount) {
        AccountConfig a;
        a.name = name;
        a.where = std::move(where);
        cfg.accounts.push_back(std::move(a));
      } else {
        RelayConfig r;
        r.name = name;
        r.where = std::move(where);
        cfg.relays.push_back(std::move(r));
      }
      continue;
    }

    // key = value. Never quote the line itself: it may be a stray secret.
    size_t eq = raw_line.find('=');
    if (eq == std::string_view::npos) {
      return LineError(file_name, line_no, "expected 'key = value' or '[section]'");
    }
    std::string_view key = Trim(raw_line.substr(0, eq));
    if (key.empty()) return LineError(file_name, line_no, "missing key before '='");
    std::string_view value = ValueOf(raw_line.substr(eq + 1));
    std::string in_section = cur.kind == SectionKind::kTop ? "" : " in " + cur.label;

    Ctx x{file_name, line_no, key, cur.label, base_dir};
    Status applied;
    bool known = false;
    switch (cur.kind) {
      case SectionKind::kTop:
        if (const auto* spec = FindSpec(kTopLevelSpecs, key)) {
          known = true;
          if (!cur.seen.contains(key)) applied = spec->set(cfg, x, value);
        } else if (FindSpec(kAccountSpecs, key) || FindSpec(kRelaySpecs, key)) {
          return LineError(file_name, line_no,
                           "key '" + std::string(key) + "' outside of a section (put it under [account.NAME] or [relay.NAME])");
        } else if (FindSpec(kServeSpecs, key)) {
          return LineError(file_name, line_no,
                           "key '" + std::string(key) + "' outside of a section (put it under [serve])");
        }
        break;
      case SectionKind::kAccount:
        if (const auto* spec = FindSpec(kAccountSpecs, key)) {
          known = true;
          if (!cur.seen.contains(key)) applied = spec->set(cfg.accounts.back(), x, value);
        }
        break;
      case SectionKind::kRelay:
        if (const auto* spec = FindSpec(kRelaySpecs, key)) {
          known = true;
          if (!cur.seen.contains(key)) applied = spec->set(cfg.relays.back(), x, value);
        }
        break;
      case SectionKind::kServe:
        if (const auto* spec = FindSpec(kServeSpecs, key)) {
          known = true;
          if (!cur.seen.contains(key) || IsRepeatable(cur.kind, key)) applied = spec->set(cfg.serve, x, value);
        }
        break;
    }
    if (!known) {
      return LineError(file_name, line_no,
                       "unknown key '" + std::string(key) + "'" + in_section +
                           UnknownKeyHint(key, cur.kind));
    }
    if (auto first = cur.seen.find(key); first != cur.seen.end() && !IsRepeatable(cur.kind, key)) {
      return LineError(file_name, line_no,
                       "duplicate key '" + std::string(key) + "'" + in_section + " (first on line " +
                           std::to_string(first->second) + ")");
    }
    if (!applied) return std::unexpected(applied.error());
    cur.seen.emplace(std::string(key), line_no);  // a repeated key keeps its first line
  }
  MK_RETURN_IF_ERROR(FinishSection(cur, cfg, file_name));
  return cfg;
}

Result<Config> LoadConfigFile(const std::string& path) {
  constexpr size_t kMaxConfigBytes = 1 << 20;  // an accounts file is a few KiB; /dev/zero is not one
  MK_ASSIGN_OR_RETURN(std::string text, ReadFile(path, kMaxConfigBytes));
  return ParseConfig(text, path);
}

std::string DefaultConfigPath() {
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v == nullptr ? "" : v;
  };
  if (std::string p = env("MAILKEEP_CONFIG"); !p.empty()) return p;
  if (std::string x = env("XDG_CONFIG_HOME"); !x.empty() && x.front() == '/') {
    return x + "/mailkeep/config.ini";
  }
  return HomeDir() + "/.config/mailkeep/config.ini";
}

// ---------------------------------------------------------------------------
// Passwords.

namespace {

constexpr size_t kMaxSecretBytes = 64 * 1024;  // read at most this much of a file or a stream

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int* out() { return &fd_; }
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

// What a source gives, for messages: "password", "OAuth client secret",
// "OAuth refresh token".
std::string SecretNoun(const PasswordSource& source) {
  if (source.key == "oauth_client_secret") return "OAuth client secret";
  if (source.key == "oauth_refresh_token") return "OAuth refresh token";
  if (source.key == "passphrase") return "passphrase";
  return "password";
}

Result<std::string> PasswordFromEnv(const PasswordSource& source, const std::string& context) {
  const char* v = std::getenv(source.value.c_str());
  if (v == nullptr) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     context + ": environment variable " + source.value + " (" + std::string(source.key) + "_env) is not set");
  }
  if (*v == '\0') {
    return MakeError(ErrorCode::kFailedPrecondition,
                     context + ": environment variable " + source.value + " (" + std::string(source.key) + "_env) is empty");
  }
  return std::string(v);
}

Result<std::string> PasswordFromFile(const PasswordSource& source, const std::string& context) {
  const std::string& path = source.value;
  const std::string file = SecretNoun(source) + " file ";
  auto opened = OpenPrivateFile(path, file + path);
  if (!opened) return std::unexpected(opened.error().WithContext(context));
  Fd fd(*opened);
  std::string data;
  char buf[4096];
  while (data.size() < kMaxSecretBytes && data.find('\n') == std::string::npos) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MakeError(ErrorCode::kIoError, context + ": " + file + path + ": " + ErrnoText(errno));
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  std::string password(FirstLine(data));
  if (password.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     context + ": " + file + path + " is empty (the " + SecretNoun(source) + " is its first line)");
  }
  return password;
}

// The first non-blank line of a command's stderr, made safe to print: at most
// 200 bytes, control characters replaced, and `secret` (if long enough to
// matter) masked.
std::string StderrLine(std::string_view err, std::string_view secret) {
  std::string line;
  while (!err.empty()) {
    size_t nl = err.find('\n');
    std::string_view l = Trim(err.substr(0, nl));
    err.remove_prefix(nl == std::string_view::npos ? err.size() : nl + 1);
    if (!l.empty()) {
      line = l;
      break;
    }
  }
  if (secret.size() >= 4) {
    for (size_t at = line.find(secret); at != std::string::npos; at = line.find(secret, at + 3)) {
      line.replace(at, secret.size(), "***");
    }
  }
  if (line.size() > 200) line = line.substr(0, 200) + "...";
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return line;
}

Result<std::string> PasswordFromCommand(const PasswordSource& source, const std::string& context,
                                        const ResolveOptions& options) {
  auto fail = [&](ErrorCode code, const std::string& what) {
    return MakeError(code, context + ": " + std::string(source.key) + "_command " + what);
  };
  Fd out_r, out_w, err_r, err_w;
  {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail(ErrorCode::kUnavailable, "cannot start: pipe: " + ErrnoText(errno));
    *out_r.out() = p[0];
    *out_w.out() = p[1];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail(ErrorCode::kUnavailable, "cannot start: pipe: " + ErrnoText(errno));
    *err_r.out() = p[0];
    *err_w.out() = p[1];
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
  // The caller may ignore SIGPIPE (network code does) or block signals; the
  // command gets the defaults.
  sigset_t defaults, empty;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGCHLD, SIGALRM, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::string sh = "sh", dash_c = "-c", command = source.value;
  char* argv[] = {sh.data(), dash_c.data(), command.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return fail(ErrorCode::kUnavailable, "cannot start /bin/sh: " + ErrnoText(rc));
  out_w.Reset();
  err_w.Reset();

  // Read both streams until EOF or the deadline. Once the shell has exited,
  // read only what is already in the pipes: a background process it left
  // behind may hold them open.
  std::string out, err;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.command_timeout_seconds);
  bool timed_out = false;
  bool exited = false;
  int status = 0;
  pid_t waited = -1;
  while (out_r.get() >= 0 || err_r.get() >= 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = !exited;
      break;
    }
    pollfd fds[2] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}};
    int n = ::poll(fds, 2, exited ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (n < 0) {
      if (errno == EINTR) continue;
      timed_out = !exited;  // cannot wait properly: give up on the command
      break;
    }
    if (n == 0 && exited) break;
    Fd* fd_of[2] = {&out_r, &err_r};
    std::string* buf_of[2] = {&out, &err};
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        fd_of[i]->Reset();
        continue;
      }
      std::string& b = *buf_of[i];
      if (b.size() < kMaxSecretBytes) b.append(buf, std::min(static_cast<size_t>(got), kMaxSecretBytes - b.size()));
    }
    if (!exited) {
      waited = ::waitpid(pid, &status, WNOHANG);
      exited = waited == pid;
    }
  }
  out_r.Reset();
  err_r.Reset();
  if (!exited) {
    if (timed_out) ::kill(pid, SIGKILL);
    do {
      waited = ::waitpid(pid, &status, 0);
    } while (waited < 0 && errno == EINTR);
  }

  std::string password(FirstLine(out));
  out.assign(out.size(), '\0');
  std::string stderr_line = StderrLine(err, password);
  std::string stderr_part = stderr_line.empty() ? " (nothing on stderr)" : ": " + stderr_line;
  if (timed_out) {
    return fail(ErrorCode::kUnavailable,
                "timed out after " + std::to_string(options.command_timeout_seconds) + " s and was killed" +
                    stderr_part);
  }
  if (waited < 0) return fail(ErrorCode::kInternal, "exit status unknown: " + ErrnoText(errno));
  if (WIFSIGNALED(status)) {
    return fail(ErrorCode::kFailedPrecondition,
                "was killed by signal " + std::to_string(WTERMSIG(status)) + stderr_part);
  }
  int exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (exit_status != 0) {
    return fail(ErrorCode::kFailedPrecondition, "exited with status " + std::to_string(exit_status) + stderr_part);
  }
  if (password.empty()) {
    return fail(ErrorCode::kFailedPrecondition, "printed no " + SecretNoun(source) + " (exit status 0)" + stderr_part);
  }
  return password;
}

}  // namespace

Result<std::string> ResolvePassword(const PasswordSource& source, const std::string& context,
                                    const ResolveOptions& options) {
  switch (source.kind) {
    case PasswordSource::Kind::kEnv: return PasswordFromEnv(source, context);
    case PasswordSource::Kind::kFile: return PasswordFromFile(source, context);
    case PasswordSource::Kind::kCommand: return PasswordFromCommand(source, context, options);
    case PasswordSource::Kind::kNone: break;
  }
  return MakeError(ErrorCode::kInvalidArgument, context + ": no " + SecretNoun(source) + " configured");
}

Result<std::string> ResolvePassword(const PasswordSource& source, const std::string& context) {
  return ResolvePassword(source, context, ResolveOptions{});
}

}  // namespace mailkeep::config
