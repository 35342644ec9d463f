// libFuzzer target for store/mime: the whole parser, then each building
// block on the same bytes. Nothing may crash, hang, throw or read out of
// bounds; text outputs must be valid UTF-8.
#include <cstddef>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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
  for (const auto& p : msg.parts) {
    if (p.body_offset > in.size() || p.body_length > in.size() - p.body_offset) std::abort();
    if (p.header_offset > p.body_offset) std::abort();
    CheckUtf8(p.filename);
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
