// Runs LLVMFuzzerTestOneInput over every file in the given files or
// directories (recursively), so fuzz seeds and crash reproducers run under
// ctest without libFuzzer (habit 13; fmt's test/fuzzing does the same).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // An allocation of exactly the input's size, as libFuzzer passes it, so
  // that under ASan a read one byte past the end is caught (a std::string
  // has its terminator and spare capacity there).
  const std::unique_ptr<uint8_t[]> input(new uint8_t[bytes.size()]);
  std::memcpy(input.get(), bytes.data(), bytes.size());
  LLVMFuzzerTestOneInput(input.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t count = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(arg, ec))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& p : files) {
        ok &= RunFile(p);
        ++count;
      }
    } else {
      ok &= RunFile(arg);
      ++count;
    }
  }
  std::printf("replayed %zu inputs\n", count);
  return ok && count > 0 ? 0 : 1;
}
