// IMAP client (IMAP4rev1, RFC 3501, with the extensions a mail archiver
// needs): CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE PLAIN / XOAUTH2 with
// SASL-IR (RFC 4959), LITERAL+ (RFC 7888), ENABLE (RFC 5161) of CONDSTORE /
// QRESYNC (RFC 7162), LIST with SPECIAL-USE (RFC 6154) and LIST-STATUS
// (RFC 5819), ESEARCH (RFC 4731), UIDPLUS (RFC 4315), UNSELECT (RFC 3691),
// COMPRESS=DEFLATE (RFC 4978).
//
// One ImapClient is one session, blocking, over one net::Connection:
// Connect() greets, upgrades with STARTTLS when asked, logs in, enables
// CONDSTORE/QRESYNC and compression when offered; then folders are listed, selected and
// read; Logout() ends it. Responses are read with ResponseParser
// (response_parser.h); message bodies go from the socket straight into the
// string handed to the sink, without extra copies.
//
// A folder's incremental pull, as the sync engine would do it:
//   auto folders = client->ListFolders();                  // skip !selectable()
//   auto box = client->Examine(name);                      // Select() to delete
//   if (box->uidvalidity != known_uidvalidity) { ... re-read every UID ... }
//   auto uids = client->UidSearch("UID " + std::to_string(last_uid + 1) + ":*");
//   client->FetchMessages(*uids, [&](FetchedMessage&& m) { return Keep(m); });
//   auto changed = client->FetchFlags("1:" + std::to_string(last_uid), last_modseq);
//   client->Unselect();  ...  client->Logout();
//
// Folder names in this API are UTF-8; on the wire they are modified UTF-7
// (store/util/mutf7.h). Names that ListFolders() saw are sent back exactly as the
// server spelt them, even when they are not well-formed modified UTF-7.
//
// Messages come back in the form a Maildir file has (as Pop3Client): every
// CRLF line end turned into LF, a lone CR kept. Append() turns LF back into
// CRLF. Flags are one string: sorted, space-separated, e.g.
// "$Forwarded \Flagged \Seen"; \Recent (per session) is never reported.
//
// Errors: one line naming the command, the server and the server's text,
// never the password, e.g.
//   "IMAP login as alice at host:993 failed (AUTHENTICATE PLAIN): [AUTHENTICATIONFAILED] Authentication failed."
//   "IMAP SELECT Entwürfe at host:993 failed: [NONEXISTENT] Mailbox doesn't exist: Entwürfe"
//   kUnavailable         network trouble (timeout, connection lost, also in
//                        the middle of a literal), the server ended the
//                        session (BYE at any time), or a temporary condition
//                        ([UNAVAILABLE], [INUSE], [LIMIT], [EXPUNGEISSUED]);
//                        retry later.
//   kFailedPrecondition  login refused, TLS/policy problems, a missing
//                        capability this client needs (UIDPLUS to delete),
//                        a protocol violation (garbage, a line or literal
//                        over the limits); retrying will not help.
//   kNotFound            the folder does not exist ([NONEXISTENT],
//                        [TRYCREATE]).
//   kInvalidArgument     bad arguments (empty user, UID 0, bad flag).
//   kResourceExhausted   the server throttles ("NO [THROTTLED]", "BAD Request
//                        is throttled. Suggested Backoff Time: N milliseconds")
//                        longer than connect.throttle lets this run wait;
//                        within that, the command (AUTHENTICATE and LOGIN
//                        too) is sent again after the wait (net/throttle.h).
//                        The rest next run.
// After a network or protocol error, or a BYE, the connection is dropped and
// every later call fails with kUnavailable. No exception escapes.
//
// Memory: every response is bounded by ImapLimits (response_parser.h);
// literals by ImapOptions::max_literal; all responses to one command by
// ImapOptions::max_command_bytes (FETCH of bodies: twice the RFC822.SIZEs
// asked for, plus that), counted as they arrive, so a server that lies about
// sizes or sends bodies out of order is held to bytes, not to its claims.
// FetchMessages() asks for one chunk (fetch_chunk_bytes by RFC822.SIZE, or
// one bigger message) at a time. No number a server sends sizes a buffer.
// Time: each command has the deadline connect.command_deadline.
//
// Not supported: IDLE, NOTIFY, UTF8=ACCEPT.
//
// Thread-safety: one thread at a time per client.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/status.h"
#include "store/util/mutf7.h"
#include "sync/net/connection.h"
#include "sync/net/login_chooser.h"

namespace mailkeep::imap {

// The login methods shared with POP3 and SMTP (sync/net/login_chooser.h);
// IMAP uses kPlain, kLogin, kCramMd5, kXoauth2 (AUTHENTICATE) and kUserPass
// (the LOGIN command).
using AuthMethod = net::LoginMethod;

struct ImapOptions {
  net::ConnectOptions connect;         // service is forced to kImap
  std::string user, password;          // password = OAuth2 access token for kXoauth2 / kOauthBearer
  // kAuto (net::ChooseLogin): over TLS AUTHENTICATE PLAIN, LOGIN,
  // CRAM-MD5, then the LOGIN command (unless LOGINDISABLED); without TLS
  // (allow_plaintext) CRAM-MD5 first. XOAUTH2, OAUTHBEARER only when named.
  AuthMethod auth = AuthMethod::kAuto;
  // kXoauth2 / kOauthBearer: when the server refuses the token, called once
  // for a new one (oauth::AccessTokens::Renew), which is tried once more in
  // the same session. Empty = no second try. Its error ends the login.
  std::function<Result<std::string>()> renew_token;
  bool allow_plaintext = false;        // without it, no password is sent unless the connection is TLS
  uint64_t max_literal = 0;            // largest message (literal) accepted; 0 = 1 GiB
  size_t max_line = 0;                 // longest response line outside literals; 0 = 16 MiB
  // FetchMessages() asks for at most this many messages / bytes (by
  // RFC822.SIZE) per UID FETCH command.
  size_t fetch_chunk_messages = 256;
  uint64_t fetch_chunk_bytes = 32ull << 20;   // 32 MiB
  // All responses to one command together (greeting, LIST, SEARCH, FETCH
  // of flags, ...) may bring at most this many bytes; a UID FETCH of bodies
  // twice the RFC822.SIZEs it asks for, plus this. Each command also has
  // connect.command_deadline (net::Connection::BeginCommand).
  uint64_t max_command_bytes = 128ull << 20;  // 128 MiB
  size_t max_folders = 100000;                // LIST responses kept by ListFolders()
  // COMPRESS DEFLATE after login when the server offers COMPRESS=DEFLATE
  // (both directions compressed from then on; a refusal is not an error).
  bool compress = true;
  // One-line notes on what the session chose (compression used, refused
  // or turned off), called on the client's thread; never with a password.
  // Empty: no notes.
  std::function<void(std::string_view note)> debug;
};

// From LIST-STATUS (only when the server offers it).
struct FolderStatus {
  uint32_t messages = 0, uidvalidity = 0, uidnext = 0;
  uint64_t highestmodseq = 0;          // 0 without CONDSTORE
};

struct Folder {
  std::string name;                    // UTF-8
  std::string wire_name;               // modified UTF-7, as the server sent it
  char delimiter = '\0';               // hierarchy separator; '\0' = none (NIL)
  std::vector<std::string> attributes; // as sent: \Noselect \HasChildren \Sent \Trash ...
  std::optional<FolderStatus> status;  // with LIST-STATUS

  // Case-insensitive, e.g. HasAttribute("\\Noselect").
  bool HasAttribute(std::string_view attribute) const;
  // \Noselect or \NonExistent: the folder cannot be examined.
  bool selectable() const;
  // The SPECIAL-USE attribute (\All \Archive \Drafts \Flagged \Junk \Sent
  // \Trash), or "" when there is none.
  std::string special_use() const;
};

struct SelectedFolder {
  uint32_t uidvalidity = 0, uidnext = 0, exists = 0;
  uint64_t highestmodseq = 0;          // 0 without CONDSTORE or with [NOMODSEQ]
  bool read_only = true;
  // [PERMANENTFLAGS (...)] as sent (at most 1,000 valid flags kept), e.g.
  // {"\\Seen", "\\*"}; has_permanent_flags = false when the server sent
  // none (RFC 3501: then every flag may be stored). An EXAMINE often gets
  // "()": read-only.
  bool has_permanent_flags = false;
  std::vector<std::string> permanent_flags;

  // Whether `flag` may be kept in this folder: PERMANENTFLAGS absent, or
  // listing it (case-insensitive), or "\\*" for a keyword (a flag without
  // a backslash).
  bool Permits(std::string_view flag) const;
};

// The personal namespace (RFC 2342): the first one the server names.
struct PersonalNamespace {
  std::string prefix;                  // UTF-8, e.g. "" or "INBOX."
  char delimiter = '\0';               // '\0' = flat (NIL)
};

struct MessageFlags {
  uint32_t uid = 0;
  std::string flags;                   // sorted, space-separated; "" for none
  uint64_t size = 0;                   // RFC822.SIZE (CRLF line ends)
  int64_t internal_date = 0;           // Unix time (UTC); 0 if the server sent none/unreadable
  uint64_t modseq = 0;                 // 0 without CONDSTORE
};

struct FetchedMessage {
  uint32_t uid = 0;
  std::string flags;                   // as MessageFlags::flags
  int64_t internal_date = 0;           // Unix time (UTC); 0 if the server sent none/unreadable
  uint64_t size = 0;                   // RFC822.SIZE: the server's count (CRLF line ends)
  std::string bytes;                   // the message, CRLF → LF
};

class ImapClient {
 public:
  // Greeting (CAPABILITY from it when present), CAPABILITY, STARTTLS when
  // tls = kStartTls (refused if not offered or if the server greets with
  // PREAUTH; CAPABILITY again afterwards), login (none after PREAUTH),
  // CAPABILITY after login, ENABLE QRESYNC / CONDSTORE when offered, then
  // COMPRESS DEFLATE when offered and options.compress (NO or BAD: the
  // session goes on uncompressed). With tls = kNone and allow_plaintext =
  // false it fails before any credential is sent.
  static Result<std::unique_ptr<ImapClient>> Connect(const ImapOptions& options);

  ~ImapClient();  // closes without LOGOUT (nothing is expunged)
  ImapClient(const ImapClient&) = delete;
  ImapClient& operator=(const ImapClient&) = delete;

  // Exact, case-insensitive match of a capability the server announced,
  // e.g. "UIDPLUS", "AUTH=PLAIN", "CONDSTORE".
  bool HasCapability(std::string_view cap) const;
  const std::vector<std::string>& capabilities() const;   // upper-cased
  // True when ENABLE turned the extension on (e.g. "CONDSTORE", "QRESYNC").
  bool IsEnabled(std::string_view extension) const;
  AuthMethod auth_method() const;      // what logged in (kAuto after PREAUTH)
  bool secure() const;
  bool compressed() const;             // COMPRESS DEFLATE is active
  bool closed() const;                 // after LOGOUT, or an error that ended the session
  // Closed because the server stopped answering (net::Connection::timed_out).
  bool timed_out() const;
  const std::string& peer() const;
  // [ALERT] texts the server sent so far (RFC 3501 says a person must see
  // them); the list is cleared.
  std::vector<std::string> TakeAlerts();

  // LIST "" "*", in the server's order; with LIST-EXTENDED it asks for
  // RETURN (CHILDREN [SPECIAL-USE] [STATUS (MESSAGES UIDNEXT UIDVALIDITY
  // [HIGHESTMODSEQ])]) as far as offered (without it, servers may still
  // send special-use attributes).
  Result<std::vector<Folder>> ListFolders();

  // NAMESPACE (RFC 2342) when offered: the first personal namespace.
  // nullopt when the server does not offer NAMESPACE or names no personal
  // namespace. A prefix over 1,000 bytes is a protocol error.
  Result<std::optional<PersonalNamespace>> Namespace();

  // STATUS <folder> (MESSAGES UIDNEXT UIDVALIDITY); a value the server
  // did not send is 0. kNotFound when the folder does not exist (or the
  // server refuses). REQUIRES: `folder` is not the selected one (RFC 3501).
  Result<FolderStatus> MailboxStatus(const std::string& folder);

  // EXAMINE (read-only) / SELECT (read-write). A folder without
  // UIDVALIDITY is an error (kFailedPrecondition). kNotFound when it does
  // not exist (or cannot be opened: a NO without a more specific code, as
  // Dovecot sends for a missing folder). A failed SELECT leaves no folder
  // selected.
  Result<SelectedFolder> Examine(const std::string& folder);
  Result<SelectedFolder> Select(const std::string& folder);
  // UNSELECT when offered; else CLOSE, after re-opening the folder with
  // EXAMINE if it was read-write (a CLOSE of a read-write folder would
  // expunge every message marked \Deleted). OK when nothing is selected.
  Status Unselect();

  // UID SEARCH <criteria> (RETURN (ALL) with ESEARCH), UIDs ascending and
  // unique. REQUIRES: a folder selected; `criteria` in IMAP syntax (ASCII).
  // When criteria is exactly "UID <set>" (e.g. "UID 101:*"), UIDs outside
  // the set, with "*" read as "no upper bound", are dropped: a server
  // answers "UID 101:*" with its highest UID even when that is below 101.
  Result<std::vector<uint32_t>> UidSearch(const std::string& criteria);

  // UID FETCH <uid_set> (UID FLAGS INTERNALDATE RFC822.SIZE [MODSEQ]) [(CHANGEDSINCE n)], ascending by
  // UID, only UIDs inside the set ("*" as in UidSearch). changed_since is
  // used only when CONDSTORE is enabled; otherwise every message's flags come
  // back (a superset). REQUIRES: a folder selected; uid_set a valid sequence
  // set ("1:*", "3,5:9").
  Result<std::vector<MessageFlags>> FetchFlags(const std::string& uid_set, uint64_t changed_since = 0);

  // Fetches whole messages (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[];
  // \Seen is not set) and calls sink once per message, ascending by UID.
  // First asks for the sizes (UID FETCH (UID RFC822.SIZE)), then fetches in
  // chunks of at most fetch_chunk_messages / fetch_chunk_bytes. UIDs that do
  // not exist (any more) are skipped silently. A message larger than
  // max_literal is skipped; after the others, kFailedPrecondition names it.
  // If sink returns an error, no further message is passed (the current
  // chunk's answer is read to its end) and that error is returned. A
  // connection lost mid-message gives kUnavailable; the message being read
  // is never passed to the sink. REQUIRES: a folder selected.
  Status FetchMessages(const std::vector<uint32_t>& uids,
                       const std::function<Status(FetchedMessage&&)>& sink);

  // UID STORE +FLAGS.SILENT (\Deleted) then UID EXPUNGE of exactly these
  // UIDs. kFailedPrecondition without UIDPLUS ("refusing to delete, because
  // a plain EXPUNGE could remove other messages marked \Deleted") or when the
  // folder is read-only (use Select, not Examine). UIDs that no longer
  // exist are fine. REQUIRES: a folder selected read-write.
  Status DeleteMessages(const std::vector<uint32_t>& uids);

  // CREATE; OK when the folder already exists ([ALREADYEXISTS]).
  Status CreateFolder(const std::string& folder);

  // APPEND <folder> [(flags)] [internal date] {n} with `bytes` (LF → CRLF
  // on the wire; a literal, non-synchronizing with LITERAL+). `flags` as in
  // MessageFlags (\Recent is dropped; a flag with a space, parenthesis,
  // quote, "{", "%", "*" or a control character is kInvalidArgument).
  // kNotFound when the folder does not exist ([TRYCREATE]).
  struct AppendResult {
    // From APPENDUID; 0 when the server sent none, or did not announce
    // UIDPLUS (an APPENDUID from a server that does not claim UIDPLUS is not
    // relied on).
    uint32_t uidvalidity = 0, uid = 0;
  };
  Result<AppendResult> Append(const std::string& folder, std::string_view bytes, const std::string& flags,
                              std::optional<int64_t> internal_date);

  // LOGOUT and close. An error if the server does not answer OK; the
  // connection is closed either way.
  Status Logout();

  class Impl;

 private:
  explicit ImapClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Helpers, exposed for tests and for the sync engine.

// "1:3,5,7:9" for {1,2,3,5,7,8,9}; input in any order, duplicates and 0s
// ignored.
std::string UidSetString(std::vector<uint32_t> uids);
// "17-Jul-1996 02:44:25 -0700" → Unix time; nullopt when unreadable.
std::optional<int64_t> ParseInternalDate(std::string_view text);
// Unix time → "17-Jul-1996 09:44:25 +0000".
std::string FormatInternalDate(int64_t unix_time);

}  // namespace mailkeep::imap
