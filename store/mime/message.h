// The parsed view of one RFC 5322 / MIME message.
//
// ParseMessage() reads raw bytes and never fails: hostile or broken input
// yields a best-effort Message with `defects` set, never an exception and
// never a read outside `raw`. All text fields are UTF-8 (undecodable bytes
// become U+FFFD). Offsets refer to the raw bytes passed in (except inside a
// transfer-encoded message/rfc822 part, see Part::in_decoded); the Message
// holds no views into them, so it may outlive the buffer.
//
// Thread-safety: ParseMessage is reentrant; a Message is a plain value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mailkeep::mime {

struct Address {
  std::string name;     // display name, decoded; may be empty
  std::string address;  // local@domain as written (no angle brackets); may be empty
  std::string group;    // RFC 5322 group name this address belongs to, if any
  bool operator==(const Address&) const = default;
};

// One MIME entity (the message itself is part "" only when it is not
// multipart; containers appear too, so the tree is kept in pre-order).
struct Part {
  std::string path;               // "1", "1.2", "2.1.3"; the root is "1" for a single-part message,
                                  // a multipart root is "" and its children "1", "2", ...
                                  // The message inside a message/rfc822 part "P" (IMAP numbering):
                                  // a single-part body is "P.1"; a multipart body is the container
                                  // "P.TEXT" whose children are "P.1", "P.2", ...
  int depth = 0;                  // 0 for the root
  std::string content_type;       // lower-case "type/subtype"; "text/plain" when missing or unusable
  std::string charset;            // lower-case, as labelled ("" when none)
  std::string disposition;        // lower-case "inline" / "attachment" / "" when none
  std::string filename;           // decoded (RFC 2231 / RFC 2047), directory parts removed; "" when none
  std::string content_id;         // without angle brackets
  std::string transfer_encoding;  // lower-case, "" when none
  size_t header_offset = 0;       // where this part's header starts in raw
  size_t body_offset = 0;         // where its body starts in raw
  size_t body_length = 0;         // raw (still encoded) body length
  size_t size = 0;                // decoded size in bytes (leaf parts); raw body length for containers
  bool is_multipart = false;
  bool is_message = false;        // message/rfc822 (its inner message is parsed as children),
                                  // also when base64/quoted-printable encoded (RFC 2046 forbids
                                  // it; mailers do it): then the inner message is parsed from
                                  // the decoded body
  // Set on every part inside a transfer-encoded message/rfc822 part M (the
  // nearest such ancestor): header_offset, body_offset and body_length are
  // then offsets into M's decoded body, i.e. into
  //   DecodeTransfer(raw.substr(M.body_offset, M.body_length), M.transfer_encoding)
  // (store/mime/decode.h), not into raw. M itself and parts outside it have
  // it false. Nested encoded messages apply the rule again, level by level.
  bool in_decoded = false;
  bool is_attachment = false;     // IsAttachment(content_type, disposition, filename), leaves only
};

// Whether `content_type` (lower case) is a detached signature: the second
// part of a multipart/signed (RFC 1847) in OpenPGP (RFC 3156,
// application/pgp-signature) or S/MIME (RFC 8551, application/pkcs7-signature
// and the older application/x-pkcs7-signature).
bool IsSignatureType(std::string_view content_type);

// What mailkeep counts as an attachment, the one rule for has:attachment and
// attachment: (index/), the catalog's has_attachments, `search --format
// json`, `show` and `export --attachments`: a leaf part (not multipart/*)
// whose disposition is "attachment" or that has a file name, unless it is a
// signature (IsSignatureType), as notmuch and mu count them. Arguments as in
// Part (lower-case type and disposition).
bool IsAttachment(std::string_view content_type, std::string_view disposition, std::string_view filename);

// Defects found while parsing (bit flags). None of them is fatal.
enum Defect : uint32_t {
  kDefectNone = 0,
  kDefectHeaderTooLarge = 1u << 0,     // header past the limit: rest treated as body
  kDefectTooDeep = 1u << 1,            // nesting past the limit: inner part kept as a leaf
  kDefectTooManyParts = 1u << 2,       // part count past the limit: rest kept as body
  kDefectMissingBoundary = 1u << 3,    // multipart without a usable boundary
  kDefectNoFinalBoundary = 1u << 4,    // multipart ended without "--boundary--"
  kDefectBadEncoding = 1u << 5,        // invalid base64/QP/charset data replaced
  kDefectBadHeader = 1u << 6,          // a header line without a colon, NUL bytes, ...
  kDefectNoHeader = 1u << 7,           // no header/body separator found
};

struct Message {
  // Top-level header fields in order, unfolded (CRLF + WSP removed) but not
  // otherwise decoded. Names keep their original case.
  std::vector<std::pair<std::string, std::string>> headers;

  std::string message_id;            // without angle brackets; "" when missing
  std::string subject;               // RFC 2047 decoded
  std::optional<int64_t> date;       // Unix seconds, UTC; nullopt when missing or unparseable
  std::vector<Address> from, sender, reply_to, to, cc, bcc;
  std::string in_reply_to;           // first message id in In-Reply-To, without brackets
  std::vector<std::string> references;  // message ids in order, without brackets

  std::vector<Part> parts;           // pre-order; parts[0] is the root
  std::vector<std::string> attachments;  // file names of attachment parts (Part::is_attachment) and of
                                         // uuencoded blocks in text, in order
  // Readable text: every text/plain part, and text/html parts (tags, script
  // and style removed, entities decoded) when no plain alternative exists;
  // joined with blank lines; capped at ParseLimits::max_text_bytes.
  std::string text;
  uint32_t defects = kDefectNone;
  // What a parse with ParseLimits::extract_text = false reports: `defects`
  // without those only decoding the text found (a bad base64 text part).
  uint32_t defects_without_text = kDefectNone;

  // First header value with this name (case-insensitive), or nullptr.
  const std::string* FindHeader(std::string_view name) const;
};

struct ParseLimits {
  int max_depth = 32;                      // nesting of multipart / message/rfc822
  int max_parts = 2000;                    // total parts
  size_t max_header_bytes = 1u << 20;      // per header block
  size_t max_text_bytes = 1u << 20;        // Message::text cap
  bool extract_text = true;                // false skips body decoding (faster)
};

Message ParseMessage(std::string_view raw, const ParseLimits& limits = {});

}  // namespace mailkeep::mime
