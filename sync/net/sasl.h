// Small encodings shared by the mail protocols: base64 (RFC 4648) and the
// SASL initial responses for PLAIN (RFC 4616) and XOAUTH2, the CRAM-MD5
// response (RFC 2195), and the APOP digest (RFC 1939). Pure functions;
// thread-safe.
//
// The results contain secrets: never log them or put them in an error.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mailkeep::net {

std::string Base64Encode(std::string_view data);
// Ignores whitespace; nullopt on any other character outside the alphabet or
// a bad length.
std::optional<std::string> Base64Decode(std::string_view text);

// "\0user\0password", not yet base64-encoded.
std::string SaslPlain(std::string_view user, std::string_view password);
// "user=U\x01auth=Bearer TOKEN\x01\x01", not yet base64-encoded.
std::string SaslXoauth2(std::string_view user, std::string_view token);
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

}  // namespace mailkeep::net
