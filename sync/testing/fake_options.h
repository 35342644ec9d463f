// Client options for talking to a scripted tests/servers FakeServer: plain
// TCP to 127.0.0.1:port, 3 s to connect and per read (so a broken client
// fails its test instead of hanging it), user "alice", plaintext allowed.
// Tests change what they exercise on the returned copy.
#pragma once

#include <cstdint>
#include <string>

#include "sync/imap/imap_client.h"
#include "sync/net/connection.h"
#include "sync/pop3/pop3_client.h"

namespace mailkeep::testing {

net::ConnectOptions FakeConnect(uint16_t port);
pop3::Pop3Options FakePop3(uint16_t port, const std::string& password = "pw");
// Logs in with LOGIN.
imap::ImapOptions FakeImap(uint16_t port, const std::string& password = "pw");

}  // namespace mailkeep::testing
