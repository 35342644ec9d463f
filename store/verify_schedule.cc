#include "store/verify_schedule.h"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <vector>

#include "store/util/files.h"

namespace mailkeep {
namespace {

constexpr const char* kStateFile = "verify-state";
constexpr const char* kStateMagic = "mailkeep-verify 1";

template <typename T>
bool ParseNumber(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  while (!line.empty() && words.size() < 8) {
    size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    line.remove_prefix(start);
    size_t end = line.find(' ');
    words.push_back(line.substr(0, end));
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
  }
  return words;
}

bool ValidSubset(uint32_t n, uint32_t m) { return m >= 1 && m <= kMaxVerifySubsets && n >= 1 && n <= m; }

}  // namespace

Result<SubsetSpec> ParseSubset(std::string_view text) {
  auto bad = [&] {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--read-data-subset wants N/M (1 <= N <= M <= " + std::to_string(kMaxVerifySubsets) +
                         ") or next/M");
  };
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return bad();
  SubsetSpec spec;
  if (!ParseNumber(text.substr(slash + 1), spec.of)) return bad();
  std::string_view first = text.substr(0, slash);
  if (first == "next") {
    spec.rotating = true;
    spec.subset = 1;
  } else if (!ParseNumber(first, spec.subset)) {
    return bad();
  }
  if (!ValidSubset(spec.subset, spec.of)) return bad();
  return spec;
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  auto bad = [] {
    return MakeError(ErrorCode::kInvalidArgument, "--max-duration wants a time such as 90s, 10m, 2h or 1d");
  };
  int64_t unit = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: unit = 0;
    }
    if (unit != 0) text.remove_suffix(1);
    if (unit == 0) unit = 1;
  }
  int64_t n = 0;
  if (!ParseNumber(text, n) || n <= 0 || n > 366 * 86400 / unit) return bad();
  return std::chrono::seconds(n * unit);
}

VerifyState ParseVerifyState(std::string_view text) {
  VerifyState state;
  if (!text.starts_with(kStateMagic)) return state;
  std::istringstream in{std::string(text.substr(0, 4096))};
  std::string line;
  while (std::getline(in, line)) {
    auto w = Words(line);
    if (w.size() == 3 && w[0] == "rotation") {
      uint32_t m = 0, next = 0;
      if (ParseNumber(w[1], m) && ParseNumber(w[2], next) && ValidSubset(next, m)) {
        state.rotation_of = m;
        state.rotation_next = next;
      }
    } else if (w.size() == 4 && w[0] == "open") {
      uint32_t n = 0, m = 0;
      int64_t after = 0;
      if (ParseNumber(w[1], n) && ParseNumber(w[2], m) && ParseNumber(w[3], after) && ValidSubset(n, m) &&
          after > 0) {
        state.open_subset = n;
        state.open_of = m;
        state.open_after = after;
      }
    }
  }
  return state;
}

std::string FormatVerifyState(const VerifyState& state) {
  std::string out = std::string(kStateMagic) + "\n";
  if (state.rotation_of > 0) {
    out += "rotation " + std::to_string(state.rotation_of) + " " + std::to_string(state.rotation_next) + "\n";
  }
  if (state.open_of > 0) {
    out += "open " + std::to_string(state.open_subset) + " " + std::to_string(state.open_of) + " " +
           std::to_string(state.open_after) + "\n";
  }
  return out;
}

Result<ScheduledVerify> VerifyOnSchedule(Archive& archive, const SubsetSpec& spec, VerifyOptions options,
                                         const std::function<void(const VerifyProblem&)>& on_problem,
                                         const std::function<void(int64_t, int64_t)>& on_progress) {
  const std::string path = archive.dir() + "/" + kStateFile;
  auto text = ReadFile(path);
  VerifyState state = text ? ParseVerifyState(*text) : VerifyState{};

  ScheduledVerify run;
  run.of = spec.of;
  run.subset = spec.rotating ? (state.rotation_of == spec.of ? state.rotation_next : 1) : spec.subset;
  if (state.open_of == run.of && state.open_subset == run.subset) run.resumed_after = state.open_after;
  options.subset = run.subset;
  options.of = run.of;
  options.after_id = run.resumed_after;
  MK_ASSIGN_OR_RETURN(run.result, archive.Verify(options, on_problem, on_progress));

  VerifyState next = state;
  if (run.result.complete) {
    if (run.resumed_after > 0 || (state.open_of == run.of && state.open_subset == run.subset)) {
      next.open_of = next.open_subset = 0;
      next.open_after = 0;
    }
    if (spec.rotating) {
      next.rotation_of = run.of;
      next.rotation_next = run.subset % run.of + 1;
    }
  } else {
    next.open_subset = run.subset;
    next.open_of = run.of;
    next.open_after = std::max(run.result.last_id, run.resumed_after);
    if (next.open_after == 0) next.open_of = next.open_subset = 0;  // stopped before the first message
    if (spec.rotating) {
      next.rotation_of = run.of;
      next.rotation_next = run.subset;  // the same subset again, from where it stopped
    }
  }
  if (FormatVerifyState(next) != FormatVerifyState(state)) MK_RETURN_IF_ERROR(WriteFileAtomic(path, FormatVerifyState(next)));
  return run;
}

}  // namespace mailkeep
