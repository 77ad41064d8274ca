// The shoppers workload: simulated shoppers (eval/shopper_simulator.h) click through the real
// engine. The nDCG@10 of their next queries is measured after 0, 1, 3 and 10 events for the
// unpersonalized ranking, the engine's personalization and a count-based baseline, in one run.
// docs/personalization.md describes the simulation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/engine.h"
#include "eval/shopper_simulator.h"

namespace tessera {

struct ShoppersWorkloadOptions {
  std::string data_dir;  // an ingested store with a joint model; shoppers' events are erased after use
  std::string synonyms_path;
  // "tuning", "reporting" or "both". The two splits draw their shoppers with different seeds,
  // from disjoint halves of the judged queries, so that options tuned on one are reported on
  // the other.
  std::string split = "both";
  size_t shoppers = 100;  // per split
  PersonalizationOptions personalization;
  AttributeCountOptions baseline;
  ClickModelOptions clicks;
  // When set, the feature rows of every measured query after the first event, extracted with the
  // shopper's profile and graded for the shopper (conflict queries by their own grades), are
  // written here as JSON Lines for `tessera train-ranker --feature-rows`.
  std::string rows_path;
};

// Opens the engine on a manual clock, runs the splits and prints one JSON object. Per split and
// checkpoint it contains the mean nDCG@10 of each arm, the lifts over the unpersonalized ranking,
// the fraction of shoppers whose next query changed after their first click, and search latency.
int RunShoppersWorkload(const ShoppersWorkloadOptions& options);

}  // namespace tessera
