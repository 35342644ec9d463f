#include "sync/oauth/sasl_bearer.h"

namespace mailkeep::oauth {

std::string SaslOauthBearer(std::string_view user, std::string_view host, uint16_t port, std::string_view token) {
  std::string s = "n,a=";
  for (char c : user) {
    if (c == ',') s += "=2C";
    else if (c == '=') s += "=3D";
    else s += c;
  }
  s += ",\x01" "host=";
  s += host;
  s += "\x01" "port=" + std::to_string(port);
  s += "\x01" "auth=Bearer ";
  s += token;
  s += "\x01\x01";
  return s;
}

}  // namespace mailkeep::oauth
