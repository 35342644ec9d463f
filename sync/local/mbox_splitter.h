// Internal to sync/local: the one mbox splitter, fed in chunks of any size
// (a whole file for SplitMbox, decompressed blocks for files on disk).
//
// Rules:
//  - A separator is a line starting with "From " at the start of the input
//    or right after an empty line ("\n" or "\r\n"); or, anywhere, a line
//    that has the full shape of a From_ line (IsFromSeparatorLine), because
//    some writers (Netscape, GMime's test data, ...) put no empty line
//    between messages. Body lines such as "From the desk of ..." do not
//    have that shape.
//  - A message is everything after its separator line up to the next
//    separator, minus the empty line in front of that separator, if there
//    is one (at the end of the input: minus a final empty line, when there
//    is one). A message that does not end with an empty line keeps its
//    bytes as they are.
//  - Lines matching ^>+From  lose one '>' (mboxrd; this also undoes the
//    mboxo quoting of "From " lines at the cost of mboxo's ">From " lines).
//  - Origin key = decimal byte offset of the separator line in the stream;
//    internal_date = the asctime date on the separator line, when it parses
//    and is not 1970-01-01.
// Memory: one message plus one line, each at most limits.max_message_size
// (+ 2 bytes). The limit counts the bytes stored: after unquoting, without
// the empty line in front of the next separator. A message that grows past
// it is dropped as it is read and reported (once, at its end) as too large;
// the next separator starts afresh.
//
// Thread-safety: one object per thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/raw_message.h"
#include "store/util/status.h"
#include "sync/local/local_source.h"

namespace mailkeep::local {

class MboxSplitter {
 public:
  // `sink` and `on_problem` (may be null) must outlive the splitter. Empty
  // messages and bytes before the first separator are reported to
  // `on_problem` and skipped.
  // REQUIRES: limits.max_message_size > 0.
  MboxSplitter(std::string folder, const MessageSink& sink, const ProblemSink* on_problem,
               ReadLimits limits);

  // Feeds the next bytes of the stream. A sink error is returned as is.
  Status Feed(std::string_view chunk);
  // Ends the stream and hands over the last message.
  Status Finish();
  // Ends the stream without handing over the message in progress (the input
  // broke off); returns the offset of that message's separator, if any.
  std::optional<uint64_t> Abandon();

  uint64_t messages() const { return messages_; }

 private:
  Status Line(std::string_view line);
  Status Emit(bool strip_last_empty_line);
  void SkipLongLine(std::string_view piece, bool line_ends);
  void DropMessage();
  void Problem(uint64_t offset, const std::string& why);

  std::string folder_;
  const MessageSink& sink_;
  const ProblemSink* on_problem_;

  const ReadLimits limits_;
  bool too_large_ = false;     // the message in progress passed the size limit
  bool long_line_ = false;     // inside a line longer than the size limit
  std::string partial_;        // a line not yet ended by '\n'
  uint64_t offset_ = 0;        // stream offset of the next line to process
  bool prev_empty_ = true;     // previous line was empty (true at start)
  bool in_message_ = false;
  bool reported_preamble_ = false;
  std::string msg_;            // the message so far, unquoted
  size_t last_line_start_ = 0; // where the last line appended to msg_ begins
  uint64_t msg_offset_ = 0;
  std::optional<int64_t> msg_date_;
  uint64_t messages_ = 0;
};

// "message larger than the 64 MiB limit; skipped" + limits.too_large_hint
// (the limit in MiB when it is a whole number of MiB, else in bytes).
std::string TooLargeText(const ReadLimits& limits);

// Parses the date of a From_ line ("From sender Thu Jan  1 00:00:00 1970",
// optionally with a zone before or after the year; or, from some writers,
// "From sender Sat, 24 Mar 2007 10:00:00 +0000") as Unix seconds UTC.
// Returns nothing for lines without a date and for 1970-01-01.
std::optional<int64_t> ParseFromLineDate(std::string_view line);

// Whether `line` (line end optional) is a From_ line by its shape alone:
// "From " sender date [zone] ["remote from" host], where the date is one of
// the forms above (1970-01-01 included) and ends the line; or the dateless
// "From -" that Netscape/Mozilla write. Such a line separates messages
// even without an empty line in front of it.
bool IsFromSeparatorLine(std::string_view line);

}  // namespace mailkeep::local
