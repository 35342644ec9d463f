#include "tests/servers/fake_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <zlib.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

namespace mailkeep::testing {

namespace {
constexpr int kWaitMs = 10000;

bool WaitReadable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

bool SendRaw(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Raw deflate both ways, after a step with start_deflate.
struct Deflate {
  z_stream in{}, out{};
  Deflate() {
    inflateInit2(&in, -15);
    deflateInit2(&out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  }
  ~Deflate() {
    inflateEnd(&in);
    deflateEnd(&out);
  }
  // Appends the inflated form of `data` to *plain; false on corrupt data.
  bool Inflate(const char* data, size_t size, std::string* plain) {
    in.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data));
    in.avail_in = static_cast<uInt>(size);
    char buf[16384];
    do {
      in.next_out = reinterpret_cast<Bytef*>(buf);
      in.avail_out = sizeof buf;
      int rc = inflate(&in, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_BUF_ERROR && rc != Z_STREAM_END) return false;
      plain->append(buf, sizeof buf - in.avail_out);
      if (rc == Z_STREAM_END) return true;
    } while (in.avail_out == 0 || in.avail_in > 0);
    return true;
  }
  std::string Compress(const std::string& data) {
    std::string wire;
    out.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    out.avail_in = static_cast<uInt>(data.size());
    char buf[16384];
    do {
      out.next_out = reinterpret_cast<Bytef*>(buf);
      out.avail_out = sizeof buf;
      deflate(&out, Z_SYNC_FLUSH);
      wire.append(buf, sizeof buf - out.avail_out);
    } while (out.avail_out == 0);
    return wire;
  }
};

// One accepted connection: line reads and writes, compressed once asked.
struct Peer {
  int fd;
  std::string buffer;                 // received (inflated) bytes not yet read as lines
  std::unique_ptr<Deflate> z;

  bool Send(const std::string& data) { return SendRaw(fd, z ? z->Compress(data) : data); }

  // A step's reply: repeated, dripped, as the step says. False once the
  // client is gone.
  bool SendReply(const FakeStep& step) {
    for (int i = 0; step.repeat == 0 || i < step.repeat; ++i) {
      if (step.drip_ms <= 0) {
        if (!Send(step.reply)) return false;
        continue;
      }
      for (char c : step.reply) {
        if (!Send(std::string(1, c))) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(step.drip_ms));
      }
    }
    return true;
  }

  void StartDeflate() {
    z = std::make_unique<Deflate>();
    std::string raw;
    raw.swap(buffer);  // anything already received is compressed
    z->Inflate(raw.data(), raw.size(), &buffer);
  }

  // Reads one line (CRLF or LF stripped). False on EOF/timeout/corrupt data.
  bool ReadLine(std::string* line) {
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
      if (!z) {
        buffer.append(chunk, static_cast<size_t>(n));
      } else if (!z->Inflate(chunk, static_cast<size_t>(n), &buffer)) {
        return false;
      }
    }
  }
};
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

void FakeServer::Serve(std::vector<FakeStep> script) { ServeSessions({std::move(script)}); }

void FakeServer::ServeSessions(std::vector<std::vector<FakeStep>> sessions) {
  thread_ = std::thread([this, all = std::move(sessions)] {
    for (const auto& script : all) {
      if (!Run(script)) return;
    }
  });
}

std::string FakeServer::Finish() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

// Plays `script` on the next connection; false when none came.
bool FakeServer::Run(const std::vector<FakeStep>& script) {
  if (!WaitReadable(listen_fd_, kWaitMs)) {
    if (error_.empty()) error_ = "fake server: no connection " + std::to_string(sessions_ + 1);
    return false;
  }
  int fd = ::accept(listen_fd_, nullptr, nullptr);
  if (fd < 0) {
    if (error_.empty()) error_ = "fake server: accept failed";
    return false;
  }
  ++sessions_;
  // An endless reply to a client that stops reading ends within the bound too.
  timeval send_timeout{kWaitMs / 1000, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
  Peer peer{fd, {}, nullptr};
  bool open = true;
  for (const FakeStep& step : script) {
    if (!step.expect.empty()) {
      std::string line;
      if (!peer.ReadLine(&line)) {
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
    if (!step.reply.empty() && !peer.SendReply(step)) {
      open = false;
      break;
    }
    if (step.start_deflate) peer.StartDeflate();
    if (step.close) {
      open = false;
      break;
    }
  }
  // Record whatever else the client says until it hangs up.
  std::string line;
  while (open && peer.ReadLine(&line)) received_.push_back(line);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  return true;
}

}  // namespace mailkeep::testing
