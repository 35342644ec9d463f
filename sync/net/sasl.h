// SASL for the mail protocols: the one client-side exchange POP3 (RFC 5034),
// IMAP (RFC 3501 AUTHENTICATE, RFC 4959 SASL-IR) and SMTP (RFC 4954) share,
// and the encodings under it: base64 (RFC 4648), the responses for PLAIN
// (RFC 4616), LOGIN, XOAUTH2 and CRAM-MD5 (RFC 2195), and the APOP digest
// (RFC 1939). Pure functions; thread-safe.
//
// The responses contain secrets: never log them or put them in an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "store/util/status.h"
#include "sync/net/login_chooser.h"

namespace mailkeep::net {

std::string Base64Encode(std::string_view data);
// Ignores whitespace; nullopt on any other character outside the alphabet or
// a bad length.
std::optional<std::string> Base64Decode(std::string_view text);

// "\0user\0password", not yet base64-encoded.
std::string SaslPlain(std::string_view user, std::string_view password);
// "user=U\x01auth=Bearer TOKEN\x01\x01", not yet base64-encoded.
std::string SaslXoauth2(std::string_view user, std::string_view token);

// OAUTHBEARER's initial response (RFC 7628 §3.1), not yet base64-encoded,
// with the GS2 header naming the user:
//   "n,a=" USER "," ^A "host=" HOST ^A "port=" PORT ^A "auth=Bearer " TOKEN ^A ^A
// (',' and '=' in USER are written "=2C" and "=3D", RFC 5801 saslname).
// It contains the token: never log it or put it in an error.
std::string SaslOauthBearer(std::string_view user, std::string_view host, uint16_t port, std::string_view token);
// CRAM-MD5 (RFC 2195): "user " + lower-case hex HMAC-MD5(key = password,
// text = challenge), not yet base64-encoded; `challenge` is the server's
// challenge after base64 decoding. RFC 2195's example ("tim",
// "tanstaaftanstaaf", "<1896.697170952@postoffice.reston.mci.net>") →
// "tim b913a602c7eda7a495b4e6e7334d3890". Empty when MD5 is not available.
std::string SaslCramMd5(std::string_view user, std::string_view password, std::string_view challenge);
// Lower-case hex MD5 of timestamp + secret, e.g. for RFC 1939's example
// ("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf") →
// "c4c9334bac560ecc979e58001b3e22fb".
std::string ApopDigest(std::string_view timestamp, std::string_view secret);

// How one protocol carries a SASL exchange; RunSasl drives it.
struct SaslWire {
  // The command that starts the exchange, without an initial response:
  // "AUTH PLAIN" (POP3, SMTP), "A3 AUTHENTICATE PLAIN" (IMAP).
  std::string command;
  // The initial response goes on the command line when that line with its
  // CRLF fits in this many octets (POP3 255, SMTP 512, IMAP with SASL-IR
  // unbounded); 0 = never (IMAP without SASL-IR): it then answers the
  // first challenge.
  size_t max_command_line = 0;
  // Writes one line (CRLF added by the callee) and flushes.
  std::function<Status(const std::string& line)> send;
  // Reads the server's next step: true and the challenge text (after "+ "
  // or "334 ", still base64) for a challenge; false when the exchange has
  // ended (the callee keeps the final reply: OK, NO, 235, 535, ...).
  std::function<Result<bool>(std::string* challenge)> next;
  // The error for a server that breaks the exchange (the callee drops the
  // connection); `what` says how, e.g. "the exchange did not end".
  std::function<Error(std::string_view what)> broken;
  // OAUTHBEARER names the server it logs in to (RFC 7628 §3.1).
  std::string host;
  uint16_t port = 0;
};

// One SASL exchange with `method` (kPlain, kLogin, kCramMd5, kXoauth2,
// kOauthBearer):
// the command (with the initial response when it fits), an answer to each
// challenge, "*" (cancel) when the mechanism has nothing more to say. For
// XOAUTH2 a challenge after the token carries the server's JSON error: it
// gets an empty answer (OAUTHBEARER: a lone ^A, RFC 7628 §3.2.3), and the server then sends its final reply. Returns
// OK when the exchange has ended (the caller judges the final reply); the
// errors of send/next; wire.broken(...) after more than 8 challenges, a
// challenge after "*", or a CRAM-MD5 challenge that is not base64.
// REQUIRES: SaslMechanism(method) != nullptr.
Status RunSasl(LoginMethod method, std::string_view user, std::string_view secret, const SaslWire& wire);

}  // namespace mailkeep::net
