#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit and end-to-end) with CTest.
#   TESSERA_DATA_DIR  folder holding fashion/ (default: ../shared/data beside the repository)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh
build_dir="${TESSERA_BUILD_DIR:-build}"
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j 2
