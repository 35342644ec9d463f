// A scripted line server on 127.0.0.1 for unit tests of protocol clients:
// it plays one connection from a list of steps (expect a line, send bytes,
// maybe wait or hang up), so tests can produce the failures a real server
// never does (garbage, a drop mid-message, over-long lines, odd -ERR texts,
// a reply that never ends, a reply that drips one byte at a time).
//
// Plain TCP only, optionally compressed after a step that says so (IMAP
// COMPRESS=DEFLATE, RFC 4978). Every socket wait is bounded (10 s), so a
// broken client makes a test fail instead of hanging; an endless or
// dripping reply stops when the client hangs up.
//
// Thread-safety: Serve() (or ServeSessions()) runs the script on a background thread; call
// Finish() (or let the destructor do it) before reading what was received.
#pragma once

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace mailkeep::testing {

struct FakeStep {
  // The line the client must send next (without CRLF). Empty: send `reply`
  // without reading. A trailing '*' makes it a prefix match.
  std::string expect;
  std::string reply;      // raw bytes to send (write the CRLFs)
  int delay_ms = 0;       // sleep before sending the reply
  bool close = false;     // hang up after the reply
  // After this step's reply (sent as is), both directions are raw deflate
  // (windowBits -15); every later reply is sent with a sync flush.
  bool start_deflate = false;
  // Sends `reply` this many times; 0 = again and again until the client
  // hangs up (a reply that never ends).
  int repeat = 1;
  // > 0: sends the reply one byte at a time, this many ms apart.
  int drip_ms = 0;
};

class FakeServer {
 public:
  FakeServer();  // listens on 127.0.0.1, a free port
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }

  // Accepts one connection and plays `script` on a background thread. After
  // the last step it reads (and records) what the client still sends until
  // the client hangs up.
  void Serve(std::vector<FakeStep> script);
  // The same for a client that connects again: accepts one connection per
  // script, in turn, each played (and read to its end) before the next is
  // accepted.
  void ServeSessions(std::vector<std::vector<FakeStep>> sessions);


  // Waits for the session to end. Returns the first deviation from the
  // script ("expected X, got Y"), or "" when the client did what was
  // expected.
  std::string Finish();
  // Every line the client sent, in order (valid after Finish()).
  const std::vector<std::string>& received() const { return received_; }
  // Connections accepted (valid after Finish()).
  int sessions() const { return sessions_; }

 private:
  bool Run(const std::vector<FakeStep>& script);
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::vector<std::string> received_;
  std::string error_;
  int sessions_ = 0;
};

}  // namespace mailkeep::testing
