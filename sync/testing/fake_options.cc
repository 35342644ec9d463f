#include "sync/testing/fake_options.h"

namespace mailkeep::testing {
namespace {

// POP3 and IMAP options share these fields.
template <typename Options>
Options FakeLogin(uint16_t port, const std::string& password) {
  Options o;
  o.connect = FakeConnect(port);
  o.user = "alice";
  o.password = password;
  o.allow_plaintext = true;
  return o;
}

}  // namespace

net::ConnectOptions FakeConnect(uint16_t port) {
  net::ConnectOptions c;
  c.host = "127.0.0.1";
  c.port = port;
  c.tls = net::TlsMode::kNone;
  c.connect_timeout = std::chrono::milliseconds(3000);
  c.read_timeout = std::chrono::milliseconds(3000);
  return c;
}

pop3::Pop3Options FakePop3(uint16_t port, const std::string& password) {
  return FakeLogin<pop3::Pop3Options>(port, password);
}

imap::ImapOptions FakeImap(uint16_t port, const std::string& password) {
  auto o = FakeLogin<imap::ImapOptions>(port, password);
  o.auth = imap::AuthMethod::kUserPass;
  return o;
}

}  // namespace mailkeep::testing
