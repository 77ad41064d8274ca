#!/usr/bin/env bash
# Builds Tessera with AddressSanitizer and UndefinedBehaviorSanitizer (TESSERA_SANITIZE) into
# build-asan/ (or $TESSERA_ASAN_BUILD_DIR) and runs the test suite under them. Arguments go to
# ctest, e.g. -L or -E to choose tests. scripts/test.sh runs it, and BENCHMARKS.md has what it costs.
#   TESSERA_DATA_DIR  folder holding fashion/ (default: ../shared/data beside the repository)
#   JOBS              parallel compile jobs (default: 2)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="${TESSERA_ASAN_BUILD_DIR:-build-asan}"

# The options apply at build time too, because gtest_discover_tests runs each test binary to list
# its tests. UBSan stops at its first report, so that a report fails the test that caused it.
# libstdc++ 12 annotates no container for ASan unless _GLIBCXX_SANITIZE_VECTOR is defined, so
# vectors shared with uninstrumented libraries (libtorch, Faiss, RocksDB) raise no false
# container-overflow reports, and detect_container_overflow can stay on. fuzz/lsan.supp lists
# leaks inside third-party libraries.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}"

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  generator=()
  command -v ninja > /dev/null && generator=(-G Ninja)
  # The benchmarks are built too, although no test runs them, so that a change that breaks their
  # build fails here rather than in scripts/demo.sh.
  # -O1 -g1 rather than RelWithDebInfo's -O2 -g: with the sanitizers, GCC 12 compiled
  # src/engine/engine.cc in 26 CPU s at -O1 -g1 against 105 s at -O2 -g (20 s plain at -O2 -g).
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
    -DTESSERA_SANITIZE=ON -DTESSERA_DATA_DIR="${TESSERA_DATA_DIR:-$PWD/../shared/data}"
fi
cmake --build "$build_dir" -- -j "${JOBS:-2}"
ctest --test-dir "$build_dir" --output-on-failure --timeout 600 -j 2 "$@"
