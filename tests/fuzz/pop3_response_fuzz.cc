// libFuzzer target for the POP3 client's response reader (sync/pop3),
// through its public API only: the input (after its first byte) is
// everything a server on 127.0.0.1 sends, all at once, before it hangs up
// its side; the client logs in, lists, retrieves, reads a TOP, deletes and
// quits as a sync would. The first byte picks the login method, the limits
// and the pipelining window. Besides "no crash, no hang, no out-of-bounds
// read, no UB, no huge allocation", it checks what pop3_client.h promises:
//   - every error is one non-empty line without control characters, and
//     never contains the password;
//   - a session that logged in names its method (never kAuto);
//   - List() is in message-number order, numbers >= 1, no number twice;
//   - Retrieve() hands messages to the sink in the order asked, each at most
//     max_message_size bytes; Top() is bounded the same way.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sync/pop3/pop3_client.h"

namespace {

using mailkeep::Error;
using mailkeep::Status;
using mailkeep::pop3::AuthMethod;
using mailkeep::pop3::Pop3Client;
using mailkeep::pop3::Pop3Options;

constexpr std::string_view kPassword = "pw-K7q9Zx";

// A listening socket on 127.0.0.1, opened once for the whole run.
int Listener(uint16_t* port) {
  static uint16_t bound = 0;
  static const int fd = [] {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (s < 0 || ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(s, 4) != 0 ||
        ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();
    }
    bound = ntohs(a.sin_port);
    return s;
  }();
  *port = bound;
  return fd;
}

// One connection: sends `script`, closes the sending side, then reads what
// the client sends until it hangs up. Every wait is bounded (2 s).
void Serve(int listener, std::string_view script) {
  pollfd p{listener, POLLIN, 0};
  if (::poll(&p, 1, 2000) != 1) return;
  const int c = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c < 0) return;
  while (!script.empty()) {
    const ssize_t n = ::send(c, script.data(), script.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    script.remove_prefix(static_cast<size_t>(n));
  }
  ::shutdown(c, SHUT_WR);
  char buf[4096];
  for (pollfd q{c, POLLIN, 0}; ::poll(&q, 1, 2000) == 1 && ::recv(c, buf, sizeof buf, 0) > 0;) {
  }
  ::close(c);
}

void Check(const Error& e) {
  const std::string& m = e.message();
  if (m.empty() || m.find(kPassword) != std::string::npos) std::abort();
  for (char c : m) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) std::abort();
  }
}

template <typename T>
bool Ok(const T& result) {
  if (!result) Check(result.error());
  return result.has_value();
}

Pop3Options Options(uint8_t config, uint16_t port) {
  Pop3Options o;
  o.connect.host = "127.0.0.1";
  o.connect.port = port;
  o.connect.tls = mailkeep::net::TlsMode::kNone;
  o.connect.connect_timeout = std::chrono::milliseconds(2000);
  o.connect.read_timeout = std::chrono::milliseconds(2000);
  o.user = "fuzzuser";
  o.password = std::string(kPassword);
  o.allow_plaintext = true;
  static constexpr AuthMethod kMethods[] = {AuthMethod::kAuto,    AuthMethod::kPlain, AuthMethod::kLogin,
                                            AuthMethod::kXoauth2, AuthMethod::kApop,  AuthMethod::kUserPass};
  o.auth = kMethods[(config & 7) % 6];
  if (config & 8) {
    o.max_reply_line = 64;
    o.max_message_line = 64;
    o.max_message_size = 256;
  } else {
    o.max_message_size = 1 << 20;
  }
  o.pipeline_window = (config & 16) ? 1 : 4;
  return o;
}

void Session(const Pop3Options& options) {
  auto client = Pop3Client::Connect(options);
  if (!Ok(client)) return;
  Pop3Client& c = **client;
  if (c.auth_method() == AuthMethod::kAuto) std::abort();
  auto list = c.List();
  std::vector<int> numbers;
  if (Ok(list)) {
    int last = 0;
    for (const auto& e : *list) {
      if (e.number <= last) std::abort();
      last = e.number;
      if (numbers.size() < 8) numbers.push_back(e.number);
    }
  }
  if (numbers.empty()) numbers = {1, 2};
  size_t next = 0;
  Ok(c.Retrieve(numbers, [&](int number, std::string&& message) -> Status {
    if (next >= numbers.size() || numbers[next++] != number || message.size() > options.max_message_size) {
      std::abort();
    }
    return mailkeep::OkStatus();
  }));
  auto top = c.Top(numbers.front(), 2);
  if (Ok(top) && top->size() > options.max_message_size) std::abort();
  Ok(c.Delete(numbers));
  Ok(c.Quit());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint16_t port = 0;
  const int listener = Listener(&port);
  const std::string_view script(reinterpret_cast<const char*>(data + 1), size - 1);
  std::thread server(Serve, listener, script);
  Session(Options(data[0], port));
  server.join();
  return 0;
}
