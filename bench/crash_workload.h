// The crash workload runs the driver of the crash end-to-end test for more iterations. It kills
// the real `tessera serve` with SIGKILL at random moments of a load of catalogue imports, single
// writes and shopper events, then restarts it and checks every acknowledged write.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

struct CrashWorkloadOptions {
  std::string work_dir;     // a folder that does not exist yet, created: the data folder and server log
  std::string fashion_dir;  // real catalogue (styles.csv, images/) the products are made from
  size_t iterations = 50;   // kill, restart and check
  size_t clean_restarts = 10;  // graceful restarts after the kills, the peer of the restart time
  uint64_t seed = 42;
};

// Prints one JSON object with the counts and restart times. Returns a process exit code: 1 when
// a write was lost, anything was corrupt or an iteration did not complete.
int RunCrashWorkload(const CrashWorkloadOptions& options);

}  // namespace tessera
