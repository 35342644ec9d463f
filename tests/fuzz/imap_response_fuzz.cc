// libFuzzer target for sync/imap's response reader (and modified UTF-7).
// Besides "no crash, no hang, no out-of-bounds read, no UB", it checks:
//   - the same bytes fed whole, in pieces of fuzzer-chosen sizes, and with
//     literals appended directly to literal_buffer() give the same
//     responses and the same error/no-error outcome;
//   - modified UTF-7: whatever decodes re-encodes to printable ASCII that
//     decodes back to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "store/util/mutf7.h"
#include "sync/imap/response_parser.h"

namespace {

using mailkeep::imap::ImapLimits;
using mailkeep::imap::ParseState;
using mailkeep::imap::ResponseParser;

struct Outcome {
  std::vector<std::string> responses;
  bool error = false;
  bool operator==(const Outcome& o) const { return responses == o.responses && error == o.error; }
};

ImapLimits SmallLimits() {
  ImapLimits l;
  l.max_line = 2048;
  l.max_text = 8192;
  l.max_literal = 64 * 1024;
  l.max_values = 4096;
  l.max_depth = 16;
  l.literal_reserve = 4096;
  return l;
}

// step(i) gives the size of the i-th piece (0 = the rest). `direct`: literal
// bytes go through literal_buffer()/LiteralFilled().
template <typename Step>
Outcome Run(std::string_view in, Step step, bool direct) {
  ResponseParser p(SmallLimits());
  Outcome out;
  size_t i = 0;
  while (!in.empty()) {
    size_t n = step(i++);
    if (n == 0 || n > in.size()) n = in.size();
    std::string_view chunk = in.substr(0, n);
    in.remove_prefix(n);
    while (!chunk.empty()) {
      ParseState s;
      if (direct && p.literal_remaining() > 0) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(p.literal_remaining(), chunk.size()));
        p.literal_buffer()->append(chunk.data(), take);
        chunk.remove_prefix(take);
        s = p.LiteralFilled();
      } else {
        s = p.Feed(chunk);
      }
      if (s == ParseState::kError) {
        if (p.error().empty()) std::abort();
        out.error = true;
        return out;
      }
      if (s == ParseState::kResponse) out.responses.push_back(mailkeep::imap::DebugString(p.TakeResponse()));
    }
  }
  return out;
}

void CheckUtf7(std::string_view s) {
  namespace i = mailkeep;
  auto printable = [](const std::string& w) {
    for (char c : w)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) return false;
    return true;
  };
  if (auto decoded = i::TryDecodeModifiedUtf7(s)) {
    const std::string wire = i::EncodeModifiedUtf7(*decoded);
    if (!printable(wire)) std::abort();
    if (i::TryDecodeModifiedUtf7(wire) != decoded) std::abort();
  }
  const std::string wire = i::EncodeModifiedUtf7(s);  // any bytes: bad UTF-8 becomes U+FFFD
  if (!printable(wire)) std::abort();
  if (!i::TryDecodeModifiedUtf7(wire)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the piece sizes; the rest is the server's output.
  const uint8_t seed = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  const Outcome whole = Run(in, [](size_t) { return size_t{0}; }, false);
  const Outcome pieces = Run(in, [seed](size_t i) { return size_t{1} + ((seed * 31u + i * 17u) % (seed % 13u + 1u)); },
                             false);
  if (!(whole == pieces)) std::abort();
  const Outcome direct = Run(in, [seed](size_t i) { return size_t{1} + ((seed + i * 7u) % 97u); }, true);
  if (!(whole == direct)) std::abort();

  CheckUtf7(in.substr(0, 512));
  return 0;
}
