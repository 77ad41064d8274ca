// End to end: the real `tessera` server is killed with SIGKILL at random moments while it takes
// catalogue imports, single upserts and deletes, and shopper events over loopback. After each
// restart on the same data folder, every acknowledged write is there, acknowledged deletes stay
// deleted, in-flight writes are whole or absent, profiles equal their events, and the server
// serves searches. `tessera_bench crash` runs the same driver for many more iterations.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "e2e/crash_driver.h"
#include "e2e/e2e_support.h"

namespace {

namespace fs = std::filesystem;
using namespace tessera::e2e;

// The seed of the run: TESSERA_CRASH_SEED when set (to replay a failure), else a fresh one.
uint64_t CrashSeed() {
  if (const char* text = std::getenv("TESSERA_CRASH_SEED")) return std::strtoull(text, nullptr, 10);
  return std::random_device()();
}

TEST(CrashEndToEnd, AcknowledgedWritesSurviveSigkill) {
  const fs::path fashion = DataDir() / "fashion";
  if (!fs::exists(fashion / "styles.csv")) GTEST_SKIP() << "fashion catalogue not found at " << fashion;

  CrashTestOptions options;
  options.work_dir = fs::temp_directory_path() / ("crash-e2e-" + std::to_string(getpid()));
  options.fashion_dir = fashion;
  options.seed = CrashSeed();
  options.iterations = 4;
  const CrashTestReport report = RunCrashTest(options);
  SCOPED_TRACE("seed " + std::to_string(report.seed) + ": replay with TESSERA_CRASH_SEED=" + std::to_string(report.seed));

  EXPECT_EQ(report.iterations, options.iterations);
  EXPECT_EQ(report.lost, 0u);
  EXPECT_EQ(report.corrupt, 0u);
  EXPECT_EQ(report.error_responses, 0u);
  for (const std::string& failure : report.failures) ADD_FAILURE() << failure;
  // The load reached the server before each kill.
  EXPECT_GT(report.products_checked, 0u);
  EXPECT_GT(report.events_checked, 0u);
  EXPECT_GT(report.profiles_checked, 0u);
  if (!HasFailure()) fs::remove_all(options.work_dir);
}

}  // namespace
