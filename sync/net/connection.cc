#include "sync/net/connection.h"

#include <openssl/x509v3.h>

#include <Poco/Exception.h>
#include <Poco/Net/AcceptCertificateHandler.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/DNS.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/InvalidCertificateHandler.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SSLException.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/VerificationErrorArgs.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/Timespan.h>

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <thread>
#include <vector>

namespace mailkeep::net {

namespace {

constexpr size_t kChunk = 64 * 1024;
constexpr size_t kWriteFlushAt = 64 * 1024;

void InitSslOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      Poco::Net::initializeSSL();
    } catch (...) {
      // Context creation reports any real problem later.
    }
  });
}

// OpenSSL writes to the socket without MSG_NOSIGNAL: a peer that hangs up
// would kill the process with SIGPIPE instead of giving an error.
void IgnoreSigpipeOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction old {};
    if (::sigaction(SIGPIPE, nullptr, &old) == 0 && old.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

std::string Seconds(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return std::to_string(ms.count() / 1000) + " s";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", static_cast<double>(ms.count()) / 1000.0);
  return buf;
}

Poco::Timespan ToTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(ms.count()) * 1000);
}

// "SSL Exception: error:0A000086:SSL routines::certificate verify failed"
// → "certificate verify failed". Keeps the text when it has another shape.
std::string CleanSslText(const Poco::Exception& e) {
  std::string text = e.message().empty() ? e.displayText() : e.message();
  if (text.rfind("error:", 0) == 0) {
    size_t pos = text.rfind("::");
    if (pos != std::string::npos && pos + 2 < text.size()) text = text.substr(pos + 2);
  }
  // One line.
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  return text;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Records the chain-verification error OpenSSL reported and rejects the
// certificate (the per-Context handler is consulted before any global one).
class RecordingRejectHandler : public Poco::Net::InvalidCertificateHandler {
 public:
  explicit RecordingRejectHandler(std::shared_ptr<std::string> last_error)
      : Poco::Net::InvalidCertificateHandler(false), last_error_(std::move(last_error)) {}
  void onInvalidCertificate(const void*, Poco::Net::VerificationErrorArgs& args) override {
    if (last_error_->empty()) *last_error_ = args.errorMessage();
    args.setIgnoreError(false);
  }

 private:
  std::shared_ptr<std::string> last_error_;
};

bool IsIpLiteral(const std::string& host) {
  Poco::Net::IPAddress ip;
  return Poco::Net::IPAddress::tryParse(host, ip);
}

}  // namespace

uint16_t DefaultPort(Service service, TlsMode tls) {
  bool implicit = tls == TlsMode::kImplicit;
  switch (service) {
    case Service::kPop3: return implicit ? 995 : 110;
    case Service::kImap: return implicit ? 993 : 143;
    case Service::kSmtpSubmission: return implicit ? 465 : 587;
    case Service::kSmtpRelay: return 25;
  }
  return 0;
}

const char* TlsModeName(TlsMode tls) {
  switch (tls) {
    case TlsMode::kImplicit: return "implicit";
    case TlsMode::kStartTls: return "starttls";
    case TlsMode::kNone: return "none";
  }
  return "?";
}

// COMPRESS=DEFLATE (RFC 4978): one raw-deflate stream each way for the
// rest of the connection.
struct DeflateState {
  z_stream in{};                       // inflate: server → us
  z_stream out{};                      // deflate: us → server
  bool in_ready = false, out_ready = false;
  bool in_ended = false;               // the server finished its stream
  std::string in_error;                // zlib's complaint, reported at the next read
  bool out_unflushed = false;          // deflate holds input since the last sync flush
  std::vector<char> in_buf;            // compressed bytes received; in.next_in points into it
  std::unique_ptr<char[]> out_buf{new char[kChunk]};

  ~DeflateState() {
    if (in_ready) inflateEnd(&in);
    if (out_ready) deflateEnd(&out);
  }
};

// The backstop of the command deadline. Between reads the deadline is
// checked and shortens the read timeout; but OpenSSL reads one TLS record
// with as many recv() calls as it takes, each inside the read timeout, so a
// record dripped a byte at a time would outlast it. A thread (started at the
// first Arm(), joined by the destructor) marks the deadline expired when it
// passes and, if a read is under way, shuts the socket down so that the
// read fails. A connection idle between commands is left alone.
class Watchdog {
 public:
  explicit Watchdog(int fd) : fd_(fd) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }
  // A new deadline (nullopt: none); clears "expired".
  void Arm(std::optional<std::chrono::steady_clock::time_point> deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      deadline_ = deadline;
      expired_ = false;
      if (deadline && !thread_.joinable()) thread_ = std::thread([this] { Run(); });
    }
    cv_.notify_all();
  }
  // Around each blocking read; false (and no read) once the deadline expired.
  bool BeginRead() {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = !expired_;
    return reading_;
  }
  void EndRead() {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
  }
  // The socket is about to be closed: never touch its descriptor again.
  void Forget() {
    std::lock_guard<std::mutex> lock(mu_);
    fd_ = -1;
  }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!deadline_) {
        cv_.wait(lock);
      } else if (std::chrono::steady_clock::now() >= *deadline_) {
        deadline_.reset();
        expired_ = true;
        if (reading_ && fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
      } else {
        cv_.wait_until(lock, *deadline_);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int fd_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  bool expired_ = false, reading_ = false, stop_ = false;
  std::thread thread_;
};

// Marks a blocking read (or handshake) for the watchdog, if there is one.
// ok() is false when the deadline already expired: do not read.
class ReadGuard {
 public:
  explicit ReadGuard(Watchdog* w) : w_(w), ok_(!w || w->BeginRead()) {}
  ~ReadGuard() {
    if (w_ && ok_) w_->EndRead();
  }
  ReadGuard(const ReadGuard&) = delete;
  ReadGuard& operator=(const ReadGuard&) = delete;
  bool ok() const { return ok_; }

 private:
  Watchdog* w_;
  bool ok_;
};

class Connection::Impl {
 public:
  ~Impl() { watchdog.reset(); }  // its thread is joined before the socket goes
  ConnectOptions options;
  std::string host;
  std::string peer;
  Poco::Net::StreamSocket socket;  // a SecureStreamSocket's impl once TLS is on
  bool secure = false;
  bool closed = false;
  bool timed_out = false;  // dropped after a read timeout or the command deadline
  std::string rbuf;
  size_t rpos = 0;
  size_t scan = 0;  // rbuf[rpos, scan) holds no '\n'
  std::string wbuf;
  std::unique_ptr<DeflateState> z;  // set while compressing
  char chunk[kChunk];
  // The current command's budget (BeginCommand).
  uint64_t budget = UINT64_MAX;      // bytes its reply may bring
  uint64_t received = 0;             // bytes it brought so far
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::chrono::milliseconds receive_timeout{0};  // as set on the socket
  int fd = -1;                       // the TCP socket, also under TLS
  std::unique_ptr<Watchdog> watchdog;  // once a deadline was set

  void StartDeadline() {
    deadline.reset();
    if (options.command_deadline.count() > 0) {
      deadline = std::chrono::steady_clock::now() + options.command_deadline;
      if (!watchdog && !closed) watchdog = std::make_unique<Watchdog>(fd);
    }
    if (watchdog) watchdog->Arm(deadline);
  }

  void StopDeadline() {
    deadline.reset();
    if (watchdog) watchdog->Arm(std::nullopt);
  }

  Error DeadlinePassed() {
    timed_out = true;
    CloseQuietly();
    return Error(ErrorCode::kUnavailable, "no complete reply from " + peer + " within " +
                                              Seconds(options.command_deadline) + " (command_deadline)");
  }

  // Shortens the socket's read timeout to what is left of the deadline
  // (and restores it afterwards). An error when nothing is left.
  Status ClampReceiveTimeout() {
    std::chrono::milliseconds want = options.read_timeout;
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::unexpected(DeadlinePassed());
      want = std::min(want, left);
    }
    if (want == receive_timeout) return OkStatus();
    try {
      socket.setReceiveTimeout(ToTimespan(want));
    } catch (...) {
      return std::unexpected(IoError("read from", std::current_exception()));
    }
    receive_timeout = want;
    return OkStatus();
  }

  bool PastDeadline() const { return deadline && std::chrono::steady_clock::now() >= *deadline; }

  Error Closed() const {
    return Error(ErrorCode::kUnavailable, "connection to " + peer + " is closed");
  }

  // Maps an exception thrown by a read or write on the socket.
  Error IoError(const char* what, std::exception_ptr ep) {
    std::string msg;
    try {
      std::rethrow_exception(ep);
    } catch (const Poco::TimeoutException&) {
      timed_out = true;
      msg = std::string(what) + " " + peer + " timed out after " + Seconds(options.read_timeout);
    } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException&) {
      msg = "connection to " + peer + " closed by the server";
    } catch (const Poco::Net::ConnectionResetException&) {
      msg = "connection to " + peer + " reset by the server";
    } catch (const Poco::Exception& e) {
      msg = std::string(what) + " " + peer + ": " + CleanSslText(e);
    } catch (const std::exception& e) {
      msg = std::string(what) + " " + peer + ": " + e.what();
    } catch (...) {
      msg = std::string(what) + " " + peer + ": unknown error";
    }
    CloseQuietly();
    return Error(ErrorCode::kUnavailable, msg);
  }

  void CloseQuietly() {
    if (closed) return;
    closed = true;
    if (watchdog) watchdog->Forget();
    rbuf.clear();
    rpos = scan = 0;
    wbuf.clear();
    try {
      // For TLS this sends close_notify once (bounded by the send timeout).
      socket.close();
    } catch (...) {
    }
  }

  Error ClosedByServer() {
    CloseQuietly();
    return Error(ErrorCode::kUnavailable, "connection to " + peer + " closed by the server");
  }

  // One receive of at most `cap` bytes into `dst`; > 0 bytes or an error
  // (kUnavailable on EOF).
  Result<size_t> Receive(char* dst, size_t cap) {
    if (closed) return std::unexpected(Closed());
    MK_RETURN_IF_ERROR(ClampReceiveTimeout());
    ReadGuard guard(watchdog.get());
    if (!guard.ok()) return std::unexpected(DeadlinePassed());
    int n = 0;
    try {
      n = socket.receiveBytes(dst, static_cast<int>(std::min<size_t>(cap, 1 << 30)));
    } catch (...) {
      if (PastDeadline()) return std::unexpected(DeadlinePassed());
      return std::unexpected(IoError("read from", std::current_exception()));
    }
    if (n <= 0) return std::unexpected(PastDeadline() ? DeadlinePassed() : ClosedByServer());
    if (options.download_rate) options.download_rate->Took(static_cast<size_t>(n));
    return static_cast<size_t>(n);
  }

  // Compressed: inflates 1..cap bytes into `dst`, receiving as needed. At
  // most `cap` bytes come out, whatever the ratio.
  Result<size_t> Inflate(char* dst, size_t cap) {
    if (closed) return std::unexpected(Closed());
    if (z->in_ended) return std::unexpected(ClosedByServer());
    if (!z->in_error.empty()) {
      CloseQuietly();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "corrupt compressed data from " + peer + " (zlib: " + z->in_error + ")");
    }
    z_stream& in = z->in;
    for (;;) {
      if (in.avail_in == 0) {
        MK_ASSIGN_OR_RETURN(size_t n, Receive(z->in_buf.data(), z->in_buf.size()));
        in.next_in = reinterpret_cast<Bytef*>(z->in_buf.data());
        in.avail_in = static_cast<uInt>(n);
      }
      in.next_out = reinterpret_cast<Bytef*>(dst);
      in.avail_out = static_cast<uInt>(std::min<size_t>(cap, 1 << 30));
      const uInt before = in.avail_out;
      int rc = inflate(&in, Z_NO_FLUSH);
      size_t got = before - in.avail_out;
      if (rc == Z_STREAM_END) {
        // RFC 4978 streams do not end; Dovecot ends its own at LOGOUT.
        // What came before the end is good data; after it, EOF.
        z->in_ended = true;
        if (got > 0) return got;
        return std::unexpected(ClosedByServer());
      }
      if (rc == Z_OK || rc == Z_BUF_ERROR) {
        if (got > 0) return got;
        if (in.avail_in == 0) continue;  // e.g. an empty sync-flush block: read on
      }
      // An error, or no progress with input left: the data cannot be
      // inflated. What came out before the bad spot is still delivered.
      z->in_error = in.msg != nullptr ? in.msg : (rc == Z_OK ? "no progress" : zError(rc));
      if (got > 0) return got;
      return Inflate(dst, cap);
    }
  }

  // 1..cap bytes of the reply (inflated when compressing), counted
  // against the command's budget.
  Result<size_t> ReadSome(char* dst, size_t cap) {
    MK_ASSIGN_OR_RETURN(size_t n, z ? Inflate(dst, cap) : Receive(dst, cap));
    received += n;
    if (received > budget) {
      CloseQuietly();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "reply from " + peer + " is over " + std::to_string(budget) + " bytes");
    }
    return n;
  }

  // Appends what one receive returns (compressed: up to kChunk inflated
  // bytes). kUnavailable on EOF or error.
  Status Fill() {
    MK_ASSIGN_OR_RETURN(size_t n, ReadSome(chunk, kChunk));
    rbuf.append(chunk, n);
    return OkStatus();
  }

  void Compact() {
    if (rpos == 0) return;
    rbuf.erase(0, rpos);
    scan -= rpos;
    rpos = 0;
  }

  Status SendAll(const char* data, size_t size) {
    if (closed) return std::unexpected(Closed());
    try {
      while (size > 0) {
        int chunk_size = static_cast<int>(std::min<size_t>(size, 1 << 20));
        int n = socket.sendBytes(data, chunk_size);
        if (n <= 0) {
          CloseQuietly();
          return MakeError(ErrorCode::kUnavailable, "write to " + peer + ": connection closed");
        }
        data += n;
        size -= static_cast<size_t>(n);
      }
    } catch (...) {
      return std::unexpected(IoError("write to", std::current_exception()));
    }
    return OkStatus();
  }

  // Compressed: deflates `data` and sends what deflate gives out; with
  // `sync`, ends with a sync flush so that everything so far goes out.
  Status DeflateAndSend(std::string_view data, bool sync) {
    if (closed) return std::unexpected(Closed());
    z_stream& out = z->out;
    const int flush = sync ? Z_SYNC_FLUSH : Z_NO_FLUSH;
    do {
      size_t piece = std::min<size_t>(data.size(), 1 << 30);
      out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
      out.avail_in = static_cast<uInt>(piece);
      data.remove_prefix(piece);
      const int f = data.empty() ? flush : Z_NO_FLUSH;
      do {
        out.next_out = reinterpret_cast<Bytef*>(z->out_buf.get());
        out.avail_out = static_cast<uInt>(kChunk);
        int rc = deflate(&out, f);
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
          CloseQuietly();
          return MakeError(ErrorCode::kInternal, "compressing data for " + peer + " failed (zlib: " +
                                                     std::string(out.msg != nullptr ? out.msg : zError(rc)) + ")");
        }
        size_t have = kChunk - out.avail_out;
        if (have > 0) MK_RETURN_IF_ERROR(SendAll(z->out_buf.get(), have));
      } while (out.avail_out == 0);
    } while (!data.empty());
    z->out_unflushed = !sync;
    return OkStatus();
  }

  // Sends the write buffer; compressed, `sync` also flushes deflate.
  Status Drain(bool sync) {
    const bool pending = !wbuf.empty() || (z && sync && z->out_unflushed);
    if (!pending) return closed ? Status(std::unexpected(Closed())) : OkStatus();
    Status s = z ? DeflateAndSend(wbuf, sync) : SendAll(wbuf.data(), wbuf.size());
    wbuf.clear();
    return s;
  }

  // Builds the per-connection TLS context. `last_error` receives OpenSSL's
  // chain verification error, if any.
  Result<Poco::Net::Context::Ptr> MakeContext(const std::shared_ptr<std::string>& last_error) {
    if (!options.ca_file.empty()) {
      struct stat st;
      if (::stat(options.ca_file.c_str(), &st) != 0) {
        return MakeError(ErrorCode::kFailedPrecondition,
                         "TLS: ca_file " + options.ca_file + ": " + std::strerror(errno));
      }
    }
    try {
      Poco::Net::Context::Params params;
      params.caLocation = options.ca_file;
      params.loadDefaultCAs = true;
      params.verificationMode = options.verify_certificate ? Poco::Net::Context::VERIFY_RELAXED
                                                           : Poco::Net::Context::VERIFY_NONE;
      params.verificationDepth = 9;
      params.cipherList = "DEFAULT";
      Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
      ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
      if (options.verify_certificate) {
        ctx->setInvalidCertificateHandler(new RecordingRejectHandler(last_error));
      } else {
        ctx->setInvalidCertificateHandler(new Poco::Net::AcceptCertificateHandler(false));
        ctx->enableExtendedCertificateVerification(false);
      }
      return ctx;
    } catch (const Poco::Exception& e) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "TLS: cannot set up certificates" +
                           (options.ca_file.empty() ? std::string() : " from ca_file " + options.ca_file) +
                           ": " + CleanSslText(e));
    }
  }

  // Our own host name check: Poco skips it for names that resolve to a
  // loopback address unless VERIFY_STRICT.
  Status CheckHostName(const Poco::Net::SecureStreamSocket& tls) {
    if (!options.verify_certificate) return OkStatus();
    try {
      Poco::Net::X509Certificate cert = tls.peerCertificate();
      X509* x509 = const_cast<X509*>(cert.certificate());
      int ok = IsIpLiteral(host) ? X509_check_ip_asc(x509, host.c_str(), 0)
                                 : X509_check_host(x509, host.data(), host.size(), 0, nullptr);
      if (ok == 1) return OkStatus();
    } catch (const Poco::Exception& e) {
      CloseQuietly();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "TLS: no certificate from " + peer + ": " + CleanSslText(e));
    }
    CloseQuietly();
    return MakeError(ErrorCode::kFailedPrecondition,
                     "TLS: certificate does not match host name " + host);
  }

  Status Handshake() {
    auto last_error = std::make_shared<std::string>();
    MK_ASSIGN_OR_RETURN(Poco::Net::Context::Ptr ctx, MakeContext(last_error));
    std::string msg;
    ErrorCode code = ErrorCode::kFailedPrecondition;
    ReadGuard guard(watchdog.get());
    if (!guard.ok()) return std::unexpected(DeadlinePassed());
    try {
      Poco::Net::SecureStreamSocket tls = Poco::Net::SecureStreamSocket::attach(socket, host, ctx);
      socket = tls;
      secure = true;
      // On a blocking socket whose receive timeout expired, Poco's
      // connectSSL returns quietly with the handshake unfinished.
      int rc = tls.completeHandshake();
      if (rc != 1) throw Poco::TimeoutException();
      return CheckHostName(tls);
    } catch (const Poco::Net::CertificateValidationException&) {
      msg = "TLS: certificate does not match host name " + host;
    } catch (const Poco::TimeoutException&) {
      code = ErrorCode::kUnavailable;
      msg = "TLS handshake with " + peer + " timed out after " + Seconds(options.read_timeout);
    } catch (const Poco::Net::SSLConnectionUnexpectedlyClosedException&) {
      code = ErrorCode::kUnavailable;
      msg = "TLS handshake with " + peer + ": connection closed by the server";
    } catch (const Poco::Net::SSLException& e) {
      std::string text = CleanSslText(e);
      if (!last_error->empty() || Lower(text).find("certificate verify failed") != std::string::npos) {
        msg = "TLS certificate of " + host + " is not trusted (" +
              (last_error->empty() ? text : *last_error) +
              "); set ca_file = <PEM file of the CA that issued it> or fix the server";
      } else {
        msg = "TLS handshake with " + peer + " failed: " + text;
      }
    } catch (const Poco::Exception& e) {
      code = ErrorCode::kUnavailable;
      msg = "TLS handshake with " + peer + ": " + CleanSslText(e);
    } catch (const std::exception& e) {
      code = ErrorCode::kInternal;
      msg = "TLS handshake with " + peer + ": " + e.what();
    }
    if (PastDeadline()) return std::unexpected(DeadlinePassed());
    CloseQuietly();
    return MakeError(code, msg);
  }
};

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Connection::~Connection() { Close(); }

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options) {
  if (options.host.empty()) return MakeError(ErrorCode::kInvalidArgument, "no host name given");
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->host = options.host;
  uint16_t port = options.port != 0 ? options.port : DefaultPort(options.service, options.tls);
  impl->peer = (options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host) +
               ":" + std::to_string(port);
  const std::string& peer = impl->peer;
  IgnoreSigpipeOnce();
  if (options.tls != TlsMode::kNone) InitSslOnce();

  // Resolve: every address of the name, IPv4 first.
  std::vector<Poco::Net::IPAddress> addresses;
  try {
    Poco::Net::IPAddress literal;
    if (Poco::Net::IPAddress::tryParse(options.host, literal)) {
      addresses.push_back(literal);
    } else {
      Poco::Net::HostEntry entry = Poco::Net::DNS::hostByName(options.host);
      addresses = entry.addresses();
      std::stable_partition(addresses.begin(), addresses.end(), [](const Poco::Net::IPAddress& a) {
        return a.family() == Poco::Net::IPAddress::IPv4;
      });
    }
  } catch (const Poco::Exception& e) {
    return MakeError(ErrorCode::kUnavailable,
                     "connect to " + peer + ": cannot resolve host name (" + CleanSslText(e) + ")");
  }
  if (addresses.empty()) {
    return MakeError(ErrorCode::kUnavailable, "connect to " + peer + ": host name has no address");
  }

  std::string last;
  bool connected = false;
  for (const auto& address : addresses) {
    try {
      Poco::Net::StreamSocket socket;
      socket.connect(Poco::Net::SocketAddress(address, port), ToTimespan(options.connect_timeout));
      socket.setReceiveTimeout(ToTimespan(options.read_timeout));
      impl->receive_timeout = options.read_timeout;
      socket.setSendTimeout(ToTimespan(options.read_timeout));
      socket.setNoDelay(true);
      impl->socket = socket;
      impl->fd = socket.impl()->sockfd();
      connected = true;
      break;
    } catch (const Poco::Net::ConnectionRefusedException&) {
      last = "connection refused";
    } catch (const Poco::TimeoutException&) {
      last = "timed out after " + Seconds(options.connect_timeout);
    } catch (const Poco::Exception& e) {
      last = Lower(CleanSslText(e));
    } catch (const std::exception& e) {
      last = e.what();
    }
  }
  if (!connected) return MakeError(ErrorCode::kUnavailable, "connect to " + peer + ": " + last);

  if (options.tls == TlsMode::kImplicit) {
    impl->StartDeadline();  // the handshake is a command of its own
    MK_RETURN_IF_ERROR(impl->Handshake());
    impl->StopDeadline();
  }
  return std::unique_ptr<Connection>(new Connection(std::move(impl)));
}

Status Connection::StartTls() {
  Impl& d = *impl_;
  if (d.closed) return std::unexpected(d.Closed());
  if (d.secure) return MakeError(ErrorCode::kFailedPrecondition, "TLS is already active on " + d.peer);
  if (d.z) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "cannot start TLS on " + d.peer + ": compression is already active");
  }
  if (d.rpos < d.rbuf.size()) {
    d.CloseQuietly();
    return MakeError(ErrorCode::kFailedPrecondition,
                     "server " + d.peer + " sent data before the TLS handshake; refusing to go on");
  }
  MK_RETURN_IF_ERROR(Flush());
  d.rbuf.clear();
  d.rpos = d.scan = 0;
  InitSslOnce();
  return d.Handshake();
}

Status Connection::StartCompression() {
  Impl& d = *impl_;
  if (d.closed) return std::unexpected(d.Closed());
  if (d.z) return MakeError(ErrorCode::kFailedPrecondition, "compression is already active on " + d.peer);
  MK_RETURN_IF_ERROR(Flush());
  auto z = std::make_unique<DeflateState>();
  // windowBits -15: raw deflate with a 32 KiB window; memLevel 8 is zlib's
  // default (deflate state about 256 KiB).
  z->in_ready = inflateInit2(&z->in, -15) == Z_OK;
  z->out_ready = z->in_ready &&
                 deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  if (!z->out_ready) {
    return MakeError(ErrorCode::kInternal, "cannot start compression on " + d.peer + ": zlib failed to initialise");
  }
  // What the server sent after its OK is already compressed.
  const size_t left = d.rbuf.size() - d.rpos;
  z->in_buf.resize(std::max(kChunk, left));
  std::memcpy(z->in_buf.data(), d.rbuf.data() + d.rpos, left);
  z->in.next_in = reinterpret_cast<Bytef*>(z->in_buf.data());
  z->in.avail_in = static_cast<uInt>(left);
  d.rbuf.clear();
  d.rpos = d.scan = 0;
  d.z = std::move(z);
  return OkStatus();
}

bool Connection::compressing() const { return impl_->z != nullptr; }

bool Connection::secure() const { return impl_->secure; }
const std::string& Connection::peer() const { return impl_->peer; }
const std::string& Connection::host() const { return impl_->host; }
bool Connection::closed() const { return impl_->closed; }
bool Connection::timed_out() const { return impl_->timed_out; }

void Connection::BeginCommand(uint64_t max_bytes) {
  Impl& d = *impl_;
  d.budget = max_bytes;
  d.received = 0;
  d.StartDeadline();
}

Result<std::string_view> Connection::ReadLineView(size_t max_len) {
  Impl& d = *impl_;
  for (;;) {
    size_t nl = d.rbuf.find('\n', d.scan);
    if (nl != std::string::npos) {
      size_t start = d.rpos;
      size_t end = nl;
      if (end > start && d.rbuf[end - 1] == '\r') --end;
      d.rpos = d.scan = nl + 1;
      if (end - start > max_len) {
        d.CloseQuietly();
        return MakeError(ErrorCode::kFailedPrecondition,
                         "line from " + d.peer + " longer than " + std::to_string(max_len) + " bytes");
      }
      return std::string_view(d.rbuf).substr(start, end - start);
    }
    d.scan = d.rbuf.size();
    // Allow one more byte for a CR that precedes the LF still to come.
    if (d.rbuf.size() - d.rpos > max_len + 1) {
      d.CloseQuietly();
      return MakeError(ErrorCode::kFailedPrecondition,
                       "line from " + d.peer + " longer than " + std::to_string(max_len) + " bytes");
    }
    if (d.rpos == d.rbuf.size()) {
      d.rbuf.clear();
      d.rpos = d.scan = 0;
    } else if (d.rpos > kChunk) {
      d.Compact();
    }
    MK_RETURN_IF_ERROR(d.Fill());
  }
}

Result<std::string> Connection::ReadLine(size_t max_len) {
  MK_ASSIGN_OR_RETURN(std::string_view line, ReadLineView(max_len));
  return std::string(line);
}

Status Connection::ReadExact(size_t n, std::string* out) {
  Impl& d = *impl_;
  size_t have = std::min(n, d.rbuf.size() - d.rpos);
  out->append(d.rbuf, d.rpos, have);
  d.rpos += have;
  if (d.scan < d.rpos) d.scan = d.rpos;
  n -= have;
  if (d.rpos == d.rbuf.size()) {
    d.rbuf.clear();
    d.rpos = d.scan = 0;
  }
  while (n > 0) {
    const size_t want = std::min(n, kChunk);
    MK_ASSIGN_OR_RETURN(size_t got, d.ReadSome(d.chunk, want));
    out->append(d.chunk, got);
    n -= got;
  }
  return OkStatus();
}

Status Connection::Write(std::string_view data) {
  Impl& d = *impl_;
  if (d.closed) return std::unexpected(d.Closed());
  d.wbuf.append(data);
  if (d.wbuf.size() >= kWriteFlushAt) return d.Drain(/*sync=*/false);
  return OkStatus();
}

Status Connection::Flush() { return impl_->Drain(/*sync=*/true); }

void Connection::Close() {
  if (impl_) impl_->CloseQuietly();
}

}  // namespace mailkeep::net
