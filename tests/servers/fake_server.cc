#include "tests/servers/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace mailkeep::testing {

namespace {
constexpr int kWaitMs = 10000;

bool WaitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

bool SendAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one line (CRLF or LF stripped). False on EOF/timeout.
bool ReadLine(int fd, std::string& buffer, std::string* line) {
  for (;;) {
    size_t nl = buffer.find('\n');
    if (nl != std::string::npos) {
      *line = buffer.substr(0, nl);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      buffer.erase(0, nl + 1);
      return true;
    }
    if (!WaitReadable(fd, kWaitMs)) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}
}  // namespace

FakeServer::FakeServer() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 4) != 0) {
    error_ = std::string("fake server: bind/listen: ") + std::strerror(errno);
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}

FakeServer::~FakeServer() {
  Finish();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void FakeServer::Serve(std::vector<FakeStep> script) {
  thread_ = std::thread([this, s = std::move(script)]() mutable { Run(std::move(s)); });
}

std::string FakeServer::Finish() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

void FakeServer::Run(std::vector<FakeStep> script) {
  if (!WaitReadable(listen_fd_, kWaitMs)) {
    error_ = "fake server: no connection";
    return;
  }
  int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) {
    error_ = "fake server: accept failed";
    return;
  }
  std::string buffer;
  bool open = true;
  for (const FakeStep& step : script) {
    if (!step.expect.empty()) {
      std::string line;
      if (!ReadLine(fd, buffer, &line)) {
        if (error_.empty()) error_ = "expected \"" + step.expect + "\", got end of connection";
        open = false;
        break;
      }
      received_.push_back(line);
      bool prefix = step.expect.back() == '*';
      std::string want = prefix ? step.expect.substr(0, step.expect.size() - 1) : step.expect;
      bool match = prefix ? line.rfind(want, 0) == 0 : line == want;
      if (!match && error_.empty()) error_ = "expected \"" + step.expect + "\", got \"" + line + "\"";
    }
    if (step.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step.delay_ms));
    if (!step.reply.empty() && !SendAll(fd, step.reply)) {
      open = false;
      break;
    }
    if (step.close) {
      open = false;
      break;
    }
  }
  // Record whatever else the client says until it hangs up.
  std::string line;
  while (open && ReadLine(fd, buffer, &line)) received_.push_back(line);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace mailkeep::testing
