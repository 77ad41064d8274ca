// The ranking workload: trains the learned rankers on the judged queries and measures what
// re-ranking costs per query, each ranker beside the retrieval-score baseline in the same run.
#pragma once

#include <cstddef>
#include <string>

#include "engine/engine.h"

namespace tessera {

struct RankingWorkloadOptions {
  std::string model_dir;  // where the trained models are written
  size_t rounds = 3;      // passes over the judged queries for latency
};

// Prints one JSON object. It contains the train-ranker report: held-out nDCG@10 and MRR@10 of BM25F
// alone, the retrieval order, the linear model and LambdaMART, and training times. It also contains,
// per ranker, the search latency p50/p99 and the per-query latency added to the baseline's. Each
// query ranks the engine's rerank_depth candidates, on one thread, the rankers alternating query
// by query.
int RunRankingWorkload(Engine& engine, const RankingWorkloadOptions& options);

}  // namespace tessera
