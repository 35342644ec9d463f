#include "sync/smtp/smtp_data.h"

#include <cstring>

namespace mailkeep::smtp {

void DataEncoder::Feed(std::string_view in, std::string* out) {
  const char* p = in.data();
  const char* const end = p + in.size();
  while (p < end) {
    if (pending_cr_) {  // a CR ended the previous piece: CRLF or a bare CR, CRLF either way
      pending_cr_ = false;
      out->append("\r\n", 2);
      line_start_ = true;
      if (*p == '\n') {
        ++p;
        continue;
      }
    }
    if (line_start_ && *p == '.') out->push_back('.');
    // The run up to the next CR or LF goes out unchanged.
    const char* q = p;
    while (q < end && *q != '\r' && *q != '\n') ++q;
    if (q > p) {
      out->append(p, static_cast<size_t>(q - p));
      line_start_ = false;
    }
    if (q == end) break;
    if (*q == '\n') {
      out->append("\r\n", 2);
      line_start_ = true;
      p = q + 1;
    } else if (q + 1 == end) {  // a CR at the end of this piece: wait for the next byte
      pending_cr_ = true;
      p = q + 1;
    } else {
      out->append("\r\n", 2);
      line_start_ = true;
      p = q[1] == '\n' ? q + 2 : q + 1;
    }
  }
}

void DataEncoder::Finish(std::string* out) {
  if (pending_cr_ || !line_start_) out->append("\r\n", 2);
  out->append(".\r\n", 3);
  pending_cr_ = false;
  line_start_ = true;
}

std::string EncodeData(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 8);
  DataEncoder e;
  e.Feed(message, &out);
  e.Finish(&out);
  return out;
}

uint64_t NormalizedSize(std::string_view message) {
  uint64_t n = 0;
  bool line_start = true;
  for (size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      n += 2;
      line_start = true;
    } else {
      ++n;
      line_start = false;
    }
  }
  if (!line_start) n += 2;
  return n;
}

bool HasEightBit(std::string_view data) {
  for (char c : data) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

}  // namespace mailkeep::smtp
