#!/usr/bin/env bash
# Installs dependencies, builds, and runs every test (unit and end-to-end) with CTest, under
# AddressSanitizer and UndefinedBehaviorSanitizer (scripts/test-sanitized.sh, build-asan/), so a
# memory error or undefined behaviour anywhere in the suite fails it.
#   TESSERA_DATA_DIR   folder holding fashion/ (default: ../shared/data beside the repository)
#   TESSERA_SANITIZE   0 runs the suite on the plain build in build/ instead (about 3/4 of the time)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
if [ "${TESSERA_SANITIZE:-1}" = 0 ]; then
  ./scripts/build.sh
  build_dir="${TESSERA_BUILD_DIR:-build}"
  ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j 2
else
  ./scripts/test-sanitized.sh
fi
