// mailkeep verify [--deep] [--read-data-subset N/M|next/M] [--max-duration T]:
// every catalog row (or a subset) points at a readable frame whose SHA-256
// matches; --deep re-parses each message too. Reports each problem and ends
// with one line for monitoring (exit status 1 on problems); fixes nothing.
// The subset rotation and where a stopped run resumes: store/verify_schedule.h.
#include <chrono>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "index/index.h"
#include "tools/command.h"
#include "index/feeder.h"
#include "store/verify_schedule.h"

namespace mailkeep::tools {

int CmdVerify(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("verify options");
  AddCommonOptions(desc, global);
  std::string subset_text = "1/1", duration_text;
  desc.add_options()("deep", "also re-parse every message")(
      "read-data-subset", po::value<std::string>(&subset_text),
      "N/M: read subset N of M; next/M: the next of M subsets in turn (state kept in the archive)")(
      "max-duration", po::value<std::string>(&duration_text),
      "stop after this long (90s, 10m, 2h); the next run of the same subset resumes there");
  po::positional_options_description pos;
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args,
                          "mailkeep [--archive DIR] verify [--deep] [--read-data-subset N/M|next/M] "
                          "[--max-duration 10m] [--json]",
                          desc, pos, vm)) {
    return *rc;
  }
  auto spec = ParseSubset(subset_text);
  if (!spec) return FailUsage(spec.error().message());
  VerifyOptions options;
  options.deep = vm.count("deep") > 0;
  if (!duration_text.empty()) {
    auto limit = ParseDuration(duration_text);
    if (!limit) return FailUsage(limit.error().message());
    options.deadline = std::chrono::steady_clock::now() + *limit;
  }
  auto archive = OpenArchive(global, OpenMode::kReadOnly);
  if (!archive) return FailArchive(archive.error());
  // What the index comparison below needs is read first, in this order:
  // the messages, what waits for the index (queue, then journal), the
  // index's documents; Verify reads the catalog again. A sync or import
  // running meanwhile only adds (catalog and queue, then journal, then
  // index), so it cannot make the comparison report drift that is not there.
  auto messages_before = (*archive)->AllIds();
  if (!messages_before) return Fail(messages_before.error());
  auto pending = (*archive)->PendingIndexCount();
  if (!pending) return Fail(pending.error());
  // Journaled by a run that was stopped (or is running): waiting for the
  // index like the queued ones (an id can be in both; counting it twice
  // only makes this check more lenient by that much).
  auto in_flight = index::InFlightIds(**archive);
  if (!in_flight) return Fail(in_flight.error());
  *pending += static_cast<int64_t>(in_flight->size());
  auto docs = index::IndexReader::Open(index::IndexDir(**archive));
  std::optional<Result<int64_t>> count;
  if (docs) count = (*docs)->DocumentCount();
  const auto before = static_cast<int64_t>(messages_before->size());

  Progress progress(global, "verifying");
  nlohmann::json problems = nlohmann::json::array();
  int64_t problem_count = 0;
  auto run = VerifyOnSchedule(
      **archive, *spec, options,
      [&](const VerifyProblem& p) {
        ++problem_count;
        progress.Finish();
        if (global.json) {
          problems.push_back({{"id", p.id}, {"message_id", p.message_id}, {"problem", p.what}});
        } else if (p.id == 0) {
          std::cout << "store: " << TerminalText(p.what) << "\n";
        } else {
          std::cout << "message " << p.id << " <" << TerminalText(p.message_id) << ">: " << TerminalText(p.what) << "\n";
        }
      },
      [&](int64_t done, int64_t total) { progress.Update(done, total); });
  progress.Finish();
  if (!run) return Fail(run.error());
  auto messages_now = (*archive)->AllIds();
  if (!messages_now) return Fail(messages_now.error());
  const auto total = static_cast<int64_t>(messages_now->size());

  // Drift between the catalog and the full-text index.
  auto report = [&](const std::string& what) {
    ++problem_count;
    if (global.json) {
      problems.push_back({{"id", 0}, {"message_id", ""}, {"problem", what}});
    } else {
      std::cout << "index: " << TerminalText(what) << "\n";
    }
  };
  if (!docs) {
    // No index yet: fine while every message is still queued for it
    // (import --no-index, or a run killed before its first index commit).
    if (docs.error().code() != ErrorCode::kNotFound || *pending < before) {
      report(docs.error().message());
    } else if (*pending > 0 && global.verbosity > 0 && !global.json) {
      std::cout << "index: " << *pending << " messages waiting to be indexed (the next import catches up)\n";
    }
  } else {
    if (!*count) return Fail(count->error());
    const int64_t documents = **count;
    // Documents of removed messages (delete, prune) go once the index has
    // committed their removal; until then they wait in the queue.
    int64_t removing = 0;
    if (documents > total) {
      auto queued = (*archive)->PendingIndex(static_cast<size_t>(*pending));
      if (!queued) return Fail(queued.error());
      for (int64_t id : *queued) {
        auto info = (*archive)->GetInfo(id);
        if (info && !*info) ++removing;
      }
    }
    if (documents > total + removing) {
      report(std::to_string(documents) + " documents for " + std::to_string(total) +
             " messages; run `mailkeep reindex`");
    } else if (documents + *pending < before) {
      report(std::to_string(before - documents - *pending) +
             " messages missing from the index and not queued; run `mailkeep reindex`");
    } else if (*pending > 0 && global.verbosity > 0 && !global.json) {
      std::cout << "index: " << *pending << " messages waiting to be indexed (the next import catches up)\n";
    }
  }
  const VerifyResult& r = run->result;
  const std::string subset = std::to_string(run->subset) + "/" + std::to_string(run->of);
  if (global.json) {
    std::cout << nlohmann::json{{"checked", r.checked}, {"subset", subset}, {"complete", r.complete},
                                {"resumed_after", run->resumed_after}, {"problems", problems}}
                     .dump(2)
              << "\n";
  } else if (global.verbosity > 0) {
    // One line for monitoring (cron mail, a check's output).
    std::cout << "verify: " << (problem_count == 0 ? "ok " : "FAILED ") << r.checked << " messages checked (subset "
              << subset << (run->resumed_after > 0 ? ", resumed" : "")
              << (r.complete ? "" : ", stopped at --max-duration; the next run resumes") << "), " << problem_count
              << (problem_count == 1 ? " problem" : " problems") << "\n";
  }
  return problem_count == 0 ? kExitOk : kExitPartial;
}

}  // namespace mailkeep::tools
