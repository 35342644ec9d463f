// SecretMask: hides a password in text derived from what a server sent.
// A server may echo what it was sent ("-ERR bad password hunter2", "535
// AHVzZXIAaHVudGVyMg== rejected"); whatever the POP3, IMAP and SMTP clients
// turn a reply into (an error message, a recorded reply, --json output)
// goes through Apply() first, before it is shortened or sanitized, so that
// no cut can leave part of a form behind.
//
// Forms masked (each replaced by "***"):
//   - the password itself and its IMAP quoted-string form (\" and \\);
//   - base64 of the password (AUTH LOGIN);
//   - base64 of "\0user\0password" (SASL PLAIN);
//   - base64 of the XOAUTH2 initial response (the password is the token);
//   - base64 of the OAUTHBEARER initial response (RFC 7628: "n,a=USER,^A
//     host=HOST^Aport=PORT^Aauth=Bearer TOKEN^A^A"), for the host and port
//     the client logs in to;
// base64 forms also without their '=' padding. A password shorter than 3
// bytes is masked only inside the longer forms (PLAIN, XOAUTH2), since
// masking "ab" everywhere would garble the rest of the text (an OAuth
// token is never that short: it is masked bare too).
//
// Thread-safety: const methods may be called from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::net {

class SecretMask {
 public:
  SecretMask() = default;  // masks nothing
  // `host` and `port`: where the client logs in (OAUTHBEARER names them).
  SecretMask(std::string_view user, std::string_view password, std::string_view host, uint16_t port);

  // `text` with every form of the password replaced by "***".
  std::string Apply(std::string_view text) const;

 private:
  std::vector<std::string> forms_;  // longest first
};

}  // namespace mailkeep::net
