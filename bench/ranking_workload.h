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

// Prints one JSON object with three parts. The train-ranker report has the held-out nDCG@10 and
// MRR@10 of BM25F alone, the retrieval order, the linear model and LambdaMART, and training
// times. The train-click-model report has the neural click model on the same test queries. Per
// ranker come the search latency p50/p99 and the per-query added latency against the baseline,
// with the engine's rerank_depth candidates ranked per query. Queries run on one thread, rankers alternating query by query.
// The neural click model runs outside Engine::Search (it reads titles and photos that the
// Ranker call does not pass): its search_ms is feature extraction plus scoring, and its
// added_ms is building its inputs and scoring.
int RunRankingWorkload(Engine& engine, const RankingWorkloadOptions& options);

}  // namespace tessera
