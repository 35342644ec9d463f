// libFuzzer target for store/mime: the whole parser, then each building
// block on the same bytes. Nothing may crash, hang, throw or read out of
// bounds; text outputs must be valid UTF-8.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "store/mime/decode.h"
#include "store/mime/message.h"

namespace {

void CheckUtf8(const std::string& s) {
  if (mailkeep::mime::SanitizeUtf8(s) != s) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace m = mailkeep::mime;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  m::ParseLimits limits;
  limits.max_depth = 8;
  limits.max_parts = 200;
  const m::Message msg = m::ParseMessage(in, limits);
  if (msg.parts.empty()) std::abort();
  // Offsets are into `in`, or, for parts inside a transfer-encoded
  // message/rfc822 part M (in_decoded), into M's decoded body.
  struct Buffer {
    int depth;  // of the encoded message part whose decoded body this is
    std::string bytes;
  };
  std::vector<Buffer> buffers;  // the encoded message parts enclosing the current part
  for (const auto& p : msg.parts) {
    while (!buffers.empty() && buffers.back().depth >= p.depth) buffers.pop_back();
    if (p.in_decoded != !buffers.empty()) std::abort();
    const std::string_view buf = buffers.empty() ? in : std::string_view(buffers.back().bytes);
    if (p.body_offset > buf.size() || p.body_length > buf.size() - p.body_offset) std::abort();
    if (p.header_offset > p.body_offset) std::abort();
    if (p.depth < 0 || p.depth > limits.max_depth) std::abort();
    CheckUtf8(p.filename);
    if (p.is_message && (p.transfer_encoding == "base64" || p.transfer_encoding == "quoted-printable"))
      buffers.push_back({p.depth, m::DecodeTransfer(buf.substr(p.body_offset, p.body_length), p.transfer_encoding)});
  }
  CheckUtf8(msg.subject);
  CheckUtf8(msg.text);
  for (const auto& a : msg.from) {
    CheckUtf8(a.name);
    CheckUtf8(a.address);
  }

  // The building blocks, on a bounded slice so each run stays fast.
  const std::string_view small = in.substr(0, 4096);
  CheckUtf8(m::DecodeHeaderText(small));
  for (const auto& a : m::ParseAddressList(small)) CheckUtf8(a.name);
  (void)m::ParseDate(small);
  (void)m::ParseMessageIds(small);
  const m::HeaderParams hp = m::ParseHeaderParams(small);
  for (const auto& p : hp.params)
    if (p.first != "boundary") CheckUtf8(p.second);
  (void)m::DecodeBase64(small);
  (void)m::DecodeQuotedPrintable(small, size & 1);
  (void)m::FindUuencodedBlocks(small);
  CheckUtf8(m::HtmlToText(m::SanitizeUtf8(small)));
  // Charset conversion with a label taken from the input's first line.
  const size_t nl = small.find('\n');
  const std::string_view label = small.substr(0, nl == std::string_view::npos ? 0 : std::min<size_t>(nl, 30));
  CheckUtf8(m::ToUtf8(small, label));
  return 0;
}
