#include "sync/local/mbox_splitter.h"

#include <strings.h>

#include <array>
#include <cstring>
#include <utility>
#include <vector>

#include "store/util/civil_date.h"

namespace mailkeep::local {
namespace {

bool IsEmptyLine(std::string_view line) { return line == "\n" || line == "\r\n"; }

// ^>+From  — a quoted "From " line.
bool IsQuotedFrom(std::string_view line) {
  if (line.empty() || line[0] != '>') return false;
  size_t i = line.find_first_not_of('>');
  return i != std::string_view::npos && line.substr(i).starts_with("From ");
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

// Splits a line (without its line end) at spaces and tabs.
std::vector<std::string_view> Tokens(std::string_view line) {
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
  return toks;
}

// A zone name ("PST", "CEST", "UT") or offset ("+0100").
bool IsZone(std::string_view s) {
  int64_t ignored = 0;
  if (ParseNumericZone(s, &ignored)) return true;
  if (s.size() < 1 || s.size() > 5) return false;
  for (char c : s) {
    if (c < 'A' || c > 'Z') return false;
  }
  return true;
}

// "hh:mm" or "hh:mm:ss".
bool ParseTime(std::string_view time, int64_t* seconds) {
  int64_t hh = 0, mm = 0, ss = 0;
  if (time.size() != 5 && time.size() != 8) return false;
  if (time[2] != ':' || (time.size() == 8 && time[5] != ':')) return false;
  if (!ParseUnsigned(time.substr(0, 2), &hh) || !ParseUnsigned(time.substr(3, 2), &mm)) return false;
  if (time.size() == 8 && !ParseUnsigned(time.substr(6, 2), &ss)) return false;
  if (hh > 23 || mm > 59 || ss > 60) return false;
  *seconds = hh * 3600 + mm * 60 + ss;
  return true;
}

bool ParseYear(std::string_view s, int64_t* year) {
  return s.size() == 4 && ParseUnsigned(s, year) && *year >= 1900;
}

struct DateMatch {
  size_t end = 0;           // index of the first token after the date
  int64_t seconds = 0;      // Unix seconds UTC
  bool epoch_day = false;   // 1970-01-01, the "no date" placeholder
};

DateMatch MakeDate(size_t end, int64_t year, int month, int64_t day, int64_t time, int64_t zone) {
  DateMatch d;
  d.end = end;
  d.epoch_day = year == 1970 && month == 0 && day == 1;
  d.seconds = DaysFromCivil(year, month + 1, day) * 86400 +
              time - zone;
  return d;
}

// asctime at toks[w]: "Www Mmm dd hh:mm[:ss] [zone] yyyy [+hhmm]".
std::optional<DateMatch> MatchAsctime(const std::vector<std::string_view>& toks, size_t w) {
  if (w + 4 >= toks.size()) return std::nullopt;
  if (IndexOf(toks[w], kDays, 7) < 0) return std::nullopt;
  const int month = IndexOf(toks[w + 1], kMonths, 12);
  if (month < 0) return std::nullopt;
  int64_t day = 0;
  if (!ParseUnsigned(toks[w + 2], &day) || day < 1 || day > 31) return std::nullopt;
  int64_t time = 0;
  if (!ParseTime(toks[w + 3], &time)) return std::nullopt;
  size_t y = w + 4;
  int64_t zone = 0;
  int64_t year = 0;
  if (!(toks[y].size() == 4 && ParseUnsigned(toks[y], &year))) {
    // A zone name or offset before the year ("... 12:00:00 PST 1999").
    ParseNumericZone(toks[y], &zone);
    ++y;
    if (y >= toks.size() || toks[y].size() != 4 || !ParseUnsigned(toks[y], &year)) return std::nullopt;
  } else if (y + 1 < toks.size() && ParseNumericZone(toks[y + 1], &zone)) {
    ++y;
  }
  if (year < 1900) return std::nullopt;
  return MakeDate(y + 1, year, month, day, time, zone);
}

// RFC 5322 style at toks[w]: "[Www,] dd Mmm yyyy hh:mm[:ss] [zone]".
std::optional<DateMatch> MatchRfc5322(const std::vector<std::string_view>& toks, size_t w) {
  if (w < toks.size() && toks[w].size() == 4 && toks[w].back() == ',' &&
      IndexOf(toks[w].substr(0, 3), kDays, 7) >= 0) {
    ++w;
  }
  if (w + 3 >= toks.size()) return std::nullopt;
  int64_t day = 0;
  if (!ParseUnsigned(toks[w], &day) || day < 1 || day > 31) return std::nullopt;
  const int month = IndexOf(toks[w + 1], kMonths, 12);
  if (month < 0) return std::nullopt;
  int64_t year = 0;
  if (!ParseYear(toks[w + 2], &year)) return std::nullopt;
  int64_t time = 0;
  if (!ParseTime(toks[w + 3], &time)) return std::nullopt;
  size_t end = w + 4;
  int64_t zone = 0;
  if (end < toks.size() && ParseNumericZone(toks[end], &zone)) ++end;
  return MakeDate(end, year, month, day, time, zone);
}

// What may follow the date on a From_ line: nothing, a zone, and/or the
// UUCP "remote from host".
bool IsFromLineTail(const std::vector<std::string_view>& toks, size_t i) {
  if (i < toks.size() && IsZone(toks[i])) ++i;
  if (i + 3 == toks.size() && toks[i] == "remote" && toks[i + 1] == "from") i += 3;
  return i == toks.size();
}

}  // namespace

std::optional<int64_t> ParseFromLineDate(std::string_view line) {
  const std::vector<std::string_view> toks = Tokens(line);
  for (size_t w = 1; w < toks.size(); ++w) {
    std::optional<DateMatch> d = MatchAsctime(toks, w);
    if (!d) d = MatchRfc5322(toks, w);
    if (!d) continue;
    if (d->epoch_day) return std::nullopt;
    return d->seconds;
  }
  return std::nullopt;
}

bool IsFromSeparatorLine(std::string_view line) {
  if (!line.starts_with("From ")) return false;
  const std::vector<std::string_view> toks = Tokens(line);
  if (toks.size() < 2 || toks[0] != "From") return false;
  // Netscape / Mozilla write "From - " with no date at all.
  if (toks.size() == 2 && toks[1] == "-") return true;
  // The sender is toks[1] (or, rarely, several words); the date follows it.
  for (size_t w = 2; w < toks.size(); ++w) {
    std::optional<DateMatch> d = MatchAsctime(toks, w);
    if (!d) d = MatchRfc5322(toks, w);
    if (d && IsFromLineTail(toks, d->end)) return true;
  }
  return false;
}

MboxSplitter::MboxSplitter(std::string folder, const MessageSink& sink,
                           const ProblemSink* on_problem, ReadLimits limits)
    : folder_(std::move(folder)), sink_(sink), on_problem_(on_problem), limits_(std::move(limits)) {}

std::string TooLargeText(const ReadLimits& limits) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  const uint64_t limit = limits.max_message_size;
  std::string amount = limit % kMiB == 0 ? std::to_string(limit / kMiB) + " MiB" : std::to_string(limit) + " bytes";
  return "message larger than the " + amount + " limit; skipped" + limits.too_large_hint;
}

void MboxSplitter::Problem(uint64_t offset, const std::string& why) {
  if (on_problem_ != nullptr && *on_problem_) {
    (*on_problem_)(folder_ + " at byte " + std::to_string(offset), why);
  }
}

Status MboxSplitter::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    const size_t len = nl == nullptr ? chunk.size()
                                     : static_cast<size_t>(static_cast<const char*>(nl) - chunk.data()) + 1;
    const std::string_view piece = chunk.substr(0, len);
    chunk.remove_prefix(len);
    // A line of limit + 1 bytes may be a quoted "From " line, stored as limit bytes.
    if (long_line_ || partial_.size() + piece.size() > limits_.max_message_size + 1) {
      SkipLongLine(piece, nl != nullptr);
    } else if (nl == nullptr) {
      partial_.append(piece);
    } else if (partial_.empty()) {
      MK_RETURN_IF_ERROR(Line(piece));
    } else {
      partial_.append(piece);
      std::string line = std::move(partial_);
      partial_.clear();
      MK_RETURN_IF_ERROR(Line(line));
    }
  }
  return OkStatus();
}

// A line longer than the message limit is never held: the message it is
// in is too large, and the line counts only for the offsets.
void MboxSplitter::SkipLongLine(std::string_view piece, bool line_ends) {
  if (!long_line_) {
    long_line_ = true;
    if (in_message_) {
      DropMessage();
    } else if (!reported_preamble_) {
      reported_preamble_ = true;
      Problem(offset_, "text before the first \"From \" line skipped");
    }
  }
  offset_ += partial_.size() + piece.size();
  std::string().swap(partial_);
  if (!line_ends) return;
  long_line_ = false;
  prev_empty_ = false;
}

// The message in progress is over the limit: its bytes go now, the
// problem is reported when it ends.
void MboxSplitter::DropMessage() {
  too_large_ = true;
  std::string().swap(msg_);
  last_line_start_ = 0;
}

Status MboxSplitter::Line(std::string_view line) {
  const uint64_t at = offset_;
  offset_ += line.size();
  if (line.starts_with("From ") && (prev_empty_ || IsFromSeparatorLine(line))) {
    // Without an empty line in front, the message simply ends here.
    if (in_message_) MK_RETURN_IF_ERROR(Emit(/*strip_last_empty_line=*/prev_empty_));
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
  if (too_large_) return OkStatus();
  if (IsQuotedFrom(line)) line.remove_prefix(1);
  // The limit is on the bytes stored: unquoted, and without the empty line
  // in front of the next separator, so an empty line is held until the next
  // line shows whether it counts (Emit checks the end).
  if (msg_.size() + (empty ? 0 : line.size()) > limits_.max_message_size) {
    DropMessage();
    return OkStatus();
  }
  last_line_start_ = msg_.size();
  msg_.append(line);
  return OkStatus();
}

Status MboxSplitter::Emit(bool strip_last_empty_line) {
  if (strip_last_empty_line) msg_.resize(last_line_start_);
  if (msg_.size() > limits_.max_message_size) DropMessage();  // a final empty line that counts
  in_message_ = false;
  last_line_start_ = 0;
  if (too_large_) {
    too_large_ = false;
    Problem(msg_offset_, TooLargeText(limits_));
    return OkStatus();
  }
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
  if (long_line_) {
    long_line_ = false;
    prev_empty_ = false;
  }
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
  too_large_ = false;
  long_line_ = false;
  msg_.clear();
  partial_.clear();
  return dropped;
}

}  // namespace mailkeep::local
