// The ranking workload: trains the learned rankers and the neural click model on the judged
// queries, compares them on the same held-out queries, and measures what re-ranking costs per
// query, each ranker beside the retrieval-score baseline in the same run.
#pragma once

#include <cstddef>
#include <string>

#include "engine/engine.h"

namespace tessera {

struct RankingWorkloadOptions {
  std::string model_dir;  // where the trained models are written
  size_t rounds = 3;      // passes over the judged queries for latency
};

// Prints one JSON object. Its `table` has one row per method, measured on the held-out test
// queries of train-ranker's split. The methods are BM25F alone, the retrieval order (the hybrid
// without a model), the linear model and LambdaMART. The neural click model has two rows: it
// ranks every candidate, or only the window its clicks were simulated in. Each row gives nDCG@10
// and MRR@10 (overall and per query kind), the training time, and the search and added latency
// p50/p99. Every method ranks the same candidates of the same queries, the engine's rerank_depth
// per query. The same table is printed as Markdown on stderr, and the object also contains both
// training reports.
//
// Latency runs every judged query on one thread, the rankers alternating query by query, so
// each added latency is a difference within one query. The click model reads each candidate's
// title and photo, which the Ranker interface does not pass, so for each query it is bound to
// the candidates that ExtractFeatures returns and then run inside Engine::Search. Its search
// time includes building those inputs.
//
// The judged set has synonym and Chinese variants: open the engine with the synonym file that
// `tessera eval` uses (config/synonyms/fashion.txt for the fashion catalogue), or those queries
// match through the joint space alone.
int RunRankingWorkload(Engine& engine, const RankingWorkloadOptions& options);

}  // namespace tessera
