#include "sync/net/secret_mask.h"

#include <algorithm>

#include "sync/net/sasl.h"

namespace mailkeep::net {
namespace {

constexpr size_t kMinBareLength = 3;

// A base64 form, with and without its '=' padding (a server may drop it).
void AddBase64(std::vector<std::string>& forms, std::string_view data) {
  std::string b64 = Base64Encode(data);
  forms.push_back(b64);
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  forms.push_back(std::move(b64));
}

// IMAP quoted-string form (RFC 3501 §4.3): '\' and '"' escaped.
std::string Quoted(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

SecretMask::SecretMask(std::string_view user, std::string_view password, std::string_view host, uint16_t port) {
  if (password.empty()) return;
  AddBase64(forms_, SaslPlain(user, password));
  AddBase64(forms_, SaslXoauth2(user, password));
  AddBase64(forms_, SaslOauthBearer(user, host, port, password));
  if (password.size() >= kMinBareLength) {
    forms_.emplace_back(password);
    forms_.push_back(Quoted(password));
    AddBase64(forms_, password);
  }
  std::sort(forms_.begin(), forms_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  forms_.erase(std::unique(forms_.begin(), forms_.end()), forms_.end());
}

std::string SecretMask::Apply(std::string_view text) const {
  std::string s(text);
  for (const auto& form : forms_) {
    for (size_t p = s.find(form); p != std::string::npos; p = s.find(form, p + 3)) s.replace(p, form.size(), "***");
  }
  return s;
}

}  // namespace mailkeep::net
