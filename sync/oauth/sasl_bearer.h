// The SASL initial response that carries an OAuth 2.0 bearer token, not
// yet base64-encoded (XOAUTH2's is net::SaslXoauth2, sync/net/sasl.h):
//   OAUTHBEARER (RFC 7628 §3.1), with the GS2 header naming the user:
//     "n,a=" USER "," ^A "host=" HOST ^A "port=" PORT ^A "auth=Bearer " TOKEN ^A ^A
//     (',' and '=' in USER are written "=2C" and "=3D", RFC 5801 saslname)
// The result contains the token: never log them or put them in an error.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mailkeep::oauth {

std::string SaslOauthBearer(std::string_view user, std::string_view host, uint16_t port, std::string_view token);

}  // namespace mailkeep::oauth
