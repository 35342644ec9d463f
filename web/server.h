// `mailkeep serve`: the HTTP server. Poco's HTTP server classes read each
// request and write each response; everything between is ours: the checks
// (method, sizes, per-client limits, authentication), the route (web/http.h)
// and the handler, which runs with an ArchiveSession borrowed from a pool.
//
// Transport rules, for every request:
//   - GET and HEAD only (405 otherwise); no request body (413);
//   - request target at most max_target_bytes (414), header fields at most
//     max_header_bytes in all (431); bad percent-encoding 400;
//   - deadlines on a request's head (header_timeout: a client that
//     connects and sends nothing, or its head slowly, holds a thread only
//     that long), on reading, handling and writing each request, and on an
//     idle keep-alive connection: past one the connection is shut down;
//   - at most `threads` connections served at once, `queued` more waiting
//     (past that a connection is answered 503 and closed); handlers wait at
//     most until the request's deadline for a session (else 503);
//   - per client address: ClientLimits (429 with Retry-After), and at
//     most per_client.max_concurrent open connections (503); loopback
//     clients all together at most loopback_connections;
//   - security headers on every response (nosniff, no-referrer, framing,
//     a default Content-Security-Policy, no caching);
//   - errors as one line: {"error": "..."} under /api/, else a small page.
// A log line per request on stderr only when asked (the path, never the
// query string — it holds search words — nor any header).
//
// Archive access: an Archive handle and an IndexReader belong to one thread
// at a time (SQLite connections are opened without a mutex); several
// read-only handles on one archive coexist in a process: readers take no
// lock, each has its own SQLite connection (WAL) and pack descriptors, and
// an encrypted archive's keys are unlocked once and shared by all handles.
// So the server keeps a pool of sessions, each an Archive plus an
// IndexReader, lent to one handler at a time: `sessions` of them (by default
// the hardware threads, at least 2), fewer than the HTTP threads, because a
// session is held only while a handler runs (not while a slow client sends
// or reads) and each keeps its own caches (dictionaries, index blocks).
//
// Thread-safety: Server is used from one thread (Start, port, Stop); it
// runs its own threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "index/index.h"
#include "store/archive.h"
#include "store/util/status.h"
#include "web/client_limits.h"
#include "web/http.h"

namespace mailkeep::web {

// What one session owns; ArchiveSession refers into it.
struct OwnedSession {
  std::unique_ptr<Archive> archive;
  std::unique_ptr<index::IndexReader> index;
};
using SessionOpener = std::function<Result<OwnedSession>()>;

// Opens a session on the archive in `dir`, read-only, with `options` (the
// keys of an encrypted archive, unlocked once by the caller). An archive
// that holds no message yet and so has no index gets an empty one.
SessionOpener ReadOnlySessions(std::string dir, ArchiveOptions options);

class SessionPool {
 public:
  // Opens `size` (>= 1) sessions now: the first error of `opener`.
  // `first`, when given, is the first session.
  static Result<std::unique_ptr<SessionPool>> Open(size_t size, const SessionOpener& opener,
                                                   std::optional<OwnedSession> first = std::nullopt);

  // A borrowed session, given back when the lease ends.
  class Lease {
   public:
    Lease(SessionPool* pool, size_t slot) : pool_(pool), slot_(slot) {}
    Lease(Lease&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)), slot_(other.slot_) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    ArchiveSession& session();

   private:
    SessionPool* pool_;
    size_t slot_;
  };
  // A free session, waiting for one until `deadline`; nullopt at the
  // deadline, or at once when `max_waiting` callers wait already. Waiters
  // are served first come, first served: a session given back goes to the
  // longest waiting caller, never to one that arrives meanwhile (so under
  // load no request waits much longer than the others).
  std::optional<Lease> Acquire(std::chrono::steady_clock::time_point deadline, size_t max_waiting);
  size_t size() const { return slots_.size(); }
  size_t waiting();  // callers waiting in Acquire now

 private:
  struct Slot {
    OwnedSession owned;
    ArchiveSession session;
  };
  // A caller waiting in Acquire; Release hands it a slot.
  struct Waiter {
    std::optional<size_t> slot;
    std::condition_variable handed;
  };
  SessionPool() = default;
  void Release(size_t slot);
  std::mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<size_t> free_;
  std::deque<Waiter*> waiters_;  // oldest first
};

struct ServerLimits {
  int threads = 64;                  // connections served at once (a keep-alive one is closed while others wait)
  int queued = 64;                   // accepted connections waiting for a thread; past it 503
  size_t sessions = 0;               // archive sessions; 0 = hardware threads, at least 2
  size_t max_waiting = 256;          // requests waiting for a session; past it 503
  size_t max_target_bytes = 8192;    // request target (path and query); longer: 414
  size_t max_header_bytes = 16384;   // all header names and values together; more: 431
  // A request's head (request line and header fields) must arrive within
  // this: the first one counted from when its connection gets a thread, a
  // later one from its first byte. Past it the connection is closed, so an
  // idle or slow client holds a thread this long at most.
  std::chrono::seconds header_timeout{5};
  std::chrono::seconds request_timeout{30};    // read, handle and write one request (from its first byte)
  std::chrono::seconds keep_alive_timeout{5};  // an idle connection waits this long for its next request
  int max_keep_alive_requests = 1000;          // requests per connection
  ClientLimits per_client;
  // Whether per_client applies to loopback addresses too. Off by default:
  // on loopback every client (local users, a local proxy) is one address,
  // so a per-address limit would be one limit for all of them.
  bool limit_loopback = false;
  // Otherwise all loopback clients together hold at most this many
  // connections (past it 503), so that they cannot take every thread and
  // queue place from the others either.
  size_t loopback_connections = 96;
};

struct ServerOptions {
  config::ListenAddress listen{"127.0.0.1", 8025};  // port 0 = any free one
  std::string tls_certificate, tls_key;   // PEM files; both or neither
  // Asked for every request when set; required (with TLS) to listen beyond loopback.
  std::shared_ptr<Authenticator> authenticator;
  ServerLimits limits;
  bool log_requests = false;              // a line per request on stderr
};

// The checks Server::Start makes before binding: both TLS files or
// neither, and beyond loopback TLS and an authenticator
// (config::CheckServeSecurity; kInvalidArgument, one line).
Status CheckOptions(const ServerOptions& options);

class Server {
 public:
  // Checks `options` (listening beyond loopback needs TLS and an
  // authenticator: kInvalidArgument, one line), binds and starts serving
  // `routes`. Errors: kInvalidArgument for options, kUnavailable when the
  // address cannot be bound, kFailedPrecondition for unusable TLS files.
  static Result<std::unique_ptr<Server>> Start(ServerOptions options, std::vector<Route> routes,
                                               std::unique_ptr<SessionPool> pool);
  ~Server();  // Stop()
  // The port listened on (the one picked when options asked for 0).
  uint16_t port() const;
  // "http://HOST:PORT/" (https with TLS).
  std::string url() const;
  // Stops accepting, shuts every open connection down (a handler running
  // finishes first) and waits for the threads. Idempotent.
  void Stop();

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// SIGINT and SIGTERM, blocked in the constructing thread and in the threads
// it starts afterwards (so construct it before Server::Start), delivered to
// Wait(). SIGPIPE is ignored (a client that went away is an error on write).
class StopSignals {
 public:
  StopSignals();
  // Blocks until SIGINT or SIGTERM; returns the signal number.
  int Wait();
};

}  // namespace mailkeep::web
