#!/usr/bin/env bash
# The test command: installs dependencies, builds mailkeep, runs every test.
# Tests that need ../shared/corpus skip with a printed reason when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-debian.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILKEEP_WERROR=ON
cmake --build build -j2
cd build
ctest --output-on-failure -j2 --timeout 1200
