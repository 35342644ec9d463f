#include "sync/oauth/https_post.h"

#include <charconv>

#include "store/util/ascii.h"
#include "sync/net/connection.h"

namespace mailkeep::oauth {
namespace {

constexpr size_t kMaxUrl = 2048;
constexpr size_t kMaxHeaderLine = 8192;
constexpr int kMaxHeaders = 100;
constexpr uint64_t kHeaderBudget = 256 * 1024;

bool IsUnreserved(char c) {
  return ascii::IsAlpha(c) || ascii::IsDigit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

Result<uint64_t> ParseNumber(std::string_view s, int base, const std::string& what) {
  uint64_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n, base);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return MakeError(ErrorCode::kFailedPrecondition, what);
  }
  return n;
}

class Exchange {
 public:
  Exchange(net::Connection& conn, const PostOptions& options) : conn_(conn), options_(options) {}

  Result<HttpReply> Read() {
    MK_ASSIGN_OR_RETURN(std::string status_line, conn_.ReadLine(kMaxHeaderLine));
    HttpReply reply;
    MK_ASSIGN_OR_RETURN(reply.status, ParseStatus(status_line));
    MK_RETURN_IF_ERROR(ReadHeaders());
    if (chunked_) {
      MK_RETURN_IF_ERROR(ReadChunked(reply.body));
    } else if (length_ >= 0) {
      if (static_cast<uint64_t>(length_) > options_.max_body) return TooLarge();
      MK_RETURN_IF_ERROR(conn_.ReadExact(static_cast<size_t>(length_), &reply.body));
    } else {
      return Bad("a reply without Content-Length or chunked coding");
    }
    return reply;
  }

 private:
  std::unexpected<Error> Bad(const std::string& what) const {
    return MakeError(ErrorCode::kFailedPrecondition, "HTTPS reply from " + conn_.peer() + ": " + what);
  }
  std::unexpected<Error> TooLarge() const {
    return Bad("body over " + std::to_string(options_.max_body) + " bytes");
  }

  Result<int> ParseStatus(std::string_view line) const {
    // HTTP/1.1 200 OK
    if (!ascii::StartsWithIgnoreCase(line, "HTTP/1.") || line.size() < 12 || line[8] != ' ') {
      return Bad("not an HTTP/1.x status line");
    }
    auto code = ParseNumber(line.substr(9, 3), 10, "");
    if (!code || *code < 100 || *code > 599) return Bad("a bad status code");
    return static_cast<int>(*code);
  }

  Status ReadHeaders() {
    for (int i = 0; i < kMaxHeaders; ++i) {
      MK_ASSIGN_OR_RETURN(std::string line, conn_.ReadLine(kMaxHeaderLine));
      if (line.empty()) return OkStatus();
      size_t colon = line.find(':');
      if (colon == std::string::npos) return Bad("a header line without ':'");
      std::string_view name = ascii::Trim(std::string_view(line).substr(0, colon));
      std::string_view value = ascii::Trim(std::string_view(line).substr(colon + 1));
      if (ascii::EqualsIgnoreCase(name, "Content-Length")) {
        auto n = ParseNumber(value, 10, "");
        if (!n) return Bad("a bad Content-Length");
        if (*n > options_.max_body) return TooLarge();
        length_ = static_cast<int64_t>(*n);
      } else if (ascii::EqualsIgnoreCase(name, "Transfer-Encoding")) {
        if (!ascii::EqualsIgnoreCase(value, "chunked")) return Bad("an unsupported Transfer-Encoding");
        chunked_ = true;
      }
    }
    return Bad("more than " + std::to_string(kMaxHeaders) + " header lines");
  }

  // RFC 9112 §7.1: size [;ext] CRLF data CRLF ... 0 CRLF [trailers] CRLF.
  Status ReadChunked(std::string& body) {
    while (true) {
      MK_ASSIGN_OR_RETURN(std::string line, conn_.ReadLine(kMaxHeaderLine));
      std::string_view size_text = ascii::Trim(std::string_view(line).substr(0, line.find(';')));
      if (size_text.size() > 8) return TooLarge();
      auto size = ParseNumber(size_text, 16, "");
      if (!size) return Bad("a bad chunk size");
      if (*size == 0) break;
      if (body.size() + *size > options_.max_body) return TooLarge();
      MK_RETURN_IF_ERROR(conn_.ReadExact(static_cast<size_t>(*size), &body));
      MK_ASSIGN_OR_RETURN(std::string end, conn_.ReadLine(0));
      if (!end.empty()) return Bad("a chunk longer than its size");
    }
    for (int i = 0; i < kMaxHeaders; ++i) {  // trailer fields, ignored
      MK_ASSIGN_OR_RETURN(std::string trailer, conn_.ReadLine(kMaxHeaderLine));
      if (trailer.empty()) return OkStatus();
    }
    return Bad("too many trailer lines");
  }

  net::Connection& conn_;
  const PostOptions& options_;
  bool chunked_ = false;
  int64_t length_ = -1;
};

}  // namespace

Result<HttpsUrl> ParseHttpsUrl(std::string_view url) {
  auto bad = [&](const std::string& why) {
    return MakeError(ErrorCode::kInvalidArgument, "bad token endpoint URL (" + why + "); expected https://host[:port]/path");
  };
  if (url.size() > kMaxUrl) return bad("longer than 2048 bytes");
  for (char c : url) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7F) return bad("spaces, control or non-ASCII characters");
  }
  if (!ascii::StartsWithIgnoreCase(url, "https://")) return bad("not https://");
  url.remove_prefix(8);
  if (url.find('#') != std::string_view::npos) return bad("a fragment");
  size_t end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, end);
  HttpsUrl out;
  out.target = end == std::string_view::npos ? "/" : std::string(url.substr(end));
  if (out.target.front() == '?') out.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return bad("user info");
  std::string_view port_text;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("an unclosed '['");
    out.host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return bad("text after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return bad("no host");
  if (!port_text.empty() || authority.ends_with(':')) {
    auto port = ParseNumber(port_text, 10, "");
    if (!port || *port == 0 || *port > 65535) return bad("a bad port");
    out.port = static_cast<uint16_t>(*port);
  }
  return out;
}

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto encode = [](std::string& out, std::string_view s) {
    for (char c : s) {
      if (IsUnreserved(c)) {
        out += c;
      } else {
        unsigned char u = static_cast<unsigned char>(c);
        out += '%';
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
    }
  };
  std::string out;
  for (const auto& [name, value] : fields) {
    if (!out.empty()) out += '&';
    encode(out, name);
    out += '=';
    encode(out, value);
  }
  return out;
}

Result<HttpReply> PostForm(const HttpsUrl& url, std::string_view form, const PostOptions& options) {
  net::ConnectOptions c;
  c.host = url.host;
  c.port = url.port;
  c.tls = net::TlsMode::kImplicit;
  c.ca_file = options.ca_file;
  c.verify_certificate = true;
  c.connect_timeout = options.connect_timeout;
  c.read_timeout = options.read_timeout;
  c.command_deadline = options.deadline;
  MK_ASSIGN_OR_RETURN(std::unique_ptr<net::Connection> conn, net::Connection::Open(c));
  std::string host_header = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != 443) host_header += ":" + std::to_string(url.port);
  std::string head = "POST " + url.target + " HTTP/1.1\r\nHost: " + host_header +
                     "\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"
                     "User-Agent: mailkeep\r\nConnection: close\r\nContent-Length: " +
                     std::to_string(form.size()) + "\r\n\r\n";
  conn->BeginCommand(kHeaderBudget + options.max_body * 2);
  Status sent = conn->Write(head);
  if (sent) sent = conn->Write(form);
  if (sent) sent = conn->Flush();
  if (!sent) return std::unexpected(sent.error());
  Exchange exchange(*conn, options);
  auto reply = exchange.Read();
  conn->Close();
  return reply;
}

}  // namespace mailkeep::oauth
