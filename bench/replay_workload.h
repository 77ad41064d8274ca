// The replay workload: offline next-click prediction on the YOOCHOOSE and Taobao UserBehavior
// samples. The session model, popularity and item-to-item co-occurrence are trained and scored in
// the same run; docs/replay.md describes the method.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

struct ReplayWorkloadOptions {
  // Folder with yoochoose_100k/ and taobao_userbehavior_sample/ (read only).
  std::string behaviour_dir = "../shared/data/behaviour";
  uint64_t seed = 42;              // seed of the item vectors' randomized factorization
  double half_life_minutes = 0;    // the session model's half-life; 0 tunes it on a validation split
  size_t k = 20;                   // cut-off of HR@k and MRR@k
  double taobao_test_share = 0.2;  // Taobao sessions, the ones that end last, held out as test
  double validation_share = 0.1;   // training sessions, the ones that end last, held out for tuning
};

// Prints one JSON object with, per data set, its sizes, the half-life trials, the training and
// replay times, and HR@k and MRR@k of every predictor. Returns a process exit code.
int RunReplayWorkload(const ReplayWorkloadOptions& options);

}  // namespace tessera
