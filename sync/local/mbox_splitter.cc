#include "sync/local/mbox_splitter.h"

#include <strings.h>

#include <array>
#include <cstring>
#include <utility>
#include <vector>

namespace mailkeep::local {
namespace {

bool IsEmptyLine(std::string_view line) { return line == "\n" || line == "\r\n"; }

// ^>+From  — a quoted "From " line.
bool IsQuotedFrom(std::string_view line) {
  if (line.empty() || line[0] != '>') return false;
  size_t i = line.find_first_not_of('>');
  return i != std::string_view::npos && line.substr(i).starts_with("From ");
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool ParseUnsigned(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 9) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

int IndexOf(std::string_view tok, const std::array<const char*, 12>& names, size_t count) {
  if (tok.size() != 3) return -1;
  for (size_t i = 0; i < count; ++i) {
    if (strncasecmp(tok.data(), names[i], 3) == 0) return static_cast<int>(i);
  }
  return -1;
}

const std::array<const char*, 12> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// "+0100" / "-0530" → seconds east of UTC.
bool ParseNumericZone(std::string_view s, int64_t* seconds) {
  if (s.size() != 5 || (s[0] != '+' && s[0] != '-')) return false;
  int64_t hhmm = 0;
  if (!ParseUnsigned(s.substr(1), &hhmm)) return false;
  int64_t v = (hhmm / 100) * 3600 + (hhmm % 100) * 60;
  *seconds = s[0] == '-' ? -v : v;
  return true;
}

}  // namespace

std::optional<int64_t> ParseFromLineDate(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  std::vector<std::string_view> toks;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) toks.push_back(line.substr(i, j - i));
    i = j;
  }
  // Look for "Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]" anywhere after "From".
  for (size_t w = 1; w + 4 < toks.size(); ++w) {
    if (IndexOf(toks[w], kDays, 7) < 0) continue;
    int month = IndexOf(toks[w + 1], kMonths, 12);
    if (month < 0) continue;
    int64_t day = 0;
    if (!ParseUnsigned(toks[w + 2], &day) || day < 1 || day > 31) continue;
    std::string_view time = toks[w + 3];
    int64_t hh = 0, mm = 0, ss = 0;
    if (time.size() != 5 && time.size() != 8) continue;
    if (time[2] != ':' || (time.size() == 8 && time[5] != ':')) continue;
    if (!ParseUnsigned(time.substr(0, 2), &hh) || !ParseUnsigned(time.substr(3, 2), &mm)) continue;
    if (time.size() == 8 && !ParseUnsigned(time.substr(6, 2), &ss)) continue;
    if (hh > 23 || mm > 59 || ss > 60) continue;
    size_t y = w + 4;
    int64_t zone = 0;
    int64_t year = 0;
    if (!(toks[y].size() == 4 && ParseUnsigned(toks[y], &year))) {
      // A zone name or offset before the year ("... 12:00:00 PST 1999").
      ParseNumericZone(toks[y], &zone);
      ++y;
      if (y >= toks.size() || toks[y].size() != 4 || !ParseUnsigned(toks[y], &year)) continue;
    } else if (y + 1 < toks.size()) {
      ParseNumericZone(toks[y + 1], &zone);
    }
    if (year < 1900) continue;
    if (year == 1970 && month == 0 && day == 1) return std::nullopt;
    int64_t days =
        DaysFromCivil(year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
    return days * 86400 + hh * 3600 + mm * 60 + ss - zone;
  }
  return std::nullopt;
}

MboxSplitter::MboxSplitter(std::string folder, const MessageSink& sink,
                           const ProblemSink* on_problem)
    : folder_(std::move(folder)), sink_(sink), on_problem_(on_problem) {}

void MboxSplitter::Problem(uint64_t offset, const std::string& why) {
  if (on_problem_ != nullptr && *on_problem_) {
    (*on_problem_)(folder_ + " at byte " + std::to_string(offset), why);
  }
}

Status MboxSplitter::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    if (nl == nullptr) {
      partial_.append(chunk);
      return OkStatus();
    }
    size_t len = static_cast<size_t>(static_cast<const char*>(nl) - chunk.data()) + 1;
    if (partial_.empty()) {
      MK_RETURN_IF_ERROR(Line(chunk.substr(0, len)));
    } else {
      partial_.append(chunk.substr(0, len));
      std::string line = std::move(partial_);
      partial_.clear();
      MK_RETURN_IF_ERROR(Line(line));
    }
    chunk.remove_prefix(len);
  }
  return OkStatus();
}

Status MboxSplitter::Line(std::string_view line) {
  const uint64_t at = offset_;
  offset_ += line.size();
  if (prev_empty_ && line.starts_with("From ")) {
    if (in_message_) MK_RETURN_IF_ERROR(Emit(/*strip_last_empty_line=*/true));
    in_message_ = true;
    prev_empty_ = false;
    msg_offset_ = at;
    msg_date_ = ParseFromLineDate(line);
    return OkStatus();
  }
  const bool empty = IsEmptyLine(line);
  prev_empty_ = empty;
  if (!in_message_) {
    if (!empty && !reported_preamble_) {
      reported_preamble_ = true;
      Problem(at, "text before the first \"From \" line skipped");
    }
    return OkStatus();
  }
  last_line_start_ = msg_.size();
  if (IsQuotedFrom(line)) line.remove_prefix(1);
  msg_.append(line);
  return OkStatus();
}

Status MboxSplitter::Emit(bool strip_last_empty_line) {
  if (strip_last_empty_line) msg_.resize(last_line_start_);
  in_message_ = false;
  last_line_start_ = 0;
  if (msg_.empty()) {
    Problem(msg_offset_, "empty message skipped");
    return OkStatus();
  }
  RawMessage m;
  m.bytes = std::move(msg_);
  msg_.clear();
  m.origin.source = "mbox";
  m.origin.account = "local";
  m.origin.folder = folder_;
  m.origin.key = std::to_string(msg_offset_);
  m.origin.internal_date = msg_date_;
  ++messages_;
  return sink_(std::move(m));
}

Status MboxSplitter::Finish() {
  if (!partial_.empty()) {
    std::string line = std::move(partial_);
    partial_.clear();
    MK_RETURN_IF_ERROR(Line(line));
  }
  if (!in_message_) return OkStatus();
  // prev_empty_ here means the stream ended with an empty line: the blank
  // line an mbox writer puts after every message.
  return Emit(/*strip_last_empty_line=*/prev_empty_);
}

std::optional<uint64_t> MboxSplitter::Abandon() {
  std::optional<uint64_t> dropped;
  if (in_message_) dropped = msg_offset_;
  in_message_ = false;
  msg_.clear();
  partial_.clear();
  return dropped;
}

}  // namespace mailkeep::local
