// Connection: one TCP connection to a mail server, optionally TLS (implicit,
// or upgraded in place after STARTTLS/STLS), optionally compressed (raw
// deflate after IMAP COMPRESS, RFC 4978), with buffered line and byte
// reads, buffered writes, and a timeout on every connect, read and write.
// A protocol client marks the start of each command's reply with
// BeginCommand(): that reply then has a byte budget and an overall deadline,
// so a server that talks forever, or drips a byte just inside each read
// timeout, cannot hold the session (or memory) longer than the client allows.
//
// Certificate policy (the same for implicit TLS and StartTls()):
//   - the chain must verify against the system store plus `ca_file`;
//   - the certificate must match the host name as given (DNS or IP SAN),
//     also for loopback names and addresses (Poco skips that check for
//     them; this class does it itself);
//   - TLS 1.2 or newer; SNI carries the host name.
// `verify_certificate = false` turns off both checks (the caller warns).
//
// Errors (never an exception; Poco's are caught here):
//   kUnavailable         network trouble: refused, unreachable, unknown host,
//                        timeouts, a reply past its deadline, connection
//                        closed or reset. Retry later.
//   kFailedPrecondition  TLS policy: untrusted or mismatching certificate,
//                        handshake refused (protocol version, not TLS at all),
//                        unreadable ca_file, a line longer than allowed,
//                        a reply over its byte budget, corrupt compressed
//                        data.
//   kInvalidArgument     empty host.
// Messages are one line and name "host:port"; they never contain data sent.
//
// Process state: the first Open() calls Poco::Net::initializeSSL() once and,
// if SIGPIPE is at its default action, ignores it (OpenSSL writes without
// MSG_NOSIGNAL; a peer that hangs up must be an error, not a dead process).
//
// Thread-safety: a Connection is used by one thread at a time; different
// Connections may be used from different threads. (Its watchdog thread
// only ever shuts the socket down, under a lock shared with Close().)
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "store/util/status.h"
#include "sync/net/rate_limit.h"
#include "sync/net/throttle.h"

namespace mailkeep::net {

enum class TlsMode { kImplicit, kStartTls, kNone };
enum class Service { kPop3, kImap, kSmtpSubmission, kSmtpRelay };

// Standard port: POP3 995 implicit / 110; IMAP 993 / 143; SMTP submission
// 465 implicit / 587; SMTP relay (MX) 25 whatever the TLS mode.
uint16_t DefaultPort(Service service, TlsMode tls);

// "implicit", "starttls", "none".
const char* TlsModeName(TlsMode tls);

struct ConnectOptions {
  std::string host;                    // DNS name or IP literal; REQUIRED
  uint16_t port = 0;                   // 0 → DefaultPort(service, tls)
  Service service = Service::kPop3;
  TlsMode tls = TlsMode::kImplicit;
  std::string ca_file;                 // extra trusted CA(s), PEM; system store is always loaded too
  bool verify_certificate = true;      // false: accept any cert (caller warns)
  std::chrono::milliseconds connect_timeout{30000};
  std::chrono::milliseconds read_timeout{120000};   // also used for writes and the TLS handshake
  // The longest one command's reply may take as a whole, from
  // BeginCommand() on, however steadily bytes come; 0 = no deadline.
  std::chrono::milliseconds command_deadline{1800000};  // 30 min
  // Shared by the sessions of one account's run (nullptr = none): every
  // receive is paid for at the account's `bandwidth`; the protocol
  // clients wait out throttling replies with `throttle` (throttle.h).
  std::shared_ptr<RateLimit> download_rate;
  std::shared_ptr<Throttle> throttle;
};

class Connection {
 public:
  // TCP connect with timeout (each address of the host in turn, IPv4 first);
  // TLS handshake now when tls = kImplicit. Errors are one line, e.g.
  //   "connect to mail.example.com:995: connection refused"
  //   "TLS certificate of mail.example.com is not trusted (certificate verify failed); set ca_file = ... or fix the server"
  //   "TLS: certificate does not match host name other.test"
  static Result<std::unique_ptr<Connection>> Open(const ConnectOptions& options);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Upgrades the plain connection to TLS, after the protocol accepted
  // STLS/STARTTLS. REQUIRES: !secure() and nothing unread buffered (a server
  // that sent data after its STARTTLS reply is refused: kFailedPrecondition).
  Status StartTls();
  bool secure() const;                 // TLS active

  // Compresses the rest of the connection, both ways, after the protocol
  // accepted it (IMAP "COMPRESS DEFLATE" answered OK; RFC 4978): raw
  // deflate (RFC 1951, no zlib header, 32 KiB window), over TLS or plain
  // TCP. What was written before is flushed uncompressed first. Bytes
  // already received after the protocol's OK are taken as the start of the
  // compressed stream. Each Flush() ends with a deflate sync flush, so the
  // server can act on a command at once. StartTls() is refused afterwards.
  // Memory: about 400 KiB more (zlib state and two 64 KiB buffers); a read
  // inflates at most 64 KiB at a time, so the line limits still bound the
  // read buffer however well the data compresses.
  // Errors now: kFailedPrecondition if already on; kInternal if zlib cannot
  // start. Later reads: corrupt compressed data is kFailedPrecondition
  // ("corrupt compressed data from host:port (zlib: invalid block type)")
  // and drops the connection; a compressed stream the server ended
  // (possible at LOGOUT) reads as a closed connection (kUnavailable) once
  // its last bytes are consumed.
  Status StartCompression();
  bool compressing() const;            // StartCompression() succeeded
  const std::string& peer() const;     // "host:port" for messages
  const std::string& host() const;

  // Starts the budget of one command's reply: until the next BeginCommand(),
  // reads fail once more than `max_bytes` bytes have arrived (counted after
  // inflating; kFailedPrecondition, "reply from host:port is over N bytes")
  // or once options.command_deadline has passed (kUnavailable, "no complete
  // reply from host:port within N s (command_deadline)"); either error drops
  // the connection. Bytes read ahead before the call (at most one 64 KiB
  // read) count for the earlier command. Before the first call, reads have
  // neither budget nor deadline (only read_timeout per read).
  // The deadline holds inside a TLS record too (OpenSSL reads one record
  // with as many reads as it takes): once a deadline is set, a watchdog
  // thread of this Connection shuts the socket down when it passes. The
  // implicit-TLS handshake in Open() has the same deadline.
  void BeginCommand(uint64_t max_bytes);

  // One line without its CRLF (or bare LF). A line longer than `max_len`
  // bytes (without the line end) is an error (kFailedPrecondition) and the
  // connection must then be dropped; EOF before a line end is kUnavailable.
  Result<std::string> ReadLine(size_t max_len);
  // The same, as a view into the read buffer: valid until the next call on
  // this Connection. Avoids a copy per line for message bodies.
  Result<std::string_view> ReadLineView(size_t max_len);
  // Appends exactly n bytes to *out (for IMAP literals).
  Status ReadExact(size_t n, std::string* out);

  // Buffered: data goes out at Flush() (or when the buffer passes 64 KiB;
  // compressed, it is then handed to deflate, which may keep some back
  // until the next Flush()).
  Status Write(std::string_view data);
  Status Flush();

  // Closes the socket (no TLS close_notify wait); later calls fail with
  // kUnavailable. Idempotent; the destructor calls it.
  void Close();
  bool closed() const;
  // The connection was dropped because the server stopped answering (a
  // read timeout or the command deadline), not ended by the server: a
  // reconnect would most likely wait as long again.
  bool timed_out() const;

  class Impl;

 private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mailkeep::net
