// mailkeep import PATH...: Maildirs, mbox files (.gz/.zst) and message files.
// Messages go to the Archive in batches bounded by count and bytes; a
// message counts as imported only once its batch is committed.
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "store/util/files.h"
#include "sync/local/local_source.h"
#include "tools/command.h"
#include "index/feeder.h"

namespace mailkeep::tools {
namespace {

struct Tally {
  int64_t imported = 0;     // new messages stored
  int64_t duplicates = 0;   // already archived, new location recorded
  int64_t unchanged = 0;    // already archived from this very place
  int64_t failed = 0;
  uint64_t bytes = 0;
  nlohmann::json failures = nlohmann::json::array();
};

bool ValidAccountName(const std::string& name) {
  if (name.empty() || name.size() > 100) return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

int CmdImport(GlobalOptions& global, const std::vector<std::string>& args) {
  po::options_description desc("import options");
  AddCommonOptions(desc, global);
  size_t batch_count = 1000;
  size_t batch_mb = 64;
  uint64_t max_message_mb = 64;
  int crash_after = 0;
  ArchiveOptions options;
  local::FolderNaming naming;
  std::string names_name = "mutf7";
  desc.add_options()
      ("path", po::value<std::vector<std::string>>(), "Maildir, mbox (.gz, .zst), directory or message file")
      ("batch", po::value<size_t>(&batch_count)->default_value(1000), "messages per commit")
      ("batch-mb", po::value<size_t>(&batch_mb)->default_value(64), "megabytes per commit")
      ("max-message-mb", po::value<uint64_t>(&max_message_mb)->default_value(64),
       "largest message in MiB (after decompression, 1-2048); larger ones are skipped with a line each")
      ("no-index", "store only; the next import or `mailkeep reindex --pending` indexes them")
      ("account", po::value<std::string>(&naming.account),
       "record a directory's folders by name (INBOX, Work/Sub: what `export --format maildir` wrote) "
       "under this account, instead of by path under account local")
      ("folder-names", po::value<std::string>(&names_name),
       "with --account: folder directory names are mutf7 (modified UTF-7 decoded where well-formed; default) | utf8")
      ("debug-crash-after", po::value<int>(&crash_after), "testing: abort after N commits")
      ("debug-pack-size", po::value<uint64_t>(&options.pack_size_limit), "testing: start a new pack past N bytes")
      ("debug-dictionary-after", po::value<size_t>(&options.dictionary_after),
       "testing: train the first dictionary after N messages (0: none)")
      ("debug-fresh-segment", "testing: index the run into a segment of its own, however small");
  po::positional_options_description pos;
  pos.add("path", -1);
  po::variables_map vm;
  if (auto rc = ParseArgs(global, args, "mailkeep [--archive DIR] import PATH...", desc, pos, vm)) return *rc;
  if (!vm.count("path")) return FailUsage("import needs at least one PATH (a Maildir, an mbox file or message files)");
  if (batch_count == 0 || batch_mb == 0) return FailUsage("--batch and --batch-mb must be positive");
  if (max_message_mb == 0 || max_message_mb > 2048) return FailUsage("--max-message-mb must be 1 to 2048");
  if (vm.count("account") && !ValidAccountName(naming.account)) {
    return FailUsage("--account wants a name of 1 to 100 printable characters");
  }
  if (names_name != "mutf7" && names_name != "utf8") {
    return FailUsage("unknown --folder-names '" + names_name + "': use mutf7 or utf8");
  }
  if (vm.count("folder-names") && !vm.count("account")) return FailUsage("--folder-names goes with --account NAME");
  if (names_name == "utf8") naming.names = exporting::FolderNameEncoding::kUtf8;
  local::ReadLimits limits;
  limits.max_message_size = max_message_mb << 20;
  limits.too_large_hint = " (a larger --max-message-mb imports it)";
  const auto& paths = vm["path"].as<std::vector<std::string>>();
  // Every PATH must be there before anything is imported: a typo in the
  // last one is a usage error, not a half-done import.
  std::vector<std::string> missing;
  for (const auto& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) missing.push_back(path + ": " + ErrnoText(errno));
  }
  if (!missing.empty()) {
    return FailUsage(missing.front() +
                     (missing.size() > 1 ? " (and " + std::to_string(missing.size() - 1) + " more missing)" : "") +
                     "; nothing imported");
  }

  options.debug_crash_after_commits = crash_after;
  auto opened = OpenArchive(global, OpenMode::kReadWrite, options);
  if (!opened) return FailArchive(opened.error());
  Archive& archive = **opened;

  // The full-text index follows the store batch by batch: each committed
  // batch is handed to the index writer, whose shard threads write it while
  // the next batch is stored. Everything stored is durable whatever happens
  // to indexing; a failed or killed indexing run resumes later.
  int64_t not_indexed = 0;  // stored, but not indexed: a partial result
  std::optional<Error> index_error;
  std::unique_ptr<index::IndexFeeder> feeder;
  if (!vm.count("no-index")) {
    // A large import is indexed into a segment of its own; counting the
    // input's bytes stops once it is large enough for that.
    index::IndexWriterOptions writer;
    if (vm.count("debug-fresh-segment")) {
      writer.fresh_segment_min_documents = 1;
      writer.fresh_segment_min_bytes = 0;
    }
    writer.expected_bytes = local::InputBytesUpTo(paths, writer.fresh_segment_min_bytes);
    feeder = OpenCommandFeeder(archive, &not_indexed, &index_error, writer);
  }
  auto feed_index = [&](std::unordered_map<int64_t, index::AtHand>* at_hand) {
    if (!feeder) return;
    if (Status st = feeder->Feed(at_hand); !st) {
      index_error = st.error();
      feeder.reset();  // stop indexing; what is journaled is indexed by the next run
    }
  };

  Tally tally;
  Progress progress(global, "importing");
  auto start = std::chrono::steady_clock::now();
  std::vector<RawMessage> batch;
  size_t batch_bytes = 0;
  int64_t seen = 0;

  auto report_failure = [&](const std::string& where, const std::string& why) {
    ++tally.failed;
    progress.Finish();
    if (global.json) {
      tally.failures.push_back({{"where", where}, {"why", why}});
    } else {
      PrintError(where + ": " + why);
    }
  };
  auto flush = [&]() -> Status {
    if (batch.empty()) return OkStatus();
    std::vector<Origin> origins;
    origins.reserve(batch.size());
    for (const auto& m : batch) origins.push_back(m.origin);
    // New messages are parsed once, for the catalog and the index both.
    const mime::ParseLimits index_limits = index::IndexParseLimits();
    auto outcomes = archive.Ingest(std::move(batch), feeder ? &index_limits : nullptr);
    batch.clear();
    batch_bytes = 0;
    if (!outcomes) return std::unexpected(outcomes.error());
    for (size_t i = 0; i < outcomes->size(); ++i) {
      const auto& o = (*outcomes)[i];
      // With -v every committed message is listed as it is committed, so a
      // caller (or the crash test) knows exactly what is durable.
      if (global.verbosity >= 2 && o.status != IngestStatus::kFailed) {
        std::printf("%s %lld %s\n",
                    o.status == IngestStatus::kStored ? "stored" : o.status == IngestStatus::kDuplicate ? "duplicate" : "known",
                    (long long)o.id, o.sha256.c_str());
      }
      switch (o.status) {
        case IngestStatus::kStored: ++tally.imported; break;
        case IngestStatus::kDuplicate: ++tally.duplicates; break;
        case IngestStatus::kKnownLocation: ++tally.unchanged; break;
        case IngestStatus::kFailed:
          report_failure(origins[i].folder + (origins[i].key.empty() ? "" : ":" + origins[i].key), o.error);
          break;
      }
    }
    if (global.verbosity >= 2) std::fflush(stdout);
    std::unordered_map<int64_t, index::AtHand> at_hand;
    for (auto& o : *outcomes) {
      if (o.status == IngestStatus::kStored && o.parsed) at_hand[o.id].parsed = std::move(o.parsed);
    }
    feed_index(&at_hand);
    return OkStatus();
  };

  for (const auto& path : paths) {
    bool store_failed = false;
    auto st = local::ReadInput(
        path,
        [&](RawMessage&& m) -> Status {
          ++seen;
          tally.bytes += m.bytes.size();
          batch_bytes += m.bytes.size();
          batch.push_back(std::move(m));
          if (batch.size() >= batch_count || batch_bytes >= batch_mb * 1024 * 1024) {
            auto flushed = flush();
            store_failed = !flushed;
            MK_RETURN_IF_ERROR(flushed);
          }
          progress.Update(seen);
          return OkStatus();
        },
        report_failure, limits, naming);
    if (st) continue;
    if (!store_failed) {
      // The path went away after it was checked: that input failed, the
      // rest of the batch and the other paths still go in.
      report_failure(path, st.error().message());
      continue;
    }
    // The archive refused a commit: stop, but never leave collected
    // messages uncommitted (the batch is empty after a failed flush; this
    // keeps the rule should that change).
    progress.Finish();
    if (auto flushed = flush(); !flushed) PrintError(flushed.error().message());
    return Fail(st.error());
  }
  if (auto st = flush(); !st) {
    progress.Finish();
    return Fail(st.error());
  }
  progress.Finish();

  // Indexing finishes: the rest of the queue (messages of earlier runs too),
  // then one commit.
  if (feeder) {
    Status st = feeder->Feed(nullptr);
    if (st) st = feeder->Commit();
    if (!st) index_error = st.error();
  }
  const int64_t indexed = feeder ? feeder->result().indexed : 0;
  feeder.reset();  // closes the index (compacting it after a bulk load)
  if (index_error) {
    PrintError("messages are archived, but " + IndexStoppedLine(*index_error, "the next import"));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (global.json) {
    nlohmann::json j = {{"imported", tally.imported}, {"duplicates", tally.duplicates},
                        {"unchanged", tally.unchanged}, {"failed", tally.failed},
                        {"bytes", tally.bytes},       {"seconds", secs},
                        {"indexed", indexed},
                        {"not_indexed", not_indexed},
                        {"failures", tally.failures}};
    std::cout << j.dump(2) << "\n";
  } else if (global.verbosity > 0) {
    std::printf("imported %lld, duplicates %lld, already archived %lld, failed %lld (%.1f MB in %.1f s, %.0f messages/s)\n",
                (long long)tally.imported, (long long)tally.duplicates, (long long)tally.unchanged,
                (long long)tally.failed, static_cast<double>(tally.bytes) / 1e6, secs,
                secs > 0 ? static_cast<double>(seen) / secs : 0.0);
  }
  if (not_indexed > 0 && global.verbosity > 0 && !global.json) {
    std::printf("%lld message(s) archived but not indexed; `mailkeep reindex --pending` retries them\n",
                (long long)not_indexed);
  }
  return tally.failed > 0 || not_indexed > 0 || index_error ? kExitPartial : kExitOk;
}

}  // namespace mailkeep::tools
