// Checks for big archives from cron: `verify` reads a subset of the
// messages (a rotating one, or N of M as restic's --read-data-subset) and
// stops at a deadline, resuming next time where it stopped (as borg's
// check --max-duration).
//
// The schedule lives in ARCHIVE/verify-state, a small text file replaced
// atomically (temp file, fsync, rename) after each run:
//   mailkeep-verify 1
//   rotation M NEXT      the subset NEXT of M is the next rotating run's
//   open N M AFTER       subset N of M was stopped after message id AFTER
// A missing or unreadable file counts as empty (everything starts over);
// nothing in it sizes memory or names a file. Two verify runs at once may
// lose one's update (a subset is then read twice), never a message.
//
// Thread-safety: none; one call at a time per archive.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "store/archive.h"
#include "store/util/status.h"

namespace mailkeep {

inline constexpr uint32_t kMaxVerifySubsets = 10000;

struct SubsetSpec {
  bool rotating = false;        // "next/M": the subset after the last one run
  uint32_t subset = 1, of = 1;  // explicit "N/M"; 1/1 = every message
};

// "N/M" (1 <= N <= M <= kMaxVerifySubsets) or "next/M"; kInvalidArgument
// with a one-line reason otherwise.
Result<SubsetSpec> ParseSubset(std::string_view text);
// "90s", "10m", "2h", "1d" or plain seconds; positive, at most 366 days.
Result<std::chrono::seconds> ParseDuration(std::string_view text);

struct VerifyState {
  uint32_t rotation_of = 0, rotation_next = 1;  // rotation_of 0: no rotation yet
  uint32_t open_subset = 0, open_of = 0;         // open_of 0: nothing to resume
  int64_t open_after = 0;
};
VerifyState ParseVerifyState(std::string_view text);  // bad or missing lines: defaults
std::string FormatVerifyState(const VerifyState& state);

struct ScheduledVerify {
  VerifyResult result;
  uint32_t subset = 1, of = 1;  // what this run read
  int64_t resumed_after = 0;    // > 0: it continued a stopped run after this id
};

// Picks the subset (and where to resume) from ARCHIVE/verify-state, runs
// Archive::Verify with `options` (its subset fields are set here; deep,
// deadline and clock are the caller's) and records the outcome: a finished
// rotating subset advances the rotation, a stopped one is resumed by the
// next run of the same subset. Errors: Verify's, or kIoError when the state
// cannot be written (the checks themselves ran and were reported).
Result<ScheduledVerify> VerifyOnSchedule(Archive& archive, const SubsetSpec& spec, VerifyOptions options,
                                         const std::function<void(const VerifyProblem&)>& on_problem,
                                         const std::function<void(int64_t, int64_t)>& on_progress = {});

}  // namespace mailkeep
