#!/usr/bin/env bash
# The test command: installs dependencies, builds mailkeep, runs every test
# (the fuzz seeds also under ASan + UBSan, in build-asan).
# Tests that need ../shared/corpus skip with a printed reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILKEEP_WERROR=ON
cmake --build build -j2
# The fuzz seeds again under AddressSanitizer + UBSan (any finding fails):
# a second, small build of only the replay targets and their libraries
# (about a minute of CPU, no cache).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMAILKEEP_SANITIZE=ON -DMAILKEEP_WERROR=ON
cmake --build build-asan -j2 --target fuzz_replay
ctest --test-dir build-asan --output-on-failure -R '_fuzz_seeds$'
cd build
ctest --output-on-failure -j2 --timeout 1200
