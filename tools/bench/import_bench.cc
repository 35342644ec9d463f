// import_bench: measures the archive core on a corpus. Not a test.
//
//   import_bench [--workers N] [--level L] PATH...
//
// PATH is anything `mailkeep import` takes (Maildir, mbox[.gz|.zst], files).
// Phases, each timed on its own:
//   read     split the input into messages (decompression + mbox splitting)
//   parse    ParseMessage with text extraction, one thread
//   import   Archive::Ingest in batches of 1,000 into a fresh temporary
//            archive (hash, parse, compress on worker threads, fsync, commit)
//   readback ReadRaw of every message (decompress + SHA-256 check)
// Prints messages/s and MB/s per phase, peak RSS and the store-size ratio.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/archive.h"
#include "store/mime/message.h"
#include "sync/local/local_source.h"

using namespace mailkeep;

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

long PeakRssMb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

void Row(const char* phase, size_t messages, uint64_t bytes, double secs) {
  std::printf("%-9s %8zu msgs %9.1f MB %8.2f s %10.0f msgs/s %8.1f MB/s\n", phase, messages,
              static_cast<double>(bytes) / 1e6, secs, static_cast<double>(messages) / secs,
              static_cast<double>(bytes) / 1e6 / secs);
}

}  // namespace

int main(int argc, char** argv) {
  ArchiveOptions options;
  std::vector<std::string> inputs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workers" && i + 1 < argc) {
      options.workers = std::atoi(argv[++i]);
    } else if (a == "--level" && i + 1 < argc) {
      options.compression_level = std::atoi(argv[++i]);
    } else {
      inputs.push_back(a);
    }
  }
  if (inputs.empty()) {
    std::fprintf(stderr, "usage: import_bench [--workers N] [--level L] PATH...\n");
    return 2;
  }

  // read: everything into memory once, so later phases measure only themselves.
  std::vector<RawMessage> messages;
  uint64_t bytes = 0;
  auto t = std::chrono::steady_clock::now();
  for (const auto& path : inputs) {
    auto st = local::ReadInput(
        path,
        [&](RawMessage&& m) -> Status {
          bytes += m.bytes.size();
          messages.push_back(std::move(m));
          return OkStatus();
        },
        [](const std::string& where, const std::string& why) {
          std::fprintf(stderr, "skipped %s: %s\n", where.c_str(), why.c_str());
        });
    if (!st) {
      std::fprintf(stderr, "import_bench: %s\n", st.error().message().c_str());
      return 1;
    }
  }
  Row("read", messages.size(), bytes, Seconds(t));

  t = std::chrono::steady_clock::now();
  size_t text_bytes = 0;
  for (const auto& m : messages) text_bytes += mime::ParseMessage(m.bytes).text.size();
  Row("parse", messages.size(), bytes, Seconds(t));

  char tmpl[] = "/tmp/mailkeep-bench-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  std::string dir = std::string(tmpl) + "/archive";
  size_t stored = 0;
  {
    auto archive = Archive::Create(dir, options);
    if (!archive) {
      std::fprintf(stderr, "import_bench: %s\n", archive.error().message().c_str());
      return 1;
    }
    std::vector<RawMessage> copy = messages;  // Ingest consumes its batch
    t = std::chrono::steady_clock::now();
    for (size_t i = 0; i < copy.size(); i += 1000) {
      std::vector<RawMessage> batch(std::make_move_iterator(copy.begin() + static_cast<long>(i)),
                                    std::make_move_iterator(copy.begin() + static_cast<long>(std::min(copy.size(), i + 1000))));
      auto out = (*archive)->Ingest(std::move(batch));
      if (!out) {
        std::fprintf(stderr, "import_bench: %s\n", out.error().message().c_str());
        return 1;
      }
      for (const auto& o : *out) stored += o.status == IngestStatus::kStored;
    }
    Row("import", messages.size(), bytes, Seconds(t));

    auto ids = (*archive)->AllIds();
    t = std::chrono::steady_clock::now();
    uint64_t back = 0;
    for (int64_t id : *ids) {
      auto raw = (*archive)->ReadRaw(id);
      if (!raw) {
        std::fprintf(stderr, "import_bench: %s\n", raw.error().message().c_str());
        return 1;
      }
      back += raw->size();
    }
    Row("readback", ids->size(), back, Seconds(t));
  }
  {
    // Sizes after the writer closed (its WAL is checkpointed into the catalog).
    auto archive = Archive::Open(dir, OpenMode::kReadOnly, options);
    if (!archive) return 1;
    auto stats = (*archive)->Stats();
    std::printf("\nstored %zu distinct messages; raw %.1f MB -> packs %.1f MB + catalog %.1f MB = %.1f MB\n", stored,
                static_cast<double>(stats->raw_bytes) / 1e6, static_cast<double>(stats->pack_bytes) / 1e6,
                static_cast<double>(stats->catalog_bytes) / 1e6, static_cast<double>(stats->stored_bytes) / 1e6);
    std::printf("store ratio %.3f (packs %.3f, catalog %.3f), %lld dictionaries, level %d, %d workers\n",
                static_cast<double>(stats->stored_bytes) / static_cast<double>(stats->raw_bytes),
                static_cast<double>(stats->pack_bytes) / static_cast<double>(stats->raw_bytes),
                static_cast<double>(stats->catalog_bytes) / static_cast<double>(stats->raw_bytes),
                static_cast<long long>(stats->dictionaries), options.compression_level,
                options.workers ? options.workers : static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
  }
  std::printf("peak RSS %ld MB (includes the whole corpus held in memory: %.1f MB)\n", PeakRssMb(),
              static_cast<double>(bytes) / 1e6);
  std::filesystem::remove_all(tmpl);
  (void)text_bytes;
  return 0;
}
