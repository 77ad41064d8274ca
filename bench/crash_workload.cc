#include "crash_workload.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "e2e/crash_driver.h"
#include "eval/metrics.h"

namespace tessera {
namespace {

using nlohmann::json;

json StartTimeJson(const std::vector<double>& start_ms) {
  const MetricSummary summary = Summarize(start_ms);
  return {{"median_ms", summary.median}, {"p99_ms", summary.p99}, {"mean_ms", summary.mean}, {"count", summary.count}};
}

}  // namespace

int RunCrashWorkload(const CrashWorkloadOptions& options) {
  e2e::CrashTestOptions crash;
  crash.work_dir = options.work_dir;
  crash.fashion_dir = options.fashion_dir;
  crash.iterations = options.iterations;
  crash.clean_restarts = options.clean_restarts;
  crash.seed = options.seed;
  const e2e::CrashTestReport report = e2e::RunCrashTest(crash);

  const MetricSummary after_kill = Summarize(report.restart_ms);
  const MetricSummary after_stop = Summarize(report.clean_restart_ms);
  json out = {{"workload", "crash"},
              {"seed", report.seed},
              {"iterations", report.iterations},
              {"acknowledged_product_writes", report.acknowledged_product_writes},
              {"acknowledged_events", report.acknowledged_events},
              {"products_checked", report.products_checked},
              {"deletes_checked", report.deletes_checked},
              {"events_checked", report.events_checked},
              {"profiles_checked", report.profiles_checked},
              {"in_flight_requests", report.in_flight_requests},
              {"lost", report.lost},
              {"corrupt", report.corrupt},
              {"error_responses", report.error_responses},
              {"restart_after_kill", StartTimeJson(report.restart_ms)},
              {"restart_after_sigterm", StartTimeJson(report.clean_restart_ms)},
              {"restart_median_ratio_kill_to_sigterm", after_stop.median > 0 ? after_kill.median / after_stop.median : 0.0},
              {"failures", report.failures}};
  std::cout << out.dump(2) << "\n";
  const bool passed = report.iterations == options.iterations && report.lost == 0 && report.corrupt == 0 &&
                      report.error_responses == 0;
  return passed ? 0 : 1;
}

}  // namespace tessera
