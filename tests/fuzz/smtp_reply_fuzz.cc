// libFuzzer target for sync/smtp's reply reader, EHLO parsing and DATA
// encoder. Besides "no crash, no hang, no out-of-bounds read, no UB", it
// checks:
//   - every reply has a code in 200..599 and at least one line; written out
//     again (code, separator, enhanced code, text) it parses to the same
//     reply;
//   - an error always comes with a message, and Reset() makes the parser
//     usable again;
//   - the DATA encoder gives the same bytes for the input whole and in
//     pieces; its output has only CRLF line ends, no "." line before the
//     terminator, ends in ".\r\n", and un-stuffed it is NormalizedSize()
//     bytes long.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "sync/smtp/smtp_data.h"
#include "sync/smtp/smtp_reply.h"

namespace {

using mailkeep::smtp::DataEncoder;
using mailkeep::smtp::Reply;
using mailkeep::smtp::ReplyLimits;
using mailkeep::smtp::ReplyParser;
using mailkeep::smtp::ReplyState;

std::vector<std::string> Render(const Reply& r) {
  std::vector<std::string> out;
  for (size_t i = 0; i < r.lines.size(); ++i) {
    std::string l = std::to_string(r.code);
    l += i + 1 == r.lines.size() ? ' ' : '-';
    if (!r.enhanced.empty()) l += r.enhanced + " ";
    l += r.lines[i];
    out.push_back(std::move(l));
  }
  return out;
}

void CheckReply(const Reply& r) {
  if (r.code < 200 || r.code > 599 || r.lines.empty()) std::abort();
  (void)r.ToString();
  (void)mailkeep::smtp::ParseEhlo(r);
  ReplyLimits unlimited;
  unlimited.max_line = std::numeric_limits<size_t>::max();
  unlimited.max_lines = std::numeric_limits<size_t>::max();
  ReplyParser again(unlimited);
  const std::vector<std::string> lines = Render(r);
  for (size_t i = 0; i < lines.size(); ++i) {
    ReplyState s = again.FeedLine(lines[i]);
    if (i + 1 < lines.size() ? s != ReplyState::kNeedMore : s != ReplyState::kReply) std::abort();
  }
  Reply back = again.TakeReply();
  if (back.code != r.code || back.enhanced != r.enhanced || back.lines != r.lines) std::abort();
}

void FuzzReplies(std::string_view in, const ReplyLimits& limits) {
  ReplyParser p(limits);
  while (!in.empty()) {
    size_t nl = in.find('\n');
    std::string_view line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    switch (p.FeedLine(line)) {
      case ReplyState::kNeedMore:
        break;
      case ReplyState::kReply:
        CheckReply(p.TakeReply());
        break;
      case ReplyState::kError:
        if (p.error().empty()) std::abort();
        if (p.FeedLine("250 ok") != ReplyState::kError) std::abort();  // sticky
        p.Reset();
        break;
    }
  }
}

void FuzzData(std::string_view in, uint8_t seed) {
  const std::string whole = mailkeep::smtp::EncodeData(in);
  DataEncoder e;
  std::string pieces;
  size_t i = 0, off = 0;
  while (off < in.size()) {
    size_t n = 1 + (seed * 7u + i++ * 13u) % (seed % 29u + 1u);
    e.Feed(in.substr(off, n), &pieces);
    off += n;
  }
  e.Finish(&pieces);
  if (pieces != whole) std::abort();
  if (whole.size() < 3 || whole.compare(whole.size() - 3, 3, ".\r\n") != 0) std::abort();
  uint64_t unstuffed = 0;
  size_t pos = 0;
  for (;;) {
    size_t eol = whole.find('\r', pos);
    if (eol == std::string::npos || eol + 1 >= whole.size() || whole[eol + 1] != '\n') std::abort();
    std::string_view line = std::string_view(whole).substr(pos, eol - pos);
    if (line.find('\n') != std::string_view::npos) std::abort();
    pos = eol + 2;
    if (line == ".") {
      if (pos != whole.size()) std::abort();
      break;
    }
    if (!line.empty() && line[0] == '.') {
      if (line.size() < 2 || line[1] != '.') {
        // A stuffed line always starts with "..": the first dot is the stuffing.
        std::abort();
      }
      line.remove_prefix(1);
    }
    unstuffed += line.size() + 2;
  }
  if (unstuffed != mailkeep::smtp::NormalizedSize(in)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the limits and the piece sizes; the rest is the
  // server's output (and, for the encoder, a message).
  const uint8_t seed = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  ReplyLimits limits;
  if (seed & 1) {
    limits.max_line = 64;
    limits.max_lines = 8;
  }
  FuzzReplies(in, limits);
  FuzzData(in.substr(0, 64 * 1024), seed);
  return 0;
}
