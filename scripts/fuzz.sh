#!/usr/bin/env bash
# Builds the libFuzzer targets in fuzz/ with clang, AddressSanitizer and UndefinedBehaviorSanitizer,
# then runs each for SECONDS (default 60), one after another.
#   scripts/fuzz.sh [SECONDS [TARGET...]]     TARGET: product_json event_json search_request
#                                             image_decoder audio_decoder (default: all)
#   TESSERA_FUZZ_BUILD_DIR  build folder (default: build-fuzz)
#   JOBS                    parallel compile jobs (default: 2)
# Each target's corpus grows in BUILD/corpus/<target>/ from run to run, on top of the seeds that
# make_seed_corpus writes to BUILD/seeds/. A crash, hang or sanitizer report stops that target and
# leaves its input in BUILD/findings/<target>/; the log is BUILD/logs/<target>.log, ending with
# libFuzzer's stats. Exits non-zero when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=(product_json event_json search_request image_decoder audio_decoder)
fi
build_dir="${TESSERA_FUZZ_BUILD_DIR:-build-fuzz}"

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DTESSERA_FUZZ=ON -DTESSERA_BUILD_BENCHMARKS=OFF
fi
cmake --build "$build_dir" --target tessera_fuzzers -- -j "${JOBS:-2}"
"$build_dir/fuzz/make_seed_corpus" "$build_dir/seeds"

# Leaks inside third-party libraries are listed in fuzz/lsan.supp with the reason for each.
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}"
# OpenCV logs every rejected photo; its errors are enough.
export OPENCV_LOG_LEVEL="${OPENCV_LOG_LEVEL:-ERROR}"

failed=()
for target in "${targets[@]}"; do
  binary="$build_dir/fuzz/${target}_fuzzer"
  if [ ! -x "$binary" ]; then
    echo "unknown fuzz target '$target': see the list at the top of $0" >&2
    exit 2
  fi
  mkdir -p "$build_dir/corpus/$target" "$build_dir/findings/$target" "$build_dir/logs"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
           -artifact_prefix="$build_dir/findings/$target/")
  case "$target" in
    product_json | event_json) options+=(-dict=fuzz/json.dict) ;;
  esac
  echo "== $target: ${seconds} s"
  if ! "$binary" "${options[@]}" "$build_dir/corpus/$target" "$build_dir/seeds/$target" \
      > "$build_dir/logs/$target.log" 2>&1; then
    failed+=("$target")
    echo "!! $target found a problem: see $build_dir/logs/$target.log and $build_dir/findings/$target/"
  fi
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^#[0-9]+ +DONE' \
    "$build_dir/logs/$target.log" || true
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz targets with findings: ${failed[*]}" >&2
  exit 1
fi
