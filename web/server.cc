#include "web/server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <map>
#include <thread>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponseImpl.h>
#include <Poco/Net/HTTPServerSession.h>
#include <Poco/Net/IPAddress.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/TCPServer.h>
#include <Poco/Net/TCPServerConnection.h>
#include <Poco/Net/TCPServerConnectionFactory.h>
#include <Poco/ThreadPool.h>

#include "config/config.h"
#include "index/feeder.h"
#include "store/util/terminal.h"
#include "web/routing.h"

namespace mailkeep::web {
namespace {

using Clock = std::chrono::steady_clock;
namespace net = Poco::Net;

// The index of an archive that never held a message (none was ever made):
// nothing matches.
class EmptyIndex : public index::IndexReader {
 public:
  Result<index::SearchResult> Search(const std::string&, const index::SearchOptions&) override { return {}; }
  Result<index::FacetResult> Facets(const std::string&, const index::FacetOptions&) override { return {}; }
  Result<int64_t> DocumentCount() override { return 0; }
};

}  // namespace

// ---------------------------------------------------------------------------
// Sessions.

SessionOpener ReadOnlySessions(std::string dir, ArchiveOptions options) {
  return [dir = std::move(dir), options = std::move(options)]() -> Result<OwnedSession> {
    OwnedSession s;
    MK_ASSIGN_OR_RETURN(s.archive, Archive::Open(dir, OpenMode::kReadOnly, options));
    auto reader = index::IndexReader::Open(index::IndexDir(*s.archive));
    if (reader) {
      s.index = std::move(*reader);
      return s;
    }
    MK_ASSIGN_OR_RETURN(auto ids, s.archive->AllIds());
    if (!ids.empty()) return std::unexpected(reader.error());
    s.index = std::make_unique<EmptyIndex>();
    return s;
  };
}

Result<std::unique_ptr<SessionPool>> SessionPool::Open(size_t size, const SessionOpener& opener,
                                                       std::optional<OwnedSession> first) {
  std::unique_ptr<SessionPool> pool(new SessionPool());
  for (size_t i = 0; i < std::max<size_t>(size, 1); ++i) {
    OwnedSession owned;
    if (i == 0 && first) {
      owned = std::move(*first);
    } else {
      MK_ASSIGN_OR_RETURN(owned, opener());
    }
    Archive& archive = *owned.archive;
    index::IndexReader& reader = *owned.index;
    auto slot = std::make_unique<Slot>(Slot{std::move(owned), {archive, reader}});
    pool->slots_.push_back(std::move(slot));
    pool->free_.push_back(i);
  }
  return pool;
}

SessionPool::Lease::~Lease() {
  if (pool_ != nullptr) pool_->Release(slot_);
}

ArchiveSession& SessionPool::Lease::session() { return pool_->slots_[slot_]->session; }

void SessionPool::Release(size_t slot) {
  std::lock_guard lock(mu_);
  if (waiters_.empty()) {
    free_.push_back(slot);
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->slot = slot;
  next->handed.notify_one();  // under the lock: `next` lives until its Acquire sees the slot
}

std::optional<SessionPool::Lease> SessionPool::Acquire(Clock::time_point deadline, size_t max_waiting) {
  std::unique_lock lock(mu_);
  if (!free_.empty()) {  // only when nobody waits: Release hands slots to waiters first
    const size_t slot = free_.back();
    free_.pop_back();
    return Lease(this, slot);
  }
  if (waiters_.size() >= max_waiting) return std::nullopt;
  Waiter me;
  waiters_.push_back(&me);
  if (!me.handed.wait_until(lock, deadline, [&] { return me.slot.has_value(); })) {
    waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &me));
    return std::nullopt;
  }
  return Lease(this, *me.slot);
}

size_t SessionPool::waiting() {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

// ---------------------------------------------------------------------------
// Deadlines: a watchdog thread shuts down the socket of a connection whose
// deadline passed, so that a blocked read or write returns.

class Deadlines {
 public:
  Deadlines() : thread_([this] { Run(); }) {}
  ~Deadlines() {
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void Set(int fd, Clock::time_point deadline) {
    std::lock_guard lock(mu_);
    fds_[fd] = stopping_ ? Clock::now() : deadline;
  }
  void Remove(int fd) {
    std::lock_guard lock(mu_);
    fds_.erase(fd);
  }
  // Every connection, now and later, ends at once.
  void ExpireAll() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      for (auto& [fd, deadline] : fds_) deadline = Clock::now();
    }
    cv_.notify_all();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (!quit_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));
      const auto now = Clock::now();
      // Registered fds are open: a connection removes its own before closing.
      for (auto& [fd, deadline] : fds_) {
        if (deadline <= now) ::shutdown(fd, SHUT_RDWR);
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Clock::time_point> fds_;
  bool quit_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// ---------------------------------------------------------------------------
// The server.

struct Server::Impl {
  ServerOptions options;
  std::vector<Route> routes;
  std::unique_ptr<SessionPool> pool;
  std::unique_ptr<ClientLimiter> limiter;
  config::ListenAddress address;
  bool tls = false;
  uint16_t port = 0;
  Deadlines deadlines;
  std::unique_ptr<Poco::ThreadPool> threads;
  std::unique_ptr<net::TCPServer> tcp;
  net::HTTPServerParams::Ptr params;
  std::atomic<bool> stopping{false};
  std::mutex log_mu;
  ConnectionCounter connections;  // by ClientKey, and "loopback" for the unlimited loopback clients

  bool Limited(const std::string& address) const {
    net::IPAddress ip;
    return options.limits.limit_loopback || !net::IPAddress::tryParse(address, ip) || !ip.isLoopback();
  }
  // Counts the new connection `fd` of `address`; false when the client
  // holds per_client.max_concurrent already, or loopback
  // loopback_connections (an idle connection holds a thread until its
  // deadline).
  bool OpenConnection(int fd, const std::string& address);

  Response Serve(Request& request, Clock::time_point deadline);
  // Sends the body r.next_piece makes to `out`, each piece made with an
  // archive session borrowed for it alone (so a slow reader holds a
  // session only while one message is read, and one piece in memory);
  // whether all of it was sent. A piece that cannot be made is logged.
  bool StreamBody(const Request& request, const Response& r, std::ostream& out, Clock::time_point deadline);
  Response Dispatch(Request& request, Clock::time_point deadline);
  void Log(const Request& request, std::string_view raw_path, const Response& response, Clock::time_point start);
  // Logs (always) that a streamed body was cut after `sent` bytes, and why; false.
  bool LogCut(const Request& request, uint64_t sent, const std::string& why);
};

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool HasHeader(const Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (Lower(k) == name) return true;
  }
  return false;
}

// The headers every response carries unless its handler chose its own.
void AddSecurityHeaders(Response& r) {
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (!HasHeader(r, "x-frame-options")) r.headers.emplace_back("X-Frame-Options", "DENY");
  if (!HasHeader(r, "content-security-policy")) {
    r.headers.emplace_back("Content-Security-Policy",
                           "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
  }
  if (!HasHeader(r, "cache-control")) r.headers.emplace_back("Cache-Control", "no-store");
}

// A header a handler set that cannot be sent as it is (CR, LF or NUL in it).
bool UnsafeHeader(const Response& r) {
  auto bad = [](const std::string& s) { return s.find_first_of(std::string("\r\n\0", 3)) != std::string::npos; };
  if (bad(r.content_type)) return true;
  for (const auto& [k, v] : r.headers) {
    if (k.empty() || bad(k) || bad(v)) return true;
  }
  return false;
}

// Writes `r` (its body unless the request was HEAD: Poco sends only the
// header then); the stream for a body made by r.next_piece, which has no
// length: chunked for HTTP/1.1, else up to the end of the connection.
std::ostream& Write(net::HTTPServerResponseImpl& out, const Response& r, bool keep_alive) {
  out.setStatusAndReason(static_cast<net::HTTPResponse::HTTPStatus>(r.status));
  out.setContentType(r.content_type);
  if (!r.next_piece) {
    out.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
  } else if (out.getVersion() == net::HTTPMessage::HTTP_1_1) {
    out.setChunkedTransferEncoding(true);
  } else {
    keep_alive = false;
  }
  out.setKeepAlive(keep_alive);
  for (const auto& [k, v] : r.headers) out.add(k, v);
  std::ostream& os = out.send();
  os.write(r.body.data(), static_cast<std::streamsize>(r.body.size()));
  os.flush();
  return os;
}

// The Server-Timing value of a handled request: how long it waited for an
// archive session and how long its handler ran, in milliseconds, so that a
// load test tells the server's time from its own (and from the network).
std::string ServerTiming(Clock::duration wait, Clock::duration handler) {
  auto ms = [](Clock::duration d) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", std::chrono::duration<double, std::milli>(d).count());
    return std::string(text);
  };
  return "wait;dur=" + ms(wait) + ", app;dur=" + ms(handler);
}

// What Poco's request reader refused (its messages, Poco 1.11): a request
// line whose URI it could not read within its 16 KiB ("HTTP request URI
// invalid or too long": 414), header fields past its bounds (8 KiB a value,
// 100 fields: 431), anything else 400.
int StatusForBadRequest(const Poco::Exception& e) {
  const std::string what = e.message();
  if (what.find("URI") != std::string::npos) return 414;
  if (what.find("Field") != std::string::npos || what.find("header field") != std::string::npos) return 431;
  return 400;
}

}  // namespace

Response Server::Impl::Dispatch(Request& request, Clock::time_point deadline) {
  if (options.authenticator) {
    AuthResult auth = options.authenticator->Authenticate(request);
    if (auth.throttled()) {
      Response r = ErrorResponse(429, request.path, "too many failed logins; try again later");
      r.headers.emplace_back("Retry-After", std::to_string(auth.retry_after_seconds));
      return r;
    }
    if (!auth.allowed()) {
      Response r = ErrorResponse(401, request.path, "authentication required");
      r.headers.emplace_back("WWW-Authenticate", std::move(auth.challenge));
      return r;
    }
    request.user = std::move(auth.user);
  }
  const web::Route* route = FindRoute(routes, request);
  if (route == nullptr) return ErrorResponse(404, request.path, "not found: " + request.path);
  const auto asked = Clock::now();
  auto lease = pool->Acquire(deadline, options.limits.max_waiting);
  if (!lease) {
    Response r = ErrorResponse(503, request.path, "the server is busy; try again");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  const auto got = Clock::now();
  try {
    Response r = route->handler(request, lease->session());
    if (UnsafeHeader(r)) return ErrorResponse(500, request.path, "the handler made an invalid header");
    r.headers.emplace_back("Server-Timing", ServerTiming(got - asked, Clock::now() - got));
    return r;
  } catch (const std::exception& e) {
    return ErrorResponse(500, request.path, std::string("internal error: ") + e.what());
  }
}

bool Server::Impl::OpenConnection(int fd, const std::string& address) {
  if (!Limited(address)) return connections.Open(fd, "loopback", options.limits.loopback_connections);
  return connections.Open(fd, ClientKey(address), options.limits.per_client.max_concurrent);
}

Response Server::Impl::Serve(Request& request, Clock::time_point deadline) {
  if (!Limited(request.client)) return Dispatch(request, deadline);
  auto verdict = limiter->Admit(request.client, Clock::now());
  if (!verdict.admitted) {
    Response r = ErrorResponse(429, request.path, "too many requests from " + request.client + "; slow down");
    r.headers.emplace_back("Retry-After", std::to_string(verdict.retry_after_seconds));
    return r;
  }
  Response r = Dispatch(request, deadline);
  limiter->Release(request.client);
  return r;
}

bool Server::Impl::StreamBody(const Request& request, const Response& r, std::ostream& out,
                              Clock::time_point deadline) {
  std::string piece;
  uint64_t sent = 0;
  for (bool more = true; more;) {
    auto lease = pool->Acquire(deadline, options.limits.max_waiting);
    if (!lease) return LogCut(request, sent, "no archive session in time");
    piece.clear();
    auto made = r.next_piece(lease->session(), piece);
    lease.reset();
    if (!made) return LogCut(request, sent, made.error().message());
    more = *made;
    // A chunk per piece at least: what was made is sent before the next one is asked for.
    if (!out.write(piece.data(), static_cast<std::streamsize>(piece.size())).flush()) return false;  // the client went away
    sent += piece.size();
  }
  return true;
}

bool Server::Impl::LogCut(const Request& request, uint64_t sent, const std::string& why) {
  const std::string line = "mailkeep: " + request.method + " " + request.path + " for " + request.client +
                           ": cut after " + std::to_string(sent) + " bytes: " + why;
  std::lock_guard lock(log_mu);
  std::cerr << TerminalText(line) << "\n";
  return false;
}

void Server::Impl::Log(const Request& request, std::string_view raw_path, const Response& response,
                       Clock::time_point start) {
  if (!options.log_requests) return;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::string line = "mailkeep: " + request.client + " " + request.method + " " + std::string(raw_path) + " " +
                     std::to_string(response.status) + " " +
                     (response.next_piece ? std::string("streamed ") : std::to_string(response.body.size()) + " bytes ") +
                     std::to_string(ms) + " ms";
  std::lock_guard lock(log_mu);
  std::cerr << TerminalText(line) << "\n";
}

namespace {

// One connection: reads requests with Poco's HTTP session until the client
// is done, the connection idles past its deadline, or the server stops.
class Connection : public net::TCPServerConnection {
 public:
  Connection(const net::StreamSocket& socket, Server::Impl& server)
      : net::TCPServerConnection(socket), server_(server) {}

  void run() override {
    const int fd = socket().impl()->sockfd();
    const auto& limits = server_.options.limits;
    struct Unregister {
      Server::Impl& server;
      int fd;
      ~Unregister() {
        server.deadlines.Remove(fd);
        server.connections.Close(fd);  // counted by QueueFilter
      }
    } unregister{server_, fd};
    try {
      net::HTTPServerSession session(socket(), server_.params);
      const auto connected = Clock::now();
      server_.deadlines.Set(fd, connected + limits.header_timeout);
      for (bool first = true; !server_.stopping; first = false) {
        if (!first) server_.deadlines.Set(fd, Clock::now() + limits.keep_alive_timeout + limits.header_timeout);
        if (!session.hasMoreRequests()) break;
        const auto start = Clock::now();
        // The head within header_timeout (of the connection's start for the
        // first one, else of its first byte) and within request_timeout.
        server_.deadlines.Set(fd, std::min(first ? connected + limits.header_timeout : start + limits.header_timeout,
                                           start + limits.request_timeout));
        if (!ServeOne(session, start)) break;
      }
    } catch (const std::exception&) {
      // The client went away, timed out or was shut down: nothing to answer.
    }
  }

 private:
  // Reads one request and answers it; whether the connection goes on.
  bool ServeOne(net::HTTPServerSession& session, Clock::time_point start) {
    std::optional<net::HTTPServerResponseImpl> response(std::in_place, session);
    std::optional<net::HTTPServerRequestImpl> request;
    try {
      request.emplace(*response, session, server_.params.get());
    } catch (const net::NoMessageException&) {
      return false;
    } catch (const net::MessageException& e) {
      return RefuseUnread(session, response, e);
    } catch (const Poco::SyntaxException& e) {  // a Content-Length that is no number
      return RefuseUnread(session, response, e);
    }
    server_.deadlines.Set(socket().impl()->sockfd(), start + server_.options.limits.request_timeout);
    Request req;
    std::string_view raw_path;
    const std::string target = request->getURI();
    Response r = Check(*request, req, target, &raw_path);
    // A connection is kept open only while no other waits for a thread:
    // busy keep-alive clients would otherwise hold every thread.
    bool keep = r.status == 200 && request->getKeepAlive() && session.canKeepAlive() &&
                server_.tcp->queuedConnections() == 0;
    if (r.status == 200) {
      r = server_.Serve(req, start + server_.options.limits.request_timeout);
      keep = keep && r.status < 500;
    }
    r = Finish(std::move(r));
    server_.Log(req, raw_path, r, start);
    response->setDate(Poco::Timestamp());
    response->setVersion(request->getVersion() == net::HTTPMessage::HTTP_1_0 ? net::HTTPMessage::HTTP_1_0
                                                                              : net::HTTPMessage::HTTP_1_1);
    std::ostream& body = Write(*response, r, keep);
    if (r.next_piece && req.method != "HEAD" &&
        !server_.StreamBody(req, r, body, start + server_.options.limits.request_timeout)) {
      ::shutdown(socket().impl()->sockfd(), SHUT_RDWR);  // the body stays unfinished: the client sees it cut
      return false;
    }
    return response->getKeepAlive();
  }

  // Answers a request Poco could not read, and ends the connection.
  static bool RefuseUnread(net::HTTPServerSession& session, std::optional<net::HTTPServerResponseImpl>& response,
                           const Poco::Exception& e) {
    response.reset();
    net::HTTPServerResponseImpl error(session);
    Write(error, Finish(ErrorResponse(StatusForBadRequest(e), "/", "bad request: " + e.message())), false);
    return false;
  }

  // Builds `req` from Poco's request; a response with a status other than
  // 200 when the request is refused before routing.
  Response Check(net::HTTPServerRequestImpl& in, Request& req, const std::string& target,
                 std::string_view* raw_path) {
    const auto& limits = server_.options.limits;
    req.method = in.getMethod();
    req.client = in.clientAddress().host().toString();
    *raw_path = std::string_view(target).substr(0, std::min(target.find('?'), size_t{512}));
    size_t header_bytes = 0;
    for (const auto& [name, value] : in) {
      header_bytes += name.size() + value.size() + 4;
      req.headers.emplace_back(Lower(name), value);
    }
    if (target.size() > limits.max_target_bytes) return ErrorResponse(414, *raw_path, "request target too long");
    if (header_bytes > limits.max_header_bytes) {
      return ErrorResponse(431, *raw_path, "request header fields too large");
    }
    if (auto st = ParseTarget(target, req); !st) return ErrorResponse(400, *raw_path, st.error().message());
    if (req.method != "GET" && req.method != "HEAD") {
      Response r = ErrorResponse(405, req.path, "method " + req.method + " not allowed: the server is read-only");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    if (auto refused = RefuseRequestHead(req, in.getVersion(), server_.options.authenticator != nullptr)) {
      return *refused;
    }
    return Response{};
  }

  static Response Finish(Response r) {
    AddSecurityHeaders(r);
    return r;
  }

  Server::Impl& server_;
};

class ConnectionFactory : public net::TCPServerConnectionFactory {
 public:
  explicit ConnectionFactory(Server::Impl& server) : server_(server) {}
  net::TCPServerConnection* createConnection(const net::StreamSocket& socket) override {
    return new Connection(socket, server_);
  }

 private:
  Server::Impl& server_;
};

// Past `queued` waiting connections, or past per_client.max_concurrent
// open ones of a limited client, a new one is answered 503 and closed
// (plain HTTP; a TLS connection is closed: answering would need a handshake
// on the accepting thread).
class QueueFilter : public net::TCPServerConnectionFilter {
  // The client address of a connection ("" when it is gone already).
  static std::string PeerOf(const net::StreamSocket& socket) {
    try {
      return socket.peerAddress().host().toString();
    } catch (const Poco::Exception&) {
      return {};
    }
  }

 public:
  QueueFilter(Server::Impl& server) : server_(server) {}
  bool accept(const net::StreamSocket& socket) override {
    const bool room = server_.tcp == nullptr || server_.tcp->queuedConnections() < server_.options.limits.queued;
    if (room && server_.OpenConnection(socket.impl()->sockfd(), PeerOf(socket))) return true;
    if (!server_.tls) {
      static const std::string kBusy =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
          "Content-Length: 17\r\nConnection: close\r\n\r\nserver too busy\r\n";
      ::send(socket.impl()->sockfd(), kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::shutdown(socket.impl()->sockfd(), SHUT_WR);
    }
    return false;
  }

 private:
  Server::Impl& server_;
};

Result<net::ServerSocket> Bind(const ServerOptions& options, const config::ListenAddress& address) {
  const net::SocketAddress where(address.host, address.port);
  try {
    if (options.tls_certificate.empty()) return net::ServerSocket(where, 64);
    net::Context::Params params;
    params.privateKeyFile = options.tls_key;
    params.certificateFile = options.tls_certificate;
    params.verificationMode = net::Context::VERIFY_NONE;
    params.loadDefaultCAs = false;
    params.cipherList = "HIGH:!aNULL:!MD5:!RC4";
    net::Context::Ptr context;
    try {
      context = new net::Context(net::Context::TLS_SERVER_USE, params);
      context->disableProtocols(net::Context::PROTO_SSLV2 | net::Context::PROTO_SSLV3 | net::Context::PROTO_TLSV1 |
                                net::Context::PROTO_TLSV1_1);
    } catch (const Poco::Exception& e) {
      return MakeError(ErrorCode::kFailedPrecondition, "cannot use the TLS certificate " + options.tls_certificate +
                                                           " and key " + options.tls_key + ": " + e.displayText());
    }
    return net::SecureServerSocket(where, 64, context);
  } catch (const Poco::Exception& e) {
    return MakeError(ErrorCode::kUnavailable,
                     "cannot listen on " + config::FormatListenAddress(address) + ": " + e.displayText());
  }
}

}  // namespace

Status CheckOptions(const ServerOptions& options) {
  if (options.tls_certificate.empty() != options.tls_key.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "TLS needs both a certificate and a key (tls_certificate, tls_key)");
  }
  return config::CheckServeSecurity(options.listen, !options.tls_certificate.empty(), options.authenticator != nullptr);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(ServerOptions options, std::vector<web::Route> routes,
                                              std::unique_ptr<SessionPool> pool) {
  MK_RETURN_IF_ERROR(CheckOptions(options));
  const config::ListenAddress address = options.listen;
  MK_ASSIGN_OR_RETURN(net::ServerSocket socket, Bind(options, address));
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->routes = std::move(routes);
  impl->pool = std::move(pool);
  impl->limiter = std::make_unique<ClientLimiter>(impl->options.limits.per_client);
  impl->address = address;
  impl->tls = !impl->options.tls_certificate.empty();
  impl->port = socket.address().port();
  const auto& limits = impl->options.limits;
  impl->params = new net::HTTPServerParams();
  impl->params->setMaxThreads(limits.threads);
  impl->params->setMaxQueued(limits.queued + 1);  // QueueFilter refuses first, with a 503
  impl->params->setTimeout(Poco::Timespan(limits.request_timeout.count(), 0));
  impl->params->setKeepAlive(true);
  impl->params->setKeepAliveTimeout(Poco::Timespan(limits.keep_alive_timeout.count(), 0));
  impl->params->setMaxKeepAliveRequests(limits.max_keep_alive_requests);
  impl->threads = std::make_unique<Poco::ThreadPool>(2, limits.threads + 1);
  Impl& self = *impl;
  impl->tcp = std::make_unique<net::TCPServer>(new ConnectionFactory(self), *impl->threads, socket, impl->params);
  impl->tcp->setConnectionFilter(new QueueFilter(self));
  impl->tcp->start();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }

std::string Server::url() const {
  return std::string(impl_->tls ? "https" : "http") + "://" +
         config::FormatListenAddress({impl_->address.host, impl_->port}) + "/";
}

void Server::Stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  impl_->tcp->stop();
  impl_->deadlines.ExpireAll();
  impl_->threads->joinAll();
}

// ---------------------------------------------------------------------------

StopSignals::StopSignals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int StopSignals::Wait() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace mailkeep::web
