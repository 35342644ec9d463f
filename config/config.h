// The accounts file: which servers mailkeep pulls mail from ([account.NAME]),
// which SMTP relays it may resend through ([relay.NAME]), and where the
// archive lives. See config/mailkeep.example.ini for every key.
//
// Syntax (Boost.Program_options config-file syntax, parsed here so that every
// error can name its line):
//   key = value          whitespace around key and value is trimmed
//   [account.NAME]       NAME is [A-Za-z0-9._-]+; section kinds: account, relay
//   [serve]              `mailkeep serve` (no name; at most one)
//   # comment / ; comment   full-line comments; blank lines are skipped
//   key = value  ; note  a ';' or '#' preceded by whitespace starts a trailing
//                        comment. To keep " ;" or " #" in a value, wrap the
//                        whole value in double quotes: key = "a ; b".
// Keys before the first section are top-level ("archive"). Keys are
// lowercase and case-sensitive; word values (tls, auth, booleans, ...) are
// case-insensitive. A key may appear once per section (but `user` in
// [serve], once per user), a section once per file.
// Relative paths (archive, ca_file, password_file, tls_certificate, tls_key, token_file)
// are relative to the directory of the config file; "~" and "~/..." mean the home directory.
//
// Secrets are never stored in the file or in Config: a PasswordSource says
// where to get the password, and ResolvePassword fetches it when it is needed.
//
// Thread-safety: Config and its parts are plain values. LoadConfigFile,
// ParseConfig and ResolvePassword share no state (they read the environment).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/crypto/password_hash.h"
#include "store/lifecycle/retention.h"
#include "store/util/sha256.h"
#include "store/util/status.h"
#include "sync/net/login_chooser.h"

namespace mailkeep::config {

enum class Protocol { kPop3, kImap };
enum class Tls { kImplicit, kStartTls, kNone };
// kApop is POP3 only; kUser (POP3 USER/PASS, IMAP LOGIN) is not for relays;
// kCramMd5 is for relays only.
enum class Auth { kAuto, kPlain, kLogin, kXoauth2, kApop, kUser /* USER/PASS, IMAP LOGIN */, kCramMd5, kOauthBearer };

struct DeletePolicy {
  enum class Kind { kNever, kAfterDownload, kOlderThan } kind = Kind::kNever;
  int days = 0;                                  // for kOlderThan ("older-than:30d"), >= 1
};

struct PasswordSource {
  enum class Kind { kNone, kEnv, kFile, kCommand } kind = Kind::kNone;
  std::string value;                             // variable name / file path (absolute) / shell command
  // The keys it came from, for messages: "password" (password_env/_file/
  // _command), "oauth_client_secret" (oauth_client_secret_*),
  // "oauth_refresh_token" (oauth_refresh_token_command) or "passphrase"
  // (passphrase_env/_file/_command, the archive's).
  std::string_view key = "password";
};

// OAuth 2.0 for auth = xoauth2 | oauthbearer: with oauth_token_url set,
// mailkeep gets access tokens itself from a refresh token (kept in the
// archive's state by `mailkeep oauth NAME` / `mailkeep oauth --relay NAME`,
// or printed by oauth_refresh_token_command) and needs no password key.
// Without it, the password keys give a ready access token, as before.
// Accounts (IMAP and POP3) and relays (SMTP).
struct OAuthConfig {
  std::string token_url;                         // oauth_token_url = https://...; "" = not used
  std::string device_url;                        // oauth_device_url = https://... (for `mailkeep oauth`)
  std::string client_id;                         // oauth_client_id (required with token_url)
  std::string scope;                             // oauth_scope, asked for by `mailkeep oauth`
  PasswordSource client_secret;                  // oauth_client_secret_env/_file/_command; kNone = public client
  PasswordSource refresh_token;                  // oauth_refresh_token_command (kCommand) or kNone = the archive's
  bool enabled() const { return !token_url.empty(); }
};

struct Where { std::string file; int line = 0; };  // for messages: "FILE:LINE"

struct AccountConfig {
  std::string name;                              // from [account.NAME]
  Where where;                                   // the section header
  Protocol protocol = Protocol::kImap;           // key "protocol" = imap | pop3 (required)
  std::string host;                              // required; no spaces or '/'
  uint16_t port = 0;                             // 0 = standard port (StandardPort)
  Tls tls = Tls::kImplicit;                      // implicit | starttls | none
  std::string user;                              // required
  Auth auth = Auth::kAuto;                       // auto | plain | login | xoauth2 | oauthbearer | apop | user
  PasswordSource password;                       // exactly one of password_env/password_file/password_command (required unless oauth)
  OAuthConfig oauth;                             // oauth_* keys
  std::string ca_file;                           // optional extra CA (PEM); existed when loaded
  bool tls_verify = true;
  bool allow_plaintext = false;                  // send the password over tls = none
  bool compress = true;                          // IMAP COMPRESS=DEFLATE when offered (IMAP only)
  std::vector<std::string> folders{"*"};         // IMAP patterns, comma separated (IMAP only)
  std::vector<std::string> exclude;              // comma separated (IMAP only)
  // migrate --to-account this account: folder mapping rules "OLD=NEW",
  // comma separated ("\," inside a rule), as sync/migrate/folder_map.h
  // reads them; kept as written, checked by migrate (IMAP only).
  std::string folder_map;
  int folder_map_line = 0;                       // its line, for messages
  DeletePolicy delete_policy;                    // key "delete": never | after-download | older-than:Nd
  uint64_t max_message_size = 0;                 // 0 = no limit; accepts 500k, 25M, 1G (k=1024)
  int connect_timeout_seconds = 30;              // key connect_timeout, 1..86400
  int timeout_seconds = 120;                     // key timeout (each read), 1..86400
  int command_deadline_seconds = 1800;           // key command_deadline (each command as a whole), 1..86400
  uint64_t bandwidth = 0;                        // bytes per second downloaded (sizes as max_message_size); 0 = no limit
  uint64_t max_bytes_per_run = 0;                // sync fetches no new message past this; 0 = no limit
  int throttle_max_wait_seconds = 120;           // key throttle_max_wait: all waits for a throttling server in one run, 0..86400
  // `mailkeep prune`: key retention = 7y | 18m | 4w | 90d | forever, key
  // keep_flagged = yes | no (unset: the top-level ones apply), and key
  // folder_retention = PATTERN=PERIOD, ... (folder patterns, '*' any run of
  // characters; the first match wins and overrides the account's period).
  lifecycle::Rule retention;
  std::vector<lifecycle::FolderRule> folder_retention;
};

struct RelayConfig {                             // [relay.NAME], for SMTP resend
  std::string name; Where where;
  std::string host; uint16_t port = 0; Tls tls = Tls::kStartTls;
  // user and password are optional for a relay, but go together (with
  // oauth_token_url the user needs no password key). auth may not be apop
  // or user (SMTP has neither).
  std::string user; Auth auth = Auth::kAuto; PasswordSource password;
  OAuthConfig oauth;                             // oauth_* keys, as for accounts
  std::string ca_file; bool tls_verify = true; bool allow_plaintext = false;
  int connect_timeout_seconds = 30; int timeout_seconds = 120;
};

// How `resend --direct` reaches the recipients' mail exchanges (top-level keys).
struct DirectDeliveryConfig {
  std::string dns_server;                        // key dns_server = IP[:PORT]; "" = the system resolver
  uint16_t smtp_port = 25;                       // key direct_port: the port dialled on each exchange
  std::string hello_name;                        // key hello_name: EHLO name (relays too); "" = this host's name
};

// Where `mailkeep serve` listens: HOST:PORT, [IPv6]:PORT.
struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 address (without brackets) or a host name
  uint16_t port = 0; // 1..65535
};

// A person who may log in to `mailkeep serve` (HTTP Basic): key
// user = NAME:HASH, one line per user; the hash as
// crypto::ParsePasswordHash reads it with the default (production) limits.
struct ServeUser {
  std::string name;                              // [A-Za-z0-9._@+-], 1..64 bytes
  crypto::PasswordHash hash;
  int line = 0;
};

// A bearer token (Authorization: Bearer TOKEN): the file holds only the
// SHA-256 of each token, one "NAME:sha256:HEX" line per token ('#'
// comments and blank lines skipped); `mailkeep serve-password --token
// NAME` makes one.
struct ServeToken {
  std::string name;                              // as for users
  Sha256Digest sha256{};
  int line = 0;                                  // its line in token_file
};

// [serve]: how `mailkeep serve` listens and who may use it. Without the
// section, or without `listen`, serve listens on loopback only.
// Listening beyond loopback needs TLS and a way to log in
// (CheckServeSecurity, which the loader applies to `listen`).
struct ServeConfig {
  Where where;                                   // the [serve] header; line 0 = no section
  std::optional<ListenAddress> listen;           // key listen = HOST:PORT; unset = serve's default (loopback)
  std::string tls_certificate;                   // key tls_certificate: PEM chain; a regular file when loaded
  std::string tls_key;                           // key tls_key: PEM private key; a regular file, not readable
                                                 // by group or others (chmod 600) when loaded
  std::vector<ServeUser> users;                  // key user = NAME:HASH (repeatable; names unique)
  std::string token_file;                        // key token_file: "" = none; same rules as tls_key
  std::vector<ServeToken> tokens;                // read from token_file when loaded (at most 1000)
  // key header_timeout: seconds a request's line and header fields may take
  // to arrive (an idle connection is closed then), 1..86400; unset = the
  // server's default (web::ServerLimits::header_timeout).
  std::optional<int> header_timeout_seconds;
  bool tls() const { return !tls_certificate.empty(); }
  bool authenticates() const { return !users.empty() || !token_file.empty(); }
};

struct Config {
  std::string path;                              // file it came from (as given)
  std::string archive;                           // top-level key "archive" (optional; ~ expanded); "" = unset
  DirectDeliveryConfig direct;                   // top-level keys dns_server, direct_port, hello_name
  // Top-level key: connections sync keeps open at once to one host (by
  // name, case-insensitive), over all its accounts; 1..1000 (migrate and
  // resend hold one connection at a time).
  int max_connections_per_host = 4;
  lifecycle::Rule retention;                     // top-level keys retention, keep_flagged (prune); unset = keep forever, keep_flagged = yes
  // The passphrase of an encrypted archive: top-level passphrase_command,
  // passphrase_file or passphrase_env (one of them; key "passphrase");
  // kNone = not set (then $MAILKEEP_PASSPHRASE, then a prompt on a terminal).
  PasswordSource passphrase;
  std::vector<AccountConfig> accounts;           // file order
  std::vector<RelayConfig> relays;               // file order
  ServeConfig serve;                             // [serve]
  // nullptr when there is none. The pointer is valid while *this is alive
  // and its vectors are not modified.
  const AccountConfig* FindAccount(std::string_view name) const;
  const RelayConfig* FindRelay(std::string_view name) const;
};

// Reads and parses `path`. Errors: those of ParseConfig, or the ReadFile
// error (kNotFound / kIoError, message "PATH: reason"; a file over 1 MiB is
// kInvalidArgument).
Result<Config> LoadConfigFile(const std::string& path);

// Parses config text; `file_name` is used in messages, in Where, and as the
// base for relative paths. Every error is kInvalidArgument and ONE line
// naming file, line and key, and never quoting a line it could not parse, e.g.
//   "config.ini:12: unknown key 'hots' in [account.work]"
//   "config.ini:7: bad value 'sometimes' for 'delete' (never | after-download | older-than:Nd)"
//   "config.ini:3: [account.work] is missing 'host'"              (line of the header)
//   "config.ini:20: duplicate section [account.work] (first on line 3)"
//   "config.ini:4: key 'host' outside of a section"
//   "config.ini:9: duplicate key 'host' in [account.work] (first on line 5)"
//   "config.ini:8: 'auth = apop' needs 'protocol = pop3' in [account.work]"
//   "config.ini:6: cannot use 'ca_file' /etc/x.pem: No such file or directory"
// The first error in file order is returned. A file with no sections is valid.
Result<Config> ParseConfig(std::string_view text, const std::string& file_name);

// $MAILKEEP_CONFIG, else $XDG_CONFIG_HOME/mailkeep/config.ini (when set and
// absolute), else ~/.config/mailkeep/config.ini. Unset and empty are alike.
std::string DefaultConfigPath();

// Resolves the password at use time (never stored in Config). `context`
// starts every message, e.g. "account work"; the messages name the source's
// keys (source.key): "password file PATH", "password_command exited ...",
// "OAuth client secret file PATH", "oauth_refresh_token_command printed no
// OAuth refresh token", "environment variable X (oauth_client_secret_env)".
//   env:     the variable must be set and non-empty.
//   file:    the first line (without its "\n" or "\r\n"; other whitespace is
//            kept), which must be non-empty. The file must be a regular file
//            and is refused if group- or world-readable (the message gives the
//            mode and "chmod 600 FILE").
//   command: run through /bin/sh -c with stdin /dev/null and the caller's
//            environment and working directory; the password is the first
//            line of stdout. A non-zero exit, death by a signal, empty output
//            or running past the timeout is an error that gives the exit
//            status and the command's first stderr line, never its stdout.
//            The command stays in mailkeep's process group, so a pinentry
//            prompt still reaches the terminal.
// Errors: kInvalidArgument for kNone; kNotFound when the file is missing;
// kIoError when it cannot be read; kUnavailable when the command could not
// be started or timed out; kFailedPrecondition otherwise. Messages never
// contain the password (a stderr line that repeats the first stdout line has
// it masked).
Result<std::string> ResolvePassword(const PasswordSource& source, const std::string& context);

struct ResolveOptions {
  int command_timeout_seconds = 60;              // password_command is killed after this
};
Result<std::string> ResolvePassword(const PasswordSource& source, const std::string& context,
                                    const ResolveOptions& options);

// The retention policy of the file (top-level, accounts and their folders)
// for `mailkeep prune`.
lifecycle::Policy RetentionPolicy(const Config& config);

// The keys the parser accepts, in the order the example file documents them.
std::span<const std::string_view> TopLevelKeys();
std::span<const std::string_view> AccountKeys();
std::span<const std::string_view> RelayKeys();
std::span<const std::string_view> ServeKeys();

// The names of [serve] users and tokens: [A-Za-z0-9._@+-], 1..64 bytes.
bool IsServeName(std::string_view name);

// Whether a listen address may have port 0 (the system picks a free one):
// serve --listen allows it, the accounts file does not.
enum class AnyPort { kRefused, kAllowed };
// The one parser of listen addresses ([serve] listen, serve --listen):
// "127.0.0.1:8025", "[::1]:8025", "archive.example.com:443". "localhost"
// (any case) becomes 127.0.0.1, so that loopback never depends on a
// resolver. Errors (kInvalidArgument): "bad listen address 'X' (HOST:PORT or
// [IPv6]:PORT, port 1..65535)" (0..65535 with AnyPort::kAllowed).
Result<ListenAddress> ParseListenAddress(std::string_view text, AnyPort any_port = AnyPort::kRefused);
// `address` as ParseListenAddress reads it: "127.0.0.1:8025", "[::1]:8025".
std::string FormatListenAddress(const ListenAddress& address);
// 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and "localhost": reachable from
// this machine only.
bool IsLoopback(const ListenAddress& address);
// The one statement of the rule for `mailkeep serve` (the loader applies
// it to [serve] listen, web::CheckOptions to what the server is given):
// serving on `address` beyond loopback needs TLS (`tls`) and a way to log
// in (`authenticates`). kInvalidArgument, one line, e.g. "listening on
// 0.0.0.0:8025 (beyond this machine) needs tls_certificate and tls_key in
// [serve]".
Status CheckServeSecurity(const ListenAddress& address, bool tls, bool authenticates);
inline Status CheckServeSecurity(const ServeConfig& serve, const ListenAddress& address) {
  return CheckServeSecurity(address, serve.tls(), serve.authenticates());
}

// Spellings used in the file: "imap", "starttls", "xoauth2", "older-than:30d".
std::string_view ProtocolName(Protocol protocol);
std::string_view TlsName(Tls tls);
std::string_view AuthName(Auth auth);
// The login method a `protocol` client uses for `auth`: the one mapping of
// the accounts-file word. IMAP's "login" and "user" are its LOGIN command;
// a word the loader refuses for `protocol` (apop but for POP3, user for
// relays, cram-md5 but for relays) is kAuto.
net::LoginMethod LoginMethodFor(Auth auth, net::LoginProtocol protocol);
std::string DeletePolicyText(const DeletePolicy& policy);

// The port that port = 0 stands for: IMAP 993 (implicit TLS) / 143; POP3
// 995 / 110; SMTP (relays) 465 / 587 (starttls) / 25 (none).
uint16_t StandardPort(Protocol protocol, Tls tls);
uint16_t StandardSmtpPort(Tls tls);

}  // namespace mailkeep::config
